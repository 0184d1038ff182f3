# t/services-lib.sh: sourced by the tests of sluice-ctl and the services (t/95, t/97, t/98)
# after t/lib.sh.
#   free_ids           sets OWNER QUEUE SMTPD REMOTE LOG FILTER (uid:gid each, OWNER, QUEUE and SMTPD
#                      sharing a gid) to ids that no user or group of this machine has: the
#                      tests add no user to /etc/passwd
#   IDOPTS             sluice-ctl init's options for them
#   instance_procs DIR the pids of the live processes of the instance root DIR: anything with
#                      SLUICEDIR=DIR in its environment, s6-svscan on DIR/service, anything
#                      whose current directory is under DIR (s6-supervise); zombies left out
#   owner_of PID       PID's real uid
#   stop_on_exit DIR   on exit, sluice-ctl stop DIR before t/lib.sh's cleanup
#   sanitizer_env DIR  the sanitizer options of this run, if any, into DIR/env (the services'
#                      environment comes from there, not from the test's); and, unless DIR/env
#                      names one, a DNSCACHEIP on loopback where nothing answers (auth-results
#                      on port 25 looks up SPF and DMARC: never the machine's resolver)
#   PY                 Debian's python3, which starts in a tenth of the time of a pyenv shim;
#                      python3, as free_port calls it, is that one too
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
python3() { "$PY" "$@"; }
free_ids() {
  _b=4251
  while :; do
    _ok=1
    for _i in 0 1 2 3 4 5 6; do
      if getent passwd $((_b + _i)) >/dev/null || getent group $((_b + _i)) >/dev/null; then _ok=0; fi
    done
    [ $_ok = 1 ] && break
    _b=$((_b + 10))
  done
  OWNER=$_b:$((_b + 4)) QUEUE=$((_b + 1)):$((_b + 4)) SMTPD=$((_b + 5)):$((_b + 4))
  REMOTE=$((_b + 2)):$((_b + 2)) LOG=$((_b + 3)):$((_b + 3)) FILTER=$((_b + 6)):$((_b + 6))
  IDOPTS="-o $OWNER -q $QUEUE -s $SMTPD -r $REMOTE -l $LOG -F $FILTER"
}

instance_procs() {
  "$PY" - "$1" $$ <<'EOF'
import os, sys
root, me = sys.argv[1], sys.argv[2]
for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
    if pid == me:
        continue
    try:
        stat = open("/proc/%s/stat" % pid).read()
        if stat[stat.rindex(")") + 2] == "Z":
            continue
        env = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
        cwd = os.readlink("/proc/%s/cwd" % pid) + "/"
        cmd = open("/proc/%s/cmdline" % pid, "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        continue
    if ("SLUICEDIR=" + root).encode() in env or cwd.startswith(root + "/") or cmd.startswith("s6-svscan " + root + "/service"):
        print(pid)
EOF
}

owner_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

stop_on_exit() {
  _stopdir=$1
  trap '_tap_rc=$?; "$B/sluice-ctl" -d "$_stopdir" -t 5 stop >/dev/null 2>&1; _tap_cleanup; exit $_tap_rc' EXIT
}

sanitizer_env() {
  [ -n "${ASAN_OPTIONS:-}" ] && echo "$ASAN_OPTIONS" > "$1/env/ASAN_OPTIONS"
  [ -n "${UBSAN_OPTIONS:-}" ] && echo "$UBSAN_OPTIONS" > "$1/env/UBSAN_OPTIONS"
  [ -s "$1/env/DNSCACHEIP" ] || echo "127.0.0.1:$(free_port udp)" > "$1/env/DNSCACHEIP"
  return 0
}
