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
#      through tcpsrv + smtpd, with QMAILQUEUE unset (smtpd hands over to queue-injectd's
#      socket, no process per message) and with QMAILQUEUE=dkim-sign (RSA-2048), and for
#      port 25 with QMAILQUEUE=auth-results.
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
bg dnsmasq -k -C "$W/dns.conf" --pid-file= --port="$DP" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts
sleep 0.3
export DNSCACHEIP=127.0.0.1:$DP

body=$("$PY" -c 'print(("x" * 75 + "\n") * 52, end="")')
msg() { printf 'From: Joe <joe@%s>\nTo: bob@rx.test\nSubject: bench\nDate: Wed, 2 Dec 2026 01:00:00 +0000\nMessage-ID: <%s@bench>\n\n%s\n' "$1" "$1" "$body"; }
printf 'Fjoe@both.test\0Tbob@rx.test\0\0' > "$W/env"
for d in none.test rsa.test ed.test both.test; do msg $d > "$W/$d.msg"; done
"$B/dkim-sign" < "$W/both.test.msg" 1< "$W/env" || { echo "dkim msgs/s: dkim-sign failed"; exit 1; }
NEXTQUEUE=/bin/cat "$B/dkim-sign" < "$W/both.test.msg" 1< "$W/env" > "$W/signed.msg" 2>/dev/null

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
for i in range(n):
    s = smtplib.SMTP("127.0.0.1", port)
    s.ehlo("mx.both.test")
    s.sendmail("joe@both.test", ["bob@rx.test"], msg)
    s.quit()
print("%.0f" % (n / (time.monotonic() - t0)))
EOF2
smtp() {
  _p=$(free_port)
  env "$@" RELAYCLIENT= "$B/tcpsrv" -H -R 127.0.0.1 "$_p" "$B/smtpd" 2>/dev/null &
  _pid=$!
  i=0; while ! "$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1]))).close()' "$_p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
  "$PY" "$W/send.py" "$_p" "$M" "$SMSG"
  kill "$_pid"; wait "$_pid" 2>/dev/null
}
SMSG=$W/both.test.msg
plain=$(smtp QMAILQUEUE=)
signed=$(smtp QMAILQUEUE="$B/dkim-sign")
SMSG=$W/signed.msg
checked=$(smtp QMAILQUEUE="$B/auth-results")
echo "submission with dkim-sign (rsa+ed25519) msgs/s: sluice $signed, classic (smtpd without a filter) $plain, ratio $(ratio "$signed" "$plain")"
echo "port 25 with auth-results msgs/s: sluice $checked, classic (smtpd without a filter) $plain, ratio $(ratio "$checked" "$plain")"
