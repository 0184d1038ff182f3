#!/bin/sh
# log-report on logs stamped by daemontools (multilog t, rotated at 4 KB; tai64n) and by
# s6-log (t), from the same lines: the same counts; -m reads daemontools' stamps (TAI + 10
# without leap seconds), the default s6-log's (true TAI): both give the time the lines were
# written.
. "$(dirname "$0")/lib.sh"
for t in multilog tai64n s6-log; do command -v $t >/dev/null || skip_all "$t is not installed"; done
plan 14
LR=$B/log-report
export TZ=UTC
# an SMTP service's and the queue's lines, in the order they were written, without stamps
"$PY" "$TOP/t/logreport-gen.py" --msgs 300 --seed 6 --flat "$T/flat" "$T/g" > "$T/exp.json"
grep -v ' pop3\| quit \|mech=USER\|auth-check: ok' "$T/flat" | cut -c27- > "$T/lines"
want=$("$PY" -c 'import json,sys; e=json.load(open(sys.argv[1]))
print(sum(e["accepted"].values()), e["deliveries"], e["rejected"], e["new"], e["followed"])' "$T/exp.json")
counts() { "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); q=r["queue"]
print(sum(s["messages"]["accepted"] for s in r["services"]), [q["deliveries"][k] for k in ("success", "deferral", "failure")],
      sum(s["rejected"] for s in r["services"]), q["new"], q["followed_from_smtpd"])' "$1"; }

t0=$(date +%s)
mkdir "$T/ml"
multilog t s4096 n1000 "$T/ml/smtpd" < "$T/lines"
t1=$(date +%s)
ok "multilog rotated its log" sh -c "ls '$T/ml/smtpd' | grep -q '^@.*\.s\$'"
is_rc 0 "log-report -m on multilog's directory" "$LR" -m -j "$T/ml/smtpd"
cp "$T/out" "$T/ml.json"
is "$(counts "$T/ml.json")" "$want" "multilog: accepted, deliveries, rejections, queued, followed: as generated"
is "$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["lines"]["read"], r["lines"]["unstamped"])' "$T/ml.json")" "$(wc -l < "$T/lines") 0" "every line read, every one stamped"
first=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["period"]["first"])' "$T/ml.json")
ok "-m: the first line's time is when multilog wrote it ($first in $t0..$t1)" test "$first" -ge "$t0" -a "$first" -le "$t1"
"$LR" -j "$T/ml/smtpd" > "$T/ml2.json"
first2=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["period"]["first"])' "$T/ml2.json")
is "$((first - first2))" 27 "without -m, daemontools' stamps read as s6-log's are 27 seconds early (the leap seconds since 1972)"
ls "$T/ml/smtpd"/@*.s | sort | head -1 > "$T/oldest"
is "$("$LR" -m -j -s "@$((t1 + 3600))" "$T/ml/smtpd" | "$PY" -c 'import json,sys; l=json.load(sys.stdin)["lines"]; print(l["used"], l["files_skipped"] > 0)')" "0 True" "-s after the last line: nothing used, the rotated files not even read"

t0=$(date +%s)
tai64n < "$T/lines" > "$T/tai.log"
t1=$(date +%s)
is_rc 0 "log-report -m on tai64n's output, as a plain file" "$LR" -m -j "$T/tai.log"
is "$(counts "$T/out")" "$want" "tai64n: the same counts"

t0=$(date +%s)
s6-log t n1000 s4096 "$T/s6" < "$T/lines"
t1=$(date +%s)
ok "s6-log rotated its log" sh -c "ls '$T/s6' | grep -q '^@.*\.s\$'"
is_rc 0 "log-report on s6-log's directory" "$LR" -j "$T/s6"
cp "$T/out" "$T/s6.json"
is "$(counts "$T/s6.json")" "$want" "s6-log: the same counts"
first=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["period"]["first"])' "$T/s6.json")
ok "s6-log's stamps: the first line's time is when s6-log wrote it ($first in $t0..$t1)" test "$first" -ge "$t0" -a "$first" -le "$t1"
is "$("$LR" -j "$T/s6" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["services"][0]["name"])')" s6 "the service is named after the directory"
