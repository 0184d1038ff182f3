#!/bin/sh
# make run's demo: an instance root DIR with the domain DOMAIN and two users, alice and bob
# (passwords made once, kept in DIR/demo-passwords), a self-signed certificate for the host
# (DIR/tls/cert.pem, made once by sluice-ctl init -S), every service on loopback ports, with
# STARTTLS on the SMTP, submission and POP3 ports and implicit TLS on SMTPS and POP3S, started
# under a private s6-svscan; then how to send and fetch a message. Run again, it reuses DIR.
#   services/demo.sh BIN DIR DOMAIN SMTP SUBMISSION POP3 SMTPS POP3S IDS...
# BIN holds the sluice tools; IDS are sluice-ctl init's user options (-o -q -s -r -l -F).
set -e
BIN=$1 DIR=$2 DOMAIN=$3 SMTP=$4 SUBMISSION=$5 POP3=$6 SMTPS=$7 POP3S=$8
shift 8
[ "$(id -u)" = 0 ] || { echo "make run: needs root: the services bind their ports, then change user" >&2; exit 1; }
"$BIN/sluice-ctl" -d "$DIR" init "$@" -a 127.0.0.1 -S -p smtpd:"$SMTP" -p submission:"$SUBMISSION" \
  -p pop3d:"$POP3" -p smtps:"$SMTPS" -p pop3s:"$POP3S" "mail.$DOMAIN"
export SLUICEDIR="$DIR"
"$BIN/mail-user" domains | grep -qx "$DOMAIN" || "$BIN/mail-user" adddomain "$DOMAIN" </dev/null
umask 077
[ -s "$DIR/demo-passwords" ] || for u in alice bob; do
  echo "$u $(tr -dc A-Za-z0-9 </dev/urandom | head -c 12)"
done > "$DIR/demo-passwords"
while read -r u pw; do
  "$BIN/mail-user" show "$u@$DOMAIN" >/dev/null 2>&1 || echo "$pw" | "$BIN/mail-user" adduser "$u@$DOMAIN" >/dev/null
  eval "pw_$u=\$pw"
done < "$DIR/demo-passwords"
umask 022
printf 'From: alice@%s\r\nTo: bob@%s\r\nSubject: over SMTPS\r\n\r\nSent with curl over implicit TLS.\r\n' \
  "$DOMAIN" "$DOMAIN" > "$DIR/demo-message"
"$BIN/sluice-ctl" -d "$DIR" start
CA=$DIR/tls/cert.pem
# shellcheck disable=SC2154
cat <<EOF

sluice runs in $DIR (logs in $DIR/log/): SMTP on 127.0.0.1:$SMTP, submission on
127.0.0.1:$SUBMISSION, POP3 on 127.0.0.1:$POP3, each with STARTTLS; SMTPS on 127.0.0.1:$SMTPS and
POP3S on 127.0.0.1:$POP3S (implicit TLS). The certificate is self-signed, made for this demo:
$CA, which the clients below trust. Users:
  alice@$DOMAIN  password $pw_alice
  bob@$DOMAIN    password $pw_bob

Send alice a message through the SMTP port, over STARTTLS:
  swaks --server 127.0.0.1:$SMTP --tls --tls-verify --tls-ca-path $CA --from bob@$DOMAIN --to alice@$DOMAIN
Send bob one from alice, logged in, through the submission port (AUTH only inside TLS):
  swaks --server 127.0.0.1:$SUBMISSION --tls --tls-verify --tls-ca-path $CA --auth PLAIN --auth-user alice@$DOMAIN --auth-password '$pw_alice' --from alice@$DOMAIN --to bob@$DOMAIN
Fetch them over POP3 (STLS):
  curl -s --ssl-reqd --cacert $CA pop3://127.0.0.1:$POP3/1 --user 'alice@$DOMAIN:$pw_alice'
  curl -s --ssl-reqd --cacert $CA pop3://127.0.0.1:$POP3/1 --user 'bob@$DOMAIN:$pw_bob'
The same over implicit TLS: a message to bob through SMTPS, and his list over POP3S:
  curl -s --cacert $CA smtps://127.0.0.1:$SMTPS --user 'alice@$DOMAIN:$pw_alice' --mail-from alice@$DOMAIN --mail-rcpt bob@$DOMAIN -T $DIR/demo-message
  curl -s --cacert $CA pop3s://127.0.0.1:$POP3S/ --user 'bob@$DOMAIN:$pw_bob'

More: SLUICEDIR=$DIR $BIN/mail-user adduser carol@$DOMAIN; $BIN/sluice-ctl -d $DIR status;
make stop ends it all.
EOF
