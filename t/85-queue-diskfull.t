#!/bin/sh
# The queue on a full disk (a small tmpfs: root only). The queue's own filesystem: smtpd
# answers 451 and queue-inject exits 53, with nothing half-written left behind; queue-run
# keeps running and still delivers what was queued before (leaving no empty state log
# behind), its bounce waiting for space;
# when space comes back mail is accepted and delivered byte for byte, and the bounce goes out
# on SIGALRM. A full Maildir filesystem: the delivery is deferred, nothing is left in the
# Maildir, and once there is room again SIGALRM delivers it, once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root: mounts a tmpfs, deliveries run as the virtual domain's owner"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

q_init
for u in a b c sender; do q_user "$u@example.com"; done
echo example.com > "$S/control/rcpthosts"
MD=$S/domains/example.com/c/Maildir
# the mounts go (lazily) before lib.sh removes $T
MOUNTS=""
trap '_tap_rc=$?; for m in $MOUNTS; do umount -l "$m"; done; _tap_cleanup; exit $_tap_rc' EXIT
mount -t tmpfs -o size=1m,mode=755 tmpfs "$Q" 2>/dev/null || skip_all "cannot mount a tmpfs here"
MOUNTS=$Q
mkdir "$Q/tmp" "$Q/todo" "$Q/mess" "$Q/info"
plan 45

q_start
start_bg "$B/tcpsrv" -1 -H -R 127.0.0.1 0 "$B/smtpd" > "$T/port" 2>"$T/smtpd.log"
wait_for 5 test -s "$T/port" || diag "tcpsrv did not start"
PORT=$(head -1 "$T/port")

# send FILE RCPT...: the reply to the end of data, as smtplib got it ("250 2.0.0 ok ...")
send() {
  "$PY" - "$PORT" "$@" <<'EOF'
import smtplib, sys
port, f, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
c = smtplib.SMTP("127.0.0.1", port, timeout=30)
c.ehlo()
for code, text in [c.mail("sender@example.com")] + [c.rcpt(r) for r in rcpts]:
    if code != 250:
        raise SystemExit("%d %s" % (code, text.decode()))
try:
    code, text = c.data(open(f, "rb").read().replace(b"\n", b"\r\n"))
except smtplib.SMTPDataError as e:
    code, text = e.smtp_code, e.smtp_error
print(code, text.decode())
c.quit()
EOF
}
# copies USER FILE: messages in USER's new/ that are FILE byte for byte after the lines the
# delivery put on top (Return-Path:, Delivered-To:, Received:)
copies() {
  "$PY" - "$S/domains/example.com/$1/Maildir/new" "$2" <<'EOF'
import os, sys
d, want = sys.argv[1], open(sys.argv[2], "rb").read()
n = 0
for f in os.listdir(d):
    got = open(os.path.join(d, f), "rb").read()
    if got.endswith(want) and b"\n\n" not in got[:len(got) - len(want)]:
        n += 1
print(n)
EOF
}
# mkmsg FILE SUBJECT BYTES: a message of about BYTES bytes
mkmsg() {
  "$PY" -c 'import sys
f, subj, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = ["Subject: %s" % subj, "", ".a line with a dot"]
i = 0
while sum(len(l) + 1 for l in out) < size:
    out.append("%s line %d %s" % (subj, i, "0123456789" * 6)); i += 1
open(f, "w").write("\n".join(out) + "\n")' "$1" "$2" "$3"
}
files_in() { find "$@" -type f | wc -l | tr -d ' '; }
alive() { kill -0 "$1" 2>/dev/null && [ "$(cut -d' ' -f3 /proc/$1/stat)" != Z ]; }
fill() {   # fill DIR: a file that takes every free block
  dd if=/dev/zero of="$1/filler" bs=16k 2>/dev/null
  [ "$(df --output=avail -B1 "$1" | tail -1 | tr -d ' ')" = 0 ]
}

mkmsg "$T/m1" first 1000
mkmsg "$T/big" big 300000
like "$(send "$T/m1" a@example.com)" '^250 ' "the queue on a tmpfs of 1 MB: a message is accepted"
wait_eq 30 1 copies a "$T/m1"
is "$(copies a "$T/m1")" 1 "and delivered"

# messages queued while queue-run is stopped; one of them to a user who does not exist
kill -TERM "$RUNPID"; wait "$RUNPID"
for k in 1 2 3; do
  mkmsg "$T/q$k" "queued $k" 2000
  like "$(send "$T/q$k" a@example.com b@example.com)" '^250 ' "queued $k (to a and b) before the disk is full"
done
printf 'Subject: to nobody\n\nno such user\n' | inject sender@example.com nosuch@example.com
is "$?" 0 "one for a user who does not exist, through queue-inject"
is "$(files_in "$Q/todo")" 4 "four messages in todo/"

# a second link to every queued file: when queue-run removes a delivered message, no space
# comes back, and the bounce below meets a full disk whatever the order of the deliveries
mkdir "$Q/.hold"; n=0
for f in $(find "$Q" -type f ! -path "$Q/.hold/*"); do n=$((n + 1)); ln "$f" "$Q/.hold/$n"; done
ok "then the queue's disk is full" fill "$Q"
mkmsg "$T/m2" second 1000
like "$(send "$T/m2" a@example.com)" '^451 4\.3\.0 queue failure: write error \(disk full\?\) \(#53\)$' "smtpd: 451 (#53) when the queue's disk is full"
like "$(grep '^reject' "$T/smtpd.log" | tail -1)" 'code=451 .*reason=queue failure: write error' "smtpd logs it as a reject"
is "$(files_in "$Q/tmp"):$(files_in "$Q/todo")" "0:4" "nothing half-written: tmp/ empty, todo/ as before"
printf 'Subject: direct\n\nx\n' | inject sender@example.com a@example.com 2>"$T/err"
is "$?" 53 "queue-inject as the queue's owner: 53"
printf 'Fsender@example.com\0Ta@example.com\0\0' > "$T/env.bin"
printf 'Subject: other user\n\nx\n' | setpriv --reuid=4244 --regid=4244 --clear-groups "$B/queue-inject" 1<"$T/env.bin" 2>"$T/err"
is "$?" 53 "queue-inject as another user, through queue-injectd: 53"
is "$(files_in "$Q/tmp"):$(files_in "$Q/todo")" "0:4" "still nothing half-written"
ok "queue-injectd still runs" alive "$INJPID"

# queue-run on the full disk: it delivers what was queued; the bounce waits for space
start_bg "$B/queue-spawn" "$B/queue-run" 2>>"$T/queue.log"
RUNPID=$BGPID
queued() { echo "$(copies a "$T/q1")$(copies a "$T/q2")$(copies a "$T/q3"):$(copies b "$T/q1")$(copies b "$T/q2")$(copies b "$T/q3")"; }
wait_eq 30 111:111 queued
is "$(queued)" "111:111" "queue-run, started on the full disk, delivers the queued messages: each once to a and to b"
wait_log 30 'unable to queue its bounce: queue-inject exit 53'
like "$(grep 'bounce' "$T/queue.log" | tail -1)" 'warning: msg [0-9.]+: unable to queue its bounce: queue-inject exit 53' "the bounce for the unknown user cannot be queued: logged"
is "$(files_in "$Q/mess")" 1 "the failed message stays in the queue for its bounce"
ok "queue-run keeps running" alive "$RUNPID"
rm -rf "$Q/.hold"

# some space back, not enough for a big message
truncate -s -100k "$Q/filler"
like "$(send "$T/big" a@example.com)" '^451 4\.3\.0 .*\(#53\)$' "a message of 300 KB with 100 KB free: 451"
is "$(files_in "$Q/tmp")" 0 "and its part is not left in tmp/"
mkmsg "$T/m3" third 1000
like "$(send "$T/m3" b@example.com)" '^250 ' "a small one fits: 250"
wait_eq 30 1 copies b "$T/m3"
is "$(copies b "$T/m3")" 1 "and is delivered"

# all the space back
rm -f "$Q/filler"
like "$(send "$T/big" a@example.com)" '^250 ' "space back: the big message is accepted"
wait_eq 30 1 copies a "$T/big"
is "$(copies a "$T/big")" 1 "and delivered, byte for byte"
like "$(send "$T/m2" a@example.com)" '^250 ' "the message refused with 451 goes in when sent again"
wait_eq 30 1 copies a "$T/m2"
is "$(copies a "$T/m2")" 1 "and is delivered once"
kill -ALRM "$RUNPID"
wait_for 30 grep -rlq 'nosuch@example.com' "$S/domains/example.com/sender/Maildir/new"
ok "SIGALRM: the bounce goes out and reaches the sender" grep -rlq 'nosuch@example.com' "$S/domains/example.com/sender/Maildir/new"
like "$(cat "$S/domains/example.com/sender/Maildir/new/"* 2>/dev/null | grep -m1 '^Status:')" '^Status: 5\.1\.1' "a DSN with the reason (5.1.1)"
wait_eq 30 0 files_in "$Q/mess" "$Q/todo" "$Q/tmp"
is "$(files_in "$Q/mess" "$Q/todo" "$Q/tmp")" 0 "the queue is empty: mess/, todo/, tmp/"
# queue-run could not write the logs of the messages it delivered on the full disk: a log
# created empty must not stay behind
is "$(files_in "$Q/info")" 0 "and info/: no log left behind by the appends that failed"
for f in "$Q/info/"*; do [ -f "$f" ] && diag "left: $f ($(wc -c < "$f") bytes)" && rm -f "$f"; done
is "$(files_in "$Q/bad" 2>/dev/null)" 0 "nothing put aside in bad/"
is "$(ls "$S/domains/example.com/a/Maildir/new" | wc -l | tr -d ' ')" 6 "a has six messages, no more"
ok "queue-run ran through it all" alive "$RUNPID"

# a full Maildir: deferred, then delivered when there is room and queue-run gets SIGALRM
mount -t tmpfs -o size=64k,mode=700,uid=$OWNER,gid=$OWNER tmpfs "$MD" && MOUNTS="$MOUNTS $MD"
mkdir "$MD/tmp" "$MD/new" "$MD/cur" && chown $OWNER:$OWNER "$MD/tmp" "$MD/new" "$MD/cur" && chmod 700 "$MD"/*
ok "c's Maildir is full" fill "$MD"
mkmsg "$T/m4" fourth 8000
like "$(send "$T/m4" c@example.com)" '^250 ' "a message for c is accepted"
wait_log 30 'deferral: .*No space left on device'
like "$(grep 'deferral' "$T/queue.log" | tail -1)" '^delivery [0-9]+: deferral: .*No space left on device' "its delivery is deferred: no space left on device"
is "$(files_in "$MD/new" "$MD/tmp" "$MD/cur")" 0 "nothing in c's Maildir, not even in tmp/"
is "$(files_in "$Q/mess")" 1 "the message waits in the queue"
like "$(cat "$Q/info/"* 2>/dev/null)" '^Z 0 [0-9]+ [0-9]+ 1 0 ' "its log says deferred, one try"
ok "queue-run keeps running" alive "$RUNPID"
rm -rf "$Q/.hold"
rm -f "$MD/filler"
kill -ALRM "$RUNPID"
wait_eq 30 1 copies c "$T/m4"
is "$(copies c "$T/m4")" 1 "room again and SIGALRM: delivered, byte for byte"
wait_eq 30 0 files_in "$Q/mess" "$Q/todo" "$Q/info"
is "$(files_in "$Q/mess" "$Q/todo" "$Q/info")" 0 "the queue is empty"
is "$(files_in "$MD/new" "$MD/tmp")" 1 "one copy, nothing left in c's tmp/"
ok "queue-run still runs" alive "$RUNPID"
q_stop
