#!/bin/sh
# The MariaDB backend when the database goes away: auth-check says 111 and lets nobody in,
# smtpd answers 451, the queue defers a message and delivers it once the database is back,
# without a restart of sluice; the same when userdb-mysqld itself is restarted or missing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mysql-lib.sh"
. "$(dirname "$0")/queue-lib.sh"
plan 28
my_start
S=$T/sl
userd_start "$S"
SLUICEDIR=$S "$B/mail-user" initdb
q_init "$S"
echo 'yescrypt 1' > "$S/control/passwordhash"
q_user alice@example.com
q_start

login() {   # PASSWORD LOGIN
  printf '%s\0%s\0\0' "$2" "$1" | "$B/auth-check" -w 0 true 3<&0 >"$T/login" 2>"$T/login.err"
}
# rcpt ADDRESS: smtpd's reply to RCPT TO for it (smtpd on a pipe, as tcpsrv would run it)
rcpt() {
  printf 'HELO x\r\nMAIL FROM:<s@sender.example>\r\nRCPT TO:<%s>\r\nQUIT\r\n' "$1" |
    TCPREMOTEIP=127.0.0.1 TCPLOCALIP=127.0.0.1 TCPLOCALPORT=25 PROTO=TCP "$B/smtpd" 2>>"$T/smtpd.log" |
    sed -n '4p' | cut -c1-9
}
msg() { printf 'Subject: %s\n\nbody %s\n' "$1" "$1" | inject s@sender.example alice@example.com; }

msg one
ok "the first message is delivered" wait_eq 10 1 maildir_count alice@example.com
is_rc 0 "the user logs in" login secret alice@example.com
is "$(rcpt alice@example.com)" "250 2.1.5" "smtpd accepts the user"

# --- the database stops
my_stop
is_rc 111 "database down: auth-check exits 111" login secret alice@example.com
like "$(cat "$T/login.err")" "unable to read the user database" "and says why"
is_rc 111 "a wrong password is no different: 111, not 1" login wrong alice@example.com
is "$(rcpt alice@example.com)" "451 4.3.0" "smtpd answers 451 at RCPT"
ok "a message to the user is queued" msg two
ok "its routing is deferred" wait_log 10 'unable to read the users database \(#4\.3\.0\)'
is "$(maildir_count alice@example.com)" 1 "nothing delivered, nothing bounced"
like "$(queue-list 2>&1)" "alice@example\.com" "it waits in the queue"

# --- the database is back: no restart of the daemon, of the queue or of anything else
my_start
is_rc 0 "database back: the user logs in again" login secret alice@example.com
kill -ALRM "$RUNPID"
ok "the deferred message is delivered" wait_eq 20 2 maildir_count alice@example.com
ok "the queue is empty" wait_for 10 q_empty
ok "no bounce was sent" sh -c "! grep -q bounce '$T/queue.log'"

# --- userdb-mysqld restarted under the queue's open connection
stop_pid "$USERDPID"
userd_start "$S"
msg three
ok "a message after the daemon's restart is delivered" wait_eq 20 3 maildir_count alice@example.com
is_rc 0 "and logins work" login secret alice@example.com

# --- a database that hangs: the readers' deadline (control/userdbtimeout, ms)
echo 1000 > "$S/control/userdbtimeout"
kill -STOP "$MYPID"
is_rc 111 "a hung database: auth-check exits 111" login secret alice@example.com
like "$(cat "$T/login.err")" "timed out" "at its deadline"
kill -CONT "$MYPID"
rm "$S/control/userdbtimeout"
ok "the database going on: logins work again" wait_for 20 login secret alice@example.com

# --- a worker of userdb-mysqld killed: the others serve, and it is replaced
w=$(pgrep -P "$USERDPID" | head -1)
kill -KILL "$w"
is_rc 0 "a worker killed: logins still work" login secret alice@example.com
ok "the worker is replaced" wait_for 10 grep -q 'a worker died' "$T/userd.log"
ok "and there are as many as before" wait_eq 10 4 sh -c "pgrep -P $USERDPID | wc -l"

# --- no daemon at all: temporary, never "no such domain"
stop_pid "$USERDPID"
is_rc 111 "no daemon: auth-check exits 111" login secret alice@example.com
is "$(rcpt alice@example.com)" "451 4.3.0" "no daemon: smtpd answers 451"
msg four
ok "no daemon: the message is deferred" wait_for 10 sh -c "[ \$(grep -c 'unable to read the users database' '$T/queue.log') -ge 2 ]"
userd_start "$S"
kill -ALRM "$RUNPID"
ok "the daemon back: delivered" wait_eq 20 4 maildir_count alice@example.com
ok "the queue is empty again" wait_for 10 q_empty
q_stop
