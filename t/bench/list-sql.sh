#!/bin/sh
# A post to a list of 100,000 subscribers kept in MariaDB (list-manage make -S: list-expand
# reads them from userdb-mysqld a page of 1000 at a time) against the same list with its
# subscribers in the list directory (addrset buckets, t/bench/list.sh's case): the time from
# the post's arrival at list-expand to its one queue entry written (queue-injectd answered),
# and list-expand's peak memory. Rounds alternate the two stores (the machine is shared), the
# median of each. Also the time to add the 100,000 through list-manage sub.
#   sluice: the SQL store; classic here: the directory store
# Prints:
#   list-sql post 100000 subscribers: sluice X s, classic Y s, ratio Z
#   list-sql memory: sluice X MB, classic Y MB, ratio Z
# Tunables: LIST_BENCH_SUBS (100000), LIST_BENCH_ROUNDS (5).
. "$(dirname "$0")/common.shlib"
N=${LIST_BENCH_SUBS:-100000}
ROUNDS=${LIST_BENCH_ROUNDS:-5}
OWNER=4243
for t in list-expand list-manage queue-injectd userdb-mysqld; do
  [ -x "$B/$t" ] || { echo "list-sql: skipped ($B/$t is not built)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "list-sql: skipped (needs root: the list runs as its own user)"; exit 0; }
MB=$(command -v mariadbd || echo /usr/sbin/mariadbd)
[ -x "$MB" ] || { echo "list-sql: no MariaDB server (Debian mariadb-server): not measured"; exit 0; }

bench_init list-sql
bench_disk 2G
# a private MariaDB: its own datadir, a unix socket, no TCP
mkdir -p "$W/tmp"
mariadb-install-db --no-defaults --force --datadir="$W/db" --tmpdir="$W/tmp" --user=root --auth-root-authentication-method=normal --skip-test-db >"$W/install.log" 2>&1
bg "$MB" --no-defaults --datadir="$W/db" --tmpdir="$W/tmp" --socket="$W/my.sock" --skip-networking --user=root \
  --pid-file="$W/my.pid" --log-error="$W/my.err" --innodb-buffer-pool-size=64M --skip-log-bin --innodb-use-native-aio=0 --skip-name-resolve 2>/dev/null
i=0; until mariadb --no-defaults -S "$W/my.sock" -u root -e 'SELECT 1' >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 600 ] || { echo "list-sql: failed (mariadbd did not start)"; exit 1; }; sleep 0.1; done
mariadb --no-defaults -S "$W/my.sock" -u root -e "CREATE DATABASE sluice; CREATE USER 'sluice'@'localhost' IDENTIFIED BY 'benchpw'; GRANT ALL ON sluice.* TO 'sluice'@'localhost';"
printf 'socket=%s\ndatabase=sluice\nuser=sluice\npassword=benchpw\nlistwriters=%s\n' "$W/my.sock" "$OWNER" > "$W/my.conf"
chmod 600 "$W/my.conf"

SL=$QROOT/sl
mkdir -p "$SL/control" "$SL/queue" "$SL/users" "$QROOT/home"
echo mx.bench.example > "$SL/control/me"
echo "mysql:$W/my.conf" > "$SL/control/userdb"
chown $OWNER:$OWNER "$QROOT/home"
bg env SLUICEDIR="$SL" "$B/userdb-mysqld" "$W/my.conf" 2> "$W/userd.log"
i=0; until [ -S "$SL/users/mysql.sock" ]; do i=$((i+1)); [ $i -lt 100 ] || { echo "list-sql: failed (userdb-mysqld)"; exit 1; }; sleep 0.05; done
"$B/list-manage" make -q "$QROOT/home/.qmail-dir" -f '[team #]' "$QROOT/home/dir" team@bench.example || { echo "list-sql: failed (make)"; exit 1; }
"$B/list-manage" make -q "$QROOT/home/.qmail-sql" -S "$SL/users/mysql.sock" -f '[team #]' "$QROOT/home/sql" team@bench.example || { echo "list-sql: failed (make -S)"; exit 1; }
"$PY" -c 'import sys
n = int(sys.argv[1])
sys.stdout.write("".join("subscriber%d@host%d.example.org\n" % (i, i % 997) for i in range(n)))' "$N" > "$W/subs"
t0=$(now); "$B/list-manage" sub "$QROOT/home/dir" < "$W/subs" || exit 1; t1=$(now)
t2=$(now); "$B/list-manage" sub "$QROOT/home/sql" < "$W/subs" || exit 1; t3=$(now)
for s in dir sql; do
  [ "$("$B/list-manage" list -c "$QROOT/home/$s")" = "$N" ] || { echo "list-sql: failed ($s: not $N subscribers)"; exit 1; }
done
bg env SLUICEDIR=$SL "$B/queue-injectd" 2> "$W/injectd.log"
i=0; while [ ! -S "$SL/queue/inject" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
printf 'From: Ann <subscriber1@host1.example.org>\nTo: team@bench.example\nSubject: a post\nMessage-ID: <1@host1.example.org>\n\n' > "$W/post"
"$PY" -c 'import sys; sys.stdout.write(("a line of a post of about 4 KB, " * 2 + "\n") * 60)' >> "$W/post"

"$PY" - "$ROUNDS" "$QROOT/home" "$W/post" "$B/list-expand" "$OWNER" "$SL" > "$W/rounds" <<'EOF'
import os, subprocess, sys, time
rounds, home, post, prog, owner, sl = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
env = dict(os.environ, SENDER="subscriber1@host1.example.org", DTLINE="Delivered-To: team@bench.example", SLUICEDIR=sl)
env.pop("QMAILQUEUE", None)
def child():
    os.setgroups([]); os.setgid(owner); os.setuid(owner)
for r in range(rounds):
    for store in (("dir", "sql") if r % 2 == 0 else ("sql", "dir")):
        with open(post, "rb") as f:
            t0 = time.monotonic()
            p = subprocess.Popen([prog, os.path.join(home, store)], stdin=f, env=env, preexec_fn=child, stderr=subprocess.PIPE)
            err = p.stderr.read()
            _, status, ru = os.wait4(p.pid, 0)
            t1 = time.monotonic()
        if status:
            print("failed", store, status, err.decode().strip()); sys.exit(1)
        print(store, "%.4f" % (t1 - t0), ru.ru_maxrss)
EOF
[ $? = 0 ] || { echo "list-sql: failed ($(cat "$W/rounds"))"; exit 1; }
entries=$(ls "$SL/queue/todo" | wc -l)
[ "$entries" = $((2 * ROUNDS)) ] || { echo "list-sql: failed ($entries queue entries for $((2 * ROUNDS)) posts)"; exit 1; }
med() { awk -v s="$1" -v c="$2" '$1 == s { print $c }' "$W/rounds" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
sq=$(med sql 2); dq=$(med dir 2)
sm=$(awk -v a="$(med sql 3)" 'BEGIN { printf "%.1f", a / 1024 }'); dm=$(awk -v a="$(med dir 3)" 'BEGIN { printf "%.1f", a / 1024 }')
echo "# $(uname -n), $(nproc) cores, $FSNAME; a machine shared with other work: a first indication only"
echo "# $N subscribers added with one list-manage sub: directory store $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s, SQL store $(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.2f", b - a }') s"
echo "# each post one queue entry of $N recipients; times: sql $(awk '$1 == "sql" { printf "%s ", $2 }' "$W/rounds")/ dir $(awk '$1 == "dir" { printf "%s ", $2 }' "$W/rounds")"
echo "list-sql post $N subscribers: sluice $sq s, classic $dq s, ratio $(awk -v a="$sq" -v b="$dq" 'BEGIN { printf "%.2f", a / b }') (sluice: the subscribers in MariaDB through userdb-mysqld; classic here: in the list directory)"
echo "list-sql memory: sluice $sm MB, classic $dm MB, ratio $(awk -v a="$sm" -v b="$dm" 'BEGIN { printf "%.2f", a / b }') (list-expand's peak)"
