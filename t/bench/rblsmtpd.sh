#!/bin/sh
# rblsmtpd: time to decide for a client checked against three lists, sluice against
# Debian's rblsmtpd 0.88, same lists, same server, one run.
#   scenario 1: three lists, one of them dead (never answers)
#   scenario 2: three quick lists
# The lists are served by a small DNS server on port 53 of a loopback address (0.88 only
# speaks to port 53, so this needs root) that answers after LATENCY ms, as a remote list
# would, and serves queries in parallel, as the Internet does. The client is not listed, so
# every list must be consulted. 0.88 waits for its own per-list timeouts (about a minute
# for a dead list): its run is cut by timeout(1) after CLASSIC_CAP seconds.
set -u
B=${SLUICE_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/bin}
LATENCY=${LATENCY:-50}   # a typical round trip to a remote list
RUNS=${RUNS:-20}
DEADLINE=2
CLASSIC_CAP=10
[ "$(id -u)" = 0 ] || { echo "rblsmtpd: skipped (0.88 needs a DNS server on port 53: run as root)"; exit 0; }
[ -x /usr/bin/rblsmtpd ] || { echo "rblsmtpd: skipped (no /usr/bin/rblsmtpd: apt-get install ucspi-tcp)"; exit 0; }
T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
ADDR=127.$(( $$ % 200 + 20 )).$(( ($$ / 200) % 250 + 1 )).54
PY=$(python3 -c 'import sys; print(sys.executable)')
"$PY" - "$ADDR" "$LATENCY" >"$T/dns.out" 2>&1 <<'EOF' &
import heapq, select, socket, struct, sys, time
addr, latency = sys.argv[1], int(sys.argv[2]) / 1000.0
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, 53))
print("ready", flush=True)
due = []
while True:
    wait = max(0.0, due[0][0] - time.time()) if due else None
    r, _, _ = select.select([s], [], [], wait)
    if r:
        pkt, peer = s.recvfrom(4096)
        i = 12
        labels = []
        while i < len(pkt) and pkt[i]:
            labels.append(pkt[i + 1:i + 1 + pkt[i]].lower())
            i += 1 + pkt[i]
        if len(labels) >= 2 and labels[-2] == b"dead":
            continue
        # NXDOMAIN: the client is on no list
        reply = pkt[:2] + b"\x85\x83" + b"\x00\x01\x00\x00\x00\x00\x00\x00" + pkt[12:i + 5]
        heapq.heappush(due, (time.time() + latency, reply, peer))
    while due and due[0][0] <= time.time():
        _, reply, peer = heapq.heappop(due)
        s.sendto(reply, peer)
EOF
DNSPID=$!
trap 'kill $DNSPID 2>/dev/null; rm -rf "$T"' EXIT INT TERM
i=0; while ! grep -q ready "$T/dns.out" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
grep -q ready "$T/dns.out" || { echo "rblsmtpd: the bench DNS server did not start: $(cat "$T/dns.out")"; exit 1; }
export DNSCACHEIP=$ADDR TCPREMOTEIP=192.0.2.77

now_ns() { date +%s%N; }
# run N CMD...: seconds per run, averaged over N runs
run() {
  _n=$1; shift; _i=0; _t0=$(now_ns)
  while [ $_i -lt "$_n" ]; do "$@" </dev/null >/dev/null 2>&1; _i=$((_i+1)); done
  echo "$_t0 $(now_ns) $_n" | awk '{printf "%.3f", ($2 - $1) / 1e9 / $3}'
}
ratio() { echo "$1 $2" | awk '{ if ($2 > 0) printf "%.2f", $1 / $2; else print "n/a" }'; }

# scenario 1: one dead list among three
s1=$(run 3 "$B/rblsmtpd" -T $DEADLINE -r l1.bench -r dead.bench -r l3.bench /bin/true)
c1=$(run 1 timeout $CLASSIC_CAP /usr/bin/rblsmtpd -r l1.bench -r dead.bench -r l3.bench /bin/true)
capped=""
[ "$(echo "$c1 $CLASSIC_CAP" | awk '{print ($1 >= $2 - 0.05)}')" = 1 ] && capped=" (cut at ${CLASSIC_CAP}s)"
echo "rblsmtpd 3 lists (1 dead): sluice ${s1}s, classic ${c1}s${capped}, ratio $(ratio "$s1" "$c1") (sluice deadline -T $DEADLINE)"

# scenario 2: three quick lists, each answering after LATENCY ms
s2=$(run "$RUNS" "$B/rblsmtpd" -r l1.bench -r l2.bench -r l3.bench /bin/true)
c2=$(run "$RUNS" /usr/bin/rblsmtpd -r l1.bench -r l2.bench -r l3.bench /bin/true)
# the same start-up and exec without any lookup, for scale
s0=$(RBLSMTPD= run "$RUNS" "$B/rblsmtpd" -r l1.bench /bin/true)
c0=$(RBLSMTPD= run "$RUNS" /usr/bin/rblsmtpd -r l1.bench /bin/true)
echo "rblsmtpd 3 quick lists: sluice ${s2}s, classic ${c2}s, ratio $(ratio "$s2" "$c2") (lists answer in ${LATENCY} ms, ${RUNS} runs; without lookups: sluice ${s0}s, classic ${c0}s)"
