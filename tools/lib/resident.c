#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <skalibs/types.h>
#include "fdpass.h"
#include "resident.h"

extern char **environ ;

static size_t namelen (char const *s)
{
  size_t n = 0 ;
  while (s[n] && s[n] != '=') n++ ;
  return n ;
}

/* Does mods[from..len) change the variable name[0..nlen)? */
static int changed (char const *mods, size_t from, size_t len, char const *name, size_t nlen)
{
  while (from < len)
  {
    char const *m = mods + from ;
    size_t l = strlen(m) ;
    if (namelen(m) == nlen && !memcmp(m, name, nlen)) return 1 ;
    from += l + 1 ;
  }
  return 0 ;
}

int resident_mods_valid (char const *mods, size_t len)
{
  size_t i = 0 ;
  if (len && mods[len - 1]) return 0 ;
  while (i < len)
  {
    size_t l = strlen(mods + i) ;
    if (!l || mods[i] == '=') return 0 ;
    i += l + 1 ;
  }
  return 1 ;
}

size_t resident_envp_size (char const *const *base, char const *mods, size_t len)
{
  size_t n = 1, i ;
  for (i = 0 ; base[i] ; i++) n++ ;
  for (i = 0 ; i < len ; i += strlen(mods + i) + 1) n++ ;
  return n ;
}

void resident_envp (char const **envp, char const *const *base, char const *mods, size_t len)
{
  size_t n = 0, i ;
  for (i = 0 ; base[i] ; i++)
    if (!changed(mods, 0, len, base[i], namelen(base[i]))) envp[n++] = base[i] ;
  for (i = 0 ; i < len ; )
  {
    char const *m = mods + i ;
    size_t nlen = namelen(m) ;
    i += strlen(m) + 1 ;
    if (m[nlen] && !changed(mods, i, len, m, nlen)) envp[n++] = m ;
  }
  envp[n] = 0 ;
}

int resident_init (resident *r)
{
  char const *x = getenv(RESIDENT_FDVAR) ;
  unsigned int fd ;
  size_t n = 0, i, k = 0, len ;
  int v ;
  socklen_t vlen = sizeof v ;
  struct ucred cred ;
  socklen_t clen = sizeof cred ;
  if (!x) return 0 ;
  len = uint0_scan(x, &fd) ;
  if (!len || x[len] || fd < 3 || fd > 1000000000) { errno = EINVAL ; return -1 ; }
  if (getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &v, &vlen) < 0 || v != AF_UNIX
   || getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &v, &vlen) < 0 || v != SOCK_SEQPACKET)
  {
    errno = EINVAL ;
    return -1 ;
  }
  /* the socket was made by the process that started us: a forking program in between
     would hand tcpsrv's connections straight to its child */
  if (getsockopt((int)fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) return -1 ;
  if (cred.pid != getppid()) { errno = EPERM ; return -1 ; }
  if ((int)fd < RESIDENT_FDLOW)
  {
    int nfd = fcntl((int)fd, F_DUPFD_CLOEXEC, RESIDENT_FDLOW) ;
    if (nfd < 0) return -1 ;
    close((int)fd) ;
    fd = (unsigned int)nfd ;
  }
  else if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0) return -1 ;
  for (i = 0 ; environ[i] ; i++) n++ ;
  r->base = malloc((n + 1) * sizeof (char const *)) ;
  r->msg = malloc(RESIDENT_MSGMAX + 1) ;
  if (!r->base || !r->msg) { free(r->base) ; free(r->msg) ; r->base = 0 ; r->msg = 0 ; errno = ENOMEM ; return -1 ; }
  for (i = 0 ; environ[i] ; i++)
    if (namelen(environ[i]) != sizeof RESIDENT_FDVAR - 1 || memcmp(environ[i], RESIDENT_FDVAR, sizeof RESIDENT_FDVAR - 1))
      r->base[k++] = environ[i] ;
  r->base[k] = 0 ;
  environ = (char **)r->base ;
  r->fd = (int)fd ;
  r->hello = r->active = 0 ;
  r->envp = 0 ; r->envmax = 0 ; r->msglen = 0 ; r->nfds = 0 ;
  return 1 ;
}

/* Close every descriptor above 2 but those of keep[0..n) (-1: none). */
static void closefds (int const *keep, unsigned int n)
{
  int k[3] ;
  unsigned int m = 0, i, j ;
  int from = 3, ok = 1 ;
  for (i = 0 ; i < n && m < 3 ; i++)
    if (keep[i] >= 3)
    {
      for (j = m++ ; j && k[j - 1] > keep[i] ; j--) k[j] = k[j - 1] ;
      k[j] = keep[i] ;
    }
  for (i = 0 ; i < m && ok ; i++)
  {
    if (k[i] > from && close_range((unsigned int)from, (unsigned int)k[i] - 1, 0) < 0) ok = 0 ;
    if (k[i] + 1 > from) from = k[i] + 1 ;
  }
  if (ok && close_range((unsigned int)from, ~0U, 0) < 0) ok = 0 ;
  if (!ok)
  {
    struct rlimit rl ;
    int max = 65536, fd ;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < (rlim_t)max) max = (int)rl.rlim_cur ;
    for (fd = 3 ; fd < max ; fd++)
    {
      for (i = 0 ; i < m && k[i] != fd ; i++) ;
      if (i == m) close(fd) ;
    }
  }
}

/* The connection's traces: the client's socket, its variables. */
static int end_connection (resident *r)
{
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC) ;
  if (nul < 0) return 0 ;
  if (dup2(nul, 0) < 0 || dup2(nul, 1) < 0) { close(nul) ; return 0 ; }
  close(nul) ;
  environ = (char **)r->base ;
  explicit_bzero(r->msg, r->msglen) ;
  r->msglen = 0 ;
  r->nfds = 0 ;
  if (r->envp) explicit_bzero(r->envp, r->envmax * sizeof (char const *)) ;
  r->active = 0 ;
  return 1 ;
}

static int say (int fd, char const *s, size_t len)
{
  ssize_t w ;
  do w = send(fd, s, len, MSG_NOSIGNAL) ; while (w < 0 && errno == EINTR) ;
  return w == (ssize_t)len ;
}

static void closeall (int const *fds, unsigned int n)
{
  unsigned int i ;
  for (i = 0 ; i < n ; i++) close(fds[i]) ;
}

/* The descriptors after the socket to 3, 4, ...: first each one in the way moved above them. */
static int place (int const *fds, unsigned int n)
{
  int tmp[RESIDENT_FDMAX] ;
  unsigned int i ;
  for (i = 0 ; i < n ; i++) tmp[i] = fds[i] ;
  for (i = 0 ; i < n ; i++)
    if (tmp[i] < 3 + RESIDENT_FDMAX)
    {
      int fd = fcntl(tmp[i], F_DUPFD_CLOEXEC, 3 + RESIDENT_FDMAX) ;
      if (fd < 0) { closeall(tmp, n) ; return 0 ; }
      close(tmp[i]) ;
      tmp[i] = fd ;
    }
  for (i = 0 ; i < n ; i++)
    if (dup2(tmp[i], 3 + (int)i) < 0) { closeall(tmp, n) ; return 0 ; }
  closeall(tmp, n) ;
  return 1 ;
}

int resident_next (resident *r, unsigned int status)
{
  char out[8 + UINT_FMT] ;
  size_t outlen ;
  ssize_t len ;
  size_t n ;
  int fds[1 + RESIDENT_FDMAX], fd ;
  unsigned int nfds ;
  if (r->active && !end_connection(r)) return -1 ;
  {
    int keep[3] = { r->fd, r->keep[0], r->keep[1] } ;
    closefds(keep, 3) ;
  }
  if (!r->hello)
  {
    outlen = sizeof RESIDENT_HELLO - 1 ;
    memcpy(out, RESIDENT_HELLO, outlen) ;
  }
  else
  {
    memcpy(out, "done ", 5) ;
    outlen = 5 + uint_fmt(out + 5, status > 255 ? 255 : status) ;
  }
  if (!say(r->fd, out, outlen)) return -1 ;
  r->hello = 1 ;
  len = fdpass_recvv(r->fd, r->msg, RESIDENT_MSGMAX + 1, fds, 1 + RESIDENT_FDMAX, &nfds) ;
  if (len < 0) return -1 ;
  if (!len) { closeall(fds, nfds) ; return 0 ; }
  r->msglen = (size_t)len ;
  if (!nfds || r->msglen > RESIDENT_MSGMAX || r->msg[0] != 'C' || !resident_mods_valid(r->msg + 1, r->msglen - 1))
  {
    closeall(fds, nfds) ;
    explicit_bzero(r->msg, r->msglen) ;
    r->msglen = 0 ;
    errno = EPROTO ;
    return -1 ;
  }
  fd = fds[0] ;
  n = resident_envp_size(r->base, r->msg + 1, r->msglen - 1) ;
  if (n > r->envmax)
  {
    char const **p = realloc(r->envp, n * sizeof (char const *)) ;
    if (!p) { closeall(fds, nfds) ; explicit_bzero(r->msg, r->msglen) ; r->msglen = 0 ; return -1 ; }
    r->envp = p ; r->envmax = n ;
  }
  resident_envp(r->envp, r->base, r->msg + 1, r->msglen - 1) ;
  r->active = 1 ;
  if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0)
  {
    closeall(fds, nfds) ;
    end_connection(r) ;
    return -1 ;
  }
  close(fd) ;
  if (!place(fds + 1, nfds - 1))
  {
    end_connection(r) ;
    return -1 ;
  }
  r->nfds = nfds - 1 ;
  environ = (char **)r->envp ;
  return 1 ;
}

int resident_is_prog (int pid, char const *const *argv)
{
  char path[16 + PID_FMT] ;
  char buf[4096] ;
  size_t i = 0, pos = 0, n = 0 ;
  int fd, same = 1 ;
  memcpy(path, "/proc/", 6) ;
  path[6 + pid_fmt(path + 6, (pid_t)pid)] = 0 ;
  strcat(path, "/cmdline") ;
  fd = open(path, O_RDONLY | O_CLOEXEC) ;
  if (fd < 0) return 0 ;
  for (;;)
  {
    ssize_t r = read(fd, buf, sizeof buf) ;
    size_t k ;
    if (r < 0 && errno == EINTR) continue ;
    if (r < 0) { same = 0 ; break ; }
    if (!r) break ;
    for (k = 0 ; k < (size_t)r && same ; k++, n++)
    {
      if (!argv[i] || buf[k] != argv[i][pos]) same = 0 ;
      else if (!buf[k]) { i++ ; pos = 0 ; }
      else pos++ ;
    }
    if (!same) break ;
  }
  close(fd) ;
  return same && n && !argv[i] ;
}
