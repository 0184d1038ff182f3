#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/iopause.h>
#include <skalibs/ip46.h>
#include <skalibs/socket.h>
#include <skalibs/types.h>
#include "ident.h"

static size_t skipblank (char const *s, size_t len, size_t i)
{
  while (i < len && (s[i] == ' ' || s[i] == '\t')) i++ ;
  return i ;
}

/* A decimal port at s + *i, blanks around it; 0 if none. */
static int scanport (char const *s, size_t len, size_t *i, uint16_t *port)
{
  size_t j = skipblank(s, len, *i), n = 0 ;
  unsigned int u = 0 ;
  while (j + n < len && s[j + n] >= '0' && s[j + n] <= '9' && n < 6) u = u * 10 + (s[j + n++] - '0') ;
  if (!n || n > 5 || u > 65535) return 0 ;
  *port = (uint16_t)u ;
  *i = skipblank(s, len, j + n) ;
  return 1 ;
}

/* Is s[i..) the token tok, then blanks, then ':'? *i past the colon. */
static int token (char const *s, size_t len, size_t *i, char const *tok)
{
  size_t j = skipblank(s, len, *i), n = strlen(tok) ;
  if (len - j < n || strncasecmp(s + j, tok, n)) return 0 ;
  j = skipblank(s, len, j + n) ;
  if (j >= len || s[j] != ':') return 0 ;
  *i = j + 1 ;
  return 1 ;
}

int ident_parse (stralloc *sa, char const *s, size_t len, uint16_t rport, uint16_t lport)
{
  size_t i = 0, end ;
  uint16_t p1, p2 ;
  while (len && (s[len - 1] == '\n' || s[len - 1] == '\r')) len-- ;
  if (memchr(s, 0, len) || memchr(s, '\n', len) || memchr(s, '\r', len)) return 0 ;
  if (!scanport(s, len, &i, &p1) || i >= len || s[i++] != ',') return 0 ;
  if (!scanport(s, len, &i, &p2) || i >= len || s[i++] != ':') return 0 ;
  if (p1 != rport || p2 != lport) return 0 ;
  if (!token(s, len, &i, "USERID")) return 0 ;
  while (i < len && s[i] != ':') i++ ;     /* the operating system field, maybe ",charset" */
  if (i++ >= len) return 0 ;
  i = skipblank(s, len, i) ;
  end = len ;
  while (end > i && (s[end - 1] == ' ' || s[end - 1] == '\t')) end-- ;
  if (end == i) return 0 ;
  if (end - i > IDENT_USERMAX) end = i + IDENT_USERMAX ;
  return stralloc_catb(sa, s + i, end - i) ? 1 : -1 ;
}

/* Wait until fd is ready for events, or the deadline. 1 ready, -1 error or timeout. */
static int waitfd (int fd, short events, tain const *deadline)
{
  iopause_fd x = { .fd = fd, .events = events, .revents = 0 } ;
  for (;;)
  {
    int r = iopause_g(&x, 1, deadline) ;
    if (r < 0) { if (errno == EINTR) continue ; return -1 ; }
    if (!r) return (errno = ETIMEDOUT, -1) ;
    return 1 ;
  }
}

int ident_query (stralloc *sa, ip46 const *remote, uint16_t rport, ip46 const *local, uint16_t lport, uint16_t identport, tain const *deadline)
{
  char q[UINT16_FMT * 2 + 5] ;
  char buf[1024] ;
  size_t qlen = 0, qdone = 0, got = 0 ;
  int r = -1, e ;
  int fd = socket_tcp46_nbcoe(ip46_is6(remote)) ;
  if (fd < 0) return -1 ;
  if (socket_bind46(fd, local, 0) < 0) goto end ;
  if (!socket_deadlineconnstamp46_g(fd, remote, identport, deadline)) goto end ;
  qlen = uint16_fmt(q, rport) ;
  memcpy(q + qlen, " , ", 3) ; qlen += 3 ;
  qlen += uint16_fmt(q + qlen, lport) ;
  q[qlen++] = '\r' ; q[qlen++] = '\n' ;
  while (qdone < qlen)
  {
    ssize_t w ;
    if (waitfd(fd, IOPAUSE_WRITE, deadline) < 0) goto end ;
    w = write(fd, q + qdone, qlen - qdone) ;
    if (w < 0) { if (errno == EAGAIN || errno == EINTR) continue ; goto end ; }
    qdone += w ;
  }
  for (;;)
  {
    ssize_t n ;
    char *nl = memchr(buf, '\n', got) ;
    if (nl) { got = nl - buf ; break ; }
    if (got == sizeof buf) { r = 0 ; goto end ; }
    if (waitfd(fd, IOPAUSE_READ, deadline) < 0) goto end ;
    n = read(fd, buf + got, sizeof buf - got) ;
    if (n < 0) { if (errno == EAGAIN || errno == EINTR) continue ; goto end ; }
    if (!n) break ;               /* a reply without its line end still counts */
    got += n ;
  }
  r = ident_parse(sa, buf, got, rport, lport) ;
 end:
  e = errno ;
  close(fd) ;
  errno = e ;
  return r ;
}
