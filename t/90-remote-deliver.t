#!/bin/sh
# remote-deliver to a second sluice instance (tcpsrv + smtpd, its own SLUICEDIR, a capturing
# queue program) reached through control/smtproutes: the message byte for byte (CR LF,
# dot-stuffing, only what follows the file offset, small and large), the envelope, one line
# per recipient, the null sender, SMTPUTF8, helohost, outgoingip, an address literal; every
# bad usage and bad control file (exit code, message, no line, nothing sent).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/remote-lib.sh"
plan 64

mx_start mx 127.0.0.1 0 || exit 1
P=$PORT
echo "example.org:127.0.0.1:$P" > "$L/control/smtproutes"
Q=$T/mx/q

# ---- a message with what needs care, after 17 bytes of something else
printf 'queue-file-head\n\n' > "$T/m1"
printf 'From: a@client.example\nSubject: dots\n\n.\n..\n.leading dot\ntrailing dot.\nend of line\r\nlone\rcr\n\nlast line without newline' > "$T/body1"
cat "$T/body1" >> "$T/m1"
# what smtpd stores: CR LF and a lone CR became line ends, a final line end added
printf 'From: a@client.example\nSubject: dots\n\n.\n..\n.leading dot\ntrailing dot.\nend of line\nlone\ncr\n\nlast line without newline\n' > "$T/want1"

rd "$T/m1" 17 -- example.org a@client.example u1@example.org u2@example.org
is "$RC" 0 "delivered: exit 0"
is "$(wc -l < "$T/out")" 2 "one line per recipient"
like "$(sed -n 1p "$T/out")" '^success 1 \[127\.0\.0\.1\] said: 250 2\.0\.0 ok [0-9]+ qp [0-9]+$' "recipient 1: success with the server's words"
like "$(sed -n 2p "$T/out")" '^success 2 \[127\.0\.0\.1\] said: 250 2\.0\.0 ok ' "recipient 2: success"
is "$(cat "$T/err")" "" "nothing on stderr"
printf 'Fa@client.example\0Tu1@example.org\0Tu2@example.org\0\0' > "$T/want.env"
ok "envelope byte for byte" cmp "$T/want.env" "$Q/1.env"
got mx 1 > "$T/got1"
ok "message byte for byte: only the tail after the offset, dots and line ends right" cmp "$T/want1" "$T/got1"
like "$(sed -n 1p "$Q/1.msg")" '^Received: from client\.example \(unknown \[127\.0\.0\.1\]\)$' "HELO/EHLO name: control/me"

# the same file from offset 0: the head goes too (the offset is what decides)
rd "$T/m1" -- example.org a@client.example u1@example.org
{ printf 'queue-file-head\n\n'; cat "$T/want1"; } > "$T/want1b"
got mx 2 > "$T/got1b"
ok "from offset 0 the whole file is the message" cmp "$T/want1b" "$T/got1b"

# the null sender, a recipient in upper case, a local part that needs quoting
: > "$T/empty"
printf 'Subject: bounce\n\nx\n' > "$T/m2"
rd "$T/m2" -- example.org '' U3@EXAMPLE.ORG 'joe smith@example.org'
is "$RC.$(grep -c '^success ' "$T/out")" "0.2" "null sender: both delivered"
printf 'F\0TU3@EXAMPLE.ORG\0Tjoe smith@example.org\0\0' > "$T/want.env"
ok "MAIL FROM:<>, the domain in any case, a quoted local part arrives unquoted" cmp "$T/want.env" "$Q/3.env"

# one recipient refused, the other delivered: each has its own line
rd "$T/m2" -- example.org a@client.example ok@example.org 'x@y@example.org'
is "$RC" 0 "mixed outcomes: exit 0"
like "$(grep '^success' "$T/out")" '^success 1 ' "the good recipient: success"
is "$(grep '^failure' "$T/out")" "failure 2 [127.0.0.1] said: 553 5.1.3 an @ in the local part is not accepted (in reply to RCPT TO)" "the refused one: failure with the server's words and the command"
printf 'Fa@client.example\0Tok@example.org\0\0' > "$T/want.env"
ok "only the accepted recipient is in the envelope" cmp "$T/want.env" "$Q/4.env"

# an empty message
rd "$T/empty" -- example.org a@client.example e@example.org
is "$RC.$(cut -d' ' -f1,2 "$T/out")" "0.success 1" "an empty message is delivered"
is "$(got mx 5 | wc -c)" 0 "... and stored empty"

# a large message (past the buffer that keeps small ones) at an offset, with 8-bit text
"$PY" - "$T/m3" "$T/want3" <<'EOF'
import sys
head = b"x" * 5000 + b"\n"
lines = []
for i in range(6000):
    lines.append((b"." if i % 7 == 0 else b"") + b"line %d \xc3\xa9\xe2\x82\xac " % i + b"y" * (i % 50))
body = b"\n".join(lines) + b"\n"
open(sys.argv[1], "wb").write(head + body)
open(sys.argv[2], "wb").write(body)
EOF
rd "$T/m3" 5001 -- example.org a@client.example big@example.org
is "$RC.$(cut -d' ' -f1,2 "$T/out")" "0.success 1" "a large message: delivered"
got mx 6 > "$T/got3"
ok "a large message: byte for byte, 8-bit text kept" cmp "$T/want3" "$T/got3"

# SMTPUTF8: smtpd offers it; the addresses arrive as they were
rd "$T/m2" -- example.org "$(printf 'j\303\266rg@client.example')" "$(printf 'm\303\274ller@example.org')"
is "$RC.$(cut -d' ' -f1,2 "$T/out")" "0.success 1" "UTF-8 addresses: delivered with SMTPUTF8"
printf 'Fj\303\266rg@client.example\0Tm\303\274ller@example.org\0\0' > "$T/want.env"
ok "UTF-8 envelope byte for byte" cmp "$T/want.env" "$Q/7.env"

# helohost, outgoingip
echo hello.client.example > "$L/control/helohost"
echo 127.0.0.9 > "$L/control/outgoingip"
rd "$T/m2" -- example.org a@client.example h@example.org
is "$RC.$(cut -d' ' -f1,2 "$T/out")" "0.success 1" "with helohost and outgoingip: delivered"
like "$(sed -n 1p "$Q/8.msg")" '^Received: from hello\.client\.example \(unknown \[127\.0\.0\.9\]\)$' "EHLO says control/helohost; the connection comes from control/outgoingip"
printf '::1\n127.0.0.9\n' > "$L/control/outgoingip"
rd "$T/m2" -- example.org a@client.example h@example.org
like "$(sed -n 1p "$Q/9.msg")" '\[127\.0\.0\.9\]\)$' "outgoingip: the address of the connection's family is used"
echo 192.0.2.1 > "$L/control/outgoingip"
rd "$T/m2" -- example.org a@client.example h@example.org
is "$RC" 0 "an outgoingip this machine does not have: exit 0"
like "$(cat "$T/out")" '^deferral 1 no host took the message: \[127\.0\.0\.1\]: unable to bind to control/outgoingip: ' "... the recipient is deferred, saying why"
rm -f "$L/control/outgoingip"
: > "$L/control/helohost"
rd "$T/m2" -- example.org a@client.example h@example.org
like "$(sed -n 1p "$(ls -t "$Q"/*.msg | head -1)")" '^Received: from client\.example ' "an empty control/helohost: control/me"
rm -f "$L/control/helohost"

# an address literal as the domain, its port from smtproutes (the domain itself is the key)
printf '[127.0.0.1]::%s\n' "$P" > "$L/control/smtproutes"
rd "$T/m2" -- '[127.0.0.1]' a@client.example 'lit@[127.0.0.1]'
like "$(cat "$T/out")" '^(success|failure) 1 \[127\.0\.0\.1\] said: ' "an address literal: connected to that address"
# the default route
printf ':127.0.0.1:%s\n' "$P" > "$L/control/smtproutes"
rd "$T/m2" -- example.org a@client.example d@example.org
is "$RC.$(cut -d' ' -f1,2 "$T/out")" "0.success 1" "the default route (empty domain)"
printf 'example.org:[127.0.0.1]:%s\n' "$P" > "$L/control/smtproutes"
rd "$T/m2" -- example.org a@client.example d@example.org
is "$RC.$(cut -d' ' -f1,2 "$T/out")" "0.success 1" "a relay as an address literal [127.0.0.1]"

# a relay that refuses connections: deferred
DEAD=$(free_port)
printf 'example.org:127.0.0.1:%s\n' "$DEAD" > "$L/control/smtproutes"
rd "$T/m2" -- example.org a@client.example d@example.org
is "$(cat "$T/out")" "deferral 1 no host took the message: [127.0.0.1]: connection refused" "a relay refusing connections: deferral, saying so"
# a relay name without an address: deferred (the administrator's mistake, not the sender's)
printf 'nameserver 127.0.0.1\n' > "$T/resolv"
DNSP=$(free_port udp)
start_bg dnsmasq -k -C /dev/null --pid-file= --port="$DNSP" --listen-address=127.0.0.1 --bind-interfaces \
  --no-resolv --no-hosts --local=/example/ 2>"$T/dnsmasq.err"
wait_listen "$DNSP" udp
printf 'example.org:nowhere.example:%s\n' "$P" > "$L/control/smtproutes"
DNSCACHEIP=127.0.0.1:$DNSP rd "$T/m2" -- example.org a@client.example d@example.org
is "$(cat "$T/out")" "deferral 1 no host took the message: nowhere.example: it has no address (DNS)" "a relay name without an address: deferral"
echo "example.org:127.0.0.1:$P" > "$L/control/smtproutes"

# ---- bad usage: 100, the usage line, no recipient line, nothing sent
n=$(ls "$Q"/*.msg | wc -l)
usage() {
  _d=$1; shift
  rd "$T/m2" -- "$@"
  if [ "$RC" = 100 ] && grep -q '^remote-deliver: usage: remote-deliver domain sender rcpt\.\.\.$' "$T/err" && [ ! -s "$T/out" ]; then
    _pass "bad usage: $_d"
  else
    _fail "bad usage: $_d"; diag "exit $RC" "stdout: $(cat "$T/out")" "stderr: $(cat "$T/err")"
  fi
}
usage "no arguments"
usage "a domain only" example.org
usage "no recipient" example.org a@client.example
usage "an empty domain" '' a@client.example u@example.org
usage "a domain with a blank" 'example .org' a@client.example 'u@example .org'
usage "a domain with an @" 'a@example.org' a@client.example 'u@a@example.org'
usage "a recipient at another domain" example.org a@client.example u@example.org v@example.net
usage "a recipient at a domain that only ends the same" example.org a@client.example u@badexample.org
usage "a recipient without a domain" example.org a@client.example postmaster
usage "a recipient with an empty local part" example.org a@client.example @example.org
usage "a recipient with a newline" example.org a@client.example "$(printf 'u\nRCPT TO:<v@example.org>@example.org')"
usage "a sender with a CR" example.org "$(printf 'a\r@client.example')" u@example.org
usage "a sender whose domain has a blank" example.org 'a@client example' u@example.org
usage "an option" -x example.org a@client.example u@example.org
is "$(ls "$Q"/*.msg | wc -l)" "$n" "nothing was sent for any bad usage"

# ---- the message must be a seekable file: a pipe is a temporary failure
printf 'x\n' | SLUICEDIR=$L "$B/remote-deliver" example.org a@client.example u@example.org > "$T/out" 2> "$T/err"
is "$?" 111 "message on a pipe: exit 111"
like "$(cat "$T/err")" '^remote-deliver: fatal: unable to find the message.s start on fd 0 \(it must be a regular file\): ' "... saying why"
is "$(cat "$T/out")" "" "... and no recipient line"

# ---- bad control files: 111, the file named, no line, nothing sent
badcontrol() {
  _d=$1; _file=$2; _want=$3; shift 3
  rd "$T/m2" -- example.org a@client.example u@example.org
  if [ "$RC" = 111 ] && [ ! -s "$T/out" ] && grep -Eq -- "$_want" "$T/err"; then
    _pass "bad control/$_file: $_d"
  else
    _fail "bad control/$_file: $_d"; diag "exit $RC" "stdout: $(cat "$T/out")" "stderr: $(cat "$T/err")"
  fi
  rm -rf "$L/control/$_file"
}
echo abc > "$L/control/timeoutremote"
badcontrol "not a number" timeoutremote "^remote-deliver: fatal: unable to read $L/control/timeoutremote: Invalid argument$"
echo 0 > "$L/control/timeoutconnect"
badcontrol "zero" timeoutconnect "^remote-deliver: fatal: unable to read $L/control/timeoutconnect: Invalid argument$"
echo 3 > "$L/control/timeoutconnect"
echo "-5" > "$L/control/timeoutremote"
badcontrol "negative" timeoutremote "control/timeoutremote: Invalid argument"
echo 3 > "$L/control/timeoutremote"
echo 'mail.example' > "$L/control/outgoingip"
badcontrol "a name, not an address" outgoingip "^remote-deliver: fatal: unable to use $L/control/outgoingip: not an address: mail\.example$"
printf '# routes\nexample.org:127.0.0.1:%s\nexample.net:2001:db8::1\n' "$P" > "$L/control/smtproutes"
badcontrol "an IPv6 relay without brackets, on line 3" smtproutes "^remote-deliver: fatal: unable to use $L/control/smtproutes line 3: not domain:relay or domain:relay:port$"
printf 'example.org:127.0.0.1:99999\n' > "$L/control/smtproutes"
badcontrol "a port out of range" smtproutes "smtproutes line 1: "
mkdir "$L/control/smtproutes"
badcontrol "a directory" smtproutes "^remote-deliver: fatal: unable to read $L/control/smtproutes: "
is "$(ls "$Q"/*.msg | wc -l)" "$n" "nothing was sent with a bad control file"
echo "example.org:127.0.0.1:$P" > "$L/control/smtproutes"

# ---- without control/me: the host name
mv "$L/control/me" "$L/control/me.off"
rd "$T/m2" -- example.org a@client.example u@example.org
is "$RC.$(cut -d' ' -f1,2 "$T/out")" "0.success 1" "without control/me: delivered"
like "$(sed -n 1p "$(ls -t "$Q"/*.msg | head -1)")" "^Received: from $(hostname | sed 's/\./\\./g') " "... saying the host's name in EHLO"
mv "$L/control/me.off" "$L/control/me"

# ---- the man page's example of a message at an offset, run as printed
mandoc -T ascii "$TOP/doc/remote-deliver.8" | col -bx \
  | awk '/^ *\{ dd bs=1234 /{on=1} on{print} on && /queuefile$/{exit}' | sed 's/^ *//' > "$T/ex.sh"
is "$(wc -l < "$T/ex.sh")" 2 "the offset example is in the man page"
mkdir "$T/ex"
{ printf '%01233d\n' 0; printf 'Subject: example\n\nfrom the man page\n'; } > "$T/ex/queuefile"
(cd "$T/ex" && PATH="$B:$PATH" SLUICEDIR=$L sh "$T/ex.sh" > "$T/out" 2> "$T/err")
like "$(cat "$T/out")" '^success 1 \[127\.0\.0\.1\] said: 250 ' "... it runs as printed"
printf 'Subject: example\n\nfrom the man page\n' > "$T/want"
got mx "$(ls "$Q"/*.msg | wc -l)" > "$T/got"
ok "... and sends only what follows byte 1234" cmp "$T/want" "$T/got"
printf 'F\0Tann@example.org\0\0' > "$T/want.env"
ok "... as a bounce" cmp "$T/want.env" "$Q/$(ls "$Q"/*.msg | wc -l).env"
