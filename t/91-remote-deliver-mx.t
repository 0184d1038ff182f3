#!/bin/sh
# remote-deliver's routing by DNS: MX records from dnsmasq on loopback (t/fakedns.py in front
# of it for the server failures and the silence), all to one port (control/smtproutes "::P"):
# preference order, a host that refuses or hangs (next MX), equal preferences in random
# order, the implicit MX, an MX on ::1 only, null MX, NXDOMAIN, a DNS timeout and SERVFAIL.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/remote-lib.sh"
command -v dnsmasq >/dev/null || skip_all "dnsmasq not installed"
plan 33

# long enough for a loaded machine: only the two hanging hosts wait for it
echo 6 > "$L/control/timeoutremote"
P=$(free_port)
echo "::$P" > "$L/control/smtproutes"
mx_start mx 127.0.0.3 "$P" || exit 1
fake_start hang addr=127.0.0.4 port="$P" greet=hang || exit 1
fake_start other addr=127.0.0.5 port="$P" || exit 1

DP=$(free_port udp)
start_bg dnsmasq -k -C /dev/null --pid-file= --port="$DP" --listen-address=127.0.0.1 --bind-interfaces \
  --no-resolv --no-hosts --local=/example/ \
  --mx-host=two.example,mx1.two.example,10 --mx-host=two.example,mx2.two.example,20 \
  --address=/mx1.two.example/127.0.0.2 --address=/mx2.two.example/127.0.0.3 \
  --mx-host=eq.example,a.eq.example,10 --mx-host=eq.example,b.eq.example,10 \
  --address=/a.eq.example/127.0.0.3 --address=/b.eq.example/127.0.0.5 \
  --mx-host=hang.example,h.hang.example,5 --mx-host=hang.example,g.hang.example,50 \
  --address=/h.hang.example/127.0.0.4 --address=/g.hang.example/127.0.0.3 \
  --mx-host=onlyhang.example,h.hang.example,10 \
  --mx-host=six.example,mx.six.example,10 --address=/mx.six.example/::1 \
  --mx-host=null.example,.,0 \
  --address=/implicit.example/127.0.0.3 \
  --mx-host=noaddr.example,gone.noaddr.example,10 \
  --mx-host=halfaddr.example,gone.halfaddr.example,10 --mx-host=halfaddr.example,mx.halfaddr.example,20 \
  --address=/mx.halfaddr.example/127.0.0.3 \
  --mx-host=slowmx.example,h.silent.test,10 \
  2>"$T/dnsmasq.err"
wait_listen "$DP" udp || diag "$(cat "$T/dnsmasq.err")"
FP=$(free_port udp)
start_bg "$PY" "$TOP/t/fakedns.py" "$FP" "$DP" > "$T/fakedns.out"
wait_listen "$FP" udp
export DNSCACHEIP=127.0.0.1:$FP

printf 'Subject: mx\n\nvia MX\n.\n' > "$T/m"
printf 'Subject: mx\n\nvia MX\n.\n' > "$T/want"
count() { ls "$T/$1/q/"*.msg 2>/dev/null | wc -l; }

# preference order; the best host refuses connections: the next one gets it
rd "$T/m" -- two.example a@client.example u@two.example
is "$RC" 0 "two MX, the first refusing: exit 0"
like "$(cat "$T/out")" '^success 1 mx2\.two\.example\[127\.0\.0\.3\] said: 250 ' "... delivered by the second, named with its address"
got mx 1 > "$T/got"
ok "... byte for byte" cmp "$T/want" "$T/got"
printf 'Fa@client.example\0Tu@two.example\0\0' > "$T/want.env"
ok "... the envelope byte for byte" cmp "$T/want.env" "$T/mx/q/1.env"

# a host that accepts the connection and never greets: the deadline, then the next MX
rd "$T/m" -- hang.example a@client.example u@hang.example
like "$(cat "$T/out")" '^success 1 g\.hang\.example\[127\.0\.0\.3\] said: 250 ' "a hanging best MX: the next one delivers after the deadline"
is "$(grep -c '^conn' "$T/hang.log")" 1 "... after the hanging one was tried"
rd "$T/m" -- onlyhang.example a@client.example u@onlyhang.example
is "$RC.$(cat "$T/out")" "0.deferral 1 no host took the message: h.hang.example[127.0.0.4]: no greeting: timed out" "only a hanging host: deferral, saying so"

# equal preferences: both hosts get mail, in random order
a0=$(count mx)
n=0
while [ $n -lt 20 ]; do rd "$T/m" -- eq.example a@client.example u@eq.example; n=$((n+1)); done
a=$(( $(count mx) - a0 )); b=$(grep -c '^conn' "$T/other.log")
ok "equal preferences: both hosts used over 20 deliveries (a: $a, b: $b)" test "$a" -gt 0 -a "$b" -gt 0
is "$((a + b))" 20 "... each message once"

# no MX: the domain's own address
rd "$T/m" -- implicit.example a@client.example u@implicit.example
like "$(cat "$T/out")" '^success 1 implicit\.example\[127\.0\.0\.3\] said: 250 ' "no MX record: the domain's address (implicit MX)"

# an MX with an IPv6 address only
if v6ok; then
  mx_start mx6 ::1 "$P" || exit 1
  rd "$T/m" -- six.example a@client.example u@six.example
  like "$(cat "$T/out")" '^success 1 mx\.six\.example\[::1\] said: 250 ' "an IPv6-only MX on ::1: delivered"
  got mx6 1 > "$T/got"
  ok "... byte for byte" cmp "$T/want" "$T/got"
  like "$(sed -n 1p "$T/mx6/q/1.msg")" '\[IPv6:::1\]\)$' "... over IPv6"
else
  skip 3 "no IPv6 loopback"
fi

# null MX: refused at once, nothing tried
before=$(grep -c '^conn' "$T/other.log")
rd "$T/m" -- null.example a@client.example u@null.example v@null.example
is "$RC" 0 "null MX: exit 0"
is "$(cat "$T/out")" "failure 1 null.example accepts no mail (null MX, RFC 7505)
failure 2 null.example accepts no mail (null MX, RFC 7505)" "null MX: every recipient fails at once"

# NXDOMAIN, no address, DNS failures
rd "$T/m" -- nosuch.example a@client.example u@nosuch.example
is "$(cat "$T/out")" "failure 1 nosuch.example has no MX record and no address (DNS)" "NXDOMAIN: permanent failure"
rd "$T/m" -- noaddr.example a@client.example u@noaddr.example
is "$(cat "$T/out")" "failure 1 no host took the message: gone.noaddr.example: it has no address (DNS)" "an MX host without an address: failure"
rd "$T/m" -- halfaddr.example a@client.example u@halfaddr.example
like "$(cat "$T/out")" '^success 1 mx\.halfaddr\.example\[127\.0\.0\.3\] ' "the first MX without an address, the second delivers"
t0=$(date +%s)
rd "$T/m" -- silent.test a@client.example u@silent.test
t1=$(date +%s)
is "$RC.$(cat "$T/out")" "0.deferral 1 DNS lookup of the MX records of silent.test failed: timed out" "a DNS timeout: deferral"
ok "... within timeoutconnect ($((t1 - t0)) s)" test $((t1 - t0)) -le 5
rd "$T/m" -- servfail.test a@client.example u@servfail.test
is "$(cat "$T/out")" "deferral 1 DNS lookup of the MX records of servfail.test failed: server failure" "SERVFAIL: deferral"
rd "$T/m" -- slowmx.example a@client.example u@slowmx.example
is "$(cat "$T/out")" "deferral 1 no host took the message: h.silent.test: DNS lookup of its address failed: timed out" "an MX host whose address lookup times out: deferral"
rd "$T/m" -- "$(printf 'b\303\274cher.example')" a@client.example "$(printf 'u@b\303\274cher.example')"
is "$(cat "$T/out")" "failure 1 b??cher.example has no MX record and no address (DNS)" "a UTF-8 domain: the line stays printable ASCII"
rd "$T/m" -- 'bad..example' a@client.example u@bad..example
is "$(cat "$T/out")" "failure 1 DNS lookup of the MX records of bad..example failed: not a valid domain name" "a domain that is no DNS name: failure"
DEAD=$(free_port udp)
DNSCACHEIP=127.0.0.1:$DEAD rd "$T/m" -- two.example a@client.example u@two.example
like "$(cat "$T/out")" '^deferral 1 DNS lookup of the MX records of two\.example failed: ' "no DNS server: deferral"
DNSCACHEIP=not-an-address rd "$T/m" -- two.example a@client.example u@two.example
is "$RC.$(cat "$T/out")" "111." "a malformed DNSCACHEIP: exit 111, no line (every recipient deferred)"
is "$(cat "$T/err")" "remote-deliver: fatal: unable to use \$DNSCACHEIP not-an-address: Invalid argument" "... saying why"
is "$(grep -c '^conn' "$T/other.log")" "$before" "no connection for any of these"

# smtproutes over MX: a route wins; a parent route; an empty relay with a port uses the MX
printf 'two.example:127.0.0.5:%s\n::%s\n' "$P" "$P" > "$L/control/smtproutes"
rd "$T/m" -- two.example a@client.example u@two.example
like "$(cat "$T/out")" '^success 1 \[127\.0\.0\.5\] said: 250 2\.0\.0 queued$' "smtproutes wins over MX"
printf '.example:127.0.0.5:%s\n::%s\n' "$P" "$P" > "$L/control/smtproutes"
rd "$T/m" -- two.example a@client.example u@two.example
like "$(cat "$T/out")" '^success 1 \[127\.0\.0\.5\] ' "a parent domain's route (.example)"
printf '.example:127.0.0.5:%s\ntwo.example::%s\n' "$P" "$P" > "$L/control/smtproutes"
rd "$T/m" -- two.example a@client.example u@two.example
like "$(cat "$T/out")" '^success 1 mx2\.two\.example\[127\.0\.0\.3\] ' "the domain's own line, empty relay: its MX records, on the line's port"
printf 'two.example:mx2.two.example:%s\n' "$P" > "$L/control/smtproutes"
rd "$T/m" -- two.example a@client.example u@two.example
like "$(cat "$T/out")" '^success 1 mx2\.two\.example\[127\.0\.0\.3\] ' "a relay by name: its address, not its MX"
rm -f "$L/control/smtproutes"
if [ -z "$(ss -ltnH 'sport = :25' 2>/dev/null)" ]; then
rd "$T/m" -- two.example a@client.example u@two.example
like "$(cat "$T/out")" '^deferral 1 no host took the message: mx1\.two\.example\[127\.0\.0\.2\]: connection refused; mx2\.two\.example\[127\.0\.0\.3\]: connection refused$' "without smtproutes: port 25, every host's problem in the line"
else
  skip 1 "something listens on port 25 here"
fi
