#!/bin/sh
# remote-deliver's STARTTLS, through a tls-wrap -c child: opportunistic by default (in clear
# when the server has no STARTTLS, refuses it, or fails the handshake), and required with a
# verified certificate for the domains of control/tlsdestinations: an expired, self-signed
# or mismatched certificate, or no STARTTLS, defers the mail, which is never sent in clear.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/remote-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
command -v openssl >/dev/null || skip_all "no openssl"
plan 30
PATH=$B:$PATH; export PATH   # remote-deliver runs tls-wrap

tls_certs || { diag "openssl could not make the certificates"; exit 1; }
tls_cert wrong mx.example.net || exit 1
EHLO="250-fake.example|250-PIPELINING|250-STARTTLS|250 SIZE"
printf 'Subject: tls\n\nover TLS, or not at all\n' > "$T/m"

# a sluice MX behind tls-wrap -s, with the certificate named by $2
tls_mx() {
  mkdir -p "$T/$1/control" "$T/$1/q"
  echo "$1" > "$T/$1/control/me"
  echo example.org > "$T/$1/control/rcpthosts"
  srv_start "$1" SLUICEDIR="$T/$1" QMAILQUEUE="$T/capture" CAPTURE="$T/$1/q" CERTFILE="$C/$2.pem" KEYFILE="$C/$2.key" \
    $(TCPSRV) "$B/tls-wrap" -s "$B/smtpd"
}
count() { ls "$T/$1/q" | grep -c '\.msg$'; }
route() { echo "example.org:127.0.0.1:$1" > "$L/control/smtproutes"; }

# ---- opportunistic
tls_mx good mx; GOOD=$PORT
route $GOOD
rd "$T/m" -- example.org a@client.example u@example.org
is "$RC" 0 "remote-deliver exits 0"
like "$(cat "$T/out")" '^success 1 \[127\.0\.0\.1\] \(TLSv1\.[23]\) said: 250 ' "opportunistic STARTTLS: delivered, the line says TLS"
like "$(sed -n 3p "$T/good/q/1.msg")" 'with ESMTPS;' "the MX received it over TLS"
is "$(tail -1 "$T/good/q/1.msg")" "over TLS, or not at all" "the message arrived whole"
nok "no tls-wrap left behind" pgrep -f '^tls-wrap -c'

tls_mx expired expired; EXPIRED=$PORT
route $EXPIRED
rd "$T/m" -- example.org a@client.example u@example.org
like "$(cat "$T/out")" '^success 1 .*\(TLSv1' "opportunistic: an expired certificate is not checked, TLS all the same"

mx_start plain 127.0.0.1 0; PLAIN=$PORT
route $PLAIN
rd "$T/m" -- example.org a@client.example u@example.org
like "$(cat "$T/out")" '^success 1 \[127\.0\.0\.1\] said: 250 ' "a server without STARTTLS gets the mail in clear"

fake_start refuse ehlo="$EHLO" starttls="454 4.7.0 TLS not available now"
route $PORT
rd "$T/m" -- example.org a@client.example u@example.org
like "$(cat "$T/out")" '^success 1 ' "STARTTLS refused (454): the mail goes in clear on the same connection"
is "$(grep -c '^conn' "$T/refuse.log")" 1 "one connection"
like "$(grep '^cmd' "$T/refuse.log" | tr '\n' ' ')" 'cmd STARTTLS cmd MAIL' "STARTTLS tried, then MAIL"

fake_start broken ehlo="$EHLO" starttls="220 2.0.0 go ahead"
route $PORT
rd "$T/m" -- example.org a@client.example u@example.org
like "$(cat "$T/out")" '^success 1 ' "the handshake failed: the mail goes in clear, on a new connection"
is "$(grep -c '^conn' "$T/broken.log")" 2 "two connections"
is "$(grep -c '^cmd STARTTLS' "$T/broken.log")" 1 "STARTTLS on the first only"

fake_start inject ehlo="$EHLO" starttls="220 2.0.0 go ahead|250 2.0.0 injected"
route $PORT
rd "$T/m" -- example.org a@client.example u@example.org
like "$(cat "$T/out")" '^deferral 1 .*sent more after its 220 to STARTTLS' "a server that sends more after its 220: not used"
is "$(grep -c '^cmd MAIL' "$T/inject.log")" 0 "nothing sent to it"

# ---- control/tlsdestinations: TLS with a verified certificate, or no delivery
echo "$C/ca.pem" > "$L/control/tlscafile"
printf '# required\nexample.org\n' > "$L/control/tlsdestinations"
route $GOOD
n=$(count good)
rd "$T/m" -- example.org a@client.example u@example.org
like "$(cat "$T/out")" '^success 1 \[127\.0\.0\.1\] \(TLSv1' "tlsdestinations: a certificate for mx.example.org (under example.org) from a trusted CA: delivered"
is "$(count good)" $((n + 1)) "the MX has it"

n=$(count expired)
route $EXPIRED
rd "$T/m" -- example.org a@client.example u@example.org
is "$RC" 0 "exit 0: the line says it all"
like "$(cat "$T/out")" '^deferral 1 .*TLS handshake failed' "an expired certificate: deferred"
is "$(count expired)" $n "and never sent in clear"

tls_mx mismatch wrong; MISMATCH=$PORT; route $PORT
rd "$T/m" -- example.org a@client.example u@example.org
like "$(cat "$T/out")" '^deferral 1 .*the certificate names none of example\.org, \.example\.org' "a certificate for mx.example.net: deferred"
is "$(count mismatch)" 0 "and never sent in clear"

tls_mx self self; route $PORT
rd "$T/m" -- example.org a@client.example u@example.org
like "$(cat "$T/out")" '^deferral 1 .*TLS handshake failed' "a self-signed certificate: deferred"
is "$(count self)" 0 "and never sent in clear"

n=$(count plain)
route $PLAIN
rd "$T/m" -- example.org a@client.example u@example.org
like "$(cat "$T/out")" '^deferral 1 .*does not offer STARTTLS, which control/tlsdestinations requires' "a server without STARTTLS: deferred"
is "$(count plain)" $n "and never sent in clear"

fake_start refuse2 ehlo="$EHLO" starttls="454 4.7.0 TLS not available now"
route $PORT
rd "$T/m" -- example.org a@client.example u@example.org
like "$(cat "$T/out")" '^deferral 1 .*454 4\.7\.0 TLS not available now \(in reply to STARTTLS\)' "STARTTLS refused: deferred"
is "$(grep -c '^cmd MAIL' "$T/refuse2.log")" 0 "no MAIL sent"

printf 'example.org:mx.example.net\n' > "$L/control/tlsdestinations"
route $MISMATCH
rd "$T/m" -- example.org a@client.example u@example.org
like "$(cat "$T/out")" '^success 1 .*\(TLSv1' "domain:name: the certificate must name mx.example.net instead, and does"

printf 'example.net\n' > "$L/control/tlsdestinations"
route $PLAIN
rd "$T/m" -- example.org a@client.example u@example.org
like "$(cat "$T/out")" '^success 1 ' "another domain's line does not apply"
