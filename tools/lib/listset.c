/* listset: a list's sets in addrset directories or in SQL through userdb-mysqld(8) */
#include <errno.h>
#include <string.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "addrset.h"
#include "listdir.h"
#include "listset.h"
#include "usersql.h"
#include "userdb.h"

static int state = -2 ;         /* -2 not read yet, else listset_sql()'s answer */
static userdb db = USERDB_ZERO ;
static stralloc name = STRALLOC_ZERO, req = STRALLOC_ZERO, ans = STRALLOC_ZERO, why = STRALLOC_ZERO ;

char const *listset_why (void)
{
  return why.len ? why.s : "" ;
}

static int clean (char const *s, size_t n) { return n && memchr(s, '\t', n) == 0 && memchr(s, '\n', n) == 0 && memchr(s, 0, n) == 0 ; }

/* the file sql: line 1 the socket ("" the instance root's), line 2 the list's name in the
   database (absent: the list's address) */
static int load (void)
{
  stralloc f = STRALLOC_ZERO ;
  char *nl, *sock ;
  if (!openslurpclose(&f, LIST_SQL))
  {
    if (errno != ENOENT) return -1 ;
    stralloc_free(&f) ;
    return 0 ;
  }
  if (!stralloc_0(&f)) goto err ;
  sock = f.s ;
  nl = strchr(sock, '\n') ;
  name.len = 0 ;
  if (nl)
  {
    char *n2 ;
    *nl = 0 ;
    n2 = strchr(nl + 1, '\n') ;
    if (n2) *n2 = 0 ;
    if (!stralloc_cats(&name, nl + 1)) goto err ;
  }
  if (!name.len)
  {
    int r = list_readline(&name, "address") ;
    if (r <= 0) { if (!r) errno = EINVAL ; goto err ; }
    if (name.len && !name.s[name.len - 1]) name.len-- ;
  }
  if (!clean(name.s, name.len) || name.len > 255 || (*sock && *sock != '/')) { errno = EINVAL ; goto err ; }
  if (!stralloc_0(&name)) goto err ;
  if (!usersql_open(&db, *sock ? sock : 0)) goto err ;
  stralloc_free(&f) ;
  return 1 ;
 err:
  { int e = errno ; stralloc_free(&f) ; errno = e ; }
  return -1 ;
}

int listset_sql (void)
{
  if (state == -2)
  {
    state = load() ;
    if (state < 0 && errno == EINVAL)
    {
      why.len = 0 ;
      if (!stralloc_cats(&why, "bad file sql (line 1 the absolute path of userdb-mysqld's socket or empty, line 2 the list's name if any, no tab)") || !stralloc_0(&why)) why.len = 0 ;
      errno = EINVAL ;
    }
  }
  return state ;
}

/* send req; 1 the answer "1[\t...]", 0 "0", -1 failed (errno, why) */
static int ask (void)
{
  int r = usersql_request(&db, req.s, req.len, &ans) ;
  why.len = 0 ;
  if (r < 0)
  {
    int e = errno ;
    stralloc_cats(&why, "userdb-mysqld does not answer") ; stralloc_0(&why) ;
    errno = e ;
    return -1 ;
  }
  if ((ans.s[0] == '1' || ans.s[0] == '0') && (!ans.s[1] || ans.s[1] == '\t'))
  {
    if (ans.s[0] == '0' && ans.s[1]) { stralloc_cats(&why, ans.s + 2) ; stralloc_0(&why) ; }
    return ans.s[0] == '1' ;
  }
  stralloc_cats(&why, ans.s[0] && ans.s[1] == '\t' ? ans.s + 2 : ans.s) ; stralloc_0(&why) ;
  /* T: the database failed; 0 with a reason: refused (permission); anything else: the
     protocol. All temporary for the list: nothing is decided without the database. */
  errno = ans.s[0] == '0' ? EACCES : ans.s[0] == 'T' ? EIO : EPROTO ;
  return -1 ;
}

static int start (char const *cmd, char const *set)
{
  req.len = 0 ;
  return stralloc_cats(&req, cmd) && stralloc_catb(&req, "\t", 1) && stralloc_catb(&req, name.s, name.len - 1)
      && stralloc_catb(&req, "\t", 1) && stralloc_cats(&req, set) ;
}

static int arg (char const *s)
{
  return stralloc_catb(&req, "\t", 1) && stralloc_cats(&req, s) ;
}

int listset_has (char const *set, char const *addr)
{
  int r = listset_sql() ;
  if (r <= 0) return r < 0 ? -1 : addrset_has(set, addr) ;
  if (!start("SH", set) || !arg(addr)) return -1 ;
  r = ask() ;
  if (r > 0 && ans.s[1]) { errno = EPROTO ; return -1 ; }
  if (r == 0 && why.len) { errno = EACCES ; return -1 ; }
  return r ;
}

int listset_change (char const *set, int add, char const *addrs, size_t len, size_t *changed)
{
  size_t i = 0 ;
  int r = listset_sql() ;
  if (r <= 0) return r < 0 ? 0 : addrset_change(set, add, addrs, len, changed) ;
  *changed = 0 ;
  while (i < len)
  {
    unsigned int n = 0 ;
    uint64_t c ;
    if (!start(add ? "SA" : "SR", set)) return 0 ;
    for (; i < len && n < LISTSET_BATCH ; n++)
    {
      if (!arg(addrs + i)) return 0 ;
      i += strlen(addrs + i) + 1 ;
    }
    r = ask() ;
    if (r <= 0) { if (!r) errno = EACCES ; return 0 ; }
    if (ans.s[1] != '\t' || ans.s[2 + uint64_scan(ans.s + 2, &c)] || !ans.s[2]) { errno = EPROTO ; return 0 ; }
    *changed += c ;
  }
  return 1 ;
}

/* every address of the set, a page at a time, to f: 1 all, 0 stopped, -1 error */
static int pages (char const *set, int (*f) (char const *addr, void *ctx), void *ctx)
{
  stralloc last = STRALLOC_ZERO, page = STRALLOC_ZERO ;
  int r = -1 ;
  if (!stralloc_0(&last)) return -1 ;
  for (;;)
  {
    size_t i ;
    if (!start("SL", set) || !stralloc_catb(&req, "\t", 1) || !stralloc_catb(&req, last.s, last.len - 1)) goto end ;
    if (ask() <= 0) { if (why.len) errno = EACCES ; goto end ; }
    if (!ans.s[1]) { r = 1 ; goto end ; }
    page.len = 0 ;
    if (!stralloc_catb(&page, ans.s + 2, ans.len - 2)) goto end ;
    for (i = 0 ; i < page.len ; i++) if (page.s[i] == '\t') page.s[i] = 0 ;
    for (i = 0 ; i < page.len ; )
    {
      char const *a = page.s + i ;
      size_t n = strlen(a) ;
      if (!n) { errno = EPROTO ; goto end ; }
      if (!f(a, ctx)) { r = 0 ; goto end ; }
      i += n + 1 ;
      if (i >= page.len) { last.len = 0 ; if (!stralloc_catb(&last, a, n) || !stralloc_0(&last)) goto end ; }
    }
  }
 end:
  { int e = errno ; stralloc_free(&last) ; stralloc_free(&page) ; errno = e ; }
  return r ;
}

int listset_each (char const *set, int (*f) (char const *addr, void *ctx), void *ctx)
{
  int r = listset_sql() ;
  if (r <= 0) return r < 0 ? -1 : addrset_each(set, f, ctx) ;
  return pages(set, f, ctx) ;
}

static int cat_one (char const *addr, void *ctx)
{
  stralloc *sa = ctx ;
  return stralloc_catb(sa, "T", 1) && stralloc_cats(sa, addr) && stralloc_0(sa) ;
}

int listset_cat (char const *set, stralloc *sa)
{
  int r = listset_sql() ;
  if (r <= 0) return r < 0 ? 0 : addrset_cat(set, sa) ;
  r = pages(set, &cat_one, sa) ;
  if (!r) errno = ENOMEM ;
  return r > 0 ;
}

int listset_init (char const *sock)
{
  userdb d = USERDB_ZERO ;
  int r ;
  if (!usersql_open(&d, sock)) return 0 ;
  why.len = 0 ;
  r = usersql_request(&d, "SI", 2, &ans) ;
  if (r < 0) { int e = errno ; stralloc_cats(&why, "userdb-mysqld does not answer") ; stralloc_0(&why) ; errno = e ; }
  else if (ans.s[0] != '1')
  {
    stralloc_cats(&why, ans.s[0] && ans.s[1] == '\t' ? ans.s + 2 : ans.s) ; stralloc_0(&why) ;
    errno = ans.s[0] == '0' ? EACCES : EIO ;
    r = -1 ;
  }
  userdb_close(&d) ;
  return r > 0 ;
}
