/* unit tests for tools/lib/passwd: settings, hashing, hash checks, verification. */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <skalibs/djbunix.h>
#include "atomic.h"
#include "passwd.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

int main (int argc, char const *const *argv)
{
  char const *dir = argc > 1 ? argv[1] : 0 ;
  char const *why ;
  char h[PASSWD_HASHMAX], h2[PASSWD_HASHMAX], path[512] ;
  passwd_setting ps = PASSWD_SETTING_DEFAULT ;
  if (!dir) { fprintf(stderr, "usage: userdb-passwd scratchdir\n") ; return 2 ; }

  /* settings */
  CHECK(passwd_setting_parse(&ps, "yescrypt", &why) && !strcmp(ps.prefix, "$y$") && ps.cost == PASSWD_YESCRYPT_COST) ;
  CHECK(passwd_setting_parse(&ps, "yescrypt 1", &why) && ps.cost == 1) ;
  CHECK(passwd_setting_parse(&ps, "sha512crypt 1000", &why) && !strcmp(ps.prefix, "$6$") && ps.cost == 1000) ;
  CHECK(!passwd_setting_parse(&ps, "yescrypt 12", &why)) ;
  CHECK(!passwd_setting_parse(&ps, "yescrypt 0", &why)) ;
  CHECK(!passwd_setting_parse(&ps, "sha512crypt 999", &why)) ;
  CHECK(!passwd_setting_parse(&ps, "md5", &why)) ;
  CHECK(!passwd_setting_parse(&ps, "yescrypt 3x", &why)) ;
  CHECK(!passwd_setting_parse(&ps, "yescrypt 3 4", &why)) ;
  setenv("SLUICEDIR", dir, 1) ;
  CHECK(passwd_setting_read(&ps, &why) == 1 && !strcmp(ps.prefix, "$y$") && ps.cost == PASSWD_YESCRYPT_COST) ;
  snprintf(path, sizeof path, "%s/control", dir) ;
  CHECK(mkdir(path, 0755) == 0) ;
  snprintf(path, sizeof path, "%s/control/passwordhash", dir) ;
  CHECK(atomic_write(path, "sha512crypt 2000\n", 17, 0644)) ;
  CHECK(passwd_setting_read(&ps, &why) == 1 && !strcmp(ps.prefix, "$6$") && ps.cost == 2000) ;
  CHECK(atomic_write(path, "bogus\n", 6, 0644)) ;
  CHECK(passwd_setting_read(&ps, &why) == 0) ;

  /* hashing and verification, both methods, cheap settings */
  CHECK(passwd_setting_parse(&ps, "yescrypt 1", &why)) ;
  CHECK(passwd_hash(h, "secret", &ps) && !strncmp(h, "$y$", 3)) ;
  CHECK(passwd_hash(h2, "secret", &ps) && strcmp(h, h2)) ;        /* fresh salts */
  CHECK(passwd_verify("secret", h)) ;
  CHECK(passwd_verify("secret", h2)) ;
  CHECK(!passwd_verify("secreT", h)) ;
  CHECK(!passwd_verify("", h)) ;
  CHECK(!passwd_verify("secret", "secret")) ;                      /* plaintext never matches */
  CHECK(!passwd_verify("secret", "")) ;
  CHECK(!passwd_verify("secret", "$y$")) ;
  CHECK(passwd_hash_ok(h, &why)) ;
  CHECK(passwd_hash_check(h, &why)) ;
  CHECK(!strcmp(passwd_method(h), "yescrypt")) ;
  CHECK(passwd_setting_parse(&ps, "sha512crypt 1000", &why)) ;
  CHECK(passwd_hash(h, "pässwörd", &ps) && !strncmp(h, "$6$rounds=1000$", 15)) ;
  CHECK(passwd_verify("pässwörd", h)) ;
  CHECK(!passwd_verify("passwort", h)) ;
  CHECK(passwd_hash_ok(h, &why) && passwd_hash_check(h, &why)) ;
  CHECK(!strcmp(passwd_method(h), "sha512crypt")) ;
  {
    char big[PASSWD_MAX + 2] ;
    memset(big, 'a', sizeof big - 1) ; big[sizeof big - 1] = 0 ;
    CHECK(!passwd_hash(h2, big, &ps)) ;
  }

  /* hashes that are refused: plaintext, legacy methods, truncation, bad characters */
  CHECK(!passwd_hash_ok("secret", &why)) ;
  CHECK(!passwd_hash_ok("", &why)) ;
  CHECK(!passwd_hash_ok("$1$4g366zzn$DIklHf5ORRtUbS3NjE6QE/", &why)) ;                 /* md5crypt */
  CHECK(!passwd_hash_ok("IVEkiTb5Vqz6g", &why)) ;                                      /* DES */
  CHECK(!passwd_hash_ok("$5$0LrLmpRGTa/fZ6Ju$tkn1gnjLL5Hy103UfVND2m1ADOMsfUTj/4uoL0qoZ97", &why)) ;
  CHECK(!passwd_hash_ok("$y$j9T$X.Nf2HnnuG13/ZGWL/lp8/", &why)) ;                     /* a salt, no hash */
  CHECK(!passwd_hash_ok("$y$j9T$X.Nf2HnnuG13/ZGWL/lp8/$Kv4NRucUXHhy6P5XRGKeLXHoU0UmcFiKgQXXeyVv7K", &why)) ;
  CHECK(passwd_hash_ok("$y$j9T$X.Nf2HnnuG13/ZGWL/lp8/$Kv4NRucUXHhy6P5XRGKeLXHoU0UmcFiKgQXXeyVv7K1", &why)) ;
  CHECK(!passwd_hash_ok("$y$j9T$X.Nf2HnnuG13/ZGWL/lp8/$Kv4NRucUXHhy6P5XRGKeLXHoU0UmcFiKgQXXeyVv7K:", &why)) ;
  CHECK(!passwd_hash_ok("$y$j9T$X.Nf2HnnuG13/ZGWL/lp8/$Kv4NRucUXHhy6P5XRGKeLXHoU0UmcFiKgQXXeyV 7K1", &why)) ;
  CHECK(passwd_hash_ok("$2b$05$m3gAuylc1fi/6.tL/NIvoefRCMjrQbvqh0t8ZowhIMSPSmh82CIxS", &why)) ;
  CHECK(!passwd_hash_ok("$2b$05$m3gAuylc1fi/6.tL/NIvoefRCMjrQbvqh0t8ZowhIMSPSmh82CIx", &why)) ;
  /* an import keeps the legacy methods libcrypt still verifies, and says they are legacy */
  CHECK(passwd_hash_ok_legacy("$1$4g366zzn$DIklHf5ORRtUbS3NjE6QE/", &why) == 2) ;
  CHECK(passwd_hash_ok_legacy("$5$0LrLmpRGTa/fZ6Ju$tkn1gnjLL5Hy103UfVND2m1ADOMsfUTj/4uoL0qoZ97", &why) == 2) ;
  CHECK(passwd_hash_ok_legacy("$2b$05$m3gAuylc1fi/6.tL/NIvoefRCMjrQbvqh0t8ZowhIMSPSmh82CIxS", &why) == 1) ;
  CHECK(!passwd_hash_ok_legacy("$1$4g366zzn$DIklHf5ORRtUbS3NjE6QE", &why)) ;         /* truncated */
  CHECK(!passwd_hash_ok_legacy("IVEkiTb5Vqz6g", &why)) ;                             /* DES: no */
  CHECK(!passwd_hash_ok_legacy("secret", &why)) ;
  CHECK(passwd_legacy("$1$4g366zzn$DIklHf5ORRtUbS3NjE6QE/") && !passwd_legacy("$6$x$y")) ;
  CHECK(!strcmp(passwd_method("$1$4g366zzn$DIklHf5ORRtUbS3NjE6QE/"), "md5crypt")) ;
  {
    char md5[128] ;
    struct crypt_data *cd = calloc(1, sizeof *cd) ;
    char const *h = cd ? crypt_r("md5 secret", "$1$Zq8Hw2Lk$", cd) : 0 ;
    CHECK(h && strlen(h) < sizeof md5) ;
    if (h && strlen(h) < sizeof md5)
    {
      strcpy(md5, h) ;
      CHECK(passwd_verify("md5 secret", md5)) ;                                      /* verified */
      CHECK(!passwd_verify("md5 secreT", md5)) ;
    }
    free(cd) ;
  }
  /* shaped right, but settings crypt(3) rejects: only the deep check sees it */
  CHECK(!passwd_hash_check("$y$!!!$X.Nf2HnnuG13/ZGWL/lp8/$Kv4NRucUXHhy6P5XRGKeLXHoU0UmcFiKgQXXeyVv7K1", &why)) ;

  /* comparison */
  CHECK(passwd_equal("abc", "abc")) ;
  CHECK(!passwd_equal("abc", "abd")) ;
  CHECK(!passwd_equal("abc", "ab")) ;
  CHECK(!passwd_equal("ab", "abc")) ;
  CHECK(!passwd_equal("", "a")) ;
  CHECK(passwd_equal("", "")) ;
  return failed ? 1 : 0 ;
}
