#!/bin/sh
# The build's promises: every tool has a man page that mandoc accepts, the tool's USAGE is
# the man page's SYNOPSIS, and every binary that uses cdb_init gets tinycdb's, not the one
# libskarnet also exports (the link order -lcdb -lskarnet decides; see DESIGN.md).
. "$(dirname "$0")/lib.sh"
cd "$TOP" || exit 1
tools=$(ls tools/*.c 2>/dev/null | sed 's|tools/||; s|\.c$||')
[ -n "$tools" ] || skip_all "no tools yet"
n=2; for t in $tools; do n=$((n+4)); done
plan $n

for t in $tools; do
  man=$(ls doc/"$t".[1-8] 2>/dev/null | head -1)
  ok "$t: binary built" test -x "$B/$t"
  if [ -z "$man" ]; then
    _fail "$t: has a man page doc/$t.N"; _fail "$t: man page lints clean"; _fail "$t: USAGE = SYNOPSIS"
  else
    _pass "$t: has a man page $man"
    ok "$t: man page lints clean" sh -c "mandoc -T lint -W warning '$man'"
    usage=$("$B/$t" -% 2>&1 </dev/null | sed -n 's/^[^:]*: usage: //p' | tr -d ' \t\n')
    syn=$(mandoc -T ascii "$man" | col -bx | awk '/^SYNOPSIS/{on=1;next} /^[A-Z]/{on=0} on' | tr -d ' \t\n')
    is "$usage" "$syn" "$t: USAGE is the man page's SYNOPSIS (blanks ignored)"
  fi
done

# cdb functions: skalibs exports cdb_init, cdb_find, cdb_hash... with other meanings. Each
# binary's link map (build/NAME.map) must take every cdb object from tinycdb's libcdb, none
# from libskarnet; a dynamic link must list libcdb before libskarnet.
BUILDDIR=$(dirname "$B")/build; [ "$(basename "$(dirname "$B")")" = build-san ] && BUILDDIR=$(dirname "$B")
bad=""
for t in $tools; do
  map=$BUILDDIR/$t.map
  if [ -f "$map" ]; then
    grep -Eq 'libskarnet\.a\(cdb' "$map" && bad="$bad $t(skalibs cdb object linked)"
  else
    bad="$bad $t(no link map $map)"
  fi
  nm -D --undefined-only "$B/$t" 2>/dev/null | grep -qw 'cdb_[a-z_]*' || continue
  order=$(readelf -d "$B/$t" | sed -n 's/.*NEEDED.*\[\(lib[a-z]*\).*/\1/p' | grep -E '^lib(cdb|skarnet)$' | tr '\n' ' ')
  case $order in libcdb\ *) ;; *) bad="$bad $t($order)" ;; esac
done
is "$bad" "" "every binary takes its cdb functions from tinycdb, none from libskarnet"

bad=""
for m in doc/*.[1-8]; do mandoc -T lint -W warning "$m" >/dev/null 2>&1 || bad="$bad $m"; done
is "$bad" "" "every page in doc/ lints clean"
