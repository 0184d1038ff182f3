/* sendmail: the command line that cron, PHP's mail(), mutt and scripts call to send mail.
   Queues a message as mail-inject does (-t: recipients from the header too); -bs speaks
   SMTP on stdin and stdout through smtpd; -bp (or the name mailq) lists the queue. Options
   those programs pass that mean nothing here are ignored; the others fail. */
#include <stdlib.h>
#include <string.h>
#include <skalibs/exec.h>
#include <skalibs/gccattributes.h>
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include "inject.h"

#define USAGE "sendmail [ -t ] [ -i ] [ -f sender ] [ -F name ] [ -bm | -bp | -bs ] [ rcpt ... ]"
#define dieusage() strerr_dieusage(100, USAGE)

static void unsupported (char opt, char const *arg, char const *why) gccattr_noreturn ;
static void unsupported (char opt, char const *arg, char const *why)
{
  char o[3] = { '-', opt, 0 } ;
  strerr_dief5x(100, "option ", o, arg ? arg : "", " is not supported: ", why) ;
}

int main (int argc, char const *const *argv)
{
  inject_opts o = INJECT_OPTS_ZERO ;
  char mode = 'm' ;
  int headers = 0 ;
  PROG = "sendmail" ;
  {
    char const *base = strrchr(argv[0], '/') ;
    base = base ? base + 1 : argv[0] ;
    if (!strcmp(base, "mailq")) mode = 'p' ;
    if (!strcmp(base, "newaliases")) strerr_dief1x(100, "there is no aliases database to rebuild (aliases are ~alias/.qmail-* files)") ;
  }
  o.dotend = 1 ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "tif:r:F:b:o:O:B:N:R:V:h:L:p:e:A:mnvUGC:X:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 't' : headers = 1 ; break ;
        case 'i' : o.dotend = 0 ; break ;
        case 'f' :
        case 'r' : o.sender = l.arg ; break ;
        case 'F' : o.name = l.arg ; break ;
        case 'o' : if (l.arg[0] == 'i') o.dotend = 0 ; break ;   /* -oem, -odi, -om...: sendmail.cf settings */
        case 'b' :
          switch (l.arg[0])
          {
            case 'm' : case 'p' : case 's' :
              if (l.arg[1]) dieusage() ;
              mode = l.arg[0] ; break ;
            case 'd' : unsupported('b', l.arg, "the SMTP service is tcpsrv and smtpd, under s6 (see smtpd(8))") ;
            case 'i' : unsupported('b', l.arg, "there is no aliases database (aliases are ~alias/.qmail-* files)") ;
            default : unsupported('b', l.arg, "sluice's sendmail knows -bm, -bp and -bs") ;
          }
          break ;
        /* DSN requests, body types, hop counts, labels, protocols, error modes, and the
           flags of sendmail's own delivery: nothing to do here */
        case 'O' : case 'B' : case 'N' : case 'R' : case 'V' : case 'h' : case 'L' : case 'p' :
        case 'e' : case 'A' : case 'm' : case 'n' : case 'v' : case 'U' : case 'G' : break ;
        case 'C' : unsupported('C', 0, "the settings are the files of $SLUICEDIR/control") ;
        case 'X' : unsupported('X', 0, "no traffic log") ;
        default :
        {
          char o2[3] = { '-', l.problem ? (char)l.problem : '?', 0 } ;
          if (l.problem == 'q') unsupported('q', 0, "queue-run retries by itself (SIGALRM makes it retry now)") ;
          if (l.problem == 'I') unsupported('I', 0, "there is no aliases database (aliases are ~alias/.qmail-* files)") ;
          if (l.problem && strchr("frFboOBNRVhLpeACX", l.problem)) strerr_dief3x(100, "option ", o2, " needs an argument") ;
          strerr_warnw2x("unknown option ", o2) ;
          dieusage() ;
        }
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  inject_path_self() ;
  if (mode == 'p')
  {
    char const *prog[2] = { "queue-list", 0 } ;
    if (argc) strerr_dief1x(100, "-bp takes no recipients") ;
    xexec(prog) ;
  }
  if (mode == 's')
  {
    /* a local user: may send anywhere, as with -t; the queue names the uid in Received: */
    char const *prog[2] = { "smtpd", 0 } ;
    if (argc) strerr_dief1x(100, "-bs takes no recipients") ;
    unsetenv("PROTO") ;
    if (!getenv("RELAYCLIENT") && setenv("RELAYCLIENT", "", 1) < 0) strerr_diefu1sys(111, "set RELAYCLIENT") ;
    xexec(prog) ;
  }
  o.from = headers ? INJECT_ARGS | INJECT_HEADER : INJECT_ARGS ;
  inject_run(&o, argv) ;
}
