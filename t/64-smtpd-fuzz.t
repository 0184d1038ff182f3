#!/bin/sh
# The SMTP parsers under libFuzzer (clang -fsanitize=fuzzer,address,undefined): the command
# line assembler and MAIL/RCPT/parameter parser (t/fuzz/smtpcmd.c), the DATA decoder against a
# reference decoder (t/fuzz/smtpdata.c), base64 and AUTH PLAIN (t/fuzz/smtpauth.c).
# Built with "make fuzz" into the scratch directory; each runs for a bounded time.
. "$(dirname "$0")/lib.sh"
SECS=${SLUICE_FUZZ_SECS:-7}
[ -n "${SLUICE_SANITIZE:-}" ] && skip_all "the fuzzers are sanitized builds already: run in the normal pass"
command -v clang >/dev/null || skip_all "clang is not installed"
printf 'int LLVMFuzzerTestOneInput (const char *d, unsigned long n) { (void)d ; (void)n ; return 0 ; }\n' > "$T/probe.c"
clang -fsanitize=fuzzer,address,undefined -o "$T/probe" "$T/probe.c" > "$T/probe.log" 2>&1 \
  || skip_all "clang cannot build a libFuzzer program here: $(head -1 "$T/probe.log")"
harnesses=$(cd "$TOP/t/fuzz" && ls smtp*.c | sed 's/\.c$//')   # t/32 runs the others
set -- $harnesses
plan $(($# + 1))

targets=""; for h in $harnesses; do targets="$targets $T/fuzz/$h"; done
# shellcheck disable=SC2086
ok "make fuzz builds every SMTP harness" make -C "$TOP" -j2 --no-print-directory FUZZDIR="$T/fuzz" $targets
for h in $harnesses; do
  mkdir -p "$T/corpus/$h"
  seeds=""; [ -d "$TOP/t/fuzz/corpus/$h" ] && seeds=$TOP/t/fuzz/corpus/$h
  dict=""; [ -f "$TOP/t/fuzz/$h.dict" ] && dict=-dict=$TOP/t/fuzz/$h.dict
  if [ ! -x "$T/fuzz/$h" ]; then _fail "fuzz $h: not built"; continue; fi
  # shellcheck disable=SC2086
  if "$T/fuzz/$h" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
       -artifact_prefix="$T/$h-" $dict "$T/corpus/$h" $seeds > "$T/$h.log" 2>&1; then
    _pass "fuzz $h for $SECS s: $(grep -o 'Done [0-9]* runs' "$T/$h.log" | tail -1), no failure"
  else
    _fail "fuzz $h for $SECS s"
    diag "$(tail -30 "$T/$h.log")"
    for a in "$T/$h-"*; do [ -f "$a" ] && diag "reproducer $(basename "$a"): $(base64 -w0 < "$a")"; done
  fi
done
