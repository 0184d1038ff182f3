/* listmsg: what list-expand and list-manage do with messages: read a header and walk its
   fields, make the list's own messages (a text of the list with the header fields every one
   carries), and hand messages to the queue (qqueue: queue-injectd's socket, else
   queue-inject, or $QMAILQUEUE) with every recipient in one queue entry, or in as few as the
   queue's limit on an envelope allows. */
#ifndef SLUICE_LISTMSG_H
#define SLUICE_LISTMSG_H
#include <stddef.h>
#include <sys/types.h>
#include <skalibs/genalloc.h>
#include <skalibs/stralloc.h>
#include "listdir.h"
#include "qqueue.h"

#define LISTMSG_HEADERMAX 1048576

/* Read the header of the message on fd (seekable) from offset start: its fields into hdr (up
   to the empty line, which is not kept; all of the message when it has none; a last line
   without its newline gets one), *body = the offset where the body starts. 1; 0 with EFBIG
   past LISTMSG_HEADERMAX; -1 read error. */
extern int listmsg_header (int fd, off_t start, stralloc *hdr, off_t *body) ;

typedef struct listmsg_field_s listmsg_field ;
struct listmsg_field_s
{
  size_t off ;          /* where the field starts in the header */
  size_t len ;          /* its bytes, continuation lines and final newline included */
  size_t namelen ;      /* the length of its name (before the colon) */
} ;

/* The fields of hdr[0..len) appended to fields (a genalloc of listmsg_field); a line that
   starts no field and continues none (a "From " line on top) is left out. 1, or 0 (out of
   memory). */
extern int listmsg_fields (char const *hdr, size_t len, genalloc *fields) ;

/* Is field f named name (any case)? 1 or 0. */
extern int listmsg_is (char const *hdr, listmsg_field const *f, char const *name) ;

/* The value of f: after the colon and the blanks after it, without the final newline (and
   CR); continuation lines are kept. */
extern void listmsg_value (char const *hdr, listmsg_field const *f, char const **v, size_t *n) ;

/* The index of the first field named name, or -1. */
extern long listmsg_find (char const *hdr, genalloc const *fields, char const *name) ;

/* Was the message sent by a program (RFC 3834: Auto-Submitted other than "no"; Precedence
   bulk, junk or list)? Such messages get no answer. 1 or 0. */
extern int listmsg_automatic (char const *hdr, genalloc const *fields) ;

/* The first address of an address field's value v[0..n) (in <>, else the bare address;
   comments dropped), normalised (addrset_norm), appended to addr; its display name (quotes
   removed, blanks trimmed) to name when name is not 0. 1, 0 none found, -1 out of memory. */
extern int listmsg_addr (char const *v, size_t n, stralloc *addr, stralloc *name) ;

/* The header fields the list's messages carry: List-Id, List-Help, List-Subscribe,
   List-Unsubscribe, and for a post (post = 1) List-Post, List-Archive (archived lists),
   List-Owner (with an owner) and Precedence: list. Appended. 1 or 0. */
extern int listmsg_listfields (list const *l, stralloc *sa, int post) ;

/* The start of a message of the list: From (LIST-help@HOST), To (rcpt, or the list when 0),
   Date, Message-ID, Reply-To when replyto is not 0, Auto-Submitted (autosub: "auto-replied"
   for an answer to a request, "auto-generated" otherwise), MIME-Version, the list's fields.
   Appended. 1 or 0. */
extern int listmsg_head (list const *l, stralloc *sa, char const *rcpt, char const *replyto, char const *autosub) ;

/* A whole text message (list_text name with tags t) to rcpt, an answer to a request, into
   sa. 1, or 0 (errno). */
extern int listmsg_textmsg (list const *l, stralloc *sa, char const *name, list_tags const *t, char const *rcpt, char const *replyto) ;

/* Split a text made by list_text at its empty line: its fields, newline-terminated, are
   text[0..*hlen); its body starts at *body. */
extern void listmsg_textsplit (stralloc const *text, size_t *hlen, size_t *body) ;

/* Write the whole message into q: 1 done; 0 it could not (a read failed: errno), and the
   entry is dropped; -1 the queue stopped reading (qqueue_write failed): its code tells. */
typedef int listmsg_writer (qqueue *q, void *ctx) ;

/* Hand a message to the queue from sender to the recipients rcpts[0..len) (records
   "Taddr\0"), written by w once per queue entry: one, unless the envelope passes the queue's
   limit. 0 queued (also with no recipient: nothing to do); a qmail-queue code (qqueue_permanent
   tells which kind); -1 the writer failed (errno); -2 the queue could not be reached (errno).
   SIGPIPE must be ignored. */
extern int listmsg_queue (char const *sender, char const *rcpts, size_t len, listmsg_writer *w, void *ctx) ;

/* The same for the message msg[0..len) in memory, to the recipients rcpts[0..rlen) (records
   "Taddr\0"), or to the one recipient rcpt. */
extern int listmsg_sendall (char const *sender, char const *rcpts, size_t rlen, char const *msg, size_t len) ;
extern int listmsg_send (char const *sender, char const *rcpt, char const *msg, size_t len) ;

/* Copy fd from offset off to its end into q. 1, 0 a read failed (errno), -1 the queue
   stopped reading. */
extern int listmsg_copy (qqueue *q, int fd, off_t off) ;

#endif
