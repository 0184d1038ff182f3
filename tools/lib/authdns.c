#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include "authdns.h"
#include "dns.h"

static int state = 0 ;          /* 0 $DNSCACHEIP unset, 1 usable, -1 unusable */
static dns_server srv ;

int authdns_init (void)
{
  char const *s = getenv("DNSCACHEIP") ;
  if (!s || !*s) { state = 0 ; return 1 ; }
  state = dns_server_scan(&srv, s) && !srv.is6 ? 1 : -1 ;
  return state > 0 ;
}

/* glibc's <resolv.h> makes res_ninit this name: what libspf2 and libopendkim call */
int __res_ninit (res_state st)
{
  static int (*real) (res_state) = 0 ;
  int r ;
  if (!real) real = (int (*)(res_state))dlsym(RTLD_NEXT, "__res_ninit") ;
  if (!real) return -1 ;
  r = (*real)(st) ;
  if (r < 0 || !state) return r ;
  st->retrans = AUTHDNS_TIMEOUT ;
  st->retry = AUTHDNS_TRIES ;
  st->options &= ~(RES_ROTATE | RES_DNSRCH | RES_DEFNAMES) ;
  memset(&st->nsaddr_list[0], 0, sizeof st->nsaddr_list[0]) ;
  st->nsaddr_list[0].sin_family = AF_INET ;
  if (state > 0)
  {
    st->nsaddr_list[0].sin_port = htons(srv.port) ;
    memcpy(&st->nsaddr_list[0].sin_addr, srv.ip, 4) ;
  }
  else
  {
    /* unusable $DNSCACHEIP: a server that cannot answer, never the machine's */
    st->nsaddr_list[0].sin_port = htons(1) ;
    st->nsaddr_list[0].sin_addr.s_addr = htonl(INADDR_LOOPBACK) ;
    st->retry = 1 ;
  }
  st->nscount = 1 ;
  return r ;
}
