#!/bin/sh
# pop3d: the transaction state over a Maildir, through the whole chain (tcpsrv, pop3-login,
# auth-check, pop3d) with python's poplib, and alone on pipes: sizes, byte-exact RETR with
# dot-stuffing, TOP, UIDL stable across sessions and across new/ -> cur/, deletions only at
# QUIT, maildirsize, the lock, delivery during a session, half-written and foreign files,
# files moved or removed behind its back, deadlines, bad arguments.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pop3-lib.sh"
plan 59

pop3_setup || exit 1
# the messages: dots at line starts, no final newline, CR LF line ends, TOP's, an empty one
printf 'Subject: dots\n\n.\n..\n.x\nend\n' > "$T/m1"
printf 'Subject: nofinal\n\nlast line without newline' > "$T/m2"
printf 'Subject: crlf\r\n\r\nline1\r\nline2\r\n' > "$T/m3"
printf 'Subject: top\n\nb1\nb2\nb3\nb4\n' > "$T/m4"
: > "$T/m5"
for i in 1 2 3 4 5; do deliver "$MA" < "$T/m$i" || exit 1; done
pop3_start main || exit 1
L=$T/main.log

# on the wire: LF -> CR LF (CR LF kept), a CR LF added to a last line without one
cat > "$T/wire.py" <<'EOF'
def wire(b):
    b = b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return b + b"\r\n" if b and not b.endswith(b"\n") else b
EOF

out=$(pop3py $PORT "$T" <<'EOF'
exec(open(sys.argv[2] + "/wire.py").read())
p = login()
n, total = p.stat()
print("stat", n)
sizes = [int(l.split()[1]) for l in p.list()[1]]
got = [retr_bytes(p, i) for i in range(1, n + 1)]
print("sizes", [len(g) for g in got] == sizes, sum(sizes) == total)
for i in range(n):
    print("msg%d" % (i + 1), got[i] == wire(open(sys.argv[2] + "/m%d" % (i + 1), "rb").read()))
r = p._shortcmd("LIST 2"); print(r.decode())
print(p.retr(2)[0].decode())
p.quit()
EOF
)
like "$out" '^stat 5$' "STAT: 5 messages"
like "$out" '^sizes True True$' "LIST and STAT sizes are the octets RETR delivers (RFC 1939 section 11)"
like "$out" '^msg1 True$' "lines starting with '.' arrive byte-exact (stuffed on the wire, poplib unstuffs)"
like "$out" '^msg2 True$' "a message without a final newline: every byte, its last line ended by CR LF"
like "$out" '^msg3 True$' "CR LF line ends in the file are not doubled"
like "$out" '^msg4 True$' "plain message"
like "$out" '^msg5 True$' "an empty message"
like "$out" '^\+OK 2 47$' "LIST n"
like "$out" '^\+OK 47 octets$' "RETR's reply gives the size"

# the wire itself: dot-stuffing and the terminator
printf 'RETR 1\r\nRETR 2\r\nQUIT\r\n' | "$B/pop3d" "$MA" > "$T/wire" 2>/dev/null
"$PY" - "$T/wire" > "$T/wire.out" <<'EOF'
import sys
print(repr(open(sys.argv[1], "rb").read()))
EOF
like "$(cat "$T/wire.out")" "Subject: dots\\\\r\\\\n\\\\r\\\\n\.\.\\\\r\\\\n\.\.\.\\\\r\\\\n\.\.x\\\\r\\\\nend\\\\r\\\\n\.\\\\r\\\\n" "on the wire: '.' -> '..', '..' -> '...', then CR LF . CR LF"
like "$(cat "$T/wire.out")" "last line without newline\\\\r\\\\n\.\\\\r\\\\n\+OK" "no final newline: CR LF, then the terminator on its own line"

# UIDL and TOP, across sessions and across the move to cur/
out=$(pop3py $PORT <<'EOF'
p = login()
print("uidl1", " ".join(l.decode() for l in p.uidl()[1]))
print("top0", p.top(4, 0)[1])
print("top2", p.top(4, 2)[1])
print("top9", p.top(4, 9)[1])
p.quit()
p = login()
print("uidl2", " ".join(l.decode() for l in p.uidl()[1]))
print(p.uidl(3).decode())
p.quit()
EOF
)
u1=$(printf '%s\n' "$out" | sed -n 's/^uidl1 //p'); u2=$(printf '%s\n' "$out" | sed -n 's/^uidl2 //p')
like "$u1" '^1 [!-~]+ 2 [!-~]+ 3 [!-~]+ 4 [!-~]+ 5 [!-~]+$' "UIDL lists every message"
is "$u2" "$u1" "UIDL is the same in the next session, after the messages moved to cur/"
is "$(ls "$MA/new" | wc -l) $(ls "$MA/cur" | grep -c ':2,$')" "0 5" "after QUIT the messages seen are in cur/ with ':2,' (Maildir specification)"
is "$(printf '%s\n' "$out" | sed -n 's/^+OK 3 //p')" "$(printf '%s\n' "$u1" | awk '{print $6}')" "UIDL n"
is "$(printf '%s\n' "$out" | sed -n 's/^top0 //p')" "[b'Subject: top', b'']" "TOP 4 0: the header and the empty line"
is "$(printf '%s\n' "$out" | sed -n 's/^top2 //p')" "[b'Subject: top', b'', b'b1', b'b2']" "TOP 4 2: two lines of the body"
is "$(printf '%s\n' "$out" | sed -n 's/^top9 //p')" "[b'Subject: top', b'', b'b1', b'b2', b'b3', b'b4']" "TOP past the end: the whole message"
ok "a UIDL is the unique part of a file's name" sh -c "ls '$MA/cur' | cut -d, -f1 | grep -qxF '$(printf '%s\n' "$u1" | awk '{print $2}')'"

# deletions happen at QUIT only
out=$(pop3py $PORT <<'EOF'
p = login()
p.dele(1); p.dele(2)
print("stat", p.stat())
try: p.retr(1)
except poplib.error_proto as e: print("retr", e.args[0].decode())
try: p.dele(1)
except poplib.error_proto as e: print("dele", e.args[0].decode())
print("list", [l.split()[0] for l in p.list()[1]])
print(p.rset().decode())
print("stat", p.stat())
p.dele(1)
p.sock.close()   # the connection drops without QUIT
EOF
)
like "$out" '^stat \(3, ' "deleted messages leave STAT"
like "$out" '^retr -ERR no such message$' "RETR of a deleted message: -ERR"
like "$out" '^dele -ERR no such message$' "DELE twice: -ERR"
like "$out" "^list \[b'3', b'4', b'5'\]$" "LIST skips deleted messages and keeps the numbers"
like "$out" '^\+OK 5 messages$' "RSET undeletes"
wait_for 3 grep -q '^end .*reason=client closed' "$L"
is "$(ls "$MA/cur" | wc -l)" 5 "a dropped connection before QUIT deletes nothing"
like "$(grep '^end' "$L" | tail -1)" '^end ip=127\.0\.0\.1 user=alice@example\.com .*reason=client closed the connection without QUIT$' "log: end without QUIT"

# quota: maildirsize is kept right when messages go
printf '0S,3C\n' > "$MA/maildirsize"
chown nobody "$MA/maildirsize"
printf 'Subject: over\n\nx\n' > "$T/m6"
deliver "$MA" -q 100000S,5C < "$T/m6" 2>"$T/q.err"
is "$?" 111 "over quota (5 messages, 5 allowed): maildir-deliver refuses, temporarily"
out=$(pop3py $PORT <<'EOF'
p = login()
p.dele(1); p.dele(5)
print(p.quit().decode())
EOF
)
like "$out" '^\+OK bye, 3 messages left$' "DELE 1, DELE 5, QUIT"
is "$(ls "$MA/cur" | wc -l)" 3 "two files removed"
is "$(awk 'NR > 1 { b += $1; c += $2 } END { print b, c }' "$MA/maildirsize")" "$(cat "$MA"/cur/* | wc -c | tr -d ' ') 3" "maildirsize adds up to what is left (a negative line appended)"
tail -1 "$MA/maildirsize" > "$T/lastline"
like "$(cat "$T/lastline")" '^-[0-9]+ -2$' "the line Maildir++ asks for"
deliver "$MA" -q 100000S,5C < "$T/m6"
is "$?" 0 "the user who deleted mail can receive again"

# the lock: two sessions never share a mailbox
out=$(pop3py $PORT <<'EOF'
p = login()
q = connect(); q.user("alice@example.com")
try: q.pass_("alice pw"); print("second in")
except poplib.error_proto as e: print("second", e.args[0].decode())
print("first", p.stat()[0])
p.quit()
q = login(); print("after", q.stat()[0]); q.quit()
EOF
)
like "$out" '^second -ERR \[IN-USE\] ' "a second session on the same mailbox: -ERR [IN-USE]"
like "$out" '^first 4$' "the first goes on"
like "$out" '^after 4$' "once it has quit, the mailbox opens again"
like "$(grep 'mailbox in use' "$L")" '^end ip=127\.0\.0\.1 user=alice@example\.com .*reason=mailbox in use$' "log: mailbox in use"

# delivery during a session; a half-written message; foreign files
out=$(pop3py $PORT "$MA" "$B" <<'EOF'
import subprocess
p = login()
print("before", p.stat()[0])
subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", sys.argv[3] + "/maildir-deliver", sys.argv[2]], input=b"Subject: during\n\nnew\n", check=True)
print("during", p.stat()[0], len(p.list()[1]))
p.quit()
p = login(); print("next", p.stat()[0]); p.quit()
EOF
)
like "$out" '^before 4$' "4 messages at the start"
like "$out" '^during 4 4$' "a message delivered during the session is not shown in it"
like "$out" '^next 5$' "the next session has it"
printf 'Subject: partial\n' > "$MA/tmp/1.M1P1.half"
printf 'x' > "$MA/new/.hidden"
mkdir "$MA/cur/adir"
printf 'STAT\r\nQUIT\r\n' | "$B/pop3d" "$MA" > "$T/o" 2>/dev/null
like "$(sed -n 2p "$T/o")" '^\+OK 5 ' "files in tmp/, dot files and directories are not messages"

# names from other delivery programs: ,W= sizes, long unique names
printf 'a\nb\n' > "$MA/cur/1700000000.x.host,S=4,W=99:2,S"
printf 'a\n' > "$MA/new/1700000001.$(head -c 80 /dev/zero | tr '\0' h)"
printf 'LIST 1\r\nUIDL 2\r\nQUIT\r\n' | "$B/pop3d" "$MA" > "$T/o" 2>/dev/null
like "$(sed -n 2p "$T/o")" '^\+OK 1 99' "a ,W= size in the name is taken as it is, and older messages come first"
like "$(sed -n 3p "$T/o")" '^\+OK 2 ~[0-9a-f]{16}' "a unique part longer than 70 bytes: a hash as UIDL"
rm "$MA/cur/1700000000.x.host,S=4,W=99:2,S" "$MA/cur/1700000001."*

# behind its back: a message moved by another reader, one removed
cat > "$T/back.py" <<'EOF'
import os
md = sys.argv[2]
p = login()
import re
def order(n):   # pop3d's order: the delivery time, seconds and microseconds
    m = re.match(r"(\d+)\.M(\d+)", n)
    return (int(m.group(1)), int(m.group(2)), n) if m else (0, 0, n)
names = sorted((n for n in os.listdir(md + "/cur") if os.path.isfile(md + "/cur/" + n)), key=order)
os.rename(md + "/cur/" + names[0], md + "/cur/" + names[0].split(":")[0] + ":2,S")
os.unlink(md + "/cur/" + names[1])
print("moved", retr_bytes(p, 1)[:9])
try: p.retr(2)
except poplib.error_proto as e: print("gone", e.args[0].decode())
p.dele(1)
print(p.quit().decode())
EOF
out=$(pop3py $PORT "$MA" < "$T/back.py")
like "$out" "^moved b'Subject: '" "a message renamed by another reader (flags) is still found"
like "$out" '^gone -ERR message no longer exists$' "a message removed by another reader: -ERR"
like "$out" '^\+OK bye, ' "and QUIT removes the renamed one"
is "$(find "$MA/cur" -type f | wc -l)" 3 "one removed by pop3d, one by the other reader"

# a file the user cannot read does not lock the user out of the rest
printf 'Subject: root only\n\nx\n' > "$MA/cur/1.rootonly"
chmod 600 "$MA/cur/1.rootonly"
out=$(pop3py $PORT <<'EOF'
p = login()
print("stat", p.stat()[0])
try: p.retr(1)
except poplib.error_proto as e: print("retr1", e.args[0].decode())
print("retr2", retr_bytes(p, 2)[:8])
p.quit()
EOF
)
like "$out" '^stat 4$' "an unreadable file is listed"
like "$out" '^retr1 -ERR \[SYS/TEMP\] unable to open the message$' "RETR of it: -ERR [SYS/TEMP]"
like "$out" "^retr2 b'Subject:'$" "the others are served"
like "$(cat "$L")" 'pop3d: warning: unable to (read|open) .*1\.rootonly' "and a warning logged"
rm "$MA/cur/1.rootonly"

# bad arguments
printf 'RETR\r\nRETR 0\r\nRETR 99\r\nRETR x\r\nRETR 1 2\r\nTOP 1\r\nLIST 1 2\r\nDELE -1\r\nSTAT 1\r\nUSER x\r\nFOO\r\n%s\r\nNOOP\r\nQUIT\r\n' "$(head -c 2000 /dev/zero | tr '\0' 1)" | "$B/pop3d" "$MA" 2>/dev/null | sed 1d | cut -c1-24 | tr -d '\r' | tr '\n' '|' > "$T/o"
is "$(cat "$T/o")" "-ERR syntax: a message n|-ERR no such message|-ERR no such message|-ERR syntax: a message n|-ERR syntax: a message n|-ERR syntax: TOP needs a|-ERR syntax: LIST and UI|-ERR syntax: a message n|-ERR syntax: STAT takes |-ERR already logged in|-ERR unknown command|-ERR line too long|+OK|+OK bye, 3 messages left|" \
  "bad message numbers, missing arguments, commands of the other state, a 2000-byte line: -ERR each"
printf 'CAPA\r\nQUIT\r\n' | "$B/pop3d" "$MA" 2>/dev/null | tr -d '\r' | sed -n '3,9p' | tr '\n' ' ' > "$T/o"
is "$(cat "$T/o")" "TOP UIDL RESP-CODES AUTH-RESP-CODE PIPELINING EXPIRE NEVER IMPLEMENTATION sluice " "CAPA in the transaction state"

# deadlines, and what a timeout deletes: nothing
"$PY" - "$B/pop3d" "$MA" > "$T/o" 2>"$T/e" <<'EOF'
import subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "-t", "1", sys.argv[2]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
p.stdin.write(b"DELE 1\r\n"); p.stdin.flush()
out = p.stdout.read()
print(out.decode().replace("\r\n", "|"), p.wait())
EOF
is "$(cat "$T/o")" "+OK 3 messages|+OK message deleted|-ERR timeout, closing connection| 111" "-t 1: a silent client gets -ERR timeout and exit 111"
is "$(find "$MA/cur" -type f | wc -l)" 3 "and nothing is deleted"

# failures and usage
printf 'QUIT\r\n' | "$B/pop3d" "$T/nonexistent" > "$T/o" 2>"$T/e"; r=$?
is "$r" 111 "no such Maildir: exit 111"
like "$(cat "$T/o")" '^-ERR \[SYS/TEMP\] unable to open the mailbox' "and -ERR [SYS/TEMP] for the client"
like "$(cat "$T/e")" "^pop3d: fatal: unable to open $T/nonexistent: " "and the reason on stderr"
is_rc 100 "no Maildir argument: exit 100" "$B/pop3d"
is_rc 100 "a bad POP3LOGINFD: exit 100" env POP3LOGINFD=x "$B/pop3d" "$MA"
