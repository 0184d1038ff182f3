/* passwd: password hashes with crypt(3) (libxcrypt): make them, check them, verify a password
   against one in a time that does not depend on where password and hash differ. */
#ifndef SLUICE_PASSWD_H
#define SLUICE_PASSWD_H
#include <stddef.h>

#define PASSWD_HASHMAX 256      /* longest hash accepted (and room for one) */
#define PASSWD_MAX 256          /* longest password accepted, in bytes */

/* How new hashes are made: control/passwordhash, "yescrypt [cost]" or "sha512crypt [rounds]". */
typedef struct passwd_setting_s passwd_setting ;
struct passwd_setting_s
{
  char const *prefix ;          /* "$y$" or "$6$" */
  unsigned long cost ;          /* yescrypt 1-11, sha512crypt rounds 1000-999999999 */
} ;
#define PASSWD_YESCRYPT_COST 4  /* the default: see auth-check(8) for the measured cost */
#define PASSWD_SETTING_DEFAULT { .prefix = "$y$", .cost = PASSWD_YESCRYPT_COST }

/* Parse "method [cost]" into ps. 1, or 0 with *why set to a static message. */
extern int passwd_setting_parse (passwd_setting *ps, char const *s, char const **why) ;

/* Read control/passwordhash (the default when it is missing). 1; 0 with *why (bad content);
   -1 with errno (unreadable). */
extern int passwd_setting_read (passwd_setting *ps, char const **why) ;

/* Hash password with a fresh random salt into out (PASSWD_HASHMAX bytes). 1 or 0 (errno). */
extern int passwd_hash (char *out, char const *password, passwd_setting const *ps) ;

/* 1 when s has the shape of a hash of an accepted method (yescrypt, gost-yescrypt, scrypt,
   bcrypt, sha512crypt); 0 with *why otherwise (plaintext, legacy method, truncated...).
   Cheap: nothing is hashed. */
extern int passwd_hash_ok (char const *s, char const **why) ;

/* passwd_hash_ok, or a hash of a legacy method libxcrypt still verifies: md5crypt ("$1$",
   vpopmail's default) or sha256crypt ("$5$"). Only an import accepts these, so that users
   keep their passwords; every hash sluice makes is of the configured strong method. 1 strong,
   2 legacy, 0 with *why. */
extern int passwd_hash_ok_legacy (char const *s, char const **why) ;

/* 1 when hash is of a legacy method (md5crypt, sha256crypt). */
extern int passwd_legacy (char const *hash) ;

/* passwd_hash_ok, and crypt(3) accepts s as a setting and gives a hash of the same shape. */
extern int passwd_hash_check (char const *s, char const **why) ;

/* The method's name for a hash: "yescrypt", "sha512crypt", ..., or "unknown". */
extern char const *passwd_method (char const *hash) ;

/* 1 when password hashes to hash. The hash is always computed and compared in full, so the
   time depends on the hash's settings only; a hash that crypt(3) rejects gives 0. */
extern int passwd_verify (char const *password, char const *hash) ;

/* 1 when a and b are equal; the time depends on the length of b only. */
extern int passwd_equal (char const *a, char const *b) ;

#endif
