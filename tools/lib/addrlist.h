/* addrlist: the address lists of headers and command lines (RFC 5322 3.4: display names,
   comments, groups, angle brackets, quoted local parts, folded lines): each address found,
   in the queue's form, and qualified as qmail-inject does it (an address without '@' gets
   "@host", a domain without a dot gets ".domain"). Used by mail-inject and sendmail. */
#ifndef SLUICE_ADDRLIST_H
#define SLUICE_ADDRLIST_H
#include <stddef.h>
#include <skalibs/stralloc.h>

typedef struct addrlist_qual_s addrlist_qual ;
struct addrlist_qual_s
{
  char const *host ;            /* control/defaulthost, itself qualified */
  char const *domain ;          /* control/defaultdomain */
} ;

/* Parse s[0..len). When text is not 0, s with the qualifications inserted (everything else
   byte for byte) is appended to it. Each address is appended to addrs, 0-terminated, in the
   queue's form: comments, quotes and a source route removed, nothing else changed; "<>" and
   empty groups give none. 1; 0 on a syntax error with *why (static text; what was appended
   is then incomplete); -1 out of memory. */
extern int addrlist_parse (char const *s, size_t len, addrlist_qual const *q, stralloc *text, stralloc *addrs, char const **why) ;

/* s as a display name in a header: as it is when it is atoms and spaces, else a quoted
   string; control characters become spaces (a name cannot start a header line).
   Appended to sa. 1, or 0 (out of memory). */
extern int addrlist_phrase (stralloc *sa, char const *s) ;

/* s as a local part in a header: as it is when it is a dot-atom, else a quoted string.
   Appended to sa. 1, or 0 (out of memory). */
extern int addrlist_local (stralloc *sa, char const *s) ;

/* The envelope address addr (local@domain, or a bare local part) as a header writes it: the
   local part quoted when it is not a dot-atom. Appended to sa. 1, or 0 (out of memory). */
extern int addrlist_header (stralloc *sa, char const *addr) ;

#endif
