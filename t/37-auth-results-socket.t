#!/bin/sh
# auth-results -d: the checking filter as a service on a unix socket, for port 25. smtpd
# passes the client's address and HELO name to it in the protocol's variables (no process per
# message); SPF, DKIM and DMARC results as in the program mode, against dnsmasq on loopback.
# Variables: only the known ones are taken, and none is left over from one client to the
# next. p=reject refused with 554 and the reason; forged fields removed; a DNS server that
# does not answer gives temperror and the message is queued; the filters chained
# (dkim-sign -d hands on to auth-results -d with NEXTQUEUESOCK).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
. "$(dirname "$0")/dkim-lib.sh"
"$PY" -c 'import dkim' 2>/dev/null || skip_all "python3-dkim not installed"
command -v dnsmasq >/dev/null || skip_all "dnsmasq not installed"
command -v swaks >/dev/null || skip_all "swaks not installed"
plan 30

q_init
q_user bob@example.com
echo mx.rx.test > "$S/control/me"
printf '// test list\ntest\n' > "$T/psl.dat"
echo "$T/psl.dat" > "$S/control/publicsuffix"
"$B/dkim-sign" -g pass.test r1 > "$T/r1.txt"
"$B/dkim-sign" -g -t ed25519 pass.test e1 > "$T/e1.txt"
{
  $DT dnsmasq "$T/r1.txt" "$T/e1.txt"
  cat <<'EOF2'
txt-record=pass.test,"v=spf1 ip4:192.0.2.1 -all"
txt-record=mx.pass.test,"v=spf1 ip4:192.0.2.1 -all"
txt-record=_dmarc.pass.test,"v=DMARC1; p=reject"
log-queries
EOF2
  echo "log-facility=$T/dnsq.log"
} > "$T/dns.conf"
dns_start "$T/dns.conf"
start_bg "$B/queue-injectd" 2>>"$T/inject.log"
wait_for 5 test -S "$Q/inject"
A=$T/ar.sock
# one worker: every message below goes through the same process
start_bg "$B/auth-results" -d "$A" -c 1 2>>"$T/ar.log"
APID=$BGPID
wait_for 5 test -S "$A"

# smtpd IP PORT-VAR [ENV...]: tcpsrv + smtpd handing over to a socket (QMAILQUEUESOCK=$A unless
# given), the client seen as IP (libspf2 passes loopback clients without a lookup)
smtpd_at() {
  _ip=$1 _p=$(free_port); shift
  start_bg env QMAILQUEUESOCK="$A" "$@" "$B/tcpsrv" -H -R 127.0.0.1 "$_p" \
    sh -c 'TCPREMOTEIP=$0 exec "$1"' "$_ip" "$B/smtpd" 2>>"$T/smtpd.log"
  wait_listen "$_p"
  PORT=$_p
}
smtpd_at 192.0.2.1; P1=$PORT
smtpd_at 192.0.2.9; P9=$PORT
# send PORT FILE [SWAKS-OPTS]: from joe@pass.test to bob@example.com; the transcript in
# $T/sw, the queued message in $T/q.msg, its Authentication-Results: field in $AR
send() {
  _p=$1 _f=$2; shift 2
  swaks --server 127.0.0.1 --port "$_p" --from joe@pass.test --to bob@example.com --helo mx.pass.test \
    --data "@$_f" --timeout 30 "$@" > "$T/sw" 2>&1
  ID=$(sed -n 's/^<- *250 2\.0\.0 ok queued as \([0-9.]*\)\r*$/\1/p' "$T/sw" | tail -1)
  rm -f "$T/q.msg"; AR=
  [ -n "$ID" ] && [ -f "$Q/todo/$ID" ] && qmsg "$Q/todo/$ID" > "$T/q.msg" \
    && AR=$(sed -n '/^Authentication-Results:/,/^[^ \t]/p' "$T/q.msg" | sed '$d' | tr -d '\n' | tr '\t' ' ')
}
todo() { ls "$Q/todo" | wc -l | tr -d ' '; }
printf 'From: Joe <joe@pass.test>\nTo: bob@example.com\nSubject: test\n\nhello\n' > "$T/m"
env_of joe@pass.test bob@example.com > "$T/env"
CAP=$T/signed NEXTQUEUE=$T/cap "$B/dkim-sign" < "$T/m" 1< "$T/env"

# --- through smtpd -----------------------------------------------------------------------------
send "$P1" "$T/signed.msg"
like "$(cat "$T/sw")" '<- +250 2\.0\.0 ok queued as' "a signed message through smtpd and the service: queued"
like "$AR" '^Authentication-Results: mx\.rx\.test;' "with one field naming this host"
like "$AR" 'spf=pass smtp\.mailfrom=joe@pass\.test' "SPF pass for the client address smtpd passed on (TCPREMOTEIP)"
like "$AR" 'spf=pass smtp\.helo=mx\.pass\.test' "and for the HELO name it passed on (SMTPHELO)"
like "$AR" 'dkim=pass header\.d=pass\.test header\.s=r1 header\.a=rsa-sha256' "dkim=pass (RSA)"
like "$AR" 'dkim=pass header\.d=pass\.test header\.s=e1 header\.a=ed25519-sha256' "dkim=pass (Ed25519)"
like "$AR" 'dmarc=pass \(p=reject\) header\.from=pass\.test' "dmarc=pass"
send "$P9" "$T/m"
like "$AR" 'spf=fail smtp\.mailfrom=joe@pass\.test.*dkim=none.*dmarc=fail \(p=reject\)' "another client address, no signature: spf=fail, dmarc=fail, tagged"
# the same worker, a client that passes no variables: nothing of the last one's
qsend "$A" whole > "$T/ans"
like "$(cat "$T/ans")" '^[0-9]+:0 [0-9.]+,$' "a client without variables (the raw protocol): queued"
ID=$(sed 's/^[0-9]*:0 \([0-9.]*\),$/\1/' "$T/ans"); qmsg "$Q/todo/$ID" > "$T/q.msg"
unlike "$(cat "$T/q.msg")" 'spf=' "no SPF check: the previous client's address is not left behind"
QFROM=joe@pass.test qsend "$A" whole TCPREMOTEIP=192.0.2.1 SMTPHELO=mx.pass.test DNSCACHEIP=127.0.0.1:1 LD_PRELOAD=/nonexistent > "$T/ans"
ID=$(sed 's/^[0-9]*:0 \([0-9.]*\),$/\1/' "$T/ans"); qmsg "$Q/todo/$ID" > "$T/q.msg" 2>/dev/null
like "$(tr -d '\n' < "$T/q.msg")" 'spf=pass smtp\.mailfrom=joe@pass\.test;.*spf=pass smtp\.helo=mx\.pass\.test' "variables given: taken"
unlike "$(cat "$T/q.msg")" 'temperror' "variables not on the list (DNSCACHEIP, LD_PRELOAD): ignored"

# --- forged fields, refusal ----------------------------------------------------------------------
{ printf 'Authentication-Results: mx.rx.test; dkim=pass\nAuthentication-Results: other.example; dkim=pass\n'; cat "$T/signed.msg"; } > "$T/forged"
send "$P1" "$T/forged"
is "$(grep -c '^Authentication-Results: mx\.rx\.test' "$T/q.msg")" 1 "a forged field naming this host: removed"
like "$(cat "$T/q.msg")" 'Authentication-Results: other\.example; dkim=pass' "another host's field stays"
echo reject > "$S/control/dmarcpolicy"
n=$(todo)
send "$P9" "$T/m"
like "$(cat "$T/sw")" "<\*\* +554 5\.3\.0 queue failure: the author domain.s DMARC policy says reject and the message fails DMARC \(#31\)" "control/dmarcpolicy reject (read per message): p=reject and a failure refused with 554 and the filter's reason"
is "$(todo)" "$n" "nothing queued"
like "$(cat "$T/ar.log")" 'refused: pass\.test publishes p=reject' "the service says why"
send "$P1" "$T/signed.msg"
like "$(cat "$T/sw")" '<- +250 2\.0\.0 ok queued as' "a passing message still goes through"
ok "the service asked dnsmasq (DNSCACHEIP) for the key" grep -q 'query\[TXT\] r1\._domainkey\.pass\.test' "$T/dnsq.log"
rm "$S/control/dmarcpolicy"

# --- a DNS server that does not answer --------------------------------------------------------
silent_dns
A2=$T/ar2.sock
start_bg env DNSCACHEIP="$SILENT" "$B/auth-results" -d "$A2" 2>>"$T/ar.log"
wait_for 5 test -S "$A2"
smtpd_at 192.0.2.1 QMAILQUEUESOCK="$A2"
send "$PORT" "$T/signed.msg"
like "$AR" 'spf=temperror.*dkim=temperror.*dmarc=temperror' "DNS silent: temperror everywhere"
like "$(cat "$T/sw")" '<- +250 2\.0\.0 ok queued as' "and the message is queued"

# --- DNS down, then back: the service caches no failure -----------------------------------------
DP=$(free_port udp)
A3=$T/ar3.sock
start_bg env DNSCACHEIP="127.0.0.1:$DP" "$B/auth-results" -d "$A3" -c 1 2>>"$T/ar.log"
wait_for 5 test -S "$A3"
smtpd_at 192.0.2.1 QMAILQUEUESOCK="$A3"
send "$PORT" "$T/signed.msg"
like "$AR" 'spf=temperror smtp\.mailfrom' "no DNS server at DNSCACHEIP: spf=temperror"
start_bg dnsmasq -k -C "$T/dns.conf" --pid-file= --port="$DP" --listen-address=127.0.0.1 --bind-interfaces \
  --no-resolv --no-hosts --local=/test/ 2>>"$T/dnsmasq.err"
wait_listen "$DP" udp
# libspf2's cache counts whole seconds: an answer with a TTL of 0 lasts to the end of its second
sleep 2
send "$PORT" "$T/signed.msg"
like "$AR" 'spf=pass smtp\.mailfrom=joe@pass\.test.*dkim=pass.*dmarc=pass' "the server back: the same worker passes the next message (no failure kept in its cache for half an hour)"

# --- answers kept for their TTL (dnscache): the keys and the DMARC record asked once -----------
# dnsmasq gives its own records a TTL of 0 unless told (--local-ttl): never kept above.
# dnsttl TTL: a dnsmasq with that TTL logging its queries to $T/dns-TTL.log, and one worker
# asking it behind smtpd at $PORT
dnsttl() {
  _dp=$(free_port udp)
  { grep -v '^log-facility=' "$T/dns.conf"; echo "log-facility=$T/dns-$1.log"; } > "$T/dns-$1.conf"
  start_bg dnsmasq -k -C "$T/dns-$1.conf" --pid-file= --port="$_dp" --listen-address=127.0.0.1 --bind-interfaces \
    --no-resolv --no-hosts --local=/test/ --local-ttl="$1" 2>>"$T/dnsmasq.err"
  wait_listen "$_dp" udp
  start_bg env DNSCACHEIP="127.0.0.1:$_dp" "$B/auth-results" -d "$T/ar-$1.sock" -c 1 2>>"$T/ar.log"
  wait_for 5 test -S "$T/ar-$1.sock"
  smtpd_at 192.0.2.1 QMAILQUEUESOCK="$T/ar-$1.sock"
}
asked() { echo "$(grep -c 'query\[TXT\] r1\._domainkey\.pass\.test' "$T/dns-$1.log")/$(grep -c 'query\[TXT\] _dmarc\.pass\.test' "$T/dns-$1.log")"; }
dnsttl 300
send "$PORT" "$T/signed.msg"
send "$PORT" "$T/signed.msg"
like "$AR" 'dkim=pass header\.d=pass\.test header\.s=(r1|e1).*dkim=pass header\.d=pass\.test header\.s=(r1|e1).*dmarc=pass' "records with a TTL of 300 s: the second message passes too"
is "$(asked 300)" "1/1" "and the key and the DMARC record were asked for once (kept for their TTL)"
dnsttl 1
send "$PORT" "$T/signed.msg"
sleep 2
send "$PORT" "$T/signed.msg"
like "$AR" 'dkim=pass header\.d=pass\.test header\.s=r1 .*dmarc=pass' "a TTL of 1 s: the message after it passed passes"
is "$(asked 1)" "2/2" "and the key and the record were asked for again once the TTL had passed"

# --- chained: dkim-sign -d, then auth-results -d, then the queue ---------------------------------
K=$T/dkim.sock
start_bg env NEXTQUEUESOCK="$A" "$B/dkim-sign" -d "$K" 2>>"$T/dkim.log"
wait_for 5 test -S "$K"
smtpd_at 192.0.2.1 QMAILQUEUESOCK="$K"
send "$PORT" "$T/m"
like "$AR" 'spf=pass smtp\.mailfrom=joe@pass\.test' "dkim-sign -d handing on to auth-results -d: the variables go through"
like "$AR" 'dkim=pass header\.d=pass\.test header\.s=r1' "signed by the first, verified by the second (RSA)"
like "$AR" 'dkim=pass header\.d=pass\.test header\.s=e1.*dmarc=pass' "(Ed25519), dmarc=pass"
