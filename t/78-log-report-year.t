#!/bin/sh
# log-report on a synthetic year of logs (t/logreport-gen.py, rotated at 1 MB): the totals
# exact, a month cut out of it with -s/-e, the text by week; and it streams: its peak memory
# over the year is about that over one month of the same clients and domains.
. "$(dirname "$0")/lib.sh"
[ -x /usr/bin/time ] || skip_all "/usr/bin/time is not installed"
plan 10
LR=$B/log-report
export TZ=UTC
GEN="$PY $TOP/t/logreport-gen.py"
$GEN --days 365 --msgs 80 --rotate 1000000 --seed 7 "$T/y" > "$T/exp.json"
$GEN --days 30 --msgs 80 --rotate 1000000 --seed 7 "$T/m" > "$T/expm.json"
ok "a year of logs in rotated files ($(cat "$T"/y/*/* | wc -l) lines)" test "$(ls "$T/y/queue" | wc -l)" -gt 5
/usr/bin/time -f %M -o "$T/mem.y" "$LR" -j "$T"/y/* > "$T/y.json"
is "$?" 0 "log-report over the year: exit 0"
"$PY" - "$T/y.json" "$T/exp.json" > "$T/checks" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); e = json.load(open(sys.argv[2])); q = r["queue"]
def c(name, got, want): print("%s\t%s\t%s" % (name, got, want))
c("the year: messages accepted", sum(s["messages"]["accepted"] for s in r["services"]), sum(e["accepted"].values()))
c("the year: deliveries", [q["deliveries"][k] for k in ("success", "deferral", "failure")], e["deliveries"])
c("the year: by domain", sorted((d["domain"], [d["success"], d["deferral"], d["failure"]]) for d in q["domains"]), sorted(e["domains"].items()))
c("the year: queued, done, followed", (q["new"], q["done"], q["followed_from_smtpd"]), (e["new"], e["done"], e["followed"]))
c("the year: an entry for each hour with lines, at most one a hour", 8000 < len(r["hours"]) <= 365 * 24 + 1, True)
EOF
while IFS='	' read -r name got want; do is "$got" "$want" "$name"; done < "$T/checks"
# June, from the hours of the whole year
"$LR" -j -s 2026-06-01 -e 2026-07-01 "$T"/y/* > "$T/june.json"
is "$("$PY" -c 'import json,sys,calendar
y = json.load(open(sys.argv[1])); j = json.load(open(sys.argv[2]))
lo, hi = calendar.timegm((2026, 6, 1, 0, 0, 0)), calendar.timegm((2026, 7, 1, 0, 0, 0))
a = [sum(h[k] for h in y["hours"] if lo <= h["start"] < hi) for k in ("accepted", "delivered", "connections")]
b = [sum(h[k] for h in j["hours"]) for k in ("accepted", "delivered", "connections")]
print(a == b, 600 < len(j["hours"]) <= 720)' "$T/y.json" "$T/june.json")" "True True" "-s 2026-06-01 -e 2026-07-01: June's counts, June's hours"
"$LR" "$T"/y/* > "$T/y.txt"
is "$(awk '/^By week/{on=1;next} on && /^  20/' "$T/y.txt" | wc -l)" 53 "the text report goes by week over a year"
/usr/bin/time -f %M -o "$T/mem.m" "$LR" -j "$T"/m/* > /dev/null
my=$(tail -1 "$T/mem.y") mm=$(tail -1 "$T/mem.m")
if [ -n "${SLUICE_SANITIZE:-}" ]; then
  skip 1 "peak memory under ASan is its quarantine of freed memory, not log-report's"
else
  ok "streaming: the year's peak memory (${my} kB) is at most the month's (${mm} kB) plus half" test "$my" -le $((mm * 3 / 2))
fi
