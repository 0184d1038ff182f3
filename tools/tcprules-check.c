/* tcprules-check: say what tcpsrv will do with the client in TCPREMOTEIP, TCPREMOTEHOST and
   TCPREMOTEINFO under the rules in a cdb, in tcprulescheck's words. */
#include <stdlib.h>
#include <string.h>
#include <skalibs/buffer.h>
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include "rules.h"

#define USAGE "tcprules-check rules.cdb"
#define dieusage() strerr_dieusage(100, USAGE)

static void put (char const *s, size_t len)
{
  if (buffer_put(buffer_1, s, len) < 0) strerr_diefu1sys(111, "write to stdout") ;
}

int main (int argc, char const *const *argv)
{
  rules_result r = RULES_RESULT_ZERO ;
  char const *ip ;
  size_t i ;
  PROG = "tcprules-check" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    if (subgetopt_r(argc, argv, "", &l) != -1) dieusage() ;
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc < 1) dieusage() ;
  ip = getenv("TCPREMOTEIP") ;
  if (!ip) ip = "0.0.0.0" ;
  switch (rules_lookup(&r, argv[0], ip, getenv("TCPREMOTEHOST"), getenv("TCPREMOTEINFO")))
  {
    case -1 : strerr_diefu4x(111, "read ", argv[0], ": ", rules_strerror(errno)) ;
    case 0 : put("default:\n", 9) ; break ;
    default :
      put("rule ", 5) ; put(r.key.s, r.key.len) ; put(":\n", 2) ;
      for (i = 0 ; i < r.env.len ; i += strlen(r.env.s + i) + 1)
      {
        char const *v = r.env.s + i ;
        if (strchr(v, '=')) put("set environment variable ", 25) ;
        else put("unset environment variable ", 27) ;
        put(v, strlen(v)) ; put("\n", 1) ;
      }
  }
  if (r.deny) put("deny connection\n", 16) ;
  else put("allow connection\n", 17) ;
  if (!buffer_flush(buffer_1)) strerr_diefu1sys(111, "write to stdout") ;
  rules_result_free(&r) ;
  return 0 ;
}
