# t/dkim-lib.sh: sourced by the sender authentication tests (t/33-t/37) after t/lib.sh.
#   DT ARGS                   t/dkimtool.py (python's dkim module): dnsmasq, verify, sign, edkey
#   dns_start CONF            dnsmasq on a free loopback port with the txt-record= (and other)
#                             lines of the file CONF, nothing else (no resolv.conf, no hosts);
#                             exports DNSCACHEIP=127.0.0.1:PORT
#   silent_dns                a UDP socket on loopback that never answers; its address in $SILENT
#   env_of SENDER RCPT...     an envelope on stdout
#   filt TOOL MSG OUT [VAR=value...]   run TOOL (dkim-sign, auth-results) on MSG with the envelope
#                             $T/env, handed on to a capturing queue program: the message in
#                             $T/OUT.msg, the envelope in $T/OUT.env; exit code in $RC, stderr in
#                             $T/err
DT="$PY $TOP/t/dkimtool.py"
cat > "$T/cap" <<'EOF2'
#!/bin/sh
# a qmail-queue program that keeps the message and the envelope
cat > "$CAP.msg" && cat <&1 > "$CAP.env"
EOF2
chmod +x "$T/cap"

dns_start() {
  _p=$(free_port udp)
  start_bg dnsmasq -k -C "$1" --pid-file= --port="$_p" --listen-address=127.0.0.1 --bind-interfaces \
    --no-resolv --no-hosts --local=/test/ 2>"$T/dnsmasq.err"
  wait_listen "$_p" udp || diag "$(cat "$T/dnsmasq.err")"
  DNSCACHEIP=127.0.0.1:$_p
  export DNSCACHEIP
}

silent_dns() {
  _p=$(free_port udp)
  start_bg "$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1])))
while True: s.recvfrom(4096)' "$_p"
  wait_listen "$_p" udp
  SILENT=127.0.0.1:$_p
}

env_of() { printf 'F%s\0' "$1"; shift; for _r in "$@"; do printf 'T%s\0' "$_r"; done; printf '\0'; }

filt() {
  _tool=$1 _m=$2 _o=$3; shift 3
  rm -f "$T/$_o.msg" "$T/$_o.env"
  env CAP="$T/$_o" NEXTQUEUE="$T/cap" "$@" "$B/$_tool" < "$_m" 1< "$T/env" 2> "$T/err"
  RC=$?
}
#   qmsg FILE                 the message of a queue file (after its header and envelope)
#   qsend SOCK MODE [VARS]    t/qinj.py: a message for bob@example.org from joe@example.com
#                             ($T/m) over a queue-injectd-protocol socket; MODE: whole, drop
#                             (closes mid-message), hold (stops mid-message until $T/go
#                             exists, then commits); prints the answer
qmsg() {
  "$PY" -c 'import sys
d = open(sys.argv[1], "rb").read()
h, _, rest = d.partition(b"\n\n")
n = int([l for l in h.split(b"\n") if l.startswith(b"envelope ")][0].split()[1])
sys.stdout.buffer.write(rest[n:])' "$1"
}
qsend() { T=$T "$PY" "$TOP/t/qinj.py" "$@"; }
