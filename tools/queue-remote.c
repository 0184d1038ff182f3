/* queue-remote: a remote delivery worker of queue-spawn. It runs as the user of queue-spawn's
   -r and delivers, one after the other, the messages queue-spawn hands it on descriptor 0,
   each by the code of remote-deliver (tools/lib/remotedeliver), in this same process. After
   a delivery it keeps its SMTP session open, and queue-spawn sends it the next delivery to
   the same destination when there is one: RSET, then the next MAIL FROM, with no new
   connection, greeting, EHLO or TLS handshake. queue-spawn ends it by closing the socket
   (idle too long, too many deliveries, its control files reread): QUIT, then exit. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <skalibs/iopause.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "fdpass.h"
#include "remotedeliver.h"

#define USAGE "queue-remote"
#define REQMAX 262144          /* a request: queue-run sends at most 32 KiB of addresses */
#define PACKETMAX 65536        /* lines sent to queue-spawn in one packet at most */

static stralloc out = STRALLOC_ZERO ;

static void die_nomem (void) gccattr_noreturn ;
static void die_nomem (void) { strerr_diefu1sys(111, "allocate memory") ; }

static void tell (char const *s, size_t len)
{
  if (send(0, s, len, MSG_NOSIGNAL) < 0) strerr_diefu1sys(111, "write to queue-spawn") ;
}

/* final lines: "L" and the lines, in packets of whole lines */
static void put (char const *s, size_t len)
{
  while (len)
  {
    size_t n = len ;
    if (n > PACKETMAX)
    {
      char const *nl = memrchr(s, '\n', PACKETMAX) ;
      n = nl ? (size_t)(nl - s) + 1 : PACKETMAX ;
    }
    out.len = 0 ;
    if (!stralloc_catb(&out, "L", 1) || !stralloc_catb(&out, s, n)) die_nomem() ;
    tell(out.s, out.len) ;
    s += n ; len -= n ;
  }
}

/* the end of a delivery: "E" code \0 why \0 the destination of the kept session \0 */
static void done (unsigned int code, char const *why)
{
  char fmt[UINT_FMT] ;
  char const *k = remotedeliver_session() ;
  out.len = 0 ;
  if (!stralloc_catb(&out, "E", 1) || !stralloc_catb(&out, fmt, uint_fmt(fmt, code)) || !stralloc_0(&out)
   || !stralloc_cats(&out, why) || !stralloc_0(&out) || !stralloc_cats(&out, k) || !stralloc_0(&out)) die_nomem() ;
  tell(out.s, out.len) ;
}

/* a request: "D" domain \0 sender \0 rcpt \0 ..., the message's descriptor attached */
static void request (char *s, size_t len, int fd)
{
  static char const *f[REMOTEDELIVER_RCPTMAX + 2] ;
  unsigned int n = 0 ;
  size_t i = 1 ;
  if (fd < 0 || len < 1 || s[0] != 'D' || s[len - 1])
  {
    if (fd >= 0) close(fd) ;
    done(111, "queue-remote: bad request from queue-spawn") ;
    return ;
  }
  while (i < len && n < REMOTEDELIVER_RCPTMAX + 2)
  {
    f[n++] = s + i ;
    i += strlen(s + i) + 1 ;
  }
  if (n < 3 || i < len || !remotedeliver_check(f[0], f[1], f + 2, n - 2))
  {
    close(fd) ;
    done(100, "queue-remote: bad request: a domain, a sender and recipients at that domain are needed") ;
    return ;
  }
  remotedeliver_run(fd, f[0], f[1], f + 2, n - 2, 1) ;
  close(fd) ;
  done(0, "") ;
}

int main (int argc, char const *const *argv)
{
  static char req[REQMAX] ;
  PROG = "queue-remote" ;
  (void)argv ;
  if (argc > 1) strerr_dieusage(100, USAGE) ;
  remotedeliver_init(&put) ;
  for (;;)
  {
    iopause_fd x[2] = { { .fd = 0, .events = IOPAUSE_READ }, { .fd = remotedeliver_sessionfd(), .events = IOPAUSE_READ } } ;
    unsigned int nx = x[1].fd >= 0 ? 2 : 1 ;
    tain forever = TAIN_INFINITE ;
    tain_now_g() ;
    if (iopause_g(x, nx, &forever) < 0)
    {
      if (errno == EINTR) continue ;
      strerr_diefu1sys(111, "iopause") ;
    }
    if (nx == 2 && x[1].revents)
    {
      /* the server closed the idle session, or is about to: say so, to be sent elsewhere */
      remotedeliver_idleread() ;
      if (!*remotedeliver_session()) tell("C", 1) ;
    }
    if (x[0].revents)
    {
      int fd ;
      ssize_t n = fdpass_recv(0, req, sizeof req, &fd) ;
      if (!n || (n < 0 && errno == ECONNRESET)) break ;   /* queue-spawn is done with us */
      if (n < 0) strerr_diefu1sys(111, "read a request") ;
      request(req, (size_t)n, fd) ;
    }
  }
  remotedeliver_quit() ;
  return 0 ;
}
