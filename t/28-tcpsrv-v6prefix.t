#!/bin/sh
# tcpsrv -M: IPv6 clients counted per network for -C, MAXCONNIP and TCPCONNNUM. Clients
# need several IPv6 addresses, so the test runs in a network namespace of its own
# (unshare -n) and puts private (ULA, fd00::/8) addresses on that namespace's
# loopback device, its only interface: every connection stays on that lo, nothing can
# leave the namespace, and the machine's own interfaces are not touched.
if [ -z "${SLUICE_NETNS:-}" ] && unshare -n true 2>/dev/null; then
  SLUICE_NETNS=1 exec unshare -n sh "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tcpsrv-lib.sh"
[ -n "${SLUICE_NETNS:-}" ] || skip_all "no network namespace of its own (unshare -n) to put test addresses on"
ip link set lo up 2>/dev/null || skip_all "cannot set up the namespace's loopback"
# the namespace must have its loopback and nothing else: then every packet below, whatever
# its address, goes through lo and nowhere else
[ "$(ip -o link show | awk '{ print $2 }')" = "lo:" ] || skip_all "the namespace has interfaces other than lo"
for a in fd00:1:2:3::a fd00:1:2:3::b fd00:1:2:4::a fd00:1:2:5::a fd00:99::1; do
  ip -6 addr add "$a/128" dev lo nodad 2>/dev/null || skip_all "cannot add $a to the namespace's loopback"
done
plan 13

# prog: says its TCPCONNNUM and stays while the rest of the burst arrives
cat > "$T/hold" <<'EOS'
#!/bin/sh
echo "TCPCONNNUM=$TCPCONNNUM"
sleep 2
EOS
chmod +x "$T/hold"
lines() { printf '%s\n' "$@"; }

# without -M: per address, as before
srv -C 2 :: 0 "$T/hold" || exit 1
is "$(burst "$PORT" fd00:1:2:3::a:3 fd00:1:2:3::b:1)" "$(lines 'fd00:1:2:3::a 1' 'fd00:1:2:3::a 2' 'fd00:1:2:3::a refused' 'fd00:1:2:3::b 1')" \
  "no -M: two addresses of one /64 are two clients"
stop_pid "$SPID"

# -M 64: one /64, one client; another /64 is another client
: > "$T/log"
srv -v -C 2 -M 64 :: 0 "$T/hold" || exit 1
is "$(burst "$PORT" fd00:1:2:3::a:3 fd00:1:2:3::b:1 fd00:1:2:4::a:1)" \
  "$(lines 'fd00:1:2:3::a 1' 'fd00:1:2:3::a 2' 'fd00:1:2:3::a refused' 'fd00:1:2:3::b refused' 'fd00:1:2:4::a 1')" \
  "-M 64: the addresses of one /64 share its limit and its TCPCONNNUM"
logwait 'deny .*fd00:1:2:3::b'
like "$(grep 'deny .*fd00:1:2:3::b' "$T/log")" '^tcpsrv: deny [0-9]+ .*\[fd00:1:2:3::b\].* MAXCONNIP:[34]/2$' \
  "-M 64: the deny line names the client's own address and the network's count (a refused connection counts until its child ends)"
stop_pid "$SPID"

# -M 62: a prefix that ends inside a byte (fd00:1:2:4:: and fd00:1:2:5:: share a /62,
# fd00:1:2:3:: is in another)
srv -C 1 -M 62 :: 0 "$T/hold" || exit 1
is "$(burst "$PORT" fd00:1:2:4::a:1 fd00:1:2:5::a:1 fd00:1:2:3::a:1)" \
  "$(lines 'fd00:1:2:3::a 1' 'fd00:1:2:4::a 1' 'fd00:1:2:5::a refused')" \
  "-M 62: counted per /62"
stop_pid "$SPID"

# -M 0 on every address: all IPv6 clients are one client; IPv4 clients still count alone
srv -C 1 -M 0 0 0 "$T/hold" || exit 1
is "$(burst "$PORT" 127.0.0.1:1 127.0.0.2:1 fd00:1:2:3::a:1 fd00:99::1:1)" \
  "$(lines '127.0.0.1 1' '127.0.0.2 1' 'fd00:1:2:3::a 1' 'fd00:99::1 refused')" \
  "-M 0: every IPv6 client in one count, IPv4 clients per address"
stop_pid "$SPID"

# the rule that applies is the client's own address's: its MAXCONNIP against the /64's count
printf 'fd00:1:2:3::b:allow,MAXCONNIP="3"\n' | "$B/tcprules" "$T/r.cdb" "$T/r.tmp" || exit 1
srv -C 1 -M 64 -x "$T/r.cdb" :: 0 "$T/hold" || exit 1
is "$(burst "$PORT" fd00:1:2:3::a:1 fd00:1:2:3::b:3)" \
  "$(lines 'fd00:1:2:3::a 1' 'fd00:1:2:3::b 2' 'fd00:1:2:3::b 3' 'fd00:1:2:3::b refused')" \
  "-M 64: a rule's MAXCONNIP for one address, checked against its network's count"
stop_pid "$SPID"

# -M 128 is the default; bad values are usage errors, and nothing listens
srv -C 1 -M 128 :: 0 "$T/hold" || exit 1
is "$(burst "$PORT" fd00:1:2:3::a:1 fd00:1:2:3::b:1)" "$(lines 'fd00:1:2:3::a 1' 'fd00:1:2:3::b 1')" "-M 128: per address"
stop_pid "$SPID"
for bad in 129 -1 x 64x ''; do
  is_rc 100 "-M '$bad': usage error (100)" "$B/tcpsrv" -M "$bad" ::1 0 true
done
like "$(cat "$T/err")" '^tcpsrv: usage: tcpsrv .*\[ -M v6prefix \]' "... with the usage line"
