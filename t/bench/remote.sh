#!/bin/sh
# Relaying: a full queue of messages for remote domains, drained to a sink over loopback.
#   sluice:  queue-run -> queue-spawn -> queue-remote workers (reused, sessions kept)
#   postfix: a private instance: qmgr -> smtp (processes reused, connections cached)
# The sink is Postfix's smtp-sink on 127.0.0.1. Each queue is loaded through its own SMTP
# server with delivery held (sluice: queue-run not running; Postfix: defer_transports =
# smtp), MSGS messages of SIZE bytes, one recipient each, spread over DOMAINS domains that
# control/smtproutes (Postfix: transport_maps) send to the sink; then delivery is released
# and timed until the sink has counted every message. Both deliver 20 at a time (sluice's
# control/concurrencyremote, Postfix's default destination concurrency), on one new ext4
# filesystem. Also printed: the cost of one process start here, the processes started per
# message by each (pids handed out by the kernel while draining, divided by the messages),
# the CPU time each side spends per message (perf stat, when it works here), and what one
# remote-deliver run against the sink costs alone.
# Run as root, it runs in a PID namespace of its own, so that the count of process starts is
# exact on a shared machine.
# Prints: remote msgs/s: sluice X, postfix Y, ratio Z
# Tunables: REMOTE_BENCH_MSGS (default 5000), REMOTE_BENCH_DOMAINS (50), REMOTE_BENCH_ROUNDS (2).
# In a PID namespace of its own when it can (root, util-linux's unshare): the pids the kernel
# hands out there are this benchmark's processes only, whatever else the machine runs.
if [ -z "${REMOTE_BENCH_NS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 \
   && unshare --pid --fork --mount-proc true 2>/dev/null; then
  REMOTE_BENCH_NS=1 exec unshare --pid --fork --mount-proc sh "$0" "$@"
fi
. "$(dirname "$0")/common.shlib"
N=${REMOTE_BENCH_MSGS:-5000}
DOMAINS=${REMOTE_BENCH_DOMAINS:-50}
ROUNDS=${REMOTE_BENCH_ROUNDS:-2}
SIZE=4096
RUSER=47302                     # queue-remote (and remote-deliver) run as this uid:gid

for t in smtp-source smtp-sink postfix postconf postqueue cc; do
  command -v $t >/dev/null 2>&1 || { echo "remote msgs/s: skipped ($t is not installed)"; exit 0; }
done
for t in tcpsrv smtpd queue-injectd queue-run queue-spawn queue-inject queue-remote remote-deliver; do
  [ -x "$B/$t" ] || { echo "remote msgs/s: skipped ($B/$t is not built)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "remote msgs/s: skipped (needs root: a private Postfix, remote deliveries as another uid)"; exit 0; }
[ $((N % DOMAINS)) = 0 ] || { echo "remote msgs/s: MSGS must be a multiple of DOMAINS"; exit 1; }

bench_init remote
bench_disk 2G
SPAWN=$(bench_spawncost)
# CPU time per message, when perf can count it: less at the mercy of a shared machine than
# the rate (perf stat's task-clock, summed over the processes of each side)
PERF=""
if command -v perf >/dev/null 2>&1 && perf stat -e task-clock -x, -o /dev/null true 2>/dev/null; then
  PERF="perf stat -e task-clock -x,"
fi
# cpu FILE: perf's task-clock in FILE, in ms per message, or "?"
cpu() { awk -F, -v n="$N" '$3 == "task-clock" && $1 + 0 > 0 { printf "%.2f", $1 / n; f = 1 } END { if (!f) print "?" }' "$1" 2>/dev/null || echo "?"; }

# --- the sink ---------------------------------------------------------------------------------
SINKPORT=$(free_port)
bg smtp-sink -u nobody -c 127.0.0.1:$SINKPORT 1000 > "$W/sink.out" 2> "$W/sink.err"
i=0; while ! ss -ltnH "sport = :$SINKPORT" 2>/dev/null | grep -q . && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
# sunk: the messages the sink has taken so far (its counter, -c, the last "mesg=N" it wrote)
sunk() { tail -c 200 "$W/sink.out" | tr '\r' '\n' | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1 | grep . || echo 0; }
# until_sunk WANT TIMEOUT: poll the counter every 20 ms; prints what it reached
cat > "$W/until.py" <<'EOF'
import sys, time, re
path, want, limit = sys.argv[1], int(sys.argv[2]), time.time() + float(sys.argv[3])
n = 0
while True:
    with open(path, "rb") as f:
        f.seek(0, 2); size = f.tell(); f.seek(max(0, size - 200))
        m = re.findall(rb"mesg=(\d+)", f.read())
    n = int(m[-1]) if m else 0
    if n >= want or time.time() > limit: break
    time.sleep(0.02)
print(n)
EOF
domains() { i=1; while [ $i -le $DOMAINS ]; do echo "d$i.bench.example"; i=$((i+1)); done; }
# load PORT: MSGS messages over SMTP, MSGS/DOMAINS to rcpt@ each domain, 10 domains at a time
# (always called in a subshell, $(...): its wait is for the smtp-sources only)
load() {
  k=0
  for d in $(domains); do
    smtp-source -s 2 -m $((N / DOMAINS)) -l $SIZE -f sender@src.bench.example -t "rcpt@$d" "127.0.0.1:$1" &
    k=$((k + 1))
    [ $((k % 10)) = 0 ] && wait
  done
  wait
}

# --- sluice --------------------------------------------------------------------------------------
SL=$QROOT/sl
mkdir -p "$SL/control" "$SL/queue/tmp" "$SL/queue/todo" "$SL/queue/mess" "$SL/queue/info"
chmod 755 "$QROOT" "$SL"
echo relay.bench.example > "$SL/control/me"
domains | sed "s/\$/:127.0.0.1:$SINKPORT/" > "$SL/control/smtproutes"
export PATH="$B:$PATH"
# every route is an address: no DNS question is asked; if one were, it would go nowhere
export DNSCACHEIP=127.0.0.1:9
bg env SLUICEDIR=$SL queue-injectd 2> "$W/sl-injectd.log"
bg env SLUICEDIR=$SL RELAYCLIENT= tcpsrv -1 -c 100 -H -R -l localhost 127.0.0.1 0 smtpd > "$W/sl.port" 2> "$W/sl.log"
i=0; while { [ ! -s "$W/sl.port" ] || [ ! -S "$SL/queue/inject" ]; } && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
SLPORT=$(head -1 "$W/sl.port")
[ -n "$SLPORT" ] || { echo "remote msgs/s: failed (the sluice chain did not start)"; cat "$W/sl.log"; exit 1; }
# sl_round: load with queue-run stopped, then start it and time the drain; prints "rate pids"
sl_round() {
  load "$SLPORT"
  n=$(ls "$SL/queue/todo" | wc -l)
  [ "$n" = "$N" ] || { echo "failed (todo/ holds $n of $N after the load)"; return 1; }
  base=$(sunk)
  rm -f "$W/sl.pid"
  p0=$(lastpid); t0=$(now)
  # with perf: the CPU time of queue-run, queue-spawn and every queue-remote (inherited)
  $PERF -o "$W/sl.perf" -- sh -c 'echo $$ > "$0"; exec "$@"' "$W/sl.pid" \
    env SLUICEDIR=$SL queue-spawn -r $RUSER:$RUSER queue-run 2>> "$W/sl-queue.log" &
  wrap=$!
  got=$("$PY" "$W/until.py" "$W/sink.out" $((base + N)) 600)
  t1=$(now); p1=$(lastpid)
  kill -TERM "$(cat "$W/sl.pid")"; wait $wrap
  [ "$got" -ge $((base + N)) ] || { echo "failed ($((got - base)) of $N reached the sink)"; return 1; }
  left=$(find "$SL/queue/mess" "$SL/queue/todo" -type f | wc -l)
  [ "$left" = 0 ] || { echo "failed ($left messages left in the queue)"; return 1; }
  echo "$(rate "$N" "$t0" "$t1") $(awk -v a="$p0" -v b="$p1" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / n }') $(cpu "$W/sl.perf")"
}

# --- postfix -------------------------------------------------------------------------------------
PFPORT=$(free_port)
domains | sed "s/\$/ smtp:[127.0.0.1]:$SINKPORT/" > "$W/transport"
cat > "$W/main.extra" <<EOF
mydestination =
local_recipient_maps =
relay_domains =
transport_maps = texthash:$W/transport
smtp_dns_support_level = disabled
smtp_helo_name = relay.bench.example
defer_transports = smtp
EOF
cat > "$W/master.extra" <<EOF
127.0.0.1:$PFPORT inet n - n - - smtpd
smtp      unix  -       -       n       -       -       smtp
EOF
pf_start "$W/main.extra" "$W/master.extra"
if [ $PF_STARTED = 1 ]; then
  i=0; while ! ss -ltnH "sport = :$PFPORT" 2>/dev/null | grep -q . && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
fi
PFQ=$QROOT/pf/spool
pf_queued() { find "$PFQ/incoming" "$PFQ/active" "$PFQ/deferred" "$PFQ/maildrop" -type f 2>/dev/null | wc -l; }
pf_deferred() { find "$PFQ/deferred" -type f 2>/dev/null | wc -l; }
# pf_round: load with smtp deferred, then release it and time the drain; prints "rate pids"
pf_round() {
  postconf -c "$W/pf/etc" -e "defer_transports = smtp" && postfix -c "$W/pf/etc" reload >/dev/null 2>&1
  load "$PFPORT"
  i=0; while [ "$(pf_deferred)" -lt "$N" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done
  n=$(pf_deferred)
  [ "$n" = "$N" ] || { echo "failed (the deferred queue holds $n of $N after the load)"; return 1; }
  base=$(sunk)
  postconf -c "$W/pf/etc" -e "defer_transports ="
  # with perf: the CPU time of the master and every process it starts from now (qmgr after
  # the reload, smtp, flush)
  perfpid=""
  if [ -n "$PERF" ]; then
    $PERF -o "$W/pf.perf" -p "$(head -1 "$PFQ/pid/master.pid" | tr -d ' ')" &
    perfpid=$!
    sleep 0.2
  fi
  p0=$(lastpid); t0=$(now)
  postfix -c "$W/pf/etc" reload >/dev/null 2>&1
  postqueue -c "$W/pf/etc" -f
  got=$("$PY" "$W/until.py" "$W/sink.out" $((base + N)) 600)
  t1=$(now); p1=$(lastpid)
  [ -n "$perfpid" ] && { kill -INT $perfpid; wait $perfpid; }
  [ "$got" -ge $((base + N)) ] || { echo "failed ($((got - base)) of $N reached the sink)"; return 1; }
  i=0; while [ "$(pf_queued)" != 0 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
  echo "$(rate "$N" "$t0" "$t1") $(awk -v a="$p0" -v b="$p1" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / n }') $(cpu "$W/pf.perf")"
}

# --- one remote-deliver, alone: its start and one SMTP session with the sink ----------------------
cat > "$W/runcost.c" <<'EOF'
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
#include <time.h>
extern char **environ ;
/* runcost N FILE prog args...: prog run N times one after the other, FILE on its stdin */
int main (int argc, char **argv)
{
  struct timespec a, b ;
  int n = atoi(argv[1]) ;
  (void)argc ;
  clock_gettime(CLOCK_MONOTONIC, &a) ;
  for (int i = 0 ; i < n ; i++)
  {
    posix_spawn_file_actions_t fa ;
    pid_t p ; int w ;
    int fd = open(argv[2], O_RDONLY) ;
    if (fd < 0) return 1 ;
    posix_spawn_file_actions_init(&fa) ;
    posix_spawn_file_actions_adddup2(&fa, fd, 0) ;
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) ;
    if (posix_spawnp(&p, argv[3], &fa, 0, argv + 3, environ)) return 1 ;
    posix_spawn_file_actions_destroy(&fa) ;
    close(fd) ;
    waitpid(p, &w, 0) ;
    if (!WIFEXITED(w) || WEXITSTATUS(w)) return 1 ;
  }
  clock_gettime(CLOCK_MONOTONIC, &b) ;
  printf("%.2f\n", ((b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6) / n) ;
  return 0 ;
}
EOF
RDCOST="?"
if cc -O2 -o "$W/runcost" "$W/runcost.c"; then
  head -c $SIZE /dev/zero | tr '\0' x | fold -w 72 | sed '1i Subject: one' > "$W/one.msg"
  RDCOST=$(SLUICEDIR=$SL "$W/runcost" 200 "$W/one.msg" remote-deliver d1.bench.example s@src.bench.example rcpt@d1.bench.example) || RDCOST="failed"
fi

# --- the rounds ----------------------------------------------------------------------------------
SLR="" PFR="" SLP="" PFP="" SLC="" PFC=""
r=1
while [ $r -le $ROUNDS ]; do
  x=$(sl_round) || { echo "remote msgs/s: sluice round $r $x"; tail -20 "$W/sl-queue.log"; exit 1; }
  set -- $x; SLR="$SLR $1"; SLP=$2; SLC="$SLC $3"
  if [ $PF_STARTED = 1 ]; then
    x=$(pf_round) || { PFNOTE="postfix round $r $x: $(grep -v 'status=sent' "$W/pf/maillog" | tail -3 | tr '\n' ' ')"; PF_STARTED=0; }
    [ $PF_STARTED = 1 ] && { set -- $x; PFR="$PFR $1"; PFP=$2; PFC="$PFC $3"; }
  fi
  r=$((r + 1))
done

best() { echo $* | tr ' ' '\n' | sort -n | tail -1; }
worst() { echo $* | tr ' ' '\n' | sort -n | head -1; }
echo "remote: one process start here (static binary, posix_spawn + wait): $SPAWN ms"
echo "remote: one remote-deliver run against the sink, alone (start, connect, one $SIZE-byte message, QUIT): $RDCOST ms"
[ -n "${REMOTE_BENCH_NS:-}" ] && NSNOTE="counted in a PID namespace of its own" || NSNOTE="counted machine-wide: other work adds to it"
echo "remote: process starts $NSNOTE"
echo "remote: sluice = queue-run + queue-spawn + queue-remote workers, 20 at a time, sessions kept; process starts per message: $SLP"
echo "remote: disk: $FSNAME; $N messages of $SIZE bytes, one recipient each, $DOMAINS domains, all routed to smtp-sink on 127.0.0.1"
echo "remote: sluice rounds:$SLR msgs/s; CPU per message:$SLC ms"
if [ $PF_STARTED = 1 ]; then
  echo "remote: postfix = $(postconf -dh mail_version) qmgr + smtp, 20 at a time, connection cache; process starts per message: $PFP"
  echo "remote: postfix rounds:$PFR msgs/s; CPU per message:$PFC ms"
  echo "remote msgs/s: sluice $(best $SLR), postfix $(best $PFR), ratio $(awk -v a="$(best $SLR)" -v b="$(best $PFR)" 'BEGIN { printf "%.2f", a / b }') (worst rounds: $(worst $SLR) / $(worst $PFR))"
else
  echo "remote msgs/s: sluice $(best $SLR), postfix n/a ($PFNOTE), ratio n/a"
fi
