#!/bin/sh
# Mailing lists whose sets live in MariaDB (list-manage make -S, through userdb-mysqld): the
# list tests t/46 and t/47 run again with the sets in SQL; the sets from the command line
# (sub, unsub, list, -c, the four sets apart, bad input, quotes bound as parameters, pages of
# 1000 when expanding); who may change them (listwriters); two instance roots sharing one
# list; the database down before a post and the daemon failing in the middle of the
# subscribers (111, nothing queued, no number taken), then back without restarting anything.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mysql-lib.sh"
. "$(dirname "$0")/list-lib.sh"
plan 49
my_start
echo "listwriters=$OWNER" >> "$MYCONF"
A=$T/a
userd_start "$A"
SOCK=$A/users/mysql.sock
rows() { my "SELECT address FROM sluice_list_members WHERE list = '$1' AND kind = '$2' ORDER BY address" | tr '\n' ' '; }
post() { printf 'From: %s\nTo: team@example.com\nSubject: %s\n\nbody\n' "$1" "$2"; }

# ---- the same list cases, the sets in SQL -----------------------------------------------------
# sub-test FILE: the whole test passes with LIST_SQL set, and its sets were in the database
subtest() {
  my "DELETE FROM sluice_list_members"
  LIST_SQL=$SOCK sh "$TOP/t/$1" >"$T/$1.out" 2>&1
  _plan=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' "$T/$1.out")
  _ok=$(grep -c '^ok ' "$T/$1.out")
  if [ -n "$_plan" ] && [ "$_plan" -gt 0 ] && [ "$_ok" = "$_plan" ] && ! grep -q '^not ok' "$T/$1.out"; then return 0; fi
  diag "$(grep -A3 '^not ok' "$T/$1.out" | head -30)"; return 1
}
ok "t/46 (posts, subscribers only, moderated posts) passes with the sets in SQL" subtest 46-list-expand.t
isnt "$(my "SELECT COUNT(*) FROM sluice_list_members WHERE list = 'team@example.com'")" 0 "and its subscribers were rows of the database"
ok "t/47 (requests, confirmations, digest, moderated subscriptions) passes with the sets in SQL" subtest 47-list-requests.t
isnt "$(my "SELECT COUNT(*) FROM sluice_list_members WHERE kind = 'digesters'")" 0 "its digest's subscribers too"
my "DELETE FROM sluice_list_members"

# ---- make -S --------------------------------------------------------------------------------------
is_rc 100 "-S takes an absolute path" lm make -q "$H/.qmail-team" -S my.sock "$L" team@example.com
like "$(lm make -q "$H/.qmail-team" -S "$T/none.sock" "$L" team@example.com 2>&1)" \
  "unable to make the table of the lists' sets through $T/none.sock: userdb-mysqld does not answer" "no daemon on the socket: said"
is_rc 111 "and 111" lm make -q "$H/.qmail-team" -S "$T/none.sock" "$L" team@example.com
ok "and no list made" test ! -e "$L"
my "DROP TABLE IF EXISTS sluice_list_members"
is_rc 0 "made with -S" l_make -S "$SOCK"
is "$(cat "$L/sql")" "$SOCK" "the socket in the file sql"
is "$(my "SHOW TABLES LIKE 'sluice_list_members'")" sluice_list_members "the table made by make -S"
is_rc 0 "make -e keeps the setting" lm make -e -q "$H/.qmail-team" -u "$L" team@example.com
ok "sql still there" test -s "$L/sql"
cp "$L/sql" "$T/sql.good"
echo 'relative.sock' > "$L/sql"
lm list "$L" 2>"$T/e"; RC=$?
is "$RC" 111 "a bad file sql: 111"
like "$(cat "$T/e")" "unable to read subscribers: bad file sql" "naming the file"
cp "$T/sql.good" "$L/sql"

# ---- the sets from the command line ------------------------------------------------------------
is_rc 0 "sub" lm sub "$L" Alice@Example.COM bob@example.com "o'brien@example.net"
is "$(rows team@example.com subscribers)" "alice@example.com bob@example.com o'brien@example.net " "rows, lowercase, the quote kept (a bound parameter)"
ok "no addrset directory" test ! -e "$L/subscribers"
is "$(lm list "$L" | tr '\n' ' ')" "alice@example.com bob@example.com o'brien@example.net " "list"
is "$(lm list -c "$L")" 3 "list -c"
printf 'carol@example.com\n# a comment\nbad address\n' | lm sub "$L" 2>"$T/e"; RC=$?
is "$RC" 100 "a bad line on stdin: 100"
like "$(cat "$T/e")" "standard input line 3: not an address" "naming the line"
is "$(lm list -c "$L")" 3 "nothing added"
is_rc 0 "unsub" lm unsub "$L" BOB@example.com nobody@example.com
is "$(lm list "$L" | tr '\n' ' ')" "alice@example.com o'brien@example.net " "bob gone"
lm sub -m "$L" mod@example.com; lm sub -a "$L" allowed@example.org; lm sub -d "$L" dig@example.com
is "$(lm list -m "$L")|$(lm list -a "$L")|$(lm list -d "$L")" "mod@example.com|allowed@example.org|dig@example.com" "the other sets apart"

# posts: subscribers only, the sets read from the database
post outsider@example.org hi | expand outsider@example.org; RC=$?
is "$RC" 100 "subscribers only: an outsider refused"
n=$(qqn)
post allowed@example.org hi | expand allowed@example.org; RC=$?
is "$RC:$(qqn)" "0:$((n + 1))" "an allowed address posts"
is "$(rcpts "$(qqn)" | tr '\n' ' ')" "alice@example.com o'brien@example.net " "to the subscribers"
# 2500 subscribers: three pages of 1000 and one of 500
i=0; while [ $i -lt 2500 ]; do echo "s$i@big.example.com"; i=$((i+1)); done > "$T/many"
lm sub "$L" < "$T/many"
is "$?" 0 "2500 subscribers from stdin"
is "$(lm list -c "$L")" 2502 "counted"
post alice@example.com many | expand alice@example.com; RC=$?
is "$RC" 0 "a post to 2502"
is "$(rcpts "$(qqn)" | wc -l)" 2502 "every one a recipient, once"
is "$(rcpts "$(qqn)" | sort -u | wc -l)" 2502 "none twice"

# who may change the sets
mkdir -p "$T/other"; chown 4244:4244 "$T/other"
lm make -q "$T/other/.qmail-x" -S "$SOCK" "$T/other/x" x@example.com 2>"$T/e"; RC=$?
is "$RC" 111 "a list owner not in listwriters: make -S refused (111)"
like "$(cat "$T/e")" "permission denied" "saying why"

# ---- two instance roots, one list -----------------------------------------------------------------
Bt=$T/b
userd_start "$Bt"
H2=$T/home2; mkdir -p "$H2"; chown $OWNER:$OWNER "$H2"
is_rc 0 "the same list made on a second root" lm make -q "$H2/.qmail-team" -S "$Bt/users/mysql.sock" "$H2/team" team@example.com
lm sub "$L" dave@example.com
is "$(lm list "$H2/team" | grep -c '^dave@')" 1 "a subscriber added on one root is on the other at once"
lm unsub "$H2/team" dave@example.com
is "$(lm list "$L" | grep -c '^dave@')" 0 "removed on the other, gone from the first"
n=$(qqn)
post alice@example.com second | SENDER=alice@example.com $AS "$B/list-expand" "$H2/team" 2>"$T/err"; RC=$?
[ "$RC" = 0 ] || diag "list-expand through the second root:" "$(cat "$T/err")"
is "$RC:$(rcpts $((n + 1)) | wc -l)" "0:2502" "a post through the second root reaches the same subscribers"

# ---- the database down -------------------------------------------------------------------------------
my_stop
n=$(qqn); num=$(cat "$L/num")
post alice@example.com down | expand alice@example.com; RC=$?
is "$RC" 111 "database down: list-expand exits 111 (the post waits in the queue)"
like "$(cat "$T/err")" "unable to read the list's subscribers" "saying why"
is "$(qqn):$(cat "$L/num")" "$n:$num" "nothing queued, no number taken"
is_rc 111 "list: 111" lm list "$L"
is_rc 111 "sub: 111" lm sub "$L" erin@example.com
DEFAULT=subscribe SENDER=frank@example.com $AS "$B/list-manage" "$L" 2>"$T/err"
is "$?" 111 "a subscription request: 111 (retried, not lost)"
my_start
# userdb-mysqld tries the database again at most once a second after a failed connect: a
# post in that second gets 111 (and would be retried by the queue); give it up to 5 s
i=0; while :; do
  post alice@example.com back | expand alice@example.com; RC=$?
  [ "$RC" = 111 ] && [ $i -lt 10 ] || break
  i=$((i+1)); sleep 0.5
done
is "$RC:$(rcpts "$(qqn)" | wc -l)" "0:2502" "back up: the post goes, without restarting userdb-mysqld"

# ---- the daemon failing in the middle of the subscribers -----------------------------------------
# a daemon that answers the first page of 1000 and then only a failure
cat > "$T/half.py" <<'EOF'
import os, socket, sys
p = sys.argv[1]
s = socket.socket(socket.AF_UNIX); s.bind(p); os.chmod(p, 0o666); s.listen(5)
pages = 0
while True:
    c, _ = s.accept(); f = c.makefile("rwb")
    for line in f:
        k = line.split(b"\t")[0]
        if k == b"SL" and pages == 0:
            pages += 1
            f.write(b"1\t" + b"\t".join(b"p%04d@half.example.com" % i for i in range(1000)) + b"\n")
        elif k == b"SH": f.write(b"1\n")
        else: f.write(b"T\tdatabase connection lost\n")
        f.flush()
    c.close()
EOF
start_bg "$PY" "$T/half.py" "$T/half.sock"; HALF=$BGPID
wait_for 10 test -S "$T/half.sock"
echo "$T/half.sock" > "$L/sql"
n=$(qqn); num=$(cat "$L/num")
post alice@example.com half | expand alice@example.com; RC=$?
is "$RC" 111 "the daemon failing after the first page: 111"
is "$(qqn):$(cat "$L/num")" "$n:$num" "no partial post queued, no number taken"
stop_pid "$HALF"
