#!/bin/sh
# tls-wrap in front of pop3-login: STLS (tls-wrap -s, UCSPI-TLS) with openssl s_client
# -starttls pop3 and python's poplib.stls(), implicit TLS (port 995) with curl pop3s://,
# logins hidden before TLS (AUTHTLS), and commands pipelined after STLS never executed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pop3-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
command -v openssl >/dev/null || skip_all "no openssl"
plan 17

pop3_setup || exit 1
tls_certs || { diag "openssl could not make the certificates"; exit 1; }
printf 'Subject: one\n\nfirst\n' | deliver "$MA" || exit 1
printf 'Subject: two\n\nsecond\n' | deliver "$MA" || exit 1
CHAIN="$B/pop3-login -w 0 pop.example.org $B/auth-check -w 0 $B/pop3d Maildir"

srv_start p1 $(TCPSRV) "$B/tls-wrap" -s $CHAIN
P1=$PORT
printf 'CAPA\r\nQUIT\r\n' > "$T/capa"
out=$(raw $P1 "$T/capa")
like "$out" 'STLS' "CAPA offers STLS behind tls-wrap -s"
like "$out" 'USER' "and USER (no AUTHTLS)"

# openssl s_client -starttls pop3, the certificate verified
out=$(openssl s_client -starttls pop3 -connect 127.0.0.1:$P1 -CAfile "$C/ca.pem" -verify_hostname mx.example.org -verify_return_error </dev/null 2>&1)
like "$out" 'Verify return code: 0 \(ok\)' "openssl s_client -starttls pop3: handshake, certificate verified"
out=$( (sleep 0.5; printf 'CAPA\r\n'; sleep 0.5; printf 'STLS\r\n'; sleep 0.5; printf 'USER alice@example.com\r\nPASS alice pw\r\nSTAT\r\nQUIT\r\n'; sleep 1) |
  openssl s_client -quiet -starttls pop3 -connect 127.0.0.1:$P1 2>/dev/null | tr -d '\r')
unlike "$(printf '%s\n' "$out" | sed -n '/capability/,/^\.$/p')" '^STLS$' "inside TLS CAPA no longer offers STLS"
like "$out" 'already in TLS' "a second STLS is refused"
like "$out" '\+OK 2 [0-9]+' "a login inside TLS reaches pop3d: STAT"

# python poplib.stls()
"$PY" - $P1 "$C/ca.pem" > "$T/py.out" 2>&1 <<'EOF2'
import poplib, ssl, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
print("capa", sorted(p.capa().keys()))
ctx = ssl.create_default_context(cafile=sys.argv[2]); ctx.check_hostname = False
p.stls(context=ctx)
print("tls", p.sock.version())
p.user("alice@example.com"); p.pass_("alice pw")
print("stat", p.stat())
print("retr", p.retr(2)[1])
p.quit()
EOF2
like "$(cat "$T/py.out")" "capa .*'STLS'" "poplib: capa() lists STLS"
like "$(cat "$T/py.out")" 'tls TLSv1\.[23]' "poplib.stls(): TLS up"
like "$(cat "$T/py.out")" 'stat \(2, [0-9]+\)' "login and STAT inside TLS"
like "$(cat "$T/py.out")" "retr .*b'second'" "RETR inside TLS"

# commands pipelined after STLS in clear are never executed
printf 'STLS\r\nUSER alice@example.com\r\nPASS alice pw\r\nSTAT\r\n' > "$T/inj"
out=$(raw $P1 "$T/inj")
like "$out" '\+OK begin TLS' "STLS answered"
unlike "$out" 'send PASS|\+OK 2 ' "the USER, PASS and STAT sent with it get no answer"

# AUTHTLS: no login in clear
srv_start p2 AUTHTLS=1 $(TCPSRV) "$B/tls-wrap" -s $CHAIN
printf 'CAPA\r\nUSER alice@example.com\r\nQUIT\r\n' > "$T/clear"
out=$(raw $PORT "$T/clear" | tr -d '\r')
unlike "$(printf '%s\n' "$out" | sed -n '/capability/,/^\.$/p')" '^(USER|SASL)' "AUTHTLS=1: CAPA hides USER and SASL before TLS"
like "$out" '-ERR logins need TLS' "USER in clear is refused"
"$PY" - $PORT > "$T/py2.out" 2>&1 <<'EOF2'
import poplib, ssl, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.stls(context=ssl._create_unverified_context())
print("capa", "USER" in p.capa())
p.user("alice@example.com"); p.pass_("alice pw")
print("stat", p.stat()[0])
p.quit()
EOF2
is "$(tr '\n' ' ' < "$T/py2.out")" "capa True stat 2 " "after STLS: USER offered, login works"

# implicit TLS (port 995): curl pop3s://
srv_start p3 $(TCPSRV) "$B/tls-wrap" $CHAIN
out=$(curl -sS --max-time 20 --cacert "$C/ca.pem" --resolve mx.example.org:$PORT:127.0.0.1 -u 'alice@example.com:alice pw' "pop3s://mx.example.org:$PORT/" | tr -d '\r' | awk '{print $1}' | tr '\n' ' ')
is "$out" "1 2 " "curl pop3s:// (certificate verified): LIST"
out=$(curl -sS --max-time 20 -k -u 'alice@example.com:alice pw' "pop3s://127.0.0.1:$PORT/1" | tr -d '\r' | tail -1)
is "$out" "first" "curl pop3s://: RETR"
