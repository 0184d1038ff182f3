# t/smtpd-lib.sh: sourced by the smtpd tests (t/6x-*.t) after t/lib.sh.
#   smtpd_setup               an instance root in $T/sluice (control/me, rcpthosts) and a
#                             capturing $QMAILQUEUE ($T/qq, messages kept under $QQ)
#   smtpd_start NAME [VAR=value...] [-- smtpd args...]
#                             serve smtpd on a loopback port through the TCP server ("$B/tcpsrv"
#                             when it exists, else Debian's /usr/bin/tcpserver); $PORT; smtpd's
#                             log in $T/NAME.log
#   rsrv NAME TCPSRV-OPTS... -- PROG...
#                             tcpsrv -v -H -R -P (resident tests: -w ...) on a loopback port;
#                             its log in $T/NAME.log, its pid in $SPID, its port in $PORT
#   $PY                       python3 to run
#   raw PORT FILE             connect, read the greeting, send FILE's bytes, print every byte
#                             the server sends until it closes (5 s at most)
#   qq_count; qq_last         messages queued; the directory of the only one (msg, env)
#   qq_mode MODE              what the capturing queue does next: an exit code, "crash",
#                             "noread" (exit 0 without reading), "hang" (without reading),
#                             "stubborn" (hang, ignoring SIGTERM), "readhang" (hang after
#                             reading message and envelope); its pid in $QQ/pid
# The capturing queue program stands in for queue-inject, which another branch writes: it keeps
# the message (fd 0) and the envelope (fd 1) byte for byte, so the tests can compare them.

# Debian's python3 starts fast; a python3 found first in PATH may be a slow wrapper
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

tcp_server() {
  if [ -x "$B/tcpsrv" ]; then echo "$B/tcpsrv"; else echo /usr/bin/tcpserver; fi
}

smtpd_setup() {
  SLUICEDIR=$T/sluice; export SLUICEDIR
  mkdir -p "$SLUICEDIR/control"
  echo mx.example.org > "$SLUICEDIR/control/me"
  printf 'example.org\n.sub.example.net\n' > "$SLUICEDIR/control/rcpthosts"
  QQ=$T/queue; export QQ
  mkdir -p "$QQ"
  cat > "$T/qq" <<'EOF'
#!/bin/sh
# capturing qmail-queue: keeps message and envelope byte for byte; exits as $QQ/mode says
mode=$(cat "$QQ/mode" 2>/dev/null || echo 0)
echo $$ > "$QQ/pid"
case $mode in
  noread) exit 0 ;;
  crash) kill -9 $$ ;;
  hang) exec sleep 30 ;;
  stubborn) trap '' TERM; exec sleep 30 ;;
esac
d=$QQ/msg.$$
mkdir "$d.tmp" || exit 53
cat > "$d.tmp/msg" || exit 54
cat <&1 > "$d.tmp/env" || exit 54
[ "$mode" = readhang ] && exec sleep 30
[ "$mode" = 0 ] || exit "$mode"
mv "$d.tmp" "$d" || exit 53
exit 0
EOF
  chmod +x "$T/qq"
  QMAILQUEUE=$T/qq; export QMAILQUEUE
}

_smtpd_n=0
_quote() { printf "'%s'" "$(printf %s "$1" | sed "s/'/'\\\\''/g")"; }
smtpd_start() {
  _name=$1; shift
  _n=$((_smtpd_n+1)); _smtpd_n=$_n
  _envs=""
  while [ $# -gt 0 ]; do
    case $1 in --) shift; break ;; *=*) _envs="$_envs $(_quote "$1")"; shift ;; *) break ;; esac
  done
  eval "start_bg env $_envs \"\$(tcp_server)\" -1 -H -R -P 127.0.0.1 0 \"\$B/smtpd\" \"\$@\"" \
    > "$T/port.$_n" 2> "$T/$_name.log"
  wait_for 5 test -s "$T/port.$_n" || { diag "the TCP server did not start"; return 1; }
  PORT=$(head -1 "$T/port.$_n")
}

raw() {
  "$PY" - "$1" "$2" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
out = b""
try:
    while b"\n" not in out:
        b = s.recv(4096)
        if not b: break
        out += b
    s.sendall(open(sys.argv[2], "rb").read())
    while True:
        b = s.recv(65536)
        if not b: break
        out += b
except (socket.timeout, ConnectionResetError, BrokenPipeError):
    pass
sys.stdout.write(out.decode("latin-1").replace("\r\n", "\n"))
EOF
}

qq_count() { ls -d "$QQ"/msg.*[0-9] 2>/dev/null | wc -l; }
qq_last() { ls -d "$QQ"/msg.*[0-9] 2>/dev/null | tail -1; }
qq_clear() { rm -rf "$QQ"/msg.*; }
qq_mode() { echo "$1" > "$QQ/mode"; }

_rn=0
rsrv() {
  _name=$1; shift
  _rn=$((_rn+1))
  _o=""
  while [ $# -gt 0 ] && [ "$1" != -- ]; do _o="$_o $1"; shift; done
  shift
  start_bg "$B/tcpsrv" -1 -v -H -R -P $_o 127.0.0.1 0 "$@" > "$T/rport.$_rn" 2> "$T/$_name.log"
  SPID=$BGPID
  wait_for 5 test -s "$T/rport.$_rn" || { diag "tcpsrv did not start"; return 1; }
  PORT=$(head -1 "$T/rport.$_rn")
}
