/* userdb's mysql backend: every lookup is a request to userdb-mysqld(8) on the instance
   root's socket, with a deadline; the program asking links no MariaDB library. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "control.h"
#include "usersql.h"
#include "userdb.h"

typedef struct dbmy_s { int fd ; unsigned long timeout ; stralloc path ; stralloc in ; } dbmy ;

int usersql_socket (stralloc *sa)
{
  sa->len = 0 ;
  return stralloc_cats(sa, control_root()) && stralloc_cats(sa, "/users/mysql.sock") && stralloc_0(sa) ;
}

/* the connection is made at the first request: opening never fails for want of the daemon,
   so that no caller takes a missing socket for a missing database */
static int my_open (userdb *db, char const *arg)
{
  (void)arg ;   /* the configuration file: the daemon's business */
  return usersql_open(db, 0) ;
}

int usersql_open (userdb *db, char const *sock)
{
  dbmy *d = malloc(sizeof *d) ;
  if (!d) return 0 ;
  d->fd = -1 ;
  d->path = (stralloc)STRALLOC_ZERO ;
  d->in = (stralloc)STRALLOC_ZERO ;
  if (control_readulong(&d->timeout, "userdbtimeout", USERSQL_TIMEOUT) < 0
   || !(sock ? stralloc_copys(&d->path, sock) && stralloc_0(&d->path) : usersql_socket(&d->path)))
  {
    int e = errno ;
    stralloc_free(&d->path) ; free(d) ; errno = e ;
    return 0 ;
  }
  if (!d->timeout) d->timeout = 1 ;
  db->be = &userdb_mysql_backend ;
  db->p = d ;
  return 1 ;
}

static void my_close (userdb *db)
{
  dbmy *d = db->p ;
  if (!d) return ;
  if (d->fd >= 0) close(d->fd) ;
  stralloc_free(&d->path) ;
  stralloc_free(&d->in) ;
  free(d) ;
}

int usersql_is (userdb const *db)
{
  return db->be == &userdb_mysql_backend ;
}

static long long now_ms (void)
{
  struct timespec ts ;
  clock_gettime(CLOCK_MONOTONIC, &ts) ;
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 ;
}

static int my_connect (dbmy *d)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX } ;
  if (d->path.len > sizeof sun.sun_path) { errno = ENAMETOOLONG ; return 0 ; }
  memcpy(sun.sun_path, d->path.s, d->path.len) ;
  d->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) ;
  if (d->fd < 0) return 0 ;
  if (connect(d->fd, (struct sockaddr *)&sun, sizeof sun) < 0)
  {
    int e = errno ;
    close(d->fd) ; d->fd = -1 ;
    /* no daemon is a temporary failure, never "no such file" (no database) */
    errno = e == ENOENT || e == EAGAIN ? ECONNREFUSED : e ;
    return 0 ;
  }
  d->in.len = 0 ;
  return 1 ;
}

/* wait for events on d->fd until deadline: 1, or 0 (errno) */
static int wait_fd (dbmy *d, short events, long long deadline)
{
  for (;;)
  {
    struct pollfd p = { .fd = d->fd, .events = events, .revents = 0 } ;
    long long left = deadline - now_ms() ;
    int r ;
    if (left <= 0) { errno = ETIMEDOUT ; return 0 ; }
    r = poll(&p, 1, (int)left) ;
    if (r < 0) { if (errno == EINTR) continue ; return 0 ; }
    if (r) return 1 ;
  }
}

/* one exchange on the open connection: 1; 0 the connection broke before any answer (a new
   one may be tried); -1 failed (errno) */
static int exchange (dbmy *d, char const *req, size_t len, stralloc *ans, long long deadline)
{
  size_t w = 0 ;
  char nl = '\n' ;
  while (w <= len)
  {
    ssize_t r ;
    if (!wait_fd(d, POLLOUT, deadline)) return -1 ;
    r = w < len ? send(d->fd, req + w, len - w, MSG_NOSIGNAL) : send(d->fd, &nl, 1, MSG_NOSIGNAL) ;
    if (r < 0)
    {
      if (errno == EINTR || errno == EAGAIN) continue ;
      return errno == EPIPE || errno == ECONNRESET ? 0 : -1 ;
    }
    w += r ;
  }
  for (;;)
  {
    char *p = d->in.len ? memchr(d->in.s, '\n', d->in.len) : 0 ;
    ssize_t r ;
    if (p)
    {
      size_t n = p - d->in.s ;
      ans->len = 0 ;
      if (!stralloc_catb(ans, d->in.s, n) || !stralloc_0(ans)) return -1 ;
      memmove(d->in.s, p + 1, d->in.len - n - 1) ;
      d->in.len -= n + 1 ;
      return 1 ;
    }
    if (d->in.len > 1048576) { errno = EPROTO ; return -1 ; }
    if (!wait_fd(d, POLLIN, deadline)) return -1 ;
    if (!stralloc_readyplus(&d->in, 4096)) return -1 ;
    r = read(d->fd, d->in.s + d->in.len, 4096) ;
    if (r < 0) { if (errno == EINTR || errno == EAGAIN) continue ; return errno == ECONNRESET ? 0 : -1 ; }
    if (!r) return 0 ;
    d->in.len += r ;
  }
}

int usersql_request (userdb *db, char const *req, size_t len, stralloc *ans)
{
  dbmy *d = db->p ;
  long long deadline = now_ms() + (long long)d->timeout ;
  int tries ;
  for (tries = 0 ; tries < 2 ; tries++)
  {
    int fresh = d->fd < 0, r ;
    if (fresh && !my_connect(d)) return -1 ;
    r = exchange(d, req, len, ans, deadline) ;
    if (r > 0) return 1 ;
    { int e = errno ; close(d->fd) ; d->fd = -1 ; errno = e ; }
    if (r < 0) return -1 ;
    /* the daemon went away (restarted): a new connection, once, unless this one was new */
    if (fresh) { errno = ECONNRESET ; return -1 ; }
  }
  errno = ECONNRESET ;
  return -1 ;
}

/* the answer's fields after the first ("1"), tabs made NULs, into sa; the count, or -1 */
static int answer_fields (stralloc *ans, int want, userdb *db, char const *req, size_t len, stralloc *sa, char const **f)
{
  size_t i ;
  int n = 0 ;
  if (usersql_request(db, req, len, ans) < 0) return -1 ;
  if (ans->s[0] == '0' && (!ans->s[1] || ans->s[1] == '\t')) return 0 ;
  if (ans->s[0] != '1' || (ans->s[1] && ans->s[1] != '\t')) { errno = ans->s[0] == 'T' ? EIO : EPROTO ; return -1 ; }
  sa->len = 0 ;
  if (!stralloc_catb(sa, ans->s + 2, ans->len > 2 ? ans->len - 2 : 0)) return -1 ;
  if (ans->len <= 2 && !stralloc_0(sa)) return -1 ;
  for (i = 0 ; i < sa->len ; i++) if (sa->s[i] == '\t') sa->s[i] = 0 ;
  for (i = 0 ; i < sa->len && n < want ; i += strlen(sa->s + i) + 1) f[n++] = sa->s + i ;
  if (n != want) { errno = EPROTO ; return -1 ; }
  return 1 ;
}

static int num (char const *s, unsigned long *u) { return *s && !s[ulong_scan(s, u)] ; }

/* a request "K\ta\tb" built from lookup arguments, which the callers have checked */
static int req2 (stralloc *r, char k, char const *a, char const *b)
{
  r->len = 0 ;
  return stralloc_catb(r, &k, 1) && stralloc_catb(r, "\t", 1) && stralloc_cats(r, a)
      && (!b || (stralloc_catb(r, "\t", 1) && stralloc_cats(r, b))) ;
}

static int clean (char const *s) { return !s[strcspn(s, "\t\n")] ; }

static int my_domain (userdb *db, char const *domain, userdb_domain *dom)
{
  stralloc req = STRALLOC_ZERO, ans = STRALLOC_ZERO ;
  char const *f[5] ;
  unsigned long uid, gid ;
  int r ;
  if (!clean(domain)) return 0 ;
  r = req2(&req, 'D', domain, 0) ? answer_fields(&ans, 5, db, req.s, req.len, &dom->sa, f) : -1 ;
  stralloc_free(&req) ; stralloc_free(&ans) ;
  if (r <= 0) return r ;
  if (!num(f[1], &uid) || !num(f[2], &gid)) { errno = EPROTO ; return -1 ; }
  dom->name = f[0] ; dom->uid = uid ; dom->gid = gid ; dom->dir = f[3] ; dom->catchall = f[4] ;
  return 1 ;
}

static unsigned int flags_of (char const *s)
{
  return (strstr(s, "disabled") ? USERDB_DISABLED : 0) | (strstr(s, "keep") ? USERDB_KEEP : 0) | (strstr(s, "alias") ? USERDB_ALIAS : 0) ;
}

static int my_user (userdb *db, char const *local, char const *domain, userdb_user *u)
{
  stralloc req = STRALLOC_ZERO, ans = STRALLOC_ZERO ;
  char const *f[9] ;
  unsigned long uid, gid ;
  int r ;
  if (!clean(local) || !clean(domain)) return 0 ;
  r = req2(&req, 'U', local, domain) ? answer_fields(&ans, 9, db, req.s, req.len, &u->sa, f) : -1 ;
  stralloc_free(&req) ; stralloc_free(&ans) ;
  if (r <= 0) return r ;
  if (!num(f[2], &uid) || !num(f[3], &gid) || (*f[7] && f[7][uint64_scan(f[7], &u->quota)])) { errno = EPROTO ; return -1 ; }
  if (!*f[7]) u->quota = 0 ;
  u->local = f[0] ; u->domain = f[1] ; u->uid = uid ; u->gid = gid ;
  u->home = f[4] ; u->hash = f[5] ; u->flags = flags_of(f[6]) ; u->forward = f[8] ;
  return 1 ;
}

static int my_dummy (userdb *db, stralloc *sa)
{
  (void)db ; (void)sa ;
  return 0 ;    /* the built-in one: no round trip */
}

userdb_backend const userdb_mysql_backend =
{
  .name = "mysql",
  .open = &my_open,
  .domain = &my_domain,
  .user = &my_user,
  .dummy = &my_dummy,
  .close = &my_close
} ;
