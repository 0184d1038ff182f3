/* maildir2mbox: move the messages of a Maildir (new/ and cur/) to the end of an mbox, under
   the mbox's locks. A journal names the mbox's old length and the messages being moved: a
   run stopped at any point is finished or undone by the next one; a message leaves the
   Maildir only once it is in the mbox and on disk. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <skalibs/sgetopt.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "atomic.h"

#define USAGE "maildir2mbox [ -t secs ] [ maildir mbox ]"
#define dieusage() strerr_dieusage(100, USAGE)
#define dienomem() strerr_diefu1sys(111, "allocate memory")

static char const *maildir, *mbox, *journal ;

/* ---- the messages ---- */

typedef struct msg_s { char *name ; unsigned long secs ; } msg ;

static int msg_cmp (void const *a, void const *b)
{
  msg const *x = a, *y = b ;
  if (x->secs != y->secs) return x->secs < y->secs ? -1 : 1 ;
  return strcmp(x->name, y->name) ;
}

/* "new/NAME" and "cur/NAME" of every message, oldest first (by the time in the name) */
static size_t list_messages (msg **out)
{
  static char const *const subs[2] = { "new", "cur" } ;
  msg *v = 0 ;
  size_t n = 0, cap = 0 ;
  for (int k = 0 ; k < 2 ; k++)
  {
    size_t dl = strlen(maildir) ;
    char path[dl + 5] ;
    DIR *d ;
    struct dirent *e ;
    memcpy(path, maildir, dl) ; path[dl] = '/' ; memcpy(path + dl + 1, subs[k], 4) ;
    d = opendir(path) ;
    if (!d) strerr_diefu2sys(111, "open ", path) ;
    for (;;)
    {
      errno = 0 ;
      e = readdir(d) ;
      if (!e) { if (errno) strerr_diefu2sys(111, "read ", path) ; break ; }
      if (e->d_name[0] == '.') continue ;
      if (n == cap && !(v = realloc(v, (cap = cap * 2 + 64) * sizeof *v))) dienomem() ;
      v[n].name = malloc(strlen(e->d_name) + 5) ;
      if (!v[n].name) dienomem() ;
      memcpy(v[n].name, subs[k], 3) ; v[n].name[3] = '/' ; strcpy(v[n].name + 4, e->d_name) ;
      if (!ulong_scan(e->d_name, &v[n].secs)) v[n].secs = 0 ;
      n++ ;
    }
    closedir(d) ;
  }
  if (n) qsort(v, n, sizeof *v, &msg_cmp) ;
  *out = v ;
  return n ;
}

static int open_message (char const *name)
{
  size_t dl = strlen(maildir) ;
  char path[dl + strlen(name) + 2] ;
  memcpy(path, maildir, dl) ; path[dl] = '/' ; strcpy(path + dl + 1, name) ;
  return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) ;
}

static void read_all (int fd, stralloc *sa, char const *what)
{
  sa->len = 0 ;
  for (;;)
  {
    ssize_t r ;
    if (!stralloc_readyplus(sa, 65536)) dienomem() ;
    r = read(fd, sa->s + sa->len, 65536) ;
    if (r < 0) { if (errno == EINTR) continue ; strerr_diefu2sys(111, "read ", what) ; }
    if (!r) break ;
    sa->len += r ;
  }
}

/* the message as it goes into the mbox: a From_ line (the Return-Path address, the time of
   the file), the text with ^>*From lines quoted, a final newline, an empty line. Computed
   the same every time, so that a stopped run can be recognised in the mbox. */
static void format_message (stralloc *out, stralloc const *m, time_t when)
{
  static char const days[] = "SunMonTueWedThuFriSat" ;
  static char const months[] = "JanFebMarAprMayJunJulAugSepOctNovDec" ;
  char const *from = "MAILER-DAEMON" ;
  size_t fromlen = 13 ;
  char date[32] ;
  struct tm tm ;
  /* Return-Path, in the header only */
  for (size_t pos = 0 ; pos < m->len ; )
  {
    char const *s = m->s + pos ;
    char const *nl = memchr(s, '\n', m->len - pos) ;
    size_t l = nl ? (size_t)(nl - s) : m->len - pos ;
    if (!l || (l == 1 && s[0] == '\r')) break ;
    if (l > 12 && !strncasecmp(s, "Return-Path:", 12))
    {
      char const *a = memchr(s, '<', l), *b = a ? memchr(a, '>', l - (a - s)) : 0 ;
      if (a && b && b > a + 1 && !memchr(a, ' ', b - a) && !memchr(a, '\t', b - a)) { from = a + 1 ; fromlen = b - a - 1 ; }
      break ;
    }
    pos += l + 1 ;
  }
  if (!gmtime_r(&when, &tm)) memset(&tm, 0, sizeof tm) ;
  {
    size_t n = 0 ;
    memcpy(date + n, days + 3 * (tm.tm_wday % 7), 3) ; n += 3 ; date[n++] = ' ' ;
    memcpy(date + n, months + 3 * (tm.tm_mon % 12), 3) ; n += 3 ; date[n++] = ' ' ;
    date[n++] = tm.tm_mday < 10 ? ' ' : '0' + tm.tm_mday / 10 ; date[n++] = '0' + tm.tm_mday % 10 ; date[n++] = ' ' ;
    date[n++] = '0' + tm.tm_hour / 10 ; date[n++] = '0' + tm.tm_hour % 10 ; date[n++] = ':' ;
    date[n++] = '0' + tm.tm_min / 10 ; date[n++] = '0' + tm.tm_min % 10 ; date[n++] = ':' ;
    date[n++] = '0' + tm.tm_sec / 10 ; date[n++] = '0' + tm.tm_sec % 10 ; date[n++] = ' ' ;
    n += uint_fmt(date + n, tm.tm_year + 1900) ;
    date[n] = 0 ;
  }
  out->len = 0 ;
  if (!stralloc_catb(out, "From ", 5) || !stralloc_catb(out, from, fromlen) || !stralloc_catb(out, " ", 1)
   || !stralloc_cats(out, date) || !stralloc_catb(out, "\n", 1)) dienomem() ;
  for (size_t pos = 0 ; pos < m->len ; )
  {
    char const *s = m->s + pos ;
    char const *nl = memchr(s, '\n', m->len - pos) ;
    size_t l = nl ? (size_t)(nl - s) + 1 : m->len - pos ;
    size_t i = 0 ;
    while (i < l && s[i] == '>') i++ ;
    if (l - i >= 5 && !memcmp(s + i, "From ", 5) && !stralloc_catb(out, ">", 1)) dienomem() ;
    if (!stralloc_catb(out, s, l)) dienomem() ;
    pos += l ;
  }
  if (m->len && m->s[m->len-1] != '\n' && !stralloc_catb(out, "\n", 1)) dienomem() ;
  if (!stralloc_catb(out, "\n", 1)) dienomem() ;
}

/* the mbox text of the message name; 0 when it is gone (ENOENT) */
static int message_text (char const *name, stralloc *m, stralloc *out)
{
  struct stat st ;
  int fd = open_message(name) ;
  if (fd < 0) { if (errno == ENOENT) return 0 ; strerr_diefu4sys(111, "open ", maildir, "/", name) ; }
  if (fstat(fd, &st) < 0) strerr_diefu4sys(111, "stat ", maildir, "/", name) ;
  read_all(fd, m, name) ;
  close(fd) ;
  format_message(out, m, st.st_mtime) ;
  return 1 ;
}

static void remove_message (char const *name)
{
  size_t dl = strlen(maildir) ;
  char path[dl + strlen(name) + 2] ;
  memcpy(path, maildir, dl) ; path[dl] = '/' ; strcpy(path + dl + 1, name) ;
  if (unlink(path) < 0 && errno != ENOENT) strerr_diefu2sys(111, "remove ", path) ;
}

static void sync_maildir (void)
{
  size_t dl = strlen(maildir) ;
  char path[dl + 5] ;
  memcpy(path, maildir, dl) ; path[dl] = '/' ;
  memcpy(path + dl + 1, "new", 4) ; if (!dir_sync(path)) strerr_diefu2sys(111, "fsync ", path) ;
  memcpy(path + dl + 1, "cur", 4) ; if (!dir_sync(path)) strerr_diefu2sys(111, "fsync ", path) ;
}

/* ---- the mbox and its locks ---- */

static int lock_mbox (unsigned int timeout)
{
  time_t end = time(0) + timeout ;
  long wait_ms = 10 ;
  int have_fcntl = 0 ;
  int fd = open(mbox, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600) ;
  struct stat st ;
  if (fd < 0)
  {
    if (errno == EISDIR) strerr_dief2x(100, mbox, " is not a regular file") ;
    strerr_diefu2sys(111, "open ", mbox) ;
  }
  if (fstat(fd, &st) < 0) strerr_diefu2sys(111, "stat ", mbox) ;
  if (!S_ISREG(st.st_mode)) strerr_dief2x(100, mbox, " is not a regular file") ;
  for (;;)
  {
    /* fcntl and flock both: MUAs use one or the other */
    if (!have_fcntl)
    {
      struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 } ;
      if (fcntl(fd, F_SETLK, &fl) == 0) have_fcntl = 1 ;
      else if (errno != EACCES && errno != EAGAIN && errno != EINTR) strerr_diefu2sys(111, "lock ", mbox) ;
    }
    if (have_fcntl)
    {
      if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd ;
      if (errno != EWOULDBLOCK && errno != EINTR) strerr_diefu2sys(111, "lock ", mbox) ;
    }
    if (time(0) >= end) strerr_dief3x(111, "unable to lock ", mbox, ": it stays locked by another program") ;
    {
      struct timespec d = { .tv_sec = 0, .tv_nsec = wait_ms * 1000000 } ;
      nanosleep(&d, 0) ;
      if (wait_ms < 200) wait_ms *= 2 ;
    }
  }
}

static off_t oldlen ;
static void journal_remove (void) ;

static int write_all (int fd, char const *s, size_t n)
{
  while (n)
  {
    ssize_t w = write(fd, s, n) ;
    if (w < 0) { if (errno == EINTR) continue ; return 0 ; }
    s += w ; n -= w ;
  }
  return 1 ;
}

/* the append failed: cut the mbox back, drop the journal, and say why */
static void undo (int fd, char const *what)
{
  int e = errno ;
  if (ftruncate(fd, oldlen) == 0 && fsync(fd) == 0) journal_remove() ;
  errno = e ;
  strerr_diefu2sys(111, what, mbox) ;
}

/* does the mbox hold want at off? 1 yes, 0 no, -1 it ends inside want with what it has
   matching (a prefix) */
static int mbox_has (int fd, off_t off, stralloc const *want)
{
  char buf[65536] ;
  size_t i = 0 ;
  while (i < want->len)
  {
    size_t k = want->len - i < sizeof buf ? want->len - i : sizeof buf ;
    ssize_t r = pread(fd, buf, k, off + i) ;
    if (r < 0) { if (errno == EINTR) continue ; strerr_diefu2sys(111, "read ", mbox) ; }
    if (!r) return -1 ;
    if (memcmp(buf, want->s + i, r)) return 0 ;
    i += r ;
  }
  return 1 ;
}

/* ---- the journal: "LENGTH\n" (or "done LENGTH\n" once the mbox is on disk), then one
   message name a line ---- */

static void journal_write (char const *state, off_t len, msg const *v, size_t n)
{
  stralloc sa = STRALLOC_ZERO ;
  char fmt[ULONG_FMT] ;
  if (!stralloc_cats(&sa, state) || !stralloc_catb(&sa, fmt, ulong_fmt(fmt, (unsigned long)len)) || !stralloc_catb(&sa, "\n", 1)) dienomem() ;
  for (size_t i = 0 ; i < n ; i++)
    if (!stralloc_cats(&sa, v[i].name) || !stralloc_catb(&sa, "\n", 1)) dienomem() ;
  if (!atomic_write(journal, sa.s, sa.len, 0600)) strerr_diefu2sys(111, "write ", journal) ;
  stralloc_free(&sa) ;
}

static void journal_remove (void)
{
  if (unlink(journal) < 0 && errno != ENOENT) strerr_diefu2sys(111, "remove ", journal) ;
  if (!dir_sync_parent(journal)) strerr_diefu2sys(111, "fsync the directory of ", journal) ;
}

static void remove_listed (char const *s, size_t len)
{
  for (size_t pos = 0 ; pos < len ; pos += strlen(s + pos) + 1) remove_message(s + pos) ;
  sync_maildir() ;
}

/* a journal left by a stopped run: finish it (every message is in the mbox and on disk) or
   undo it (cut the mbox back to its old length: the messages are still in the Maildir) */
static void recover (int fd)
{
  stralloc j = STRALLOC_ZERO, m = STRALLOC_ZERO, text = STRALLOC_ZERO ;
  unsigned long oldlen ;
  size_t k, names ;
  off_t off ;
  struct stat st ;
  int done = 0, r = 1 ;
  int jfd = open(journal, O_RDONLY | O_CLOEXEC) ;
  if (jfd < 0) { if (errno == ENOENT) return ; strerr_diefu2sys(111, "open ", journal) ; }
  read_all(jfd, &j, journal) ;
  close(jfd) ;
  if (!j.len || j.s[j.len-1] != '\n') strerr_dief3x(111, "damaged journal ", journal, ": remove it once the mbox is checked") ;
  for (size_t i = 0 ; i < j.len ; i++) if (j.s[i] == '\n') j.s[i] = 0 ;
  if (!strncmp(j.s, "done ", 5)) done = 5 ;
  k = ulong_scan(j.s + done, &oldlen) ;
  if (!k || j.s[done + k]) strerr_dief3x(111, "damaged journal ", journal, " line 1: remove it once the mbox is checked") ;
  names = done + k + 1 ;
  if (done) { remove_listed(j.s + names, j.len - names) ; goto end ; }
  /* the messages still here, in order, one after the other from oldlen? */
  off = oldlen ;
  for (size_t pos = names ; pos < j.len && r == 1 ; pos += strlen(j.s + pos) + 1)
  {
    if (!message_text(j.s + pos, &m, &text)) continue ;
    r = mbox_has(fd, off, &text) ;
    if (r == 1) off += text.len ;
  }
  if (fstat(fd, &st) < 0) strerr_diefu2sys(111, "stat ", mbox) ;
  if (r == 1 && st.st_size > off)
    remove_listed(j.s + names, j.len - names) ;   /* all in, and other mail after it */
  else if (r != 0)
  {
    /* only the stopped run's text is after oldlen: cut it off */
    if (ftruncate(fd, oldlen) < 0 || fsync(fd) < 0) strerr_diefu2sys(111, "cut back ", mbox) ;
  }
  else strerr_warnw3x("the end of ", mbox, " is not what a stopped run wrote: kept as it is; the messages are still in the Maildir") ;
 end:
  journal_remove() ;
  stralloc_free(&j) ; stralloc_free(&m) ; stralloc_free(&text) ;
}

int main (int argc, char const *const *argv)
{
  stralloc m = STRALLOC_ZERO, text = STRALLOC_ZERO, jname = STRALLOC_ZERO ;
  unsigned int timeout = 30 ;
  msg *v ;
  size_t n ;
  struct stat st ;
  int fd ;
  PROG = "maildir2mbox" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "t:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 't' : if (!uint0_scan(l.arg, &timeout)) dieusage() ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc == 2) { maildir = argv[0] ; mbox = argv[1] ; }
  else if (!argc)
  {
    maildir = getenv("MAILDIR") ;
    if (!maildir) strerr_dienotset(100, "MAILDIR") ;
    mbox = getenv("MAIL") ;
    if (!mbox) strerr_dienotset(100, "MAIL") ;
  }
  else dieusage() ;
  if (!*maildir || !*mbox) dieusage() ;
  journal = getenv("MAILTMP") ;
  if (!journal || !*journal)
  {
    if (!stralloc_cats(&jname, mbox) || !stralloc_cats(&jname, ".m2m") || !stralloc_0(&jname)) dienomem() ;
    journal = jname.s ;
  }

  fd = lock_mbox(timeout) ;
  recover(fd) ;
  n = list_messages(&v) ;
  if (!n) return 0 ;
  if (fstat(fd, &st) < 0) strerr_diefu2sys(111, "stat ", mbox) ;
  oldlen = st.st_size ;
  journal_write("", oldlen, v, n) ;
  if (lseek(fd, 0, SEEK_END) < 0) strerr_diefu2sys(111, "seek in ", mbox) ;
  for (size_t i = 0 ; i < n ; i++)
  {
    /* one removed since the listing (by a mail reader) is simply not moved */
    if (!message_text(v[i].name, &m, &text)) continue ;
    if (!write_all(fd, text.s, text.len)) undo(fd, "write to ") ;
  }
  if (fsync(fd) < 0) undo(fd, "fsync ") ;
  journal_write("done ", oldlen, v, n) ;
  for (size_t i = 0 ; i < n ; i++) remove_message(v[i].name) ;
  sync_maildir() ;
  journal_remove() ;
  close(fd) ;
  return 0 ;
}
