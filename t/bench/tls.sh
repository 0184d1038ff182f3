#!/bin/sh
# TLS benchmark, one run of each (the load client is t/bench/tlsload.c, OpenSSL, one context):
#   STARTTLS msgs/s: SMTP with STARTTLS, one 4 KiB message per connection, 10 at once;
#     sluice: tcpsrv -w + tls-wrap -s + smtpd -> queue-injectd (the queue on disk, fsynced):
#       resident workers (tls-wrap keeps its certificate, its TLS library's tables and its own
#       resident smtpd); also, for comparison, without -w: tls-wrap and smtpd per connection;
#     postfix: a private instance, smtpd_tls_security_level = may, the same certificate,
#     smtpd + cleanup + discard.
#   implicit handshakes/s: a TLS handshake, the 220 greeting, QUIT, 10 at once;
#     sluice: tcpsrv -w + tls-wrap + smtpd (and without -w); stunnel4 (accept, connect) in
#     front of tcpsrv + smtpd.
#   Neither side resumes sessions: tlsload turns off OpenSSL's session cache and tickets, so
#   every connection is a full handshake (P-256 ECDHE, ECDSA certificate).
#   CPU time per connection on the server side (user + system, from /proc: what a shared
#     machine's load changes least): sluice (tcpsrv's children + queue-injectd), postfix (all
#     its processes), stunnel (its own + tcpsrv's children behind it).
#   resident memory (Pss) per TLS connection held open: sluice (tls-wrap + smtpd), postfix
#     (its smtpd), stunnel (its growth, plus the smtpd behind it).
# Prints: tls starttls msgs/s: sluice X, postfix Y, ratio Z   (sluice: the resident chain)
#         tls implicit handshakes/s: sluice X, stunnel Y, ratio Z
# Tunables: TLS_BENCH_MSGS (default 300), TLS_BENCH_HANDSHAKES (default 500), TLS_BENCH_HOLD (50).
. "$(dirname "$0")/common.shlib"
N=${TLS_BENCH_MSGS:-300}
H=${TLS_BENCH_HANDSHAKES:-500}
K=${TLS_BENCH_HOLD:-50}
S=10

for t in openssl cc stunnel4; do
  command -v $t >/dev/null 2>&1 || { echo "tls: skipped ($t is not installed)"; exit 0; }
done
for t in tcpsrv smtpd queue-injectd tls-wrap; do
  [ -x "$B/$t" ] || { echo "tls: skipped ($B/$t is not built)"; exit 1; }
done
bench_init tls
bench_disk
SPAWN=$(bench_spawncost)
cc -O2 -o "$W/tlsload" "$(dirname "$0")/tlsload.c" -lssl -lcrypto 2> "$W/cc.log" ||
  { echo "tls: skipped (the load client does not build: $(head -1 "$W/cc.log"))"; exit 0; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/key.pem" \
  -out "$W/cert.pem" -days 2 -subj /CN=mx.bench.example >/dev/null 2>&1 || { echo "tls: failed (openssl req)"; exit 1; }
chmod 644 "$W/key.pem"

# --- sluice: STARTTLS (port 25/587 style), implicit TLS (465), plain behind stunnel ----------
SL=$QROOT/sl
mkdir -p "$SL/control" "$SL/queue/tmp" "$SL/queue/todo"
echo mx.bench.example > "$SL/control/me"
echo bench.example > "$SL/control/rcpthosts"
bg env SLUICEDIR=$SL "$B/queue-injectd" 2> "$W/injectd.log"; INJ_PID=$!
sl_start() {   # sl_start NAME OPTS CMD...: tcpsrv OPTS on a free port, its port in $W/NAME.port
  _n=$1; _o=$2; shift 2
  bg env SLUICEDIR=$SL PATH="$B:$PATH" CERTFILE="$W/cert.pem" KEYFILE="$W/key.pem" \
    "$B/tcpsrv" -1 -c 200 -H -R -l localhost $_o 127.0.0.1 0 "$@" > "$W/$_n.port" 2> "$W/$_n.log"
}
sl_start starttls "-w $S" "$B/tls-wrap" -s "$B/smtpd"; SLS_PID=$!
sl_start implicit "-w $S" "$B/tls-wrap" "$B/smtpd"; SLI_PID=$!
sl_start starttls1 "" "$B/tls-wrap" -s "$B/smtpd"; SLS1_PID=$!
sl_start implicit1 "" "$B/tls-wrap" "$B/smtpd"; SLI1_PID=$!
sl_start plain "" "$B/smtpd"; SLP_PID=$!
i=0; while { [ ! -s "$W/starttls.port" ] || [ ! -s "$W/implicit.port" ] || [ ! -s "$W/starttls1.port" ] || [ ! -s "$W/implicit1.port" ] || [ ! -s "$W/plain.port" ] || [ ! -S "$SL/queue/inject" ]; } && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
SLS=$(head -1 "$W/starttls.port"); SLI=$(head -1 "$W/implicit.port"); SLP=$(head -1 "$W/plain.port")
SLS1=$(head -1 "$W/starttls1.port"); SLI1=$(head -1 "$W/implicit1.port")
[ -n "$SLS" ] && [ -n "$SLI" ] && [ -n "$SLS1" ] && [ -n "$SLI1" ] && [ -n "$SLP" ] || { echo "tls: failed (the sluice chains did not start)"; exit 1; }

# --- stunnel4 in front of tcpsrv + smtpd -----------------------------------------------------
STP=$(free_port)
cat > "$W/stunnel.conf" <<EOF
foreground = yes
pid =
debug = 3
[smtps]
accept = 127.0.0.1:$STP
connect = 127.0.0.1:$SLP
cert = $W/cert.pem
key = $W/key.pem
EOF
bg stunnel4 "$W/stunnel.conf" 2> "$W/stunnel.log"
STPID=$!

# --- postfix with STARTTLS ----------------------------------------------------------------------
PFPORT=$(free_port)
cat > "$W/main.extra" <<EOF
mydestination = bench.example
local_recipient_maps =
local_transport = discard:
virtual_transport = discard:
relay_transport = discard:
default_transport = discard:
smtpd_tls_security_level = may
smtpd_tls_cert_file = $W/cert.pem
smtpd_tls_key_file = $W/key.pem
smtpd_tls_session_cache_database =
EOF
{ echo "127.0.0.1:$PFPORT inet n - n - - smtpd"; echo "tlsmgr unix - - n 1000? 1 tlsmgr"; } > "$W/master.extra"
pf_start "$W/main.extra" "$W/master.extra"
for p in $STP $PFPORT; do
  i=0; while ! ss -ltnH "sport = :$p" 2>/dev/null | grep -q . && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
done

# --- runs ---------------------------------------------------------------------------------------
run() {   # run MODE PORT COUNT: per second, or "failed"
  _t=$("$W/tlsload" "$1" "$2" "$3" $S) && awk -v n="$3" -v t="$_t" 'BEGIN { printf "%.0f", n / t }' || echo failed
}
pids_per() {   # pids_per MODE PORT COUNT: process starts per session, once warm (resident
               # workers retired after 30 s idle are started again first)
  "$W/tlsload" "$1" "$2" 50 $S >/dev/null
  _p0=$(lastpid); "$W/tlsload" "$1" "$2" "$3" $S >/dev/null; _p1=$(lastpid)
  awk -v a="$_p0" -v b="$_p1" -v n="$3" -v s=$S 'BEGIN { printf "%.2f", (b - a - s) / n }'
}
best() { echo $* | tr ' ' '\n' | grep -v failed | sort -n | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }'; }

"$W/tlsload" starttls $SLS 20 $S >/dev/null || { echo "tls: failed (STARTTLS against sluice)"; tail -5 "$W/starttls.log"; exit 1; }
[ $PF_STARTED = 1 ] && { "$W/tlsload" starttls $PFPORT 20 $S >/dev/null || { PFNOTE="STARTTLS against postfix failed"; PF_STARTED=0; }; }
"$W/tlsload" implicit $SLI 20 $S >/dev/null || { echo "tls: failed (implicit TLS against sluice)"; tail -5 "$W/implicit.log"; exit 1; }
"$W/tlsload" starttls $SLS1 20 $S >/dev/null || { echo "tls: failed (STARTTLS against sluice without -w)"; tail -5 "$W/starttls1.log"; exit 1; }
"$W/tlsload" implicit $SLI1 20 $S >/dev/null || { echo "tls: failed (implicit TLS against sluice without -w)"; tail -5 "$W/implicit1.log"; exit 1; }
STOK=1; "$W/tlsload" implicit $STP 20 $S >/dev/null || STOK=0

SLR="" PFR="" SLH="" STH="" SLR1="" SLH1=""
for round in 1 2 3; do
  SLR="$SLR $(run starttls $SLS $N)"
  SLR1="$SLR1 $(run starttls $SLS1 $N)"
  [ $PF_STARTED = 1 ] && PFR="$PFR $(run starttls $PFPORT $N)"
  SLH="$SLH $(run implicit $SLI $H)"
  SLH1="$SLH1 $(run implicit $SLI1 $H)"
  [ $STOK = 1 ] && STH="$STH $(run implicit $STP $H)"
done
SLPP=$(pids_per starttls $SLS 100)
SLIP=$(pids_per implicit $SLI 100)
SLPP1=$(pids_per starttls $SLS1 100)
SLIP1=$(pids_per implicit $SLI1 100)

# --- CPU per connection --------------------------------------------------------------------------
HZ=$(getconf CLK_TCK)
ticks() {   # ticks own|kids PID...: their user + system time (own), or their reaped children's
  for p in "$@"; do
    awk -v k="$1" '{ sub(/^.*\) /, ""); print (k == "own") ? $12 + $13 : $14 + $15 }' /proc/$p/stat 2>/dev/null
  done | awk '{ s += $1 } END { print s + 0 }'
}
descendants() { for _c in $(pgrep -P "$1"); do echo $_c; descendants $_c; done; }
tree() {   # tree PID: the CPU ticks of PID's descendants, living (their own and their reaped
           # children's) and reaped (PID's children's)
  _d=$(descendants "$1")
  echo $(( $(ticks kids "$1") + $(ticks own $_d) + $(ticks kids $_d) ))
}
pfmaster() { tr -d ' ' < "$QROOT/pf/spool/pid/master.pid"; }
pfpids() { _m=$(pfmaster); echo $_m; descendants $_m; }
cpu() {   # cpu MODE PORT COUNT MEASURE: ms of CPU per session, MEASURE printing ticks
  _a=$(eval "$4"); "$W/tlsload" "$1" "$2" "$3" $S >/dev/null || { echo failed; return; }; sleep 0.3; _b=$(eval "$4")
  awk -v a="$_a" -v b="$_b" -v n="$3" -v hz=$HZ 'BEGIN { printf "%.1f", (b - a) * 1000 / hz / n }'
}
CPU_SLS=$(cpu starttls $SLS 200 'echo $(( $(tree $SLS_PID) + $(ticks own $INJ_PID $(pgrep -P $INJ_PID)) ))')
CPU_SLS1=$(cpu starttls $SLS1 200 'echo $(( $(tree $SLS1_PID) + $(ticks own $INJ_PID $(pgrep -P $INJ_PID)) ))')
CPU_PF=n/a
# (and the master's reaped children: an smtpd that retires during the run, after max_use)
[ $PF_STARTED = 1 ] && CPU_PF=$(cpu starttls $PFPORT 200 'echo $(( $(ticks own $(pfpids)) + $(ticks kids $(pfmaster)) ))')
CPU_SLI=$(cpu implicit $SLI 300 'tree $SLI_PID')
CPU_SLI1=$(cpu implicit $SLI1 300 'tree $SLI1_PID')
CPU_ST=n/a
[ $STOK = 1 ] && CPU_ST=$(cpu implicit $STP 300 'echo $(( $(ticks own $STPID) + $(ticks kids $SLP_PID) ))')

# --- resident memory per connection held open ---------------------------------------------------
pss() {   # pss PID...: the sum of their Pss, kB
  for p in "$@"; do awk '/^Pss:/ { print $2 }' /proc/$p/smaps_rollup 2>/dev/null; done | awk '{ s += $1 } END { print s + 0 }'
}
hold() {   # hold MODE PORT: K sessions held open while $HOLDCMD measures, then released
  rm -f "$W/hold.in" "$W/hold.out"; mkfifo "$W/hold.in"
  "$W/tlsload" "$1" "$2" $K < "$W/hold.in" > "$W/hold.out" &
  _h=$!
  exec 9> "$W/hold.in"
  i=0; while ! grep -q ready "$W/hold.out" 2>/dev/null && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
  if grep -q ready "$W/hold.out"; then sleep 0.5; eval "$HOLDCMD"; else echo n/a; fi
  exec 9>&-
  wait $_h 2>/dev/null
}
HOLDCMD='echo $(( $(pss $(descendants $SLI_PID)) / K ))'
MEM_SL=$(hold hold $SLI)
HOLDCMD='echo $(( $(pss $(descendants $SLI1_PID)) / K ))'
MEM_SL1=$(hold hold $SLI1)
MEM_PF=n/a
if [ $PF_STARTED = 1 ]; then
  HOLDCMD='echo $(( $(pss $(pgrep -f "^smtpd -n 127.0.0.1:$PFPORT")) / K ))'
  MEM_PF=$(hold holds $PFPORT)
fi
MEM_ST=n/a
if [ $STOK = 1 ]; then
  ST0=$(pss $STPID)
  HOLDCMD='echo $(( ($(pss $STPID) - ST0 + $(pss $(descendants $SLP_PID))) / K ))'
  MEM_ST=$(hold hold $STP)
fi

echo "tls: one process start here (static binary, posix_spawn + wait): $SPAWN ms; the machine may be shared"
echo "tls: sluice process starts per STARTTLS message: resident (tcpsrv -w $S) $SLPP, per connection $SLPP1 (tcpsrv's child execs tls-wrap, whose fork execs smtpd; queue-injectd starts none); per implicit handshake: resident $SLIP, per connection $SLIP1"
echo "tls: STARTTLS, one 4 KiB message per connection, $S at once, 3 rounds of $N: sluice resident$SLR msgs/s, sluice per connection$SLR1 msgs/s"
if [ $PF_STARTED = 1 ]; then
  echo "tls: postfix $(postconf -dh mail_version) (smtpd_tls_security_level = may, same certificate):$PFR msgs/s"
  echo "tls starttls msgs/s: sluice $(best $SLR), postfix $(best $PFR), ratio $(ratio "$(best $SLR)" "$(best $PFR)")"
else
  echo "tls starttls msgs/s: sluice $(best $SLR), postfix n/a ($PFNOTE), ratio n/a"
fi
echo "tls: implicit TLS, handshake + greeting + QUIT, $S at once, 3 rounds of $H: sluice resident$SLH, sluice per connection$SLH1, stunnel4 + tcpsrv + smtpd$STH"
echo "tls implicit handshakes/s: sluice $(best $SLH), stunnel $(best $STH), ratio $(ratio "$(best $SLH)" "$(best $STH)")"
echo "tls: CPU per connection, server side: STARTTLS message: sluice resident $CPU_SLS ms, per connection $CPU_SLS1 ms, postfix $CPU_PF ms; implicit handshake: sluice resident $CPU_SLI ms, per connection $CPU_SLI1 ms, stunnel4 + tcpsrv + smtpd $CPU_ST ms"
echo "tls: resident memory (Pss) per TLS connection held open ($K): sluice (tls-wrap + smtpd) resident $MEM_SL kB, per connection $MEM_SL1 kB, postfix (smtpd) $MEM_PF kB, stunnel (+ smtpd behind it) $MEM_ST kB"
