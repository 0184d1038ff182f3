# t/inject-lib.sh: sourced by the mail-inject and sendmail tests (t/94, t/95) after t/lib.sh
# and t/queue-lib.sh.
#   clean CMD...       CMD in an environment of PATH, SLUICEDIR and TZ only (add VAR=value
#                      before CMD), as a program started by cron or a web server would be
#                      (and the sanitizers' settings, for SANITIZE=1 builds)
#   take               the one message in todo/, removed from there: its envelope in $T/env
#                      as "Fsender|Trcpt|...|", its Received: line in $T/rcv, the rest of the
#                      message in $T/msg; exit 1 when todo/ does not hold exactly one file
#   hdr NAME           the header fields NAME (case ignored) of $T/msg, unfolded, one a line
#   nothing_queued     todo/ and tmp/ are empty
SANENV="ASAN_OPTIONS=${ASAN_OPTIONS:-} UBSAN_OPTIONS=${UBSAN_OPTIONS:-}"
clean() { env -i PATH="$PATH" SLUICEDIR="$SLUICEDIR" TZ=UTC $SANENV "$@"; }
take() {
  [ "$(ls "$Q/todo" | wc -l)" = 1 ] || { diag "todo/ holds $(ls "$Q/todo" | wc -l) files"; return 1; }
  _f=$Q/todo/$(ls "$Q/todo")
  "$PY" - "$_f" "$T" <<'PYEOF'
import sys
d = open(sys.argv[1], "rb").read()
head, rest = d.split(b"\n\n", 1)
n = int([l for l in head.split(b"\n") if l.startswith(b"envelope ")][0].split()[1])
env, msg = rest[:n], rest[n:]
open(sys.argv[2] + "/env", "wb").write(env.replace(b"\0", b"|"))
rcv, msg = msg.split(b"\n", 1)
open(sys.argv[2] + "/rcv", "wb").write(rcv + b"\n")
open(sys.argv[2] + "/msg", "wb").write(msg)
PYEOF
  _r=$?
  rm -f "$_f"
  return $_r
}
hdr() {
  "$PY" - "$1" "$T/msg" <<'PYEOF'
import sys
name = sys.argv[1].lower().encode()
head = open(sys.argv[2], "rb").read().split(b"\n\n", 1)[0]
fields = []
for l in head.split(b"\n"):
    if l[:1] in (b" ", b"\t") and fields: fields[-1] += l
    else: fields.append(l)
for f in fields:
    if f.split(b":", 1)[0].strip().lower() == name: sys.stdout.buffer.write(f + b"\n")
PYEOF
}
nothing_queued() { [ -z "$(find "$Q/todo" "$Q/tmp" -mindepth 1)" ]; }
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
