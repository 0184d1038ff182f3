#!/bin/sh
# tcpsrv: the UCSPI environment read back from inside the child over IPv4, IPv6 and the
# dual-stack "0"; -1, -B, -l, -D/-d, -b, -o/-O, -q/-Q/-v; the -v log lines word for word.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tcpsrv-lib.sh"
plan 42

# ---- IPv4, no options: exactly the variables, unknown ones unset
srv 127.0.0.1 0 "$(envdump)" || exit 1
out=$(get "$PORT")
is "$out" "PROTO=TCP
TCPCONNNUM=1
TCPLOCALIP=127.0.0.1
TCPLOCALPORT=$PORT
TCPREMOTEIP=127.0.0.1
TCPREMOTEPORT=$(echo "$out" | sed -n 's/^TCPREMOTEPORT=//p')" "IPv4: PROTO, TCPLOCAL*, TCPREMOTE*, TCPCONNNUM; no host or info variable"
like "$(echo "$out" | sed -n 's/^TCPREMOTEPORT=//p')" '^[1-9][0-9]*$' "TCPREMOTEPORT is the client's port"
ok "-1 printed the port, a number" test "$PORT" -gt 0
stop_pid "$SPID"
# inherited values of the variables tcpsrv sets are replaced or removed
export TCPREMOTEHOST=stale TCPREMOTEINFO=stale TCPLOCALHOST=stale TCPREMOTEIP=stale X_KEEP=kept
srv 127.0.0.1 0 "$(envdump)" || exit 1
unset TCPREMOTEHOST TCPREMOTEINFO TCPLOCALHOST TCPREMOTEIP X_KEEP
out=$(get "$PORT")
unlike "$out" 'stale' "TCPREMOTEHOST, TCPREMOTEINFO, TCPLOCALHOST, TCPREMOTEIP from tcpsrv's environment do not reach prog"
like "$out" '^X_KEEP=kept$' "the rest of the environment passes through"
stop_pid "$SPID"

# ---- IPv6 on ::1
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
  srv ::1 0 "$(envdump)" || exit 1
  out=$(get "$PORT" host=::1)
  like "$out" '^TCPREMOTEIP=::1$' "IPv6: TCPREMOTEIP=::1"
  like "$out" '^TCPLOCALIP=::1$' "IPv6: TCPLOCALIP=::1"
  like "$out" "^TCPLOCALPORT=$PORT\$" "IPv6: TCPLOCALPORT"
  # the same port number on 127.0.0.1 may be another test's server by now (ports are per
  # family): what matters is that ours does not answer there
  unlike "$(get "$PORT" host=127.0.0.1)" '^TCPLOCALIP=(::1|::ffff:127\.0\.0\.1)$' "::1 does not accept IPv4"
  stop_pid "$SPID"

  # ---- "0": one dual-stack socket; IPv4 clients show as plain IPv4
  : > "$T/log"
  srv -v 0 0 "$(envdump)" || exit 1
  out4=$(get "$PORT" host=127.0.0.1)
  out6=$(get "$PORT" host=::1)
  like "$out4" '^TCPREMOTEIP=127\.0\.0\.1$' "0: an IPv4 client is TCPREMOTEIP=127.0.0.1, not ::ffff:127.0.0.1"
  like "$out4" '^TCPLOCALIP=127\.0\.0\.1$' "0: TCPLOCALIP is the address the IPv4 client reached"
  like "$out6" '^TCPREMOTEIP=::1$' "0: IPv6 clients too"
  like "$out6" '^TCPLOCALIP=::1$' "0: TCPLOCALIP=::1 for them"
  is "$(ss -ltnH "sport = :$PORT" | awk "{print \$4}")" "*:$PORT" "0 listens on one socket, for every address of both families"
  logwait " ok [0-9]+ :\[::1\]:$PORT :\[::1\]::[0-9]+\$"
  like "$(cat "$T/log")" "tcpsrv: ok [0-9]+ :\[::1\]:$PORT :\[::1\]::[0-9]+\$" "-v: IPv6 addresses in brackets in the ok line"
  like "$(cat "$T/log")" "tcpsrv: pid [0-9]+ from ::1\$" "-v: the pid line names the IPv6 client"
  stop_pid "$SPID"

  # ---- "::" is IPv6 only
  srv :: 0 "$(envdump)" || exit 1
  like "$(get "$PORT" host=::1)" '^TCPREMOTEIP=::1$' "::: serves IPv6"
  is "$(get "$PORT" host=127.0.0.1 | head -c 5)" "ERROR" "::: IPv6 only, IPv4 refused"
  stop_pid "$SPID"
else
  skip 13 "no IPv6 on loopback"
fi

# ---- -B banner, -l localname, -v log lines
: > "$T/log"
srv -v -B "hello there
" -l mail.example.com 127.0.0.1 0 "$(envdump)" || exit 1
out=$(get "$PORT")
is "$(echo "$out" | head -1)" "hello there" "-B: the banner comes first"
like "$out" '^TCPLOCALHOST=mail\.example\.com$' "-l sets TCPLOCALHOST"
unlike "$out" '^TCPREMOTEHOST=' "no -h: TCPREMOTEHOST unset"
logwait 'end [0-9]+ status 0$'
pid=$(sed -n 's/^tcpsrv: pid \([0-9]*\) from 127\.0\.0\.1$/\1/p' "$T/log")
rport=$(echo "$out" | sed -n 's/^TCPREMOTEPORT=//p')
is "$(cat "$T/log")" "tcpsrv: status: 0/40
tcpsrv: status: 1/40
tcpsrv: pid $pid from 127.0.0.1
tcpsrv: ok $pid mail.example.com:127.0.0.1:$PORT :127.0.0.1::$rport
tcpsrv: end $pid status 0
tcpsrv: status: 0/40" "-v: status, pid, ok, end lines as tcpserver 0.88 writes them"
stop_pid "$SPID"

# -l text is sanitised in the log (':' would break the fields), not in the variable
: > "$T/log"
srv -v -l 'a:b c' 127.0.0.1 0 "$(envdump)" || exit 1
like "$(get "$PORT")" '^TCPLOCALHOST=a:b c$' "-l text goes to TCPLOCALHOST as given"
logwait ' ok '
like "$(grep ' ok ' "$T/log")" " ok [0-9]+ a\?b\?c:127\.0\.0\.1:" "... and to the log with ':' and ' ' as '?'"
stop_pid "$SPID"

# exit status in the end line is the raw wait status, as 0.88 prints it
: > "$T/log"
srv -v 127.0.0.1 0 sh -c 'exit 3' || exit 1
get "$PORT" >/dev/null
logwait 'end [0-9]+ status'
like "$(grep ' end ' "$T/log")" 'end [0-9]+ status 768$' "end line: status 768 for exit 3"
stop_pid "$SPID"

# ---- -q: no warnings; -Q: warnings; -v: everything
for v in q Q; do
  : > "$T/log"
  srv -$v 127.0.0.1 0 "$T/nonexistent-prog" || exit 1
  out=$(get "$PORT")
  is "$out" "" "-$v: a prog that cannot run: connection closed"
  # -Q: wait for the warning; -q: give it the time it would take to come
  logwait 'warning' 2
  if [ $v = q ]; then
    is "$(cat "$T/log")" "" "-q: nothing logged"
  else
    like "$(cat "$T/log")" "^tcpsrv: warning: dropping connection, unable to run $T/nonexistent-prog: " "-Q: the drop is logged as 0.88 words it"
  fi
  unlike "$(cat "$T/log")" 'status:' "-$v: no status lines"
  stop_pid "$SPID"
done

# ---- -D sets TCP_NODELAY (read back by the child); -d (default) leaves it off
cat > "$T/nodelay" <<'EOF'
#!/bin/sh
exec python3 -c 'import socket; s = socket.socket(fileno=0); print("nodelay", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)); s.detach()'
EOF
chmod +x "$T/nodelay"
srv -D 127.0.0.1 0 "$T/nodelay" || exit 1
like "$(get "$PORT")" '^nodelay [1-9]' "-D: TCP_NODELAY on"
stop_pid "$SPID"
srv -d 127.0.0.1 0 "$T/nodelay" || exit 1
is "$(get "$PORT")" "nodelay 0" "-d: TCP_NODELAY off"
stop_pid "$SPID"
srv 127.0.0.1 0 "$T/nodelay" || exit 1
is "$(get "$PORT")" "nodelay 0" "default: TCP_NODELAY off, as 0.88"
stop_pid "$SPID"

# ---- -b backlog: the listening socket's queue (ss shows it as Send-Q)
srv -b 7 127.0.0.1 0 true || exit 1
is "$(ss -ltnH "sport = :$PORT" | awk '{print $3}')" "7" "-b 7: backlog 7"
stop_pid "$SPID"
srv 127.0.0.1 0 true || exit 1
is "$(ss -ltnH "sport = :$PORT" | awk '{print $3}')" "20" "default backlog 20, as 0.88"
stop_pid "$SPID"

# ---- -o and -O keep the connection working (IP options cannot be sent on loopback here)
srv -o 127.0.0.1 0 "$(envdump)" || exit 1
like "$(get "$PORT")" '^PROTO=TCP$' "-o: served"
stop_pid "$SPID"
srv -O 127.0.0.1 0 "$(envdump)" || exit 1
like "$(get "$PORT")" '^PROTO=TCP$' "-O: served"
stop_pid "$SPID"

# ---- the client's data reaches prog on fd 0, prog's output reaches the client on fd 1
srv 127.0.0.1 0 sh -c 'read line; echo "got $line"; echo "to stdout"; echo "to stderr" >&2' || exit 1
is "$(get "$PORT" send="ping
")" "got ping
to stdout" "fd 0 reads the client, fd 1 writes to it, fd 2 is tcpsrv's stderr"
stop_pid "$SPID"
like "$(cat "$T/log")" 'to stderr' "prog's stderr is tcpsrv's"

# ---- a port given by name from /etc/services
if grep -q '^smtp[[:space:]]*25/tcp' /etc/services 2>/dev/null; then
  start_bg "$B/tcpsrv" -1 127.0.0.1 smtp true >"$T/psvc" 2>"$T/esvc"
  wait_for 3 test -s "$T/psvc" || wait_for 2 grep -q . "$T/esvc"
  if [ -s "$T/psvc" ]; then is "$(cat "$T/psvc")" 25 "a service name as port: smtp is 25"
  else like "$(cat "$T/esvc")" 'unable to bind to 127.0.0.1 port 25' "a service name as port: smtp is port 25 (busy here)"; fi
  stop_pid "$BGPID"
else
  skip 1 "no smtp in /etc/services"
fi

# ---- prog found in PATH
srv 127.0.0.1 0 env || exit 1
like "$(get "$PORT")" '^PROTO=TCP$' "prog without a slash is searched in PATH"
stop_pid "$SPID"
