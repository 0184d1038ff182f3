#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/uio.h>
#include <sys/mman.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/exec.h>
#include "qfilter.h"
#include "qqueue.h"
#include "queue.h"

static int readall (int fd, stralloc *sa)
{
  for (;;)
  {
    ssize_t r ;
    if (!stralloc_readyplus(sa, 65536)) return QUEUE_NOMEM ;
    r = read(fd, sa->s + sa->len, 65536) ;
    if (r < 0) { if (errno == EINTR) continue ; return QUEUE_READ ; }
    if (!r) return QUEUE_OK ;
    sa->len += r ;
  }
}

int qfilter_read (stralloc *msg, stralloc *env)
{
  size_t nrcpt ;
  int code = readall(0, msg) ;
  if (code) return code ;
  /* the envelope up to its empty record, without waiting for the end of the file */
  code = queue_envelope_read(1, env) ;
  return code ? code : queue_envelope_check(env->s, env->len, &nrcpt) ;
}

char const *qfilter_sender (stralloc const *env)
{
  return env->len && env->s[0] == 'F' ? env->s + 1 : "" ;
}

/* a memory file holding s[0..len) then t[0..tlen), rewound, at descriptor to */
static int memfile (int to, char const *s, size_t len, char const *t, size_t tlen)
{
  int fd = memfd_create("qfilter", 0) ;
  if (fd < 0) return 0 ;
  if (allwrite(fd, s, len) < len || allwrite(fd, t, tlen) < tlen || lseek(fd, 0, SEEK_SET) < 0
   || (fd != to && (dup2(fd, to) < 0 || close(fd) < 0))) return 0 ;
  return 1 ;
}

int qfilter_handon (char const *head, size_t headlen, char const *msg, size_t msglen, char const *env, size_t envlen)
{
  char const *next = getenv("NEXTQUEUE") ;
  char const *argv[2] = { "queue-inject", 0 } ;
  if (!next || !*next)
  {
    /* queue-injectd's socket: no process to start */
    int fd = qqueue_connect() ;
    if (fd >= 0)
    {
      qqueue q = QQUEUE_ZERO ;
      struct iovec v[2] = { { (char *)head, headlen }, { (char *)msg, msglen } } ;
      if (!qqueue_hello(fd, env, envlen - 1)) { close(fd) ; return QUEUE_READ ; }
      q.msgfd = fd ;
      if (!qqueue_writev(&q, v, 2) && errno != EPIPE) { qqueue_abort(&q) ; return QUEUE_WRITE ; }
      return qqueue_finish(&q) ;
    }
  }
  else argv[0] = next ;
  /* the program, in place of this one: the message and envelope in memory files */
  if (!memfile(0, head, headlen, msg, msglen) || !memfile(1, env, envlen, "", 0)) return QUEUE_WRITE ;
  if (unsetenv("QMAILQUEUE") < 0) return QUEUE_NOMEM ;
  exec(argv) ;
  return QUEUE_BUG ;
}

size_t qfilter_header_next (char const *msg, size_t len, size_t *pos)
{
  size_t start = *pos, i = start ;
  if (i >= len || msg[i] == '\n' || (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')) return (size_t)-1 ;
  for (;;)
  {
    char const *nl = memchr(msg + i, '\n', len - i) ;
    if (!nl) { i = len ; break ; }
    i = (size_t)(nl - msg) + 1 ;
    if (i >= len || (msg[i] != ' ' && msg[i] != '\t')) break ;
  }
  *pos = i ;
  return start ;
}

int qfilter_header_is (char const *f, size_t len, char const *name)
{
  size_t n = strlen(name), i = n ;
  if (len <= n || strncasecmp(f, name, n)) return 0 ;
  while (i < len && (f[i] == ' ' || f[i] == '\t')) i++ ;
  return i < len && f[i] == ':' ;
}

static int domain_ok (char const *s, size_t n)
{
  size_t i ;
  if (!n || n > 253 || s[0] == '.' || s[0] == '-') return 0 ;
  for (i = 0 ; i < n ; i++)
  {
    char c = s[i] ;
    if (c == '.' ? s[i - 1] == '.' : !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return 0 ;
  }
  return 1 ;
}

int qfilter_from_domain (char const *msg, size_t len, stralloc *dom, unsigned int *nfrom)
{
  size_t pos = 0, f ;
  unsigned int n = 0 ;
  int found = 0 ;
  dom->len = 0 ;
  while ((f = qfilter_header_next(msg, len, &pos)) != (size_t)-1)
  {
    char const *v, *lt, *at, *end ;
    size_t i ;
    if (!qfilter_header_is(msg + f, pos - f, "from")) continue ;
    if (n++) continue ;
    v = memchr(msg + f, ':', pos - f) + 1 ;
    end = msg + pos ;
    /* "Name <a@b>" or a bare a@b: the address is inside the first <...> outside quotes and
       comments, else the value; its @ is the first one outside quotes and comments */
    lt = 0 ; at = 0 ;
    {
      unsigned int depth = 0 ;
      int quoted = 0 ;
      for (i = 0 ; v + i < end ; i++)
      {
        char c = v[i] ;
        if (c == '\\' && v + i + 1 < end) { i++ ; continue ; }
        if (quoted) { if (c == '"') quoted = 0 ; continue ; }
        if (c == '(') { depth++ ; continue ; }
        if (depth) { if (c == ')') depth-- ; continue ; }
        if (c == '"') quoted = 1 ;
        else if (c == '<' && !lt) { lt = v + i ; at = 0 ; }
        else if (c == '>' && lt) { end = v + i ; break ; }
        else if (c == '@' && !at) at = v + i ;
      }
    }
    if (!at || (lt && at < lt)) continue ;
    at++ ;
    for (i = 0 ; at + i < end && at[i] != '>' && at[i] != ' ' && at[i] != '\t' && at[i] != '\r' && at[i] != '\n' && at[i] != '(' && at[i] != ',' && at[i] != ';' ; i++) ;
    if (i && at[i - 1] == '.') i-- ;
    if (!domain_ok(at, i)) continue ;
    if (!stralloc_catb(dom, at, i) || !stralloc_0(dom)) return 0 ;
    dom->len-- ;
    for (i = 0 ; i < dom->len ; i++) if (dom->s[i] >= 'A' && dom->s[i] <= 'Z') dom->s[i] += 32 ;
    found = 1 ;
  }
  if (nfrom) *nfrom = n ;
  return found ;
}
