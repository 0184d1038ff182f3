# t/tcpsrv-lib.sh: helpers for the tcpsrv tests (t/20-* to t/29-*), sourced after lib.sh.
#   srv ARGS...        start "$B/tcpsrv" -1 ARGS (host and port 0 included), stderr in $T/log;
#                      sets PORT and SPID (killed on exit); fails when it does not listen
#   srv_classic ARGS.. the same with Debian's /usr/bin/tcpserver, stderr in $T/clog
#   get PORT [OPTS]    connect, read to EOF, print what came (python); OPTS: src=IP,
#                      host=IP (default 127.0.0.1), send=TEXT, hold=SECS (stay connected)
#   envdump            path of a prog that prints the UCSPI-ish variables, sorted
#   burst PORT SRC:COUNT...  open every connection at once (from SRC), read each to EOF;
#                      one line per connection, sorted: "SRC NUM" (NUM: the TCPCONNNUM
#                      prog printed as TCPCONNNUM=NUM) or "SRC refused"; to 127.0.0.1,
#                      or ::1 from an IPv6 SRC
#   logwait RE [SECS]  until $T/log has a line matching RE
#   kids PID           how many children PID has now

# The prog most tests run: the variables it was given, one per line, sorted.
cat > "$T/envdump" <<'EOF'
#!/bin/sh
env | grep -E '^(PROTO|TCP[A-Z]*|MAXCONNIP|X_[A-Z0-9_]*)=' | LC_ALL=C sort
EOF
chmod +x "$T/envdump"
envdump() { echo "$T/envdump"; }

_srv_n=0
# _start LOG BIN ARGS...
_start() {
  _log=$1; shift
  _srv_n=$((_srv_n+1))
  start_bg "$@" >"$T/port.$_srv_n" 2>>"$_log"
  SPID=$BGPID
  _i=0
  while [ $_i -lt 100 ] && ! [ -s "$T/port.$_srv_n" ]; do
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.05; _i=$((_i+1))
  done
  PORT=$(cat "$T/port.$_srv_n")
  [ -n "$PORT" ] || { diag "server did not start: $*" "$(tail -3 "$_log")"; return 1; }
  return 0
}
srv() { _start "$T/log" "$B/tcpsrv" -1 "$@"; }
srv_classic() { _start "$T/clog" /usr/bin/tcpserver -1 "$@"; }

get() {
  python3 - "$@" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
o = dict(a.split("=", 1) for a in sys.argv[2:])
host = o.get("host", "127.0.0.1")
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(float(o.get("timeout", "10")))
if "src" in o:
    s.bind((o["src"], 0))
try:
    s.connect((host, port))
    if "send" in o:
        s.sendall(o["send"].encode())
    if "hold" in o:
        time.sleep(float(o["hold"]))
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    sys.stdout.write(data.decode("latin-1"))
except Exception as e:
    sys.stdout.write("ERROR %s\n" % e)
EOF
}

burst() {
  python3 - "$@" <<'EOF'
import socket, sys, threading
port = int(sys.argv[1]); res = []; lock = threading.Lock(); socks = []
for spec in sys.argv[2:]:
    src, n = spec.rsplit(":", 1)
    for _ in range(int(n)):
        v6 = ":" in src
        s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
        s.settimeout(30); s.bind((src, 0)); s.connect(("::1" if v6 else "127.0.0.1", port))
        socks.append((src, s))
def rd(src, s):
    d = b""
    while True:
        b = s.recv(4096)
        if not b: break
        d += b
    t = d.decode().strip()
    with lock: res.append("%s %s" % (src, t.split("=", 1)[1] if t.startswith("TCPCONNNUM=") else "refused"))
ts = [threading.Thread(target=rd, args=x) for x in socks]
[t.start() for t in ts]; [t.join() for t in ts]
print("\n".join(sorted(res)))
EOF
}
logwait() { wait_for "${2:-5}" grep -Eq -- "$1" "$T/log"; }
kids() { pgrep -c -P "$1" 2>/dev/null || echo 0; }
