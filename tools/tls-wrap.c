/* tls-wrap: TLS as a filter in the chain, so that no protocol server links a TLS library.
   Server, implicit TLS (ports 465, 995): the handshake on fds 0/1 first, then prog runs with
   a socket of cleartext on its fds 0 and 1, and SSL_PROTOCOL, SSL_CIPHER set.
   Server, -s (STARTTLS, UCSPI-TLS): prog runs at once on the connection itself, with
   SSLCTLFD, SSLREADFD, SSLWRITEFD; when it writes 'y' or 'Y' on the control descriptor the
   handshake takes place, and the cleartext goes over the other two from then on.
   Client, -c: TLS on fds 6 (read) and 7 (write), as tcpclient gives them, the cleartext on
   fds 0 and 1 (remote-deliver's STARTTLS); the outcome written on $SSLCTLFD.
   The certificate and key are read at each start, that is for each connection: a renewed
   certificate is used from the next connection on. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/setgroups.h>
#include <skalibs/sgetopt.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "fdpass.h"
#include "logtext.h"
#include "resident.h"

#define USAGE "tls-wrap [ -sv ] [ -t secs ] [ -u uid ] [ -g gid ] [ -U ] prog... tls-wrap -c [ -V ] [ -t secs ] [ -n servername ] [ -m name ] [ -A cafile ]"
#define dieusage() strerr_dieusage(100, USAGE)

#define BUFSIZE 16384
#define MAXMATCH 8
#define DRAINSECS 2        /* seconds to read what the peer still sends after our close */
#define HELLOMAX (16384 + 5)

/* the server's ciphers unless $CIPHERS says otherwise: forward secrecy and AEAD only */
#define SERVER_CIPHERS "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:" \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
  "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define DEFAULT_CAFILE "/etc/ssl/certs/ca-certificates.crt"

static unsigned int timeout = 60 ;
static int verbose = 0 ;
static resident res = RESIDENT_ZERO ;
static int resident_on = 0 ;   /* a resident worker of tcpsrv -w */
static char const *remoteip ;

/* the network side: read and write descriptors, and the bytes of the ClientHello read
   before the handshake (to find the server name), handed to the TLS library first */
static struct
{
  int r, w ;
  char *pre ;
  size_t prepos, prelen ;
} net = { .r = 0, .w = 1, .pre = 0, .prepos = 0, .prelen = 0 } ;

static int io_recv (WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
  ssize_t r ;
  (void)ssl ; (void)ctx ;
  if (net.prepos < net.prelen)
  {
    size_t n = net.prelen - net.prepos ;
    if (n > (size_t)sz) n = (size_t)sz ;
    memcpy(buf, net.pre + net.prepos, n) ;
    net.prepos += n ;
    return (int)n ;
  }
  r = read(net.r, buf, (size_t)sz) ;
  if (r > 0) return (int)r ;
  if (!r) return WOLFSSL_CBIO_ERR_CONN_CLOSE ;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return WOLFSSL_CBIO_ERR_WANT_READ ;
  if (errno == EINTR) return WOLFSSL_CBIO_ERR_ISR ;
  if (errno == ECONNRESET) return WOLFSSL_CBIO_ERR_CONN_RST ;
  return WOLFSSL_CBIO_ERR_GENERAL ;
}

static int io_send (WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
  ssize_t w ;
  (void)ssl ; (void)ctx ;
  w = write(net.w, buf, (size_t)sz) ;
  if (w >= 0) return (int)w ;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return WOLFSSL_CBIO_ERR_WANT_WRITE ;
  if (errno == EINTR) return WOLFSSL_CBIO_ERR_ISR ;
  if (errno == ECONNRESET) return WOLFSSL_CBIO_ERR_CONN_RST ;
  if (errno == EPIPE) return WOLFSSL_CBIO_ERR_CONN_CLOSE ;
  return WOLFSSL_CBIO_ERR_GENERAL ;
}

/* ---- logs: "tls success ..." (with -v) and "tls failure ip=... reason=..." on fd 2 */

static void logline (char const *word, char const *const *kv)
{
  stralloc sa = STRALLOC_ZERO ;
  int ok = stralloc_cats(&sa, word) && stralloc_cats(&sa, " ip=") && logtext_cat(&sa, remoteip, strlen(remoteip), 64, " ") ;
  for (; ok && kv[0] ; kv += 2)
  {
    int last = !strcmp(kv[0], "reason=") ;
    if (!kv[1] || !*kv[1]) continue ;
    ok = stralloc_catb(&sa, " ", 1) && stralloc_cats(&sa, kv[0])
      && logtext_cat(&sa, kv[1], strlen(kv[1]), 256, last ? "" : " ") ;
  }
  if (ok && stralloc_catb(&sa, "\n", 1)) allwrite(2, sa.s, sa.len) ;
  stralloc_free(&sa) ;
}

static void logfail (char const *reason)
{
  char const *kv[] = { "reason=", reason, 0 } ;
  logline("tls failure", kv) ;
}

/* ---- waiting */

/* until fd is ready for events or the deadline (0: none) passes; 1 ready, 0 timed out */
static int wait_fd (int fd, int events, tain const *deadline)
{
  iopause_fd x = { .fd = fd, .events = events, .revents = 0 } ;
  for (;;)
  {
    int r = iopause_g(&x, 1, deadline) ;
    if (r > 0) return 1 ;
    if (!r) { if (deadline) return 0 ; continue ; }
    if (errno != EINTR) strerr_diefu1sys(111, "iopause") ;
  }
}

static void deadline_in (tain *d, unsigned int secs)
{
  tain_now_g() ;
  tain_addsec_g(d, (int)secs) ;
}

/* ---- certificates (server) */

/* the files of the certificate for name ("": $CERTFILE and $KEYFILE; else those of
   $CERTDIR/name/, name lowercased, checked to be a host name: no '/', no leading '.');
   0 when name is no host name */
static int cert_paths (char const *name, char *cert, char *key, size_t max)
{
  size_t n = strlen(name), i, dl ;
  char const *dir = getenv("CERTDIR") ;
  if (!n)
  {
    char const *c = getenv("CERTFILE"), *k = getenv("KEYFILE") ;
    if (strlen(c) >= max || strlen(k) >= max) return 0 ;
    strcpy(cert, c) ; strcpy(key, k) ;
    return 1 ;
  }
  if (!dir || !*dir || n > 253 || name[0] == '.') return 0 ;
  dl = strlen(dir) ;
  if (dl + n + 16 > max) return 0 ;
  for (i = 0 ; i < n ; i++)
  {
    char c = name[i] ;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
      return 0 ;
  }
  memcpy(cert, dir, dl) ; cert[dl] = '/' ;
  for (i = 0 ; i < n ; i++) cert[dl + 1 + i] = (name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i] ;
  memcpy(key, cert, dl + 1 + n) ;
  memcpy(cert + dl + 1 + n, "/fullchain.pem", 15) ;
  memcpy(key + dl + 1 + n, "/privkey.pem", 13) ;
  return 1 ;
}

/* a file's identity: a renewed certificate is a new file, or a rewritten one */
static int same_file (struct stat const *a, struct stat const *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size
    && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec ;
}

/* ---- privileges */

static uid_t uid = 0 ;
static gid_t gid = 0 ;
static int douid = 0, dogid = 0 ;

static void drop (void)
{
  if (dogid && (skalibs_setgroups(1, &gid) < 0 || setgid(gid) < 0)) strerr_diefu1sys(111, "set the group id") ;
  if (douid && setuid(uid) < 0) strerr_diefu1sys(111, "set the user id") ;
  douid = dogid = 0 ;
}

/* ---- the TLS session */

static WOLFSSL_CTX *ctx = 0 ;
static WOLFSSL *ssl = 0 ;
static int clientfailed = 0 ;   /* a client certificate did not verify */

static int client_verify (int ok, WOLFSSL_X509_STORE_CTX *store)
{
  (void)store ;
  if (!ok) clientfailed = 1 ;
  return 1 ;   /* the certificate is reported (SSL_CLIENT_VERIFY), not refused */
}

static char const *tls_strerror (int err, char *buf, size_t len)
{
  wolfSSL_ERR_error_string_n((unsigned long)err, buf, len) ;
  return buf ;
}

/* a handshake within timeout seconds (accept or connect); 1, or 0 with why in buf */
static int handshake (int client, char *why, size_t len)
{
  tain deadline ;
  deadline_in(&deadline, timeout) ;
  for (;;)
  {
    int r = client ? wolfSSL_connect(ssl) : wolfSSL_accept(ssl) ;
    int e ;
    if (r == WOLFSSL_SUCCESS) return 1 ;
    e = wolfSSL_get_error(ssl, r) ;
    if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
    {
      if (!wait_fd(e == WOLFSSL_ERROR_WANT_READ ? net.r : net.w, e == WOLFSSL_ERROR_WANT_READ ? IOPAUSE_READ : IOPAUSE_WRITE, &deadline))
      {
        strncpy(why, "handshake timed out", len - 1) ; why[len - 1] = 0 ;
        return 0 ;
      }
      continue ;
    }
    if (e == SOCKET_PEER_CLOSED_E || e == SOCKET_ERROR_E)
    {
      strncpy(why, client ? "the server closed the connection during the handshake" : "the client closed the connection during the handshake", len - 1) ;
      why[len - 1] = 0 ;
      return 0 ;
    }
    tls_strerror(e, why, len) ;
    return 0 ;
  }
}

static char hellobuf[HELLOMAX] ;

/* The first record of the client, to see which name it asks for (SNI) before a certificate
   is chosen; it stays for the handshake. 1 with name set (empty when none), 0 when the
   client failed to send it in time (why set). */
static int hello_name (char *name, size_t namemax, char *why, size_t whylen)
{
  char *buf = hellobuf ;
  size_t need = 5 ;
  tain deadline ;
  deadline_in(&deadline, timeout) ;
  name[0] = 0 ;
  net.pre = buf ; net.prepos = net.prelen = 0 ;
  while (net.prelen < need)
  {
    ssize_t r = read(net.r, buf + net.prelen, need - net.prelen) ;
    if (r > 0)
    {
      net.prelen += (size_t)r ;
      if (net.prelen == 5 && need == 5)
      {
        if ((unsigned char)buf[0] != 22) return 1 ;   /* not a handshake: the library says no */
        need = 5 + ((size_t)(unsigned char)buf[3] << 8 | (unsigned char)buf[4]) ;
        if (need > sizeof hellobuf) return 1 ;
      }
      continue ;
    }
    if (!r) { strncpy(why, "the client closed the connection before the handshake", whylen - 1) ; why[whylen - 1] = 0 ; return 0 ; }
    if (errno == EINTR) continue ;
    if (errno != EAGAIN && errno != EWOULDBLOCK) { strncpy(why, strerror(errno), whylen - 1) ; why[whylen - 1] = 0 ; return 0 ; }
    if (!wait_fd(net.r, IOPAUSE_READ, &deadline)) { strncpy(why, "handshake timed out", whylen - 1) ; why[whylen - 1] = 0 ; return 0 ; }
  }
  {
    unsigned int n = (unsigned int)namemax - 1 ;
    if (wolfSSL_SNI_GetFromBuffer((unsigned char const *)buf, (unsigned int)net.prelen, WOLFSSL_SNI_HOST_NAME, (unsigned char *)name, &n) == WOLFSSL_SUCCESS && n < namemax)
      name[n] = 0 ;
    else name[0] = 0 ;
  }
  return 1 ;
}

/* a server context for the certificate and key in cert[0..certlen), key[0..keylen); 0 when
   they are unusable (why set) */
static WOLFSSL_CTX *ctx_build (char const *cert, size_t certlen, char const *key, size_t keylen, char *why, size_t len)
{
  char const *ciphers = getenv("CIPHERS") ;
  char const *cafile = getenv("CAFILE") ;
  WOLFSSL_CTX *c = wolfSSL_CTX_new(wolfSSLv23_server_method()) ;
  if (!c) strerr_diefu1x(111, "create a TLS context") ;
  if (wolfSSL_CTX_SetMinVersion(c, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS) strerr_diefu1x(111, "set the TLS versions") ;
  if (wolfSSL_CTX_set_cipher_list(c, ciphers && *ciphers ? ciphers : SERVER_CIPHERS) != WOLFSSL_SUCCESS)
    strerr_dief2x(100, "no usable cipher in ", ciphers && *ciphers ? "$CIPHERS" : "the default list") ;
  if (wolfSSL_CTX_use_certificate_chain_buffer(c, (unsigned char const *)cert, (long)certlen) != WOLFSSL_SUCCESS
   || wolfSSL_CTX_use_PrivateKey_buffer(c, (unsigned char const *)key, (long)keylen, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
  {
    wolfSSL_CTX_free(c) ;
    strncpy(why, "unusable certificate or key", len - 1) ;
    why[len - 1] = 0 ;
    return 0 ;
  }
  if (cafile && *cafile)
  {
    if (wolfSSL_CTX_load_verify_locations(c, cafile, 0) != WOLFSSL_SUCCESS) strerr_diefu2x(111, "load the certificates of $CAFILE ", cafile) ;
    wolfSSL_CTX_set_verify(c, WOLFSSL_VERIFY_PEER, &client_verify) ;
  }
  else wolfSSL_CTX_set_verify(c, WOLFSSL_VERIFY_NONE, 0) ;
  wolfSSL_CTX_SetIORecv(c, &io_recv) ;
  wolfSSL_CTX_SetIOSend(c, &io_send) ;
  return c ;
}

/* A certificate as loaded: its name ("" for $CERTFILE), context, and files as they were. */
typedef struct certent_s certent ;
struct certent_s
{
  char name[254] ;
  WOLFSSL_CTX *ctx ;
  struct stat cst, kst ;
} ;

/* ---- a resident tls-wrap's key reader: with -u, -g or -U the worker drops its privileges
   after its start, and a key only root may read could not be read again when it is renewed.
   So a process forked before the drop keeps them, for one job: on "n" name, it opens the
   certificate and key files of name (cert_paths: from its own environment, a name checked to
   be a host name, never a path it is sent) and passes both descriptors back ("o"); or it
   says "x" (no such certificate) or "c" or "k" and the errno of the cert or key file. It ends
   when the worker does. */

static int reader = -1 ;

static void reader_reply (int s, char const *what, int err)
{
  char buf[2 + UINT_FMT] ;
  size_t n = strlen(what) ;
  memcpy(buf, what, n) ;
  if (err) n += uint_fmt(buf + n, (unsigned int)err) ;
  (void)send(s, buf, n, MSG_NOSIGNAL) ;
}

static void reader_serve (int s) gccattr_noreturn ;
static void reader_serve (int s)
{
  static char cert[4096], key[4096] ;
  for (;;)
  {
    char name[256] ;
    int fds[2] ;
    ssize_t r ;
    do r = recv(s, name, sizeof name - 1, 0) ; while (r < 0 && errno == EINTR) ;
    if (r <= 0) _exit(0) ;
    name[r] = 0 ;
    if (name[0] != 'n' || !cert_paths(name + 1, cert, key, sizeof cert)) { reader_reply(s, "x", 0) ; continue ; }
    fds[0] = open(cert, O_RDONLY | O_CLOEXEC) ;
    if (fds[0] < 0) { reader_reply(s, errno == ENOENT ? "x" : "c", errno == ENOENT ? 0 : errno) ; continue ; }
    fds[1] = open(key, O_RDONLY | O_CLOEXEC) ;
    if (fds[1] < 0) reader_reply(s, "k", errno) ;
    else { (void)fdpass_sendv(s, fds, 2, "o", 1) ; close(fds[1]) ; }
    close(fds[0]) ;
  }
}

/* with privileges to drop: the reader, its socket kept by resident_next */
static void reader_start (void)
{
  int sv[2] ;
  pid_t pid ;
  if (!douid && !dogid) return ;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) strerr_diefu1sys(111, "create a socket pair") ;
  pid = fork() ;
  if (pid < 0) strerr_diefu1sys(111, "fork") ;
  if (!pid)
  {
    /* nothing but its socket: not tcpsrv's, not the connections' */
    if ((sv[1] > 3 && close_range(3, (unsigned int)sv[1] - 1, 0) < 0) || close_range((unsigned int)sv[1] + 1, ~0U, 0) < 0) _exit(111) ;
    reader_serve(sv[1]) ;
  }
  close(sv[1]) ;
  reader = sv[0] ;
  res.keep[1] = reader ;
}

/* the files of name's certificate opened, by the reader when there is one: 1; 0 when there
   is none; -1 (errno) when one cannot be, *bad naming it */
static int cert_open (char const *name, char const *cert, char const *key, int *cfd, int *kfd, char const **bad)
{
  char buf[2 + UINT_FMT] ;
  int fds[2] ;
  unsigned int n, err ;
  ssize_t r ;
  if (reader < 0)
  {
    *cfd = open(cert, O_RDONLY | O_CLOEXEC) ;
    if (*cfd < 0) { *bad = cert ; return errno == ENOENT ? 0 : -1 ; }
    *kfd = open(key, O_RDONLY | O_CLOEXEC) ;
    if (*kfd < 0) { int e = errno ; close(*cfd) ; *bad = key ; errno = e ; return -1 ; }
    return 1 ;
  }
  {
    size_t l = strlen(name) ;
    char q[1 + l] ;
    q[0] = 'n' ; memcpy(q + 1, name, l) ;
    if (send(reader, q, 1 + l, MSG_NOSIGNAL) < 0) strerr_diefu1sys(111, "ask the key reader") ;
  }
  r = fdpass_recvv(reader, buf, sizeof buf - 1, fds, 2, &n) ;
  if (r <= 0) strerr_diefu1x(111, "read the certificate files: the key reader is gone") ;
  buf[r] = 0 ;
  if (buf[0] == 'o' && n == 2) { *cfd = fds[0] ; *kfd = fds[1] ; return 1 ; }
  while (n) close(fds[--n]) ;
  if (buf[0] == 'x') return 0 ;
  if ((buf[0] != 'c' && buf[0] != 'k') || !uint0_scan(buf + 1, &err)) strerr_dief1x(111, "the key reader said nonsense") ;
  *bad = buf[0] == 'c' ? cert : key ;
  errno = (int)err ;
  return -1 ;
}

/* Load the certificate of name into e. 1; 0: there is none (no certificate file, or name no
   host name); -1: a file cannot be read (errno, *bad names it); -2: unusable (why set). */
static int cert_load (certent *e, char const *name, char const **bad, char *why, size_t len)
{
  static char cert[4096], key[4096] ;
  stralloc c = STRALLOC_ZERO, k = STRALLOC_ZERO ;
  struct stat cst, kst ;
  int ok, cfd, kfd ;
  *bad = 0 ;
  if (!cert_paths(name, cert, key, sizeof cert)) return 0 ;
  ok = cert_open(name, cert, key, &cfd, &kfd, bad) ;
  if (ok <= 0) return ok ;
  ok = -1 ;
  if (fstat(cfd, &cst) < 0 || !slurp(&c, cfd)) { *bad = cert ; goto end ; }
  if (fstat(kfd, &kst) < 0 || !slurp(&k, kfd)) { *bad = key ; goto end ; }
  e->ctx = ctx_build(c.s, c.len, k.s, k.len, why, len) ;
  if (!e->ctx) { ok = -2 ; goto end ; }
  strcpy(e->name, name) ;
  e->cst = cst ; e->kst = kst ;
  ok = 1 ;
 end:
  {
    int err = errno ;
    close(cfd) ; close(kfd) ;
    if (k.s) explicit_bzero(k.s, k.len) ;
    stralloc_free(&k) ; stralloc_free(&c) ;
    errno = err ;
  }
  return ok ;
}

/* 1 when the files of e are still those it was loaded from */
static int cert_current (certent const *e)
{
  static char cert[4096], key[4096] ;
  struct stat st ;
  return cert_paths(e->name, cert, key, sizeof cert)
    && !stat(cert, &st) && same_file(&st, &e->cst)
    && !stat(key, &st) && same_file(&st, &e->kst) ;
}

/* A resident tls-wrap keeps its certificates (certs[0]: $CERTFILE), read as root at its
   start, and before each handshake checks that their files are unchanged (two stat calls).
   A changed one is read again; one that cannot be (the privileges are dropped) stays in use
   for this connection, and the worker ends after it: the next one starts as root. */
#define CERTMAX 64
static certent certs[CERTMAX] ;
static unsigned int ncerts = 0 ;
static int stale = 0 ;

static void cert_stale (char const *bad, char const *why)
{
  strerr_warnw5x("certificate ", bad, " changed and cannot be read again (", why, "): this worker ends after the connection") ;
  stale = 1 ;
}

/* the context for sni in a resident tls-wrap */
static WOLFSSL_CTX *ctx_resident (char const *sni)
{
  char why[256] ;
  char const *bad ;
  certent t ;
  unsigned int i ;
  char const *certdir = getenv("CERTDIR") ;
  int r ;
  if (certdir && *certdir && *sni)
  {
    certent *e = 0 ;
    for (i = 1 ; i < ncerts ; i++) if (!strcasecmp(certs[i].name, sni)) { e = certs + i ; break ; }
    if (e && cert_current(e)) return e->ctx ;
    r = cert_load(&t, sni, &bad, why, sizeof why) ;
    if (r > 0)
    {
      if (!e && ncerts < CERTMAX) e = certs + ncerts++ ;
      if (e) { wolfSSL_CTX_free(e->ctx) ; *e = t ; return e->ctx ; }
      cert_stale(t.name, "too many certificates") ;   /* kept until the end of this worker */
      return t.ctx ;
    }
    if (r < 0)
    {
      cert_stale(bad ? bad : sni, r == -2 ? why : strerror(errno)) ;
      if (e) return e->ctx ;
    }
    else if (e)   /* the name has no certificate any more */
    {
      wolfSSL_CTX_free(e->ctx) ;
      *e = certs[--ncerts] ;
    }
  }
  if (cert_current(certs)) return certs[0].ctx ;
  r = cert_load(&t, "", &bad, why, sizeof why) ;
  if (r > 0)
  {
    wolfSSL_CTX_free(certs[0].ctx) ;
    certs[0] = t ;
  }
  else cert_stale(bad ? bad : "$CERTFILE", r == -2 ? why : strerror(r ? errno : ENOENT)) ;
  return certs[0].ctx ;
}

/* A resident tls-wrap's start, as root: $CERTFILE, then every name of $CERTDIR. */
static void certs_preload (void)
{
  char why[256] ;
  char const *bad ;
  char const *certdir = getenv("CERTDIR") ;
  int r = cert_load(certs, "", &bad, why, sizeof why) ;
  if (r == -2) strerr_dief2x(100, why, " in $CERTFILE/$KEYFILE") ;
  if (r <= 0) strerr_diefu2sys(111, "read ", bad ? bad : "$CERTFILE") ;
  ncerts = 1 ;
  if (certdir && *certdir)
  {
    DIR *d = opendir(certdir) ;
    struct dirent *de ;
    if (!d) { if (errno != ENOENT) strerr_diefu2sys(111, "read the directory ", certdir) ; return ; }
    while (ncerts < CERTMAX && (de = readdir(d)))
      if (de->d_name[0] != '.' && cert_load(certs + ncerts, de->d_name, &bad, why, sizeof why) > 0) ncerts++ ;
    closedir(d) ;
  }
}

/* the server's context for sni: a resident tls-wrap's, or read now from the files ($CERTDIR
   for sni, else $CERTFILE/$KEYFILE), then privileges are dropped. 1, or 0 with why set. */
static int server_context (char const *sni, char *why, size_t len)
{
  certent e ;
  char const *bad ;
  int r = 0 ;
  if (resident_on) { ctx = ctx_resident(sni) ; return 1 ; }
  if (*sni)
  {
    r = cert_load(&e, sni, &bad, why, len) ;
    if (r == -1) strerr_diefu2sys(111, "read ", bad) ;
    if (r == -2)
    {
      strncpy(why, "unusable certificate or key in $CERTDIR", len - 1) ; why[len - 1] = 0 ;
      return 0 ;
    }
  }
  if (!r && (r = cert_load(&e, "", &bad, why, len)) <= 0)
  {
    if (r > -2) strerr_diefu2sys(111, "read ", bad ? bad : "$CERTFILE") ;
    strncpy(why, "unusable certificate or key in $CERTFILE/$KEYFILE", len - 1) ; why[len - 1] = 0 ;
    return 0 ;
  }
  ctx = e.ctx ;
  drop() ;
  return 1 ;
}

/* the connection's facts as "VAR=value\0"... (UCSPI-TLS, mod_ssl's names), in sa */
static void tls_facts (stralloc *sa, char const *sni, int client)
{
  WOLFSSL_CIPHER *c = wolfSSL_get_current_cipher(ssl) ;
  char const *cn = c ? wolfSSL_CIPHER_get_name(c) : 0 ;
  if (cn && !strncmp(cn, "TLS13-", 6))
  {
    /* TLS 1.3's suites by their standard names, as OpenSSL and mod_ssl give them */
    int suite = wolfSSL_get_current_cipher_suite(ssl) ;
    char const *iana = wolfSSL_get_cipher_name_iana_from_suite((unsigned char)(suite >> 8), (unsigned char)suite) ;
    if (iana && strncmp(iana, "None", 4)) cn = iana ;
  }
  sa->len = 0 ;
  if (!stralloc_cats(sa, "SSL_PROTOCOL=") || !stralloc_cats(sa, wolfSSL_get_version(ssl)) || !stralloc_0(sa)
   || !stralloc_cats(sa, "SSL_CIPHER=") || !stralloc_cats(sa, cn ? cn : "unknown") || !stralloc_0(sa))
    strerr_diefu1sys(111, "allocate memory") ;
  if (sni && *sni && (!stralloc_cats(sa, "SSL_TLS_SNI=") || !stralloc_cats(sa, sni) || !stralloc_0(sa)))
    strerr_diefu1sys(111, "allocate memory") ;
  if (!client)
  {
    char const *cafile = getenv("CAFILE") ;
    if (cafile && *cafile)
    {
      WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(ssl) ;
      if (!x)
      {
        if (!stralloc_cats(sa, "SSL_CLIENT_VERIFY=NONE") || !stralloc_0(sa)) strerr_diefu1sys(111, "allocate memory") ;
      }
      else
      {
        char dn[512] ;
        char *s = wolfSSL_X509_NAME_oneline(wolfSSL_X509_get_subject_name(x), dn, sizeof dn) ;
        if (!stralloc_cats(sa, "SSL_CLIENT_VERIFY=") || !stralloc_cats(sa, clientfailed ? "FAILED" : "SUCCESS") || !stralloc_0(sa)
         || !stralloc_cats(sa, "SSL_CLIENT_S_DN=") || !logtext_cat(sa, s ? s : "", s ? strlen(s) : 0, 256, "") || !stralloc_0(sa))
          strerr_diefu1sys(111, "allocate memory") ;
        wolfSSL_X509_free(x) ;
      }
    }
  }
}

static void log_success (stralloc const *facts, char const *sni)
{
  char const *proto = facts->s + 13 ;
  char const *cipher = proto + strlen(proto) + 1 + 11 ;
  char const *kv[] = { "protocol=", proto, "cipher=", cipher, "sni=", sni, 0 } ;
  logline("tls success", kv) ;
}

/* ---- the relay between TLS and the cleartext side (app), until both are done */

static int app_r = -1, app_w = -1 ;

static void app_shut (void)
{
  if (app_w < 0) return ;
  if (shutdown(app_w, SHUT_WR) < 0) { if (app_w != app_r) close(app_w) ; }
  if (app_w != app_r) app_w = -1 ;
  else app_w = -2 ;   /* shut, still open for reading */
}

/* the network is done: close_notify, our half closed, and whatever the peer still sends
   read (for DRAINSECS at most), so that the kernel does not reset the connection while our
   last bytes are on their way */
static void net_finish (int sendclose)
{
  tain deadline ;
  char buf[4096] ;
  deadline_in(&deadline, timeout) ;
  if (sendclose)
  {
    for (;;)
    {
      int r = wolfSSL_shutdown(ssl) ;
      int e ;
      if (r != WOLFSSL_FATAL_ERROR) break ;   /* sent (SHUTDOWN_NOT_DONE: theirs not waited for) */
      e = wolfSSL_get_error(ssl, r) ;
      if (e != WOLFSSL_ERROR_WANT_WRITE || !wait_fd(net.w, IOPAUSE_WRITE, &deadline)) break ;
    }
  }
  if (shutdown(net.w, SHUT_WR) < 0) return ;
  deadline_in(&deadline, DRAINSECS) ;
  for (;;)
  {
    ssize_t r = read(net.r, buf, sizeof buf) ;
    if (r > 0) continue ;
    if (r < 0 && errno == EINTR) continue ;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(net.r, IOPAUSE_READ, &deadline)) continue ;
    break ;
  }
}

static char relaydown[BUFSIZE], relayup[BUFSIZE] ;

static void relay (void)
{
  char *down = relaydown, *up = relayup ;
  size_t dpos = 0, dlen = 0, upos = 0, ulen = 0 ;
  int netdone = 0, appdone = 0, broken = 0 ;
  if (ndelay_on(app_r) < 0 || ndelay_on(app_w) < 0 || ndelay_on(net.r) < 0 || ndelay_on(net.w) < 0)
    strerr_diefu1sys(111, "set the descriptors non-blocking") ;
  for (;;)
  {
    iopause_fd x[4] ;
    unsigned int n = 0 ;
    int netwant, writing, progress ;
    tain deadline ;
    do
    {
      progress = 0 ; netwant = 0 ; writing = 0 ;
      /* network to app: what the TLS library holds is read before any wait */
      if (!netdone && !dlen)
      {
        int r = wolfSSL_read(ssl, down, BUFSIZE) ;
        if (r > 0) { dpos = 0 ; dlen = (size_t)r ; progress = 1 ; }
        else
        {
          int e = wolfSSL_get_error(ssl, r) ;
          if (e == WOLFSSL_ERROR_WANT_READ) netwant |= IOPAUSE_READ ;
          else if (e == WOLFSSL_ERROR_WANT_WRITE) netwant |= IOPAUSE_WRITE ;
          else
          {
            /* close_notify (the app sees the end and may still answer), or a connection
               that is of no more use */
            netdone = 1 ; progress = 1 ;
            if (e != WOLFSSL_ERROR_ZERO_RETURN) broken = 1 ;
          }
        }
      }
      if (dlen)
      {
        ssize_t w = app_w >= 0 ? write(app_w, down + dpos, dlen - dpos) : -1 ;
        if (w > 0) { dpos += (size_t)w ; if (dpos == dlen) dpos = dlen = 0 ; progress = 1 ; }
        else if (app_w < 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) { dlen = 0 ; progress = 1 ; }
      }
      if (netdone && !dlen && app_w >= 0) app_shut() ;
      /* app to network */
      if (!appdone && !ulen && !broken)
      {
        ssize_t r = read(app_r, up, BUFSIZE) ;
        if (r > 0) { upos = 0 ; ulen = (size_t)r ; progress = 1 ; }
        else if (!r || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) { appdone = 1 ; progress = 1 ; }
      }
      if (ulen && !broken)
      {
        int r = wolfSSL_write(ssl, up + upos, (int)(ulen - upos)) ;
        if (r > 0) { upos += (size_t)r ; if (upos == ulen) upos = ulen = 0 ; progress = 1 ; }
        else
        {
          int e = wolfSSL_get_error(ssl, r) ;
          if (e == WOLFSSL_ERROR_WANT_WRITE) { netwant |= IOPAUSE_WRITE ; writing = 1 ; }
          else if (e == WOLFSSL_ERROR_WANT_READ) { netwant |= IOPAUSE_READ ; writing = 1 ; }
          else { broken = 1 ; progress = 1 ; }
        }
      }
      if (broken) ulen = 0 ;
    } while (progress) ;

    if (appdone && !ulen) break ;             /* the app has said all it had to say */
    if (broken && !dlen) break ;              /* nothing more can go either way */

    if (!appdone && !ulen && !broken) x[n++] = (iopause_fd){ .fd = app_r, .events = IOPAUSE_READ, .revents = 0 } ;
    if (dlen) x[n++] = (iopause_fd){ .fd = app_w, .events = IOPAUSE_WRITE, .revents = 0 } ;
    if (netwant & IOPAUSE_READ) x[n++] = (iopause_fd){ .fd = net.r, .events = IOPAUSE_READ, .revents = 0 } ;
    if (netwant & IOPAUSE_WRITE) x[n++] = (iopause_fd){ .fd = net.w, .events = IOPAUSE_WRITE, .revents = 0 } ;
    if (!n) break ;
    /* the app decides how long a peer may stay silent; a peer that does not read what is
       sent to it has timeout seconds */
    if (writing) deadline_in(&deadline, timeout) ;
    for (;;)
    {
      int r = iopause_g(x, n, writing ? &deadline : 0) ;
      if (r > 0) break ;
      if (!r) { logfail("the peer did not read for the deadline") ; broken = 1 ; ulen = 0 ; break ; }
      if (errno != EINTR) strerr_diefu1sys(111, "iopause") ;
    }
  }
  if (!broken) net_finish(1) ;
}

/* ---- client mode */

/* 1 when the certificate of the peer names name: a DNS name (or, without any, the common
   name) equal to it, or a wildcard "*.rest" matching its first label; ".domain" matches
   any name ending in it (Postfix's dot-nexthop) */
static int name_match (char const *pat, char const *name)
{
  size_t pl = strlen(pat), nl = strlen(name) ;
  if (name[0] == '.')
    return pl > nl && !strcasecmp(pat + pl - nl, name) ;
  if (pl == nl && !strcasecmp(pat, name)) return 1 ;
  if (pl > 2 && pat[0] == '*' && pat[1] == '.')
  {
    char const *dot = strchr(name, '.') ;
    return dot && dot != name && !strcasecmp(pat + 1, dot) ;
  }
  return 0 ;
}

static int cert_names (char const *const *match, unsigned int nmatch)
{
  WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(ssl) ;
  int found = 0, any = 0 ;
  char *alt ;
  unsigned int i ;
  if (!x) return 0 ;
  while (!found && (alt = wolfSSL_X509_get_next_altname(x)))
  {
    any = 1 ;
    for (i = 0 ; i < nmatch && !found ; i++) if (name_match(alt, match[i])) found = 1 ;
  }
  if (!any)
  {
    char cn[256] ;
    if (wolfSSL_X509_NAME_get_text_by_NID(wolfSSL_X509_get_subject_name(x), NID_commonName, cn, sizeof cn) > 0)
      for (i = 0 ; i < nmatch && !found ; i++) if (name_match(cn, match[i])) found = 1 ;
  }
  wolfSSL_X509_free(x) ;
  return found ;
}

static void ctl_say (int fd, char const *s, size_t len)
{
  if (fd >= 0) allwrite(fd, s, len) ;
}

static void client_fail (int ctl, char const *why) gccattr_noreturn ;
static void client_fail (int ctl, char const *why)
{
  stralloc sa = STRALLOC_ZERO ;
  if (stralloc_cats(&sa, "SSL_ERROR=") && logtext_cat(&sa, why, strlen(why), 256, "") && stralloc_0(&sa) && stralloc_0(&sa))
    ctl_say(ctl, sa.s, sa.len) ;
  _exit(111) ;
}

static int client (char const *servername, int verify, char const *const *match, unsigned int nmatch, char const *cafile)
{
  stralloc facts = STRALLOC_ZERO ;
  char why[256] ;
  int ctl = -1 ;
  {
    char const *s = getenv("SSLCTLFD") ;
    unsigned int u ;
    if (s && *s)
    {
      if (!uint0_scan(s, &u)) strerr_dief2x(100, "invalid $SSLCTLFD: ", s) ;
      ctl = (int)u ;
      if (fcntl(ctl, F_SETFD, FD_CLOEXEC) < 0) strerr_diefu1sys(111, "use $SSLCTLFD") ;
    }
  }
  net.r = 6 ; net.w = 7 ;
  app_r = 0 ; app_w = 1 ;
  if (ndelay_on(net.r) < 0 || ndelay_on(net.w) < 0) strerr_diefu1sys(111, "use descriptors 6 and 7") ;
  if (wolfSSL_Init() != WOLFSSL_SUCCESS) strerr_diefu1x(111, "initialize the TLS library") ;
  ctx = wolfSSL_CTX_new(wolfSSLv23_client_method()) ;
  if (!ctx) strerr_diefu1x(111, "create a TLS context") ;
  if (wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS) strerr_diefu1x(111, "set the TLS versions") ;
  if (verify)
  {
    if (wolfSSL_CTX_load_verify_locations(ctx, cafile ? cafile : DEFAULT_CAFILE, 0) != WOLFSSL_SUCCESS)
      strerr_diefu2x(111, "load the certificates of ", cafile ? cafile : DEFAULT_CAFILE) ;
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, 0) ;
  }
  else wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, 0) ;
  wolfSSL_CTX_SetIORecv(ctx, &io_recv) ;
  wolfSSL_CTX_SetIOSend(ctx, &io_send) ;
  ssl = wolfSSL_new(ctx) ;
  if (!ssl) strerr_diefu1x(111, "create a TLS session") ;
  if (servername && wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, servername, (unsigned short)strlen(servername)) != WOLFSSL_SUCCESS)
    strerr_diefu1x(111, "set the server name") ;
  if (!handshake(1, why, sizeof why)) client_fail(ctl, why) ;
  if (verify && nmatch && !cert_names(match, nmatch))
  {
    stralloc sa = STRALLOC_ZERO ;
    unsigned int i ;
    if (!stralloc_cats(&sa, "the certificate names none of ")) client_fail(ctl, "out of memory") ;
    for (i = 0 ; i < nmatch ; i++)
      if ((i && !stralloc_cats(&sa, ", ")) || !stralloc_cats(&sa, match[i])) client_fail(ctl, "out of memory") ;
    if (!stralloc_0(&sa)) client_fail(ctl, "out of memory") ;
    client_fail(ctl, sa.s) ;
  }
  tls_facts(&facts, 0, 1) ;
  if (!stralloc_cats(&facts, verify ? "SSL_SERVER_VERIFY=SUCCESS" : "SSL_SERVER_VERIFY=NONE") || !stralloc_0(&facts) || !stralloc_0(&facts))
    client_fail(ctl, "out of memory") ;
  ctl_say(ctl, facts.s, facts.len) ;
  if (ctl >= 0) close(ctl) ;
  relay() ;
  return 0 ;
}

/* ---- server mode */

/* prog runs once per connection (child), or, in a resident tls-wrap whose prog is a resident
   worker too, is started once and handed each connection over its socket (kid) */
static pid_t child = 0 ;
static int kid = -1 ;
static int piped = 0 ;   /* the self-pipe is set up */

/* what prog must not take from anyone but tls-wrap */
static char const unsets[] = "SSLCTLFD\0SSLREADFD\0SSLWRITEFD\0SSL_PROTOCOL\0SSL_CIPHER\0SSL_TLS_SNI\0SSL_CLIENT_VERIFY\0SSL_CLIENT_S_DN\0" ;

static void unset_ucspitls (void)
{
  char const *s ;
  for (s = unsets ; *s ; s += strlen(s) + 1) unsetenv(s) ;
}

/* mods[0..len): "VAR=value\0"... */
static void set_env (char const *mods, size_t len)
{
  size_t i = 0 ;
  while (i < len && mods[i])
  {
    char const *s = mods + i ;
    char const *eq = strchr(s, '=') ;
    if (eq)
    {
      char var[eq - s + 1] ;
      memcpy(var, s, eq - s) ; var[eq - s] = 0 ;
      if (setenv(var, eq + 1, 1) < 0) strerr_diefu1sys(111, "set the environment") ;
    }
    i += strlen(s) + 1 ;
  }
}

/* in a child: become prog, with fds 0 and 1 on app (with app < 0, as they are), the TLS
   variables those of mods[0..len), as the user it is to be */
static void become (char const *const *argv, int app, char const *mods, size_t len) gccattr_noreturn ;
static void become (char const *const *argv, int app, char const *mods, size_t len)
{
  if (app >= 0 && (fd_copy(0, app) < 0 || fd_copy(1, app) < 0)) _exit(111) ;
  if (app > 1) close(app) ;
  if (piped) selfpipe_finish() ;
  signal(SIGPIPE, SIG_DFL) ;
  unset_ucspitls() ;
  set_env(mods, len) ;
  drop() ;
  execvp(argv[0], (char *const *)argv) ;
  strerr_warnwu2sys("run ", argv[0]) ;
  _exit(errno == ENOENT ? 127 : 126) ;
}

static void spawn (char const *const *argv, int app, char const *mods, size_t len)
{
  child = fork() ;
  if (child < 0) strerr_diefu1sys(111, "fork") ;
  if (!child) become(argv, app, mods, len) ;
}

static unsigned int wstatus (int wstat)
{
  return WIFEXITED(wstat) ? (unsigned int)WEXITSTATUS(wstat) : 111 ;
}

static unsigned int reap (void)
{
  int wstat ;
  while (waitpid(child, &wstat, 0) < 0)
    if (errno != EINTR) strerr_diefu1sys(111, "wait for prog") ;
  child = 0 ;
  return wstatus(wstat) ;
}

/* A resident tls-wrap starts prog once, as a resident worker of its own (its socket in
   $RESIDENTFD, the protocol tcpsrv speaks). 1 when prog said hello and is prog as started;
   0 when it is no resident worker (it ended, or a program in between executed another):
   then prog runs once for each connection. */
static int kid_start (char const *const *argv)
{
  int sv[2] ;
  char buf[64] ;
  ssize_t r = -1 ;
  tain deadline ;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) strerr_diefu1sys(111, "create a socket pair") ;
  child = fork() ;
  if (child < 0) strerr_diefu1sys(111, "fork") ;
  if (!child)
  {
    char fmt[UINT_FMT] ;
    if (fcntl(sv[1], F_SETFD, 0) < 0) _exit(111) ;
    fmt[uint_fmt(fmt, (unsigned int)sv[1])] = 0 ;
    if (setenv(RESIDENT_FDVAR, fmt, 1) < 0) _exit(111) ;
    become(argv, -1, "", 0) ;
  }
  close(sv[1]) ;
  deadline_in(&deadline, timeout) ;
  if (wait_fd(sv[0], IOPAUSE_READ, &deadline))
    do r = recv(sv[0], buf, sizeof buf - 1, 0) ; while (r < 0 && errno == EINTR) ;
  if (r > 0)
  {
    buf[r] = 0 ;
    if (!strcmp(buf, RESIDENT_HELLO) && resident_is_prog((int)child, argv))
    {
      kid = sv[0] ;
      res.keep[0] = kid ;   /* not closed between connections */
      return 1 ;
    }
  }
  close(sv[0]) ;
  kill(child, SIGKILL) ;
  reap() ;
  strerr_warnw3x(argv[0], " is no resident worker", ": running it once per connection") ;
  return 0 ;
}

/* hand the connection to the resident prog: tcpsrv's variables for it, the TLS ones, and
   fds[0..n) (the first one its fds 0 and 1, the others its 3, 4) */
static void kid_hand (char const *mods, size_t len, int const *fds, unsigned int n)
{
  static stralloc m = STRALLOC_ZERO ;
  m.len = 0 ;
  if (!stralloc_catb(&m, res.msg, res.msglen) || !stralloc_catb(&m, unsets, sizeof unsets - 1) || !stralloc_catb(&m, mods, len))
    strerr_diefu1sys(111, "allocate memory") ;
  if (m.len > RESIDENT_MSGMAX) strerr_dief1x(111, "unable to hand the connection to prog: too many variables") ;
  if (!fdpass_sendv(kid, fds, n, m.s, m.len)) strerr_diefu1sys(111, "hand the connection to prog") ;
  explicit_bzero(m.s, m.len) ;
}

/* the resident prog's "done N": the connection's status */
static unsigned int kid_done (void)
{
  char buf[64] ;
  unsigned int code ;
  size_t len ;
  ssize_t r ;
  do r = recv(kid, buf, sizeof buf - 1, 0) ; while (r < 0 && errno == EINTR) ;
  if (r < 0) strerr_diefu1sys(111, "read from the resident prog") ;
  if (!r) strerr_dief1x(111, "the resident prog ended during a connection") ;
  buf[r] = 0 ;
  if (strncmp(buf, "done ", 5) || !(len = uint0_scan(buf + 5, &code)) || buf[5 + len] || code > 255)
    strerr_dief1x(111, "the resident prog broke the resident protocol") ;
  return code ;
}

/* the TLS session of the connection, freed; in a resident tls-wrap, nothing of the client
   left in the buffers */
static void ssl_end (void)
{
  if (ssl) wolfSSL_free(ssl) ;
  ssl = 0 ;
  if (resident_on)
  {
    explicit_bzero(hellobuf, sizeof hellobuf) ;
    explicit_bzero(relaydown, sizeof relaydown) ;
    explicit_bzero(relayup, sizeof relayup) ;
    net.pre = 0 ; net.prepos = net.prelen = 0 ;
  }
}

/* the connection's end: prog's status, once its side is closed */
static unsigned int conn_end (void)
{
  if (app_r >= 0) close(app_r) ;
  if (app_w >= 0 && app_w != app_r) close(app_w) ;
  app_r = app_w = -1 ;
  ssl_end() ;
  if (kid >= 0) return kid_done() ;
  /* a resident tls-wrap's fds 0 and 1 are ended by resident_next */
  if (!resident_on) { close(net.r) ; if (net.w != net.r) close(net.w) ; }
  return reap() ;
}

/* the handshake of a server; 1, or 0 (logged) */
static int server_handshake (stralloc *facts, char *sni, size_t snimax)
{
  char why[256] ;
  if (ndelay_on(net.r) < 0 || ndelay_on(net.w) < 0) strerr_diefu1sys(111, "set the connection non-blocking") ;
  sni[0] = 0 ;
  clientfailed = 0 ;
  if (!hello_name(sni, snimax, why, sizeof why)) { drop() ; logfail(why) ; return 0 ; }
  if (!resident_on && wolfSSL_Init() != WOLFSSL_SUCCESS) strerr_diefu1x(111, "initialize the TLS library") ;
  if (!server_context(sni, why, sizeof why)) { drop() ; logfail(why) ; return 0 ; }
  ssl = wolfSSL_new(ctx) ;
  if (!ssl) strerr_diefu1x(111, "create a TLS session") ;
  if (!handshake(0, why, sizeof why))
  {
    /* Whether the key is the certificate's is asked only now, to say why: the library's
       check costs an ECC key a point multiplication, a fifth of a connection's CPU time
       here, and for an ECC key it proves nothing (wolfSSL 5.5 passes a key of another
       certificate); a key that is not the certificate's makes every handshake fail anyway. */
    if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS)
    {
      strncpy(why, "the key is not the certificate's", sizeof why - 1) ;
      why[sizeof why - 1] = 0 ;
    }
    logfail(why) ;
    ssl_end() ;
    return 0 ;
  }
  tls_facts(facts, sni, 0) ;
  if (!stralloc_0(facts)) strerr_diefu1sys(111, "allocate memory") ;
  if (verbose) log_success(facts, sni) ;
  return 1 ;
}

/* implicit TLS: the handshake, then prog on a socket of cleartext; prog's status */
static unsigned int serve_implicit (char const *const *argv)
{
  stralloc facts = STRALLOC_ZERO ;
  char sni[256] ;
  int sp[2] ;
  unsigned int status ;
  if (!server_handshake(&facts, sni, sizeof sni)) { ssl_end() ; return 111 ; }
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) strerr_diefu1sys(111, "create a socket pair") ;
  if (kid >= 0) kid_hand(facts.s, facts.len - 1, sp + 1, 1) ;
  else spawn(argv, sp[1], facts.s, facts.len - 1) ;
  close(sp[1]) ;
  explicit_bzero(facts.s, facts.len) ;
  stralloc_free(&facts) ;
  app_r = app_w = sp[0] ;
  relay() ;
  status = conn_end() ;
  return status ;
}

/* STARTTLS: prog at once, on the connection, with the UCSPI-TLS descriptors; the handshake
   when it asks; prog's status */
static unsigned int serve_starttls (char const *const *argv)
{
  stralloc facts = STRALLOC_ZERO ;
  char sni[256] ;
  int ctl[2], data[2], sfd = -1 ;
  unsigned int status ;
  char c = 0 ;
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, ctl) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, data) < 0)
    strerr_diefu1sys(111, "create a socket pair") ;
  if (fcntl(ctl[0], F_SETFD, FD_CLOEXEC) < 0 || fcntl(data[0], F_SETFD, FD_CLOEXEC) < 0)
    strerr_diefu1sys(111, "set close-on-exec") ;
  if (kid >= 0)
  {
    static char const fdvars[] = "SSLCTLFD=3\0SSLREADFD=4\0SSLWRITEFD=4" ;
    int fds[3] = { 0, ctl[1], data[1] } ;
    kid_hand(fdvars, sizeof fdvars, fds, 3) ;
  }
  else
  {
    char mods[3 * (12 + UINT_FMT)] ;
    size_t len = 0 ;
    memcpy(mods, "SSLCTLFD=", 9) ; len = 9 ;
    len += uint_fmt(mods + len, (unsigned int)ctl[1]) ; mods[len++] = 0 ;
    memcpy(mods + len, "SSLREADFD=", 10) ; len += 10 ;
    len += uint_fmt(mods + len, (unsigned int)data[1]) ; mods[len++] = 0 ;
    memcpy(mods + len, "SSLWRITEFD=", 11) ; len += 11 ;
    len += uint_fmt(mods + len, (unsigned int)data[1]) ; mods[len++] = 0 ;
    sfd = selfpipe_init() ;
    if (sfd < 0 || selfpipe_trap(SIGCHLD) < 0) strerr_diefu1sys(111, "trap SIGCHLD") ;
    piped = 1 ;
    spawn(argv, -1, mods, len) ;
  }
  close(ctl[1]) ; close(data[1]) ;
  /* until prog asks for TLS or is done */
  for (;;)
  {
    iopause_fd x[2] = { { .fd = kid >= 0 ? kid : sfd, .events = IOPAUSE_READ, .revents = 0 }, { .fd = ctl[0], .events = IOPAUSE_READ, .revents = 0 } } ;
    int r = iopause_g(x, ctl[0] >= 0 ? 2 : 1, 0) ;
    if (r < 0) { if (errno == EINTR) continue ; strerr_diefu1sys(111, "iopause") ; }
    if (x[0].revents)
    {
      if (kid >= 0) { status = kid_done() ; goto notls ; }
      else
      {
        int wstat ;
        while (selfpipe_read() > 0) ;
        if (waitpid(child, &wstat, WNOHANG) == child) { child = 0 ; status = wstatus(wstat) ; goto notls ; }
      }
    }
    if (ctl[0] >= 0 && x[1].revents)
    {
      ssize_t n = read(ctl[0], &c, 1) ;
      if (n < 0 && errno == EINTR) continue ;
      if (n == 1 && (c == 'y' || c == 'Y')) break ;
      if (n <= 0) { close(ctl[0]) ; ctl[0] = -1 ; }   /* prog will not ask: wait for its end */
    }
  }
  if (piped) { selfpipe_finish() ; piped = 0 ; }
  if (!server_handshake(&facts, sni, sizeof sni))
  {
    close(ctl[0]) ; close(data[0]) ;
    return conn_end() ;
  }
  if (c == 'Y') allwrite(ctl[0], facts.s, facts.len) ;
  close(ctl[0]) ;
  explicit_bzero(facts.s, facts.len) ;
  stralloc_free(&facts) ;
  app_r = app_w = data[0] ;
  relay() ;
  return conn_end() ;
 notls:
  if (piped) { selfpipe_finish() ; piped = 0 ; }
  if (ctl[0] >= 0) close(ctl[0]) ;
  close(data[0]) ;
  return status ;
}

int main (int argc, char const *const *argv)
{
  char const *match[MAXMATCH] ;
  unsigned int nmatch = 0 ;
  char const *servername = 0, *cafile = 0 ;
  int mode = 0, verify = 0 ;   /* mode: 0 implicit, 's' STARTTLS, 'c' client */
  unsigned int status = 0 ;
  int r ;
  PROG = "tls-wrap" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "scvVt:u:g:Un:m:A:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 's' : if (mode == 'c') dieusage() ; mode = 's' ; break ;
        case 'c' : if (mode == 's') dieusage() ; mode = 'c' ; break ;
        case 'v' : verbose = 1 ; break ;
        case 'V' : verify = 1 ; break ;
        case 't' : if (!uint0_scan(l.arg, &timeout) || !timeout || timeout > 86400) dieusage() ; break ;
        case 'u' : if (!uid0_scan(l.arg, &uid)) dieusage() ; douid = 1 ; break ;
        case 'g' : if (!gid0_scan(l.arg, &gid)) dieusage() ; dogid = 1 ; break ;
        case 'U' :
        {
          char const *x = getenv("UID"), *y = getenv("GID") ;
          if (!x || !y || !uid0_scan(x, &uid) || !gid0_scan(y, &gid))
            strerr_dief1x(100, "-U needs $UID and $GID, set to numbers") ;
          douid = dogid = 1 ;
          break ;
        }
        case 'n' : servername = l.arg ; break ;
        case 'm' : if (nmatch >= MAXMATCH || !*l.arg) dieusage() ; match[nmatch++] = l.arg ; break ;
        case 'A' : cafile = l.arg ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  remoteip = getenv("TCPREMOTEIP") ;
  if (!remoteip || !*remoteip) remoteip = "unknown" ;
  if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) strerr_diefu1sys(111, "ignore SIGPIPE") ;
  if (mode == 'c')
  {
    if (argc || douid || dogid) dieusage() ;
    if ((nmatch || cafile) && !verify) dieusage() ;
    return client(servername, verify, match, nmatch, cafile) ;
  }
  if (!argc || verify || nmatch || servername || cafile) dieusage() ;
  {
    char const *cert = getenv("CERTFILE"), *key = getenv("KEYFILE") ;
    if (!cert || !*cert || !key || !*key) strerr_dief1x(100, "$CERTFILE and $KEYFILE must name the certificate and its key") ;
  }
  r = resident_init(&res) ;
  if (r < 0 && errno == EPERM)
    strerr_dief1x(100, "unable to serve as a resident worker: the socket in $" RESIDENT_FDVAR " is not from the parent process (a program between tcpsrv -w and tls-wrap forks)") ;
  if (r < 0) strerr_diefu1sys(100, "use $" RESIDENT_FDVAR " to serve as a resident worker") ;
  if (!r) _exit(mode == 's' ? serve_starttls(argv) : serve_implicit(argv)) ;

  /* tcpsrv -w: the certificates read once (as root), prog started once when it can serve as
     a resident worker too, then one client after the other */
  resident_on = 1 ;
  unset_ucspitls() ;
  if (wolfSSL_Init() != WOLFSSL_SUCCESS) strerr_diefu1x(111, "initialize the TLS library") ;
  reader_start() ;
  certs_preload() ;
  kid_start(argv) ;
  drop() ;
  for (;;)
  {
    r = resident_next(&res, status) ;
    if (!r) break ;
    if (r < 0) strerr_diefu1sys(111, "wait for a connection from tcpsrv") ;
    remoteip = getenv("TCPREMOTEIP") ;
    if (!remoteip || !*remoteip) remoteip = "unknown" ;
    status = mode == 's' ? serve_starttls(argv) : serve_implicit(argv) ;
    if (stale) _exit(status) ;
  }
  if (kid >= 0) { close(kid) ; reap() ; }
  _exit(0) ;
}
