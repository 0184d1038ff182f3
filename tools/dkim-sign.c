/* dkim-sign: a qmail-queue filter that signs each message with DKIM (RFC 6376) for the domain
   of its From: address, with every key that domain has under control/dkim/DOMAIN/
   (SELECTOR.rsa: rsa-sha256; SELECTOR.ed25519: ed25519-sha256, RFC 8463), relaxed/relaxed,
   then hands it on to the queue. With -g, makes a key and prints its DNS record. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <opendkim/dkim.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/buffer.h>
#include <skalibs/djbunix.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "atomic.h"
#include "control.h"
#include "keycache.h"
#include "logtext.h"
#include "qfilter.h"
#include "qfilterd.h"
#include "queue.h"

#define USAGE "dkim-sign [ -g [ -t rsa|ed25519 ] domain selector ] [ -d socket [ -c workers ] [ -T timeout ] [ -m mode ] [ -b maxbytes ] ]"
#define dieusage() strerr_dieusage(100, USAGE)
#define CODE_CONFIG 55          /* a key or control file that cannot be read */
#define CODE_SIGN 81            /* the library failed: temporary, nothing queued */
#define CODE_REFUSE 31          /* control/dkimpolicy refuse: permanent */

/* signed unless control/dkimheaders says otherwise; From is also oversigned (one more From
   in h= than the message has), so that no From can be added after signing */
static char const *const default_headers[] =
{
  "from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc",
  "mime-version", "content-type", "content-transfer-encoding", "content-id",
  "content-description", "in-reply-to", "references", "list-id", "list-help",
  "list-unsubscribe", "list-subscribe", "list-post", "list-owner", "list-archive", 0
} ;
static char const *const oversign[] = { "from", 0 } ;

static int keyname_ok (char const *s)
{
  if (!*s || *s == '.') return 0 ;
  for (; *s ; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_')) return 0 ;
  return 1 ;
}

/* ---- -g: a new key ---------------------------------------------------------------------- */

static void print_txt (char const *selector, char const *domain, char const *k, unsigned char const *der, int derlen)
{
  stralloc b = STRALLOC_ZERO ;
  size_t i, n ;
  if (!stralloc_ready(&b, 4 * ((size_t)derlen / 3 + 1) + 1)) strerr_diefu1sys(111, "allocate") ;
  n = EVP_EncodeBlock((unsigned char *)b.s, der, derlen) ;
  buffer_puts(buffer_1, selector) ;
  buffer_puts(buffer_1, "._domainkey.") ;
  buffer_puts(buffer_1, domain) ;
  buffer_puts(buffer_1, ". IN TXT ( \"v=DKIM1; k=") ;
  buffer_puts(buffer_1, k) ;
  buffer_puts(buffer_1, "; p=\"") ;
  /* one TXT record, in strings of at most 255 bytes */
  for (i = 0 ; i < n ; i += 250)
  {
    buffer_puts(buffer_1, "\n  \"") ;
    buffer_put(buffer_1, b.s + i, n - i < 250 ? n - i : 250) ;
    buffer_puts(buffer_1, "\"") ;
  }
  buffer_puts(buffer_1, " )\n") ;
  if (!buffer_flush(buffer_1)) strerr_diefu1sys(111, "write to stdout") ;
  stralloc_free(&b) ;
}

static int genkey (char const *domain, char const *selector, char const *type)
{
  char dom[254] ;
  stralloc path = STRALLOC_ZERO ;
  EVP_PKEY *pkey ;
  BIO *bio ;
  char *pem ;
  long pemlen ;
  unsigned char der[8192], *p = der ;
  size_t derlen = sizeof der ;
  int ed = !strcmp(type, "ed25519") ;
  size_t i ;
  if (!ed && strcmp(type, "rsa")) dieusage() ;
  if (!keyname_ok(domain) || strchr(domain, '_') || !keyname_ok(selector))
    strerr_dief2x(100, "bad domain or selector: ", !keyname_ok(selector) ? selector : domain) ;
  if (strlen(domain) >= sizeof dom || strlen(selector) > 63) strerr_dief1x(100, "domain or selector too long") ;
  for (i = 0 ; domain[i] ; i++) dom[i] = domain[i] >= 'A' && domain[i] <= 'Z' ? domain[i] + 32 : domain[i] ;
  dom[i] = 0 ;
  if (!stralloc_cats(&path, control_root()) || !stralloc_cats(&path, "/control/dkim/")
   || !stralloc_cats(&path, dom)) strerr_diefu1sys(111, "allocate") ;
  if (!stralloc_0(&path)) strerr_diefu1sys(111, "allocate") ;
  if (mkdir(path.s, 0700) < 0 && errno != EEXIST)
  {
    /* control/dkim itself, then the domain's directory */
    char *slash = strrchr(path.s, '/') ;
    *slash = 0 ;
    if (mkdir(path.s, 0700) < 0 && errno != EEXIST) strerr_diefu2sys(111, "make ", path.s) ;
    *slash = '/' ;
    if (mkdir(path.s, 0700) < 0 && errno != EEXIST) strerr_diefu2sys(111, "make ", path.s) ;
  }
  path.len-- ;
  if (!stralloc_cats(&path, "/") || !stralloc_cats(&path, selector) || !stralloc_cats(&path, ".")
   || !stralloc_cats(&path, type) || !stralloc_0(&path)) strerr_diefu1sys(111, "allocate") ;
  if (access(path.s, F_OK) == 0) strerr_dief3x(100, "key ", path.s, " exists: remove it first") ;
  pkey = ed ? EVP_PKEY_Q_keygen(0, 0, "ED25519") : EVP_PKEY_Q_keygen(0, 0, "RSA", (size_t)2048) ;
  if (!pkey) strerr_diefu1x(111, "generate the key") ;
  bio = BIO_new(BIO_s_mem()) ;
  if (!bio || !PEM_write_bio_PrivateKey(bio, pkey, 0, 0, 0, 0, 0)) strerr_diefu1x(111, "encode the key") ;
  pemlen = BIO_get_mem_data(bio, &pem) ;
  if (!atomic_write(path.s, pem, pemlen, 0600)) strerr_diefu2sys(111, "write ", path.s) ;
  BIO_free(bio) ;
  if (ed)
  {
    if (!EVP_PKEY_get_raw_public_key(pkey, der, &derlen)) strerr_diefu1x(111, "get the public key") ;
  }
  else
  {
    int n = i2d_PUBKEY(pkey, 0) ;
    if (n <= 0 || (size_t)n > sizeof der || i2d_PUBKEY(pkey, &p) != n) strerr_diefu1x(111, "encode the public key") ;
    derlen = n ;
  }
  print_txt(selector, dom, ed ? "ed25519" : "rsa", der, (int)derlen) ;
  EVP_PKEY_free(pkey) ;
  return 0 ;
}

/* ---- signing ------------------------------------------------------------------------------ */

/* the header names to sign: control/dkimheaders (one a line), else the default list; 0 with
   *code set on failure */
static char const **signed_headers (stralloc *sa, int *code)
{
  char const **list ;
  size_t i, n = 0 ;
  int r = control_readlines(sa, "dkimheaders") ;
  if (r < 0) { strerr_warnwu1sys("read control/dkimheaders") ; *code = CODE_CONFIG ; return 0 ; }
  if (!sa->len) return (char const **)default_headers ;
  for (i = 0 ; i < sa->len ; i++) if (!sa->s[i]) n++ ;
  list = malloc((n + 1) * sizeof *list) ;
  if (!list) { *code = QUEUE_NOMEM ; return 0 ; }
  for (i = 0, n = 0 ; i < sa->len ; i += strlen(sa->s + i) + 1) list[n++] = sa->s + i ;
  list[n] = 0 ;
  return list ;
}

/* the library, made once: in a daemon's worker, for every message it signs (control/
   dkimheaders is read then) */
static DKIM_LIB *lib_get (int *code)
{
  static DKIM_LIB *lib = 0 ;
  static stralloc hdrs = STRALLOC_ZERO ;
  unsigned int flags = DKIM_LIBFLAGS_FIXCRLF ;
  char const **list ;
  if (lib) return lib ;
  list = signed_headers(&hdrs, code) ;
  if (!list) return 0 ;
  lib = dkim_init(0, 0) ;
  if (!lib
   || dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags) != DKIM_STAT_OK
   || dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, list, sizeof list) != DKIM_STAT_OK
   || dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, (void *)oversign, sizeof list) != DKIM_STAT_OK)
  {
    strerr_warnwu1x("initialise libopendkim") ;
    if (lib) dkim_close(lib) ;
    lib = 0 ;
    *code = CODE_SIGN ;
    return 0 ;
  }
  return lib ;
}

/* one DKIM-Signature: field for msg, with the key in path, appended to head. 1, or the code */
static int sign_one (DKIM_LIB *lib, stralloc *head, char const *domain, char const *selector,
                     dkim_alg_t alg, char const *path, char const *msg, size_t len)
{
  stralloc key = STRALLOC_ZERO ;
  DKIM_STAT st ;
  DKIM *d ;
  unsigned char *sig ;
  size_t siglen, i ;
  if (!openreadfileclose(path, &key, 65536) || !stralloc_0(&key))
  {
    strerr_warnwu2sys("read the key ", path) ;
    return CODE_CONFIG ;
  }
  d = dkim_sign(lib, (unsigned char const *)"sluice", 0, (unsigned char *)key.s, (unsigned char const *)selector,
                (unsigned char const *)domain, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, alg, -1, &st) ;
  if (!d) goto fail ;
  st = dkim_chunk(d, (unsigned char *)msg, len) ;
  if (st == DKIM_STAT_OK) st = dkim_chunk(d, 0, 0) ;
  if (st == DKIM_STAT_OK) st = dkim_eom(d, 0) ;
  if (st == DKIM_STAT_OK) st = dkim_getsighdr_d(d, sizeof DKIM_SIGNHEADER + 1, &sig, &siglen) ;
  if (st != DKIM_STAT_OK) goto fail ;
  if (!stralloc_cats(head, DKIM_SIGNHEADER ": ")) return QUEUE_NOMEM ;
  /* the library folds with CRLF; the queue holds LF-terminated lines */
  for (i = 0 ; i < siglen ; i++) if (sig[i] != '\r' && !stralloc_catb(head, (char *)sig + i, 1)) return QUEUE_NOMEM ;
  if (!stralloc_catb(head, "\n", 1)) return QUEUE_NOMEM ;
  dkim_free(d) ;
  /* the key leaves no copy in memory we no longer need */
  memset(key.s, 0, key.len) ;
  stralloc_free(&key) ;
  return 0 ;
 fail:
  strerr_warnw6x("unable to sign for ", domain, " with ", path, ": ", d ? (dkim_geterror(d) ? dkim_geterror(d) : dkim_getresultstr(st)) : dkim_getresultstr(st)) ;
  if (d) dkim_free(d) ;
  memset(key.s, 0, key.len) ;
  stralloc_free(&key) ;
  return CODE_SIGN ;
}

/* a key file's name, SELECTOR.rsa or SELECTOR.ed25519: the dot before the suffix, its
   algorithm in *alg; 0 for any other name */
static char const *key_name (char const *name, dkim_alg_t *alg)
{
  char const *dot = name[0] == '.' ? 0 : strrchr(name, '.') ;
  if (!dot || dot == name) return 0 ;
  if (!strcmp(dot, ".rsa")) *alg = DKIM_SIGN_RSASHA256 ;
  else if (!strcmp(dot, ".ed25519")) *alg = DKIM_SIGN_ED25519SHA256 ;
  else return 0 ;
  return dot ;
}

/* sign msg with every key of domain into head: 0 (also when the domain has no key), or the
   code to exit with */
static int sign_all (stralloc *head, char const *domain, char const *msg, size_t len)
{
  stralloc dir = STRALLOC_ZERO, path = STRALLOC_ZERO ;
  DKIM_LIB *lib = 0 ;
  DIR *dp ;
  size_t dirlen ;
  int code = 0 ;
  if (!stralloc_cats(&dir, control_root()) || !stralloc_cats(&dir, "/control/dkim/")
   || !stralloc_cats(&dir, domain) || !stralloc_0(&dir)) return QUEUE_NOMEM ;
  dp = opendir(dir.s) ;
  if (!dp)
  {
    if (errno == ENOENT || errno == ENOTDIR) return 0 ;
    strerr_warnwu2sys("open ", dir.s) ;
    return CODE_CONFIG ;
  }
  dir.s[dir.len - 1] = '/' ;
  dirlen = dir.len ;
  for (;;)
  {
    struct dirent *de ;
    char const *dot ;
    dkim_alg_t alg ;
    errno = 0 ;
    de = readdir(dp) ;
    if (!de) { if (errno) { strerr_warnwu2sys("read ", dir.s) ; code = CODE_CONFIG ; } break ; }
    dot = key_name(de->d_name, &alg) ;
    if (!dot) continue ;
    if (!lib && !(lib = lib_get(&code))) break ;
    path.len = 0 ;
    if (!stralloc_catb(&path, dir.s, dirlen) || !stralloc_cats(&path, de->d_name) || !stralloc_0(&path)) { code = QUEUE_NOMEM ; break ; }
    {
      /* the selector is the file's name without its suffix */
      char sel[256] ;
      size_t n = dot - de->d_name ;
      if (!n || n >= sizeof sel) continue ;
      memcpy(sel, de->d_name, n) ; sel[n] = 0 ;
      code = sign_one(lib, head, domain, sel, alg, path.s, msg, len) ;
    }
    if (code) break ;
  }
  closedir(dp) ;
  stralloc_free(&dir) ;
  stralloc_free(&path) ;
  return code ;
}

/* control/dkimpolicy for a client that authenticated (AUTHUSER, set by smtpd): 0 any (sign
   for whatever From: domain has keys), 1 own (sign only for the domain of the login, pass
   anything else on unsigned), 2 refuse (refuse anything else that would have been signed);
   -1 when the file cannot be read or says something else */
static int policy (void)
{
  static stralloc sa = STRALLOC_ZERO ;
  int r = control_readline(&sa, "dkimpolicy", "any") ;
  if (r < 0) { strerr_warnwu1sys("read control/dkimpolicy") ; return -1 ; }
  if (!strcmp(sa.s, "any")) return 0 ;
  if (!strcmp(sa.s, "own")) return 1 ;
  if (!strcmp(sa.s, "refuse")) return 2 ;
  strerr_warnw3x("control/dkimpolicy: line 1: ", sa.s, ": not any, own or refuse") ;
  return -1 ;
}

/* 1 when the domain has a key of ours (a file SELECTOR.rsa or SELECTOR.ed25519 under
   control/dkim/DOMAIN), 0 when not, -1 when its directory cannot be read */
static int has_key (char const *domain)
{
  stralloc dir = STRALLOC_ZERO ;
  DIR *dp ;
  int r = 0 ;
  if (!stralloc_cats(&dir, control_root()) || !stralloc_cats(&dir, "/control/dkim/")
   || !stralloc_cats(&dir, domain) || !stralloc_0(&dir)) { stralloc_free(&dir) ; return -1 ; }
  dp = opendir(dir.s) ;
  if (!dp) r = errno == ENOENT || errno == ENOTDIR ? 0 : -1 ;
  else
  {
    struct dirent *de ;
    dkim_alg_t alg ;
    while (!r && (de = readdir(dp))) if (key_name(de->d_name, &alg)) r = 1 ;
    closedir(dp) ;
  }
  stralloc_free(&dir) ;
  return r ;
}

/* the filter: the signatures of the From: domain's keys, before the message */
static int filter (char const *msg, size_t len, char const *env, size_t envlen, qfilterd_out *out)
{
  static stralloc dom = STRALLOC_ZERO, head = STRALLOC_ZERO, who = STRALLOC_ZERO ;
  char const *user = getenv("AUTHUSER") ;
  (void)env ; (void)envlen ;
  head.len = 0 ;
  if (qfilter_from_domain(msg, len, &dom, 0))
  {
    int code ;
    if (user && *user)
    {
      char const *at = strrchr(user, '@') ;
      if (!at || strcasecmp(at + 1, dom.s))
      {
        /* the From: domain is not the authenticated user's */
        int p = policy(), k ;
        if (p < 0) { out->why = "unable to read control/dkimpolicy" ; return CODE_CONFIG ; }
        if (p && (k = has_key(dom.s)))
        {
          if (k < 0) { out->why = "unable to read the domain's keys" ; return CODE_CONFIG ; }
          who.len = 0 ;
          if (!logtext_cat(&who, user, strlen(user), 128, 0) || !stralloc_0(&who)) return QUEUE_NOMEM ;
          if (p == 2)
          {
            strerr_warnw4x("refused: From: domain ", dom.s, " is not that of the authenticated user ", who.s) ;
            out->why = "the From: domain is not the authenticated user's: not signed, not sent" ;
            return CODE_REFUSE ;
          }
          strerr_warnw4x("not signed: From: domain ", dom.s, " is not that of the authenticated user ", who.s) ;
          goto end ;
        }
      }
    }
    code = sign_all(&head, dom.s, msg, len) ;
    if (code) { out->why = "unable to sign the message" ; return code ; }   /* a key exists but no signature: nothing is queued */
  }
 end:
  out->head = head.s ; out->headlen = head.len ;
  return 0 ;
}

int main (int argc, char const *const *argv)
{
  char const *type = "rsa", *sock = 0 ;
  qfilterd_opts o = QFILTERD_ZERO ;
  int gen = 0 ;
  PROG = "dkim-sign" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "gt:" QFILTERD_OPTS, &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'g' : gen = 1 ; break ;
        case 't' : type = l.arg ; break ;
        default : if (qfilterd_option(opt, l.arg, &o, &sock) != 1) dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (gen) { if (argc != 2 || sock) dieusage() ; return genkey(argv[0], argv[1], type) ; }
  if (argc) dieusage() ;
  sig_ignore(SIGPIPE) ;
  keycache_init() ;   /* a key file read again is not parsed again */
  if (sock) qfilterd_main(sock, &o, 0, &filter) ;
  return qfilterd_once(&filter) ;
}
