/* route: where the mail of a recipient goes. queue-run asks only which domains are ours
   (route_domain); queue-spawn asks who receives a local address (route_local, in
   routelocal.c, which needs the system's user database and so a dynamic program).
     - a domain of control/locals (default: control/me): a system user, as qmail-getpw finds
       one: the local part, else its longest prefix ending before a '-' (user-ext), never
       uid 0, home owned by the user; else the user "alias" with the whole local part as
       extension (~alias/.qmail-LOCAL, .qmail-default);
     - a domain of the users database (mail-users(5)): the user, else the longest prefix
       ending before a '-'; postmaster without a user of that name goes to postmaster of
       control/me; other unknown addresses go to the domain's catch-all or bounce;
     - anything else is remote. */
#ifndef SLUICE_ROUTE_H
#define SLUICE_ROUTE_H
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <skalibs/stralloc.h>
#include "userdb.h"

#define ROUTE_REMOTE 0
#define ROUTE_SYSTEM 1          /* control/locals */
#define ROUTE_VIRTUAL 2         /* the users database */

typedef struct route_ctx_s route_ctx ;
struct route_ctx_s
{
  stralloc me ;                 /* control/me, 0-terminated */
  stralloc locals ;             /* control/locals, each 0-terminated, lowercase */
  stralloc dflt ;               /* control/defaultdelivery, 0-terminated */
  userdb db ;
  int dbopen ;                  /* 1: db is open */
  stralloc dbfile ;             /* the cdb file behind db, watched for changes; "" if none */
  struct stat dbst ;
} ;
#define ROUTE_CTX_ZERO { .me = STRALLOC_ZERO, .locals = STRALLOC_ZERO, .dflt = STRALLOC_ZERO, .db = USERDB_ZERO, .dbopen = 0, .dbfile = STRALLOC_ZERO }

/* Read the control files (again, for SIGHUP): 1, or 0 with errno (*what names the file). */
extern int route_init (route_ctx *c, char const **what) ;

/* The kind of domain (lowercase, 0-terminated): ROUTE_*, or -1 when the users database
   cannot be read (errno): a temporary failure. The database is reopened when its file has
   been replaced (a stat each time). */
extern int route_domain (route_ctx *c, char const *domain) ;

/* The domain of rcpt, lowercase, 0-terminated, into sa (control/me when rcpt has no '@'). */
extern int route_rcptdomain (route_ctx const *c, char const *rcpt, stralloc *sa) ;

/* the users database, open and fresh: 1, or 0 (errno) */
extern int route_db (route_ctx *c) ;

typedef struct route_s route ;
struct route_s
{
  stralloc sa ;                 /* storage for the strings below */
  uid_t uid ;
  gid_t gid ;
  int system ;                  /* 1: a system user (supplementary groups from the system) */
  char const *user ;            /* USER: the account */
  char const *home ;
  char const *local ;           /* LOCAL: the local part as addressed, lowercase */
  char const *dash ;            /* "-" or "" */
  char const *ext ;
  char const *host ;            /* HOST: the domain as addressed, lowercase */
  char const *dflt ;            /* the default delivery lines */
  int nodotqmail ;              /* an alias or a catch-all: dflt only */
  int extfallback ;             /* an extension without its .qmail goes to the user */
  int quota_set ;
  uint64_t quota ;              /* bytes */
  char const *why ;             /* when not routed: why, with a DSN status code */
} ;
#define ROUTE_ZERO { .sa = STRALLOC_ZERO, .uid = 0, .gid = 0, .system = 0, .user = 0, .home = 0, .local = 0, .dash = "", .ext = "", .host = 0, .dflt = 0, .nodotqmail = 0, .extfallback = 0, .quota_set = 0, .quota = 0, .why = 0 }

/* Who receives rcpt, a local address. 1 routed (r filled); 0 no such address (r->why: a
   permanent failure); -1 a temporary failure (r->why, errno). */
extern int route_local (route_ctx *c, char const *rcpt, route *r) ;

#endif
