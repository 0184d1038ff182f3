#!/bin/sh
# A post to a list of 100,000 subscribers: the time from its arrival at list-expand to its one
# queue entry being written (queue-injectd answered: the entry is in todo/, fsynced), and the
# most memory list-expand used; then what one subscriber more costs at a million.
#   sluice: list-expand (as the list's owner) -> queue-injectd's socket -> queue/todo/ID
# Debian ships no ezmlm-idx (the classic tool, whose ezmlm-send would be the anchor), nor
# ezmlm: the numbers are printed against the issue's goals, under a second and under 64 MB.
# On a new ext4 filesystem when run as root (see common.shlib), ROUNDS posts, the median.
# Prints:
#   list post 100000 subscribers: sluice X s, goal 1 s, ratio Z
#   list post memory: sluice X MB, goal 64 MB, ratio Z
#   list sub one at 1000000: sluice X ms ...
# Tunables: LIST_BENCH_SUBS (100000), LIST_BENCH_ROUNDS (5), LIST_BENCH_BIG (1000000; 0 skips).
. "$(dirname "$0")/common.shlib"
N=${LIST_BENCH_SUBS:-100000}
ROUNDS=${LIST_BENCH_ROUNDS:-5}
BIG=${LIST_BENCH_BIG:-1000000}
OWNER=4243

for t in list-expand list-manage queue-injectd; do
  [ -x "$B/$t" ] || { echo "list post: skipped ($B/$t is not built)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "list post: skipped (needs root: the list runs as its own user)"; exit 0; }
command -v setpriv >/dev/null || { echo "list post: skipped (setpriv is not installed)"; exit 0; }
if command -v ezmlm-send >/dev/null 2>&1; then CLASSIC="ezmlm-send is installed but not compared yet"; else CLASSIC="ezmlm-idx is not in Debian"; fi

bench_init list
bench_disk 2G
SL=$QROOT/sl
mkdir -p "$SL/control" "$SL/queue" "$QROOT/home"
echo mx.bench.example > "$SL/control/me"
chown $OWNER:$OWNER "$QROOT/home"
L=$QROOT/home/team
"$B/list-manage" make -q "$QROOT/home/.qmail-team" -f '[team #]' "$L" team@bench.example || { echo "list post: failed (list-manage make)"; exit 1; }
"$PY" -c 'import sys
n = int(sys.argv[1])
sys.stdout.write("".join("subscriber%d@host%d.example.org\n" % (i, i % 997) for i in range(n)))' "$N" > "$W/subs"
t0=$(now)
"$B/list-manage" sub "$L" < "$W/subs" || { echo "list post: failed (list-manage sub)"; exit 1; }
t1=$(now)
[ "$("$B/list-manage" list -c "$L")" = "$N" ] || { echo "list post: failed (not $N subscribers)"; exit 1; }
bg env SLUICEDIR=$SL "$B/queue-injectd" 2> "$W/injectd.log"
i=0; while [ ! -S "$SL/queue/inject" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
printf 'From: Ann <subscriber1@host1.example.org>\nTo: team@bench.example\nSubject: a post\nMessage-ID: <1@host1.example.org>\n\n' > "$W/post"
"$PY" -c 'import sys; sys.stdout.write(("a line of a post of about 4 KB, " * 2 + "\n") * 60)' >> "$W/post"

# each round: list-expand under python's clock, its peak memory from getrusage
"$PY" - "$ROUNDS" "$L" "$W/post" "$B/list-expand" "$OWNER" "$SL" > "$W/rounds" <<'EOF'
import os, resource, subprocess, sys, time
rounds, lst, post, prog, owner, sl = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
env = dict(os.environ, SENDER="subscriber1@host1.example.org", DTLINE="Delivered-To: team@bench.example", SLUICEDIR=sl)
env.pop("QMAILQUEUE", None)
def child():
    os.setgroups([]); os.setgid(owner); os.setuid(owner)
for r in range(int(rounds)):
    with open(post, "rb") as f:
        t0 = time.monotonic()
        p = subprocess.run([prog, lst], stdin=f, env=env, preexec_fn=child, capture_output=True)
        t1 = time.monotonic()
    if p.returncode:
        print("failed", p.returncode, p.stderr.decode().strip())
        sys.exit(1)
    print("%.4f" % (t1 - t0))
print("maxrss", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
EOF
[ $? = 0 ] || { echo "list post: failed ($(cat "$W/rounds"))"; exit 1; }
entries=$(ls "$SL/queue/todo" | wc -l)
[ "$entries" = "$ROUNDS" ] || { echo "list post: failed ($entries queue entries for $ROUNDS posts)"; exit 1; }
f=$SL/queue/todo/$(ls "$SL/queue/todo" | head -1)
rcpt=$("$PY" -c 'import sys
d = open(sys.argv[1], "rb").read()
h, rest = d.split(b"\n\n", 1)
n = int([l for l in h.split(b"\n") if l.startswith(b"envelope ")][0].split()[1])
print(sum(1 for r in rest[:n].split(b"\0") if r.startswith(b"T")))' "$f")
[ "$rcpt" = "$N" ] || { echo "list post: failed (an entry has $rcpt recipients, not $N)"; exit 1; }
med=$(grep -v maxrss "$W/rounds" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
rss=$(awk '/maxrss/ { printf "%.1f", $2 / 1024 }' "$W/rounds")
echo "# $(uname -n), $(nproc) cores, $FSNAME; a machine shared with other work: a first indication only"
echo "# $N subscribers added with one list-manage sub in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s; each post one queue entry of $N recipients ($ROUNDS posts, times: $(grep -v maxrss "$W/rounds" | tr '\n' ' '))"
echo "list post $N subscribers: sluice $med s, goal 1 s ($CLASSIC), ratio $(awk -v a="$med" 'BEGIN { printf "%.2f", a / 1 }')"
echo "list post memory: sluice $rss MB, goal 64 MB, ratio $(awk -v a="$rss" 'BEGIN { printf "%.2f", a / 64 }')"

# one subscriber more, checked, removed, at a million
if [ "$BIG" -gt 0 ]; then
  "$PY" -c 'import sys
n = int(sys.argv[1])
sys.stdout.write("".join("big%d@host%d.example.net\n" % (i, i % 991) for i in range(n - int(sys.argv[2]))))' "$BIG" "$N" > "$W/big"
  t0=$(now); "$B/list-manage" sub "$L" < "$W/big"; t1=$(now)
  [ "$("$B/list-manage" list -c "$L")" = "$BIG" ] || { echo "list sub: failed (not $BIG subscribers)"; exit 1; }
  ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
  a0=$(now); "$B/list-manage" sub "$L" one.more@example.net; a1=$(now)
  r0=$(now); "$B/list-manage" unsub "$L" one.more@example.net; r1=$(now)
  echo "# $BIG subscribers: the other $((BIG - N)) added in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s (one command)"
  echo "list sub one at $BIG: sluice $(ms "$a0" "$a1") ms, unsub $(ms "$r0" "$r1") ms (one bucket of 1024 rewritten and fsynced; a process start included)"
fi
