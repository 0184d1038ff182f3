/* fdpass: send and receive descriptors with a few bytes over a unix socket (SCM_RIGHTS),
   blocking, retried on EINTR. */
#ifndef SLUICE_FDPASS_H
#define SLUICE_FDPASS_H
#include <stddef.h>
#include <sys/types.h>

#define FDPASS_MAX 8   /* descriptors in one message, at most */

/* Send s[0..len) (len at least 1) with fd attached. 1, or 0 (errno). */
extern int fdpass_send (int sock, int fd, char const *s, size_t len) ;

/* Send s[0..len) with fds[0..n) attached (1 <= n <= FDPASS_MAX). 1, or 0 (errno). */
extern int fdpass_sendv (int sock, int const *fds, unsigned int n, char const *s, size_t len) ;

/* Receive at most max bytes into s, and the descriptor attached to them (close-on-exec) in
   *fd, or -1 when none came; any more attached are closed. The byte count; 0 at end of
   file; -1 on error (errno). */
extern ssize_t fdpass_recv (int sock, char *s, size_t max, int *fd) ;

/* The same with up to maxfds descriptors kept in fds[0..*n), in the order they were sent
   (close-on-exec); any more are closed. */
extern ssize_t fdpass_recvv (int sock, char *s, size_t max, int *fds, unsigned int maxfds, unsigned int *n) ;

#endif
