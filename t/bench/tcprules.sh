#!/bin/sh
# tcprules on a generated 1,000,000-line rules file (address forms both tools accept):
# sluice's tcprules against ucspi-tcp's /usr/bin/tcprules, best of 3 runs each, alternating.
# Then lookups: 300 tcprules-check runs against 300 tcprulescheck runs on that database,
# and tcprules-check on a database with 100,000 CIDR rules of 23 prefix lengths.
set -eu
: "${SLUICE_BIN:?set SLUICE_BIN to the directory of the sluice binaries}"
[ -x /usr/bin/tcprules ] || { echo "tcprules: /usr/bin/tcprules (ucspi-tcp) is not installed" >&2; exit 1; }
D=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$D"' EXIT

python3 - "$D" <<'EOF'
import random, sys
d = sys.argv[1]
random.seed(88)
with open(d + "/rules.txt", "w") as f:
    f.write("# generated: every 0.88 address form\n")
    for i in range(1000000):
        a, b, c, x = (i >> 16) & 255, (i >> 8) & 255, i & 255, random.randint(0, 255)
        k = i % 8
        if k == 0: f.write('%d.%d.%d.%d:allow,RELAYCLIENT=""\n' % (a, b, c, x))
        elif k == 1: f.write('%d.%d.%d.:deny\n' % (a, b, c))
        elif k == 2: f.write('=mail%d.example.com:allow,RBLSMTPD="",X="%d"\n' % (i, i))
        elif k == 3: f.write('user%d@%d.%d.%d.%d:allow,WHO=/u%d/\n' % (i, a, b, c, x, i))
        elif k == 4: f.write('=.dom%d.example.org:deny\n' % i)
        elif k == 5: f.write('%d.%d.%d.%d-%d:allow,R="range"\n' % (a, b, c, x & 0xf8, (x & 0xf8) + 3))
        elif k == 6: f.write('%d.%d.:allow,RBLSMTPD=\'-go away\'\n' % (a, b))
        else: f.write('\n' if i % 16 == 7 else 'info%d@=h%d.example.net:allow\n' % (i, i))
    f.write(':allow\n')
with open(d + "/cidr.txt", "w") as f:
    lens = list(range(9, 32))
    for i in range(100000):
        l = lens[i % len(lens)]
        net = (random.getrandbits(32) >> (32 - l)) << (32 - l)
        f.write('%d.%d.%d.%d/%d:allow,L="%d"\n' % (net >> 24, (net >> 16) & 255, (net >> 8) & 255, net & 255, l, l))
    f.write('2001:db8::/32:deny\n:deny\n')
EOF

python3 - "$D" "$SLUICE_BIN" <<'EOF'
import os, subprocess, sys, time
d, sb = sys.argv[1], sys.argv[2]
def run(argv, stdin_path=None, env=None):
    t = time.perf_counter()
    with open(stdin_path or os.devnull, "rb") as i:
        r = subprocess.run(argv, stdin=i, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    if r.returncode != 0:
        sys.exit("%s failed (%d): %s" % (argv[0], r.returncode, r.stderr.decode()))
    return time.perf_counter() - t
best = {"sluice": 1e9, "classic": 1e9}
for _ in range(3):
    best["classic"] = min(best["classic"], run(["/usr/bin/tcprules", d + "/c.cdb", d + "/c.tmp"], d + "/rules.txt"))
    best["sluice"] = min(best["sluice"], run([sb + "/tcprules", d + "/s.cdb", d + "/s.tmp"], d + "/rules.txt"))
same = open(d + "/c.cdb", "rb").read() == open(d + "/s.cdb", "rb").read()
print("tcprules 1M lines: sluice %.2fs, classic %.2fs, ratio %.2f%s" % (
    best["sluice"], best["classic"], best["sluice"] / best["classic"], "" if same else " (databases DIFFER)"))

ips = ["%d.%d.%d.%d" % ((i * 7) & 255, (i * 13) & 255, (i * 29) & 255, (i * 31) & 255) for i in range(300)]
def lookups(*progdbs):
    t = [0.0] * len(progdbs)
    for n, ip in enumerate(ips):
        env = dict(os.environ, TCPREMOTEIP=ip, TCPREMOTEHOST="mail%d.example.com" % (n * 8 + 2))
        for k, (prog, db) in enumerate(progdbs):
            t[k] += run([prog, db], env=env)
    return t
s, c = lookups((sb + "/tcprules-check", d + "/s.cdb"), ("/usr/bin/tcprulescheck", d + "/c.cdb"))
print("tcprules-check 300 lookups (one process each, 1M-rule db): sluice %.3fs, classic %.3fs, ratio %.2f" % (s, c, s / c))
run([sb + "/tcprules", d + "/cidr.cdb", d + "/cidr.tmp"], d + "/cidr.txt")
s, = lookups((sb + "/tcprules-check", d + "/cidr.cdb"))
print("tcprules-check 300 lookups (100k CIDR rules, 23 prefix lengths): sluice %.3fs, classic n/a (no CIDR)" % s)
EOF
