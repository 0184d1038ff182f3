/* unit tests for tools/lib/smtpauth (base64, PLAIN, checkpassword input) and
   tools/lib/smtppolicy (rcpthosts, morercpthosts.cdb, badmailfrom). argv[1]: scratch dir. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cdb.h>
#include <skalibs/stralloc.h>
#include "smtpauth.h"
#include "smtppolicy.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)
#define S(lit) lit, sizeof(lit) - 1

static stralloc sa = STRALLOC_ZERO ;

static int dec (char const *s, char const *want, size_t wantlen)
{
  sa.len = 0 ;
  return smtpauth_b64decode(&sa, s, strlen(s)) == 1 && sa.len == wantlen && !memcmp(sa.s, want, wantlen) ;
}

static int enc (char const *s, size_t len, char const *want)
{
  sa.len = 0 ;
  return smtpauth_b64encode(&sa, s, len) && sa.len == strlen(want) && !memcmp(sa.s, want, sa.len) ;
}

int main (int argc, char const *const *argv)
{
  size_t u, ul, p, pl ;
  char const *dir = argc > 1 ? argv[1] : "." ;

  /* RFC 4648 test vectors */
  CHECK(dec("", "", 0)) ;
  CHECK(dec("Zg==", "f", 1)) ;
  CHECK(dec("Zm8=", "fo", 2)) ;
  CHECK(dec("Zm9v", "foo", 3)) ;
  CHECK(dec("Zm9vYmFy", "foobar", 6)) ;
  CHECK(dec("AHVzZXIAcGFzcw==", "\0user\0pass", 10)) ;
  CHECK(enc("", 0, "")) ;
  CHECK(enc("f", 1, "Zg==")) ;
  CHECK(enc("fo", 2, "Zm8=")) ;
  CHECK(enc("foob", 4, "Zm9vYg==")) ;
  CHECK(enc("\0user\0pass", 10, "AHVzZXIAcGFzcw==")) ;
  sa.len = 0 ;
  CHECK(smtpauth_b64decode(&sa, S("Zg=")) == 0) ;       /* length */
  CHECK(smtpauth_b64decode(&sa, S("Zg=a")) == 0) ;      /* data after padding */
  CHECK(smtpauth_b64decode(&sa, S("Z===")) == 0) ;
  CHECK(smtpauth_b64decode(&sa, S("Zh==")) == 0) ;      /* non-zero dropped bits */
  CHECK(smtpauth_b64decode(&sa, S("Zm9v Zm8=")) == 0) ;
  CHECK(smtpauth_b64decode(&sa, S("Zg==Zg==")) == 0) ;  /* padding in the middle */
  CHECK(smtpauth_b64decode(&sa, S("Zm9*")) == 0 && sa.len == 0) ;

  /* PLAIN (RFC 4616) */
  CHECK(smtpauth_plain(S("\0user\0pass"), &u, &ul, &p, &pl) && u == 1 && ul == 4 && p == 6 && pl == 4) ;
  CHECK(smtpauth_plain(S("user\0user\0pass"), &u, &ul, &p, &pl) && ul == 4 && pl == 4) ;
  CHECK(smtpauth_plain(S("\0user\0"), &u, &ul, &p, &pl) && pl == 0) ;
  CHECK(!smtpauth_plain(S("admin\0user\0pass"), &u, &ul, &p, &pl)) ;   /* proxy authorization */
  CHECK(!smtpauth_plain(S("\0\0pass"), &u, &ul, &p, &pl)) ;
  CHECK(!smtpauth_plain(S("\0user"), &u, &ul, &p, &pl)) ;
  CHECK(!smtpauth_plain(S("userpass"), &u, &ul, &p, &pl)) ;
  CHECK(!smtpauth_plain(S("\0user\0pa\0ss"), &u, &ul, &p, &pl)) ;
  CHECK(!smtpauth_plain(0, 0, &u, &ul, &p, &pl)) ;   /* AUTH PLAIN =: no response at all */

  /* checkpassword input */
  CHECK(smtpauth_cpinput(&sa, S("user"), S("pw"), "<1.2@h>") == 1 && sa.len == 16 && !memcmp(sa.s, "user\0pw\0<1.2@h>\0", 16)) ;
  CHECK(smtpauth_cpinput(&sa, S(""), S("pw"), "t") == 0) ;
  CHECK(smtpauth_cpinput(&sa, S("u\0x"), S("pw"), "t") == 0) ;
  {
    char big[600] ;
    memset(big, 'x', sizeof big) ;
    CHECK(smtpauth_cpinput(&sa, "u", 1, big, 508, "") == 1 && sa.len == 512) ;
    CHECK(smtpauth_cpinput(&sa, "u", 1, big, 509, "") == 0) ;
  }

  /* rcpthosts */
  {
    static char const list[] = "example.org\0.sub.example.net\0[192.0.2.1]\0" ;
    size_t n = sizeof list - 1 ;
    CHECK(smtppolicy_hostlisted(list, n, "example.org")) ;
    CHECK(smtppolicy_hostlisted(list, n, "EXAMPLE.Org")) ;
    CHECK(!smtppolicy_hostlisted(list, n, "www.example.org")) ;
    CHECK(!smtppolicy_hostlisted(list, n, "xexample.org")) ;
    CHECK(smtppolicy_hostlisted(list, n, "a.sub.example.net")) ;
    CHECK(smtppolicy_hostlisted(list, n, "b.a.sub.example.net")) ;
    CHECK(!smtppolicy_hostlisted(list, n, "sub.example.net")) ;
    CHECK(smtppolicy_hostlisted(list, n, "[192.0.2.1]")) ;
    CHECK(!smtppolicy_hostlisted(list, n, "")) ;
    CHECK(!strcmp(smtppolicy_domain("a@b@c.d"), "c.d")) ;
    CHECK(!strcmp(smtppolicy_domain("abc"), "")) ;
  }
  /* morercpthosts.cdb */
  {
    char path[512] ;
    struct cdb_make cm ;
    struct cdb c ;
    int fd ;
    snprintf(path, sizeof path, "%s/mrh.cdb", dir) ;
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644) ;
    CHECK(fd >= 0) ;
    CHECK(cdb_make_start(&cm, fd) == 0) ;
    CHECK(cdb_make_add(&cm, "big.example", 11, "", 0) == 0) ;
    CHECK(cdb_make_add(&cm, ".wild.example", 13, "", 0) == 0) ;
    CHECK(cdb_make_finish(&cm) == 0) ;
    CHECK(lseek(fd, 0, SEEK_SET) == 0) ;
    CHECK(cdb_init(&c, fd) == 0) ;
    CHECK(smtppolicy_hostincdb(&c, "big.example") == 1) ;
    CHECK(smtppolicy_hostincdb(&c, "BIG.Example") == 1) ;
    CHECK(smtppolicy_hostincdb(&c, "x.big.example") == 0) ;
    CHECK(smtppolicy_hostincdb(&c, "x.wild.example") == 1) ;
    CHECK(smtppolicy_hostincdb(&c, "wild.example") == 0) ;
    CHECK(smtppolicy_hostincdb(&c, "") == 0) ;
    cdb_free(&c) ;
    close(fd) ;
  }
  /* badmailfrom (seed 3.6: exact address and @domain) */
  {
    static char const list[] = "peng@96633.net\0@spam.example\0" ;
    size_t n = sizeof list - 1 ;
    CHECK(smtppolicy_badmailfrom(list, n, "peng@96633.net")) ;
    CHECK(smtppolicy_badmailfrom(list, n, "Peng@96633.NET")) ;
    CHECK(!smtppolicy_badmailfrom(list, n, "xpeng@96633.net")) ;
    CHECK(smtppolicy_badmailfrom(list, n, "anyone@spam.example")) ;
    CHECK(smtppolicy_badmailfrom(list, n, "anyone@SPAM.example")) ;
    CHECK(!smtppolicy_badmailfrom(list, n, "anyone@sub.spam.example")) ;
    CHECK(!smtppolicy_badmailfrom(list, n, "")) ;
  }
  stralloc_free(&sa) ;
  return !!failed ;
}
