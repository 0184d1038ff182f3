#include <errno.h>
#include <string.h>
#include <strings.h>
#include <skalibs/stralloc.h>
#include "dmarc.h"
#include "dns.h"

#define WALKMAX 5

/* the value of tag in a record's text (s[0..*n) then), or 0 */
static char const *tag (char const *txt, char const *name, size_t *n)
{
  size_t nl = strlen(name) ;
  char const *s = txt ;
  while (*s)
  {
    char const *end = strchr(s, ';') ;
    char const *e = end ? end : s + strlen(s) ;
    char const *eq ;
    while (s < e && (*s == ' ' || *s == '\t')) s++ ;
    eq = memchr(s, '=', e - s) ;
    if (eq)
    {
      char const *k = eq ;
      while (k > s && (k[-1] == ' ' || k[-1] == '\t')) k-- ;
      if ((size_t)(k - s) == nl && !strncasecmp(s, name, nl))
      {
        char const *v = eq + 1, *ve = e ;
        while (v < ve && (*v == ' ' || *v == '\t')) v++ ;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve-- ;
        *n = ve - v ;
        return v ;
      }
    }
    if (!end) break ;
    s = end + 1 ;
  }
  return 0 ;
}

static int policy (char const *v, size_t n)
{
  if (n == 6 && !strncasecmp(v, "reject", 6)) return DMARC_REJECT ;
  if (n == 10 && !strncasecmp(v, "quarantine", 10)) return DMARC_QUARANTINE ;
  return DMARC_NONE ;
}

int dmarc_record (char const *txt, int subdomain)
{
  size_t n ;
  char const *v = tag(txt, "v", &n) ;
  if (!v || txt[0] != 'v' || n != 6 || strncmp(v, "DMARC1", 6)) return -1 ;
  if (subdomain)
  {
    char const *sp = tag(txt, "sp", &n) ;
    if (sp) return policy(sp, n) ;
  }
  v = tag(txt, "p", &n) ;
  return v ? policy(v, n) : DMARC_NONE ;
}

int dmarc_policy (char const *domain, tain const *deadline)
{
  stralloc txt = STRALLOC_ZERO ;
  char const *d = domain ;
  int result = DMARC_NONE ;
  for (unsigned int walk = 0 ; walk < WALKMAX ; walk++)
  {
    size_t dl = strlen(d) ;
    char name[dl + 8] ;
    int r, found = -1, count = 0 ;
    memcpy(name, "_dmarc.", 7) ; memcpy(name + 7, d, dl + 1) ;
    r = dns_txt(&txt, name, deadline) ;
    if (r < 0) { int e = errno ; stralloc_free(&txt) ; errno = e ; return -1 ; }
    for (size_t i = 0 ; r && i < txt.len ; i += strlen(txt.s + i) + 1)
    {
      int p = dmarc_record(txt.s + i, walk > 0) ;
      if (p >= 0) { found = p ; count++ ; }
    }
    /* exactly one record counts (RFC 7489 6.6.3); several: none */
    if (count == 1) { result = found ; break ; }
    if (count > 1) break ;
    /* the parent, while it has two labels at least */
    {
      char const *dot = strchr(d, '.') ;
      if (!dot || !strchr(dot + 1, '.')) break ;
      d = dot + 1 ;
    }
  }
  stralloc_free(&txt) ;
  return result ;
}
