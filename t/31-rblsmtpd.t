#!/bin/sh
# rblsmtpd against real DNS block lists (rbldnsd on loopback), behind a resolver that also
# serves broken and dead lists on purpose (t/fakedns.py); the dialogue driven by pipelined
# input and by real SMTP clients over TCP; byte-for-byte comparisons with Debian's rblsmtpd.
. "$(dirname "$0")/lib.sh"
command -v rbldnsd >/dev/null || skip_all "rbldnsd not installed"
plan 97

# the interpreter itself, not a wrapper that may fork: start_bg must know its pid
PY=$(python3 -c 'import sys; print(sys.executable)')
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
CR=$(printf '\r')

# ---- the lists, served by rbldnsd
Z=$T/zones
mkdir "$Z"
printf ':127.0.0.2:Listed in bl.test: $\n127.0.0.2\n127.0.0.3\n127.0.0.4\n127.0.0.1 :127.0.0.2:loopback listed\n' >"$Z/bl"
printf ':127.0.0.2:v6 listed $\n2001:db8::/32\n' >"$Z/bl6"
printf '127.0.0.3\n' >"$Z/al"
printf '127.0.0.2 :127.0.0.4:\n127.0.0.3 :127.0.0.10:zen text for $\n127.0.0.4 :127.0.0.200:\n' >"$Z/zen"
RP=$(free_port udp)
start_bg rbldnsd -n -b "127.0.0.1/$RP" -w "$Z" bl.test:ip4set:bl bl.test:ip6trie:bl6 \
  al.test:ip4set:al zen.test:ip4set:zen >"$T/rbldnsd.log" 2>&1
wait_listen "$RP" udp || diag "$(cat "$T/rbldnsd.log")"

# ---- the resolver rblsmtpd asks: fakedns.py answers *.silent.test, *.trunc.test, ... itself
# and forwards the rest to rbldnsd. As root it listens on port 53 of a 127/8 address, so that
# Debian's rblsmtpd (port 53 only) can ask it too, and DNSCACHEIP carries no port.
start_fake() {
  start_bg "$PY" "$TOP/t/fakedns.py" "$1" "$RP" "$2" >"$T/fake.out" 2>"$T/fake.err"
  FAKEPID=$BGPID
  wait_for 15 grep -q ready "$T/fake.out"
}
CLASSIC=0
ADDR=127.$(( $$ % 200 + 20 )).$(( ($$ / 200) % 250 + 1 )).53
if [ "$(id -u)" = 0 ] && [ -x /usr/bin/rblsmtpd ] && start_fake 53 "$ADDR"; then
  export DNSCACHEIP=$ADDR
  CLASSIC=1
else
  [ -n "${FAKEPID:-}" ] && stop_pid "$FAKEPID"
  FP=$(free_port udp)
  start_fake "$FP" 127.0.0.1 || diag "$(cat "$T/fake.err")"
  export DNSCACHEIP=127.0.0.1:$FP
fi

# sl IP INPUT ARGS...: our rblsmtpd for client IP, printf-format INPUT on stdin;
# stdout in $T/o, stderr in $T/e, exit code in $rc, milliseconds in $el.
sl() {
  _ip=$1; _in=$2; shift 2
  _t0=$(now_ms)
  printf "$_in" | TCPREMOTEIP=$_ip "$B/rblsmtpd" "$@" >"$T/o" 2>"$T/e"; rc=$?
  el=$(( $(now_ms) - _t0 ))
}
out() { cat -v "$T/o"; }
RAN="sh -c echo\ ran"
run_prog() { echo ran; }

# ---- lists
sl 127.0.0.2 '' -t0 -r bl.test echo ran
is "$(out) $rc" "451 Listed in bl.test: 127.0.0.2^M 0" "TXT list: listed client refused, prog not run, exit 0"
like "$(cat "$T/e")" "^rblsmtpd: deny 127\.0\.0\.2 pid [0-9]+ by bl\.test: 451 Listed in bl\.test: 127\.0\.0\.2$" "log line names IP, list and reply"
sl 127.0.0.9 '' -r bl.test echo ran
is "$(out) $rc $(cat "$T/e")" "ran 0 " "unlisted client: prog runs, nothing logged"
sl 127.0.0.9 '' -r bl.test sh -c 'exit 7'
is "$rc" 7 "prog's exit code is rblsmtpd's: it was executed, not run as a child"
TCPREMOTEIP=127.0.0.9 "$B/rblsmtpd" -r bl.test sh -c 'echo $$ >"$1"' sh "$T/pid" </dev/null &
p=$!; wait $p
is "$(cat "$T/pid")" "$p" "prog has rblsmtpd's pid: nothing stays in between"
sl 127.0.0.3 '' -a al.test -r bl.test echo ran
is "$(out)" "ran" "anti-list first: listed in both, let through"
sl 127.0.0.3 '' -t0 -r bl.test -a al.test echo ran
is "$(out)" "451 Listed in bl.test: 127.0.0.3^M" "list first: listed in both, refused"
sl 127.0.0.2 '' -t0 -b -r bl.test echo ran
is "$(out)" "553 Listed in bl.test: 127.0.0.2^M" "-b: 553"
sl 127.0.0.2 '' -t0 -r bl.test -b echo ran
is "$(out)" "451 Listed in bl.test: 127.0.0.2^M" "-b after -r does not apply to it (0.88's order)"
sl 127.0.0.2 '' -t0 -b -B -r bl.test echo ran
is "$(out)" "451 Listed in bl.test: 127.0.0.2^M" "-B: 451"

# IPv6 clients
sl 2001:db8::5 '' -t0 -r bl.test echo ran
is "$(out)" "451 v6 listed 2001:db8::5^M" "IPv6 client listed (nibble-reversed name)"
sl 2001:db9::5 '' -t0 -r bl.test echo ran
is "$(out)" "ran" "IPv6 client unlisted"
sl ::ffff:127.0.0.2 '' -t0 -r bl.test echo ran
is "$(out)" "451 Listed in bl.test: 127.0.0.2^M" "::ffff:a.b.c.d is looked up as IPv4"

# A-record lists with return codes
sl 127.0.0.2 '' -t0 -r zen.test=127.0.0.2-127.0.0.10 echo ran
is "$(out)" "451 127.0.0.2 is listed in zen.test (127.0.0.4)^M" "A list, code in range, no TXT: default text names IP, list, code"
sl 127.0.0.3 '' -t0 -r zen.test=127.0.0.2-127.0.0.10 echo ran
is "$(out)" "451 zen text for 127.0.0.3^M" "A list, code in range, TXT: its text"
sl 127.0.0.4 '' -t0 -r zen.test=127.0.0.2-127.0.0.10 echo ran
is "$(out)" "ran" "A list, code outside the filter: let through"
sl 127.0.0.4 '' -t0 -r zen.test=127.0.0.9,127.0.0.200 echo ran
is "$(out)" "451 127.0.0.4 is listed in zen.test (127.0.0.200)^M" "A list, a code in a comma list"
sl 127.0.0.4 '' -t0 -a zen.test=127.0.0.200 -r bl.test echo ran
is "$(out)" "ran" "anti-list with codes, matching: let through"
sl 127.0.0.4 '' -t0 -a zen.test=127.0.0.4 -r bl.test echo ran
is "$(out)" "451 Listed in bl.test: 127.0.0.4^M" "anti-list with codes, not matching: the next list decides"
sl 127.0.0.9 '' -t0 -r zen.test=127.0.0.2 echo ran
is "$(out)" "ran" "A list, not listed at all"

# ---- dead and broken lists, one deadline
sl 127.0.0.9 '' -T 1 -r silent.test -r zen.test=127.0.0.2 -r bl.test echo ran
is "$(out)" "ran" "a dead list with -C: let through"
ok "... after the deadline, not the sum of waits ($el ms)" test "$el" -ge 900 -a "$el" -lt 2600
like "$(cat "$T/e")" "^rblsmtpd: warning: 127\.0\.0\.9 pid [0-9]+: lookup in silent\.test failed: Connection timed out$" "the failed lookup is logged"
sl 127.0.0.9 '' -t0 -c -T 1 -r silent.test echo ran
is "$(out)" "451 temporary RBL lookup error^M" "a dead list with -c: temporary refusal"
sl 127.0.0.2 '' -t0 -T 3 -r bl.test -r silent.test echo ran
is "$(out)" "451 Listed in bl.test: 127.0.0.2^M" "listed by the first list, a dead list after it"
ok "... decided without waiting for the dead one ($el ms)" test "$el" -lt 2000
sl 127.0.0.2 '' -t0 -T 1 -r silent.test -b -r bl.test echo ran
is "$(out)" "451 Listed in bl.test: 127.0.0.2^M" "a failed lookup on the way turns 553 into 451"
sl 127.0.0.2 '' -t0 -T 1 -a silent.test -r bl.test echo ran
is "$(out)" "ran" "a dead anti-list with -C lets the client through"
sl 127.0.0.2 '' -t0 -T 1 -c -a silent.test -r bl.test echo ran
is "$(out)" "451 Listed in bl.test: 127.0.0.2^M" "a dead anti-list with -c does not"
sl 127.0.0.2 '' -t0 -c -T 2 -r trunc.test echo ran
is "$(out)" "451 temporary RBL lookup error^M" "an answer cut short counts as a failure"
like "$(cat "$T/e")" "lookup in trunc\.test failed: Bad message$" "... logged as a bad message"
ok "... at once ($el ms)" test "$el" -lt 1500
sl 127.0.0.2 '' -t0 -c -T 2 -r loop.test echo ran
is "$(out)" "451 temporary RBL lookup error^M" "a compression loop counts as a failure"
sl 127.0.0.2 '' -t0 -T 2 -r wrongid.test echo ran
is "$(out)" "451 fake listed^M" "wrong-ID reply and garbage ignored, the right answer used"
sl 127.0.0.2 '' -t0 -T 1 -r garbage.test echo ran
is "$(out)" "ran" "a list answering garbage only, -C: let through at the deadline"
sl 127.0.0.2 '' -t0 -T 1 -c -r garbage.test -r qloop.test echo ran
is "$(out)" "451 temporary RBL lookup error^M" "... -c: refused"
sl 127.0.0.2 '' -t0 -T 2 -r tc.test echo ran
is "$(out)" "451 fake listed^M" "a truncated answer: asked again over TCP"
sl 127.0.0.9 '' -t0 -T 2 -r servfail.test -r nx.test echo ran
is "$(out)" "ran" "SERVFAIL and NXDOMAIN lists: let through"

# ---- $RBLSMTPD
RBLSMTPD= sl 127.0.0.2 '' -t0 -T 3 -r bl.test -r silent.test echo ran
is "$(out)" "ran" "RBLSMTPD empty: let through, listed or not"
ok "... without asking ($el ms)" test "$el" -lt 2000
RBLSMTPD="-Go away" sl 127.0.0.9 '' -t0 -r bl.test echo ran
is "$(out)" "553 Go away^M" "RBLSMTPD=-text: 553 and the text"
like "$(cat "$T/e")" '^rblsmtpd: deny 127\.0\.0\.9 pid [0-9]+ by \$RBLSMTPD: 553 Go away$' "... logged as the rule's"
RBLSMTPD="Try later" sl 127.0.0.9 '' -t0 echo ran
is "$(out)" "451 Try later^M" "RBLSMTPD=text: 451 and the text"
RBLSMTPD="Try later" sl 127.0.0.9 '' -t0 -m RBLTAG echo ran
is "$(out)" "451 Try later^M" "RBLSMTPD refuses even in tagging mode"
RBLSMTPD="$(printf 'bad\001\177\351text\tend')" sl 127.0.0.9 '' -t0 echo ran
is "$(out)" "451 bad???text?end^M" "the text is sanitised to printable ASCII"
long=$(printf '%0300d' 0 | tr 0 x)
RBLSMTPD="$long" sl 127.0.0.9 '' -t0 echo ran
is "$(wc -c <"$T/o")" 206 "the text is cut to 200 bytes"

# ---- the refusing dialogue
in='HELO x\r\nmail from:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nnoop\r\nrset\r\nehlo y\r\nfoo\r\n\r\n QUIT\r\nquit\r\r\nQuIt now\r\nhelo after quit\r\n'
sl 127.0.0.2 "$in" -r bl.test echo ran
want="220 rblsmtpd.local^M
250 rblsmtpd.local^M
250 rblsmtpd.local^M
451 Listed in bl.test: 127.0.0.2^M
451 Listed in bl.test: 127.0.0.2^M
250 rblsmtpd.local^M
250 rblsmtpd.local^M
250 rblsmtpd.local^M
451 Listed in bl.test: 127.0.0.2^M
451 Listed in bl.test: 127.0.0.2^M
451 Listed in bl.test: 127.0.0.2^M
451 Listed in bl.test: 127.0.0.2^M
221 rblsmtpd.local^M"
is "$(out)" "$want" "pipelined dialogue: every answer, case-insensitive verbs, stops at QUIT"
is "$rc" 0 "... exit 0"
sl 127.0.0.2 'helo\nrcpt\nQUIT\n' -b -r bl.test echo ran
is "$(out)" "220 rblsmtpd.local^M
250 rblsmtpd.local^M
553 Listed in bl.test: 127.0.0.2^M
221 rblsmtpd.local^M" "bare LF line ends; 553 in the dialogue"
sl 127.0.0.2 'helo\r\nrcpt' -r bl.test echo ran
is "$(out) $rc" "220 rblsmtpd.local^M
250 rblsmtpd.local^M 0" "end of input without QUIT: the dialogue ends, exit 0"
sl 127.0.0.2 "$(printf '%02000d' 0 | tr 0 y)\\r\\nquit\\r\\n" -r bl.test echo ran
is "$(out)" "220 rblsmtpd.local^M
451 Listed in bl.test: 127.0.0.2^M
221 rblsmtpd.local^M" "a 2000-byte line is one refused command"
mkfifo "$T/fifo"
sleep 20 >"$T/fifo" &   # the client stays silent, its end 20 s away
sleeper=$!
t0=$(now_ms)
TCPREMOTEIP=127.0.0.2 "$B/rblsmtpd" -t 1 -r bl.test echo ran <"$T/fifo" >"$T/o" 2>"$T/e"
rc=$?; el=$(( $(now_ms) - t0 ))
kill "$sleeper" 2>/dev/null
is "$(out) $rc" "220 rblsmtpd.local^M 0" "-t 1: a silent client is dropped, exit 0"
ok "... after a second ($el ms; a loaded machine may add seconds, the silent client ends only at 20)" test "$el" -ge 900 -a "$el" -lt 10000
# the same with SIGALRM blocked by whoever ran rblsmtpd (the mask survives exec)
sleep 20 >"$T/fifo" &   # the client stays silent, its end 20 s away
sleeper=$!
t0=$(now_ms)
TCPREMOTEIP=127.0.0.2 "$PY" -c 'import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
os.execv(sys.argv[1], sys.argv[1:])' "$B/rblsmtpd" -t 1 -r bl.test echo ran <"$T/fifo" >"$T/o" 2>"$T/e"
el=$(( $(now_ms) - t0 ))
kill "$sleeper" 2>/dev/null
ok "-t 1 holds even when SIGALRM comes blocked ($el ms)" test "$el" -lt 10000

# ---- a real SMTP client over TCP (Debian's tcpserver hosts rblsmtpd; it sets TCPREMOTEIP)
if command -v tcpserver >/dev/null; then
  SP=$(free_port)
  start_bg tcpserver -q -R -H -l0 127.0.0.1 "$SP" "$B/rblsmtpd" -b -r bl.test sh -c 'echo never' 2>"$T/tcp.err"
  wait_listen "$SP"
  res=$("$PY" - "$SP" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
out = [s.ehlo()[0], s.noop()[0], s.mail("a@b.example")[0]]
code, msg = s.rcpt("c@d.example")
out += [code, msg.decode()]
out.append(s.docmd("DATA")[0])
out.append(s.rset()[0])
out.append(s.quit()[0])
print(" ".join(str(x) for x in out))
EOF
)
  is "$res" "250 250 250 553 loopback listed 553 250 221" "python smtplib: EHLO/NOOP/MAIL 250, RCPT and DATA 553, RSET 250, QUIT 221"
  swaks --server 127.0.0.1 --port "$SP" --from a@b.example --to c@d.example --helo x.example \
    --timeout 10 >"$T/swaks" 2>&1
  like "$(cat "$T/swaks")" "<\*\* 553 loopback listed" "swaks sees the refusal of its RCPT"
  stop_pid "$BGPID"
  like "$(cat "$T/tcp.err")" "deny 127\.0\.0\.1 pid [0-9]+ by bl\.test: 553 loopback listed" "the connection's log line"

  # greeting delay: a client that talks first is refused, one that waits gets prog's greeting
  GP=$(free_port)
  start_bg tcpserver -q -R -H -l0 127.0.0.1 "$GP" "$B/rblsmtpd" -w 1 -r zen.test=127.0.0.2 \
    sh -c 'printf "220 real.example ESMTP\r\n"; read x; printf "221 bye\r\n"' 2>"$T/greet.err"
  wait_listen "$GP"
  res=$("$PY" - "$GP" <<'EOF'
import socket, sys, time
def talk(first):
    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    t0 = time.time()
    if first:
        c.sendall(b"EHLO early.example\r\n")
    data = b""
    while b"\n" not in data:
        data += c.recv(1000)
    el = time.time() - t0
    c.sendall(b"QUIT\r\n")
    while True:
        d = c.recv(1000)
        if not d:
            break
        data += d
    c.close()
    return data.decode().replace("\r\n", "|"), el
d1, e1 = talk(True)
d2, e2 = talk(False)
print(d1)
print(d2, "late" if e2 >= 0.9 else "early:%.2f" % e2)
EOF
)
  is "$res" "220 rblsmtpd.local|250 rblsmtpd.local|221 rblsmtpd.local|
220 real.example ESMTP|221 bye| late" "greeting delay: the early talker gets the refusing dialogue, the patient one prog after a second"
  stop_pid "$BGPID"
  like "$(cat "$T/greet.err")" 'deny 127\.0\.0\.1 pid [0-9]+ by pregreet: 451 talking before the greeting is not allowed: it sent "EHLO early\.example\?\?"' "the early talker is logged with what it sent"
else
  skip 6 "no tcpserver"
fi
TCPREMOTEIP=127.0.0.9 "$B/rblsmtpd" -w 1 -r bl.test echo ran </dev/null >"$T/o" 2>"$T/e"
is "$? $(out)" "0 " "greeting delay: a client that left is not served"
like "$(cat "$T/e")" "^rblsmtpd: end 127\.0\.0\.9 pid [0-9]+: the client left before the greeting$" "... and logged"
sl 127.0.0.3 '' -w 3 -a al.test echo ran
ok "an anti-listed client is not delayed ($el ms)" test "$el" -lt 2500

# ---- tagging
sl 127.0.0.2 '' -m RBLTAG -r bl.test sh -c 'echo "ran tag=$RBLTAG"'
is "$(out)" "ran tag=bl.test" "-m: a listed client is tagged with the list, prog runs"
like "$(cat "$T/e")" "^rblsmtpd: tag 127\.0\.0\.2 pid [0-9]+ by bl\.test: RBLTAG set$" "... and logged"
sl 127.0.0.9 '' -m RBLTAG -r bl.test sh -c 'echo "ran tag=${RBLTAG-unset}"'
is "$(out)" "ran tag=unset" "-m: an unlisted client is not tagged"
sl 127.0.0.9 'EHLO x\r\n' -m RBLTAG -w 1 -r bl.test sh -c 'echo "ran tag=$RBLTAG"; cat'
is "$(out)" "ran tag=pregreet
EHLO x^M" "-m with -w: a pregreeting client is tagged, and prog still reads what it sent"

# ---- prog inherits nothing of rblsmtpd: signal dispositions, signal mask, descriptors
# (prog's own fds, listed by ls as prog: a pipeline would race with the shell's pipe ends)
# (read by the shell itself: a grep child would see the shell mid-vfork, all signals blocked)
state='while read -r k v; do case $k in SigIgn:|SigBlk:) echo "$k $v" ;; esac; done < /proc/self/status; exec ls /proc/self/fd'
want=$(sh -c "$state" </dev/null)
# the same dispositions and fds; no signal blocked that was not blocked already (some
# harnesses start tests with signals blocked, and a shell may unblock them on its way)
same_state() {
  _wb=$(printf '%s\n' "$want" | sed -n 's/^SigBlk: //p'); _gb=$(out | sed -n 's/^SigBlk: //p')
  [ -n "$_gb" ] && [ $(( 0x$_gb & ~0x$_wb )) = 0 ] &&
    [ "$(out | grep -v '^SigBlk:')" = "$(printf '%s\n' "$want" | grep -v '^SigBlk:')" ] ||
    { diag "prog saw:" "$(out)" "given:" "$want"; return 1; }
}
sl 127.0.0.9 '' -T 2 -r bl.test -r silent.test sh -c "$state"
ok "prog (let through) sees the dispositions, mask and fds rblsmtpd was given" same_state
sl 127.0.0.2 '' -T 2 -m RBLTAG -r bl.test sh -c "$state"
ok "... also when tagged (-m)" same_state
ign=$(sh -c 'grep ^SigIgn /proc/$$/status' | cut -f2)
if [ $(( 0x$ign & 0x1000 )) = 0 ]; then
  sl 127.0.0.9 '' -r bl.test sh -c 'grep ^SigIgn /proc/$$/status' 
  ign=$(cut -f2 "$T/o")
  is "$(( 0x$ign & 0x1000 ))" 0 "SIGPIPE is not left ignored for prog"
else
  skip 1 "this shell ignores SIGPIPE already"
fi

# ---- TCPREMOTEIP missing or bad
printf '' | "$B/rblsmtpd" -r bl.test echo ran >"$T/o" 2>"$T/e"
is "$(out)" "ran" "no TCPREMOTEIP, -C: let through"
like "$(cat "$T/e")" "unable to parse TCPREMOTEIP" "... with a warning"
sl 'not an ip' '' -t0 -c -r bl.test echo ran
is "$(out)" "451 temporary RBL lookup error^M" "bad TCPREMOTEIP, -c: temporary refusal"

# ---- usage and errors
sl 127.0.0.2 '' -r bl.test
is "$rc" 100 "no prog: exit 100"
like "$(cat "$T/e")" "^rblsmtpd: usage: rblsmtpd " "... with the usage line"
sl 127.0.0.2 '' -t 1x echo
is "$rc" 100 "-t with a bad number: exit 100"
sl 127.0.0.2 '' -T 0 echo
is "$rc" 100 "-T 0: exit 100"
sl 127.0.0.2 '' -r 'a..b' echo
is "$rc $(cat "$T/e")" "100 rblsmtpd: fatal: invalid list name: a..b" "a malformed list name: exit 100"
# a list name spelled with \ddd escapes: its text is 4 times its wire form
esc=$(python3 -c 'b=chr(92)+"097"; print(".".join([b*63, b*63, b*60]))')
sl 127.0.0.9 '' -T 2 -r "$esc" echo ran
is "$rc $(out)" "0 ran" "a 746-byte escaped list name (190 bytes on the wire): looked up, no overflow"
sl 127.0.0.2 '' -r 'bl.test=127.0.0.2-127.0.0.1' echo
is "$rc" 100 "a backwards code range: exit 100"
sl 127.0.0.2 '' -r 'bl.test=127.0.0' echo
is "$rc" 100 "a malformed code: exit 100"
DNSCACHEIP=127.0.0.1:0 sl 127.0.0.2 '' -r bl.test echo ran
is "$rc $(out)" "111 " "a malformed DNSCACHEIP: exit 111, no fallback, prog not run"
like "$(cat "$T/e")" "fatal: unable to find the DNS server" "... with a clear error"
sl 127.0.0.9 '' -r bl.test "$T/nonexistent"
is "$rc" 111 "prog that cannot be run: exit 111"

# ---- byte for byte against Debian's rblsmtpd 0.88 (where 0.88 defines the behaviour)
# cmpc DESC ENV IP INPUT ARGS...: both with the same environment, input and arguments.
cmpc() {
  _d=$1; _env=$2; _ip=$3; _in=$4; shift 4
  printf "$_in" | env $_env TCPREMOTEIP="$_ip" "$B/rblsmtpd" "$@" >"$T/o1" 2>/dev/null; _r1=$?
  printf "$_in" | env $_env TCPREMOTEIP="$_ip" /usr/bin/rblsmtpd "$@" >"$T/o2" 2>/dev/null; _r2=$?
  if cmp -s "$T/o1" "$T/o2" && [ $_r1 = $_r2 ] && [ -s "$T/o1" ]; then _pass "same as 0.88: $_d"
  else _fail "same as 0.88: $_d"; diag "sluice (exit $_r1):" "$(cat -v "$T/o1")" "0.88 (exit $_r2):" "$(cat -v "$T/o2")"; fi
}
if [ $CLASSIC = 1 ]; then
  cmpc "listed, pipelined dialogue" X=1 127.0.0.2 "$in" -r bl.test echo ran
  cmpc "-b" X=1 127.0.0.2 "$in" -b -r bl.test echo ran
  cmpc "-b after -r" X=1 127.0.0.2 "$in" -r bl.test -b echo ran
  cmpc "-t 0" X=1 127.0.0.2 "$in" -t 0 -r bl.test echo ran
  cmpc "unlisted" X=1 127.0.0.9 "$in" -r bl.test echo ran
  cmpc "anti-list first" X=1 127.0.0.3 "$in" -a al.test -r bl.test echo ran
  cmpc "list first" X=1 127.0.0.3 "$in" -r bl.test -a al.test echo ran
  cmpc "NXDOMAIN list then listed" X=1 127.0.0.2 "$in" -r al.test -r bl.test echo ran
  cmpc "RBLSMTPD empty" RBLSMTPD= 127.0.0.2 "$in" -r bl.test echo ran
  cmpc "RBLSMTPD=-text" "RBLSMTPD=-No.way" 127.0.0.9 "$in" echo ran
  cmpc "RBLSMTPD=text" "RBLSMTPD=Later" 127.0.0.9 "$in" -b echo ran
  cmpc "control bytes in the text" "RBLSMTPD=$(printf 'a\001b\177c')" 127.0.0.9 'rcpt\r\n' echo ran
  cmpc "text cut at 200" "RBLSMTPD=$long" 127.0.0.9 'rcpt\r\nquit\r\n' echo ran
  cmpc "LF-only lines, no QUIT" X=1 127.0.0.2 'helo\nmail\nrcpt\ndata\n.\n' -r bl.test echo ran
else
  skip 14 "Debian's rblsmtpd needs a DNS server on port 53 (root)"
fi
