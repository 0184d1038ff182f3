/* ucspitls: see ucspitls.h */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/types.h>
#include "ucspitls.h"

static int fd_env (char const *name, int *fd)
{
  char const *s = getenv(name) ;
  unsigned int u ;
  if (!s || !*s || s[uint_scan(s, &u)] || u <= 2 || u > 65535) return 0 ;
  if (fcntl((int)u, F_SETFD, FD_CLOEXEC) < 0) return 0 ;
  *fd = (int)u ;
  return 1 ;
}

int ucspitls_fds (int *ctl, int *rfd, int *wfd)
{
  if (fd_env("SSLCTLFD", ctl) && fd_env("SSLREADFD", rfd) && fd_env("SSLWRITEFD", wfd)) return 1 ;
  *ctl = *rfd = *wfd = -1 ;
  return 0 ;
}

static long long now_ms (void)
{
  struct timespec ts ;
  clock_gettime(CLOCK_MONOTONIC, &ts) ;
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 ;
}

size_t ucspitls_start (int ctl, char *buf, size_t max, unsigned int secs)
{
  long long deadline = now_ms() + (long long)secs * 1000 ;
  size_t len = 0 ;
  for (;;)
  {
    ssize_t w = write(ctl, "Y", 1) ;
    if (w == 1) break ;
    if (w < 0 && errno == EINTR) continue ;
    if (w < 0 && errno == EAGAIN)
    {
      struct pollfd p = { .fd = ctl, .events = POLLOUT, .revents = 0 } ;
      if (poll(&p, 1, 1000) >= 0 || errno == EINTR) continue ;
    }
    return 0 ;
  }
  while (len < 2 || buf[len - 1] || buf[len - 2])
  {
    struct pollfd p = { .fd = ctl, .events = POLLIN, .revents = 0 } ;
    long long left = deadline - now_ms() ;
    ssize_t r ;
    if (len == max || (secs && left <= 0)) return 0 ;
    if (poll(&p, 1, !secs ? -1 : left > 86400000 ? 86400000 : (int)left) < 0 && errno != EINTR) return 0 ;
    if (!p.revents) continue ;
    r = read(ctl, buf + len, max - len) ;
    if (r > 0) { len += (size_t)r ; continue ; }
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue ;
    return 0 ;
  }
  return len ;
}

char const *ucspitls_get (char const *buf, size_t len, char const *name)
{
  size_t n = strlen(name), i = 0 ;
  while (i < len && buf[i])
  {
    char const *v = buf + i ;
    size_t vl = strnlen(v, len - i) ;
    if (vl > n && !memcmp(v, name, n) && v[n] == '=') return v + n + 1 ;
    i += vl + 1 ;
  }
  return 0 ;
}
