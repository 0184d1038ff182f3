#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "qfilter.h"
#include "qfilterd.h"
#include "qinjsrv.h"
#include "qqueue.h"
#include "queue.h"
#include "unixlisten.h"

#define CODE_TOOBIG 31
#define CODE_NOQUEUE 74     /* the next hop could not be reached */

static char const *const varnames[] = { QQUEUE_VARS, 0 } ;

int qfilterd_once (qfilterd_fn *f)
{
  stralloc msg = STRALLOC_ZERO, env = STRALLOC_ZERO ;
  qfilterd_out out = { .head = "", .headlen = 0, .msg = 0, .msglen = 0, .why = 0 } ;
  int code = qfilter_read(&msg, &env) ;
  if (code) return code ;
  out.msg = msg.s ; out.msglen = msg.len ;
  code = f(msg.s, msg.len, env.s, env.len, &out) ;
  if (code) return code ;
  return qfilter_handon(out.head, out.headlen, out.msg, out.msglen, env.s, env.len) ;
}

int qfilterd_option (int opt, char const *arg, qfilterd_opts *o, char const **sock)
{
  switch (opt)
  {
    case 'd' : *sock = arg ; return 1 ;
    case 'c' : return uint0_scan(arg, &o->workers) && o->workers && o->workers <= 1000 ;
    case 'T' : return uint0_scan(arg, &o->timeout) && o->timeout && o->timeout <= 86400 ;
    case 'm' : return uint0_oscan(arg, &o->mode) && o->mode <= 0777 ;
    case 'b' : return !!uint640_scan(arg, &o->maxbytes) ;
    default : return -1 ;
  }
}

/* ---- a worker ------------------------------------------------------------------------------ */

static qfilterd_opts const *opts ;
static qfilterd_fn *filter ;
static int lfd = -1 ;

static void setvar (char const *name, char const *value, void *data)
{
  (void)data ;
  if (setenv(name, value, 1) < 0) { strerr_warnwu1sys("set the environment") ; _exit(QUEUE_NOMEM) ; }
}

/* the client's variables, and nothing left of the previous client's */
static void client_env (unsigned int flags, stralloc const *vars)
{
  for (char const *const *p = varnames ; *p ; p++) unsetenv(*p) ;
  if (flags & QINJSRV_VARS) qinjsrv_vars(vars->s, vars->len, varnames, &setvar, 0) ;
  if (!(flags & QINJSRV_NET)) unsetenv("PROTO") ;
  else if (!getenv("PROTO")) setvar("PROTO", "TCP", 0) ;
}

static int readfail (int fd, int r)
{
  if (r == -2) { strerr_warnw1x("protocol error from a client: message dropped") ; return qinjsrv_answer(fd, QUEUE_BUG, "protocol error") ; }
  if (r == -1)
  {
    if (errno == ETIMEDOUT) { strerr_warnw1x("a client timed out: message dropped") ; return qinjsrv_answer(fd, QUEUE_TIMEOUT, "timeout") ; }
    strerr_warnwu1sys("read from a client (message dropped)") ;
    return qinjsrv_answer(fd, QUEUE_READ, "message not received") ;
  }
  return 0 ;   /* the client closed: nobody to answer */
}

/* a file for what does not fit in memory, unlinked from the start */
static int tmpfile_open (void)
{
  char const *dir = getenv("TMPDIR") ;
  int fd = open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600) ;
  if (fd < 0) strerr_warnwu1sys("make a temporary file") ;
  return fd ;
}

/* hand the filtered message on; the answer to the client. A local injection goes on as its
   injector's (origin), not as this service's. */
static void forward (int fd, qfilterd_out const *out, char const *env, size_t envlen, qinjsrv const *origin)
{
  qqueue q = QQUEUE_ZERO ;
  struct iovec v[2] ;
  int code ;
  if (origin) { q.origin = 1 ; q.ouid = origin->ouid ; q.opid = origin->opid ; }
  v[0].iov_base = (char *)out->head ; v[0].iov_len = out->headlen ;
  v[1].iov_base = (char *)out->msg ; v[1].iov_len = out->msglen ;
  /* the greeting, the message and the commit in one system call to the next socket */
  code = qqueue_send(&q, env, envlen - 1, v, 2) ;
  if (code == CODE_NOQUEUE && !q.why[0])
  {
    strerr_warnwu1sys("hand a message on to the queue") ;
    qinjsrv_answer(fd, code, "unable to reach the queue") ;
    return ;
  }
  qinjsrv_answer(fd, code, code ? (q.why[0] ? q.why : qqueue_strerror(code)) : q.id[0] ? q.id : "queued") ;
}

static void serve (int fd)
{
  static qinjsrv c ;
  static stralloc vars = STRALLOC_ZERO, env = STRALLOC_ZERO, mem = STRALLOC_ZERO ;
  qfilterd_out out ;
  uint64_t total = 0 ;
  unsigned int flags ;
  size_t nrcpt ;
  char *map = 0 ;
  int tfd = -1, big = 0, r, code ;
  qinjsrv_init(&c, fd, opts->timeout) ;
  vars.len = env.len = mem.len = 0 ;
  r = qinjsrv_greeting(&c, &flags, &vars) ;
  if (r == -3) { qinjsrv_answer(fd, QUEUE_BUG, "unknown protocol") ; return ; }
  if (r != 1) { readfail(fd, r) ; return ; }
  client_env(flags, &vars) ;
  /* who injected a local message: the client, unless it is a filter before this one (this
     service's own user, or root) handing on the word of its own client */
  if (!(flags & QINJSRV_NET))
  {
    struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 } ;
    socklen_t credlen = sizeof cred ;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) < 0)
    {
      strerr_warnwu1sys("read the credentials of a client") ;
      qinjsrv_answer(fd, QUEUE_BUG, "unable to read the client's credentials") ;
      return ;
    }
    if (!(flags & QINJSRV_ORIGIN) || (cred.uid != geteuid() && cred.uid != 0))
    {
      c.ouid = (unsigned int)cred.uid ; c.opid = (unsigned int)cred.pid ;
    }
  }
  r = qinjsrv_envelope(&c, &env, QUEUE_ENVMAX) ;
  if (r == -3) { qinjsrv_answer(fd, QUEUE_TOOLONG, "envelope too long") ; return ; }
  if (r != 1) { readfail(fd, r) ; return ; }
  code = queue_envelope_check(env.s, env.len, &nrcpt) ;
  if (code) { qinjsrv_answer(fd, code, qqueue_strerror(code)) ; return ; }
  for (;;)
  {
    char const *s ;
    size_t n ;
    r = qinjsrv_data(&c, &s, &n) ;
    if (r != 1) break ;
    total += n ;
    if (big || (opts->maxbytes && total > opts->maxbytes)) { big = 1 ; continue ; }   /* read to the end, kept nowhere */
    if (tfd < 0 && mem.len + n > QFILTERD_MEMMAX)
    {
      tfd = tmpfile_open() ;
      if (tfd < 0 || allwrite(tfd, mem.s, mem.len) < mem.len) goto wfail ;
      mem.len = 0 ;
    }
    if (tfd >= 0 ? allwrite(tfd, s, n) < n : !stralloc_catb(&mem, s, n)) goto wfail ;
  }
  if (r != 2) { readfail(fd, r) ; goto end ; }
  if (big) { qinjsrv_answer(fd, CODE_TOOBIG, "message too big") ; goto end ; }
  if (tfd >= 0)
  {
    map = mmap(0, total, PROT_READ | PROT_WRITE, MAP_PRIVATE, tfd, 0) ;
    if (map == MAP_FAILED) { map = 0 ; goto wfail ; }
  }
  out.head = "" ; out.headlen = 0 ; out.why = 0 ;
  out.msg = map ? map : mem.s ; out.msglen = total ;
  if (!out.msg) out.msg = "" ;
  code = filter(out.msg, total, env.s, env.len, &out) ;
  if (code) qinjsrv_answer(fd, code, out.why ? out.why : qqueue_strerror(code)) ;
  else forward(fd, &out, env.s, env.len, flags & QINJSRV_NET ? 0 : &c) ;
  goto end ;
 wfail:
  strerr_warnwu1sys("keep a message") ;
  qinjsrv_answer(fd, QUEUE_WRITE, "unable to keep the message") ;
 end:
  if (map) munmap(map, total) ;
  if (tfd >= 0) close(tfd) ;
  if (mem.a > 4 * QFILTERD_MEMMAX) stralloc_free(&mem) ;
}

static void worker_term (int sig)
{
  (void)sig ;
  _exit(0) ;   /* only while waiting for a connection: blocked while one is served */
}

static void worker_main (void (*init) (void)) gccattr_noreturn ;
static void worker_main (void (*init) (void))
{
  struct sigaction sa ;
  sigset_t term ;
  unsigned int served = 0 ;
  memset(&sa, 0, sizeof sa) ;
  sa.sa_handler = &worker_term ;
  sigemptyset(&sa.sa_mask) ;
  sigemptyset(&term) ; sigaddset(&term, SIGTERM) ;
  sigprocmask(SIG_BLOCK, &term, 0) ;
  if (sigaction(SIGTERM, &sa, 0) < 0) strerr_diefu1sys(111, "trap SIGTERM") ;
  sig_restore(SIGINT) ; sig_restore(SIGCHLD) ;
  if (init) init() ;
  for (;;)
  {
    int fd ;
    sigprocmask(SIG_UNBLOCK, &term, 0) ;
    fd = accept4(lfd, 0, 0, SOCK_CLOEXEC) ;
    sigprocmask(SIG_BLOCK, &term, 0) ;
    if (fd < 0)
    {
      if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN) { strerr_warnwu1sys("accept a connection") ; sleep(1) ; }
      continue ;
    }
    serve(fd) ;
    close(fd) ;
    /* a fresh process now and then: what setenv and the libraries keep of each message
       (glibc keeps every value a variable ever had) does not grow for ever */
    if (++served >= QFILTERD_MAXUSE) _exit(0) ;
  }
}

/* ---- the parent ---------------------------------------------------------------------------- */

void qfilterd_main (char const *path, qfilterd_opts const *o, void (*init) (void), qfilterd_fn *f)
{
  pid_t *pids ;
  tain *started ;
  unsigned int alive = 0, i ;
  int sfd, stopping = 0 ;
  char const *next = getenv("NEXTQUEUE"), *nextsock = getenv("NEXTQUEUESOCK") ;
  opts = o ; filter = f ;
  /* the next hop is named by NEXT*, as in the program mode: the client's settings are not
     this service's (a QMAILQUEUESOCK naming this very socket would loop) */
  if (nextsock && !strcmp(nextsock, path)) strerr_dief1x(100, "NEXTQUEUESOCK names this filter's own socket") ;
  if (next && *next ? setenv("QMAILQUEUE", next, 1) < 0 : unsetenv("QMAILQUEUE") < 0)
    strerr_diefu1sys(111, "set the environment") ;
  if (nextsock && *nextsock ? setenv("QMAILQUEUESOCK", nextsock, 1) < 0 : unsetenv("QMAILQUEUESOCK") < 0)
    strerr_diefu1sys(111, "set the environment") ;
  pids = calloc(o->workers, sizeof *pids) ;
  started = calloc(o->workers, sizeof *started) ;
  if (!pids || !started) strerr_diefu1sys(111, "allocate memory") ;
  sig_ignore(SIGPIPE) ;
  sfd = selfpipe_init() ;
  if (sfd < 0) strerr_diefu1sys(111, "make a selfpipe") ;
  {
    sigset_t set ;
    sigemptyset(&set) ;
    sigaddset(&set, SIGCHLD) ; sigaddset(&set, SIGTERM) ; sigaddset(&set, SIGINT) ;
    if (!selfpipe_trapset(&set)) strerr_diefu1sys(111, "trap signals") ;
  }
  lfd = unix_listen_or_die(path, o->mode) ;
  /* the workers block in accept(): the kernel wakes one of them a connection */
  if (ndelay_off(lfd) < 0) strerr_diefu1sys(111, "make the socket blocking") ;
  tain_now_g() ;
  for (;;)
  {
    iopause_fd x = { .fd = sfd, .events = IOPAUSE_READ, .revents = 0 } ;
    tain deadline = TAIN_INFINITE ;
    /* a worker for every empty slot; one that died within a second of its start is
       replaced a second later, not in a loop */
    for (i = 0 ; !stopping && i < o->workers ; i++) if (!pids[i])
    {
      tain later ;
      tain_addsec(&later, &started[i], 1) ;
      if (tain_less(&STAMP, &later)) { if (tain_less(&later, &deadline)) deadline = later ; continue ; }
      pids[i] = fork() ;
      if (pids[i] < 0) { pids[i] = 0 ; strerr_warnwu1sys("fork a worker") ; tain_copynow(&started[i]) ; continue ; }
      if (!pids[i]) { selfpipe_finish() ; free(pids) ; free(started) ; worker_main(init) ; }
      tain_copynow(&started[i]) ;
      alive++ ;
    }
    if (stopping && !alive) break ;
    if (iopause_g(&x, 1, &deadline) < 0) strerr_diefu1sys(111, "iopause") ;
    if (!(x.revents & IOPAUSE_READ)) continue ;
    for (;;)
    {
      int sig = selfpipe_read() ;
      if (sig <= 0) { if (sig < 0) strerr_diefu1sys(111, "read the selfpipe") ; break ; }
      if (sig == SIGCHLD)
        for (;;)
        {
          int wstat ;
          pid_t pid = waitpid(-1, &wstat, WNOHANG) ;
          if (pid <= 0) break ;
          for (i = 0 ; i < o->workers ; i++) if (pids[i] == pid)
          {
            pids[i] = 0 ; alive-- ;
            if (!stopping && (!WIFEXITED(wstat) || WEXITSTATUS(wstat)))
            {
              char fmt[PID_FMT] ;
              fmt[pid_fmt(fmt, pid)] = 0 ;
              strerr_warnw3x("worker ", fmt, WIFSIGNALED(wstat) ? " was killed by a signal" : " died") ;
            }
            break ;
          }
        }
      else if (!stopping)
      {
        /* each worker ends once the message in hand is answered */
        stopping = 1 ;
        for (i = 0 ; i < o->workers ; i++) if (pids[i]) kill(pids[i], SIGTERM) ;
      }
    }
  }
  close(lfd) ;
  _exit(0) ;
}
