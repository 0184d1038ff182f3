#!/bin/sh
# log-report over generated logs of the sluice services (t/logreport-gen.py, one file in time
# order, about LOGREPORT_BENCH_MB megabytes, default 1024) against wc -l over the same file
# (target: at most 3 times its time), and against Debian's pflogsumm over a Postfix log of the
# same messages (target: at least 10 times faster); the peak memory of log-report. Files
# read from the page cache (read once before); log-report and wc -l run 5 times in turn, each
# the best elapsed with its CPU (user + system) and the slowest elapsed (the spread: the machine
# may be shared, and CPU time is what another process changes least); pflogsumm once. Prints:
#   log-report vs wc -l: sluice X s, classic Y s, ratio Z
#   log-report vs pflogsumm: sluice X s, classic Y s, ratio Z
#   log-report peak memory: N kB over M MB (K lines)
. "$(dirname "$0")/common.shlib"
MB=${LOGREPORT_BENCH_MB:-1024}
for t in pflogsumm wc; do
  command -v $t >/dev/null 2>&1 || { echo "log-report: skipped ($t is not installed)"; exit 0; }
done
[ -x "$B/log-report" ] || { echo "log-report: skipped ($B/log-report is not built)"; exit 1; }
[ -x /usr/bin/time ] || { echo "log-report: skipped (/usr/bin/time is not installed)"; exit 0; }
bench_init log-report
TOP=$(cd "$(dirname "$0")/../.." && pwd)
# about 1100 bytes of sluice logs per message
msgs=$((MB * 1024 * 1024 / 1100))
days=$(( (msgs + 99999) / 100000 ))
"$PY" "$TOP/t/logreport-gen.py" --days $days --msgs $((msgs / days)) --seed 11 --flat "$W/sluice.log" --postfix "$W/postfix.log" "$W/d" > "$W/exp.json"
size=$(($(stat -c %s "$W/sluice.log") / 1048576))
lines=$(wc -l < "$W/sluice.log")
nmsg=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["new"])' "$W/exp.json")
cat "$W/sluice.log" "$W/postfix.log" > /dev/null

# one run of a command, its times appended to $W/t.NAME: "elapsed cpu maxrss"
run1() {
  name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$W/t" "$@" > /dev/null 2>"$W/err" || { cat "$W/err"; exit 1; }
  awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$W/t" >> "$W/t.$name"
}
# "elapsed cpu maxrss slowest-elapsed" of the fastest run of NAME
best() { sort -n "$W/t.$1" | awk 'NR == 1 { b = $0 } { e = $1 } END { print b, e }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "inf" }'; }
echo "log-report: ${size} MB, $lines lines, $nmsg messages; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: take these as a first indication)"
for i in 1 2 3 4 5; do run1 wc wc -l "$W/sluice.log"; run1 lr "$B/log-report" "$W/sluice.log"; done
run1 pf pflogsumm "$W/postfix.log"
set -- $(best wc); wce=$1 wcc=$2 wcs=$4
set -- $(best lr); lre=$1 lrc=$2 lrm=$3 lrs=$4
set -- $(best pf); pfe=$1 pfc=$2
"$B/log-report" -j "$W/sluice.log" | "$PY" -c 'import json,sys
r = json.load(sys.stdin); e = json.load(open(sys.argv[1]))
assert r["queue"]["new"] == e["new"], (r["queue"]["new"], e["new"])' "$W/exp.json" || { echo "log-report: the report's count is wrong"; exit 1; }
echo "log-report vs wc -l: sluice $lre s, classic $wce s, ratio $(ratio "$lre" "$wce") (target at most 3); CPU: sluice $lrc s, classic $wcc s, ratio $(ratio "$lrc" "$wcc"); slowest of 5: sluice $lrs s, classic $wcs s"
echo "log-report vs pflogsumm: sluice $lre s, classic $pfe s, ratio $(ratio "$pfe" "$lre") (target at least 10 times faster; $nmsg messages, $(wc -l < "$W/postfix.log") Postfix lines); CPU: sluice $lrc s, classic $pfc s"
echo "log-report peak memory: $lrm kB over $size MB ($lines lines)"
