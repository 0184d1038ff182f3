#!/bin/sh
# doc/tcpsrv.1's examples work as printed: the test server line, the run script (syntax,
# and its rules compile with tcprules).
. "$(dirname "$0")/lib.sh"
plan 5
cd "$TOP" || exit 1
mandoc -T ascii doc/tcpsrv.1 | col -bx | awk '/^EXAMPLES/{on=1;next} /^[A-Z]/{on=0} on' > "$T/ex"
line=$(grep -m1 '^ *tcpsrv -v -1 ' "$T/ex" | sed 's/^ *//')
like "$line" "^tcpsrv -v -1 127\.0\.0\.1 0 sh -c 'echo \"hello \\\$TCPREMOTEIP\"'\$" "the test server line is in the man page"
PATH="$B:$PATH" start_bg sh -c "exec $line" >"$T/port" 2>"$T/log"
wait_for 5 test -s "$T/port"
out=$(python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); print(s.makefile().read().strip())' "$(cat "$T/port")")
is "$out" "hello 127.0.0.1" "it runs as printed and greets the client"
stop_pid "$BGPID"
awk '/^ *#!\/bin\/sh/{on=1} on && /^ *$/{exit} on' "$T/ex" | sed 's/^ *//' > "$T/run"
like "$(cat "$T/run")" 'exec tcpsrv -v -x /var/sluice/rules/smtp.cdb' "the run script is there"
ok "the run script is valid sh" sh -n "$T/run"
awk '/^ *127\.0\.0\.1:allow/{on=1} on && /^ *$/{exit} on' "$T/ex" | sed 's/^ *//' > "$T/rules.txt"
ok "its rules compile with tcprules" sh -c "'$B/tcprules' '$T/r.cdb' '$T/r.tmp' < '$T/rules.txt' && test \$(wc -l < '$T/rules.txt') -eq 5"
