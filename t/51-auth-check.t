#!/bin/sh
# auth-check: the checkpassword interface on fd 3: login forms, good, bad, unknown and
# disabled users, the privilege drop seen from prog, the log line, bad input, exit codes.
. "$(dirname "$0")/lib.sh"
plan 67

chmod 755 "$T"
export SLUICEDIR="$T/sluice"
mkdir -p "$SLUICEDIR/control"
echo 'yescrypt 1' > "$SLUICEDIR/control/passwordhash"
# failures from one address are counted (t/53 tests that): here never refused, never slower
echo 0 > "$SLUICEDIR/control/authfailmax"
echo 0 > "$SLUICEDIR/control/authfaildelay"
MU="$B/mail-user"
NOBODY=$(id -u nobody)
NOGROUP=$(id -g nobody)
"$MU" adddomain -u nobody example.com
"$MU" aliasdomain example.net example.com
"$MU" adddomain -u nobody example.org
echo 'alice pw' | "$MU" adduser alice@example.com
echo 'bob pw' | "$MU" adduser bob@example.com
echo 'other pw' | "$MU" adduser alice@example.org
"$MU" disable bob@example.com
"$MU" forward info@example.com alice@example.com

# ac INPUT [OPTIONS...]: auth-check reading INPUT (printf format) on fd 3; prog prints its view
ac() {
  _in=$1; shift
  printf "$_in" | TCPREMOTEIP=192.0.2.7 "$B/auth-check" -w 0 "$@" \
    sh -c 'echo "$(id -u) $(id -g) $(id -G) $PWD $USER $HOME $MAILDIR $AUTHUSER $AUTHDOMAIN"' 3<&0 >"$T/out" 2>"$T/err"
}
H=$SLUICEDIR/domains/example.com/alice

ac 'alice@example.com\0alice pw\0<123.456@host>\0'; is "$?" 0 "user@domain with the right password"
is "$(cat "$T/out")" "$NOBODY $NOGROUP $NOGROUP $H alice@example.com $H $H/Maildir alice example.com" \
  "prog runs as the domain's uid and gid only, in HOME, with USER HOME MAILDIR AUTHUSER AUTHDOMAIN"
is "$(cat "$T/err")" "auth-check: ok 192.0.2.7 alice@example.com" "a success is logged"
# -n (SMTP AUTH): the check alone; prog runs as the caller, where it was (here uid 4249, which
# reads the users database and writes authfail through their group, as smtpd's user does)
chgrp 4249 "$SLUICEDIR/users" "$SLUICEDIR/users/cdb"; chmod g+rx "$SLUICEDIR/users"; chmod g+r "$SLUICEDIR/users/cdb"
touch "$SLUICEDIR/authfail"; chgrp 4249 "$SLUICEDIR/authfail"; chmod 660 "$SLUICEDIR/authfail"
printf 'alice@example.com\0alice pw\0\0' | (cd / && TCPREMOTEIP=192.0.2.7 setpriv --reuid=4249 --regid=4249 --clear-groups "$B/auth-check" -n -w 0 \
  sh -c 'echo "$(id -u) $PWD $USER $MAILDIR"') 3<&0 >"$T/out" 2>"$T/err"
is "$?:$(cat "$T/out")" "0:4249 / alice@example.com $H/Maildir" "-n: checked, prog runs as the caller in its directory, with USER and MAILDIR set"
printf 'alice@example.com\0wrong\0\0' | (cd / && TCPREMOTEIP=192.0.2.7 setpriv --reuid=4249 --regid=4249 --clear-groups "$B/auth-check" -n -w 0 true) 3<&0 >"$T/out" 2>"$T/err"
is "$?" 1 "-n: a wrong password is still refused"
ac 'alice%%example.com\0alice pw\0\0'; is "$?" 0 "user%domain"
ac 'Alice@EXAMPLE.com\0alice pw\0\0'; is "$?" 0 "the login's case does not matter"
ac 'alice@example.net\0alice pw\0\0'; is "$?" 0 "an alias domain"
like "$(cat "$T/out")" " alice@example.com .* alice example.com$" "gives the real domain"
ac 'alice@example.org\0other pw\0\0'; is "$?" 0 "the same name in another domain is another user"
like "$(cat "$T/out")" " alice@example.org " "USER says which"
ac 'alice@example.com\0alice pw\0'; is "$?" 0 "the timestamp may be missing"
ac 'alice\0alice pw\0\0' -d example.com; is "$?" 0 "a bare user with -d"
ac 'alice\0alice pw\0\0'; is "$?" 1 "a bare user without a default domain names no one"
echo example.org > "$SLUICEDIR/control/authdomain"
ac 'alice\0other pw\0\0'; is "$?" 0 "a bare user of control/authdomain"
like "$(cat "$T/out")" " alice@example.org " "is in that domain"
ac 'alice\0alice pw\0\0' -d example.com; is "$?" 0 "-d wins over control/authdomain"
rm "$SLUICEDIR/control/authdomain"

ac 'alice@example.com\0wrong\0\0'; is "$?" 1 "a wrong password: exit 1"
is "$(cat "$T/out")" "" "prog did not run"
like "$(cat "$T/err")" "^auth-check: reject 192\\.0\\.2\\.7 alice@example\\.com badpassword failures=[0-9]+ delay=0ms$" "logged with address, login and reason"
ac 'alice@example.com\0\0\0'; is "$?" 1 "an empty password: exit 1"
ac 'mallory@example.com\0alice pw\0\0'; is "$?" 1 "an unknown user: exit 1"
like "$(cat "$T/err")" "^auth-check: reject 192\\.0\\.2\\.7 mallory@example\\.com nouser failures=[0-9]+ delay=0ms$" "logged as nouser"
ac 'alice@example.edu\0alice pw\0\0'; is "$?" 1 "an unknown domain: exit 1"
ac 'bob@example.com\0bob pw\0\0'; is "$?" 1 "a disabled user with the right password: exit 1"
like "$(cat "$T/err")" "^auth-check: reject 192\\.0\\.2\\.7 bob@example\\.com disabled failures=[0-9]+ delay=0ms$" "logged as disabled"
ac 'info@example.com\0\0\0'; is "$?" 1 "an alias cannot log in"
ac '\0alice pw\0\0'; is "$?" 1 "an empty login: exit 1"
ac '../../etc@example.com\0x\0\0'; is "$?" 1 "a login that is no address: exit 1"
ac 'a b\001c@example.com\0secret-word\0\0'; is "$?" 1 "control characters in the login: exit 1"
like "$(cat "$T/err")" "^auth-check: reject 192\\.0\\.2\\.7 a\\?b\\?c@example\\.com nouser failures=[0-9]+ delay=0ms$" "are not logged as they are"
printf 'alice@example.com\0hunter2-secret\0\0' | "$B/auth-check" -w 0 true 3<&0 2>"$T/err"
nok "the password is never logged" grep -q hunter2 "$T/err"
like "$(cat "$T/err")" "^auth-check: reject - alice@example.com badpassword$" "without TCPREMOTEIP the address is -"

# delay on failure
t0=$(date +%s%N)
printf 'alice@example.com\0wrong\0\0' | "$B/auth-check" -w 400 true 3<&0 2>/dev/null; r=$?
t1=$(date +%s%N)
is "$r" 1 "with -w 400: exit 1"
ok "after at least 400 ms" test $(( (t1 - t0) / 1000000 )) -ge 400
t0=$(date +%s%N)
printf 'alice@example.com\0alice pw\0\0' | "$B/auth-check" -w 3000 true 3<&0 2>/dev/null; r=$?
t1=$(date +%s%N)
is "$r" 0 "a success"
ok "is not delayed" test $(( (t1 - t0) / 1000000 )) -lt 2500

# misuse: exit 2
ac ''; is "$?" 2 "nothing on fd 3: exit 2"
ac 'alice@example.com'; is "$?" 2 "a login without \\0: exit 2"
ac 'alice@example.com\0alice pw'; is "$?" 2 "a password without \\0: exit 2"
like "$(cat "$T/err")" "truncated" "says truncated"
pad=$(printf '%0490d' 0 | tr 0 x)
ac "alice@example.com\\0alice pw\\0$(printf '%.*s' 484 "$pad")\\0"; is "$?" 0 "exactly 512 bytes are accepted"
ac "alice@example.com\\0alice pw\\0$(printf '%.*s' 485 "$pad")\\0"; is "$?" 2 "513 bytes: exit 2"
like "$(cat "$T/err")" "more than 512 bytes" "says so"
head -c 100000 /dev/zero | "$B/auth-check" -w 0 true 3<&0 2>/dev/null; is "$?" 2 "100000 bytes: exit 2"
"$B/auth-check" -w 0 true 3<&- 2>"$T/err"; is "$?" 2 "fd 3 closed: exit 2"
like "$(cat "$T/err")" "descriptor 3 is not open" "says so"
mkfifo "$T/fifo"
start_bg sh -c 'exec >"$1"; printf "alice@example.com\0"; exec sleep 5' sh "$T/fifo"
t0=$(date +%s%N)
"$B/auth-check" -t 1 -w 0 true 3<"$T/fifo" 2>"$T/err"; r=$?
t1=$(date +%s%N)
stop_pid "$BGPID"
is "$r" 2 "fd 3 never closed: exit 2 at the deadline"
ok "after about -t 1 second" test $(( (t1 - t0) / 1000000 )) -lt 3500
like "$(cat "$T/err")" "timed out" "says timed out"
"$B/auth-check" -w 0 3<&- 2>/dev/null; is "$?" 2 "no prog: usage, exit 2"
"$B/auth-check" -w x true 3<&- 2>/dev/null; is "$?" 2 "a bad -w: usage, exit 2"

# temporary failures: exit 111
cp "$SLUICEDIR/users/cdb" "$T/cdb.saved"
rm "$SLUICEDIR/users/cdb"
ac 'alice@example.com\0alice pw\0\0'; is "$?" 111 "no database: exit 111"
like "$(cat "$T/err")" "unable to open the user database" "says so"
echo 'not a cdb' > "$SLUICEDIR/users/cdb"
ac 'alice@example.com\0alice pw\0\0'; is "$?" 111 "a file that is not the database: exit 111"
cdb -c "$SLUICEDIR/users/cdb" </dev/null 2>/dev/null || printf '\n' | cdb -c "$SLUICEDIR/users/cdb"
ac 'alice@example.com\0alice pw\0\0'; is "$?" 111 "a cdb without the format record: exit 111"
cp "$T/cdb.saved" "$SLUICEDIR/users/cdb"
echo 'cdb:/nonexistent/cdb' > "$SLUICEDIR/control/userdb"
ac 'alice@example.com\0alice pw\0\0'; is "$?" 111 "control/userdb names a missing file: exit 111"
echo "cdb:$SLUICEDIR/users/cdb" > "$SLUICEDIR/control/userdb"
ac 'alice@example.com\0alice pw\0\0'; is "$?" 0 "control/userdb names the database"
echo 'ldap' > "$SLUICEDIR/control/userdb"
ac 'alice@example.com\0alice pw\0\0'; is "$?" 111 "an unknown backend: exit 111"
rm "$SLUICEDIR/control/userdb"
mv "$H" "$H.away"
ac 'alice@example.com\0alice pw\0\0'; is "$?" 111 "a missing home: exit 111"
like "$(cat "$T/err")" "unable to chdir" "says so"
mv "$H.away" "$H"
printf 'alice@example.com\0alice pw\0\0' | "$B/auth-check" -w 0 /nonexistent/prog 3<&0 2>"$T/err"
is "$?" 111 "a prog that does not exist: 111 (a temporary failure), not 127"
like "$(cat "$T/err")" "^auth-check: fatal: unable to run /nonexistent/prog: No such file or directory$" "says so"
printf '#!/bin/sh\nexit 0\n' > "$T/noexec"; chmod 644 "$T/noexec"
printf 'alice@example.com\0alice pw\0\0' | "$B/auth-check" -w 0 "$T/noexec" 3<&0 2>"$T/err"
is "$?" 111 "a prog that is not executable: 111, not 126"
like "$(cat "$T/err")" "unable to run $T/noexec: Permission denied" "says so"
printf 'alice@example.com\0alice pw\0\0' | "$B/auth-check" -w 0 no-such-prog-in-path 3<&0 2>/dev/null
is "$?" 111 "a prog not in PATH: 111"
printf 'alice@example.com\0alice pw\0\0' | "$B/auth-check" -w 0 sh -c 'exit 42' 3<&0 2>/dev/null
is "$?" 42 "otherwise the exit code is prog's"
