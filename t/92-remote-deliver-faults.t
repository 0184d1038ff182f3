#!/bin/sh
# remote-deliver against servers that misbehave on purpose (t/fakesmtp.py), each the MX of
# its own domain in dnsmasq, some with a real sluice instance as the second MX: the bytes on
# the wire (CR LF, dot-stuffing, SIZE), PIPELINING or not, HELO fallback, 8BITMIME, SMTPUTF8,
# 4xx/5xx/421 to each command, a drop or a hang at each stage (never success without the
# final 250; the next host only before the end of the data), SIZE refusal, bad greetings.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/remote-lib.sh"
command -v dnsmasq >/dev/null || skip_all "dnsmasq not installed"
plan 48

echo 2 > "$L/control/timeoutremote"
P=$(free_port)
echo "::$P" > "$L/control/smtproutes"
mx_start good 127.0.0.3 "$P" || exit 1

# sc NAME ADDR FALLBACK KEY=VALUE...: NAME.example has the MX mx.NAME.example (ADDR, a fake
# server configured by the keys, logging to $T/NAME.log), and good.example (the sluice
# instance) as its second MX when FALLBACK is "good"
FAKE=""
DNS="--mx-host=good.example,good.example,10 --address=/good.example/127.0.0.3"
sc() {
  _n=$1; _a=$2; _f=$3; shift 3
  FAKE="$FAKE addr=$_a log=$T/$_n.log"
  for _k in "$@"; do FAKE="$FAKE $(_q "$_k")"; done
  DNS="$DNS --mx-host=$_n.example,mx.$_n.example,10 --address=/mx.$_n.example/$_a"
  [ "$_f" = good ] && DNS="$DNS --mx-host=$_n.example,good.example,20"
}
_q() { printf "'%s'" "$(printf %s "$1" | sed "s/'/'\\\\''/g")"; }

sc w        127.0.0.10 -
sc np       127.0.0.11 - ehlo='250-fake.example|250 8BITMIME'
sc helo     127.0.0.12 - ehlo='502 5.5.1 no EHLO here'
sc nohelo   127.0.0.13 - ehlo='500 5.5.1 what' helo='550 5.7.1 go away'
sc seven    127.0.0.14 - ehlo='250-fake.example|250 PIPELINING'
sc rcpt     127.0.0.15 - 'rcpt:b@rcpt.example=450 4.2.1 mailbox busy' "rcpt:c@rcpt.example=550-5.1.1 no such user|550 5.1.1 see	you"
sc allbad   127.0.0.16 - rcpt='550 5.1.1 nobody here'
sc mail5    127.0.0.17 - mail='553 5.7.1 sender refused'
sc mail4    127.0.0.18 - mail='451 4.3.0 try later'
sc mail421  127.0.0.19 good mail='421 4.3.2 shutting down'
sc data5    127.0.0.20 - data='554 5.6.0 no thanks'
sc end5     127.0.0.21 - end='554 5.7.1 looks like spam'
sc end4     127.0.0.22 - end='451 4.3.0 disk full'
sc enddrop  127.0.0.23 good end=drop
sc endhang  127.0.0.24 - end=hang
sc middrop  127.0.0.25 good datadrop=3000
sc size     127.0.0.26 - ehlo='250-fake.example|250-PIPELINING|250 SIZE 20'
sc greet554 127.0.0.27 good greet='554 5.7.1 go away'
sc greet421 127.0.0.28 - greet='421 4.3.2 busy'
sc rcpt421  127.0.0.29 good rcpt='421 4.4.2 closing'
sc mailhang 127.0.0.30 good mail=hang
sc garbage  127.0.0.31 - greet='hello there'
sc ehlodrop 127.0.0.32 - ehlo=drop

eval "start_bg \"\$PY\" \"\$TOP/t/fakesmtp.py\" port=$P $FAKE" > "$T/fake.port" 2> "$T/fake.err"
wait_for 5 test -s "$T/fake.port" || { diag "fakesmtp did not start: $(cat "$T/fake.err")"; exit 1; }
DP=$(free_port udp)
start_bg dnsmasq -k -C /dev/null --pid-file= --port="$DP" --listen-address=127.0.0.1 --bind-interfaces \
  --no-resolv --no-hosts --local=/example/ $DNS 2>"$T/dnsmasq.err"
wait_listen "$DP" udp || diag "$(cat "$T/dnsmasq.err")"
export DNSCACHEIP=127.0.0.1:$DP
good() { ls "$T/good/q/"*.msg 2>/dev/null | wc -l; }

# ---- the wire: one pipelined write, CR LF, dot-stuffing, the tail after the offset, SIZE
printf 'JUNK\n' > "$T/m1"
printf 'Subject: w\n\n.\n..x\nline\r\ncr\rend\n' >> "$T/m1"
printf 'Subject: w\r\n\r\n..\r\n...x\r\nline\r\ncr\r\nend\r\n.\r\n' > "$T/wire1"
SIZE=$(( $(wc -c < "$T/wire1") - 3 - 2 ))
rd "$T/m1" 5 -- w.example a@client.example u1@w.example u2@w.example
is "$RC.$(cat "$T/out")" "0.success 1 mx.w.example[127.0.0.10] said: 250 2.0.0 queued
success 2 mx.w.example[127.0.0.10] said: 250 2.0.0 queued" "a plain delivery: a line per recipient with the host, address and words"
ok "the data on the wire: CR LF, dots doubled, a lone CR a line end, the final dot" cmp "$T/wire1" "$T/w.log.1"
ok "PIPELINING: MAIL, both RCPT and DATA came in one read" grep -qx 'recv MAIL RCPT RCPT DATA' "$T/w.log"
ok "EHLO with control/me" grep -qx 'cmd EHLO client.example' "$T/w.log"
ok "SIZE offered: MAIL says the size as sent ($SIZE)" grep -qx "cmd MAIL FROM:<a@client.example> SIZE=$SIZE" "$T/w.log"
is "$(grep '^cmd' "$T/w.log" | tail -1)" "cmd QUIT" "a QUIT at the end"

printf 'Subject: 8bit\n\nGr\303\274\303\237e\n' > "$T/m8"
printf 'Subject: 8bit\r\n\r\nGr\303\274\303\237e\r\n.\r\n' > "$T/wire8"
rd "$T/m8" -- w.example a@client.example u1@w.example
SIZE8=$(( $(wc -c < "$T/wire8") - 3 ))
ok "8-bit text to a server with 8BITMIME: BODY=8BITMIME" grep -qx "cmd MAIL FROM:<a@client.example> SIZE=$SIZE8 BODY=8BITMIME" "$T/w.log"
rd "$T/m8" -- seven.example a@client.example u1@seven.example
is "$(cut -d' ' -f1,2 "$T/out")" "success 1" "8-bit text to a server without 8BITMIME: sent as it is"
ok "... no BODY parameter" grep -qx 'cmd MAIL FROM:<a@client.example>' "$T/seven.log"
ok "... the 8-bit bytes unchanged on the wire" cmp "$T/wire8" "$T/seven.log.1"

# ---- without PIPELINING: one command at a time; HELO when EHLO is refused
rd "$T/m1" 5 -- np.example a@client.example u1@np.example u2@np.example
is "$(cut -d' ' -f1,2 "$T/out" | tr '\n' ' ')" "success 1 success 2 " "no PIPELINING: delivered"
is "$(grep '^recv' "$T/np.log" | tr '\n' ' ')" "recv EHLO recv MAIL recv RCPT recv RCPT recv DATA recv QUIT " "... each command in its own read"
ok "... no SIZE parameter when SIZE is not offered" grep -qx 'cmd MAIL FROM:<a@client.example>' "$T/np.log"
rd "$T/m8" -- helo.example a@client.example u1@helo.example
is "$(cut -d' ' -f1,2 "$T/out")" "success 1" "EHLO refused: HELO, delivered"
is "$(grep '^cmd' "$T/helo.log" | cut -c5- | tr '\n' '|')" "EHLO client.example|HELO client.example|MAIL FROM:<a@client.example>|RCPT TO:<u1@helo.example>|DATA|QUIT|" "... HELO after EHLO, no ESMTP parameter"
rd "$T/m1" -- nohelo.example a@client.example u1@nohelo.example
is "$(cat "$T/out")" "deferral 1 no host took the message: mx.nohelo.example[127.0.0.13] said: 550 5.7.1 go away (in reply to HELO)" "EHLO and HELO refused: deferral with the server's words"
ok "... and a QUIT" grep -qx 'cmd QUIT' "$T/nohelo.log"

# ---- replies to RCPT, MAIL, DATA and the end of the data
rd "$T/m1" -- rcpt.example a@client.example a@rcpt.example b@rcpt.example c@rcpt.example
is "$RC" 0 "4xx and 5xx to RCPT: exit 0"
is "$(sort "$T/out")" "deferral 2 mx.rcpt.example[127.0.0.15] said: 450 4.2.1 mailbox busy (in reply to RCPT TO)
failure 3 mx.rcpt.example[127.0.0.15] said: 550-5.1.1 no such user / 550 5.1.1 see?you (in reply to RCPT TO)
success 1 mx.rcpt.example[127.0.0.15] said: 250 2.0.0 queued" "4xx to RCPT defers that recipient, 5xx fails it (lines joined, control bytes replaced)"
rd "$T/m1" -- allbad.example a@client.example a@allbad.example b@allbad.example
is "$(cut -d' ' -f1,2 "$T/out" | tr '\n' ' ')" "failure 1 failure 2 " "every RCPT refused: every recipient fails"
printf '.\r\n' > "$T/dot"
ok "... and the DATA the server took anyway got nothing but the final dot" cmp "$T/dot" "$T/allbad.log.1"
rd "$T/m1" -- mail5.example a@client.example a@mail5.example b@mail5.example
is "$(cat "$T/out")" "failure 1 mx.mail5.example[127.0.0.17] said: 553 5.7.1 sender refused (in reply to MAIL FROM)
failure 2 mx.mail5.example[127.0.0.17] said: 553 5.7.1 sender refused (in reply to MAIL FROM)" "5xx to MAIL: every recipient fails"
is "$(grep -c '^data' "$T/mail5.log")" 1 "... only the final dot went (the server took DATA anyway)"
rd "$T/m1" -- mail4.example a@client.example a@mail4.example b@mail4.example
is "$(cut -d' ' -f1,2 "$T/out" | tr '\n' ' ')" "deferral 1 deferral 2 " "4xx to MAIL: every recipient deferred"
rd "$T/m1" -- data5.example a@client.example a@data5.example
is "$(cat "$T/out")" "failure 1 mx.data5.example[127.0.0.20] said: 554 5.6.0 no thanks (in reply to DATA)" "5xx to DATA: failure"
rd "$T/m1" -- end5.example a@client.example a@end5.example b@end5.example
is "$(cat "$T/out")" "failure 1 mx.end5.example[127.0.0.21] said: 554 5.7.1 looks like spam (in reply to the end of the data)
failure 2 mx.end5.example[127.0.0.21] said: 554 5.7.1 looks like spam (in reply to the end of the data)" "5xx after the data: failure"
rd "$T/m1" -- end4.example a@client.example a@end4.example
is "$(cat "$T/out")" "deferral 1 mx.end4.example[127.0.0.22] said: 451 4.3.0 disk full (in reply to the end of the data)" "4xx after the data: deferral"

# ---- a drop or a hang after the data: deferred, never success, never the next host
n=$(good)
rd "$T/m1" -- enddrop.example a@client.example a@enddrop.example
is "$RC.$(cat "$T/out")" "0.deferral 1 mx.enddrop.example[127.0.0.23]: no reply to the end of the data: connection closed (after the whole message was sent; it may arrive twice)" "the connection dropped after the data: deferral"
is "$(good)" "$n" "... and the next MX was not tried"
rd "$T/m1" -- endhang.example a@client.example a@endhang.example
is "$(cat "$T/out")" "deferral 1 mx.endhang.example[127.0.0.24]: no reply to the end of the data: timed out (after the whole message was sent; it may arrive twice)" "no reply after the data: deferral at the deadline"

# ---- a drop during the data: the next MX gets the whole message again (read again from the
# offset). The message is larger than the socket buffers can hold, so that the drop comes
# before the end of the data.
"$PY" - "$T/big" "$T/wantbig" <<'EOF'
import sys
head = b"h" * 777 + b"\n"
body = b"".join(b"%s%d %s\n" % (b"." if i % 5 == 0 else b"", i, b"z" * (i % 70)) for i in range(200000))
open(sys.argv[1], "wb").write(head + body)
open(sys.argv[2], "wb").write(body)
EOF
rd "$T/big" 778 -- middrop.example a@client.example a@middrop.example
like "$(cat "$T/out")" '^success 1 good\.example\[127\.0\.0\.3\] said: 250 ' "a large message, dropped during the data: the next MX delivers"
got good "$(good)" > "$T/gotbig"
ok "... byte for byte, from the offset" cmp "$T/wantbig" "$T/gotbig"
ok "... after the first had received part of it" grep -q '^data dropped after' "$T/middrop.log"

# ---- SIZE: a message over the server's limit fails before MAIL
rd "$T/m1" 5 -- size.example a@client.example a@size.example
is "$(cat "$T/out")" "failure 1 mx.size.example[127.0.0.26] takes messages of at most 20 bytes (SIZE); this one has $SIZE" "too big for the server's SIZE: failure"
is "$(grep '^cmd' "$T/size.log" | cut -c5- | tr '\n' '|')" "EHLO client.example|QUIT|" "... no MAIL sent, a clean QUIT"
printf 'Subject: s\n\nok\n' > "$T/tiny"
rd "$T/tiny" -- size.example a@client.example a@size.example
is "$(cut -d' ' -f1,2 "$T/out")" "success 1" "... a message under the limit goes"

# ---- greetings, 421, hangs before the data: the next host
rd "$T/m1" -- greet554.example a@client.example a@greet554.example
like "$(cat "$T/out")" '^success 1 good\.example\[127\.0\.0\.3\] ' "a 554 greeting: the next MX delivers"
is "$(grep '^cmd' "$T/greet554.log" | cut -c5-)" "QUIT" "... the first one only got QUIT"
rd "$T/m1" -- greet421.example a@client.example a@greet421.example
is "$(cat "$T/out")" "deferral 1 no host took the message: mx.greet421.example[127.0.0.28] said: 421 4.3.2 busy (greeting)" "a 421 greeting from the only host: deferral"
rd "$T/m1" -- garbage.example a@client.example a@garbage.example
is "$(cat "$T/out")" "deferral 1 no host took the message: mx.garbage.example[127.0.0.31]: malformed greeting" "a greeting that is not SMTP: deferral"
rd "$T/m1" -- ehlodrop.example a@client.example a@ehlodrop.example
is "$(cat "$T/out")" "deferral 1 no host took the message: mx.ehlodrop.example[127.0.0.32]: no reply to EHLO: connection closed" "dropped after EHLO: deferral"
rd "$T/m1" -- mail421.example a@client.example a@mail421.example b@mail421.example
is "$(cut -d' ' -f1-3 "$T/out" | tr '\n' ' ')" "success 1 good.example[127.0.0.3] success 2 good.example[127.0.0.3] " "421 to MAIL: the next MX delivers"
rd "$T/m1" 5 -- rcpt421.example a@client.example a@rcpt421.example
like "$(cat "$T/out")" '^success 1 good\.example\[127\.0\.0\.3\] ' "421 to RCPT: the next MX delivers"
printf 'Subject: w\n\n.\n..x\nline\ncr\nend\n' > "$T/want1"
got good "$(good)" > "$T/got1"
ok "... byte for byte" cmp "$T/want1" "$T/got1"
rd "$T/m1" -- mailhang.example a@client.example a@mailhang.example
like "$(cat "$T/out")" '^success 1 good\.example\[127\.0\.0\.3\] ' "no reply to MAIL: the next MX delivers after the deadline"

# ---- SMTPUTF8 needed but not offered: those recipients fail, the others go
rd "$T/m1" -- w.example a@client.example "$(printf 'm\303\274ller@w.example')" plain@w.example
is "$(cat "$T/out")" "failure 1 mx.w.example[127.0.0.10] does not offer SMTPUTF8, which a non-ASCII address needs
success 2 mx.w.example[127.0.0.10] said: 250 2.0.0 queued" "a UTF-8 recipient to a server without SMTPUTF8 fails, the other is delivered"
ok "... the UTF-8 one was not sent" test "$(grep -c "$(printf 'm\303\274ller')" "$T/w.log")" = 0
rd "$T/m1" -- w.example "$(printf 'j\303\266rg@client.example')" plain@w.example
is "$(cut -d' ' -f1,2 "$T/out")" "failure 1" "a UTF-8 sender to a server without SMTPUTF8: every recipient fails"
