/* unit tests for tools/lib/dnscache: answers made here, byte by byte, kept for their TTL. */
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include "dnscache.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

static unsigned char pkt[8192] ;
static size_t plen ;

static void put16 (unsigned int v) { pkt[plen++] = v >> 8 ; pkt[plen++] = v & 255 ; }
static void put32 (unsigned long v) { put16(v >> 16) ; put16(v & 65535) ; }
static void putname (char const *n)
{
  while (*n)
  {
    char const *dot = strchr(n, '.') ;
    size_t k = dot ? (size_t)(dot - n) : strlen(n) ;
    pkt[plen++] = (unsigned char)k ;
    memcpy(pkt + plen, n, k) ; plen += k ;
    n += k ; if (*n == '.') n++ ;
  }
  pkt[plen++] = 0 ;
}

/* a header: rcode, flags (QR set unless noqr), counts; then the question */
static void start (char const *qname, unsigned int type, unsigned int rcode, unsigned int an, unsigned int ns, int tc, int noqr)
{
  plen = 0 ;
  put16(0x1234) ;
  put16((noqr ? 0 : 0x8000) | (tc ? 0x0200 : 0) | 0x0100 | 0x0080 | rcode) ;
  put16(1) ; put16(an) ; put16(ns) ; put16(0) ;
  putname(qname) ; put16(type) ; put16(1) ;
}

static void txt (char const *owner, unsigned long ttl, char const *text)
{
  size_t k = strlen(text) ;
  putname(owner) ; put16(ns_t_txt) ; put16(1) ; put32(ttl) ; put16(k + 1) ;
  pkt[plen++] = (unsigned char)k ; memcpy(pkt + plen, text, k) ; plen += k ;
}

static void cname (char const *owner, unsigned long ttl, char const *target)
{
  size_t at ;
  putname(owner) ; put16(ns_t_cname) ; put16(1) ; put32(ttl) ;
  at = plen ; put16(0) ;
  putname(target) ;
  pkt[at] = (plen - at - 2) >> 8 ; pkt[at + 1] = (plen - at - 2) & 255 ;
}

static void soa (char const *owner, unsigned long ttl, unsigned long minimum)
{
  size_t at ;
  putname(owner) ; put16(ns_t_soa) ; put16(1) ; put32(ttl) ;
  at = plen ; put16(0) ;
  putname("ns.example") ; putname("hostmaster.example") ;
  put32(1) ; put32(3600) ; put32(600) ; put32(86400) ; put32(minimum) ;
  pkt[at] = (plen - at - 2) >> 8 ; pkt[at + 1] = (plen - at - 2) & 255 ;
}

int main (void)
{
  unsigned char buf[8192] ;
  int n ;

  /* a positive answer: kept for its smallest TTL, given back byte for byte */
  start("s1._domainkey.example.org", ns_t_txt, ns_r_noerror, 2, 0, 0, 0) ;
  txt("s1._domainkey.example.org", 300, "v=DKIM1; p=AAAA") ;
  txt("s1._domainkey.example.org", 120, "second") ;
  CHECK(dnscache_put(ns_t_txt, "s1._domainkey.example.org", pkt, plen, 1000) == 120) ;
  n = dnscache_get(ns_t_txt, "s1._domainkey.example.org", buf, sizeof buf, 1000) ;
  CHECK(n == (int)plen && !memcmp(buf, pkt, plen)) ;
  /* names without case, with or without the final dot; another type is another entry */
  CHECK(dnscache_get(ns_t_txt, "S1._DomainKey.Example.ORG.", buf, sizeof buf, 1119) == (int)plen) ;
  CHECK(dnscache_get(ns_t_a, "s1._domainkey.example.org", buf, sizeof buf, 1000) == -1) ;
  CHECK(dnscache_get(ns_t_txt, "s2._domainkey.example.org", buf, sizeof buf, 1000) == -1) ;
  /* expired at born + TTL */
  CHECK(dnscache_get(ns_t_txt, "s1._domainkey.example.org", buf, sizeof buf, 1120) == -1) ;
  CHECK(dnscache_get(ns_t_txt, "s1._domainkey.example.org", buf, sizeof buf, 1000) == -1) ;   /* and gone */
  /* too small a buffer: not given */
  CHECK(dnscache_put(ns_t_txt, "s1._domainkey.example.org", pkt, plen, 2000) == 120) ;
  CHECK(dnscache_get(ns_t_txt, "s1._domainkey.example.org", buf, plen - 1, 2000) == -1) ;
  CHECK(dnscache_get(ns_t_txt, "s1._domainkey.example.org", buf, plen, 2000) == (int)plen) ;

  /* a TTL of 0: not kept; a huge TTL: DNSCACHE_MAXTTL */
  start("zero.example", ns_t_txt, ns_r_noerror, 1, 0, 0, 0) ;
  txt("zero.example", 0, "v=DMARC1; p=none") ;
  CHECK(dnscache_put(ns_t_txt, "zero.example", pkt, plen, 1000) == 0) ;
  CHECK(dnscache_get(ns_t_txt, "zero.example", buf, sizeof buf, 1000) == -1) ;
  start("long.example", ns_t_txt, ns_r_noerror, 1, 0, 0, 0) ;
  txt("long.example", 604800, "v=DMARC1; p=none") ;
  CHECK(dnscache_put(ns_t_txt, "long.example", pkt, plen, 1000) == DNSCACHE_MAXTTL) ;

  /* a CNAME then the record: the smaller TTL of the two */
  start("_dmarc.alias.example", ns_t_txt, ns_r_noerror, 2, 0, 0, 0) ;
  cname("_dmarc.alias.example", 60, "_dmarc.target.example") ;
  txt("_dmarc.target.example", 300, "v=DMARC1; p=reject") ;
  CHECK(dnscache_put(ns_t_txt, "_dmarc.alias.example", pkt, plen, 1000) == 60) ;

  /* negative answers: the SOA's negative TTL, the smaller of its TTL and MINIMUM */
  start("_dmarc.none.example", ns_t_txt, ns_r_nxdomain, 0, 1, 0, 0) ;
  soa("none.example", 900, 300) ;
  CHECK(dnscache_put(ns_t_txt, "_dmarc.none.example", pkt, plen, 1000) == 300) ;
  CHECK(dnscache_get(ns_t_txt, "_dmarc.none.example", buf, sizeof buf, 1299) == (int)plen) ;
  start("nodata.example", ns_t_txt, ns_r_noerror, 0, 1, 0, 0) ;
  soa("nodata.example", 60, 3600) ;
  CHECK(dnscache_put(ns_t_txt, "nodata.example", pkt, plen, 1000) == 60) ;
  /* a CNAME without the record asked for is negative too */
  start("c.example", ns_t_txt, ns_r_noerror, 1, 1, 0, 0) ;
  cname("c.example", 600, "d.example") ;
  soa("example", 600, 30) ;
  CHECK(dnscache_put(ns_t_txt, "c.example", pkt, plen, 1000) == 30) ;
  /* negative without a SOA: not kept */
  start("nosoa.example", ns_t_txt, ns_r_nxdomain, 0, 0, 0, 0) ;
  CHECK(dnscache_put(ns_t_txt, "nosoa.example", pkt, plen, 1000) == 0) ;

  /* never kept: SERVFAIL, REFUSED, truncated, not an answer, malformed, empty, too long */
  start("fail.example", ns_t_txt, ns_r_servfail, 0, 1, 0, 0) ; soa("example", 600, 600) ;
  CHECK(dnscache_put(ns_t_txt, "fail.example", pkt, plen, 1000) == 0) ;
  start("fail.example", ns_t_txt, ns_r_refused, 0, 1, 0, 0) ; soa("example", 600, 600) ;
  CHECK(dnscache_put(ns_t_txt, "fail.example", pkt, plen, 1000) == 0) ;
  start("fail.example", ns_t_txt, ns_r_noerror, 1, 0, 1, 0) ; txt("fail.example", 600, "x") ;
  CHECK(dnscache_put(ns_t_txt, "fail.example", pkt, plen, 1000) == 0) ;
  start("fail.example", ns_t_txt, ns_r_noerror, 1, 0, 0, 1) ; txt("fail.example", 600, "x") ;
  CHECK(dnscache_put(ns_t_txt, "fail.example", pkt, plen, 1000) == 0) ;
  start("fail.example", ns_t_txt, ns_r_noerror, 2, 0, 0, 0) ; txt("fail.example", 600, "x") ;   /* says 2, has 1 */
  CHECK(dnscache_put(ns_t_txt, "fail.example", pkt, plen, 1000) == 0) ;
  start("fail.example", ns_t_txt, ns_r_noerror, 1, 0, 0, 0) ; txt("fail.example", 600, "x") ;
  CHECK(dnscache_put(ns_t_txt, "fail.example", pkt, plen - 2, 1000) == 0) ;   /* cut short */
  CHECK(dnscache_put(ns_t_txt, "fail.example", pkt, 0, 1000) == 0) ;
  CHECK(dnscache_put(ns_t_txt, "fail.example", pkt, DNSCACHE_MAXLEN + 1, 1000) == 0) ;
  CHECK(dnscache_get(ns_t_txt, "fail.example", buf, sizeof buf, 1000) == -1) ;
  /* a name too long to be one */
  {
    char longname[300] ;
    memset(longname, 'a', sizeof longname - 1) ; longname[sizeof longname - 1] = 0 ;
    start("x.example", ns_t_txt, ns_r_noerror, 1, 0, 0, 0) ; txt("x.example", 600, "x") ;
    CHECK(dnscache_put(ns_t_txt, longname, pkt, plen, 1000) == 0) ;
    CHECK(dnscache_get(ns_t_txt, longname, buf, sizeof buf, 1000) == -1) ;
  }

  /* a newer answer replaces the one kept */
  start("r.example", ns_t_txt, ns_r_noerror, 1, 0, 0, 0) ; txt("r.example", 600, "old") ;
  CHECK(dnscache_put(ns_t_txt, "r.example", pkt, plen, 1000) == 600) ;
  start("r.example", ns_t_txt, ns_r_noerror, 1, 0, 0, 0) ; txt("r.example", 100, "new!") ;
  CHECK(dnscache_put(ns_t_txt, "r.example", pkt, plen, 1001) == 100) ;
  n = dnscache_get(ns_t_txt, "r.example", buf, sizeof buf, 1001) ;
  CHECK(n == (int)plen && !memcmp(buf, pkt, plen)) ;
  CHECK(dnscache_get(ns_t_txt, "r.example", buf, sizeof buf, 1101) == -1) ;

  /* full: the oldest makes room, the rest stay */
  dnscache_clear() ;
  for (int i = 0 ; i < DNSCACHE_MAX + 1 ; i++)
  {
    char name[64] ;
    snprintf(name, sizeof name, "k%d.example", i) ;
    start(name, ns_t_txt, ns_r_noerror, 1, 0, 0, 0) ; txt(name, 3000, "v") ;
    CHECK(dnscache_put(ns_t_txt, name, pkt, plen, 1000 + i) == 3000) ;
  }
  CHECK(dnscache_get(ns_t_txt, "k0.example", buf, sizeof buf, 2000) == -1) ;
  CHECK(dnscache_get(ns_t_txt, "k1.example", buf, sizeof buf, 2000) > 0) ;
  CHECK(dnscache_get(ns_t_txt, "k256.example", buf, sizeof buf, 2000) > 0) ;
  dnscache_clear() ;
  CHECK(dnscache_get(ns_t_txt, "k1.example", buf, sizeof buf, 2000) == -1) ;
  { uint64_t a = dnscache_now(), b = dnscache_now() ; CHECK(b >= a) ; }
  if (failed) { fprintf(stderr, "dnscache: %d checks failed\n", failed) ; return 1 ; }
  return 0 ;
}
