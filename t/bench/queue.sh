#!/bin/sh
# The whole path: messages sent over SMTP until the last one is in its Maildir.
#   sluice:  tcpsrv -w 2 + resident smtpd -> queue-injectd -> queue-run -> queue-spawn ->
#            queue-local -> Maildir of virtual users made with mail-user
#   postfix: a private instance: smtpd -> cleanup -> qmgr -> virtual -> Maildir
# Both on one new ext4 filesystem, 100 virtual users (one uid), the same load: Postfix's
# smtp-source, SESSIONS at once, one 4 KB message per connection, MSGS in all. Rounds
# alternate between the two; then one more round of each with a busy loop on one core (the
# machine shared with other work). Also printed: the cost of one process start here, and the
# processes started per message by each (pids handed out by the kernel during a round,
# divided by the messages; the load's own smtp-source runs are the same for both).
# Prints: queue msgs/s: sluice X, postfix Y, ratio Z
# Tunables: QUEUE_BENCH_MSGS (default 5000), QUEUE_BENCH_SESSIONS (10), QUEUE_BENCH_ROUNDS (3),
#   QUEUE_BENCH_WORKERS (default 2, as services/smtpd: tcpsrv -w 2, resident smtpd; 0: one
#   smtpd per connection).
. "$(dirname "$0")/common.shlib"
N=${QUEUE_BENCH_MSGS:-5000}
S=${QUEUE_BENCH_SESSIONS:-10}
ROUNDS=${QUEUE_BENCH_ROUNDS:-3}
WORKERS=${QUEUE_BENCH_WORKERS:-2}
WOPT=""; [ "$WORKERS" = 0 ] || WOPT="-w $WORKERS"
USERS=100
SIZE=4096
OWNER=1234

for t in smtp-source postfix postconf cc; do
  command -v $t >/dev/null 2>&1 || { echo "queue msgs/s: skipped ($t is not installed)"; exit 0; }
done
for t in tcpsrv smtpd queue-injectd queue-run queue-spawn queue-local queue-inject mail-user; do
  [ -x "$B/$t" ] || { echo "queue msgs/s: skipped ($B/$t is not built)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "queue msgs/s: skipped (needs root: deliveries run as another uid)"; exit 0; }
[ $((N % USERS)) = 0 ] && [ $((USERS % S)) = 0 ] || { echo "queue msgs/s: MSGS must be a multiple of $USERS and $USERS of SESSIONS"; exit 1; }

bench_init queue
bench_disk 2G
SPAWN=$(bench_spawncost)

# --- sluice -------------------------------------------------------------------------------------
SL=$QROOT/sl
mkdir -p "$SL/control" "$SL/queue"
echo mx.bench.example > "$SL/control/me"
echo bench.example > "$SL/control/rcpthosts"
export PATH="$B:$PATH"
SLUICEDIR=$SL mail-user adddomain -u $OWNER:$OWNER bench.example </dev/null >/dev/null || { echo "queue msgs/s: failed (mail-user adddomain)"; exit 1; }
HASH='$6$3fUCK5j15D8ThvVn$kNaENUleU09PtDMiUyXU.TVlybx.vgafwBmi2v4a8yfksJ7GtUHBfTy3cZ0cgosUBXMP0WgaHOC4wiPNUabrF.'
i=1; while [ $i -le $USERS ]; do echo "u$i:$HASH:::"; i=$((i+1)); done > "$W/users"
SLUICEDIR=$SL mail-user import bench.example < "$W/users" >/dev/null || { echo "queue msgs/s: failed (mail-user import)"; exit 1; }
bg env SLUICEDIR=$SL queue-injectd 2> "$W/sl-injectd.log"
bg env SLUICEDIR=$SL queue-spawn queue-run 2> "$W/sl-queue.log"
bg env SLUICEDIR=$SL tcpsrv -1 -c 100 $WOPT -H -R -l localhost 127.0.0.1 0 smtpd > "$W/sl.port" 2> "$W/sl.log"
i=0; while { [ ! -s "$W/sl.port" ] || [ ! -S "$SL/queue/inject" ]; } && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
SLPORT=$(head -1 "$W/sl.port")
[ -n "$SLPORT" ] || { echo "queue msgs/s: failed (the sluice chain did not start)"; cat "$W/sl.log"; exit 1; }
SLMAIL=$SL/domains/bench.example

# --- postfix ------------------------------------------------------------------------------------
PFPORT=$(free_port)
PFMAIL=$QROOT/pf-mail
mkdir -p "$PFMAIL"
chown $OWNER:$OWNER "$PFMAIL"
i=1; while [ $i -le $USERS ]; do echo "u$i@bench.example bench.example/u$i/Maildir/"; i=$((i+1)); done > "$W/vmailbox"
cat > "$W/main.extra" <<EOF
mydestination =
local_recipient_maps =
relay_domains =
virtual_mailbox_domains = bench.example
virtual_mailbox_base = $PFMAIL
virtual_mailbox_maps = texthash:$W/vmailbox
virtual_uid_maps = static:$OWNER
virtual_gid_maps = static:$OWNER
virtual_transport = virtual
EOF
cat > "$W/master.extra" <<EOF
127.0.0.1:$PFPORT inet n - n - - smtpd
virtual   unix  -       n       n       -       -       virtual
EOF
pf_start "$W/main.extra" "$W/master.extra"
if [ $PF_STARTED = 1 ]; then
  i=0; while ! ss -ltnH "sport = :$PFPORT" 2>/dev/null | grep -q . && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
fi

# --- the load and the wait ------------------------------------------------------------------------
# load PORT: SESSIONS workers, each sending to its share of the users, one message per connection
load() {
  w=1
  while [ $w -le $S ]; do
    ( u=$w
      while [ $u -le $USERS ]; do
        smtp-source -s 1 -m $((N / USERS)) -l $SIZE -f sender@bench.example -t "u$u@bench.example" "127.0.0.1:$1" || exit 1
        u=$((u + S))
      done ) &
    w=$((w + 1))
  done
  fail=0
  for j in $(jobs -p); do wait "$j" || fail=1; done
  return $fail
}
# count DIR WANT TIMEOUT: until DIR/*/Maildir/new holds WANT files
cat > "$W/count.py" <<'EOF'
import os, sys, time
base, want, limit = sys.argv[1], int(sys.argv[2]), time.time() + float(sys.argv[3])
while True:
    # the user directories are listed again each time: postfix makes them at the first delivery
    users = [os.path.join(base, u, "Maildir", "new") for u in os.listdir(base)]
    n = sum(len(os.listdir(d)) for d in users if os.path.isdir(d))
    if n >= want or time.time() > limit:
        print(n)
        break
    time.sleep(0.02)
EOF
clear_mail() { find "$1" -path '*/Maildir/new/*' -type f -delete; }
# round BASE PORT: prints "rate pids-per-message"
round() {
  clear_mail "$1"
  p0=$(lastpid); t0=$(now)
  load "$2" || { echo "failed"; return 1; }
  got=$("$PY" "$W/count.py" "$1" "$N" 300)
  t1=$(now); p1=$(lastpid)
  [ "$got" -ge "$N" ] || { echo "failed ($got of $N delivered)"; return 1; }
  echo "$(rate "$N" "$t0" "$t1") $(awk -v a="$p0" -v b="$p1" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / n }')"
}

# warm both up
smtp-source -s 2 -m 20 -l $SIZE -f sender@bench.example -t u1@bench.example "127.0.0.1:$SLPORT" || { echo "queue msgs/s: failed (smtp-source against sluice)"; tail -5 "$W/sl.log"; exit 1; }
[ $PF_STARTED = 1 ] && { smtp-source -s 2 -m 20 -l $SIZE -f sender@bench.example -t u1@bench.example "127.0.0.1:$PFPORT" || { PFNOTE="smtp-source against postfix failed"; PF_STARTED=0; }; }
sleep 1

SLR="" PFR="" SLP="" PFP=""
r=1
while [ $r -le $ROUNDS ]; do
  x=$(round "$SLMAIL" "$SLPORT") || { echo "queue msgs/s: sluice round $r $x"; tail -20 "$W/sl-queue.log"; exit 1; }
  SLR="$SLR ${x% *}"; SLP=${x#* }
  if [ $PF_STARTED = 1 ]; then
    x=$(round "$PFMAIL/bench.example" "$PFPORT") || { PFNOTE="postfix round $r $x: $(grep -v 'status=sent' "$W/pf/maillog" | tail -3 | tr '\n' ' ')"; PF_STARTED=0; }
    [ $PF_STARTED = 1 ] && { PFR="$PFR ${x% *}"; PFP=${x#* }; }
  fi
  r=$((r + 1))
done
busy_start
x=$(round "$SLMAIL" "$SLPORT") && SLBUSY=${x% *} || SLBUSY=failed
PFBUSY=n/a
[ $PF_STARTED = 1 ] && { x=$(round "$PFMAIL/bench.example" "$PFPORT") && PFBUSY=${x% *} || PFBUSY=failed; }
busy_stop

best() { echo $* | tr ' ' '\n' | sort -n | tail -1; }
worst() { echo $* | tr ' ' '\n' | sort -n | head -1; }
echo "queue: one process start here (static binary, posix_spawn + wait): $SPAWN ms"
echo "queue: sluice = tcpsrv ${WOPT:+$WOPT }+ smtpd + queue-injectd + queue-run + queue-spawn + queue-local; $USERS virtual users; process starts per message: $SLP"
echo "queue: disk: $FSNAME; $S sessions, one $SIZE-byte message per connection, $N messages per round"
echo "queue: sluice rounds:$SLR msgs/s"
if [ $PF_STARTED = 1 ]; then
  echo "queue: postfix = $(postconf -dh mail_version) smtpd + cleanup + qmgr + virtual; process starts per message: $PFP"
  echo "queue: postfix rounds:$PFR msgs/s"
  echo "queue: with one core kept busy: sluice $SLBUSY, postfix $PFBUSY msgs/s, ratio $(awk -v a="$SLBUSY" -v b="$PFBUSY" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
  echo "queue msgs/s: sluice $(best $SLR), postfix $(best $PFR), ratio $(awk -v a="$(best $SLR)" -v b="$(best $PFR)" 'BEGIN { printf "%.2f", a / b }') (worst rounds: $(worst $SLR) / $(worst $PFR))"
else
  echo "queue msgs/s: sluice $(best $SLR), postfix n/a ($PFNOTE), ratio n/a"
fi
