/* atomic: put a file in place so that readers see the old content or the new, never a mix,
   and the new content is on disk (file and directory fsynced) before success is reported. */
#ifndef SLUICE_ATOMIC_H
#define SLUICE_ATOMIC_H
#include <stddef.h>

/* fsync the directory dir (or, for dir_sync_parent, the one that holds path). 1 or 0+errno. */
extern int dir_sync (char const *dir) ;
extern int dir_sync_parent (char const *path) ;

/* fsync and close fd (open on tmp), rename tmp to path, fsync path's directory.
   1 on success; 0 with errno on failure, and then tmp has been removed. fd is always closed. */
extern int atomic_rename (int fd, char const *tmp, char const *path) ;

/* write s[0..len) to path.tmp.PID with the given mode, then atomic_rename it to path. */
extern int atomic_write (char const *path, char const *s, size_t len, unsigned int mode) ;

#endif
