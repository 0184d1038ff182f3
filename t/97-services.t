#!/bin/sh
# The services as sluice-ctl init makes them, under a private s6-svscan in a scratch
# directory, on loopback, with free ports and users that are numbers alone: mail in through
# the SMTP service and through submission (AUTH first), out through POP3 (curl) and through
# remote delivery (control/smtproutes to a fake server); without a certificate, no STARTTLS
# and no tls-wrap in the chains; who runs as whom (smtpd, before and
# after AUTH, as the SMTP user, who cannot open a mailbox); the log lines,
# stamped TAI64N, in the s6-log directories; restarts with s6-svc and sluice-ctl; SIGKILL to
# each daemon (s6 starts it again, no message is lost); reload after a rules change, without
# a restart; status of a service that is down; TLS turned on in the running instance (init
# -S, restart); stop, with a client still connected: no process left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/services-lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root: the services change user"
for t in swaks curl s6-svscan; do command -v $t >/dev/null || skip_all "$t is not installed"; done
plan 91
C=$B/sluice-ctl
chmod 755 "$T"
free_ids
S=$T/sl
PS=$(free_port) PM=$(free_port) PP=$(free_port) PF=$(free_port)
mu() { SLUICEDIR=$S "$B/mail-user" "$@"; }
pid_of() { s6-svstat -o pid "$S/service/$1"; }
ready_again() {   # SERVICE OLDPID: until it runs with another pid, up (and ready if it says so)
  wait_for 15 sh -c 'set -- $(s6-svstat -o up,ready,pid "$1") "$2" "$1"
    [ "$1" = true ] && [ "$3" != "$4" ] && { [ "$2" = true ] || [ ! -e "$5/notification-fd" ]; }' x "$S/service/$1" "$2"
}
banner() {        # PORT: the first line a client gets, or "closed"
  python3 -c 'import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5); s.settimeout(5)
    print(s.makefile("rb").readline().decode().strip() or "closed")
except OSError as e:
    print("closed")' "$1"
}
send() {          # PORT FROM TO SUBJECT [swaks options]: swaks's exit code, its dialogue in $T/swaks
  _p=$1 _f=$2 _t=$3 _s=$4; shift 4
  swaks --server "127.0.0.1:$_p" --from "$_f" --to "$_t" --h-Subject "$_s" "$@" > "$T/swaks" 2>&1
}
new_mail() { ls "$S/domains/example.com/$1/Maildir/new" "$S/domains/example.com/$1/Maildir/cur" | grep -c '^[0-9]'; }
log_has() { cat "$S/log/$1"/@*.s "$S/log/$1/current" 2>/dev/null | grep -Eq -- "$2"; }
has_mail() { test "$(new_mail "$1")" = "$2"; }
delivered() {     # USER N: until USER has N messages; the queue's log when not
  wait_for 20 has_mail "$1" "$2" && return 0
  diag "$1 has $(new_mail "$1") messages; the queue's log:" "$(tail -20 "$S/log/queue/current")"
  return 1
}

is_rc 0 "init: loopback, free ports, numeric users" "$C" -d "$S" init $IDOPTS -a 127.0.0.1 -p smtpd:$PS -p submission:$PM -p pop3d:$PP mx.test.example
sanitizer_env "$S"
# smtpd's logger rotates at 4 KB and keeps 2 files (its own settings over the instance's)
echo 4096 > "$S/service/smtpd/log/env/LOGSIZE"
echo 2 > "$S/service/smtpd/log/env/LOGFILES"
mu adddomain example.com </dev/null >/dev/null
echo alice-pw | mu adduser alice@example.com >/dev/null
echo bob-pw | mu adduser bob@example.com >/dev/null
stop_on_exit "$S"

# ---- start ----------------------------------------------------------------------------------
is_rc 0 "start returns once every service answers" "$C" -d "$S" start
is_rc 0 "status: all up" "$C" -d "$S" status
is "$(sed 's/(pid [0-9]*) [0-9]* seconds/(pid N) S seconds/g; s/ready [0-9]* seconds/ready S seconds/' "$T/out")" \
"pop3d: up (pid N) S seconds, ready S seconds; log: up (pid N) S seconds
smtpd: up (pid N) S seconds, ready S seconds; log: up (pid N) S seconds
submission: up (pid N) S seconds, ready S seconds; log: up (pid N) S seconds
auth-results: up (pid N) S seconds; log: up (pid N) S seconds
dkim-sign: up (pid N) S seconds; log: up (pid N) S seconds
inject: up (pid N) S seconds; log: up (pid N) S seconds
queue: up (pid N) S seconds; log: up (pid N) S seconds" "status: each service and its logger, with pid and time"
is "$(banner $PS)" "220 mx.test.example ESMTP" "the SMTP service greets"
is "$(banner $PP)" "+OK mx.test.example POP3 ready" "the POP3 service greets"

# ---- no certificate: no TLS, no tls-wrap ---------------------------------------------------------
printf 'EHLO t.example\r\nQUIT\r\n' > "$T/ehlo"
ehlo=$("$PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10); s.sendall(open(sys.argv[2], "rb").read())
print(s.makefile("rb").read().decode())' $PM "$T/ehlo")
like "$ehlo" '250 ENHANCEDSTATUSCODES' "without a certificate, EHLO on submission answers..."
unlike "$ehlo" 'STARTTLS' "... and offers no STARTTLS"
like "$ehlo" '250-AUTH PLAIN LOGIN' "AUTH is offered in clear"
chains=""; for s in smtpd submission pop3d; do chains="$chains$(tr '\0' ' ' < "/proc/$(pid_of $s)/cmdline")"; done
unlike "$chains" 'tls-wrap' "no tls-wrap in the chains of smtpd, submission and pop3d"

# ---- who runs as whom -------------------------------------------------------------------------
is "$(owner_of "$(pid_of smtpd)") $(owner_of "$(pid_of submission)")" "${SMTPD%:*} ${SMTPD%:*}" \
   "SMTP and submission: tcpsrv bound its port as root, then became the SMTP user, not the mail owner"
is "$(owner_of "$(pid_of pop3d)")" "${OWNER%:*}" "POP3: tcpsrv became the mail owner, whom auth-check becomes for pop3d"
is "$(owner_of "$(pid_of inject)") $(owner_of "$(pid_of queue)")" "${QUEUE%:*} ${QUEUE%:*}" "queue-injectd and queue-run run as the queue user"
is "$(tr '\0' ' ' < /proc/"$(pid_of queue)"/cmdline)" "queue-run " "s6 supervises queue-run itself"
helper=$(pgrep -P "$(pid_of queue)" -x queue-spawn)
is "$(owner_of "$helper")" 0 "queue-spawn's helper, queue-run's child, keeps root"
logs=""; for s in smtpd submission pop3d inject queue; do logs="$logs $(owner_of "$(s6-svstat -o pid "$S/service/$s/log")")"; done
is "$logs" "$(for s in 1 2 3 4 5; do printf ' %s' "${LOG%:*}"; done)" "every s6-log runs as the log user"
roots=""
for p in $(instance_procs "$S"); do
  [ "$(owner_of "$p")" = 0 ] || continue
  case $(cat "/proc/$p/comm" 2>/dev/null) in s6-svscan|s6-supervise) ;; queue-spawn) [ "$p" = "$helper" ] || roots="$roots $p:queue-spawn" ;; *) roots="$roots $p:$(cat "/proc/$p/comm")" ;; esac
done
is "$roots" "" "nothing else of the instance runs as root (but the supervisors)"

# ---- mail in and out ----------------------------------------------------------------------------
is_rc 0 "swaks through the SMTP service" send $PS bob@example.com alice@example.com "tok-smtp-$$"
ok "delivered to alice's Maildir" delivered alice 1
like "$(curl -s "pop3://127.0.0.1:$PP/1" --user alice@example.com:alice-pw)" "Subject: tok-smtp-$$" "curl reads it over POP3"
nok "submission: MAIL without AUTH" send $PM alice@example.com bob@example.com "tok-noauth-$$"
like "$(grep '^<\*\* ' "$T/swaks")" '530 5\.7\.0' "is refused: 530 5.7.0 (AUTH first)"
is_rc 0 "submission: with AUTH" send $PM alice@example.com bob@example.com "tok-sub-$$" --auth PLAIN --auth-user alice@example.com --auth-password alice-pw
ok "delivered to bob" delivered bob 1
like "$(curl -s "pop3://127.0.0.1:$PP/1" --user bob@example.com:bob-pw)" "Subject: tok-sub-$$" "curl reads it over POP3"
is "$(curl -s "pop3://127.0.0.1:$PP/" --user bob@example.com:wrong; echo "rc=$?")" "rc=67" "a wrong password is refused"

# ---- smtpd cannot read a mailbox ----------------------------------------------------------------
hold() {          # PORT MARK [LOGIN PASSWORD]: an SMTP session held open, logged in when LOGIN is given
  start_bg "$PY" -c 'import smtplib, sys, time
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10); s.ehlo()
if len(sys.argv) > 3: s.login(sys.argv[3], sys.argv[4])
open(sys.argv[2], "w").write("in\n"); time.sleep(60)' "$@"
}
session() { pgrep -n -P "$(pid_of "$1")" -x smtpd; }   # SERVICE: its newest smtpd session
creds() {         # PID: its effective uid, gid and groups, as setpriv's options
  awk '/^Uid:/ { u = $3 } /^Gid:/ { g = $3 } /^Groups:/ { for (i = 2; i <= NF; i++) gs = gs (gs ? "," : "") $i }
    END { print "--reuid=" u " --regid=" g " " (gs ? "--groups=" gs : "--clear-groups") }' "/proc/$1/status"
}
hold $PS "$T/held1"; h1=$BGPID
hold $PM "$T/held2" alice@example.com alice-pw; h2=$BGPID
ok "an SMTP session and a submission session, logged in, are open" wait_for 10 test -s "$T/held1" -a -s "$T/held2"
s1=$(session smtpd) s2=$(session submission)
is "$(owner_of "$s1") $(owner_of "$s2")" "${SMTPD%:*} ${SMTPD%:*}" "their smtpd runs as the SMTP user, after AUTH too (auth-check -n changed no user)"
msg=$(ls -d "$S"/domains/example.com/alice/Maildir/new/[0-9]* "$S"/domains/example.com/alice/Maildir/cur/[0-9]* 2>/dev/null | head -1)
is "$(stat -c '%u %a' "$msg") $(stat -c '%u %a' "$(dirname "$msg")") $(stat -c '%u %a' "$S/domains/example.com/alice/Maildir")" \
   "${OWNER%:*} 600 ${OWNER%:*} 700 ${OWNER%:*} 700" "alice's message and Maildir: the mail owner's alone, nothing for its group or others"
# shellcheck disable=SC2046
nok "with the uid, gid and groups of smtpd's process, alice's message cannot be opened" setpriv $(creds "$s1") cat "$msg"
ok "with the mail owner's, it can (so the check above can fail)" setpriv --reuid="${OWNER%:*}" --regid="${OWNER#*:}" --clear-groups cat "$msg"
stop_pid $h1; stop_pid $h2

# ---- the logs ---------------------------------------------------------------------------------
ok "smtpd's log: the accept line" log_has smtpd '^@[0-9a-f]{24} accept ip=127\.0\.0\.1 .*from=<bob@example\.com> to=<alice@example\.com>$'
ok "smtpd's log: tcpsrv's lines" log_has smtpd '^@[0-9a-f]{24} tcpsrv: ok [0-9]+ :127\.0\.0\.1:'"$PS"' :127\.0\.0\.1::[0-9]+$'
ok "submission's log: the refusal" log_has submission '^@[0-9a-f]{24} reject ip=127\.0\.0\.1 code=530 '
ok "submission's log: the login" log_has submission '^@[0-9a-f]{24} auth success ip=127\.0\.0\.1 user=alice@example\.com mech=PLAIN$'
ok "pop3d's log: the session" log_has pop3d '^@[0-9a-f]{24} quit ip=127\.0\.0\.1 user=bob@example\.com retr=1 '
ok "pop3d's log: the failed login" log_has pop3d '^@[0-9a-f]{24} auth-check: reject 127\.0\.0\.1 bob@example\.com badpassword '
ok "the queue's log: the deliveries" log_has queue '^@[0-9a-f]{24} delivery [0-9]+: success: '
bad=$(cat "$S"/log/*/current "$S"/log/*/@*.s 2>/dev/null | grep -cvE '^@[0-9a-f]{24} ')
is "$bad" 0 "every log line has its TAI64N stamp"

# ---- restarts -----------------------------------------------------------------------------------
old=$(pid_of smtpd)
ok "s6-svc -r restarts smtpd" s6-svc -wR -T 15000 -r "$S/service/smtpd"
isnt "$(pid_of smtpd)" "$old" "with a new tcpsrv"
is_rc 0 "which takes mail" send $PS bob@example.com alice@example.com "tok-restart-$$"
old=$(pid_of pop3d)
is_rc 0 "sluice-ctl restart pop3d" "$C" -d "$S" restart pop3d
isnt "$(pid_of pop3d)" "$old" "a new tcpsrv for POP3"
ok "alice has her second message" delivered alice 2
like "$(curl -s "pop3://127.0.0.1:$PP/" --user alice@example.com:alice-pw | tr -d '\r' | tr '\n' ' ')" '^1 [0-9]+ 2 [0-9]+ $' "both listed over POP3 after the restart"

# ---- SIGKILL: s6 starts the daemon again, and nothing is lost --------------------------------------
old=$(pid_of smtpd); kill -KILL "$old"
ok "smtpd killed: s6 starts it again" ready_again smtpd "$old"
old=$(pid_of inject); kill -KILL "$old"
ok "queue-injectd killed: s6 starts it again" ready_again inject "$old"
ok "and its socket answers" wait_for 10 sh -c "'$PY' -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' '$S/queue/inject'"
is_rc 0 "mail is taken again" send $PS bob@example.com alice@example.com "tok-kill-$$"
ok "and delivered" delivered alice 3
# a message for a remote host that does not answer yet: deferred, then queue-run killed
echo "remote.example:127.0.0.1:$PF" > "$S/control/smtproutes"
is_rc 0 "a message for a remote domain (this host may relay)" send $PS alice@example.com carol@remote.example "tok-remote-$$"
ok "its delivery is deferred: nobody listens yet" wait_for 15 log_has queue 'delivery [0-9]+: deferral: '
like "$("$C" -d "$S" queue)" 'carol@remote\.example' "sluice-ctl queue lists it"
old=$(pid_of queue); kill -KILL "$old"
ok "queue-run killed: s6 starts it again" ready_again queue "$old"
like "$("$C" -d "$S" queue)" 'carol@remote\.example' "the message is still in the queue"
start_bg "$PY" "$TOP/t/fakesmtp.py" addr=127.0.0.1 port=$PF log="$T/fake.log" > "$T/fake.port"
wait_listen $PF >/dev/null
is_rc 0 "flush: retry the queue now" "$C" -d "$S" flush
ok "the message reached the remote host" wait_for 15 grep -q "^Subject: tok-remote-$$" "$T/fake.log.1"
ok "and left the queue" wait_for 10 sh -c "[ -z \"\$('$C' -d '$S' queue)\" ]"
ok "the queue's log: the remote success" log_has queue 'delivery [0-9]+: success: .*127\.0\.0\.1.* said: 250 '


# ---- reload: a rules change takes effect, no restart -------------------------------------------
old=$(pid_of smtpd)
cp "$S/rules/smtp.txt" "$T/smtp.txt"
{ echo '127.0.0.1:deny'; cat "$T/smtp.txt"; } > "$S/rules/smtp.txt"
is_rc 0 "reload after a rules change" "$C" -d "$S" reload
is "$(banner $PS)" "closed" "127.0.0.1 is now refused"
ok "tcpsrv's log: the deny" log_has smtpd 'tcpsrv: deny [0-9]+ :127\.0\.0\.1:'
cp "$T/smtp.txt" "$S/rules/smtp.txt"
is_rc 0 "reload with the rules as they were" "$C" -d "$S" reload
is "$(banner $PS)" "220 mx.test.example ESMTP" "it is let in again"
is "$(pid_of smtpd)" "$old" "the same tcpsrv all along"

# ---- a service that is down ----------------------------------------------------------------------
is_rc 0 "stop pop3d alone" "$C" -d "$S" stop pop3d
is_rc 111 "status: not all up" "$C" -d "$S" status
like "$(grep '^pop3d: ' "$T/out")" '^pop3d: down \(exitcode 0\) [0-9]+ seconds, normally up' "status says pop3d is down"
like "$(grep '^smtpd: ' "$T/out")" '^smtpd: up ' "and the others up"
is "$(banner $PP)" "closed" "nobody answers on the POP3 port"
is_rc 0 "start pop3d" "$C" -d "$S" start pop3d
is "$(banner $PP)" "+OK mx.test.example POP3 ready" "POP3 answers again"

# ---- a setting missing -------------------------------------------------------------------------
mv "$S/service/submission/env/PORT" "$T/PORT"
is_rc 111 "restart with env/PORT gone: not ready" "$C" -d "$S" -t 3 restart submission
like "$(cat "$T/err")" 'submission is not ready: .* the last line of its log: .*PORT: parameter not set' "it says so, with the run script's complaint from the log"
mv "$T/PORT" "$S/service/submission/env/PORT"
is_rc 0 "with the setting back, restart" "$C" -d "$S" restart submission
is "$(banner $PM)" "220 mx.test.example ESMTP" "submission answers again"

# ---- rotation ----------------------------------------------------------------------------------
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do banner $PS >/dev/null; done
n=$(ls "$S/log/smtpd" | grep -c '^@.*\.s$')
ok "smtpd's log was rotated, 2 old files kept at most ($n)" test "$n" -ge 1 -a "$n" -le 2
ok "current is under 4096 bytes" test "$(wc -c < "$S/log/smtpd/current")" -le 4096
is "$(ls "$S/log/queue" | grep -c '^@')" 0 "the queue's log, 1 MB before rotation, is not rotated yet"

# ---- TLS turned on in a running instance ----------------------------------------------------------
PSS=$(free_port) PPS=$(free_port)
is_rc 0 "init -S (a self-signed certificate) and ports for SMTPS and POP3S, on the running instance" "$C" -d "$S" init -S -p smtps:$PSS -p pop3s:$PPS mx.test.example
is_rc 0 "restart: every service again, smtps and pop3s for the first time" "$C" -d "$S" restart
like "$(swaks --server 127.0.0.1:$PSS --tls-on-connect --tls-verify --tls-ca-path "$S/tls/cert.pem" --quit-after EHLO 2>&1)" '<~  250 ' "SMTPS answers, its certificate verified"
like "$(swaks --server 127.0.0.1:$PS --quit-after EHLO 2>&1)" '250-STARTTLS' "port 25 offers STARTTLS now"

# ---- stop, with a client still connected -------------------------------------------------------
start_bg "$PY" -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.recv(100)
open(sys.argv[2], "w").write("in\n"); time.sleep(60)' $PS "$T/held"
ok "a client holds an SMTP session" wait_for 10 test -s "$T/held"
is_rc 0 "stop -t 2" "$C" -d "$S" -t 2 stop
like "$(cat "$T/err")" 'smtpd did not stop in time: killed' "it says what it had to kill"
is "$(instance_procs "$S")" "" "no process of the instance is left"
is "$(grep -lE 'runtime error|AddressSanitizer|LeakSanitizer' "$S"/log/*/current "$S/log/s6-svscan")" "" "no sanitizer report in any log"
is "$(ss -ltnH "( sport = :$PS or sport = :$PM or sport = :$PP or sport = :$PSS or sport = :$PPS )")" "" "no port is open"
is_rc 111 "status after stop" "$C" -d "$S" status
