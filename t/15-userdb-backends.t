#!/bin/sh
# The users database through both backends, from one set of cases: mail-user writes,
# auth-check reads; the cdb backend (users/cdb), then MariaDB through userdb-mysqld.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mysql-lib.sh"
NCASES=32
plan $((2 * NCASES + 4))
chmod 755 "$T"
NOBODY=$(id -u nobody)

# login ROOT PASSWORD LOGIN: auth-check's exit code; its prog prints USER and uid in $T/login
login() {
  printf '%s\0%s\0\0' "$3" "$2" | SLUICEDIR=$1 "$B/auth-check" -w 0 sh -c 'echo "$USER $(id -u) $HOME"' 3<&0 >"$T/login" 2>"$T/login.err"
}

# cases NAME ROOT: the same cases for the backend of instance root ROOT
cases() {
  n=$1 R=$2
  MU() { SLUICEDIR=$R "$B/mail-user" "$@"; }
  echo 'yescrypt 1' > "$R/control/passwordhash"
  is_rc 0 "$n: adddomain" MU adddomain -u nobody example.com
  is_rc 100 "$n: adddomain of an existing domain" MU adddomain -u nobody example.com
  like "$(cat "$T/err")" "exists already: example.com" "$n: says the domain exists"
  ok "$n: adduser" sh -c "echo 'secret 1' | SLUICEDIR=$R $B/mail-user adduser -q 2M alice@example.com"
  ok "$n: the Maildir is made, owned by the domain's owner" test "$(stat -c %u "$R/domains/example.com/alice/Maildir/new")" = "$NOBODY"
  is_rc 0 "$n: the right password logs in" login "$R" 'secret 1' alice@example.com
  is "$(cat "$T/login")" "alice@example.com $NOBODY $R/domains/example.com/alice" "$n: USER, uid and HOME of the user"
  is_rc 1 "$n: a wrong password is refused" login "$R" 'secret 2' alice@example.com
  is_rc 1 "$n: an unknown user is refused" login "$R" 'secret 1' nobody@example.com
  like "$(cat "$T/login.err")" "reject .* nobody@example.com nouser" "$n: logged as nouser"
  is_rc 1 "$n: an unknown domain is refused" login "$R" 'secret 1' alice@example.net
  ok "$n: adduser of an existing user fails" sh -c "! echo x | SLUICEDIR=$R $B/mail-user adduser alice@example.com 2>$T/err"
  like "$(cat "$T/err")" "exists already: alice@example.com" "$n: says the user exists"
  ok "$n: passwd" sh -c "echo 'new pw' | SLUICEDIR=$R $B/mail-user passwd alice@example.com"
  is_rc 0 "$n: the new password logs in" login "$R" 'new pw' alice@example.com
  is_rc 1 "$n: the old one no longer" login "$R" 'secret 1' alice@example.com
  is_rc 0 "$n: disable" MU disable alice@example.com
  is_rc 1 "$n: a disabled user cannot log in" login "$R" 'new pw' alice@example.com
  is_rc 0 "$n: enable" MU enable alice@example.com
  is_rc 0 "$n: enabled again, logs in" login "$R" 'new pw' alice@example.com
  is_rc 0 "$n: quota" MU quota alice@example.com 5M
  is_rc 0 "$n: aliasdomain" MU aliasdomain example.org example.com
  is_rc 100 "$n: a catch-all to an unknown user of the domain is refused" MU catchall example.com ghost@example.org
  is_rc 0 "$n: a catch-all to a user" MU catchall example.com alice@example.org
  is_rc 0 "$n: a login in the alias domain is the user of the real one" login "$R" 'new pw' alice@EXAMPLE.org
  is_rc 0 "$n: forward -k" MU forward -k alice@example.com bob@elsewhere.test
  is "$(MU show alice@example.com | grep -E '^(quota|forward|state):' | tr '\n' ' ')" \
    "state: enabled quota: 5242880 forward: bob@elsewhere.test (a copy kept) " "$n: show tells quota, forward, state"
  is_rc 0 "$n: an alias (a forward without a mailbox)" MU forward info@example.com alice@example.com
  is_rc 1 "$n: an alias cannot log in" login "$R" '' info@example.com
  is "$(MU users example.com | tr '\n' ' ')" "alice@example.com info@example.com " "$n: users lists the user and the alias"
  is_rc 0 "$n: deluser" MU deluser alice@example.com
  is_rc 1 "$n: a deleted user cannot log in" login "$R" 'new pw' alice@example.com
}

# --- the cdb backend
C=$T/cdb
mkdir -p "$C/control"
cases cdb "$C"

# --- MariaDB
my_start
M=$T/my
userd_start "$M"
is_rc 0 "mysql: initdb makes the tables" env SLUICEDIR="$M" "$B/mail-user" initdb
is "$(my 'SHOW TABLES' | tr '\n' ' ')" "sluice_domains sluice_list_members valias vpopmail " "mysql: the four tables (the lists' sets too)"
cases mysql "$M"
is_rc 100 "mysql: rebuild is for the cdb backend only" env SLUICEDIR="$M" "$B/mail-user" rebuild
unlike "$(cat "$T/userd.log" "$T/login.err")" "w0rd" "mysql: the database password is in no log"
