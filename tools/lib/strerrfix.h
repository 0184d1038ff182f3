/* strerrfix: forced into every compilation unit (-include, see GNUmakefile). skalibs 2.13's
   strerr_diefun, behind every strerr_diefuNx, prints "fatal: : unable to"; this restores
   "name: fatal: unable to ..." for those macros. Harmless once skalibs is fixed. */
#ifndef SLUICE_STRERRFIX_H
#define SLUICE_STRERRFIX_H
#include <skalibs/strerr.h>
#undef strerr_diefun
#define strerr_diefun(e, n, ...) strerr_diefn(e, (n)+1, "unable to ", __VA_ARGS__)
#endif
