/* bounce-saying: bounce the message with text; or, when prog is given, only when prog says
   so (exit 0). In a .qmail file: |bounce-saying "text" [ prog... ]. */
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include "dotqmail.h"

#define USAGE "bounce-saying text [ prog... ]"
#define dieusage() strerr_dieusage(100, USAGE)

int main (int argc, char const *const *argv)
{
  PROG = "bounce-saying" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    if (subgetopt_r(argc, argv, "", &l) != -1) dieusage() ;
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc < 1) dieusage() ;
  if (argc > 1)
  {
    sig_restore(SIGCHLD) ;   /* an inherited SIG_IGN would hide the exit code we wait for */
    if (!dotqmail_test_or_die(argv + 1)) return 0 ;
  }
  /* the text alone: it becomes the bounce message */
  {
    size_t n = 0 ;
    while (argv[0][n]) n++ ;
    allwrite(2, argv[0], n) ;
    allwrite(2, "\n", 1) ;
  }
  return 100 ;
}
