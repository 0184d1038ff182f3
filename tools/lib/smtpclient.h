/* smtpclient: the client side of SMTP as pure functions on memory: read a server's reply
   a chunk at a time (RFC 5321 4.2), read the EHLO keywords, write a path, encode the message
   text for DATA (line ends to CR LF, dot-stuffing, the RFC 1870 size). No I/O. */
#ifndef SLUICE_SMTPCLIENT_H
#define SLUICE_SMTPCLIENT_H
#include <stddef.h>
#include <stdint.h>
#include <skalibs/stralloc.h>

/* ---- replies */

#define SMTPREPLY_LINEMAX 1000   /* bytes kept of a line (RFC 5321 asks for 512); the rest is dropped */
#define SMTPREPLY_LINES 512      /* a reply of more lines is malformed (no server needs so many) */

typedef struct smtpreply_s smtpreply ;
struct smtpreply_s
{
  stralloc lines ;      /* the reply's lines as sent, line ends removed, each '\0'-terminated */
  unsigned int code ;   /* the code of the last line, once the reply is complete */
  unsigned int n ;      /* lines so far */
  /* private */
  size_t start ;        /* where the current line starts in lines */
  int cut ;             /* the current line was cut */
} ;
#define SMTPREPLY_ZERO { .lines = STRALLOC_ZERO, .code = 0, .n = 0, .start = 0, .cut = 0 }

/* Take bytes from s[0..len) into r, up to the end of the reply; *used says how many were
   taken (what follows belongs to the next reply). Lines end with CR LF or a bare LF.
   1: the reply is complete (r->code set); 0: everything was used, more is needed;
   -1: malformed (errno EPROTO: a line that is not "ddd", "ddd text" or "ddd-text" with
   a first digit 1-5, or too many lines) or out of memory (ENOMEM). */
extern int smtpreply_feed (smtpreply *r, char const *s, size_t len, size_t *used) ;

/* Empty r for the next reply (its memory is kept). */
extern void smtpreply_reset (smtpreply *r) ;

/* Append r's lines to sa as one line of text: joined with " / ", bytes outside printable
   ASCII replaced by '?', at most max bytes of it, then "..." if cut. 1, or 0 (memory). */
extern int smtpreply_text (stralloc *sa, smtpreply const *r, size_t max) ;

/* ---- EHLO */

#define SMTPEHLO_PIPELINING 0x01
#define SMTPEHLO_SIZE 0x02
#define SMTPEHLO_8BITMIME 0x04
#define SMTPEHLO_STARTTLS 0x08
#define SMTPEHLO_SMTPUTF8 0x10

/* The extensions a complete EHLO reply offers (its lines after the first), as SMTPEHLO_
   flags, keywords in any case; *sizemax = the SIZE limit, 0 when none is given. */
extern unsigned int smtpclient_ehlo (smtpreply const *r, uint64_t *sizemax) ;

/* ---- paths */

/* Append "<addr>" to sa for MAIL FROM or RCPT TO, addr in qmail's internal form (no quotes,
   the domain after the last '@'; "" for the null sender): a local part that is not a
   dot-string (RFC 5321 4.1.2) is sent as a quoted string. 1, or 0 (memory). */
extern int smtpclient_path (stralloc *sa, char const *addr) ;

/* 1 when s has a byte over 127 (it needs SMTPUTF8), else 0. */
extern int smtpclient_isutf8 (char const *s) ;

/* ---- the message text */

/* The text as stored (lines end with LF; a CR LF is taken as one line end and a CR alone
   is sent as a line end, so that no server can mistake it for the end of the data) becomes
   the DATA text: every line end CR LF, a '.' that starts a line doubled, a line end added
   when the text lacks a final one, then ".\r\n". */
typedef struct smtpenc_s smtpenc ;
struct smtpenc_s
{
  uint64_t size ;    /* bytes written so far, stuffing dots not counted (RFC 1870's size) */
  int eightbit ;     /* a byte over 127 was seen */
  /* private */
  int linestart ;
  int cr ;
} ;
#define SMTPENC_ZERO { .size = 0, .eightbit = 0, .linestart = 1, .cr = 0 }

/* Largest output of smtpenc_feed for len bytes of input. */
#define SMTPENC_MAX(len) (2 * (len) + 2)

/* Encode in[0..len) into out (room for SMTPENC_MAX(len) bytes); out may be 0 to count only.
   Returns the bytes written. */
extern size_t smtpenc_feed (smtpenc *e, char const *in, size_t len, char *out) ;

/* The end of the text: a missing line end, then ".\r\n", into out (room for 5 bytes), or
   counted only when out is 0. Returns the bytes written; e->size then holds the final size. */
extern size_t smtpenc_end (smtpenc *e, char *out) ;

#endif
