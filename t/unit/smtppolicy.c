/* unit tests for tools/lib/smtppolicy: rcpthosts and morercpthosts.cdb matching (exact
   entries, .suffix entries, ASCII case, no partial-label or trailing-dot matches, literals),
   badmailfrom (whole address, @domain, the null sender). argv[1]: a scratch directory. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cdb.h>
#include "smtppolicy.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

/* control_readlines' form: entries 0-terminated one after the other */
static char const hosts[] = "example.org\0.sub.example.net\0[192.0.2.1]\0[IPv6:2001:db8::1]" ;
static char const bmf[] = "spammer@bad.example\0@worse.example" ;

static int listed (char const *d) { return smtppolicy_hostlisted(hosts, sizeof hosts, d) ; }
static int bad (char const *a) { return smtppolicy_badmailfrom(bmf, sizeof bmf, a) ; }

int main (int argc, char const *const *argv)
{
  CHECK(!strcmp(smtppolicy_domain("u@example.org"), "example.org")) ;
  CHECK(!strcmp(smtppolicy_domain("a@b@example.org"), "example.org")) ;
  CHECK(!strcmp(smtppolicy_domain("postmaster"), "")) ;

  CHECK(listed("example.org")) ;
  CHECK(listed("EXAMPLE.Org")) ;
  CHECK(!listed("www.example.org")) ;        /* an exact entry takes no subdomain */
  CHECK(!listed("badexample.org")) ;
  CHECK(!listed("example.org.")) ;           /* no trailing-dot alias */
  CHECK(!listed("example.org.evil.example")) ;
  CHECK(listed("a.sub.example.net")) ;
  CHECK(listed("x.y.SUB.example.net")) ;
  CHECK(!listed("sub.example.net")) ;        /* a .suffix entry takes hosts under it only */
  CHECK(!listed("evilsub.example.net")) ;
  CHECK(listed("[192.0.2.1]")) ;
  CHECK(listed("[ipv6:2001:DB8::1]")) ;
  CHECK(!listed("[192.0.2.10]")) ;
  CHECK(!listed("")) ;
  CHECK(!smtppolicy_hostlisted("", 0, "example.org")) ;

  CHECK(bad("spammer@bad.example")) ;
  CHECK(bad("SPAMMER@Bad.Example")) ;
  CHECK(!bad("other@bad.example")) ;
  CHECK(bad("anyone@worse.example")) ;
  CHECK(bad("a@b@worse.example")) ;
  CHECK(!bad("anyone@sub.worse.example")) ;
  CHECK(!bad("")) ;                          /* <> is never refused */
  CHECK(!bad("worse.example")) ;

  if (argc > 1)
  {
    char path[4096] ;
    struct cdb_make cm ;
    struct cdb c ;
    int fd ;
    snprintf(path, sizeof path, "%s/morercpthosts.cdb", argv[1]) ;
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644) ;
    CHECK(fd >= 0) ;
    if (fd >= 0)
    {
      cdb_make_start(&cm, fd) ;
      cdb_make_add(&cm, "big.example", 11, "", 0) ;
      cdb_make_add(&cm, ".wild.example", 13, "", 0) ;
      CHECK(cdb_make_finish(&cm) == 0) ;
      CHECK(lseek(fd, 0, SEEK_SET) == 0) ;
      CHECK(cdb_init(&c, fd) == 0) ;
      CHECK(smtppolicy_hostincdb(&c, "big.example") == 1) ;
      CHECK(smtppolicy_hostincdb(&c, "BIG.Example") == 1) ;
      CHECK(smtppolicy_hostincdb(&c, "x.big.example") == 0) ;
      CHECK(smtppolicy_hostincdb(&c, "a.b.WILD.example") == 1) ;
      CHECK(smtppolicy_hostincdb(&c, "wild.example") == 0) ;
      CHECK(smtppolicy_hostincdb(&c, "big.example.") == 0) ;
      CHECK(smtppolicy_hostincdb(&c, "") == 0) ;
      cdb_free(&c) ;
      close(fd) ;
    }
  }
  return !!failed ;
}
