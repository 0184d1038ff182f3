#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/types.h>
#include "qinjsrv.h"
#include "qqueue.h"

void qinjsrv_init (qinjsrv *c, int fd, unsigned int timeout)
{
  c->fd = fd ; c->timeout = timeout ; c->left = 0 ; c->inpiece = 0 ; c->pos = c->len = 0 ;
  c->ouid = c->opid = 0 ;
}

/* more input within the deadline: 1, 0 at EOF, -1 error or timeout (errno) */
static int fill (qinjsrv *c)
{
  struct pollfd p = { .fd = c->fd, .events = POLLIN, .revents = 0 } ;
  ssize_t r ;
  c->pos = c->len = 0 ;
  for (;;)
  {
    int k = poll(&p, 1, c->timeout * 1000) ;
    if (k < 0) { if (errno == EINTR) continue ; return -1 ; }
    if (!k) { errno = ETIMEDOUT ; return -1 ; }
    r = read(c->fd, c->buf, sizeof c->buf) ;
    if (r < 0) { if (errno == EINTR || errno == EAGAIN) continue ; return -1 ; }
    c->len = r ;
    return r > 0 ;
  }
}

static int byte (qinjsrv *c, char *ch)
{
  if (c->pos == c->len)
  {
    int r = fill(c) ;
    if (r <= 0) return r ;
  }
  *ch = c->buf[c->pos++] ;
  return 1 ;
}

/* the length of the next netstring, its ':' read */
static int nslen (qinjsrv *c, uint64_t *len)
{
  unsigned int digits = 0 ;
  *len = 0 ;
  for (;;)
  {
    char ch ;
    int r = byte(c, &ch) ;
    if (r <= 0) return r ;
    if (ch == ':') return digits ? 1 : -2 ;
    if (ch < '0' || ch > '9' || ++digits > 10) return -2 ;
    *len = *len * 10 + (uint64_t)(ch - '0') ;
  }
}

/* the ',' that ends a netstring */
static int nsend (qinjsrv *c)
{
  char ch ;
  int r = byte(c, &ch) ;
  if (r <= 0) return r ;
  return ch == ',' ? 1 : -2 ;
}

/* len bytes appended to sa */
static int get (qinjsrv *c, stralloc *sa, size_t len)
{
  if (!stralloc_readyplus(sa, len)) return -1 ;
  while (len)
  {
    size_t n ;
    if (c->pos == c->len)
    {
      int r = fill(c) ;
      if (r <= 0) return r ;
    }
    n = c->len - c->pos < len ? c->len - c->pos : len ;
    memcpy(sa->s + sa->len, c->buf + c->pos, n) ;
    sa->len += n ; c->pos += n ; len -= n ;
  }
  return 1 ;
}

/* a whole netstring of at most max bytes appended to sa; -3 when longer */
static int netstring (qinjsrv *c, stralloc *sa, size_t max)
{
  uint64_t len ;
  int r = nslen(c, &len) ;
  if (r == 1 && len > max) return -3 ;
  if (r == 1) r = get(c, sa, len) ;
  if (r == 1) r = nsend(c) ;
  return r ;
}

int qinjsrv_greeting (qinjsrv *c, unsigned int *flags, stralloc *vars)
{
  char g[16] ;
  stralloc sa = { .s = g, .len = 0, .a = sizeof g } ;
  size_t i ;
  int r = netstring(c, &sa, 8) ;
  *flags = 0 ;
  if (r == -3) return -2 ;
  if (r != 1) return r ;
  if (!sa.len || sa.s[0] != QQUEUE_PROTO[0]) return -3 ;
  for (i = 1 ; i < sa.len ; i++)
  {
    unsigned int f = sa.s[i] == 'n' ? QINJSRV_NET : sa.s[i] == 'e' ? QINJSRV_VARS : sa.s[i] == 'l' ? QINJSRV_ORIGIN : 0 ;
    if (!f || (*flags & f)) return -3 ;
    *flags |= f ;
  }
  if (*flags & QINJSRV_VARS)
  {
    r = netstring(c, vars, QINJSRV_VARSMAX) ;
    if (r != 1) return r == -3 ? -2 : r ;
  }
  if (*flags & QINJSRV_ORIGIN)
  {
    char o[40] ;
    stralloc os = { .s = o, .len = 0, .a = sizeof o - 1 } ;
    size_t k ;
    r = netstring(c, &os, sizeof o - 1) ;
    if (r != 1) return r == -3 ? -2 : r ;
    o[os.len] = 0 ;
    /* "UID PID", both decimal, nothing else */
    k = uint_scan(o, &c->ouid) ;
    if (!k || o[k] != ' ') return -2 ;
    i = uint_scan(o + k + 1, &c->opid) ;
    if (!i || k + 1 + i != os.len) return -2 ;
  }
  return 1 ;
}

int qinjsrv_envelope (qinjsrv *c, stralloc *env, size_t max)
{
  return netstring(c, env, max) ;
}

int qinjsrv_data (qinjsrv *c, char const **s, size_t *n)
{
  while (!c->left)
  {
    int r ;
    if (c->inpiece) { c->inpiece = 0 ; r = nsend(c) ; if (r != 1) return r ; }
    r = nslen(c, &c->left) ;
    if (r != 1) return r ;
    if (!c->left) { r = nsend(c) ; return r == 1 ? 2 : r ; }
    c->inpiece = 1 ;
  }
  if (c->pos == c->len)
  {
    int r = fill(c) ;
    if (r <= 0) return r ;
  }
  *n = c->len - c->pos < c->left ? c->len - c->pos : (size_t)c->left ;
  *s = c->buf + c->pos ;
  c->pos += *n ; c->left -= *n ;
  return 1 ;
}

int qinjsrv_answer (int fd, int code, char const *text)
{
  char head[UINT_FMT + 1], fmt[UINT_FMT] ;
  size_t n = uint_fmt(fmt, (unsigned int)code), t = strlen(text), h ;
  h = uint_fmt(head, (unsigned int)(n + 1 + t)) ;
  head[h++] = ':' ;
  {
    struct iovec v[5] = { { head, h }, { fmt, n }, { (char *)" ", 1 }, { (char *)text, t }, { (char *)",", 1 } } ;
    size_t total = h + n + 1 + t + 1 ;
    return allwritev(fd, v, 5) == total ;
  }
}

void qinjsrv_vars (char const *vars, size_t len, char const *const *names,
                   void (*f) (char const *name, char const *value, void *data), void *data)
{
  size_t i = 0 ;
  while (i < len)
  {
    char const *v = vars + i ;
    char const *end = memchr(v, 0, len - i) ;
    char const *eq ;
    if (!end) return ;   /* the last one unterminated: ignored */
    eq = memchr(v, '=', end - v) ;
    if (eq)
      for (char const *const *p = names ; *p ; p++)
      {
        size_t k = strlen(*p) ;
        if ((size_t)(eq - v) == k && !memcmp(v, *p, k))
        {
          char name[64] ;
          if (k >= sizeof name) break ;
          memcpy(name, v, k) ; name[k] = 0 ;
          f(name, eq + 1, data) ;
          break ;
        }
      }
    i = (size_t)(end - vars) + 1 ;
  }
}
