/* dns: the one DNS client of sluice. Queries go to $DNSCACHEIP or the first nameserver of
   /etc/resolv.conf, over UDP (connected socket, random ID, retries) and over TCP when the
   answer is truncated; every lookup runs under an absolute deadline (skalibs tain, STAMP's
   clock), and many queries can run at once. The packet encoder and the defensive parser
   underneath are exported for the unit tests. */
#ifndef SLUICE_DNS_H
#define SLUICE_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>

#define DNS_T_A 1
#define DNS_T_NS 2
#define DNS_T_CNAME 5
#define DNS_T_PTR 12
#define DNS_T_MX 15
#define DNS_T_TXT 16
#define DNS_T_AAAA 28

/* Answers, as appended to a stralloc, by the type asked:
     A     4 bytes per address          AAAA  16 bytes per address
     TXT   per record: its strings joined, then '\0' (a NUL inside the text becomes '?')
     PTR, CNAME, NS   per record: the name in text, then '\0'
     MX    per record: 2-byte preference (big-endian), the name in text, then '\0'
   A name in text is lower case, without the final dot ("." for the root); bytes other than
   a-z 0-9 - _ are written \ddd (three decimal digits, RFC 1035, as dns_name_pack reads them),
   so the text is always printable. */

/* ---- blocking lookups: 1 found, 0 no such name or no such record, -1 error with errno
   (ETIMEDOUT deadline passed; EAGAIN server failure; ECONNREFUSED refused; EBADMSG malformed
   answer; EPROTO other bad answer; EINVAL bad name or bad $DNSCACHEIP; ...). The output
   stralloc is emptied first and holds the answer only when 1 is returned. */

/* name = the first PTR of ip (address text, v4 or v6; ::ffff:a.b.c.d asks in-addr.arpa),
   0-terminated: name->s[name->len] == 0. */
extern int dns_ptr (stralloc *name, char const *ip, tain const *deadline) ;
/* ips = the A and AAAA records of name (asked in parallel), 16 bytes each, IPv4 first as
   ::ffff:a.b.c.d. 1 when any address came back, even if the other query failed. */
extern int dns_ip46 (stralloc *ips, char const *name, tain const *deadline) ;
/* ips = the A records of name, 4 bytes each. */
extern int dns_a (stralloc *ips, char const *name, tain const *deadline) ;
/* text = the TXT records of name, each '\0'-terminated. */
extern int dns_txt (stralloc *text, char const *name, tain const *deadline) ;
/* out = the MX records of name, in the format above, in the order of the answer. */
extern int dns_mx (stralloc *out, char const *name, tain const *deadline) ;

/* ---- many queries at once, one deadline.
     dns_q q[2] = { DNS_Q_ZERO, DNS_Q_ZERO } ;
     dns_q_init(&q[0], "2.0.0.127.bl.example", DNS_T_TXT) ; (and q[1] ...)
     dns_start(q, 2, &srv) ;
     while (dns_step(q, 2, &deadline) > 0) if (enough is known) break ;
     ... q[i].status, q[i].err, q[i].answer ...
     dns_q_free(&q[0]) ; dns_q_free(&q[1]) ;                                             */

#define DNS_PENDING 2

typedef struct dns_server_s dns_server ;
struct dns_server_s
{
  char ip[16] ;
  uint16_t port ;
  unsigned char is6 ;
} ;

#define DNS_NAME_MAX 255                    /* a name in wire form, root label included */
#define DNS_QUERY_MAX (12 + DNS_NAME_MAX + 4)

typedef struct dns_q_s dns_q ;
struct dns_q_s
{
  stralloc answer ;    /* the records, in the format above, when status is 1 */
  int status ;         /* DNS_PENDING, then 1 found, 0 nothing, -1 failed (err) */
  int err ;            /* the errno of a failure, as for the blocking lookups */
  /* private to dns.c */
  int fd ;
  unsigned char state ;
  unsigned char tries ;
  uint16_t type ;
  size_t qlen ;
  size_t tcppos ;
  stralloc tcpbuf ;
  tain resend ;
  dns_server srv ;
  char query[2 + DNS_QUERY_MAX] ;
} ;
#define DNS_Q_ZERO { .answer = STRALLOC_ZERO, .status = 0, .err = 0, .fd = -1, .state = 0, .tries = 0, .type = 0, .qlen = 0, .tcppos = 0, .tcpbuf = STRALLOC_ZERO, .resend = TAIN_ZERO, .srv = { .ip = { 0 }, .port = 0, .is6 = 0 }, .query = { 0 } }

/* Prepare q (DNS_Q_ZERO or freed) to ask for name's records of type (A, AAAA, TXT, PTR,
   CNAME, NS, MX); status becomes DNS_PENDING. 1, or 0 with EINVAL (bad name or type). */
extern int dns_q_init (dns_q *q, char const *name, uint16_t type) ;
/* Send every prepared query of qs[0..n) to srv; one that cannot be sent fails at once
   (status -1). Returns how many are pending. */
extern unsigned int dns_start (dns_q *qs, unsigned int n, dns_server const *srv) ;
/* Handle whatever is ready among qs[0..n), waiting no later than deadline; at the
   deadline every pending query fails with ETIMEDOUT. Returns how many are still pending
   (0: all done), or -1 if waiting itself failed (errno). */
extern int dns_step (dns_q *qs, unsigned int n, tain const *deadline) ;
/* dns_start, then dns_step until nothing is pending. 0, or -1 as dns_step. */
extern int dns_run (dns_q *qs, unsigned int n, dns_server const *srv, tain const *deadline) ;
/* Close q's socket (a pending query fails with ECANCELED) and free its memory; q can be
   prepared again. */
extern void dns_q_free (dns_q *q) ;

/* ---- the server */

/* srv = "1.2.3.4", "1.2.3.4:5353", "::1" or "[::1]:5353" (port 53 when absent).
   1, or 0 with EINVAL. */
extern int dns_server_scan (dns_server *srv, char const *s) ;
/* srv = the first usable "nameserver" line of the resolv.conf file at path; 127.0.0.1
   when the file or such a line is missing. 1, or 0 with errno if the file is unreadable. */
extern int dns_server_resolvconf (dns_server *srv, char const *path) ;
/* srv = $DNSCACHEIP when set (0 with EINVAL when malformed, never a fallback), else
   dns_server_resolvconf("/etc/resolv.conf"). 1, or 0 with errno. */
extern int dns_server_get (dns_server *srv) ;

/* ---- addresses and names */

/* ip (16 bytes) = the address text s, all of it; *is6 = 0 for IPv4 (ip[0..4) holds it),
   also when s is ::ffff:a.b.c.d. 1, or 0 when s is not an address. */
extern int dns_ip_scan (char *ip, int *is6, char const *s) ;
#define DNS_REVERSE_MAX 64
/* s = the reverse-lookup labels of ip: "4.3.2.1" for 1.2.3.4, or 32 dot-separated nibbles
   for IPv6, no final dot, 0-terminated. Returns the length (< DNS_REVERSE_MAX). */
extern size_t dns_ip_reverse (char *s, char const *ip, int is6) ;
/* out = the wire form of the dotted name (final dot optional, \ddd and \c escapes; "" and
   "." are the root). Returns its length (<= DNS_NAME_MAX), or 0 with EINVAL. */
extern size_t dns_name_pack (char *out, char const *name) ;
/* out = the wire form of the name at *pos in pkt[0..len), compression followed (backwards
   pointers only); *pos moves past the name. Returns the length, or 0 with EBADMSG (past the
   end, a loop, a bad label type, longer than DNS_NAME_MAX). */
extern size_t dns_name_unpack (char *out, char const *pkt, size_t len, size_t *pos) ;
/* Append the text form (see above) of the wire name. 1, or 0 on allocation failure. */
extern int dns_name_cat (stralloc *sa, char const *wire) ;
/* 1 when the wire names a and b are equal, ignoring ASCII case, else 0. */
extern int dns_name_equal (char const *a, char const *b) ;

/* ---- packets */

/* q = a recursive query for the wire name qname, of type, with id. Returns its length. */
extern size_t dns_query_make (char *q, uint16_t id, char const *qname, uint16_t type) ;

#define DNS_R_NOTOURS (-2)   /* not an answer to this query: ignore it */
#define DNS_R_TRUNC (-3)     /* truncated (TC): ask again over TCP */
/* Check that pkt[0..len) answers the query q[0..qlen) (same ID, a response, same question)
   and append its answer records of the query's type to out, following CNAMEs from the
   question's name. Returns 1 found, 0 none (NXDOMAIN or no record), -1 with errno (EAGAIN
   SERVFAIL, ECONNREFUSED REFUSED, EPROTO other rcodes, EBADMSG malformed, ELOOP CNAME chain
   too long, ENOMEM), DNS_R_NOTOURS or DNS_R_TRUNC. out is unchanged unless 1 is returned. */
extern int dns_reply_parse (stralloc *out, char const *pkt, size_t len, char const *q, size_t qlen) ;

#endif
