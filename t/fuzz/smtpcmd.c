/* libFuzzer harness for tools/lib/smtpcmd: the command line assembler, verbs, MAIL/RCPT paths
   and ESMTP parameters, on arbitrary bytes. The first byte picks the chunk size, so that lines
   are assembled from pieces as they come off the network. Aborts when a promise is broken. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "smtpcmd.h"

#define ASSERT(c) do { if (!(c)) abort() ; } while (0)

static smtpline l ;

static void path (char const *s, size_t len, char const *kw)
{
  stralloc a = STRALLOC_ZERO ;
  int flags ;
  size_t params, i ;
  char *copy = malloc(len ? len : 1) ;   /* exact size: ASan sees any read past the end */
  ASSERT(copy) ;
  memcpy(copy, s, len) ;
  int r = smtpcmd_path(copy, len, kw, &a, &flags, &params) ;
  ASSERT(r >= 0) ;
  if (r == SMTPPATH_OK)
  {
    ASSERT(params <= len) ;
    ASSERT(a.s && a.s[a.len] == 0) ;
    ASSERT(a.len <= SMTPCMD_PATHMAX) ;
    for (i = 0 ; i < a.len ; i++)
    {
      unsigned char c = a.s[i] ;
      ASSERT(c >= 32 && c != 127) ;
      if (c >= 0x80) ASSERT(flags & SMTPPATH_UTF8) ;
    }
    if (flags & SMTPPATH_UTF8) ASSERT(smtpcmd_utf8valid(a.s, a.len)) ;
    if (flags & SMTPPATH_DOMAIN) ASSERT(memchr(a.s, '@', a.len)) ;
    if (!a.len) ASSERT(!(flags & SMTPPATH_DOMAIN)) ;
    {
      size_t pos = params, kl, vl ;
      char const *k, *v ;
      int n = 0 ;
      while ((r = smtpcmd_param(copy, len, &pos, &k, &kl, &v, &vl)) > 0)
      {
        ASSERT(kl && k >= copy && k + kl <= copy + len) ;
        if (v) ASSERT(vl && v >= copy && v + vl <= copy + len) ;
        ASSERT(pos <= len && ++n <= (int)len) ;
      }
    }
  }
  free(copy) ;
  stralloc_free(&a) ;
}

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  size_t step, i = 1 ;
  if (!size) return 0 ;
  step = data[0] % 64 + 1 ;
  smtpline_reset(&l) ;
  while (i < size)
  {
    int done = 0 ;
    size_t n = size - i < step ? size - i : step ;
    size_t used = smtpline_feed(&l, (char const *)data + i, n, &done) ;
    ASSERT(used <= n && (used == n || done)) ;
    ASSERT(l.len <= SMTPCMD_LINEMAX + 1) ;
    i += used ;
    if (done)
    {
      ASSERT(data[i-1] == '\n') ;
      if (smtpline_finish(&l) == SMTPLINE_OK)
      {
        size_t arg ;
        int verb = smtpcmd_verb(l.s, l.len, &arg) ;
        ASSERT(arg <= l.len && strlen(l.s) == l.len && !memchr(l.s, '\r', l.len)) ;
        if (verb == SMTPVERB_MAIL) path(l.s + arg, l.len - arg, "from") ;
        else if (verb == SMTPVERB_RCPT) path(l.s + arg, l.len - arg, "to") ;
      }
      smtpline_reset(&l) ;
    }
  }
  /* the whole input as one argument, NULs and all */
  path((char const *)data + 1, size - 1, data[0] & 1 ? "from" : "to") ;
  return 0 ;
}
