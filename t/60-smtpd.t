#!/bin/sh
# smtpd: the SMTP dialogue with real clients (swaks, python smtplib) over loopback TCP, the
# extensions, the envelope handed to the queue (byte for byte), the Received: line, the logs.
# The queue program is a capturing stand-in for queue-inject (see t/smtpd-lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd-lib.sh"
command -v swaks >/dev/null || skip_all "swaks is not installed"
plan 49

smtpd_setup
C=$SLUICEDIR/control
smtpd_start plain || exit 1
P1=$PORT

# greeting and EHLO
printf 'EHLO client.example\r\nQUIT\r\n' > "$T/in"
out=$(raw $P1 "$T/in")
like "$out" '^220 mx.example.org ESMTP' "greeting: 220, control/me, ESMTP"
for ext in PIPELINING 8BITMIME 'SIZE' ENHANCEDSTATUSCODES SMTPUTF8; do
  like "$out" "^250[- ]$ext\$" "EHLO offers $ext"
done
unlike "$out" 'AUTH' "no AUTH offered without a checkpassword program"
like "$out" '^221 2.0.0 ' "QUIT: 221"

# swaks: one message, envelope and text byte for byte
swaks --server 127.0.0.1 --port $P1 --helo client.example --from 'sender@remote.example' \
  --to 'user@example.org' --data 'Subject: swaks
From: sender@remote.example

line one
.line with a leading dot
' > "$T/swaks.out" 2>&1
is "$?" 0 "swaks: message accepted"
d=$(qq_last)
printf 'Fsender@remote.example\0Tuser@example.org\0\0' > "$T/want.env"
ok "envelope byte for byte: F, T, final NUL" cmp "$T/want.env" "$d/env"
sed -n 1p "$d/msg" > "$T/rl"
like "$(cat "$T/rl")" '^Received: from client.example \(unknown \[127\.0\.0\.1\]\)$' "Received: names HELO, host and IP"
like "$(sed -n 2,3p "$d/msg" | tr '\n' ' ')" '^	by mx.example.org \(sluice smtpd\) with ESMTP; 	[A-Z][a-z][a-z], [0-9]+ [A-Z][a-z][a-z] 20[0-9][0-9] [0-9:]{8} \+0000 $' "Received: by me, ESMTP, an RFC 5322 date"
tail -n +4 "$d/msg" > "$T/body"
printf 'Subject: swaks\nFrom: sender@remote.example\n\nline one\n.line with a leading dot\n\n' > "$T/want.body"
ok "text stored with LF line ends, dot-stuffing undone" cmp "$T/want.body" "$T/body"
like "$(grep '^accept' "$T/plain.log")" '^accept ip=127\.0\.0\.1 qp=[0-9]+ bytes=[0-9]+ from=<sender@remote.example> to=<user@example.org>$' "log: accept line with IP, sender, recipient"

# swaks with PIPELINING
qq_clear
swaks --pipeline --server 127.0.0.1 --port $P1 --from a@remote.example --to x@example.org,y@a.sub.example.net > "$T/swaks2.out" 2>&1
is "$?" 0 "swaks --pipeline: accepted"
like "$(tr '\n' ' ' < "$T/swaks2.out")" ' -> MAIL FROM:<a@remote.example> +-> RCPT TO:<x@example.org> +-> RCPT TO:<y@a.sub.example.net> +-> DATA +<-  250 2.1.0' "swaks really pipelined MAIL, RCPT, RCPT, DATA"
printf 'Fa@remote.example\0Tx@example.org\0Ty@a.sub.example.net\0\0' > "$T/want.env"
ok "pipelined envelope: two recipients (.sub.example.net takes a.sub.example.net)" cmp "$T/want.env" "$(qq_last)/env"

# python smtplib: 8BITMIME, SIZE, SMTPUTF8, several messages on one connection
qq_clear
"$PY" - $P1 > "$T/py.out" 2>&1 <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="py.example")
s.ehlo()
assert s.has_extn("8bitmime") and s.has_extn("smtputf8") and s.has_extn("pipelining")
body = "Subject: 8bit\r\n\r\nGr\u00fc\u00dfe aus K\u00f6ln\r\n".encode("utf-8")
s.sendmail("a@remote.example", ["u1@example.org"], body, mail_options=["BODY=8BITMIME", "SIZE=%d" % len(body)])
s.sendmail("j\u00f6rg@b\u00fccher.example", ["\u00fc@example.org"], b"Subject: utf8\r\n\r\nx\r\n", mail_options=["SMTPUTF8"])
try:
    s.sendmail("b@remote.example", ["\u00fc@example.org"], b"x\r\n")
except smtplib.SMTPRecipientsRefused as e:
    print("refused", e.recipients["\u00fc@example.org"][0])
except UnicodeEncodeError:
    print("refused 553")
s.quit()
print("done")
EOF
like "$(cat "$T/py.out")" 'done' "smtplib: session completed"
is "$(qq_count)" 2 "smtplib: two messages queued on one connection"
grep -l 'Subject: 8bit' "$QQ"/msg.*/msg > "$T/f8" 2>/dev/null
ok "8-bit body kept byte for byte" grep -q "$(printf 'Gr\303\274\303\237e aus K\303\266ln')" "$(cat "$T/f8")"
f=$(grep -l 'Subject: utf8' "$QQ"/msg.*/msg | head -1)
printf 'Fj\303\266rg@b\303\274cher.example\0T\303\274@example.org\0\0' > "$T/want.env"
ok "SMTPUTF8: UTF-8 addresses in the envelope as sent" cmp "$T/want.env" "$(dirname "$f")/env"
like "$(head -3 "$f" | tr '\n' ' ')" 'with UTF8SMTP;' "SMTPUTF8: Received: says UTF8SMTP"

# the dialogue: commands, sequence, codes (raw)
printf 'HELO x\r\nNOOP\r\nVRFY user\r\nHELP\r\nEXPN list\r\nFOO\r\nRSET\r\nRCPT TO:<a@example.org>\r\nDATA\r\nMAIL FROM:<a@remote.example>\r\nMAIL FROM:<a@remote.example>\r\nDATA\r\nRSET x\r\nQUIT\r\n' > "$T/in"
out=$(raw $P1 "$T/in")
is "$(printf '%s\n' "$out" | cut -c1-9 | tr '\n' ' ')" "220 mx.ex 250 mx.ex 250 2.0.0 252 2.5.2 214-2.0.0 214-2.0.0 214 2.0.0 502 5.5.1 500 5.5.1 250 2.0.0 503 5.5.1 503 5.5.1 250 2.1.0 503 5.5.1 503 5.5.1 501 5.5.4 221 2.0.0 " \
  "NOOP, VRFY 252, HELP 214, EXPN 502, unknown 500, RSET, sequence errors 503, syntax 501"
printf 'MAIL FROM:<a@remote.example>\r\nQUIT\r\n' > "$T/in"
like "$(raw $P1 "$T/in")" '503 5.5.1 send HELO or EHLO first' "MAIL before HELO: 503"
printf 'EHLO x\r\nMAIL FROM:<a@remote.example> FOO=bar\r\nMAIL FROM:<a@remote.example> BODY=BINARYMIME\r\nMAIL FROM:<a b@c>\r\nMAIL FROM:<local>\r\nHELO x\r\nMAIL FROM:<a@remote.example> SIZE=10\r\nQUIT\r\n' > "$T/in"
out=$(raw $P1 "$T/in")
is "$(printf '%s\n' "$out" | grep -v '^250-' | cut -c1-9 | tr '\n' ' ')" "220 mx.ex 250 ENHAN 555 5.5.4 555 5.5.4 501 5.1.7 553 5.1.7 250 mx.ex 555 5.5.4 221 2.0.0 " \
  "unknown MAIL parameter 555, BINARYMIME 555, bad address 501, no domain 553, parameters after HELO 555"

# addresses: source routes, quoted local parts, IPv6 and IPv4 literals, postmaster
qq_clear
printf 'EHLO x\r\nMAIL FROM:<@relay.example:a@remote.example>\r\nRCPT TO:<"john doe"@example.org>\r\nRCPT TO:<Postmaster>\r\nRCPT TO:<u@[127.0.0.1]>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' > "$T/in"
echo example.org > "$C/localiphost"
out=$(raw $P1 "$T/in")
like "$out" '^250 2.0.0 ok' "source route, quoted local part, postmaster, [local IP]: accepted"
printf 'Fa@remote.example\0Tjohn doe@example.org\0TPostmaster@mx.example.org\0Tu@example.org\0\0' > "$T/want.env"
ok "envelope: route dropped, quotes removed, postmaster@me, [127.0.0.1] -> localiphost" cmp "$T/want.env" "$(qq_last)/env"
rm -f "$C/localiphost"

# relaying
printf 'EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<v@elsewhere.example>\r\nRCPT TO:<v@sub.example.net>\r\nRCPT TO:<v@[IPv6:2001:db8::1]>\r\nQUIT\r\n' > "$T/in"
out=$(raw $P1 "$T/in")
is "$(printf '%s\n' "$out" | grep -c '^553 5.7.1 relaying denied')" 3 "relaying denied: other domain, bare suffix domain, foreign literal"
like "$(grep '^reject' "$T/plain.log" | grep 'to=<v@elsewhere.example>')" '^reject ip=127\.0\.0\.1 code=553 from=<a@remote.example> to=<v@elsewhere.example> reason=relaying denied' "log: reject line with IP, code, sender, recipient, reason"
# a quoted local part hiding an @: "v@elsewhere"@example.org would reach the queue as
# v@elsewhere@example.org, one split at the wrong @ away from an open relay
printf 'EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<"v@elsewhere.example"@example.org>\r\nRCPT TO:<@example.org:"v@elsewhere.example"@example.org>\r\nQUIT\r\n' > "$T/in"
out=$(raw $P1 "$T/in")
is "$(printf '%s\n' "$out" | grep -E '^(250 2.1.5|553|501)' | cut -c1-9 | tr '\n' ' ')" "553 5.1.3 553 5.1.3 " "an @ inside a quoted local part: 553"
printf 'big.example\n.wild.example\n' | awk '{ printf "+%d,0:%s->\n", length($0), $0 } END { print "" }' | cdb -c "$C/morercpthosts.cdb"
printf 'EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<v@BIG.example>\r\nRCPT TO:<v@x.wild.example>\r\nRCPT TO:<v@x.big.example>\r\nQUIT\r\n' > "$T/in"
out=$(raw $P1 "$T/in")
is "$(printf '%s\n' "$out" | grep -E '^(250 2.1.5|553)' | cut -c1-3 | tr '\n' ' ')" "250 250 553 " "morercpthosts.cdb: domain and .suffix keys"

smtpd_start relay RELAYCLIENT=@relay.example || exit 1
qq_clear
printf 'EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<v@elsewhere.example>\r\nRCPT TO:<w@[IPv6:2001:db8::1]>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' > "$T/in"
out=$(raw $PORT "$T/in")
like "$out" '^250 2.0.0 ok' "RELAYCLIENT: any domain accepted"
printf 'Fa@remote.example\0Tv@elsewhere.example@relay.example\0Tw@[IPv6:2001:db8::1]@relay.example\0\0' > "$T/want.env"
ok "RELAYCLIENT's value appended to each recipient (as qmail)" cmp "$T/want.env" "$(qq_last)/env"

# badmailfrom (seed 3.6): exact address and @domain
printf 'peng@96633.net\n@spam.example\n' > "$C/badmailfrom"
printf 'EHLO x\r\nMAIL FROM:<Peng@96633.net>\r\nMAIL FROM:<x@spam.example>\r\nMAIL FROM:<x@ok.example>\r\nQUIT\r\n' > "$T/in"
out=$(raw $P1 "$T/in")
is "$(printf '%s\n' "$out" | grep -E '^(250 2.1.0|553)' | cut -c1-9 | tr '\n' ' ')" "553 5.7.1 553 5.7.1 250 2.1.0 " "badmailfrom: address (any case) and @domain refused, others accepted"
rm -f "$C/badmailfrom"

# recipients per message, bad commands per connection
echo 3 > "$C/maxrcpt"
printf 'EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<1@example.org>\r\nRCPT TO:<2@example.org>\r\nRCPT TO:<3@example.org>\r\nRCPT TO:<4@example.org>\r\nQUIT\r\n' > "$T/in"
out=$(raw $P1 "$T/in")
like "$out" '452 4.5.3 too many recipients' "control/maxrcpt: the recipient past the limit gets 452"
rm -f "$C/maxrcpt"
echo 3 > "$C/maxbadcommands"
printf 'EHLO x\r\nFOO\r\nBAR\r\nBAZ\r\nNOOP\r\nQUIT\r\n' > "$T/in"
out=$(raw $P1 "$T/in")
like "$(printf '%s\n' "$out" | tail -1)" '^421 4.7.0 mx.example.org too many errors' "control/maxbadcommands: 421 and the connection closed"
unlike "$out" '^250 2.0.0' "nothing answered after the 421"
rm -f "$C/maxbadcommands"

# size limits: control/databytes, DATABYTES over it, SIZE= refused early, text refused
echo 1000 > "$C/databytes"
printf 'EHLO x\r\nMAIL FROM:<a@remote.example> SIZE=2000\r\nQUIT\r\n' > "$T/in"
out=$(raw $P1 "$T/in")
like "$out" '^250-SIZE 1000$' "SIZE advertises control/databytes"
like "$out" '^552 5.3.4' "SIZE= over the limit: 552"
qq_clear
"$PY" -c 'import sys; sys.stdout.write("EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n" + ("y" * 98 + "\r\n") * 50 + ".\r\nQUIT\r\n")' > "$T/in"
out=$(raw $P1 "$T/in")
like "$out" '^552 5.3.4 message size exceeds the limit' "5000-byte message over databytes 1000: 552 after the end of data"
is "$(qq_count)" 0 "the oversize message is not queued"
smtpd_start db DATABYTES=100000 || exit 1
out=$(raw $PORT "$T/in")
like "$out" '^250 2.0.0 ok' "DATABYTES=100000 in the environment wins over control/databytes"
rm -f "$C/databytes"

# hop count: a looping message is refused
qq_clear
"$PY" -c 'import sys; sys.stdout.write("EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n" + "Received: from x by y\r\n" * 101 + "\r\nloop\r\n.\r\nQUIT\r\n")' > "$T/in"
like "$(raw $P1 "$T/in")" '^554 5.4.6' "101 Received: lines: 554 5.4.6, not queued"

# without TCP: an IPv6 client, a TLS wrapper's SSL_PROTOCOL, hostile HELO and host names
qq_clear
echo example.org > "$C/localiphost"
printf 'EHLO evil (x) "y"\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<u@[IPv6:::1]>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' |
  env TCPREMOTEIP=2001:db8::7 TCPREMOTEHOST='h.example (forged)' TCPLOCALIP=::1 SSL_PROTOCOL=TLSv1.3 "$B/smtpd" > "$T/direct.out" 2> "$T/direct.err"
is "$?" 0 "smtpd on pipes: exit 0 after QUIT"
like "$(head -1 "$(qq_last)/msg")" '^Received: from evil \?x\? \?y\? \(h.example \?forged\? \[IPv6:2001:db8::7\]\)$' "Received: IPv6 literal; HELO and host name cannot break out of the header"
like "$(sed -n 3p "$(qq_last)/msg")" 'with ESMTPS;' "SSL_PROTOCOL set by a TLS wrapper: ESMTPS"
like "$(sed -n 2p "$(qq_last)/msg")" '^	\(using TLSv1\.3\)$' "... and the protocol named on its own line"
printf 'Fa@remote.example\0Tu@example.org\0\0' > "$T/want.env"
ok "RCPT to the local IPv6 literal [IPv6:::1] becomes control/localiphost" cmp "$T/want.env" "$(qq_last)/env"
like "$(cat "$T/direct.err")" '^accept ip=2001:db8::7 ' "log: the IPv6 client address"
