/* forward: queue the message on stdin for addr... with $DTLINE first and $NEWSENDER as the
   envelope sender, through the qmail-queue interface. In a .qmail file: |forward addr. */
#include <stdlib.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "dotqmail.h"
#include "qqueue.h"

#define USAGE "forward addr..."
#define dieusage() strerr_dieusage(100, USAGE)

static stralloc dt = STRALLOC_ZERO ;   /* DTLINE, newline-terminated */

int main (int argc, char const *const *argv)
{
  char const *sender, *dtline ;
  int code ;
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
  dtline = getenv("DTLINE") ;
  if (!dtline) strerr_dienotset(100, "DTLINE") ;
  if (!stralloc_cats(&dt, dtline) || (dt.len && dt.s[dt.len-1] != '\n' && !stralloc_catb(&dt, "\n", 1)) || !stralloc_0(&dt))
    strerr_diefu1sys(111, "allocate memory") ;
  sig_ignore(SIGPIPE) ;
  sig_restore(SIGCHLD) ;   /* an inherited SIG_IGN would hide the exit code we wait for */
  code = dotqmail_forward(0, dt.s, sender, argv, argc) ;
  if (code == -2) strerr_diefu2sys(111, "forward the message: unable to run the queue program ", dotqmail_queueprog()) ;
  if (code < 0) strerr_diefu1sys(111, "read the message") ;
  if (code)
  {
    char fmt[UINT_FMT] ;
    fmt[uint_fmt(fmt, code)] = 0 ;
    strerr_diefu5x(qqueue_permanent(code) ? 100 : 111, "forward the message: ", qqueue_strerror(code), " (queue exit ", fmt, ")") ;
  }
  return 0 ;
}
