/* libFuzzer harness for tools/lib/smtpauth: base64 decoding is the exact inverse of encoding
   (one text, one encoding), PLAIN splitting stays inside its input, the checkpassword input
   never exceeds 512 bytes. Aborts when a promise is broken. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "smtpauth.h"

#define ASSERT(c) do { if (!(c)) abort() ; } while (0)

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  stralloc d = STRALLOC_ZERO, e = STRALLOC_ZERO, cp = STRALLOC_ZERO ;
  char *copy = malloc(size ? size : 1) ;
  size_t u, ul, p, pl ;
  int r ;
  ASSERT(copy) ;
  memcpy(copy, data, size) ;
  r = smtpauth_b64decode(&d, copy, size) ;
  ASSERT(r >= 0) ;
  if (r)
  {
    ASSERT(smtpauth_b64encode(&e, d.s, d.len)) ;
    ASSERT(e.len == size && !memcmp(e.s, data, size)) ;
    if (smtpauth_plain(d.s, d.len, &u, &ul, &p, &pl))
    {
      ASSERT(ul && u + ul < p && p + pl == d.len) ;
      r = smtpauth_cpinput(&cp, d.s + u, ul, d.s + p, pl, "<1.2@h>") ;
      ASSERT(r >= 0) ;
      if (r) ASSERT(cp.len <= SMTPAUTH_CPMAX && cp.len == ul + pl + 7 + 3) ;
    }
  }
  /* and the other way: encode anything, decode it back */
  e.len = 0 ; d.len = 0 ;
  ASSERT(smtpauth_b64encode(&e, copy, size)) ;
  ASSERT(e.len % 4 == 0 && smtpauth_b64decode(&d, e.s, e.len) == 1) ;
  ASSERT(d.len == size && !memcmp(d.s, data, size)) ;
  r = smtpauth_plain(copy, size, &u, &ul, &p, &pl) ;
  if (r) ASSERT(u + ul <= size && p + pl == size) ;
  /* "AUTH PLAIN =" (RFC 4954: an empty initial response): smtpd splits a response that was
     never decoded, a stralloc with no storage */
  if (size == 1 && data[0] == '=')
  {
    stralloc none = STRALLOC_ZERO ;
    ASSERT(!smtpauth_plain(none.s, none.len, &u, &ul, &p, &pl)) ;
  }
  free(copy) ;
  stralloc_free(&d) ; stralloc_free(&e) ; stralloc_free(&cp) ;
  return 0 ;
}
