#!/bin/sh
# Unit tests of tools/lib/ (t/unit/*.c, built by make into build/unit/).
. "$(dirname "$0")/lib.sh"
U=${SLUICE_UNIT:-$TOP/build/unit}
set -- "$U"/*
[ -x "$1" ] || skip_all "no unit test binaries in $U (run make)"
plan $#
for u in "$@"; do
  mkdir "$T/$(basename "$u")"
  ok "unit $(basename "$u")" "$u" "$T/$(basename "$u")"
done
