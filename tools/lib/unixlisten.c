#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <skalibs/strerr.h>
#include "unixlisten.h"

int unix_listen (char const *path, unsigned int mode, char const **failed)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX } ;
  size_t n = strlen(path) ;
  mode_t old ;
  int fd, r, e ;
  if (n >= sizeof sun.sun_path) { *failed = "socket path too long: " ; errno = ENAMETOOLONG ; return -1 ; }
  memcpy(sun.sun_path, path, n + 1) ;
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) ;
  if (fd < 0) { *failed = "make a socket" ; return -1 ; }
  if (unlink(path) < 0 && errno != ENOENT) { *failed = "remove the old socket " ; goto err ; }
  old = umask(0777 & ~mode) ;
  r = bind(fd, (struct sockaddr *)&sun, sizeof sun) ;
  e = errno ;
  umask(old) ;
  if (r < 0) { errno = e ; *failed = "bind to " ; goto err ; }
  if (chmod(path, mode) < 0) { *failed = "set the mode of " ; goto err ; }
  if (listen(fd, 1024) < 0) { *failed = "listen on " ; goto err ; }
  return fd ;
 err:
  e = errno ; close(fd) ; errno = e ;
  return -1 ;
}

int unix_listen_or_die (char const *path, unsigned int mode)
{
  char const *failed ;
  int fd = unix_listen(path, mode, &failed) ;
  if (fd < 0)
  {
    if (errno == ENAMETOOLONG && !strcmp(failed, "socket path too long: ")) strerr_dief2x(100, failed, path) ;
    if (!strcmp(failed, "make a socket")) strerr_diefu1sys(111, failed) ;
    strerr_diefu2sys(111, failed, path) ;
  }
  return fd ;
}
