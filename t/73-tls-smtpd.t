#!/bin/sh
# tls-wrap in front of smtpd: STARTTLS (tls-wrap -s, UCSPI-TLS) and implicit TLS (port 465),
# with real clients (swaks --tls, openssl s_client -starttls smtp, python's smtplib, curl
# smtps://) against certificates made here; the STARTTLS injection (CVE-2011-0411), AUTH only
# over TLS, the handshake deadline, a renewed certificate without a restart, SNI, the
# privilege drop, and tls-wrap's bad usage.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
command -v openssl >/dev/null || skip_all "no openssl"
plan 59

smtpd_setup
tls_certs || { diag "openssl could not make the certificates"; exit 1; }
cat > "$T/cp" <<'EOF2'
#!/usr/bin/python3
import os, sys
d = os.read(3, 600).split(b"\0")
sys.exit(0 if d[0] == b"user" and d[1] == b"secret" else 1)
EOF2
chmod +x "$T/cp"

# ---- usage
is_rc 100 "tls-wrap without a program: usage, exit 100" "$B/tls-wrap" -s
like "$(cat "$T/err")" "usage: tls-wrap" "the usage is printed"
is_rc 100 "tls-wrap without CERTFILE: exit 100" env -u CERTFILE "$B/tls-wrap" true
like "$(cat "$T/err")" 'fatal: .*CERTFILE and .*KEYFILE' "it names the missing variables"
is_rc 100 "tls-wrap -t 0: usage, exit 100" "$B/tls-wrap" -t 0 true
is_rc 100 "tls-wrap -c with a program: usage, exit 100" "$B/tls-wrap" -c true
is_rc 100 "tls-wrap -c -m without -V: usage, exit 100" "$B/tls-wrap" -c -m x.example

# ---- STARTTLS with swaks
srv_start s1 $(TCPSRV) "$B/tls-wrap" -v -s "$B/smtpd" "$T/cp"
S1=$PORT
printf 'EHLO x\r\nQUIT\r\n' > "$T/ehlo"
like "$(raw $S1 "$T/ehlo")" '250-STARTTLS' "EHLO offers STARTTLS behind tls-wrap -s"
swaks --tls --tls-verify --tls-ca-path "$C/ca.pem" --tls-sni mx.example.org -s 127.0.0.1 -p $S1 -t rcpt@example.org -f s@example.net \
  --body 'over STARTTLS' > "$T/swaks.out" 2>&1
is "$?" 0 "swaks --tls (certificate verified against the test CA) sends a message"
is "$(qq_count)" 1 "the message is queued"
m=$(qq_last)/msg
like "$(sed -n 2p "$m")" '^	\(using TLSv1\.[23] with cipher [A-Z0-9_-]+\)$' "Received: says which TLS protocol and cipher"
like "$(sed -n 3p "$m")" 'with ESMTPS;' "Received: says ESMTPS"
like "$(grep '^accept' "$T/s1.log")" 'tls=TLSv1\.[23] cipher=' "smtpd's accept line names protocol and cipher"
like "$(grep '^tls success' "$T/s1.log")" '^tls success ip=127\.0\.0\.1 protocol=TLSv1\.[23] cipher=[^ ]+ sni=mx\.example\.org$' "tls-wrap -v logs the handshake, with the name asked for"
unlike "$(grep 'EHLO\|250-' "$T/swaks.out" | sed -n '/STARTTLS/,$p' | sed 1d)" '250-STARTTLS' "after the handshake EHLO no longer offers STARTTLS"

# ---- openssl s_client -starttls smtp
out=$(openssl s_client -starttls smtp -connect 127.0.0.1:$S1 -CAfile "$C/ca.pem" -verify_hostname mx.example.org -verify_return_error -servername mx.example.org </dev/null 2>&1)
like "$out" 'Verify return code: 0 \(ok\)' "openssl s_client -starttls smtp: the certificate verifies for mx.example.org"
out=$( (printf 'EHLO c\r\nSTARTTLS\r\n'; sleep 1; printf 'QUIT\r\n') | openssl s_client -quiet -starttls smtp -connect 127.0.0.1:$S1 2>&1)
like "$out" '503 5\.5\.1 TLS already active' "a second STARTTLS inside TLS gets 503"

# ---- python smtplib: starttls, AUTH over TLS, a message
"$PY" - $S1 "$C/ca.pem" > "$T/py.out" 2>&1 <<'EOF2'
import smtplib, ssl, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo("py.example")
print("before", "starttls" in s.esmtp_features, "auth" in s.esmtp_features)
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False
s.starttls(context=ctx)
s.ehlo("py.example")
print("after", "starttls" in s.esmtp_features, "auth" in s.esmtp_features, s.sock.version())
print("login", s.login("user", "secret")[0])
print("send", s.sendmail("a@example.net", ["b@example.org"], "Subject: py\r\n\r\nhello over tls\r\n"))
s.quit()
EOF2
like "$(cat "$T/py.out")" '^before True True' "smtplib: STARTTLS and AUTH offered in clear (no REQUIREAUTH, no AUTHTLS)"
like "$(cat "$T/py.out")" 'after False True TLSv1\.[23]' "smtplib.starttls(): after it, AUTH but no STARTTLS"
like "$(cat "$T/py.out")" 'login 235' "AUTH over TLS succeeds"
like "$(cat "$T/py.out")" 'send \{\}' "the message is accepted"
like "$(grep -l 'hello over tls' "$QQ"/msg.*/msg | head -1 | xargs sed -n 4p)" 'with ESMTPSA;' "Received: says ESMTPSA (TLS and AUTH)"

# ---- STARTTLS command injection: commands sent with STARTTLS are not executed
"$PY" - $S1 "$C/ca.pem" > "$T/inj.out" 2>&1 <<'EOF2'
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
f.readline()
s.sendall(b"EHLO x\r\n")
while True:
    l = f.readline()
    if l[3:4] == b" ": break
s.sendall(b"STARTTLS\r\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<b@example.org>\r\n")
print("starttls", f.readline().decode().strip())
ctx = ssl.create_default_context(cafile=sys.argv[2]); ctx.check_hostname = False
t = ctx.wrap_socket(s, server_hostname="mx.example.org")
g = t.makefile("rb")
t.sendall(b"EHLO y\r\n")
while True:
    l = g.readline()
    if l[3:4] == b" ": break
t.sendall(b"RCPT TO:<b@example.org>\r\n")
print("rcpt", g.readline().decode().strip())
t.sendall(b"QUIT\r\n")
print("quit", g.readline().decode().strip())
EOF2
like "$(cat "$T/inj.out")" 'starttls 220 ' "STARTTLS gets 220"
like "$(cat "$T/inj.out")" 'rcpt 503 5\.5\.1 send MAIL first' "the MAIL sent in clear with STARTTLS was never executed: RCPT inside TLS gets 503"
like "$(cat "$T/inj.out")" 'quit 221' "the session goes on in TLS"
like "$(grep '^starttls' "$T/s1.log")" 'discarded=[0-9]+ reason=input sent with STARTTLS thrown away' "smtpd logs what it threw away"

# the same through openssl: a pipelined command after STARTTLS in the same packet
printf 'EHLO x\r\nSTARTTLS\r\nRSET\r\n' > "$T/pipe"
out=$(raw $S1 "$T/pipe")
unlike "$out" '250 2\.0\.0 ok' "a command pipelined after STARTTLS in clear gets no answer"

# ---- STARTTLS misuse
printf 'EHLO x\r\nSTARTTLS now\r\nQUIT\r\n' > "$T/arg"
like "$(raw $S1 "$T/arg")" '501 5\.5\.4 STARTTLS takes no argument' "STARTTLS with an argument gets 501"
srv_start plain $(TCPSRV) "$B/smtpd"
like "$(raw $PORT "$T/ehlo")" '250 ENHANCEDSTATUSCODES' "without tls-wrap smtpd answers EHLO..."
unlike "$(raw $PORT "$T/ehlo")" 'STARTTLS' "... and offers no STARTTLS"
printf 'EHLO x\r\nSTARTTLS\r\nQUIT\r\n' > "$T/st"
like "$(raw $PORT "$T/st")" '502 5\.5\.1 STARTTLS not available' "STARTTLS without tls-wrap gets 502"

# ---- AUTH only over TLS
srv_start s2 REQUIREAUTH=1 $(TCPSRV) "$B/tls-wrap" -s "$B/smtpd" "$T/cp"
S2=$PORT
printf 'EHLO x\r\nAUTH PLAIN AHVzZXIAc2VjcmV0\r\nQUIT\r\n' > "$T/auth"
out=$(raw $S2 "$T/auth")
unlike "$out" '250-AUTH' "submission (REQUIREAUTH) with STARTTLS at hand: no AUTH offered in clear"
like "$out" '538 5\.7\.11 encryption required' "AUTH in clear gets 538 5.7.11"
"$PY" - $S2 > "$T/py2.out" 2>&1 <<'EOF2'
import smtplib, ssl, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
ctx = ssl._create_unverified_context()
s.starttls(context=ctx)
s.ehlo("py.example")
print("auth", "auth" in s.esmtp_features, s.login("user", "secret")[0])
print("send", s.sendmail("a@example.net", ["b@example.org"], "Subject: sub\r\n\r\nsubmitted\r\n"))
s.quit()
EOF2
like "$(cat "$T/py2.out")" 'auth True 235' "after STARTTLS AUTH is offered and works"
like "$(cat "$T/py2.out")" 'send \{\}' "and the message is accepted"
srv_start s3 REQUIREAUTH=1 AUTHTLS=0 $(TCPSRV) "$B/tls-wrap" -s "$B/smtpd" "$T/cp"
like "$(raw $PORT "$T/auth")" '235 2\.7\.0' "AUTHTLS=0 lets AUTH happen in clear"

# ---- implicit TLS (port 465): curl smtps://
srv_start s4 $(TCPSRV) "$B/tls-wrap" "$B/smtpd" "$T/cp"
S4=$PORT
printf 'Subject: curl\r\n\r\nby smtps\r\n' > "$T/curl.msg"
curl -s --max-time 20 --cacert "$C/ca.pem" --resolve mx.example.org:$S4:127.0.0.1 \
  --mail-from a@example.net --mail-rcpt b@example.org --user user:secret \
  -T "$T/curl.msg" "smtps://mx.example.org:$S4" > "$T/curl.out" 2>&1
is "$?" 0 "curl smtps:// (implicit TLS, certificate verified, AUTH) sends a message"
m=$(grep -l 'by smtps' "$QQ"/msg.*/msg | head -1)
like "$(sed -n 4p "$m")" 'with ESMTPSA;' "smtpd knew it was TLS from SSL_PROTOCOL"
out=$(printf 'EHLO x\r\nQUIT\r\n' | openssl s_client -quiet -connect 127.0.0.1:$S4 2>/dev/null)
unlike "$out" 'STARTTLS' "implicit TLS: no STARTTLS offered"

# ---- the handshake deadline
srv_start s5 $(TCPSRV) "$B/tls-wrap" -t 1 sh -c "touch '$T/ran'"
"$PY" - $PORT > "$T/dl.out" <<'EOF2'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=15)
print("closed", s.recv(100) == b"")
EOF2
is "$(cat "$T/dl.out")" "closed True" "implicit TLS: a client that never says hello is disconnected"
wait_for 5 grep -q 'tls failure' "$T/s5.log"
like "$(grep 'tls failure' "$T/s5.log")" '^tls failure ip=127\.0\.0\.1 reason=handshake timed out$' "tls-wrap logs the timeout with the client's address"
ok "and the program after tls-wrap was never started" test ! -e "$T/ran"
srv_start s6 $(TCPSRV) "$B/tls-wrap" -s -t 1 "$B/smtpd"
"$PY" - $PORT > "$T/dl2.out" <<'EOF2'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=15)
f = s.makefile("rb"); f.readline()
s.sendall(b"EHLO x\r\n")
while f.readline()[3:4] != b" ": pass
s.sendall(b"STARTTLS\r\n")
print(f.readline().decode().strip()[:3], "closed", s.recv(100) == b"")
EOF2
is "$(cat "$T/dl2.out")" "220 closed True" "STARTTLS then silence: disconnected at the deadline"
wait_for 5 grep -q '^end' "$T/s6.log"
like "$(cat "$T/s6.log")" 'tls failure ip=127\.0\.0\.1 reason=handshake timed out' "tls-wrap logs it"
like "$(grep '^end' "$T/s6.log")" 'reason=TLS handshake failed' "smtpd ends the session"

# ---- garbage instead of a handshake
printf 'EHLO x\r\n' > "$T/garbage"
srv_start s7 $(TCPSRV) "$B/tls-wrap" sh -c "touch '$T/ran7'"
raw $PORT "$T/garbage" >/dev/null 2>&1
wait_for 5 grep -q 'tls failure' "$T/s7.log"
like "$(grep 'tls failure' "$T/s7.log")" 'tls failure ip=127\.0\.0\.1 reason=' "a cleartext client on the TLS port: a failure, logged"
ok "no program started for it" test ! -e "$T/ran7"

# ---- a renewed certificate is used from the next connection on, without a restart
cp "$C/mx.pem" "$T/live.pem"; cp "$C/mx.key" "$T/live.key"
srv_start s8 CERTFILE="$T/live.pem" KEYFILE="$T/live.key" $(TCPSRV) "$B/tls-wrap" cat
is "$(peer_serial $PORT)" "$(tls_serial "$C/mx.pem")" "the server shows its certificate"
tls_cert renewed mx.example.org
cp "$C/renewed.key" "$T/live.key.new"; cp "$C/renewed.pem" "$T/live.pem.new"
mv "$T/live.key.new" "$T/live.key"; mv "$T/live.pem.new" "$T/live.pem"
is "$(peer_serial $PORT)" "$(tls_serial "$C/renewed.pem")" "after renewal the next connection gets the new certificate"
ok "the same server process" kill -0 "$SRVPID"

# ---- SNI: a certificate per name from $CERTDIR
mkdir -p "$T/live/other.example.org"
cp "$C/other.pem" "$T/live/other.example.org/fullchain.pem"; cp "$C/other.key" "$T/live/other.example.org/privkey.pem"
srv_start s9 CERTDIR="$T/live" $(TCPSRV) "$B/tls-wrap" cat
is "$(peer_serial $PORT other.example.org)" "$(tls_serial "$C/other.pem")" "SNI other.example.org: its certificate from \$CERTDIR"
is "$(peer_serial $PORT mx.example.org)" "$(tls_serial "$C/mx.pem")" "another name: \$CERTFILE"
is "$(peer_serial $PORT)" "$(tls_serial "$C/mx.pem")" "no name: \$CERTFILE"

# ---- the key readable by root alone; tls-wrap reads it, then becomes the user
if [ "$(id -u)" = 0 ]; then
  cp "$C/mx.key" "$T/root.key"; chmod 600 "$T/root.key"
  srv_start s10 KEYFILE="$T/root.key" $(TCPSRV) "$B/tls-wrap" -u 65534 -g 65534 sh -c 'id -u; id -g'
  out=$(openssl s_client -quiet -connect 127.0.0.1:$PORT </dev/null 2>/dev/null | tr '\n' ' ')
  is "$out" "65534 65534 " "with -u and -g: the key read as root, the program run as the user"
  ok "(tcpsrv still runs)" kill -0 "$SRVPID"
else
  skip 2 "not root"
fi

# ---- an unusable key: the handshake fails, logged
srv_start s11 KEYFILE="$C/other.pem" $(TCPSRV) "$B/tls-wrap" cat
openssl s_client -connect 127.0.0.1:$PORT </dev/null >/dev/null 2>&1
wait_for 5 grep -q 'tls failure' "$T/s11.log"
like "$(grep 'tls failure' "$T/s11.log")" 'reason=unusable certificate or key' "a key file that holds no key: refused, logged"
srv_start s12 KEYFILE="$C/other.key" $(TCPSRV) "$B/tls-wrap" cat
out=$(echo hello | openssl s_client -quiet -connect 127.0.0.1:$PORT 2>/dev/null)
is "$out" "" "a key that is not the certificate's: no handshake completes, nothing reaches the program"
wait_for 5 grep -q 'tls failure' "$T/s12.log"
like "$(grep 'tls failure' "$T/s12.log")" "^tls failure ip=127\\.0\\.0\\.1 reason=." "... logged with the handshake's reason"
for n in r1 r2; do openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/$n.key" -out "$T/$n.pem" -days 2 -subj /CN=mx.example.org >/dev/null 2>&1; done
srv_start s13 CERTFILE="$T/r1.pem" KEYFILE="$T/r2.key" $(TCPSRV) "$B/tls-wrap" cat
openssl s_client -connect 127.0.0.1:$PORT </dev/null >/dev/null 2>&1
wait_for 5 grep -q 'tls failure' "$T/s13.log"
like "$(grep 'tls failure' "$T/s13.log")" "reason=the key is not the certificate's" "an RSA key of another certificate: the log says so"
