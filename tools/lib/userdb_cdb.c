/* userdb's cdb backend: the records described in userdb.h, in one cdb file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cdb.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "control.h"
#include "userdb.h"

typedef struct dbcdb_s { struct cdb c ; int fd ; } dbcdb ;

static int cdbb_open (userdb *db, char const *arg)
{
  dbcdb *d ;
  stralloc path = STRALLOC_ZERO ;
  int e, r ;
  if (!*arg)
  {
    if (!stralloc_cats(&path, control_root()) || !stralloc_cats(&path, "/users/cdb") || !stralloc_0(&path)) return 0 ;
    arg = path.s ;
  }
  d = malloc(sizeof *d) ;
  if (!d) { stralloc_free(&path) ; return 0 ; }
  d->fd = open(arg, O_RDONLY | O_CLOEXEC) ;
  stralloc_free(&path) ;
  if (d->fd < 0) { e = errno ; free(d) ; errno = e ; return 0 ; }
  if (cdb_init(&d->c, d->fd) < 0) { e = errno ; close(d->fd) ; free(d) ; errno = e ; return 0 ; }
  r = cdb_find(&d->c, "%format", 7) ;
  if (r <= 0 || cdb_datalen(&d->c) != sizeof USERDB_CDB_FORMAT - 1
   || memcmp(cdb_getdata(&d->c), USERDB_CDB_FORMAT, sizeof USERDB_CDB_FORMAT - 1))
  {
    cdb_free(&d->c) ; close(d->fd) ; free(d) ;
    errno = r < 0 ? EIO : EPROTO ;
    return 0 ;
  }
  db->p = d ;
  return 1 ;
}

static void cdbb_close (userdb *db)
{
  dbcdb *d = db->p ;
  if (!d) return ;
  cdb_free(&d->c) ;
  close(d->fd) ;
  free(d) ;
}

/* The value of kind a[@b] appended to sa; it must end in \0. 1, 0 (absent), -1 (errno). */
static int get (dbcdb *d, char kind, char const *a, char const *b, stralloc *sa)
{
  size_t la = strlen(a), lb = b ? strlen(b) : 0, klen = 1 + la + (b ? 1 + lb : 0) ;
  char key[klen] ;
  unsigned int vlen ;
  int r ;
  key[0] = kind ;
  memcpy(key + 1, a, la) ;
  if (b) { key[1 + la] = '@' ; memcpy(key + 2 + la, b, lb) ; }
  r = cdb_find(&d->c, key, klen) ;
  if (r < 0) { errno = EIO ; return -1 ; }
  if (!r) return 0 ;
  vlen = cdb_datalen(&d->c) ;
  if (!vlen) { errno = EPROTO ; return -1 ; }
  if (!stralloc_catb(sa, cdb_getdata(&d->c), vlen)) return -1 ;
  if (sa->s[sa->len - 1]) { errno = EPROTO ; return -1 ; }
  return 1 ;
}

/* Split s[0..len) (fields each ending in \0) into f[0..n). 1 when exactly n fields. */
static int fields (char const *s, size_t len, char const **f, unsigned int n)
{
  size_t i = 0 ;
  unsigned int k = 0 ;
  while (i < len && k < n)
  {
    char const *z = memchr(s + i, 0, len - i) ;
    if (!z) return 0 ;
    f[k++] = s + i ;
    i = z - s + 1 ;
  }
  return k == n && i == len ;
}

static int num (char const *s, unsigned long *u)
{
  return *s && !s[ulong_scan(s, u)] ;
}

static int num64 (char const *s, uint64_t *u)
{
  return *s && !s[uint64_scan(s, u)] ;
}

/* The real name of domain, 0-terminated, at real[0..]; 1, 0, -1. */
static int realname (dbcdb *d, char const *domain, stralloc *real)
{
  int r ;
  real->len = 0 ;
  r = get(d, 'D', domain, 0, real) ;
  if (r <= 0) return r ;
  if (real->s[0] != '=')
  {
    real->len = 0 ;
    return stralloc_cats(real, domain) && stralloc_0(real) ? 1 : -1 ;
  }
  memmove(real->s, real->s + 1, real->len - 1) ;
  real->len-- ;
  return 1 ;
}

static int cdbb_domain (userdb *db, char const *domain, userdb_domain *dom)
{
  dbcdb *d = db->p ;
  char const *f[4] ;
  unsigned long uid, gid ;
  size_t namelen ;
  int r = realname(d, domain, &dom->sa) ;
  if (r <= 0) return r ;
  namelen = dom->sa.len ;
  {
    char name[namelen] ;
    memcpy(name, dom->sa.s, namelen) ;
    r = get(d, 'D', name, 0, &dom->sa) ;
  }
  if (!r || (r > 0 && dom->sa.s[namelen] == '=')) { errno = EPROTO ; return -1 ; }
  if (r < 0) return -1 ;
  /* uid gid dir, and a catch-all only when the domain has one */
  if (fields(dom->sa.s + namelen, dom->sa.len - namelen, f, 4)) ;
  else if (fields(dom->sa.s + namelen, dom->sa.len - namelen, f, 3)) f[3] = "" ;
  else { errno = EPROTO ; return -1 ; }
  if (!num(f[0], &uid) || !num(f[1], &gid)) { errno = EPROTO ; return -1 ; }
  dom->name = dom->sa.s ;
  dom->uid = uid ; dom->gid = gid ;
  dom->dir = f[2] ;
  dom->catchall = f[3] ;
  return 1 ;
}

static unsigned int flags_parse (char const *s)
{
  unsigned int fl = 0 ;
  while (*s)
  {
    size_t n = strcspn(s, ",") ;
    if (n == 8 && !memcmp(s, "disabled", 8)) fl |= USERDB_DISABLED ;
    else if (n == 4 && !memcmp(s, "keep", 4)) fl |= USERDB_KEEP ;
    else if (n == 5 && !memcmp(s, "alias", 5)) fl |= USERDB_ALIAS ;
    s += n ;
    if (*s) s++ ;
  }
  return fl ;
}

static int cdbb_user (userdb *db, char const *local, char const *domain, userdb_user *u)
{
  dbcdb *d = db->p ;
  char const *f[7] ;
  unsigned long uid, gid ;
  size_t namelen, locallen = strlen(local) + 1 ;
  int r ;
  u->sa.len = 0 ;
  if (!stralloc_catb(&u->sa, local, locallen)) return -1 ;
  {
    stralloc real = STRALLOC_ZERO ;
    r = realname(d, domain, &real) ;
    if (r <= 0) { stralloc_free(&real) ; return r ; }
    namelen = real.len ;
    r = stralloc_catb(&u->sa, real.s, real.len) ;
    stralloc_free(&real) ;
    if (!r) return -1 ;
  }
  r = get(d, 'U', local, u->sa.s + locallen, &u->sa) ;
  if (r <= 0) return r ;
  if (!fields(u->sa.s + locallen + namelen, u->sa.len - locallen - namelen, f, 7)
   || !num(f[0], &uid) || !num(f[1], &gid) || (*f[5] && !num64(f[5], &u->quota)))
  { errno = EPROTO ; return -1 ; }
  if (!*f[5]) u->quota = 0 ;
  u->local = u->sa.s ;
  u->domain = u->sa.s + locallen ;
  u->uid = uid ; u->gid = gid ;
  u->home = f[2] ;
  u->hash = f[3] ;
  u->flags = flags_parse(f[4]) ;
  u->forward = f[6] ;
  return 1 ;
}

static int cdbb_dummy (userdb *db, stralloc *sa)
{
  dbcdb *d = db->p ;
  sa->len = 0 ;
  return get(d, '%', "dummy", 0, sa) ;
}

userdb_backend const userdb_cdb_backend =
{
  .name = "cdb",
  .open = &cdbb_open,
  .domain = &cdbb_domain,
  .user = &cdbb_user,
  .dummy = &cdbb_dummy,
  .close = &cdbb_close
} ;
