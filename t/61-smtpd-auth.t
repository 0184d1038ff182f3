#!/bin/sh
# smtpd: SMTP AUTH (RFC 4954) PLAIN and LOGIN through a checkpassword program, relaying for
# authenticated clients, REQUIREAUTH. The checkpassword program here is a test double written
# below (auth-check, the real one, comes from another branch): it reads login\0password\0
# timestamp\0 on fd 3, accepts alice/s3cret, and then execs its arguments, as auth-check does.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd-lib.sh"
command -v swaks >/dev/null || skip_all "swaks is not installed"
plan 40

smtpd_setup
C=$SLUICEDIR/control
cat > "$T/cp" <<'EOF'
#!/bin/sh
# checkpassword test double: alice/s3cret succeeds; "tempfail" exits 111; "hang" never answers
cat <&3 > "$CPLOG.in"
cat "$CPLOG.in" >> "$CPLOG"; echo >> "$CPLOG"
echo "junk from the checkpassword program"
[ "$(tr -cd '\000' < "$CPLOG.in" | wc -c)" = 3 ] || exit 2
tr '\000' '\n' < "$CPLOG.in" > "$CPLOG.lines"
{ read -r login; read -r pass; } < "$CPLOG.lines"
case $login in tempfail) exit 111 ;; hang) exec sleep 30 ;; esac
login=$(printf %s "$login" | tr 'A-Z%' 'a-z@')
case $login in alice|alice@example.org) [ "$pass" = s3cret ] && exec "$@" ;; esac
exit 1
EOF
printf '#!/bin/sh\ntouch "$CPLOG.ran"\n' > "$T/mark"
chmod +x "$T/cp" "$T/mark"
CPLOG=$T/cplog; export CPLOG
smtpd_start auth -- "$T/cp" "$T/mark" || exit 1
PA=$PORT
b64() { printf "$1" | base64 -w0; }

printf 'EHLO x\r\nQUIT\r\n' > "$T/in"
like "$(raw $PA "$T/in")" '^250-AUTH PLAIN LOGIN$' "EHLO offers AUTH PLAIN LOGIN with a checkpassword program"

# swaks PLAIN, relaying to any domain
swaks --server 127.0.0.1 --port $PA --from alice@example.org --to friend@elsewhere.example \
  --auth PLAIN --auth-user alice --auth-password s3cret > "$T/s1" 2>&1
is "$?" 0 "swaks --auth PLAIN: authenticated and relayed to another domain"
like "$(cat "$T/s1")" '<- +235 2.7.0' "235 after AUTH PLAIN"
d=$(qq_last)
printf 'Falice@example.org\0Tfriend@elsewhere.example\0\0' > "$T/want.env"
ok "envelope of the authenticated message" cmp "$T/want.env" "$d/env"
like "$(sed -n 1,4p "$d/msg" | tr '\n' ' ')" '^Received: from [^ ]+ \(unknown \[127.0.0.1\]\) 	\(authenticated user alice\) 	by mx.example.org \(sluice smtpd\) with ESMTPA;' "Received: names the AUTH user and says ESMTPA"
like "$(grep '^auth' "$T/auth.log" | head -1)" '^auth success ip=127\.0\.0\.1 user=alice mech=PLAIN$' "log: auth success with IP, user, mechanism"
like "$(grep '^accept' "$T/auth.log" | head -1)" ' auth=alice ' "log: accept names the AUTH user"
like "$(head -1 "$CPLOG" | od -An -c | tr -d ' \n')" '^alice\\0s3cret\\0<[0-9]+\.[0-9]+@mx\.example\.org>\\0\\n$' "checkpassword read login\\0password\\0<pid.time@me>\\0 on fd 3"
ok "checkpassword exec'd its arguments" test -e "$CPLOG.ran"

# swaks LOGIN
qq_clear
swaks --server 127.0.0.1 --port $PA --from alice@example.org --to friend@elsewhere.example \
  --auth LOGIN --auth-user alice --auth-password s3cret > "$T/s2" 2>&1
is "$?" 0 "swaks --auth LOGIN: authenticated"
is "$(qq_count)" 1 "LOGIN: message queued"
like "$(grep '^auth' "$T/auth.log" | tail -1)" 'mech=LOGIN' "log: mechanism LOGIN"

# wrong password
swaks --server 127.0.0.1 --port $PA --from alice@example.org --to friend@elsewhere.example \
  --auth PLAIN --auth-user alice --auth-password wrong > "$T/s3" 2>&1
isnt "$?" 0 "swaks: wrong password fails"
like "$(cat "$T/s3")" '<\*\* +535 5.7.8' "wrong password: 535 5.7.8"
like "$(grep '^auth failure' "$T/auth.log" | tail -1)" '^auth failure ip=127\.0\.0\.1 user=alice mech=PLAIN code=1$' "log: auth failure with the program's exit code"

# raw dialogues
printf 'EHLO x\r\nAUTH PLAIN %s\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@elsewhere.example>\r\nQUIT\r\n' "$(b64 '\0alice\0nope')" > "$T/in"
out=$(raw $PA "$T/in")
like "$out" '^553 5.7.1 relaying denied' "after a failed AUTH, relaying is still denied"
unlike "$out" 'junk' "the checkpassword program's output never reaches the client"
printf 'EHLO x\r\nAUTH PLAIN\r\n%s\r\nAUTH PLAIN\r\nQUIT\r\n' "$(b64 '\0alice\0s3cret')" > "$T/in"
out=$(raw $PA "$T/in")
like "$(printf '%s\n' "$out" | grep -v '^250' | tr '\n' ' ')" '^220 [^ ]+ ESMTP 334  235 2.7.0 [^0-9]+503 5.5.1 already authenticated' "AUTH PLAIN with an empty challenge; a second AUTH: 503"
printf 'EHLO x\r\nAUTH LOGIN %s\r\n%s\r\nQUIT\r\n' "$(b64 alice)" "$(b64 s3cret)" > "$T/in"
like "$(raw $PA "$T/in" | tr '\n' ' ')" '334 UGFzc3dvcmQ6 235 2.7.0' "AUTH LOGIN with the user name as initial response"
printf 'EHLO x\r\nAUTH LOGIN\r\n*\r\nAUTH PLAIN !!!!\r\nAUTH CRAM-MD5\r\nMAIL FROM:<a@b.example>\r\nAUTH PLAIN\r\nQUIT\r\n' > "$T/in"
out=$(raw $PA "$T/in")
is "$(printf '%s\n' "$out" | grep -v '^250' | cut -c1-9 | tr '\n' ' ')" "220 mx.ex 334 VXNlc 501 5.0.0 501 5.5.2 504 5.5.4 503 5.5.1 221 2.0.0 " "AUTH cancelled 501, bad base64 501, unknown mechanism 504, AUTH in a transaction 503"
printf 'HELO x\r\nAUTH PLAIN %s\r\nQUIT\r\n' "$(b64 '\0alice\0s3cret')" > "$T/in"
like "$(raw $PA "$T/in")" '503 5.5.1 AUTH needs EHLO' "AUTH after HELO: 503"
printf 'EHLO x\r\nAUTH PLAIN %s\r\nQUIT\r\n' "$(b64 '\0tempfail\0x')" > "$T/in"
like "$(raw $PA "$T/in")" '^454 4.7.0' "checkpassword exits 111: 454 temporary failure"
printf 'EHLO x\r\nAUTH PLAIN %s\r\nQUIT\r\n' "$(b64 'bob\0alice\0s3cret')" > "$T/in"
like "$(raw $PA "$T/in")" '^501 5.5.2 malformed' "PLAIN with another authorization identity: refused"
printf 'EHLO x\r\nAUTH PLAIN =\r\nQUIT\r\n' > "$T/in"
like "$(raw $PA "$T/in" | grep -v '^250' | tr '\n' ' ')" '^220 [^ ]+ ESMTP 501 5\.5\.2 malformed AUTH PLAIN response 221 ' "AUTH PLAIN = (an empty response): 501, and the session goes on (under the sanitizer too)"

# the login as the log and Received: show it: normalised as auth-check reads it
qq_clear
swaks --server 127.0.0.1 --port $PA --from alice@example.org --to friend@elsewhere.example \
  --auth PLAIN --auth-user 'Alice%Example.ORG' --auth-password s3cret > "$T/s4" 2>&1
is "$?" 0 "a login typed Alice%Example.ORG is accepted by the checkpassword program"
like "$(sed -n 2p "$(qq_last)/msg")" '^	\(authenticated user alice@example\.org\)$' "Received: names it alice@example.org, not as typed"
like "$(grep '^auth success' "$T/auth.log" | tail -1)" ' user=alice@example\.org mech=PLAIN$' "so does the log's auth line"
like "$(grep '^accept' "$T/auth.log" | tail -1)" ' auth=alice@example\.org ' "and its accept line"
printf 'EHLO x\r\nAUTH PLAIN %s\r\nQUIT\r\n' "$(b64 '\0Bob%%Example.org\0nope')" > "$T/in"
raw $PA "$T/in" > /dev/null
like "$(grep '^auth failure' "$T/auth.log" | tail -1)" ' user=bob@example\.org mech=PLAIN ' "a failed login is logged normalised too"
echo example.org > "$C/authdomain"
printf 'EHLO x\r\nAUTH PLAIN %s\r\nQUIT\r\n' "$(b64 '\0alice\0s3cret')" > "$T/in"
raw $PA "$T/in" > /dev/null
like "$(grep '^auth success' "$T/auth.log" | tail -1)" ' user=alice@example\.org ' "a bare login takes control/authdomain's domain, as auth-check does"
rm -f "$C/authdomain"

# python smtplib login()
qq_clear
"$PY" - $PA > "$T/py" 2>&1 <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.login("alice", "s3cret")
s.sendmail("alice@example.org", ["x@elsewhere.example"], b"Subject: py\r\n\r\nhi\r\n")
s.quit()
print("sent")
EOF
like "$(cat "$T/py")" '^sent' "smtplib login() and relay"

# bad AUTH attempts count against the client
echo 3 > "$C/maxbadcommands"
printf 'EHLO x\r\nAUTH PLAIN %s\r\nAUTH PLAIN %s\r\nAUTH PLAIN %s\r\nAUTH PLAIN %s\r\n' "$(b64 '\0alice\0a')" "$(b64 '\0alice\0b')" "$(b64 '\0alice\0c')" "$(b64 '\0alice\0s3cret')" > "$T/in"
out=$(raw $PA "$T/in")
like "$(printf '%s\n' "$out" | tail -1)" '^421 4.7.0 .* too many errors' "three failed AUTHs: 421, connection closed"
unlike "$out" '^235' "no fourth try"
rm -f "$C/maxbadcommands"

# a checkpassword program that does not answer
echo 1 > "$C/timeoutsmtpd"
printf 'EHLO x\r\nAUTH PLAIN %s\r\nQUIT\r\n' "$(b64 '\0hang\0x')" > "$T/in"
like "$(raw $PA "$T/in")" '^454 4.7.0' "a checkpassword program past timeoutsmtpd is killed: 454"
rm -f "$C/timeoutsmtpd"

# REQUIREAUTH
smtpd_start req REQUIREAUTH=1 -- "$T/cp" true || exit 1
printf 'EHLO x\r\nMAIL FROM:<a@b.example>\r\nAUTH PLAIN %s\r\nMAIL FROM:<a@b.example>\r\nQUIT\r\n' "$(b64 '\0alice\0s3cret')" > "$T/in"
out=$(raw $PORT "$T/in")
like "$out" '^530 5.7.0 authentication required' "REQUIREAUTH: MAIL before AUTH gets 530"
like "$out" '^250 2.1.0' "REQUIREAUTH: MAIL after AUTH accepted"

# no checkpassword program: no AUTH
smtpd_start noauth || exit 1
printf 'EHLO x\r\nAUTH PLAIN %s\r\nQUIT\r\n' "$(b64 '\0alice\0s3cret')" > "$T/in"
like "$(raw $PORT "$T/in")" '^502 5.5.1 AUTH not available' "without a checkpassword program AUTH is 502"

# RBLSMTPD set by a rule (rblsmtpd not in the chain): recipients refused as rblsmtpd would,
# unless the client logs in
smtpd_start rbl 'RBLSMTPD=-listed at bl.example, see http://bl.example/' -- "$T/cp" true || exit 1
printf 'EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.org>\r\nAUTH PLAIN %s\r\nQUIT\r\n' "$(b64 '\0alice\0s3cret')" > "$T/in"
out=$(raw $PORT "$T/in")
like "$out" '^553 5.7.1 listed at bl.example, see http://bl.example/$' "RBLSMTPD=-text: RCPT refused with 553 and the text"
printf 'EHLO x\r\nAUTH PLAIN %s\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.org>\r\nQUIT\r\n' "$(b64 '\0alice\0s3cret')" > "$T/in"
like "$(raw $PORT "$T/in")" '^250 2.1.5' "RBLSMTPD: an authenticated client is let through"
smtpd_start rbl2 'RBLSMTPD=try later' || exit 1
printf 'EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.org>\r\nQUIT\r\n' > "$T/in"
like "$(raw $PORT "$T/in")" '^451 4.7.1 try later$' "RBLSMTPD=text: 451 and the text"
