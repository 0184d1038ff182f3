/* smtpauth: the text side of SMTP AUTH (RFC 4954) PLAIN (RFC 4616) and LOGIN: base64, the
   PLAIN response, and the checkpassword input (DESIGN.md). Pure functions, no I/O. */
#ifndef SLUICE_SMTPAUTH_H
#define SLUICE_SMTPAUTH_H
#include <stddef.h>
#include <skalibs/stralloc.h>

/* The most a checkpassword program reads on fd 3: login\0password\0timestamp\0. */
#define SMTPAUTH_CPMAX 512

/* Append the base64 decoding of s[0..len) (RFC 4648, padding required, no blanks) to sa.
   1 on success; 0 when s is not base64 (sa unchanged); -1 on allocation failure. */
extern int smtpauth_b64decode (stralloc *sa, char const *s, size_t len) ;

/* Append the base64 encoding of s[0..len) to sa. 1, or 0 on allocation failure. */
extern int smtpauth_b64encode (stralloc *sa, char const *s, size_t len) ;

/* Split a decoded PLAIN response "authzid\0authcid\0passwd": 1 with the login (authcid) at
   s[*user..*user+*userlen) and the password at s[*pass..*pass+*passlen); 0 when the response
   is malformed or empty (len 0, s then may be a null pointer), the login is empty, or
   authzid is neither empty nor the login. */
extern int smtpauth_plain (char const *s, size_t len, size_t *user, size_t *userlen, size_t *pass, size_t *passlen) ;

/* Build login\0password\0timestamp\0 in sa (sa is reset first). 1 on success; 0 when the
   login is empty or has a NUL, the password has a NUL, or the whole exceeds SMTPAUTH_CPMAX;
   -1 on allocation failure. */
extern int smtpauth_cpinput (stralloc *sa, char const *user, size_t userlen, char const *pass, size_t passlen, char const *stamp) ;

#endif
