/* queue-inject: put a message into the queue through the qmail-queue interface: the message
   on fd 0, the envelope on fd 1 (Fsender\0 Trcpt\0 ... \0). Exits 0 only once the message
   is on disk in todo/ and queue-run has been woken; any other exit leaves nothing queued.
   The owner of the queue writes it directly; anybody else hands the message to
   queue-injectd, which writes it as the owner. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include "dotqmail.h"
#include "qqueue.h"
#include "queue.h"

#define USAGE "queue-inject"
#define MEMMAX 262144           /* a message larger than this waits in a temporary file */
#define TIMEOUT 86400           /* as qmail-queue: a caller that never finishes gets 52 */

static char buf[65536] ;

static void timeout (int sig)
{
  (void)sig ;
  _exit(QUEUE_TIMEOUT) ;
}

/* the message from fd 0: in mem, or (past MEMMAX) all of it in *spill, rewound */
static int read_message (stralloc *mem, int *spill)
{
  *spill = -1 ;
  for (;;)
  {
    ssize_t r ;
    if (!stralloc_readyplus(mem, 65536)) return QUEUE_NOMEM ;
    r = read(0, mem->s + mem->len, 65536) ;
    if (r < 0) { if (errno == EINTR) continue ; return QUEUE_READ ; }
    if (!r) break ;
    mem->len += r ;
    if (mem->len > MEMMAX) break ;
  }
  if (mem->len <= MEMMAX) return QUEUE_OK ;
  *spill = dotqmail_tmpfile() ;
  if (*spill < 0) return QUEUE_WRITE ;
  if (allwrite(*spill, mem->s, mem->len) < mem->len) return QUEUE_WRITE ;
  mem->len = 0 ;
  for (;;)
  {
    ssize_t r = read(0, buf, sizeof buf) ;
    if (r < 0) { if (errno == EINTR) continue ; return QUEUE_READ ; }
    if (!r) break ;
    if (allwrite(*spill, buf, r) < (size_t)r) return QUEUE_WRITE ;
  }
  if (lseek(*spill, 0, SEEK_SET) < 0) return QUEUE_READ ;
  return QUEUE_OK ;
}

/* the message's pieces, from memory then from the spill file, to put(ctx, s, len) */
static int send_message (stralloc const *mem, int spill, int (*put) (void *, char const *, size_t), void *ctx)
{
  int code ;
  if (spill < 0) return mem->len ? (*put)(ctx, mem->s, mem->len) : QUEUE_OK ;
  for (;;)
  {
    ssize_t r = read(spill, buf, sizeof buf) ;
    if (r < 0) { if (errno == EINTR) continue ; return QUEUE_READ ; }
    if (!r) return QUEUE_OK ;
    code = (*put)(ctx, buf, r) ;
    if (code) return code ;
  }
}

static int put_direct (void *w, char const *s, size_t len)
{
  return queue_write_data(w, s, len) ;
}

static int put_socket (void *q, char const *s, size_t len)
{
  /* a refusal shows in the answer that qqueue_finish reads */
  return qqueue_write(q, s, len) ? QUEUE_OK : -1 ;
}

int main (int argc, char const *const *argv)
{
  stralloc mem = STRALLOC_ZERO, env = STRALLOC_ZERO, path = STRALLOC_ZERO, rcv = STRALLOC_ZERO ;
  struct stat st ;
  char const *proto = getenv("PROTO") ;
  int spill, qfd, code ;
  PROG = "queue-inject" ;
  (void)argv ;
  if (argc > 1) strerr_dieusage(100, USAGE) ;
  sig_ignore(SIGPIPE) ;
  signal(SIGALRM, &timeout) ;
  alarm(TIMEOUT) ;

  code = read_message(&mem, &spill) ;
  if (code) return code ;
  code = queue_envelope_read(1, &env) ;
  if (code) return code ;
  {
    size_t nrcpt ;
    code = queue_envelope_check(env.s, env.len, &nrcpt) ;
    if (code) return code ;
  }

  if (!queue_path(&path)) return QUEUE_NOMEM ;
  qfd = queue_open(path.s) ;
  if (qfd < 0)
  {
    strerr_warnwu2sys("open the queue ", path.s) ;
    return QUEUE_DIR ;
  }
  if (fstat(qfd, &st) < 0) return QUEUE_DIR ;

  if (st.st_uid == geteuid())
  {
    /* the queue is ours: write it */
    queue_writer *w = malloc(sizeof *w) ;
    if (!w) return QUEUE_NOMEM ;
    /* a network server (UCSPI: PROTO set) writes its own Received: line */
    if (!(proto && *proto) && !queue_received_local(&rcv, getpid(), getuid())) return QUEUE_NOMEM ;
    code = queue_write_begin(w, qfd, env.s, env.len, getuid(), getpid(), rcv.len ? rcv.s : 0) ;
    if (!code) code = send_message(&mem, spill, &put_direct, w) ;
    if (!code) code = queue_write_commit(w) ;
    else queue_write_abort(w) ;
    return code ;
  }

  /* somebody else's queue: queue-injectd writes it as its owner */
  {
    qqueue q = QQUEUE_ZERO ;
    int fd = qqueue_connect() ;
    if (fd < 0)
    {
      strerr_warnwu3sys("connect to queue-injectd at ", path.s, "/inject (the queue belongs to another user)") ;
      return QUEUE_DIR ;
    }
    if (!qqueue_hello(fd, env.s, env.len - 1)) { close(fd) ; return QUEUE_READ ; }
    q.msgfd = fd ;
    code = send_message(&mem, spill, &put_socket, &q) ;
    /* a message we could not read back whole is never committed: closing drops it */
    if (code > 0) { qqueue_abort(&q) ; return code ; }
    return qqueue_finish(&q) ;
  }
}
