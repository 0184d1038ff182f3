/* bounce: the delivery status notifications queue-run sends, as RFC 3464 wants them: a
   multipart/report with a text for people, a message/delivery-status for programs, and the
   original message (message/rfc822) or, when it is too big, its header
   (text/rfc822-headers). Line ends are LF, as everything in the queue. */
#ifndef SLUICE_BOUNCE_H
#define SLUICE_BOUNCE_H
#include <stddef.h>
#include <stdint.h>
#include <skalibs/stralloc.h>

typedef struct bounce_rcpt_s bounce_rcpt ;
struct bounce_rcpt_s
{
  char const *addr ;
  char const *text ;            /* the reason, as the delivery said it */
  int remote ;                  /* 1: text holds a remote server's words (Diagnostic-Code: smtp) */
} ;

typedef struct bounce_s bounce ;
struct bounce_s
{
  char const *me ;              /* the reporting host (control/me) */
  char const *from ;            /* the From: address, MAILER-DAEMON@... */
  char const *to ;              /* who receives the notice */
  char const *id ;              /* the original's queue ID */
  uint64_t arrival ;            /* when the original arrived */
  uint64_t until ;              /* delay warnings: when the queue gives up */
  int delayed ;                 /* 1: a warning (Action: delayed), 0: a failure */
  bounce_rcpt const *rcpts ;
  size_t n ;
  char const *orig ;            /* the original message, or its start */
  size_t origlen ;
  int whole ;                   /* 1: orig is the whole message; 0: cut, send its header only */
} ;

/* The notice, appended to sa. 1, or 0 (out of memory). */
extern int bounce_make (stralloc *sa, bounce const *b) ;

/* The enhanced status code (RFC 3463) in text: "#5.1.1" as local deliveries write it, or
   "5.1.1" after a remote reply code; else 5.0.0 (failed) or 4.0.0 (delayed). Into out,
   at least 16 bytes. */
extern void bounce_status (char const *text, int delayed, char *out) ;

#endif
