#!/bin/sh
# tcpsrv -h, -p, -r, -t: names from a real DNS server on loopback (dnsmasq, never forwarding;
# DNSCACHEIP points at it) and ident (RFC 1413) from a small python server whose port
# TCPSRV_IDENTPORT gives (the real port, 113, is not ours to take here). Nothing is looked up
# unless asked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tcpsrv-lib.sh"
command -v dnsmasq >/dev/null || skip_all "dnsmasq not installed"
plan 31

DP=$(free_port udp)
six=1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa
start_bg dnsmasq -k -C /dev/null --pid-file= --port="$DP" --listen-address=127.0.0.1 --bind-interfaces \
  --no-resolv --no-hosts --local=/example/ --local=/0.0.127.in-addr.arpa/ --local=/ip6.arpa/ \
  --ptr-record=1.0.0.127.in-addr.arpa,client.example \
  --ptr-record=3.0.0.127.in-addr.arpa,liar.example \
  --ptr-record=4.0.0.127.in-addr.arpa,Mixed.Case.Example \
  --ptr-record=$six,six.example \
  --address=/client.example/127.0.0.1 --address=/liar.example/10.9.9.9 \
  --address=/mixed.case.example/127.0.0.4 --address=/six.example/::1 2>"$T/dnsmasq.err"
wait_listen "$DP" udp || diag "$(cat "$T/dnsmasq.err")"
export DNSCACHEIP=127.0.0.1:$DP

printf '=client.example:allow,X_BY="host"\n=.case.example:allow,X_BY="domain"\nalice@127.0.0.1:allow,X_BY="info"\n:allow,X_BY="default"\n' |
  "$B/tcprules" "$T/r.cdb" "$T/r.tmp"

# ---- -h: TCPREMOTEHOST and TCPLOCALHOST from PTR records; =host rules apply
: > "$T/log"
srv -v -h -x "$T/r.cdb" 127.0.0.1 0 "$(envdump)" || exit 1
out=$(get "$PORT")
like "$out" '^TCPREMOTEHOST=client\.example$' "-h: TCPREMOTEHOST from the PTR record"
like "$out" '^TCPLOCALHOST=client\.example$' "-h without -l: TCPLOCALHOST from the PTR record of the local address"
like "$out" '^X_BY=host$' "-h: a =host rule matches"
out=$(get "$PORT" src=127.0.0.2)
unlike "$out" '^TCPREMOTEHOST=' "-h, no PTR record: TCPREMOTEHOST unset"
like "$out" '^X_BY=default$' "... and no =host rule"
out=$(get "$PORT" src=127.0.0.4)
like "$out" '^TCPREMOTEHOST=mixed\.case\.example$' "names come lower case"
like "$out" '^X_BY=domain$' "a =.domain rule matches"
like "$(get "$PORT" src=127.0.0.3)" '^TCPREMOTEHOST=liar\.example$' "-h without -p: a name that does not resolve back is kept"
logwait "ok [0-9]+ client\.example:127\.0\.0\.1:$PORT client\.example:127\.0\.0\.1::[0-9]+\$"
like "$(cat "$T/log")" "tcpsrv: ok [0-9]+ client\.example:127\.0\.0\.1:$PORT client\.example:127\.0\.0\.1::[0-9]+\$" "-v: the names in the ok line"
like "$(cat "$T/log")" 'tcpsrv: pid [0-9]+ from 127\.0\.0\.1' "-v: the pid line before the lookups"
stop_pid "$SPID"

# -l wins over the lookup for TCPLOCALHOST
srv -h -l given.example 127.0.0.1 0 "$(envdump)" || exit 1
out=$(get "$PORT")
like "$out" '^TCPLOCALHOST=given\.example$' "-h -l: TCPLOCALHOST from -l"
like "$out" '^TCPREMOTEHOST=client\.example$' "... TCPREMOTEHOST still looked up"
stop_pid "$SPID"

# ---- -p: the name must resolve back to the client
srv -p -x "$T/r.cdb" 127.0.0.1 0 "$(envdump)" || exit 1
like "$(get "$PORT")" '^TCPREMOTEHOST=client\.example$' "-p: a name that resolves back is kept"
out=$(get "$PORT" src=127.0.0.3)
unlike "$out" '^TCPREMOTEHOST=' "-p: a name that does not resolve back is removed"
stop_pid "$SPID"

# ---- no -h (the default), or -H after -h: nothing asked
srv -x "$T/r.cdb" 127.0.0.1 0 "$(envdump)" || exit 1
out=$(get "$PORT")
unlike "$out" '^TCP(REMOTE|LOCAL)HOST=' "default: no name looked up"
like "$out" '^X_BY=default$' "default: =host rules cannot match"
stop_pid "$SPID"
srv -h -H 127.0.0.1 0 "$(envdump)" || exit 1
unlike "$(get "$PORT")" '^TCPREMOTEHOST=' "-h -H: the last one wins, no lookup"
stop_pid "$SPID"

# ---- IPv6 names
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
  srv -p ::1 0 "$(envdump)" || exit 1
  like "$(get "$PORT" host=::1)" '^TCPREMOTEHOST=six\.example$' "IPv6: PTR in ip6.arpa, checked back with AAAA (-p)"
  stop_pid "$SPID"
else
  skip 1 "no IPv6 on loopback"
fi

# ---- -t: a DNS server that never answers costs the deadline, not more
QP=$(free_port udp)
start_bg python3 -c 'import socket,sys,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",int(sys.argv[1])))
while True: s.recvfrom(4096)' "$QP"
qpid=$BGPID
wait_listen "$QP" udp
export DNSCACHEIP=127.0.0.1:$QP
srv -h -t 1 127.0.0.1 0 "$(envdump)" || exit 1
export DNSCACHEIP=127.0.0.1:$DP
t0=$(date +%s.%N)
out=$(get "$PORT")
t1=$(date +%s.%N)
like "$out" '^PROTO=TCP$' "-h -t 1, a silent DNS server: still served"
unlike "$out" '^TCPREMOTEHOST=' "... without a name"
ok "... after about the deadline (1 s; less than 8 s)" awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 0.9 && b - a < 8) }'
stop_pid "$SPID"; stop_pid "$qpid"

# ---- -r: ident
IP=$(free_port)
cat > "$T/identd.py" <<'EOF'
import socket, sys, threading
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(16)
def serve(c):
    q = c.recv(1000).decode()
    open(sys.argv[3], "a").write(q.strip() + "\n")
    if mode == "silent":
        threading.Event().wait(30); return
    ports = q.strip()
    user = {"alice": "alice", "odd": "b\x01b:c d"}.get(mode)
    c.sendall(("%s : USERID : UNIX : %s\r\n" % (ports, user)).encode("latin-1") if user else ("%s : ERROR : NO-USER\r\n" % ports).encode())
    c.close()
while True:
    c, a = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
identd() { start_bg python3 "$T/identd.py" "$IP" "$1" "$T/identq"; ipid=$BGPID; wait_listen "$IP"; }
export TCPSRV_IDENTPORT=$IP

identd alice
: > "$T/log"; : > "$T/identq"
srv -v -r -x "$T/r.cdb" 127.0.0.1 0 "$(envdump)" || exit 1
out=$(get "$PORT")
like "$out" '^TCPREMOTEINFO=alice$' "-r: TCPREMOTEINFO from the ident server"
like "$out" '^X_BY=info$' "an info@ip rule matches"
rport=$(echo "$out" | sed -n 's/^TCPREMOTEPORT=//p')
is "$(cat "$T/identq")" "$rport , $PORT" "the query names the client's port, then ours (RFC 1413)"
logwait ' ok '
like "$(grep ' ok ' "$T/log")" ":127\.0\.0\.1:alice:$rport\$" "-v: the info in the ok line"
stop_pid "$SPID"; stop_pid "$ipid"

identd odd
: > "$T/log"
srv -v -r 127.0.0.1 0 "$(envdump)" || exit 1
like "$(get "$PORT")" '^TCPREMOTEINFO=b\?b:c d$' "control bytes of an ident answer become '?' in TCPREMOTEINFO"
logwait ' ok '
like "$(grep ' ok ' "$T/log")" ':127\.0\.0\.1:b\?b\?c\?d:[0-9]+$' "... and ':' and ' ' too in the log"
stop_pid "$SPID"; stop_pid "$ipid"

identd silent
srv -r -t 1 127.0.0.1 0 "$(envdump)" || exit 1
t0=$(date +%s.%N); out=$(get "$PORT"); t1=$(date +%s.%N)
unlike "$out" '^TCPREMOTEINFO=' "-r -t 1, an ident server that never answers: no TCPREMOTEINFO"
ok "... after about the deadline" awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 0.9 && b - a < 8) }'
stop_pid "$SPID"; stop_pid "$ipid"

# without -r nothing asks the ident port (a fresh server on a fresh port, an empty record)
IP=$(free_port); export TCPSRV_IDENTPORT=$IP
: > "$T/identq"
identd alice
srv 127.0.0.1 0 "$(envdump)" || exit 1
unlike "$(get "$PORT")" '^TCPREMOTEINFO=' "default: no ident query"
stop_pid "$SPID"
is "$(cat "$T/identq")" "" "... the ident server heard nothing"
