/* listcookie: the cookies in the addresses of list-manage's replies, "TIME.HASH": TIME the
   decimal seconds when it was made, HASH the first 20 characters, in lowercase base32 (100
   bits), of HMAC-SHA256(key, action ":" TIME ":" what). Only the holder of the list's key can
   make one, and one made for an action, an address (or a held post) and a time is worth
   nothing for another. Lowercase, so that it survives the lowercasing of local parts. */
#ifndef SLUICE_LISTCOOKIE_H
#define SLUICE_LISTCOOKIE_H
#include <stddef.h>
#include <stdint.h>

#define LISTCOOKIE_HASHLEN 20
#define LISTCOOKIE_MAX (20 + 1 + LISTCOOKIE_HASHLEN)

/* out (32 bytes) = HMAC-SHA256(key, msg) (RFC 2104). */
extern void listcookie_hmac (char *out, char const *key, size_t keylen, char const *msg, size_t len) ;

/* The cookie for action and what at time t into out (LISTCOOKIE_MAX + 1 bytes,
   0-terminated). Returns its length. */
extern size_t listcookie_make (char *out, char const *key, size_t keylen, char const *action, char const *what, uint64_t t) ;

/* Check the cookie s[0..len) for action and what at time now: 1 good (made at most life
   seconds ago, and not more than an hour ahead); 0 not a cookie of ours (a wrong hash, a
   wrong form); -1 ours, but too old. The hash is compared in constant time. */
extern int listcookie_check (char const *key, size_t keylen, char const *action, char const *what, char const *s, size_t len, uint64_t now, uint64_t life) ;

#endif
