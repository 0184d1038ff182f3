#!/bin/sh
# queue-run with queue-spawn and queue-local: routing to virtual users (user, user-ext with
# and without its own .qmail, alias, forward, keep, catch-all, postmaster), deliveries as the
# domain's owner, .qmail chains that defer and are retried once done, bounces (DSN) to a local
# sender, bounces of bounces, the null sender, over-quota until the lifetime ends,
# concurrency limits, a damaged queue file, remote recipients without remote deliveries,
# queue-list, and SIGTERM waiting for running deliveries.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue-lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root: deliveries run as the domain's owner"
plan 71
q_init
for u in alice bob carol dave; do q_user $u@example.com; done
echo 'secret' | "$B/mail-user" adduser -q 3000 small@example.com >/dev/null
"$B/mail-user" forward list@example.com alice@example.com bob@example.com >/dev/null
"$B/mail-user" forward -k carol@example.com dave@example.com >/dev/null
H=$S/domains/example.com
# system users, seen by queue-spawn alone (a passwd file bind-mounted in its namespace)
QPASSWD=$T/passwd
printf 'root:x:0:0:root:/root:/bin/sh\nalias:x:4245:4245:alias:%s/alias:/bin/false\nsysuser:x:4246:4246:sys:%s/sysuser:/bin/sh\n' "$T" "$T" > "$QPASSWD"
for u in alias:4245 sysuser:4246; do
  mkdir -p "$T/${u%:*}/Maildir/new" "$T/${u%:*}/Maildir/cur" "$T/${u%:*}/Maildir/tmp"
  chown -R ${u#*:}:${u#*:} "$T/${u%:*}"
  chmod 755 "$T/${u%:*}"
done
printf './Maildir/\n' > "$T/alias/.qmail-postmaster"
chown 4245 "$T/alias/.qmail-postmaster"
sysnew() { ls "$T/$1/Maildir/new" | wc -l | tr -d ' '; }
two() { echo "$(maildir_count "$1"):$(maildir_count "$2")"; }
extcount() { ls "$H/bob/Maildir/.ext/new" | wc -l | tr -d ' '; }
seen() { wc -l < "$T/seen" | tr -d ' '; }
msg() { printf 'From: %s\nTo: %s\nSubject: %s\n\nbody of %s\n' "$1" "$2" "$3" "$3"; }
newest() { ls -t "$H/$1/Maildir/new" | head -1; }
q_start -c 20

# a user: delivered, as the domain's owner, with Return-Path and Delivered-To on top
msg x@example.net alice@example.com one | inject x@example.net alice@example.com
ok "a message to a user: delivered" wait_eq 10 1 maildir_count alice@example.com
f=$H/alice/Maildir/new/$(newest alice)
is "$(head -2 "$f")" "Return-Path: <x@example.net>
Delivered-To: alice@example.com" "Return-Path and Delivered-To on top"
is "$(tail -n +4 "$f")" "$(msg x@example.net alice@example.com one)" "then the message as injected, after the Received: line"
is "$(stat -c %u:%g "$f")" "$OWNER:$OWNER" "the file belongs to the domain's owner"
ok "the log: new msg, info, starting delivery, success, end msg" wait_log 5 '^end msg '
like "$(grep -E '^(new msg|info msg|starting delivery|delivery 1|end msg)' "$T/queue.log" | cut -d' ' -f1-2 | tr '\n' ' ')" \
  '^new msg info msg starting delivery delivery 1: end msg $' "in that order"
like "$(grep '^info msg' "$T/queue.log")" '^info msg [0-9.]+: bytes [0-9]+ from <x@example\.net> qp [0-9]+ uid 0$' "info msg: size, sender, qp, uid"
like "$(grep '^delivery 1:' "$T/queue.log")" '^delivery 1: success: did 1\+0\+0$' "delivery 1: success"
ok "the queue is empty again" q_empty

# user-ext: the user's .qmail-ext when there is one, else the user's own delivery
printf './Maildir/.ext/\n' > "$H/bob/.qmail-lists"
mkdir -p "$H/bob/Maildir/.ext/new" "$H/bob/Maildir/.ext/cur" "$H/bob/Maildir/.ext/tmp"
chown -R $OWNER:$OWNER "$H/bob/.qmail-lists" "$H/bob/Maildir/.ext"
chmod 644 "$H/bob/.qmail-lists"
msg x@example.net bob-lists@example.com ext | inject x@example.net bob-lists@example.com
ok "bob-lists: bob's .qmail-lists" wait_eq 10 1 extcount
msg x@example.net bob-other@example.com noext | inject x@example.net Bob-Other@Example.COM
ok "bob-other (no .qmail-other), any case: bob's Maildir" wait_eq 10 1 maildir_count bob@example.com
like "$(grep -i '^Delivered-To' "$H/bob/Maildir/new/$(newest bob)")" 'Delivered-To: bob-other@example.com' "Delivered-To names the address as addressed, lowercase"

# aliases and forwards of the database
msg x@example.net list@example.com fwd | inject x@example.net list@example.com
ok "an alias: forwarded to both its addresses" wait_eq 10 2:2 two alice@example.com bob@example.com
like "$(cat "$H/alice/Maildir/new/$(newest alice)")" 'Delivered-To: list@example.com' "the forwarded copy carries the alias's Delivered-To"
msg x@example.net carol@example.com keep | inject x@example.net carol@example.com
ok "a forward with keep: a copy for carol and one for dave" wait_eq 10 1:1 two carol@example.com dave@example.com

# unknown users: a DSN to the sender (a local user here), one per message for all its failures
msg alice@example.com 'nobody, noone' unknown | inject alice@example.com nobody@example.com noone@example.com
ok "unknown users: a bounce comes back to the sender" wait_eq 10 3 maildir_count alice@example.com
b=$H/alice/Maildir/new/$(newest alice)
python3 - "$b" > "$T/dsn" <<'EOF'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
print(m.get_content_type(), m.get_param("report-type"), m["Return-Path"], m["Auto-Submitted"])
parts = m.get_payload()
print(len(parts), parts[0].get_content_type(), parts[1].get_content_type(), parts[2].get_content_type())
for r in parts[1].get_payload()[1:]:
    print(r["Final-Recipient"], r["Action"], r["Status"], r["Diagnostic-Code"])
print(parts[2].get_payload()[0]["Subject"])
EOF
is "$(sed -n 1,2p "$T/dsn")" "multipart/report delivery-status <> auto-replied
3 text/plain message/delivery-status message/rfc822" "an RFC 3464 report from the null sender: text, delivery-status, the original"
is "$(sed -n 3,4p "$T/dsn")" "rfc822; nobody@example.com failed 5.1.1 X-Sluice; no mailbox here by that name (#5.1.1)
rfc822; noone@example.com failed 5.1.1 X-Sluice; no mailbox here by that name (#5.1.1)" "both failures in one notice, with status and reason"
is "$(sed -n 5p "$T/dsn")" "unknown" "and the original message"
is "$(grep -c '^bounce msg' "$T/queue.log")" 1 "one bounce for the message"

# system users of control/locals (qmail-getpw's rules), and postmaster of every domain
msg x@example.net sysuser@mx.test.example sys | inject x@example.net SysUser@mx.test.example
ok "a system user of control/locals: its ~/Maildir/" wait_eq 10 1 sysnew sysuser
is "$(stat -c %u "$T/sysuser/Maildir/new/$(ls "$T/sysuser/Maildir/new")")" 4246 "delivered as that user"
msg x@example.net postmaster@example.com pm | inject x@example.net postmaster@example.com
ok "postmaster of a virtual domain without such a user: the system's (~alias/.qmail-postmaster)" wait_eq 10 1 sysnew alias
is "$(stat -c %u "$T/alias/Maildir/new/$(ls "$T/alias/Maildir/new")")" 4245 "delivered as alias"
msg x@example.net root@mx.test.example root | inject '' root@mx.test.example
ok "root@ a local domain: never delivered as root (alias has no .qmail-root: bounced)" wait_log 10 'delivery [0-9]+: failure: no mailbox here by that name'
ok "the queue is empty" wait_for 10 q_empty

# the catch-all of the domain
"$B/mail-user" catchall example.com dave@example.com >/dev/null
msg x@example.net whoever@example.com ca | inject x@example.net whoever@example.com
ok "an unknown user with a catch-all: to the catch-all" wait_eq 10 2 maildir_count dave@example.com
like "$(cat "$H/dave/Maildir/new/$(newest dave)")" 'Delivered-To: whoever@example.com' "with the address as addressed"
"$B/mail-user" catchall example.com none >/dev/null

# a .qmail chain that defers part-way: retried (SIGALRM), the steps done are not done again
printf './Maildir/\n|test -e %s/go || exit 111\n./Maildir/.ext/\n' "$T" > "$H/bob/.qmail-chain"
chown $OWNER "$H/bob/.qmail-chain"; chmod 644 "$H/bob/.qmail-chain"
before=$(maildir_count bob@example.com)
msg x@example.net bob-chain@example.com chain | inject x@example.net bob-chain@example.com
ok "a chain that defers at its 2nd line: deferred" wait_log 10 'deferral: .*qmail-chain line 2: the program failed temporarily \(exit 111\)'
is "$(maildir_count bob@example.com)" $((before + 1)) "its first line was done"
like "$("$B/queue-list")" 'bob-chain@example.com	deferred \(1 try, next ' "queue-list shows it deferred"
# a deferral before any step (the user is editing .qmail: sticky home) keeps the count of
# the steps done by the first attempt
chmod +t "$H/bob"
kill -ALRM "$RUNPID"
ok "a sticky home: deferred again, before any step" wait_log 10 'deferral: the home directory is sticky'
chmod -t "$H/bob"
touch "$T/go"
kill -ALRM "$RUNPID"
ok "after SIGALRM it is retried and delivered" wait_eq 10 2 extcount
is "$(maildir_count bob@example.com)" $((before + 1)) "the first line was not done again"
ok "the queue is empty" wait_for 5 q_empty

# a chain that bounces: the DSN has the reason
printf '|echo no thanks >&2; exit 100\n' > "$H/bob/.qmail-no"
chown $OWNER "$H/bob/.qmail-no"; chmod 644 "$H/bob/.qmail-no"
n=$(maildir_count alice@example.com)
msg alice@example.com bob-no@example.com refused | inject alice@example.com bob-no@example.com
ok "a program that exits 100: a bounce to the sender" wait_eq 10 $((n + 1)) maildir_count alice@example.com
like "$(cat "$H/alice/Maildir/new/$(newest alice)")" 'qmail-no line 1: the program failed permanently \(exit 100\)' "saying why"

# the null sender: a failing bounce goes to the postmaster as a double bounce; a double bounce
# that fails is dropped with a log line
echo dave > "$S/control/doublebounceto"
echo example.com > "$S/control/doublebouncehost"
kill -HUP "$RUNPID"
sleep 0.5
n=$(maildir_count dave@example.com)
msg '' nobody@example.com bb | inject '' nobody@example.com
ok "a bounce that fails: a double bounce to doublebounceto@doublebouncehost" wait_eq 10 $((n + 1)) maildir_count dave@example.com
like "$(grep -i '^Return-Path' "$H/dave/Maildir/new/$(newest dave)")" '^Return-Path: <#@\[\]>' "from #@[]"
msg '#@[]' nobody@example.com bbb | inject '#@[]' nobody@example.com
ok "a double bounce that fails: discarded" wait_log 10 'bounce msg .*: double bounce discarded'
is "$(maildir_count dave@example.com)" $((n + 1)) "nothing more for the postmaster"
ok "the queue is empty" wait_for 5 q_empty

# over quota: deferred, then bounced once the lifetime is over
printf 'Subject: filler\n\n%s\n' "$(head -c 2800 /dev/zero | tr '\0' f)" | inject x@example.net small@example.com
ok "a first message fills small's quota" wait_eq 10 1 maildir_count small@example.com
n=$(maildir_count alice@example.com)
msg alice@example.com small@example.com toomuch | inject alice@example.com small@example.com
ok "over quota: deferred" wait_log 10 'deferral: .*mailbox is full'
is "$(maildir_count alice@example.com)" "$n" "no bounce yet"
echo 1 > "$S/control/queuelifetime"
kill -HUP "$RUNPID"
sleep 2
kill -ALRM "$RUNPID"
ok "after the lifetime: bounced" wait_eq 10 $((n + 1)) maildir_count alice@example.com
like "$(cat "$H/alice/Maildir/new/$(newest alice)")" 'mailbox is full .* in the queue too long' "saying both"
rm -f "$S/control/queuelifetime"
kill -HUP "$RUNPID"

# remote recipients, with no user for remote deliveries: deferred, saying why
msg alice@example.com far@remote.example remote | inject alice@example.com far@remote.example
ok "a remote recipient without queue-spawn -r: deferred with the reason" wait_log 10 'deferral: no user for remote deliveries: queue-spawn needs -r'
like "$("$B/queue-list")" 'remote	far@remote\.example	deferred' "queue-list: remote, deferred"
is "$("$B/queue-list" -s)" "messages in queue: 1
messages in queue but not yet processed: 0" "queue-list -s counts it"
like "$("$B/queue-list" -j | python3 -c 'import json,sys; m = json.load(sys.stdin)[0]; r = m["recipients"][0]; print(m["sender"], r["address"], r["route"], r["state"], r["tries"])')" \
  '^alice@example.com far@remote.example remote deferred 1$' "queue-list -j, parsed by python"

# a delay warning, once, when control/delaywarning asks for one
n=$(maildir_count alice@example.com)
echo 1 > "$S/control/delaywarning"
kill -HUP "$RUNPID"
sleep 1.2
kill -ALRM "$RUNPID"
ok "control/delaywarning: a still-deferred message gets a delay warning" wait_eq 10 $((n + 1)) maildir_count alice@example.com
f=$H/alice/Maildir/new/$(newest alice)
like "$(grep -E '^(Subject|Action|Status):' "$f" | head -3 | tr '\n' ' ')" '^Subject: Delayed mail \(still being retried\) Action: delayed Status: 4\.3\.0 $' "a DSN with Action: delayed and the deferral's status"
kill -ALRM "$RUNPID"
wait_log 10 'delivery [0-9]+: deferral: no user for remote.*' 
sleep 1
is "$(maildir_count alice@example.com)" $((n + 1)) "only once"
rm -f "$S/control/delaywarning"
kill -HUP "$RUNPID"

# a damaged queue file is put aside, not retried for ever
id=9999999999.000001.1
printf 'garbage' > "$Q/todo/$id"
echo > "$Q/trigger"
ok "a damaged file in todo/: moved to queue/bad/" wait_for 10 test -e "$Q/bad/$id"
like "$(grep "msg $id" "$T/queue.log")" 'not a sluice-queue 1 file: moved to queue/bad/' "with a warning"

# concurrency: no more than control/concurrencylocal deliveries at once
q_stop
echo 2 > "$S/control/concurrencylocal"
printf '|mkdir %s/run.$$ 2>/dev/null; ls -d %s/run.* | wc -l >> %s/seen; sleep 1; rmdir %s/run.$$\n./Maildir/\n' "$T" "$T" "$T" "$T" > "$H/dave/.qmail-slow"
chown $OWNER "$H/dave/.qmail-slow"; chmod 644 "$H/dave/.qmail-slow"
chmod 777 "$T"
q_start
for i in 1 2 3 4 5 6; do msg x@example.net dave-slow@example.com slow$i | inject x@example.net dave-slow@example.com; done
ok "six slow deliveries" wait_eq 20 6 seen
is "$(sort -n "$T/seen" | tail -1)" 2 "never more than 2 at once (concurrencylocal)"
like "$(grep -c '^status: local 2/2' "$T/queue.log")" '^[1-9]' "the status lines say 2/2"

# SIGTERM: queue-run waits for the running deliveries, then exits
wait_for 10 q_empty
printf '|sleep 2\n./Maildir/\n' > "$H/dave/.qmail-slower"
chown $OWNER "$H/dave/.qmail-slower"; chmod 644 "$H/dave/.qmail-slower"
n=$(maildir_count dave@example.com)
msg x@example.net dave-slower@example.com term | inject x@example.net dave-slower@example.com
wait_log 10 'to local dave-slower'
helper=$(pgrep -P "$RUNPID" queue-spawn | head -1)
kill -TERM "$RUNPID"
sleep 0.5
ok "SIGTERM with a delivery running: queue-run waits" kill -0 "$RUNPID"
ok "and exits once it is done" wait_for 10 gone "$RUNPID"
is "$(maildir_count dave@example.com)" $((n + 1)) "the running delivery was finished and recorded"
unlike "$("$B/queue-list")" 'dave-slower' "and it is no longer in the queue"
wait "$RUNPID" 2>/dev/null
is "$?" 0 "queue-run exited 0"
ok "queue-spawn's helper and its workers are gone too" wait_for 5 sh -c "! kill -0 ${helper:-0} 2>/dev/null && ! pgrep -P ${helper:-0} >/dev/null"

# a second queue-run on the same queue is refused
q_start
start_bg "$B/queue-spawn" "$B/queue-run" 2>"$T/second.log"
second=$BGPID
wait_for 5 gone "$second"
like "$(cat "$T/second.log")" 'queue/lock is held' "a second queue-run on the same queue: refused"
q_stop

# usage
is_rc 100 "queue-run with an argument: usage" "$B/queue-run" x
is_rc 100 "queue-run outside queue-spawn: refused" env -u QUEUESPAWNFD "$B/queue-run"
is_rc 100 "queue-spawn without prog: usage" "$B/queue-spawn"
is_rc 100 "queue-spawn -c 0: usage" "$B/queue-spawn" -c 0 true
is_rc 100 "queue-spawn -r with an unknown user" "$B/queue-spawn" -r no-such-user-here true
