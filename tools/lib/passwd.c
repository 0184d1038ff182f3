#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "control.h"
#include "passwd.h"

/* The methods a stored hash may use: libxcrypt's strong ones, then the legacy ones that an
   import keeps (vpopmail's MD5-crypt). len is the length of the part after the last '$' (or,
   when whole is set, of the whole hash). */
static struct method_s { char const *prefix ; char const *name ; size_t len ; int whole ; int legacy ; } const methods[] =
{
  { "$y$", "yescrypt", 43, 0, 0 },
  { "$gy$", "gost-yescrypt", 43, 0, 0 },
  { "$7$", "scrypt", 43, 0, 0 },
  { "$2b$", "bcrypt", 60, 1, 0 },
  { "$2y$", "bcrypt", 60, 1, 0 },
  { "$6$", "sha512crypt", 86, 0, 0 },
  { "$1$", "md5crypt", 22, 0, 1 },
  { "$5$", "sha256crypt", 43, 0, 1 },
  { 0, 0, 0, 0, 0 }
} ;

static struct method_s const *method_of (char const *s)
{
  struct method_s const *m = methods ;
  for (; m->prefix ; m++) if (!strncmp(s, m->prefix, strlen(m->prefix))) return m ;
  return 0 ;
}

char const *passwd_method (char const *hash)
{
  struct method_s const *m = method_of(hash) ;
  return m ? m->name : "unknown" ;
}

int passwd_legacy (char const *hash)
{
  struct method_s const *m = method_of(hash) ;
  return m && m->legacy ;
}

int passwd_setting_parse (passwd_setting *ps, char const *s, char const **why)
{
  size_t n = 0 ;
  unsigned long cost ;
  while (s[n] && s[n] != ' ' && s[n] != '\t') n++ ;
  if (n == 8 && !memcmp(s, "yescrypt", 8)) { ps->prefix = "$y$" ; cost = PASSWD_YESCRYPT_COST ; }
  else if (n == 11 && !memcmp(s, "sha512crypt", 11)) { ps->prefix = "$6$" ; cost = 5000 ; }
  else { *why = "unknown method (yescrypt or sha512crypt)" ; return 0 ; }
  s += n ;
  while (*s == ' ' || *s == '\t') s++ ;
  if (*s)
  {
    size_t k = ulong_scan(s, &cost) ;
    if (!k) { *why = "the cost is not a number" ; return 0 ; }
    s += k ;
    while (*s == ' ' || *s == '\t') s++ ;
    if (*s) { *why = "trailing text after the cost" ; return 0 ; }
  }
  if (ps->prefix[1] == 'y' ? (cost < 1 || cost > 11) : (cost < 1000 || cost > 999999999))
  {
    *why = ps->prefix[1] == 'y' ? "yescrypt cost must be 1 to 11" : "sha512crypt rounds must be 1000 to 999999999" ;
    return 0 ;
  }
  ps->cost = cost ;
  return 1 ;
}

int passwd_setting_read (passwd_setting *ps, char const **why)
{
  stralloc sa = STRALLOC_ZERO ;
  int r = control_readline(&sa, "passwordhash", 0) ;
  if (r < 0) return -1 ;
  if (!r || !sa.s[0])
  {
    ps->prefix = "$y$" ; ps->cost = PASSWD_YESCRYPT_COST ;
    stralloc_free(&sa) ;
    return 1 ;
  }
  r = passwd_setting_parse(ps, sa.s, why) ;
  stralloc_free(&sa) ;
  return r ;
}

int passwd_hash (char *out, char const *password, passwd_setting const *ps)
{
  char salt[CRYPT_GENSALT_OUTPUT_SIZE] ;
  struct crypt_data *d ;
  char *h ;
  int r = 0 ;
  if (strlen(password) > PASSWD_MAX) { errno = ENAMETOOLONG ; return 0 ; }
  if (!crypt_gensalt_rn(ps->prefix, ps->cost, 0, 0, salt, sizeof salt)) return 0 ;
  d = calloc(1, sizeof *d) ;
  if (!d) return 0 ;
  h = crypt_r(password, salt, d) ;
  if (!h || h[0] != '$' || strlen(h) >= PASSWD_HASHMAX) errno = EINVAL ;
  else { strcpy(out, h) ; r = 1 ; }
  explicit_bzero(d, sizeof *d) ;
  free(d) ;
  return r ;
}

/* the checks of passwd_hash_ok, legacy methods allowed or not */
static int hash_shape (char const *s, int legacy, char const **why)
{
  struct method_s const *m ;
  size_t n = strlen(s), i ;
  char const *last ;
  if (!n) { *why = "empty password hash" ; return 0 ; }
  if (n >= PASSWD_HASHMAX) { *why = "password hash too long" ; return 0 ; }
  for (i = 0 ; i < n ; i++)
    if (s[i] <= ' ' || s[i] > '~' || s[i] == ':' || s[i] == ',')
    {
      *why = "not a crypt(3) hash (bad character): a plaintext password is refused" ;
      return 0 ;
    }
  m = method_of(s) ;
  if (!m || (m->legacy && !legacy))
  {
    *why = s[0] != '$' ? "not a crypt(3) hash: a plaintext password is refused"
         : legacy ? "unsupported hash method (yescrypt, gost-yescrypt, scrypt, bcrypt, sha512crypt; md5crypt, sha256crypt on import)"
         : "unsupported hash method (yescrypt, gost-yescrypt, scrypt, bcrypt, sha512crypt)" ;
    return 0 ;
  }
  last = strrchr(s, '$') ;
  if (m->whole ? n != m->len : (last < s + strlen(m->prefix) || strlen(last + 1) != m->len))
  {
    *why = "truncated or malformed password hash" ;
    return 0 ;
  }
  {
    int c = crypt_checksalt(s) ;
    if (c != CRYPT_SALT_OK && !(m->legacy && c == CRYPT_SALT_METHOD_LEGACY))
    {
      *why = c == CRYPT_SALT_METHOD_DISABLED ? "hash method disabled in this libcrypt" : "password hash settings refused by crypt(3)" ;
      return 0 ;
    }
  }
  return m->legacy ? 2 : 1 ;
}

int passwd_hash_ok (char const *s, char const **why)
{
  return hash_shape(s, 0, why) ;
}

int passwd_hash_ok_legacy (char const *s, char const **why)
{
  return hash_shape(s, 1, why) ;
}

int passwd_hash_check (char const *s, char const **why)
{
  struct crypt_data *d ;
  char const *h ;
  int ok ;
  if (!passwd_hash_ok(s, why)) return 0 ;
  d = calloc(1, sizeof *d) ;
  if (!d) { *why = "out of memory" ; return 0 ; }
  h = crypt_r("sluice", s, d) ;
  ok = h && strlen(h) == strlen(s) && !strncmp(h, s, strrchr(s, '$') - s) ;
  free(d) ;
  if (!ok) *why = "malformed password hash (crypt(3) does not accept its settings)" ;
  return ok ;
}

int passwd_equal (char const *a, char const *b)
{
  size_t la = strlen(a), lb = strlen(b), i ;
  unsigned int d = la != lb ;
  for (i = 0 ; i < lb ; i++)
    d |= (unsigned char)b[i] ^ (unsigned char)a[i < la ? i : 0] ;
  return !d ;
}

int passwd_verify (char const *password, char const *hash)
{
  struct crypt_data *d = calloc(1, sizeof *d) ;
  char const *h ;
  int r ;
  if (!d) return 0 ;
  h = crypt_r(password, hash, d) ;
  r = h && h[0] == '$' && passwd_equal(h, hash) ;
  explicit_bzero(d, sizeof *d) ;
  free(d) ;
  return r ;
}
