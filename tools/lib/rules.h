/* rules: tcprules databases (cdb), read and written in tcprules 0.88's format, extended with
   CIDR, IPv6 and unsetting a variable in records and keys the 0.88 tools never look up. */
#ifndef SLUICE_RULES_H
#define SLUICE_RULES_H
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <cdb.h>
#include <skalibs/stralloc.h>

/* The decision for one client. env holds the matched rule's variables in the form
   env_addmodif / xmexec_m take: "NAME=value\0" to set, "NAME\0" to unset; key is the cdb key
   that matched (for tcprules-check and logs), not 0-terminated. For the 0.88 key forms that
   is the key text itself (1.2.3.4, 1.2.3., =host, =.domain, =, info@ip, info@=host, empty);
   for a CIDR rule, whose cdb key is binary, it is the printable net/len (10.0.0.0/8). */
typedef struct rules_result_s rules_result ;
struct rules_result_s { int deny ; stralloc env ; stralloc key ; } ;
#define RULES_RESULT_ZERO { .deny = 0, .env = STRALLOC_ZERO, .key = STRALLOC_ZERO }

/* Look up a client in the rules cdb at path, in tcpserver 0.88's order, extended with CIDR and
   IPv6. ip: address text (IPv4 dotted quad or IPv6, as tcpsrv sets TCPREMOTEIP); host, info: 0 when unknown.
   1: a rule matched (r filled); 0: no rule matched (allow, set nothing); -1: the database
   cannot be read (errno): RULES_ENOTREG when path is not a regular file (a FIFO, a device:
   opened without blocking, never read), EPROTO when it is not a well-formed cdb (a file of
   zeros, a truncated one, lengths past its end), else the system's errno. Opens, reads
   (pread(2), no mapping) and closes the file on each call, so a database replaced by
   tcprules is seen at the next call with no torn read. */
#define RULES_ENOTREG EINVAL
extern int rules_lookup (rules_result *r, char const *path, char const *ip, char const *host, char const *info) ;
extern void rules_result_free (rules_result *r) ;

/* The reason for errno e after a failed lookup, in words: the two above, else strerror. */
extern char const *rules_strerror (int e) ;

/* The same lookup for a long-running reader (tcpsrv's parent), from a copy of the database
   kept in memory: one stat(2) per call while the file stays the same (device, inode, size,
   mtime, ctime), a new copy when tcprules has replaced it. A file larger than RULES_DB_MAX,
   or changed less than settle seconds ago (written in place, perhaps still being written:
   a file system's clock ticks too coarsely to tell), is read from disk as rules_lookup
   does, until it settles. Same results as rules_lookup on a sound file, and the same errors
   for a path that is not a regular file or a file that is not a well-formed cdb; on one
   corrupt further in, either may refuse (-1) where the other still finds the key. */
typedef struct rules_db_s rules_db ;
struct rules_db_s
{
  char *mem ;
  uint64_t size ;
  struct stat st ;            /* the file the copy was read from */
  unsigned int settle ;
} ;
#define RULES_DB_ZERO { .mem = 0, .size = 0, .settle = 2 }
#define RULES_DB_MAX (4U << 20)
extern int rules_lookup_db (rules_db *db, rules_result *r, char const *path, char const *ip, char const *host, char const *info) ;
extern void rules_db_free (rules_db *db) ;

/* The canonical text of an IPv6 address (RFC 5952: lowercase, no leading zeros, the longest
   run of two or more zero groups as ::, the first one on a tie), as rules keys store it.
   s needs RULES_IP6_FMT bytes; returns the length, s is not 0-terminated. */
#define RULES_IP6_FMT 40
extern size_t rules_ip6_fmt (char *s, unsigned char const *ip6) ;

/* Client address text (IPv4, IPv6, IPv4-mapped IPv6) into its canonical text: a dotted quad
   for IPv4 and IPv4-mapped, rules_ip6_fmt for the rest. s needs RULES_IP6_FMT bytes.
   Returns the length and sets *family to 4 or 6 (ip filled, 4 or 16 bytes), or 0 when ip is
   not an address. */
extern size_t rules_ip_canon (char *s, unsigned char *ip, int *family, char const *text) ;

/* Compiling rules text into a cdb (tcprules). Start on an open, empty, writable fd; feed
   every line (without its newline); finish writes the index. */
typedef struct rules_make_s rules_make ;
struct rules_make_s
{
  struct cdb_make cdbm ;
  char *data ;                 /* scratch for one line's records */
  char *err ;                  /* after a parse error: what is wrong, 0-terminated */
  size_t errcap ;
  unsigned char len4[33] ;     /* CIDR prefix lengths present, IPv4 */
  unsigned char len6[129] ;    /* and IPv6 */
} ;
#define RULES_LINE_MAX 65536
/* 1 ok; -1 system error (errno). */
extern int rules_make_start (rules_make *m, int fd) ;
/* 1: the line was added (or was blank or a comment); 0: the line is malformed, m->err says
   why and nothing was added; -1: write error (errno). */
extern int rules_make_line (rules_make *m, char const *s, size_t len) ;
/* Writes the prefix-length keys and the index. 1 ok; -1 write error (errno). The fd stays open. */
extern int rules_make_finish (rules_make *m) ;
/* Frees what start allocated (after finish, or to abandon). */
extern void rules_make_free (rules_make *m) ;

#endif
