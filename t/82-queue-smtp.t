#!/bin/sh
# The whole chain, no stand-in: swaks and python's smtplib -> tcpsrv -> smtpd (an unprivileged
# user) -> queue-injectd -> queue-run -> queue-spawn -> queue-local -> the Maildirs of virtual
# users made with mail-user, read back byte for byte with python's mailbox module; the 250
# reply and the log lines that tie smtpd's accept to the queue's messages; what smtpd says when
# queue-injectd is not there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root: deliveries run as the domain's owner, smtpd as another user"
command -v swaks >/dev/null 2>&1 || skip_all "swaks is not installed"
plan 16
q_init
q_user alice@example.com
q_user bob@example.com
H=$S/domains/example.com
SMTPD_UID=4247
# smtpd reads the users database (its recipients): the database's group is smtpd's, as an
# installation sets it once (mail-user keeps the owner and mode of the file it replaces)
chgrp $SMTPD_UID "$S/users" "$S/users/cdb"
chmod 750 "$S/users"
INJOPTS="-N $SMTPD_UID"   # smtpd's word that it wrote its own Received: line is taken
q_start
start_bg "$B/tcpsrv" -1 -u $SMTPD_UID -g $SMTPD_UID -H -R -l mx.test.example 127.0.0.1 0 "$B/smtpd" > "$T/port" 2> "$T/smtpd.log"
wait_for 5 test -s "$T/port"
PORT=$(head -1 "$T/port")

# a message with what SMTP makes hard: dots at the start of lines, a line that is only a dot,
# a long line, 8-bit text, empty lines, trailing blanks (python's smtplib stuffs the dots)
python3 - > "$T/body" <<'EOF'
import sys
out = sys.stdout.buffer
out.write(b"Subject: swaks test\r\n\r\nFirst line\r\n.a dot at the start\r\n..two dots\r\n.\r\n\r\n\r\n")
out.write(b"after two empty lines   \r\n" + b"x" * 990 + b"\r\n")
out.write("8-bit: caf\u00e9 \u00fcber \u00e6\u00f8\u00e5\r\n".encode())
EOF
python3 - "$PORT" "$T/body" > "$T/swaks.out" 2>&1 <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.test")
s.ehlo()
code, text = s.mail("sender@remote.example", ["BODY=8BITMIME"])
s.rcpt("alice@example.com")
code, text = s.data(open(sys.argv[2], "rb").read())
print("<- ", code, text.decode())
s.quit()
EOF
is "$?" 0 "smtplib: the message is accepted"
like "$(cat "$T/swaks.out")" '^<- +250 2\.0\.0 ok queued as [0-9]+\.[0-9]{6}\.[0-9]+$' "the 250 reply carries the queue ID"
id=$(sed 's/.*queued as //' "$T/swaks.out")
ok "delivered to alice's Maildir" wait_eq 10 1 maildir_count alice@example.com
like "$(grep '^accept' "$T/smtpd.log")" "^accept ip=127\.0\.0\.1 id=$id bytes=[0-9]+ from=<sender@remote\.example> to=<alice@example\.com>$" "smtpd's accept line has the same ID"
like "$(grep "^new msg $id\$" "$T/queue.log")" "new msg $id" "and queue-run's new msg line"
like "$(grep "^info msg $id:" "$T/queue.log")" "uid $SMTPD_UID\$" "injected by smtpd's uid, as queue-injectd saw it"
python3 - "$H/alice/Maildir" "$T/body" > "$T/got" <<'EOF'
import mailbox, sys
box = mailbox.Maildir(sys.argv[1], factory=None, create=False)
(key, m), = box.items()
sent = open(sys.argv[2], "rb").read().replace(b"\r\n", b"\n")
raw = box.get_bytes(key)
head, body = raw.split(b"\n\n", 1)
sent = sent.split(b"\n\n", 1)[1]
print(m["Return-Path"], m["Delivered-To"], m["Subject"])
print("body byte for byte" if body == sent else "body differs: %r" % body[:200])
print(len([l for l in head.split(b"\n") if l.startswith(b"Received:")]))
EOF
is "$(sed -n 1p "$T/got")" "<sender@remote.example> alice@example.com swaks test" "python's mailbox reads it: Return-Path, Delivered-To, Subject"
is "$(sed -n 2p "$T/got")" "body byte for byte" "the body byte for byte, dots unstuffed, 8-bit kept"
is "$(sed -n 3p "$T/got")" 1 "one Received: line, smtpd's (queue-injectd adds none for a network server)"

# many messages on one connection, and several recipients
python3 - "$PORT" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
for i in range(20):
    s.sendmail("sender@remote.example", ["alice@example.com", "bob@example.com"],
               "Subject: msg %d\r\n\r\nbody %d\r\n" % (i, i))
s.quit()
EOF
is "$?" 0 "20 messages to two recipients on one connection: accepted"
ok "all 20 in each Maildir" wait_eq 15 21:20 sh -c "echo \$(ls '$H/alice/Maildir/new' | wc -l):\$(ls '$H/bob/Maildir/new' | wc -l)"
ok "and the queue is empty" wait_for 10 q_empty

# an unknown user of the domain is refused at RCPT, before the queue sees anything
swaks --server 127.0.0.1:$PORT --from sender@remote.example --to nobody@example.com > "$T/swaks.out" 2>&1
like "$(grep -E '^<\*\* +550' "$T/swaks.out")" '550 5\.1\.1' "an unknown user: 550 5.1.1 at RCPT"

# without queue-injectd, smtpd (not the queue's owner) cannot queue: 451, and the mail is not lost
stop_pid "$INJPID"
rm -f "$Q/inject"
swaks --server 127.0.0.1:$PORT --from sender@remote.example --to bob@example.com > "$T/swaks.out" 2>&1
like "$(grep -E '^<\*\* +451' "$T/swaks.out")" '451 4\.3\.0 queue failure' "queue-injectd stopped: 451 (the client keeps the mail)"
start_bg "$B/queue-injectd" $INJOPTS 2>>"$T/inject.log"
INJPID=$BGPID
wait_for 5 test -S "$Q/inject"
swaks --server 127.0.0.1:$PORT --from sender@remote.example --to bob@example.com > "$T/swaks.out" 2>&1
is "$?" 0 "queue-injectd back: the retry is accepted"
ok "and delivered" wait_eq 10 21 maildir_count bob@example.com
