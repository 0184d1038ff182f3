/* unit test for tools/lib/lrtab: lrtab's keys (every length from 0 to 40, keys that differ in
   one byte only, at either end) and lrlive's adds, lookups, removals and in-place filtering,
   checked against a plain model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include "lrtab.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; if (++failed > 20) exit(1) ; } } while (0)

/* keys in a buffer of their own length exactly (malloc'd), so that ASan sees a read past them */
static char *mkkey (unsigned int k, size_t len, int where)
{
  char *p = malloc(len ? len : 1) ;
  if (!p) exit(111) ;
  for (size_t i = 0 ; i < len ; i++) p[i] = (char)('a' + (i * 7 + len) % 26) ;
  if (len)
  {
    /* k in one or two bytes at the start, the middle or the end */
    size_t at = where == 0 ? 0 : where == 1 ? len / 2 : len - 1 ;
    p[at] = (char)(' ' + k % 90) ;
    if (len > 1 && k >= 90) p[at ? at - 1 : 1] = (char)(' ' + (k / 90) % 90) ;
  }
  return p ;
}

#define NLIVE 3000
static struct { char key[LRKEYMAX] ; size_t len ; uint32_t a ; int on ; } model[NLIVE] ;

static int drop_odd (lrlive_entry const *e, void *data)
{
  (void)data ;
  return e->a & 1 ;
}

static size_t live_count (lrlive *t)
{
  size_t n = 0 ;
  for (size_t i = 0 ; i < lrlive_cap(t) ; i++) if (lrlive_at(t, i)) n++ ;
  return n ;
}

int main (void)
{
  static lrtab t ;   /* static: still reachable at the end, for LeakSanitizer */
  static lrlive l ;
  CHECK(!lrtab_init(&t, 0)) ;
  CHECK(lrtab_init(&t, 3)) ;

  /* lrtab: each key once, found again at its index, with its own counters */
  {
    uint32_t n = 0 ;
    for (size_t len = 0 ; len <= 40 ; len++)
      for (int where = 0 ; where < 3 ; where++)
        for (unsigned int k = 0 ; k < (len ? 200 : 1) ; k++)
        {
          char *key = mkkey(k, len, where) ;
          uint32_t before = lrtab_len(&t), i = lrtab_index(&t, key, len) ;
          if (lrtab_len(&t) > before) { CHECK(i == n) ; n++ ; lrtab_counters(&t, i)[1] = i ; }
          CHECK(lrtab_keylen(&t, i) == len && !memcmp(lrtab_key(&t, i), key, len) && !lrtab_key(&t, i)[len]) ;
          free(key) ;
        }
    CHECK(lrtab_len(&t) == n) ;
    for (size_t len = 0 ; len <= 40 ; len++)
      for (int where = 0 ; where < 3 ; where++)
        for (unsigned int k = 0 ; k < (len ? 200 : 1) ; k++)
        {
          char *key = mkkey(k, len, where) ;
          uint64_t *c = lrtab_get(&t, key, len) ;
          uint32_t i = lrtab_index(&t, key, len) ;
          CHECK(c[1] == i) ;
          c[0]++ ;
          free(key) ;
        }
    CHECK(lrtab_len(&t) == n) ;
    for (uint32_t i = 0 ; i < n ; i++) CHECK(lrtab_counters(&t, i)[0] >= 1) ;
  }

  /* lrlive: random adds, finds, removals and filters against the model */
  CHECK(lrlive_init(&l)) ;
  {
    size_t nmodel = 0 ;
    int isnew ;
    srandom(17) ;
    CHECK(!lrlive_get(&l, "", 0, &isnew)) ;
    {
      char big[LRKEYMAX] ;
      memset(big, 'x', sizeof big) ;
      CHECK(!lrlive_get(&l, big, LRKEYMAX, &isnew)) ;
      CHECK(!lrlive_find(&l, big, LRKEYMAX)) ;
    }
    for (unsigned int round = 0 ; round < 300000 ; round++)
    {
      unsigned int r = (unsigned int)random() % 100 ;
      if (r < 45 && nmodel < NLIVE)
      {
        /* an ID of the queue's shape, or a short key */
        char key[LRKEYMAX] ;
        unsigned int k = (unsigned int)random() % 20000 ;
        size_t len = random() % 4 ? (size_t)snprintf(key, sizeof key, "1767%06u.%06u.%u", k, k * 7 % 1000000, k % 97)
                                  : (size_t)snprintf(key, sizeof key, "%u", k) ;
        size_t j ;
        lrlive_entry *e ;
        for (j = 0 ; j < NLIVE ; j++) if (model[j].on && model[j].len == len && !memcmp(model[j].key, key, len)) break ;
        e = lrlive_get(&l, key, len, &isnew) ;
        CHECK(e && e->klen == len && !memcmp(e->key, key, len)) ;
        if (j < NLIVE) { CHECK(!isnew) ; CHECK(e && e->a == model[j].a) ; continue ; }
        CHECK(isnew) ;
        CHECK(!lrlive_add(&l, key, len)) ;
        for (j = 0 ; model[j].on ; j++) ;
        memcpy(model[j].key, key, len) ; model[j].len = len ; model[j].on = 1 ;
        model[j].a = (uint32_t)random() ;
        if (e) e->a = model[j].a ;
        nmodel++ ;
      }
      else if (r < 90 && nmodel)
      {
        size_t j ;
        lrlive_entry *e ;
        do j = (size_t)random() % NLIVE ; while (!model[j].on) ;
        e = lrlive_find(&l, model[j].key, model[j].len) ;
        CHECK(e && e->a == model[j].a) ;
        if (e && r < 75) { lrlive_del(&l, e) ; model[j].on = 0 ; nmodel-- ; CHECK(!lrlive_find(&l, model[j].key, model[j].len)) ; }
      }
      else if (r == 99 && !(round % 7))
      {
        /* the live keys are distinct: each dropped one is gone, each other one is there */
        lrlive_filter(&l, &drop_odd, 0) ;
        for (size_t j = 0 ; j < NLIVE ; j++)
        {
          if (!model[j].on) continue ;
          if (model[j].a & 1) { CHECK(!lrlive_find(&l, model[j].key, model[j].len)) ; model[j].on = 0 ; nmodel-- ; }
          else CHECK(lrlive_find(&l, model[j].key, model[j].len) != 0) ;
        }
      }
      if (!(round % 10000)) CHECK(live_count(&l) == nmodel) ;
    }
    CHECK(live_count(&l) == nmodel) ;
    for (size_t j = 0 ; j < NLIVE ; j++)
      if (model[j].on) { lrlive_entry *e = lrlive_find(&l, model[j].key, model[j].len) ; CHECK(e && e->a == model[j].a) ; }
    /* a prefix dropped */
    lrlive_drop_prefix(&l, "1767", 4) ;
    for (size_t j = 0 ; j < NLIVE ; j++)
      if (model[j].on) CHECK(!lrlive_find(&l, model[j].key, model[j].len) == (model[j].len >= 4 && !memcmp(model[j].key, "1767", 4))) ;
  }
  if (failed) { fprintf(stderr, "lrtab: %d checks failed\n", failed) ; return 1 ; }
  return 0 ;
}
