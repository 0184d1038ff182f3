/* cond-redirect: when prog exits 0, send the message on to addr instead (exit 99: the .qmail
   chain stops here); otherwise let the chain go on (exit 0), or defer when prog says 111. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include "dotqmail.h"

#define USAGE "cond-redirect addr prog..."
#define dieusage() strerr_dieusage(100, USAGE)

int main (int argc, char const *const *argv)
{
  char const *sender ;
  off_t start ;
  int msg ;
  PROG = "cond-redirect" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    if (subgetopt_r(argc, argv, "", &l) != -1) dieusage() ;
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc < 2 || !*argv[0]) dieusage() ;
  sender = getenv("SENDER") ;
  if (!sender) strerr_dienotset(100, "SENDER") ;
  if (!getenv("DTLINE")) strerr_dienotset(100, "DTLINE") ;
  sig_ignore(SIGPIPE) ;
  sig_restore(SIGCHLD) ;   /* an inherited SIG_IGN would hide the exit code we wait for */

  /* prog reads the message: keep a copy to read it again */
  msg = dotqmail_seekable(0, &start) ;
  if (msg < 0) strerr_diefu1sys(111, "keep a copy of the message") ;
  if (msg && (dup2(msg, 0) < 0 || lseek(0, start, SEEK_SET) < 0)) strerr_diefu1sys(111, "set up the message") ;
  if (!dotqmail_test_or_die(argv + 1)) return 0 ;

  if (lseek(0, start, SEEK_SET) < 0) strerr_diefu1sys(111, "rewind the message") ;
  dotqmail_forward_or_die(sender, argv, 1) ;
  return 99 ;
}
