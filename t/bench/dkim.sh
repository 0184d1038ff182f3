#!/bin/sh
# The sender authentication filters, message after message, against what they add to.
#   1. each qmail-queue program alone, spawned per message by a small C driver with a 4 KiB
#      message and a one-recipient envelope, handing over to queue-injectd's socket (queue on
#      a new ext4 filesystem when root): dkim-sign with no key, an RSA-2048 key, an Ed25519
#      key, both; auth-results (SPF, DKIM, DMARC; dnsmasq on loopback answers from its own
#      records, the warm-cache case); and the floor: Debian's dynamic /bin/true, the cost
#      of starting any dynamic program here; and queue-inject alone, as the queue's owner
#      (what a qmail-queue program without a filter costs, the disk write included).
#   2. the submission path end to end: python's smtplib sends one message per connection
#      through tcpsrv + smtpd: without a filter (smtpd hands over to queue-injectd's socket,
#      no process per message); with the filters as services, QMAILQUEUESOCK naming the
#      socket of dkim-sign -d (RSA-2048, Ed25519, both) or of auth-results -d (port 25, warm
#      DNS cache: the service's SPF cache and dnsmasq's); and with the filters as
#      QMAILQUEUE programs (a process a message). DKIM_BENCH_ROUNDS rounds (default 3), every
#      path once a round; the median and the spread of the rounds.
# The OpenDKIM milter in Postfix is not compared: the opendkim daemon is not installed here.
# Prints: NAME msgs/s: sluice X, classic Y, ratio Z  (classic: the path without the filter)
# Tunables: DKIM_BENCH_MSGS (default 300), DKIM_BENCH_SMTP (default 200).
. "$(dirname "$0")/common.shlib"
N=${DKIM_BENCH_MSGS:-300}
M=${DKIM_BENCH_SMTP:-200}
for t in dkim-sign auth-results queue-injectd tcpsrv smtpd; do
  [ -x "$B/$t" ] || { echo "dkim msgs/s: skipped ($B/$t is not built)"; exit 1; }
done
command -v dnsmasq >/dev/null 2>&1 || { echo "dkim msgs/s: skipped (dnsmasq is not installed)"; exit 0; }
command -v cc >/dev/null 2>&1 || { echo "dkim msgs/s: skipped (no C compiler)"; exit 0; }
bench_init dkim
bench_disk 1G
SPAWN=$(bench_spawncost)

# the driver: spawn PROG N times, message and envelope from files; prints msgs/s
cat > "$W/drive.c" <<'EOF2'
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ ;
int main (int argc, char **argv)
{
  struct timespec a, b ;
  int n = atoi(argv[1]) ;
  char *av[2] = { argv[2], 0 } ;
  (void)argc ;
  clock_gettime(CLOCK_MONOTONIC, &a) ;
  for (int i = 0 ; i < n ; i++)
  {
    posix_spawn_file_actions_t fa ;
    pid_t p ; int w ;
    posix_spawn_file_actions_init(&fa) ;
    posix_spawn_file_actions_addopen(&fa, 0, argv[3], O_RDONLY, 0) ;
    posix_spawn_file_actions_addopen(&fa, 1, argv[4], O_RDONLY, 0) ;
    if (posix_spawn(&p, argv[2], &fa, 0, av, environ)) return 1 ;
    posix_spawn_file_actions_destroy(&fa) ;
    waitpid(p, &w, 0) ;
    if (!WIFEXITED(w) || WEXITSTATUS(w)) { fprintf(stderr, "%s: exit %d\n", argv[2], WEXITSTATUS(w)) ; return 1 ; }
  }
  clock_gettime(CLOCK_MONOTONIC, &b) ;
  printf("%.0f\n", n / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9)) ;
  return 0 ;
}
EOF2
cc -O2 -o "$W/drive" "$W/drive.c" || exit 1

S=$QROOT/sl
mkdir -p "$S/control" "$S/queue"
echo mx.bench.test > "$S/control/me"
printf '// bench\ntest\n' > "$W/psl.dat"; echo "$W/psl.dat" > "$S/control/publicsuffix"
export SLUICEDIR=$S
bg "$B/queue-injectd"
i=0; while [ ! -S "$S/queue/inject" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
SLUICEDIR=$S "$B/dkim-sign" -g rsa.test r1 > "$W/r1.txt"
SLUICEDIR=$S "$B/dkim-sign" -g -t ed25519 ed.test e1 > "$W/e1.txt"
SLUICEDIR=$S "$B/dkim-sign" -g both.test r1 > "$W/r2.txt"
SLUICEDIR=$S "$B/dkim-sign" -g -t ed25519 both.test e1 > "$W/e2.txt"

DP=$("$PY" -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
  "$PY" "$(dirname "$0")/../dkimtool.py" dnsmasq "$W/r2.txt" "$W/e2.txt"
  echo 'local=/test/'
  echo 'txt-record=both.test,"v=spf1 ip4:192.0.2.1 -all"'
  echo 'txt-record=mx.both.test,"v=spf1 ip4:192.0.2.1 -all"'
  echo 'txt-record=_dmarc.both.test,"v=DMARC1; p=reject"'
} > "$W/dns.conf"
# records with a TTL of 5 minutes, as published records have (dnsmasq gives its own 0)
bg dnsmasq -k -C "$W/dns.conf" --pid-file= --port="$DP" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts --local-ttl=300
sleep 0.3
export DNSCACHEIP=127.0.0.1:$DP

body=$("$PY" -c 'print(("x" * 75 + "\n") * 52, end="")')
msg() { printf 'From: Joe <joe@%s>\nTo: bob@rx.test\nSubject: bench\nDate: Wed, 2 Dec 2026 01:00:00 +0000\nMessage-ID: <%s@bench>\n\n%s\n' "$1" "$1" "$body"; }
printf 'Fjoe@both.test\0Tbob@rx.test\0\0' > "$W/env"
for d in none.test rsa.test ed.test both.test; do msg $d > "$W/$d.msg"; done
"$B/dkim-sign" < "$W/both.test.msg" 1< "$W/env" || { echo "dkim msgs/s: dkim-sign failed"; exit 1; }
# the signed message, for auth-results: a queue program that keeps it
printf '#!/bin/sh\ncat > "$0.out"\n' > "$W/keep"; chmod +x "$W/keep"
NEXTQUEUE="$W/keep" "$B/dkim-sign" < "$W/both.test.msg" 1< "$W/env"
mv "$W/keep.out" "$W/signed.msg" && grep -q '^DKIM-Signature:' "$W/signed.msg" || { echo "dkim msgs/s: could not sign a message"; exit 1; }

run() { "$W/drive" "$N" "$@" 2>&1; }
floor=$(run /bin/true "$W/none.test.msg" "$W/env")
qi=$(run "$B/queue-inject" "$W/none.test.msg" "$W/env")
nokey=$(run "$B/dkim-sign" "$W/none.test.msg" "$W/env")
rsa=$(run "$B/dkim-sign" "$W/rsa.test.msg" "$W/env")
ed=$(run "$B/dkim-sign" "$W/ed.test.msg" "$W/env")
both=$(run "$B/dkim-sign" "$W/both.test.msg" "$W/env")
ar=$(TCPREMOTEIP=192.0.2.1 SMTPHELO=mx.both.test run "$B/auth-results" "$W/signed.msg" "$W/env")
echo "process start here: static ${SPAWN} ms; the machine is shared: a first indication only"
echo "queue-injectd's queue on $FSNAME; $N messages of 4 KiB each"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.2f", a / b; else print "?" }'; }
echo "the floor (dynamic /bin/true): $floor msgs/s"
echo "dkim-sign (no key) msgs/s: sluice $nokey, classic (queue-inject alone, the queue's owner) $qi, ratio $(ratio "$nokey" "$qi")"
echo "dkim-sign rsa-2048 msgs/s: sluice $rsa, classic (queue-inject alone) $qi, ratio $(ratio "$rsa" "$qi")"
echo "dkim-sign ed25519 msgs/s: sluice $ed, classic (queue-inject alone) $qi, ratio $(ratio "$ed" "$qi")"
echo "dkim-sign rsa+ed25519 msgs/s: sluice $both, classic (queue-inject alone) $qi, ratio $(ratio "$both" "$qi")"
echo "auth-results (spf, 2 dkim, dmarc) msgs/s: sluice $ar, classic (queue-inject alone) $qi, ratio $(ratio "$ar" "$qi")"

# --- end to end: smtpd with and without the filter ---------------------------------------------
cat > "$W/send.py" <<'EOF2'
import smtplib, sys, time
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
msg = open(path, "rb").read().replace(b"\n", b"\r\n")
t0 = time.monotonic()
try:
    for i in range(n):
        s = smtplib.SMTP("127.0.0.1", port)
        s.ehlo("mx.both.test")
        s.sendmail("joe@both.test", ["bob@rx.test"], msg)
        s.quit()
except Exception as e:
    # a failed run counts as 0 msgs/s, and says why
    sys.stderr.write("send.py: %r\n" % (e,))
    print(0)
    sys.exit(0)
print("%.0f" % (n / (time.monotonic() - t0)))
EOF2
smtp() {
  _p=$(free_port)
  env "$@" RELAYCLIENT= "$B/tcpsrv" -H -R 127.0.0.1 "$_p" "$B/smtpd" 2>/dev/null &
  _pid=$!
  i=0; while ! "$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1]))).close()' "$_p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
  "$PY" "$W/send.py" "$_p" "$M" "$SMSG" 2>>"$W/errors"
  kill "$_pid"; wait "$_pid" 2>/dev/null
}
# the filters as services (-d): smtpd hands over to their sockets, starting no process
SK=$W/dkim.sock SA=$W/ar.sock
bg "$B/dkim-sign" -d "$SK" -c 2
bg "$B/auth-results" -d "$SA" -c 2
i=0; while { [ ! -S "$SK" ] || [ ! -S "$SA" ]; } && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
# rounds: every path once a round, in turn, so that a busy spell of the shared machine
# weighs on all of them alike; the median of the rounds is printed, and the spread
R=${DKIM_BENCH_ROUNDS:-3}
: > "$W/rounds"
r=0
while [ $r -lt "$R" ]; do
  r=$((r+1))
  SMSG=$W/both.test.msg
  plain=$(smtp QMAILQUEUE=)
  SMSG=$W/rsa.test.msg; srsa=$(smtp QMAILQUEUESOCK="$SK")
  SMSG=$W/ed.test.msg; sed=$(smtp QMAILQUEUESOCK="$SK")
  SMSG=$W/both.test.msg; sboth=$(smtp QMAILQUEUESOCK="$SK")
  SMSG=$W/signed.msg; sar=$(smtp QMAILQUEUESOCK="$SA")
  SMSG=$W/both.test.msg; prog=$(smtp QMAILQUEUE="$B/dkim-sign")
  SMSG=$W/signed.msg; progar=$(smtp QMAILQUEUE="$B/auth-results")
  echo "$plain $srsa $sed $sboth $sar $prog $progar" >> "$W/rounds"
done
# stats COLUMN: the median, lowest and highest msgs/s of that column over the rounds, then
# the same of its ratio to column 1 (the path without a filter, same round)
stats() {
  awk -v c="$1" '{ v[NR] = $c; q[NR] = $1 > 0 ? $c / $1 : 0 }
    function sort(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t } }
    function med(a, n) { return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    END { n = NR; sort(v, n); sort(q, n)
      printf "%.0f %.0f %.0f %.2f %.2f %.2f\n", med(v, n), v[1], v[n], med(q, n), q[1], q[n] }' "$W/rounds"
}
echo "end to end: python smtplib, one message per connection, $M per path and round, $R rounds; the machine is shared (2 cores, other engineers' jobs): a first indication only"
set -- $(stats 1)
echo "smtpd without a filter (queue-injectd's socket): median $1 msgs/s, rounds $2-$3"
line() {
  set -- "$1" $(stats "$2") $(stats 1)
  echo "$1 msgs/s: sluice $2, classic (smtpd without a filter) $8, ratio $5 (rounds: ratio $6-$7, sluice $3-$4 msgs/s)"
}
line "submission with dkim-sign -d, rsa-2048 (socket)" 2
line "submission with dkim-sign -d, ed25519 (socket)" 3
line "submission with dkim-sign -d, rsa+ed25519 (socket)" 4
line "port 25 with auth-results -d, warm DNS cache (socket)" 5
line "submission with dkim-sign as QMAILQUEUE, rsa+ed25519 (a process a message)" 6
line "port 25 with auth-results as QMAILQUEUE (a process a message)" 7
[ -s "$W/errors" ] && { echo "some runs failed (counted as 0 msgs/s):"; sort "$W/errors" | uniq -c; }
exit 0
