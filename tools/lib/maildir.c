/* maildir: see maildir.h. The order of operations is the point of this file:
   O_EXCL file in tmp/ -> write -> fsync -> close -> (quota) -> rename without replacing into
   new/ -> fsync new/. A crash or a kill at any moment leaves at worst a file in tmp/, never a
   partial one in new/; an error removes what was made. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include "maildir.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* Maildir++: past this size maildirsize is rewritten from a scan */
#define SIZEFILE_MAX 5120

static char buf[65536] ;

/* snprintf costs more than the rest of a small delivery's user time: format by hand */
static char *put_str (char *s, char const *x) { while (*x) *s++ = *x++ ; return s ; }
static char *put_u64 (char *s, uint64_t u)
{
  char t[20] ;
  size_t n = 0 ;
  do { t[n++] = '0' + u % 10 ; u /= 10 ; } while (u) ;
  while (n) *s++ = t[--n] ;
  return s ;
}
static char *put_hex8 (char *s, uint32_t u)
{
  for (int i = 28 ; i >= 0 ; i -= 4) *s++ = "0123456789abcdef"[(u >> i) & 15] ;
  return s ;
}

size_t maildir_uniq (char *out, size_t max)
{
  static char host[3 * 64 + 1] ;
  static size_t hostlen = 0 ;
  static unsigned int counter = 0 ;
  static uint32_t rnd = 0 ;
  char tmp[4 * 20 + 16 + sizeof host] ;
  struct timespec ts ;
  char *s = tmp ;
  if (!hostlen)
  {
    struct utsname u ;
    char const *h = "localhost" ;
    unsigned char const *a = (unsigned char const *)getauxval(AT_RANDOM) ;
    if (a) memcpy(&rnd, a, sizeof rnd) ;
    if (uname(&u) == 0 && u.nodename[0]) h = u.nodename ;
    for (; *h && hostlen + 4 < sizeof host ; h++)
    {
      unsigned char c = *h ;
      if (c == '/' || c == ':' || c == ',' || c == '\\' || c < 0x21 || c > 0x7e)
      {
        host[hostlen++] = '\\' ;
        host[hostlen++] = '0' + (c >> 6) ;
        host[hostlen++] = '0' + ((c >> 3) & 7) ;
        host[hostlen++] = '0' + (c & 7) ;
      }
      else host[hostlen++] = c ;
    }
    host[hostlen] = 0 ;
  }
  clock_gettime(CLOCK_REALTIME, &ts) ;
  s = put_u64(s, (uint64_t)ts.tv_sec) ; s = put_str(s, ".M") ;
  s = put_u64(s, (uint64_t)ts.tv_nsec / 1000) ; *s++ = 'P' ;
  s = put_u64(s, (uint64_t)getpid()) ; *s++ = 'Q' ;
  s = put_u64(s, ++counter) ; *s++ = 'R' ;
  s = put_hex8(s, rnd) ; *s++ = '.' ;
  memcpy(s, host, hostlen) ; s += hostlen ;
  if ((size_t)(s - tmp) >= max) return 0 ;
  memcpy(out, tmp, s - tmp) ;
  out[s - tmp] = 0 ;
  return s - tmp ;
}

static size_t scan_u64 (char const *s, uint64_t *u)
{
  size_t i = 0 ;
  uint64_t x = 0 ;
  while (s[i] >= '0' && s[i] <= '9')
  {
    unsigned d = s[i] - '0' ;
    if (x > (UINT64_MAX - d) / 10) return 0 ;
    x = x * 10 + d ;
    i++ ;
  }
  if (i) *u = x ;
  return i ;
}

int maildir_quota_parse (char const *s, maildir_quota *q)
{
  int seen_s = 0, seen_c = 0 ;
  maildir_quota t = { 0, 0 } ;
  for (;;)
  {
    uint64_t u ;
    size_t n = scan_u64(s, &u) ;
    if (!n) return 0 ;
    s += n ;
    if (*s == 'S' && !seen_s) { t.bytes = u ; seen_s = 1 ; }
    else if (*s == 'C' && !seen_c) { t.count = u ; seen_c = 1 ; }
    else return 0 ;
    s++ ;
    if (!*s) break ;
    if (*s++ != ',') return 0 ;
  }
  *q = t ;
  return 1 ;
}

static size_t quota_fmt (char *s, size_t max, maildir_quota const *q)
{
  int n ;
  if (q->bytes && q->count) n = snprintf(s, max, "%lluS,%lluC", (unsigned long long)q->bytes, (unsigned long long)q->count) ;
  else if (q->count) n = snprintf(s, max, "%lluC", (unsigned long long)q->count) ;
  else n = snprintf(s, max, "%lluS", (unsigned long long)q->bytes) ;
  return n < 0 || (size_t)n >= max ? 0 : (size_t)n ;
}

static int allwrite_fd (int fd, char const *s, size_t len)
{
  while (len)
  {
    ssize_t w = write(fd, s, len) ;
    if (w < 0) { if (errno == EINTR) continue ; return 0 ; }
    if (!w) { errno = EIO ; return 0 ; }
    s += w ; len -= w ;
  }
  return 1 ;
}

/* Read all of dfd's maildirsize (at most SIZEFILE_MAX + 1 bytes matter).
   1 found, 0 absent, -1 error; *stale when it should be rewritten from a scan. */
static int size_read_at (int dfd, maildir_quota *q, int64_t *bytes, int64_t *count, int *stale)
{
  char s[SIZEFILE_MAX + 2] ;
  size_t len = 0 ;
  char *p, *end ;
  int fd = openat(dfd, "maildirsize", O_RDONLY | O_CLOEXEC | O_NOFOLLOW) ;
  *stale = 0 ; *bytes = 0 ; *count = 0 ; q->bytes = 0 ; q->count = 0 ;
  if (fd < 0) return errno == ENOENT ? 0 : -1 ;
  while (len < sizeof s - 1)
  {
    ssize_t r = read(fd, s + len, sizeof s - 1 - len) ;
    if (r < 0) { if (errno == EINTR) continue ; { int e = errno ; close(fd) ; errno = e ; } return -1 ; }
    if (!r) break ;
    len += r ;
  }
  close(fd) ;
  if (len > SIZEFILE_MAX) *stale = 1 ;
  s[len] = 0 ;
  end = s + len ;
  p = memchr(s, '\n', len) ;
  if (!p) { *stale = 1 ; return 1 ; }
  *p = 0 ;
  if (!maildir_quota_parse(s, q)) q->bytes = q->count = 0 ;
  for (p++ ; p < end ; )
  {
    char *nl = memchr(p, '\n', end - p) ;
    long long b, c ;
    char extra ;
    if (!nl) { *stale = 1 ; break ; }   /* a line still being appended, or a torn one */
    *nl = 0 ;
    if (sscanf(p, " %lld %lld %c", &b, &c, &extra) != 2) *stale = 1 ;
    else { *bytes += b ; *count += c ; }
    p = nl + 1 ;
  }
  return 1 ;
}

int maildir_size_read (char const *dir, maildir_quota *q, int64_t *bytes, int64_t *count)
{
  int stale ;
  int r ;
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (dfd < 0) return -1 ;
  r = size_read_at(dfd, q, bytes, count, &stale) ;
  { int e = errno ; close(dfd) ; errno = e ; }
  return r ;
}

/* add the messages of dfd/sub (new or cur of a folder) */
static int size_scan (int dfd, char const *sub, uint64_t *bytes, uint64_t *count)
{
  DIR *d ;
  struct dirent *de ;
  int fd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) ;
  if (fd < 0) return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 1 : 0 ;
  d = fdopendir(fd) ;
  if (!d) { int e = errno ; close(fd) ; errno = e ; return 0 ; }
  for (;;)
  {
    char const *s ;
    uint64_t size = 0 ;
    errno = 0 ;
    de = readdir(d) ;
    if (!de) break ;
    if (de->d_name[0] == '.') continue ;
    s = strstr(de->d_name, ",S=") ;
    if (!s || !scan_u64(s + 3, &size))
    {
      struct stat st ;
      if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue ;  /* gone meanwhile */
      if (!S_ISREG(st.st_mode)) continue ;
      size = st.st_size ;
    }
    *bytes += size ; (*count)++ ;
  }
  {
    int e = errno ;
    closedir(d) ;
    errno = e ;
    return !e ;
  }
}

/* A fresh maildirsize for the Maildir dfd, written in tmpfd (its tmp/) and renamed. */
static int size_recalc_at (int dfd, int tmpfd, maildir_quota const *q, uint64_t *bytes, uint64_t *count)
{
  char name[MAILDIR_NAMEMAX] ;
  char line[128] ;
  size_t len ;
  int fd ;
  DIR *d ;
  uint64_t b = 0, c = 0 ;
  if (!size_scan(dfd, "new", &b, &c) || !size_scan(dfd, "cur", &b, &c)) return 0 ;
  fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (fd < 0) return 0 ;
  d = fdopendir(fd) ;
  if (!d) { int e = errno ; close(fd) ; errno = e ; return 0 ; }
  for (;;)
  {
    struct dirent *de ;
    char sub[300] ;
    errno = 0 ;
    de = readdir(d) ;
    if (!de) break ;
    /* Maildir++ folders are the directories ".Name"; Trash does not count */
    if (de->d_name[0] != '.' || !de->d_name[1] || !strcmp(de->d_name, "..") || !strcmp(de->d_name, ".Trash")) continue ;
    if (strlen(de->d_name) > sizeof sub - 5) continue ;
    snprintf(sub, sizeof sub, "%s/new", de->d_name) ;
    if (!size_scan(dfd, sub, &b, &c)) break ;
    snprintf(sub, sizeof sub, "%s/cur", de->d_name) ;
    if (!size_scan(dfd, sub, &b, &c)) break ;
  }
  {
    int e = errno ;
    closedir(d) ;
    if (e) { errno = e ; return 0 ; }
  }
  len = quota_fmt(line, sizeof line, q) ;
  len += snprintf(line + len, sizeof line - len, "\n%llu %llu\n", (unsigned long long)b, (unsigned long long)c) ;
  if (!maildir_uniq(name, sizeof name)) { errno = ENAMETOOLONG ; return 0 ; }
  fd = openat(tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600) ;
  if (fd < 0) return 0 ;
  if (!allwrite_fd(fd, line, len) || close(fd) < 0 || renameat(tmpfd, name, dfd, "maildirsize") < 0)
  {
    int e = errno ;
    unlinkat(tmpfd, name, 0) ;
    errno = e ;
    return 0 ;
  }
  *bytes = b ; *count = c ;
  return 1 ;
}

int maildir_size_recalc (char const *dir, maildir_quota const *q, uint64_t *bytes, uint64_t *count)
{
  int r = 0, tmpfd ;
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (dfd < 0) return 0 ;
  tmpfd = openat(dfd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) ;
  if (tmpfd >= 0)
  {
    r = size_recalc_at(dfd, tmpfd, q, bytes, count) ;
    { int e = errno ; close(tmpfd) ; errno = e ; }
  }
  { int e = errno ; close(dfd) ; errno = e ; }
  return r ;
}

static int fail (maildir_result *r, int code, int err, char const *what)
{
  r->code = code ;
  r->err = err ;
  r->what = what ;
  return 0 ;
}

static int64_t now_ms (void)
{
  struct timespec ts ;
  clock_gettime(CLOCK_MONOTONIC, &ts) ;
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 ;
}

static int mkmaildir (int dfd)
{
  static char const *const sub[3] = { "tmp", "new", "cur" } ;
  for (unsigned int i = 0 ; i < 3 ; i++)
    if (mkdirat(dfd, sub[i], 0700) < 0 && errno != EEXIST) return 0 ;
  return 1 ;
}

/* Is fd (what: how the messages name it) owned by the user delivering? 1, or 0 (r filled):
   run as root into a user's Maildir, a delivery would write files the user then does not own
   where the user's links point. */
static int owned (int fd, char const *what, maildir_result *r)
{
  struct stat st ;
  uid_t me = geteuid() ;
  if (fstat(fd, &st) < 0) return fail(r, 111, errno, "check the owner of") ;
  if (st.st_uid == me) return 1 ;
  snprintf(r->text, sizeof r->text, "%s is owned by uid %lu, not by uid %lu delivering: refused (#4.3.0)",
    what, (unsigned long)st.st_uid, (unsigned long)me) ;
  return fail(r, 111, 0, r->text) ;
}

static char const *const subdirs[3] = { "tmp", "new", "cur" } ;

/* Maildir subdirectory i of dfd, never through a symbolic link, owned by the user: its fd;
   -1 with r filled; -2 when it is missing or not a directory (not a Maildir). */
static int open_sub (int dfd, unsigned int i, maildir_result *r)
{
  static char const *const opening[3] = { "open tmp/ of", "open new/ of", "open cur/ of" } ;
  static char const *const whats[3] = { "tmp/", "new/", "cur/" } ;
  struct stat st ;
  int fd = openat(dfd, subdirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) ;
  if (fd >= 0)
  {
    if (owned(fd, whats[i], r)) return fd ;
    close(fd) ;
    return -1 ;
  }
  if (errno == ENOENT) return -2 ;
  if (errno != ELOOP && errno != ENOTDIR) { fail(r, 111, errno, opening[i]) ; return -1 ; }
  if (fstatat(dfd, subdirs[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
  {
    snprintf(r->text, sizeof r->text, "%s is a symbolic link: refused (#4.3.0)", whats[i]) ;
    fail(r, 111, 0, r->text) ;
    return -1 ;
  }
  return -2 ;
}

/* Is dfd a Maildir? 1 yes (fd[0..2] open on tmp/ new/ cur/), 0 no (r filled), creating it
   if asked. */
static int check_maildir (int dfd, maildir_opts const *o, int *fd, maildir_result *r)
{
  int tries = 0 ;
 again:
  {
    unsigned int i, k ;
    for (i = 0 ; i < 3 ; i++)
    {
      fd[i] = open_sub(dfd, i, r) ;
      if (fd[i] < 0) break ;
    }
    if (i == 3) return 1 ;
    for (k = 0 ; k < i ; k++) { close(fd[k]) ; fd[k] = -1 ; }
    if (fd[i] == -1) return 0 ;
    fd[i] = -1 ;
  }
  if (!o->create || tries++) return fail(r, 100, 0, "not a Maildir (it needs tmp/, new/ and cur/ directories) (#5.2.1)") ;
  if (!mkmaildir(dfd)) return fail(r, 111, errno, "create tmp/, new/ and cur/ in") ;
  goto again ;
}

/* Copy fd to tfd after the prefix lines, until EOF or the deadline; 1 or 0 (r filled). */
static int copy_in (int tfd, int fd, maildir_opts const *o, int64_t deadline, maildir_result *r)
{
  size_t len = 0 ;
  struct stat st ;
  int pollable = fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ;
  char const *lines[2] = { o->rpline, o->dtline } ;
  r->size = 0 ;
  for (unsigned int i = 0 ; i < 2 ; i++)
  {
    size_t n ;
    if (!lines[i] || !*lines[i]) continue ;
    n = strlen(lines[i]) ;
    if (len + n + 1 > sizeof buf) return fail(r, 100, 0, "RPLINE or DTLINE is too long") ;
    memcpy(buf + len, lines[i], n) ; len += n ;
    if (buf[len - 1] != '\n') buf[len++] = '\n' ;
  }
  for (;;)
  {
    ssize_t n ;
    if (len == sizeof buf)
    {
      if (!allwrite_fd(tfd, buf, len)) return fail(r, 111, errno, "write a file in tmp/ of") ;
      r->size += len ; len = 0 ;
    }
    if (pollable && deadline)
    {
      struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 } ;
      int64_t left = deadline - now_ms() ;
      int k ;
      if (left <= 0) return fail(r, 111, 0, "timed out reading the message (#4.3.0)") ;
      k = poll(&p, 1, left > 86400000 ? 86400000 : (int)left) ;
      if (k < 0) { if (errno == EINTR) continue ; return fail(r, 111, errno, "read the message for") ; }
      if (!k) continue ;
    }
    n = read(fd, buf + len, sizeof buf - len) ;
    if (n < 0) { if (errno == EINTR) continue ; return fail(r, 111, errno, "read the message for") ; }
    if (!n) break ;
    len += n ;
  }
  if (len && !allwrite_fd(tfd, buf, len)) return fail(r, 111, errno, "write a file in tmp/ of") ;
  r->size += len ;
  return 1 ;
}

/* Quota: 1 fits (*account: append to maildirsize after delivery), 0 refused or error (r). */
static int quota_check (int dfd, int tmpfd, maildir_opts const *o, uint64_t size, int *account, maildir_result *r)
{
  maildir_quota fq, q ;
  int64_t b, c ;
  int stale ;
  int recalced = 0 ;
  int have = size_read_at(dfd, &fq, &b, &c, &stale) ;
  *account = 0 ;
  if (have < 0) return fail(r, 111, errno, "read maildirsize of") ;
  if (!have && !o->quota_set) return 1 ;
  q = o->quota_set ? o->quota : fq ;
  if (!have || stale || (o->quota_set && (q.bytes != fq.bytes || q.count != fq.count)))
  {
    uint64_t ub, uc ;
    if (!size_recalc_at(dfd, tmpfd, &q, &ub, &uc)) return fail(r, 111, errno, "rewrite maildirsize of") ;
    b = (int64_t)ub ; c = (int64_t)uc ; recalced = 1 ;
  }
  *account = 1 ;
  for (;;)
  {
    uint64_t ub = b < 0 ? 0 : (uint64_t)b, uc = c < 0 ? 0 : (uint64_t)c ;
    if (!((q.bytes && ub + size > q.bytes) || (q.count && uc + 1 > q.count))) return 1 ;
    if (recalced)
    {
      int code = o->overquota_code ? o->overquota_code : 111 ;
      return fail(r, code, 0, code == 100 ? "mailbox is full (#5.2.2)" : "mailbox is full (#4.2.2)") ;
    }
    /* maildirsize drifts when readers forget to record deletions: count before refusing */
    {
      uint64_t nb, nc ;
      if (!size_recalc_at(dfd, tmpfd, &q, &nb, &nc)) return fail(r, 111, errno, "rewrite maildirsize of") ;
      b = (int64_t)nb ; c = (int64_t)nc ; recalced = 1 ;
    }
  }
}

/* tmp/tmp to new/name,S=size (name extended in place) */
static int move_to_new (int tmpfd, int newfd, char const *tmp, char *name, uint64_t size, maildir_result *r)
{
  size_t base = strlen(name) ;
  for (unsigned int tries = 0 ; ; tries++)
  {
    if (base + 3 + 20 >= MAILDIR_NAMEMAX) return fail(r, 111, ENAMETOOLONG, "name a file in") ;
    *put_u64(put_str(name + base, ",S="), size) = 0 ;
    if (renameat2(tmpfd, tmp, newfd, name, RENAME_NOREPLACE) == 0) return 1 ;
    if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP)
    {
      /* a filesystem without RENAME_NOREPLACE: link() does not replace either */
      if (linkat(tmpfd, tmp, newfd, name, 0) == 0) { unlinkat(tmpfd, tmp, 0) ; return 1 ; }
      if (errno == EPERM || errno == ENOSYS || errno == ENOTSUP)
      {
        /* nor hard links (vfat, some FUSE): a plain rename to a name checked free */
        struct stat st ;
        if (fstatat(newfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) errno = EEXIST ;
        else if (errno == ENOENT && renameat(tmpfd, tmp, newfd, name) == 0) return 1 ;
      }
    }
    if (errno != EEXIST || tries == 3) return fail(r, 111, errno, "move a file into new/ of") ;
    /* someone else's file has this name: take a fresh one */
    base = maildir_uniq(name, MAILDIR_NAMEMAX - 32) ;
    if (!base) return fail(r, 111, ENAMETOOLONG, "name a file in") ;
  }
}

int maildir_deliver (char const *dir, int fd, maildir_opts const *o, maildir_result *r)
{
  char tmp[MAILDIR_NAMEMAX] ;
  int64_t deadline = o->timeout ? now_ms() + (int64_t)o->timeout * 1000 : 0 ;
  size_t n = strlen(dir) ;
  char d[n + 1] ;
  int dfd, tfd = -1 ;
  int sub[3] = { -1, -1, -1 } ;   /* tmp/ new/ cur/ */
  int account = 0 ;
  r->code = 0 ; r->err = 0 ; r->what = "" ; r->size = 0 ; r->name[0] = 0 ; r->text[0] = 0 ;

  /* the Maildir itself is not followed through a link either; a trailing slash would */
  memcpy(d, dir, n + 1) ;
  while (n > 1 && d[n-1] == '/') d[--n] = 0 ;
  dfd = open(d, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) ;
  if (dfd < 0 && errno == ENOENT && o->create)
  {
    if (mkdir(d, 0700) < 0 && errno != EEXIST) return fail(r, 111, errno, "create") ;
    dfd = open(d, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) ;
  }
  if (dfd < 0)
  {
    struct stat st ;
    if (errno == ENOTDIR || errno == ELOOP)
    {
      if (lstat(d, &st) == 0 && S_ISLNK(st.st_mode)) return fail(r, 111, 0, "is a symbolic link: refused (#4.3.0)") ;
      return fail(r, 100, 0, "not a Maildir (not a directory) (#5.2.1)") ;
    }
    return fail(r, 111, errno, "open") ;
  }
  if (!owned(dfd, "the Maildir", r) || !check_maildir(dfd, o, sub, r)) goto err ;
  close(sub[2]) ; sub[2] = -1 ;   /* cur/: checked, not written */

  for (unsigned int tries = 0 ; ; tries++)
  {
    if (!maildir_uniq(r->name, MAILDIR_NAMEMAX - 32)) { fail(r, 111, ENAMETOOLONG, "name a file in") ; goto err ; }
    strcpy(tmp, r->name) ;
    tfd = openat(sub[0], tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600) ;
    if (tfd >= 0) break ;
    if (errno != EEXIST || tries == 3) { fail(r, 111, errno, "create a file in tmp/ of") ; goto err ; }
  }

  if (!copy_in(tfd, fd, o, deadline, r)) goto errtmp ;
  if (fsync(tfd) < 0) { fail(r, 111, errno, "fsync a file in tmp/ of") ; goto errtmp ; }
  {
    int c = close(tfd) ;
    tfd = -1 ;
    if (c < 0) { fail(r, 111, errno, "write a file in tmp/ of") ; goto errtmp ; }
  }
  if (!quota_check(dfd, sub[0], o, r->size, &account, r)) goto errtmp ;
  if (deadline && now_ms() > deadline) { fail(r, 111, 0, "timed out (#4.3.0)") ; goto errtmp ; }
  if (!move_to_new(sub[0], sub[1], tmp, r->name, r->size, r)) goto errtmp ;
  if (fsync(sub[1]) < 0 && errno != EINVAL)
  {
    /* not known to be on disk: take it back rather than risk a duplicate on the retry */
    int e = errno ;
    unlinkat(sub[1], r->name, 0) ;
    fail(r, 111, e, "fsync new/ of") ;
    goto err ;
  }
  if (account)
  {
    /* advisory bookkeeping: a lost line is corrected by the next recount */
    char line[64] ;
    int k = snprintf(line, sizeof line, "%llu 1\n", (unsigned long long)r->size) ;
    int sfd = openat(dfd, "maildirsize", O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW) ;
    if (sfd >= 0) { if (!allwrite_fd(sfd, line, k)) { /* nothing better to do */ } close(sfd) ; }
  }
  close(sub[0]) ;
  close(sub[1]) ;
  close(dfd) ;
  return 1 ;

 errtmp:
  if (tfd >= 0) close(tfd) ;
  unlinkat(sub[0], tmp, 0) ;
 err:
  for (unsigned int i = 0 ; i < 3 ; i++) if (sub[i] >= 0) close(sub[i]) ;
  close(dfd) ;
  r->name[0] = 0 ;
  return 0 ;
}

void maildir_strerror (maildir_result const *r, char const *dir, char *out, size_t max)
{
  if (r->err) snprintf(out, max, "unable to %s %s: %s", r->what, dir, strerror(r->err)) ;
  else snprintf(out, max, "%s: %s", dir, r->what) ;
}
