#!/bin/sh
# Local injection through a filter service: mail-inject and sendmail with QMAILQUEUESOCK
# naming the socket of dkim-sign -d hand their messages to it (no process per message), and
# they are queued signed, with queue-injectd's local Received: line (no network flag); the
# service down: mail-inject fails temporarily and queues nothing, or runs QMAILQUEUE when set.
# Whose injection it is: the service passes its client's uid on (flag l), believed only from
# the trusted, as uid 65534 and as root, through the service and to queue-injectd directly.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
. "$(dirname "$0")/dkim-lib.sh"
"$PY" -c 'import dkim' 2>/dev/null || skip_all "python3-dkim not installed"
plan 16

q_init
"$B/dkim-sign" -g mx.test.example r1 > "$T/r1.txt"
start_bg "$B/queue-injectd" 2>>"$T/inject.log"
wait_for 5 test -S "$Q/inject"
K=$T/dkim.sock
start_bg "$B/dkim-sign" -d "$K" -m 0666 2>>"$T/dkim.log"
DPID=$BGPID
wait_for 5 test -S "$K"
is "$(stat -c %a "$K")" 666 "-m 0666: a socket any local user may use"
todo() { ls "$Q/todo" | wc -l | tr -d ' '; }
newest() { ls -t "$Q/todo/"* | head -1; }

printf 'To: bob@example.org\nSubject: local\n\nbody\n' | env USER=alice QMAILQUEUESOCK="$K" "$B/mail-inject" bob@example.org
is "$?" 0 "mail-inject through the service: exit 0"
qmsg "$(newest)" > "$T/q.msg"
is "$(grep -c '^DKIM-Signature:' "$T/q.msg")" 1 "queued signed for the From: mail-inject added (alice@mx.test.example)"
is "$($DT verify "$T/q.msg" "$T/r1.txt")" pass "python's dkim verifies it"
like "$(head -1 "$T/q.msg")" '^Received: \(sluice [0-9]+ invoked by uid [0-9]+\); ' "queue-injectd's local Received: line first (no network flag)"

printf 'From: alice@mx.test.example\nTo: bob@example.org\nSubject: by sendmail\n\nbody\n' | env USER=alice QMAILQUEUESOCK="$K" "$B/sendmail" -t
is "$?" 0 "sendmail -t through the service: exit 0"
qmsg "$(newest)" > "$T/q.msg"
is "$($DT verify "$T/q.msg" "$T/r1.txt")" pass "queued signed"

# --- whose injection it is: the service hands on its client's uid, not its own (flag l) --------
# rcvd SOCKET [QORIGIN]: the message of $T/m through SOCKET by qinj.py as uid 65534 (or as
# root with ROOT=1); the first line of what was queued
rcvd() {
  if [ -n "${ROOT:-}" ]; then _a=$(env T="$T" QORIGIN="${2:-}" "$PY" "$TOP/t/qinj.py" "$1" whole)
  else _a=$(setpriv --reuid=65534 --regid=65534 --clear-groups env T="$T" QORIGIN="${2:-}" "$PY" "$T/qinj.py" "$1" whole); fi
  _id=$(printf '%s' "$_a" | sed -n 's/^[0-9]*:0 \([0-9.]*\),$/\1/p')
  [ -n "$_id" ] && qmsg "$Q/todo/$_id" | head -1
}
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chmod o+x "$T" "$S" "$Q"
  # the client from a place uid 65534 can read, wherever the checkout is
  cp "$TOP/t/qinj.py" "$T/qinj.py"; chmod o+r "$T/qinj.py"
  printf 'From: alice@mx.test.example\nSubject: whose\n\nbody\n' > "$T/m"; chmod o+r "$T/m"
  like "$(rcvd "$K")" 'invoked by uid 65534\)' "a local user (uid 65534) injecting through the service: queue-injectd's Received: line names that user, not the service's uid"
  like "$(rcvd "$K" "0 1")" 'invoked by uid 65534\)' "the same user saying it injects for root (flag l): not believed by the service"
  like "$(rcvd "$Q/inject" "0 1")" 'invoked by uid 65534\)' "nor by queue-injectd"
  like "$(ROOT=1 rcvd "$K" "1234 99")" 'invoked by uid 1234\)' "the service's own user (a filter before it) or root: its word taken"
  like "$(ROOT=1 rcvd "$Q/inject" "1234 99")" 'invoked by uid 1234\)' "queue-injectd takes it from its own user and those of -N"
else
  skip 5 "not root, or no setpriv: cannot inject as another user"
fi

stop_pid "$DPID"
n=$(todo)
printf 'Subject: down\n\nbody\n' | env USER=alice QMAILQUEUESOCK="$K" "$B/mail-inject" bob@example.org 2> "$T/err"
is "$?" 111 "the service down: mail-inject fails temporarily (111)"
is "$(todo)" "$n" "and nothing is queued unsigned"
printf 'Subject: program\n\nbody\n' | env USER=alice QMAILQUEUESOCK="$K" QMAILQUEUE="$B/dkim-sign" "$B/mail-inject" bob@example.org
is "$?" 0 "down, QMAILQUEUE=dkim-sign set too: the program takes it"
qmsg "$(newest)" > "$T/q.msg"
is "$($DT verify "$T/q.msg" "$T/r1.txt")" pass "signed all the same"
