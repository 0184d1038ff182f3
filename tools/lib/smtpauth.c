#include <string.h>
#include "smtpauth.h"

static char const b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" ;

static int b64val (unsigned char c)
{
  if (c >= 'A' && c <= 'Z') return c - 'A' ;
  if (c >= 'a' && c <= 'z') return c - 'a' + 26 ;
  if (c >= '0' && c <= '9') return c - '0' + 52 ;
  if (c == '+') return 62 ;
  if (c == '/') return 63 ;
  return -1 ;
}

int smtpauth_b64decode (stralloc *sa, char const *s, size_t len)
{
  size_t base = sa->len, i ;
  if (len % 4) return 0 ;
  if (!stralloc_readyplus(sa, len / 4 * 3)) return -1 ;
  for (i = 0 ; i < len ; i += 4)
  {
    int v[4], k, pad = 0 ;
    for (k = 0 ; k < 4 ; k++)
    {
      if (s[i+k] == '=' && i + 4 == len && k >= 2) { v[k] = 0 ; pad++ ; continue ; }
      if (pad) goto bad ;   /* "=" then a digit */
      v[k] = b64val(s[i+k]) ;
      if (v[k] < 0) goto bad ;
    }
    /* the bits that padding drops must be zero, so that each text has one encoding */
    if (pad == 2 && (v[1] & 15)) goto bad ;
    if (pad == 1 && (v[2] & 3)) goto bad ;
    sa->s[sa->len++] = (char)((v[0] << 2) | (v[1] >> 4)) ;
    if (pad < 2) sa->s[sa->len++] = (char)(((v[1] & 15) << 4) | (v[2] >> 2)) ;
    if (pad < 1) sa->s[sa->len++] = (char)(((v[2] & 3) << 6) | v[3]) ;
  }
  return 1 ;
 bad:
  sa->len = base ;
  return 0 ;
}

int smtpauth_b64encode (stralloc *sa, char const *s, size_t len)
{
  size_t i ;
  if (!stralloc_readyplus(sa, (len + 2) / 3 * 4)) return 0 ;
  for (i = 0 ; i + 2 < len ; i += 3)
  {
    unsigned char a = s[i], b = s[i+1], c = s[i+2] ;
    sa->s[sa->len++] = b64[a >> 2] ;
    sa->s[sa->len++] = b64[((a & 3) << 4) | (b >> 4)] ;
    sa->s[sa->len++] = b64[((b & 15) << 2) | (c >> 6)] ;
    sa->s[sa->len++] = b64[c & 63] ;
  }
  if (len - i == 1)
  {
    unsigned char a = s[i] ;
    sa->s[sa->len++] = b64[a >> 2] ;
    sa->s[sa->len++] = b64[(a & 3) << 4] ;
    sa->s[sa->len++] = '=' ;
    sa->s[sa->len++] = '=' ;
  }
  else if (len - i == 2)
  {
    unsigned char a = s[i], b = s[i+1] ;
    sa->s[sa->len++] = b64[a >> 2] ;
    sa->s[sa->len++] = b64[((a & 3) << 4) | (b >> 4)] ;
    sa->s[sa->len++] = b64[(b & 15) << 2] ;
    sa->s[sa->len++] = '=' ;
  }
  return 1 ;
}

int smtpauth_plain (char const *s, size_t len, size_t *user, size_t *userlen, size_t *pass, size_t *passlen)
{
  char const *z1, *z2 ;
  size_t zlen, u ;
  if (!len) return 0 ;   /* "AUTH PLAIN =": nothing, and s may be a null pointer */
  z1 = memchr(s, 0, len) ;
  if (!z1) return 0 ;
  zlen = z1 - s ;
  u = zlen + 1 ;
  z2 = memchr(s + u, 0, len - u) ;
  if (!z2) return 0 ;
  *user = u ;
  *userlen = (size_t)(z2 - s) - u ;
  *pass = *user + *userlen + 1 ;
  *passlen = len - *pass ;
  if (!*userlen || memchr(s + *pass, 0, *passlen)) return 0 ;
  if (zlen && (zlen != *userlen || memcmp(s, s + u, zlen))) return 0 ;
  return 1 ;
}

int smtpauth_cpinput (stralloc *sa, char const *user, size_t userlen, char const *pass, size_t passlen, char const *stamp)
{
  size_t slen = strlen(stamp) ;
  sa->len = 0 ;
  if (!userlen || memchr(user, 0, userlen) || memchr(pass, 0, passlen)) return 0 ;
  if (userlen + passlen + slen + 3 > SMTPAUTH_CPMAX) return 0 ;
  if (!stralloc_catb(sa, user, userlen) || !stralloc_0(sa)
   || !stralloc_catb(sa, pass, passlen) || !stralloc_0(sa)
   || !stralloc_catb(sa, stamp, slen) || !stralloc_0(sa)) return -1 ;
  return 1 ;
}
