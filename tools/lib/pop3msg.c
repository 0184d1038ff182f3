/* pop3msg: see pop3msg.h. Lines are found with memchr and copied whole: RETR of large
   messages costs little more than the copy. */
#include <string.h>
#include "pop3msg.h"

void pop3msg_enc_init (pop3msg_enc *e, uint64_t bodylines)
{
  e->left = bodylines ;
  e->linelen = 0 ;
  e->cr = 0 ;
  e->inheader = 1 ;
  e->done = 0 ;
}

/* a line has ended (its LF sent): TOP's bookkeeping */
static void line_end (pop3msg_enc *e)
{
  int empty = !e->linelen || (e->linelen == 1 && e->cr) ;
  if (e->inheader) { if (empty) { e->inheader = 0 ; if (!e->left) e->done = 1 ; } }
  else if (e->left != POP3MSG_ALL && !--e->left) e->done = 1 ;
  e->linelen = 0 ;
  e->cr = 0 ;
}

size_t pop3msg_encode (pop3msg_enc *e, char const *in, size_t len, char *out, size_t outmax, size_t *outlen)
{
  size_t i = 0, o = 0 ;
  while (i < len && !e->done)
  {
    char const *lf ;
    size_t span, n ;
    if (!e->linelen && in[i] == '.')
    {
      if (o + 2 > outmax) break ;   /* the doubled dot and the dot itself, together */
      out[o++] = '.' ;
      out[o++] = '.' ;
      i++ ;
      e->linelen = 1 ;
      e->cr = 0 ;
      continue ;
    }
    lf = memchr(in + i, '\n', len - i) ;
    span = lf ? (size_t)(lf - (in + i)) : len - i ;
    n = outmax - o < span ? outmax - o : span ;
    if (n)
    {
      memcpy(out + o, in + i, n) ;
      o += n ; i += n ;
      e->linelen += n ;
      e->cr = in[i-1] == '\r' ;
    }
    if (n < span || !lf) break ;
    if (o + (e->cr ? 1 : 2) > outmax) break ;
    if (!e->cr) out[o++] = '\r' ;
    out[o++] = '\n' ;
    i++ ;
    line_end(e) ;
  }
  *outlen = o ;
  return i ;
}

size_t pop3msg_finish (pop3msg_enc *e, char *out)
{
  size_t o = 0 ;
  if (e->done || !e->linelen) return 0 ;
  if (!e->cr) out[o++] = '\r' ;
  out[o++] = '\n' ;
  line_end(e) ;
  return o ;
}

void pop3msg_size_feed (pop3msg_size *s, char const *in, size_t len)
{
  char const *end = in + len ;
  s->size += len ;
  while (in < end)
  {
    char const *lf = memchr(in, '\n', end - in) ;
    if (!lf) { s->linelen += end - in ; s->cr = end[-1] == '\r' ; return ; }
    if (lf > in) s->cr = lf[-1] == '\r' ;
    else if (!s->linelen) s->cr = 0 ;
    if (!s->cr) s->size++ ;
    s->linelen = 0 ;
    s->cr = 0 ;
    in = lf + 1 ;
  }
}

uint64_t pop3msg_size_finish (pop3msg_size const *s)
{
  return s->size + (s->linelen ? (s->cr ? 1 : 2) : 0) ;
}

size_t pop3msg_uidl (char const *name, char *out)
{
  size_t n = strcspn(name, ",:") ;
  size_t k ;
  for (k = 0 ; k < n ; k++)
  {
    unsigned char c = name[k] ;
    if (c < 0x21 || c > 0x7e) break ;
  }
  if (n && k == n && n <= POP3MSG_UIDLMAX)
  {
    memcpy(out, name, n) ;
    out[n] = 0 ;
    return n ;
  }
  {
    /* FNV-1a, 64 bits: stable, and collisions among one mailbox's names are not a concern */
    uint64_t h = 0xcbf29ce484222325ULL ;
    out[0] = '~' ;
    for (k = 0 ; k < n ; k++) { h ^= (unsigned char)name[k] ; h *= 0x100000001b3ULL ; }
    for (k = 0 ; k < 16 ; k++) out[1 + k] = "0123456789abcdef"[(h >> (60 - 4 * k)) & 15] ;
    out[17] = 0 ;
    return 17 ;
  }
}

int pop3msg_namesize (char const *name, char key, uint64_t *n)
{
  char const *end = name + strcspn(name, ":") ;
  char const *s = name ;
  for (;;)
  {
    uint64_t x = 0 ;
    char const *d ;
    s = memchr(s, ',', end - s) ;
    if (!s) return 0 ;
    s++ ;
    if (end - s < 3 || s[0] != key || s[1] != '=') continue ;
    for (d = s + 2 ; d < end && *d >= '0' && *d <= '9' ; d++)
    {
      if (x > (UINT64_MAX - 9) / 10) return 0 ;
      x = x * 10 + (uint64_t)(*d - '0') ;
    }
    if (d == s + 2 || (d < end && *d != ',')) continue ;
    *n = x ;
    return 1 ;
  }
}

uint64_t pop3msg_stamp (char const *name)
{
  uint64_t x = 0, us = 0 ;
  for (; *name >= '0' && *name <= '9' ; name++)
  {
    if (x > (UINT64_MAX / 1000000 - 9) / 10) return UINT64_MAX ;
    x = x * 10 + (uint64_t)(*name - '0') ;
  }
  if (name[0] == '.' && name[1] == 'M')
  {
    unsigned int k = 0 ;
    for (name += 2 ; *name >= '0' && *name <= '9' && k < 6 ; name++, k++) us = us * 10 + (uint64_t)(*name - '0') ;
    if (*name >= '0' && *name <= '9') us = 0 ;   /* not microseconds */
  }
  return x * 1000000 + us ;
}
