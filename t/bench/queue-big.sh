#!/bin/sh
# queue-run with a big queue: MSGS messages already in queue/mess/ (as after a long outage of
# a remote site: each to one remote recipient, most of them with a state log saying they are
# not due for an hour, one in ten due now), then queue-run starts. Measured: the time from its
# start to its first delivery, its resident memory once it has read the whole queue's schedule
# and while it delivers, and the time to read that schedule. The deliveries go nowhere (no
# remote-deliver user: each is deferred at once), so what is measured is queue-run itself.
# Postfix has no way to be handed 100,000 queued messages without sending them to it one by
# one (several minutes here), so this benchmark has no classic counterpart; the issue's goals
# are printed instead: the first delivery within a second, under 64 MB resident.
# Prints: queue-big: first delivery after X ms, RSS Y MB (goals 1000 ms, 64 MB)
# Tunables: QUEUE_BIG_MSGS (default 100000).
. "$(dirname "$0")/common.shlib"
N=${QUEUE_BIG_MSGS:-100000}
for t in queue-run queue-spawn; do
  [ -x "$B/$t" ] || { echo "queue-big: skipped ($B/$t is not built)"; exit 1; }
done
command -v cc >/dev/null 2>&1 || { echo "queue-big: skipped (no cc)"; exit 0; }
bench_init queue-big
bench_disk 4G
SL=$QROOT/sl
mkdir -p "$SL/control" "$SL/queue/mess" "$SL/queue/info" "$SL/queue/todo" "$SL/queue/tmp"
echo mx.bench.example > "$SL/control/me"
echo 5 > "$SL/control/concurrencyremote"

# the queue files, in the format of sluice-queue(5), made by a small program (queue-inject
# would take minutes for so many)
cat > "$W/mkqueue.c" <<'EOF'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
int main (int argc, char **argv)
{
  long n = atol(argv[2]) ;
  time_t now = time(0) ;
  char body[2048] ;
  memset(body, 'x', sizeof body) ;
  for (long i = 0 ; i < n ; i++)
  {
    char path[256], env[128], head[256] ;
    int envlen = snprintf(env, sizeof env, "Fsender@bench.example%cTuser%ld@far%ld.example%c%c", 0, i, i % 500, 0, 0) ;
    int hlen = snprintf(head, sizeof head, "sluice-queue 1\nenvelope %d\nuid 0\nqp 1\n\n", envlen) ;
    int fd ;
    snprintf(path, sizeof path, "%s/mess/%ld.%06ld.%ld", argv[1], (long)now - 3600, i % 1000000, 1000000 + i) ;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600) ;
    if (fd < 0 || write(fd, head, hlen) != hlen || write(fd, env, envlen) != envlen
     || write(fd, "Subject: queued\n\n", 17) != 17 || write(fd, body, sizeof body) != sizeof body) return 1 ;
    close(fd) ;
    if (i % 10)
    {
      /* deferred once, next attempt in an hour: the log's mtime says when */
      char line[128] ;
      struct timespec ts[2] = { { 0, UTIME_OMIT }, { now + 3600, 0 } } ;
      int len = snprintf(line, sizeof line, "Z 0 %ld %ld 1 0 connection refused\n", (long)now - 600, (long)now + 3600) ;
      snprintf(path, sizeof path, "%s/info/%ld.%06ld.%ld", argv[1], (long)now - 3600, i % 1000000, 1000000 + i) ;
      fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600) ;
      if (fd < 0 || write(fd, line, len) != len || futimens(fd, ts) < 0) return 1 ;
      close(fd) ;
    }
  }
  return 0 ;
}
EOF
cc -O2 -o "$W/mkqueue" "$W/mkqueue.c" || { echo "queue-big: failed (cannot build the queue maker)"; exit 1; }
t0=$(now)
"$W/mkqueue" "$SL/queue" "$N" || { echo "queue-big: failed (making the queue)"; exit 1; }
t1=$(now)
sync
# cold start: the queue's directories as a restart after a crash would find them
echo 3 > /proc/sys/vm/drop_caches 2>/dev/null

t0=$(now)
env SLUICEDIR=$SL PATH="$B:$PATH" "$B/queue-spawn" "$B/queue-run" 2> "$W/queue.log" &
QPID=$!
PIDS="$PIDS $QPID"
i=0
while ! grep -q '^starting delivery' "$W/queue.log" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.01; i=$((i+1)); done
t1=$(now)
first=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
# the whole schedule read: every message is in the heap or being delivered
rss_max=0
i=0
while [ $i -lt 600 ]; do
  r=$(awk '/^VmRSS/ { print $2 }' /proc/$QPID/status 2>/dev/null)
  [ -n "$r" ] && [ "$r" -gt "$rss_max" ] && rss_max=$r
  n=$(grep -c '^delivery ' "$W/queue.log")
  [ "$n" -ge $((N / 10)) ] && break
  sleep 0.1; i=$((i+1))
done
t2=$(now)
r=$(awk '/^VmRSS/ { print $2 }' /proc/$QPID/status 2>/dev/null)
[ -n "$r" ] && [ "$r" -gt "$rss_max" ] && rss_max=$r
due=$(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.1f", b - a }')
kill -TERM $QPID
wait $QPID 2>/dev/null
echo "queue-big: $N messages queued on $FSNAME ($((N / 10)) due now), page cache dropped before the start"
echo "queue-big: the $((N / 10)) due messages all tried within $due s of the start ($(grep -c '^delivery ' "$W/queue.log") deliveries logged)"
echo "queue-big: first delivery after $first ms, RSS $(awk -v k=$rss_max 'BEGIN { printf "%.1f", k / 1024 }') MB at most (goals 1000 ms, 64 MB)"
