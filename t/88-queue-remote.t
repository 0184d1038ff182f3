#!/bin/sh
# The whole remote path: a message queued on this instance (sendmail, queue-inject) goes
# through queue-run -> queue-spawn -> remote-deliver to a second sluice instance (tcpsrv +
# smtpd + its own queue, delivering into its own Maildirs): through control/smtproutes, and
# through an MX record served by dnsmasq on a loopback port. A 4xx server (deferred, then
# delivered after SIGALRM to queue-run), a 5xx server (a DSN in the sender's Maildir with the
# remote text), a null MX (a DSN at once).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
command -v dnsmasq >/dev/null || skip_all "dnsmasq not installed"
[ "$(id -u)" = 0 ] || skip_all "needs root: deliveries run as other users"
plan 26

RUSER=47301                # remote-deliver runs as this uid:gid (unused on the machine)
q_init
q_user joe@example.com
echo 2 > "$S/control/timeoutconnect"
echo 5 > "$S/control/timeoutremote"

# --- the other instance: rx.example, its own root, queue and Maildirs ---------------------------
R=$T/rx
mkdir -p "$R/control" "$R/queue"
echo rx.example > "$R/control/me"
SLUICEDIR=$R "$B/mail-user" adddomain -u $OWNER:$OWNER remote.example </dev/null >/dev/null
SLUICEDIR=$R "$B/mail-user" adddomain -u $OWNER:$OWNER viamx.example </dev/null >/dev/null
echo secret | SLUICEDIR=$R "$B/mail-user" adduser bob@remote.example >/dev/null
echo secret | SLUICEDIR=$R "$B/mail-user" adduser ann@viamx.example >/dev/null
start_bg env SLUICEDIR="$R" "$B/queue-injectd" 2>>"$T/rx-inject.log"
start_bg env SLUICEDIR="$R" "$B/queue-spawn" "$B/queue-run" 2>>"$T/rx-queue.log"
RXRUN=$BGPID
wait_for 5 test -S "$R/queue/inject"
PB=$(free_port)
# rx_smtpd [VAR=value...]: (re)start the other instance's smtpd on 127.0.0.1:$PB
RXSMTPD=""
rx_smtpd() {
  [ -n "$RXSMTPD" ] && stop_pid "$RXSMTPD"
  start_bg env SLUICEDIR="$R" "$@" "$B/tcpsrv" -H -R 127.0.0.1 "$PB" "$B/smtpd" 2>>"$T/rx-smtpd.log"
  RXSMTPD=$BGPID
  wait_listen "$PB"
}
rx_smtpd
rxcount() { ls "$R/domains/${1#*@}/${1%@*}/Maildir/new" 2>/dev/null | wc -l | tr -d ' '; }
rxfile() { ls -d "$R/domains/${1#*@}/${1%@*}/Maildir/new/"* 2>/dev/null | tail -1; }
rxhas() { [ "$(rxcount "$1")" = "$2" ]; }
joehas() { [ "$(maildir_count joe@example.com)" = "$1" ]; }
joefile() { ls -d "$S/domains/example.com/joe/Maildir/new/"* 2>/dev/null | tail -1; }

# --- DNS: dnsmasq on a loopback port -----------------------------------------------------------
DP=$(free_port udp)
start_bg dnsmasq -k -C /dev/null --pid-file= --port="$DP" --listen-address=127.0.0.1 --bind-interfaces \
  --no-resolv --no-hosts --local=/example/ \
  --mx-host=viamx.example,mx.viamx.example,10 --address=/mx.viamx.example/127.0.0.1 \
  --mx-host=null.example,.,0 2>"$T/dnsmasq.err"
wait_listen "$DP" udp || diag "$(cat "$T/dnsmasq.err")"
export DNSCACHEIP=127.0.0.1:$DP

# remote.example by its route; viamx.example by its MX record, to the other instance's port
printf 'remote.example:127.0.0.1:%s\nviamx.example::%s\n' "$PB" "$PB" > "$S/control/smtproutes"
q_start -r $RUSER:$RUSER

# --- through smtproutes, byte for byte -----------------------------------------------------------
printf 'Subject: far away\nTo: bob@remote.example\n\nline 1\n.\n..two dots\nK\303\266ln\n' > "$T/m"
inject joe@example.com bob@remote.example < "$T/m"
is "$?" 0 "a message for a remote domain is queued"
wait_for 15 rxhas bob@remote.example 1
is "$(rxcount bob@remote.example)" 1 "it arrives in the Maildir of the other instance"
f=$(rxfile bob@remote.example)
sed '1,/^Received: (sluice [0-9]* invoked by uid 0)/d' "$f" > "$T/got"
ok "byte for byte (after the Received: lines)" cmp "$T/m" "$T/got"
is "$(head -1 "$f")" "Return-Path: <joe@example.com>" "with the envelope sender"
like "$(grep -c '^Received: from mx\.test\.example' "$f")" '^1$' "the other side's Received: names our EHLO (control/me)"
like "$(cat "$T/queue.log")" "delivery [0-9]+: success: 127\.0\.0\.1_said:_250|delivery [0-9]+: success: .*127\.0\.0\.1.* said: 250" "queue-run logs the success with the remote's words"
wait_for 5 q_empty
ok "and the queue is empty again" q_empty
noremote() { ! pgrep -u $RUSER >/dev/null; }
wait_for 5 noremote
ok "no remote-deliver left running (as uid $RUSER, queue-spawn -r)" noremote

# --- sendmail, through the MX record -------------------------------------------------------------
printf 'To: ann@viamx.example\nSubject: by MX\n\nhello by MX\n' | "$B/sendmail" -t -i -f joe@example.com
is "$?" 0 "sendmail -t for a domain routed by its MX record"
wait_for 15 rxhas ann@viamx.example 1
f=$(rxfile ann@viamx.example)
is "$(tail -1 "$f" 2>/dev/null)" "hello by MX" "delivered through the MX found in dnsmasq"
like "$(grep '^Received: from' "$f" | head -1)" 'mx\.test\.example' "by the sending instance"
like "$(grep -i '^Message-ID:' "$f")" '^Message-ID: <[0-9.]+@mx\.test\.example>$' "with the Message-ID sendmail added"

# --- a 4xx server: deferred, then delivered after SIGALRM ---------------------------------------
rx_smtpd RBLSMTPD="rx.example is busy, test 4xx"
n0=$(rxcount bob@remote.example)
printf 'Subject: retry me\n\nsecond try\n' | "$B/sendmail" -f joe@example.com bob@remote.example
wait_log 15 'deferral: .*rx\.example is busy, test 4xx'
like "$(grep 'deferral' "$T/queue.log" | tail -1)" '451 4\.7\.1 rx\.example is busy, test 4xx' "a 4xx answer: a deferral with the remote's words"
is "$(rxcount bob@remote.example)" "$n0" "nothing delivered yet"
is "$(ls "$Q/info" | wc -l | tr -d ' ')" 1 "the message waits with its state in info/"
rx_smtpd
kill -ALRM "$RUNPID"
wait_for 15 rxhas bob@remote.example $((n0 + 1))
is "$(rxcount bob@remote.example)" $((n0 + 1)) "after SIGALRM to queue-run and a server that takes it: delivered"
is "$(tail -1 "$(rxfile bob@remote.example)")" "second try" "the right message"
wait_for 5 q_empty
ok "the queue is empty again" q_empty

# --- a 5xx server: a DSN in the sender's Maildir, with the remote's words -----------------------
rx_smtpd RBLSMTPD="-rx.example refuses this, test 5xx"
j0=$(maildir_count joe@example.com)
printf 'Subject: refused\n\nnot wanted\n' | "$B/sendmail" -f joe@example.com bob@remote.example
wait_for 15 joehas $((j0 + 1))
is "$(maildir_count joe@example.com)" $((j0 + 1)) "a 5xx answer: a bounce arrives in the sender's Maildir"
f=$(joefile)
like "$(grep -i '^Content-Type:' "$f" | head -1)" 'multipart/report; *report-type=delivery-status' "a DSN (multipart/report)"
like "$(cat "$f")" '553 5\.7\.1 rx\.example refuses this, test 5xx' "with the remote server's words"
like "$(grep -i '^Final-Recipient:' "$f")" 'bob@remote\.example' "naming the recipient"
like "$(cat "$f")" 'not wanted' "and the original message"
rx_smtpd

# --- a null MX: a DSN at once --------------------------------------------------------------------
j0=$(maildir_count joe@example.com)
printf 'Subject: to nowhere\n\nnull\n' | "$B/sendmail" -f joe@example.com someone@null.example
wait_for 15 joehas $((j0 + 1))
is "$(maildir_count joe@example.com)" $((j0 + 1)) "a null MX: a bounce arrives"
like "$(cat "$(joefile)")" '[Nn]ull MX|accepts no mail|takes no mail' "saying the domain takes no mail"
like "$(grep -i '^Final-Recipient:' "$(joefile)")" 'someone@null\.example' "for that recipient"
