#!/bin/sh
# POP3 benchmark, against Debian's Dovecot (dovecot-pop3d) in one run, both on loopback with
# the same Maildir copy and the same user:
#   fetch: one session that RETRs and DELEs 10,000 messages of 10 KB (RETR and DELE sent
#          together, as PIPELINING allows), then QUIT; from the +OK of the login to the +OK
#          of QUIT
#   fetch-pipelined: the same with the commands of 50 messages sent at once
#   list:  STAT and LIST of the 10,000 in a first session (sizes not yet known to either)
#   logins per second: USER, PASS, QUIT, one connection after another, with the password
#          hash mail-user makes by default (yescrypt), the same hash in Dovecot's passwd-file
#          ({CRYPT}, libcrypt's crypt as auth-check uses it)
#   sluice:  tcpsrv + pop3-login + auth-check + pop3d
#   dovecot: its own config in the scratch directory (base_dir, state, log, passwd-file),
#            pop3 only on 127.0.0.1:PORT, stopped on exit
# Prints: pop3d-fetch: sluice X s, classic Y s, ratio Z (and the same for list and logins).
# Tunables: POP3_BENCH_MSGS (default 10000), POP3_BENCH_SIZE (10240), POP3_BENCH_LOGINS (40).
set -u
B=${SLUICE_BIN:?SLUICE_BIN must name the directory of the sluice binaries}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
N=${POP3_BENCH_MSGS:-10000}
SIZE=${POP3_BENCH_SIZE:-10240}
NL=${POP3_BENCH_LOGINS:-40}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

for t in dovecot doveadm setpriv; do
  command -v $t >/dev/null 2>&1 || { echo "pop3d: skipped ($t is not installed)"; exit 0; }
done
for t in pop3d pop3-login auth-check tcpsrv mail-user; do
  [ -x "$B/$t" ] || { echo "pop3d: skipped ($B/$t is not built)"; exit 1; }
done

W=$(mktemp -d "${TMPDIR:-/tmp}/pop3-bench.XXXXXX") || exit 1
chmod 755 "$W"
PIDS=""
DC_STARTED=0
cleanup() {
  for p in $PIDS; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ $DC_STARTED = 1 ]; then doveadm -c "$W/dc/dovecot.conf" stop >/dev/null 2>&1; sleep 0.3; fi
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
  i=0
  while [ $i -lt 100 ]; do
    "$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null && return 0
    sleep 0.05; i=$((i+1))
  done
  echo "pop3d: nothing listens on port $1" >&2; return 1
}

# the user, with the default password hash
export SLUICEDIR="$W/sluice"
mkdir -p "$SLUICEDIR/control"
"$B/mail-user" adddomain -u nobody bench.example || exit 1
echo 'bench pw' | "$B/mail-user" adduser user@bench.example || exit 1
H=$SLUICEDIR/domains/bench.example/user
hash=$(sed -n 's/^user:\([^:]*\):.*/\1/p' "$SLUICEDIR/users/bench.example")
case $hash in '$y$'*) ;; *) echo "pop3d: unexpected default hash: $hash" >&2; exit 1 ;; esac

# the messages, made once, copied for each run
mkdir -p "$W/master/new" "$W/master/cur" "$W/master/tmp"
"$PY" - "$W/master/new" "$N" "$SIZE" <<'EOF'
import os, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
line = b"The quick brown fox jumps over the lazy dog; pack my box with five dozen jugs.\n"
for i in range(n):
    head = b"From: sender%d@example.org\nTo: user@bench.example\nSubject: message %d\nMessage-ID: <%d@example.org>\n\n" % (i, i, i)
    body = (line * (size // len(line) + 1))[: size - len(head)]
    msg = head + body
    name = "%d.M%dP1Q%dR0.bench,S=%d" % (1700000000 + i, i, i, len(msg))
    with open(os.path.join(d, name), "wb") as f:
        f.write(msg)
EOF
chown -R nobody:nogroup "$W/master"
fresh() { rm -rf "$H/Maildir"; cp -a "$W/master" "$H/Maildir"; sync; }

# sluice
SP=$(free_port)
"$B/tcpsrv" -H -R -P 127.0.0.1 "$SP" "$B/pop3-login" bench.example "$B/auth-check" "$B/pop3d" Maildir 2>"$W/sluice.log" &
PIDS="$PIDS $!"
wait_port "$SP" || exit 1

# dovecot
DP=$(free_port)
mkdir -p "$W/dc/run" "$W/dc/state"
printf 'user@bench.example:{CRYPT}%s\n' "$hash" > "$W/dc/passwd"
cat > "$W/dc/dovecot.conf" <<EOF
base_dir = $W/dc/run
state_dir = $W/dc/state
log_path = $W/dc/log
instance_name = pop3bench
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:$H/Maildir
first_valid_uid = 1
default_internal_user = dovecot
default_login_user = dovenull
passdb {
  driver = passwd-file
  args = $W/dc/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$H
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DP
  }
}
service imap-login {
  inet_listener imap {
    port = 0
  }
}
EOF
dovecot -c "$W/dc/dovecot.conf" || { echo "pop3d: dovecot did not start"; cat "$W/dc/log" 2>/dev/null; exit 1; }
DC_STARTED=1
wait_port "$DP" || { cat "$W/dc/log"; exit 1; }

cat > "$W/client.py" <<'EOF'
import socket, sys, time
mode, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
class C:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
        self.line()
    def more(self):
        b = self.s.recv(262144)
        if not b: raise SystemExit("connection closed")
        self.buf += b
    def line(self):
        while b"\r\n" not in self.buf: self.more()
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l
    def ok(self):
        l = self.line()
        if not l.startswith(b"+OK"): raise SystemExit("unexpected: %r" % l)
        return l
    def multi(self):
        self.ok()
        start = 0
        while True:
            k = self.buf.find(b"\r\n.\r\n", start)
            if k >= 0 or self.buf.startswith(b".\r\n"):
                k = k + 2 if k >= 0 else 0
                body, self.buf = self.buf[:k], self.buf[k + 3:]
                return body
            start = max(0, len(self.buf) - 4)
            self.more()
    def cmd(self, c): self.s.sendall(c)
    def login(self):
        self.cmd(b"USER user@bench.example\r\n"); self.ok()
        self.cmd(b"PASS bench pw\r\n"); self.ok()
if mode == "fetch":
    c = C(); c.login()
    t = time.perf_counter()
    c.cmd(b"STAT\r\n"); count = int(c.ok().split()[1])
    if count != n: raise SystemExit("STAT says %d messages" % count)
    got = 0
    for i in range(1, n + 1):
        c.cmd(b"RETR %d\r\nDELE %d\r\n" % (i, i))
        got += len(c.multi()); c.ok()
    c.cmd(b"QUIT\r\n"); c.ok()
    print("%.3f %d" % (time.perf_counter() - t, got))
elif mode == "pfetch":
    c = C(); c.login()
    t = time.perf_counter()
    got = 0
    for first in range(1, n + 1, 50):
        last = min(n, first + 49)
        c.cmd(b"".join(b"RETR %d\r\nDELE %d\r\n" % (i, i) for i in range(first, last + 1)))
        for i in range(first, last + 1):
            got += len(c.multi()); c.ok()
    c.cmd(b"QUIT\r\n"); c.ok()
    print("%.3f %d" % (time.perf_counter() - t, got))
elif mode == "list":
    c = C(); c.login()
    t = time.perf_counter()
    c.cmd(b"STAT\r\nLIST\r\n"); c.ok(); lines = c.multi().count(b"\r\n")
    el = time.perf_counter() - t
    c.cmd(b"QUIT\r\n"); c.ok()
    if lines != n: raise SystemExit("LIST gave %d lines" % lines)
    print("%.3f" % el)
else:
    t = time.perf_counter()
    for i in range(n):
        c = C(); c.login(); c.cmd(b"QUIT\r\n"); c.ok(); c.s.close()
    print("%.1f" % (n / (time.perf_counter() - t)))
EOF
count_left() { find "$H/Maildir/new" "$H/Maildir/cur" -type f | wc -l; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

fresh; sl=$("$PY" "$W/client.py" list "$SP" "$N") || exit 1
fresh; dl=$("$PY" "$W/client.py" list "$DP" "$N") || exit 1
echo "pop3d-list: sluice ${sl} s, classic ${dl} s, ratio $(ratio "$dl" "$sl") (STAT and LIST of $N messages in a first session; classic: dovecot $(dovecot --version | cut -d' ' -f1); ratio > 1: sluice faster)"

fresh; out=$("$PY" "$W/client.py" fetch "$SP" "$N") || exit 1
sf=${out% *}; sb=${out#* }; sleft=$(count_left)
fresh; out=$("$PY" "$W/client.py" fetch "$DP" "$N") || exit 1
df=${out% *}; db=${out#* }; dleft=$(count_left)
[ "$sleft" = 0 ] && [ "$dleft" = 0 ] || { echo "pop3d: messages left after the fetch: sluice $sleft, dovecot $dleft" >&2; exit 1; }
echo "pop3d-fetch: sluice ${sf} s, classic ${df} s, ratio $(ratio "$df" "$sf") (RETR+DELE of $N messages of $SIZE bytes in one session, QUIT included; bytes received: sluice $sb, dovecot $db; ratio > 1: sluice faster)"
fresh; out=$("$PY" "$W/client.py" pfetch "$SP" "$N") || exit 1
sf=${out% *}; sleft=$(count_left)
fresh; out=$("$PY" "$W/client.py" pfetch "$DP" "$N") || exit 1
df=${out% *}; dleft=$(count_left)
[ "$sleft" = 0 ] && [ "$dleft" = 0 ] || { echo "pop3d: messages left after the pipelined fetch: sluice $sleft, dovecot $dleft" >&2; exit 1; }
echo "pop3d-fetch-pipelined: sluice ${sf} s, classic ${df} s, ratio $(ratio "$df" "$sf") (the same, 50 messages' commands sent at once: less of the client's round trips in the time)"

fresh
sr=$("$PY" "$W/client.py" logins "$SP" "$NL") || exit 1
dr=$("$PY" "$W/client.py" logins "$DP" "$NL") || exit 1
echo "pop3d-logins: sluice ${sr}/s, classic ${dr}/s, ratio $(ratio "$sr" "$dr") (USER/PASS/QUIT, one connection each, $NL in a row, both checking the same yescrypt hash, mail-user's default)"
echo "pop3d: note: a shared 2-core VM; take the numbers as a first indication"
