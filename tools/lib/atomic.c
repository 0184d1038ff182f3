#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include "atomic.h"

int dir_sync (char const *dir)
{
  int e ;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (fd < 0) return 0 ;
  if (fsync(fd) < 0 && errno != EINVAL) { e = errno ; close(fd) ; errno = e ; return 0 ; }
  close(fd) ;
  return 1 ;
}

int dir_sync_parent (char const *path)
{
  size_t n = strlen(path) ;
  while (n && path[n-1] != '/') n-- ;
  if (!n) return dir_sync(".") ;
  while (n > 1 && path[n-1] == '/') n-- ;
  {
    char dir[n + 1] ;
    memcpy(dir, path, n) ; dir[n] = 0 ;
    return dir_sync(dir) ;
  }
}

int atomic_rename (int fd, char const *tmp, char const *path)
{
  int e ;
  if (fsync(fd) < 0) goto err ;
  if (close(fd) < 0) { fd = -1 ; goto err ; }
  fd = -1 ;
  if (rename(tmp, path) < 0) goto err ;
  return dir_sync_parent(path) ;
 err:
  e = errno ;
  if (fd >= 0) close(fd) ;
  unlink(tmp) ;
  errno = e ;
  return 0 ;
}

int atomic_write (char const *path, char const *s, size_t len, unsigned int mode)
{
  size_t n = strlen(path) ;
  char tmp[n + 32] ;
  int fd ;
  snprintf(tmp, sizeof tmp, "%s.tmp.%lu", path, (unsigned long)getpid()) ;
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode) ;
  if (fd < 0) return 0 ;
  if (allwrite(fd, s, len) < len || fchmod(fd, mode) < 0)
  {
    int e = errno ;
    close(fd) ; unlink(tmp) ; errno = e ;
    return 0 ;
  }
  return atomic_rename(fd, tmp, path) ;
}
