# t/lib.sh: sourced by every test (". "$(dirname "$0")/lib.sh"").
#   B        the directory of the sluice binaries under test (bin/ or build-san/bin/)
#   D        dynamically linked copies of FAULT_TOOLS (GNUmakefile), for LD_PRELOAD
#   T        a scratch directory, removed on exit
#   plan N; ok DESC CMD...; nok DESC CMD...; is GOT WANT DESC; like GOT ERE DESC;
#   is_rc WANT DESC CMD...; skip_all WHY; skip N WHY; diag TEXT
#   free_port [udp]; start_bg CMD... (pid in $BGPID); wait_listen PORT [tcp|udp] [SECS];
#   stop_pid PID; wait_for SECS CMD...
# Classic tools have the same names as some of ours: always call ours as "$B/name".
set -u
TOP=$(cd "$(dirname "$0")" && while [ ! -f GNUmakefile ] && [ "$(pwd)" != / ]; do cd ..; done; pwd)
B=${SLUICE_BIN:-$TOP/bin}
case $B in /*) ;; *) B=$TOP/$B ;; esac
# dynamically linked copies of some tools, for LD_PRELOAD fault injection (bin/ is static)
D=${SLUICE_DYN:-$TOP/build/dyn}
case $D in /*) ;; *) D=$TOP/$D ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-t.XXXXXX")
export LC_ALL=C
unset DNSCACHEIP RELAYCLIENT RBLSMTPD TCPREMOTEIP TCPREMOTEHOST TCPREMOTEINFO QMAILQUEUE
_tap_n=0
_tap_failed=0
_tap_pids=""

_tap_cleanup() {
  for _p in $_tap_pids; do kill -TERM "$_p" 2>/dev/null; done
  for _p in $_tap_pids; do
    _i=0
    while kill -0 "$_p" 2>/dev/null && [ $_i -lt 20 ]; do sleep 0.1; _i=$((_i+1)); done
    kill -KILL "$_p" 2>/dev/null
  done
  # KEEP_T=dir: a copy of the scratch directory for a post-mortem
  [ -n "${KEEP_T:-}" ] && rm -rf "$KEEP_T" && cp -a "$T" "$KEEP_T"
  rm -rf "$T"
}
trap '_tap_rc=$?; _tap_cleanup; exit $_tap_rc' EXIT
trap 'exit 1' HUP INT TERM

plan() { echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
diag() { printf '%s\n' "$*" | sed 's/^/# /' >&2; }
_pass() { _tap_n=$((_tap_n+1)); echo "ok $_tap_n - $1"; }
_fail() { _tap_n=$((_tap_n+1)); _tap_failed=$((_tap_failed+1)); echo "not ok $_tap_n - $1"; }
skip() { _i=0; while [ $_i -lt "$1" ]; do _tap_n=$((_tap_n+1)); echo "ok $_tap_n # skip $2"; _i=$((_i+1)); done; }

# ok DESC CMD...: passes when CMD exits 0; shows CMD's output when it fails.
ok() {
  _d=$1; shift
  if _out=$("$@" 2>&1); then _pass "$_d"; else _r=$?; _fail "$_d"; diag "command: $*" "exit: $_r" "$_out"; fi
}
# nok DESC CMD...: passes when CMD exits non-zero.
nok() {
  _d=$1; shift
  if _out=$("$@" 2>&1); then _fail "$_d"; diag "command unexpectedly succeeded: $*" "$_out"; else _pass "$_d"; fi
}
is() {
  if [ "$1" = "$2" ]; then _pass "$3"; else _fail "$3"; diag "got:" "$1" "expected:" "$2"; fi
}
isnt() {
  if [ "$1" != "$2" ]; then _pass "$3"; else _fail "$3"; diag "got the unwanted value:" "$1"; fi
}
like() {
  if printf '%s\n' "$1" | grep -Eq -- "$2"; then _pass "$3"; else _fail "$3"; diag "got:" "$1" "does not match:" "$2"; fi
}
unlike() {
  if printf '%s\n' "$1" | grep -Eq -- "$2"; then _fail "$3"; diag "got:" "$1" "matches:" "$2"; else _pass "$3"; fi
}
# is_rc WANT DESC CMD...: CMD's exit code is WANT (stdout and stderr kept in $T/out, $T/err).
is_rc() {
  _w=$1; _d=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"; _r=$?
  if [ "$_r" = "$_w" ]; then _pass "$_d"; else _fail "$_d"; diag "command: $*" "exit $_r, expected $_w" "stderr: $(cat "$T/err")"; fi
}

# Debian's python3 starts fast; a python3 found first in PATH may be a slow wrapper (pyenv)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# free_port [udp]: a port nobody listens on now (the kernel picks it).
free_port() {
  "$PY" -c 'import socket,sys
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "${1:-tcp}"
}

# start_bg CMD...: run CMD in the background, killed on exit; its pid in $BGPID.
start_bg() {
  "$@" &
  BGPID=$!
  _tap_pids="$_tap_pids $BGPID"
}

# stop_pid PID: TERM, wait up to 2 s, then KILL; only pids this test started.
stop_pid() {
  kill -TERM "$1" 2>/dev/null
  _i=0
  while kill -0 "$1" 2>/dev/null && [ $_i -lt 20 ]; do sleep 0.1; _i=$((_i+1)); done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return 0
}

# wait_listen PORT [tcp|udp] [SECS]: until something listens on PORT (any address).
wait_listen() {
  _i=0; _max=$(( ${3:-5} * 20 ))
  _f=-ltnH; [ "${2:-tcp}" = udp ] && _f=-lunH
  while [ $_i -lt $_max ]; do
    [ -n "$(ss $_f "sport = :$1" 2>/dev/null)" ] && return 0
    sleep 0.05; _i=$((_i+1))
  done
  diag "nothing listens on port $1 after ${3:-5} s"
  return 1
}

# wait_for SECS CMD...: until CMD succeeds (polling every 50 ms).
wait_for() {
  _max=$(( $1 * 20 )); shift; _i=0
  while [ $_i -lt $_max ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; _i=$((_i+1)); done
  return 1
}
