#include <stdlib.h>
#include <string.h>
#include <skalibs/strerr.h>
#include "lrtab.h"

static void nomem (void) { strerr_diefu1sys(111, "allocate memory") ; }

/* the last 1 to 7 bytes of a key as a word, read without going past them */
static inline uint64_t tail (char const *s, size_t n)
{
  uint64_t w = 0 ;
  if (n >= 4)
  {
    uint32_t a, b ;
    memcpy(&a, s, 4) ; memcpy(&b, s + n - 4, 4) ;
    w = (uint64_t)a | (uint64_t)b << 32 ;
  }
  else if (n) w = (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[n >> 1] << 8 | (uint64_t)(unsigned char)s[n - 1] << 16 ;
  return w ;
}

static inline uint32_t hashb (char const *s, size_t n)
{
  uint64_t h, x, y ;
  if (n <= 16)
  {
    /* the keys of the tables mostly: two multiplications side by side */
    if (n >= 8) { memcpy(&x, s, 8) ; memcpy(&y, s + n - 8, 8) ; }
    else { x = tail(s, n) ; y = 0 ; }
    h = (x ^ 0x9e3779b97f4a7c15ULL) * 0xff51afd7ed558ccdULL ^ (y ^ n) * 0xc4ceb9fe1a85ec53ULL ;
  }
  else if (n <= 32)
  {
    /* queue IDs, addresses: four side by side, the last two overlapping the first two */
    uint64_t z, w ;
    memcpy(&x, s, 8) ; memcpy(&y, s + 8, 8) ; memcpy(&z, s + n - 16, 8) ; memcpy(&w, s + n - 8, 8) ;
    h = (x ^ 0x9e3779b97f4a7c15ULL) * 0xff51afd7ed558ccdULL ^ (y ^ n) * 0xc4ceb9fe1a85ec53ULL
      ^ (z ^ 0x2545f4914f6cdd1dULL) * 0xd6e8feb86659fd93ULL ^ (w ^ 0x6a09e667f3bcc909ULL) * 0x9e3779b97f4a7c15ULL ;
  }
  else
  {
    h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)n ;
    for (; n > 8 ; s += 8, n -= 8)
    {
      memcpy(&x, s, 8) ;
      h = (h ^ x) * 0xff51afd7ed558ccdULL ; h ^= h >> 32 ;
    }
    /* the last 8 bytes, overlapping the ones before (the length is in h) */
    memcpy(&x, s + n - 8, 8) ;
    h = (h ^ x) * 0xc4ceb9fe1a85ec53ULL ;
  }
  /* a multiplication carries each bit upwards only: the top half of the product depends on
     every bit of the folded value */
  h = (h ^ h >> 32) * 0x9e3779b97f4a7c15ULL ;
  return (uint32_t)(h >> 32) ;
}

static inline uint64_t load64 (char const *s) { uint64_t x ; memcpy(&x, s, 8) ; return x ; }

/* a[0..n) == b[0..n), without a call for the keys up to 32 bytes */
static inline __attribute__((always_inline)) int keyeq (char const *a, char const *b, size_t n)
{
  if (n > 32) return !memcmp(a, b, n) ;
  if (n > 16)
    return !((load64(a) ^ load64(b)) | (load64(a + 8) ^ load64(b + 8))
           | (load64(a + n - 16) ^ load64(b + n - 16)) | (load64(a + n - 8) ^ load64(b + n - 8))) ;
  if (n >= 8) return !((load64(a) ^ load64(b)) | (load64(a + n - 8) ^ load64(b + n - 8))) ;
  return tail(a, n) == tail(b, n) ;
}

int lrtab_init (lrtab *t, unsigned int ncnt)
{
  memset(t, 0, sizeof *t) ;
  if (!ncnt || ncnt > 64) return 0 ;
  t->ncnt = ncnt ;
  t->mask = 63 ;
  t->slot = calloc(64, sizeof *t->slot) ;
  return !!t->slot ;
}

static void grow_slots (lrtab *t)
{
  uint32_t size = 2 * (t->mask + 1) ;
  uint64_t *s = calloc(size, sizeof *s) ;
  if (!s || !size) nomem() ;
  for (uint32_t i = 0 ; i <= t->mask ; i++)
  {
    uint32_t h ;
    if (!t->slot[i]) continue ;
    h = (uint32_t)(t->slot[i] >> 32) & (size - 1) ;
    while (s[h]) h = (h + 1) & (size - 1) ;
    s[h] = t->slot[i] ;
  }
  free(t->slot) ;
  t->slot = s ;
  t->mask = size - 1 ;
}

static void grow_entries (lrtab *t)
{
  uint32_t cap = t->cap ? 2 * t->cap : 64 ;
  uint64_t *koff = realloc(t->koff, cap * sizeof *koff) ;
  if (koff) t->koff = koff ;
  uint32_t *klen = realloc(t->klen, cap * sizeof *klen) ;
  if (klen) t->klen = klen ;
  uint64_t *cnt = realloc(t->cnt, (size_t)cap * t->ncnt * sizeof *cnt) ;
  if (cnt) t->cnt = cnt ;
  if (!koff || !klen || !cnt || cap < t->cap) nomem() ;
  t->cap = cap ;
}

uint32_t lrtab_index (lrtab *t, char const *k, size_t len)
{
  uint32_t h = hashb(k, len), i = h & t->mask ;
  for (; t->slot[i] ; i = (i + 1) & t->mask)
  {
    uint32_t e = (uint32_t)t->slot[i] - 1 ;
    if ((uint32_t)(t->slot[i] >> 32) == h && t->klen[e] == len && keyeq(t->kb + t->koff[e], k, len)) return e ;
  }
  if (t->n == t->cap) grow_entries(t) ;
  if (t->kblen + len + 1 > t->kbcap)
  {
    size_t cap = t->kbcap ? 2 * t->kbcap : 4096 ;
    char *kb ;
    while (cap < t->kblen + len + 1) cap *= 2 ;
    kb = realloc(t->kb, cap) ;
    if (!kb) nomem() ;
    t->kb = kb ; t->kbcap = cap ;
  }
  {
    uint32_t e = t->n++ ;
    memcpy(t->kb + t->kblen, k, len) ;
    t->kb[t->kblen + len] = 0 ;
    t->koff[e] = t->kblen ; t->klen[e] = (uint32_t)len ;
    t->kblen += len + 1 ;
    memset(t->cnt + (size_t)e * t->ncnt, 0, t->ncnt * sizeof *t->cnt) ;
    t->slot[i] = (uint64_t)h << 32 | (e + 1) ;
    if (2 * t->n > t->mask) grow_slots(t) ;
    return e ;
  }
}

uint64_t *lrtab_get (lrtab *t, char const *k, size_t len)
{
  return lrtab_counters(t, lrtab_index(t, k, len)) ;
}


static int keycmp (lrtab const *t, uint32_t a, uint32_t b)
{
  size_t la = t->klen[a], lb = t->klen[b] ;
  int r = memcmp(t->kb + t->koff[a], t->kb + t->koff[b], la < lb ? la : lb) ;
  return r ? r : la < lb ? -1 : la > lb ;
}

static uint64_t value (lrtab const *t, int c, uint32_t i)
{
  uint64_t const *v = lrtab_counters(t, i), s = 0 ;
  uint64_t sum = s ;
  if (c >= 0) return v[c] ;
  for (unsigned int k = 0 ; k < t->ncnt ; k++) sum += v[k] ;
  return sum ;
}

size_t lrtab_top (lrtab const *t, int c, uint32_t *out, size_t max)
{
  size_t n = 0 ;
  for (uint32_t i = 0 ; i < t->n ; i++)
  {
    uint64_t v = value(t, c, i) ;
    size_t k ;
    if (!v) continue ;
    if (n == max)
    {
      uint64_t w = value(t, c, out[n - 1]) ;
      if (v < w || (v == w && keycmp(t, i, out[n - 1]) > 0)) continue ;
      n-- ;
    }
    k = n++ ;
    while (k)
    {
      uint64_t w = value(t, c, out[k - 1]) ;
      if (w > v || (w == v && keycmp(t, out[k - 1], i) < 0)) break ;
      out[k] = out[k - 1] ;
      k-- ;
    }
    out[k] = i ;
  }
  return n ;
}

static lrtab const *sorting ;
static int cmpidx (void const *a, void const *b)
{
  return keycmp(sorting, *(uint32_t const *)a, *(uint32_t const *)b) ;
}

uint32_t *lrtab_sorted (lrtab const *t)
{
  uint32_t *v = malloc((t->n ? t->n : 1) * sizeof *v) ;
  if (!v) nomem() ;
  for (uint32_t i = 0 ; i < t->n ; i++) v[i] = i ;
  sorting = t ;
  qsort(v, t->n, sizeof *v, cmpidx) ;
  return v ;
}

/* ---- lrlive: linear probing, deletion by shifting back ---- */

int lrlive_init (lrlive *t)
{
  t->mask = 255 ; t->n = 0 ;
  t->e = calloc(256, sizeof *t->e) ;
  return !!t->e ;
}

/* the slot of key k of hash h: its entry, or the free slot where it goes */
static inline lrlive_entry *slot (lrlive const *t, char const *k, size_t len, uint32_t h)
{
  uint32_t i ;
  for (i = h & t->mask ; t->e[i].klen ; i = (i + 1) & t->mask)
    if (t->e[i].hash == h && t->e[i].klen == len && keyeq(t->e[i].key, k, len)) break ;
  return t->e + i ;
}

lrlive_entry *lrlive_find (lrlive *t, char const *k, size_t len)
{
  lrlive_entry *e ;
  if (!len || len >= LRKEYMAX) return 0 ;
  e = slot(t, k, len, hashb(k, len)) ;
  return e->klen ? e : 0 ;
}

static void rebuild (lrlive *t, uint32_t size)
{
  lrlive_entry *e = calloc(size, sizeof *e) ;
  if (!e) nomem() ;
  for (uint32_t i = 0 ; i <= t->mask ; i++)
  {
    lrlive_entry *o = t->e + i ;
    uint32_t j ;
    if (!o->klen) continue ;
    for (j = o->hash & (size - 1) ; e[j].klen ; j = (j + 1) & (size - 1)) ;
    e[j] = *o ;
  }
  free(t->e) ;
  t->e = e ; t->mask = size - 1 ;
}

lrlive_entry *lrlive_get (lrlive *t, char const *k, size_t len, int *isnew)
{
  uint32_t h ;
  lrlive_entry *e ;
  if (!len || len >= LRKEYMAX) return 0 ;
  h = hashb(k, len) ;
  e = slot(t, k, len, h) ;
  *isnew = !e->klen ;
  if (e->klen) return e ;
  if (2 * (t->n + 1) > t->mask + 1) { rebuild(t, 2 * (t->mask + 1)) ; e = slot(t, k, len, h) ; }
  memset(e, 0, sizeof *e) ;
  memcpy(e->key, k, len) ;
  e->klen = (uint32_t)len ;
  e->hash = h ;
  t->n++ ;
  return e ;
}

lrlive_entry *lrlive_add (lrlive *t, char const *k, size_t len)
{
  int isnew ;
  lrlive_entry *e = lrlive_get(t, k, len, &isnew) ;
  return e && isnew ? e : 0 ;
}

/* the entry at i removed: the ones after it in its cluster moved back into the hole when
   their home slot allows; 1 when an entry was moved into i */
static int remove_at (lrlive *t, uint32_t i)
{
  uint32_t j = i, first = i ;
  t->e[i].klen = 0 ;
  t->n-- ;
  for (;;)
  {
    uint32_t h ;
    j = (j + 1) & t->mask ;
    if (!t->e[j].klen) break ;
    h = t->e[j].hash & t->mask ;
    /* e[j] may move to the hole at i when its home h is not in (i, j] cyclically */
    if (i <= j ? (h <= i || h > j) : (h <= i && h > j))
    {
      t->e[i] = t->e[j] ;
      t->e[j].klen = 0 ;
      i = j ;
    }
  }
  return t->e[first].klen != 0 ;
}

void lrlive_del (lrlive *t, lrlive_entry *e)
{
  remove_at(t, (uint32_t)(e - t->e)) ;
}

void lrlive_filter (lrlive *t, int (*drop) (lrlive_entry const *, void *), void *data)
{
  /* in place, from a free slot on: no cluster wraps past the start, and an entry moved back
     into a hole comes from a slot not yet seen */
  uint32_t start = 0, size = t->mask + 1 ;
  if (!t->n) return ;
  while (t->e[start].klen) start++ ;
  for (uint32_t k = 1 ; k <= size ; k++)
  {
    uint32_t i = (start + k) & t->mask ;
    while (t->e[i].klen && (*drop)(t->e + i, data))
      if (!remove_at(t, i)) break ;
  }
}

struct prefix_s { char const *p ; size_t len ; } ;
static int has_prefix (lrlive_entry const *e, void *data)
{
  struct prefix_s const *x = data ;
  return e->klen >= x->len && !memcmp(e->key, x->p, x->len) ;
}

void lrlive_drop_prefix (lrlive *t, char const *p, size_t len)
{
  struct prefix_s x = { p, len } ;
  lrlive_filter(t, &has_prefix, &x) ;
}

/* ---- lrhist ---- */

uint64_t const lrhist_bands[LRHIST_NBANDS] = { 1000, 10000, 60000, 600000, 3600000, 21600000, 86400000, UINT64_MAX } ;
char const *const lrhist_bandnames[LRHIST_NBANDS] = { "< 1 s", "1-10 s", "10 s-1 min", "1-10 min", "10 min-1 h", "1-6 h", "6-24 h", "> 1 day" } ;

static unsigned int bucket (uint64_t v)
{
  unsigned int s ;
  if (v < 128) return (unsigned int)v ;
  s = 63 - (unsigned int)__builtin_clzll(v) - 6 ;
  return 128 + (s - 1) * 64 + (unsigned int)((v >> s) - 64) ;
}

void lrhist_add (lrhist *h, uint64_t ms)
{
  unsigned int k = 0 ;
  h->b[bucket(ms)]++ ;
  h->n++ ;
  h->sum += ms ;
  if (ms > h->max) h->max = ms ;
  while (ms >= lrhist_bands[k]) k++ ;
  h->band[k]++ ;
}

uint64_t lrhist_quantile (lrhist const *h, double q)
{
  uint64_t rank, c = 0 ;
  if (!h->n) return 0 ;
  rank = (uint64_t)(q * (double)h->n) ;
  if ((double)rank < q * (double)h->n) rank++ ;
  if (!rank) rank = 1 ;
  for (unsigned int i = 0 ; i < LRHIST_NB ; i++)
  {
    c += h->b[i] ;
    if (c >= rank)
    {
      uint64_t lo, hi, mid ;
      unsigned int s, m ;
      if (i < 128) return i > h->max ? h->max : i ;
      s = (i - 128) / 64 + 1 ; m = (i - 128) % 64 + 64 ;
      lo = (uint64_t)m << s ; hi = ((uint64_t)(m + 1) << s) - 1 ;
      mid = lo + (hi - lo) / 2 ;
      return mid > h->max ? h->max : mid ;
    }
  }
  return h->max ;
}
