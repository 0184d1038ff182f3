#!/bin/sh
# maildir-deliver never through a link, never into someone else's Maildir: the Maildir and
# its tmp/ new/ cur/ are opened without following symbolic links and must be owned by the
# user delivering. Run as root into a Maildir of uid 1234 whose new/ points elsewhere, it once
# wrote a root-owned file there. Each refusal is a temporary failure (111) that says why,
# and nothing is written anywhere. Needs root (to be root, and to become uid 1234).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root"
command -v setpriv >/dev/null || skip_all "no setpriv (util-linux)"
plan 25
MD=$B/maildir-deliver
chmod 755 "$T"
cd "$T" || exit 1
U=1234
as_user() { setpriv --reuid $U --regid $U --clear-groups "$@"; }
maildir() { rm -rf "$1"; mkdir -p "$1/tmp" "$1/new" "$1/cur"; chown -R "$2:$2" "$1"; }
files() { find "$@" -type f | wc -l | tr -d ' '; }
msg() { printf 'Subject: x\n\nhello\n'; }
mkdir elsewhere && chown $U:$U elsewhere

# root into a Maildir of uid 1234 whose new/ is a link elsewhere
maildir M $U
rmdir M/new && ln -s "$T/elsewhere" M/new && chown -h $U:$U M/new
msg | "$MD" M 2>err
is "$?" 111 "root, the user's Maildir with new/ a symbolic link: 111"
is "$(files elsewhere M)" 0 "nothing written where the link points, nothing in the Maildir"
like "$(cat err)" '^maildir-deliver: fatal: M: the Maildir is owned by uid 1234, not by uid 0 delivering: refused \(#4\.3\.0\)$' "refused first as someone else's Maildir"
# the same as the user: the link itself is refused
msg | as_user "$MD" M 2>err
is "$?" 111 "uid 1234, its Maildir with new/ a symbolic link: 111"
like "$(cat err)" '^maildir-deliver: fatal: M: new/ is a symbolic link: refused \(#4\.3\.0\)$' "says new/ is a symbolic link"
is "$(files elsewhere M)" 0 "nothing written"

# root into the user's sound Maildir: refused too (root delivers as the user, never as root)
maildir M $U
msg | "$MD" M 2>err
is "$?" 111 "root into a sound Maildir of uid 1234: 111"
is "$(files M)" 0 "nothing written"
msg | as_user "$MD" M 2>err
is "$?" 0 "uid 1234 into its own Maildir: delivered"
is "$(files M/new)" 1 "one message in new/"
is "$(stat -c %u "$(find M/new -type f)")" $U "owned by uid 1234"

# tmp/ or cur/ a link, tmp/ of another owner, the Maildir itself a link
for sub in tmp cur; do
  maildir M $U
  rmdir M/$sub && ln -s "$T/elsewhere" M/$sub && chown -h $U:$U M/$sub
  msg | as_user "$MD" M 2>err
  is "$?" 111 "$sub/ a symbolic link: 111"
  like "$(cat err)" "M: $sub/ is a symbolic link: refused" "says so"
done
is "$(files elsewhere)" 0 "nothing written through them"
maildir M $U
chown root:root M/tmp
msg | as_user "$MD" M 2>err
is "$?" 111 "tmp/ owned by root in the user's Maildir: 111"
like "$(cat err)" 'M: tmp/ is owned by uid 0, not by uid 1234 delivering: refused' "says whose it is"
maildir M $U
mkdir home && chown $U:$U home && ln -s "$T/M" home/Maildir && chown -h $U:$U home/Maildir
msg | as_user "$MD" home/Maildir 2>err
is "$?" 111 "the Maildir itself a symbolic link: 111"
like "$(cat err)" '^maildir-deliver: fatal: home/Maildir: is a symbolic link: refused \(#4\.3\.0\)$' "says so"
msg | as_user "$MD" home/Maildir/ 2>/dev/null
is "$?" 111 "... also written with a trailing slash"
msg | as_user "$MD" "$T/M/" 2>/dev/null
is "$?" 0 "a real Maildir written with a trailing slash is delivered to"
is "$(files M)" 1 "once"

# -c makes a Maildir the user owns, and delivers into it
mkdir home2 && chown $U:$U home2
msg | as_user "$MD" -c home2/Maildir 2>err
is "$?" 0 "-c as uid 1234: the Maildir made and delivered to"
is "$(stat -c %u home2/Maildir/new)" $U "owned by uid 1234"
