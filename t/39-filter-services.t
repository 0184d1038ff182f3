#!/bin/sh
# The filter services as sluice-ctl init installs them, under a private s6-svscan: dkim-sign
# and auth-results run as the filter user, the DKIM keys (made by dkim-sign -g, given to that
# user by init) its alone, their sockets under filter/ reached by smtpd's group and nobody
# else; mail submitted with AUTH arrives signed (python's dkim verifies it, and auth-results
# on port 25, asking a DNS server on loopback, says dkim=pass); port 25 mail gets an
# Authentication-Results: field; local injection through env/QMAILQUEUESOCK; a filter service
# stopped: smtpd answers 451 and nothing is queued; started again: the mail flows.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/services-lib.sh"
. "$(dirname "$0")/queue-lib.sh"
. "$(dirname "$0")/dkim-lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root: the services change user"
for t in swaks s6-svscan dnsmasq; do command -v $t >/dev/null || skip_all "$t is not installed"; done
"$PY" -c 'import dkim' 2>/dev/null || skip_all "python3-dkim not installed"
plan 43
C=$B/sluice-ctl
chmod 755 "$T"
free_ids
S=$T/sl
PS=$(free_port) PM=$(free_port) PP=$(free_port)
mu() { SLUICEDIR=$S "$B/mail-user" "$@"; }
perm() { stat -c '%a %u:%g' "$1"; }
send() {          # PORT SUBJECT [swaks options]: swaks's exit code, its dialogue in $T/swaks
  _p=$1 _s=$2; shift 2
  swaks --server "127.0.0.1:$_p" --from alice@example.com --to bob@example.com --h-Subject "$_s" "$@" > "$T/swaks" 2>&1
}
auth() { send "$PM" "$1" --auth PLAIN --auth-user alice@example.com --auth-password alice-pw; }
mails() { ls "$S/domains/example.com/bob/Maildir/new" | grep -c '^[0-9]'; }
has() { [ "$(mails)" -ge "$1" ]; }
newest() { echo "$S/domains/example.com/bob/Maildir/new/$(ls -t "$S/domains/example.com/bob/Maildir/new" | head -1)"; }
queued() { find "$S/queue/mess" -type f | wc -l | tr -d ' '; }
can_connect() {   # UID:GID SOCKET: yes or no, as that user
  s6-applyuidgid -u "${1%:*}" -g "${1#*:}" -G "" "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1]); print("yes")
except OSError:
    print("no")' "$2"
}

is_rc 100 "init: the filter user as the SMTP user is refused" "$C" -d "$T/no" init -o $OWNER -q $QUEUE -s $SMTPD -r $REMOTE -l $LOG -F $SMTPD mx.test.example
like "$(cat "$T/err")" 'the filter user must not be the SMTP user: the DKIM keys are the filter user' "it says why"
is_rc 0 "init" "$C" -d "$S" init $IDOPTS -a 127.0.0.1 -p smtpd:$PS -p submission:$PM -p pop3d:$PP mx.test.example
sanitizer_env "$S"
is "$(cat "$S/service/dkim-sign/env/RUNAS") $(cat "$S/service/auth-results/env/RUNAS") $(cat "$S/service/inject/env/FILTERUSER")" \
   "$FILTER $FILTER $FILTER" "both filters run as the filter user, whose word queue-injectd takes for smtpd's Received:"
is "$(cat "$S/service/submission/env/DKIM") $(cat "$S/service/smtpd/env/AUTHRESULTS")" "1 1" \
   "by default submission signs (where a key exists), port 25 checks (tagging only)"
is "$(perm "$S/control/dkim") $(perm "$S/filter")" "700 $FILTER 750 ${FILTER%:*}:${SMTPD#*:}" \
   "control/dkim: the filter user's alone; filter/: the filter user's, reached by smtpd's group"

# a key made by root with dkim-sign -g; init again gives it to the filter user
SLUICEDIR=$S "$B/dkim-sign" -g example.com s1 > "$T/s1.txt"
is_rc 0 "init again" "$C" -d "$S" init mx.test.example
is "$(perm "$S/control/dkim/example.com") $(perm "$S/control/dkim/example.com/s1.rsa")" "700 $FILTER 600 $FILTER" \
   "the key is the filter user's now, readable by nobody else"
ln "$S/control/dkim/example.com/s1.rsa" "$S/control/dkim/link.rsa"
is_rc 100 "init: a key file with a second link is refused (never given away)" "$C" -d "$S" init mx.test.example
rm "$S/control/dkim/link.rsa"
echo secret > "$T/rootfile"; chmod 600 "$T/rootfile"
ln -s "$T/rootfile" "$S/control/dkim/example.com/evil.rsa"
is "$("$C" -d "$S" init mx.test.example; echo "rc=$?") $(perm "$T/rootfile")" "rc=0 600 0:0" "init: a symbolic link there is left alone, never followed"
rm "$S/control/dkim/example.com/evil.rsa"

{ $DT dnsmasq "$T/s1.txt"; cat <<EOF2
txt-record=example.com,"v=spf1 ip4:127.0.0.1 -all"
txt-record=_dmarc.example.com,"v=DMARC1; p=none"
EOF2
} > "$T/dns.conf"
dns_start "$T/dns.conf"
echo "$DNSCACHEIP" > "$S/env/DNSCACHEIP"
mu adddomain example.com </dev/null >/dev/null
echo alice-pw | mu adduser alice@example.com >/dev/null
echo bob-pw | mu adduser bob@example.com >/dev/null
stop_on_exit "$S"

is_rc 0 "start" "$C" -d "$S" start
"$C" -d "$S" status > "$T/status"
is "$(grep -cE '^(dkim-sign|auth-results): up' "$T/status")" 2 "status: both filter services up"
is "$(owner_of "$(s6-svstat -o pid "$S/service/dkim-sign")") $(owner_of "$(s6-svstat -o pid "$S/service/auth-results")")" \
   "${FILTER%:*} ${FILTER%:*}" "they run as the filter user"
is "$(can_connect "$SMTPD" "$S/filter/dkim-sign") $(can_connect "$SMTPD" "$S/filter/auth-results")" "yes yes" "smtpd's user reaches both sockets"
is "$(can_connect "$LOG" "$S/filter/dkim-sign") $(can_connect "$REMOTE" "$S/filter/auth-results")" "no no" "other users do not"

# ---- submission: signed ----------------------------------------------------------------------
is_rc 0 "submission with AUTH" auth "tok-sub-$$"
ok "delivered to bob" wait_for 20 has 1
cp "$(newest)" "$T/signed"
is "$($DT verify "$T/signed" "$T/s1.txt")" pass "it arrives signed: python's dkim verifies the signature"
like "$(grep -m1 '^Received:' "$T/signed")" '^Received: from .* \[127\.0\.0\.1\]' "with smtpd's Received: line (the filter's word taken), not a local one"

# ---- port 25: Authentication-Results ---------------------------------------------------------
sed -e '/^Delivered-To:/d' -e '/^Return-Path:/d' "$T/signed" > "$T/again"
is_rc 0 "the signed message to port 25" swaks --server "127.0.0.1:$PS" --from alice@example.com --to bob@example.com --data "$T/again"
ok "delivered" wait_for 20 has 2
ar=$(sed -n '/^Authentication-Results:/,/^[^ 	]/p' "$(newest)" | tr -d '\n')
like "$ar" '^Authentication-Results: mx\.test\.example;' "port 25 mail gets an Authentication-Results: field"
like "$ar" 'dkim=pass' "dkim=pass: auth-results found the key on the loopback DNS server"
like "$ar" 'spf=pass smtp\.mailfrom=alice@example\.com' "spf=pass"
like "$ar" 'dmarc=pass' "dmarc=pass"

# ---- local injection through env/QMAILQUEUESOCK -----------------------------------------------
echo "$S/filter/dkim-sign" > "$S/env/QMAILQUEUESOCK"
printf 'From: alice@example.com\nTo: bob@example.com\nSubject: local\n\nbody\n' | SLUICEDIR=$S "$B/mail-inject" bob@example.com
is "$?" 0 "mail-inject (as root) through env/QMAILQUEUESOCK"
ok "delivered" wait_for 20 has 3
is "$($DT verify "$(newest)" "$T/s1.txt")" pass "signed"
n=$(queued)
printf 'From: alice@example.com\nSubject: nope\n\nbody\n' | SLUICEDIR=$S s6-applyuidgid -u "${LOG%:*}" -g "${LOG#*:}" -G "" "$B/mail-inject" bob@example.com 2>"$T/err"
is "$?" 111 "a user who cannot reach the socket: a temporary failure..."
is "$(queued)" "$n" "... and nothing queued unsigned"
rm "$S/env/QMAILQUEUESOCK"

# ---- a filter service down: 451, nothing queued; up again: the mail flows ---------------------
is_rc 0 "stop dkim-sign" "$C" -d "$S" stop dkim-sign
n=$(queued)
nok "submission with dkim-sign down" auth "tok-down-$$"
like "$(grep '^<\*\* ' "$T/swaks")" '451' "smtpd answers 451"
is_rc 0 "stop auth-results" "$C" -d "$S" stop auth-results
nok "port 25 with auth-results down" send "$PS" "tok-down25-$$"
like "$(grep '^<\*\* ' "$T/swaks")" '451' "smtpd answers 451"
is "$(queued)" "$n" "nothing queued past the filters"
is_rc 0 "start them again" "$C" -d "$S" start dkim-sign auth-results
m=$(mails)
is_rc 0 "submission again" auth "tok-up-$$"
ok "delivered" wait_for 20 has $((m + 1))
is "$($DT verify "$(newest)" "$T/s1.txt")" pass "signed again"
is_rc 0 "stop" "$C" -d "$S" stop
is "$(grep -lE 'runtime error|AddressSanitizer|LeakSanitizer' "$S"/log/*/current "$S/log/s6-svscan")" "" "no sanitizer report in any log"
