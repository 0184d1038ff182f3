#!/bin/sh
# The README's example works as printed (with a free port instead of 2525).
. "$(dirname "$0")/lib.sh"
[ -x "$B/tcpsrv" ] || skip_all "tcpsrv is not built"
plan 2
cd "$T" || exit 1
mkdir bin rules
ln -s "$B/tcpsrv" bin/tcpsrv
"$B/tcprules" rules/smtp.cdb rules/smtp.tmp < "$TOP/rules/smtp.txt" || exit 1
port=$(free_port)
sed -n '/<!-- readme-example/,/^```$/p' "$TOP/README.md" | sed '1,2d;$d' | sed "s/2525/$port/g" > example.sh
out=$(sh example.sh 2>err)
is "$out" "hello 127.0.0.1, RELAYCLIENT is set" "the README example prints what the README says"
like "$(cat err)" "tcpsrv: ok [0-9]+ " "and tcpsrv logs the connection"
