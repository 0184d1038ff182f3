/* tcpsrv: accept TCP connections on host:port; for each one, put the socket on fds 0 and
   1, set the UCSPI environment, apply the access rules and run prog.
   Two ways to start prog. When nothing may wait (no -h, -p or -r), the parent looks the
   rules up itself and starts prog from a qspawn child (tools/lib/qspawn): it shares the
   parent's memory until its exec, so nothing is copied, and the parent does not wait for
   the exec. Otherwise, and whenever the quick way cannot finish (a denied client, an
   unreadable database, a banner that did not fit, no qspawn slot), the parent forks a
   child that does everything that may wait or fail.
   With -w, prog is started as resident workers instead (tools/lib/resident.h has the
   protocol): each connection, once the rules, the limits and its environment are known, is
   handed to an idle worker, its socket passed over a unix socket; the worker says when it is
   done, and until then the connection counts as running. A connection that needs a lookup,
   or whose banner did not fit, is handed over by a forked child once that is done. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/env.h>
#include <skalibs/exec.h>
#include <skalibs/iopause.h>
#include <skalibs/ip46.h>
#include <skalibs/selfpipe.h>
#include <skalibs/setgroups.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/socket.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "conntab.h"
#include "dns.h"
#include "fdpass.h"
#include "ident.h"
#include "logtext.h"
#include "qspawn.h"
#include "resident.h"
#include "rules.h"
#include "services.h"

#define USAGE "tcpsrv [ -1dDhHoOpPqQrRUvX ] [ -c limit ] [ -C perip ] [ -M v6prefix ] [ -w workers ] [ -n uses ] [ -b backlog ] [ -x rules.cdb ] [ -B banner ] [ -g gid ] [ -u uid ] [ -l localname ] [ -t timeout ] host port prog..."
#define dieusage() strerr_dieusage(100, USAGE)

#define LOGFIELD_MAX 200      /* bytes of network text kept in one log field */
#define V4MAPPED "\0\0\0\0\0\0\0\0\0\0\377\377"

/* What the command line asked for, and what the parent knows of its socket; read-only
   once the server runs. */
static struct
{
  unsigned int verbosity ;    /* 0 -q, 1 -Q (default), 2 -v */
  unsigned int limit ;        /* -c */
  unsigned int perip ;        /* -C; 0: no limit */
  unsigned int v6prefix ;     /* -M: IPv6 clients counted per /v6prefix network */
  unsigned int timeout ;      /* -t, seconds, for each lookup */
  int delay ;                 /* -d (default) / -D */
  int killopts ;              /* -O (default) / -o */
  int remotehost ;            /* -h / -H (default) */
  int paranoid ;              /* -p / -P (default) */
  int remoteinfo ;            /* -r / -R (default) */
  int allownorules ;          /* -X */
  char const *rules ;         /* -x */
  char const *banner ;        /* -B */
  size_t bannerlen ;
  char const *localname ;     /* -l */
  char const *localnamelog ;  /* -l, as the log shows it */
  uint16_t identport ;        /* $TCPSRV_IDENTPORT, else 113 */
  char const *execpath ;      /* prog, found in PATH once, at start */
  int pathsearch ;            /* prog has no '/': if execpath is gone, search PATH again */
  char const *pathvar ;       /* ... that is, this */
  char const *const *argv ;   /* prog and its arguments */
  sigset_t origmask ;         /* restored in the child */
  ip46 local ;                /* the bound address */
  int localwild ;             /* bound to every address: ask the kernel per connection */
  char localipstr[IP6_FMT] ;
  char localportstr[UINT16_FMT] ;
  uint16_t localport ;
  unsigned int pendmax ;      /* the ring's size: PENDMAX, less with few descriptors */
  unsigned int workers ;      /* -w: resident workers kept; 0: prog runs per connection */
  unsigned int uses ;         /* -n: connections a worker serves before it retires */
} cf =
{
  .verbosity = 1, .limit = 40, .perip = 0, .v6prefix = 128, .timeout = 26, .delay = 1, .killopts = 1,
  .remotehost = 0, .paranoid = 0, .remoteinfo = 0, .allownorules = 0, .rules = 0,
  .banner = 0, .bannerlen = 0, .localname = 0, .identport = IDENT_PORT, .workers = 0, .uses = 100,
} ;

/* Connections accepted and not started yet. The parent empties the kernel's accept queue
   before it starts anything, and again after each start, so that a burst of clients does
   not overflow the listen backlog while progs start: with SYN cookies on, a client whose
   handshake completes against a full queue believes it is connected to a server that never
   heard of it, and waits until it gives up. */
#define PENDMAX 64
typedef struct pend_s pend ;
struct pend_s { int fd ; uint16_t port ; ip46 ip ; } ;

/* One accepted connection as the parent hands it to its child. The texts are formatted
   before the fork, where the code doing it is paged in already: a child pays a page fault
   for every page of code it runs, and page faults are most of its cost. */
typedef struct conn_s conn ;
struct conn_s
{
  int fd ;
  uint16_t port ;
  ip46 ip ;
  char ipstr[IP6_FMT] ;
  char portstr[UINT16_FMT] ;
  char numstr[UINT_FMT] ;     /* TCPCONNNUM */
  unsigned int num ;
  size_t bannersent ;         /* bytes of -B the parent has written already */
  size_t statuslen ;          /* -v: the parent's status line, written by the child */
  char status[32 + 2 * UINT_FMT] ;   /* before its own lines, as 0.88 orders them */
  unsigned int nothers ;      /* other accepted connections not started yet: a forked */
  int others[PENDMAX] ;       /* child closes them at once, or their clients get no EOF */
  int wfd ;                   /* -w: the socket of the worker a forked child hands the */
  pid_t wpid ;                /* connection to, and its pid; -1 and 0: the child runs prog */
} ;

/* The rule found for a connection. Its buffers are reserved at start, so that a child
   usually fills them without calling malloc. */
static rules_result rr = RULES_RESULT_ZERO ;

/* The parent's copy of the rules database, for the quick way: one stat per connection
   while tcprules has not replaced it. */
static rules_db rdb = RULES_DB_ZERO ;

/* ---- addresses */

/* IPv4-mapped IPv6 becomes plain IPv4: clients of a dual-stack socket look like any other. */
static void ip46_unmap (ip46 *a)
{
  if (a->is6 && !memcmp(a->ip, V4MAPPED, 12))
  {
    memmove(a->ip, a->ip + 12, 4) ;
    memset(a->ip + 4, 0, 12) ;
    a->is6 = 0 ;
  }
}

/* The 16-byte key of an address: IPv4 as v4-mapped. */
static void ip46_key (char *key, ip46 const *a)
{
  if (a->is6) memcpy(key, a->ip, 16) ;
  else { memcpy(key, V4MAPPED, 12) ; memcpy(key + 12, a->ip, 4) ; }
}

/* The key the connections of a client are counted under: its address, or for IPv6 its
   /bits network (the bits after the prefix zeroed). */
static void count_key (char *key, ip46 const *a, unsigned int bits)
{
  ip46_key(key, a) ;
  if (a->is6 && bits < 128)
  {
    unsigned int i = bits >> 3 ;
    if (bits & 7) ((unsigned char *)key)[i++] &= (unsigned char)(0xffu << (8 - (bits & 7))) ;
    memset(key + i, 0, 16 - i) ;
  }
}

/* The address text of TCPLOCALIP and TCPREMOTEIP: a dotted quad, or RFC 5952 IPv6 text,
   the form rules keys use. s needs IP6_FMT bytes. */
static size_t ipfmt (char *s, ip46 const *a)
{
  return a->is6 ? rules_ip6_fmt(s, (unsigned char const *)a->ip) : ip4_fmt(s, a->ip) ;
}

/* ---- the child: everything that may wait or allocate happens here */

/* A log line under construction, on the stack. */
typedef struct line_s line ;
struct line_s { size_t len ; char s[2048] ; } ;

static void line_cat (line *l, char const *s, size_t n)
{
  if (n > sizeof l->s - 1 - l->len) n = sizeof l->s - 1 - l->len ;
  memcpy(l->s + l->len, s, n) ;
  l->len += n ;
}

static void line_cats (line *l, char const *s)
{
  line_cat(l, s, strlen(s)) ;
}

/* The end of a line: always fits, line_cat keeps a byte for it. */
static void line_end (line *l)
{
  l->s[l->len++] = '\n' ;
}

static int sigpipe_pending = 0 ;

static void line_flush (line *l)
{
  size_t w = 0 ;
  while (w < l->len)
  {
    ssize_t r = write(2, l->s + w, l->len - w) ;
    if (r < 0)
    {
      if (errno == EINTR) continue ;
      if (errno == EPIPE) sigpipe_pending = 1 ;
      break ;
    }
    w += r ;
  }
  l->len = 0 ;
}

static line *pending = 0 ;    /* the child's log line not written yet, if any */

static void drop (char const *what, char const *arg) gccattr_noreturn ;
static void drop (char const *what, char const *arg)
{
  int e = errno ;
  if (pending) line_flush(pending) ;
  errno = e ;
  if (cf.verbosity) strerr_diewnsys(111, 4, "dropping connection, unable to ", what, arg ? " " : "", arg ? arg : "") ;
  _exit(111) ;
}

/* the rules cannot be read: a FIFO, a device or a damaged database says so in words */
static void droprules (void) gccattr_noreturn ;
static void droprules (void)
{
  int e = errno ;
  if (pending) line_flush(pending) ;
  if (cf.verbosity) strerr_diew4x(111, "dropping connection, unable to read ", cf.rules, ": ", rules_strerror(e)) ;
  _exit(111) ;
}

static void dropnomem (void) gccattr_noreturn ;
static void dropnomem (void)
{
  drop("allocate memory", 0) ;
}

/* Text from the network (or -l) in a log field: non-printable bytes, ':' and ' ' become '?'. */
static void line_field (line *l, char const *s)
{
  stralloc sa = STRALLOC_ZERO ;
  if (!s) return ;
  if (!logtext_cat(&sa, s, strlen(s), LOGFIELD_MAX, ": ")) dropnomem() ;
  line_cat(l, sa.s, sa.len) ;
  stralloc_free(&sa) ;
}

static void line_ip (line *l, char const *ipstr, int is6)
{
  if (is6) line_cat(l, "[", 1) ;
  line_cats(l, ipstr) ;
  if (is6) line_cat(l, "]", 1) ;
}

static size_t reverse_name (char *s, ip46 const *a)
{
  size_t len = dns_ip_reverse(s, a->ip, a->is6) ;
  char const *suffix = a->is6 ? ".ip6.arpa" : ".in-addr.arpa" ;
  memcpy(s + len, suffix, strlen(suffix) + 1) ;
  return len + strlen(suffix) ;
}

/* TCPREMOTEHOST, and TCPLOCALHOST unless -l gave it: both PTR queries at once. With -p the
   remote name counts only if one of its addresses is the client's. */
static void lookup_names (stralloc *localhost, stralloc *remotehost, ip46 const *local, ip46 const *remote, tain const *deadline)
{
  dns_server srv ;
  dns_q q[2] = { DNS_Q_ZERO, DNS_Q_ZERO } ;
  char name[DNS_REVERSE_MAX + 16] ;
  unsigned int n = 0, i ;
  if (!dns_server_get(&srv))
  {
    if (cf.verbosity) strerr_warnwu1sys("find the DNS server: no names looked up") ;
    return ;
  }
  reverse_name(name, remote) ;
  if (dns_q_init(&q[n], name, DNS_T_PTR)) n++ ;
  if (!cf.localname)
  {
    reverse_name(name, local) ;
    if (dns_q_init(&q[n], name, DNS_T_PTR)) n++ ;
  }
  dns_run(q, n, &srv, deadline) ;
  if (n >= 1 && q[0].status == 1 && !stralloc_copys(remotehost, q[0].answer.s)) dropnomem() ;
  if (n == 2 && q[1].status == 1 && !stralloc_copys(localhost, q[1].answer.s)) dropnomem() ;
  for (i = 0 ; i < n ; i++) dns_q_free(&q[i]) ;
  if (remotehost->len && cf.paranoid)
  {
    stralloc ips = STRALLOC_ZERO ;
    char key[16] ;
    int ok = 0 ;
    if (!stralloc_0(remotehost)) dropnomem() ;
    ip46_key(key, remote) ;
    if (dns_ip46(&ips, remotehost->s, deadline) == 1)
      for (i = 0 ; i + 16 <= ips.len ; i += 16)
        if (!memcmp(ips.s + i, key, 16)) { ok = 1 ; break ; }
    stralloc_free(&ips) ;
    remotehost->len = ok ? remotehost->len - 1 : 0 ;
  }
}

/* The per-address limit in force: the rule's MAXCONNIP when it sets one, else -C (0: none).
   *set tells whether a rule gave it (then 0 means "refuse every connection"). */
static unsigned int perip_limit (int *set, int quiet)
{
  size_t i = 0 ;
  char const *v = 0 ;
  unsigned int u ;
  *set = 0 ;
  while (i < rr.env.len)
  {
    char const *s = rr.env.s + i ;
    if (!strncmp(s, "MAXCONNIP=", 10)) v = s + 10 ;
    else if (!strcmp(s, "MAXCONNIP")) v = 0 ;
    i += strlen(s) + 1 ;
  }
  if (!v) return cf.perip ;
  if (!uint0_scan(v, &u))
  {
    if (cf.verbosity && !quiet) strerr_warnw3x("ignoring MAXCONNIP=", v, ": not a number") ;
    return cf.perip ;
  }
  *set = 1 ;
  return u ;
}

/* The modifications of prog's environment, "NAME=value\0" to set and "NAME\0" to unset
   (the env_addmodif format). In the child, a buffer on the stack, then on the heap if they
   outgrow it (no memory drops the connection). In the parent (soft), a qspawn slot's
   memory, which cannot grow: outgrowing it only sets failed, and the connection takes
   the slow way. */
typedef struct envb_s envb ;
struct envb_s { char *s ; size_t len ; size_t a ; int heap ; int soft ; int failed ; } ;

static void envb_cat (envb *e, char const *s, size_t n)
{
  if (e->failed) return ;
  if (n > e->a - e->len)
  {
    size_t a = 2 * (e->len + n) ;
    char *p ;
    if (e->soft) { e->failed = 1 ; return ; }
    p = malloc(a) ;
    if (!p) dropnomem() ;
    memcpy(p, e->s, e->len) ;
    if (e->heap) free(e->s) ;
    e->s = p ; e->a = a ; e->heap = 1 ;
  }
  memcpy(e->s + e->len, s, n) ;
  e->len += n ;
}

static void envb_put (envb *e, char const *name, char const *value)
{
  envb_cat(e, name, strlen(name)) ;
  if (value) { envb_cat(e, "=", 1) ; envb_cat(e, value, strlen(value)) ; }
  envb_cat(e, "", 1) ;
}

static size_t namelen (char const *s)
{
  size_t n = 0 ;
  while (s[n] && s[n] != '=') n++ ;
  return n ;
}

static int envb_names (char const *a, size_t alen, char const *b)
{
  return !strncmp(a, b, alen) && (b[alen] == '=' || !b[alen]) ;
}

/* Is the variable name[0..len) modified by modifs[from..)? */
static int envb_has (envb const *e, size_t from, char const *name, size_t len)
{
  while (from < e->len)
  {
    char const *m = e->s + from ;
    if (envb_names(name, len, m)) return 1 ;
    from += strlen(m) + 1 ;
  }
  return 0 ;
}

/* tcpsrv's variables first, then the rule's: a rule may override any of them. */
static void envb_ucspi (envb *e, char const *localipstr, char const *lhost, conn const *c, char const *rhost, char const *rinfo)
{
  envb_put(e, "PROTO", "TCP") ;
  envb_put(e, "TCPLOCALIP", localipstr) ;
  envb_put(e, "TCPLOCALPORT", cf.localportstr) ;
  envb_put(e, "TCPLOCALHOST", lhost) ;
  envb_put(e, "TCPREMOTEIP", c->ipstr) ;
  envb_put(e, "TCPREMOTEPORT", c->portstr) ;
  envb_put(e, "TCPREMOTEHOST", rhost) ;
  envb_put(e, "TCPREMOTEINFO", rinfo) ;
  envb_put(e, "TCPCONNNUM", c->numstr) ;
  if (rr.env.len) envb_cat(e, rr.env.s, rr.env.len) ;
}

/* prog's environment: environ modified by e. envp_size is the length of the array
   envp_fill needs, its terminating null included. */
static size_t envp_size (envb const *e)
{
  size_t n = 1, i ;
  for (i = 0 ; environ[i] ; i++) n++ ;
  for (i = 0 ; i < e->len ; i += strlen(e->s + i) + 1) n++ ;
  return n ;
}

static void envp_fill (char const **v, envb const *e)
{
  size_t n = 0, i ;
  for (i = 0 ; environ[i] ; i++)
    if (!envb_has(e, 0, environ[i], namelen(environ[i]))) v[n++] = environ[i] ;
  for (i = 0 ; i < e->len ; )
  {
    char const *mod = e->s + i ;
    size_t len = strlen(mod), nlen = namelen(mod) ;
    i += len + 1 ;
    if (mod[nlen] && !envb_has(e, i, mod, nlen)) v[n++] = mod ;   /* the last one wins */
  }
  v[n] = 0 ;
}

/* Run prog with environ modified by e. Returns only on failure. This is xmexec_m's job,
   done with fewer pages touched (each costs the child a page fault): the environment
   array is built on the stack and prog's path was found at start. */
static void exec_prog (char const *path, envb const *e)
{
  char const *v[envp_size(e)] ;
  envp_fill(v, e) ;
  execve(path, (char *const *)cf.argv, (char *const *)v) ;
}

static size_t pidfmt (char *s, pid_t pid)
{
  char t[PID_FMT] ;
  size_t n = 0, i ;
  unsigned long u = (unsigned long)pid ;
  do { t[n++] = '0' + u % 10 ; u /= 10 ; } while (u) ;
  for (i = 0 ; i < n ; i++) s[i] = t[n - 1 - i] ;
  return n ;
}

/* The -v line that says what became of a connection: "ok" or "deny", then local and
   remote as 0.88 writes them. */
static void line_verdict (line *lg, int deny, char const *pidstr, char const *lhost, char const *localipstr, int local6, conn const *c, char const *rhost, char const *rinfo, unsigned int maxconnip)
{
  line_cats(lg, deny ? "tcpsrv: deny " : "tcpsrv: ok ") ;
  line_cats(lg, pidstr) ; line_cat(lg, " ", 1) ;
  if (cf.localname) line_cats(lg, cf.localnamelog) ; else line_field(lg, lhost) ;
  line_cat(lg, ":", 1) ;
  line_ip(lg, localipstr, local6) ; line_cat(lg, ":", 1) ;
  line_cats(lg, cf.localportstr) ; line_cat(lg, " ", 1) ;
  line_field(lg, rhost) ; line_cat(lg, ":", 1) ;
  line_ip(lg, c->ipstr, c->ip.is6) ; line_cat(lg, ":", 1) ;
  line_field(lg, rinfo) ; line_cat(lg, ":", 1) ;
  line_cats(lg, c->portstr) ;
  if (deny == 2)
  {
    char lim[UINT_FMT] ;
    lim[uint_fmt(lim, maxconnip)] = 0 ;
    line_cats(lg, " MAXCONNIP:") ; line_cats(lg, c->numstr) ;
    line_cat(lg, "/", 1) ; line_cats(lg, lim) ;
  }
  line_end(lg) ;
}

/* Close every descriptor above 2 but a and b. */
static void close_except (int a, int b)
{
  unsigned int lo = (unsigned int)(a < b ? a : b), hi = (unsigned int)(a < b ? b : a) ;
  if (lo > 3) close_range(3, lo - 1, 0) ;
  if (hi > lo + 1) close_range(lo + 1, hi - 1, 0) ;
  close_range(hi + 1, ~0U, 0) ;
}

/* Execute prog with environ changed by e. Returns only on failure (errno). */
static void run_prog (envb const *e)
{
  if (cf.execpath != cf.argv[0] || !cf.pathsearch) exec_prog(cf.execpath, e) ;
  else errno = ENOENT ;   /* not in PATH at the start */
  if (errno == ENOENT && cf.pathsearch)   /* prog moved or installed since the start */
    mexec_afm(cf.argv[0], cf.argv, (char const *const *)environ, env_len((char const *const *)environ), e->s, e->len) ;
}

static void child (conn const *c) gccattr_noreturn ;
static void child (conn const *c)
{
  line lg ;   /* no initializer: zeroing 2 kB would touch pages for nothing */
  char envstack[2048] ;
  envb env = { .s = envstack, .len = 0, .a = sizeof envstack, .heap = 0, .soft = 0, .failed = 0 } ;
  stralloc localhost = STRALLOC_ZERO ;
  stralloc remotehost = STRALLOC_ZERO ;
  stralloc remoteinfo = STRALLOC_ZERO ;
  ip46 local = cf.local ;
  char localipstr[IP6_FMT] ;
  char pidstr[PID_FMT] ;
  char const *lhost, *rhost, *rinfo ;
  int lookups = cf.remotehost || cf.remoteinfo ;
  int deny = 0, maxset ;
  unsigned int maxconnip ;

  /* a child that hands its connection to a worker runs no program that would close the
     server's descriptors on exec: it must hold none (the listening socket, the other
     workers' sockets), or their ends would come late */
  if (c->wfd >= 0) close_except(c->fd, c->wfd) ;
  else
  {
    unsigned int i ;
    for (i = 0 ; i < c->nothers ; i++) close(c->others[i]) ;
  }
  lg.len = 0 ;
  pending = &lg ;
  if (c->wfd >= 0) pidstr[pidfmt(pidstr, c->wpid)] = 0 ;
  if (cf.verbosity >= 2)
  {
    if (c->wfd < 0) pidstr[pidfmt(pidstr, getpid())] = 0 ;
    line_cat(&lg, c->status, c->statuslen) ;
    line_cats(&lg, "tcpsrv: pid ") ; line_cats(&lg, pidstr) ;
    line_cats(&lg, " from ") ; line_cats(&lg, c->ipstr) ; line_end(&lg) ;
    if (lookups) line_flush(&lg) ;   /* before anything that may wait */
  }

  /* -O: a source route from the client is not followed back */
  if (cf.killopts && !c->ip.is6) setsockopt(c->fd, IPPROTO_IP, IP_OPTIONS, 0, 0) ;
  if (cf.bannerlen)
  {
    size_t w = c->bannersent ;
    while (w < cf.bannerlen)
    {
      ssize_t r = send(c->fd, cf.banner + w, cf.bannerlen - w, MSG_NOSIGNAL) ;
      if (r < 0) { if (errno == EINTR) continue ; drop("print banner", 0) ; }
      w += r ;
    }
  }

  if (cf.localwild)
  {
    uint16_t dummy ;
    if (socket_local46(c->fd, &local, &dummy) < 0) drop("get local address", 0) ;
    ip46_unmap(&local) ;
    localipstr[ipfmt(localipstr, &local)] = 0 ;
  }
  else memcpy(localipstr, cf.localipstr, sizeof localipstr) ;

  if (lookups)
  {
    tain deadline ;
    if (cf.remotehost)
    {
      tain_now_g() ;
      tain_addsec_g(&deadline, cf.timeout) ;
      lookup_names(&localhost, &remotehost, &local, &c->ip, &deadline) ;
    }
    if (cf.remoteinfo)
    {
      stralloc raw = STRALLOC_ZERO ;
      tain_now_g() ;
      tain_addsec_g(&deadline, cf.timeout) ;
      if (ident_query(&raw, &c->ip, c->port, &local, cf.localport, cf.identport, &deadline) == 1
       && !logtext_cat(&remoteinfo, raw.s, raw.len, IDENT_USERMAX, 0)) dropnomem() ;
      stralloc_free(&raw) ;
    }
  }
  if ((localhost.len && !stralloc_0(&localhost)) || (remotehost.len && !stralloc_0(&remotehost))
   || (remoteinfo.len && !stralloc_0(&remoteinfo))) dropnomem() ;
  lhost = cf.localname ? cf.localname : localhost.len ? localhost.s : 0 ;
  rhost = remotehost.len ? remotehost.s : 0 ;
  rinfo = remoteinfo.len ? remoteinfo.s : 0 ;

  if (cf.rules)
  {
    int r = rules_lookup(&rr, cf.rules, c->ipstr, rhost, rinfo) ;
    if (r < 0)
    {
      if (errno != ENOENT || !cf.allownorules) droprules() ;
      rr.env.len = 0 ;
    }
    else if (r > 0) deny = rr.deny ;
  }

  maxconnip = perip_limit(&maxset, 0) ;
  if (!deny && (maxconnip || maxset) && c->num > maxconnip) deny = 2 ;

  if (cf.verbosity >= 2)
  {
    line_verdict(&lg, deny, pidstr, lhost, localipstr, local.is6, c, rhost, rinfo, maxconnip) ;
    line_flush(&lg) ;
  }
  if (deny) _exit(100) ;

  if (c->wfd >= 0)
  {
    /* "C", then the variables: the connection message of the resident protocol */
    envb_cat(&env, "C", 1) ;
    envb_ucspi(&env, localipstr, lhost, c, rhost, rinfo) ;
    if (env.len > RESIDENT_MSGMAX) { errno = E2BIG ; drop("hand the connection to worker", pidstr) ; }
    if (!fdpass_send(c->wfd, c->fd, env.s, env.len)) drop("hand the connection to worker", pidstr) ;
    _exit(0) ;
  }
  envb_ucspi(&env, localipstr, lhost, c, rhost, rinfo) ;

  /* c->fd is close-on-exec; its copies on 0 and 1 are not */
  if (dup2(c->fd, 0) < 0 || dup2(c->fd, 1) < 0) drop("set up descriptors", 0) ;
  if (sigpipe_pending)   /* a write to a dead log pipe: that SIGPIPE is not prog's */
  {
    sigset_t set ;
    struct timespec zero = { 0, 0 } ;
    sigemptyset(&set) ; sigaddset(&set, SIGPIPE) ;
    sigtimedwait(&set, 0, &zero) ;
  }
  sigprocmask(SIG_SETMASK, &cf.origmask, 0) ;
  run_prog(&env) ;
  drop("run", cf.argv[0]) ;
}

/* In a forked child: become a resident worker, its socket to the parent in $RESIDENTFD,
   /dev/null as fds 0 and 1 until a connection comes. */
static void worker_exec (int sock) gccattr_noreturn ;
static void worker_exec (int sock)
{
  char envstack[64] ;
  envb env = { .s = envstack, .len = 0, .a = sizeof envstack, .heap = 0, .soft = 0, .failed = 0 } ;
  char fmt[UINT_FMT] ;
  int nul = open("/dev/null", O_RDWR) ;
  if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || fcntl(sock, F_SETFD, 0) < 0)
  {
    if (cf.verbosity) strerr_warnwu1sys("set up the descriptors of a resident worker") ;
    _exit(111) ;
  }
  if (nul > 1) close(nul) ;
  fmt[uint_fmt(fmt, (unsigned int)sock)] = 0 ;
  envb_put(&env, RESIDENT_FDVAR, fmt) ;
  sigprocmask(SIG_SETMASK, &cf.origmask, 0) ;
  run_prog(&env) ;
  if (cf.verbosity) strerr_warnwu3sys("run ", cf.argv[0], " as a resident worker") ;
  _exit(111) ;
}

/* ---- the parent */

/* What the parent changes while serving, in pages its children do not inherit: the
   parent's writes after each fork then cost no copy-on-write fault. */
typedef struct parent_s parent ;
struct parent_s
{
  conntab tab ;
  unsigned int n ;            /* children, that is open connections */
  int draining ;              /* SIGTERM seen: no more accepting */
  int paused ;                /* out of descriptors: accept again at resume */
  int warned ;                /* ... and said so: once until an accept works again */
  tain resume ;
  unsigned int pqhead ;       /* connections accepted, not started yet: a ring */
  unsigned int pqlen ;
  pend pq[PENDMAX] ;
  size_t loglen ;
  char log[8192] ;            /* log lines, written once per turn of the loop */
  int resident ;              /* -w in force: connections go to workers (0 after falling back) */
  int everready ;             /* some worker said hello */
  int startwarned ;           /* a worker could not be started, and that was said */
  unsigned int failures ;     /* workers in a row that ended without serving anyone */
  unsigned int nw ;           /* workers started and not reaped: W[0..nw) */
  char msg[RESIDENT_MSGMAX] ; /* a connection message being built */
} ;
static parent *P ;

/* -w: a resident worker, as the parent sees it. Its connection (conn) counts in P->n and
   in the connection table under the worker's pid until it says done or dies. */
typedef struct worker_s worker ;
struct worker_s
{
  pid_t pid ;
  int fd ;                    /* our end of its socket; -1 once closed (it then exits) */
  int ready ;                 /* it said hello */
  int conn ;                  /* a connection is counted for it */
  int quit ;                  /* we closed its socket: retired, or no longer needed */
  int killed ;                /* it broke the protocol or never said hello: SIGKILL sent */
  pid_t helper ;              /* the forked child that hands it its connection, or 0 */
  unsigned int uses ;         /* connections given to it */
  tain stamp ;                /* not ready: the deadline of its hello; idle: since when */
} ;
static worker *W ;            /* in pages no child inherits, as P */
static iopause_fd *X ;        /* the loop's: the selfpipe, the listening socket, the workers */
static unsigned int *XW ;     /* the worker of each X from the third: its index in W */
static unsigned int wmax ;    /* room in W */

#define HELLO_SECS 10         /* a worker that has not said hello by then never will */
#define IDLE_SECS 30          /* a worker beyond -w idle that long retires */
#define FAILMAX 5             /* workers in a row that end without serving: give up -w */

static void plog_flush (void)
{
  if (P->loglen) allwrite(2, P->log, P->loglen) ;
  P->loglen = 0 ;
}

static void plog_cat (char const *s, size_t len)
{
  if (P->loglen + len > sizeof P->log) plog_flush() ;
  memcpy(P->log + P->loglen, s, len) ;
  P->loglen += len ;
}

static size_t status_fmt (char *line)
{
  size_t len = 16 ;
  memcpy(line, "tcpsrv: status: ", 16) ;
  len += uint_fmt(line + len, P->n) ;
  line[len++] = '/' ;
  len += uint_fmt(line + len, cf.limit) ;
  line[len++] = '\n' ;
  return len ;
}

static void plog_status (void)
{
  char line[32 + 2 * UINT_FMT] ;
  plog_cat(line, status_fmt(line)) ;
}

static void plog_end (pid_t pid, int wstat)
{
  char line[32 + PID_FMT + UINT_FMT] = "tcpsrv: end " ;
  size_t len = 12 ;
  len += pid_fmt(line + len, pid) ;
  memcpy(line + len, " status ", 8) ; len += 8 ;
  len += uint_fmt(line + len, (unsigned int)wstat) ;
  line[len++] = '\n' ;
  plog_cat(line, len) ;
}

/* ---- the parent's side of resident workers (-w) */

static void plog_worker (pid_t pid, char const *what, int wstat)
{
  char line[48 + PID_FMT + UINT_FMT] = "tcpsrv: worker " ;
  size_t len = 15 ;
  len += pid_fmt(line + len, pid) ;
  line[len++] = ' ' ;
  memcpy(line + len, what, strlen(what)) ; len += strlen(what) ;
  if (wstat >= 0) len += uint_fmt(line + len, (unsigned int)wstat) ;
  line[len++] = '\n' ;
  plog_cat(line, len) ;
}

static int worker_idle (worker const *w)
{
  return w->fd >= 0 && w->ready && !w->conn && !w->helper ;
}

/* w is one of the -w workers: not retired, not killed (it may be ending by itself). */
static int worker_counts (worker const *w)
{
  return w->fd >= 0 || (!w->quit && !w->killed) ;
}

static worker *worker_pick (void)
{
  unsigned int i ;
  for (i = 0 ; i < P->nw ; i++) if (worker_idle(&W[i])) return &W[i] ;
  return 0 ;
}

static void worker_close (worker *w)
{
  if (w->fd >= 0) { close(w->fd) ; w->fd = -1 ; }
}

static void worker_kill (worker *w)
{
  kill(w->pid, SIGKILL) ;
  w->killed = 1 ;
  worker_close(w) ;
}

/* The connection counted for w has ended; wstat as a wait status. */
static void worker_conn_end (worker *w, int wstat)
{
  conntab_remove(&P->tab, w->pid) ;
  P->n-- ;
  w->conn = 0 ;
  if (cf.verbosity >= 2) { plog_end(w->pid, wstat) ; plog_status() ; }
}

/* prog does not serve as a worker: every connection from now on runs it once. */
static void resident_off (char const *why)
{
  unsigned int i ;
  if (cf.verbosity)
  {
    plog_flush() ;
    strerr_warnw4x(cf.argv[0], " is no resident worker (", why, "): running it once per connection") ;
  }
  P->resident = 0 ;
  for (i = 0 ; i < P->nw ; i++)
  {
    W[i].quit = 1 ;
    if (!W[i].ready && !W[i].killed) worker_kill(&W[i]) ;
    else worker_close(&W[i]) ;   /* a busy one ends with its connection */
  }
}

/* One more worker that ended without serving anyone, for why. */
static void worker_failed (char const *why)
{
  if (!P->resident) return ;
  if (!P->everready) resident_off(why) ;
  else if (++P->failures >= FAILMAX)
    resident_off("5 workers in a row ended without serving a connection") ;
}

static int worker_start (void)
{
  int sv[2] ;
  pid_t pid ;
  worker *w ;
  if (P->nw >= wmax) return 0 ;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return -1 ;
  pid = fork() ;
  if (pid < 0)
  {
    int e = errno ;
    close(sv[0]) ; close(sv[1]) ;
    errno = e ;
    return -1 ;
  }
  if (!pid) worker_exec(sv[1]) ;
  close(sv[1]) ;
  if (ndelay_on(sv[0]) < 0) { close(sv[0]) ; kill(pid, SIGKILL) ; return -1 ; }
  w = &W[P->nw++] ;
  memset(w, 0, sizeof *w) ;
  w->pid = pid ; w->fd = sv[0] ;
  tain_addsec_g(&w->stamp, HELLO_SECS) ;
  return 1 ;
}

/* What w says: hello once, then done after each connection. Anything else, or a word out
   of turn, and w is not trusted with another client. */
static void worker_read (worker *w)
{
  char buf[64] ;
  ssize_t r = recv(w->fd, buf, sizeof buf - 1, MSG_DONTWAIT) ;
  if (r < 0 && (errno == EAGAIN || errno == EINTR)) return ;
  if (r <= 0) { worker_close(w) ; return ; }   /* it is going: the rest when it is reaped */
  buf[r] = 0 ;
  if (!w->ready)
  {
    if (!strcmp(buf, RESIDENT_HELLO))
    {
      if (!resident_is_prog((int)w->pid, cf.argv))
      {
        worker_kill(w) ;
        resident_off("the process that said hello is not prog as started, with its arguments: a program in between executed another") ;
        return ;
      }
      w->ready = 1 ;
      P->everready = 1 ;
      w->stamp = STAMP ;
      if (cf.verbosity >= 2) plog_worker(w->pid, "ready", -1) ;
      return ;
    }
  }
  else if (w->conn && !strncmp(buf, "done ", 5))
  {
    unsigned int code ;
    size_t len = uint0_scan(buf + 5, &code) ;
    if (len && !buf[5 + len] && code <= 255)
    {
      worker_conn_end(w, (int)(code << 8)) ;
      P->failures = 0 ;
      w->stamp = STAMP ;
      if (w->uses >= cf.uses || (P->draining && !P->pqlen) || !P->resident) { w->quit = 1 ; worker_close(w) ; }
      return ;
    }
  }
  if (cf.verbosity)
  {
    char fmt[PID_FMT] ;
    fmt[pid_fmt(fmt, w->pid)] = 0 ;
    plog_flush() ;
    strerr_warnw3x("killing worker ", fmt, ": it broke the resident protocol") ;
  }
  worker_kill(w) ;
}

/* A child has ended: if it was a worker or a worker's helper, account for it and say 1. */
static int worker_reaped (pid_t pid, int wstat)
{
  unsigned int i ;
  for (i = 0 ; i < P->nw ; i++)
  {
    worker *w = &W[i] ;
    if (w->helper == pid)
    {
      int code = WIFEXITED(wstat) ? WEXITSTATUS(wstat) : -1 ;
      w->helper = 0 ;
      if (!code || !w->conn) return 1 ;   /* handed over (or already done) */
      if (code == 100 || code == 111)     /* denied or dropped before the hand-over */
      {
        w->uses-- ;
        worker_conn_end(w, wstat) ;
      }
      else { w->quit = 1 ; worker_close(w) ; }   /* handed over or not: it ends with the worker */
      return 1 ;
    }
    if (w->pid == pid)
    {
      if (w->conn) worker_conn_end(w, wstat) ;
      if (cf.verbosity >= 2) plog_worker(pid, "exit status ", wstat) ;
      if (!w->quit && !w->killed && !w->uses)
        worker_failed(w->ready ? "it ended before its first connection" : "it ended before saying hello") ;
      W[i] = W[--P->nw] ;
      return 1 ;
    }
  }
  return 0 ;
}

/* A turn of the loop for the workers: hellos that did not come, the extra workers idle too
   long, the draining, the starts (at least -w, and one for each connection waiting that no
   idle or starting worker will take). -1: no worker could be started (the caller waits a
   little). */
static int workers_tend (void)
{
  unsigned int i, live = 0, idle = 0, starting = 0 ;
  tain_now_g() ;
  for (i = 0 ; i < P->nw ; i++)
  {
    worker *w = &W[i] ;
    if (!w->ready && !w->killed && !tain_less(&STAMP, &w->stamp))
    {
      int was = w->quit ;
      worker_kill(w) ;
      if (!was) worker_failed("no hello within 10 seconds") ;
    }
  }
  for (i = 0 ; i < P->nw ; i++)
  {
    worker *w = &W[i] ;
    if (!worker_counts(w)) continue ;
    live++ ;
    if (w->fd < 0) continue ;   /* ending by itself: replaced once reaped */
    if (!w->ready) starting++ ;
    else if (worker_idle(w)) idle++ ;
  }
  if (!P->resident) return 0 ;
  if (P->draining && !P->pqlen)
  {
    for (i = 0 ; i < P->nw ; i++)
      if (W[i].fd >= 0 && !W[i].conn && !W[i].helper) { W[i].quit = 1 ; worker_close(&W[i]) ; }
    return 0 ;
  }
  /* draining, connections accepted before SIGTERM still wait: workers for them only */
  for (i = 0 ; i < P->nw && live > cf.workers && !P->draining ; i++)
  {
    worker *w = &W[i] ;
    tain t ;
    if (!worker_idle(w)) continue ;
    tain_addsec(&t, &w->stamp, IDLE_SECS) ;
    if (!tain_less(&STAMP, &t)) { w->quit = 1 ; worker_close(w) ; live-- ; }
  }
  while (live < cf.limit && ((live < cf.workers && !P->draining) || P->pqlen > idle + starting))
  {
    int r = worker_start() ;
    if (!r) break ;
    if (r < 0)
    {
      if (cf.verbosity && !P->startwarned) { plog_flush() ; strerr_warnwu1sys("start a resident worker") ; }
      P->startwarned = 1 ;
      return -1 ;
    }
    P->startwarned = 0 ;
    live++ ; starting++ ;
  }
  return 0 ;
}

/* The next moment the workers need the loop: a hello's deadline, an extra worker's idle
   time. 1 when *d was set (earlier than itself if has). */
static int workers_deadline (tain *d, int has)
{
  unsigned int i, live = 0 ;
  for (i = 0 ; i < P->nw ; i++) if (worker_counts(&W[i])) live++ ;
  for (i = 0 ; i < P->nw ; i++)
  {
    worker const *w = &W[i] ;
    tain t ;
    if (!w->ready && !w->killed) t = w->stamp ;
    else if (P->resident && !P->draining && live > cf.workers && worker_idle(w)) tain_addsec(&t, &w->stamp, IDLE_SECS) ;
    else continue ;
    if (!has || tain_less(&t, d)) { *d = t ; has = 1 ; }
  }
  return has ;
}

static void reap (void)
{
  for (;;)
  {
    int wstat, e ;
    pid_t pid = waitpid(-1, &wstat, WNOHANG) ;
    if (pid <= 0) break ;
    if (P->nw && worker_reaped(pid, wstat)) continue ;
    if (conntab_remove(&P->tab, pid) < 0) continue ;
    P->n-- ;
    e = qspawn_reaped(pid) ;
    if (e && cf.verbosity)   /* prog gone: its child could not say so itself */
    {
      plog_flush() ;
      errno = e ;
      strerr_warnw3sys("dropping connection, unable to run ", cf.argv[0], "") ;
    }
    if (cf.verbosity >= 2) { plog_end(pid, wstat) ; plog_status() ; }
  }
}

/* What the parent can decide of a connection when no lookup may wait: the local address
   (into *local and localipstr, IP6_FMT bytes), the rule, the per-address limit; then -O and
   the banner. 1: prog (or a worker) may have it, rr holds the rule's variables; 0: the same,
   but the banner did not fit at once, and a child must write the rest; -1: a child must
   look at it (the rule denies it, it is over its limit, something cannot be read). */
static int quick_checks (conn *c, ip46 *local, char *localipstr)
{
  unsigned int maxconnip ;
  int maxset ;
  *local = cf.local ;
  if (cf.localwild)
  {
    uint16_t dummy ;
    if (socket_local46(c->fd, local, &dummy) < 0) return -1 ;
    ip46_unmap(local) ;
    localipstr[ipfmt(localipstr, local)] = 0 ;
  }
  else memcpy(localipstr, cf.localipstr, IP6_FMT) ;

  if (cf.rules)
  {
    int r = rules_lookup_db(&rdb, &rr, cf.rules, c->ipstr, 0, 0) ;
    if (r < 0)
    {
      if (errno != ENOENT || !cf.allownorules) return -1 ;
      rr.env.len = 0 ;
    }
    else if (r > 0 && rr.deny) return -1 ;
  }
  maxconnip = perip_limit(&maxset, 1) ;
  if ((maxconnip || maxset) && c->num > maxconnip) return -1 ;

  /* -O: a source route from the client is not followed back */
  if (cf.killopts && !c->ip.is6) setsockopt(c->fd, IPPROTO_IP, IP_OPTIONS, 0, 0) ;
  if (cf.bannerlen)
  {
    /* a new connection's send buffer takes any sensible banner at once; if it does not,
       the child writes the rest, and may wait for the client to read */
    ssize_t w = send(c->fd, cf.banner, cf.bannerlen, MSG_DONTWAIT | MSG_NOSIGNAL) ;
    if (w > 0) c->bannersent = (size_t)w ;
    if (c->bannersent < cf.bannerlen) return 0 ;
  }
  return 1 ;
}

/* The quick way (see the top of the file), taken when no lookup may wait. 1: prog runs
   as *pid, its -v lines written by its child; 0: nothing started, the connection takes the
   slow way (a fork), which then does, logs and reports everything itself. */
static int spawn_quick (conn *c, pid_t *pid)
{
  ip46 local ;
  char localipstr[IP6_FMT] ;
  envb env = { .s = 0, .len = 0, .a = 0, .heap = 0, .soft = 1, .failed = 0 } ;

  /* prog's environment goes in the slot's memory, which its child reads until the exec;
     without a slot (or qspawn here), the slow way does it all, the lookup too */
  env.s = qspawn_mem(&env.a) ;
  if (!env.s) return 0 ;
  if (quick_checks(c, &local, localipstr) <= 0) goto slow ;

  envb_ucspi(&env, localipstr, cf.localname, c, 0, 0) ;
  {
    size_t off = (env.len + 15) & ~(size_t)15, n = envp_size(&env) ;
    line lg ;
    qspawn_req q =
    {
      .path = cf.pathsearch && cf.execpath == cf.argv[0] ? 0 : cf.execpath,
      .name = cf.pathsearch ? cf.argv[0] : 0, .pathvar = cf.pathvar,
      .argv = cf.argv, .fd = c->fd, .mask = &cf.origmask, .loglen = 0, .npid = 0
    } ;
    if (env.failed || off > env.a || n > (env.a - off) / sizeof (char *)) goto slow ;
    q.envp = (char const *const *)(void *)(env.s + off) ;
    envp_fill((char const **)(void *)(env.s + off), &env) ;
    if (cf.verbosity >= 2)
    {
      lg.len = 0 ;
      line_cat(&lg, c->status, c->statuslen) ;
      line_cats(&lg, "tcpsrv: pid ") ; q.pidat[0] = lg.len ;
      line_cats(&lg, " from ") ; line_cats(&lg, c->ipstr) ; line_end(&lg) ;
      q.pidat[1] = lg.len + 11 ;   /* after "tcpsrv: ok " */
      line_verdict(&lg, 0, "", cf.localname, localipstr, local.is6, c, 0, 0, 0) ;
      q.log = lg.s ; q.loglen = lg.len ; q.npid = 2 ;
      plog_flush() ;   /* the lines of earlier connections first */
    }
    *pid = qspawn_go(&q) ;
  }
  return *pid > 0 ;   /* else no process to be had: the slow way says why */
 slow:
  qspawn_release() ;
  return 0 ;
}

/* -w, no lookup: hand the connection to the idle worker w, the parent doing what a child
   would (rules, limits, banner, environment, -v lines). 1 handed, counted under w's pid;
   0 a child must finish it and hand it to w (the banner did not fit, the environment is too
   large); -1 it is not for a worker (denied, over its limit, a database that cannot be
   read, w gone): the slow way without a worker decides. */
static int hand_quick (conn *c, worker *w, char const *key)
{
  ip46 local ;
  char localipstr[IP6_FMT] ;
  envb env = { .s = P->msg, .len = 0, .a = sizeof P->msg, .heap = 0, .soft = 1, .failed = 0 } ;
  int r = quick_checks(c, &local, localipstr) ;
  if (r <= 0) return r ;
  envb_cat(&env, "C", 1) ;
  envb_ucspi(&env, localipstr, cf.localname, c, 0, 0) ;
  if (env.failed) return 0 ;
  if (!fdpass_send(w->fd, c->fd, env.s, env.len))
  {
    if (cf.verbosity)
    {
      char fmt[PID_FMT] ;
      fmt[pid_fmt(fmt, w->pid)] = 0 ;
      plog_flush() ;
      strerr_warnwu2sys("hand a connection to worker ", fmt) ;
    }
    worker_kill(w) ;
    return -1 ;
  }
  w->conn = 1 ;
  w->uses++ ;
  conntab_add(&P->tab, key, w->pid) ;
  if (cf.verbosity >= 2)
  {
    line lg ;
    char pidstr[PID_FMT] ;
    pidstr[pid_fmt(pidstr, w->pid)] = 0 ;
    lg.len = 0 ;
    line_cat(&lg, c->status, c->statuslen) ;
    line_cats(&lg, "tcpsrv: pid ") ; line_cats(&lg, pidstr) ;
    line_cats(&lg, " from ") ; line_cats(&lg, c->ipstr) ; line_end(&lg) ;
    line_verdict(&lg, 0, pidstr, cf.localname, localipstr, local.is6, c, 0, 0, 0) ;
    plog_cat(lg.s, lg.len) ;
  }
  return 1 ;
}

/* Accept what is waiting, as long as the ring and the limit allow. 0 when the kernel's
   queue is empty or no more may be taken; -1 out of descriptors or memory (the caller
   waits a little before trying again). */
static int accept_waiting (int s)
{
  while (P->pqlen < cf.pendmax && P->n + P->pqlen < cf.limit)
  {
    pend *p = &P->pq[(P->pqhead + P->pqlen) % PENDMAX] ;
    p->ip.is6 = cf.local.is6 ;
    p->fd = p->ip.is6 ? socket_accept6_coe(s, p->ip.ip, &p->port) : socket_accept4_coe(s, p->ip.ip, &p->port) ;
    if (p->fd < 0)
    {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
      {
        if (cf.verbosity && !P->warned) { plog_flush() ; strerr_warnwu1sys("accept") ; }
        P->warned = 1 ;
        return -1 ;
      }
      if (errno == ECONNABORTED || errno == EINTR) continue ;   /* reset before it was accepted */
      return 0 ;    /* EAGAIN */
    }
    P->warned = 0 ;
    P->pqlen++ ;
  }
  return 0 ;
}

/* Start the oldest accepted connection: prog the quick way, or a forked child; with -w, a
   worker, directly or through a forked child. 1 done; 0 it waits for a worker to be idle;
   -1 no process could be made (that connection is dropped, the caller waits a little). */
static int start_one (void)
{
  pend *p = &P->pq[P->pqhead] ;
  conn c ;
  char key[16] ;
  pid_t pid ;
  worker *w = 0 ;
  int quick = !cf.remotehost && !cf.remoteinfo ;
  if (P->resident && !(w = worker_pick())) return 0 ;
  c.fd = p->fd ; c.port = p->port ; c.ip = p->ip ;
  c.wfd = -1 ; c.wpid = 0 ;
  P->pqhead = (P->pqhead + 1) % PENDMAX ;
  P->pqlen-- ;
  ip46_unmap(&c.ip) ;
  count_key(key, &c.ip, cf.v6prefix) ;
  c.num = conntab_count(&P->tab, key) + 1 ;
  c.ipstr[ipfmt(c.ipstr, &c.ip)] = 0 ;
  c.portstr[uint16_fmt(c.portstr, c.port)] = 0 ;
  c.numstr[uint_fmt(c.numstr, c.num)] = 0 ;
  P->n++ ;
  c.statuslen = cf.verbosity >= 2 ? status_fmt(c.status) : 0 ;
  c.bannersent = 0 ;
  if (w)
  {
    int r = quick ? hand_quick(&c, w, key) : 0 ;
    if (r > 0) { close(c.fd) ; return 1 ; }
    if (!r) { c.wfd = w->fd ; c.wpid = w->pid ; }
    quick = 0 ;
  }
  if (!quick || !spawn_quick(&c, &pid))
  {
    unsigned int i ;
    c.nothers = P->pqlen ;
    for (i = 0 ; i < P->pqlen ; i++) c.others[i] = P->pq[(P->pqhead + i) % PENDMAX].fd ;
    pid = fork() ;
    if (!pid) child(&c) ;
  }
  close(c.fd) ;
  if (pid < 0)
  {
    if (cf.verbosity >= 2) plog_status() ;
    plog_flush() ;
    P->n-- ;
    if (cf.verbosity) strerr_warnw2sys("dropping connection, ", "unable to fork") ;
    if (cf.verbosity >= 2) plog_status() ;
    return -1 ;
  }
  if (c.wfd >= 0)
  {
    w->helper = pid ; w->conn = 1 ; w->uses++ ;
    conntab_add(&P->tab, key, w->pid) ;
  }
  else conntab_add(&P->tab, key, pid) ;
  return 1 ;
}

/* Accept and reap until SIGTERM; then stop accepting and wait for the children. */
static void serve (int s)
{
  int sfd = selfpipe_init() ;
  sigset_t set ;
  if (sfd < 0) strerr_diefu1sys(111, "init the selfpipe") ;
  sigemptyset(&set) ;
  sigaddset(&set, SIGCHLD) ; sigaddset(&set, SIGTERM) ; sigaddset(&set, SIGHUP) ;
  if (!selfpipe_trapset(&set)) strerr_diefu1sys(111, "trap signals") ;
  /* a dead log pipe must not kill the server: EPIPE instead (the child unblocks it) */
  sig_block(SIGPIPE) ;
  if (cf.verbosity >= 2) plog_status() ;
  for (;;)
  {
    unsigned int n = 1, base, i ;
    int r = 0, fail = 0, listening = 0, hasdl = 0 ;
    tain deadline ;
    if ((P->resident || P->nw) && workers_tend() < 0) fail = 1 ;
    plog_flush() ;
    if (P->draining && !P->n && !P->pqlen && !P->nw) return ;
    X[0].fd = sfd ; X[0].events = IOPAUSE_READ ; X[0].revents = 0 ;
    if (s >= 0 && !P->paused && P->n + P->pqlen < cf.limit)
    {
      X[1].fd = s ; X[1].events = IOPAUSE_READ ; X[1].revents = 0 ;
      n = 2 ; listening = 1 ;
    }
    base = n ;
    for (i = 0 ; i < P->nw ; i++)
      if (W[i].fd >= 0)
      {
        XW[n - base] = i ;
        X[n].fd = W[i].fd ; X[n].events = IOPAUSE_READ ; X[n].revents = 0 ;
        n++ ;
      }
    if (P->paused) { deadline = P->resume ; hasdl = 1 ; }
    if (P->nw) hasdl = workers_deadline(&deadline, hasdl) ;
    r = hasdl ? iopause_g(X, n, &deadline) : iopause(X, n, 0, 0) ;
    if (r < 0)
    {
      if (errno == EINTR) continue ;
      strerr_diefu1sys(111, "iopause") ;
    }
    if (P->paused && !tain_less(&STAMP, &P->resume)) P->paused = 0 ;
    /* the workers' words before any reaping, which moves them in W */
    for (i = base ; i < n ; i++)
      if (X[i].revents && W[XW[i - base]].fd == X[i].fd) worker_read(&W[XW[i - base]]) ;
    if (X[0].revents & IOPAUSE_READ)
      for (;;)
      {
        int sig = selfpipe_read() ;
        if (sig < 0) strerr_diefu1sys(111, "read the selfpipe") ;
        if (!sig) break ;
        if (sig == SIGCHLD) reap() ;
        else if (sig == SIGTERM)
        {
          if (P->draining) return ;    /* a second SIGTERM: leave the children running */
          P->draining = 1 ;
          if (s >= 0) { close(s) ; s = -1 ; }
        }
      }
    r = 0 ;
    if (listening && s >= 0 && X[1].revents) r = accept_waiting(s) ;
    while (!P->paused && P->pqlen)
    {
      int x = start_one() ;
      if (!x) break ;   /* waiting for a worker */
      if (x < 0) { r = -1 ; break ; }
      if (s >= 0 && accept_waiting(s) < 0) r = -1 ;
    }
    if ((r < 0 || fail) && !P->paused)
    {
      tain d ;
      tain_now_g() ;
      tain_from_millisecs(&d, 100) ;
      tain_add_g(&P->resume, &d) ;
      P->paused = 1 ;
    }
  }
}

/* ---- setting up */

/* prog's path, searched in PATH once instead of at every connection, with the rules of
   skalibs' search (which the slow way's mexec_afm uses when prog has gone since) and of
   qspawn's: empty entries skipped, the first regular file we may execute wins. */
static char const *findprog (char const *name)
{
  static stralloc sa = STRALLOC_ZERO ;
  char const *path = getenv("PATH") ;
  if (!path) path = "/usr/bin:/bin" ;
  cf.pathvar = path ;
  cf.pathsearch = !strchr(name, '/') ;
  if (!cf.pathsearch) return name ;
  for (;;)
  {
    size_t len = strcspn(path, ":") ;
    struct stat st ;
    if (len)
    {
      sa.len = 0 ;
      if (!stralloc_catb(&sa, path, len) || !stralloc_catb(&sa, "/", 1) || !stralloc_cats(&sa, name) || !stralloc_0(&sa))
        strerr_diefu1sys(111, "allocate memory") ;
      if (!access(sa.s, X_OK) && !stat(sa.s, &st) && S_ISREG(st.st_mode)) return sa.s ;
    }
    if (!path[len]) return name ;
    path += len + 1 ;
  }
}

static int setv6only (int s, int on)
{
  return setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) ;
}

static void diebind (char const *host) gccattr_noreturn ;
static void diebind (char const *host)
{
  strerr_diefu4sys(111, "bind to ", host, " port ", cf.localportstr) ;
}

/* Bind and listen. "0": every address, one dual-stack IPv6 socket (IPV6_V6ONLY off), or
   0.0.0.0 when the kernel has no IPv6; "::": every IPv6 address only; else one address. */
static int listen_on (char const *host, uint16_t port, unsigned int backlog)
{
  int s = -1 ;
  if (!strcmp(host, "0"))
  {
    s = socket_tcp6_nbcoe() ;
    if (s >= 0 && (setv6only(s, 0) < 0 || socket_bind6_reuse(s, IP6_ANY, port) < 0))
    {
      int e = errno ;
      close(s) ; s = -1 ;
      errno = e ;
      if (e != EADDRNOTAVAIL && e != EAFNOSUPPORT) diebind(host) ;
    }
    if (s >= 0) { memcpy(cf.local.ip, IP6_ANY, 16) ; cf.local.is6 = 1 ; }
    else
    {
      s = socket_tcp4_nbcoe() ;
      if (s < 0) strerr_diefu1sys(111, "create a socket") ;
      if (socket_bind4_reuse(s, IP4_ANY, port) < 0) diebind(host) ;
      memset(cf.local.ip, 0, 16) ; cf.local.is6 = 0 ;
    }
    cf.localwild = 1 ;
  }
  else
  {
    size_t len = ip46_scan(host, &cf.local) ;
    if (!len || host[len])
    {
      stralloc ips = STRALLOC_ZERO ;
      tain deadline ;
      tain_now_g() ;
      tain_addsec_g(&deadline, 30) ;
      if (dns_ip46(&ips, host, &deadline) != 1) strerr_diefu2sys(111, "find an address for ", host) ;
      memcpy(cf.local.ip, ips.s, 16) ;
      cf.local.is6 = 1 ;
      ip46_unmap(&cf.local) ;
      stralloc_free(&ips) ;
    }
    s = socket_tcp46_nbcoe(cf.local.is6) ;
    if (s < 0) strerr_diefu1sys(111, "create a socket") ;
    if (cf.local.is6 && setv6only(s, 1) < 0) strerr_diefu1sys(111, "set IPV6_V6ONLY") ;
    if (socket_bind46_reuse(s, &cf.local, port) < 0) diebind(host) ;
    cf.localwild = cf.local.is6 ? !memcmp(cf.local.ip, IP6_ANY, 16) : !memcmp(cf.local.ip, IP4_ANY, 4) ;
  }
  if (socket_listen(s, backlog) < 0) strerr_diefu1sys(111, "listen") ;
  {
    ip46 dummy ;
    if (socket_local46(s, &dummy, &cf.localport) < 0) strerr_diefu1sys(111, "get the local address") ;
  }
  cf.localportstr[uint16_fmt(cf.localportstr, cf.localport)] = 0 ;
  cf.localipstr[ipfmt(cf.localipstr, &cf.local)] = 0 ;
  /* accepted sockets inherit TCP_NODELAY from the listening one: one call, not one each */
  if (!cf.delay && socket_tcpnodelay(s) < 0) strerr_diefu1sys(111, "set TCP_NODELAY") ;
  return s ;
}

/* Memory of the parent alone: not inherited by forked children (MADV_DONTFORK), so the
   parent's writes after a fork copy nothing. Zeroed, touched only where used. */
static void *parent_mem (size_t len)
{
  void *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) ;
  if (p == MAP_FAILED) strerr_diefu1sys(111, "allocate memory") ;
  madvise(p, len, MADV_DONTFORK) ;
  return p ;
}

/* Connections must never land on fds 0, 1 or 2. */
static void fds_open (void)
{
  int fd ;
  for (fd = 0 ; fd < 3 ; fd++)
    if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0) strerr_diefu1sys(111, "open /dev/null") ;
}

/* One lookup at start: says early that the database is unreadable, resolves libcdb's
   symbols once for all children, and reserves the buffers the children fill. */
static void rules_check (void)
{
  if (!stralloc_ready(&rr.env, 4096) || !stralloc_ready(&rr.key, 256)) strerr_diefu1sys(111, "allocate memory") ;
  if (rules_lookup(&rr, cf.rules, "0.0.0.0", 0, 0) < 0 && !(errno == ENOENT && cf.allownorules) && cf.verbosity)
    strerr_warnw4x("unable to read ", cf.rules, ": ", rules_strerror(errno)) ;
}

int main (int argc, char const *const *argv)
{
  unsigned int backlog = 20 ;
  uid_t uid = 0 ;
  gid_t gid = 0 ;
  int douid = 0, dogid = 0, flag1 = 0 ;
  uint16_t port ;
  int s ;
  PROG = "tcpsrv" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "1dDhHoOpPqQrRUvXc:C:M:w:n:b:x:B:g:u:l:t:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case '1' : flag1 = 1 ; break ;
        case 'd' : cf.delay = 1 ; break ;
        case 'D' : cf.delay = 0 ; break ;
        case 'h' : cf.remotehost = 1 ; break ;
        case 'H' : cf.remotehost = 0 ; break ;
        case 'o' : cf.killopts = 0 ; break ;
        case 'O' : cf.killopts = 1 ; break ;
        case 'p' : cf.paranoid = 1 ; cf.remotehost = 1 ; break ;
        case 'P' : cf.paranoid = 0 ; break ;
        case 'q' : cf.verbosity = 0 ; break ;
        case 'Q' : cf.verbosity = 1 ; break ;
        case 'v' : cf.verbosity = 2 ; break ;
        case 'r' : cf.remoteinfo = 1 ; break ;
        case 'R' : cf.remoteinfo = 0 ; break ;
        case 'X' : cf.allownorules = 1 ; break ;
        case 'c' : if (!uint0_scan(l.arg, &cf.limit) || !cf.limit || cf.limit > 1000000) dieusage() ; break ;
        case 'C' : if (!uint0_scan(l.arg, &cf.perip) || !cf.perip) dieusage() ; break ;
        case 'M' : if (!uint0_scan(l.arg, &cf.v6prefix) || cf.v6prefix > 128) dieusage() ; break ;
        case 'w' : if (!uint0_scan(l.arg, &cf.workers) || !cf.workers || cf.workers > 1000000) dieusage() ; break ;
        case 'n' : if (!uint0_scan(l.arg, &cf.uses) || !cf.uses) dieusage() ; break ;
        case 'b' : if (!uint0_scan(l.arg, &backlog)) dieusage() ; break ;
        case 'x' : cf.rules = l.arg ; break ;
        case 'B' : cf.banner = l.arg ; cf.bannerlen = strlen(l.arg) ; break ;
        case 'g' : if (!gid0_scan(l.arg, &gid)) dieusage() ; dogid = 1 ; break ;
        case 'u' : if (!uid0_scan(l.arg, &uid)) dieusage() ; douid = 1 ; break ;
        case 'U' :
        {
          char const *x = getenv("UID"), *y = getenv("GID") ;
          if (!x || !y || !uid0_scan(x, &uid) || !gid0_scan(y, &gid))
            strerr_dief1x(100, "-U needs $UID and $GID, set to numbers") ;
          douid = dogid = 1 ;
          break ;
        }
        case 'l' : cf.localname = l.arg ; break ;
        case 't' : if (!uint0_scan(l.arg, &cf.timeout) || !cf.timeout || cf.timeout > 86400) dieusage() ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc < 3 || !*argv[0] || !*argv[2]) dieusage() ;
  if (cf.workers > cf.limit) strerr_dief1x(100, "-w workers must not exceed -c limit: each worker serves one connection at a time") ;
  if (!uint160_scan(argv[1], &port))
  {
    int r ;
    if (argv[1][strspn(argv[1], "0123456789")] == 0) dieusage() ;   /* a number over 65535 */
    r = services_port(&port, argv[1], "tcp", SERVICES_FILE) ;
    if (r < 0) strerr_diefu2sys(111, "read ", SERVICES_FILE) ;
    if (!r) strerr_dief3x(100, "unknown port: ", argv[1], ": neither a number nor a tcp service in " SERVICES_FILE) ;
  }
  cf.localportstr[uint16_fmt(cf.localportstr, port)] = 0 ;
  cf.argv = argv + 2 ;
  if (cf.localname)
  {
    stralloc sa = STRALLOC_ZERO ;
    if (!logtext_cat(&sa, cf.localname, strlen(cf.localname), LOGFIELD_MAX, ": ") || !stralloc_0(&sa))
      strerr_diefu1sys(111, "allocate memory") ;
    cf.localnamelog = sa.s ;
  }
  {
    char const *x = getenv("TCPSRV_IDENTPORT") ;
    if (x && (!uint160_scan(x, &cf.identport) || !cf.identport)) strerr_dief1x(100, "invalid $TCPSRV_IDENTPORT") ;
  }

  sigprocmask(SIG_SETMASK, 0, &cf.origmask) ;
  sig_restore(SIGCHLD) ; sig_restore(SIGTERM) ; sig_restore(SIGPIPE) ;
  fds_open() ;
  s = listen_on(argv[0], port, backlog) ;
  if (dogid && (skalibs_setgroups(1, &gid) < 0 || setgid(gid) < 0)) strerr_diefu1sys(111, "set the group id") ;
  if (douid && setuid(uid) < 0) strerr_diefu1sys(111, "set the user id") ;
  cf.execpath = findprog(argv[2]) ;   /* as the user prog runs as: what it may execute */

  {
    /* connections waiting in the ring hold descriptors: leave room for the rules file,
       the log and the children's pipes, or a low limit would drop connections */
    struct rlimit rl ;
    cf.pendmax = PENDMAX ;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
      cf.pendmax = rl.rlim_cur > PENDMAX + 16 ? PENDMAX : rl.rlim_cur > 24 ? (unsigned int)rl.rlim_cur - 16 : 1 ;
  }
  P = parent_mem(sizeof(parent)) ;
  /* room for every worker -c allows, and for a few retired ones not reaped yet */
  wmax = cf.workers ? cf.limit + 16 : 0 ;
  W = parent_mem((wmax + 1) * sizeof(worker)) ;
  X = parent_mem((wmax + 2) * sizeof(iopause_fd)) ;
  XW = parent_mem((wmax + 1) * sizeof(unsigned int)) ;
  P->resident = cf.workers > 0 ;
  /* only workers get one, each its own */
  unsetenv(RESIDENT_FDVAR) ;
  if (!conntab_init(&P->tab, cf.limit)) strerr_diefu1sys(111, "allocate the connection table") ;
  if (cf.rules) rules_check() ;

  if (flag1)
  {
    char line[UINT16_FMT + 1] ;
    size_t len = uint16_fmt(line, cf.localport) ;
    line[len++] = '\n' ;
    if (allwrite(1, line, len) < len) strerr_diefu1sys(111, "write to stdout") ;
  }
  {
    /* fds 0 and 1 are the connections' only: whoever reads our stdout sees its end now */
    int fd = open("/dev/null", O_RDWR) ;
    if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0) strerr_diefu1sys(111, "open /dev/null") ;
    if (fd > 1) close(fd) ;
  }

  serve(s) ;
  return 0 ;
}
