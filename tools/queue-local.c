/* queue-local: a local delivery worker of queue-spawn. It runs as one user (queue-spawn has
   set its uid and gid before starting it) and delivers, one after the other, the messages
   queue-spawn hands it on descriptor 0, each by the rules of local-deliver and in this same
   process: no process starts for a Maildir, mbox or forward delivery. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "fdpass.h"
#include "localdeliver.h"

#define USAGE "queue-local"
#define REQMAX 262144

/* a step done ("delivered N kind ..." or "skipped N ..."): "S" and N, the steps done so far,
   so that queue-spawn knows it even if we die next */
static void report (void *ctx, char const *line, size_t len)
{
  char const *sp = memchr(line, ' ', len) ;
  char buf[1 + UINT_FMT] ;
  unsigned int n = 0 ;
  (void)ctx ;
  if (!sp || !uint_scan(sp + 1, &n)) return ;
  buf[0] = 'S' ;
  if (send(0, buf, 1 + uint_fmt(buf + 1, n), MSG_NOSIGNAL) < 0) _exit(111) ;
}

/* the request: user home local dash ext host sender dflt flags quota skip, each \0-ended */
static int parse (char *s, size_t len, localdeliver *a)
{
  char *f[11] ;
  size_t i = 0 ;
  uint64_t q ;
  for (unsigned int k = 0 ; k < 11 ; k++)
  {
    char *z = i < len ? memchr(s + i, 0, len - i) : 0 ;
    if (!z) return 0 ;
    f[k] = s + i ;
    i = (size_t)(z - s) + 1 ;
  }
  if (i != len || f[1][0] != '/') return 0 ;
  a->user = f[0] ; a->home = f[1] ; a->local = f[2] ; a->dash = f[3] ; a->ext = f[4] ;
  a->host = f[5] ; a->sender = f[6] ; a->dflt = f[7] ;
  a->nodotqmail = !!strchr(f[8], 'n') ;
  a->extfallback = !!strchr(f[8], 'x') ;
  a->quota_set = 0 ;
  if (*f[9])
  {
    if (f[9][uint64_scan(f[9], &q)]) return 0 ;
    a->quota_set = 1 ; a->quota.bytes = q ; a->quota.count = 0 ;
  }
  if (!*f[10] || f[10][uint_scan(f[10], &a->skip)]) return 0 ;
  return 1 ;
}

int main (int argc, char const *const *argv)
{
  static char req[REQMAX] ;
  localdeliver_result r = LOCALDELIVER_RESULT_ZERO ;
  stralloc out = STRALLOC_ZERO ;
  PROG = "queue-local" ;
  (void)argv ;
  if (argc > 1) strerr_dieusage(100, USAGE) ;
  umask(077) ;
  sig_ignore(SIGPIPE) ;
  sig_restore(SIGCHLD) ;
  sig_ignore(SIGXFSZ) ;
  for (;;)
  {
    localdeliver a = LOCALDELIVER_ZERO ;
    char fmt[UINT_FMT] ;
    int fd ;
    ssize_t n = fdpass_recv(0, req, sizeof req, &fd) ;
    if (!n || (n < 0 && errno == ECONNRESET)) return 0 ;   /* queue-spawn is done with us */
    if (n < 0) strerr_diefu1sys(111, "read a request") ;
    out.len = 0 ;
    if (fd < 0 || !parse(req, n, &a))
    {
      if (fd >= 0) close(fd) ;
      r.code = 111 ; r.steps = 0 ;
      r.text.len = 0 ;
      if (!stralloc_cats(&r.text, "queue-local: bad request") || !stralloc_0(&r.text)) return 111 ;
    }
    else
    {
      a.report = &report ;
      localdeliver_run(&a, fd, &r) ;
      close(fd) ;
    }
    if (!stralloc_catb(&out, "R", 1) || !stralloc_catb(&out, fmt, uint_fmt(fmt, r.code)) || !stralloc_0(&out)
     || !stralloc_catb(&out, fmt, uint_fmt(fmt, r.steps)) || !stralloc_0(&out)
     || !stralloc_cats(&out, r.text.s) || !stralloc_0(&out)) strerr_diefu1sys(111, "allocate memory") ;
    if (send(0, out.s, out.len, MSG_NOSIGNAL) < 0) strerr_diefu1sys(111, "answer queue-spawn") ;
  }
}
