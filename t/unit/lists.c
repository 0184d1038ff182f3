/* unit tests for the lists' modules: addrset (addresses, buckets, changes), listcookie (HMAC
   of RFC 4231, cookies), dmarc_record, listmsg (header, fields, addresses). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/genalloc.h>
#include <skalibs/stralloc.h>
#include "addrset.h"
#include "dmarc.h"
#include "listcookie.h"
#include "listmsg.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

static int norm (char const *in, char const *want)
{
  stralloc sa = STRALLOC_ZERO ;
  int r = addrset_norm(&sa, in, strlen(in)) ;
  int ok = want ? r == 1 && !strcmp(sa.s, want) && sa.len == strlen(want) + 1 : r == 0 && sa.len == 0 ;
  stralloc_free(&sa) ;
  return ok ;
}

static void test_norm (void)
{
  CHECK(norm("Ann@Example.ORG", "ann@example.org")) ;
  CHECK(norm("a.b+c=d@x-y.example.com", "a.b+c=d@x-y.example.com")) ;
  CHECK(norm("o'neil@example.ie", "o'neil@example.ie")) ;
  CHECK(norm("a@b", 0)) ;
  CHECK(norm("@example.org", 0)) ;
  CHECK(norm("a@", 0)) ;
  CHECK(norm("a b@example.org", 0)) ;
  CHECK(norm("a..b@example.org", 0)) ;
  CHECK(norm("a.@example.org", 0)) ;
  CHECK(norm("a@-x.example.org", 0)) ;
  CHECK(norm("a@x-.example.org", 0)) ;
  CHECK(norm("a@x..org", 0)) ;
  CHECK(norm("\"a\"@example.org", 0)) ;
  CHECK(norm("a@b@example.org", 0)) ;
  {
    char big[80] ;
    memset(big, 'a', 65) ; strcpy(big + 65, "@example.org") ;
    CHECK(norm(big, 0)) ;
    big[64] = 0 ; strcat(big, "@example.org") ;
    CHECK(norm(big, big)) ;
  }
  CHECK(addrset_bucket("ann@example.org") == 6) ;     /* the example of sluice-list(5) */
  CHECK(addrset_bucket("bob@example.net") == 127) ;
}

static void test_set (char const *base)
{
  char dir[1024] ;
  stralloc sa = STRALLOC_ZERO ;
  size_t changed ;
  char const add[] = "b@example.org\0a@example.org\0b@example.org\0c@example.net" ;
  snprintf(dir, sizeof dir, "%s/set", base) ;
  CHECK(addrset_has(dir, "a@example.org") == 0) ;      /* no directory: empty */
  CHECK(addrset_cat(dir, &sa) == 1 && sa.len == 0) ;
  CHECK(addrset_change(dir, 1, add, sizeof add, &changed) == 1 && changed == 3) ;
  CHECK(addrset_change(dir, 1, add, sizeof add, &changed) == 1 && changed == 0) ;
  CHECK(addrset_has(dir, "a@example.org") == 1) ;
  CHECK(addrset_has(dir, "c@example.net") == 1) ;
  CHECK(addrset_has(dir, "d@example.net") == 0) ;
  CHECK(addrset_cat(dir, &sa) == 1 && sa.len == 3 * 15) ;
  CHECK(addrset_change(dir, 0, "a@example.org\0z@example.org", 28, &changed) == 1 && changed == 1) ;
  CHECK(addrset_has(dir, "a@example.org") == 0) ;
  sa.len = 0 ;
  CHECK(addrset_cat(dir, &sa) == 1 && sa.len == 2 * 15) ;
  CHECK(sa.s[0] == 'T' && sa.s[sa.len - 1] == 0) ;
  stralloc_free(&sa) ;
}

static void test_cookie (void)
{
  /* RFC 4231 test case 1 and 2 */
  static unsigned char const want1[32] = { 0xb0,0x34,0x4c,0x61,0xd8,0xdb,0x38,0x53,0x5c,0xa8,0xaf,0xce,0xaf,0x0b,0xf1,0x2b,0x88,0x1d,0xc2,0x00,0xc9,0x83,0x3d,0xa7,0x26,0xe9,0x37,0x6c,0x2e,0x32,0xcf,0xf7 } ;
  static unsigned char const want2[32] = { 0x5b,0xdc,0xc1,0x46,0xbf,0x60,0x75,0x4e,0x6a,0x04,0x24,0x26,0x08,0x95,0x75,0xc7,0x5a,0x00,0x3f,0x08,0x9d,0x27,0x39,0x83,0x9d,0xec,0x58,0xb9,0x64,0xec,0x38,0x43 } ;
  char key[20], mac[32], c[LISTCOOKIE_MAX + 1] ;
  size_t n ;
  memset(key, 0x0b, 20) ;
  listcookie_hmac(mac, key, 20, "Hi There", 8) ;
  CHECK(!memcmp(mac, want1, 32)) ;
  listcookie_hmac(mac, "Jefe", 4, "what do ya want for nothing?", 28) ;
  CHECK(!memcmp(mac, want2, 32)) ;
  n = listcookie_make(c, "secret-key-0123456789", 21, "sc", "ann@example.org", 1700000000) ;
  CHECK(n == 31 && !strncmp(c, "1700000000.", 11) && strlen(c) == n) ;
  for (size_t i = 11 ; i < n ; i++) CHECK((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= '2' && c[i] <= '7')) ;
  CHECK(listcookie_check("secret-key-0123456789", 21, "sc", "ann@example.org", c, n, 1700000100, 3600) == 1) ;
  CHECK(listcookie_check("secret-key-0123456789", 21, "uc", "ann@example.org", c, n, 1700000100, 3600) == 0) ;
  CHECK(listcookie_check("secret-key-0123456789", 21, "sc", "bob@example.org", c, n, 1700000100, 3600) == 0) ;
  CHECK(listcookie_check("another-key-012345678", 21, "sc", "ann@example.org", c, n, 1700000100, 3600) == 0) ;
  CHECK(listcookie_check("secret-key-0123456789", 21, "sc", "ann@example.org", c, n, 1700003601, 3600) == -1) ;
  CHECK(listcookie_check("secret-key-0123456789", 21, "sc", "ann@example.org", c, n, 1699990000, 3600) == -1) ;
  CHECK(listcookie_check("secret-key-0123456789", 21, "sc", "ann@example.org", c, n - 1, 1700000100, 3600) == 0) ;
  c[n - 1] = c[n - 1] == 'a' ? 'b' : 'a' ;
  CHECK(listcookie_check("secret-key-0123456789", 21, "sc", "ann@example.org", c, n, 1700000100, 3600) == 0) ;
  CHECK(listcookie_check("k", 1, "sc", "a", "", 0, 1, 1) == 0) ;
  CHECK(listcookie_check("k", 1, "sc", "a", "0.aaaaaaaaaaaaaaaaaaaa", 22, 1, 1) == 0) ;
}

static void test_dmarc (void)
{
  CHECK(dmarc_record("v=DMARC1; p=reject", 0) == DMARC_REJECT) ;
  CHECK(dmarc_record("v=DMARC1;p=quarantine;pct=50", 0) == DMARC_QUARANTINE) ;
  CHECK(dmarc_record("v=DMARC1; p=none", 0) == DMARC_NONE) ;
  CHECK(dmarc_record("v=DMARC1; p = Reject ; rua=mailto:x@y", 0) == DMARC_REJECT) ;
  CHECK(dmarc_record("v=DMARC1; p=none; sp=reject", 1) == DMARC_REJECT) ;
  CHECK(dmarc_record("v=DMARC1; p=none; sp=reject", 0) == DMARC_NONE) ;
  CHECK(dmarc_record("v=DMARC1; p=reject", 1) == DMARC_REJECT) ;
  CHECK(dmarc_record("v=DMARC1", 0) == DMARC_NONE) ;
  CHECK(dmarc_record("v=spf1 -all", 0) == -1) ;
  CHECK(dmarc_record("p=reject; v=DMARC1", 0) == -1) ;
  CHECK(dmarc_record("", 0) == -1) ;
}

static int addr (char const *v, char const *want, char const *wantname)
{
  stralloc a = STRALLOC_ZERO, n = STRALLOC_ZERO ;
  int r = listmsg_addr(v, strlen(v), &a, &n) ;
  int ok = want ? r == 1 && !strcmp(a.s, want) && n.len == strlen(wantname) && (!n.len || !memcmp(n.s, wantname, n.len)) : r == 0 ;
  stralloc_free(&a) ; stralloc_free(&n) ;
  return ok ;
}

static void test_addr (void)
{
  CHECK(addr("Ann <Ann@Example.org>", "ann@example.org", "Ann")) ;
  CHECK(addr("\"Doe, Ann\" <ann@example.org>, bob@example.net", "ann@example.org", "Doe, Ann")) ;
  CHECK(addr("ann@example.org (Ann Doe)", "ann@example.org", "")) ;
  CHECK(addr("  ann@example.org  ", "ann@example.org", "")) ;
  CHECK(addr("(c) Ann (x) <ann@example.org> (y)", "ann@example.org", "Ann")) ;
  CHECK(addr("\"a <b@c.example>\" <ann@example.org>", "ann@example.org", "a <b@c.example>")) ;
  CHECK(addr("=?UTF-8?Q?J=C3=B6rg?= <j@example.de>", "j@example.de", "=?UTF-8?Q?J=C3=B6rg?=")) ;
  CHECK(addr("undisclosed-recipients:;", 0, 0)) ;
  CHECK(addr("", 0, 0)) ;
}

static void test_header (char const *base)
{
  char path[1024] ;
  stralloc hdr = STRALLOC_ZERO ;
  genalloc f = GENALLOC_ZERO ;
  char const *v ;
  size_t n ;
  off_t body ;
  int fd ;
  static char const msg[] = "From nobody Mon\nFrom: a@b.example\nSubject: one\n two\r\nX-Empty:\r\n\r\nbody\n" ;
  snprintf(path, sizeof path, "%s/msg", base) ;
  fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600) ;
  CHECK(fd >= 0 && write(fd, "junk", 4) == 4 && write(fd, msg, sizeof msg - 1) == sizeof msg - 1) ;
  CHECK(listmsg_header(fd, 4, &hdr, &body) == 1) ;
  CHECK(body == 4 + (off_t)(sizeof msg - 1) - 5) ;
  CHECK(listmsg_fields(hdr.s, hdr.len, &f) == 1 && genalloc_len(listmsg_field, &f) == 3) ;
  CHECK(listmsg_find(hdr.s, &f, "subject") == 1) ;
  listmsg_value(hdr.s, genalloc_s(listmsg_field, &f) + 1, &v, &n) ;
  CHECK(n == 8 && !memcmp(v, "one\n two", 8)) ;
  listmsg_value(hdr.s, genalloc_s(listmsg_field, &f) + 2, &v, &n) ;
  CHECK(n == 0) ;
  CHECK(listmsg_automatic(hdr.s, &f) == 0) ;
  close(fd) ;
  genalloc_free(listmsg_field, &f) ;
  stralloc_free(&hdr) ;
}

int main (int argc, char const *const *argv)
{
  if (argc < 2) { fprintf(stderr, "usage: lists scratchdir\n") ; return 100 ; }
  test_norm() ;
  test_set(argv[1]) ;
  test_cookie() ;
  test_dmarc() ;
  test_addr() ;
  test_header(argv[1]) ;
  if (failed) fprintf(stderr, "%d failed\n", failed) ;
  return !!failed ;
}
