/* rules: tcprules databases. See rules.h and doc/tcprules.1 for the format.

   cdb layout. The 0.88 keys and values, byte for byte as tcprules 0.88 writes them:
     keys    1.2.3.4  1.2.3.  =host  =.domain  =  info@1.2.3.4  info@=host  (empty)
     values  optional "D\0", then "+NAME=value\0" for each variable, in order.
   Our extensions, which tcpserver 0.88 and tcprulescheck never look up or skip:
     IPv6 address  its canonical text (rules_ip6_fmt) as the key, like an IPv4 address;
     CIDR          key "\0" '4' len a b c d, or "\0" '6' len + 16 bytes (network, masked);
                   /8 /16 /24 /32 on IPv4 and /128 on IPv6 use the 0.88 keys instead;
     lengths       key "\0" 'L' '4' (or '6'): one byte per CIDR prefix length present,
                   longest first, so a lookup probes only the lengths that exist;
     unset         record "-NAME\0" in the value (0.88 ignores records it does not know). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <cdb.h>
#include <skalibs/stralloc.h>
#include "rules.h"

/* ---- addresses ---- */

static char const hexdigit[16] = "0123456789abcdef" ;

size_t rules_ip6_fmt (char *s, unsigned char const *ip)
{
  unsigned int g[8] ;
  int best = -1, bestlen = 1, i ;
  size_t n = 0 ;
  for (i = 0 ; i < 8 ; i++) g[i] = (ip[2*i] << 8) | ip[2*i+1] ;
  for (i = 0 ; i < 8 ; )
  {
    int j = i ;
    while (j < 8 && !g[j]) j++ ;
    if (j - i > bestlen) { best = i ; bestlen = j - i ; }
    i = j > i ? j : i + 1 ;
  }
  for (i = 0 ; i < 8 ; i++)
  {
    if (i == best)
    {
      s[n++] = ':' ; s[n++] = ':' ;
      i += bestlen - 1 ;
      continue ;
    }
    if (i && i != best + bestlen) s[n++] = ':' ;
    {
      int shift = 12 ;
      while (shift > 0 && !((g[i] >> shift) & 15)) shift -= 4 ;
      for (; shift >= 0 ; shift -= 4) s[n++] = hexdigit[(g[i] >> shift) & 15] ;
    }
  }
  return n ;
}

static size_t ip4_fmt (char *s, unsigned char const *ip)
{
  size_t n = 0 ;
  int i ;
  for (i = 0 ; i < 4 ; i++)
  {
    unsigned int v = ip[i] ;
    if (i) s[n++] = '.' ;
    if (v >= 100) s[n++] = '0' + v / 100 ;
    if (v >= 10) s[n++] = '0' + v / 10 % 10 ;
    s[n++] = '0' + v % 10 ;
  }
  return n ;
}

static int ip6_is_mapped (unsigned char const *ip)
{
  static unsigned char const prefix[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff } ;
  return !memcmp(ip, prefix, 12) ;
}

/* a dotted quad, each part 1 to 3 digits up to 255 (leading zeros tolerated: client text) */
static int ip4_scan_loose (char const *s, size_t len, unsigned char *ip)
{
  size_t i = 0 ;
  int part ;
  for (part = 0 ; part < 4 ; part++)
  {
    unsigned int v = 0, digits = 0 ;
    if (part) { if (i >= len || s[i] != '.') return 0 ; i++ ; }
    while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 3) { v = v * 10 + (s[i++] - '0') ; digits++ ; }
    if (!digits || v > 255) return 0 ;
    ip[part] = v ;
  }
  return i == len ;
}

static int ip6_scan (char const *s, size_t len, unsigned char *ip)
{
  char buf[64] ;
  if (!len || len >= sizeof buf) return 0 ;
  memcpy(buf, s, len) ; buf[len] = 0 ;
  return inet_pton(AF_INET6, buf, ip) == 1 ;
}

size_t rules_ip_canon (char *s, unsigned char *ip, int *family, char const *text)
{
  size_t len = strlen(text) ;
  if (ip4_scan_loose(text, len, ip)) { *family = 4 ; return ip4_fmt(s, ip) ; }
  if (ip6_scan(text, len, ip))
  {
    if (ip6_is_mapped(ip))
    {
      memmove(ip, ip + 12, 4) ;
      *family = 4 ;
      return ip4_fmt(s, ip) ;
    }
    *family = 6 ;
    return rules_ip6_fmt(s, ip) ;
  }
  return 0 ;
}

static void mask_bits (unsigned char *ip, unsigned int bytes, unsigned int len)
{
  unsigned int i ;
  for (i = 0 ; i < bytes ; i++)
  {
    if (len >= 8 * (i + 1)) continue ;
    if (len <= 8 * i) ip[i] = 0 ;
    else ip[i] &= (unsigned char)(0xff << (8 - (len - 8 * i))) ;
  }
}

/* ---- lookup ---- */

/* Fill r from one value: "D" denies (and ends, as in 0.88), "+NAME=value" sets, "-NAME"
   unsets; records without their 0 terminator, and unknown ones, are skipped as 0.88 does. */
static int value_parse (rules_result *r, char const *d, size_t len)
{
  for (;;)
  {
    char const *z = memchr(d, 0, len) ;
    size_t n ;
    if (!z) return 1 ;
    n = z - d ;
    if (n && d[0] == 'D') { r->deny = 1 ; return 1 ; }
    if (n > 1 && d[0] == '+')
    {
      char const *eq = memchr(d + 1, '=', n - 1) ;
      if (eq && eq > d + 1 && !stralloc_catb(&r->env, d + 1, n)) return 0 ;
    }
    else if (n > 1 && d[0] == '-' && !memchr(d + 1, '=', n - 1))
    {
      if (!stralloc_catb(&r->env, d + 1, n)) return 0 ;
    }
    d += n + 1 ; len -= n + 1 ;
  }
}

/* A database being read, from its file (pread(2): an open fd sees one version of the file
   even when tcprules renames a new one over it, and mapping the file would cost more than
   the whole lookup) or from the copy in memory (rules_db). The 2048-byte header is read
   once per lookup, checked, and kept: a bucket without slots then costs no read at all. */
typedef struct reader_s reader ;
struct reader_s
{
  int fd ;
  uint64_t size ;
  stralloc data ;
  stralloc pre ;
  unsigned char const *mem ;
  unsigned char const *hdr ;   /* the header: mem, or a copy read from the file */
} ;
#define READER_ZERO { .fd = -1, .size = 0, .data = STRALLOC_ZERO, .pre = STRALLOC_ZERO, .mem = 0, .hdr = 0 }

static uint32_t u32 (unsigned char const *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 ;
}

/* Is h the header of a well-formed cdb of size bytes? Every hash table lies after the
   header and inside the file. A file of zeros (every table at 0) or a truncated file is
   not one: read as a database, it would answer "no rule" to everything. */
static int header_ok (unsigned char const *h, uint64_t size)
{
  unsigned int i ;
  if (size < 2048) return 0 ;
  for (i = 0 ; i < 256 ; i++)
  {
    uint64_t hpos = u32(h + 8 * i), hslots = u32(h + 8 * i + 4) ;
    if (hpos < 2048 || hpos > size || hslots > (size - hpos) / 8) return 0 ;
  }
  return 1 ;
}

/* len bytes of the database at pos: a pointer into the copy in memory, or into buf, where
   they are read. 0 with errno (EPROTO when they are not all in the file). */
static unsigned char const *at (reader *c, uint64_t pos, size_t len, unsigned char *buf)
{
  size_t got = 0 ;
  if (pos > c->size || len > c->size - pos) { errno = EPROTO ; return 0 ; }
  if (c->mem) return c->mem + pos ;
  while (got < len)
  {
    ssize_t r = pread(c->fd, buf + got, len - got, (off_t)(pos + got)) ;
    if (r < 0) { if (errno == EINTR) continue ; return 0 ; }
    if (!r) { errno = EPROTO ; return 0 ; }   /* shorter than it was: not the file we checked */
    got += r ;
  }
  return buf ;
}

/* Find key, the first record with it, as cdb_find does; its value in c->data. 1 found, 0
   not found, -1 error. Every position and length is checked against the size: a length
   running past the end of the file is corruption (EPROTO). */
static int find (reader *c, char const *key, size_t klen)
{
  uint32_t h = cdb_hash(key, (unsigned)klen), slot, i ;
  uint64_t hpos = u32(c->hdr + (h & 255) * 8), hslots = u32(c->hdr + (h & 255) * 8 + 4) ;
  if (!hslots) return 0 ;
  slot = (h >> 8) % hslots ;
  for (i = 0 ; i < hslots ; i++)
  {
    unsigned char sb[8], rb[8] ;
    unsigned char const *sp = at(c, hpos + (uint64_t)slot * 8, 8, sb), *rp ;
    uint32_t rpos ;
    if (!sp) return -1 ;
    rpos = u32(sp + 4) ;
    if (!rpos) return 0 ;
    if (u32(sp) == h)
    {
      uint64_t kl, dl ;
      if (!(rp = at(c, rpos, 8, rb))) return -1 ;
      kl = u32(rp) ; dl = u32(rp + 4) ;
      if (kl > c->size - rpos - 8 || dl > c->size - rpos - 8 - kl) { errno = EPROTO ; return -1 ; }
      if (kl == klen)
      {
        unsigned char const *kp ;
        if (!stralloc_ready(&c->data, (size_t)(kl + dl) + 1)) return -1 ;
        /* from a file, key and value in one read */
        if (!(kp = at(c, (uint64_t)rpos + 8, (size_t)(kl + dl), (unsigned char *)c->data.s))) return -1 ;
        if (!memcmp(kp, key, klen))
        {
          if (c->mem) memcpy(c->data.s, kp + kl, dl) ;
          else memmove(c->data.s, c->data.s + kl, dl) ;
          c->data.len = dl ;
          return 1 ;
        }
      }
    }
    if (++slot == hslots) slot = 0 ;
  }
  return 0 ;
}

/* Probe r->key. 1 found (r filled), 0 not found, -1 error. */
static int probe (reader *c, rules_result *r)
{
  int e = find(c, r->key.s, r->key.len) ;
  if (e <= 0) return e ;
  return value_parse(r, c->data.s, c->data.len) ? 1 : -1 ;
}

static int probe_text (reader *c, rules_result *r, char const *a, size_t alen, char const *b, size_t blen)
{
  r->key.len = 0 ;
  if (!stralloc_catb(&r->key, a, alen) || !stralloc_catb(&r->key, b, blen)) return -1 ;
  return probe(c, r) ;
}

static int probe_host (reader *c, rules_result *r, char const *prefix, size_t plen, char const *host, size_t hlen)
{
  size_t i ;
  r->key.len = 0 ;
  if (!stralloc_catb(&r->key, prefix, plen) || !stralloc_ready(&r->key, plen + hlen)) return -1 ;
  for (i = 0 ; i < hlen ; i++)
  {
    char ch = host[i] ;
    r->key.s[plen + i] = ch >= 'A' && ch <= 'Z' ? ch + 32 : ch ;
  }
  r->key.len = plen + hlen ;
  return probe(c, r) ;
}

/* CIDR prefixes of ip (family 4 or 6), longest first; for IPv4 the 0.88 dotted prefixes
   (text, /24 /16 /8) take their place among them. */
static int probe_prefixes (reader *c, rules_result *r, int family, unsigned char const *ip, char const *text, size_t tlen)
{
  unsigned char present[129] ;
  unsigned int bytes = family == 4 ? 4 : 16, max = 8 * bytes ;
  int l, e ;
  memset(present, 0, sizeof present) ;
  {
    char lkey[3] = { 0, 'L', family == 4 ? '4' : '6' } ;
    e = find(c, lkey, 3) ;
    if (e < 0) return -1 ;
    if (e)
    {
      unsigned char const *d = (unsigned char const *)c->data.s ;
      size_t i ;
      for (i = 0 ; i < c->data.len ; i++) if (d[i] <= max) present[d[i]] = 1 ;
    }
  }
  for (l = max - 1 ; l >= 0 ; l--)
  {
    if (family == 4 && l && !(l & 7))
    {
      /* the text up to and including the (l/8)-th dot */
      size_t i = 0 ;
      int dots = 0 ;
      while (i < tlen && dots < l / 8) if (text[i++] == '.') dots++ ;
      e = probe_text(c, r, text, i, "", 0) ;
      if (e) return e ;
    }
    if (present[l])
    {
      unsigned char net[16] ;
      char k[3 + 16] ;
      memcpy(net, ip, bytes) ;
      mask_bits(net, bytes, l) ;
      k[0] = 0 ; k[1] = family == 4 ? '4' : '6' ; k[2] = l ;
      memcpy(k + 3, net, bytes) ;
      r->key.len = 0 ;
      if (!stralloc_catb(&r->key, k, 3 + bytes)) return -1 ;
      e = probe(c, r) ;
      if (e < 0) return e ;
      if (e)
      {
        /* say which rule matched in the form the admin wrote it */
        char t[RULES_IP6_FMT + 8] ;
        size_t n = family == 4 ? ip4_fmt(t, net) : rules_ip6_fmt(t, net) ;
        t[n++] = '/' ;
        if (l >= 100) t[n++] = '0' + l / 100 ;
        if (l >= 10) t[n++] = '0' + l / 10 % 10 ;
        t[n++] = '0' + l % 10 ;
        r->key.len = 0 ;
        if (!stralloc_catb(&r->key, t, n)) return -1 ;
        return 1 ;
      }
    }
  }
  return 0 ;
}

/* 0.88's prefixes of an address text it cannot parse: every prefix ending with a dot. */
static int probe_dots (reader *c, rules_result *r, char const *text, size_t tlen)
{
  size_t n = tlen ;
  for (; n ; n--) if (text[n-1] == '.')
  {
    int e = probe_text(c, r, text, n, "", 0) ;
    if (e) return e ;
  }
  return 0 ;
}

static int lookup (reader *c, rules_result *r, char const *iptext, char const *host, char const *info)
{
  char canon[RULES_IP6_FMT] ;
  unsigned char ip[16] ;
  int family = 0, e ;
  char const *text = canon ;
  size_t tlen = rules_ip_canon(canon, ip, &family, iptext) ;
  size_t hlen = host ? strlen(host) : 0 ;
  if (!tlen) { text = iptext ; tlen = strlen(iptext) ; }

  if (info)
  {
    size_t ilen = strlen(info) ;
    r->key.len = 0 ;
    if (!stralloc_catb(&r->key, info, ilen) || !stralloc_catb(&r->key, "@", 1)) return -1 ;
    if (!stralloc_catb(&r->key, text, tlen)) return -1 ;
    e = probe(c, r) ;
    if (e) return e ;
    if (host)
    {
      c->pre.len = 0 ;
      if (!stralloc_catb(&c->pre, info, ilen) || !stralloc_catb(&c->pre, "@=", 2)) return -1 ;
      e = probe_host(c, r, c->pre.s, c->pre.len, host, hlen) ;
      if (e) return e ;
    }
  }
  e = probe_text(c, r, text, tlen, "", 0) ;
  if (e) return e ;
  if (host)
  {
    e = probe_host(c, r, "=", 1, host, hlen) ;
    if (e) return e ;
  }
  e = family ? probe_prefixes(c, r, family, ip, text, tlen) : probe_dots(c, r, text, tlen) ;
  if (e) return e ;
  if (host)
  {
    size_t i ;
    for (i = 0 ; i < hlen ; i++) if (host[i] == '.')
    {
      e = probe_host(c, r, "=", 1, host + i, hlen - i) ;
      if (e) return e ;
    }
    e = probe_text(c, r, "=", 1, "", 0) ;
    if (e) return e ;
  }
  return probe_text(c, r, "", 0, "", 0) ;
}

/* The lookup on a reader that is ready (c->fd open or c->mem set, c->size known); frees
   what lookup allocated in c. r is left empty unless a rule matched. */
static int lookup_run (reader *c, rules_result *r, char const *ip, char const *host, char const *info)
{
  int e, err ;
  errno = 0 ;
  e = lookup(c, r, ip ? ip : "0.0.0.0", host, info) ;
  err = errno ;
  stralloc_free(&c->data) ;
  stralloc_free(&c->pre) ;
  if (e <= 0) { r->deny = 0 ; r->env.len = 0 ; r->key.len = 0 ; }
  if (e < 0) errno = err ? err : EPROTO ;
  return e ;
}

int rules_lookup (rules_result *r, char const *path, char const *ip, char const *host, char const *info)
{
  reader c = READER_ZERO ;
  unsigned char hbuf[2048] ;
  struct stat st ;
  int e, err ;
  r->deny = 0 ; r->env.len = 0 ; r->key.len = 0 ;
  if (!stralloc_ready(&r->key, 64)) return -1 ;
  /* O_NONBLOCK: a FIFO at path must not hold the caller in open(2) */
  c.fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) ;
  if (c.fd < 0) return -1 ;
  if (fstat(c.fd, &st) < 0) goto err ;
  if (!S_ISREG(st.st_mode)) { errno = RULES_ENOTREG ; goto err ; }
  c.size = (uint64_t)st.st_size ;
  if (c.size < 2048) { errno = EPROTO ; goto err ; }
  if (!at(&c, 0, 2048, hbuf)) goto err ;
  if (!header_ok(hbuf, c.size)) { errno = EPROTO ; goto err ; }
  c.hdr = hbuf ;
  e = lookup_run(&c, r, ip, host, info) ;
  err = errno ;
  close(c.fd) ;
  errno = err ;
  return e ;
 err:
  err = errno ;
  close(c.fd) ;
  errno = err ;
  return -1 ;
}

char const *rules_strerror (int e)
{
  if (e == EPROTO) return "not a well-formed cdb (a damaged database)" ;
  if (e == RULES_ENOTREG) return "not a regular file" ;
  return strerror(e) ;
}

void rules_result_free (rules_result *r)
{
  stralloc_free(&r->env) ;
  stralloc_free(&r->key) ;
  r->deny = 0 ;
}

/* ---- a database kept in memory ---- */

static int same_stat (struct stat const *a, struct stat const *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size
    && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec
    && a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec ;
}

/* May a file with these times and size be kept in memory? Not when it is too big, nor when
   it was written less than settle seconds ago: a writer may still be at it within one tick
   of the file system's clock, which no timestamp would show. */
static int keepable (rules_db const *db, struct stat const *st, struct timespec const *now)
{
  return (uint64_t)st->st_size <= RULES_DB_MAX
    && now->tv_sec - st->st_mtim.tv_sec >= (time_t)db->settle
    && now->tv_sec - st->st_ctim.tv_sec >= (time_t)db->settle ;
}

void rules_db_free (rules_db *db)
{
  free(db->mem) ;
  db->mem = 0 ;
  db->size = 0 ;
}

/* Read the whole file into db. 1 done; 0 the file is not to be kept (too big, modified
   too recently) or changed while it was read; -1 error (errno). */
static int db_load (rules_db *db, char const *path, struct stat const *st)
{
  struct stat a, b ;
  struct timespec now ;
  char *mem = 0 ;
  size_t got = 0 ;
  int fd, e ;
  clock_gettime(CLOCK_REALTIME, &now) ;
  if (!keepable(db, st, &now)) return 0 ;
  fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) ;
  if (fd < 0) return -1 ;
  if (fstat(fd, &a) < 0) goto err ;
  /* the file opened may not be the one stat saw: it must pass the same tests */
  if (!S_ISREG(a.st_mode)) { errno = RULES_ENOTREG ; goto err ; }
  if (!keepable(db, &a, &now)) { close(fd) ; return 0 ; }
  mem = malloc(a.st_size ? (size_t)a.st_size : 1) ;
  if (!mem) goto err ;
  while (got < (size_t)a.st_size)
  {
    ssize_t r = read(fd, mem + got, (size_t)a.st_size - got) ;
    if (r < 0) { if (errno == EINTR) continue ; goto err ; }
    if (!r) break ;
    got += r ;
  }
  if (fstat(fd, &b) < 0) goto err ;
  close(fd) ;
  if (got != (size_t)a.st_size || !same_stat(&a, &b) || a.st_ino != st->st_ino || a.st_dev != st->st_dev)
  {
    free(mem) ;
    return 0 ;
  }
  if (!header_ok((unsigned char const *)mem, (uint64_t)got)) { free(mem) ; errno = EPROTO ; return -1 ; }
  rules_db_free(db) ;
  db->mem = mem ;
  db->st = a ;
  db->size = (uint64_t)a.st_size ;
  return 1 ;
 err:
  e = errno ;
  free(mem) ;
  close(fd) ;
  errno = e ;
  return -1 ;
}

int rules_lookup_db (rules_db *db, rules_result *r, char const *path, char const *ip, char const *host, char const *info)
{
  struct stat st ;
  reader c = READER_ZERO ;
  int e, err ;
  r->deny = 0 ; r->env.len = 0 ; r->key.len = 0 ;
  if (stat(path, &st) < 0) { err = errno ; rules_db_free(db) ; errno = err ; return -1 ; }
  if (!S_ISREG(st.st_mode)) { rules_db_free(db) ; errno = RULES_ENOTREG ; return -1 ; }
  if (!db->mem || !same_stat(&st, &db->st))
  {
    e = db_load(db, path, &st) ;
    if (e < 0) { err = errno ; rules_db_free(db) ; errno = err ; return -1 ; }
    if (!e) { rules_db_free(db) ; return rules_lookup(r, path, ip, host, info) ; }
  }
  if (!stralloc_ready(&r->key, 64)) return -1 ;
  c.mem = c.hdr = (unsigned char const *)db->mem ;
  c.size = db->size ;
  return lookup_run(&c, r, ip, host, info) ;
}

/* ---- compiling ---- */

static int fail (rules_make *m, char const *what, char const *s, size_t len)
{
  size_t wl = strlen(what), i, n ;
  if (len > 80) len = 80 ;
  n = wl + 2 * len + 8 ;
  if (m->errcap < n)
  {
    char *p = realloc(m->err, n) ;
    if (!p) { m->err[0] = 0 ; return 0 ; }
    m->err = p ; m->errcap = n ;
  }
  memcpy(m->err, what, wl) ;
  n = wl ;
  if (s)
  {
    m->err[n++] = ':' ; m->err[n++] = ' ' ;
    for (i = 0 ; i < len ; i++)
    {
      unsigned char ch = s[i] ;
      m->err[n++] = ch < 32 || ch > 126 ? '?' : ch ;
    }
  }
  m->err[n] = 0 ;
  return 0 ;
}

int rules_make_start (rules_make *m, int fd)
{
  memset(m->len4, 0, sizeof m->len4) ;
  memset(m->len6, 0, sizeof m->len6) ;
  m->errcap = 256 ;
  m->err = malloc(m->errcap) ;
  m->data = malloc(2 * RULES_LINE_MAX + 16) ;
  if (!m->err || !m->data) { free(m->err) ; free(m->data) ; m->err = m->data = 0 ; errno = ENOMEM ; return -1 ; }
  m->err[0] = 0 ;
  if (cdb_make_start(&m->cdbm, fd) < 0) { free(m->err) ; free(m->data) ; m->err = m->data = 0 ; return -1 ; }
  return 1 ;
}

static int isblank_ (char ch) { return ch == ' ' || ch == '\t' || ch == '\r' ; }

/* one decimal part of an IPv4 rule address: 0 or no leading zero, up to 255 */
static size_t dec_scan (char const *s, size_t len, unsigned int *v)
{
  size_t i = 0 ;
  unsigned int x = 0 ;
  while (i < len && i < 4 && s[i] >= '0' && s[i] <= '9') x = x * 10 + (s[i++] - '0') ;
  if (!i || i > 3 || (i > 1 && s[0] == '0')) return 0 ;
  *v = x ;
  return i ;
}

static int add (rules_make *m, char const *k, size_t klen, size_t dlen)
{
  return cdb_make_add(&m->cdbm, k, klen, m->data, dlen) < 0 ? -1 : 1 ;
}

/* An IPv4 rule address with an optional range: a b c d, or a prefix a. a.b. a.b.c.;
   pre[0..plen) (info@) goes before each key. 1 added, 0 error, -1 write error. */
static int add_ip4 (rules_make *m, char const *pre, size_t plen, char const *a, size_t alen, size_t dlen, int full_only)
{
  unsigned int part[4], lo = 0, hi = 0 ;
  int parts = 0, range = -1, prefix = 0 ;
  size_t i = 0 ;
  while (i < alen)
  {
    size_t n ;
    if (parts == 4) return fail(m, "bad IPv4 address (more than 4 parts)", a, alen) ;
    n = dec_scan(a + i, alen - i, &part[parts]) ;
    if (!n) return fail(m, i < alen && a[i] == '0' ? "bad IPv4 address (leading zero)" : "bad address", a, alen) ;
    if (part[parts] > 255) return fail(m, "bad IPv4 address (part over 255)", a, alen) ;
    i += n ;
    if (i < alen && a[i] == '-')
    {
      if (range >= 0) return fail(m, "bad range (one range per address)", a, alen) ;
      i++ ;
      n = dec_scan(a + i, alen - i, &hi) ;
      if (!n) return fail(m, "bad range (want low-high, as 1.2.3.4-7)", a, alen) ;
      if (hi > 255) return fail(m, "bad range (end over 255)", a, alen) ;
      lo = part[parts] ;
      if (lo > hi) return fail(m, "bad range (start after end)", a, alen) ;
      i += n ;
      range = parts ;
    }
    parts++ ;
    if (i == alen) break ;
    if (a[i] != '.') return fail(m, "bad address", a, alen) ;
    i++ ;
    if (i == alen) { prefix = 1 ; break ; }
  }
  if (!prefix && parts != 4)
    return fail(m, "bad IPv4 address (a prefix ends with a dot, as 1.2.3.)", a, alen) ;
  if (full_only && prefix)
    return fail(m, "bad address (info@ takes a full address or =host)", a, alen) ;
  if (range < 0) { lo = hi = part[0] ; range = 0 ; }
  for (;; lo++)
  {
    char k[plen + 16] ;
    size_t n = plen ;
    int p ;
    memcpy(k, pre, plen) ;
    part[range] = lo ;
    for (p = 0 ; p < parts ; p++)
    {
      unsigned int v = part[p] ;
      if (p) k[n++] = '.' ;
      if (v >= 100) k[n++] = '0' + v / 100 ;
      if (v >= 10) k[n++] = '0' + v / 10 % 10 ;
      k[n++] = '0' + v % 10 ;
    }
    if (prefix) k[n++] = '.' ;
    if (add(m, k, n, dlen) < 0) return -1 ;
    if (lo == hi) break ;
  }
  return 1 ;
}

static int add_ip6_exact (rules_make *m, char const *pre, size_t plen, unsigned char const *ip, size_t dlen)
{
  char k[plen + RULES_IP6_FMT] ;
  size_t n ;
  memcpy(k, pre, plen) ;
  if (ip6_is_mapped(ip)) n = plen + ip4_fmt(k + plen, ip + 12) ;
  else n = plen + rules_ip6_fmt(k + plen, ip) ;
  return add(m, k, n, dlen) ;
}

static int add_cidr (rules_make *m, int family, unsigned char *ip, unsigned int len, size_t dlen)
{
  unsigned int bytes = family == 4 ? 4 : 16 ;
  unsigned char net[16] ;
  memcpy(net, ip, bytes) ;
  mask_bits(net, bytes, len) ;
  if (memcmp(net, ip, bytes)) return 0 ;   /* the caller says what is wrong */
  if (family == 6 && len >= 96 && ip6_is_mapped(ip)) { family = 4 ; len -= 96 ; memmove(ip, ip + 12, 4) ; bytes = 4 ; }
  if (family == 6 && len == 128) return add_ip6_exact(m, "", 0, ip, dlen) ;
  if (family == 4 && len && !(len & 7))
  {
    char k[16] ;
    size_t n = 0 ;
    unsigned int i ;
    for (i = 0 ; i < len / 8 ; i++)
    {
      unsigned int v = ip[i] ;
      if (v >= 100) k[n++] = '0' + v / 100 ;
      if (v >= 10) k[n++] = '0' + v / 10 % 10 ;
      k[n++] = '0' + v % 10 ;
      if (i < 3) k[n++] = '.' ;
    }
    return add(m, k, n, dlen) ;
  }
  {
    char k[3 + 16] ;
    k[0] = 0 ; k[1] = family == 4 ? '4' : '6' ; k[2] = len ;
    memcpy(k + 3, ip, bytes) ;
    if (family == 4) m->len4[len] = 1 ; else m->len6[len] = 1 ;
    return add(m, k, 3 + bytes, dlen) ;
  }
}

/* host names: letters, digits, - _ . ; no empty label; lowercased into k */
static int host_check (rules_make *m, char *k, char const *h, size_t hlen)
{
  size_t i ;
  if (!hlen) return fail(m, "bad host name (empty)", 0, 0) ;
  for (i = 0 ; i < hlen ; i++)
  {
    char ch = h[i] ;
    if (ch >= 'A' && ch <= 'Z') ch += 32 ;
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
      return fail(m, "bad character in host name", h, hlen) ;
    if (ch == '.' && (!i || i + 1 == hlen || h[i+1] == '.'))
      return fail(m, "bad host name (empty label)", h, hlen) ;
    k[i] = ch ;
  }
  return 1 ;
}

/* the address part of a rule line; 1 added, 0 error, -1 write error */
static int add_address (rules_make *m, char const *a, size_t alen, size_t dlen)
{
  char const *at ;
  size_t i ;
  if (!alen) return add(m, "", 0, dlen) ;
  for (i = 0 ; i < alen ; i++)
    if ((unsigned char)a[i] <= 32 || (unsigned char)a[i] >= 127)
      return fail(m, "bad address (blank or control character)", a, alen) ;
  at = memrchr(a, '@', alen) ;
  if (at)
  {
    size_t plen = at - a + 1 ;
    char const *rest = at + 1 ;
    size_t rlen = alen - plen ;
    if (plen == 1) return fail(m, "bad address (empty info before @)", a, alen) ;
    if (rlen && rest[0] == '=')
    {
      char k[alen] ;
      if (rlen == 1) return fail(m, "bad address (info@= needs a host name)", a, alen) ;
      memcpy(k, a, plen + 1) ;
      if (!host_check(m, k + plen + 1, rest + 1, rlen - 1)) return 0 ;
      return add(m, k, alen, dlen) ;
    }
    if (memchr(rest, ':', rlen))
    {
      unsigned char ip[16] ;
      if (!ip6_scan(rest, rlen, ip)) return fail(m, "bad IPv6 address (info@ takes a full address or =host)", a, alen) ;
      return add_ip6_exact(m, a, plen, ip, dlen) ;
    }
    if (!rlen || memchr(rest, '/', rlen)) return fail(m, "bad address (info@ takes a full address or =host)", a, alen) ;
    return add_ip4(m, a, plen, rest, rlen, dlen, 1) ;
  }
  if (a[0] == '=')
  {
    char k[alen] ;
    k[0] = '=' ;
    if (alen == 1) return add(m, "=", 1, dlen) ;
    if (a[1] == '.')
    {
      k[1] = '.' ;
      if (!host_check(m, k + 2, a + 2, alen - 2)) return 0 ;
    }
    else if (!host_check(m, k + 1, a + 1, alen - 1)) return 0 ;
    return add(m, k, alen, dlen) ;
  }
  {
    char const *slash = memchr(a, '/', alen) ;
    int v6 = !!memchr(a, ':', alen) ;
    unsigned char ip[16] ;
    if (slash)
    {
      size_t alen1 = slash - a ;
      unsigned int len = 0 ;
      size_t n = dec_scan(slash + 1, alen - alen1 - 1, &len) ;
      if (!n || n != alen - alen1 - 1 || len > (v6 ? 128u : 32u))
        return fail(m, v6 ? "bad CIDR prefix length (want /0 to /128)" : "bad CIDR prefix length (want /0 to /32)", a, alen) ;
      if (v6)
      {
        if (!ip6_scan(a, alen1, ip)) return fail(m, "bad IPv6 address", a, alen) ;
        int e = add_cidr(m, 6, ip, len, dlen) ;
        return e ? e : fail(m, "bad CIDR prefix (address bits set beyond the prefix length)", a, alen) ;
      }
      if (!ip4_scan_loose(a, alen1, ip) || memchr(a, '-', alen1))
        return fail(m, "bad IPv4 address in CIDR prefix", a, alen) ;
      for (i = 0 ; i < alen1 ; i++)
        if (a[i] == '0' && (!i || a[i-1] == '.') && i + 1 < alen1 && a[i+1] != '.')
          return fail(m, "bad IPv4 address (leading zero)", a, alen) ;
      {
        int e = add_cidr(m, 4, ip, len, dlen) ;
        return e ? e : fail(m, "bad CIDR prefix (address bits set beyond the prefix length)", a, alen) ;
      }
    }
    if (v6)
    {
      /* 2001:db8: (whole groups, one trailing colon) is the prefix 2001:db8::/32 */
      if (alen >= 2 && a[alen-1] == ':' && a[alen-2] != ':')
      {
        unsigned int groups = 0 ;
        size_t j = 0 ;
        memset(ip, 0, 16) ;
        while (j < alen)
        {
          unsigned int v = 0, d = 0 ;
          while (j < alen && d < 5)
          {
            char ch = a[j] ;
            int x = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1 ;
            if (x < 0) break ;
            v = v << 4 | x ; d++ ; j++ ;
          }
          if (!d || d > 4 || j >= alen || a[j] != ':' || groups >= 8)
            return fail(m, "bad IPv6 prefix (want whole groups ending with one colon, as 2001:db8:)", a, alen) ;
          ip[2*groups] = v >> 8 ; ip[2*groups+1] = v & 255 ;
          groups++ ; j++ ;
        }
        return add_cidr(m, 6, ip, 16 * groups, dlen) ;
      }
      if (!ip6_scan(a, alen, ip)) return fail(m, "bad IPv6 address", a, alen) ;
      return add_ip6_exact(m, "", 0, ip, dlen) ;
    }
    return add_ip4(m, "", 0, a, alen, dlen, 0) ;
  }
}

int rules_make_line (rules_make *m, char const *s, size_t len)
{
  size_t i, colon, comma, dlen = 0 ;
  char const *instr ;
  size_t ilen ;
  m->err[0] = 0 ;
  while (len && isblank_(s[len-1])) len-- ;
  for (i = 0 ; i < len && isblank_(s[i]) ; i++) ;
  if (i == len || s[i] == '#') return 1 ;
  if (len > RULES_LINE_MAX) return fail(m, "line too long", 0, 0) ;
  if (memchr(s, 0, len)) return fail(m, "NUL byte in the line", 0, 0) ;
  {
    char const *c = memchr(s, ',', len) ;
    comma = c ? (size_t)(c - s) : len ;
  }
  {
    char const *c = memrchr(s, ':', comma) ;
    if (!c) return fail(m, "no colon after the address", s, len) ;
    colon = c - s ;
  }
  instr = s + colon + 1 ;
  ilen = comma - colon - 1 ;
  if (ilen == 5 && !memcmp(instr, "allow", 5)) ;
  else if (ilen == 4 && !memcmp(instr, "deny", 4)) { memcpy(m->data, "D", 2) ; dlen = 2 ; }
  else if (!ilen) return fail(m, "missing allow or deny after the address", s, len) ;
  else return fail(m, "want allow or deny after the address, not", instr, ilen) ;

  i = comma ;
  while (i < len)
  {
    size_t name = ++i, nlen ;
    while (i < len && s[i] != '=' && s[i] != ',') i++ ;
    nlen = i - name ;
    if (!nlen) return fail(m, "bad variable (empty name)", s + name - 1, len - name + 1) ;
    {
      size_t j ;
      for (j = name ; j < name + nlen ; j++)
        if ((unsigned char)s[j] <= 32 || (unsigned char)s[j] >= 127 || s[j] == '"' || s[j] == '\'')
          return fail(m, "bad variable name", s + name, nlen) ;
    }
    if (i == len || s[i] == ',')
    {
      m->data[dlen++] = '-' ;
      memcpy(m->data + dlen, s + name, nlen) ; dlen += nlen ;
      m->data[dlen++] = 0 ;
      continue ;
    }
    i++ ;   /* '=' */
    if (i == len) return fail(m, "bad variable (no quoted value after =)", s + name, len - name) ;
    {
      char q = s[i++] ;
      char const *end = memchr(s + i, q, len - i) ;
      size_t vlen ;
      if (!end) return fail(m, "unterminated value (no closing quote)", s + name, len - name) ;
      vlen = end - (s + i) ;
      m->data[dlen++] = '+' ;
      memcpy(m->data + dlen, s + name, nlen) ; dlen += nlen ;
      m->data[dlen++] = '=' ;
      memcpy(m->data + dlen, s + i, vlen) ; dlen += vlen ;
      m->data[dlen++] = 0 ;
      i += vlen + 1 ;
      if (i < len && s[i] != ',') return fail(m, "garbage after the closing quote", s + i, len - i) ;
      if (i + 1 == len) return fail(m, "bad variable (nothing after the last comma)", 0, 0) ;
    }
  }
  return add_address(m, s, colon, dlen) ;
}

int rules_make_finish (rules_make *m)
{
  unsigned char v[129] ;
  unsigned int n = 0 ;
  int l ;
  for (l = 32 ; l >= 0 ; l--) if (m->len4[l]) v[n++] = l ;
  if (n && cdb_make_add(&m->cdbm, "\0L4", 3, v, n) < 0) return -1 ;
  n = 0 ;
  for (l = 128 ; l >= 0 ; l--) if (m->len6[l]) v[n++] = l ;
  if (n && cdb_make_add(&m->cdbm, "\0L6", 3, v, n) < 0) return -1 ;
  if (cdb_make_finish(&m->cdbm) < 0) return -1 ;
  m->cdbm.cdb_fd = -1 ;
  return 1 ;
}

void rules_make_free (rules_make *m)
{
  /* abandoning a database: finishing it is the only way tinycdb frees its record lists */
  if (m->data && m->cdbm.cdb_fd >= 0) cdb_make_finish(&m->cdbm) ;
  free(m->err) ; m->err = 0 ;
  free(m->data) ; m->data = 0 ;
}
