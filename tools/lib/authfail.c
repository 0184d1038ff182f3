/* authfail: see authfail.h. Each call takes the lock, reads the few slots the address may be
   in (one pread), writes back at most one slot (one pwrite), and drops the lock: no process
   holds it while it hashes a password or sleeps. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include "authfail.h"

#define SLOT 32
#define WINDOW (AUTHFAIL_PROBE * SLOT)

static uint32_t get32 (unsigned char const *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 ;
}

static void put32 (unsigned char *p, uint32_t u)
{
  p[0] = u & 255 ; p[1] = u >> 8 & 255 ; p[2] = u >> 16 & 255 ; p[3] = u >> 24 ;
}

int authfail_key (unsigned char *key, char const *ip)
{
  static unsigned char const mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff } ;
  unsigned char a[16] ;
  if (!ip) return 0 ;
  if (inet_pton(AF_INET, ip, a) == 1)
  {
    memcpy(key, mapped, 12) ;
    memcpy(key + 12, a, 4) ;
    return 1 ;
  }
  if (inet_pton(AF_INET6, ip, a) != 1) return 0 ;
  memcpy(key, a, 16) ;
  if (memcmp(a, mapped, 12)) memset(key + 8, 0, 8) ;   /* IPv6: its /64 */
  return 1 ;
}

int authfail_open (authfail *a, char const *path, char const *ip)
{
  struct stat st ;
  int fd ;
  a->fd = -1 ;
  if (!authfail_key(a->key, ip)) return 0 ;
  fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) ;
  if (fd < 0 && errno == ENOENT)
  {
    /* made writable by the group: every auth-check, whatever user runs it, shares it */
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0660) ;
    if (fd >= 0 && fchmod(fd, 0660) < 0) { int e = errno ; close(fd) ; errno = e ; return -1 ; }
    if (fd < 0 && errno == EEXIST) fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) ;
  }
  if (fd < 0) return -1 ;
  if (fstat(fd, &st) < 0) { int e = errno ; close(fd) ; errno = e ; return -1 ; }
  if (!S_ISREG(st.st_mode)) { close(fd) ; errno = EINVAL ; return -1 ; }
  a->fd = fd ;
  return 1 ;
}

void authfail_close (authfail *a)
{
  if (a->fd >= 0) close(a->fd) ;
  a->fd = -1 ;
}

static int lock (authfail *a, int how)
{
  while (flock(a->fd, how) < 0) if (errno != EINTR) return 0 ;
  return 1 ;
}

/* FNV-1a of the key: where its window of slots starts, in bytes */
static off_t where (unsigned char const *key)
{
  uint32_t h = 2166136261u ;
  unsigned int i ;
  for (i = 0 ; i < 16 ; i++) { h ^= key[i] ; h *= 16777619u ; }
  return (off_t)(h % (AUTHFAIL_SLOTS - AUTHFAIL_PROBE + 1)) * SLOT ;
}

/* the window of slots at off into buf; bytes past the end of the file read as free slots */
static int window_read (authfail *a, unsigned char *buf, off_t off)
{
  size_t got = 0 ;
  memset(buf, 0, WINDOW) ;
  while (got < WINDOW)
  {
    ssize_t r = pread(a->fd, buf + got, WINDOW - got, off + (off_t)got) ;
    if (r < 0) { if (errno == EINTR) continue ; return 0 ; }
    if (!r) break ;
    got += r ;
  }
  return 1 ;
}

/* the failures a slot holds now: 0 once forgotten */
static uint32_t live (unsigned char const *s, authfail_policy const *p, time_t now)
{
  uint32_t last = get32(s + 20) ;
  if (!last || (uint64_t)now >= (uint64_t)last + p->window) return 0 ;
  return get32(s + 24) ;
}

static int find (authfail const *a, unsigned char const *buf)
{
  int i ;
  for (i = 0 ; i < AUTHFAIL_PROBE ; i++)
    if (get32(buf + i * SLOT + 20) && !memcmp(buf + i * SLOT, a->key, 16)) return i ;
  return -1 ;
}

int authfail_blocked (authfail *a, authfail_policy const *p, time_t now, uint32_t *count)
{
  unsigned char buf[WINDOW] ;
  off_t off = where(a->key) ;
  int i, e ;
  if (!lock(a, LOCK_SH)) return -1 ;
  if (!window_read(a, buf, off)) { e = errno ; lock(a, LOCK_UN) ; errno = e ; return -1 ; }
  lock(a, LOCK_UN) ;
  i = find(a, buf) ;
  *count = i < 0 ? 0 : live(buf + i * SLOT, p, now) ;
  return p->max && *count >= p->max ;
}

int authfail_record (authfail *a, authfail_policy const *p, time_t now, uint32_t *count)
{
  unsigned char buf[WINDOW] ;
  unsigned char *s ;
  off_t off = where(a->key) ;
  uint32_t n ;
  int i, e, own ;
  if (!lock(a, LOCK_EX)) return -1 ;
  if (!window_read(a, buf, off)) goto err ;
  i = find(a, buf) ;
  own = i >= 0 ;
  if (!own)
  {
    /* a free or forgotten slot, else the one whose last failure is oldest */
    int k ;
    for (i = 0, k = 0 ; k < AUTHFAIL_PROBE ; k++)
    {
      unsigned char const *t = buf + k * SLOT ;
      if (!live(t, p, now)) { i = k ; break ; }
      if (get32(t + 20) < get32(buf + i * SLOT + 20)) i = k ;
    }
  }
  s = buf + i * SLOT ;
  n = own ? live(s, p, now) : 0 ;
  if (!n) { memcpy(s, a->key, 16) ; put32(s + 16, (uint32_t)now) ; }
  if (n < UINT32_MAX) n++ ;
  put32(s + 20, now ? (uint32_t)now : 1) ;
  put32(s + 24, n) ;
  put32(s + 28, 0) ;
  {
    size_t done = 0 ;
    while (done < SLOT)
    {
      ssize_t w = pwrite(a->fd, s + done, SLOT - done, off + (off_t)i * SLOT + (off_t)done) ;
      if (w < 0) { if (errno == EINTR) continue ; goto err ; }
      done += w ;
    }
  }
  lock(a, LOCK_UN) ;
  *count = n ;
  return 1 ;
 err:
  e = errno ;
  lock(a, LOCK_UN) ;
  errno = e ;
  return -1 ;
}

unsigned long authfail_delay (authfail_policy const *p, unsigned long base, uint32_t count)
{
  unsigned long extra = 0 ;
  if (count > 1 && p->delay)
    extra = (count - 1) > AUTHFAIL_DELAYMAX / p->delay ? AUTHFAIL_DELAYMAX : (count - 1) * p->delay ;
  if (extra > AUTHFAIL_DELAYMAX) extra = AUTHFAIL_DELAYMAX ;
  return base + extra ;
}
