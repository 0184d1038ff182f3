#!/bin/sh
# smtpd benchmark: messages per second accepted over SMTP on loopback, with Postfix's
# smtp-source as the load, against Postfix's own smtpd in a private instance, in one run.
#   sluice:  tcpsrv -w 2 + resident smtpd (as the shipped service), each message handed to
#            queue-injectd over its socket, which writes it into the queue (file and todo/
#            fsynced) before smtpd says 250; no queue-run, so nothing is delivered (the
#            whole path is t/bench/queue.sh). No rblsmtpd: the shipped service leaves it out
#            when no DNSBL is configured.
#   postfix: a private instance (smtpd + cleanup, the queue file fsynced), delivering to the
#            discard transport; it never binds port 25 and is stopped on exit
# Both queues on one new ext4 filesystem. Also printed: one process start's cost here, the
# process starts per message of each, connections reused, and a round with one core busy.
# Prints: smtpd msgs/s: sluice X, postfix Y, ratio Z
# Tunables: SMTPD_BENCH_MSGS (default 500), SMTPD_BENCH_SESSIONS (default 10),
#   SMTPD_BENCH_WORKERS (default 2, as services/smtpd: tcpsrv -w 2, resident smtpd; 0: one
#   smtpd per connection).
. "$(dirname "$0")/common.shlib"
N=${SMTPD_BENCH_MSGS:-500}
S=${SMTPD_BENCH_SESSIONS:-10}
WORKERS=${SMTPD_BENCH_WORKERS:-2}
WOPT=""; [ "$WORKERS" = 0 ] || WOPT="-w $WORKERS"
SIZE=4096

for t in smtp-source postfix postconf cc; do
  command -v $t >/dev/null 2>&1 || { echo "smtpd msgs/s: skipped ($t is not installed)"; exit 0; }
done
for t in tcpsrv smtpd queue-injectd; do
  [ -x "$B/$t" ] || { echo "smtpd msgs/s: skipped ($B/$t is not built)"; exit 1; }
done

bench_init smtpd
bench_disk
SPAWN=$(bench_spawncost)

# --- sluice -----------------------------------------------------------------------------------
SL=$QROOT/sl
mkdir -p "$SL/control" "$SL/queue/tmp" "$SL/queue/todo"
echo mx.bench.example > "$SL/control/me"
echo bench.example > "$SL/control/rcpthosts"
bg env SLUICEDIR=$SL "$B/queue-injectd" 2> "$W/injectd.log"
bg env SLUICEDIR=$SL PATH="$B:$PATH" "$B/tcpsrv" -1 -c 100 $WOPT -H -R -l localhost 127.0.0.1 0 "$B/smtpd" > "$W/sl.port" 2> "$W/sl.log"
i=0; while { [ ! -s "$W/sl.port" ] || [ ! -S "$SL/queue/inject" ]; } && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
SLPORT=$(head -1 "$W/sl.port")
[ -n "$SLPORT" ] || { echo "smtpd msgs/s: failed (the sluice chain did not start)"; cat "$W/sl.log"; exit 1; }

# --- postfix ----------------------------------------------------------------------------------
PFPORT=$(free_port)
cat > "$W/main.extra" <<EOF
mydestination = bench.example
local_recipient_maps =
local_transport = discard:
virtual_transport = discard:
relay_transport = discard:
default_transport = discard:
EOF
echo "127.0.0.1:$PFPORT inet n - n - - smtpd" > "$W/master.extra"
pf_start "$W/main.extra" "$W/master.extra"
if [ $PF_STARTED = 1 ]; then
  i=0; while ! ss -ltnH "sport = :$PFPORT" 2>/dev/null | grep -q . && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
fi

# --- the load ---------------------------------------------------------------------------------
load() {   # load PORT COUNT [-d]: smtp-source, one message per connection (or, with -d, all
           # of a session's messages on one connection); exits non-zero on any refusal
  smtp-source ${3:-} -s "$S" -m "$2" -l $SIZE -f sender@bench.example -t user@bench.example "127.0.0.1:$1"
}
run() {    # run PORT [-d]: "messages-per-second pids-per-message" over N messages
  p0=$(lastpid); t0=$(now); load "$1" "$N" ${2:-} || return 1; t1=$(now); p1=$(lastpid)
  echo "$(rate "$N" "$t0" "$t1") $(awk -v a="$p0" -v b="$p1" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / n }')"
}

load $SLPORT 50 || { echo "smtpd msgs/s: failed (smtp-source against sluice)"; tail -5 "$W/sl.log"; exit 1; }
[ $PF_STARTED = 1 ] && { load $PFPORT 50 || { PFNOTE="smtp-source against postfix failed"; PF_STARTED=0; }; }
SLR="" PFR="" SLP="" PFP=""
for round in 1 2 3; do
  x=$(run $SLPORT) || { echo "smtpd msgs/s: failed (smtp-source against sluice, round $round)"; exit 1; }
  SLR="$SLR ${x% *}"; SLP=${x#* }
  if [ $PF_STARTED = 1 ]; then
    x=$(run $PFPORT) || { PFNOTE="smtp-source against postfix failed"; PF_STARTED=0; continue; }
    PFR="$PFR ${x% *}"; PFP=${x#* }
  fi
done
# for the record: connections reused (no TCP server fork and exec of smtpd per message), and
# one core kept busy by something else
x=$(run $SLPORT -d) && reuse_sl=${x% *} || reuse_sl=failed
reuse_pf=n/a
[ $PF_STARTED = 1 ] && { x=$(run $PFPORT -d) && reuse_pf=${x% *} || reuse_pf=failed; }
busy_start
x=$(run $SLPORT) && busy_sl=${x% *} || busy_sl=failed
busy_pf=n/a
[ $PF_STARTED = 1 ] && { x=$(run $PFPORT) && busy_pf=${x% *} || busy_pf=failed; }
busy_stop
queued=$(ls "$SL/queue/todo" | wc -l)
want=$((50 + 5 * N))

best() { echo $* | tr ' ' '\n' | sort -n | tail -1; }
echo "smtpd: one process start here (static binary, posix_spawn + wait): $SPAWN ms"
echo "smtpd: sluice = tcpsrv ${WOPT:+$WOPT }+ smtpd -> queue-injectd (socket; no process per message); $queued of $want messages in the queue; process starts per message: $SLP"
echo "smtpd: both queues on $FSNAME; $S parallel sessions, one $SIZE-byte message per connection, 3 rounds of $N"
echo "smtpd: sluice rounds:$SLR msgs/s"
if [ $PF_STARTED = 1 ]; then
  echo "smtpd: postfix = $(postconf -dh mail_version) private instance, smtpd + cleanup (queue file fsynced) + discard; process starts per message: $PFP"
  echo "smtpd: postfix rounds:$PFR msgs/s"
  echo "smtpd: connections reused (smtp-source -d): sluice $reuse_sl, postfix $reuse_pf msgs/s"
  echo "smtpd: with one core kept busy: sluice $busy_sl, postfix $busy_pf msgs/s, ratio $(awk -v a="$busy_sl" -v b="$busy_pf" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
  echo "smtpd msgs/s: sluice $(best $SLR), postfix $(best $PFR), ratio $(awk -v a="$(best $SLR)" -v b="$(best $PFR)" 'BEGIN { printf "%.2f", a / b }')"
else
  echo "smtpd msgs/s: sluice $(best $SLR), postfix n/a ($PFNOTE), ratio n/a"
fi
[ "$queued" = "$want" ] || { echo "smtpd: error: $queued messages in the queue, $want accepted"; exit 1; }
