#!/bin/sh
# tcpsrv -x and tcprules-check given a rules path that is not a database: a FIFO (which
# once held tcpsrv's parent in open(2) for good), a symbolic link to /dev/zero and a file of
# 2,048 zero bytes (which once read as an empty database: every client allowed, whatever the
# rules said). Each is a damaged database: the connection is dropped with a warning, the
# server keeps serving, and serves again once the file is fixed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tcpsrv-lib.sh"
plan 21

R=$T/r.cdb
good() { printf '127.0.0.1:allow,X_WHO="rule"\n:deny\n' | "$B/tcprules" "$R" "$T/r.tmp"; }
fifo() { rm -f "$R"; mkfifo "$R"; }
devzero() { rm -f "$R"; ln -s /dev/zero "$R"; }
zeros() { rm -f "$R"; head -c 2048 /dev/zero > "$T/z" && mv "$T/z" "$R"; }

# tcprules-check: exit 111 and a reason, never "allow"
for kind in fifo devzero zeros; do
  $kind
  timeout 5 env TCPREMOTEIP=127.0.0.1 "$B/tcprules-check" "$R" > "$T/out" 2> "$T/err"
  r=$?
  is "$r" 111 "tcprules-check, rules.cdb a $kind: exit 111 (124 is a hang)"
  case $kind in zeros) why='not a well-formed cdb' ;; *) why='not a regular file' ;; esac
  like "$(cat "$T/err")" "^tcprules-check: fatal: unable to read $R: $why" "... says why: $why"
done

# tcpsrv started on a FIFO: it starts, warns, and serves no one until the file is fixed
fifo
: > "$T/log"
srv -v -x "$R" 127.0.0.1 0 "$(envdump)" || exit 1
ok "tcpsrv starts with a FIFO at the rules path" kill -0 "$SPID"
like "$(head -1 "$T/log")" "^tcpsrv: warning: unable to read $R: not a regular file" "and says so at the start"
is "$(get "$PORT" timeout=5)" "" "a client is dropped, not allowed"
logwait 'dropping connection'
like "$(cat "$T/log")" "tcpsrv: warning: dropping connection, unable to read $R: not a regular file" "the drop is logged with the reason"
good
like "$(get "$PORT" timeout=5)" '^X_WHO=rule$' "the file fixed: the next client is served (the server was never stuck)"

for kind in devzero zeros fifo; do
  $kind
  : > "$T/log"
  is "$(get "$PORT" timeout=5)" "" "rules.cdb replaced by a $kind: the client is dropped"
  case $kind in zeros) why='not a well-formed cdb \(a damaged database\)' ;; *) why='not a regular file' ;; esac
  logwait 'dropping connection'
  like "$(cat "$T/log")" "dropping connection, unable to read $R: $why" "... and the reason logged"
  good
  like "$(get "$PORT" timeout=5)" '^X_WHO=rule$' "fixed again: served"
done
stop_pid "$SPID"

# -X forgives a missing database, not a damaged one
zeros
srv -X -x "$R" 127.0.0.1 0 "$(envdump)" || exit 1
is "$(get "$PORT" timeout=5)" "" "-X: a file of zeros still drops the client"
stop_pid "$SPID"
