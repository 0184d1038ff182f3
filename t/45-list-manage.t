#!/bin/sh
# list-manage from the command line: make (the directory, its files, the .qmail lines, the
# options, -e keeping the key, the numbers and hand-edited texts; a list of a virtual domain
# found in the users database; the errors), sub/unsub/list of each set (arguments, standard
# input, lowercase, repeats, bad addresses refused with nothing changed, two writers at
# once), and a million subscribers added through the tool, then one more added, checked and
# removed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/list-lib.sh"
plan 54

# ---- make ---------------------------------------------------------------------------------------
is_rc 0 "make: exit 0" lm make -q "$H/.qmail-team" -f '[team #]' -u -d 5 -b 2 -r X-Spam-Status -D reject -o Owner@Example.NET "$L" team@Example.COM
is "$(cat "$H/.qmail-team")" "|$B/list-expand $L" ".qmail-team: |list-expand DIR (absolute paths)"
is "$(cat "$H/.qmail-team-default")" "|$B/list-manage $L" ".qmail-team-default: |list-manage DIR"
is "$(cat "$H/.qmail-team-owner")" "&owner@example.net" ".qmail-team-owner forwards to the owner (-o)"
is "$(cat "$L/address")" "team@example.com" "address, in lowercase"
is "$(stat -c '%u %a' "$L" "$L/key" "$H/.qmail-team" | sort -u | tr '\n' ' ')" "$OWNER 600 $OWNER 700 " "everything belongs to the owner of the .qmail files' directory, private"
like "$(cat "$L/key")" '^[0-9a-f]{64}$' "key: 32 random bytes in hex"
is "$(cat "$L/num")" 0 "num: 0"
is "$(ls "$L" | tr '\n' ' ')" "address archived bouncelimit digest dmarc dot headerremove key num owner prefix subonly text " "the settings as files"
is "$(cat "$L/digest") $(cat "$L/bouncelimit") $(cat "$L/dmarc") $(cat "$L/prefix")" "5 2 reject [team #]" "-d, -b, -D, -f"
is "$(grep -v '^#' "$L/headerremove" | tr '\n' ' ')" "return-path return-receipt-to disposition-notification-to content-length x-confirm-reading-to x-pmrqc X-Spam-Status " "headerremove: the defaults and -r"
is "$(ls "$L/text" | wc -l)" 18 "text/: the 18 texts, to edit"
key=$(cat "$L/key")
is_rc 100 "make again: 100" lm make -q "$H/.qmail-team" "$L" team@example.com
like "$(cat "$T/err")" 'exists already: to change a list, use -e' "saying to use -e"
echo 7 > "$L/num"
printf 'Subject: ours\n\nours\n' > "$L/text/help"
is_rc 0 "make -e -m: exit 0" lm make -e -m -q "$H/.qmail-team" "$L" team@example.com
is "$(ls "$L" | tr '\n' ' ')" "address archived dot headerremove key modpost num text " "-e: the settings as given now (modpost; no subonly, digest, prefix...)"
is "$(cat "$L/key"):$(cat "$L/num"):$(head -1 "$L/text/help")" "$key:7:Subject: ours" "the key, the number and an edited text kept"
is_rc 100 "make -e for another address: 100" lm make -e -q "$H/.qmail-team" "$L" other@example.com
like "$(cat "$T/err")" 'the list in .* is team@example\.com' "saying which list it is"
is_rc 100 "make -e of a directory that is no list: 100" lm make -e -q "$H/.qmail-x" "$H" x@example.com
is_rc 100 "a bad list address: 100" lm make -q "$H/.qmail-y" "$H/y" 'not an address'
is_rc 100 "-D something else: 100" lm make -D maybe -q "$H/.qmail-y" "$H/y" y@example.com
is_rc 100 "a digest without the archive (-d -A): 100" lm make -d 3 -A -q "$H/.qmail-y" "$H/y" y@example.com
is_rc 100 "-d 0: usage" lm make -d 0 -q "$H/.qmail-y" "$H/y" y@example.com
is_rc 100 "a local part with '=': 100" lm make -q "$H/.qmail-y" "$H/y" a=b@example.com
ok "none of them made anything" test ! -e "$H/y" -a ! -e "$H/.qmail-y"
mkdir "$T/rootdir"
is_rc 100 "the .qmail files in a directory of root's: 100" lm make -q "$T/rootdir/.qmail-r" "$T/rootdir/r" r@example.com
like "$(cat "$T/err")" 'belongs to root' "saying a list never runs as root"
is_rc 100 "make without the address: usage" lm make "$H/z"

# a list of a virtual domain: its .qmail files in the home of the user of that name
SLUICEDIR=$T/sl; export SLUICEDIR
mkdir -p "$SLUICEDIR/control"
"$B/mail-user" adddomain -u $OWNER:$OWNER example.org </dev/null >/dev/null
echo secret | "$B/mail-user" adduser news@example.org >/dev/null
is_rc 0 "make for news@example.org (a user of the database): exit 0" lm make "$SLUICEDIR/domains/example.org/news/list" news@example.org
is "$(cat "$SLUICEDIR/domains/example.org/news/.qmail")|$(cat "$SLUICEDIR/domains/example.org/news/.qmail-default")" "|$B/list-expand $SLUICEDIR/domains/example.org/news/list||$B/list-manage $SLUICEDIR/domains/example.org/news/list" "the user's .qmail and .qmail-default run the list"
is_rc 100 "no such user: 100" lm make "$SLUICEDIR/nolist" nobody@example.org
like "$(cat "$T/err")" 'no mailbox user nobody@example\.org .*-q' "saying to make one, or to give -q"
unset SLUICEDIR

# ---- sub, unsub, list ------------------------------------------------------------------------
is_rc 0 "sub two addresses: exit 0" lm sub "$L" Alice@Example.COM bob@example.net
printf 'carol@example.org\n\n  # a comment\n  dave@example.org  \r\nALICE@example.com\n' | lm sub "$L"
is "$(lm list "$L" | sort | tr '\n' ' ')" "alice@example.com bob@example.net carol@example.org dave@example.org " "list: each once, in lowercase (arguments, then standard input with blanks and comments)"
is "$(lm list -c "$L")" 4 "list -c: 4"
is_rc 100 "a bad address among good ones: 100" lm sub "$L" erin@example.org 'frank at example.org'
like "$(cat "$T/err")" 'not an address a list can keep: frank at example\.org' "naming it"
printf 'erin@example.org\nfrank@@example.org\n' > "$T/in"
is_rc 100 "a bad line on the standard input: 100" lm sub "$L" < "$T/in"
like "$(cat "$T/err")" 'standard input line 2: not an address a list can keep: frank@@example\.org' "naming its line"
is "$(lm list -c "$L")" 4 "and nothing was added"
for a in 'a b@example.org' 'a@b' 'a..b@example.org' '.a@example.org' 'a@-b.example.org' 'a@example..org' 'a@example.org.' "$(printf 'a\n@example.org')" "$(head -c 70 /dev/zero | tr '\0' a)@example.org"; do
  lm sub "$L" "$a" 2>/dev/null && echo "taken: $a"
done > "$T/taken"
is "$(cat "$T/taken")" "" "malformed addresses refused (blank, one label, double dot, leading dot, a label starting with -, a newline, a local part over 64)"
is_rc 0 "unsub: exit 0" lm unsub "$L" BOB@example.net nobody@example.org
is "$(lm list "$L" | sort | tr '\n' ' ')" "alice@example.com carol@example.org dave@example.org " "bob removed (any case), an absent address no error"
lm sub -m "$L" mod@example.com; lm sub -d "$L" dig@example.com; lm sub -a "$L" poster@example.com
is "$(lm list -m "$L"):$(lm list -d "$L"):$(lm list -a "$L"):$(lm list -c "$L")" "mod@example.com:dig@example.com:poster@example.com:3" "-m moderators, -d the digest, -a allowed to post: sets of their own"
is "$(stat -c %u "$L/subscribers" "$L/moderators" | sort -u)" "$OWNER" "made by root, the sets belong to the list's owner"
is_rc 100 "list with two directories: usage" lm list "$L" "$L"
is_rc 111 "sub to a directory that is not there: 111" lm sub "$T/nowhere" a@example.com

# two writers at once: nothing lost
i=0; : > "$T/a"; : > "$T/b"
while [ $i -lt 300 ]; do echo "a$i@example.org" >> "$T/a"; echo "b$i@example.org" >> "$T/b"; i=$((i+1)); done
lm sub "$L" < "$T/a" & p1=$!
lm sub "$L" < "$T/b" & p2=$!
wait $p1 $p2
is "$(lm list -c "$L")" 603 "two sub commands at once, 300 addresses each: 603 subscribers, none lost"

# ---- a million --------------------------------------------------------------------------------
"$PY" -c 'import sys
w = sys.stdout.write
for i in range(1000000): w("user%d@host%d.example.org\n" % (i, i % 997))' > "$T/million"
is_rc 0 "a million addresses through list-manage sub: exit 0" lm sub "$L" < "$T/million"
is "$(lm list -c "$L")" 1000603 "list -c: 1000603"
is "$(ls "$L/subscribers" | grep -vc lock)" 1024 "in 1024 buckets"
lm sub "$L" one.more@example.net
lm unsub "$L" user500000@host503.example.org
is "$(lm list -c "$L")" 1000603 "then one added, one removed"
is "$(lm list "$L" | grep -c -e '^one\.more@example\.net$' -e '^user500000@')" 1 "the one added is there, the one removed is not"
