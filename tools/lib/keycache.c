#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "keycache.h"

unsigned long keycache_misses = 0, keycache_hits = 0 ;

typedef struct entry_s entry ;
struct entry_s
{
  char kind ;            /* 'p' private (PEM), 'u' public (DER) */
  size_t len ;
  unsigned char *text ;
  EVP_PKEY *key ;
} ;

static entry cache[KEYCACHE_MAX] ;
static unsigned int next = 0 ;   /* the slot to fill next: the oldest when full */

static void drop (entry *e)
{
  if (!e->text) return ;
  OPENSSL_cleanse(e->text, e->len) ;
  free(e->text) ;
  EVP_PKEY_free(e->key) ;
  e->text = 0 ; e->key = 0 ; e->len = 0 ;
}

void keycache_init (void)
{
}

void keycache_clear (void)
{
  for (unsigned int i = 0 ; i < KEYCACHE_MAX ; i++) drop(cache + i) ;
  next = 0 ;
}

/* the unread bytes of a memory BIO: their length, 0 for any other BIO */
static size_t memtext (BIO *b, unsigned char **s)
{
  char *p ;
  long n ;
  if (!b || BIO_method_type(b) != BIO_TYPE_MEM) return 0 ;
  n = BIO_get_mem_data(b, &p) ;
  if (n <= 0 || n > KEYCACHE_MAXLEN) return 0 ;
  *s = (unsigned char *)p ;
  return (size_t)n ;
}

static EVP_PKEY *lookup (char kind, BIO *b, unsigned char const *s, size_t n)
{
  for (unsigned int i = 0 ; i < KEYCACHE_MAX ; i++)
  {
    entry *e = cache + i ;
    if (e->text && e->kind == kind && e->len == n && !memcmp(e->text, s, n) && EVP_PKEY_up_ref(e->key))
    {
      /* the text counts as read, as after a parse */
      unsigned char sink[512] ;
      while (BIO_read(b, sink, sizeof sink) > 0) ;
      keycache_hits++ ;
      return e->key ;
    }
  }
  return 0 ;
}

static void keep (char kind, unsigned char const *s, size_t n, EVP_PKEY *k)
{
  entry *e = cache + next ;
  unsigned char *t = malloc(n) ;
  if (!t || !EVP_PKEY_up_ref(k)) { free(t) ; return ; }   /* not kept: parsed again next time */
  memcpy(t, s, n) ;
  drop(e) ;
  e->kind = kind ; e->len = n ; e->text = t ; e->key = k ;
  next = (next + 1) % KEYCACHE_MAX ;
}

EVP_PKEY *PEM_read_bio_PrivateKey (BIO *b, EVP_PKEY **x, pem_password_cb *cb, void *u)
{
  static EVP_PKEY *(*real) (BIO *, EVP_PKEY **, pem_password_cb *, void *) = 0 ;
  unsigned char *s ;
  size_t n = 0 ;
  EVP_PKEY *k ;
  if (!real) real = (EVP_PKEY *(*) (BIO *, EVP_PKEY **, pem_password_cb *, void *))dlsym(RTLD_NEXT, "PEM_read_bio_PrivateKey") ;
  if (!real) return 0 ;
  if (!x && !cb && !u) n = memtext(b, &s) ;
  if (n && (k = lookup('p', b, s, n))) return k ;
  /* keep a copy of the text before the parse consumes it */
  if (!n) return (*real)(b, x, cb, u) ;
  {
    unsigned char *copy = malloc(n) ;
    if (!copy) return (*real)(b, x, cb, u) ;
    memcpy(copy, s, n) ;
    keycache_misses++ ;
    k = (*real)(b, x, cb, u) ;
    if (k) keep('p', copy, n, k) ;
    OPENSSL_cleanse(copy, n) ;
    free(copy) ;
    return k ;
  }
}

EVP_PKEY *d2i_PUBKEY_bio (BIO *b, EVP_PKEY **x)
{
  static EVP_PKEY *(*real) (BIO *, EVP_PKEY **) = 0 ;
  unsigned char *s ;
  size_t n = 0 ;
  EVP_PKEY *k ;
  if (!real) real = (EVP_PKEY *(*) (BIO *, EVP_PKEY **))dlsym(RTLD_NEXT, "d2i_PUBKEY_bio") ;
  if (!real) return 0 ;
  if (!x) n = memtext(b, &s) ;
  if (n && (k = lookup('u', b, s, n))) return k ;
  if (!n) return (*real)(b, x) ;
  {
    unsigned char *copy = malloc(n) ;
    if (!copy) return (*real)(b, x) ;
    memcpy(copy, s, n) ;
    keycache_misses++ ;
    k = (*real)(b, x) ;
    if (k) keep('u', copy, n, k) ;
    free(copy) ;
    return k ;
  }
}
