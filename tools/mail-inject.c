/* mail-inject: put a message written on this machine into the queue, as qmail-inject did:
   the header completed (Date, Message-ID, From from the user's environment), addresses
   qualified with control/defaulthost and control/defaultdomain, Bcc removed, the recipients
   taken from the command line or from To, Cc and Bcc. */
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include "inject.h"

#define USAGE "mail-inject [ -a | -h | -H ] [ -n ] [ -f sender ] [ -F name ] [ rcpt ... ]"
#define dieusage() strerr_dieusage(100, USAGE)

int main (int argc, char const *const *argv)
{
  inject_opts o = INJECT_OPTS_ZERO ;
  PROG = "mail-inject" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "ahHnf:F:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'a' : o.from = INJECT_ARGS ; break ;
        case 'h' : o.from = INJECT_HEADER ; break ;
        case 'H' : o.from = INJECT_ARGS | INJECT_HEADER ; break ;
        case 'n' : o.print = 1 ; break ;
        case 'f' : o.sender = l.arg ; break ;
        case 'F' : o.name = l.arg ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (o.from == INJECT_HEADER && argc) strerr_dief1x(100, "-h takes the recipients from the header only: no rcpt arguments") ;
  inject_path_self() ;
  inject_run(&o, argv) ;
}
