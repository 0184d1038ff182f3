#!/bin/sh
# smtpd: deadlines beyond timeoutsmtpd (which bounds each read): control/timeoutsession
# ends a session that trickles one byte at a time, control/mindatarate ends a DATA whose
# text comes too slowly, and nothing of such a message is queued. A DATA at an honest rate
# outlives timeoutsmtpd. Real clients on loopback (python sockets and smtplib); the
# assertions are on what the client received, the log and the queue, never on the clock.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd-lib.sh"
plan 17

smtpd_setup
C=$SLUICEDIR/control
smtpd_start dl || exit 1
P=$PORT

# trickle PORT [data] BYTES PAUSE: one byte of "NOOP\r\n" (or, with data, of the text after
# DATA) every PAUSE seconds, BYTES at most, reading what comes back; prints the bytes sent
# ("sent N") then everything received, until the server closes or all is sent
trickle() {
  "$PY" - "$@" <<'EOF'
import socket, sys, time
port = int(sys.argv[1]); args = sys.argv[2:]
data = args[0] == "data"
if data: args = args[1:]
n, pause = int(args[0]), float(args[1])
s = socket.create_connection(("127.0.0.1", port)); s.settimeout(0.01)
got = b""; sent = 0; closed = False
def rd():
    global got, closed
    try:
        while True:
            b = s.recv(4096)
            if not b: closed = True; return
            got += b
    except socket.timeout: pass
    except OSError: closed = True
def until(word):
    end = time.time() + 10
    while word not in got and not closed and time.time() < end: rd()
until(b"220 ")
if data:
    s.sendall(b"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n")
    until(b"354 ")
    s.sendall(b"Subject: slow\r\n\r\n")
    unit = b"x"
else:
    unit = b"NOOP\r\n"
i = 0
while sent < n and not closed:
    try:
        s.sendall(unit[i % len(unit):i % len(unit) + 1]); sent += 1; i += 1
    except OSError:
        closed = True; break
    t = time.time() + pause
    while time.time() < t and not closed: rd()
if not closed:
    try:
        s.sendall(b"\r\n.\r\nQUIT\r\n" if data else b"QUIT\r\n")
    except OSError: pass
    until(b"221 ")
print("sent %d" % sent)
sys.stdout.write(got.decode("latin-1").replace("\r\n", "\n"))
EOF
}

# ---- the whole session: 2 s per read, 3 s in all; a byte every 0.4 s never waits 2 s
echo 2 > "$C/timeoutsmtpd"
echo 3 > "$C/timeoutsession"
out=$(trickle $P 60 0.4)
like "$out" '^421 4\.4\.2 mx\.example\.org session time limit reached, closing connection$' "a client trickling a byte every 0.4 s gets 421 4.4.2 at the session deadline"
sent=$(printf '%s\n' "$out" | sed -n 's/^sent //p')
ok "... cut before it had sent its 60 bytes (sent $sent)" test "$sent" -lt 60
like "$(grep '^end' "$T/dl.log" | tail -1)" '^end ip=127\.0\.0\.1 reason=session deadline$' "log: end with reason session deadline"
out=$(trickle $P 6 0.05)
like "$out" '^221 ' "a short session within the deadline ends normally"
rm -f "$C/timeoutsession"

# ---- DATA: 2 s, plus one second per 100 bytes; a byte every 0.25 s is 4 bytes a second
echo 100 > "$C/mindatarate"
qq_clear
out=$(trickle $P data 40 0.25)
like "$out" '^421 4\.4\.2 mx\.example\.org data too slow, closing connection$' "a DATA at 4 bytes a second (mindatarate 100) gets 421 4.4.2"
sent=$(printf '%s\n' "$out" | sed -n 's/^sent //p')
ok "... cut before the end of its text (sent $sent of 40)" test "$sent" -lt 40
unlike "$out" '^250 2\.0\.0' "no 250 for it"
sleep 0.3
is "$(qq_count)" 0 "and nothing of it is queued"
like "$(grep '^end' "$T/dl.log" | tail -1)" '^end ip=127\.0\.0\.1 reason=data too slow$' "log: end with reason data too slow"

# an honest rate outlives timeoutsmtpd: 3 s of text at 1,200 bytes a second (12 times the
# minimum), never idle for 2 s, is queued
qq_clear
"$PY" - $P > "$T/py" 2>&1 <<'EOF'
import smtplib, sys, time
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.ehlo("x"); s.mail("a@b.example"); s.rcpt("u@example.org")
code, _ = s.docmd("DATA")
assert code == 354, code
s.send(b"Subject: steady\r\n\r\n")
for i in range(10):
    s.send(b"%s\r\n" % (b"y" * 358)); time.sleep(0.3)
s.send(b".\r\n")
code, msg = s.getreply()
print(code, msg.decode())
s.quit()
EOF
like "$(cat "$T/py")" '^250 ' "a DATA of 3 s at 1,200 bytes a second, past timeoutsmtpd 2: 250"
is "$(qq_count)" 1 "and queued"
like "$(cat "$(qq_last)/msg" | tail -1)" '^y{358}$' "whole"

# mindatarate 0: no minimum rate, timeoutsmtpd alone (the slow client of above is queued)
echo 0 > "$C/mindatarate"
qq_clear
out=$(trickle $P data 12 0.25)
like "$out" '^250 2\.0\.0 ok' "mindatarate 0: the slow DATA is accepted"
is "$(qq_count)" 1 "and queued"
rm -f "$C/mindatarate" "$C/timeoutsmtpd"

# bad values: a temporary failure at the greeting, never a guess
echo 0 > "$C/timeoutsession"
printf 'QUIT\r\n' > "$T/in"
like "$(raw $P "$T/in")" '^421 4\.3\.0 unable to read the configuration' "timeoutsession 0: 421 4.3.0"
echo 5x > "$C/timeoutsession"
like "$(raw $P "$T/in")" '^421 4\.3\.0' "a malformed timeoutsession: 421 4.3.0"
rm -f "$C/timeoutsession"
echo fast > "$C/mindatarate"
like "$(raw $P "$T/in")" '^421 4\.3\.0' "a malformed mindatarate: 421 4.3.0"
rm -f "$C/mindatarate"
