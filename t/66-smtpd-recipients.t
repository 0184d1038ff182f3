#!/bin/sh
# smtpd and the users database (mail-users(5)): its domains, real and alias, are ours as if
# listed in rcpthosts; an unknown user of one is refused at RCPT with 550 5.1.1 (no bounce
# later), unless the domain has a catch-all; users, aliases, extension addresses (user-ext)
# and postmaster are accepted; a database that cannot be read is a 451, never an accept-all.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd-lib.sh"
plan 30

smtpd_setup
chmod 755 "$T"
echo 'yescrypt 1' > "$SLUICEDIR/control/passwordhash"
MU="$B/mail-user"
"$MU" adddomain -u nobody virt.example
"$MU" aliasdomain alias.example virt.example
echo pw | "$MU" adduser alice@virt.example
echo pw | "$MU" adduser a-b@virt.example
"$MU" forward info@virt.example alice@virt.example
"$MU" adddomain -u nobody catch.example
echo pw | "$MU" adduser bob@catch.example
"$MU" catchall catch.example bob@catch.example
smtpd_start rcpt || exit 1
P=$PORT

# rcpt ADDRESS...: the replies to RCPT for each, one per line
rcpt() {
  { printf 'EHLO x\r\nMAIL FROM:<s@sender.example>\r\n'; for a in "$@"; do printf 'RCPT TO:<%s>\r\n' "$a"; done; printf 'QUIT\r\n'; } > "$T/in"
  raw $P "$T/in" | sed -n '/^250 2\.1\.0/,/^221/p' | sed '1d;$d' | cut -c1-9
}

is "$(rcpt alice@virt.example)" "250 2.1.5" "a user of a domain of the database, not in rcpthosts: accepted"
is "$(rcpt Alice@VIRT.Example)" "250 2.1.5" "the local part and the domain in any case"
is "$(rcpt alice@alias.example)" "250 2.1.5" "a user by an alias domain"
is "$(rcpt info@virt.example)" "250 2.1.5" "an alias (forward only)"
is "$(rcpt alice-lists@virt.example alice-a-b@virt.example a-b-c@virt.example)" "250 2.1.5
250 2.1.5
250 2.1.5" "extension addresses: user-ext, user-ext-more, the longest user a-b of a-b-c"
is "$(rcpt postmaster@virt.example PostMaster@alias.example)" "250 2.1.5
250 2.1.5" "postmaster, not a user: accepted (RFC 5321)"
is "$(rcpt nobody@virt.example)" "550 5.1.1" "an unknown user: 550 5.1.1 at RCPT"
is "$(rcpt nobody@alias.example a-c@virt.example alicex@virt.example)" "550 5.1.1
550 5.1.1
550 5.1.1" "also by an alias domain, and names near users' (a-c, alicex)"
like "$(grep '^reject' "$T/rcpt.log" | tail -1)" '^reject ip=127\.0\.0\.1 code=550 from=<s@sender\.example> to=<alicex@virt\.example> reason=no such user here$' "the refusal is logged"
is "$(rcpt anyone@catch.example bob@catch.example)" "250 2.1.5
250 2.1.5" "a domain with a catch-all takes any local part"
is "$(rcpt x@example.org)" "250 2.1.5" "a domain of rcpthosts alone: as before"
is "$(rcpt x@elsewhere.example)" "553 5.7.1" "any other domain: relaying denied, as before"
printf 'EHLO x\r\nMAIL FROM:<s@sender.example>\r\nRCPT TO:<alice@virt.example>\r\nRCPT TO:<nobody@virt.example>\r\nDATA\r\nSubject: t\r\n\r\nhi\r\n.\r\nQUIT\r\n' > "$T/in"
qq_clear
like "$(raw $P "$T/in")" '250 2\.0\.0 ok' "a message to a user and an unknown user: queued"
printf 'Fs@sender.example\0Talice@virt.example\0\0' > "$T/want.env"
ok "for the user alone" cmp "$T/want.env" "$(qq_last)/env"

# swaks, a real client, is told at RCPT
swaks --server 127.0.0.1 --port $P --from s@sender.example --to nobody@virt.example > "$T/sw" 2>&1
isnt "$?" 0 "swaks to an unknown user fails"
like "$(cat "$T/sw")" '<\*\* +550 5\.1\.1 no such user here' "with the 550 5.1.1 at RCPT"

# relaying clients (RELAYCLIENT) are told too: the user does not exist for them either
smtpd_start relay RELAYCLIENT= || exit 1
printf 'EHLO x\r\nMAIL FROM:<s@sender.example>\r\nRCPT TO:<nobody@virt.example>\r\nRCPT TO:<x@elsewhere.example>\r\nQUIT\r\n' > "$T/in"
out=$(raw $PORT "$T/in")
like "$out" '^550 5\.1\.1' "RELAYCLIENT: an unknown user of ours is still refused"
like "$out" '^250 2\.1\.5' "and relaying still works"

# the catch-all removed: the next session refuses
"$MU" catchall catch.example none
is "$(rcpt anyone@catch.example bob@catch.example)" "550 5.1.1
250 2.1.5" "catchall none: unknown users refused again at the next session"

# one open of the database per session, at the first recipient
printf 'EHLO x\r\nMAIL FROM:<s@sender.example>\r\nRCPT TO:<alice@virt.example>\r\nRCPT TO:<nobody@virt.example>\r\nRCPT TO:<x@example.org>\r\nRCPT TO:<x@catch.example>\r\nQUIT\r\n' |
  strace -f -e trace=open,openat -o "$T/strace" "$B/smtpd" > "$T/out" 2>/dev/null
is "$(grep -c 'users/cdb' "$T/strace")" 1 "the database is opened once for four recipients"
printf 'EHLO x\r\nNOOP\r\nQUIT\r\n' | strace -f -e trace=open,openat -o "$T/strace" "$B/smtpd" > "$T/out" 2>/dev/null
is "$(grep -c 'users/' "$T/strace")" 0 "and not at all without a recipient"

# a database that cannot be read: 451, for every recipient (none can be known to be outside it)
cp "$SLUICEDIR/users/cdb" "$T/cdb.saved"
echo 'not a cdb' > "$SLUICEDIR/users/cdb"
is "$(rcpt alice@virt.example x@example.org nobody@virt.example)" "451 4.3.0
451 4.3.0
451 4.3.0" "a damaged database: 451 4.3.0, never an accept-all"
like "$(grep 'warning' "$T/rcpt.log" | tail -1)" '^smtpd: warning: unable to open the user database: ' "and a warning in the log"
like "$(grep '^reject' "$T/rcpt.log" | tail -1)" 'code=451 .*to=<nobody@virt\.example>' "each refusal logged"
rm "$SLUICEDIR/users/cdb"
is "$(rcpt alice@virt.example)" "451 4.3.0" "users/domains there but no cdb: 451"
echo "cdb:$T/cdb.saved" > "$SLUICEDIR/control/userdb"
is "$(rcpt alice@virt.example nobody@virt.example)" "250 2.1.5
550 5.1.1" "control/userdb names the database elsewhere"
echo "cdb:$T/nonexistent" > "$SLUICEDIR/control/userdb"
is "$(rcpt x@example.org)" "451 4.3.0" "control/userdb naming a missing file: 451"
rm -f "$SLUICEDIR/control/userdb"

# no users database at all: no virtual domains, rcpthosts as before
rm -rf "$SLUICEDIR/users"
w=$(grep -c 'user database' "$T/rcpt.log")
is "$(rcpt x@example.org alice@virt.example)" "250 2.1.5
553 5.7.1" "no database at all: rcpthosts alone decides"
is "$(grep -c 'user database' "$T/rcpt.log")" "$w" "and no warning"
is "$(rcpt postmaster)" "250 2.1.5" "<postmaster> without a domain: accepted, as before"
