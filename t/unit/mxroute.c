/* unit tests for tools/lib/mxroute: smtproutes lines and their precedence, address
   literals, the order of MX records (preferences, equal ones shuffled, null MX), the lines
   of tlsdestinations, the destination key of a session. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "mxroute.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

static mxroute rt ;
static unsigned int badline ;

static int lookup (char const *text, char const *domain)
{
  memset(&rt, 0, sizeof rt) ;
  badline = 0 ;
  return mxroute_lookup(&rt, text, strlen(text), domain, &badline) ;
}

/* the route of domain is host:port (port 0: none given) */
static int routes (char const *text, char const *domain, char const *host, unsigned int port)
{
  return lookup(text, domain) == 1 && !strcmp(rt.host, host) && rt.port == port ;
}

/* the key of domain's destination is want */
static int keyis (char const *routes, char const *tls, size_t tlen, char const *domain, char const *want)
{
  stralloc k = STRALLOC_ZERO ;
  int ok = mxroute_key(&k, routes, strlen(routes), tls, tlen, domain) == 1 && k.len == strlen(want) + 1 && !strcmp(k.s, want) ;
  if (!ok) fprintf(stderr, "key of %s: %s\n", domain, k.len ? k.s : "(none)") ;
  stralloc_free(&k) ;
  return ok ;
}

/* mx records from "pref name" pairs */
static size_t mxrecs (char *out, unsigned int const *prefs, char const *const *names, unsigned int n)
{
  size_t len = 0 ;
  unsigned int i ;
  for (i = 0 ; i < n ; i++)
  {
    out[len++] = (char)(prefs[i] >> 8) ; out[len++] = (char)(prefs[i] & 255) ;
    memcpy(out + len, names[i], strlen(names[i]) + 1) ;
    len += strlen(names[i]) + 1 ;
  }
  return len ;
}

int main (void)
{
  static char const table[] =
    "# routes\n"
    "\n"
    "example.com:relay.example.net\n"
    ".example.com:sub.example.net:2525\n"
    "  .com:dotcom.example.net \t\r\n"
    "mx.example.org::2526\n"
    "literal.example:[192.0.2.7]:26\n"
    "six.example:[IPv6:2001:db8::25]\n"
    "bare6.example:[::1]:2527\n"
    "ip.example:192.0.2.9\n"
    "EXAMPLE.COM:second.example.net\n"
    ":default.example.net\n" ;
  char ip[16] ;
  int is6 ;

  /* smtproutes: exact, parents from the longest, the default; case ignored; first wins */
  CHECK(routes(table, "example.com", "relay.example.net", 0)) ;
  CHECK(routes(table, "Example.COM", "relay.example.net", 0)) ;
  CHECK(routes(table, "a.b.example.com", "sub.example.net", 2525)) ;
  CHECK(routes(table, "other.com", "dotcom.example.net", 0)) ;
  CHECK(routes(table, "com", "default.example.net", 0)) ;          /* ".com" is for its subdomains */
  CHECK(routes(table, "example.org", "default.example.net", 0)) ;
  CHECK(routes(table, "mx.example.org", "", 2526)) ;               /* MX records, another port */
  CHECK(routes(table, "literal.example", "192.0.2.7", 26) && rt.isip && !rt.is6 && !memcmp(rt.ip, "\300\0\2\7", 4)) ;
  CHECK(routes(table, "six.example", "2001:db8::25", 0) && rt.isip && rt.is6 && !memcmp(rt.ip, "\x20\x01\x0d\xb8", 4)) ;
  CHECK(routes(table, "bare6.example", "::1", 2527) && rt.isip && rt.is6) ;
  CHECK(routes(table, "ip.example", "192.0.2.9", 0) && rt.isip && !rt.is6) ;
  CHECK(routes("example.com:\n", "example.com", "", 0) && !rt.isip) ;
  CHECK(lookup("example.com:x.example\n", "example.org") == 0) ;
  CHECK(lookup("", "example.org") == 0) ;
  CHECK(routes("[192.0.2.1]:relay.example", "[192.0.2.1]", "relay.example", 0)) ;   /* a literal domain */
  CHECK(routes("x.example:relay.example", "x.example", "relay.example", 0)) ;       /* no final newline */
  /* bad lines, wherever they are, and their numbers */
  CHECK(lookup("example.com:a\nnocolon\n", "example.com") == -1 && badline == 2) ;
  CHECK(lookup("\n# c\nx:y:0\n", "z") == -1 && badline == 3) ;           /* port 0 */
  CHECK(lookup("x:y:65536\n", "z") == -1 && badline == 1) ;
  CHECK(lookup("x:y:25x\n", "z") == -1) ;
  CHECK(lookup("x:y:\n", "z") == -1) ;
  CHECK(lookup("x:y:25:1\n", "z") == -1) ;
  CHECK(lookup("x:2001:db8::1\n", "z") == -1) ;                         /* IPv6 needs brackets */
  CHECK(lookup("x:[2001:db8::1\n", "z") == -1) ;
  CHECK(lookup("x:[not.an.ip]\n", "z") == -1) ;
  CHECK(lookup("x:[IPv6:192.0.2.1]\n", "z") == -1) ;
  CHECK(lookup("x:bad host\n", "z") == -1) ;
  CHECK(lookup("bad domain:y\n", "z") == -1) ;
  CHECK(lookup("..x:y\n", "z") == -1) ;

  /* address literals */
  CHECK(mxroute_literal(ip, &is6, "[192.0.2.1]", 11) && !is6 && !memcmp(ip, "\300\0\2\1", 4)) ;
  CHECK(mxroute_literal(ip, &is6, "[IPv6:::1]", 10) && is6 && ip[15] == 1) ;
  CHECK(mxroute_literal(ip, &is6, "[ipv6:2001:db8::1]", 18) && is6) ;
  CHECK(mxroute_literal(ip, &is6, "[::1]", 5) && is6) ;
  CHECK(!mxroute_literal(ip, &is6, "192.0.2.1", 9)) ;
  CHECK(!mxroute_literal(ip, &is6, "[192.0.2]", 9)) ;
  CHECK(!mxroute_literal(ip, &is6, "[]", 2)) ;
  CHECK(!mxroute_literal(ip, &is6, "[example.com]", 13)) ;

  /* tlsdestinations: the domain and its subdomains' names, or the line's names */
  {
    static char const tls[] = "example.org\0other.example:mx.other.example,.relay.example\0empty.example:\0" ;
    stralloc names = STRALLOC_ZERO ;
    CHECK(mxroute_tls(&names, tls, sizeof tls - 1, "EXAMPLE.org") == 1 && names.len == 25
          && !strcmp(names.s, "EXAMPLE.org") && !strcmp(names.s + 12, ".EXAMPLE.org")) ;
    names.len = 0 ;
    CHECK(mxroute_tls(&names, tls, sizeof tls - 1, "other.example") == 1 && !strcmp(names.s, "mx.other.example")
          && !strcmp(names.s + 17, ".relay.example") && names.len == 32) ;
    names.len = 0 ;
    CHECK(mxroute_tls(&names, tls, sizeof tls - 1, "sub.example.org") == 0 && !names.len) ;
    CHECK(mxroute_tls(&names, tls, sizeof tls - 1, "empty.example") == -1 && errno == EINVAL) ;
    CHECK(mxroute_tls(&names, "", 0, "example.org") == 0) ;
    stralloc_free(&names) ;
  }

  /* the destination of a session: the relay (shared), the domain, a TLS domain alone */
  {
    static char const tls[] = "secure.example\0" ;
    static char const rt[] = "a.example:Relay.Example:2525\nb.example:relay.example:2525\nc.example:relay.example\n"
      "d.example:[192.0.2.1]\ne.example:192.0.2.1:25\nmx.example::2526\nsecure.example:relay.example:2525\n" ;
    stralloc k = STRALLOC_ZERO ;
    CHECK(keyis(rt, tls, sizeof tls - 1, "a.example", "Rrelay.example:2525")) ;
    CHECK(keyis(rt, tls, sizeof tls - 1, "B.example", "Rrelay.example:2525")) ;
    CHECK(keyis(rt, tls, sizeof tls - 1, "c.example", "Rrelay.example:25")) ;
    CHECK(keyis(rt, tls, sizeof tls - 1, "d.example", "R192.0.2.1:25")) ;
    CHECK(keyis(rt, tls, sizeof tls - 1, "e.example", "R192.0.2.1:25")) ;
    CHECK(keyis(rt, tls, sizeof tls - 1, "mx.example", "Dmx.example")) ;
    CHECK(keyis(rt, tls, sizeof tls - 1, "Other.Example", "Dother.example")) ;
    CHECK(keyis(rt, tls, sizeof tls - 1, "[192.0.2.1]", "D[192.0.2.1]")) ;
    CHECK(keyis(rt, tls, sizeof tls - 1, "Secure.example", "Tsecure.example")) ;
    CHECK(mxroute_key(&k, "x:bad host\n", 11, "", 0, "x") == 0 && !k.len) ;
    CHECK(mxroute_key(&k, "", 0, "x:\0", 3, "x") == -1 && !k.len) ;
    stralloc_free(&k) ;
  }

  /* MX order */
  {
    static unsigned int const prefs[] = { 20, 10, 30, 10, 20 } ;
    static char const *const names[] = { "c.example", "a.example", "e.example", "b.example", "d.example" } ;
    char recs[256] ;
    size_t len = mxrecs(recs, prefs, names, 5) ;
    stralloc out = STRALLOC_ZERO ;
    int seen_ab = 0, seen_ba = 0, seen_cd = 0, seen_dc = 0, bad = 0 ;
    unsigned int k ;
    for (k = 0 ; k < 200 ; k++)
    {
      out.len = 0 ;
      if (mxroute_order(&out, recs, len) != 5) { bad++ ; continue ; }
      /* a and b first in some order, then c and d, then e */
      if (!strcmp(out.s, "a.example") && !strcmp(out.s + 10, "b.example")) seen_ab++ ;
      else if (!strcmp(out.s, "b.example") && !strcmp(out.s + 10, "a.example")) seen_ba++ ;
      else bad++ ;
      if (!strcmp(out.s + 20, "c.example") && !strcmp(out.s + 30, "d.example")) seen_cd++ ;
      else if (!strcmp(out.s + 20, "d.example") && !strcmp(out.s + 30, "c.example")) seen_dc++ ;
      else bad++ ;
      if (strcmp(out.s + 40, "e.example")) bad++ ;
    }
    CHECK(!bad && seen_ab && seen_ba && seen_cd && seen_dc) ;
    stralloc_free(&out) ;
  }
  {
    static unsigned int const prefs[] = { 0, 10 } ;
    static char const *const names[] = { ".", "mx.example" } ;
    char recs[64] ;
    stralloc out = STRALLOC_ZERO ;
    CHECK(mxroute_order(&out, recs, mxrecs(recs, prefs, names, 1)) == 0) ;            /* null MX */
    CHECK(mxroute_order(&out, recs, mxrecs(recs, prefs, names, 2)) == 1 && !strcmp(out.s, "mx.example")) ;
    CHECK(mxroute_order(&out, "\0\1ab", 4) == -1) ;                                  /* no final NUL */
    stralloc_free(&out) ;
  }
  return !!failed ;
}
