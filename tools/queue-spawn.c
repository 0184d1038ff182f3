/* queue-spawn: the one piece of the queue that keeps root (qmail-lspawn and qmail-rspawn).
   It starts prog (queue-run, usually through s6-setuidgid) with a socket to itself, and
   stays behind as its child to run the deliveries queue-run asks for: local ones as the
   recipient's owner, in queue-local workers that live on and take the next delivery for
   the same owner; remote ones as the user of -r, in queue-remote workers that live on too,
   each keeping its SMTP session open for a while after a delivery: the next delivery to
   the same destination goes to the worker that holds a session to it, when one does.
   It finds the recipient's owner itself (control/locals, the users database, the system's
   users) and opens the message itself (only files of queue/mess/), so that queue-run,
   unprivileged, can neither choose who a delivery runs as nor make it read another file. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/env.h>
#include <skalibs/exec.h>
#include <skalibs/genalloc.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "control.h"
#include "fdpass.h"
#include "mxroute.h"
#include "queue.h"
#include "route.h"

#define USAGE "queue-spawn [ -r user ] [ -c max ] [ -t timeout ] prog..."
#define dieusage() strerr_dieusage(100, USAGE)
#define dienomem() strerr_diefu1sys(111, "allocate memory")

#define REQMAX 262144           /* one request or answer on a socket */
#define IDLE 60                 /* seconds a worker waits for another delivery */
#define USES 10000              /* deliveries before a worker is replaced */

typedef struct worker_s worker ;
struct worker_s
{
  pid_t pid ;                   /* 0: free slot */
  uid_t uid ;
  gid_t gid ;
  char user[64] ;               /* a system user's name (its groups), "" for a virtual domain */
  int fd ;
  int busy ;
  char dno[UINT64_FMT] ;        /* the delivery in progress */
  unsigned int steps ;
  tain deadline ;
  tain idle ;                   /* when an idle worker goes */
  unsigned int uses ;
} ;

/* a queue-remote worker: live while its socket is open; a retired one (socket closed) is
   ending, after its QUIT, and holds its slot until it is reaped */
typedef struct remote_s remote ;
struct remote_s
{
  pid_t pid ;                   /* 0: free slot */
  int fd ;                      /* the socket; -1 once retired or at EOF */
  int err ;                     /* its standard error; -1 at EOF */
  int busy ;
  int stale ;                   /* started before the control files were last read */
  int status ;                  /* wait status, once reaped */
  int reaped ;
  char dno[UINT64_FMT] ;        /* the delivery in progress */
  stralloc key ;                /* the destination of its session, or of its delivery while
                                   busy (mxroute_key); empty: none */
  stralloc text ;               /* the lines of the delivery in progress */
  stralloc errline ;            /* the last line of its standard error */
  stralloc errbuf ;             /* the line being read */
  tain idle ;                   /* when an idle worker goes */
  unsigned int uses ;
} ;

static int qfd ;                /* the queue directory */
static int qr ;                 /* the socket to queue-run */
static route_ctx rc = ROUTE_CTX_ZERO ;
static worker *workers ;
static unsigned int maxw = 40 ;
static remote *remotes ;
static unsigned int maxr = 200 ;
static unsigned int timeout = 3600 ;
static int ruser_set = 0 ;
static uid_t ruid ;
static gid_t rgid ;
static genalloc pending = GENALLOC_ZERO ;    /* stralloc: local requests waiting for a worker */
static genalloc rpending = GENALLOC_ZERO ;   /* stralloc: key \0 request, remote ones waiting */
/* for remote deliveries: control/concurrencyremote (workers at once),
   control/concurrencydestination (sessions to one destination at once),
   control/sessioncachetime (seconds an idle worker keeps its session, and lives),
   control/smtproutes and control/tlsdestinations (the destinations) */
static unsigned long rconc = 20, rcap = 20, rcache = 2 ;
static stralloc rroutes = STRALLOC_ZERO, rtls = STRALLOC_ZERO ;
static stralloc outq = STRALLOC_ZERO ;       /* answers to queue-run not sent yet: LEN(4) MSG */
static int isroot ;

/* ---- answers to queue-run ----------------------------------------------------------------- */

static void flush_out (void)
{
  while (outq.len)
  {
    uint32_t n ;
    ssize_t r ;
    memcpy(&n, outq.s, 4) ;
    r = send(qr, outq.s + 4, n, MSG_DONTWAIT | MSG_NOSIGNAL) ;
    if (r < 0)
    {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return ;
      /* queue-run is gone: nobody to tell */
      outq.len = 0 ;
      return ;
    }
    memmove(outq.s, outq.s + 4 + n, outq.len - 4 - n) ;
    outq.len -= 4 + n ;
  }
}

/* kind dno \0, then the fields, each with its \0 */
static void answer (char kind, char const *dno, char const *const *f, unsigned int n)
{
  size_t start = outq.len ;
  uint32_t len ;
  if (!stralloc_readyplus(&outq, 4)) dienomem() ;
  outq.len += 4 ;
  if (!stralloc_catb(&outq, &kind, 1) || !stralloc_cats(&outq, dno) || !stralloc_0(&outq)) dienomem() ;
  for (unsigned int i = 0 ; i < n ; i++)
    if (!stralloc_cats(&outq, f[i]) || !stralloc_0(&outq)) dienomem() ;
  if (outq.len - start - 4 > REQMAX)
  {
    /* cannot happen with remote-deliver's one line per recipient; cut, never block */
    outq.len = start + 4 + REQMAX ;
    outq.s[outq.len - 1] = 0 ;
  }
  len = (uint32_t)(outq.len - start - 4) ;
  memcpy(outq.s + start, &len, 4) ;
  flush_out() ;
}

static void answer_local (char const *dno, unsigned int code, unsigned int steps, char const *text)
{
  char c[UINT_FMT], s[UINT_FMT] ;
  char const *f[3] = { c, s, text } ;
  c[uint_fmt(c, code)] = 0 ;
  s[uint_fmt(s, steps)] = 0 ;
  answer('L', dno, f, 3) ;
}

static void answer_remote (char const *dno, unsigned int code, char const *text, char const *why)
{
  char c[UINT_FMT] ;
  char const *f[3] = { c, text, why } ;
  c[uint_fmt(c, code)] = 0 ;
  answer('R', dno, f, 3) ;
}

/* ---- children ------------------------------------------------------------------------------ */

/* what every child does first: signals as a new program expects them, then the user */
static void child_setup (uid_t uid, gid_t gid, char const *user)
{
  sigset_t none ;
  sigemptyset(&none) ;
  sigprocmask(SIG_SETMASK, &none, 0) ;
  signal(SIGPIPE, SIG_DFL) ;
  if (!isroot) return ;   /* only our own uid is possible, checked before */
  if (user && *user ? initgroups(user, gid) < 0 : setgroups(1, &gid) < 0) strerr_diefu1sys(111, "set the groups") ;
  if (setgid(gid) < 0 || setuid(uid) < 0) strerr_diefu1sys(111, "change user") ;
  if (!getuid() || setuid(0) == 0) strerr_dief1x(111, "still root after changing user") ;
}

static worker *spawn_worker (uid_t uid, gid_t gid, char const *user)
{
  worker *w = 0 ;
  int sv[2] ;
  pid_t pid ;
  for (unsigned int i = 0 ; i < maxw ; i++) if (!workers[i].pid) { w = workers + i ; break ; }
  if (!w) return 0 ;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) { strerr_warnwu1sys("make a socketpair") ; return 0 ; }
  pid = fork() ;
  if (pid < 0) { strerr_warnwu1sys("fork") ; close(sv[0]) ; close(sv[1]) ; return 0 ; }
  if (!pid)
  {
    char const *argv[2] = { "queue-local", 0 } ;
    setsid() ;   /* its own process group: a delivery past its deadline is killed whole */
    child_setup(uid, gid, user) ;
    if (dup2(sv[1], 0) < 0) strerr_diefu1sys(111, "set up the worker's socket") ;
    xexec(argv) ;
  }
  close(sv[1]) ;
  ndelay_on(sv[0]) ;
  w->pid = pid ; w->uid = uid ; w->gid = gid ; w->fd = sv[0] ; w->busy = 0 ; w->uses = 0 ;
  w->user[0] = 0 ;
  if (user) { size_t n = strlen(user) ; if (n >= sizeof w->user) n = sizeof w->user - 1 ; memcpy(w->user, user, n) ; w->user[n] = 0 ; }
  return w ;
}

static void retire (worker *w)
{
  /* its socket closed, it ends at once: reaped later */
  close(w->fd) ;
  w->fd = -1 ;
}

/* an idle worker for this owner, a new one, or one made room for; 0 when all are busy */
static worker *find_worker (uid_t uid, gid_t gid, char const *user)
{
  worker *oldest = 0 ;
  for (unsigned int i = 0 ; i < maxw ; i++)
  {
    worker *w = workers + i ;
    if (!w->pid || w->fd < 0 || w->busy) continue ;
    if (w->uid == uid && w->gid == gid && !strcmp(w->user, user ? user : "")) return w ;
    if (!oldest || tain_less(&w->idle, &oldest->idle)) oldest = w ;
  }
  {
    worker *w = spawn_worker(uid, gid, user) ;
    if (w) return w ;
  }
  if (!oldest) return 0 ;
  retire(oldest) ;
  return 0 ;   /* its slot frees when it is reaped: the request waits until then */
}

/* ---- local deliveries --------------------------------------------------------------------- */

/* open mess/ID and seek to offset: the descriptor, or -1 (why set) */
static int open_message (char const *id, char const *offset, char const **why)
{
  char name[5 + QUEUE_IDMAX] ;
  uint64_t off ;
  int fd ;
  if (!queue_id_valid(id) || !*offset || offset[uint64_scan(offset, &off)]) { *why = "bad request from queue-run" ; errno = EINVAL ; return -1 ; }
  memcpy(name, "mess/", 5) ;
  memcpy(name + 5, id, strlen(id) + 1) ;
  fd = openat(qfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) ;
  if (fd < 0) { *why = "unable to open the message" ; return -1 ; }
  if (lseek(fd, (off_t)off, SEEK_SET) < 0) { int e = errno ; close(fd) ; errno = e ; *why = "unable to seek in the message" ; return -1 ; }
  return fd ;
}

/* split s[0..len) into n \0-ended fields; 1 if exactly n (at least n with more) */
static int fields (char *s, size_t len, char **f, unsigned int n, int more)
{
  size_t i = 0 ;
  for (unsigned int k = 0 ; k < n ; k++)
  {
    char *z = i < len ? memchr(s + i, 0, len - i) : 0 ;
    if (!z) return 0 ;
    f[k] = s + i ;
    i = (size_t)(z - s) + 1 ;
  }
  return more ? 1 : i == len ;
}

/* 1 handed to a worker (or answered), 0 must wait for a worker */
static int local_request (char *s, size_t len)
{
  char *f[6] ;   /* dno id offset sender rcpt skip */
  route r = ROUTE_ZERO ;
  stralloc req = STRALLOC_ZERO ;
  worker *w ;
  char const *why ;
  int fd, k, ret = 1 ;
  unsigned int skip = 0 ;
  if (!fields(s + 1, len - 1, f, 6, 0) || !uint0_scan(f[5], &skip))
  {
    strerr_warnw1x("bad local request from queue-run") ;
    return 1 ;
  }
  k = route_local(&rc, f[4], &r) ;
  if (k <= 0)
  {
    char tmp[512] ;
    if (k < 0 && errno)
    {
      size_t n = strlen(r.why) ;
      char const *e = strerror(errno) ;
      if (n + strlen(e) + 3 < sizeof tmp) { memcpy(tmp, r.why, n) ; memcpy(tmp + n, ": ", 2) ; strcpy(tmp + n + 2, e) ; r.why = tmp ; }
    }
    answer_local(f[0], k ? 111 : 100, skip, r.why) ;
    goto end ;
  }
  if (!r.uid) { answer_local(f[0], 111, skip, "refusing to deliver as root (#4.3.0)") ; goto end ; }
  if (!isroot && r.uid != geteuid())
  {
    answer_local(f[0], 111, skip, "queue-spawn does not run as root: it cannot deliver as the recipient's owner (#4.3.0)") ;
    goto end ;
  }
  w = find_worker(r.uid, r.gid, r.system ? r.user : 0) ;
  if (!w) { ret = 0 ; goto end ; }
  fd = open_message(f[1], f[2], &why) ;
  if (fd < 0)
  {
    char tmp[256] ;
    size_t n = strlen(why) ;
    char const *e = strerror(errno) ;
    memcpy(tmp, why, n) ; memcpy(tmp + n, ": ", 2) ; strncpy(tmp + n + 2, e, sizeof tmp - n - 3) ; tmp[sizeof tmp - 1] = 0 ;
    answer_local(f[0], 111, skip, tmp) ;
    goto end ;
  }
  {
    char q[UINT64_FMT] ;
    char const *flags = r.nodotqmail ? "n" : r.extfallback ? "x" : "" ;
    char const *v[11] = { r.user, r.home, r.local, r.dash, r.ext, r.host, f[3], r.dflt, flags, q, f[5] } ;
    q[r.quota_set ? uint64_fmt(q, r.quota) : 0] = 0 ;
    for (unsigned int i = 0 ; i < 11 ; i++)
      if (!stralloc_cats(&req, v[i]) || !stralloc_0(&req)) dienomem() ;
  }
  if (!fdpass_send(w->fd, fd, req.s, req.len))
  {
    strerr_warnwu1sys("hand a delivery to a worker") ;
    answer_local(f[0], 111, skip, "unable to hand the delivery to a worker") ;
    close(fd) ;
    retire(w) ;
    goto end ;
  }
  close(fd) ;
  w->busy = 1 ;
  w->uses++ ;
  w->steps = skip ;
  {
    size_t n = strlen(f[0]) ;
    if (n >= sizeof w->dno) n = sizeof w->dno - 1 ;
    memcpy(w->dno, f[0], n) ; w->dno[n] = 0 ;
  }
  tain_addsec_g(&w->deadline, timeout) ;
 end:
  stralloc_free(&req) ;
  stralloc_free(&r.sa) ;
  return ret ;
}

static void run_pending (void)
{
  while (genalloc_len(stralloc, &pending))
  {
    stralloc *p = genalloc_s(stralloc, &pending) ;
    size_t n = genalloc_len(stralloc, &pending) ;
    if (!local_request(p->s, p->len)) return ;
    stralloc_free(p) ;
    memmove(p, p + 1, (n - 1) * sizeof *p) ;
    genalloc_setlen(stralloc, &pending, n - 1) ;
  }
}

/* a message from worker w */
static void worker_message (worker *w)
{
  char buf[REQMAX] ;
  ssize_t n = recv(w->fd, buf, sizeof buf - 1, MSG_DONTWAIT) ;
  if (n < 0) { if (errno != EAGAIN && errno != EINTR) retire(w) ; return ; }
  if (!n) { retire(w) ; return ; }
  buf[n] = 0 ;
  if (buf[0] == 'S') { uint_scan(buf + 1, &w->steps) ; return ; }
  if (buf[0] == 'R' && w->busy)
  {
    char *f[3] ;
    unsigned int code, steps ;
    if (!fields(buf + 1, n - 1, f, 3, 0) || !uint0_scan(f[0], &code) || !uint0_scan(f[1], &steps))
    {
      answer_local(w->dno, 111, w->steps, "bad answer from queue-local") ;
      retire(w) ;
    }
    else answer_local(w->dno, code, steps, f[2]) ;
    w->busy = 0 ;
    tain_addsec_g(&w->idle, IDLE) ;
    if (w->uses >= USES) retire(w) ;
  }
}

/* ---- remote deliveries -------------------------------------------------------------------- */

/* the control files of remote deliveries: 1, or 0 (*what set, errno) and nothing changed */
static int remote_controls (char const **what)
{
  unsigned long conc, cap, cache ;
  stralloc routes = STRALLOC_ZERO, tls = STRALLOC_ZERO, path = STRALLOC_ZERO ;
  *what = "control/concurrencyremote" ;
  if (control_readulong(&conc, "concurrencyremote", 20) < 0) goto err ;
  *what = "control/concurrencydestination" ;
  if (control_readulong(&cap, "concurrencydestination", 20) < 0) goto err ;
  *what = "control/sessioncachetime" ;
  if (control_readulong(&cache, "sessioncachetime", 2) < 0) goto err ;
  *what = "control/tlsdestinations" ;
  if (control_readlines(&tls, "tlsdestinations") < 0) goto err ;
  *what = "control/smtproutes" ;
  if (!stralloc_cats(&path, control_root()) || !stralloc_cats(&path, "/control/smtproutes") || !stralloc_0(&path)) goto err ;
  if (!openslurpclose(&routes, path.s))
  {
    if (errno != ENOENT) goto err ;
    routes.len = 0 ;
  }
  stralloc_free(&path) ;
  stralloc_free(&rroutes) ; rroutes = routes ;
  stralloc_free(&rtls) ; rtls = tls ;
  /* as queue-run reads concurrencyremote: 0 is 1, at most as many as we run */
  rconc = conc ? conc > maxr ? maxr : conc : 1 ;
  rcap = cap ? cap : 1 ;
  rcache = cache > 3600 ? 3600 : cache ;
  return 1 ;
 err:
  stralloc_free(&routes) ; stralloc_free(&tls) ; stralloc_free(&path) ;
  return 0 ;
}

/* the destination of a delivery to domain, as queue-remote finds it (mxroute_key) */
static void remote_key (stralloc *k, char const *domain)
{
  int r ;
  k->len = 0 ;
  r = mxroute_key(k, rroutes.s, rroutes.len, rtls.s, rtls.len, domain) ;
  if (r < 0 && errno != EINVAL) dienomem() ;
  if (r <= 0)
  {
    /* a bad control file: the worker will say so; the domain alone meanwhile */
    k->len = 0 ;
    if (!stralloc_catb(k, "D", 1) || !stralloc_cats(k, domain) || !stralloc_0(k)) dienomem() ;
  }
}

static void remote_retire (remote *x)
{
  /* its socket closed, it says QUIT and ends: reaped later */
  if (x->fd >= 0) close(x->fd) ;
  x->fd = -1 ;
  x->key.len = 0 ;
}

/* a new worker in a free slot; 0 when there is none, or (*failed set) it could not start */
static remote *remote_spawn (int *failed)
{
  remote *x = 0 ;
  int sv[2], e[2] ;
  pid_t pid ;
  for (unsigned int k = 0 ; k < maxr ; k++) if (!remotes[k].pid) { x = remotes + k ; break ; }
  if (!x) return 0 ;
  *failed = 1 ;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) { strerr_warnwu1sys("make a socketpair") ; return 0 ; }
  if (pipe2(e, O_CLOEXEC) < 0) { strerr_warnwu1sys("make a pipe") ; close(sv[0]) ; close(sv[1]) ; return 0 ; }
  pid = fork() ;
  if (pid < 0) { strerr_warnwu1sys("fork") ; close(sv[0]) ; close(sv[1]) ; close(e[0]) ; close(e[1]) ; return 0 ; }
  if (!pid)
  {
    char const *argv[2] = { "queue-remote", 0 } ;
    if (dup2(e[1], 2) < 0 || dup2(sv[1], 0) < 0) _exit(111) ;
    child_setup(ruser_set ? ruid : geteuid(), ruser_set ? rgid : getegid(), 0) ;
    xexec(argv) ;
  }
  close(sv[1]) ; close(e[1]) ;
  ndelay_on(sv[0]) ; ndelay_on(e[0]) ;
  *failed = 0 ;
  x->pid = pid ; x->fd = sv[0] ; x->err = e[0] ; x->busy = 0 ; x->stale = 0 ; x->reaped = 0 ; x->status = 0 ;
  x->uses = 0 ; x->key.len = 0 ; x->text.len = 0 ; x->errline.len = 0 ; x->errbuf.len = 0 ;
  return x ;
}

/* Hand the request s[0..len) (fields checked) for destination k to a worker: one that holds
   a session to k; else, while k has fewer than rcap sessions, an idle worker without one, a
   new worker, or the idle worker unused for the longest time (it ends its session first).
   1 handed over (or answered), 0 must wait. */
static int remote_dispatch (char *s, size_t len, char const *k)
{
  static stralloc req = STRALLOC_ZERO ;
  char *f[5] ;   /* dno id offset domain sender, then the recipients */
  remote *w = 0, *bare = 0, *lru = 0 ;
  unsigned int live = 0, sessions = 0 ;
  char const *why ;
  int fd, failed = 0 ;
  fields(s + 1, len - 1, f, 5, 1) ;
  for (unsigned int i = 0 ; i < maxr ; i++)
  {
    remote *x = remotes + i ;
    if (!x->pid || x->fd < 0) continue ;
    live++ ;
    if (x->key.len && !strcmp(x->key.s, k))
    {
      sessions++ ;
      if (!x->busy && !w) w = x ;
    }
    else if (!x->busy)
    {
      if (!x->key.len) { if (!bare) bare = x ; }
      else if (!lru || tain_less(&x->idle, &lru->idle)) lru = x ;
    }
  }
  if (!w)
  {
    if (sessions >= rcap) return 0 ;
    w = bare ;
    if (!w && live < rconc)
    {
      w = remote_spawn(&failed) ;
      if (failed) { answer_remote(f[0], 111, "", "unable to start a remote delivery worker (#4.3.0)") ; return 1 ; }
    }
    if (!w) w = lru ;
    if (!w) return 0 ;
  }
  fd = open_message(f[1], f[2], &why) ;
  if (fd < 0) { answer_remote(f[0], 111, "", why) ; return 1 ; }
  req.len = 0 ;
  if (!stralloc_catb(&req, "D", 1) || !stralloc_catb(&req, f[3], len - (size_t)(f[3] - s))) dienomem() ;
  if (!fdpass_send(w->fd, fd, req.s, req.len))
  {
    strerr_warnwu1sys("hand a delivery to a remote worker") ;
    answer_remote(f[0], 111, "", "unable to hand the delivery to a remote worker (#4.3.0)") ;
    close(fd) ;
    remote_retire(w) ;
    return 1 ;
  }
  close(fd) ;
  w->busy = 1 ;
  w->uses++ ;
  w->text.len = 0 ; w->errline.len = 0 ;
  w->key.len = 0 ;
  if (!stralloc_cats(&w->key, k) || !stralloc_0(&w->key)) dienomem() ;
  {
    size_t n = strlen(f[0]) ;
    if (n >= sizeof w->dno) n = sizeof w->dno - 1 ;
    memcpy(w->dno, f[0], n) ; w->dno[n] = 0 ;
  }
  return 1 ;
}

/* the remote requests that wait, in order; those that can go, go */
static void run_rpending (void)
{
  size_t n = genalloc_len(stralloc, &rpending), j = 0 ;
  stralloc *p = genalloc_s(stralloc, &rpending) ;
  for (size_t i = 0 ; i < n ; i++)
  {
    size_t klen = strlen(p[i].s) + 1 ;
    if (remote_dispatch(p[i].s + klen, p[i].len - klen, p[i].s)) stralloc_free(p + i) ;
    else p[j++] = p[i] ;
  }
  genalloc_setlen(stralloc, &rpending, j) ;
}

static void remote_request (char *s, size_t len)
{
  static stralloc k = STRALLOC_ZERO ;
  char *f[5] ;   /* dno id offset domain sender, then the recipients */
  stralloc sa = STRALLOC_ZERO ;
  if (!fields(s + 1, len - 1, f, 5, 1)) { strerr_warnw1x("bad remote request from queue-run") ; return ; }
  if ((size_t)(f[4] - s) + strlen(f[4]) + 1 >= len) { answer_remote(f[0], 111, "", "bad remote request from queue-run") ; return ; }
  if (!ruser_set && isroot) { answer_remote(f[0], 111, "", "no user for remote deliveries: queue-spawn needs -r (#4.3.0)") ; return ; }
  remote_key(&k, f[3]) ;
  if (!stralloc_catb(&sa, k.s, k.len) || !stralloc_catb(&sa, s, len) || !genalloc_append(stralloc, &rpending, &sa)) dienomem() ;
}

/* a dead worker is done with once its socket and its standard error are at EOF: a delivery
   it was running gets its lines, and the others what its end says */
static void remote_check (remote *x)
{
  if (!x->pid || x->fd >= 0 || x->err >= 0 || !x->reaped) return ;
  if (x->busy)
  {
    unsigned int code = WIFEXITED(x->status) ? WEXITSTATUS(x->status) : 111 ;
    char fmt[UINT_FMT] ;
    if (x->errbuf.len) { x->errline.len = 0 ; if (!stralloc_catb(&x->errline, x->errbuf.s, x->errbuf.len)) dienomem() ; }
    if (WIFSIGNALED(x->status) || !x->errline.len)
    {
      fmt[uint_fmt(fmt, WIFSIGNALED(x->status) ? WTERMSIG(x->status) : code)] = 0 ;
      x->errline.len = 0 ;
      if (!stralloc_cats(&x->errline, WIFSIGNALED(x->status) ? "the remote delivery worker was killed (signal " : "the remote delivery worker exited (code ")
       || !stralloc_cats(&x->errline, fmt) || !stralloc_cats(&x->errline, ") (#4.3.0)")) dienomem() ;
    }
    if (!code) code = 111 ;   /* it ended without a word about the delivery */
    if (!stralloc_0(&x->text) || !stralloc_0(&x->errline)) dienomem() ;
    answer_remote(x->dno, code, x->text.s, x->errline.s) ;
    x->busy = 0 ;
  }
  x->pid = 0 ;
  x->key.len = 0 ;
}

/* read what is there from a worker's standard error: copied to ours, the last line kept;
   0 at EOF */
static int remote_stderr (remote *x)
{
  char buf[8192] ;
  ssize_t n = read(x->err, buf, sizeof buf) ;
  if (n < 0) return errno == EAGAIN || errno == EINTR ;
  if (!n) return 0 ;
  allwrite(2, buf, n) ;
  for (ssize_t i = 0 ; i < n ; i++)
  {
    if (buf[i] == '\n')
    {
      if (x->errbuf.len) { x->errline.len = 0 ; if (!stralloc_catb(&x->errline, x->errbuf.s, x->errbuf.len)) dienomem() ; }
      x->errbuf.len = 0 ;
    }
    else if (x->errbuf.len < 1000 && !stralloc_catb(&x->errbuf, buf + i, 1)) dienomem() ;
  }
  return 1 ;
}

/* packets from a worker: "L" lines, "E" code \0 why \0 key \0 (the end of a delivery, and
   the destination of the session it keeps), "C" (its idle session is closed) */
static void remote_message (remote *x)
{
  static char buf[REQMAX] ;
  for (unsigned int turn = 0 ; turn < 16 && x->fd >= 0 ; turn++)
  {
    ssize_t n = recv(x->fd, buf, sizeof buf - 1, MSG_DONTWAIT) ;
    if (n < 0)
    {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { close(x->fd) ; x->fd = -1 ; remote_check(x) ; }
      return ;
    }
    if (!n) { close(x->fd) ; x->fd = -1 ; remote_check(x) ; return ; }
    buf[n] = 0 ;
    if (buf[0] == 'L' && x->busy)
    {
      if (x->text.len + (size_t)n < REQMAX / 2 && !stralloc_catb(&x->text, buf + 1, (size_t)n - 1)) dienomem() ;
    }
    else if (buf[0] == 'C' && !x->busy) x->key.len = 0 ;
    else if (buf[0] == 'E' && x->busy)
    {
      char *f[3] ;
      unsigned int code ;
      x->busy = 0 ;
      if (!stralloc_0(&x->text)) dienomem() ;
      if (!fields(buf + 1, (size_t)n - 1, f, 3, 0) || !uint0_scan(f[0], &code))
      {
        answer_remote(x->dno, 111, x->text.s, "bad answer from queue-remote") ;
        remote_retire(x) ;
        return ;
      }
      answer_remote(x->dno, code, x->text.s, f[1]) ;
      x->key.len = 0 ;
      if (*f[2] && (!stralloc_cats(&x->key, f[2]) || !stralloc_0(&x->key))) dienomem() ;
      tain_addsec_g(&x->idle, (int)rcache) ;
      if (x->uses >= USES || x->stale || !rcache) remote_retire(x) ;
    }
  }
}

/* ---- the loop ----------------------------------------------------------------------------- */

static void reap (void)
{
  for (;;)
  {
    int wstat ;
    pid_t pid = waitpid(-1, &wstat, WNOHANG) ;
    if (pid <= 0) return ;
    for (unsigned int i = 0 ; i < maxw ; i++) if (workers[i].pid == pid)
    {
      worker *w = workers + i ;
      if (w->busy)
      {
        char fmt[UINT_FMT] ;
        char text[128] ;
        fmt[uint_fmt(fmt, WIFSIGNALED(wstat) ? WTERMSIG(wstat) : WEXITSTATUS(wstat))] = 0 ;
        strcpy(text, WIFSIGNALED(wstat) ? "the delivery worker was killed (signal " : "the delivery worker exited (code ") ;
        strcat(text, fmt) ;
        strcat(text, ") (#4.3.0)") ;
        answer_local(w->dno, 111, w->steps, tain_less(&w->deadline, &STAMP) ? "the delivery timed out (#4.3.0)" : text) ;
      }
      if (w->fd >= 0) close(w->fd) ;
      w->pid = 0 ; w->fd = -1 ; w->busy = 0 ;
      goto next ;
    }
    for (unsigned int i = 0 ; i < maxr ; i++) if (remotes[i].pid == pid)
    {
      remotes[i].status = wstat ; remotes[i].reaped = 1 ;
      remote_check(remotes + i) ;
      break ;
    }
   next: ;
  }
}

static void request (void)
{
  static char buf[REQMAX] ;
  ssize_t n = recv(qr, buf, sizeof buf - 1, MSG_DONTWAIT) ;
  if (n < 0)
  {
    if (errno == EAGAIN || errno == EINTR) return ;
    /* queue-run died with answers unread: the end, as EOF is; what runs finishes */
    if (errno == ECONNRESET) { qr = -1 ; return ; }
    strerr_diefu1sys(111, "read from queue-run") ;
  }
  if (!n) { qr = -1 ; return ; }
  buf[n] = 0 ;
  switch (buf[0])
  {
    case 'L' :
      if (!genalloc_len(stralloc, &pending) && local_request(buf, n)) break ;
      {
        stralloc sa = STRALLOC_ZERO ;
        if (!stralloc_catb(&sa, buf, n) || !genalloc_append(stralloc, &pending, &sa)) dienomem() ;
      }
      break ;
    case 'R' : remote_request(buf, n) ; break ;
    case 'H' :
    {
      char const *what ;
      if (!route_init(&rc, &what)) strerr_warnwu2sys("read ", what) ;
      if (!remote_controls(&what)) strerr_warnwu2sys("read ", what) ;
      /* the workers read theirs when they start: the idle ones go now, the others after
         their delivery */
      for (unsigned int i = 0 ; i < maxr ; i++)
      {
        remote *x = remotes + i ;
        if (!x->pid || x->fd < 0) continue ;
        x->stale = 1 ;
        if (!x->busy) remote_retire(x) ;
      }
      break ;
    }
    default : strerr_warnw1x("unknown request from queue-run") ;
  }
}

static void helper (void) gccattr_noreturn ;
static void helper (void)
{
  int sfd = selfpipe_init() ;
  if (sfd < 0) strerr_diefu1sys(111, "make a selfpipe") ;
  if (!selfpipe_trap(SIGCHLD)) strerr_diefu1sys(111, "trap SIGCHLD") ;
  sig_ignore(SIGPIPE) ;
  sig_ignore(SIGTERM) ;   /* the end comes from queue-run: its socket closes */
  sig_ignore(SIGHUP) ;
  tain_now_set_stopwatch_g() ;
  for (;;)
  {
    iopause_fd x[2 + maxw + 2 * maxr] ;
    worker *wx[2 + maxw + 2 * maxr] ;
    remote *rx[2 + maxw + 2 * maxr] ;
    unsigned int n = 0, busy = 0, rbusy = 0 ;
    tain deadline = TAIN_INFINITE ;
    x[n].fd = sfd ; x[n].events = IOPAUSE_READ ; n++ ;
    if (qr >= 0) { x[n].fd = qr ; x[n].events = IOPAUSE_READ | (outq.len ? IOPAUSE_WRITE : 0) ; n++ ; }
    for (unsigned int i = 0 ; i < maxw ; i++)
    {
      worker *w = workers + i ;
      if (!w->pid || w->fd < 0) continue ;
      if (w->busy) { busy++ ; if (tain_less(&w->deadline, &deadline)) deadline = w->deadline ; }
      else if (tain_less(&w->idle, &deadline)) deadline = w->idle ;
      x[n].fd = w->fd ; x[n].events = IOPAUSE_READ ; wx[n] = w ; rx[n] = 0 ; n++ ;
    }
    for (unsigned int i = 0 ; i < maxr ; i++)
    {
      remote *r = remotes + i ;
      if (!r->pid) continue ;
      if (r->busy) rbusy++ ;
      else if (r->fd >= 0 && tain_less(&r->idle, &deadline)) deadline = r->idle ;
      if (r->fd >= 0) { x[n].fd = r->fd ; x[n].events = IOPAUSE_READ ; wx[n] = 0 ; rx[n] = r ; n++ ; }
      if (r->err >= 0) { x[n].fd = r->err ; x[n].events = IOPAUSE_READ ; wx[n] = 0 ; rx[n] = r ; n++ ; }
    }
    if (qr < 0 && !busy && !rbusy && !genalloc_len(stralloc, &pending) && !genalloc_len(stralloc, &rpending)) break ;
    if (iopause_g(x, n, &deadline) < 0) strerr_diefu1sys(111, "iopause") ;
    /* deadlines: a delivery past its own is killed with what it started; idle workers go */
    for (unsigned int i = 0 ; i < maxw ; i++)
    {
      worker *w = workers + i ;
      if (!w->pid || w->fd < 0) continue ;
      if (w->busy && !tain_less(&STAMP, &w->deadline)) kill(-w->pid, SIGKILL) ;
      else if (!w->busy && !tain_less(&STAMP, &w->idle)) retire(w) ;
    }
    for (unsigned int i = 0 ; i < maxr ; i++)
    {
      remote *r = remotes + i ;
      if (r->pid && r->fd >= 0 && !r->busy && !tain_less(&STAMP, &r->idle)) remote_retire(r) ;
    }
    for (unsigned int k = 0 ; k < n ; k++)
    {
      if (!(x[k].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT | IOPAUSE_WRITE))) continue ;
      if (x[k].fd == sfd)
      {
        for (;;)
        {
          int sig = selfpipe_read() ;
          if (sig <= 0) break ;
          if (sig == SIGCHLD) reap() ;
        }
      }
      else if (x[k].fd == qr)
      {
        if (x[k].revents & IOPAUSE_WRITE) flush_out() ;
        if (x[k].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT)) request() ;
      }
      else if (wx[k])
      {
        if (wx[k]->pid && wx[k]->fd == x[k].fd) worker_message(wx[k]) ;
      }
      else if (rx[k] && rx[k]->pid)
      {
        remote *r = rx[k] ;
        if (r->fd == x[k].fd) remote_message(r) ;
        else if (r->err == x[k].fd && !remote_stderr(r)) { close(r->err) ; r->err = -1 ; remote_check(r) ; }
      }
    }
    run_pending() ;
    run_rpending() ;
  }
  /* queue-run is gone and nothing runs: the idle workers end with their sockets */
  for (unsigned int i = 0 ; i < maxw ; i++) if (workers[i].pid && workers[i].fd >= 0) close(workers[i].fd) ;
  for (unsigned int i = 0 ; i < maxr ; i++) if (remotes[i].pid && remotes[i].fd >= 0) close(remotes[i].fd) ;
  _exit(0) ;
}

static void parse_user (char const *s)
{
  size_t n = strchr(s, ':') ? (size_t)(strchr(s, ':') - s) : 0 ;
  uint64_t u, g ;
  if (n && uint64_scan(s, &u) == n && !s[n + 1 + uint64_scan(s + n + 1, &g)] && s[n + 1])
  {
    ruid = (uid_t)u ; rgid = (gid_t)g ;
  }
  else
  {
    struct passwd *pw = getpwnam(s) ;
    if (!pw) strerr_dief2x(100, "unknown user: ", s) ;
    ruid = pw->pw_uid ; rgid = pw->pw_gid ;
  }
  if (!ruid || !rgid) strerr_dief1x(100, "remote deliveries must not run as root") ;
  ruser_set = 1 ;
}

int main (int argc, char const *const *argv)
{
  stralloc path = STRALLOC_ZERO ;
  char const *what ;
  int sv[2] ;
  pid_t pid ;
  PROG = "queue-spawn" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "r:c:t:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'r' : parse_user(l.arg) ; break ;
        case 'c' : if (!uint0_scan(l.arg, &maxw) || !maxw || maxw > 1000) dieusage() ; break ;
        case 't' : if (!uint0_scan(l.arg, &timeout) || !timeout) dieusage() ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (!argc) dieusage() ;
  isroot = !geteuid() ;
  workers = calloc(maxw, sizeof *workers) ;
  remotes = calloc(maxr, sizeof *remotes) ;
  if (!workers || !remotes) dienomem() ;
  for (unsigned int i = 0 ; i < maxr ; i++) remotes[i].fd = remotes[i].err = -1 ;
  if (!queue_path(&path)) dienomem() ;
  qfd = queue_open(path.s) ;
  if (qfd < 0) strerr_diefu2sys(111, "open the queue ", path.s) ;
  if (!route_init(&rc, &what)) strerr_diefu2sys(111, "read ", what) ;
  if (!remote_controls(&what)) strerr_diefu2sys(111, "read ", what) ;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) strerr_diefu1sys(111, "make a socketpair") ;
  pid = fork() ;
  if (pid < 0) strerr_diefu1sys(111, "fork") ;
  if (!pid)
  {
    close(sv[1]) ;
    qr = sv[0] ;
    helper() ;
  }
  /* the parent becomes prog, so that the supervisor's signals reach queue-run */
  close(sv[0]) ;
  close(qfd) ;
  {
    char fmt[INT_FMT] ;
    int fl = fcntl(sv[1], F_GETFD) ;
    if (fl < 0 || fcntl(sv[1], F_SETFD, fl & ~FD_CLOEXEC) < 0) strerr_diefu1sys(111, "keep the socket open for prog") ;
    fmt[int_fmt(fmt, sv[1])] = 0 ;
    if (!env_mexec("QUEUESPAWNFD", fmt)) dienomem() ;
  }
  xmexec(argv) ;
}
