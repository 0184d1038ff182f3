#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "fdpass.h"

int fdpass_sendv (int sock, int const *fds, unsigned int n, char const *s, size_t len)
{
  union { struct cmsghdr h ; char buf[CMSG_SPACE(FDPASS_MAX * sizeof(int))] ; } u ;
  struct iovec v = { .iov_base = (void *)s, .iov_len = len } ;
  struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = CMSG_SPACE(n * sizeof(int)) } ;
  struct cmsghdr *c ;
  ssize_t r ;
  if (!n || n > FDPASS_MAX) { errno = EINVAL ; return 0 ; }
  memset(&u, 0, sizeof u) ;
  c = CMSG_FIRSTHDR(&m) ;
  c->cmsg_level = SOL_SOCKET ;
  c->cmsg_type = SCM_RIGHTS ;
  c->cmsg_len = CMSG_LEN(n * sizeof(int)) ;
  memcpy(CMSG_DATA(c), fds, n * sizeof(int)) ;
  do r = sendmsg(sock, &m, MSG_NOSIGNAL) ; while (r < 0 && errno == EINTR) ;
  if (r < 0) return 0 ;
  if ((size_t)r < len) { errno = EPIPE ; return 0 ; }
  return 1 ;
}

int fdpass_send (int sock, int fd, char const *s, size_t len)
{
  return fdpass_sendv(sock, &fd, 1, s, len) ;
}

ssize_t fdpass_recvv (int sock, char *s, size_t max, int *fds, unsigned int maxfds, unsigned int *n)
{
  union { struct cmsghdr h ; char buf[CMSG_SPACE(FDPASS_MAX * sizeof(int))] ; } u ;
  struct iovec v = { .iov_base = s, .iov_len = max } ;
  struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf } ;
  struct cmsghdr *c ;
  ssize_t r ;
  *n = 0 ;
  do r = recvmsg(sock, &m, MSG_CMSG_CLOEXEC) ; while (r < 0 && errno == EINTR) ;
  if (r < 0) return -1 ;
  for (c = CMSG_FIRSTHDR(&m) ; c ; c = CMSG_NXTHDR(&m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int)))
    {
      int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)) ;
      int got[k] ;
      memcpy(got, CMSG_DATA(c), k * sizeof(int)) ;
      /* what is not expected is closed */
      for (int i = 0 ; i < k ; i++) { if (*n < maxfds) fds[(*n)++] = got[i] ; else close(got[i]) ; }
    }
  if (m.msg_flags & MSG_CTRUNC)
  {
    while (*n) close(fds[--*n]) ;
    errno = EPROTO ;
    return -1 ;
  }
  return r ;
}

ssize_t fdpass_recv (int sock, char *s, size_t max, int *fd)
{
  unsigned int n ;
  ssize_t r = fdpass_recvv(sock, s, max, fd, 1, &n) ;
  if (!n) *fd = -1 ;
  return r ;
}
