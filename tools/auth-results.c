/* auth-results: a qmail-queue filter for mail from other sites (port 25): checks SPF for the
   envelope sender and the HELO name (RFC 7208, libspf2), verifies every DKIM signature
   (RFC 6376, libopendkim), evaluates the author domain's DMARC policy with alignment
   (RFC 7489, libopendmarc), removes Authentication-Results: fields that claim to come from
   this host, prepends its own (RFC 8601), and hands the message on to the queue; or refuses
   it (31) when so configured and the author domain says p=reject. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <spf2/spf.h>
#include <spf2/spf_dns_cache.h>
#include <opendkim/dkim.h>
#include <opendmarc/dmarc.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "authdns.h"
#include "dnscache.h"
#include "keycache.h"
#include "control.h"
#include "qfilter.h"
#include "qfilterd.h"
#include "queue.h"

#define USAGE "auth-results [ -d socket [ -c workers ] [ -T timeout ] [ -m mode ] [ -b maxbytes ] ]"
#define dieusage() strerr_dieusage(100, USAGE)
#define CODE_CONFIG 55
#define CODE_REFUSED 31
#define PSL "/usr/share/publicsuffix/public_suffix_list.dat"

/* not in dmarc.h, exported by libopendmarc: the organizational domain of domain */
extern int opendmarc_get_tld (u_char *domain, u_char *tld, size_t tld_len) ;

static stralloc ar = STRALLOC_ZERO ;    /* the Authentication-Results: field being built */
static stralloc psl = STRALLOC_ZERO ;   /* the public suffix list, or "" */
static int pslloaded = 0 ;
static char const *author = 0 ;         /* the From: domain, when DMARC applies */
static int unaligned = 0 ;              /* an SPF or DKIM domain other than the author's */

/* The public suffix list finds organizational domains, for relaxed alignment and for the
   DMARC record of a subdomain. Reading it costs more than all the rest (tens of ms): only
   when a domain differs from the author's. */
static void psl_load (void)
{
  if (pslloaded || !psl.len) return ;
  pslloaded = 1 ;
  if (opendmarc_tld_read_file((char *)psl.s, "//", "*.", "!") != 0) strerr_warnwu2sys("read ", psl.s) ;
}

static void note_domain (char const *d)
{
  if (author && strcasecmp(d, author)) unaligned = 1 ;
}

static void die_nomem (void) { strerr_warnwu1sys("allocate") ; _exit(QUEUE_NOMEM) ; }

static void arcat (char const *s) { if (!stralloc_cats(&ar, s)) die_nomem() ; }

/* ---- SPF ------------------------------------------------------------------------------------- */

typedef struct spfres_s spfres ;
struct spfres_s
{
  SPF_result_t result ;
  char const *name ;       /* pass, fail, softfail, neutral, none, temperror, permerror */
} ;

static char const *spf_name (SPF_result_t r)
{
  switch (r)
  {
    case SPF_RESULT_PASS : return "pass" ;
    case SPF_RESULT_FAIL : return "fail" ;
    case SPF_RESULT_SOFTFAIL : return "softfail" ;
    case SPF_RESULT_NEUTRAL : return "neutral" ;
    case SPF_RESULT_NONE : return "none" ;
    case SPF_RESULT_TEMPERROR : return "temperror" ;
    default : return "permerror" ;
  }
}

/* the SPF result for ip and helo, of sender when it is not 0, of the HELO name otherwise */
static spfres spf_check (SPF_server_t *srv, char const *ip, char const *helo, char const *sender)
{
  spfres res = { .result = SPF_RESULT_NONE, .name = "none" } ;
  SPF_request_t *req = SPF_request_new(srv) ;
  SPF_response_t *resp = 0 ;
  SPF_errcode_t e ;
  if (!req) die_nomem() ;
  if (!strncasecmp(ip, "::ffff:", 7) && strchr(ip, '.')) ip += 7 ;
  e = strchr(ip, ':') ? SPF_request_set_ipv6_str(req, ip) : SPF_request_set_ipv4_str(req, ip) ;
  if (e == SPF_E_SUCCESS && helo) e = SPF_request_set_helo_dom(req, helo) ;
  if (e == SPF_E_SUCCESS && sender && SPF_request_set_env_from(req, sender)) e = SPF_E_INVALID_CHAR ;
  if (e != SPF_E_SUCCESS) { res.result = SPF_RESULT_PERMERROR ; res.name = "permerror" ; SPF_request_free(req) ; return res ; }
  e = SPF_request_query_mailfrom(req, &resp) ;
  if (resp)
  {
    res.result = SPF_response_result(resp) ;
    /* libspf2 leaves a lookup that timed out as "invalid" */
    if (res.result == SPF_RESULT_INVALID && e == SPF_E_DNS_ERROR) res.result = SPF_RESULT_TEMPERROR ;
    res.name = spf_name(res.result) ;
    SPF_response_free(resp) ;
  }
  else { res.result = SPF_RESULT_TEMPERROR ; res.name = "temperror" ; }
  SPF_request_free(req) ;
  return res ;
}

static int dmarc_spf_outcome (SPF_result_t r)
{
  return r == SPF_RESULT_PASS ? DMARC_POLICY_SPF_OUTCOME_PASS
    : r == SPF_RESULT_TEMPERROR ? DMARC_POLICY_SPF_OUTCOME_TMPFAIL
    : r == SPF_RESULT_NONE ? DMARC_POLICY_SPF_OUTCOME_NONE : DMARC_POLICY_SPF_OUTCOME_FAIL ;
}

/* a property value as RFC 8601 allows it unquoted, else quoted */
static void arvalue (char const *s)
{
  size_t i ;
  int plain = *s != 0 ;
  for (i = 0 ; s[i] ; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || strchr(".-_@+=/", s[i]))) plain = 0 ;
  if (plain) { arcat(s) ; return ; }
  arcat("\"") ;
  for (i = 0 ; s[i] ; i++)
  {
    if (s[i] == '"' || s[i] == '\\') arcat("\\") ;
    if ((unsigned char)s[i] < 32 || s[i] == 127) continue ;
    if (!stralloc_catb(&ar, s + i, 1)) die_nomem() ;
  }
  arcat("\"") ;
}

/* ---- DKIM ------------------------------------------------------------------------------------ */

/* libopendkim's queries, one at a time, through a resolver state of our own (res_ninit: so
   $DNSCACHEIP, see authdns.h); res_nsend gives the whole answer, rcode included, so that a
   key that does not exist (NXDOMAIN) is told from a lookup that failed */
static struct __res_state dkres ;
static int dkres_ok = 0 ;
static int dkreply = -1 ;

/* a query of type for name through dkres, the answer into buf[0..buflen): its length, -1
   when no answer came, -2 for a name that cannot be asked (too long); an answer kept in dnscache (its TTL) is given without asking */
static int cached_query (int type, char const *name, unsigned char *buf, size_t buflen)
{
  unsigned char q[512] ;
  uint64_t now = dnscache_now() ;
  int n = dnscache_get((uint16_t)type, name, buf, buflen, now) ;
  if (n >= 0) return n ;
  if (!dkres_ok) { if (res_ninit(&dkres) < 0) return -1 ; dkres_ok = 1 ; }
  n = res_nmkquery(&dkres, QUERY, name, C_IN, type, 0, 0, 0, q, sizeof q) ;
  if (n <= 0) return -2 ;
  n = res_nsend(&dkres, q, n, buf, buflen > 65535 ? 65535 : (int)buflen) ;
  if (n > 0) dnscache_put((uint16_t)type, name, buf, (size_t)n, now) ;
  return n ;
}

static int dkdns_start (void *srv, int type, unsigned char *query, unsigned char *buf, size_t buflen, void **qh)
{
  (void)srv ;
  *qh = &dkreply ;
  dkreply = cached_query(type, (char const *)query, buf, buflen) ;
  if (dkreply < 0) dkreply = -1 ;
  return DKIM_DNS_SUCCESS ;
}

static int dkdns_wait (void *srv, void *qh, struct timeval *timeout, size_t *bytes, int *error, int *dnssec)
{
  (void)srv ; (void)timeout ;
  if (dnssec) *dnssec = DKIM_DNSSEC_UNKNOWN ;
  if (*(int *)qh < 0) { if (error) *error = ETIMEDOUT ; return DKIM_DNS_ERROR ; }
  if (bytes) *bytes = *(int *)qh ;
  if (error) *error = 0 ;
  return DKIM_DNS_SUCCESS ;
}

static int dkdns_cancel (void *srv, void *qh) { (void)srv ; (void)qh ; return DKIM_DNS_SUCCESS ; }

static char const *dkim_name (DKIM_SIGINFO *sig)
{
  int err = dkim_sig_geterror(sig) ;
  if ((dkim_sig_getflags(sig) & DKIM_SIGFLAG_PASSED) && dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH) return "pass" ;
  if (err == DKIM_SIGERROR_KEYFAIL) return "temperror" ;
  if (err == DKIM_SIGERROR_BADSIG || err == DKIM_SIGERROR_OK || dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH) return "fail" ;
  return "permerror" ;
}

/* verify every signature; each result into the field and into the DMARC context. The number
   of temporary failures. */
static unsigned int dkim_check (DMARC_POLICY_T *dm, char const *msg, size_t len)
{
  static DKIM_LIB *lib = 0 ;   /* made once: in a daemon's worker, for every message */
  DKIM *d ;
  DKIM_STAT st ;
  DKIM_SIGINFO **sigs ;
  int nsigs = 0, i ;
  unsigned int temp = 0 ;
  if (!lib)
  {
    unsigned int flags = DKIM_LIBFLAGS_FIXCRLF ;
    lib = dkim_init(0, 0) ;
    if (!lib || dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags) != DKIM_STAT_OK)
    {
      strerr_warnwu1x("initialise libopendkim") ;
      _exit(QUEUE_BUG) ;
    }
    dkim_dns_set_init(lib, 0) ;
    dkim_dns_set_close(lib, 0) ;
    dkim_dns_set_query_service(lib, &dkres) ;
    dkim_dns_set_query_start(lib, &dkdns_start) ;
    dkim_dns_set_query_waitreply(lib, &dkdns_wait) ;
    dkim_dns_set_query_cancel(lib, &dkdns_cancel) ;
  }
  d = dkim_verify(lib, (unsigned char const *)"auth-results", 0, &st) ;
  if (!d) { strerr_warnwu2x("start verifying: ", dkim_getresultstr(st)) ; _exit(QUEUE_BUG) ; }
  st = dkim_chunk(d, (unsigned char *)msg, len) ;
  if (st == DKIM_STAT_OK) st = dkim_chunk(d, 0, 0) ;
  if (st == DKIM_STAT_OK || st == DKIM_STAT_NOSIG) st = dkim_eom(d, 0) ;
  if (st == DKIM_STAT_NOSIG || dkim_getsiglist(d, &sigs, &nsigs) != DKIM_STAT_OK || !nsigs)
  {
    arcat(";\n\tdkim=none") ;
  }
  else for (i = 0 ; i < nsigs ; i++)
  {
    char const *dom = (char const *)dkim_sig_getdomain(sigs[i]) ;
    char const *sel = (char const *)dkim_sig_getselector(sigs[i]) ;
    char const *name = dkim_name(sigs[i]) ;
    unsigned char *b = dkim_sig_gettagvalue(sigs[i], 0, (unsigned char *)"b") ;
    unsigned char *a = dkim_sig_gettagvalue(sigs[i], 0, (unsigned char *)"a") ;
    arcat(";\n\tdkim=") ; arcat(name) ;
    if (!strcmp(name, "temperror")) temp++ ;
    if (dom) { arcat(" header.d=") ; arvalue(dom) ; }
    if (sel) { arcat(" header.s=") ; arvalue(sel) ; }
    if (a) { arcat(" header.a=") ; arvalue((char const *)a) ; }
    if (b)
    {
      /* the first 8 characters of b= tell signatures apart (RFC 6008) */
      char bb[9] ; size_t j, k = 0 ;
      for (j = 0 ; b[j] && k < 8 ; j++) if (b[j] != ' ' && b[j] != '\t' && b[j] != '\r' && b[j] != '\n') bb[k++] = b[j] ;
      bb[k] = 0 ;
      arcat(" header.b=") ; arvalue(bb) ;
    }
    if (dom) note_domain(dom) ;
    if (dom && dm)
      opendmarc_policy_store_dkim(dm, (u_char *)dom, (u_char *)(sel ? sel : ""),
        !strcmp(name, "pass") ? DMARC_POLICY_DKIM_OUTCOME_PASS : !strcmp(name, "temperror") ? DMARC_POLICY_DKIM_OUTCOME_TMPFAIL : DMARC_POLICY_DKIM_OUTCOME_FAIL,
        (u_char *)name) ;
  }
  dkim_free(d) ;
  return temp ;
}

/* ---- DMARC ----------------------------------------------------------------------------------- */

/* the DMARC record of domain into rec: 1 found, 0 none, -1 temporary failure. Asked as the
   DKIM keys are (cached_query): a record seen before is not asked for again within its TTL. */
static int dmarc_lookup (stralloc *rec, char const *domain)
{
  static unsigned char buf[65536] ;
  stralloc name = STRALLOC_ZERO, txt = STRALLOC_ZERO ;
  ns_msg m ;
  int n, i, count, rcode, found = 0 ;
  if (!stralloc_cats(&name, "_dmarc.") || !stralloc_cats(&name, domain) || !stralloc_0(&name)) die_nomem() ;
  n = cached_query(T_TXT, name.s, buf, sizeof buf) ;
  stralloc_free(&name) ;
  if (n == -2) return 0 ;   /* no such name can exist */
  if (n <= 0 || ns_initparse(buf, n, &m) < 0) return -1 ;
  rcode = ns_msg_getflag(m, ns_f_rcode) ;
  if (rcode == ns_r_nxdomain) return 0 ;
  if (rcode != ns_r_noerror) return -1 ;
  count = ns_msg_count(m, ns_s_an) ;
  for (i = 0 ; i < count ; i++)
  {
    ns_rr rr ;
    unsigned char const *p, *end ;
    if (ns_parserr(&m, ns_s_an, i, &rr) < 0) return -1 ;
    if (ns_rr_type(rr) != ns_t_txt) continue ;
    /* the record's strings joined */
    txt.len = 0 ;
    p = ns_rr_rdata(rr) ; end = p + ns_rr_rdlen(rr) ;
    while (p < end)
    {
      size_t k = *p++ ;
      if (k > (size_t)(end - p)) break ;
      if (!stralloc_catb(&txt, (char const *)p, k)) die_nomem() ;
      p += k ;
    }
    if (!stralloc_0(&txt)) die_nomem() ;
    if (strlen(txt.s) != txt.len - 1) continue ;   /* a NUL inside: not a DMARC record */
    /* the one record that starts with v=DMARC1 */
    if (!strncmp(txt.s, "v=DMARC1", 8) && (txt.s[8] == ';' || txt.s[8] == ' ' || !txt.s[8]))
    {
      if (found++) break ;
      rec->len = 0 ;
      if (!stralloc_copy(rec, &txt)) die_nomem() ;
    }
  }
  stralloc_free(&txt) ;
  return found == 1 ;
}

/* a domain in control/dmarcexceptions: itself, or a line .parent for its subdomains */
static int excepted (char const *domain)
{
  stralloc sa = STRALLOC_ZERO ;
  size_t i, n = strlen(domain) ;
  int r = control_readlines(&sa, "dmarcexceptions") ;
  if (r < 0) { strerr_warnwu1sys("read control/dmarcexceptions") ; _exit(CODE_CONFIG) ; }
  for (i = 0 ; i < sa.len ; i += strlen(sa.s + i) + 1)
  {
    char const *e = sa.s + i ;
    size_t k = strlen(e) ;
    if (!strcasecmp(e, domain) || (e[0] == '.' && n > k && !strcasecmp(domain + n - k, e)))
    {
      stralloc_free(&sa) ;
      return 1 ;
    }
  }
  stralloc_free(&sa) ;
  return 0 ;
}

/* ---- the header ------------------------------------------------------------------------------ */

/* 1 when the Authentication-Results: field f[0..len) names authserv-id me */
static int names_us (char const *f, size_t len, char const *me)
{
  char const *v = memchr(f, ':', len) ;
  size_t n = strlen(me), i ;
  if (!v) return 0 ;
  i = v + 1 - f ;
  while (i < len && (f[i] == ' ' || f[i] == '\t' || f[i] == '\r' || f[i] == '\n')) i++ ;
  return len - i >= n && !strncasecmp(f + i, me, n)
    && (i + n == len || strchr("; \t\r\n(", f[i + n])) ;
}

/* the libraries and the settings that hold for every message, once */
static void init (void)
{
  static int done = 0 ;
  OPENDMARC_LIB_T lib ;
  if (done) return ;
  if (!authdns_init()) strerr_warnw1x("DNSCACHEIP is not an IPv4 address: SPF, DKIM keys and DMARC cannot be looked up") ;
  keycache_init() ;   /* a DKIM key seen again is not parsed again */
  memset(&lib, 0, sizeof lib) ;
  if (opendmarc_policy_library_init(&lib) != DMARC_PARSE_OKAY) { strerr_warnwu1x("initialise libopendmarc") ; _exit(QUEUE_BUG) ; }
  done = 1 ;
}

/* the filter: the Authentication-Results: field before the message, without the fields
   forged in our name */
static int filter (char const *msgs, size_t msglen, char const *envs, size_t envlen, qfilterd_out *o)
{
  static stralloc me = STRALLOC_ZERO, from = STRALLOC_ZERO, out = STRALLOC_ZERO,
                  policy = STRALLOC_ZERO, rec = STRALLOC_ZERO ;
  static SPF_server_t *srv = 0 ;   /* its DNS cache stays warm from message to message */
  struct { char const *s ; size_t len ; } msg = { msgs, msglen } ;
  stralloc env = { .s = (char *)envs, .len = envlen, .a = envlen } ;
  char const *ip = getenv("TCPREMOTEIP"), *helo = getenv("SMTPHELO"), *sender ;
  DMARC_POLICY_T *dm = 0 ;
  spfres spfhelo = { .result = SPF_RESULT_NONE, .name = "none" }, spfmail = spfhelo ;
  unsigned int nfrom = 0, temp = 0 ;
  int refuse = 0, r ;
  init() ;
  ar.len = 0 ; out.len = 0 ; author = 0 ; unaligned = 0 ;
  sender = qfilter_sender(&env) ;
  r = control_readline(&me, "authservid", 0) ;
  if (!r) r = control_readline(&me, "me", 0) ;
  if (r <= 0 || !me.len) { strerr_warnwu1x("read control/authservid or control/me") ; return CODE_CONFIG ; }
  r = control_readline(&policy, "dmarcpolicy", "tag") ;
  if (r < 0) { strerr_warnwu1sys("read control/dmarcpolicy") ; return CODE_CONFIG ; }
  if (strcmp(policy.s, "tag") && strcmp(policy.s, "reject"))
  {
    strerr_warnw3x("control/dmarcpolicy: line 1: ", policy.s, ": neither tag nor reject") ;
    return CODE_CONFIG ;
  }
  if (helo && (!*helo || *helo == '[')) helo = 0 ;   /* an address literal has no SPF record */

  arcat("Authentication-Results: ") ; arcat(me.s) ;
  {
    r = control_readline(&psl, "publicsuffix", PSL) ;
    if (r < 0) { strerr_warnwu1sys("read control/publicsuffix") ; return CODE_CONFIG ; }
    if (access(psl.s, R_OK) < 0)
    {
      if (r > 0) { strerr_warnwu2sys("read ", psl.s) ; return CODE_CONFIG ; }
      psl.len = 0 ;
    }
  }
  if (qfilter_from_domain(msg.s, msg.len, &from, &nfrom) && nfrom == 1)
  {
    dm = opendmarc_policy_connect_init((u_char *)(ip ? ip : "127.0.0.1"), ip && strchr(ip, ':') && !strchr(ip, '.'));
    if (!dm) die_nomem() ;
    opendmarc_policy_store_from_domain(dm, (u_char *)from.s) ;
    author = from.s ;
  }

  /* SPF, when the client is known (a network server's message) */
  if (ip && *ip)
  {
    if (!srv)
    {
      if (!(srv = SPF_server_new(SPF_DNS_CACHE, 0))) die_nomem() ;
      /* a service keeps its cache: records as long as their TTL says, not libspf2's
         minimums (half an hour, failures included: a DNS outage would outlive itself) */
      SPF_dns_cache_set_ttl(srv->resolver, 0, 0, 0, 0) ;
    }
    if (helo) spfhelo = spf_check(srv, ip, helo, 0) ;
    if (*sender) spfmail = spf_check(srv, ip, helo, sender) ;
    else spfmail = spfhelo ;
    if (*sender)
    {
      arcat(";\n\tspf=") ; arcat(spfmail.name) ; arcat(" smtp.mailfrom=") ; arvalue(sender) ;
    }
    if (helo) { arcat(";\n\tspf=") ; arcat(spfhelo.name) ; arcat(" smtp.helo=") ; arvalue(helo) ; }
    if (!*sender && !helo) arcat(";\n\tspf=none") ;
    if (dm && (*sender || helo))
    {
      char const *at = *sender ? strrchr(sender, '@') : 0 ;
      char const *dom = at ? at + 1 : helo ;
      if (dom) note_domain(dom) ;
      if (dom)
        opendmarc_policy_store_spf(dm, (u_char *)dom, dmarc_spf_outcome(spfmail.result),
          *sender ? DMARC_POLICY_SPF_ORIGIN_MAILFROM : DMARC_POLICY_SPF_ORIGIN_HELO, (u_char *)spfmail.name) ;
    }
    if (spfmail.result == SPF_RESULT_TEMPERROR) temp++ ;
  }

  temp += dkim_check(dm, msg.s, msg.len) ;

  /* DMARC: the author domain's record, else its organizational domain's */
  if (!dm) { arcat(";\n\tdmarc=") ; arcat(nfrom > 1 ? "permerror (several From: fields)" : "none") ; }
  else
  {
    char org[256] ;
    r = dmarc_lookup(&rec, from.s) ;
    org[0] = 0 ;
    if (!r || unaligned) psl_load() ;
    if (!r && pslloaded && !opendmarc_get_tld((u_char *)from.s, (u_char *)org, sizeof org) && org[0] && strcasecmp(org, from.s))
      r = dmarc_lookup(&rec, org) ;
    arcat(";\n\tdmarc=") ;
    if (r < 0) arcat("temperror") ;
    else if (!r) arcat("none") ;
    else if (opendmarc_policy_store_dmarc(dm, (u_char *)rec.s, (u_char *)from.s, (u_char *)(org[0] ? org : 0)) != DMARC_PARSE_OKAY)
      arcat("permerror") ;
    else
    {
      int p = 0, pol = opendmarc_get_policy_to_enforce(dm) ;
      char pp[3] = "p=" ;
      opendmarc_policy_fetch_p(dm, &p) ;
      if (pol == DMARC_POLICY_PASS) arcat("pass") ;
      else if (temp) arcat("temperror") ;
      else
      {
        arcat("fail") ;
        if (pol == DMARC_POLICY_REJECT && !strcmp(policy.s, "reject") && !excepted(from.s)) refuse = 1 ;
      }
      arcat(" (") ; arcat(pp) ;
      arcat(p == DMARC_RECORD_P_REJECT ? "reject" : p == DMARC_RECORD_P_QUARANTINE ? "quarantine" : "none") ;
      arcat(")") ;
    }
    arcat(" header.from=") ; arvalue(from.s) ;
  }
  arcat("\n") ;
  if (dm) opendmarc_policy_connect_shutdown(dm) ;

  if (refuse)
  {
    strerr_warnw3x("refused: ", from.s, " publishes p=reject and the message fails DMARC") ;
    o->why = "the author domain's DMARC policy says reject and the message fails DMARC" ;
    return CODE_REFUSED ;
  }

  /* the message without Authentication-Results: fields in our name (forged) */
  {
    size_t pos = 0, f, kept = 0 ;
    while ((f = qfilter_header_next(msg.s, msg.len, &pos)) != (size_t)-1)
      if (qfilter_header_is(msg.s + f, pos - f, "authentication-results") && names_us(msg.s + f, pos - f, me.s))
      {
        if (!stralloc_catb(&out, msg.s + kept, f - kept)) die_nomem() ;
        kept = pos ;
      }
    if (!stralloc_catb(&out, msg.s + kept, msg.len - kept)) die_nomem() ;
  }
  o->head = ar.s ; o->headlen = ar.len ;
  o->msg = out.s ; o->msglen = out.len ;
  return 0 ;
}

int main (int argc, char const *const *argv)
{
  char const *sock = 0 ;
  qfilterd_opts o = QFILTERD_ZERO ;
  PROG = "auth-results" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, QFILTERD_OPTS, &l) ;
      if (opt == -1) break ;
      if (qfilterd_option(opt, l.arg, &o, &sock) != 1) dieusage() ;
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc) dieusage() ;
  sig_ignore(SIGPIPE) ;
  if (sock) qfilterd_main(sock, &o, &init, &filter) ;
  return qfilterd_once(&filter) ;
}
