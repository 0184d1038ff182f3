#!/bin/sh
# smtpd: hostile and broken input as raw bytes over loopback TCP: SMTP smuggling end-of-data
# variants, bare CR and LF, NUL bytes, over-long lines, timeouts, clients that vanish,
# pipelining in one packet, web requests. The capturing queue of t/smtpd-lib.sh shows what
# was (not) queued.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd-lib.sh"
plan 26

smtpd_setup
C=$SLUICEDIR/control
smtpd_start input || exit 1
P=$PORT
HEAD='EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n'
SMUG='MAIL FROM:<evil@remote.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nsmuggled\r\n.\r\n'

# smuggling: every non-CRLF end of data is refused and the connection closed, so the commands
# after it are never run and nothing is queued
n=0
for end in '\n.\n' '\r.\n' '\n.\r\n' '\r\n.\n' '\r\n.\r' '\r.\r'; do
  n=$((n+1))
  qq_clear
  printf "${HEAD}Subject: smuggle\r\n\r\nbody${end}${SMUG}QUIT\r\n" > "$T/in"
  out=$(raw $P "$T/in")
  last=$(printf '%s\n' "$out" | tail -1)
  case $last in "554 5.6.0 bare "*) r=ok ;; *) r="last reply: $last" ;; esac
  [ "$(qq_count)" = 0 ] || r="$r; queued $(qq_count)"
  printf '%s\n' "$out" | grep -q '^250 2.0.0 ok' && r="$r; a message was accepted"
  is "$r" ok "smuggling end of data $(printf %s "$end" | sed 's/\\r/CR/g; s/\\n/LF/g; s/\.$/ ./; s/^\./. /'): 554, closed, nothing queued"
done
like "$(grep '^reject' "$T/input.log" | tail -1)" '^reject ip=127\.0\.0\.1 code=554 from=<a@remote\.example> reason=bare CR' "log: the smuggling attempt is a reject with the reason"

# the real end of data after text that only looks like an end
qq_clear
printf "${HEAD}x\r\n..\r\n. \r\n.x\r\n.\r\nQUIT\r\n" > "$T/in"
out=$(raw $P "$T/in")
like "$out" '^250 2.0.0 ok' "lines '..', '. ', '.x' are text; CRLF.CRLF ends the data"
printf 'x\n.\n \nx\n' > "$T/want"
tail -n +4 "$(qq_last)/msg" > "$T/got"
ok "dot-stuffed lines stored unstuffed" cmp "$T/want" "$T/got"

# bare LF ends a command line (as qmail-smtpd); bare CR and NUL in a command are refused
printf 'EHLO x\nNOOP\nNO\rOP\r\nRCPT TO:<u@example.org>\000@evil.example\r\nNOOP\r\nQUIT\n' > "$T/in"
out=$(raw $P "$T/in")
is "$(printf '%s\n' "$out" | grep -v '^250-' | cut -c1-9 | tr '\n' ' ')" "220 mx.ex 250 ENHAN 250 2.0.0 500 5.5.2 500 5.5.2 250 2.0.0 221 2.0.0 " "commands: LF-only accepted, bare CR 500, NUL 500, in sync afterwards"

# NUL and 8-bit bytes in the text pass through untouched
qq_clear
printf "${HEAD}Subject: nul\r\n\r\na\000b\377c\r\n.\r\nQUIT\r\n" > "$T/in"
out=$(raw $P "$T/in")
printf 'Subject: nul\n\na\000b\377c\n' > "$T/want"
tail -n +4 "$(qq_last)/msg" > "$T/got"
ok "NUL and 8-bit bytes in the text kept byte for byte" cmp "$T/want" "$T/got"

# over-long command line: refused, the rest of it skipped, the session goes on in sync
"$PY" -c 'import sys; sys.stdout.write("EHLO x\r\nNOOP " + "x" * 5000 + "\r\nNOOP\r\nQUIT\r\n")' > "$T/in"
out=$(raw $P "$T/in")
is "$(printf '%s\n' "$out" | grep -v '^250-' | cut -c1-9 | tr '\n' ' ')" "220 mx.ex 250 ENHAN 500 5.5.2 250 2.0.0 221 2.0.0 " "5000-byte command: 500 line too long, next command answered"
"$PY" -c 'import sys; sys.stdout.write("EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<" + "a" * 300 + "@example.org>\r\nQUIT\r\n")' > "$T/in"
like "$(raw $P "$T/in")" '^501 5.1.3 recipient address too long' "a 312-octet address: 501"

# long text lines are streamed, not refused
qq_clear
"$PY" -c 'import sys; sys.stdout.write("EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\nSubject: long\r\n\r\n" + "z" * 200000 + "\r\n.\r\nQUIT\r\n")' > "$T/in"
out=$(raw $P "$T/in")
like "$out" '^250 2.0.0 ok' "a 200000-byte text line is accepted"
is "$(tail -1 "$(qq_last)/msg" | wc -c)" 200001 "and stored whole"

# PIPELINING: everything in one packet, two messages, replies in order
qq_clear
printf 'EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<u@example.org>\r\nRCPT TO:<v@elsewhere.example>\r\nDATA\r\none\r\n.\r\nMAIL FROM:<b@remote.example>\r\nRCPT TO:<w@example.org>\r\nDATA\r\ntwo\r\n.\r\nQUIT\r\n' > "$T/in"
out=$(raw $P "$T/in")
is "$(printf '%s\n' "$out" | grep -v '^250-' | cut -c1-9 | tr '\n' ' ')" "220 mx.ex 250 ENHAN 250 2.1.0 250 2.1.5 553 5.7.1 354 go ah 250 2.0.0 250 2.1.0 250 2.1.5 354 go ah 250 2.0.0 221 2.0.0 " "a whole session in one write: every reply, in order"
is "$(qq_count)" 2 "both pipelined messages queued"

# a web request
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' > "$T/in"
like "$(raw $P "$T/in" | tail -1)" '^421 4.7.0 .*not a web server' "HTTP request: 421 and closed"

# a client that vanishes in the middle of the text: nothing queued
qq_clear
printf "${HEAD}Subject: cut\r\n\r\npartial text" > "$T/in"
raw $P "$T/in" > /dev/null &
sleep 0.5
kill $! 2>/dev/null; wait $! 2>/dev/null
sleep 0.5
is "$(qq_count)" 0 "client gone in the middle of DATA: nothing queued"

# timeouts: control/timeoutsmtpd on every read, in commands and in DATA
echo 1 > "$C/timeoutsmtpd"
: > "$T/in"
start=$(date +%s)
out=$(raw $P "$T/in")
end=$(date +%s)
like "$out" '^421 4.4.2 mx.example.org timeout' "an idle client gets 421 4.4.2 after timeoutsmtpd"
ok "within 1-4 s" test $((end - start)) -le 4
qq_clear
printf "${HEAD}Subject: slow\r\n\r\nand then nothing" > "$T/in"
out=$(raw $P "$T/in")
like "$out" '421 4.4.2' "a client silent in the middle of DATA times out"
is "$(qq_count)" 0 "the timed-out message is not queued"
like "$(grep '^end' "$T/input.log" | tail -1)" '^end ip=127\.0\.0\.1 reason=timeout' "log: end with reason timeout"
rm -f "$C/timeoutsmtpd"

# configuration errors: 421, never a guess
echo 12x > "$C/databytes"
printf 'QUIT\r\n' > "$T/in"
like "$(raw $P "$T/in")" '^421 4.3.0 unable to read the configuration' "malformed control/databytes: 421 4.3.0"
# (an earlier session may still be writing its end line: look for the line, not at the last)
wait_for 5 grep -q '^smtpd: fatal: unable to read .*/control/databytes' "$T/input.log"
like "$(grep '^smtpd: fatal' "$T/input.log" | tail -1)" '^smtpd: fatal: unable to read .*/control/databytes' "and a fatal line naming the file"
rm -f "$C/databytes"
