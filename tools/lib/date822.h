/* date822: dates as RFC 5322 wants them in headers ("Tue, 1 Dec 2026 22:32:27 +0000"). */
#ifndef SLUICE_DATE822_H
#define SLUICE_DATE822_H
#include <time.h>
#include <skalibs/stralloc.h>

/* Append the date of t, in UTC, to sa (not 0-terminated). 1, or 0 (out of memory). */
extern int date822_cat (stralloc *sa, time_t t) ;

#endif
