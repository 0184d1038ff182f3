/* unit tests for tools/lib/keycache: the parsed-key cache that stands in for OpenSSL's
   PEM_read_bio_PrivateKey and d2i_PUBKEY_bio. Keys made here (RSA-2048, Ed25519); each parse
   from a memory BIO with the same text gives the same key object again; anything else goes
   to OpenSSL; signatures with a cached key verify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "keycache.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

/* the PEM text of a new key of this type */
static char *pem_of (EVP_PKEY *k, long *len)
{
  BIO *b = BIO_new(BIO_s_mem()) ;
  char *p, *s ;
  PEM_write_bio_PrivateKey(b, k, 0, 0, 0, 0, 0) ;
  *len = BIO_get_mem_data(b, &p) ;
  s = malloc(*len + 1) ;
  memcpy(s, p, *len) ; s[*len] = 0 ;
  BIO_free(b) ;
  return s ;
}

static EVP_PKEY *parse_priv (char const *s, long len)
{
  BIO *b = BIO_new_mem_buf(s, (int)len) ;
  EVP_PKEY *k = PEM_read_bio_PrivateKey(b, 0, 0, 0) ;
  if (k) CHECK(BIO_pending(b) == 0) ;   /* the text counts as read, hit or miss */
  BIO_free(b) ;
  return k ;
}

static EVP_PKEY *parse_pub (unsigned char const *s, long len)
{
  BIO *b = BIO_new_mem_buf(s, (int)len) ;
  EVP_PKEY *k = d2i_PUBKEY_bio(b, 0) ;
  BIO_free(b) ;
  return k ;
}

/* a signature by priv over a fixed text verifies with pub */
static int signs (EVP_PKEY *priv, EVP_PKEY *pub, int ed)
{
  unsigned char sig[512] ;
  size_t n = sizeof sig ;
  unsigned char const msg[] = "a message" ;
  EVP_MD_CTX *m = EVP_MD_CTX_new() ;
  int ok = EVP_DigestSignInit(m, 0, ed ? 0 : EVP_sha256(), 0, priv) == 1 && EVP_DigestSign(m, sig, &n, msg, sizeof msg) == 1 ;
  EVP_MD_CTX_free(m) ;
  m = EVP_MD_CTX_new() ;
  ok = ok && EVP_DigestVerifyInit(m, 0, ed ? 0 : EVP_sha256(), 0, pub) == 1 && EVP_DigestVerify(m, sig, n, msg, sizeof msg) == 1 ;
  EVP_MD_CTX_free(m) ;
  return ok ;
}

int main (void)
{
  EVP_PKEY *rsa = EVP_PKEY_Q_keygen(0, 0, "RSA", (size_t)2048), *ed = EVP_PKEY_Q_keygen(0, 0, "ED25519") ;
  long rlen, elen ;
  char *rtext, *etext ;
  unsigned char *der = 0 ;
  int dlen ;
  EVP_PKEY *a, *b, *c ;
  keycache_init() ;
  CHECK(rsa && ed) ;
  if (!rsa || !ed) return 1 ;
  rtext = pem_of(rsa, &rlen) ; etext = pem_of(ed, &elen) ;

  /* the same text twice: parsed once, the same object both times */
  a = parse_priv(rtext, rlen) ;
  CHECK(a && keycache_misses == 1 && keycache_hits == 0) ;
  b = parse_priv(rtext, rlen) ;
  CHECK(b == a && keycache_hits == 1 && keycache_misses == 1) ;
  CHECK(a && EVP_PKEY_eq(a, rsa) == 1) ;
  CHECK(a && signs(a, rsa, 0)) ;
  EVP_PKEY_free(b) ;
  CHECK(a && signs(a, rsa, 0)) ;   /* the cache's own reference keeps it alive */
  EVP_PKEY_free(a) ;
  a = parse_priv(rtext, rlen) ;
  CHECK(a && signs(a, rsa, 0) && keycache_hits == 2) ;
  EVP_PKEY_free(a) ;

  /* another key, another object; Ed25519 too */
  c = parse_priv(etext, elen) ;
  CHECK(c && EVP_PKEY_eq(c, ed) == 1 && keycache_misses == 2) ;
  CHECK(c && signs(c, ed, 1)) ;
  EVP_PKEY_free(c) ;
  c = parse_priv(etext, elen) ;
  CHECK(c && keycache_hits == 3) ;
  EVP_PKEY_free(c) ;

  /* one byte changed (a renewed key is new text): not the cached key */
  {
    char *t = malloc(rlen) ;
    unsigned long m = keycache_misses ;
    EVP_PKEY *cached = parse_priv(rtext, rlen) ;
    memcpy(t, rtext, rlen) ;
    t[rlen / 2] ^= 1 ;
    a = parse_priv(t, rlen) ;
    CHECK(keycache_misses == m + 1) ;
    CHECK(a != cached) ;
    EVP_PKEY_free(a) ; EVP_PKEY_free(cached) ;
    free(t) ;
  }

  /* text that is no key: nothing, and nothing kept */
  {
    unsigned long m = keycache_misses ;
    CHECK(!parse_priv("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 60)) ;
    CHECK(!parse_priv("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 60)) ;
    CHECK(keycache_misses == m + 2) ;
  }

  /* not a memory BIO, or a password callback's argument: OpenSSL's own parse each time */
  {
    unsigned long h = keycache_hits, m = keycache_misses ;
    FILE *f = tmpfile() ;
    BIO *fb ;
    fwrite(rtext, 1, rlen, f) ; rewind(f) ;
    fb = BIO_new_fp(f, BIO_CLOSE) ;
    a = PEM_read_bio_PrivateKey(fb, 0, 0, 0) ;
    CHECK(a && EVP_PKEY_eq(a, rsa) == 1) ;
    EVP_PKEY_free(a) ;
    BIO_free(fb) ;
    fb = BIO_new_mem_buf(rtext, (int)rlen) ;
    a = PEM_read_bio_PrivateKey(fb, 0, 0, (void *)"pw") ;
    CHECK(a && EVP_PKEY_eq(a, rsa) == 1) ;
    EVP_PKEY_free(a) ;
    BIO_free(fb) ;
    CHECK(keycache_hits == h && keycache_misses == m) ;
  }

  /* public keys in DER: the same */
  dlen = i2d_PUBKEY(rsa, &der) ;
  CHECK(dlen > 0) ;
  {
    unsigned long h = keycache_hits ;
    a = parse_pub(der, dlen) ;
    b = parse_pub(der, dlen) ;
    CHECK(a && a == b && keycache_hits == h + 1) ;
    CHECK(a && signs(rsa, a, 0)) ;
    EVP_PKEY_free(a) ; EVP_PKEY_free(b) ;
    /* the same bytes as a private key's text are another kind: not mixed up */
    CHECK(!parse_priv((char *)der, dlen)) ;
  }

  /* more keys than the cache holds: the oldest go, every key still parses right */
  {
    EVP_PKEY *keys[KEYCACHE_MAX + 2] ;
    char *texts[KEYCACHE_MAX + 2] ;
    long lens[KEYCACHE_MAX + 2] ;
    unsigned long h, m ;
    for (int i = 0 ; i < KEYCACHE_MAX + 2 ; i++)
    {
      keys[i] = EVP_PKEY_Q_keygen(0, 0, "ED25519") ;
      texts[i] = pem_of(keys[i], &lens[i]) ;
      a = parse_priv(texts[i], lens[i]) ;
      CHECK(a && EVP_PKEY_eq(a, keys[i]) == 1) ;
      EVP_PKEY_free(a) ;
    }
    h = keycache_hits ; m = keycache_misses ;
    a = parse_priv(texts[KEYCACHE_MAX + 1], lens[KEYCACHE_MAX + 1]) ;   /* the newest: kept */
    CHECK(a && EVP_PKEY_eq(a, keys[KEYCACHE_MAX + 1]) == 1 && keycache_hits == h + 1) ;
    EVP_PKEY_free(a) ;
    a = parse_priv(texts[0], lens[0]) ;   /* the oldest: gone, parsed again */
    CHECK(a && EVP_PKEY_eq(a, keys[0]) == 1 && keycache_misses == m + 1) ;
    EVP_PKEY_free(a) ;
    for (int i = 0 ; i < KEYCACHE_MAX + 2 ; i++) { EVP_PKEY_free(keys[i]) ; free(texts[i]) ; }
  }

  keycache_clear() ;
  {
    unsigned long m = keycache_misses ;
    a = parse_priv(rtext, rlen) ;
    CHECK(a && signs(a, rsa, 0) && keycache_misses == m + 1) ;
    EVP_PKEY_free(a) ;
  }
  keycache_clear() ;
  OPENSSL_free(der) ;
  free(rtext) ; free(etext) ;
  EVP_PKEY_free(rsa) ; EVP_PKEY_free(ed) ;
  if (failed) { fprintf(stderr, "keycache: %d checks failed\n", failed) ; return 1 ; }
  return 0 ;
}
