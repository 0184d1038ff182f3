/* preline: give prog the message on stdin with the From_ line ($UFLINE), Return-Path
   ($RPLINE) and Delivered-To ($DTLINE) local-deliver made, on top, as procmail and other
   mbox-minded filters want it; exit with prog's code (111 when it crashed). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>

#define USAGE "preline [ -d ] [ -f ] [ -r ] prog..."
#define dieusage() strerr_dieusage(100, USAGE)

/* write s and a newline when it lacks one; 0 when prog stopped reading */
static int put (int fd, char const *s)
{
  size_t n = strlen(s) ;
  if (allwrite(fd, s, n) < n) return 0 ;
  if ((!n || s[n-1] != '\n') && allwrite(fd, "\n", 1) < 1) return 0 ;
  return 1 ;
}

static char const *need (char const *name)
{
  char const *s = getenv(name) ;
  if (!s) strerr_dienotset(100, name) ;
  return s ;
}

int main (int argc, char const *const *argv)
{
  char const *lines[3] ;
  int use[3] = { 1, 1, 1 } ;   /* UFLINE, RPLINE, DTLINE */
  int p[2], wstat, ok = 1 ;
  pid_t pid ;
  PROG = "preline" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "dfr", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'f' : use[0] = 0 ; break ;
        case 'r' : use[1] = 0 ; break ;
        case 'd' : use[2] = 0 ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc < 1 || !*argv[0]) dieusage() ;
  lines[0] = use[0] ? need("UFLINE") : 0 ;
  lines[1] = use[1] ? need("RPLINE") : 0 ;
  lines[2] = use[2] ? need("DTLINE") : 0 ;
  sig_ignore(SIGPIPE) ;        /* prog may stop reading: only its exit code matters then */
  sig_restore(SIGCHLD) ;
  if (pipe(p) < 0) strerr_diefu1sys(111, "make a pipe") ;
  pid = fork() ;
  if (pid < 0) strerr_diefu1sys(111, "fork") ;
  if (!pid)
  {
    if (dup2(p[0], 0) < 0) strerr_diefu1sys(111, "set up the descriptors") ;
    close(p[0]) ; close(p[1]) ;
    sig_restore(SIGPIPE) ;
    execvp(argv[0], (char *const *)argv) ;
    strerr_diefu2sys(111, "run ", argv[0]) ;
  }
  close(p[0]) ;
  for (int i = 0 ; i < 3 && ok ; i++) if (lines[i] && !put(p[1], lines[i])) ok = 0 ;
  while (ok)
  {
    char buf[65536] ;
    ssize_t r = read(0, buf, sizeof buf) ;
    if (r < 0)
    {
      if (errno == EINTR) continue ;
      /* prog must not take a cut message for a whole one */
      kill(pid, SIGTERM) ;
      strerr_diefu1sys(111, "read the message") ;
    }
    if (!r) break ;
    if (allwrite(p[1], buf, r) < (size_t)r) ok = 0 ;
  }
  close(p[1]) ;
  while (waitpid(pid, &wstat, 0) < 0) if (errno != EINTR) strerr_diefu2sys(111, "wait for ", argv[0]) ;
  if (!WIFEXITED(wstat)) return 111 ;
  return WEXITSTATUS(wstat) ;
}
