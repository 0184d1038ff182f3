#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include "qqueue.h"

int qqueue_start (qqueue *q)
{
  int m[2], e[2] ;
  char const *prog = getenv("QMAILQUEUE") ;
  pid_t pid ;
  if (!prog || !*prog) prog = "queue-inject" ;
  if (pipe(m) < 0) return 0 ;
  if (pipe(e) < 0) { int x = errno ; close(m[0]) ; close(m[1]) ; errno = x ; return 0 ; }
  pid = fork() ;
  if (pid < 0)
  {
    int x = errno ;
    close(m[0]) ; close(m[1]) ; close(e[0]) ; close(e[1]) ;
    errno = x ; return 0 ;
  }
  if (!pid)
  {
    char const *argv[2] = { prog, 0 } ;
    close(m[1]) ; close(e[1]) ;
    if (fd_move(0, m[0]) < 0 || fd_move(1, e[0]) < 0) _exit(53) ;
    execvp(prog, (char *const *)argv) ;
    _exit(errno == ENOENT ? 61 : 81) ;
  }
  close(m[0]) ; close(e[0]) ;
  fcntl(m[1], F_SETFD, FD_CLOEXEC) ;
  fcntl(e[1], F_SETFD, FD_CLOEXEC) ;
  q->pid = pid ; q->msgfd = m[1] ; q->envfd = e[1] ;
  return 1 ;
}

int qqueue_envelope_add (stralloc *env, char kind, char const *addr)
{
  return stralloc_catb(env, &kind, 1) && stralloc_cats(env, addr) && stralloc_0(env) ;
}

static int qqueue_reap (qqueue *q)
{
  int wstat ;
  pid_t r ;
  do r = waitpid(q->pid, &wstat, 0) ; while (r < 0 && errno == EINTR) ;
  q->pid = 0 ;
  if (r < 0) return 81 ;
  if (WIFEXITED(wstat)) return WEXITSTATUS(wstat) ;
  return 81 ;
}

int qqueue_finish (qqueue *q, char const *env, size_t envlen)
{
  int bad = 0 ;
  int code ;
  if (q->msgfd >= 0) { close(q->msgfd) ; q->msgfd = -1 ; }
  if (allwrite(q->envfd, env, envlen) < envlen || allwrite(q->envfd, "", 1) < 1) bad = 1 ;
  close(q->envfd) ; q->envfd = -1 ;
  code = qqueue_reap(q) ;
  /* the program decides; if it said 0 without reading the whole envelope, distrust it */
  if (bad && !code) code = 54 ;
  return code ;
}

void qqueue_abort (qqueue *q)
{
  if (q->msgfd >= 0) { close(q->msgfd) ; q->msgfd = -1 ; }
  if (q->envfd >= 0) { close(q->envfd) ; q->envfd = -1 ; }
  if (q->pid > 0) { kill(q->pid, SIGTERM) ; qqueue_reap(q) ; }
}

int qqueue_permanent (int code)
{
  return (code >= 11 && code <= 31) || code == 91 ;
}

char const *qqueue_strerror (int code)
{
  switch (code)
  {
    case 0 : return "ok" ;
    case 11 : return "address too long" ;
    case 31 : return "mail server permanently refuses to send the message to any recipients" ;
    case 51 : return "out of memory" ;
    case 52 : return "timeout" ;
    case 53 : return "write error (disk full?)" ;
    case 54 : return "unable to read the message or envelope" ;
    case 55 : return "unable to read a configuration file" ;
    case 56 : return "problem making a network connection from this host" ;
    case 61 : return "problem with the queue's home directory" ;
    case 62 : return "problem with the queue directory" ;
    case 63 : return "problem with queue/pid" ;
    case 64 : return "problem with queue/mess" ;
    case 65 : return "problem with queue/intd" ;
    case 66 : return "problem with queue/todo" ;
    case 71 : return "mail server temporarily rejected the message" ;
    case 72 : return "connection to mail server timed out" ;
    case 73 : return "connection to mail server rejected" ;
    case 74 : return "communication with mail server failed" ;
    case 81 : return "internal bug in the queue program" ;
    case 91 : return "envelope format error" ;
    default : return qqueue_permanent(code) ? "permanent queue failure" : "temporary queue failure" ;
  }
}
