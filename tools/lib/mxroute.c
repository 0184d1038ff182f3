/* mxroute: see mxroute.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/random.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "dns.h"
#include "mxroute.h"

static char lower (char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c ; }

static int same (char const *a, char const *b, size_t len)
{
  size_t i ;
  for (i = 0 ; i < len ; i++) if (lower(a[i]) != lower(b[i])) return 0 ;
  return 1 ;
}

int mxroute_literal (char *ip, int *is6, char const *s, size_t len)
{
  char buf[64] ;
  size_t skip = 1 ;
  if (len < 3 || s[0] != '[' || s[len - 1] != ']') return 0 ;
  if (len > 6 && same(s + 1, "ipv6:", 5)) skip = 6 ;
  if (len - 1 - skip >= sizeof buf) return 0 ;
  memcpy(buf, s + skip, len - 1 - skip) ;
  buf[len - 1 - skip] = 0 ;
  if (!dns_ip_scan(ip, is6, buf)) return 0 ;
  if (skip == 6 && !*is6 && !strchr(buf, ':')) return 0 ;   /* [IPv6:1.2.3.4] */
  return 1 ;
}

static int isnamechar (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ;
}

static int isname (char const *s, size_t len)
{
  size_t i ;
  if (!len || len > 253 || s[0] == '.') return 0 ;
  for (i = 0 ; i < len ; i++) if (!isnamechar(s[i])) return 0 ;
  return 1 ;
}

/* Parse one line (not blank, not a comment): its domain key in *key and *keylen, its route in *r.
   1 or 0 (bad). */
static int route_parse (mxroute *r, char const *s, size_t len, char const **key, size_t *keylen)
{
  size_t i = 0, h ;
  if (len && s[0] == '[')
  {
    while (i < len && s[i] != ']') i++ ;
    if (i == len) return 0 ;
    i++ ;
    if (!mxroute_literal(r->ip, &r->is6, s, i)) return 0 ;
  }
  else
  {
    while (i < len && s[i] != ':') i++ ;
    if (i && !(s[0] == '.' ? isname(s + 1, i - 1) : isname(s, i))) return 0 ;
  }
  if (i == len || s[i] != ':') return 0 ;
  *key = s ; *keylen = i ;
  h = ++i ;
  r->isip = 0 ; r->is6 = 0 ; r->port = 0 ;
  if (i < len && s[i] == '[')
  {
    while (i < len && s[i] != ']') i++ ;
    if (i == len) return 0 ;
    i++ ;
    if (!mxroute_literal(r->ip, &r->is6, s + h, i - h)) return 0 ;
    r->isip = 1 ;
    h++ ;   /* the host text is the address without its brackets (and IPv6: prefix) */
    if (i - h > 6 && same(s + h, "ipv6:", 5)) h += 5 ;
    memcpy(r->host, s + h, i - 1 - h) ; r->host[i - 1 - h] = 0 ;
  }
  else
  {
    while (i < len && s[i] != ':') i++ ;
    if (i > h)
    {
      if (!isname(s + h, i - h)) return 0 ;
      memcpy(r->host, s + h, i - h) ; r->host[i - h] = 0 ;
      if (dns_ip_scan(r->ip, &r->is6, r->host)) r->isip = 1 ;
    }
    else r->host[0] = 0 ;
  }
  if (i < len)
  {
    char num[6] ;
    uint16_t port ;
    if (s[i++] != ':' || !(len - i) || len - i >= sizeof num) return 0 ;
    memcpy(num, s + i, len - i) ; num[len - i] = 0 ;
    if (uint160_scan(num, &port) != len - i || !port) return 0 ;   /* digits only, all of them */
    r->port = port ;
  }
  return 1 ;
}

/* how well key matches domain: 0 not at all, 1 the empty key, 2 + its length for a parent,
   more than any parent for the domain itself */
static size_t score (char const *key, size_t keylen, char const *domain, size_t dlen)
{
  if (!keylen) return 1 ;
  if (keylen == dlen && same(key, domain, dlen)) return 1000 ;
  if (key[0] == '.' && dlen > keylen && same(key, domain + dlen - keylen, keylen)) return 2 + keylen ;
  return 0 ;
}

int mxroute_lookup (mxroute *route, char const *text, size_t len, char const *domain, unsigned int *line)
{
  size_t i = 0, best = 0, dlen = strlen(domain) ;
  unsigned int n = 0 ;
  while (i < len)
  {
    char const *nl = memchr(text + i, '\n', len - i) ;
    size_t end = nl ? (size_t)(nl - text) : len ;
    size_t start = i, stop = end ;
    n++ ;
    i = end + 1 ;
    while (start < stop && (text[start] == ' ' || text[start] == '\t')) start++ ;
    while (stop > start && (text[stop - 1] == ' ' || text[stop - 1] == '\t' || text[stop - 1] == '\r')) stop-- ;
    if (start == stop || text[start] == '#') continue ;
    {
      mxroute r ;
      char const *key ;
      size_t keylen, sc ;
      if (!route_parse(&r, text + start, stop - start, &key, &keylen)) { *line = n ; errno = EINVAL ; return -1 ; }
      sc = score(key, keylen, domain, dlen) ;
      if (sc > best) { best = sc ; *route = r ; }
    }
  }
  return best ? 1 : 0 ;
}

typedef struct mxrec_s mxrec ;
struct mxrec_s
{
  unsigned int pref ;
  size_t name ;   /* offset of the name in the records */
} ;

int mxroute_order (stralloc *out, char const *mx, size_t len)
{
  mxrec *recs ;
  size_t i = 0, n = 0, k, j ;
  for (i = 0 ; i < len ; n++)   /* count them */
  {
    char const *z ;
    if (len - i < 3 || !(z = memchr(mx + i + 2, 0, len - i - 2))) { errno = EBADMSG ; return -1 ; }
    i = (size_t)(z - mx) + 1 ;
  }
  recs = malloc((n ? n : 1) * sizeof *recs) ;
  if (!recs) return -1 ;
  for (i = 0, k = 0 ; i < len ;)
  {
    mxrec r = { .pref = (unsigned char)mx[i] << 8 | (unsigned char)mx[i + 1], .name = i + 2 } ;
    i = r.name + strlen(mx + r.name) + 1 ;
    if (!strcmp(mx + r.name, ".")) continue ;
    for (j = k ; j && recs[j - 1].pref > r.pref ; j--) recs[j] = recs[j - 1] ;   /* stable insertion */
    recs[j] = r ;
    k++ ;
  }
  for (i = 0 ; i < k ; i = j)   /* shuffle each run of equal preferences */
  {
    for (j = i + 1 ; j < k && recs[j].pref == recs[i].pref ; j++) ;
    if (j - i > 1)
    {
      size_t m ;
      for (m = j - i ; m > 1 ; m--)
      {
        size_t x = i + random_uint32((uint32_t)m) ;
        mxrec t = recs[i + m - 1] ; recs[i + m - 1] = recs[x] ; recs[x] = t ;
      }
    }
  }
  for (i = 0 ; i < k ; i++)
    if (!stralloc_catb(out, mx + recs[i].name, strlen(mx + recs[i].name) + 1)) { free(recs) ; return -1 ; }
  free(recs) ;
  return (int)k ;
}

int mxroute_tls (stralloc *names, char const *lines, size_t len, char const *domain)
{
  size_t i = 0, dl = strlen(domain) ;
  while (i < len)
  {
    char const *s = lines + i ;
    size_t n = strlen(s), k = 0, before = names->len ;
    i += n + 1 ;
    while (k < n && s[k] != ':') k++ ;
    if (k != dl || !same(s, domain, dl)) continue ;
    if (k == n)
      return stralloc_catb(names, domain, dl + 1) && stralloc_catb(names, ".", 1)
        && stralloc_catb(names, domain, dl + 1) ? 1 : -1 ;
    for (k++ ; k < n ; )
    {
      size_t e = k ;
      while (e < n && s[e] != ',') e++ ;
      if (e > k && (!stralloc_catb(names, s + k, e - k) || !stralloc_0(names))) return -1 ;
      k = e + 1 ;
    }
    if (names->len == before) { errno = EINVAL ; return -1 ; }
    return 1 ;
  }
  return 0 ;
}

static int catlower (stralloc *sa, char const *s)
{
  size_t n = strlen(s), i ;
  if (!stralloc_readyplus(sa, n)) return 0 ;
  for (i = 0 ; i < n ; i++) sa->s[sa->len++] = lower(s[i]) ;
  return 1 ;
}

int mxroute_key (stralloc *key, char const *routes, size_t rlen, char const *tls, size_t tlen, char const *domain)
{
  mxroute r ;
  stralloc names = STRALLOC_ZERO ;
  size_t start = key->len ;
  unsigned int line ;
  int t = mxroute_tls(&names, tls, tlen, domain), found ;
  stralloc_free(&names) ;
  if (t < 0) return -1 ;
  found = mxroute_lookup(&r, routes, rlen, domain, &line) ;
  if (found < 0) return 0 ;
  if (!t && found && r.host[0])
  {
    char fmt[UINT16_FMT] ;
    if (!stralloc_catb(key, "R", 1) || !catlower(key, r.host) || !stralloc_catb(key, ":", 1)
     || !stralloc_catb(key, fmt, uint16_fmt(fmt, r.port ? r.port : 25))) goto nomem ;
  }
  else if (!stralloc_catb(key, t ? "T" : "D", 1) || !catlower(key, domain)) goto nomem ;
  if (!stralloc_0(key)) goto nomem ;
  return 1 ;
 nomem:
  key->len = start ;
  return -1 ;
}
