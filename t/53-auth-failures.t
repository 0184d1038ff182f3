#!/bin/sh
# auth-check: failed logins slowed and then refused per client address, across connections
# and processes, the state shared by every auth-check in $SLUICEDIR/authfail (SMTP AUTH and
# POP3 alike call auth-check). Tiny control values (a few ms of delay, 3 failures); the
# assertions are on exit codes and log lines, never on the clock.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd-lib.sh"
plan 31

chmod 755 "$T"
export SLUICEDIR="$T/sluice"
mkdir -p "$SLUICEDIR/control"
C=$SLUICEDIR/control
echo 'yescrypt 1' > "$C/passwordhash"
"$B/mail-user" adddomain -u nobody example.com
echo 'alice pw' | "$B/mail-user" adduser alice@example.com
echo 3 > "$C/authfailmax"
echo 3600 > "$C/authfailwindow"
echo 5 > "$C/authfaildelay"

# ac IP LOGIN PASSWORD: auth-check for a client at IP (-w 0: no base delay); $T/err its log
ac() {
  printf '%s\0%s\0\0' "$2" "$3" | TCPREMOTEIP=$1 "$B/auth-check" -w 0 sh -c 'echo ran' 3<&0 >"$T/out" 2>"$T/err"
}

ac 192.0.2.7 alice@example.com wrong1; is "$?" 1 "a first wrong password: 1"
is "$(cat "$T/err")" "auth-check: reject 192.0.2.7 alice@example.com badpassword failures=1 delay=0ms" "logged: the first failure, no delay added"
ac 192.0.2.7 alice@example.com wrong2; is "$?" 1 "a second, in another process (another connection)"
is "$(cat "$T/err")" "auth-check: reject 192.0.2.7 alice@example.com badpassword failures=2 delay=5ms" "the count goes on across processes, the delay grows"
ac 192.0.2.7 nobody@example.com wrong3; is "$?" 1 "a third, for another login"
is "$(cat "$T/err")" "auth-check: reject 192.0.2.7 nobody@example.com nouser failures=3 delay=10ms" "counted per address, whatever the login"
ac 192.0.2.7 alice@example.com 'alice pw'; is "$?" 1 "then even the right password is refused"
is "$(cat "$T/out")" "" "prog did not run"
is "$(cat "$T/err")" "auth-check: reject 192.0.2.7 alice@example.com blocked failures=4 delay=15ms" "logged as blocked, with the address"
ac 192.0.2.8 alice@example.com 'alice pw'; is "$?" 0 "another address logs in"
is "$(cat "$T/out")" "ran" "and prog runs"
ac 192.0.2.8 alice@example.com wrong; is "$?" 1 "its own failures"
like "$(cat "$T/err")" " badpassword failures=1 delay=0ms$" "are its own count"

# IPv6: a /64 is one client
ac 2001:db8::1 alice@example.com w; ac 2001:db8::2 alice@example.com w; ac 2001:db8::3 alice@example.com w
ac 2001:db8::ffff alice@example.com 'alice pw'; is "$?" 1 "IPv6: three failures from three addresses of one /64, then the right password: refused"
like "$(cat "$T/err")" "^auth-check: reject 2001:db8::ffff alice@example\.com blocked failures=4 " "as blocked"
ac 2001:db8:0:1::1 alice@example.com 'alice pw'; is "$?" 0 "another /64 logs in"

# the window: forgotten authfailwindow seconds after the last failure
echo 1 > "$C/authfailwindow"
sleep 2
ac 192.0.2.7 alice@example.com 'alice pw'; is "$?" 0 "a second past the window, the address logs in again"
ac 192.0.2.7 alice@example.com wrong; like "$(cat "$T/err")" " failures=1 delay=0ms$" "its count starts afresh"
echo 3600 > "$C/authfailwindow"

# authfailmax 0: slowed, never refused; authfaildelay 0: not slowed either
echo 0 > "$C/authfailmax"
for i in 1 2 3 4; do ac 192.0.2.9 alice@example.com wrong; done
like "$(cat "$T/err")" " badpassword failures=4 delay=15ms$" "authfailmax 0: counted and slowed"
ac 192.0.2.9 alice@example.com 'alice pw'; is "$?" 0 "and never refused"
echo 0 > "$C/authfaildelay"
ac 192.0.2.9 alice@example.com wrong; like "$(cat "$T/err")" " failures=5 delay=0ms$" "authfaildelay 0: no growing delay"
echo 3 > "$C/authfailmax"; echo 5 > "$C/authfaildelay"

# twenty at once from one address: the lock loses none
echo 0 > "$C/authfailmax"
i=0; while [ $i -lt 20 ]; do
  printf 'alice@example.com\0wrong\0\0' | TCPREMOTEIP=198.51.100.1 "$B/auth-check" -w 0 true 3<&0 2>/dev/null &
  i=$((i+1))
done
wait
ac 198.51.100.1 alice@example.com wrong
like "$(cat "$T/err")" " failures=21 delay=" "20 failures at once, then one more: the 21st (none lost)"
echo 3 > "$C/authfailmax"

# the state file: small, shared, never followed through a link; trouble with it fails closed
ok "the state is \$SLUICEDIR/authfail, mode 0660" test "$(stat -c %a "$SLUICEDIR/authfail")" = 660
ok "at most 4096 slots of 32 bytes" test "$(stat -c %s "$SLUICEDIR/authfail")" -le 131072
mv "$SLUICEDIR/authfail" "$T/af.saved"
mkdir "$SLUICEDIR/authfail"
ac 192.0.2.8 alice@example.com 'alice pw'; is "$?" 111 "a state file that cannot be opened: 111, not a login without limits"
like "$(cat "$T/err")" "^auth-check: fatal: unable to open $SLUICEDIR/authfail: " "says so"
rmdir "$SLUICEDIR/authfail"; ln -s "$T/af.saved" "$SLUICEDIR/authfail"
ac 192.0.2.8 alice@example.com 'alice pw'; is "$?" 111 "a symbolic link there: 111"
rm "$SLUICEDIR/authfail"; mv "$T/af.saved" "$SLUICEDIR/authfail"
echo many > "$C/authfailmax"
ac 192.0.2.8 alice@example.com 'alice pw'; is "$?" 111 "a malformed control file: 111"
echo 3 > "$C/authfailmax"
printf 'alice@example.com\0wrong\0\0' | "$B/auth-check" -w 0 true 3<&0 2>"$T/err"
is "$(cat "$T/err")" "auth-check: reject - alice@example.com badpassword" "no client address (not from the network): nothing counted"

# through SMTP AUTH, one connection per attempt, as a guessing client would
smtpd_setup
echo 3 > "$C/authfailmax"; echo 3600 > "$C/authfailwindow"; echo 5 > "$C/authfaildelay"
smtpd_start auth -- "$B/auth-check" -w 0 true || exit 1
for p in a b c 'alice pw'; do
  swaks --server 127.0.0.1 --port $PORT --from alice@example.com --to x@example.org \
    --auth PLAIN --auth-user alice@example.com --auth-password "$p" > "$T/sw" 2>&1
done
like "$(cat "$T/sw")" '<\*\* +535 5\.7\.8' "SMTP: after three wrong passwords in three connections, the right one gets 535"
like "$(grep '^auth-check: reject' "$T/auth.log" | tail -1)" '^auth-check: reject 127\.0\.0\.1 alice@example\.com blocked failures=4 ' "and auth-check's log line says blocked, with the address"
