#!/bin/sh
# smtpd and the queue program (qmail-queue interface): each class of exit code gives the
# right reply, the client never hears 250 for a message that is not safely queued, and the
# text is streamed (smtpd's memory stays small for a large message). The queue program is the
# capturing stand-in of t/smtpd-lib.sh (queue-inject comes from another branch).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd-lib.sh"
plan 20

smtpd_setup
C=$SLUICEDIR/control
smtpd_start queue || exit 1
P=$PORT
MSG='EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\nSubject: q\r\n\r\nhello\r\n.\r\nQUIT\r\n'

reply_for() {   # the reply to the end of data when the queue program does $1
  qq_mode "$1"
  printf "$MSG" > "$T/in"
  raw $P "$T/in" | grep -E '^[245][0-9][0-9] ' | tail -2 | head -1
}
like "$(reply_for 0)" '^250 2.0.0 ok [0-9]+ qp [0-9]+$' "exit 0: 250 with the queue program's pid"
like "$(reply_for 11)" '^554 5.3.0 queue failure: address too long \(#11\)$' "exit 11: 554 permanent"
like "$(reply_for 31)" '^554 5.3.0 .*\(#31\)$' "exit 31: 554 permanent"
like "$(reply_for 91)" '^554 5.3.0 queue failure: envelope format error \(#91\)$' "exit 91: 554 permanent"
like "$(reply_for 51)" '^451 4.3.0 queue failure: out of memory \(#51\)$' "exit 51: 451 temporary"
like "$(reply_for 71)" '^451 4.3.0 .*\(#71\)$' "exit 71: 451 temporary"
like "$(reply_for 81)" '^451 4.3.0 .*\(#81\)$' "exit 81: 451 temporary"
like "$(reply_for 100)" '^451 4.3.0 .*\(#100\)$' "any other code (100): 451 temporary"
like "$(reply_for crash)" '^451 4.3.0 ' "killed by a signal: 451"
like "$(grep '^reject' "$T/queue.log" | tail -1)" '^reject ip=127\.0\.0\.1 code=451 from=<a@remote\.example> reason=queue failure: internal bug in the queue program \(#81\)$' "log: queue failures are rejects with the reply text"
# a program that exits 0 without reading a message larger than the pipe: 451, never 250
# (a message small enough to sit in the pipe cannot be told apart: exit 0 is the program's word)
qq_mode noread
"$PY" -c 'import sys; sys.stdout.write("EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n" + ("x" * 998 + "\r\n") * 300 + ".\r\nQUIT\r\n")' > "$T/big"
like "$(raw $P "$T/big" | grep -E '^[245][0-9][0-9] ' | tail -2 | head -1)" '^451 4.3.0 .*\(#54\)$' "exit 0 without reading the text: 451, never 250"

# a queue program that hangs without reading is killed after timeoutsmtpd
echo 1 > "$C/timeoutsmtpd"
qq_mode hang
like "$(raw $P "$T/big" | grep -E '^[245][0-9][0-9] ' | tail -2 | head -1)" '^451 4.3.0 queue failure: timeout \(#52\)$' "a queue program that stops reading: 451 timeout"
# one that reads everything, then never exits: 451 timeout, not a session stuck for ever
qq_mode readhang
like "$(raw $P "$T/in" | grep -E '^[245][0-9][0-9] ' | tail -2 | head -1)" '^451 4.3.0 queue failure: timeout \(#52\)$' "a queue program that never exits: 451 timeout"
# one that ignores SIGTERM is not waited for either
qq_mode stubborn
like "$(raw $P "$T/big" | grep -E '^[245][0-9][0-9] ' | tail -2 | head -1)" '^451 4.3.0 queue failure: timeout \(#52\)$' "a queue program that ignores SIGTERM: 451 timeout"
nok "no queue program is left running" kill -0 "$(cat "$QQ/pid")"
rm -f "$C/timeoutsmtpd"

# a missing queue program, then the session goes on
smtpd_start noqueue QMAILQUEUE=$T/nonexistent || exit 1
printf 'EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\nx\r\n.\r\nRSET\r\nQUIT\r\n' > "$T/in"
out=$(raw $PORT "$T/in")
like "$out" '^451 4.3.0 ' "missing queue program: 451"
like "$out" '^250 2.0.0 ok' "the session goes on after the failure (RSET answered)"

# streaming: a 40 MB message through smtpd, whose peak memory stays small
cat > "$T/sink" <<'EOF'
#!/bin/sh
# discarding queue program: counts the text bytes, reads the envelope
tail -n +4 | wc -c > "$QQ/size"   # after the 3-line Received:
cat <&1 > /dev/null
exit 0
EOF
chmod +x "$T/sink"
QMAILQUEUE=$T/sink "$PY" - "$B/smtpd" > "$T/stream" 2>&1 <<'EOF'
import subprocess, sys, os
p = subprocess.Popen([sys.argv[1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def reply():
    r = b""
    while True:
        l = p.stdout.readline()
        r += l
        if len(l) < 4 or l[3:4] == b" ": return r
reply()
p.stdin.write(b"HELO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n"); p.stdin.flush()
reply(); reply(); reply(); reply()
line = b"y" * 1022 + b"\r\n"
for i in range(40 * 1024):
    p.stdin.write(line)
p.stdin.write(b".\r\n"); p.stdin.flush()
r = reply()
hwm = [l for l in open("/proc/%d/status" % p.pid) if l.startswith("VmHWM")][0].split()[1]
p.stdin.write(b"QUIT\r\n"); p.stdin.close(); p.wait()
print(r.decode().strip(), "hwm", hwm)
EOF
like "$(cat "$T/stream")" '^250 2.0.0 ok' "a 40 MB message is accepted"
is "$(tr -d ' ' < "$QQ/size")" $((40 * 1024 * 1023)) "all of it reached the queue program, CRLF turned to LF"
hwm=$(sed -n 's/.* hwm //p' "$T/stream")
case $B in */build-san/*) limit=262144 ;; *) limit=16384 ;; esac
ok "smtpd's peak memory stays small (${hwm:-?} kB, limit $limit kB)" test "${hwm:-999999}" -lt $limit
