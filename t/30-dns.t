#!/bin/sh
# tools/lib/dns against real servers on loopback (dnsmasq) and a deliberately broken one
# (t/fakedns.py), through the blocking API ("dns ask", the unit test binary's lookup mode).
. "$(dirname "$0")/lib.sh"
U=${SLUICE_UNIT:-$TOP/build/unit}
[ -x "$U/dns" ] || skip_all "no $U/dns (run make)"
command -v dnsmasq >/dev/null || skip_all "dnsmasq not installed"
plan 37

ask() { "$U/dns" ask "$@" 2>&1; }
# the interpreter itself, not a wrapper that may fork: start_bg must know its pid
PY=$(python3 -c 'import sys; print(sys.executable)')
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---- dnsmasq, authoritative for *.example only, never forwarding (--no-resolv, no --server)
P=$(free_port udp)
A200=$(printf '%0200d' 0 | tr 0 a)
start_bg dnsmasq -k -C /dev/null --pid-file= --port="$P" --listen-address=127.0.0.1 --bind-interfaces \
  --no-resolv --no-hosts --local=/example/ --local=/0.0.127.in-addr.arpa/ \
  --txt-record=2.0.0.127.bl.example,"listed here" --address=/2.0.0.127.bl.example/127.0.0.2 \
  --ptr-record=9.0.0.127.in-addr.arpa,Host.Example.ORG \
  --ptr-record=1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa,six.example \
  --address=/h.example/10.1.2.3 --address=/h.example/2001:db8::1 --address=/v4only.example/10.9.9.9 \
  --mx-host=example.com,mx.example.com,10 \
  --txt-record=big.example,"$A200","$A200","$A200" 2>"$T/dnsmasq.err"
wait_listen "$P" udp || diag "$(cat "$T/dnsmasq.err")"
export DNSCACHEIP=127.0.0.1:$P

is "$(ask txt 2.0.0.127.bl.example 2000)" "1 -
listed here" "TXT record"
is "$(ask a 2.0.0.127.bl.example 2000)" "1 -
127.0.0.2" "A record"
is "$(ask ptr 127.0.0.9 2000)" "1 -
host.example.org 16" "PTR of an IPv4 address, lower case, no final dot"
is "$(ask ptr ::ffff:127.0.0.9 2000)" "1 -
host.example.org 16" "PTR of a v4-mapped address asks in-addr.arpa"
is "$(ask ptr 2001:db8::1 2000)" "1 -
six.example 11" "PTR of an IPv6 address (ip6.arpa nibbles)"
is "$(ask ptr 127.0.0.8 2000)" "0 -" "no PTR: 0"
is "$(ask ptr not-an-ip 2000)" "-1 Invalid argument" "PTR of something that is no address: EINVAL"
is "$(ask ip46 h.example 2000)" "1 -
0000:0000:0000:0000:0000:ffff:0a01:0203
2001:0db8:0000:0000:0000:0000:0000:0001" "A and AAAA together, IPv4 first, v4-mapped"
is "$(ask ip46 v4only.example 2000)" "1 -
0000:0000:0000:0000:0000:ffff:0a09:0909" "A only"
is "$(ask ip46 nothing.example 2000)" "0 -" "neither: 0"
is "$(ask mx example.com 2000)" "1 -
10 mx.example.com" "MX record"
is "$(ask txt nx.example 2000)" "0 -" "NXDOMAIN: 0"
is "$(ask txt elsewhere.org 2000)" "-1 Connection refused" "REFUSED: -1 ECONNREFUSED"
out=$(ask txt big.example 2000)
is "$(printf '%s\n' "$out" | head -1) $(printf '%s\n' "$out" | tail -1 | wc -c)" "1 - 601" "a truncated UDP answer is asked again over TCP"
is "$(ask txt 'bad..name' 2000)" "-1 Invalid argument" "a malformed name: EINVAL, nothing sent"

# ---- the server setting
is "$(DNSCACHEIP=127.0.0.1:99999 ask a x.example 500)" "-1 Invalid argument" "malformed DNSCACHEIP: EINVAL, no fallback"
is "$(DNSCACHEIP=localhost ask a x.example 500)" "-1 Invalid argument" "a name in DNSCACHEIP: EINVAL"
is "$(DNSCACHEIP='' ask a x.example 500)" "-1 Invalid argument" "empty DNSCACHEIP: EINVAL"
DEAD=$(free_port udp)
t0=$(now_ms)
is "$(DNSCACHEIP=127.0.0.1:$DEAD ask a x.example 3000)" "-1 Connection refused" "nobody on the port: ECONNREFUSED"
t1=$(now_ms)
ok "... at once, not at the deadline ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 1500

# IPv6 server, [addr]:port
if ip -6 addr show lo 2>/dev/null | grep -q '::1'; then
  P6=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::1",0)); print(s.getsockname()[1])')
  start_bg dnsmasq -k -C /dev/null --pid-file= --port="$P6" --listen-address=::1 --bind-interfaces \
    --no-resolv --no-hosts --local=/example/ --address=/six.example/10.6.6.6 2>/dev/null
  wait_listen "$P6" udp
  is "$(DNSCACHEIP="[::1]:$P6" ask a six.example 2000)" "1 -
10.6.6.6" "a server on [::1]:port"
else
  skip 1 "no IPv6 loopback"
fi

# ---- a server that misbehaves on purpose
FP=$(free_port udp)
start_bg "$PY" "$TOP/t/fakedns.py" "$FP" >"$T/fake.out"
wait_listen "$FP" udp
export DNSCACHEIP=127.0.0.1:$FP
is "$(ask a 2.0.0.127.ok.test 2000)" "1 -
127.0.0.2" "fake server: a good answer"
is "$(ask txt 2.0.0.127.wrongid.test 2000)" "1 -
fake listed" "a reply with the wrong ID, then garbage, then the right one: the right one wins"
is "$(ask txt 2.0.0.127.trunc.test 2000)" "-1 Bad message" "an answer cut short: EBADMSG"
is "$(ask a 2.0.0.127.loop.test 2000)" "-1 Bad message" "a compression loop in an answer: EBADMSG"
is "$(ask a 2.0.0.127.servfail.test 2000)" "-1 Resource temporarily unavailable" "SERVFAIL: EAGAIN"
is "$(ask a 2.0.0.127.refused.test 2000)" "-1 Connection refused" "REFUSED: ECONNREFUSED"
is "$(ask a 2.0.0.127.nx.test 2000)" "0 -" "NXDOMAIN: 0"
is "$(ask txt 2.0.0.127.tc.test 2000)" "1 -
fake listed" "TC over UDP, the answer over TCP"
is "$(ask txt 2.0.0.127.oversize.test 2000 | head -2)" "1 -
fake listed" "an oversized UDP answer without TC is still parsed"
t0=$(now_ms)
is "$(ask a 2.0.0.127.retry.test 3000)" "1 -
127.0.0.2" "the first datagram lost: the retransmission gets the answer"
t1=$(now_ms)
ok "... about a second later ($((t1 - t0)) ms)" test $((t1 - t0)) -ge 900 -a $((t1 - t0)) -lt 2800

# everything that must be ignored ends at the deadline, not earlier, not much later
for mode in silent garbage qloop wrongq othersrc; do
  t0=$(now_ms)
  r=$(ask a "2.0.0.127.$mode.test" 600)
  t1=$(now_ms)
  el=$((t1 - t0))
  if [ "$r" = "-1 Connection timed out" ] && [ $el -ge 550 ] && [ $el -lt 2000 ]; then
    _pass "$mode: ignored, ETIMEDOUT at the deadline ($el ms)"
  else
    _fail "$mode: ignored, ETIMEDOUT at the deadline"; diag "got: $r after $el ms"
  fi
done
