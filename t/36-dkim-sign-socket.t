#!/bin/sh
# dkim-sign -d: the signing filter as a service on a unix socket. smtpd (tcpsrv, swaks and
# python's smtplib as clients) hands messages to it with QMAILQUEUESOCK, starting no process;
# the filter signs (RSA-2048 and Ed25519) and hands over to queue-injectd; smtpd says the
# queue ID queue-injectd gave. Signatures verified by python's dkim and by opendkim-testmsg;
# concurrent clients; a message bigger than what is kept in memory; a key replaced while the
# service runs; a damaged key, a message too big, the service down (451; its program mode
# when QMAILQUEUE is set), a client that drops mid-message and a worker killed mid-message:
# nothing queued; the service stops on SIGTERM; bad usage.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
. "$(dirname "$0")/dkim-lib.sh"
"$PY" -c 'import dkim' 2>/dev/null || skip_all "python3-dkim not installed"
command -v swaks >/dev/null || skip_all "swaks not installed"
plan 49

q_init
"$B/dkim-sign" -g example.com r1 > "$T/r1.txt"
"$B/dkim-sign" -g -t ed25519 example.com e1 > "$T/e1.txt"
start_bg "$B/queue-injectd" 2>>"$T/inject.log"
wait_for 5 test -S "$Q/inject"
K=$T/dkim.sock
start_bg "$B/dkim-sign" -d "$K" -c 2 2>>"$T/dkim.log"
DPID=$BGPID
wait_for 5 test -S "$K"
is "$(stat -c %a "$K")" 600 "the socket, mode 0600 by default"

P=$(free_port)
start_bg env QMAILQUEUESOCK="$K" RELAYCLIENT= "$B/tcpsrv" -H -R 127.0.0.1 "$P" "$B/smtpd" 2>>"$T/smtpd.log"
wait_listen "$P"
# send FROM-DOMAIN SUBJECT [SWAKS-OPTS]: through smtpd; swaks' transcript in $T/sw, the queue
# ID smtpd gave in $ID, the message queued in $T/q.msg
send() {
  _d=$1 _s=$2; shift 2
  printf 'From: Joe <joe@%s>\nTo: bob@example.org\nSubject: %s\nDate: Wed, 2 Dec 2026 01:00:00 +0000\nMessage-ID: <%s@example.com>\n\nline 1\n\nline 3\n' "$_d" "$_s" "$_s" > "$T/m"
  swaks --server 127.0.0.1 --port "${SPORT:-$P}" --from "joe@$_d" --to bob@example.org --helo client.example \
    --data "@$T/m" --timeout 30 "$@" > "$T/sw" 2>&1
  ID=$(sed -n 's/^<- *250 2\.0\.0 ok queued as \([0-9.]*\)\r*$/\1/p' "$T/sw" | tail -1)
  rm -f "$T/q.msg"
  [ -n "$ID" ] && [ -f "$Q/todo/$ID" ] && qmsg "$Q/todo/$ID" > "$T/q.msg"
}
todo() { ls "$Q/todo" | wc -l | tr -d ' '; }

# --- signed on the way through ---------------------------------------------------------------
send example.com first
like "$(cat "$T/sw")" '<- +250 2\.0\.0 ok queued as [0-9]+\.[0-9]+\.[0-9]+' "smtpd says the queue ID queue-injectd gave"
ok "that message is in todo/" test -s "$T/q.msg"
is "$(grep -c '^DKIM-Signature:' "$T/q.msg")" 2 "signed twice (RSA and Ed25519)"
is "$($DT verify "$T/q.msg" "$T/r1.txt" "$T/e1.txt" | tr '\n' ' ')" "pass pass " "python's dkim verifies both signatures"
like "$(cat "$T/q.msg")" 'Received: from client\.example' "smtpd's own Received: line kept"
unlike "$(cat "$T/q.msg")" 'invoked by uid' "and no local one: the network flag went through the filter"
cp "$T/q.msg" "$T/first.msg"
ok "the envelope is the client's" sh -c "grep -a -q 'Fjoe@example.com.Tbob@example.org' '$Q/todo/$ID'"
send nokey.example second
is "$(grep -c '^DKIM-Signature:' "$T/q.msg")" 0 "a domain without a key: queued unsigned"

# opendkim-testmsg asks /etc/resolv.conf's server: a network namespace of its own (see t/33)
if [ "$(id -u)" = 0 ] && command -v opendkim-testmsg >/dev/null && command -v dnsmasq >/dev/null \
   && unshare -n -m true 2>/dev/null; then
  $DT dnsmasq "$T/r1.txt" "$T/e1.txt" > "$T/dns.conf"
  echo 'nameserver 127.0.0.1' > "$T/resolv.conf"
  sed 's/^line 3$/line 3!/' "$T/first.msg" > "$T/bad.msg"
  cat > "$T/ns.sh" <<EOF2
ip link set lo up && mount --bind "$T/resolv.conf" /etc/resolv.conf || exit 1
dnsmasq -C "$T/dns.conf" --pid-file="$T/dm.pid" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts || exit 1
for i in 1 2 3 4 5 6 7 8 9 10; do [ -s "$T/dm.pid" ] && break; sleep 0.1; done
for f in first bad; do opendkim-testmsg < "$T/\$f.msg" > "$T/\$f.ot" 2>&1; echo "\$f \$?"; done
kill \$(cat "$T/dm.pid")
EOF2
  unshare -n -m sh "$T/ns.sh" > "$T/ot" 2>&1
  like "$(cat "$T/ot")" '^first 0$' "opendkim-testmsg verifies the message queued through the service"
  like "$(cat "$T/ot")" '^bad [1-9]' "and fails it once its body is changed"
else
  skip 2 "opendkim-testmsg needs root, unshare and dnsmasq"
fi

# --- several clients at once, more than there are workers ------------------------------------
printf 'From: joe@example.com\nTo: bob@example.org\nSubject: parallel\n\nbody\n' > "$T/pm"
"$PY" - "$P" "$T/pm" > "$T/par" 2>&1 <<'EOF2'
import smtplib, sys, threading
port, msg = int(sys.argv[1]), open(sys.argv[2], "rb").read().replace(b"\n", b"\r\n")
res = []
def one(i):
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.sendmail("joe@example.com", ["bob@example.org"], msg)
        s.quit()
        res.append("ok")
    except Exception as e:
        res.append(repr(e))
ts = [threading.Thread(target=one, args=(i,)) for i in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print(" ".join(sorted(res)))
EOF2
is "$(cat "$T/par")" "ok ok ok ok ok ok ok ok" "8 smtplib clients at once, 2 workers: every message accepted"
is "$(grep -l '^Subject: parallel' "$Q/todo/"* | xargs grep -c '^DKIM-Signature:' | grep -c ':2$')" 8 "and all 8 queued and signed"

# --- a message bigger than what a worker keeps in memory (1 MiB): a temporary file -----------
{ printf 'From: joe@example.com\nTo: bob@example.org\nSubject: big\n\n'
  "$PY" -c 'import sys; sys.stdout.write(("y" * 70 + "\n") * 40000)'; } > "$T/big"
swaks --server 127.0.0.1 --port "$P" --from joe@example.com --to bob@example.org --data "@$T/big" --timeout 60 > "$T/sw" 2>&1
ID=$(sed -n 's/^<- *250 2\.0\.0 ok queued as \([0-9.]*\)\r*$/\1/p' "$T/sw" | tail -1)
qmsg "$Q/todo/$ID" > "$T/q.msg" 2>/dev/null
is "$($DT verify "$T/q.msg" "$T/r1.txt" "$T/e1.txt" | tr '\n' ' ')" "pass pass " "a 2.8 MB message: signed, both signatures verify"

# --- keys read as they are: one replaced while the service runs --------------------------------
rm "$S/control/dkim/example.com/r1.rsa"
"$B/dkim-sign" -g example.com r1 > "$T/r1new.txt"
send example.com rekeyed
is "$($DT verify "$T/q.msg" "$T/r1new.txt" "$T/e1.txt" | tr '\n' ' ')" "pass pass " "a key replaced while the service runs: the new key signs, no restart"
like "$($DT verify "$T/q.msg" "$T/r1.txt" "$T/e1.txt" | tr '\n' ' ')" "fail" "(the old key's record no longer verifies)"

# --- control/dkimpolicy: what an authenticated user gets signed (AUTHUSER, from smtpd) ---------
q_user joe@example.com
"$B/dkim-sign" -g other.example o1 > "$T/o1.txt"
PA=$(free_port)
start_bg env QMAILQUEUESOCK="$K" REQUIREAUTH=1 "$B/tcpsrv" -H -R 127.0.0.1 "$PA" \
  "$B/smtpd" "$B/auth-check" -n true 2>>"$T/smtpd.log"
wait_listen "$PA"
AUTH="--auth PLAIN --auth-user joe@example.com --auth-password secret"
SPORT=$PA send other.example pol-any $AUTH
is "$($DT verify "$T/q.msg" "$T/o1.txt" | tr '\n' ' ')" "pass " "no control/dkimpolicy (any): joe@example.com's message From: other.example is signed for other.example"
echo own > "$S/control/dkimpolicy"
SPORT=$PA send other.example pol-own $AUTH
like "$(cat "$T/sw")" '<- +250 2\.0\.0 ok queued as' "own: joe@example.com's message From: other.example is queued"
is "$(grep -c '^DKIM-Signature:' "$T/q.msg")" 0 "unsigned"
like "$(cat "$T/dkim.log")" 'not signed: From: domain other\.example is not that of the authenticated user joe@example\.com' "and the service says why"
SPORT=$PA send example.com pol-own2 $AUTH
is "$($DT verify "$T/q.msg" "$T/r1new.txt" "$T/e1.txt" | tr '\n' ' ')" "pass pass " "own: From: the user's own domain is signed"
echo refuse > "$S/control/dkimpolicy"
n=$(todo)
SPORT=$PA send other.example pol-refuse $AUTH
like "$(cat "$T/sw")" "<\*\* +554 5\.3\.0 queue failure: the From: domain is not the authenticated user.s: not signed, not sent \(#31\)" "refuse: From: another domain with keys is refused with 554 and the reason"
is "$(todo)" "$n" "nothing queued"
SPORT=$PA send nokey.example pol-nokey $AUTH
like "$(cat "$T/sw")" '<- +250 2\.0\.0 ok queued as' "refuse: From: a domain without keys here goes through (nothing to sign)"
send other.example pol-noauth
is "$($DT verify "$T/q.msg" "$T/o1.txt" | tr '\n' ' ')" "pass " "refuse: a client that did not authenticate (RELAYCLIENT) is signed for as before"
echo Refuse > "$S/control/dkimpolicy"
SPORT=$PA send other.example pol-bad $AUTH
like "$(cat "$T/sw")" '<\*\* +451 4\.3\.0 .*\(#55\)' "a control/dkimpolicy that says something else: 451 (55)"
like "$(cat "$T/dkim.log")" 'control/dkimpolicy: line 1: Refuse: not any, own or refuse' "naming the file, the line and the value"
rm "$S/control/dkimpolicy"
# AUTHUSER for the queue program: set by a successful AUTH only, never taken from the start
# environment
printf '#!/bin/sh\nprintf "%%s" "${AUTHUSER-unset}" > "$0.user"; cat >/dev/null; cat <&1 >/dev/null\n' > "$T/envcap"
chmod +x "$T/envcap"
PE=$(free_port)
start_bg env AUTHUSER=forged@example.com RELAYCLIENT= QMAILQUEUE="$T/envcap" "$B/tcpsrv" -H -R 127.0.0.1 "$PE" \
  "$B/smtpd" "$B/auth-check" -n true 2>>"$T/smtpd.log"
wait_listen "$PE"
SPORT=$PE send example.com env-noauth
is "$(cat "$T/envcap.user")" unset "smtpd without AUTH: no AUTHUSER for the queue program (one in its start environment dropped)"
SPORT=$PE send example.com env-auth $AUTH
is "$(cat "$T/envcap.user")" joe@example.com "after AUTH: AUTHUSER is the login"

# --- failures: nothing queued -----------------------------------------------------------------
mkdir -p "$S/control/dkim/broken.example"
echo garbage > "$S/control/dkim/broken.example/b.rsa"
n=$(todo)
send broken.example broken
like "$(cat "$T/sw")" '<\*\* +451 4\.3\.0 queue failure: .*\(#81\)' "a damaged key: 451 (81), the client retries"
is "$(todo)" "$n" "nothing queued"
chmod 000 "$S/control/dkim/broken.example/b.rsa"; mv "$S/control/dkim/broken.example/b.rsa" "$S/control/dkim/broken.example/c.rsa"
if [ "$(id -u)" != 0 ]; then
  send broken.example unreadable
  like "$(cat "$T/sw")" '<\*\* +451 4\.3\.0 .*\(#55\)' "a key that cannot be read: 451 (55)"
else
  ln -s "$T/nowhere" "$S/control/dkim/broken.example/d.ed25519"; rm -f "$S/control/dkim/broken.example/c.rsa"
  send broken.example unreadable
  like "$(cat "$T/sw")" '<\*\* +451 4\.3\.0 .*\(#55\)' "a key that cannot be read: 451 (55)"
fi
is "$(todo)" "$n" "nothing queued"

# a message too big for -b: 554 (31), read to its end
K2=$T/small.sock
start_bg "$B/dkim-sign" -d "$K2" -b 2000 -c 1 2>>"$T/dkim.log"
SPID=$BGPID
wait_for 5 test -S "$K2"
P2=$(free_port)
start_bg env QMAILQUEUESOCK="$K2" RELAYCLIENT= "$B/tcpsrv" -H -R 127.0.0.1 "$P2" "$B/smtpd" 2>>"$T/smtpd.log"
wait_listen "$P2"
swaks --server 127.0.0.1 --port "$P2" --from joe@example.com --to bob@example.org --data "@$T/big" --timeout 60 > "$T/sw" 2>&1
like "$(cat "$T/sw")" '<\*\* +554 5\.3\.0 .*\(#31\)' "a message over -b bytes: 554 (31)"
is "$(todo)" "$n" "nothing queued"
swaks --server 127.0.0.1 --port "$P2" --from joe@example.com --to bob@example.org --data "@$T/pm" --timeout 30 > "$T/sw" 2>&1
like "$(cat "$T/sw")" '<- +250 2\.0\.0 ok queued as' "a small one through the same service: queued"
n=$(todo)

# a client that drops mid-message; a worker killed mid-message
printf 'From: joe@example.com\nSubject: dropped\n\n%s\n' "$("$PY" -c 'print("z" * 5000)')" > "$T/m"
is "$(qsend "$K" drop)" "" "a client that closes mid-message"
sleep 0.3
is "$(todo)" "$n" "nothing queued"
rm -f "$T/go"
T=$T qsend "$K2" hold > "$T/held" &
HPID=$!
wait_for 5 sh -c "ps -o pid= --ppid $SPID | grep -q ."
W=$(ps -o pid= --ppid "$SPID" | tr -d ' ')
sleep 0.3
kill -KILL $W
touch "$T/go"
wait "$HPID"
is "$(cat "$T/held")" "" "a worker killed mid-message: its client gets no answer (smtpd: 451)"
is "$(todo)" "$n" "nothing queued"
like "$(cat "$T/dkim.log")" "worker $W was killed by a signal" "the service says so"
wait_for 5 sh -c "ps -o pid= --ppid $SPID | grep -q ."
swaks --server 127.0.0.1 --port "$P2" --from joe@example.com --to bob@example.org --data "@$T/pm" --timeout 30 > "$T/sw" 2>&1
like "$(cat "$T/sw")" '<- +250 2\.0\.0 ok queued as' "another worker takes the next message"

# --- the service down -----------------------------------------------------------------------
stop_pid "$SPID"
ok "SIGTERM stops the service" sh -c "! kill -0 $SPID 2>/dev/null"
n=$(todo)
swaks --server 127.0.0.1 --port "$P2" --from joe@example.com --to bob@example.org --data "@$T/pm" --timeout 30 > "$T/sw" 2>&1
like "$(cat "$T/sw")" '<\*\* +451 4\.3\.0 unable to start the queue program' "the service down: 451, the client retries"
is "$(todo)" "$n" "nothing queued unsigned behind its back"
P3=$(free_port)
start_bg env QMAILQUEUESOCK="$K2" QMAILQUEUE="$B/dkim-sign" RELAYCLIENT= "$B/tcpsrv" -H -R 127.0.0.1 "$P3" "$B/smtpd" 2>>"$T/smtpd.log"
wait_listen "$P3"
SPORT=$P3 send example.com fallback
f=$(grep -l '^Subject: fallback' "$Q/todo/"* | head -1)
is "$(grep -c '^DKIM-Signature:' "$f" 2>/dev/null)" 2 "down, with QMAILQUEUE=dkim-sign too: the program signs it instead"

# --- usage ------------------------------------------------------------------------------------
is_rc 100 "-c 0: bad usage" "$B/dkim-sign" -d "$T/x.sock" -c 0
is_rc 100 "-d with -g: bad usage" "$B/dkim-sign" -d "$T/x.sock" -g example.com s
is_rc 100 "NEXTQUEUESOCK naming the service's own socket: refused" env NEXTQUEUESOCK="$T/x.sock" "$B/dkim-sign" -d "$T/x.sock"
