/* qqueue: hand a message to the queue. With $QMAILQUEUE set, through the qmail-queue
   interface (DESIGN.md): that program, message on its fd 0, envelope on its fd 1 as Fsender\0
   Trcpt\0 ... \0. Otherwise to queue-injectd over its socket, $SLUICEDIR/queue/inject (no
   process to start), and when nobody listens there, through the program queue-inject (found
   in PATH). With $QMAILQUEUESOCK set, to the filter listening on that socket first (same
   protocol, the client's variables passed on: QQUEUE_VARS), then to $QMAILQUEUE when set;
   never to the queue past the filter. The caller should ignore SIGPIPE. */
#ifndef SLUICE_QQUEUE_H
#define SLUICE_QQUEUE_H
#include <sys/types.h>
#include <skalibs/stralloc.h>

typedef struct qqueue_s qqueue, *qqueue_ref ;
struct qqueue_s
{
  pid_t pid ;       /* the queue program, or 0 when talking to queue-injectd */
  int msgfd ;       /* write the message here (a pipe, or the socket), see qqueue_write */
  int envfd ;       /* the envelope pipe of the program, or -1 */
  char const *env ; /* the envelope given to qqueue_start (not copied) */
  size_t envlen ;
  char id[48] ;     /* the queue ID queue-injectd gave the message, or "" */
  char why[160] ;   /* the reason a socket gave with a non-zero code, or "" */
  int origin ;      /* set by a filter before qqueue_start: inject for ouid, opid (flag l) */
  unsigned int ouid, opid ;
  int committed ;   /* the commit went with the last piece (qqueue_frame_last) */
} ;
#define QQUEUE_ZERO { .pid = 0, .msgfd = -1, .envfd = -1, .env = 0, .envlen = 0, .id = "", .why = "", .origin = 0, .ouid = 0, .opid = 0, .committed = 0 }

/* Start handing a message over, with its envelope env[0..envlen) (built with
   qqueue_envelope_add, without the final \0; it must stay valid until qqueue_finish).
   1 on success; 0 with errno when neither queue-injectd nor the program could be reached
   (a temporary failure for the caller). */
extern int qqueue_start (qqueue *q, char const *env, size_t envlen) ;

/* Add F or T (kind) with addr to an envelope being built in env; 1 or 0 (allocation). */
extern int qqueue_envelope_add (stralloc *env, char kind, char const *addr) ;

/* Write s[0..len) of the message, blocking. 1, or 0 (errno; the queue stopped reading:
   only qqueue_finish's code matters then). */
extern int qqueue_write (qqueue *q, char const *s, size_t len) ;

/* The same for the pieces v[0..n) (at most 8), in one system call where it can. */
struct iovec ;
extern int qqueue_writev (qqueue *q, struct iovec const *v, unsigned int n) ;

/* For callers that write q->msgfd themselves (non-blocking, with deadlines): turn the piece
   of message buf[off..off+len) into what must be written, in place. buf must have at least
   QQUEUE_HEADROOM bytes before off and 1 after off+len. *start gets where the bytes to write
   begin; returns how many bytes to write from there. */
#define QQUEUE_HEADROOM 24
extern size_t qqueue_frame (qqueue const *q, char *buf, size_t off, size_t len, size_t *start) ;

/* The same for the last piece of the message, with the commit after it on a socket (buf must
   then have QQUEUE_TAILROOM bytes after off+len): qqueue_finish then only reads the answer,
   and the reader wakes once less. */
#define QQUEUE_TAILROOM 4
extern size_t qqueue_frame_last (qqueue *q, char *buf, size_t off, size_t len, size_t *start) ;

/* The whole message at once, the pieces v[0..n) (at most 8), with its envelope (as
   qqueue_start takes it): to a socket, the greeting, envelope, message and commit go in one
   system call; to a program, as qqueue_start, qqueue_writev and qqueue_finish. The code, as
   qqueue_finish's (74 when nothing could be reached); q->id and q->why as after it. */
extern int qqueue_send (qqueue *q, char const *env, size_t envlen, struct iovec const *v, unsigned int n) ;

/* Close the message, hand over the envelope (pipe) or commit (socket), and wait for the
   answer. Returns the qmail-queue exit code (0: queued), 81 when the program crashed, 54 when
   the envelope could not be written or the answer was lost. */
extern int qqueue_finish (qqueue *q) ;

/* Drop a started message: kill and reap the program, or close the socket (queue-injectd
   then discards what it had). */
extern void qqueue_abort (qqueue *q) ;

/* 1 when the exit code means a permanent failure (11-31, 91), 0 otherwise. */
extern int qqueue_permanent (int code) ;

/* A short explanation of a qmail-queue exit code, as qmail-queue(8) lists them. */
extern char const *qqueue_strerror (int code) ;

/* ---- the queue-injectd protocol (sluice-queue(5)) --------------------------------------
   On the stream socket, netstrings (LEN:BYTES,): first "1" then flags ("n": the caller is a
   network server that wrote its own Received: line), then the envelope with its final \0,
   then the message in non-empty pieces, then an empty netstring that commits. With the flag
   "e" in the greeting, a netstring of NAME=value\0 pairs follows it (to a filter's socket:
   the variables of QQUEUE_VARS that are set). With the flag "l" (a filter handing on a
   local injection: q->origin), a netstring "UID PID" follows, the injector's; queue-injectd
   believes it only from the uids it trusts (-N), a filter only from its own uid and root.
   The answer is
   one netstring: "0 ID" when the message is queued, else the exit code in decimal, a space
   and a reason. Closing before the empty netstring drops the message. */
#define QQUEUE_PROTO "1"
/* what a filter may need of its client's environment (auth-results: TCPREMOTEIP, SMTPHELO) */
#define QQUEUE_VARS "PROTO", "TCPLOCALIP", "TCPLOCALPORT", "TCPLOCALHOST", "TCPREMOTEIP", \
  "TCPREMOTEPORT", "TCPREMOTEHOST", "TCPREMOTEINFO", "SMTPHELO", "RELAYCLIENT", "AUTHUSER", \
  "SSL_PROTOCOL", "SSL_CIPHER"

/* Connect to queue-injectd's socket: the descriptor (blocking, close-on-exec), or -1 with
   errno (ENOENT, ECONNREFUSED: it is not running). */
extern int qqueue_connect (void) ;

/* Send the greeting and the envelope (with its final \0) on a connected socket. 1 or 0. */
extern int qqueue_hello (int fd, char const *env, size_t envlen) ;

/* Commit and read the answer on a socket: the code (and id, 48 bytes, when 0). */
extern int qqueue_commit (int fd, char *id) ;

/* The same, with the reason of a non-zero code in why (whymax bytes, 0-terminated). */
extern int qqueue_commit_why (int fd, char *id, char *why, size_t whymax) ;

#endif
