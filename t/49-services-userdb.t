#!/bin/sh
# The userdb-mysqld service: sluice-ctl init installs it only when control/userdb says
# mysql:FILE; under a real s6-svscan it reads the password file and binds the socket as root,
# then runs as the queue user; a user added with mail-user logs in over POP3 (curl) and SMTP
# AUTH (swaks) through it, with a real MariaDB server behind; killed, s6 starts it again and
# logins work; the database stopped: a login fails temporarily, none is let in, and works
# again once it is back; stop leaves no process.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/services-lib.sh"
. "$(dirname "$0")/mysql-lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root: the services change user"
for t in swaks curl s6-svscan; do command -v $t >/dev/null || skip_all "$t is not installed"; done
plan 26
C=$B/sluice-ctl
chmod 755 "$T"
free_ids
my_start
S=$T/sl
PS=$(free_port) PM=$(free_port) PP=$(free_port)
mu() { SLUICEDIR=$S "$B/mail-user" "$@"; }
pid_of() { s6-svstat -o pid "$S/service/$1"; }
pop() { curl -s "pop3://127.0.0.1:$PP/" --user "$1" >/dev/null; echo "rc=$?"; }
pop_ok() { [ "$(pop "alice@example.com:alice pw")" = rc=0 ]; }

# ---- an instance without MariaDB: no such service --------------------------------------------------
is_rc 0 "init without control/userdb" "$C" -d "$T/plain" init $IDOPTS -a 127.0.0.1 -p smtpd:$(free_port) -p submission:$(free_port) -p pop3d:$(free_port) plain.test.example
ok "no userdb-mysqld service" test ! -e "$T/plain/service/userdb-mysqld"

# ---- with control/userdb mysql:FILE ---------------------------------------------------------------
mkdir -p "$S/control"
echo "mysql:$MYCONF" > "$S/control/userdb"
is_rc 0 "init with control/userdb naming mysql:" "$C" -d "$S" init $IDOPTS -a 127.0.0.1 -p smtpd:$PS -p submission:$PM -p pop3d:$PP mx.test.example
sanitizer_env "$S"
ok "the service installed" test -x "$S/service/userdb-mysqld/run"
ok "with its logger" test -x "$S/service/userdb-mysqld/log/run"
is "$(cat "$S/service/userdb-mysqld/env/RUNAS")" "$QUEUE" "to run as the queue user"
is "$(stat -c %a "$MYCONF")" 600 "the password file is root's alone"
stop_on_exit "$S"
is_rc 0 "start returns once every service answers, userdb-mysqld's socket too" "$C" -d "$S" start
"$C" -d "$S" status > "$T/status"
like "$(cat "$T/status")" "userdb-mysqld: up \(pid [0-9]+\) [0-9]+ seconds; log: up" "status shows it, with its logger"
upid=$(pid_of userdb-mysqld)
is "$(owner_of "$upid")" "${QUEUE%:*}" "it runs as the queue user (the file read and the socket bound as root before)"
workers=$(pgrep -P "$upid" | head -1)
is "$(owner_of "$workers")" "${QUEUE%:*}" "its workers too"
ok "its socket in users/" test -S "$S/users/mysql.sock"

is_rc 0 "mail-user initdb through the service" env SLUICEDIR="$S" "$B/mail-user" initdb
mu adddomain example.com </dev/null >/dev/null
echo 'alice pw' | mu adduser alice@example.com >/dev/null
is "$(my "SELECT pw_name FROM vpopmail")" alice "the user is a row of the database"
is "$(pop "alice@example.com:alice pw")" "rc=0" "POP3 login through the service (curl)"
is "$(pop "alice@example.com:wrong")" "rc=67" "a wrong password refused"
swaks --server "127.0.0.1:$PM" --from alice@example.com --to alice@example.com --auth PLAIN --auth-user alice@example.com --auth-password 'alice pw' --quit-after AUTH > "$T/swaks" 2>&1
like "$(cat "$T/swaks")" "235 " "SMTP AUTH on submission through the service (swaks)"
ok "the logger writes its log" wait_for 10 grep -q "listening on $S/users/mysql.sock" "$S/log/userdb-mysqld/current"

# ---- killed: s6 starts it again ------------------------------------------------------------------------
kill -KILL "$upid"
ok "s6 starts it again" wait_for 15 sh -c 'p=$(s6-svstat -o pid "$1"); [ "$p" != "$2" ] && [ "$p" != -1 ] && test -S "$3"' x "$S/service/userdb-mysqld" "$upid" "$S/users/mysql.sock"
ok "a login works again" wait_for 15 pop_ok

# ---- the database stopped, then back ----------------------------------------------------------------
my_stop
is "$(pop "alice@example.com:alice pw")" "rc=67" "the database down: no login (the service answers a temporary failure)"
like "$(cat "$S/log/pop3d/current")" "auth-check: fatal: unable to [a-z ]*user" "pop3d's log tells the failure to read the user"
my_start
ok "back: logins work without restarting anything" wait_for 15 pop_ok

# ---- stop ----------------------------------------------------------------------------------------------
is_rc 0 "stop" "$C" -d "$S" stop
ok "the socket's daemon gone" sh -c '! kill -0 "$1" 2>/dev/null' x "$(pid_of userdb-mysqld 2>/dev/null || echo 999999)"
is "$(instance_procs "$S" | wc -l)" 0 "no process of the instance left"
