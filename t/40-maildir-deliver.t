#!/bin/sh
# maildir-deliver: what lands in the Maildir, read back by python's mailbox.Maildir and by
# mutt; exit codes for missing and broken Maildirs; -c; Maildir++ quota (-q, -b); deadline.
. "$(dirname "$0")/lib.sh"
plan 40
MD=$B/maildir-deliver
cd "$T" || exit 1
mkdir -p M/tmp M/new M/cur

msg() { printf 'From: Ann <ann@a.example>\nTo: bob@b.example\nSubject: %s\n\nbody of %s\nFrom the start of a line\n' "$1" "$1"; }

msg one | RPLINE='Return-Path: <ann@a.example>' DTLINE='Delivered-To: bob@b.example' "$MD" M
is "$?" 0 "a delivery exits 0"
is "$(ls M/new | wc -l | tr -d ' ')" 1 "one file in new/"
is "$(ls M/tmp | wc -l | tr -d ' ')" 0 "nothing left in tmp/"
f=$(ls M/new)
like "$f" '^[0-9]+\.M[0-9]+P[0-9]+Q1R[0-9a-f]{8}\..+,S=[0-9]+$' "the name is time.MusecPpidQnRrand.host,S=size"
size=$(wc -c < "M/new/$f" | tr -d ' ')
is "${f##*,S=}" "$size" "S= in the name is the size of the file"
is "$(head -2 "M/new/$f")" "Return-Path: <ann@a.example>
Delivered-To: bob@b.example" "Return-Path then Delivered-To come first, newline added"
is "$(tail -n +3 "M/new/$f")" "$(msg one)" "the message follows byte for byte"
is "$(stat -c %a "M/new/$f")" 600 "the message is private (0600)"

# no RPLINE/DTLINE: the message exactly as given; several deliveries, all distinct
for s in two three four; do msg "$s" | "$MD" M || echo "failed $s"; done >"$T/fails"
is "$(cat "$T/fails")" "" "three more deliveries succeed"
is "$(ls M/new | wc -l | tr -d ' ')" 4 "four files in new/"

# python's mailbox module reads them all, with the headers we wrote
py=$(python3 - "$T/M" <<'EOF'
import mailbox, sys
md = mailbox.Maildir(sys.argv[1], factory=None, create=False)
out = []
for key, m in md.items():
    out.append("%s|%s|%s|%s" % (m["Subject"], m.get("Return-Path", "-"), m.get("Delivered-To", "-"),
        m.get_payload().splitlines()[0]))
print("\n".join(sorted(out)))
EOF
)
is "$py" "four|-|-|body of four
one|<ann@a.example>|bob@b.example|body of one
three|-|-|body of three
two|-|-|body of two" "python mailbox.Maildir reads every message and its headers"

# mutt (t/mutt-copy.py): tag all, copy them to an mbox, quit. It reads a copy: mutt moves
# new/ to cur/.
cp -r M Mcopy
if command -v mutt >/dev/null; then
  HOME=$T python3 "$TOP/t/mutt-copy.py" "$T/Mcopy" "$T/mutt.mbox" </dev/null >/dev/null 2>&1
  is "$(grep -c '^Subject:' "$T/mutt.mbox" 2>/dev/null)" 4 "mutt opens the Maildir and copies out all four messages"
  is "$(grep '^Subject:' "$T/mutt.mbox" | sort | tr '\n' ' ')" "Subject: four Subject: one Subject: three Subject: two " "mutt sees every subject"
  like "$(grep -A1 '^Return-Path:' "$T/mutt.mbox")" 'Delivered-To: bob@b.example' "mutt sees the Delivered-To line we wrote"
else
  skip 3 "mutt missing"
fi

# an empty message is still a message
"$MD" M </dev/null
is "$?" 0 "an empty message is delivered"
is "$(ls M/new | wc -l | tr -d ' ')" 5 "and is in new/"

# what is not a Maildir
mkdir plain
is_rc 100 "a directory without tmp/ new/ cur/ is a permanent failure (100)" "$MD" plain </dev/null
like "$(cat "$T/err")" '^maildir-deliver: fatal: plain: not a Maildir' "and says so"
mkdir -p half/new half/cur
is_rc 100 "a Maildir without tmp/ is refused (100)" "$MD" half </dev/null
is "$(ls half/new | wc -l | tr -d ' ')" 0 "and nothing is in its new/"
: >afile
is_rc 100 "a plain file is not a Maildir (100)" "$MD" afile </dev/null
is_rc 111 "a missing directory is temporary (111): a disk may be unmounted" "$MD" absent </dev/null
like "$(cat "$T/err")" '^maildir-deliver: fatal: unable to open absent: No such file or directory$' "and says so"
msg five | "$MD" -c absent
is "$?" 0 "-c makes a missing Maildir"
is "$(ls -d absent/tmp absent/new absent/cur | wc -l | tr -d ' '):$(ls absent/new | wc -l | tr -d ' ')" "3:1" "with tmp/ new/ cur/, and delivers into it"
msg six | "$MD" -c plain
is "$?" 0 "-c completes a directory into a Maildir"
is_rc 111 "-c under a missing parent is temporary" "$MD" -c nowhere/Maildir </dev/null

# usage
is_rc 100 "no directory: usage (100)" "$MD" </dev/null
is_rc 100 "a bad -t: usage (100)" "$MD" -t 1x M </dev/null
is_rc 100 "a bad -q: usage (100)" "$MD" -q 100X M </dev/null

# Maildir++ quota: maildirsize written and kept up to date; over quota defers, or bounces (-b)
mkdir -p Q/tmp Q/new Q/cur
printf '%099d\n' 0 >m100    # 100 bytes
"$MD" -q 250S,10C Q <m100
is "$(cat Q/maildirsize)" "250S,10C
0 0
100 1" "-q writes maildirsize: quota, count, and our delivery"
"$MD" -q 250S,10C Q <m100
is "$?" 0 "a second message fits (200 of 250)"
"$MD" -q 250S,10C Q <m100 2>"$T/err"
is "$?" 111 "a third one would pass the quota: deferred (111)"
like "$(cat "$T/err")" 'mailbox is full \(#4\.2\.2\)' "and says the mailbox is full"
"$MD" -b Q <m100 2>"$T/err"
is "$?" 100 "with -b it bounces (100); the quota is read from maildirsize"
is "$(ls Q/new | wc -l | tr -d ' '):$(ls Q/tmp | wc -l | tr -d ' ')" "2:0" "nothing of the refused messages is left"
rm "Q/new/$(ls Q/new | head -1)"
"$MD" Q <m100
is "$?" 0 "after a reader deletes a message without telling maildirsize, a recount makes room"

# the deadline: a sender that stalls is given up on, leaving nothing
mkdir -p S/tmp S/new S/cur
mkfifo slow
(printf 'Subject: slow\n\n'; sleep 4) >slow &
writer=$!
start=$(date +%s)
"$MD" -t 1 S <slow 2>"$T/err"
rc=$?
end=$(date +%s)
is "$rc:$(find S/new S/tmp -type f | wc -l | tr -d ' ')" "111:0" "-t 1 with a stalled input: 111 and nothing in tmp/ or new/"
ok "at the deadline ($((end - start)) s), not when the input ends (4 s)" test $((end - start)) -le 2
like "$(cat "$T/err")" 'timed out' "and says it timed out"
kill "$writer" 2>/dev/null
