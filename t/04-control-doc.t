#!/bin/sh
# doc/sluice-control.5 names every control file the tools read, and no file that none reads:
# the names come from the calls that read them in tools/ (control_read*, readnum, readcontrol
# of smtpd and remote delivery, auth-check's failure policy) and from the paths written out;
# showctl(8) lists the same files.
. "$(dirname "$0")/lib.sh"
plan 4
cd "$TOP" || exit 1
{
  grep -hoE '(control_read(line|lines|ulong)|readnum|readcontrol)\([^,]*, *"[a-z0-9.]+"' tools/*.c tools/lib/*.c | sed -E 's/.*"([a-z0-9.]+)"$/\1/'
  grep -hoE '"/?control/[a-z0-9.]+"' tools/*.c tools/lib/*.c | sed -E 's|"/?control/||; s|"$||'
  sed -n 's/.*names\[3\] = { \(.*\) } ;.*/\1/p' tools/auth-check.c | tr -d '" ' | tr ',' '\n'
} | sort -u > "$T/read"
sed -n 's/^\.It Pa \([a-z0-9.]*\)$/\1/p' doc/sluice-control.5 | sort -u > "$T/doc"
ok "the tools read some control files (the scan works)" [ "$(wc -l < "$T/read")" -gt 30 ]
is "$(comm -23 "$T/read" "$T/doc" | tr '\n' ' ')" "" "every control file a tool reads is in sluice-control(5)"
is "$(comm -13 "$T/read" "$T/doc" | tr '\n' ' ')" "" "sluice-control(5) names no file that no tool reads"
SLUICEDIR="$T/none" "$B/showctl" 2>/dev/null | sed -n 's/^\([a-z0-9.]*\): .*/\1/p' | sort -u > "$T/showctl"
is "$(comm -3 "$T/showctl" "$T/doc" | tr '\n\t' '  ')" "" "showctl lists the same files as sluice-control(5)"
