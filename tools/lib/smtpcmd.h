/* smtpcmd: the command side of an SMTP server: assemble command lines safely, recognise
   verbs, parse MAIL/RCPT paths (RFC 5321 4.1.2, RFC 6531) and ESMTP parameters.
   Pure functions on memory: no I/O, no global state. */
#ifndef SLUICE_SMTPCMD_H
#define SLUICE_SMTPCMD_H
#include <stddef.h>
#include <skalibs/stralloc.h>

/* The longest command line accepted, CR LF excluded. RFC 5321 asks for 512; AUTH responses
   (RFC 4954) and ESMTP parameters need more. */
#define SMTPCMD_LINEMAX 2048
/* The longest mailbox accepted, as sent (RFC 5321 4.5.3.1.3: a path is at most 256 octets). */
#define SMTPCMD_PATHMAX 256

typedef struct smtpline_s smtpline ;
struct smtpline_s
{
  size_t len ;        /* bytes kept in s (at most SMTPCMD_LINEMAX + 1) */
  int toolong ;       /* bytes were dropped */
  char s[SMTPCMD_LINEMAX + 2] ;
} ;
#define SMTPLINE_ZERO { .len = 0, .toolong = 0, .s = "" }

/* What smtpline_finish found in a complete line. */
#define SMTPLINE_OK 0
#define SMTPLINE_TOOLONG 1   /* longer than SMTPCMD_LINEMAX */
#define SMTPLINE_BARECR 2    /* a CR that is not right before the final LF */
#define SMTPLINE_NUL 3       /* a NUL byte */

/* Take bytes from s[0..n) into l, up to and including the first LF; never keeps more than
   SMTPCMD_LINEMAX + 1 bytes (the rest is dropped and l->toolong set). Returns the number
   of bytes used; *done becomes 1 when that LF was used (the line is complete), else 0. */
extern size_t smtpline_feed (smtpline *l, char const *s, size_t n, int *done) ;

/* On a complete line: drop the final LF and the CR before it, 0-terminate l->s, and say
   whether the line is usable (SMTPLINE_OK) or why not. l can then be reset with
   smtpline_reset. A line that only lacks the CR (bare LF) is accepted, as qmail-smtpd does. */
extern int smtpline_finish (smtpline *l) ;
extern void smtpline_reset (smtpline *l) ;

/* The verbs smtpcmd_verb knows. */
enum smtpverb_e
{
  SMTPVERB_UNKNOWN, SMTPVERB_HELO, SMTPVERB_EHLO, SMTPVERB_MAIL, SMTPVERB_RCPT,
  SMTPVERB_DATA, SMTPVERB_RSET, SMTPVERB_NOOP, SMTPVERB_QUIT, SMTPVERB_VRFY,
  SMTPVERB_EXPN, SMTPVERB_HELP, SMTPVERB_AUTH, SMTPVERB_STARTTLS, SMTPVERB_BDAT,
  SMTPVERB_HTTP   /* GET, POST, HEAD, PUT, CONNECT: a web client or a cross-protocol attack */
} ;

/* The verb of line s (0-terminated, len bytes), case-insensitive; *arg gets the offset of
   its argument (after the blanks that follow the verb; len when there is none). */
extern int smtpcmd_verb (char const *s, size_t len, size_t *arg) ;

/* What smtpcmd_path found. */
#define SMTPPATH_OK 0
#define SMTPPATH_SYNTAX 1    /* not "KW:<path>" or a bad mailbox */
#define SMTPPATH_TOOLONG 2   /* mailbox longer than SMTPCMD_PATHMAX */
#define SMTPPATH_UTF8 4      /* flag: the mailbox has UTF-8 (non-ASCII) text, valid UTF-8 */
#define SMTPPATH_DOMAIN 8    /* flag: the mailbox has an @domain part */
#define SMTPPATH_LITERAL 16  /* flag: the domain is an address literal [..] */

/* Parse "KW:<path> params" (kw: "FROM" or "TO", case-insensitive; blanks after the colon and
   a path without <> are tolerated) from s[0..len). On SMTPPATH_OK, addr holds the mailbox
   0-terminated in qmail's internal form (quotes and quoted-pair backslashes removed, a source
   route dropped, the domain as sent; empty for <>), *flags the SMTPPATH_ flags, and *params
   the offset in s where the ESMTP parameters start (len when none). Returns SMTPPATH_OK,
   SMTPPATH_SYNTAX, SMTPPATH_TOOLONG, or -1 on allocation failure. The mailbox never contains
   control characters, NUL, or invalid UTF-8. */
extern int smtpcmd_path (char const *s, size_t len, char const *kw, stralloc *addr, int *flags, size_t *params) ;

/* The next ESMTP parameter "keyword[=value]" of s[*pos..len), blanks skipped. 1: found,
   *key, *keylen, *val and *vallen set (val 0 when there is no =value), *pos advanced;
   0: no more parameters; -1: syntax error (RFC 5321 4.1.2 esmtp-param). */
extern int smtpcmd_param (char const *s, size_t len, size_t *pos, char const **key, size_t *keylen, char const **val, size_t *vallen) ;

/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
extern int smtpcmd_utf8valid (char const *s, size_t len) ;

/* Case-insensitive ASCII comparison of s[0..len) with the 0-terminated lowercase word w. */
extern int smtpcmd_is (char const *s, size_t len, char const *w) ;

#endif
