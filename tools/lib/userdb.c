#include <errno.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "control.h"
#include "userdb.h"
#include "usersql.h"

static userdb_backend const *const backends[] =
{
  &userdb_cdb_backend,
  &userdb_mysql_backend,
  0
} ;

/* A yescrypt hash at the default cost of a password nobody knows, for databases without one. */
static char const dummy_builtin[] = "$y$j8T$Bovz.L.tzi1nIKW8owOMI1$XHODWtL0NDTG0Gm1D9NW/Xq6PS.ePTSfeSUmsIUgkoA" ;

int userdb_open (userdb *db, char const *spec)
{
  stralloc sa = STRALLOC_ZERO ;
  userdb_backend const *const *b = backends ;
  char const *arg ;
  size_t n ;
  int r ;
  if (!spec)
  {
    if (control_readline(&sa, "userdb", "cdb") < 0) return 0 ;
    spec = sa.s[0] ? sa.s : "cdb" ;
  }
  arg = strchr(spec, ':') ;
  n = arg ? (size_t)(arg - spec) : strlen(spec) ;
  arg = arg ? arg + 1 : "" ;
  for (; *b ; b++)
    if (strlen((*b)->name) == n && !memcmp((*b)->name, spec, n)) break ;
  if (!*b) { stralloc_free(&sa) ; errno = EINVAL ; return 0 ; }
  db->be = *b ;
  db->p = 0 ;
  r = (*b)->open(db, arg) ;
  stralloc_free(&sa) ;
  return r ;
}

int userdb_lookup_domain (userdb *db, char const *domain, userdb_domain *d)
{
  return db->be->domain(db, domain, d) ;
}

int userdb_lookup_user (userdb *db, char const *local, char const *domain, userdb_user *u)
{
  return db->be->user(db, local, domain, u) ;
}

int userdb_lookup_recipient (userdb *db, char const *local, char const *domain, userdb_user *u, long *extat)
{
  size_t n = strlen(local) ;
  int first = 1 ;
  for (;;)
  {
    if (userdb_local_valid(local, n))
    {
      char pre[n + 1] ;
      int r ;
      memcpy(pre, local, n) ; pre[n] = 0 ;
      r = userdb_lookup_user(db, pre, domain, u) ;
      if (r < 0) return -1 ;
      if (r) { *extat = first ? -1 : (long)n + 1 ; return 1 ; }
    }
    /* the next shorter prefix ending just before a '-' */
    while (n && local[n-1] != '-') n-- ;
    if (n < 2) return 0 ;
    n-- ;
    first = 0 ;
  }
}

static void lower_copy (char *to, char const *s, size_t len)
{
  size_t i ;
  for (i = 0 ; i < len ; i++) to[i] = s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i] ;
  to[len] = 0 ;
}

int userdb_recipient (userdb *db, char const *local, char const *domain, userdb_domain *d, userdb_user *u, long *extat)
{
  size_t ll = strlen(local), dl = strlen(domain) ;
  char lo[ll + 1], dom[dl + 1] ;
  int r ;
  lower_copy(lo, local, ll) ;
  lower_copy(dom, domain, dl) ;
  if (!userdb_domain_valid(dom, dl)) return USERDB_RCPT_NODOMAIN ;
  r = userdb_lookup_domain(db, dom, d) ;
  if (r <= 0) return r < 0 ? -1 : USERDB_RCPT_NODOMAIN ;
  r = userdb_lookup_recipient(db, lo, d->name, u, extat) ;
  if (r) return r < 0 ? -1 : USERDB_RCPT_USER ;
  if (!strcmp(lo, "postmaster")) return USERDB_RCPT_POSTMASTER ;
  return d->catchall && d->catchall[0] ? USERDB_RCPT_CATCHALL : USERDB_RCPT_UNKNOWN ;
}

int userdb_dummy (userdb *db, stralloc *sa)
{
  int r = db->be->dummy(db, sa) ;
  if (r < 0) return -1 ;
  if (!r)
  {
    sa->len = 0 ;
    if (!stralloc_catb(sa, dummy_builtin, sizeof dummy_builtin)) return -1 ;
  }
  return 1 ;
}

void userdb_close (userdb *db)
{
  if (db->be) db->be->close(db) ;
  db->be = 0 ;
  db->p = 0 ;
}

void userdb_user_free (userdb_user *u)
{
  stralloc_free(&u->sa) ;
}

void userdb_domain_free (userdb_domain *d)
{
  stralloc_free(&d->sa) ;
}

int userdb_local_valid (char const *s, size_t len)
{
  size_t i ;
  if (!len || len > USERDB_LOCALMAX || s[0] == '.' || s[len-1] == '.') return 0 ;
  for (i = 0 ; i < len ; i++)
  {
    char c = s[i] ;
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '+') continue ;
    if (c == '.' && s[i+1] != '.') continue ;
    return 0 ;
  }
  return 1 ;
}

int userdb_domain_valid (char const *s, size_t len)
{
  size_t i = 0, labels = 0 ;
  int alldigits = 1 ;
  if (!len || len > USERDB_DOMAINMAX) return 0 ;
  while (i < len)
  {
    size_t start = i ;
    alldigits = 1 ;
    for (; i < len && s[i] != '.' ; i++)
    {
      char c = s[i] ;
      if (c >= '0' && c <= '9') continue ;
      alldigits = 0 ;
      if ((c >= 'a' && c <= 'z') || c == '-') continue ;
      return 0 ;
    }
    if (i == start || i - start > 63 || s[start] == '-' || s[i-1] == '-') return 0 ;
    labels++ ;
    if (i < len && ++i == len) return 0 ;       /* trailing dot */
  }
  return labels >= 2 && !alldigits ;
}

static int lower_cat (stralloc *sa, char const *s, size_t len)
{
  size_t i ;
  if (!stralloc_readyplus(sa, len + 1)) return 0 ;
  for (i = 0 ; i < len ; i++)
  {
    char c = s[i] ;
    sa->s[sa->len++] = c >= 'A' && c <= 'Z' ? c + 32 : c ;
  }
  sa->s[sa->len++] = 0 ;
  return 1 ;
}

int userdb_split (char const *login, char const *dflt, stralloc *local, stralloc *domain)
{
  char const *at = strrchr(login, '@') ;
  size_t n ;
  if (!at) at = strrchr(login, '%') ;
  n = at ? (size_t)(at - login) : strlen(login) ;
  local->len = 0 ; domain->len = 0 ;
  if (!lower_cat(local, login, n)) return -1 ;
  if (at) { if (!lower_cat(domain, at + 1, strlen(at + 1))) return -1 ; }
  else if (!lower_cat(domain, dflt ? dflt : "", dflt ? strlen(dflt) : 0)) return -1 ;
  return userdb_local_valid(local->s, local->len - 1) && userdb_domain_valid(domain->s, domain->len - 1) ;
}
