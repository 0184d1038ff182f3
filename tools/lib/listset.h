/* listset: a list's sets of addresses (subscribers, digesters, moderators, allow) where the
   list keeps them: addrset directories in the list directory, or, when the list directory
   has a file "sql", rows of the MariaDB database that userdb-mysqld(8) serves, asked on its
   socket with a deadline (sluice-list(5), sluice-mysql(5)). The functions are addrset's
   (same arguments, results and errors); they work in the current directory, the list's. A
   database that cannot answer is an error (-1 or 0 with errno), never an empty set. */
#ifndef SLUICE_LISTSET_H
#define SLUICE_LISTSET_H
#include <stddef.h>
#include <skalibs/stralloc.h>

#define LIST_SQL "sql"          /* the file: the daemon's socket, then the list's name */
#define LISTSET_BATCH 64        /* addresses in one change request */

/* Where the list in the current directory keeps its sets: 1 SQL, 0 addrset directories,
   -1 the file sql cannot be read or is wrong (errno; EINVAL). */
extern int listset_sql (void) ;

extern int listset_has (char const *set, char const *addr) ;
extern int listset_change (char const *set, int add, char const *addrs, size_t len, size_t *changed) ;
extern int listset_cat (char const *set, stralloc *sa) ;
extern int listset_each (char const *set, int (*f) (char const *addr, void *ctx), void *ctx) ;

/* The reason the database gave for the last failure, or "" (0-terminated). */
extern char const *listset_why (void) ;

/* Make the table of the lists' sets when missing, through the socket sock: 1, or 0 (errno;
   listset_why() says more). */
extern int listset_init (char const *sock) ;

#endif
