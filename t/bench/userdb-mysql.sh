#!/bin/sh
# userdb-mysql: auth-check logins per second, one process per login as in real use, with a
# cheap hash (sha512crypt, 1000 rounds) so that what is measured is the lookup: the MariaDB
# backend (auth-check -> userdb-mysqld -> MariaDB on a unix socket) against the cdb backend.
# Also the daemon's own lookups per second over one connection. Target: >= 0.8 x cdb. Then
# Dovecot's SQL authentication on the same database (see below), when Debian's dovecot-core
# and dovecot-mysql are installed.
set -eu
B=${SLUICE_BIN:-$(pwd)/bin}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
W=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
MYPID=; UDPID=
cleanup() {
  for p in $UDPID $MYPID; do kill -TERM "$p" 2>/dev/null || true; done
  for p in $UDPID $MYPID; do wait "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
chmod 711 "$W"
N=${USERDB_BENCH_N:-300}
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", n / (b - a) }'; }
MB=$(command -v mariadbd || echo /usr/sbin/mariadbd)
[ -x "$MB" ] || { echo "userdb-mysql: no MariaDB server (Debian mariadb-server): not measured"; exit 0; }

# a private MariaDB: its own datadir, a unix socket, no TCP
mkdir -p "$W/tmp"
mariadb-install-db --no-defaults --force --datadir="$W/db" --tmpdir="$W/tmp" --user=root --auth-root-authentication-method=normal --skip-test-db >"$W/install.log" 2>&1
"$MB" --no-defaults --datadir="$W/db" --tmpdir="$W/tmp" --socket="$W/my.sock" --skip-networking --user=root \
  --pid-file="$W/my.pid" --log-error="$W/my.err" --innodb-buffer-pool-size=64M --skip-log-bin 2>/dev/null &
MYPID=$!
i=0; until mariadb --no-defaults -S "$W/my.sock" -u root -e 'SELECT 1' >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 300 ] || exit 1; sleep 0.1; done
mariadb --no-defaults -S "$W/my.sock" -u root -e "CREATE DATABASE sluice; CREATE USER 'sluice'@'localhost' IDENTIFIED BY 'benchpw'; GRANT ALL ON sluice.* TO 'sluice'@'localhost';"
printf 'socket=%s\ndatabase=sluice\nuser=sluice\npassword=benchpw\n' "$W/my.sock" > "$W/my.conf"
chmod 600 "$W/my.conf"

cheap=$(python3 -c 'import ctypes; l = ctypes.CDLL("libcrypt.so.1"); l.crypt_gensalt.restype = ctypes.c_char_p; l.crypt.restype = ctypes.c_char_p; print(l.crypt(b"benchpass", l.crypt_gensalt(b"$6$", 1000, None, 0)).decode())')
# two instance roots, the same domain and user: one on the cdb, one on MariaDB
for r in cdb my; do mkdir -p "$W/$r/control" "$W/$r/users"; done
echo "mysql:$W/my.conf" > "$W/my/control/userdb"
SLUICEDIR=$W/my "$B/userdb-mysqld" "$W/my.conf" 2>"$W/userd.log" &
UDPID=$!
i=0; until [ -S "$W/my/users/mysql.sock" ]; do i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.05; done
SLUICEDIR=$W/my "$B/mail-user" initdb
for r in cdb my; do
  SLUICEDIR=$W/$r "$B/mail-user" adddomain -u nobody bench.example
  printf '%s\n' "$cheap" | SLUICEDIR=$W/$r "$B/mail-user" adduser -H cheap@bench.example
done
# 10,000 more users in each, as a site has
awk -v h="$cheap" 'BEGIN { for (i = 1; i <= 10000; i++) printf "user%d:%s:::\n", i, h }' >> "$W/cdb/users/bench.example"
SLUICEDIR=$W/cdb "$B/mail-user" rebuild
mariadb --no-defaults -S "$W/my.sock" -u root sluice -e "INSERT INTO vpopmail (pw_name, pw_domain, pw_passwd, pw_uid, pw_gid, pw_gecos, pw_dir, pw_shell, pw_clear_passwd)
  SELECT CONCAT('user', seq), 'bench.example', '$cheap', 0, 0, '', CONCAT('$W/my/domains/bench.example/user', seq), 'NOQUOTA', '' FROM seq_1_to_10000"

loop() {   # root n
  i=0
  while [ $i -lt "$2" ]; do
    printf 'cheap@bench.example\0benchpass\0\0' | SLUICEDIR=$1 "$B/auth-check" -w 0 -n true 3<&0 2>/dev/null || { echo "auth-check failed in $1" >&2; exit 1; }
    i=$((i+1))
  done
}
loop "$W/cdb" 20; loop "$W/my" 20     # warm
t0=$(now); loop "$W/cdb" "$N"; t1=$(now); cdb=$(rate "$N" "$t0" "$t1")
t0=$(now); loop "$W/my" "$N"; t1=$(now); my=$(rate "$N" "$t0" "$t1")
# again, the other way round: the machine is shared, and order should not favour either
t0=$(now); loop "$W/my" "$N"; t1=$(now); my2=$(rate "$N" "$t0" "$t1")
t0=$(now); loop "$W/cdb" "$N"; t1=$(now); cdb2=$(rate "$N" "$t0" "$t1")
my=$(awk -v a="$my" -v b="$my2" 'BEGIN { printf "%.1f", (a + b) / 2 }')
cdb=$(awk -v a="$cdb" -v b="$cdb2" 'BEGIN { printf "%.1f", (a + b) / 2 }')
lookups=$(python3 - "$W/my/users/mysql.sock" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile('rwb')
n = 5000; t = time.perf_counter()
for i in range(n):
    f.write(b'U\tuser%d\tbench.example\n' % (i % 10000 + 1)); f.flush(); assert f.readline()[:1] == b'1'
print("%.0f" % (n / (time.perf_counter() - t)))
PY
)
echo "userdb-mysql: sluice $my, classic $cdb, ratio $(awk -v a="$my" -v b="$cdb" 'BEGIN { printf "%.2f", a / b }') (auth-check -n logins/s, a process each, sha512crypt 1000 rounds, 10001 users; sluice: the MariaDB backend through userdb-mysqld; classic here: the cdb backend; target >= 0.8)"
echo "userdb-mysql-lookups: userdb-mysqld answers $lookups user lookups/s on one connection (three prepared statements each)"

# ---- Dovecot's SQL authentication on the same database (Debian dovecot-core, dovecot-mysql) --
# its auth process alone (no protocol listens), in $W/dv, as root because dovecot's master
# runs so; passdb sql with vpopmail's table, the same user and hash. Two numbers: doveadm auth
# test, a process per login as auth-check is; and logins over one connection to its
# auth-client socket (its auth-worker keeps the MariaDB connection, as userdb-mysqld does),
# against auth-check's cost without the process start: userdb-mysqld's lookup and the hash.
if command -v dovecot >/dev/null 2>&1 && [ -e /usr/lib/dovecot/modules/auth/libdriver_mysql.so ] || [ -e /usr/lib/dovecot/modules/libdriver_mysql.so ]; then
  mkdir -p "$W/dv/run" "$W/dv/state"
  cat > "$W/dv/sql.conf" <<EOF
driver = mysql
connect = host=$W/my.sock dbname=sluice user=sluice password=benchpw
default_pass_scheme = CRYPT
password_query = SELECT CONCAT(pw_name, '@', pw_domain) AS user, pw_passwd AS password FROM vpopmail WHERE pw_name = '%n' AND pw_domain = '%d'
EOF
  cat > "$W/dv/dovecot.conf" <<EOF
base_dir = $W/dv/run
state_dir = $W/dv/state
log_path = $W/dv/dovecot.log
protocols =
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
auth_cache_size = 0
passdb {
  driver = sql
  args = $W/dv/sql.conf
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$W/dv/home/%u
}
service auth {
  unix_listener auth-client {
    mode = 0666
  }
}
EOF
  if dovecot -c "$W/dv/dovecot.conf" 2>"$W/dv/start.err"; then
    i=0; until [ -S "$W/dv/run/auth-client" ]; do i=$((i+1)); [ $i -lt 100 ] || break; sleep 0.05; done
    dvloop() {   # n
      i=0
      while [ $i -lt "$1" ]; do
        doveadm -c "$W/dv/dovecot.conf" auth test -a "$W/dv/run/auth-client" cheap@bench.example benchpass >/dev/null 2>&1 || { echo "doveadm auth test failed" >&2; return 1; }
        i=$((i+1))
      done
    }
    if dvloop 20; then
      t0=$(now); dvloop "$N"; t1=$(now); dv1=$(rate "$N" "$t0" "$t1")
      t0=$(now); dvloop "$N"; t1=$(now); dv2=$(rate "$N" "$t0" "$t1")
      conn=$(python3 -W ignore - "$W/dv/run/auth-client" "$W/my/users/mysql.sock" <<'PY'
import base64, crypt, socket, sys, time, os
# Dovecot's auth-client protocol: one connection, AUTH PLAIN after AUTH PLAIN
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile('rwb')
f.write(b"VERSION\t1\t2\nCPID\t%d\n" % os.getpid()); f.flush()
while not f.readline().startswith(b"DONE"): pass
ir = base64.b64encode(b"\0cheap@bench.example\0benchpass")
n = 1000; t = time.perf_counter()
for i in range(n):
    f.write(b"AUTH\t%d\tPLAIN\tservice=pop3\tnologin\tresp=%s\n" % (i + 1, ir)); f.flush()
    r = f.readline()
    assert r.startswith(b"OK\t"), r
dv = n / (time.perf_counter() - t)
# the same work through userdb-mysqld: the lookup, then the hash checked here
u = socket.socket(socket.AF_UNIX); u.connect(sys.argv[2]); g = u.makefile('rwb')
t = time.perf_counter()
for i in range(n):
    g.write(b"U\tcheap\tbench.example\n"); g.flush()
    a = g.readline().rstrip(b"\n").split(b"\t")
    assert a[0] == b"1" and crypt.crypt("benchpass", a[6].decode()) == a[6].decode()
print("%.0f %.0f" % (dv, n / (time.perf_counter() - t)))
PY
) || conn="- -"
      dv=$(awk -v a="$dv1" -v b="$dv2" 'BEGIN { printf "%.1f", (a + b) / 2 }')
      echo "userdb-mysql-dovecot: sluice $my, classic $dv, ratio $(awk -v a="$my" -v b="$dv" 'BEGIN { printf "%.2f", a / b }') (logins/s, a process each: auth-check -n through userdb-mysqld against Dovecot 2.3's doveadm auth test with passdb sql, the same database, user and hash; two runs: $dv1, $dv2)"
      set -- $conn
      echo "userdb-mysql-dovecot-conn: sluice $2, classic $1, ratio $(awk -v a="$2" -v b="$1" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }') (logins/s over one connection, no process start: userdb-mysqld's lookup and the hash checked by the client, against Dovecot's auth-client AUTH PLAIN with its auth-worker on MariaDB)"
    else
      echo "userdb-mysql: Dovecot's SQL authentication not measured (doveadm auth test failed: $(tail -3 "$W/dv/dovecot.log" 2>/dev/null | tr '\n' ' '))"
    fi
    kill -TERM "$(cat "$W/dv/run/master.pid" 2>/dev/null)" 2>/dev/null || true
  else
    echo "userdb-mysql: Dovecot's SQL authentication not measured (dovecot did not start: $(head -3 "$W/dv/start.err" | tr '\n' ' '))"
  fi
else
  echo "userdb-mysql: Dovecot's SQL authentication not measured (Debian dovecot-core and dovecot-mysql are not installed)"
fi
