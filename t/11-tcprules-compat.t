#!/bin/sh
# tcprules compatibility with ucspi-tcp 0.88, both ways: our database is theirs byte for
# byte; /usr/bin/tcprulescheck and /usr/bin/tcpserver (a real loopback connection running
# env) read ours, our tcprules-check reads theirs, with the same decisions and variables;
# our extensions are invisible to the 0.88 tools; the cdb functions are tinycdb's at run time.
. "$(dirname "$0")/lib.sh"
for t in tcprules tcprulescheck tcpserver; do
  [ -x /usr/bin/$t ] || skip_all "/usr/bin/$t (ucspi-tcp) is not installed"
done
plan 12

# ---- the same database, byte for byte ----
cat > "$T/r.txt" <<'EOF'
# every 0.88 form
joe@1.2.3.4:allow,WHO="joe@ip"
joe@=h.example.com:allow,WHO="joe@host"
1.2.3.4:allow,WHO="ip",RELAYCLIENT=""
1.2.3.4:deny
1.2.3.8-11:allow,WHO=/range/,Q='a"b,c:d'
10.2-4.:deny,WHO="never seen"
=h.example.com:allow,WHO="host"
1.2.3.:allow,WHO="p3"
1.2.:deny
1.:allow,WHO="p1"
=.sub.example.com:allow,WHO="sub"

=.example.com:allow,WHO="domain",X==x=
=:allow,WHO="anyhost"
:allow,WHO="default",RBLSMTPD="-no"
EOF
/usr/bin/tcprules "$T/theirs.cdb" "$T/theirs.tmp" < "$T/r.txt"
"$B/tcprules" "$T/ours.cdb" "$T/ours.tmp" < "$T/r.txt"
ok "our database is tcprules 0.88's, byte for byte" cmp "$T/theirs.cdb" "$T/ours.cdb"

# ---- a grid of clients: four readers agree ----
# check PROG DB IP [HOST] [INFO]: the answer, one line
check() {
  env -u TCPREMOTEHOST -u TCPREMOTEINFO TCPREMOTEIP="$3" ${4:+TCPREMOTEHOST="$4"} ${5:+TCPREMOTEINFO="$5"} \
    "$1" "$2" 2>&1 | tr '\n' '|'
}
# grid PROG_A DB_A PROG_B DB_B: the clients for which they answer differently (exit code,
# stdout and stderr compared); 8 addresses x 5 host names (unset, empty, ...) x 2 infos
cat > "$T/grid.py" <<'EOF'
import os, subprocess, sys
pa, da, pb, db = sys.argv[1:5]
ips = ["1.2.3.4", "1.2.3.8", "1.2.3.12", "1.2.3.70", "1.2.200.1", "1.9.9.9", "10.3.0.1", "9.9.9.9"]
hosts = [None, "h.example.com", "a.sub.example.com", "b.example.com", ""]
infos = [None, "joe"]
base = {k: v for k, v in os.environ.items() if not k.startswith("TCPREMOTE")}
def ask(prog, path, ip, host, info):
    env = dict(base, TCPREMOTEIP=ip)
    if host is not None: env["TCPREMOTEHOST"] = host
    if info is not None: env["TCPREMOTEINFO"] = info
    r = subprocess.run([prog, path], env=env, capture_output=True)
    return (r.returncode, r.stdout.decode(), r.stderr.decode())
for ip in ips:
    for host in hosts:
        for info in infos:
            a, b = ask(pa, da, ip, host, info), ask(pb, db, ip, host, info)
            if a != b: print("ip=%s host=%r info=%r: %r <> %r" % (ip, host, info, a, b))
EOF
grid() { python3 "$T/grid.py" "$@"; }
is "$(grid /usr/bin/tcprulescheck "$T/theirs.cdb" "$B/tcprules-check" "$T/theirs.cdb")" "" \
  "their database: our tcprules-check says what tcprulescheck says (80 clients)"
is "$(check "$B/tcprules-check" "$T/theirs.cdb" 1.2.3.4 "" joe)" "rule joe@1.2.3.4:|set environment variable WHO=joe@ip|allow connection|" \
  "a sample answer (the grid compares real answers)"

# ---- our extensions are invisible to the 0.88 tools ----
cat "$T/r.txt" > "$T/ext.txt"
cat >> "$T/ext.txt" <<'EOF'
1.2.3.64/26:deny
1.2.128.0/17:allow,WHO="cidr17"
0.0.0.0/0:deny
2001:db8::/32:deny
2001:db8::1:allow,WHO="v6"
1.9.9.9:allow,WHO="unset",RELAYCLIENT
EOF
sed 's/,RELAYCLIENT$//' "$T/ext.txt" | grep -v -E -e '^[0-9.]+/[0-9]+:' -e '^2001' > "$T/plain.txt"
"$B/tcprules" "$T/ext.cdb" "$T/ext.tmp" < "$T/ext.txt"
/usr/bin/tcprules "$T/plain.cdb" "$T/plain.tmp" < "$T/plain.txt"
is "$(grid /usr/bin/tcprulescheck "$T/plain.cdb" /usr/bin/tcprulescheck "$T/ext.cdb")" "" \
  "tcprulescheck on a database with CIDR, IPv6 and unset sees only the 0.88 rules"
is "$(check "$B/tcprules-check" "$T/ext.cdb" 1.2.3.70)" "rule 1.2.3.64/26:|deny connection|" "while tcprules-check sees the /26"
is "$(check "$B/tcprules-check" "$T/ext.cdb" 1.9.9.9)" "rule 1.9.9.9:|set environment variable WHO=unset|unset environment variable RELAYCLIENT|allow connection|" \
  "and the unset"

# ---- a real tcpserver 0.88 on loopback reads our database ----
cat > "$T/lo.txt" <<'EOF'
127.0.0.1:allow,WHO="exact",EMPTY="",FOO
127.0.0.2:deny
127.0.0.3-5:allow,WHO="range",Q=/a"b'c,d/
127.0.0.8/29:allow,WHO="cidr29"
127.0.1.:allow,WHO="p3"
127.0.:allow,WHO="p2"
127.1.0.0/16:allow,WHO="cidr16"
:allow,WHO="default"
EOF
"$B/tcprules" "$T/lo.cdb" "$T/lo.tmp" < "$T/lo.txt"
clients="127.0.0.1 127.0.0.2 127.0.0.4 127.0.0.9 127.0.1.7 127.0.2.2 127.1.2.3 127.5.5.5"

# serve DB: tcpserver running env on a free port ($PORT)
serve() {
  PORT=$(free_port)
  FOO=parent start_bg /usr/bin/tcpserver -R -H -l localhost -x "$1" 127.0.0.1 "$PORT" env
  wait_listen "$PORT"
}
# what each client got: "IP: FOO=.. Q=.. WHO=.." or "IP: closed"
connect_all() {
  python3 - "$PORT" $clients <<'EOF'
import socket, sys
port = int(sys.argv[1])
for ip in sys.argv[2:]:
    s = socket.socket()
    s.settimeout(5)
    s.bind((ip, 0))
    s.connect(("127.0.0.1", port))
    data = b""
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            break
        if not b:
            break
        data += b
    s.close()
    names = ("WHO", "EMPTY", "Q", "FOO")
    env = [l for l in data.decode().splitlines() if l.split("=", 1)[0] in names]
    print(ip + ": " + (" ".join(sorted(env)) if data else "closed"))
EOF
}
# what tcprulescheck (or tcprules-check) PROG says about each client on DB, in that form
expect_all() {
  for ip in $clients; do
    TCPREMOTEIP=$ip "$1" "$2" | awk -v ip="$ip" '
      /^set environment variable / { v = substr($0, 26); n = v; sub(/=.*/, "", n); env[n] = v }
      /^deny connection/ { print ip ": closed"; done = 1 }
      END {
        if (done) exit
        if (!("FOO" in env)) env["FOO"] = "FOO=parent"
        out = ""; split("EMPTY FOO Q WHO", ks, " ")
        for (k = 1; k <= 4; k++) if (ks[k] in env) out = out (out == "" ? "" : " ") env[ks[k]]
        print ip ": " out
      }'
  done
}
serve "$T/lo.cdb"
got=$(connect_all)
stop_pid "$BGPID"
want=$(expect_all /usr/bin/tcprulescheck "$T/lo.cdb")
is "$got" "$want" "tcpserver 0.88 on our database does what tcprulescheck says, for 8 loopback clients"
like "$got" "127.0.0.9: FOO=parent WHO=p2" "tcpserver 0.88 skips the /29 and the unset it does not know"
like "$got" "127.0.0.4: FOO=parent Q=a\"b'c,d WHO=range" "a range and an odd quote reach the child as written"

grep -v -E '/[0-9]+:' "$T/lo.txt" | sed 's/,FOO$//' > "$T/lo1.txt"
/usr/bin/tcprules "$T/lo1.cdb" "$T/lo1.tmp" < "$T/lo1.txt"
serve "$T/lo1.cdb"
got1=$(connect_all)
stop_pid "$BGPID"
is "$(expect_all "$B/tcprules-check" "$T/lo1.cdb")" "$got1" \
  "their database: our tcprules-check says what tcpserver 0.88 did, for 8 loopback clients"

# ---- the cdb functions are tinycdb's at run time ----
# libskarnet exports cdb_init, cdb_find, cdb_hash... with other meanings; rules_lookup reads
# with tinycdb's cdb_seek (read(2), no mapping), which calls cdb_hash inside libcdb: with
# libskarnet first in the search order that call would go to skalibs' function.
bind=$(LD_DEBUG=bindings TCPREMOTEIP=1.2.3.4 "$B/tcprules-check" "$T/theirs.cdb" 2>&1 >/dev/null)
is "$(printf '%s\n' "$bind" | grep -E "binding file ([^ ]*/tcprules-check|[^ ]*libcdb[^ ]*) .*normal symbol .cdb_" |
      grep -v "to [^ ]*libcdb\.so" | sed 's/^ *[0-9]*: *//')" "" \
  "every cdb symbol tcprules-check and libcdb use binds to libcdb (tinycdb)"
like "$(printf '%s\n' "$bind" | grep "libcdb.* to [^ ]*libcdb.*normal symbol .cdb_hash'")" "cdb_hash" \
  "libcdb's own cdb_hash call stays in libcdb"
