#!/bin/sh
# The POP3 chain (tcpsrv, pop3-login, auth-check, pop3d) with the clients people use: curl
# (pop3://), fetchmail (into a Maildir, with and without keep/UIDL), mutt (fetch-mail into an
# mbox, under a pseudo-terminal); wrong passwords, unknown users and domains; byte-exact
# messages; a user over quota who fetches and deletes mail can receive again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pop3-lib.sh"
command -v curl >/dev/null || skip_all "curl is not installed"
plan 24

pop3_setup || exit 1
printf 'Subject: dots\n\n.\n..\n.x\nend\n' > "$T/m1"
printf 'Subject: nofinal\n\nlast line without newline' > "$T/m2"
printf 'Subject: plain\n\nhello\n' > "$T/m3"
for i in 1 2 3; do deliver "$MA" < "$T/m$i" || exit 1; done
pop3_start main -w 0 || exit 1
U="pop3://127.0.0.1:$PORT"
crlf() { sed 's/$/\r/' "$1"; }

# curl
is "$(curl -sS "$U/" -u 'alice@example.com:alice pw' | tr -d '\r' | awk '{print $1}' | tr '\n' ' ')" "1 2 3 " "curl: LIST"
curl -sS "$U/1" -u 'alice@example.com:alice pw' > "$T/c1"
crlf "$T/m1" > "$T/w1"
ok "curl: RETR of a message with lines starting with '.' is byte-exact (CR LF on the wire)" cmp "$T/c1" "$T/w1"
curl -sS "$U/2" -u 'alice@example.com:alice pw' > "$T/c2"
{ crlf "$T/m2"; printf '\n'; } > "$T/w2"
ok "curl: a message without a final newline: its bytes, then CR LF" cmp "$T/c2" "$T/w2"
curl -sS "$U/" -u 'alice@example.com:alice pw' -X UIDL > "$T/u1"
curl -sS "$U/" -u 'alice@example.com:alice pw' -X UIDL > "$T/u2"
ok "curl: UIDL the same twice" cmp "$T/u1" "$T/u2"
curl -sS "$U/" -u 'alice@example.com:alice pw' -X 'TOP 3 0' > "$T/top"
is "$(tr -d '\r' < "$T/top" | tr '\n' '|')" "Subject: plain||" "curl: TOP 3 0"
curl -sS "$U/" -u 'alice@example.com:wrong' 2>"$T/e"; r=$?
is "$r" 67 "curl: a wrong password is 'login denied' (67)"
curl -sS "$U/" -u 'nobody@example.com:alice pw' 2>/dev/null; is "$?" 67 "curl: an unknown user: 67"
curl -sS "$U/" -u 'alice@unknown.example:alice pw' 2>/dev/null; is "$?" 67 "curl: an unknown domain: 67"
like "$(grep '^auth success' "$T/main.log" | tail -1)" ' mech=PLAIN$' "curl logs in with AUTH PLAIN, as CAPA offers"
is "$(grep -c '^auth failure' "$T/main.log")" 3 "log: three failures"

# fetchmail, keeping the messages: UIDs remembered
mkdir -p "$T/home" "$T/fm/new" "$T/fm/cur" "$T/fm/tmp"
fmrc() {
  cat > "$T/home/.fetchmailrc" <<EOF
poll 127.0.0.1 service $PORT protocol pop3 $3 auth password
  user "$1" password "$2" is root here
  sslproto '' mda "$B/maildir-deliver $T/fm" $4
EOF
  chmod 600 "$T/home/.fetchmailrc"
}
fm() { HOME=$T/home fetchmail -f "$T/home/.fetchmailrc" --nosyslog --invisible -v > "$T/fm.out" 2>&1; }
fmrc alice@example.com 'alice pw' uidl keep
fm; is "$?" 0 "fetchmail keep uidl: fetched"
is "$(ls "$T/fm/new" | wc -l)" 3 "three messages"
fm; is "$?" 1 "the second run: no new mail (exit 1), by UIDL"
is "$(ls "$T/fm/new" | wc -l)" 3 "nothing fetched twice"
printf 'Subject: four\n\nmore\n' | deliver "$MA"
fm
is "$(ls "$T/fm/new" | wc -l)" 4 "the third run fetches only the new one"
rm -f "$T/fm/new/"*

# fetchmail, deleting: byte-exact into a Maildir
fmrc alice@example.com 'alice pw' '' 'no keep fetchall'
fm; is "$?" 0 "fetchmail no keep: fetched"
is "$(find "$MA/new" "$MA/cur" -type f | wc -l)" 0 "and deleted on the server"
# which file is which by its subject (Maildir names do not sort in delivery order: the
# microseconds in them are not zero-padded)
for f in "$T/fm/new/"*; do
  case $(head -1 "$f") in 'Subject: dots') cp "$f" "$T/f1" ;; 'Subject: nofinal') cp "$f" "$T/f2" ;; esac
done
ok "fetchmail: the message with '.' lines is byte-exact" cmp "$T/f1" "$T/m1"
{ cat "$T/m2"; echo; } > "$T/m2nl"
ok "fetchmail: the one without a final newline gets only its newline" cmp "$T/f2" "$T/m2nl"
fmrc alice@example.com 'wrong pw' '' 'no keep'
fm
like "$(cat "$T/fm.out")" 'Authorization failure|authentication failed' "fetchmail: a wrong password is an authorization failure"

# over quota: fetch and delete, then mail comes in again
printf '0S,2C\n' > "$MB/maildirsize"; chown nobody "$MB/maildirsize"
printf 'Subject: b1\n\nx\n' | deliver "$MB" -q 0S,2C
printf 'Subject: b2\n\nx\n' | deliver "$MB" -q 0S,2C
printf 'Subject: b3\n\nx\n' | deliver "$MB" -q 0S,2C 2>/dev/null; r=$?
is "$r" 111 "bob is at his quota of 2 messages: the third is deferred"

# mutt fetches into an mbox (pop_delete), under a pseudo-terminal
if command -v mutt >/dev/null && command -v script >/dev/null; then
  mkdir -p "$T/home/Mail"
  cat > "$T/muttrc" <<EOF
set pop_host="pop://bob%40example.com:bob%20pw@127.0.0.1:$PORT"
set pop_delete=yes
set pop_authenticators="user"
set spoolfile="$T/mbox"
set folder="$T/home/Mail"
set mbox_type=mbox
set ssl_starttls=no
set ssl_force_tls=no
set quit=yes
set move=no
set confirmappend=no
set confirmcreate=no
EOF
  : > "$T/mbox"
  HOME=$T/home TERM=xterm timeout 20 script -qec "mutt -n -F $T/muttrc -e 'push <fetch-mail><quit>'" /dev/null > "$T/mutt.out" 2>&1
  is "$(grep -c '^Subject: b[12]$' "$T/mbox")" 2 "mutt: bob's two messages fetched into the mbox"
  is "$(find "$MB/new" "$MB/cur" -type f | wc -l)" 0 "mutt: and deleted on the server"
else
  skip 2 "mutt or script is not installed"
fi
printf 'Subject: b3\n\nx\n' | deliver "$MB" -q 0S,2C
is "$?" 0 "after the deletion bob can receive again"
