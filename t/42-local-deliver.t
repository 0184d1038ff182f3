#!/bin/sh
# local-deliver running real .qmail files: Maildir then forward, bounce-saying stopping the
# chain, 99, 111 part-way and the retry that skips what was done, extensions and -default,
# loops, writable files, mbox, bad lines. Forwards go to t/42-qqcapture.py as $QMAILQUEUE: a
# stand-in for queue-inject (not written yet) that checks the envelope byte by byte.
. "$(dirname "$0")/lib.sh"
plan 98
H=$T/home
mkdir -p "$H/Maildir/tmp" "$H/Maildir/new" "$H/Maildir/cur" "$T/qq"
chmod 755 "$H"
# local-deliver refuses to run as root: as root, the deliveries run as an unprivileged uid
# that owns the home (as queue-spawn runs them)
if [ "$(id -u)" = 0 ]; then
  U=4242
  chmod 755 "$T"
  chown -R $U:$U "$H" "$T/qq"
  LD="$(command -v setpriv) --reuid=$U --regid=$U --clear-groups $B/local-deliver"
else
  U=$(id -u)
  LD=$B/local-deliver
fi
cp "$TOP/t/42-qqcapture.py" "$T/qqcapture" && chmod +x "$T/qqcapture"
QMAILQUEUE=$T/qqcapture QQ_DIR=$T/qq PATH=$B:$PATH
export QMAILQUEUE QQ_DIR PATH
unset QQ_EXIT

msg() { printf 'From: ann@a.example\nSubject: %s\n\nbody %s\nFrom here\n' "$1" "$1"; }
# ld LOCAL DASH EXT [SENDER [SUBJECT]]: deliver msg to joe's home, with $OPTS before the
# arguments and $DD as the default delivery; stdout in out, stderr in err
OPTS= DD=
ld() {
  msg "${5:-$3}" | $LD $OPTS joe "$H" "$1" "$2" "$3" example.com "${4-ann@a.example}" ${DD:+"$DD"} >"$T/out" 2>"$T/err"
  rc=$?
  return $rc
}
qmail() { printf "$2" >"$H/.qmail$1"; chmod 644 "$H/.qmail$1"; [ "$(id -u)" = 0 ] && chown $U:$U "$H/.qmail$1"; }
count() { ls "$H/$1" 2>/dev/null | wc -l | tr -d ' '; }
env0() { tr '\0' '|' <"$T/qq/$1.env"; }
newest() { ls -t "$H/Maildir/new" | head -1; }

# the default: no .qmail, ./Maildir/
ld joe "" ""
is "$?" 0 "no .qmail: delivered"
is "$(cat "$T/out")" "delivered 1 maildir ./Maildir/
did 1+0+0" "to the default ./Maildir/, reported as step 1"
is "$(count Maildir/new)" 1 "one message in ./Maildir/new"
is "$(head -3 "$H/Maildir/new/$(newest)")" "Return-Path: <ann@a.example>
Delivered-To: joe@example.com
From: ann@a.example" "Return-Path and Delivered-To on top"
DD="./Maildir2/
"
ld joe "" ""
DD=
is "$rc:$(cat "$T/err")" "111:local-deliver: fatal: defaultdelivery line 1: unable to open ./Maildir2/: No such file or directory" "another default delivery (8th argument), missing: 111 naming it"

# Maildir then a forward
qmail "" './Maildir/\n&fwd@b.example\n'
ld joe "" ""
is "$?" 0 "Maildir then forward: delivered"
is "$(cat "$T/out")" "delivered 1 maildir ./Maildir/
delivered 2 forward fwd@b.example
did 1+1+0" "both steps reported"
is "$(count Maildir/new)" 2 "the Maildir got it"
is "$(env0 1)" "Fann@a.example|Tfwd@b.example||" "the queue got the envelope: sender, recipient, end"
is "$(head -1 "$T/qq/1.msg")" "Delivered-To: joe@example.com" "the forwarded message starts with our Delivered-To"
is "$(tail -n +2 "$T/qq/1.msg")" "$(msg "")" "then the message, unchanged"

# a run of forward lines is one injection; comments do not break it; NEWSENDER from -owner
qmail "-list" '&a@b.example\n# the others\nc@d.example\n&e@f.example\n'
qmail "-list-owner" '&owner@b.example\n'
ld joe-list - list
is "$?:$(cat "$T/out")" "0:delivered 1 forward a@b.example c@d.example e@f.example
did 0+3+0" "three forward lines: one step"
is "$(env0 2)" "Fjoe-list-owner@example.com|Ta@b.example|Tc@d.example|Te@f.example||" "one envelope with the three, sender LOCAL-owner@HOST since .qmail-list-owner exists"
ld joe-list - list ""
is "$(env0 3)" "F|Ta@b.example|Tc@d.example|Te@f.example||" "a bounce (empty sender) is forwarded with the empty sender"

# a long list: one envelope with every address, the report cut short
i=1; : >"$H/.qmail-big"; while [ $i -le 12 ]; do echo "&r$i@list.example" >>"$H/.qmail-big"; i=$((i+1)); done
chmod 644 "$H/.qmail-big"; [ "$(id -u)" = 0 ] && chown $U "$H/.qmail-big"
ld joe-big - big
is "$?:$(cat "$T/out")" "0:delivered 1 forward r1@list.example r2@list.example r3@list.example r4@list.example r5@list.example r6@list.example r7@list.example r8@list.example r9@list.example r10@list.example ... (12 addresses)
did 0+12+0" "twelve forwards: one step, the report names ten and the count"
is "$(env0 4 | tr '|' '\n' | grep -c '^T')" 12 "the envelope has all twelve"

# bounce-saying stops the chain
qmail "-closed" '|bounce-saying "This address is closed."\n./Maildir/\n'
before=$(count Maildir/new)
ld joe-closed - closed
is "$?" 100 "bounce-saying: the chain bounces (100)"
like "$(cat "$T/err")" '^This address is closed\.$' "with its text on stderr"
is "$(count Maildir/new)" "$before" "and the Maildir line after it was not done"
is "$(cat "$T/out")" "" "nothing reported delivered"
qmail "-spam" '|bounce-saying "no mail from you" test "$SENDER" = spam@bad.example\n./Maildir/\n'
ld joe-spam - spam spam@bad.example
is "$?" 100 "bounce-saying with a condition that holds: 100"
ld joe-spam - spam ann@a.example
is "$?:$(cat "$T/out")" "0:delivered 1 program bounce-saying \"no mail from you\" test \"\$SENDER\" = spam@bad.example
delivered 2 maildir ./Maildir/
did 1+0+1" "a condition that does not hold: the chain goes on"

# 99 from a command: done, stop
qmail "-stop" './Maildir/\n|exit 99\n./mbox-stop\n'
ld joe-stop - stop
is "$?" 0 "99 from a command: success"
is "$(cat "$T/out")" "delivered 1 maildir ./Maildir/
delivered 2 program exit 99
did 1+0+1" "the lines after it are not done"
ok "no mbox was written" test ! -e "$H/mbox-stop"

# 111 part-way; the retry skips what was done (-s), so nothing is delivered twice
qmail "-part" './Maildir/\n|test -e flag || { touch flag; echo "not yet" >&2; exit 111; }\n./mbox-part\n'
before=$(count Maildir/new)
ld joe-part - part
is "$?" 111 "111 from the second line: deferred"
is "$(cat "$T/out")" "delivered 1 maildir ./Maildir/" "stdout says step 1 was done"
like "$(cat "$T/err")" 'not yet' "the program's own words are on stderr"
like "$(cat "$T/err")" 'local-deliver: fatal: \.qmail-part line 2: the program failed temporarily \(exit 111\)' "then which line failed"
is "$(count Maildir/new)" $((before + 1)) "the Maildir has it once"
OPTS="-s 1"; ld joe-part - part; OPTS=
is "$rc" 0 "the retry with -s 1 succeeds"
is "$(cat "$T/out")" "skipped 1 maildir ./Maildir/
delivered 2 program test -e flag || { touch flag; echo \"not yet\" >&2; exit 111; }
delivered 3 mbox ./mbox-part
did 1+0+1" "it skips step 1 and does 2 and 3"
is "$(count Maildir/new)" $((before + 1)) "the Maildir still has it once"
is "$(grep -c '^From ann@a.example ' "$H/mbox-part")" 1 "the mbox has it once"

# a forward that fails: temporary or permanent, as the queue says
qmail "-fw" './Maildir/\n&x@y.example\n'
QQ_EXIT=74; export QQ_EXIT; ld joe-fw - fw; unset QQ_EXIT
is "$rc" 111 "the queue says 74: deferred (111)"
like "$(cat "$T/err")" 'line 2: unable to forward the message: communication with mail server failed \(queue exit 74\)' "with the queue's reason"
is "$(cat "$T/out")" "delivered 1 maildir ./Maildir/" "the Maildir step is reported done"
OPTS="-s 1"; QQ_EXIT=31; export QQ_EXIT; ld joe-fw - fw; unset QQ_EXIT
is "$rc" 100 "the queue says 31: bounced (100)"
QMAILQUEUE=$T/nonexistent; ld joe-fw - fw; QMAILQUEUE=$T/qqcapture; OPTS=
is "$rc" 111 "no queue program: deferred"
like "$(cat "$T/err")" "line 2: unable to forward the message: unable to run the queue program $T/nonexistent: No such file or directory\$" "naming the program that could not be run"

# extensions and -default
qmail "-news-default" '|echo "$EXT|$EXT2|$DEFAULT|$LOCAL|$RECIPIENT|$HOST2" >ext.out\n'
ld joe-news-sport-daily - news-sport-daily
is "$?:$(cat "$H/ext.out")" "0:news-sport-daily|sport-daily|sport-daily|joe-news-sport-daily|joe-news-sport-daily@example.com|example" ".qmail-news-default for news-sport-daily, DEFAULT the rest"
ld joe-NEWS-x - NEWS-x
is "$?:$(cat "$H/ext.out")" "0:NEWS-x|x|x|joe-NEWS-x|joe-NEWS-x@example.com|example" "extensions are matched without case; DEFAULT keeps its case"
ld joe-nothing - nothing
is "$?" 100 "no file for the extension and no -default: bounce"
like "$(cat "$T/err")" 'no mailbox here by that name \(#5\.1\.1\)' "saying so"
qmail "-default" './Maildir/\n'
ld joe-nothing - nothing
is "$?" 0 ".qmail-default catches the rest"
qmail "-a:b" './Maildir/\n'
ld joe-a.b - a.b
is "$?:$(cat "$T/out")" "0:delivered 1 maildir ./Maildir/
did 1+0+0" "a dot in the extension reads .qmail-a:b"
ld joe-x - "../../etc/x"
is "$?" 0 "an extension with / and .. stays in the home directory (falls to .qmail-default)"

# the environment of commands, and the message they read
qmail "-env" '|env >env.out; cat >msg.out\n'
ld joe-env - env
is "$?" 0 "a program line: delivered"
e=$H/env.out
is "$(grep -E '^(USER|HOME|LOCAL|EXT|HOST|SENDER|NEWSENDER|RECIPIENT)=' "$e" | sort | tr '\n' ' ')" \
   "EXT=env HOME=$H HOST=example.com LOCAL=joe-env NEWSENDER=ann@a.example RECIPIENT=joe-env@example.com SENDER=ann@a.example USER=joe " "commands see USER HOME LOCAL EXT HOST SENDER NEWSENDER RECIPIENT"
is "$(grep -A1 '^DTLINE=' "$e" | head -1)" "DTLINE=Delivered-To: joe-env@example.com" "DTLINE"
is "$(grep '^RPLINE=' "$e")" "RPLINE=Return-Path: <ann@a.example>" "RPLINE"
like "$(grep '^UFLINE=' "$e")" '^UFLINE=From ann@a.example [A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}$' "UFLINE, an mbox From_ line"
is "$(cat "$H/msg.out")" "$(msg env)" "the program reads the message as it came, nothing added"

# loops
before=$(count Maildir/new)
printf 'Delivered-To: someone@else.example\nDELIVERED-TO: joe@example.com\nSubject: loop\n\nx\n' | $LD joe "$H" joe "" "" example.com a@b.example >"$T/out" 2>"$T/err"
is "$?" 100 "a message with our Delivered-To line in its header: bounce"
like "$(cat "$T/err")" 'looping' "as a loop"
is "$(count Maildir/new)" "$before" "nothing delivered"
printf 'Subject: not a loop\n\nDelivered-To: joe@example.com\n' | $LD joe "$H" joe "" "" example.com a@b.example >"$T/out" 2>"$T/err"
is "$?" 0 "the same line in the body is not a loop"

# writable .qmail files and home directories
qmail "-ww" './Maildir/\n'
chmod 646 "$H/.qmail-ww"
before=$(count Maildir/new)
ld joe-ww - ww
is "$?" 111 "a world-writable .qmail: deferred"
like "$(cat "$T/err")" '\.qmail-ww is group- or world-writable' "saying why"
chmod 664 "$H/.qmail-ww"
ld joe-ww - ww
is "$?" 111 "a group-writable .qmail: deferred"
is "$(count Maildir/new)" "$before" "nothing delivered"
chmod 775 "$H"
ld joe "" ""
is "$?" 111 "a group-writable home: deferred"
chmod 1755 "$H"
ld joe "" ""
is "$?" 111 "a sticky home (the user is editing .qmail): deferred"
chmod 755 "$H"

# mbox
qmail "-mb" './mbox\n'
ld joe-mb - mb
ld joe-mb - mb "" second
is "$?" 0 "mbox deliveries: delivered"
is "$(python3 -c 'import mailbox,sys
for m in mailbox.mbox(sys.argv[1]): print(m["Subject"], m.get_from().split()[0], m["Delivered-To"], m.get_payload().splitlines()[1])' "$H/mbox")" \
   "mb ann@a.example joe-mb@example.com >From here
second MAILER-DAEMON joe-mb@example.com >From here" "python's mailbox.mbox reads both, From_ lines right, body From quoted"
is "$(stat -c %a "$H/mbox")" 600 "a new mbox is private (0600)"
# a write that fails part-way (here: the file size limit; the message a file, so that no
# copy of it is made first) cuts the mbox back, and defers
cksum "$H/mbox" >"$T/mbox.sum"
size=$(stat -c %s "$H/mbox")
{ msg big; head -c 100000 /dev/zero | tr '\0' y; echo; } >"$T/big"
python3 -c 'import os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)   # python ignores it, and exec would pass that on
lim = int(sys.argv[1]) + 70000
resource.setrlimit(resource.RLIMIT_FSIZE, (lim, lim))
os.execv(sys.argv[2], sys.argv[2:])' "$size" $LD joe "$H" joe-mb - mb example.com a@b.example <"$T/big" >"$T/out" 2>"$T/err"
like "$?:$(cat "$T/err")" '^111:.*line 1: unable to write to \./mbox: File too large' "an mbox write past the file size limit: 111, saying why"
is "$(cksum <"$H/mbox")" "$(cut -d' ' -f1,2 "$T/mbox.sum")" "and the mbox is as it was, not half a message longer"

# bad lines: nothing at all is delivered, the file and line are named
qmail "-bad" './Maildir/\n&Joe Smith <joe@x.example>\n'
before=$(count Maildir/new)
ld joe-bad - bad
is "$?" 111 "a bad line: deferred"
like "$(cat "$T/err")" '^local-deliver: fatal: \.qmail-bad line 2: ' "naming the file and the line"
is "$(count Maildir/new):$(cat "$T/out")" "$before:" "and nothing was delivered, not even line 1"
qmail "-bad" '\n./Maildir/\n'
ld joe-bad - bad
is "$?" 111 "a blank first line: deferred"
qmail "-bad" './Maildir/\n|\n'
ld joe-bad - bad
like "$?:$(cat "$T/err")" '^111:.*line 2: empty command' "an empty command: deferred"
qmail "-bad" './Maildir/\n&nodomain\n'
ld joe-bad - bad
is "$?" 111 "a forward without a domain: deferred"
qmail "-bad" './nonexistent/\n'
ld joe-bad - bad
like "$?:$(cat "$T/err")" '^111:.*unable to open \./nonexistent/' "a missing Maildir: deferred"
qmail "-bad" './Maildir/\n|exit 100\n'
ld joe-bad - bad
like "$?:$(cat "$T/err")" '^100:.*line 2: the program failed permanently \(exit 100\)' "a program exiting 100: bounce"
qmail "-bad" '|exit 64\n'
ld joe-bad - bad
is "$?" 100 "exit 64 (EX_USAGE) bounces too"
qmail "-bad" '|exit 3\n'
ld joe-bad - bad
is "$?" 111 "another code defers"
qmail "-bad" '|kill -9 $$\n'
ld joe-bad - bad
like "$?:$(cat "$T/err")" '^111:.*crashed \(signal 9\)' "a program killed by a signal: deferred"

# forward-only files: the x bit, or +list
qmail "-fo" '&a@b.example\n|echo hi\n'
chmod 744 "$H/.qmail-fo"
ld joe-fo - fo
like "$?:$(cat "$T/err")" '^111:.*line 2: program delivery in a forward-only' "a program line in a .qmail with its x bit: deferred"
qmail "-fo" '+list\n&a@b.example\n./Maildir/\n'
ld joe-fo - fo
is "$?" 111 "a file line after +list: deferred"

# a file with only comments: delivered nowhere, successfully (qmail's way to discard mail)
qmail "-discard" '# throw it away\n'
before=$(count Maildir/new)
ld joe-discard - discard
is "$?:$(cat "$T/out"):$(count Maildir/new)" "0:did 0+0+0:$before" "only comments: 0, nothing delivered, not even the default"

# -n: the plan, nothing done
qmail "-plan" './Maildir/\n|prog one\n&a@b.example\nb@c.example\n./mbox\n'
before=$(count Maildir/new)
OPTS=-n; ld joe-plan - plan; OPTS=
is "$rc:$(cat "$T/out")" "0:step 1 maildir ./Maildir/
step 2 program prog one
step 3 forward a@b.example b@c.example
step 4 mbox ./mbox" "-n prints the steps"
is "$(count Maildir/new)" "$before" "and delivers nothing"

# stdin a regular file, not at offset 0 (as a queue runner may hand it over)
printf 'XXXX' >"$T/file"
msg file >>"$T/file"
qmail "-two" './Maildir/\n|cat >two.out\n'
( exec <"$T/file"; dd bs=4 count=1 of=/dev/null 2>/dev/null; $LD joe "$H" joe-two - two example.com a@b.example >"$T/out" 2>"$T/err" )
is "$?:$(cat "$H/two.out")" "0:$(msg file)" "a file on stdin is read from where it stands, for every line"
like "$(cat "$H/Maildir/new/$(newest)")" 'Subject: file' "the Maildir got the same message"

# signal state inherited from the caller: SIGCHLD ignored (children reaped behind our back,
# so waitpid fails after the program and the forward succeeded)
qmail "-sig" '|true\n&x@y.example\n./Maildir/\n'
before=$(count Maildir/new) qbefore=$(ls "$T/qq" | grep -c '\.env$')
msg sig | python3 -c 'import os, signal, sys
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
os.execv(sys.argv[1], sys.argv[1:])' $LD joe "$H" joe-sig - sig example.com a@b.example >"$T/out" 2>"$T/err"
is "$?:$(tail -1 "$T/out")" "0:did 1+1+1" "SIGCHLD ignored by the caller: the program and the forward are seen to succeed"
is "$(count Maildir/new)" $((before + 1)) "and the Maildir line after them is done once"
is "$(ls "$T/qq" | grep -c '\.env$')" $((qbefore + 1)) "the forward was queued once"

# usage
is_rc 100 "a relative home: usage" $LD joe home joe "" "" example.com a@b.example
is_rc 100 "too few arguments: usage" $LD joe "$H" joe "" ""
is_rc 111 "a home that does not exist: deferred" $LD joe "$T/nohome" joe "" "" example.com a@b.example

# never as root, never in a home or with a .qmail file that is not the delivery's own
if [ "$(id -u)" = 0 ]; then
  msg root | "$B/local-deliver" joe "$H" joe "" "" example.com a@b.example >"$T/out" 2>"$T/err"
  like "$?:$(cat "$T/err")" '^111:local-deliver: fatal: refusing to deliver as root' "run as root: deferred, saying why"
  msg root | "$B/local-deliver" -n joe "$H" joe "" "" example.com a@b.example >"$T/out" 2>"$T/err"
  like "$?:$(cat "$T/out")" "^0:step 1 maildir ./Maildir/" "but -n, which delivers nothing, works as root"
  chown 4343 "$H"
  ld joe "" ""
  like "$rc:$(cat "$T/err")" '^111:.*the home directory belongs to uid 4343, not to the delivery.s uid 4242' "a home owned by another uid: deferred"
  chown $U "$H"
  qmail "-other" './Maildir/\n'
  chown 4343 "$H/.qmail-other"
  before=$(count Maildir/new)
  ld joe-other - other
  like "$rc:$(cat "$T/err")" '^111:.*\.qmail-other does not belong to the user the delivery runs as' "a .qmail owned by another uid: deferred"
  is "$(count Maildir/new)" "$before" "and nothing delivered"
  ld joe "" ""
  is "$rc" 0 "the same delivery in the user's own home and file works"
else
  skip 6 "needs root to change owners"
fi
