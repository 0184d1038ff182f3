#!/bin/sh
# list-expand: a post becomes one queue entry for every subscriber (envelope sender
# team-return-N-@), with the list's header (Delivered-To first, List-* fields of RFC 2369
# and 2919, Precedence, the subject prefix with the number, fields removed) and its body
# byte for byte, archived; loops and bounces refused; subscribers-only and moderated lists
# (held posts and the moderators' request); the queue's failures; From: rewritten when the
# author's domain publishes a strict DMARC policy (dnsmasq on loopback, t/fakedns.py for a
# server failure).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/list-lib.sh"
plan 70

l_make -f '[team #]' -r X-Spam-Status
lm sub "$L" alice@example.com Bob@Example.COM carol@example.net
post() {
  printf 'Return-Path: <x@y.example>\nFrom: Alice <alice@example.com>\nTo: team@example.com\nSubject: %s\nX-Spam-Status: No\nDKIM-Signature: v=1; a=rsa-sha256; d=example.com;\n b=AAAA\nList-Id: <other.example.org>\nPrecedence: bulk\n\nbody of %s\n.dot line\n\nFrom the end\n' "$1" "$1"
}

# ---- a post from a subscriber ----------------------------------------------------------------
post hello > "$T/m1"
DTLINE='Delivered-To: team@example.com' expand alice@example.com < "$T/m1"
is "$RC" 0 "a post from a subscriber: exit 0"
is "$(qqn)" 1 "one queue entry"
is "$(env0 1 | cut -d'|' -f1)" "Fteam-return-1-@example.com" "envelope sender team-return-1-@example.com"
is "$(rcpts 1 | tr '\n' ' ')" "alice@example.com bob@example.com carol@example.net " "every subscriber a recipient of that one entry"
is "$(head -1 "$T/qq/1.msg")" "Delivered-To: team@example.com" "the list's Delivered-To line first"
is "$(hfield 1 Subject)" "[team 1] hello" "the subject prefix with the post's number"
is "$(hfield 1 List-Id)" "<team.example.com>" "List-Id (RFC 2919)"
is "$(hfield 1 List-Post)|$(hfield 1 List-Help)" "<mailto:team@example.com>|<mailto:team-help@example.com>" "List-Post, List-Help"
is "$(hfield 1 List-Subscribe)|$(hfield 1 List-Unsubscribe)" "<mailto:team-subscribe@example.com>|<mailto:team-unsubscribe@example.com>" "List-Subscribe, List-Unsubscribe (RFC 2369)"
is "$(hfield 1 List-Archive)|$(hfield 1 Precedence)" "<mailto:team-index@example.com>|list" "List-Archive, Precedence: list"
is "$(grep -ciE '^(return-path|x-spam-status|dkim-signature):' "$T/qq/1.msg")" 0 "Return-Path, the field given with -r, the DKIM signature the prefix breaks: removed"
is "$(grep -ci '^list-id:' "$T/qq/1.msg"):$(grep -ci '^precedence:' "$T/qq/1.msg")" "1:1" "the other list's List-Id and the old Precedence: replaced"
is "$(sed '1,/^$/d' "$T/qq/1.msg")" "$(sed '1,/^$/d' "$T/m1")" "the body byte for byte"
ok "archived as archive/0/01, as sent" cmp "$T/qq/1.msg" "$L/archive/0/01"
is "$(cat "$L/num")" 1 "num is 1"

# a reply: the old prefix goes, the number is the new one; from a pipe, not a file
post 'Re: [team 1] hello' | DTLINE='Delivered-To: team@example.com' expand bob@example.com; RC=$?
is "$RC:$(hfield 2 Subject)" "0:[team 2] Re: hello" "a reply: [team 2] Re: hello (the message read from a pipe)"
is "$(env0 2 | cut -d'|' -f1)" "Fteam-return-2-@example.com" "post 2: team-return-2-@"
printf 'From: alice@example.com\n\nno subject\n' | expand alice@example.com; RC=$?
is "$RC:$(hfield 3 Subject)" "0:[team 3]" "no Subject: one with the prefix"
is "$(head -1 "$T/qq/3.msg")" "Delivered-To: team@example.com" "without DTLINE (run by hand): the list's Delivered-To all the same"

# ---- refused -------------------------------------------------------------------------------------
n=$(qqn)
printf 'From: alice@example.com\nList-Id: Team <team.example.com>\nSubject: loop\n\nx\n' | expand alice@example.com; RC=$?
is "$RC" 100 "a post with the list's own List-Id: refused (100)"
like "$(cat "$T/err")" 'looping: it has my List-Id \(#5\.4\.6\)' "saying it loops"
printf 'From: alice@example.com\ndelivered-to:  TEAM@example.com \nSubject: loop\n\nx\n' | expand alice@example.com; RC=$?
is "$RC" 100 "a post with the list's Delivered-To line (any case): refused"
printf 'From: mailer-daemon@example.net\nSubject: bounce\n\nx\n' | expand ''; RC=$?
is "$RC" 100 "a post with the null sender: refused"
is "$(qqn):$(cat "$L/num")" "$n:3" "nothing queued, no number taken"

# a list without prefix: the DKIM signature stays (nothing it covers has changed)
lm make -e -q "$H/.qmail-team" -r X-Spam-Status "$L" team@example.com
post plain | expand alice@example.com; RC=$?
is "$RC:$(hfield 4 Subject)" "0:plain" "no prefix: the subject as it was"
is "$(grep -c '^DKIM-Signature:' "$T/qq/4.msg")" 1 "and the DKIM signature kept"

# ---- subscribers only ------------------------------------------------------------------------
l_make -e -u
post outsider | expand eve@example.org; RC=$?
is "$RC" 100 "subscribers only: an outsider's post refused (100)"
like "$(cat "$T/err")" 'only subscribers may post to this list \(#5\.7\.2\)' "saying why"
post insider | expand ALICE@example.com; RC=$?
is "$RC" 0 "a subscriber's post (the sender in another case) goes"
lm sub -a "$L" eve@example.org
post allowed | expand eve@example.org; RC=$?
is "$RC" 0 "an address added with sub -a (allowed to post) goes"
lm sub -d "$L" dan@example.org
post digester | expand dan@example.org; RC=$?
is "$RC" 0 "a digest subscriber's post goes"
is "$(rcpts "$(qqn)" | grep -c dan)" 0 "and the digest subscriber gets no copy of posts"

# ---- moderated -------------------------------------------------------------------------------
l_make -e -m -u
n=$(qqn)
post 'held one' > "$T/m2"
expand eve2@example.org < "$T/m2"
is "$RC" 111 "moderated, no moderator: 111 (the post waits in the queue)"
like "$(cat "$T/err")" 'has no moderator' "saying so"
is "$(ls "$L/mod" 2>/dev/null | wc -l)" 0 "and nothing kept in mod/"
lm sub -m "$L" mod1@example.com mod2@example.net
expand eve2@example.org < "$T/m2"
is "$RC" 0 "an outsider's post to a moderated list: held (exit 0)"
is "$(qqn)" $((n + 1)) "one message queued: the request to the moderators"
m=$(qqn)
is "$(rcpts $m | tr '\n' ' ')" "mod1@example.com mod2@example.net " "the moderators, all in one queue entry"
is "$(env0 $m | cut -d'|' -f1)" "Fteam-return-@example.com" "from team-return-@"
id=$(ls "$L/mod")
like "$id" '^[0-9]{16}$' "the post kept as mod/ID ($id)"
is "$(head -1 "$L/mod/$id")" "eve2@example.org" "its first line the envelope sender"
is "$(tail -n +2 "$L/mod/$id")" "$(cat "$T/m2")" "then the post as it came"
like "$(hfield $m Reply-To)" "^team-accept-$id\\.[0-9]+\\.[a-z2-7]{20}@example\\.com\$" "Reply-To: the accept address"
is "$(hfield $m To)" "team moderators:;" "To: an empty group (a reply to all reaches nobody)"
"$PY" - "$T/qq/$m.msg" "$T/m2" > "$T/parts" <<'EOF'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
text, att = m.get_payload()
print(m.get_content_type(), text.get_content_type(), att.get_content_type())
body = text.get_payload(decode=True).decode()
print("accept" if "team-accept-" in body else "no accept", "reject" if "team-reject-" in body else "no reject")
print("same post" if att.get_payload()[0].as_bytes().split(b"\n\n", 1)[1] == open(sys.argv[2], "rb").read().split(b"\n\n", 1)[1] else "another post")
EOF
is "$(cat "$T/parts")" "multipart/mixed text/plain message/rfc822
accept reject
same post" "the request: the text with both addresses, the post attached"
post 'from a subscriber' | expand bob@example.com; RC=$?
is "$RC:$(env0 "$(qqn)" | cut -d'|' -f1)" "0:Fteam-return-8-@example.com" "moderated for outsiders only (-m -u): a subscriber's post goes at once"
l_make -e -m
post 'all held' | expand bob@example.com; RC=$?
is "$RC:$(ls "$L/mod" | wc -l)" "0:2" "moderated (-m alone): a subscriber's post is held too"

# ---- the queue fails -------------------------------------------------------------------------
l_make -e
n=$(qqn)
QQ_EXIT=71 expand alice@example.com < "$T/m1"
is "$RC" 111 "the queue fails for now: 111"
like "$(cat "$T/err")" 'the queue refused the post' "saying so"
is "$(cat "$L/num")" 8 "the number given back"
is "$(ls "$L/archive/0" | grep -c tmp)" 0 "no half-written archive file left"
QQ_EXIT=31 expand alice@example.com < "$T/m1"
is "$RC" 100 "the queue refuses for good (31): 100"
expand alice@example.com < "$T/m1"
is "$RC:$(hfield "$(qqn)" Subject)" "0:hello" "then it goes, as post 9"
ok "archive/0/09" test -f "$L/archive/0/09"

# ---- bad input -------------------------------------------------------------------------------
is_rc 100 "no directory: usage (100)" "$B/list-expand"
SENDER=a@b.example is_rc 111 "a directory that is not there: 111" "$B/list-expand" "$T/nowhere"
is_rc 100 "SENDER not set: 100" env -u SENDER "$B/list-expand" "$L"
like "$(cat "$T/err")" 'SENDER is not set' "saying so"
"$PY" -c 'import sys
sys.stdout.write("From: a@b.example\n" + "X-Long: " + "x" * 1100000 + "\n\nbody\n")' > "$T/big"
expand alice@example.com < "$T/big"
is "$RC" 100 "a header of more than 1 MB: 100"

# ---- DMARC: From rewritten for a strict author's domain --------------------------------------
if command -v dnsmasq >/dev/null; then
  DP=$(free_port udp)
  start_bg dnsmasq -k -C /dev/null --pid-file= --port="$DP" --listen-address=127.0.0.1 --bind-interfaces \
    --no-resolv --no-hosts --local=/example/ --local=/test/ \
    --txt-record=_dmarc.strict.example,"v=DMARC1; p=reject; rua=mailto:d@strict.example" \
    --txt-record=_dmarc.quar.example,"v=DMARC1;p=quarantine" \
    --txt-record=_dmarc.none.example,"v=DMARC1; p=none" \
    --txt-record=_dmarc.parent.example,"v=DMARC1; p=none; sp=reject" \
    --txt-record=_dmarc.other.example,"v=spf1 -all" 2>"$T/dnsmasq.err"
  wait_listen "$DP" udp || diag "$(cat "$T/dnsmasq.err")"
  FP=$(free_port udp)
  start_bg "$PY" "$TOP/t/fakedns.py" "$FP" "$DP" > "$T/fakedns.out"
  wait_listen "$FP" udp
  export DNSCACHEIP=127.0.0.1:$FP
  dpost() { printf 'From: %s\nSubject: d\n%s\n\nbody\n' "$1" "${2:-X-Empty: 1}" | expand x@y.example; RC=$?; echo "$RC|$(hfield "$(qqn)" From)|$(hfield "$(qqn)" Reply-To)"; }
  l_make -e -D reject
  is "$(dpost 'Ann Author <ann@strict.example>')" "0|Ann Author via team <team@example.com>|Ann Author <ann@strict.example>" "p=reject: From: \"Ann via team\" <team@>, Reply-To: the author"
  is "$(dpost 'ann@strict.example' 'DKIM-Signature: v=1; d=strict.example')|$(grep -c '^DKIM' "$T/qq/$(qqn).msg")" \
    "0|\"ann@strict.example via team\" <team@example.com>|ann@strict.example|0" "no display name: the address is the name; the broken DKIM signature removed"
  is "$(dpost 'Ann <ann@strict.example>' 'Reply-To: list-of-ann@strict.example')" "0|Ann via team <team@example.com>|list-of-ann@strict.example" "a Reply-To the author set is kept"
  is "$(dpost 'Q <q@quar.example>')" "0|Q <q@quar.example>|" "dmarc reject: a p=quarantine author is not rewritten"
  is "$(dpost 'N <n@none.example>')" "0|N <n@none.example>|" "p=none: not rewritten"
  is "$(dpost 'S <s@deep.sub.parent.example>')" "0|S via team <team@example.com>|S <s@deep.sub.parent.example>" "no record of its own: the parent's sp=reject (the tree walk)"
  is "$(dpost 'O <o@other.example>')" "0|O <o@other.example>|" "a TXT record that is not DMARC: not rewritten"
  is "$(dpost 'F <f@x.servfail.test>')" "0|F via team <team@example.com>|F <f@x.servfail.test>" "the DNS server fails: rewritten all the same (the safe way)"
  like "$(cat "$T/err")" 'warning: no DMARC policy found for x\.servfail\.test' "with a warning"
  l_make -e -D quarantine
  is "$(dpost 'Q <q@quar.example>')" "0|Q via team <team@example.com>|Q <q@quar.example>" "dmarc quarantine: a p=quarantine author is rewritten"
  is "$(dpost '"Dr. Who, PhD" <w@strict.example>')" "0|\"Dr. Who, PhD via team\" <team@example.com>|\"Dr. Who, PhD\" <w@strict.example>" "a quoted display name stays quoted"
else
  skip 11 "dnsmasq is not installed"
fi
