#!/bin/sh
# pop3-login: the POP3 authorization state through tcpsrv with the real auth-check and pop3d:
# USER/PASS and AUTH PLAIN (python's poplib and raw dialogues), wrong passwords, unknown users
# and domains, the delay and the failure limit, the checkpassword program's exit codes, log
# lines, deadlines, long lines, commands pipelined after the login.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pop3-lib.sh"
plan 55

pop3_setup || exit 1
printf 'Subject: one\n\nhello\n' | deliver "$MA" || exit 1
pop3_start main || exit 1
P0=$PORT
b64() { printf "$1" | base64 -w0; }
L=$T/main.log

# the greeting and CAPA
out=$(pop3py $P0 <<'EOF'
p = connect()
print(p.getwelcome().decode())
print(" ".join(sorted(p.capa().keys())))
p.quit()
EOF
)
like "$out" '^\+OK pop\.example\.org POP3 ready$' "greeting names the host"
like "$out" '^AUTH-RESP-CODE EXPIRE IMPLEMENTATION PIPELINING RESP-CODES SASL TOP UIDL USER$' "CAPA: USER, SASL, RESP-CODES, AUTH-RESP-CODE, PIPELINING, TOP, UIDL"

# USER/PASS with poplib
out=$(pop3py $P0 <<'EOF'
p = login()
print(p.stat())
p.quit()
EOF
)
is "$out" "(1, 23)" "poplib user()/pass_(): logged in, STAT answered by pop3d"
like "$(grep '^auth success' "$L")" '^auth success ip=127\.0\.0\.1 user=alice@example\.com mech=USER$' "log: auth success with address, login, mechanism"
like "$(cat "$L")" 'auth-check: ok 127\.0\.0\.1 alice@example\.com' "auth-check's log line is there too"
like "$(grep '^quit' "$L")" '^quit ip=127\.0\.0\.1 user=alice@example\.com ' "pop3d logs the session's end with the user"

# failures
for case in 'alice@example.com|wrong|wrong password' 'mallory@example.com|alice pw|unknown user' 'alice@example.net|alice pw|unknown domain' 'alice|alice pw|bare user without a default domain'; do
  u=${case%%|*}; rest=${case#*|}; pw=${rest%%|*}; what=${rest#*|}
  out=$(pop3py $P0 "$u" "$pw" <<'EOF'
p = connect()
p.user(sys.argv[2])
try:
    p.pass_(sys.argv[3]); print("accepted")
except poplib.error_proto as e:
    print(e.args[0].decode())
EOF
)
  is "$out" "-ERR [AUTH] authentication failed" "$what: -ERR [AUTH]"
done
like "$(grep '^auth failure' "$L" | head -1)" '^auth failure ip=127\.0\.0\.1 user=alice@example\.com mech=USER code=1$' "log: auth failure with the checkpassword program's code"
like "$(grep '^auth failure' "$L" | sed -n 2p)" ' user=mallory@example\.com ' "log: the unknown user's login"
nok "the password is never logged" grep -q 'alice pw' "$L"

# AUTH PLAIN (RFC 5034)
printf 'AUTH PLAIN %s\r\nSTAT\r\nQUIT\r\n' "$(b64 '\0alice@example.com\0alice pw')" > "$T/in"
out=$(raw $P0 "$T/in")
is "$(printf '%s\n' "$out" | sed 1d)" "$(printf '+OK 1 message\n+OK 1 23\n+OK bye, 1 message left')" "AUTH PLAIN with an initial response, then STAT and QUIT pipelined"
like "$(grep '^auth success' "$L" | tail -1)" ' mech=PLAIN$' "log: mechanism PLAIN"
printf 'AUTH PLAIN\r\n%s\r\nQUIT\r\n' "$(b64 'alice@example.com\0alice@example.com\0alice pw')" > "$T/in"
is "$(raw $P0 "$T/in" | sed 1d | tr '\n' '|')" "+ |+OK 1 message|+OK bye, 1 message left|" "AUTH PLAIN with an empty challenge; an authorization identity equal to the login"
printf 'AUTH PLAIN\r\n*\r\nAUTH PLAIN !!!!\r\nAUTH PLAIN %s\r\nAUTH CRAM-MD5\r\nAUTH\r\nAUTH PLAIN %s\r\nQUIT\r\n' "$(b64 'bob@example.com\0alice@example.com\0alice pw')" "$(b64 '\0alice@example.com\0nope')" > "$T/in"
is "$(raw $P0 "$T/in" | sed 1d | tr '\n' '|')" "+ |-ERR AUTH cancelled|-ERR AUTH response is not base64|-ERR malformed AUTH PLAIN response|-ERR unrecognized authentication mechanism|+OK|PLAIN|.|-ERR [AUTH] authentication failed|+OK bye|" \
  "AUTH: cancelled, bad base64, another authorization identity, unknown mechanism, the list, a wrong password"
out=$(pop3py $P0 <<'EOF'
import base64
p = connect()
r = p._shortcmd("AUTH PLAIN " + base64.b64encode(b"\0alice@example.com\0alice pw").decode())
print(r.decode()); print(p.stat()); p.quit()
EOF
)
is "$out" "$(printf '+OK 1 message\n(1, 23)')" "poplib: AUTH PLAIN then the transaction"

# commands out of place, unknown, too long
printf 'PASS x\r\nSTAT\r\nRETR 1\r\nAPOP alice 0123\r\nSTLS\r\nFOO\r\n%s\r\nQUIT\r\n' "$(head -c 3000 /dev/zero | tr '\0' x)" > "$T/in"
is "$(raw $P0 "$T/in" | sed 1d | tr '\n' '|')" "-ERR send USER first|-ERR log in first|-ERR log in first|-ERR APOP not available|-ERR STLS not available|-ERR unknown command|-ERR line too long|+OK bye|" \
  "PASS before USER, transaction commands, APOP, STLS, unknown, a 3000-byte line: each -ERR, the dialogue stays in step"
printf 'USER alice@example.com\r\nNOOP\r\nPASS alice pw\r\nQUIT\r\n' > "$T/in"
like "$(raw $P0 "$T/in" | sed -n 4p)" '^-ERR send USER first' "USER is forgotten after any other command"
printf 'USER alice@example.com\nPASS alice pw\nQUIT\n' > "$T/in"
is "$(raw $P0 "$T/in" | sed 1d | tr '\n' '|')" "+OK send PASS|+OK 1 message|+OK bye, 1 message left|" "lines ending in LF alone are accepted"
printf 'user alice@example.com\r\npass alice pw\r\nquit\r\n' > "$T/in"
like "$(raw $P0 "$T/in" | sed -n 3p)" '^\+OK 1 message' "commands are case-insensitive"
printf 'USER alice@example.com\r\nPASS alice pw\r\nRETR 1\r\nQUIT\r\n' > "$T/in"
is "$(raw $P0 "$T/in" | sed 1d | tr '\n' '|')" "+OK send PASS|+OK 1 message|+OK 23 octets|Subject: one||hello|.|+OK bye, 1 message left|" \
  "the whole dialogue in one packet: what follows PASS is left for pop3d"
printf 'USER a\r\nX\000Y\r\nQUIT\r\n' > "$T/in"
like "$(raw $P0 "$T/in" | sed -n 3p)" '^-ERR NUL byte' "a NUL in a command line: -ERR"

# too many failures, the delay
pop3_start fail -w 400 -f 2 || exit 1
printf 'USER alice@example.com\r\nPASS a\r\nUSER alice@example.com\r\nPASS b\r\nUSER alice@example.com\r\nPASS alice pw\r\n' > "$T/in"
t0=$(date +%s%N)
out=$(raw $PORT "$T/in")
t1=$(date +%s%N)
is "$(printf '%s\n' "$out" | sed 1d | tr '\n' '|')" "+OK send PASS|-ERR [AUTH] authentication failed|+OK send PASS|-ERR [AUTH] authentication failed; too many failures, closing connection|" \
  "-f 2: the second failure closes the connection; the third try is never read"
ok "-w 400: two failures took at least 400 + 800 ms" test $(( (t1 - t0) / 1000000 )) -ge 1200
like "$(grep '^end' "$T/fail.log")" '^end ip=127\.0\.0\.1 reason=too many failures$' "log: end, too many failures"
is "$(grep -c '^auth failure' "$T/fail.log")" 2 "log: two auth failures"
printf 'USER alice@example.com\r\nPASS a\r\nUSER alice@example.com\r\nPASS alice pw\r\nQUIT\r\n' > "$T/in"
is "$(raw $PORT "$T/in" | sed 1d | tr '\n' '|')" "+OK send PASS|-ERR [AUTH] authentication failed|+OK send PASS|+OK 1 message|+OK bye, 1 message left|" "a right password after a wrong one logs in"
printf 'NOOP\r\n%.0s' $(seq 25) > "$T/in"
out=$(raw $P0 "$T/in")
is "$(printf '%s\n' "$out" | grep -c '^-ERR log in first')" 20 "20 bad commands answered"
like "$(printf '%s\n' "$out" | tail -1)" '^-ERR too many errors, closing connection' "then the connection is closed"

# the checkpassword program's exit codes, through a test double
cat > "$T/cp" <<'EOF'
#!/bin/sh
# checkpassword test double: the login is the exit code, or "hang", or "ok" (runs prog)
cat <&3 > "$CPLOG"
login=$(tr '\000' '\n' < "$CPLOG" | head -1)
case $login in hang) exec sleep 30 ;; ok) exec "$@" ;; *) exit "$login" ;; esac
EOF
chmod +x "$T/cp"
CPLOG=$T/cplog; export CPLOG
pop3_start cp -w 0 -f 9 -t 2 -- "$T/cp" "$B/pop3d" "$MA" || exit 1
for code in 1 2 3 100 111 126; do
  printf 'USER %s\r\nPASS pw\r\nQUIT\r\n' $code > "$T/in"
  case $code in 1|2) want='-ERR [AUTH] authentication failed' ;; *) want='-ERR [SYS/TEMP] temporary failure, try again later' ;; esac
  is "$(raw $PORT "$T/in" | sed -n 3p)" "$want" "checkpassword exit $code: ${want#-ERR }"
done
like "$(od -An -c "$CPLOG" | tr -d ' \n')" '^126\\0pw\\0<[0-9]+\.[0-9]+@pop\.example\.org>\\0$' "fd 3 carried login\\0password\\0<pid.time@host>\\0"
printf 'USER hang\r\nPASS pw\r\nQUIT\r\n' > "$T/in"
is "$(raw $PORT "$T/in" | sed -n 3p)" '-ERR [SYS/TEMP] temporary failure, try again later' "a checkpassword program silent past -t is killed: temporary failure"
like "$(cat "$T/cp.log")" 'did not answer in time' "and a warning logged"
like "$(grep '^auth failure' "$T/cp.log" | tail -1)" ' code=none$' "log: code=none"
printf 'USER ok\r\nPASS pw\r\nSTAT\r\nQUIT\r\n' > "$T/in"
is "$(raw $PORT "$T/in" | sed 1d | tr '\n' '|')" "+OK send PASS|+OK 1 message|+OK 1 23|+OK bye, 1 message left|" "through the test double, a login runs pop3d"
pop3_start cp2 -w 0 -- "$T/nonexistent" "$B/pop3d" "$MA" || exit 1
printf 'USER a\r\nPASS b\r\nQUIT\r\n' > "$T/in"
is "$(raw $PORT "$T/in" | sed -n 3p)" '-ERR [SYS/TEMP] temporary failure, try again later' "a checkpassword program that cannot run: temporary failure"
pop3_start cp3 -w 0 -- "$T/cp" true || exit 1
printf 'USER ok\r\nPASS b\r\nQUIT\r\n' > "$T/in"
is "$(raw $PORT "$T/in" | sed 1d | tr '\n' '|')" "+OK send PASS|" "a prog that is not pop3d and exits 0: the session is over, nothing more said"
like "$(grep 'tcpsrv: end' "$T/cp3.log")" ' status 0$' "and pop3-login exits 0"

# deadlines
pop3_start slow -t 1 || exit 1
: > "$T/in"
like "$(raw $PORT "$T/in" | tail -1)" '^-ERR timeout, closing connection' "a silent client: -ERR timeout after -t"
like "$(grep '^end' "$T/slow.log")" '^end ip=127\.0\.0\.1 reason=timeout$' "log: end, timeout"
like "$(grep 'tcpsrv: end' "$T/slow.log")" 'status 28416$' "exit 111 on a timeout (tcpsrv logs the wait status)"

# the client goes away
printf 'USER alice@example.com\r\n' > "$T/in"
n0=$(grep -c 'tcpsrv: end .* status 0' "$L")
"$PY" -c 'import socket,sys; s=socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.recv(100); s.sendall(b"USER x\r\n"); s.recv(100); s.close()' $P0
wait_for 3 test "$(grep -c 'tcpsrv: end .* status 0' "$L")" -gt "$n0"
ok "a client that leaves during the login: exit 0" test "$(grep -c 'tcpsrv: end .* status 0' "$L")" -gt "$n0"

# bad usage
is_rc 100 "no host: usage, exit 100" "$B/pop3-login"
is_rc 100 "no checkpassword program: exit 100" "$B/pop3-login" pop.example.org
is_rc 100 "a malformed -t: exit 100" "$B/pop3-login" -t 1x pop.example.org true
is_rc 100 "-f 0: exit 100" "$B/pop3-login" -f 0 pop.example.org true
like "$(cat "$T/err")" '^pop3-login: usage: pop3-login ' "the usage line"

# the man page's example by hand works as printed
sed -n '/^A login by hand/,/^\.Ed/p' "$TOP/doc/pop3-login.8" | sed '1,2d;$d' | sed 's/\\e/\\/g' > "$T/example.sh"
mkdir -p "$T/ex/Maildir/new" "$T/ex/Maildir/cur" "$T/ex/Maildir/tmp"
printf 'Subject: x\n\n' > "$T/ex/Maildir/new/1.x"
like "$(cd "$T/ex" && PATH=$B:$PATH sh "$T/example.sh" 2>/dev/null | tr -d '\r' | tr '\n' '|')" '^\+OK pop\.example\.com POP3 ready\|\+OK send PASS\|\+OK 1 message\|\+OK 1 14\|\+OK bye' "pop3-login(8): the example by hand works as printed"
