/* qqueue: hand a message to the queue through the qmail-queue interface (DESIGN.md):
   the program is $QMAILQUEUE, else queue-inject (found in PATH); message on its fd 0,
   envelope on its fd 1 as Fsender\0 Trcpt\0 ... \0. The caller should ignore SIGPIPE. */
#ifndef SLUICE_QQUEUE_H
#define SLUICE_QQUEUE_H
#include <sys/types.h>
#include <skalibs/stralloc.h>

typedef struct qqueue_s qqueue, *qqueue_ref ;
struct qqueue_s
{
  pid_t pid ;
  int msgfd ;   /* write the message here (buffer it; it is a pipe) */
  int envfd ;
} ;
#define QQUEUE_ZERO { .pid = 0, .msgfd = -1, .envfd = -1 }

/* Start the queue program (posix_spawn). 1 on success; 0 with errno, also when the program
   cannot be run (ENOENT, EACCES): a temporary failure for the caller. */
extern int qqueue_start (qqueue *q) ;

/* Add F or T (kind) with addr to an envelope being built in env; 1 or 0 (allocation). */
extern int qqueue_envelope_add (stralloc *env, char kind, char const *addr) ;

/* Close the message, write the envelope env (built with qqueue_envelope_add; the final \0
   is added here), wait for the program. Returns its exit code (0: queued), or 81 when it
   crashed, or 54 when the envelope could not be written; never blocks past the program. */
extern int qqueue_finish (qqueue *q, char const *env, size_t envlen) ;

/* Kill and reap a started program whose message will not be finished (abort). */
extern void qqueue_abort (qqueue *q) ;

/* 1 when the exit code means a permanent failure (11-31, 91), 0 otherwise. */
extern int qqueue_permanent (int code) ;

/* A short explanation of a qmail-queue exit code, as qmail-queue(8) lists them. */
extern char const *qqueue_strerror (int code) ;

#endif
