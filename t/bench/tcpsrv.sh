#!/bin/sh
# tcpsrv against ucspi-tcp's tcpserver: connections per second with the same flags
# (-v -HRP -l 0 -x rules.cdb -c 100: no DNS or ident lookup, rules checked, full logging into
# a pipe), then the memory held with 100 connections open.
# Prints: tcpsrv conn/s: sluice X, classic Y, ratio Z
#         tcpsrv parent RSS kB (100 open): sluice X, classic Y, ratio Z   (and per child)
set -u
B=${SLUICE_BIN:-$(dirname "$0")/../../bin}
N=${TCPSRV_BENCH_N:-2000}          # connections per server and concurrency, in ROUNDS rounds
ROUNDS=${TCPSRV_BENCH_ROUNDS:-5}
CONC=${TCPSRV_BENCH_CONC:-1}       # clients at once (1: then also 4)
T=$(mktemp -d "${TMPDIR:-/tmp}/tcpsrv-bench.XXXXXX")
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$T"' EXIT INT TERM

[ -x /usr/bin/tcpserver ] && [ -x /usr/bin/tcprules ] || { echo "tcpsrv: skipped: ucspi-tcp not installed"; exit 0; }

# The client: CONC processes make N connections to 127.0.0.1:port between them, each read
# to EOF; prints the elapsed seconds. Every failed connection is counted and reported.
cat > "$T/client.c" <<'CEOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
int main (int argc, char **argv)
{
  int port = atoi(argv[1]), n = atoi(argv[2]), c = atoi(argv[3]), hold = argc > 4, w, st, bad = 0 ;
  struct timespec a, b ;
  clock_gettime(CLOCK_MONOTONIC, &a) ;
  for (w = 0 ; w < c ; w++) if (!fork())
  {
    int i, fails = 0 ;
    for (i = w ; i < n ; i += c)
    {
      char buf[4096] ;
      struct sockaddr_in sa ;
      int s = socket(AF_INET, SOCK_STREAM, 0) ;
      memset(&sa, 0, sizeof sa) ;
      sa.sin_family = AF_INET ; sa.sin_port = htons(port) ; sa.sin_addr.s_addr = htonl(0x7f000001) ;
      if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) { fails++ ; close(s) ; continue ; }
      if (hold) { pause() ; _exit(0) ; }   /* memory test: keep the connection open */
      while (read(s, buf, sizeof buf) > 0) ;
      close(s) ;
    }
    _exit(fails ? 1 : 0) ;
  }
  while (wait(&st) > 0) if (st) bad++ ;
  clock_gettime(CLOCK_MONOTONIC, &b) ;
  printf("%.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9) ;
  return bad ? 1 : 0 ;
}
CEOF
cc -O2 -o "$T/client" "$T/client.c" || { echo "tcpsrv: cannot build the client"; exit 1; }

# The floor: what any server of this kind pays here, whatever it does itself. It accepts and
# starts prog from a vfork child, and does nothing else: no rules, no log, no environment,
# no limits, no accounting. Measured in the same rounds, it shows how much of the time
# belongs to the kernel and to prog rather than to either server.
cat > "$T/floor.c" <<'CEOF'
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
extern char **environ ;
static void reap (int sig) { (void)sig ; while (waitpid(-1, 0, WNOHANG) > 0) ; }
int main (int argc, char **argv)
{
  struct sockaddr_in sa ;
  socklen_t sl = sizeof sa ;
  int l = socket(AF_INET, SOCK_STREAM, 0), one = 1 ;
  (void)argc ;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ;
  memset(&sa, 0, sizeof sa) ;
  sa.sin_family = AF_INET ; sa.sin_addr.s_addr = htonl(0x7f000001) ;
  if (bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 100) < 0) return 111 ;
  getsockname(l, (struct sockaddr *)&sa, &sl) ;
  printf("%d\n", ntohs(sa.sin_port)) ; fflush(stdout) ;
  signal(SIGCHLD, reap) ;
  for (;;)
  {
    int s = accept(l, 0, 0) ;
    if (s < 0) continue ;
    if (!vfork()) { dup2(s, 0) ; dup2(s, 1) ; close(s) ; close(l) ; execve(argv[1], argv + 1, environ) ; _exit(111) ; }
    close(s) ;
  }
}
CEOF
cc -O2 -o "$T/floor" "$T/floor.c" || { echo "tcpsrv: cannot build the floor server"; exit 1; }
TRUE=$(IFS=:; for d in $PATH; do [ -x "$d/true" ] && { echo "$d/true"; break; }; done)   # what the servers' PATH search finds

printf '127.0.0.1:allow,RELAYCLIENT=""\n10.:deny\n:allow\n' > "$T/rules.txt"
/usr/bin/tcprules "$T/rules.cdb" "$T/rules.tmp" < "$T/rules.txt" || exit 1

# serve NAME BIN ARGS...: start a server on a port of its choice (-1), its log into a pipe
# read by cat as a logger would; sets SPID and PORT
serve() {
  name=$1; shift
  rm -f "$T/fifo.$name" "$T/port.$name"
  mkfifo "$T/fifo.$name"
  cat "$T/fifo.$name" > "$T/log.$name" &
  pids="$pids $!"
  "$@" 2>"$T/fifo.$name" >"$T/port.$name" &
  SPID=$!
  pids="$pids $SPID"
  i=0
  while [ $i -lt 600 ] && ! [ -s "$T/port.$name" ]; do sleep 0.05; i=$((i+1)); done
  PORT=$(cat "$T/port.$name")
  [ -n "$PORT" ] || { echo "tcpsrv: $name did not start"; exit 1; }
}
stopall() { for p in $pids; do kill $p 2>/dev/null; done; wait 2>/dev/null; pids=""; }

# rate CONC N ROUNDS: N connections per server, CONC at once, the servers taking turns
# in ROUNDS rounds (a busy machine then slows both alike)
FLAGS="-v -H -R -P -l 0 -x $T/rules.cdb -c 100"
rate() {
  conc=$1 n=$2 rounds=$3 prog=${4:-true} what=${5:-}
  serve sluice "$B/tcpsrv" -1 $FLAGS 127.0.0.1 0 "$prog"; SP=$PORT
  serve classic /usr/bin/tcpserver -1 $FLAGS 127.0.0.1 0 "$prog"; CP=$PORT
  if [ "$prog" = true ]; then serve floor "$T/floor" "$TRUE"; else serve floor "$T/floor" "$prog"; fi; FP=$PORT
  for p in $SP $CP $FP; do "$T/client" "$p" 20 1 >/dev/null || { echo "tcpsrv: warm-up failed"; exit 1; }; done
  per=$((n / rounds)); r=0; ts=0; tc=0; tf=0
  while [ $r -lt "$rounds" ]; do
    x=$("$T/client" "$SP" $per "$conc") || { echo "tcpsrv: sluice: connections failed"; exit 1; }
    y=$("$T/client" "$CP" $per "$conc") || { echo "tcpsrv: classic: connections failed"; exit 1; }
    z=$("$T/client" "$FP" $per "$conc") || { echo "tcpsrv: floor: connections failed"; exit 1; }
    ts=$(awk -v a="$ts" -v b="$x" 'BEGIN { print a + b }'); tc=$(awk -v a="$tc" -v b="$y" 'BEGIN { print a + b }')
    tf=$(awk -v a="$tf" -v b="$z" 'BEGIN { print a + b }')
    r=$((r+1))
  done
  sleep 0.5
  for name in sluice classic; do
    oks=$(grep -c ' ok ' "$T/log.$name")
    [ "$oks" -ge $((per * rounds)) ] || echo "tcpsrv: warning: $name logged $oks ok lines"
  done
  stopall
  awk -v n=$((per * rounds)) -v s="$ts" -v c="$tc" -v f="$tf" -v k="$conc" -v w="$what" 'BEGIN {
    printf "tcpsrv conn/s: sluice %.0f, classic %.0f, ratio %.2f (%d connections each, %d at once%s)\n", n/s, n/c, c/s, n, k, w
    printf "tcpsrv floor: accept + vfork + exec and nothing else %.0f conn/s, ratio %.2f to classic; sluice reaches %.0f%% of it\n", n/f, c/f, 100*f/s }'
}
rate "$CONC" "$N" "$ROUNDS"
[ "$CONC" = 1 ] && rate 4 "$N" "$ROUNDS"

# The same with a static do-nothing prog: Debian's true is dynamic, and loading libc is
# three quarters of each connection's cost here, the same for both servers; with less of
# it, more of what is measured is the servers' own work.
printf 'int main (void) { return 0 ; }\n' > "$T/nop.c"
if cc -O2 -static -o "$T/nop" "$T/nop.c" 2>/dev/null; then
  rate "$CONC" "$N" "$ROUNDS" "$T/nop" ", prog a static do-nothing"
  [ "$CONC" = 1 ] && rate 4 "$N" "$ROUNDS" "$T/nop" ", prog a static do-nothing"
fi

# memory: 100 connections held open (prog = cat, which waits for its client). They come as
# a burst (100 client processes forked at once, their SYNs within some 15 ms) against the
# default backlog of 20: how many each server has started after 3 seconds is printed too.
# With SYN cookies on, a client whose handshake completes against a full accept queue is
# connected as far as it knows, and waits for a server that never saw it.
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
held=100
for name in sluice classic; do
  if [ $name = sluice ]; then bin=$B/tcpsrv; else bin=/usr/bin/tcpserver; fi
  serve $name "$bin" -1 $FLAGS -c 200 127.0.0.1 0 cat
  "$T/client" "$PORT" $held $held hold >/dev/null &
  cpid=$!
  sleep 3
  eval "burst_$name=$(pgrep -c -P "$SPID")"
  i=0
  while [ $i -lt 600 ] && [ "$(pgrep -c -P "$SPID")" -lt $held ]; do sleep 0.05; i=$((i+1)); done
  sleep 0.5
  kids=$(pgrep -P "$SPID")
  n=$(echo "$kids" | wc -l)
  ksum=0; for k in $kids; do ksum=$((ksum + $(rss $k))); done
  eval "prss_$name=$(rss "$SPID"); crss_$name=$((ksum / n)); n_$name=$n"
  pkill -P "$cpid"; kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
  stopall
done
awk -v s="$prss_sluice" -v c="$prss_classic" -v n="$n_sluice" -v m="$n_classic" 'BEGIN {
  printf "tcpsrv parent RSS kB, %d/%d connections open: sluice %d, classic %d, ratio %.2f\n", n, m, s, c, c/s }'
echo "tcpsrv burst: 100 clients at once, started within 3 s: sluice $burst_sluice, classic $burst_classic"
awk -v s="$crss_sluice" -v c="$crss_classic" 'BEGIN {
  printf "tcpsrv child RSS kB (prog cat): sluice %d, classic %d, ratio %.2f\n", s, c, c/s }'
