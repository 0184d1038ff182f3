/* newmrh: compile control/morercpthosts (one domain a line) into control/morercpthosts.cdb,
   the form smtpd reads, put in place atomically. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <cdb.h>
#include <skalibs/sgetopt.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "atomic.h"
#include "control.h"

#define USAGE "newmrh"
#define dieusage() strerr_dieusage(100, USAGE)
#define dienomem() strerr_diefu1sys(111, "allocate memory")

int main (int argc, char const *const *argv)
{
  stralloc src = STRALLOC_ZERO, text = STRALLOC_ZERO, cdbp = STRALLOC_ZERO, tmp = STRALLOC_ZERO ;
  struct cdb_make cm ;
  unsigned int lineno = 0 ;
  int fd ;
  PROG = "newmrh" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    if (subgetopt_r(argc, argv, "", &l) != -1) dieusage() ;
    if (argc != l.ind) dieusage() ;
  }
  if (!stralloc_cats(&src, control_root()) || !stralloc_cats(&src, "/control/morercpthosts")
   || !stralloc_copy(&cdbp, &src) || !stralloc_cats(&cdbp, ".cdb") || !stralloc_0(&cdbp)
   || !stralloc_copy(&tmp, &src) || !stralloc_cats(&tmp, ".tmp") || !stralloc_0(&tmp)
   || !stralloc_0(&src)) dienomem() ;
  fd = open(src.s, O_RDONLY | O_CLOEXEC) ;
  if (fd < 0) strerr_diefu2sys(111, "open ", src.s) ;
  for (;;)
  {
    ssize_t r ;
    if (!stralloc_readyplus(&text, 65536)) dienomem() ;
    r = read(fd, text.s + text.len, 65536) ;
    if (r < 0) { if (errno == EINTR) continue ; strerr_diefu2sys(111, "read ", src.s) ; }
    if (!r) break ;
    text.len += r ;
  }
  close(fd) ;

  fd = open(tmp.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) ;
  if (fd < 0) strerr_diefu2sys(111, "create ", tmp.s) ;
  if (cdb_make_start(&cm, fd) < 0) strerr_diefu2sys(111, "start ", tmp.s) ;
  for (size_t pos = 0 ; pos < text.len ; )
  {
    char *s = text.s + pos ;
    char *nl = memchr(s, '\n', text.len - pos) ;
    size_t l = nl ? (size_t)(nl - s) : text.len - pos ;
    pos += l + 1 ;
    lineno++ ;
    while (l && (s[l-1] == ' ' || s[l-1] == '\t' || s[l-1] == '\r')) l-- ;
    if (!l || s[0] == '#') continue ;
    for (size_t i = 0 ; i < l ; i++)
    {
      unsigned char c = s[i] ;
      if (c <= ' ' || c >= 127 || c == '@' || c == '/')
      {
        char fmt[UINT_FMT] ;
        s[l] = 0 ;
        fmt[uint_fmt(fmt, lineno)] = 0 ;
        unlink(tmp.s) ;
        strerr_dief6x(100, src.s, " line ", fmt, ": not a domain: ", s, " (nothing changed)") ;
      }
      if (c >= 'A' && c <= 'Z') s[i] = c + 32 ;
    }
    if (cdb_make_add(&cm, s, l, "", 0) < 0) { unlink(tmp.s) ; strerr_diefu2sys(111, "write ", tmp.s) ; }
  }
  if (cdb_make_finish(&cm) < 0) { unlink(tmp.s) ; strerr_diefu2sys(111, "write ", tmp.s) ; }
  if (!atomic_rename(fd, tmp.s, cdbp.s)) strerr_diefu4sys(111, "put ", tmp.s, " in place as ", cdbp.s) ;
  return 0 ;
}
