#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/bytestr.h>
#include <skalibs/djbunix.h>
#include <skalibs/genalloc.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "addrlist.h"
#include "control.h"
#include "date822.h"
#include "inject.h"
#include "qqueue.h"
#include "queue.h"

static qqueue qq = QQUEUE_ZERO ;
static int queueing = 0 ;       /* 1 once qqueue_start succeeded */

static void drop (void) { if (queueing) qqueue_abort(&qq) ; queueing = 0 ; }
static void dienomem (void) { drop() ; strerr_diefu1sys(111, "allocate memory") ; }

/* ---- input: lines of stdin, CR LF made LF ------------------------------------------------ */

static char ibuf[65536] ;
static size_t ipos = 0, ilen = 0 ;
static int ieof = 0 ;

/* The next piece of input: a line with its LF, or a part of a line longer than the buffer
   (*whole = 0), or the last line without LF. 0 at the end of the input. */
static char *piece (size_t *len, int *whole)
{
  for (;;)
  {
    char *p = ibuf + ipos ;
    char *nl = memchr(p, '\n', ilen - ipos) ;
    ssize_t r ;
    if (nl)
    {
      size_t n = (size_t)(nl - p) + 1 ;
      ipos += n ;
      if (n >= 2 && p[n - 2] == '\r') { p[n - 2] = '\n' ; n-- ; }
      *len = n ; *whole = 1 ;
      return p ;
    }
    if (ieof || (!ipos && ilen == sizeof ibuf))
    {
      size_t n = ilen - ipos ;
      if (!n) return 0 ;
      *whole = 0 ;
      if (ieof && p[n - 1] == '\r') { p[n - 1] = '\n' ; *whole = 1 ; }   /* a CR at the very end */
      else if (!ieof && p[n - 1] == '\r') n-- ;   /* it may be half of a CR LF */
      ipos += n ; *len = n ;
      return p ;
    }
    if (ipos) { memmove(ibuf, p, ilen - ipos) ; ilen -= ipos ; ipos = 0 ; }
    r = read(0, ibuf + ilen, sizeof ibuf - ilen) ;
    if (r < 0)
    {
      if (errno == EINTR) continue ;
      drop() ;
      strerr_diefu1sys(111, "read the message") ;
    }
    if (!r) ieof = 1 ; else ilen += (size_t)r ;
  }
}

/* ---- output: to the queue or to stdout, in pieces of up to 64 KiB ------------------------- */

static stralloc obuf = STRALLOC_ZERO ;
static int printing = 0 ;

static void oflush (void)
{
  if (!obuf.len) return ;
  if (printing ? allwrite(1, obuf.s, obuf.len) < obuf.len : !qqueue_write(&qq, obuf.s, obuf.len))
  {
    if (printing) strerr_diefu1sys(111, "write to stdout") ;
    /* the queue stopped reading: its answer says why */
  }
  obuf.len = 0 ;
}

static void emit (char const *s, size_t n)
{
  if (!stralloc_catb(&obuf, s, n)) dienomem() ;
  if (obuf.len >= 65536) oflush() ;
}

/* ---- the settings: control files and the user's environment ------------------------------ */

static stralloc me = STRALLOC_ZERO, dhost = STRALLOC_ZERO, ddomain = STRALLOC_ZERO, idhost = STRALLOC_ZERO ;
static addrlist_qual qual ;

static void readcontrol (stralloc *sa, char const *name, char const *dflt)
{
  if (control_readline(sa, name, dflt) < 0) strerr_diefu4sys(111, "read ", control_root(), "/control/", name) ;
  if (!sa->s[0] && dflt && !(stralloc_copys(sa, dflt) && stralloc_0(sa))) dienomem() ;
}

/* the instance's filter for local mail: the socket named in $SLUICEDIR/env/QMAILQUEUESOCK
   (which the services read too), unless the caller's environment names a queue program or
   socket of its own */
static void instance_queuesock (void)
{
  stralloc path = STRALLOC_ZERO, sock = STRALLOC_ZERO ;
  if (getenv("QMAILQUEUE") || getenv("QMAILQUEUESOCK")) return ;
  if (!stralloc_cats(&path, control_root()) || !stralloc_cats(&path, "/env/QMAILQUEUESOCK") || !stralloc_0(&path)) dienomem() ;
  if (!openslurpclose(&sock, path.s))
  {
    if (errno != ENOENT) strerr_diefu2sys(111, "read ", path.s) ;
  }
  else
  {
    size_t n = byte_chr(sock.s, sock.len, '\n') ;
    sock.len = n ;
    if (!stralloc_0(&sock)) dienomem() ;
    if (sock.s[0] && setenv("QMAILQUEUESOCK", sock.s, 1) < 0) dienomem() ;
  }
  stralloc_free(&sock) ;
  stralloc_free(&path) ;
}

static void settings (void)
{
  readcontrol(&me, "me", 0) ;
  if (!me.s[0])
  {
    char h[256] ;
    if (gethostname(h, sizeof h - 1) < 0) strerr_diefu1sys(111, "get the host name") ;
    h[sizeof h - 1] = 0 ;
    if (!stralloc_copys(&me, h) || !stralloc_0(&me)) dienomem() ;
  }
  readcontrol(&ddomain, "defaultdomain", me.s) ;
  readcontrol(&dhost, "defaulthost", me.s) ;
  readcontrol(&idhost, "idhost", me.s) ;
  /* defaulthost gets defaultdomain too when it has no dot, as in qmail-inject */
  if (!strchr(dhost.s, '.') && dhost.s[0] != '[')
  {
    dhost.len-- ;
    if (!stralloc_catb(&dhost, ".", 1) || !stralloc_cats(&dhost, ddomain.s) || !stralloc_0(&dhost)) dienomem() ;
  }
  qual.host = dhost.s ;
  qual.domain = ddomain.s ;
}

static char const *firstenv (char const *const *names)
{
  for (; *names ; names++)
  {
    char const *s = getenv(*names) ;
    if (s && *s) return s ;
  }
  return 0 ;
}

/* one address from text into addr (0-terminated, qualified): 1; 0 for "<>" or an empty
   text (no address); dies when text is not one address */
static int oneaddr (stralloc *addr, char const *text, char const *what)
{
  char const *why = "more than one address" ;
  int r ;
  addr->len = 0 ;
  r = addrlist_parse(text, strlen(text), &qual, 0, addr, &why) ;
  if (r < 0) dienomem() ;
  if (!r || (addr->len && strlen(addr->s) + 1 != addr->len)) strerr_dief6x(100, "bad ", what, " address: ", text, ": ", why) ;
  return addr->len > 0 ;
}

/* the user's address from the environment (qmail-inject's variables) into addr; with
   suser, the envelope sender's variables first */
static void useraddr (stralloc *addr, int suser)
{
  static char const *const users[] = { "QMAILUSER", "MAILUSER", "USER", "LOGNAME", 0 } ;
  static char const *const hosts[] = { "QMAILHOST", "MAILHOST", 0 } ;
  stralloc text = STRALLOC_ZERO ;
  char const *user = suser ? getenv("QMAILSUSER") : 0 ;
  char const *host = suser ? getenv("QMAILSHOST") : 0 ;
  if (!user || !*user) user = firstenv(users) ;
  if (!host || !*host) host = firstenv(hosts) ;
  if (!user)
  {
    struct passwd *pw = getpwuid(getuid()) ;
    user = pw ? pw->pw_name : "anonymous" ;
  }
  if (!host) host = dhost.s ;
  if (!addrlist_local(&text, user) || !stralloc_catb(&text, "@", 1) || !stralloc_cats(&text, host) || !stralloc_0(&text)) dienomem() ;
  oneaddr(addr, text.s, "user") ;
  stralloc_free(&text) ;
}

/* ---- the header --------------------------------------------------------------------------- */

typedef struct field_s field ;
struct field_s
{
  size_t start ;                /* in hdr; the field ends where the next starts */
  unsigned int line ;           /* its first line in the input */
} ;

static stralloc hdr = STRALLOC_ZERO ;
static genalloc fields = GENALLOC_ZERO ;   /* field */
static stralloc pending = STRALLOC_ZERO ;  /* the first line of the body, read with the header */
static int pendingwhole = 1 ;
static int ended = 0 ;                     /* the input ended (its end, or a "." line) */

static size_t namelen (char const *s, size_t n)
{
  size_t i = 0 ;
  while (i < n && s[i] > 32 && s[i] < 127 && s[i] != ':') i++ ;
  return i ;
}

/* a header field starts here: a name, blanks, a colon */
static int isfield (char const *s, size_t n)
{
  size_t i = namelen(s, n) ;
  if (!i) return 0 ;
  while (i < n && (s[i] == ' ' || s[i] == '\t')) i++ ;
  return i < n && s[i] == ':' ;
}

static int isdot (char const *p, size_t n, int whole)
{
  return p[0] == '.' && ((n == 2 && whole && p[1] == '\n') || (n == 1 && !whole)) ;
}

static void fieldname (field const *f, char *name, size_t max)
{
  size_t n = namelen(hdr.s + f->start, hdr.len - f->start) ;
  if (n >= max) n = max - 1 ;
  memcpy(name, hdr.s + f->start, n) ;
  name[n] = 0 ;
}

static void toolong (field const *f, char const *what, size_t max)
{
  char line[UINT_FMT], fmt[UINT64_FMT], name[64] ;
  line[uint_fmt(line, f->line)] = 0 ;
  fmt[uint64_fmt(fmt, max)] = 0 ;
  fieldname(f, name, sizeof name) ;
  strerr_dief(100, what, " too long at line ", line, " (", name, ":): more than ", fmt, " bytes") ;
}

static void readheader (int dotend)
{
  unsigned int line = 0 ;
  int atstart = 1, skipping = 0, infield = 0 ;
  for (;;)
  {
    size_t n ;
    int whole ;
    char *p = piece(&n, &whole) ;
    if (!p) { ended = 1 ; break ; }
    if (!atstart)   /* the rest of a long line */
    {
      if (!skipping && !stralloc_catb(&hdr, p, n)) dienomem() ;
    }
    else
    {
      line++ ;
      skipping = 0 ;
      if (dotend && isdot(p, n, whole)) { ended = 1 ; break ; }
      if (n == 1 && p[0] == '\n') break ;
      if ((p[0] == ' ' || p[0] == '\t') && infield) { if (!stralloc_catb(&hdr, p, n)) dienomem() ; }
      else if (line == 1 && n >= 5 && !memcmp(p, "From ", 5)) skipping = 1 ;   /* an mbox separator */
      else if (isfield(p, n))
      {
        field f = { .start = hdr.len, .line = line } ;
        if (!genalloc_append(field, &fields, &f) || !stralloc_catb(&hdr, p, n)) dienomem() ;
        infield = 1 ;
      }
      else
      {
        /* not a header line: the body starts here, after the blank line we write */
        if (!stralloc_catb(&pending, p, n)) dienomem() ;
        pendingwhole = whole ;
        break ;
      }
    }
    atstart = whole ;
    if (infield)
    {
      field const *f = genalloc_s(field, &fields) + genalloc_len(field, &fields) - 1 ;
      if (hdr.len - f->start > INJECT_FIELDMAX) toolong(f, "header field", INJECT_FIELDMAX) ;
      if (hdr.len > INJECT_HEADERMAX) toolong(f, "header", INJECT_HEADERMAX) ;
    }
  }
  if (hdr.len && hdr.s[hdr.len - 1] != '\n' && !stralloc_catb(&hdr, "\n", 1)) dienomem() ;
}

/* what a header field is to us */
#define F_STRIP 1               /* removed */
#define F_ADDR 2                /* addresses, qualified */
#define F_RCPT 4                /* recipients, when they come from the header */
#define F_RESENT 8              /* recipients when the message is resent */
#define F_DATE 16
#define F_MSGID 32
#define F_FROM 64

static unsigned int kind (char const *name)
{
  static struct { char const *name ; unsigned int kind ; } const table[] =
  {
    { "bcc", F_STRIP | F_ADDR | F_RCPT },
    { "cc", F_ADDR | F_RCPT },
    { "content-length", F_STRIP },
    { "date", F_DATE },
    { "from", F_ADDR | F_FROM },
    { "mail-followup-to", F_ADDR },
    { "mail-reply-to", F_ADDR },
    { "message-id", F_MSGID },
    { "reply-to", F_ADDR },
    { "resent-bcc", F_STRIP | F_ADDR | F_RESENT },
    { "resent-cc", F_ADDR | F_RESENT },
    { "resent-from", F_ADDR },
    { "resent-reply-to", F_ADDR },
    { "resent-sender", F_ADDR },
    { "resent-to", F_ADDR | F_RESENT },
    { "return-path", F_STRIP },
    { "sender", F_ADDR },
    { "to", F_ADDR | F_RCPT },
  } ;
  for (size_t i = 0 ; i < sizeof table / sizeof *table ; i++)
    if (!strcasecmp(name, table[i].name)) return table[i].kind ;
  return 0 ;
}

/* The header as it goes out, into out; the header's recipients into hrcpt when wanted.
   *seen gets the F_DATE, F_MSGID, F_FROM of the fields present. */
static void fixheader (stralloc *out, stralloc *hrcpt, int wanted, unsigned int *seen)
{
  size_t nf = genalloc_len(field, &fields) ;
  field const *fs = genalloc_s(field, &fields) ;
  stralloc scratch = STRALLOC_ZERO ;
  int resent = 0 ;
  *seen = 0 ;
  for (size_t i = 0 ; i < nf ; i++)
    if (!strncasecmp(hdr.s + fs[i].start, "resent-", 7)) resent = 1 ;
  for (size_t i = 0 ; i < nf ; i++)
  {
    size_t start = fs[i].start, end = i + 1 < nf ? fs[i + 1].start : hdr.len ;
    /* isfield() saw the colon */
    size_t colon = (size_t)((char const *)memchr(hdr.s + start, ':', end - start) - hdr.s) + 1 ;
    size_t mark = out->len ;
    char name[64] ;
    unsigned int k ;
    int rcpt ;
    fieldname(fs + i, name, sizeof name) ;
    k = namelen(hdr.s + start, end - start) < sizeof name ? kind(name) : 0 ;
    *seen |= k & (F_DATE | F_MSGID | F_FROM) ;
    rcpt = wanted && (k & (resent ? F_RESENT : F_RCPT)) ;
    if (k & F_ADDR)
    {
      char const *why = "" ;
      size_t keep = rcpt ? hrcpt->len : 0 ;
      int r ;
      if (!(k & F_STRIP) && !stralloc_catb(out, hdr.s + start, colon - start)) dienomem() ;
      scratch.len = 0 ;
      r = addrlist_parse(hdr.s + colon, end - colon, &qual, k & F_STRIP ? 0 : out, rcpt ? hrcpt : &scratch, &why) ;
      if (r < 0) dienomem() ;
      if (!r)
      {
        char fmt[UINT_FMT] ;
        fmt[uint_fmt(fmt, fs[i].line)] = 0 ;
        if (rcpt) strerr_dief(100, "bad address in the header at line ", fmt, " (", name, ":): ", why) ;
        /* not where the recipients come from: the field goes as it came */
        out->len = mark ;
        if (rcpt) hrcpt->len = keep ;
        if (!(k & F_STRIP) && !stralloc_catb(out, hdr.s + start, end - start)) dienomem() ;
      }
    }
    else if (!(k & F_STRIP) && !stralloc_catb(out, hdr.s + start, end - start)) dienomem() ;
  }
  stralloc_free(&scratch) ;
}

/* ---- the envelope ------------------------------------------------------------------------- */

typedef struct rcptref_s rcptref ;
struct rcptref_s { char const *s ; size_t i ; } ;

static int rcptcmp (void const *a, void const *b)
{
  rcptref const *x = a, *y = b ;
  int c = strcmp(x->s, y->s) ;
  return c ? c : x->i < y->i ? -1 : x->i > y->i ;
}

/* every address of list (0-terminated strings) once, in order, into env as T records */
static void addrcpts (stralloc *env, stralloc const *list)
{
  size_t n = 0 ;
  for (size_t i = 0 ; i < list->len ; i += strlen(list->s + i) + 1) n++ ;
  if (!n) return ;
  {
    rcptref *r = malloc(n * sizeof *r) ;
    char *dup = calloc(n, 1) ;
    size_t k = 0 ;
    if (!r || !dup) dienomem() ;
    for (size_t i = 0 ; i < list->len ; i += strlen(list->s + i) + 1, k++) { r[k].s = list->s + i ; r[k].i = k ; }
    qsort(r, n, sizeof *r, &rcptcmp) ;
    for (k = 1 ; k < n ; k++) if (!strcmp(r[k].s, r[k - 1].s)) dup[r[k].i] = 1 ;
    k = 0 ;
    for (size_t i = 0 ; i < list->len ; i += strlen(list->s + i) + 1, k++)
    {
      if (dup[k]) continue ;
      if (strlen(list->s + i) > QUEUE_ADDRMAX) strerr_dief2x(100, "address too long (more than 1000 bytes): ", list->s + i) ;
      if (!qqueue_envelope_add(env, 'T', list->s + i)) dienomem() ;
    }
    free(r) ; free(dup) ;
  }
}

/* ---- all of it ---------------------------------------------------------------------------- */

void inject_run (inject_opts const *o, char const *const *rcpt)
{
  stralloc out = STRALLOC_ZERO, arcpt = STRALLOC_ZERO, hrcpt = STRALLOC_ZERO ;
  stralloc sender = STRALLOC_ZERO, env = STRALLOC_ZERO ;
  unsigned int from = o->from, seen ;
  int hassender ;
  sig_ignore(SIGPIPE) ;
  settings() ;

  for (; *rcpt ; rcpt++)
  {
    char const *why = "an option after the recipients? (options come first)" ;
    int r = **rcpt == '-' ? 0 : addrlist_parse(*rcpt, strlen(*rcpt), &qual, 0, &arcpt, &why) ;
    if (r < 0) dienomem() ;
    if (!r) strerr_dief4x(100, "bad recipient address: ", *rcpt, ": ", why) ;
  }
  if (!from) from = arcpt.len ? INJECT_ARGS : INJECT_HEADER ;

  readheader(o->dotend) ;
  fixheader(&out, &hrcpt, !!(from & INJECT_HEADER), &seen) ;

  /* the envelope sender: -f, else the user's (QMAILSUSER...) */
  if (o->sender) hassender = oneaddr(&sender, o->sender, "sender") ;
  else { useraddr(&sender, 1) ; hassender = 1 ; }
  if (!qqueue_envelope_add(&env, 'F', hassender ? sender.s : "")) dienomem() ;
  if (!(from & INJECT_ARGS)) arcpt.len = 0 ;
  if ((from & INJECT_HEADER) && !stralloc_catb(&arcpt, hrcpt.s, hrcpt.len)) dienomem() ;
  addrcpts(&env, &arcpt) ;
  if (env.len == strlen(env.s) + 1)
  {
    if (from == INJECT_ARGS) strerr_dief1x(100, "no recipient given") ;
    strerr_dief1x(100, from & INJECT_ARGS ? "no recipient: none given, none in To:, Cc: or Bcc:" : "no recipient in To:, Cc: or Bcc:") ;
  }

  /* the fields a message must have */
  if (!(seen & F_FROM))
  {
    stralloc addr = STRALLOC_ZERO ;
    char const *name = o->name ;
    static char const *const names[] = { "QMAILNAME", "MAILNAME", "NAME", 0 } ;
    /* from -f when given (as Postfix does), else the user's own */
    if (o->sender && hassender) { if (!stralloc_copy(&addr, &sender)) dienomem() ; }
    else useraddr(&addr, 0) ;
    if (!name || !*name) name = firstenv(names) ;
    if (!stralloc_cats(&out, "From: ")) dienomem() ;
    if (name && *name)
    {
      if (!addrlist_phrase(&out, name) || !stralloc_cats(&out, " <") || !addrlist_header(&out, addr.s) || !stralloc_cats(&out, ">\n")) dienomem() ;
    }
    else if (!addrlist_header(&out, addr.s) || !stralloc_cats(&out, "\n")) dienomem() ;
    stralloc_free(&addr) ;
  }
  if (!(seen & F_DATE))
  {
    if (!stralloc_cats(&out, "Date: ") || !date822_cat(&out, time(0)) || !stralloc_cats(&out, "\n")) dienomem() ;
  }
  if (!(seen & F_MSGID))
  {
    struct timespec ts ;
    char fmt[UINT64_FMT] ;
    clock_gettime(CLOCK_REALTIME, &ts) ;
    if (!stralloc_cats(&out, "Message-ID: <") || !stralloc_catb(&out, fmt, uint64_fmt(fmt, (uint64_t)ts.tv_sec))
     || !stralloc_catb(&out, ".", 1) || !stralloc_catb(&out, fmt, uint64_fmt(fmt, (uint64_t)ts.tv_nsec))
     || !stralloc_catb(&out, ".", 1) || !stralloc_catb(&out, fmt, uint64_fmt(fmt, (uint64_t)getpid()))
     || !stralloc_catb(&out, "@", 1) || !stralloc_cats(&out, idhost.s) || !stralloc_cats(&out, ">\n")) dienomem() ;
  }
  if (!stralloc_catb(&out, "\n", 1)) dienomem() ;

  /* hand it over: the header, then the body as it comes */
  printing = o->print ;
  if (!printing)
  {
    /* not a network server: the queue writes the Received: line that names our uid */
    unsetenv("PROTO") ;
    instance_queuesock() ;
    if (!qqueue_start(&qq, env.s, env.len)) strerr_diefu1sys(111, "start the queue program") ;
    queueing = 1 ;
  }
  emit(out.s, out.len) ;
  {
    int lastnl = 1, atstart = pendingwhole ;
    if (pending.len) { emit(pending.s, pending.len) ; lastnl = pending.s[pending.len - 1] == '\n' ; }
    while (!ended)
    {
      size_t n ;
      int whole ;
      char *p = piece(&n, &whole) ;
      if (!p) break ;
      if (atstart && o->dotend && isdot(p, n, whole)) break ;
      emit(p, n) ;
      atstart = whole ;
      lastnl = p[n - 1] == '\n' ;
    }
    if (!lastnl) emit("\n", 1) ;
  }
  oflush() ;
  if (printing) _exit(0) ;
  {
    int code = qqueue_finish(&qq) ;
    char fmt[UINT_FMT] ;
    queueing = 0 ;
    if (!code) _exit(0) ;
    fmt[uint_fmt(fmt, (unsigned int)code)] = 0 ;
    strerr_dief(qqueue_permanent(code) ? 100 : 111, "unable to queue the message: ", qqueue_strerror(code), " (queue code ", fmt, ")") ;
  }
}

void inject_path_self (void)
{
  char self[4096] ;
  char const *path = getenv("PATH") ;
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1) ;
  char *slash ;
  if (n <= 0 || (size_t)n >= sizeof self - 1) return ;
  self[n] = 0 ;
  slash = strrchr(self, '/') ;
  if (!slash || slash == self) return ;
  *slash = 0 ;
  if (!path || !*path) path = "/usr/bin:/bin" ;
  {
    size_t sn = strlen(self), pn = strlen(path) ;
    char newpath[sn + pn + 2] ;
    if (!strncmp(path, self, sn) && path[sn] == ':') return ;
    memcpy(newpath, self, sn) ;
    newpath[sn] = ':' ;
    memcpy(newpath + sn + 1, path, pn + 1) ;
    setenv("PATH", newpath, 1) ;
  }
}
