/* authfail: failed logins counted per client address across connections and processes, in
   one small file that every auth-check shares ($SLUICEDIR/authfail), locked (flock) while
   it is read and written. An address's failures are forgotten window seconds after its last
   one; while it has max of them or more, it is refused; each failure is slower than the last.

   The file: AUTHFAIL_SLOTS slots of 32 bytes, found by a hash of the address and probed
   AUTHFAIL_PROBE at a time: the address (16 bytes: IPv4 as ::ffff:a.b.c.d, IPv6 cut to its
   /64, which one host holds whole), then the first and the last failure (seconds since the
   epoch) and the count, little-endian 32-bit numbers; a last of 0 is a free slot. At most
   AUTHFAIL_SLOTS * 32 bytes, whatever the number of clients: a slot is taken back from the
   address whose last failure is oldest. */
#ifndef SLUICE_AUTHFAIL_H
#define SLUICE_AUTHFAIL_H
#include <stdint.h>
#include <time.h>

#define AUTHFAIL_SLOTS 4096
#define AUTHFAIL_PROBE 8
#define AUTHFAIL_DELAYMAX 30000    /* ms: the growing part of a delay stops here */

typedef struct authfail_policy_s authfail_policy ;
struct authfail_policy_s
{
  unsigned long max ;        /* failures before the address is refused; 0: never refused */
  unsigned long window ;     /* seconds after its last failure that an address is forgotten */
  unsigned long delay ;      /* ms added to the delay of a failure for each failure before it */
} ;
#define AUTHFAIL_POLICY_DEFAULT { .max = 10, .window = 900, .delay = 1000 }

typedef struct authfail_s authfail ;
struct authfail_s
{
  int fd ;
  unsigned char key[16] ;
} ;
#define AUTHFAIL_ZERO { .fd = -1, .key = { 0 } }

/* The key of a client address text (TCPREMOTEIP): 1, or 0 when ip is not an address (then
   nothing is counted). */
extern int authfail_key (unsigned char *key, char const *ip) ;

/* Open path (created mode 0660 when missing, never through a symbolic link) for the client
   ip. 1 open; 0 ip is not an address (nothing to count, a->fd stays -1); -1 error (errno). */
extern int authfail_open (authfail *a, char const *path, char const *ip) ;

/* The failures the address has now (0 when forgotten) in *count. 1 when it is refused
   (count >= max, max not 0); 0 when not; -1 error (errno). */
extern int authfail_blocked (authfail *a, authfail_policy const *p, time_t now, uint32_t *count) ;

/* Count one more failure of the address at now; its failures, this one included, in *count.
   1, or -1 (errno). */
extern int authfail_record (authfail *a, authfail_policy const *p, time_t now, uint32_t *count) ;

/* The delay in ms of a failure that makes count failures: base, plus p->delay for each
   failure before this one, that growing part at most AUTHFAIL_DELAYMAX. */
extern unsigned long authfail_delay (authfail_policy const *p, unsigned long base, uint32_t count) ;

extern void authfail_close (authfail *a) ;

#endif
