/* pop3-login: the authorization state of POP3 (RFC 1939, RFC 2449 CAPA, RFC 5034 AUTH PLAIN)
   on fd 0/1 under tcpsrv. Each login goes to a checkpassword program on fd 3; when it accepts,
   the program it runs (pop3d) takes the session over and says +OK itself. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/sgetopt.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "pop3cmd.h"
#include "pop3io.h"
#include "smtpauth.h"
#include "ucspitls.h"

#define USAGE "pop3-login [ -t secs ] [ -w millisecs ] [ -f failures ] host checkpassword prog..."
#define dieusage() strerr_dieusage(100, USAGE)

#define MAXBAD 20        /* unknown or malformed commands before the connection is closed */

static char const *host ;
static char const *const *cpprog ;
static char const *remoteip ;
static unsigned int timeout = 600, delay = 1000, maxfail = 3 ;
static unsigned int failures = 0, badcmds = 0 ;
/* UCSPI-TLS (tls-wrap -s): STLS is offered while ctlfd >= 0; authtls: no login in clear */
static int ctlfd = -1, sslrfd = -1, sslwfd = -1, tls = 0, authtls = 0 ;

static pop3io io ;
static char outbuf[2048] ;
static char line[POP3IO_LINEMAX + 2] ;
static stralloc user = STRALLOC_ZERO ;

static void logauth (char const *word, char const *login, size_t loginlen, char const *mech, char const *code)
{
  char l[257] ;
  size_t n = loginlen < sizeof l - 1 ? loginlen : sizeof l - 1 ;
  char const *f[] = { "ip=", remoteip, "user=", l, "mech=", mech, code ? "code=" : 0, code, 0 } ;
  memcpy(l, login, n) ;
  l[n] = 0 ;
  pop3io_log(word, f) ;
}

static void logend (char const *reason)
{
  char const *f[] = { "ip=", remoteip, "reason=", reason, 0 } ;
  pop3io_log("end", f) ;
}

static void io_fail (int r) gccattr_noreturn ;
static void io_fail (int r)
{
  if (r == POP3IO_EOF) _exit(0) ;
  if (r == POP3IO_TIMEOUT)
  {
    logend("timeout") ;
    pop3io_puts(&io, "-ERR timeout, closing connection\r\n") ;
    pop3io_flush(&io) ;
    _exit(111) ;
  }
  strerr_diefu1sys(111, "talk to the client") ;
}

static void out (char const *s)
{
  if (!pop3io_puts(&io, s)) io_fail(errno == ETIMEDOUT ? POP3IO_TIMEOUT : POP3IO_ERROR) ;
}

static void closing (void) gccattr_noreturn ;
static void closing (void)
{
  pop3io_close(&io, 2) ;
  _exit(0) ;
}

static void bad (char const *reply)
{
  out(reply) ;
  if (++badcmds >= MAXBAD)
  {
    out("-ERR too many errors, closing connection\r\n") ;
    logend("too many errors") ;
    closing() ;
  }
}

static long long now_ms (void)
{
  struct timespec ts ;
  clock_gettime(CLOCK_MONOTONIC, &ts) ;
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 ;
}

/* the checkpassword program's verdict */
#define CP_STARTED -2    /* it accepted and ran prog, which has taken the session over */
#define CP_NOANSWER -1   /* it crashed, could not be run, or did not answer in time */
#define CP_DONE -3       /* it ran a prog that does not speak $POP3LOGINFD, which exited 0 */

/* the session belongs to prog now: wait for it, then leave with its exit code */
static void session (pid_t pid) gccattr_noreturn ;
static void session (pid_t pid)
{
  int wstat ;
  /* the connection closes when prog exits, whatever this process does */
  close(io.rfd) ;
  if (io.wfd != io.rfd) close(io.wfd) ;
  while (waitpid(pid, &wstat, 0) < 0)
    if (errno != EINTR) strerr_diefu1sys(111, "wait for the session") ;
  _exit(WIFEXITED(wstat) ? WEXITSTATUS(wstat) : 111) ;
}

/* run the checkpassword program: in[0..len) on its fd 3, the client on its fd 0 and 1, and
   a descriptor ($POP3LOGINFD) on which pop3d writes one byte when it starts; *pid its pid.
   Returns its exit code, CP_STARTED or CP_NOANSWER. */
static int checkpassword (char const *in, size_t len, pid_t *pid)
{
  int cp[2], st[2], wstat ;
  char c ;
  ssize_t r ;
  if (pipe2(cp, O_CLOEXEC) < 0) return CP_NOANSWER ;
  if (pipe2(st, O_CLOEXEC) < 0) { close(cp[0]) ; close(cp[1]) ; return CP_NOANSWER ; }
  /* prog gets the descriptors in the mode tcpsrv gave them */
  ndelay_off(io.rfd) ; ndelay_off(io.wfd) ;
  *pid = fork() ;
  if (!*pid)
  {
    char fmt[UINT_FMT] ;
    int s ;
    signal(SIGPIPE, SIG_DFL) ;
    /* after STLS the client is on other descriptors: they become prog's 0 and 1 */
    if ((io.rfd != 0 && dup2(io.rfd, 0) < 0) || (io.wfd != 1 && dup2(io.wfd, 1) < 0)) _exit(111) ;
    s = fcntl(st[1], F_DUPFD, 4) ;
    if (s < 0) _exit(111) ;
    if (cp[0] == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(cp[0], 3) < 0) _exit(111) ;
    fmt[uint_fmt(fmt, (unsigned int)s)] = 0 ;
    if (setenv("POP3LOGINFD", fmt, 1) < 0) _exit(111) ;
    execvp(cpprog[0], (char *const *)cpprog) ;
    _exit(111) ;
  }
  close(cp[0]) ; close(st[1]) ;
  if (*pid < 0)
  {
    close(cp[1]) ; close(st[0]) ;
    ndelay_on(io.rfd) ; ndelay_on(io.wfd) ;
    strerr_warnwu1sys("fork") ;
    return CP_NOANSWER ;
  }
  allwrite(cp[1], in, len) ;   /* at most 512 bytes: fits in the pipe */
  close(cp[1]) ;
  {
    struct pollfd p = { .fd = st[0], .events = POLLIN, .revents = 0 } ;
    long long deadline = now_ms() + (long long)timeout * 1000 ;
    for (;;)
    {
      long long left = deadline - now_ms() ;
      int k ;
      if (left <= 0)
      {
        kill(*pid, SIGKILL) ;
        strerr_warnw2x(cpprog[0], " did not answer in time") ;
        r = -1 ;
        break ;
      }
      k = poll(&p, 1, left > 86400000 ? 86400000 : (int)left) ;
      if (k < 0 && errno != EINTR) { kill(*pid, SIGKILL) ; r = -1 ; break ; }
      if (k <= 0) continue ;
      r = read(st[0], &c, 1) ;
      if (r >= 0 || errno != EINTR) break ;
    }
  }
  close(st[0]) ;
  if (r == 1) return CP_STARTED ;
  while (waitpid(*pid, &wstat, 0) < 0)
    if (errno != EINTR) strerr_diefu1sys(111, "wait for the checkpassword program") ;
  ndelay_on(io.rfd) ; ndelay_on(io.wfd) ;
  if (r < 0 || !WIFEXITED(wstat)) return CP_NOANSWER ;
  /* a prog that does not speak $POP3LOGINFD and ended well: the session took place */
  if (!WEXITSTATUS(wstat)) return CP_DONE ;
  return WEXITSTATUS(wstat) ;
}

/* answer no sooner than the failure's share of the delay after t0 */
static void wait_until (long long t)
{
  long long left = t - now_ms() ;
  if (left > 0)
  {
    struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (long)(left % 1000) * 1000000 } ;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) ;
  }
}

static void login (char const *u, size_t ulen, char const *pass, size_t plen, char const *mech)
{
  stralloc in = STRALLOC_ZERO ;
  char stamp[UINT64_FMT * 2 + 300] ;
  char fmt[UINT_FMT] ;
  long long t0 = now_ms() ;
  pid_t pid = 0 ;
  int r ;
  {
    size_t n = 0, hl = strlen(host) ;
    stamp[n++] = '<' ;
    n += uint64_fmt(stamp + n, (uint64_t)getpid()) ;
    stamp[n++] = '.' ;
    n += uint64_fmt(stamp + n, (uint64_t)time(0)) ;
    stamp[n++] = '@' ;
    if (hl > 255) hl = 255 ;
    memcpy(stamp + n, host, hl) ; n += hl ;
    stamp[n++] = '>' ;
    stamp[n] = 0 ;
  }
  r = smtpauth_cpinput(&in, u, ulen, pass, plen, stamp) ;
  if (r < 0) { out("-ERR [SYS/TEMP] out of memory\r\n") ; closing() ; }
  if (!r) r = 1 ;   /* an unusable login: as the program would say */
  else
  {
    if (!pop3io_flush(&io)) io_fail(errno == ETIMEDOUT ? POP3IO_TIMEOUT : POP3IO_ERROR) ;
    r = checkpassword(in.s, in.len, &pid) ;
    explicit_bzero(in.s, in.len) ;
  }
  stralloc_free(&in) ;
  if (r == CP_STARTED || r == CP_DONE)
  {
    logauth("auth success", u, ulen, mech, 0) ;
    if (r == CP_DONE) _exit(0) ;
    session(pid) ;
  }
  if (r == CP_NOANSWER) memcpy(fmt, "none", 5) ;
  else fmt[uint_fmt(fmt, (unsigned int)r)] = 0 ;
  logauth("auth failure", u, ulen, mech, fmt) ;
  failures++ ;
  wait_until(t0 + (long long)failures * delay) ;
  if (r == 1 || r == 2) out("-ERR [AUTH] authentication failed") ;
  else out("-ERR [SYS/TEMP] temporary failure, try again later") ;
  if (failures >= maxfail)
  {
    out("; too many failures, closing connection\r\n") ;
    logend("too many failures") ;
    closing() ;
  }
  out("\r\n") ;
}

/* a login is refused until STLS */
static int clear_refused (void)
{
  if (tls || !authtls) return 0 ;
  bad("-ERR logins need TLS: send STLS first\r\n") ;
  return 1 ;
}

static void pop3_user (char const *arg, size_t len)
{
  if (clear_refused()) return ;
  if (!len) { bad("-ERR syntax: USER needs a name\r\n") ; return ; }
  if (!stralloc_copyb(&user, arg, len)) { out("-ERR [SYS/TEMP] out of memory\r\n") ; closing() ; }
  out("+OK send PASS\r\n") ;
}

static void pop3_pass (char const *arg, size_t len)
{
  if (clear_refused()) return ;
  if (!user.len) { bad("-ERR send USER first\r\n") ; return ; }
  login(user.s, user.len, arg, len, "USER") ;
  user.len = 0 ;
}

static void pop3_auth (char const *arg, size_t len)
{
  stralloc resp = STRALLOC_ZERO ;
  size_t m = 0, u, ul, p, pl ;
  int r ;
  if (clear_refused()) return ;
  if (!len) { out("+OK\r\nPLAIN\r\n.\r\n") ; return ; }
  while (m < len && arg[m] != ' ') m++ ;
  if (m != 5 || strncasecmp(arg, "plain", 5)) { bad("-ERR unrecognized authentication mechanism\r\n") ; return ; }
  while (m < len && arg[m] == ' ') m++ ;
  if (m < len)
  {
    if (len - m == 1 && arg[m] == '=') r = 1 ;   /* an empty initial response */
    else r = smtpauth_b64decode(&resp, arg + m, len - m) ;
  }
  else
  {
    size_t n ;
    out("+ \r\n") ;
    r = pop3io_getline(&io, line, &n) ;
    if (r == POP3IO_TOOLONG || r == POP3IO_BAD) { bad("-ERR bad AUTH response line\r\n") ; goto end ; }
    if (r != POP3IO_OK) io_fail(r) ;
    if (!strcmp(line, "*")) { bad("-ERR AUTH cancelled\r\n") ; goto end ; }
    r = smtpauth_b64decode(&resp, line, n) ;
    explicit_bzero(line, n) ;
  }
  if (r < 0) { out("-ERR [SYS/TEMP] out of memory\r\n") ; closing() ; }
  if (!r) { bad("-ERR AUTH response is not base64\r\n") ; goto end ; }
  if (!resp.len || !smtpauth_plain(resp.s, resp.len, &u, &ul, &p, &pl))
  { bad("-ERR malformed AUTH PLAIN response\r\n") ; goto end ; }
  login(resp.s + u, ul, resp.s + p, pl, "PLAIN") ;
 end:
  if (resp.s) explicit_bzero(resp.s, resp.len) ;
  stralloc_free(&resp) ;
}

static void pop3_capa (void)
{
  out("+OK capability list follows\r\n") ;
  if (tls || !authtls) out("USER\r\nSASL PLAIN\r\n") ;
  if (ctlfd >= 0) out("STLS\r\n") ;
  out("RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nTOP\r\nUIDL\r\n"
      "EXPIRE NEVER\r\nIMPLEMENTATION sluice\r\n.\r\n") ;
}

/* STLS (RFC 2595) over UCSPI-TLS (tls-wrap -s): answer +OK, write 'Y' on $SSLCTLFD, read
   what tls-wrap says of the connection (for prog's environment), then
   pop3io_switch(&io, $SSLREADFD, $SSLWRITEFD). Nothing the client pipelined after STLS is
   read as a command: this side never read past the STLS line, and what follows it in the
   kernel reaches tls-wrap as the start of the handshake, which fails. checkpassword()
   hands the new descriptors on as prog's 0 and 1. */
static void pop3_stls (size_t arglen)
{
  char buf[1024] ;
  size_t len ;
  if (tls) { bad("-ERR already in TLS\r\n") ; return ; }
  if (ctlfd < 0) { bad("-ERR STLS not available\r\n") ; return ; }
  if (arglen) { bad("-ERR syntax: STLS takes no argument\r\n") ; return ; }
  out("+OK begin TLS negotiation\r\n") ;
  if (!pop3io_flush(&io)) io_fail(errno == ETIMEDOUT ? POP3IO_TIMEOUT : POP3IO_ERROR) ;
  len = ucspitls_start(ctlfd, buf, sizeof buf, timeout) ;
  if (!len) { logend("TLS handshake failed") ; _exit(0) ; }   /* tls-wrap logged why */
  {
    size_t i = 0 ;
    while (i < len && buf[i])
    {
      char *v = buf + i ;
      char *eq = strchr(v, '=') ;
      i += strlen(v) + 1 ;
      if (!eq || strncmp(v, "SSL_", 4)) continue ;
      *eq = 0 ;
      if (setenv(v, eq + 1, 1) < 0) { out("-ERR [SYS/TEMP] out of memory\r\n") ; closing() ; }
    }
  }
  close(ctlfd) ;
  ctlfd = -1 ;
  if (!pop3io_switch(&io, sslrfd, sslwfd)) strerr_diefu1sys(111, "switch to the TLS descriptors") ;
  tls = 1 ;
}

static void command (char const *s, size_t len)
{
  size_t a ;
  int verb = pop3cmd_verb(s, len, &a) ;
  char const *arg = s + a ;
  size_t alen = len - a ;
  switch (verb)
  {
    case POP3VERB_USER : pop3_user(arg, alen) ; break ;
    case POP3VERB_PASS : pop3_pass(arg, alen) ; break ;
    case POP3VERB_AUTH : pop3_auth(arg, alen) ; break ;
    case POP3VERB_CAPA : pop3_capa() ; break ;
    case POP3VERB_STLS : pop3_stls(alen) ; break ;
    case POP3VERB_QUIT : out("+OK bye\r\n") ; closing() ;
    case POP3VERB_APOP : bad("-ERR APOP not available\r\n") ; break ;
    case POP3VERB_NOOP : case POP3VERB_STAT : case POP3VERB_LIST : case POP3VERB_RETR :
    case POP3VERB_DELE : case POP3VERB_RSET : case POP3VERB_TOP : case POP3VERB_UIDL :
      bad("-ERR log in first\r\n") ; break ;
    default : bad("-ERR unknown command\r\n") ; break ;
  }
  if (verb != POP3VERB_USER) { if (user.s) explicit_bzero(user.s, user.len) ; user.len = 0 ; }
  explicit_bzero(line, len) ;
}

int main (int argc, char const *const *argv)
{
  PROG = "pop3-login" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "t:w:f:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 't' : if (!uint0_scan(l.arg, &timeout)) dieusage() ; break ;
        case 'w' : if (!uint0_scan(l.arg, &delay)) dieusage() ; break ;
        case 'f' : if (!uint0_scan(l.arg, &maxfail) || !maxfail) dieusage() ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc < 2 || !argv[0][0]) dieusage() ;
  host = argv[0] ;
  cpprog = argv + 1 ;
  remoteip = getenv("TCPREMOTEIP") ;
  if (!remoteip || !*remoteip) remoteip = "unknown" ;
  {
    char const *s = getenv("SSL_PROTOCOL") ;
    tls = s && *s ;
    s = getenv("AUTHTLS") ;
    authtls = s && *s && strcmp(s, "0") ;
  }
  if (!tls) ucspitls_fds(&ctlfd, &sslrfd, &sslwfd) ;   /* tls-wrap -s */
  unsetenv("SSLCTLFD") ; unsetenv("SSLREADFD") ; unsetenv("SSLWRITEFD") ;
  signal(SIGPIPE, SIG_IGN) ;
  /* exact: what the client sends after its login is left for pop3d to read */
  if (!pop3io_init(&io, 0, 1, timeout, 1, outbuf, sizeof outbuf)) strerr_diefu1sys(111, "set up the connection") ;
  out("+OK ") ; out(host) ; out(" POP3 ready\r\n") ;
  for (;;)
  {
    size_t len ;
    int r = pop3io_getline(&io, line, &len) ;
    if (r == POP3IO_OK) command(line, len) ;
    else if (r == POP3IO_TOOLONG) bad("-ERR line too long\r\n") ;
    else if (r == POP3IO_BAD) bad("-ERR NUL byte in command line\r\n") ;
    else io_fail(r) ;
  }
}
