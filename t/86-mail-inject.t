#!/bin/sh
# mail-inject through the real queue (queue-injectd, the file in todo/): the header it
# completes (From, Date, Message-ID from the environment and control/), the addresses it
# qualifies, the fields it removes, where the recipients come from (-a, -h, -H, default),
# -n, -f, -F, the input as it comes (CR LF, no header, no final newline, long lines, an mbox
# From_ line), the uid in the Received: line, the fallback to queue-inject, the codes of a
# queue that refuses; bad input: no recipient, bad addresses, a header too long, stdin that
# cannot be read, bad usage: exit 100 or 111, a clear line, nothing queued.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
. "$(dirname "$0")/inject-lib.sh"
plan 102
q_init
start_bg "$B/queue-injectd" 2>>"$T/inject.log"
INJPID=$BGPID
wait_for 5 test -S "$Q/inject"
mi() { clean USER=alice "$B/mail-inject" "$@"; }
DATE_RE='^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} \+0000$'

# --- the recipients: from the command line, else from To, Cc and Bcc --------------------------
printf 'To: to@example.org\nSubject: one\n\nbody\n' | mi arg@example.net
is "$?" 0 "recipients on the command line: exit 0"
take
is "$(cat "$T/env")" "Falice@mx.test.example|Targ@example.net||" "the envelope: the user at control/me, the arguments only"
like "$(cat "$T/rcv")" '^Received: \(sluice [0-9]+ invoked by uid 0\); ' "queue-injectd's Received: line names the uid"
is "$(hdr from)" "From: alice@mx.test.example" "From: added from \$USER"
like "$(hdr date)" "$DATE_RE" "Date: added, RFC 5322 style"
like "$(hdr message-id)" '^Message-ID: <[0-9]+\.[0-9]+\.[0-9]+@mx\.test\.example>$' "Message-ID: added, @control/me"
is "$(sed -n '1,2p' "$T/msg")" "$(printf 'To: to@example.org\nSubject: one')" "the fields given come first, unchanged"
is "$(tail -2 "$T/msg")" "$(printf '\nbody')" "then a blank line and the body"

printf 'To: Ann <ann@example.org>, bob@example.org\nCc: (copy) carl@example.org, ann@example.org\nBcc: dora@example.org\nSubject: two\n\nbody\n' | mi
is "$?" 0 "no arguments: recipients from the header"
take
is "$(cat "$T/env")" "Falice@mx.test.example|Tann@example.org|Tbob@example.org|Tcarl@example.org|Tdora@example.org||" "To, Cc and Bcc, each address once, in order"
is "$(hdr bcc)" "" "Bcc: removed"
is "$(hdr cc)" "Cc: (copy) carl@example.org, ann@example.org" "Cc: kept as written"

printf 'To: a@example.org, b@example.org\nCc: c@example.org\n\nx\n' | mi -h
take && is "$(cat "$T/env")" "Falice@mx.test.example|Ta@example.org|Tb@example.org|Tc@example.org||" "-h: the header's recipients"
printf 'To: a@example.org\nBcc: z@example.org\n\nx\n' | mi -a b@example.org
take && is "$(cat "$T/env")" "Falice@mx.test.example|Tb@example.org||" "-a: the arguments only (Bcc: still removed)"
is "$(hdr bcc)" "" "... and Bcc: is still removed"
printf 'To: a@example.org, b@example.org\n\nx\n' | mi -H b@example.org c@example.org
take && is "$(cat "$T/env")" "Falice@mx.test.example|Tb@example.org|Tc@example.org|Ta@example.org||" "-H: the arguments, then the header's, each once"
printf 'To: a@example.org\nResent-To: r@example.org\nResent-Bcc: rb@example.org\nResent-From: x@example.org\n\nx\n' | mi
take && is "$(cat "$T/env")" "Falice@mx.test.example|Tr@example.org|Trb@example.org||" "a resent message: Resent-To/Cc/Bcc, not To"
is "$(hdr resent-bcc)" "" "Resent-Bcc: removed"
printf 'To: "a, b" <x@example.org>,\n  grp: g1@example.org, "quoted local"@example.org;,\n\t<@route.example:y@example.org>, undisclosed-recipients:;\n\nx\n' | mi
take && is "$(cat "$T/env")" "Falice@mx.test.example|Tx@example.org|Tg1@example.org|Tquoted local@example.org|Ty@example.org||" "folded lines, names with commas, groups, quoted local parts, source routes"

# --- qualification: control/defaulthost, control/defaultdomain, control/idhost -------------------
printf 'To: root, u@box, "N" <v@box.example.com>\nCc: w@[192.0.2.1]\nReply-To: me\nFrom: self\n\nx\n' | mi
take
is "$(cat "$T/env")" "Falice@mx.test.example|Troot@mx.test.example|Tu@box.mx.test.example|Tv@box.example.com|Tw@[192.0.2.1]||" "no host: @control/me; a host without a dot: .control/me"
is "$(hdr to)" 'To: root@mx.test.example, u@box.mx.test.example, "N" <v@box.example.com>' "the header qualified the same way, the rest as written"
is "$(hdr reply-to)$(hdr from)" "Reply-To: me@mx.test.example""From: self@mx.test.example" "Reply-To: and From: qualified, From: kept"
echo users.example > "$S/control/defaulthost"
echo corp.example > "$S/control/defaultdomain"
echo ids.example > "$S/control/idhost"
printf 'To: root, u@box\n\nx\n' | mi
take
is "$(cat "$T/env")" "Falice@users.example|Troot@users.example|Tu@box.corp.example||" "control/defaulthost for a bare name, control/defaultdomain for a short host"
like "$(hdr message-id)" '@ids\.example>$' "control/idhost in Message-ID:"
echo mailhost > "$S/control/defaulthost"
printf 'To: root\n\nx\n' | mi
take && is "$(cat "$T/env")" "Falice@mailhost.corp.example|Troot@mailhost.corp.example||" "a defaulthost without a dot gets defaultdomain too"
rm -f "$S/control/defaulthost" "$S/control/defaultdomain" "$S/control/idhost"

# --- the sender: environment, -f, -F -------------------------------------------------------------
printf 'To: a@example.org\n\nx\n' | clean QMAILUSER=qu QMAILHOST=qh.example QMAILNAME='Q. User' USER=alice NAME=other "$B/mail-inject"
take
is "$(hdr from)" 'From: "Q. User" <qu@qh.example>' "QMAILUSER, QMAILHOST, QMAILNAME make From: (a name with a dot quoted)"
is "$(head -c 22 "$T/env")" "Fqu@qh.example|Ta@exam" "and the envelope sender"
printf 'To: a@example.org\n\nx\n' | clean QMAILSUSER=bounces QMAILSHOST=lists.example MAILUSER=mu LOGNAME=ln MAILNAME='Mail Name' "$B/mail-inject"
take
is "$(hdr from)" 'From: Mail Name <mu@mx.test.example>' "MAILUSER before LOGNAME, MAILNAME for the name"
is "$(head -c 24 "$T/env")" "Fbounces@lists.example|T" "QMAILSUSER and QMAILSHOST: the envelope sender only"
printf 'To: a@example.org\n\nx\n' | clean LOGNAME=ln NAME='Plain Name' "$B/mail-inject"
take && is "$(hdr from)" 'From: Plain Name <ln@mx.test.example>' "LOGNAME and NAME"
printf 'To: a@example.org\n\nx\n' | clean "$B/mail-inject"
take && is "$(hdr from)" 'From: root@mx.test.example' "no variable at all: the user of the real uid (root)"
printf 'To: a@example.org\n\nx\n' | clean 'USER=odd user' "$B/mail-inject"
take && is "$(hdr from)$(head -c 26 "$T/env")" 'From: "odd user"@mx.test.example''Fodd user@mx.test.example|' "a user name that needs quotes: quoted in From:, bare in the envelope"
printf 'To: a@example.org\n\nx\n' | mi -f list-bounces@example.net -F 'The List'
take
is "$(head -c 26 "$T/env")" "Flist-bounces@example.net|" "-f: the envelope sender"
is "$(hdr from)" "From: The List <list-bounces@example.net>" "-f and -F make the missing From:"
printf 'From: Real <real@example.org>\nTo: a@example.org\n\nx\n' | mi -f other@example.net -F Ignored
take && is "$(hdr from)" "From: Real <real@example.org>" "a From: given is kept"
printf 'To: a@example.org\n\nx\n' | mi -f ''
take && is "$(head -c 2 "$T/env")" "F|" "-f '': the null sender"
printf 'To: a@example.org\n\nx\n' | mi -f '<>'
take && is "$(head -c 2 "$T/env")$(hdr from)" "F|From: alice@mx.test.example" "-f '<>': the null sender, From: from the user"
printf 'To: a@example.org\n\nx\n' | mi -f root
take && is "$(head -c 21 "$T/env")" "Froot@mx.test.example" "-f root: qualified"
printf 'To: a@example.org\n\nx\n' | mi -F "$(printf 'Evil\nBcc: victim@example.org')"
take && is "$(hdr from)|$(grep -ci '^bcc' "$T/msg")" 'From: "Evil Bcc: victim@example.org" <alice@mx.test.example>|0' "-F with a newline: one quoted name, no header injected"
printf 'Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <given@example.org>\nTo: a@example.org\n\nx\n' | mi
take && is "$(hdr date)|$(hdr message-id)|$(grep -ci '^\(date\|message-id\):' "$T/msg")" "Date: Mon, 1 Jan 2024 00:00:00 +0000|Message-ID: <given@example.org>|2" "Date: and Message-ID: given are kept, not added twice"
printf 'Return-Path: <forged@example.org>\nContent-Length: 3\nTo: a@example.org\n\nx\n' | mi
take && is "$(hdr return-path)$(hdr content-length)" "" "Return-Path: and Content-Length: removed"

# --- the input as it comes --------------------------------------------------------------------------
printf 'To: a@example.org\r\nSubject: crlf\r\n\r\nline\r\n.\r\nlast\r\n' | mi
take && is "$(cat "$T/msg" | od -c | grep -c '\\r')" 0 "CR LF becomes LF everywhere"
is "$(tail -3 "$T/msg")" "$(printf 'line\n.\nlast')" "and a line with a dot stays (mail-inject reads to the end)"
printf 'hello, no header here\nsecond: line\n' | mi a@example.org
take
is "$(sed -n '/^$/,$p' "$T/msg")" "$(printf '\nhello, no header here\nsecond: line')" "no header: the text is the body, after the fields we add"
printf 'From someone@example.org Mon Jan  1 00:00:00 2024\nTo: a@example.org\n\nx\n' | mi
take && is "$(grep -c '^From ' "$T/msg")$(hdr to)" "0To: a@example.org" "an mbox From_ line first: dropped"
printf 'To: a@example.org\n\nno newline at the end' | mi
take && is "$(tail -c 4 "$T/msg" | od -An -c | tr -s ' ')" " e n d \n" "a last line without newline gets one"
: | mi a@example.org
take && is "$(grep -c . "$T/msg")|$(tail -c 1 "$T/msg" | od -An -c | tr -d ' ')" '3|\n' "empty input: a message of the three fields we add"
printf 'Subject: 8bit\n\nK\303\266ln \342\202\254\n' | mi a@example.org
take && is "$(tail -1 "$T/msg")" "$(printf 'K\303\266ln \342\202\254')" "8-bit text as it is"
# a big message, a body line of 200 KB and a header field of 90 KB that cross the 64 KB buffer
"$PY" -c 'import sys
w = sys.stdout.write
w("To: a@example.org\nX-Long: " + "h" * 90000 + "\n\n")
w("b" * 200000 + "\n")
for i in range(30000): w("line %d of a big message, long enough to make it big\n" % i)' > "$T/big"
mi < "$T/big"
is "$?" 0 "a 1.7 MB message with a 200 KB line and a 90 KB field: exit 0"
take && sed '/^From: /,/^Message-ID: /d' "$T/msg" > "$T/big.got"
ok "byte for byte" cmp "$T/big" "$T/big.got"

# --- who injected it, and how -----------------------------------------------------------------------
printf 'To: a@example.org\n\nx\n' | setpriv --reuid=4244 --regid=4244 --clear-groups env -i PATH="$PATH" SLUICEDIR="$SLUICEDIR" $SANENV USER=nobody4244 PROTO=TCP "$B/mail-inject"
is "$?" 0 "another user, through queue-injectd: exit 0"
take
like "$(cat "$T/rcv")" '^Received: \(sluice [0-9]+ invoked by uid 4244\)' "the Received: line names uid 4244, even with PROTO set"
printf 'To: a@example.org\n\nx\n' | mi -n > "$T/printed"
is "$?:$(ls "$Q/todo" | wc -l | tr -d ' ')" "0:0" "-n: exit 0, nothing queued"
like "$(head -1 "$T/printed")$(grep -c '^Message-ID: ' "$T/printed")" '^To: a@example.org1$' "-n prints the message as it would be queued"
stop_pid "$INJPID"
printf 'To: a@example.org\n\nvia queue-inject\n' | clean PATH=/usr/bin:/bin USER=alice "$B/mail-inject"
is "$?" 0 "no queue-injectd: queue-inject, found beside mail-inject (not in PATH)"
take && like "$(cat "$T/rcv")" 'invoked by uid 0' "queued by queue-inject, with its Received: line"
printf 'To: a@example.org\n\nx\n' | setpriv --reuid=4244 --regid=4244 --clear-groups env -i PATH="$PATH" SLUICEDIR="$SLUICEDIR" $SANENV USER=u "$B/mail-inject" 2>"$T/err"
is "$?" 111 "another user without queue-injectd: 111"
like "$(tail -1 "$T/err")" '^mail-inject: fatal: unable to queue the message: problem with the queue directory \(queue code 62\)$' "saying so"
ok "nothing queued" nothing_queued
cat > "$T/qq" <<'EOF'
#!/bin/sh
cat >/dev/null; exit $(cat "$QQCODE")
EOF
chmod +x "$T/qq"
echo 31 > "$T/qqcode"
printf 'To: a@example.org\n\nx\n' | clean QMAILQUEUE="$T/qq" QQCODE="$T/qqcode" "$B/mail-inject" 2>"$T/err"
is "$?" 100 "\$QMAILQUEUE that refuses for good (31): 100"
like "$(cat "$T/err")" 'permanently refuses .*\(queue code 31\)' "saying so"
echo 71 > "$T/qqcode"
printf 'To: a@example.org\n\nx\n' | clean QMAILQUEUE="$T/qq" QQCODE="$T/qqcode" "$B/mail-inject" 2>"$T/err"
is "$?" 111 "\$QMAILQUEUE that refuses for now (71): 111"
start_bg "$B/queue-injectd" 2>>"$T/inject.log"
INJPID=$BGPID
wait_for 5 test -S "$Q/inject"

# --- bad input: exit 100 or 111, one clear line, nothing queued ----------------------------------
bad() {   # bad CODE ERE DESC [mail-inject args], the message on stdin
  _c=$1 _e=$2 _d=$3; shift 3
  mi "$@" > /dev/null 2>"$T/err"
  _r=$?
  is "$_r" "$_c" "$_d: exit $_c"
  like "$(cat "$T/err")" "^mail-inject: (fatal|usage): $_e" "$_d: says why"
  ok "$_d: nothing queued" nothing_queued
}
printf 'Subject: nobody\n\nx\n' > "$T/in"
bad 100 'no recipient in To:, Cc: or Bcc:' "no recipient anywhere" < "$T/in"
printf 'To: a@example.org\n\nx\n' > "$T/in"
bad 100 'no recipient given' "-a without arguments" -a < "$T/in"
printf 'To: John Smith\n\nx\n' > "$T/in"
bad 100 'bad address in the header at line 1 \(To:\): two words without a dot' "a To: that is a name without address" < "$T/in"
printf 'Subject: s\nCc: <a@example.org\n\nx\n' > "$T/in"
bad 100 'bad address in the header at line 2 \(Cc:\)' "an unclosed <" < "$T/in"
printf 'x\n' > "$T/in"
bad 100 'bad recipient address: a@: bad domain' "a bad recipient argument" a@ < "$T/in"
"$PY" -c 'import sys; sys.stdout.write("To: a@example.org\nSubject: " + "s" * 102400 + "\n\nx\n")' > "$T/in"
bad 100 'header field too long at line 2 \(Subject:\): more than 102400 bytes' "a header field of 100 KB" < "$T/in"
"$PY" -c 'import sys; sys.stdout.write("To: a@example.org\nSubject: s\n" + "".join("X-F%d: %s\n" % (i, "f" * 99990) for i in range(11)) + "\nx\n")' > "$T/in"
bad 100 'header too long at line 13 \(X-F10:\): more than 1048576 bytes' "a header of more than 1 MB" < "$T/in"
"$PY" -c 'import sys; sys.stdout.write("To: a@example.org,\n" + "".join(" folded%d@example.org,\n" % i for i in range(5000)) + "\nx\n")' | mi >/dev/null 2>&1
is "$?" 100 "a To: of 5000 folded lines past 100 KB: refused too (100)"
rm -f "$Q/todo/"*
bad 111 'unable to read the message: Is a directory' "stdin a directory" a@example.org < "$T"
bad 111 'unable to read the message: Bad file descriptor' "stdin closed" a@example.org <&-
long=$(head -c 1001 /dev/zero | tr '\0' x)
printf 'x\n' > "$T/in"
bad 100 'address too long \(more than 1000 bytes\)' "an address of 1001 bytes" "$long@example.org" < "$T/in"
printf 'x\n' > "$T/in"
bad 100 "bad sender address: a@example.org, b@example.org: more than one address" "two -f addresses" -f 'a@example.org, b@example.org' c@example.org < "$T/in"
printf 'x\n' > "$T/in"
bad 100 'mail-inject \[ -a' "an unknown option" -x a@example.org < "$T/in"
printf 'x\n' > "$T/in"
bad 100 '-h takes the recipients from the header only' "-h with arguments" -h a@example.org < "$T/in"
