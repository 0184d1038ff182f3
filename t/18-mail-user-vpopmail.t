#!/bin/sh
# mail-user import -V: a vpopmail domain directory (vpasswd, .qmail-NAME aliases) into the
# cdb backend; its users log in with the passwords they had, MD5-crypt ones too (over POP3,
# pop3-login and auth-check through tcpsrv), shown as legacy and listed by mail-user weak
# until passwd hashes a new one with the configured method; -H and adduser never take a
# legacy hash; a line that cannot be carried over is named, and nothing is imported.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pop3-lib.sh"
plan 32
chmod 755 "$T"
export SLUICEDIR="$T/sluice"
mkdir -p "$SLUICEDIR/control"
echo 'yescrypt 1' > "$SLUICEDIR/control/passwordhash"
MU="$B/mail-user"
login() {   # PASSWORD LOGIN
  printf '%s\0%s\0\0' "$2" "$1" | "$B/auth-check" -w 0 sh -c 'echo "$USER"' 3<&0 >"$T/login" 2>"$T/login.err"
}
snapshot() { (cd "$SLUICEDIR" && find users domains -printf '%p %u %m\n' | sort && cat users/* 2>/dev/null) | cksum; }
"$MU" adddomain -u nobody example.com

# a vpopmail domain directory as vpopmail leaves it
V=$T/vpopmail/domains/example.com
mkdir -p "$V"
SHA=$(openssl passwd -6 -salt Yp3Kd9Ws0Qa1 'sha secret')
YES=$(python3 -c 'import ctypes; l = ctypes.CDLL("libcrypt.so.1"); l.crypt_gensalt.restype = ctypes.c_char_p; l.crypt.restype = ctypes.c_char_p; print(l.crypt(b"yes secret", l.crypt_gensalt(b"$y$", 1, None, 0)).decode())')
MD5=$(openssl passwd -1 -salt Zq8Hw2Lk 'md5 secret')
cat > "$V/vpasswd" <<EOF2
shauser:$SHA:1:0:Sha User:$V/shauser:1048576S:sha secret
Yesuser:$YES:1:0:Yes User:$V/yesuser:NOQUOTA
nopop:$SHA:1:2:No Pop:$V/nopop:5M
md5user:$MD5:1:0:Md5 User:$V/md5user:NOQUOTA:md5 secret
EOF2
printf '&shauser@example.com\nboss@elsewhere.test\n' > "$V/.qmail-sales"
printf 'yesuser@example.com\n' > "$V/.qmail-info:desk"
printf '| /usr/bin/vdelivermail "" bounce-no-mailbox\n' > "$V/.qmail-default"

is_rc 0 "import -V" "$MU" import -V "$V" example.com 2>"$T/err"
like "$(cat "$T/err")" "1 user\(s\) imported with a legacy hash .* mail-user weak example.com lists them" "a warning: one legacy hash kept"
is_rc 0 "a SHA-512-crypt password of vpasswd logs in" login 'sha secret' shauser@example.com
is_rc 0 "a yescrypt one too, the name in lowercase" login 'yes secret' yesuser@example.com
is_rc 1 "the clear-text field is not a password" login 'sha secret x' shauser@example.com
is_rc 1 "pw_gid with NO_POP: disabled" login 'sha secret' nopop@example.com
is "$("$MU" show shauser@example.com | sed -n 's/^quota: //p')" 1048576 "the quota from pw_shell"
is "$("$MU" show nopop@example.com | sed -n 's/^quota: //p')" 5242880 "5M too"
is "$("$MU" show sales@example.com | sed -n 's/^forward: //p')" "shauser@example.com,boss@elsewhere.test" ".qmail-sales is an alias"
is "$("$MU" show info.desk@example.com | sed -n 's/^type: //p')" alias ".qmail-info:desk is info.desk"
ok "the Maildirs are made" test -d "$SLUICEDIR/domains/example.com/shauser/Maildir/new"
nok ".qmail-default is no user" "$MU" show default@example.com

# ---- vpopmail's MD5-crypt: kept, logs in, shown as legacy, replaced by passwd ------------------
is_rc 0 "an MD5-crypt password of vpasswd logs in (auth-check)" login 'md5 secret' md5user@example.com
is_rc 1 "a wrong one does not" login 'md5 secreT' md5user@example.com
is "$(grep '^md5user:' "$SLUICEDIR/users/example.com" | cut -d: -f2)" "$MD5" "the hash kept as it was in the users file"
pop3_start pop
pop3py $PORT > "$T/pop" 2>&1 <<'EOF'
p = login(user="md5user@example.com", pw="md5 secret"); print("stat", p.stat()); p.quit()
try:
    login(user="md5user@example.com", pw="wrong"); print("in")
except poplib.error_proto as e:
    print("refused")
EOF
is "$(cat "$T/pop")" "stat (0, 0)
refused" "over POP3 (pop3-login, auth-check, pop3d through tcpsrv): the MD5-crypt password logs in, a wrong one not"
is "$("$MU" show md5user@example.com | sed -n 's/^password: //p')" "md5crypt (legacy)" "show says the hash is legacy"
is "$("$MU" show shauser@example.com | sed -n 's/^password: //p')" "sha512crypt" "a strong one is not"
is "$("$MU" weak example.com)" "md5user@example.com md5crypt" "weak lists the users with a legacy hash"
is_rc 100 "adduser -H refuses a legacy hash" sh -c "echo '$MD5' | '$MU' adduser -H md5b@example.com"
is_rc 100 "passwd -H too" sh -c "echo '$MD5' | '$MU' passwd -H shauser@example.com"
ok "passwd sets a new password" sh -c "echo 'new secret' | '$MU' passwd md5user@example.com"
is "$("$MU" show md5user@example.com | sed -n 's/^password: //p')" "yescrypt" "hashed with the configured method"
is "$("$MU" weak example.com)" "" "weak lists nobody now"
pop3py $PORT > "$T/pop" 2>&1 <<'EOF'
p = login(user="md5user@example.com", pw="new secret"); print("stat", p.stat()); p.quit()
EOF
is "$(cat "$T/pop")" "stat (0, 0)" "the new password logs in over POP3"
is_rc 1 "the old one no more" login 'md5 secret' md5user@example.com

# what cannot be carried over: named, nothing imported
"$MU" adddomain -u nobody example.net
V2=$T/vpopmail/domains/example.net
mkdir -p "$V2"
DES=$(openssl passwd -crypt -salt ab des 2>/dev/null || echo abJnggxhB/yWI)
printf 'good:%s:1:0:G:/x:NOQUOTA\nold:%s:1:0:Old:/x:NOQUOTA\nbroken:line\n' "$SHA" "$DES" > "$V2/vpasswd"
printf '|/usr/local/bin/autorespond\n' > "$V2/.qmail-auto"
before=$(snapshot)
is_rc 100 "a vpasswd with a DES hash and a broken line: refused" "$MU" import -V "$V2" example.net
like "$(cat "$T/err")" "vpasswd line 2: not a crypt\(3\) hash" "names the DES line (it cannot be told from a plaintext password)"
like "$(cat "$T/err")" "vpasswd line 3: expected name:passwd" "names the broken line"
like "$(cat "$T/err")" "qmail-auto line 1: not a forward address" "names the program line of an alias"
is "$(snapshot)" "$before" "nothing changed"
is_rc 100 "a user already there: refused" "$MU" import -V "$V" example.com
