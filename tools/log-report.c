/* log-report: the postmaster's report of the sluice services' logs. Reads s6-log or multilog
   directories (the rotated @...s files in time order, then current), plain files or stdin;
   merges them by their TAI64N stamps; follows each message from smtpd's accept line to the
   queue's delivery lines by its queue ID; prints text, JSON (-j) or one HTML page (-H).
   Memory grows with the distinct keys (addresses, domains, reasons, hours) and the messages
   in the queue at once, never with the size of the logs. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <skalibs/buffer.h>
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "lrtab.h"
#include "lrout.h"

#define USAGE "log-report [ -j | -H ] [ -m ] [ -n top ] [ -s start ] [ -e end ] [ dir | file | - ... ]"
#define dieusage() strerr_dieusage(100, USAGE)
#define dienomem() strerr_diefu1sys(111, "allocate memory")

#define LINEMAX 65536           /* a longer line is garbage: skipped, counted as malformed */
#define BUFSIZE (LINEMAX * 4)
#define NS 1000000000ULL

/* ---- what is counted ------------------------------------------------------------------------ */

static struct
{
  uint64_t read, used, foreign, malformed, unstamped, outside, skippedfiles ;
  uint64_t qnew, qend, qbytes, bounces, delaywarn, dblbounce, followed, local, unseen, leftover ;
  uint64_t dok, ddefer, dfail, dorphan, qwarn, restarts ;
  uint64_t first, last ;         /* the stamps of the first and last line used, ns */
  uint64_t worst ; char worstid[48] ; char worstdom[128] ;
  int64_t qsize ; int qknown ; uint64_t qmax, qmaxat ;
} st ;

static lrtab svc, clients, senders, rcptdoms, rejects, rbl, ends, authreasons, authusers, doms,
  dreasons, warns, hours ;
static lrlive msgs ;

/* the deliveries running: a ring indexed by the delivery number, which queue-run counts up
   from 1 at each start; a result that comes back after JOBRING later starts is not matched */
#define JOBRING 32768
typedef struct job_s job ;
struct job_s { uint64_t dno, t, ino ; uint32_t label, dom, left, sec, usec ; } ;   /* ID: sec.usec.ino */
static job *jobring ;
static lrhist delays ;
static int multilog = 0 ;
static int queuelog = 0 ;       /* a line of queue-run was seen */
static uint64_t lastqueue = 0 ; /* the stamp of the last one */
static uint64_t tstart = 0, tend = UINT64_MAX ;

/* a[0..n) == b[0..n), n small and mostly known at compile time: word loads, no call */
static inline __attribute__((always_inline)) int same (char const *a, char const *b, size_t n)
{
  if (n >= 8)
  {
    uint64_t x, y ;
    for (size_t i = 0 ; i + 8 < n ; i += 8)
    {
      memcpy(&x, a + i, 8) ; memcpy(&y, b + i, 8) ;
      if (x != y) return 0 ;
    }
    memcpy(&x, a + n - 8, 8) ; memcpy(&y, b + n - 8, 8) ;
    return x == y ;
  }
  if (n >= 4)
  {
    uint32_t x, y, x2, y2 ;
    memcpy(&x, a, 4) ; memcpy(&y, b, 4) ; memcpy(&x2, a + n - 4, 4) ; memcpy(&y2, b + n - 4, 4) ;
    return !((x ^ y) | (x2 ^ y2)) ;
  }
  if (n >= 2)
  {
    uint16_t x, y, x2, y2 ;
    memcpy(&x, a, 2) ; memcpy(&y, b, 2) ; memcpy(&x2, a + n - 2, 2) ; memcpy(&y2, b + n - 2, 2) ;
    return !((x ^ y) | (x2 ^ y2)) ;
  }
  return !n || *a == *b ;
}

/* ---- stamps --------------------------------------------------------------------------------- */

static signed char hexval[256] ;

static void hex_init (void)
{
  memset(hexval, -1, sizeof hexval) ;
  for (int i = 0 ; i < 10 ; i++) hexval['0' + i] = i ;
  for (int i = 0 ; i < 6 ; i++) hexval['a' + i] = hexval['A' + i] = 10 + i ;
}

/* 8 lowercase hex digits (as s6-log and multilog write them), 8 bytes at a time: 1 and the
   value, or 0 */
static inline __attribute__((always_inline)) int hex8 (char const *s, uint32_t *v)
{
  uint64_t const ones = 0x0101010101010101ULL, hi = 0x8080808080808080ULL ;
  uint64_t x, dig, alp ;
  memcpy(&x, s, 8) ;
  if (x & hi) return 0 ;
  /* bytes below 0x80: adding k sets a byte's top bit exactly when it is >= 0x80 - k */
  dig = (x + (0x80 - 0x30) * ones) & ~(x + (0x7f - 0x39) * ones) & hi ;
  alp = (x + (0x80 - 0x61) * ones) & ~(x + (0x7f - 0x66) * ones) & hi ;
  if ((dig | alp) != hi) return 0 ;
  x = (x & 0x0f0f0f0f0f0f0f0fULL) + (alp >> 7) * 9 ;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  x = __builtin_bswap64(x) ;     /* the first digit in the top byte */
#endif
  x = (x | (x >> 4)) & 0x00ff00ff00ff00ffULL ;
  x = (x | (x >> 8)) & 0x0000ffff0000ffffULL ;
  x = (x | (x >> 16)) & 0xffffffffULL ;
  *v = (uint32_t)x ;
  return 1 ;
}

/* "@" and 24 hex digits: the TAI64N label as ns since 1970 (s6-log's TAI, or with -m
   daemontools' TAI-10 without leap seconds); 0 when it is not one */
static uint64_t stamp_scan (char const *s)
{
  static uint64_t cachehi = 0 ;
  static int64_t cacheoff = 0 ;
  static char lastsec[16] ;
  static uint64_t lastsecv = 0 ;
  uint64_t sec ;
  uint32_t a, b, nano ;
  /* the lines of one second share the first 16 digits */
  if (lastsecv && same(s + 1, lastsec, 16)) sec = lastsecv ;
  else
  {
    if (!hex8(s + 1, &a) || !hex8(s + 9, &b)) return 0 ;
    sec = (uint64_t)a << 32 | b ;
    memcpy(lastsec, s + 1, 16) ; lastsecv = sec ;
  }
  if (!hex8(s + 17, &nano) || nano >= NS || sec < TAI_MAGIC + 10 || sec > TAI_MAGIC + ((uint64_t)1 << 34)) return 0 ;
  if (multilog) return (sec - TAI_MAGIC - 10) * NS + nano ;
  /* the leap seconds change the offset rarely: looked up once per 17 minutes of labels */
  if (sec >> 10 != cachehi)
  {
    tai t = { .x = sec & ~(uint64_t)1023 } ;
    uint64_t u ;
    if (!sysclock_from_tai(&u, &t)) return 0 ;
    cachehi = sec >> 10 ;
    cacheoff = (int64_t)(t.x - u) ;
  }
  return (sec - TAI_MAGIC - (uint64_t)cacheoff) * NS + nano ;
}

/* ---- small parsing helpers ------------------------------------------------------------------ */

typedef struct { char const *s ; size_t len ; } span ;

static inline __attribute__((always_inline)) int starts (span const *l, char const *p, size_t n)
{
  return l->len >= n && same(l->s, p, n) ;
}

/* the next space-separated word of *l, taken off it */
static inline __attribute__((always_inline)) span word (span *l)
{
  span w ;
  size_t n = 0 ;
#ifdef __SSE2__
  /* 16 bytes at a time: every line sits in a buffer with 16 bytes to spare after it */
  __m128i sp = _mm_set1_epi8(' ') ;
  for (;; n += 16)
  {
    unsigned int m ;
    if (n >= l->len) { n = l->len ; break ; }
    m = (unsigned int)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((__m128i const *)(void const *)(l->s + n)), sp)) ;
    if (m) { n += (size_t)__builtin_ctz(m) ; if (n > l->len) n = l->len ; break ; }
  }
#else
  while (n < l->len && l->s[n] != ' ') n++ ;
#endif
  w.s = l->s ;
  w.len = n ;
  l->s += w.len ; l->len -= w.len ;
  if (l->len) { l->s++ ; l->len-- ; }
  return w ;
}

static inline __attribute__((always_inline)) int u64_of (span w, uint64_t *u)
{
  uint64_t x = 0 ;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (w.len - 1 < 8)
  {
    /* 1 to 8 digits at once (a word of a line: 15 bytes to spare after it), the first in the
       lowest byte: shifted up to the top, '0's below them */
    uint64_t const ones = 0x0101010101010101ULL ;
    unsigned int k = 8 * (8 - (unsigned int)w.len) ;
    memcpy(&x, w.s, 8) ;
    x = (x << k) | ((0x30 * ones) & (((uint64_t)1 << k) - 1)) ;
    /* every byte 0x30 to 0x39 */
    if (((x & 0xf0f0f0f0f0f0f0f0ULL) | (((x + 0x06 * ones) & 0xf0f0f0f0f0f0f0f0ULL) >> 4)) != 0x3333333333333333ULL) return 0 ;
    x -= 0x30 * ones ;
    x = (x * 10 + (x >> 8)) & 0x00ff00ff00ff00ffULL ;
    x = (x * 100 + (x >> 16)) & 0x0000ffff0000ffffULL ;
    x = (x * 10000 + (x >> 32)) & 0xffffffffULL ;
    *u = x ;
    return 1 ;
  }
#endif
  if (!w.len || w.len > 19) return 0 ;
  for (size_t i = 0 ; i < w.len ; i++)
  {
    unsigned int d = (unsigned int)(unsigned char)w.s[i] - '0' ;
    if (d > 9) return 0 ;
    x = x * 10 + d ;
  }
  *u = x ;
  return 1 ;
}

/* the number of bytes c in s[0..n); reads up to 15 bytes past s + n */
static size_t count_byte (char const *s, size_t n, char c)
{
  size_t k = 0 ;
#ifdef __SSE2__
  __m128i x = _mm_set1_epi8(c) ;
  for (size_t i = 0 ; i < n ; i += 16)
  {
    unsigned int m = (unsigned int)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((__m128i const *)(void const *)(s + i)), x)) ;
    if (n - i < 16) m &= (1u << (n - i)) - 1 ;
    for (; m ; m &= m - 1) k++ ;
  }
#else
  for (size_t i = 0 ; i < n ; i++) k += s[i] == c ;
#endif
  return k ;
}

/* key=value words: v gets the value of the word starting with key */
static inline __attribute__((always_inline)) int kv (span w, char const *key, size_t klen, span *v)
{
  if (w.len < klen || !same(w.s, key, klen)) return 0 ;
  v->s = w.s + klen ; v->len = w.len - klen ;
  return 1 ;
}

/* the text after " reason=", to the end of the line */
static span reason_of (span l)
{
  span r = { 0, 0 } ;
  char const *p = l.len >= 8 ? memmem(l.s, l.len, "reason=", 7) : 0 ;
  if (p) { r.s = p + 7 ; r.len = l.len - (size_t)(r.s - l.s) ; }
  return r ;
}

/* the capitals A-Z among 8 bytes: their top bits */
static inline uint64_t capitals8 (uint64_t x)
{
  uint64_t const ones = 0x0101010101010101ULL, hi = 0x8080808080808080ULL ;
  uint64_t h = x & ~hi ;         /* 7 bits a byte: no carry between bytes below */
  return (h + (0x80 - 'A') * ones) & ~(h + (0x7f - 'Z') * ones) & ~x & hi ;
}

/* the domain of an address in a line (after its last @, cut at 255 bytes): in place, or
   lowercased into buf when it has capitals. Reads up to 7 bytes past a + len. */
static span domain_of (char const *a, size_t len, char *buf)
{
  char const *at = len ? memrchr(a, '@', len) : 0 ;
  size_t n, i ;
  if (!at || !(n = len - (size_t)(at + 1 - a))) return (span){ "(no domain)", 11 } ;
  if (n > 255) n = 255 ;
  at++ ;
  for (i = 0 ; i < n ; i += 8)
  {
    uint64_t x, caps ;
    memcpy(&x, at + i, 8) ;
    caps = capitals8(x) ;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n - i < 8) caps &= ((uint64_t)1 << (8 * (n - i))) - 1 ;
#else
    if (n - i < 8) caps &= ~(((uint64_t)1 << (8 * (8 - (n - i)))) - 1) ;
#endif
    if (caps) break ;
  }
  if (i >= n) return (span){ at, n } ;
  for (i = 0 ; i < n ; i++) { char c = at[i] ; buf[i] = c >= 'A' && c <= 'Z' ? c + 32 : c ; }
  return (span){ buf, n } ;
}

/* the counters of t's hour: the last one is remembered, most lines fall in it */
static uint64_t *hour_of (uint64_t t)
{
  static uint64_t lo = 1, hi = 0 ;
  static uint32_t lasti = 0 ;
  if (t < lo || t >= hi)
  {
    uint32_t h = (uint32_t)(t / NS / 3600) ;
    lasti = lrtab_index(&hours, (char const *)&h, sizeof h) ;
    lo = (uint64_t)h * 3600 * NS ; hi = lo + 3600 * NS ;
  }
  return lrtab_counters(&hours, lasti) ;
}

static uint64_t *client (span ip)
{
  if (ip.len > 2 && ip.s[0] == '[' && ip.s[ip.len - 1] == ']') { ip.s++ ; ip.len -= 2 ; }
  return lrtab_get(&clients, ip.s, ip.len) ;
}

/* ---- the lines ------------------------------------------------------------------------------ */

typedef struct { unsigned int label ; uint64_t *sv ; uint64_t t ; } ctx ;

/* tcpsrv: ok|deny PID local remote [MAXCONNIP:n/m], status: n/m, pid, end */
static int line_tcpsrv (ctx *c, span l)
{
  span w = word(&l) ;
  if ((w.len == 2 && same(w.s, "ok", 2)) || (w.len == 4 && same(w.s, "deny", 4)))
  {
    int deny = w.len == 4 ;
    span pid = word(&l), local = word(&l), remote = word(&l), ip ;
    char const *p, *e ;
    uint64_t u ;
    if (!u64_of(pid, &u) || !local.len || !remote.len) return 0 ;
    /* remote: host:ip:info:port, host and info without colons, ip in brackets for IPv6 */
    p = memchr(remote.s, ':', remote.len) ;
    if (!p) return 0 ;
    p++ ;
    e = remote.s + remote.len ;
    if (p < e && *p == '[') { char const *q = memchr(p, ']', (size_t)(e - p)) ; if (!q) return 0 ; ip.s = p ; ip.len = (size_t)(q + 1 - p) ; }
    else { char const *q = memchr(p, ':', (size_t)(e - p)) ; if (!q) return 0 ; ip.s = p ; ip.len = (size_t)(q - p) ; }
    if (!ip.len) return 0 ;
    {
      uint64_t *cl = client(ip), *h = hour_of(c->t) ;
      if (deny)
      {
        int limit = starts(&l, "MAXCONNIP:", 10) ;
        c->sv[limit ? SV_DENYLIMIT : SV_DENYRULE]++ ;
        cl[CL_DENY]++ ; h[HR_DENY]++ ;
      }
      else { c->sv[SV_CONN]++ ; cl[CL_CONN]++ ; h[HR_CONN]++ ; }
    }
    return 1 ;
  }
  if (w.len == 7 && same(w.s, "status:", 7))
  {
    span n = word(&l) ;
    char const *slash = memchr(n.s, '/', n.len) ;
    uint64_t a, b ;
    if (!slash || !u64_of((span){ n.s, (size_t)(slash - n.s) }, &a) || !u64_of((span){ slash + 1, n.len - (size_t)(slash + 1 - n.s) }, &b)) return 0 ;
    if (a >= b) { if (!c->sv[SV_FULL]) c->sv[SV_LIMIT]++ ; c->sv[SV_FULL] = 1 ; }
    else c->sv[SV_FULL] = 0 ;
    return 1 ;
  }
  if (w.len == 3 && same(w.s, "end", 3))
  {
    span pid = word(&l), kw = word(&l), s = word(&l) ;
    uint64_t u, code ;
    if (!u64_of(pid, &u) || kw.len != 6 || !same(kw.s, "status", 6) || !u64_of(s, &code)) return 0 ;
    /* 25600: exit 100, a denied client's child */
    if (code && code != 25600) c->sv[SV_CHILDFAIL]++ ;
    return 1 ;
  }
  if (w.len == 3 && same(w.s, "pid", 3)) return 1 ;
  return -1 ;
}

/* rblsmtpd: deny IP pid N by LIST: reply | tag ... | end ... | warning: IP pid N: lookup in LIST failed: why */
static int line_rblsmtpd (ctx *c, span l)
{
  span w = word(&l) ;
  int deny = w.len == 4 && same(w.s, "deny", 4), tag = w.len == 3 && same(w.s, "tag", 3) ;
  if (deny || tag)
  {
    span ip = word(&l), kp = word(&l), pid = word(&l), kb = word(&l) ;
    char const *colon = memchr(l.s, ':', l.len) ;
    uint64_t u ;
    if (!ip.len || kp.len != 3 || !u64_of((span){ pid.s, pid.len && pid.s[pid.len - 1] == ':' ? pid.len - 1 : pid.len }, &u)) return 0 ;
    if (kb.len != 2 || !same(kb.s, "by", 2) || !colon) return 0 ;
    lrtab_get(&rbl, l.s, (size_t)(colon - l.s))[deny ? RB_DENY : RB_TAG]++ ;
    if (deny) { c->sv[SV_RBLDENY]++ ; client(ip)[CL_RBL]++ ; }
    return 1 ;
  }
  if (w.len == 3 && same(w.s, "end", 3)) return 1 ;
  if (w.len == 8 && same(w.s, "warning:", 8))
  {
    char const *p = memmem(l.s, l.len, ": lookup in ", 12), *q ;
    if (!p) return -1 ;
    p += 12 ;
    q = memmem(p, l.len - (size_t)(p - l.s), " failed:", 8) ;
    if (!q) return 0 ;
    lrtab_get(&rbl, p, (size_t)(q - p))[RB_FAIL]++ ;
    return 1 ;
  }
  return -1 ;
}

/* auth-check: ok|reject IP LOGIN [reason failures=n delay=ms] */
static int line_authcheck (ctx *c, span l)
{
  span w = word(&l), ip = word(&l), login = word(&l) ;
  (void)c ;
  if (!ip.len || !login.len) return 0 ;
  if (w.len == 2 && same(w.s, "ok", 2)) return 1 ;
  if (w.len == 6 && same(w.s, "reject", 6))
  {
    span why = word(&l) ;
    if (!why.len) return 0 ;
    lrtab_get(&authreasons, why.s, why.len)[0]++ ;
    lrtab_get(&authusers, login.s, login.len)[0]++ ;
    return 1 ;
  }
  return -1 ;
}

/* the message of queue ID id, added at time t when it is new (*isnew 1); 0 for an ID too
   long to follow */
static lrlive_entry *msg_get (span id, uint64_t t, int *isnew)
{
  lrlive_entry *m ;
  *isnew = 0 ;
  if (!id.len || id.len >= LRKEYMAX) return 0 ;
  m = lrlive_get(&msgs, id.s, id.len, isnew) ;
  if (m && *isnew) m->t = t ;
  return m ;
}

/* accept ip=IP id=ID|qp=PID bytes=N [auth=U] [tls=P cipher=C] from=<S> to=<R> ... */
static int line_accept (ctx *c, span l)
{
  span ip = { 0, 0 }, id = { 0, 0 }, from = { 0, 0 }, v ;
  uint64_t bytes = 0 ;
  int nto = 0, hasbytes = 0 ;
  while (l.len)
  {
    span w = word(&l) ;
    if (w.len < 3) continue ;
    /* the keys differ in their first letter, or second */
    if (w.s[0] == 'i') { if (!kv(w, "ip=", 3, &ip)) kv(w, "id=", 3, &id) ; continue ; }
    if (w.s[0] == 'b') { if (kv(w, "bytes=", 6, &v)) { if (!u64_of(v, &bytes)) return 0 ; hasbytes = 1 ; } continue ; }
    if (w.s[0] == 'f') { if (kv(w, "from=<", 6, &from)) { if (!from.len || from.s[from.len - 1] != '>') return 0 ; from.len-- ; } continue ; }
    if (w.s[0] == 't' && kv(w, "to=<", 4, &v))
    {
      char buf[256] ;
      span d ;
      if (!v.len || v.s[v.len - 1] != '>') return 0 ;
      d = domain_of(v.s, v.len - 1, buf) ;
      lrtab_get(&rcptdoms, d.s, d.len)[0]++ ;
      nto++ ;
    }
  }
  if (!ip.len || !hasbytes || !from.s || !nto) return 0 ;
  c->sv[SV_ACCEPT]++ ; c->sv[SV_BYTES] += bytes ;
  client(ip)[CL_ACCEPT]++ ;
  hour_of(c->t)[HR_ACCEPT]++ ;
  {
    uint64_t *s = lrtab_get(&senders, from.len ? from.s : "<>", from.len ? from.len : 2) ;
    s[0]++ ; s[1] += bytes ;
  }
  if (id.len)
  {
    /* queue-run may log the message before smtpd logs its accept, and may even be done
       with it: then the message was followed all the same */
    int isnew ;
    lrlive_entry *m = msg_get(id, c->t, &isnew) ;
    if (m && !(m->a & 1))
    {
      if (m->a & 2) { st.followed++ ; st.local-- ; }
      if (c->t < m->t) m->t = c->t ;
      m->a |= 1 ;
    }
  }
  return 1 ;
}

/* reject ip=IP code=NNN [from=<>] [to=<>] reason=TEXT */
static int line_reject (ctx *c, span l)
{
  span r = reason_of(l), ip = { 0, 0 }, code = { 0, 0 } ;
  char key[320] ;
  size_t n ;
  span w = word(&l) ;
  if (!kv(w, "ip=", 3, &ip)) return 0 ;
  w = word(&l) ;
  if (!kv(w, "code=", 5, &code) || code.len != 3) return 0 ;
  c->sv[SV_REJECT]++ ;
  client(ip)[CL_REJECT]++ ;
  hour_of(c->t)[HR_REJECT]++ ;
  memcpy(key, code.s, 3) ; key[3] = ' ' ;
  n = r.len > 300 ? 300 : r.len ;
  memcpy(key + 4, r.s, n) ;
  lrtab_get(&rejects, key, 4 + n)[0]++ ;
  return 1 ;
}

/* auth success|failure ip=IP user=U mech=M [code=N] (smtpd and pop3-login) */
static int line_auth (ctx *c, span l)
{
  span w = word(&l), ip, user ;
  int ok = w.len == 7 && same(w.s, "success", 7) ;
  if (!ok && !(w.len == 7 && same(w.s, "failure", 7))) return 0 ;
  if (!kv(word(&l), "ip=", 3, &ip) || !kv(word(&l), "user=", 5, &user)) return 0 ;
  {
    span mech ;
    if (kv(word(&l), "mech=", 5, &mech) && ((mech.len == 4 && same(mech.s, "USER", 4)) || (mech.len == 4 && same(mech.s, "APOP", 4)))) c->sv[SV_POP] = 1 ;
  }
  if (ok) { c->sv[SV_AUTHOK]++ ; return 1 ; }
  c->sv[SV_AUTHFAIL]++ ;
  client(ip)[CL_AUTHFAIL]++ ;
  hour_of(c->t)[HR_AUTHFAIL]++ ;
  return 1 ;
}

/* "end ip=IP reason=TEXT" (smtpd, pop3-login); "end ip= user= retr= top= bytes= reason=" (pop3d) */
static int line_end (ctx *c, span l, unsigned int label)
{
  span r = reason_of(l), ip ;
  char key[300] ;
  size_t n, k ;
  if (!kv(word(&l), "ip=", 3, &ip) || !r.s) return 0 ;
  if (starts(&l, "user=", 5))
  {
    span v ;
    uint64_t u ;
    c->sv[SV_POPEND]++ ; c->sv[SV_POP] = 1 ;
    while (l.len)
    {
      span w = word(&l) ;
      if (kv(w, "retr=", 5, &v) && u64_of(v, &u)) c->sv[SV_POPRETR] += u ;
      else if (kv(w, "bytes=", 6, &v) && u64_of(v, &u)) c->sv[SV_POPBYTES] += u ;
      else if (kv(w, "reason=", 7, &v)) break ;
    }
  }
  else c->sv[SV_CUT]++ ;
  /* by service and reason */
  k = lrtab_keylen(&svc, label) ;
  if (k > 64) k = 64 ;
  memcpy(key, lrtab_key(&svc, label), k) ; key[k++] = '\t' ;
  n = r.len > 200 ? 200 : r.len ;
  memcpy(key + k, r.s, n) ;
  lrtab_get(&ends, key, k + n)[0]++ ;
  return 1 ;
}

/* quit ip=IP user=U retr=n top=n dele=n left=n bytes=n (pop3d) */
static int line_quit (ctx *c, span l)
{
  span v, ip ;
  uint64_t u ;
  if (!kv(word(&l), "ip=", 3, &ip)) return 0 ;
  c->sv[SV_POPQUIT]++ ; c->sv[SV_POP] = 1 ;
  while (l.len)
  {
    span w = word(&l) ;
    if (kv(w, "retr=", 5, &v) && u64_of(v, &u)) c->sv[SV_POPRETR] += u ;
    else if (kv(w, "dele=", 5, &v) && u64_of(v, &u)) c->sv[SV_POPDELE] += u ;
    else if (kv(w, "bytes=", 6, &v) && u64_of(v, &u)) c->sv[SV_POPBYTES] += u ;
  }
  return 1 ;
}

/* tls success|failure ip=IP ... (tls-wrap) */
static int line_tls (ctx *c, span l)
{
  span w = word(&l), ip ;
  if (!kv(word(&l), "ip=", 3, &ip)) return 0 ;
  if (w.len == 7 && same(w.s, "success", 7)) { c->sv[SV_TLSOK]++ ; return 1 ; }
  if (w.len == 7 && same(w.s, "failure", 7)) { c->sv[SV_TLSFAIL]++ ; return 1 ; }
  return 0 ;
}

/* ---- the queue ------------------------------------------------------------------------------ */

/* the arrival time a queue ID carries: "SECONDS.MICROSECONDS.INODE" */
static uint64_t id_time (span id)
{
  uint64_t s = 0, us = 0 ;
  size_t i = 0 ;
  for (; i < id.len && id.s[i] >= '0' && id.s[i] <= '9' && i < 12 ; i++) s = s * 10 + (uint64_t)(id.s[i] - '0') ;
  if (i < id.len && id.s[i] == '.')
    for (size_t k = i + 1, d = 0 ; k < id.len && id.s[k] >= '0' && id.s[k] <= '9' && d < 6 ; k++, d++) us = us * 10 + (uint64_t)(id.s[k] - '0') ;
  return s * NS + us * 1000 ;
}

/* the three numbers of an ID "N.N.N" (1 to 19 digits each): 1, or 0 for another form */
static int id_numbers (span x, uint64_t *v)
{
  char const *p = x.s, *e = x.s + x.len ;
  for (int k = 0 ; k < 3 ; k++)
  {
    char const *b = p ;
    uint64_t n = 0 ;
    unsigned int d ;
    while (p < e && (d = (unsigned int)(unsigned char)*p - '0') <= 9) { n = n * 10 + d ; p++ ; }
    if (p == b || p - b > 19) return 0 ;
    v[k] = n ;
    if (k < 2) { if (p == e || *p != '.') return 0 ; p++ ; }
  }
  return p == e ;
}

static void queue_size (ctx *c, int64_t delta, int set, uint64_t n)
{
  uint64_t *h ;
  if (set) { st.qsize = (int64_t)n ; st.qknown = 1 ; }
  else { st.qsize += delta ; if (st.qsize < 0) st.qsize = 0 ; }
  h = hour_of(c->t) ;
  if ((uint64_t)st.qsize > h[HR_QMAX] || !h[HR_QSET]) h[HR_QMAX] = (uint64_t)st.qsize ;
  h[HR_QSET] = 1 ;
  if ((uint64_t)st.qsize > st.qmax) { st.qmax = (uint64_t)st.qsize ; st.qmaxat = c->t ; }
}

static job *job_find (unsigned int label, uint64_t dno)
{
  job *j = jobring + (dno & (JOBRING - 1)) ;
  return j->left && j->dno == dno && j->label == label ? j : 0 ;
}

static int line_queue (ctx *c, span l, unsigned int label)
{
  if (l.s[0] == 'n' && starts(&l, "new msg ", 8))
  {
    span id = { l.s + 8, l.len - 8 } ;
    lrlive_entry *m ;
    int isnew ;
    if (!id.len || memchr(id.s, ' ', id.len)) return 0 ;
    st.qnew++ ;
    m = msg_get(id, c->t, &isnew) ;
    if (m && (m->a & 1)) st.followed++ ;
    else st.local++ ;
    if (!m) return 0 ;
    if (!(m->a & 2)) { m->a |= 2 ; queue_size(c, 1, 0, 0) ; }
    return 1 ;
  }
  if (l.s[0] == 'i' && starts(&l, "info msg ", 9))
  {
    char const *p = l.s + 9, *e = l.s + l.len ;
    span r ;
    uint64_t u ;
    /* the first ": bytes ": after the ID, which has no colon */
    for (; (p = memchr(p, ':', (size_t)(e - p))) ; p++) if (e - p >= 8 && same(p, ": bytes ", 8)) break ;
    if (!p) return 0 ;
    r.s = p + 8 ; r.len = l.len - (size_t)(r.s - l.s) ;
    if (!u64_of(word(&r), &u)) return 0 ;
    st.qbytes += u ;
    return 1 ;
  }
  if (l.s[0] == 'e' && starts(&l, "end msg ", 8))
  {
    span id = { l.s + 8, l.len - 8 } ;
    lrlive_entry *m ;
    if (!id.len) return 0 ;
    st.qend++ ;
    m = id.len < LRKEYMAX ? lrlive_find(&msgs, id.s, id.len) : 0 ;
    /* without its accept line yet: kept a while for one logged after it */
    if (m && (m->a & 1)) lrlive_del(&msgs, m) ;
    else if (m) { m->a |= 4 ; m->b = (uint32_t)(c->t / NS) ; }
    queue_size(c, -1, 0, 0) ;
    return 1 ;
  }
  if (l.s[0] == 's' && starts(&l, "starting delivery ", 18))
  {
    span r = { l.s + 18, l.len - 18 }, dno = word(&r), kmsg = word(&r), id = word(&r), ch = word(&r) ;
    char dom[256] ;
    span d ;
    lrlive_entry *m ;
    job *j ;
    uint64_t n, at ;
    size_t nr ;
    int isnew ;
    if (!dno.len || dno.s[dno.len - 1] != ':' || !u64_of((span){ dno.s, dno.len - 1 }, &n) || kmsg.len != 3 || !same(kmsg.s, "msg", 3)) return 0 ;
    if (!id.len || id.len >= LRKEYMAX || !ch.len || !r.len) return 0 ;
    dno.len-- ;
    if (n == 1)
    {
      /* queue-run started again: its deliveries left without a result are forgotten */
      for (size_t i = 0 ; i < JOBRING ; i++) if (jobring[i].label == label) jobring[i].left = 0 ;
      st.restarts++ ;
    }
    nr = 1 + count_byte(r.s, r.len, ',') ;
    {
      char const *comma = nr > 1 ? memchr(r.s, ',', r.len) : 0 ;
      d = domain_of(r.s, comma ? (size_t)(comma - r.s) : r.len, dom) ;
    }
    m = lrlive_get(&msgs, id.s, id.len, &isnew) ;
    if (isnew)
    {
      /* queued before the logs start, or before a restart: known from now on */
      m->t = id_time(id) ; m->a = 2 ; m->b = 0 ;
      queue_size(c, 1, 0, 0) ;
    }
    at = m->t ;
    j = jobring + (n & (JOBRING - 1)) ;
    j->dno = n ; j->label = label ;
    j->t = at ;
    j->dom = lrtab_index(&doms, d.s, d.len) ;
    j->left = (uint32_t)nr ;
    {
      /* the ID kept as its numbers, for the worst delay; 0.0.0 when it has another form */
      uint64_t v[3] = { 0, 0, 0 } ;
      if (!id_numbers(id, v) || v[0] > UINT32_MAX || v[1] > UINT32_MAX) v[0] = v[1] = v[2] = 0 ;
      j->sec = (uint32_t)v[0] ; j->usec = (uint32_t)v[1] ; j->ino = v[2] ;
    }
    return 1 ;
  }
  if (l.s[0] == 'd' && starts(&l, "delivery ", 9))
  {
    span r = { l.s + 9, l.len - 9 }, dno = word(&r), kind = word(&r) ;
    job *j ;
    uint64_t n, *dm, *h ;
    int k ;
    if (!dno.len || dno.s[dno.len - 1] != ':' || !u64_of((span){ dno.s, dno.len - 1 }, &n)) return 0 ;
    dno.len-- ;
    if (kind.len == 8 && same(kind.s, "success:", 8)) k = DM_OK ;
    else if (kind.len == 9 && same(kind.s, "deferral:", 9)) k = DM_DEFER ;
    else if (kind.len == 8 && same(kind.s, "failure:", 8)) k = DM_FAIL ;
    else return 0 ;
    j = job_find(label, n) ;
    if (!j) { st.dorphan++ ; dm = lrtab_get(&doms, "(unknown)", 9) ; }
    else dm = lrtab_counters(&doms, j->dom) ;
    dm[k]++ ;
    h = hour_of(c->t) ;
    if (k == DM_OK) { st.dok++ ; h[HR_OK]++ ; }
    else if (k == DM_DEFER) { st.ddefer++ ; h[HR_DEFER]++ ; }
    else { st.dfail++ ; h[HR_FAIL]++ ; }
    if (k != DM_OK)
    {
      /* the reason, by domain: a remote host's own words after "said: " */
      char buf[400] ;
      char const *said = memmem(r.s, r.len, " said: ", 7) ;
      span why = said ? (span){ said + 7, r.len - (size_t)(said + 7 - r.s) } : r ;
      size_t dl = j ? lrtab_keylen(&doms, j->dom) : 9, wl = why.len > 200 ? 200 : why.len ;
      if (dl > 180) dl = 180 ;
      buf[0] = k == DM_FAIL ? 'f' : 'd' ;
      memcpy(buf + 1, j ? lrtab_key(&doms, j->dom) : "(unknown)", dl) ;
      buf[1 + dl] = '\t' ;
      memcpy(buf + 2 + dl, why.s, wl) ;
      lrtab_get(&dreasons, buf, 2 + dl + wl)[0]++ ;
    }
    if (j)
    {
      if (k == DM_OK && c->t >= j->t)
      {
        uint64_t d = c->t - j->t ;
        lrhist_add(&delays, d / 1000000) ;
        if (d >= st.worst)
        {
          size_t dl = lrtab_keylen(&doms, j->dom) ;
          if (dl > sizeof st.worstdom - 1) dl = sizeof st.worstdom - 1 ;
          st.worst = d ;
          if (j->sec)
          {
            /* as queue-run writes it: six digits of microseconds */
            size_t k = uint_fmt(st.worstid, j->sec) ;
            st.worstid[k++] = '.' ;
            k += uint0_fmt(st.worstid + k, j->usec, 6) ;
            st.worstid[k++] = '.' ;
            k += uint64_fmt(st.worstid + k, j->ino) ;
            st.worstid[k] = 0 ;
          }
          else st.worstid[0] = 0 ;
          memcpy(st.worstdom, lrtab_key(&doms, j->dom), dl) ; st.worstdom[dl] = 0 ;
        }
      }
      j->left-- ;
    }
    return 1 ;
  }
  if (l.s[0] == 's' && starts(&l, "status: local ", 14))
  {
    span r = { l.s + 14, l.len - 14 } ;
    uint64_t n ;
    word(&r) ;
    if (!starts(&r, "remote ", 7)) return 0 ;
    r.s += 7 ; r.len -= 7 ;
    word(&r) ;
    if (starts(&r, "queued ", 7))
    {
      r.s += 7 ; r.len -= 7 ;
      if (!u64_of(word(&r), &n)) return 0 ;
      queue_size(c, 0, 1, n) ;
    }
    return 1 ;
  }
  if (l.s[0] == 'b' && starts(&l, "bounce msg ", 11))
  {
    if (memmem(l.s, l.len, "discarded", 9)) st.dblbounce++ ;
    else if (memmem(l.s, l.len, "(delay warning)", 15)) st.delaywarn++ ;
    else st.bounces++ ;
    return 1 ;
  }
  if (l.s[0] == 'w' && starts(&l, "warning: ", 9)) { st.qwarn++ ; lrtab_get(&warns, "queue-run: warning", 18)[0]++ ; return 1 ; }
  return -1 ;
}

/* ---- one line ------------------------------------------------------------------------------- */

/* "prog: warning: ..." and "prog: fatal: ...", by program and level */
static int line_diag (span l)
{
  char const *p = memchr(l.s, ':', l.len > 40 ? 40 : l.len) ;
  size_t n ;
  if (!p || (size_t)(p - l.s) + 2 > l.len || p[1] != ' ') return 0 ;
  n = (size_t)(p - l.s) ;
  for (size_t i = 0 ; i < n ; i++) if (l.s[i] == ' ') return 0 ;
  if (l.len >= n + 10 && same(p + 2, "warning:", 8)) { lrtab_get(&warns, l.s, n + 10)[0]++ ; return 1 ; }
  if (l.len >= n + 8 && same(p + 2, "fatal:", 6)) { lrtab_get(&warns, l.s, n + 8)[0]++ ; return 1 ; }
  return 0 ;
}

static int line_body (ctx *c, span l, unsigned int label)
{
  switch (l.s[0])
  {
    case 'a' :
      if (starts(&l, "accept ", 7)) return line_accept(c, (span){ l.s + 7, l.len - 7 }) ;
      if (starts(&l, "auth ", 5)) return line_auth(c, (span){ l.s + 5, l.len - 5 }) ;
      if (starts(&l, "auth-check: ", 12))
      {
        int r = line_authcheck(c, (span){ l.s + 12, l.len - 12 }) ;
        return r < 0 && line_diag(l) ? 1 : r ;
      }
      break ;
    case 'r' :
      if (starts(&l, "reject ", 7)) return line_reject(c, (span){ l.s + 7, l.len - 7 }) ;
      if (starts(&l, "rblsmtpd: ", 10))
      {
        int r = line_rblsmtpd(c, (span){ l.s + 10, l.len - 10 }) ;
        return r < 0 && line_diag(l) ? 1 : r ;
      }
      break ;
    case 't' :
      if (starts(&l, "tcpsrv: ", 8))
      {
        int r = line_tcpsrv(c, (span){ l.s + 8, l.len - 8 }) ;
        return r < 0 && line_diag(l) ? 1 : r ;
      }
      if (starts(&l, "tls ", 4)) return line_tls(c, (span){ l.s + 4, l.len - 4 }) ;
      break ;
    case 'e' :
      if (starts(&l, "end ip=", 7)) return line_end(c, (span){ l.s + 4, l.len - 4 }, label) ;
      if (starts(&l, "end msg ", 8)) { queuelog = 1 ; lastqueue = c->t ; return line_queue(c, l, label) ; }
      break ;
    case 'q' :
      if (starts(&l, "quit ip=", 8)) return line_quit(c, (span){ l.s + 5, l.len - 5 }) ;
      break ;
    case 's' :
      if (starts(&l, "starttls ip=", 12)) return 1 ;
      /* fall through */
    case 'n' : case 'i' : case 'd' : case 'b' : case 'w' :
      {
        int r = line_queue(c, l, label) ;
        if (r >= 0) { queuelog = 1 ; lastqueue = c->t ; return r ; }
      }
      break ;
  }
  return line_diag(l) ? 1 : -1 ;
}

/* ---- inputs: streams of files in time order, merged by stamp ------------------------------- */

typedef struct
{
  char **files ;                /* in order; the last may be "current" */
  size_t nfiles, next ;
  int fd ;
  char *buf ;
  size_t pos, len ;
  int eof ;
  unsigned int label ;
  uint64_t t ;                  /* the stamp of the head line, or of the last stamped one */
  span head ;                   /* the head line, stamp removed; head.s == 0: none */
  int stamped ;
  char stamp[24] ;              /* the hex digits of the stamp s->t was read from */
  uint64_t secbase ;            /* s->t less its nanoseconds */
  char const *name ;            /* for messages */
} stream ;

static stream *streams = 0 ;
static size_t nstreams = 0 ;

static int archive_name (char const *s)
{
  size_t n = strlen(s) ;
  if (n != 27 || s[0] != '@' || s[25] != '.' || (s[26] != 's' && s[26] != 'u')) return 0 ;
  for (size_t i = 1 ; i < 25 ; i++) if (hexval[(unsigned char)s[i]] < 0) return 0 ;
  return 1 ;
}

static int cmpstr (void const *a, void const *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b) ;
}

static char *xstrdup (char const *s)
{
  char *p = strdup(s) ;
  if (!p) dienomem() ;
  return p ;
}

static char *pathjoin (char const *d, char const *f)
{
  size_t a = strlen(d), b = strlen(f) ;
  char *p = malloc(a + b + 2) ;
  if (!p) dienomem() ;
  memcpy(p, d, a) ; p[a] = '/' ; memcpy(p + a + 1, f, b + 1) ;
  return p ;
}

/* the label of a log: the directory's name ("smtpd", "pop3d") */
static unsigned int label_of (char const *dir)
{
  size_t n = strlen(dir) ;
  char const *b ;
  while (n > 1 && dir[n - 1] == '/') n-- ;
  b = dir + n ;
  while (b > dir && b[-1] != '/') b-- ;
  if (!(dir + n - b)) { b = "-" ; n = 1 ; return lrtab_index(&svc, b, 1) ; }
  return lrtab_index(&svc, b, (size_t)(dir + n - b)) ;
}

static stream *stream_new (char const *name, unsigned int label)
{
  stream *s ;
  streams = realloc(streams, (nstreams + 1) * sizeof *streams) ;
  if (!streams) dienomem() ;
  s = streams + nstreams++ ;
  memset(s, 0, sizeof *s) ;
  s->fd = -1 ;
  s->label = label ;
  s->name = name ;
  if (strstr(lrtab_key(&svc, label), "pop3")) lrtab_counters(&svc, label)[SV_POP] = 1 ;
  return s ;
}

static void stream_addfile (stream *s, char *path)
{
  s->files = realloc(s->files, (s->nfiles + 1) * sizeof *s->files) ;
  if (!s->files) dienomem() ;
  s->files[s->nfiles++] = path ;
}

/* with -s: a rotated file ends at the time of its name; one that ends before the start is
   not read */
static int archive_before_start (char const *base)
{
  uint64_t t ;
  if (!tstart || !archive_name(base)) return 0 ;
  t = stamp_scan(base) ;
  return t && t < tstart ;
}

static void add_dir (char const *dir)
{
  DIR *d = opendir(dir) ;
  char **names = 0 ;
  size_t n = 0 ;
  int current = 0 ;
  stream *s ;
  if (!d) strerr_diefu2sys(111, "open ", dir) ;
  for (;;)
  {
    struct dirent *e ;
    errno = 0 ;
    e = readdir(d) ;
    if (!e) { if (errno) strerr_diefu2sys(111, "read ", dir) ; break ; }
    if (!strcmp(e->d_name, "current")) { current = 1 ; continue ; }
    if (!archive_name(e->d_name)) continue ;
    if (archive_before_start(e->d_name)) { st.skippedfiles++ ; continue ; }
    names = realloc(names, (n + 1) * sizeof *names) ;
    if (!names) dienomem() ;
    names[n++] = xstrdup(e->d_name) ;
  }
  closedir(d) ;
  if (!n && !current) strerr_dief3x(100, "no log files in ", dir, ": neither current nor @*.s") ;
  if (n) qsort(names, n, sizeof *names, cmpstr) ;
  s = stream_new(dir, label_of(dir)) ;
  for (size_t i = 0 ; i < n ; i++) { stream_addfile(s, pathjoin(dir, names[i])) ; free(names[i]) ; }
  if (current) stream_addfile(s, pathjoin(dir, "current")) ;
  free(names) ;
}

/* a file given by name: "current" and @...s files of one directory make one stream */
static void add_file (char const *path)
{
  char const *slash = strrchr(path, '/') ;
  char const *base = slash ? slash + 1 : path ;
  if (!strcmp(base, "-") && !slash) { stream_addfile(stream_new("-", lrtab_index(&svc, "stdin", 5)), xstrdup("-")) ; return ; }
  if (!strcmp(base, "current") || archive_name(base))
  {
    char *dir = slash ? xstrdup(path) : xstrdup(".") ;
    if (slash) dir[slash - path] = 0 ;
    if (!*dir) { free(dir) ; dir = xstrdup("/") ; }
    for (size_t i = 0 ; i < nstreams ; i++)
      if (streams[i].nfiles && !strcmp(streams[i].name, dir))
      {
        stream_addfile(streams + i, xstrdup(path)) ;
        free(dir) ;
        return ;
      }
    {
      char *d2 = dir ;
      if (!strcmp(dir, ".")) { char cwd[4096] ; if (getcwd(cwd, sizeof cwd)) { free(dir) ; d2 = xstrdup(cwd) ; } }
      stream_addfile(stream_new(d2, label_of(d2)), xstrdup(path)) ;
    }
    return ;
  }
  stream_addfile(stream_new(path, lrtab_index(&svc, base, strlen(base))), xstrdup(path)) ;
}

/* the files of a stream in time order: rotated ones by name, current last */
static int cmpfile (void const *a, void const *b)
{
  char const *x = *(char *const *)a, *y = *(char *const *)b ;
  char const *bx = strrchr(x, '/'), *by = strrchr(y, '/') ;
  int cx, cy ;
  bx = bx ? bx + 1 : x ; by = by ? by + 1 : y ;
  cx = !strcmp(bx, "current") ; cy = !strcmp(by, "current") ;
  if (cx != cy) return cx - cy ;
  return strcmp(bx, by) ;
}

static int stream_open_next (stream *s)
{
  while (s->next < s->nfiles)
  {
    char const *f = s->files[s->next++] ;
    char const *base = strrchr(f, '/') ;
    base = base ? base + 1 : f ;
    if (s->nfiles > 1 && archive_before_start(base)) { st.skippedfiles++ ; continue ; }
    if (!strcmp(f, "-")) s->fd = 0 ;
    else
    {
      s->fd = open(f, O_RDONLY | O_CLOEXEC) ;
      /* a rotated file may be gone since the directory was read: s6-log keeps n of them */
      if (s->fd < 0) { if (errno == ENOENT && s->nfiles > 1) continue ; strerr_diefu2sys(111, "open ", f) ; }
      posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL) ;
    }
    s->eof = 0 ;
    return 1 ;
  }
  return 0 ;
}

/* the next newline in the buffer from s->pos on, or 0; reads up to 15 bytes past s->len (the
   buffer has 16 to spare, zeroed at first) */
static inline char *stream_findnl (stream *s)
{
  char *p = s->buf + s->pos, *e = s->buf + s->len ;
#ifdef __SSE2__
  __m128i nl = _mm_set1_epi8('\n') ;
  for (; p < e ; p += 16)
  {
    unsigned int m = (unsigned int)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((__m128i const *)(void const *)p), nl)) ;
    if (m) { p += __builtin_ctz(m) ; return p < e ? p : 0 ; }
  }
  return 0 ;
#else
  return p < e ? memchr(p, '\n', (size_t)(e - p)) : 0 ;
#endif
}

/* the next line of s into s->head (0 at the end), its stamp read */
static void stream_next (stream *s)
{
  for (;;)
  {
    char *nl ;
    if (s->fd < 0 && !stream_open_next(s)) { s->head.s = 0 ; return ; }
    nl = stream_findnl(s) ;
    if (!nl && !s->eof && s->len - s->pos < LINEMAX)
    {
      ssize_t r ;
      if (s->pos) { memmove(s->buf, s->buf + s->pos, s->len - s->pos) ; s->len -= s->pos ; s->pos = 0 ; }
      r = read(s->fd, s->buf + s->len, BUFSIZE - s->len) ;
      if (r < 0) { if (errno == EINTR) continue ; strerr_diefu2sys(111, "read ", s->files[s->next - 1]) ; }
      if (!r) s->eof = 1 ;
      s->len += (size_t)r ;
      continue ;
    }
    if (!nl)
    {
      if (s->len - s->pos >= LINEMAX)
      {
        /* garbage without a newline: skipped to the next one */
        st.read++ ; st.malformed++ ;
        s->pos = s->len = 0 ;
        for (;;)
        {
          ssize_t r = read(s->fd, s->buf, BUFSIZE) ;
          if (r < 0) { if (errno == EINTR) continue ; strerr_diefu2sys(111, "read ", s->files[s->next - 1]) ; }
          if (!r) { s->eof = 1 ; break ; }
          nl = memchr(s->buf, '\n', (size_t)r) ;
          if (nl) { s->pos = (size_t)(nl + 1 - s->buf) ; s->len = (size_t)r ; break ; }
        }
        continue ;
      }
      if (s->len == s->pos)
      {
        /* this file is done */
        if (s->fd > 0) close(s->fd) ;
        s->fd = -1 ; s->pos = s->len = 0 ;
        continue ;
      }
      /* a last line without its newline (a file cut short): taken as it is */
      nl = s->buf + s->len ;
    }
    {
      char *line = s->buf + s->pos ;
      size_t len = (size_t)(nl - line) ;
      s->pos = nl < s->buf + s->len ? (size_t)(nl + 1 - s->buf) : s->len ;
      st.read++ ;
      if (len > LINEMAX) { st.malformed++ ; continue ; }
      if (len && line[len - 1] == '\r') len-- ;
      if (len >= 26 && line[0] == '@' && line[25] == ' ')
      {
        uint64_t t ;
        uint32_t nano ;
        /* most lines carry the stamp of the line before them, or its second */
        if (s->t && same(line + 1, s->stamp, 24)) t = s->t ;
        else if (s->t && same(line + 1, s->stamp, 16) && hex8(line + 17, &nano) && nano < NS)
        {
          t = s->secbase + nano ;
          memcpy(s->stamp + 16, line + 17, 8) ;
        }
        else if ((t = stamp_scan(line)))
        {
          memcpy(s->stamp, line + 1, 24) ;
          s->secbase = t - t % NS ;
        }
        if (t) { s->t = t ; s->stamped = 1 ; s->head.s = line + 26 ; s->head.len = len - 26 ; return ; }
        /* the shape of a stamp, not a valid one: the line is read without it */
        line += 26 ; len -= 26 ;
      }
      /* no stamp: the time of the line before it */
      st.unstamped++ ;
      s->stamped = 0 ;
      s->head.s = line ; s->head.len = len ;
      return ;
    }
  }
}

/* the next line of s when it is a whole line stamped in the second of the line before (most
   are): 1, or 0 for stream_next() to take it */
static inline int stream_quick (stream *s)
{
  char *nl, *line ;
  size_t len ;
  uint32_t nano ;
  if (s->fd < 0 || !s->t || !(nl = stream_findnl(s))) return 0 ;
  line = s->buf + s->pos ;
  len = (size_t)(nl - line) ;
  if (len < 26 || len > LINEMAX || line[len - 1] == '\r' || line[0] != '@' || line[25] != ' ' || !same(line + 1, s->stamp, 16)) return 0 ;
  if (!same(line + 17, s->stamp + 16, 8))
  {
    if (!hex8(line + 17, &nano) || nano >= NS) return 0 ;
    s->t = s->secbase + nano ;
    memcpy(s->stamp + 16, line + 17, 8) ;
  }
  s->pos += len + 1 ;
  st.read++ ;
  s->stamped = 1 ;
  s->head.s = line + 26 ; s->head.len = len - 26 ;
  return 1 ;
}

/* messages accepted by smtpd that the queue has not logged an hour later, and messages
   queued 60 days ago and never done: counted and forgotten, so that memory stays bounded */
static int sweep_old (lrlive_entry const *e, void *data)
{
  uint64_t now = *(uint64_t const *)data ;
  if (e->a & 4) return (uint64_t)e->b + 120 < now / NS ;
  if (e->a & 2) { if (e->t + 60 * 86400 * NS < now) { st.leftover++ ; return 1 ; } return 0 ; }
  if (queuelog && e->t + 3600 * NS < now) { st.unseen++ ; return 1 ; }
  if (!queuelog && e->t + 3600 * NS < now) return 1 ;
  return 0 ;
}

static void sweep (uint64_t t)
{
  static uint64_t next = 0 ;
  if (t < next) return ;
  next = (t / (3600 * NS) + 1) * 3600 * NS ;
  lrlive_filter(&msgs, &sweep_old, &t) ;
}

static void process (stream *s)
{
  ctx c ;
  span l = s->head ;
  int r ;
  if (s->stamped || s->t) { if (s->t < tstart || s->t >= tend) { st.outside++ ; return ; } }
  else if (tstart || tend != UINT64_MAX) { st.outside++ ; return ; }
  if (!l.len) { st.foreign++ ; return ; }
  c.label = s->label ;
  c.sv = lrtab_counters(&svc, s->label) ;
  c.t = s->t ;
  if (c.t) sweep(c.t) ;
  r = line_body(&c, l, s->label) ;
  if (r > 0)
  {
    st.used++ ;
    if (c.t)
    {
      /* no branch on the order of the lines */
      uint64_t f = st.first - 1 ;   /* 0 (none yet): the largest */
      st.first = (c.t - 1 < f ? c.t - 1 : f) + 1 ;
      st.last = c.t > st.last ? c.t : st.last ;
    }
  }
  else if (!r) st.malformed++ ;
  else st.foreign++ ;
}

static void run (void)
{
  for (size_t i = 0 ; i < nstreams ; i++)
  {
    stream *s = streams + i ;
    if (s->nfiles) qsort(s->files, s->nfiles, sizeof *s->files, cmpfile) ;
    s->buf = calloc(1, BUFSIZE + 16) ;   /* word() and stream_findnl() read up to 15 bytes past a line */
    if (!s->buf) dienomem() ;
    stream_next(s) ;
  }
  for (;;)
  {
    stream *best = 0 ;
    for (size_t i = 0 ; i < nstreams ; i++)
      if (streams[i].head.s && (!best || streams[i].t < best->t)) best = streams + i ;
    if (!best) break ;
    /* the earliest stream goes on as long as it stays the earliest */
    for (;;)
    {
      uint64_t t ;
      process(best) ;
      if (!stream_quick(best)) stream_next(best) ;
      if (!best->head.s) break ;
      t = best->t ;
      if (nstreams > 1)
      {
        int other = 0 ;
        for (size_t i = 0 ; i < nstreams ; i++)
          if (streams + i != best && streams[i].head.s && streams[i].t < t) { other = 1 ; break ; }
        if (other) break ;
      }
    }
  }
  /* what the logs leave open: messages accepted that the queue never logged, messages still
     in the queue at the end */
  for (size_t i = 0 ; i < lrlive_cap(&msgs) ; i++)
  {
    lrlive_entry *m = lrlive_at(&msgs, i) ;
    if (!m) continue ;
    if (m->a & 4) continue ;
    if (m->a & 2) st.leftover++ ;
    else if (queuelog && m->t + 60 * NS < lastqueue) st.unseen++ ;   /* the later ones may just be on their way */
  }
}

/* ---- times on the command line -------------------------------------------------------------- */

static uint64_t local_midnight (time_t t, int days)
{
  struct tm tm ;
  localtime_r(&t, &tm) ;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0 ;
  tm.tm_mday += days ;
  tm.tm_isdst = -1 ;
  return (uint64_t)mktime(&tm) * NS ;
}

/* today, yesterday, now, -Nh, -Nd, YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS] (T for the blank too),
   @UNIXSECONDS: local time, as ns since 1970 */
static int when_scan (char const *s, uint64_t *t)
{
  time_t now = time(0) ;
  unsigned int y, mo, d, h = 0, mi = 0, se = 0 ;
  size_t n = strlen(s), k ;
  if (!strcmp(s, "now")) { *t = (uint64_t)now * NS ; return 1 ; }
  if (!strcmp(s, "today")) { *t = local_midnight(now, 0) ; return 1 ; }
  if (!strcmp(s, "yesterday")) { *t = local_midnight(now, -1) ; return 1 ; }
  if (n >= 3 && s[0] == '-' && (s[n - 1] == 'h' || s[n - 1] == 'd'))
  {
    unsigned int v ;
    char num[16] ;
    if (n - 2 >= sizeof num) return 0 ;
    memcpy(num, s + 1, n - 2) ; num[n - 2] = 0 ;
    if (!uint0_scan(num, &v) || v > 100000) return 0 ;
    *t = ((uint64_t)now - (uint64_t)v * (s[n - 1] == 'h' ? 3600 : 86400)) * NS ;
    return 1 ;
  }
  if (s[0] == '@')
  {
    uint64_t u ;
    if (!uint640_scan(s + 1, &u) || u > ((uint64_t)1 << 34)) return 0 ;
    *t = u * NS ;
    return 1 ;
  }
  k = uint_scan(s, &y) ;
  if (k != 4 || s[4] != '-' || uint_scan(s + 5, &mo) != 2 || s[7] != '-' || uint_scan(s + 8, &d) != 2) return 0 ;
  if (n > 10)
  {
    if ((s[10] != ' ' && s[10] != 'T') || n < 16 || uint_scan(s + 11, &h) != 2 || s[13] != ':' || uint_scan(s + 14, &mi) != 2) return 0 ;
    if (n > 16 && (n != 19 || s[16] != ':' || uint_scan(s + 17, &se) != 2)) return 0 ;
    if (n != 16 && n != 19) return 0 ;
  }
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return 0 ;
  {
    struct tm tm = { .tm_year = (int)y - 1900, .tm_mon = (int)mo - 1, .tm_mday = (int)d, .tm_hour = (int)h, .tm_min = (int)mi, .tm_sec = (int)se, .tm_isdst = -1 } ;
    time_t r = mktime(&tm) ;
    if (r == (time_t)-1 || tm.tm_mday != (int)d) return 0 ;
    *t = (uint64_t)r * NS ;
  }
  return 1 ;
}

/* ---- main ----------------------------------------------------------------------------------- */

int main (int argc, char const *const *argv)
{
  int json = 0, html = 0 ;
  unsigned int top = 10 ;
  int hasstart = 0, hasend = 0 ;
  PROG = "log-report" ;
  hex_init() ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "jHmn:s:e:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'j' : json = 1 ; break ;
        case 'H' : html = 1 ; break ;
        case 'm' : multilog = 1 ; break ;
        case 'n' : if (!uint0_scan(l.arg, &top) || !top || top > 10000) dieusage() ; break ;
        case 's' : if (!when_scan(l.arg, &tstart)) strerr_dief3x(100, "bad time for -s: ", l.arg, ": today, yesterday, now, -Nh, -Nd, @seconds, YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS]") ; hasstart = 1 ; break ;
        case 'e' : if (!when_scan(l.arg, &tend)) strerr_dief3x(100, "bad time for -e: ", l.arg, ": today, yesterday, now, -Nh, -Nd, @seconds, YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS]") ; hasend = 1 ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (json && html) dieusage() ;
  if (hasstart && hasend && tend <= tstart) strerr_dief1x(100, "the end (-e) must come after the start (-s)") ;
  if (!lrtab_init(&svc, SV_N) || !lrtab_init(&clients, CL_N) || !lrtab_init(&senders, 2)
   || !lrtab_init(&rcptdoms, 1) || !lrtab_init(&rejects, 1) || !lrtab_init(&rbl, RB_N)
   || !lrtab_init(&ends, 1) || !lrtab_init(&authreasons, 1) || !lrtab_init(&authusers, 1)
   || !lrtab_init(&doms, DM_N) || !lrtab_init(&dreasons, 1) || !lrtab_init(&warns, 1)
   || !lrtab_init(&hours, HR_N) || !lrlive_init(&msgs)) dienomem() ;
  jobring = calloc(JOBRING, sizeof *jobring) ;
  if (!jobring) dienomem() ;
  if (!argc) add_file("-") ;
  for (int i = 0 ; i < argc ; i++)
  {
    struct stat sb ;
    if (!strcmp(argv[i], "-")) { add_file("-") ; continue ; }
    if (stat(argv[i], &sb) < 0) strerr_diefu2sys(111, "read ", argv[i]) ;
    if (S_ISDIR(sb.st_mode)) add_dir(argv[i]) ;
    else add_file(argv[i]) ;
  }
  run() ;
  {
    lrreport r =
    {
      .top = top, .start = hasstart ? tstart : 0, .end = hasend ? tend : 0,
      .svc = &svc, .clients = &clients, .senders = &senders, .rcptdoms = &rcptdoms,
      .rejects = &rejects, .rbl = &rbl, .ends = &ends, .authreasons = &authreasons,
      .authusers = &authusers, .doms = &doms, .dreasons = &dreasons, .warns = &warns,
      .hours = &hours, .delays = &delays,
      .n =
      {
        [LR_READ] = st.read, [LR_USED] = st.used, [LR_FOREIGN] = st.foreign,
        [LR_MALFORMED] = st.malformed, [LR_UNSTAMPED] = st.unstamped, [LR_OUTSIDE] = st.outside,
        [LR_SKIPPEDFILES] = st.skippedfiles, [LR_QNEW] = st.qnew, [LR_QEND] = st.qend,
        [LR_QBYTES] = st.qbytes, [LR_BOUNCES] = st.bounces, [LR_DELAYWARN] = st.delaywarn,
        [LR_DBLBOUNCE] = st.dblbounce, [LR_FOLLOWED] = st.followed, [LR_LOCAL] = st.local,
        [LR_UNSEEN] = st.unseen, [LR_LEFTOVER] = st.leftover, [LR_DOK] = st.dok,
        [LR_DDEFER] = st.ddefer, [LR_DFAIL] = st.dfail, [LR_DORPHAN] = st.dorphan,
        [LR_RESTARTS] = st.restarts, [LR_FIRST] = st.first, [LR_LAST] = st.last,
        [LR_WORST] = st.worst, [LR_QMAX] = st.qmax, [LR_QMAXAT] = st.qmaxat,
        [LR_QKNOWN] = (uint64_t)st.qknown, [LR_QUEUE] = (uint64_t)queuelog,
      },
      .worstid = st.worstid, .worstdom = st.worstdom,
    } ;
    if (json) lrout_json(&r) ;
    else if (html) lrout_html(&r) ;
    else lrout_text(&r) ;
  }
  if (!buffer_flush(buffer_1)) strerr_diefu1sys(111, "write to stdout") ;
  return 0 ;
}
