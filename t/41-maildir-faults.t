#!/bin/sh
# maildir-deliver when things go wrong: a full disk (a real small tmpfs when this test may
# mount one, in a private mount namespace; else the LD_PRELOAD injector t/41-fault-inject.c),
# quota exhausted, I/O errors at each step (the injector: they cannot be caused for real here),
# kill -9 at random moments, and 1,000 deliveries at once.
. "$(dirname "$0")/lib.sh"
plan 22
MD=$B/maildir-deliver
MDD=$D/maildir-deliver   # LD_PRELOAD needs a dynamic link; bin/ is static
cd "$T" || exit 1
# a sanitized binary refuses a preloaded library ahead of its runtime unless told
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
export ASAN_OPTIONS

head -c 200000 /dev/zero | tr '\0' x >big
printf 'Subject: small\n\nsmall\n' >small
fresh() { rm -rf "$1"; mkdir -p "$1/tmp" "$1/new" "$1/cur"; }
files() { find "$1/new" "$1/tmp" -type f | wc -l | tr -d ' '; }

cc -shared -fPIC -o fault.so "$TOP/t/41-fault-inject.c" -ldl 2>cc.err
have_inject=$?

# 1. a full disk, for real: a 64 KiB tmpfs
mkdir tiny
out=$(unshare -m sh -c '
  mount -t tmpfs -o size=64k tmpfs "$1" 2>/dev/null || exit 3
  mkdir -p "$1/M/tmp" "$1/M/new" "$1/M/cur"
  "$2" "$1/M" <"$3/big" 2>"$3/enospc.err"; rc=$?
  echo "$rc $(find "$1/M/new" "$1/M/tmp" -type f | wc -l)"
  "$2" "$1/M" <"$3/small"; rc=$?
  echo "$rc $(ls "$1/M/new" | wc -l)"
' sh "$T/tiny" "$MD" "$T" 2>/dev/null)
if [ -n "$out" ]; then
  is "$(echo "$out" | sed -n 1p | tr -s ' ')" "111 0" "ENOSPC on a full tmpfs: 111, nothing in new/ or tmp/"
  like "$(cat enospc.err)" 'No space left on device' "and says the disk is full"
  is "$(echo "$out" | sed -n 2p | tr -s ' ')" "0 1" "the space came back: a small message then fits"
elif [ "$have_inject" = 0 ]; then
  diag "cannot mount a tmpfs here: ENOSPC comes from the LD_PRELOAD injector instead"
  fresh M
  FAULT_CALL=write FAULT_ERRNO=ENOSPC FAULT_AFTER=4096 LD_PRELOAD=$T/fault.so "$MDD" M <big 2>enospc.err
  is "$?:$(files M)" "111:0" "ENOSPC (injected after 4 KiB): 111, nothing in new/ or tmp/"
  like "$(cat enospc.err)" 'No space left on device' "and says the disk is full"
  "$MD" M <small
  is "$?:$(files M)" "0:1" "then a message goes through"
else
  skip 3 "neither a tmpfs mount nor a C compiler for the injector"
fi

# 2. every step failing in turn (injected)
inject() {   # inject CALL ERRNO [AFTER]: run one delivery into a fresh M under the fault
  fresh M
  FAULT_CALL=$1 FAULT_ERRNO=$2 FAULT_AFTER=${3:-0} LD_PRELOAD=$T/fault.so "$MDD" M <big 2>"$T/err"
  echo "$?:$(files M)"
}
if [ "$have_inject" = 0 ]; then
  is "$(inject write EDQUOT 1000)" "111:0" "EDQUOT after a partial write: 111, nothing left"
  like "$(cat "$T/err")" 'quota exceeded' "and says the quota is exceeded"
  is "$(inject write EIO)" "111:0" "EIO on write: 111, nothing left"
  is "$(inject fsync-file EIO)" "111:0" "EIO on fsync of the message: 111, nothing left"
  like "$(cat "$T/err")" 'unable to fsync a file in tmp/ of M: Input/output error' "and names the step"
  is "$(inject rename EIO)" "111:0" "EIO moving into new/: 111, nothing left"
  is "$(inject fsync-dir EIO)" "111:0" "EIO on fsync of new/: 111 and the message taken back out of new/"
  like "$(cat "$T/err")" 'unable to fsync new/ of M' "and names the step"
  fresh M
  FAULT_CALL=none LD_PRELOAD=$T/fault.so "$MDD" M <big
  is "$?:$(files M)" "0:1" "with the injector loaded but idle, the delivery succeeds (the injector is not the cause)"
else
  diag "no C compiler: $(cat cc.err)"
  skip 9 "no C compiler for the fault injector"
fi

# 3. kill -9 at random moments: what is in new/ is always the whole message
fresh K
head -c 524288 /dev/zero | tr '\0' y >half
res=$(python3 - "$MD" "$T/K" "$T/half" <<'EOF'
import os, random, signal, subprocess, sys, threading, time
md, box, src = sys.argv[1:4]
want = open(src, "rb").read()
random.seed(os.getpid())
killed = done = 0
def kill(p):
    try: p.send_signal(signal.SIGKILL)
    except ProcessLookupError: pass
end = time.time() + 8
for i in range(30):
    if time.time() > end: break
    if i % 2:
        # slow sender: the kill lands while the message is being written
        p = subprocess.Popen([md, box], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
        threading.Timer(random.uniform(0, 0.12), kill, (p,)).start()
        try:
            for k in range(0, len(want), 32768):
                p.stdin.write(want[k:k+32768]); p.stdin.flush(); time.sleep(0.005)
            p.stdin.close()
        except (BrokenPipeError, OSError):
            pass
    else:
        # fast sender: the kill lands around fsync and rename
        p = subprocess.Popen([md, box], stdin=open(src, "rb"), stderr=subprocess.DEVNULL)
        threading.Timer(random.uniform(0, 0.01), kill, (p,)).start()
    rc = p.wait()
    time.sleep(0.015)
    if rc == 0: done += 1
    else: killed += 1
new = os.listdir(os.path.join(box, "new"))
bad = [f for f in new if open(os.path.join(box, "new", f), "rb").read() != want]
print("%d %d %d %d" % (done, killed, len(new), len(bad)))
EOF
)
set -- $res
diag "kill -9 loop: $1 finished, $2 killed, $3 in new/, $4 partial"
is "${4:-x}" 0 "kill -9 at random moments: no partial message in new/"
ok "every delivery that said 0 is in new/" test "${3:-0}" -ge "${1:-1}"
ok "the loop did kill deliveries midway" test "${2:-0}" -gt 0

# 4. 1,000 deliveries at once (all started before any is waited for): 1,000 distinct files,
# none lost, none mixed up. python starts them: 1,000 shell subshells cost more than the test.
# An ASan-instrumented process costs ~0.1 s to start and end: 200 of them under SANITIZE=1.
N=1000
if ldd "$MD" 2>/dev/null | grep -q libasan; then N=200; diag "sanitized build: $N concurrent deliveries instead of 1000"; fi
fresh C
got=$(python3 - "$MD" "$T/C" "$N" <<'EOF'
import os, subprocess, sys
md, box, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
procs = []
for i in range(n):
    r, w = os.pipe()
    os.write(w, b"Subject: n%d\n\nbody %d\n" % (i, i))
    os.close(w)
    procs.append(subprocess.Popen([md, box], stdin=r, stderr=subprocess.PIPE))
    os.close(r)
bad = [i for i, p in enumerate(procs) if p.wait() != 0]
said = [p.stderr.read() for p in procs]
print("%d %d" % (len(bad), sum(1 for s in said if s)))
EOF
)
is "$got" "0 0" "$N concurrent deliveries all exit 0, and say nothing on stderr"
is "$(ls C/new | wc -l | tr -d ' ')" $N "$N files in new/"
is "$(ls C/tmp | wc -l | tr -d ' ')" 0 "nothing left in tmp/"
is "$(ls C/new | sed 's/,S=.*//' | sort -u | wc -l | tr -d ' ')" $N "$N distinct unique names (before the size)"
got=$(python3 - "$T/C" "$N" <<'EOF'
import mailbox, sys
bodies = sorted(int(m.get_payload().split()[1]) for m in mailbox.Maildir(sys.argv[1], factory=None, create=False))
print("ok" if bodies == list(range(int(sys.argv[2]))) else "bad: %d bodies, first %r" % (len(bodies), bodies[:5]))
EOF
)
is "$got" ok "each of the $N messages is there exactly once, intact"

# 5. a read-only Maildir (EACCES) is temporary, as a permission is fixed by the admin
fresh R
chmod 500 R/tmp
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chown -R 65534 R
  setpriv --reuid=65534 --regid=65534 --clear-groups "$MD" R <small 2>"$T/err"
  is "$?:$(files R)" "111:0" "tmp/ not writable: 111, nothing delivered"
  like "$(cat "$T/err")" 'Permission denied' "and says why"
elif [ "$(id -u)" != 0 ]; then
  "$MD" R <small 2>"$T/err"
  is "$?:$(files R)" "111:0" "tmp/ not writable: 111, nothing delivered"
  like "$(cat "$T/err")" 'Permission denied' "and says why"
else
  skip 2 "root without setpriv: cannot test a permission error"
fi
