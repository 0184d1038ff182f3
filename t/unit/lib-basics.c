/* unit tests for tools/lib/: atomic, control, logtext, qqueue. Exit 0 when all pass. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <skalibs/strerr.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include "atomic.h"
#include "control.h"
#include "logtext.h"
#include "qqueue.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

static void put (char const *dir, char const *name, char const *s)
{
  char p[512] ;
  snprintf(p, sizeof p, "%s/control/%s", dir, name) ;
  CHECK(atomic_write(p, s, strlen(s), 0644)) ;
}

int main (int argc, char const *const *argv)
{
  char const *dir = argc > 1 ? argv[1] : 0 ;
  char path[512] ;
  stralloc sa = STRALLOC_ZERO ;
  unsigned long u ;
  if (!dir) { fprintf(stderr, "usage: lib-basics scratchdir\n") ; return 2 ; }
  signal(SIGPIPE, SIG_IGN) ;   /* as qqueue.h asks of its callers */

  /* strerr: the forced strerrfix.h mends skalibs 2.13's "fatal: : unable to" */
  {
    int p[2], wstat ;
    char buf[128] ;
    ssize_t n ;
    pid_t pid ;
    CHECK(pipe(p) == 0) ;
    pid = fork() ;
    if (!pid) { dup2(p[1], 2) ; PROG = "tool" ; strerr_diefu2x(100, "do ", "this") ; }
    close(p[1]) ;
    n = read(p[0], buf, sizeof buf - 1) ;
    close(p[0]) ;
    waitpid(pid, &wstat, 0) ;
    CHECK(n == 31 && !memcmp(buf, "tool: fatal: unable to do this\n", 31)) ;
    CHECK(WIFEXITED(wstat) && WEXITSTATUS(wstat) == 100) ;
  }

  /* logtext */
  CHECK(logtext_cat(&sa, "a\001b:c\xff", 6, 100, ":")) ;
  CHECK(sa.len == 6 && !memcmp(sa.s, "a?b?c?", 6)) ;
  sa.len = 0 ;
  CHECK(logtext_cat(&sa, "abcdef", 6, 3, 0)) ;
  CHECK(sa.len == 6 && !memcmp(sa.s, "abc...", 6)) ;

  /* atomic + control */
  snprintf(path, sizeof path, "%s/control", dir) ;
  CHECK(mkdir(path, 0755) == 0) ;
  setenv("SLUICEDIR", dir, 1) ;
  CHECK(!strcmp(control_root(), dir)) ;
  put(dir, "me", "mx.example.org \r\nsecond line\n") ;
  CHECK(control_readline(&sa, "me", "x") == 1 && !strcmp(sa.s, "mx.example.org")) ;
  CHECK(control_readline(&sa, "absent", "dflt") == 0 && !strcmp(sa.s, "dflt")) ;
  put(dir, "rcpthosts", "# comment\nexample.org\n\n  \nexample.net\r\n") ;
  CHECK(control_readlines(&sa, "rcpthosts") == 1) ;
  CHECK(sa.len == 24 && !memcmp(sa.s, "example.org\0example.net\0", 24)) ;
  CHECK(control_readlines(&sa, "absent") == 1 && sa.len == 0) ;
  put(dir, "databytes", "1048576\n") ;
  CHECK(control_readulong(&u, "databytes", 7) == 1 && u == 1048576) ;
  CHECK(control_readulong(&u, "absent", 7) == 1 && u == 7) ;
  put(dir, "bad", "12x\n") ;
  CHECK(control_readulong(&u, "bad", 7) == -1 && errno == EINVAL) ;
  put(dir, "empty", "") ;
  CHECK(control_readulong(&u, "empty", 7) == -1) ;
  snprintf(path, sizeof path, "%s/control/me.tmp.%lu", dir, (unsigned long)getpid()) ;
  CHECK(access(path, F_OK) < 0) ;   /* no temporary file left behind */

  /* qqueue: a queue program that copies message and envelope to files */
  {
    qqueue q = QQUEUE_ZERO ;
    stralloc env = STRALLOC_ZERO ;
    char prog[600], got[1024] ;
    int fd ;
    ssize_t n ;
    snprintf(prog, sizeof prog, "%s/qq", dir) ;
    /* the shell reads its own status: a grep child would see it mid-vfork, signals blocked */
    snprintf(got, sizeof got, "#!/bin/sh\ncat > %s/msg && cat 0<&1 >%s/env && while read -r k v ; do case $k in SigIgn:|SigBlk:) printf '%%s\\t%%s\\n' $k $v ;; esac ; done < /proc/self/status > %s/sig && exit ${QQEXIT:-0}\n", dir, dir, dir) ;
    CHECK(atomic_write(prog, got, strlen(got), 0755)) ;
    setenv("QMAILQUEUE", prog, 1) ;
    CHECK(qqueue_envelope_add(&env, 'F', "a@b")) ;
    CHECK(qqueue_envelope_add(&env, 'T', "c@d")) ;
    CHECK(qqueue_start(&q, env.s, env.len)) ;
    CHECK(qqueue_write(&q, "Subject: x\n\nhi\n", 15)) ;
    CHECK(qqueue_finish(&q) == 0) ;
    snprintf(path, sizeof path, "%s/env", dir) ;
    fd = open(path, O_RDONLY) ;
    n = read(fd, got, sizeof got) ;
    close(fd) ;
    CHECK(n == 11 && !memcmp(got, "Fa@b\0Tc@d\0\0", 11)) ;
    /* the caller ignores SIGPIPE; the queue program must not inherit that */
    snprintf(path, sizeof path, "%s/sig", dir) ;
    fd = open(path, O_RDONLY) ;
    n = read(fd, got, sizeof got - 1) ;
    close(fd) ;
    got[n > 0 ? n : 0] = 0 ;
    {
      /* the classic signals (1-31) neither blocked nor ignored; glibc's own 32, 33 may be */
      char const *b = strstr(got, "SigBlk:\t"), *i = strstr(got, "SigIgn:\t") ;
      CHECK(b && i) ;
      if (b && i)
      {
        CHECK(!(strtoull(b + 8, 0, 16) & 0x7fffffffULL)) ;
        CHECK(!(strtoull(i + 8, 0, 16) & 0x7fffffffULL)) ;
      }
    }
    setenv("QQEXIT", "31", 1) ;
    CHECK(qqueue_start(&q, env.s, env.len)) ;
    CHECK(qqueue_finish(&q) == 31) ;
    CHECK(qqueue_permanent(31) && qqueue_permanent(91) && !qqueue_permanent(51) && !qqueue_permanent(0)) ;
    setenv("QMAILQUEUE", "/nonexistent/queue", 1) ;
    CHECK(!qqueue_start(&q, env.s, env.len) && errno == ENOENT) ;   /* the caller answers "try again" */
    stralloc_free(&env) ;
  }
  stralloc_free(&sa) ;
  return failed ? 1 : 0 ;
}
