#!/bin/sh
# pop3-login behind a resident tls-wrap (tcpsrv -w): pop3-login is no resident worker, so
# tls-wrap stays resident (its certificate and TLS tables kept) and runs the POP3 chain once
# per connection: STLS with poplib.stls() and implicit TLS with curl pop3s://, one client after
# the other, each with its own login and nothing of the previous one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pop3-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
command -v openssl >/dev/null || skip_all "no openssl"
plan 12

pop3_setup || exit 1
tls_certs || { diag "openssl could not make the certificates"; exit 1; }
printf 'Subject: one\n\nfirst\n' | deliver "$MA" || exit 1
printf 'Subject: two\n\nsecond\n' | deliver "$MA" || exit 1
CHAIN="$B/pop3-login -w 0 pop.example.org $B/auth-check -w 0 $B/pop3d Maildir"
readies() { grep -c 'worker [0-9]* ready' "$T/$1.log"; }

# ---- STLS
srv_start p1 $B/tcpsrv -1 -v -H -R -P -w 1 -c 2 127.0.0.1 0 "$B/tls-wrap" -s $CHAIN
P1=$PORT
cat > "$T/stls.py" <<'EOF2'
import poplib, ssl, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
print("capa", "STLS" in p.capa())
if sys.argv[2] == "tls":
    ctx = ssl.create_default_context(cafile=sys.argv[3]); ctx.check_hostname = False
    p.stls(context=ctx)
    print("tls", p.sock.version(), "STLS" in p.capa())
p.user("alice@example.com"); p.pass_("alice pw")
print("stat", p.stat()[0])
print("retr", p.retr(1)[1])
p.quit()
EOF2
# ended(N): the worker is free again once tcpsrv logs the Nth end (else a busy pool grows)
ended() { wait_for 20 test "$(grep -c '^tcpsrv: end ' "$T/$1.log")" -ge "$2"; }
"$PY" "$T/stls.py" $P1 tls "$C/ca.pem" > "$T/a.out" 2>&1; ended p1 1
"$PY" "$T/stls.py" $P1 clear > "$T/b.out" 2>&1; ended p1 2
"$PY" "$T/stls.py" $P1 tls "$C/ca.pem" > "$T/c.out" 2>&1
like "$(cat "$T/a.out")" 'tls TLSv1\.[23] False' "first client: STLS through the resident tls-wrap, then no STLS offered"
like "$(cat "$T/a.out")" "stat 2" "... login and STAT inside TLS"
like "$(cat "$T/a.out")" "retr .*b'first'" "... RETR inside TLS"
like "$(cat "$T/b.out")" 'capa True' "second client, in clear: STLS offered to it"
like "$(cat "$T/b.out")" "stat 2" "... and it logs in, in clear"
like "$(cat "$T/c.out")" 'tls TLSv1\.[23] False' "third client: TLS again"
like "$(cat "$T/p1.log")" 'tls-wrap: warning: .*pop3-login is no resident worker: running it once per connection' "tls-wrap runs pop3-login per connection"
is "$(readies p1)" 1 "three clients, one tls-wrap"
stop_pid "$SRVPID"

# ---- implicit TLS (port 995): curl pop3s://
srv_start p2 $B/tcpsrv -1 -v -H -R -P -w 1 -c 2 127.0.0.1 0 "$B/tls-wrap" $CHAIN
for i in 1 2; do
  curl -s --max-time 20 --cacert "$C/ca.pem" --resolve mx.example.org:$PORT:127.0.0.1 \
    --user 'alice@example.com:alice pw' "pop3s://mx.example.org:$PORT/$i" > "$T/curl$i.out" 2>&1
  ended p2 $i
done
like "$(cat "$T/curl1.out")" 'first' "curl pop3s:// fetches message 1"
like "$(cat "$T/curl2.out")" 'second' "... then, on a new connection, message 2"
is "$(readies p2)" 1 "... both through one resident tls-wrap"
is "$(grep -c '^tcpsrv: end .* status 0$' "$T/p2.log")" 2 "... each connection ending with the chain's status 0"
stop_pid "$SRVPID"
