/* autorespond: in a .qmail file, |autorespond dir answers the message on stdin with the text
   of dir/message, once per sender per interval and never where RFC 3834 says not to; the
   reply goes out through the queue with the null envelope sender. Exit 0 whatever it decided
   (the .qmail chain goes on: the user keeps the mail), 111 when it could not decide or send. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "atomic.h"
#include "control.h"
#include "date822.h"
#include "qqueue.h"

#define USAGE "autorespond [ -A ] [ -a addr ] [ -t secs ] [ -n max ] dir"
#define dieusage() strerr_dieusage(100, USAGE)
#define dienomem() strerr_diefu1sys(111, "allocate memory")
#define HEADMAX 262144
#define ADDRMAX 16

static stralloc head = STRALLOC_ZERO ;   /* the header, unfolded: one field a line, \n ended */

static int lower (int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c ; }

static int prefixi (char const *s, size_t n, char const *p)
{
  size_t k = strlen(p) ;
  if (n < k) return 0 ;
  for (size_t i = 0 ; i < k ; i++) if (lower((unsigned char)s[i]) != lower((unsigned char)p[i])) return 0 ;
  return 1 ;
}

/* the header of the message on fd 0, unfolded, CRs dropped, into head */
static void read_header (void)
{
  char buf[8192] ;
  int bol = 1, done = 0 ;
  while (!done)
  {
    ssize_t r = read(0, buf, sizeof buf) ;
    if (r < 0) { if (errno == EINTR) continue ; strerr_diefu1sys(111, "read the message") ; }
    if (!r) break ;
    for (ssize_t i = 0 ; i < r && !done ; i++)
    {
      char c = buf[i] ;
      if (c == '\r') continue ;
      if (bol)
      {
        if (c == '\n') { done = 1 ; break ; }
        if ((c == ' ' || c == '\t') && head.len) head.len-- ;   /* a continuation: the newline goes */
      }
      if (head.len >= HEADMAX) { done = 1 ; break ; }
      if (!stralloc_catb(&head, &c, 1)) dienomem() ;
      bol = c == '\n' ;
    }
  }
  if (head.len && head.s[head.len-1] != '\n' && !stralloc_catb(&head, "\n", 1)) dienomem() ;
}

/* the value of the first field name (without colon), leading blanks skipped; 0 if none */
static char const *field (char const *name, size_t *len)
{
  size_t n = strlen(name) ;
  for (size_t pos = 0 ; pos < head.len ; )
  {
    char const *s = head.s + pos ;
    char const *nl = memchr(s, '\n', head.len - pos) ;
    size_t l = nl - s ;
    if (prefixi(s, l, name) && l > n && s[n] == ':')
    {
      size_t i = n + 1 ;
      while (i < l && (s[i] == ' ' || s[i] == '\t')) i++ ;
      while (l > i && (s[l-1] == ' ' || s[l-1] == '\t')) l-- ;
      *len = l - i ;
      return s + i ;
    }
    pos += l + 1 ;
  }
  return 0 ;
}

/* does any field's name start with prefix (List-, ...)? */
static int field_prefix (char const *prefix)
{
  for (size_t pos = 0 ; pos < head.len ; )
  {
    char const *s = head.s + pos ;
    char const *nl = memchr(s, '\n', head.len - pos) ;
    size_t l = nl - s ;
    if (prefixi(s, l, prefix) && memchr(s, ':', l)) return 1 ;
    pos += l + 1 ;
  }
  return 0 ;
}

static int addrchar (int c)
{
  return c > ' ' && c < 127 && !strchr("<>,;:\"()[]", c) ;
}

/* is addr in s[0..n) as a whole address (not part of a longer one)? */
static int has_address (char const *s, size_t n, char const *addr)
{
  size_t k = strlen(addr) ;
  if (!k) return 0 ;
  for (size_t i = 0 ; i + k <= n ; i++)
    if ((!i || !addrchar((unsigned char)s[i-1])) && prefixi(s + i, n - i, addr)
     && (i + k == n || !addrchar((unsigned char)s[i+k])))
      return 1 ;
  return 0 ;
}

/* the reason not to answer, or 0: RFC 3834 section 2 and what lists and bounces look like */
static char const *refusal (char const *sender, char const *recipient, char const *const *also, size_t nalso, int anyrcpt)
{
  char const *v ;
  size_t len ;
  char const *at = strrchr(sender, '@') ;
  size_t local = at ? (size_t)(at - sender) : strlen(sender) ;
  if (!*sender || !strcmp(sender, "#@[]")) return "the null sender" ;
  if (strpbrk(sender, " \t\n\r")) return "a sender with blanks" ;
  if (prefixi(sender, local, "mailer-daemon") && local == 13) return "MAILER-DAEMON" ;
  if (local >= 8 && prefixi(sender + local - 8, 8, "-request")) return "a -request sender" ;
  if (prefixi(sender, local, "owner-") || (local >= 6 && prefixi(sender + local - 6, 6, "-owner"))) return "an owner- sender" ;
  if (!strcasecmp(sender, recipient)) return "a message from the user to the user" ;
  v = field("Auto-Submitted", &len) ;
  if (v)
  {
    size_t i = 0 ;
    while (i < len && (v[i] == ' ' || v[i] == '\t')) i++ ;
    if (!(prefixi(v + i, len - i, "no") && (i + 2 == len || !addrchar((unsigned char)v[i+2])))) return "Auto-Submitted" ;
  }
  v = field("Precedence", &len) ;
  if (v && (prefixi(v, len, "bulk") || prefixi(v, len, "list") || prefixi(v, len, "junk"))) return "Precedence" ;
  if (field_prefix("List-") || field("Mailing-List", &len)) return "a list's message" ;
  if (!anyrcpt)
  {
    int found = 0 ;
    char const *names[2] = { "To", "Cc" } ;
    for (size_t f = 0 ; f < 2 && !found ; f++)
      for (size_t pos = 0 ; pos < head.len && !found ; )
      {
        /* every To and Cc field, there may be several */
        char const *s = head.s + pos ;
        char const *nl = memchr(s, '\n', head.len - pos) ;
        size_t l = nl - s, n = strlen(names[f]) ;
        if (l > n && s[n] == ':' && prefixi(s, l, names[f]))
        {
          if (has_address(s + n + 1, l - n - 1, recipient)) found = 1 ;
          for (size_t k = 0 ; k < nalso && !found ; k++) if (has_address(s + n + 1, l - n - 1, also[k])) found = 1 ;
        }
        pos += l + 1 ;
      }
    if (!found) return "the user is not in To or Cc" ;
  }
  return 0 ;
}

/* ---- who was answered: dir/replied, "SECONDS ADDRESS" lines, under dir/lock ---- */

static int lock_dir (char const *dir)
{
  size_t n = strlen(dir) ;
  char path[n + 6] ;
  int fd ;
  memcpy(path, dir, n) ; memcpy(path + n, "/lock", 6) ;
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600) ;
  if (fd < 0) strerr_diefu2sys(111, "open ", path) ;
  while (flock(fd, LOCK_EX) < 0) if (errno != EINTR) strerr_diefu2sys(111, "lock ", path) ;
  return fd ;
}

static void read_file (char const *dir, char const *name, stralloc *sa, int must)
{
  size_t n = strlen(dir) ;
  char path[n + strlen(name) + 2] ;
  int fd ;
  memcpy(path, dir, n) ; path[n] = '/' ; strcpy(path + n + 1, name) ;
  sa->len = 0 ;
  fd = open(path, O_RDONLY | O_CLOEXEC) ;
  if (fd < 0)
  {
    if (errno == ENOENT && !must) return ;
    strerr_diefu2sys(111, "open ", path) ;
  }
  for (;;)
  {
    ssize_t r ;
    if (!stralloc_readyplus(sa, 8192)) dienomem() ;
    r = read(fd, sa->s + sa->len, 8192) ;
    if (r < 0) { if (errno == EINTR) continue ; strerr_diefu2sys(111, "read ", path) ; }
    if (!r) break ;
    sa->len += r ;
  }
  close(fd) ;
}

/* keep the records younger than keep seconds in out; *seen: sender among them; *hour: how
   many replies in the last hour */
static void prune (stralloc const *in, stralloc *out, time_t now, unsigned long keep, unsigned long interval,
  char const *sender, int *seen, unsigned long *hour)
{
  size_t slen = strlen(sender) ;
  *seen = 0 ; *hour = 0 ;
  out->len = 0 ;
  for (size_t pos = 0 ; pos < in->len ; )
  {
    char const *s = in->s + pos ;
    char const *nl = memchr(s, '\n', in->len - pos) ;
    size_t l = nl ? (size_t)(nl - s) : in->len - pos ;
    unsigned long t ;
    size_t k = ulong_scan(s, &t) ;
    pos += l + 1 ;
    if (!nl || !k || k >= l || s[k] != ' ') continue ;   /* a damaged line: dropped */
    if ((time_t)t > now || now - (time_t)t >= (time_t)keep) continue ;
    if (now - (time_t)t < 3600) ++*hour ;
    if (now - (time_t)t < (time_t)interval && l - k - 1 == slen && !strncasecmp(s + k + 1, sender, slen)) *seen = 1 ;
    if (!stralloc_catb(out, s, l + 1)) dienomem() ;
  }
}

static void write_records (char const *dir, stralloc const *sa)
{
  size_t n = strlen(dir) ;
  char path[n + 9] ;
  memcpy(path, dir, n) ; memcpy(path + n, "/replied", 9) ;
  if (!atomic_write(path, sa->s, sa->len, 0600)) strerr_diefu2sys(111, "write ", path) ;
}

/* ---- the reply ---- */

static int is8bit (char const *s, size_t n)
{
  for (size_t i = 0 ; i < n ; i++) if ((unsigned char)s[i] >= 128) return 1 ;
  return 0 ;
}

/* the length of the valid UTF-8 character at s (n bytes left), 0 if not valid */
static size_t utf8_len (unsigned char const *s, size_t n)
{
  size_t k = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0 ;
  if (!k || k > n) return 0 ;
  for (size_t i = 1 ; i < k ; i++) if ((s[i] & 0xc0) != 0x80) return 0 ;
  return k ;
}

static void cat_b64 (stralloc *sa, unsigned char const *s, size_t n)
{
  static char const tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" ;
  for (size_t i = 0 ; i < n ; i += 3)
  {
    unsigned long v = (unsigned long)s[i] << 16 | (i + 1 < n ? (unsigned long)s[i+1] << 8 : 0) | (i + 2 < n ? s[i+2] : 0) ;
    char o[4] = { tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=', i + 2 < n ? tab[v & 63] : '=' } ;
    if (!stralloc_catb(sa, o, 4)) dienomem() ;
  }
}

/* text with 8-bit bytes as UTF-8 encoded-words of whole characters (an invalid byte or a
   control character becomes '?'), folded between them so that no line passes 78 columns;
   col: where the line stands when the first word starts */
static void cat_encoded (stralloc *sa, char const *s, size_t n, size_t col)
{
  size_t i = 0 ;
  while (i < n)
  {
    unsigned char chunk[48] ;
    size_t c = 0, room = col + 12 + 4 < 78 ? (78 - col - 12) / 4 * 3 : 0 ;
    if (room > 45) room = 45 ;
    if (room < 6) { if (!stralloc_cats(sa, "\n ")) dienomem() ; col = 1 ; continue ; }
    while (i < n)
    {
      unsigned char const *p = (unsigned char const *)s + i ;
      size_t k = utf8_len(p, n - i), adv = k ;
      if (!k || (k == 1 && (*p < ' ' || *p == 127))) { p = (unsigned char const *)"?" ; k = 1 ; adv = 1 ; }
      if (c + k > room) break ;
      memcpy(chunk + c, p, k) ; c += k ; i += adv ;
    }
    if (!stralloc_cats(sa, "=?UTF-8?B?")) dienomem() ;
    cat_b64(sa, chunk, c) ;
    if (!stralloc_cats(sa, "?=")) dienomem() ;
    if (i < n) { if (!stralloc_cats(sa, "\n ")) dienomem() ; col = 1 ; }
  }
}

/* 7-bit text (control characters made blanks), folded before a blank where a line would
   pass 78 columns; col: where the line stands */
static void cat_folded (stralloc *sa, char const *s, size_t n, size_t col)
{
  for (size_t i = 0 ; i < n ; )
  {
    size_t j = i + 1 ;
    while (j < n && s[j] != ' ' && s[j] != '\t') j++ ;   /* s[i..j): a blank and a word */
    if (col + (j - i) > 78 && col > 1 && (s[i] == ' ' || s[i] == '\t'))
    {
      if (!stralloc_catb(sa, "\n", 1)) dienomem() ;
      col = 0 ;
    }
    for (; i < j ; i++)
    {
      char c = (unsigned char)s[i] < ' ' ? ' ' : s[i] ;
      if (!stralloc_catb(sa, &c, 1)) dienomem() ;
      col++ ;
    }
  }
}

/* the subject of the reply: Re: and the original, as it was when it is 7-bit (encoded-words
   stay whole), else encoded */
static void cat_subject (stralloc *sa)
{
  size_t len ;
  char const *v = field("Subject", &len) ;
  if (!stralloc_cats(sa, "Subject: ")) dienomem() ;
  if (!v || !len) { if (!stralloc_cats(sa, "Re: your message\n")) dienomem() ; return ; }
  if (!prefixi(v, len, "re:") && !stralloc_cats(sa, "Re: ")) dienomem() ;
  if (is8bit(v, len)) cat_encoded(sa, v, len, prefixi(v, len, "re:") ? 9 : 13) ;
  else cat_folded(sa, v, len, prefixi(v, len, "re:") ? 9 : 13) ;
  if (!stralloc_catb(sa, "\n", 1)) dienomem() ;
}

/* text with ${SUBJECT} replaced by the sender's subject, as it was */
static void cat_substituted (stralloc *sa, char const *s, size_t n)
{
  size_t slen = 0 ;
  char const *subj = field("Subject", &slen) ;
  for (size_t i = 0 ; i < n ; )
  {
    if (n - i >= 10 && !memcmp(s + i, "${SUBJECT}", 10))
    {
      if (subj && !stralloc_catb(sa, subj, slen)) dienomem() ;
      i += 10 ;
    }
    else { if (!stralloc_catb(sa, s + i, 1)) dienomem() ; i++ ; }
  }
}

static void cat_field (stralloc *sa, char const *name, char const *v, size_t len)
{
  if (!stralloc_cats(sa, name) || !stralloc_cats(sa, ": ") || !stralloc_catb(sa, v, len) || !stralloc_catb(sa, "\n", 1)) dienomem() ;
}

/* a message ID from the original: <...> without blanks, or 0 */
static char const *msgid (char const *name, size_t *len)
{
  char const *v = field(name, len) ;
  if (!v || *len < 3 || v[0] != '<' || v[*len-1] != '>' || memchr(v, ' ', *len) || memchr(v, '\t', *len)) return 0 ;
  return v ;
}

static void build_reply (stralloc *out, stralloc const *text, char const *sender, char const *recipient, time_t now)
{
  stralloc me = STRALLOC_ZERO ;
  char const *body = text->s ;
  size_t bodylen = text->len ;
  size_t idlen, reflen ;
  char const *id = msgid("Message-ID", &idlen) ;
  char const *from = 0, *subject = 0 ;
  size_t fromlen = 0, subjectlen = 0 ;
  char fmt[ULONG_FMT] ;

  /* dir/message may start with From: and Subject: lines, then an empty line */
  if (prefixi(body, bodylen, "from:") || prefixi(body, bodylen, "subject:"))
  {
    size_t pos = 0 ;
    while (pos < bodylen)
    {
      char const *s = body + pos ;
      char const *nl = memchr(s, '\n', bodylen - pos) ;
      size_t l = nl ? (size_t)(nl - s) : bodylen - pos ;
      size_t vl = l ;
      pos += l + (nl ? 1 : 0) ;
      while (vl && s[vl-1] == '\r') vl-- ;
      if (!vl) break ;
      if (prefixi(s, vl, "from:")) { from = s + 5 ; fromlen = vl - 5 ; }
      else if (prefixi(s, vl, "subject:")) { subject = s + 8 ; subjectlen = vl - 8 ; }
      while (from && fromlen && (*from == ' ' || *from == '\t')) { from++ ; fromlen-- ; }
      while (subject && subjectlen && (*subject == ' ' || *subject == '\t')) { subject++ ; subjectlen-- ; }
    }
    body += pos ; bodylen -= pos ;
  }
  if (control_readline(&me, "me", "localhost") < 0) strerr_diefu1sys(111, "read control/me") ;

  out->len = 0 ;
  if (from) cat_field(out, "From", from, fromlen) ;
  else cat_field(out, "From", recipient, strlen(recipient)) ;
  cat_field(out, "To", sender, strlen(sender)) ;
  if (subject)
  {
    stralloc s = STRALLOC_ZERO ;
    cat_substituted(&s, subject, subjectlen) ;
    if (!stralloc_cats(out, "Subject: ")) dienomem() ;
    if (is8bit(s.s, s.len)) cat_encoded(out, s.s, s.len, 9) ;
    else cat_folded(out, s.s, s.len, 9) ;
    if (!stralloc_catb(out, "\n", 1)) dienomem() ;
    stralloc_free(&s) ;
  }
  else cat_subject(out) ;
  if (!stralloc_cats(out, "Date: ") || !date822_cat(out, now) || !stralloc_cats(out, "\nMessage-ID: <")
   || !stralloc_catb(out, fmt, ulong_fmt(fmt, now)) || !stralloc_catb(out, ".", 1)
   || !stralloc_catb(out, fmt, ulong_fmt(fmt, getpid())) || !stralloc_cats(out, ".autorespond@")
   || !stralloc_cats(out, me.s) || !stralloc_cats(out, ">\n")) dienomem() ;
  if (id)
  {
    char const *ref = field("References", &reflen) ;
    cat_field(out, "In-Reply-To", id, idlen) ;
    if (!stralloc_cats(out, "References: ")) dienomem() ;
    if (ref && reflen && !is8bit(ref, reflen))
    {
      cat_folded(out, ref, reflen, 12) ;
      if (!stralloc_cats(out, "\n ")) dienomem() ;
    }
    if (!stralloc_catb(out, id, idlen) || !stralloc_catb(out, "\n", 1)) dienomem() ;
  }
  if (!stralloc_cats(out, "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n")) dienomem() ;
  if (!stralloc_cats(out, is8bit(body, bodylen) ? "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n"
                                                 : "Content-Type: text/plain; charset=US-ASCII\nContent-Transfer-Encoding: 7bit\n")) dienomem() ;
  if (!stralloc_catb(out, "\n", 1)) dienomem() ;
  {
    size_t start = out->len ;
    cat_substituted(out, body, bodylen) ;
    /* the body as text lines: CRs out, a final newline */
    size_t j = start ;
    for (size_t i = start ; i < out->len ; i++) if (out->s[i] != '\r') out->s[j++] = out->s[i] ;
    out->len = j ;
    if (out->len > start && out->s[out->len-1] != '\n' && !stralloc_catb(out, "\n", 1)) dienomem() ;
  }
  stralloc_free(&me) ;
}

/* queue the reply from <> to sender: 0 queued, else the queue's exit code (-1: not started) */
static int send_reply (stralloc const *msg, char const *sender)
{
  stralloc env = STRALLOC_ZERO ;
  qqueue q = QQUEUE_ZERO ;
  int code ;
  if (!qqueue_envelope_add(&env, 'F', "") || !qqueue_envelope_add(&env, 'T', sender)) dienomem() ;
  if (!qqueue_start(&q, env.s, env.len)) { stralloc_free(&env) ; return -1 ; }
  qqueue_write(&q, msg->s, msg->len) ;   /* a failure shows in the exit code */
  code = qqueue_finish(&q) ;
  stralloc_free(&env) ;
  return code ;
}

int main (int argc, char const *const *argv)
{
  stralloc text = STRALLOC_ZERO, old = STRALLOC_ZERO, records = STRALLOC_ZERO, reply = STRALLOC_ZERO ;
  char const *also[ADDRMAX] ;
  size_t nalso = 0 ;
  unsigned long interval = 604800, max = 50, hour ;
  int anyrcpt = 0, seen, lockfd, code ;
  char const *sender, *recipient, *dir, *why ;
  time_t now ;
  PROG = "autorespond" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "Aa:t:n:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'A' : anyrcpt = 1 ; break ;
        case 'a' : if (nalso == ADDRMAX || !*l.arg) dieusage() ; also[nalso++] = l.arg ; break ;
        case 't' : if (!ulong0_scan(l.arg, &interval) || !interval) dieusage() ; break ;
        case 'n' : if (!ulong0_scan(l.arg, &max)) dieusage() ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc != 1 || !*argv[0]) dieusage() ;
  dir = argv[0] ;
  sender = getenv("SENDER") ;
  if (!sender) strerr_dienotset(100, "SENDER") ;
  recipient = getenv("RECIPIENT") ;
  if (!recipient) strerr_dienotset(100, "RECIPIENT") ;
  sig_ignore(SIGPIPE) ;
  sig_restore(SIGCHLD) ;   /* an inherited SIG_IGN would hide the queue program's exit code */

  /* the null sender needs no header: refused before reading anything */
  if (*sender && strcmp(sender, "#@[]")) read_header() ;
  why = refusal(sender, recipient, also, nalso, anyrcpt) ;
  if (why) return 0 ;
  read_file(dir, "message", &text, 1) ;
  now = time(0) ;

  lockfd = lock_dir(dir) ;
  read_file(dir, "replied", &old, 0) ;
  prune(&old, &records, now, interval > 3600 ? interval : 3600, interval, sender, &seen, &hour) ;
  if (seen) return 0 ;
  if (hour >= max)
  {
    strerr_warnw3x("no reply to ", sender, ": the limit of replies per hour is reached") ;
    return 0 ;
  }
  build_reply(&reply, &text, sender, recipient, now) ;
  {
    char fmt[ULONG_FMT] ;
    if (!stralloc_catb(&records, fmt, ulong_fmt(fmt, now)) || !stralloc_catb(&records, " ", 1)
     || !stralloc_cats(&records, sender) || !stralloc_catb(&records, "\n", 1)) dienomem() ;
  }
  /* recorded first: a reply is never sent twice; if it cannot be queued, the record goes */
  write_records(dir, &records) ;
  code = send_reply(&reply, sender) ;
  if (code)
  {
    char fmt[UINT_FMT] ;
    int e = errno ;
    write_records(dir, &old) ;
    if (code < 0) { errno = e ; strerr_diefu1sys(111, "run the queue program") ; }
    fmt[uint_fmt(fmt, code)] = 0 ;
    if (qqueue_permanent(code))
    {
      /* the reply cannot go: the original is still delivered */
      strerr_warnw4x("no reply to ", sender, ": ", qqueue_strerror(code)) ;
      return 0 ;
    }
    strerr_diefu5x(111, "queue the reply: ", qqueue_strerror(code), " (queue exit ", fmt, ")") ;
  }
  close(lockfd) ;
  return 0 ;
}
