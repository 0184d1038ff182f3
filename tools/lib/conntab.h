/* conntab: open connections per client address, kept by a server's parent; fixed size,
   no allocation after conntab_init, O(1) per operation (keyed hash, open addressing).
   The tables are not inherited by forked children (MADV_DONTFORK): a child must not read
   them, and the parent's updates after a fork cost no copy-on-write. */
#ifndef SLUICE_CONNTAB_H
#define SLUICE_CONNTAB_H
#include <stdint.h>
#include <sys/types.h>

typedef struct conntab_ip_s conntab_ip ;
struct conntab_ip_s { char ip[16] ; unsigned int count ; } ;   /* count 0: free slot */
typedef struct conntab_kid_s conntab_kid ;
struct conntab_kid_s { pid_t pid ; char ip[16] ; } ;           /* pid 0: free slot */

typedef struct conntab_s conntab ;
struct conntab_s
{
  conntab_ip *ips ;
  conntab_kid *kids ;
  unsigned int mask ;       /* both tables have mask + 1 slots, at least twice max */
  unsigned int max ;
  unsigned int n ;          /* children recorded now */
  uint64_t key[2] ;         /* random: clients cannot choose colliding addresses */
} ;
#define CONNTAB_ZERO { .ips = 0, .kids = 0, .mask = 0, .max = 0, .n = 0, .key = { 0, 0 } }

/* Room for max children at once (1 <= max <= 2^24). 1, or 0 (errno: EINVAL, ENOMEM). */
extern int conntab_init (conntab *t, unsigned int max) ;

/* Record that child pid (> 0, not recorded yet) serves a client at ip (16 bytes, IPv4 as
   v4-mapped). The number of connections from ip including this one; 0 if max are recorded. */
extern unsigned int conntab_add (conntab *t, char const *ip, pid_t pid) ;

/* Forget child pid. The connections left from its address; -1 if pid was not recorded. */
extern int conntab_remove (conntab *t, pid_t pid) ;

/* The connections open now from ip (16 bytes). */
extern unsigned int conntab_count (conntab const *t, char const *ip) ;

extern void conntab_free (conntab *t) ;

#endif
