#!/bin/sh
# sendmail through the real queue: -t, -i and -oi (and the dot that ends a message without
# them), -f, -r, -F; the option sets that cron, cronie, PHP, mutt and git pass, ignored; the
# options that mean something sluice does not do, refused with a reason; -bs (an SMTP session
# on stdin and stdout through smtpd), -bp and the name mailq (queue-list). Then the clients
# themselves, through queue-run into a Maildir: mutt in batch mode, and a python subprocess
# started as cron and cronie start sendmail (their PATH, environment, options), and as PHP's
# mail() does.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
. "$(dirname "$0")/inject-lib.sh"
command -v mutt >/dev/null || skip_all "mutt not installed"
plan 78
q_init
q_user joe@example.com
q_user ann@example.com
start_bg "$B/queue-injectd" 2>>"$T/inject.log"
INJPID=$BGPID
wait_for 5 test -S "$Q/inject"
sm() { clean USER=alice "$B/sendmail" "$@"; }
msg='To: to@example.org
Cc: cc@example.org
Bcc: bcc@example.org
Subject: sendmail

line one
.
after the dot
'

# --- where the recipients come from ------------------------------------------------------------
printf '%s' "$msg" | sm -t
is "$?" 0 "-t: exit 0"
take
is "$(cat "$T/env")" "Falice@mx.test.example|Tto@example.org|Tcc@example.org|Tbcc@example.org||" "-t: To, Cc and Bcc"
is "$(hdr bcc)" "" "Bcc: removed"
is "$(tail -1 "$T/msg")|$(grep -c 'after the dot' "$T/msg")" "line one|0" "without -i, a line with a dot alone ends the message"
printf '%s' "$msg" | sm -t -i extra@example.org to@example.org
take
is "$(cat "$T/env")" "Falice@mx.test.example|Textra@example.org|Tto@example.org|Tcc@example.org|Tbcc@example.org||" "-t with arguments: both, each once (as Postfix)"
is "$(tail -3 "$T/msg")" "$(printf 'line one\n.\nafter the dot')" "-i: the dot line stays"
printf '%s' "$msg" | sm -oi arg@example.org
take
is "$(cat "$T/env")" "Falice@mx.test.example|Targ@example.org||" "without -t: the arguments only"
is "$(tail -1 "$T/msg")" "after the dot" "-oi is -i"
printf 'Subject: x\n\nbefore\n.' | sm a@example.org
take && is "$(tail -1 "$T/msg")" "before" "a dot as the very last line, without its newline, ends it too"
printf 'Subject: x\n\nbefore\n..\nafter\n' | sm a@example.org
take && is "$(tail -2 "$T/msg" | head -1)" ".." "two dots are text (no unstuffing)"
printf 'Subject: x\n\nbody\n' | sm -f bounce@example.net -F 'Web Site' a@example.org
take
is "$(head -c 21 "$T/env")$(hdr from)" "Fbounce@example.net|TFrom: Web Site <bounce@example.net>" "-f and -F"
printf 'Subject: x\n\nbody\n' | sm -r old@example.net a@example.org
take && is "$(head -c 18 "$T/env")" "Fold@example.net|T" "-r is -f"
printf 'Subject: x\n\nbody\n' | sm -f '<>' a@example.org
take && is "$(head -c 2 "$T/env")" "F|" "-f '<>': the null sender"
printf 'Subject: x\n\nbody\n' | sm -froot -Fname a@example.org
take && is "$(head -c 21 "$T/env")$(hdr from)" "Froot@mx.test.exampleFrom: name <root@mx.test.example>" "-fADDR and -FNAME in one word"

# --- what the usual callers pass: ignored, the message queued ----------------------------------
callers() {   # callers DESC ARGS...: exit 0, one message for a@example.org
  _d=$1; shift
  printf 'To: a@example.org\nSubject: x\n\nbody\n' | sm "$@" 2>"$T/err"
  _r=$?
  take
  is "$_r|$(cat "$T/err")|$(cat "$T/env")" "0||Falice@mx.test.example|Ta@example.org||" "$_d"
}
callers "Debian cron: -FCronDaemon -i -B8BITMIME -oem a@example.org" -FCronDaemon -i -B8BITMIME -oem a@example.org
callers "cronie: -FCronDaemon -i -odi -oem -oi -t -f alice" -FCronDaemon -i -odi -oem -oi -t -f alice
callers "PHP's mail(): -t -i" -t -i
callers "mutt: -oem -oi -- a@example.org" -oem -oi -- a@example.org
callers "mutt with DSN: -oem -oi -N failure,delay -R hdrs -V envid -- a@example.org" -oem -oi -N failure,delay -R hdrs -V envid -- a@example.org
callers "git send-email: -i a@example.org" -i a@example.org
callers "the rest: -v -m -n -U -G -L tag -h 5 -p smtp -em -Am -O DeliveryMode=b -o7 -odb -bm -B 7BIT" -v -m -n -U -G -L tag -h 5 -p smtp -em -Am -O DeliveryMode=b -o7 -odb -bm -B 7BIT -t

# --- what sendmail does not do: refused, with the reason, nothing queued ------------------------
refused() {   # refused ERE DESC ARGS..., the message $REFMSG (default: one for a@example.org)
  _e=$1 _d=$2; shift 2
  printf "${REFMSG:-To: a@example.org\n\nx\n}" | sm "$@" >/dev/null 2>"$T/err"
  _r=$?
  is "$_r|$(nothing_queued && echo empty)" "100|empty" "$_d: exit 100, nothing queued"
  like "$(cat "$T/err")" "^sendmail: (fatal|warning|usage): $_e" "$_d: says why"
}
refused 'option -bd is not supported: the SMTP service is tcpsrv and smtpd' "-bd (daemon)" -bd
refused 'option -bi is not supported: there is no aliases database' "-bi (newaliases)" -bi
refused 'option -bv is not supported' "-bv (verify)" -bv a@example.org
refused 'option -q is not supported: queue-run retries by itself' "-q (run the queue)" -q
refused 'option -q is not supported' "-q1h" -q1h
refused 'option -C is not supported: the settings are the files of \$SLUICEDIR/control' "-C file" -C /etc/mail/sendmail.cf a@example.org
refused 'option -X is not supported' "-X logfile" -X /tmp/log a@example.org
refused 'unknown option -Z' "an unknown option" -Z a@example.org
refused 'option -f needs an argument' "-f without its argument" -f
refused 'bad recipient address: -f: an option after the recipients' "an option after the recipients" a@example.org -f b@example.org
refused 'no recipient given' "no -t and no recipient" -i
REFMSG='Subject: none\n\nx\n' refused 'no recipient: none given, none in To:, Cc: or Bcc:' "-t and no recipient anywhere" -t -f a@example.org
refused 'bad recipient address: John Smith: two words without a dot' "a name for a recipient" 'John Smith'

# --- -bs: SMTP on stdin and stdout, through smtpd ----------------------------------------------
printf 'EHLO client.example\r\nMAIL FROM:<joe@example.com>\r\nRCPT TO:<far@elsewhere.example>\r\nDATA\r\nSubject: via -bs\r\n\r\nsmtp body\r\n..dot\r\n.\r\nQUIT\r\n' > "$T/session"
clean PROTO=TCP "$B/sendmail" -bs < "$T/session" > "$T/replies" 2>"$T/bs.err"
is "$?" 0 "-bs: exit 0 after QUIT"
is "$(grep -v '^250-' "$T/replies" | cut -c1-4 | tr -d '\r' | tr '\n' ' ')" "220  250  250  250  354  250  221  " "smtpd's replies on stdout: a relay to another domain is accepted"
take
is "$(cat "$T/env")" "Fjoe@example.com|Tfar@elsewhere.example||" "the envelope of the session"
like "$(cat "$T/rcv")" '^Received: \(sluice [0-9]+ invoked by uid 0\)' "the queue's Received: names the uid (PROTO from the caller ignored)"
like "$(head -1 "$T/msg")" '^Received: from client\.example \(unknown \[unknown\]\)' "then smtpd's"
is "$(tail -2 "$T/msg")" "$(printf 'smtp body\n.dot')" "the text, unstuffed"
printf 'x\n' | sm -bs a@example.org >/dev/null 2>"$T/err"
is "$?" 100 "-bs with recipients: 100"

# --- -bp, mailq -------------------------------------------------------------------------------------
printf 'To: waiting@example.org\n\nx\n' | sm -t -f q@example.net
clean "$B/sendmail" -bp > "$T/bp" 2>&1
is "$?" 0 "-bp: exit 0"
like "$(cat "$T/bp")" 'q@example\.net' "-bp lists the queue (the sender)"
like "$(cat "$T/bp")" 'waiting@example\.org' "and the recipient"
ln -s "$B/sendmail" "$T/mailq"
clean "$T/mailq" > "$T/mailq.out" 2>&1
is "$(cat "$T/mailq.out")" "$(cat "$T/bp")" "called mailq: the same list"
ln -s "$B/sendmail" "$T/newaliases"
clean "$T/newaliases" > /dev/null 2>"$T/err"
is "$?|$(cat "$T/err")" "100|sendmail: fatal: there is no aliases database to rebuild (aliases are ~alias/.qmail-* files)" "called newaliases: 100, saying why"
take

# --- the clients, through queue-run into the Maildir ----------------------------------------------
start_bg "$B/queue-spawn" "$B/queue-run" 2>>"$T/queue.log"
RUNPID=$BGPID
wait_for 5 test -p "$Q/trigger"
joefile() { ls -d "$S/domains/example.com/joe/Maildir/new/"* 2>/dev/null | tail -1; }
has() { [ "$(maildir_count "$1")" = "$2" ]; }

# mutt in batch mode, with the sendmail line its manual suggests
cat > "$T/muttrc" <<EOF
set sendmail="$B/sendmail -oem -oi"
set copy=no
set record=""
set hostname=client.example
set from="Ann Sender <ann@example.com>"
set use_envelope_from=yes
EOF
mkdir -p "$T/home"
printf 'hello from mutt\n.\nthe dot stays\n' | clean HOME="$T/home" mutt -n -F "$T/muttrc" -s 'mutt batch' -b ann@example.com joe@example.com
is "$?" 0 "mutt -n -F muttrc -s ... -b ann joe: exit 0"
wait_for 10 has joe@example.com 1
wait_for 10 has ann@example.com 1
is "$(maildir_count joe@example.com)$(maildir_count ann@example.com)" "11" "delivered to the To: and the Bcc: recipient"
f=$(joefile)
is "$(sed -n 's/^Subject: //p' "$f")" "mutt batch" "the message mutt wrote"
is "$(head -1 "$f")" "Return-Path: <ann@example.com>" "-f from mutt's use_envelope_from"
is "$(grep -ci '^bcc:' "$f")" 0 "no Bcc: line"
is "$(tail -2 "$f")" "$(printf '.\nthe dot stays')" "-oi: the dot line arrives"
like "$(grep -i '^Message-ID:' "$f")" '@client\.example>$' "mutt's own Message-ID kept"
# and with sendmail -t: mutt still passes the recipients as arguments, and they are in To:
# and Cc: too; each gets one copy
sed 's|^set sendmail=.*|set sendmail="'"$B"'/sendmail -t -oi"|' "$T/muttrc" > "$T/muttrc-t"
printf 'hello again\n' | clean HOME="$T/home" mutt -n -F "$T/muttrc-t" -s 'mutt -t' -c ann@example.com joe@example.com
is "$?" 0 "mutt with sendmail -t -oi: exit 0"
wait_for 10 has joe@example.com 2
wait_for 10 has ann@example.com 2
wait_for 10 q_empty     # every delivery done: a second copy would be there by now
is "$(maildir_count joe@example.com)$(maildir_count ann@example.com)" "22" "one copy each for the To: and the Cc: recipient (named twice: in the header, as arguments)"
is "$(sed -n 's/^Cc: //p' "$(grep -l '^Subject: mutt -t' "$S/domains/example.com/joe/Maildir/new/"*)")" "ann@example.com" "Cc: kept"

# a python subprocess started the way cron starts sendmail: cron's PATH (sendmail's directory
# not in it), its variables, its options, its message; queue-injectd stopped, so that
# queue-inject must be found beside sendmail
stop_pid "$INJPID"
"$PY" - "$B/sendmail" "$SLUICEDIR" > "$T/cron.out" 2>&1 <<'EOF'
import subprocess, sys
import os
env = {"PATH": "/usr/bin:/bin", "LOGNAME": "root", "HOME": "/root", "SHELL": "/bin/sh",
       "SLUICEDIR": sys.argv[2]}
env.update((k, v) for k, v in os.environ.items() if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"))
msg = ("From: root (Cron Daemon)\nTo: joe@example.com\nSubject: Cron <root@mx> run-parts /etc/cron.daily\n"
       "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n"
       "X-Cron-Env: <SHELL=/bin/sh>\n\nrun-parts: /etc/cron.daily/thing exited with return code 1\n")
# Debian's cron: the recipient as argument
p = subprocess.run([sys.argv[1], "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "joe@example.com"],
                   input=msg.encode(), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
print("rc=%d out=%r err=%r" % (p.returncode, p.stdout, p.stderr))
# cronie: sendmail -t, the recipient from To:
p = subprocess.run([sys.argv[1], "-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"],
                   input=msg.replace("Subject: Cron", "Subject: Cronie").encode(), env=env,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
print("rc=%d out=%r err=%r" % (p.returncode, p.stdout, p.stderr))
# PHP's mail(): sendmail -t -i, the header built by the script
msg = "To: joe@example.com\nSubject: from PHP\nX-Mailer: PHP/8\n\nsent by mail()\n"
p = subprocess.run(["sendmail", "-t", "-i"], input=msg.encode(),
                   env=dict(env, PATH=sys.argv[1].rsplit("/", 1)[0] + ":/usr/bin:/bin", LOGNAME="www-data"),
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
print("rc=%d out=%r err=%r" % (p.returncode, p.stdout, p.stderr))
EOF
is "$(cat "$T/cron.out")" "$(printf "rc=0 out=b'' err=b''\nrc=0 out=b'' err=b''\nrc=0 out=b'' err=b''")" "cron's, cronie's and PHP's calls: exit 0, nothing on stdout or stderr"
wait_for 10 has joe@example.com 5
is "$(maildir_count joe@example.com)" 5 "all three delivered"
cron=$(grep -l '^Subject: Cron <' "$S/domains/example.com/joe/Maildir/new/"*)
is "$(grep '^From:' "$cron")" "From: root@mx.test.example (Cron Daemon)" "cron's From: kept, its address qualified"
is "$(head -1 "$cron")" "Return-Path: <root@mx.test.example>" "the envelope sender from LOGNAME"
is "$(tail -1 "$cron")" "run-parts: /etc/cron.daily/thing exited with return code 1" "cron's text"
like "$(grep '^Received: (sluice' "$cron")" 'invoked by uid 0' "queued by queue-inject"
cronie=$(grep -l '^Subject: Cronie' "$S/domains/example.com/joe/Maildir/new/"*)
is "$(head -1 "$cronie")|$(tail -1 "$cronie")" "Return-Path: <root@mx.test.example>|run-parts: /etc/cron.daily/thing exited with return code 1" "cronie's sendmail -t -f root: delivered, from root qualified"
php=$(grep -l '^Subject: from PHP' "$S/domains/example.com/joe/Maildir/new/"*)
is "$(grep '^From:' "$php")" "From: www-data@mx.test.example" "PHP's: From: added for the web server's user"
like "$(grep -i '^Date:' "$php")" '^Date: ' "and Date:"
