#!/bin/sh
# autorespond through the whole chain: python's smtplib -> tcpsrv -> smtpd -> queue-injectd ->
# queue-run -> queue-local -> alice's .qmail, written by mail-user vacation, with
# |autorespond ./vacation. Three senders and a list: each sender gets one reply (read back
# with python's email module: RFC 3834's shape), a second mail within the interval gets none,
# the list, the null sender and the other RFC 3834 cases get none, alice's Maildir holds
# every original; vacation off removes the .qmail.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root: deliveries run as the domain's owner, smtpd as another user"
plan 33
q_init
"$B/mail-user" adddomain -u $OWNER:$OWNER example.org </dev/null >/dev/null
q_user alice@example.com
for u in s1 s2 s3 news; do q_user $u@example.org; done
H=$S/domains/example.com
O=$S/domains/example.org
SMTPD_UID=4247
chgrp $SMTPD_UID "$S/users" "$S/users/cdb"
chmod 750 "$S/users"

printf 'Subject: Away: ${SUBJECT}\n\nI am away until Monday \342\200\224 caf\303\251 closed.\n' > "$T/away"
is_rc 0 "mail-user vacation on with a message file" "$B/mail-user" vacation alice@example.com on "$T/away"
is "$(cat "$H/alice/.qmail" | sed 1d)" "./Maildir/
|autorespond ./vacation" "the .qmail keeps the mail, then answers it"
ok "the message is in alice's vacation/" cmp "$T/away" "$H/alice/vacation/message"
is "$(stat -c %u:%a "$H/alice/.qmail")" "$OWNER:600" "owned by the domain's owner, 0600"

INJOPTS="-N $SMTPD_UID"
q_start
start_bg "$B/tcpsrv" -1 -u $SMTPD_UID -g $SMTPD_UID -H -R -l mx.test.example 127.0.0.1 0 "$B/smtpd" > "$T/port" 2> "$T/smtpd.log"
wait_for 5 test -s "$T/port"
PORT=$(head -1 "$T/port")

# the mail: (envelope sender, extra header lines, subject); every one to alice, in To: unless
# said otherwise
# the first three, then (once autorespond has recorded their senders, so that s1's first mail
# is the one answered, whatever order the queue delivers in) the rest
cat > "$T/send.py" <<'EOF'
import smtplib, sys
mails = [
  ("s1@example.org", "To: Alice <alice@example.com>\r\n", "=?UTF-8?Q?gr=C3=BC=C3=9Fe?= from s1", "<m1@example.org>", ""),
  ("s2@example.org", "To: bob@example.net\r\nCc: ALICE@example.com\r\n", "plain question", "<m2@example.org>", "References: <m0@example.org>\r\n"),
  ("s3@example.org", "To: alice@example.com\r\n", "Re: an old thread", "<m3@example.org>", ""),
  ("s1@example.org", "To: alice@example.com\r\n", "s1 again, within the interval", "<m4@example.org>", ""),
  ("news@example.org", "To: news@example.org\r\nList-Id: <news.example.org>\r\n", "the list", "<m5@example.org>", ""),
  ("news@example.org", "To: alice@example.com\r\nPrecedence: bulk\r\n", "bulk", "<m6@example.org>", ""),
  ("news@example.org", "To: alice@example.com\r\nAuto-Submitted: auto-generated\r\n", "generated", "<m7@example.org>", ""),
  ("news@example.org", "To: other@example.com\r\n", "alice in Bcc", "<m8@example.org>", ""),
  ("", "To: alice@example.com\r\n", "a bounce", "<m9@example.org>", ""),
]
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.test")
part = mails[:3] if sys.argv[2] == "first" else mails[3:]
for sender, hdr, subj, mid, extra in part:
    msg = ("From: %s\r\n%sSubject: %s\r\nMessage-ID: %s\r\n%s\r\nHello.\r\n" % (sender or "MAILER-DAEMON@example.org", hdr, subj, mid, extra))
    s.sendmail(sender, ["alice@example.com"], msg.encode())
s.quit()
print("sent", len(part))
EOF
"$PY" "$T/send.py" "$PORT" first > "$T/sent" 2>&1
wait_eq 30 3 sh -c "cat '$H/alice/vacation/replied' 2>/dev/null | wc -l"
"$PY" "$T/send.py" "$PORT" rest >> "$T/sent" 2>&1
is "$(cat "$T/sent" | tr '\n' ' ')" "sent 3 sent 6 " "nine messages accepted by smtpd"
ok "alice's Maildir holds every original" wait_eq 15 9 maildir_count alice@example.com
ok "the three replies are delivered" wait_eq 15 1:1:1 sh -c "echo \$(ls '$O/s1/Maildir/new' | wc -l):\$(ls '$O/s2/Maildir/new' | wc -l):\$(ls '$O/s3/Maildir/new' | wc -l)"
ok "and the queue is empty" wait_for 15 q_empty
is "$(ls "$O/news/Maildir/new" | wc -l)" 0 "no reply to the list, to bulk or generated mail, or to a Bcc"
is "$(grep -c ' s1@example.org$' "$H/alice/vacation/replied")" 1 "the record: s1 once, though it wrote twice"
is "$(wc -l < "$H/alice/vacation/replied")" 3 "three senders recorded, no one else"
unlike "$(cat "$T/queue.log")" 'autorespond' "autorespond said nothing in the log"

# the replies, as python's email module reads them
"$PY" - "$O/s1/Maildir" "$O/s2/Maildir" "$O/s3/Maildir" > "$T/check" 2>&1 <<'EOF'
import email, email.policy, mailbox, sys
from email.header import decode_header, make_header
for d in sys.argv[1:]:
    box = mailbox.Maildir(d, factory=None, create=False)
    (key, _), = box.items()
    m = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
    print("return-path", m["Return-Path"])
    print("auto", m["Auto-Submitted"])
    print("from", m["From"], "to", m["To"])
    print("subject", str(make_header(decode_header(m["Subject"]))))
    print("irt", m["In-Reply-To"], "refs", " ".join(str(m["References"]).split()))
    print("type", m.get_content_type(), m.get_content_charset(), m["MIME-Version"])
    print("body", m.get_content().strip())
    print("defects", sum(len(p.defects) for p in m.walk()), "msgid", bool(m["Message-ID"]), "date", bool(m["Date"]))
EOF
c=$(cat "$T/check")
is "$(echo "$c" | grep -c '^return-path <>$')" 3 "every reply has the null envelope sender (Return-Path: <>)"
is "$(echo "$c" | grep -c '^auto auto-replied$')" 3 "Auto-Submitted: auto-replied"
like "$(echo "$c" | grep '^from' | head -1)" '^from alice@example\.com to s1@example\.org$' "From the user, To the envelope sender"
is "$(echo "$c" | grep '^subject' | tr '\n' '|')" "subject Away: grüße from s1|subject Away: plain question|subject Away: Re: an old thread|" "the subject substituted as the sender wrote it (its encoded-word whole: it decodes)"
is "$(echo "$c" | grep '^irt' | tr '\n' '|')" "irt <m1@example.org> refs <m1@example.org>|irt <m2@example.org> refs <m0@example.org> <m2@example.org>|irt <m3@example.org> refs <m3@example.org>|" "In-Reply-To the original, References its references and it"
is "$(echo "$c" | grep -c '^type text/plain utf-8 1.0$')" 3 "text/plain, labelled UTF-8, MIME-Version 1.0"
is "$(echo "$c" | grep '^body' | sort -u)" "body I am away until Monday — café closed." "the body decodes as the UTF-8 text written"
is "$(echo "$c" | grep -c '^defects 0 msgid True date True$')" 3 "no defects, a Message-ID and a Date"

# the default subject: Re: and the original, with 8-bit text encoded
printf 'Back soon.\n' > "$T/plain"
is_rc 0 "vacation on again, another message" "$B/mail-user" vacation alice@example.com on "$T/plain"
rm -f "$H/alice/vacation/replied"
"$PY" - "$PORT" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.sendmail("s1@example.org", ["alice@example.com"], "To: alice@example.com\r\nSubject: caf\u00e9 au lait\r\nMessage-ID: <m10@example.org>\r\n\r\nHi\r\n".encode(), ["BODY=8BITMIME"])
s.quit()
EOF
ok "the reply arrives" wait_eq 15 2 sh -c "ls '$O/s1/Maildir/new' | wc -l"
"$PY" - "$O/s1/Maildir" > "$T/check" <<'EOF'
import email, email.policy, mailbox, sys
box = mailbox.Maildir(sys.argv[1], factory=None, create=False)
for key, _ in box.items():
    raw = box.get_bytes(key)
    m = email.message_from_bytes(raw, policy=email.policy.default)
    if m["In-Reply-To"] == "<m10@example.org>":
        head = raw.split(b"\n\n")[0]
        print(str(m["Subject"]), "8bit-in-header" if any(b > 127 for b in head) else "7bit-header", m.get_content_charset())
EOF
is "$(cat "$T/check")" "Re: café au lait 7bit-header us-ascii" "Re: and the 8-bit subject as encoded-words, the header 7-bit"

is_rc 0 "mail-user vacation off" "$B/mail-user" vacation alice@example.com off
ok "the .qmail is gone" test ! -e "$H/alice/.qmail"

# what mail-user vacation refuses, and a user with a forward
is_rc 100 "vacation off when it is not on: 100" "$B/mail-user" vacation alice@example.com off
like "$(cat "$T/err")" 'vacation is not on' "which says so"
printf './Maildir/\n|my-filter\n' > "$H/alice/.qmail"
is_rc 100 "a .qmail of the user's own is never replaced: 100" "$B/mail-user" vacation alice@example.com on
is "$(cat "$H/alice/.qmail")" "./Maildir/
|my-filter" "and it is left as it was"
rm -f "$H/alice/.qmail"
is_rc 100 "no such user: 100" "$B/mail-user" vacation nobody@example.com on
is_rc 100 "neither on nor off: usage" "$B/mail-user" vacation alice@example.com maybe
"$B/mail-user" forward -k alice@example.com s2@example.org
is_rc 0 "vacation on for a user with a forward (and a copy kept)" "$B/mail-user" vacation alice@example.com on
is "$(sed 1d "$H/alice/.qmail")" "&s2@example.org
./Maildir/
|autorespond ./vacation" "the .qmail forwards, keeps, then answers"
