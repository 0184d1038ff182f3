/* local-deliver: deliver the message on stdin to one local recipient by the instructions of its
   .qmail file, as qmail-local does (tools/lib/localdeliver). Each step done is reported on
   stdout as it completes, so that a retry can skip the steps already done (-s) instead of
   delivering them twice. */
#include <signal.h>
#include <sys/stat.h>
#include <skalibs/buffer.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "localdeliver.h"

#define USAGE "local-deliver [ -nN ] [ -s done ] user homedir local dash ext domain sender [ defaultdelivery ]"
#define dieusage() strerr_dieusage(100, USAGE)

static void report (void *ctx, char const *line, size_t len)
{
  (void)ctx ;
  if (buffer_put(buffer_1, line, len) < 0 || !buffer_flush(buffer_1))
    strerr_diefu1sys(111, "write the delivery report") ;
}

int main (int argc, char const *const *argv)
{
  localdeliver a = LOCALDELIVER_ZERO ;
  localdeliver_result r = LOCALDELIVER_RESULT_ZERO ;
  PROG = "local-deliver" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "nNs:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'n' : a.doit = 0 ; break ;
        case 'N' : a.doit = 1 ; break ;
        case 's' : if (!uint0_scan(l.arg, &a.skip)) dieusage() ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc < 7 || argc > 8) dieusage() ;
  a.user = argv[0] ; a.home = argv[1] ; a.local = argv[2] ; a.dash = argv[3] ;
  a.ext = argv[4] ; a.host = argv[5] ; a.sender = argv[6] ;
  if (argc == 8) a.dflt = argv[7] ;
  if (a.home[0] != '/') dieusage() ;
  a.report = &report ;

  umask(077) ;
  sig_ignore(SIGPIPE) ;
  /* inherited SIG_IGN would reap our children for us: waitpid would fail after a program
     or a forward succeeded, and the retry would deliver twice */
  sig_restore(SIGCHLD) ;
  /* past a file size limit, a write must fail (EFBIG) so that the mbox is cut back to its old
     length, rather than kill us with half a message appended */
  sig_ignore(SIGXFSZ) ;
  if (localdeliver_run(&a, 0, &r)) strerr_dief1x(r.code, r.text.s) ;
  if (a.doit)
  {
    buffer_puts(buffer_1, r.text.s) ;
    if (buffer_putsflush(buffer_1, "\n") < 0) strerr_diefu1sys(111, "write the delivery report") ;
  }
  return 0 ;
}
