/* smtpd: speak SMTP (RFC 5321) on fd 0/1 under tcpsrv and hand each accepted message to the
   queue through the qmail-queue interface; AUTH PLAIN/LOGIN through a checkpassword program. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <cdb.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/sgetopt.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "control.h"
#include "logtext.h"
#include "qqueue.h"
#include "resident.h"
#include "date822.h"
#include "smtpauth.h"
#include "smtpcmd.h"
#include "smtpdata.h"
#include "smtppolicy.h"
#include "ucspitls.h"
#include "userdb.h"

#define USAGE "smtpd [ checkpassword prog... ]"
#define dieusage() strerr_dieusage(100, USAGE)

#define MAXHOPS 100          /* Received:/Delivered-To: lines before a message is a loop */
#define LOGMAX 256           /* longest piece of client text in a log line */

static char const *const *authprog = 0 ;   /* the checkpassword program: for the process */
static int resident_mode = 0 ;             /* a resident worker of tcpsrv -w */
static int resident_fds = 0 ;              /* descriptors this connection brought on 3... */

/* Everything a session knows, in one place: the control files and the environment as read
   for this connection, the client's state, the transaction, the buffers. A resident smtpd
   (tcpsrv -w) wipes it whole between connections (session_wipe): nothing of one client
   reaches the next, not even what a later change to this file forgets to reset. */
static struct session_s
{
  /* every stralloc of the session, and nothing else: session_wipe frees them all */
  struct
  {
    /* configuration: control files and environment, read once per connection */
    stralloc me, greeting, liphost, rcpthosts, badmailfrom, tlsproto, tlscipher ;
    /* the client and the transaction */
    stralloc helo, authuser, sender, envelope, rcptlog, addr, logsa, tmp ;
    /* AUTH: the client's answers, the login and password, the checkpassword input */
    stralloc authresp, authlogin, authpass, authin ;
  } sa ;
  struct cdb mrh ;
  int hasmrh ;
  unsigned long databytes, timeoutsec, maxrcpt, maxbad, sessionsec, datarate ;
  char const *relayclient, *remoteip, *remotehost, *remoteinfo, *localip, *rblsmtpd ;
  int requireauth, tls ;
  /* UCSPI-TLS (tls-wrap -s): STARTTLS is offered while ctlfd >= 0; authtls: AUTH only over TLS */
  int ctlfd, sslrfd, sslwfd, authtls ;
  int seenhelo, esmtp, authed ;
  unsigned long badcmds ;
  int inmail, smtputf8 ;
  unsigned long nrcpt ;
  qqueue qq ;           /* the queue program of the message being received */
  /* Deadlines beyond timeoutsmtpd's, which bounds each read and write: the whole session
     ends at sessiondeadline (control/timeoutsession); a DATA command and its text end at
     datadeadline, timeoutsmtpd after the command plus one second per control/mindatarate
     bytes received since, so that a client sending one byte at a time cannot hold a slot. */
  tain sessiondeadline, datastart, datadeadline, lastread ;
  uint64_t datain ;     /* bytes read since the DATA command */
  int indata ;
  /* The users database (mail-users(5)): its domains are ours, and an address there that
     is no recipient is refused at RCPT. Opened at the first recipient, kept for the session. */
  userdb udb ;
  int udbopen ;         /* 0 not yet (or it failed: tried again), 1 open, 2 there is none */
  int quit ;            /* QUIT answered: the session is over */
  /* I/O with the client: replies are buffered and flushed before every read that would
     block, which is what PIPELINING (RFC 2920) needs */
  size_t inpos, inlen, outlen ;
  smtpline line ;
  char inbuf[16384] ;
  char outbuf[8192] ;
  /* the message goes to the queue in pieces of up to 64 KiB, with room to frame them */
  char qbuf[QQUEUE_HEADROOM + 65536 + QQUEUE_TAILROOM] ;
} S ;
typedef char session_sa_is_strallocs[sizeof S.sa % sizeof (stralloc) ? -1 : 1] ;
static volatile sig_atomic_t qqkilled = 0 ;

/* Forget what sa held: overwritten, then freed. */
static void sa_wipe (stralloc *sa)
{
  if (sa->s) explicit_bzero(sa->s, sa->a) ;
  stralloc_free(sa) ;
}

/* A session's start: nothing known, no descriptor held. */
static void session_init (void)
{
  static qqueue const qqzero = QQUEUE_ZERO ;
  static smtpline const linezero = SMTPLINE_ZERO ;
  static userdb const udbzero = USERDB_ZERO ;
  S.qq = qqzero ;
  S.line = linezero ;
  S.udb = udbzero ;
  S.ctlfd = S.sslrfd = S.sslwfd = -1 ;
  qqkilled = 0 ;
}

/* qqueue_finish and qqueue_abort wait for the queue without a deadline: a program that hangs
   after reading everything, or that ignores SIGTERM, or a queue-injectd that never answers,
   would hold the connection for ever. An alarm of timeoutsmtpd seconds kills the program or
   interrupts the wait for the answer; the wait then returns. */
static void qqalarm (int sig)
{
  (void)sig ;
  if (S.qq.pid > 0) kill(S.qq.pid, SIGKILL) ;
  qqkilled = 1 ;
}

static void queue_abort (void)
{
  if (S.qq.pid <= 0 && S.qq.msgfd < 0 && S.qq.envfd < 0) return ;
  alarm(S.timeoutsec ? (unsigned int)S.timeoutsec : 1) ;
  qqueue_abort(&S.qq) ;
  alarm(0) ;
}

/* qqueue_finish within the deadline; 52 (timeout) when the program had to be killed */
static int queue_finish (void)
{
  int code ;
  qqkilled = 0 ;
  alarm(S.timeoutsec ? (unsigned int)S.timeoutsec : 1) ;
  code = qqueue_finish(&S.qq) ;
  alarm(0) ;
  return qqkilled ? 52 : code ;
}

static void logflush (void)
{
  if (stralloc_catb(&S.sa.logsa, "\n", 1)) allwrite(2, S.sa.logsa.s, S.sa.logsa.len) ;
  S.sa.logsa.len = 0 ;
}

static void logword (char const *word)
{
  S.sa.logsa.len = 0 ;
  if (!stralloc_cats(&S.sa.logsa, word) || !stralloc_cats(&S.sa.logsa, " ip=")
   || !logtext_cat(&S.sa.logsa, S.remoteip, strlen(S.remoteip), LOGMAX, " ")) S.sa.logsa.len = 0 ;
}

/* a log line that lacks memory loses its tail, never the whole event */
static void logtext (char const *key, char const *s, size_t len)
{
  if (stralloc_catb(&S.sa.logsa, " ", 1) && stralloc_cats(&S.sa.logsa, key))
    logtext_cat(&S.sa.logsa, s, len, LOGMAX, " ") ;
}

/* free text, last on the line: blanks kept */
static void logreason (char const *s)
{
  if (stralloc_cats(&S.sa.logsa, " reason=")) logtext_cat(&S.sa.logsa, s, strlen(s), LOGMAX, "") ;
}

static void logaddr (char const *key, char const *a)
{
  logtext(key, "<", 1) ;
  logtext_cat(&S.sa.logsa, a, strlen(a), LOGMAX, " ") ;
  stralloc_catb(&S.sa.logsa, ">", 1) ;
}

/* wait until fd can be read (or written) for at most timeoutsec, and for the client (fd 0
   or 1) not past the session's or DATA's deadline; 1 ready, 0 timed out */
static int ready (int fd, int forwrite)
{
  iopause_fd x = { .fd = fd, .events = forwrite ? IOPAUSE_WRITE : IOPAUSE_READ, .revents = 0 } ;
  tain deadline ;
  tain_now_g() ;
  tain_addsec_g(&deadline, (int)S.timeoutsec) ;
  if (fd <= 1)
  {
    if (tain_less(&S.sessiondeadline, &deadline)) deadline = S.sessiondeadline ;
    if (S.indata && S.datarate && tain_less(&S.datadeadline, &deadline)) deadline = S.datadeadline ;
  }
  for (;;)
  {
    int r = iopause_g(&x, 1, &deadline) ;
    if (r > 0) return 1 ;
    if (!r) return 0 ;
    if (errno != EINTR) { queue_abort() ; strerr_diefu1sys(111, "iopause") ; }
  }
}

/* write s[0..len) to the non-blocking fd within the timeout; 1, or 0 with errno */
static int timed_write (int fd, char const *s, size_t len)
{
  while (len)
  {
    ssize_t w = write(fd, s, len) ;
    if (w > 0) { s += w ; len -= w ; continue ; }
    if (w < 0 && errno == EINTR) continue ;
    if (w < 0 && errno == EAGAIN) { if (!ready(fd, 1)) { errno = ETIMEDOUT ; return 0 ; } continue ; }
    return 0 ;
  }
  return 1 ;
}

static void flush (void)
{
  if (S.outlen && !timed_write(1, S.outbuf, S.outlen))
  {
    int e = errno ;
    logword("end") ; logreason("client write error") ; logflush() ;
    queue_abort() ;
    errno = e ;
    strerr_diefu1sys(111, "write to the client") ;
  }
  S.outlen = 0 ;
}

static void outb (char const *s, size_t len)
{
  while (len)
  {
    size_t n = sizeof S.outbuf - S.outlen ;
    if (!n) { flush() ; continue ; }
    if (n > len) n = len ;
    memcpy(S.outbuf + S.outlen, s, n) ;
    S.outlen += n ; s += n ; len -= n ;
  }
}

static void out (char const *s) { outb(s, strlen(s)) ; }

static void closing (int e) gccattr_noreturn ;
/* the last words: a client that hung up first does not make it a failure */
static void closing (int e)
{
  queue_abort() ;
  (void)timed_write(1, S.outbuf, S.outlen) ;
  _exit(e) ;
}

/* DATA's deadline: timeoutsmtpd after the command, one more second per datarate bytes */
static void data_deadline (void)
{
  uint64_t ms = S.datarate ? S.datain * 1000 / S.datarate : 0 ;
  tain frac ;
  if (ms > (uint64_t)30 * 86400 * 1000) ms = (uint64_t)30 * 86400 * 1000 ;   /* an int of seconds */
  tain_addsec(&S.datadeadline, &S.datastart, (int)(S.timeoutsec + ms / 1000)) ;
  tain_from_millisecs(&frac, (int)(ms % 1000)) ;
  tain_add(&S.datadeadline, &S.datadeadline, &frac) ;
}

/* 0 while the session and DATA are within their deadlines, else what passed; a client
   silent for timeoutsmtpd has timed out, whatever else passed meanwhile */
static char const *deadline_passed (void)
{
  tain silent ;
  tain_now_g() ;
  if (!tain_less(&STAMP, &S.sessiondeadline)) return "session deadline" ;
  tain_addsec(&silent, &S.lastread, (int)S.timeoutsec) ;
  if (S.indata && S.datarate && !tain_less(&STAMP, &S.datadeadline) && tain_less(&STAMP, &silent)) return "data too slow" ;
  return 0 ;
}

static void timedout (void) gccattr_noreturn ;
static void timedout (void)
{
  char const *why = deadline_passed() ;
  out("421 4.4.2 ") ; out(S.sa.me.s) ;
  out(!why ? " timeout, closing connection\r\n" : why[0] == 's'
    ? " session time limit reached, closing connection\r\n"
    : " data too slow, closing connection\r\n") ;
  logword("end") ; logreason(why ? why : "timeout") ; logflush() ;
  queue_abort() ;   /* a message cut short is never queued */
  (void)timed_write(1, S.outbuf, S.outlen) ;   /* best effort: the client may be gone */
  _exit(111) ;
}

/* make input available; 0 when the client closed the connection */
static int fill (void)
{
  if (S.inpos < S.inlen) return 1 ;
  flush() ;
  if (deadline_passed()) timedout() ;   /* also for a client that never makes us wait */
  S.inpos = S.inlen = 0 ;
  for (;;)
  {
    ssize_t r = read(0, S.inbuf, sizeof S.inbuf) ;
    if (r > 0)
    {
      S.inlen = r ;
      S.lastread = STAMP ;   /* as of the check above, or of the wait that ended in this read */
      if (S.indata && S.datarate) { S.datain += (uint64_t)r ; data_deadline() ; }
      return 1 ;
    }
    if (!r) return 0 ;
    if (errno == EINTR) continue ;
    if (errno == EAGAIN) { if (!ready(0, 0)) timedout() ; continue ; }
    if (errno == ECONNRESET) return 0 ;
    queue_abort() ;
    strerr_diefu1sys(111, "read from the client") ;
  }
}

/* the client left without QUIT: not our failure */
static void client_left (void)
{
  queue_abort() ;
  if (S.inmail) { logword("end") ; logreason("client closed the connection") ; logflush() ; }
}

static void gone (void) gccattr_noreturn ;
static void gone (void)
{
  client_left() ;
  _exit(0) ;
}

/* read one command line into line; an SMTPLINE_ code */
static int getline_smtp (void)
{
  int done = 0 ;
  smtpline_reset(&S.line) ;
  while (!done)
  {
    if (!fill()) gone() ;
    S.inpos += smtpline_feed(&S.line, S.inbuf + S.inpos, S.inlen - S.inpos, &done) ;
  }
  return smtpline_finish(&S.line) ;
}

static void die_nomem (void) gccattr_noreturn ;
static void die_nomem (void)
{
  queue_abort() ;
  out("421 4.3.0 out of memory, closing connection\r\n") ;
  flush() ;
  strerr_diefu1x(111, "allocate memory") ;
}

static void transaction_reset (void)
{
  S.inmail = 0 ; S.smtputf8 = 0 ; S.nrcpt = 0 ;
  S.sa.sender.len = 0 ; S.sa.envelope.len = 0 ; S.sa.rcptlog.len = 0 ;
}

/* reply with an error ("553 5.7.1 text"); R_LOG: log it as a reject; R_COUNT: count a 5xx
   reply against the client, who is shown the door after maxbad of them */
#define R_LOG 1
#define R_COUNT 2
static void reply_error (char const *reply, char const *to, int how)
{
  out(reply) ; out("\r\n") ;
  if (how & R_LOG)
  {
    char const *reason = reply ;
    size_t k ;
    for (k = 0 ; k < 2 && reason ; k++) { reason = strchr(reason, ' ') ; if (reason) reason++ ; }
    logword("reject") ;
    logtext("code=", reply, 3) ;
    if (S.inmail) logaddr("from=", S.sa.sender.s) ;
    if (to) logaddr("to=", to) ;
    if (reason) logreason(reason) ;
    logflush() ;
  }
  if ((how & R_COUNT) && reply[0] == '5' && ++S.badcmds >= S.maxbad)
  {
    out("421 4.7.0 ") ; out(S.sa.me.s) ; out(" too many errors, closing connection\r\n") ;
    logword("end") ; logreason("too many errors") ; logflush() ;
    closing(0) ;
  }
}

static void refuse (char const *reply, char const *to)
{
  reply_error(reply, to, R_LOG | R_COUNT) ;
}

static void die_control (char const *name) gccattr_noreturn ;
static void die_control (char const *name)
{
  out("421 4.3.0 unable to read the configuration, closing connection\r\n") ;
  flush() ;
  strerr_diefu3sys(111, "read ", control_root(), name) ;
}

/* control/name as a number; 0 only when zero is allowed */
static void readnum (unsigned long *u, char const *name, unsigned long dflt, int zero)
{
  size_t n = strlen(name) ;
  char path[n + 10] ;
  memcpy(path, "/control/", 9) ;
  memcpy(path + 9, name, n + 1) ;
  if (control_readulong(u, name, dflt) < 0) die_control(path) ;
  if (!*u && !zero) { errno = EINVAL ; die_control(path) ; }
}

static void readcontrols (void)
{
  char const *s ;
  if (control_readline(&S.sa.me, "me", 0) < 0) die_control("/control/me") ;
  if (!S.sa.me.s[0])
  {
    char h[256] ;
    if (gethostname(h, sizeof h - 1) < 0) die_control("/control/me") ;
    h[sizeof h - 1] = 0 ;
    if (!stralloc_copys(&S.sa.me, h) || !stralloc_0(&S.sa.me)) die_nomem() ;
  }
  if (control_readline(&S.sa.greeting, "smtpgreeting", S.sa.me.s) < 0) die_control("/control/smtpgreeting") ;
  if (control_readline(&S.sa.liphost, "localiphost", S.sa.me.s) < 0) die_control("/control/localiphost") ;
  if (control_readlines(&S.sa.rcpthosts, "rcpthosts") < 0) die_control("/control/rcpthosts") ;
  if (control_readlines(&S.sa.badmailfrom, "badmailfrom") < 0) die_control("/control/badmailfrom") ;
  readnum(&S.databytes, "databytes", 0, 1) ;
  readnum(&S.timeoutsec, "timeoutsmtpd", 1200, 0) ;
  if (S.timeoutsec > 86400) S.timeoutsec = 86400 ;
  readnum(&S.maxrcpt, "maxrcpt", 100, 0) ;
  readnum(&S.maxbad, "maxbadcommands", 20, 0) ;
  readnum(&S.sessionsec, "timeoutsession", 3600, 0) ;
  if (S.sessionsec > 7 * 86400) S.sessionsec = 7 * 86400 ;
  readnum(&S.datarate, "mindatarate", 500, 1) ;
  s = getenv("DATABYTES") ;
  if (s && (!*s || s[ulong_scan(s, &S.databytes)]))
  {
    out("421 4.3.0 unable to read the configuration, closing connection\r\n") ;
    flush() ;
    strerr_dief2x(111, "invalid $DATABYTES: ", s) ;
  }
  {
    stralloc path = STRALLOC_ZERO ;
    int fd ;
    if (!stralloc_cats(&path, control_root()) || !stralloc_cats(&path, "/control/morercpthosts.cdb")
     || !stralloc_0(&path)) die_nomem() ;
    fd = open(path.s, O_RDONLY | O_CLOEXEC) ;
    if (fd < 0 && errno != ENOENT) die_control("/control/morercpthosts.cdb") ;
    if (fd >= 0)
    {
      if (cdb_init(&S.mrh, fd) < 0) die_control("/control/morercpthosts.cdb") ;
      S.hasmrh = 1 ;
    }
    stralloc_free(&path) ;
  }
}

static void readenv (void)
{
  S.remoteip = getenv("TCPREMOTEIP") ;
  if (!S.remoteip || !*S.remoteip) S.remoteip = "unknown" ;
  S.remotehost = getenv("TCPREMOTEHOST") ;
  S.remoteinfo = getenv("TCPREMOTEINFO") ;
  S.localip = getenv("TCPLOCALIP") ;
  S.relayclient = getenv("RELAYCLIENT") ;
  /* set after a successful AUTH only: a value from the start environment means nothing */
  unsetenv("AUTHUSER") ;
  S.rblsmtpd = getenv("RBLSMTPD") ;
  if (S.rblsmtpd && !*S.rblsmtpd) S.rblsmtpd = 0 ;
  {
    char const *s = getenv("REQUIREAUTH") ;
    S.requireauth = s && *s ;
  }
  {
    char const *s = getenv("SSL_PROTOCOL") ;
    S.tls = s && *s ;
    if (S.tls && (!stralloc_copys(&S.sa.tlsproto, s) || !stralloc_0(&S.sa.tlsproto))) die_nomem() ;
    s = getenv("SSL_CIPHER") ;
    if (S.tls && s && (!stralloc_copys(&S.sa.tlscipher, s) || !stralloc_0(&S.sa.tlscipher))) die_nomem() ;
  }
  /* tls-wrap -s; in a resident smtpd only when the connection brought the descriptors (a
     resident tls-wrap -s hands them over with it): otherwise the ones a variable could name
     are not the connection's */
  if (!S.tls && (!resident_mode || resident_fds >= 2)) ucspitls_fds(&S.ctlfd, &S.sslrfd, &S.sslwfd) ;
  {
    /* AUTH only over TLS: $AUTHTLS 1 or 0; by default on a submission port (REQUIREAUTH)
       where STARTTLS can be had */
    char const *s = getenv("AUTHTLS") ;
    if (s && *s) S.authtls = strcmp(s, "0") != 0 ;
    else S.authtls = S.requireauth && S.ctlfd >= 0 ;
  }
}

/* AUTH can be used now */
static int auth_offered (void)
{
  return authprog && (S.tls || !S.authtls) ;
}

static void smtp_greet (void)
{
  out("220 ") ; out(S.sa.greeting.s) ; out(" ESMTP\r\n") ;
}

static void smtp_helo (char const *arg, size_t len, int ext)
{
  if (!len) { refuse(ext ? "501 5.5.4 EHLO needs a domain or address literal" : "501 5.5.4 HELO needs a domain or address literal", 0) ; return ; }
  S.sa.helo.len = 0 ;
  if (!logtext_cat(&S.sa.helo, arg, len, 255, "()\\\"<>;") || !stralloc_0(&S.sa.helo)) die_nomem() ;
  /* for the queue program (auth-results checks the HELO name's SPF record); a resident
     worker's environment is the start one again at the next connection */
  if (setenv("SMTPHELO", S.sa.helo.s, 1) < 0) die_nomem() ;
  S.seenhelo = 1 ; S.esmtp = ext ;
  transaction_reset() ;
  if (!ext) { out("250 ") ; out(S.sa.me.s) ; out("\r\n") ; return ; }
  out("250-") ; out(S.sa.me.s) ; out("\r\n") ;
  out("250-PIPELINING\r\n250-8BITMIME\r\n") ;
  if (S.databytes)
  {
    char fmt[ULONG_FMT] ;
    out("250-SIZE ") ; outb(fmt, ulong_fmt(fmt, S.databytes)) ; out("\r\n") ;
  }
  else out("250-SIZE\r\n") ;
  if (S.ctlfd >= 0) out("250-STARTTLS\r\n") ;
  if (auth_offered()) out("250-AUTH PLAIN LOGIN\r\n") ;
  out("250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n") ;
}

/* 1 when the address literal "[...]" is the local address of this connection */
static int literal_is_local (char const *lit, size_t len)
{
  char a[64], b[64] ;
  unsigned char x[16], y[16] ;
  int fx, fy ;
  if (!S.localip || len < 2 || len - 2 >= sizeof a || strlen(S.localip) >= sizeof b) return 0 ;
  memcpy(a, lit + 1, len - 2) ; a[len - 2] = 0 ;
  strcpy(b, S.localip) ;
  if (!strncasecmp(a, "ipv6:", 5)) { fx = AF_INET6 ; memmove(a, a + 5, strlen(a + 5) + 1) ; }
  else fx = AF_INET ;
  if (inet_pton(fx, a, x) != 1) return 0 ;
  fy = strchr(b, ':') ? AF_INET6 : AF_INET ;
  if (inet_pton(fy, b, y) != 1) return 0 ;
  if (fx == fy) return !memcmp(x, y, fx == AF_INET ? 4 : 16) ;
  if (fx == AF_INET && fy == AF_INET6)   /* a v4-mapped local address */
    return !memcmp(y, "\0\0\0\0\0\0\0\0\0\0\377\377", 12) && !memcmp(x, y + 12, 4) ;
  return 0 ;
}

static int hostallowed (char const *domain)
{
  int r ;
  if (smtppolicy_hostlisted(S.sa.rcpthosts.s, S.sa.rcpthosts.len, domain)) return 1 ;
  if (!S.hasmrh) return 0 ;
  r = smtppolicy_hostincdb(&S.mrh, domain) ;
  if (r < 0) die_control("/control/morercpthosts.cdb") ;
  return r ;
}

static void smtp_mail (char const *arg, size_t len)
{
  int flags, r ;
  size_t pos ;
  char const *key, *val ;
  size_t keylen, vallen ;
  int utf8 = 0 ;
  if (!S.seenhelo) { refuse("503 5.5.1 send HELO or EHLO first", 0) ; return ; }
  if (S.inmail) { refuse("503 5.5.1 nested MAIL command", 0) ; return ; }
  if (S.requireauth && !S.authed) { refuse("530 5.7.0 authentication required", 0) ; return ; }
  r = smtpcmd_path(arg, len, "from", &S.sa.addr, &flags, &pos) ;
  if (r < 0) die_nomem() ;
  if (r == SMTPPATH_TOOLONG) { refuse("501 5.1.7 sender address too long", 0) ; return ; }
  if (r) { refuse("501 5.1.7 bad sender address syntax", 0) ; return ; }
  while ((r = smtpcmd_param(arg, len, &pos, &key, &keylen, &val, &vallen)) > 0)
  {
    if (!S.esmtp) { refuse("555 5.5.4 MAIL parameters need EHLO", 0) ; return ; }
    if (smtpcmd_is(key, keylen, "size") && val)
    {
      char num[32] ;
      unsigned long size ;
      size_t k ;
      if (vallen >= sizeof num) vallen = sizeof num - 1 ;
      memcpy(num, val, vallen) ; num[vallen] = 0 ;
      for (k = 0 ; k < vallen ; k++) if (num[k] < '0' || num[k] > '9') break ;
      if (k < vallen || !vallen) { refuse("501 5.5.4 bad SIZE parameter", 0) ; return ; }
      if (num[ulong_scan(num, &size)]) size = (unsigned long)-1 ;   /* too big to count */
      if (S.databytes && size > S.databytes) { refuse("552 5.3.4 message size exceeds the limit", 0) ; return ; }
    }
    else if (smtpcmd_is(key, keylen, "body") && val)
    {
      if (!smtpcmd_is(val, vallen, "7bit") && !smtpcmd_is(val, vallen, "8bitmime"))
      { refuse("555 5.5.4 unsupported BODY type", 0) ; return ; }
    }
    else if (smtpcmd_is(key, keylen, "smtputf8") && !val) utf8 = 1 ;
    else if (smtpcmd_is(key, keylen, "auth") && val) ;   /* RFC 4954 5: accepted, not trusted */
    else { refuse("555 5.5.4 unsupported MAIL parameter", 0) ; return ; }
  }
  if (r < 0) { refuse("501 5.5.4 bad MAIL parameter syntax", 0) ; return ; }
  if ((flags & SMTPPATH_UTF8) && !utf8) { refuse("553 5.6.7 non-ASCII address needs SMTPUTF8", 0) ; return ; }
  if (S.sa.addr.len && !(flags & SMTPPATH_DOMAIN)) { refuse("553 5.1.7 sender address must have a domain", 0) ; return ; }
  if (smtppolicy_badmailfrom(S.sa.badmailfrom.s, S.sa.badmailfrom.len, S.sa.addr.s))
  {
    if (!stralloc_copyb(&S.sa.sender, S.sa.addr.s, S.sa.addr.len + 1)) die_nomem() ;
    S.inmail = 1 ;   /* so that the log names the sender */
    refuse("553 5.7.1 sender address rejected (badmailfrom)", 0) ;
    transaction_reset() ;
    return ;
  }
  transaction_reset() ;
  if (!stralloc_copyb(&S.sa.sender, S.sa.addr.s, S.sa.addr.len + 1)) die_nomem() ;
  if (!qqueue_envelope_add(&S.sa.envelope, 'F', S.sa.addr.s)) die_nomem() ;
  S.inmail = 1 ; S.smtputf8 = utf8 ;
  out("250 2.1.0 ok\r\n") ;
}

/* 1 when path (under the instance root) does not exist */
static int absent (char const *path)
{
  stralloc sa = STRALLOC_ZERO ;
  int r ;
  if (!stralloc_cats(&sa, control_root()) || !stralloc_cats(&sa, path) || !stralloc_0(&sa)) die_nomem() ;
  r = access(sa.s, F_OK) < 0 && errno == ENOENT ;
  stralloc_free(&sa) ;
  return r ;
}

/* What address a is to the users database: a USERDB_RCPT_ code, or -1 when the database
   cannot be read (then nothing is known, and nothing is accepted for that reason). No
   database at all (no users/cdb, users/domains nor control/userdb) has no domains. */
static int rcpt_lookup (char const *a)
{
  char const *at = strrchr(a, '@') ;
  userdb_domain d = USERDB_DOMAIN_ZERO ;
  userdb_user u = USERDB_USER_ZERO ;
  long ext ;
  int r ;
  if (!at || at == a) return USERDB_RCPT_NODOMAIN ;
  if (!S.udbopen)
  {
    if (userdb_open(&S.udb, 0)) S.udbopen = 1 ;
    else if (errno == ENOENT && absent("/control/userdb") && absent("/users/domains")) S.udbopen = 2 ;
    else { strerr_warnwu1sys("open the user database") ; return -1 ; }
  }
  if (S.udbopen == 2) return USERDB_RCPT_NODOMAIN ;
  {
    size_t n = at - a ;
    char local[n + 1] ;
    memcpy(local, a, n) ; local[n] = 0 ;
    r = userdb_recipient(&S.udb, local, at + 1, &d, &u, &ext) ;
  }
  if (r < 0) strerr_warnwu1sys("read the user database") ;
  userdb_domain_free(&d) ; userdb_user_free(&u) ;
  return r ;
}

static void smtp_rcpt (char const *arg, size_t len)
{
  int flags, r ;
  size_t pos, keylen, vallen ;
  char const *key, *val ;
  int allowed = 0 ;
  if (!S.inmail) { refuse("503 5.5.1 send MAIL first", 0) ; return ; }
  r = smtpcmd_path(arg, len, "to", &S.sa.addr, &flags, &pos) ;
  if (r < 0) die_nomem() ;
  if (r == SMTPPATH_TOOLONG) { refuse("501 5.1.3 recipient address too long", 0) ; return ; }
  if (r || !S.sa.addr.len) { refuse("501 5.1.3 bad recipient address syntax", 0) ; return ; }
  r = smtpcmd_param(arg, len, &pos, &key, &keylen, &val, &vallen) ;
  if (r) { refuse(r < 0 ? "501 5.5.4 bad RCPT parameter syntax" : "555 5.5.4 unsupported RCPT parameter", S.sa.addr.s) ; return ; }
  if ((flags & SMTPPATH_UTF8) && !S.smtputf8) { refuse("553 5.6.7 non-ASCII address needs SMTPUTF8", S.sa.addr.s) ; return ; }
  {
    /* "v@elsewhere"@here loses its quotes in the envelope: v@elsewhere@here is one split at
       the wrong @ away from relaying to elsewhere, and nobody has such a mailbox */
    char const *at = strrchr(S.sa.addr.s, '@') ;
    if (at && memchr(S.sa.addr.s, '@', at - S.sa.addr.s))
    { refuse("553 5.1.3 an @ in the local part is not accepted", S.sa.addr.s) ; return ; }
  }
  if (S.rblsmtpd && !S.authed)
  {
    /* as rblsmtpd would refuse: "-text" permanently, "text" temporarily; a client that
       logged in is let through (a dynamic address on a block list, sending as a user) */
    int perm = S.rblsmtpd[0] == '-' ;
    char const *t = S.rblsmtpd + perm ;
    S.sa.tmp.len = 0 ;
    if (!stralloc_cats(&S.sa.tmp, perm ? "553 5.7.1 " : "451 4.7.1 ")
     || !logtext_cat(&S.sa.tmp, t, strlen(t), 200, "") || !stralloc_0(&S.sa.tmp)) die_nomem() ;
    refuse(S.sa.tmp.s, S.sa.addr.s) ;
    return ;
  }
  if (!(flags & SMTPPATH_DOMAIN))
  {
    /* RFC 5321 4.5.1: <postmaster> without a domain must be accepted */
    if (!smtpcmd_is(S.sa.addr.s, S.sa.addr.len, "postmaster")) { refuse("553 5.1.3 recipient address must have a domain", S.sa.addr.s) ; return ; }
    if (!stralloc_cats(&S.sa.addr, "@") || !stralloc_cats(&S.sa.addr, S.sa.me.s) || !stralloc_0(&S.sa.addr)) die_nomem() ;
    S.sa.addr.len-- ;
    allowed = 1 ;
  }
  else if (flags & SMTPPATH_LITERAL)
  {
    char const *d = smtppolicy_domain(S.sa.addr.s) ;
    if (literal_is_local(d, strlen(d)))
    {
      S.sa.addr.len = d - S.sa.addr.s ;
      if (!stralloc_cats(&S.sa.addr, S.sa.liphost.s) || !stralloc_0(&S.sa.addr)) die_nomem() ;
      S.sa.addr.len-- ;
    }
  }
  switch (rcpt_lookup(S.sa.addr.s))
  {
    case USERDB_RCPT_NODOMAIN : break ;
    case USERDB_RCPT_UNKNOWN :
      refuse("550 5.1.1 no such user here", S.sa.addr.s) ;   /* nothing to bounce later */
      return ;
    case -1 :
      reply_error("451 4.3.0 unable to read the user database, try again later", S.sa.addr.s, R_LOG) ;
      return ;
    default : allowed = 1 ;   /* a user, postmaster, a catch-all: our domain */
  }
  if (S.relayclient)
  {
    if (!stralloc_cats(&S.sa.addr, S.relayclient) || !stralloc_0(&S.sa.addr)) die_nomem() ;
    S.sa.addr.len-- ;
    allowed = 1 ;
  }
  else if (S.authed) allowed = 1 ;
  else if (!allowed) allowed = hostallowed(smtppolicy_domain(S.sa.addr.s)) ;
  if (!allowed) { refuse("553 5.7.1 relaying denied: this domain is not in my list of rcpthosts", S.sa.addr.s) ; return ; }
  if (S.nrcpt >= S.maxrcpt) { refuse("452 4.5.3 too many recipients", S.sa.addr.s) ; return ; }
  if (!qqueue_envelope_add(&S.sa.envelope, 'T', S.sa.addr.s)) die_nomem() ;
  if (!stralloc_cats(&S.sa.rcptlog, " to=<") || !logtext_cat(&S.sa.rcptlog, S.sa.addr.s, S.sa.addr.len, LOGMAX, " ")
   || !stralloc_catb(&S.sa.rcptlog, ">", 1)) die_nomem() ;
  S.nrcpt++ ;
  out("250 2.1.5 ok\r\n") ;
}

/* the Received: line (RFC 5321 4.4), LF-terminated as the queue stores text */
static void received (stralloc *sa)
{
  static char const unsafe[] = "()<>[]\\\";" ;
  char const *proto ;
  sa->len = 0 ;
  stralloc_cats(sa, "Received: from ") ;
  logtext_cat(sa, S.sa.helo.s, strlen(S.sa.helo.s), 255, "") ;
  stralloc_cats(sa, " (") ;
  if (S.remoteinfo && *S.remoteinfo) { logtext_cat(sa, S.remoteinfo, strlen(S.remoteinfo), 64, unsafe) ; stralloc_catb(sa, "@", 1) ; }
  if (S.remotehost && *S.remotehost) logtext_cat(sa, S.remotehost, strlen(S.remotehost), 255, unsafe) ;
  else stralloc_cats(sa, "unknown") ;
  stralloc_cats(sa, strchr(S.remoteip, ':') ? " [IPv6:" : " [") ;
  logtext_cat(sa, S.remoteip, strlen(S.remoteip), 64, unsafe) ;
  stralloc_cats(sa, "])\n") ;
  if (S.tls && S.sa.tlsproto.len)
  {
    stralloc_cats(sa, "\t(using ") ;
    logtext_cat(sa, S.sa.tlsproto.s, strlen(S.sa.tlsproto.s), 32, unsafe) ;
    if (S.sa.tlscipher.len)
    {
      stralloc_cats(sa, " with cipher ") ;
      logtext_cat(sa, S.sa.tlscipher.s, strlen(S.sa.tlscipher.s), 64, unsafe) ;
    }
    stralloc_cats(sa, ")\n") ;
  }
  if (S.authed)
  {
    stralloc_cats(sa, "\t(authenticated user ") ;
    logtext_cat(sa, S.sa.authuser.s, S.sa.authuser.len, 128, unsafe) ;
    stralloc_cats(sa, ")\n") ;
  }
  if (S.smtputf8) proto = S.authed ? (S.tls ? "UTF8SMTPSA" : "UTF8SMTPA") : (S.tls ? "UTF8SMTPS" : "UTF8SMTP") ;
  else if (!S.esmtp) proto = "SMTP" ;
  else proto = S.authed ? (S.tls ? "ESMTPSA" : "ESMTPA") : (S.tls ? "ESMTPS" : "ESMTP") ;
  stralloc_cats(sa, "\tby ") ;
  stralloc_cats(sa, S.sa.me.s) ;
  stralloc_cats(sa, " (sluice smtpd) with ") ;
  stralloc_cats(sa, proto) ;
  stralloc_cats(sa, ";\n\t") ;
  date822_cat(sa, time(0)) ;
  if (!stralloc_catb(sa, "\n", 1)) die_nomem() ;
}

/* one piece of the message to the queue, framed as the queue wants it (the last one with
   the commit): 1, or 0 (errno) */
static int queue_put (char *buf, size_t len, int last)
{
  size_t start ;
  size_t n = last ? qqueue_frame_last(&S.qq, buf, QQUEUE_HEADROOM, len, &start)
    : qqueue_frame(&S.qq, buf, QQUEUE_HEADROOM, len, &start) ;
  return timed_write(S.qq.msgfd, buf + start, n) ;
}

static void smtp_data (size_t arglen)
{
  char *const qbuf = S.qbuf ;
  char *const qdata = qbuf + QQUEUE_HEADROOM ;
  size_t const qmax = 65536 ;
  size_t qlen = 0 ;
  qqueue *q = &S.qq ;
  smtpdata d = SMTPDATA_ZERO ;
  int toobig = 0, loop = 0, qfail = 0, r, code ;
  unsigned long qp ;
  if (arglen) { refuse("501 5.5.4 DATA takes no argument", 0) ; return ; }
  if (!S.inmail) { refuse("503 5.5.1 send MAIL first", 0) ; return ; }
  if (!S.nrcpt) { refuse("503 5.5.1 send RCPT first", 0) ; return ; }
  if (!qqueue_start(q, S.sa.envelope.s, S.sa.envelope.len))
  {
    strerr_warnwu1sys("start the queue program") ;
    refuse("451 4.3.0 unable to start the queue program", 0) ;
    return ;
  }
  qp = (unsigned long)q->pid ;
  if (ndelay_on(q->msgfd) < 0) qfail = 1 ;
  out("354 go ahead, end with <CRLF>.<CRLF>\r\n") ;
  received(&S.sa.tmp) ;
  qlen = S.sa.tmp.len < qmax / 2 ? S.sa.tmp.len : qmax / 2 ;   /* a few hundred bytes */
  memcpy(qdata, S.sa.tmp.s, qlen) ;
  for (;;)
  {
    size_t used, produced, n ;
    if (!fill()) gone() ;
    n = S.inlen - S.inpos ;
    if (n > qmax - qlen) n = qmax - qlen ;
    r = smtpdata_feed(&d, S.inbuf + S.inpos, n, qdata + qlen, &used, &produced) ;
    S.inpos += used ;
    if (S.databytes && d.bytes > S.databytes && !toobig) { toobig = 1 ; queue_abort() ; }
    if (d.hops > MAXHOPS && !loop) { loop = 1 ; queue_abort() ; }
    if (toobig || loop) qlen = 0 ;
    else qlen += produced ;
    if (r == SMTPDATA_BARELF || r == SMTPDATA_BARECR)
    {
      /* the client's idea of a line is not ours: nothing it sends next can be trusted */
      queue_abort() ;
      refuse(r == SMTPDATA_BARELF
        ? "554 5.6.0 bare LF in message text: lines must end with CRLF (RFC 5321 2.3.8); closing connection"
        : "554 5.6.0 bare CR in message text: lines must end with CRLF (RFC 5321 2.3.8); closing connection", 0) ;
      closing(0) ;
    }
    if (qlen && (r == SMTPDATA_END || qlen == qmax) && !qfail)
    {
      if (!queue_put(qbuf, qlen, r == SMTPDATA_END))
      {
        /* a queue that stopped reading has usually exited or answered: its code decides,
           below; one that hangs is killed */
        qfail = errno == ETIMEDOUT ? 2 : 1 ;
        if (qfail == 2) queue_abort() ;
      }
      qlen = 0 ;
    }
    if (qfail) qlen = 0 ;
    if (r == SMTPDATA_END) break ;
  }
  if (toobig) { refuse("552 5.3.4 message size exceeds the limit", 0) ; transaction_reset() ; return ; }
  if (loop) { refuse("554 5.4.6 too many hops: this message is looping", 0) ; transaction_reset() ; return ; }
  code = qfail == 2 ? 52 : queue_finish() ;
  if (!code && qfail) code = 54 ;   /* never 250 for text the queue did not read in full */
  if (!code)
  {
    char fmt[ULONG_FMT] ;
    if (q->id[0])
    {
      /* queue-injectd: the message's queue ID, which queue-run's log lines carry */
      out("250 2.0.0 ok queued as ") ;
      out(q->id) ;
      out("\r\n") ;
      logword("accept") ;
      logtext("id=", q->id, strlen(q->id)) ;
    }
    else
    {
      out("250 2.0.0 ok ") ;
      outb(fmt, ulong_fmt(fmt, (unsigned long)time(0))) ;
      out(" qp ") ;
      outb(fmt, ulong_fmt(fmt, qp)) ;
      out("\r\n") ;
      logword("accept") ;
      logtext("qp=", fmt, ulong_fmt(fmt, qp)) ;
    }
    logtext("bytes=", fmt, ulong_fmt(fmt, (unsigned long)d.bytes)) ;
    if (S.authed) logtext("auth=", S.sa.authuser.s, S.sa.authuser.len) ;
    if (S.tls && S.sa.tlsproto.len) logtext("tls=", S.sa.tlsproto.s, strlen(S.sa.tlsproto.s)) ;
    if (S.tls && S.sa.tlscipher.len) logtext("cipher=", S.sa.tlscipher.s, strlen(S.sa.tlscipher.s)) ;
    logaddr("from=", S.sa.sender.s) ;
    stralloc_catb(&S.sa.logsa, S.sa.rcptlog.s, S.sa.rcptlog.len) ;
    logflush() ;
  }
  else
  {
    char fmt[UINT_FMT] ;
    S.sa.tmp.len = 0 ;
    if (!stralloc_cats(&S.sa.tmp, qqueue_permanent(code) ? "554 5.3.0 " : "451 4.3.0 ")
     || !stralloc_cats(&S.sa.tmp, "queue failure: ")) die_nomem() ;
    if (S.qq.why[0])   /* a filter's or queue-injectd's own reason: printable ASCII only */
    {
      for (char const *w = S.qq.why ; *w ; w++)
        if (!stralloc_catb(&S.sa.tmp, (*w >= 32 && *w < 127) ? w : "?", 1)) die_nomem() ;
    }
    else if (!stralloc_cats(&S.sa.tmp, qqueue_strerror(code))) die_nomem() ;
    if (!stralloc_cats(&S.sa.tmp, " (#") || !stralloc_catb(&S.sa.tmp, fmt, uint_fmt(fmt, code))
     || !stralloc_cats(&S.sa.tmp, ")") || !stralloc_0(&S.sa.tmp)) die_nomem() ;
    reply_error(S.sa.tmp.s, 0, R_LOG) ;   /* the queue's failure is not the client's */
  }
  transaction_reset() ;
}

/* one response line of the AUTH dialogue, decoded; 0 when the client cancelled or sent
   something that is not base64 (the reply is already given) */
static int auth_response (stralloc *sa)
{
  int r = getline_smtp() ;
  if (r != SMTPLINE_OK) { refuse("501 5.5.2 bad AUTH response line", 0) ; return 0 ; }
  if (!strcmp(S.line.s, "*")) { refuse("501 5.0.0 AUTH cancelled", 0) ; return 0 ; }
  r = smtpauth_b64decode(sa, S.line.s, S.line.len) ;
  explicit_bzero(S.line.s, S.line.len) ;
  if (r < 0) die_nomem() ;
  if (!r) { refuse("501 5.5.2 AUTH response is not base64", 0) ; return 0 ; }
  return 1 ;
}

/* run the checkpassword program with login\0password\0timestamp\0 on fd 3; its exit code,
   or -1 when it could not run or did not finish in time */
static int checkpassword (char const *in, size_t len)
{
  int p[2], wstat ;
  pid_t pid ;
  tain deadline ;
  unsigned int ms = 1 ;
  if (pipe(p) < 0) return -1 ;
  pid = fork() ;
  if (pid < 0) { close(p[0]) ; close(p[1]) ; return -1 ; }
  if (!pid)
  {
    int nul ;
    close(p[1]) ;
    if (fd_move(3, p[0]) < 0) _exit(111) ;
    /* the program talks to nobody: the client is on fd 0/1 */
    nul = open("/dev/null", O_RDWR) ;
    if (nul < 0 || fd_copy(0, nul) < 0 || fd_copy(1, nul) < 0) _exit(111) ;
    if (nul > 3) close(nul) ;
    signal(SIGPIPE, SIG_DFL) ;
    execvp(authprog[0], (char *const *)authprog) ;
    _exit(111) ;
  }
  close(p[0]) ;
  allwrite(p[1], in, len) ;   /* at most 512 bytes: fits in the pipe */
  close(p[1]) ;
  tain_now_g() ;
  tain_addsec_g(&deadline, (int)S.timeoutsec) ;
  for (;;)
  {
    pid_t r = waitpid(pid, &wstat, WNOHANG) ;
    if (r == pid) break ;
    if (r < 0 && errno != EINTR) return -1 ;
    tain_now_g() ;
    if (!tain_less(&STAMP, &deadline))
    {
      kill(pid, SIGKILL) ;
      waitpid(pid, &wstat, 0) ;
      strerr_warnw2x(authprog[0], " did not answer in time") ;
      return -1 ;
    }
    {
      struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)ms * 1000000L } ;
      nanosleep(&ts, 0) ;
    }
    if (ms < 50) ms *= 2 ;
  }
  return WIFEXITED(wstat) ? WEXITSTATUS(wstat) : -1 ;
}

/* The login as the log and the Received: line show it: local@domain in lowercase when it
   names a user as auth-check reads logins (user@domain, user%domain, a bare user of
   control/authdomain), else as the client typed it. */
static void login_normal (stralloc *sa, char const *user, size_t len)
{
  stralloc l = STRALLOC_ZERO, d = STRALLOC_ZERO, dflt = STRALLOC_ZERO ;
  int r = 0 ;
  sa->len = 0 ;
  if (!memchr(user, 0, len))
  {
    char s[len + 1] ;
    memcpy(s, user, len) ; s[len] = 0 ;
    if (control_readline(&dflt, "authdomain", 0) < 0) dflt.len = 0 ;
    r = userdb_split(s, dflt.len && dflt.s[0] ? dflt.s : 0, &l, &d) ;
    if (r < 0) die_nomem() ;
  }
  if (r)
  {
    if (!stralloc_catb(sa, l.s, l.len - 1) || !stralloc_catb(sa, "@", 1) || !stralloc_catb(sa, d.s, d.len - 1)) die_nomem() ;
  }
  else if (!stralloc_catb(sa, user, len)) die_nomem() ;
  stralloc_free(&l) ; stralloc_free(&d) ; stralloc_free(&dflt) ;
}

static void smtp_auth (char const *arg, size_t len)
{
  /* in the session: a resident smtpd wipes them at its end, whatever way AUTH ends */
  stralloc *resp = &S.sa.authresp, *user = &S.sa.authlogin, *pass = &S.sa.authpass, *in = &S.sa.authin ;
  char stamp[UINT64_FMT * 2 + 300] ;
  size_t m = 0, u, ul, p, pl ;
  char const *mech ;
  int r ;
  if (!authprog) { refuse("502 5.5.1 AUTH not available", 0) ; return ; }
  if (!auth_offered()) { refuse("538 5.7.11 encryption required for AUTH: send STARTTLS first", 0) ; return ; }
  if (!S.esmtp) { refuse("503 5.5.1 AUTH needs EHLO", 0) ; return ; }
  if (S.authed) { refuse("503 5.5.1 already authenticated", 0) ; return ; }
  if (S.inmail) { refuse("503 5.5.1 AUTH not allowed during a mail transaction", 0) ; return ; }
  while (m < len && arg[m] != ' ') m++ ;
  mech = smtpcmd_is(arg, m, "plain") ? "PLAIN" : smtpcmd_is(arg, m, "login") ? "LOGIN" : 0 ;
  if (!mech) { refuse("504 5.5.4 unrecognized authentication mechanism", 0) ; return ; }
  while (m < len && arg[m] == ' ') m++ ;
  if (mech[0] == 'P')
  {
    if (m < len)
    {
      if (!(len - m == 1 && arg[m] == '='))
      {
        r = smtpauth_b64decode(resp, arg + m, len - m) ;
        if (r < 0) die_nomem() ;
        if (!r) { refuse("501 5.5.2 AUTH response is not base64", 0) ; goto end ; }
      }
    }
    else
    {
      out("334 \r\n") ;
      if (!auth_response(resp)) goto end ;
    }
    if (!smtpauth_plain(resp->s, resp->len, &u, &ul, &p, &pl))
    { refuse("501 5.5.2 malformed AUTH PLAIN response", 0) ; goto end ; }
    if (!stralloc_catb(user, resp->s + u, ul) || !stralloc_catb(pass, resp->s + p, pl)) die_nomem() ;
  }
  else
  {
    if (m < len)
    {
      r = smtpauth_b64decode(user, arg + m, len - m) ;
      if (r < 0) die_nomem() ;
      if (!r) { refuse("501 5.5.2 AUTH response is not base64", 0) ; goto end ; }
    }
    else
    {
      out("334 VXNlcm5hbWU6\r\n") ;   /* "Username:" */
      if (!auth_response(user)) goto end ;
    }
    out("334 UGFzc3dvcmQ6\r\n") ;     /* "Password:" */
    if (!auth_response(pass)) goto end ;
  }
  {
    size_t n = 0, ml = strlen(S.sa.me.s) ;
    stamp[n++] = '<' ;
    n += uint64_fmt(stamp + n, (uint64_t)getpid()) ;
    stamp[n++] = '.' ;
    n += uint64_fmt(stamp + n, (uint64_t)time(0)) ;
    stamp[n++] = '@' ;
    if (ml > 255) ml = 255 ;
    memcpy(stamp + n, S.sa.me.s, ml) ; n += ml ;
    stamp[n++] = '>' ;
    stamp[n] = 0 ;
  }
  r = smtpauth_cpinput(in, user->s, user->len, pass->s, pass->len, stamp) ;
  if (r < 0) die_nomem() ;
  if (!r) r = 1 ;   /* unusable login: as the program would say */
  else
  {
    r = checkpassword(in->s, in->len) ;
    explicit_bzero(in->s, in->len) ;
  }
  login_normal(&S.sa.tmp, user->s, user->len) ;
  logword(r ? "auth failure" : "auth success") ;
  logtext("user=", S.sa.tmp.s, S.sa.tmp.len) ;
  logtext("mech=", mech, strlen(mech)) ;
  if (r)
  {
    char fmt[UINT_FMT] ;
    if (r < 0) logtext("code=", "none", 4) ;
    else logtext("code=", fmt, uint_fmt(fmt, (unsigned int)r)) ;
  }
  logflush() ;
  if (!r)
  {
    S.authed = 1 ;
    if (!stralloc_copy(&S.sa.authuser, &S.sa.tmp)) die_nomem() ;
    /* for the queue program and the filters (dkim-sign's control/dkimpolicy): who sends */
    if (!stralloc_0(&S.sa.tmp) || setenv("AUTHUSER", S.sa.tmp.s, 1) < 0) die_nomem() ;
    out("235 2.7.0 authentication successful\r\n") ;
  }
  else if (r == 1 || r == 2) reply_error("535 5.7.8 authentication failed", 0, R_COUNT) ;
  else reply_error("454 4.7.0 temporary authentication failure", 0, 0) ;
 end:
  /* the credentials also sit, base64-encoded, in the line and in the consumed input */
  explicit_bzero(S.line.s, sizeof S.line.s) ;
  explicit_bzero(S.inbuf, S.inpos) ;
  sa_wipe(resp) ; sa_wipe(user) ; sa_wipe(pass) ; sa_wipe(in) ;
}

/* STARTTLS (RFC 3207) over UCSPI-TLS: answer 220, ask tls-wrap for the handshake ('Y'),
   read what it says of the connection, then go on over SSLREADFD and SSLWRITEFD as fds 0
   and 1. Nothing the client sent before the handshake is a command (CVE-2011-0411): what is
   buffered is thrown away, and what is still in the kernel reaches tls-wrap as the start of
   the handshake, which fails. The session starts over: no HELO, no transaction, no AUTH. */
static void smtp_starttls (size_t arglen)
{
  char buf[1024] ;
  size_t len, dropped ;
  if (S.tls) { refuse("503 5.5.1 TLS already active", 0) ; return ; }
  if (S.ctlfd < 0) { refuse("502 5.5.1 STARTTLS not available", 0) ; return ; }
  if (arglen) { refuse("501 5.5.4 STARTTLS takes no argument", 0) ; return ; }
  out("220 2.0.0 ready to start TLS\r\n") ;
  flush() ;
  dropped = S.inlen - S.inpos ;
  explicit_bzero(S.inbuf, S.inlen) ;
  S.inpos = S.inlen = 0 ;
  if (dropped)
  {
    char fmt[ULONG_FMT] ;
    logword("starttls") ;
    logtext("discarded=", fmt, ulong_fmt(fmt, (unsigned long)dropped)) ;
    logreason("input sent with STARTTLS thrown away") ;
    logflush() ;
  }
  len = ucspitls_start(S.ctlfd, buf, sizeof buf, (unsigned int)S.timeoutsec) ;
  if (!len) { logword("end") ; logreason("TLS handshake failed") ; logflush() ; _exit(0) ; }
  {
    char const *v = ucspitls_get(buf, len, "SSL_PROTOCOL") ;
    if (!stralloc_copys(&S.sa.tlsproto, v ? v : "TLS") || !stralloc_0(&S.sa.tlsproto)) die_nomem() ;
    v = ucspitls_get(buf, len, "SSL_CIPHER") ;
    S.sa.tlscipher.len = 0 ;
    if (v && (!stralloc_copys(&S.sa.tlscipher, v) || !stralloc_0(&S.sa.tlscipher))) die_nomem() ;
  }
  if ((S.sslrfd != 0 && fd_copy(0, S.sslrfd) < 0) || (S.sslwfd != 1 && fd_copy(1, S.sslwfd) < 0)
   || ndelay_on(0) < 0 || ndelay_on(1) < 0)
    strerr_diefu1sys(111, "switch to the TLS descriptors") ;
  close(S.ctlfd) ;
  if (S.sslrfd > 1) close(S.sslrfd) ;
  if (S.sslwfd > 1 && S.sslwfd != S.sslrfd) close(S.sslwfd) ;
  S.ctlfd = S.sslrfd = S.sslwfd = -1 ;
  S.tls = 1 ;
  S.seenhelo = 0 ; S.esmtp = 0 ; S.sa.helo.len = 0 ;
  transaction_reset() ;
  S.authed = 0 ; S.sa.authuser.len = 0 ;
  unsetenv("AUTHUSER") ;
}

static void smtp_help (void)
{
  out("214-2.0.0 sluice smtpd: RFC 5321 mail receiver\r\n"
      "214-2.0.0 commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP") ;
  if (auth_offered()) out(" AUTH") ;
  if (S.ctlfd >= 0) out(" STARTTLS") ;
  out("\r\n214 2.0.0 end of HELP\r\n") ;
}

static void smtp_command (void)
{
  size_t arg ;
  int verb = smtpcmd_verb(S.line.s, S.line.len, &arg) ;
  char const *a = S.line.s + arg ;
  size_t alen = S.line.len - arg ;
  switch (verb)
  {
    case SMTPVERB_HELO : smtp_helo(a, alen, 0) ; break ;
    case SMTPVERB_EHLO : smtp_helo(a, alen, 1) ; break ;
    case SMTPVERB_MAIL : smtp_mail(a, alen) ; break ;
    case SMTPVERB_RCPT : smtp_rcpt(a, alen) ; break ;
    case SMTPVERB_DATA :
      /* the text must come at mindatarate: the deadline starts with the command */
      S.indata = 1 ; S.datain = S.inlen - S.inpos ;   /* the text that came with the command counts */
      tain_now_g() ;
      S.datastart = STAMP ;
      data_deadline() ;
      smtp_data(alen) ;
      S.indata = 0 ;
      break ;
    case SMTPVERB_AUTH : smtp_auth(a, alen) ; break ;
    case SMTPVERB_RSET :
      if (alen) { refuse("501 5.5.4 RSET takes no argument", 0) ; break ; }
      transaction_reset() ; out("250 2.0.0 ok\r\n") ; break ;
    case SMTPVERB_NOOP : out("250 2.0.0 ok\r\n") ; break ;
    case SMTPVERB_QUIT :
      out("221 2.0.0 ") ; out(S.sa.me.s) ; out(" closing connection\r\n") ;
      S.quit = 1 ;
      break ;
    case SMTPVERB_VRFY : out("252 2.5.2 cannot VRFY the user, but will accept the message and attempt delivery\r\n") ; break ;
    case SMTPVERB_HELP : smtp_help() ; break ;
    case SMTPVERB_EXPN : refuse("502 5.5.1 EXPN not available", 0) ; break ;
    case SMTPVERB_STARTTLS : smtp_starttls(alen) ; break ;
    case SMTPVERB_BDAT : refuse("502 5.5.1 CHUNKING not available", 0) ; break ;
    case SMTPVERB_HTTP :
      refuse("421 4.7.0 this is an SMTP server, not a web server; closing connection", 0) ;
      closing(0) ;
    default : refuse("500 5.5.1 unrecognized command", 0) ; break ;
  }
}

/* Serve the client on fds 0 and 1 until it quits or leaves between two commands, and
   return; every other end of the session exits the process. */
static void session (void)
{
  session_init() ;
  if (ndelay_on(0) < 0 || ndelay_on(1) < 0) strerr_diefu1sys(111, "set the connection non-blocking") ;
  readenv() ;
  S.timeoutsec = 1200 ;
  tain_now_g() ;
  S.sessiondeadline = S.datadeadline = S.lastread = STAMP ;
  tain_addsec_g(&S.sessiondeadline, (int)S.timeoutsec) ;   /* until the controls say */
  if (!stralloc_copys(&S.sa.me, "smtpd") || !stralloc_0(&S.sa.me)) die_nomem() ;
  readcontrols() ;
  tain_addsec_g(&S.sessiondeadline, (int)S.sessionsec) ;
  smtp_greet() ;
  while (!S.quit)
  {
    int r ;
    if (S.inpos == S.inlen && !fill()) { client_left() ; return ; }
    r = getline_smtp() ;
    if (r == SMTPLINE_TOOLONG) refuse("500 5.5.2 line too long", 0) ;
    else if (r == SMTPLINE_BARECR) refuse("500 5.5.2 bare CR in command line", 0) ;
    else if (r == SMTPLINE_NUL) refuse("500 5.5.2 NUL byte in command line", 0) ;
    else smtp_command() ;
  }
  /* the last words: a client that hung up first does not make it a failure */
  queue_abort() ;
  (void)timed_write(1, S.outbuf, S.outlen) ;
}

/* After a session, in a resident smtpd: every stralloc overwritten and freed, the
   databases closed, then the whole session zeroed. */
static void session_wipe (void)
{
  stralloc *sa = (stralloc *)(void *)&S.sa ;
  size_t i ;
  queue_abort() ;
  if (S.hasmrh)
  {
    int fd = cdb_fileno(&S.mrh) ;
    cdb_free(&S.mrh) ;
    close(fd) ;
  }
  if (S.udbopen == 1) userdb_close(&S.udb) ;
  for (i = 0 ; i < sizeof S.sa / sizeof (stralloc) ; i++) sa_wipe(sa + i) ;
  explicit_bzero(&S, sizeof S) ;
}

int main (int argc, char const *const *argv)
{
  resident res = RESIDENT_ZERO ;
  int r ;
  PROG = "smtpd" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "", &l) ;
      if (opt == -1) break ;
      dieusage() ;
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc) authprog = argv ;
  signal(SIGPIPE, SIG_IGN) ;
  {
    struct sigaction sa ;
    memset(&sa, 0, sizeof sa) ;
    sa.sa_handler = &qqalarm ;   /* no SA_RESTART: the wait must see EINTR */
    sigemptyset(&sa.sa_mask) ;
    if (sigaction(SIGALRM, &sa, 0) < 0) strerr_diefu1sys(111, "set a signal handler") ;
  }
  r = resident_init(&res) ;
  if (r < 0 && errno == EPERM)
    strerr_dief1x(100, "unable to serve as a resident worker: the socket in $" RESIDENT_FDVAR " is not from the parent process (a program between tcpsrv -w and smtpd forks): run smtpd right under tcpsrv, or without -w") ;
  if (r < 0) strerr_diefu1sys(100, "use $" RESIDENT_FDVAR " to serve as a resident worker") ;
  if (!r)
  {
    session() ;
    _exit(0) ;
  }
  /* tcpsrv -w: one client after the other, nothing of one left for the next */
  resident_mode = 1 ;
  for (;;)
  {
    r = resident_next(&res, 0) ;
    if (!r) _exit(0) ;
    if (r < 0) strerr_diefu1sys(111, "wait for a connection from tcpsrv") ;
    resident_fds = (int)res.nfds ;
    session() ;
    session_wipe() ;
  }
}
