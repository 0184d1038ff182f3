#!/bin/sh
# smtpd benchmark: messages per second accepted over SMTP on loopback, with Postfix's
# smtp-source as the load, against Postfix's own smtpd in a private instance, in one run.
#   sluice:  tcpsrv (or Debian's tcpserver) + rblsmtpd with RBLSMTPD="" (when built) + smtpd,
#            each message handed to a $QMAILQUEUE that writes it to a file, fsyncs it and
#            renames it into place (a stand-in until queue-inject exists)
#   postfix: a private instance under the scratch directory (its own config, queue and data
#            directories, only smtpd on 127.0.0.1:PORT plus the services it needs), delivering
#            to the discard transport: its cleanup writes and fsyncs the queue file, as our
#            stand-in does; it never binds port 25 and is stopped on exit
# Prints: smtpd msgs/s: sluice X, postfix Y, ratio Z
# Tunables: SMTPD_BENCH_MSGS (default 500), SMTPD_BENCH_SESSIONS (default 10).
set -u
B=${SLUICE_BIN:?SLUICE_BIN must name the directory of the sluice binaries}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
N=${SMTPD_BENCH_MSGS:-500}
S=${SMTPD_BENCH_SESSIONS:-10}
SIZE=4096
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

for t in smtp-source postfix postconf cc; do
  command -v $t >/dev/null 2>&1 || { echo "smtpd msgs/s: skipped ($t is not installed)"; exit 0; }
done
[ -x "$B/smtpd" ] || { echo "smtpd msgs/s: skipped ($B/smtpd is not built)"; exit 1; }

W=$(mktemp -d "${TMPDIR:-/tmp}/smtpd-bench.XXXXXX") || exit 1
chmod 755 "$W"   # postfix's daemons run as the postfix user and must reach their queue
PIDS=""
PF_STARTED=0
MOUNTED=0
cleanup() {
  for p in $PIDS; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ $PF_STARTED = 1 ]; then postfix -c "$W/pf/etc" stop >/dev/null 2>&1; fi
  if [ $MOUNTED = 1 ]; then umount "$W/fs" 2>/dev/null || umount -l "$W/fs"; fi
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }

# --- the disk both queues live on ---------------------------------------------------------------
# A new ext4 filesystem (with a journal, as a mail server's /var has), loop-mounted, when we
# are root: both queues then start from the same empty state. On a shared filesystem the cost
# of creating a file depends on what was deleted there in the last minutes (ext4 without a
# journal, as this VM's root is, skips inodes freed in the last 60 to 360 seconds, one by
# one), which made runs differ by 30% and favoured whichever side ran after a quiet spell.
QROOT=$W
FSNAME="the scratch directory's filesystem ($(df -PT "$W" | awk 'NR == 2 { print $2 }'))"
if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null 2>&1 \
   && truncate -s 1G "$W/fs.img" && mkfs.ext4 -q -F "$W/fs.img" >/dev/null 2>&1 \
   && mkdir "$W/fs" && mount -o loop "$W/fs.img" "$W/fs" 2>/dev/null; then
  MOUNTED=1
  chmod 755 "$W/fs"
  QROOT=$W/fs
  FSNAME="a new ext4 filesystem (journal on), loop-mounted"
fi

# --- sluice -----------------------------------------------------------------------------------
mkdir -p "$W/sl/control" "$QROOT/q/tmp" "$QROOT/q/new"
echo mx.bench.example > "$W/sl/control/me"
echo bench.example > "$W/sl/control/rcpthosts"
cat > "$W/qfsync.c" <<'EOF'
/* stand-in for queue-inject: message (fd 0) then envelope (fd 1) into $QDIR/tmp/PID, fsync,
   rename to $QDIR/new/PID; exit 0 only when the message is on disk (qmail-queue codes) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static int copy (int from, int to)
{
  char buf[65536] ;
  for (;;)
  {
    ssize_t r = read(from, buf, sizeof buf), w = 0 ;
    if (r < 0) return 0 ;
    if (!r) return 1 ;
    while (w < r) { ssize_t k = write(to, buf + w, r - w) ; if (k <= 0) return 0 ; w += k ; }
  }
}
int main (void)
{
  char const *dir = getenv("QDIR") ;
  char tmp[4096], fin[4096] ;
  int fd ;
  if (!dir) return 61 ;
  snprintf(tmp, sizeof tmp, "%s/tmp/%ld", dir, (long)getpid()) ;
  snprintf(fin, sizeof fin, "%s/new/%ld", dir, (long)getpid()) ;
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600) ;
  if (fd < 0) return 53 ;
  if (!copy(0, fd) || !copy(1, fd)) return 54 ;
  if (fsync(fd) < 0 || close(fd) < 0) return 53 ;
  if (rename(tmp, fin) < 0) return 53 ;
  return 0 ;
}
EOF
cc -O2 -fPIE -static-pie -o "$W/qfsync" "$W/qfsync.c" || { echo "smtpd msgs/s: skipped (cannot compile the queue stand-in)"; exit 1; }

if [ -x "$B/tcpsrv" ]; then SRV=$B/tcpsrv; SRVNAME=tcpsrv; else SRV=/usr/bin/tcpserver; SRVNAME="tcpserver (ucspi-tcp; tcpsrv not built)"; fi
if [ -x "$B/rblsmtpd" ]; then RBL="$B/rblsmtpd -r bl.bench.example"; RBLNAME="rblsmtpd (RBLSMTPD=\"\")"
else RBL=""; RBLNAME="no rblsmtpd ($B/rblsmtpd not built)"; fi
# shellcheck disable=SC2086
env QDIR="$QROOT/q" QMAILQUEUE="$W/qfsync" SLUICEDIR="$W/sl" RBLSMTPD= DNSCACHEIP=127.0.0.1:9 \
  "$SRV" -1 -c 100 -H -R -l localhost 127.0.0.1 0 $RBL "$B/smtpd" > "$W/sl.port" 2> "$W/sl.log" &
PIDS="$PIDS $!"
i=0; while [ ! -s "$W/sl.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
SLPORT=$(head -1 "$W/sl.port")
[ -n "$SLPORT" ] || { echo "smtpd msgs/s: failed (the sluice chain did not start)"; cat "$W/sl.log"; exit 1; }

# --- postfix ----------------------------------------------------------------------------------
PFNOTE=""
PFPORT=$(free_port)
mkdir -p "$W/pf/etc" "$QROOT/pf/spool" "$W/pf/data"
if [ "$(id -u)" != 0 ]; then PFNOTE="postfix needs root to start a private instance"
elif ! id postfix >/dev/null 2>&1; then PFNOTE="no postfix user"
else
  chown postfix "$W/pf/data"
  cat > "$W/pf/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $QROOT/pf/spool
data_directory = $W/pf/data
command_directory = $(postconf -dh command_directory)
daemon_directory = $(postconf -dh daemon_directory)
meta_directory = $(postconf -dh meta_directory)
shlib_directory = $(postconf -dh shlib_directory)
mail_owner = postfix
setgid_group = $(postconf -dh setgid_group)
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.bench.example
mydomain = bench.example
myorigin = bench.example
mydestination = bench.example
local_recipient_maps =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
local_transport = discard:
virtual_transport = discard:
relay_transport = discard:
default_transport = discard:
alias_maps =
alias_database =
biff = no
maillog_file = $W/pf/maillog
maillog_file_prefixes = $W
EOF
  cat > "$W/pf/etc/master.cf" <<EOF
127.0.0.1:$PFPORT inet n - n - - smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
discard   unix  -       -       n       -       -       discard
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
showq     unix  n       -       n       -       -       showq
pickup    unix  n       -       n       60      1       pickup
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
  if postfix -c "$W/pf/etc" start > "$W/pf/start.log" 2>&1; then
    PF_STARTED=1
    i=0; while ! ss -ltnH "sport = :$PFPORT" 2>/dev/null | grep -q . && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
  else
    PFNOTE="postfix -c $W/pf/etc start failed: $(tail -2 "$W/pf/start.log" "$W/pf/maillog" 2>/dev/null | tr '\n' ' ')"
  fi
fi

# --- the load ---------------------------------------------------------------------------------
load() {   # load PORT COUNT [-d]: smtp-source, one message per connection (or, with -d, all
           # of a session's messages on one connection); exits non-zero on any refusal
  smtp-source ${3:-} -s "$S" -m "$2" -l $SIZE -f sender@bench.example -t user@bench.example "127.0.0.1:$1"
}
run() {    # run PORT [-d]: messages per second over N messages
  t0=$(now); load "$1" "$N" ${2:-} || return 1; t1=$(now)
  rate "$N" "$t0" "$t1"
}

load $SLPORT 50 || { echo "smtpd msgs/s: failed (smtp-source against sluice)"; tail -5 "$W/sl.log"; exit 1; }
[ $PF_STARTED = 1 ] && { load $PFPORT 50 || { PFNOTE="smtp-source against postfix failed"; PF_STARTED=0; }; }
best_sl=0; best_pf=0
for round in 1 2 3; do
  r=$(run $SLPORT) || { echo "smtpd msgs/s: failed (smtp-source against sluice, round $round)"; exit 1; }
  [ "$r" -gt $best_sl ] && best_sl=$r
  if [ $PF_STARTED = 1 ]; then
    r=$(run $PFPORT) || { PFNOTE="smtp-source against postfix failed"; PF_STARTED=0; continue; }
    [ "$r" -gt $best_pf ] && best_pf=$r
  fi
done
# for the record: the same with connections reused, which leaves out the TCP server's fork and
# exec of smtpd per message (the queue program still runs once per message)
reuse_sl=$(run $SLPORT -d) || reuse_sl=failed
reuse_pf=n/a
[ $PF_STARTED = 1 ] && { reuse_pf=$(run $PFPORT -d) || reuse_pf=failed; }
queued=$(ls "$QROOT/q/new" | wc -l)
want=$((50 + 4 * N))
echo "smtpd: sluice = $SRVNAME + $RBLNAME + smtpd; queue = fsyncing stand-in for queue-inject (not written yet); $queued of $want messages on disk"
if [ $PF_STARTED = 1 ]; then
  sleep 1
  echo "smtpd: postfix = $(postconf -dh mail_version) private instance, smtpd + cleanup (queue file fsynced) + discard transport; $(grep -c 'status=sent' "$W/pf/maillog" 2>/dev/null) delivered"
  echo "smtpd: connections reused (smtp-source -d), one round: sluice $reuse_sl, postfix $reuse_pf msgs/s"
  echo "smtpd: both queues on $FSNAME"
  echo "smtpd: $S parallel sessions, one $SIZE-byte message per connection, best of 3 rounds of $N"
  echo "smtpd msgs/s: sluice $best_sl, postfix $best_pf, ratio $(awk -v a=$best_sl -v b=$best_pf 'BEGIN { printf "%.2f", a / b }')"
else
  echo "smtpd msgs/s: sluice $best_sl, postfix n/a ($PFNOTE), ratio n/a"
fi
[ "$queued" = "$want" ] || { echo "smtpd: error: $queued messages on disk, $want accepted"; exit 1; }
