#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include "qqueue.h"

/* a pipe whose ends are both above 2 and close-on-exec, so the dup2s below cannot clash */
static int qqueue_pipe (int p[2])
{
  int i ;
  if (pipe2(p, O_CLOEXEC) < 0) return 0 ;
  for (i = 0 ; i < 2 ; i++) if (p[i] <= 2)
  {
    int fd = fcntl(p[i], F_DUPFD_CLOEXEC, 3) ;
    if (fd < 0) { int e = errno ; close(p[0]) ; close(p[1]) ; errno = e ; return 0 ; }
    close(p[i]) ; p[i] = fd ;
  }
  return 1 ;
}

int qqueue_start (qqueue *q)
{
  extern char **environ ;
  int m[2], e[2], r ;
  char const *prog = getenv("QMAILQUEUE") ;
  char *argv[2] ;
  posix_spawn_file_actions_t fa ;
  posix_spawnattr_t attr ;
  sigset_t all, none ;
  pid_t pid ;
  if (!prog || !*prog) prog = "queue-inject" ;
  argv[0] = (char *)prog ; argv[1] = 0 ;
  if (!qqueue_pipe(m)) return 0 ;
  if (!qqueue_pipe(e)) { int x = errno ; close(m[0]) ; close(m[1]) ; errno = x ; return 0 ; }
  /* posix_spawn, not fork: one per message, and far cheaper for the caller's hot path.
     The program starts with default signal dispositions and an empty mask, whatever the
     caller ignores or blocks (SIGPIPE, SIGALRM...). */
  r = posix_spawn_file_actions_init(&fa) ;
  if (r) goto fail ;
  r = posix_spawnattr_init(&attr) ;
  if (r) { posix_spawn_file_actions_destroy(&fa) ; goto fail ; }
  sigfillset(&all) ; sigemptyset(&none) ;
  r = posix_spawn_file_actions_adddup2(&fa, m[0], 0) ;
  if (!r) r = posix_spawn_file_actions_adddup2(&fa, e[0], 1) ;
  if (!r) r = posix_spawnattr_setsigdefault(&attr, &all) ;
  if (!r) r = posix_spawnattr_setsigmask(&attr, &none) ;
  if (!r) r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK) ;
  if (!r) r = posix_spawnp(&pid, prog, &fa, &attr, argv, environ) ;
  posix_spawnattr_destroy(&attr) ;
  posix_spawn_file_actions_destroy(&fa) ;
 fail:
  close(m[0]) ; close(e[0]) ;
  if (r)
  {
    close(m[1]) ; close(e[1]) ;
    errno = r ; return 0 ;
  }
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
