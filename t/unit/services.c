/* unit tests for tools/lib/services: ports by name from a services(5) file. Exit 0 when all pass. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "services.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

static char path[512] ;

static int port (char const *name, char const *proto)
{
  uint16_t p = 0 ;
  int r = services_port(&p, name, proto, path) ;
  return r == 1 ? p : r == 0 ? -1 : -2 ;
}

int main (int argc, char const *const *argv)
{
  FILE *f ;
  if (argc < 2) { fprintf(stderr, "usage: services scratchdir\n") ; return 2 ; }
  snprintf(path, sizeof path, "%s/services", argv[1]) ;
  f = fopen(path, "w") ;
  if (!f) { perror(path) ; return 111 ; }
  fputs("# Network services\n"
        "\n"
        "tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer\n"
        "smtp\t\t25/tcp\t\tmail\n"
        "domain\t\t53/udp\n"
        "domain\t\t53/tcp\n"
        "submission\t587/tcp\t\tmsa  submit # a comment with 99/tcp in it\n"
        "smtps 465/tcp ssmtp # aliases\n"
        "pop3\t110/tcp pop-3\r\n"
        "broken\t/tcp\n"
        "toobig\t70000/tcp\n"
        "noproto\t123\n"
        "   indented 7/tcp echo-alias\n"
        "#commented 9/tcp\n"
        "dup 1000/tcp\n"
        "dup 2000/tcp\n"
        "last 4190/tcp sieve", f) ;   /* no newline at the end */
  fclose(f) ;
  CHECK(port("smtp", "tcp") == 25) ;
  CHECK(port("mail", "tcp") == 25) ;          /* an alias */
  CHECK(port("domain", "tcp") == 53) ;        /* the udp line before it does not count */
  CHECK(port("domain", "udp") == 53) ;
  CHECK(port("tcpmux", "tcp") == 1) ;
  CHECK(port("submission", "tcp") == 587) ;
  CHECK(port("submit", "tcp") == 587) ;
  CHECK(port("comment", "tcp") == -1) ;       /* words after # are not aliases */
  CHECK(port("ssmtp", "tcp") == 465) ;
  CHECK(port("pop-3", "tcp") == 110) ;        /* CRLF line end */
  CHECK(port("broken", "tcp") == -1) ;
  CHECK(port("toobig", "tcp") == -1) ;
  CHECK(port("noproto", "tcp") == -1) ;
  CHECK(port("indented", "tcp") == 7) ;
  CHECK(port("echo-alias", "tcp") == 7) ;
  CHECK(port("commented", "tcp") == -1) ;
  CHECK(port("dup", "tcp") == 1000) ;         /* the first line wins */
  CHECK(port("sieve", "tcp") == 4190) ;       /* last line, no newline */
  CHECK(port("smt", "tcp") == -1) ;           /* no prefix matches */
  CHECK(port("SMTP", "tcp") == -1) ;          /* names are case-sensitive, as getservbyname */
  CHECK(port("", "tcp") == -2) ;
  snprintf(path, sizeof path, "%s/no-such-file", argv[1]) ;
  errno = 0 ;
  CHECK(port("smtp", "tcp") == -2 && errno == ENOENT) ;
  return failed ? 1 : 0 ;
}
