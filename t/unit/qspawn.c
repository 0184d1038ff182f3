/* unit tests for tools/lib/qspawn: programs started from a child that shares our memory
   until its exec. Real children, real execs. Exit 0 when all pass. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "qspawn.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

static char dir[512] ;

/* Copy strings into the slot's memory and make an array of them there: what a caller must
   do for anything the child reads that the caller may change. */
static char const *const *slot_env (char *mem, size_t len, char const *const *src)
{
  size_t n = 0, off, i ;
  char **v ;
  while (src[n]) n++ ;
  v = (char **)(void *)mem ;
  off = (n + 1) * sizeof (char *) ;
  for (i = 0 ; i < n ; i++)
  {
    size_t l = strlen(src[i]) + 1 ;
    if (off + l > len) return 0 ;
    memcpy(mem + off, src[i], l) ;
    v[i] = mem + off ;
    off += l ;
  }
  v[n] = 0 ;
  return (char const *const *)v ;
}

/* Start argv with env on one end of a socketpair, fd 2 a pipe; returns the pid, or -1. */
static pid_t start (qspawn_req *q, char const *const *env, int *sock, int *errpipe)
{
  int sp[2], pp[2], save ;
  size_t len ;
  char *mem = qspawn_mem(&len) ;
  pid_t pid ;
  sigset_t none ;
  if (!mem) return -1 ;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 || pipe2(pp, O_CLOEXEC) < 0) return -1 ;
  q->envp = slot_env(mem, len, env) ;
  if (!q->envp) return -1 ;
  sigemptyset(&none) ;
  if (!q->mask) q->mask = &none ;
  q->fd = sp[1] ;
  save = dup(2) ;
  dup2(pp[1], 2) ;
  pid = qspawn_go(q) ;
  dup2(save, 2) ; close(save) ;
  if (q->mask == &none) q->mask = 0 ;
  close(sp[1]) ; close(pp[1]) ;
  *sock = sp[0] ; *errpipe = pp[0] ;
  return pid ;
}

static size_t readall (int fd, char *buf, size_t max)
{
  size_t n = 0 ;
  ssize_t r ;
  while (n < max - 1 && (r = read(fd, buf + n, max - 1 - n)) > 0) n += (size_t)r ;
  buf[n] = 0 ;
  close(fd) ;
  return n ;
}

static int wait_exit (pid_t pid)
{
  int w ;
  if (waitpid(pid, &w, 0) != pid) return -1 ;
  return WIFEXITED(w) ? WEXITSTATUS(w) : 1000 + WTERMSIG(w) ;
}

static void script (char const *name, char const *text, mode_t mode)
{
  char p[600] ;
  FILE *f ;
  snprintf(p, sizeof p, "%s/%s", dir, name) ;
  f = fopen(p, "w") ;
  if (!f) { perror(p) ; exit(111) ; }
  fputs(text, f) ;
  fclose(f) ;
  chmod(p, mode) ;
}

/* Run path (or name searched in pathvar) with no environment: 1 if its output, exit
   status and the errno qspawn_reaped gives are what was wanted. */
static int run (char const *path, char const *name, char const *pathvar, char const *const *av, char const *wantout, int wantstatus, int wanterr)
{
  char const *env[] = { 0 } ;
  char out[4096], err[4096] ;
  int s, e, st, r ;
  qspawn_req q = { .path = path, .name = name, .pathvar = pathvar, .argv = av } ;
  pid_t pid = start(&q, env, &s, &e) ;
  if (pid <= 0) return 0 ;
  readall(s, out, sizeof out) ;
  readall(e, err, sizeof err) ;
  st = wait_exit(pid) ;
  r = qspawn_reaped(pid) ;
  if (strcmp(out, wantout) || st != wantstatus || r != wanterr)
  {
    fprintf(stderr, "run %s %s: out [%s] status %d errno %d\n", path ? path : "-", name ? name : "-", out, st, r) ;
    return 0 ;
  }
  return 1 ;
}

int main (int argc, char const *const *argv)
{
  char out[4096], err[4096] ;
  int s, e ;
  pid_t pid ;
  if (argc < 2) { fprintf(stderr, "usage: qspawn scratchdir\n") ; return 2 ; }
  snprintf(dir, sizeof dir, "%s", argv[1]) ;
  signal(SIGPIPE, SIG_IGN) ;

  /* the program runs with the environment, fds 0 and 1 on the socket, fd 2 ours */
  {
    char const *av[] = { "/bin/sh", "-c", "read x ; echo \"$A $B $x\" ; echo to-stderr >&2", 0 } ;
    char const *env[] = { "A=1", "B=two", 0 } ;
    qspawn_req q = { .path = "/bin/sh", .argv = av } ;
    pid = start(&q, env, &s, &e) ;
    CHECK(pid > 0) ;
    if (pid > 0)
    {
      CHECK(write(s, "hello\n", 6) == 6) ;
      readall(s, out, sizeof out) ;
      readall(e, err, sizeof err) ;
      CHECK(!strcmp(out, "1 two hello\n")) ;
      CHECK(!strcmp(err, "to-stderr\n")) ;
      CHECK(wait_exit(pid) == 0) ;
      CHECK(qspawn_reaped(pid) == 0) ;
    }
  }

  /* the log lines come first on fd 2, with the child's pid in them, which is the pid
     returned and the pid of the program */
  {
    char const *av[] = { "/bin/sh", "-c", "echo prog $$ >&2", 0 } ;
    char const *env[] = { 0 } ;
    char const log[] = "pid  from x\nok  done\n" ;
    char want[200] ;
    qspawn_req q = { .path = "/bin/sh", .argv = av, .log = log, .loglen = sizeof log - 1, .pidat = { 4, 15 }, .npid = 2 } ;
    pid = start(&q, env, &s, &e) ;
    CHECK(pid > 0) ;
    if (pid > 0)
    {
      readall(s, out, sizeof out) ;
      readall(e, err, sizeof err) ;
      snprintf(want, sizeof want, "pid %d from x\nok %d done\nprog %d\n", (int)pid, (int)pid, (int)pid) ;
      CHECK(!strcmp(err, want)) ;
      if (strcmp(err, want)) fprintf(stderr, "got: %s\nwanted: %s\n", err, want) ;
      CHECK(wait_exit(pid) == 0) ;
    }
  }

  /* the signal mask given, without glibc's internal signals; the caller's mask unchanged */
  {
    char const *av[] = { "/bin/sh", "-c", "exec grep '^SigBlk' /proc/self/status", 0 } ;
    char const *env[] = { 0 } ;
    sigset_t m, now ;
    qspawn_req q = { .path = "/bin/sh", .argv = av, .mask = &m } ;
    sigemptyset(&m) ; sigaddset(&m, SIGUSR1) ; sigaddset(&m, SIGTERM) ;
    ((unsigned long *)(void *)&m)[0] |= 3UL << 31 ;   /* 32 and 33, which sigaddset refuses */
    pid = start(&q, env, &s, &e) ;
    CHECK(pid > 0) ;
    if (pid > 0)
    {
      readall(s, out, sizeof out) ;
      readall(e, err, sizeof err) ;
      CHECK(!strcmp(out, "SigBlk:\t0000000000004200\n")) ;
      if (strcmp(out, "SigBlk:\t0000000000004200\n")) fprintf(stderr, "got: %s", out) ;
      CHECK(wait_exit(pid) == 0) ;
    }
    sigprocmask(SIG_SETMASK, 0, &now) ;
    CHECK(!sigismember(&now, SIGUSR1)) ;
  }

  /* a slot is free again once its child has exec'd: the same memory comes back */
  {
    size_t l1, l2 ;
    char *m1 = qspawn_mem(&l1), *m2 ;
    qspawn_release() ;
    m2 = qspawn_mem(&l2) ;
    qspawn_release() ;
    CHECK(m1 && m1 == m2 && l1 == l2 && l1 >= 32768) ;
  }

  /* an exec that fails: status 111, the errno kept for qspawn_reaped, once; the caller's
     errno untouched (the child wrote nothing but its slot) */
  {
    char const *av[] = { "nothere", 0 } ;
    char const *env[] = { 0 } ;
    siginfo_t si ;
    qspawn_req q = { .path = "/nonexistent/nothere", .argv = av } ;
    pid = start(&q, env, &s, &e) ;
    CHECK(pid > 0) ;
    if (pid > 0)
    {
      errno = 0 ;
      CHECK(!waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT)) ;
      CHECK(errno == 0) ;
      CHECK(si.si_status == 111) ;
      CHECK(wait_exit(pid) == 111) ;
      CHECK(qspawn_reaped(pid) == ENOENT) ;
      CHECK(qspawn_reaped(pid) == 0) ;
      readall(s, out, sizeof out) ;
      readall(e, err, sizeof err) ;
      CHECK(!*out && !*err) ;   /* the child itself says nothing */
    }
  }

  /* failed children hold their slots until they are reaped: after QSPAWN_SLOTS of them,
     no memory; one reaped, one slot */
  {
    char const *av[] = { "nothere", 0 } ;
    char const *env[] = { 0 } ;
    pid_t pids[QSPAWN_SLOTS] ;
    unsigned int i, started = 0 ;
    size_t l ;
    for (i = 0 ; i < QSPAWN_SLOTS ; i++)
    {
      qspawn_req q = { .path = "/nonexistent/nothere", .argv = av } ;
      pids[i] = start(&q, env, &s, &e) ;
      if (pids[i] > 0) { started++ ; close(s) ; close(e) ; }
    }
    CHECK(started == QSPAWN_SLOTS) ;
    for (i = 0 ; i < started ; i++)
    {
      siginfo_t si ;
      waitid(P_PID, (id_t)pids[i], &si, WEXITED | WNOWAIT) ;
    }
    CHECK(!qspawn_mem(&l)) ;
    if (started)
    {
      CHECK(wait_exit(pids[0]) == 111) ;
      CHECK(qspawn_reaped(pids[0]) == ENOENT) ;
      CHECK(qspawn_mem(&l) != 0) ;
      qspawn_release() ;
    }
    for (i = 1 ; i < started ; i++) { wait_exit(pids[i]) ; CHECK(qspawn_reaped(pids[i]) == ENOENT) ; }
  }

  /* path gone: name looked for in pathvar, in order, empty entries skipped (skalibs'
     rule, which tcpsrv's other way follows); with no path, only the search */
  {
    char const *av[] = { "prog", 0 } ;
    char p1[600], p2[600], pv[2000], gone[700] ;
    snprintf(p1, sizeof p1, "%s/d1", dir) ; mkdir(p1, 0755) ;
    snprintf(p2, sizeof p2, "%s/d2", dir) ; mkdir(p2, 0755) ;
    script("d2/prog", "#!/bin/sh\necho found in d2\n", 0755) ;
    snprintf(gone, sizeof gone, "%s/prog", p1) ;
    snprintf(pv, sizeof pv, "%s:/nonexistent::%s", p1, p2) ;
    CHECK(run(gone, "prog", pv, av, "found in d2\n", 0, 0)) ;
    CHECK(run(0, "prog", pv, av, "found in d2\n", 0, 0)) ;
    CHECK(run(gone, 0, pv, av, "", 111, ENOENT)) ;   /* without name, no search */
    /* a file found but not runnable, and nothing after it: EACCES, as execvp says */
    script("d1/other", "#!/bin/sh\necho no\n", 0644) ;
    {
      char const *av2[] = { "other", 0 } ;
      CHECK(run(0, "other", pv, av2, "", 111, EACCES)) ;
    }
  }

  /* a prog placed only in the current directory is not found through an empty entry */
  {
    char const *av[] = { "cwdprog", 0 } ;
    char here[600] ;
    script("cwdprog", "#!/bin/sh\necho from cwd\n", 0755) ;
    if (getcwd(here, sizeof here) && !chdir(dir))
    {
      CHECK(run(0, "cwdprog", "/nonexistent:", av, "", 111, ENOENT)) ;
      CHECK(run(0, "cwdprog", ".", av, "from cwd\n", 0, 0)) ;
      if (chdir(here) < 0) return 111 ;
    }
  }

  /* a dead log pipe, SIGPIPE at its default: the child still runs the program, and the
     program has no SIGPIPE pending (the child took it) */
  {
    char const *av[] = { "/bin/sh", "-c", "exec grep -E '^(SigPnd|ShdPnd)' /proc/self/status", 0 } ;
    char const log[] = "a log line\n" ;
    char const *env[] = { 0 } ;
    int sp[2], pp[2], save ;
    size_t len ;
    char *mem = qspawn_mem(&len) ;
    sigset_t none ;
    sigemptyset(&none) ;
    CHECK(mem && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0 && pipe2(pp, O_CLOEXEC) == 0) ;
    if (mem)
    {
      qspawn_req q = { .path = "/bin/sh", .argv = av, .fd = sp[1], .mask = &none, .log = log, .loglen = sizeof log - 1 } ;
      q.envp = slot_env(mem, len, env) ;
      close(pp[0]) ;
      signal(SIGPIPE, SIG_DFL) ;
      save = dup(2) ; dup2(pp[1], 2) ;
      pid = qspawn_go(&q) ;
      dup2(save, 2) ; close(save) ; close(pp[1]) ; close(sp[1]) ;
      signal(SIGPIPE, SIG_IGN) ;
      CHECK(pid > 0) ;
      readall(sp[0], out, sizeof out) ;
      CHECK(!strcmp(out, "SigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n")) ;
      if (pid > 0) CHECK(wait_exit(pid) == 0) ;
    }
  }

  /* while one child loads its program, the next start waits for its own exec: its slot
     is free when qspawn_go returns. The first child is held in its log write to a full
     pipe. */
  {
    char const *av[] = { "/bin/true", 0 } ;
    char const *env[] = { 0 } ;
    char const log[] = "held\n" ;
    char junk[65536] ;
    int pp[2], sa[2], sb[2], save, fl ;
    size_t la, lb, l2 ;
    char *ma, *mb, *m2 ;
    pid_t a = -1, b = -1 ;
    sigset_t none ;
    sigemptyset(&none) ;
    memset(junk, 'j', sizeof junk) ;
    if (pipe2(pp, O_CLOEXEC) == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sa) == 0
     && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sb) == 0)
    {
      fl = fcntl(pp[1], F_GETFL) ;
      fcntl(pp[1], F_SETFL, fl | O_NONBLOCK) ;
      while (write(pp[1], junk, sizeof junk) > 0) ;
      fcntl(pp[1], F_SETFL, fl) ;
      ma = qspawn_mem(&la) ;
      if (ma)
      {
        qspawn_req q = { .path = "/bin/true", .argv = av, .fd = sa[1], .mask = &none, .log = log, .loglen = sizeof log - 1 } ;
        q.envp = slot_env(ma, la, env) ;
        save = dup(2) ; dup2(pp[1], 2) ;
        a = qspawn_go(&q) ;
        dup2(save, 2) ; close(save) ;
      }
      mb = qspawn_mem(&lb) ;
      CHECK(a > 0 && mb && mb != ma) ;
      if (a > 0 && mb)
      {
        qspawn_req q = { .path = "/bin/true", .argv = av, .fd = sb[1], .mask = &none } ;
        q.envp = slot_env(mb, lb, env) ;
        b = qspawn_go(&q) ;
        CHECK(b > 0) ;
        m2 = qspawn_mem(&l2) ;   /* the lowest free slot: b's, already free */
        qspawn_release() ;
        CHECK(m2 == mb) ;
      }
      while (read(pp[0], junk, sizeof junk) == (ssize_t)sizeof junk) ;   /* let a write */
      close(pp[1]) ;
      if (a > 0) CHECK(wait_exit(a) == 0) ;
      if (b > 0) CHECK(wait_exit(b) == 0) ;
      close(pp[0]) ; close(sa[0]) ; close(sa[1]) ; close(sb[0]) ; close(sb[1]) ;
    }
  }

  /* bad requests: no slot taken, no mask, fd 0 or 1, a log too long, pid offsets out of
     order or past the log */
  {
    sigset_t none ;
    qspawn_req q ;
    qspawn_req const good = { .path = "/bin/true", .fd = 5, .mask = &none, .log = "0123456789", .loglen = 10, .pidat = { 2, 4 }, .npid = 2 } ;
    char big[QSPAWN_LOGMAX + 1] ;
    size_t l ;
    sigemptyset(&none) ;
    q = good ;
    errno = 0 ;
    CHECK(qspawn_go(&q) < 0 && errno == EINVAL) ;
    memset(big, 'x', sizeof big) ;
    q.log = big ; q.loglen = sizeof big ;
    CHECK(qspawn_mem(&l) != 0 && qspawn_go(&q) < 0 && errno == EINVAL) ;
    q = good ; q.mask = 0 ;
    CHECK(qspawn_mem(&l) != 0 && qspawn_go(&q) < 0 && errno == EINVAL) ;
    q = good ; q.fd = 1 ;
    CHECK(qspawn_mem(&l) != 0 && qspawn_go(&q) < 0 && errno == EINVAL) ;
    q = good ; q.pidat[0] = 5 ; q.pidat[1] = 3 ;
    CHECK(qspawn_mem(&l) != 0 && qspawn_go(&q) < 0 && errno == EINVAL) ;
    q = good ; q.pidat[1] = 11 ;
    CHECK(qspawn_mem(&l) != 0 && qspawn_go(&q) < 0 && errno == EINVAL) ;
    q = good ; q.npid = 3 ;
    CHECK(qspawn_mem(&l) != 0 && qspawn_go(&q) < 0 && errno == EINVAL) ;
  }

  return failed ? 1 : 0 ;
}
