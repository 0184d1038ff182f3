/* unit tests for tools/lib/ucspitls: the descriptors from the environment, the 'Y' and its
   answer (whole, in pieces, none, too long, late), and reading a variable of the answer. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "ucspitls.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

/* a TLS program stand-in on the other end of a socket pair: reads the 'Y', then writes
   pieces (each a length and bytes), then exits; returns our end */
static int peer (char const *const *pieces, size_t const *lens, unsigned int delay_ms, pid_t *pid)
{
  int sp[2] ;
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0) return -1 ;
  *pid = fork() ;
  if (!*pid)
  {
    char c ;
    close(sp[0]) ;
    if (read(sp[1], &c, 1) != 1 || c != 'Y') _exit(1) ;
    if (delay_ms) usleep(delay_ms * 1000) ;
    for (; *pieces ; pieces++, lens++) { if (write(sp[1], *pieces, *lens) < 0) _exit(1) ; usleep(2000) ; }
    _exit(0) ;
  }
  close(sp[1]) ;
  return sp[0] ;
}

static size_t start (char const *const *pieces, size_t const *lens, unsigned int delay_ms, unsigned int secs, char *buf, size_t max)
{
  pid_t pid = 0 ;
  int fd = peer(pieces, lens, delay_ms, &pid) ;
  size_t n = fd < 0 ? 0 : ucspitls_start(fd, buf, max, secs) ;
  close(fd) ;
  if (pid > 0) { kill(pid, SIGKILL) ; waitpid(pid, 0, 0) ; }
  return n ;
}

int main (void)
{
  char buf[256] ;
  int c, r, w ;
  static char const ans[] = "SSL_PROTOCOL=TLSv1.3\0SSL_CIPHER=TLS_AES_128_GCM_SHA256\0\0" ;
  size_t anslen = sizeof ans - 1 ;
  signal(SIGPIPE, SIG_IGN) ;

  /* the descriptors */
  unsetenv("SSLCTLFD") ;
  CHECK(!ucspitls_fds(&c, &r, &w) && c == -1 && r == -1 && w == -1) ;
  setenv("SSLCTLFD", "2", 1) ; setenv("SSLREADFD", "1", 1) ; setenv("SSLWRITEFD", "1", 1) ;
  CHECK(!ucspitls_fds(&c, &r, &w)) ;   /* 0, 1, 2 are never UCSPI-TLS's */
  {
    int fd = open("/dev/null", O_RDONLY) ;
    char n[16] ;
    snprintf(n, sizeof n, "%d", fd) ;
    setenv("SSLCTLFD", n, 1) ; setenv("SSLREADFD", n, 1) ; setenv("SSLWRITEFD", n, 1) ;
    CHECK(ucspitls_fds(&c, &r, &w) && c == fd && r == fd && w == fd) ;
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC) ;
    setenv("SSLREADFD", "12x", 1) ;
    CHECK(!ucspitls_fds(&c, &r, &w)) ;
    close(fd) ;
  }

  /* the answer, whole or in pieces */
  {
    char const *p[] = { ans, 0 } ; size_t l[] = { anslen } ;
    CHECK(start(p, l, 0, 5, buf, sizeof buf) == anslen) ;
    CHECK(!strcmp(ucspitls_get(buf, anslen, "SSL_PROTOCOL"), "TLSv1.3")) ;
    CHECK(!strcmp(ucspitls_get(buf, anslen, "SSL_CIPHER"), "TLS_AES_128_GCM_SHA256")) ;
    CHECK(!ucspitls_get(buf, anslen, "SSL_CIPHE")) ;
    CHECK(!ucspitls_get(buf, anslen, "SSL_TLS_SNI")) ;
  }
  {
    char const *p[] = { ans, ans + 5, ans + 21, ans + anslen - 1, 0 } ;
    size_t l[] = { 5, 16, anslen - 22, 1 } ;
    CHECK(start(p, l, 0, 5, buf, sizeof buf) == anslen) ;
    CHECK(!strcmp(ucspitls_get(buf, anslen, "SSL_CIPHER"), "TLS_AES_128_GCM_SHA256")) ;
  }
  {
    /* no variable at all: two NULs */
    char const *p[] = { "\0\0", 0 } ; size_t l[] = { 2 } ;
    CHECK(start(p, l, 0, 5, buf, sizeof buf) == 2) ;
    CHECK(!ucspitls_get(buf, 2, "SSL_PROTOCOL")) ;
  }
  {
    /* nothing: the handshake failed, the other end closed */
    char const *p[] = { 0 } ; size_t l[] = { 0 } ;
    CHECK(start(p, l, 0, 5, buf, sizeof buf) == 0) ;
  }
  {
    /* cut short, then closed */
    char const *p[] = { "SSL_PROTOCOL=TLSv1.3\0", 0 } ; size_t l[] = { 21 } ;
    CHECK(start(p, l, 0, 5, buf, sizeof buf) == 0) ;
  }
  {
    /* longer than the buffer */
    char const *p[] = { ans, 0 } ; size_t l[] = { anslen } ;
    CHECK(start(p, l, 0, 5, buf, 20) == 0) ;
  }
  {
    /* too late: the deadline passes first */
    char const *p[] = { ans, 0 } ; size_t l[] = { anslen } ;
    CHECK(start(p, l, 2500, 1, buf, sizeof buf) == 0) ;
  }
  {
    /* no one at the other end */
    int sp[2] ;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0)
    {
      close(sp[1]) ;
      CHECK(ucspitls_start(sp[0], buf, sizeof buf, 1) == 0) ;
      close(sp[0]) ;
    }
  }
  if (failed) { fprintf(stderr, "ucspitls: %d failed\n", failed) ; return 1 ; }
  return 0 ;
}
