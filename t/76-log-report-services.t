#!/bin/sh
# log-report on the logs of the real services: an instance made by sluice-ctl init under a
# private s6-svscan, its loggers s6-log (TAI64N stamps, smtpd's log rotated at 4 KB), mail in
# through smtpd and submission (swaks), refusals of every kind (a tcprules deny, rblsmtpd with
# a DNS list served by t/fakedns.py, an unknown user, MAIL before AUTH, a wrong password),
# POP3 logins (curl), a remote delivery deferred then done (t/fakesmtp.py). The report's
# counts are checked against what the test did and against the raw lines, and each accepted
# message is followed from smtpd to its delivery.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/services-lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root: the services change user"
for t in swaks curl s6-svscan s6-log; do command -v $t >/dev/null || skip_all "$t is not installed"; done
plan 40
C=$B/sluice-ctl
chmod 755 "$T"
free_ids
S=$T/sl
PS=$(free_port) PM=$(free_port) PP=$(free_port) PF=$(free_port) PD=$(free_port udp)
mu() { SLUICEDIR=$S "$B/mail-user" "$@"; }
send() {          # PORT FROM TO [swaks options]: swaks's exit code
  _p=$1 _f=$2 _t=$3; shift 3
  swaks --server "127.0.0.1:$_p" --from "$_f" --to "$_t" --h-Subject "log-report test" "$@" > "$T/swaks" 2>&1
}
new_mail() { ls "$S/domains/example.com/$1/Maildir/new" "$S/domains/example.com/$1/Maildir/cur" 2>/dev/null | grep -c '^[0-9]'; }
has_mail() { test "$(new_mail "$1")" = "$2"; }
raw() { cat "$S/log/$1"/@*.s "$S/log/$1/current" 2>/dev/null | grep -cE -- "$2"; }
log_has() { cat "$S/log/$1"/@*.s "$S/log/$1/current" 2>/dev/null | grep -Eq -- "$2"; }

# a DNS list that lists 127.0.0.2 (fakedns.py answers *.ok.test itself)
start_bg "$PY" "$TOP/t/fakedns.py" "$PD" 0 127.0.0.1 > "$T/dns.out" 2>"$T/dns.err"
wait_for 10 grep -q ready "$T/dns.out" || diag "fakedns did not start: $(cat "$T/dns.err")"

is_rc 0 "init" "$C" -d "$S" init $IDOPTS -a 127.0.0.1 -p smtpd:$PS -p submission:$PM -p pop3d:$PP mx.test.example
sanitizer_env "$S"
echo 4096 > "$S/service/smtpd/log/env/LOGSIZE"
echo 5 > "$S/service/smtpd/log/env/LOGFILES"
echo "-r ok.test" > "$S/service/smtpd/env/BLOCKLISTS"
echo "127.0.0.1:$PD" > "$S/env/DNSCACHEIP"
{ echo '127.0.0.3:deny'; echo '127.0.0.2:allow'; cat "$S/rules/smtp.txt"; } > "$T/smtp.txt" && cp "$T/smtp.txt" "$S/rules/smtp.txt"
echo "remote.example:127.0.0.1:$PF" > "$S/control/smtproutes"
mu adddomain example.com </dev/null >/dev/null
echo alice-pw | mu adduser alice@example.com >/dev/null
echo bob-pw | mu adduser bob@example.com >/dev/null
stop_on_exit "$S"
is_rc 0 "start" "$C" -d "$S" start
is_rc 0 "reload: the rules with 127.0.0.2 and 127.0.0.3" "$C" -d "$S" reload

# ---- the traffic ------------------------------------------------------------------------------
for i in 1 2 3; do is_rc 0 "smtpd: message $i to alice" send $PS bob@example.org alice@example.com; done
nok "smtpd: an unknown user is refused" send $PS bob@example.org nobody@example.com
nok "smtpd from 127.0.0.2: refused by rblsmtpd (listed in ok.test)" send $PS bob@example.org alice@example.com --local-interface 127.0.0.2
like "$(grep '^<\*\* ' "$T/swaks" | head -1)" '451 ' "... with 451"
is "$("$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.3", 0)); s.connect(("127.0.0.1", '"$PS"')); s.settimeout(5)
print(s.recv(100) or "closed")')" "closed" "127.0.0.3: denied by the rule"
nok "submission: MAIL before AUTH is refused" send $PM alice@example.com bob@example.com
nok "submission: a wrong password" send $PM alice@example.com bob@example.com --auth PLAIN --auth-user alice@example.com --auth-password nope
is_rc 0 "submission: with AUTH" send $PM alice@example.com bob@example.com --auth PLAIN --auth-user alice@example.com --auth-password alice-pw
ok "delivered: alice 3, bob 1" wait_for 20 sh -c "[ \$(ls '$S'/domains/example.com/alice/Maildir/new | wc -l) = 3 ] && [ \$(ls '$S'/domains/example.com/bob/Maildir/new | wc -l) = 1 ]"
is_rc 0 "a message for a remote domain (127.0.0.1 relays)" send $PS alice@example.com carol@remote.example
ok "its delivery is deferred: nobody listens yet" wait_for 15 log_has queue 'delivery [0-9]+: deferral: '
start_bg "$PY" "$TOP/t/fakesmtp.py" addr=127.0.0.1 port=$PF log="$T/fake.log" > "$T/fake.port"
wait_listen $PF >/dev/null
is_rc 0 "flush" "$C" -d "$S" flush
ok "then delivered" wait_for 15 log_has queue 'delivery [0-9]+: success: .*said: 250 '
like "$(curl -s "pop3://127.0.0.1:$PP/1" --user alice@example.com:alice-pw)" "Subject: log-report test" "POP3: alice reads a message"
is "$(curl -s "pop3://127.0.0.1:$PP/" --user bob@example.com:wrong; echo "rc=$?")" "rc=67" "POP3: a wrong password"
ok "the queue is empty" wait_for 10 sh -c "[ -z \"\$('$C' -d '$S' queue)\" ]"
is_rc 0 "stop: the loggers write everything out" "$C" -d "$S" stop
ok "smtpd's log was rotated" sh -c "ls '$S/log/smtpd' | grep -q '^@.*\.s\$'"

# ---- the report -------------------------------------------------------------------------------
is_rc 0 "log-report -j on the services' log directories" "$B/log-report" -j "$S/log/smtpd" "$S/log/submission" "$S/log/pop3d" "$S/log/queue" "$S/log/inject"
cp "$T/out" "$T/r.json"
get() { "$PY" -c 'import json, sys
r = json.load(open(sys.argv[1])); sv = {s["name"]: s for s in r["services"]}; q = r["queue"]
print(eval(sys.argv[2]))' "$T/r.json" "$1"; }
is "$(get 'sv["smtpd"]["messages"]["accepted"], sv["submission"]["messages"]["accepted"]')" "(4, 1)" "accepted: 4 by smtpd, 1 by submission"
is "$(get 'sv["smtpd"]["connections"]["accepted"]')" "$(raw smtpd 'tcpsrv: ok ')" "smtpd: connections as tcpsrv's ok lines"
is "$(get 'sv["smtpd"]["connections"]["denied_rule"], sv["smtpd"]["rbl_refused"]')" "(1, 1)" "smtpd: one denied by the rule, one refused by rblsmtpd"
is "$(get '[(x["list"], x["refused"]) for x in r["rbl"]]')" "[('ok.test', 1)]" "the DNS list by name"
is "$(get '[(x["code"], x["reason"], x["count"]) for x in r["smtp"]["rejections"]]')" \
   "[('530', 'authentication required', 1), ('550', 'no such user here', 1)]" "rejections by reply: the unknown user, MAIL before AUTH"
is "$(get 'sv["submission"]["auth"]')" "{'success': 1, 'failure': 1}" "submission: one login, one failure"
is "$(get '[(x["address"], x["auth_failures"]) for x in r["auth_failures"]]')" "[('127.0.0.1', 2)]" "login failures by client address: SMTP and POP3 together"
is "$(get 'sv["pop3d"]["auth"], sv["pop3d"]["pop3"]["sessions"], sv["pop3d"]["pop3"]["retrieved"]')" "({'success': 1, 'failure': 1}, 1, 1)" "POP3: a login, a failure, a session that retrieved one message"
is "$(get '[(x["reason"], x["count"]) for x in r["auth_check"]["reasons"]]')" "[('badpassword', 2)]" "auth-check's refusals"
is "$(get 'q["new"], q["done"], q["followed_from_smtpd"], q["not_seen_by_queue"], q["still_queued"]')" "(5, 5, 5, 0, 0)" "the queue: 5 messages, each followed from smtpd's accept to its end"
is "$(get 'q["deliveries"]')" "{'success': 5, 'deferral': 1, 'failure': 0, 'without_start': 0}" "deliveries: 5 done, 1 deferred first"
is "$(get 'sorted((d["domain"], d["success"], d["deferral"]) for d in q["domains"])')" "[('example.com', 4, 0), ('remote.example', 1, 1)]" "deliveries by domain"
is "$(get 'q["delay"]["count"], q["delay"]["worst_domain"]')" "(5, 'remote.example')" "delays: the slowest was the deferred remote one"
is "$(get 'q["size"]["exact"], q["size"]["max"] >= 1')" "(True, True)" "the queue's size, from queue-run's status lines"
is "$(get 'r["lines"]["malformed"]')" 0 "no line of the real services is malformed"
"$B/log-report" "$S/log/smtpd" "$S/log/submission" "$S/log/pop3d" "$S/log/queue" > "$T/r.txt"
like "$(cat "$T/r.txt")" 'messages accepted: 5 ' "text: 5 messages accepted"
