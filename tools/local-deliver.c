/* local-deliver: deliver the message on stdin to one local recipient by the instructions of
   its .qmail file, as qmail-local does. Every line is a step, done in order (a run of forward
   lines is one step: one injection). Each step done is reported on stdout as it completes,
   so that a retry can skip the steps already done (-s) instead of delivering them twice. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/buffer.h>
#include <skalibs/djbunix.h>
#include <skalibs/gccattributes.h>
#include <skalibs/genalloc.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "dotqmail.h"
#include "maildir.h"
#include "mbox.h"
#include "qqueue.h"

#define USAGE "local-deliver [ -nN ] [ -s done ] user homedir local dash ext domain sender [ defaultdelivery ]"
#define dieusage() strerr_dieusage(100, USAGE)
#define dienomem() strerr_diefu1sys(111, "allocate memory")

#define MBOX_LOCK_TIMEOUT 30
#define MAILDIR_TIMEOUT 86400

typedef struct step_s step ;
struct step_s
{
  unsigned int kind ;
  size_t first ;    /* index in the parsed lines */
  size_t count ;    /* more than one for a run of forward lines */
} ;

static char const *qmailfile ;   /* the file the steps come from, for messages */
static stralloc text = STRALLOC_ZERO ;
static genalloc lines = GENALLOC_ZERO ;   /* dotqmail_line */
static int msg ;
static off_t msgstart ;
static stralloc name = STRALLOC_ZERO ;     /* the .qmail file */
static stralloc sa = STRALLOC_ZERO ;       /* DTLINE, then NEWSENDER */
static genalloc steps = GENALLOC_ZERO ;    /* step */

static dotqmail_line const *line_at (size_t i) { return genalloc_s(dotqmail_line, &lines) + i ; }

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

/* "WORD N kind arg..." on stdout, flushed: the record a retry relies on. A long list of
   forward addresses is cut short: the step number is what counts. */
static void report (char const *word, size_t n, step const *st)
{
  stralloc sa = STRALLOC_ZERO ;
  char fmt[SIZE_FMT] ;
  size_t shown = st->count > 10 ? 10 : st->count ;
  fmt[size_fmt(fmt, n)] = 0 ;
  if (!stralloc_cats(&sa, word) || !stralloc_catb(&sa, " ", 1) || !stralloc_cats(&sa, fmt)
   || !stralloc_catb(&sa, " ", 1) || !stralloc_cats(&sa, kindname(st->kind))) dienomem() ;
  for (size_t i = 0 ; i < shown ; i++)
    if (!stralloc_catb(&sa, " ", 1) || !stralloc_cats(&sa, text.s + line_at(st->first + i)->arg)) dienomem() ;
  if (shown < st->count)
  {
    fmt[size_fmt(fmt, st->count)] = 0 ;
    if (!stralloc_cats(&sa, " ... (") || !stralloc_cats(&sa, fmt) || !stralloc_cats(&sa, " addresses)")) dienomem() ;
  }
  if (!stralloc_catb(&sa, "\n", 1)) dienomem() ;
  if (buffer_put(buffer_1, sa.s, sa.len) < 0 || !buffer_flush(buffer_1))
    strerr_diefu1sys(111, "write the delivery report") ;
  stralloc_free(&sa) ;
}

static void rewind_msg (void)
{
  if (lseek(msg, msgstart, SEEK_SET) < 0) strerr_diefu1sys(111, "rewind the message") ;
}

/* die with code, naming the .qmail line of step st */
static void die_at (int code, step const *st, char const *a, char const *b, char const *c) gccattr_noreturn ;
static void die_at (int code, step const *st, char const *a, char const *b, char const *c)
{
  char fmt[UINT_FMT] ;
  fmt[uint_fmt(fmt, line_at(st->first)->lineno)] = 0 ;
  strerr_dief(code, qmailfile, " line ", fmt, ": ", a, b, c) ;
}

static void do_maildir (step const *st)
{
  char const *dir = text.s + line_at(st->first)->arg ;
  maildir_opts o = MAILDIR_OPTS_ZERO ;
  maildir_result r ;
  o.rpline = getenv("RPLINE") ;
  o.dtline = getenv("DTLINE") ;
  o.timeout = MAILDIR_TIMEOUT ;
  rewind_msg() ;
  if (!maildir_deliver(dir, msg, &o, &r))
  {
    char err[1024] ;
    maildir_strerror(&r, dir, err, sizeof err) ;
    die_at(r.code, st, err, "", "") ;
  }
}

static void do_mbox (step const *st)
{
  char const *path = text.s + line_at(st->first)->arg ;
  char const *what ;
  rewind_msg() ;
  if (!mbox_deliver(path, msg, getenv("UFLINE"), getenv("RPLINE"), getenv("DTLINE"), MBOX_LOCK_TIMEOUT, &what))
  {
    if (errno == ETIMEDOUT) die_at(111, st, "mailbox ", path, " has been locked for 30 seconds (#4.2.1)") ;
    {
      int e = errno ;
      char const *why = strerror(e) ;
      char w[strlen(what) + strlen(path) + strlen(why) + 16] ;
      strcpy(w, "unable to ") ; strcat(w, what) ; strcat(w, " ") ; strcat(w, path) ;
      die_at(111, st, w, ": ", why) ;
    }
  }
}

/* 1 go on, 0 stop here (the program said 99) */
static int do_program (step const *st)
{
  char const *cmd = text.s + line_at(st->first)->arg ;
  int wstat ;
  char fmt[UINT_FMT] ;
  if (!dotqmail_runsh(cmd, msg, msgstart, &wstat)) die_at(111, st, "unable to run the program: ", strerror(errno), "") ;
  switch (dotqmail_exitclass(wstat))
  {
    case 0 : return 1 ;
    case 99 : return 0 ;
    case 100 :
      fmt[uint_fmt(fmt, WEXITSTATUS(wstat))] = 0 ;
      die_at(100, st, "the program failed permanently (exit ", fmt, ")") ;
    default :
      if (WIFSIGNALED(wstat))
      {
        fmt[uint_fmt(fmt, WTERMSIG(wstat))] = 0 ;
        die_at(111, st, "the program crashed (signal ", fmt, ")") ;
      }
      fmt[uint_fmt(fmt, WEXITSTATUS(wstat))] = 0 ;
      die_at(111, st, "the program failed temporarily (exit ", fmt, ")") ;
  }
  return 1 ;
}

static void do_forward (step const *st, char const *newsender)
{
  char const **rcpts = malloc(st->count * sizeof *rcpts) ;   /* a list may be long */
  int code ;
  if (!rcpts) dienomem() ;
  for (size_t i = 0 ; i < st->count ; i++) rcpts[i] = text.s + line_at(st->first + i)->arg ;
  rewind_msg() ;
  code = dotqmail_forward(msg, getenv("DTLINE"), newsender, rcpts, st->count) ;
  free(rcpts) ;
  if (code == -2)
  {
    char const *why = strerror(errno) ;
    char w[strlen(why) + 3] ;
    strcpy(w, ": ") ; strcat(w, why) ;
    die_at(111, st, "unable to forward the message: unable to run the queue program ", dotqmail_queueprog(), w) ;
  }
  if (code < 0) die_at(111, st, "unable to forward the message: unable to read it: ", strerror(errno), "") ;
  if (code)
  {
    char fmt[UINT_FMT] ;
    char const *why = qqueue_strerror(code) ;
    char w[strlen(why) + UINT_FMT + 24] ;
    fmt[uint_fmt(fmt, code)] = 0 ;
    strcpy(w, why) ; strcat(w, " (queue exit ") ; strcat(w, fmt) ; strcat(w, ")") ;
    die_at(qqueue_permanent(code) ? 100 : 111, st, "unable to forward the message: ", w, "") ;
  }
}

static void check_home (int doit)
{
  struct stat st ;
  if (stat(".", &st) < 0) strerr_diefu1sys(111, "stat the home directory") ;
  if (st.st_mode & 022) strerr_dief1x(111, "the home directory is group- or world-writable (#4.7.0)") ;
  if (st.st_mode & S_ISVTX)
  {
    if (doit) strerr_dief1x(111, "the home directory is sticky: the user is editing the .qmail file (#4.2.1)") ;
    strerr_warnw1x("the home directory is sticky") ;
  }
}

int main (int argc, char const *const *argv)
{
  char const *user, *home, *local, *dash, *ext, *host, *sender, *dflt = "./Maildir/\n" ;
  unsigned int skip = 0 ;
  unsigned long files = 0, forwards = 0, programs = 0 ;
  int doit = 1 ;
  int fd, forwardonly ;
  long defaultat ;
  PROG = "local-deliver" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "nNs:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'n' : doit = 0 ; break ;
        case 'N' : doit = 1 ; break ;
        case 's' : if (!uint0_scan(l.arg, &skip)) dieusage() ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc < 7 || argc > 8) dieusage() ;
  user = argv[0] ; home = argv[1] ; local = argv[2] ; dash = argv[3] ;
  ext = argv[4] ; host = argv[5] ; sender = argv[6] ;
  if (argc == 8) dflt = argv[7] ;
  if (home[0] != '/') dieusage() ;

  umask(077) ;
  sig_ignore(SIGPIPE) ;
  /* inherited SIG_IGN would reap our children for us: waitpid would fail after a program
     or a forward succeeded, and the retry would deliver twice */
  sig_restore(SIGCHLD) ;
  /* past a file size limit, a write must fail (EFBIG) so that the mbox is cut back to its old
     length, rather than kill us with half a message appended */
  sig_ignore(SIGXFSZ) ;
  if (chdir(home) < 0) strerr_diefu2sys(111, "switch to ", home) ;
  check_home(doit) ;

  if (!dotqmail_dtline(&sa, local, host)) dienomem() ;
  if (doit)
  {
    int r ;
    msg = dotqmail_seekable(0, &msgstart) ;
    if (msg < 0) strerr_diefu1sys(111, "keep a copy of the message") ;
    rewind_msg() ;
    r = dotqmail_looping(msg, sa.s) ;
    if (r < 0) strerr_diefu1sys(111, "read the message") ;
    if (r) strerr_dief1x(100, "this message is looping: it already has my Delivered-To line (#5.4.6)") ;
  }

  switch (dotqmail_find(dash, ext, &name, &fd, &forwardonly, &defaultat))
  {
    case -1 : strerr_diefu2sys(111, "open ", name.s) ;
    case -2 : strerr_dief2x(111, name.s, " is group- or world-writable (#4.7.0)") ;
    case 0 :
      if (*dash) strerr_dief1x(100, "no mailbox here by that name (#5.1.1)") ;
      break ;
    default :
      if (!slurp(&text, fd)) strerr_diefu2sys(111, "read ", name.s) ;
      close(fd) ;
      qmailfile = name.s ;
  }
  if (!text.len)
  {
    /* no file, or an empty one: the default delivery */
    if (!stralloc_cats(&text, dflt)) dienomem() ;
    qmailfile = "defaultdelivery" ;
    forwardonly = 0 ;
  }
  if (text.s[text.len - 1] != '\n' && !stralloc_catb(&text, "\n", 1)) dienomem() ;

  if (!dotqmail_setenv(user, home, local, ext, host, sender, defaultat >= 0 ? ext + defaultat : 0, time(0))) dienomem() ;
  {
    /* bounces of forwarded mail go to LOCAL-owner when .qmail-EXT-owner exists */
    char const *newsender = sender ;
    if (*sender && strcmp(sender, "#@[]"))
    {
      int r = dotqmail_exists(dash, ext, "-owner") ;
      if (r < 0) strerr_diefu1sys(111, "check for the -owner file") ;
      if (r)
      {
        sa.len = 0 ;
        if (!stralloc_cats(&sa, local) || !stralloc_cats(&sa, "-owner@") || !stralloc_cats(&sa, host) || !stralloc_0(&sa)) dienomem() ;
        newsender = sa.s ;
      }
    }
    if (setenv("NEWSENDER", newsender, 1) < 0) dienomem() ;
  }

  {
    unsigned int badline ;
    char const *why ;
    int r = dotqmail_parse(text.s, text.len, &lines, forwardonly, &badline, &why) ;
    if (r < 0) dienomem() ;
    if (!r)
    {
      char fmt[UINT_FMT] ;
      fmt[uint_fmt(fmt, badline)] = 0 ;
      strerr_dief(111, qmailfile, " line ", fmt, ": ", why, " (#4.7.0)") ;
    }
  }
  for (size_t i = 0 ; i < genalloc_len(dotqmail_line, &lines) ; i++)
  {
    size_t n = genalloc_len(step, &steps) ;
    step *last = n ? genalloc_s(step, &steps) + n - 1 : 0 ;
    if (line_at(i)->kind == DOTQMAIL_FORWARD && last && last->kind == DOTQMAIL_FORWARD) last->count++ ;
    else
    {
      step st = { .kind = line_at(i)->kind, .first = i, .count = 1 } ;
      if (!genalloc_catb(step, &steps, &st, 1)) dienomem() ;
    }
  }

  for (size_t i = 0 ; i < genalloc_len(step, &steps) ; i++)
  {
    step const *st = genalloc_s(step, &steps) + i ;
    int go = 1 ;
    if (!doit) { report("step", i + 1, st) ; continue ; }
    if (i < skip) { report("skipped", i + 1, st) ; continue ; }
    switch (st->kind)
    {
      case DOTQMAIL_MAILDIR : do_maildir(st) ; files++ ; break ;
      case DOTQMAIL_MBOX : do_mbox(st) ; files++ ; break ;
      case DOTQMAIL_PROGRAM : go = do_program(st) ; programs++ ; break ;
      default : do_forward(st, getenv("NEWSENDER")) ; forwards += st->count ; break ;
    }
    report("delivered", i + 1, st) ;
    if (!go) break ;
  }
  if (doit)
  {
    char fmt[ULONG_FMT] ;
    buffer_puts(buffer_1, "did ") ;
    buffer_put(buffer_1, fmt, ulong_fmt(fmt, files)) ;
    buffer_puts(buffer_1, "+") ;
    buffer_put(buffer_1, fmt, ulong_fmt(fmt, forwards)) ;
    buffer_puts(buffer_1, "+") ;
    buffer_put(buffer_1, fmt, ulong_fmt(fmt, programs)) ;
    if (buffer_putsflush(buffer_1, "\n") < 0) strerr_diefu1sys(111, "write the delivery report") ;
  }
  return 0 ;
}
