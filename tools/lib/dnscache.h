/* dnscache: whole DNS answers (as res_nsend gives them) kept in a long-lived process for as
   long as their TTL allows, so that a filter's worker does not ask again for every message
   the same DKIM key or DMARC record. A positive answer lives for the smallest TTL of its
   answer records; a negative one (NXDOMAIN, or no record of the type) for the SOA's negative
   TTL (RFC 2308: the smaller of the SOA record's TTL and its MINIMUM field) when the server
   sent one, else not at all; any other answer (SERVFAIL, REFUSED, truncated, malformed) is
   never kept. No entry lives past DNSCACHE_MAXTTL seconds. DNSCACHE_MAX entries at most: an
   expired one, else the oldest, makes room. */
#ifndef SLUICE_DNSCACHE_H
#define SLUICE_DNSCACHE_H
#include <stddef.h>
#include <stdint.h>

#define DNSCACHE_MAX 256
#define DNSCACHE_MAXTTL 3600
#define DNSCACHE_MAXLEN 4096   /* bytes of an answer at most; a bigger one is not kept */

/* The answer kept for (type, name) at time now (seconds, a monotonic clock), copied into
   buf[0..max): its length, or -1 when none is kept (or it does not fit). Names compare
   without case and without a final dot. */
extern int dnscache_get (uint16_t type, char const *name, unsigned char *buf, size_t max, uint64_t now) ;

/* Keep the answer ans[0..len) to (type, name), received at now, if it may be kept: how many
   seconds it will live (0: not kept). */
extern unsigned int dnscache_put (uint16_t type, char const *name, unsigned char const *ans, size_t len, uint64_t now) ;

/* The seconds of a monotonic clock. */
extern uint64_t dnscache_now (void) ;

/* Forget everything. */
extern void dnscache_clear (void) ;

#endif
