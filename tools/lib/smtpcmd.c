#include <string.h>
#include <arpa/inet.h>
#include "smtpcmd.h"

size_t smtpline_feed (smtpline *l, char const *s, size_t n, int *done)
{
  char const *nl = memchr(s, '\n', n) ;
  size_t take = nl ? (size_t)(nl - s) + 1 : n ;
  size_t body = nl ? take - 1 : take ;
  size_t room = SMTPCMD_LINEMAX + 1 - l->len ;
  if (body > room) { body = room ; l->toolong = 1 ; }
  memcpy(l->s + l->len, s, body) ;
  l->len += body ;
  *done = !!nl ;
  return take ;
}

int smtpline_finish (smtpline *l)
{
  size_t i ;
  if (l->len && l->s[l->len - 1] == '\r') l->len-- ;
  l->s[l->len] = 0 ;
  if (l->toolong || l->len > SMTPCMD_LINEMAX) return SMTPLINE_TOOLONG ;
  for (i = 0 ; i < l->len ; i++)
  {
    if (l->s[i] == '\r') return SMTPLINE_BARECR ;
    if (!l->s[i]) return SMTPLINE_NUL ;
  }
  return SMTPLINE_OK ;
}

void smtpline_reset (smtpline *l)
{
  l->len = 0 ;
  l->toolong = 0 ;
  l->s[0] = 0 ;
}

static unsigned char lower (unsigned char c)
{
  return c >= 'A' && c <= 'Z' ? c + 32 : c ;
}

int smtpcmd_is (char const *s, size_t len, char const *w)
{
  size_t i ;
  for (i = 0 ; i < len ; i++) if (!w[i] || lower(s[i]) != (unsigned char)w[i]) return 0 ;
  return !w[len] ;
}

static struct { char const *name ; int verb ; } const verbs[] =
{
  { "helo", SMTPVERB_HELO }, { "ehlo", SMTPVERB_EHLO }, { "mail", SMTPVERB_MAIL },
  { "rcpt", SMTPVERB_RCPT }, { "data", SMTPVERB_DATA }, { "rset", SMTPVERB_RSET },
  { "noop", SMTPVERB_NOOP }, { "quit", SMTPVERB_QUIT }, { "vrfy", SMTPVERB_VRFY },
  { "expn", SMTPVERB_EXPN }, { "help", SMTPVERB_HELP }, { "auth", SMTPVERB_AUTH },
  { "starttls", SMTPVERB_STARTTLS }, { "bdat", SMTPVERB_BDAT },
  { "get", SMTPVERB_HTTP }, { "post", SMTPVERB_HTTP }, { "head", SMTPVERB_HTTP },
  { "put", SMTPVERB_HTTP }, { "connect", SMTPVERB_HTTP },
  { 0, 0 }
} ;

int smtpcmd_verb (char const *s, size_t len, size_t *arg)
{
  size_t n = 0, i ;
  int verb = SMTPVERB_UNKNOWN ;
  while (n < len && s[n] != ' ') n++ ;
  for (i = 0 ; verbs[i].name ; i++)
    if (smtpcmd_is(s, n, verbs[i].name)) { verb = verbs[i].verb ; break ; }
  while (n < len && s[n] == ' ') n++ ;
  *arg = n ;
  return verb ;
}

int smtpcmd_utf8valid (char const *s, size_t len)
{
  size_t i = 0 ;
  while (i < len)
  {
    unsigned char c = s[i] ;
    unsigned int need, cp, min ;
    if (c < 0x80) { i++ ; continue ; }
    if (c >= 0xc2 && c <= 0xdf) { need = 1 ; cp = c & 0x1f ; min = 0x80 ; }
    else if (c >= 0xe0 && c <= 0xef) { need = 2 ; cp = c & 0x0f ; min = 0x800 ; }
    else if (c >= 0xf0 && c <= 0xf4) { need = 3 ; cp = c & 0x07 ; min = 0x10000 ; }
    else return 0 ;
    if (len - i <= need) return 0 ;
    for (unsigned int k = 1 ; k <= need ; k++)
    {
      unsigned char d = s[i + k] ;
      if ((d & 0xc0) != 0x80) return 0 ;
      cp = (cp << 6) | (d & 0x3f) ;
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0 ;
    i += need + 1 ;
  }
  return 1 ;
}

/* RFC 5322 atext, plus any byte >= 0x80 (RFC 6531 UTF-8, validated afterwards). */
static int atext (unsigned char c)
{
  if (c >= 0x80) return 1 ;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1 ;
  return c && !!strchr("!#$%&'*+-/=?^_`{|}~", c) ;
}

static int ldh (unsigned char c)
{
  return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
    || (c >= '0' && c <= '9') || c == '-' || c == '_' ;
}

/* A domain (dot-separated labels, or an address literal) at s[*i..len); *i moves past it. */
static int domain_scan (char const *s, size_t len, size_t *i, int *flags)
{
  size_t j = *i ;
  if (j < len && s[j] == '[')
  {
    char tmp[64] ;
    size_t k = j + 1, end = j + 1 ;
    unsigned char buf[16] ;
    while (end < len && s[end] != ']' && s[end] != '[' && s[end] != '>') end++ ;
    if (end >= len || s[end] != ']' || end - k >= sizeof tmp) return 0 ;
    if (end - k > 5 && (s[k] == 'I' || s[k] == 'i') && smtpcmd_is(s + k, 5, "ipv6:"))
    {
      memcpy(tmp, s + k + 5, end - k - 5) ; tmp[end - k - 5] = 0 ;
      if (inet_pton(AF_INET6, tmp, buf) != 1) return 0 ;
    }
    else
    {
      memcpy(tmp, s + k, end - k) ; tmp[end - k] = 0 ;
      if (inet_pton(AF_INET, tmp, buf) != 1) return 0 ;
    }
    *flags |= SMTPPATH_LITERAL ;
    *i = end + 1 ;
    return 1 ;
  }
  for (;;)
  {
    size_t start = j ;
    while (j < len && ldh(s[j])) j++ ;
    if (j == start || j - start > 63) return 0 ;
    if (j < len && s[j] == '.') { j++ ; continue ; }
    break ;
  }
  if (j - *i > 255) return 0 ;
  *i = j ;
  return 1 ;
}

int smtpcmd_path (char const *s, size_t len, char const *kw, stralloc *addr, int *flags, size_t *params)
{
  size_t kwlen = strlen(kw) ;
  size_t i, start ;
  int bracket = 0 ;
  addr->len = 0 ;
  *flags = 0 ;
  *params = len ;
  if (len <= kwlen || !smtpcmd_is(s, kwlen, kw) || s[kwlen] != ':') return SMTPPATH_SYNTAX ;
  i = kwlen + 1 ;
  while (i < len && s[i] == ' ') i++ ;
  if (i < len && s[i] == '<') { bracket = 1 ; i++ ; }
  if (bracket && i < len && s[i] == '@')   /* source route: @a,@b: (RFC 5321 4.1.2), dropped */
  {
    int dummy = 0 ;
    for (;;)
    {
      i++ ;
      if (!domain_scan(s, len, &i, &dummy)) return SMTPPATH_SYNTAX ;
      if (i < len && s[i] == ',' && i + 1 < len && s[i+1] == '@') { i++ ; continue ; }
      break ;
    }
    if (i >= len || s[i] != ':') return SMTPPATH_SYNTAX ;
    i++ ;
  }
  start = i ;
  if (bracket && i < len && s[i] == '>') i++ ;   /* the null path <> */
  else
  {
    if (i < len && s[i] == '"')
    {
      for (i++ ;; i++)
      {
        unsigned char c ;
        if (i >= len) return SMTPPATH_SYNTAX ;
        c = s[i] ;
        if (c == '"') { i++ ; break ; }
        if (c == '\\')
        {
          if (++i >= len || (unsigned char)s[i] < 32 || (unsigned char)s[i] > 126) return SMTPPATH_SYNTAX ;
          c = s[i] ;
        }
        else if (c < 32 || c == 127) return SMTPPATH_SYNTAX ;
        if (!stralloc_catb(addr, (char *)&c, 1)) return -1 ;
      }
      if (addr->len == 0) return SMTPPATH_SYNTAX ;
    }
    else
    {
      size_t j = i ;
      while (j < len && (atext(s[j]) || s[j] == '.')) j++ ;
      if (j == i) return SMTPPATH_SYNTAX ;
      if (!stralloc_catb(addr, s + i, j - i)) return -1 ;
      i = j ;
    }
    if (i < len && s[i] == '@')
    {
      size_t d = ++i ;
      if (!domain_scan(s, len, &i, flags)) return SMTPPATH_SYNTAX ;
      if (!stralloc_catb(addr, "@", 1) || !stralloc_catb(addr, s + d, i - d)) return -1 ;
      *flags |= SMTPPATH_DOMAIN ;
    }
    if (bracket)
    {
      if (i >= len || s[i] != '>') return SMTPPATH_SYNTAX ;
      i++ ;
    }
    if (i - start - bracket > SMTPCMD_PATHMAX) return SMTPPATH_TOOLONG ;
  }
  if (i < len && s[i] != ' ') return SMTPPATH_SYNTAX ;
  while (i < len && s[i] == ' ') i++ ;
  *params = i ;
  {
    size_t k ;
    for (k = 0 ; k < addr->len ; k++) if ((unsigned char)addr->s[k] >= 0x80) break ;
    if (k < addr->len)
    {
      if (!smtpcmd_utf8valid(addr->s, addr->len)) return SMTPPATH_SYNTAX ;
      *flags |= SMTPPATH_UTF8 ;
    }
  }
  return stralloc_0(addr) ? (addr->len--, SMTPPATH_OK) : -1 ;
}

static int alnum (unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ;
}

int smtpcmd_param (char const *s, size_t len, size_t *pos, char const **key, size_t *keylen, char const **val, size_t *vallen)
{
  size_t i = *pos, k ;
  while (i < len && s[i] == ' ') i++ ;
  if (i >= len) { *pos = i ; return 0 ; }
  k = i ;
  if (!alnum(s[i])) return -1 ;
  while (i < len && (alnum(s[i]) || s[i] == '-')) i++ ;
  *key = s + k ; *keylen = i - k ;
  *val = 0 ; *vallen = 0 ;
  if (i < len && s[i] == '=')
  {
    size_t v = ++i ;
    while (i < len && (unsigned char)s[i] >= 33 && (unsigned char)s[i] <= 126 && s[i] != '=') i++ ;
    if (i == v) return -1 ;
    *val = s + v ; *vallen = i - v ;
  }
  if (i < len && s[i] != ' ') return -1 ;
  *pos = i ;
  return 1 ;
}
