#!/bin/sh
# Deliveries per second into a Maildir, one process per message as a .qmail line runs it:
# sluice's maildir-deliver (which also fsyncs new/, so one more disk flush per message)
# against safecat (Debian: safecat tmp new). Both run in the same loop, alternating rounds,
# in a directory on the real disk (under the build directory: not a tmpfs, where fsync costs
# nothing). The first line is one delivery at a time; the second has 4 deliveries running at
# once, as a queue runner delivering to several local recipients does.
#   ROUNDS (10) x PER (100) messages per tool; BENCHDIR: where to make the Maildirs.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${SLUICE_BIN:-$TOP/bin}
ROUNDS=${ROUNDS:-10}
PER=${PER:-100}
P=4
command -v safecat >/dev/null || { echo "maildir-deliver: safecat is not installed (make bench-deps)" >&2; exit 1; }
[ -x "$B/maildir-deliver" ] || { echo "maildir-deliver: no $B/maildir-deliver (make)" >&2; exit 1; }
mkdir -p "${BENCHDIR:-$TOP/build}"
D=$(mktemp -d "${BENCHDIR:-$TOP/build}/bench-maildir.XXXXXX") || exit 1
trap 'rm -rf "$D"' EXIT
trap 'exit 1' INT TERM
fs=$(stat -f -c %T "$D")
case $fs in tmpfs|ramfs) echo "maildir-deliver: warning: $D is on $fs, where fsync costs nothing" >&2 ;; esac

# a typical small message: a header and 2.7 KB of text
{
  printf 'Return-Path: <ann@a.example>\nDelivered-To: bob@b.example\nFrom: Ann <ann@a.example>\n'
  printf 'To: bob@b.example\nSubject: benchmark\nDate: Tue, 25 Nov 2025 10:00:00 +0000\n'
  printf 'Message-ID: <bench@a.example>\n\n'
  i=0; while [ $i -lt 40 ]; do printf 'The quick brown fox jumps over the lazy dog, again and again %04d.\n' $i; i=$((i+1)); done
} >"$D/msg"

now() { date +%s%N; }
sluice() { i=0; while [ $i -lt "$1" ]; do "$B/maildir-deliver" "$D/S" <"$D/msg" || exit 1; i=$((i+1)); done; }
classic() { i=0; while [ $i -lt "$1" ]; do safecat "$D/C/tmp" "$D/C/new" <"$D/msg" >/dev/null || exit 1; i=$((i+1)); done; }
# run CONCURRENCY LABEL: alternate rounds of both, print the rates
run() {
  rm -rf "$D/S" "$D/C"
  mkdir -p "$D/S/tmp" "$D/S/new" "$D/S/cur" "$D/C/tmp" "$D/C/new" "$D/C/cur"
  ts=0 tc=0 r=0
  while [ $r -lt "$ROUNDS" ]; do
    for tool in sluice classic; do
      t0=$(now)
      k=0; while [ $k -lt "$1" ]; do $tool $((PER / $1)) & k=$((k+1)); done; wait
      t1=$(now)
      if [ $tool = sluice ]; then ts=$((ts + t1 - t0)); else tc=$((tc + t1 - t0)); fi
    done
    r=$((r+1))
  done
  n=$((ROUNDS * (PER / $1) * $1))
  if [ "$(ls "$D/S/new" | wc -l)" -ne $n ] || [ "$(ls "$D/C/new" | wc -l)" -ne $n ]; then
    echo "maildir-deliver: a delivery went missing" >&2; exit 1
  fi
  awk -v n=$n -v ts=$ts -v tc=$tc -v label="$2" 'BEGIN { s = n / (ts / 1e9); c = n / (tc / 1e9);
    printf "maildir-deliver msgs/s%s: sluice %.0f, classic %.0f, ratio %.2f\n", label, s, c, s / c }'
}
run 1 ""
run $P " ($P at once)"
