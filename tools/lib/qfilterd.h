/* qfilterd: a qmail-queue filter (dkim-sign, auth-results) as a long-lived service on a unix
   socket that speaks queue-injectd's protocol (queue-injectd(8)): a client hands a message
   to it as to queue-injectd (qqueue with $QMAILQUEUESOCK), starting no process. A few
   pre-forked workers each accept() on the socket and take one connection at a time: the
   message is buffered (memory, then an unlinked temporary file), the filter runs on it, and
   the result goes on with qqueue ($NEXTQUEUESOCK, else $NEXTQUEUE, else queue-injectd's
   socket, else queue-inject); the next hop's answer, code and text, goes back to the client.
   A worker that dies leaves its client without an answer (a temporary failure) and nothing
   queued; the parent starts another. */
#ifndef SLUICE_QFILTERD_H
#define SLUICE_QFILTERD_H
#include <stddef.h>
#include <stdint.h>
#include <skalibs/gccattributes.h>

/* What the filter gives back: the fields to prepend, the message to follow them (msg itself,
   or a changed copy), and with a non-zero code, the reason for the client. */
typedef struct qfilterd_out_s qfilterd_out ;
struct qfilterd_out_s
{
  char const *head ;
  size_t headlen ;
  char const *msg ;
  size_t msglen ;
  char const *why ;
} ;

/* The filter: msg[0..len), env[0..envlen) (its final \0 included) -> out. QUEUE_OK, or the
   qmail-queue code to answer with (nothing is handed on). It runs in a worker, with the
   client's variables (QQUEUE_VARS) in the environment and PROTO set for a network client. */
typedef int qfilterd_fn (char const *msg, size_t len, char const *env, size_t envlen, qfilterd_out *out) ;

typedef struct qfilterd_opts_s qfilterd_opts ;
struct qfilterd_opts_s
{
  unsigned int workers ;   /* processes accepting connections */
  unsigned int timeout ;   /* seconds a client may stay silent */
  unsigned int mode ;      /* of the socket */
  uint64_t maxbytes ;      /* a bigger message is refused (31), 0: no limit */
} ;
#define QFILTERD_OPTS "d:c:T:m:b:"
#define QFILTERD_ZERO { .workers = 2, .timeout = 1200, .mode = 0600, .maxbytes = 0 }
#define QFILTERD_MEMMAX 1048576   /* bytes of a message kept in memory; more in a file */
#define QFILTERD_MAXUSE 10000     /* messages a worker serves before another replaces it */

/* The service's options (QFILTERD_OPTS): -d socket (into *sock), -c workers, -T timeout,
   -m mode, -b maxbytes. 1 taken, 0 a bad value, -1 not one of them. */
extern int qfilterd_option (int opt, char const *arg, qfilterd_opts *o, char const **sock) ;

/* The program mode: read the message and envelope (qfilter_read), run f, hand the result on
   (qfilter_handon). The code to exit with, or does not return (exec). */
extern int qfilterd_once (qfilterd_fn *f) ;

/* Listen on path and serve until SIGTERM (workers finish the message in hand). init runs
   once in each worker before its first connection (the libraries). Does not return: exits
   0, or 100/111 when it could not start. */
extern void qfilterd_main (char const *path, qfilterd_opts const *o, void (*init) (void), qfilterd_fn *f) gccattr_noreturn ;

#endif
