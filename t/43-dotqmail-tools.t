#!/bin/sh
# bounce-saying, cond-redirect, forward: exit codes, what reaches the queue. The queue is
# t/42-qqcapture.py as $QMAILQUEUE, a stand-in for queue-inject (not written yet) that checks
# the envelope byte by byte and keeps message and envelope.
. "$(dirname "$0")/lib.sh"
plan 53
cd "$T" || exit 1
mkdir qq
cp "$TOP/t/42-qqcapture.py" qqcapture && chmod +x qqcapture
QMAILQUEUE=$T/qqcapture QQ_DIR=$T/qq
export QMAILQUEUE QQ_DIR
unset QQ_EXIT SENDER NEWSENDER DTLINE
printf 'From: ann@a.example\nSubject: hello\n\nspam spam\nlast line\n' >msg
env0() { tr '\0' '|' <"qq/$1.env"; }
last() { ls qq | sed -n 's/\.env$//p' | sort -n | tail -1; }
BS=$B/bounce-saying CR=$B/cond-redirect FW=$B/forward

# bounce-saying
is_rc 100 "bounce-saying text: bounces (100)" "$BS" "This address no longer works." <msg
is "$(cat "$T/err")" "This address no longer works." "the text alone on stderr: it is the bounce message"
is_rc 100 "prog exits 0: bounces" "$BS" "no spam" grep -q spam <msg
is "$(cat "$T/err")" "no spam" "with the text"
is_rc 0 "prog exits 1: the chain goes on (0)" "$BS" "no spam" grep -q viagra <msg
is "$(cat "$T/out")$(cat "$T/err")" "" "quietly"
is_rc 0 "prog exits 100: goes on too" sh -c "exec '$BS' x sh -c 'exit 100' <msg"
is_rc 111 "prog exits 111: deferred" "$BS" x sh -c 'exit 111' <msg
is_rc 111 "prog killed by a signal: deferred" "$BS" x sh -c 'kill -9 $$' <msg
like "$(cat "$T/err")" 'crashed \(signal 9\)' "saying so"
is_rc 111 "prog that cannot be run: deferred, not silently passed" "$BS" x ./no-such-program <msg
like "$(cat "$T/err")" 'unable to run \./no-such-program' "saying so"
is_rc 100 "no text: usage" "$BS" </dev/null
is_rc 100 "text starting with -: after --" "$BS" -- "-x-" <msg
is "$(cat "$T/err")" "-x-" "-- ends the options"

# forward
printf 'Delivered-To: joe@b.example\n' >dt
NEWSENDER=joe-owner@b.example DTLINE="$(cat dt)
" "$FW" x@c.example y@d.example <msg
is "$?" 0 "forward: 0 once queued"
n=$(last)
is "$(env0 "$n")" "Fjoe-owner@b.example|Tx@c.example|Ty@d.example||" "envelope: NEWSENDER, then each address"
is "$(cat "qq/$n.msg")" "$(cat dt msg)" "message: DTLINE, then the message"
NEWSENDER= DTLINE="Delivered-To: joe@b.example" "$FW" x@c.example <msg
is "$?:$(env0 "$(last)")" "0:F|Tx@c.example||" "an empty NEWSENDER (a bounce) stays empty"
is "$(head -2 "qq/$(last)".msg)" "Delivered-To: joe@b.example
From: ann@a.example" "a DTLINE without its newline gets one"
head -c 1048576 /dev/urandom | od -An -tx1 | head -c 1500000 >bigmsg
NEWSENDER=a@b DTLINE='Delivered-To: j@b' "$FW" x@c.example <bigmsg
is "$?:$(tail -n +2 "qq/$(last).msg" | cksum)" "0:$(cksum <bigmsg)" "a 1.5 MB message arrives intact"
is_rc 100 "NEWSENDER unset: 100" env DTLINE=x "$FW" x@c.example <msg
like "$(cat "$T/err")" 'NEWSENDER not set' "saying so"
is_rc 100 "DTLINE unset: 100" env NEWSENDER=a@b "$FW" x@c.example <msg
is_rc 100 "the queue refuses for good (31): 100" env NEWSENDER=a@b DTLINE=x QQ_EXIT=31 "$FW" x@c.example <msg
like "$(cat "$T/err")" 'permanently refuses.*queue exit 31' "with the queue's reason"
is_rc 100 "envelope format error (91): 100" env NEWSENDER=a@b DTLINE=x QQ_EXIT=91 "$FW" x@c.example <msg
is_rc 111 "write error in the queue (53): 111" env NEWSENDER=a@b DTLINE=x QQ_EXIT=53 "$FW" x@c.example <msg
is_rc 111 "a queue program that reads nothing and says 0 is not believed: 111" env NEWSENDER=a@b DTLINE=x QMAILQUEUE=/bin/true "$FW" x@c.example <bigmsg
is_rc 100 "no address: usage" "$FW" <msg
is_rc 111 "a queue program that cannot be run: 111" env NEWSENDER=a@b DTLINE=x QMAILQUEUE=$T/nonexistent "$FW" x@c.example <msg
is "$(cat "$T/err")" "forward: fatal: unable to forward the message: unable to run the queue program $T/nonexistent: No such file or directory" "naming it"
is_rc 111 "cond-redirect with a queue program that cannot be run: 111" env SENDER=a DTLINE=x QMAILQUEUE=$T/qq "$CR" x@c.example true <msg
like "$(cat "$T/err")" "unable to run the queue program $T/qq: Permission denied" "naming it"

# cond-redirect
SENDER=ann@a.example DTLINE='Delivered-To: joe@b.example
' "$CR" other@e.example grep -q spam <msg
is "$?" 99 "prog exits 0: redirected, 99 stops the chain"
n=$(last)
is "$(env0 "$n")" "Fann@a.example|Tother@e.example||" "envelope: SENDER (not NEWSENDER) to the new address"
is "$(cat "qq/$n.msg")" "$(cat dt msg)" "the whole message, although prog read it first"
before=$(last)
cat msg | SENDER=ann@a.example DTLINE=x "$CR" other@e.example sh -c 'cat >/dev/null'
is "$?" 99 "stdin a pipe that prog reads to the end: still redirected"
is "$(tail -n +2 "qq/$(last).msg")" "$(cat msg)" "with the whole message (a copy was kept)"
SENDER=a DTLINE=x "$CR" other@e.example grep -q viagra <msg
is "$?:$(last)" "0:$((before + 1))" "prog exits 1: 0, nothing queued"
is_rc 111 "prog exits 111: deferred" env SENDER=a DTLINE=x "$CR" other@e.example sh -c 'exit 111' <msg
is_rc 100 "the queue refuses for good: 100" env SENDER=a DTLINE=x QQ_EXIT=31 "$CR" other@e.example true <msg
is_rc 111 "the queue fails for now: 111" env SENDER=a DTLINE=x QQ_EXIT=74 "$CR" other@e.example true <msg
is_rc 100 "SENDER unset: 100" env DTLINE=x "$CR" other@e.example true <msg
is_rc 100 "no prog: usage" "$CR" other@e.example <msg

# SIGCHLD ignored by the caller: the children's exit codes must still be seen
ign() { python3 -c 'import os, signal, sys
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
os.execv(sys.argv[1], sys.argv[1:])' "$@" >"$T/out" 2>"$T/err"; }
NEWSENDER=a@b DTLINE=x ign "$FW" x@c.example <msg
is "$?" 0 "forward with SIGCHLD ignored: 0 once queued (not 111, which would queue it twice)"
SENDER=a DTLINE=x ign "$CR" other@e.example true <msg
is "$?" 99 "cond-redirect with SIGCHLD ignored: 99"
ign "$BS" x false <msg
is "$?" 0 "bounce-saying with SIGCHLD ignored: prog's 1 is seen, the chain goes on"
python3 -c 'import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGHUP})
os.execv(sys.argv[1], sys.argv[1:])' "$BS" "nothing blocked" grep -q '^SigBlk:[[:space:]]*0*$' /proc/self/status <msg >/dev/null 2>&1
is "$?" 100 "prog starts with no signal blocked, whatever the caller blocked"

# the examples of bounce-saying(1) as the reader sees them (mandoc's rendering), run by sh
# as a .qmail line is: quotes the renderer drops would split the text into a program
mandoc -T ascii "$TOP/doc/bounce-saying.1" | col -b | sed -n 's/^[[:space:]]*|\(bounce-saying\)/\1/p' >ex
ex() { sed -n "$1p" ex; }
PATH=$B:$PATH SENDER=ann@a.example sh -c "$(ex 1)" <msg >"$T/out" 2>"$T/err"
is "$?:$(cat "$T/err")" "100:This address is closed; write to joe@example.com instead." "man page example 1: bounces with the whole text"
PATH=$B:$PATH SENDER=pest@spam.example sh -c "$(ex 2)" <msg >"$T/out" 2>"$T/err"
is "$?:$(cat "$T/err")" "100:Go away." "man page example 2: the pest bounces"
PATH=$B:$PATH SENDER=ann@a.example sh -c "$(ex 2)" <msg >"$T/out" 2>"$T/err"
is "$?" 0 "man page example 2: others go on"
PATH=$B:$PATH SENDER=ann@a.example sh -c "$(ex 3)" <msg >"$T/out" 2>"$T/err"
is "$?:$(cat "$T/err")" "0:" "man page example 3: a small message goes on"
