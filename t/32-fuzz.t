#!/bin/sh
# A short libFuzzer run over the two parsers of hostile input in scope: DNS replies
# (tools/lib/dns.c, dns_reply_parse) and tcprules lines plus cdb databases, compiled or
# raw (tools/lib/rules.c). Built here with clang's fuzzer, ASan and UBSan; skipped when
# clang cannot build it. Four seconds each, both at once: a smoke test, longer runs are for humans:
#   clang -fsanitize=fuzzer,address -Itools/lib -include tools/lib/strerrfix.h \
#     -D_GNU_SOURCE t/fuzz/dns_reply.c tools/lib/dns.c -lskarnet && ./a.out -max_total_time=600
. "$(dirname "$0")/lib.sh"
[ -n "${SLUICE_SANITIZE:-}" ] && skip_all "the fuzzers are sanitized builds already: run in the normal pass"
command -v clang >/dev/null || skip_all "no clang"
cd "$TOP" || exit 1
F="-g -O1 -fsanitize=fuzzer,address,undefined -Itools/lib -include tools/lib/strerrfix.h -D_DEFAULT_SOURCE -D_GNU_SOURCE"
clang $F -o "$T/dns" t/fuzz/dns_reply.c tools/lib/dns.c -lskarnet 2>"$T/cc1.err" & p=$!
clang $F -o "$T/rules" t/fuzz/rules_line.c tools/lib/rules.c -lcdb -lskarnet 2>"$T/cc2.err" \
  && wait $p || skip_all "clang cannot build a libFuzzer harness here: $(cat "$T"/cc*.err | head -1)"
plan 2

# seeds: well-formed replies of every type (CNAME first, compression), and rules with
# every address form; the fuzzer mutates from there
mkdir "$T/cd" "$T/cr"
python3 - "$T/cd" <<'PY'
import struct, sys
def name(n):
    return b''.join(bytes([len(l)]) + l.encode() for l in n.split('.') if l) + b'\0'
q = name('4.3.2.1.bl.example')
rd = {1: b'\x7f\0\0\2', 28: b'\x20\x01' + b'\0' * 14, 16: b'\x05hello\x03abc', 12: b'\xc0\x0c',
      5: b'\xc0\x0c', 2: b'\x02ns\xc0\x0c', 15: b'\0\x0a\x02mx\xc0\x0c'}
def rr(owner, t, data): return owner + struct.pack('>HHIH', t, 1, 300, len(data)) + data
for i, t in enumerate([1, 28, 16, 12, 5, 2, 15]):
    ans = rr(b'\xc0\x0c', 5, name('x.example')) + rr(name('x.example'), t, rd[t]) + rr(b'\xc0\x0c', t, rd[t])
    pkt = struct.pack('>HHHHHH', 0x1234, 0x8180, 1, 3, 0, 0) + q + struct.pack('>HH', t, 1) + ans
    for flag in (0, 0x80):
        open('%s/%d-%d' % (sys.argv[1], i, flag), 'wb').write(bytes([i | flag]) + pkt)
PY
i=0
for f in rules/*.txt; do i=$((i+1)); { cat "$f"; printf '\000192.168.1.7'; } >"$T/cr/$i"; done
printf '1.2.3.4:deny\n10.0.0.0/8:allow,RELAYCLIENT=""\n10.1-3.:allow\n2001:db8::/32:allow,X="y",Z\n2001:db8:1:\nfe80::/10:deny\njoe@=mail.example.com:allow\njoe@1.2.3.4:deny\n=.example.com:allow,A="b"\n=:deny\n:allow\n\00010.1.2.3' >"$T/cr/mix"
printf '1.2.3.4:deny\n10.0.0.0/9:allow,X="1"\n2001:db8::/33:deny\n:allow\n' | "$B/tcprules" "$T/cr/db.cdb" "$T/db.tmp"

fuzz() {
  _h=$1; _c=$2
  (cd "$T" && ASAN_OPTIONS=detect_leaks=1 "$T/$_h" -max_total_time=4 -max_len=4096 -timeout=5 \
    -rss_limit_mb=1500 -artifact_prefix="$T/$_h-" "$T/$_c") >"$T/$_h.log" 2>&1
}
# both at once, on two cores
fuzz dns cd & p=$!
fuzz rules cr; r2=$?
wait $p; r1=$?
for h in dns:$r1 rules:$r2; do
  if [ "${h#*:}" = 0 ]; then _pass "fuzz ${h%:*}: no crash, leak or hang in 4 s"
  else
    _fail "fuzz ${h%:*}: no crash, leak or hang in 4 s"
    diag "$(grep -A25 -E '^==[0-9]+==|runtime error|deadly signal' "$T/${h%:*}.log" | head -40)"
    for a in "$T/${h%:*}"-*; do [ -f "$a" ] && diag "input $a:" "$(od -An -c "$a" | head -20)"; done
  fi
done
