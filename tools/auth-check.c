/* auth-check: the checkpassword interface for virtual mail users: read login and password on
   fd 3, check them against the user database, then become the user and exec prog. */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/env.h>
#include <skalibs/exec.h>
#include <skalibs/sgetopt.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "authfail.h"
#include "control.h"
#include "logtext.h"
#include "passwd.h"
#include "userdb.h"

#define USAGE "auth-check [ -n ] [ -d domain ] [ -w millisecs ] [ -t secs ] prog..."
#define dieusage() strerr_dieusage(2, USAGE)

#define INMAX 512

static char const *remoteip ;

/* failed logins of the client's address, shared with every other auth-check */
static authfail af = AUTHFAIL_ZERO ;
static authfail_policy pol = AUTHFAIL_POLICY_DEFAULT ;
static stralloc afpath = STRALLOC_ZERO ;

static long long now_ms (void)
{
  struct timespec ts ;
  clock_gettime(CLOCK_MONOTONIC, &ts) ;
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 ;
}

/* login\0password\0timestamp\0 from fd 3: at most INMAX bytes, before the deadline */
static size_t read_fd3 (char *buf, unsigned int timeout)
{
  long long deadline = now_ms() + (long long)timeout * 1000 ;
  size_t len = 0 ;
  for (;;)
  {
    struct pollfd p = { .fd = 3, .events = POLLIN, .revents = 0 } ;
    long long left = deadline - now_ms() ;
    ssize_t r ;
    if (left <= 0) strerr_dief1x(2, "timed out reading the login on descriptor 3") ;
    r = poll(&p, 1, left > 60000 ? 60000 : (int)left) ;
    if (r < 0) { if (errno == EINTR) continue ; strerr_diefu1sys(111, "poll descriptor 3") ; }
    if (!r) continue ;
    if (p.revents & POLLNVAL) strerr_dief1x(2, "descriptor 3 is not open: give login\\0password\\0 on it") ;
    r = read(3, buf + len, INMAX + 1 - len) ;
    if (r < 0)
    {
      if (errno == EINTR || errno == EAGAIN) continue ;
      strerr_diefu1sys(errno == EBADF ? 2 : 111, "read descriptor 3") ;
    }
    if (!r) break ;
    len += r ;
    if (len > INMAX) strerr_dief1x(2, "more than 512 bytes on descriptor 3") ;
  }
  close(3) ;
  return len ;
}

/* "auth-check: word ip login [reason]" on stderr, the login made safe; never the password */
static void log_event (char const *word, char const *login, char const *reason)
{
  stralloc sa = STRALLOC_ZERO ;
  char const *ip = remoteip ? remoteip : "-" ;
  int ok = stralloc_cats(&sa, PROG) && stralloc_cats(&sa, ": ") && stralloc_cats(&sa, word) && stralloc_catb(&sa, " ", 1)
        && logtext_cat(&sa, ip, strlen(ip), 64, " ") && stralloc_catb(&sa, " ", 1)
        && (login[0] ? logtext_cat(&sa, login, strlen(login), 128, " ") : stralloc_catb(&sa, "-", 1))
        && (!reason || (stralloc_catb(&sa, " ", 1) && stralloc_cats(&sa, reason)))
        && stralloc_catb(&sa, "\n", 1) ;
  if (ok) allwrite(2, sa.s, sa.len) ;
  stralloc_free(&sa) ;
}

/* one more failure of the client's address, logged with its count and the delay it gets,
   then the delay, then exit 1 */
static void reject (char const *login, char const *reason, unsigned int delay)
{
  unsigned long ms = delay ;
  char why[64 + 2 * UINT_FMT + ULONG_FMT] ;
  size_t n = strlen(reason) ;
  memcpy(why, reason, n + 1) ;
  if (af.fd >= 0)
  {
    uint32_t fails ;
    if (authfail_record(&af, &pol, time(0), &fails) < 0) strerr_diefu2sys(111, "write ", afpath.s) ;
    authfail_close(&af) ;   /* no lock held while sleeping: the file is only open, and not now */
    ms = authfail_delay(&pol, delay, fails) ;
    memcpy(why + n, " failures=", 10) ; n += 10 ;
    n += uint_fmt(why + n, fails) ;
    memcpy(why + n, " delay=", 7) ; n += 7 ;
    n += ulong_fmt(why + n, ms) ;
    memcpy(why + n, "ms", 3) ;
  }
  log_event("reject", login, why) ;
  if (ms)
  {
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 } ;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) ;
  }
  _exit(1) ;
}

static void read_policy (void)
{
  static char const *const names[3] = { "authfailmax", "authfailwindow", "authfaildelay" } ;
  unsigned long *const v[3] = { &pol.max, &pol.window, &pol.delay } ;
  unsigned int i ;
  for (i = 0 ; i < 3 ; i++)
    if (control_readulong(v[i], names[i], *v[i]) < 0) strerr_diefu2sys(111, "read control/", names[i]) ;
  if (!pol.window) pol.window = 1 ;
}

int main (int argc, char const *const *argv)
{
  char buf[INMAX + 2] ;
  stralloc dflt = STRALLOC_ZERO, local = STRALLOC_ZERO, domain = STRALLOC_ZERO, dummy = STRALLOC_ZERO ;
  stralloc modifs = STRALLOC_ZERO ;
  userdb db = USERDB_ZERO ;
  userdb_user u = USERDB_USER_ZERO ;
  char const *login, *password, *hash ;
  unsigned int delay = 2000, timeout = 10 ;
  size_t len, n ;
  int found = 0, ok, checkonly = 0 ;
  PROG = "auth-check" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "nd:w:t:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'n' : checkonly = 1 ; break ;
        case 'd' : if (!stralloc_cats(&dflt, l.arg) || !stralloc_0(&dflt)) strerr_diefu1sys(111, "allocate memory") ; break ;
        case 'w' : if (!uint0_scan(l.arg, &delay)) dieusage() ; break ;
        case 't' : if (!uint0_scan(l.arg, &timeout) || !timeout) dieusage() ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc < 1) dieusage() ;
  remoteip = getenv("TCPREMOTEIP") ;
  if (!dflt.len && control_readline(&dflt, "authdomain", 0) < 0) strerr_diefu1sys(111, "read control/authdomain") ;

  len = read_fd3(buf, timeout) ;
  buf[len] = 0 ;
  login = buf ;
  n = strlen(login) ;
  if (n >= len) strerr_dief1x(2, "truncated input on descriptor 3: no login\\0password\\0") ;
  password = buf + n + 1 ;
  if (n + 1 + strlen(password) >= len) strerr_dief1x(2, "truncated input on descriptor 3: no password\\0") ;

  /* an address with too many failures lately is refused before any hash is computed */
  read_policy() ;
  if (!stralloc_cats(&afpath, control_root()) || !stralloc_cats(&afpath, "/authfail") || !stralloc_0(&afpath))
    strerr_diefu1sys(111, "allocate memory") ;
  {
    uint32_t fails ;
    int r = authfail_open(&af, afpath.s, remoteip) ;
    if (r < 0) strerr_diefu2sys(111, "open ", afpath.s) ;
    if (r)
    {
      r = authfail_blocked(&af, &pol, time(0), &fails) ;
      if (r < 0) strerr_diefu2sys(111, "read ", afpath.s) ;
      if (r) { explicit_bzero(buf + n + 1, len - n - 1) ; reject(login, "blocked", delay) ; }
    }
  }

  if (!userdb_open(&db, 0)) strerr_diefu1sys(111, "open the user database") ;
  {
    int r = userdb_split(login, dflt.len && dflt.s[0] ? dflt.s : 0, &local, &domain) ;
    if (r < 0) strerr_diefu1sys(111, "allocate memory") ;
    if (r)
    {
      r = userdb_lookup_user(&db, local.s, domain.s, &u) ;
      if (r < 0) strerr_diefu1sys(111, "read the user database") ;
      found = r && !(u.flags & USERDB_ALIAS) ;
    }
  }
  /* an unknown user costs one hash too, so that the time does not tell */
  if (found) hash = u.hash ;
  else
  {
    if (userdb_dummy(&db, &dummy) < 0) strerr_diefu1sys(111, "read the user database") ;
    hash = dummy.s ;
  }
  ok = passwd_verify(password, hash) ;
  explicit_bzero(buf + n + 1, len - n - 1) ;
  if (!found) reject(login, "nouser", delay) ;
  if (!ok) reject(login, "badpassword", delay) ;
  if (u.flags & USERDB_DISABLED) reject(login, "disabled", delay) ;

  if (!u.uid || !u.gid) strerr_dief2x(111, "refused: uid or gid 0 for ", u.domain) ;
  {
    size_t hl = strlen(u.home) ;
    char addr[strlen(u.local) + strlen(u.domain) + 2] ;
    char maildir[hl + 9] ;
    memcpy(maildir, u.home, hl) ;
    memcpy(maildir + hl, "/Maildir", 9) ;
    memcpy(addr, u.local, strlen(u.local)) ;
    addr[strlen(u.local)] = '@' ;
    memcpy(addr + strlen(u.local) + 1, u.domain, strlen(u.domain) + 1) ;
    if (!env_addmodif(&modifs, "USER", addr) || !env_addmodif(&modifs, "HOME", u.home)
     || !env_addmodif(&modifs, "MAILDIR", maildir) || !env_addmodif(&modifs, "AUTHUSER", u.local)
     || !env_addmodif(&modifs, "AUTHDOMAIN", u.domain))
      strerr_diefu1sys(111, "build the environment") ;
    /* -n (SMTP AUTH): the check alone, prog stays who we are, where we are */
    if (!checkonly)
    {
      if (geteuid() != u.uid || getegid() != u.gid)
        if (setgroups(1, &u.gid) < 0 || setgid(u.gid) < 0 || setuid(u.uid) < 0)
          strerr_diefu2sys(111, "change to the uid and gid of ", u.domain) ;
      if (chdir(u.home) < 0) strerr_diefu2sys(111, "chdir to ", u.home) ;
    }
    log_event("ok", addr, 0) ;
  }
  authfail_close(&af) ;
  userdb_close(&db) ;
  mexec_m(argv, modifs.s, modifs.len) ;
  /* not found or not executable: still a temporary failure for the caller, never 126/127 */
  strerr_diefu2sys(111, "run ", argv[0]) ;
}
