/* tcprules: compile the rules text on stdin into a cdb, replacing it atomically. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/gccattributes.h>
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "atomic.h"
#include "rules.h"

#define USAGE "tcprules rules.cdb rules.tmp"
#define dieusage() strerr_dieusage(100, USAGE)

static char const *tmp ;

static void die_parse (char const *, unsigned long, char const *) gccattr_noreturn ;
static void die_write (void) gccattr_noreturn ;

static void die_parse (char const *name, unsigned long lineno, char const *why)
{
  char fmt[ULONG_FMT] ;
  fmt[ulong_fmt(fmt, lineno)] = 0 ;
  unlink(tmp) ;
  strerr_diefu(100, "parse ", name, " line ", fmt, ": ", why) ;
}

static void die_write (void)
{
  int e = errno ;
  unlink(tmp) ;
  errno = e ;
  strerr_diefu2sys(111, "write ", tmp) ;
}

/* what to call stdin in messages: the file it reads, when it is one */
static char const *input_name (char *buf, size_t n)
{
  struct stat st ;
  ssize_t r ;
  if (fstat(0, &st) < 0 || !S_ISREG(st.st_mode)) return "standard input" ;
  r = readlink("/proc/self/fd/0", buf, n - 1) ;
  if (r <= 0 || (size_t)r >= n - 1) return "standard input" ;
  buf[r] = 0 ;
  return buf ;
}

int main (int argc, char const *const *argv)
{
  static rules_make m ;
  char namebuf[4096] ;
  char const *name ;
  size_t cap = 4 * RULES_LINE_MAX, have = 0, start = 0 ;
  unsigned long lineno = 0 ;
  char *buf ;
  int fd, eof = 0 ;
  PROG = "tcprules" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    if (subgetopt_r(argc, argv, "", &l) != -1) dieusage() ;
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc < 2) dieusage() ;
  tmp = argv[1] ;
  name = input_name(namebuf, sizeof namebuf) ;
  buf = malloc(cap) ;
  if (!buf) strerr_diefu1sys(111, "allocate memory") ;

  /* O_EXCL after unlink: never write through a link someone left at tmp */
  if (unlink(tmp) < 0 && errno != ENOENT) strerr_diefu2sys(111, "remove ", tmp) ;
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644) ;
  if (fd < 0) strerr_diefu2sys(111, "create ", tmp) ;
  if (rules_make_start(&m, fd) < 0) die_write() ;

  while (!eof)
  {
    ssize_t r = read(0, buf + have, cap - have) ;
    if (r < 0)
    {
      int e = errno ;
      if (e == EINTR) continue ;
      unlink(tmp) ; errno = e ;
      strerr_diefu1sys(111, "read standard input") ;
    }
    if (!r) eof = 1 ;
    have += r ;
    for (;;)
    {
      char *nl = memchr(buf + start, '\n', have - start) ;
      size_t len ;
      if (nl) len = nl - (buf + start) ;
      else if (eof && start < have) len = have - start ;
      else break ;
      lineno++ ;
      if (len > RULES_LINE_MAX) die_parse(name, lineno, "line longer than 65536 bytes") ;
      switch (rules_make_line(&m, buf + start, len))
      {
        case -1 : die_write() ;
        case 0 : die_parse(name, lineno, m.err) ;
      }
      start += len + !!nl ;
      /* start writing back as we go, so that the final fsync has little left to wait for */
      if (!(lineno & 0x7fff)) sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) ;
    }
    if (have - start > RULES_LINE_MAX) die_parse(name, lineno + 1, "line longer than 65536 bytes") ;
    memmove(buf, buf + start, have - start) ;
    have -= start ; start = 0 ;
  }
  if (rules_make_finish(&m) < 0) die_write() ;
  rules_make_free(&m) ;
  free(buf) ;
  if (!atomic_rename(fd, tmp, argv[0])) strerr_diefu4sys(111, "move ", tmp, " to ", argv[0]) ;
  return 0 ;
}
