#include <errno.h>
#include <string.h>
#include <strings.h>
#include "smtppolicy.h"

char const *smtppolicy_domain (char const *addr)
{
  char const *at = strrchr(addr, '@') ;
  return at ? at + 1 : "" ;
}

static int inlist (char const *list, size_t len, char const *s)
{
  size_t i = 0 ;
  while (i < len)
  {
    if (!strcasecmp(list + i, s)) return 1 ;
    i += strlen(list + i) + 1 ;
  }
  return 0 ;
}

int smtppolicy_hostlisted (char const *list, size_t len, char const *domain)
{
  char const *p ;
  if (!*domain) return 0 ;
  if (inlist(list, len, domain)) return 1 ;
  for (p = strchr(domain, '.') ; p ; p = strchr(p + 1, '.'))
    if (inlist(list, len, p)) return 1 ;
  return 0 ;
}

static int incdb (struct cdb *c, char const *s)
{
  size_t n = strlen(s), i ;
  char key[n ? n : 1] ;
  int r ;
  for (i = 0 ; i < n ; i++) key[i] = s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i] ;
  r = cdb_find(c, key, n) ;
  if (r < 0) { errno = EIO ; return -1 ; }
  return r > 0 ;
}

int smtppolicy_hostincdb (struct cdb *c, char const *domain)
{
  char const *p ;
  int r ;
  if (!*domain || strlen(domain) > 255) return 0 ;
  r = incdb(c, domain) ;
  if (r) return r ;
  for (p = strchr(domain, '.') ; p ; p = strchr(p + 1, '.'))
  {
    r = incdb(c, p) ;
    if (r) return r ;
  }
  return 0 ;
}

int smtppolicy_badmailfrom (char const *list, size_t len, char const *addr)
{
  char const *at = strrchr(addr, '@') ;
  if (!*addr) return 0 ;
  if (inlist(list, len, addr)) return 1 ;
  return at && inlist(list, len, at) ;
}
