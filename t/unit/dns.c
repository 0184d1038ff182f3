/* unit tests for tools/lib/dns: names, addresses, the server setting, and the reply parser
   fed crafted packets (garbage, compression loops, lengths past the end, wrong IDs).
   Run as "dns DIR" by t/02-unit.t (exit 0 = all pass).
   Also "dns ask TYPE NAME MILLISECS" (t/30-dns.t): one lookup through the blocking API,
   printing "status errno-name" then the records one per line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "atomic.h"
#include "dns.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

/* ---- a packet builder */

typedef struct { unsigned char b[4096] ; size_t n ; } pkt ;

static void p16 (pkt *p, unsigned int u) { p->b[p->n++] = (u >> 8) & 0xff ; p->b[p->n++] = u & 0xff ; }
static void p32 (pkt *p, unsigned long u) { p16(p, (u >> 16) & 0xffff) ; p16(p, u & 0xffff) ; }
static void pbytes (pkt *p, void const *s, size_t n) { memcpy(p->b + p->n, s, n) ; p->n += n ; }
static void pname (pkt *p, char const *name)
{
  char w[DNS_NAME_MAX] ;
  size_t n = dns_name_pack(w, name) ;
  if (!n) { fprintf(stderr, "bad test name %s\n", name) ; exit(2) ; }
  pbytes(p, w, n) ;
}
static void phdr (pkt *p, unsigned int id, unsigned int flags, unsigned int qd, unsigned int an)
{
  p->n = 0 ; p16(p, id) ; p16(p, flags) ; p16(p, qd) ; p16(p, an) ; p16(p, 0) ; p16(p, 0) ;
}
/* a record: owner, type, class IN, ttl, then rdlen; the caller adds the rdata */
static void prr (pkt *p, char const *owner, unsigned int type, unsigned int rdlen)
{
  pname(p, owner) ; p16(p, type) ; p16(p, 1) ; p32(p, 300) ; p16(p, rdlen) ;
}
/* a reply to query q: header with the query's ID and the question copied */
static void preply (pkt *p, char const *q, size_t qlen, unsigned int flags, unsigned int an)
{
  phdr(p, (unsigned char)q[0] << 8 | (unsigned char)q[1], flags, 1, an) ;
  pbytes(p, q + 12, qlen - 12) ;
}

static char query[DNS_QUERY_MAX] ;
static size_t qlen ;
static void mkquery (char const *name, unsigned int type)
{
  char w[DNS_NAME_MAX] ;
  CHECK(dns_name_pack(w, name)) ;
  qlen = dns_query_make(query, 0x1234, w, type) ;
}

static int parse (stralloc *sa, pkt const *p)
{
  sa->len = 0 ;
  return dns_reply_parse(sa, (char const *)p->b, p->n, query, qlen) ;
}

static void test_names (void)
{
  char w[DNS_NAME_MAX], w2[DNS_NAME_MAX] ;
  stralloc sa = STRALLOC_ZERO ;
  char big[400] ;
  size_t n, pos ;

  CHECK(dns_name_pack(w, "Example.COM") == 13 && !memcmp(w, "\7Example\3COM\0", 13)) ;
  CHECK(dns_name_pack(w2, "example.com.") == 13 && dns_name_equal(w, w2)) ;
  CHECK(dns_name_pack(w, ".") == 1 && !w[0]) ;
  CHECK(dns_name_pack(w, "") == 1 && !w[0]) ;
  errno = 0 ;
  CHECK(!dns_name_pack(w, "a..b") && errno == EINVAL) ;
  CHECK(!dns_name_pack(w, ".a")) ;
  CHECK(!dns_name_pack(w, "a\\")) ;
  CHECK(!dns_name_pack(w, "a\\25")) ;
  CHECK(!dns_name_pack(w, "a\\256")) ;
  CHECK(dns_name_pack(w, "a\\.b.c\\065") == 8 && !memcmp(w, "\3a.b\2cA\0", 8)) ;
  memset(big, 'a', 63) ; big[63] = 0 ;
  CHECK(dns_name_pack(w, big) == 65) ;
  memset(big, 'a', 64) ; big[64] = 0 ;
  CHECK(!dns_name_pack(w, big)) ;
  /* 4 labels of 63: 4*64 + 1 = 257 > 255 */
  for (n = 0 ; n < 4 ; n++) { memset(big + n * 64, 'b', 63) ; big[n * 64 + 63] = '.' ; }
  big[4 * 64 - 1] = 0 ;
  CHECK(!dns_name_pack(w, big)) ;
  big[3 * 64 + 61] = 0 ;   /* 3*64 + 62 + 1 = 255: the longest name */
  CHECK(dns_name_pack(w, big) == 255) ;
  big[3 * 64 + 61] = 'b' ; big[3 * 64 + 62] = 0 ;
  CHECK(!dns_name_pack(w, big)) ;

  CHECK(!dns_name_equal("\1a\0", "\1b\0") && !dns_name_equal("\1a\0", "\2aa\0") && dns_name_equal("\1A\0", "\1a\0")) ;

  sa.len = 0 ;
  CHECK(dns_name_cat(&sa, "\7ExAmPle\4c*m.\0") && sa.len == 18 && !memcmp(sa.s, "example.c\\042m\\046", 18)) ;
  sa.len = 0 ;
  CHECK(dns_name_cat(&sa, "\0") && sa.len == 1 && sa.s[0] == '.') ;
  sa.len = 0 ;
  CHECK(dns_name_cat(&sa, "\3a\n\377\0") && sa.len == 9 && !memcmp(sa.s, "a\\010\\255", 9)) ;
  {
    /* what dns_name_cat writes, dns_name_pack reads back to the same wire name */
    char w2[256] ;
    CHECK(dns_name_pack(w2, "a\\010\\255") == 5 && !memcmp(w2, "\3a\n\377\0", 5)) ;
  }

  /* unpack: plain, compressed, and every way to go wrong */
  {
    static char const ok[] = "\1a\0\3www\300\0" ;   /* "a" at 0, "www" + pointer to 0 at 3 */
    pos = 3 ;
    CHECK(dns_name_unpack(w, ok, 9, &pos) == 7 && pos == 9 && !memcmp(w, "\3www\1a\0", 7)) ;
    pos = 3 ;
    CHECK(!dns_name_unpack(w, ok, 8, &pos) && errno == EBADMSG) ;   /* pointer cut in half */
    pos = 3 ;
    CHECK(!dns_name_unpack(w, ok, 5, &pos)) ;                       /* label past the end */
  }
  {
    static char const self[] = "\300\0" ;             /* a pointer to itself */
    pos = 0 ;
    CHECK(!dns_name_unpack(w, self, 2, &pos)) ;
  }
  {
    static char const fwd[] = "\300\2\1a\0" ;         /* a forward pointer */
    pos = 0 ;
    CHECK(!dns_name_unpack(w, fwd, 5, &pos)) ;
  }
  {
    static char const loop2[] = "\1a\300\0" ;         /* label, then back to it: grows forever */
    pos = 0 ;
    CHECK(!dns_name_unpack(w, loop2, 4, &pos)) ;
  }
  {
    static char const chain[] = "\1a\0\300\0\300\3\300\5" ;   /* pointer to pointer to pointer: fine */
    pos = 7 ;
    CHECK(dns_name_unpack(w, chain, 9, &pos) == 3 && pos == 9 && !memcmp(w, "\1a\0", 3)) ;
  }
  {
    static char const reserved[] = "\100abc\0" ;       /* label type 01 */
    pos = 0 ;
    CHECK(!dns_name_unpack(w, reserved, 5, &pos)) ;
    pos = 0 ;
    CHECK(!dns_name_unpack(w, "\200abc", 4, &pos)) ;
    pos = 0 ;
    CHECK(!dns_name_unpack(w, "", 0, &pos)) ;
    pos = 5 ;
    CHECK(!dns_name_unpack(w, reserved, 5, &pos)) ;
  }
  {
    /* many pointers, each adding a label: stops at 255 bytes */
    char buf[600] ;
    size_t i ;
    buf[0] = 0 ;
    for (i = 1 ; i + 4 < sizeof buf ; i += 4) { buf[i] = 1 ; buf[i + 1] = 'x' ; buf[i + 2] = (char)(0xc0 | ((i - (i == 1 ? 1 : 4)) >> 8)) ; buf[i + 3] = (char)((i - (i == 1 ? 1 : 4)) & 0xff) ; }
    pos = i - 4 ;
    CHECK(!dns_name_unpack(w, buf, i, &pos)) ;
  }
  stralloc_free(&sa) ;
}

static void test_addresses (void)
{
  char ip[16], s[DNS_REVERSE_MAX] ;
  int is6 ;
  CHECK(dns_ip_scan(ip, &is6, "1.2.3.4") && !is6 && !memcmp(ip, "\1\2\3\4", 4)) ;
  CHECK(dns_ip_reverse(s, ip, 0) == 7 && !strcmp(s, "4.3.2.1")) ;
  CHECK(dns_ip_scan(ip, &is6, "::ffff:10.0.0.200") && !is6 && !memcmp(ip, "\12\0\0\310", 4)) ;
  CHECK(dns_ip_reverse(s, ip, 0) == 10 && !strcmp(s, "200.0.0.10")) ;
  CHECK(dns_ip_scan(ip, &is6, "2001:db8::567:89ab") && is6) ;
  CHECK(dns_ip_reverse(s, ip, 1) == 63 && !strcmp(s, "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2")) ;
  CHECK(!dns_ip_scan(ip, &is6, "1.2.3")) ;
  CHECK(!dns_ip_scan(ip, &is6, "1.2.3.4 ")) ;
  CHECK(!dns_ip_scan(ip, &is6, "")) ;
  CHECK(!dns_ip_scan(ip, &is6, "example.com")) ;
  CHECK(!dns_ip_scan(ip, &is6, "1.2.3.256")) ;
}

static void test_server (char const *dir)
{
  dns_server srv ;
  char path[512], text[512] ;
  CHECK(dns_server_scan(&srv, "127.0.0.1") && !srv.is6 && srv.port == 53 && !memcmp(srv.ip, "\177\0\0\1", 4)) ;
  CHECK(dns_server_scan(&srv, "127.0.0.2:5353") && !srv.is6 && srv.port == 5353 && !memcmp(srv.ip, "\177\0\0\2", 4)) ;
  CHECK(dns_server_scan(&srv, "::1") && srv.is6 && srv.port == 53 && !memcmp(srv.ip, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16)) ;
  CHECK(dns_server_scan(&srv, "[::1]:5353") && srv.is6 && srv.port == 5353) ;
  CHECK(dns_server_scan(&srv, "[::1]") && srv.is6 && srv.port == 53) ;
  {
    static char const *const bad[] = { "", "localhost", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
      "127.0.0.1:53x", "127.0.0.1:-1", "127.0.0.1: 53", " 127.0.0.1", "127.0.0.1 ", "[::1", "[::1]:",
      "[::1]53", "[127.0.0.1]:53", "::1:53:", "1.2.3.4.5", "127.0.0.1,127.0.0.2", ":53", "[]:53", 0 } ;
    unsigned int i ;
    for (i = 0 ; bad[i] ; i++)
    {
      srv.port = 7 ;
      errno = 0 ;
      if (dns_server_scan(&srv, bad[i]) || errno != EINVAL || srv.port != 7)
      { fprintf(stderr, "accepted bad server \"%s\"\n", bad[i]) ; failed++ ; }
    }
  }
  setenv("DNSCACHEIP", "127.0.0.9:99", 1) ;
  CHECK(dns_server_get(&srv) && srv.port == 99 && !memcmp(srv.ip, "\177\0\0\11", 4)) ;
  setenv("DNSCACHEIP", "127.0.0.1:99999", 1) ;
  errno = 0 ;
  CHECK(!dns_server_get(&srv) && errno == EINVAL) ;
  unsetenv("DNSCACHEIP") ;

  snprintf(path, sizeof path, "%s/resolv.conf", dir) ;
  snprintf(text, sizeof text, "# comment\nsearch example.com\nnameserverx 1.1.1.1\n  nameserver fe80::1%%eth0\nnameserver\t10.0.0.53 # first usable\nnameserver 10.0.0.54\n") ;
  CHECK(atomic_write(path, text, strlen(text), 0644)) ;
  CHECK(dns_server_resolvconf(&srv, path) && !srv.is6 && srv.port == 53 && !memcmp(srv.ip, "\12\0\0\65", 4)) ;
  snprintf(text, sizeof text, "nameserver 2001:db8::53") ;   /* no final newline */
  CHECK(atomic_write(path, text, strlen(text), 0644)) ;
  CHECK(dns_server_resolvconf(&srv, path) && srv.is6 && srv.port == 53 && srv.ip[15] == 0x53) ;
  snprintf(text, sizeof text, "options ndots:2\n") ;
  CHECK(atomic_write(path, text, strlen(text), 0644)) ;
  CHECK(dns_server_resolvconf(&srv, path) && !srv.is6 && !memcmp(srv.ip, "\177\0\0\1", 4)) ;
  snprintf(path, sizeof path, "%s/absent", dir) ;
  CHECK(dns_server_resolvconf(&srv, path) && !memcmp(srv.ip, "\177\0\0\1", 4) && srv.port == 53) ;
  CHECK(!dns_server_resolvconf(&srv, dir) && errno == EISDIR) ;
}

static void test_replies (void)
{
  stralloc sa = STRALLOC_ZERO ;
  pkt p ;
  size_t i ;

  mkquery("2.0.0.127.bl.example", DNS_T_A) ;
  CHECK(qlen == 12 + 22 + 4) ;
  CHECK(query[2] == 1 && query[3] == 0) ;   /* RD */

  /* a plain answer with two addresses, the second owner compressed */
  preply(&p, query, qlen, 0x8180, 2) ;
  prr(&p, "2.0.0.127.bl.example", DNS_T_A, 4) ; pbytes(&p, "\177\0\0\2", 4) ;
  p16(&p, 0xc00c) ; p16(&p, DNS_T_A) ; p16(&p, 1) ; p32(&p, 1) ; p16(&p, 4) ; pbytes(&p, "\177\0\0\12", 4) ;
  CHECK(parse(&sa, &p) == 1 && sa.len == 8 && !memcmp(sa.s, "\177\0\0\2\177\0\0\12", 8)) ;

  /* every cut of that packet: never found, never a crash */
  {
    size_t full = p.n ;
    for (i = 0 ; i < full ; i++)
    {
      int r ;
      p.n = i ;
      r = parse(&sa, &p) ;
      if (r == 1 || (r == -1 && sa.len)) { fprintf(stderr, "cut at %zu: %d\n", i, r) ; failed++ ; }
    }
    p.n = full ;
  }

  /* the question in another case is still ours (some servers echo 0x20 case) */
  {
    pkt q2 = p ;
    q2.b[23] = 'B' ; q2.b[24] = 'L' ;
    CHECK(parse(&sa, &q2) == 1 && sa.len == 8) ;
  }

  /* wrong ID, not a response, another opcode, no question, two questions */
  {
    pkt x = p ;
    x.b[1] ^= 1 ; CHECK(parse(&sa, &x) == DNS_R_NOTOURS) ;
    x = p ; x.b[2] &= 0x7f ; CHECK(parse(&sa, &x) == DNS_R_NOTOURS) ;
    x = p ; x.b[2] |= 0x10 ; CHECK(parse(&sa, &x) == DNS_R_NOTOURS) ;
    x = p ; x.b[5] = 0 ; CHECK(parse(&sa, &x) == DNS_R_NOTOURS) ;
    x = p ; x.b[5] = 2 ; CHECK(parse(&sa, &x) == DNS_R_NOTOURS) ;
    x = p ; x.b[12 + 1] = 'x' ; CHECK(parse(&sa, &x) == DNS_R_NOTOURS) ;   /* another name */
    x = p ; x.b[qlen - 3] = DNS_T_TXT ; CHECK(parse(&sa, &x) == DNS_R_NOTOURS) ;   /* another type */
    x = p ; x.b[qlen - 1] = 3 ; CHECK(parse(&sa, &x) == DNS_R_NOTOURS) ;   /* another class */
  }

  /* TC, NXDOMAIN, SERVFAIL, REFUSED, NOTIMP, NOERROR without answers */
  preply(&p, query, qlen, 0x8380, 0) ; CHECK(parse(&sa, &p) == DNS_R_TRUNC) ;
  preply(&p, query, qlen, 0x8183, 0) ; CHECK(parse(&sa, &p) == 0) ;
  preply(&p, query, qlen, 0x8182, 0) ; errno = 0 ; CHECK(parse(&sa, &p) == -1 && errno == EAGAIN) ;
  preply(&p, query, qlen, 0x8185, 0) ; errno = 0 ; CHECK(parse(&sa, &p) == -1 && errno == ECONNREFUSED) ;
  preply(&p, query, qlen, 0x8184, 0) ; errno = 0 ; CHECK(parse(&sa, &p) == -1 && errno == EPROTO) ;
  preply(&p, query, qlen, 0x8180, 0) ; CHECK(parse(&sa, &p) == 0 && !sa.len) ;

  /* an answer count larger than the answers, an rdlen past the end, a bad A length */
  preply(&p, query, qlen, 0x8180, 2) ;
  prr(&p, "2.0.0.127.bl.example", DNS_T_A, 4) ; pbytes(&p, "\177\0\0\2", 4) ;
  errno = 0 ; CHECK(parse(&sa, &p) == -1 && errno == EBADMSG && !sa.len) ;
  preply(&p, query, qlen, 0x8180, 1) ;
  prr(&p, "2.0.0.127.bl.example", DNS_T_A, 40) ; pbytes(&p, "\177\0\0\2", 4) ;
  CHECK(parse(&sa, &p) == -1 && errno == EBADMSG) ;
  preply(&p, query, qlen, 0x8180, 1) ;
  prr(&p, "2.0.0.127.bl.example", DNS_T_A, 3) ; pbytes(&p, "\177\0\0", 3) ;
  CHECK(parse(&sa, &p) == -1 && errno == EBADMSG) ;
  /* out is left alone on error */
  sa.len = 0 ; CHECK(stralloc_catb(&sa, "keep", 4)) ;
  CHECK(dns_reply_parse(&sa, (char *)p.b, p.n, query, qlen) == -1 && sa.len == 4) ;

  /* a compression loop in an answer's owner, and one in the question */
  preply(&p, query, qlen, 0x8180, 1) ;
  p16(&p, 0xc000 | (unsigned int)p.n) ; p16(&p, DNS_T_A) ; p16(&p, 1) ; p32(&p, 1) ; p16(&p, 4) ; pbytes(&p, "\1\2\3\4", 4) ;
  CHECK(parse(&sa, &p) == -1 && errno == EBADMSG) ;
  phdr(&p, 0x1234, 0x8180, 1, 0) ; p16(&p, 0xc00c) ; p16(&p, DNS_T_A) ; p16(&p, 1) ;
  CHECK(parse(&sa, &p) == DNS_R_NOTOURS) ;

  /* records of other names and classes are not answers */
  preply(&p, query, qlen, 0x8180, 2) ;
  prr(&p, "3.0.0.127.bl.example", DNS_T_A, 4) ; pbytes(&p, "\1\1\1\1", 4) ;
  pname(&p, "2.0.0.127.bl.example") ; p16(&p, DNS_T_A) ; p16(&p, 3) ; p32(&p, 1) ; p16(&p, 4) ; pbytes(&p, "\1\1\1\1", 4) ;
  CHECK(parse(&sa, &p) == 0) ;

  /* a CNAME chain, in any order */
  preply(&p, query, qlen, 0x8180, 3) ;
  prr(&p, "c.example", DNS_T_A, 4) ; pbytes(&p, "\11\11\11\11", 4) ;
  prr(&p, "b.example", DNS_T_CNAME, 11) ; pname(&p, "c.example") ;
  prr(&p, "2.0.0.127.bl.example", DNS_T_CNAME, 11) ; pname(&p, "b.example") ;
  CHECK(parse(&sa, &p) == 1 && sa.len == 4 && !memcmp(sa.s, "\11\11\11\11", 4)) ;
  /* a CNAME loop */
  preply(&p, query, qlen, 0x8180, 2) ;
  prr(&p, "b.example", DNS_T_CNAME, 22) ; pname(&p, "2.0.0.127.bl.example") ;
  prr(&p, "2.0.0.127.bl.example", DNS_T_CNAME, 11) ; pname(&p, "b.example") ;
  errno = 0 ; CHECK(parse(&sa, &p) == -1 && errno == ELOOP) ;
  /* a CNAME whose target name runs past its rdata */
  preply(&p, query, qlen, 0x8180, 1) ;
  prr(&p, "2.0.0.127.bl.example", DNS_T_CNAME, 3) ; pname(&p, "b.example") ;
  CHECK(parse(&sa, &p) == -1 && errno == EBADMSG) ;

  /* TXT: strings joined, records 0-terminated, NUL made visible, bad lengths refused */
  mkquery("2.0.0.127.bl.example", DNS_T_TXT) ;
  preply(&p, query, qlen, 0x8180, 2) ;
  prr(&p, "2.0.0.127.bl.example", DNS_T_TXT, 9) ; pbytes(&p, "\3abc\4de\0f", 9) ;
  prr(&p, "2.0.0.127.bl.example", DNS_T_TXT, 1) ; pbytes(&p, "\0", 1) ;
  CHECK(parse(&sa, &p) == 1 && sa.len == 9 && !memcmp(sa.s, "abcde?f\0\0", 9)) ;
  preply(&p, query, qlen, 0x8180, 1) ;
  prr(&p, "2.0.0.127.bl.example", DNS_T_TXT, 4) ; pbytes(&p, "\4abc", 4) ;
  CHECK(parse(&sa, &p) == -1 && errno == EBADMSG) ;
  preply(&p, query, qlen, 0x8180, 1) ;
  prr(&p, "2.0.0.127.bl.example", DNS_T_TXT, 0) ;
  CHECK(parse(&sa, &p) == 1 && sa.len == 1 && !sa.s[0]) ;

  /* PTR with a compressed target, MX */
  mkquery("1.0.0.127.in-addr.arpa", DNS_T_PTR) ;
  preply(&p, query, qlen, 0x8180, 1) ;
  p16(&p, 0xc00c) ; p16(&p, DNS_T_PTR) ; p16(&p, 1) ; p32(&p, 1) ; p16(&p, 8) ;
  pbytes(&p, "\4Host\300\026", 7) ;   /* host. + pointer to "in-addr.arpa" at 22 */
  pbytes(&p, "", 1) ;                  /* rdlen 8 > 7 bytes of name: allowed, not beyond */
  CHECK(parse(&sa, &p) == 1 && sa.len == 18 && !memcmp(sa.s, "host.in-addr.arpa\0", 18)) ;
  mkquery("example.com", DNS_T_MX) ;
  preply(&p, query, qlen, 0x8180, 1) ;
  prr(&p, "example.com", DNS_T_MX, 2 + 2 + 2) ; p16(&p, 10) ; pbytes(&p, "\1m\300\014", 4) ;
  CHECK(parse(&sa, &p) == 1 && sa.len == 2 + 14 && !memcmp(sa.s, "\0\12m.example.com\0", 16)) ;
  preply(&p, query, qlen, 0x8180, 1) ;
  prr(&p, "example.com", DNS_T_MX, 2) ; p16(&p, 10) ;
  CHECK(parse(&sa, &p) == -1 && errno == EBADMSG) ;

  /* random garbage, and random bytes after a good header and question: no crash, no find
     without a sane record (the sanitizer run checks the memory side) */
  {
    unsigned long seed = 12345 ;
    unsigned int round ;
    mkquery("x.example", DNS_T_TXT) ;
    for (round = 0 ; round < 100000 ; round++)
    {
      size_t n, j, keep = round & 1 ? qlen : 0 ;
      seed = seed * 6364136223846793005UL + 1442695040888963407UL ;
      n = keep + (seed >> 33) % 300 ;
      if (keep) preply(&p, query, qlen, 0x8180, (unsigned int)(seed >> 20) & 7) ;
      for (j = keep ; j < n ; j++)
      {
        seed = seed * 6364136223846793005UL + 1442695040888963407UL ;
        p.b[j] = (unsigned char)(seed >> 40) ;
        if (keep && j == keep && (seed & 0x300)) p.b[j] = 0xc0 ;   /* many pointers */
      }
      p.n = n ;
      sa.len = 0 ;
      (void)dns_reply_parse(&sa, (char *)p.b, p.n, query, qlen) ;
    }
  }
  stralloc_free(&sa) ;
}

static int ask (char const *type, char const *name, char const *ms)
{
  stralloc sa = STRALLOC_ZERO ;
  tain deadline ;
  unsigned int msec ;
  size_t i ;
  int r ;
  if (!uint0_scan(ms, &msec)) return 2 ;
  tain_now_g() ;
  tain_from_millisecs(&deadline, (int)msec) ;
  tain_add_g(&deadline, &deadline) ;
  if (!strcmp(type, "ptr")) r = dns_ptr(&sa, name, &deadline) ;
  else if (!strcmp(type, "ip46")) r = dns_ip46(&sa, name, &deadline) ;
  else if (!strcmp(type, "a")) r = dns_a(&sa, name, &deadline) ;
  else if (!strcmp(type, "txt")) r = dns_txt(&sa, name, &deadline) ;
  else if (!strcmp(type, "mx")) r = dns_mx(&sa, name, &deadline) ;
  else return 2 ;
  printf("%d %s\n", r, r < 0 ? strerror(errno) : "-") ;
  if (r != 1) return 0 ;
  if (!strcmp(type, "ptr")) printf("%s %zu\n", sa.s, sa.len) ;
  else if (!strcmp(type, "a")) for (i = 0 ; i + 4 <= sa.len ; i += 4)
    printf("%u.%u.%u.%u\n", (unsigned char)sa.s[i], (unsigned char)sa.s[i + 1], (unsigned char)sa.s[i + 2], (unsigned char)sa.s[i + 3]) ;
  else if (!strcmp(type, "ip46")) for (i = 0 ; i + 16 <= sa.len ; i += 16)
  {
    unsigned int j ;
    for (j = 0 ; j < 16 ; j += 2) printf("%s%02x%02x", j ? ":" : "", (unsigned char)sa.s[i + j], (unsigned char)sa.s[i + j + 1]) ;
    printf("\n") ;
  }
  else if (!strcmp(type, "txt")) for (i = 0 ; i < sa.len ; i += strlen(sa.s + i) + 1) printf("%s\n", sa.s + i) ;
  else for (i = 0 ; i + 2 < sa.len ; i += 2 + strlen(sa.s + i + 2) + 1)
    printf("%u %s\n", (unsigned char)sa.s[i] << 8 | (unsigned char)sa.s[i + 1], sa.s + i + 2) ;
  stralloc_free(&sa) ;
  return 0 ;
}

int main (int argc, char const *const *argv)
{
  if (argc == 5 && !strcmp(argv[1], "ask")) return ask(argv[2], argv[3], argv[4]) ;
  if (argc < 2) { fprintf(stderr, "usage: dns scratchdir | dns ask type name millisecs\n") ; return 2 ; }
  test_names() ;
  test_addresses() ;
  test_server(argv[1]) ;
  test_replies() ;
  return failed ? 1 : 0 ;
}
