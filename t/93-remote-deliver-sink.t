#!/bin/sh
# remote-deliver against another implementation: Postfix's smtp-sink (its dump of each
# transaction: envelope and message as received), delivering, a soft reject of RCPT, a 421
# to MAIL, and a drop without a reply after the data.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/remote-lib.sh"
SINK=$(command -v smtp-sink || ls /usr/sbin/smtp-sink 2>/dev/null)
[ -n "$SINK" ] || skip_all "smtp-sink (Debian postfix) not installed"
plan 9

mkdir -p "$T/sink"
asuser=""
if [ "$(id -u)" = 0 ]; then
  # smtp-sink will not run as root: it dumps as nobody, who must reach the directory
  asuser="-u nobody"
  chmod 711 "$T"
  chmod 777 "$T/sink"
fi
# sink NAME OPTIONS...: an smtp-sink on a free port ($PORT), dumping into $T/sink/NAME.*
sink() {
  _n=$1; shift
  PORT=$(free_port)
  start_bg "$SINK" $asuser "$@" -d "$T/sink/$_n." "127.0.0.1:$PORT" 10 2> "$T/$_n.err"
  wait_listen "$PORT" || diag "$(cat "$T/$_n.err")"
}

printf 'queue head\n' > "$T/m"
printf 'Subject: sink\n\n.\n..x\nK\303\266ln\n' >> "$T/m"
tail -c +12 "$T/m" > "$T/want"

sink ok
echo ":127.0.0.1:$PORT" > "$L/control/smtproutes"
rd "$T/m" 11 -- sink.example a@client.example u@sink.example v@sink.example
is "$RC.$(cat "$T/out")" "0.success 1 [127.0.0.1] said: 250 2.0.0 Ok
success 2 [127.0.0.1] said: 250 2.0.0 Ok" "smtp-sink: both recipients delivered"
wait_for 5 sh -c "ls '$T/sink/'ok.* >/dev/null 2>&1"
d=$(ls "$T/sink/"ok.* | head -1)
like "$(grep '^X-Mail-Args:' "$d")" '^X-Mail-Args: <a@client\.example>( SIZE=[0-9]+)? BODY=8BITMIME$' "smtp-sink saw MAIL FROM with BODY=8BITMIME"
is "$(grep '^X-Rcpt-Args:' "$d" | tr '\n' ' ')" "X-Rcpt-Args: <u@sink.example> X-Rcpt-Args: <v@sink.example> " "smtp-sink saw both RCPT TO"
# the dump: X- lines, smtp-sink's Received: (3 lines), the message, one more newline
awk 'on{print} /^Received: /{n=NR} n && NR==n+2{on=1}' "$d" | sed '$d' > "$T/got"
ok "smtp-sink got the message byte for byte (dots undone, LF again, 8-bit kept, the tail only)" cmp "$T/want" "$T/got"

sink soft -r rcpt
echo ":127.0.0.1:$PORT" > "$L/control/smtproutes"
rd "$T/m" 11 -- sink.example a@client.example u@sink.example
is "$(cat "$T/out")" "deferral 1 [127.0.0.1] said: 450 4.3.0 Error: command failed (in reply to RCPT TO)" "smtp-sink -r rcpt: deferral with its words"

sink m421 -Q mail
echo ":127.0.0.1:$PORT" > "$L/control/smtproutes"
rd "$T/m" 11 -- sink.example a@client.example u@sink.example
like "$(cat "$T/out")" '^deferral 1 no host took the message: \[127\.0\.0\.1\] said: 421 .* \(in reply to MAIL FROM\)$' "smtp-sink -Q mail (421): deferral"

sink drop -q .
echo ":127.0.0.1:$PORT" > "$L/control/smtproutes"
rd "$T/m" 11 -- sink.example a@client.example u@sink.example v@sink.example
is "$RC" 0 "smtp-sink -q . (drop after the data): exit 0"
is "$(cut -d' ' -f1,2 "$T/out" | tr '\n' ' ')" "deferral 1 deferral 2 " "... every recipient deferred, none a success"
like "$(sed -n 1p "$T/out")" 'no reply to the end of the data: .*it may arrive twice\)$' "... saying the message may have arrived"
