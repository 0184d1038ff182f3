/* resident: the worker's side of tcpsrv's resident mode (tcpsrv -w, doc/tcpsrv.1): a server
   program started once that serves connection after connection, instead of one process
   started per connection. tcpsrv still accepts, applies the rules and the limits, and
   computes each connection's environment; the worker only serves.
   The protocol (version 1), on a SOCK_SEQPACKET unix socket whose descriptor is in
   $RESIDENTFD, one message per record:
     worker -> tcpsrv   "hello 1"   once, at start: speaks version 1, ready for a connection
     tcpsrv -> worker   "C" mods    a connection, its socket attached (SCM_RIGHTS); mods are
                                    the changes to the worker's start environment, as
                                    env_addmodif writes them: "NAME=value\0" sets, "NAME\0"
                                    unsets, the last one of a name wins. Up to RESIDENT_FDMAX
                                    more descriptors may follow the socket: the worker gets
                                    them on 3, 4, ... in order (tls-wrap -s as the parent of a
                                    resident server passes SSLCTLFD=3, SSLREADFD=SSLWRITEFD=4
                                    so); tcpsrv passes none
     worker -> tcpsrv   "done N"    the connection is closed and nothing of it is left; N
                                    (0 to 255) is the exit code it would have had; ready again
     end of file                    from tcpsrv: no more connections, the worker exits 0
   A worker that ends a connection any other way simply exits: tcpsrv counts the connection
   ended then, and starts another worker. */
#ifndef SLUICE_RESIDENT_H
#define SLUICE_RESIDENT_H
#include <stddef.h>

#define RESIDENT_FDVAR "RESIDENTFD"
#define RESIDENT_HELLO "hello 1"
#define RESIDENT_MSGMAX 65536     /* bytes of a connection message, its "C" included */
#define RESIDENT_FDMAX 4          /* descriptors of a connection after its socket */
#define RESIDENT_FDLOW 16         /* the worker's socket is moved to this number or above */

typedef struct resident_s resident ;
struct resident_s
{
  int fd ;                  /* the socket to tcpsrv */
  int hello ;               /* said hello already */
  int active ;              /* a connection is on fds 0 and 1 */
  char const **base ;       /* the start environment, RESIDENTFD removed, 0-terminated */
  char const **envp ;       /* the connection's environment: environ points here */
  size_t envmax ;           /* entries envp has room for */
  char *msg ;               /* the connection's message: its variables point into it */
  size_t msglen ;
  unsigned int nfds ;       /* descriptors the connection brought after its socket, on 3... */
  int keep[2] ;             /* descriptors of the worker's own that resident_next keeps open
                               (tls-wrap's sockets to its resident prog and key reader), or -1 */
} ;
#define RESIDENT_ZERO { .fd = -1, .hello = 0, .active = 0, .base = 0, .envp = 0, .envmax = 0, .msg = 0, .msglen = 0, .nfds = 0, .keep = { -1, -1 } }

/* Is this process a resident worker? 1: yes, r is set up and environ is the start
   environment without RESIDENTFD; 0: no RESIDENTFD, serve fds 0 and 1 once, as usual;
   -1 (errno): RESIDENTFD is set but cannot be used: EINVAL (not a descriptor number, not a
   SOCK_SEQPACKET unix socket), EPERM (the other end of the socket is not this process's
   parent: a program between tcpsrv and this one forked, and tcpsrv's connections must not
   skip what that program does for each of them), ENOMEM. The socket is moved to
   RESIDENT_FDLOW or above, out of the way of the descriptors a connection brings. */
extern int resident_init (resident *r) ;

/* End the connection being served, if any, and wait for the next. Ending it: fds 0 and 1
   become /dev/null (the client sees the end when no other copy is left), the connection's
   variables are wiped and environ is the start environment again; then, always, every
   descriptor above 2 is closed except r's socket and r->keep, so that none is carried from one
   connection to the next. Then "hello 1" the first time, "done status" after. Returns 1: the
   next connection is on fds 0 and 1 (blocking, as tcpsrv accepted it), the r->nfds
   descriptors that came with it on 3, 4, ... (not close-on-exec), and environ is the start
   environment changed by its variables; 0: tcpsrv has no more connections (exit 0);
   -1 (errno): a failed call, or EPROTO for a message that breaks the protocol. */
extern int resident_next (resident *r, unsigned int status) ;

/* 1 when mods[0..len) is a well-formed list of changes: strings ending in \0, none empty,
   none starting with '='. */
extern int resident_mods_valid (char const *mods, size_t len) ;

/* The entries an environment built from base and mods[0..len) needs, its final 0 included
   (base 0-terminated). */
extern size_t resident_envp_size (char const *const *base, char const *mods, size_t len) ;

/* Fill envp (resident_envp_size entries) with base changed by mods[0..len): the variables
   of base no change names, in order, then each variable mods sets and no later change of
   its name unsets or sets again. The strings are base's and mods', not copied. */
extern void resident_envp (char const **envp, char const *const *base, char const *mods, size_t len) ;

/* 1 when the process pid runs argv (its /proc/pid/cmdline): a worker that said hello is the
   program started, not one that a program in between executed after doing its own part. */
extern int resident_is_prog (int pid, char const *const *argv) ;

#endif
