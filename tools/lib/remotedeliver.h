/* remotedeliver: the work of remote-deliver as a library: deliver a message by SMTP to the
   recipients of one domain, and say what became of each in a line of its own ("success N
   text", "failure N text", "deferral N text"), as doc/remote-deliver.8 describes. Used by
   remote-deliver (one delivery, then QUIT) and by queue-remote (one delivery after the
   other in one process, the SMTP session kept open between them for the next delivery to
   the same destination). One delivery at a time: the state is the module's own.
   A local problem (a control file that cannot be read or is malformed, no memory, a
   message that cannot be read) ends the process with strerr_die (111), as remote-deliver
   always did: the caller's caller treats the recipients without a line as deferred. */
#ifndef SLUICE_REMOTEDELIVER_H
#define SLUICE_REMOTEDELIVER_H
#include <stddef.h>

#define REMOTEDELIVER_RCPTMAX 65536   /* recipients in one delivery */

/* Where the lines go: s[0..len) is one or more complete lines, each ending with '\n', that
   are final (a success only after the server's 2xx to the data). */
typedef void remotedeliver_put_fn (char const *s, size_t len) ;

/* Read the control files (helohost, me, timeouts, outgoingip, smtproutes, tlsdestinations,
   tlscafile) once, for every delivery that follows; ignore SIGPIPE. Dies on a bad file. */
extern void remotedeliver_init (remotedeliver_put_fn *put) ;

/* 1 when the arguments make a delivery: a domain without blanks, control characters, '@',
   '<' or '>'; a sender without control characters (its domain as the domain); 1 to
   REMOTEDELIVER_RCPTMAX recipients, each without control characters and at domain
   (compared ignoring case). 0 otherwise: remote-deliver's bad usage. */
extern int remotedeliver_check (char const *domain, char const *sender, char const *const *rcpt, unsigned int n) ;

/* Deliver the message on fd (a regular file, positioned at the message's first byte; it is
   read from there to its end) to rcpt[0..n) at domain, from sender: exactly one line per
   recipient through put. With keep, a session left sound by the delivery is kept open
   (remotedeliver_session); without it, or when it will not do, QUIT. A kept session whose
   destination (mxroute_key) is this delivery's is used again, after an RSET: one found dead
   is closed and a new connection made, which is no failure of the host. */
extern void remotedeliver_run (int fd, char const *domain, char const *sender, char const *const *rcpt, unsigned int n, int keep) ;

/* The destination of the kept session ("" when none is kept), and the descriptor to watch
   for input while it is idle (-1 when none is kept). */
extern char const *remotedeliver_session (void) ;
extern int remotedeliver_sessionfd (void) ;

/* The kept session's descriptor is readable while idle: a server that speaks unasked (a
   421 before it closes) or closes: the session is closed. */
extern void remotedeliver_idleread (void) ;

/* QUIT the kept session, if any, and close it. */
extern void remotedeliver_quit (void) ;

#endif
