# t/mysql-lib.sh: sourced by the MariaDB tests after t/lib.sh.
#   my_start          a MariaDB server of the test's own: datadir $T/mydb, unix socket $MYSOCK,
#                     no TCP (--skip-networking), run as root; a database "sluice" and a user
#                     "sluice" (password in $MYPASS); the config file of userdb-mysqld in
#                     $MYCONF. Skips the whole test when mariadbd is not installed.
#   my_stop           stops it (SIGTERM to its pid, waiting); my_start again restarts it on
#                     the same datadir
#   my SQL            runs SQL as the server's root (mariadb client), in database sluice
#   userd_start ROOT  userdb-mysqld for the instance root ROOT (control/userdb written), its
#                     log in $T/userd.log, its pid in USERDPID; waits for its socket
MYSOCK=$T/my.sock
MYPASS="pa'ss\"w0rd"
MYCONF=$T/userdb-mysql.conf
MYPID=
my_bin() {
  for _m in mariadbd /usr/sbin/mariadbd mysqld /usr/sbin/mysqld; do
    command -v "$_m" >/dev/null 2>&1 && { command -v "$_m"; return 0; }
  done
  return 1
}
my_start() {
  _mb=$(my_bin) || skip_all "no MariaDB server (Debian mariadb-server)"
  if [ ! -d "$T/mydb" ]; then
    # --force: no host-name lookup (resolveip would ask the machine's resolver, and a CI
    # container whose name is not in /etc/hosts made the script give up)
    # --tmpdir: a server cleans stale #sql files out of its tmpdir when it starts; with
    # /tmp shared, one test's server removed another's temporary tables mid-install
    mkdir -p "$T/mytmp"
    mariadb-install-db --no-defaults --force --datadir="$T/mydb" --tmpdir="$T/mytmp" --user=root --auth-root-authentication-method=normal \
      --skip-test-db >"$T/my-install.log" 2>&1 || { diag "mariadb-install-db failed:" "$(grep -i -m 10 error "$T/my-install.log")"; exit 1; }
    _fresh=1
  else _fresh=
  fi
  start_bg "$_mb" --no-defaults --datadir="$T/mydb" --tmpdir="$T/mytmp" --socket="$MYSOCK" --skip-networking --user=root \
    --pid-file="$T/my.pid" --log-error="$T/my.err" --innodb-buffer-pool-size=16M --skip-log-bin \
    --skip-name-resolve --innodb-use-native-aio=0 --general-log=1 --general-log-file="$T/my-general.log" 2>>"$T/my.stderr"
  MYPID=$BGPID
  wait_for 120 mariadb --no-defaults -S "$MYSOCK" -u root -e 'SELECT 1' || { diag "mariadbd did not answer in 120 s:" "$(tail -20 "$T/my.err" "$T/my.stderr" 2>&1)"; exit 1; }
  if [ -n "$_fresh" ]; then
    mariadb --no-defaults -S "$MYSOCK" -u root -e "CREATE DATABASE sluice;
      CREATE USER 'sluice'@'localhost' IDENTIFIED BY 'pa\\'ss\"w0rd';
      GRANT ALL ON sluice.* TO 'sluice'@'localhost';"
    printf '# userdb-mysqld(8): the test database\nsocket=%s\ndatabase=sluice\nuser=sluice\npassword=%s\ntimeout=4\n' \
      "$MYSOCK" "$MYPASS" > "$MYCONF"
    chmod 600 "$MYCONF"
  fi
}
my_stop() { [ -n "$MYPID" ] && stop_pid "$MYPID"; MYPID=; }
my() { mariadb --no-defaults -S "$MYSOCK" -u root -N -B sluice -e "$1"; }
userd_start() {
  mkdir -p "$1/control" "$1/users"
  echo "mysql:$MYCONF" > "$1/control/userdb"
  rm -f "$1/users/mysql.sock"
  SLUICEDIR=$1 start_bg "$B/userdb-mysqld" "$MYCONF" 2>>"$T/userd.log"
  USERDPID=$BGPID
  wait_for 10 test -S "$1/users/mysql.sock"
}
