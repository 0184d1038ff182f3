/* remote-deliver: deliver the message on fd 0 to the recipients of one domain over SMTP,
   and write one line per recipient saying what became of it. The work is
   tools/lib/remotedeliver's, which queue-remote, the queue's worker, shares; this is the
   one-shot command: one delivery, then QUIT. */
#include <skalibs/allreadwrite.h>
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include "remotedeliver.h"

#define USAGE "remote-deliver domain sender rcpt..."
#define dieusage() strerr_dieusage(100, USAGE)

static void put (char const *s, size_t len)
{
  if (allwrite(1, s, len) < len) strerr_diefu1sys(111, "write to stdout") ;
}

int main (int argc, char const *const *argv)
{
  PROG = "remote-deliver" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    if (subgetopt_r(argc, argv, "", &l) != -1) dieusage() ;
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc < 3 || !remotedeliver_check(argv[0], argv[1], argv + 2, (unsigned int)argc - 2)) dieusage() ;
  remotedeliver_init(&put) ;
  remotedeliver_run(0, argv[0], argv[1], argv + 2, (unsigned int)argc - 2, 0) ;
  return 0 ;
}
