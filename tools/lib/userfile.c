#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <cdb.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "atomic.h"
#include "control.h"
#include "passwd.h"
#include "userdb.h"
#include "userfile.h"

/* s split at ':' into f[0..); returns the number of fields, max + 1 when there are more */
static unsigned int split (char *s, char **f, unsigned int max)
{
  unsigned int n = 0 ;
  f[n++] = s ;
  for (; *s ; s++)
    if (*s == ':')
    {
      *s = 0 ;
      if (n == max) return max + 1 ;
      f[n++] = s + 1 ;
    }
  return n ;
}

static int id_scan (char const *s, unsigned long *u)
{
  size_t n = ulong_scan(s, u) ;
  return n && !s[n] && (s[0] != '0' || n == 1) && *u < 0xffffffffUL ;
}

int userfile_parse_domain (char *s, userfile_dom *d, char const **why)
{
  char *f[5] ;
  unsigned int n = split(s, f, 5) ;
  unsigned long uid, gid ;
  if (!userdb_domain_valid(f[0], strlen(f[0])))
  {
    *why = "bad domain name (lowercase letters, digits, - and dots, at least two labels)" ;
    return 0 ;
  }
  d->name = f[0] ;
  if (n == 2 && f[1][0] == '=')
  {
    if (!userdb_domain_valid(f[1] + 1, strlen(f[1] + 1))) { *why = "bad real domain name after =" ; return 0 ; }
    if (!strcmp(f[1] + 1, f[0])) { *why = "a domain cannot be an alias of itself" ; return 0 ; }
    d->alias = f[1] + 1 ; d->uid = 0 ; d->gid = 0 ; d->dir = 0 ; d->catchall = "" ;
    return 1 ;
  }
  if (n != 4 && n != 5) { *why = "expected domain:uid:gid:directory[:catchall] or alias:=domain" ; return 0 ; }
  if (!id_scan(f[1], &uid) || !id_scan(f[2], &gid)) { *why = "uid and gid must be decimal numbers" ; return 0 ; }
  if (!uid || !gid) { *why = "uid and gid 0 are refused: virtual mail is not owned by root" ; return 0 ; }
  if (f[3][0] != '/') { *why = "the directory must be an absolute path" ; return 0 ; }
  {
    char const *p = f[3] ;
    for (; *p ; p++) if ((unsigned char)*p < 0x20 || *p == 0x7f) { *why = "control character in the directory" ; return 0 ; }
    if (strstr(f[3], "/../") || (p - f[3] >= 3 && !strcmp(p - 3, "/.."))) { *why = "the directory must not contain .." ; return 0 ; }
  }
  d->catchall = n == 5 ? f[4] : "" ;
  if (d->catchall[0] && !userfile_forward_valid(d->catchall))
  {
    *why = "bad catch-all (comma-separated user@domain addresses)" ;
    return 0 ;
  }
  d->alias = 0 ; d->uid = uid ; d->gid = gid ; d->dir = f[3] ;
  return 1 ;
}

static int forward_addr_valid (char const *s, size_t len)
{
  char const *at = 0 ;
  size_t i ;
  for (i = 0 ; i < len ; i++) if (s[i] == '@') at = s + i ;
  if (!at || at == s || (size_t)(at - s) > USERDB_LOCALMAX) return 0 ;
  for (i = 0 ; s + i < at ; i++)
    if (s[i] <= ' ' || s[i] > '~' || strchr(":,<>\"\\()[];", s[i])) return 0 ;
  {
    size_t dl = len - (at + 1 - s) ;
    char dom[dl + 1] ;
    for (i = 0 ; i < dl ; i++) dom[i] = at[1+i] >= 'A' && at[1+i] <= 'Z' ? at[1+i] + 32 : at[1+i] ;
    return userdb_domain_valid(dom, dl) ;
  }
}

int userfile_forward_valid (char const *s)
{
  if (!*s) return 0 ;
  for (;;)
  {
    size_t n = strcspn(s, ",") ;
    if (!forward_addr_valid(s, n)) return 0 ;
    if (!s[n]) return 1 ;
    s += n + 1 ;
  }
}

int userfile_parse_user (char *s, userfile_user *u, char const **why)
{
  char *f[5] ;
  unsigned int n = split(s, f, 5) ;
  if (n != 5) { *why = "expected user:hash:flags:quota:forward" ; return 0 ; }
  if (!userdb_local_valid(f[0], strlen(f[0])))
  {
    *why = "bad user name (lowercase letters, digits, . _ - +, at most 64)" ;
    return 0 ;
  }
  u->local = f[0] ;
  /* legacy methods too: mail-user import -V keeps vpopmail's MD5-crypt hashes */
  if (f[1][0] && !passwd_hash_ok_legacy(f[1], why)) return 0 ;
  u->hash = f[1] ;
  u->flags = f[1][0] ? 0 : USERDB_ALIAS ;
  {
    char const *p = f[2] ;
    while (*p)
    {
      size_t k = strcspn(p, ",") ;
      if (k == 8 && !memcmp(p, "disabled", 8)) u->flags |= USERDB_DISABLED ;
      else if (k == 4 && !memcmp(p, "keep", 4)) u->flags |= USERDB_KEEP ;
      else { *why = "unknown flag (disabled, keep)" ; return 0 ; }
      p += k ;
      if (*p && !*++p) { *why = "empty flag" ; return 0 ; }
    }
  }
  u->quota = 0 ;
  if (f[3][0])
  {
    size_t k = uint64_scan(f[3], &u->quota) ;
    if (!k || f[3][k]) { *why = "the quota must be a number of bytes (or empty)" ; return 0 ; }
  }
  if (f[4][0] && !userfile_forward_valid(f[4]))
  {
    *why = "bad forward (comma-separated user@domain addresses)" ;
    return 0 ;
  }
  u->forward = f[4] ;
  if (u->flags & USERDB_ALIAS)
  {
    if (!f[4][0]) { *why = "no password hash and no forward: neither a mailbox nor an alias" ; return 0 ; }
    if (u->flags & (USERDB_DISABLED | USERDB_KEEP) || u->quota)
    {
      *why = "an alias (no password hash) has no mailbox: no flags, no quota" ;
      return 0 ;
    }
  }
  if (u->flags & USERDB_KEEP && !f[4][0]) { *why = "keep without a forward" ; return 0 ; }
  return 1 ;
}

int userfile_format_domain (stralloc *sa, userfile_dom const *d)
{
  char fmt[UINT_FMT] ;
  if (!stralloc_cats(sa, d->name) || !stralloc_catb(sa, ":", 1)) return 0 ;
  if (d->alias) return stralloc_catb(sa, "=", 1) && stralloc_cats(sa, d->alias) && stralloc_catb(sa, "\n", 1) ;
  return stralloc_catb(sa, fmt, uint_fmt(fmt, d->uid)) && stralloc_catb(sa, ":", 1)
      && stralloc_catb(sa, fmt, uint_fmt(fmt, d->gid)) && stralloc_catb(sa, ":", 1)
      && stralloc_cats(sa, d->dir)
      && (!d->catchall || !d->catchall[0] || (stralloc_catb(sa, ":", 1) && stralloc_cats(sa, d->catchall)))
      && stralloc_catb(sa, "\n", 1) ;
}

static int flags_cat (stralloc *sa, unsigned int flags, int alias)
{
  int first = 1 ;
  if (flags & USERDB_DISABLED) { if (!stralloc_cats(sa, "disabled")) return 0 ; first = 0 ; }
  if (flags & USERDB_KEEP) { if (!stralloc_cats(sa, first ? "keep" : ",keep")) return 0 ; first = 0 ; }
  if (alias && flags & USERDB_ALIAS) { if (!stralloc_cats(sa, first ? "alias" : ",alias")) return 0 ; }
  return 1 ;
}

int userfile_format_user (stralloc *sa, userfile_user const *u)
{
  char fmt[UINT64_FMT] ;
  return stralloc_cats(sa, u->local) && stralloc_catb(sa, ":", 1)
      && stralloc_cats(sa, u->hash) && stralloc_catb(sa, ":", 1)
      && flags_cat(sa, u->flags, 0) && stralloc_catb(sa, ":", 1)
      && (!u->quota || stralloc_catb(sa, fmt, uint64_fmt(fmt, u->quota))) && stralloc_catb(sa, ":", 1)
      && stralloc_cats(sa, u->forward) && stralloc_catb(sa, "\n", 1) ;
}

int userfile_line (stralloc const *text, size_t *pos, size_t *start, size_t *len)
{
  size_t i = *pos, end ;
  char const *nl ;
  if (i >= text->len) return 0 ;
  nl = memchr(text->s + i, '\n', text->len - i) ;
  end = nl ? (size_t)(nl - text->s) : text->len ;
  *start = i ;
  *len = end - i ;
  if (*len && text->s[end - 1] == '\r') (*len)-- ;
  *pos = nl ? end + 1 : end ;
  return 1 ;
}

static int skipline (char const *s, size_t len)
{
  return !len || s[0] == '#' ;
}

/* files */

userfile_text *userfile_get (userfile *u, char const *name)
{
  size_t i = 0 ;
  for (; i < u->n ; i++) if (!strcmp(u->files[i].name.s, name)) return u->files + i ;
  return 0 ;
}

userfile_text *userfile_new (userfile *u, char const *name)
{
  userfile_text *t = userfile_get(u, name) ;
  if (!t)
  {
    userfile_text *nf = realloc(u->files, (u->n + 1) * sizeof *nf) ;
    if (!nf) return 0 ;
    u->files = nf ;
    t = u->files + u->n ;
    t->name = stralloc_zero ; t->text = stralloc_zero ;
    if (!stralloc_cats(&t->name, name) || !stralloc_0(&t->name)) { stralloc_free(&t->name) ; return 0 ; }
    u->n++ ;
  }
  t->text.len = 0 ;
  t->state = 1 ;
  return t ;
}

static int path_make (stralloc *sa, userfile const *u, char const *pre, char const *name, char const *suf)
{
  sa->len = 0 ;
  return stralloc_catb(sa, u->dir.s, u->dir.len - 1) && stralloc_catb(sa, "/", 1)
      && stralloc_cats(sa, pre) && stralloc_cats(sa, name) && stralloc_cats(sa, suf) && stralloc_0(sa) ;
}

/* read users/name into a new entry (a missing file is empty) */
static int load (userfile *u, char const *name, stralloc *err)
{
  stralloc path = STRALLOC_ZERO ;
  userfile_text *t ;
  if (userfile_get(u, name)) return 1 ;
  t = userfile_new(u, name) ;
  if (!t || !path_make(&path, u, "", name, "")) goto nomem ;
  t->state = 0 ;
  if (!openslurpclose(&t->text, path.s) && errno != ENOENT)
  {
    int e = errno ;
    err->len = 0 ;
    stralloc_cats(err, "read ") ; stralloc_cats(err, path.s) ; stralloc_0(err) ;
    stralloc_free(&path) ;
    errno = e ;
    return 0 ;
  }
  stralloc_free(&path) ;
  return 1 ;
 nomem:
  stralloc_free(&path) ;
  err->len = 0 ;
  stralloc_cats(err, "allocate memory") ; stralloc_0(err) ;
  return 0 ;
}

static int fail (stralloc *err, char const *what, char const *path)
{
  int e = errno ;
  err->len = 0 ;
  stralloc_cats(err, what) ;
  if (path) stralloc_cats(err, path) ;
  stralloc_0(err) ;
  errno = e ;
  return 0 ;
}

int userfile_open (userfile *u, int lock, stralloc *err)
{
  stralloc tmp = STRALLOC_ZERO ;
  size_t pos = 0, start, len ;
  char const *root = control_root() ;
  if (!stralloc_cats(&u->dir, root) || !stralloc_cats(&u->dir, "/users") || !stralloc_0(&u->dir))
    return fail(err, "allocate memory", 0) ;
  if (lock)
  {
    if (mkdir(u->dir.s, 0750) < 0 && errno != EEXIST) return fail(err, "create ", u->dir.s) ;
    if (!path_make(&tmp, u, "", "lock", "")) return fail(err, "allocate memory", 0) ;
    u->lockfd = open(tmp.s, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600) ;
    if (u->lockfd < 0) { fail(err, "open ", tmp.s) ; stralloc_free(&tmp) ; return 0 ; }
    while (flock(u->lockfd, LOCK_EX) < 0)
      if (errno != EINTR) { fail(err, "lock ", tmp.s) ; stralloc_free(&tmp) ; return 0 ; }
  }
  if (!load(u, "domains", err)) { stralloc_free(&tmp) ; return 0 ; }
  /* every listed real domain's file; lines that do not parse are reported by the compiler */
  while (userfile_line(&u->files[0].text, &pos, &start, &len))
  {
    char const *s = u->files[0].text.s + start ;
    char const *colon = memchr(s, ':', len) ;
    size_t n = colon ? (size_t)(colon - s) : 0 ;
    if (skipline(s, len) || !colon || !userdb_domain_valid(s, n) || (n + 1 < len && s[n+1] == '=')) continue ;
    tmp.len = 0 ;
    if (!stralloc_catb(&tmp, s, n) || !stralloc_0(&tmp)) { stralloc_free(&tmp) ; return fail(err, "allocate memory", 0) ; }
    if (!load(u, tmp.s, err)) { stralloc_free(&tmp) ; return 0 ; }
  }
  stralloc_free(&tmp) ;
  return 1 ;
}

static int find (userfile_text const *t, char const *key, void *out, int isdomain, stralloc *tmp, size_t *start, size_t *end)
{
  size_t pos = 0, s, len, klen = strlen(key) ;
  while (userfile_line(&t->text, &pos, &s, &len))
  {
    char const *line = t->text.s + s ;
    char const *why ;
    if (skipline(line, len) || len <= klen || line[klen] != ':' || memcmp(line, key, klen)) continue ;
    tmp->len = 0 ;
    if (!stralloc_catb(tmp, line, len) || !stralloc_0(tmp)) return -1 ;
    if (isdomain ? !userfile_parse_domain(tmp->s, out, &why) : !userfile_parse_user(tmp->s, out, &why)) continue ;
    *start = s ;
    *end = pos ;
    return 1 ;
  }
  return 0 ;
}

int userfile_find_domain (userfile_text const *t, char const *key, userfile_dom *d, stralloc *tmp, size_t *start, size_t *end)
{
  return find(t, key, d, 1, tmp, start, end) ;
}

int userfile_find_user (userfile_text const *t, char const *key, userfile_user *u, stralloc *tmp, size_t *start, size_t *end)
{
  return find(t, key, u, 0, tmp, start, end) ;
}

int userfile_replace (userfile_text *t, size_t start, size_t end, char const *s, size_t len)
{
  size_t tail = t->text.len - end ;
  if (len > end - start && !stralloc_readyplus(&t->text, len - (end - start))) return 0 ;
  if (tail) memmove(t->text.s + start + len, t->text.s + end, tail) ;
  if (len) memcpy(t->text.s + start, s, len) ;
  t->text.len = start + len + tail ;
  t->state = 1 ;
  return 1 ;
}

int userfile_append (userfile_text *t, char const *s, size_t len)
{
  if (t->text.len && t->text.s[t->text.len - 1] != '\n' && !stralloc_catb(&t->text, "\n", 1)) return 0 ;
  if (!stralloc_catb(&t->text, s, len)) return 0 ;
  t->state = 1 ;
  return 1 ;
}

/* compile */

static void bad_line (stralloc *err, unsigned int *bad, userfile const *u, char const *name, unsigned int line, char const *why, char const *what)
{
  char fmt[UINT_FMT] ;
  (*bad)++ ;
  if (*bad > 50) return ;
  stralloc_catb(err, u->dir.s, u->dir.len - 1) ;
  stralloc_catb(err, "/", 1) ;
  stralloc_cats(err, name) ;
  stralloc_cats(err, " line ") ;
  stralloc_catb(err, fmt, uint_fmt(fmt, line)) ;
  stralloc_cats(err, ": ") ;
  stralloc_cats(err, why) ;
  if (what) { stralloc_cats(err, ": ") ; stralloc_cats(err, what) ; }
  stralloc_catb(err, "\n", 1) ;
}

typedef struct dline_s
{
  char const *name ;
  char const *alias ;
  char const *dir ;
  unsigned long uid, gid ;
  unsigned int line ;
} dline ;

/* add key -> val; 1 added, 0 the key exists, -1 error */
static int put (struct cdb_make *cm, stralloc const *key, stralloc const *val)
{
  int r = cdb_make_put(cm, key->s, key->len, val->s, val->len, CDB_PUT_INSERT) ;
  if (r < 0) return -1 ;
  return !r ;
}

static int cat_ulong0 (stralloc *sa, uint64_t u)
{
  char fmt[UINT64_FMT] ;
  return stralloc_catb(sa, fmt, uint64_fmt(fmt, u)) && stralloc_0(sa) ;
}

static int compile_users (userfile *u, struct cdb_make *cm, dline const *d, stralloc *err, unsigned int *bad)
{
  userfile_text *t = userfile_get(u, d->name) ;
  stralloc copy = STRALLOC_ZERO, key = STRALLOC_ZERO, val = STRALLOC_ZERO ;
  size_t pos = 0, start, len ;
  unsigned int lineno = 0 ;
  int r = 0 ;
  if (!t || t->state == 2) return 1 ;
  if (!stralloc_copy(&copy, &t->text) || !stralloc_0(&copy)) goto end ;
  while (userfile_line(&t->text, &pos, &start, &len))
  {
    userfile_user e ;
    char const *why ;
    lineno++ ;
    if (skipline(t->text.s + start, len)) continue ;
    copy.s[start + len] = 0 ;
    if (!userfile_parse_user(copy.s + start, &e, &why)) { bad_line(err, bad, u, d->name, lineno, why, 0) ; continue ; }
    key.len = 0 ; val.len = 0 ;
    if (!stralloc_catb(&key, "U", 1) || !stralloc_cats(&key, e.local) || !stralloc_catb(&key, "@", 1)
     || !stralloc_cats(&key, d->name)) goto end ;
    if (!cat_ulong0(&val, d->uid) || !cat_ulong0(&val, d->gid)) goto end ;
    if (!(e.flags & USERDB_ALIAS)
     && (!stralloc_cats(&val, d->dir) || !stralloc_catb(&val, "/", 1) || !stralloc_cats(&val, e.local))) goto end ;
    if (!stralloc_0(&val) || !stralloc_cats(&val, e.hash) || !stralloc_0(&val)
     || !flags_cat(&val, e.flags, 1) || !stralloc_0(&val)) goto end ;
    if (e.quota ? !cat_ulong0(&val, e.quota) : !stralloc_0(&val)) goto end ;
    if (!stralloc_cats(&val, e.forward) || !stralloc_0(&val)) goto end ;
    switch (put(cm, &key, &val))
    {
      case -1 : goto end ;
      case 0 : bad_line(err, bad, u, d->name, lineno, "user listed twice", e.local) ;
    }
  }
  r = 1 ;
 end:
  stralloc_free(&copy) ; stralloc_free(&key) ; stralloc_free(&val) ;
  return r ;
}

int userfile_compile (userfile *u, int fd, passwd_setting const *ps, stralloc *err, unsigned int *bad)
{
  struct cdb_make cm ;
  stralloc copy = STRALLOC_ZERO, key = STRALLOC_ZERO, val = STRALLOC_ZERO ;
  dline *dl = 0 ;
  size_t ndl = 0, i, pos = 0, start, len ;
  unsigned int lineno = 0 ;
  int ok = 0, r ;
  userfile_text *dt = userfile_get(u, "domains") ;
  *bad = 0 ;
  if (!dt) { errno = EINVAL ; return -1 ; }
  if (cdb_make_start(&cm, fd) < 0) return -1 ;
  {
    char h[PASSWD_HASHMAX] ;
    if (!stralloc_cats(&key, "%format") || !stralloc_cats(&val, USERDB_CDB_FORMAT) || put(&cm, &key, &val) < 0) goto end ;
    if (!passwd_hash(h, "no such user", ps)) goto end ;
    key.len = 0 ; val.len = 0 ;
    if (!stralloc_cats(&key, "%dummy") || !stralloc_catb(&val, h, strlen(h) + 1) || put(&cm, &key, &val) < 0) goto end ;
  }

  /* users/domains: the real domains, then the aliases, which must name a real one */
  if (!stralloc_copy(&copy, &dt->text) || !stralloc_0(&copy)) goto end ;
  while (userfile_line(&dt->text, &pos, &start, &len))
  {
    userfile_dom d ;
    char const *why ;
    lineno++ ;
    if (skipline(dt->text.s + start, len)) continue ;
    copy.s[start + len] = 0 ;
    if (!userfile_parse_domain(copy.s + start, &d, &why)) { bad_line(err, bad, u, "domains", lineno, why, 0) ; continue ; }
    {
      dline *n = realloc(dl, (ndl + 1) * sizeof *dl) ;
      if (!n) goto end ;
      dl = n ;
      dl[ndl].name = d.name ; dl[ndl].alias = d.alias ; dl[ndl].dir = d.dir ;
      dl[ndl].uid = d.uid ; dl[ndl].gid = d.gid ; dl[ndl].line = lineno ;
    }
    key.len = 0 ; val.len = 0 ;
    if (!stralloc_catb(&key, "D", 1) || !stralloc_cats(&key, d.name)) goto end ;
    if (d.alias) { ndl++ ; continue ; }
    if (!cat_ulong0(&val, d.uid) || !cat_ulong0(&val, d.gid) || !stralloc_cats(&val, d.dir) || !stralloc_0(&val)) goto end ;
    /* the 4th field only when there is a catch-all: readers of 3 fields keep working */
    if (d.catchall[0] && (!stralloc_cats(&val, d.catchall) || !stralloc_0(&val))) goto end ;
    r = put(&cm, &key, &val) ;
    if (r < 0) goto end ;
    if (!r) { bad_line(err, bad, u, "domains", lineno, "domain listed twice", d.name) ; continue ; }
    ndl++ ;
  }
  for (i = 0 ; i < ndl ; i++)
  {
    size_t j ;
    if (!dl[i].alias) continue ;
    for (j = 0 ; j < ndl ; j++) if (!strcmp(dl[j].name, dl[i].alias)) break ;
    if (j == ndl) { bad_line(err, bad, u, "domains", dl[i].line, "alias of a domain that is not listed", dl[i].alias) ; continue ; }
    if (dl[j].alias) { bad_line(err, bad, u, "domains", dl[i].line, "alias of an alias domain", dl[i].alias) ; continue ; }
    key.len = 0 ; val.len = 0 ;
    if (!stralloc_catb(&key, "D", 1) || !stralloc_cats(&key, dl[i].name)
     || !stralloc_catb(&val, "=", 1) || !stralloc_cats(&val, dl[i].alias) || !stralloc_0(&val)) goto end ;
    r = put(&cm, &key, &val) ;
    if (r < 0) goto end ;
    if (!r) bad_line(err, bad, u, "domains", dl[i].line, "domain listed twice", dl[i].name) ;
  }

  for (i = 0 ; i < ndl ; i++)
    if (!dl[i].alias && !compile_users(u, &cm, dl + i, err, bad)) goto end ;
  ok = 1 ;
 end:
  {
    int e = errno ;
    /* finish even when the result is not wanted: it frees tinycdb's memory */
    if (cdb_make_finish(&cm) < 0 && ok) { e = errno ; ok = 0 ; }
    free(dl) ;
    stralloc_free(&copy) ; stralloc_free(&key) ; stralloc_free(&val) ;
    if (!ok) { err->len = 0 ; stralloc_cats(err, "compile the database") ; stralloc_0(err) ; errno = e ; return -1 ; }
  }
  return *bad ? 0 : 1 ;
}

/* a new file at tmp with the owner and mode of path when it exists (else root's, 0640) */
static int create_like (char const *tmp, char const *path)
{
  struct stat st ;
  int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600) ;   /* tinycdb reads back keys */
  if (fd < 0) return -1 ;
  if (stat(path, &st) == 0)
  {
    if (fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM) goto err ;
    if (fchmod(fd, st.st_mode & 07777) < 0) goto err ;
  }
  else if (errno != ENOENT || fchmod(fd, 0640) < 0) goto err ;
  return fd ;
 err:
  {
    int e = errno ;
    close(fd) ; unlink(tmp) ;
    errno = e ;
  }
  return -1 ;
}

static int write_text (userfile *u, userfile_text const *t, stralloc *err)
{
  stralloc tmp = STRALLOC_ZERO, path = STRALLOC_ZERO ;
  int fd ;
  if (!path_make(&tmp, u, ".", t->name.s, ".tmp") || !path_make(&path, u, "", t->name.s, "")) goto nomem ;
  fd = create_like(tmp.s, path.s) ;
  if (fd < 0) { fail(err, "create ", tmp.s) ; goto end ; }
  if (allwrite(fd, t->text.s, t->text.len) < t->text.len)
  {
    fail(err, "write ", tmp.s) ;
    { int e = errno ; close(fd) ; unlink(tmp.s) ; errno = e ; }
    goto end ;
  }
  if (!atomic_rename(fd, tmp.s, path.s)) { fail(err, "rename to ", path.s) ; goto end ; }
  stralloc_free(&tmp) ; stralloc_free(&path) ;
  return 1 ;
 nomem:
  fail(err, "allocate memory", 0) ;
 end:
  stralloc_free(&tmp) ; stralloc_free(&path) ;
  return 0 ;
}

int userfile_commit (userfile *u, passwd_setting const *ps, stralloc *err, unsigned int *bad)
{
  stralloc tmp = STRALLOC_ZERO, path = STRALLOC_ZERO ;
  size_t i ;
  int fd, r ;
  *bad = 0 ;
  if (!path_make(&tmp, u, ".", "cdb", ".tmp") || !path_make(&path, u, "", "cdb", ""))
  { fail(err, "allocate memory", 0) ; r = -1 ; goto end ; }
  fd = create_like(tmp.s, path.s) ;
  if (fd < 0) { fail(err, "create ", tmp.s) ; r = -1 ; goto end ; }
  err->len = 0 ;
  r = userfile_compile(u, fd, ps, err, bad) ;
  if (r <= 0)
  {
    int e = errno ;
    close(fd) ; unlink(tmp.s) ;
    errno = e ;
    goto end ;
  }
  r = -1 ;
  for (i = 0 ; i < u->n ; i++)
    if (u->files[i].state == 1 && !write_text(u, u->files + i, err))
    {
      int e = errno ;
      close(fd) ; unlink(tmp.s) ;
      errno = e ;
      goto end ;
    }
  for (i = 0 ; i < u->n ; i++)
  {
    stralloc p = STRALLOC_ZERO ;
    if (u->files[i].state != 2) continue ;
    if (!path_make(&p, u, "", u->files[i].name.s, "")) { fail(err, "allocate memory", 0) ; close(fd) ; unlink(tmp.s) ; goto end ; }
    if (unlink(p.s) < 0 && errno != ENOENT) { fail(err, "remove ", p.s) ; stralloc_free(&p) ; close(fd) ; unlink(tmp.s) ; goto end ; }
    stralloc_free(&p) ;
  }
  if (!atomic_rename(fd, tmp.s, path.s)) { fail(err, "rename to ", path.s) ; goto end ; }
  for (i = 0 ; i < u->n ; i++) if (u->files[i].state == 1) u->files[i].state = 0 ;
  r = 1 ;
 end:
  stralloc_free(&tmp) ; stralloc_free(&path) ;
  return r ;
}

void userfile_free (userfile *u)
{
  size_t i = 0 ;
  for (; i < u->n ; i++) { stralloc_free(&u->files[i].name) ; stralloc_free(&u->files[i].text) ; }
  free(u->files) ;
  u->files = 0 ; u->n = 0 ;
  stralloc_free(&u->dir) ;
  if (u->lockfd >= 0) close(u->lockfd) ;
  u->lockfd = -1 ;
}
