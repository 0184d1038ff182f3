/* remotedeliver: see remotedeliver.h. The routing: control/smtproutes, an address literal,
   the MX records, or the domain's own addresses; then each address in turn until one takes
   the message. One connection at a time; a kept session is that connection, left open. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "control.h"
#include "dns.h"
#include "logtext.h"
#include "mxroute.h"
#include "remotedeliver.h"
#include "smtpclient.h"

#define TEXTMAX 1000      /* bytes of text at most in a recipient's line */
#define MAXADDRS 16       /* addresses tried at most in one run */
#define QUITWAIT 30       /* seconds at most for the reply to QUIT */
#define BATCH 100         /* RCPT commands at most in one write (their replies fit any buffer) */
#define MSGBUF 65536      /* a message this small is read once and kept */
#define CHUNK 16384       /* input bytes encoded per write of the data */
#define RSETWAIT 20       /* seconds at most for the reply to RSET on a kept session */
#define SESSIONMAX 300    /* seconds a session is used for, from its connection */

/* ---- the recipients and their lines */

enum { R_PENDING, R_ACCEPTED, R_DONE } ;
static char const *sender, *domain ;
static char const *const *rcpt ;
static unsigned int nrcpt ;
static unsigned char rstate[REMOTEDELIVER_RCPTMAX] ;
static stralloc line = STRALLOC_ZERO ;       /* the lines not yet passed on */
static remotedeliver_put_fn *put ;

static void die_nomem (void) gccattr_noreturn ;
static void die_nomem (void) { strerr_diefu1sys(111, "allocate memory") ; }

/* write "kind N text" for recipient i, text made printable ASCII (the domain may not be);
   its outcome is final */
static void report (unsigned int i, char const *kind, char const *text, size_t len)
{
  char fmt[UINT_FMT] ;
  if (!stralloc_cats(&line, kind) || !stralloc_catb(&line, " ", 1)
   || !stralloc_catb(&line, fmt, uint_fmt(fmt, i + 1)) || !stralloc_catb(&line, " ", 1)
   || !logtext_cat(&line, text, len, len, 0) || !stralloc_catb(&line, "\n", 1)) die_nomem() ;
  rstate[i] = R_DONE ;
}

/* the same line for every recipient in state st */
static void report_all (unsigned char st, char const *kind, char const *text, size_t len)
{
  unsigned int i ;
  for (i = 0 ; i < nrcpt ; i++) if (rstate[i] == st) report(i, kind, text, len) ;
}

/* the lines written so far are final: pass them on */
static void report_flush (void)
{
  if (!line.len) return ;
  (*put)(line.s, line.len) ;
  line.len = 0 ;
}

/* ---- configuration */

static stralloc helohost = STRALLOC_ZERO, routes = STRALLOC_ZERO ;
static stralloc tlslines = STRALLOC_ZERO ;   /* control/tlsdestinations */
/* TLS with a verified certificate is required for this delivery's domain; tlsnames: what
   the certificate must name, each 0-terminated (a name, or .suffix) */
static int tlsrequired = 0 ;
static stralloc tlsnames = STRALLOC_ZERO, tlscafile = STRALLOC_ZERO ;
static unsigned long timeoutconnect, timeoutremote ;
static char outip4[16], outip6[16] ;
static int hasout4 = 0, hasout6 = 0 ;

static void die_control (char const *name) gccattr_noreturn ;
static void die_control (char const *name)
{
  strerr_diefu4sys(111, "read ", control_root(), "/control/", name) ;
}

/* control/name as a number of seconds, not 0 */
static void readnum (unsigned long *u, char const *name, unsigned long dflt)
{
  if (control_readulong(u, name, dflt) < 0) die_control(name) ;
  if (!*u) { errno = EINVAL ; die_control(name) ; }
  if (*u > 86400) *u = 86400 ;
}

void remotedeliver_init (remotedeliver_put_fn *f)
{
  stralloc sa = STRALLOC_ZERO ;
  put = f ;
  if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) strerr_diefu1sys(111, "ignore SIGPIPE") ;
  if (control_readline(&helohost, "helohost", 0) < 0) die_control("helohost") ;
  if (!helohost.s[0] && control_readline(&helohost, "me", 0) < 0) die_control("me") ;
  if (!helohost.s[0])
  {
    char h[256] ;
    if (gethostname(h, sizeof h - 1) < 0) die_control("me") ;
    h[sizeof h - 1] = 0 ;
    if (!stralloc_copys(&helohost, h) || !stralloc_0(&helohost)) die_nomem() ;
  }
  readnum(&timeoutconnect, "timeoutconnect", 60) ;
  readnum(&timeoutremote, "timeoutremote", 1200) ;
  if (control_readlines(&sa, "outgoingip") < 0) die_control("outgoingip") ;
  {
    size_t i = 0 ;
    while (i < sa.len)
    {
      char ip[16] ;
      int is6 ;
      char const *s = sa.s + i ;
      i += strlen(s) + 1 ;
      if (!dns_ip_scan(ip, &is6, s))
        strerr_diefu6x(111, "use ", control_root(), "/control/outgoingip", ": not an address: ", s, "") ;
      if (is6) { memcpy(outip6, ip, 16) ; hasout6 = 1 ; }
      else { memcpy(outip4, ip, 16) ; hasout4 = 1 ; }
    }
  }
  if (control_readlines(&tlslines, "tlsdestinations") < 0) die_control("tlsdestinations") ;
  if (control_readline(&tlscafile, "tlscafile", 0) < 0) die_control("tlscafile") ;
  stralloc_free(&sa) ;
  {
    stralloc path = STRALLOC_ZERO ;
    if (!stralloc_cats(&path, control_root()) || !stralloc_cats(&path, "/control/smtproutes")
     || !stralloc_0(&path)) die_nomem() ;
    if (!openslurpclose(&routes, path.s))
    {
      if (errno != ENOENT) die_control("smtproutes") ;
      routes.len = 0 ;
    }
    stralloc_free(&path) ;
  }
}

/* control/tlsdestinations for this delivery's domain: "domain" (the certificate names it or
   a name under it, as Postfix's secure level), or "domain:name,.suffix,...": what it must
   name instead */
static void tls_policy (void)
{
  int r ;
  tlsnames.len = 0 ;
  r = mxroute_tls(&tlsnames, tlslines.s, tlslines.len, domain) ;
  if (r < 0)
  {
    if (errno == EINVAL) strerr_diefu5x(111, "use ", control_root(), "/control/tlsdestinations", ": no name after the colon for ", domain) ;
    die_nomem() ;
  }
  tlsrequired = r ;
}

/* ---- the message: msgfd from its offset at the start to EOF */

static int msgfd ;
static off_t msgstart ;
static char msgbuf[MSGBUF] ;
static size_t msglen ;
static int msgheld ;        /* the whole message is in msgbuf */
static uint64_t msgsize ;   /* as sent, RFC 1870 */
static int msg8bit ;

static size_t msgread (char *s, size_t max)
{
  size_t n = 0 ;
  while (n < max)
  {
    ssize_t r = read(msgfd, s + n, max - n) ;
    if (r < 0) { if (errno == EINTR) continue ; strerr_diefu1sys(111, "read the message") ; }
    if (!r) break ;
    n += (size_t)r ;
  }
  return n ;
}

/* find where the message starts, its size as sent and whether it has 8-bit text */
static void msgscan (void)
{
  smtpenc e = SMTPENC_ZERO ;
  msgstart = lseek(msgfd, 0, SEEK_CUR) ;
  if (msgstart < 0) strerr_diefu1sys(111, "find the message's start on fd 0 (it must be a regular file)") ;
  msglen = msgread(msgbuf, sizeof msgbuf) ;
  smtpenc_feed(&e, msgbuf, msglen, 0) ;
  msgheld = msglen < sizeof msgbuf ;
  if (!msgheld)
  {
    char buf[CHUNK] ;
    size_t n ;
    while ((n = msgread(buf, sizeof buf))) smtpenc_feed(&e, buf, n, 0) ;
  }
  smtpenc_end(&e, 0) ;
  msgsize = e.size ;
  msg8bit = e.eightbit ;
}

/* ---- the connection: one at a time. Everything is read from rfd and written to wfd: the
   socket, or after STARTTLS the cleartext side of a tls-wrap -c child (tlspid). */

static int sock = -1, rfd = -1, wfd = -1 ;
static pid_t tlspid = 0 ;
static char inbuf[8192] ;
static size_t inpos = 0, inlen = 0 ;
static stralloc cmd = STRALLOC_ZERO ;   /* commands not yet written */
static smtpreply reply = SMTPREPLY_ZERO ;
static stralloc label = STRALLOC_ZERO ;   /* "host[ip]": who answers */
static stralloc text = STRALLOC_ZERO ;    /* a recipient's line being written */
static stralloc tried = STRALLOC_ZERO ;   /* what went wrong with each host so far */
static int temperr = 0 ;                  /* something went wrong that may go right later */

/* The session kept open after a delivery, for the next one to the same destination: the
   connection above (sock, rfd, wfd, tlspid) left open, with what is known of it. */
static int kept = 0 ;
static stralloc keptkey = STRALLOC_ZERO ;     /* its destination (mxroute_key) */
static stralloc keptlabel = STRALLOC_ZERO ;   /* its label, with its TLS */
static unsigned int keptext ;                 /* what its EHLO offered */
static uint64_t keptsizemax ;
static tain keptborn ;                        /* when it connected */
static stralloc key = STRALLOC_ZERO ;         /* this delivery's destination; "" none */
static int keep = 0 ;                         /* this delivery may keep its session */

enum { IO_OK, IO_TIMEOUT, IO_EOF, IO_PROTO, IO_ERRNO } ;
static int ioerr ;     /* why the last read or write failed */
static int ioerrno ;
static int broken ;    /* a read or write failed: the connection is of no more use */

static void deadline_in (tain *d, unsigned long secs)
{
  tain_now_g() ;
  tain_addsec_g(d, (int)secs) ;
}

/* wait until fd is ready to read (or write) or the deadline passes; 1 ready, 0 not */
static int ready (int fd, int forwrite, tain const *deadline)
{
  iopause_fd x = { .fd = fd, .events = forwrite ? IOPAUSE_WRITE : IOPAUSE_READ, .revents = 0 } ;
  for (;;)
  {
    int r = iopause_g(&x, 1, deadline) ;
    if (r > 0) return 1 ;
    if (!r) { ioerr = IO_TIMEOUT ; broken = 1 ; return 0 ; }
    if (errno != EINTR) strerr_diefu1sys(111, "iopause") ;
  }
}

static int conn_write (char const *s, size_t len, unsigned long secs)
{
  tain deadline ;
  deadline_in(&deadline, secs) ;
  while (len)
  {
    ssize_t w = write(wfd, s, len) ;
    if (w > 0) { s += w ; len -= (size_t)w ; continue ; }
    if (w < 0 && errno == EINTR) continue ;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { if (!ready(wfd, 1, &deadline)) return 0 ; continue ; }
    ioerr = IO_ERRNO ; ioerrno = errno ; broken = 1 ;
    return 0 ;
  }
  return 1 ;
}

static void cmd_add (char const *s)
{
  if (!stralloc_cats(&cmd, s)) die_nomem() ;
}

static int cmd_flush (void)
{
  int r = conn_write(cmd.s, cmd.len, timeoutremote) ;
  cmd.len = 0 ;
  return r ;
}

/* the next reply into reply; 1, or 0 with ioerr set */
static int conn_reply (unsigned long secs)
{
  tain deadline ;
  deadline_in(&deadline, secs) ;
  smtpreply_reset(&reply) ;
  for (;;)
  {
    if (inpos < inlen)
    {
      size_t used ;
      int r = smtpreply_feed(&reply, inbuf + inpos, inlen - inpos, &used) ;
      inpos += used ;
      if (r > 0) return 1 ;
      if (r < 0) { if (errno == ENOMEM) die_nomem() ; ioerr = IO_PROTO ; broken = 1 ; return 0 ; }
    }
    if (!ready(rfd, 0, &deadline)) return 0 ;
    {
      ssize_t r = read(rfd, inbuf, sizeof inbuf) ;
      if (r < 0)
      {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue ;
        ioerr = IO_ERRNO ; ioerrno = errno ; broken = 1 ;
        return 0 ;
      }
      if (!r) { ioerr = IO_EOF ; broken = 1 ; return 0 ; }
      inpos = 0 ; inlen = (size_t)r ;
    }
  }
}

static void conn_close (void)
{
  if (sock >= 0) fd_close(sock) ;
  if (rfd >= 0 && rfd != sock) fd_close(rfd) ;
  if (tlspid > 0)
  {
    /* it sends close_notify and exits once its side is closed (its -t bounds the wait) */
    int wstat ;
    while (waitpid(tlspid, &wstat, 0) < 0 && errno == EINTR) ;
    tlspid = 0 ;
  }
  sock = rfd = wfd = -1 ;
  inpos = inlen = 0 ;
  cmd.len = 0 ;
  broken = 0 ;
  kept = 0 ;
}

/* connect to ip:port within timeoutconnect, from control/outgoingip if it has an address
   of that family; 1, or 0 with text saying why not */
static int conn_open (char const *ip, int is6, uint16_t port)
{
  struct sockaddr_storage ss ;
  socklen_t len ;
  tain deadline ;
  int e = 0 ;
  socklen_t elen = sizeof e ;
  char const *why = 0 ;
  memset(&ss, 0, sizeof ss) ;
  sock = socket(is6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) ;
  if (sock < 0) { e = errno ; goto err ; }
  if (is6 ? hasout6 : hasout4)
  {
    if (is6)
    {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss ;
      s6->sin6_family = AF_INET6 ; memcpy(&s6->sin6_addr, outip6, 16) ; len = sizeof *s6 ;
    }
    else
    {
      struct sockaddr_in *s4 = (struct sockaddr_in *)&ss ;
      s4->sin_family = AF_INET ; memcpy(&s4->sin_addr, outip4, 4) ; len = sizeof *s4 ;
    }
    if (bind(sock, (struct sockaddr *)&ss, len) < 0) { e = errno ; why = "unable to bind to control/outgoingip: " ; goto err ; }
    memset(&ss, 0, sizeof ss) ;
  }
  if (is6)
  {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss ;
    s6->sin6_family = AF_INET6 ; s6->sin6_port = htons(port) ; memcpy(&s6->sin6_addr, ip, 16) ; len = sizeof *s6 ;
  }
  else
  {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss ;
    s4->sin_family = AF_INET ; s4->sin_port = htons(port) ; memcpy(&s4->sin_addr, ip, 4) ; len = sizeof *s4 ;
  }
  if (connect(sock, (struct sockaddr *)&ss, len) < 0)
  {
    if (errno != EINPROGRESS) { e = errno ; goto err ; }
    deadline_in(&deadline, timeoutconnect) ;
    if (!ready(sock, 1, &deadline)) { e = ETIMEDOUT ; goto err ; }
    if (getsockopt(sock, SOL_SOCKET, SO_ERROR, &e, &elen) < 0) e = errno ;
    if (e) goto err ;
  }
  rfd = wfd = sock ;
  tain_now_g() ;
  keptborn = STAMP ;
  return 1 ;
 err:
  conn_close() ;
  text.len = 0 ;
  if (!stralloc_copy(&text, &label) || !stralloc_cats(&text, ": ")
   || (why && !stralloc_cats(&text, why))
   || !stralloc_cats(&text, e == ECONNREFUSED ? "connection refused" : e == ETIMEDOUT ? "connection timed out" : strerror(e)))
    die_nomem() ;
  return 0 ;
}

/* text = why there is no reply to stage (after a failed conn_reply or write) */
static void text_ioerr (char const *stage, int writing)
{
  text.len = 0 ;
  if (!stralloc_copy(&text, &label) || !stralloc_cats(&text, ": ")) die_nomem() ;
  if (writing)
  {
    if (!stralloc_cats(&text, "unable to send ") || !stralloc_cats(&text, stage) || !stralloc_cats(&text, ": ")
     || !stralloc_cats(&text, ioerr == IO_TIMEOUT ? "timed out" : strerror(ioerrno))) die_nomem() ;
    return ;
  }
  if (ioerr == IO_PROTO)
  {
    if (!stralloc_cats(&text, strcmp(stage, "greeting") ? "malformed reply to " : "malformed ")
     || !stralloc_cats(&text, stage)) die_nomem() ;
    return ;
  }
  if (!stralloc_cats(&text, strcmp(stage, "greeting") ? "no reply to " : "no ") || !stralloc_cats(&text, stage)
   || !stralloc_cats(&text, ": ")
   || !stralloc_cats(&text, ioerr == IO_TIMEOUT ? "timed out" : ioerr == IO_EOF ? "connection closed" : strerror(ioerrno)))
    die_nomem() ;
}

/* text = "host[ip] said: <reply>", then " (in reply to stage)" or " (greeting)" unless
   stage is 0 */
static void text_said (char const *stage)
{
  text.len = 0 ;
  if (!stralloc_copy(&text, &label) || !stralloc_cats(&text, " said: ")
   || !smtpreply_text(&text, &reply, TEXTMAX - (text.len < TEXTMAX / 2 ? text.len : TEXTMAX / 2))) die_nomem() ;
  if (stage && (!stralloc_cats(&text, strcmp(stage, "greeting") ? " (in reply to " : " (")
   || !stralloc_cats(&text, stage) || !stralloc_cats(&text, ")")))
    die_nomem() ;
}

/* the host failed as a whole: remember why, for the lines if no other host does better */
static void host_failed (int temporary)
{
  if (temporary) temperr = 1 ;
  if (tried.len && !stralloc_cats(&tried, "; ")) die_nomem() ;
  if (!stralloc_catb(&tried, text.s, text.len)) die_nomem() ;
}

/* send QUIT, unless the connection is broken, and wait a little for its reply; close */
static void conn_quit (int wait)
{
  cmd.len = 0 ;
  if (!broken)
  {
    cmd_add("QUIT\r\n") ;
    if (cmd_flush() && wait) (void)conn_reply(timeoutremote < QUITWAIT ? timeoutremote : QUITWAIT) ;
  }
  conn_close() ;
}

/* ---- the data */

static char databuf[2 * SMTPENC_MAX(CHUNK)] ;
static size_t datalen ;

/* encode in[0..len) (len <= CHUNK) after what databuf holds, writing it first if it could
   not take the encoding; 1, or 0 with ioerr set */
static int data_add (smtpenc *e, char const *in, size_t len)
{
  if (datalen + SMTPENC_MAX(len) > sizeof databuf)
  {
    if (!conn_write(databuf, datalen, timeoutremote)) return 0 ;
    datalen = 0 ;
  }
  datalen += smtpenc_feed(e, in, len, databuf + datalen) ;
  return 1 ;
}

/* send the message, encoded, and the final dot: a small message in one write; 1, or 0
   with ioerr set */
static int send_data (void)
{
  smtpenc e = SMTPENC_ZERO ;
  size_t n ;
  datalen = 0 ;
  if (msgheld)
  {
    size_t i ;
    for (i = 0 ; i < msglen ; i += n)
    {
      n = msglen - i < CHUNK ? msglen - i : CHUNK ;
      if (!data_add(&e, msgbuf + i, n)) return 0 ;
    }
  }
  else
  {
    if (lseek(msgfd, msgstart, SEEK_SET) < 0) strerr_diefu1sys(111, "seek back to the message's start") ;
    while ((n = msgread(msgbuf, CHUNK)))
      if (!data_add(&e, msgbuf, n)) return 0 ;
  }
  if (!data_add(&e, "", 0)) return 0 ;   /* room for the end */
  datalen += smtpenc_end(&e, databuf + datalen) ;
  return conn_write(databuf, datalen, timeoutremote) ;
}

/* ---- one SMTP session */

enum { A_NEXT, A_DONE, A_CLEAR } ;

/* STARTTLS (RFC 3207), after a successful EHLO with what the server offers. Only tls-wrap
   links a TLS library: a tls-wrap -c child holds the TLS side of the socket, and rfd/wfd
   become the cleartext side of a socket pair to it. Opportunistic: a server that does not
   offer STARTTLS, or refuses it, gets the mail in clear; one whose handshake fails gets a
   new connection in clear (A_CLEAR), as Postfix's "may". For a domain of
   control/tlsdestinations every one of those is a host not to use (A_NEXT, text set): TLS
   with a certificate that chains to a trusted CA and names what it must, or no delivery.
   Then EHLO again, updating *ext and *sizemax. A_DONE: go on with this server. */
static int tls_start (char const *host, unsigned int *ext, uint64_t *sizemax, int clear)
{
  int ctl[2], plain[2] ;
  char buf[1024] ;
  size_t len = 0 ;
  if (clear && !tlsrequired) return A_DONE ;
  if (!(*ext & SMTPEHLO_STARTTLS))
  {
    if (!tlsrequired) return A_DONE ;
    text.len = 0 ;
    if (!stralloc_copy(&text, &label) || !stralloc_cats(&text, " does not offer STARTTLS, which control/tlsdestinations requires for ")
     || !stralloc_cats(&text, domain)) die_nomem() ;
    return A_NEXT ;
  }
  cmd_add("STARTTLS\r\n") ;
  if (!cmd_flush()) { text_ioerr("STARTTLS", 1) ; return A_NEXT ; }
  if (!conn_reply(timeoutremote)) { text_ioerr("STARTTLS", 0) ; return A_NEXT ; }
  if (reply.code != 220)
  {
    if (!tlsrequired && reply.code / 100 != 2 && reply.code != 421) return A_DONE ;   /* in clear, then */
    text_said("STARTTLS") ;
    return A_NEXT ;
  }
  if (inpos < inlen)
  {
    /* text after the 220, before the handshake: an attacker's, or a confused server's */
    text.len = 0 ;
    if (!stralloc_copy(&text, &label) || !stralloc_cats(&text, " sent more after its 220 to STARTTLS")) die_nomem() ;
    broken = 1 ;
    return A_NEXT ;
  }
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0
   || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, plain) < 0)
    strerr_diefu1sys(111, "create a socket pair") ;
  tlspid = fork() ;
  if (tlspid < 0) strerr_diefu1sys(111, "fork") ;
  if (!tlspid)
  {
    char const *argv[8 + 2 * 8] ;
    char fmt[UINT_FMT + 8] ;
    unsigned int n = 0 ;
    size_t i ;
    /* out of the way of 0, 1, 3, 6 and 7 first */
    int s = fcntl(sock, F_DUPFD, 10), p = fcntl(plain[1], F_DUPFD, 10), c = fcntl(ctl[1], F_DUPFD, 10) ;
    if (s < 0 || p < 0 || c < 0 || fd_copy(6, s) < 0 || fd_copy(7, s) < 0 || fd_copy(0, p) < 0 || fd_copy(1, p) < 0
     || fd_copy(3, c) < 0) _exit(111) ;
    signal(SIGPIPE, SIG_DFL) ;
    argv[n++] = "tls-wrap" ; argv[n++] = "-c" ;
    argv[n++] = "-t" ;
    fmt[ulong_fmt(fmt, timeoutremote)] = 0 ;
    argv[n++] = fmt ;
    if (host) { argv[n++] = "-n" ; argv[n++] = host ; }
    if (tlsrequired)
    {
      argv[n++] = "-V" ;
      if (tlscafile.len && tlscafile.s[0]) { argv[n++] = "-A" ; argv[n++] = tlscafile.s ; }
      for (i = 0 ; i < tlsnames.len && n + 3 < sizeof argv / sizeof *argv ; i += strlen(tlsnames.s + i) + 1)
      { argv[n++] = "-m" ; argv[n++] = tlsnames.s + i ; }
    }
    argv[n] = 0 ;
    if (setenv("SSLCTLFD", "3", 1) < 0) _exit(111) ;
    execvp(argv[0], (char *const *)argv) ;
    _exit(127) ;
  }
  close(ctl[1]) ; close(plain[1]) ;
  /* "VAR=value\0...\0", SSL_ERROR=why when it failed; nothing when it could not run */
  {
    tain deadline ;
    deadline_in(&deadline, timeoutremote + 5) ;
    while (len < 2 || buf[len - 1] || buf[len - 2])
    {
      ssize_t r ;
      if (len == sizeof buf || !ready(ctl[0], 0, &deadline)) { len = 0 ; break ; }
      r = read(ctl[0], buf + len, sizeof buf - len) ;
      if (r > 0) { len += (size_t)r ; continue ; }
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue ;
      len = 0 ;
      break ;
    }
  }
  close(ctl[0]) ;
  rfd = wfd = plain[0] ;
  if (ndelay_on(plain[0]) < 0) strerr_diefu1sys(111, "set a socket non-blocking") ;
  if (!len || !strncmp(buf, "SSL_ERROR=", 10))
  {
    text.len = 0 ;
    if (!stralloc_copy(&text, &label) || !stralloc_cats(&text, ": TLS handshake failed: ")
     || !stralloc_cats(&text, len ? buf + 10 : "tls-wrap did not run")) die_nomem() ;
    broken = 1 ;
    return tlsrequired ? A_NEXT : A_CLEAR ;
  }
  {
    char const *proto = 0 ;
    size_t i = 0 ;
    for (i = 0 ; i < len && buf[i] ; i += strlen(buf + i) + 1)
      if (!strncmp(buf + i, "SSL_PROTOCOL=", 13)) proto = buf + i + 13 ;
    if (!stralloc_cats(&label, " (") || !stralloc_cats(&label, proto ? proto : "TLS") || !stralloc_cats(&label, ")")) die_nomem() ;
  }
  /* RFC 3207 4.2: what the server said before means nothing now */
  cmd_add("EHLO ") ; cmd_add(helohost.s) ; cmd_add("\r\n") ;
  if (!cmd_flush()) { text_ioerr("EHLO", 1) ; return A_NEXT ; }
  if (!conn_reply(timeoutremote)) { text_ioerr("EHLO", 0) ; return A_NEXT ; }
  if (reply.code / 100 != 2) { text_said("EHLO") ; return A_NEXT ; }
  *sizemax = 0 ;
  *ext = smtpclient_ehlo(&reply, sizemax) ;
  return A_DONE ;
}

/* what was sent and awaits its reply, in order */
enum { W_MAIL, W_RCPT, W_DATA } ;
typedef struct wait_s wait_t ;
struct wait_s { unsigned char what ; unsigned int i ; } ;
static wait_t waits[BATCH + 2] ;
static unsigned int nwaits ;

/* the state of a transaction */
static int mailcode, datacode ;
static unsigned int naccepted ;
static stralloc mailtext = STRALLOC_ZERO ;

static char const *stage_of (unsigned char what)
{
  return what == W_MAIL ? "MAIL FROM" : what == W_RCPT ? "RCPT TO" : "DATA" ;
}

static void wait_add (unsigned char what, unsigned int i)
{
  waits[nwaits].what = what ; waits[nwaits].i = i ; nwaits++ ;
}

/* Write the commands that wait, read their replies. 1, or 0 when the session broke
   (text set; the replies not read are lost). */
static int exchange (void)
{
  unsigned int k ;
  if (!nwaits) return 1 ;
  if (!cmd_flush()) { text_ioerr(stage_of(waits[0].what), 1) ; nwaits = 0 ; return 0 ; }
  for (k = 0 ; k < nwaits ; k++)
  {
    wait_t const *w = waits + k ;
    if (!conn_reply(timeoutremote)) { text_ioerr(stage_of(w->what), 0) ; nwaits = 0 ; return 0 ; }
    if (reply.code == 421) { text_said(stage_of(w->what)) ; broken = 1 ; nwaits = 0 ; return 0 ; }
    switch (w->what)
    {
      case W_MAIL :
        mailcode = (int)reply.code ;
        if (reply.code / 100 != 2)
        {
          text_said("MAIL FROM") ;
          if (!stralloc_copy(&mailtext, &text)) die_nomem() ;
        }
        break ;
      case W_RCPT :
        if (mailcode / 100 != 2) break ;   /* it means nothing then */
        if (reply.code / 100 == 2) { rstate[w->i] = R_ACCEPTED ; naccepted++ ; break ; }
        text_said("RCPT TO") ;
        report(w->i, reply.code / 100 == 5 ? "failure" : "deferral", text.s, text.len) ;
        break ;
      case W_DATA :
        datacode = (int)reply.code ;
        if (datacode != 354) text_said("DATA") ;
        break ;
    }
  }
  nwaits = 0 ;
  return 1 ;
}

static void cmd_path (char const *verb, char const *addr)
{
  cmd_add(verb) ;
  if (!smtpclient_path(&cmd, addr)) die_nomem() ;
}

/* A DATA that was accepted although no recipient was (RFC 2920 3.1): an empty message,
   which the server must refuse. */
static void data_none (void)
{
  if (datacode != 354 || broken) return ;
  cmd_add(".\r\n") ;
  if (cmd_flush()) (void)conn_reply(timeoutremote) ;
}

/* What this server cannot take, settled before MAIL: a message over its SIZE, addresses
   that need SMTPUTF8 when it does not offer it. */
static void refuse_early (unsigned int ext, uint64_t sizemax)
{
  char fmt[UINT64_FMT] ;
  unsigned int i ;
  if ((ext & SMTPEHLO_SIZE) && sizemax && msgsize > sizemax)
  {
    text.len = 0 ;
    if (!stralloc_copy(&text, &label) || !stralloc_cats(&text, " takes messages of at most ")
     || !stralloc_catb(&text, fmt, uint64_fmt(fmt, sizemax)) || !stralloc_cats(&text, " bytes (SIZE); this one has ")
     || !stralloc_catb(&text, fmt, uint64_fmt(fmt, msgsize))) die_nomem() ;
    report_all(R_PENDING, "failure", text.s, text.len) ;
    return ;
  }
  if (ext & SMTPEHLO_SMTPUTF8) return ;
  text.len = 0 ;
  if (!stralloc_copy(&text, &label) || !stralloc_cats(&text, " does not offer SMTPUTF8, which a non-ASCII address needs"))
    die_nomem() ;
  for (i = 0 ; i < nrcpt ; i++)
    if (rstate[i] == R_PENDING && (smtpclient_isutf8(sender) || smtpclient_isutf8(rcpt[i])))
      report(i, "failure", text.s, text.len) ;
}

/* MAIL, RCPT..., DATA, the message, its reply. When the server offers PIPELINING they go
   in one write (BATCH recipients at most per write), else one command at a time. A_DONE,
   or A_NEXT (text set) when the session broke before the message was all sent. */
static int transaction (unsigned int ext, uint64_t sizemax)
{
  int pipelined = !!(ext & SMTPEHLO_PIPELINING) ;
  int utf8 = 0 ;
  unsigned int i, pending = 0 ;

  refuse_early(ext, sizemax) ;
  for (i = 0 ; i < nrcpt ; i++)
    if (rstate[i] == R_PENDING) { pending++ ; if (smtpclient_isutf8(rcpt[i])) utf8 = 1 ; }
  if (!pending) return A_DONE ;

  mailcode = 0 ; datacode = 0 ; naccepted = 0 ; nwaits = 0 ;
  cmd_path("MAIL FROM:", sender) ;
  if (ext & SMTPEHLO_SIZE)
  {
    char fmt[UINT64_FMT] ;
    cmd_add(" SIZE=") ;
    if (!stralloc_catb(&cmd, fmt, uint64_fmt(fmt, msgsize))) die_nomem() ;
  }
  if (msg8bit && (ext & SMTPEHLO_8BITMIME)) cmd_add(" BODY=8BITMIME") ;
  if (utf8 || smtpclient_isutf8(sender)) cmd_add(" SMTPUTF8") ;
  cmd_add("\r\n") ;
  wait_add(W_MAIL, 0) ;
  if (!pipelined && !exchange()) goto broke ;
  for (i = 0 ; i < nrcpt && mailcode / 100 != 4 && mailcode / 100 != 5 ; i++)
  {
    if (rstate[i] != R_PENDING) continue ;
    cmd_path("RCPT TO:", rcpt[i]) ;
    cmd_add("\r\n") ;
    wait_add(W_RCPT, i) ;
    if ((!pipelined || nwaits >= BATCH) && !exchange()) goto broke ;
  }
  if (pipelined || (mailcode / 100 == 2 && naccepted))
  {
    cmd_add("DATA\r\n") ;
    wait_add(W_DATA, 0) ;
  }
  if (!exchange()) goto broke ;
  report_flush() ;
  if (mailcode / 100 != 2)
  {
    data_none() ;
    report_all(R_PENDING, mailcode / 100 == 5 ? "failure" : "deferral", mailtext.s, mailtext.len) ;
    return A_DONE ;
  }
  if (!naccepted) { data_none() ; return A_DONE ; }
  if (datacode != 354)
  {
    report_all(R_ACCEPTED, datacode / 100 == 5 ? "failure" : "deferral", text.s, text.len) ;
    return A_DONE ;
  }
  if (!send_data()) { text_ioerr("the message", 1) ; return A_NEXT ; }

  /* From here the server may have the message: no other host in this run, and no
     success without its 2xx. */
  if (!conn_reply(timeoutremote))
  {
    text_ioerr("the end of the data", 0) ;
    if (!stralloc_cats(&text, " (after the whole message was sent; it may arrive twice)")) die_nomem() ;
    report_all(R_ACCEPTED, "deferral", text.s, text.len) ;
    return A_DONE ;
  }
  text_said(reply.code / 100 == 2 ? 0 : "the end of the data") ;
  report_all(R_ACCEPTED, reply.code / 100 == 2 ? "success" : reply.code / 100 == 5 ? "failure" : "deferral", text.s, text.len) ;
  return A_DONE ;

 broke:
  /* a refused MAIL settles everything, whatever comes after it */
  if (mailcode / 100 == 4 || mailcode / 100 == 5)
  {
    report_all(R_PENDING, mailcode / 100 == 5 ? "failure" : "deferral", mailtext.s, mailtext.len) ;
    return A_DONE ;
  }
  return A_NEXT ;
}

/* A transaction is over and the connection is sound: keep it for the next delivery to this
   destination when this one may, else QUIT. */
static void session_end (unsigned int ext, uint64_t sizemax)
{
  tain age ;
  tain_now_g() ;
  tain_addsec(&age, &keptborn, SESSIONMAX) ;
  /* not a session that stopped making sense: a 421, a reply nobody asked for, its age */
  if (!keep || broken || reply.code == 421 || inpos < inlen || !key.len || !tain_less(&STAMP, &age))
  {
    conn_quit(1) ;
    return ;
  }
  if (!stralloc_copy(&keptkey, &key) || !stralloc_copy(&keptlabel, &label)) die_nomem() ;
  keptext = ext ; keptsizemax = sizemax ;
  kept = 1 ;
}

/* The kept session, if it serves this delivery's destination: RSET, then the transaction.
   A_DONE, or A_NEXT when there was none, or it turned out dead before the message was all
   sent: closed then, and not a failure of the host (a new connection follows). */
static int reuse (void)
{
  unsigned int i ;
  int r ;
  if (!kept) return A_NEXT ;
  if (!key.len || strcmp(keptkey.s, key.s)) { conn_quit(1) ; return A_NEXT ; }
  kept = 0 ;
  if (!stralloc_copy(&label, &keptlabel)) die_nomem() ;
  cmd_add("RSET\r\n") ;
  if (!cmd_flush() || !conn_reply(timeoutremote < RSETWAIT ? timeoutremote : RSETWAIT) || reply.code / 100 != 2)
  {
    if (!broken && reply.code != 421) conn_quit(0) ; else conn_close() ;
    return A_NEXT ;
  }
  r = transaction(keptext, keptsizemax) ;
  report_flush() ;
  if (r == A_DONE) { session_end(keptext, keptsizemax) ; return A_DONE ; }
  for (i = 0 ; i < nrcpt ; i++) if (rstate[i] == R_ACCEPTED) rstate[i] = R_PENDING ;
  conn_close() ;
  return A_NEXT ;
}

/* one session with host (a name; 0 when the address was given) at ip:port; clear: no
   STARTTLS (a handshake with it failed) */
static int attempt1 (char const *host, char const *ip, int is6, uint16_t port, int clear)
{
  int isip = !host ;
  char iptext[INET6_ADDRSTRLEN] ;
  unsigned int ext = 0 ;
  uint64_t sizemax = 0 ;
  int r ;
  inet_ntop(is6 ? AF_INET6 : AF_INET, ip, iptext, sizeof iptext) ;
  label.len = 0 ;
  if ((!isip && !stralloc_cats(&label, host)) || !stralloc_catb(&label, "[", 1) || !stralloc_cats(&label, iptext)
   || !stralloc_catb(&label, "]", 1)) die_nomem() ;
  if (!conn_open(ip, is6, port)) { host_failed(1) ; return A_NEXT ; }

  /* a greeting other than 220, 5xx included, is a host not to use now (RFC 5321 3.1 lets a
     server greet with 554 and mean it; another MX may be willing) */
  if (!conn_reply(timeoutremote)) { text_ioerr("greeting", 0) ; goto next ; }
  if (reply.code != 220) { text_said("greeting") ; goto quitnext ; }

  cmd_add("EHLO ") ; cmd_add(helohost.s) ; cmd_add("\r\n") ;
  if (!cmd_flush()) { text_ioerr("EHLO", 1) ; goto next ; }
  if (!conn_reply(timeoutremote)) { text_ioerr("EHLO", 0) ; goto next ; }
  if (reply.code / 100 == 2)
  {
    ext = smtpclient_ehlo(&reply, &sizemax) ;
    r = tls_start(host, &ext, &sizemax, clear) ;
    if (r == A_CLEAR) { conn_close() ; return A_CLEAR ; }
    if (r == A_NEXT) goto quitnext ;
  }
  else
  {
    if (reply.code == 421) { text_said("EHLO") ; goto next ; }
    if (tlsrequired)
    {
      text_said("EHLO") ;
      if (!stralloc_cats(&text, "; STARTTLS, which control/tlsdestinations requires, needs EHLO")) die_nomem() ;
      goto quitnext ;
    }
    cmd_add("HELO ") ; cmd_add(helohost.s) ; cmd_add("\r\n") ;
    if (!cmd_flush()) { text_ioerr("HELO", 1) ; goto next ; }
    if (!conn_reply(timeoutremote)) { text_ioerr("HELO", 0) ; goto next ; }
    if (reply.code / 100 != 2) { text_said("HELO") ; goto quitnext ; }
  }

  r = transaction(ext, sizemax) ;
  report_flush() ;
  if (r == A_NEXT)
  {
    unsigned int i ;
    for (i = 0 ; i < nrcpt ; i++) if (rstate[i] == R_ACCEPTED) rstate[i] = R_PENDING ;
    goto next ;
  }
  session_end(ext, sizemax) ;
  return A_DONE ;

 quitnext:
  conn_quit(0) ;
  host_failed(1) ;
  return A_NEXT ;
 next:
  conn_close() ;
  host_failed(1) ;
  return A_NEXT ;
}

static int attempt (char const *host, char const *ip, int is6, uint16_t port)
{
  int r = attempt1(host, ip, is6, port, 0) ;
  return r == A_CLEAR ? attempt1(host, ip, is6, port, 1) : r ;
}

/* ---- routing */

static unsigned int attempts = 0 ;

/* DNS will be asked: $DNSCACHEIP (or resolv.conf) must be usable, a local problem if not */
static void dns_check (void)
{
  static int checked = 0 ;
  dns_server srv ;
  if (checked) return ;
  if (!dns_server_get(&srv))
  {
    if (getenv("DNSCACHEIP")) strerr_diefu2sys(111, "use $DNSCACHEIP ", getenv("DNSCACHEIP")) ;
    strerr_diefu1sys(111, "read /etc/resolv.conf") ;
  }
  checked = 1 ;
}

/* Try the addresses of host in turn, until one settles the delivery. A_DONE or A_NEXT.
   A host without an address is a permanent problem for an MX, a temporary one for a relay
   named in control/smtproutes (the administrator's to fix; no mail is lost meanwhile). */
static int try_host (char const *host, uint16_t port, int relay)
{
  stralloc ips = STRALLOC_ZERO ;
  tain deadline ;
  size_t i ;
  int r ;
  dns_check() ;
  deadline_in(&deadline, timeoutconnect) ;
  r = dns_ip46(&ips, host, &deadline) ;
  if (r <= 0)
  {
    int e = errno ;
    text.len = 0 ;
    if (!stralloc_cats(&text, host) || !stralloc_cats(&text, ": ")
     || !stralloc_cats(&text, r ? "DNS lookup of its address failed: " : "it has no address (DNS)")
     || (r && !stralloc_cats(&text, e == ETIMEDOUT ? "timed out" : e == EAGAIN ? "server failure" : strerror(e))))
      die_nomem() ;
    host_failed(relay || (r < 0 && e != EINVAL)) ;
    stralloc_free(&ips) ;
    return A_NEXT ;
  }
  for (i = 0 ; i + 16 <= ips.len && attempts < MAXADDRS ; i += 16, attempts++)
  {
    static char const mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (char)0xff, (char)0xff } ;
    int is6 = !!memcmp(ips.s + i, mapped, 12) ;
    if (attempt(host, is6 ? ips.s + i : ips.s + i + 12, is6, port) == A_DONE) { stralloc_free(&ips) ; return A_DONE ; }
  }
  stralloc_free(&ips) ;
  return A_NEXT ;
}

/* every recipient still pending gets the same line */
static void settle (char const *kind, char const *s, size_t len)
{
  report_all(R_PENDING, kind, s, len) ;
}

static void settle_dns (char const *what, int e)
{
  int perm = e == EINVAL ;   /* the server is known to be fine: the name was bad */
  text.len = 0 ;
  if (!stralloc_cats(&text, "DNS lookup of the ") || !stralloc_cats(&text, what) || !stralloc_cats(&text, " of ")
   || !stralloc_cats(&text, domain) || !stralloc_cats(&text, " failed: ")
   || !stralloc_cats(&text, e == ETIMEDOUT ? "timed out" : e == EAGAIN ? "server failure" : e == EINVAL ? "not a valid domain name" : strerror(e)))
    die_nomem() ;
  settle(perm ? "failure" : "deferral", text.s, text.len) ;
}

static void deliver (void)
{
  mxroute route ;
  unsigned int badline ;
  uint16_t port = 25 ;
  int r = mxroute_lookup(&route, routes.s, routes.len, domain, &badline) ;
  if (r < 0)
  {
    char fmt[UINT_FMT] ;
    fmt[uint_fmt(fmt, badline)] = 0 ;
    strerr_diefu6x(111, "use ", control_root(), "/control/smtproutes line ", fmt, ": ", "not domain:relay or domain:relay:port") ;
  }
  if (r && route.port) port = route.port ;
  if (r && route.isip)
  {
    if (attempt(0, route.ip, route.is6, port) == A_DONE) return ;
  }
  else if (r && route.host[0])
  {
    if (try_host(route.host, port, 1) == A_DONE) return ;
  }
  else
  {
    char ip[16] ;
    int is6 ;
    if (mxroute_literal(ip, &is6, domain, strlen(domain)))
    {
      if (attempt(0, ip, is6, port) == A_DONE) return ;
    }
    else
    {
      static stralloc mx = STRALLOC_ZERO, names = STRALLOC_ZERO ;
      tain deadline ;
      int n ;
      dns_check() ;
      deadline_in(&deadline, timeoutconnect) ;
      r = dns_mx(&mx, domain, &deadline) ;
      if (r < 0) { settle_dns("MX records", errno) ; return ; }
      if (!r)
      {
        /* no MX: the domain's own addresses (the implicit MX, RFC 5321 5.1) */
        stralloc ips = STRALLOC_ZERO ;
        deadline_in(&deadline, timeoutconnect) ;
        r = dns_ip46(&ips, domain, &deadline) ;
        stralloc_free(&ips) ;
        if (r < 0) { settle_dns("addresses", errno) ; return ; }
        if (!r)
        {
          text.len = 0 ;
          if (!stralloc_cats(&text, domain) || !stralloc_cats(&text, " has no MX record and no address (DNS)")) die_nomem() ;
          settle("failure", text.s, text.len) ;
          return ;
        }
        if (try_host(domain, port, 0) == A_DONE) return ;
      }
      else
      {
        size_t i ;
        n = mxroute_order(&names, mx.s, mx.len) ;
        if (n < 0) { if (errno == ENOMEM) die_nomem() ; settle_dns("MX records", errno) ; return ; }
        if (!n)
        {
          text.len = 0 ;
          if (!stralloc_cats(&text, domain) || !stralloc_cats(&text, " accepts no mail (null MX, RFC 7505)")) die_nomem() ;
          settle("failure", text.s, text.len) ;
          return ;
        }
        for (i = 0 ; i < names.len && attempts < MAXADDRS ; i += strlen(names.s + i) + 1)
          if (try_host(names.s + i, port, 0) == A_DONE) return ;
      }
    }
  }
  /* no host settled it */
  text.len = 0 ;
  if (!stralloc_cats(&text, "no host took the message: ") || !stralloc_catb(&text, tried.s, tried.len)) die_nomem() ;
  if (text.len > TEXTMAX) { text.len = TEXTMAX - 3 ; if (!stralloc_cats(&text, "...")) die_nomem() ; }
  settle(temperr ? "deferral" : "failure", text.s, text.len) ;
}

/* ---- the arguments */

static int hascontrol (char const *s)
{
  for (; *s ; s++) if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1 ;
  return 0 ;
}

static int badhost (char const *s)
{
  if (!*s) return 1 ;
  for (; *s ; s++) if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '@' || *s == '<' || *s == '>') return 1 ;
  return 0 ;
}

static int atdomain (char const *addr, char const *dom)
{
  size_t len = strlen(addr), dlen = strlen(dom), i ;
  if (len < dlen + 2 || addr[len - dlen - 1] != '@') return 0 ;
  for (i = 0 ; i < dlen ; i++)
  {
    char a = addr[len - dlen + i], b = dom[i] ;
    if (a >= 'A' && a <= 'Z') a += 'a' - 'A' ;
    if (b >= 'A' && b <= 'Z') b += 'a' - 'A' ;
    if (a != b) return 0 ;
  }
  return 1 ;
}

int remotedeliver_check (char const *dom, char const *from, char const *const *to, unsigned int n)
{
  char const *at = strrchr(from, '@') ;
  unsigned int i ;
  if (!n || n > REMOTEDELIVER_RCPTMAX || badhost(dom) || hascontrol(from) || (at && badhost(at + 1))) return 0 ;
  for (i = 0 ; i < n ; i++) if (hascontrol(to[i]) || !atdomain(to[i], dom)) return 0 ;
  return 1 ;
}

void remotedeliver_run (int fd, char const *dom, char const *from, char const *const *to, unsigned int n, int maykeep)
{
  domain = dom ; sender = from ; rcpt = to ; nrcpt = n ;
  memset(rstate, R_PENDING, n) ;
  tried.len = 0 ; temperr = 0 ; attempts = 0 ; line.len = 0 ;
  keep = maykeep ;
  msgfd = fd ;
  tls_policy() ;
  key.len = 0 ;
  if (mxroute_key(&key, routes.s, routes.len, tlslines.s, tlslines.len, domain) < 0) die_nomem() ;
  msgscan() ;
  if (reuse() != A_DONE) deliver() ;
  report_flush() ;
}

char const *remotedeliver_session (void)
{
  return kept ? keptkey.s : "" ;
}

int remotedeliver_sessionfd (void)
{
  return kept ? rfd : -1 ;
}

void remotedeliver_idleread (void)
{
  char buf[512] ;
  ssize_t r ;
  if (!kept) return ;
  r = read(rfd, buf, sizeof buf) ;
  if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return ;
  /* the end of the connection, or what a server says before it ends it (421): either way
     the session is over */
  conn_close() ;
}

void remotedeliver_quit (void)
{
  if (kept) conn_quit(1) ;
}
