/* libFuzzer harness for tools/lib/smtpdata: the DATA decoder must give the same result
   however the input is cut into chunks, and agree with a plain line-by-line reference
   decoder; nothing but CR LF . CR LF may end the data. Aborts on any difference. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "smtpdata.h"

#define ASSERT(c) do { if (!(c)) abort() ; } while (0)

/* the reference: RFC 5321 4.5.2 read literally, one line at a time */
static int reference (uint8_t const *in, size_t n, char *out, size_t *outlen, size_t *used)
{
  size_t i = 0, o = 0 ;
  for (;;)
  {
    size_t start = i ;
    if (i + 2 < n + 0 && in[i] == '.' && in[i+1] == '\r' && in[i+2] == '\n') { *outlen = o ; *used = i + 3 ; return SMTPDATA_END ; }
    if (i < n && in[i] == '.') i++ ;   /* transparency: drop the leading dot */
    for (;;)
    {
      if (i >= n) { *outlen = o ; *used = n ; return SMTPDATA_MORE ; }
      if (in[i] == '\n') { *outlen = o ; *used = i + 1 ; return SMTPDATA_BARELF ; }
      if (in[i] == '\r')
      {
        if (i + 1 >= n) { *outlen = o ; *used = n ; return SMTPDATA_MORE ; }
        if (in[i+1] != '\n') { *outlen = o ; *used = i + 1 ; return SMTPDATA_BARECR ; }
        out[o++] = '\n' ; i += 2 ; break ;
      }
      out[o++] = in[i++] ;
    }
    (void)start ;
  }
}

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  char *a, *b, *r ;
  size_t alen = 0, blen = 0, rlen = 0, aused = 0, bused = 0, rused = 0, i, step ;
  int ra = SMTPDATA_MORE, rb = SMTPDATA_MORE, rr ;
  smtpdata da = SMTPDATA_ZERO, db = SMTPDATA_ZERO ;
  if (!size) return 0 ;
  step = data[0] % 17 + 1 ;
  data++ ; size-- ;
  a = malloc(size + 1) ; b = malloc(size + 1) ; r = malloc(size + 1) ;
  ASSERT(a && b && r) ;
  {
    size_t p ;
    ra = smtpdata_feed(&da, (char const *)data, size, a, &aused, &p) ;
    alen = p ;
  }
  for (i = 0 ; i < size && rb == SMTPDATA_MORE ; )
  {
    size_t n = size - i < step ? size - i : step, u, p ;
    char *chunk = malloc(n) ;   /* exact size: ASan sees any read past the end */
    ASSERT(chunk) ;
    memcpy(chunk, data + i, n) ;
    rb = smtpdata_feed(&db, chunk, n, b + blen, &u, &p) ;
    free(chunk) ;
    ASSERT(u <= n && p <= u) ;
    if (rb == SMTPDATA_MORE) ASSERT(u == n) ;
    i += u ; blen += p ;
  }
  bused = i ;
  ASSERT(ra == rb && aused == bused && alen == blen && !memcmp(a, b, alen)) ;
  ASSERT(da.bytes == db.bytes && da.hops == db.hops) ;
  rr = reference(data, size, r, &rlen, &rused) ;
  /* a CR at the very end is pending in the decoder, ending the input in the reference */
  ASSERT(rr == ra && rused == aused && rlen == alen && !memcmp(r, a, alen)) ;
  ASSERT(!memchr(a, '\r', alen)) ;
  if (ra == SMTPDATA_END)
    ASSERT(aused >= 3 && !memcmp(data + aused - 3, ".\r\n", 3) && (aused == 3 || (aused >= 5 && !memcmp(data + aused - 5, "\r\n", 2)))) ;
  free(a) ; free(b) ; free(r) ;
  return 0 ;
}
