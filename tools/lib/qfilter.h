/* qfilter: both ends of a qmail-queue filter (dkim-sign, auth-results). It reads the message
   (fd 0) and the envelope (fd 1) whole, as queue-inject would, then hands the changed message
   on: to $NEXTQUEUE when set (exec'd, message and envelope in memory files), else to
   queue-injectd's socket (no process started), else by exec'ing queue-inject. */
#ifndef SLUICE_QFILTER_H
#define SLUICE_QFILTER_H
#include <stddef.h>
#include <skalibs/stralloc.h>

/* msg = all of fd 0; env = the envelope from fd 1 with its final \0 (checked as the queue
   checks it). QUEUE_OK, or the qmail-queue code to exit with. */
extern int qfilter_read (stralloc *msg, stralloc *env) ;

/* The envelope sender (after F, 0-terminated, "" for the null sender). */
extern char const *qfilter_sender (stralloc const *env) ;

/* Hand head[0..headlen) then msg[0..msglen) with env (final \0 included) to the queue.
   Returns the queue's exit code, or does not return (exec). */
extern int qfilter_handon (char const *head, size_t headlen, char const *msg, size_t msglen, char const *env, size_t envlen) ;

/* The header field of msg[0..len) that starts at *pos: its end (after the newline of its
   last continuation line) in *pos. Returns its start, or -1 (as size_t) at the end of the
   header (the empty line, or the end of msg). */
extern size_t qfilter_header_next (char const *msg, size_t len, size_t *pos) ;

/* 1 when the field at f (up to end) is named name (case-insensitive), 0 otherwise. */
extern int qfilter_header_is (char const *f, size_t len, char const *name) ;



/* The domain of the first From: address of the header of msg[0..len), lower case, in dom
   (0-terminated). 1 found; 0 no From: field, no address, or a domain that is not made of
   letters, digits, '-' and '.' only (never "..", never a leading dot). *nfrom gets the number
   of From: fields when not 0. */
extern int qfilter_from_domain (char const *msg, size_t len, stralloc *dom, unsigned int *nfrom) ;
#endif
