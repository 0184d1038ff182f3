#!/bin/sh
# autorespond run as a .qmail runs it, with a stand-in queue program (QMAILQUEUE) that keeps
# what it was given: every RFC 3834 case it must not answer, the To/Cc check and -A/-a, the
# interval and the pruning of dir/replied, the hourly ceiling, long and folded subjects, the
# queue failing for now or for good, and bad usage.
. "$(dirname "$0")/lib.sh"
plan 43
mkdir -p "$T/v" "$T/q" "$T/sl/control"
echo mx.test.example > "$T/sl/control/me"
printf 'I am away.\n' > "$T/v/message"
cat > "$T/qq" <<'EOF'
#!/bin/sh
cat > "$QDIR/msg"
tr '\0' '\n' <&1 > "$QDIR/env"
exit ${QCODE:-0}
EOF
chmod +x "$T/qq"
export QMAILQUEUE="$T/qq" QDIR="$T/q" SLUICEDIR="$T/sl" RECIPIENT=alice@example.com
unset QCODE

# ar SENDER HEADER [OPTS...]: run autorespond on a message with HEADER; prints the exit code
# and "reply" when the queue program got one (the record is cleared first)
ar() {
  _s=$1 _h=$2; shift 2
  rm -f "$T/q/msg" "$T/q/env" "$T/v/replied"
  printf '%bSubject: hi\n\nbody\n' "$_h" | SENDER=$_s "$B/autorespond" "$@" "$T/v" 2>"$T/err"
  _r=$?
  if [ -e "$T/q/msg" ]; then echo "$_r reply"; else echo "$_r none"; fi
}
TO='To: alice@example.com\n'
is "$(ar bob@example.org "$TO")" "0 reply" "an ordinary message is answered"
is "$(tr '\n' ' ' < "$T/q/env")" "F Tbob@example.org  " "from the null sender, to the envelope sender"
is "$(ar '' "$TO")" "0 none" "the null sender: none"
is "$(ar '#@[]' "$TO")" "0 none" "qmail's double-bounce sender: none"
is "$(ar MAILER-DAEMON@example.org "$TO")" "0 none" "MAILER-DAEMON: none"
is "$(ar mailer-daemon@example.org "$TO")" "0 none" "mailer-daemon, any case: none"
is "$(ar news-request@example.org "$TO")" "0 none" "a -request sender: none"
is "$(ar owner-news@example.org "$TO")" "0 none" "an owner- sender: none"
is "$(ar news-owner@example.org "$TO")" "0 none" "a -owner sender: none"
is "$(ar alice@example.com "$TO")" "0 none" "the user's own mail: none"
is "$(ar bob@example.org "${TO}Auto-Submitted: auto-replied\n")" "0 none" "Auto-Submitted: auto-replied (a responder's reply, no loop): none"
is "$(ar bob@example.org "${TO}Auto-Submitted: auto-generated (cron)\n")" "0 none" "Auto-Submitted: auto-generated: none"
is "$(ar bob@example.org "${TO}auto-submitted:  No\n")" "0 reply" "Auto-Submitted: no is answered"
is "$(ar bob@example.org "${TO}Auto-Submitted: notice\n")" "0 none" "Auto-Submitted: anything else: none"
is "$(ar bob@example.org "${TO}Precedence: bulk\n")" "0 none" "Precedence: bulk: none"
is "$(ar bob@example.org "${TO}Precedence: LIST\n")" "0 none" "Precedence: list: none"
is "$(ar bob@example.org "${TO}Precedence: junk\n")" "0 none" "Precedence: junk: none"
is "$(ar bob@example.org "${TO}Precedence: first-class\n")" "0 reply" "another Precedence is answered"
is "$(ar bob@example.org "${TO}List-Unsubscribe: <mailto:x@example.org>\n")" "0 none" "any List-* field: none"
is "$(ar bob@example.org "${TO}Mailing-List: contact news-help@example.org\n")" "0 none" "ezmlm's Mailing-List: none"
is "$(ar bob@example.org 'To: malice@example.com, alice@example.com.evil\n')" "0 none" "the user not in To or Cc (only longer addresses): none"
is "$(ar bob@example.org 'To: x@example.org,\n\t"Alice" <Alice@Example.COM>\n')" "0 reply" "in a folded To, any case: answered"
is "$(ar bob@example.org 'To: sales@example.com\n' -a sales@example.com)" "0 reply" "-a: another address of the user counts"
is "$(ar bob@example.org 'To: sales@example.com\n' -A)" "0 reply" "-A: answered whatever To and Cc say"

# the interval, pruning, damaged lines
rm -f "$T/v/replied"
printf 'To: alice@example.com\nSubject: x\n\n' > "$T/m"
now=$(date +%s)
printf '1000 bob@example.org\ngarbage\n%s carol@example.org\n%s dave@example.org\n' $((now - 100)) $((now - 700000)) > "$T/v/replied"
SENDER=bob@example.org "$B/autorespond" "$T/v" < "$T/m"
is "$(sed 's/^[0-9]* //' "$T/v/replied" | tr '\n' ' ')" "carol@example.org bob@example.org " "a reply recorded; old records and damaged lines pruned"
rm -f "$T/q/msg"
SENDER=Carol@Example.org "$B/autorespond" "$T/v" < "$T/m"
ok "a sender answered 100 s ago (any case): none" test ! -e "$T/q/msg"
SENDER=carol@example.org "$B/autorespond" -t 60 "$T/v" < "$T/m"
ok "with -t 60, that sender is answered again" test -e "$T/q/msg"

# the ceiling: -n 2 replies an hour
rm -f "$T/v/replied"
for s in a b c; do rm -f "$T/q/msg"; SENDER=$s@example.org "$B/autorespond" -n 2 "$T/v" < "$T/m" 2>"$T/err"; done
ok "-n 2: the third sender in the hour gets none" test ! -e "$T/q/msg"
like "$(cat "$T/err")" '^autorespond: warning: no reply to c@example\.org: the limit of replies per hour is reached$' "and a warning says why"
is "$(wc -l < "$T/v/replied")" 2 "two recorded"

# the queue failing
rm -f "$T/v/replied"
is_rc 111 "the queue failing for now: exit 111 (retried)" env QCODE=71 SENDER=bob@example.org "$B/autorespond" "$T/v" < "$T/m"
ok "and the sender is not recorded" test ! -s "$T/v/replied"
is_rc 0 "the queue refusing it for good: exit 0 (the mail is delivered all the same)" env QCODE=31 SENDER=bob@example.org "$B/autorespond" "$T/v" < "$T/m"
like "$(cat "$T/err")" '^autorespond: warning: no reply to bob@example\.org: ' "with a warning"
is_rc 111 "the queue program missing: 111" env QMAILQUEUE="$T/nonexistent" SENDER=bob@example.org "$B/autorespond" "$T/v" < "$T/m"

# subjects: a long 8-bit one, folded
long=$(printf 'x%.0s\303\251' $(seq 1 60))
printf 'To: alice@example.com\nSubject: %s\n  folded\nMessage-ID: <a@b>\n\n' "$long" > "$T/m2"
SENDER=zed@example.org "$B/autorespond" -t 1 "$T/v" < "$T/m2"
"$PY" - "$T/q/msg" "$long" > "$T/check" <<'EOF'
import email, email.policy, sys
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw, policy=email.policy.default)
head = raw.split(b"\n\n")[0].decode("ascii")
lines = [l for l in head.split("\n")]
print(str(m["Subject"]) == "Re: " + sys.argv[2] + "  folded", max(len(l) for l in lines) <= 78, all(len(w) <= 75 for w in head.split() if w.startswith("=?")))
EOF
is "$(cat "$T/check")" "True True True" "a long 8-bit subject: whole UTF-8 encoded-words of 75 at most, lines of 78, decodes back"

# a long 7-bit subject and long References: folded at blanks, nothing lost
words=$(printf 'word%s ' $(seq 1 60))
refs=$(printf '<ref%s@example.org> ' $(seq 1 30))
printf 'To: alice@example.com\nSubject: %s\nReferences: %s\nMessage-ID: <last@example.org>\n\n' "$words" "$refs" > "$T/m3"
SENDER=yan@example.org "$B/autorespond" -t 1 "$T/v" < "$T/m3"
"$PY" - "$T/q/msg" "$words" "$refs" > "$T/check" <<'EOF'
import email, email.policy, sys
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw, policy=email.policy.default)
head = raw.split(b"\n\n")[0].decode("ascii")
print(" ".join(str(m["Subject"]).split()) == "Re: " + " ".join(sys.argv[2].split()),
      str(m["References"]).split() == sys.argv[3].split() + ["<last@example.org>"],
      max(len(l) for l in head.split("\n")) <= 78)
EOF
is "$(cat "$T/check")" "True True True" "a long subject and long References: folded within 78 columns, every word kept"

# usage
is_rc 100 "no dir: usage" env SENDER=x@y "$B/autorespond"
is_rc 100 "a bad -t: usage" env SENDER=x@y "$B/autorespond" -t 7d "$T/v"
is_rc 100 "SENDER not set: 100" env -u SENDER "$B/autorespond" "$T/v"
like "$(cat "$T/err")" 'SENDER' "which says so"
is_rc 111 "no dir/message: 111" env SENDER=bob@example.org "$B/autorespond" "$T/nodir" < "$T/m"
like "$(cat "$T/err")" '^autorespond: fatal: unable to open .*/nodir/message: ' "naming the file"
