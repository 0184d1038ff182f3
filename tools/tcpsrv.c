/* tcpsrv: accept TCP connections on host:port; for each one, put the socket on fds 0 and
   1, set the UCSPI environment, apply the access rules and run prog.
   Two ways to start prog. When nothing may wait (no -h, -p or -r), the parent looks the
   rules up itself and starts prog from a qspawn child (tools/lib/qspawn): it shares the
   parent's memory until its exec, so nothing is copied, and the parent does not wait for
   the exec. Otherwise, and whenever the quick way cannot finish (a denied client, an
   unreadable database, a banner that did not fit, no qspawn slot), the parent forks a
   child that does everything that may wait or fail. */
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
#include "ident.h"
#include "logtext.h"
#include "qspawn.h"
#include "rules.h"
#include "services.h"

#define USAGE "tcpsrv [ -1dDhHoOpPqQrRUvX ] [ -c limit ] [ -C perip ] [ -M v6prefix ] [ -b backlog ] [ -x rules.cdb ] [ -B banner ] [ -g gid ] [ -u uid ] [ -l localname ] [ -t timeout ] host port prog..."
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
} cf =
{
  .verbosity = 1, .limit = 40, .perip = 0, .v6prefix = 128, .timeout = 26, .delay = 1, .killopts = 1,
  .remotehost = 0, .paranoid = 0, .remoteinfo = 0, .allownorules = 0, .rules = 0,
  .banner = 0, .bannerlen = 0, .localname = 0, .identport = IDENT_PORT,
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

  {
    unsigned int i ;
    for (i = 0 ; i < c->nothers ; i++) close(c->others[i]) ;
  }
  lg.len = 0 ;
  pending = &lg ;
  if (cf.verbosity >= 2)
  {
    pidstr[pidfmt(pidstr, getpid())] = 0 ;
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
  if (cf.execpath != cf.argv[0] || !cf.pathsearch) exec_prog(cf.execpath, &env) ;
  else errno = ENOENT ;   /* not in PATH at the start */
  if (errno == ENOENT && cf.pathsearch)   /* prog moved or installed since the start */
    mexec_afm(cf.argv[0], cf.argv, (char const *const *)environ, env_len((char const *const *)environ), env.s, env.len) ;
  drop("run", cf.argv[0]) ;
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
} ;
static parent *P ;

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

static void reap (void)
{
  for (;;)
  {
    int wstat, e ;
    pid_t pid = waitpid(-1, &wstat, WNOHANG) ;
    if (pid <= 0) break ;
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

/* The quick way (see the top of the file), taken when no lookup may wait. 1: prog runs
   as *pid, its -v lines written by its child; 0: nothing started, the connection takes the
   slow way (a fork), which then does, logs and reports everything itself. */
static int spawn_quick (conn *c, pid_t *pid)
{
  ip46 local = cf.local ;
  char localipstr[IP6_FMT] ;
  envb env = { .s = 0, .len = 0, .a = 0, .heap = 0, .soft = 1, .failed = 0 } ;
  unsigned int maxconnip ;
  int maxset ;

  /* prog's environment goes in the slot's memory, which its child reads until the exec;
     without a slot (or qspawn here), the slow way does it all, the lookup too */
  env.s = qspawn_mem(&env.a) ;
  if (!env.s) return 0 ;
  if (cf.localwild)
  {
    uint16_t dummy ;
    if (socket_local46(c->fd, &local, &dummy) < 0) goto slow ;
    ip46_unmap(&local) ;
    localipstr[ipfmt(localipstr, &local)] = 0 ;
  }
  else memcpy(localipstr, cf.localipstr, sizeof localipstr) ;

  if (cf.rules)
  {
    int r = rules_lookup_db(&rdb, &rr, cf.rules, c->ipstr, 0, 0) ;
    if (r < 0)
    {
      if (errno != ENOENT || !cf.allownorules) goto slow ;
      rr.env.len = 0 ;
    }
    else if (r > 0 && rr.deny) goto slow ;
  }
  maxconnip = perip_limit(&maxset, 1) ;
  if ((maxconnip || maxset) && c->num > maxconnip) goto slow ;

  /* -O: a source route from the client is not followed back */
  if (cf.killopts && !c->ip.is6) setsockopt(c->fd, IPPROTO_IP, IP_OPTIONS, 0, 0) ;
  if (cf.bannerlen)
  {
    /* a new connection's send buffer takes any sensible banner at once; if it does not,
       the child writes the rest, and may wait for the client to read */
    ssize_t w = send(c->fd, cf.banner, cf.bannerlen, MSG_DONTWAIT | MSG_NOSIGNAL) ;
    if (w > 0) c->bannersent = (size_t)w ;
    if (c->bannersent < cf.bannerlen) goto slow ;
  }

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

/* Start the oldest accepted connection: prog the quick way, or a forked child. 1 done;
   -1 no process could be made (that connection is dropped, the caller waits a little). */
static int start_one (void)
{
  pend *p = &P->pq[P->pqhead] ;
  conn c ;
  char key[16] ;
  pid_t pid ;
  c.fd = p->fd ; c.port = p->port ; c.ip = p->ip ;
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
  if (cf.remotehost || cf.remoteinfo || !spawn_quick(&c, &pid))
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
  conntab_add(&P->tab, key, pid) ;
  return 1 ;
}

/* Accept and reap until SIGTERM; then stop accepting and wait for the children. */
static void serve (int s)
{
  iopause_fd x[2] ;
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
    unsigned int n = 1 ;
    int r = 0 ;
    plog_flush() ;
    if (P->draining && !P->n && !P->pqlen) return ;
    x[0].fd = sfd ; x[0].events = IOPAUSE_READ ; x[0].revents = 0 ;
    if (s >= 0 && !P->paused && P->n + P->pqlen < cf.limit)
    {
      x[1].fd = s ; x[1].events = IOPAUSE_READ ; x[1].revents = 0 ;
      n = 2 ;
    }
    r = P->paused ? iopause_g(x, n, &P->resume) : iopause(x, n, 0, 0) ;
    if (r < 0)
    {
      if (errno == EINTR) continue ;
      strerr_diefu1sys(111, "iopause") ;
    }
    if (P->paused && !tain_less(&STAMP, &P->resume)) P->paused = 0 ;
    if (x[0].revents & IOPAUSE_READ)
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
    if (n == 2 && s >= 0 && x[1].revents) r = accept_waiting(s) ;
    while (!P->paused && P->pqlen)
    {
      if (start_one() < 0) { r = -1 ; break ; }
      if (s >= 0 && accept_waiting(s) < 0) r = -1 ;
    }
    if (r < 0 && !P->paused)
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
      int opt = subgetopt_r(argc, argv, "1dDhHoOpPqQrRUvXc:C:M:b:x:B:g:u:l:t:", &l) ;
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
  P = mmap(0, sizeof(parent), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ;
  if (P == MAP_FAILED) strerr_diefu1sys(111, "allocate memory") ;
  madvise(P, sizeof(parent), MADV_DONTFORK) ;
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
