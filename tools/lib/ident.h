/* ident: RFC 1413 client, asks a client's host which user owns a TCP connection. */
#ifndef SLUICE_IDENT_H
#define SLUICE_IDENT_H
#include <stddef.h>
#include <stdint.h>
#include <skalibs/ip46.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>

#define IDENT_PORT 113
#define IDENT_USERMAX 512

/* Parse an ident reply line s[0..len) (CR LF optional) for the connection rport -> lport:
   1 and the user id appended to sa (leading and trailing blanks removed, at most
   IDENT_USERMAX bytes); 0 if the reply is an ERROR, malformed, or for other ports;
   -1 if sa cannot grow (ENOMEM). */
extern int ident_parse (stralloc *sa, char const *s, size_t len, uint16_t rport, uint16_t lport) ;

/* Ask identport at remote, from local (port 0), who owns remote:rport -> local:lport; give
   up at deadline. 1: user id appended to sa; 0: no user id given; -1: no answer (errno,
   ETIMEDOUT at the deadline). Both addresses of one family. */
extern int ident_query (stralloc *sa, ip46 const *remote, uint16_t rport, ip46 const *local, uint16_t lport, uint16_t identport, tain const *deadline) ;

#endif
