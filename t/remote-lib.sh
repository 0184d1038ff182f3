# t/remote-lib.sh: sourced by the remote-deliver tests (t/6[5-8]-remote-*.t) after t/lib.sh.
#   $L                        the sending instance's root ($T/local): control/me is
#                             client.example; timeouts short (timeoutconnect 2, timeoutremote 3)
#   $PY                       python3 to run (the interpreter itself: start_bg needs its pid)
#   mx_start NAME ADDR PORT   a second sluice instance as the remote MX: tcpsrv + smtpd from
#                             $B on ADDR:PORT (PORT 0: any; the port in $PORT), its own
#                             SLUICEDIR $T/NAME (control/me NAME, rcpthosts example.org,
#                             example.net, *.test, *.example), and a capturing queue program that
#                             keeps each message and envelope byte for byte in $T/NAME/q/N.msg and
#                             N.env; smtpd's log in $T/NAME.log
#   fake_start NAME KEY=VALUE...
#                             t/fakesmtp.py (see there), log in $T/NAME.log; port in $PORT
#   rd FILE [OFFSET] -- ARGS  run remote-deliver with SLUICEDIR=$L and FILE on fd 0 positioned
#                             at OFFSET (default 0); stdout in $T/out, stderr in $T/err, exit code
#                             in $RC
#   got NAME N                the body of NAME's N-th captured message, without the three lines
#                             of smtpd's Received: header
#   v6ok                      whether ::1 is usable

PY=$(/usr/bin/python3 -c 'import sys; print(sys.executable)' 2>/dev/null || python3 -c 'import sys; print(sys.executable)')
L=$T/local
mkdir -p "$L/control"
echo client.example > "$L/control/me"
echo 2 > "$L/control/timeoutconnect"
echo 3 > "$L/control/timeoutremote"

cat > "$T/capture" <<'EOF'
#!/bin/sh
# capturing qmail-queue: message (fd 0) and envelope (fd 1) byte for byte, in $CAPTURE/N.*
n=1; while ! mkdir "$CAPTURE/$n.lock" 2>/dev/null; do n=$((n+1)); done
cat > "$CAPTURE/$n.tmp" || exit 54
cat <&1 > "$CAPTURE/$n.env" || exit 54
mv "$CAPTURE/$n.tmp" "$CAPTURE/$n.msg" || exit 53
exit 0
EOF
chmod +x "$T/capture"

mx_start() {
  _name=$1; _addr=$2; _port=$3
  mkdir -p "$T/$_name/control" "$T/$_name/q"
  echo "$_name" > "$T/$_name/control/me"
  printf 'example.org\nexample.net\n.test\n.example\n' > "$T/$_name/control/rcpthosts"
  start_bg env SLUICEDIR="$T/$_name" QMAILQUEUE="$T/capture" CAPTURE="$T/$_name/q" \
    "$B/tcpsrv" -1 -H -R -P "$_addr" "$_port" "$B/smtpd" > "$T/$_name.port" 2> "$T/$_name.log"
  wait_for 5 test -s "$T/$_name.port" || { diag "tcpsrv did not start: $(cat "$T/$_name.log")"; return 1; }
  PORT=$(head -1 "$T/$_name.port")
}

fake_start() {
  _name=$1; shift
  start_bg "$PY" "$TOP/t/fakesmtp.py" log="$T/$_name.log" "$@" > "$T/$_name.port" 2> "$T/$_name.err"
  wait_for 5 test -s "$T/$_name.port" || { diag "fakesmtp did not start: $(cat "$T/$_name.err")"; return 1; }
  PORT=$(head -1 "$T/$_name.port")
}

rd() {
  _f=$1; shift
  _off=0
  if [ "$1" != -- ]; then _off=$1; shift; fi
  shift
  {
    [ "$_off" = 0 ] || "$PY" -c 'import os, sys; os.lseek(0, int(sys.argv[1]), 0)' "$_off"
    SLUICEDIR=$L "$B/remote-deliver" "$@"
  } < "$_f" > "$T/out" 2> "$T/err"
  RC=$?
}

got() { tail -n +4 "$T/$1/q/$2.msg"; }

v6ok() { ip -6 addr show lo 2>/dev/null | grep -q '::1'; }
