/* keycache: the keys libopendkim parses, parsed once per process. libopendkim takes a
   signing key as PEM text and a verifying key as DER, and parses them again for every
   signature (PEM_read_bio_PrivateKey, d2i_PUBKEY_bio on a memory BIO); under OpenSSL 3 that
   parse costs 0.3 to 0.4 ms, more than an Ed25519 signature or an RSA-2048 verification, and
   a fresh RSA key also recomputes its Montgomery and blinding values at each signature.
   Linking this module interposes both functions in the executable (dynamic tools only): the
   key in a memory BIO that matches, byte for byte, one parsed before is the same EVP_PKEY
   again (its reference count raised; the caller frees it as before). Anything else goes to
   OpenSSL's own function: another kind of BIO, a password callback, a reused object (x), a
   key over KEYCACHE_MAXLEN bytes, or text that did not parse. A changed key file is new text,
   so it is parsed anew; the oldest of KEYCACHE_MAX entries makes room, its text wiped. */
#ifndef SLUICE_KEYCACHE_H
#define SLUICE_KEYCACHE_H

#define KEYCACHE_MAX 32
#define KEYCACHE_MAXLEN 16384

/* Link the module in: call it once before the library parses a key. */
extern void keycache_init (void) ;

/* Counters (for the tests): parses that went to OpenSSL, and keys given from the cache. */
extern unsigned long keycache_misses, keycache_hits ;

/* Forget every key (their text wiped). */
extern void keycache_clear (void) ;

#endif
