/* listpost: a post to a mailing list from its arrival to its queue entry (the checks: loops,
   who may post; the header the subscribers see: the list's fields, the subject prefix with
   the post's number, From: rewritten for an author's strict DMARC policy, fields removed; the
   number; the archive; one queue entry for every subscriber), holding a post for the
   moderators, and what is made from the archive: digests, retrievals, the index. Shared by
   list-expand and list-manage; every function works in the list's directory. */
#ifndef SLUICE_LISTPOST_H
#define SLUICE_LISTPOST_H
#include <stdint.h>
#include <sys/types.h>
#include <skalibs/genalloc.h>
#include <skalibs/stralloc.h>
#include "listdir.h"

#define LISTPOST_SEND 0
#define LISTPOST_HOLD 1
#define LISTPOST_REFUSE 2

#define LISTPOST_DMARCTIMEOUT 5     /* seconds for the DMARC lookups of one post */

/* What to do with a post whose header is hdr (its fields) from the envelope sender:
   LISTPOST_SEND, LISTPOST_HOLD (for the moderators) or LISTPOST_REFUSE (*why: the reason,
   with a status code); -1 error (errno: a set could not be read). */
extern int listpost_decide (list const *l, char const *hdr, genalloc const *fields, char const *sender, char const **why) ;

/* Send the post on fd (seekable; from offset start) to the subscribers: dtline (a
   "Delivered-To: ..." line with its newline) on top, the list's header, a number, the
   archive, one queue entry; then the digest when one is due. Holds the list's lock. Returns
   0 sent, 100 or 111 with the reason in why (0-terminated). */
extern int listpost_send (list *l, int fd, off_t start, char const *dtline, stralloc *why) ;

/* Keep the post on fd for the moderators (mod/ID) and send them the request, with an
   address that accepts it and one that rejects it. 0, or 111 with why. */
extern int listpost_hold (list *l, int fd, off_t start, char const *sender, stralloc *why) ;

/* Send the digests due (force: every post since the last digest; else only when the
   digest's count of posts has come). The caller holds the list's lock. 0, or 111 with why. */
extern int listpost_digest (list *l, int force, stralloc *why) ;

/* The archive's file of post n, 0-terminated, into sa (emptied first). 1 or 0. */
extern int listpost_archpath (stralloc *sa, uint64_t n) ;

/* Send rcpt the posts from to to that are in the archive, as a MIME digest ("get" text), or
   their index ("index" text; index = 1). 1 sent, 0 none of them is in the archive (nothing
   sent), -1 error (why). */
extern int listpost_get (list *l, char const *rcpt, uint64_t from, uint64_t to, int index, stralloc *why) ;

#endif
