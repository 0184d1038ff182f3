#!/bin/sh
# log-report on synthetic logs with known totals (t/logreport-gen.py: s6-log directories
# with rotated files): every count exact in JSON; the same from rotated files named out of
# order, and from stdin; -s/-e ranges (dates, yesterday/today, @seconds), rotated files
# before the start left unread; garbage (truncated lines, binary, a line of 100 KB without
# newline, bad stamps, clock jumps) counted and skipped; the reader on files of exact sizes (pages,
# its buffer), last lines without a newline, 64 KB lines across the buffer's end, CRLF, from a
# file and from a pipe; bad usage; the JSON keys of the man page; the man page's crontab line
# run as printed.
. "$(dirname "$0")/lib.sh"
plan 123
LR=$B/log-report
GEN="$PY $TOP/t/logreport-gen.py"
export TZ=UTC

# ---- a day of logs, rotated -----------------------------------------------------------------
$GEN --msgs 1500 --rotate 60000 --seed 3 "$T/g" > "$T/exp.json"
ok "the generator made rotated files" sh -c "ls '$T/g/queue' | grep -q '^@.*\.s\$'"
is_rc 0 "log-report -j on the four directories" "$LR" -j "$T/g/smtpd" "$T/g/submission" "$T/g/pop3d" "$T/g/queue"
cp "$T/out" "$T/r.json"
ok "the JSON parses" "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/r.json"

# compare: one line per check, "name<TAB>got<TAB>want"
"$PY" - "$T/r.json" "$T/exp.json" > "$T/checks" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); e = json.load(open(sys.argv[2]))
sv = {s["name"]: s for s in r["services"]}
def c(name, got, want): print("%s\t%s\t%s" % (name, got, want))
for s in ("smtpd", "submission", "pop3d"):
    c(s + ": connections accepted", sv[s]["connections"]["accepted"], e["connections"].get(s, 0))
c("denied by a rule", sum(x["connections"]["denied_rule"] for x in sv.values()), e["denied_rule"])
c("denied by the per-client limit", sum(x["connections"]["denied_limit"] for x in sv.values()), e["denied_limit"])
c("no session counted as failed (denied children exit 100)", sum(x["connections"]["failed"] for x in sv.values()), 0)
for s in ("smtpd", "submission"):
    c(s + ": messages accepted", sv[s]["messages"]["accepted"], e["accepted"].get(s, 0))
    c(s + ": login failures", sv[s]["auth"]["failure"], e["auth_fail"].get(s, 0))
c("submission: logins", sv["submission"]["auth"]["success"], e["auth_ok"]["submission"])
c("bytes accepted", sum(x["messages"]["bytes"] for x in sv.values()), e["bytes"])
c("rejections", sum(x["rejected"] for x in sv.values()), e["rejected"])
c("the rejection's reason", r["smtp"]["rejections"][0]["code"] + " " + r["smtp"]["rejections"][0]["reason"], "553 relaying denied: this domain is not in my list of rcpthosts")
c("refused by the DNS list", [(x["list"], x["refused"]) for x in r["rbl"]], [("bl.example", e["rbl"])])
c("pop3d: logins", sv["pop3d"]["auth"]["success"], e["auth_ok"]["pop3d"])
c("pop3d: login failures", sv["pop3d"]["auth"]["failure"], e["auth_fail"]["pop3d"])
c("pop3d: sessions", sv["pop3d"]["pop3"]["sessions"], e["pop3_sessions"])
c("pop3d: messages retrieved", sv["pop3d"]["pop3"]["retrieved"], e["pop3_retr"])
c("auth-check's reasons", r["auth_check"]["reasons"], [{"reason": "badpassword", "count": e["auth_fail"]["pop3d"]}])
q = r["queue"]
c("queue: messages queued", q["new"], e["new"])
c("queue: messages done", q["done"], e["done"])
c("queue: followed from smtpd's accept", q["followed_from_smtpd"], e["followed"])
c("queue: none from elsewhere, none unseen, none left", (q["from_elsewhere"], q["not_seen_by_queue"], q["still_queued"]), (0, 0, 0))
c("queue: bounces", q["bounces"], e["bounces"])
c("deliveries: success, deferral, failure", [q["deliveries"][k] for k in ("success", "deferral", "failure")], e["deliveries"])
c("deliveries: every result matched its start", q["deliveries"]["without_start"], 0)
c("deliveries by domain", sorted((d["domain"], [d["success"], d["deferral"], d["failure"]]) for d in q["domains"]), sorted(e["domains"].items()))
d = {x["domain"]: x for x in q["domains"]}["example.net"]
c("example.net's reasons", sorted((x["kind"], x["reason"], x["count"]) for x in d["reasons"]),
  sorted([("deferral", "451 4.3.0 try again later", e["domains"]["example.net"][1]), ("failure", "550 5.1.1 no such user", e["domains"]["example.net"][2])]))
c("delays counted: one per success", q["delay"]["count"], e["deliveries"][0])
c("the worst delay is a deferred message's: over 20 minutes", q["delay"]["worst"] > 1200, True)
c("the worst delay names its message", q["delay"]["worst_msg"].count("."), 2)
c("median under 2.1 s (a success takes 0.05 to 2.05 s)", 0 < q["delay"]["median"] < 2.1, True)
c("delay bands add up", sum(b["count"] for b in q["delay"]["bands"]), e["deliveries"][0])
c("queue size: largest, from queue-run's status lines", (q["size"]["max"], q["size"]["exact"]), (e["queue_max"], True))
want = sorted(e["senders"].items(), key=lambda kv: (-kv[1], kv[0]))[:10]
c("top senders, ties by address", [(x["address"], x["messages"]) for x in r["smtp"]["senders"]], want)
c("recipient domains", sorted((x["domain"], x["recipients"]) for x in r["smtp"]["recipient_domains"]), sorted(e["rcptdomains"].items()))
c("foreign lines", r["lines"]["foreign"], e["foreign"])
c("no malformed line", r["lines"]["malformed"], 0)
c("hours: accepted add up", sum(h["accepted"] for h in r["hours"]), sum(e["accepted"].values()))
c("hours: 24 of them, and the last deliveries after midnight", len(r["hours"]) in (24, 25), True)
EOF
while IFS='	' read -r name got want; do is "$got" "$want" "$name"; done < "$T/checks"

# ---- the same logs, other ways ------------------------------------------------------------------
files=$(ls "$T"/g/queue/* "$T"/g/smtpd/* "$T"/g/submission/* "$T"/g/pop3d/* | sort -r)
# shellcheck disable=SC2086
"$LR" -j $files > "$T/r2.json"
is "$(cat "$T/r2.json")" "$(cat "$T/r.json")" "rotated files named one by one, in reverse order: the same report"
cat "$T"/g/smtpd/@* "$T"/g/smtpd/current | "$LR" -j > "$T/r3.json"
is "$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1]))["services"]; print([(x["name"], x["messages"]["accepted"], x["connections"]["accepted"]) for x in s])' "$T/r3.json")" \
   "[('stdin', $("$PY" -c 'import json,sys; e=json.load(open(sys.argv[1])); print(e["accepted"]["smtpd"], end=", "); print(e["connections"]["smtpd"])' "$T/exp.json"))]" \
   "stdin: the smtpd log's counts, as the service stdin"
"$LR" "$T/g/smtpd" "$T/g/submission" "$T/g/pop3d" "$T/g/queue" > "$T/r.txt"
acc=$("$PY" -c 'import json,sys; e=json.load(open(sys.argv[1])); print(sum(e["accepted"].values()))' "$T/exp.json")
like "$(cat "$T/r.txt")" "messages accepted: $acc " "text: the messages accepted"
for h in "Connections (tcpsrv)" "DNS block lists (rblsmtpd)" "SMTP (smtpd)" "Queue and delivery (queue-run)" POP3 "By hour"; do
  ok "text: a section $h" grep -qxF "$h" "$T/r.txt"
done
like "$(grep 'delay from arrival to delivery' "$T/r.txt")" 'median [0-9.]+ s, 95th percentile .*, worst [0-9.]+ min \(msg [0-9]+\.[0-9]{6}\.[0-9]+ to ' "text: the delays, the worst one's message"

# ---- time ranges --------------------------------------------------------------------------------
midnight=$(( $(date +%s) / 86400 * 86400 ))
$GEN --msgs 600 --days 3 --rotate 30000 --seed 4 --start $((midnight - 2 * 86400)) "$T/d" > "$T/exp3.json"
"$LR" -j "$T"/d/* > "$T/all.json"
# the counts of the hours of one day, from the run over all
day_counts() { "$PY" -c 'import json,sys
r = json.load(open(sys.argv[1])); lo, hi = int(sys.argv[2]), int(sys.argv[3])
h = [x for x in r["hours"] if lo <= x["start"] < hi]
print(" ".join(str(sum(x[k] for x in h)) for k in ("connections", "accepted", "rejected", "delivered", "deferred", "failed")))' "$1" "$2" "$3"; }
got_counts() { "$PY" -c 'import json,sys
r = json.load(open(sys.argv[1]))
print(" ".join(str(sum(x[k] for x in r["hours"])) for k in ("connections", "accepted", "rejected", "delivered", "deferred", "failed")))' "$1"; }
"$LR" -j -s yesterday -e today "$T"/d/* > "$T/y.json"
is "$(got_counts "$T/y.json")" "$(day_counts "$T/all.json" $((midnight - 86400)) $midnight)" "-s yesterday -e today: yesterday's counts exactly"
ok "... and some rotated files were never read" "$PY" -c 'import json,sys; assert json.load(open(sys.argv[1]))["lines"]["files_skipped"] > 0' "$T/y.json"
first=$(date -u -d @$((midnight - 2 * 86400)) +%Y-%m-%d)
"$LR" -j -s "$first 06:00" -e "${first}T18:00:00" "$T"/d/* > "$T/r.json"
is "$(got_counts "$T/r.json")" "$(day_counts "$T/all.json" $((midnight - 2 * 86400 + 6 * 3600)) $((midnight - 2 * 86400 + 18 * 3600)))" "-s 'DATE 06:00' -e 'DATET18:00:00': the hours from 6 to 18"
"$LR" -j -s @$((midnight - 86400)) "$T"/d/* > "$T/r.json"
is "$(got_counts "$T/r.json")" "$(day_counts "$T/all.json" $((midnight - 86400)) $((midnight + 86400)))" "-s @seconds: from then on"
is "$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["period"]["start"], r["period"]["first"] >= r["period"]["start"])' "$T/r.json")" "$((midnight - 86400)) True" "period: start as given, the first line used after it"
"$LR" -s today "$T"/d/* > "$T/r.txt"
like "$(head -2 "$T/r.txt" | tail -1)" "^range: $(date -u -d @$midnight +%Y-%m-%d) 00:00 to the end" "text: the range"

# ---- garbage ------------------------------------------------------------------------------------
mkdir "$T/bad"
"$PY" - "$T/bad" <<'EOF'
import os, sys
d = sys.argv[1]
def st(sec): return "@%016x%08x " % ((1 << 62) + 37 + sec, 0)
t = 1767225600
L = []
L.append(st(t) + "accept ip=192.0.2.1 id=1767225600.000001.1 bytes=10 from=<a@b.example> to=<c@d.example>")
L.append(st(t + 1) + "accept ip=192.0.2.1 bytes=10")                       # malformed: no from, no to
L.append(st(t + 2) + "tcpsrv: ok 12 :127.0.0.1:25")                          # malformed: no remote
L.append(st(t + 3) + "reject ip=192.0.2.1 code=5")                           # malformed: bad code
L.append("@4000zzzz" + "0" * 16 + " accept ip=192.0.2.2 id=x bytes=1 from=<> to=<e@f.example>")  # bad stamp: unstamped, still read
L.append("no stamp at all, foreign")
L.append(st(t - 400 * 86400) + "tcpsrv: ok 13 :127.0.0.1:25 :192.0.2.3::4000")   # the clock jumps back
L.append(st(t + 4) + "tcpsrv: ok 14 :127.0.0.1:25 :[2001:db8::1]::4000")
L.append(st(t + 4) + "end ip=192.0.2.1 reason=timeout")
L.append(st(t + 4) + "smtpd: warning: unable to read control/me")
with open(os.path.join(d, "@%016x%08x.s" % ((1 << 62) + 37 + t + 5, 0)), "wb") as f:
    f.write(("\n".join(L) + "\n").encode())
with open(os.path.join(d, "current"), "wb") as f:
    f.write(bytes(x for x in range(256) if x != 10) * 3 + b"\n")                                   # binary: foreign
    f.write(b"\0\0\0accept\0ip=\n")                                        # foreign
    f.write(b"x" * 100000 + b"\n")                                           # too long: malformed
    f.write(st(t + 6).encode() + "accept ip=192.0.2.9 id=1767225606.000001.2 bytes=99 from=<g@h.example> to=<i@j.example>\n".encode())
    f.write(st(t + 7).encode() + b"accept ip=192.0.2.9 id=176722")             # cut short: malformed
EOF
is_rc 0 "garbage: exit 0" "$LR" -j "$T/bad"
cp "$T/out" "$T/bad.json"
ok "garbage: the JSON parses" "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/bad.json"
is "$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); l=r["lines"]; s=r["services"][0]
print(l["read"], l["used"], l["malformed"], l["foreign"], l["unstamped"], s["messages"]["accepted"], s["connections"]["accepted"])' "$T/bad.json")" \
   "15 7 5 3 4 3 2" "garbage: 15 lines, 7 used, 5 malformed, 3 foreign, 4 without a stamp; 3 accepts and 2 connections counted"
is "$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sorted(x["address"] for x in r["clients"]))' "$T/bad.json")" \
   "['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.9', '2001:db8::1']" "garbage: IPv6 without brackets; the line from before the clock jump counted"
"$LR" "$T/bad" > "$T/bad.txt"
is "$(LC_ALL=C tr -d '\n -~' < "$T/bad.txt" | wc -c)" 0 "garbage: the text report is printable ASCII"
"$LR" -H "$T/bad" > "$T/bad.html"
is "$(LC_ALL=C tr -d '\n -~' < "$T/bad.html" | wc -c)" 0 "garbage: so is the HTML page"
is "$(printf 'tcpsrv: ok 1 :127.0.0.1:25 :192.0.2.1::1\n' | "$LR" -j -s 2026-01-01 | "$PY" -c 'import json,sys; l=json.load(sys.stdin)["lines"]; print(l["outside"], l["used"])')" "1 0" "-s: a line without any stamp is outside the range"

# ---- the reader: files of exact sizes (pages, the 256 KB buffer), last lines without a
# newline, lines of 64 KB at the buffer's end, CRLF, stamps within a second; the same from a pipe
mkdir "$T/edge"
"$PY" - "$T/edge" > "$T/edge.exp" <<'EOF'
import os, sys
d = sys.argv[1]
t0 = (1 << 62) + 37 + 1767225600
def line(i, host="h", nano=None, cr=False, sec=None):
    # a connection accepted: counted; 7 lines a second, the nanoseconds changing every other line;
    # with CRLF every other line a status line, malformed if the CR were left on it
    s = t0 + i // 7 if sec is None else sec
    n = (i // 2) * 1000 % 1000000000 if nano is None else nano
    if cr and i % 2 and host == "h":
        return "@%016x%08x tcpsrv: status: 1/40\r\n" % (s, n)
    return "@%016x%08x tcpsrv: ok %d :127.0.0.1:25 %s:192.0.2.%d::4000%s\n" % (s, n, 1000 + i, host, i % 200, "\r" if cr else "")
def make(name, size, nonl=False, cr=False, long_at=None):
    # lines up to `size` bytes exactly: the last one's host name pads it
    out, n, i = [], 0, 0
    while True:
        if long_at is not None and i == long_at[0]:
            # a line of exactly long_at[1] bytes before its newline
            base = line(i, "x", cr=cr)
            out.append(line(i, "x" * (long_at[1] - len(base) + 2), cr=cr)); n += len(out[-1]); i += 1; continue
        l = line(i, cr=cr)
        if n + len(l) + 160 >= size: break
        out.append(l); n += len(l); i += 1
    last = line(i, "x", cr=cr)
    pad = size - n - len(last) + (1 if nonl else 0)
    last = line(i, "x" * (1 + pad), cr=cr)
    if nonl: last = last[:-1]
    out.append(last)
    data = "".join(out).encode()
    assert len(data) == size, (name, len(data), size)
    open(os.path.join(d, name), "wb").write(data)
    malformed = sum(1 for l in out if len(l.rstrip("\n")) > 65536)
    print(name, len(out), len(out) - malformed, malformed, sum(1 for l in out if " ok " in l and len(l.rstrip("\n")) <= 65536))
make("page3", 3 * 4096)
make("page1-nonl", 4096, nonl=True)
make("buf", 262144)
make("buf-1", 262143)
make("buf+1", 262145)
make("buf-nonl", 262144, nonl=True)
make("buf2-nonl-crlf", 2 * 262144, nonl=True, cr=True)
make("long64k", 400000, long_at=(2500, 65536))
make("long64k+1", 400000, long_at=(2500, 65537))
make("long64k-crlf", 400000, long_at=(2700, 65536), cr=True)
# stamps: the same second with a bad nanosecond field (unstamped), then a new second
with open(os.path.join(d, "stamps"), "w") as f:
    f.write(line(0, nano=5) + line(1, nano=5) + line(2, nano=6) + line(3, nano=0x3b9aca00) + line(4, nano=7) + line(5, sec=t0 + 3600, nano=1))
print("stamps", 6, 6, 0, 6)
EOF
while read -r f n used mal conn; do
  "$LR" -j "$T/edge/$f" > "$T/edge.json" 2> "$T/err"
  got=$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); l=r["lines"]; print(l["read"], l["used"], l["malformed"], sum(s["connections"]["accepted"] for s in r["services"]))' "$T/edge.json")
  is "$got" "$n $used $mal $conn" "reader: $f: every line read, counted or malformed"
  cat "$T/edge/$f" | "$LR" -j > "$T/edge.pipe" 2> "$T/err"
  is "$("$PY" -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); [x.pop("name") for x in a["services"] + b["services"]]; print(a == b)' "$T/edge.json" "$T/edge.pipe")" True "reader: $f: the same from a pipe"
done < "$T/edge.exp"
is "$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); l=r["lines"]; p=r["period"]; print(l["unstamped"], p["first"], p["last"])' "$T/edge.json")" \
   "1 1767225600 1767229200" "reader: a bad nanosecond field in a second already seen: the line without a stamp; first and last stamps"

# ---- every line of every tool, as their man pages give them ------------------------------------
"$PY" - "$T/words.log" <<'EOF'
import sys
L = """tcpsrv: status: 39/40
tcpsrv: status: 40/40
tcpsrv: status: 40/40
tcpsrv: status: 39/40
tcpsrv: status: 40/40
tcpsrv: pid 123 from 192.0.2.1
tcpsrv: ok 123 mx.example:192.0.2.254:25 client.example:192.0.2.1:alice:4000
tcpsrv: end 123 status 256
tcpsrv: end 124 status 25600
tcpsrv: end 125 status 9
tcpsrv: warning: dropping connection, unable to fork: Resource temporarily unavailable
rblsmtpd: deny 192.0.2.2 pid 77 by bl.example: 553 listed: it sent "EHLO x"
rblsmtpd: deny 192.0.2.2 pid 78 by pregreet: 451 talking before the greeting is not allowed: it sent "EHLO early"
rblsmtpd: tag 192.0.2.5 pid 79 by tag.example: RBLTAG set
rblsmtpd: warning: 192.0.2.6 pid 80: lookup in bl.example failed: Connection refused
rblsmtpd: end 192.0.2.7 pid 81: the client left before the greeting
accept ip=192.0.2.8 qp=4711 bytes=100 auth=alice@example.com tls=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 from=<alice@example.com> to=<x@example.net>
starttls ip=192.0.2.8 discarded=10 reason=input sent with STARTTLS thrown away
end ip=192.0.2.8 reason=session deadline
end ip=192.0.2.8 reason=data too slow
auth-check: ok 192.0.2.12 alice@example.com
auth-check: reject - root@example.com nouser
auth-check: reject 203.0.113.9 root@example.com blocked failures=11 delay=12000ms
tls success ip=192.0.2.9 protocol=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 sni=mx.example
tls failure ip=192.0.2.9 reason=handshake timed out
auth success ip=192.0.2.10 user=bob@example.com mech=APOP
end ip=192.0.2.10 user=bob@example.com retr=2 top=1 bytes=3000 reason=client closed the connection without QUIT
quit ip=192.0.2.10 user=bob@example.com retr=1 top=0 dele=1 left=3 bytes=1000
end ip=192.0.2.11 reason=too many failures
new msg 1767225600.000001.5
info msg 1767225600.000001.5: bytes 500 from <> qp 99 uid 0
starting delivery 1: msg 1767225600.000001.5 to remote a@example.net,b@example.net
status: local 0/10 remote 1/20
delivery 1: failure: mx.example.net[192.0.2.20] said: 550 5.1.1 no such user (in reply to RCPT TO)
delivery 1: failure: mx.example.net[192.0.2.20] said: 550 5.1.1 no such user (in reply to RCPT TO)
bounce msg 1767225600.000001.5: double bounce discarded
bounce msg 1767225600.000001.5: bounce of a bounce discarded (no doublebounceto)
bounce msg 1767225600.000001.5 qp 100 (delay warning)
end msg 1767225600.000001.5
starting delivery 1: msg 1767225600.000002.6 to local c@example.com
delivery 2: success: did 1+0+0
warning: msg 1767225600.000002.6: unable to queue its bounce: queue-inject exit 111
queue-run: fatal: unable to open mess/: Permission denied
queue-injectd: warning: a client timed out: message dropped""".split("\n")
with open(sys.argv[1], "w") as f:
    for i, l in enumerate(L):
        f.write("@%016x%08x %s\n" % ((1 << 62) + 37 + 1767225600, i, l))
EOF
"$LR" -j "$T/words.log" > "$T/w.json"
"$PY" - "$T/w.json" > "$T/checks" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); s = r["services"][0]; q = r["queue"]
def c(name, got, want): print("words: %s\t%s\t%s" % (name, got, want))
c("every line known", (r["lines"]["used"], r["lines"]["foreign"], r["lines"]["malformed"]), (44, 0, 0))
c("the limit reached twice (40/40 after 39/40)", s["connections"]["limit_reached"], 2)
c("sessions failed: exit 1 and a signal, not a denied client's 100", s["connections"]["failed"], 2)
c("DNS lists: denials, tags, failed lookups", sorted((x["list"], x["refused"], x["tagged"], x["lookup_failures"]) for x in r["rbl"]),
  [("bl.example", 1, 0, 1), ("pregreet", 1, 0, 0), ("tag.example", 0, 1, 0)])
c("an accept with qp=, auth=, tls=", (s["messages"]["accepted"], s["messages"]["bytes"]), (1, 100))
c("sessions cut short: smtpd's and pop3-login's", s["cut_short"], 3)
c("their reasons", sorted(x["reason"] for x in r["smtp"]["session_ends"]), ["client closed the connection without QUIT", "data too slow", "session deadline", "too many failures"])
c("auth-check's refusals", sorted((x["reason"], x["count"]) for x in r["auth_check"]["reasons"]), [("blocked", 1), ("nouser", 1)])
c("TLS", s["tls"], {"success": 1, "failure": 1})
c("POP3: an APOP login, a session with QUIT, one without", (s["auth"]["success"], s["pop3"]["sessions"], s["pop3"]["unfinished"], s["pop3"]["retrieved"], s["pop3"]["deleted"], s["pop3"]["bytes"]), (1, 1, 1, 3, 1, 4000))
c("two failures for two recipients of one delivery; the result without its start", sorted((d["domain"], d["success"], d["failure"]) for d in q["domains"]), [("(unknown)", 1, 0), ("example.net", 0, 2)])
c("bounces told apart", (q["bounces"], q["delay_warnings"], q["double_bounces_discarded"]), (0, 1, 2))
c("a result without its start (queue-run started again)", (q["deliveries"]["without_start"], q["restarts"]), (1, 2))
c("no queued count in the status line: the size is counted", q["size"]["exact"], False)
c("warnings and fatal errors by program", sorted((x["source"], x["count"]) for x in r["warnings"]),
  [("queue-injectd: warning:", 1), ("queue-run: fatal:", 1), ("queue-run: warning", 1), ("tcpsrv: warning:", 1)])
EOF
while IFS='	' read -r name got want; do is "$got" "$want" "$name"; done < "$T/checks"

# ---- bad usage ----------------------------------------------------------------------------------
is_rc 100 "unknown option: 100" "$LR" -x
like "$(cat "$T/err")" '^log-report: usage: log-report ' "... with the usage"
is_rc 100 "-j and -H together: 100" "$LR" -j -H "$T/g/smtpd"
is_rc 100 "-n 0: 100" "$LR" -n 0 "$T/g/smtpd"
is_rc 100 "-s 2026-13-01: 100" "$LR" -s 2026-13-01 "$T/g/smtpd"
like "$(cat "$T/err")" '^log-report: fatal: bad time for -s: 2026-13-01: ' "... saying which time and what it may be"
is_rc 100 "-s 2026-02-30: 100" "$LR" -s 2026-02-30 "$T/g/smtpd"
is_rc 100 "-s tomorrow: 100" "$LR" -s tomorrow "$T/g/smtpd"
is_rc 100 "-e before -s: 100" "$LR" -s today -e yesterday "$T/g/smtpd"
is_rc 111 "a directory that does not exist: 111" "$LR" "$T/nonesuch"
like "$(cat "$T/err")" "^log-report: fatal: unable to read $T/nonesuch: No such file" "... naming it"
mkdir "$T/empty"
is_rc 100 "a directory without log files: 100" "$LR" "$T/empty"
like "$(cat "$T/err")" 'no log files in .*empty' "... saying so"

# ---- the man page ---------------------------------------------------------------------------------
mandoc -T ascii "$TOP/doc/log-report.1" | col -bx > "$T/man"
awk '/^JSON/{on=1;next} /^[A-Z]/{on=0} on' "$T/man" | grep -o '"[a-z_0-9]*"' | tr -d '"' | sort -u > "$T/keys.doc"
"$PY" -c 'import json,sys
keys = set()
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items(): keys.add(k); walk(v)
    elif isinstance(x, list):
        for v in x: walk(v)
for f in sys.argv[1:]: walk(json.load(open(f)))
print("\n".join(sorted(keys)))' "$T/all.json" "$T/bad.json" > "$T/keys.out"
is "$(comm -23 "$T/keys.doc" "$T/keys.out" | grep -vx 'failure\|deferral' | tr '\n' ' ')" "" "every JSON key of the man page is in the output"
is "$(comm -13 "$T/keys.doc" "$T/keys.out" | tr '\n' ' ')" "" "and the output has no key the man page does not describe"
cron=$(grep -m1 '^ *5 0 \* \* \* ' "$T/man" | sed 's/^ *5 0 \* \* \* //')
like "$cron" 'log-report -s yesterday -e today /var/sluice/log/smtpd .* \| sendmail postmaster$' "the crontab line is in the man page"
mkdir -p "$T/bin" "$T/var/sluice"
printf '#!/bin/sh\necho "to: $*" > "%s/mail"; cat >> "%s/mail"\n' "$T" "$T" > "$T/bin/sendmail"; chmod +x "$T/bin/sendmail"
ln -s "$B/log-report" "$T/bin/log-report"
ln -s "$T/d" "$T/var/sluice/log"
(cd "$T" && PATH="$T/bin:$PATH" sh -c "$(printf '%s' "$cron" | sed "s|/var/sluice|$T/var/sluice|g")")
is "$(head -2 "$T/mail")" "to: postmaster
Subject: mail report" "run as printed: a mail to the postmaster with a subject"
like "$(grep 'messages accepted' "$T/mail")" "messages accepted: $("$PY" -c 'import json,sys; print(sum(x["accepted"] for x in json.load(open(sys.argv[1]))["hours"]))' "$T/y.json") " "with yesterday's report"
