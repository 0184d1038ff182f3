#!/bin/sh
# tcpsrv limits under bursts of real connections: -c (total, deferred, never more children),
# -C and the MAXCONNIP rule variable (per client address, refused), TCPCONNNUM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tcpsrv-lib.sh"
plan 21

# prog: says its TCPCONNNUM, counts the progs running now (itself included), stays a while
mkdir "$T/run"
cat > "$T/hold" <<EOF
#!/bin/sh
echo "TCPCONNNUM=\$TCPCONNNUM"
: > "$T/run/\$\$"
ls "$T/run" | wc -l >> "$T/conc"
sleep 2
rm -f "$T/run/\$\$"
EOF
chmod +x "$T/hold"

# ---- -c 3: a burst of 7 is served 3 at a time, none refused
: > "$T/log"; : > "$T/conc"
srv -v -c 3 127.0.0.1 0 "$T/hold" || exit 1
out=$(burst "$PORT" 127.0.0.1:7)
is "$(echo "$out" | grep -c refused)" "0" "-c 3: no connection of a burst of 7 refused (deferred)"
is "$(echo "$out" | wc -l | tr -d " ")" "7" "-c 3: all 7 served"
is "$(sort -n "$T/conc" | tail -1)" "3" "-c 3: at most 3 progs at once, and 3 reached"
is "$(sed -n 's/^tcpsrv: status: \([0-9]*\)\/3$/\1/p' "$T/log" | sort -n | tail -1)" "3" "status lines never above 3/3"
like "$(echo "$out" | awk '{print $2}' | sort -n | tail -1)" '^[1-3]$' "TCPCONNNUM counts open connections: never above 3 here"
stop_pid "$SPID"

# ---- -C 2: per address; the others refused at once, other addresses unaffected
: > "$T/log"; : > "$T/conc"
srv -v -C 2 127.0.0.1 0 "$T/hold" || exit 1
out=$(burst "$PORT" 127.0.0.1:6 127.0.0.2:2)
is "$(echo "$out" | grep '^127.0.0.1 ' | grep -vc refused)" "2" "-C 2: 2 of 6 connections from one address served"
is "$(echo "$out" | grep '^127.0.0.1 ' | grep -c refused)" "4" "-C 2: the other 4 refused"
is "$(echo "$out" | grep '^127.0.0.1 ' | grep -v refused | awk '{print $2}' | sort -n | tr '\n' ' ')" "1 2 " "TCPCONNNUM of the served ones: 1 and 2"
is "$(echo "$out" | grep '^127.0.0.2 ' | grep -vc refused)" "2" "-C 2: another address has its own count"
logwait 'MAXCONNIP:'
like "$(grep -m1 ' deny ' "$T/log")" '^tcpsrv: deny [0-9]+ :127\.0\.0\.1:[0-9]+ :127\.0\.0\.1::[0-9]+ MAXCONNIP:[3-6]/2$' "refusals logged as deny lines, MAXCONNIP:count/limit at the end"
sleep 2.5
is "$(burst "$PORT" 127.0.0.1:2 | grep -c refused)" "0" "once they ended, the address may connect again"
stop_pid "$SPID"

# ---- MAXCONNIP from a rule overrides -C for its clients; 0 refuses all
printf '127.0.0.3:allow,MAXCONNIP="1"\n127.0.0.4:allow,MAXCONNIP="0"\n127.0.0.5:allow,MAXCONNIP="x"\n:allow\n' | "$B/tcprules" "$T/r.cdb" "$T/r.tmp"
: > "$T/log"
srv -v -C 3 -x "$T/r.cdb" 127.0.0.1 0 "$T/hold" || exit 1
out=$(burst "$PORT" 127.0.0.3:3 127.0.0.4:1 127.0.0.6:4 127.0.0.5:4)
is "$(echo "$out" | grep '^127.0.0.3 ' | grep -vc refused)" "1" "MAXCONNIP=1 from a rule: 1 of 3 served"
is "$(echo "$out" | grep '^127.0.0.4 ' | grep -vc refused)" "0" "MAXCONNIP=0: every connection refused"
is "$(echo "$out" | grep '^127.0.0.6 ' | grep -vc refused)" "3" "no MAXCONNIP in the rule: -C 3 holds"
is "$(echo "$out" | grep '^127.0.0.5 ' | grep -vc refused)" "3" "a MAXCONNIP that is not a number: -C applies"
logwait 'ignoring MAXCONNIP'
like "$(cat "$T/log")" 'tcpsrv: warning: ignoring MAXCONNIP=x: not a number' "... with a warning"
stop_pid "$SPID"

# ---- TCPCONNNUM without any limit: 1..5 for five at once from one address
srv 127.0.0.1 0 "$T/hold" || exit 1
is "$(burst "$PORT" 127.0.0.1:5 | awk '{print $2}' | sort -n | tr '\n' ' ')" "1 2 3 4 5 " "TCPCONNNUM: 1 to 5 for five open at once"
stop_pid "$SPID"

# ---- -c counts every address; -c and -C together
: > "$T/conc"
srv -c 4 -C 2 127.0.0.1 0 "$T/hold" || exit 1
out=$(burst "$PORT" 127.0.0.7:3 127.0.0.8:2 127.0.0.9:1)
is "$(sort -n "$T/conc" | tail -1)" "4" "-c 4 -C 2: never more than 4 progs"
is "$(echo "$out" | grep refused)" "127.0.0.7 refused" "-c 4 -C 2: the third from one address refused, the rest served in turn"
stop_pid "$SPID"

# ---- bad numbers
is_rc 100 "-c 0 is a usage error" "$B/tcpsrv" -c 0 127.0.0.1 0 true
is_rc 100 "-C 0 is a usage error" "$B/tcpsrv" -C 0 127.0.0.1 0 true
