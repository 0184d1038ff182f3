#!/bin/sh
# dkim-sign: keys made with -g, messages signed with RSA and Ed25519 keys (both when both
# exist), verified by two independent verifiers (python's dkim module, OpenDKIM's
# opendkim-testmsg against dnsmasq in a network namespace of its own); a changed body fails;
# no key, no signature; a key that cannot be used queues nothing; control/dkimheaders; the
# hand-over to the queue through queue-inject and through queue-injectd's socket.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dkim-lib.sh"
"$PY" -c 'import dkim' 2>/dev/null || skip_all "python3-dkim not installed"
plan 41

S=$T/sl
mkdir -p "$S/control"
export SLUICEDIR=$S
env_of joe@example.com bob@example.org > "$T/env"
# sign FILE OUT: dkim-sign FILE, handed on to the capturing program; exit code in $RC
sign() { filt dkim-sign "$1" "$2"; }

# --- keys ------------------------------------------------------------------------------------------
"$B/dkim-sign" -g Example.COM r1 > "$T/r1.txt"
is "$?" 0 "-g makes an RSA key"
like "$(head -1 "$T/r1.txt")" '^r1\._domainkey\.example\.com\. IN TXT \( "v=DKIM1; k=rsa; p="$' "and prints its TXT record"
is "$(stat -c %a "$S/control/dkim/example.com/r1.rsa")" 600 "the key is readable by its owner alone"
is "$(stat -c %a "$S/control/dkim")" 700 "in a directory of mode 0700"
like "$(openssl pkey -in "$S/control/dkim/example.com/r1.rsa" -noout -text 2>&1 | head -1)" '2048 bit' "RSA 2048 bits"
"$B/dkim-sign" -g -t ed25519 example.com e1 > "$T/e1.txt"
like "$(cat "$T/e1.txt")" 'k=ed25519; p=' "-g -t ed25519 makes an Ed25519 key"
like "$(openssl pkey -in "$S/control/dkim/example.com/e1.ed25519" -noout -text 2>&1 | head -1)" 'ED25519' "an Ed25519 key in PEM"
is_rc 100 "-g over an existing key: refused" "$B/dkim-sign" -g example.com r1
like "$(cat "$T/err")" 'exists' "saying so"
is_rc 100 "-g with a bad domain" "$B/dkim-sign" -g '../x' s
is_rc 100 "-g with a bad key type" "$B/dkim-sign" -g -t dsa example.com s
is_rc 100 "bad usage" "$B/dkim-sign" extra

# --- signing -----------------------------------------------------------------------------------------
printf 'From: Joe <joe@Example.com>\nTo: bob@example.org\nSubject: hello\nDate: Wed, 2 Dec 2026 01:00:00 +0000\nMessage-ID: <1@example.com>\n\nline 1\n\nline 3\n' > "$T/m"
sign "$T/m" s
is "$RC" 0 "a message from example.com is handed on"
is "$(grep -c '^DKIM-Signature:' "$T/s.msg")" 2 "with two signatures (an RSA and an Ed25519 key)"
like "$(cat "$T/s.msg")" 'a=rsa-sha256; c=relaxed/relaxed; d=example.com' "rsa-sha256, relaxed/relaxed, d=example.com"
like "$(cat "$T/s.msg")" 'a=ed25519-sha256; c=relaxed/relaxed' "ed25519-sha256"
like "$(tr -d '\n\t ' < "$T/s.msg")" 'h=From:To:Subject:Date:Message-ID:from;' "From is oversigned"
ok "the message follows unchanged" sh -c "sed '1,/^From:/{/^From:/!d}' '$T/s.msg' | cmp - '$T/m'"
ok "the envelope follows unchanged" cmp "$T/s.env" "$T/env"
is "$($DT verify "$T/s.msg" "$T/r1.txt" "$T/e1.txt" | tr '\n' ' ')" "pass pass " "python's dkim verifies both signatures"
sed 's/^line 3$/line 3!/' "$T/s.msg" > "$T/bad.msg"
is "$($DT verify "$T/bad.msg" "$T/r1.txt" "$T/e1.txt" | tr '\n' ' ')" "fail fail " "a body changed after signing fails"

# opendkim-testmsg asks the resolver of /etc/resolv.conf: in a network namespace of its own
# (loopback only), with dnsmasq on 127.0.0.1:53 and a resolv.conf bound over the machine's
if [ "$(id -u)" = 0 ] && command -v opendkim-testmsg >/dev/null && command -v dnsmasq >/dev/null \
   && unshare -n -m true 2>/dev/null; then
  mkdir -p "$S/control/dkim/rsa.example" "$S/control/dkim/ed.example"
  "$B/dkim-sign" -g rsa.example r2 > "$T/r2.txt"
  "$B/dkim-sign" -g -t ed25519 ed.example e2 > "$T/e2.txt"
  $DT dnsmasq "$T/r1.txt" "$T/e1.txt" "$T/r2.txt" "$T/e2.txt" > "$T/dns.conf"
  echo 'nameserver 127.0.0.1' > "$T/resolv.conf"
  sed 's/Example\.com/rsa.example/' "$T/m" > "$T/m2"; sign "$T/m2" r2
  sed 's/Example\.com/ed.example/' "$T/m" > "$T/m3"; sign "$T/m3" e2
  sed 's/^line 3$/line 3!/' "$T/r2.msg" > "$T/r2bad.msg"
  cat > "$T/ns.sh" <<EOF2
ip link set lo up && mount --bind "$T/resolv.conf" /etc/resolv.conf || exit 1
dnsmasq -C "$T/dns.conf" --pid-file="$T/dm.pid" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts || exit 1
for i in 1 2 3 4 5 6 7 8 9 10; do [ -s "$T/dm.pid" ] && break; sleep 0.1; done
for f in s r2 e2 r2bad; do opendkim-testmsg < "$T/\$f.msg" > "$T/\$f.ot" 2>&1; echo "\$f \$?"; done
kill \$(cat "$T/dm.pid")
EOF2
  unshare -n -m sh "$T/ns.sh" > "$T/ot" 2>&1
  like "$(cat "$T/ot")" '^s 0$' "opendkim-testmsg verifies the doubly signed message"
  like "$(cat "$T/ot")" '^r2 0$' "opendkim-testmsg verifies an RSA signature alone"
  like "$(cat "$T/ot")" '^e2 0$' "opendkim-testmsg verifies an Ed25519 signature alone"
  like "$(cat "$T/ot")" '^r2bad [1-9]' "opendkim-testmsg: a changed body fails"
else
  skip 4 "opendkim-testmsg needs root, unshare and dnsmasq"
fi

# --- no key, bad keys, settings ----------------------------------------------------------------------
sed 's/Example\.com/nokey.example/' "$T/m" > "$T/m4"; sign "$T/m4" n
is "$RC" 0 "a domain without a key: handed on"
ok "unchanged" cmp "$T/n.msg" "$T/m4"
printf 'From: "Joe, at home" <joe@example.com> (Joe)\nSubject: x\n\nbody\n' > "$T/m7"; sign "$T/m7" q
is "$(grep -c '^DKIM-Signature:' "$T/q.msg")" 2 "a From: with a quoted name and a comment: signed for example.com"
printf 'From: joe@example.com (not@evil.example)\nSubject: x\n\nbody\n' > "$T/m10"; sign "$T/m10" cm
is "$(grep -c '^DKIM-Signature:' "$T/cm.msg")" 2 "an @ in a comment after the address is not taken for it"
printf 'From: "x@evil.example" <joe@example.com>\nSubject: x\n\nbody\n' > "$T/m11"; sign "$T/m11" qn
is "$(grep -c '^DKIM-Signature:' "$T/qn.msg")" 2 "nor an @ in the quoted name"
printf 'From: joe@../dkim/example.com\nSubject: x\n\nbody\n' > "$T/m8"; sign "$T/m8" tr
ok "a From: domain with a path in it: handed on unsigned" cmp "$T/tr.msg" "$T/m8"
printf 'from:joe@EXAMPLE.com\n\nbody\n' > "$T/m9"; sign "$T/m9" lc
is "$(grep -c '^DKIM-Signature:' "$T/lc.msg")" 2 "a from: field in lower case, a domain in capitals: signed"
mkdir -p "$S/control/dkim/broken.example"
echo garbage > "$S/control/dkim/broken.example/b.rsa"
sed 's/Example\.com/broken.example/' "$T/m" > "$T/m5"; sign "$T/m5" b
is "$RC" 81 "a damaged key: a temporary failure (81)"
ok "and nothing handed on" test ! -e "$T/b.msg"
ln -s "$T/nowhere" "$S/control/dkim/broken.example/b.rsa.tmp"; rm "$S/control/dkim/broken.example/b.rsa"
ln -s "$T/nowhere" "$S/control/dkim/broken.example/c.ed25519"; sign "$T/m5" c
is "$RC" 55 "a key that cannot be read: 55 (temporary), nothing handed on"
printf 'Subject\nfrom\n' > "$S/control/dkimheaders"
sign "$T/m" h
like "$(tr -d '\n\t ' < "$T/h.msg")" 'h=From:Subject:from;' "control/dkimheaders names the signed fields"
rm "$S/control/dkimheaders"

# --- into the queue: queue-inject (exec'd), then queue-injectd's socket -----------------------------
mkdir -p "$S/queue/tmp" "$S/queue/todo" "$S/queue/mess" "$S/queue/info"
PATH=$B:$PATH "$B/dkim-sign" < "$T/m" 1< "$T/env" 2> "$T/err"
is "$?" 0 "without NEXTQUEUE nor queue-injectd: queue-inject takes it"
f=$(ls "$S/queue/todo/" 2>/dev/null | head -1)
is "$(grep -c '^DKIM-Signature:' "$S/queue/todo/$f" 2>/dev/null)" 2 "the queued message is signed"
start_bg "$B/queue-injectd" 2> "$T/inject.log"
wait_for 5 test -S "$S/queue/inject"
sed 's/^Subject: hello/Subject: by socket/' "$T/m" > "$T/m6"
PATH=/nonexistent "$B/dkim-sign" < "$T/m6" 1< "$T/env" 2> "$T/err"
is "$?" 0 "with queue-injectd listening: handed over its socket (queue-inject not even in PATH)"
f=$(grep -l '^Subject: by socket' "$S/queue/todo/"* 2>/dev/null | head -1)
ok "the message is in the queue" test -n "$f"
is "$(grep -c '^DKIM-Signature:' "$f" 2>/dev/null)" 2 "signed"
