/* maildir: deliver one message into a Maildir so that a reader sees the whole message in new/
   or nothing, and success is reported only once the message and its name are on disk;
   Maildir++ quota (maildirsize). Plain libc: maildir-deliver runs once per message and
   must start fast (no libskarnet). */
#ifndef SLUICE_MAILDIR_H
#define SLUICE_MAILDIR_H
#include <stddef.h>
#include <stdint.h>

#define MAILDIR_NAMEMAX 400

typedef struct maildir_quota_s maildir_quota ;
struct maildir_quota_s
{
  uint64_t bytes ;   /* 0: no limit */
  uint64_t count ;   /* 0: no limit */
} ;

typedef struct maildir_opts_s maildir_opts ;
struct maildir_opts_s
{
  char const *rpline ;      /* written first when not 0 ("\n" added when missing) */
  char const *dtline ;      /* written second when not 0 */
  unsigned int timeout ;    /* seconds for the whole delivery; 0: none */
  int create ;              /* make the Maildir (and tmp/ new/ cur/) when missing */
  int quota_set ;           /* quota below overrides maildirsize's own line */
  maildir_quota quota ;
  int overquota_code ;      /* exit code for an over-quota message: 111 (default when 0) or 100 */
} ;
#define MAILDIR_OPTS_ZERO { .rpline = 0, .dtline = 0, .timeout = 0, .create = 0, .quota_set = 0, .quota = { 0, 0 }, .overquota_code = 0 }

typedef struct maildir_result_s maildir_result ;
struct maildir_result_s
{
  int code ;               /* 0 delivered, 100 permanent failure, 111 temporary failure */
  int err ;                /* the errno of a failed system call, or 0 */
  char const *what ;       /* err != 0: "unable to <what>"; err == 0: the reason itself */
  uint64_t size ;          /* bytes in the delivered file */
  char name[MAILDIR_NAMEMAX] ;  /* its name in new/ */
  char text[160] ;         /* storage for what, when it is made up for this failure */
} ;

/* A name no other delivery anywhere will pick: SECS.MusecPpidQnRrand.host, with / : , in
   host escaped as \057 \072 \054. Returns its length, 0 when max is too small. */
extern size_t maildir_uniq (char *buf, size_t max) ;

/* Parse a Maildir++ quota "NNNS,MMMC" (either part may be left out). 1, or 0 if malformed. */
extern int maildir_quota_parse (char const *s, maildir_quota *q) ;

/* Copy fd (to its end) into dir as one message. 1 when it is in new/ and on disk (r->name,
   r->size); 0 otherwise, with r->code, r->err, r->what set, and nothing left in tmp/ or new/.
   dir and its tmp/ new/ cur/ are opened without following a symbolic link, and must be owned
   by the user delivering (the effective uid); otherwise a temporary failure (111) that says
   which, and nothing is written. */
extern int maildir_deliver (char const *dir, int fd, maildir_opts const *o, maildir_result *r) ;

/* The usage recorded in dir/maildirsize. 1 found (q: its quota line), 0 no such file, -1 error. */
extern int maildir_size_read (char const *dir, maildir_quota *q, int64_t *bytes, int64_t *count) ;

/* Count the messages of dir and its Maildir++ folders (except .Trash), and write a fresh
   maildirsize with quota q. 1 or 0 (errno). */
extern int maildir_size_recalc (char const *dir, maildir_quota const *q, uint64_t *bytes, uint64_t *count) ;

/* One line "error text" for r about dir, into buf (always 0-terminated). */
extern void maildir_strerror (maildir_result const *r, char const *dir, char *buf, size_t max) ;

#endif
