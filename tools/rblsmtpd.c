/* rblsmtpd: look the SMTP client up in DNS block lists, all of them at once under one
   deadline, then exec the SMTP server, or hold a short dialogue that refuses every message. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/env.h>
#include <skalibs/exec.h>
#include <skalibs/fmtscan.h>
#include <skalibs/iopause.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "dns.h"
#include "logtext.h"

#define USAGE "rblsmtpd [ -b ] [ -B ] [ -c ] [ -C ] [ -t secs ] [ -T secs ] [ -w secs ] [ -m var ] [ -r base[=codes] ] [ -a base[=codes] ] prog..."
#define dieusage() strerr_dieusage(100, USAGE)
#define dienomem() strerr_diefu1sys(111, "allocate memory")

#define TEXT_MAX 200          /* as 0.88: the reply's text is cut there */
#define LINE_KEPT 512         /* the part of a client's line the dialogue looks at */

enum { WAIT = -1, UNDECIDED = 0, PASS, BLOCK451, BLOCK553 } ;

typedef struct source_s source ;
struct source_s
{
  char const *base ;        /* the list's domain */
  char const *codes ;       /* A-record filter "a.b.c.d[-e.f.g.h],...", or 0 */
  unsigned int anti : 1 ;   /* -a: a hit lets the client through */
  unsigned int bounce : 1 ; /* -b was in force at this option: 553 for a hit */
  unsigned int closed : 1 ; /* -c was in force at this option: a failure blocks */
  int qa ;                  /* its A query, or -1 */
  int qtxt ;                /* its TXT query, or -1 */
} ;

static char const *ipenv = "" ;
static stralloc iplog = STRALLOC_ZERO ;   /* the client's address, safe to print */
static char pidfmt[UINT_FMT] ;

/* ---- options */

/* codes: "a.b.c.d" or "a.b.c.d-e.f.g.h", comma-separated. Without ip: 1 if codes is well
   formed. With ip (4 bytes): 1 if ip is in one of the ranges. */
static int codes_match (char const *codes, char const *ip)
{
  uint32_t u = 0 ;
  char const *s = codes ;
  if (ip) u = (uint32_t)(unsigned char)ip[0] << 24 | (uint32_t)(unsigned char)ip[1] << 16 | (uint32_t)(unsigned char)ip[2] << 8 | (unsigned char)ip[3] ;
  for (;;)
  {
    uint32_t lo, hi ;
    size_t n = ip4_scanu32(s, &lo) ;
    if (!n) return 0 ;
    s += n ;
    hi = lo ;
    if (*s == '-')
    {
      n = ip4_scanu32(++s, &hi) ;
      if (!n || hi < lo) return 0 ;
      s += n ;
    }
    if (ip && u >= lo && u <= hi) return 1 ;
    if (!*s) return !ip ;
    if (*s++ != ',') return 0 ;
  }
}

static void source_add (source *src, unsigned int *n, char const *arg, int anti, int bounce, int closed)
{
  source *s = src + (*n)++ ;
  char const *eq = strchr(arg, '=') ;
  char wire[DNS_NAME_MAX] ;
  size_t len ;
  s->anti = !!anti ; s->bounce = !!bounce ; s->closed = !!closed ;
  s->qa = s->qtxt = -1 ;
  s->codes = 0 ;
  s->base = arg ;
  if (eq)
  {
    char *base = strdup(arg) ;
    if (!base) dienomem() ;
    base[eq - arg] = 0 ;
    s->base = base ;
    s->codes = eq + 1 ;
    if (!codes_match(s->codes, 0)) strerr_dief3x(100, "invalid return codes in ", arg, ": want a.b.c.d or a.b.c.d-e.f.g.h, comma-separated") ;
  }
  /* the longest query puts 32 nibbles (64 bytes) in front of the base */
  len = s->base[0] ? dns_name_pack(wire, s->base) : 0 ;
  if (len <= 1 || len + 64 > DNS_NAME_MAX) strerr_dief2x(100, "invalid list name: ", s->base) ;
}

/* ---- the lookups */

static int qstatus (dns_q const *q, int i, int ipok)
{
  return ipok ? q[i].status : -1 ;
}

static void txt_join (stralloc *text, stralloc const *answer)
{
  size_t i ;
  text->len = 0 ;
  for (i = 0 ; i < answer->len ; i++)
    if (answer->s[i] && !stralloc_catb(text, answer->s + i, 1)) dienomem() ;
}

/* The query that says whether a source lists the client. */
static int source_key (source const *s)
{
  return s->anti || s->codes ? s->qa : s->qtxt ;
}

/* 0.88's rules, source after source in command-line order: the first list or anti-list hit
   decides; a failure blocks (451) with -c, or skips the list (an anti-list: lets the client
   through) with -C, and a failure on the way forbids 553. Returns WAIT while an answer it
   needs is pending; *upto = the sources consulted, *by = the deciding one. */
static int walk (source const *src, unsigned int n, dns_q const *q, int ipok, int *mustnotbounce, unsigned int *upto, int *by, stralloc *text)
{
  unsigned int i ;
  *mustnotbounce = 0 ;
  *by = -1 ;
  for (i = 0 ; i < n ; i++)
  {
    source const *s = src + i ;
    int key = source_key(s) ;
    int st = qstatus(q, key, ipok) ;
    size_t j ;
    char const *hit = 0 ;
    *upto = i + 1 ;
    if (st == DNS_PENDING) return WAIT ;
    if (st < 0)
    {
      *mustnotbounce = 1 ;
      if (s->anti && !s->closed) { *by = (int)i ; return PASS ; }
      if (!s->anti && s->closed)
      {
        *by = (int)i ;
        if (!stralloc_copys(text, "temporary RBL lookup error")) dienomem() ;
        return BLOCK451 ;
      }
      continue ;
    }
    if (st != 1) continue ;
    if (key == s->qtxt)   /* a 0.88 list: listed when the TXT text is not empty */
    {
      txt_join(text, &q[key].answer) ;
      if (!text->len) continue ;
      *by = (int)i ;
      return s->bounce ? BLOCK553 : BLOCK451 ;
    }
    /* an A-record list or anti-list: listed when an address passes the filter, if any */
    for (j = 0 ; j + 4 <= q[key].answer.len && !hit ; j += 4)
      if (!s->codes || codes_match(s->codes, q[key].answer.s + j)) hit = q[key].answer.s + j ;
    if (!hit) continue ;
    *by = (int)i ;
    if (s->anti) return PASS ;
    st = qstatus(q, s->qtxt, ipok) ;
    if (st == DNS_PENDING) return WAIT ;
    text->len = 0 ;
    if (st == 1) txt_join(text, &q[s->qtxt].answer) ;
    if (!text->len)
    {
      char fmt[IP4_FMT] ;
      fmt[ip4_fmt(fmt, hit)] = 0 ;
      if (!stralloc_copy(text, &iplog) || !stralloc_cats(text, " is listed in ")
       || !stralloc_cats(text, s->base) || !stralloc_cats(text, " (")
       || !stralloc_cats(text, fmt) || !stralloc_cats(text, ")")) dienomem() ;
    }
    return s->bounce ? BLOCK553 : BLOCK451 ;
  }
  return UNDECIDED ;
}

static int lookup (source *src, unsigned int n, unsigned int secs, stralloc *text, int *by)
{
  char ip[16] ;
  char name[DNS_REVERSE_MAX + DNS_NAME_MAX + 2] ;
  dns_q *q ;
  dns_server srv ;
  tain deadline ;
  unsigned int i, nq = 0, upto = 0 ;
  int is6, ipok, mustnotbounce, d ;
  size_t revlen ;

  ipok = dns_ip_scan(ip, &is6, ipenv) ;
  if (!ipok) strerr_warnw3x("unable to parse TCPREMOTEIP \"", iplog.s, "\": every lookup counts as failed") ;
  else if (!dns_server_get(&srv)) strerr_diefu1sys(111, "find the DNS server (check DNSCACHEIP)") ;
  q = malloc(2 * n * sizeof *q) ;
  if (!q) dienomem() ;
  revlen = ipok ? dns_ip_reverse(name, ip, is6) : 0 ;
  name[revlen++] = '.' ;
  for (i = 0 ; i < n ; i++)
  {
    source *s = src + i ;
    memcpy(name + revlen, s->base, strlen(s->base) + 1) ;
    if (s->anti || s->codes)
    {
      s->qa = (int)nq ;
      q[nq] = (dns_q)DNS_Q_ZERO ;
      if (ipok && !dns_q_init(&q[nq], name, DNS_T_A)) strerr_diefu2sys(111, "prepare a query for ", name) ;
      nq++ ;
    }
    if (!s->anti)
    {
      s->qtxt = (int)nq ;
      q[nq] = (dns_q)DNS_Q_ZERO ;
      if (ipok && !dns_q_init(&q[nq], name, DNS_T_TXT)) strerr_diefu2sys(111, "prepare a query for ", name) ;
      nq++ ;
    }
  }
  tain_now_g() ;
  tain_addsec_g(&deadline, (int)secs) ;
  if (ipok) dns_start(q, nq, &srv) ;
  for (;;)
  {
    d = walk(src, n, q, ipok, &mustnotbounce, &upto, by, text) ;
    if (d != WAIT) break ;
    if (dns_step(q, nq, &deadline) < 0) strerr_diefu1sys(111, "wait for DNS answers") ;
  }
  for (i = 0 ; ipok && i < upto ; i++)
  {
    int key = source_key(src + i) ;
    if (q[key].status < 0)
      strerr_warnw7x(iplog.s, " pid ", pidfmt, ": lookup in ", src[i].base, " failed: ", strerror(q[key].err)) ;
  }
  for (i = 0 ; i < nq ; i++) dns_q_free(&q[i]) ;
  free(q) ;
  if (d == BLOCK553 && mustnotbounce) d = BLOCK451 ;
  return d ;
}

/* ---- the refusing dialogue, as 0.88 holds it */

static void drop (int sig)
{
  (void)sig ;
  _exit(0) ;
}

static void out (char const *s, size_t len)
{
  if (allwrite(1, s, len) < len) _exit(0) ;
}

static void refuse (char const *reply, size_t replylen, unsigned int secs) gccattr_noreturn ;
static void refuse (char const *reply, size_t replylen, unsigned int secs)
{
  static char const greet[] = "220 rblsmtpd.local\r\n" ;
  static char const ok[] = "250 rblsmtpd.local\r\n" ;
  static char const bye[] = "221 rblsmtpd.local\r\n" ;
  stralloc outq = STRALLOC_ZERO ;
  char line[LINE_KEPT + 1] ;
  size_t linelen = 0 ;
  char buf[1024] ;
  if (!secs) { out(reply, replylen) ; _exit(0) ; }
  sig_catch(SIGALRM, &drop) ;
  alarm(secs) ;
  out(greet, sizeof greet - 1) ;
  for (;;)
  {
    ssize_t r ;
    size_t i ;
    if (outq.len) { out(outq.s, outq.len) ; outq.len = 0 ; }   /* answer all, then read */
    r = fd_read(0, buf, sizeof buf) ;
    if (r <= 0) _exit(0) ;
    for (i = 0 ; i < (size_t)r ; i++)
    {
      char const *answer = reply ;
      size_t answerlen = replylen ;
      size_t v = 0 ;
      if (buf[i] != '\n') { if (linelen < LINE_KEPT) line[linelen++] = buf[i] ; continue ; }
      if (linelen && line[linelen - 1] == '\r') linelen-- ;
      while (v < linelen && line[v] != ' ' && line[v]) v++ ;
      line[v] = 0 ;
      linelen = 0 ;
      if (!strcasecmp(line, "quit"))
      {
        if (!stralloc_catb(&outq, bye, sizeof bye - 1)) dienomem() ;
        out(outq.s, outq.len) ;
        _exit(0) ;
      }
      if (!strcasecmp(line, "helo") || !strcasecmp(line, "ehlo") || !strcasecmp(line, "mail")
       || !strcasecmp(line, "rset") || !strcasecmp(line, "noop"))
      { answer = ok ; answerlen = sizeof ok - 1 ; }
      if (!stralloc_catb(&outq, answer, answerlen)) dienomem() ;
    }
  }
}

/* Log the refusal, then hold the dialogue. Never returns. */
static void block (int d, char const *by, stralloc const *text, unsigned int secs, char const *sent, size_t sentlen) gccattr_noreturn ;
static void block (int d, char const *by, stralloc const *text, unsigned int secs, char const *sent, size_t sentlen)
{
  stralloc reply = STRALLOC_ZERO ;
  stralloc log = STRALLOC_ZERO ;
  if (!stralloc_copys(&reply, d == BLOCK553 ? "553 " : "451 ")
   || !logtext_cat(&reply, text->s, text->len < TEXT_MAX ? text->len : TEXT_MAX, TEXT_MAX, 0)) dienomem() ;
  if (!stralloc_copys(&log, "deny ") || !stralloc_cat(&log, &iplog) || !stralloc_cats(&log, " pid ")
   || !stralloc_cats(&log, pidfmt) || !stralloc_cats(&log, " by ") || !logtext_cat(&log, by, strlen(by), 100, 0)
   || !stralloc_cats(&log, ": ") || !stralloc_cat(&log, &reply)) dienomem() ;
  if (sentlen && (!stralloc_cats(&log, ": it sent \"") || !logtext_cat(&log, sent, sentlen, 60, "\"")
   || !stralloc_cats(&log, "\""))) dienomem() ;
  if (!stralloc_0(&log)) dienomem() ;
  strerr_warnn(3, PROG, ": ", log.s) ;
  if (!stralloc_cats(&reply, "\r\n")) dienomem() ;
  refuse(reply.s, reply.len, secs) ;
}

/* ---- the greeting delay */

/* Wait until deadline for the client to talk first. 0: it kept quiet; 1: it talked, and buf[0..*len)
   is a peek at what it sent (nothing when fd 0 is not a socket); -1: it left. What it sent
   stays unread, for the dialogue or for prog. */
static int pregreet (tain const *deadline, char *buf, size_t *len, size_t max)
{
  iopause_fd x = { .fd = 0, .events = IOPAUSE_READ, .revents = 0 } ;
  ssize_t r ;
  tain_now_g() ;
  for (;;)
  {
    int e = iopause_g(&x, 1, deadline) ;
    if (e > 0) break ;
    if (!e) return 0 ;
    if (errno != EINTR) strerr_diefu1sys(111, "wait for the client") ;
  }
  *len = 0 ;
  do r = recv(0, buf, max, MSG_PEEK | MSG_DONTWAIT) ;
  while (r < 0 && errno == EINTR) ;
  if (r > 0) { *len = (size_t)r ; return 1 ; }
  if (!r) return -1 ;
  if (errno == ENOTSOCK)   /* a pipe: readable with nothing in it is the end */
  {
    int n ;
    return ioctl(0, FIONREAD, &n) == 0 && n > 0 ? 1 : -1 ;
  }
  return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1 ;
}

static void tag (char const *var, char const *by, char const *const *argv) gccattr_noreturn ;
static void tag (char const *var, char const *by, char const *const *argv)
{
  stralloc modifs = STRALLOC_ZERO ;
  stralloc log = STRALLOC_ZERO ;
  if (!env_addmodif(&modifs, var, by)) dienomem() ;
  if (!stralloc_copys(&log, "tag ") || !stralloc_cat(&log, &iplog) || !stralloc_cats(&log, " pid ")
   || !stralloc_cats(&log, pidfmt) || !stralloc_cats(&log, " by ") || !logtext_cat(&log, by, strlen(by), 100, 0)
   || !stralloc_cats(&log, ": ") || !logtext_cat(&log, var, strlen(var), 100, 0) || !stralloc_cats(&log, " set")
   || !stralloc_0(&log)) dienomem() ;
  strerr_warnn(3, PROG, ": ", log.s) ;
  mexec_m(argv, modifs.s, modifs.len) ;
  strerr_diefu2sys(111, "run ", argv[0]) ;
}

/* Hand the connection to prog: nothing of rblsmtpd stays in between. */
static void run (char const *const *argv) gccattr_noreturn ;
static void run (char const *const *argv)
{
  exec(argv) ;
  strerr_diefu2sys(111, "run ", argv[0]) ;
}

int main (int argc, char const *const *argv)
{
  source *src ;
  unsigned int nsrc = 0 ;
  unsigned int timeout = 60, deadline = 5, delay = 0 ;
  int bounce = 0, closed = 0 ;
  char const *tagvar = 0 ;
  char const *by = "" ;
  char const *x ;
  stralloc text = STRALLOC_ZERO ;
  tain greet ;   /* the end of the greeting delay: the lookups run inside it */
  int d = UNDECIDED, i = -1 ;
  PROG = "rblsmtpd" ;

  src = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *src) ;
  if (!src) dienomem() ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "bBcCt:T:w:m:r:a:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'b' : bounce = 1 ; break ;
        case 'B' : bounce = 0 ; break ;
        case 'c' : closed = 1 ; break ;
        case 'C' : closed = 0 ; break ;
        case 't' : if (!uint0_scan(l.arg, &timeout)) dieusage() ; break ;
        case 'T' : if (!uint0_scan(l.arg, &deadline) || !deadline || deadline > 3600) dieusage() ; break ;
        case 'w' : if (!uint0_scan(l.arg, &delay) || delay > 3600) dieusage() ; break ;
        case 'm' : if (!l.arg[0] || strchr(l.arg, '=')) dieusage() ; tagvar = l.arg ; break ;
        case 'r' : source_add(src, &nsrc, l.arg, 0, bounce, closed) ; break ;
        case 'a' : source_add(src, &nsrc, l.arg, 1, bounce, closed) ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (!argc) dieusage() ;
  tain_now_g() ;
  tain_addsec_g(&greet, (int)delay) ;
  pidfmt[uint_fmt(pidfmt, (unsigned int)getpid())] = 0 ;
  x = getenv("TCPREMOTEIP") ;
  if (x) ipenv = x ;
  if (!logtext_cat(&iplog, ipenv, strlen(ipenv), 100, 0) || !stralloc_0(&iplog)) dienomem() ;
  iplog.len-- ;
  sig_ignore(SIGPIPE) ;

  x = getenv("RBLSMTPD") ;
  if (x)   /* a rule decided: no lookup, no delay */
  {
    if (!*x) run(argv) ;
    if (!stralloc_copys(&text, x + (*x == '-'))) dienomem() ;
    block(*x == '-' ? BLOCK553 : BLOCK451, "$RBLSMTPD", &text, timeout, 0, 0) ;
  }

  if (nsrc) d = lookup(src, nsrc, deadline, &text, &i) ;
  if (i >= 0) by = src[i].base ;
  if (d == PASS) run(argv) ;   /* anti-listed: no delay either */
  if ((d == BLOCK451 || d == BLOCK553) && !tagvar) block(d, by, &text, timeout, 0, 0) ;

  if (delay)
  {
    char buf[256] ;
    size_t len = 0 ;
    int r = pregreet(&greet, buf, &len, sizeof buf) ;
    if (r < 0)   /* gone before the greeting: nothing to serve */
    {
      strerr_warnn(6, PROG, ": end ", iplog.s, " pid ", pidfmt, ": the client left before the greeting") ;
      _exit(0) ;
    }
    if (r > 0 && !tagvar)
    {
      if (!stralloc_copys(&text, "talking before the greeting is not allowed")) dienomem() ;
      block(bounce ? BLOCK553 : BLOCK451, "pregreet", &text, timeout, buf, len) ;
    }
    if (r > 0 && d != BLOCK451 && d != BLOCK553) { d = BLOCK451 ; by = "pregreet" ; }
  }

  if (tagvar && (d == BLOCK451 || d == BLOCK553)) tag(tagvar, by, argv) ;
  run(argv) ;
}
