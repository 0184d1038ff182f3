#!/bin/sh
# The whole chain: a user submits with SMTP AUTH (smtpd + auth-check, QMAILQUEUE=dkim-sign),
# the message is signed and queued, remote-deliver takes it to a second sluice instance whose
# port 25 runs auth-results (QMAILQUEUE) with DNS from dnsmasq, and the delivered message says
# dkim=pass, spf=pass, dmarc=pass. Then a forged message (From: our domain, unsigned, from
# elsewhere) straight to that port 25: refused with 554 when control/dmarcpolicy says reject.
# libspf2 passes any loopback client without a lookup: the other instance's smtpd sees the
# client as 192.0.2.1 (TEST-NET-1), the address our SPF record lists.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
. "$(dirname "$0")/dkim-lib.sh"
command -v dnsmasq >/dev/null || skip_all "dnsmasq not installed"
command -v swaks >/dev/null || skip_all "swaks not installed"
[ "$(id -u)" = 0 ] || skip_all "needs root: deliveries run as other users"
plan 14

RUSER=47311
q_init
q_user joe@example.com
"$B/dkim-sign" -g example.com r1 > "$T/r1.txt"

# --- the other instance: rx.example, port 25 with auth-results ---------------------------------
R=$T/rx
mkdir -p "$R/control" "$R/queue"
echo rx.example > "$R/control/me"
SLUICEDIR=$R "$B/mail-user" adddomain -u $OWNER:$OWNER remote.example </dev/null >/dev/null
echo secret | SLUICEDIR=$R "$B/mail-user" adduser bob@remote.example >/dev/null
start_bg env SLUICEDIR="$R" "$B/queue-injectd" 2>>"$T/rx-inject.log"
start_bg env SLUICEDIR="$R" "$B/queue-spawn" "$B/queue-run" 2>>"$T/rx-queue.log"
wait_for 5 test -S "$R/queue/inject"

{
  $DT dnsmasq "$T/r1.txt"
  cat <<'EOF2'
local=/example.com/
local=/example/
txt-record=example.com,"v=spf1 ip4:192.0.2.1 -all"
txt-record=mx.test.example,"v=spf1 ip4:192.0.2.1 -all"
txt-record=_dmarc.example.com,"v=DMARC1; p=reject"
EOF2
} > "$T/dns.conf"
dns_start "$T/dns.conf"

PB=$(free_port)
start_bg env SLUICEDIR="$R" QMAILQUEUE="$B/auth-results" "$B/tcpsrv" -H -R 127.0.0.1 "$PB" \
  sh -c 'TCPREMOTEIP=192.0.2.1 exec "$0"' "$B/smtpd" 2>>"$T/rx-smtpd.log"
wait_listen "$PB"
rxcount() { ls "$R/domains/remote.example/bob/Maildir/new" 2>/dev/null | wc -l | tr -d ' '; }
rxfile() { ls -d "$R/domains/remote.example/bob/Maildir/new/"* 2>/dev/null | tail -1; }
rxhas() { [ "$(rxcount)" = "$1" ]; }

# --- this instance: submission with AUTH and dkim-sign, the remote domain by smtproutes ---------
echo 2 > "$S/control/timeoutconnect"
echo 5 > "$S/control/timeoutremote"
printf 'remote.example:127.0.0.1:%s\n' "$PB" > "$S/control/smtproutes"
q_start -r $RUSER:$RUSER
PS=$(free_port)
start_bg env QMAILQUEUE="$B/dkim-sign" REQUIREAUTH=1 "$B/tcpsrv" -H -R 127.0.0.1 "$PS" \
  "$B/smtpd" "$B/auth-check" -n true 2>>"$T/submission.log"
wait_listen "$PS"

swaks --server 127.0.0.1 --port "$PS" --auth PLAIN --auth-user joe@example.com --auth-password secret \
  --from joe@example.com --to bob@remote.example --h-From 'Joe <joe@example.com>' \
  --h-Subject 'signed and checked' --body 'through the whole chain' > "$T/swaks" 2>&1
is "$?" 0 "submitted with AUTH"
wait_for 20 rxhas 1
is "$(rxcount)" 1 "delivered to the other instance"
f=$(rxfile)
is "$(grep -c '^DKIM-Signature:' "$f")" 1 "with the signature dkim-sign made"
is "$(grep -c '^Authentication-Results:' "$f")" 1 "and one Authentication-Results: field"
ar=$(sed -n '/^Authentication-Results:/,/^[^ \t]/p' "$f" | sed '$d' | tr -d '\n' | tr '\t' ' ')
like "$ar" '^Authentication-Results: rx\.example;' "naming the receiving host"
like "$ar" 'dkim=pass header\.d=example\.com header\.s=r1' "dkim=pass"
like "$ar" 'spf=pass smtp\.mailfrom=joe@example\.com' "spf=pass for MAIL FROM"
like "$ar" 'spf=pass smtp\.helo=mx\.test\.example' "spf=pass for the HELO name remote-deliver gave (smtpd passed SMTPHELO)"
like "$ar" 'dmarc=pass \(p=reject\) header\.from=example\.com' "dmarc=pass"
is "$(grep -c '^through the whole chain' "$f")" 1 "the body arrived"

# --- a forgery, straight to port 25 -------------------------------------------------------------
echo reject > "$R/control/dmarcpolicy"
swaks --server 127.0.0.1 --port "$PB" --from someone@elsewhere.test --to bob@remote.example \
  --h-From 'Joe <joe@example.com>' --h-Subject 'forged' --body 'not from joe' > "$T/swaks2" 2>&1
isnt "$?" 0 "a forged From: of a p=reject domain, control/dmarcpolicy reject: the client is refused"
like "$(grep '^<\*\* ' "$T/swaks2")" '^<\*\* *554 ' "with 554 at the end of DATA"
sleep 1
is "$(rxcount)" 1 "nothing delivered"
rm "$R/control/dmarcpolicy"
swaks --server 127.0.0.1 --port "$PB" --from someone@elsewhere.test --to bob@remote.example \
  --h-From 'Joe <joe@example.com>' --h-Subject 'forged' --body 'not from joe' > "$T/swaks3" 2>&1
wait_for 20 rxhas 2
like "$(sed -n '/^Authentication-Results:/,/^[^ \t]/p' "$(rxfile)" | tr -d '\n')" 'dmarc=fail \(p=reject\)' "tag only (the default): delivered with dmarc=fail"
