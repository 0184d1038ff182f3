/* control: qmail-style settings, one per file, under $SLUICEDIR/control/ (default /var/sluice). */
#ifndef SLUICE_CONTROL_H
#define SLUICE_CONTROL_H
#include <skalibs/stralloc.h>

/* The instance root: $SLUICEDIR, or /var/sluice. */
extern char const *control_root (void) ;

/* The first line of control/name, trailing blanks and CR removed, 0-terminated in sa.
   1: read; 0: the file does not exist (sa gets dflt when dflt is not 0); -1: error (errno). */
extern int control_readline (stralloc *sa, char const *name, char const *dflt) ;

/* Every line of control/name that is not empty or a # comment, each 0-terminated, trailing
   blanks and CR removed. A missing file gives no lines. 1 or -1 (errno). */
extern int control_readlines (stralloc *sa, char const *name) ;

/* control/name as an unsigned decimal number, strictly parsed; dflt when the file is missing.
   1 or -1 (errno; EINVAL for a malformed number). */
extern int control_readulong (unsigned long *u, char const *name, unsigned long dflt) ;

#endif
