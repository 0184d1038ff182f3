#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <skalibs/random.h>
#include "conntab.h"

static uint64_t mix64 (uint64_t x)
{
  x ^= x >> 30 ; x *= 0xbf58476d1ce4e5b9ULL ;
  x ^= x >> 27 ; x *= 0x94d049bb133111ebULL ;
  return x ^ (x >> 31) ;
}

static unsigned int ip_home (conntab const *t, char const *ip)
{
  uint64_t a, b ;
  memcpy(&a, ip, 8) ; memcpy(&b, ip + 8, 8) ;
  return (unsigned int)mix64(mix64(a ^ t->key[0]) ^ b ^ t->key[1]) & t->mask ;
}

static unsigned int pid_home (conntab const *t, pid_t pid)
{
  return (unsigned int)(((uint64_t)(uint32_t)pid * 0x9e3779b97f4a7c15ULL) >> 32) & t->mask ;
}

/* Is slot j's home h cyclically outside (i, j]? Then j may move back into the hole at i. */
static int may_fill (unsigned int i, unsigned int j, unsigned int h)
{
  return i <= j ? (h <= i || h > j) : (h <= i && h > j) ;
}

/* Zeroed pages that children do not inherit: fork copies no page table entry for them, and
   the parent's writes after a fork take no copy-on-write fault. */
static void *zalloc_nofork (size_t len)
{
  void *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ;
  if (p == MAP_FAILED) return 0 ;
  madvise(p, len, MADV_DONTFORK) ;
  return p ;
}

int conntab_init (conntab *t, unsigned int max)
{
  unsigned int size = 16 ;
  if (!max || max > (1U << 24)) return (errno = EINVAL, 0) ;
  while (size < 2 * max) size <<= 1 ;
  t->ips = zalloc_nofork(size * sizeof(conntab_ip)) ;
  t->kids = zalloc_nofork(size * sizeof(conntab_kid)) ;
  if (!t->ips || !t->kids) { t->mask = size - 1 ; conntab_free(t) ; return (errno = ENOMEM, 0) ; }
  t->mask = size - 1 ;
  t->max = max ;
  t->n = 0 ;
  random_buf((char *)t->key, sizeof t->key) ;
  return 1 ;
}

static unsigned int ip_find (conntab const *t, char const *ip)
{
  unsigned int i = ip_home(t, ip) ;
  while (t->ips[i].count && memcmp(t->ips[i].ip, ip, 16)) i = (i + 1) & t->mask ;
  return i ;
}

unsigned int conntab_add (conntab *t, char const *ip, pid_t pid)
{
  unsigned int i, k ;
  if (t->n >= t->max) return 0 ;
  k = pid_home(t, pid) ;
  while (t->kids[k].pid) k = (k + 1) & t->mask ;
  t->kids[k].pid = pid ;
  memcpy(t->kids[k].ip, ip, 16) ;
  t->n++ ;
  i = ip_find(t, ip) ;
  if (!t->ips[i].count) memcpy(t->ips[i].ip, ip, 16) ;
  return ++t->ips[i].count ;
}

static void ip_delete (conntab *t, unsigned int i)
{
  unsigned int j = i ;
  for (;;)
  {
    j = (j + 1) & t->mask ;
    if (!t->ips[j].count) break ;
    if (may_fill(i, j, ip_home(t, t->ips[j].ip))) { t->ips[i] = t->ips[j] ; i = j ; }
  }
  t->ips[i].count = 0 ;
}

static void kid_delete (conntab *t, unsigned int i)
{
  unsigned int j = i ;
  for (;;)
  {
    j = (j + 1) & t->mask ;
    if (!t->kids[j].pid) break ;
    if (may_fill(i, j, pid_home(t, t->kids[j].pid))) { t->kids[i] = t->kids[j] ; i = j ; }
  }
  t->kids[i].pid = 0 ;
}

int conntab_remove (conntab *t, pid_t pid)
{
  unsigned int k, i, left ;
  if (!t->mask || pid <= 0) return -1 ;
  k = pid_home(t, pid) ;
  while (t->kids[k].pid != pid)
  {
    if (!t->kids[k].pid) return -1 ;
    k = (k + 1) & t->mask ;
  }
  i = ip_find(t, t->kids[k].ip) ;
  kid_delete(t, k) ;
  t->n-- ;
  if (!t->ips[i].count) return 0 ;  /* cannot happen: every kid's address is counted */
  left = --t->ips[i].count ;
  if (!left) ip_delete(t, i) ;
  return (int)left ;
}

unsigned int conntab_count (conntab const *t, char const *ip)
{
  return t->mask ? t->ips[ip_find(t, ip)].count : 0 ;
}

void conntab_free (conntab *t)
{
  if (t->ips) munmap(t->ips, (t->mask + 1) * sizeof(conntab_ip)) ;
  if (t->kids) munmap(t->kids, (t->mask + 1) * sizeof(conntab_kid)) ;
  t->ips = 0 ; t->kids = 0 ; t->mask = 0 ; t->max = 0 ; t->n = 0 ;
}
