/* sluice-ctl: the administrator's switch for one instance of sluice, the seed's
   "qmail start|stop|restart". init makes the instance root ($SLUICEDIR: control files, rules,
   users database, queue, logs, and the s6 service directories copied from the shipped
   templates); start, stop, restart and status drive a private s6-svscan on
   $SLUICEDIR/service through s6-svc, s6-svwait and s6-svstat; reload recompiles the rules
   and users databases and has the queue reread its control files; queue and flush look at
   the queue and retry it. It never runs a service itself: s6 does, by the run scripts.
   TLS: init names the certificate and key in env/ (or makes a self-signed pair with openssl
   req), and installs the implicit-TLS services only when there is one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/buffer.h>
#include <skalibs/djbunix.h>
#include <skalibs/exec.h>
#include <skalibs/sgetopt.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>

#define USAGE "sluice-ctl [ -d dir ] [ -t secs ] command [ arg ... ]"
#define dieusage() strerr_dieusage(100, USAGE)
#define dienomem() strerr_diefu1sys(111, "allocate memory")
#define USAGE_INIT "sluice-ctl init [ -c ] [ -o owner ] [ -q queueuser ] [ -s smtpduser ] [ -r remoteuser ] [ -l loguser ] [ -F filteruser ] [ -a address ] [ -p service:port ] [ -C certfile -K keyfile ] [ -L certdir ] [ -S ] fqdn"

#define PATHMAX 4096
#define SVMAX 64
#define NAMEMAX 64

static char root[PATHMAX] ;         /* the instance root, absolute */
static char bindir[PATHMAX] ;       /* the directory of this program and of the other sluice tools */
static unsigned int timeout = 30 ;  /* seconds for services to come up or go down */

/* ---- paths, files ---------------------------------------------------------------------------- */

/* buf (PATHMAX bytes) = the strings given, up to a null pointer */
static char *pcat (char *buf, ...)
{
  va_list ap ;
  char const *s ;
  size_t n = 0 ;
  va_start(ap, buf) ;
  while ((s = va_arg(ap, char const *)))
  {
    size_t k = strlen(s) ;
    if (n + k >= PATHMAX) strerr_dief2x(100, "path too long: ", buf) ;
    memcpy(buf + n, s, k + 1) ;
    n += k ;
  }
  va_end(ap) ;
  return buf ;
}
#define RP(buf, ...) pcat(buf, root, __VA_ARGS__, (char const *)0)
#define CAT(buf, ...) pcat(buf, __VA_ARGS__, (char const *)0)

/* path holds exactly data, mode mode, owned by root: written beside it as .NAME.tmp (a name
   that s6-envdir and sluice-ctl skip), then renamed */
static void put (char const *path, char const *data, size_t len, mode_t mode)
{
  char tmp[PATHMAX] ;
  char const *slash = strrchr(path, '/') ;
  size_t d = slash ? (size_t)(slash - path) + 1 : 0 ;
  int fd ;
  if (d + strlen(path + d) + 6 >= PATHMAX) strerr_dief2x(100, "path too long: ", path) ;
  memcpy(tmp, path, d) ;
  tmp[d] = '.' ;
  CAT(tmp + d + 1, path + d, ".tmp") ;
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode) ;
  if (fd < 0) strerr_diefu2sys(111, "create ", tmp) ;
  if (allwrite(fd, data, len) < len || fchmod(fd, mode) < 0 || fsync(fd) < 0) strerr_diefu2sys(111, "write ", tmp) ;
  close(fd) ;
  if (rename(tmp, path) < 0) strerr_diefu4sys(111, "rename ", tmp, " to ", path) ;
}

/* buf (PATHMAX bytes) = path, taken from the current directory when relative, without its
   trailing slashes */
static void absolute (char *buf, char const *path)
{
  size_t n ;
  if (strchr(path, '\n')) strerr_dief2x(100, "a file name with a newline: ", path) ;
  if (path[0] == '/') CAT(buf, path) ;
  else
  {
    stralloc cwd = STRALLOC_ZERO ;
    if (sagetcwd(&cwd) < 0 || !stralloc_0(&cwd)) strerr_diefu1sys(111, "get the current directory") ;
    CAT(buf, cwd.s, "/", path) ;
    stralloc_free(&cwd) ;
  }
  n = strlen(buf) ;
  while (n > 1 && buf[n - 1] == '/') buf[--n] = 0 ;
}

static void putline (char const *path, char const *value)
{
  size_t n = strlen(value) ;
  char line[n + 1] ;
  memcpy(line, value, n) ;
  line[n] = '\n' ;
  put(path, line, n + 1, 0644) ;
}

/* the first line of a file, without its blanks at the end, in sa (0-terminated): 1; 0 when the
   file does not exist */
static int firstline (stralloc *sa, char const *path)
{
  sa->len = 0 ;
  if (!openslurpclose(sa, path))
  {
    if (errno == ENOENT) return 0 ;
    strerr_diefu2sys(111, "read ", path) ;
  }
  {
    char *nl = memchr(sa->s, '\n', sa->len) ;
    if (nl) sa->len = nl - sa->s ;
  }
  while (sa->len && (sa->s[sa->len - 1] == ' ' || sa->s[sa->len - 1] == '\t' || sa->s[sa->len - 1] == '\r')) sa->len-- ;
  if (!stralloc_0(sa)) dienomem() ;
  return 1 ;
}

static int exists (char const *path)
{
  struct stat st ;
  if (lstat(path, &st) == 0) return 1 ;
  if (errno != ENOENT && errno != ENOTDIR) strerr_diefu2sys(111, "stat ", path) ;
  return 0 ;
}

/* a directory with this mode and owner; an existing one gets them too, through a descriptor
   (a link put in its place by the user who owns it is refused, never followed) */
static void mkdir_owned (char const *path, mode_t mode, uid_t uid, gid_t gid)
{
  struct stat st ;
  int fd ;
  if (mkdir(path, mode) < 0 && errno != EEXIST) strerr_diefu2sys(111, "create ", path) ;
  fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) ;
  if (fd < 0)
  {
    if (errno == ENOTDIR || errno == ELOOP) strerr_dief2x(100, "not a directory: ", path) ;
    strerr_diefu2sys(111, "open ", path) ;
  }
  if (fstat(fd, &st) < 0) strerr_diefu2sys(111, "stat ", path) ;
  if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0) strerr_diefu2sys(111, "chown ", path) ;
  if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0) strerr_diefu2sys(111, "chmod ", path) ;
  close(fd) ;
}

/* is a lock (fcntl or OFD) held on path? 1 yes, 0 no or no such file */
static int locked (char const *path)
{
  struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0 } ;
  int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW) ;
  if (fd < 0)
  {
    if (errno == ENOENT) return 0 ;
    strerr_diefu2sys(111, "open ", path) ;
  }
  if (fcntl(fd, F_GETLK, &fl) < 0) strerr_diefu2sys(111, "read the lock of ", path) ;
  close(fd) ;
  return fl.l_type != F_UNLCK ;
}

/* ---- running other programs ------------------------------------------------------------------ */

/* argv (searched in PATH when argv[0] has no slash) with fd 0 from in and fd 1 to out when they
   are not -1, fd 2 to /dev/null when quiet; its exit code, 111 when it was killed or could not
   run */
static int run_io (char const *const *argv, int in, int out, int quiet)
{
  int wstat ;
  pid_t pid = fork() ;
  if (pid < 0) strerr_diefu1sys(111, "fork") ;
  if (!pid)
  {
    if ((in >= 0 && fd_move(0, in) < 0) || (out >= 0 && fd_move(1, out) < 0)) strerr_diefu1sys(111, "set up descriptors") ;
    if (quiet)
    {
      int nul = open("/dev/null", O_WRONLY) ;
      if (nul < 0 || fd_move(2, nul) < 0) _exit(111) ;
    }
    xexec(argv) ;
  }
  if (wait_pid(pid, &wstat) < 0) strerr_diefu2sys(111, "wait for ", argv[0]) ;
  if (!WIFEXITED(wstat)) return 111 ;
  return WEXITSTATUS(wstat) == 126 || WEXITSTATUS(wstat) == 127 ? 111 : WEXITSTATUS(wstat) ;
}
#define run(argv) run_io(argv, -1, -1, 0)

/* argv's standard output, its first line, in sa (0-terminated); its exit code */
static int run_capture (char const *const *argv, stralloc *sa)
{
  int p[2], r ;
  sa->len = 0 ;
  if (pipe2(p, O_CLOEXEC) < 0) strerr_diefu1sys(111, "make a pipe") ;
  {
    int wstat ;
    pid_t pid = fork() ;
    if (pid < 0) strerr_diefu1sys(111, "fork") ;
    if (!pid)
    {
      int nul = open("/dev/null", O_WRONLY) ;
      close(p[0]) ;
      if (fd_move(1, p[1]) < 0 || nul < 0 || fd_move(2, nul) < 0) _exit(111) ;
      xexec(argv) ;
    }
    close(p[1]) ;
    for (;;)
    {
      ssize_t n ;
      if (!stralloc_readyplus(sa, 512)) dienomem() ;
      n = read(p[0], sa->s + sa->len, 512) ;
      if (n < 0 && errno == EINTR) continue ;
      if (n <= 0) break ;
      sa->len += n ;
    }
    close(p[0]) ;
    if (wait_pid(pid, &wstat) < 0) strerr_diefu2sys(111, "wait for ", argv[0]) ;
    r = WIFEXITED(wstat) ? WEXITSTATUS(wstat) : 111 ;
  }
  {
    char *nl = memchr(sa->s, '\n', sa->len) ;
    if (nl) sa->len = nl - sa->s ;
  }
  if (!stralloc_0(sa)) dienomem() ;
  return r ;
}

/* a sluice tool of our own directory (never the classic tool of the same name in PATH) */
static char const *tool (char *buf, char const *name)
{
  return CAT(buf, bindir, "/", name) ;
}

static long long now_ms (void)
{
  struct timespec ts ;
  clock_gettime(CLOCK_MONOTONIC, &ts) ;
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 ;
}

/* the milliseconds left until deadline, at least 1, as text */
static void ms_fmt (char *buf, long long deadline)
{
  long long left = deadline - now_ms() ;
  buf[uint64_fmt(buf, left > 1 ? (uint64_t)left : 1)] = 0 ;
}

static void sleep_ms (unsigned int ms)
{
  struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 } ;
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) ;
}

/* ---- the services ---------------------------------------------------------------------------- */

static char sv[SVMAX][NAMEMAX] ;    /* the service directories of the instance, in start order */
static unsigned int nsv ;

/* the filter services: dkim-sign and auth-results, on sockets under filter/ */
static int filter (char const *name)
{
  return !strcmp(name, "dkim-sign") || !strcmp(name, "auth-results") ;
}

/* queue-injectd, queue-run, userdb-mysqld and the filters come after the others when
   starting, and go after them when stopping: the front doors close before the filters and
   the queue they feed and the users database they read */
static int backend (char const *name)
{
  return !strcmp(name, "inject") || !strcmp(name, "queue") || !strcmp(name, "userdb-mysqld") || filter(name) ;
}

static int svcmp (void const *a, void const *b)
{
  char const *x = a, *y = b ;
  if (backend(x) != backend(y)) return backend(x) - backend(y) ;
  return strcmp(x, y) ;
}

static void services_read (void)
{
  char p[PATHMAX] ;
  DIR *d = opendir(RP(p, "/service")) ;
  if (!d)
  {
    if (errno == ENOENT) strerr_dief3x(100, "no instance at ", root, ": run sluice-ctl init first") ;
    strerr_diefu2sys(111, "open ", p) ;
  }
  for (;;)
  {
    struct dirent *e ;
    char q[PATHMAX] ;
    errno = 0 ;
    e = readdir(d) ;
    if (!e) break ;
    if (e->d_name[0] == '.' || strlen(e->d_name) >= NAMEMAX) continue ;
    if (!exists(RP(q, "/service/", e->d_name, "/run"))) continue ;
    if (nsv == SVMAX) strerr_dief2x(100, "too many services in ", p) ;
    memcpy(sv[nsv++], e->d_name, strlen(e->d_name) + 1) ;
  }
  if (errno) strerr_diefu2sys(111, "read ", p) ;
  closedir(d) ;
  qsort(sv, nsv, NAMEMAX, svcmp) ;
}

/* the services named (all when none is): indexes into sv, in the order of sv */
static unsigned int services_pick (int argc, char const *const *argv, unsigned int *pick)
{
  unsigned int n = 0 ;
  for (int k = 0 ; k < argc ; k++)
  {
    unsigned int i = 0 ;
    while (i < nsv && strcmp(sv[i], argv[k])) i++ ;
    if (i == nsv) strerr_dief4x(100, "no such service: ", argv[k], " in ", root) ;
  }
  for (unsigned int i = 0 ; i < nsv ; i++)
  {
    int want = !argc ;
    for (int k = 0 ; k < argc && !want ; k++) if (!strcmp(sv[i], argv[k])) want = 1 ;
    if (want) pick[n++] = i ;
  }
  return n ;
}

static char *svdir (char *buf, unsigned int i)
{
  return RP(buf, "/service/", sv[i]) ;
}

static int svscan_up (void)
{
  char p[PATHMAX] ;
  return locked(RP(p, "/service/.s6-svscan/lock")) ;
}

static int supervised (unsigned int i, int log)
{
  char p[PATHMAX] ;
  return locked(RP(p, "/service/", sv[i], log ? "/log/supervise/lock" : "/supervise/lock")) ;
}

/* does s6-supervise read its control fifo? It takes its lock before it opens the fifo, and
   s6-svc in between fails with "supervisor not listening" */
static int listening (unsigned int i, int log)
{
  char p[PATHMAX] ;
  int fd = open(RP(p, "/service/", sv[i], log ? "/log/supervise/control" : "/supervise/control"), O_WRONLY | O_NONBLOCK | O_CLOEXEC) ;
  if (fd < 0) return 0 ;
  close(fd) ;
  return 1 ;
}

static int haslog (unsigned int i)
{
  char p[PATHMAX] ;
  return exists(RP(p, "/service/", sv[i], "/log/run")) ;
}

/* s6-svc with one option on a service (or its logger) */
static void svc (char const *opt, unsigned int i, int log)
{
  char d[PATHMAX] ;
  char const *argv[4] = { "s6-svc", opt, d, 0 } ;
  if (log) RP(d, "/service/", sv[i], "/log") ;
  else svdir(d, i) ;
  if (run(argv)) strerr_dief2x(111, "s6-svc failed on ", d) ;
}

/* s6-svwait opt (-U, -D) on the services of pick, until the deadline: its exit code */
static int svwait (char const *opt, unsigned int const *pick, unsigned int n, long long deadline)
{
  char dirs[n ? n : 1][PATHMAX] ;
  char const *argv[5 + n] ;
  char ms[UINT64_FMT] ;
  unsigned int m = 0 ;
  if (!n) return 0 ;
  if (now_ms() >= deadline) return 99 ;
  ms_fmt(ms, deadline) ;
  argv[m++] = "s6-svwait" ; argv[m++] = opt ; argv[m++] = "-t" ; argv[m++] = ms ;
  for (unsigned int k = 0 ; k < n ; k++) argv[m++] = svdir(dirs[k], pick[k]) ;
  argv[m] = 0 ;
  return run_io(argv, -1, -1, 1) ;   /* its "timed out" says less than what follows */
}

/* s6-svstat's line for a service or its logger, in sa; 0 when no supervisor answers */
static int svstat (unsigned int i, int log, stralloc *sa)
{
  char d[PATHMAX] ;
  char const *argv[3] = { "s6-svstat", d, 0 } ;
  if (log) RP(d, "/service/", sv[i], "/log") ;
  else svdir(d, i) ;
  return !run_capture(argv, sa) ;
}

static int isup (unsigned int i, int log)
{
  stralloc sa = STRALLOC_ZERO ;
  int r = svstat(i, log, &sa) && !strncmp(sa.s, "up ", 3) ;
  stralloc_free(&sa) ;
  return r ;
}

/* does the daemon of the socket sub (under the root) answer? */
static int socket_answers (char const *sub)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX } ;
  char p[PATHMAX] ;
  int fd, r ;
  RP(p, sub) ;
  if (strlen(p) >= sizeof sun.sun_path) return 0 ;
  memcpy(sun.sun_path, p, strlen(p) + 1) ;
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) ;
  if (fd < 0) strerr_diefu1sys(111, "make a socket") ;
  r = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0 ;
  close(fd) ;
  return r ;
}

/* ready beyond what s6 knows: the sockets of queue-injectd, userdb-mysqld and the filters
   answer, queue-run holds its lock */
static int ready (unsigned int i)
{
  char p[PATHMAX] ;
  if (!strcmp(sv[i], "inject")) return socket_answers("/queue/inject") ;
  if (!strcmp(sv[i], "userdb-mysqld")) return socket_answers("/users/mysql.sock") ;
  if (filter(sv[i])) return socket_answers(CAT(p, "/filter/", sv[i])) ;
  if (!strcmp(sv[i], "queue")) return locked(RP(p, "/queue/lock")) ;
  return 1 ;
}

/* the last line of a service's log, its stamp cut, for a message */
static void lastlog (unsigned int i, stralloc *sa)
{
  char ld[PATHMAX], p[PATHMAX] ;
  stralloc l = STRALLOC_ZERO ;
  sa->len = 0 ;
  if (!firstline(&l, RP(ld, "/service/", sv[i], "/log/env/LOGDIR")) || !openslurpclose(sa, CAT(p, l.s, "/current")))
    sa->len = 0 ;
  stralloc_free(&l) ;
  while (sa->len && sa->s[sa->len - 1] == '\n') sa->len-- ;
  {
    size_t k = sa->len ;
    while (k && sa->s[k - 1] != '\n') k-- ;
    memmove(sa->s, sa->s + k, sa->len - k) ;
    sa->len -= k ;
  }
  if (sa->len > 26 && sa->s[0] == '@' && sa->s[25] == ' ')
  {
    memmove(sa->s, sa->s + 26, sa->len - 26) ;
    sa->len -= 26 ;
  }
  if (!stralloc_0(sa)) dienomem() ;
}

/* up, and ready as s6 sees it: with a notification-fd, once the service said so */
static int s6ready (unsigned int i, stralloc *st)
{
  char p[PATHMAX] ;
  if (!svstat(i, 0, st)) return 0 ;
  if (strncmp(st->s, "up ", 3)) return 0 ;
  return !exists(RP(p, "/service/", sv[i], "/notification-fd")) || strstr(st->s, ", ready ") ;
}

/* every service of pick up and ready by the deadline: 1; else each one that is not is named
   with its state and the last line of its log, and 0 */
static int wait_ready (unsigned int const *pick, unsigned int n, long long deadline)
{
  stralloc st = STRALLOC_ZERO, lg = STRALLOC_ZERO ;
  unsigned int notif[SVMAX] = { 0 }, plain[SVMAX] = { 0 }, nn = 0, np = 0 ;
  int ok = 1 ;
  /* s6-svwait -U waits for the readiness a service without notification-fd never gives */
  for (unsigned int k = 0 ; k < n ; k++)
  {
    char p[PATHMAX] ;
    if (exists(RP(p, "/service/", sv[pick[k]], "/notification-fd"))) notif[nn++] = pick[k] ;
    else plain[np++] = pick[k] ;
  }
  svwait("-U", notif, nn, deadline) ;
  svwait("-u", plain, np, deadline) ;
  for (unsigned int k = 0 ; k < n ; k++)
  {
    unsigned int i = pick[k] ;
    while (!ready(i) && now_ms() < deadline) sleep_ms(50) ;
    if (s6ready(i, &st) && ready(i)) continue ;
    if (st.len <= 1 && (!stralloc_copys(&st, "no supervisor") || !stralloc_0(&st))) dienomem() ;
    lastlog(i, &lg) ;
    strerr_warnw5x(sv[i], " is not ready: ", st.s, "; the last line of its log: ", lg.len > 1 ? lg.s : "none") ;
    ok = 0 ;
  }
  stralloc_free(&st) ; stralloc_free(&lg) ;
  return ok ;
}

/* ---- leftovers ------------------------------------------------------------------------------- */

/* the processes of our programs that belong to this instance (SLUICEDIR in their environment),
   but for ourselves: their pids in pids (up to max); how many */
static unsigned int leftovers (pid_t *pids, unsigned int max)
{
  DIR *d = opendir("/proc") ;
  size_t blen = strlen(bindir), rlen = strlen(root) ;
  unsigned int n = 0 ;
  stralloc env = STRALLOC_ZERO ;
  if (!d) return 0 ;
  for (;;)
  {
    struct dirent *e = readdir(d) ;
    char p[64], exe[PATHMAX] ;
    ssize_t k ;
    uint64_t u ;
    if (!e) break ;
    if (!uint640_scan(e->d_name, &u) || (pid_t)u == getpid()) continue ;
    CAT(p, "/proc/", e->d_name, "/exe") ;
    k = readlink(p, exe, sizeof exe - 1) ;
    if (k <= (ssize_t)blen || memcmp(exe, bindir, blen) || exe[blen] != '/') continue ;
    env.len = 0 ;
    if (!openslurpclose(&env, CAT(p, "/proc/", e->d_name, "/environ"))) continue ;
    if (!stralloc_0(&env)) dienomem() ;
    for (size_t i = 0 ; i < env.len ; i += strlen(env.s + i) + 1)
    {
      if (!strncmp(env.s + i, "SLUICEDIR=", 10) && !strncmp(env.s + i + 10, root, rlen) && !env.s[i + 10 + rlen])
      {
        if (n < max) pids[n++] = (pid_t)u ;
        break ;
      }
    }
  }
  closedir(d) ;
  stralloc_free(&env) ;
  return n ;
}

/* wait until the deadline for the instance's last processes to end, then end them: 1 when none
   is left */
static int end_leftovers (long long deadline)
{
  pid_t pids[256] ;
  unsigned int n ;
  while ((n = leftovers(pids, 256)) && now_ms() < deadline) sleep_ms(100) ;
  if (!n) return 1 ;
  for (unsigned int k = 0 ; k < n ; k++)
  {
    char fmt[PID_FMT] ;
    fmt[pid_fmt(fmt, pids[k])] = 0 ;
    strerr_warnw3x("pid ", fmt, " still ran after its service stopped: sent SIGTERM") ;
    kill(pids[k], SIGTERM) ;
    kill(pids[k], SIGCONT) ;
  }
  deadline = now_ms() + 2000 ;
  while ((n = leftovers(pids, 256)) && now_ms() < deadline) sleep_ms(100) ;
  for (unsigned int k = 0 ; k < n ; k++) kill(pids[k], SIGKILL) ;
  deadline = now_ms() + 2000 ;
  while ((n = leftovers(pids, 256)) && now_ms() < deadline) sleep_ms(100) ;
  return !n ;
}

/* ---- commands: start, stop, restart, status ------------------------------------------------- */

static void svscan_start (void)
{
  char d[PATHMAX], l[PATHMAX] ;
  char const *argv[3] = { "s6-svscan", d, 0 } ;
  pid_t pid ;
  RP(d, "/service") ;
  RP(l, "/log/s6-svscan") ;
  pid = fork() ;
  if (pid < 0) strerr_diefu1sys(111, "fork") ;
  if (!pid)
  {
    /* its own session, no terminal, a log file, and an environment of PATH alone: what the
       services see comes from the env directories, never from the shell that started them */
    char const *path = getenv("PATH") ;
    size_t n ;
    if (!path || !*path) path = "/usr/bin:/bin" ;
    n = strlen(path) ;
    char pe[n + 6] ;
    char const *envp[2] = { pe, 0 } ;
    int in = open("/dev/null", O_RDONLY), out = open(l, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) ;
    memcpy(pe, "PATH=", 5) ;
    memcpy(pe + 5, path, n + 1) ;
    if (in < 0 || out < 0 || fd_move(0, in) < 0 || fd_copy(1, out) < 0 || fd_copy(2, out) < 0)
      strerr_diefu2sys(111, "set up the descriptors of s6-svscan: ", l) ;
    setsid() ;
    xexec_ae(argv[0], argv, envp) ;
  }
}

/* s6-svscan running and a supervisor on every service of pick and on its logger */
static void supervisors (unsigned int const *pick, unsigned int n, long long deadline)
{
  if (svscan_up())
  {
    char d[PATHMAX] ;
    char const *argv[4] = { "s6-svscanctl", "-a", RP(d, "/service"), 0 } ;   /* new service directories too */
    if (run(argv)) strerr_dief1x(111, "s6-svscanctl failed") ;
  }
  else svscan_start() ;
  for (unsigned int k = 0 ; k < n ; k++)
  {
    unsigned int i = pick[k] ;
    while (!(supervised(i, 0) && listening(i, 0) && (!haslog(i) || (supervised(i, 1) && listening(i, 1)))))
    {
      if (now_ms() >= deadline)
      {
        char l[PATHMAX] ;
        strerr_dief4x(111, "no supervisor for ", sv[i], " (see ", CAT(l, root, "/log/s6-svscan)")) ;
      }
      sleep_ms(20) ;
    }
  }
}

static int cmd_start (int argc, char const *const *argv)
{
  unsigned int pick[SVMAX], n ;
  long long deadline = now_ms() + 1000LL * timeout ;
  services_read() ;
  n = services_pick(argc, argv, pick) ;
  supervisors(pick, n, deadline) ;
  for (unsigned int k = 0 ; k < n ; k++)
  {
    if (haslog(pick[k])) svc("-u", pick[k], 1) ;
    svc("-u", pick[k], 0) ;
  }
  return wait_ready(pick, n, deadline) ? 0 : 111 ;
}

/* take services down; what is still up at the deadline is killed */
static void down (unsigned int const *pick, unsigned int n, long long deadline)
{
  for (unsigned int k = 0 ; k < n ; k++) svc("-d", pick[k], 0) ;
  if (!svwait("-D", pick, n, deadline)) return ;
  for (unsigned int k = 0 ; k < n ; k++)
  {
    unsigned int i = pick[k] ;
    if (!isup(i, 0)) continue ;
    strerr_warnw2x(sv[i], " did not stop in time: killed") ;
    svc("-k", i, 0) ;
  }
  svwait("-D", pick, n, now_ms() + 5000) ;
}

/* the services named, or all of them and s6-svscan: 0 once they are down (killed if they
   took longer than the time limit), 111 if something still runs */
static int cmd_stop (int argc, char const *const *argv)
{
  unsigned int pick[SVMAX], n, front[SVMAX] = { 0 }, back[SVMAX] = { 0 }, nf = 0, nb = 0 ;
  long long deadline = now_ms() + 1000LL * timeout ;
  services_read() ;
  n = services_pick(argc, argv, pick) ;
  if (!svscan_up()) return 0 ;
  for (unsigned int k = 0 ; k < n ; k++)
  {
    if (!supervised(pick[k], 0)) continue ;
    if (backend(sv[pick[k]])) back[nb++] = pick[k] ; else front[nf++] = pick[k] ;
  }
  down(front, nf, deadline) ;
  down(back, nb, deadline) ;
  if (argc)
  {
    for (unsigned int k = 0 ; k < n ; k++) if (isup(pick[k], 0)) return 111 ;
    return 0 ;
  }
  /* what the services left (a session of a killed tcpsrv) ends before the loggers, which
     read until every writer of their pipe is gone */
  if (deadline < now_ms() + 1000) deadline = now_ms() + 1000 ;
  if (!end_leftovers(deadline)) return 111 ;
  {
    /* everything down: s6-svscan stops the loggers once they have read all, and exits */
    char d[PATHMAX] ;
    char const *sargv[4] = { "s6-svscanctl", "-t", RP(d, "/service"), 0 } ;
    if (run(sargv)) strerr_dief1x(111, "s6-svscanctl failed") ;
    deadline = now_ms() + 1000LL * timeout ;
    while (svscan_up())
    {
      if (now_ms() >= deadline) strerr_dief2x(111, "s6-svscan did not exit on ", d) ;
      sleep_ms(50) ;
    }
  }
  return 0 ;
}

static int cmd_restart (int argc, char const *const *argv)
{
  unsigned int pick[SVMAX], n ;
  long long deadline ;
  if (!svscan_up()) return cmd_start(argc, argv) ;
  services_read() ;
  n = services_pick(argc, argv, pick) ;
  deadline = now_ms() + 1000LL * timeout ;
  supervisors(pick, n, deadline) ;
  {
    /* all at once: an s6-svc -wr for each service that is up, each waiting for its own */
    pid_t pids[SVMAX] = { 0 } ;
    for (unsigned int k = 0 ; k < n ; k++)
    {
      unsigned int i = pick[k] ;
      char d[PATHMAX], ms[UINT64_FMT] ;
      char const *rargv[7] = { "s6-svc", "-wr", "-T", ms, "-r", svdir(d, i), 0 } ;
      if (!isup(i, 0)) { svc("-u", i, 0) ; continue ; }
      ms_fmt(ms, deadline) ;
      pids[k] = fork() ;
      if (pids[k] < 0) strerr_diefu1sys(111, "fork") ;
      if (!pids[k]) xexec(rargv) ;
    }
    for (unsigned int k = 0 ; k < n ; k++)
    {
      int wstat ;
      if (!pids[k]) continue ;
      if (wait_pid(pids[k], &wstat) < 0) strerr_diefu1sys(111, "wait for s6-svc") ;
      if (!WIFEXITED(wstat) || WEXITSTATUS(wstat)) strerr_warnw2x(sv[pick[k]], " did not restart in time") ;
    }
  }
  return wait_ready(pick, n, deadline) ? 0 : 111 ;
}

static int cmd_status (int argc, char const *const *argv)
{
  unsigned int pick[SVMAX], n ;
  int allup = 1 ;
  stralloc a = STRALLOC_ZERO, b = STRALLOC_ZERO, out = STRALLOC_ZERO ;
  services_read() ;
  n = services_pick(argc, argv, pick) ;
  for (unsigned int k = 0 ; k < n ; k++)
  {
    unsigned int i = pick[k] ;
    /* whoever supervises it: our s6-svscan, or the system's through a link */
    int up = supervised(i, 0) && svstat(i, 0, &a) ;
    int logup = !haslog(i) || (supervised(i, 1) && svstat(i, 1, &b)) ;
    if (!stralloc_cats(&out, sv[i]) || !stralloc_cats(&out, ": ")) dienomem() ;
    if (!up) { if (!stralloc_cats(&out, "down (not supervised: sluice-ctl start)")) dienomem() ; }
    else if (!stralloc_cats(&out, a.s)) dienomem() ;
    if (!up || strncmp(a.s, "up ", 3)) allup = 0 ;
    if (haslog(i) && up)
    {
      if (!stralloc_cats(&out, "; log: ") || !stralloc_cats(&out, logup ? b.s : "no supervisor")) dienomem() ;
      if (!logup || strncmp(b.s, "up ", 3)) allup = 0 ;
    }
    if (!stralloc_catb(&out, "\n", 1)) dienomem() ;
  }
  if (buffer_putflush(buffer_1, out.s, out.len) < 0) strerr_diefu1sys(111, "write to stdout") ;
  stralloc_free(&a) ; stralloc_free(&b) ; stralloc_free(&out) ;
  return allup ? 0 : 111 ;
}

/* ---- commands: reload, queue, flush ---------------------------------------------------------- */

/* every rules/NAME.txt compiled to rules/NAME.cdb: 0, or the worst exit code of tcprules */
static int compile_rules (void)
{
  char p[PATHMAX] ;
  int worst = 0 ;
  DIR *d = opendir(RP(p, "/rules")) ;
  if (!d)
  {
    if (errno == ENOENT) return 0 ;
    strerr_diefu2sys(111, "open ", p) ;
  }
  for (;;)
  {
    struct dirent *e = readdir(d) ;
    size_t len ;
    if (!e) break ;
    len = strlen(e->d_name) ;
    if (len < 5 || e->d_name[0] == '.' || strcmp(e->d_name + len - 4, ".txt")) continue ;
    {
      char base[len - 3], txt[PATHMAX], cdb[PATHMAX], tmp[PATHMAX], t[PATHMAX] ;
      char const *argv[4] = { tool(t, "tcprules"), cdb, tmp, 0 } ;
      int fd, r ;
      memcpy(base, e->d_name, len - 4) ;
      base[len - 4] = 0 ;
      RP(txt, "/rules/", e->d_name) ;
      RP(cdb, "/rules/", base, ".cdb") ;
      RP(tmp, "/rules/", base, ".tmp") ;
      fd = open(txt, O_RDONLY | O_CLOEXEC) ;
      if (fd < 0) strerr_diefu2sys(111, "open ", txt) ;
      r = run_io(argv, fd, -1, 0) ;
      close(fd) ;
      if (r)
      {
        strerr_warnw3x("rules not compiled, the old database stays: ", txt, r == 100 ? " has a bad line" : " could not be read or written") ;
        if (r > worst) worst = r ;
      }
    }
  }
  closedir(d) ;
  return worst ;
}

static int rebuild_users (void)
{
  char t[PATHMAX] ;
  char const *argv[3] = { tool(t, "mail-user"), "rebuild", 0 } ;
  int r = run(argv) ;
  if (r) strerr_warnw1x("the users database was not rebuilt, the old one stays") ;
  return r ;
}

static int queue_index (void)
{
  for (unsigned int i = 0 ; i < nsv ; i++) if (!strcmp(sv[i], "queue")) return (int)i ;
  return -1 ;
}

/* does control/userdb name the MariaDB backend? init installs userdb-mysqld only then */
static int userdb_mysql (void)
{
  char p[PATHMAX] ;
  stralloc sa = STRALLOC_ZERO ;
  int r ;
  if (!openslurpclose(&sa, RP(p, "/control/userdb")))
  {
    if (errno == ENOENT) return 0 ;
    strerr_diefu2sys(111, "read ", p) ;
  }
  r = sa.len > 6 && !memcmp(sa.s, "mysql:", 6) && sa.s[6] != '\n' ;
  stralloc_free(&sa) ;
  return r ;
}

static int cmd_reload (int argc, char const *const *argv)
{
  int r, u, q ;
  (void)argv ;
  if (argc) strerr_dieusage(100, "sluice-ctl reload") ;
  services_read() ;
  r = compile_rules() ;
  u = userdb_mysql() ? 0 : rebuild_users() ;   /* MariaDB's users need no compiling */
  if (u > r) r = u ;
  q = queue_index() ;
  if (q >= 0 && supervised(q, 0) && isup(q, 0)) svc("-h", q, 0) ;
  return r ;
}

static int cmd_flush (int argc, char const *const *argv)
{
  int q ;
  (void)argv ;
  if (argc) strerr_dieusage(100, "sluice-ctl flush") ;
  services_read() ;
  q = queue_index() ;
  if (q < 0) strerr_dief2x(100, "no queue service in ", root) ;
  if (!supervised(q, 0) || !isup(q, 0)) strerr_dief1x(111, "the queue is not running: sluice-ctl start queue") ;
  svc("-a", q, 0) ;
  return 0 ;
}

static int cmd_queue (int argc, char const *const *argv)
{
  char t[PATHMAX] ;
  char const *qargv[argc + 2] ;
  qargv[0] = tool(t, "queue-list") ;
  for (int k = 0 ; k < argc ; k++) qargv[1 + k] = argv[k] ;
  qargv[argc + 1] = 0 ;
  xexec(qargv) ;
}

/* ---- init ------------------------------------------------------------------------------------ */

typedef struct role_s role ;
struct role_s
{
  char const *what ;          /* for messages */
  char const *dflt ;          /* the user made by -c when no other is given */
  char const *given ;         /* -o, -q, -s, -r, -l or -F */
  char const *group ;         /* the group -c gives the user: 0, its own, or OWNERGROUP */
  int renew ;                 /* the instance's setting is replaced though the user was not given */
  uid_t uid ;
  gid_t gid ;
} ;

enum { OWNER, QUEUE, SMTPD, REMOTE, LOG, FILTER, NROLES } ;

/* the mail owner's group, whatever it is: queue-run and smtpd read the users database, which
   that group may read */
static char const OWNERGROUP[] = "" ;

static role roles[NROLES] =
{
  [OWNER] = { .what = "mail owner", .dflt = "sluice-mail", .group = "sluice" },
  [QUEUE] = { .what = "queue user", .dflt = "sluice-queue", .group = OWNERGROUP },
  [SMTPD] = { .what = "SMTP user", .dflt = "sluice-smtpd", .group = OWNERGROUP },
  [REMOTE] = { .what = "remote delivery user", .dflt = "sluice-remote", .group = 0 },
  [LOG] = { .what = "log user", .dflt = "sluice-log", .group = 0 },
  [FILTER] = { .what = "filter user", .dflt = "sluice-filter", .group = 0 },
} ;

/* "uid:gid", both numbers: 1 */
static int parse_ids (char const *s, uid_t *uid, gid_t *gid)
{
  uint64_t u, g ;
  size_t n = uint64_scan(s, &u) ;
  if (!n || s[n] != ':') return 0 ;
  s += n + 1 ;
  n = uint64_scan(s, &g) ;
  if (!n || s[n] || u > (uid_t)-2 || g > (gid_t)-2) return 0 ;
  *uid = (uid_t)u ; *gid = (gid_t)g ;
  return 1 ;
}

static void create_user (role *r, char const *name)
{
  char gidfmt[GID_FMT] ;
  char const *argv[14] ;
  unsigned int m = 0 ;
  if (r->group && r->group != OWNERGROUP && !getgrnam(r->group))
  {
    char const *gargv[4] = { "groupadd", "--system", r->group, 0 } ;
    if (run(gargv)) strerr_dief2x(111, "groupadd failed for ", r->group) ;
  }
  argv[m++] = "useradd" ; argv[m++] = "--system" ;
  if (r->group == OWNERGROUP)
  {
    gidfmt[gid_fmt(gidfmt, roles[OWNER].gid)] = 0 ;
    argv[m++] = "--gid" ; argv[m++] = gidfmt ;
  }
  else if (r->group) { argv[m++] = "--gid" ; argv[m++] = r->group ; }
  else argv[m++] = "--user-group" ;
  argv[m++] = "--no-create-home" ; argv[m++] = "--home-dir" ; argv[m++] = "/nonexistent" ;
  argv[m++] = "--shell" ; argv[m++] = "/usr/sbin/nologin" ;
  argv[m++] = name ; argv[m] = 0 ;
  if (run(argv)) strerr_dief2x(111, "useradd failed for ", name) ;
}

/* the role's uid and gid from spec: uid:gid, or a user name (made with -c when missing) */
static void role_resolve (role *r, char const *spec, int create)
{
  struct passwd *pw ;
  if (parse_ids(spec, &r->uid, &r->gid)) goto check ;
  if (!*spec || strchr(spec, ':') || strchr(spec, '/')) strerr_dief4x(100, "bad ", r->what, ": ", spec) ;
  errno = 0 ;
  pw = getpwnam(spec) ;
  if (!pw && errno) strerr_diefu2sys(111, "look up the user ", spec) ;
  if (!pw && create)
  {
    create_user(r, spec) ;
    pw = getpwnam(spec) ;
  }
  if (!pw) strerr_dief5x(100, "no such user: ", spec, " (the ", r->what, "): give -c to create it, or uid:gid") ;
  r->uid = pw->pw_uid ; r->gid = pw->pw_gid ;
 check:
  if (!r->uid || !r->gid) strerr_dief4x(100, "the ", r->what, " must not be root (uid or gid 0): ", spec) ;
}

static void ids_fmt (char *buf, uid_t uid, gid_t gid)
{
  size_t n = uid_fmt(buf, uid) ;
  buf[n++] = ':' ;
  buf[n + gid_fmt(buf + n, gid)] = 0 ;
}

static int fqdn_valid (char const *s)
{
  size_t n = strlen(s), label = 0 ;
  if (!n || n > 253 || s[0] == '.' || s[n - 1] == '.' || s[0] == '-') return 0 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    char c = s[i] ;
    if (c == '.') { if (!label || s[i - 1] == '-') return 0 ; label = 0 ; continue ; }
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return 0 ;
    if (++label > 63 || (label == 1 && c == '-')) return 0 ;
  }
  return 1 ;
}

/* the directory that holds services/ and rules/: installed (bin/../share/sluice) or this
   source tree (bin/.. or build-san/bin/../..) */
static void find_share (char *share)
{
  static char const *const up[3] = { "/../share/sluice", "/..", "/../.." } ;
  for (unsigned int k = 0 ; k < 3 ; k++)
  {
    char p[PATHMAX] ;
    CAT(share, bindir, up[k]) ;
    if (exists(CAT(p, share, "/services/smtpd/run")) && exists(CAT(p, share, "/rules/smtp.txt"))) return ;
  }
  strerr_dief3x(111, "unable to find the shipped services/ and rules/ near ", bindir, " (looked in ../share/sluice, .. and ../..)") ;
}

/* copy the regular files of from into to: all of them, or (keep) those to does not have */
static void copy_files (char const *from, char const *to, int keep)
{
  DIR *d = opendir(from) ;
  stralloc data = STRALLOC_ZERO ;
  if (!d)
  {
    if (errno == ENOENT) return ;
    strerr_diefu2sys(111, "open ", from) ;
  }
  for (;;)
  {
    struct dirent *e = readdir(d) ;
    char src[PATHMAX], dst[PATHMAX] ;
    struct stat st ;
    if (!e) break ;
    if (e->d_name[0] == '.') continue ;
    CAT(src, from, "/", e->d_name) ;
    CAT(dst, to, "/", e->d_name) ;
    if (stat(src, &st) < 0) strerr_diefu2sys(111, "stat ", src) ;
    if (!S_ISREG(st.st_mode) || (keep && exists(dst))) continue ;
    data.len = 0 ;
    if (!openslurpclose(&data, src)) strerr_diefu2sys(111, "read ", src) ;
    put(dst, data.s, data.len, st.st_mode & 0755) ;
  }
  closedir(d) ;
  stralloc_free(&data) ;
}

/* a setting: written when given (value), kept when there, else the default (dflt) */
static void setting (char const *path, char const *value, char const *dflt)
{
  if (value) putline(path, value) ;
  else if (!exists(path)) putline(path, dflt) ;
}

/* what init writes for a role's setting: its ids when given (or renewed), else 0: kept */
static char const *role_setting (unsigned int k, char const *ids[NROLES])
{
  return roles[k].given || roles[k].renew ? ids[k] : 0 ;
}

/* service/NAME from the template: code replaced, settings kept */
static void install_service (char const *share, char const *name, char const *const *ports, char const *addr, char const *ids[NROLES])
{
  char t[PATHMAX], d[PATHMAX], from[PATHMAX], to[PATHMAX], p[PATHMAX] ;
  CAT(t, share, "/services/", name) ;
  RP(d, "/service/", name) ;
  mkdir_owned(d, 0755, 0, 0) ;
  mkdir_owned(CAT(p, d, "/env"), 0755, 0, 0) ;
  mkdir_owned(CAT(p, d, "/log"), 0755, 0, 0) ;
  mkdir_owned(CAT(p, d, "/log/env"), 0755, 0, 0) ;
  copy_files(t, d, 0) ;
  copy_files(CAT(from, t, "/env"), CAT(to, d, "/env"), 1) ;
  copy_files(CAT(from, t, "/log"), CAT(to, d, "/log"), 0) ;
  copy_files(CAT(from, t, "/log/env"), CAT(to, d, "/log/env"), 1) ;
  setting(CAT(p, d, "/log/env/LOGDIR"), 0, RP(to, "/log/", name)) ;
  if (backend(name))
  {
    setting(CAT(p, d, "/env/RUNAS"), role_setting(QUEUE, ids), ids[QUEUE]) ;
    if (!strcmp(name, "queue")) setting(CAT(p, d, "/env/REMOTE"), role_setting(REMOTE, ids), ids[REMOTE]) ;
    /* queue-injectd takes smtpd's word (and no other user's) that it wrote its Received: */
    if (!strcmp(name, "inject")) setting(CAT(p, d, "/env/SMTPUSER"), role_setting(SMTPD, ids), ids[SMTPD]) ;
    /* and the filters' word, which hand smtpd's messages on with the Received: it wrote */
    if (!strcmp(name, "inject")) setting(CAT(p, d, "/env/FILTERUSER"), role_setting(FILTER, ids), ids[FILTER]) ;
    if (filter(name)) setting(CAT(p, d, "/env/RUNAS"), role_setting(FILTER, ids), ids[FILTER]) ;
  }
  else if (exists(CAT(p, d, "/env/PORT")))
  {
    /* a network service: POP3 runs as the mail owner, whom auth-check becomes for pop3d; SMTP
       as the SMTP user, for whom auth-check -n only checks the password */
    unsigned int who = strncmp(name, "pop3", 4) ? SMTPD : OWNER ;
    setting(CAT(p, d, "/env/RUNAS"), role_setting(who, ids), ids[who]) ;
    if (addr) putline(CAT(p, d, "/env/IP"), addr) ;
    for (unsigned int k = 0 ; ports[k] ; k++)
    {
      size_t n = strlen(name) ;
      if (!strncmp(ports[k], name, n) && ports[k][n] == ':') putline(CAT(p, d, "/env/PORT"), ports[k] + n + 1) ;
    }
  }
}

/* ---- init: TLS ---------------------------------------------------------------------------------- */

/* the instance's certificate and key (CERTFILE, KEYFILE) and SNI directory (CERTDIR), as init
   leaves them; empty: none */
static char tlscert[PATHMAX], tlskey[PATHMAX], tlsdir[PATHMAX] ;

/* the services of implicit TLS, which need a certificate: init installs them only with one */
static int tls_only (char const *name)
{
  return !strcmp(name, "smtps") || !strcmp(name, "pop3s") ;
}

/* path is a PEM file that holds marker (a certificate, a key): else exit 100 */
static void pem_check (char const *path, char const *marker, char const *what)
{
  stralloc sa = STRALLOC_ZERO ;
  int ok ;
  if (!openslurpclose(&sa, path))
  {
    if (errno == ENOENT || errno == ENOTDIR) strerr_dief4x(100, "no such file: ", path, ", the ", what) ;
    strerr_diefu2sys(111, "read ", path) ;
  }
  ok = sa.len && memmem(sa.s, sa.len, marker, strlen(marker)) ;
  if (sa.len) memset(sa.s, 0, sa.len) ;   /* a private key, perhaps */
  stralloc_free(&sa) ;
  if (!ok) strerr_dief4x(100, path, " is not a PEM file that holds the ", what, " (no \"-----BEGIN ...\" line)") ;
}

/* the instance's setting NAME of env/ into buf (PATHMAX bytes); empty when there is none */
static void env_setting (char *buf, char const *name)
{
  stralloc sa = STRALLOC_ZERO ;
  char p[PATHMAX] ;
  buf[0] = 0 ;
  if (firstline(&sa, RP(p, "/env/", name)) && sa.len > 1) CAT(buf, sa.s) ;
  stralloc_free(&sa) ;
}

/* tlscert, tlskey, tlsdir from the options (-C -K, -L, -S), else from the instance; each file
   checked before init changes anything; a key that others than root may read is warned about */
static void tls_settings (char const *certfile, char const *keyfile, char const *certdir, int selfsigned, char const *fqdn)
{
  struct stat st ;
  if (certdir) absolute(tlsdir, certdir) ; else env_setting(tlsdir, "CERTDIR") ;
  if (selfsigned) { RP(tlscert, "/tls/cert.pem") ; RP(tlskey, "/tls/key.pem") ; }
  else if (certfile) { absolute(tlscert, certfile) ; absolute(tlskey, keyfile) ; }
  else if (certdir)
  {
    /* certbot's directory of the host name, which it writes in lower case, as tls-wrap asks */
    size_t n = strlen(fqdn) ;
    char name[n + 1] ;
    for (size_t i = 0 ; i <= n ; i++) name[i] = fqdn[i] >= 'A' && fqdn[i] <= 'Z' ? fqdn[i] + 32 : fqdn[i] ;
    CAT(tlscert, tlsdir, "/", name, "/fullchain.pem") ;
    CAT(tlskey, tlsdir, "/", name, "/privkey.pem") ;
  }
  else { env_setting(tlscert, "CERTFILE") ; env_setting(tlskey, "KEYFILE") ; }
  if (!*tlscert != !*tlskey || (*tlsdir && !*tlscert))
    strerr_dief3x(100, "the instance names a part of its TLS setting alone (", RP(tlsdir, "/env/CERTFILE, KEYFILE, CERTDIR"), "): give -C and -K, -L or -S") ;
  if (*tlsdir && (stat(tlsdir, &st) < 0 || !S_ISDIR(st.st_mode))) strerr_dief2x(100, "not a directory: ", tlsdir) ;
  if (!*tlscert || (selfsigned && !(exists(tlscert) && exists(tlskey)))) return ;   /* -S makes them */
  pem_check(tlscert, "-----BEGIN CERTIFICATE-----", "certificate") ;
  pem_check(tlskey, "PRIVATE KEY-----", "private key") ;
  if (stat(tlskey, &st) < 0) strerr_diefu2sys(111, "stat ", tlskey) ;
  if (st.st_uid || (st.st_mode & 077))
  {
    char m[UINT_FMT], u[UID_FMT] ;
    m[uint_ofmt(m, st.st_mode & 07777)] = 0 ;
    u[uid_fmt(u, st.st_uid)] = 0 ;
    strerr_warnw7x("the key ", tlskey, " can be read by others than root (mode 0", m, ", uid ", u,
      "): tls-wrap reads it as root, so chown root and chmod 600 it") ;
  }
}

/* is addr an address of one interface (IPv4 or IPv6, not 0.0.0.0 or ::)? */
static int one_address (char const *addr)
{
  unsigned char ip[16] = { 0 }, zero[16] = { 0 } ;
  if (inet_pton(AF_INET, addr, ip) == 1) return !!memcmp(ip, zero, 4) ;
  if (inet_pton(AF_INET6, addr, ip) == 1) return !!memcmp(ip, zero, 16) ;
  return 0 ;
}

/* -S: a self-signed certificate for fqdn (and addr when it is one address) with its key in
   tls/, made with openssl req when the instance has none; the key root's alone, 0600 */
static void make_selfsigned (char const *fqdn, char const *addr)
{
  char d[PATHMAX], kt[PATHMAX], ct[PATHMAX], subj[PATHMAX], san[PATHMAX] ;
  char const *argv[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
    "-nodes", "-days", "365", "-subj", subj, "-addext", san, "-addext", "basicConstraints=critical,CA:TRUE",
    "-keyout", kt, "-out", ct, 0 } ;
  int ip = addr && one_address(addr), r ;
  mode_t old ;
  if (exists(tlscert) && exists(tlskey)) return ;
  mkdir_owned(RP(d, "/tls"), 0755, 0, 0) ;
  RP(kt, "/tls/.key.pem.tmp") ;
  RP(ct, "/tls/.cert.pem.tmp") ;
  CAT(subj, "/CN=", fqdn) ;
  CAT(san, "subjectAltName=DNS:", fqdn, ip ? ",IP:" : "", ip ? addr : "") ;
  unlink(kt) ; unlink(ct) ;
  old = umask(077) ;   /* the key is never readable by others, not even for a moment */
  r = run_io(argv, -1, -1, 1) ;
  umask(old) ;
  if (r)
  {
    unlink(kt) ; unlink(ct) ; rmdir(d) ;
    strerr_dief1x(111, "unable to make a self-signed certificate: openssl req failed (is openssl installed?)") ;
  }
  {
    char const *const tmp[2] = { kt, ct } ;
    for (unsigned int k = 0 ; k < 2 ; k++)
    {
      int fd = open(tmp[k], O_RDONLY | O_NOFOLLOW | O_CLOEXEC) ;
      if (fd < 0 || fchown(fd, 0, 0) < 0 || fchmod(fd, k ? 0644 : 0600) < 0 || fsync(fd) < 0) strerr_diefu2sys(111, "secure ", tmp[k]) ;
      close(fd) ;
    }
  }
  if (rename(kt, tlskey) < 0) strerr_diefu4sys(111, "rename ", kt, " to ", tlskey) ;
  if (rename(ct, tlscert) < 0) strerr_diefu4sys(111, "rename ", ct, " to ", tlscert) ;
}

/* the queue directory: owned by the queue user, its subdirectories private */
static void make_queue (void)
{
  static char const *const sub[4] = { "/tmp", "/todo", "/mess", "/info" } ;
  char q[PATHMAX], p[PATHMAX] ;
  struct stat st ;
  RP(q, "/queue") ;
  if (lstat(q, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_uid != roles[QUEUE].uid))
  {
    char u[UID_FMT] ;
    u[uid_fmt(u, st.st_uid)] = 0 ;
    strerr_dief4x(100, q, " belongs to uid ", u, ", not to the queue user: give -q that user, or move the queue away") ;
  }
  /* 0711: smtpd and local programs reach the socket queue/inject, nobody lists the queue */
  mkdir_owned(q, 0711, roles[QUEUE].uid, roles[QUEUE].gid) ;
  for (unsigned int k = 0 ; k < 4 ; k++) mkdir_owned(CAT(p, q, sub[k]), 0700, roles[QUEUE].uid, roles[QUEUE].gid) ;
}

/* the directory dfd (path, for messages) and what is under it (a key made by root with
   dkim-sign -g) owned by uid:gid, files 0600, directories 0700; everything through
   descriptors, no link followed: the directories are the filter user's, who could swap a
   name for a link to a file of root's while init runs */
static void own_fd (int dfd, char const *path, uid_t uid, gid_t gid)
{
  DIR *dir ;
  if (fchown(dfd, uid, gid) < 0 || fchmod(dfd, 0700) < 0) strerr_diefu2sys(111, "give to the filter user ", path) ;
  dir = fdopendir(dfd) ;
  if (!dir) strerr_diefu2sys(111, "open ", path) ;
  for (;;)
  {
    struct dirent *e = readdir(dir) ;
    char p[PATHMAX] ;
    struct stat st ;
    int fd ;
    if (!e) break ;
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue ;
    CAT(p, path, "/", e->d_name) ;
    fd = openat(dirfd(dir), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) ;
    if (fd < 0)
    {
      if (errno == ELOOP) continue ;   /* a symbolic link: left alone */
      strerr_diefu2sys(111, "open ", p) ;
    }
    if (fstat(fd, &st) < 0) strerr_diefu2sys(111, "stat ", p) ;
    if (S_ISDIR(st.st_mode)) { own_fd(fd, p, uid, gid) ; continue ; }
    /* a hard link to another file (made by the directory's owner) is not given away */
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1) strerr_dief2x(100, "not a key file of its own (a link?): ", p) ;
    if (fchown(fd, uid, gid) < 0 || fchmod(fd, 0600) < 0) strerr_diefu2sys(111, "give to the filter user ", p) ;
    close(fd) ;
  }
  closedir(dir) ;
}

static void own_tree (char const *path, uid_t uid, gid_t gid)
{
  int fd ;
  mkdir_owned(path, 0700, uid, gid) ;
  fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) ;
  if (fd < 0) strerr_diefu2sys(111, "open ", path) ;
  own_fd(fd, path, uid, gid) ;
}

/* the filters' places: control/dkim (the DKIM keys, the filter user's alone) and filter/ (their
   sockets, made by the filter user, reached by smtpd's group and by nobody else) */
static void make_filterdirs (void)
{
  char p[PATHMAX] ;
  own_tree(RP(p, "/control/", "dkim"), roles[FILTER].uid, roles[FILTER].gid) ;   /* keys, not control files */
  mkdir_owned(RP(p, "/filter"), 0750, roles[FILTER].uid, roles[SMTPD].gid) ;
}

/* a log directory, and what s6-log keeps in it, owned by the log user */
static void make_logdir (char const *name)
{
  char d[PATHMAX] ;
  DIR *dir ;
  RP(d, "/log/", name) ;
  mkdir_owned(d, 0750, roles[LOG].uid, roles[LOG].gid) ;
  dir = opendir(d) ;
  if (!dir) strerr_diefu2sys(111, "open ", d) ;
  for (;;)
  {
    struct dirent *e = readdir(dir) ;
    char p[PATHMAX] ;
    if (!e) break ;
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue ;
    if (lchown(CAT(p, d, "/", e->d_name), roles[LOG].uid, roles[LOG].gid) < 0) strerr_diefu2sys(111, "chown ", p) ;
  }
  closedir(dir) ;
}

static int cmd_init (int argc, char const *const *argv)
{
  char const *ports[8] = { 0 } ;
  char const *addr = 0 ;
  char ids[NROLES][UID_FMT + GID_FMT + 1] ;
  char const *idp[NROLES] ;
  char share[PATHMAX], p[PATHMAX], q[PATHMAX] ;
  char const *fqdn ;
  char const *certfile = 0, *keyfile = 0, *certdir = 0 ;
  unsigned int nports = 0 ;
  int create = 0, selfsigned = 0 ;
  stralloc sa = STRALLOC_ZERO ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "co:q:s:r:l:F:a:p:C:K:L:S", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'c' : create = 1 ; break ;
        case 'o' : roles[OWNER].given = l.arg ; break ;
        case 'q' : roles[QUEUE].given = l.arg ; break ;
        case 's' : roles[SMTPD].given = l.arg ; break ;
        case 'r' : roles[REMOTE].given = l.arg ; break ;
        case 'l' : roles[LOG].given = l.arg ; break ;
        case 'F' : roles[FILTER].given = l.arg ; break ;
        case 'a' : addr = l.arg ; break ;
        case 'C' : certfile = l.arg ; break ;
        case 'K' : keyfile = l.arg ; break ;
        case 'L' : certdir = l.arg ; break ;
        case 'S' : selfsigned = 1 ; break ;
        case 'p' :
        {
          char const *c = strchr(l.arg, ':') ;
          unsigned int port ;
          if (nports == 7 || !c || c == l.arg || !uint0_scan(c + 1, &port) || !port || port > 65535) strerr_dieusage(100, USAGE_INIT) ;
          ports[nports++] = l.arg ;
          break ;
        }
        default : strerr_dieusage(100, USAGE_INIT) ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc != 1) strerr_dieusage(100, USAGE_INIT) ;
  fqdn = argv[0] ;
  if (!fqdn_valid(fqdn)) strerr_dief2x(100, "not a host name: ", fqdn) ;
  if (addr && (!*addr || strpbrk(addr, " \t\n/"))) strerr_dief2x(100, "not an address: ", addr) ;
  if (!certfile != !keyfile) strerr_dief1x(100, "-C and -K go together: the certificate and its key") ;
  if (selfsigned && certfile) strerr_dief1x(100, "-S makes the certificate and key that -C and -K would name: give one or the other") ;
  if ((certfile && !*certfile) || (certdir && !*certdir)) strerr_dieusage(100, USAGE_INIT) ;
  if (strlen(root) + sizeof "/filter/auth-results" > sizeof ((struct sockaddr_un *)0)->sun_path)
    strerr_dief3x(100, "the instance root's path is too long for the socket ", root, "/filter/auth-results") ;
  find_share(share) ;
  tls_settings(certfile, keyfile, certdir, selfsigned, fqdn) ;
  for (unsigned int k = 0 ; k < nports ; k++)
  {
    char const *c = strchr(ports[k], ':') ;
    char name[c - ports[k] + 1] ;
    memcpy(name, ports[k], c - ports[k]) ;
    name[c - ports[k]] = 0 ;
    if (strchr(name, '/') || name[0] == '.' || !exists(CAT(p, share, "/services/", name, "/env/PORT")))
      strerr_dief2x(100, "no network service of that name: ", name) ;
    if (tls_only(name) && !*tlscert) strerr_dief3x(100, "the service ", name, " is TLS alone and needs a certificate: give -C and -K, -L or -S") ;
  }

  /* the users: given, else what the instance has, else the default names */
  if (mkdir(root, 0755) < 0 && errno != EEXIST) strerr_diefu2sys(111, "create ", root) ;
  {
    char const *have[NROLES] = { "/control/mailowner", "/service/queue/env/RUNAS", "/service/smtpd/env/RUNAS", "/service/queue/env/REMOTE", "/env/LOGUSER", "/service/dkim-sign/env/RUNAS" } ;
    for (unsigned int k = 0 ; k < NROLES ; k++)
    {
      char const *spec = roles[k].given ;
      if (!spec && firstline(&sa, RP(p, have[k]))) spec = sa.s ;
      if (!spec) spec = roles[k].dflt ;
      role_resolve(roles + k, spec, create) ;
      if (k == SMTPD && !roles[k].given && spec != roles[k].dflt && roles[k].uid == roles[OWNER].uid)
      {
        /* an instance made before the SMTP user ran smtpd as the mail owner: that goes */
        roles[k].renew = 1 ;
        role_resolve(roles + k, roles[k].dflt, create) ;
      }
      ids_fmt(ids[k], roles[k].uid, roles[k].gid) ;
      idp[k] = ids[k] ;
    }
  }
  if (roles[QUEUE].gid != roles[OWNER].gid)
    strerr_dief2x(100, "the queue user's group must be the mail owner's: ",
      "queue-run reads the users database, which the mail owner's group may read") ;
  if (roles[QUEUE].uid == roles[OWNER].uid)
    strerr_dief1x(100, "the queue user must not be the mail owner: the mailboxes would be open to queue-run") ;
  if (roles[SMTPD].gid != roles[OWNER].gid)
    strerr_dief2x(100, "the SMTP user's group must be the mail owner's: ",
      "smtpd reads the users database and auth-check -n writes authfail, as that group may") ;
  if (roles[SMTPD].uid == roles[OWNER].uid)
    strerr_dief1x(100, "the SMTP user must not be the mail owner: the mailboxes would be open to smtpd, which talks to the whole Internet") ;
  if (roles[SMTPD].uid == roles[QUEUE].uid)
    strerr_dief1x(100, "the SMTP user must not be the queue user: smtpd would write the queue itself, past queue-injectd") ;
  for (unsigned int k = 0 ; k < NROLES ; k++)
    if (k != FILTER && roles[FILTER].uid == roles[k].uid)
      strerr_dief3x(100, "the filter user must not be the ", roles[k].what, ": the DKIM keys are the filter user's alone") ;

  if (selfsigned) make_selfsigned(fqdn, addr) ;   /* before anything else: openssl may fail */

  /* control: qmail's config-fast, for sluice */
  mkdir_owned(RP(p, "/control"), 0755, 0, 0) ;
  putline(RP(p, "/control/me"), fqdn) ;
  setting(RP(p, "/control/rcpthosts"), 0, fqdn) ;
  setting(RP(p, "/control/locals"), 0, fqdn) ;
  putline(RP(p, "/control/mailowner"), ids[OWNER]) ;

  /* rules: the shipped ones where the instance has none, all compiled */
  mkdir_owned(RP(p, "/rules"), 0755, 0, 0) ;
  copy_files(CAT(q, share, "/rules"), p, 1) ;
  {
    DIR *d = opendir(p) ;
    if (!d) strerr_diefu2sys(111, "open ", p) ;
    for (;;)
    {
      struct dirent *e = readdir(d) ;
      size_t n ;
      if (!e) break ;
      n = strlen(e->d_name) ;
      if (n > 4 && !strcmp(e->d_name + n - 4, ".txt") && chmod(RP(q, "/rules/", e->d_name), 0644) < 0) strerr_diefu2sys(111, "chmod ", q) ;
    }
    closedir(d) ;
  }
  if (compile_rules()) strerr_dief1x(100, "unable to compile the rules: fix them and run sluice-ctl init again") ;

  /* the users database, readable by the mail owner's group (smtpd and auth-check -n as the SMTP
     user, auth-check as the mail owner, queue-run as the queue user) */
  mkdir_owned(RP(p, "/users"), 0750, 0, roles[OWNER].gid) ;
  if (!userdb_mysql())   /* the cdb; MariaDB's users are userdb-mysqld's (its service below) */
  {
    int fd ;
    if (!exists(RP(p, "/users/cdb")) && rebuild_users()) strerr_dief1x(111, "unable to make the users database") ;
    fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) ;
    if (fd < 0 || fchown(fd, 0, roles[OWNER].gid) < 0 || fchmod(fd, 0640) < 0) strerr_diefu2sys(111, "set the owner of ", p) ;
    close(fd) ;
  }
  mkdir_owned(RP(p, "/domains"), 0755, 0, 0) ;
  {
    /* failed logins, written by every auth-check: as the mail owner (POP3) and as the SMTP
       user (SMTP AUTH), of one group */
    int fd = open(RP(p, "/authfail"), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660) ;
    if (fd < 0 || fchown(fd, roles[OWNER].uid, roles[OWNER].gid) < 0 || fchmod(fd, 0660) < 0) strerr_diefu2sys(111, "make ", p) ;
    close(fd) ;
  }
  make_queue() ;
  make_filterdirs() ;

  /* the settings every service reads first */
  mkdir_owned(RP(p, "/env"), 0755, 0, 0) ;
  putline(RP(p, "/env/SLUICEDIR"), root) ;
  {
    char path[PATHMAX] ;
    putline(RP(p, "/env/PATH"), CAT(path, bindir, ":/usr/local/bin:/usr/bin:/bin")) ;
  }
  setting(RP(p, "/env/DNSCACHEIP"), 0, "") ;
  setting(RP(p, "/env/LOGUSER"), role_setting(LOG, idp), ids[LOG]) ;
  setting(RP(p, "/env/LOGSIZE"), 0, "1000000") ;
  setting(RP(p, "/env/LOGFILES"), 0, "20") ;
  /* TLS: named here for every service; tls-wrap reads the files for each connection */
  if (*tlscert)
  {
    putline(RP(p, "/env/CERTFILE"), tlscert) ;
    putline(RP(p, "/env/KEYFILE"), tlskey) ;
  }
  if (*tlsdir) putline(RP(p, "/env/CERTDIR"), tlsdir) ;

  /* the service directories and their logs */
  mkdir_owned(RP(p, "/service"), 0755, 0, 0) ;
  mkdir_owned(RP(p, "/log"), 0755, 0, 0) ;
  {
    DIR *d = opendir(CAT(q, share, "/services")) ;
    if (!d) strerr_diefu2sys(111, "open ", q) ;
    for (;;)
    {
      struct dirent *e = readdir(d) ;
      if (!e) break ;
      if (e->d_name[0] == '.' || strlen(e->d_name) >= NAMEMAX || !exists(CAT(p, q, "/", e->d_name, "/run"))) continue ;
      if (tls_only(e->d_name) && !*tlscert) continue ;
      if (!strcmp(e->d_name, "userdb-mysqld") && !userdb_mysql()) continue ;
      install_service(share, e->d_name, ports, addr, idp) ;
      make_logdir(e->d_name) ;
    }
    closedir(d) ;
  }
  stralloc_free(&sa) ;
  return 0 ;
}

/* ---- main ------------------------------------------------------------------------------------ */

static void find_self (void)
{
  ssize_t n = readlink("/proc/self/exe", bindir, sizeof bindir - 1) ;
  if (n <= 0) strerr_diefu1sys(111, "read /proc/self/exe") ;
  bindir[n] = 0 ;
  while (n && bindir[n - 1] != '/') n-- ;
  if (n > 1) n-- ;
  bindir[n] = 0 ;
}

static void set_root (char const *dir)
{
  size_t n ;
  if (!dir || !*dir) dir = getenv("SLUICEDIR") ;
  if (!dir || !*dir) dir = "/var/sluice" ;
  if (strchr(dir, '\n')) strerr_dief1x(100, "the instance root's name has a newline") ;
  absolute(root, dir) ;
  n = strlen(root) ;
  if (n + 256 > PATHMAX) strerr_dief2x(100, "the instance root's name is too long: ", root) ;
  if (setenv("SLUICEDIR", root, 1) < 0) dienomem() ;
}

int main (int argc, char const *const *argv)
{
  static struct { char const *name ; int (*f) (int, char const *const *) ; } const cmds[] =
  {
    { "init", cmd_init }, { "start", cmd_start }, { "stop", cmd_stop }, { "restart", cmd_restart },
    { "status", cmd_status }, { "reload", cmd_reload }, { "queue", cmd_queue }, { "flush", cmd_flush },
  } ;
  char const *dir = 0 ;
  PROG = "sluice-ctl" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "d:t:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'd' : dir = l.arg ; break ;
        case 't' : if (!uint0_scan(l.arg, &timeout) || !timeout || timeout > 86400) dieusage() ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (!argc) dieusage() ;
  find_self() ;
  set_root(dir) ;
  umask(022) ;
  signal(SIGPIPE, SIG_IGN) ;
  for (unsigned int k = 0 ; k < sizeof cmds / sizeof *cmds ; k++)
    if (!strcmp(argv[0], cmds[k].name))
      return k ? (*cmds[k].f)(argc - 1, argv + 1) : (*cmds[k].f)(argc, argv) ;   /* init reads options */
  strerr_dief2x(100, "unknown command: ", argv[0]) ;
}
