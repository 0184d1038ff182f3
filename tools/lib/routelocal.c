/* route_local: the part of route that reads the system's user database (getpwnam, NSS):
   only queue-spawn, a dynamic program, links it. */
#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include "route.h"
#include "userdb.h"

#define PWNAMEMAX 32

/* offsets into r->sa while it grows; turned into pointers at the end */
typedef struct offs_s { size_t user, home, local, ext, host, dflt ; } offs ;

static int put (stralloc *sa, size_t *off, char const *s, size_t len)
{
  *off = sa->len ;
  return stralloc_catb(sa, s, len) && stralloc_0(sa) ;
}

static int puts0 (stralloc *sa, size_t *off, char const *s) { return put(sa, off, s, strlen(s)) ; }

static void finish (route *r, offs const *o)
{
  r->user = r->sa.s + o->user ; r->home = r->sa.s + o->home ; r->local = r->sa.s + o->local ;
  r->ext = r->sa.s + o->ext ; r->host = r->sa.s + o->host ; r->dflt = r->sa.s + o->dflt ;
}

static int tempfail (route *r, char const *why) { r->why = why ; return -1 ; }

/* the "&addr\n" lines of a comma-separated forward list, appended to sa */
static int forward_lines (stralloc *sa, char const *list)
{
  while (*list)
  {
    size_t n = strcspn(list, ",") ;
    if (n && (!stralloc_catb(sa, "&", 1) || !stralloc_catb(sa, list, n) || !stralloc_catb(sa, "\n", 1))) return 0 ;
    list += n ;
    if (*list) list++ ;
  }
  return 1 ;
}

/* a system user that may receive mail: 1 (pw), 0 none, -1 temporary */
static int pw_find (char const *name, struct passwd **pw)
{
  struct stat st ;
  errno = 0 ;
  *pw = getpwnam(name) ;
  if (!*pw)
    return errno && errno != ENOENT && errno != ESRCH && errno != EBADF && errno != EPERM ? -1 : 0 ;
  if (!(*pw)->pw_uid) return 0 ;   /* never root */
  if (stat((*pw)->pw_dir, &st) < 0) return errno == ENOENT || errno == ENOTDIR || errno == EACCES ? 0 : -1 ;
  return st.st_uid == (*pw)->pw_uid ;
}

static int route_system (route_ctx *c, char const *local, char const *host, route *r)
{
  size_t len = strlen(local) ;
  struct passwd *pw = 0 ;
  offs o ;
  size_t cut = len ;
  int found = 0 ;
  /* the longest prefix of local that is a user, cut just before a '-' */
  for (;;)
  {
    if (cut <= PWNAMEMAX && (cut == len || local[cut] == '-') && cut)
    {
      char name[PWNAMEMAX + 1] ;
      int k ;
      memcpy(name, local, cut) ; name[cut] = 0 ;
      k = pw_find(name, &pw) ;
      if (k < 0) return tempfail(r, "unable to read the system's user database (#4.3.0)") ;
      if (k) { found = 1 ; break ; }
    }
    if (!cut) break ;
    cut-- ;
  }
  r->sa.len = 0 ;
  if (found)
  {
    r->dash = cut < len ? "-" : "" ;
    if (!put(&r->sa, &o.ext, cut < len ? local + cut + 1 : "", cut < len ? len - cut - 1 : 0)) return tempfail(r, "out of memory") ;
  }
  else
  {
    /* nobody by that name: ~alias/.qmail-LOCAL, as qmail-lspawn does */
    int k = pw_find("alias", &pw) ;
    if (k < 0) return tempfail(r, "unable to read the system's user database (#4.3.0)") ;
    if (!k) { r->why = "no such user here (#5.1.1)" ; return 0 ; }
    r->dash = "-" ;
    if (!puts0(&r->sa, &o.ext, local)) return tempfail(r, "out of memory") ;
  }
  if (!puts0(&r->sa, &o.user, pw->pw_name) || !puts0(&r->sa, &o.home, pw->pw_dir) || !puts0(&r->sa, &o.local, local)
   || !puts0(&r->sa, &o.host, host) || !put(&r->sa, &o.dflt, c->dflt.s, c->dflt.len - 1)) return tempfail(r, "out of memory") ;
  r->uid = pw->pw_uid ; r->gid = pw->pw_gid ; r->system = 1 ;
  finish(r, &o) ;
  return 1 ;
}

static int route_virtual (route_ctx *c, char const *local, char const *host, route *r)
{
  userdb_domain d = USERDB_DOMAIN_ZERO ;
  userdb_user u = USERDB_USER_ZERO ;
  size_t len = strlen(local) ;
  long extat = -1 ;
  offs o ;
  int k, ret = -1 ;
  if (!route_db(c)) return tempfail(r, "unable to open the users database (#4.3.0)") ;
  k = userdb_recipient(&c->db, local, host, &d, &u, &extat) ;
  switch (k)
  {
    case -1 : r->why = "unable to read the users database (#4.3.0)" ; goto end ;
    case USERDB_RCPT_NODOMAIN : r->why = "the domain is no longer in the users database (#4.3.0)" ; goto end ;
    case USERDB_RCPT_UNKNOWN : r->why = "no mailbox here by that name (#5.1.1)" ; ret = 0 ; goto end ;
    case USERDB_RCPT_POSTMASTER :
      /* every domain has a postmaster: ours, when the domain has none of its own */
      userdb_domain_free(&d) ;
      userdb_user_free(&u) ;
      if (route_domain(c, c->me.s) != ROUTE_SYSTEM) { r->why = "no postmaster for this domain, and control/me is not a local domain (#5.1.1)" ; return 0 ; }
      return route_system(c, "postmaster", c->me.s, r) ;
    default : break ;
  }
  r->sa.len = 0 ;
  if (k == USERDB_RCPT_CATCHALL)
  {
    /* nobody by that name: the domain's catch-all gets it, from the domain's directory */
    r->dash = "" ;
    if (!puts0(&r->sa, &o.ext, "") || !puts0(&r->sa, &o.user, local) || !puts0(&r->sa, &o.local, local)
     || !puts0(&r->sa, &o.host, host) || !puts0(&r->sa, &o.home, d.dir)) goto nomem ;
    o.dflt = r->sa.len ;
    if (!forward_lines(&r->sa, d.catchall) || !stralloc_0(&r->sa)) goto nomem ;
    r->nodotqmail = 1 ;
    r->uid = d.uid ; r->gid = d.gid ;
  }
  else
  {
    r->dash = extat < 0 ? "" : "-" ;
    if (!put(&r->sa, &o.ext, extat < 0 ? "" : local + extat, extat < 0 ? 0 : len - (size_t)extat)
     || !puts0(&r->sa, &o.user, u.local) || !puts0(&r->sa, &o.local, local) || !puts0(&r->sa, &o.host, host)) goto nomem ;
    if (u.flags & USERDB_ALIAS)
    {
      /* an alias has no home: the forward alone, from the domain's directory */
      if (!puts0(&r->sa, &o.home, d.dir)) goto nomem ;
      o.dflt = r->sa.len ;
      if (!forward_lines(&r->sa, u.forward) || !stralloc_0(&r->sa)) goto nomem ;
      r->nodotqmail = 1 ;
    }
    else
    {
      if (!puts0(&r->sa, &o.home, u.home)) goto nomem ;
      o.dflt = r->sa.len ;
      if (*u.forward)
      {
        if (!forward_lines(&r->sa, u.forward)) goto nomem ;
        if ((u.flags & USERDB_KEEP) && !stralloc_cats(&r->sa, "./Maildir/\n")) goto nomem ;
      }
      else if (!stralloc_cats(&r->sa, "./Maildir/\n")) goto nomem ;
      if (!stralloc_0(&r->sa)) goto nomem ;
      r->extfallback = 1 ;
      r->quota_set = !!u.quota ;
      r->quota = u.quota ;
    }
    r->uid = u.uid ; r->gid = u.gid ;
  }
  r->system = 0 ;
  finish(r, &o) ;
  ret = 1 ;
  goto end ;
 nomem:
  r->why = "out of memory" ;
  ret = -1 ;
 end:
  userdb_domain_free(&d) ;
  userdb_user_free(&u) ;
  return ret ;
}

int route_local (route_ctx *c, char const *rcpt, route *r)
{
  stralloc host = STRALLOC_ZERO ;
  char const *at = strrchr(rcpt, '@') ;
  size_t n = at ? (size_t)(at - rcpt) : strlen(rcpt) ;
  char local[n + 1] ;
  int kind, ret ;
  r->why = 0 ; r->nodotqmail = 0 ; r->extfallback = 0 ; r->quota_set = 0 ; r->quota = 0 ;
  for (size_t i = 0 ; i < n ; i++) local[i] = rcpt[i] >= 'A' && rcpt[i] <= 'Z' ? rcpt[i] + 32 : rcpt[i] ;
  local[n] = 0 ;
  if (!n || strchr(local, '/')) { r->why = "no such user here (#5.1.1)" ; return 0 ; }
  if (!route_rcptdomain(c, rcpt, &host)) return tempfail(r, "out of memory") ;
  kind = route_domain(c, host.s) ;
  if (kind < 0) ret = tempfail(r, "unable to read the users database (#4.3.0)") ;
  else if (kind == ROUTE_SYSTEM) ret = route_system(c, local, host.s, r) ;
  else if (kind == ROUTE_VIRTUAL) ret = route_virtual(c, local, host.s, r) ;
  else ret = tempfail(r, "not a local domain (#4.3.0)") ;
  stralloc_free(&host) ;
  return ret ;
}
