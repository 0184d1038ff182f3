/* except: run prog and turn its success into a permanent failure and the other way round,
   for .qmail lines: exit 0 becomes 100, 111 (and a crash) stays 111, anything else is 0. */
#include <sys/wait.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include "dotqmail.h"

#define USAGE "except prog..."
#define dieusage() strerr_dieusage(100, USAGE)

int main (int argc, char const *const *argv)
{
  int wstat ;
  PROG = "except" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    if (subgetopt_r(argc, argv, "", &l) != -1) dieusage() ;
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc < 1 || !*argv[0]) dieusage() ;
  sig_restore(SIGCHLD) ;   /* an inherited SIG_IGN would hide the exit code we wait for */
  if (!dotqmail_run(argv, &wstat)) strerr_diefu2sys(111, "run ", argv[0]) ;
  if (!WIFEXITED(wstat)) return 111 ;
  switch (WEXITSTATUS(wstat))
  {
    case 0 : return 100 ;
    case 111 : return 111 ;
    default : return 0 ;
  }
}
