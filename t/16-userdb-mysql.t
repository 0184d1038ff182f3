#!/bin/sh
# The MariaDB backend on its own: a vpopmail database as vpopmail made it logs in (MD5-crypt,
# SHA-512-crypt); two instance roots on one database; hostile input only ever bound as
# parameters; who may change the database; the configuration file's errors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mysql-lib.sh"
plan 39
chmod 755 "$T"
NOBODY=$(id -u nobody)
my_start

login() {   # ROOT PASSWORD LOGIN
  printf '%s\0%s\0\0' "$3" "$2" | SLUICEDIR=$1 "$B/auth-check" -w 0 sh -c 'echo "$USER $(id -u) $HOME"' 3<&0 >"$T/login" 2>"$T/login.err"
}

# --- a vpopmail database, made as vpopmail 5.4 makes it (--disable-many-domains, --enable-valias)
my "CREATE TABLE vpopmail (pw_name char(32) not null, pw_domain char(96) not null, pw_passwd char(40),
  pw_uid int, pw_gid int, pw_gecos char(48), pw_dir char(160), pw_shell char(20), pw_clear_passwd char(16),
  primary key (pw_name, pw_domain));
  CREATE TABLE valias (alias char(32) not null, domain char(96) not null, valias_line text not null, index (alias, domain));"
VD=$T/vpopmail/domains/example.com
mkdir -p "$VD/md5user/Maildir/new" "$VD/shauser/Maildir/new" "$VD/nopop/Maildir/new"
chown -R nobody "$T/vpopmail/domains"
MD5=$(openssl passwd -1 -salt Zq8Hw2Lk 'md5 secret')
my "INSERT INTO vpopmail VALUES
  ('md5user', 'example.com', '$MD5', 0, 0, 'Md5 User', '$VD/md5user', '1048576S', 'clearpw'),
  ('nopop', 'example.com', '$MD5', 0, 2, 'No Pop', '$VD/nopop', 'NOQUOTA', '');
  INSERT INTO valias VALUES ('sales', 'example.com', '&md5user@example.com'), ('sales', 'example.com', 'boss@elsewhere.test');"
# a site that moved to SHA-512 widened the column
my "ALTER TABLE vpopmail MODIFY pw_passwd char(128)"
SHA=$(openssl passwd -6 -salt Yp3Kd9Ws0Qa1 'sha secret')
my "INSERT INTO vpopmail VALUES ('shauser', 'example.com', '$SHA', 0, 0, 'Sha User', '$VD/shauser', '5M', '')"

A=$T/a
userd_start "$A"
APID=$USERDPID
is_rc 0 "initdb on a vpopmail database" env SLUICEDIR="$A" "$B/mail-user" initdb
is "$(my 'SELECT COUNT(*) FROM vpopmail')" 3 "its users are kept"
is_rc 0 "the domain added where vpopmail had it" env SLUICEDIR="$A" "$B/mail-user" adddomain -u nobody -d "$VD" example.com
is_rc 0 "an MD5-crypt password of vpopmail logs in" login "$A" 'md5 secret' md5user@example.com
is "$(cat "$T/login")" "md5user@example.com $NOBODY $VD/md5user" "as the domain's owner, in pw_dir"
is_rc 0 "a SHA-512-crypt password logs in" login "$A" 'sha secret' shauser@example.com
is_rc 1 "the clear-text column is never read" login "$A" clearpw md5user@example.com
is_rc 1 "pw_gid with NO_POP (2) is a disabled user" login "$A" 'md5 secret' nopop@example.com
like "$(cat "$T/login.err")" "nopop@example.com disabled" "logged as disabled"
is "$(SLUICEDIR=$A "$B/mail-user" show md5user@example.com | grep -E '^(password|quota):' | tr '\n' ' ')" \
  "password: md5crypt (legacy) quota: 1048576 " "pw_shell 1048576S is the quota; the hash is MD5-crypt"
is "$(SLUICEDIR=$A "$B/mail-user" show shauser@example.com | grep -E '^quota:')" "quota: 5242880" "pw_shell 5M too"
is "$(SLUICEDIR=$A "$B/mail-user" weak example.com | tr '\n' ' ')" "md5user@example.com md5crypt nopop@example.com md5crypt " \
  "weak lists the users of the database with a legacy hash (not the alias, not SHA-512)"
is "$(SLUICEDIR=$A "$B/mail-user" show sales@example.com | grep -E '^(type|forward):' | tr '\n' ' ')" \
  "type: alias forward: md5user@example.com,boss@elsewhere.test " "vpopmail's valias lines are a forward"

# --- two instance roots, one database
Bt=$T/b
userd_start "$Bt"
BPID=$USERDPID
ok "a user added through one root" sh -c "echo 'both' | SLUICEDIR=$A $B/mail-user adduser carol@example.com"
is_rc 0 "logs in at once through the other" login "$Bt" both carol@example.com
ok "a new password set through the other" sh -c "echo 'both 2' | SLUICEDIR=$Bt $B/mail-user passwd carol@example.com"
is_rc 0 "is the one the first root checks" login "$A" 'both 2' carol@example.com
is_rc 0 "deleted through one" env SLUICEDIR="$A" "$B/mail-user" deluser carol@example.com
is_rc 1 "gone for the other" login "$Bt" 'both 2' carol@example.com

# --- hostile input: bound as parameters, never part of a statement
cat > "$T/hostile.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile('rwb')
def ask(r):
    f.write(r + b'\n'); f.flush(); return f.readline().rstrip(b'\n').decode('latin-1')
evil = [b"x' OR '1'='1", b"md5user' -- ", b"a\\' OR 1=1 #", b"md5user\x00", b"x'; DROP TABLE vpopmail; --", b"A" * 10240]
print(' '.join(ask(b'U\t' + e + b'\texample.com')[:1] for e in evil))
print(' '.join(ask(b'D\t' + e)[:1] for e in evil))
print(ask(b'U\tmd5user\texample.com')[:1])
f.write(b'U\t' + b'x' * 100000 + b'\n'); f.flush(); print(f.readline().rstrip(b'\n').decode())
PY
is "$("$PY" "$T/hostile.py" "$A/users/mysql.sock" | tr '\n' '|')" "0 0 0 0 0 0|0 0 0 0 0 0|1|E	request too long|" \
  "quotes, backslashes, NUL, 10 KB names: not found; a 100 KB request refused"
is "$(my 'SELECT COUNT(*) FROM vpopmail')" 3 "the tables are intact"
is "$(grep -c 'DROP TABLE' "$T/my-general.log")" "$(grep 'DROP TABLE' "$T/my-general.log" | grep -c 'Execute')" \
  "the hostile text reached the server only in executions of prepared statements"
ok "and it did reach it, as a value" grep -q "Execute.*pw_name = 'x.'; DROP TABLE vpopmail" "$T/my-general.log"
is_rc 1 "auth-check: a login with quotes is just refused" login "$A" 'md5 secret' "md5user'--@example.com"
is_rc 0 "the daemon still answers after the refused request" login "$A" 'md5 secret' md5user@example.com

# --- changes only from root (mail-user) or the daemon's own user; lookups from anyone
cat > "$T/req.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile('rwb')
f.write(sys.argv[2].encode().replace(b'|', b'\t') + b'\n'); f.flush(); print(f.readline().decode().split('\t')[0].strip())
PY
is "$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$PY" "$T/req.py" "$A/users/mysql.sock" 'DU|md5user|example.com')" 0 \
  "another user cannot change the database"
is "$(my "SELECT COUNT(*) FROM vpopmail WHERE pw_name = 'md5user'")" 1 "nothing was deleted"
is "$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$PY" "$T/req.py" "$A/users/mysql.sock" 'U|md5user|example.com')" 1 \
  "but may look up"

# --- many rows: a domain of 300 users, an address with 60 forwards
my "INSERT INTO vpopmail (pw_name, pw_domain, pw_passwd, pw_uid, pw_gid, pw_gecos, pw_dir, pw_shell)
  SELECT CONCAT('u', seq), 'example.com', '$MD5', 0, 0, '', CONCAT('$VD/u', seq), 'NOQUOTA' FROM seq_1_to_300"
is "$(SLUICEDIR=$A "$B/mail-user" users example.com | wc -l)" 304 "users lists every one of 300 users and more"
is_rc 0 "a forward to 60 addresses" env SLUICEDIR="$A" "$B/mail-user" forward many@example.com $(seq -f 'f%g@elsewhere.test' 60)
is "$(SLUICEDIR=$A "$B/mail-user" show many@example.com | sed -n 's/^forward: //p' | tr ',' '\n' | wc -l)" 60 "all 60 are kept"

# --- the configuration file
printf 'database=sluice\nuser=sluice\nhots=localhost\n' > "$T/bad.conf"
is_rc 100 "an unknown key is refused" env SLUICEDIR="$T/x" "$B/userdb-mysqld" "$T/bad.conf"
like "$(cat "$T/err")" "bad.conf line 3: unknown key: hots" "naming the file and the line"
printf 'user=sluice\n' > "$T/bad.conf"
is_rc 100 "no database= is refused" env SLUICEDIR="$T/x" "$B/userdb-mysqld" "$T/bad.conf"
is_rc 111 "a missing file is a temporary failure" env SLUICEDIR="$T/x" "$B/userdb-mysqld" "$T/none.conf"
is_rc 100 "no config file is bad usage" "$B/userdb-mysqld"
# a wrong password: the daemon runs, every lookup fails temporarily, the password is not logged
sed 's/^password=.*/password=wr0ng-s3cret/' "$MYCONF" > "$T/wrong.conf"
W=$T/w
mkdir -p "$W/control" "$W/users"
echo "mysql:$T/wrong.conf" > "$W/control/userdb"
SLUICEDIR=$W start_bg "$B/userdb-mysqld" "$T/wrong.conf" 2>"$T/wrong.log"
wait_for 10 test -S "$W/users/mysql.sock"
is_rc 111 "auth-check with a database that refuses the daemon: 111" login "$W" 'md5 secret' md5user@example.com
unlike "$(cat "$T/wrong.log")" "wr0ng-s3cret" "the password is not in the daemon's log"
like "$(cat "$T/wrong.log")" "Access denied" "the reason is"
