#!/bin/sh
# maildir2mbox: new/ and cur/ moved to the end of an mbox, From_ lines, mboxrd quoting, read
# back by python's mailbox and by mutt; the lock waited for; stopped half-way (killed by
# strace at a chosen system call, and journals left as a stopped run leaves them): the next
# run finishes or undoes it, and every message ends up in the mbox exactly once; usage.
. "$(dirname "$0")/lib.sh"
plan 29
cd "$T" || exit 1

# mk DIR: a Maildir with four messages (one in cur/, one without a final newline, From lines)
mk() {
  rm -rf "$1"; mkdir -p "$1/new" "$1/cur" "$1/tmp"
  printf 'Return-Path: <alice@example.org>\nSubject: one\n\nFrom the start\n>From quoted once\nplain\n' > "$1/new/1700000001.M1P1.h"
  printf 'Return-Path: <>\nSubject: two\n\nno final newline' > "$1/new/1700000002.M2P2.h"
  printf 'Subject: three\n\nFrom here\n\nFrom there\n' > "$1/cur/1700000003.M3P3.h:2,S"
  printf 'Return-Path: <bob@example.org>\nSubject: four\n\nbody four\n' > "$1/new/1700000004.M4P4.h"
  touch -d '2026-01-02 03:04:05 UTC' "$1"/new/* "$1"/cur/*
}
# the messages of an mbox as python reads them: subject, then the body with mboxrd unquoted
readbox() {
  "$PY" - "$1" <<'EOF'
import mailbox, sys, re
for m in mailbox.mbox(sys.argv[1]):
    body = m.get_payload()
    body = re.sub(r"(?m)^>(>*From )", r"\1", body)
    print("%s|%s|%r" % (m["Subject"], m.get_from(), body))
EOF
}
mk M
printf 'From old@example.org Thu Jan  1 00:00:00 2026\nSubject: old\n\nold mail\n\n' > mbox
cp mbox mbox.orig
is_rc 0 "maildir2mbox M mbox: exit 0" "$B/maildir2mbox" M mbox
is "$(find M -type f | wc -l)" 0 "the Maildir is empty"
ok "the old mail is untouched at the start" sh -c "head -c $(wc -c < mbox.orig) mbox | cmp - mbox.orig"
is "$(readbox mbox | tr '\n' '#')" "old|old@example.org Thu Jan  1 00:00:00 2026|'old mail\\n'#one|alice@example.org Fri Jan  2 03:04:05 2026|'From the start\\n>From quoted once\\nplain\\n'#two|MAILER-DAEMON Fri Jan  2 03:04:05 2026|'no final newline\\n'#three|MAILER-DAEMON Fri Jan  2 03:04:05 2026|'From here\\n\\nFrom there\\n'#four|bob@example.org Fri Jan  2 03:04:05 2026|'body four\\n'#" \
  "python's mailbox: five messages in order, From_ lines from Return-Path and the file's time, bodies whole once unquoted"
is "$(grep -c '^>From the start$' mbox):$(grep -c '^>>From quoted once$' mbox)" "1:1" "From lines quoted by one more >"
ok "no journal left" test ! -e mbox.m2m
cp mbox good.mbox

# mutt reads the mbox: tags every message and copies them to another mbox
if command -v mutt >/dev/null; then
  HOME=$T "$PY" "$TOP/t/mutt-copy.py" "$T/mbox" "$T/mutt.mbox" -R </dev/null >/dev/null 2>&1
  is "$(grep '^Subject:' mutt.mbox 2>/dev/null | tr '\n' ' ')" "Subject: old Subject: one Subject: two Subject: three Subject: four " "mutt opens the mbox and sees the five messages in order"
  is "$(grep -c '^From ' mutt.mbox 2>/dev/null)" 5 "and no quoted From line split a message"
else
  skip 2 "mutt is not installed"
fi

# more mail later: appended after what is there
mk M
rm M/new/1700000001.M1P1.h M/new/1700000002.M2P2.h M/cur/*
MAILDIR=M MAIL=mbox "$B/maildir2mbox"
is "$(grep -c '^Subject: four$' mbox):$(grep -c '^From ' mbox)" "2:6" "MAILDIR and MAIL: a second run appends the one new message"
cp good.mbox mbox

# the lock: held by another program
mk M
flock mbox sleep 3 &
lockpid=$!
sleep 0.3
is_rc 111 "the mbox locked by another program past -t 1: 111" "$B/maildir2mbox" -t 1 M mbox
like "$(cat "$T/err")" 'unable to lock .*mbox' "which says so"
is "$(find M -type f | wc -l):$(cmp -s mbox good.mbox && echo same)" "4:same" "and nothing moved"
wait $lockpid

# stopped half-way, for real: killed by strace at a system call of each phase; the next run
# must leave every message in the mbox exactly once, the old mail intact
if strace -V >/dev/null 2>&1; then
  for at in 'write:when=2' 'write:when=4' 'fsync:when=3' 'unlink:when=2' 'rename:when=2'; do
    mk M; cp mbox.orig mbox; rm -f mbox.m2m
    strace -f -o /dev/null -e inject=${at%%:*}:signal=KILL:${at#*:} "$B/maildir2mbox" M mbox >/dev/null 2>&1
    j=$(test -e mbox.m2m && echo stopped)
    "$B/maildir2mbox" M mbox 2>"$T/err2"
    is "$j|$(readbox mbox | cut -d'|' -f1 | tr '\n' ' ')|$(find M -type f | wc -l)" "stopped|old one two three four |0" "killed at $at (a journal left): after the next run, every message once, the Maildir empty"
  done
else
  skip 5 "strace is not installed"
fi
# a write failing (the disk full): the mbox is cut back at once, the messages stay
mk M; cp mbox.orig mbox
is_rc 111 "a write failing (ENOSPC): 111" strace -f -o /dev/null -e inject=write:error=ENOSPC:when=3 "$B/maildir2mbox" M mbox
ok "the mbox is as it was, no journal" sh -c "cmp mbox mbox.orig && test ! -e mbox.m2m"
is "$(find M -type f | wc -l)" 4 "and the four messages are still in the Maildir"

# journals as a stopped run leaves them
mk M; cp mbox.orig mbox
len=$(wc -c < mbox)
names=$(cd M && ls new/* cur/* | sort -t/ -k2)
printf '%s\n%s\n' "$len" "$names" > mbox.m2m
cp -a M Mcopy
"$B/maildir2mbox" Mcopy scratch.mbox
tail -c +"$((len + 1))" good.mbox | head -c 150 >> mbox
"$B/maildir2mbox" M mbox
ok "a journal and a cut message at the end: cut off, then all moved once" cmp mbox good.mbox
mk M; cp mbox.orig mbox
printf 'done %s\n%s\n' "$len" "$names" > mbox.m2m
tail -c +"$((len + 1))" good.mbox >> mbox
rm M/new/1700000001.M1P1.h
"$B/maildir2mbox" M mbox
ok "a done journal, one message removed already: the others removed, nothing twice" sh -c "cmp mbox good.mbox && test -z \"\$(find M -type f)\""
mk M; cp mbox.orig mbox
printf '%s\n%s\n' "$len" "$names" > mbox.m2m
tail -c +"$((len + 1))" good.mbox | head -c 150 >> mbox
printf 'From x@y Thu Jan  1 00:00:00 2026\nSubject: other\n\nother\n\n' >> mbox
cp mbox before
"$B/maildir2mbox" M mbox 2>"$T/err"
like "$(cat "$T/err")" 'warning: the end of mbox is not what a stopped run wrote' "other mail after a stopped run's text: kept, with a warning"
ok "nothing removed from the mbox, the messages appended after it" sh -c "head -c $(wc -c < before) mbox | cmp - before && test \$(grep -c '^Subject: four' mbox) = 1 && test -z \"\$(find M -type f)\""
printf 'garbage\n' > mbox.m2m
is_rc 111 "a damaged journal: 111, nothing touched" "$B/maildir2mbox" M mbox
rm mbox.m2m

# usage and failures
is_rc 100 "one argument: usage" "$B/maildir2mbox" M
is_rc 100 "MAILDIR not set: 100" env -u MAILDIR MAIL=mbox "$B/maildir2mbox"
is_rc 111 "no such Maildir: 111" "$B/maildir2mbox" nothere mbox
is_rc 100 "the mbox a directory: 100" "$B/maildir2mbox" M M
