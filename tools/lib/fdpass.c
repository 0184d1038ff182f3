#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "fdpass.h"

int fdpass_send (int sock, int fd, char const *s, size_t len)
{
  union { struct cmsghdr h ; char buf[CMSG_SPACE(sizeof(int))] ; } u ;
  struct iovec v = { .iov_base = (void *)s, .iov_len = len } ;
  struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf } ;
  struct cmsghdr *c ;
  ssize_t r ;
  memset(&u, 0, sizeof u) ;
  c = CMSG_FIRSTHDR(&m) ;
  c->cmsg_level = SOL_SOCKET ;
  c->cmsg_type = SCM_RIGHTS ;
  c->cmsg_len = CMSG_LEN(sizeof(int)) ;
  memcpy(CMSG_DATA(c), &fd, sizeof fd) ;
  do r = sendmsg(sock, &m, MSG_NOSIGNAL) ; while (r < 0 && errno == EINTR) ;
  if (r < 0) return 0 ;
  if ((size_t)r < len) { errno = EPIPE ; return 0 ; }
  return 1 ;
}

ssize_t fdpass_recv (int sock, char *s, size_t max, int *fd)
{
  union { struct cmsghdr h ; char buf[CMSG_SPACE(sizeof(int))] ; } u ;
  struct iovec v = { .iov_base = s, .iov_len = max } ;
  struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf } ;
  struct cmsghdr *c ;
  ssize_t r ;
  *fd = -1 ;
  do r = recvmsg(sock, &m, MSG_CMSG_CLOEXEC) ; while (r < 0 && errno == EINTR) ;
  if (r < 0) return -1 ;
  for (c = CMSG_FIRSTHDR(&m) ; c ; c = CMSG_NXTHDR(&m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int)))
    {
      int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)) ;
      int fds[n] ;
      memcpy(fds, CMSG_DATA(c), n * sizeof(int)) ;
      /* one is expected: anything more is closed */
      for (int i = 0 ; i < n ; i++) { if (*fd < 0) *fd = fds[i] ; else close(fds[i]) ; }
    }
  if (m.msg_flags & MSG_CTRUNC) { if (*fd >= 0) close(*fd) ; *fd = -1 ; errno = EPROTO ; return -1 ; }
  return r ;
}
