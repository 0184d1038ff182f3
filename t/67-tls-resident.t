#!/bin/sh
# tls-wrap as a resident worker of tcpsrv -w: the certificates read once and watched, the
# program after it started once as tls-wrap's own resident worker (python's t/resident-env.py,
# smtpd) and handed each connection with its descriptors; nothing of one client (SNI, client
# certificate, TLS variables, buffers) reaching the next; a renewed certificate, a program
# that is no resident worker, a worker that dies mid-connection, a failed handshake.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
command -v openssl >/dev/null || skip_all "no openssl"
plan 56

smtpd_setup
tls_certs || { diag "openssl could not make the certificates"; exit 1; }
ENVW="$(cd "$(dirname "$0")" && pwd)/resident-env.py"
mkdir -p "$T/live/other.example.org"
cp "$C/other.pem" "$T/live/other.example.org/fullchain.pem"; cp "$C/other.key" "$T/live/other.example.org/privkey.pem"

readies() { grep -c 'worker [0-9]* ready' "$T/$1.log"; }
wpid() { sed -n 's/^tcpsrv: worker \([0-9]*\) ready$/\1/p' "$T/$1.log" | tail -1; }
ppid_of() { awk '{ sub(/^.*\) /, ""); print $2 }' "/proc/$1/stat" 2>/dev/null; }

# tlsc PORT MODE [SNI] [CLIENTCERT]: a TLS client (implicit, or starttls: "ready" in clear
# first) that prints what the server wrote and the serial of its certificate
tlsc() {
  "$PY" - "$@" "$C" <<'EOF2'
import socket, ssl, sys
port, mode, sni, cert, cdir = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
if mode == "starttls":
    f = s.makefile("rb")
    print("clear", f.readline().decode().strip())
ctx = ssl.create_default_context(cafile=cdir + "/ca.pem"); ctx.check_hostname = False
if cert != "-":
    ctx.load_cert_chain(cdir + "/" + cert + ".pem", cdir + "/" + cert + ".key")
t = ctx.wrap_socket(s, server_hostname=None if sni == "-" else sni)
print("serial %X" % int(t.getpeercert()["serialNumber"], 16))  # no leading zero: the test strips openssl's
data = b""
while True:
    b = t.recv(4096)
    if not b: break
    data += b
sys.stdout.write(data.decode())
EOF2
}

# ---- usage
is_rc 100 "tls-wrap with a RESIDENTFD that is no descriptor: exit 100" env RESIDENTFD=x "$B/tls-wrap" true
like "$(cat "$T/err")" 'RESIDENTFD' "... it names the variable"

# ---- implicit TLS: one tls-wrap and one resident program for client after client
# (the variables for tls-wrap set outside tcpsrv: a program between the two is no worker)
export CERTDIR="$T/live" CAFILE="$C/ca.pem"
rsrv env1 -w 1 -c 2 -- "$B/tls-wrap" -v "$PY" "$ENVW" || exit 1
unset CERTDIR CAFILE
tlsc $PORT implicit other.example.org mx > "$T/c1.out" 2>&1
tlsc $PORT implicit - - > "$T/c2.out" 2>&1
c1=$(cat "$T/c1.out"); c2=$(cat "$T/c2.out")
like "$c1" "serial $(tls_serial "$C/other.pem" | sed "s/^0*//")" "first client (SNI other.example.org): the certificate of \$CERTDIR/other.example.org"
like "$c1" 'SSL_TLS_SNI=other\.example\.org' "... the program sees the name it asked for"
like "$c1" 'SSL_CLIENT_VERIFY=SUCCESS' "... and its client certificate, verified"
like "$c1" 'SSL_CLIENT_S_DN=.*mx\.example\.org' "... with its subject"
like "$c1" 'SSL_PROTOCOL=TLSv1\.[23]' "... and the protocol"
like "$c1" 'extra=0' "implicit TLS: no descriptor but the cleartext socket"
like "$c2" "serial $(tls_serial "$C/mx.pem" | sed "s/^0*//")" "second client (no SNI): the default certificate"
unlike "$c2" 'SSL_TLS_SNI' "... no SSL_TLS_SNI left from the first client"
like "$c2" 'SSL_CLIENT_VERIFY=NONE' "... no client certificate: NONE"
unlike "$c2" 'SSL_CLIENT_S_DN' "... and no subject left from the first client"
p1=$(sed -n 's/^TCPREMOTEPORT=//p' "$T/c1.out"); p2=$(sed -n 's/^TCPREMOTEPORT=//p' "$T/c2.out")
ok "... its own TCPREMOTEPORT ($p1, then $p2)" test -n "$p1" -a -n "$p2" -a "$p1" != "$p2"
k1=$(sed -n 's/^pid=//p' "$T/c1.out"); k2=$(sed -n 's/^pid=//p' "$T/c2.out")
ok "the same resident program served both ($k1, $k2)" test -n "$k1" -a "$k1" = "$k2"
w=$(wpid env1)
is "$(readies env1)" 1 "tcpsrv started one worker"
is "$(ppid_of "$k1")" "$w" "... and the program is that tls-wrap's child: no process started per connection"
like "$(grep "^tcpsrv: end $w" "$T/env1.log" | head -1)" "status 1792\$" "the program's done 7 is the connection's status in tcpsrv's log"
is "$(grep -c '^tls success' "$T/env1.log")" 2 "tls-wrap -v logs each handshake"

# ---- a failed handshake: logged, and the worker goes on
printf 'EHLO x\r\n' > "$T/garbage"
raw $PORT "$T/garbage" > /dev/null 2>&1
wait_for 5 grep -q 'tls failure' "$T/env1.log"
like "$(grep 'tls failure' "$T/env1.log")" '^tls failure ip=127\.0\.0\.1 reason=' "a cleartext client on the TLS port: a failure, logged with its address"
tlsc $PORT implicit - - > "$T/c3.out" 2>&1
like "$(cat "$T/c3.out")" "pid=$k1" "the next client is served by the same program"
is "$(readies env1)" 1 "... and the same worker"
stop_pid "$SPID"

# ---- STARTTLS: the UCSPI-TLS descriptors come with the connection
rsrv env2 -w 1 -c 2 -- "$B/tls-wrap" -s "$PY" "$ENVW" || exit 1
tlsc $PORT starttls mx.example.org - > "$T/s1.out" 2>&1
tlsc $PORT starttls - - > "$T/s2.out" 2>&1
s1=$(cat "$T/s1.out"); s2=$(cat "$T/s2.out")
like "$s1" 'clear ready' "STARTTLS: the program speaks in clear first"
like "$s1" 'SSLCTLFD=3' "... it has SSLCTLFD=3"
like "$s1" 'SSLREADFD=4' "... SSLREADFD=4"
like "$s1" 'extra=2' "... and the two descriptors with the connection"
like "$s1" 'SSL_TLS_SNI=mx\.example\.org' "after its 'Y', the handshake: tls-wrap's answer names the server name"
unlike "$s2" 'SSL_TLS_SNI' "the next client did not ask for a name: none"
like "$s2" 'extra=2' "... it has descriptors of its own"
ok "the same resident program served both" test "$(sed -n 's/^pid=//p' "$T/s1.out")" = "$(sed -n 's/^pid=//p' "$T/s2.out")"
stop_pid "$SPID"

# ---- smtpd behind a resident tls-wrap -s: TLS, then a client in clear on the same worker
rsrv smtp -w 1 -c 2 -- "$B/tls-wrap" -s "$B/smtpd" || exit 1
qq_clear
swaks --tls --tls-verify --tls-ca-path "$C/ca.pem" --tls-sni mx.example.org -s 127.0.0.1 -p $PORT -t rcpt@example.org -f s@example.net \
  --body 'over STARTTLS' > "$T/swaks.out" 2>&1
is "$?" 0 "swaks --tls through resident tls-wrap -s and smtpd: message sent"
like "$(sed -n 2p "$(qq_last)/msg")" '^	\(using TLSv1\.[23] with cipher [A-Z0-9_-]+\)$' "Received: says TLS"
qq_clear
printf 'EHLO x\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nSubject: clear\r\n\r\nx\r\n.\r\nQUIT\r\n' > "$T/clear"
out=$(raw $PORT "$T/clear")
like "$out" '250-STARTTLS' "the next client, in clear: STARTTLS offered again"
unlike "$(sed -n 1,3p "$(qq_last)/msg")" 'using TLS|ESMTPS' "... its message's Received: says no TLS: nothing left of the first client's"
# the STARTTLS injection through the descriptors that came with the connection
"$PY" - $PORT > "$T/inj.out" 2>&1 <<'EOF2'
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb"); f.readline()
s.sendall(b"EHLO x\r\n")
while f.readline()[3:4] != b" ": pass
s.sendall(b"STARTTLS\r\nMAIL FROM:<evil@example.net>\r\n")
print("starttls", f.readline().decode().strip()[:3])
t = ssl._create_unverified_context().wrap_socket(s, server_hostname="mx.example.org")
g = t.makefile("rb")
t.sendall(b"RCPT TO:<b@example.org>\r\n")
print("rcpt", g.readline().decode().strip())
t.sendall(b"QUIT\r\n"); g.readline()
EOF2
like "$(cat "$T/inj.out")" 'rcpt 503 ' "STARTTLS injection: the MAIL sent with STARTTLS was thrown away"
is "$(readies smtp)" 1 "three clients, one worker"
w=$(wpid smtp)
kid=$(pgrep -P "$w")
is "$(echo $kid | wc -w)" 1 "the worker has one child: its resident smtpd"

# ---- the resident program dies mid-connection: the connection ends, tcpsrv starts another worker
"$PY" - $PORT "$kid" > "$T/die.out" 2>&1 <<'EOF2'
import os, signal, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb"); print("greeting", f.readline().decode()[:3])
os.kill(int(sys.argv[2]), signal.SIGKILL)
print("closed", f.readline() == b"")
EOF2
is "$(cat "$T/die.out" | tr '\n' ' ')" "greeting 220 closed True " "smtpd killed mid-session: the client sees the end"
wait_for 5 grep -q 'resident prog ended during a connection' "$T/smtp.log"
like "$(cat "$T/smtp.log")" 'tls-wrap: fatal: the resident prog ended during a connection' "tls-wrap says so and exits"
like "$(raw $PORT "$T/ehlo2" 2>/dev/null; printf 'EHLO x\r\nQUIT\r\n' > "$T/ehlo2"; raw $PORT "$T/ehlo2")" '250-STARTTLS' "the next client is served"
wait_for 5 test "$(readies smtp)" = 2
is "$(readies smtp)" 2 "... by a new worker"
stop_pid "$SPID"

# ---- a program that is no resident worker: tls-wrap stays resident, the program runs per connection
rsrv fb -w 1 -c 2 -- "$B/tls-wrap" sh -c 'echo "pid=$$ ${SSL_TLS_SNI:-nosni}"' || exit 1
tlsc $PORT implicit mx.example.org - > "$T/f1.out" 2>&1
tlsc $PORT implicit - - > "$T/f2.out" 2>&1
like "$(cat "$T/fb.log")" 'tls-wrap: warning: sh is no resident worker: running it once per connection' "tls-wrap says the program is no resident worker"
like "$(cat "$T/f1.out")" 'pid=[0-9]+ mx\.example\.org' "the program runs for the first client, with its SNI"
like "$(cat "$T/f2.out")" 'pid=[0-9]+ nosni' "... and for the second, without"
ok "... a process of its own each time" test "$(sed -n 's/^pid=\([0-9]*\).*/\1/p' "$T/f1.out")" != "$(sed -n 's/^pid=\([0-9]*\).*/\1/p' "$T/f2.out")"
is "$(readies fb)" 1 "... under one resident tls-wrap"
stop_pid "$SPID"

# ---- a renewed certificate: read again by the worker, which keeps running
cp "$C/mx.pem" "$T/live.pem"; cp "$C/mx.key" "$T/live.key"
CERTFILE=$T/live.pem KEYFILE=$T/live.key
rsrv renew -w 1 -c 2 -- "$B/tls-wrap" "$PY" "$ENVW" || exit 1
is "$(peer_serial $PORT)" "$(tls_serial "$C/mx.pem")" "the worker shows its certificate"
tls_cert renewed mx.example.org
cp "$C/renewed.key" "$T/live.key.new"; cp "$C/renewed.pem" "$T/live.pem.new"
mv "$T/live.key.new" "$T/live.key"; mv "$T/live.pem.new" "$T/live.pem"
is "$(peer_serial $PORT)" "$(tls_serial "$C/renewed.pem")" "after renewal the next connection gets the new certificate"
is "$(readies renew)" 1 "... from the same worker"
stop_pid "$SPID"

# ---- ... and one only root may read, after the worker's privilege drop: its key reader
#      (a process that kept root, for that alone) opens the new files for it
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  mkdir -p "$T/priv"; chmod 755 "$T/priv" "$T"
  cp "$C/mx.pem" "$T/priv/c.pem"; cp "$C/mx.key" "$T/priv/k.pem"; chmod 600 "$T/priv/k.pem"
  CERTFILE=$T/priv/c.pem KEYFILE=$T/priv/k.pem
  rsrv drop -w 1 -c 2 -- "$B/tls-wrap" -u "$(id -u nobody)" -g "$(id -g nobody)" "$PY" "$ENVW" || exit 1
  is "$(peer_serial $PORT)" "$(tls_serial "$C/mx.pem")" "-u nobody: the key read as root at the worker's start"
  w=$(wpid drop)
  is "$(awk '/^Uid:/ { print $2 }' "/proc/$w/status")" "$(id -u nobody)" "the worker runs as nobody"
  nok "... and cannot read the key itself" setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups cat "$T/priv/k.pem"
  cp "$C/renewed.key" "$T/priv/k.new"; chmod 600 "$T/priv/k.new"; cp "$C/renewed.pem" "$T/priv/c.new"
  mv "$T/priv/k.new" "$T/priv/k.pem"; mv "$T/priv/c.new" "$T/priv/c.pem"
  is "$(peer_serial $PORT)" "$(tls_serial "$C/renewed.pem")" "renewed: the next connection gets the new certificate"
  is "$(readies drop)" 1 "... from the same worker"
  # a key that cannot be read again: the certificate in memory serves that connection, then
  # the worker ends (a new one reads the files at its start; here, none could)
  mv "$T/priv/k.pem" "$T/priv/k.gone"
  s=$(peer_serial $PORT)
  wait_for 5 grep -q 'cannot be read again' "$T/drop.log"
  like "$(cat "$T/drop.log")" 'tls-wrap: warning: certificate .*k\.pem changed and cannot be read again \(.*\): this worker ends after the connection' "a key gone: the worker says so"
  is "$s" "$(tls_serial "$C/renewed.pem")" "... serves that connection with the certificate it has"
  wait_for 5 grep -q "^tcpsrv: worker $w exit" "$T/drop.log"
  ok "... and ends after it" grep -q "^tcpsrv: worker $w exit status 1792" "$T/drop.log"
  mv "$T/priv/k.gone" "$T/priv/k.pem"
  stop_pid "$SPID"
else
  for i in 1 2 3 4 5 6 7 8; do ok "# SKIP not root" true; done
fi
