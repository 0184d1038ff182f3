#!/bin/sh
# sluice-ctl without running services: bad usage, init (the instance root it makes, who owns
# what, the settings it writes and keeps when run again, the users it refuses, the useradd
# lines of -c, the SMTP user an instance made before it gets), TLS (-C -K, -L, -S: what init
# refuses, the files it names, the self-signed pair it makes with the key root's alone, the
# smtps and pop3s services only with a certificate), status and stop of an instance that is
# not running, reload's rules, and an instance made by an installed copy (make install).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/services-lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root: init gives the queue and the logs to other users"
plan 129
C=$B/sluice-ctl
chmod 755 "$T"
free_ids
S=$T/sl

# ---- bad usage ----------------------------------------------------------------------------
is_rc 100 "no command: usage" "$C"
like "$(cat "$T/err")" '^sluice-ctl: usage: sluice-ctl \[ -d dir \]' "the usage line names the options"
is_rc 100 "an unknown command" "$C" -d "$S" frobnicate
like "$(cat "$T/err")" 'unknown command: frobnicate' "it is named"
is_rc 100 "-t 0" "$C" -t 0 status
is_rc 100 "-t not a number" "$C" -t 5s status
is_rc 100 "a command on no instance" "$C" -d "$T/none" status
like "$(cat "$T/err")" "no instance at $T/none: run sluice-ctl init first" "says to run init"
is_rc 100 "init without a host name" "$C" -d "$S" init $IDOPTS
is_rc 100 "init with two" "$C" -d "$S" init $IDOPTS a.example b.example
is_rc 100 "init: a host name with a slash" "$C" -d "$S" init $IDOPTS 'mx/x.example'
like "$(cat "$T/err")" 'not a host name: mx/x\.example' "it is named"
is_rc 100 "init: -p without a port" "$C" -d "$S" init $IDOPTS -p smtpd mx.t.example
is_rc 100 "init: -p port 0" "$C" -d "$S" init $IDOPTS -p smtpd:0 mx.t.example
is_rc 100 "init: -p port 65536" "$C" -d "$S" init $IDOPTS -p smtpd:65536 mx.t.example
is_rc 100 "init: -p for the queue, which has no port" "$C" -d "$S" init $IDOPTS -p queue:25 mx.t.example
like "$(cat "$T/err")" 'no network service of that name: queue' "it says so"
is_rc 100 "init: an address with a blank" "$C" -d "$S" init $IDOPTS -a '127.0.0.1 x' mx.t.example
is_rc 100 "init: the mail owner as root" "$C" -d "$S" init -o 0:0 -q $QUEUE -s $SMTPD -r $REMOTE -l $LOG -F $FILTER mx.t.example
like "$(cat "$T/err")" 'the mail owner must not be root' "it says why"
is_rc 100 "init: the log user's gid 0" "$C" -d "$S" init -o $OWNER -q $QUEUE -s $SMTPD -r $REMOTE -l 4259:0 -F $FILTER mx.t.example
like "$(cat "$T/err")" 'the log user must not be root \(uid or gid 0\): 4259:0' "it is named"
is_rc 100 "init: a user that does not exist, without -c" "$C" -d "$S" init -o sluice-no-such-user -q $QUEUE -s $SMTPD -r $REMOTE -l $LOG -F $FILTER mx.t.example
like "$(cat "$T/err")" 'no such user: sluice-no-such-user \(the mail owner\): give -c to create it, or uid:gid' "and how to go on"
is_rc 100 "init: a queue user of another group than the mail owner" "$C" -d "$S" init -o $OWNER -q ${QUEUE%:*}:${REMOTE#*:} -s $SMTPD -r $REMOTE -l $LOG -F $FILTER mx.t.example
like "$(cat "$T/err")" "the queue user's group must be the mail owner's" "it says why"
is_rc 100 "init: the queue user as the mail owner" "$C" -d "$S" init -o $OWNER -q $OWNER -s $SMTPD -r $REMOTE -l $LOG -F $FILTER mx.t.example
is_rc 100 "init: the SMTP user as root" "$C" -d "$S" init -o $OWNER -q $QUEUE -s 0:0 -r $REMOTE -l $LOG -F $FILTER mx.t.example
like "$(cat "$T/err")" 'the SMTP user must not be root' "it says so"
is_rc 100 "init: the SMTP user as the mail owner" "$C" -d "$S" init -o $OWNER -q $QUEUE -s $OWNER -r $REMOTE -l $LOG -F $FILTER mx.t.example
like "$(cat "$T/err")" 'the SMTP user must not be the mail owner: the mailboxes would be open to smtpd' "it says why"
is_rc 100 "init: the SMTP user as the queue user" "$C" -d "$S" init -o $OWNER -q $QUEUE -s $QUEUE -r $REMOTE -l $LOG -F $FILTER mx.t.example
like "$(cat "$T/err")" 'the SMTP user must not be the queue user' "it says why"
is_rc 100 "init: an SMTP user of another group than the mail owner" "$C" -d "$S" init -o $OWNER -q $QUEUE -s ${SMTPD%:*}:${REMOTE#*:} -r $REMOTE -l $LOG -F $FILTER mx.t.example
like "$(cat "$T/err")" "the SMTP user's group must be the mail owner's: smtpd reads the users database" "it says why"
is_rc 100 "init: an SMTP user that does not exist, without -c" "$C" -d "$S" init -o $OWNER -q $QUEUE -s sluice-no-such-user -r $REMOTE -l $LOG -F $FILTER mx.t.example
like "$(cat "$T/err")" 'no such user: sluice-no-such-user \(the SMTP user\)' "it is named"
is "$(ls -A "$S")" "" "refused, init wrote nothing"

# ---- -c: the users a real install gets (useradd and groupadd replaced, to change nothing) --
mkdir "$T/fake"
for t in useradd groupadd; do
  printf '#!/bin/sh\necho "%s $*" >> "%s/added"\nexit ${FAKE_RC:-0}\n' "$t" "$T" > "$T/fake/$t"
  chmod +x "$T/fake/$t"
done
getent group sluice >/dev/null && group_there=1 || group_there=0
PATH=$T/fake:$PATH is_rc 100 "-c runs useradd; a user still missing then is an error" "$C" -d "$S" init -c -q $QUEUE -r $REMOTE -l $LOG mx.t.example
want="useradd --system --gid sluice --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin sluice-mail"
[ $group_there = 0 ] && want="groupadd --system sluice
$want"
is "$(cat "$T/added")" "$want" "-c: the mail owner is a system user without a home or shell, of the group sluice"
rm -f "$T/added"
PATH=$T/fake:$PATH is_rc 100 "-c without -s: useradd for the SMTP user" "$C" -d "$S" init -c -o $OWNER -q $QUEUE -r $REMOTE -l $LOG mx.t.example
is "$(cat "$T/added")" "useradd --system --gid ${OWNER#*:} --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin sluice-smtpd" \
   "-c: the SMTP user is a system user without a home or shell, of the mail owner's group"
like "$(cat "$T/err")" 'no such user: sluice-smtpd \(the SMTP user\)' "(the fake useradd made no user)"
rm -f "$T/added"
FAKE_RC=9 PATH=$T/fake:$PATH is_rc 111 "-c: a failing useradd is a temporary failure" "$C" -d "$S" init -c -o $OWNER -q $QUEUE -r $REMOTE -l sluice-no-such-log mx.t.example
like "$(cat "$T/err")" '(useradd|groupadd) failed' "it is named"

# ---- init ---------------------------------------------------------------------------------
P1=$(free_port); P2=$(free_port); P3=$(free_port)
is_rc 0 "init with numeric ids, an address and ports" "$C" -d "$S" init $IDOPTS -a 127.0.0.1 -p smtpd:$P1 -p submission:$P2 -p pop3d:$P3 MX.T.example
is "$(cat "$S/control/me") $(cat "$S/control/rcpthosts") $(cat "$S/control/locals") $(cat "$S/control/mailowner")" \
   "MX.T.example MX.T.example MX.T.example $OWNER" "control: me, rcpthosts, locals and mailowner"
perm() { stat -c '%a %u:%g' "$1"; }
is "$(perm "$S/queue")" "711 $QUEUE" "queue/: the queue user's, others may only reach the socket"
is "$(for d in tmp todo mess info; do perm "$S/queue/$d"; done | sort -u)" "700 $QUEUE" "queue/tmp todo mess info: the queue user's alone"
is "$(perm "$S/users") $(perm "$S/users/cdb")" "750 0:${OWNER#*:} 640 0:${OWNER#*:}" "the users database: root's, read by the mail owner's group"
is "$(perm "$S/authfail")" "660 $OWNER" "authfail: written by auth-check as the mail owner and as the SMTP user, of its group"
is "$(for s in smtpd submission pop3d inject queue; do perm "$S/log/$s"; done | sort -u)" "750 $LOG" "one log directory per service, the log user's"
is "$(cat "$S/env/SLUICEDIR")" "$S" "env/SLUICEDIR: the instance root"
like "$(cat "$S/env/PATH")" "^$B:" "env/PATH: these tools first (not the classic ones of the same names)"
is "$(cat "$S/env/LOGUSER") $(cat "$S/env/LOGSIZE") $(cat "$S/env/LOGFILES")" "$LOG 1000000 20" "env: the loggers' user, size and count"
got=""
for s in smtpd submission pop3d inject queue; do got="$got $s=$(cat "$S/service/$s/env/RUNAS")"; done
is "$got" " smtpd=$SMTPD submission=$SMTPD pop3d=$OWNER inject=$QUEUE queue=$QUEUE" "RUNAS of each service: SMTP as the SMTP user, POP3 as the mail owner"
is "$(cat "$S/service/queue/env/REMOTE")" "$REMOTE" "remote deliveries run as the remote user"
is "$(cat "$S/service/smtpd/env/PORT") $(cat "$S/service/submission/env/PORT") $(cat "$S/service/pop3d/env/PORT") $(cat "$S/service/smtpd/env/IP")" \
   "$P1 $P2 $P3 127.0.0.1" "the ports and the address asked for"
is "$(cat "$S/service/submission/env/REQUIREAUTH") $(wc -c < "$S/service/smtpd/env/BLOCKLISTS")" "1 0" "submission requires AUTH; no DNS block list until one is set"
bad=""
for s in smtpd submission pop3d inject queue; do
  cmp -s "$TOP/services/$s/run" "$S/service/$s/run" && [ -x "$S/service/$s/run" ] && sh -n "$S/service/$s/run" || bad="$bad $s"
  cmp -s "$TOP/services/$s/log/run" "$S/service/$s/log/run" && [ -x "$S/service/$s/log/run" ] || bad="$bad $s/log"
  [ "$(cat "$S/service/$s/log/env/LOGDIR")" = "$S/log/$s" ] || bad="$bad $s/LOGDIR"
done
is "$bad" "" "the run scripts are the shipped ones, executable, valid sh; each logger writes in log/NAME"
is "$(TCPREMOTEIP=127.0.0.1 "$B/tcprules-check" "$S/rules/smtp.cdb" | tail -1) $(TCPREMOTEIP=192.0.2.1 "$B/tcprules-check" "$S/rules/submission.cdb" | tail -1)" \
   "allow connection allow connection" "the shipped rules are there, compiled"

# run again: code replaced, settings kept unless given, users found in the instance
echo 2600 > "$S/service/smtpd/env/PORT"
echo 'example.org' >> "$S/control/rcpthosts"
echo 'broken' > "$S/service/queue/run"
echo '127.0.0.9:deny' > "$S/rules/local.txt"
is_rc 0 "init again, without the user options" "$C" -d "$S" init mx.t.example
is "$(cat "$S/service/smtpd/env/PORT") $(tr '\n' ' ' < "$S/control/rcpthosts")$(cat "$S/control/me")" "2600 MX.T.example example.org mx.t.example" \
   "a setting changed by hand stays, control/me is the new name"
ok "a run script is the shipped one again" cmp "$TOP/services/queue/run" "$S/service/queue/run"
is "$(cat "$S/service/pop3d/env/RUNAS") $(cat "$S/service/smtpd/env/RUNAS") $(cat "$S/service/submission/env/RUNAS") $(cat "$S/service/queue/env/REMOTE") $(cat "$S/env/LOGUSER")" \
   "$OWNER $SMTPD $SMTPD $REMOTE $LOG" "the users of the instance are kept"
is "$(TCPREMOTEIP=127.0.0.9 "$B/tcprules-check" "$S/rules/local.cdb" | tail -1)" "deny connection" "every rules/*.txt is compiled"
is_rc 0 "init again with a port" "$C" -d "$S" init -p smtpd:$P1 mx.t.example
is "$(cat "$S/service/smtpd/env/PORT")" "$P1" "a setting given is written"

# an instance made before the SMTP user, whose smtpd and submission ran as the mail owner
echo "$OWNER" > "$S/service/smtpd/env/RUNAS"
echo "$OWNER" > "$S/service/submission/env/RUNAS"
is_rc 100 "init again on it, without -s: the SMTP user is the default one, which does not exist" "$C" -d "$S" init mx.t.example
like "$(cat "$T/err")" 'no such user: sluice-smtpd \(the SMTP user\): give -c to create it, or uid:gid' "it says how to go on"
is "$(cat "$S/service/smtpd/env/RUNAS") $(cat "$S/service/submission/env/RUNAS")" "$OWNER $OWNER" "refused, nothing changed"
is_rc 0 "init again with -s" "$C" -d "$S" init -s "$SMTPD" mx.t.example
is "$(cat "$S/service/smtpd/env/RUNAS") $(cat "$S/service/submission/env/RUNAS") $(cat "$S/service/pop3d/env/RUNAS")" "$SMTPD $SMTPD $OWNER" \
   "smtpd and submission run as the SMTP user now, pop3d as the mail owner still"

# a queue that belongs to someone else is not taken over
chown 4259 "$S/queue"
is_rc 100 "init again: the queue belongs to another uid" "$C" -d "$S" init mx.t.example
like "$(cat "$T/err")" "$S/queue belongs to uid 4259, not to the queue user" "it says so"
chown "$QUEUE" "$S/queue"

# ---- init: TLS ----------------------------------------------------------------------------
is "$(ls "$S/service" | tr '\n' ' ')$(ls "$S/env" | grep -c -e CERT -e KEYFILE) $(test -e "$S/tls" && echo tls/)" "auth-results dkim-sign inject pop3d queue smtpd submission 0 " \
   "without a certificate: no smtps or pop3s service, no CERTFILE, KEYFILE or CERTDIR, no tls/"
selfsigned() {    # NAME: NAME.pem and NAME.key in $T/pem, a self-signed pair
  mkdir -p "$T/pem" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/pem/$1.key" \
    -out "$T/pem/$1.pem" -days 2 -subj "/CN=$1" >/dev/null 2>&1 && chmod 600 "$T/pem/$1.key"
}
selfsigned mx.t.example || { diag "openssl req failed"; exit 1; }
L=$T/tl
is_rc 100 "init: -C without -K" "$C" -d "$L" init $IDOPTS -C "$T/pem/mx.t.example.pem" mx.t.example
like "$(cat "$T/err")" '\-C and -K go together' "it says so"
is_rc 100 "init: -S with -C and -K" "$C" -d "$L" init $IDOPTS -S -C "$T/pem/mx.t.example.pem" -K "$T/pem/mx.t.example.key" mx.t.example
is_rc 100 "init: -p smtps without a certificate" "$C" -d "$L" init $IDOPTS -p smtps:4650 mx.t.example
like "$(cat "$T/err")" 'the service smtps is TLS alone and needs a certificate: give -C and -K, -L or -S' "it says what to give"
is_rc 100 "init: -C names no file" "$C" -d "$L" init $IDOPTS -C "$T/pem/none.pem" -K "$T/pem/mx.t.example.key" mx.t.example
like "$(cat "$T/err")" "no such file: $T/pem/none\.pem, the certificate" "it is named"
is_rc 100 "init: the certificate and the key swapped" "$C" -d "$L" init $IDOPTS -C "$T/pem/mx.t.example.key" -K "$T/pem/mx.t.example.pem" mx.t.example
like "$(cat "$T/err")" "$T/pem/mx\.t\.example\.key is not a PEM file that holds the certificate" "it says which file holds what it should not"
is_rc 100 "init: -L names a file" "$C" -d "$L" init $IDOPTS -L "$T/pem/mx.t.example.pem" mx.t.example
like "$(cat "$T/err")" "not a directory: $T/pem/mx\.t\.example\.pem" "it is named"
is_rc 100 "init: -L alone, with no directory for the host name in it" "$C" -d "$L" init $IDOPTS -L "$T/pem" MX.T.example
like "$(cat "$T/err")" "no such file: $T/pem/mx\.t\.example/fullchain\.pem, the certificate" "the file it looked for is named, in the lower case certbot writes"
is "$(ls -A "$L" 2>/dev/null)" "" "refused, init wrote nothing"
mkdir "$T/empty"
is_rc 111 "init -S without openssl: 111" env PATH="$T/empty" "$C" -d "$L" init $IDOPTS -S mx.t.example
like "$(cat "$T/err")" 'unable to make a self-signed certificate: openssl req failed \(is openssl installed\?\)' "it says so"
is "$(ls -A "$L")" "" "and has written nothing"
rm -rf "$L"
is_rc 0 "init -C and -K, relative names" sh -c "cd '$T/pem' && exec '$C' -d '$L' init $IDOPTS -C mx.t.example.pem -K mx.t.example.key mx.t.example"
is "$(cat "$L/env/CERTFILE") $(cat "$L/env/KEYFILE") $(cat "$T/err")" "$T/pem/mx.t.example.pem $T/pem/mx.t.example.key " \
   "env/CERTFILE and env/KEYFILE name them from / (the services run elsewhere); a key of root's alone, no warning"
is "$(ls "$L/service" | tr '\n' ' ')$(perm "$L/log/smtps") $(perm "$L/log/pop3s")" "auth-results dkim-sign inject pop3d pop3s queue smtpd smtps submission 750 $LOG 750 $LOG" \
   "with a certificate: the smtps and pop3s services, with their log directories"
ok "their run scripts are the shipped ones" sh -c "cmp '$TOP/services/smtps/run' '$L/service/smtps/run' && cmp '$TOP/services/pop3s/run' '$L/service/pop3s/run'"
is "$(cat "$L/service/smtps/env/PORT") $(cat "$L/service/pop3s/env/PORT") $(cat "$L/service/smtps/env/REQUIREAUTH")" "465 995 1" "ports 465 and 995; SMTPS requires AUTH"
is_rc 0 "init -S: the instance's own self-signed certificate instead" "$C" -d "$L" init -S mx.t.example
is "$(perm "$L/tls") $(perm "$L/tls/key.pem") $(perm "$L/tls/cert.pem") $(cat "$L/env/CERTFILE")" "755 0:0 600 0:0 644 0:0 $L/tls/cert.pem" \
   "tls/key.pem is root's alone (0600), tls/cert.pem readable by all, and named in env/"
like "$(openssl x509 -in "$L/tls/cert.pem" -noout -subject -ext subjectAltName 2>&1 | tr '\n' ' ')" 'CN ?= ?mx\.t\.example .*DNS:mx\.t\.example *$' \
   "for the host name (no address: -a was not given)"
serial=$(openssl x509 -in "$L/tls/cert.pem" -noout -serial)
is_rc 0 "init -S again" "$C" -d "$L" init -S mx.t.example
is "$(openssl x509 -in "$L/tls/cert.pem" -noout -serial)" "$serial" "the certificate is kept, not made again"
is_rc 0 "init again, no TLS option" "$C" -d "$L" init mx.t.example
is "$(cat "$L/env/CERTFILE") $(cat "$L/env/KEYFILE") $(ls "$L/service" | grep -cx -e smtps -e pop3s)" "$L/tls/cert.pem $L/tls/key.pem 2" "the setting and the TLS services stay"
chmod 644 "$L/tls/key.pem"
is_rc 0 "init with a key readable by all: done" "$C" -d "$L" init mx.t.example
like "$(cat "$T/err")" "warning: the key $L/tls/key\.pem can be read by others than root \(mode 0644, uid 0\): tls-wrap reads it as root, so chown root and chmod 600 it" "with a warning"
rm "$L/env/CERTFILE" "$L/env/KEYFILE"; echo "$T/pem" > "$L/env/CERTDIR"
is_rc 100 "an instance with CERTDIR alone (set by hand)" "$C" -d "$L" init mx.t.example
like "$(cat "$T/err")" 'names a part of its TLS setting alone .*give -C and -K, -L or -S' "it says what to give"

# ---- not running --------------------------------------------------------------------------
is_rc 100 "status of a service that does not exist" "$C" -d "$S" status smtpd nosuch
like "$(cat "$T/err")" "no such service: nosuch in $S" "it is named"
is_rc 100 "start of one" "$C" -d "$S" start nosuch
is_rc 111 "status of an instance not started: not all up" "$C" -d "$S" status
is "$(cat "$T/out")" "pop3d: down (not supervised: sluice-ctl start)
smtpd: down (not supervised: sluice-ctl start)
submission: down (not supervised: sluice-ctl start)
auth-results: down (not supervised: sluice-ctl start)
dkim-sign: down (not supervised: sluice-ctl start)
inject: down (not supervised: sluice-ctl start)
queue: down (not supervised: sluice-ctl start)" "status says so for each service, the queue's last"
is_rc 0 "stop when nothing runs" "$C" -d "$S" stop
is_rc 111 "flush when the queue does not run" "$C" -d "$S" flush
is_rc 0 "queue: an empty queue" "$C" -d "$S" queue

# ---- reload: the rules ----------------------------------------------------------------------
echo '127.0.0.7:deny' > "$S/rules/pop3.txt"
is_rc 0 "reload" "$C" -d "$S" reload
is "$(TCPREMOTEIP=127.0.0.7 "$B/tcprules-check" "$S/rules/pop3.cdb" | tail -1)" "deny connection" "reload compiled the changed rules"
echo 'not a rule' > "$S/rules/pop3.txt"
is_rc 100 "reload with a bad rules line: 100" "$C" -d "$S" reload
like "$(cat "$T/err")" "rules not compiled, the old database stays: $S/rules/pop3.txt has a bad line" "names the file"
is "$(TCPREMOTEIP=127.0.0.7 "$B/tcprules-check" "$S/rules/pop3.cdb" | tail -1)" "deny connection" "the old database stays"
echo ':allow' > "$S/rules/pop3.txt"
echo 'a bad line' >> "$S/users/domains"
cksum < "$S/users/cdb" > "$T/cdb.sum"
is_rc 100 "reload with a bad line in the users database: 100" "$C" -d "$S" reload
like "$(tr '\n' ' ' < "$T/err")" "users/domains line 1: .*the users database was not rebuilt, the old one stays" "names the file and line"
is "$(cksum < "$S/users/cdb")" "$(cat "$T/cdb.sum")" "the old users database stays"

# ---- an installed copy finds what it copies ---------------------------------------------------
ok "make install" make -s -C "$TOP" install PREFIX="$T/usr" SANITIZE="${SLUICE_SANITIZE:-}"
is_rc 0 "the installed sluice-ctl makes an instance" "$T/usr/bin/sluice-ctl" -d "$T/inst" init $IDOPTS mx.t.example
ok "from the installed service directories" cmp "$TOP/services/smtpd/run" "$T/inst/service/smtpd/run"
like "$(cat "$T/inst/env/PATH")" "^$T/usr/bin:" "whose tools come first in the services' PATH"
