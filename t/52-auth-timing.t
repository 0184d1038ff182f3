#!/bin/sh
# auth-check takes as long for an unknown user as for a wrong password or a right one: the
# unknown user is checked against a dummy hash. Measured from outside, as a client would:
# interleaved runs, median wall-clock times compared. Hashes at the default setting (yescrypt,
# cost 4, tens of ms), so that the hash, not the process start, is most of each run; a user
# with a cheap hash shows on this machine, in the same run, that a check that skips the hash
# would be seen (the test cannot pass by being blind).
. "$(dirname "$0")/lib.sh"
plan 6

chmod 755 "$T"
export SLUICEDIR="$T/sluice"
mkdir -p "$SLUICEDIR/control"
"$B/mail-user" adddomain -u nobody example.com
echo 'right pw' | "$B/mail-user" adduser alice@example.com
cheap=$(python3 -c 'import ctypes
l = ctypes.CDLL("libcrypt.so.1"); l.crypt_gensalt.restype = ctypes.c_char_p; l.crypt.restype = ctypes.c_char_p
print(l.crypt(b"cheap pw", l.crypt_gensalt(b"$6$", 1000, None, 0)).decode())')
echo "$cheap" | "$B/mail-user" adduser -H cheap@example.com
like "$(sed -n 's/^alice:\([^:]*\):.*/\1/p' "$SLUICEDIR/users/example.com")" '^\$y\$j8T\$' "alice has a default hash (yescrypt, cost 4)"

python3 - "$B/auth-check" > "$T/timing" 2>&1 <<'EOF'
import os, random, statistics, sys, time
prog = sys.argv[1]
cases = {
    "wrong": b"alice@example.com\0wrong pw\0\0",
    "unknown": b"nobody@example.com\0wrong pw\0\0",
    "nodomain": b"alice@nowhere.example\0wrong pw\0\0",
    "right": b"alice@example.com\0right pw\0\0",
    "cheap": b"cheap@example.com\0wrong pw\0\0",
}
def run(data):
    r, w = os.pipe()
    os.write(w, data); os.close(w)
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(r, 3)
            os.set_inheritable(3, True)   # dup2 onto itself keeps close-on-exec
            fd = os.open("/dev/null", os.O_WRONLY); os.dup2(fd, 1); os.dup2(fd, 2)
            os.execv(prog, [prog, "-w", "0", "/bin/true"])
        finally:
            os._exit(127)
    _, status = os.waitpid(pid, 0)
    t = time.perf_counter() - t
    os.close(r)
    return t, os.waitstatus_to_exitcode(status)
want = {"wrong": 1, "unknown": 1, "nodomain": 1, "right": 0, "cheap": 1}
tolerance = 0.20
for attempt in range(3):
    times = {k: [] for k in cases}
    for _ in range(15):
        order = list(cases); random.shuffle(order)
        for k in order:
            t, code = run(cases[k])
            if code != want[k]:
                print("bad exit %d for %s" % (code, k)); sys.exit(1)
            times[k].append(t)
    med = {k: statistics.median(v) for k, v in times.items()}
    ref = med["wrong"]
    line = " ".join("%s=%.1fms" % (k, med[k] * 1000) for k in cases)
    ratios = {k: med[k] / ref for k in cases}
    close = all(abs(ratios[k] - 1) <= tolerance for k in ("unknown", "nodomain", "right"))
    seen = ratios["cheap"] < 0.7
    print("attempt %d: %s" % (attempt + 1, line))
    if close and seen:
        break
print("unknown %.3f nodomain %.3f right %.3f cheap %.3f" % (ratios["unknown"], ratios["nodomain"], ratios["right"], ratios["cheap"]))
EOF
r=$?
diag "$(cat "$T/timing")"
is "$r" 0 "the timing runs gave the expected exit codes"
set -- $(tail -1 "$T/timing") - - - - - - - -
ok "the measurement can see a missing hash: a cheap hash is < 0.7 of a wrong password's time ($8)" \
  awk -v x="$8" 'BEGIN { exit !(x < 0.7) }'
ok "an unknown user takes the time of a wrong password, within a third ($2)" \
  awk -v x="$2" 'BEGIN { exit !(x >= 0.75 && x <= 1.33) }'
ok "an unknown domain too ($4)" awk -v x="$4" 'BEGIN { exit !(x >= 0.75 && x <= 1.33) }'
ok "and the right password too ($6)" awk -v x="$6" 'BEGIN { exit !(x >= 0.75 && x <= 1.33) }'
