#!/bin/sh
# queue-inject and queue-injectd: the qmail-queue interface, bad envelopes with their codes
# and nothing queued, the file in todo/ (header, envelope, Received: line, message byte for
# byte), a big message, a missing or foreign queue, the socket of queue-injectd for other
# users, clients that give up, a full disk, kills at random moments, the wake-up of queue-run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
plan 44
q_init
msg='Subject: test

body line
.a line with a dot
'
nothing_queued() { [ -z "$(find "$Q/todo" "$Q/tmp" -mindepth 1)" ]; }
body_of() {   # the message of queue file $1: what follows the envelope
  python3 -c 'import sys
d = open(sys.argv[1], "rb").read()
h, rest = d.split(b"\n\n", 1)
n = int([l for l in h.split(b"\n") if l.startswith(b"envelope ")][0].split()[1])
sys.stdout.buffer.write(rest[n:])' "$1"
}
env_of() {
  python3 -c 'import sys
d = open(sys.argv[1], "rb").read()
h, rest = d.split(b"\n\n", 1)
n = int([l for l in h.split(b"\n") if l.startswith(b"envelope ")][0].split()[1])
print(rest[:n].replace(b"\0", b"|").decode())' "$1"
}

# bad envelopes: the matching permanent code, nothing queued
bad() {   # bad CODE DESC ENVELOPE-BYTES (printf format)
  printf "$3" > "$T/env.bin"
  printf '%s' "$msg" | "$B/queue-inject" 1<"$T/env.bin" 2>"$T/err"
  rc=$?
  is "$rc" "$1" "$2: exit $1"
}
bad 91 "no terminating empty record" 'Fa@example.org\0Tb@example.com\0'
bad 91 "no recipient" 'Fa@example.org\0\0'
bad 91 "a newline in an address" 'Fa@example.org\0Tb@exa\nmple.com\0\0'
bad 91 "a NUL inside an address (records out of step)" 'Fa@exa\0mple.org\0Tb@example.com\0\0'
bad 91 "an empty envelope" ''
bad 91 "a recipient before the sender" 'Tb@example.com\0Fa@example.org\0\0'
long=$(head -c 1001 /dev/zero | tr '\0' x)
bad 11 "an address of 1001 bytes" "Fa@example.org\0T$long@example.com\0\0"
ok "and nothing was queued, nothing left in tmp/" nothing_queued

# a good one
printf '%s' "$msg" | inject sender@example.org rcpt@example.com other@example.net 2>"$T/err"
is "$?" 0 "a good message: exit 0"
f=$(ls "$Q/todo")
like "$f" '^[0-9]+\.[0-9]{6}\.[0-9]+$' "one file in todo/, named SECONDS.MICROSECONDS.INODE"
is "$(head -1 "$Q/todo/$f")" "sluice-queue 1" "it starts with the format's name"
is "$(env_of "$Q/todo/$f")" "Fsender@example.org|Trcpt@example.com|Tother@example.net||" "the envelope as given"
like "$(body_of "$Q/todo/$f" | head -1)" '^Received: \(sluice [0-9]+ invoked by uid 0\); [A-Z][a-z]{2}, [0-9]+ [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \+0000$' "a Received: line for a local injection"
is "$(body_of "$Q/todo/$f" | tail -n +2)" "$(printf %s "$msg")" "then the message, byte for byte"
is "$(stat -c %a "$Q/todo/$f")" 600 "private to the queue's owner"
rm -f "$Q/todo/"*

# a network server (UCSPI: PROTO set) writes its own Received: line
printf '%s' "$msg" | PROTO=TCP inject s@example.org r@example.com
f=$(ls "$Q/todo")
is "$(body_of "$Q/todo/$f")" "$(printf %s "$msg")" "with PROTO set: no Received: line added"
rm -f "$Q/todo/"*

# a big message goes through a temporary file: still byte for byte
python3 -c 'import sys
for i in range(40000): sys.stdout.write("line %d of a big message, long enough to make a megabyte\n" % i)' > "$T/big"
inject s@example.org r@example.com < "$T/big"
is "$?" 0 "a message of 2.3 MB: exit 0"
f=$(ls "$Q/todo")
body_of "$Q/todo/$f" | tail -n +2 > "$T/big.got"
ok "byte for byte" cmp "$T/big" "$T/big.got"
rm -f "$Q/todo/"*

# usage, a missing queue, somebody else's queue without queue-injectd
is_rc 100 "an argument: usage" "$B/queue-inject" x
printf '%s' "$msg" | SLUICEDIR=$T/nowhere inject s@example.org r@example.com 2>"$T/err"
is "$?" 62 "no queue directory: 62"
like "$(cat "$T/err")" 'queue-inject: warning: unable to open the queue .*/nowhere/queue' "saying which"
printf '%s' "$msg" | setpriv --reuid=4244 --regid=4244 --clear-groups "$B/queue-inject" 1<"$T/env.bin" 2>"$T/err"
is "$?" 62 "another user, and no queue-injectd: 62"
like "$(cat "$T/err")" 'unable to connect to queue-injectd' "saying so"
ok "nothing queued" nothing_queued

# queue-injectd: anybody's messages, written as the queue's owner
start_bg "$B/queue-injectd" 2>"$T/inject.log"
INJPID=$BGPID
wait_for 5 test -S "$Q/inject"
is "$(stat -c %a "$Q/inject")" 666 "queue-injectd's socket: anybody may inject (as with qmail-queue)"
printf 'Fu@example.org\0Tr@example.com\0\0' > "$T/env.bin"
printf '%s' "$msg" | setpriv --reuid=4244 --regid=4244 --clear-groups "$B/queue-inject" 1<"$T/env.bin" 2>"$T/err"
is "$?" 0 "uid 4244 through queue-injectd: exit 0"
f=$(ls "$Q/todo")
is "$(stat -c %u "$Q/todo/$f")" 0 "the file belongs to the queue's owner"
like "$(body_of "$Q/todo/$f" | head -1)" '^Received: \(sluice [0-9]+ invoked by uid 4244\)' "the Received: line names the real uid (from the socket, not the client's word)"
is "$(sed -n 3p "$Q/todo/$f")" "uid 4244" "and so does the header"
is "$(body_of "$Q/todo/$f" | tail -n +2)" "$(printf %s "$msg")" "the message, byte for byte"
rm -f "$Q/todo/"*
# a local user cannot pass for a network server (PROTO set) to leave out its Received: line
printf '%s' "$msg" | PROTO=TCP setpriv --reuid=4244 --regid=4244 --clear-groups "$B/queue-inject" 1<"$T/env.bin" 2>"$T/err"
f=$(ls "$Q/todo")
like "$(body_of "$Q/todo/$f" | head -1)" '^Received: \(sluice [0-9]+ invoked by uid 4244\)' "PROTO set by a user that is not a network server's: the Received: line all the same"
rm -f "$Q/todo/"*
printf 'Fu@example.org\0Tr@exa\nmple.com\0\0' > "$T/env.bin"
printf '%s' "$msg" | setpriv --reuid=4244 --regid=4244 --clear-groups "$B/queue-inject" 1<"$T/env.bin" 2>"$T/err"
is "$?" 91 "a bad envelope through queue-injectd: 91"
# clients that give up: before the commit, in the middle of the message
python3 - "$Q/inject" <<'EOF'
import socket, sys
def ns(b): return str(len(b)).encode() + b":" + b + b","
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(ns(b"1") + ns(b"Fa@b.example\0Tc@d.example\0\0") + ns(b"Subject: half\n\n") + b"100:only some")
s.close()
EOF
sleep 0.3
ok "a client that vanished mid-message: nothing queued, nothing in tmp/" nothing_queued
python3 - "$Q/inject" > "$T/answer" <<'EOF'
import socket, sys
def ns(b): return str(len(b)).encode() + b":" + b + b","
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(ns(b"2") + ns(b"Fa@b.example\0Tc@d.example\0\0"))
print(s.recv(100).decode())
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"garbage" * 3)
print(s.recv(100).decode())
EOF
like "$(head -1 "$T/answer")" '^[0-9]+:81 ' "an unknown protocol version: refused (81)"
like "$(tail -1 "$T/answer")" '^[0-9]+:81 ' "a malformed netstring: refused (81)"
ok "nothing queued" nothing_queued
# the trigger: queue-run's FIFO gets a byte for every message queued
mkfifo "$Q/trigger"
python3 -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
open(sys.argv[2], "w").close()
t = time.time() + 10
got = b""
while time.time() < t and not got:
    try: got = os.read(fd, 10)
    except BlockingIOError: pass
    time.sleep(0.02)
print(len(got))' "$Q/trigger" "$T/ready" > "$T/woken" &
reader=$!
wait_for 5 test -e "$T/ready"
printf '%s' "$msg" | inject s@example.org r@example.com
wait $reader
is "$(cat "$T/woken")" 1 "queue-run is woken through queue/trigger"
rm -f "$Q/todo/"* "$Q/trigger"

# a worker of queue-injectd killed mid-message: the client hears of it, nothing is queued
python3 - "$Q/inject" > "$T/answer" <<'EOF' &
import socket, sys, time
def ns(b): return str(len(b)).encode() + b":" + b + b","
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(ns(b"1") + ns(b"Fa@b.example\0Tc@d.example\0\0") + ns(b"Subject: x\n\n"))
open(sys.argv[1] + ".sent", "w").close()
time.sleep(3)
try:
    s.sendall(ns(b"more\n") + b"0:,")
    print("answer:" + s.recv(100).decode())
except OSError as e:
    print("error:" + str(e))
EOF
client=$!
wait_for 5 test -e "$Q/inject.sent"
pkill -KILL -P "$INJPID" queue-injectd
wait $client
like "$(cat "$T/answer")" '^(error:|answer:$)' "a worker killed mid-message: the client gets no success"
is "$(ls "$Q/todo" | wc -l)" 0 "nothing queued (its file in tmp/ is a leftover, removed by queue-run after 36 hours)"
rm -f "$Q/tmp/"*
rm -f "$Q/inject.sent"
printf 'Fu@example.org\0Tr@example.com\0\0' > "$T/env.bin"
printf '%s' "$msg" | setpriv --reuid=4244 --regid=4244 --clear-groups "$B/queue-inject" 1<"$T/env.bin" 2>"$T/err"
is "$?:$(ls "$Q/todo" | wc -l)" "0:1" "queue-injectd still takes messages after losing its workers"
stop_pid "$INJPID"
rm -f "$Q/todo/"*

# a full disk: 53, nothing half-written
if mkdir "$T/small" && mount -t tmpfs -o size=200k tmpfs "$T/small" 2>/dev/null; then
  mkdir -p "$T/small/queue/tmp" "$T/small/queue/todo"
  head -c 400000 /dev/urandom | base64 > "$T/toobig"
  printf 'Fa@b.example\0Tc@d.example\0\0' > "$T/env.bin"
  SLUICEDIR=$T/small "$B/queue-inject" <"$T/toobig" 1<"$T/env.bin" 2>"$T/err"
  is "$?" 53 "a full disk: 53 (write error)"
  is "$(find "$T/small/queue" -type f | wc -l)" 0 "and no file is left, not even in tmp/"
  head -c 1000 "$T/toobig" | SLUICEDIR=$T/small "$B/queue-inject" 1<"$T/env.bin"
  is "$?:$(ls "$T/small/queue/todo" | wc -l)" "0:1" "a message that fits still goes in"
  umount "$T/small"
else
  skip 3 "cannot mount a small tmpfs here (not root?)"
fi

# killed at any moment: never a half message in todo/, only leftovers in tmp/
i=0
while [ $i -lt 30 ]; do
  ( python3 -c 'import sys, time
sys.stdout.write("Subject: slow\n\n"); sys.stdout.flush()
for k in range(50):
    sys.stdout.write("line %d\n" % k); sys.stdout.flush(); time.sleep(0.002)' 2>/dev/null | "$B/queue-inject" 1<"$T/env.bin" ) 2>/dev/null &
  p=$!
  sleep "$(awk -v i=$i 'BEGIN { printf "%.3f", (i * 37 % 60) / 100 }')"
  pkill -KILL -P $p queue-inject 2>/dev/null
  wait $p 2>/dev/null
  i=$((i+1))
done
bad=0
for f in $(ls "$Q/todo"); do
  body_of "$Q/todo/$f" | grep -q '^line 49$' || bad=$((bad+1))
done
is "$bad" 0 "30 kills at random moments: every file in todo/ holds a whole message ($(ls "$Q/todo" | wc -l) finished before the kill)"
