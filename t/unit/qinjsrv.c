/* unit tests for tools/lib/qinjsrv (the server's side of queue-injectd's protocol) against
   tools/lib/qqueue (the client's side), over socketpairs and a unix socket. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <skalibs/stralloc.h>
#include "qinjsrv.h"
#include "qqueue.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

/* a server reading bytes s[0..len) written by a client that then closes */
static int feed (qinjsrv *c, int sv[2], char const *s, size_t len)
{
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return 0 ;
  if (write(sv[0], s, len) != (ssize_t)len) return 0 ;
  close(sv[0]) ;
  qinjsrv_init(c, sv[1], 0) ;
  return 1 ;
}
#define FEED(s) feed(&c, sv, s, sizeof(s) - 1)

static void collect (char const *name, char const *value, void *data)
{
  stralloc *sa = data ;
  stralloc_cats(sa, name) ; stralloc_cats(sa, "=") ; stralloc_cats(sa, value) ; stralloc_cats(sa, ";") ;
}

/* the server of the unix socket test: one connection, checked; the answer says what failed */
static void server (int lfd, int origin) gccattr_noreturn ;
static void server (int lfd, int origin)
{
  static qinjsrv c ;
  stralloc vars = STRALLOC_ZERO, env = STRALLOC_ZERO, msg = STRALLOC_ZERO, got = STRALLOC_ZERO ;
  static char const *const names[] = { QQUEUE_VARS, 0 } ;
  unsigned int flags ;
  char const *s ;
  size_t n ;
  int r, fd = accept(lfd, 0, 0) ;
  char const *bad = 0 ;
  qinjsrv_init(&c, fd, 5) ;
  if (qinjsrv_greeting(&c, &flags, &vars) != 1) bad = "greeting" ;
  else if (!origin && flags != (QINJSRV_NET | QINJSRV_VARS)) bad = "flags" ;
  else if (origin && (flags != (QINJSRV_VARS | QINJSRV_ORIGIN) || c.ouid != 1000 || c.opid != 4242)) bad = "origin" ;
  else if (qinjsrv_envelope(&c, &env, 1000) != 1 || env.len != 11 || memcmp(env.s, "Fa@b\0Tc@d\0\0", 11)) bad = "envelope" ;
  if (!bad)
  {
    while ((r = qinjsrv_data(&c, &s, &n)) == 1) stralloc_catb(&msg, s, n) ;
    if (r != 2) bad = "commit" ;
    else if (msg.len != 12 || memcmp(msg.s, "Subject: x\n\n", 12)) bad = "message" ;
  }
  qinjsrv_vars(vars.s, vars.len, names, &collect, &got) ;
  stralloc_0(&got) ;
  if (!bad && strcmp(got.s, origin ? "TCPREMOTEIP=192.0.2.1;SMTPHELO=h.example;" : "PROTO=TCP;TCPREMOTEIP=192.0.2.1;SMTPHELO=h.example;")) bad = got.s ;
  if (bad) qinjsrv_answer(fd, 81, bad) ;
  else qinjsrv_answer(fd, 71, "the filter says no") ;
  _exit(0) ;
}

int main (int argc, char const *const *argv)
{
  static qinjsrv c ;
  stralloc sa = STRALLOC_ZERO ;
  unsigned int flags ;
  char const *s ;
  size_t n ;
  int sv[2] ;
  char const *base = argc > 1 ? argv[1] : "/tmp" ;

  /* greetings */
  CHECK(FEED("1:1,")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == 1 && flags == 0) ; close(sv[1]) ;
  CHECK(FEED("2:1n,")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == 1 && flags == QINJSRV_NET) ; close(sv[1]) ;
  sa.len = 0 ;
  CHECK(FEED("3:1ne,8:A=1\0B=2\0,")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == 1 && flags == (QINJSRV_NET | QINJSRV_VARS) && sa.len == 8) ; close(sv[1]) ;
  CHECK(FEED("1:2,")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == -3) ; close(sv[1]) ;
  CHECK(FEED("2:1x,")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == -3) ; close(sv[1]) ;
  CHECK(FEED("3:1nn,")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == -3) ; close(sv[1]) ;
  CHECK(FEED("1:1;")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == -2) ; close(sv[1]) ;
  CHECK(FEED(":1,")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == -2) ; close(sv[1]) ;
  CHECK(FEED("12345678901:")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == -2) ; close(sv[1]) ;
  CHECK(FEED("1:")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == 0) ; close(sv[1]) ;
  CHECK(FEED("")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == 0) ; close(sv[1]) ;
  CHECK(FEED("2:1e,9000:")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == -2) ; close(sv[1]) ;
  /* the origin of a local injection a filter hands on (flag l): "UID PID" */
  CHECK(FEED("2:1l,9:1000 4242,")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == 1 && flags == QINJSRV_ORIGIN && c.ouid == 1000 && c.opid == 4242) ; close(sv[1]) ;
  sa.len = 0 ;
  CHECK(FEED("3:1el,4:A=1\0,3:0 7,")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == 1 && flags == (QINJSRV_VARS | QINJSRV_ORIGIN) && sa.len == 4 && c.ouid == 0 && c.opid == 7) ; close(sv[1]) ;
  CHECK(FEED("2:1l,4:1000,")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == -2) ; close(sv[1]) ;
  CHECK(FEED("2:1l,6:x 1234,")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == -2) ; close(sv[1]) ;
  CHECK(FEED("2:1l,7:1 2 3 4,")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == -2) ; close(sv[1]) ;
  CHECK(FEED("2:1l,6:1 234 ,")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == -2) ; close(sv[1]) ;
  CHECK(FEED("2:1l,50:")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == -2) ; close(sv[1]) ;
  CHECK(FEED("3:1ll,")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == -3) ; close(sv[1]) ;
  CHECK(FEED("2:1l,")) ; CHECK(qinjsrv_greeting(&c, &flags, &sa) == 0) ; close(sv[1]) ;
  /* nothing comes within the deadline (0 s here) */
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0)
  {
    qinjsrv_init(&c, sv[1], 0) ;
    errno = 0 ;
    CHECK(qinjsrv_greeting(&c, &flags, &sa) == -1 && errno == ETIMEDOUT) ;
    close(sv[0]) ; close(sv[1]) ;
  }

  /* envelopes, pieces of message, the commit */
  sa.len = 0 ;
  CHECK(FEED("5:ab\0\0\0,")) ; CHECK(qinjsrv_envelope(&c, &sa, 10) == 1 && sa.len == 5) ; close(sv[1]) ;
  CHECK(FEED("50:")) ; CHECK(qinjsrv_envelope(&c, &sa, 10) == -3) ; close(sv[1]) ;
  sa.len = 0 ;
  CHECK(FEED("3:abc,2:de,0:,")) ;
  {
    int r ;
    while ((r = qinjsrv_data(&c, &s, &n)) == 1) stralloc_catb(&sa, s, n) ;
    CHECK(r == 2 && sa.len == 5 && !memcmp(sa.s, "abcde", 5)) ;
  }
  close(sv[1]) ;
  CHECK(FEED("3:abc,2:d")) ;
  CHECK(qinjsrv_data(&c, &s, &n) == 1 && n == 3) ;
  CHECK(qinjsrv_data(&c, &s, &n) == 1 && n == 1) ;
  CHECK(qinjsrv_data(&c, &s, &n) == 0) ;   /* the client closed mid-message */
  close(sv[1]) ;
  CHECK(FEED("3:abc;")) ;
  CHECK(qinjsrv_data(&c, &s, &n) == 1) ;
  CHECK(qinjsrv_data(&c, &s, &n) == -2) ;
  close(sv[1]) ;

  /* variables: only the names asked for, the rest ignored */
  {
    static char const *const names[] = { "TCPREMOTEIP", "SMTPHELO", 0 } ;
    static char const vars[] = "TCPREMOTEIP=192.0.2.1\0LD_PRELOAD=x\0noequals\0SMTPHELO=\0TCPREMOTEIPX=1\0SMTPHELO=a=b" ;
    stralloc got = STRALLOC_ZERO ;
    qinjsrv_vars(vars, sizeof vars - 1, names, &collect, &got) ;
    stralloc_0(&got) ;
    CHECK(!strcmp(got.s, "TCPREMOTEIP=192.0.2.1;SMTPHELO=;")) ;   /* the unterminated last one: ignored */
    stralloc_free(&got) ;
  }

  /* answers, read by qqueue_commit_why */
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0)
  {
    char id[48], why[16] ;
    CHECK(qinjsrv_answer(sv[1], 0, "1796165890.051428.1")) ;
    CHECK(qqueue_commit_why(sv[0], id, why, sizeof why) == 0 && !strcmp(id, "1796165890.051428.1")) ;
    CHECK(qinjsrv_answer(sv[1], 31, "a reason longer than why")) ;
    CHECK(qqueue_commit_why(sv[0], id, why, sizeof why) == 31 && !strcmp(why, "a reason longer")) ;
    close(sv[0]) ; close(sv[1]) ;
  }

  /* pieces framed in place; the last one with the commit, to a socket only */
  {
    qqueue q = QQUEUE_ZERO ;
    char buf[QQUEUE_HEADROOM + 8 + QQUEUE_TAILROOM] ;
    size_t start, n ;
    memcpy(buf + QQUEUE_HEADROOM, "abc", 3) ;
    n = qqueue_frame(&q, buf, QQUEUE_HEADROOM, 3, &start) ;
    CHECK(n == 6 && !memcmp(buf + start, "3:abc,", 6) && !q.committed) ;
    n = qqueue_frame_last(&q, buf, QQUEUE_HEADROOM, 3, &start) ;
    CHECK(n == 9 && !memcmp(buf + start, "3:abc,0:,", 9) && q.committed) ;
    q.committed = 0 ; q.pid = 1 ;   /* a program's pipe: the bytes as they are */
    n = qqueue_frame_last(&q, buf, QQUEUE_HEADROOM, 3, &start) ;
    CHECK(n == 3 && start == QQUEUE_HEADROOM && !q.committed) ;
    q.pid = 0 ;
    n = qqueue_frame_last(&q, buf, QQUEUE_HEADROOM, 0, &start) ;   /* nothing: no commit either */
    CHECK(n == 0 && !q.committed) ;
  }

  /* qqueue with QMAILQUEUESOCK: a filter's socket, the variables on the list passed on */
  {
    struct sockaddr_un sun = { .sun_family = AF_UNIX } ;
    qqueue q = QQUEUE_ZERO ;
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0) ;
    pid_t pid ;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/filter.sock", base) ;
    CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sun, sizeof sun) == 0 && listen(lfd, 5) == 0) ;
    pid = fork() ;
    if (!pid) server(lfd, 0) ;
    signal(SIGPIPE, SIG_IGN) ;
    setenv("QMAILQUEUESOCK", sun.sun_path, 1) ;
    unsetenv("QMAILQUEUE") ;
    setenv("PROTO", "TCP", 1) ;
    setenv("TCPREMOTEIP", "192.0.2.1", 1) ;
    setenv("SMTPHELO", "h.example", 1) ;
    setenv("LD_PRELOAD", "", 1) ;   /* not on the list: not passed */
    CHECK(qqueue_start(&q, "Fa@b\0Tc@d\0", 10)) ;
    CHECK(qqueue_write(&q, "Subject: x\n", 11) && qqueue_write(&q, "\n", 1)) ;
    CHECK(qqueue_finish(&q) == 71) ;
    CHECK(!strcmp(q.why, "the filter says no")) ;
    if (strcmp(q.why, "the filter says no")) fprintf(stderr, "why: %s\n", q.why) ;
    waitpid(pid, 0, 0) ;
    /* the whole message at once (qqueue_send), a local injection handed on (flag l) */
    {
      qqueue q2 = QQUEUE_ZERO ;
      struct iovec v[3] = { { (char *)"Subject: x\n", 11 }, { (char *)"", 0 }, { (char *)"\n", 1 } } ;
      q2.origin = 1 ; q2.ouid = 1000 ; q2.opid = 4242 ;
      unsetenv("PROTO") ;
      pid = fork() ;
      if (!pid) server(lfd, 1) ;
      CHECK(qqueue_send(&q2, "Fa@b\0Tc@d\0", 10, v, 3) == 71) ;
      CHECK(!strcmp(q2.why, "the filter says no")) ;
      if (strcmp(q2.why, "the filter says no")) fprintf(stderr, "why: %s\n", q2.why) ;
      waitpid(pid, 0, 0) ;
      setenv("PROTO", "TCP", 1) ;
    }
    unsetenv("LD_PRELOAD") ;
    /* nobody listening: no fallback to the queue behind the filter */
    close(lfd) ;
    unlink(sun.sun_path) ;
    errno = 0 ;
    CHECK(!qqueue_start(&q, "Fa@b\0Tc@d\0", 10) && errno == ENOENT) ;
    {
      qqueue q3 = QQUEUE_ZERO ;
      struct iovec v = { (char *)"x\n", 2 } ;
      CHECK(qqueue_send(&q3, "Fa@b\0Tc@d\0", 10, &v, 1) == 74) ;
    }
    unsetenv("QMAILQUEUESOCK") ;
  }
  stralloc_free(&sa) ;
  return failed ? 1 : 0 ;
}
