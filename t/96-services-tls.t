#!/bin/sh
# The services with TLS, as sluice-ctl init makes them with a certificate, under a private
# s6-svscan in a scratch directory, on loopback: a self-signed certificate made by init -S
# (the key root's alone), STARTTLS on the SMTP, submission and POP3 ports (swaks --tls and
# curl --ssl-reqd, the certificate verified with its CA file, and refused with another),
# AUTH only inside TLS on submission, implicit TLS on SMTPS and POP3S (curl smtps:// and
# pop3s://); who runs as whom (tcpsrv keeps root, tls-wrap becomes the service's user, which
# cannot read the key); a renewed certificate used without a restart; certificates of a CA
# with -C and -K, and by server name (SNI) with -L; a half setting refused by the run
# scripts; TLS taken away by hand: the chains as they were; resident tls-wrap workers (tcpsrv -w)
# with their resident smtpd and their key reader.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/services-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root: the services change user"
for t in swaks curl s6-svscan openssl setpriv; do command -v $t >/dev/null || skip_all "$t is not installed"; done
plan 61
CTL=$B/sluice-ctl
chmod 755 "$T"
free_ids
S=$T/sl
PS=$(free_port) PM=$(free_port) PP=$(free_port) PSS=$(free_port) PPS=$(free_port)
CA=$S/tls/cert.pem
mu() { SLUICEDIR=$S "$B/mail-user" "$@"; }
pid_of() { s6-svstat -o pid "$S/service/$1"; }
cmdline() { tr '\0' ' ' < "/proc/$(pid_of "$1")/cmdline"; }
new_mail() { ls "$S/domains/example.com/$1/Maildir/new" "$S/domains/example.com/$1/Maildir/cur" | grep -c '^[0-9]'; }
has_mail() { test "$(new_mail "$1")" = "$2"; }
delivered() {     # USER N: until USER has N messages; the queue's log when not
  wait_for 20 has_mail "$1" "$2" && return 0
  diag "$1 has $(new_mail "$1") messages; the queue's log:" "$(tail -20 "$S/log/queue/current")"
  return 1
}
received() {      # USER: the Received: line smtpd wrote in USER's newest message, on one line
  sed -n '/^Received: /,/;/{p;/;/q}' "$(ls -t "$S"/domains/example.com/"$1"/Maildir/new/[0-9]* | head -1)" | tr -s '\n\t' '  '
}
send() {          # PORT FROM TO SUBJECT [swaks options]: swaks's exit code, its dialogue in $T/swaks
  _p=$1 _f=$2 _t=$3 _s=$4; shift 4
  swaks --server "127.0.0.1:$_p" --from "$_f" --to "$_t" --h-Subject "$_s" "$@" > "$T/swaks" 2>&1
}
ehlo() {          # PORT: the EHLO keywords a client gets in clear, one line
  "$PY" -c 'import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10); s.ehlo("t.example")
print(" ".join(sorted(s.esmtp_features))); s.quit()' "$1"
}
starttls_serial() { # PORT: the serial of the certificate shown after STARTTLS
  openssl s_client -starttls smtp -connect "127.0.0.1:$1" </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}

is_rc 0 "init -S: a self-signed certificate, the TLS ports" "$CTL" -d "$S" init $IDOPTS -a 127.0.0.1 -S \
  -p smtpd:$PS -p submission:$PM -p pop3d:$PP -p smtps:$PSS -p pop3s:$PPS mx.test.example
sanitizer_env "$S"
mu adddomain example.com </dev/null >/dev/null
echo alice-pw | mu adduser alice@example.com >/dev/null
echo bob-pw | mu adduser bob@example.com >/dev/null
stop_on_exit "$S"
tls_certs || { diag "openssl could not make the test CA's certificates"; exit 1; }
unset CERTFILE KEYFILE

# ---- what init made ---------------------------------------------------------------------------
is "$(stat -c '%a %u:%g' "$S/tls/key.pem") $(stat -c '%a %u:%g' "$S/tls/cert.pem")" "600 0:0 644 0:0" "the key is root's alone (0600), the certificate readable by all"
is "$(cat "$S/env/CERTFILE") $(cat "$S/env/KEYFILE")" "$S/tls/cert.pem $S/tls/key.pem" "env/CERTFILE and env/KEYFILE name them, for every service"
like "$(openssl x509 -in "$CA" -noout -subject -ext subjectAltName 2>&1 | tr '\n' ' ')" \
  'CN ?= ?mx\.test\.example .*DNS:mx\.test\.example, IP Address:127\.0\.0\.1' "made for the host name and for the address of -a"
is "$(cat "$S/service/smtps/env/RUNAS") $(cat "$S/service/pop3s/env/RUNAS") $(cat "$S/service/smtps/env/PORT") $(cat "$S/service/pop3s/env/PORT")" \
   "$SMTPD $OWNER $PSS $PPS" "smtps runs as the SMTP user, pop3s as the mail owner, on the ports asked for"

# ---- start ------------------------------------------------------------------------------------
is_rc 0 "start returns once every service answers" "$CTL" -d "$S" start
is_rc 0 "status: all up" "$CTL" -d "$S" status
is "$(cut -d: -f1 "$T/out" | tr '\n' ' ')" "pop3d pop3s smtpd smtps submission auth-results dkim-sign inject queue " "nine services, smtps, pop3s and the filters among them"
like "$(cmdline smtpd)" " tls-wrap -s -u ${SMTPD%:*} -g ${SMTPD#*:} smtpd auth-check -n true $" "port 25: tls-wrap -s in front of smtpd, becoming the SMTP user"
like "$(cmdline pop3d)" " tls-wrap -s -u ${OWNER%:*} -g ${OWNER#*:} pop3-login mx\.test\.example " "port 110: tls-wrap -s in front of pop3-login, becoming the mail owner"
like "$(cmdline smtps)" " tls-wrap -u ${SMTPD%:*} -g ${SMTPD#*:} smtpd " "SMTPS: tls-wrap (implicit TLS) in front of smtpd"
unlike "$(cmdline smtpd)" ' -u [0-9]+ -g [0-9]+ 127\.0\.0\.1 ' "tcpsrv itself changes no user"
is "$(owner_of "$(pid_of smtpd)") $(owner_of "$(pid_of smtps)") $(owner_of "$(pid_of pop3s)")" "0 0 0" "so it keeps root, for tls-wrap to read the key"

# ---- port 25: STARTTLS --------------------------------------------------------------------------
like "$(ehlo $PS)" '(^| )starttls( |$)' "EHLO on port 25 offers STARTTLS"
is_rc 0 "swaks --tls, the certificate verified with its CA file, to alice through port 25" send $PS bob@example.com alice@example.com "tok-smtp-$$" --tls --tls-verify --tls-ca-path "$CA"
ok "delivered" delivered alice 1
like "$(received alice)" '\(using TLSv1\.[23] with cipher [A-Z0-9_-]+\) .*with ESMTPS;' "its Received: line names the TLS protocol and cipher"
nok "swaks --tls-verify against another CA fails (so the check above can fail)" send $PS bob@example.com alice@example.com "tok-bad-$$" --tls --tls-verify --tls-ca-path "$C/ca.pem"

# ---- submission: AUTH only inside TLS ----------------------------------------------------------
"$PY" - $PM > "$T/clear" 2>&1 <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10); s.ehlo("t.example")
print("features", "starttls" in s.esmtp_features, "auth" in s.esmtp_features)
print("auth", s.docmd("AUTH PLAIN", "AGFsaWNlQGV4YW1wbGUuY29tAGFsaWNlLXB3")[0])
s.quit()
EOF
is "$(cat "$T/clear")" "features True False
auth 538" "submission in clear: STARTTLS offered, AUTH neither offered nor taken (538)"
is_rc 0 "swaks --tls with AUTH, to bob through submission" send $PM alice@example.com bob@example.com "tok-sub-$$" --tls --tls-verify --tls-ca-path "$CA" --auth PLAIN --auth-user alice@example.com --auth-password alice-pw
ok "delivered" delivered bob 1
like "$(received bob)" '\(using TLSv1\.[23] .*with ESMTPSA;' "sent with TLS and AUTH (ESMTPSA)"
ok "submission's log: the login" sh -c "grep -q 'auth success ip=127\.0\.0\.1 user=alice@example\.com mech=PLAIN' '$S/log/submission/current'"

# ---- SMTPS and POP3S: implicit TLS ---------------------------------------------------------------
printf 'From: alice@example.com\r\nTo: bob@example.com\r\nSubject: tok-smtps-%s\r\n\r\nover SMTPS\r\n' $$ > "$T/msg"
is_rc 0 "curl smtps:// (the certificate verified with its CA file, AUTH) to bob" curl -sS --max-time 20 --cacert "$CA" "smtps://127.0.0.1:$PSS" \
  --user alice@example.com:alice-pw --mail-from alice@example.com --mail-rcpt bob@example.com -T "$T/msg"
ok "delivered" delivered bob 2
is_rc 60 "curl smtps:// against another CA: 60, the certificate refused" curl -sS --max-time 20 --cacert "$C/ca.pem" "smtps://127.0.0.1:$PSS" \
  --user alice@example.com:alice-pw --mail-from alice@example.com --mail-rcpt bob@example.com -T "$T/msg"
nok "curl smtps:// without AUTH: refused (REQUIREAUTH)" curl -sS --max-time 20 --cacert "$CA" "smtps://127.0.0.1:$PSS" \
  --mail-from alice@example.com --mail-rcpt bob@example.com -T "$T/msg"
ok "SMTPS's log: the refusal" sh -c "grep -q 'reject ip=127\.0\.0\.1 code=530 ' '$S/log/smtps/current'"
is "$(curl -sS --max-time 20 --cacert "$CA" "pop3s://127.0.0.1:$PPS/" --user bob@example.com:bob-pw | tr -d '\r' | cut -d' ' -f1 | tr '\n' ' ')" "1 2 " \
   "curl pop3s:// (the certificate verified) lists bob's two messages"
like "$(curl -sS --max-time 20 --cacert "$CA" "pop3s://127.0.0.1:$PPS/2" --user bob@example.com:bob-pw | tr -d '\r' | tr '\n' ' ')" \
   "Subject: tok-smtps-$$ .*over SMTPS" "and reads the one sent through SMTPS"
like "$(curl -sS --max-time 20 --ssl-reqd --cacert "$CA" "pop3://127.0.0.1:$PP/1" --user alice@example.com:alice-pw | tr -d '\r')" \
   "Subject: tok-smtp-$$" "curl --ssl-reqd pop3:// (STLS on port 110) reads alice's"
is "$(curl -sS --max-time 20 --cacert "$C/ca.pem" "pop3s://127.0.0.1:$PPS/" --user bob@example.com:bob-pw >/dev/null 2>&1; echo $?)" 60 "curl pop3s:// against another CA: 60"

# ---- who runs as whom ---------------------------------------------------------------------------
start_bg "$PY" -c 'import smtplib, ssl, sys, time
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.starttls(context=ssl.create_default_context(cafile=sys.argv[3])); s.login("alice@example.com", "alice-pw")
open(sys.argv[2], "w").write("in\n"); time.sleep(60)' $PM "$T/held" "$CA"
held=$BGPID
ok "a submission session, in TLS and logged in, is open" wait_for 10 test -s "$T/held"
wrap=$(pgrep -n -P "$(pid_of submission)" -x tls-wrap)
smtpd=$(pgrep -n -P "$wrap" -x smtpd)
is "$(owner_of "$wrap") $(owner_of "$smtpd")" "${SMTPD%:*} ${SMTPD%:*}" "after the handshake tls-wrap and smtpd run as the SMTP user"
creds() {         # PID: its effective uid, gid and groups, as setpriv's options
  awk '/^Uid:/ { u = $3 } /^Gid:/ { g = $3 } /^Groups:/ { for (i = 2; i <= NF; i++) gs = gs (gs ? "," : "") $i }
    END { print "--reuid=" u " --regid=" g " " (gs ? "--groups=" gs : "--clear-groups") }' "/proc/$1/status"
}
# shellcheck disable=SC2046
nok "with the uid, gid and groups of that smtpd, the key cannot be read" setpriv $(creds "$smtpd") cat "$S/tls/key.pem"
# shellcheck disable=SC2046
ok "the certificate can (so the check above can fail)" setpriv $(creds "$smtpd") cat "$CA"
like "$(cmdline submission)" " -w 2 .* tls-wrap -s " "submission: WORKERS resident tls-wrap processes (tcpsrv -w)"
is "$(pgrep -P "$wrap" -x smtpd | wc -l) $(ps -o stat= -p "$smtpd" | cut -c1)" "1 S" "each with one resident smtpd, its child"
reader=$(pgrep -P "$wrap" -x tls-wrap)
is "$(echo $reader | wc -w) $(owner_of "$reader")" "1 0" "... and its key reader, which alone keeps root"
stop_pid $held

# ---- a renewed certificate, no restart ----------------------------------------------------------
pids="$(pid_of smtpd) $(pid_of smtps) $(pid_of pop3s)"
is "$(peer_serial $PSS)" "$(tls_serial "$CA")" "SMTPS shows the certificate init made"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$S/tls/.new.key" -out "$S/tls/.new.pem" \
  -days 2 -subj /CN=mx.test.example -addext subjectAltName=DNS:mx.test.example,IP:127.0.0.1 >/dev/null 2>&1
chmod 600 "$S/tls/.new.key"; chmod 644 "$S/tls/.new.pem"
new=$(tls_serial "$S/tls/.new.pem")
mv "$S/tls/.new.key" "$S/tls/key.pem"; mv "$S/tls/.new.pem" "$CA"
is "$(peer_serial $PSS)" "$new" "renewed: the next SMTPS connection gets the new certificate"
is "$(starttls_serial $PS)" "$new" "and so does STARTTLS on port 25"
like "$(curl -sS --max-time 20 --cacert "$CA" "pop3s://127.0.0.1:$PPS/1" --user bob@example.com:bob-pw | tr -d '\r')" "Subject: tok-sub-$$" "curl pop3s:// verifies the new one"
is "$(pid_of smtpd) $(pid_of smtps) $(pid_of pop3s)" "$pids" "no service restarted"

# ---- a CA's certificates (-C -K) and SNI (-L) -----------------------------------------------------
mkdir -p "$T/live/other.example.org"
cp "$C/other.pem" "$T/live/other.example.org/fullchain.pem"; cp "$C/other.key" "$T/live/other.example.org/privkey.pem"
chmod 640 "$C/mx.key"
is_rc 0 "init again with -C, -K and -L" "$CTL" -d "$S" init -C "$C/mx.pem" -K "$C/mx.key" -L "$T/live" mx.test.example
like "$(cat "$T/err")" "warning: the key $C/mx\.key can be read by others than root \(mode 0640, uid 0\)" "a key others may read is warned about"
is "$(cat "$S/env/CERTFILE") $(cat "$S/env/KEYFILE") $(cat "$S/env/CERTDIR")" "$C/mx.pem $C/mx.key $T/live" "env/ names them"
is_rc 0 "restart: the services read env/ when they start" "$CTL" -d "$S" restart
is "$(peer_serial $PSS other.example.org)" "$(tls_serial "$C/other.pem")" "SNI other.example.org: its certificate, from the directory of -L"
is "$(peer_serial $PSS)" "$(tls_serial "$C/mx.pem")" "no name: the certificate of -C"
is_rc 0 "swaks --tls on port 25, verified against the test CA" send $PS bob@example.com alice@example.com "tok-ca-$$" --tls --tls-verify --tls-ca-path "$C/ca.pem"

# ---- a half setting: the run scripts refuse it -----------------------------------------------------
mv "$S/env/KEYFILE" "$T/KEYFILE"
is_rc 111 "env/KEYFILE gone: smtpd is not ready after a restart" "$CTL" -d "$S" -t 3 restart smtpd
like "$(cat "$T/err")" 'smtpd is not ready: .* the last line of its log: .*KEYFILE: parameter not set' "its log says what is missing"

# ---- TLS taken away by hand: the chains as they were ----------------------------------------------
rm -f "$S/env/CERTFILE" "$S/env/CERTDIR"
is_rc 0 "no CERTFILE, KEYFILE, CERTDIR: restart smtpd" "$CTL" -d "$S" restart smtpd
unlike "$(ehlo $PS)" 'starttls' "EHLO offers no STARTTLS"
unlike "$(cmdline smtpd)" 'tls-wrap' "no tls-wrap in the chain"
is "$(owner_of "$(pid_of smtpd)")" "${SMTPD%:*}" "tcpsrv becomes the SMTP user itself"

# ---- stop ---------------------------------------------------------------------------------------
is_rc 0 "stop" "$CTL" -d "$S" stop
is "$(instance_procs "$S")" "" "no process of the instance is left"
is "$(grep -lE 'runtime error|AddressSanitizer|LeakSanitizer' "$S"/log/*/current "$S/log/s6-svscan")" "" "no sanitizer report in any log"
is "$(ss -ltnH "( sport = :$PS or sport = :$PM or sport = :$PP or sport = :$PSS or sport = :$PPS )")" "" "no port is open"
