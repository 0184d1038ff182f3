/* forward: queue the message on stdin for addr... with $DTLINE first and $NEWSENDER as the
   envelope sender, through the qmail-queue interface. In a .qmail file: |forward addr. */
#include <stdlib.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include "dotqmail.h"

#define USAGE "forward addr..."
#define dieusage() strerr_dieusage(100, USAGE)

int main (int argc, char const *const *argv)
{
  char const *sender ;
  PROG = "forward" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    if (subgetopt_r(argc, argv, "", &l) != -1) dieusage() ;
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc < 1) dieusage() ;
  for (int i = 0 ; i < argc ; i++) if (!*argv[i]) dieusage() ;
  sender = getenv("NEWSENDER") ;
  if (!sender) strerr_dienotset(100, "NEWSENDER") ;
  sig_ignore(SIGPIPE) ;
  sig_restore(SIGCHLD) ;   /* an inherited SIG_IGN would hide the exit code we wait for */
  dotqmail_forward_or_die(sender, argv, argc) ;
  return 0 ;
}
