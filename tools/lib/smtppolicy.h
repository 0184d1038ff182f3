/* smtppolicy: the acceptance rules of an SMTP receiver, as qmail's control files state them:
   rcpthosts (+ morercpthosts.cdb) and badmailfrom. Lists are as control_readlines gives
   them: 0-terminated entries one after the other. Comparisons ignore ASCII case. */
#ifndef SLUICE_SMTPPOLICY_H
#define SLUICE_SMTPPOLICY_H
#include <stddef.h>
#include <cdb.h>

/* The domain of addr: what follows its last @, or "" when there is none. */
extern char const *smtppolicy_domain (char const *addr) ;

/* 1 when domain is in list (len bytes): an entry equal to it, or an entry ".suffix" that
   ends it ("example.com" in rcpthosts takes example.com; ".example.com" takes every host
   under it). 0 otherwise. */
extern int smtppolicy_hostlisted (char const *list, size_t len, char const *domain) ;

/* The same test against a cdb whose keys are lowercase domains and .suffixes
   (morercpthosts.cdb). 1 found, 0 not found, -1 read error (errno). */
extern int smtppolicy_hostincdb (struct cdb *c, char const *domain) ;

/* 1 when addr is refused by the badmailfrom list: an entry equal to the whole address, or an
   entry "@domain" equal to its @domain part. The null sender <> is never refused. */
extern int smtppolicy_badmailfrom (char const *list, size_t len, char const *addr) ;

#endif
