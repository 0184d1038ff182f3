#!/bin/sh
# preline and except, alone and in .qmail lines run by local-deliver: preline's three lines
# (read back by python's mailbox as an mbox message), its options, exit codes passed through,
# a program that stops reading; except's table of exit codes; a .qmail that bounces mail
# with except and delivers the rest.
. "$(dirname "$0")/lib.sh"
plan 26
H=$T/home
mkdir -p "$H/Maildir/tmp" "$H/Maildir/new" "$H/Maildir/cur"
chmod 755 "$T" "$H"
if [ "$(id -u)" = 0 ]; then
  U=4242
  chown -R $U:$U "$H"
  LD="$(command -v setpriv) --reuid=$U --regid=$U --clear-groups $B/local-deliver"
else
  U=$(id -u)
  LD=$B/local-deliver
fi
PATH=$B:$PATH
export PATH
msg() { printf 'From: ann@a.example\nSubject: %s\n\nbody %s\nFrom here\n' "$1" "$1"; }
qmail() { printf "$1" >"$H/.qmail"; chmod 644 "$H/.qmail"; [ "$(id -u)" = 0 ] && chown $U:$U "$H/.qmail"; }
ld() { msg "$1" | $LD joe "$H" joe "" "" example.com ann@a.example >"$T/out" 2>"$T/err"; }

# preline in a .qmail: the program gets From_, Return-Path, Delivered-To, then the message
qmail '|preline cat > got\n'
printf 'From: ann@a.example\nSubject: one\n\nbody one\n' | $LD joe "$H" joe "" "" example.com ann@a.example >"$T/out" 2>"$T/err"
is "$?" 0 "|preline cat: delivered"
"$PY" - "$H/got" > "$T/py" <<'EOF'
import mailbox, sys
(m,) = list(mailbox.mbox(sys.argv[1]))
print(m.get_from().split()[0], m["Return-Path"], m["Delivered-To"], m["Subject"], repr(m.get_payload()))
EOF
is "$(cat "$T/py")" "ann@a.example <ann@a.example> joe@example.com one 'body one\\n'" "python's mailbox reads it as an mbox message: From_ line, Return-Path, Delivered-To, then the message"
ld one
is "$(sed -n '4,$p' "$H/got")" "$(msg one)" "the message itself byte for byte after the three lines (a From line in it not quoted, as qmail's)"
qmail '|preline -f -r cat > got\n'
ld two
is "$(head -1 "$H/got"):$(sed 1d "$H/got" | cksum)" "Delivered-To: joe@example.com:$(msg two | cksum)" "-f -r: the Delivered-To line alone"
qmail '|preline -d -f cat > got\n'
ld three
is "$(head -1 "$H/got")" "Return-Path: <ann@a.example>" "-d -f: the Return-Path line alone"
qmail '|preline sh -c "cat >/dev/null; exit 99"\n./Maildir/\n'
ld four
is "$?:$(ls "$H/Maildir/new" | wc -l)" "0:0" "the program's 99 passes through: the chain stops, nothing in the Maildir"
qmail '|preline sh -c "cat >/dev/null; exit 100"\n'
ld five
is "$?" 100 "the program's 100 passes through: a bounce"

# preline alone
export UFLINE='From a@b Thu Jan  1 00:00:00 2026' RPLINE='Return-Path: <a@b>
' DTLINE='Delivered-To: c@d'
msg six | "$B/preline" cat > "$T/out"
is "$(head -3 "$T/out")" "From a@b Thu Jan  1 00:00:00 2026
Return-Path: <a@b>
Delivered-To: c@d" "the three lines in order, a newline added only where missing"
head -c 3000000 /dev/zero | tr '\0' 'x' > "$T/big"
is_rc 3 "a program that stops reading a 3 MB message at once: its code, no hang" sh -c "'$B/preline' sh -c 'head -c 1 >/dev/null; exit 3' < '$T/big'"
is_rc 111 "a program killed by a signal: 111" sh -c "msg x | '$B/preline' sh -c 'kill -9 \$\$'"
is_rc 111 "a program that cannot be run: 111" sh -c "msg x | '$B/preline' ./no-such-program"
like "$(cat "$T/err")" 'unable to run \./no-such-program' "saying so"
is_rc 100 "UFLINE not set: 100" sh -c "msg x | env -u UFLINE '$B/preline' cat"
like "$(cat "$T/err")" 'UFLINE' "saying which"
is_rc 0 "UFLINE not set but -f: fine" sh -c "msg x | env -u UFLINE '$B/preline' -f cat >/dev/null"
is_rc 100 "no program: usage" "$B/preline"
is_rc 100 "an unknown option: usage" "$B/preline" -x cat

# except
is_rc 100 "except: prog exits 0 -> 100" "$B/except" true
is_rc 0 "prog exits 1 -> 0" "$B/except" false
is_rc 0 "prog exits 100 -> 0" "$B/except" sh -c 'exit 100'
is_rc 111 "prog exits 111 -> 111" "$B/except" sh -c 'exit 111'
is_rc 111 "prog killed -> 111" "$B/except" sh -c 'kill -9 $$'
is_rc 111 "prog cannot be run -> 111" "$B/except" ./no-such-program
is_rc 100 "no prog: usage" "$B/except"
qmail '|except grep -q spam\n./Maildir/\n'
msg "spam offer" | $LD joe "$H" joe "" "" example.com ann@a.example >"$T/out" 2>"$T/err"
is "$?:$(ls "$H/Maildir/new" | wc -l)" "100:0" "a .qmail with |except grep -q spam bounces the spam"
ld "hello"
is "$?:$(ls "$H/Maildir/new" | wc -l)" "0:1" "and delivers the rest"
