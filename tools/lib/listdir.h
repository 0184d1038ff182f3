/* listdir: a mailing list's directory, as list-manage make writes it and list-expand and
   list-manage read it (sluice-list(5)): one setting per file, the secret of the cookies, the
   post number, the texts of the replies. Every function works in the current directory:
   the tools change to the list's directory first. */
#ifndef SLUICE_LISTDIR_H
#define SLUICE_LISTDIR_H
#include <stddef.h>
#include <stdint.h>
#include <skalibs/stralloc.h>

#define LIST_ARCHIVED 1         /* file "archived": posts kept in archive/ */
#define LIST_PUBLIC 2           /* "public": anyone may get posts from the archive */
#define LIST_MODPOST 4          /* "modpost": posts wait for a moderator */
#define LIST_MODSUB 8           /* "modsub": subscriptions wait for a moderator */
#define LIST_SUBONLY 16         /* "subonly": only subscribers post (with modpost: others wait) */

#define LIST_DMARC_OFF 0
#define LIST_DMARC_REJECT 1     /* "dmarc" says reject: From rewritten for p=reject */
#define LIST_DMARC_QUARANTINE 2 /* "dmarc" says quarantine: for p=quarantine and p=reject */

/* the sets of addresses (addrset directories) */
#define LIST_SUBSCRIBERS "subscribers"
#define LIST_DIGESTS "digesters"
#define LIST_MODERATORS "moderators"
#define LIST_ALLOW "allow"

/* how long things live, in seconds */
#define LIST_COOKIELIFE 259200  /* a confirmation: 3 days */
#define LIST_MODLIFE 432000     /* a held post: 5 days */
#define LIST_BOUNCEKEEP 1209600 /* a bounce record without a new bounce, and a probe: 14 days */
#define LIST_GETMAX 100         /* posts in one archive reply */

typedef struct list_s list ;
struct list_s
{
  stralloc address ;            /* "local@host", 0-terminated */
  stralloc local ;              /* 0-terminated */
  stralloc host ;               /* 0-terminated */
  stralloc key ;                /* the secret of the cookies */
  stralloc prefix ;             /* the subject prefix, "" for none, 0-terminated */
  stralloc remove ;             /* lowercase field names, each 0-terminated */
  stralloc owner ;              /* the owner's address or "", 0-terminated */
  unsigned int flags ;          /* LIST_ARCHIVED ... */
  int dmarc ;                   /* LIST_DMARC_* */
  unsigned int digest ;         /* posts per digest; 0: no digest */
  unsigned int bouncelimit ;    /* posts bounced before a probe */
} ;
#define LIST_ZERO { .address = STRALLOC_ZERO, .local = STRALLOC_ZERO, .host = STRALLOC_ZERO, .key = STRALLOC_ZERO, .prefix = STRALLOC_ZERO, .remove = STRALLOC_ZERO, .owner = STRALLOC_ZERO, .flags = 0, .dmarc = 0, .digest = 0, .bouncelimit = 3 }

/* Read the settings of the list in the current directory. 1; 0 with errno and *what the file
   (EINVAL: its content is wrong). */
extern int list_open (list *l, char const **what) ;

/* The first line of file name (trailing blanks cut) into sa, 0-terminated. 1 read, 0 no such
   file (sa = ""), -1 error (errno). */
extern int list_readline (stralloc *sa, char const *name) ;

/* The decimal number in file name (0 when missing). 1, or 0 (errno; EINVAL malformed). */
extern int list_readnum (char const *name, uint64_t *n) ;

/* Write n as the content of file name, atomically. 1 or 0 (errno). */
extern int list_writenum (char const *name, uint64_t n) ;

/* An exclusive lock on file name (made when missing): the descriptor (close it to unlock),
   or -1 (errno). */
extern int list_lock (char const *name) ;

/* "LOCAL-suffix@HOST", 0-terminated, appended to sa. 1 or 0 (out of memory). */
extern int list_addr (list const *l, stralloc *sa, char const *suffix) ;

/* addr (local@host) as it goes in a local part: local=host. Appended. 1 or 0. */
extern int list_encode (stralloc *sa, char const *addr) ;

/* The address in a local part's tail s (local=host, the last '='), normalised (addrset_norm)
   and appended to sa. 1, 0 not an address, -1 out of memory. */
extern int list_decode (stralloc *sa, char const *s) ;

/* ---- texts: text/NAME in the list directory, else the built-in text of that name. A text
   is header fields (a Subject: at least), an empty line, the body. Tags replaced:
     <#L#> the list's address   <#l#> its local part   <#h#> its host
     <#A#> the address the message is about            <#R#> the address to write to
     <#X#> the other address to write to (a moderator's reject)                        */
typedef struct list_tags_s list_tags ;
struct list_tags_s
{
  char const *a ;
  char const *r ;
  char const *x ;
} ;

/* The name of the i-th built-in text (0 past the last), and the built-in text of a name (0
   when unknown). */
extern char const *list_text_name (unsigned int i) ;
extern char const *list_text_builtin (char const *name) ;

/* The text name with its tags replaced, appended to sa. 1, or 0 (errno). */
extern int list_text (list const *l, stralloc *sa, char const *name, list_tags const *t) ;

/* The digest, get and index replies' boundary and the Message-ID's unique part: random
   lowercase letters and digits, appended. 1 or 0. */
extern int list_random (stralloc *sa, size_t n) ;

#endif
