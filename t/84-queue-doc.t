#!/bin/sh
# The queue's man pages work as printed: the examples of queue-inject(8), queue-injectd(8),
# queue-list(8), sluice-queue(5) and queue-local(8) run against a scratch instance and give
# what the pages show (queue IDs, dates, sizes and pids aside); the protocol exchange of
# queue-injectd(8) has the right lengths; smtpd(8)'s reply and log line carry the queue ID
# that queue-run(8) logs; the run scripts are valid sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
plan 27
cd "$TOP" || exit 1

# the EXAMPLES section of a page, as a reader sees it
examples() { mandoc -T ascii "doc/$1" | col -bx | awk '/^EXAMPLES/{on=1;next} /^[A-Z]/{on=0} on'; }
# block PAGE FIRST LAST: the lines of its EXAMPLES from the first matching the ERE FIRST to
# the next matching LAST, without the indentation of the first
block() {
  examples "$1" | A=$2 Z=$3 awk '
    { t = $0; sub(/^ +/, "", t) }
    !on && t ~ ENVIRON["A"] { on = 1; match($0, /^ */); ind = RLENGTH }
    on { print substr($0, ind + 1); if (t ~ ENVIRON["Z"]) exit }'
}
# what varies from run to run: dates, numbers, blanks (tabs are spaces in a rendered page)
norm() {
  sed -E 's/[A-Z][a-z]{2}, [0-9]+ [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \+0000/DATE/g; s/[0-9]+/N/g; s/[[:space:]]+/ /g; s/ $//'
}
envelope_of() {   # the envelope of queue file $1, NULs as |
  python3 -c 'import sys
d = open(sys.argv[1], "rb").read()
h, rest = d.split(b"\n\n", 1)
n = int([l for l in h.split(b"\n") if l.startswith(b"envelope ")][0].split()[1])
print(rest[:n].replace(b"\0", b"|").decode())' "$1"
}
PATH=$B:$PATH; export PATH

# ---- queue-inject(8), in an instance of its own -------------------------------------------
I=$T/inj
mkdir -p "$I/control" "$I/queue/tmp" "$I/queue/todo" "$T/w"
echo mx.test.example > "$I/control/me"
block queue-inject.8 "^printf 'Fann@example.org..Tjoe" "queue-inject 1< envelope" > "$T/ex1.sh"
is "$(wc -l < "$T/ex1.sh")" 2 "queue-inject(8): the first example is two lines"
( cd "$T/w" && SLUICEDIR=$I sh "$T/ex1.sh" ) 2>"$T/err"
is "$?" 0 "it queues the message (exit 0)"
f=$(ls "$I/queue/todo")
is "$(envelope_of "$I/queue/todo/$f")" "Fann@example.org|Tjoe@example.com||" "with the envelope as printed"
ok "and the message after its Received: line" python3 -c 'import sys
d = open(sys.argv[1], "rb").read()
m = d[d.index(b"\0\0") + 2:]
assert m.startswith(b"Received: (sluice ") and m.endswith(b"\nSubject: hello\n\nhi joe\n"), m' "$I/queue/todo/$f"
block queue-inject.8 "^printf 'Fann@example.org..\\\\0' >" "echo" > "$T/ex2.sh"
want=$(examples queue-inject.8 | awk '/^ *prints$/ { getline; getline; print $1 }')
is "$want" 91 "the second example says it prints 91"
is "$(cd "$T/w" && SLUICEDIR=$I sh "$T/ex2.sh" 2>/dev/null)" "$want" "and it does"
is "$(ls "$I/queue/todo" | wc -l)" 1 "nothing more is queued"

# ---- queue-injectd(8): the exchange, and the example against a running queue-injectd -------
x=$(mandoc -T ascii doc/queue-injectd.8 | col -bx | grep -m1 '^ *1:1,35:' | sed 's/^ *//')
ok "queue-injectd(8): the exchange's netstrings have the right lengths" python3 -c '
import sys, codecs
s = codecs.decode(sys.argv[1], "unicode_escape").encode("latin-1")
while s:
    n, rest = s.split(b":", 1)
    n = int(n)
    assert rest[n:n+1] == b",", (n, rest)
    s = rest[n+1:]
' "$x"
mandoc -T ascii doc/queue-injectd.8 | col -bx | sed -n 's/^ *\(28:0 .*,\)$/\1/p' > "$T/printed"
start_bg env SLUICEDIR="$I" "$B/queue-injectd" 2>"$T/injd.log"
wait_for 5 test -S "$I/queue/inject"
block queue-injectd.8 "^python3 - <<'EOF'" "^EOF$" > "$T/ex3.sh"
out=$(cd "$T/w" && SLUICEDIR=$I sh "$T/ex3.sh")
like "$out" '^[0-9]+:0 [0-9]+\.[0-9]{6}\.[0-9]+,$' "its Python example gets the answer 0 and a queue ID ($out)"
is "$(printf %s "$out" | norm)" "$(norm < "$T/printed")" "as the page shows it"
id=${out#*:0 }; id=${id%,}
is "$(envelope_of "$I/queue/todo/$id")" "Fann@example.org|Tjoe@example.com||" "and the message is in todo/ under that ID"
stop_pid "$BGPID"

# ---- a queue at work: bob@example.com delivered, joe@example.com deferred -----------------
q_init
q_user bob@example.com
q_user joe@example.com
J=$S/domains/example.com/joe
printf '|exit 111\n' > "$J/.qmail"
chown "$OWNER:$OWNER" "$J/.qmail"
q_start
printf 'Subject: hello\n\nhi joe\n' | inject ann@example.com bob@example.com joe@example.com
wait_log 10 'delivery [0-9]+: success' && wait_log 10 'delivery [0-9]+: deferral'
ok "a message, one recipient delivered and one deferred" grep -q 'delivery [0-9]*: deferral: .qmail line 1' "$T/queue.log"
id=$(ls "$Q/mess")

# queue-list(8)
block queue-list.8 '^\$ queue-list$' 'not yet processed' > "$T/ql"
sed -n '2,/^\$ queue-list -s/p' "$T/ql" | sed '$d' > "$T/ql.want"
sed -n '/^\$ queue-list -s/,$p' "$T/ql" | sed 1d > "$T/qls.want"
is "$(queue-list | norm)" "$(norm < "$T/ql.want")" "queue-list(8): queue-list shows what the page shows"
is "$(queue-list -s)" "$(cat "$T/qls.want")" "queue-list -s too, exactly"
block queue-list.8 '^queue-list -j' "print\\(m" > "$T/ex4.sh"
is "$(sh "$T/ex4.sh")" "$id joe@example.com .qmail line 1: the program failed temporarily (exit 111)" "its JSON example lists the deferred recipient"
is_rc 100 "queue-list: an unknown option is a usage error" queue-list -x

# sluice-queue(5)
ex=1796168229.265608.10953299
block sluice-queue.5 '^\$ cd /var/sluice/queue' '^Z 1 ' > "$T/sq"
# each "$ command" with the lines it prints; run in $Q, the message's real ID for the example's
T=$T awk '/^\$ /{n++; sub(/^\$ /, ""); print > (ENVIRON["T"] "/sq.cmd" n); next} {print > (ENVIRON["T"] "/sq.out" n)}' "$T/sq"
n=$(ls "$T"/sq.cmd* | wc -l)
is "$n" 4 "sluice-queue(5): the example has four commands"
k=2
while [ $k -le "$n" ]; do
  cmd=$(sed "s/$ex/$id/g" "$T/sq.cmd$k")
  got=$(cd "$Q" && sh -c "$cmd" | norm | sort)
  want=$(norm < "$T/sq.out$k" | sort)
  is "$got" "$want" "'$(cat "$T/sq.cmd$k")' prints what the page shows"
  k=$((k+1))
done
like "$(cat "$T/sq.cmd1")" '^cd /var/sluice/queue$' "the first one goes to the queue (here $Q)"
is "$(sed -n 2p "$Q/mess/$id")" "$(grep '^envelope ' "$T/sq.out3")" "the envelope's length is the page's, to the byte"

# queue-local(8): the workers, and the user they run as
block queue-local.8 '^ps ' '^ps ' > "$T/ex5.sh"
sh "$T/ex5.sh" > "$T/ps.out"
mine=""
for h in $(pgrep -P "$RUNPID"); do mine="$mine $(pgrep -P "$h")"; done   # the helper's workers
found=0
for w in $mine; do grep -Eq "^ *$OWNER +$w .*queue-local" "$T/ps.out" && found=1; done
is "$found" 1 "queue-local(8): its ps example shows our worker, running as the domain's owner"

# smtpd(8): the reply and the log line carry the ID that queue-run logs
printf 'EHLO me\r\nMAIL FROM:<ann@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSubject: by smtp\r\n\r\nhi bob\r\n.\r\nQUIT\r\n' \
  | smtpd >"$T/smtp.out" 2>"$T/smtpd.log"
sid=$(sed -n 's/^250 2\.0\.0 ok queued as \([0-9.]*\)\r$/\1/p' "$T/smtp.out")
like "$sid" '^[0-9]+\.[0-9]{6}\.[0-9]+$' "smtpd(8): 250 2.0.0 ok queued as ID"
like "$(cat "$T/smtpd.log")" "^accept ip=[^ ]+ id=$sid bytes=" "its accept line has id=ID"
wait_log 10 "end msg $sid"
ok "queue-run(8) logs the same ID from new msg to end msg" grep -q "^new msg $sid\$" "$T/queue.log"

# the run scripts of queue-injectd(8), queue-run(8), queue-spawn(8) are valid sh
bad=""
for p in queue-injectd.8 queue-run.8 queue-spawn.8; do
  block "$p" '^#!/bin/sh$' '^exec ' > "$T/run"
  sh -n "$T/run" && grep -q '^exec ' "$T/run" || bad="$bad $p"
done
is "$bad" "" "the run scripts in the pages are valid sh"
q_stop
