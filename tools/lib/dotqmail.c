#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "dotqmail.h"
#include "qqueue.h"

static int bad (unsigned int n, unsigned int *lineno, char const **why, char const *s)
{
  *lineno = n ;
  *why = s ;
  return 0 ;
}

/* dot-qmail(5): a fully qualified address, no blanks, no brackets, no comment */
static char const *forward_check (char const *a)
{
  char const *at = strrchr(a, '@') ;
  if (!*a) return "empty forward address" ;
  for (char const *p = a ; *p ; p++)
  {
    unsigned char c = *p ;
    if (c <= ' ' || c == 0x7f) return "blank or control character in a forward address" ;
    if (c == '<' || c == '>' || c == '(' || c == ')') return "brackets in a forward address (write the bare address)" ;
  }
  if (!at || at == a || !at[1]) return "forward address is not user@domain" ;
  return 0 ;
}

int dotqmail_parse (char *s, size_t len, genalloc *lines, int forwardonly, unsigned int *lineno, char const **why)
{
  size_t i = 0 ;
  unsigned int n = 0 ;
  while (i < len)
  {
    char *nl = memchr(s + i, '\n', len - i) ;
    size_t end = nl ? (size_t)(nl - s) : len ;
    size_t k = end ;
    dotqmail_line l = { .kind = 0, .lineno = ++n, .arg = i } ;
    while (k > i && (s[k-1] == ' ' || s[k-1] == '\t')) k-- ;
    if (memchr(s + i, 0, k - i)) return bad(n, lineno, why, "NUL byte in the line") ;
    s[k] = 0 ;
    if (k == i)
    {
      /* qmail-local defers on a blank first line: the file is probably damaged */
      if (n == 1) return bad(n, lineno, why, "the first line is blank") ;
    }
    else switch (s[i])
    {
      case '#' : break ;
      case '.' :
      case '/' :
        if (forwardonly) return bad(n, lineno, why, "file delivery in a forward-only .qmail (x bit or +list)") ;
        l.kind = s[k-1] == '/' ? DOTQMAIL_MAILDIR : DOTQMAIL_MBOX ;
        break ;
      case '|' :
        if (forwardonly) return bad(n, lineno, why, "program delivery in a forward-only .qmail (x bit or +list)") ;
        if (k == i + 1) return bad(n, lineno, why, "empty command") ;
        l.kind = DOTQMAIL_PROGRAM ; l.arg = i + 1 ;
        break ;
      case '+' :
        if (strcmp(s + i + 1, "list")) return bad(n, lineno, why, "unknown + line (only +list is known)") ;
        forwardonly = 1 ;
        break ;
      case '&' :
        l.arg = i + 1 ;
        /* fall through */
      default :
      {
        char const *e = forward_check(s + l.arg) ;
        if (e) return bad(n, lineno, why, e) ;
        l.kind = DOTQMAIL_FORWARD ;
        break ;
      }
    }
    if (l.kind && !genalloc_catb(dotqmail_line, lines, &l, 1)) return -1 ;
    i = end + 1 ;
  }
  return 1 ;
}

void dotqmail_safeext (char *s)
{
  for (; *s ; s++)
  {
    if (*s >= 'A' && *s <= 'Z') *s += 'a' - 'A' ;
    else if (*s == '.' || *s == '/') *s = ':' ;
  }
}

/* 1 found, 0 absent (or not a regular file), -1 error, -2 writable */
static int try_open (char const *name, int *fd, int *forwardonly)
{
  struct stat st ;
  *fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK) ;
  if (*fd < 0) return errno == ENOENT || errno == ENOTDIR ? 0 : -1 ;
  if (fstat(*fd, &st) < 0) { int e = errno ; close(*fd) ; errno = e ; return -1 ; }
  if (!S_ISREG(st.st_mode)) { close(*fd) ; *fd = -1 ; return 0 ; }
  if (st.st_mode & 022) { close(*fd) ; *fd = -1 ; return -2 ; }
  *forwardonly = !!(st.st_mode & 0100) ;
  return 1 ;
}

static int qme (stralloc *name, char const *dash, char const *ext, size_t extlen, char const *tail)
{
  name->len = 0 ;
  return stralloc_cats(name, ".qmail") && stralloc_cats(name, dash)
    && stralloc_catb(name, ext, extlen) && stralloc_cats(name, tail) && stralloc_0(name) ;
}

int dotqmail_find (char const *dash, char const *ext, stralloc *name, int *fd, int *forwardonly, long *defaultat)
{
  size_t len = strlen(ext) ;
  char safe[len + 1] ;
  int r ;
  memcpy(safe, ext, len + 1) ;
  dotqmail_safeext(safe) ;
  *defaultat = -1 ; *fd = -1 ; *forwardonly = 0 ;
  if (!qme(name, dash, safe, len, "")) return -1 ;
  r = try_open(name->s, fd, forwardonly) ;
  if (r)
  {
    if (r == 1 && len >= 7 && !memcmp(safe + len - 7, "default", 7)) *defaultat = (long)(len - 7) ;
    return r ;
  }
  if (!*dash) return 0 ;
  for (size_t i = len + 1 ; i-- > 0 ; )
  {
    if (i && safe[i-1] != '-') continue ;
    if (!qme(name, dash, safe, i, "default")) return -1 ;
    r = try_open(name->s, fd, forwardonly) ;
    if (r == 1) *defaultat = (long)i ;
    if (r) return r ;
  }
  return 0 ;
}

int dotqmail_exists (char const *dash, char const *ext, char const *suffix)
{
  stralloc name = STRALLOC_ZERO ;
  struct stat st ;
  size_t len = strlen(ext) ;
  char safe[len + 1] ;
  int r ;
  memcpy(safe, ext, len + 1) ;
  dotqmail_safeext(safe) ;
  if (!qme(&name, dash, safe, len, suffix)) return -1 ;
  r = stat(name.s, &st) == 0 ? 1 : errno == ENOENT || errno == ENOTDIR ? 0 : -1 ;
  { int e = errno ; stralloc_free(&name) ; errno = e ; }
  return r ;
}

static void unnewline (stralloc *sa, size_t from)
{
  for (size_t i = from ; i < sa->len ; i++) if (sa->s[i] == '\n') sa->s[i] = '_' ;
}

int dotqmail_dtline (stralloc *sa, char const *local, char const *host)
{
  sa->len = 0 ;
  if (!stralloc_cats(sa, "Delivered-To: ") || !stralloc_cats(sa, local)
   || !stralloc_catb(sa, "@", 1) || !stralloc_cats(sa, host)) return 0 ;
  unnewline(sa, 0) ;
  return stralloc_catb(sa, "\n", 1) && stralloc_0(sa) && (sa->len--, 1) ;
}

static int atext (unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
    || (c && strchr("!#$%&'*+-/=?^_`{|}~", c)) ;
}

/* the local part as RFC 5321 wants it: quoted when it is not a dot-string */
static int cat_local (stralloc *sa, char const *s, size_t n)
{
  int quote = !n ;
  for (size_t i = 0 ; i < n && !quote ; i++)
  {
    if (s[i] == '.') { if (!i || i == n - 1 || s[i+1] == '.') quote = 1 ; }
    else if (!atext(s[i])) quote = 1 ;
  }
  if (!quote) return stralloc_catb(sa, s, n) ;
  if (!stralloc_catb(sa, "\"", 1)) return 0 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    if ((s[i] == '"' || s[i] == '\\') && !stralloc_catb(sa, "\\", 1)) return 0 ;
    if (!stralloc_catb(sa, s + i, 1)) return 0 ;
  }
  return stralloc_catb(sa, "\"", 1) ;
}

int dotqmail_rpline (stralloc *sa, char const *sender)
{
  char const *at = strrchr(sender, '@') ;
  sa->len = 0 ;
  if (!stralloc_cats(sa, "Return-Path: <")) return 0 ;
  if (*sender)
  {
    size_t n = at ? (size_t)(at - sender) : strlen(sender) ;
    if (!cat_local(sa, sender, n) || (at && !stralloc_cats(sa, at))) return 0 ;
  }
  unnewline(sa, 0) ;
  return stralloc_cats(sa, ">\n") && stralloc_0(sa) && (sa->len--, 1) ;
}

int dotqmail_ufline (stralloc *sa, char const *sender, time_t when)
{
  static char const *const day[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" } ;
  static char const *const mon[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" } ;
  struct tm tm ;
  char date[64] ;
  size_t from ;
  if (!gmtime_r(&when, &tm)) return 0 ;
  snprintf(date, sizeof date, " %s %s %2d %02d:%02d:%02d %d\n", day[tm.tm_wday % 7], mon[tm.tm_mon % 12],
    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900) ;
  sa->len = 0 ;
  if (!stralloc_cats(sa, "From ")) return 0 ;
  from = sa->len ;
  if (!stralloc_cats(sa, *sender ? sender : "MAILER-DAEMON")) return 0 ;
  for (size_t i = from ; i < sa->len ; i++)
    if (sa->s[i] == ' ' || sa->s[i] == '\t' || sa->s[i] == '\n') sa->s[i] = '-' ;
  return stralloc_cats(sa, date) && stralloc_0(sa) && (sa->len--, 1) ;
}

/* qmail's HOST2: byte_rchr from the end, then from there: all of host when no dot is left */
static int setenv_hosts (char const *host)
{
  size_t i = strlen(host) ;
  static char const *const var[3] = { "HOST2", "HOST3", "HOST4" } ;
  for (unsigned int k = 0 ; k < 3 ; k++)
  {
    size_t j = i ;
    while (j && host[j-1] != '.') j-- ;
    i = j ? j - 1 : i ;
    {
      char t[i + 1] ;
      memcpy(t, host, i) ; t[i] = 0 ;
      if (setenv(var[k], t, 1)) return 0 ;
    }
  }
  return 1 ;
}

int dotqmail_setenv (char const *user, char const *home, char const *local, char const *ext,
  char const *host, char const *sender, char const *dflt, time_t when)
{
  stralloc sa = STRALLOC_ZERO ;
  char const *x = ext ;
  int ok = 0 ;
  if (setenv("USER", user, 1) || setenv("HOME", home, 1) || setenv("LOCAL", local, 1)
   || setenv("HOST", host, 1) || setenv("SENDER", sender, 1) || setenv("EXT", ext, 1)) return 0 ;
  x += strcspn(x, "-") ; if (*x) x++ ;
  if (setenv("EXT2", x, 1)) return 0 ;
  x += strcspn(x, "-") ; if (*x) x++ ;
  if (setenv("EXT3", x, 1)) return 0 ;
  x += strcspn(x, "-") ; if (*x) x++ ;
  if (setenv("EXT4", x, 1)) return 0 ;
  if (!setenv_hosts(host)) return 0 ;
  if (dflt ? setenv("DEFAULT", dflt, 1) : unsetenv("DEFAULT")) return 0 ;
  if (!stralloc_cats(&sa, local) || !stralloc_catb(&sa, "@", 1) || !stralloc_cats(&sa, host) || !stralloc_0(&sa)
   || setenv("RECIPIENT", sa.s, 1)) goto end ;
  if (!dotqmail_dtline(&sa, local, host) || setenv("DTLINE", sa.s, 1)) goto end ;
  if (!dotqmail_rpline(&sa, sender) || setenv("RPLINE", sa.s, 1)) goto end ;
  if (!dotqmail_ufline(&sa, sender, when) || setenv("UFLINE", sa.s, 1)) goto end ;
  ok = 1 ;
 end:
  stralloc_free(&sa) ;
  return ok ;
}

int dotqmail_looping (int fd, char const *dtline)
{
  size_t want = strlen(dtline) ;
  char line[want + 2] ;    /* enough of each header line to compare it */
  size_t len = 0, full = 0 ;
  char buf[4096] ;
  if (want && dtline[want-1] == '\n') want-- ;
  for (;;)
  {
    ssize_t r = read(fd, buf, sizeof buf) ;
    if (r < 0) { if (errno == EINTR) continue ; return -1 ; }
    if (!r) return 0 ;
    for (ssize_t i = 0 ; i < r ; i++)
    {
      if (buf[i] != '\n')
      {
        if (len < sizeof line) line[len++] = buf[i] ;
        full++ ;
        continue ;
      }
      if (len && line[len-1] == '\r' && full == len) { len-- ; full-- ; }
      if (!full) return 0 ;   /* end of the header */
      if (full == want && !strncasecmp(line, dtline, want)) return 1 ;
      len = full = 0 ;
    }
  }
}

int dotqmail_tmpfile (void)
{
  char const *dir = getenv("TMPDIR") ;
  int t ;
  if (!dir || !*dir) dir = "/tmp" ;
  t = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600) ;
  if (t < 0)
  {
    size_t n = strlen(dir) ;
    char name[n + 24] ;
    memcpy(name, dir, n) ;
    memcpy(name + n, "/sluice-msg.XXXXXX", 19) ;
    t = mkostemp(name, O_CLOEXEC) ;
    if (t < 0) return -1 ;
    unlink(name) ;
  }
  return t ;
}

int dotqmail_copy (int fd)
{
  char buf[65536] ;
  int t = dotqmail_tmpfile() ;
  if (t < 0) return -1 ;
  for (;;)
  {
    ssize_t r = read(fd, buf, sizeof buf) ;
    if (r < 0) { if (errno == EINTR) continue ; goto err ; }
    if (!r) break ;
    if (allwrite(t, buf, r) < (size_t)r) goto err ;
  }
  if (lseek(t, 0, SEEK_SET) < 0) goto err ;
  return t ;
 err:
  {
    int e = errno ;
    close(t) ;
    errno = e ;
  }
  return -1 ;
}

int dotqmail_seekable (int fd, off_t *start)
{
  off_t pos = lseek(fd, 0, SEEK_CUR) ;
  if (pos >= 0) { *start = pos ; return fd ; }
  if (errno != ESPIPE) return -1 ;
  *start = 0 ;
  return dotqmail_copy(fd) ;
}

int dotqmail_exitclass (int wstat)
{
  if (!WIFEXITED(wstat)) return 111 ;
  switch (WEXITSTATUS(wstat))
  {
    case 0 : return 0 ;
    case 99 : return 99 ;
    case 100 : case 64 : case 65 : case 70 : case 76 : case 77 : case 78 : case 112 : return 100 ;
    default : return 111 ;
  }
}

/* a child starts with no signal blocked and SIGPIPE, SIGXFSZ as default, whatever we inherited or set */
static void child_signals (void)
{
  sigset_t none ;
  sigemptyset(&none) ;
  sigprocmask(SIG_SETMASK, &none, 0) ;
  signal(SIGPIPE, SIG_DFL) ;
  signal(SIGXFSZ, SIG_DFL) ;
}

static int waitfor (pid_t pid, int *wstat)
{
  pid_t r ;
  do r = waitpid(pid, wstat, 0) ; while (r < 0 && errno == EINTR) ;
  return r == pid ;
}

int dotqmail_runsh (char const *cmd, int msgfd, off_t start, int *wstat)
{
  pid_t pid ;
  if (lseek(msgfd, start, SEEK_SET) < 0) return 0 ;
  pid = fork() ;
  if (pid < 0) return 0 ;
  if (!pid)
  {
    if ((msgfd && dup2(msgfd, 0) < 0) || dup2(2, 1) < 0) strerr_diefusys(111, "set up the descriptors of ", cmd) ;
    child_signals() ;
    execl("/bin/sh", "sh", "-c", cmd, (char *)0) ;
    strerr_diefusys(111, "run /bin/sh") ;
  }
  return waitfor(pid, wstat) ;
}

int dotqmail_run (char const *const *argv, int *wstat)
{
  pid_t pid = fork() ;
  if (pid < 0) return 0 ;
  if (!pid)
  {
    child_signals() ;
    execvp(argv[0], (char *const *)argv) ;
    strerr_diefusys(111, "run ", argv[0]) ;
  }
  return waitfor(pid, wstat) ;
}

char const *dotqmail_queueprog (void)
{
  char const *p = getenv("QMAILQUEUE") ;
  return p && *p ? p : "queue-inject" ;
}

int dotqmail_forward (int msgfd, char const *dtline, char const *sender, char const *const *rcpts, size_t n)
{
  qqueue q = QQUEUE_ZERO ;
  stralloc env = STRALLOC_ZERO ;
  char buf[65536] ;
  int broken = 0 ;
  int code ;
  size_t len = strlen(dtline) ;
  if (!qqueue_envelope_add(&env, 'F', sender)) goto nomem ;
  for (size_t i = 0 ; i < n ; i++) if (!qqueue_envelope_add(&env, 'T', rcpts[i])) goto nomem ;
  if (!qqueue_start(&q, env.s, env.len)) { int e = errno ; stralloc_free(&env) ; errno = e ; return -2 ; }
  if (!qqueue_write(&q, dtline, len)) broken = 1 ;
  for (;;)
  {
    ssize_t r = read(msgfd, buf, sizeof buf) ;
    if (r < 0)
    {
      int e ;
      if (errno == EINTR) continue ;
      e = errno ;
      qqueue_abort(&q) ;
      stralloc_free(&env) ;
      errno = e ;
      return -1 ;
    }
    if (!r) break ;
    /* once the program stopped reading, only its exit code matters */
    if (!broken && !qqueue_write(&q, buf, r)) broken = 1 ;
  }
  code = qqueue_finish(&q) ;
  stralloc_free(&env) ;
  return broken && !code ? 54 : code ;
 nomem:
  stralloc_free(&env) ;
  errno = ENOMEM ;
  return -1 ;
}

void dotqmail_forward_or_die (char const *sender, char const *const *rcpts, size_t n)
{
  stralloc dt = STRALLOC_ZERO ;
  char const *dtline = getenv("DTLINE") ;
  int code ;
  if (!dtline) strerr_dienotset(100, "DTLINE") ;
  if (!stralloc_cats(&dt, dtline) || (dt.len && dt.s[dt.len-1] != '\n' && !stralloc_catb(&dt, "\n", 1)) || !stralloc_0(&dt))
    strerr_diefu1sys(111, "allocate memory") ;
  code = dotqmail_forward(0, dt.s, sender, rcpts, n) ;
  stralloc_free(&dt) ;
  if (code == -2) strerr_diefu2sys(111, "forward the message: unable to run the queue program ", dotqmail_queueprog()) ;
  if (code < 0) strerr_diefu1sys(111, "read the message") ;
  if (code)
  {
    char fmt[UINT_FMT] ;
    fmt[uint_fmt(fmt, code)] = 0 ;
    strerr_diefu5x(qqueue_permanent(code) ? 100 : 111, "forward the message: ", qqueue_strerror(code), " (queue exit ", fmt, ")") ;
  }
}

int dotqmail_test_or_die (char const *const *argv)
{
  int wstat ;
  if (!dotqmail_run(argv, &wstat)) strerr_diefu2sys(111, "run ", argv[0]) ;
  if (WIFSIGNALED(wstat))
  {
    char fmt[UINT_FMT] ;
    fmt[uint_fmt(fmt, WTERMSIG(wstat))] = 0 ;
    strerr_dief4x(111, argv[0], " crashed (signal ", fmt, ")") ;
  }
  switch (WEXITSTATUS(wstat))
  {
    case 0 : return 1 ;
    case 111 : strerr_dief2x(111, argv[0], " failed temporarily (exit 111)") ;
    default : return 0 ;
  }
}
