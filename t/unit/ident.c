/* unit test for tools/lib/ident: parsing RFC 1413 replies. */
#include <stdio.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "ident.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

static int parse (stralloc *sa, char const *s, uint16_t r, uint16_t l)
{
  sa->len = 0 ;
  int x = ident_parse(sa, s, strlen(s), r, l) ;
  if (!stralloc_0(sa)) return -1 ;
  return x ;
}

int main (void)
{
  stralloc sa = STRALLOC_ZERO ;
  char big[700] ;
  CHECK(parse(&sa, "6193, 23 : USERID : UNIX : stjohns\r\n", 6193, 23) == 1 && !strcmp(sa.s, "stjohns")) ;
  CHECK(parse(&sa, "6193,23:USERID:UNIX:stjohns", 6193, 23) == 1 && !strcmp(sa.s, "stjohns")) ;
  CHECK(parse(&sa, " 6193 , 23 : userid : OTHER,US-ASCII :  a b:c \r\n", 6193, 23) == 1 && !strcmp(sa.s, "a b:c")) ;
  CHECK(parse(&sa, "6193, 23 : ERROR : NO-USER\r\n", 6193, 23) == 0) ;
  CHECK(parse(&sa, "6193, 24 : USERID : UNIX : x\r\n", 6193, 23) == 0) ;
  CHECK(parse(&sa, "6194, 23 : USERID : UNIX : x\r\n", 6193, 23) == 0) ;
  CHECK(parse(&sa, "6193, 23 : USERID : UNIX :   \r\n", 6193, 23) == 0) ;
  CHECK(parse(&sa, "6193, 23 : USERID : UNIX\r\n", 6193, 23) == 0) ;
  CHECK(parse(&sa, "99999, 23 : USERID : UNIX : x\r\n", 34463, 23) == 0) ;
  CHECK(parse(&sa, "garbage", 1, 2) == 0) ;
  CHECK(parse(&sa, "", 1, 2) == 0) ;
  CHECK(parse(&sa, "1, 2 : USERID : UNIX : a\rb\r\n", 1, 2) == 0) ;
  memset(big, 'u', sizeof big) ;
  memcpy(big, "1,2:USERID:UNIX:", 16) ;
  sa.len = 0 ;
  CHECK(ident_parse(&sa, big, sizeof big, 1, 2) == 1 && sa.len == IDENT_USERMAX) ;
  stralloc_free(&sa) ;
  return !!failed ;
}
