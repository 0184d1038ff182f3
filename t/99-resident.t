#!/bin/sh
# tcpsrv -w with smtpd as its resident workers: few smtpd processes serve many connections,
# each with its own environment (TCPREMOTEIP, the rules' variables), nothing of one client
# (RELAYCLIENT, AUTH, a message cut short) reaching the next; a worker killed mid-session is
# replaced; -c and -C count as without -w; -n retires workers; a program in between makes
# tcpsrv run prog once per connection instead; SIGTERM ends the workers; bad usage.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd-lib.sh"
[ -x "$B/tcpsrv" ] || skip_all "no tcpsrv in $B"
plan 66

smtpd_setup
# the queue stand-in, keeping also the environment smtpd had (its own is smtpd's)
cat > "$T/qqenv" <<EOF
#!/bin/sh
env > "$QQ/env.\$\$"
exec "$T/qq"
EOF
chmod +x "$T/qqenv"
QMAILQUEUE=$T/qqenv; export QMAILQUEUE

readycount() { grep -c '^tcpsrv: worker [0-9]* ready$' "$T/$1.log"; }
readypids() { sed -n 's/^tcpsrv: worker \([0-9]*\) ready$/\1/p' "$T/$1.log"; }

# sess PORT SRC STEP...: one SMTP session from SRC; prints "port N" (the client's port), then
# every reply line. Steps: a command line; "DATA:text" (DATA, the text, the dot); "PART:text"
# (DATA, part of a text, then the client leaves); "WAIT:file" (writes the client's port to
# file, then waits for the server to close); "CLOSE" (leaves at once, no QUIT)
cat > "$T/sess.py" <<'EOF'
import socket, sys, time
port, src = int(sys.argv[1]), sys.argv[2]
s = socket.socket(); s.settimeout(20); s.bind((src, 0)); s.connect(("127.0.0.1", port))
f = s.makefile("rb")
print("port %d" % s.getsockname()[1])
def reply():
    while True:
        l = f.readline()
        if not l:
            print("EOF"); return False
        l = l.decode("latin-1").rstrip("\r\n"); print(l)
        if len(l) < 4 or l[3] != "-": return True
def send(x): s.sendall(x.encode() + b"\r\n")
try:
    if not reply(): sys.exit(0)
    for a in sys.argv[3:]:
        if a.startswith("DATA:"):
            send("DATA")
            if reply(): send(a[5:] + "\r\n."); reply()
        elif a.startswith("PART:"):
            send("DATA"); reply(); s.sendall(a[5:].replace("\n", "\r\n").encode()); time.sleep(0.2); s.close(); sys.exit(0)
        elif a.startswith("WAIT:"):
            open(a[5:] + ".tmp", "w").write("%d\n" % s.getsockname()[1])
            import os; os.rename(a[5:] + ".tmp", a[5:])
            reply(); sys.exit(0)
        elif a == "CLOSE":
            s.close(); sys.exit(0)
        else:
            send(a)
            if not reply(): sys.exit(0)
    reply()
except (socket.timeout, ConnectionResetError, BrokenPipeError) as e:
    print("ERROR %s" % e)
EOF
sess() { "$PY" "$T/sess.py" "$@"; }
b64() { printf "$1" | base64 -w0; }

# ---- bad usage
for a in "-w 0" "-w x" "-w 3 -c 2" "-n 0"; do
  "$B/tcpsrv" $a 127.0.0.1 0 "$B/smtpd" > /dev/null 2> "$T/err"
  is "$?" 100 "tcpsrv $a: exit 100"
done
like "$(cat "$T/err")" 'usage' "a bad -n: the usage"
"$B/tcpsrv" -w 3 -c 2 127.0.0.1 0 "$B/smtpd" 2> "$T/err"
like "$(cat "$T/err")" '^tcpsrv: fatal: -w workers must not exceed -c limit' "-w above -c: said why"
RESIDENTFD=x "$B/smtpd" < /dev/null > "$T/out" 2> "$T/err"
is "$?" 100 "smtpd with a RESIDENTFD that is no number: exit 100"
like "$(cat "$T/err")" '^smtpd: fatal: unable to use \$RESIDENTFD to serve as a resident worker: ' "... and says why"
is "$(cat "$T/out")" "" "... and greets nobody"
RESIDENTFD=3 "$B/smtpd" < /dev/null 3< /dev/null > /dev/null 2> "$T/err"
is "$?" 100 "smtpd with a RESIDENTFD that is no unix socket: exit 100"

# ---- one worker, many clients one after the other: each its own environment, nothing of
# one reaching the next (-c 1: the one worker serves them all)
printf '127.0.0.2:allow,RELAYCLIENT="",X_RULE="two"\n:allow\n' | "$B/tcprules" "$T/r.cdb" "$T/r.tmp"
rsrv one -w 1 -c 1 -x "$T/r.cdb" -- "$B/smtpd" || exit 1
: > "$T/one.out"
for i in 1 2 3 4 5 6; do
  for src in 127.0.0.2 127.0.0.1; do
    sess $PORT $src 'EHLO c.example' 'MAIL FROM:<s@remote.example>' "RCPT TO:<r$i@elsewhere.example>" \
      "RCPT TO:<u$i@example.org>" "DATA:Subject: $src $i" QUIT > "$T/s.out"
    p=$(sed -n 's/^port //p' "$T/s.out")
    r=other; grep -q '^553 5.7.1 relaying denied' "$T/s.out" && r=553
    grep -q '^250 2.1.5 ok' "$T/s.out" && [ "$(grep -c '^250 2.1.5 ok' "$T/s.out")" = 2 ] && r=250
    echo "$src $i $p $r $(grep -c '^250 2.0.0 ok' "$T/s.out")" >> "$T/one.out"
  done
done
is "$(readycount one)" 1 "-w 1 -c 1: one smtpd started for 12 connections"
is "$(grep -c '^tcpsrv: ok ' "$T/one.out" "$T/one.log" | tail -1 | cut -d: -f2)" 12 "12 connections logged as served"
is "$(awk '$1=="127.0.0.2" && $4=="250"' "$T/one.out" | wc -l)" 6 "RELAYCLIENT from the rule: every 127.0.0.2 client may relay"
is "$(awk '$1=="127.0.0.1" && $4=="553"' "$T/one.out" | wc -l)" 6 "... and no 127.0.0.1 client after one of them may (553)"
is "$(awk '$5=="1"' "$T/one.out" | wc -l)" 12 "every client's message queued"
bad=0
while read -r src i p code n; do
  f=$(grep -l "^Subject: $src $i\$" "$QQ"/msg.*/msg 2>/dev/null | head -1)
  [ -n "$f" ] || { bad=$((bad+1)); continue; }
  e=$QQ/env.$(basename "$(dirname "$f")" | sed 's/^msg\.//')
  grep -qx "TCPREMOTEIP=$src" "$e" && grep -qx "TCPREMOTEPORT=$p" "$e" && grep -qx "TCPLOCALIP=127.0.0.1" "$e" \
    && grep -qx "TCPLOCALPORT=$PORT" "$e" && grep -qx "PROTO=TCP" "$e" && ! grep -q '^RESIDENTFD=' "$e" || bad=$((bad+1))
  if [ "$src" = 127.0.0.2 ]; then grep -qx 'X_RULE=two' "$e" && grep -qx 'RELAYCLIENT=' "$e" || bad=$((bad+1))
  else ! grep -q '^X_RULE=' "$e" && ! grep -q '^RELAYCLIENT=' "$e" || bad=$((bad+1)); fi
done < "$T/one.out"
is "$bad" 0 "each message's environment is its own connection's: TCPREMOTEIP, TCPREMOTEPORT, the rule's variables, no RESIDENTFD"
like "$(grep -m1 'Received: from' "$(grep -l '^Subject: 127.0.0.1 6$' "$QQ"/msg.*/msg)")" '\[127\.0\.0\.1\]' "Received: names the last client's address"
w=$(readypids one)
is "$(ls /proc/$w/fd | wc -l)" 4 "between connections the worker holds fds 0, 1, 2 and its socket to tcpsrv only"

# memory: the worker's data segment does not grow from connection to connection
m1=$(sed -n 's/^VmData: *//p' /proc/$w/status)
for i in $(seq 1 30); do
  sess $PORT 127.0.0.2 'EHLO c.example' 'MAIL FROM:<s@remote.example>' "RCPT TO:<m$i@example.org>" "DATA:Subject: mem $i" QUIT > /dev/null
done
m2=$(sed -n 's/^VmData: *//p' /proc/$w/status)
if grep -q asan /proc/$w/maps; then skip 1 "VmData under AddressSanitizer (its quarantine holds freed memory)"
else is "$m2" "$m1" "30 more sessions: the worker's VmData is the same ($m1)"; fi
is "$(readycount one)" 1 "... all served by the same smtpd"

# a client that leaves mid-DATA: nothing queued; the next client is served
qq_clear
sess $PORT 127.0.0.1 'EHLO c.example' 'MAIL FROM:<s@remote.example>' 'RCPT TO:<u@example.org>' 'PART:Subject: cut
half a mess' > /dev/null
wait_for 5 grep -q 'reason=client closed the connection' "$T/one.log"
sess $PORT 127.0.0.1 'EHLO c.example' 'MAIL FROM:<s@remote.example>' 'RCPT TO:<u@example.org>' 'DATA:Subject: after' QUIT > "$T/s.out"
like "$(cat "$T/s.out")" '^250 2.0.0 ok' "after a client left mid-DATA, the next one's message is accepted"
is "$(qq_count)" 1 "... and only that one is queued"
ok "... it is the whole one" grep -q '^Subject: after$' "$(qq_last)/msg"
like "$(grep 'reason=client closed' "$T/one.log")" '^end ip=127\.0\.0\.1 reason=client closed the connection$' "the client that left is logged"
stop_pid "$SPID"
is "$(grep -c ' exit status ' "$T/one.log")" 2 "SIGTERM: tcpsrv ends its workers (two: one left with its client mid-DATA)"
nok "... none is left" kill -0 $(readypids one | tail -1)

# ---- AUTH is not carried to the next client
cat > "$T/cp" <<'EOF'
#!/bin/sh
cat <&3 | tr '\000' '\n' > "$CPLOG"
{ read -r login; read -r pass; } < "$CPLOG"
[ "$login" = alice ] && [ "$pass" = s3cret ] && exec "$@"
exit 1
EOF
chmod +x "$T/cp"
CPLOG=$T/cplog; export CPLOG
rsrv auth -w 1 -c 1 -- "$B/smtpd" "$T/cp" true || exit 1
qq_clear
sess $PORT 127.0.0.1 'EHLO c.example' "AUTH PLAIN $(b64 '\0alice\0s3cret')" 'MAIL FROM:<alice@example.org>' \
  'RCPT TO:<f@elsewhere.example>' 'DATA:Subject: authed' QUIT > "$T/a1"
like "$(cat "$T/a1")" '^235 2.7.0' "first client: AUTH succeeds"
like "$(cat "$T/a1")" '^250 2.0.0 ok' "... and relays"
sess $PORT 127.0.0.1 'EHLO c.example' 'MAIL FROM:<alice@example.org>' 'RCPT TO:<f@elsewhere.example>' \
  'RCPT TO:<u@example.org>' 'DATA:Subject: not authed' "AUTH PLAIN $(b64 '\0alice\0wrong')" QUIT > "$T/a2"
like "$(cat "$T/a2")" '^553 5.7.1 relaying denied' "next client, same smtpd: not authenticated, relaying denied"
like "$(cat "$T/a2")" '^535 5.7.8' "... AUTH is not 'already authenticated': its own, failed"
f=$(grep -l '^Subject: not authed$' "$QQ"/msg.*/msg)
unlike "$(head -4 "$f")" 'authenticated user' "... its Received: line names no AUTH user"
like "$(head -4 "$f")" 'with ESMTP;' "... and says ESMTP, not ESMTPA"
is "$(readycount auth)" 1 "both served by the same smtpd"
stop_pid "$SPID"

# ---- a worker killed mid-session is replaced; -n retires workers
rsrv kill -w 1 -c 2 -n 3 -- "$B/smtpd" || exit 1
wait_for 5 grep -q ' ready$' "$T/kill.log"
sess $PORT 127.0.0.1 'EHLO c.example' 'MAIL FROM:<s@remote.example>' "WAIT:$T/waiting" > "$T/k.out" &
kp=$!
wait_for 10 test -s "$T/waiting"
wait_for 5 grep -q "^tcpsrv: ok [0-9]* :127.0.0.1:$PORT :127.0.0.1::$(cat "$T/waiting")\$" "$T/kill.log"
victim=$(sed -n "s/^tcpsrv: ok \([0-9]*\) :127.0.0.1:$PORT :127.0.0.1::$(cat "$T/waiting")\$/\1/p" "$T/kill.log")
kill -KILL "$victim"
wait $kp
is "$(tail -1 "$T/k.out")" "EOF" "worker killed mid-session: its client sees the end"
wait_for 5 grep -q "^tcpsrv: end $victim " "$T/kill.log"
like "$(grep "^tcpsrv: end $victim " "$T/kill.log")" " status 9$" "tcpsrv counts that connection ended, by the signal (wait status 9)"
for i in 1 2 3 4 5; do
  sess $PORT 127.0.0.1 'EHLO c.example' QUIT > "$T/k$i.out"
done
is "$(cat "$T/k"*.out | grep -c '^221 ')" 5 "5 clients after it all served"
wait_for 5 sh -c "[ \$(grep -c ' ready\$' '$T/kill.log') -ge 3 ]"
is "$(readycount kill)" 3 "-n 3: the killed worker and two more that served 3 each: 3 started"
is "$(grep '^tcpsrv: status: ' "$T/kill.log" | tail -1)" "tcpsrv: status: 0/2" "the count is back to 0 when all are gone"
stop_pid "$SPID"

# ---- -c and -C with workers: as without -w
rsrv lim -w 1 -c 2 -- "$B/smtpd" || exit 1
"$PY" - $PORT > "$T/lim.out" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
def conn(src):
    s = socket.socket(); s.settimeout(10); s.bind((src, 0)); s.connect(("127.0.0.1", port)); return s
def greeting(s, t):
    s.settimeout(t)
    try:
        d = s.recv(100)
        return "EOF" if not d else d.decode()[:3]
    except socket.timeout:
        return "none"
a = conn("127.0.0.1"); print("a", greeting(a, 10))
b = conn("127.0.0.2"); print("b", greeting(b, 10))
c = conn("127.0.0.3"); print("c", greeting(c, 1.5))
a.sendall(b"QUIT\r\n"); print("a quit", greeting(a, 10))
print("c after", greeting(c, 10))
EOF
stop_pid "$SPID"
rsrv limc -w 1 -c 5 -C 2 -- "$B/smtpd" || exit 1
"$PY" - $PORT >> "$T/lim.out" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
def conn(src):
    s = socket.socket(); s.settimeout(10); s.bind((src, 0)); s.connect(("127.0.0.1", port)); return s
def greeting(s, t):
    s.settimeout(t)
    try:
        d = s.recv(100)
        return "EOF" if not d else d.decode()[:3]
    except socket.timeout:
        return "none"
x = conn("127.0.0.4"); y = conn("127.0.0.4")
print("x", greeting(x, 10)); print("y", greeting(y, 10))
z = conn("127.0.0.4"); print("z", greeting(z, 10))
EOF
is "$(sed -n 1,2p "$T/lim.out" | tr '\n' ' ')" "a 220 b 220 " "-c 2: two clients served at once (a second worker started)"
is "$(sed -n 3p "$T/lim.out")" "c none" "-c 2: a third client waits"
is "$(sed -n 5p "$T/lim.out")" "c after 220" "... and is served when one of the two quits"
is "$(sed -n 6,7p "$T/lim.out" | tr '\n' ' ')" "x 220 y 220 " "-C 2: two clients from one address served"
is "$(sed -n 8p "$T/lim.out")" "z EOF" "-C 2: a third from that address refused"
like "$(grep ' deny ' "$T/limc.log")" '^tcpsrv: deny [0-9]+ :127\.0\.0\.1:[0-9]+ :127\.0\.0\.4::[0-9]+ MAXCONNIP:3/2$' "... logged as a deny line"
is "$(sed -n 's/^tcpsrv: status: \([0-9]*\)\/2$/\1/p' "$T/lim.log" | sort -n | tail -1)" 2 "-c 2: status lines never above 2/2"
stop_pid "$SPID"

# ---- many clients at once over few workers
rsrv many -w 2 -c 10 -- "$B/smtpd" || exit 1
qq_clear
"$PY" - $PORT > "$T/many.out" <<'EOF'
import smtplib, sys, threading
port = int(sys.argv[1]); ok = []
def one(i):
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=20)
        s.sendmail("s@remote.example", ["u%d@example.org" % i], "Subject: many %d\r\n\r\nx\r\n" % i)
        s.quit(); ok.append(i)
    except Exception as e:
        print("ERROR", i, e)
for r in range(4):
    ts = [threading.Thread(target=one, args=(r * 10 + i,)) for i in range(10)]
    [t.start() for t in ts]; [t.join() for t in ts]
print(len(ok))
EOF
is "$(tail -1 "$T/many.out")" 40 "40 clients, 10 at a time: all served"
is "$(qq_count)" 40 "... 40 messages queued"
n=$(readycount many)
ok "... by at most 10 smtpd processes, not 40 ($n)" test "$n" -le 10
is "$(sed -n 's/^tcpsrv: status: \([0-9]*\)\/10$/\1/p' "$T/many.log" | sort -n | tail -1 | awk '$1<=10{print "ok"}')" ok "status lines never above 10/10"
stop_pid "$SPID"

# ---- a program between tcpsrv and smtpd: prog runs once per connection instead
rsrv fork -w 1 -c 2 -- sh -c '"$0"; exit $?' "$B/smtpd" || exit 1
sess $PORT 127.0.0.1 'EHLO c.example' QUIT > "$T/f.out"
like "$(cat "$T/f.out")" '^221 ' "a forking program in between: the client is still served"
like "$(cat "$T/fork.log")" 'smtpd: fatal: unable to serve as a resident worker: the socket in \$RESIDENTFD is not from the parent process' "smtpd says why it cannot be a worker"
like "$(cat "$T/fork.log")" '^tcpsrv: warning: sh is no resident worker \(.*\): running it once per connection$' "tcpsrv says it runs prog per connection"
stop_pid "$SPID"
rsrv exec -w 1 -c 2 -- "$B/rblsmtpd" "$B/smtpd" || exit 1
sess $PORT 127.0.0.1 'EHLO c.example' QUIT > "$T/e.out"
like "$(cat "$T/e.out")" '^221 ' "a program in between that executes smtpd (rblsmtpd): the client is served"
like "$(cat "$T/exec.log")" 'is no resident worker \(the process that said hello is not prog as started' "... by prog once per connection: the worker was not prog as started"
nok "... no worker said ready" grep -q ' ready$' "$T/exec.log"
stop_pid "$SPID"

# ---- a lookup (-r): a forked child makes it, then hands the connection to the worker
TCPSRV_IDENTPORT=$(free_port); export TCPSRV_IDENTPORT   # nothing listens: no remote info
rsrv ident -w 1 -c 1 -r -x "$T/r.cdb" -- "$B/smtpd" || exit 1
qq_clear
for src in 127.0.0.2 127.0.0.1; do
  sess $PORT $src 'EHLO c.example' 'MAIL FROM:<s@remote.example>' 'RCPT TO:<u@example.org>' "DATA:Subject: ident $src" QUIT > /dev/null
done
unset TCPSRV_IDENTPORT
e2=$QQ/env.$(basename "$(dirname "$(grep -l '^Subject: ident 127.0.0.2$' "$QQ"/msg.*/msg)")" | sed 's/^msg\.//')
e1=$QQ/env.$(basename "$(dirname "$(grep -l '^Subject: ident 127.0.0.1$' "$QQ"/msg.*/msg)")" | sed 's/^msg\.//')
ok "-r: handed over by a child, the client's variables and the rule's" sh -c "grep -qx TCPREMOTEIP=127.0.0.2 '$e2' && grep -qx X_RULE=two '$e2' && ! grep -q ^TCPREMOTEINFO= '$e2'"
ok "... and the next client's its own" sh -c "grep -qx TCPREMOTEIP=127.0.0.1 '$e1' && ! grep -q ^X_RULE= '$e1' && ! grep -q ^RELAYCLIENT= '$e1'"
w=$(readypids ident)
is "$(grep -c "^tcpsrv: ok $w " "$T/ident.log")" 2 "... both served by the one worker, logged under its pid"

# ---- SIGTERM while a worker serves a client: no new clients, that one finishes, all end
"$PY" - $PORT "$T/greeted" "$T/go" > "$T/term.out" <<'EOF' &
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.settimeout(20)
f = s.makefile("rb")
print(f.readline().decode()[:3]); open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]): time.sleep(0.05)
s.sendall(b"QUIT\r\n"); print(f.readline().decode()[:3]); print("EOF" if not f.readline() else "more")
EOF
cp=$!
wait_for 10 test -e "$T/greeted"
kill -TERM "$SPID"
wait_for 5 sh -c "! ss -ltnH 'sport = :$PORT' | grep -q ."
ok "SIGTERM: the port is closed at once" sh -c "! ss -ltnH 'sport = :$PORT' | grep -q ."
ok "... while the busy worker goes on" kill -0 "$w"
touch "$T/go"
wait $cp
is "$(cat "$T/term.out" | tr '\n' ' ')" "220 221 EOF " "... its client is served to the end"
wait "$SPID"
is "$?" 0 "... then tcpsrv exits 0"
nok "... and the worker is gone" kill -0 "$w"

# ---- STARTTLS: tls-wrap between tcpsrv and smtpd: tls-wrap is the resident worker, smtpd its own
#      resident worker (t/67-tls-resident.t has the rest)
. "$(dirname "$0")/tls-lib.sh"
tls_certs || diag "no test certificates"
rsrv tls -w 1 -c 2 -- "$B/tls-wrap" -s "$B/smtpd" || exit 1
qq_clear
"$PY" - $PORT "$C/ca.pem" > "$T/tls.out" 2>&1 <<'EOF'
import smtplib, ssl, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20); s.ehlo()
print("starttls" if s.has_extn("starttls") else "no starttls")
ctx = ssl.create_default_context(cafile=sys.argv[2]); ctx.check_hostname = False
s.starttls(context=ctx); s.ehlo()
s.sendmail("s@remote.example", ["u@example.org"], "Subject: tls\r\n\r\nx\r\n"); s.quit(); print("sent")
EOF
is "$(cat "$T/tls.out" | tr '\n' ' ')" "starttls sent " "tls-wrap -s smtpd under tcpsrv -w: STARTTLS offered, the message sent inside TLS"
like "$(sed -n 2p "$(qq_last)/msg")" '^	\(using TLS' "... its Received: line says TLS"
unlike "$(cat "$T/tls.log")" 'is no resident worker' "... served by resident workers: tls-wrap, and smtpd behind it"
stop_pid "$SPID"
