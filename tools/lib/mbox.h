/* mbox: append one message to an mbox file, or leave the file as it was. */
#ifndef SLUICE_MBOX_H
#define SLUICE_MBOX_H

/* Append ufline, rpline, dtline (each may be 0), then fd's message from its current offset
   to its end with lines matching ^>*From quoted by one more '>', a final newline if it
   lacked one and an empty line, to path (created 0600 when missing). The file is locked with
   both fcntl and flock (waiting at most locktimeout seconds) and fsynced. 1 on success;
   0 with errno (ETIMEDOUT: the lock was busy) and *what saying which step failed; then the
   file is cut back to its old length. A character device such as /dev/null is written
   without locking. */
extern int mbox_deliver (char const *path, int fd, char const *ufline, char const *rpline,
  char const *dtline, unsigned int locktimeout, char const **what) ;

#endif
