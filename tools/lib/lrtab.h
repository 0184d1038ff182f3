/* lrtab: the tables of log-report. lrtab counts by key (bytes): each key gets a fixed number
   of 64-bit counters, keys are never removed, so memory grows with the distinct keys alone.
   lrlive holds what is open now (messages in the queue, deliveries running), small entries
   with a short key, removed when done. lrhist keeps a distribution of durations in fixed
   memory. The functions that grow a table die (exit 111, PROG's message) when memory runs
   out: a report without its counts is no report. */
#ifndef SLUICE_LRTAB_H
#define SLUICE_LRTAB_H
#include <stddef.h>
#include <stdint.h>

typedef struct lrtab_s lrtab ;
struct lrtab_s
{
  uint64_t *slot ;            /* the key's hash << 32 | its entry + 1; 0 for empty */
  uint32_t mask ;
  uint32_t n, cap ;
  unsigned int ncnt ;
  uint64_t *koff ;
  uint32_t *klen ;
  uint64_t *cnt ;
  char *kb ;                  /* the keys, each followed by a 0 */
  size_t kblen, kbcap ;
} ;

/* A table of ncnt (1 to 64) counters per key. 1, or 0 (no memory). */
extern int lrtab_init (lrtab *t, unsigned int ncnt) ;
/* The counters of key k[0..len) (zeroed when new), valid until the next insertion. */
extern uint64_t *lrtab_get (lrtab *t, char const *k, size_t len) ;
/* The index of key k (added when new): stable for the table's life. */
extern uint32_t lrtab_index (lrtab *t, char const *k, size_t len) ;
static inline uint64_t *lrtab_counters (lrtab const *t, uint32_t i) { return t->cnt + (size_t)i * t->ncnt ; }
static inline char const *lrtab_key (lrtab const *t, uint32_t i) { return t->kb + t->koff[i] ; }     /* 0-terminated */
static inline size_t lrtab_keylen (lrtab const *t, uint32_t i) { return t->klen[i] ; }
#define lrtab_len(t) ((t)->n)
/* The indices of at most max keys with the largest counter c (or the sum of the counters
   when c is -1), largest first, equal ones by key; keys whose value is 0 left out. Their
   number. */
extern size_t lrtab_top (lrtab const *t, int c, uint32_t *out, size_t max) ;
/* All the indices, sorted by key (bytes, shorter first on a common prefix). */
extern uint32_t *lrtab_sorted (lrtab const *t) ;

#define LRKEYMAX 48
typedef struct lrlive_entry_s lrlive_entry ;
struct lrlive_entry_s
{
  char key[LRKEYMAX] ;
  uint32_t klen ;             /* 0: a free slot */
  uint32_t hash ;
  uint32_t a, b ;             /* the user's */
  uint64_t t ;                /* the user's */
} ;
typedef struct lrlive_s lrlive ;
struct lrlive_s { lrlive_entry *e ; uint32_t mask, n ; } ;

extern int lrlive_init (lrlive *t) ;
/* The entry of key k (1 to LRKEYMAX-1 bytes), or 0. */
extern lrlive_entry *lrlive_find (lrlive *t, char const *k, size_t len) ;
/* A new entry for key k, not in the table yet, other fields zero; pointers to entries are
   invalid afterwards. 0 when k is there already or has no valid length. */
extern lrlive_entry *lrlive_add (lrlive *t, char const *k, size_t len) ;
/* The entry of key k, added (other fields zero, *isnew 1) when it is not there: one lookup
   for both. 0 when k has no valid length. */
extern lrlive_entry *lrlive_get (lrlive *t, char const *k, size_t len, int *isnew) ;
/* Remove e; pointers to entries are invalid afterwards. */
extern void lrlive_del (lrlive *t, lrlive_entry *e) ;
/* Remove every entry whose key starts with p[0..len). */
extern void lrlive_drop_prefix (lrlive *t, char const *p, size_t len) ;
/* Remove every entry for which drop says 1. */
extern void lrlive_filter (lrlive *t, int (*drop) (lrlive_entry const *, void *), void *data) ;
#define lrlive_cap(t) ((size_t)(t)->mask + 1)
#define lrlive_at(t, i) ((t)->e[i].klen ? (t)->e + (i) : (lrlive_entry *)0)

/* Durations in milliseconds: buckets of at most 1/64 of their value (exact below 128 ms),
   the count and the largest; and the counts in the fixed bands LRHIST_BANDS. */
#define LRHIST_NB (128 + 58 * 64)
#define LRHIST_NBANDS 8
typedef struct lrhist_s lrhist ;
struct lrhist_s { uint64_t b[LRHIST_NB] ; uint64_t n, max, sum ; uint64_t band[LRHIST_NBANDS] ; } ;
/* the upper ends of the bands, in ms (the last: no end) */
extern uint64_t const lrhist_bands[LRHIST_NBANDS] ;
extern char const *const lrhist_bandnames[LRHIST_NBANDS] ;
extern void lrhist_add (lrhist *h, uint64_t ms) ;
/* The q-quantile (0 < q <= 1): the middle of its bucket, at most the largest. 0 when empty. */
extern uint64_t lrhist_quantile (lrhist const *h, double q) ;

#endif
