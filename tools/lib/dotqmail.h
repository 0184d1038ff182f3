/* dotqmail: what local-deliver and the .qmail helpers (forward, cond-redirect, bounce-saying)
   share: finding and parsing .qmail files, the environment of a delivery, loop detection,
   running a program on the message, forwarding the message through the queue. */
#ifndef SLUICE_DOTQMAIL_H
#define SLUICE_DOTQMAIL_H
#include <stddef.h>
#include <time.h>
#include <sys/types.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>

#define DOTQMAIL_MAILDIR 1
#define DOTQMAIL_MBOX 2
#define DOTQMAIL_PROGRAM 3
#define DOTQMAIL_FORWARD 4

typedef struct dotqmail_line_s dotqmail_line ;
struct dotqmail_line_s
{
  unsigned int kind ;     /* DOTQMAIL_MAILDIR, _MBOX, _PROGRAM or _FORWARD */
  unsigned int lineno ;   /* 1 for the first line of the file */
  size_t arg ;            /* offset in the parsed text of the 0-terminated path, command or address */
} ;

/* Parse the .qmail text s[0..len) (modified: every line is 0-terminated, trailing blanks cut)
   and append one dotqmail_line per delivery to lines, in order. Comments, blank lines after
   the first and "+list" (which makes the rest forward-only) add nothing. forwardonly: file and
   program lines are refused (the file has its x bit set). 1 on success; 0 for a bad line
   (*lineno, *why say which and why: nothing should be delivered); -1 out of memory. */
extern int dotqmail_parse (char *s, size_t len, genalloc *lines, int forwardonly, unsigned int *lineno, char const **why) ;

/* ext as it goes into a file name: lower case, '.' and '/' made ':'. */
extern void dotqmail_safeext (char *s) ;

/* Find the .qmail file for dash and ext in the current directory: .qmail<dash><ext>, then
   <dash>...-default fallbacks as qmail-local does (none when dash is empty). Returns 1 (*fd
   open on it, name = its name, *forwardonly = its x bit, *defaultat = where in ext DEFAULT
   starts or -1), 0 when there is none, -1 on a system error (errno; name says which file),
   -2 when the file is group- or world-writable (name). */
extern int dotqmail_find (char const *dash, char const *ext, stralloc *name, int *fd, int *forwardonly, long *defaultat) ;

/* Does .qmail<dash><safe ext><suffix> exist? 1, 0, or -1 (errno, other than ENOENT). */
extern int dotqmail_exists (char const *dash, char const *ext, char const *suffix) ;

/* The header lines of a delivery, newline-terminated, newlines inside replaced by '_'. */
extern int dotqmail_dtline (stralloc *sa, char const *local, char const *host) ;
extern int dotqmail_rpline (stralloc *sa, char const *sender) ;
extern int dotqmail_ufline (stralloc *sa, char const *sender, time_t when) ;

/* Set what commands see: USER HOME LOCAL HOST HOST2-4 EXT EXT2-4 RECIPIENT SENDER DTLINE
   RPLINE UFLINE, and DEFAULT when dflt is not 0 (unset otherwise). 1, or 0 (out of memory). */
extern int dotqmail_setenv (char const *user, char const *home, char const *local, char const *ext,
  char const *host, char const *sender, char const *dflt, time_t when) ;

/* 1 when the header of the message on fd (from its current offset) has the line dtline
   (compared without case, a CR before the newline ignored), 0 when not, -1 read error. */
extern int dotqmail_looping (int fd, char const *dtline) ;

/* An unlinked file, open for reading and writing, in $TMPDIR or /tmp: the descriptor, or -1. */
extern int dotqmail_tmpfile (void) ;

/* A copy of fd, from its current offset to its end, in a dotqmail_tmpfile, rewound: the
   descriptor, or -1 with errno. */
extern int dotqmail_copy (int fd) ;

/* A descriptor that can be read again and again: fd itself when it can seek (*start: its
   offset), else a copy of all of fd in an unlinked file under $TMPDIR or /tmp (*start 0).
   -1 with errno on failure. */
extern int dotqmail_seekable (int fd, off_t *start) ;

/* What a .qmail chain does after a program ended with wait status wstat: 0 go on, 99 stop
   (success), 100 bounce (exit 100, 64, 65, 70, 76, 77, 78, 112), 111 defer (anything else,
   a crash too). */
extern int dotqmail_exitclass (int wstat) ;

/* Run /bin/sh -c cmd with the message (msgfd from start) on its stdin, its stdout sent to
   our stderr, SIGPIPE as default. 1 (*wstat) or 0 (errno: fork or wait failed). */
extern int dotqmail_runsh (char const *cmd, int msgfd, off_t start, int *wstat) ;

/* Run argv (searched in PATH) with our stdin and stdout; if it cannot be run, the child
   says why on stderr and exits 111. 1 (*wstat) or 0 (errno). */
extern int dotqmail_run (char const *const *argv, int *wstat) ;

/* Queue dtline then the message (msgfd from its current offset to its end) from sender to
   the n addresses rcpts, through the qmail-queue interface (qqueue.h). Returns the queue
   program's exit code (0: queued; qqueue_permanent() tells), -1 when the message could not
   be read, -2 when the queue program could not be started (errno: both temporary failures).
   SIGPIPE must be ignored. */
extern int dotqmail_forward (int msgfd, char const *dtline, char const *sender, char const *const *rcpts, size_t n) ;

/* What bounce-saying and cond-redirect do with their prog: run argv (dotqmail_run) and
   return 1 when it exits 0, 0 for any other exit code; die 111 when it cannot run, crashes
   or exits 111 (the delivery must be tried again). */
extern int dotqmail_test_or_die (char const *const *argv) ;

/* The queue program dotqmail_forward runs: $QMAILQUEUE, else queue-inject. */
extern char const *dotqmail_queueprog (void) ;

/* What forward and cond-redirect do: dotqmail_forward the message on fd 0 (from its current
   offset) with $DTLINE first, newline-terminated; return when it is queued, else die with
   the queue's reason: 100 for a permanent failure, 111 for anything else (also a missing
   DTLINE, as a misconfigured caller: 100). SIGPIPE must be ignored. */
extern void dotqmail_forward_or_die (char const *sender, char const *const *rcpts, size_t n) ;

#endif
