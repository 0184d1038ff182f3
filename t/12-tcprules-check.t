#!/bin/sh
# tcprules-check: tcprulescheck's output and exit codes, plus the extensions (CIDR, IPv6,
# unset); what it says when no rule matches, when the environment is partial, and when the
# database cannot be read.
. "$(dirname "$0")/lib.sh"
plan 29
C=/usr/bin/tcprulescheck

cat > "$T/r.txt" <<'EOF'
0.0.0.0:deny
1.2.3.4:allow,A="1",B=""
1.2.3.5:deny
=:allow,ANYHOST="yes"
10.0.0.0/12:allow,N="12"
2001:DB8:0::5:allow,V6="five"
2001:db8::/48:deny
5.5.5.5:allow,X="1",RELAYCLIENT
EOF
"$B/tcprules" "$T/r.cdb" "$T/r.tmp" < "$T/r.txt"
/usr/bin/tcprules "$T/c.cdb" "$T/c.tmp" <<'EOF'
0.0.0.0:deny
1.2.3.4:allow,A="1",B=""
1.2.3.5:deny
=:allow,ANYHOST="yes"
EOF

# run WHO ENV...: stdout of tcprules-check (ours) or tcprulescheck (theirs) on the 0.88 db
ours() { env -u TCPREMOTEIP -u TCPREMOTEHOST -u TCPREMOTEINFO "$@" "$B/tcprules-check" "$T/r.cdb"; }
theirs() { env -u TCPREMOTEIP -u TCPREMOTEHOST -u TCPREMOTEINFO "$@" $C "$T/c.cdb"; }

is "$(ours TCPREMOTEIP=1.2.3.4)" "rule 1.2.3.4:
set environment variable A=1
set environment variable B=
allow connection" "a rule with variables, in tcprulescheck's words"
is "$(ours TCPREMOTEIP=1.2.3.4)" "$(theirs TCPREMOTEIP=1.2.3.4)" "the same words as tcprulescheck"
is "$(ours TCPREMOTEIP=1.2.3.5)" "rule 1.2.3.5:
deny connection" "a deny rule"
is "$(ours TCPREMOTEIP=1.2.3.5)" "$(theirs TCPREMOTEIP=1.2.3.5)" "deny: the same as tcprulescheck"
is "$(ours TCPREMOTEIP=9.9.9.9)" "default:
allow connection" "no rule matched: default, allow"
is "$(ours TCPREMOTEIP=9.9.9.9)" "$(theirs TCPREMOTEIP=9.9.9.9)" "default: the same as tcprulescheck"
is "$(ours)" "rule 0.0.0.0:
deny connection" "no TCPREMOTEIP: the client is 0.0.0.0"
is "$(ours)" "$(theirs)" "no TCPREMOTEIP: the same as tcprulescheck"
is "$(ours TCPREMOTEIP=9.9.9.9 TCPREMOTEHOST=)" "rule =:
set environment variable ANYHOST=yes
allow connection" "an empty TCPREMOTEHOST is a known host name"
is "$(ours TCPREMOTEIP=9.9.9.9 TCPREMOTEHOST=)" "$(theirs TCPREMOTEIP=9.9.9.9 TCPREMOTEHOST=)" "empty host: the same as tcprulescheck"
is "$(ours TCPREMOTEIP=9.9.9.9 TCPREMOTEINFO=joe)" "default:
allow connection" "info alone changes nothing"

# the extensions
is "$(ours TCPREMOTEIP=10.15.1.1)" "rule 10.0.0.0/12:
set environment variable N=12
allow connection" "a CIDR rule is named net/length"
is "$(ours TCPREMOTEIP=10.16.1.1)" "default:
allow connection" "just outside the /12"
is "$(ours TCPREMOTEIP=2001:0db8:0000:0000:0000:0000:0000:0005)" "rule 2001:db8::5:
set environment variable V6=five
allow connection" "an IPv6 rule is named in canonical form, whatever the client's form"
is "$(ours TCPREMOTEIP=2001:db8::6)" "rule 2001:db8::/48:
deny connection" "an IPv6 block"
is "$(ours TCPREMOTEIP=::ffff:1.2.3.4 | head -1)" "rule 1.2.3.4:" "an IPv4-mapped client is IPv4"
is "$(ours TCPREMOTEIP=5.5.5.5)" "rule 5.5.5.5:
set environment variable X=1
unset environment variable RELAYCLIENT
allow connection" "an unset variable"

# errors: the same exit codes as tcprulescheck
TCPREMOTEIP=1.2.3.4; export TCPREMOTEIP
is_rc 111 "a missing database: 111" "$B/tcprules-check" "$T/absent.cdb"
like "$(cat "$T/err")" "^tcprules-check: fatal: unable to read $T/absent.cdb: " "the message names the file"
$C "$T/absent.cdb" >/dev/null 2>&1
is "$?" 111 "tcprulescheck says 111 too"
printf 'not a cdb\n' > "$T/garbage.cdb"
is_rc 111 "a file too short to be a cdb: 111" "$B/tcprules-check" "$T/garbage.cdb"
head -c 2100 "$T/c.cdb" > "$T/cut.cdb"
is_rc 111 "a truncated cdb: 111" "$B/tcprules-check" "$T/cut.cdb"
$C "$T/cut.cdb" >/dev/null 2>&1
is "$?" 111 "tcprulescheck says 111 too"
# a hostile cdb: the matching record claims 4 GB of data
printf '1.2.3.4:allow,X="y"\n' | "$B/tcprules" "$T/h.cdb" "$T/h.tmp"
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(2052); f.write(b"\xff\xff\xff\xff")' "$T/h.cdb"
is_rc 111 "a record longer than the file: 111, not a rule" "$B/tcprules-check" "$T/h.cdb"
like "$(cat "$T/out") $(cat "$T/err")" "^ tcprules-check: fatal: unable to read $T/h.cdb: not a well-formed cdb \\(a damaged database\\)$" "... nothing printed but the error"
is_rc 100 "no argument: usage, 100" "$B/tcprules-check"
like "$(cat "$T/err")" "^tcprules-check: usage: tcprules-check rules.cdb$" "usage message"
is_rc 100 "an option: usage, 100" "$B/tcprules-check" -x "$T/r.cdb"
if [ -w /dev/full ]; then
  is_rc 111 "stdout cannot be written: 111" sh -c "'$B/tcprules-check' '$T/r.cdb' > /dev/full"
else
  skip 1 "no /dev/full"
fi
