/* unit tests for tools/lib/authfail: address keys, counting and forgetting failures (with
   the clock given, so no waiting), refusal, delays, the slots reused when a window is full. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "authfail.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

static int same_key (char const *a, char const *b)
{
  unsigned char x[16], y[16] ;
  return authfail_key(x, a) && authfail_key(y, b) && !memcmp(x, y, 16) ;
}

int main (int argc, char const *const *argv)
{
  char path[512] ;
  authfail_policy p = { .max = 3, .window = 100, .delay = 10 } ;
  authfail a = AUTHFAIL_ZERO, b = AUTHFAIL_ZERO ;
  uint32_t n ;
  time_t t = 1700000000 ;
  struct stat st ;
  if (argc < 2) { fprintf(stderr, "usage: authfail scratchdir\n") ; return 2 ; }
  snprintf(path, sizeof path, "%s/authfail", argv[1]) ;

  /* keys: IPv4, IPv4-mapped IPv6 the same; IPv6 by its /64 */
  {
    unsigned char k[16] ;
    CHECK(authfail_key(k, "192.0.2.7") && k[10] == 0xff && k[11] == 0xff && k[12] == 192 && k[15] == 7) ;
    CHECK(same_key("192.0.2.7", "::ffff:192.0.2.7")) ;
    CHECK(!same_key("192.0.2.7", "192.0.2.8")) ;
    CHECK(same_key("2001:db8::1", "2001:db8::ffff:2")) ;
    CHECK(!same_key("2001:db8::1", "2001:db8:0:1::1")) ;
    CHECK(!authfail_key(k, "") && !authfail_key(k, "unknown") && !authfail_key(k, 0) && !authfail_key(k, "1.2.3")) ;
  }

  /* no address, nothing counted, no file */
  CHECK(authfail_open(&a, path, 0) == 0 && a.fd < 0) ;
  CHECK(authfail_open(&a, path, "not an address") == 0 && access(path, F_OK) < 0) ;

  /* counting, refusing, forgetting */
  CHECK(authfail_open(&a, path, "192.0.2.7") == 1 && a.fd >= 0) ;
  CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0660) ;
  CHECK(authfail_blocked(&a, &p, t, &n) == 0 && n == 0) ;
  CHECK(authfail_record(&a, &p, t, &n) == 1 && n == 1) ;
  CHECK(authfail_record(&a, &p, t + 10, &n) == 1 && n == 2) ;
  CHECK(authfail_blocked(&a, &p, t + 10, &n) == 0 && n == 2) ;
  /* another process, another descriptor: the same count */
  CHECK(authfail_open(&b, path, "::ffff:192.0.2.7") == 1) ;
  CHECK(authfail_record(&b, &p, t + 20, &n) == 1 && n == 3) ;
  CHECK(authfail_blocked(&a, &p, t + 20, &n) == 1 && n == 3) ;
  CHECK(authfail_blocked(&a, &p, t + 119, &n) == 1) ;            /* 99 s after the last */
  CHECK(authfail_blocked(&a, &p, t + 120, &n) == 0 && n == 0) ;  /* window seconds after: forgotten */
  CHECK(authfail_record(&a, &p, t + 120, &n) == 1 && n == 1) ;   /* and counted afresh */
  authfail_close(&b) ;
  CHECK(authfail_open(&b, path, "192.0.2.8") == 1) ;
  CHECK(authfail_blocked(&b, &p, t + 120, &n) == 0 && n == 0) ;  /* another address */
  authfail_close(&b) ;
  {
    authfail_policy never = p ;
    never.max = 0 ;
    CHECK(authfail_record(&a, &never, t + 121, &n) == 1 && authfail_record(&a, &never, t + 122, &n) == 1 && n == 3) ;
    CHECK(authfail_blocked(&a, &never, t + 122, &n) == 0 && n == 3) ;   /* max 0: never refused */
  }
  authfail_close(&a) ;

  /* delays: the base, then p.delay more for each failure before, the growth capped */
  CHECK(authfail_delay(&p, 2000, 0) == 2000 && authfail_delay(&p, 2000, 1) == 2000) ;
  CHECK(authfail_delay(&p, 2000, 2) == 2010 && authfail_delay(&p, 0, 5) == 40) ;
  {
    authfail_policy slow = { .max = 3, .window = 100, .delay = 20000 } ;
    CHECK(authfail_delay(&slow, 0, 2) == 20000 && authfail_delay(&slow, 0, 3) == AUTHFAIL_DELAYMAX) ;
    CHECK(authfail_delay(&slow, 500, 4000000000u) == 500 + AUTHFAIL_DELAYMAX) ;
    slow.delay = 0 ;
    CHECK(authfail_delay(&slow, 7, 100) == 7) ;
  }

  /* many addresses: the file never grows past its slots; each address keeps its own count
     until its window of slots is full, then the oldest gives way */
  {
    unsigned int i, kept = 0 ;
    char ip[32] ;
    p.window = 1000000 ;   /* none forgotten meanwhile */
    for (i = 0 ; i < 20000 ; i++)
    {
      snprintf(ip, sizeof ip, "10.%u.%u.%u", i >> 16 & 255, i >> 8 & 255, i & 255) ;
      CHECK(authfail_open(&a, path, ip) == 1) ;
      CHECK(authfail_record(&a, &p, t + 200 + i, &n) == 1 && n == 1) ;
      authfail_close(&a) ;
    }
    CHECK(stat(path, &st) == 0 && st.st_size <= AUTHFAIL_SLOTS * 32) ;
    for (i = 19000 ; i < 20000 ; i++)
    {
      snprintf(ip, sizeof ip, "10.%u.%u.%u", i >> 16 & 255, i >> 8 & 255, i & 255) ;
      CHECK(authfail_open(&a, path, ip) == 1) ;
      CHECK(authfail_blocked(&a, &p, t + 20200, &n) == 0) ;
      kept += n == 1 ;
      authfail_close(&a) ;
    }
    CHECK(kept >= 900) ;   /* the newest are nearly all there */
  }

  /* not a regular file, or a symbolic link: an error, never followed */
  snprintf(path, sizeof path, "%s/dir", argv[1]) ;
  CHECK(mkdir(path, 0700) == 0) ;
  CHECK(authfail_open(&a, path, "192.0.2.7") == -1) ;
  snprintf(path, sizeof path, "%s/link", argv[1]) ;
  CHECK(symlink("authfail", path) == 0) ;
  CHECK(authfail_open(&a, path, "192.0.2.7") == -1 && errno == ELOOP) ;
  return failed ? 1 : 0 ;
}
