/* mxroute: where the mail of a domain goes: control/smtproutes (qmail's format, with
   address literals), a domain that is an address literal, the order of its MX records
   (RFC 5321 5.1; RFC 7505 null MX), whether control/tlsdestinations requires TLS for it,
   and the destination an SMTP session to it serves (for the reuse of sessions). Pure
   functions on memory, but for the random order. */
#ifndef SLUICE_MXROUTE_H
#define SLUICE_MXROUTE_H
#include <stddef.h>
#include <stdint.h>
#include <skalibs/stralloc.h>

typedef struct mxroute_s mxroute ;
struct mxroute_s
{
  char host[256] ;   /* the relay: a name, or an address as text ("192.0.2.1", "::1");
                        "" for the domain's own MX records */
  char ip[16] ;      /* the relay's address, when isip (IPv4 in the first 4 bytes) */
  int isip ;
  int is6 ;
  uint16_t port ;    /* 0 when the line gives none */
} ;

/* Find domain's route in text[0..len), the contents of control/smtproutes: lines
   "domain:relay" or "domain:relay:port". domain is a name (that domain), ".name" (every
   domain that ends so), or empty (every domain); relay is a host name, an IPv4 address, an
   address literal ([192.0.2.1], [2001:db8::1], [IPv6:2001:db8::1]), or empty (the MX
   records, to the port given if any). Blank lines and # comments are skipped; names are
   compared ignoring case. The most specific line wins: the domain itself, then its parents
   from the longest, then the empty domain; of two lines for the same domain, the first.
   Every line is checked, whether it matches or not.
   1: found, *route set; 0: no route; -1: a bad line, *line its number (errno EINVAL). */
extern int mxroute_lookup (mxroute *route, char const *text, size_t len, char const *domain, unsigned int *line) ;

/* s[0..len) is an address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]", or "[::1]"):
   1, with ip (16 bytes) and *is6 set as dns_ip_scan does; else 0. */
extern int mxroute_literal (char *ip, int *is6, char const *s, size_t len) ;

/* out = the names of the MX records mx[0..len) (dns_mx's format), each '\0'-terminated,
   lowest preference first, equal preferences in random order; a "." record (a null MX)
   is left out. Returns how many names (0: only null MX records: the domain takes no mail,
   RFC 7505), or -1 with errno (memory; EBADMSG when mx is not in dns_mx's format). */
extern int mxroute_order (stralloc *out, char const *mx, size_t len) ;

/* lines[0..len): the lines of control/tlsdestinations (each '\0'-terminated, as
   control_readlines gives them): "domain" or "domain:name,.suffix,...". 1 when TLS with a
   verified certificate is required for domain (compared ignoring case), names then holding
   what its certificate must name, each '\0'-terminated (the domain and .domain, or the
   line's list); 0 when it is not; -1 when its line has no name after the colon (errno
   EINVAL), or no memory. names is appended to. */
extern int mxroute_tls (stralloc *names, char const *lines, size_t len, char const *domain) ;

/* The destination that an SMTP session for domain's mail serves, as a key (appended to key,
   '\0'-terminated): two domains with the same key may use one session, one after the other.
   "R" relay ":" port when the domain's line of control/smtproutes (routes[0..rlen)) names a
   relay: every domain sent to it shares its sessions; "T" domain for a domain of
   control/tlsdestinations (tls[0..tlen), as for mxroute_tls), whatever its route: a session
   verified for one domain's names serves no other; else "D" domain (its MX records, or the
   address literal it is). In lower case. 1, 0 when routes has a bad line (key unchanged;
   the delivery itself will say so), or -1 (memory, or a bad line of tls). */
extern int mxroute_key (stralloc *key, char const *routes, size_t rlen, char const *tls, size_t tlen, char const *domain) ;

#endif
