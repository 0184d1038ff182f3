/* Every line of the .qmail file is a step, done in order (a run of forward lines is one
   step: one injection). Each step done is reported as it completes, so that a retry can skip
   the steps already done instead of delivering them twice. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/genalloc.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "dotqmail.h"
#include "localdeliver.h"
#include "maildir.h"
#include "mbox.h"
#include "qqueue.h"

#define MBOX_LOCK_TIMEOUT 30
#define MAILDIR_TIMEOUT 86400

typedef struct step_s step ;
struct step_s
{
  unsigned int kind ;
  size_t first ;    /* index in the parsed lines */
  size_t count ;    /* more than one for a run of forward lines */
} ;

/* one delivery's working state; the allocations are kept from one delivery to the next */
typedef struct ld_s ld ;
struct ld_s
{
  localdeliver const *a ;
  localdeliver_result *r ;
  char const *qmailfile ;        /* the file the steps come from, for messages */
  stralloc text ;                /* the .qmail file, parsed in place */
  genalloc lines ;               /* dotqmail_line */
  genalloc steps ;               /* step */
  stralloc name ;                /* the .qmail file's name */
  stralloc dtline ;
  stralloc newsender ;
  stralloc tmp ;
  int msg ;
  off_t msgstart ;
  int progfd ;                   /* the message at offset 0, for programs; -1 until needed */
} ;

static ld g = { .text = STRALLOC_ZERO, .lines = GENALLOC_ZERO, .steps = GENALLOC_ZERO, .name = STRALLOC_ZERO,
  .dtline = STRALLOC_ZERO, .newsender = STRALLOC_ZERO, .tmp = STRALLOC_ZERO, .msg = -1, .progfd = -1 } ;

static dotqmail_line const *line_at (size_t i) { return genalloc_s(dotqmail_line, &g.lines) + i ; }

static char const *kindname (unsigned int kind)
{
  switch (kind)
  {
    case DOTQMAIL_MAILDIR : return "maildir" ;
    case DOTQMAIL_MBOX : return "mbox" ;
    case DOTQMAIL_PROGRAM : return "program" ;
    default : return "forward" ;
  }
}

/* r->text = the concatenation of the strings (0 ends the list), r->code = code; 0 */
#define fail(code, s1, s2, s3, s4, s5) fail6(code, s1, s2, s3, s4, s5, 0)
static int fail6 (int code, char const *s1, char const *s2, char const *s3, char const *s4, char const *s5, char const *s6)
{
  char const *s[6] = { s1, s2, s3, s4, s5, s6 } ;
  g.r->code = code ;
  g.r->text.len = 0 ;
  for (unsigned int i = 0 ; i < 6 && s[i] ; i++)
    if (!stralloc_cats(&g.r->text, s[i])) break ;
  if (!stralloc_0(&g.r->text)) g.r->code = 111 ;
  return 0 ;
}

static int failsys (char const *what, char const *arg)
{
  return fail(111, "unable to ", what, arg, ": ", strerror(errno)) ;
}

static int nomem (void) { return fail(111, "out of memory", 0, 0, 0, 0) ; }

/* fail naming the .qmail line of step st */
static int fail_at (int code, step const *st, char const *a, char const *b, char const *c)
{
  char fmt[UINT_FMT] ;
  char at[strlen(g.qmailfile) + UINT_FMT + 10] ;
  fmt[uint_fmt(fmt, line_at(st->first)->lineno)] = 0 ;
  strcpy(at, g.qmailfile) ; strcat(at, " line ") ; strcat(at, fmt) ; strcat(at, ": ") ;
  return fail(code, at, a, b, c, 0) ;
}

/* "WORD N kind arg..." to the caller: the record a retry relies on. A long list of forward
   addresses is cut short: the step number is what counts. */
static int report (char const *word, size_t n, step const *st)
{
  stralloc *sa = &g.tmp ;
  char fmt[SIZE_FMT] ;
  size_t shown = st->count > 10 ? 10 : st->count ;
  sa->len = 0 ;
  fmt[size_fmt(fmt, n)] = 0 ;
  if (!stralloc_cats(sa, word) || !stralloc_catb(sa, " ", 1) || !stralloc_cats(sa, fmt)
   || !stralloc_catb(sa, " ", 1) || !stralloc_cats(sa, kindname(st->kind))) return nomem() ;
  for (size_t i = 0 ; i < shown ; i++)
    if (!stralloc_catb(sa, " ", 1) || !stralloc_cats(sa, g.text.s + line_at(st->first + i)->arg)) return nomem() ;
  if (shown < st->count)
  {
    fmt[size_fmt(fmt, st->count)] = 0 ;
    if (!stralloc_cats(sa, " ... (") || !stralloc_cats(sa, fmt) || !stralloc_cats(sa, " addresses)")) return nomem() ;
  }
  if (!stralloc_catb(sa, "\n", 1)) return nomem() ;
  if (g.a->report) (*g.a->report)(g.a->ctx, sa->s, sa->len) ;
  return 1 ;
}

static int rewind_msg (void)
{
  if (lseek(g.msg, g.msgstart, SEEK_SET) < 0) return failsys("rewind the message", "") ;
  return 1 ;
}

static int do_maildir (step const *st)
{
  char const *dir = g.text.s + line_at(st->first)->arg ;
  maildir_opts o = MAILDIR_OPTS_ZERO ;
  maildir_result mr ;
  o.rpline = getenv("RPLINE") ;
  o.dtline = getenv("DTLINE") ;
  o.timeout = MAILDIR_TIMEOUT ;
  if (g.a->quota_set) { o.quota_set = 1 ; o.quota = g.a->quota ; }
  if (!rewind_msg()) return 0 ;
  if (!maildir_deliver(dir, g.msg, &o, &mr))
  {
    char err[1024] ;
    maildir_strerror(&mr, dir, err, sizeof err) ;
    return fail_at(mr.code, st, err, "", "") ;
  }
  return 1 ;
}

static int do_mbox (step const *st)
{
  char const *path = g.text.s + line_at(st->first)->arg ;
  char const *what ;
  if (!rewind_msg()) return 0 ;
  if (!mbox_deliver(path, g.msg, getenv("UFLINE"), getenv("RPLINE"), getenv("DTLINE"), MBOX_LOCK_TIMEOUT, &what))
  {
    if (errno == ETIMEDOUT) return fail_at(111, st, "mailbox ", path, " has been locked for 30 seconds (#4.2.1)") ;
    {
      char const *why = strerror(errno) ;
      char w[strlen(what) + strlen(path) + 16] ;
      strcpy(w, "unable to ") ; strcat(w, what) ; strcat(w, " ") ; strcat(w, path) ;
      return fail_at(111, st, w, ": ", why) ;
    }
  }
  return 1 ;
}

/* the message at offset 0 of a file of its own: a program may seek back to the start of its
   input, which must then be the message, not what comes before it in the caller's file */
static int progmsg (int *fd, off_t *start)
{
  if (!g.msgstart) { *fd = g.msg ; *start = 0 ; return 1 ; }
  if (g.progfd < 0)
  {
    if (!rewind_msg()) return 0 ;
    g.progfd = dotqmail_copy(g.msg) ;
    if (g.progfd < 0) return failsys("make a copy of the message for a program", "") ;
  }
  *fd = g.progfd ; *start = 0 ;
  return 1 ;
}

/* 1 go on, 2 stop here (the program said 99), 0 failed */
static int do_program (step const *st)
{
  char const *cmd = g.text.s + line_at(st->first)->arg ;
  int wstat, fd = -1 ;
  off_t start = 0 ;
  char fmt[UINT_FMT] ;
  if (!progmsg(&fd, &start)) return 0 ;
  if (!dotqmail_runsh(cmd, fd, start, &wstat)) return fail_at(111, st, "unable to run the program: ", strerror(errno), "") ;
  switch (dotqmail_exitclass(wstat))
  {
    case 0 : return 1 ;
    case 99 : return 2 ;
    case 100 :
      fmt[uint_fmt(fmt, WEXITSTATUS(wstat))] = 0 ;
      return fail_at(100, st, "the program failed permanently (exit ", fmt, ")") ;
    default :
      if (WIFSIGNALED(wstat))
      {
        fmt[uint_fmt(fmt, WTERMSIG(wstat))] = 0 ;
        return fail_at(111, st, "the program crashed (signal ", fmt, ")") ;
      }
      fmt[uint_fmt(fmt, WEXITSTATUS(wstat))] = 0 ;
      return fail_at(111, st, "the program failed temporarily (exit ", fmt, ")") ;
  }
}

static int do_forward (step const *st, char const *newsender)
{
  char const **rcpts = malloc(st->count * sizeof *rcpts) ;   /* a list may be long */
  int code ;
  if (!rcpts) return nomem() ;
  for (size_t i = 0 ; i < st->count ; i++) rcpts[i] = g.text.s + line_at(st->first + i)->arg ;
  if (!rewind_msg()) { free(rcpts) ; return 0 ; }
  code = dotqmail_forward(g.msg, getenv("DTLINE"), newsender, rcpts, st->count) ;
  free(rcpts) ;
  if (code == -2)
  {
    char const *why = strerror(errno) ;
    char w[strlen(why) + 3] ;
    strcpy(w, ": ") ; strcat(w, why) ;
    return fail_at(111, st, "unable to forward the message: unable to run the queue program ", dotqmail_queueprog(), w) ;
  }
  if (code < 0) return fail_at(111, st, "unable to forward the message: unable to read it: ", strerror(errno), "") ;
  if (code)
  {
    char fmt[UINT_FMT] ;
    char const *why = qqueue_strerror(code) ;
    char w[strlen(why) + UINT_FMT + 24] ;
    fmt[uint_fmt(fmt, code)] = 0 ;
    strcpy(w, why) ; strcat(w, " (queue exit ") ; strcat(w, fmt) ; strcat(w, ")") ;
    return fail_at(qqueue_permanent(code) ? 100 : 111, st, "unable to forward the message: ", w, "") ;
  }
  return 1 ;
}

/* the home directory: ours, not writable by others, not being edited */
static int check_home (void)
{
  struct stat st ;
  if (stat(".", &st) < 0) return failsys("stat the home directory ", g.a->home) ;
  if (g.a->doit && st.st_uid != geteuid())
  {
    char u1[UINT64_FMT], u2[UINT64_FMT] ;
    u1[uint64_fmt(u1, st.st_uid)] = 0 ;
    u2[uint64_fmt(u2, geteuid())] = 0 ;
    return fail(111, "the home directory belongs to uid ", u1, ", not to the delivery's uid ", u2, " (#4.7.0)") ;
  }
  if (st.st_mode & 022) return fail(111, "the home directory is group- or world-writable (#4.7.0)", 0, 0, 0, 0) ;
  if ((st.st_mode & S_ISVTX) && g.a->doit)
    return fail(111, "the home directory is sticky: the user is editing the .qmail file (#4.2.1)", 0, 0, 0, 0) ;
  return 1 ;
}

/* find and read the .qmail file into text (qmailfile names it): 1 found, 0 none, -1 failed */
static int read_dotqmail (char const *dash, char const *ext, int *forwardonly, long *defaultat)
{
  int fd ;
  *forwardonly = 0 ; *defaultat = -1 ;
  g.text.len = 0 ;
  switch (dotqmail_find(dash, ext, &g.name, &fd, forwardonly, defaultat))
  {
    case -1 : return failsys("open ", g.name.s) - 1 ;
    case -2 : return fail(111, g.name.s, " is group- or world-writable (#4.7.0)", 0, 0, 0) - 1 ;
    case 0 : return 0 ;
    default :
    {
      struct stat st ;
      if (g.a->doit && (fstat(fd, &st) < 0 || st.st_uid != geteuid()))
      {
        close(fd) ;
        return fail(111, g.name.s, " does not belong to the user the delivery runs as (#4.7.0)", 0, 0, 0) - 1 ;
      }
      if (!slurp(&g.text, fd)) { int e = errno ; close(fd) ; errno = e ; return failsys("read ", g.name.s) - 1 ; }
      close(fd) ;
      g.qmailfile = g.name.s ;
      return 1 ;
    }
  }
}

static int run (localdeliver const *a, int msgfd)
{
  char const *dflt = a->dflt ? a->dflt : "./Maildir/\n" ;
  char const *dash = a->dash, *ext = a->ext ;
  unsigned long files = 0, forwards = 0, programs = 0 ;
  int forwardonly = 0 ;
  long defaultat = -1 ;

  if (a->doit && !geteuid())
    return fail(111, "refusing to deliver as root: .qmail programs and files would have every privilege (#4.3.0)", 0, 0, 0, 0) ;
  if (chdir(a->home) < 0) return failsys("switch to ", a->home) ;
  if (!check_home()) return 0 ;
  if (!dotqmail_dtline(&g.dtline, a->local, a->host)) return nomem() ;
  if (a->doit)
  {
    int r ;
    g.msg = dotqmail_seekable(msgfd, &g.msgstart) ;
    if (g.msg < 0) return failsys("keep a copy of the message", "") ;
    if (!rewind_msg()) return 0 ;
    r = dotqmail_looping(g.msg, g.dtline.s) ;
    if (r < 0) return failsys("read the message", "") ;
    if (r) return fail(100, "this message is looping: it already has my Delivered-To line (#5.4.6)", 0, 0, 0, 0) ;
  }

  if (!a->nodotqmail)
  {
    int r = read_dotqmail(dash, ext, &forwardonly, &defaultat) ;
    if (r < 0) return 0 ;
    if (!r && *dash)
    {
      if (!a->extfallback) return fail(100, "no mailbox here by that name (#5.1.1)", 0, 0, 0, 0) ;
      /* the address without its extension: .qmail, then the default delivery */
      dash = "" ; ext = "" ;
      if (read_dotqmail(dash, ext, &forwardonly, &defaultat) < 0) return 0 ;
    }
  }
  if (!g.text.len)
  {
    /* no file, or an empty one: the default delivery */
    g.text.len = 0 ;
    if (!stralloc_cats(&g.text, dflt)) return nomem() ;
    g.qmailfile = "defaultdelivery" ;
    forwardonly = 0 ;
  }
  if (!g.text.len || g.text.s[g.text.len - 1] != '\n')
    if (!stralloc_catb(&g.text, "\n", 1)) return nomem() ;

  if (!dotqmail_setenv(a->user, a->home, a->local, a->ext, a->host, a->sender, defaultat >= 0 ? ext + defaultat : 0, time(0))) return nomem() ;
  {
    /* bounces of forwarded mail go to LOCAL-owner when .qmail-EXT-owner exists */
    char const *ns = a->sender ;
    if (*a->sender && strcmp(a->sender, "#@[]") && !a->nodotqmail)
    {
      int r = dotqmail_exists(dash, ext, "-owner") ;
      if (r < 0) return failsys("check for the -owner file", "") ;
      if (r)
      {
        g.newsender.len = 0 ;
        if (!stralloc_cats(&g.newsender, a->local) || !stralloc_cats(&g.newsender, "-owner@")
         || !stralloc_cats(&g.newsender, a->host) || !stralloc_0(&g.newsender)) return nomem() ;
        ns = g.newsender.s ;
      }
    }
    if (setenv("NEWSENDER", ns, 1) < 0) return nomem() ;
  }

  {
    unsigned int badline ;
    char const *why ;
    int r = dotqmail_parse(g.text.s, g.text.len, &g.lines, forwardonly, &badline, &why) ;
    if (r < 0) return nomem() ;
    if (!r)
    {
      char fmt[UINT_FMT] ;
      fmt[uint_fmt(fmt, badline)] = 0 ;
      return fail6(111, g.qmailfile, " line ", fmt, ": ", why, " (#4.7.0)") ;
    }
  }
  for (size_t i = 0 ; i < genalloc_len(dotqmail_line, &g.lines) ; i++)
  {
    size_t n = genalloc_len(step, &g.steps) ;
    step *last = n ? genalloc_s(step, &g.steps) + n - 1 : 0 ;
    if (line_at(i)->kind == DOTQMAIL_FORWARD && last && last->kind == DOTQMAIL_FORWARD) last->count++ ;
    else
    {
      step st = { .kind = line_at(i)->kind, .first = i, .count = 1 } ;
      if (!genalloc_catb(step, &g.steps, &st, 1)) return nomem() ;
    }
  }

  for (size_t i = 0 ; i < genalloc_len(step, &g.steps) ; i++)
  {
    step const *st = genalloc_s(step, &g.steps) + i ;
    int go = 1 ;
    if (!a->doit) { if (!report("step", i + 1, st)) return 0 ; continue ; }
    if (i < a->skip) { if (!report("skipped", i + 1, st)) return 0 ; g.r->steps = i + 1 ; continue ; }
    switch (st->kind)
    {
      case DOTQMAIL_MAILDIR : if (!do_maildir(st)) return 0 ; files++ ; break ;
      case DOTQMAIL_MBOX : if (!do_mbox(st)) return 0 ; files++ ; break ;
      case DOTQMAIL_PROGRAM : go = do_program(st) ; if (!go) return 0 ; programs++ ; break ;
      default : if (!do_forward(st, getenv("NEWSENDER"))) return 0 ; forwards += st->count ; break ;
    }
    g.r->steps = i + 1 ;
    if (!report("delivered", i + 1, st)) return 0 ;
    if (go == 2) break ;
  }
  if (a->doit)
  {
    char fmt[ULONG_FMT] ;
    g.r->text.len = 0 ;
    if (!stralloc_cats(&g.r->text, "did ") || !stralloc_catb(&g.r->text, fmt, ulong_fmt(fmt, files))
     || !stralloc_catb(&g.r->text, "+", 1) || !stralloc_catb(&g.r->text, fmt, ulong_fmt(fmt, forwards))
     || !stralloc_catb(&g.r->text, "+", 1) || !stralloc_catb(&g.r->text, fmt, ulong_fmt(fmt, programs))
     || !stralloc_0(&g.r->text)) return nomem() ;
  }
  return 1 ;
}

int localdeliver_run (localdeliver const *a, int msgfd, localdeliver_result *r)
{
  g.a = a ; g.r = r ;
  g.qmailfile = 0 ;
  g.text.len = 0 ; g.name.len = 0 ;
  genalloc_setlen(dotqmail_line, &g.lines, 0) ;
  genalloc_setlen(step, &g.steps, 0) ;
  g.msg = -1 ; g.msgstart = 0 ; g.progfd = -1 ;
  /* the steps done so far include those of earlier attempts, whatever happens to this one */
  r->code = 0 ; r->steps = a->skip ; r->text.len = 0 ;
  run(a, msgfd) ;
  if (!r->text.len && !stralloc_0(&r->text)) r->code = 111 ;
  if (g.progfd >= 0) close(g.progfd) ;
  if (g.msg >= 0 && g.msg != msgfd) close(g.msg) ;
  g.progfd = g.msg = -1 ;
  /* programs must not see the next delivery's leftovers: DEFAULT is reset by setenv each
     time; nothing else is kept */
  return r->code ;
}
