/* unixlisten: a listening unix stream socket at a path, for the local daemons
   (queue-injectd, userdb-mysqld). */
#ifndef SLUICE_UNIXLISTEN_H
#define SLUICE_UNIXLISTEN_H

/* Bind a non-blocking, close-on-exec SOCK_STREAM socket to path (an old socket there is
   removed first), give it mode (set through the umask while binding, so that it is never
   reachable with a wider mode, then with chmod) and listen. The descriptor, or -1 with errno
   and *failed naming the step that failed ("make a socket", "remove the old socket ",
   "bind to ", "set the mode of ", "listen on ": the path is to follow), or with errno
   ENAMETOOLONG and *failed "socket path too long: ". */
extern int unix_listen (char const *path, unsigned int mode, char const **failed) ;

/* The same, or the program dies: 100 for a path too long, 111 for the rest, the step and the
   path in its message. */
extern int unix_listen_or_die (char const *path, unsigned int mode) ;

#endif
