/* qinjsrv: the server's side of the queue-injectd protocol (queue-injectd(8)), for
   queue-injectd and for the filters that take messages on a socket of their own (dkim-sign -d,
   auth-results -d). Every read has a deadline; the reads return 1 on success, 0 when the
   client closed the connection, -1 on a failed read (errno; ETIMEDOUT past the deadline) and
   -2 on a protocol error. */
#ifndef SLUICE_QINJSRV_H
#define SLUICE_QINJSRV_H
#include <stddef.h>
#include <stdint.h>
#include <skalibs/stralloc.h>

#define QINJSRV_NET 1           /* greeting flag n: the client wrote its own Received: line */
#define QINJSRV_VARS 2          /* greeting flag e: the client's variables follow */
#define QINJSRV_ORIGIN 4        /* greeting flag l: the local injector's uid and pid follow */
#define QINJSRV_VARSMAX 8192    /* bytes of variables at most */

typedef struct qinjsrv_s qinjsrv ;
struct qinjsrv_s
{
  int fd ;
  unsigned int timeout ;  /* seconds each read may wait */
  uint64_t left ;         /* bytes of the current message piece not yet returned */
  int inpiece ;
  unsigned int ouid, opid ;  /* with QINJSRV_ORIGIN: who injected, as the client says */
  size_t pos, len ;
  char buf[65536] ;
} ;

/* Start reading a connection on fd. */
extern void qinjsrv_init (qinjsrv *c, int fd, unsigned int timeout) ;

/* The greeting: its flags (QINJSRV_*) in *flags and, with QINJSRV_VARS, the client's
   variables (NAME=value\0 ..., at most QINJSRV_VARSMAX bytes, not checked) in vars; with
   QINJSRV_ORIGIN, the uid and pid the client says it injects for ("UID PID", decimal) in
   c->ouid and c->opid (whether to believe it is the caller's business). -3 for a greeting
   of another protocol. */
extern int qinjsrv_greeting (qinjsrv *c, unsigned int *flags, stralloc *vars) ;

/* The envelope netstring, its final \0 included, appended to env. -3 when longer than max
   (nothing more read). */
extern int qinjsrv_envelope (qinjsrv *c, stralloc *env, size_t max) ;

/* The next bytes of the message, in place in the buffer: *s, *n. 1 with some bytes, 2 when
   the message is committed (the empty netstring), else 0, -1 or -2. */
extern int qinjsrv_data (qinjsrv *c, char const **s, size_t *n) ;

/* Write the answer: code, a space, text, as one netstring. 1, or 0 (errno). */
extern int qinjsrv_answer (int fd, int code, char const *text) ;

/* For each variable of vars[0..len) whose name is in names (0-terminated list), call
   f(name, value, data); the rest is ignored. */
extern void qinjsrv_vars (char const *vars, size_t len, char const *const *names,
                          void (*f) (char const *name, char const *value, void *data), void *data) ;

#endif
