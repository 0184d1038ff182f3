/* queue: the mail queue on disk (sluice-queue(5)): one file per message, its envelope first
   and the message after it, written in tmp/ and made visible in todo/ by one rename once it
   is on disk; queue-run moves it to mess/ and keeps the delivery state of its recipients in
   an append-only log, info/ID. Shared by queue-inject, queue-injectd, queue-run, queue-spawn
   and queue-list. */
#ifndef SLUICE_QUEUE_H
#define SLUICE_QUEUE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>

#define QUEUE_IDMAX 48          /* "SECONDS.MICROSECONDS.INODE" and its \0 */
#define QUEUE_ADDRMAX 1000      /* bytes in one envelope address (qmail-queue code 11 beyond) */
#define QUEUE_ENVMAX 16777216   /* bytes in a whole envelope (code 11 beyond) */
#define QUEUE_VERSION "sluice-queue 1"

/* the qmail-queue exit codes this module returns (qqueue_strerror says them in words) */
#define QUEUE_OK 0
#define QUEUE_TOOLONG 11        /* an address or the envelope is too long */
#define QUEUE_NOMEM 51
#define QUEUE_TIMEOUT 52
#define QUEUE_WRITE 53          /* disk full, quota, I/O error */
#define QUEUE_READ 54           /* the message or envelope could not be read */
#define QUEUE_DIR 62            /* the queue directory is missing or not ours */
#define QUEUE_TODO 66           /* the file could not be moved into todo/ */
#define QUEUE_BUG 81
#define QUEUE_BADENV 91         /* envelope format error */

/* The queue directory: $SLUICEDIR/queue, in path (0-terminated). 1, or 0 (out of memory). */
extern int queue_path (stralloc *path) ;

/* Open the queue directory (O_DIRECTORY). The descriptor, or -1 with errno. */
extern int queue_open (char const *path) ;

/* Is id a queue ID ("SECONDS.MICROSECONDS.INODE", digits and two dots)? 1 or 0. */
extern int queue_id_valid (char const *id) ;

/* The arrival time encoded in id, in seconds; 0 when id is not valid. */
extern uint64_t queue_id_time (char const *id) ;

/* ---- envelopes: Fsender\0 Trcpt\0 ... \0, as the qmail-queue interface has them ---------- */

/* Check env[0..len): one F record, at least one T record, the empty record at the end and
   nothing after it, no newline in an address, each at most QUEUE_ADDRMAX bytes, the whole at
   most QUEUE_ENVMAX. QUEUE_OK (*nrcpt set), QUEUE_TOOLONG or QUEUE_BADENV. */
extern int queue_envelope_check (char const *env, size_t len, size_t *nrcpt) ;

/* Read an envelope from fd into env (appended), up to and with its terminating empty record,
   without waiting for the end of the file (as qmail-queue). QUEUE_OK, QUEUE_TOOLONG (past
   QUEUE_ENVMAX), QUEUE_NOMEM, QUEUE_READ or QUEUE_BADENV (the end came first); the records'
   contents are not checked (queue_envelope_check does). */
extern int queue_envelope_read (int fd, stralloc *env) ;

/* ---- writing a message (queue-inject, queue-injectd) ---------------------------------------
   begin creates tmp/NAME and writes the header and the envelope; data appends message bytes;
   commit fsyncs the file, renames it to todo/ID, fsyncs todo/ and wakes queue-run; abort
   removes the file. Each returns QUEUE_OK or a qmail-queue code; after any failure the file
   is gone and only abort may follow (it is then a no-op). */

typedef struct queue_writer_s queue_writer ;
struct queue_writer_s
{
  int qfd ;                     /* the queue directory */
  int fd ;                      /* the file being written, or -1 */
  char tmp[64] ;                /* its name in tmp/ */
  char id[QUEUE_IDMAX] ;        /* its ID, once begin succeeded */
  uint64_t bytes ;              /* message bytes so far */
  size_t len ;                  /* bytes waiting in buf */
  char buf[32768] ;
} ;

/* received: when not 0, a line (with its newline) that goes first in the message. */
extern int queue_write_begin (queue_writer *w, int qfd, char const *env, size_t envlen, uid_t uid, pid_t qp, char const *received) ;
extern int queue_write_data (queue_writer *w, char const *s, size_t len) ;
extern int queue_write_commit (queue_writer *w) ;
extern void queue_write_abort (queue_writer *w) ;

/* The Received: line of a local injection, "Received: (sluice PID invoked by uid UID); DATE\n",
   into sa (0-terminated). 1, or 0 (out of memory). */
extern int queue_received_local (stralloc *sa, pid_t pid, uid_t uid) ;

/* Wake queue-run: one byte into the FIFO queue/trigger, without blocking; nothing happens when
   nobody reads it (queue-run scans todo/ when it starts). SIGPIPE must be ignored. */
extern void queue_trigger (int qfd) ;

/* ---- reading a message (queue-run, queue-spawn, queue-list) --------------------------------*/

typedef struct queue_msg_s queue_msg ;
struct queue_msg_s
{
  stralloc env ;                /* the envelope as stored */
  char const *sender ;          /* in env */
  genalloc rcpts ;              /* char const *, into env, nrcpt of them */
  size_t nrcpt ;
  uint64_t offset ;             /* where the message starts in the file */
  uint64_t size ;               /* message bytes (the file's size minus offset) */
  uid_t uid ;                   /* who injected it */
  uint64_t qp ;                 /* the injecting process */
} ;
#define QUEUE_MSG_ZERO { .env = STRALLOC_ZERO, .sender = 0, .rcpts = GENALLOC_ZERO, .nrcpt = 0, .offset = 0, .size = 0, .uid = 0, .qp = 0 }

/* Read the header and envelope of the queue file open on fd. 1 read; 0 the file is not a
   well-formed queue file (*why says what is wrong); -1 error (errno). */
extern int queue_msg_read (int fd, queue_msg *m, char const **why) ;
extern void queue_msg_free (queue_msg *m) ;

/* The recipient i of m. */
#define queue_msg_rcpt(m, i) (genalloc_s(char const *, &(m)->rcpts)[i])

/* ---- delivery state: info/ID, one line per event, the last line of a recipient wins ------
     D i time                        delivered
     F i time status text            failed for good (status: a DSN code such as 5.1.1)
     Z i time next tries steps text  deferred until next, after tries attempts; steps: the
                                     .qmail steps done so far (local-deliver -s)
     B time i,i,...                  a bounce was queued for these failures
     W time                          a delay warning was queued
   A line without its newline (the writer died) is ignored. */

#define QUEUE_RCPT_PENDING 0
#define QUEUE_RCPT_DONE 1
#define QUEUE_RCPT_FAILED 2
#define QUEUE_RCPT_DEFERRED 3

typedef struct queue_rcptstate_s queue_rcptstate ;
struct queue_rcptstate_s
{
  unsigned char state ;         /* QUEUE_RCPT_* */
  unsigned char bounced ;       /* a failure already covered by a bounce */
  uint32_t tries ;
  uint32_t steps ;
  uint64_t when ;               /* of the last event */
  uint64_t next ;               /* deferred: the next attempt */
  size_t text ;                 /* offset of the last reason in queue_state.text, 0 for none */
} ;

typedef struct queue_state_s queue_state ;
struct queue_state_s
{
  genalloc rcpt ;               /* queue_rcptstate, one per recipient */
  stralloc text ;               /* the reasons, each 0-terminated; starts with a \0 */
  uint64_t warned ;             /* time of the delay warning, 0 for none */
  size_t lines ;                /* lines read: the log needs compacting when far above nrcpt */
} ;
#define QUEUE_STATE_ZERO { .rcpt = GENALLOC_ZERO, .text = STRALLOC_ZERO, .warned = 0, .lines = 0 }

/* Read the log at info/ID (dirfd: the queue directory) for a message of nrcpt recipients
   into st; a missing log means every recipient pending. 1, or -1 (errno). Lines naming a
   recipient out of range, and malformed lines, are skipped (*bad counts them). */
extern int queue_state_read (int qfd, char const *id, size_t nrcpt, queue_state *st, size_t *bad) ;

/* The reason of recipient i, "" when none. */
extern char const *queue_state_text (queue_state const *st, size_t i) ;

/* Append one line to the log of id (created when missing), and when next is not 0 set the
   log's modification time to next (queue-run's schedule after a restart). 1 or 0 (errno). */
extern int queue_state_append (int qfd, char const *id, char const *line, size_t len, uint64_t next) ;

/* Rewrite the log of id from st, one line per recipient that is not pending (tmp file and
   rename, no fsync: a lost rewrite leaves the old log, which says the same). 1 or 0. */
extern int queue_state_compact (int qfd, char const *id, queue_state const *st, uint64_t next) ;

extern void queue_state_free (queue_state *st) ;

/* Format one log line into sa (appended, newline included; text's newlines and control
   characters made '_'). 1, or 0 (out of memory). */
extern int queue_line_done (stralloc *sa, size_t i, uint64_t when) ;
extern int queue_line_failed (stralloc *sa, size_t i, uint64_t when, char const *status, char const *text) ;
extern int queue_line_deferred (stralloc *sa, size_t i, uint64_t when, uint64_t next, uint32_t tries, uint32_t steps, char const *text) ;
extern int queue_line_bounced (stralloc *sa, uint64_t when, size_t const *idx, size_t n) ;
extern int queue_line_warned (stralloc *sa, uint64_t when) ;

#endif
