#!/bin/sh
# tcpsrv's two ways of starting prog give prog the same world: the quick way (no -h, -p or
# -r: the parent looks the rules up and starts prog from a child that shares its memory
# until the exec, tools/lib/qspawn) and the slow way
# (a forked child does the lookups, then execs). Compared here: the environment, the
# descriptors, the signal mask and ignored signals, a banner larger than a socket buffer,
# and a prog that moved or vanished after tcpsrv started.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tcpsrv-lib.sh"
plan 40

# -r with an ident port where nothing listens: the slow way, with TCPREMOTEINFO unset at
# once (connection refused), so both ways must give the very same variables
IDENT=$(free_port)
slow() { TCPSRV_IDENTPORT=$IDENT srv -r "$@"; }

printf '127.0.0.1:allow,X_RULE="yes",TCPLOCALHOST="from.rule",X_GONE\n:allow\n' > "$T/rules.txt"
"$B/tcprules" "$T/rules.cdb" "$T/rules.tmp" < "$T/rules.txt" || exit 1

strip() { grep -v '^TCP\(REMOTE\|LOCAL\)PORT='; }
X_GONE=1 srv -x "$T/rules.cdb" 127.0.0.1 0 "$(envdump)" || exit 1
quick=$(get "$PORT" | strip)
stop_pid "$SPID"
X_GONE=1 slow -x "$T/rules.cdb" 127.0.0.1 0 "$(envdump)" || exit 1
slowout=$(get "$PORT" | strip)
stop_pid "$SPID"
like "$quick" '^X_RULE=yes$' "quick way: the rule's variables are set"
like "$quick" '^TCPLOCALHOST=from\.rule$' "quick way: a rule overrides tcpsrv's own variable"
unlike "$quick" '^X_GONE=' "quick way: a rule removes an inherited variable"
is "$quick" "$slowout" "quick and slow ways: the same environment"

# Started through clean: every descriptor above 2 closed, SIGUSR1 blocked, SIGUSR2 ignored,
# every other signal at its default (python ignores SIGPIPE and SIGXFSZ, a shell's
# background job SIGINT and SIGQUIT, and a harness may ignore more)
clean() {
  exec python3 - "$@" <<'EOF'
import os, signal, sys
os.closerange(3, 65536)
for s in range(1, signal.NSIG):
    try:
        signal.signal(s, signal.SIG_DFL)
    except (OSError, ValueError):
        pass
signal.signal(signal.SIGUSR2, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_SETMASK, {signal.SIGUSR1})
os.execv(sys.argv[1], sys.argv[1:])
EOF
}
way() {   # way quick|slow ARGS...: start tcpsrv through clean, the quick or the slow way
  w=$1; shift
  if [ "$w" = quick ]; then _start "$T/log" clean "$B/tcpsrv" -1 "$@"
  else TCPSRV_IDENTPORT=$IDENT _start "$T/log" clean "$B/tcpsrv" -1 -r "$@"
  fi
}

# descriptors: 0, 1 and 2 only (ls, no shell: a shell has its pipes); signals: the mask and ignored signals tcpsrv started with,
# whatever tcpsrv blocked for itself (SIGCHLD, SIGTERM, SIGHUP, SIGPIPE). cat reads its
# own status, so no shell stands between.
for w in quick slow; do
  way $w 127.0.0.1 0 ls /proc/self/fd || exit 1
  is "$(get "$PORT" | sort -n | tr '\n' ' ')" "0 1 2 3 " "$w way: prog gets descriptors 0, 1 and 2 only (3 is ls's own)"
  stop_pid "$SPID"
  way $w 127.0.0.1 0 cat /proc/self/status || exit 1
  # what tcpsrv ignores is what it was started with (some signals, such as glibc's own
  # real-time ones, cannot be reset from python, and a harness may ignore them)
  srvign=$(awk '/^SigIgn:/ { print $2 }' "/proc/$SPID/status")
  ok "$w way: tcpsrv itself ignores SIGUSR2 as started" [ $(( 0x$srvign & 0x800 )) -ne 0 ]
  is "$(get "$PORT" | grep -E '^Sig(Blk|Ign):' | tr '\n\t' '  ')" "SigBlk: 0000000000000200 SigIgn: $srvign " \
    "$w way: prog has the signal mask and ignored signals tcpsrv started with"
  stop_pid "$SPID"
done

# a banner larger than a socket's send buffer: the parent cannot write it all without
# waiting, so the child writes the rest; the client gets every byte, then prog
big=$(head -c 120000 /dev/zero | tr '\0' b)
srv -B "$big" 127.0.0.1 0 echo done || exit 1
out=$(get "$PORT")
is "${#out}" "120004" "a 120000-byte banner arrives whole, then prog's output"
is "$(printf '%s' "$out" | tail -c 4)" "done" "... and prog ran after it"
is "$(printf '%s' "$out" | tr -d b | head -c 4)" "done" "... nothing but the banner before it"
stop_pid "$SPID"
srv -B "hi " 127.0.0.1 0 echo done || exit 1
is "$(get "$PORT")" "hi done" "a small banner: written by the parent, then prog"
stop_pid "$SPID"

# prog found in PATH at start, then moved to a later PATH directory: still found; then gone:
# that connection is dropped with a warning and the server goes on
mkdir -p "$T/p1" "$T/p2"
printf '#!/bin/sh\necho one\n' > "$T/p1/myprog"; chmod +x "$T/p1/myprog"
: > "$T/log"
PATH="$T/p1:$T/p2:$PATH" srv -v 127.0.0.1 0 myprog || exit 1
is "$(get "$PORT")" "one" "prog found in PATH at start"
mv "$T/p1/myprog" "$T/p2/myprog"
is "$(get "$PORT")" "one" "prog moved to a later PATH directory: found there"
rm "$T/p2/myprog"
is "$(get "$PORT")" "" "prog gone: the connection is closed"
logwait 'unable to run myprog'
like "$(cat "$T/log")" 'tcpsrv: warning: dropping connection, unable to run myprog: ' "... with a warning"
printf '#!/bin/sh\necho back\n' > "$T/p1/myprog"; chmod +x "$T/p1/myprog"
is "$(get "$PORT")" "back" "prog back: the server never stopped serving"
ok "tcpsrv still runs" kill -0 "$SPID"
stop_pid "$SPID"

# prog not in PATH when tcpsrv starts, installed later: found then, both ways
mkdir -p "$T/p3"
for w in quick slow; do
  rm -f "$T/p3/lateprog"
  if [ $w = quick ]; then PATH="$T/p3:$PATH" srv 127.0.0.1 0 lateprog || exit 1
  else PATH="$T/p3:$PATH" slow 127.0.0.1 0 lateprog || exit 1
  fi
  is "$(get "$PORT")" "" "$w way: prog not in PATH yet: the connection is closed"
  printf '#!/bin/sh\necho late\n' > "$T/p3/lateprog"; chmod +x "$T/p3/lateprog"
  is "$(get "$PORT")" "late" "$w way: prog installed in PATH since the start: found"
  stop_pid "$SPID"
done

# an empty PATH entry is not the current directory, both ways (skalibs' rule): a prog
# put in tcpsrv's directory after the start is not run
mkdir -p "$T/cwd"
for w in quick slow; do
  rm -f "$T/cwd/cwdprog"
  if [ $w = quick ]; then set -- "$B/tcpsrv" -1; else set -- "$B/tcpsrv" -1 -r; fi
  TCPSRV_IDENTPORT=$IDENT _start "$T/log" sh -c 'cd "$1" && shift && PATH=/nonexistent: exec "$@"' sh "$T/cwd" "$@" 127.0.0.1 0 cwdprog || exit 1
  printf '#!/bin/sh\necho from cwd\n' > "$T/cwd/cwdprog"; chmod +x "$T/cwd/cwdprog"
  is "$(get "$PORT")" "" "$w way: an empty PATH entry does not run prog from the current directory"
  stop_pid "$SPID"
done

# -v on the quick way: status, pid, ok, end, in that order, for each of several clients
: > "$T/log"
srv -v -x "$T/rules.cdb" 127.0.0.1 0 true || exit 1
for i in 1 2 3; do get "$PORT" >/dev/null; done
wait_for 5 sh -c "[ \$(grep -c ' end ' '$T/log') -ge 3 ]"
pids=$(sed -n 's/^tcpsrv: pid \([0-9]*\) from .*/\1/p' "$T/log" | tr '\n' ' ')
seq=$(for p in $pids; do grep -n -E "^tcpsrv: (pid|ok|end) $p( |$)" "$T/log" | cut -d: -f1 | tr '\n' ,; echo; done | awk -F, '$1 < $2 && $2 < $3 { n++ } END { print n + 0 }')
is "$seq" "3" "-v, quick way: pid, ok and end lines in order for each client"
stop_pid "$SPID"

# the quick way's copy of the rules in memory follows the file: kept once it has settled
# (2 seconds unchanged), replaced by tcprules (a new file renamed over it), or rewritten in
# place by cp (same inode, new times)
printf '127.0.0.1:allow,X_V="1"\n' | "$B/tcprules" "$T/v.cdb" "$T/v.tmp" || exit 1
srv -x "$T/v.cdb" 127.0.0.1 0 "$(envdump)" || exit 1
sleep 2.2
like "$(get "$PORT")" '^X_V=1$' "rules: the settled database is read"
like "$(get "$PORT")" '^X_V=1$' "rules: ... and read again from the copy in memory"
printf '127.0.0.1:allow,X_V="2"\n' | "$B/tcprules" "$T/v.cdb" "$T/v.tmp" || exit 1
like "$(get "$PORT")" '^X_V=2$' "rules: replaced by tcprules, the next connection sees the new rule"
printf '127.0.0.1:allow,X_V="3"\n' | "$B/tcprules" "$T/w.cdb" "$T/w.tmp" || exit 1
sleep 2.2
like "$(get "$PORT")" '^X_V=2$' "rules: the new database, settled, is kept in memory"
cp "$T/w.cdb" "$T/v.cdb"
like "$(get "$PORT")" '^X_V=3$' "rules: rewritten in place (cp), the next connection sees the new rule"
stop_pid "$SPID"


# -v: tcpsrv's lines for a connection come before anything prog logs: pid, ok, prog, end
: > "$T/log"
srv -v 127.0.0.1 0 sh -c 'echo "prog says $$" >&2' || exit 1
for i in 1 2 3 4 5; do get "$PORT" >/dev/null; done
wait_for 5 sh -c "[ \$(grep -c ' end ' '$T/log') -ge 5 ]"
pids=$(sed -n 's/^tcpsrv: pid \([0-9]*\) from .*/\1/p' "$T/log" | tr '\n' ' ')
seq=$(for p in $pids; do grep -n -E "^(tcpsrv: (pid|ok|end) $p|prog says $p)( |$)" "$T/log" | cut -d: -f2- | cut -d' ' -f1-2 | tr '\n' ,; echo; done | grep -c '^tcpsrv: pid,tcpsrv: ok,prog says,tcpsrv: end,$')
is "$seq" "5" "-v: pid and ok lines before prog's own, end after, for each client"
stop_pid "$SPID"

# prog gone with -v: its connection is logged once (status, pid, ok, the warning, end,
# status), with exit status 111, and nothing is logged twice
printf '#!/bin/sh\necho here\n' > "$T/p1/vprog"; chmod +x "$T/p1/vprog"
: > "$T/log"
PATH="$T/p1:$PATH" srv -v 127.0.0.1 0 vprog || exit 1
rm "$T/p1/vprog"
is "$(get "$PORT")" "" "-v, prog gone: the connection is closed"
logwait ' end '
wait_for 5 sh -c "[ \$(grep -c status: '$T/log') -ge 3 ]"
sleep 0.2
gone=$(sed -n 's/^tcpsrv: pid \([0-9]*\) from .*/\1/p' "$T/log")
is "$(sed 's/[0-9][0-9]*/N/g' "$T/log" | sed 's/unable to run vprog: .*/unable to run vprog: E/')" "tcpsrv: status: N/N
tcpsrv: status: N/N
tcpsrv: pid N from N.N.N.N
tcpsrv: ok N :N.N.N.N:N :N.N.N.N::N
tcpsrv: warning: dropping connection, unable to run vprog: E
tcpsrv: end N status N
tcpsrv: status: N/N" "-v, prog gone: each line once, in order"
like "$(cat "$T/log")" "^tcpsrv: end $gone status 28416\$" "... the end line says exit status 111"
stop_pid "$SPID"

# a rule's environment too large for the quick way's memory: the slow way, same result
big=$(head -c 50000 /dev/zero | tr '\0' v)
printf '127.0.0.1:allow,X_BIG="%s"\n' "$big" | "$B/tcprules" "$T/big.cdb" "$T/big.tmp" || exit 1
srv -x "$T/big.cdb" 127.0.0.1 0 "$(envdump)" || exit 1
out=$(get "$PORT" | sed -n 's/^X_BIG=//p')
is "${#out}" "50000" "a 50000-byte rule variable reaches prog whole"
stop_pid "$SPID"

# Clients that connect while tcpsrv is stopped, so that it accepts them all in one turn:
# stopped(port, spid, n, before) connects n sockets (calling before(i, sock) first) and
# resumes tcpsrv; readall(sock, secs) reads to EOF, returning (data, got EOF).
cat > "$T/stopped.py" <<'PY'
import os, signal, socket, time
def stopped(port, spid, n, before=None):
    os.kill(spid, signal.SIGSTOP)
    socks = []
    try:
        for i in range(n):
            s = socket.socket()
            if before:
                before(i, s)
            s.connect(("127.0.0.1", port))
            socks.append(s)
        time.sleep(0.2)
    finally:
        os.kill(spid, signal.SIGCONT)
    return socks
def readall(s, secs):
    s.settimeout(secs)
    data = b""
    try:
        while True:
            x = s.recv(65536)
            if not x:
                return data, True
            data += x
    except socket.timeout:
        return data, False
PY

# A forked child closes the other accepted connections at once: client A, whose child
# waits for an ident answer that never comes, must not hold back B's end. The ident server
# answers B's query at once and never A's.
ID2=$(free_port)
TCPSRV_IDENTPORT=$ID2 srv -r -t 15 127.0.0.1 0 echo done || exit 1
res=$(PYTHONPATH=$T python3 - "$PORT" "$SPID" "$ID2" <<'PY'
import socket, sys, threading, time
from stopped import stopped, readall
port, spid, idport = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", idport))
ls.listen(5)
held, aport = [], []
def ident():
    while True:
        c, _ = ls.accept()
        q = c.recv(100).decode()
        if q.split(",")[0].strip() == str(aport[0]):
            held.append(c)          # A: no answer
        else:
            c.sendall((q.strip() + " : ERROR : NO-USER\r\n").encode())
            c.close()
threading.Thread(target=ident, daemon=True).start()
def before(i, s):
    if i == 0:
        s.bind(("127.0.0.1", 0))
        aport.append(s.getsockname()[1])
a, b = stopped(port, spid, 2, before)
data, eof = readall(b, 12)          # A holding it would mean 15 s (-t 15)
# B may be done before A's child has even asked (a loaded machine): wait for A's query
for _ in range(100):
    if held:
        break
    time.sleep(0.1)
print("eof" if eof else "no eof", data.decode().strip(), "held", len(held))
a.close()
PY
)
is "$res" "eof done held 1" "a waiting child holds no other client's connection: B gets its end at once"
stop_pid "$SPID"

# few descriptors (ulimit -n 24): the ring of accepted connections shrinks to fit, so a
# burst of 40 clients is served whole, with no failed accept
: > "$T/log"
_start "$T/log" sh -c 'ulimit -n 24 && exec "$@"' sh "$B/tcpsrv" -1 -b 64 -c 100 127.0.0.1 0 echo hi || exit 1
res=$(PYTHONPATH=$T python3 - "$PORT" "$SPID" <<'PY'
import sys
from stopped import stopped, readall
socks = stopped(int(sys.argv[1]), int(sys.argv[2]), 40)
print(sum(1 for s in socks if readall(s, 10) == (b"hi\n", True)))
PY
)
is "$res" "40" "ulimit -n 24: 40 clients at once all served"
unlike "$(cat "$T/log")" 'accept' "... with no failed accept logged"
stop_pid "$SPID"
