#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include "addrset.h"
#include "atomic.h"

static int atext (unsigned char c)
{
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1 ;
  return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != 0 ;
}

static int domain_ok (char const *s, size_t len)
{
  size_t label = 0, labels = 1 ;
  if (!len || len > 253) return 0 ;
  for (size_t i = 0 ; i < len ; i++)
  {
    unsigned char c = s[i] ;
    if (c == '.')
    {
      if (!label || s[i-1] == '-') return 0 ;
      label = 0 ; labels++ ;
      continue ;
    }
    if (c >= 'A' && c <= 'Z') c += 32 ;
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return 0 ;
    if (c == '-' && !label) return 0 ;
    if (++label > 63) return 0 ;
  }
  return label && s[len-1] != '-' && labels >= 2 ;
}

int addrset_norm (stralloc *sa, char const *addr, size_t len)
{
  size_t at = len ;
  while (at && addr[at-1] != '@') at-- ;
  if (!at || len > ADDRSET_ADDRMAX) return 0 ;
  at-- ;
  if (!at || at > ADDRSET_LOCALMAX || addr[0] == '.' || addr[at-1] == '.') return 0 ;
  for (size_t i = 0 ; i < at ; i++)
  {
    if (addr[i] == '.') { if (addr[i+1] == '.') return 0 ; continue ; }
    if (!atext(addr[i])) return 0 ;
  }
  if (!domain_ok(addr + at + 1, len - at - 1)) return 0 ;
  if (!stralloc_readyplus(sa, len + 1)) return -1 ;
  for (size_t i = 0 ; i < len ; i++)
    sa->s[sa->len + i] = addr[i] >= 'A' && addr[i] <= 'Z' ? addr[i] + 32 : addr[i] ;
  sa->s[sa->len + len] = 0 ;
  sa->len += len + 1 ;
  return 1 ;
}

unsigned int addrset_bucket (char const *addr)
{
  uint32_t h = 2166136261U ;
  for (; *addr ; addr++) { h ^= (unsigned char)*addr ; h *= 16777619U ; }
  return h % ADDRSET_BUCKETS ;
}

/* dir/xyz (and a suffix) into buf */
static char *bucket_path (char *buf, char const *dir, unsigned int b, char const *suffix)
{
  static char const hex[] = "0123456789abcdef" ;
  size_t n = strlen(dir) ;
  memcpy(buf, dir, n) ;
  buf[n] = '/' ;
  buf[n+1] = hex[(b >> 8) & 15] ; buf[n+2] = hex[(b >> 4) & 15] ; buf[n+3] = hex[b & 15] ;
  strcpy(buf + n + 4, suffix) ;
  return buf ;
}

/* the bucket's file into sa; a missing file is an empty bucket. 1 or 0 (errno) */
static int bucket_read (stralloc *sa, char const *dir, unsigned int b)
{
  char path[strlen(dir) + 16] ;
  sa->len = 0 ;
  if (openslurpclose(sa, bucket_path(path, dir, b, ""))) return 1 ;
  return errno == ENOENT ;
}

/* the addresses of the records in s[0..len) (a record that is not "T...\0" is skipped) */
static size_t records (char const *s, size_t len, char const **out)
{
  size_t n = 0, i = 0 ;
  while (i < len)
  {
    char const *z = memchr(s + i, 0, len - i) ;
    size_t end = z ? (size_t)(z - s) : len ;
    if (z && s[i] == 'T' && end > i + 1) { if (out) out[n] = s + i + 1 ; n++ ; }
    i = end + 1 ;
  }
  return n ;
}

int addrset_has (char const *dir, char const *addr)
{
  stralloc sa = STRALLOC_ZERO ;
  size_t alen = strlen(addr), i = 0 ;
  int found = 0 ;
  if (!bucket_read(&sa, dir, addrset_bucket(addr))) { stralloc_free(&sa) ; return -1 ; }
  while (i < sa.len && !found)
  {
    char const *z = memchr(sa.s + i, 0, sa.len - i) ;
    size_t end = z ? (size_t)(z - sa.s) : sa.len ;
    found = z && sa.s[i] == 'T' && end - i - 1 == alen && !memcmp(sa.s + i + 1, addr, alen) ;
    i = end + 1 ;
  }
  stralloc_free(&sa) ;
  return found ;
}

typedef struct entry_s entry ;
struct entry_s
{
  char const *s ;
  int isnew ;
} ;

static int entry_cmp (void const *a, void const *b)
{
  entry const *x = a, *y = b ;
  int c = strcmp(x->s, y->s) ;
  return c ? c : x->isnew - y->isnew ;
}

static int str_cmp (void const *a, void const *b)
{
  return strcmp(*(char const *const *)a, *(char const *const *)b) ;
}

/* write the records of v[0..n) as the bucket's new file (none: the file goes) */
static int bucket_write (char const *dir, unsigned int b, char const *const *v, size_t n)
{
  char path[strlen(dir) + 16], tmp[strlen(dir) + 16] ;
  stralloc sa = STRALLOC_ZERO ;
  int fd ;
  bucket_path(path, dir, b, "") ;
  if (!n) return unlink(path) == 0 || errno == ENOENT ;
  for (size_t i = 0 ; i < n ; i++)
    if (!stralloc_catb(&sa, "T", 1) || !stralloc_catb(&sa, v[i], strlen(v[i]) + 1)) { stralloc_free(&sa) ; return 0 ; }
  bucket_path(tmp, dir, b, ".tmp") ;
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600) ;
  if (fd < 0) { stralloc_free(&sa) ; return 0 ; }
  if (allwrite(fd, sa.s, sa.len) < sa.len || fsync(fd) < 0)
  {
    int e = errno ;
    close(fd) ; unlink(tmp) ; stralloc_free(&sa) ;
    errno = e ; return 0 ;
  }
  stralloc_free(&sa) ;
  if (close(fd) < 0 || rename(tmp, path) < 0) { int e = errno ; unlink(tmp) ; errno = e ; return 0 ; }
  return 1 ;
}

/* one bucket: cur is its file; new[0..k) the addresses to add or remove. 1 (*written when
   the file changed) or 0 */
static int bucket_change (char const *dir, unsigned int b, int add, char const *const *new, size_t k, size_t *changed, int *written)
{
  stralloc cur = STRALLOC_ZERO ;
  entry *v = 0 ;
  char const **out = 0 ;
  size_t n, m = 0, before = *changed ;
  int ok = 0 ;
  if (!bucket_read(&cur, dir, b)) return 0 ;
  n = records(cur.s, cur.len, 0) ;
  v = malloc((n + k + 1) * sizeof *v) ;
  out = malloc((n + k + 1) * sizeof *out) ;
  if (!v || !out) goto end ;
  {
    char const **tmp = out ;
    records(cur.s, cur.len, tmp) ;
    for (size_t i = 0 ; i < n ; i++) { v[i].s = tmp[i] ; v[i].isnew = 0 ; }
  }
  if (add)
  {
    for (size_t i = 0 ; i < k ; i++) { v[n + i].s = new[i] ; v[n + i].isnew = 1 ; }
    qsort(v, n + k, sizeof *v, &entry_cmp) ;
    for (size_t i = 0 ; i < n + k ; )
    {
      size_t j = i + 1 ;
      while (j < n + k && !strcmp(v[j].s, v[i].s)) j++ ;
      out[m++] = v[i].s ;
      if (v[i].isnew) (*changed)++ ;    /* sorted: an old one would come first */
      i = j ;
    }
  }
  else
  {
    char const **rm = (char const **)new ;
    qsort(v, n, sizeof *v, &entry_cmp) ;
    if (k) qsort(rm, k, sizeof *rm, &str_cmp) ;
    for (size_t i = 0 ; i < n ; i++)
    {
      if (i && !strcmp(v[i].s, v[i-1].s)) continue ;
      if (bsearch(&v[i].s, rm, k, sizeof *rm, &str_cmp)) { (*changed)++ ; continue ; }
      out[m++] = v[i].s ;
    }
  }
  if (*changed != before || m != n)
  {
    if (!bucket_write(dir, b, out, m)) goto end ;
    *written = 1 ;
  }
  ok = 1 ;
 end:
  {
    int e = errno ;
    free(v) ; free(out) ; stralloc_free(&cur) ;
    errno = e ;
  }
  return ok ;
}

int addrset_change (char const *dir, int add, char const *addrs, size_t len, size_t *changed)
{
  size_t n = 0, *start = 0 ;
  char const **byb = 0 ;
  int lockfd = -1, written = 0, ok = 0 ;
  *changed = 0 ;
  for (size_t i = 0 ; i < len ; i++) if (!addrs[i]) n++ ;
  if (mkdir(dir, 0700) < 0 && errno != EEXIST) return 0 ;
  {
    char lock[strlen(dir) + 6] ;
    strcpy(lock, dir) ; strcat(lock, "/lock") ;
    lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600) ;
    if (lockfd < 0) return 0 ;
    while (flock(lockfd, LOCK_EX) < 0) if (errno != EINTR) goto end ;
  }
  /* the addresses grouped by bucket (a counting sort): each bucket is rewritten once */
  start = calloc(ADDRSET_BUCKETS + 1, sizeof *start) ;
  byb = malloc((n + 1) * sizeof *byb) ;
  if (!start || !byb) goto end ;
  for (size_t i = 0 ; i < len ; i += strlen(addrs + i) + 1) start[addrset_bucket(addrs + i) + 1]++ ;
  for (unsigned int b = 0 ; b < ADDRSET_BUCKETS ; b++) start[b + 1] += start[b] ;
  {
    size_t pos[ADDRSET_BUCKETS] ;
    memcpy(pos, start, sizeof pos) ;
    for (size_t i = 0 ; i < len ; i += strlen(addrs + i) + 1) byb[pos[addrset_bucket(addrs + i)]++] = addrs + i ;
  }
  for (unsigned int b = 0 ; b < ADDRSET_BUCKETS ; b++)
    if (start[b + 1] > start[b] && !bucket_change(dir, b, add, byb + start[b], start[b + 1] - start[b], changed, &written))
      goto end ;
  if (written && !dir_sync(dir)) goto end ;
  ok = 1 ;
 end:
  {
    int e = errno ;
    free(start) ; free(byb) ;
    close(lockfd) ;
    errno = e ;
  }
  return ok ;
}

/* the buckets present in dir, in order: bits set in have[]. 1, or 0 (errno); no dir: none */
static int buckets_present (char const *dir, unsigned char *have)
{
  DIR *d = opendir(dir) ;
  memset(have, 0, ADDRSET_BUCKETS) ;
  if (!d) return errno == ENOENT ;
  for (;;)
  {
    struct dirent *de ;
    unsigned int b = 0 ;
    int i ;
    errno = 0 ;
    de = readdir(d) ;
    if (!de) break ;
    for (i = 0 ; i < 3 ; i++)
    {
      char c = de->d_name[i] ;
      if (c >= '0' && c <= '9') b = b * 16 + (c - '0') ;
      else if (c >= 'a' && c <= 'f') b = b * 16 + (c - 'a' + 10) ;
      else break ;
    }
    if (i == 3 && !de->d_name[3] && b < ADDRSET_BUCKETS) have[b] = 1 ;
  }
  {
    int e = errno ;
    closedir(d) ;
    errno = e ;
    return !e ;
  }
}

int addrset_cat (char const *dir, stralloc *sa)
{
  unsigned char have[ADDRSET_BUCKETS] ;
  if (!buckets_present(dir, have)) return 0 ;
  for (unsigned int b = 0 ; b < ADDRSET_BUCKETS ; b++) if (have[b])
  {
    char path[strlen(dir) + 16] ;
    size_t before = sa->len ;
    if (!openslurpclose(sa, bucket_path(path, dir, b, "")))
    {
      if (errno != ENOENT) return 0 ;
      continue ;
    }
    /* keep only whole records: a hand-edited file may lack its last \0 */
    while (sa->len > before && sa->s[sa->len - 1]) sa->len-- ;
  }
  return 1 ;
}

int addrset_each (char const *dir, int (*f) (char const *, void *), void *ctx)
{
  unsigned char have[ADDRSET_BUCKETS] ;
  stralloc sa = STRALLOC_ZERO ;
  int r = 1 ;
  if (!buckets_present(dir, have)) return -1 ;
  for (unsigned int b = 0 ; b < ADDRSET_BUCKETS && r == 1 ; b++) if (have[b])
  {
    size_t n ;
    char const **v ;
    if (!bucket_read(&sa, dir, b)) { r = -1 ; break ; }
    n = records(sa.s, sa.len, 0) ;
    v = malloc((n + 1) * sizeof *v) ;
    if (!v) { r = -1 ; break ; }
    records(sa.s, sa.len, v) ;
    qsort(v, n, sizeof *v, &str_cmp) ;
    for (size_t i = 0 ; i < n ; i++)
      if (!(i && !strcmp(v[i], v[i-1])) && !(*f)(v[i], ctx)) { r = 0 ; break ; }
    free(v) ;
  }
  {
    int e = errno ;
    stralloc_free(&sa) ;
    errno = e ;
  }
  return r ;
}
