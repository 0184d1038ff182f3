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

/* keep k for the text t[0..n), which the cache takes over: 1, or 0 (t is the caller's) */
static int keep (char kind, unsigned char *t, size_t n, EVP_PKEY *k)
{
  entry *e = cache + next ;
  if (!EVP_PKEY_up_ref(k)) return 0 ;   /* not kept: parsed again next time */
  drop(e) ;
  e->kind = kind ; e->len = n ; e->text = t ; e->key = k ;
  next = (next + 1) % KEYCACHE_MAX ;
  return 1 ;
}

/* the key in b: the cached one when the text matches, else what parse(b) gives, kept (a
   copy of the text is taken first: the parse consumes it) */
static EVP_PKEY *cached (char kind, BIO *b, EVP_PKEY *(*parse) (BIO *))
{
  unsigned char *s, *copy ;
  size_t n = memtext(b, &s) ;
  EVP_PKEY *k ;
  if (n && (k = lookup(kind, b, s, n))) return k ;
  copy = n ? malloc(n) : 0 ;
  if (!copy) return (*parse)(b) ;
  memcpy(copy, s, n) ;
  keycache_misses++ ;
  k = (*parse)(b) ;
  if (!k || !keep(kind, copy, n, k)) { OPENSSL_cleanse(copy, n) ; free(copy) ; }
  return k ;
}

/* OpenSSL's own functions, found once */
typedef EVP_PKEY *pem_fn (BIO *, EVP_PKEY **, pem_password_cb *, void *) ;
typedef EVP_PKEY *der_fn (BIO *, EVP_PKEY **) ;
static pem_fn *real_pem = 0 ;
static der_fn *real_der = 0 ;

static EVP_PKEY *parse_pem (BIO *b) { return (*real_pem)(b, 0, 0, 0) ; }
static EVP_PKEY *parse_der (BIO *b) { return (*real_der)(b, 0) ; }

EVP_PKEY *PEM_read_bio_PrivateKey (BIO *b, EVP_PKEY **x, pem_password_cb *cb, void *u)
{
  if (!real_pem) real_pem = (pem_fn *)dlsym(RTLD_NEXT, "PEM_read_bio_PrivateKey") ;
  if (!real_pem) return 0 ;
  if (x || cb || u) return (*real_pem)(b, x, cb, u) ;
  return cached('p', b, &parse_pem) ;
}

EVP_PKEY *d2i_PUBKEY_bio (BIO *b, EVP_PKEY **x)
{
  if (!real_der) real_der = (der_fn *)dlsym(RTLD_NEXT, "d2i_PUBKEY_bio") ;
  if (!real_der) return 0 ;
  if (x) return (*real_der)(b, x) ;
  return cached('u', b, &parse_der) ;
}
