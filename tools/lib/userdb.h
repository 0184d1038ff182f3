/* userdb: look up virtual mail users and domains through a backend (cdb now; one more is one
   more file and one line in userdb.c's table, and no caller changes). The database is named
   by control/userdb ("cdb" or "cdb:/path"), by default the cdb users/cdb that mail-user(8)
   compiles; mail-users(5) describes it. */
#ifndef SLUICE_USERDB_H
#define SLUICE_USERDB_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <skalibs/stralloc.h>

#define USERDB_LOCALMAX 64
#define USERDB_DOMAINMAX 253

#define USERDB_DISABLED 1       /* logins refused; mail still delivered */
#define USERDB_KEEP 2           /* forwarded, and a copy kept in the Maildir */
#define USERDB_ALIAS 4          /* no mailbox, no login: forward only */

typedef struct userdb_user_s userdb_user ;
struct userdb_user_s
{
  stralloc sa ;                 /* storage for the strings below */
  char const *local ;           /* lowercase local part */
  char const *domain ;          /* the real domain (an alias domain resolved) */
  char const *home ;            /* "" for an alias */
  char const *hash ;            /* crypt(3) hash; "" for an alias */
  char const *forward ;         /* comma-separated addresses, or "" */
  uid_t uid ;
  gid_t gid ;
  uint64_t quota ;              /* bytes; 0 for none */
  unsigned int flags ;          /* USERDB_* */
} ;
#define USERDB_USER_ZERO { .sa = STRALLOC_ZERO, .local = 0, .domain = 0, .home = 0, .hash = 0, .forward = 0, .uid = 0, .gid = 0, .quota = 0, .flags = 0 }

typedef struct userdb_domain_s userdb_domain ;
struct userdb_domain_s
{
  stralloc sa ;
  char const *name ;            /* the real domain */
  char const *dir ;
  char const *catchall ;        /* comma-separated addresses that get the mail of unknown
                                   local parts, or "" for none */
  uid_t uid ;
  gid_t gid ;
} ;
#define USERDB_DOMAIN_ZERO { .sa = STRALLOC_ZERO, .name = 0, .dir = 0, .catchall = 0, .uid = 0, .gid = 0 }

typedef struct userdb_s userdb ;
typedef struct userdb_backend_s userdb_backend ;
struct userdb_backend_s
{
  char const *name ;
  int (*open) (userdb *, char const *arg) ;     /* 1, or 0 with errno */
  int (*domain) (userdb *, char const *domain, userdb_domain *) ;   /* 1 found, 0 not, -1 errno */
  int (*user) (userdb *, char const *local, char const *domain, userdb_user *) ;   /* same */
  int (*dummy) (userdb *, stralloc *hash) ;     /* 1 (hash 0-terminated), 0 none, -1 errno */
  void (*close) (userdb *) ;
} ;
struct userdb_s
{
  userdb_backend const *be ;
  void *p ;                     /* the backend's state */
} ;
#define USERDB_ZERO { .be = 0, .p = 0 }

/* Open the database named by spec ("cdb:/path", "cdb"), or by control/userdb when spec is 0.
   1, or 0 with errno (EINVAL: unknown backend). */
extern int userdb_open (userdb *db, char const *spec) ;

/* The domain (alias domains resolved) in d. 1 found, 0 unknown, -1 error (errno). */
extern int userdb_lookup_domain (userdb *db, char const *domain, userdb_domain *d) ;

/* The user local@domain (lowercase, already valid; alias domains resolved) in u.
   1 found, 0 unknown, -1 error (errno). */
extern int userdb_lookup_user (userdb *db, char const *local, char const *domain, userdb_user *u) ;

/* The user of local@domain (lowercase local, real or alias domain): local itself, else the
   longest prefix of local that ends just before a '-'. *extat: the index in local where the
   extension starts (just after that '-'), or -1 when local itself is the user. 1 found (u
   filled), 0 none, -1 error (errno). */
extern int userdb_lookup_recipient (userdb *db, char const *local, char const *domain, userdb_user *u, long *extat) ;

/* What local@domain is to the database, by the rules smtpd refuses recipients by and the
   queue routes them by: local and domain in any case (compared in lowercase), the domain
   real or an alias. In order:
     USERDB_RCPT_NODOMAIN    the domain is not in the database (nothing else filled);
     USERDB_RCPT_USER        a user or an alias, by userdb_lookup_recipient (u, *extat);
     USERDB_RCPT_POSTMASTER  postmaster, not a user: always a recipient (RFC 5321 4.5.1);
     USERDB_RCPT_CATCHALL    no such user, and the domain has a catch-all (d->catchall);
     USERDB_RCPT_UNKNOWN     no such user, no catch-all: not a recipient (550 5.1.1).
   d (the real domain, its catch-all) is filled whenever the domain is found. -1: error
   (errno): the database cannot be read, and nothing can be said. */
#define USERDB_RCPT_NODOMAIN 0
#define USERDB_RCPT_USER 1
#define USERDB_RCPT_POSTMASTER 2
#define USERDB_RCPT_CATCHALL 3
#define USERDB_RCPT_UNKNOWN 4
extern int userdb_recipient (userdb *db, char const *local, char const *domain, userdb_domain *d, userdb_user *u, long *extat) ;

/* A hash made with the settings of new passwords, to check against when the user is unknown,
   so that unknown users take as long as wrong passwords. Always 0-terminated in sa; a built-in
   hash when the database has none. 1, or -1 (errno). */
extern int userdb_dummy (userdb *db, stralloc *sa) ;

extern void userdb_close (userdb *db) ;
extern void userdb_user_free (userdb_user *u) ;
extern void userdb_domain_free (userdb_domain *d) ;

/* Syntax: 1 when s[0..len) is a valid lowercase local part (a-z 0-9 . _ - +, no leading,
   trailing or double dot, at most USERDB_LOCALMAX bytes), or domain (labels of a-z 0-9 -, at
   least two, not all-digit last label, at most USERDB_DOMAINMAX bytes); 0 otherwise. */
extern int userdb_local_valid (char const *s, size_t len) ;
extern int userdb_domain_valid (char const *s, size_t len) ;

/* Split a login (user@domain, user%domain, or user with dflt as domain; 0 for none) into
   lowercase 0-terminated local and domain. 1 when both are valid, 0 otherwise (or -1 with
   errno on allocation failure). */
extern int userdb_split (char const *login, char const *dflt, stralloc *local, stralloc *domain) ;

/* The cdb backend's records (mail-users(5)), all values fields ending in \0:
   "%format" -> "1";  "%dummy" -> a hash (see userdb_dummy);
   "D" domain -> uid gid dir [catchall] (old records have 3 fields: no catch-all; the 4th
        is written only when the domain has one), or "=" real-domain for an alias domain;
   "U" local "@" domain -> uid gid home hash flags quota forward
   (flags: comma-separated words "disabled", "keep", "alias"; quota: decimal bytes or ""). */
#define USERDB_CDB_FORMAT "1"

/* The backends, for userdb.c's table. */
extern userdb_backend const userdb_cdb_backend ;

#endif
