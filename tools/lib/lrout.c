#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <skalibs/buffer.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "lrout.h"

#define NS 1000000000ULL

/* ---- writing ---------------------------------------------------------------------------------- */

static void put (char const *s, size_t n) { if (buffer_put(buffer_1, s, n) < 0) strerr_diefu1sys(111, "write to stdout") ; }
static void puts_ (char const *s) { put(s, strlen(s)) ; }
static void putu (uint64_t u) { char f[UINT64_FMT] ; put(f, uint64_fmt(f, u)) ; }

/* u, right-aligned in w columns */
static void putuw (uint64_t u, unsigned int w)
{
  char f[UINT64_FMT] ;
  size_t n = uint64_fmt(f, u) ;
  while (w-- > n) put(" ", 1) ;
  put(f, n) ;
}

/* text safe for a terminal: anything outside printable ASCII as '?' */
static void puttext (char const *s, size_t n)
{
  for (size_t i = 0 ; i < n ; i++) { char c = s[i] ; if (c < 0x20 || c > 0x7e) c = '?' ; put(&c, 1) ; }
}

static void putpad (char const *s, size_t n, size_t w)
{
  puttext(s, n) ;
  while (n++ < w) put(" ", 1) ;
}

static void putjs (char const *s, size_t n)
{
  put("\"", 1) ;
  for (size_t i = 0 ; i < n ; i++)
  {
    unsigned char c = s[i] ;
    if (c == '"' || c == '\\') { char e[2] = { '\\', (char)c } ; put(e, 2) ; }
    else if (c < 0x20 || c > 0x7e) put("?", 1) ;
    else put((char const *)&c, 1) ;
  }
  put("\"", 1) ;
}
static void putjss (char const *s) { putjs(s, strlen(s)) ; }

static void puth (char const *s, size_t n)
{
  for (size_t i = 0 ; i < n ; i++)
  {
    unsigned char c = s[i] ;
    if (c == '<') puts_("&lt;") ;
    else if (c == '>') puts_("&gt;") ;
    else if (c == '&') puts_("&amp;") ;
    else if (c == '"') puts_("&quot;") ;
    else if (c < 0x20 || c > 0x7e) put("?", 1) ;
    else put((char const *)&c, 1) ;
  }
}
static void puths (char const *s) { puth(s, strlen(s)) ; }

/* a number with one decimal: v / d */
static void putdec1 (uint64_t v, uint64_t d)
{
  uint64_t x = (v * 10 + d / 2) / d ;
  putu(x / 10) ; put(".", 1) ; putu(x % 10) ;
}

static void putbytes (uint64_t b)
{
  if (b < 10000) { putu(b) ; puts_(" B") ; }
  else if (b < 10000000) { putdec1(b, 1000) ; puts_(" kB") ; }
  else if (b < 10000000000ULL) { putdec1(b, 1000000) ; puts_(" MB") ; }
  else { putdec1(b, 1000000000) ; puts_(" GB") ; }
}

/* a duration in ms, for a person */
static void putdur (uint64_t ms)
{
  if (ms < 10000) { putdec1(ms, 1000) ; puts_(" s") ; }
  else if (ms < 600000) { putu((ms + 500) / 1000) ; puts_(" s") ; }
  else if (ms < 36000000) { putdec1(ms, 60000) ; puts_(" min") ; }
  else if (ms < 172800000) { putdec1(ms, 3600000) ; puts_(" h") ; }
  else { putdec1(ms, 86400000) ; puts_(" days") ; }
}

/* seconds with milliseconds, for JSON */
static void putsecs (uint64_t ms) { putu(ms / 1000) ; put(".", 1) ; { char f[4] = { (char)('0' + ms % 1000 / 100), (char)('0' + ms % 100 / 10), (char)('0' + ms % 10), 0 } ; puts_(f) ; } }

/* local time: "2026-12-01 13:00" (or the date alone) */
static void puttime (uint64_t ns, int dateonly)
{
  time_t t = (time_t)(ns / NS) ;
  struct tm tm ;
  char buf[64] ;
  if (!localtime_r(&t, &tm)) { puts_("?") ; return ; }
  puts_(strftime(buf, sizeof buf, dateonly ? "%Y-%m-%d" : "%Y-%m-%d %H:%M", &tm) ? buf : "?") ;
}

static uint64_t total (lrtab const *t, unsigned int c)
{
  uint64_t s = 0 ;
  for (uint32_t i = 0 ; i < lrtab_len(t) ; i++) s += lrtab_counters(t, i)[c] ;
  return s ;
}

static uint32_t *topbuf (unsigned int n)
{
  uint32_t *v = malloc((n ? n : 1) * sizeof *v) ;
  if (!v) strerr_diefu1sys(111, "allocate memory") ;
  return v ;
}

/* keys of the form "a\tb": the length of a */
static size_t tabpos (char const *k, size_t n)
{
  char const *p = memchr(k, '\t', n) ;
  return p ? (size_t)(p - k) : n ;
}

/* ---- time buckets for the charts and the table by time ---------------------------------------- */

enum { BK_HOUR, BK_DAY, BK_WEEK } ;
typedef struct { uint64_t t ; uint64_t v[HR_N] ; } bucket ;

static void bucket_add (bucket *b, uint64_t const *v)
{
  for (unsigned int k = 0 ; k < HR_N ; k++)
    if (k == HR_QMAX) { if (v[HR_QSET] && (!b->v[HR_QSET] || v[k] > b->v[k])) b->v[k] = v[k] ; }
    else if (k == HR_QSET) b->v[k] |= v[k] ;
    else b->v[k] += v[k] ;
}

/* the start of the bucket after the one that starts at t (ns) */
static uint64_t bucket_next (uint64_t t, int kind)
{
  time_t tt = (time_t)(t / NS) ;
  struct tm tm ;
  if (kind == BK_HOUR) return t + 3600 * NS ;
  localtime_r(&tt, &tm) ;
  tm.tm_mday += kind == BK_DAY ? 1 : 7 ;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0 ; tm.tm_isdst = -1 ;
  return (uint64_t)mktime(&tm) * NS ;
}

/* the hours, summed into hours, local days or weeks (by the span): their number */
static size_t buckets (lrreport const *r, bucket **out, int *kind)
{
  lrtab const *h = r->hours ;
  uint32_t *idx = lrtab_sorted(h) ;
  uint64_t lo = UINT64_MAX, hi = 0 ;
  size_t n = 0 ;
  bucket *b ;
  for (uint32_t i = 0 ; i < lrtab_len(h) ; i++)
  {
    uint32_t x ;
    memcpy(&x, lrtab_key(h, i), 4) ;
    if (x < lo) lo = x ;
    if (x > hi) hi = x ;
  }
  *kind = !lrtab_len(h) || hi - lo < 72 ? BK_HOUR : hi - lo < 24 * 92 ? BK_DAY : BK_WEEK ;
  b = calloc(lrtab_len(h) ? lrtab_len(h) : 1, sizeof *b) ;
  if (!b) strerr_diefu1sys(111, "allocate memory") ;
  /* the keys are host-endian hours: sorted by value, not by bytes */
  {
    uint32_t *hv = topbuf(lrtab_len(h)) ;
    for (uint32_t i = 0 ; i < lrtab_len(h) ; i++) memcpy(hv + i, lrtab_key(h, i), 4) ;
    for (uint32_t i = 1 ; i < lrtab_len(h) ; i++)
    {
      uint32_t a = idx[i], k = i ;
      while (k && hv[idx[k - 1]] > hv[a]) { idx[k] = idx[k - 1] ; k-- ; }
      idx[k] = a ;
    }
    for (uint32_t i = 0 ; i < lrtab_len(h) ; i++)
    {
      uint64_t t = (uint64_t)hv[idx[i]] * 3600 ;
      if (*kind != BK_HOUR)
      {
        time_t tt = (time_t)t ;
        struct tm tm ;
        localtime_r(&tt, &tm) ;
        if (*kind == BK_WEEK) tm.tm_mday -= (tm.tm_wday + 6) % 7 ;   /* from Monday */
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0 ; tm.tm_isdst = -1 ;
        t = (uint64_t)mktime(&tm) ;
      }
      t *= NS ;
      if (!n || b[n - 1].t != t) { b[n].t = t ; n++ ; }
      bucket_add(b + n - 1, lrtab_counters(h, idx[i])) ;
    }
    free(hv) ;
  }
  free(idx) ;
  /* the buckets without a line in between, as zeros: a chart's x axis is time */
  if (n > 1)
  {
    size_t m = 0, cap = 0 ;
    bucket *f = 0 ;
    uint64_t t = b[0].t ;
    for (size_t i = 0 ; i < n && m <= 10000 ; m++)
    {
      if (m == cap)
      {
        bucket *g = realloc(f, (cap = cap ? 2 * cap : 128) * sizeof *g) ;
        if (!g) strerr_diefu1sys(111, "allocate memory") ;
        f = g ;
      }
      if (b[i].t <= t) { f[m] = b[i++] ; t = f[m].t ; }
      else { memset(f + m, 0, sizeof *f) ; f[m].t = t ; }
      t = bucket_next(t, *kind) ;
    }
    if (m <= 10000) { free(b) ; b = f ; n = m ; }
    else free(f) ;
  }
  *out = b ;
  return n ;
}

static char const *const bkname[3] = { "hour", "day", "week" } ;

/* ---- text ------------------------------------------------------------------------------------- */

static void text_head (char const *s) { puts_("\n") ; puts_(s) ; puts_("\n") ; }

static void text_top (lrtab const *t, int c, unsigned int top, char const *head, unsigned int ncol, int const *cols)
{
  uint32_t *v = topbuf(top) ;
  size_t n = lrtab_top(t, c, v, top) ;
  if (n)
  {
    puts_(head) ;
    for (size_t i = 0 ; i < n ; i++)
    {
      uint64_t const *x = lrtab_counters(t, v[i]) ;
      for (unsigned int k = 0 ; k < ncol ; k++) { putuw(x[cols[k]], 10) ; }
      puts_("  ") ;
      puttext(lrtab_key(t, v[i]), lrtab_keylen(t, v[i])) ;
      puts_("\n") ;
    }
  }
  free(v) ;
}

void lrout_text (lrreport const *r)
{
  uint64_t const *n = r->n ;
  lrtab const *sv = r->svc ;
  uint32_t *ord = lrtab_sorted(sv) ;
  puts_("sluice log report") ;
  if (n[LR_FIRST]) { puts_(": ") ; puttime(n[LR_FIRST], 0) ; puts_(" to ") ; puttime(n[LR_LAST], 0) ; }
  puts_("\n") ;
  if (r->start || r->end)
  {
    puts_("range: ") ;
    if (r->start) puttime(r->start, 0) ; else puts_("the start") ;
    puts_(" to ") ;
    if (r->end) puttime(r->end, 0) ; else puts_("the end") ;
    puts_("\n") ;
  }
  puts_("lines: ") ; putu(n[LR_READ]) ; puts_(" read, ") ; putu(n[LR_USED]) ; puts_(" used, ") ;
  putu(n[LR_FOREIGN]) ; puts_(" foreign, ") ; putu(n[LR_MALFORMED]) ; puts_(" malformed, ") ;
  putu(n[LR_UNSTAMPED]) ; puts_(" without a stamp, ") ; putu(n[LR_OUTSIDE]) ; puts_(" outside the range") ;
  if (n[LR_SKIPPEDFILES]) { puts_(", ") ; putu(n[LR_SKIPPEDFILES]) ; puts_(" rotated files before the start left unread") ; }
  puts_("\n") ;

  text_head("Connections (tcpsrv)") ;
  puts_("  service           accepted  denied by rule  denied by limit  limit reached  failed\n") ;
  for (uint32_t k = 0 ; k < lrtab_len(sv) ; k++)
  {
    uint32_t i = ord[k] ;
    uint64_t const *x = lrtab_counters(sv, i) ;
    if (!x[SV_CONN] && !x[SV_DENYRULE] && !x[SV_DENYLIMIT] && !x[SV_RBLDENY]) continue ;
    puts_("  ") ; putpad(lrtab_key(sv, i), lrtab_keylen(sv, i), 14) ;
    putuw(x[SV_CONN], 11) ; putuw(x[SV_DENYRULE], 16) ; putuw(x[SV_DENYLIMIT], 17) ;
    putuw(x[SV_LIMIT], 15) ; putuw(x[SV_CHILDFAIL], 8) ; puts_("\n") ;
  }
  {
    static int const cols[] = { CL_CONN, CL_DENY } ;
    text_top(r->clients, -1, r->top, "  the most active clients:\n  connections  denied  address\n", 2, cols) ;
  }
  {
    static int const cols[] = { CL_DENY } ;
    text_top(r->clients, CL_DENY, r->top, "  top denied clients:\n     denied  address\n", 1, cols) ;
  }

  text_head("DNS block lists (rblsmtpd)") ;
  {
    static int const cols[] = { RB_DENY, RB_TAG, RB_FAIL } ;
    if (lrtab_len(r->rbl)) text_top(r->rbl, -1, r->top, "    refused    tagged  lookup failed  list\n", 3, cols) ;
    else puts_("  none\n") ;
  }

  text_head("SMTP (smtpd)") ;
  puts_("  messages accepted: ") ; putu(total(sv, SV_ACCEPT)) ; puts_(" (") ; putbytes(total(sv, SV_BYTES)) ; puts_(")") ;
  for (uint32_t k = 0 ; k < lrtab_len(sv) ; k++)
  {
    uint64_t const *x = lrtab_counters(sv, ord[k]) ;
    if (!x[SV_ACCEPT]) continue ;
    puts_(", ") ; puttext(lrtab_key(sv, ord[k]), lrtab_keylen(sv, ord[k])) ; puts_(" ") ; putu(x[SV_ACCEPT]) ;
  }
  puts_("\n  rejections: ") ; putu(total(sv, SV_REJECT)) ; puts_("\n") ;
  {
    static int const cols[] = { 0 } ;
    text_top(r->rejects, 0, r->top, "      count  reason\n", 1, cols) ;
  }
  puts_("  AUTH: ") ;
  {
    int any = 0 ;
    for (uint32_t k = 0 ; k < lrtab_len(sv) ; k++)
    {
      uint64_t const *x = lrtab_counters(sv, ord[k]) ;
      if ((!x[SV_AUTHOK] && !x[SV_AUTHFAIL]) || x[SV_POP]) continue ;
      if (any++) puts_(", ") ;
      puttext(lrtab_key(sv, ord[k]), lrtab_keylen(sv, ord[k])) ; puts_(" ") ;
      putu(x[SV_AUTHOK]) ; puts_(" logins, ") ; putu(x[SV_AUTHFAIL]) ; puts_(" failures") ;
    }
    if (!any) puts_("none") ;
    puts_("\n") ;
  }
  {
    static int const cols[] = { CL_AUTHFAIL } ;
    text_top(r->clients, CL_AUTHFAIL, r->top, "  login failures by client address:\n   failures  address\n", 1, cols) ;
  }
  {
    static int const cols[] = { 0 } ;
    text_top(r->authreasons, 0, r->top, "  refused by auth-check:\n      count  why\n", 1, cols) ;
    text_top(r->authusers, 0, r->top, "  refused logins:\n      count  login\n", 1, cols) ;
  }
  {
    static int const cols[] = { 0, 1 } ;
    text_top(r->senders, 0, r->top, "  top senders:\n   messages     bytes  sender\n", 2, cols) ;
  }
  {
    static int const cols[] = { 0 } ;
    text_top(r->rcptdoms, 0, r->top, "  top recipient domains:\n recipients  domain\n", 1, cols) ;
    text_top(r->ends, 0, r->top, "  sessions cut short (service, why):\n      count  service and reason\n", 1, cols) ;
  }

  text_head("Queue and delivery (queue-run)") ;
  if (!n[LR_QUEUE]) puts_("  no queue log\n") ;
  else
  {
    bucket *b ; int kind ; size_t nb = buckets(r, &b, &kind) ;
    puts_("  messages: ") ; putu(n[LR_QNEW]) ; puts_(" queued (") ; putbytes(n[LR_QBYTES]) ; puts_("), ") ;
    putu(n[LR_QEND]) ; puts_(" done; ") ; putu(n[LR_FOLLOWED]) ; puts_(" followed from smtpd's accept, ") ;
    putu(n[LR_LOCAL]) ; puts_(" from elsewhere\n") ;
    puts_("  accepted by smtpd, never seen by the queue: ") ; putu(n[LR_UNSEEN]) ;
    puts_("; still queued at the end: ") ; putu(n[LR_LEFTOVER]) ; puts_("\n") ;
    puts_("  bounces: ") ; putu(n[LR_BOUNCES]) ; puts_(", delay warnings: ") ; putu(n[LR_DELAYWARN]) ;
    puts_(", double bounces discarded: ") ; putu(n[LR_DBLBOUNCE]) ; puts_(", queue-run starts: ") ; putu(n[LR_RESTARTS]) ; puts_("\n") ;
    puts_("  deliveries: ") ; putu(n[LR_DOK]) ; puts_(" success, ") ; putu(n[LR_DDEFER]) ; puts_(" deferral, ") ; putu(n[LR_DFAIL]) ; puts_(" failure") ;
    if (n[LR_DORPHAN]) { puts_(" (") ; putu(n[LR_DORPHAN]) ; puts_(" without their start)") ; }
    puts_("\n") ;
    {
      uint32_t *v = topbuf(r->top), *w = topbuf(3) ;
      size_t k = lrtab_top(r->doms, -1, v, r->top) ;
      if (k) puts_("    success  deferral   failure  domain\n") ;
      for (size_t i = 0 ; i < k ; i++)
      {
        uint64_t const *x = lrtab_counters(r->doms, v[i]) ;
        char const *d = lrtab_key(r->doms, v[i]) ;
        size_t dl = lrtab_keylen(r->doms, v[i]) ;
        putuw(x[DM_OK], 11) ; putuw(x[DM_DEFER], 10) ; putuw(x[DM_FAIL], 10) ; puts_("  ") ; puttext(d, dl) ; puts_("\n") ;
        /* its top reasons */
        {
          size_t m = 0 ;
          uint64_t best[3] = { 0, 0, 0 } ;
          for (uint32_t j = 0 ; j < lrtab_len(r->dreasons) ; j++)
          {
            char const *key = lrtab_key(r->dreasons, j) ;
            size_t kl = lrtab_keylen(r->dreasons, j), p = tabpos(key + 1, kl - 1) ;
            uint64_t c = lrtab_counters(r->dreasons, j)[0] ;
            size_t q ;
            if (p != dl || memcmp(key + 1, d, dl)) continue ;
            if (m == 3 && c <= best[2]) continue ;
            if (m < 3) m++ ;
            for (q = m - 1 ; q && best[q - 1] < c ; q--) { best[q] = best[q - 1] ; w[q] = w[q - 1] ; }
            best[q] = c ; w[q] = j ;
          }
          for (size_t q = 0 ; q < m ; q++)
          {
            char const *key = lrtab_key(r->dreasons, w[q]) ;
            size_t kl = lrtab_keylen(r->dreasons, w[q]), p = tabpos(key + 1, kl - 1) ;
            puts_("             ") ; putuw(best[q], 8) ; puts_(key[0] == 'f' ? " failed: " : " deferred: ") ;
            puttext(key + 2 + p, kl - 2 - p) ; puts_("\n") ;
          }
        }
      }
      free(v) ; free(w) ;
    }
    if (r->delays->n)
    {
      puts_("  delay from arrival to delivery: median ") ; putdur(lrhist_quantile(r->delays, 0.5)) ;
      puts_(", 95th percentile ") ; putdur(lrhist_quantile(r->delays, 0.95)) ;
      puts_(", worst ") ; putdur(r->delays->max) ;
      if (r->worstid[0]) { puts_(" (msg ") ; puttext(r->worstid, strlen(r->worstid)) ; puts_(" to ") ; puttext(r->worstdom, strlen(r->worstdom)) ; puts_(")") ; }
      puts_("\n") ;
      for (unsigned int k = 0 ; k < LRHIST_NBANDS ; k++)
        if (r->delays->band[k]) { puts_("    ") ; putpad(lrhist_bandnames[k], strlen(lrhist_bandnames[k]), 12) ; putuw(r->delays->band[k], 10) ; puts_("\n") ; }
    }
    puts_("  queue size: largest ") ; putu(n[LR_QMAX]) ;
    if (n[LR_QMAXAT]) { puts_(" at ") ; puttime(n[LR_QMAXAT], 0) ; }
    puts_(n[LR_QKNOWN] ? "\n" : " (counted from the log's new and end lines: messages queued before it are not known)\n") ;
    {
      int any = 0 ;
      for (size_t i = 0 ; i < nb ; i++)
      {
        if (!b[i].v[HR_QSET]) continue ;
        if (!any++) { puts_("  largest queue by ") ; puts_(bkname[kind]) ; puts_(":") ; }
        puts_(" ") ; puttime(b[i].t, kind != BK_HOUR) ; puts_(" ") ; putu(b[i].v[HR_QMAX]) ; puts_(";") ;
      }
      if (any) puts_("\n") ;
    }
    free(b) ;
  }

  text_head("POP3") ;
  {
    int any = 0 ;
    for (uint32_t k = 0 ; k < lrtab_len(sv) ; k++)
    {
      uint64_t const *x = lrtab_counters(sv, ord[k]) ;
      if (!x[SV_POP]) continue ;
      any = 1 ;
      puts_("  ") ; puttext(lrtab_key(sv, ord[k]), lrtab_keylen(sv, ord[k])) ; puts_(": ") ;
      putu(x[SV_AUTHOK]) ; puts_(" logins, ") ; putu(x[SV_AUTHFAIL]) ; puts_(" failures; sessions: ") ;
      putu(x[SV_POPQUIT]) ; puts_(" ended with QUIT, ") ; putu(x[SV_POPEND]) ; puts_(" not; ") ;
      putu(x[SV_POPRETR]) ; puts_(" messages retrieved (") ; putbytes(x[SV_POPBYTES]) ; puts_("), ") ;
      putu(x[SV_POPDELE]) ; puts_(" deleted\n") ;
    }
    if (!any) puts_("  none\n") ;
  }

  text_head("TLS (tls-wrap)") ;
  {
    int any = 0 ;
    for (uint32_t k = 0 ; k < lrtab_len(sv) ; k++)
    {
      uint64_t const *x = lrtab_counters(sv, ord[k]) ;
      if (!x[SV_TLSOK] && !x[SV_TLSFAIL]) continue ;
      any = 1 ;
      puts_("  ") ; puttext(lrtab_key(sv, ord[k]), lrtab_keylen(sv, ord[k])) ; puts_(": ") ;
      putu(x[SV_TLSOK]) ; puts_(" handshakes, ") ; putu(x[SV_TLSFAIL]) ; puts_(" failed\n") ;
    }
    if (!any) puts_("  none\n") ;
  }

  text_head("Warnings and errors") ;
  {
    static int const cols[] = { 0 } ;
    if (lrtab_len(r->warns)) text_top(r->warns, 0, r->top, "      count  program\n", 1, cols) ;
    else puts_("  none\n") ;
  }

  {
    bucket *b ; int kind ; size_t nb = buckets(r, &b, &kind) ;
    if (nb)
    {
      text_head(kind == BK_HOUR ? "By hour" : kind == BK_DAY ? "By day" : "By week") ;
      puts_("  from               connections  denied  accepted  rejected  delivered  deferred  failed  queue\n") ;
      for (size_t i = 0 ; i < nb ; i++)
      {
        uint64_t const *x = b[i].v ;
        puts_("  ") ; puttime(b[i].t, 0) ; putuw(x[HR_CONN], 14) ; putuw(x[HR_DENY], 8) ;
        putuw(x[HR_ACCEPT], 10) ; putuw(x[HR_REJECT], 10) ; putuw(x[HR_OK], 11) ;
        putuw(x[HR_DEFER], 10) ; putuw(x[HR_FAIL], 8) ;
        if (x[HR_QSET]) putuw(x[HR_QMAX], 7) ; else puts_("      -") ;
        puts_("\n") ;
      }
    }
    free(b) ;
  }
  free(ord) ;
}

/* ---- JSON ------------------------------------------------------------------------------------- */

static void jkey (char const *k) { putjss(k) ; put(":", 1) ; }
static void jnum (char const *k, uint64_t v) { jkey(k) ; putu(v) ; }
static void jsec (char const *k, uint64_t ns) { jkey(k) ; if (ns) putu(ns / NS) ; else puts_("null") ; }

static void json_top (lrtab const *t, int c, unsigned int top, char const *keyname, unsigned int ncol, char const *const *names, int const *cols)
{
  uint32_t *v = topbuf(top) ;
  size_t n = lrtab_top(t, c, v, top) ;
  put("[", 1) ;
  for (size_t i = 0 ; i < n ; i++)
  {
    uint64_t const *x = lrtab_counters(t, v[i]) ;
    if (i) put(",", 1) ;
    put("{", 1) ; jkey(keyname) ; putjs(lrtab_key(t, v[i]), lrtab_keylen(t, v[i])) ;
    for (unsigned int k = 0 ; k < ncol ; k++) { put(",", 1) ; jnum(names[k], x[cols[k]]) ; }
    put("}", 1) ;
  }
  put("]", 1) ;
  free(v) ;
}

/* keys "a\tb" as {"ka":a,"kb":b,"count":n} */
static void json_pairs (lrtab const *t, unsigned int top, char const *ka, char const *kb, size_t skip)
{
  uint32_t *v = topbuf(top) ;
  size_t n = lrtab_top(t, 0, v, top) ;
  put("[", 1) ;
  for (size_t i = 0 ; i < n ; i++)
  {
    char const *k = lrtab_key(t, v[i]) + skip ;
    size_t kl = lrtab_keylen(t, v[i]) - skip, p = tabpos(k, kl) ;
    if (i) put(",", 1) ;
    put("{", 1) ; jkey(ka) ; putjs(k, p) ; put(",", 1) ; jkey(kb) ;
    putjs(p < kl ? k + p + 1 : k + kl, p < kl ? kl - p - 1 : 0) ;
    put(",", 1) ; jnum("count", lrtab_counters(t, v[i])[0]) ; put("}", 1) ;
  }
  put("]", 1) ;
  free(v) ;
}

void lrout_json (lrreport const *r)
{
  uint64_t const *n = r->n ;
  lrtab const *sv = r->svc ;
  uint32_t *ord = lrtab_sorted(sv) ;
  puts_("{\"version\":1,\"period\":{") ;
  jsec("start", r->start) ; put(",", 1) ; jsec("end", r->end) ; put(",", 1) ;
  jsec("first", n[LR_FIRST]) ; put(",", 1) ; jsec("last", n[LR_LAST]) ; puts_("},\n") ;
  puts_("\"lines\":{") ;
  jnum("read", n[LR_READ]) ; put(",", 1) ; jnum("used", n[LR_USED]) ; put(",", 1) ;
  jnum("foreign", n[LR_FOREIGN]) ; put(",", 1) ; jnum("malformed", n[LR_MALFORMED]) ; put(",", 1) ;
  jnum("unstamped", n[LR_UNSTAMPED]) ; put(",", 1) ; jnum("outside", n[LR_OUTSIDE]) ; put(",", 1) ;
  jnum("files_skipped", n[LR_SKIPPEDFILES]) ; puts_("},\n") ;
  puts_("\"services\":[") ;
  for (uint32_t k = 0 ; k < lrtab_len(sv) ; k++)
  {
    uint64_t const *x = lrtab_counters(sv, ord[k]) ;
    if (k) puts_(",\n") ;
    put("{", 1) ; jkey("name") ; putjs(lrtab_key(sv, ord[k]), lrtab_keylen(sv, ord[k])) ;
    puts_(",\"connections\":{") ; jnum("accepted", x[SV_CONN]) ; put(",", 1) ; jnum("denied_rule", x[SV_DENYRULE]) ;
    put(",", 1) ; jnum("denied_limit", x[SV_DENYLIMIT]) ; put(",", 1) ; jnum("limit_reached", x[SV_LIMIT]) ;
    put(",", 1) ; jnum("failed", x[SV_CHILDFAIL]) ; puts_("},") ;
    jnum("rbl_refused", x[SV_RBLDENY]) ;
    puts_(",\"messages\":{") ; jnum("accepted", x[SV_ACCEPT]) ; put(",", 1) ; jnum("bytes", x[SV_BYTES]) ; puts_("},") ;
    jnum("rejected", x[SV_REJECT]) ;
    puts_(",\"auth\":{") ; jnum("success", x[SV_AUTHOK]) ; put(",", 1) ; jnum("failure", x[SV_AUTHFAIL]) ; puts_("},") ;
    jnum("cut_short", x[SV_CUT]) ;
    puts_(",\"tls\":{") ; jnum("success", x[SV_TLSOK]) ; put(",", 1) ; jnum("failure", x[SV_TLSFAIL]) ; puts_("}") ;
    puts_(",\"pop3\":{") ; jnum("sessions", x[SV_POPQUIT]) ; put(",", 1) ; jnum("unfinished", x[SV_POPEND]) ; put(",", 1) ;
    jnum("retrieved", x[SV_POPRETR]) ; put(",", 1) ; jnum("deleted", x[SV_POPDELE]) ; put(",", 1) ; jnum("bytes", x[SV_POPBYTES]) ;
    puts_("}}") ;
  }
  puts_("],\n\"clients\":") ;
  {
    static char const *const names[] = { "connections", "denied", "rbl_refused", "accepted", "rejected", "auth_failures" } ;
    static int const cols[] = { CL_CONN, CL_DENY, CL_RBL, CL_ACCEPT, CL_REJECT, CL_AUTHFAIL } ;
    json_top(r->clients, -1, r->top, "address", 6, names, cols) ;
    puts_(",\n\"auth_failures\":") ;
    json_top(r->clients, CL_AUTHFAIL, r->top, "address", 1, names + 5, cols + 5) ;
  }
  {
    static char const *const one[] = { "count" } ;
    static int const c0[] = { 0 } ;
    puts_(",\n\"auth_check\":{\"reasons\":") ;
    json_top(r->authreasons, 0, r->top, "reason", 1, one, c0) ;
    puts_(",\"logins\":") ;
    json_top(r->authusers, 0, r->top, "login", 1, one, c0) ;
    puts_("},\n\"rbl\":") ;
    {
      static char const *const names[] = { "refused", "tagged", "lookup_failures" } ;
      static int const cols[] = { RB_DENY, RB_TAG, RB_FAIL } ;
      json_top(r->rbl, -1, r->top, "list", 3, names, cols) ;
    }
    puts_(",\n\"smtp\":{\"senders\":") ;
    {
      static char const *const names[] = { "messages", "bytes" } ;
      static int const cols[] = { 0, 1 } ;
      json_top(r->senders, 0, r->top, "address", 2, names, cols) ;
    }
    puts_(",\"recipient_domains\":") ;
    {
      static char const *const names[] = { "recipients" } ;
      json_top(r->rcptdoms, 0, r->top, "domain", 1, names, c0) ;
    }
    puts_(",\"rejections\":[") ;
    {
      uint32_t *v = topbuf(r->top) ;
      size_t k = lrtab_top(r->rejects, 0, v, r->top) ;
      for (size_t i = 0 ; i < k ; i++)
      {
        char const *key = lrtab_key(r->rejects, v[i]) ;
        size_t kl = lrtab_keylen(r->rejects, v[i]) ;
        if (i) put(",", 1) ;
        put("{", 1) ; jkey("code") ; putjs(key, kl < 3 ? kl : 3) ; put(",", 1) ;
        jkey("reason") ; putjs(key + (kl > 4 ? 4 : kl), kl > 4 ? kl - 4 : 0) ; put(",", 1) ;
        jnum("count", lrtab_counters(r->rejects, v[i])[0]) ; put("}", 1) ;
      }
      free(v) ;
    }
    puts_("],\"session_ends\":") ;
    json_pairs(r->ends, r->top, "service", "reason", 0) ;
    puts_("},\n") ;
  }
  puts_("\"queue\":{") ;
  jkey("logged") ; puts_(n[LR_QUEUE] ? "true" : "false") ; put(",", 1) ;
  jnum("new", n[LR_QNEW]) ; put(",", 1) ; jnum("done", n[LR_QEND]) ; put(",", 1) ; jnum("bytes", n[LR_QBYTES]) ; put(",", 1) ;
  jnum("bounces", n[LR_BOUNCES]) ; put(",", 1) ; jnum("delay_warnings", n[LR_DELAYWARN]) ; put(",", 1) ;
  jnum("double_bounces_discarded", n[LR_DBLBOUNCE]) ; put(",", 1) ; jnum("followed_from_smtpd", n[LR_FOLLOWED]) ; put(",", 1) ;
  jnum("from_elsewhere", n[LR_LOCAL]) ; put(",", 1) ; jnum("not_seen_by_queue", n[LR_UNSEEN]) ; put(",", 1) ;
  jnum("still_queued", n[LR_LEFTOVER]) ; put(",", 1) ; jnum("restarts", n[LR_RESTARTS]) ; put(",", 1) ;
  puts_("\"size\":{") ; jnum("max", n[LR_QMAX]) ; put(",", 1) ; jsec("max_at", n[LR_QMAXAT]) ; put(",", 1) ;
  jkey("exact") ; puts_(n[LR_QKNOWN] ? "true" : "false") ; puts_("},") ;
  puts_("\"deliveries\":{") ; jnum("success", n[LR_DOK]) ; put(",", 1) ; jnum("deferral", n[LR_DDEFER]) ; put(",", 1) ;
  jnum("failure", n[LR_DFAIL]) ; put(",", 1) ; jnum("without_start", n[LR_DORPHAN]) ; puts_("},\n\"domains\":[") ;
  {
    uint32_t *v = topbuf(r->top) ;
    size_t k = lrtab_top(r->doms, -1, v, r->top) ;
    for (size_t i = 0 ; i < k ; i++)
    {
      uint64_t const *x = lrtab_counters(r->doms, v[i]) ;
      char const *d = lrtab_key(r->doms, v[i]) ;
      size_t dl = lrtab_keylen(r->doms, v[i]) ;
      int any = 0 ;
      if (i) puts_(",\n") ;
      put("{", 1) ; jkey("domain") ; putjs(d, dl) ; put(",", 1) ;
      jnum("success", x[DM_OK]) ; put(",", 1) ; jnum("deferral", x[DM_DEFER]) ; put(",", 1) ; jnum("failure", x[DM_FAIL]) ;
      puts_(",\"reasons\":[") ;
      for (uint32_t j = 0 ; j < lrtab_len(r->dreasons) ; j++)
      {
        char const *key = lrtab_key(r->dreasons, j) ;
        size_t kl = lrtab_keylen(r->dreasons, j), p = tabpos(key + 1, kl - 1) ;
        if (p != dl || memcmp(key + 1, d, dl)) continue ;
        if (any++) put(",", 1) ;
        put("{", 1) ; jkey("kind") ; puts_(key[0] == 'f' ? "\"failure\"" : "\"deferral\"") ; put(",", 1) ;
        jkey("reason") ; putjs(key + 2 + p, kl - 2 - p) ; put(",", 1) ;
        jnum("count", lrtab_counters(r->dreasons, j)[0]) ; put("}", 1) ;
      }
      puts_("]}") ;
    }
    free(v) ;
  }
  puts_("],\n\"delay\":{") ;
  jnum("count", r->delays->n) ;
  if (r->delays->n)
  {
    puts_(",\"median\":") ; putsecs(lrhist_quantile(r->delays, 0.5)) ;
    puts_(",\"p95\":") ; putsecs(lrhist_quantile(r->delays, 0.95)) ;
    puts_(",\"worst\":") ; putsecs(r->delays->max) ;
    puts_(",\"worst_msg\":") ; putjss(r->worstid) ;
    puts_(",\"worst_domain\":") ; putjss(r->worstdom) ;
  }
  puts_(",\"bands\":[") ;
  for (unsigned int k = 0 ; k < LRHIST_NBANDS ; k++)
  {
    if (k) put(",", 1) ;
    put("{", 1) ; jkey("band") ; putjss(lrhist_bandnames[k]) ; put(",", 1) ; jnum("count", r->delays->band[k]) ; put("}", 1) ;
  }
  puts_("]}},\n\"warnings\":") ;
  {
    static char const *const one[] = { "count" } ;
    static int const c0[] = { 0 } ;
    json_top(r->warns, 0, r->top, "source", 1, one, c0) ;
  }
  puts_(",\n\"hours\":[") ;
  {
    uint32_t *idx = lrtab_sorted(r->hours) ;
    uint32_t *hv = topbuf(lrtab_len(r->hours)) ;
    for (uint32_t i = 0 ; i < lrtab_len(r->hours) ; i++) memcpy(hv + i, lrtab_key(r->hours, i), 4) ;
    for (uint32_t i = 1 ; i < lrtab_len(r->hours) ; i++)
    {
      uint32_t a = idx[i], k = i ;
      while (k && hv[idx[k - 1]] > hv[a]) { idx[k] = idx[k - 1] ; k-- ; }
      idx[k] = a ;
    }
    for (uint32_t i = 0 ; i < lrtab_len(r->hours) ; i++)
    {
      uint64_t const *x = lrtab_counters(r->hours, idx[i]) ;
      if (i) puts_(",\n") ;
      put("{", 1) ; jnum("start", (uint64_t)hv[idx[i]] * 3600) ; put(",", 1) ;
      jnum("connections", x[HR_CONN]) ; put(",", 1) ; jnum("denied", x[HR_DENY]) ; put(",", 1) ;
      jnum("accepted", x[HR_ACCEPT]) ; put(",", 1) ; jnum("rejected", x[HR_REJECT]) ; put(",", 1) ;
      jnum("delivered", x[HR_OK]) ; put(",", 1) ; jnum("deferred", x[HR_DEFER]) ; put(",", 1) ;
      jnum("failed", x[HR_FAIL]) ; put(",", 1) ; jnum("auth_failures", x[HR_AUTHFAIL]) ; put(",", 1) ;
      jkey("queue_max") ; if (x[HR_QSET]) putu(x[HR_QMAX]) ; else puts_("null") ;
      put("}", 1) ;
    }
    free(hv) ; free(idx) ;
  }
  puts_("]}\n") ;
  free(ord) ;
}

/* ---- HTML ------------------------------------------------------------------------------------- */

#define CW 880
#define CH 220
#define CL 60
#define CB 30

/* a stacked bar chart: nb bars of ns series (v[bar * ns + s]), with the colors and names of
   the series; labels under some bars */
static void svg_bars (char const *title, size_t nb, unsigned int ns, uint64_t const *v, char const *const *colors, char const *const *names, char const *const *labels)
{
  uint64_t max = 1 ;
  unsigned int pw = CW - CL - 10, ph = CH - CB - 30 ;
  for (size_t i = 0 ; i < nb ; i++)
  {
    uint64_t s = 0 ;
    for (unsigned int k = 0 ; k < ns ; k++) s += v[i * ns + k] ;
    if (s > max) max = s ;
  }
  {
    /* a round top: 1, 2 or 5 times a power of ten */
    uint64_t m = 1 ;
    while (m * 10 <= max) m *= 10 ;
    max = max <= m ? m : max <= 2 * m ? 2 * m : max <= 5 * m ? 5 * m : 10 * m ;
  }
  puts_("<figure><figcaption>") ; puths(title) ; puts_("</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"") ;
  putu(CW) ; puts_("\" height=\"") ; putu(CH) ; puts_("\" viewBox=\"0 0 ") ; putu(CW) ; puts_(" ") ; putu(CH) ; puts_("\"><title>") ; puths(title) ; puts_("</title>\n") ;
  puts_("<rect x=\"0\" y=\"0\" width=\"") ; putu(CW) ; puts_("\" height=\"") ; putu(CH) ; puts_("\" fill=\"#ffffff\"/>\n") ;
  /* gridlines at whole numbers: max is 1, 2 or 5 times a power of ten */
  unsigned int ng = max % 4 == 0 ? 4 : max % 5 == 0 ? 5 : (unsigned int)max ;
  for (unsigned int g = 0 ; g <= ng ; g++)
  {
    uint64_t y = 20 + ph - (uint64_t)ph * g / ng ;
    puts_("<line x1=\"") ; putu(CL) ; puts_("\" x2=\"") ; putu(CW - 10) ; puts_("\" y1=\"") ; putu(y) ; puts_("\" y2=\"") ; putu(y) ;
    puts_("\" stroke=\"#cccccc\"/><text x=\"") ; putu(CL - 4) ; puts_("\" y=\"") ; putu(y + 4) ;
    puts_("\" font-size=\"11\" text-anchor=\"end\" font-family=\"sans-serif\">") ; putu(max * g / ng) ; puts_("</text>\n") ;
  }
  if (nb)
  {
    uint64_t bw = pw / nb ;
    size_t every = 1 ;
    if (!bw) bw = 1 ;
    while (nb / every > 12) every++ ;
    for (size_t i = 0 ; i < nb ; i++)
    {
      uint64_t base = 0, x = CL + i * pw / nb ;
      for (unsigned int k = 0 ; k < ns ; k++)
      {
        uint64_t val = v[i * ns + k], h = val * ph / max, y ;
        if (!val) continue ;
        if (!h) h = 1 ;
        y = 20 + ph - base - h ;
        puts_("<rect x=\"") ; putu(x + (bw > 3 ? 1 : 0)) ; puts_("\" y=\"") ; putu(y) ; puts_("\" width=\"") ;
        putu(bw > 3 ? bw - 2 : bw) ; puts_("\" height=\"") ; putu(h) ; puts_("\" fill=\"") ; puts_(colors[k]) ;
        puts_("\"><title>") ; puths(labels[i]) ; puts_(": ") ; putu(val) ; puts_(" ") ; puths(names[k]) ; puts_("</title></rect>\n") ;
        base += h ;
      }
      if (i % every == 0)
      {
        puts_("<text x=\"") ; putu(x + bw / 2) ; puts_("\" y=\"") ; putu(CH - CB + 16) ;
        puts_("\" font-size=\"11\" text-anchor=\"middle\" font-family=\"sans-serif\">") ; puths(labels[i]) ; puts_("</text>\n") ;
      }
    }
  }
  else
  {
    puts_("<text x=\"") ; putu(CW / 2) ; puts_("\" y=\"") ; putu(CH / 2) ; puts_("\" font-size=\"14\" text-anchor=\"middle\" font-family=\"sans-serif\">no data</text>\n") ;
  }
  for (unsigned int k = 0 ; k < ns ; k++)
  {
    uint64_t x = CL + 10 + k * 170 ;
    puts_("<rect x=\"") ; putu(x) ; puts_("\" y=\"4\" width=\"12\" height=\"12\" fill=\"") ; puts_(colors[k]) ; puts_("\"/>") ;
    puts_("<text x=\"") ; putu(x + 16) ; puts_("\" y=\"14\" font-size=\"12\" font-family=\"sans-serif\">") ; puths(names[k]) ; puts_("</text>\n") ;
  }
  puts_("</svg></figure>\n") ;
}

static void html_top (lrtab const *t, int c, unsigned int top, char const *caption, char const *keyname, unsigned int ncol, char const *const *names, int const *cols)
{
  uint32_t *v = topbuf(top) ;
  size_t n = lrtab_top(t, c, v, top) ;
  if (n)
  {
    puts_("<table><caption>") ; puths(caption) ; puts_("</caption><tr>") ;
    for (unsigned int k = 0 ; k < ncol ; k++) { puts_("<th>") ; puths(names[k]) ; puts_("</th>") ; }
    puts_("<th>") ; puths(keyname) ; puts_("</th></tr>\n") ;
    for (size_t i = 0 ; i < n ; i++)
    {
      uint64_t const *x = lrtab_counters(t, v[i]) ;
      puts_("<tr>") ;
      for (unsigned int k = 0 ; k < ncol ; k++) { puts_("<td class=\"n\">") ; putu(x[cols[k]]) ; puts_("</td>") ; }
      puts_("<td>") ; puth(lrtab_key(t, v[i]), lrtab_keylen(t, v[i])) ; puts_("</td></tr>\n") ;
    }
    puts_("</table>\n") ;
  }
  free(v) ;
}

static void html_label (char *buf, size_t max, uint64_t t, int kind)
{
  time_t tt = (time_t)(t / NS) ;
  struct tm tm ;
  if (!localtime_r(&tt, &tm) || !strftime(buf, max, kind == BK_HOUR ? "%H:00" : "%m-%d", &tm)) { buf[0] = '?' ; buf[1] = 0 ; }
}

void lrout_html (lrreport const *r)
{
  uint64_t const *n = r->n ;
  lrtab const *sv = r->svc ;
  uint32_t *ord = lrtab_sorted(sv) ;
  bucket *b ;
  int kind ;
  size_t nb = buckets(r, &b, &kind) ;
  char (*lab)[16] = calloc(nb ? nb : 1, sizeof *lab) ;
  char const **labels = calloc(nb ? nb : 1, sizeof *labels) ;
  uint64_t *v = calloc((nb ? nb : 1) * 3, sizeof *v) ;
  if (!lab || !labels || !v) strerr_diefu1sys(111, "allocate memory") ;
  for (size_t i = 0 ; i < nb ; i++) { html_label(lab[i], sizeof lab[i], b[i].t, kind) ; labels[i] = lab[i] ; }

  puts_("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>sluice log report</title>\n"
        "<style>body{font-family:sans-serif;margin:1.5em;color:#222;max-width:940px}"
        "h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #999;margin-top:1.5em}"
        "table{border-collapse:collapse;margin:.6em 0}caption{text-align:left;font-weight:bold;padding:.2em 0}"
        "td,th{border:1px solid #bbb;padding:.15em .5em;text-align:left}td.n{text-align:right}"
        "figure{margin:1em 0}figcaption{font-weight:bold;margin-bottom:.3em}</style></head><body>\n") ;
  puts_("<h1>sluice log report</h1>\n<p>") ;
  if (n[LR_FIRST]) { puts_("From ") ; puttime(n[LR_FIRST], 0) ; puts_(" to ") ; puttime(n[LR_LAST], 0) ; puts_(". ") ; }
  putu(n[LR_READ]) ; puts_(" lines read, ") ; putu(n[LR_USED]) ; puts_(" used, ") ; putu(n[LR_FOREIGN]) ;
  puts_(" foreign, ") ; putu(n[LR_MALFORMED]) ; puts_(" malformed, ") ; putu(n[LR_OUTSIDE]) ; puts_(" outside the range.</p>\n") ;

  /* the charts */
  {
    static char const *const c1[] = { "#1565c0", "#ef6c00" } ;
    static char const *const n1[] = { "connections accepted", "connections denied" } ;
    for (size_t i = 0 ; i < nb ; i++) { v[2 * i] = b[i].v[HR_CONN] ; v[2 * i + 1] = b[i].v[HR_DENY] ; }
    svg_bars(kind == BK_HOUR ? "Traffic per hour" : kind == BK_DAY ? "Traffic per day" : "Traffic per week", nb, 2, v, c1, n1, labels) ;
  }
  {
    static char const *const c2[] = { "#2e7d32", "#c62828" } ;
    static char const *const n2[] = { "messages accepted", "commands rejected" } ;
    for (size_t i = 0 ; i < nb ; i++) { v[2 * i] = b[i].v[HR_ACCEPT] ; v[2 * i + 1] = b[i].v[HR_REJECT] ; }
    svg_bars("Accepted against rejected", nb, 2, v, c2, n2, labels) ;
  }
  {
    static char const *const c3[] = { "#2e7d32", "#f9a825", "#c62828" } ;
    static char const *const n3[] = { "delivered", "deferred", "failed" } ;
    for (size_t i = 0 ; i < nb ; i++) { v[3 * i] = b[i].v[HR_OK] ; v[3 * i + 1] = b[i].v[HR_DEFER] ; v[3 * i + 2] = b[i].v[HR_FAIL] ; }
    svg_bars("Deliveries", nb, 3, v, c3, n3, labels) ;
  }
  {
    static char const *const c4[] = { "#6a1b9a" } ;
    static char const *const n4[] = { "deliveries" } ;
    uint64_t dv[LRHIST_NBANDS] ;
    for (unsigned int k = 0 ; k < LRHIST_NBANDS ; k++) dv[k] = r->delays->band[k] ;
    svg_bars("Delivery delays (arrival to delivery)", r->delays->n ? LRHIST_NBANDS : 0, 1, dv, c4, n4, lrhist_bandnames) ;
  }
  if (n[LR_QUEUE])
  {
    static char const *const c5[] = { "#455a64" } ;
    static char const *const n5[] = { "largest queue" } ;
    for (size_t i = 0 ; i < nb ; i++) v[i] = b[i].v[HR_QMAX] ;
    svg_bars("Queue size", nb, 1, v, c5, n5, labels) ;
  }

  puts_("<h2>Connections</h2>\n<table><tr><th>service</th><th>accepted</th><th>denied by rule</th><th>denied by limit</th><th>limit reached</th><th>failed</th><th>refused by DNSBL</th></tr>\n") ;
  for (uint32_t k = 0 ; k < lrtab_len(sv) ; k++)
  {
    uint64_t const *x = lrtab_counters(sv, ord[k]) ;
    static int const cols[] = { SV_CONN, SV_DENYRULE, SV_DENYLIMIT, SV_LIMIT, SV_CHILDFAIL, SV_RBLDENY } ;
    if (!x[SV_CONN] && !x[SV_DENYRULE] && !x[SV_DENYLIMIT] && !x[SV_RBLDENY]) continue ;
    puts_("<tr><td>") ; puth(lrtab_key(sv, ord[k]), lrtab_keylen(sv, ord[k])) ; puts_("</td>") ;
    for (unsigned int c = 0 ; c < 6 ; c++) { puts_("<td class=\"n\">") ; putu(x[cols[c]]) ; puts_("</td>") ; }
    puts_("</tr>\n") ;
  }
  puts_("</table>\n") ;
  {
    static char const *const names[] = { "connections", "denied", "refused by DNSBL", "messages", "rejected", "login failures" } ;
    static int const cols[] = { CL_CONN, CL_DENY, CL_RBL, CL_ACCEPT, CL_REJECT, CL_AUTHFAIL } ;
    html_top(r->clients, -1, r->top, "Top clients", "address", 6, names, cols) ;
    html_top(r->clients, CL_AUTHFAIL, r->top, "Login failures by client address", "address", 1, names + 5, cols + 5) ;
  }
  {
    static char const *const names[] = { "refused", "tagged", "lookup failed" } ;
    static int const cols[] = { RB_DENY, RB_TAG, RB_FAIL } ;
    puts_("<h2>DNS block lists</h2>\n") ;
    if (lrtab_len(r->rbl)) html_top(r->rbl, -1, r->top, "By list", "list", 3, names, cols) ;
    else puts_("<p>none</p>\n") ;
  }
  puts_("<h2>SMTP</h2>\n<table><tr><th>service</th><th>messages accepted</th><th>bytes</th><th>rejections</th><th>logins</th><th>login failures</th><th>cut short</th><th>TLS</th><th>TLS failed</th></tr>\n") ;
  for (uint32_t k = 0 ; k < lrtab_len(sv) ; k++)
  {
    uint64_t const *x = lrtab_counters(sv, ord[k]) ;
    static int const cols[] = { SV_ACCEPT, SV_BYTES, SV_REJECT, SV_AUTHOK, SV_AUTHFAIL, SV_CUT, SV_TLSOK, SV_TLSFAIL } ;
    if (x[SV_POP] || (!x[SV_ACCEPT] && !x[SV_REJECT] && !x[SV_AUTHOK] && !x[SV_AUTHFAIL] && !x[SV_CUT] && !x[SV_TLSOK] && !x[SV_TLSFAIL])) continue ;
    puts_("<tr><td>") ; puth(lrtab_key(sv, ord[k]), lrtab_keylen(sv, ord[k])) ; puts_("</td>") ;
    for (unsigned int c = 0 ; c < 8 ; c++) { puts_("<td class=\"n\">") ; putu(x[cols[c]]) ; puts_("</td>") ; }
    puts_("</tr>\n") ;
  }
  puts_("</table>\n") ;
  {
    static char const *const one[] = { "count" } ;
    static int const c0[] = { 0 } ;
    static char const *const sn[] = { "messages", "bytes" } ;
    static int const sc[] = { 0, 1 } ;
    static char const *const rn[] = { "recipients" } ;
    html_top(r->rejects, 0, r->top, "Rejections by reason", "reply", 1, one, c0) ;
    html_top(r->senders, 0, r->top, "Top senders", "sender", 2, sn, sc) ;
    html_top(r->rcptdoms, 0, r->top, "Top recipient domains", "domain", 1, rn, c0) ;
    html_top(r->authreasons, 0, r->top, "Refused by auth-check", "why", 1, one, c0) ;
    html_top(r->authusers, 0, r->top, "Refused logins", "login", 1, one, c0) ;
    html_top(r->ends, 0, r->top, "Sessions cut short", "service and reason", 1, one, c0) ;
  }
  puts_("<h2>Queue and delivery</h2>\n") ;
  if (!n[LR_QUEUE]) puts_("<p>no queue log</p>\n") ;
  else
  {
    puts_("<p>") ; putu(n[LR_QNEW]) ; puts_(" messages queued, ") ; putu(n[LR_QEND]) ; puts_(" done; ") ;
    putu(n[LR_FOLLOWED]) ; puts_(" followed from smtpd, ") ; putu(n[LR_LOCAL]) ; puts_(" from elsewhere; ") ;
    putu(n[LR_UNSEEN]) ; puts_(" accepted by smtpd but never seen by the queue; ") ; putu(n[LR_LEFTOVER]) ;
    puts_(" still queued at the end. Bounces: ") ; putu(n[LR_BOUNCES]) ; puts_(", delay warnings: ") ; putu(n[LR_DELAYWARN]) ;
    puts_(". Deliveries: ") ; putu(n[LR_DOK]) ; puts_(" success, ") ; putu(n[LR_DDEFER]) ; puts_(" deferral, ") ;
    putu(n[LR_DFAIL]) ; puts_(" failure. Largest queue: ") ; putu(n[LR_QMAX]) ; puts_(".</p>\n") ;
    if (r->delays->n)
    {
      puts_("<p>Delay from arrival to delivery: median ") ; putdur(lrhist_quantile(r->delays, 0.5)) ;
      puts_(", 95th percentile ") ; putdur(lrhist_quantile(r->delays, 0.95)) ; puts_(", worst ") ; putdur(r->delays->max) ;
      if (r->worstid[0]) { puts_(" (msg ") ; puths(r->worstid) ; puts_(" to ") ; puths(r->worstdom) ; puts_(")") ; }
      puts_(".</p>\n") ;
    }
    {
      static char const *const names[] = { "success", "deferral", "failure" } ;
      static int const cols[] = { DM_OK, DM_DEFER, DM_FAIL } ;
      static char const *const one[] = { "count" } ;
      static int const c0[] = { 0 } ;
      html_top(r->doms, -1, r->top, "Deliveries by domain", "domain", 3, names, cols) ;
      html_top(r->dreasons, 0, r->top, "Top reasons (f: failure, d: deferral; domain, reason)", "kind, domain and reason", 1, one, c0) ;
    }
  }
  puts_("<h2>POP3</h2>\n<table><tr><th>service</th><th>logins</th><th>login failures</th><th>sessions</th><th>unfinished</th><th>retrieved</th><th>deleted</th><th>bytes</th></tr>\n") ;
  for (uint32_t k = 0 ; k < lrtab_len(sv) ; k++)
  {
    uint64_t const *x = lrtab_counters(sv, ord[k]) ;
    static int const cols[] = { SV_AUTHOK, SV_AUTHFAIL, SV_POPQUIT, SV_POPEND, SV_POPRETR, SV_POPDELE, SV_POPBYTES } ;
    if (!x[SV_POP]) continue ;
    puts_("<tr><td>") ; puth(lrtab_key(sv, ord[k]), lrtab_keylen(sv, ord[k])) ; puts_("</td>") ;
    for (unsigned int c = 0 ; c < 7 ; c++) { puts_("<td class=\"n\">") ; putu(x[cols[c]]) ; puts_("</td>") ; }
    puts_("</tr>\n") ;
  }
  puts_("</table>\n<h2>Warnings and errors</h2>\n") ;
  {
    static char const *const one[] = { "count" } ;
    static int const c0[] = { 0 } ;
    if (lrtab_len(r->warns)) html_top(r->warns, 0, r->top, "By program", "program", 1, one, c0) ;
    else puts_("<p>none</p>\n") ;
  }
  puts_("</body></html>\n") ;
  free(lab) ; free(labels) ; free(v) ; free(b) ; free(ord) ;
}
