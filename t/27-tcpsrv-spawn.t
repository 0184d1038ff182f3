#!/bin/sh
# tcpsrv's two ways of starting prog give prog the same world: the quick way (no -h, -p or
# -r: the parent looks the rules up and starts prog from a vfork child) and the slow way
# (a forked child does the lookups, then execs). Compared here: the environment, the
# descriptors, the signal mask and ignored signals, a banner larger than a socket buffer,
# and a prog that moved or vanished after tcpsrv started.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tcpsrv-lib.sh"
plan 26

# -r with an ident port where nothing listens: the slow way, with TCPREMOTEINFO unset at
# once (connection refused), so both ways must give the very same variables
IDENT=$(free_port)
slow() { TCPSRV_IDENTPORT=$IDENT srv -r "$@"; }

printf '127.0.0.1:allow,X_RULE="yes",TCPLOCALHOST="from.rule",X_GONE\n:allow\n' > "$T/rules.txt"
"$B/tcprules" "$T/rules.cdb" "$T/rules.tmp" < "$T/rules.txt" || exit 1

strip() { grep -v '^TCP\(REMOTE\|LOCAL\)PORT='; }
X_GONE=1 srv -x "$T/rules.cdb" 127.0.0.1 0 "$(envdump)" || exit 1
quick=$(get "$PORT" | strip)
stop_pid "$SPID"
X_GONE=1 slow -x "$T/rules.cdb" 127.0.0.1 0 "$(envdump)" || exit 1
slowout=$(get "$PORT" | strip)
stop_pid "$SPID"
like "$quick" '^X_RULE=yes$' "quick way: the rule's variables are set"
like "$quick" '^TCPLOCALHOST=from\.rule$' "quick way: a rule overrides tcpsrv's own variable"
unlike "$quick" '^X_GONE=' "quick way: a rule removes an inherited variable"
is "$quick" "$slowout" "quick and slow ways: the same environment"

# Started through clean: every descriptor above 2 closed, SIGUSR1 blocked, SIGUSR2 ignored,
# every other signal at its default (python ignores SIGPIPE and SIGXFSZ, a shell's
# background job SIGINT and SIGQUIT, and a harness may ignore more)
clean() {
  exec python3 - "$@" <<'EOF'
import os, signal, sys
os.closerange(3, 65536)
for s in range(1, signal.NSIG):
    try:
        signal.signal(s, signal.SIG_DFL)
    except (OSError, ValueError):
        pass
signal.signal(signal.SIGUSR2, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_SETMASK, {signal.SIGUSR1})
os.execv(sys.argv[1], sys.argv[1:])
EOF
}
way() {   # way quick|slow ARGS...: start tcpsrv through clean, the quick or the slow way
  w=$1; shift
  if [ "$w" = quick ]; then _start "$T/log" clean "$B/tcpsrv" -1 "$@"
  else TCPSRV_IDENTPORT=$IDENT _start "$T/log" clean "$B/tcpsrv" -1 -r "$@"
  fi
}

# descriptors: 0, 1 and 2 only (ls, no shell: a shell has its pipes); signals: the mask and ignored signals tcpsrv started with,
# whatever tcpsrv blocked for itself (SIGCHLD, SIGTERM, SIGHUP, SIGPIPE). cat reads its
# own status, so no shell stands between.
for w in quick slow; do
  way $w 127.0.0.1 0 ls /proc/self/fd || exit 1
  is "$(get "$PORT" | sort -n | tr '\n' ' ')" "0 1 2 3 " "$w way: prog gets descriptors 0, 1 and 2 only (3 is ls's own)"
  stop_pid "$SPID"
  way $w 127.0.0.1 0 cat /proc/self/status || exit 1
  # what tcpsrv ignores is what it was started with (some signals, such as glibc's own
  # real-time ones, cannot be reset from python, and a harness may ignore them)
  srvign=$(awk '/^SigIgn:/ { print $2 }' "/proc/$SPID/status")
  ok "$w way: tcpsrv itself ignores SIGUSR2 as started" [ $(( 0x$srvign & 0x800 )) -ne 0 ]
  is "$(get "$PORT" | grep -E '^Sig(Blk|Ign):' | tr '\n\t' '  ')" "SigBlk: 0000000000000200 SigIgn: $srvign " \
    "$w way: prog has the signal mask and ignored signals tcpsrv started with"
  stop_pid "$SPID"
done

# a banner larger than a socket's send buffer: the parent cannot write it all without
# waiting, so the child writes the rest; the client gets every byte, then prog
big=$(head -c 120000 /dev/zero | tr '\0' b)
srv -B "$big" 127.0.0.1 0 echo done || exit 1
out=$(get "$PORT")
is "${#out}" "120004" "a 120000-byte banner arrives whole, then prog's output"
is "$(printf '%s' "$out" | tail -c 4)" "done" "... and prog ran after it"
is "$(printf '%s' "$out" | tr -d b | head -c 4)" "done" "... nothing but the banner before it"
stop_pid "$SPID"
srv -B "hi " 127.0.0.1 0 echo done || exit 1
is "$(get "$PORT")" "hi done" "a small banner: written by the parent, then prog"
stop_pid "$SPID"

# prog found in PATH at start, then moved to a later PATH directory: still found; then gone:
# that connection is dropped with a warning and the server goes on
mkdir -p "$T/p1" "$T/p2"
printf '#!/bin/sh\necho one\n' > "$T/p1/myprog"; chmod +x "$T/p1/myprog"
: > "$T/log"
PATH="$T/p1:$T/p2:$PATH" srv -v 127.0.0.1 0 myprog || exit 1
is "$(get "$PORT")" "one" "prog found in PATH at start"
mv "$T/p1/myprog" "$T/p2/myprog"
is "$(get "$PORT")" "one" "prog moved to a later PATH directory: found there"
rm "$T/p2/myprog"
is "$(get "$PORT")" "" "prog gone: the connection is closed"
logwait 'unable to run myprog'
like "$(cat "$T/log")" 'tcpsrv: warning: dropping connection, unable to run myprog: ' "... with a warning"
printf '#!/bin/sh\necho back\n' > "$T/p1/myprog"; chmod +x "$T/p1/myprog"
is "$(get "$PORT")" "back" "prog back: the server never stopped serving"
ok "tcpsrv still runs" kill -0 "$SPID"
stop_pid "$SPID"

# -v on the quick way: status, pid, ok, end, in that order, for each of several clients
: > "$T/log"
srv -v -x "$T/rules.cdb" 127.0.0.1 0 true || exit 1
for i in 1 2 3; do get "$PORT" >/dev/null; done
wait_for 5 sh -c "[ \$(grep -c ' end ' '$T/log') -ge 3 ]"
pids=$(sed -n 's/^tcpsrv: pid \([0-9]*\) from .*/\1/p' "$T/log" | tr '\n' ' ')
seq=$(for p in $pids; do grep -n -E "^tcpsrv: (pid|ok|end) $p( |$)" "$T/log" | cut -d: -f1 | tr '\n' ,; echo; done | awk -F, '$1 < $2 && $2 < $3 { n++ } END { print n + 0 }')
is "$seq" "3" "-v, quick way: pid, ok and end lines in order for each client"
stop_pid "$SPID"

# the quick way's copy of the rules in memory follows the file: kept once it has settled
# (2 seconds unchanged), replaced by tcprules (a new file renamed over it), or rewritten in
# place by cp (same inode, new times)
printf '127.0.0.1:allow,X_V="1"\n' | "$B/tcprules" "$T/v.cdb" "$T/v.tmp" || exit 1
srv -x "$T/v.cdb" 127.0.0.1 0 "$(envdump)" || exit 1
sleep 2.2
like "$(get "$PORT")" '^X_V=1$' "rules: the settled database is read"
like "$(get "$PORT")" '^X_V=1$' "rules: ... and read again from the copy in memory"
printf '127.0.0.1:allow,X_V="2"\n' | "$B/tcprules" "$T/v.cdb" "$T/v.tmp" || exit 1
like "$(get "$PORT")" '^X_V=2$' "rules: replaced by tcprules, the next connection sees the new rule"
printf '127.0.0.1:allow,X_V="3"\n' | "$B/tcprules" "$T/w.cdb" "$T/w.tmp" || exit 1
sleep 2.2
like "$(get "$PORT")" '^X_V=2$' "rules: the new database, settled, is kept in memory"
cp "$T/w.cdb" "$T/v.cdb"
like "$(get "$PORT")" '^X_V=3$' "rules: rewritten in place (cp), the next connection sees the new rule"
stop_pid "$SPID"

