#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/genalloc.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "addrset.h"
#include "date822.h"
#include "listdir.h"
#include "listmsg.h"
#include "qqueue.h"
#include "queue.h"

/* where the header ends in s[0..len): the index just past the last field's newline, with
   *skip the bytes of the empty line; or -1 when it does not end in s */
static long header_end (char const *s, size_t len, size_t from, size_t *skip)
{
  if (!from)
  {
    if (len && s[0] == '\n') { *skip = 1 ; return 0 ; }
    if (len > 1 && s[0] == '\r' && s[1] == '\n') { *skip = 2 ; return 0 ; }
  }
  for (size_t i = from ; i < len ; i++) if (s[i] == '\n')
  {
    if (i + 1 < len && s[i+1] == '\n') { *skip = 1 ; return (long)i + 1 ; }
    if (i + 2 < len && s[i+1] == '\r' && s[i+2] == '\n') { *skip = 2 ; return (long)i + 1 ; }
  }
  return -1 ;
}

int listmsg_header (int fd, off_t start, stralloc *hdr, off_t *body)
{
  size_t scanned = 0 ;
  hdr->len = 0 ;
  for (;;)
  {
    ssize_t r ;
    size_t skip ;
    long end ;
    if (!stralloc_readyplus(hdr, 65536)) return -1 ;
    r = pread(fd, hdr->s + hdr->len, 65536, start + hdr->len) ;
    if (r < 0) { if (errno == EINTR) continue ; return -1 ; }
    if (!r)
    {
      /* no empty line: all of it is header */
      *body = start + hdr->len ;
      if (hdr->len && hdr->s[hdr->len - 1] != '\n' && !stralloc_catb(hdr, "\n", 1)) return -1 ;
      return 1 ;
    }
    hdr->len += r ;
    end = header_end(hdr->s, hdr->len, scanned, &skip) ;
    if (end > LISTMSG_HEADERMAX) { errno = EFBIG ; return 0 ; }
    if (end >= 0)
    {
      *body = start + end + skip ;
      hdr->len = end ;
      return 1 ;
    }
    scanned = hdr->len > 2 ? hdr->len - 2 : 0 ;
    if (hdr->len > LISTMSG_HEADERMAX) { errno = EFBIG ; return 0 ; }
  }
}

/* the length of the field name at s[0..len) when the line starts a field, else 0 */
static size_t fieldname (char const *s, size_t len)
{
  size_t i = 0 ;
  while (i < len && s[i] > 32 && s[i] < 127 && s[i] != ':') i++ ;
  return i < len && i && s[i] == ':' ? i : 0 ;
}

int listmsg_fields (char const *hdr, size_t len, genalloc *fields)
{
  long cur = -1 ;    /* the field that a continuation line belongs to */
  size_t i = 0 ;
  while (i < len)
  {
    char const *nl = memchr(hdr + i, '\n', len - i) ;
    size_t end = nl ? (size_t)(nl - hdr) + 1 : len ;
    size_t name = fieldname(hdr + i, end - i) ;
    if ((hdr[i] == ' ' || hdr[i] == '\t') && cur >= 0)
      genalloc_s(listmsg_field, fields)[cur].len = end - genalloc_s(listmsg_field, fields)[cur].off ;
    else if (name)
    {
      listmsg_field f = { .off = i, .len = end - i, .namelen = name } ;
      if (!genalloc_catb(listmsg_field, fields, &f, 1)) return 0 ;
      cur = (long)genalloc_len(listmsg_field, fields) - 1 ;
    }
    else cur = -1 ;
    i = end ;
  }
  return 1 ;
}

int listmsg_is (char const *hdr, listmsg_field const *f, char const *name)
{
  return strlen(name) == f->namelen && !strncasecmp(hdr + f->off, name, f->namelen) ;
}

void listmsg_value (char const *hdr, listmsg_field const *f, char const **v, size_t *n)
{
  size_t i = f->off + f->namelen + 1, end = f->off + f->len ;
  while (i < end && (hdr[i] == ' ' || hdr[i] == '\t')) i++ ;
  while (end > i && (hdr[end-1] == '\n' || hdr[end-1] == '\r')) end-- ;
  *v = hdr + i ; *n = end - i ;
}

long listmsg_find (char const *hdr, genalloc const *fields, char const *name)
{
  size_t n = genalloc_len(listmsg_field, fields) ;
  for (size_t i = 0 ; i < n ; i++)
    if (listmsg_is(hdr, genalloc_s(listmsg_field, fields) + i, name)) return (long)i ;
  return -1 ;
}

/* the first word of a value, lowercase, into w (max bytes) */
static void firstword (char const *v, size_t n, char *w, size_t max)
{
  size_t i = 0, k = 0 ;
  while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r')) i++ ;
  while (i < n && k + 1 < max && v[i] != ' ' && v[i] != '\t' && v[i] != ';' && v[i] != '\n' && v[i] != '\r' && v[i] != '(')
  {
    w[k++] = v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i] ;
    i++ ;
  }
  w[k] = 0 ;
}

int listmsg_automatic (char const *hdr, genalloc const *fields)
{
  size_t n = genalloc_len(listmsg_field, fields) ;
  for (size_t i = 0 ; i < n ; i++)
  {
    listmsg_field const *f = genalloc_s(listmsg_field, fields) + i ;
    char const *v ;
    size_t vn ;
    char w[16] ;
    if (listmsg_is(hdr, f, "Auto-Submitted"))
    {
      listmsg_value(hdr, f, &v, &vn) ;
      firstword(v, vn, w, sizeof w) ;
      if (strcmp(w, "no")) return 1 ;
    }
    else if (listmsg_is(hdr, f, "Precedence"))
    {
      listmsg_value(hdr, f, &v, &vn) ;
      firstword(v, vn, w, sizeof w) ;
      if (!strcmp(w, "bulk") || !strcmp(w, "junk") || !strcmp(w, "list")) return 1 ;
    }
  }
  return 0 ;
}

static int trimcat (stralloc *sa, char const *s, size_t n)
{
  while (n && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) { s++ ; n-- ; }
  while (n && (s[n-1] == ' ' || s[n-1] == '\t' || s[n-1] == '\r' || s[n-1] == '\n')) n-- ;
  return stralloc_catb(sa, s, n) ;
}

int listmsg_addr (char const *v, size_t n, stralloc *addr, stralloc *name)
{
  stralloc out = STRALLOC_ZERO ;   /* v without its comments; quotes kept */
  size_t lt = (size_t)-1 ;
  int depth = 0, quoted = 0, r ;
  for (size_t i = 0 ; i < n ; i++)
  {
    char c = v[i] ;
    if (quoted)
    {
      if (c == '\\' && i + 1 < n) { if (!stralloc_catb(&out, v + i, 2)) goto nomem ; i++ ; continue ; }
      if (c == '"') quoted = 0 ;
    }
    else if (depth)
    {
      if (c == '\\') i++ ;
      else if (c == '(') depth++ ;
      else if (c == ')') depth-- ;
      continue ;
    }
    else if (c == '(') { depth = 1 ; continue ; }
    else if (c == '"') quoted = 1 ;
    else if (c == '<' && lt == (size_t)-1) lt = out.len ;
    else if (c == ',' && lt == (size_t)-1) break ;
    if (!stralloc_catb(&out, &c, 1)) goto nomem ;
  }
  {
    size_t a = 0, b = out.len ;
    if (lt != (size_t)-1)
    {
      char *gt = memchr(out.s + lt, '>', out.len - lt) ;
      a = lt + 1 ; b = gt ? (size_t)(gt - out.s) : out.len ;
      if (name)
      {
        /* the display name, quotes and backslashes taken out */
        stralloc tmp = STRALLOC_ZERO ;
        for (size_t i = 0 ; i < lt ; i++)
        {
          if (out.s[i] == '"') continue ;
          if (out.s[i] == '\\' && i + 1 < lt) i++ ;
          if (!stralloc_catb(&tmp, out.s + i, 1)) { stralloc_free(&tmp) ; goto nomem ; }
        }
        if (!trimcat(name, tmp.s, tmp.len)) { stralloc_free(&tmp) ; goto nomem ; }
        stralloc_free(&tmp) ;
      }
    }
    while (a < b && (out.s[a] == ' ' || out.s[a] == '\t' || out.s[a] == '\r' || out.s[a] == '\n')) a++ ;
    while (b > a && (out.s[b-1] == ' ' || out.s[b-1] == '\t' || out.s[b-1] == '\r' || out.s[b-1] == '\n')) b-- ;
    r = addrset_norm(addr, out.s + a, b - a) ;
  }
  stralloc_free(&out) ;
  return r ;
 nomem:
  stralloc_free(&out) ;
  return -1 ;
}

static int mailto (stralloc *sa, char const *field, list const *l, char const *suffix)
{
  if (!stralloc_cats(sa, field) || !stralloc_cats(sa, ": <mailto:") || !stralloc_cats(sa, l->local.s)) return 0 ;
  if (suffix && (!stralloc_catb(sa, "-", 1) || !stralloc_cats(sa, suffix))) return 0 ;
  return stralloc_catb(sa, "@", 1) && stralloc_cats(sa, l->host.s) && stralloc_cats(sa, ">\n") ;
}

int listmsg_listfields (list const *l, stralloc *sa, int post)
{
  if (!stralloc_cats(sa, "List-Id: <") || !stralloc_cats(sa, l->local.s) || !stralloc_catb(sa, ".", 1)
   || !stralloc_cats(sa, l->host.s) || !stralloc_cats(sa, ">\n")) return 0 ;
  if (post && !mailto(sa, "List-Post", l, 0)) return 0 ;
  if (!mailto(sa, "List-Help", l, "help") || !mailto(sa, "List-Subscribe", l, "subscribe")
   || !mailto(sa, "List-Unsubscribe", l, "unsubscribe")) return 0 ;
  if (post && (l->flags & LIST_ARCHIVED) && !mailto(sa, "List-Archive", l, "index")) return 0 ;
  if (post && l->owner.s[0] && !mailto(sa, "List-Owner", l, "owner")) return 0 ;
  return !post || stralloc_cats(sa, "Precedence: list\n") ;
}

int listmsg_head (list const *l, stralloc *sa, char const *rcpt, char const *replyto, char const *autosub)
{
  char fmt[UINT64_FMT] ;
  return stralloc_cats(sa, "From: ") && stralloc_cats(sa, l->local.s) && stralloc_cats(sa, "-help@")
    && stralloc_cats(sa, l->host.s) && stralloc_cats(sa, "\nTo: ") && stralloc_cats(sa, rcpt ? rcpt : l->address.s)
    && stralloc_cats(sa, "\nDate: ") && date822_cat(sa, time(0))
    && stralloc_cats(sa, "\nMessage-ID: <") && stralloc_catb(sa, fmt, uint64_fmt(fmt, (uint64_t)time(0)))
    && stralloc_catb(sa, ".", 1) && list_random(sa, 16) && stralloc_cats(sa, ".list@") && stralloc_cats(sa, l->host.s)
    && stralloc_cats(sa, ">\n")
    && (!replyto || (stralloc_cats(sa, "Reply-To: ") && stralloc_cats(sa, replyto) && stralloc_catb(sa, "\n", 1)))
    && stralloc_cats(sa, "Auto-Submitted: ") && stralloc_cats(sa, autosub) && stralloc_cats(sa, "\nMIME-Version: 1.0\n")
    && listmsg_listfields(l, sa, 0) ;
}

void listmsg_textsplit (stralloc const *text, size_t *hlen, size_t *body)
{
  size_t skip = 0 ;
  long end = header_end(text->s, text->len, 0, &skip) ;
  if (end < 0) { *hlen = 0 ; *body = 0 ; return ; }
  *hlen = (size_t)end ; *body = (size_t)end + skip ;
}

int listmsg_textmsg (list const *l, stralloc *sa, char const *name, list_tags const *t, char const *rcpt, char const *replyto)
{
  stralloc text = STRALLOC_ZERO ;
  size_t hlen, body ;
  int ok ;
  if (!list_text(l, &text, name, t)) return 0 ;
  listmsg_textsplit(&text, &hlen, &body) ;
  ok = listmsg_head(l, sa, rcpt, replyto, "auto-replied") && stralloc_catb(sa, text.s, hlen)
    && stralloc_cats(sa, "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
    && stralloc_catb(sa, text.s + body, text.len - body) ;
  stralloc_free(&text) ;
  return ok ;
}

int listmsg_copy (qqueue *q, int fd, off_t off)
{
  char buf[65536] ;
  for (;;)
  {
    ssize_t r = pread(fd, buf, sizeof buf, off) ;
    if (r < 0) { if (errno == EINTR) continue ; return 0 ; }
    if (!r) return 1 ;
    if (!qqueue_write(q, buf, r)) return -1 ;
    off += r ;
  }
}

int listmsg_queue (char const *sender, char const *rcpts, size_t len, listmsg_writer *w, void *ctx)
{
  stralloc env = STRALLOC_ZERO ;
  size_t head = strlen(sender) + 2, i = 0 ;
  int code = 0 ;
  while (i < len && !code)
  {
    qqueue q = QQUEUE_ZERO ;
    size_t j = i ;
    int r ;
    /* whole records, as many as the queue takes in one envelope (with its final \0) */
    while (j < len)
    {
      char const *z = memchr(rcpts + j, 0, len - j) ;
      size_t next = z ? (size_t)(z - rcpts) + 1 : len ;
      if (!z || head + next - i + 1 > QUEUE_ENVMAX) break ;
      j = next ;
    }
    if (j == i) { code = QUEUE_TOOLONG ; break ; }
    env.len = 0 ;
    if (!qqueue_envelope_add(&env, 'F', sender) || !stralloc_catb(&env, rcpts + i, j - i)) { code = -1 ; break ; }
    if (!qqueue_start(&q, env.s, env.len)) { code = -2 ; break ; }
    r = (*w)(&q, ctx) ;
    if (!r) { int e = errno ; qqueue_abort(&q) ; errno = e ; code = -1 ; break ; }
    code = qqueue_finish(&q) ;
    i = j ;
  }
  {
    int e = errno ;
    stralloc_free(&env) ;
    errno = e ;
  }
  return code ;
}

typedef struct mem_s mem ;
struct mem_s
{
  char const *s ;
  size_t len ;
} ;

static int write_mem (qqueue *q, void *ctx)
{
  mem const *m = ctx ;
  return qqueue_write(q, m->s, m->len) ? 1 : -1 ;
}

int listmsg_sendall (char const *sender, char const *rcpts, size_t rlen, char const *msg, size_t len)
{
  mem m = { .s = msg, .len = len } ;
  return listmsg_queue(sender, rcpts, rlen, &write_mem, &m) ;
}

int listmsg_send (char const *sender, char const *rcpt, char const *msg, size_t len)
{
  stralloc r = STRALLOC_ZERO ;
  int code ;
  if (!qqueue_envelope_add(&r, 'T', rcpt)) return -1 ;
  code = listmsg_sendall(sender, r.s, r.len, msg, len) ;
  {
    int e = errno ;
    stralloc_free(&r) ;
    errno = e ;
  }
  return code ;
}
