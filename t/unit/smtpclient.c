/* unit tests for tools/lib/smtpclient: replies fed in pieces, their text, EHLO keywords,
   paths, and the DATA encoding (line ends, dot-stuffing, size) fed in every split. */
#include <stdio.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "smtpclient.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

static smtpreply r = SMTPREPLY_ZERO ;

/* feed s in pieces of step bytes; the verdict, and the bytes used in *used */
static int feed (char const *s, size_t len, size_t step, size_t *used)
{
  size_t i = 0 ;
  smtpreply_reset(&r) ;
  while (i < len)
  {
    size_t n = len - i < step ? len - i : step, u ;
    int v = smtpreply_feed(&r, s + i, n, &u) ;
    i += u ;
    if (v) { *used = i ; return v ; }
  }
  *used = i ;
  return 0 ;
}

/* a whole reply at once */
static int feeds (char const *s)
{
  size_t used ;
  return feed(s, strlen(s), strlen(s), &used) == 1 && used == strlen(s) ;
}

static stralloc sa = STRALLOC_ZERO ;

static char const *text (size_t max)
{
  sa.len = 0 ;
  if (!smtpreply_text(&sa, &r, max) || !stralloc_0(&sa)) return "(nomem)" ;
  return sa.s ;
}

static char const *path (char const *addr)
{
  sa.len = 0 ;
  if (!smtpclient_path(&sa, addr) || !stralloc_0(&sa)) return "(nomem)" ;
  return sa.s ;
}

/* encode s in pieces of step bytes, into out; returns its length, size and 8bit in e */
static size_t encode (char const *s, size_t len, size_t step, char *out, smtpenc *e)
{
  size_t i = 0, o = 0 ;
  smtpenc z = SMTPENC_ZERO ;
  *e = z ;
  while (i < len)
  {
    size_t n = len - i < step ? len - i : step ;
    o += smtpenc_feed(e, s + i, n, out + o) ;
    i += n ;
  }
  o += smtpenc_end(e, out + o) ;
  return o ;
}

/* the encoding of s is want (and its size wantsize) for every split, and counting alone
   finds the same size */
static int encodes (char const *s, size_t len, char const *want, uint64_t wantsize)
{
  char out[1024] ;
  size_t step ;
  size_t wlen = strlen(want) ;
  for (step = 1 ; step <= len + 1 ; step++)
  {
    smtpenc e, c = SMTPENC_ZERO ;
    size_t n = encode(s, len, step, out, &e) ;
    if (n != wlen || memcmp(out, want, n) || e.size != wantsize) return 0 ;
    smtpenc_feed(&c, s, len, 0) ;
    smtpenc_end(&c, 0) ;
    if (c.size != wantsize || c.eightbit != e.eightbit) return 0 ;
  }
  return 1 ;
}

int main (void)
{
  size_t used ;
  uint64_t sizemax ;
  unsigned int step ;

  /* replies: one line, several lines, in any pieces; what follows is left alone */
  for (step = 1 ; step <= 40 ; step++)
  {
    static char const two[] = "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n220 next" ;
    CHECK(feed("220 mx.example ESMTP\r\nEHLO", 26, step, &used) == 1 && used == 22 && r.code == 220 && r.n == 1) ;
    CHECK(feed(two, sizeof two - 1, step, &used) == 1 && used == sizeof two - 1 - 8 && r.code == 250 && r.n == 3) ;
  }
  CHECK(feed("250 ok\n", 7, 7, &used) == 1 && r.code == 250) ;      /* a bare LF ends a line too */
  CHECK(feed("354\r\n", 5, 5, &used) == 1 && r.code == 354) ;       /* the code alone */
  CHECK(feed("250-\r\n250 x\r\n", 13, 3, &used) == 1 && r.n == 2) ;  /* an empty continuation */
  CHECK(feed("250 ok", 6, 6, &used) == 0 && used == 6) ;             /* not complete */
  CHECK(feed("250-a\r\n550 b\r\n", 14, 14, &used) == 1 && r.code == 550) ;   /* the last line's code */
  /* malformed */
  CHECK(feed("25 ok\r\n", 7, 7, &used) == -1) ;
  CHECK(feed("2x0 ok\r\n", 8, 8, &used) == -1) ;
  CHECK(feed("650 ok\r\n", 8, 8, &used) == -1) ;
  CHECK(feed("250:ok\r\n", 8, 8, &used) == -1) ;
  CHECK(feed("\r\n", 2, 2, &used) == -1) ;
  CHECK(feed("HTTP/1.1 400\r\n", 14, 5, &used) == -1) ;
  {
    /* too many lines: malformed, not an endless read */
    static char many[(SMTPREPLY_LINES + 1) * 6 + 8] ;
    size_t i, n = 0 ;
    for (i = 0 ; i <= SMTPREPLY_LINES ; i++) { memcpy(many + n, "250-x\n", 6) ; n += 6 ; }
    memcpy(many + n, "250 y\n", 6) ; n += 6 ;
    CHECK(feed(many, n, 4096, &used) == -1) ;
  }
  {
    /* a line too long is cut, and still ends at its LF */
    static char big[SMTPREPLY_LINEMAX * 3] ;
    memset(big, 'x', sizeof big) ;
    memcpy(big, "550 ", 4) ;
    memcpy(big + sizeof big - 2, "\r\n", 2) ;
    CHECK(feed(big, sizeof big, 777, &used) == 1 && used == sizeof big && r.code == 550
          && strlen(r.lines.s) == SMTPREPLY_LINEMAX) ;
  }

  /* text: lines joined, control bytes replaced, cut at max */
  CHECK(feeds("550-5.1.1 first\r\n550 5.1.1 se\tcond \xc3\xa9\r\n")) ;
  CHECK(!strcmp(text(1000), "550-5.1.1 first / 550 5.1.1 se?cond ??")) ;
  CHECK(!strcmp(text(12), "550-5.1.1 fi...")) ;
  CHECK(!strcmp(text(17), "550-5.1.1 first...")) ;

  /* EHLO keywords */
  CHECK(feeds("250-mx.example hello\r\n250-pipelining\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250-STARTTLS\r\n250 SMTPUTF8\r\n")) ;
  CHECK(smtpclient_ehlo(&r, &sizemax) == (SMTPEHLO_PIPELINING | SMTPEHLO_SIZE | SMTPEHLO_8BITMIME | SMTPEHLO_STARTTLS | SMTPEHLO_SMTPUTF8)
        && sizemax == 10240000) ;
  CHECK(feeds("250-PIPELINING.example\r\n250 SIZE\r\n")) ;   /* the first line is a name */
  CHECK(smtpclient_ehlo(&r, &sizemax) == SMTPEHLO_SIZE && sizemax == 0) ;
  CHECK(feeds("250-x\r\n250-SIZE junk\r\n250 PIPELININGX\r\n")) ;
  CHECK(smtpclient_ehlo(&r, &sizemax) == SMTPEHLO_SIZE && sizemax == 0) ;
  CHECK(feeds("250 mx.example\r\n")) ;
  CHECK(smtpclient_ehlo(&r, &sizemax) == 0) ;

  /* paths */
  CHECK(!strcmp(path(""), "<>")) ;
  CHECK(!strcmp(path("joe@example.com"), "<joe@example.com>")) ;
  CHECK(!strcmp(path("j.o+e=x@example.com"), "<j.o+e=x@example.com>")) ;
  CHECK(!strcmp(path("joe smith@example.com"), "<\"joe smith\"@example.com>")) ;
  CHECK(!strcmp(path("a\"b\\c@example.com"), "<\"a\\\"b\\\\c\"@example.com>")) ;
  CHECK(!strcmp(path(".joe@example.com"), "<\".joe\"@example.com>")) ;
  CHECK(!strcmp(path("jo..e@example.com"), "<\"jo..e\"@example.com>")) ;
  CHECK(!strcmp(path("a@b@example.com"), "<\"a@b\"@example.com>")) ;   /* the last @ splits */
  CHECK(!strcmp(path("j\xc3\xb6rg@example.com"), "<j\xc3\xb6rg@example.com>")) ;
  CHECK(!strcmp(path("postmaster"), "<postmaster>")) ;
  CHECK(smtpclient_isutf8("j\xc3\xb6rg@x") && !smtpclient_isutf8("joe@x")) ;

  /* the DATA encoding */
  CHECK(encodes("", 0, ".\r\n", 0)) ;
  CHECK(encodes("a\nb\n", 4, "a\r\nb\r\n.\r\n", 6)) ;
  CHECK(encodes("a\nb", 3, "a\r\nb\r\n.\r\n", 6)) ;                      /* a final line end added */
  CHECK(encodes(".\n..\n.x\nx.\n", 11, "..\r\n...\r\n..x\r\nx.\r\n.\r\n", 15)) ;
  CHECK(encodes("a\r\nb\r\n", 6, "a\r\nb\r\n.\r\n", 6)) ;                /* CR LF stays one line end */
  CHECK(encodes("a\r.\rb", 5, "a\r\n..\r\nb\r\n.\r\n", 9)) ;             /* a lone CR ends a line */
  CHECK(encodes("a\r", 2, "a\r\n.\r\n", 3)) ;
  CHECK(encodes("\n.\n", 3, "\r\n..\r\n.\r\n", 5)) ;                     /* smuggling: LF . LF */
  CHECK(encodes("\r\n.\r\n", 5, "\r\n..\r\n.\r\n", 5)) ;
  {
    smtpenc e ;
    char out[64] ;
    encode("caf\xc3\xa9\n", 6, 2, out, &e) ;
    CHECK(e.eightbit) ;
    encode("cafe\n", 5, 2, out, &e) ;
    CHECK(!e.eightbit) ;
  }
  return !!failed ;
}
