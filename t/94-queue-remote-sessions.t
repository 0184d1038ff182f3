#!/bin/sh
# The queue's remote workers (queue-spawn -> queue-remote) and their SMTP sessions, against
# t/fakesmtp.py servers and a sluice MX behind tls-wrap: a session kept after a delivery and
# used again for the next message to its destination (RSET, then MAIL; two domains routed to
# one relay share it), QUIT once idle for control/sessioncachetime, no session kept with 0; a
# kept session the server closed while idle, or drops at RSET: a new connection, delivered
# once, no deferral; a worker killed in the middle of a delivery: deferred, retried,
# delivered once; control/concurrencydestination holds the sessions to one destination;
# SIGHUP: a new route is used at once; a bad control file defers with the worker's reason;
# STARTTLS kept with the session, opportunistic and required (control/tlsdestinations).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
command -v openssl >/dev/null || skip_all "no openssl"
plan 51

q_init
q_user joe@example.com
echo 2 > "$S/control/timeoutconnect"
echo 5 > "$S/control/timeoutremote"
echo 3 > "$S/control/sessioncachetime"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

# fake NAME KEY=VALUE...: a t/fakesmtp.py server logging to $T/NAME.log; its port in $PORT
fake() {
  _n=$1; shift
  start_bg "$PY" "$TOP/t/fakesmtp.py" log="$T/$_n.log" "$@" > "$T/$_n.port" 2> "$T/$_n.err"
  FAKEPID=$BGPID
  wait_for 5 test -s "$T/$_n.port" || { diag "fakesmtp did not start: $(cat "$T/$_n.err")"; return 1; }
  PORT=$(head -1 "$T/$_n.port")
}
# what a server's log says: connections, messages, commands, the most open at once
conns() { grep -c '^conn$' "$T/$1.log"; }
msgs() { grep -c '^data [0-9]' "$T/$1.log"; }
cmds() { grep -c "^cmd $2" "$T/$1.log"; }
verbs() { sed -n 's/^cmd \([A-Z]*\).*/\1/p' "$T/$1.log" | tr '\n' ' '; }
mostopen() { sed -n 's/^open //p' "$T/$1.log" | sort -n | tail -1; }
# send ADDR SUBJECT: a message from joe@example.com
send() { printf 'Subject: %s\n\nbody of %s\n' "$2" "$2" | inject joe@example.com "$1"; }
# the workers: children of the helper, itself the child of queue-run that queue-spawn forked
workers() { _h=$(pgrep -P "$RUNPID" -x queue-spawn) && pgrep -P "$_h" -x queue-remote; }
noworker() { ! workers >/dev/null; }
deferrals() { grep -c 'deferral' "$T/queue.log"; }

fake a || exit 1; PA=$PORT
printf 'one.example:127.0.0.1:%s\ntwo.example:127.0.0.1:%s\n' "$PA" "$PA" > "$S/control/smtproutes"
if [ "$(id -u)" = 0 ]; then q_start -r 47304:47304; else q_start; fi

# ---- one session for several messages, RSET between them
send u@one.example first
wait_eq 30 1 msgs a
send u@one.example second
wait_eq 30 2 msgs a
send v@two.example third
wait_eq 30 3 msgs a
is "$(msgs a)" 3 "three messages, one after the other, reach the server"
is "$(conns a)" 1 "over one connection (two domains sent to one relay in smtproutes share it)"
is "$(verbs a)" "EHLO MAIL RCPT DATA RSET MAIL RCPT DATA RSET MAIL RCPT DATA " "EHLO once, RSET before each next MAIL"
like "$(cat "$T/a.log.3")" 'body of third' "the third message is the third one sent"
is "$(grep -c 'success: \[127\.0\.0\.1\] said: 250' "$T/queue.log")" 3 "queue-run logs three successes"
is "$(workers | wc -l | tr -d ' ')" 1 "one worker did it all"

# ---- QUIT once idle
wait_for 15 grep -q '^closed' "$T/a.log"
is "$(cmds a QUIT)" 1 "idle for control/sessioncachetime: QUIT"
is "$(tail -1 "$T/a.log")" closed "and the connection is closed"
wait_for 5 noworker
ok "the worker has ended" noworker

# ---- a kept session that the server closes while it is idle: a new connection
fake b msgs=1 || exit 1; PB=$PORT
echo "three.example:127.0.0.1:$PB" >> "$S/control/smtproutes"
kill -HUP "$RUNPID"
sleep 0.5
d0=$(deferrals)
send u@three.example first
wait_eq 30 1 msgs b
wait_for 5 grep -q '^closed' "$T/b.log"
send u@three.example second
wait_eq 30 2 msgs b
is "$(conns b)" 2 "a server that closed the idle session: the next message on a new connection"
is "$(cmds b RSET)" 0 "... with no RSET sent"
is "$(deferrals)" "$d0" "... and no deferral"

# ---- a kept session found dead at RSET: a new connection, delivered once
fake c rset=drop || exit 1; PC=$PORT
echo "four.example:127.0.0.1:$PC" >> "$S/control/smtproutes"
kill -HUP "$RUNPID"
sleep 0.5
send u@four.example first
wait_eq 30 1 msgs c
send u@four.example second
wait_eq 30 2 msgs c
is "$(cmds c RSET)" 1 "the kept session was tried with RSET"
is "$(conns c)" 2 "dropped at RSET: a new connection"
is "$(msgs c)" 2 "each message sent once"
like "$(cat "$T/c.log.2")" 'body of second' "the second on the new connection"
is "$(deferrals)" "$d0" "no deferral: a dead kept session is no failure"
wait_for 30 q_empty
ok "the queue is empty" q_empty

# ---- a worker killed in the middle of a delivery
fake d delay.rcpt=60 || exit 1; PD=$PORT; DPID=$FAKEPID
echo "five.example:127.0.0.1:$PD" >> "$S/control/smtproutes"
kill -HUP "$RUNPID"
sleep 0.5
send u@five.example killed
wait_for 10 grep -q '^cmd RCPT' "$T/d.log"
w=$(workers | head -1)
ok "a worker runs the delivery" test -n "$w"
kill -KILL $w
wait_log 10 'deferral: .*the remote delivery worker was killed \(signal 9\)'
like "$(grep deferral "$T/queue.log" | tail -1)" 'delivery [0-9]+: deferral: .*killed \(signal 9\)' "killed: the recipient is deferred, saying why"
is "$(ls "$Q/mess" | wc -l | tr -d ' ')" 1 "the message waits in the queue"
stop_pid "$DPID"
fake e port="$PD" || exit 1
kill -ALRM "$RUNPID"
wait_eq 30 1 msgs e
is "$(msgs e)" 1 "after SIGALRM, another worker delivers it"
like "$(cat "$T/e.log.1")" 'body of killed' "the message"
is "$(msgs d)" 0 "the killed delivery sent no data"
wait_for 30 q_empty
ok "nothing left in the queue" q_empty

# ---- control/concurrencydestination: sessions to one destination at once
fake f delay.end=0.5 || exit 1; PF=$PORT
echo "six.example:127.0.0.1:$PF" >> "$S/control/smtproutes"
echo 2 > "$S/control/concurrencydestination"
kill -HUP "$RUNPID"
sleep 0.5
for i in 1 2 3 4 5 6; do send "u$i@six.example" "cap $i"; done
wait_eq 20 6 msgs f
is "$(msgs f)" 6 "six messages at once to one destination: all delivered"
is "$(mostopen f)" 2 "never more than 2 connections at once (concurrencydestination 2)"
is "$(conns f)" 2 "the sessions were used again for the others"
is "$(cmds f RSET)" 4 "RSET before each of the four"
is "$(deferrals)" 1 "no deferral (but the killed one's)"
wait_for 30 q_empty
rm -f "$S/control/concurrencydestination"

# ---- SIGHUP: a new route is followed at once, whatever session is kept
fake g || exit 1; PG=$PORT
n=$(msgs a)
send u@one.example before
wait_eq 30 $((n + 1)) msgs a
ok "a worker keeps a session to the relay of one.example" test -n "$(workers)"
sed -i "s/^one.example:.*/one.example:127.0.0.1:$PG/" "$S/control/smtproutes"
kill -HUP "$RUNPID"
sleep 0.5
send u@one.example after
wait_eq 30 1 msgs g
is "$(msgs g)" 1 "after SIGHUP the next message takes the new route"
is "$(msgs a)" $((n + 1)) "not the kept session to the old relay"

# ---- control/sessioncachetime 0: no session kept
fake h || exit 1; PH=$PORT
echo "seven.example:127.0.0.1:$PH" >> "$S/control/smtproutes"
echo 0 > "$S/control/sessioncachetime"
kill -HUP "$RUNPID"
sleep 0.5
send u@seven.example first
wait_eq 30 1 msgs h
wait_for 5 grep -q '^closed' "$T/h.log"
send u@seven.example second
wait_eq 30 2 msgs h
wait_eq 5 2 grep -c '^closed' "$T/h.log"
is "$(conns h)" 2 "sessioncachetime 0: a connection per message"
is "$(cmds h QUIT)" 2 "each ended with QUIT"
is "$(cmds h RSET)" 0 "no RSET"
echo 3 > "$S/control/sessioncachetime"

# ---- a control file the workers cannot use: deferred with the reason, then delivered
cp "$S/control/smtproutes" "$T/routes.good"
echo "eight.example:bad host" >> "$S/control/smtproutes"
kill -HUP "$RUNPID"
sleep 0.5
n=$(msgs h)
send u@seven.example badroutes
wait_log 10 'deferral: .*smtproutes line'
like "$(grep 'deferral' "$T/queue.log" | tail -1)" "deferral: queue-remote: fatal: unable to use $S/control/smtproutes line [0-9]+: not domain:relay" "a bad line in smtproutes: deferred, with the worker's reason"
cp "$T/routes.good" "$S/control/smtproutes"
kill -HUP "$RUNPID"
sleep 0.5
kill -ALRM "$RUNPID"
wait_eq 30 $((n + 1)) msgs h
is "$(msgs h)" $((n + 1)) "the file fixed and SIGHUP, SIGALRM: delivered"

# ---- STARTTLS: a kept session keeps its TLS
tls_certs || { diag "openssl could not make the certificates"; exit 1; }
mkdir -p "$T/tls/control" "$T/tls/q"
echo tls.example > "$T/tls/control/me"
printf 'example.org\ntls.example\n' > "$T/tls/control/rcpthosts"
cat > "$T/capture" <<'EOF'
#!/bin/sh
n=1; while ! mkdir "$CAPTURE/$n.lock" 2>/dev/null; do n=$((n+1)); done
cat > "$CAPTURE/$n.tmp" || exit 54
cat <&1 > "$CAPTURE/$n.env" || exit 54
mv "$CAPTURE/$n.tmp" "$CAPTURE/$n.msg" || exit 53
EOF
chmod +x "$T/capture"
srv_start tls SLUICEDIR="$T/tls" QMAILQUEUE="$T/capture" CAPTURE="$T/tls/q" CERTFILE="$C/mx.pem" KEYFILE="$C/mx.key" \
  "$B/tcpsrv" -v -1 -H -R 127.0.0.1 0 "$B/tls-wrap" -s "$B/smtpd" || exit 1
PT=$PORT
tlsmsgs() { ls "$T/tls/q" | grep -c '\.msg$'; }
printf 'tls.example:127.0.0.1:%s\nexample.org:127.0.0.1:%s\n' "$PT" "$PT" >> "$S/control/smtproutes"
kill -HUP "$RUNPID"
sleep 0.5
send u@tls.example first
wait_eq 30 1 tlsmsgs
send u@tls.example second
wait_eq 30 2 tlsmsgs
is "$(grep -c 'tcpsrv: ok' "$T/tls.log")" 1 "opportunistic TLS: two messages over one connection"
is "$(grep -c 'with ESMTPS' "$T/tls/q/1.msg" "$T/tls/q/2.msg" | grep -c ':1$')" 2 "both received over TLS"
is "$(grep -c 'success: \[127\.0\.0\.1\] (TLSv1\.[23]) said: 250' "$T/queue.log")" 2 "queue-run logs both with the TLS"
wait_eq 15 1 grep -c 'tcpsrv: end' "$T/tls.log"
# required: control/tlsdestinations, a certificate from control/tlscafile naming mx.example.org
echo "$C/ca.pem" > "$S/control/tlscafile"
echo example.org > "$S/control/tlsdestinations"
kill -HUP "$RUNPID"
sleep 0.5
send u@example.org third
wait_eq 30 3 tlsmsgs
send u@example.org fourth
wait_eq 30 4 tlsmsgs
is "$(grep -c 'tcpsrv: ok' "$T/tls.log")" 2 "required TLS (tlsdestinations): two messages over one more connection"
is "$(grep -c 'with ESMTPS' "$T/tls/q/3.msg" "$T/tls/q/4.msg" | grep -c ':1$')" 2 "both over TLS"
is "$(tail -1 "$T/tls/q/4.msg")" "body of fourth" "the fourth arrived whole"
send u@tls.example fifth
wait_eq 30 5 tlsmsgs
is "$(grep -c 'tcpsrv: ok' "$T/tls.log")" 3 "a domain without required TLS does not use the session verified for example.org"
is "$(grep -c 'success: \[127\.0\.0\.1\] (TLSv1\.[23]) said: 250' "$T/queue.log")" 5 "every TLS delivery logged with its TLS"
wait_for 30 q_empty
ok "the queue is empty at the end" q_empty
w=$(workers)
ok "a worker keeps the last session" test -n "$w"
q_stop
gonew() { for _w in $w; do gone "$_w" || return 1; done; }
wait_for 10 gonew
ok "it has ended once queue-run has stopped" gonew
wait_eq 30 3 grep -c 'tcpsrv: end' "$T/tls.log"
is "$(grep -c 'tcpsrv: end' "$T/tls.log")" 3 "every TLS session ended"
is "$(grep 'queue-remote: \|queue-spawn: ' "$T/queue.log" | grep -vc 'smtproutes line')" 0 "no other warning or error from the helper or its workers"
