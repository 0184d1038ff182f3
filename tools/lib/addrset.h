/* addrset: a set of mail addresses on disk (a list's subscribers, moderators, ...), cheap to
   change and to check at a million addresses. The set is a directory of at most
   ADDRSET_BUCKETS files named by a hash of the address (000 to 3ff); each holds records
   "Taddr\0", sorted, the form a queue envelope has, so that the envelope of a post is the
   files put end to end. Adding, removing or checking an address reads one bucket (a
   thousandth of the set); each bucket changes atomically (a new file, fsynced, renamed, the
   directory fsynced), changes are serialised by a lock on DIR/lock, readers take no lock.
   Addresses are kept in lowercase. Used by list-expand and list-manage. */
#ifndef SLUICE_ADDRSET_H
#define SLUICE_ADDRSET_H
#include <stddef.h>
#include <skalibs/stralloc.h>

#define ADDRSET_BUCKETS 1024
#define ADDRSET_LOCALMAX 64
#define ADDRSET_ADDRMAX 320

/* Append addr[0..len) in lowercase to sa, 0-terminated, when it is an address a list keeps:
   local@domain, the local part a dot-atom (RFC 5322) of at most 64 bytes, the domain a name
   of at least two labels of letters, digits and '-', the whole at most ADDRSET_ADDRMAX bytes.
   1 appended; 0 not an address (sa unchanged); -1 out of memory. */
extern int addrset_norm (stralloc *sa, char const *addr, size_t len) ;

/* The bucket of a normalised address: 0 to ADDRSET_BUCKETS-1. */
extern unsigned int addrset_bucket (char const *addr) ;

/* Is the normalised addr in the set dir? 1 yes, 0 no (also when dir does not exist), -1 error
   (errno). */
extern int addrset_has (char const *dir, char const *addr) ;

/* Add (add = 1) or remove (add = 0) the normalised addresses addrs[0..len) (each
   0-terminated; any order; repeats allowed) to or from the set dir, made when missing.
   *changed: how many were added or removed (those already in, or not in, do not count).
   1 done; 0 error (errno): each bucket is then the old one or the new one. */
extern int addrset_change (char const *dir, int add, char const *addrs, size_t len, size_t *changed) ;

/* Append every record "Taddr\0" of the set dir to sa, bucket by bucket (an absent dir: none).
   1 or 0 (errno). */
extern int addrset_cat (char const *dir, stralloc *sa) ;

/* Call f on each address of the set (bucket 000 first, each bucket in order) until it
   returns 0. 1 all seen, 0 stopped by f, -1 error (errno). */
extern int addrset_each (char const *dir, int (*f) (char const *addr, void *ctx), void *ctx) ;

#endif
