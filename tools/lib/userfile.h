/* userfile: the text database under $SLUICEDIR/users/ (mail-users(5)): users/domains, one file
   of users per domain, read into memory, changed there, then committed under users/lock with
   the cdb compiled from it (users/cdb), so that readers see the old state or the new. */
#ifndef SLUICE_USERFILE_H
#define SLUICE_USERFILE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <skalibs/stralloc.h>
#include "passwd.h"

/* A line of users/domains: "domain:uid:gid:dir[:catchall]", or "domain:=realdomain" (alias
   set). */
typedef struct userfile_dom_s userfile_dom ;
struct userfile_dom_s
{
  char const *name ;
  char const *alias ;           /* the real domain of an alias domain, else 0 */
  uid_t uid ;
  gid_t gid ;
  char const *dir ;
  char const *catchall ;        /* comma-separated addresses, or "" (or 0) for none */
} ;

/* A line of users/DOMAIN: "local:hash:flags:quota:forward". */
typedef struct userfile_user_s userfile_user ;
struct userfile_user_s
{
  char const *local ;
  char const *hash ;            /* "" for an alias (no mailbox, no login) */
  unsigned int flags ;          /* USERDB_DISABLED, USERDB_KEEP (USERDB_ALIAS when hash is "") */
  uint64_t quota ;              /* 0: none */
  char const *forward ;         /* comma-separated addresses, or "" */
} ;

/* Parse line s (no newline) in place (':' become \0). 1, or 0 with *why (a static message). */
extern int userfile_parse_domain (char *s, userfile_dom *d, char const **why) ;
extern int userfile_parse_user (char *s, userfile_user *u, char const **why) ;

/* Append the line (with its \n) that userfile_parse_* reads back as d or u. 1 or 0 (memory). */
extern int userfile_format_domain (stralloc *sa, userfile_dom const *d) ;
extern int userfile_format_user (stralloc *sa, userfile_user const *u) ;

/* 1 when s is a valid comma-separated list of forward addresses (local@domain). */
extern int userfile_forward_valid (char const *s) ;

/* The next line of text from *pos: start, length (without \n and a trailing \r), and *pos
   moved past it. 1, or 0 at the end. Empty lines and # comments are returned too. */
extern int userfile_line (stralloc const *text, size_t *pos, size_t *start, size_t *len) ;

typedef struct userfile_text_s userfile_text ;
struct userfile_text_s
{
  stralloc name ;               /* "domains" or a domain, 0-terminated */
  stralloc text ;
  int state ;                   /* 0 as read, 1 to write, 2 to remove */
} ;

typedef struct userfile_s userfile ;
struct userfile_s
{
  stralloc dir ;                /* $SLUICEDIR/users, 0-terminated */
  userfile_text *files ;        /* files[0] is users/domains */
  size_t n ;
  int lockfd ;
} ;
#define USERFILE_ZERO { .dir = STRALLOC_ZERO, .files = 0, .n = 0, .lockfd = -1 }

/* Read users/domains and the users file of every domain it lists (a missing file is empty).
   With lock, create users/ if needed and hold users/lock first (released by userfile_free).
   1, or 0 with errno (what failed in err). */
extern int userfile_open (userfile *u, int lock, stralloc *err) ;

/* The loaded file called name ("domains" or a domain), or 0. */
extern userfile_text *userfile_get (userfile *u, char const *name) ;

/* A new empty file called name, to be written (or the loaded one, emptied). 0: memory. */
extern userfile_text *userfile_new (userfile *u, char const *name) ;

/* The line of t about key (a domain in users/domains, a local part in a users file) that
   parses, copied into tmp and parsed into *d or *u; its bytes [*start, *end) in t->text (with
   the \n). 1 found, 0 not, -1 memory. */
extern int userfile_find_domain (userfile_text const *t, char const *key, userfile_dom *d, stralloc *tmp, size_t *start, size_t *end) ;
extern int userfile_find_user (userfile_text const *t, char const *key, userfile_user *u, stralloc *tmp, size_t *start, size_t *end) ;

/* Replace t->text[start..end) by s[0..len) and mark t to be written. 1 or 0 (memory). */
extern int userfile_replace (userfile_text *t, size_t start, size_t end, char const *s, size_t len) ;

/* Append s[0..len) (whole lines) to t->text, after a \n if its last line lacks one; mark t
   to be written. 1 or 0 (memory). */
extern int userfile_append (userfile_text *t, char const *s, size_t len) ;

/* Compile the database in memory into a cdb on fd: every bad line is appended to err as
   "PATH line N: why\n". 1 written; 0 bad lines (count in *bad); -1 system error (errno). */
extern int userfile_compile (userfile *u, int fd, passwd_setting const *ps, stralloc *err, unsigned int *bad) ;

/* Compile into users/.cdb.tmp; when every line is good, write the changed files, remove the
   removed ones, and rename the cdb over users/cdb. 1 done; 0 bad lines (in err, nothing
   changed); -1 system error (errno, what failed in err). */
extern int userfile_commit (userfile *u, passwd_setting const *ps, stralloc *err, unsigned int *bad) ;

/* Free the memory and release the lock. */
extern void userfile_free (userfile *u) ;

#endif
