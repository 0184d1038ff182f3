/* tlsload: the TLS load of t/bench/tls.sh (OpenSSL; one context for all connections, so that
   the client's own start is paid once).
   tlsload starttls PORT N S   N messages over SMTP STARTTLS, one per connection, S at once
   tlsload implicit PORT N S   N implicit-TLS handshakes, each up to the 220 greeting and QUIT
   tlsload hold PORT K         K implicit-TLS sessions opened, greeted, then held; prints
                               "ready" and waits for stdin to close
   tlsload holds PORT K        the same over STARTTLS (held after the second EHLO)
   Prints the elapsed seconds (starttls, implicit). Exits 1 on any failure. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static SSL_CTX *ctx ;
static int port ;

static int tcp (void)
{
  struct sockaddr_in a ;
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1 ;
  memset(&a, 0, sizeof a) ;
  a.sin_family = AF_INET ; a.sin_port = htons(port) ; a.sin_addr.s_addr = htonl(0x7f000001) ;
  if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) return -1 ;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) ;
  return s ;
}

/* read one SMTP reply (all its lines) through ssl or the socket; its code, or -1 */
static int reply (int s, SSL *ssl)
{
  char buf[4096] ;
  size_t len = 0 ;
  for (;;)
  {
    int r = ssl ? SSL_read(ssl, buf + len, (int)(sizeof buf - 1 - len)) : (int)read(s, buf + len, sizeof buf - 1 - len) ;
    char *l ;
    if (r <= 0) return -1 ;
    len += (size_t)r ; buf[len] = 0 ;
    /* the last complete line decides */
    for (l = buf ; ; )
    {
      char *nl = strstr(l, "\r\n") ;
      if (!nl) break ;
      if (nl - l >= 4 && l[3] == ' ') return atoi(l) ;
      l = nl + 2 ;
    }
    if (len >= sizeof buf - 1) return -1 ;
  }
}

static int say (int s, SSL *ssl, char const *t)
{
  int n = (int)strlen(t) ;
  return ssl ? SSL_write(ssl, t, n) == n : write(s, t, (size_t)n) == n ;
}

static SSL *tls (int s)
{
  SSL *ssl = SSL_new(ctx) ;
  SSL_set_fd(ssl, s) ;
  SSL_set_tlsext_host_name(ssl, "mx.bench.example") ;
  if (SSL_connect(ssl) != 1) { SSL_free(ssl) ; return 0 ; }
  return ssl ;
}

static int session_starttls (char const *msg)
{
  int s = tcp(), ok = 0 ;
  SSL *ssl = 0 ;
  if (s < 0) return 0 ;
  if (reply(s, 0) == 220 && say(s, 0, "EHLO load.bench.example\r\n") && reply(s, 0) == 250
   && say(s, 0, "STARTTLS\r\n") && reply(s, 0) == 220 && (ssl = tls(s))
   && say(s, ssl, "EHLO load.bench.example\r\n") && reply(s, ssl) == 250
   && say(s, ssl, "MAIL FROM:<sender@bench.example>\r\n") && reply(s, ssl) == 250
   && say(s, ssl, "RCPT TO:<user@bench.example>\r\n") && reply(s, ssl) == 250
   && say(s, ssl, "DATA\r\n") && reply(s, ssl) == 354
   && say(s, ssl, msg) && reply(s, ssl) == 250
   && say(s, ssl, "QUIT\r\n") && reply(s, ssl) == 221) ok = 1 ;
  if (ssl) { SSL_shutdown(ssl) ; SSL_free(ssl) ; }
  close(s) ;
  return ok ;
}

static int session_implicit (void)
{
  int s = tcp(), ok = 0 ;
  SSL *ssl = 0 ;
  if (s < 0) return 0 ;
  if ((ssl = tls(s)) && reply(s, ssl) == 220 && say(s, ssl, "QUIT\r\n") && reply(s, ssl) == 221) ok = 1 ;
  if (ssl) { SSL_shutdown(ssl) ; SSL_free(ssl) ; }
  close(s) ;
  return ok ;
}

int main (int argc, char **argv)
{
  struct timespec a, b ;
  int n, par, i, bad = 0 ;
  static char msg[4096 + 64] ;
  if (argc < 4) return 2 ;
  port = atoi(argv[2]) ; n = atoi(argv[3]) ; par = argc > 4 ? atoi(argv[4]) : 1 ;
  ctx = SSL_CTX_new(TLS_client_method()) ;
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, 0) ;
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF) ;
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET) ;
  memset(msg, 'x', sizeof msg) ;
  memcpy(msg, "Subject: bench\r\n\r\n", 18) ;
  for (i = 64 ; i < 4096 ; i += 64) { msg[i - 2] = '\r' ; msg[i - 1] = '\n' ; }
  strcpy(msg + 4096, "\r\n.\r\n") ;
  if (!strcmp(argv[1], "hold") || !strcmp(argv[1], "holds"))
  {
    char c ;
    for (i = 0 ; i < n ; i++)
    {
      int s = tcp() ;
      SSL *ssl = 0 ;
      if (s < 0) return 1 ;
      if (argv[1][4])
      {
        if (reply(s, 0) != 220 || !say(s, 0, "EHLO load.bench.example\r\n") || reply(s, 0) != 250
         || !say(s, 0, "STARTTLS\r\n") || reply(s, 0) != 220 || !(ssl = tls(s))
         || !say(s, ssl, "EHLO load.bench.example\r\n") || reply(s, ssl) != 250) return 1 ;
      }
      else if (!(ssl = tls(s)) || reply(s, ssl) != 220) return 1 ;
    }
    printf("ready\n") ; fflush(stdout) ;
    while (read(0, &c, 1) > 0) ;
    return 0 ;
  }
  clock_gettime(CLOCK_MONOTONIC, &a) ;
  for (i = 0 ; i < par ; i++)
  {
    if (!fork())
    {
      int k, fails = 0 ;
      for (k = i ; k < n ; k += par)
        if (!(!strcmp(argv[1], "starttls") ? session_starttls(msg) : session_implicit())) fails++ ;
      _exit(fails ? 1 : 0) ;
    }
  }
  for (i = 0 ; i < par ; i++) { int w ; wait(&w) ; if (!WIFEXITED(w) || WEXITSTATUS(w)) bad = 1 ; }
  clock_gettime(CLOCK_MONOTONIC, &b) ;
  printf("%.3f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9) ;
  return bad ;
}
