#!/bin/sh
# A mailing list end to end, no stand-in: python's smtplib -> tcpsrv -> smtpd -> queue-injectd
# -> queue-run -> queue-spawn -> queue-local -> the list's .qmail files (list-expand,
# list-manage) -> the queue again -> the Maildirs of virtual users made with mail-user. Three
# users subscribe through the confirmation (a wrong, an expired and a replayed cookie fail);
# a subscriber's post reaches the three as one queue entry, with the list's fields; an
# outsider's post is refused, then held for the moderator once the list is moderated; one held
# post accepted, one rejected; a loop refused; posts got from the archive; a subscriber whose
# mail bounces is counted, probed and removed; an unsubscription.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root: deliveries run as the domain's owner, smtpd as another user"
plan 38
q_init
for u in alice bob carol dave erin eve team; do q_user $u@example.com; done
"$B/mail-user" disable team@example.com >/dev/null
H=$S/domains/example.com
LD=$H/team/list
# erin's mailbox refuses everything: each copy to her bounces
printf '|exit 100\n' > "$H/erin/.qmail"; chown $OWNER:$OWNER "$H/erin/.qmail"
SMTPD_UID=4247
chgrp $SMTPD_UID "$S/users" "$S/users/cdb"
chmod 750 "$S/users"
INJOPTS="-N $SMTPD_UID"
q_start -c 20
start_bg "$B/tcpsrv" -1 -u $SMTPD_UID -g $SMTPD_UID -H -R -l mx.test.example 127.0.0.1 0 "$B/smtpd" > "$T/port" 2> "$T/smtpd.log"
wait_for 5 test -s "$T/port"
PORT=$(head -1 "$T/port")

# send FROM TO SUBJECT [EXTRA-FIELD]: a message through SMTP
send() {
  "$PY" - "$PORT" "$1" "$2" "$3" "${4:-}" <<'EOF'
import smtplib, sys
port, frm, to, subj, extra = sys.argv[1:6]
msg = "From: %s\r\nTo: %s\r\nSubject: %s\r\n%s\r\nbody of %s\r\n" % (frm, to, subj, extra + "\r\n" if extra else "", subj)
s = smtplib.SMTP("127.0.0.1", int(port))
s.sendmail(frm, [to], msg)
s.quit()
EOF
}
# has USER SUBJECT-ERE: the newest message of USER's Maildir whose Subject matches
has() { grep -l -E "^Subject: $2" "$H/$1/Maildir/new/"* 2>/dev/null | tail -1; }
waithas() { wait_for 30 sh -c "grep -q -E '^Subject: $2' '$H/$1/Maildir/new/'* 2>/dev/null"; }
field() { "$PY" -c 'import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
print(m[sys.argv[2]] or "")' "$1" "$2"; }
members() { "$B/list-manage" list "$LD" | sort | tr '\n' ' '; }
ext() { a=${1#team-}; echo "${a%@example.com}"; }

is_rc 0 "list-manage make: a list for the user team@example.com of the database" "$B/list-manage" make -u -f '[team #]' -b 2 "$LD" team@example.com
ok "its .qmail runs list-expand" grep -q "list-expand $LD" "$H/team/.qmail"

# ---- three subscribe, by mail ------------------------------------------------------------------
for u in alice bob carol; do send $u@example.com team-subscribe@example.com "subscribe me"; done
ok "each gets a confirmation request" wait_for 30 sh -c "grep -l '^Subject: Confirm your subscription' '$H'/alice/Maildir/new/* '$H'/bob/Maildir/new/* '$H'/carol/Maildir/new/* 2>/dev/null | wc -l | grep -qx 3"
conf=$(field "$(has alice 'Confirm your subscription')" Reply-To)
like "$conf" '^team-sc\.[0-9]+\.[a-z2-7]{20}-alice=example\.com@example\.com$' "alice's: Reply-To team-sc.COOKIE-alice=example.com@example.com"
bad=$(echo "$conf" | sed 's/-alice=/x-alice=/')
send alice@example.com "$bad" "Re: confirm"
ok "a wrong cookie: alice is told it failed" waithas alice 'Your request to team@example.com failed'
old=$("$PY" -c 'import hmac, hashlib, base64, sys, time
t = int(time.time()) - 4 * 86400
mac = hmac.new(open(sys.argv[1], "rb").read(), ("sc:%d:alice@example.com" % t).encode(), hashlib.sha256).digest()
print("team-sc.%d.%s-alice=example.com@example.com" % (t, base64.b32encode(mac).decode().lower()[:20]))' "$LD/key")
send alice@example.com "$old" "Re: confirm"
ok "an expired one (4 days old): refused" wait_log 30 'refused an expired confirmation, from alice@example.com'
is "$(members)" "" "nobody subscribed yet"
for u in alice bob carol; do send $u@example.com "$(field "$(has $u 'Confirm your subscription')" Reply-To)" "Re: Confirm"; done
ok "each confirms, and gets a welcome" wait_for 30 sh -c "grep -l '^Subject: Welcome to team@example.com' '$H'/alice/Maildir/new/* '$H'/bob/Maildir/new/* '$H'/carol/Maildir/new/* 2>/dev/null | wc -l | grep -qx 3"
is "$(members)" "alice@example.com bob@example.com carol@example.com " "three subscribers"
n=$(ls "$H/alice/Maildir/new" | wc -l)
send alice@example.com "$conf" "Re: confirm again"
ok "the confirmation replayed: refused, and alice told so (her third failure notice)" wait_for 30 sh -c "[ \$(grep -l '^Subject: Your request to team@example.com failed' '$H'/alice/Maildir/new/* | wc -l) = 3 ]"

# ---- a post -----------------------------------------------------------------------------------
send bob@example.com team@example.com "first post"
ok "a post from bob: a copy for each of the three" wait_for 30 sh -c "for u in alice bob carol; do grep -q '^Subject: \[team 1\] first post' '$H'/\$u/Maildir/new/* || exit 1; done"
p=$(has carol '\[team 1\] first post')
is "$(field "$p" List-Id)|$(field "$p" List-Unsubscribe)|$(field "$p" Precedence)" "<team.example.com>|<mailto:team-unsubscribe@example.com>|list" "with List-Id, List-Unsubscribe, Precedence"
is "$(field "$p" Return-Path)|$(field "$p" Delivered-To)" "<team-return-1-@example.com>|carol@example.com" "from team-return-1-@example.com"
is "$(grep -c '^info msg .* from <team-return-1-@example.com>' "$T/queue.log")" 1 "one queue entry for the three"
ok "archived" test -f "$LD/archive/0/01"

# ---- refused: an outsider, a loop ------------------------------------------------------------
send eve@example.com team@example.com "from outside"
ok "an outsider's post: refused, eve gets a bounce" wait_for 30 sh -c "grep -l 'failed permanently' '$H'/eve/Maildir/new/* 2>/dev/null | grep -q ."
ok "the log says why" grep -q 'only subscribers may post to this list' "$T/queue.log"
send alice@example.com team@example.com "looping" "List-Id: <team.example.com>"
ok "a post with the list's List-Id: refused (alice gets a bounce)" wait_for 30 sh -c "grep -l 'Subject: looping' '$H'/alice/Maildir/new/* 2>/dev/null | xargs grep -l 'failed permanently' | grep -q ."
ok "the log says it loops" grep -q 'looping: it has my List-Id' "$T/queue.log"

# ---- moderation ------------------------------------------------------------------------------
"$B/list-manage" make -e -m -u -f '[team #]' -b 2 "$LD" team@example.com
"$B/list-manage" sub -m "$LD" dave@example.com
send eve@example.com team@example.com "please accept"
ok "eve's post is held: the moderator dave gets the request" waithas dave 'Moderate a post to team@example.com from eve@example.com'
acc=$(field "$(has dave 'Moderate a post.*')" Reply-To)
send dave@example.com "$acc" "Re: moderate"
ok "dave accepts: the post reaches the subscribers" wait_for 30 sh -c "for u in alice bob carol; do grep -q '^Subject: \[team 2\] please accept' '$H'/\$u/Maildir/new/* || exit 1; done"
send eve@example.com team@example.com "please reject"
ok "another held post" wait_for 30 sh -c "[ \$(grep -l '^Subject: Moderate a post' '$H'/dave/Maildir/new/* | wc -l) = 2 ]"
rej=$(grep -h -o 'team-reject-[0-9.a-z2-7]*@example\.com' $(grep -l 'please reject' "$H"/dave/Maildir/new/*) | head -1)
send dave@example.com "$rej" "reject it"
ok "dave rejects: eve is told" waithas eve 'Your post to team@example.com was not accepted'
ok "and nothing is held" wait_for 10 sh -c "[ -z \"\$(ls '$LD/mod')\" ]"
is "$(grep -l 'please reject' "$H"/alice/Maildir/new/* | wc -l)" 0 "the subscribers never saw it"

# ---- the archive -----------------------------------------------------------------------------
send bob@example.com team-get.1_2@example.com "get"
ok "team-get.1_2: bob gets the posts" waithas bob 'Posts from the archive of team@example.com'
"$PY" - "$(has bob 'Posts from the archive')" > "$T/g" <<'EOF'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
print(" / ".join(p.get_payload()[0]["Subject"] for p in m.get_payload()[1:]))
EOF
is "$(cat "$T/g")" "[team 1] first post / [team 2] please accept" "a MIME digest of posts 1 and 2"
send bob@example.com team-index@example.com "index"
ok "team-index: the index" waithas bob 'Index of the archive of team@example.com'

# ---- bounces: counted, probed, removed -------------------------------------------------------
"$B/list-manage" sub "$LD" erin@example.com
send alice@example.com team@example.com "post three"
ok "erin's copy bounces: counted" wait_for 30 sh -c "grep -q 'counted a bounce of erin@example.com' '$T/queue.log'"
send alice@example.com team@example.com "post four"
ok "the second bounce: a probe is sent to erin" wait_log 30 'sent a probe to erin@example.com'
ok "the probe bounces too: erin is removed" wait_log 30 'removed after its probe bounced: erin@example.com'
is "$(members)" "alice@example.com bob@example.com carol@example.com " "the three are left"

# ---- unsubscribing ---------------------------------------------------------------------------
send carol@example.com team-unsubscribe@example.com "unsubscribe"
ok "carol asks to leave: a confirmation request" waithas carol 'Confirm that you leave team@example.com'
send carol@example.com "$(field "$(has carol 'Confirm that you leave')" Reply-To)" "Re: leave"
ok "she confirms: goodbye" waithas carol 'Goodbye from team@example.com'
is "$(members)" "alice@example.com bob@example.com " "two left"
send bob@example.com team@example.com "post five"
ok "the next post reaches alice and bob" wait_for 30 sh -c "for u in alice bob; do grep -q '^Subject: \[team 5\] post five' '$H'/\$u/Maildir/new/* || exit 1; done"
ok "not carol" sh -c "! grep -q 'post five' '$H'/carol/Maildir/new/*"
ok "the queue empties" wait_for 30 q_empty
