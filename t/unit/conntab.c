/* unit test for tools/lib/conntab: random adds and removes checked against a plain model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include "conntab.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; if (++failed > 20) exit(1) ; } } while (0)

#define MAX 1000
static struct { pid_t pid ; char ip[16] ; } model[MAX] ;
static unsigned int nmodel = 0 ;

static unsigned int model_count (char const *ip)
{
  unsigned int i, n = 0 ;
  for (i = 0 ; i < nmodel ; i++) if (!memcmp(model[i].ip, ip, 16)) n++ ;
  return n ;
}

static void mkip (char *ip, unsigned int k)
{
  memset(ip, 0, 16) ;
  if (k & 1) { ip[10] = ip[11] = (char)0xff ; ip[12] = 10 ; ip[15] = (char)(k >> 1) ; }
  else { ip[0] = 0x20 ; ip[1] = 0x01 ; ip[14] = (char)(k >> 9) ; ip[15] = (char)(k >> 1) ; }
}

int main (void)
{
  conntab t = CONNTAB_ZERO ;
  char ip[16] ;
  pid_t next = 2 ;
  unsigned int round, i ;
  srandom(42) ;
  CHECK(!conntab_init(&t, 0)) ;
  CHECK(conntab_init(&t, MAX)) ;
  mkip(ip, 7) ;
  CHECK(conntab_count(&t, ip) == 0) ;
  CHECK(conntab_remove(&t, 12345) == -1) ;
  for (round = 0 ; round < 200000 ; round++)
  {
    int add = nmodel < MAX && (nmodel == 0 || random() % 100 < (round % 20000 < 10000 ? 70 : 30)) ;
    if (add)
    {
      unsigned int k = random() % (random() % 4 ? 60 : 5000) ;
      mkip(ip, k) ;
      unsigned int want = model_count(ip) + 1 ;
      unsigned int got = conntab_add(&t, ip, next) ;
      CHECK(got == want) ;
      model[nmodel].pid = next ; memcpy(model[nmodel].ip, ip, 16) ; nmodel++ ;
      next += 1 + random() % 3 ;
      if (next > 4000000) next = 2 ;
    }
    else
    {
      unsigned int j = random() % nmodel ;
      pid_t pid = model[j].pid ;
      memcpy(ip, model[j].ip, 16) ;
      model[j] = model[--nmodel] ;
      CHECK(conntab_remove(&t, pid) == (int)model_count(ip)) ;
      CHECK(conntab_remove(&t, pid) == -1) ;
    }
    CHECK(t.n == nmodel) ;
    if (!(round % 997)) for (i = 0 ; i < nmodel ; i++) CHECK(conntab_count(&t, model[i].ip) == model_count(model[i].ip)) ;
  }
  while (nmodel < MAX) { mkip(ip, 3) ; conntab_add(&t, ip, next++) ; model[nmodel++].pid = next - 1 ; }
  mkip(ip, 3) ;
  CHECK(conntab_add(&t, ip, next) == 0) ;
  conntab_free(&t) ;
  return !!failed ;
}
