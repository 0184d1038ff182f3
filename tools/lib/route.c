#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include "control.h"
#include "route.h"
#include "userdb.h"

static void lower (char *s) { for (; *s ; s++) if (*s >= 'A' && *s <= 'Z') *s += 32 ; }

int route_init (route_ctx *c, char const **what)
{
  stralloc sa = STRALLOC_ZERO ;
  int r ;
  *what = "control/me" ;
  r = control_readline(&c->me, "me", 0) ;
  if (r < 0) return 0 ;
  if (!r || !c->me.s[0]) { errno = ENOENT ; return 0 ; }
  lower(c->me.s) ;
  *what = "control/locals" ;
  if (control_readlines(&c->locals, "locals") < 0) return 0 ;
  if (!c->locals.len && !stralloc_copyb(&c->locals, c->me.s, c->me.len)) return 0 ;
  for (size_t i = 0 ; i < c->locals.len ; i += strlen(c->locals.s + i) + 1) lower(c->locals.s + i) ;
  *what = "control/defaultdelivery" ;
  if (control_readlines(&sa, "defaultdelivery") < 0) return 0 ;
  c->dflt.len = 0 ;
  for (size_t i = 0 ; i < sa.len ; i += strlen(sa.s + i) + 1)
    if (!stralloc_cats(&c->dflt, sa.s + i) || !stralloc_catb(&c->dflt, "\n", 1)) { stralloc_free(&sa) ; return 0 ; }
  stralloc_free(&sa) ;
  if (!c->dflt.len && !stralloc_cats(&c->dflt, "./Maildir/\n")) return 0 ;
  if (!stralloc_0(&c->dflt)) return 0 ;
  /* the file behind the users database, when it is a cdb: watched for replacement */
  *what = "control/userdb" ;
  if (control_readline(&sa, "userdb", "cdb") < 0) { stralloc_free(&sa) ; return 0 ; }
  c->dbfile.len = 0 ;
  if (!strcmp(sa.s, "cdb") || !sa.s[0])
  {
    if (!stralloc_cats(&c->dbfile, control_root()) || !stralloc_cats(&c->dbfile, "/users/cdb")) { stralloc_free(&sa) ; return 0 ; }
  }
  else if (!strncmp(sa.s, "cdb:", 4) && !stralloc_cats(&c->dbfile, sa.s + 4)) { stralloc_free(&sa) ; return 0 ; }
  stralloc_free(&sa) ;
  if (!stralloc_0(&c->dbfile)) return 0 ;
  c->dbfile.len-- ;
  /* a new configuration: the database is opened again when next needed */
  if (c->dbopen) { userdb_close(&c->db) ; c->dbopen = 0 ; }
  return 1 ;
}

static int same (struct stat const *a, struct stat const *b)
{
  return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size
    && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec ;
}

int route_db (route_ctx *c)
{
  /* one stat each time: a user added a moment ago must not be bounced as unknown */
  if (c->dbopen && c->dbfile.len)
  {
    struct stat st ;
    if (stat(c->dbfile.s, &st) < 0 || !same(&st, &c->dbst)) { userdb_close(&c->db) ; c->dbopen = 0 ; }
  }
  if (c->dbopen) return 1 ;
  if (c->dbfile.len && stat(c->dbfile.s, &c->dbst) < 0) return 0 ;
  if (!userdb_open(&c->db, 0)) return 0 ;
  c->dbopen = 1 ;
  return 1 ;
}

int route_rcptdomain (route_ctx const *c, char const *rcpt, stralloc *sa)
{
  char const *at = strrchr(rcpt, '@') ;
  sa->len = 0 ;
  if (!(at ? stralloc_cats(sa, at + 1) : stralloc_catb(sa, c->me.s, c->me.len - 1)) || !stralloc_0(sa)) return 0 ;
  lower(sa->s) ;
  sa->len-- ;
  return 1 ;
}

int route_domain (route_ctx *c, char const *domain)
{
  userdb_domain d = USERDB_DOMAIN_ZERO ;
  int r ;
  for (size_t i = 0 ; i < c->locals.len ; i += strlen(c->locals.s + i) + 1)
    if (!strcmp(c->locals.s + i, domain)) return ROUTE_SYSTEM ;
  if (!userdb_domain_valid(domain, strlen(domain))) return ROUTE_REMOTE ;
  if (!route_db(c)) return errno == ENOENT ? ROUTE_REMOTE : -1 ;   /* no database: no virtual domain */
  r = userdb_lookup_domain(&c->db, domain, &d) ;
  userdb_domain_free(&d) ;
  if (r < 0) return -1 ;
  return r ? ROUTE_VIRTUAL : ROUTE_REMOTE ;
}
