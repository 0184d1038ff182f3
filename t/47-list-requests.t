#!/bin/sh
# list-manage answering mail (as the |list-manage line of .qmail-team-default, DEFAULT the
# extension), its answers queued into t/42-qqcapture.py: help; subscription and
# unsubscription with their confirmations (a wrong, a replayed, an expired, a future cookie,
# one made for another address: refused); the digest's subscribers; moderated subscriptions;
# no answer to automatic mail; the archive (get.N, get.N_M, index, who may); moderators
# accepting and rejecting held posts; bounces (RFC 3464, qmail's format, VERP) counted once a
# post, the probe, the removal; digests; the clean-up of expired things.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/list-lib.sh"
plan 81

l_make -f '[team #]' -b 2
req() { printf 'From: %s\nSubject: %s\n\n%s\n' "$2" "${3:-request}" "${4:-please}" | manage "$1" "$2"; RC=$?; }
last() { qqn; }
# the extension of an address of the list (team-EXT@example.com)
extof() { a=${1#team-}; echo "${a%@example.com}"; }
body() { "$PY" -c 'import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
p = m if not m.is_multipart() else m.get_payload()[0]
print(p.get_payload(decode=True).decode())' "$T/qq/$1.msg"; }
# cookie ACTION WHAT AGE: a cookie made with the list's key AGE seconds ago (sluice-list(5))
cookie() { "$PY" -c 'import hmac, hashlib, base64, sys, time
key = open(sys.argv[1], "rb").read()
t = int(time.time()) - int(sys.argv[4])
mac = hmac.new(key, ("%s:%d:%s" % (sys.argv[2], t, sys.argv[3])).encode(), hashlib.sha256).digest()
print("%d.%s" % (t, base64.b32encode(mac).decode().lower()[:20]))' "$L/key" "$1" "$2" "$3"; }
members() { lm list "$@" "$L" | sort | tr '\n' ' '; }

# ---- help -------------------------------------------------------------------------------------
req help someone@example.org
is "$RC:$(last)" "0:1" "help: exit 0, one answer"
is "$(env0 1)" "Fteam-return-@example.com|Tsomeone@example.org||" "to the sender, from team-return-@ (its bounces are not counted)"
is "$(hfield 1 Subject)|$(hfield 1 From)|$(hfield 1 Auto-Submitted)" "Help for team@example.com|team-help@example.com|auto-replied" "Subject, From team-help@, Auto-Submitted: auto-replied"
is "$(hfield 1 List-Id)|$(hfield 1 Content-Type)" "<team.example.com>|text/plain; charset=utf-8" "List-Id; plain text"
like "$(body 1)" 'team-subscribe@example\.com' "the help names the addresses"
req whatever someone@example.org
is "$(hfield 2 Subject)" "Help for team@example.com" "an unknown request: the help"
printf 'Help text of my own\n' > "$L/text/help.new"; printf 'Subject: Our help for <#L#>\n\nWrite to <#l#>-subscribe@<#h#>.\n' > "$L/text/help"
req help someone@example.org
is "$(hfield 3 Subject)|$(body 3)" "Our help for team@example.com|Write to team-subscribe@example.com." "text/help edited by hand: its tags replaced"

# ---- subscribing ------------------------------------------------------------------------------
req subscribe Ann@Example.ORG
is "$RC:$(env0 4)" "0:Fteam-return-@example.com|Tann@example.org||" "subscribe: a confirmation request to the sender (lowercase)"
conf=$(hfield 4 Reply-To)
like "$conf" '^team-sc\.[0-9]+\.[a-z2-7]{20}-ann=example\.org@example\.com$' "its Reply-To: team-sc.COOKIE-ann=example.org@"
like "$(body 4)" "$conf" "and the text gives the address"
is "$(members)" "" "not subscribed yet"
req subscribe-bob=example.net mallory@example.org
is "$(env0 5)" "Fteam-return-@example.com|Tbob@example.net||" "subscribe-bob=example.net: the request goes to bob, not to the sender"
good=$(extof "$conf")
req "$(echo "$good" | sed 's/\(\.[a-z2-7]\)/\1x/' | cut -c1-200)" ann@example.org
is "$(hfield 6 Subject)|$(members)" "Your request to team@example.com failed|" "a wrong cookie: refused, nothing changes"
bobconf=$(extof "$(hfield 5 Reply-To)")
req "${good%-ann=example.org}-bob=example.net" ann@example.org
is "$(hfield 7 Subject)|$(members)" "Your request to team@example.com failed|" "ann's cookie with bob's address: refused"
req "sc.$(cookie sc ann@example.org 300000)-ann=example.org" ann@example.org
is "$(hfield 8 Subject)|$(members)" "Your request to team@example.com failed|" "a cookie of the list made 3.5 days ago (expired): refused"
like "$(cat "$T/err")" 'refused an expired confirmation' "logged as expired"
req "sc.$(cookie sc ann@example.org -7200)-ann=example.org" ann@example.org
is "$(hfield 9 Subject)|$(members)" "Your request to team@example.com failed|" "one made two hours ahead: refused"
req "$good" someone-else@example.org
is "$RC:$(members)" "0:ann@example.org " "the confirmation (from any sender: the cookie is the proof): subscribed"
is "$(env0 10)|$(hfield 10 Subject)" "Fteam-return-@example.com|Tann@example.org|||Welcome to team@example.com" "a welcome to ann"
like "$(cat "$T/err")" 'info: team@example\.com: subscribed ann@example\.org' "logged"
req "sc.$(cookie sc carol@example.org 60)-carol=example.org" carol@example.org
is "$(members)" "ann@example.org carol@example.org " "a cookie made by the list's key (sluice-list(5)'s formula) works"
req "$bobconf" bob@example.net
is "$(members)" "ann@example.org bob@example.net carol@example.org " "bob confirms his"
req subscribe ann@example.org
is "$(hfield "$(last)" Subject)" "You are subscribed to team@example.com already" "subscribe again: nothing to confirm, says so"

# ---- unsubscribing, and the replay ---------------------------------------------------------
req unsubscribe ann@example.org
uconf=$(hfield "$(last)" Reply-To)
like "$uconf" '^team-uc\.[0-9]+\.[a-z2-7]{20}-ann=example\.org@example\.com$' "unsubscribe: a confirmation request (team-uc.)"
req "$(extof "$uconf")" ann@example.org
is "$(members)|$(hfield "$(last)" Subject)" "bob@example.net carol@example.org |Goodbye from team@example.com" "confirmed: removed, goodbye"
n=$(last)
req "$good" ann@example.org
is "$(members)|$(hfield "$(last)" Subject)" "bob@example.net carol@example.org |Your request to team@example.com failed" "the subscription's confirmation replayed: refused"
like "$(cat "$T/err")" 'refused a confirmation used already' "logged as a replay"
req "$(extof "$uconf")" ann@example.org
is "$(hfield "$(last)" Subject)" "Your request to team@example.com failed" "the unsubscription's replayed: refused too"
req unsubscribe-zed=example.org ann@example.org
is "$(env0 "$(last)")|$(hfield "$(last)" Subject)" "Fteam-return-@example.com|Tzed@example.org|||You were not subscribed to team@example.com" "unsubscribe an address that is not: it is told, nothing to confirm"
req subscribe-not-an-address ann@example.org
is "$RC:$(last)" "0:$(( n + 3 ))" "subscribe-<garbage>: ignored"

# ---- no answer to programs -------------------------------------------------------------------
n=$(last)
printf 'From: vacation@example.org\nAuto-Submitted: auto-replied\nSubject: away\n\nI am away\n' | manage "$good" vacation@example.org
printf 'From: list@example.org\nPrecedence: bulk\n\nx\n' | manage help list@example.org
printf 'From: x\n\nx\n' | manage help ''
printf 'From: x\n\nx\n' | manage help MAILER-DAEMON@example.org
is "$(last)" "$n" "Auto-Submitted, Precedence: bulk, the null sender, MAILER-DAEMON: no answer"

# ---- the digest's subscribers, moderated subscriptions ---------------------------------------
req digest-subscribe dig@example.org
dconf=$(hfield "$(last)" Reply-To)
like "$dconf" '^team-digest-sc\.' "digest-subscribe: team-digest-sc. confirmation"
req "$(extof "$dconf")" dig@example.org
is "$(members -d)|$(members)" "dig@example.org |bob@example.net carol@example.org " "confirmed: in the digest's set only"
l_make -e -s -b 2 -f '[team #]'
req subscribe zed@example.org
req "$(extof "$(hfield "$(last)" Reply-To)")" zed@example.org
is "$RC" 111 "moderated subscriptions, no moderator: 111, the confirmation waits"
lm sub -m "$L" mod@example.com
n=$(last)
req "$(extof "$(hfield "$n" Reply-To)")" zed@example.org
is "$(( $(last) - n )):$(members)" "2:bob@example.net carol@example.org " "confirmed: two messages, zed not in yet"
is "$(env0 $((n + 1)))|$(hfield $((n + 1)) To)" "Fteam-return-@example.com|Tmod@example.com|||team moderators:;" "one to the moderators"
tconf=$(hfield $((n + 1)) Reply-To)
like "$tconf" '^team-tc\.[0-9]+\.[a-z2-7]{20}-zed=example\.org@example\.com$' "with the approval address"
is "$(env0 $((n + 2)))|$(hfield $((n + 2)) Subject)" "Fteam-return-@example.com|Tzed@example.org|||Your subscription to team@example.com waits for a moderator" "and zed told to wait"
req "$(extof "$tconf")" mod@example.com
is "$(members)|$(hfield "$(last)" Subject)" "bob@example.net carol@example.org zed@example.org |Welcome to team@example.com" "the moderator approves: zed in, welcome"

# ---- the archive -------------------------------------------------------------------------------
l_make -e -f '[team #]' -b 2
for s in one two three; do printf 'From: bob@example.net\nSubject: %s\nDate: Mon, 1 Jun 2026 10:00:00 +0000\n\nbody %s\n' $s $s | expand bob@example.net; done
n=$(last)
req get.2 carol@example.org
is "$(env0 "$(last)")" "Fteam-return-@example.com|Tcarol@example.org||" "get.2 from a subscriber: an answer"
"$PY" - "$T/qq/$(last).msg" > "$T/g" <<'EOF'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
parts = m.get_payload()
print(m.get_content_type(), len(parts), parts[0].get_content_type())
for p in parts[1:]:
    s = p.get_payload()[0]
    print(p.get_content_type(), s["Subject"], s.get_payload().strip(), "Delivered-To" in s)
EOF
is "$(cat "$T/g")" "multipart/digest 2 text/plain
message/rfc822 [team 2] two body two False" "a MIME digest: the text, then post 2 (its main fields, its body)"
req get.1_3 carol@example.org
"$PY" - "$T/qq/$(last).msg" > "$T/g" <<'EOF'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
parts = m.get_payload()
print(len(parts), " ".join(p.get_payload()[0]["Subject"] for p in parts[1:]))
print(parts[0].get_payload(decode=True).decode().count(": [team "))
EOF
is "$(cat "$T/g")" "4 [team 1] one [team 2] two [team 3] three
3" "get.1_3: the three posts, and their index in the text"
req index carol@example.org
like "$(body "$(last)")" '1: \[team 1\] one
    bob@example\.net, Mon, 1 Jun 2026 10:00:00 \+0000
2: \[team 2\] two' "index: number, subject, author, date of each post"
req get.2 eve@example.org
is "$(hfield "$(last)" Subject)" "Nothing from the archive of team@example.com" "from an outsider (the archive is the subscribers'): get-bad"
for e in get.9 get.3_1 get.x get get.1_; do req $e carol@example.org; printf '%s ' "$(hfield "$(last)" Subject | cut -c1-7)"; done > "$T/bad"
is "$(cat "$T/bad")" "Nothing Nothing Nothing Nothing Nothing " "get.9 (not there), get.3_1, get.x, get, get.1_: get-bad"
l_make -e -p -f '[team #]' -b 2
req get.1 eve@example.org
is "$(hfield "$(last)" Content-Type | cut -d';' -f1)" "multipart/digest" "a public archive (-p): outsiders get posts too"

# ---- moderators' decisions ---------------------------------------------------------------------
l_make -e -m -u -f '[team #]' -b 2
printf 'From: eve@example.org\nSubject: held\n\nplease post me\n' | expand eve@example.org
acc=$(hfield "$(last)" Reply-To)
rej=$(sed -n 's/^ *\(team-reject-[^ ]*@example\.com\)$/\1/p' "$T/qq/$(last).msg" | head -1)
like "$rej" '^team-reject-[0-9]{16}\.[0-9]+\.[a-z2-7]{20}@example\.com$' "a held post: the request names the reject address"
bad=$(extof "$acc" | sed 's/\.\([0-9]*\)\./.\1x./')
req "$bad" mod@example.com
is "$(hfield "$(last)" Subject)|$(ls "$L/mod" | wc -l)" "Moderation of team@example.com: nothing done|1" "a forged accept: nothing done, the post still held"
n=$(last)
req "$(extof "$acc")" mod@example.com
is "$(( $(last) - n )):$(ls "$L/mod" | wc -l)" "1:0" "accepted: one message out, nothing held any more"
is "$(hfield "$(last)" Subject)|$(env0 "$(last)" | cut -d'|' -f1)" "[team 4] held|Fteam-return-4-@example.com" "the post, numbered, to the subscribers"
is "$(rcpts "$(last)" | tr '\n' ' ')" "bob@example.net carol@example.org zed@example.org " "all of them"
like "$(cat "$T/err")" 'accepted the post from eve@example\.org' "logged"
req "$(extof "$acc")" mod2@example.com
is "$(hfield "$(last)" Subject)" "Moderation of team@example.com: nothing done" "accepted again: nothing done, said so"
printf 'From: eve@example.org\nSubject: spam\n\nbuy\n' | expand eve@example.org
rej=$(sed -n 's/^ *\(team-reject-[^ ]*@example\.com\)$/\1/p' "$T/qq/$(last).msg" | head -1)
req "$(extof "$rej")" mod@example.com
is "$(ls "$L/mod" | wc -l)|$(env0 "$(last)")|$(hfield "$(last)" Subject)" "0|Fteam-return-@example.com|Teve@example.org|||Your post to team@example.com was not accepted" "rejected: dropped, the author told"
req "$(extof "$rej" | sed 's/^reject-/accept-/')" mod@example.com
is "$(hfield "$(last)" Subject)" "Moderation of team@example.com: nothing done" "the reject cookie used as an accept: nothing done"

# ---- bounces -----------------------------------------------------------------------------------
dsn() {   # dsn ADDR: an RFC 3464 report (queue-run's) that delivery to ADDR failed
  printf 'From: MAILER-DAEMON@mx.example\nSubject: failure notice\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n--b\nContent-Type: text/plain\n\nfailed\n\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; %s\nAction: failed\nStatus: 5.1.1\n\nFinal-Recipient: rfc822; ok@example.net\nAction: delayed\nStatus: 4.0.0\n\n--b--\n' "$1"
}
bfile() { grep -l " $1\$" "$L"/bounce/* 2>/dev/null | head -1; }
n=$(last)
dsn Carol@Example.ORG | manage return-2- ''
is "$RC:$(cut -d' ' -f1 "$(bfile carol@example.org)")" "0:1" "a DSN for post 2 naming carol: counted once"
is "$(ls "$L/bounce" | grep -vc lock)" 1 "the delayed recipient is not counted"
dsn carol@example.org | manage return-2- ''
is "$(cut -d' ' -f1 "$(bfile carol@example.org)"):$(last)" "1:$n" "a second bounce of the same post: not counted again"
dsn stranger@example.org | manage return-2- ''
is "$(bfile stranger@example.org)" "" "a bounce for an address that is not subscribed: nothing kept"
printf 'From: MAILER-DAEMON@old.example\nSubject: failure notice\n\nHi. This is the qmail-send program at old.example.\nI'"'"'m afraid I wasn'"'"'t able to deliver your message to the following addresses.\n\n<carol@example.org>:\nSorry, no mailbox here by that name.\n\n--- Below this line is a copy of the message.\n\n<zed@example.org>:\n' | manage return-3- ''
is "$(cut -d' ' -f1 "$(bfile carol@example.org)")" 2 "qmail's bounce format for post 3: counted (carol at 2, the limit)"
is "$(bfile zed@example.org)" "" "an address in the returned copy is not taken"
is "$(( $(last) - n ))|$(env0 "$(last)" | cut -d'|' -f2-)" "1|Tcarol@example.org||" "the limit reached: a probe to carol"
probe=$(env0 "$(last)" | cut -d'|' -f1 | sed 's/^F//')
like "$probe" '^team-return-probe\.[0-9]+\.[a-z2-7]{20}-carol=example\.org@example\.com$' "sent from team-return-probe.COOKIE-carol=example.org@"
is "$(hfield "$(last)" Subject)" "Is carol@example.org still reading team@example.com?" "saying what it is"
dsn carol@example.org | manage return-4- ''
is "$(( $(last) - n ))" 1 "another bounce: no second probe"
dsn carol@example.org | manage "$(extof "$probe" | sed 's/\.\([0-9]*\)\./.\1x./')" ''
is "$(members | grep -c carol)" 1 "a bounce to a forged probe address: nothing"
dsn carol@example.org | manage "$(extof "$probe")" ''
is "$(members)|$(bfile carol@example.org)" "bob@example.net zed@example.org |" "the probe bounced: carol removed, her record too"
like "$(cat "$T/err")" 'removed after its probe bounced: carol@example\.org' "logged"
printf 'From: MAILER-DAEMON@x\n\nno report\n' | manage return-5-zed=example.org ''
is "$(cut -d' ' -f1 "$(bfile zed@example.org)")" 1 "a VERP bounce (return-5-zed=example.org): counted without reading it"
printf 'x\n' | manage return- ''
is "$RC:$(last)" "0:$((n + 1))" "a bounce of an answer (return- alone): ignored"

# ---- digests ------------------------------------------------------------------------------------
l_make -e -d 2 -f '[team #]'
cat "$L/num" > "$L/digestnum"
n=$(last)
printf 'From: bob@example.net\nSubject: five\n\nbody five\n' | expand bob@example.net
is "$(( $(last) - n ))" 1 "a digest every 2 posts, one post since the last: no digest yet"
printf 'From: bob@example.net\nSubject: six\n\nbody six\n' | expand bob@example.net
is "$(( $(last) - n ))" 3 "the second post: the post, and the digest"
"$PY" - "$T/qq/$(last).msg" > "$T/d" <<'EOF'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
parts = m.get_payload()
print(m["Subject"], m["To"], m["Auto-Submitted"], m.get_content_type(), len(parts) - 1)
EOF
is "$(cat "$T/d")" "Digest of team@example.com team@example.com auto-generated multipart/digest 2" "a MIME digest of the two posts, to the digest's subscribers"
is "$(rcpts "$(last)" | tr '\n' ' ')|$(cat "$L/digestnum")" "dig@example.org |6" "to dig@ only; digestnum 6"
n=$(last)
lm digest "$L"
is "$(last)" "$n" "list-manage digest with nothing new: nothing sent"
printf 'From: bob@example.net\nSubject: seven\n\nbody seven\n' | expand bob@example.net
lm digest "$L"
is "$(( $(last) - n ))|$(cat "$L/digestnum")" "2|7" "one more post, list-manage digest (cron): a digest of it"

# ---- clean-up ----------------------------------------------------------------------------------
recent=$(( $(date +%s) - 60 ))000000
touch "$L/mod/1000000000000000" "$L/mod/$recent"
touch -d '10 days ago' "$L/cookies/oldcookie"
lm clean "$L"
is "$(ls "$L/mod" | tr '\n' ' ')" "$recent " "clean: a held post older than five days goes, a recent one stays"
is "$(ls "$L/cookies" | grep -c oldcookie)" 0 "a used cookie older than its life goes"

# ---- bad usage ----------------------------------------------------------------------------------
is_rc 100 "no DEFAULT: 100" env SENDER=a@b.example "$B/list-manage" "$L"
like "$(cat "$T/err")" 'SENDER or DEFAULT is not set' "saying so"
is_rc 100 "no argument: usage" "$B/list-manage"
