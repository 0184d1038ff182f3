/* localdeliver: deliver one message to one local recipient by the instructions of its .qmail
   file, as qmail-local does; shared by local-deliver (once per process) and queue-local (many
   deliveries in one long-lived process, so it never exits and frees what it takes). The
   caller sets up the process once: umask 077, SIGPIPE and SIGXFSZ ignored, SIGCHLD default. */
#ifndef SLUICE_LOCALDELIVER_H
#define SLUICE_LOCALDELIVER_H
#include <stddef.h>
#include <skalibs/stralloc.h>
#include "maildir.h"

typedef struct localdeliver_s localdeliver ;
struct localdeliver_s
{
  char const *user ;        /* USER */
  char const *home ;        /* absolute; the delivery works there */
  char const *local ;       /* the address's local part (LOCAL) */
  char const *dash ;        /* "-" with an extension, else "" */
  char const *ext ;         /* the extension (EXT) */
  char const *host ;        /* HOST */
  char const *sender ;      /* SENDER, "" for a bounce */
  char const *dflt ;        /* the default delivery lines, 0 for "./Maildir/\n" */
  unsigned int skip ;       /* steps done by an earlier attempt (reported as skipped) */
  int doit ;                /* 0: only report the steps (-n) */
  int nodotqmail ;          /* 1: follow dflt alone, read no .qmail file (an alias) */
  int extfallback ;         /* 1: an extension without a .qmail file of its own is delivered
                               as the address without it (.qmail, then dflt) */
  int quota_set ;           /* Maildir lines get this quota (the users database's) */
  maildir_quota quota ;
  /* each step, as it completes: "delivered N kind arg...\n" (or "skipped", or "step" with
     doit 0); the caller must have it on record before the next one starts */
  void (*report) (void *ctx, char const *line, size_t len) ;
  void *ctx ;
} ;
#define LOCALDELIVER_ZERO { .user = 0, .home = 0, .local = 0, .dash = "", .ext = "", .host = 0, .sender = "", .dflt = 0, .skip = 0, .doit = 1, .nodotqmail = 0, .extfallback = 0, .quota_set = 0, .quota = { 0, 0 }, .report = 0, .ctx = 0 }

typedef struct localdeliver_result_s localdeliver_result ;
struct localdeliver_result_s
{
  int code ;                /* 0 delivered, 100 bounce, 111 try again */
  unsigned int steps ;      /* steps done, those skipped included: the next attempt's skip */
  stralloc text ;           /* code 0: "did F+W+P" (files, forwards, programs); else why,
                               naming the .qmail file and line (0-terminated) */
} ;
#define LOCALDELIVER_RESULT_ZERO { .code = 0, .steps = 0, .text = STRALLOC_ZERO }

/* Deliver the message on msgfd (from its current offset to its end; a pipe is copied first)
   as a says. Returns r->code; never exits. */
extern int localdeliver_run (localdeliver const *a, int msgfd, localdeliver_result *r) ;

#endif
