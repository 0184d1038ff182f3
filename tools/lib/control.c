#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/djbunix.h>
#include <skalibs/types.h>
#include "control.h"

char const *control_root (void)
{
  char const *s = getenv("SLUICEDIR") ;
  return s && *s ? s : "/var/sluice" ;
}

static int control_slurp (stralloc *sa, char const *name)
{
  char const *root = control_root() ;
  size_t rlen = strlen(root), nlen = strlen(name) ;
  char path[rlen + nlen + 10] ;
  memcpy(path, root, rlen) ;
  memcpy(path + rlen, "/control/", 9) ;
  memcpy(path + rlen + 9, name, nlen + 1) ;
  if (!openslurpclose(sa, path)) return errno == ENOENT ? 0 : -1 ;
  return 1 ;
}

static size_t trimmed (char const *s, size_t len)
{
  while (len && (s[len-1] == ' ' || s[len-1] == '\t' || s[len-1] == '\r')) len-- ;
  return len ;
}

int control_readline (stralloc *sa, char const *name, char const *dflt)
{
  stralloc tmp = STRALLOC_ZERO ;
  int r = control_slurp(&tmp, name) ;
  sa->len = 0 ;
  if (r < 0) { stralloc_free(&tmp) ; return -1 ; }
  if (!r)
  {
    stralloc_free(&tmp) ;
    if (dflt && !stralloc_cats(sa, dflt)) return -1 ;
    if (!stralloc_0(sa)) return -1 ;
    return 0 ;
  }
  {
    char *nl = memchr(tmp.s, '\n', tmp.len) ;
    size_t n = trimmed(tmp.s, nl ? (size_t)(nl - tmp.s) : tmp.len) ;
    r = stralloc_catb(sa, tmp.s, n) && stralloc_0(sa) ;
  }
  stralloc_free(&tmp) ;
  return r ? 1 : -1 ;
}

int control_readlines (stralloc *sa, char const *name)
{
  stralloc tmp = STRALLOC_ZERO ;
  size_t i = 0 ;
  int r = control_slurp(&tmp, name) ;
  sa->len = 0 ;
  if (r < 0) { stralloc_free(&tmp) ; return -1 ; }
  while (i < tmp.len)
  {
    char *nl = memchr(tmp.s + i, '\n', tmp.len - i) ;
    size_t end = nl ? (size_t)(nl - tmp.s) : tmp.len ;
    size_t n = trimmed(tmp.s + i, end - i) ;
    if (n && tmp.s[i] != '#')
      if (!stralloc_catb(sa, tmp.s + i, n) || !stralloc_0(sa)) { stralloc_free(&tmp) ; return -1 ; }
    i = end + 1 ;
  }
  stralloc_free(&tmp) ;
  return 1 ;
}

int control_readulong (unsigned long *u, char const *name, unsigned long dflt)
{
  stralloc sa = STRALLOC_ZERO ;
  int r = control_readline(&sa, name, 0) ;
  if (r < 0) { stralloc_free(&sa) ; return -1 ; }
  if (!r) *u = dflt ;
  else if (!sa.s[0] || sa.s[ulong_scan(sa.s, u)]) { stralloc_free(&sa) ; errno = EINVAL ; return -1 ; }
  stralloc_free(&sa) ;
  return 1 ;
}
