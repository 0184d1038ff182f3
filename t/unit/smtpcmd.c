/* unit tests for tools/lib/smtpcmd: line assembly, verbs, paths, parameters, UTF-8. */
#include <stdio.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "smtpcmd.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

static smtpline l ;

/* feed s in chunks of size step; return smtpline_finish's verdict and bytes used */
static int feedline (char const *s, size_t len, size_t step, size_t *used)
{
  int done = 0 ;
  size_t i = 0 ;
  smtpline_reset(&l) ;
  while (!done && i < len)
  {
    size_t n = len - i < step ? len - i : step ;
    i += smtpline_feed(&l, s + i, n, &done) ;
  }
  *used = i ;
  return done ? smtpline_finish(&l) : -1 ;
}

static stralloc a = STRALLOC_ZERO ;

static int path (char const *s, char const *kw, int *flags, size_t *params)
{
  return smtpcmd_path(s, strlen(s), kw, &a, flags, params) ;
}

static int pathis (char const *s, char const *kw, char const *want)
{
  int flags ;
  size_t params ;
  return path(s, kw, &flags, &params) == SMTPPATH_OK && !strcmp(a.s, want) && a.len == strlen(want) ;
}

int main (void)
{
  size_t used, params, arg ;
  int flags ;

  /* lines: CRLF and bare LF end a line; the rest stays for the next one */
  CHECK(feedline("NOOP\r\nQUIT\r\n", 12, 1, &used) == SMTPLINE_OK && used == 6 && !strcmp(l.s, "NOOP")) ;
  CHECK(feedline("NOOP\r\nQUIT\r\n", 12, 100, &used) == SMTPLINE_OK && used == 6 && l.len == 4) ;
  CHECK(feedline("NOOP\nQUIT", 9, 3, &used) == SMTPLINE_OK && used == 5 && !strcmp(l.s, "NOOP")) ;
  CHECK(feedline("NO\rOP\r\n", 7, 2, &used) == SMTPLINE_BARECR) ;
  CHECK(feedline("NOOP\r\r\n", 7, 7, &used) == SMTPLINE_BARECR) ;
  CHECK(feedline("RCPT TO:<a@b>\0@c\r\n", 18, 5, &used) == SMTPLINE_NUL) ;
  CHECK(feedline("\r\n", 2, 1, &used) == SMTPLINE_OK && l.len == 0) ;
  CHECK(feedline("NOOP", 4, 4, &used) == -1) ;   /* incomplete */
  {
    static char big[SMTPCMD_LINEMAX * 3] ;
    memset(big, 'x', sizeof big) ;
    big[SMTPCMD_LINEMAX] = '\r' ; big[SMTPCMD_LINEMAX + 1] = '\n' ;
    CHECK(feedline(big, SMTPCMD_LINEMAX + 2, 7, &used) == SMTPLINE_OK && l.len == SMTPCMD_LINEMAX) ;
    big[SMTPCMD_LINEMAX] = 'x' ; big[SMTPCMD_LINEMAX + 1] = '\r' ; big[SMTPCMD_LINEMAX + 2] = '\n' ;
    CHECK(feedline(big, SMTPCMD_LINEMAX + 3, 7, &used) == SMTPLINE_TOOLONG) ;
    big[SMTPCMD_LINEMAX + 1] = 'x' ; big[SMTPCMD_LINEMAX + 2] = 'x' ;
    big[sizeof big - 1] = '\n' ;
    CHECK(feedline(big, sizeof big, 1000, &used) == SMTPLINE_TOOLONG && used == sizeof big) ;
    CHECK(l.len <= SMTPCMD_LINEMAX + 1) ;
  }

  /* verbs */
  CHECK(smtpcmd_verb("ehlo  x.y", 9, &arg) == SMTPVERB_EHLO && arg == 6) ;
  CHECK(smtpcmd_verb("MaIl FROM:<>", 12, &arg) == SMTPVERB_MAIL && arg == 5) ;
  CHECK(smtpcmd_verb("QUIT", 4, &arg) == SMTPVERB_QUIT && arg == 4) ;
  CHECK(smtpcmd_verb("QUITX", 5, &arg) == SMTPVERB_UNKNOWN) ;
  CHECK(smtpcmd_verb("QUI", 3, &arg) == SMTPVERB_UNKNOWN) ;
  CHECK(smtpcmd_verb("", 0, &arg) == SMTPVERB_UNKNOWN && arg == 0) ;
  CHECK(smtpcmd_verb("GET / HTTP/1.0", 14, &arg) == SMTPVERB_HTTP) ;
  CHECK(smtpcmd_verb("starttls", 8, &arg) == SMTPVERB_STARTTLS) ;
  CHECK(smtpcmd_verb(" MAIL", 5, &arg) == SMTPVERB_UNKNOWN) ;

  /* paths */
  CHECK(pathis("FROM:<user@example.com>", "from", "user@example.com")) ;
  CHECK(pathis("from:<>", "from", "")) ;
  CHECK(pathis("FROM: <user@example.com>", "from", "user@example.com")) ;
  CHECK(pathis("FROM:user@example.com", "from", "user@example.com")) ;
  CHECK(pathis("TO:<@a.example,@b.example:user@c.example>", "to", "user@c.example")) ;
  CHECK(pathis("TO:<\"john doe\"@example.com>", "to", "john doe@example.com")) ;
  CHECK(pathis("TO:<\"a\\\"b\\\\c\"@example.com>", "to", "a\"b\\c@example.com")) ;
  CHECK(pathis("TO:<\"x@y\"@example.com>", "to", "x@y@example.com")) ;
  CHECK(pathis("TO:<user@[192.0.2.1]>", "to", "user@[192.0.2.1]")) ;
  CHECK(pathis("TO:<user@[IPv6:2001:db8::1]>", "to", "user@[IPv6:2001:db8::1]")) ;
  CHECK(pathis("TO:<Postmaster>", "to", "Postmaster")) ;
  CHECK(pathis("TO:<a.b+c=d@Sub-1.Example.COM>", "to", "a.b+c=d@Sub-1.Example.COM")) ;
  CHECK(path("TO:<user@[IPv6:2001:db8::1]>", "to", &flags, &params) == 0 && (flags & SMTPPATH_LITERAL) && (flags & SMTPPATH_DOMAIN)) ;
  CHECK(path("TO:<postmaster>", "to", &flags, &params) == 0 && !(flags & SMTPPATH_DOMAIN)) ;
  CHECK(path("FROM:<a@b.c> SIZE=100 BODY=8BITMIME", "from", &flags, &params) == 0 && params == 13) ;
  CHECK(path("FROM:<a@b.c>", "from", &flags, &params) == 0 && params == 12) ;
  /* bad paths */
  CHECK(path("FROM<a@b.c>", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("TO:<a@b.c>", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("FROM:<a@b.c", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("FROM:<a@b.c>x", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("FROM:<a b@c.d>", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("FROM:<a@b..c>", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("FROM:<a@>", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("FROM:<@b.c>", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("FROM:<a@[300.1.1.1]>", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("FROM:<a@[IPv6:zz::1]>", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("FROM:<a@[foo:bar]>", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("FROM:<\"a\001\"@b.c>", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("FROM:<\"\"@b.c>", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("FROM:<a<b@c.d>", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("FROM:<a@b.c>>", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("FROM:", "from", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("TO:<a@b_c.example-x.com>", "to", &flags, &params) == 0) ;
  {
    char buf[600] ;
    memset(buf, 'a', sizeof buf) ;
    memcpy(buf, "TO:<", 4) ;
    memcpy(buf + 4 + 251, "@b.cd>", 7) ;   /* 256-octet mailbox */
    CHECK(path(buf, "to", &flags, &params) == 0 && a.len == 256) ;
    buf[4 + 251] = 'a' ;
    memcpy(buf + 4 + 252, "@b.cd>", 7) ;   /* 257 */
    CHECK(path(buf, "to", &flags, &params) == SMTPPATH_TOOLONG) ;
    memset(buf, 'a', sizeof buf) ;
    memcpy(buf, "TO:<x@", 6) ;
    memcpy(buf + 6 + 64, ".com>", 6) ;     /* a 64-octet label */
    CHECK(path(buf, "to", &flags, &params) == SMTPPATH_SYNTAX) ;
  }
  /* UTF-8 (RFC 6531) */
  CHECK(path("TO:<j\xc3\xb6rg@b\xc3\xbc\x63her.example>", "to", &flags, &params) == 0 && (flags & SMTPPATH_UTF8)) ;
  CHECK(path("TO:<j\xc3rg@example.com>", "to", &flags, &params) == SMTPPATH_SYNTAX) ;
  CHECK(path("TO:<a@example.com>", "to", &flags, &params) == 0 && !(flags & SMTPPATH_UTF8)) ;
  CHECK(smtpcmd_utf8valid("\xe2\x82\xac", 3)) ;
  CHECK(smtpcmd_utf8valid("\xf0\x9f\x98\x80", 4)) ;
  CHECK(!smtpcmd_utf8valid("\xc0\xaf", 2)) ;           /* overlong */
  CHECK(!smtpcmd_utf8valid("\xed\xa0\x80", 3)) ;       /* surrogate */
  CHECK(!smtpcmd_utf8valid("\xf4\x90\x80\x80", 4)) ;   /* > U+10FFFF */
  CHECK(!smtpcmd_utf8valid("\xe2\x82", 2)) ;           /* truncated */

  /* parameters */
  {
    char const *s = "FROM:<a@b.c> SIZE=123  BODY=8BITMIME SMTPUTF8" ;
    char const *k, *v ;
    size_t kl, vl, pos ;
    CHECK(path(s, "from", &flags, &pos) == 0) ;
    CHECK(smtpcmd_param(s, strlen(s), &pos, &k, &kl, &v, &vl) == 1 && kl == 4 && !memcmp(k, "SIZE", 4) && vl == 3 && !memcmp(v, "123", 3)) ;
    CHECK(smtpcmd_param(s, strlen(s), &pos, &k, &kl, &v, &vl) == 1 && smtpcmd_is(k, kl, "body") && smtpcmd_is(v, vl, "8bitmime")) ;
    CHECK(smtpcmd_param(s, strlen(s), &pos, &k, &kl, &v, &vl) == 1 && smtpcmd_is(k, kl, "smtputf8") && !v) ;
    CHECK(smtpcmd_param(s, strlen(s), &pos, &k, &kl, &v, &vl) == 0) ;
    pos = 0 ;
    CHECK(smtpcmd_param("SIZE=", 5, &pos, &k, &kl, &v, &vl) == -1) ;
    pos = 0 ;
    CHECK(smtpcmd_param("-X", 2, &pos, &k, &kl, &v, &vl) == -1) ;
    pos = 0 ;
    CHECK(smtpcmd_param("A=b=c", 5, &pos, &k, &kl, &v, &vl) == -1) ;
  }
  CHECK(smtpcmd_is("PoStMaStEr", 10, "postmaster")) ;
  CHECK(!smtpcmd_is("postmaste", 9, "postmaster")) ;
  CHECK(!smtpcmd_is("postmasterx", 11, "postmaster")) ;

  stralloc_free(&a) ;
  return !!failed ;
}
