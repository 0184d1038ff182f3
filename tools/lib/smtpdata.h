/* smtpdata: decode the text an SMTP client sends after DATA (RFC 5321 4.1.1.4, 4.5.2),
   a chunk at a time, without ever holding the message: undo dot-stuffing, turn CR LF into
   LF (qmail's queue format), find the end of data, count bytes and hops.
   Only CR LF . CR LF ends the data, and any CR or LF that is not part of a CR LF pair stops
   the decoding: SMTP smuggling (LF . LF, CR . LF, LF . CR LF, ...) cannot end a message. */
#ifndef SLUICE_SMTPDATA_H
#define SLUICE_SMTPDATA_H
#include <stddef.h>
#include <stdint.h>

typedef struct smtpdata_s smtpdata ;
struct smtpdata_s
{
  unsigned int state ;
  unsigned int inheader ;   /* still in the header section (before the first empty line) */
  unsigned int match ;      /* header names that the current line may still start with */
  unsigned int col ;        /* position in the current line, while matching */
  unsigned int hops ;       /* Received: and Delivered-To: header lines seen */
  uint64_t bytes ;          /* message size as sent, CR LF counted as 2, stuffing dots not */
} ;
#define SMTPDATA_ZERO { .state = 0, .inheader = 1, .match = 3, .col = 0, .hops = 0, .bytes = 0 }

#define SMTPDATA_MORE 0     /* everything was used; the end of data is still to come */
#define SMTPDATA_END 1      /* the final "." line was used; what follows is commands */
#define SMTPDATA_BARELF 2   /* an LF without CR before it (used, and nothing after it) */
#define SMTPDATA_BARECR 3   /* a CR without LF after it (the byte after CR is not used) */

/* Decode in[0..n) into out, which has room for n bytes (decoding never grows the text).
   *used: bytes of in consumed; *produced: bytes written to out. Returns one of the above.
   After SMTPDATA_END, SMTPDATA_BARELF or SMTPDATA_BARECR, d must not be fed again. */
extern int smtpdata_feed (smtpdata *d, char const *in, size_t n, char *out, size_t *used, size_t *produced) ;

#endif
