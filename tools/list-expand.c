/* list-expand: the |list-expand line of a list's .qmail file. Sends the post on stdin to every
   subscriber of the list in dir, as one queue entry, after the checks (a loop, who may post)
   and with the list's header; or keeps it for the moderators. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <skalibs/genalloc.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include "dotqmail.h"
#include "listdir.h"
#include "listset.h"
#include "listmsg.h"
#include "listpost.h"

#define USAGE "list-expand dir"
#define dieusage() strerr_dieusage(100, USAGE)

int main (int argc, char const *const *argv)
{
  list l = LIST_ZERO ;
  stralloc hdr = STRALLOC_ZERO, dtline = STRALLOC_ZERO, why = STRALLOC_ZERO ;
  genalloc fields = GENALLOC_ZERO ;
  char const *sender = getenv("SENDER") ;
  char const *what ;
  off_t start, body ;
  int fd, r ;
  PROG = "list-expand" ;
  {
    subgetopt o = SUBGETOPT_ZERO ;
    if (subgetopt_r(argc, argv, "", &o) != -1) dieusage() ;
    argc -= o.ind ; argv += o.ind ;
  }
  if (argc != 1) dieusage() ;
  if (!sender) strerr_dief1x(100, "SENDER is not set: list-expand runs from a .qmail file") ;
  sig_ignore(SIGPIPE) ;
  if (chdir(argv[0]) < 0) strerr_diefu2sys(111, "switch to the list directory ", argv[0]) ;
  if (!list_open(&l, &what)) strerr_diefu4sys(111, "read the list's settings in ", argv[0], "/", what) ;
  fd = dotqmail_seekable(0, &start) ;
  if (fd < 0) strerr_diefu1sys(111, "keep a copy of the message") ;
  r = listmsg_header(fd, start, &hdr, &body) ;
  if (!r) strerr_dief1x(100, "the header of the message is longer than 1 MB (#5.3.4)") ;
  if (r < 0) strerr_diefu1sys(111, "read the message") ;
  if (!listmsg_fields(hdr.s, hdr.len, &fields)) strerr_diefu1sys(111, "allocate memory") ;
  switch (listpost_decide(&l, hdr.s, &fields, sender, &what))
  {
    case LISTPOST_SEND : break ;
    case LISTPOST_HOLD :
      r = listpost_hold(&l, fd, start, sender, &why) ;
      if (r) strerr_dief1x(r, why.s) ;
      return 0 ;
    case LISTPOST_REFUSE : strerr_dief1x(100, what) ;
    default : strerr_diefu3sys(111, "read the list's subscribers", *listset_why() ? ": " : "", listset_why()) ;
  }
  {
    /* the list's own Delivered-To line, as local-deliver set it: a loop back is seen */
    char const *dt = getenv("DTLINE") ;
    if (dt && *dt) { if (!stralloc_cats(&dtline, dt)) strerr_diefu1sys(111, "allocate memory") ; }
    else if (!stralloc_cats(&dtline, "Delivered-To: ") || !stralloc_cats(&dtline, l.address.s)) strerr_diefu1sys(111, "allocate memory") ;
    if (dtline.s[dtline.len - 1] != '\n' && !stralloc_catb(&dtline, "\n", 1)) strerr_diefu1sys(111, "allocate memory") ;
    if (!stralloc_0(&dtline)) strerr_diefu1sys(111, "allocate memory") ;
  }
  r = listpost_send(&l, fd, start, dtline.s, &why) ;
  if (r) strerr_dief1x(r, why.s) ;
  if (why.len > 1) strerr_warnw1x(why.s) ;
  return 0 ;
}
