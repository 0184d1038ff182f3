/* unit tests for tools/lib/smtpdata: the DATA decoder, fed whole and byte by byte. */
#include <stdio.h>
#include <string.h>
#include "smtpdata.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

static char out[8192] ;
static size_t outlen, used ;
static smtpdata last ;

/* decode s in chunks of step bytes; the final status */
static int decode (char const *s, size_t len, size_t step)
{
  smtpdata d = SMTPDATA_ZERO ;
  int r = SMTPDATA_MORE ;
  size_t i = 0 ;
  outlen = 0 ;
  while (i < len && r == SMTPDATA_MORE)
  {
    size_t n = len - i < step ? len - i : step, u, p ;
    r = smtpdata_feed(&d, s + i, n, out + outlen, &u, &p) ;
    if (u > n || p > u) { failed++ ; fprintf(stderr, "decoder used/produced out of bounds\n") ; }
    i += u ; outlen += p ;
  }
  used = i ;
  last = d ;
  return r ;
}

/* the same result whatever the chunking */
static int same (char const *s, size_t len, int want, char const *wantout, size_t wantused)
{
  size_t step ;
  for (step = 1 ; step <= len ; step++)
  {
    int r = decode(s, len, step) ;
    if (r != want || outlen != strlen(wantout) || memcmp(out, wantout, outlen) || used != wantused)
    {
      fprintf(stderr, "step %zu: status %d used %zu out [%.*s]\n", step, r, used, (int)outlen, out) ;
      return 0 ;
    }
  }
  return 1 ;
}
#define S(lit) lit, sizeof(lit) - 1

int main (void)
{
  CHECK(same(S("Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n"), SMTPDATA_END, "Subject: x\n\nhello\n", 24)) ;
  CHECK(same(S(".\r\nQUIT\r\n"), SMTPDATA_END, "", 3)) ;                 /* empty message */
  CHECK(same(S("..x\r\n.x\r\n..\r\n.\r\n"), SMTPDATA_END, ".x\nx\n.\n", 16)) ;  /* transparency */
  CHECK(same(S("a.\r\n.\r\n"), SMTPDATA_END, "a.\n", 7)) ;
  {
    static char const m[] = "8bit \xff\x80 NUL \0 x\r\n.\r\n" ;
    CHECK(decode(m, sizeof m - 1, 3) == SMTPDATA_END && outlen == sizeof m - 1 - 4 && !memcmp(out, m, outlen - 1) && out[outlen - 1] == '\n') ;
  }
  /* not yet at the end */
  CHECK(same(S("hello\r\n.\r"), SMTPDATA_MORE, "hello\n", 9)) ;
  CHECK(same(S("hello\r\n."), SMTPDATA_MORE, "hello\n", 8)) ;
  CHECK(same(S("hello\r\n.."), SMTPDATA_MORE, "hello\n.", 9)) ;
  /* smuggling: nothing but CR LF . CR LF ends the data */
  CHECK(same(S("a\n.\nMAIL FROM:<x@y>\r\n"), SMTPDATA_BARELF, "a", 2)) ;
  CHECK(same(S("a\r\n.\nMAIL FROM:<x@y>\r\n"), SMTPDATA_BARELF, "a\n", 5)) ;
  CHECK(same(S("a\n.\r\nMAIL FROM:<x@y>\r\n"), SMTPDATA_BARELF, "a", 2)) ;
  CHECK(same(S("a\r.\r\nMAIL FROM:<x@y>\r\n"), SMTPDATA_BARECR, "a", 2)) ;
  CHECK(same(S("a\r\n.\rMAIL FROM:<x@y>\r\n"), SMTPDATA_BARECR, "a\n", 5)) ;
  CHECK(same(S("a\r.\rMAIL"), SMTPDATA_BARECR, "a", 2)) ;
  CHECK(same(S("\n.\n"), SMTPDATA_BARELF, "", 1)) ;
  CHECK(same(S("\r\n\r\r\n"), SMTPDATA_BARECR, "\n", 3)) ;
  CHECK(same(S("x\r\r\n.\r\n"), SMTPDATA_BARECR, "x", 2)) ;
  /* sizes: CR LF counts 2, stuffing dots and the final line do not */
  CHECK(decode(S("ab\r\n..\r\n.\r\n"), 100) == SMTPDATA_END && last.bytes == 7) ;
  /* hops: Received: and Delivered-To: in the header only, any case */
  {
    static char const m[] = "Received: a\r\nreceived:b\r\nDELIVERED-TO: c\r\nX-Received: no\r\n"
      " Received: folded, no\r\nReceived no\r\n\r\nReceived: in the body\r\n.\r\n" ;
    size_t step ;
    for (step = 1 ; step < sizeof m ; step += 7)
      CHECK(decode(m, sizeof m - 1, step) == SMTPDATA_END && last.hops == 3) ;
  }
  {
    static char const m[] = ".Received: stuffed\r\n.\r\n" ;
    CHECK(decode(m, sizeof m - 1, 1) == SMTPDATA_END && last.hops == 1) ;
  }
  return !!failed ;
}
