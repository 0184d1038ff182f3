# t/pop3-lib.sh: sourced by the POP3 tests (t/7x-*.t) after t/lib.sh.
#   pop3_setup          an instance root in $SLUICEDIR=$T/sluice: the domain example.com owned
#                       by nobody, users alice ("alice pw") and bob ("bob pw"); their Maildirs
#                       $MA and $MB
#   pop3_start NAME [pop3-login options] [-- checkpassword prog...]
#                       the POP3 chain on a loopback port through tcpsrv: $PORT; the logs of
#                       tcpsrv, pop3-login, auth-check and pop3d in $T/NAME.log. By default
#                       the checkpassword part is "auth-check -w 0 pop3d Maildir".
#   deliver MAILDIR [maildir-deliver options]   the message on stdin, delivered as nobody
#   pop3py PORT         run the python on stdin with P = poplib.POP3 connected to PORT,
#                       login() and raw() helpers (see below)
#   raw PORT FILE       (t/smtpd-lib.sh) connect, read the greeting, send FILE, print it all
. "$(dirname "$0")/smtpd-lib.sh"

pop3_setup() {
  chmod 755 "$T"
  SLUICEDIR=$T/sluice; export SLUICEDIR
  mkdir -p "$SLUICEDIR/control"
  echo 'yescrypt 1' > "$SLUICEDIR/control/passwordhash"   # cheap hashes: the tests log in often
  # pop3-login's own delay and limit are tested here; auth-check's across connections in t/53
  echo 0 > "$SLUICEDIR/control/authfailmax"
  echo 0 > "$SLUICEDIR/control/authfaildelay"
  "$B/mail-user" adddomain -u nobody example.com || return 1
  echo 'alice pw' | "$B/mail-user" adduser alice@example.com || return 1
  echo 'bob pw' | "$B/mail-user" adduser bob@example.com || return 1
  MA=$SLUICEDIR/domains/example.com/alice/Maildir
  MB=$SLUICEDIR/domains/example.com/bob/Maildir
  [ -d "$MA/new" ] && [ -d "$MB/cur" ]
}

_pop3_n=0
pop3_start() {
  _name=$1; shift
  _n=$((_pop3_n+1)); _pop3_n=$_n
  _lopts=""
  while [ $# -gt 0 ]; do
    case $1 in --) shift; break ;; *) _lopts="$_lopts $(_quote "$1")"; shift ;; esac
  done
  [ $# -gt 0 ] || set -- "$B/auth-check" -w 0 "$B/pop3d" Maildir
  eval "start_bg \"\$B/tcpsrv\" -v -1 -H -R -P 127.0.0.1 0 \"\$B/pop3-login\" $_lopts pop.example.org \"\$@\"" \
    > "$T/port.p$_n" 2> "$T/$_name.log"
  wait_for 5 test -s "$T/port.p$_n" || { diag "tcpsrv did not start"; return 1; }
  PORT=$(head -1 "$T/port.p$_n")
}

deliver() {
  _md=$1; shift
  setpriv --reuid nobody --regid nogroup --clear-groups "$B/maildir-deliver" "$@" "$_md"
}

pop3py() {
  _port=$1; shift
  cat > "$T/pop3py.py" <<'EOF'
import poplib, socket, sys, time
PORT = int(sys.argv[1])
def connect():
    return poplib.POP3("127.0.0.1", PORT, timeout=10)
def login(p=None, user="alice@example.com", pw="alice pw"):
    p = p or connect()
    p.user(user)
    p.pass_(pw)
    return p
def raw(data, wait=5):
    """send data after the greeting, return everything until the server closes (bytes)"""
    s = socket.create_connection(("127.0.0.1", PORT))
    s.settimeout(wait)
    out = b""
    while b"\n" not in out:
        b = s.recv(4096)
        if not b: break
        out += b
    s.sendall(data)
    try:
        while True:
            b = s.recv(65536)
            if not b: break
            out += b
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out
def retr_bytes(p, n):
    """RETR n as the client receives it: the lines joined with CR LF, unstuffed"""
    resp, lines, octets = p.retr(n)
    return b"".join(l + b"\r\n" for l in lines)
EOF
  cat >> "$T/pop3py.py"
  "$PY" "$T/pop3py.py" "$_port" "$@"
}
