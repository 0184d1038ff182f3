/* queue-run: the queue's scheduler (qmail-send). It takes new messages from todo/ as
   queue-inject wakes it, routes every recipient (local, through the users database or the
   system, or remote), has queue-spawn run the deliveries within the concurrency limits,
   writes each outcome to the message's state log before anything else, retries deferrals
   with a growing interval until control/queuelifetime, bounces failures to the sender as
   delivery status notifications, and removes a message once every recipient is done.
   It runs unprivileged; everything is on disk, so a crash loses nothing: a restart reads the
   queue again and at worst repeats a delivery that was done but not yet recorded. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/buffer.h>
#include <skalibs/direntry.h>
#include <skalibs/djbunix.h>
#include <skalibs/genalloc.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "bounce.h"
#include "control.h"
#include "logtext.h"
#include "queue.h"
#include "route.h"

#define USAGE "queue-run"
#define dienomem() strerr_diefu1sys(111, "allocate memory")

#define NONE ((uint32_t)-1)
#define CH_LOCAL 0
#define CH_REMOTE 1
#define REMOTE_RCPTMAX 100        /* recipients in one remote-deliver run */
#define REMOTE_BYTESMAX 32768     /* bytes of addresses in one remote request */
#define SCAN_TODO_EVERY 60        /* seconds between scans of todo/ without a wake-up */
#define CLEANUP_EVERY 3600        /* seconds between removals of old leftovers */
#define LEFTOVER_AGE 129600       /* 36 hours: files in tmp/ older than this are leftovers */
#define STAT_BATCH 256            /* messages of mess/ read per loop turn at start-up */
#define TEMPFAIL_RETRY 300        /* seconds before a message that could not be read is tried again */

/* ---- configuration ----------------------------------------------------------------------- */

static route_ctx rc = ROUTE_CTX_ZERO ;
static unsigned long conc[2] = { 10, 20 } ;
static unsigned long lifetime = 604800 ;
static unsigned long warntime = 0 ;
static unsigned long bouncemax = 50000 ;
static stralloc bouncefrom = STRALLOC_ZERO ;      /* MAILER-DAEMON@bouncehost */
static stralloc doublebounceto = STRALLOC_ZERO ;  /* "" : double bounces are dropped */

static int readcontrols (void)
{
  stralloc a = STRALLOC_ZERO, b = STRALLOC_ZERO ;
  char const *what ;
  int r, ok = 0 ;
  if (!route_init(&rc, &what)) { strerr_warnwu2sys("read ", what) ; return 0 ; }
  if (control_readulong(&conc[CH_LOCAL], "concurrencylocal", 10) < 0) { what = "control/concurrencylocal" ; goto err ; }
  if (control_readulong(&conc[CH_REMOTE], "concurrencyremote", 20) < 0) { what = "control/concurrencyremote" ; goto err ; }
  if (control_readulong(&lifetime, "queuelifetime", 604800) < 0) { what = "control/queuelifetime" ; goto err ; }
  if (control_readulong(&warntime, "delaywarning", 0) < 0) { what = "control/delaywarning" ; goto err ; }
  if (control_readulong(&bouncemax, "bouncemaxbytes", 50000) < 0) { what = "control/bouncemaxbytes" ; goto err ; }
  if (!conc[CH_LOCAL]) conc[CH_LOCAL] = 1 ;
  if (!conc[CH_REMOTE]) conc[CH_REMOTE] = 1 ;
  if (conc[CH_LOCAL] > 1000) conc[CH_LOCAL] = 1000 ;
  if (conc[CH_REMOTE] > 200) conc[CH_REMOTE] = 200 ;   /* queue-spawn's own limit */
  what = "control/bouncefrom" ;
  if (control_readline(&a, "bouncefrom", "MAILER-DAEMON") < 0) goto err ;
  what = "control/bouncehost" ;
  if (control_readline(&b, "bouncehost", rc.me.s) < 0) goto err ;
  bouncefrom.len = 0 ;
  if (!stralloc_cats(&bouncefrom, a.s) || !stralloc_catb(&bouncefrom, "@", 1) || !stralloc_cats(&bouncefrom, b.s) || !stralloc_0(&bouncefrom)) dienomem() ;
  /* double bounces: doublebounceto@doublebouncehost, or nowhere when doublebounceto is empty */
  what = "control/doublebounceto" ;
  r = control_readline(&a, "doublebounceto", "postmaster") ;
  if (r < 0) goto err ;
  what = "control/doublebouncehost" ;
  if (control_readline(&b, "doublebouncehost", rc.me.s) < 0) goto err ;
  doublebounceto.len = 0 ;
  if (a.s[0] && (!stralloc_cats(&doublebounceto, a.s) || !stralloc_catb(&doublebounceto, "@", 1) || !stralloc_cats(&doublebounceto, b.s))) dienomem() ;
  if (!stralloc_0(&doublebounceto)) dienomem() ;
  ok = 1 ;
  goto end ;
 err:
  strerr_warnwu2sys("read ", what) ;
 end:
  stralloc_free(&a) ; stralloc_free(&b) ;
  return ok ;
}

/* ---- the log ------------------------------------------------------------------------------- */

static stralloc logsa = STRALLOC_ZERO ;

static void logs (char const *s) { if (!stralloc_cats(&logsa, s)) dienomem() ; }
static void logn (uint64_t u) { char fmt[UINT64_FMT] ; if (!stralloc_catb(&logsa, fmt, uint64_fmt(fmt, u))) dienomem() ; }
static void logt (char const *s, size_t max) { if (!logtext_cat(&logsa, s, strlen(s), max, 0)) dienomem() ; }
static void logend (void)
{
  if (!stralloc_catb(&logsa, "\n", 1)) dienomem() ;
  buffer_putflush(buffer_2, logsa.s, logsa.len) ;
  logsa.len = 0 ;
}

/* ---- messages -------------------------------------------------------------------------------
   Every message in the queue has a slot: its ID and when it is due. The slots waiting for
   their time are in a heap; a message being worked on is "active", with its envelope and
   the state of its recipients in memory, until its deliveries end. */

typedef struct slot_s slot ;
struct slot_s
{
  char id[QUEUE_IDMAX] ;
  uint64_t next ;               /* due at; UINT64_MAX: not known yet (start-up) */
  uint32_t heap ;               /* position in the heap, or NONE */
  uint32_t active ;             /* its active entry, or NONE */
  uint32_t nextfree ;
  unsigned char fresh ;         /* just taken from todo/: not yet logged */
} ;

typedef struct active_s active ;
struct active_s
{
  uint32_t slot ;
  queue_msg m ;
  queue_state st ;
  unsigned char *chosen ;       /* per recipient: 1 when a delivery of this round has it */
  unsigned int running ;        /* deliveries started, not finished */
  unsigned int waiting ;        /* jobs queued, not started */
  int info ;                    /* 1: info/ID exists */
  pid_t bouncer ;               /* the queue-inject of its bounce, or 0 */
  size_t *bounced ;             /* the recipients that bounce covers */
  size_t nbounced ;
  int bouncedelay ;             /* 1: that bounce is a delay warning */
  int dropped ;                 /* the message is gone (bad file): forget it at the end */
  uint32_t nextfree ;
} ;

typedef struct job_s job ;
struct job_s
{
  uint32_t active ;
  unsigned int channel ;
  uint32_t rcpt[REMOTE_RCPTMAX] ;
  unsigned int n ;
  uint64_t dno ;
  uint32_t next ;               /* the next job waiting on the channel, or NONE */
  uint32_t nextfree ;
} ;

static genalloc slots = GENALLOC_ZERO ;     /* slot */
static uint32_t slotfree = NONE ;
static uint32_t nqueued = 0 ;                /* slots in use: the messages known to be queued */
static genalloc heap = GENALLOC_ZERO ;      /* uint32_t: slot indices, by next */
static genalloc actives = GENALLOC_ZERO ;   /* active */
static uint32_t activefree = NONE ;
static unsigned int nactive = 0 ;
static genalloc jobs = GENALLOC_ZERO ;      /* job */
static uint32_t jobfree = NONE ;
static uint32_t qhead[2] = { NONE, NONE }, qtail[2] = { NONE, NONE } ;
static unsigned int running[2] = { 0, 0 } ;
static unsigned int waiting = 0 ;
static uint64_t dno = 0 ;
static uint64_t forced = 0 ;               /* SIGALRM: attempts before this are retried now */

#define SLOT(i) (genalloc_s(slot, &slots) + (i))
#define ACTIVE(i) (genalloc_s(active, &actives) + (i))
#define JOB(i) (genalloc_s(job, &jobs) + (i))
#define HEAP (genalloc_s(uint32_t, &heap))
#define HEAPLEN (genalloc_len(uint32_t, &heap))

static uint64_t now (void) { return (uint64_t)time(0) ; }

static void heap_swap (uint32_t a, uint32_t b)
{
  uint32_t t = HEAP[a] ;
  HEAP[a] = HEAP[b] ; HEAP[b] = t ;
  SLOT(HEAP[a])->heap = a ; SLOT(HEAP[b])->heap = b ;
}

static void heap_up (uint32_t i)
{
  while (i)
  {
    uint32_t p = (i - 1) / 2 ;
    if (SLOT(HEAP[p])->next <= SLOT(HEAP[i])->next) break ;
    heap_swap(p, i) ;
    i = p ;
  }
}

static void heap_down (uint32_t i)
{
  uint32_t n = HEAPLEN ;
  for (;;)
  {
    uint32_t l = 2 * i + 1, r = l + 1, m = i ;
    if (l < n && SLOT(HEAP[l])->next < SLOT(HEAP[m])->next) m = l ;
    if (r < n && SLOT(HEAP[r])->next < SLOT(HEAP[m])->next) m = r ;
    if (m == i) break ;
    heap_swap(i, m) ;
    i = m ;
  }
}

static void heap_push (uint32_t s, uint64_t next)
{
  uint32_t i = HEAPLEN ;
  SLOT(s)->next = next ;
  if (!genalloc_append(uint32_t, &heap, &s)) dienomem() ;
  SLOT(s)->heap = i ;
  heap_up(i) ;
}

static uint32_t heap_pop (void)
{
  uint32_t s = HEAP[0], n = HEAPLEN - 1 ;
  heap_swap(0, n) ;
  genalloc_setlen(uint32_t, &heap, n) ;
  if (n) heap_down(0) ;
  SLOT(s)->heap = NONE ;
  return s ;
}

static uint32_t slot_new (char const *id)
{
  uint32_t i ;
  slot *s ;
  if (slotfree != NONE) { i = slotfree ; slotfree = SLOT(i)->nextfree ; }
  else
  {
    slot z ;
    i = genalloc_len(slot, &slots) ;
    if (!genalloc_append(slot, &slots, &z)) dienomem() ;
  }
  s = SLOT(i) ;
  memcpy(s->id, id, strlen(id) + 1) ;
  s->next = UINT64_MAX ; s->heap = NONE ; s->active = NONE ; s->nextfree = NONE ; s->fresh = 0 ;
  nqueued++ ;
  return i ;
}

static void slot_free (uint32_t i)
{
  SLOT(i)->id[0] = 0 ;
  SLOT(i)->nextfree = slotfree ;
  slotfree = i ;
  nqueued-- ;
}

/* ---- the queue directory -------------------------------------------------------------------- */

static int qfd ;
static int spawnfd ;

static void name_of (char *buf, char const *dir, char const *id)
{
  size_t n = strlen(dir) ;
  memcpy(buf, dir, n) ;
  buf[n] = '/' ;
  memcpy(buf + n + 1, id, strlen(id) + 1) ;
}

/* a file that is not a queue file, or no longer readable as one: put aside in bad/ */
static void quarantine (char const *id, char const *why)
{
  char from[6 + QUEUE_IDMAX], to[5 + QUEUE_IDMAX] ;
  name_of(from, "mess", id) ;
  name_of(to, "bad", id) ;
  mkdirat(qfd, "bad", 0700) ;
  if (renameat(qfd, from, qfd, to) < 0) strerr_warnwu2sys("move aside ", from) ;
  logs("warning: msg ") ; logs(id) ; logs(": ") ; logs(why) ; logs(": moved to queue/bad/") ; logend() ;
}

/* ---- jobs and deliveries ----------------------------------------------------------------- */

static uint32_t job_new (uint32_t a, unsigned int ch)
{
  uint32_t i ;
  if (jobfree != NONE) { i = jobfree ; jobfree = JOB(i)->nextfree ; }
  else
  {
    job z ;
    i = genalloc_len(job, &jobs) ;
    if (!genalloc_append(job, &jobs, &z)) dienomem() ;
  }
  JOB(i)->active = a ; JOB(i)->channel = ch ; JOB(i)->n = 0 ; JOB(i)->next = NONE ; JOB(i)->dno = 0 ;
  return i ;
}

static void job_queue (uint32_t j)
{
  unsigned int ch = JOB(j)->channel ;
  JOB(j)->next = NONE ;
  if (qtail[ch] == NONE) qhead[ch] = j ; else JOB(qtail[ch])->next = j ;
  qtail[ch] = j ;
  ACTIVE(JOB(j)->active)->waiting++ ;
  waiting++ ;
}

static void job_free (uint32_t j)
{
  JOB(j)->nextfree = jobfree ;
  jobfree = j ;
}

static void status_line (void)
{
  logs("status: local ") ; logn(running[CH_LOCAL]) ; logs("/") ; logn(conc[CH_LOCAL]) ;
  logs(" remote ") ; logn(running[CH_REMOTE]) ; logs("/") ; logn(conc[CH_REMOTE]) ;
  logs(" queued ") ; logn(nqueued) ;
  logend() ;
}

static void spawn_send (stralloc const *req)
{
  ssize_t r ;
  do r = send(spawnfd, req->s, req->len, MSG_NOSIGNAL) ; while (r < 0 && errno == EINTR) ;
  if (r < 0) strerr_diefu1sys(111, "send a delivery to queue-spawn") ;
}

static void job_start (uint32_t j)
{
  static stralloc req = STRALLOC_ZERO ;
  job *jb = JOB(j) ;
  active *a = ACTIVE(jb->active) ;
  slot *s = SLOT(a->slot) ;
  char fmt[UINT64_FMT] ;
  jb->dno = ++dno ;
  req.len = 0 ;
  if (!stralloc_catb(&req, jb->channel == CH_LOCAL ? "L" : "R", 1)
   || !stralloc_catb(&req, fmt, uint64_fmt(fmt, jb->dno)) || !stralloc_0(&req)
   || !stralloc_cats(&req, s->id) || !stralloc_0(&req)
   || !stralloc_catb(&req, fmt, uint64_fmt(fmt, a->m.offset)) || !stralloc_0(&req)) dienomem() ;
  if (jb->channel == CH_LOCAL)
  {
    queue_rcptstate const *rs = genalloc_s(queue_rcptstate, &a->st.rcpt) + jb->rcpt[0] ;
    if (!stralloc_cats(&req, a->m.sender) || !stralloc_0(&req)
     || !stralloc_cats(&req, queue_msg_rcpt(&a->m, jb->rcpt[0])) || !stralloc_0(&req)
     || !stralloc_catb(&req, fmt, uint64_fmt(fmt, rs->state == QUEUE_RCPT_DEFERRED ? rs->steps : 0)) || !stralloc_0(&req)) dienomem() ;
  }
  else
  {
    char const *r0 = queue_msg_rcpt(&a->m, jb->rcpt[0]) ;
    char const *at = strrchr(r0, '@') ;
    if (!stralloc_cats(&req, at ? at + 1 : rc.me.s) || !stralloc_0(&req)
     || !stralloc_cats(&req, a->m.sender) || !stralloc_0(&req)) dienomem() ;
    for (unsigned int k = 0 ; k < jb->n ; k++)
      if (!stralloc_cats(&req, queue_msg_rcpt(&a->m, jb->rcpt[k])) || !stralloc_0(&req)) dienomem() ;
  }
  spawn_send(&req) ;
  running[jb->channel]++ ;
  a->running++ ;
  logs("starting delivery ") ; logn(jb->dno) ; logs(": msg ") ; logs(s->id) ;
  logs(jb->channel == CH_LOCAL ? " to local " : " to remote ") ;
  for (unsigned int k = 0 ; k < jb->n ; k++) { if (k) logs(",") ; logt(queue_msg_rcpt(&a->m, jb->rcpt[k]), 256) ; }
  logend() ;
  status_line() ;
}

static genalloc started = GENALLOC_ZERO ;   /* uint32_t: jobs running, looked up by dno */

static int stopping = 0 ;

static void start_jobs (void)
{
  if (stopping) return ;
  for (unsigned int ch = 0 ; ch < 2 ; ch++)
    while (qhead[ch] != NONE && running[ch] < conc[ch])
    {
      uint32_t j = qhead[ch] ;
      qhead[ch] = JOB(j)->next ;
      if (qhead[ch] == NONE) qtail[ch] = NONE ;
      ACTIVE(JOB(j)->active)->waiting-- ;
      waiting-- ;
      job_start(j) ;
      if (!genalloc_append(uint32_t, &started, &j)) dienomem() ;
    }
}

/* ---- loading a message and making its jobs ----------------------------------------------- */

static void active_free (uint32_t a)
{
  active *x = ACTIVE(a) ;
  queue_msg_free(&x->m) ;
  queue_state_free(&x->st) ;
  free(x->chosen) ; x->chosen = 0 ;
  free(x->bounced) ; x->bounced = 0 ;
  x->bouncer = 0 ; x->running = 0 ; x->waiting = 0 ;
  SLOT(x->slot)->active = NONE ;
  x->nextfree = activefree ;
  activefree = a ;
  nactive-- ;
}

static uint64_t backoff (uint32_t tries, unsigned int ch)
{
  /* as qmail's: the n-th retry (n*c)^2 seconds after the attempt, c = 10 local, 20 remote,
     and never more than 4 hours apart */
  uint64_t c = ch == CH_LOCAL ? 10 : 20 ;
  uint64_t d = (uint64_t)tries * c ;
  d *= d ;
  return d > 14400 ? 14400 : d < 60 ? 60 : d ;
}

static void finish_message (uint32_t a) ;

/* the domains we are: for the jobs; 1, or 0 when the users database cannot be read */
static int plan (uint32_t ai)
{
  active *a = ACTIVE(ai) ;
  stralloc dom = STRALLOC_ZERO, seen = STRALLOC_ZERO ;
  uint64_t t = now() ;
  size_t n = a->m.nrcpt ;
  int ok = 1 ;
  memset(a->chosen, 0, n) ;
  for (size_t i = 0 ; i < n ; i++)
  {
    queue_rcptstate const *rs = genalloc_s(queue_rcptstate, &a->st.rcpt) + i ;
    int kind ;
    if (rs->state == QUEUE_RCPT_DONE || rs->state == QUEUE_RCPT_FAILED) continue ;
    if (rs->state == QUEUE_RCPT_DEFERRED && rs->next > t && rs->when >= forced) continue ;
    if (!route_rcptdomain(&rc, queue_msg_rcpt(&a->m, i), &dom)) dienomem() ;
    kind = route_domain(&rc, dom.s) ;
    if (kind < 0) { ok = 0 ; break ; }
    a->chosen[i] = kind == ROUTE_REMOTE ? 2 : 1 ;
  }
  if (ok)
  {
    /* local: one job per recipient; remote: one per domain, at most REMOTE_RCPTMAX each */
    for (size_t i = 0 ; i < n ; i++)
    {
      uint32_t j ;
      if (a->chosen[i] != 1) continue ;
      j = job_new(ai, CH_LOCAL) ;
      JOB(j)->rcpt[0] = (uint32_t)i ; JOB(j)->n = 1 ;
      job_queue(j) ;
    }
    for (size_t i = 0 ; i < n ; i++)
    {
      uint32_t j ;
      size_t bytes = 0 ;
      char const *d0 ;
      if (a->chosen[i] != 2) continue ;
      d0 = strrchr(queue_msg_rcpt(&a->m, i), '@') ;
      j = job_new(ai, CH_REMOTE) ;
      for (size_t k = i ; k < n && JOB(j)->n < REMOTE_RCPTMAX ; k++)
      {
        char const *r = queue_msg_rcpt(&a->m, k) ;
        char const *dk = strrchr(r, '@') ;
        if (a->chosen[k] != 2) continue ;
        if (!d0 != !dk || (d0 && strcasecmp(d0, dk))) continue ;
        if (bytes + strlen(r) + 1 > REMOTE_BYTESMAX && JOB(j)->n) break ;
        bytes += strlen(r) + 1 ;
        JOB(j)->rcpt[JOB(j)->n++] = (uint32_t)k ;
        a->chosen[k] = 3 ;   /* taken */
      }
      job_queue(j) ;
    }
  }
  stralloc_free(&dom) ;
  stralloc_free(&seen) ;
  return ok ;
}

/* record an outcome: appended to the log now, before anything else happens */
static void record (active *a, stralloc const *lines)
{
  if (!lines->len) return ;
  /* the log may exist even when the write failed (disk full): removed with the message */
  a->info = 1 ;
  if (!queue_state_append(qfd, SLOT(a->slot)->id, lines->s, lines->len, 0))
    strerr_warnwu2sys("write the state of msg ", SLOT(a->slot)->id) ;
}

/* every deferred recipient of a message that could not be planned (the users database is
   unreadable): deferred again, soon */
static void defer_all (uint32_t ai, char const *why)
{
  active *a = ACTIVE(ai) ;
  stralloc lines = STRALLOC_ZERO ;
  uint64_t t = now() ;
  for (size_t i = 0 ; i < a->m.nrcpt ; i++)
  {
    queue_rcptstate *rs = genalloc_s(queue_rcptstate, &a->st.rcpt) + i ;
    if (rs->state == QUEUE_RCPT_DONE || rs->state == QUEUE_RCPT_FAILED) continue ;
    rs->state = QUEUE_RCPT_DEFERRED ; rs->when = t ; rs->next = t + TEMPFAIL_RETRY ;
    if (!queue_line_deferred(&lines, i, t, rs->next, rs->tries, rs->steps, why)) dienomem() ;
  }
  record(a, &lines) ;
  stralloc_free(&lines) ;
  logs("warning: msg ") ; logs(SLOT(a->slot)->id) ; logs(": ") ; logs(why) ; logend() ;
}

/* slot s is due: load it and queue its deliveries */
static void take (uint32_t si)
{
  slot *s = SLOT(si) ;
  char name[6 + QUEUE_IDMAX] ;
  char const *why ;
  uint32_t ai ;
  active *a ;
  size_t bad ;
  int fd, r ;
  if (activefree != NONE) { ai = activefree ; activefree = ACTIVE(ai)->nextfree ; }
  else
  {
    active z ;
    memset(&z, 0, sizeof z) ;
    ai = genalloc_len(active, &actives) ;
    if (!genalloc_append(active, &actives, &z)) dienomem() ;
  }
  nactive++ ;
  a = ACTIVE(ai) ;
  {
    queue_msg m0 = QUEUE_MSG_ZERO ;
    queue_state st0 = QUEUE_STATE_ZERO ;
    a->m = m0 ; a->st = st0 ;
  }
  a->slot = si ; a->running = 0 ; a->waiting = 0 ; a->bouncer = 0 ; a->bounced = 0 ; a->nbounced = 0 ;
  a->chosen = 0 ; a->dropped = 0 ; a->info = 0 ; a->bouncedelay = 0 ;
  s->active = ai ;
  name_of(name, "mess", s->id) ;
  fd = openat(qfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) ;
  if (fd < 0)
  {
    if (errno == ENOENT) { a->dropped = 1 ; active_free(ai) ; slot_free(si) ; return ; }   /* gone */
    strerr_warnwu2sys("open ", name) ;
    active_free(ai) ;
    heap_push(si, now() + TEMPFAIL_RETRY) ;
    return ;
  }
  r = queue_msg_read(fd, &a->m, &why) ;
  close(fd) ;
  if (r <= 0)
  {
    if (!r) { quarantine(s->id, why) ; active_free(ai) ; slot_free(si) ; return ; }
    strerr_warnwu2sys("read ", name) ;
    active_free(ai) ;
    heap_push(si, now() + TEMPFAIL_RETRY) ;
    return ;
  }
  if (queue_state_read(qfd, s->id, a->m.nrcpt, &a->st, &bad) < 0)
  {
    strerr_warnwu2sys("read the state of msg ", s->id) ;
    active_free(ai) ;
    heap_push(si, now() + TEMPFAIL_RETRY) ;
    return ;
  }
  a->info = a->st.lines > 0 || bad > 0 ;
  if (a->st.lines > 2 * a->m.nrcpt + 16 && !queue_state_compact(qfd, s->id, &a->st, 0))
    strerr_warnwu2sys("compact the state of msg ", s->id) ;
  a->chosen = malloc(a->m.nrcpt ? a->m.nrcpt : 1) ;
  if (!a->chosen) dienomem() ;
  if (s->fresh)
  {
    s->fresh = 0 ;
    logs("new msg ") ; logs(s->id) ; logend() ;
    logs("info msg ") ; logs(s->id) ; logs(": bytes ") ; logn(a->m.size) ; logs(" from <") ; logt(a->m.sender, 256) ;
    logs("> qp ") ; logn(a->m.qp) ; logs(" uid ") ; logn(a->m.uid) ; logend() ;
  }
  if (!plan(ai)) defer_all(ai, "unable to read the users database (#4.3.0)") ;
  if (!a->waiting) finish_message(ai) ;
}

/* ---- bounces --------------------------------------------------------------------------------- */

static int memfile (char const *name, char const *s, size_t len)
{
  int fd = memfd_create(name, MFD_CLOEXEC) ;
  if (fd < 0) return -1 ;
  if (allwrite(fd, s, len) < len || lseek(fd, 0, SEEK_SET) < 0) { int e = errno ; close(fd) ; errno = e ; return -1 ; }
  return fd ;
}

/* queue a notice (failure or delay) for the recipients idx[0..n) of a; 1 started (the
   queue-inject runs, and idx belongs to a until it ends), 0 nothing to send (dropped:
   logged), -1 failed (try later); idx stays the caller's unless 1 */
static int send_bounce (uint32_t ai, size_t *idx, size_t n, int delayed)
{
  active *a = ACTIVE(ai) ;
  slot *s = SLOT(a->slot) ;
  stralloc msg = STRALLOC_ZERO, env = STRALLOC_ZERO, orig = STRALLOC_ZERO ;
  bounce b ;
  bounce_rcpt *br ;
  char const *to, *from ;
  char name[6 + QUEUE_IDMAX] ;
  int ret = -1, fd ;
  extern char **environ ;
  if (!strcmp(a->m.sender, "#@[]") || (!*a->m.sender && (delayed || !doublebounceto.s[0])))
  {
    logs("bounce msg ") ; logs(s->id) ; logs(*a->m.sender ? ": double bounce discarded" : ": bounce of a bounce discarded (no doublebounceto)") ;
    logend() ;
    return 0 ;
  }
  if (*a->m.sender) { to = a->m.sender ; from = "" ; }
  else { to = doublebounceto.s ; from = "#@[]" ; }
  br = malloc(n * sizeof *br) ;
  if (!br) dienomem() ;
  for (size_t k = 0 ; k < n ; k++)
  {
    char const *text = queue_state_text(&a->st, idx[k]) ;
    queue_rcptstate const *rs = genalloc_s(queue_rcptstate, &a->st.rcpt) + idx[k] ;
    br[k].addr = queue_msg_rcpt(&a->m, idx[k]) ;
    /* a failure's text starts with its status: the notice shows the reason after it */
    if (rs->state == QUEUE_RCPT_FAILED && strchr(text, ' ')) text = strchr(text, ' ') + 1 ;
    br[k].text = text ;
    br[k].remote = !!strstr(text, " said: ") ;
  }
  /* the original: whole when it fits, else its start (the header goes back) */
  name_of(name, "mess", s->id) ;
  fd = openat(qfd, name, O_RDONLY | O_CLOEXEC) ;
  if (fd < 0) { strerr_warnwu2sys("open ", name) ; goto end ; }
  {
    size_t want = a->m.size > bouncemax ? (bouncemax > 65536 ? bouncemax : 65536) : a->m.size ;
    ssize_t r ;
    if (!stralloc_ready(&orig, want + 1)) dienomem() ;
    r = pread(fd, orig.s, want, a->m.offset) ;
    close(fd) ;
    if (r < 0) { strerr_warnwu2sys("read ", name) ; goto end ; }
    orig.len = r ;
  }
  b.me = rc.me.s ; b.from = bouncefrom.s ; b.to = to ; b.id = s->id ;
  b.arrival = queue_id_time(s->id) ; b.until = b.arrival + lifetime ;
  b.delayed = delayed ; b.rcpts = br ; b.n = n ;
  b.orig = orig.s ; b.origlen = orig.len ; b.whole = a->m.size <= bouncemax ;
  if (!bounce_make(&msg, &b)) dienomem() ;
  if (!stralloc_catb(&env, "F", 1) || !stralloc_cats(&env, from) || !stralloc_0(&env)
   || !stralloc_catb(&env, "T", 1) || !stralloc_cats(&env, to) || !stralloc_0(&env) || !stralloc_0(&env)) dienomem() ;
  {
    int mfd = memfile("bounce", msg.s, msg.len) ;
    int efd = mfd >= 0 ? memfile("envelope", env.s, env.len) : -1 ;
    posix_spawn_file_actions_t fa ;
    posix_spawnattr_t attr ;
    sigset_t all, none ;
    char *argv[2] = { "queue-inject", 0 } ;
    pid_t pid ;
    int e ;
    if (mfd < 0 || efd < 0) { strerr_warnwu1sys("make a bounce") ; if (mfd >= 0) close(mfd) ; goto end ; }
    sigfillset(&all) ; sigemptyset(&none) ;
    e = posix_spawn_file_actions_init(&fa) ;
    if (!e) e = posix_spawnattr_init(&attr) ;
    if (!e) e = posix_spawn_file_actions_adddup2(&fa, mfd, 0) ;
    if (!e) e = posix_spawn_file_actions_adddup2(&fa, efd, 1) ;
    if (!e) e = posix_spawnattr_setsigdefault(&attr, &all) ;
    if (!e) e = posix_spawnattr_setsigmask(&attr, &none) ;
    if (!e) e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK) ;
    if (!e) e = posix_spawnp(&pid, "queue-inject", &fa, &attr, argv, environ) ;
    posix_spawn_file_actions_destroy(&fa) ;
    posix_spawnattr_destroy(&attr) ;
    close(mfd) ; close(efd) ;
    if (e) { errno = e ; strerr_warnwu1sys("run queue-inject for a bounce") ; goto end ; }
    a->bouncer = pid ;
    a->bounced = idx ;
    a->nbounced = n ;
    a->bouncedelay = delayed ;
    logs("bounce msg ") ; logs(s->id) ; logs(" qp ") ; logn((uint64_t)pid) ; logs(delayed ? " (delay warning)" : "") ; logend() ;
    ret = 1 ;
  }
 end:
  free(br) ;
  stralloc_free(&msg) ; stralloc_free(&env) ; stralloc_free(&orig) ;
  return ret ;
}

/* ---- a message's round is over --------------------------------------------------------------- */

/* back to waiting, until next; its log's modification time says when, for a restart */
static void reschedule (uint32_t ai, uint64_t next)
{
  active *a = ACTIVE(ai) ;
  uint32_t si = a->slot ;
  if (a->info)
  {
    char name[6 + QUEUE_IDMAX] ;
    struct timespec ts[2] = { { .tv_sec = 0, .tv_nsec = UTIME_OMIT }, { .tv_sec = (time_t)next, .tv_nsec = 0 } } ;
    name_of(name, "info", SLOT(si)->id) ;
    if (utimensat(qfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0) strerr_warnwu2sys("set the time of ", name) ;
  }
  active_free(ai) ;
  heap_push(si, next) ;
}

static void finish_message (uint32_t ai)
{
  active *a = ACTIVE(ai) ;
  slot *s = SLOT(a->slot) ;
  uint64_t t = now(), next = UINT64_MAX ;
  size_t n = a->m.nrcpt, nfail = 0, ndefer = 0 ;
  if (a->running || a->waiting || a->bouncer) return ;
  for (size_t i = 0 ; i < n ; i++)
  {
    queue_rcptstate const *rs = genalloc_s(queue_rcptstate, &a->st.rcpt) + i ;
    if (rs->state == QUEUE_RCPT_FAILED && !rs->bounced) nfail++ ;
    else if (rs->state == QUEUE_RCPT_DEFERRED || rs->state == QUEUE_RCPT_PENDING)
    {
      ndefer++ ;
      if (rs->next < next) next = rs->next ;
    }
  }
  if (nfail)
  {
    /* one notice for every failure not yet told */
    size_t *idx = malloc(nfail * sizeof *idx), k = 0 ;
    int r ;
    if (!idx) dienomem() ;
    for (size_t i = 0 ; i < n ; i++)
    {
      queue_rcptstate const *rs = genalloc_s(queue_rcptstate, &a->st.rcpt) + i ;
      if (rs->state == QUEUE_RCPT_FAILED && !rs->bounced) idx[k++] = i ;
    }
    r = send_bounce(ai, idx, nfail, 0) ;
    if (r > 0) return ;   /* back here when queue-inject ends */
    if (!r)
    {
      /* nobody to tell: the failures are as good as told */
      stralloc lines = STRALLOC_ZERO ;
      if (!queue_line_bounced(&lines, t, idx, nfail)) dienomem() ;
      record(a, &lines) ;
      stralloc_free(&lines) ;
      for (size_t i = 0 ; i < nfail ; i++) genalloc_s(queue_rcptstate, &a->st.rcpt)[idx[i]].bounced = 1 ;
    }
    else
    {
      /* try the notice again later; the recipients stay as they are */
      if (t + TEMPFAIL_RETRY < next) next = t + TEMPFAIL_RETRY ;
      ndefer++ ;
    }
    free(idx) ;
  }
  if (!ndefer)
  {
    char name[6 + QUEUE_IDMAX] ;
    name_of(name, "mess", s->id) ;
    if (unlinkat(qfd, name, 0) < 0 && errno != ENOENT) strerr_warnwu2sys("remove ", name) ;
    if (a->info)
    {
      name_of(name, "info", s->id) ;
      if (unlinkat(qfd, name, 0) < 0 && errno != ENOENT) strerr_warnwu2sys("remove ", name) ;
    }
    logs("end msg ") ; logs(s->id) ; logend() ;
    {
      uint32_t si = a->slot ;
      active_free(ai) ;
      slot_free(si) ;
    }
    return ;
  }
  /* deferrals: a warning once, when asked for and late enough */
  if (warntime && !a->st.warned && t >= queue_id_time(s->id) + warntime && *a->m.sender && strcmp(a->m.sender, "#@[]"))
  {
    size_t *idx = malloc(ndefer * sizeof *idx), k = 0 ;
    if (!idx) dienomem() ;
    for (size_t i = 0 ; i < n ; i++)
    {
      queue_rcptstate const *rs = genalloc_s(queue_rcptstate, &a->st.rcpt) + i ;
      if (rs->state == QUEUE_RCPT_DEFERRED) idx[k++] = i ;
    }
    if (k && send_bounce(ai, idx, k, 1) > 0) return ;
    free(idx) ;
  }
  if (next == UINT64_MAX || next < t) next = t ;
  reschedule(ai, next) ;
}

static void bounce_done (uint32_t ai, int wstat)
{
  active *a = ACTIVE(ai) ;
  slot *s = SLOT(a->slot) ;
  stralloc lines = STRALLOC_ZERO ;
  uint64_t t = now() ;
  a->bouncer = 0 ;
  if (!WIFEXITED(wstat) || WEXITSTATUS(wstat))
  {
    logs("warning: msg ") ; logs(s->id) ; logs(": unable to queue its ") ; logs(a->bouncedelay ? "delay warning" : "bounce") ;
    logs(": queue-inject ") ; logs(WIFEXITED(wstat) ? "exit " : "signal ") ; logn(WIFEXITED(wstat) ? WEXITSTATUS(wstat) : WTERMSIG(wstat)) ;
    logend() ;
    free(a->bounced) ; a->bounced = 0 ;
    /* tried again at the message's next turn, which is soon */
    reschedule(ai, t + TEMPFAIL_RETRY) ;
    return ;
  }
  if (a->bouncedelay)
  {
    if (!queue_line_warned(&lines, t)) dienomem() ;
    a->st.warned = t ;
  }
  else
  {
    if (!queue_line_bounced(&lines, t, a->bounced, a->nbounced)) dienomem() ;
    for (size_t i = 0 ; i < a->nbounced ; i++) genalloc_s(queue_rcptstate, &a->st.rcpt)[a->bounced[i]].bounced = 1 ;
  }
  record(a, &lines) ;
  stralloc_free(&lines) ;
  free(a->bounced) ; a->bounced = 0 ; a->nbounced = 0 ;
  if (a->bouncedelay)
  {
    /* the warning is out: the message waits for its deferrals */
    uint64_t next = UINT64_MAX ;
    for (size_t i = 0 ; i < a->m.nrcpt ; i++)
    {
      queue_rcptstate const *rs = genalloc_s(queue_rcptstate, &a->st.rcpt) + i ;
      if (rs->state == QUEUE_RCPT_DEFERRED && rs->next < next) next = rs->next ;
    }
    reschedule(ai, next == UINT64_MAX ? t : next) ;
    return ;
  }
  finish_message(ai) ;
}

/* ---- results from queue-spawn ------------------------------------------------------------- */

/* the outcome of recipient i, with the text of the delivery */
static void outcome (active *a, size_t i, int code, char const *text, unsigned int steps, unsigned int ch, uint64_t jobdno, stralloc *lines, uint64_t *next)
{
  queue_rcptstate *rs = genalloc_s(queue_rcptstate, &a->st.rcpt) + i ;
  uint64_t t = now() ;
  char status[16] ;
  if (code == 111 && t >= queue_id_time(SLOT(a->slot)->id) + lifetime)
  {
    /* too old to try again: the deferral becomes a failure */
    static stralloc sa = STRALLOC_ZERO ;
    sa.len = 0 ;
    if (!stralloc_cats(&sa, text) || !stralloc_cats(&sa, " / I'm not going to try again; this message has been in the queue too long (#5.4.7)") || !stralloc_0(&sa)) dienomem() ;
    logs("delivery ") ; logn(jobdno) ; logs(": failure: ") ; logt(sa.s, 1000) ; logend() ;
    bounce_status(sa.s, 0, status) ;
    if (!queue_line_failed(lines, i, t, status, sa.s)) dienomem() ;
    rs->state = QUEUE_RCPT_FAILED ; rs->bounced = 0 ; rs->when = t ;
    rs->text = a->st.text.len ;
    if (!stralloc_cats(&a->st.text, status) || !stralloc_catb(&a->st.text, " ", 1) || !stralloc_cats(&a->st.text, sa.s) || !stralloc_0(&a->st.text)) dienomem() ;
    return ;
  }
  logs("delivery ") ; logn(jobdno) ; logs(code == 0 ? ": success: " : code == 100 ? ": failure: " : ": deferral: ") ;
  logt(text, 1000) ; logend() ;
  if (!code)
  {
    if (!queue_line_done(lines, i, t)) dienomem() ;
    rs->state = QUEUE_RCPT_DONE ; rs->when = t ;
  }
  else if (code == 100)
  {
    bounce_status(text, 0, status) ;
    if (!queue_line_failed(lines, i, t, status, text)) dienomem() ;
    rs->state = QUEUE_RCPT_FAILED ; rs->bounced = 0 ; rs->when = t ;
    rs->text = a->st.text.len ;
    if (!stralloc_cats(&a->st.text, status) || !stralloc_catb(&a->st.text, " ", 1) || !stralloc_cats(&a->st.text, text) || !stralloc_0(&a->st.text)) dienomem() ;
  }
  else
  {
    rs->tries++ ;
    /* the steps done never go back (an early failure reports none) */
    if (steps > rs->steps) rs->steps = steps ;
    rs->state = QUEUE_RCPT_DEFERRED ; rs->when = t ;
    rs->next = t + backoff(rs->tries, ch) ;
    if (!queue_line_deferred(lines, i, t, rs->next, rs->tries, rs->steps, text)) dienomem() ;
    rs->text = a->st.text.len ;
    if (!stralloc_cats(&a->st.text, text) || !stralloc_0(&a->st.text)) dienomem() ;
    if (rs->next < *next) *next = rs->next ;
  }
}

static uint32_t job_done (char const *dnos)
{
  uint64_t d ;
  size_t n = genalloc_len(uint32_t, &started) ;
  uint32_t *p = genalloc_s(uint32_t, &started) ;
  if (!*dnos || dnos[uint64_scan(dnos, &d)]) return NONE ;
  for (size_t k = 0 ; k < n ; k++) if (JOB(p[k])->dno == d)
  {
    uint32_t j = p[k] ;
    p[k] = p[n - 1] ;
    genalloc_setlen(uint32_t, &started, n - 1) ;
    return j ;
  }
  return NONE ;
}

static void result (char *buf, size_t len)
{
  char *f[4] ;
  size_t i = 1 ;
  unsigned int nf = 0 ;
  uint32_t j ;
  job *jb ;
  active *a ;
  stralloc lines = STRALLOC_ZERO ;
  uint64_t next = 0 ;
  unsigned int code, steps = 0 ;
  while (nf < 4 && i < len)
  {
    char *z = memchr(buf + i, 0, len - i) ;
    if (!z) break ;
    f[nf++] = buf + i ;
    i = (size_t)(z - buf) + 1 ;
  }
  if (nf != 4 || !uint0_scan(f[1], &code)) { strerr_warnw1x("bad answer from queue-spawn") ; return ; }
  j = job_done(f[0]) ;
  if (j == NONE) { strerr_warnw1x("answer from queue-spawn for no delivery in progress") ; return ; }
  jb = JOB(j) ;
  a = ACTIVE(jb->active) ;
  running[jb->channel]-- ;
  a->running-- ;
  next = UINT64_MAX ;
  if (buf[0] == 'L')
  {
    uint0_scan(f[2], &steps) ;
    outcome(a, jb->rcpt[0], code == 0 ? 0 : code == 100 ? 100 : 111, f[3], steps, CH_LOCAL, jb->dno, &lines, &next) ;
  }
  else
  {
    /* remote-deliver: a line per recipient "success|failure|deferral N text"; those
       without one take the exit code and the last error line */
    unsigned char got[REMOTE_RCPTMAX] ;
    char *s = f[2] ;
    memset(got, 0, sizeof got) ;
    while (*s)
    {
      char *nl = strchr(s, '\n') ;
      char *sp ;
      unsigned int k ;
      int c = -1 ;
      if (nl) *nl = 0 ;
      if (!strncmp(s, "success ", 8)) c = 0 ;
      else if (!strncmp(s, "failure ", 8)) c = 100 ;
      else if (!strncmp(s, "deferral ", 9)) c = 111 ;
      sp = c < 0 ? 0 : strchr(s, ' ') ;
      if (sp && uint_scan(sp + 1, &k) && k >= 1 && k <= jb->n && !got[k - 1])
      {
        char *text = sp + 1 + uint_scan(sp + 1, &k) ;
        if (*text == ' ') text++ ;
        got[k - 1] = 1 ;
        outcome(a, jb->rcpt[k - 1], c, text, 0, CH_REMOTE, jb->dno, &lines, &next) ;
      }
      if (!nl) break ;
      s = nl + 1 ;
    }
    for (unsigned int k = 0 ; k < jb->n ; k++) if (!got[k])
    {
      char const *why = *f[3] ? f[3] : code ? "remote-deliver failed without saying why" : "remote-deliver said nothing about this recipient" ;
      outcome(a, jb->rcpt[k], code == 100 ? 100 : 111, why, 0, CH_REMOTE, jb->dno, &lines, &next) ;
    }
  }
  record(a, &lines) ;
  stralloc_free(&lines) ;
  job_free(j) ;
  status_line() ;
  finish_message(jb->active) ;
}

/* ---- scans ------------------------------------------------------------------------------------ */

static void seen_add (uint32_t si) ;

/* every message of todo/ into mess/, due now */
static void scan_todo (void)
{
  int fd = openat(qfd, "todo", O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  DIR *dir ;
  if (fd < 0) { strerr_warnwu1sys("open todo/") ; return ; }
  dir = fdopendir(fd) ;
  if (!dir) { close(fd) ; strerr_warnwu1sys("read todo/") ; return ; }
  for (;;)
  {
    char from[6 + QUEUE_IDMAX], to[6 + QUEUE_IDMAX] ;
    direntry *d ;
    uint32_t si ;
    errno = 0 ;
    d = readdir(dir) ;
    if (!d) { if (errno) strerr_warnwu1sys("read todo/") ; break ; }
    if (d->d_name[0] == '.') continue ;
    if (!queue_id_valid(d->d_name)) continue ;
    name_of(from, "todo", d->d_name) ;
    name_of(to, "mess", d->d_name) ;
    if (renameat(qfd, from, qfd, to) < 0) { strerr_warnwu2sys("move into mess/: ", from) ; continue ; }
    si = slot_new(d->d_name) ;
    SLOT(si)->next = 0 ;
    SLOT(si)->fresh = 1 ;
    seen_add(si) ;
    /* taken at once, while the file is still in the page cache, unless the channels are
       full already */
    if (!stopping && waiting < 2 * (conc[CH_LOCAL] + conc[CH_REMOTE]) + 64) take(si) ;
    else heap_push(si, 0) ;
  }
  closedir(dir) ;
}

/* start-up: mess/ is read a batch at a time, between deliveries, so that a big queue starts
   delivering at once; each message's schedule is its log's mtime (due now without a log).
   Messages moved from todo/ meanwhile may show up in the listing too: they are remembered
   until the listing ends, so that none gets two slots. */
static DIR *messdir = 0 ;
static uint32_t *seenhash = 0 ;     /* open addressing: slot + 1, 0 for empty */
static uint32_t seenmask = 0 ;
static uint32_t seencount = 0 ;

static uint32_t idhash (char const *id)
{
  uint32_t h = 2166136261u ;
  for (; *id ; id++) { h ^= (unsigned char)*id ; h *= 16777619u ; }
  return h ;
}

static void seen_add (uint32_t si)
{
  uint32_t h ;
  if (!messdir) return ;
  if (2 * (seencount + 1) > seenmask + 1)
  {
    uint32_t *old = seenhash, oldsize = seenhash ? seenmask + 1 : 0 ;
    uint32_t size = oldsize ? 2 * oldsize : 1024 ;
    seenhash = calloc(size, sizeof *seenhash) ;
    if (!seenhash) dienomem() ;
    seenmask = size - 1 ;
    seencount = 0 ;
    for (uint32_t k = 0 ; k < oldsize ; k++) if (old[k])
    {
      h = idhash(SLOT(old[k] - 1)->id) & seenmask ;
      while (seenhash[h]) h = (h + 1) & seenmask ;
      seenhash[h] = old[k] ;
      seencount++ ;
    }
    free(old) ;
  }
  h = idhash(SLOT(si)->id) & seenmask ;
  while (seenhash[h]) h = (h + 1) & seenmask ;
  seenhash[h] = si + 1 ;
  seencount++ ;
}

static int seen_has (char const *id)
{
  uint32_t h ;
  if (!seenhash) return 0 ;
  for (h = idhash(id) & seenmask ; seenhash[h] ; h = (h + 1) & seenmask)
    if (!strcmp(SLOT(seenhash[h] - 1)->id, id)) return 1 ;
  return 0 ;
}

static void scan_mess_start (void)
{
  int fd = openat(qfd, "mess", O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (fd < 0) strerr_diefu1sys(111, "open mess/") ;
  messdir = fdopendir(fd) ;
  if (!messdir) strerr_diefu1sys(111, "read mess/") ;
}

/* a batch of mess/ into the schedule: 1 when there is more to read */
static int scan_mess_batch (void)
{
  uint64_t t = now() ;
  for (unsigned int k = 0 ; k < STAT_BATCH ; k++)
  {
    char name[6 + QUEUE_IDMAX] ;
    struct stat st ;
    direntry *d ;
    uint32_t si ;
    errno = 0 ;
    d = readdir(messdir) ;
    if (!d)
    {
      if (errno) strerr_diefu1sys(111, "read mess/") ;
      closedir(messdir) ;
      messdir = 0 ;
      free(seenhash) ; seenhash = 0 ; seenmask = 0 ; seencount = 0 ;
      return 0 ;
    }
    if (d->d_name[0] == '.' || !queue_id_valid(d->d_name) || seen_has(d->d_name)) continue ;
    si = slot_new(d->d_name) ;
    name_of(name, "info", d->d_name) ;
    heap_push(si, fstatat(qfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? t : (uint64_t)st.st_mtime) ;
  }
  return 1 ;
}

/* leftovers: tmp/ files of injections that died, info/ logs without a message; a pass runs
   every hour, a batch of entries per loop turn, like the start-up scan */
static DIR *cleandir = 0 ;
static unsigned int cleanstage = 0 ;   /* 0 idle, 1 tmp/, 2 info/ */

static void cleanup_start (void)
{
  if (!cleanstage) cleanstage = 1 ;
}

/* 1 while a pass goes on */
static int cleanup_batch (void)
{
  static char const *const dirs[3] = { 0, "tmp", "info" } ;
  uint64_t t = now() ;
  if (!cleanstage) return 0 ;
  if (!cleandir)
  {
    int fd = openat(qfd, dirs[cleanstage], O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
    cleandir = fd < 0 ? 0 : fdopendir(fd) ;
    if (!cleandir)
    {
      if (fd >= 0) close(fd) ;
      cleanstage = cleanstage == 2 ? 0 : 2 ;
      return !!cleanstage ;
    }
  }
  for (unsigned int k = 0 ; k < STAT_BATCH ; k++)
  {
    direntry *d ;
    struct stat st ;
    char name[8 + 256] ;
    errno = 0 ;
    d = readdir(cleandir) ;
    if (!d)
    {
      closedir(cleandir) ;
      cleandir = 0 ;
      cleanstage = cleanstage == 2 ? 0 : 2 ;
      return !!cleanstage ;
    }
    if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..") || strlen(d->d_name) > 200) continue ;
    /* in info/: logs of messages gone, and .ID.tmp of a compaction that died */
    if (cleanstage == 2 && d->d_name[0] == '.' && (strlen(d->d_name) < 5 || strcmp(d->d_name + strlen(d->d_name) - 4, ".tmp"))) continue ;
    if (cleanstage == 2 && d->d_name[0] != '.')
    {
      /* a log without its message: only queue-run writes logs, and it holds the lock, so
         this one is left over from a crash between the two unlinks, whatever its age */
      struct stat ms ;
      if (!queue_id_valid(d->d_name)) continue ;
      name_of(name, "mess", d->d_name) ;
      if (fstatat(qfd, name, &ms, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT) continue ;
    }
    else
    {
      if (fstatat(dirfd(cleandir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue ;
      if ((uint64_t)st.st_ctime + LEFTOVER_AGE > t && (uint64_t)st.st_mtime + LEFTOVER_AGE > t) continue ;
    }
    if (unlinkat(dirfd(cleandir), d->d_name, 0) == 0)
    {
      logs("warning: removed the leftover ") ; logs(dirs[cleanstage]) ; logs("/") ; logt(d->d_name, 200) ; logend() ;
    }
  }
  return 1 ;
}

/* ---- main --------------------------------------------------------------------------------------- */

static int open_trigger (int *wfd)
{
  int fd ;
  if (mkfifoat(qfd, "trigger", 0622) < 0 && errno != EEXIST) strerr_diefu1sys(111, "make queue/trigger") ;
  fd = openat(qfd, "trigger", O_RDONLY | O_NONBLOCK | O_CLOEXEC) ;
  if (fd < 0) strerr_diefu1sys(111, "open queue/trigger") ;
  /* a writer of our own: the FIFO never reads as ended when the injectors close it */
  *wfd = openat(qfd, "trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC) ;
  if (*wfd < 0) strerr_diefu1sys(111, "open queue/trigger for writing") ;
  return fd ;
}

static void reap (void)
{
  for (;;)
  {
    int wstat ;
    pid_t pid = waitpid(-1, &wstat, WNOHANG) ;
    if (pid <= 0) return ;
    for (uint32_t i = 0 ; i < genalloc_len(active, &actives) ; i++)
      if (ACTIVE(i)->bouncer == pid && ACTIVE(i)->slot != NONE) { bounce_done(i, wstat) ; break ; }
  }
}

int main (int argc, char const *const *argv)
{
  stralloc path = STRALLOC_ZERO ;
  int sfd, tfd, twfd, lockfd ;
  uint64_t lastscan, lastclean ;
  int starting = 1, cleaning = 0 ;
  PROG = "queue-run" ;
  if (argc > 1) strerr_dieusage(100, USAGE) ;
  (void)argv ;
  {
    char const *x = getenv("QUEUESPAWNFD") ;
    unsigned int u ;
    if (!x || !uint0_scan(x, &u)) strerr_dief1x(100, "QUEUESPAWNFD is not set: run queue-run under queue-spawn") ;
    spawnfd = (int)u ;
    if (fcntl(spawnfd, F_SETFD, FD_CLOEXEC) < 0) strerr_diefu1sys(111, "use the socket to queue-spawn") ;
  }
  if (!queue_path(&path)) dienomem() ;
  qfd = queue_open(path.s) ;
  if (qfd < 0) strerr_diefu2sys(111, "open the queue ", path.s) ;
  lockfd = openat(qfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600) ;
  if (lockfd < 0) strerr_diefu1sys(111, "open queue/lock") ;
  if (lockf(lockfd, F_TLOCK, 0) < 0) strerr_dief1x(111, "another queue-run has the queue: queue/lock is held") ;
  for (unsigned int k = 0 ; k < 4 ; k++)
  {
    static char const *const d[4] = { "tmp", "todo", "mess", "info" } ;
    if (mkdirat(qfd, d[k], 0700) < 0 && errno != EEXIST) strerr_diefu2sys(111, "make queue/", d[k]) ;
  }
  if (!readcontrols()) strerr_dief1x(111, "unable to read the control files") ;
  sig_ignore(SIGPIPE) ;
  sfd = selfpipe_init() ;
  if (sfd < 0) strerr_diefu1sys(111, "make a selfpipe") ;
  {
    sigset_t set ;
    sigemptyset(&set) ;
    sigaddset(&set, SIGCHLD) ; sigaddset(&set, SIGTERM) ; sigaddset(&set, SIGINT) ;
    sigaddset(&set, SIGALRM) ; sigaddset(&set, SIGHUP) ;
    if (!selfpipe_trapset(&set)) strerr_diefu1sys(111, "trap signals") ;
  }
  tfd = open_trigger(&twfd) ;
  scan_mess_start() ;
  scan_todo() ;
  lastscan = now() ;
  lastclean = 0 ;   /* a pass for leftovers once the start-up scan is over, then every hour */
  start_jobs() ;

  for (;;)
  {
    iopause_fd x[3] ;
    tain deadline ;
    uint64_t t = now(), due = UINT64_MAX ;
    if (stopping && !running[CH_LOCAL] && !running[CH_REMOTE])
    {
      int bouncing = 0 ;
      for (uint32_t i = 0 ; i < genalloc_len(active, &actives) ; i++) if (ACTIVE(i)->bouncer) bouncing = 1 ;
      if (!bouncing) break ;
    }
    /* due messages are taken while the channels have room for their deliveries */
    while (!stopping && HEAPLEN && SLOT(HEAP[0])->next <= t && waiting < 2 * (conc[CH_LOCAL] + conc[CH_REMOTE]) + 64)
      take(heap_pop()) ;
    start_jobs() ;
    if (starting) starting = scan_mess_batch() ;
    if (!stopping && !starting && t >= lastclean + CLEANUP_EVERY) { cleanup_start() ; lastclean = t ; }
    cleaning = cleanup_batch() ;
    if (HEAPLEN) due = SLOT(HEAP[0])->next ;
    if (lastscan + SCAN_TODO_EVERY < due) due = lastscan + SCAN_TODO_EVERY ;
    if (waiting >= 2 * (conc[CH_LOCAL] + conc[CH_REMOTE]) + 64 && due < t + 3600) due = t + 3600 ;   /* wait for room */
    x[0].fd = sfd ; x[0].events = IOPAUSE_READ ;
    x[1].fd = spawnfd ; x[1].events = IOPAUSE_READ ;
    x[2].fd = tfd ; x[2].events = IOPAUSE_READ ;
    tain_now_g() ;
    if (starting || cleaning) deadline = STAMP ;
    else if (due <= t) tain_addsec_g(&deadline, 0) ;
    else tain_addsec_g(&deadline, due - t > 86400 ? 86400 : due - t) ;
    if (iopause_g(x, 3, &deadline) < 0) strerr_diefu1sys(111, "iopause") ;
    if (x[0].revents & IOPAUSE_READ)
      for (;;)
      {
        int sig = selfpipe_read() ;
        if (sig <= 0) break ;
        switch (sig)
        {
          case SIGCHLD : reap() ; break ;
          case SIGTERM : case SIGINT : stopping = 1 ; break ;
          case SIGALRM :
            /* everything now: the schedule and the recipients' own times */
            forced = now() + 1 ;
            for (uint32_t k = 0 ; k < HEAPLEN ; k++) SLOT(HEAP[k])->next = 0 ;
            lastscan = 0 ;
            break ;
          case SIGHUP :
          {
            stralloc h = STRALLOC_ZERO ;
            readcontrols() ;
            if (!stralloc_catb(&h, "H", 1)) dienomem() ;
            spawn_send(&h) ;
            stralloc_free(&h) ;
            break ;
          }
        }
      }
    if (x[1].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT))
    {
      char buf[262144 + 1] ;
      for (;;)
      {
        ssize_t r = recv(spawnfd, buf, sizeof buf - 1, MSG_DONTWAIT) ;
        if (r < 0) { if (errno == EAGAIN || errno == EINTR) break ; strerr_diefu1sys(111, "read from queue-spawn") ; }
        if (!r) strerr_dief1x(111, "queue-spawn is gone: deliveries in progress will be tried again") ;
        buf[r] = 0 ;
        if (buf[0] == 'L' || buf[0] == 'R') result(buf, r) ;
        else strerr_warnw1x("unknown message from queue-spawn") ;
      }
    }
    if (x[2].revents & IOPAUSE_READ)
    {
      char b[256] ;
      while (read(tfd, b, sizeof b) > 0) ;
      scan_todo() ;
      lastscan = now() ;
    }
    else if (!stopping && now() >= lastscan + SCAN_TODO_EVERY) { scan_todo() ; lastscan = now() ; }
  }
  close(twfd) ;
  return 0 ;
}
