#!/bin/sh
# mail-user: domains, users, passwords, quotas, forwards, read back through auth-check; hand
# edits and rebuild; bad input changes nothing; parallel runs lose nothing.
. "$(dirname "$0")/lib.sh"
plan 168

chmod 755 "$T"                    # the domains' owner (nobody) must reach its directories
export SLUICEDIR="$T/sluice"
mkdir -p "$SLUICEDIR/control"
echo 'yescrypt 1' > "$SLUICEDIR/control/passwordhash"   # cheap hashes: this test is not about cost
MU="$B/mail-user"
U="$SLUICEDIR/users"
D="$SLUICEDIR/domains"
NOBODY=$(id -u nobody)

# login PASSWORD [LOGIN]: auth-check's exit code; its prog prints USER and uid in $T/login
login() {
  printf '%s\0%s\0\0' "$2" "$1" | "$B/auth-check" -w 0 sh -c 'echo "$USER $(id -u)"' 3<&0 >"$T/login" 2>"$T/login.err"
}
# snapshot: everything in users/ and domains/ (names, owners, modes, contents)
snapshot() { (cd "$SLUICEDIR" && find users domains -printf '%p %u %m\n' | sort && cat users/* 2>/dev/null) | cksum; }
mkhash() {   # password prefix cost
  python3 -c 'import ctypes, sys
l = ctypes.CDLL("libcrypt.so.1"); l.crypt_gensalt.restype = ctypes.c_char_p; l.crypt.restype = ctypes.c_char_p
print(l.crypt(sys.argv[1].encode(), l.crypt_gensalt(sys.argv[2].encode(), int(sys.argv[3]), None, 0)).decode())' "$@"
}

# --- domains
is_rc 0 "adddomain" "$MU" adddomain -u nobody example.com
ok "the domain's directory is owned by its owner, mode 0700" \
  test "$(stat -c '%U %a' "$D/example.com")" = "nobody 700"
like "$(cat "$U/domains")" "^example\.com:$NOBODY:[0-9]+:$D/example\.com$" "users/domains has the domain's line"
ok "the cdb is there" test -s "$U/cdb"
is_rc 100 "adddomain of an existing domain" "$MU" adddomain -u nobody example.com
like "$(cat "$T/err")" "exists already: example.com" "says the domain exists"
before=$(snapshot)
for bad in ../evil a/b.com example..com localhost .example.com "exa mple.com" "" "example.com/.." ; do
  is_rc 100 "adddomain refuses '$bad'" "$MU" adddomain -u nobody "$bad"
done
is_rc 100 "adddomain refuses root as the owner" "$MU" adddomain -u root example.org
is_rc 100 "adddomain refuses an unknown owner" "$MU" adddomain -u no-such-user-here example.org
is_rc 100 "adddomain refuses a relative directory" "$MU" adddomain -u nobody -d rel/dir example.org
is "$(snapshot)" "$before" "bad domains changed nothing"
is_rc 100 "no owner given and none configured" "$MU" adddomain example.org
like "$(cat "$T/err")" "control/mailowner" "says where the owner comes from"
echo nobody > "$SLUICEDIR/control/mailowner"
is_rc 0 "control/mailowner gives the owner" "$MU" adddomain example.org
is_rc 0 "aliasdomain" "$MU" aliasdomain example.net example.com
is_rc 100 "aliasdomain of a domain that does not exist" "$MU" aliasdomain example.info nowhere.example
is_rc 100 "aliasdomain over an existing domain" "$MU" aliasdomain example.org example.com
"$MU" domains >"$T/out"
is "$(cat "$T/out")" "example.com
example.org
example.net -> example.com" "domains lists domains and alias domains"

# --- users
is_rc 0 "adduser, the password on stdin" sh -c "echo 'correct horse' | '$MU' adduser alice@example.com"
for s in "" /tmp /new /cur; do
  ok "Maildir$s is owned by nobody, mode 0700" test "$(stat -c '%U %a' "$D/example.com/alice/Maildir$s")" = "nobody 700"
done
like "$(grep '^alice:' "$U/example.com")" '^alice:\$y\$[^:]+:::$' "stored as a yescrypt hash"
nok "the password is nowhere in clear" grep -rq 'correct horse' "$U"
login 'correct horse' alice@example.com; is "$?" 0 "auth-check accepts the new user"
is "$(cat "$T/login")" "alice@example.com $NOBODY" "as alice@example.com, with the domain's uid"
login 'correct horse' ALICE@Example.NET; is "$?" 0 "through the alias domain, any case"
is "$(cat "$T/login")" "alice@example.com $NOBODY" "the alias domain gives the real user"
login 'wrong' alice@example.com; is "$?" 1 "a wrong password is rejected"

before=$(snapshot)
is_rc 100 "adduser of an existing user" sh -c "echo pw | '$MU' adduser alice@example.com"
like "$(cat "$T/err")" "user exists already: alice@example.com" "says the user exists"
is_rc 100 "adduser in a domain that does not exist" sh -c "echo pw | '$MU' adduser bob@nowhere.example"
like "$(cat "$T/err")" "no such domain: nowhere.example" "says the domain does not exist"
for bad in bob "bob smith@example.com" "bob@exa/mple.com" "../bob@example.com" ".bob@example.com" "bob@" "@example.com" "bob:x@example.com"; do
  is_rc 100 "adduser refuses '$bad'" sh -c "echo pw | '$MU' adduser '$bad'"
done
is_rc 100 "an empty password is refused" sh -c "printf '\n' | '$MU' adduser bob@example.com"
is_rc 100 "a password of 257 bytes is refused" sh -c "head -c 257 /dev/zero | tr '\\0' a | '$MU' adduser bob@example.com"
like "$(cat "$T/err")" "too long" "says it is too long"
is_rc 100 "a password with a NUL byte is refused" sh -c "printf 'a\\000b\n' | '$MU' adduser bob@example.com"
is_rc 100 "a plaintext 'hash' is refused" sh -c "echo secret | '$MU' adduser -H bob@example.com"
like "$(cat "$T/err")" "plaintext password is refused" "and says why"
is_rc 100 "an md5-crypt hash is refused" sh -c "echo '\$1\$4g366zzn\$DIklHf5ORRtUbS3NjE6QE/' | '$MU' adduser -H bob@example.com"
is_rc 100 "a bad quota is refused" sh -c "echo pw | '$MU' adduser -q 12X bob@example.com"
is "$(snapshot)" "$before" "bad users changed nothing"
is_rc 0 "a password of 256 bytes is accepted" sh -c "head -c 256 /dev/zero | tr '\\0' a | '$MU' adduser long@example.com"
login "$(head -c 256 /dev/zero | tr '\0' a)" long@example.com; is "$?" 0 "and checked"
is_rc 0 "deluser" "$MU" deluser -r long@example.com

# on a terminal: a prompt, twice, without echo
ttyadd() {   # address first-password second-password: prints exit code and whether the password was echoed
  python3 - "$MU" "$@" <<'PY'
import os, pty, signal, sys
signal.alarm(20)
mu, addr, p1, p2 = sys.argv[1:5]
pid, fd = pty.fork()
if pid == 0:
    os.execv(mu, [mu, "adduser", addr])
out = b""
def expect(s):
    global out
    while s not in out:
        out += os.read(fd, 1024)
expect(b"New password: "); os.write(fd, p1.encode() + b"\n")
expect(b"Retype new password: "); os.write(fd, p2.encode() + b"\n")
try:
    while True:
        d = os.read(fd, 1024)
        if not d: break
        out += d
except OSError:
    pass
_, st = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(st), "echoed" if p1.encode() in out else "silent")
PY
}
is "$(ttyadd tty@example.com 'tty pass' 'tty pass')" "0 silent" "on a terminal: asked twice, not echoed"
login 'tty pass' tty@example.com; is "$?" 0 "the password typed on the terminal works"
is "$(ttyadd tty2@example.com 'one pass' 'other pass')" "100 silent" "two different passwords: refused"
is_rc 100 "and the user was not added" "$MU" show tty2@example.com

# --- passwords, quotas, flags
is_rc 0 "passwd" sh -c "echo 'new secret' | '$MU' passwd alice@example.com"
login 'new secret' alice@example.com; is "$?" 0 "the new password works"
login 'correct horse' alice@example.com; is "$?" 1 "the old one does not"
h6=$(mkhash 'sha pass' '$6$' 5000)
is_rc 0 "passwd -H with a sha512-crypt hash" sh -c "echo '$h6' | '$MU' passwd -H alice@example.com"
login 'sha pass' alice@example.com; is "$?" 0 "the sha512-crypt hash is checked"
like "$("$MU" show alice@example.com)" "password: sha512crypt" "show names the method"
is_rc 100 "passwd of an unknown user" sh -c "echo x | '$MU' passwd zed@example.com"
is_rc 0 "quota" "$MU" quota alice@example.com 50M
like "$("$MU" show alice@example.com)" "quota: 52428800" "show has the quota in bytes"
like "$(cdb -q "$U/cdb" Ualice@example.com | tr '\0' '|')" "^$NOBODY\|[0-9]+\|$D/example.com/alice\|\\\$6\\\$[^|]+\|\|52428800\|\|$" "the cdb record has home, hash, quota"
is_rc 100 "quota refuses a bad size" "$MU" quota alice@example.com 5Q
is_rc 0 "quota none" "$MU" quota alice@example.com none
like "$("$MU" show alice@example.com)" "quota: none" "the quota is gone"
is_rc 0 "disable" "$MU" disable alice@example.com
login 'sha pass' alice@example.com; is "$?" 1 "a disabled user is rejected"
like "$(cat "$T/login.err")" "reject - alice@example.com disabled" "and the log says why"
is_rc 0 "enable" "$MU" enable alice@example.com
login 'sha pass' alice@example.com; is "$?" 0 "enabled again, accepted"

# --- forwards and aliases
is_rc 0 "forward creates an alias" "$MU" forward postmaster@example.com alice@example.com,ops@example.org
like "$("$MU" show postmaster@example.com)" "type: alias" "show says alias"
like "$(cdb -q "$U/cdb" Upostmaster@example.com | tr '\0' '|')" "\|alias\|\|alice@example.com,ops@example.org\|$" "the cdb has the alias"
login '' postmaster@example.com; is "$?" 1 "an alias cannot log in"
is_rc 0 "forward -k on a user" "$MU" forward -k alice@example.com bob@example.org
like "$("$MU" show alice@example.com)" "forward: bob@example.org \(a copy kept\)" "show has the forward and the copy"
login 'sha pass' alice@example.com; is "$?" 0 "a forwarded user still logs in"
is_rc 100 "forward to itself" "$MU" forward alice@example.com alice@example.com
is_rc 100 "forward to itself through an alias domain" "$MU" forward alice@example.com x@example.org,Alice@Example.NET
is_rc 100 "forward to a bad address" "$MU" forward alice@example.com "not an address"
is_rc 100 "forward -k on an alias" "$MU" forward -k postmaster@example.com alice@example.com
is_rc 0 "unforward a user" "$MU" unforward alice@example.com
like "$("$MU" show alice@example.com)" "forward: none" "the forward is gone"
is_rc 100 "unforward with nothing to clear" "$MU" unforward alice@example.com
is_rc 0 "unforward an alias removes it" "$MU" unforward postmaster@example.com
is_rc 100 "the alias is gone" "$MU" show postmaster@example.com

# --- hand edits and rebuild
carol=$(mkhash 'carol pass' '$y$' 1)
printf '# added by hand\ncarol:%s:::\n' "$carol" >> "$U/example.com"
login 'carol pass' carol@example.com; is "$?" 1 "a hand edit is not seen before rebuild"
is_rc 0 "rebuild" "$MU" rebuild
mkdir "$D/example.com/carol"; chown nobody "$D/example.com/carol"
login 'carol pass' carol@example.com; is "$?" 0 "after rebuild the hand-added user logs in"
cp "$U/cdb" "$T/cdb.before"
printf 'dave:plaintext:::\n' >> "$U/example.com"
n=$(wc -l < "$U/example.com")
is_rc 100 "rebuild refuses a bad line" "$MU" rebuild
like "$(cat "$T/err")" "users/example.com line $n: not a crypt\(3\) hash" "naming the file and the line"
ok "the old cdb is untouched" cmp -s "$U/cdb" "$T/cdb.before"
is_rc 100 "other changes are refused while a line is bad" sh -c "echo pw | '$MU' adduser erin@example.com"
like "$(cat "$T/err")" "nothing changed" "and say that nothing changed"
ok "so the cdb is still untouched" cmp -s "$U/cdb" "$T/cdb.before"
sed -i '/^dave:/d' "$U/example.com"
printf 'example.com:0:0:/x\n' >> "$U/domains"
is_rc 100 "a bad line in users/domains is named" "$MU" rebuild
like "$(cat "$T/err")" "users/domains line 4: " "with its line"
sed -i '$d' "$U/domains"
is_rc 0 "fixed, rebuild works" "$MU" rebuild

# --- import
printf 'imp1:%s:::\n# comment\nimp2:%s::1000:\nimpalias::::imp1@example.com\n' "$carol" "$carol" > "$T/import"
is_rc 0 "import" sh -c "'$MU' import example.com < '$T/import'"
login 'carol pass' imp2@example.com; is "$?" 0 "an imported user logs in"
ok "an imported user has a Maildir" test -d "$D/example.com/imp1/Maildir/new"
before=$(snapshot)
printf 'imp3:%s:::\nimp1:%s:::\nimp3:%s:::\nimp4:oops:::\n' "$carol" "$carol" "$carol" > "$T/import"
is_rc 100 "import refuses duplicates and bad lines" sh -c "'$MU' import example.com < '$T/import'"
like "$(cat "$T/err")" "stdin line 2: user exists already: imp1" "an existing user is named"
like "$(cat "$T/err")" "stdin line 3: user given twice: imp3" "a repeated user is named"
like "$(cat "$T/err")" "stdin line 4: " "a bad line is named"
is "$(snapshot)" "$before" "a refused import changed nothing"

# --- removal
is_rc 0 "deluser" "$MU" deluser carol@example.com
login 'carol pass' carol@example.com; is "$?" 1 "a removed user is rejected"
ok "deluser keeps the mail" test -d "$D/example.com/carol"
is_rc 100 "deluser of an unknown user" "$MU" deluser carol@example.com
is_rc 0 "deluser -r" "$MU" deluser -r imp1@example.com
nok "deluser -r removes the home" test -e "$D/example.com/imp1"
"$MU" users example.com >"$T/out"
is "$(cat "$T/out")" "alice@example.com
tty@example.com
imp2@example.com
impalias@example.com" "users lists what is left"
is_rc 0 "deldomain" "$MU" deldomain example.com
like "$(cat "$T/err")" "removed the alias domain example.net" "its alias domain goes too"
login 'sha pass' alice@example.com; is "$?" 1 "the users of a removed domain are rejected"
nok "its users file is gone" test -e "$U/example.com"
ok "its mail stays" test -d "$D/example.com/alice/Maildir"
is "$("$MU" domains)" "example.org" "only example.org is left"
is_rc 0 "adduser in example.org" sh -c "echo pw | '$MU' adduser zoe@example.org"
is_rc 0 "deldomain -r" "$MU" deldomain -r example.org
nok "deldomain -r removes the domain's directory" test -e "$D/example.org"
is_rc 100 "deldomain of an unknown domain" "$MU" deldomain example.org
is_rc 0 "a removed domain can be added again (its directory is reused)" "$MU" adddomain example.com
ok "alice's mail is still there" test -d "$D/example.com/alice/Maildir"
echo 'x:1:1:/y' > "$U/stray.example"
is_rc 100 "adddomain will not overwrite a users file it does not list" "$MU" adddomain stray.example
rm -f "$U/stray.example"

# --- twenty admins at once
i=0; pids=""
while [ $i -lt 20 ]; do
  (echo "pw$i" | "$MU" adduser "par$i@example.com") 2>"$T/par$i.err" &
  pids="$pids $!"; i=$((i+1))
done
fails=0; for p in $pids; do wait "$p" || fails=$((fails+1)); done
is "$fails" 0 "20 parallel adduser runs all succeed"
is "$("$MU" users example.com | grep -c '^par')" 20 "all 20 are in the users file"
n=0; i=0
while [ $i -lt 20 ]; do cdb -q "$U/cdb" "Upar$i@example.com" >/dev/null && n=$((n+1)); i=$((i+1)); done
is "$n" 20 "all 20 are in the cdb"
login pw7 par7@example.com; is "$?" 0 "one of them logs in"
i=0; pids=""
while [ $i -lt 10 ]; do ("$MU" quota "par$i@example.com" "${i}k") & pids="$pids $!"; i=$((i+1)); done
fails=0; for p in $pids; do wait "$p" || fails=$((fails+1)); done
is "$fails/$(grep -c '^par[1-9]:[^:]*::[1-9][0-9]*:' "$U/example.com")/$(grep -c '^par0:[^:]*:::' "$U/example.com")" "0/9/1" "10 parallel quota changes all land (quota 0k is none)"

# --- catch-all: the mail of unknown users of a domain goes to these addresses
is_rc 0 "catchall" "$MU" catchall example.com par1@example.com postmaster@elsewhere.example
like "$(grep '^example\.com:' "$U/domains")" ":$D/example\.com:par1@example\.com,postmaster@elsewhere\.example\$" "a 5th field of its users/domains line"
like "$("$MU" domains)" '^example\.com catch-all par1@example\.com,postmaster@elsewhere\.example$' "domains shows it"
is "$(cdb -q "$U/cdb" Dexample.com | tr '\0' '|')" "$NOBODY|$(id -g nobody)|$D/example.com|par1@example.com,postmaster@elsewhere.example|" "the cdb's D record has it as a 4th field"
"$MU" aliasdomain example.net example.com
is_rc 0 "a user of the domain by an alias domain name, with an extension" "$MU" catchall example.com par2-catch@EXAMPLE.net
before=$(snapshot)
is_rc 100 "a catch-all naming a user of the domain who does not exist" "$MU" catchall example.com nobody@example.com
like "$(cat "$T/err")" "who does not exist" "says so (the mail would go round)"
is_rc 100 "... under an alias domain's name too" "$MU" catchall example.com nobody@example.net
is_rc 100 "an alias domain has no catch-all of its own" "$MU" catchall example.net par1@example.com
like "$(cat "$T/err")" "give the catch-all to example.com" "says which domain to give it to"
is_rc 100 "an unknown domain" "$MU" catchall nowhere.example par1@example.com
is_rc 100 "a bad address" "$MU" catchall example.com not-an-address
is_rc 100 "no address" "$MU" catchall example.com
is "$(snapshot)" "$before" "refused catch-alls changed nothing"
is_rc 0 "catchall none clears it" "$MU" catchall example.com none
like "$(grep '^example\.com:' "$U/domains")" ":$D/example\.com\$" "the line has its 4 fields again"
is "$(cdb -q "$U/cdb" Dexample.com | tr '\0' '|')" "$NOBODY|$(id -g nobody)|$D/example.com|" "and the D record its 3"
sed -i "s|^\(example\.com:.*\)\$|\1:bad address|" "$U/domains"
is_rc 100 "a hand-edited catch-all that is no address: rebuild refuses" "$MU" rebuild
like "$(cat "$T/err")" "users/domains line [0-9]+: bad catch-all" "naming the line"
sed -i "s|:bad address\$||" "$U/domains"
is_rc 0 "fixed: rebuild" "$MU" rebuild
"$MU" deldomain example.net

# --- usage
is_rc 100 "no command" "$MU"
is_rc 100 "an unknown command" "$MU" frobnicate
is_rc 100 "a command with missing arguments" "$MU" adduser
like "$(cat "$T/err")" "usage: mail-user adduser" "says the command's usage"
