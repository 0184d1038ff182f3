/* inject: what mail-inject and sendmail do with a message on stdin: complete its header
   (Date, Message-ID, From; addresses qualified with control/defaulthost and defaultdomain;
   Bcc, Resent-Bcc, Return-Path and Content-Length removed), take its recipients from the
   command line and/or the header, and hand it to the queue (qqueue: queue-injectd's socket,
   else queue-inject), or print it. */
#ifndef SLUICE_INJECT_H
#define SLUICE_INJECT_H
#include <skalibs/gccattributes.h>

#define INJECT_FIELDMAX 102400        /* bytes in one header field, folded lines included */
#define INJECT_HEADERMAX 1048576      /* bytes in the whole header */

#define INJECT_ARGS 1                 /* recipients from the command line */
#define INJECT_HEADER 2               /* recipients from To, Cc, Bcc (Resent-* when present) */

typedef struct inject_opts_s inject_opts ;
struct inject_opts_s
{
  unsigned int from ;           /* INJECT_ARGS, INJECT_HEADER, both; 0: the command line,
                                   or the header when the command line has none */
  int dotend ;                  /* a line "." alone ends the message (sendmail without -i) */
  int print ;                   /* write the message on stdout instead of queueing it */
  char const *sender ;          /* the envelope sender (-f; "" or "<>": none), or 0 */
  char const *name ;            /* the sender's full name (-F), or 0 */
} ;
#define INJECT_OPTS_ZERO { .from = 0, .dotend = 0, .print = 0, .sender = 0, .name = 0 }

/* Read the message on stdin and queue it for rcpt (each an address list; 0-terminated), or
   print it. Never returns: exits 0 (queued), 100 (bad input: no recipient, an address, a
   header too long; nothing queued) or 111 (temporary: the queue, reading stdin, memory),
   after a line on stderr that says why. */
extern void inject_run (inject_opts const *o, char const *const *rcpt) gccattr_noreturn ;

/* Put the directory of the running program first in PATH, so that the programs it runs
   (queue-inject, smtpd, queue-list) are the ones installed beside it whatever the caller's
   PATH (cron's, a web server's). */
extern void inject_path_self (void) ;

#endif
