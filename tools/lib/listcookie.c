#include <string.h>
#include <skalibs/sha256.h>
#include <skalibs/types.h>
#include "listcookie.h"

void listcookie_hmac (char *out, char const *key, size_t keylen, char const *msg, size_t len)
{
  unsigned char k[64] ;
  char pad[64], inner[32] ;
  SHA256Schedule c ;
  memset(k, 0, sizeof k) ;
  if (keylen > 64)
  {
    sha256_init(&c) ; sha256_update(&c, key, keylen) ; sha256_final(&c, (char *)k) ;
  }
  else memcpy(k, key, keylen) ;
  for (unsigned int i = 0 ; i < 64 ; i++) pad[i] = (char)(k[i] ^ 0x36) ;
  sha256_init(&c) ; sha256_update(&c, pad, 64) ; sha256_update(&c, msg, len) ; sha256_final(&c, inner) ;
  for (unsigned int i = 0 ; i < 64 ; i++) pad[i] = (char)(k[i] ^ 0x5c) ;
  sha256_init(&c) ; sha256_update(&c, pad, 64) ; sha256_update(&c, inner, 32) ; sha256_final(&c, out) ;
}

/* the 20 base32 characters of HMAC(key, action:time:what) */
static void hash (char *out, char const *key, size_t keylen, char const *action, char const *what, char const *t, size_t tlen)
{
  static char const b32[] = "abcdefghijklmnopqrstuvwxyz234567" ;
  size_t al = strlen(action), wl = strlen(what) ;
  char msg[al + tlen + wl + 2] ;
  unsigned char mac[32] ;
  memcpy(msg, action, al) ; msg[al] = ':' ;
  memcpy(msg + al + 1, t, tlen) ; msg[al + 1 + tlen] = ':' ;
  memcpy(msg + al + 2 + tlen, what, wl) ;
  listcookie_hmac((char *)mac, key, keylen, msg, sizeof msg) ;
  for (unsigned int i = 0 ; i < LISTCOOKIE_HASHLEN ; i++)
  {
    unsigned int bit = i * 5, byte = bit / 8, shift = bit % 8 ;
    unsigned int v = ((unsigned int)mac[byte] << 8 | mac[byte + 1]) >> (11 - shift) ;
    out[i] = b32[v & 31] ;
  }
}

size_t listcookie_make (char *out, char const *key, size_t keylen, char const *action, char const *what, uint64_t t)
{
  size_t n = uint64_fmt(out, t) ;
  out[n] = '.' ;
  hash(out + n + 1, key, keylen, action, what, out, n) ;
  out[n + 1 + LISTCOOKIE_HASHLEN] = 0 ;
  return n + 1 + LISTCOOKIE_HASHLEN ;
}

int listcookie_check (char const *key, size_t keylen, char const *action, char const *what, char const *s, size_t len, uint64_t now, uint64_t life)
{
  char want[LISTCOOKIE_HASHLEN] ;
  unsigned char diff = 0 ;
  uint64_t t ;
  size_t n = uint64_scan(s, &t) ;
  if (!n || n > 20 || s[0] == '0' || n + 1 + LISTCOOKIE_HASHLEN != len || s[n] != '.') return 0 ;
  hash(want, key, keylen, action, what, s, n) ;
  for (unsigned int i = 0 ; i < LISTCOOKIE_HASHLEN ; i++) diff |= (unsigned char)(want[i] ^ s[n + 1 + i]) ;
  if (diff) return 0 ;
  if (t > now + 3600 || now - t > life) return -1 ;
  return 1 ;
}
