/* pop3d: the transaction state of POP3 (RFC 1939, RFC 2449) over one Maildir, on fd 0/1,
   run as the mailbox's owner after the login (pop3-login, auth-check). The messages are those
   of new/ and cur/ when the session starts; deletions happen at QUIT only. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <skalibs/sgetopt.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "pop3cmd.h"
#include "pop3io.h"
#include "pop3msg.h"

#define USAGE "pop3d [ -t secs ] maildir"
#define dieusage() strerr_dieusage(100, USAGE)

#define UNKNOWN UINT64_MAX

typedef struct msg_s msg ;
struct msg_s
{
  uint64_t stamp ;      /* the delivery time the name starts with: the order of the list */
  uint64_t fsize ;      /* bytes in the file, or UNKNOWN */
  uint64_t vsize ;      /* octets as sent (RFC 1939 section 11), or UNKNOWN */
  size_t name ;         /* offset of the file name in names */
  unsigned char cur ;   /* in cur/ (else new/) */
  unsigned char deleted ;
} ;

static msg *msgs ;
static size_t nmsgs = 0, msgsmax = 0 ;
static stralloc names = STRALLOC_ZERO ;
static int mdfd, newfd, curfd ;
static char const *maildir ;
static char const *remoteip, *user ;
static unsigned long nretr = 0, ntop = 0 ;
static uint64_t bytesout = 0 ;

static pop3io io ;
static char outbuf[65536] ;
static char fbuf[65536] ;
static char line[POP3IO_LINEMAX + 2] ;

static void logend (char const *word, char const *reason)
{
  char fr[ULONG_FMT], ft[ULONG_FMT], fb[UINT64_FMT] ;
  char const *f[] = { "ip=", remoteip, "user=", user, "retr=", fr, "top=", ft, "bytes=", fb, reason ? "reason=" : 0, reason, 0 } ;
  fr[ulong_fmt(fr, nretr)] = 0 ;
  ft[ulong_fmt(ft, ntop)] = 0 ;
  fb[uint64_fmt(fb, bytesout)] = 0 ;
  pop3io_log(word, f) ;
}

/* the client is gone or silent: nothing is deleted */
static void io_fail (int r) gccattr_noreturn ;
static void io_fail (int r)
{
  if (r == POP3IO_TIMEOUT)
  {
    logend("end", "timeout") ;
    pop3io_puts(&io, "-ERR timeout, closing connection\r\n") ;
    pop3io_flush(&io) ;
    _exit(111) ;
  }
  if (r == POP3IO_EOF) { logend("end", "client closed the connection without QUIT") ; _exit(0) ; }
  logend("end", "client read or write error") ;
  strerr_diefu1sys(111, "talk to the client") ;
}

static void out (char const *s)
{
  if (!pop3io_puts(&io, s)) io_fail(errno == ETIMEDOUT ? POP3IO_TIMEOUT : POP3IO_ERROR) ;
}

static void outnum (uint64_t u)
{
  char fmt[UINT64_FMT] ;
  fmt[uint64_fmt(fmt, u)] = 0 ;
  out(fmt) ;
}

static void die_nomem (void) gccattr_noreturn ;
static void die_nomem (void)
{
  out("-ERR [SYS/TEMP] out of memory\r\n") ;
  pop3io_flush(&io) ;
  strerr_diefu1x(111, "allocate memory") ;
}

static int dirfd_of (msg const *m) { return m->cur ? curfd : newfd ; }

static int msgcmp (void const *a, void const *b)
{
  msg const *x = a, *y = b ;
  if (x->stamp != y->stamp) return x->stamp < y->stamp ? -1 : 1 ;
  return strcmp(names.s + x->name, names.s + y->name) ;
}

/* call f(name, arg) for each message file of dir fd (names starting with '.' and anything
   that is not a regular file are not messages); 1 when f stopped the scan, 0 at the end,
   -1 on error */
static int scandir_fd (int fd, int (*f) (int, char const *, void *), void *arg)
{
  char buf[32768] ;
  for (;;)
  {
    ssize_t n = getdents64(fd, buf, sizeof buf) ;
    ssize_t pos = 0 ;
    if (n < 0) { if (errno == EINTR) continue ; return -1 ; }
    if (!n) return 0 ;
    while (pos < n)
    {
      struct dirent64 *d = (struct dirent64 *)(buf + pos) ;
      pos += d->d_reclen ;
      if (d->d_name[0] == '.') continue ;
      if (d->d_type != DT_REG)
      {
        struct stat st ;
        if (d->d_type != DT_UNKNOWN && d->d_type != DT_LNK) continue ;
        if (fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) continue ;
      }
      if (f(fd, d->d_name, arg)) return 1 ;
    }
  }
}

static int addmsg (int fd, char const *name, void *arg)
{
  msg *m ;
  (void)arg ;
  if (nmsgs == msgsmax)
  {
    size_t n = msgsmax ? msgsmax * 2 : 256 ;
    msg *p = realloc(msgs, n * sizeof *msgs) ;
    if (!p) die_nomem() ;
    msgs = p ; msgsmax = n ;
  }
  m = msgs + nmsgs++ ;
  m->stamp = pop3msg_stamp(name) ;
  m->name = names.len ;
  m->cur = fd == curfd ;
  m->deleted = 0 ;
  if (!pop3msg_namesize(name, 'S', &m->fsize)) m->fsize = UNKNOWN ;
  if (!pop3msg_namesize(name, 'W', &m->vsize)) m->vsize = UNKNOWN ;
  if (!stralloc_catb(&names, name, strlen(name) + 1)) die_nomem() ;
  return 0 ;
}

/* a file of ours moved (another reader took it from new/ to cur/, or changed its flags):
   find it again by its unique part */
struct relocate_s { char const *uniq ; size_t len ; size_t found ; int fd ; } ;
static int relocate_match (int fd, char const *name, void *arg)
{
  struct relocate_s *r = arg ;
  if (strncmp(name, r->uniq, r->len) || (name[r->len] && name[r->len] != ',' && name[r->len] != ':')) return 0 ;
  r->found = names.len ;
  r->fd = fd ;
  if (!stralloc_catb(&names, name, strlen(name) + 1)) die_nomem() ;
  return 1 ;
}

static int relocate (msg *m)
{
  char uniq[512] ;
  struct relocate_s r ;
  char const *name = names.s + m->name ;
  size_t len = strcspn(name, ",:") ;
  if (len >= sizeof uniq) return 0 ;
  memcpy(uniq, name, len) ; uniq[len] = 0 ;
  r.uniq = uniq ; r.len = len ; r.found = 0 ; r.fd = -1 ;
  /* read the directories again from their start */
  if (lseek(curfd, 0, SEEK_SET) < 0 || lseek(newfd, 0, SEEK_SET) < 0) return 0 ;
  if (scandir_fd(curfd, &relocate_match, &r) <= 0 && scandir_fd(newfd, &relocate_match, &r) <= 0) return 0 ;
  m->name = r.found ;
  m->cur = r.fd == curfd ;
  return 1 ;
}

/* the message's file, opened; -1 with errno */
static int msg_open (msg *m)
{
  int fd = openat(dirfd_of(m), names.s + m->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) ;
  if (fd < 0 && errno == ENOENT && relocate(m))
    fd = openat(dirfd_of(m), names.s + m->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) ;
  return fd ;
}

/* read the rest of the file into fbuf after len bytes: up to its end, or until fbuf is
   full; the new length, *eof set when the end was reached; -1 on error */
static ssize_t fill (int fd, size_t len, int *eof)
{
  *eof = 0 ;
  while (len < sizeof fbuf)
  {
    ssize_t r = read(fd, fbuf + len, sizeof fbuf - len) ;
    if (r < 0) { if (errno == EINTR) continue ; return -1 ; }
    if (!r) { *eof = 1 ; break ; }
    len += r ;
  }
  return len ;
}

/* the message's sizes, read from the file when its name does not give them; a file that
   cannot be read gets its file size (or 0) and a warning, and fails at RETR: one bad file
   must not lock the user out of the rest */
static void msg_size (msg *m)
{
  pop3msg_size s = POP3MSG_SIZE_ZERO ;
  uint64_t total = 0 ;
  int fd, eof = 0 ;
  if (m->vsize != UNKNOWN) return ;
  fd = msg_open(m) ;
  if (fd < 0) goto err ;
  while (!eof)
  {
    ssize_t n = fill(fd, 0, &eof) ;
    if (n < 0) { int e = errno ; close(fd) ; errno = e ; goto err ; }
    pop3msg_size_feed(&s, fbuf, n) ;
    total += n ;
  }
  close(fd) ;
  m->vsize = pop3msg_size_finish(&s) ;
  m->fsize = total ;
  return ;
 err:
  strerr_warnwu4sys("read ", maildir, "/", names.s + m->name) ;
  m->vsize = m->fsize != UNKNOWN ? m->fsize : 0 ;
}

/* "n" of a command: 1-based, an existing message not deleted; 0 after replying -ERR */
static int msgarg (char const *arg, size_t len, unsigned int want, uint32_t *n)
{
  if (pop3cmd_numbers(arg, len, want, want, n) < 0) { out("-ERR syntax: a message number is needed\r\n") ; return 0 ; }
  if (!n[0] || n[0] > nmsgs || msgs[n[0] - 1].deleted) { out("-ERR no such message\r\n") ; return 0 ; }
  return 1 ;
}

static void pop3_stat (void)
{
  uint64_t count = 0, bytes = 0 ;
  for (size_t i = 0 ; i < nmsgs ; i++)
  {
    if (msgs[i].deleted) continue ;
    msg_size(msgs + i) ;
    count++ ; bytes += msgs[i].vsize ;
  }
  out("+OK ") ; outnum(count) ; out(" ") ; outnum(bytes) ; out("\r\n") ;
}

/* LIST and UIDL: one message, or all of them as a multi-line reply */
static void listing (char const *arg, size_t len, int uidl)
{
  char u[POP3MSG_UIDLMAX + 1] ;
  uint32_t n ;
  int k = pop3cmd_numbers(arg, len, 0, 1, &n) ;
  if (k < 0) { out("-ERR syntax: LIST and UIDL take at most a message number\r\n") ; return ; }
  if (k)
  {
    msg *m ;
    if (!msgarg(arg, len, 1, &n)) return ;
    m = msgs + n - 1 ;
    if (!uidl) msg_size(m) ;
    out("+OK ") ; outnum(n) ; out(" ") ;
    if (uidl) { pop3msg_uidl(names.s + m->name, u) ; out(u) ; }
    else outnum(m->vsize) ;
    out("\r\n") ;
    return ;
  }
  if (!uidl)
    for (size_t i = 0 ; i < nmsgs ; i++)
      if (!msgs[i].deleted) msg_size(msgs + i) ;
  out(uidl ? "+OK unique-id listing follows\r\n" : "+OK scan listing follows\r\n") ;
  for (size_t i = 0 ; i < nmsgs ; i++)
  {
    char s[UINT64_FMT * 2 + POP3MSG_UIDLMAX + 4] ;
    size_t l ;
    if (msgs[i].deleted) continue ;
    l = uint64_fmt(s, i + 1) ;
    s[l++] = ' ' ;
    if (uidl) l += pop3msg_uidl(names.s + msgs[i].name, s + l) ;
    else l += uint64_fmt(s + l, msgs[i].vsize) ;
    s[l++] = '\r' ; s[l++] = '\n' ;
    if (!pop3io_put(&io, s, l)) io_fail(errno == ETIMEDOUT ? POP3IO_TIMEOUT : POP3IO_ERROR) ;
  }
  out(".\r\n") ;
}

/* RETR (lines: POP3MSG_ALL) and TOP */
static void sendmsg_ (msg *m, uint64_t lines)
{
  pop3msg_enc e ;
  size_t len ;
  ssize_t n ;
  int eof ;
  int fd = msg_open(m) ;
  if (fd < 0)
  {
    strerr_warnwu4sys("open ", maildir, "/", names.s + m->name) ;
    out(errno == ENOENT ? "-ERR message no longer exists\r\n" : "-ERR [SYS/TEMP] unable to open the message\r\n") ;
    return ;
  }
  n = fill(fd, 0, &eof) ;
  if (n < 0) goto err ;
  len = n ;
  if (eof && m->vsize == UNKNOWN)
  {
    pop3msg_size s = POP3MSG_SIZE_ZERO ;
    pop3msg_size_feed(&s, fbuf, len) ;
    m->vsize = pop3msg_size_finish(&s) ;
    m->fsize = len ;
  }
  if (lines != POP3MSG_ALL) out("+OK top of message follows\r\n") ;
  else if (m->vsize != UNKNOWN) { out("+OK ") ; outnum(m->vsize) ; out(" octets\r\n") ; }
  else out("+OK message follows\r\n") ;
  pop3msg_enc_init(&e, lines) ;
  for (;;)
  {
    size_t pos = 0 ;
    while (pos < len && !e.done)
    {
      size_t o ;
      if (!pop3io_room(&io, 3)) goto ioerr ;
      pos += pop3msg_encode(&e, fbuf + pos, len - pos, io.out + io.outlen, io.outmax - io.outlen, &o) ;
      io.outlen += o ;
      bytesout += o ;
    }
    if (eof || e.done) break ;
    n = fill(fd, 0, &eof) ;
    if (n < 0) goto err ;
    len = n ;
  }
  close(fd) ;
  if (!pop3io_room(&io, 3)) goto ioerr0 ;
  io.outlen += pop3msg_finish(&e, io.out + io.outlen) ;
  out(".\r\n") ;
  return ;
 err:
  {
    /* the reply has begun: cut the connection rather than send a truncated message
       that the client would take for whole */
    int e = errno ;
    close(fd) ;
    errno = e ;
    strerr_warnwu4sys("read ", maildir, "/", names.s + m->name) ;
    logend("end", "unable to read a message") ;
    _exit(111) ;
  }
 ioerr:
  close(fd) ;
 ioerr0:
  io_fail(errno == ETIMEDOUT ? POP3IO_TIMEOUT : POP3IO_ERROR) ;
}

static void pop3_retr (char const *arg, size_t len)
{
  uint32_t n ;
  if (!msgarg(arg, len, 1, &n)) return ;
  sendmsg_(msgs + n - 1, POP3MSG_ALL) ;
  nretr++ ;
}

static void pop3_top (char const *arg, size_t len)
{
  uint32_t n[2] ;
  if (pop3cmd_numbers(arg, len, 2, 2, n) < 0) { out("-ERR syntax: TOP needs a message number and a line count\r\n") ; return ; }
  if (!msgarg(arg, len, 2, n)) return ;
  sendmsg_(msgs + n[0] - 1, n[1]) ;
  ntop++ ;
}

static void pop3_dele (char const *arg, size_t len)
{
  uint32_t n ;
  if (!msgarg(arg, len, 1, &n)) return ;
  msgs[n - 1].deleted = 1 ;
  out("+OK message deleted\r\n") ;
}

/* the UPDATE state (RFC 1939 section 6): remove the deleted messages, move the others out
   of new/, record the freed space in maildirsize (Maildir++) */
static void pop3_quit (void) gccattr_noreturn ;
static void pop3_quit (void)
{
  uint64_t freed = 0, count = 0, kept = 0 ;
  int failed = 0 ;
  for (size_t i = 0 ; i < nmsgs ; i++)
  {
    msg *m = msgs + i ;
    if (m->deleted)
    {
      if (m->fsize == UNKNOWN)
      {
        struct stat st ;
        if (fstatat(dirfd_of(m), names.s + m->name, &st, AT_SYMLINK_NOFOLLOW) < 0 && !(errno == ENOENT && relocate(m) && !fstatat(dirfd_of(m), names.s + m->name, &st, AT_SYMLINK_NOFOLLOW)))
          st.st_size = 0 ;
        m->fsize = st.st_size ;
      }
      if (unlinkat(dirfd_of(m), names.s + m->name, 0) < 0
       && !(errno == ENOENT && relocate(m) && !unlinkat(dirfd_of(m), names.s + m->name, 0)))
      {
        if (errno != ENOENT) { failed = 1 ; strerr_warnwu4sys("remove ", maildir, "/", names.s + m->name) ; }
        continue ;   /* gone already: whoever removed it counted it */
      }
      freed += m->fsize ; count++ ;
    }
    else
    {
      kept++ ;
      if (!m->cur)
      {
        /* the Maildir specification: what a reader has seen moves to cur/, ":2," added */
        char const *name = names.s + m->name ;
        size_t l = strlen(name) ;
        char to[l + 4] ;
        memcpy(to, name, l + 1) ;
        if (!strchr(name, ':')) memcpy(to + l, ":2,", 4) ;
        if (renameat(newfd, name, curfd, to) < 0 && errno != ENOENT)
          strerr_warnwu4sys("move to cur/ ", maildir, "/new/", name) ;
      }
    }
  }
  if (count)
  {
    int fd = openat(mdfd, "maildirsize", O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW) ;
    if (fd >= 0)
    {
      char s[UINT64_FMT * 2 + 4] ;
      size_t l = 0 ;
      s[l++] = '-' ; l += uint64_fmt(s + l, freed) ;
      s[l++] = ' ' ; s[l++] = '-' ; l += uint64_fmt(s + l, count) ;
      s[l++] = '\n' ;
      if (write(fd, s, l) != (ssize_t)l) strerr_warnwu3sys("update ", maildir, "/maildirsize") ;
      close(fd) ;
    }
    else if (errno != ENOENT) strerr_warnwu3sys("open ", maildir, "/maildirsize") ;
  }
  {
    char fd_[UINT64_FMT], fk[UINT64_FMT], fr[ULONG_FMT], ft[ULONG_FMT], fb[UINT64_FMT] ;
    char const *f[] = { "ip=", remoteip, "user=", user, "retr=", fr, "top=", ft, "dele=", fd_, "left=", fk, "bytes=", fb, 0 } ;
    fd_[uint64_fmt(fd_, count)] = 0 ;
    fk[uint64_fmt(fk, kept)] = 0 ;
    fr[ulong_fmt(fr, nretr)] = 0 ;
    ft[ulong_fmt(ft, ntop)] = 0 ;
    fb[uint64_fmt(fb, bytesout)] = 0 ;
    pop3io_log("quit", f) ;
  }
  if (failed) out("-ERR [SYS/TEMP] some deleted messages could not be removed\r\n") ;
  else { out("+OK bye, ") ; outnum(kept) ; out(kept == 1 ? " message left\r\n" : " messages left\r\n") ; }
  pop3io_close(&io, 2) ;
  _exit(0) ;
}

static void pop3_capa (void)
{
  out("+OK capability list follows\r\n"
      "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\n"
      "IMPLEMENTATION sluice\r\n.\r\n") ;
}

static void command (char const *s, size_t len)
{
  size_t a ;
  int verb = pop3cmd_verb(s, len, &a) ;
  char const *arg = s + a ;
  size_t alen = len - a ;
  switch (verb)
  {
    case POP3VERB_STAT :
      if (alen) out("-ERR syntax: STAT takes no argument\r\n") ;
      else pop3_stat() ;
      break ;
    case POP3VERB_LIST : listing(arg, alen, 0) ; break ;
    case POP3VERB_UIDL : listing(arg, alen, 1) ; break ;
    case POP3VERB_RETR : pop3_retr(arg, alen) ; break ;
    case POP3VERB_TOP : pop3_top(arg, alen) ; break ;
    case POP3VERB_DELE : pop3_dele(arg, alen) ; break ;
    case POP3VERB_NOOP : out("+OK\r\n") ; break ;
    case POP3VERB_RSET :
      for (size_t i = 0 ; i < nmsgs ; i++) msgs[i].deleted = 0 ;
      out("+OK ") ; outnum(nmsgs) ; out(nmsgs == 1 ? " message\r\n" : " messages\r\n") ;
      break ;
    case POP3VERB_QUIT : pop3_quit() ;
    case POP3VERB_CAPA : pop3_capa() ; break ;
    case POP3VERB_USER : case POP3VERB_PASS : case POP3VERB_APOP : case POP3VERB_AUTH : case POP3VERB_STLS :
      out("-ERR already logged in\r\n") ; break ;
    default : out("-ERR unknown command\r\n") ; break ;
  }
}

/* the login program (pop3-login) waits for one byte on $POP3LOGINFD: from here on the
   session is ours, whatever our exit code */
static void tell_login (void)
{
  char const *s = getenv("POP3LOGINFD") ;
  unsigned int fd ;
  if (!s) return ;
  if (!uint0_scan(s, &fd) || fd < 3) strerr_dief2x(100, "invalid $POP3LOGINFD: ", s) ;
  if (write((int)fd, "+", 1) < 0) strerr_warnwu1sys("write to $POP3LOGINFD") ;
  close((int)fd) ;
}

static void die_mailbox (char const *what) gccattr_noreturn ;
static void die_mailbox (char const *what)
{
  int e = errno ;
  out("-ERR [SYS/TEMP] unable to open the mailbox\r\n") ;
  pop3io_flush(&io) ;
  logend("end", "unable to open the mailbox") ;
  errno = e ;
  strerr_diefu3sys(111, what, " ", maildir) ;
}

int main (int argc, char const *const *argv)
{
  unsigned int timeout = 600 ;
  PROG = "pop3d" ;
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
  if (argc != 1 || !argv[0][0]) dieusage() ;
  maildir = argv[0] ;
  tell_login() ;
  remoteip = getenv("TCPREMOTEIP") ;
  if (!remoteip || !*remoteip) remoteip = "unknown" ;
  user = getenv("USER") ;
  if (!user || !*user) user = "-" ;
  signal(SIGPIPE, SIG_IGN) ;
  if (!pop3io_init(&io, 0, 1, timeout, 0, outbuf, sizeof outbuf)) strerr_diefu1sys(111, "set up the connection") ;

  mdfd = open(maildir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (mdfd < 0) die_mailbox("open") ;
  /* one session per mailbox: the lock goes with the process, never stale */
  if (flock(mdfd, LOCK_EX | LOCK_NB) < 0)
  {
    if (errno != EWOULDBLOCK) die_mailbox("lock") ;
    out("-ERR [IN-USE] the mailbox is in use by another session\r\n") ;
    pop3io_flush(&io) ;
    logend("end", "mailbox in use") ;
    _exit(0) ;
  }
  newfd = openat(mdfd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (newfd < 0) die_mailbox("open new/ of") ;
  curfd = openat(mdfd, "cur", O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (curfd < 0) die_mailbox("open cur/ of") ;
  if (scandir_fd(newfd, &addmsg, 0) < 0) die_mailbox("read new/ of") ;
  if (scandir_fd(curfd, &addmsg, 0) < 0) die_mailbox("read cur/ of") ;
  if (nmsgs > 1) qsort(msgs, nmsgs, sizeof *msgs, &msgcmp) ;
  out("+OK ") ; outnum(nmsgs) ; out(nmsgs == 1 ? " message\r\n" : " messages\r\n") ;

  for (;;)
  {
    size_t len ;
    int r = pop3io_getline(&io, line, &len) ;
    if (r == POP3IO_OK) command(line, len) ;
    else if (r == POP3IO_TOOLONG) out("-ERR line too long\r\n") ;
    else if (r == POP3IO_BAD) out("-ERR NUL byte in command line\r\n") ;
    else io_fail(r) ;
  }
}
