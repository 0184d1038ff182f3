/* pop3io: see pop3io.h. Replies are flushed only when the input holds no more lines, so a
   client that pipelines (RFC 2449) gets its answers in few writes. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include "logtext.h"
#include "pop3io.h"

int pop3io_init (pop3io *io, int rfd, int wfd, unsigned int timeout, int exact, char *out, size_t outmax)
{
  io->timeout = timeout ;
  io->exact = exact ;
  io->out = out ;
  io->outmax = outmax ;
  io->outlen = 0 ;
  return pop3io_switch(io, rfd, wfd) ;
}

int pop3io_switch (pop3io *io, int rfd, int wfd)
{
  io->rfd = rfd ;
  io->wfd = wfd ;
  io->peek = -1 ;
  io->inpos = io->inlen = 0 ;
  if (ndelay_on(rfd) < 0) return 0 ;
  return wfd == rfd || ndelay_on(wfd) >= 0 ;
}

/* wait until fd is ready, at most timeout seconds; 1 ready, 0 timed out (errno ETIMEDOUT)
   or failed */
static int ready (pop3io const *io, int fd, short events)
{
  struct pollfd p = { .fd = fd, .events = events, .revents = 0 } ;
  struct timespec now ;
  long long deadline = 0 ;
  if (io->timeout)
  {
    clock_gettime(CLOCK_MONOTONIC, &now) ;
    deadline = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 + (long long)io->timeout * 1000 ;
  }
  for (;;)
  {
    int ms = -1, r ;
    if (io->timeout)
    {
      long long left ;
      clock_gettime(CLOCK_MONOTONIC, &now) ;
      left = deadline - ((long long)now.tv_sec * 1000 + now.tv_nsec / 1000000) ;
      if (left <= 0) { errno = ETIMEDOUT ; return 0 ; }
      ms = left > 86400000 ? 86400000 : (int)left ;
    }
    r = poll(&p, 1, ms) ;
    if (r > 0) return 1 ;
    if (r < 0 && errno != EINTR) return 0 ;
  }
}

int pop3io_flush (pop3io *io)
{
  size_t pos = 0 ;
  while (pos < io->outlen)
  {
    ssize_t w = write(io->wfd, io->out + pos, io->outlen - pos) ;
    if (w > 0) { pos += w ; continue ; }
    if (w < 0 && errno == EINTR) continue ;
    if (w < 0 && errno == EAGAIN) { if (!ready(io, io->wfd, POLLOUT)) return 0 ; continue ; }
    if (!w) errno = EPIPE ;
    return 0 ;
  }
  io->outlen = 0 ;
  return 1 ;
}

int pop3io_room (pop3io *io, size_t n)
{
  return io->outmax - io->outlen >= n || pop3io_flush(io) ;
}

int pop3io_put (pop3io *io, char const *s, size_t len)
{
  while (len)
  {
    size_t n = io->outmax - io->outlen ;
    if (!n) { if (!pop3io_flush(io)) return 0 ; continue ; }
    if (n > len) n = len ;
    memcpy(io->out + io->outlen, s, n) ;
    io->outlen += n ; s += n ; len -= n ;
  }
  return 1 ;
}

int pop3io_puts (pop3io *io, char const *s)
{
  return pop3io_put(io, s, strlen(s)) ;
}

/* one read; in exact mode only up to the end of the current line: the socket is peeked
   (two system calls a line), anything else is read a byte at a time */
static ssize_t readsome (pop3io *io)
{
  char *buf = io->in ;
  size_t max = sizeof io->in ;
  if (io->exact && io->peek)
  {
    ssize_t n = recv(io->rfd, buf, max, MSG_PEEK) ;
    if (n < 0 && errno == ENOTSOCK) io->peek = 0 ;
    else
    {
      char const *lf ;
      if (n <= 0) return n ;
      io->peek = 1 ;
      lf = memchr(buf, '\n', n) ;
      return read(io->rfd, buf, lf ? (size_t)(lf - buf) + 1 : (size_t)n) ;
    }
  }
  return read(io->rfd, buf, io->exact ? 1 : max) ;
}

/* more input: 1, or a POP3IO_ code */
static int fill (pop3io *io)
{
  if (!pop3io_flush(io)) return errno == ETIMEDOUT ? POP3IO_TIMEOUT : POP3IO_ERROR ;
  io->inpos = io->inlen = 0 ;
  for (;;)
  {
    ssize_t r = readsome(io) ;
    if (r > 0) { io->inlen = r ; return -1 ; }
    if (!r) return POP3IO_EOF ;
    if (errno == EINTR) continue ;
    if (errno == EAGAIN)
    {
      if (!ready(io, io->rfd, POLLIN)) return errno == ETIMEDOUT ? POP3IO_TIMEOUT : POP3IO_ERROR ;
      continue ;
    }
    return errno == ECONNRESET ? POP3IO_EOF : POP3IO_ERROR ;
  }
}

int pop3io_getline (pop3io *io, char *line, size_t *len)
{
  size_t n = 0 ;
  int toolong = 0 ;
  for (;;)
  {
    char const *s = io->in + io->inpos ;
    size_t avail = io->inlen - io->inpos ;
    char const *lf = memchr(s, '\n', avail) ;
    size_t take = lf ? (size_t)(lf - s) : avail ;
    if (!toolong)
    {
      if (n + take > POP3IO_LINEMAX + 1) { toolong = 1 ; n = 0 ; }
      else { memcpy(line + n, s, take) ; n += take ; }
    }
    if (lf) { io->inpos += take + 1 ; break ; }
    io->inpos = io->inlen ;
    {
      int r = fill(io) ;
      if (r >= 0) { *len = 0 ; line[0] = 0 ; return r ; }
    }
  }
  if (toolong) { *len = 0 ; line[0] = 0 ; return POP3IO_TOOLONG ; }
  if (n && line[n-1] == '\r') n-- ;
  line[n] = 0 ;
  *len = n ;
  if (n > POP3IO_LINEMAX) { *len = 0 ; line[0] = 0 ; return POP3IO_TOOLONG ; }
  return memchr(line, 0, n) ? POP3IO_BAD : POP3IO_OK ;
}

void pop3io_close (pop3io *io, unsigned int secs)
{
  unsigned int t = io->timeout ;
  if (!pop3io_flush(io)) return ;
  if (shutdown(io->wfd, SHUT_WR) < 0) return ;   /* not a socket: nothing to fear */
  io->timeout = secs ;
  for (;;)
  {
    ssize_t r = read(io->rfd, io->in, sizeof io->in) ;
    if (r > 0) continue ;
    if (r < 0 && errno == EINTR) continue ;
    if (r < 0 && errno == EAGAIN && ready(io, io->rfd, POLLIN)) continue ;
    break ;
  }
  io->timeout = t ;
}

int pop3io_pending (pop3io const *io)
{
  return io->inpos < io->inlen ;
}

void pop3io_log (char const *word, char const *const *fields)
{
  stralloc sa = STRALLOC_ZERO ;
  int ok = stralloc_cats(&sa, word) ;
  for (; ok && fields[0] && fields[1] ; fields += 2)
  {
    int last = !fields[2] && !strcmp(fields[0], "reason=") ;
    ok = stralloc_catb(&sa, " ", 1) && stralloc_cats(&sa, fields[0])
      && logtext_cat(&sa, fields[1], strlen(fields[1]), 256, last ? "" : " ") ;
  }
  if (ok && stralloc_catb(&sa, "\n", 1)) allwrite(2, sa.s, sa.len) ;
  stralloc_free(&sa) ;
}
