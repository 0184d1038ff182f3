/* maildir-deliver: deliver the message on stdin into the Maildir dir, safely (see maildir.h).
   Started once per message, so it links nothing but libc: libskarnet alone would add a
   shared object to load at every start (t/bench/maildir-deliver.sh measures it). Its
   messages keep the strerr format: "maildir-deliver: fatal: ...". */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "maildir.h"

#define USAGE "maildir-deliver [ -c ] [ -b ] [ -q quota ] [ -t timeout ] dir"

static void say (int code, char const *a, char const *b)
{
  size_t la = strlen(a), lb = strlen(b) ;
  char out[la + lb + 40] ;
  memcpy(out, "maildir-deliver: ", 17) ;
  memcpy(out + 17, a, la) ;
  memcpy(out + 17 + la, b, lb) ;
  out[17 + la + lb] = '\n' ;
  if (write(2, out, 18 + la + lb) < 0) { /* nowhere left to complain */ }
  _exit(code) ;
}

#define dieusage() say(100, "usage: ", USAGE)

static int scan_uint (char const *s, unsigned int *u)
{
  unsigned long x = 0 ;
  if (!*s) return 0 ;
  for (; *s ; s++)
  {
    if (*s < '0' || *s > '9') return 0 ;
    x = x * 10 + (*s - '0') ;
    if (x > 0xffffffffUL) return 0 ;
  }
  *u = (unsigned int)x ;
  return 1 ;
}

int main (int argc, char *const *argv)
{
  maildir_opts o = MAILDIR_OPTS_ZERO ;
  maildir_result r ;
  int i = 1 ;
  o.timeout = 86400 ;
  for (; i < argc && argv[i][0] == '-' && argv[i][1] ; i++)
  {
    char const *s = argv[i] + 1 ;
    if (!strcmp(argv[i], "--")) { i++ ; break ; }
    for (; *s ; s++)
    {
      char const *arg ;
      switch (*s)
      {
        case 'c' : o.create = 1 ; continue ;
        case 'b' : o.overquota_code = 100 ; continue ;
        case 'q' : case 't' : break ;
        default : dieusage() ;
      }
      /* -q and -t take a value: the rest of this word, or the next word */
      arg = s[1] ? s + 1 : argv[++i] ;
      if (!arg) dieusage() ;
      if (*s == 'q') { if (!maildir_quota_parse(arg, &o.quota)) dieusage() ; o.quota_set = 1 ; }
      else if (!scan_uint(arg, &o.timeout)) dieusage() ;
      break ;
    }
  }
  if (argc - i != 1) dieusage() ;
  signal(SIGXFSZ, SIG_IGN) ;   /* past a file size limit: EFBIG, and the file in tmp/ is removed */
  o.rpline = getenv("RPLINE") ;
  o.dtline = getenv("DTLINE") ;
  if (!maildir_deliver(argv[i], 0, &o, &r))
  {
    char msg[1024] ;
    maildir_strerror(&r, argv[i], msg, sizeof msg) ;
    say(r.code, "fatal: ", msg) ;
  }
  return 0 ;
}
