/* unit test for tools/lib/resident: the environment of a connection, what RESIDENTFD must
   be, and the protocol against a stand-in tcpsrv (this process) and a forked worker. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "fdpass.h"
#include "resident.h"

extern char **environ ;

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; if (++failed > 20) exit(1) ; } } while (0)

static void check_envp (char const *const *base, char const *mods, size_t len, char const *want)
{
  char const *v[32] ;
  char got[512] = "" ;
  size_t n = resident_envp_size(base, mods, len), i ;
  CHECK(n <= 32) ;
  resident_envp(v, base, mods, len) ;
  for (i = 0 ; v[i] ; i++)
  {
    CHECK(i < n) ;
    strcat(got, v[i]) ; strcat(got, ";") ;
  }
  if (strcmp(got, want)) fprintf(stderr, "envp: got %s, want %s\n", got, want) ;
  CHECK(!strcmp(got, want)) ;
}

/* the descriptors this process has open above 2, as "3,5," */
static void openfds (char *s)
{
  DIR *d = opendir("/proc/self/fd") ;
  struct dirent *e ;
  int dfd = dirfd(d) ;
  *s = 0 ;
  while ((e = readdir(d)))
  {
    int fd = atoi(e->d_name) ;
    if (e->d_name[0] == '.' || fd <= 2 || fd == dfd) continue ;
    sprintf(s + strlen(s), "%d,", fd) ;
  }
  closedir(d) ;
}

/* The worker: for each connection, writes to the client what it sees, leaves a descriptor
   open and a variable set, and says done with the connection's number as its status. */
static void worker (void)
{
  resident r = RESIDENT_ZERO ;
  unsigned int k = 0 ;
  int x = resident_init(&r) ;
  if (x != 1) _exit(10) ;
  for (;;)
  {
    char buf[1024], fds[256], extra[64] = "" ;
    char const *a, *b ;
    unsigned int i ;
    x = resident_next(&r, k) ;
    if (!x) _exit(0) ;
    if (x < 0) _exit(errno == EPROTO ? 20 : 21) ;
    k++ ;
    a = getenv("X") ; b = getenv("BASE") ;
    openfds(fds) ;
    /* the descriptors after the socket: on 3, 4, ...; each one's first byte read */
    for (i = 0 ; i < r.nfds ; i++)
    {
      char c = '?' ;
      if (read(3 + (int)i, &c, 1) != 1) c = '!' ;
      extra[i] = c ;
    }
    extra[i] = 0 ;
    snprintf(buf, sizeof buf, "X=%s BASE=%s RESIDENTFD=%s extra=%s fds=%s", a ? a : "-", b ? b : "-", getenv(RESIDENT_FDVAR) ? "set" : "-", extra, fds) ;
    if (write(1, buf, strlen(buf)) < 0) _exit(22) ;
    if (open("/dev/null", O_RDONLY) < 0) _exit(23) ;   /* left open: must not reach the next */
  }
}

static int conn (int sock, char const *msg, size_t len, char *answer, size_t max)
{
  int p[2] ;
  ssize_t r ;
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) < 0) return 0 ;
  if (!fdpass_send(sock, p[1], msg, len)) return 0 ;
  close(p[1]) ;
  r = read(p[0], answer, max - 1) ;
  answer[r > 0 ? r : 0] = 0 ;
  {
    char c ;
    CHECK(read(p[0], &c, 1) == 0) ;   /* the worker closed the connection */
  }
  close(p[0]) ;
  return r > 0 ;
}

static void expect (int sock, char const *want)
{
  char buf[64] ;
  ssize_t r = recv(sock, buf, sizeof buf - 1, 0) ;
  buf[r > 0 ? r : 0] = 0 ;
  if (strcmp(buf, want)) fprintf(stderr, "from the worker: got \"%s\", want \"%s\"\n", buf, want) ;
  CHECK(!strcmp(buf, want)) ;
}

static pid_t start_worker (int *sock)
{
  int sv[2] ;
  pid_t pid ;
  char num[16] ;
  CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0) ;
  pid = fork() ;
  if (!pid)
  {
    fcntl(sv[1], F_SETFD, 0) ;
    snprintf(num, sizeof num, "%d", sv[1]) ;
    setenv(RESIDENT_FDVAR, num, 1) ;
    setenv("BASE", "b", 1) ;
    setenv("X", "base-x", 1) ;
    worker() ;
  }
  close(sv[1]) ;
  *sock = sv[0] ;
  return pid ;
}

static int waitcode (pid_t pid)
{
  int w ;
  if (waitpid(pid, &w, 0) != pid) return -1 ;
  return WIFEXITED(w) ? WEXITSTATUS(w) : 1000 + WTERMSIG(w) ;
}

int main (void)
{
  char ans[1024] ;
  int sock ;
  pid_t pid ;

  /* well-formed changes */
  CHECK(resident_mods_valid("", 0)) ;
  CHECK(resident_mods_valid("A=1\0B\0", 6)) ;
  CHECK(!resident_mods_valid("A=1", 3)) ;          /* no final \0 */
  CHECK(!resident_mods_valid("A=1\0\0", 5)) ;      /* an empty one */
  CHECK(!resident_mods_valid("=x\0", 3)) ;         /* no name */

  /* the environment: base changed by the connection's variables */
  {
    char const *base[] = { "A=1", "B=2", "PATH=/bin", "RELAYCLIENT=", 0 } ;
    check_envp(base, "", 0, "A=1;B=2;PATH=/bin;RELAYCLIENT=;") ;
    check_envp(base, "B=3\0C=4\0A\0C=5\0", 14, "PATH=/bin;RELAYCLIENT=;B=3;C=5;") ;
    check_envp(base, "RELAYCLIENT\0", 12, "A=1;B=2;PATH=/bin;") ;
    check_envp(base, "AB=1\0", 5, "A=1;B=2;PATH=/bin;RELAYCLIENT=;AB=1;") ;   /* names compared whole */
    check_envp(base, "D=1\0D\0", 6, "A=1;B=2;PATH=/bin;RELAYCLIENT=;") ;       /* the last change wins */
  }

  /* RESIDENTFD */
  {
    resident r = RESIDENT_ZERO ;
    int p[2], sv[2] ;
    char num[16] ;
    unsetenv(RESIDENT_FDVAR) ;
    CHECK(resident_init(&r) == 0) ;
    setenv(RESIDENT_FDVAR, "x3", 1) ;
    CHECK(resident_init(&r) == -1 && errno == EINVAL) ;
    setenv(RESIDENT_FDVAR, "1", 1) ;
    CHECK(resident_init(&r) == -1 && errno == EINVAL) ;
    CHECK(pipe(p) == 0) ;
    snprintf(num, sizeof num, "%d", p[0]) ;
    setenv(RESIDENT_FDVAR, num, 1) ;
    CHECK(resident_init(&r) == -1 && errno == EINVAL) ;   /* not a socket */
    close(p[0]) ; close(p[1]) ;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) ;
    snprintf(num, sizeof num, "%d", sv[0]) ;
    setenv(RESIDENT_FDVAR, num, 1) ;
    CHECK(resident_init(&r) == -1 && errno == EINVAL) ;   /* not SOCK_SEQPACKET */
    close(sv[0]) ; close(sv[1]) ;
    /* made by this process, not by its parent: a forking program between the two */
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0) ;
    snprintf(num, sizeof num, "%d", sv[0]) ;
    setenv(RESIDENT_FDVAR, num, 1) ;
    CHECK(resident_init(&r) == -1 && errno == EPERM) ;
    close(sv[0]) ; close(sv[1]) ;
    unsetenv(RESIDENT_FDVAR) ;
  }

  /* the protocol: connections one after the other, nothing carried over */
  pid = start_worker(&sock) ;
  expect(sock, RESIDENT_HELLO) ;
  CHECK(conn(sock, "CX=one\0", 7, ans, sizeof ans)) ;
  if (strncmp(ans, "X=one BASE=b RESIDENTFD=- extra= fds=", 37)) fprintf(stderr, "first: %s\n", ans) ;
  CHECK(!strncmp(ans, "X=one BASE=b RESIDENTFD=- extra= fds=", 37)) ;
  expect(sock, "done 1") ;
  CHECK(conn(sock, "C", 1, ans, sizeof ans)) ;
  /* the start value of X again, and no descriptor left by the first connection but the socket */
  {
    char want[128] ;
    snprintf(want, sizeof want, "X=base-x BASE=b RESIDENTFD=- extra= fds=") ;
    if (strncmp(ans, want, strlen(want))) fprintf(stderr, "second: %s\n", ans) ;
    CHECK(!strncmp(ans, want, strlen(want))) ;
    CHECK(strchr(ans + strlen(want), ',') == strrchr(ans, ',')) ;   /* one descriptor: the socket */
  }
  expect(sock, "done 2") ;
  CHECK(conn(sock, "CX\0BASE=c\0", 10, ans, sizeof ans)) ;
  CHECK(!strncmp(ans, "X=- BASE=c ", 11)) ;
  expect(sock, "done 3") ;
  /* descriptors after the socket: on 3 and 4, in order, gone at the next connection */
  {
    int p1[2], p2[2], fds[3], sp[2] ;
    CHECK(pipe(p1) == 0 && pipe(p2) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0) ;
    CHECK(write(p1[1], "a", 1) == 1 && write(p2[1], "b", 1) == 1) ;
    fds[0] = sp[1] ; fds[1] = p1[0] ; fds[2] = p2[0] ;
    CHECK(fdpass_sendv(sock, fds, 3, "CX=fds\0", 7)) ;
    close(sp[1]) ; close(p1[0]) ; close(p2[0]) ;
    {
      ssize_t r = read(sp[0], ans, sizeof ans - 1) ;
      ans[r > 0 ? r : 0] = 0 ;
    }
    if (strncmp(ans, "X=fds BASE=b RESIDENTFD=- extra=ab fds=", 39)) fprintf(stderr, "fds: %s\n", ans) ;
    CHECK(!strncmp(ans, "X=fds BASE=b RESIDENTFD=- extra=ab fds=3,4,", 43) || !strncmp(ans, "X=fds BASE=b RESIDENTFD=- extra=ab fds=4,3,", 43)) ;
    close(sp[0]) ;
    expect(sock, "done 4") ;
    close(p1[1]) ; close(p2[1]) ;
    CHECK(conn(sock, "C", 1, ans, sizeof ans)) ;
    CHECK(strstr(ans, "extra= ") != 0) ;
    CHECK(strchr(strstr(ans, "fds="), ',') == strrchr(ans, ',')) ;   /* the socket only */
    expect(sock, "done 5") ;
  }
  /* too many descriptors: the rest are closed, the first RESIDENT_FDMAX kept */
  {
    int p[2], fds[1 + RESIDENT_FDMAX + 1], sp[2], i ;
    CHECK(pipe(p) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0) ;
    CHECK(write(p[1], "zzzzzz", 6) == 6) ;
    fds[0] = sp[1] ;
    for (i = 1 ; i < 2 + RESIDENT_FDMAX ; i++) fds[i] = p[0] ;
    CHECK(fdpass_sendv(sock, fds, 2 + RESIDENT_FDMAX, "C", 1)) ;
    close(sp[1]) ; close(p[0]) ; close(p[1]) ;
    {
      ssize_t r = read(sp[0], ans, sizeof ans - 1) ;
      ans[r > 0 ? r : 0] = 0 ;
    }
    CHECK(strstr(ans, "extra=zzzz ") != 0) ;
    close(sp[0]) ;
    expect(sock, "done 6") ;
  }
  close(sock) ;   /* no more connections: the worker exits 0 */
  CHECK(waitcode(pid) == 0) ;

  /* messages that break the protocol end the worker */
  pid = start_worker(&sock) ;
  expect(sock, RESIDENT_HELLO) ;
  CHECK(send(sock, "CX=1\0", 5, 0) == 5) ;   /* no descriptor */
  CHECK(waitcode(pid) == 20) ;
  close(sock) ;
  pid = start_worker(&sock) ;
  expect(sock, RESIDENT_HELLO) ;
  {
    int p[2] ;
    CHECK(pipe(p) == 0) ;
    CHECK(fdpass_send(sock, p[0], "CX=1", 4)) ;   /* no final \0 */
    close(p[0]) ; close(p[1]) ;
  }
  CHECK(waitcode(pid) == 20) ;
  close(sock) ;
  pid = start_worker(&sock) ;
  expect(sock, RESIDENT_HELLO) ;
  {
    int p[2] ;
    CHECK(pipe(p) == 0) ;
    CHECK(fdpass_send(sock, p[0], "D", 1)) ;   /* not a connection */
    close(p[0]) ; close(p[1]) ;
  }
  CHECK(waitcode(pid) == 20) ;
  close(sock) ;
  return !!failed ;
}
