/* fdpass: send and receive a descriptor with a few bytes over a unix socket (SCM_RIGHTS),
   blocking, retried on EINTR. */
#ifndef SLUICE_FDPASS_H
#define SLUICE_FDPASS_H
#include <stddef.h>
#include <sys/types.h>

/* Send s[0..len) (len at least 1) with fd attached. 1, or 0 (errno). */
extern int fdpass_send (int sock, int fd, char const *s, size_t len) ;

/* Receive at most max bytes into s, and the descriptor attached to them (close-on-exec) in
   *fd, or -1 when none came. The byte count; 0 at end of file; -1 on error (errno). */
extern ssize_t fdpass_recv (int sock, char *s, size_t max, int *fd) ;

#endif
