/* qspawn: see qspawn.h. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include "qspawn.h"

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#define QSPAWN_OK 1
#endif

#ifdef QSPAWN_OK

#define SLOTSIZE (64 * 1024)
#define STACKSIZE (16 * 1024)    /* the child's deepest frame is a 4 kB path buffer */

/* The head of a slot: what the child reads, and the two words it writes. The caller's
   memory follows, the child's stack is at the top. */
struct slot
{
  int tid ;                   /* the child's while it owns the slot; zeroed by the kernel */
  int err ;                   /* the failed exec's errno, until qspawn_reaped */
  pid_t pid ;                 /* the child last started here */
  int fd ;
  unsigned long mask ;        /* the kernel's sigset: signals 1 to 64 */
  char const *path ;          /* 0: only the search */
  char const *name ;
  char const *pathvar ;
  char const *const *argv ;
  char const *const *envp ;
  size_t loglen ;
  size_t pidat[2] ;
  unsigned int npid ;
  char log[QSPAWN_LOGMAX] ;
} ;

/* Children loading their program at once, the caller not waiting: with more, a burst of
   starts makes many runnable tasks, and the caller, busy all along, loses the CPU to them
   for milliseconds at a time (the kernel's accept queue overflows meanwhile). Past it, the
   caller waits for the exec (CLONE_VFORK), as with vfork, and sleeps meanwhile. */
#define QSPAWN_ASYNCMAX 1

#define MEMOFF ((sizeof (struct slot) + 63) & ~(size_t)63)

static char *pool = 0 ;
static int broken = 0 ;
static unsigned int used = 0 ;   /* slots ever used: only those are looked at */
static int reserved = -1 ;

static struct slot *slotp (unsigned int i)
{
  return (struct slot *)(void *)(pool + (size_t)i * SLOTSIZE) ;
}

static int slot_free (struct slot *s)
{
  return !__atomic_load_n(&s->tid, __ATOMIC_ACQUIRE) && !__atomic_load_n(&s->err, __ATOMIC_ACQUIRE) ;
}

/* ---- the child: raw system calls only, no libc (see qspawn.h) */

#if defined(__x86_64__)
static inline __attribute__((always_inline)) long rsys (long n, long a, long b, long c, long d)
{
  long r ;
  register long r10 __asm__("r10") = d ;
  __asm__ volatile ("syscall" : "=a"(r) : "0"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory") ;
  return r ;
}
#else
static inline __attribute__((always_inline)) long rsys (long n, long a, long b, long c, long d)
{
  register long x8 __asm__("x8") = n ;
  register long x0 __asm__("x0") = a ;
  register long x1 __asm__("x1") = b ;
  register long x2 __asm__("x2") = c ;
  register long x3 __asm__("x3") = d ;
  __asm__ volatile ("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory") ;
  return x0 ;
}
#endif

/* No sanitizer instrumentation and no loop turned into a memcpy call in the child. */
#if defined(__clang__)
#define CHILDCODE __attribute__((no_sanitize("address", "undefined"), noinline))
#elif defined(__GNUC__)
#define CHILDCODE __attribute__((no_sanitize_address, no_sanitize_undefined, noinline, optimize("no-tree-loop-distribute-patterns")))
#else
#define CHILDCODE
#endif

#define rexecve(p, s) rsys(SYS_execve, (long)(p), (long)(s)->argv, (long)(s)->envp, 0)

/* The search for name in pathvar, with the rules of skalibs' (mexec and execvep): empty
   entries skipped, the search going on past a file that is missing, not a directory, a
   directory, or not executable by us; EACCES at the end if some file was not executable. */
CHILDCODE static long child_search (struct slot const *s)
{
  char buf[4096] ;
  char const *p = s->pathvar ;
  long r = -ENOENT ;
  int eacces = 0 ;
  size_t nlen = 0 ;
  while (s->name[nlen]) nlen++ ;
  for (;;)
  {
    char const *e = p ;
    size_t dlen, k = 0, i ;
    while (*e && *e != ':') e++ ;
    dlen = (size_t)(e - p) ;
    if (dlen && dlen + nlen + 2 <= sizeof buf)
    {
      for (i = 0 ; i < dlen ; i++) buf[k++] = p[i] ;
      buf[k++] = '/' ;
      for (i = 0 ; i <= nlen ; i++) buf[k++] = s->name[i] ;
      r = rexecve(buf, s) ;
      if (r == -EACCES || r == -EPERM) eacces = 1 ;
      else if (r != -ENOENT && r != -ENOTDIR && r != -EISDIR) return r ;
    }
    if (!*e) break ;
    p = e + 1 ;
  }
  return eacces ? -EACCES : r ;
}

CHILDCODE static void child_log (struct slot const *s)
{
  char p[24], t[24] ;
  struct iovec v[5] ;
  size_t n = 0, i, from = 0 ;
  unsigned int k, nv = 0 ;
  unsigned long u = (unsigned long)rsys(SYS_getpid, 0, 0, 0, 0) ;
  do { t[n++] = '0' + u % 10 ; u /= 10 ; } while (u) ;
  for (i = 0 ; i < n ; i++) p[i] = t[n - 1 - i] ;
  for (k = 0 ; k < s->npid ; k++)
  {
    v[nv].iov_base = (char *)s->log + from ; v[nv++].iov_len = s->pidat[k] - from ;
    v[nv].iov_base = p ; v[nv++].iov_len = n ;
    from = s->pidat[k] ;
  }
  v[nv].iov_base = (char *)s->log + from ; v[nv++].iov_len = s->loglen - from ;
  if (rsys(SYS_writev, 2, (long)v, nv, 0) == -EPIPE)
  {
    /* a dead log pipe: that SIGPIPE (blocked, pending) is not the program's */
    unsigned long set = 1UL << (SIGPIPE - 1) ;
    static struct timespec const zero = { 0, 0 } ;
    rsys(SYS_rt_sigtimedwait, (long)&set, 0, (long)&zero, 8) ;
  }
}

CHILDCODE static int child (void *arg)
{
  struct slot *s = arg ;
  long r ;
  if (s->loglen) child_log(s) ;
  if ((r = rsys(SYS_dup3, s->fd, 0, 0, 0)) >= 0 && (r = rsys(SYS_dup3, s->fd, 1, 0, 0)) >= 0
   && (r = rsys(SYS_rt_sigprocmask, SIG_SETMASK, (long)&s->mask, 0, 8)) >= 0)
  {
    r = s->path ? rexecve(s->path, s) : -ENOENT ;
    if (r == -ENOENT && s->name) r = child_search(s) ;
  }
  /* ordered before the kernel's store to tid: x86 keeps stores in order; on arm64 the
     release here and the exit path's locking before mm_release keep them so */
  __atomic_store_n(&s->err, (int)-r, __ATOMIC_RELEASE) ;
  return 111 ;   /* the clone wrapper exits with it; the kernel then frees the slot */
}

/* ---- the caller */

char *qspawn_mem (size_t *len)
{
  unsigned int i ;
  if (reserved < 0)
  {
    if (!pool)
    {
      void *p ;
      if (broken) return 0 ;
      p = mmap(0, (size_t)QSPAWN_SLOTS * SLOTSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) ;
      if (p == MAP_FAILED) { broken = 1 ; return 0 ; }
      madvise(p, (size_t)QSPAWN_SLOTS * SLOTSIZE, MADV_DONTFORK) ;   /* a fork copies none of it */
      pool = p ;
    }
    for (i = 0 ; i < QSPAWN_SLOTS ; i++) if (slot_free(slotp(i))) break ;
    if (i == QSPAWN_SLOTS) return 0 ;
    reserved = (int)i ;
    if (i >= used) used = i + 1 ;
  }
  *len = SLOTSIZE - STACKSIZE - MEMOFF ;
  return (char *)slotp((unsigned int)reserved) + MEMOFF ;
}

void qspawn_release (void)
{
  reserved = -1 ;
}

pid_t qspawn_go (qspawn_req const *req)
{
  struct slot *s ;
  pid_t pid ;
  int e ;
  if (reserved < 0 || !req->mask || req->fd < 2 || req->loglen > QSPAWN_LOGMAX || req->npid > 2
   || (req->npid && req->pidat[0] > req->loglen)
   || (req->npid == 2 && (req->pidat[1] < req->pidat[0] || req->pidat[1] > req->loglen)))
  { reserved = -1 ; errno = EINVAL ; return -1 ; }
  s = slotp((unsigned int)reserved) ;
  reserved = -1 ;
  s->fd = req->fd ;
  s->path = req->path ; s->name = req->name ; s->pathvar = req->name ? req->pathvar : 0 ;
  if (!s->pathvar) s->name = 0 ;
  s->argv = req->argv ; s->envp = req->envp ;
  /* the first word of glibc's sigset_t is the kernel's; without glibc's own two signals,
     which its sigprocmask never blocks either */
  memcpy(&s->mask, req->mask, sizeof s->mask) ;
  s->mask &= ~(3UL << 31) ;
  s->loglen = req->loglen ;
  s->npid = req->npid ;
  s->pidat[0] = req->pidat[0] ; s->pidat[1] = req->pidat[1] ;
  if (req->loglen) memcpy(s->log, req->log, req->loglen) ;
  s->err = 0 ;
  {
    unsigned int i, loading = 0 ;
    int flags = CLONE_VM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD ;
    sigset_t all, old ;
    for (i = 0 ; i < used ; i++) if (__atomic_load_n(&slotp(i)->tid, __ATOMIC_ACQUIRE)) loading++ ;
    if (loading >= QSPAWN_ASYNCMAX) flags |= CLONE_VFORK ;
    /* the child starts with every signal blocked until its last system call before the
       exec: none can kill it before it has written its log lines, and none can make it
       dump core while it shares our memory (before Linux 5.16 the dump would kill us) */
    sigfillset(&all) ;
    sigprocmask(SIG_BLOCK, &all, &old) ;
    pid = clone(&child, (char *)s + SLOTSIZE, flags, s, &s->tid, (void *)0, &s->tid) ;
    e = errno ;
    sigprocmask(SIG_SETMASK, &old, 0) ;
    errno = e ;
  }
  if (pid < 0) { s->tid = 0 ; return -1 ; }
  s->pid = pid ;
  return pid ;
}

int qspawn_reaped (pid_t pid)
{
  unsigned int i ;
  for (i = 0 ; i < used ; i++)
  {
    struct slot *s = slotp(i) ;
    if (s->pid == pid && !__atomic_load_n(&s->tid, __ATOMIC_ACQUIRE))
    {
      int e = __atomic_load_n(&s->err, __ATOMIC_ACQUIRE) ;
      s->pid = 0 ;
      if (e) __atomic_store_n(&s->err, 0, __ATOMIC_RELEASE) ;
      return e ;
    }
  }
  return 0 ;
}

#else

char *qspawn_mem (size_t *len) { (void)len ; return 0 ; }
void qspawn_release (void) { }
pid_t qspawn_go (qspawn_req const *req) { (void)req ; errno = ENOSYS ; return -1 ; }
int qspawn_reaped (pid_t pid) { (void)pid ; return 0 ; }

#endif
