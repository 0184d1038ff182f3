#!/bin/sh
# The queue's crash safety: SIGKILL at random moments of queue-inject, of queue-injectd's
# workers, of queue-run, of queue-spawn's helper and of its queue-local workers (110 kills in
# all), under a steady flow of messages (SMTP: smtplib -> tcpsrv -> smtpd -> queue-injectd;
# and queue-inject, as root and as another user), queue-run restarted after each crash as s6
# would. Then every message whose sender was told it was accepted (a 250 at the end of DATA,
# queue-inject's exit 0) is in its Maildir at least once and byte for byte; duplicates are
# counted (a diagnostic: allowed), losses fail; a message with an unknown recipient bounces.
# Also: a queue-run whose helper dies exits 111 at once, a helper whose queue-run dies ends,
# nothing stays running, the queue ends empty, and the leftovers of the kills (tmp/ files of
# injections, info/ logs of removed messages) are removed by queue-run once 36 hours old.
# The kills come from t/83-queue-crash.py (a subreaper: the orphans of a kill become its
# children). SLUICE_SEED=N repeats the random choices of a run (not their timing).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root: deliveries run as the virtual domain's owner"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
plan 21

q_init
for u in u1 u2 u3 u4 sender; do q_user "$u@example.com"; done
echo example.com > "$S/control/rcpthosts"
start_bg "$B/queue-injectd" 2>>"$T/inject.log"
INJPID=$BGPID
wait_for 5 test -S "$Q/inject" || diag "queue-injectd did not start"
start_bg "$B/tcpsrv" -1 -H -R -c 100 127.0.0.1 0 "$B/smtpd" > "$T/port" 2>"$T/smtpd.log"
wait_for 5 test -s "$T/port" || diag "tcpsrv did not start"
PORT=$(head -1 "$T/port")

SEED=${SLUICE_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
diag "seed $SEED (SLUICE_SEED=$SEED repeats the choices of this run)"
# in the background, so that lib.sh's cleanup stops it (and it, all it started) on an interrupt
start_bg env B="$B" S="$S" PORT="$PORT" INJPID="$INJPID" LOG="$T/queue.log" OUT="$T/result" CHAOS="$T/chaos.log" \
  SEED="$SEED" KILLS_INJECT=40 KILLS_WORKER=25 KILLS_RUN=25 KILLS_HELPER=10 KILLS_LOCAL=10 \
  "$PY" "$(dirname "$0")/83-queue-crash.py" 2>"$T/driver.err"
wait "$BGPID"
is "$?" 0 "the flow and the kills ran to the end"
[ -s "$T/driver.err" ] && diag "$(tail -20 "$T/driver.err")"
r() { sed -n "s/^$1 //p" "$T/result" | head -1; }
n() { v=$(r "$1"); echo "${v:-0}"; }
failures=$(grep -c FAIL "$T/chaos.log" 2>/dev/null)
[ "${failures:-0}" = 0 ] || diag "$(grep FAIL "$T/chaos.log" | head -20)"

kills=$(( $(n kills_inject) + $(n kills_worker) + $(n kills_run) + $(n kills_helper) + $(n kills_local) ))
is "$kills" 110 "110 SIGKILLs: queue-inject $(n kills_inject), queue-injectd workers $(n kills_worker), queue-run $(n kills_run), helper $(n kills_helper), queue-local $(n kills_local)"
ok "messages were accepted through SMTP ($(n accepted_smtp)) and queue-inject ($(n accepted_inject)), $(n sent) tried" \
  test "$(n accepted_smtp)" -gt 20 -a "$(n accepted_inject)" -gt 20
is "$(n lost)" 0 "no accepted message lost: each of the $(n accepted) is in the Maildir of each recipient ($(n deliveries) deliveries; $(n multi) messages had several recipients)"
[ "$(n lost)" = 0 ] || diag "lost: $(r lost_tags)"
is "$(n lost_bounces)" 0 "each of the $(n bounces_wanted) accepted messages with an unknown recipient bounced to its sender"
[ "$(n lost_bounces)" = 0 ] || diag "no bounce for: $(r lost_bounce_tags)"
is "$(n broken)" 0 "every copy delivered is the message, byte for byte"
[ "$(n broken)" = 0 ] || diag "not byte-exact: $(r broken_tags)"
is "$(n unknown):$(n strays)" "0:0" "nothing delivered that was not sent, or to whom it was not sent; no other bounce"
[ "$(n unknown)" = 0 ] || diag "unexpected: $(r unknown_tags)"
diag "duplicates: $(n duplicates) extra copies in $(n duplicated_msgs) Maildirs (allowed after a crash) $(r dup_tags); bounces: $(n bounce_copies) for $(n bounces_wanted) messages"
diag "delivered though not accepted: $(n delivered_not_accepted) (of them, queue-inject killed after its commit: $(n killed_injects_delivered))"
diag "SMTP: $(n smtp_accepted) accepted, $(n smtp_refused_451) refused with 451; queue-inject through queue-injectd: $(n inject_exit_54_inject-uid4244) exit 54 (a queue-injectd worker killed)"
others=$(grep -E '^(smtp_refused_[0-9]+|smtp_errors|inject_exit_)' "$T/result" | grep -Ev '^(smtp_refused_451|inject_exit_54_inject-uid4244) ')
is "$others" "" "the senders saw no failure but 451 (SMTP) or 54 (queue-inject through queue-injectd) when a worker was killed, or their own SIGKILL"
is "$(n stuck_runs):$(n run_bad_exit)" "0:0" "a queue-run whose helper was killed exits 111 at once"
is "$(n stuck_helpers)" 0 "a helper whose queue-run was killed ends with its deliveries"
# its socket to queue-run is at its end whether it reads as EOF or as ECONNRESET (answers
# queue-run never read): not an error, and not a reason to drop the deliveries running
is "$(grep -c 'queue-spawn: fatal: unable to read from queue-run' "$T/queue.log")" 0 \
  "a helper whose queue-run was killed ends as designed, without a fatal error (ECONNRESET is the end too)"
is "$(n run_died)" 0 "queue-run never ended by itself"
is "$(n queue_left):$(n info_kept)" "0:0" "the queue is empty at the end: todo/, mess/, and info/ but for logs of messages that are gone"
is "$(r final_exit)" 0 "queue-run stops on SIGTERM (exit 0)"
is "$(n leftover_procs)" 0 "no helper or worker left running after queue-run stopped"
is "$(find "$Q/bad" -type f 2>/dev/null | wc -l)" 0 "no queue file was half-written (nothing put aside in bad/)"
ok "queue-injectd survived the loss of its workers" kill -0 "$INJPID"

# leftovers: in tmp/, of killed injections, removed by queue-run once 36 hours old; in info/,
# logs whose message was removed by a queue-run killed before it removed the log too, removed
# whatever their age (only queue-run writes logs, under its lock)
ntmp=$(ls "$Q/tmp" | wc -l)
ninfo=$(ls "$Q/info" | wc -l)
diag "leftovers: $ntmp in tmp/ (killed injections), $ninfo in info/ (a queue-run killed between the removal of a message and of its log)"
find "$Q/tmp" "$Q/info" -type f -exec touch -d '37 hours ago' {} +
echo young > "$Q/tmp/9.9.9"
echo "D 0 9" > "$Q/info/9.9.9"
ninfo=$((ninfo + 1))
lines=$(wc -l < "$T/queue.log")
start_bg "$B/queue-spawn" "$B/queue-run" 2>>"$T/queue.log"
RUNPID=$BGPID
leftovers() { echo $(ls "$Q/tmp") $(ls "$Q/info"); }
wait_eq 10 "9.9.9" leftovers
is "$(leftovers)" "9.9.9" "queue-run removes the tmp/ files older than 36 hours, and only those, and every log without its message"
is "$(tail -n +$((lines + 1)) "$T/queue.log" | grep -c 'warning: removed the leftover \(tmp\|info\)/')" "$((ntmp + ninfo))" "one log line for each"
rm -f "$Q/tmp/9.9.9"

# and the chain still works
printf 'Subject: after\n\nafter the storm\n' | swaks -s 127.0.0.1 -p "$PORT" -f sender@example.com -t u1@example.com \
  --data - --hide-all >/dev/null 2>&1
is "$?" 0 "a message after the storm: accepted"
wait_for 30 grep -rlq 'after the storm' "$S/domains/example.com/u1/Maildir/new"
ok "and delivered" grep -rlq 'after the storm' "$S/domains/example.com/u1/Maildir/new"
if [ -n "$(ls "$Q/todo")" ]; then
  diag "todo/: $(ls "$Q/todo"); queue-run $RUNPID: $(cut -d' ' -f3 /proc/$RUNPID/stat 2>/dev/null || echo gone), waits in $(cat /proc/$RUNPID/wchan 2>/dev/null)"
  diag "$(tail -5 "$T/queue.log")"
fi
stop_pid "$RUNPID"
