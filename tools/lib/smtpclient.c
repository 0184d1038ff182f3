/* smtpclient: see smtpclient.h. Nothing a server sends is trusted: lines are cut at
   SMTPREPLY_LINEMAX, replies at SMTPREPLY_LINES lines, and text is made printable. */
#include <errno.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "smtpclient.h"

/* ---- replies */

static int isdigit_ (char c) { return c >= '0' && c <= '9' ; }

/* the line lines.s[start..len) is complete: check it, 0-terminate it; 1 final line,
   0 continuation line, -1 malformed */
static int line_end (smtpreply *r)
{
  char *s = r->lines.s + r->start ;
  size_t len = r->lines.len - r->start ;
  if (len && s[len - 1] == '\r') { r->lines.len-- ; len-- ; }
  if (len < 3 || s[0] < '1' || s[0] > '5' || !isdigit_(s[1]) || !isdigit_(s[2])) return -1 ;
  if (len > 3 && s[3] != ' ' && s[3] != '-') return -1 ;
  if (!stralloc_0(&r->lines)) return -2 ;
  s = r->lines.s + r->start ;   /* it may have moved */
  r->start = r->lines.len ;
  r->cut = 0 ;
  if (++r->n > SMTPREPLY_LINES) return -1 ;
  if (len > 3 && s[3] == '-') return 0 ;
  r->code = (unsigned int)(s[0] - '0') * 100 + (unsigned int)(s[1] - '0') * 10 + (unsigned int)(s[2] - '0') ;
  return 1 ;
}

int smtpreply_feed (smtpreply *r, char const *s, size_t len, size_t *used)
{
  size_t i = 0 ;
  while (i < len)
  {
    char const *nl = memchr(s + i, '\n', len - i) ;
    size_t end = nl ? (size_t)(nl - s) : len ;
    size_t have = r->lines.len - r->start ;
    size_t take = end - i ;
    if (have + take > SMTPREPLY_LINEMAX) { take = have < SMTPREPLY_LINEMAX ? SMTPREPLY_LINEMAX - have : 0 ; r->cut = 1 ; }
    if (take && !stralloc_catb(&r->lines, s + i, take)) { *used = i ; return -1 ; }
    i = end ;
    if (!nl) break ;
    i++ ;
    switch (line_end(r))
    {
      case 1 : *used = i ; return 1 ;
      case 0 : break ;
      case -2 : *used = i ; return -1 ;
      default : *used = i ; errno = EPROTO ; return -1 ;
    }
  }
  *used = i ;
  return 0 ;
}

void smtpreply_reset (smtpreply *r)
{
  r->lines.len = 0 ;
  r->code = 0 ;
  r->n = 0 ;
  r->start = 0 ;
  r->cut = 0 ;
}

int smtpreply_text (stralloc *sa, smtpreply const *r, size_t max)
{
  size_t i = 0, room = max ;
  unsigned int k ;
  if (!stralloc_readyplus(sa, max + 3)) return 0 ;
  for (k = 0 ; k < r->n && i < r->lines.len ; k++)
  {
    char const *line = r->lines.s + i ;
    size_t len = strlen(line), j ;
    i += len + 1 ;
    if (k)
    {
      if (room < 3) goto cut ;
      memcpy(sa->s + sa->len, " / ", 3) ; sa->len += 3 ; room -= 3 ;
    }
    for (j = 0 ; j < len ; j++)
    {
      unsigned char c = line[j] ;
      if (!room) goto cut ;
      sa->s[sa->len++] = c < 0x20 || c > 0x7e ? '?' : (char)c ;
      room-- ;
    }
  }
  return 1 ;
 cut:
  memcpy(sa->s + sa->len, "...", 3) ; sa->len += 3 ;
  return 1 ;
}

/* ---- EHLO */

static int keyword_is (char const *s, size_t len, char const *w)
{
  size_t i ;
  if (strlen(w) != len) return 0 ;
  for (i = 0 ; i < len ; i++)
  {
    char c = s[i] ;
    if (c >= 'a' && c <= 'z') c -= 'a' - 'A' ;
    if (c != w[i]) return 0 ;
  }
  return 1 ;
}

unsigned int smtpclient_ehlo (smtpreply const *r, uint64_t *sizemax)
{
  static struct { char const *word ; unsigned int flag ; } const known[] =
  {
    { "PIPELINING", SMTPEHLO_PIPELINING }, { "SIZE", SMTPEHLO_SIZE },
    { "8BITMIME", SMTPEHLO_8BITMIME }, { "STARTTLS", SMTPEHLO_STARTTLS },
    { "SMTPUTF8", SMTPEHLO_SMTPUTF8 }
  } ;
  unsigned int flags = 0, k ;
  size_t i = 0 ;
  *sizemax = 0 ;
  for (k = 0 ; k < r->n && i < r->lines.len ; k++)
  {
    char const *line = r->lines.s + i ;
    size_t len = strlen(line), w, j ;
    i += len + 1 ;
    if (!k || len <= 4) continue ;   /* the first line is the server's name */
    line += 4 ; len -= 4 ;
    for (w = 0 ; w < len && line[w] != ' ' ; w++) ;
    for (j = 0 ; j < sizeof known / sizeof *known ; j++)
      if (keyword_is(line, w, known[j].word)) flags |= known[j].flag ;
    if (keyword_is(line, w, "SIZE"))
    {
      uint64_t u ;
      size_t n ;
      while (w < len && line[w] == ' ') w++ ;
      n = uint640_scan(line + w, &u) ;
      *sizemax = n && w + n == len ? u : 0 ;
    }
  }
  return flags ;
}

/* ---- paths */

static int isatext (unsigned char c)
{
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80) return 1 ;
  return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != 0 ;
}

static int isdotstring (char const *s, size_t len)
{
  size_t i ;
  if (!len || s[0] == '.' || s[len - 1] == '.') return 0 ;
  for (i = 0 ; i < len ; i++)
  {
    if (s[i] == '.') { if (s[i + 1] == '.') return 0 ; }
    else if (!isatext((unsigned char)s[i])) return 0 ;
  }
  return 1 ;
}

int smtpclient_path (stralloc *sa, char const *addr)
{
  size_t len = strlen(addr) ;
  char const *at = strrchr(addr, '@') ;
  size_t local = at ? (size_t)(at - addr) : len ;
  if (!stralloc_catb(sa, "<", 1)) return 0 ;
  if (!len) return stralloc_catb(sa, ">", 1) ;
  if (isdotstring(addr, local))
  {
    if (!stralloc_catb(sa, addr, local)) return 0 ;
  }
  else
  {
    size_t i ;
    if (!stralloc_readyplus(sa, 2 * local + 2)) return 0 ;
    sa->s[sa->len++] = '"' ;
    for (i = 0 ; i < local ; i++)
    {
      if (addr[i] == '"' || addr[i] == '\\') sa->s[sa->len++] = '\\' ;
      sa->s[sa->len++] = addr[i] ;
    }
    sa->s[sa->len++] = '"' ;
  }
  return stralloc_catb(sa, addr + local, len - local) && stralloc_catb(sa, ">", 1) ;
}

int smtpclient_isutf8 (char const *s)
{
  for (; *s ; s++) if ((unsigned char)*s > 127) return 1 ;
  return 0 ;
}

/* ---- the message text */

#define PUT(c) do { if (out) out[o] = (c) ; o++ ; } while (0)

size_t smtpenc_feed (smtpenc *e, char const *in, size_t len, char *out)
{
  size_t i, o = 0, stuffed = 0 ;
  for (i = 0 ; i < len ; i++)
  {
    unsigned char c = in[i] ;
    if (e->cr)
    {
      e->cr = 0 ;
      PUT('\r') ; PUT('\n') ;
      e->linestart = 1 ;
      if (c == '\n') continue ;
    }
    if (c == '\r') { e->cr = 1 ; continue ; }
    if (c == '\n') { PUT('\r') ; PUT('\n') ; e->linestart = 1 ; continue ; }
    if (c & 0x80) e->eightbit = 1 ;
    if (e->linestart && c == '.') { PUT('.') ; stuffed++ ; }
    e->linestart = 0 ;
    PUT((char)c) ;
  }
  e->size += o - stuffed ;
  return o ;
}

size_t smtpenc_end (smtpenc *e, char *out)
{
  size_t o = 0 ;
  if (e->cr || !e->linestart) { PUT('\r') ; PUT('\n') ; e->size += 2 ; }
  e->cr = 0 ; e->linestart = 1 ;
  PUT('.') ; PUT('\r') ; PUT('\n') ;
  return o ;
}
