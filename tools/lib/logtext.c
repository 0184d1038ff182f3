#include <string.h>
#include "logtext.h"

int logtext_cat (stralloc *sa, char const *s, size_t len, size_t max, char const *also)
{
  size_t n = len > max ? max : len ;
  size_t i ;
  if (!stralloc_readyplus(sa, n + 3)) return 0 ;
  for (i = 0 ; i < n ; i++)
  {
    unsigned char c = s[i] ;
    if (c < 0x20 || c > 0x7e || (also && c && strchr(also, c))) c = '?' ;
    sa->s[sa->len++] = c ;
  }
  if (len > max) { memcpy(sa->s + sa->len, "...", 3) ; sa->len += 3 ; }
  return 1 ;
}
