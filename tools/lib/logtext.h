/* logtext: make text from the network safe to put in a log line. */
#ifndef SLUICE_LOGTEXT_H
#define SLUICE_LOGTEXT_H
#include <stddef.h>
#include <skalibs/stralloc.h>

/* Append s[0..len) to sa: bytes outside printable ASCII (0x20-0x7e), and any byte found in
   also (may be 0), become '?'; at most max bytes are kept, then "..." marks the cut.
   1 on success, 0 on allocation failure. */
extern int logtext_cat (stralloc *sa, char const *s, size_t len, size_t max, char const *also) ;

#endif
