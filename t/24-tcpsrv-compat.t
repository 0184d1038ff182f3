#!/bin/sh
# tcpsrv against Debian's tcpserver 0.88, side by side: the same client and rules database
# give prog the same environment (plus TCPCONNNUM), and the -v log has the same lines,
# word for word once pids and ports are masked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tcpsrv-lib.sh"
[ -x /usr/bin/tcpserver ] || skip_all "ucspi-tcp's tcpserver is not installed"
plan 8

printf '127.0.0.2:deny\n127.0.0.3:allow,RELAYCLIENT="",X_A="one two",TCPREMOTEHOST="set.by.rule"\n:allow,X_DEFAULT="yes"\n' |
  /usr/bin/tcprules "$T/r.cdb" "$T/r.tmp"
# no lookups on either side: 0.88 needs -H -R and -l for that; tcpsrv does none by default
flags="-v -H -R -P -l 0 -x $T/r.cdb"
cat > "$T/prog" <<'EOF'
#!/bin/sh
env | grep -E '^(PROTO|TCP[A-Z]*|RELAYCLIENT|X_[A-Z]*)=' | grep -v '^TCPCONNNUM=' | LC_ALL=C sort
exit 3
EOF
chmod +x "$T/prog"

: > "$T/log"; : > "$T/clog"
srv $flags 127.0.0.1 0 "$T/prog" || exit 1; sp=$PORT; spid=$SPID
srv_classic $flags 127.0.0.1 0 "$T/prog" || exit 1; cp=$PORT; cpid=$SPID

mask() { sed -e "s/=$sp\$/=PORT/; s/=$cp\$/=PORT/" -e 's/^TCPREMOTEPORT=.*/TCPREMOTEPORT=N/'; }
for src in 127.0.0.1 127.0.0.3; do
  a=$(get "$sp" src=$src | mask)
  b=$(get "$cp" src=$src | mask)
  is "$a" "$b" "client $src: the same environment from tcpsrv and tcpserver"
done
like "$a" '^TCPREMOTEHOST=set\.by\.rule$' "... a real one: the rule's variables are in it"
is "$(get "$sp" src=127.0.0.2)" "$(get "$cp" src=127.0.0.2)" "a denied client gets the same (nothing)"
sleep 1

# the logs, pids and ports masked, tcpserver: read as tcpsrv:
norm() {
  sed -e 's/^tcpserver: /tcpsrv: /' -e 's/ [0-9][0-9]* from / P from /' -e 's/^\(tcpsrv: [a-z]*\) [0-9][0-9]* /\1 P /' \
      -e 's/:[0-9][0-9]* /:PORT /g' -e 's/:[0-9][0-9]*$/:PORT/'
}
norm < "$T/log" > "$T/log.n"; norm < "$T/clog" > "$T/clog.n"
is "$(cat "$T/log.n")" "$(cat "$T/clog.n")" "the -v logs are the same, line for line"
is "$(grep -c ' ok ' "$T/log")" "2" "two ok lines"
like "$(grep ' deny ' "$T/log")" '^tcpsrv: deny [0-9]+ 0:127\.0\.0\.1:[0-9]+ :127\.0\.0\.2::[0-9]+$' "the deny line"
like "$(grep ' end ' "$T/log" | head -1)" '^tcpsrv: end [0-9]+ status 768$' "end lines with 0.88's raw wait status"
stop_pid "$spid"; stop_pid "$cpid"
