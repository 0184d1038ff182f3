#!/bin/sh
# tcpsrv -x: rules seen through real connections: precedence (a few cases; t/10 has the
# details), variables set after tcpsrv's own, unset, deny; the database replaced during a
# burst of connections; a corrupt or missing database (-X); databases of classic tcprules.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tcpsrv-lib.sh"
plan 34

rules() { "$B/tcprules" "$T/r.cdb" "$T/r.tmp"; }

cat <<'EOF' | rules
127.0.0.2:deny
127.0.0.3:allow,X_WHO="exact",TCPREMOTEHOST="forced.example",TCPLOCALIP="9.9.9.9"
127.0.0.0/29:allow,X_WHO="cidr29"
127.0.0.:allow,X_WHO="dotted",X_MORE="yes"
127.0.0.0/8:allow,X_WHO="cidr8",TCPCONNNUM
::1:allow,X_WHO="v6exact"
:allow,X_WHO="default"
EOF
: > "$T/log"
srv -v -x "$T/r.cdb" 127.0.0.1 0 "$(envdump)" || exit 1

out=$(get "$PORT" src=127.0.0.3)
like "$out" '^X_WHO=exact$' "the exact address wins"
like "$out" '^TCPREMOTEHOST=forced\.example$' "a rule sets a variable tcpsrv leaves unset"
like "$out" '^TCPLOCALIP=9\.9\.9\.9$' "a rule overrides tcpsrv's own variable"
like "$out" '^TCPREMOTEIP=127\.0\.0\.3$' "the others stay"
out=$(get "$PORT" src=127.0.0.4)
like "$out" '^X_WHO=cidr29$' "a /29 beats the dotted /24 prefix"
unlike "$out" '^X_MORE=' "only the winning rule's variables"
out=$(get "$PORT" src=127.0.0.9)
like "$out" '^X_WHO=dotted$' "the dotted prefix beats a /8"
like "$out" '^X_MORE=yes$' "several variables"
out=$(get "$PORT" src=127.1.2.3)
like "$out" '^X_WHO=cidr8$' "a /8 CIDR rule"
unlike "$out" '^TCPCONNNUM=' "a rule unsets a variable tcpsrv set (,NAME)"
is "$(get "$PORT" src=127.0.0.2)" "" "deny: the connection is closed, prog never runs"
logwait ' deny [0-9]+ :127\.0\.0\.1:[0-9]+ :127\.0\.0\.2::[0-9]+$'
like "$(grep ' deny ' "$T/log")" "^tcpsrv: deny [0-9]+ :127\.0\.0\.1:$PORT :127\.0\.0\.2::[0-9]+\$" "deny is logged in 0.88's form"
logwait 'status 25600$'
like "$(cat "$T/log")" 'end [0-9]+ status 25600$' "the denied child exits 100, as 0.88's"
unlike "$(grep -c . "$T/log")" '^0$' "log written"
stop_pid "$SPID"

if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
  srv -x "$T/r.cdb" ::1 0 "$(envdump)" || exit 1
  like "$(get "$PORT" host=::1)" '^X_WHO=v6exact$' "an IPv6 rule for an IPv6 client"
  stop_pid "$SPID"
  srv -x "$T/r.cdb" 0 0 "$(envdump)" || exit 1
  like "$(get "$PORT" host=127.0.0.1 src=127.0.0.3)" '^X_WHO=exact$' "dual stack: an IPv4 client matches IPv4 rules"
  stop_pid "$SPID"
else
  skip 2 "no IPv6 on loopback"
fi

# ---- the database replaced while connections keep coming: every connection sees one whole
# database, the old or the new, and the next connection after a change sees the new one
gen() { printf '127.0.0.1:allow,X_GEN="%s",X_A="%s",X_B="%s"\n:allow,X_GEN="%s"\n' "$1" "$1" "$1" "$1" | rules; }
gen 0
: > "$T/log"
srv -c 20 -x "$T/r.cdb" 127.0.0.1 0 "$(envdump)" || exit 1
python3 - "$PORT" > "$T/burst" <<'EOF' &
import socket, sys, threading
port = int(sys.argv[1]); out = []; lock = threading.Lock()
def one():
    s = socket.create_connection(("127.0.0.1", port), timeout=20); d = b""
    while True:
        b = s.recv(4096)
        if not b: break
        d += b
    with lock: out.append(d.decode())
for rnd in range(8):
    ts = [threading.Thread(target=one) for _ in range(8)]
    [t.start() for t in ts]; [t.join() for t in ts]
for d in out:
    v = dict(l.split("=", 1) for l in d.split("\n") if "=" in l)
    g = v.get("X_GEN"); print("%s %s %s" % (g, v.get("X_A"), v.get("X_B")))
EOF
bpid=$!
i=1
while kill -0 $bpid 2>/dev/null && [ $i -le 200 ]; do gen $i; i=$((i+1)); done
wait $bpid
is "$(wc -l < "$T/burst" | tr -d " ")" "64" "64 connections during $((i-1)) rewrites of the database, all served"
is "$(awk '$1 != $2 || $1 != $3 || $1 == "None"' "$T/burst")" "" "each saw one whole rule (X_GEN = X_A = X_B), never a torn or missing one"
like "$(sort -u -n "$T/burst" | wc -l)" '^ *([2-9]|[1-9][0-9]+)$' "and the rules changed under them, with no restart"
gen final
like "$(get "$PORT")" '^X_GEN=final$' "the next connection after tcprules sees the new rules"
stop_pid "$SPID"

# ---- a corrupt database: that connection is dropped and logged, the server keeps serving
gen ok
: > "$T/log"
srv -v -x "$T/r.cdb" 127.0.0.1 0 "$(envdump)" || exit 1
like "$(get "$PORT")" '^X_GEN=ok$' "before: served"
printf 'this is not a cdb' > "$T/junk" && mv "$T/junk" "$T/r.cdb"
is "$(get "$PORT")" "" "corrupt database: the connection is dropped, prog not run"
logwait 'dropping connection'
like "$(cat "$T/log")" "tcpsrv: warning: dropping connection, unable to read $T/r\.cdb: " "the drop is logged (temporary error)"
logwait 'status 28416$'
like "$(cat "$T/log")" 'end [0-9]+ status 28416$' "that child exits 111"
ok "the server is still running" kill -0 "$SPID"
gen repaired
like "$(get "$PORT")" '^X_GEN=repaired$' "a good database again: served again, no restart"
# an unreadable one (a directory in its place) is the same
mv "$T/r.cdb" "$T/r.save" && mkdir "$T/r.cdb"
is "$(get "$PORT")" "" "a database that cannot be read: dropped"
rmdir "$T/r.cdb" && mv "$T/r.save" "$T/r.cdb"

# ---- a missing database: dropped without -X, allowed with nothing set with -X
rm -f "$T/r.cdb"
: > "$T/log"
is "$(get "$PORT")" "" "missing database without -X: dropped"
logwait 'dropping connection'
like "$(cat "$T/log")" "unable to read $T/r\.cdb: No such file or directory" "... and logged"
stop_pid "$SPID"
srv -X -x "$T/r.cdb" 127.0.0.1 0 "$(envdump)" || exit 1
out=$(get "$PORT")
like "$out" '^PROTO=TCP$' "missing database with -X: served"
unlike "$out" '^X_' "... with no rule variable"
stop_pid "$SPID"
# at start, an unreadable database is reported at once (the server still starts)
: > "$T/log"
srv -x "$T/r.cdb" 127.0.0.1 0 true || exit 1
like "$(cat "$T/log")" "tcpsrv: warning: unable to read $T/r\.cdb: No such file or directory" "started without its database: warned at start"
stop_pid "$SPID"

# ---- a database written by classic tcprules 0.88 works the same
printf '127.0.0.1:allow,X_FROM="classic"\n:deny\n' | /usr/bin/tcprules "$T/c.cdb" "$T/c.tmp"
srv -x "$T/c.cdb" 127.0.0.1 0 "$(envdump)" || exit 1
like "$(get "$PORT")" '^X_FROM=classic$' "a cdb from /usr/bin/tcprules: allow with its variable"
is "$(get "$PORT" src=127.0.0.5)" "" "... and its deny"
stop_pid "$SPID"
