#!/bin/sh
# tcprules: every address form and its precedence, ranges, CIDR, IPv6, quoting, unset,
# comments; every malformed line is refused with its line number, exit 100, the old
# database untouched and no temporary file left; system errors exit 111.
. "$(dirname "$0")/lib.sh"
plan 146

# The addresses in this file (10.x, 192.168.x, 2001:db8::...) are rules text and the
# client addresses handed to tcprules-check in its environment: nothing here opens a
# socket. Where the system allows it, tcprules-check even runs in a network namespace of
# its own, with no interface up, so that nothing could be sent anywhere.
NONET=
unshare -n true 2>/dev/null && NONET="unshare -n"

# ask IP [HOST] [INFO]: what tcprules-check says about a client, lines joined by " / "
ask() {
  $NONET env -u TCPREMOTEHOST -u TCPREMOTEINFO TCPREMOTEIP="$1" ${2:+TCPREMOTEHOST="$2"} ${3:+TCPREMOTEINFO="$3"} \
    "$B/tcprules-check" "$T/r.cdb" | awk 'NR > 1 { printf " / " } { printf "%s", $0 } END { print "" }'
}
compile() { "$B/tcprules" "$T/r.cdb" "$T/r.tmp"; }

# ---- the 0.88 forms and their order ----
cat > "$T/r.txt" <<'EOF'
# comments and blank lines are ignored

   	
joe@1.2.3.4:allow,WHO="joe@ip"
joe@=h.example.com:allow,WHO="joe@host"
1.2.3.4:allow,WHO="ip"
=h.example.com:allow,WHO="host"
1.2.3.:allow,WHO="p3"
1.2.:deny
1.:allow,WHO="p1"
=.sub.example.com:allow,WHO="sub"
=.example.com:allow,WHO="domain"
=:allow,WHO="anyhost"
:allow,WHO="default"
EOF
compile < "$T/r.txt"
is "$?" 0 "a file of 0.88 rules compiles"
is "$(ask 1.2.3.4 h.example.com joe)" "rule joe@1.2.3.4: / set environment variable WHO=joe@ip / allow connection" "info@ip comes first"
is "$(ask 1.2.3.5 h.example.com joe)" "rule joe@=h.example.com: / set environment variable WHO=joe@host / allow connection" "then info@=host"
is "$(ask 1.2.3.4 h.example.com bill)" "rule 1.2.3.4: / set environment variable WHO=ip / allow connection" "then the address"
is "$(ask 1.2.3.5 h.example.com)" "rule =h.example.com: / set environment variable WHO=host / allow connection" "then =host"
is "$(ask 1.2.3.5 H.EXAMPLE.com)" "rule =h.example.com: / set environment variable WHO=host / allow connection" "host names match in any case"
is "$(ask 1.2.3.5 x.sub.example.com)" "rule 1.2.3.: / set environment variable WHO=p3 / allow connection" "then the longest dotted prefix"
is "$(ask 1.2.9.5)" "rule 1.2.: / deny connection" "then a shorter prefix (deny)"
is "$(ask 1.9.9.5)" "rule 1.: / set environment variable WHO=p1 / allow connection" "then the shortest prefix"
is "$(ask 9.9.9.9 x.sub.example.com)" "rule =.sub.example.com: / set environment variable WHO=sub / allow connection" "then the longest domain suffix"
is "$(ask 9.9.9.9 y.example.com)" "rule =.example.com: / set environment variable WHO=domain / allow connection" "then a shorter suffix"
is "$(ask 9.9.9.9 example.org)" "rule =: / set environment variable WHO=anyhost / allow connection" "then = when the host is known"
is "$(ask 9.9.9.9)" "rule : / set environment variable WHO=default / allow connection" "then the empty address"
is "$(ask 9.9.9.9 '' joe)" "rule : / set environment variable WHO=default / allow connection" "info alone matches no info@ rule"
ok "no temporary file is left" test ! -e "$T/r.tmp"

printf '1.2.3.4:deny\n' | compile
is "$(ask 9.9.9.9)" "default: / allow connection" "no matching rule: default allow"

# ---- ranges, duplicates, quoting, unset ----
cat > "$T/r.txt" <<'EOF'
10.0.0.4-7:allow,R="range"
10.2-3.:deny
10.9.9.9:allow,A="1",B='2',C=|a,b:c|,D==x=,E="",F=" sp ace "
10.9.9.9:deny
10.8.8.8:allow,X="1",FOO,X="2"
joe@10.7.7.1-2:deny
EOF
compile < "$T/r.txt"
is "$(ask 10.0.0.3)" "default: / allow connection" "range: below"
is "$(ask 10.0.0.4)" "rule 10.0.0.4: / set environment variable R=range / allow connection" "range: first"
is "$(ask 10.0.0.6)" "rule 10.0.0.6: / set environment variable R=range / allow connection" "range: middle"
is "$(ask 10.0.0.7)" "rule 10.0.0.7: / set environment variable R=range / allow connection" "range: last"
is "$(ask 10.0.0.8)" "default: / allow connection" "range: above"
is "$(ask 10.1.0.1)" "default: / allow connection" "prefix range: below"
is "$(ask 10.2.0.1)" "rule 10.2.: / deny connection" "prefix range: 10.2."
is "$(ask 10.3.200.1)" "rule 10.3.: / deny connection" "prefix range: 10.3."
is "$(ask 10.4.0.1)" "default: / allow connection" "prefix range: above"
is "$(ask 10.9.9.9)" "rule 10.9.9.9: / set environment variable A=1 / set environment variable B=2 / set environment variable C=a,b:c / set environment variable D=x / set environment variable E= / set environment variable F= sp ace  / allow connection" "any quote character; commas, colons, blanks inside values"
is "$(ask 10.8.8.8)" "rule 10.8.8.8: / set environment variable X=1 / unset environment variable FOO / set environment variable X=2 / allow connection" "variables in order, ,NAME unsets"
is "$(ask 10.7.7.2 '' joe)" "rule joe@10.7.7.2: / deny connection" "a range after info@"
is "$(ask 10.7.7.3 '' joe)" "default: / allow connection" "info@ range: outside"

# ---- CIDR and IPv6 ----
cat > "$T/r.txt" <<'EOF'
10.0.0.0/8:allow,N="8"
10.0.0.0/9:allow,N="9"
10.1.2.0/23:allow,N="23"
10.1.2.:allow,N="dot24"
10.1.2.128/25:allow,N="25"
10.1.2.200/30:deny
10.1.2.201/32:allow,N="32"
0.0.0.0/0:allow,N="all4"
2001:DB8::/32:allow,N="v6-32"
2001:0db8:0:0::/64:allow,N="v6-64"
2001:db8:1::allow,N="v6-48"
2001:db8::1/128:allow,N="v6-128"
2001:db8:0:0:0:0:0:2:deny
::/0:allow,N="all6"
::ffff:192.168.0.0/112:allow,N="mapped"
::ffff:172.16.0.1:allow,N="mapped-exact"
joe@2001:db8::3:allow,N="joe6"
EOF
compile < "$T/r.txt"
is "$?" 0 "CIDR and IPv6 rules compile"
is "$(ask 10.200.0.1)" "rule 10.: / set environment variable N=8 / allow connection" "/8 is the dotted prefix 10."
is "$(ask 10.100.0.1)" "rule 10.0.0.0/9: / set environment variable N=9 / allow connection" "/9 beats /8"
is "$(ask 10.1.3.1)" "rule 10.1.2.0/23: / set environment variable N=23 / allow connection" "/23 beats /9"
is "$(ask 10.1.2.1)" "rule 10.1.2.: / set environment variable N=dot24 / allow connection" "a dotted /24 beats /23"
is "$(ask 10.1.2.129)" "rule 10.1.2.128/25: / set environment variable N=25 / allow connection" "/25 beats the dotted /24"
is "$(ask 10.1.2.203)" "rule 10.1.2.200/30: / deny connection" "/30 beats /25"
is "$(ask 10.1.2.201)" "rule 10.1.2.201: / set environment variable N=32 / allow connection" "/32 is the address itself"
is "$(ask 11.1.1.1)" "rule 0.0.0.0/0: / set environment variable N=all4 / allow connection" "/0 catches every IPv4 client"
is "$(ask ::ffff:11.1.1.1)" "rule 0.0.0.0/0: / set environment variable N=all4 / allow connection" "an IPv4-mapped client is IPv4"
is "$(ask 192.168.5.5)" "rule 192.168.: / set environment variable N=mapped / allow connection" "a mapped CIDR rule is the IPv4 block"
is "$(ask 172.16.0.1)" "rule 172.16.0.1: / set environment variable N=mapped-exact / allow connection" "a mapped address rule is the IPv4 address"
is "$(ask 2001:db8:2::1)" "rule 2001:db8::/32: / set environment variable N=v6-32 / allow connection" "IPv6 /32 written in upper case"
is "$(ask 2001:db8::5)" "rule 2001:db8::/64: / set environment variable N=v6-64 / allow connection" "IPv6 /64 written with zeros"
is "$(ask 2001:db8:1:ffff::5)" "rule 2001:db8:1::/48: / set environment variable N=v6-48 / allow connection" "ucspi-tcp6 prefix 2001:db8:1: is /48"
is "$(ask 2001:0DB8:0000::1)" "rule 2001:db8::1: / set environment variable N=v6-128 / allow connection" "IPv6 /128, client written long"
is "$(ask 2001:db8::2)" "rule 2001:db8::2: / deny connection" "an IPv6 address written in full"
is "$(ask 2001:db8::3 '' joe)" "rule joe@2001:db8::3: / set environment variable N=joe6 / allow connection" "info@IPv6"
is "$(ask 2002::1)" "rule ::/0: / set environment variable N=all6 / allow connection" "::/0 catches every IPv6 client"

# ---- a last line without a newline, CRLF, blanks at the end ----
printf '1.2.3.4:allow,X="crlf"\r\n1.2.3.5:allow,X="tab"\t \n1.2.3.6:deny' | compile
is "$(ask 1.2.3.4)" "rule 1.2.3.4: / set environment variable X=crlf / allow connection" "CRLF line"
is "$(ask 1.2.3.5)" "rule 1.2.3.5: / set environment variable X=tab / allow connection" "blanks at the end"
is "$(ask 1.2.3.6)" "rule 1.2.3.6: / deny connection" "last line without a newline"

# ---- malformed lines ----
printf '1.2.3.4:deny\n' | compile
cp "$T/r.cdb" "$T/good.cdb"
# bad LINE WHAT: a file whose line 3 is LINE is refused; the message names line 3 and WHAT
bad() {
  printf '# ok\n5.6.7.8:allow\n%s\n9.9.9.9:deny\n' "$1" > "$T/bad.txt"
  is_rc 100 "refused: $1" "$B/tcprules" "$T/r.cdb" "$T/r.tmp" < "$T/bad.txt"
  like "$(cat "$T/err")" "^tcprules: fatal: unable to parse $T/bad.txt line 3: .*$2" "message for: $1"
  if cmp -s "$T/r.cdb" "$T/good.cdb" && [ ! -e "$T/r.tmp" ]; then _pass "old database kept, no tmp: $1"
  else _fail "old database kept, no tmp: $1"; fi
}
bad '1.2.3.4 allow' 'no colon'
bad '1.2.3.4:' 'missing allow or deny'
bad '1.2.3.4:accept' 'want allow or deny.*accept'
bad '1.2.3.4:allow ,X="1"' 'want allow or deny'
bad '1.2.3.x:allow' 'bad address'
bad '1.2.3:allow' 'prefix ends with a dot'
bad '1.2.3.256:allow' 'over 255'
bad '01.2.3.4:allow' 'leading zero'
bad '1.2.3.4 :allow' 'blank'
bad '1.2.3.9-4:allow' 'bad range \(start after end\)'
bad '1.2.3.4-256:allow' 'bad range \(end over 255\)'
bad '1.2-3.4-5.6:allow' 'one range'
bad '10.1.0.0/8:allow' 'bits set'
bad '10.0.0.0/33:allow' 'prefix length'
bad '2001:db8::g:allow' 'bad IPv6 address'
bad '2001:db8::1/129:allow' 'prefix length'
bad '=bad*host:allow' 'bad character in host name'
bad 'joe@1.2.3.:allow' 'info@ takes a full address'
bad '1.2.3.4:allow,X="1' 'unterminated'
bad '1.2.3.4:allow,X=' 'no quoted value'
bad '1.2.3.4:allow,X="1"Y="2"' 'garbage after the closing quote'
bad '1.2.3.4:allow,,X="1"' 'empty name'
bad '1.2.3.4:allow,X Y="1"' 'bad variable name'

# a NUL byte, an over-long line
printf '1.2.3.4:allow\n1.2.3.5:allow,X="a\000b"\n' > "$T/bad.txt"
is_rc 100 "a NUL byte is refused" "$B/tcprules" "$T/r.cdb" "$T/r.tmp" < "$T/bad.txt"
like "$(cat "$T/err")" "line 2: NUL byte" "the message names line 2 and the NUL byte"
ok "old database kept after the NUL byte" cmp -s "$T/r.cdb" "$T/good.cdb"
python3 -c 'import sys; sys.stdout.write("1.2.3.4:allow\n" * 4 + "5.6.7.8:allow,X=\"" + "x" * 70000 + "\"\n:deny\n")' > "$T/bad.txt"
is_rc 100 "an over-long line is refused" "$B/tcprules" "$T/r.cdb" "$T/r.tmp" < "$T/bad.txt"
like "$(cat "$T/err")" "line 5: line longer than 65536 bytes" "the message names line 5"
ok "old database kept after the long line, no tmp" sh -c "cmp -s '$T/r.cdb' '$T/good.cdb' && test ! -e '$T/r.tmp'"
python3 -c 'import sys; sys.stdout.write("1.2.3.4:allow,X=\"" + "x" * 65000 + "\"\n")' | compile
is "$(ask 1.2.3.4 | wc -c)" "65063" "a line just under the limit is fine"
printf '1.2.3.4:deny\n' | compile

# from a pipe, the message says standard input
printf 'nonsense\n' | "$B/tcprules" "$T/r.cdb" "$T/r.tmp" 2>"$T/err"
like "$(cat "$T/err")" "unable to parse standard input line 1: no colon" "standard input when stdin is a pipe"

# ---- system errors: 111, nothing changed ----
is_rc 111 "missing directory for tmp: 111" "$B/tcprules" "$T/r.cdb" "$T/nodir/r.tmp" < "$T/r.txt"
like "$(cat "$T/err")" "^tcprules: fatal: unable to create $T/nodir/r.tmp: " "the message names the tmp file"
mkdir "$T/isdir.cdb"
is_rc 111 "the database path is a directory: 111" "$B/tcprules" "$T/isdir.cdb" "$T/x.tmp" < "$T/r.txt"
ok "tmp removed after a failed rename" test ! -e "$T/x.tmp"
mkdir "$T/ro"
printf '1.2.3.4:deny\n' | "$B/tcprules" "$T/ro/r.cdb" "$T/ro/r.tmp"
cp "$T/ro/r.cdb" "$T/ro.good"
if [ "$(id -u)" != 0 ] && chmod 555 "$T/ro"; then ro=chmod
elif chattr +i "$T/ro" 2>/dev/null; then ro=chattr
else ro=""; fi
if [ -n "$ro" ]; then
  is_rc 111 "unwritable directory ($ro): 111" "$B/tcprules" "$T/ro/r.cdb" "$T/ro/r.tmp" < "$T/r.txt"
  if [ $ro = chmod ]; then chmod 755 "$T/ro"; else chattr -i "$T/ro"; fi
  ok "unwritable directory: old database kept" cmp -s "$T/ro/r.cdb" "$T/ro.good"
else
  skip 2 "cannot make a directory unwritable here"
fi
: > "$T/empty.txt"
"$B/tcprules" "$T/r.cdb" "$T/r.tmp" < "$T/empty.txt"
is "$(ask 1.2.3.4)" "default: / allow connection" "empty input: an empty database"

# tmp exists (even as a symlink): replaced, never written through
echo precious > "$T/precious"
ln -s "$T/precious" "$T/r.tmp"
printf '1.2.3.4:deny\n' | compile
is "$(cat "$T/precious")" "precious" "a symlink at tmp is not written through"
is "$(ask 1.2.3.4)" "rule 1.2.3.4: / deny connection" "and the database is written"

# tmp naming the database itself: refused before anything is removed
cp "$T/r.cdb" "$T/same.good"
for t in "$T/r.cdb" "$T/./r.cdb"; do
  printf 'nonsense\n' | "$B/tcprules" "$T/r.cdb" "$t" 2>"$T/err"
  is "$?" 100 "tmp is the database ($t): 100"
  ok "... and the database is still there, unchanged" cmp -s "$T/r.cdb" "$T/same.good"
done

# usage
is_rc 100 "no arguments: usage, 100" "$B/tcprules"
is_rc 100 "one argument: usage, 100" "$B/tcprules" "$T/r.cdb"
like "$(cat "$T/err")" "^tcprules: usage: tcprules rules.cdb rules.tmp" "usage message"

# nothing here is ever sent anywhere: tcprules and tcprules-check, given the non-loopback
# addresses of this file, make no network system call at all (traced, where ptrace works)
printf '10.9.9.9:allow,A="1"\n2001:db8::1:deny\n' > "$T/net.txt"
if strace -f -qq -o "$T/trace0" true 2>/dev/null; then
  # (LeakSanitizer cannot run under ptrace: leaks are checked by every other test)
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
  strace -f -qq -e signal=none -e trace=%network -o "$T/trace" sh -c '
    "$1/tcprules" "$2/r.cdb" "$2/r.tmp" < "$2/net.txt" &&
    TCPREMOTEIP=10.9.9.9 TCPREMOTEHOST=h.example.com TCPREMOTEINFO=joe "$1/tcprules-check" "$2/r.cdb" &&
    TCPREMOTEIP=2001:db8::1 "$1/tcprules-check" "$2/r.cdb"' sh "$B" "$T" > "$T/out" 2>&1
  rc=$?
  is "$rc" 0 "traced: tcprules and tcprules-check ran"
  [ "$rc" = 0 ] || diag "$(cat "$T/out")"
  is "$(cat "$T/trace")" "" "... with no network system call (socket, connect, send...)"
else
  skip 2 "strace cannot trace here"
fi
