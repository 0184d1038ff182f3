#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include "dnscache.h"

typedef struct entry_s entry ;
struct entry_s
{
  uint16_t type ;
  char name[256] ;
  uint64_t expires ;
  uint64_t born ;
  size_t len ;
  unsigned char *ans ;
} ;

static entry cache[DNSCACHE_MAX] ;

/* name without its final dot into out (256 bytes): 0 when too long */
static int norm (char *out, char const *name)
{
  size_t n = strlen(name) ;
  if (n && name[n - 1] == '.') n-- ;
  if (n >= 256) return 0 ;
  memcpy(out, name, n) ; out[n] = 0 ;
  return 1 ;
}

static entry *find (uint16_t type, char const *name)
{
  for (unsigned int i = 0 ; i < DNSCACHE_MAX ; i++)
    if (cache[i].ans && cache[i].type == type && !strcasecmp(cache[i].name, name)) return cache + i ;
  return 0 ;
}

static void drop (entry *e)
{
  free(e->ans) ;
  e->ans = 0 ; e->len = 0 ;
}

uint64_t dnscache_now (void)
{
  struct timespec t ;
  clock_gettime(CLOCK_MONOTONIC, &t) ;
  return (uint64_t)t.tv_sec ;
}

int dnscache_get (uint16_t type, char const *name, unsigned char *buf, size_t max, uint64_t now)
{
  char n[256] ;
  entry *e ;
  if (!norm(n, name) || !(e = find(type, n))) return -1 ;
  if (now >= e->expires) { drop(e) ; return -1 ; }
  if (e->len > max) return -1 ;
  memcpy(buf, e->ans, e->len) ;
  return (int)e->len ;
}

/* how long the answer may be kept: 0 not at all */
static uint32_t lifetime (unsigned char const *ans, size_t len, uint16_t type)
{
  ns_msg m ;
  ns_rr rr ;
  int rcode, i, count ;
  uint32_t ttl = DNSCACHE_MAXTTL ;
  int found = 0 ;
  if (ns_initparse(ans, (int)len, &m) < 0) return 0 ;
  if (ns_msg_getflag(m, ns_f_tc) || ns_msg_getflag(m, ns_f_qr) != 1) return 0 ;
  rcode = ns_msg_getflag(m, ns_f_rcode) ;
  if (rcode != ns_r_noerror && rcode != ns_r_nxdomain) return 0 ;
  /* every record must parse: a malformed answer is not kept */
  count = ns_msg_count(m, ns_s_an) ;
  for (i = 0 ; i < count ; i++)
  {
    if (ns_parserr(&m, ns_s_an, i, &rr) < 0) return 0 ;
    if (ns_rr_ttl(rr) < ttl) ttl = ns_rr_ttl(rr) ;
    if (ns_rr_type(rr) == type) found = 1 ;
  }
  if (rcode == ns_r_noerror && found) return ttl ;
  /* negative: the SOA of the authority section says for how long */
  count = ns_msg_count(m, ns_s_ns) ;
  for (i = 0 ; i < count ; i++)
  {
    unsigned char const *rd ;
    uint32_t minimum ;
    if (ns_parserr(&m, ns_s_ns, i, &rr) < 0) return 0 ;
    if (ns_rr_type(rr) != ns_t_soa) continue ;
    /* MNAME, RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM: 20 bytes */
    rd = ns_rr_rdata(rr) ;
    {
      int k1, k2 ;
      char dn[NS_MAXDNAME] ;
      k1 = dn_expand(ns_msg_base(m), ns_msg_end(m), rd, dn, sizeof dn) ;
      if (k1 < 0) return 0 ;
      k2 = dn_expand(ns_msg_base(m), ns_msg_end(m), rd + k1, dn, sizeof dn) ;
      if (k2 < 0 || k1 + k2 + 20 > ns_rr_rdlen(rr)) return 0 ;
      rd += k1 + k2 + 16 ;
    }
    minimum = ((uint32_t)rd[0] << 24) | ((uint32_t)rd[1] << 16) | ((uint32_t)rd[2] << 8) | rd[3] ;
    if (ns_rr_ttl(rr) < ttl) ttl = ns_rr_ttl(rr) ;
    if (minimum < ttl) ttl = minimum ;
    return ttl ;
  }
  return 0 ;
}

unsigned int dnscache_put (uint16_t type, char const *name, unsigned char const *ans, size_t len, uint64_t now)
{
  char n[256] ;
  entry *e ;
  uint32_t ttl ;
  if (!len || len > DNSCACHE_MAXLEN || !norm(n, name)) return 0 ;
  ttl = lifetime(ans, len, type) ;
  if (!ttl) return 0 ;
  e = find(type, n) ;
  if (!e)
  {
    /* a free slot, else an expired one, else the oldest */
    entry *old = cache ;
    for (unsigned int i = 0 ; i < DNSCACHE_MAX && !e ; i++)
    {
      if (!cache[i].ans || now >= cache[i].expires) e = cache + i ;
      else if (cache[i].born < old->born) old = cache + i ;
    }
    if (!e) e = old ;
  }
  drop(e) ;
  e->ans = malloc(len) ;
  if (!e->ans) return 0 ;
  memcpy(e->ans, ans, len) ;
  e->len = len ; e->type = type ; e->born = now ; e->expires = now + ttl ;
  memcpy(e->name, n, strlen(n) + 1) ;
  return ttl ;
}

void dnscache_clear (void)
{
  for (unsigned int i = 0 ; i < DNSCACHE_MAX ; i++) drop(cache + i) ;
}
