#include "smtpdata.h"

enum { BOL, DOT, DOTCR, MID, CR, CRBOL } ;

static char const *const hopnames[2] = { "received:", "delivered-to:" } ;

static void hop_match (smtpdata *d, unsigned char c)
{
  unsigned int k ;
  if (c >= 'A' && c <= 'Z') c += 32 ;
  for (k = 0 ; k < 2 ; k++)
  {
    if (!(d->match & (1u << k))) continue ;
    if ((unsigned char)hopnames[k][d->col] != c) d->match &= ~(1u << k) ;
    else if (!hopnames[k][d->col + 1]) { d->hops++ ; d->match = 0 ; return ; }
  }
  d->col++ ;
}

int smtpdata_feed (smtpdata *d, char const *in, size_t n, char *out, size_t *used, size_t *produced)
{
  size_t i, p = 0 ;
  int r = SMTPDATA_MORE ;
  for (i = 0 ; i < n ; i++)
  {
    unsigned char c = in[i] ;
    switch (d->state)
    {
      case BOL :
        if (c == '.') { d->state = DOT ; continue ; }
        if (c == '\r') { d->state = CRBOL ; continue ; }
        break ;
      case DOT :
        if (c == '\r') { d->state = DOTCR ; continue ; }
        break ;   /* the stuffing dot is dropped */
      case DOTCR :
        if (c == '\n') { i++ ; r = SMTPDATA_END ; goto done ; }
        r = SMTPDATA_BARECR ; goto done ;
      case MID :
        if (c == '\r') { d->state = CR ; continue ; }
        break ;
      default :   /* CR, CRBOL */
        if (c != '\n') { r = SMTPDATA_BARECR ; goto done ; }
        if (d->state == CRBOL) d->inheader = 0 ;
        out[p++] = '\n' ;
        d->bytes += 2 ;
        d->state = BOL ;
        d->match = d->inheader ? 3 : 0 ;
        d->col = 0 ;
        continue ;
    }
    if (c == '\n') { i++ ; r = SMTPDATA_BARELF ; goto done ; }
    out[p++] = c ;
    d->bytes++ ;
    d->state = MID ;
    if (d->match) hop_match(d, c) ;
  }
 done:
  *used = i ;
  *produced = p ;
  return r ;
}
