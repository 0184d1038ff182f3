/* queue-injectd: take messages for the queue over a unix socket, so that smtpd and the other
   programs that queue mail start no process per message, and write them into the queue as
   its owner. A pool of forked workers (grown on demand up to -c) each takes one connection
   at a time, handed over by the parent; a worker writes the message as queue-inject would,
   and answers only once it is on disk in todo/. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "unixlisten.h"
#include "fdpass.h"
#include "qinjsrv.h"
#include "qqueue.h"
#include "queue.h"

#define USAGE "queue-injectd [ -c max ] [ -t timeout ] [ -m mode ] [ -N uid ]"
#define dieusage() strerr_dieusage(100, USAGE)

typedef struct worker_s worker ;
struct worker_s
{
  pid_t pid ;     /* 0: free slot */
  int fd ;        /* the parent's end of the socketpair */
  int busy ;
} ;

static unsigned int timeout = 1200 ;
static int qfd = -1 ;
/* the uids of the network servers (-N: smtpd's) whose word is taken that they wrote their
   own Received: line; anybody else gets the local one, as qmail-queue trusted qmaild alone */
static uid_t netuids[16] ;
static unsigned int nnetuids = 0 ;

static int netuid (uid_t u)
{
  if (u == geteuid()) return 1 ;
  for (unsigned int i = 0 ; i < nnetuids ; i++) if (netuids[i] == u) return 1 ;
  return 0 ;
}

/* ---- a worker: one connection ------------------------------------------------------------ */

static void answer (int fd, int code, char const *text)
{
  qinjsrv_answer(fd, code, text) ;
}

/* what went wrong, for the log: a failed read from the client */
static int readfail (int r)
{
  if (r == -2) { strerr_warnw1x("protocol error from a client: message dropped") ; return QUEUE_BUG ; }
  if (r < 0)
  {
    if (errno == ETIMEDOUT) { strerr_warnw1x("a client timed out: message dropped") ; return QUEUE_TIMEOUT ; }
    strerr_warnwu1sys("read from a client (message dropped)") ;
    return QUEUE_READ ;
  }
  return QUEUE_READ ;   /* EOF: the client gave up, nothing to say */
}

static void serve (int fd)
{
  static queue_writer w ;
  static stralloc sa = STRALLOC_ZERO, rcv = STRALLOC_ZERO ;
  static qinjsrv c ;
  struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 } ;
  socklen_t credlen = sizeof cred ;
  unsigned int flags ;
  int network, r, code ;
  qinjsrv_init(&c, fd, timeout) ;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) < 0)
  {
    strerr_warnwu1sys("read the credentials of a client") ;
    answer(fd, QUEUE_BUG, "unable to read the client's credentials") ;
    return ;
  }
  /* the greeting: "1", with "n" when the client wrote its own Received: line, "l" when a
     filter says for whom it injects; the variables a client passes on for a filter ("e")
     are not for the queue */
  sa.len = 0 ;
  r = qinjsrv_greeting(&c, &flags, &sa) ;
  if (r == -3) { answer(fd, QUEUE_BUG, "unknown protocol") ; return ; }
  if (r != 1) { code = readfail(r) ; if (r != 0) answer(fd, code, "bad greeting") ; return ; }
  network = (flags & QINJSRV_NET) && netuid(cred.uid) ;
  /* a filter service handing on a local injection says whose it is: believed from the
     uids trusted with -N (the filters' user), else the client's own credentials stand */
  if (!network && (flags & QINJSRV_ORIGIN) && netuid(cred.uid))
  {
    cred.uid = (uid_t)c.ouid ; cred.pid = (pid_t)c.opid ;
  }
  /* the envelope */
  sa.len = 0 ;
  r = qinjsrv_envelope(&c, &sa, QUEUE_ENVMAX) ;
  if (r == -3) { answer(fd, QUEUE_TOOLONG, "envelope too long") ; return ; }
  if (r != 1) { code = readfail(r) ; if (r != 0) answer(fd, code, "bad envelope netstring") ; return ; }
  rcv.len = 0 ;
  if (!network && !queue_received_local(&rcv, cred.pid, cred.uid)) { answer(fd, QUEUE_NOMEM, "out of memory") ; return ; }
  code = queue_write_begin(&w, qfd, sa.s, sa.len, cred.uid, cred.pid, rcv.len ? rcv.s : 0) ;
  if (code)
  {
    if (code != QUEUE_BADENV && code != QUEUE_TOOLONG) strerr_warnwu1sys("create a file in the queue") ;
    answer(fd, code, qqueue_strerror(code)) ;
    return ;
  }
  /* the message, up to the empty netstring */
  for (;;)
  {
    char const *s ;
    size_t n ;
    r = qinjsrv_data(&c, &s, &n) ;
    if (r != 1) break ;
    code = queue_write_data(&w, s, n) ;
    if (code)
    {
      strerr_warnwu1sys("write a message into the queue") ;
      answer(fd, code, qqueue_strerror(code)) ;
      return ;
    }
  }
  if (r != 2)
  {
    queue_write_abort(&w) ;
    code = readfail(r) ;
    if (r != 0) answer(fd, code, "message not received") ;
    return ;
  }
  code = queue_write_commit(&w) ;
  if (code)
  {
    strerr_warnwu1sys("commit a message to the queue") ;
    answer(fd, code, qqueue_strerror(code)) ;
    return ;
  }
  answer(fd, 0, w.id) ;
}

static void worker_main (int ctl) gccattr_noreturn ;
static void worker_main (int ctl)
{
  for (;;)
  {
    char ch ;
    int fd ;
    ssize_t r = fdpass_recv(ctl, &ch, 1, &fd) ;
    if (r <= 0)
    {
      if (!r || errno == ECONNRESET) _exit(0) ;   /* the parent is gone */
      strerr_diefu1sys(111, "receive a connection from the parent") ;
    }
    if (fd < 0) continue ;
    serve(fd) ;
    close(fd) ;
    if (allwrite(ctl, ".", 1) < 1) _exit(0) ;
  }
}

/* ---- the parent ------------------------------------------------------------------------------ */

static worker *workers ;
static unsigned int maxw = 100 ;
static unsigned int nworkers = 0 ;
static int lfd = -1 ;

static worker *spawn_worker (void)
{
  int sv[2] ;
  pid_t pid ;
  worker *w = 0 ;
  for (unsigned int i = 0 ; i < maxw ; i++) if (!workers[i].pid) { w = workers + i ; break ; }
  if (!w) return 0 ;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) { strerr_warnwu1sys("make a socketpair") ; return 0 ; }
  pid = fork() ;
  if (pid < 0) { strerr_warnwu1sys("fork a worker") ; close(sv[0]) ; close(sv[1]) ; return 0 ; }
  if (!pid)
  {
    /* nothing of the parent's but the queue directory */
    close(sv[0]) ;
    close(lfd) ;
    for (unsigned int i = 0 ; i < maxw ; i++) if (workers[i].pid) close(workers[i].fd) ;
    selfpipe_finish() ;
    worker_main(sv[1]) ;
  }
  close(sv[1]) ;
  w->pid = pid ; w->fd = sv[0] ; w->busy = 0 ;
  nworkers++ ;
  return w ;
}

static void reap (void)
{
  for (;;)
  {
    int wstat ;
    pid_t pid = waitpid(-1, &wstat, WNOHANG) ;
    if (pid <= 0) return ;
    for (unsigned int i = 0 ; i < maxw ; i++) if (workers[i].pid == pid)
    {
      if (workers[i].busy || !WIFEXITED(wstat) || WEXITSTATUS(wstat))
      {
        char fmt[PID_FMT] ;
        fmt[pid_fmt(fmt, pid)] = 0 ;
        strerr_warnw3x("worker ", fmt, WIFSIGNALED(wstat) ? " was killed by a signal" : " died") ;
      }
      close(workers[i].fd) ;
      workers[i].pid = 0 ; workers[i].busy = 0 ;
      nworkers-- ;
      break ;
    }
  }
}

int main (int argc, char const *const *argv)
{
  stralloc path = STRALLOC_ZERO, sock = STRALLOC_ZERO ;
  unsigned int mode = 0666 ;
  int sfd, stopping = 0 ;
  PROG = "queue-injectd" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "c:t:m:N:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'c' : if (!uint0_scan(l.arg, &maxw) || !maxw || maxw > 10000) dieusage() ; break ;
        case 't' : if (!uint0_scan(l.arg, &timeout) || !timeout || timeout > 86400) dieusage() ; break ;
        case 'm' : if (!uint0_oscan(l.arg, &mode) || mode > 0777) dieusage() ; break ;
        case 'N' :
        {
          uint64_t u ;
          if (nnetuids == 16 || !*l.arg || l.arg[uint64_scan(l.arg, &u)] || u > (uid_t)-2) dieusage() ;
          netuids[nnetuids++] = (uid_t)u ;
          break ;
        }
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc) dieusage() ;
  workers = calloc(maxw, sizeof *workers) ;
  if (!workers) strerr_diefu1sys(111, "allocate memory") ;
  if (!queue_path(&path)) strerr_diefu1sys(111, "allocate memory") ;
  qfd = queue_open(path.s) ;
  if (qfd < 0) strerr_diefu2sys(111, "open the queue ", path.s) ;
  {
    struct stat st ;
    if (fstat(qfd, &st) < 0) strerr_diefu2sys(111, "stat ", path.s) ;
    if (st.st_uid != geteuid()) strerr_dief2x(100, path.s, " does not belong to the user queue-injectd runs as") ;
  }
  /* what it writes in, whether queue-run has run yet or not */
  if (mkdirat(qfd, "tmp", 0700) < 0 && errno != EEXIST) strerr_diefu2sys(111, "make ", "queue/tmp") ;
  if (mkdirat(qfd, "todo", 0700) < 0 && errno != EEXIST) strerr_diefu2sys(111, "make ", "queue/todo") ;
  if (!stralloc_copyb(&sock, path.s, path.len - 1) || !stralloc_cats(&sock, "/inject") || !stralloc_0(&sock))
    strerr_diefu1sys(111, "allocate memory") ;
  sig_ignore(SIGPIPE) ;
  umask(077) ;
  sfd = selfpipe_init() ;
  if (sfd < 0) strerr_diefu1sys(111, "make a selfpipe") ;
  {
    sigset_t set ;
    sigemptyset(&set) ;
    sigaddset(&set, SIGCHLD) ; sigaddset(&set, SIGTERM) ; sigaddset(&set, SIGINT) ; sigaddset(&set, SIGHUP) ;
    if (!selfpipe_trapset(&set)) strerr_diefu1sys(111, "trap signals") ;
  }
  lfd = unix_listen_or_die(sock.s, mode) ;
  if (!spawn_worker()) strerr_dief1x(111, "unable to start a worker") ;

  for (;;)
  {
    iopause_fd x[2 + maxw] ;
    worker *idx[maxw] ;
    unsigned int n = 0, busy = 0, idle = 0 ;
    x[n].fd = sfd ; x[n].events = IOPAUSE_READ ; n++ ;
    for (unsigned int i = 0 ; i < maxw ; i++) if (workers[i].pid)
    {
      if (workers[i].busy) busy++ ; else idle++ ;
      x[n].fd = workers[i].fd ; x[n].events = IOPAUSE_READ ; idx[n - 1] = workers + i ; n++ ;
    }
    if (stopping && !busy) break ;
    if (!stopping && (idle || nworkers < maxw)) { x[n].fd = lfd ; x[n].events = IOPAUSE_READ ; n++ ; }
    if (iopause_g(x, n, 0) < 0) strerr_diefu1sys(111, "iopause") ;
    if (x[0].revents & IOPAUSE_READ)
    {
      for (;;)
      {
        int sig = selfpipe_read() ;
        if (sig <= 0) { if (sig < 0) strerr_diefu1sys(111, "read the selfpipe") ; break ; }
        if (sig == SIGCHLD) reap() ;
        else if (sig == SIGTERM || sig == SIGINT) stopping = 1 ;
      }
    }
    for (unsigned int k = 1 ; k < n ; k++)
    {
      worker *w ;
      char ch ;
      if (x[k].fd == lfd || !(x[k].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT))) continue ;
      w = idx[k - 1] ;
      if (!w->pid || w->fd != x[k].fd) continue ;   /* reaped meanwhile */
      if (read(w->fd, &ch, 1) == 1) w->busy = 0 ;
      else { kill(w->pid, SIGTERM) ; w->busy = 1 ; }   /* a broken worker: reaped soon */
    }
    if (!stopping && x[n - 1].fd == lfd && (x[n - 1].revents & IOPAUSE_READ))
    {
      /* everything waiting, while a worker can take it (a new one only for a connection) */
      for (;;)
      {
        worker *w = 0 ;
        int cfd ;
        for (unsigned int i = 0 ; i < maxw ; i++) if (workers[i].pid && !workers[i].busy) { w = workers + i ; break ; }
        if (!w && nworkers >= maxw) break ;
        cfd = accept4(lfd, 0, 0, SOCK_CLOEXEC) ;
        if (cfd < 0)
        {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
            strerr_warnwu1sys("accept a connection") ;
          break ;
        }
        if (!w) w = spawn_worker() ;
        if (!w) { close(cfd) ; break ; }   /* the client sees the connection closed: 451 */
        if (!fdpass_send(w->fd, cfd, ".", 1)) strerr_warnwu1sys("hand a connection to a worker") ;
        else w->busy = 1 ;
        close(cfd) ;
      }
    }
  }
  /* stopping and nothing in progress: the workers end when their socket closes */
  close(lfd) ;
  for (unsigned int i = 0 ; i < maxw ; i++) if (workers[i].pid) close(workers[i].fd) ;
  while (wait(0) > 0) ;
  return 0 ;
}
