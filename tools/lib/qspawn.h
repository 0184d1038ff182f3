/* qspawn: run a program from a child that shares the caller's memory until its exec
   (clone with CLONE_VM, without CLONE_VFORK). Like vfork, nothing is copied: no page
   tables, no copy-on-write faults afterwards. Unlike vfork, the caller does not wait for
   the exec: it goes on with its own work while the kernel loads the program, on another
   CPU if there is one. Only one child at a time loads so: while one does, the next start
   waits for its own exec, as vfork does.
   The price is that the child runs on the caller's memory while the caller runs too. So
   the child calls no libc function (errno, locks and malloc state are the caller's): it
   makes raw system calls, reads only what qspawn_go copied into its slot and what the
   request points to, and writes only its slot. Each slot holds one child's stack and the
   memory for what it reads; the kernel frees the slot (CLONE_CHILD_CLEARTID) when the
   child's exec has replaced its memory, or when it exits.
   Supported on x86-64 and arm64 Linux; elsewhere qspawn_mem always returns 0. */
#ifndef SLUICE_QSPAWN_H
#define SLUICE_QSPAWN_H
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#define QSPAWN_SLOTS 16
#define QSPAWN_LOGMAX 4096    /* bytes of log text the child writes before its exec */

typedef struct qspawn_req_s qspawn_req ;
struct qspawn_req_s
{
  char const *path ;          /* the file to run; 0: only the search below */
  char const *name ;          /* if not 0: when path is gone (ENOENT), look for name in */
  char const *pathvar ;       /* ... the directories of pathvar (PATH's syntax), in order,
                                 as skalibs' mexec does: empty entries skipped */
  char const *const *argv ;
  char const *const *envp ;
  int fd ;                    /* moved to the child's fds 0 and 1: 2 or more, and
                                 close-on-exec, since the child does not close it */
  sigset_t const *mask ;      /* the child's signal mask when it execs (not 0); until
                                 then every signal is blocked in the child */
  char const *log ;           /* if loglen: written to fd 2 before the exec, in one write, */
  size_t loglen ;             /* with the child's pid put in at offsets pidat[0..npid) */
  size_t pidat[2] ;           /* (ascending, at most loglen); a dead log pipe costs the
                                 child nothing: it takes its own SIGPIPE */
  unsigned int npid ;
} ;

/* The slots are the caller's statics: one thread only may use qspawn.
   Linux 5.16 or later is assumed: before it, a child dumping core before its exec would
   take the caller with it (they share memory); the child's blocked signals make that
   nearly impossible, but not a crash of its own. */

/* Memory of a free slot, *len bytes, for what the child must read and nothing else
   provides: the environment array and strings, typically. It is the caller's until it
   calls qspawn_go, then the child's until the kernel frees it. 0 when no slot is free
   (each child holds one until its exec: only a burst of starts fills them) or qspawn
   cannot work here: the caller then starts the program another way. */
extern char *qspawn_mem (size_t *len) ;

/* Start the child on the slot qspawn_mem gave. path, name, pathvar, argv, envp and what
   they point to must stay unchanged until the child's exec: in the slot's memory, or
   never changed by the caller. log is copied (loglen at most QSPAWN_LOGMAX). Returns the
   child's pid, or -1 (errno, EINVAL for a request that breaks the rules above; the slot is
   free again). The child's exit status is 111 if it
   could not run the program; qspawn_reaped then says why. */
extern pid_t qspawn_go (qspawn_req const *req) ;

/* Give back the slot qspawn_mem gave, without starting anything. */
extern void qspawn_release (void) ;

/* For a child the caller has reaped: the errno of its failed exec (and its slot is free
   again), or 0 if it ran the program or was not started by qspawn. */
extern int qspawn_reaped (pid_t pid) ;

#endif
