#!/bin/sh
# tcpsrv as a process: SIGTERM (stop accepting, let children finish), SIGHUP (harmless),
# clients that vanish, privilege drop (-u, -g, -U), bad command lines (100 with usage),
# addresses it cannot bind (111), -1 and stdout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tcpsrv-lib.sh"
plan 47

# the slow child runs until the test creates $T/release (at most 60 s), however slow the
# machine: the checks made while it runs cannot race its end
cat > "$T/slow" <<EOF
#!/bin/sh
echo started
i=0
while [ ! -e "$T/release" ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done
echo finished
EOF
chmod +x "$T/slow"

# ---- SIGTERM: the port closes at once, the running child finishes, then tcpsrv exits 0
: > "$T/log"
srv -v 127.0.0.1 0 "$T/slow" || exit 1
get "$PORT" > "$T/slowout" &
gpid=$!
wait_for 5 grep -q ' ok ' "$T/log"
kill -TERM "$SPID"
wait_for 10 sh -c "! ss -ltnH 'sport = :$PORT' | grep -q ."
is "$(ss -ltnH "sport = :$PORT")" "" "SIGTERM: the listening socket is closed at once"
like "$(get "$PORT")" '^ERROR' "SIGTERM: new connections are refused"
ok "SIGTERM: tcpsrv waits for its child" kill -0 "$SPID"
touch "$T/release"
wait $gpid
is "$(cat "$T/slowout")" "started
finished" "SIGTERM: the child was not interrupted, its client got everything"
wait "$SPID"; rc=$?
is "$rc" "0" "SIGTERM: tcpsrv exits 0 once the child has ended"
like "$(tail -2 "$T/log")" 'end [0-9]+ status 0' "the end of that child is logged"

# a second SIGTERM: exit at once, the children go on alone
: > "$T/log"; rm -f "$T/release"
srv -v 127.0.0.1 0 "$T/slow" || exit 1
get "$PORT" > "$T/slowout" &
gpid=$!
wait_for 5 grep -q ' ok ' "$T/log"
kid=$(sed -n 's/^tcpsrv: ok \([0-9]*\) .*/\1/p' "$T/log")
kill -TERM "$SPID"; sleep 0.3; kill -TERM "$SPID"
wait_for 10 sh -c "! kill -0 $SPID"
nok "a second SIGTERM: tcpsrv exits without waiting" kill -0 "$SPID"
ok "... and its child still runs" kill -0 "$kid"
touch "$T/release"
wait $gpid
is "$(cat "$T/slowout")" "started
finished" "... to its end"

# an idle server exits at once on SIGTERM and leaves no process behind
srv 127.0.0.1 0 true || exit 1
sleep 0.3
kill -TERM "$SPID"
wait_for 10 sh -c "! kill -0 $SPID"
nok "idle: SIGTERM ends tcpsrv" kill -0 "$SPID"
sleep 0.3
is "$(ps -eo ppid,args | awk -v p="$SPID" '$1 == p' | wc -l | tr -d ' ')" "0" "idle: no child left behind"

# ---- SIGHUP is harmless
srv 127.0.0.1 0 "$(envdump)" || exit 1
kill -HUP "$SPID"; sleep 0.3; kill -HUP "$SPID"; sleep 0.3
ok "SIGHUP: tcpsrv still runs" kill -0 "$SPID"
like "$(get "$PORT")" '^PROTO=TCP$' "SIGHUP: still serving"
stop_pid "$SPID"

# ---- a client that connects and vanishes; one that resets; the server goes on
: > "$T/log"
srv -v -B "banner
" 127.0.0.1 0 sh -c 'sleep 0.2; echo late' || exit 1
python3 - "$PORT" <<'EOF'
import socket, struct, sys, time
port = int(sys.argv[1])
for i in range(5):
    s = socket.create_connection(("127.0.0.1", port)); s.close()
for i in range(5):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
time.sleep(1)
EOF
wait_for 5 sh -c "[ \$(grep -c ' end ' '$T/log') -ge 10 ]"
is "$(grep -c ' end ' "$T/log")" "10" "10 vanished clients: 10 children ended"
ok "the server survives them" kill -0 "$SPID"
like "$(get "$PORT")" 'banner' "and serves the next client"
like "$(tail -1 "$T/log")" 'status: 0/40$' "no connection left counted"
stop_pid "$SPID"

# ---- out of descriptors: one warning, no busy loop, the server stays
start_bg sh -c "ulimit -n 5; exec '$B/tcpsrv' -1 127.0.0.1 0 true" >"$T/pfd" 2>"$T/logfd"
wait_for 5 test -s "$T/pfd"
get "$(cat "$T/pfd")" hold=1.5 timeout=2 >/dev/null
is "$(grep -c 'unable to accept: Too many open files' "$T/logfd")" "1" "out of descriptors: one warning, not one per try"
ok "... and tcpsrv is still there" kill -0 "$BGPID"
ticks=$(awk '{print $14 + $15}' "/proc/$BGPID/stat")
ok "... without spinning (used $ticks ticks of CPU)" test "$ticks" -lt 50
stop_pid "$BGPID"

# ---- privilege drop: seen from the child
nuid=$(id -u nobody); ngid=$(getent group nogroup | cut -d: -f3)
chmod 711 "$T"   # nobody must reach the programs in it
cat > "$T/ids" <<'EOF'
#!/bin/sh
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"
EOF
chmod +x "$T/ids"
srv -u "$nuid" -g "$ngid" 127.0.0.1 0 "$T/ids" || exit 1
is "$(get "$PORT")" "uid=$nuid gid=$ngid groups=$ngid" "-u nobody -g nogroup: the child runs as nobody:nogroup, no other group"
is "$(awk '/^Uid:/ {print $2}' "/proc/$SPID/status")" "$nuid" "the server itself runs as nobody after binding"
stop_pid "$SPID"
start_bg env UID="$nuid" GID="$ngid" "$B/tcpsrv" -1 -U 127.0.0.1 0 "$T/ids" >"$T/pU" 2>>"$T/log"
wait_for 5 test -s "$T/pU"
is "$(get "$(cat "$T/pU")")" "uid=$nuid gid=$ngid groups=$ngid" "-U takes \$UID and \$GID"
stop_pid "$BGPID"
# prog searched in PATH as the user it runs as: a copy only root may run, earlier in PATH,
# is passed over for one nobody may run, both ways
mkdir -p "$T/rootonly" "$T/anyone"
chmod 755 "$T/rootonly" "$T/anyone"
printf '#!/bin/sh\necho root-only\n' > "$T/rootonly/uprog"; chmod 700 "$T/rootonly/uprog"
printf '#!/bin/sh\necho anyone\n' > "$T/anyone/uprog"; chmod 755 "$T/anyone/uprog"
PATH="$T/rootonly:$T/anyone:$PATH" srv -u "$nuid" -g "$ngid" 127.0.0.1 0 uprog || exit 1
is "$(get "$PORT")" "anyone" "-u: prog found in PATH as the user it runs as"
stop_pid "$SPID"
PATH="$T/rootonly:$T/anyone:$PATH" TCPSRV_IDENTPORT=$(free_port) srv -r -u "$nuid" -g "$ngid" 127.0.0.1 0 uprog || exit 1
is "$(get "$PORT")" "anyone" "-u, the slow way (-r): the same"
stop_pid "$SPID"
is_rc 100 "-U without \$UID: exit 100" env -u UID GID=1 "$B/tcpsrv" -U 127.0.0.1 0 true
like "$(cat "$T/err")" 'tcpsrv: fatal: -U needs \$UID and \$GID' "... saying why"
is_rc 100 "-u with a name instead of a number: exit 100" "$B/tcpsrv" -u nobody 127.0.0.1 0 true
# a low port bound as root, then served as nobody
if ! ss -ltnH 'sport = :1023' | grep -q .; then
  start_bg "$B/tcpsrv" -1 -u "$nuid" -g "$ngid" 127.0.0.1 1023 "$T/ids" >"$T/plow" 2>>"$T/log"
  wait_for 5 test -s "$T/plow"
  is "$(get 1023)" "uid=$nuid gid=$ngid groups=$ngid" "port 1023 bound as root, served as nobody"
  stop_pid "$BGPID"
else
  skip 1 "port 1023 busy"
fi

# ---- bad command lines: 100 and the usage
usage='^tcpsrv: usage: tcpsrv \[ -1dDhHoOpPqQrRUvX \]'
is_rc 100 "no argument" "$B/tcpsrv"
like "$(cat "$T/err")" "$usage" "... prints the usage"
is_rc 100 "missing prog" "$B/tcpsrv" 127.0.0.1 0
is_rc 100 "an empty prog" "$B/tcpsrv" 127.0.0.1 0 ''
is_rc 100 "port 65536" "$B/tcpsrv" 127.0.0.1 65536 true
is_rc 100 "an unknown port name" "$B/tcpsrv" 127.0.0.1 no-such-service true
is "$(cat "$T/err")" "tcpsrv: fatal: unknown port: no-such-service: neither a number nor a tcp service in /etc/services" "... and says so"
is_rc 100 "-c with a bad number" "$B/tcpsrv" -c 4x 127.0.0.1 0 true
is_rc 100 "-t 0" "$B/tcpsrv" -t 0 127.0.0.1 0 true
is_rc 100 "-b with no number" "$B/tcpsrv" -b '' 127.0.0.1 0 true
is_rc 100 "an unknown option" "$B/tcpsrv" -Z 127.0.0.1 0 true
like "$(cat "$T/err")" "$usage" "... prints the usage"
is_rc 100 "a bad \$TCPSRV_IDENTPORT" env TCPSRV_IDENTPORT=abc "$B/tcpsrv" 127.0.0.1 0 true

# ---- what cannot be bound: 111
srv 127.0.0.1 0 true || exit 1
is_rc 111 "a port in use: exit 111" "$B/tcpsrv" 127.0.0.1 "$PORT" true
like "$(cat "$T/err")" "^tcpsrv: fatal: unable to bind to 127\.0\.0\.1 port $PORT: " "... saying what it could not do"
stop_pid "$SPID"
is_rc 111 "an address that is not ours: exit 111" "$B/tcpsrv" 192.0.2.1 0 true

# ---- -1: the port on stdout, then stdout is closed (a pipe reader is not kept waiting)
start_bg sh -c "'$B/tcpsrv' -1 127.0.0.1 0 true | { cat > '$T/p1'; echo eof > '$T/p1eof'; }"
wait_for 5 test -s "$T/p1eof"
like "$(cat "$T/p1")" '^[0-9]+$' "-1 prints the port alone"
ok "... and closes stdout so that the reader sees its end" test -s "$T/p1eof"
pkill -P "$BGPID" 2>/dev/null
stop_pid "$BGPID"
