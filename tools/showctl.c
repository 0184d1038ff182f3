/* showctl: every control file of the instance ($SLUICEDIR/control/): its value as the tools
   read it, its default when it is missing, and which tools read it; files there that no
   tool reads are named too (a misspelt name is a setting that silently does nothing). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <cdb.h>
#include <skalibs/buffer.h>
#include <skalibs/sgetopt.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "control.h"

#define USAGE "showctl [ name... ]"
#define dieusage() strerr_dieusage(100, USAGE)

enum { LINE, LINES, NUMBER, CDB, TEXT } ;

typedef struct ctl_s { char const *name ; int kind ; char const *dflt ; char const *readers ; } ctl ;

/* kept in step with the FILES sections of the readers' man pages */
static ctl const table[] =
{
  { "authdomain", LINE, "none: logins must name their domain", "smtpd auth-check" },
  { "authfaildelay", NUMBER, "1000 (milliseconds)", "auth-check" },
  { "authfailmax", NUMBER, "10", "auth-check" },
  { "authfailwindow", NUMBER, "900 (seconds)", "auth-check" },
  { "authservid", LINE, "me", "auth-results" },
  { "badmailfrom", LINES, "none", "smtpd" },
  { "bouncefrom", LINE, "MAILER-DAEMON", "queue-run" },
  { "bouncehost", LINE, "me", "queue-run" },
  { "bouncemaxbytes", NUMBER, "50000", "queue-run" },
  { "concurrencydestination", NUMBER, "20", "queue-spawn" },
  { "concurrencylocal", NUMBER, "10", "queue-run" },
  { "concurrencyremote", NUMBER, "20", "queue-run queue-spawn" },
  { "databytes", NUMBER, "0 (no limit)", "smtpd" },
  { "defaultdelivery", TEXT, "./Maildir/", "queue-run queue-spawn" },
  { "defaultdomain", LINE, "me", "mail-inject sendmail" },
  { "defaulthost", LINE, "me", "mail-inject sendmail" },
  { "delaywarning", NUMBER, "0 (no delay warnings)", "queue-run" },
  { "dkimheaders", LINES, "From Sender Reply-To Subject Date Message-ID To Cc, the MIME fields, In-Reply-To References List-*", "dkim-sign" },
  { "dkimpolicy", LINE, "any", "dkim-sign" },
  { "dmarcexceptions", LINES, "none", "auth-results" },
  { "dmarcpolicy", LINE, "tag", "auth-results" },
  { "doublebouncehost", LINE, "me", "queue-run" },
  { "doublebounceto", LINE, "postmaster", "queue-run" },
  { "helohost", LINE, "me", "remote-deliver queue-remote" },
  { "idhost", LINE, "me", "mail-inject sendmail" },
  { "localiphost", LINE, "me", "smtpd" },
  { "locals", LINES, "me", "queue-run queue-spawn" },
  { "mailowner", LINE, "the user vpopmail (sluice-ctl init writes it)", "mail-user sluice-ctl" },
  { "maxbadcommands", NUMBER, "20", "smtpd" },
  { "maxrcpt", NUMBER, "100", "smtpd" },
  { "me", LINE, "the host name (queue-run needs it set)", "smtpd queue-run queue-spawn remote-deliver queue-remote mail-inject sendmail autorespond" },
  { "mindatarate", NUMBER, "500 (bytes a second; 0: none)", "smtpd" },
  { "morercpthosts", LINES, "none", "newmrh (compiles it into morercpthosts.cdb)" },
  { "morercpthosts.cdb", CDB, "none", "smtpd" },
  { "outgoingip", LINES, "none: the system picks", "remote-deliver queue-remote" },
  { "passwordhash", LINE, "yescrypt", "mail-user" },
  { "publicsuffix", LINE, "/usr/share/publicsuffix/public_suffix_list.dat", "auth-results" },
  { "queuelifetime", NUMBER, "604800 (seconds)", "queue-run" },
  { "rcpthosts", LINES, "none: only the users database's domains", "smtpd" },
  { "sessioncachetime", NUMBER, "2 (seconds)", "queue-spawn" },
  { "smtpgreeting", LINE, "me", "smtpd" },
  { "smtproutes", LINES, "none: MX records", "remote-deliver queue-remote" },
  { "timeoutconnect", NUMBER, "60 (seconds)", "remote-deliver queue-remote" },
  { "timeoutremote", NUMBER, "1200 (seconds)", "remote-deliver queue-remote" },
  { "timeoutsession", NUMBER, "3600 (seconds)", "smtpd" },
  { "timeoutsmtpd", NUMBER, "1200 (seconds)", "smtpd" },
  { "tlscafile", LINE, "/etc/ssl/certs/ca-certificates.crt", "remote-deliver queue-remote" },
  { "tlsdestinations", LINES, "none", "remote-deliver queue-remote" },
  { "userdb", LINE, "cdb", "smtpd auth-check queue-run queue-spawn queue-list mail-user" },
  { "userdbtimeout", NUMBER, "5000 (milliseconds)", "smtpd auth-check queue-run queue-spawn queue-list mail-user (the mysql backend)" },
} ;
#define NCTL (sizeof table / sizeof *table)

static int failed = 0 ;

static void out (char const *s)
{
  if (buffer_puts(buffer_1, s) < 0) strerr_diefu1sys(111, "write to stdout") ;
}

static void outb (char const *s, size_t n)
{
  if (buffer_put(buffer_1, s, n) < 0) strerr_diefu1sys(111, "write to stdout") ;
}

static void path_of (stralloc *p, char const *name)
{
  p->len = 0 ;
  if (!stralloc_cats(p, control_root()) || !stralloc_cats(p, "/control/") || !stralloc_cats(p, name) || !stralloc_0(p))
    strerr_diefu1sys(111, "allocate memory") ;
}

/* the file, whole: 1 read, 0 missing, -1 error (said, and remembered for the exit code) */
static int slurp (char const *name, stralloc *sa)
{
  stralloc p = STRALLOC_ZERO ;
  int fd ;
  path_of(&p, name) ;
  sa->len = 0 ;
  fd = open(p.s, O_RDONLY | O_CLOEXEC) ;
  if (fd < 0)
  {
    int r = errno == ENOENT ? 0 : -1 ;
    if (r) { strerr_warnwu2sys("read ", p.s) ; failed = 1 ; }
    stralloc_free(&p) ;
    return r ;
  }
  for (;;)
  {
    ssize_t r ;
    if (!stralloc_readyplus(sa, 65536)) strerr_diefu1sys(111, "allocate memory") ;
    r = read(fd, sa->s + sa->len, 65536) ;
    if (r < 0) { if (errno == EINTR) continue ; strerr_warnwu2sys("read ", p.s) ; failed = 1 ; close(fd) ; stralloc_free(&p) ; return -1 ; }
    if (!r) break ;
    sa->len += r ;
  }
  close(fd) ;
  stralloc_free(&p) ;
  return 1 ;
}

/* each line as the tools take it: trailing blanks cut; comments and empty lines too for
   lists (keep): shown indented */
static size_t show_lines (stralloc const *sa, int list, size_t max)
{
  size_t n = 0 ;
  for (size_t pos = 0 ; pos < sa->len && n < max ; )
  {
    char const *s = sa->s + pos ;
    char const *nl = memchr(s, '\n', sa->len - pos) ;
    size_t l = nl ? (size_t)(nl - s) : sa->len - pos ;
    pos += l + 1 ;
    while (l && (s[l-1] == ' ' || s[l-1] == '\t' || s[l-1] == '\r')) l-- ;
    if (list && (!l || s[0] == '#')) continue ;
    out("  | ") ; outb(s, l) ; out("\n") ;
    n++ ;
  }
  return n ;
}

static void show (ctl const *c)
{
  stralloc sa = STRALLOC_ZERO ;
  char fmt[SIZE_FMT] ;
  int r = c->kind == CDB ? 0 : slurp(c->name, &sa) ;
  out(c->name) ;
  if (c->kind == CDB)
  {
    stralloc p = STRALLOC_ZERO ;
    int fd ;
    path_of(&p, c->name) ;
    fd = open(p.s, O_RDONLY | O_CLOEXEC) ;
    if (fd < 0)
    {
      if (errno != ENOENT) { strerr_warnwu2sys("read ", p.s) ; failed = 1 ; r = -1 ; }
    }
    else
    {
      struct cdb db ;
      unsigned int pos ;
      size_t n = 0 ;
      if (cdb_init(&db, fd) < 0) { strerr_warnwu2sys("read ", p.s) ; failed = 1 ; r = -1 ; }
      else
      {
        cdb_seqinit(&pos, &db) ;
        while (cdb_seqnext(&pos, &db) > 0) n++ ;
        cdb_free(&db) ;
        out(": a cdb of ") ; outb(fmt, size_fmt(fmt, n)) ; out(n == 1 ? " entry\n" : " entries\n") ;
        r = 1 ;
      }
      close(fd) ;
    }
    stralloc_free(&p) ;
  }
  else if (r > 0)
  {
    if (c->kind == LINES || c->kind == TEXT)
    {
      out(":\n") ;
      if (!show_lines(&sa, 1, (size_t)-1)) out("  (no entries)\n") ;
    }
    else
    {
      char const *nl = memchr(sa.s, '\n', sa.len) ;
      size_t l = nl ? (size_t)(nl - sa.s) : sa.len ;
      while (l && (sa.s[l-1] == ' ' || sa.s[l-1] == '\t' || sa.s[l-1] == '\r')) l-- ;
      out(": ") ; outb(sa.s, l) ;
      if (c->kind == NUMBER)
      {
        unsigned long u ;
        size_t k = l ? ulong_scan(sa.s, &u) : 0 ;
        if (!k || k != l) out("  (not a number: the tools reading it stop with an error)") ;
      }
      out("\n") ;
    }
  }
  if (r == 0) out(": not set\n") ;
  if (r < 0) out(": unreadable\n") ;
  out("  default: ") ; out(c->dflt) ; out("\n  read by: ") ; out(c->readers) ; out("\n") ;
  stralloc_free(&sa) ;
}

static ctl const *find (char const *name)
{
  for (size_t i = 0 ; i < NCTL ; i++) if (!strcmp(table[i].name, name)) return table + i ;
  return 0 ;
}

int main (int argc, char const *const *argv)
{
  PROG = "showctl" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    if (subgetopt_r(argc, argv, "", &l) != -1) dieusage() ;
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc)
  {
    for (int i = 0 ; i < argc ; i++)
    {
      ctl const *c = find(argv[i]) ;
      if (!c) strerr_dief3x(100, "no sluice tool reads control/", argv[i], " (see showctl(8) for the list)") ;
      show(c) ;
    }
  }
  else
  {
    stralloc p = STRALLOC_ZERO ;
    DIR *d ;
    out("control directory: ") ; out(control_root()) ; out("/control\n") ;
    for (size_t i = 0 ; i < NCTL ; i++) show(table + i) ;
    path_of(&p, "") ;
    d = opendir(p.s) ;
    if (!d) { if (errno != ENOENT) { strerr_warnwu2sys("open ", p.s) ; failed = 1 ; } }
    else
    {
      for (;;)
      {
        struct dirent *e ;
        errno = 0 ;
        e = readdir(d) ;
        if (!e) { if (errno) { strerr_warnwu2sys("read ", p.s) ; failed = 1 ; } break ; }
        if (e->d_name[0] == '.' || find(e->d_name)) continue ;
        out(e->d_name) ; out(": no sluice tool reads this file\n") ;
      }
      closedir(d) ;
    }
    stralloc_free(&p) ;
  }
  if (!buffer_flush(buffer_1)) strerr_diefu1sys(111, "write to stdout") ;
  return failed ? 111 : 0 ;
}
