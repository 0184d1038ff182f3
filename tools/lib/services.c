/* services: see services.h */
#include <string.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include "services.h"

static int blank (char c) { return c == ' ' || c == '\t' || c == '\r' ; }

/* the next word of line[*i..len), stopping at a comment; 0 when none is left */
static size_t word (char const *line, size_t len, size_t *i, char const **w)
{
  size_t n = 0 ;
  while (*i < len && blank(line[*i])) (*i)++ ;
  if (*i >= len || line[*i] == '#') return 0 ;
  *w = line + *i ;
  while (*i < len && !blank(line[*i]) && line[*i] != '#') { (*i)++ ; n++ ; }
  return n ;
}

static int same (char const *w, size_t n, char const *s)
{
  return n == strlen(s) && !memcmp(w, s, n) ;
}

/* "port/proto" for proto: 1 and *port, else 0 */
static int portproto (char const *w, size_t n, char const *proto, uint16_t *port)
{
  uint32_t v = 0 ;
  size_t i = 0 ;
  while (i < n && w[i] >= '0' && w[i] <= '9')
  {
    v = v * 10 + (uint32_t)(w[i++] - '0') ;
    if (v > 65535) return 0 ;
  }
  if (!i || i >= n || w[i] != '/' || !same(w + i + 1, n - i - 1, proto)) return 0 ;
  *port = (uint16_t)v ;
  return 1 ;
}

int services_port (uint16_t *port, char const *name, char const *proto, char const *file)
{
  stralloc sa = STRALLOC_ZERO ;
  size_t pos = 0 ;
  int found = 0 ;
  if (!*name || !openslurpclose(&sa, file)) return -1 ;
  while (pos < sa.len && !found)
  {
    char const *line = sa.s + pos ;
    char const *nl = memchr(line, '\n', sa.len - pos) ;
    size_t len = nl ? (size_t)(nl - line) : sa.len - pos, i = 0, n ;
    char const *w, *svc ;
    size_t svclen ;
    uint16_t p ;
    pos += len + 1 ;
    svclen = word(line, len, &i, &svc) ;
    if (!svclen) continue ;
    n = word(line, len, &i, &w) ;
    if (!n || !portproto(w, n, proto, &p)) continue ;
    if (same(svc, svclen, name)) found = 1 ;
    else
      while ((n = word(line, len, &i, &w)))
        if (same(w, n, name)) { found = 1 ; break ; }
    if (found) *port = p ;
  }
  stralloc_free(&sa) ;
  return found ;
}
