#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/types.h>
#include "control.h"
#include "qqueue.h"

/* a pipe whose ends are both above 2 and close-on-exec, so the dup2s below cannot clash */
static int qqueue_pipe (int p[2])
{
  int i ;
  if (pipe2(p, O_CLOEXEC) < 0) return 0 ;
  for (i = 0 ; i < 2 ; i++) if (p[i] <= 2)
  {
    int fd = fcntl(p[i], F_DUPFD_CLOEXEC, 3) ;
    if (fd < 0) { int e = errno ; close(p[0]) ; close(p[1]) ; errno = e ; return 0 ; }
    close(p[i]) ; p[i] = fd ;
  }
  return 1 ;
}

static int spawn_program (qqueue *q)
{
  extern char **environ ;
  int m[2], e[2], r ;
  char const *prog = getenv("QMAILQUEUE") ;
  char *argv[2] ;
  posix_spawn_file_actions_t fa ;
  posix_spawnattr_t attr ;
  sigset_t all, none ;
  pid_t pid ;
  if (!prog || !*prog) prog = "queue-inject" ;
  argv[0] = (char *)prog ; argv[1] = 0 ;
  if (!qqueue_pipe(m)) return 0 ;
  if (!qqueue_pipe(e)) { int x = errno ; close(m[0]) ; close(m[1]) ; errno = x ; return 0 ; }
  /* posix_spawn, not fork: one per message, and far cheaper for the caller's hot path.
     The program starts with default signal dispositions and an empty mask, whatever the
     caller ignores or blocks (SIGPIPE, SIGALRM...). */
  r = posix_spawn_file_actions_init(&fa) ;
  if (r) goto fail ;
  r = posix_spawnattr_init(&attr) ;
  if (r) { posix_spawn_file_actions_destroy(&fa) ; goto fail ; }
  sigfillset(&all) ; sigemptyset(&none) ;
  r = posix_spawn_file_actions_adddup2(&fa, m[0], 0) ;
  if (!r) r = posix_spawn_file_actions_adddup2(&fa, e[0], 1) ;
  if (!r) r = posix_spawnattr_setsigdefault(&attr, &all) ;
  if (!r) r = posix_spawnattr_setsigmask(&attr, &none) ;
  if (!r) r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK) ;
  if (!r) r = posix_spawnp(&pid, prog, &fa, &attr, argv, environ) ;
  posix_spawnattr_destroy(&attr) ;
  posix_spawn_file_actions_destroy(&fa) ;
 fail:
  close(m[0]) ; close(e[0]) ;
  if (r)
  {
    close(m[1]) ; close(e[1]) ;
    errno = r ; return 0 ;
  }
  q->pid = pid ; q->msgfd = m[1] ; q->envfd = e[1] ;
  return 1 ;
}

/* a connected stream socket to root followed by sub */
static int connect_path (char const *root, char const *sub)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX } ;
  size_t n = strlen(root), k = strlen(sub) ;
  int fd ;
  if (n + k + 1 > sizeof sun.sun_path) { errno = ENAMETOOLONG ; return -1 ; }
  memcpy(sun.sun_path, root, n) ;
  memcpy(sun.sun_path + n, sub, k + 1) ;
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) ;
  if (fd < 0) return -1 ;
  if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
  {
    int e = errno ;
    close(fd) ;
    errno = e ;
    return -1 ;
  }
  return fd ;
}

int qqueue_connect (void)
{
  return connect_path(control_root(), "/queue/inject") ;
}

/* LEN: into buf (at least UINT64_FMT + 1 bytes): its length */
static size_t nshead (char *buf, size_t len)
{
  size_t n = uint64_fmt(buf, len) ;
  buf[n++] = ':' ;
  return n ;
}

/* a netstring of the pieces v[0..n) (at most 8) in one system call: a reader woken by each
   small write costs more than the write */
static int nsputv (int fd, struct iovec const *v, unsigned int n)
{
  char head[UINT64_FMT + 1] ;
  struct iovec w[10] ;
  size_t len = 0, total ;
  unsigned int i ;
  if (n > 8) { errno = EINVAL ; return 0 ; }
  for (i = 0 ; i < n ; i++) { len += v[i].iov_len ; w[i + 1] = v[i] ; }
  w[0].iov_base = head ; w[0].iov_len = nshead(head, len) ;
  w[n + 1].iov_base = (char *)"," ; w[n + 1].iov_len = 1 ;
  total = w[0].iov_len + len + 1 ;
  return allwritev(fd, w, n + 2) == total ;
}

static int nsput (int fd, char const *s, size_t len)
{
  struct iovec v = { .iov_base = (char *)s, .iov_len = len } ;
  return nsputv(fd, &v, 1) ;
}

/* a netstring appended to sa */
static int nscat (stralloc *sa, char const *s, size_t len)
{
  char head[UINT64_FMT + 1] ;
  return stralloc_catb(sa, head, nshead(head, len)) && stralloc_catb(sa, s, len) && stralloc_catb(sa, ",", 1) ;
}

/* the greeting; with vars, the flag e and the variables of QQUEUE_VARS that are set; with
   q->origin (and no PROTO), the flag l and the injector; then the head of the envelope's
   netstring, and its end ("\0,") last: hbuf[0..len-2) goes before the envelope, the last 2
   bytes after it */
static stralloc hbuf = STRALLOC_ZERO ;

static int hello_build (size_t envlen, int vars, qqueue const *q)
{
  static char const *const names[] = { QQUEUE_VARS, 0 } ;
  static stralloc sa = STRALLOC_ZERO ;
  char const *proto = getenv("PROTO") ;
  char greet[5] = QQUEUE_PROTO ;
  char head[UINT64_FMT + 1] ;
  size_t n = 1 ;
  int origin = q && q->origin && !(proto && *proto) ;
  if (proto && *proto) greet[n++] = 'n' ;
  if (vars) greet[n++] = 'e' ;
  if (origin) greet[n++] = 'l' ;
  hbuf.len = 0 ;
  if (!nscat(&hbuf, greet, n)) return 0 ;
  if (vars)
  {
    sa.len = 0 ;
    for (char const *const *p = names ; *p ; p++)
    {
      char const *val = getenv(*p) ;
      if (val && !(stralloc_cats(&sa, *p) && stralloc_catb(&sa, "=", 1) && stralloc_cats(&sa, val) && stralloc_0(&sa))) return 0 ;
    }
    if (!nscat(&hbuf, sa.s, sa.len)) return 0 ;
  }
  if (origin)
  {
    char o[2 * UINT_FMT + 1] ;
    size_t k = uint_fmt(o, q->ouid) ;
    o[k++] = ' ' ;
    k += uint_fmt(o + k, q->opid) ;
    if (!nscat(&hbuf, o, k)) return 0 ;
  }
  /* the envelope and its final \0 as one netstring */
  return stralloc_catb(&hbuf, head, nshead(head, envlen + 1)) && stralloc_catb(&hbuf, "\0,", 2) ;
}

/* the greeting and the envelope as 3 pieces of w, built by hello_build: 3, or 0 (memory) */
static unsigned int hello_iov (struct iovec *w, char const *env, size_t envlen, int vars, qqueue const *q)
{
  if (!hello_build(envlen, vars, q)) return 0 ;
  w[0].iov_base = hbuf.s ; w[0].iov_len = hbuf.len - 2 ;
  w[1].iov_base = (char *)env ; w[1].iov_len = envlen ;
  w[2].iov_base = hbuf.s + hbuf.len - 2 ; w[2].iov_len = 2 ;
  return 3 ;
}

static int hello (int fd, char const *env, size_t envlen, int vars, qqueue const *q)
{
  struct iovec w[3] ;
  return hello_iov(w, env, envlen, vars, q) && allwritev(fd, w, 3) == hbuf.len + envlen ;
}

int qqueue_hello (int fd, char const *env, size_t envlen)
{
  return hello(fd, env, envlen, 0, 0) ;
}

/* a whole netstring at buf[0..len): 1 with its payload at buf[*at..*at+*n), 0-terminated in
   place; 0 when incomplete */
static int nsparse (char *buf, size_t len, size_t *at, size_t *n)
{
  uint64_t u ;
  size_t i = uint64_scan(buf, &u) ;
  if (!i || i >= len || buf[i] != ':' || u + i + 2 > len) return 0 ;
  if (buf[i + 1 + u] != ',') return 0 ;
  buf[i + 1 + u] = 0 ;
  *at = i + 1 ; *n = u ;
  return 1 ;
}

int qqueue_commit (int fd, char *id)
{
  char why[2] ;
  return qqueue_commit_why(fd, id, why, sizeof why) ;
}

static int answer_why (int fd, char *id, char *why, size_t whymax) ;

int qqueue_commit_why (int fd, char *id, char *why, size_t whymax)
{
  if (allwrite(fd, "0:,", 3) < 3 && errno != EPIPE) return 54 ;
  return answer_why(fd, id, why, whymax) ;
}

/* the answer to a committed message: its code, the ID or the reason */
static int answer_why (int fd, char *id, char *why, size_t whymax)
{
  char buf[256] ;
  size_t len = 0, at = 0, n = 0, k ;
  unsigned int code ;
  int whole = 0 ;
  /* the answer may have come early (a refused envelope): read it in every case */
  while (len < sizeof buf - 1 && !whole)
  {
    ssize_t r = read(fd, buf + len, sizeof buf - 1 - len) ;
    if (r < 0) return errno == EINTR ? 52 : 54 ;
    if (!r) break ;
    len += r ;
    buf[len] = 0 ;
    whole = nsparse(buf, len, &at, &n) ;
  }
  if (!whole) return 54 ;
  k = uint_scan(buf + at, &code) ;
  if (!k || code > 255 || (k < n && buf[at + k] != ' ')) return 54 ;
  if (code && whymax)
  {
    size_t w = k < n ? n - k - 1 : 0 ;
    if (w >= whymax) w = whymax - 1 ;
    if (w) memcpy(why, buf + at + k + 1, w) ;
    why[w] = 0 ;
  }
  if (!code)
  {
    if (k >= n || n - k - 1 >= 48) return 54 ;
    memcpy(id, buf + at + k + 1, n - k - 1) ;
    id[n - k - 1] = 0 ;
  }
  return (int)code ;
}

/* the socket to hand a message to, connected: the filter's ($QMAILQUEUESOCK, *vars set),
   else queue-injectd's unless $QMAILQUEUE names a program; -1 when there is none or it
   cannot be reached. *spawn: whether a program may stand in when the socket fails (for a
   filter's socket only $QMAILQUEUE: never the queue behind the filter's back) */
static int queue_socket (int *vars, int *spawn)
{
  char const *prog = getenv("QMAILQUEUE") ;
  char const *sock = getenv("QMAILQUEUESOCK") ;
  int haveprog = prog && *prog ;
  *vars = sock && *sock ;
  *spawn = !*vars || haveprog ;
  if (*vars) return connect_path(sock, "") ;
  return haveprog ? -1 : qqueue_connect() ;
}

static void qqueue_reset (qqueue *q, char const *env, size_t envlen)
{
  q->env = env ; q->envlen = envlen ; q->id[0] = 0 ; q->why[0] = 0 ;
  q->pid = 0 ; q->msgfd = -1 ; q->envfd = -1 ; q->committed = 0 ;
}

int qqueue_start (qqueue *q, char const *env, size_t envlen)
{
  int vars, spawn ;
  int fd = queue_socket(&vars, &spawn) ;
  qqueue_reset(q, env, envlen) ;
  if (fd >= 0)
  {
    if (hello(fd, env, envlen, vars, q)) { q->msgfd = fd ; return 1 ; }
    close(fd) ;
  }
  if (!spawn) return 0 ;
  return spawn_program(q) ;
}

int qqueue_send (qqueue *q, char const *env, size_t envlen, struct iovec const *v, unsigned int n)
{
  char head[UINT64_FMT + 1] ;
  struct iovec w[14] ;
  size_t len = 0, total = 0 ;
  unsigned int i, k ;
  int vars, spawn, fd, ok, code ;
  if (n > 8) { errno = EINVAL ; return 54 ; }
  fd = queue_socket(&vars, &spawn) ;
  qqueue_reset(q, env, envlen) ;
  if (fd < 0)
  {
    pid_t pid ;
    /* a program: as qqueue_start, qqueue_writev, qqueue_finish do it */
    if (!spawn || !spawn_program(q)) return 74 ;
    if (!qqueue_writev(q, v, n) && errno != EPIPE) { qqueue_abort(q) ; return 53 ; }
    /* the program's pid stands for the queue ID it does not give */
    pid = q->pid ;
    code = qqueue_finish(q) ;
    if (!code) { memcpy(q->id, "qp-", 3) ; q->id[3 + pid_fmt(q->id + 3, pid)] = 0 ; }
    return code ;
  }
  /* a socket: the greeting, the envelope, the message as one piece and the commit, in one
     system call; queue-injectd (or the filter) then wakes once */
  k = hello_iov(w, env, envlen, vars, q) ;
  if (!k) { close(fd) ; return 51 ; }
  for (i = 0 ; i < n ; i++) len += v[i].iov_len ;
  if (len)
  {
    w[k].iov_base = head ; w[k++].iov_len = nshead(head, len) ;
    for (i = 0 ; i < n ; i++) if (v[i].iov_len) w[k++] = v[i] ;
    w[k].iov_base = (char *)"," ; w[k++].iov_len = 1 ;
  }
  w[k].iov_base = (char *)"0:," ; w[k++].iov_len = 3 ;
  for (i = 0 ; i < k ; i++) total += w[i].iov_len ;
  ok = allwritev(fd, w, k) == total ;
  /* a refused envelope is answered before the message is read: the answer counts */
  code = ok || errno == EPIPE ? answer_why(fd, q->id, q->why, sizeof q->why) : 54 ;
  close(fd) ;
  return code ;
}

int qqueue_envelope_add (stralloc *env, char kind, char const *addr)
{
  return stralloc_catb(env, &kind, 1) && stralloc_cats(env, addr) && stralloc_0(env) ;
}

int qqueue_write (qqueue *q, char const *s, size_t len)
{
  if (!len) return 1 ;
  if (q->pid) return allwrite(q->msgfd, s, len) == len ;
  return nsput(q->msgfd, s, len) ;
}

int qqueue_writev (qqueue *q, struct iovec const *v, unsigned int n)
{
  struct iovec w[8] ;
  size_t len = 0 ;
  unsigned int i, k = 0 ;
  if (n > 8) { errno = EINVAL ; return 0 ; }
  for (i = 0 ; i < n ; i++) if (v[i].iov_len) { w[k++] = v[i] ; len += v[i].iov_len ; }
  if (!len) return 1 ;
  if (q->pid) return allwritev(q->msgfd, w, k) == len ;
  return nsputv(q->msgfd, w, k) ;
}

size_t qqueue_frame (qqueue const *q, char *buf, size_t off, size_t len, size_t *start)
{
  char head[UINT64_FMT + 1] ;
  size_t n ;
  if (q->pid || !len) { *start = off ; return len ; }
  n = nshead(head, len) ;
  memcpy(buf + off - n, head, n) ;
  buf[off + len] = ',' ;
  *start = off - n ;
  return n + len + 1 ;
}

size_t qqueue_frame_last (qqueue *q, char *buf, size_t off, size_t len, size_t *start)
{
  size_t n = qqueue_frame(q, buf, off, len, start) ;
  if (q->pid || !len) return n ;
  memcpy(buf + *start + n, "0:,", 3) ;
  q->committed = 1 ;
  return n + 3 ;
}

static int qqueue_reap (qqueue *q)
{
  int wstat ;
  pid_t r ;
  do r = waitpid(q->pid, &wstat, 0) ; while (r < 0 && errno == EINTR) ;
  q->pid = 0 ;
  if (r < 0) return 81 ;
  if (WIFEXITED(wstat)) return WEXITSTATUS(wstat) ;
  return 81 ;
}

int qqueue_finish (qqueue *q)
{
  int bad = 0 ;
  int code ;
  if (!q->pid)
  {
    /* the caller may have made the socket non-blocking to write with deadlines */
    if (q->msgfd >= 0) ndelay_off(q->msgfd) ;
    code = q->msgfd < 0 ? 54 : q->committed ? answer_why(q->msgfd, q->id, q->why, sizeof q->why)
      : qqueue_commit_why(q->msgfd, q->id, q->why, sizeof q->why) ;
    q->committed = 0 ;
    if (q->msgfd >= 0) close(q->msgfd) ;
    q->msgfd = -1 ;
    return code ;
  }
  if (q->msgfd >= 0) { close(q->msgfd) ; q->msgfd = -1 ; }
  if (allwrite(q->envfd, q->env, q->envlen) < q->envlen || allwrite(q->envfd, "", 1) < 1) bad = 1 ;
  close(q->envfd) ; q->envfd = -1 ;
  code = qqueue_reap(q) ;
  /* the program decides; if it said 0 without reading the whole envelope, distrust it */
  if (bad && !code) code = 54 ;
  return code ;
}

void qqueue_abort (qqueue *q)
{
  if (q->msgfd >= 0) { close(q->msgfd) ; q->msgfd = -1 ; }
  if (q->envfd >= 0) { close(q->envfd) ; q->envfd = -1 ; }
  if (q->pid > 0) { kill(q->pid, SIGTERM) ; qqueue_reap(q) ; }
}

int qqueue_permanent (int code)
{
  return (code >= 11 && code <= 31) || code == 91 ;
}

char const *qqueue_strerror (int code)
{
  switch (code)
  {
    case 0 : return "ok" ;
    case 11 : return "address too long" ;
    case 31 : return "mail server permanently refuses to send the message to any recipients" ;
    case 51 : return "out of memory" ;
    case 52 : return "timeout" ;
    case 53 : return "write error (disk full?)" ;
    case 54 : return "unable to read the message or envelope" ;
    case 55 : return "unable to read a configuration file" ;
    case 56 : return "problem making a network connection from this host" ;
    case 61 : return "problem with the queue's home directory" ;
    case 62 : return "problem with the queue directory" ;
    case 63 : return "problem with queue/pid" ;
    case 64 : return "problem with queue/mess" ;
    case 65 : return "problem with queue/intd" ;
    case 66 : return "problem with queue/todo" ;
    case 71 : return "mail server temporarily rejected the message" ;
    case 72 : return "connection to mail server timed out" ;
    case 73 : return "connection to mail server rejected" ;
    case 74 : return "communication with mail server failed" ;
    case 81 : return "internal bug in the queue program" ;
    case 91 : return "envelope format error" ;
    default : return qqueue_permanent(code) ? "permanent queue failure" : "temporary queue failure" ;
  }
}
