#!/bin/sh
# newmrh compiles control/morercpthosts into the cdb smtpd reads (the same keys as the awk line
# smtpd(8) used to show, and a real smtpd accepting by it); bad lines refused with the old
# database kept. showctl: values, defaults, readers, lists, cdbs, malformed numbers, files no
# tool reads; one name; errors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd-lib.sh"
plan 22
smtpd_setup
C=$SLUICEDIR/control

# newmrh
printf '# big customers\nBIG.example  \n\n.wild.example\r\nsmall.example\n' > "$C/morercpthosts"
is_rc 0 "newmrh: exit 0" "$B/newmrh"
is "$(cdb -d "$C/morercpthosts.cdb" | tr '\n' ' ')" "+11,0:big.example-> +13,0:.wild.example-> +13,0:small.example->  " "the keys, lower case, blanks and comments gone, empty values"
printf 'big.example\n.wild.example\nsmall.example\n' | awk '{ printf "+%d,0:%s->\n", length($0), $0 } END { print "" }' | cdb -c "$T/awk.cdb"
ok "the same database as the awk line made" cmp "$T/awk.cdb" "$C/morercpthosts.cdb"
ok "no temporary file left" test ! -e "$C/morercpthosts.tmp"
smtpd_start plain || exit 1
printf 'EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<v@big.EXAMPLE>\r\nRCPT TO:<v@x.wild.example>\r\nRCPT TO:<v@small.example>\r\nRCPT TO:<v@other.example>\r\nQUIT\r\n' > "$T/in"
out=$(raw $PORT "$T/in")
is "$(printf '%s\n' "$out" | grep -E '^(250 2.1.5|553)' | cut -c1-3 | tr '\n' ' ')" "250 250 250 553 " "smtpd accepts by it: domain, .suffix, not the others"
cp "$C/morercpthosts.cdb" "$T/good.cdb"
printf 'ok.example\nbad example\n' > "$C/morercpthosts"
is_rc 100 "a line with a blank inside: 100" "$B/newmrh"
is "$(cat "$T/err")" "newmrh: fatal: $C/morercpthosts line 2: not a domain: bad example (nothing changed)" "naming the file and the line"
ok "the old database is kept, no temporary file" sh -c "cmp '$T/good.cdb' '$C/morercpthosts.cdb' && test ! -e '$C/morercpthosts.tmp'"
printf 'user@x.example\n' > "$C/morercpthosts"
is_rc 100 "an address: 100" "$B/newmrh"
: > "$C/morercpthosts"
is_rc 0 "an empty list: an empty database" "$B/newmrh"
rm "$C/morercpthosts"
is_rc 111 "no list: 111" "$B/newmrh"
is_rc 100 "an argument: usage" "$B/newmrh" x

# showctl
printf 'example.org\n# a comment\n\nexample.net\n' > "$C/rcpthosts"
echo 20000000 > "$C/databytes"
echo 12x > "$C/maxrcpt"
echo 1 > "$C/concurencyremote"
cp "$T/good.cdb" "$C/morercpthosts.cdb"
"$B/showctl" > "$T/show"
is "$?" 0 "showctl: exit 0"
is "$(grep -A2 '^me:' "$T/show")" "me: mx.example.org
  default: the host name (queue-run needs it set)
  read by: smtpd queue-run queue-spawn remote-deliver queue-remote mail-inject sendmail autorespond" "a set value, its default and its readers"
is "$(grep -A3 '^rcpthosts:' "$T/show")" "rcpthosts:
  | example.org
  | example.net
  default: none: only the users database's domains" "a list: its entries, comments and empty lines left out"
is "$(grep -A1 '^queuelifetime:' "$T/show")" "queuelifetime: not set
  default: 604800 (seconds)" "a missing file: not set, and the default"
is "$(grep '^databytes:' "$T/show")" "databytes: 20000000" "a number"
like "$(grep '^maxrcpt:' "$T/show")" 'not a number' "a malformed number is pointed out"
is "$(grep '^morercpthosts.cdb:' "$T/show")" "morercpthosts.cdb: a cdb of 3 entries" "a cdb: how many entries"
is "$(grep 'no sluice tool' "$T/show")" "concurencyremote: no sluice tool reads this file" "a misspelt file: no tool reads it"
is "$("$B/showctl" databytes | head -1)" "databytes: 20000000" "one name: that file alone"
is_rc 100 "a name no tool reads: 100" "$B/showctl" concurencyremote
