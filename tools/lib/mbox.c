#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "mbox.h"

typedef struct out_s { int fd ; size_t len ; char buf[65536] ; } out ;

static int out_flush (out *o)
{
  size_t i = 0 ;
  while (i < o->len)
  {
    ssize_t w = write(o->fd, o->buf + i, o->len - i) ;
    if (w < 0) { if (errno == EINTR) continue ; return 0 ; }
    if (!w) { errno = EIO ; return 0 ; }
    i += w ;
  }
  o->len = 0 ;
  return 1 ;
}

static int out_put (out *o, char const *s, size_t n)
{
  while (n)
  {
    size_t k = sizeof o->buf - o->len ;
    if (!k) { if (!out_flush(o)) return 0 ; continue ; }
    if (k > n) k = n ;
    memcpy(o->buf + o->len, s, k) ;
    o->len += k ; s += k ; n -= k ;
  }
  return 1 ;
}

/* both lock kinds: MUAs use one or the other */
static int lock_both (int fd, unsigned int timeout)
{
  struct timespec t0, now ;
  long wait_ms = 10 ;
  int have_fcntl = 0 ;
  clock_gettime(CLOCK_MONOTONIC, &t0) ;
  for (;;)
  {
    if (!have_fcntl)
    {
      struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 } ;
      if (fcntl(fd, F_SETLK, &fl) == 0) have_fcntl = 1 ;
      else if (errno != EACCES && errno != EAGAIN && errno != EINTR) return 0 ;
    }
    if (have_fcntl)
    {
      if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 1 ;
      if (errno != EWOULDBLOCK && errno != EINTR) return 0 ;
    }
    clock_gettime(CLOCK_MONOTONIC, &now) ;
    if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >= (long)timeout * 1000)
    {
      errno = ETIMEDOUT ;
      return 0 ;
    }
    {
      struct timespec d = { .tv_sec = wait_ms / 1000, .tv_nsec = (wait_ms % 1000) * 1000000 } ;
      nanosleep(&d, 0) ;
      if (wait_ms < 200) wait_ms *= 2 ;
    }
  }
}

static int put_gt (out *o, size_t n)
{
  while (n--) if (!out_put(o, ">", 1)) return 0 ;
  return 1 ;
}

/* Copy fd to o, quoting ^>*From lines. At the start of a line, gt counts the '>' seen and m
   the bytes of "From " matched so far; nothing is written until the line is decided. */
static int copy_quoted (out *o, int fd, char const **what)
{
  char in[65536] ;
  size_t gt = 0, m = 0 ;
  int bol = 1 ;
  char last = '\n' ;
  for (;;)
  {
    ssize_t r = read(fd, in, sizeof in) ;
    size_t i = 0 ;
    if (r < 0) { if (errno == EINTR) continue ; *what = "read the message for" ; return 0 ; }
    if (!r) break ;
    last = in[r - 1] ;
    while (i < (size_t)r)
    {
      if (bol)
      {
        char c = in[i] ;
        if (!m && c == '>') { gt++ ; i++ ; continue ; }
        if (c == "From "[m])
        {
          i++ ;
          if (++m == 5)
          {
            if (!put_gt(o, gt + 1) || !out_put(o, "From ", 5)) goto werr ;
            gt = m = 0 ; bol = 0 ;
          }
          continue ;
        }
        if (!put_gt(o, gt) || !out_put(o, "From ", m)) goto werr ;
        gt = m = 0 ; bol = 0 ;
      }
      {
        char const *nl = memchr(in + i, '\n', r - i) ;
        size_t k = nl ? (size_t)(nl - (in + i)) + 1 : (size_t)r - i ;
        if (!out_put(o, in + i, k)) goto werr ;
        i += k ;
        if (nl) bol = 1 ;
      }
    }
  }
  if (!put_gt(o, gt) || !out_put(o, "From ", m)) goto werr ;
  if (last != '\n' && !out_put(o, "\n", 1)) goto werr ;
  return 1 ;
 werr:
  *what = "write to" ;
  return 0 ;
}

int mbox_deliver (char const *path, int fd, char const *ufline, char const *rpline,
  char const *dtline, unsigned int locktimeout, char const **what)
{
  struct stat st ;
  off_t pos = 0 ;
  int e ;
  int regular ;
  out *o = malloc(sizeof *o) ;
  if (!o) { *what = "allocate memory for" ; return 0 ; }
  o->len = 0 ;
  o->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600) ;
  if (o->fd < 0) { e = errno ; *what = "open" ; goto freeit ; }
  if (fstat(o->fd, &st) < 0) { e = errno ; *what = "stat" ; goto closeit ; }
  regular = S_ISREG(st.st_mode) ;
  if (!regular && !S_ISCHR(st.st_mode)) { e = EINVAL ; *what = "append to (not a regular file)" ; goto closeit ; }
  {
    int fl = fcntl(o->fd, F_GETFL) ;
    if (fl < 0 || fcntl(o->fd, F_SETFL, fl & ~O_NONBLOCK) < 0) { e = errno ; *what = "set flags on" ; goto closeit ; }
  }
  if (regular)
  {
    if (!lock_both(o->fd, locktimeout)) { e = errno ; *what = "lock" ; goto closeit ; }
    if (fstat(o->fd, &st) < 0) { e = errno ; *what = "stat" ; goto closeit ; }
    pos = st.st_size ;
  }
  if ((ufline && !out_put(o, ufline, strlen(ufline)))
   || (rpline && !out_put(o, rpline, strlen(rpline)))
   || (dtline && !out_put(o, dtline, strlen(dtline)))) { e = errno ; *what = "write to" ; goto cut ; }
  if (!copy_quoted(o, fd, what)) { e = errno ; goto cut ; }
  if (!out_put(o, "\n", 1) || !out_flush(o)) { e = errno ; *what = "write to" ; goto cut ; }
  if (fsync(o->fd) < 0 && (regular || errno != EINVAL)) { e = errno ; *what = "fsync" ; goto cut ; }
  if (close(o->fd) < 0) { e = errno ; *what = "write to" ; o->fd = -1 ; goto freeit ; }
  free(o) ;
  return 1 ;

 cut:
  if (regular && ftruncate(o->fd, pos) == 0) fsync(o->fd) ;
 closeit:
  close(o->fd) ;
 freeit:
  free(o) ;
  errno = e ;
  return 0 ;
}
