/* lrout: log-report's three forms of one report: text for a person, JSON for a program,
   one self-contained HTML page with inline SVG charts (no script, nothing fetched). */
#ifndef SLUICE_LROUT_H
#define SLUICE_LROUT_H
#include <stdint.h>
#include "lrtab.h"

/* the counters of each table */
enum { SV_CONN, SV_DENYRULE, SV_DENYLIMIT, SV_LIMIT, SV_CHILDFAIL, SV_RBLDENY, SV_ACCEPT,
       SV_BYTES, SV_REJECT, SV_AUTHOK, SV_AUTHFAIL, SV_CUT, SV_TLSOK, SV_TLSFAIL, SV_POPQUIT,
       SV_POPEND, SV_POPRETR, SV_POPBYTES, SV_POPDELE, SV_FULL, SV_POP, SV_N } ;      /* by service */
enum { CL_CONN, CL_DENY, CL_RBL, CL_ACCEPT, CL_REJECT, CL_AUTHFAIL, CL_N } ;   /* by client */
enum { HR_CONN, HR_DENY, HR_ACCEPT, HR_REJECT, HR_OK, HR_DEFER, HR_FAIL, HR_AUTHFAIL,
       HR_QMAX, HR_QSET, HR_N } ;                                           /* by hour */
enum { DM_OK, DM_DEFER, DM_FAIL, DM_N } ;                                   /* by domain */
enum { RB_DENY, RB_TAG, RB_FAIL, RB_N } ;                                   /* by DNS list */

/* the single numbers */
enum { LR_READ, LR_USED, LR_FOREIGN, LR_MALFORMED, LR_UNSTAMPED, LR_OUTSIDE, LR_SKIPPEDFILES,
       LR_QNEW, LR_QEND, LR_QBYTES, LR_BOUNCES, LR_DELAYWARN, LR_DBLBOUNCE, LR_FOLLOWED,
       LR_LOCAL, LR_UNSEEN, LR_LEFTOVER, LR_DOK, LR_DDEFER, LR_DFAIL, LR_DORPHAN,
       LR_RESTARTS, LR_FIRST, LR_LAST, LR_WORST, LR_QMAX, LR_QMAXAT, LR_QKNOWN, LR_QUEUE,
       LR_N } ;

typedef struct lrreport_s lrreport ;
struct lrreport_s
{
  unsigned int top ;          /* rows of each "top" list */
  uint64_t start, end ;       /* -s and -e, ns since 1970; 0: not given */
  lrtab const *svc, *clients, *senders, *rcptdoms, *rejects, *rbl, *ends, *authreasons,
    *authusers, *doms, *dreasons, *warns, *hours ;
  lrhist const *delays ;
  uint64_t n[LR_N] ;          /* times in ns since 1970 */
  char const *worstid, *worstdom ;
} ;

/* on buffer_1 */
extern void lrout_text (lrreport const *r) ;
extern void lrout_json (lrreport const *r) ;
extern void lrout_html (lrreport const *r) ;

#endif
