/* LD_PRELOAD fault injector for t/41-maildir-faults.t: makes a system call fail the way a
   full disk, an exhausted quota or a dying disk does, which cannot be arranged for real
   without root and special filesystems.
     FAULT_CALL=write       writes to regular files fail (after FAULT_AFTER bytes succeed),
                            except on descriptors 0 to 2 (the error message must get out)
     FAULT_CALL=fsync-file  fsync of a regular file fails
     FAULT_CALL=fsync-dir   fsync of a directory fails
     FAULT_CALL=rename      renameat2() and linkat() fail
     FAULT_ERRNO=ENOSPC|EDQUOT|EIO (default EIO)
   Build: cc -shared -fPIC -o fault.so t/41-fault-inject.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static int wanted (char const *call)
{
  char const *c = getenv("FAULT_CALL") ;
  return c && !strcmp(c, call) ;
}

static int fault_errno (void)
{
  char const *e = getenv("FAULT_ERRNO") ;
  if (e && !strcmp(e, "ENOSPC")) return ENOSPC ;
  if (e && !strcmp(e, "EDQUOT")) return EDQUOT ;
  return EIO ;
}

static int fd_is (int fd, mode_t type)
{
  struct stat st ;
  return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == type ;
}

ssize_t write (int fd, void const *buf, size_t n)
{
  static ssize_t (*real)(int, void const *, size_t) ;
  static long budget = -1 ;
  if (!real) real = (ssize_t (*)(int, void const *, size_t))dlsym(RTLD_NEXT, "write") ;
  if (wanted("write") && fd > 2 && fd_is(fd, S_IFREG))
  {
    if (budget < 0) { char const *a = getenv("FAULT_AFTER") ; budget = a ? atol(a) : 0 ; }
    if ((long)n > budget)
    {
      if (budget > 0) { ssize_t r = real(fd, buf, (size_t)budget) ; if (r > 0) budget -= r ; return r ; }
      errno = fault_errno() ;
      return -1 ;
    }
    budget -= (long)n ;
  }
  return real(fd, buf, n) ;
}

int fsync (int fd)
{
  static int (*real)(int) ;
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync") ;
  if ((wanted("fsync-file") && fd_is(fd, S_IFREG)) || (wanted("fsync-dir") && fd_is(fd, S_IFDIR)))
  {
    errno = fault_errno() ;
    return -1 ;
  }
  return real(fd) ;
}

int renameat2 (int a, char const *b, int c, char const *d, unsigned int flags)
{
  static int (*real)(int, char const *, int, char const *, unsigned int) ;
  if (!real) real = (int (*)(int, char const *, int, char const *, unsigned int))dlsym(RTLD_NEXT, "renameat2") ;
  if (wanted("rename")) { errno = fault_errno() ; return -1 ; }
  return real(a, b, c, d, flags) ;
}

int linkat (int a, char const *b, int c, char const *d, int flags)
{
  static int (*real)(int, char const *, int, char const *, int) ;
  if (!real) real = (int (*)(int, char const *, int, char const *, int))dlsym(RTLD_NEXT, "linkat") ;
  if (wanted("rename")) { errno = fault_errno() ; return -1 ; }
  return real(a, b, c, d, flags) ;
}
