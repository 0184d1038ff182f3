#!/bin/sh
# auth-check: password checks per second, one process per check as in real use, with 100,000
# users in the database; the cost of one hash at the default setting; and the classic
# checkpassword program Debian ships, checkpw (a system user, a plaintext ~/Maildir/.password).
set -eu
B=${SLUICE_BIN:-$(pwd)/bin}
W=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
chmod 711 "$W"   # the domain owner (nobody) must reach its directory
export SLUICEDIR="$W/sluice"
mkdir -p "$SLUICEDIR/control"
N=${AUTH_BENCH_N:-50}            # checks per measurement at the default hash cost
NFAST=${AUTH_BENCH_NFAST:-500}  # checks per measurement with a cheap hash

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", n / (b - a) }'; }

"$B/mail-user" adddomain -u nobody bench.example
printf 'benchpass\n' | "$B/mail-user" adduser user0@bench.example
hash=$(sed -n 's/^user0:\([^:]*\):.*/\1/p' "$SLUICEDIR/users/bench.example")

# 100,000 users: the text file written directly, one hash reused, then compiled
awk -v h="$hash" 'BEGIN { for (i = 1; i < 100000; i++) printf "user%d:%s:::\n", i, h }' >> "$SLUICEDIR/users/bench.example"
t0=$(now); "$B/mail-user" rebuild; t1=$(now)
echo "auth-check: 100000 users compiled by mail-user rebuild in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"

# the hash alone, at the default setting, through libcrypt
python3 - "$hash" <<'EOF'
import ctypes, sys, time
lib = ctypes.CDLL("libcrypt.so.1")
lib.crypt.restype = ctypes.c_char_p
h = sys.argv[1].encode()
lib.crypt(b"benchpass", h)
n = 20
t = time.perf_counter()
for _ in range(n):
    assert lib.crypt(b"benchpass", h) == h
ms = (time.perf_counter() - t) / n * 1000
print("auth-check: one hash at the default setting (%s): %.1f ms, %.0f checks/s per core" % (h.split(b"$")[1].decode() + " " + h.split(b"$")[2].decode(), ms, 1000 / ms))
EOF

sluice_loop() {   # login password n
  i=0
  while [ $i -lt "$3" ]; do
    printf '%s\0%s\0\0' "$1" "$2" | "$B/auth-check" -w 0 true 3<&0 2>/dev/null || { echo "auth-check failed for $1" >&2; exit 1; }
    i=$((i+1))
  done
}
# user0 is the one with a Maildir (the others have none, and a good check would end in 111)
t0=$(now); sluice_loop user0@bench.example benchpass "$N"; t1=$(now)
sluice=$(rate "$N" "$t0" "$t1")

# a cheap hash (sha512crypt, 1000 rounds) shows what is left: processes, cdb, privileges
cheap=$(python3 -c 'import ctypes; l = ctypes.CDLL("libcrypt.so.1"); l.crypt_gensalt.restype = ctypes.c_char_p; l.crypt.restype = ctypes.c_char_p; print(l.crypt(b"benchpass", l.crypt_gensalt(b"$6$", 1000, None, 0)).decode())')
printf '%s\n' "$cheap" | "$B/mail-user" adduser -H cheap@bench.example
t0=$(now); sluice_loop cheap@bench.example benchpass "$NFAST"; t1=$(now)
sluicefast=$(rate "$NFAST" "$t0" "$t1")

classic=n/a; classicfast=n/a
if command -v checkpw >/dev/null 2>&1 && id mail >/dev/null 2>&1; then
  mkdir "$W/cp"; printf 'benchpass\n' > "$W/cp/.password"
  chown -R mail "$W/cp"; chmod 700 "$W/cp"; chmod 600 "$W/cp/.password"
  classic_loop() {
    i=0
    while [ $i -lt "$1" ]; do
      printf 'mail\0benchpass\0\0' | MAILDIR="$W/cp" checkpw true 3<&0 || { echo "checkpw failed" >&2; exit 1; }
      i=$((i+1))
    done
  }
  t0=$(now); classic_loop "$N"; t1=$(now); classic=$(rate "$N" "$t0" "$t1")
  t0=$(now); classic_loop "$NFAST"; t1=$(now); classicfast=$(rate "$NFAST" "$t0" "$t1")
fi
ratio() { case $2 in n/a) echo n/a ;; *) awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }' ;; esac; }
echo "auth-check: sluice $sluice, classic $classic, ratio $(ratio "$sluice" "$classic") (checks/s, a process each; sluice: default hash, yescrypt cost 4, 100000 users; classic: checkpw, a plaintext ~/Maildir/.password)"
echo "auth-check-cheap-hash: sluice $sluicefast, classic $classicfast, ratio $(ratio "$sluicefast" "$classicfast") (checks/s; sluice: a sha512crypt hash of 1000 rounds, 100000 users: what is left besides the hash)"
