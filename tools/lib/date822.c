#include <skalibs/types.h>
#include "date822.h"

int date822_cat (stralloc *sa, time_t t)
{
  static char const days[] = "SunMonTueWedThuFriSat" ;
  static char const months[] = "JanFebMarAprMayJunJulAugSepOctNovDec" ;
  struct tm tm ;
  char fmt[UINT_FMT] ;
  char hms[8] ;
  if (!gmtime_r(&t, &tm)) return 0 ;
  hms[0] = '0' + tm.tm_hour / 10 ; hms[1] = '0' + tm.tm_hour % 10 ; hms[2] = ':' ;
  hms[3] = '0' + tm.tm_min / 10 ; hms[4] = '0' + tm.tm_min % 10 ; hms[5] = ':' ;
  hms[6] = '0' + tm.tm_sec / 10 ; hms[7] = '0' + tm.tm_sec % 10 ;
  return stralloc_catb(sa, days + 3 * tm.tm_wday, 3) && stralloc_catb(sa, ", ", 2)
    && stralloc_catb(sa, fmt, uint_fmt(fmt, tm.tm_mday)) && stralloc_catb(sa, " ", 1)
    && stralloc_catb(sa, months + 3 * tm.tm_mon, 3) && stralloc_catb(sa, " ", 1)
    && stralloc_catb(sa, fmt, uint_fmt(fmt, tm.tm_year + 1900)) && stralloc_catb(sa, " ", 1)
    && stralloc_catb(sa, hms, 8) && stralloc_catb(sa, " +0000", 6) ;
}
