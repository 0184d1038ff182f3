# t/list-lib.sh: sourced by the list tests after t/lib.sh. The list runs as an unprivileged
# owner, as local deliveries do; its messages go to t/42-qqcapture.py as $QMAILQUEUE.
#   OWNER    the uid (and gid) the list belongs to;  H  its home ($T/home), L the list ($H/team)
#   lm ARGS...          list-manage ARGS (as root: it becomes the owner of the list itself)
#   l_make [OPTS]       list-manage make -q $H/.qmail-team OPTS $L team@example.com (with
#                       -S $LIST_SQL when set: t/19 runs the list tests with the sets in SQL)
#   expand SENDER       list-expand $L, the message on stdin, as the owner; exit code in RC,
#                       stderr in $T/err
#   manage EXT SENDER   list-manage $L for team-EXT@example.com (DEFAULT=EXT), the same way
#   qqn                 how many messages are queued;  env0 N  envelope N, NULs as |
#   msgof N             message N;  rcpts N  its recipients, sorted, one a line
#   hfield N NAME       the value of the first field NAME of message N (python's email)
[ "$(id -u)" = 0 ] || skip_all "needs root: the list runs as its own user, as deliveries do"
OWNER=4243
H=$T/home
L=$H/team
mkdir -p "$H" "$T/qq"
chmod 755 "$T"
chown $OWNER:$OWNER "$H" "$T/qq"
cp "$TOP/t/42-qqcapture.py" "$T/qqcapture" && chmod 755 "$T/qqcapture"
QMAILQUEUE=$T/qqcapture QQ_DIR=$T/qq
export QMAILQUEUE QQ_DIR
unset QQ_EXIT SENDER DEFAULT DTLINE
AS="setpriv --reuid=$OWNER --regid=$OWNER --clear-groups"
lm() { "$B/list-manage" "$@"; }
l_make() { lm make -q "$H/.qmail-team" ${LIST_SQL:+-S "$LIST_SQL"} "$@" "$L" team@example.com; }
expand() { SENDER=$1 $AS "$B/list-expand" "$L" 2>"$T/err"; RC=$?; return $RC; }
manage() { DEFAULT=$1 SENDER=$2 $AS "$B/list-manage" "$L" 2>"$T/err"; RC=$?; return $RC; }
qqn() { ls "$T/qq" | grep -c '\.msg$'; }
env0() { tr '\0' '|' < "$T/qq/$1.env"; }
msgof() { cat "$T/qq/$1.msg"; }
rcpts() { tr '\0' '\n' < "$T/qq/$1.env" | sed -n 's/^T//p' | sort; }
hfield() {
  "$PY" -c 'import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
v = m[sys.argv[2]]
print("" if v is None else str(v).replace("\n", " "))' "$T/qq/$1.msg" "$2"
}
