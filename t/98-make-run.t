#!/bin/sh
# make run and make stop, as a newcomer meets them (with free ports, an instance root in the
# scratch directory and numeric users): the swaks and curl lines it prints work as printed,
# over TLS with the demo's self-signed certificate as their CA file: a message through the
# SMTP port to alice (STARTTLS) and one with AUTH through the submission port to bob, both
# fetched over POP3 with STLS, one more to bob through SMTPS and his list over POP3S; the
# certificate's key is root's alone; run again, it reuses the instance, its users and its
# certificate; a user added with mail-user gets mail too; make stop leaves no process behind;
# make run's own users (RUN_IDS) pass sluice-ctl's checks, smtpd as the SMTP user.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/services-lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root: make run starts services that change user"
for t in swaks curl s6-svscan make openssl; do command -v $t >/dev/null || skip_all "$t is not installed"; done
plan 29
chmod 755 "$T"
free_ids
V=$T/var
PS=$(free_port) PM=$(free_port) PP=$(free_port) PSS=$(free_port) PPS=$(free_port)
# the services' environment is the instance's: the sanitizer's options go there first
mkdir -p "$V/env"
sanitizer_env "$V"
stop_on_exit "$V"
mk() { make -s --no-print-directory -C "$TOP" SANITIZE="${SLUICE_SANITIZE:-}" RUN_DIR="$V" RUN_SMTP=$PS RUN_SUBMISSION=$PM RUN_POP3=$PP RUN_SMTPS=$PSS RUN_POP3S=$PPS RUN_IDS="$IDOPTS" "$@"; }
count() { ls "$V/domains/example.com/$1/Maildir/new" "$V/domains/example.com/$1/Maildir/cur" | grep -c '^[0-9]'; }

is_rc 0 "make run" mk run
cp "$T/out" "$T/run1"
like "$(grep '@example.com  ' "$T/run1" | tr '\n' ' ' | tr -s ' ')" "^ alice@example\.com password [A-Za-z0-9]{12} bob@example\.com password [A-Za-z0-9]{12} $" "it prints the users and their passwords"
grep '^  swaks ' "$T/run1" > "$T/swaks"
grep '^  curl ' "$T/run1" > "$T/curl"
is "$(wc -l < "$T/swaks") $(wc -l < "$T/curl")" "2 4" "two swaks lines, four curl lines"
is "$(stat -c '%a %u' "$V/tls/key.pem") $(grep -c -- "--tls-ca-path $V/tls/cert.pem \|--cacert $V/tls/cert.pem " "$T/swaks" "$T/curl" | cut -d: -f2 | tr '\n' ' ')" \
   "600 0 2 4 " "a self-signed certificate made for the demo, its key root's alone; every line trusts it"
users=""
for s in smtpd submission pop3d smtps pop3s; do
  users="$users $(tr '\0' ' ' < "/proc/$(s6-svstat -o pid "$V/service/$s")/cmdline" | sed -n 's/.* tls-wrap \(-s \)*-u \([0-9]*\) -g \([0-9]*\) .*/\2:\3/p')"
done
is "$users" " $SMTPD $SMTPD $OWNER $SMTPD $OWNER" "past tls-wrap, SMTP, submission and SMTPS run as the SMTP user of RUN_IDS, POP3 and POP3S as the mail owner"
is_rc 0 "the first swaks line, as printed: to alice through the SMTP port" sh -c "$(sed -n 1p "$T/swaks")"
like "$(sed -n 1p "$T/swaks")" "127\.0\.0\.1:$PS --tls --tls-verify .* --from bob@example\.com --to alice@example\.com" "(the port asked for, STARTTLS, the certificate verified)"
is_rc 0 "the second: to bob, logged in, through the submission port" sh -c "$(sed -n 2p "$T/swaks")"
like "$(sed -n 2p "$T/swaks")" "127\.0\.0\.1:$PM --tls --tls-verify .* --auth PLAIN --auth-user alice@example\.com --auth-password '[A-Za-z0-9]{12}'" "(with AUTH)"
ok "both delivered" wait_for 15 sh -c "[ \$(ls '$V/domains/example.com/alice/Maildir/new' '$V/domains/example.com/bob/Maildir/new' | grep -c '^[0-9]') = 2 ]"
like "$(sh -c "$(sed -n 1p "$T/curl")" | tr -s '\r\n\t' ' ')" "Received: from .* \(using TLSv1\.[23] .* by mail\.example\.com \(sluice smtpd\) with ESMTPS;" "the first curl line fetches alice's message, sent over TLS"
like "$(sh -c "$(sed -n 2p "$T/curl")" | tr -s '\r\n\t' ' ')" "by mail\.example\.com \(sluice smtpd\) with ESMTPSA;" "the second, bob's, sent over TLS with AUTH"
like "$(sed -n 1p "$T/curl")" "--ssl-reqd --cacert .* pop3://127\.0\.0\.1:$PP/1 " "(over POP3 with STLS, on the port asked for)"
is_rc 0 "the third: to bob through SMTPS" sh -c "$(sed -n 3p "$T/curl")"
like "$(sed -n 3p "$T/curl")" " smtps://127\.0\.0\.1:$PSS " "(the port asked for)"
ok "delivered" wait_for 15 sh -c "[ \$(ls '$V/domains/example.com/bob/Maildir/new' '$V/domains/example.com/bob/Maildir/cur' | grep -c '^[0-9]') = 2 ]"
is "$(sh -c "$(sed -n 4p "$T/curl")" | tr -d '\r' | cut -d' ' -f1 | tr '\n' ' ')" "1 2 " "the fourth lists bob's two messages over POP3S"
like "$(sed -n 4p "$T/curl")" " pop3s://127\.0\.0\.1:$PPS/ " "(the port asked for)"
like "$(curl -s --cacert "$V/tls/cert.pem" "pop3s://127.0.0.1:$PPS/2" --user "bob@example.com:$(sed -n 's/^bob //p' "$V/demo-passwords")" | tr -d '\r')" "^Subject: over SMTPS" "where the second is the one sent through SMTPS"
serial=$(openssl x509 -in "$V/tls/cert.pem" -noout -serial)

is_rc 0 "make run again" mk run
is "$(grep '@example.com  ' "$T/out")" "$(grep '@example.com  ' "$T/run1")" "the same instance, the same users and passwords"
is "$(count alice) $(count bob)" "1 2" "their mail is still there"
is "$(openssl x509 -in "$V/tls/cert.pem" -noout -serial)" "$serial" "and the certificate"
echo carol-pw | SLUICEDIR=$V "$B/mail-user" adduser carol@example.com >/dev/null
is_rc 0 "a user added with mail-user gets mail" swaks --server "127.0.0.1:$PS" --from bob@example.com --to carol@example.com
ok "and reads it" wait_for 10 sh -c "curl -s pop3://127.0.0.1:$PP/1 --user carol@example.com:carol-pw | grep -q '^Return-Path: <bob@example.com>'"

is_rc 0 "make stop" mk stop
is "$(instance_procs "$V")" "" "no process is left"

# the users make run gives when RUN_IDS is not set
ids=$(sed -n 's/^RUN_IDS ?= //p' "$TOP/GNUmakefile")
smtpd=$(printf '%s\n' "$ids" | sed -n 's/.*-s \([0-9]*:[0-9]*\).*/\1/p')
owner=$(printf '%s\n' "$ids" | sed -n 's/.*-o \([0-9]*:[0-9]*\).*/\1/p')
# shellcheck disable=SC2086
is_rc 0 "make run's default RUN_IDS pass sluice-ctl init's checks" "$B/sluice-ctl" -d "$T/dflt" init $ids mail.example.com
is "$(cat "$T/dflt/service/smtpd/env/RUNAS") $(cat "$T/dflt/service/submission/env/RUNAS") $(cat "$T/dflt/service/pop3d/env/RUNAS")" \
   "$smtpd $smtpd $owner" "with an SMTP user (-s) for smtpd and submission, the mail owner (-o) for POP3"
