/* dmarc: the DMARC policy (RFC 7489) that the domain of an author's address publishes, for a
   mailing list that must decide whether to rewrite From: (a list that changes a post breaks
   its DKIM signature, and a receiver that applies p=reject would refuse every copy). The
   record is looked for at _dmarc.DOMAIN, then at the parents of DOMAIN down to two labels
   (the tree walk of DMARCbis, with no public suffix list): a parent's sp= applies when it
   has one, else its p=. Through tools/lib/dns ($DNSCACHEIP), under one deadline. */
#ifndef SLUICE_DMARC_H
#define SLUICE_DMARC_H
#include <skalibs/tai.h>

#define DMARC_NONE 0            /* no record, or p=none */
#define DMARC_QUARANTINE 1
#define DMARC_REJECT 2

/* The policy of domain: DMARC_*, or -1 when DNS could not tell (errno: ETIMEDOUT, EAGAIN,
   ...). */
extern int dmarc_policy (char const *domain, tain const *deadline) ;

/* The policy of one record's text ("v=DMARC1; p=reject; sp=none"): p=, or sp= when
   subdomain is 1 and the record has one. -1 when it is not a DMARC record. */
extern int dmarc_record (char const *txt, int subdomain) ;

#endif
