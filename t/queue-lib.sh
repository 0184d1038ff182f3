# t/queue-lib.sh: sourced by the queue tests after t/lib.sh.
#   q_init [ROOT]     an instance root (default $T/sl) with control/me = mx.test.example, the
#                     queue directories, and a virtual domain example.com owned by $OWNER
#                     (users added with q_user); sets S, Q (the queue), SLUICEDIR, PATH
#   q_user ADDR       a mailbox user (password "secret")
#   q_start [OPTS]    queue-injectd [$INJOPTS], and queue-spawn [OPTS] queue-run, logs in $T/inject.log
#                     and $T/queue.log; their pids in INJPID and RUNPID; with QPASSWD set,
#                     queue-spawn sees that file as /etc/passwd (unshare -m, root only)
#   q_stop            both, with SIGTERM, waiting for them
#   inject SENDER RCPT...   queue-inject with that envelope, the message on stdin
#   wait_log SECS ERE [FILE]   until a line of the queue log (or FILE) matches
#   wait_eq SECS WANT CMD...   until the output of CMD (run each time; a shell function too)
#                     is WANT
#   maildir_count ADDR  messages in new/ of that user's Maildir
#   gone PID          that process has ended (zombie or reaped)
#   q_empty           every message delivered: mess/, todo/, info/ and tmp/ empty
OWNER=4243
q_init() {
  S=${1:-$T/sl}
  Q=$S/queue
  mkdir -p "$S/control" "$Q/tmp" "$Q/todo" "$Q/mess" "$Q/info"
  chmod 755 "$T" "$S"
  echo mx.test.example > "$S/control/me"
  SLUICEDIR=$S PATH=$B:$PATH
  export SLUICEDIR PATH
  "$B/mail-user" adddomain -u $OWNER:$OWNER example.com </dev/null >/dev/null
}
q_user() { echo secret | "$B/mail-user" adduser "$1" >/dev/null; }
q_start() {
  rm -f "$Q/trigger"   # queue-run makes it again once it holds the queue's lock: its sign of life
  start_bg "$B/queue-injectd" ${INJOPTS:-} 2>>"$T/inject.log"
  INJPID=$BGPID
  # QPASSWD: a passwd file queue-spawn reads as /etc/passwd (system users for the tests, in
  # a mount namespace of its own: the machine's users are not touched)
  if [ -n "${QPASSWD:-}" ]; then
    start_bg unshare -m sh -c 'mount --bind "$0" /etc/passwd && exec "$@"' "$QPASSWD" "$B/queue-spawn" "$@" "$B/queue-run" 2>>"$T/queue.log"
  else
    start_bg "$B/queue-spawn" "$@" "$B/queue-run" 2>>"$T/queue.log"
  fi
  RUNPID=$BGPID
  wait_for 5 test -S "$Q/inject"
  wait_for 5 test -p "$Q/trigger"
}
q_stop() {
  kill -TERM "$RUNPID" "$INJPID" 2>/dev/null
  _i=0
  while { kill -0 "$RUNPID" 2>/dev/null || kill -0 "$INJPID" 2>/dev/null; } && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i+1)); done
  wait "$RUNPID" "$INJPID" 2>/dev/null
  return 0
}
inject() {
  _f=$1; shift
  { printf 'F%s\0' "$_f"; for _r in "$@"; do printf 'T%s\0' "$_r"; done; printf '\0'; } > "$T/env.bin"
  "$B/queue-inject" 1<"$T/env.bin"
}
wait_log() { wait_for "$1" grep -Eq -- "$2" "${3:-$T/queue.log}"; }
# wait_eq SECS WANT CMD...: until CMD's output is WANT (CMD run again each time)
wait_eq() {
  _max=$(( $1 * 20 )) _want=$2; shift 2; _i=0
  while [ $_i -lt $_max ]; do [ "$("$@" 2>/dev/null)" = "$_want" ] && return 0; sleep 0.05; _i=$((_i+1)); done
  echo "still $("$@" 2>/dev/null), not $_want"
  return 1
}
maildir_count() {
  _u=${1%@*} _d=${1#*@}
  ls "$S/domains/$_d/$_u/Maildir/new" 2>/dev/null | wc -l | tr -d ' '
}
# gone PID: the process has ended (a zombie waiting for our wait counts as ended)
gone() { ! kill -0 "$1" 2>/dev/null || case "$(ps -o stat= -p "$1")" in Z*) true ;; *) false ;; esac; }
q_empty() { [ -z "$(find "$Q/mess" "$Q/todo" "$Q/info" "$Q/tmp" -mindepth 1)" ]; }
