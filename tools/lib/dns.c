/* dns: see dns.h. Nothing in a packet is trusted: every length is checked against the
   packet's end, compression pointers must point backwards, names stay within 255 bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/random.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "dns.h"

enum { Q_FREE, Q_READY, Q_UDP, Q_TCPCONNECT, Q_TCPWRITE, Q_TCPREAD, Q_DONE } ;

#define DNS_C_IN 1
#define UDP_FIRST_WAIT 1      /* seconds before the first retransmission, doubled each time */
#define UDP_MAX_WAIT 4

static uint16_t get16 (unsigned char const *p) { return (uint16_t)(p[0] << 8 | p[1]) ; }
static void put16 (char *p, uint16_t u) { p[0] = (char)(u >> 8) ; p[1] = (char)(u & 0xff) ; }

/* ---- names */

size_t dns_name_pack (char *out, char const *name)
{
  size_t len = 0 ;   /* bytes of out used, without the root label */
  size_t labelstart ;
  if (!name[0] || (name[0] == '.' && !name[1])) { out[0] = 0 ; return 1 ; }
  for (;;)
  {
    labelstart = len++ ;
    while (*name && *name != '.')
    {
      unsigned int c = (unsigned char)*name++ ;
      if (c == '\\')
      {
        if (name[0] >= '0' && name[0] <= '9')
        {
          unsigned int i ;
          c = 0 ;
          for (i = 0 ; i < 3 ; i++)
          {
            if (name[i] < '0' || name[i] > '9') goto bad ;
            c = c * 10 + (unsigned int)(name[i] - '0') ;
          }
          if (c > 255) goto bad ;
          name += 3 ;
        }
        else if (*name) c = (unsigned char)*name++ ;
        else goto bad ;
      }
      if (len >= DNS_NAME_MAX - 1) goto bad ;
      out[len++] = (char)c ;
    }
    if (len - labelstart - 1 == 0 || len - labelstart - 1 > 63) goto bad ;
    out[labelstart] = (char)(len - labelstart - 1) ;
    if (!*name) break ;
    name++ ;
    if (!*name) break ;   /* the final dot */
  }
  out[len++] = 0 ;
  return len ;
 bad:
  errno = EINVAL ;
  return 0 ;
}

size_t dns_name_unpack (char *out, char const *pkt, size_t len, size_t *pos)
{
  unsigned char const *p = (unsigned char const *)pkt ;
  size_t i = *pos ;
  size_t outlen = 0 ;
  size_t after = 0 ;
  unsigned int jumps = 0 ;
  for (;;)
  {
    unsigned int c ;
    if (i >= len) goto bad ;
    c = p[i] ;
    if (c >= 192)
    {
      size_t to ;
      if (i + 1 >= len) goto bad ;
      to = (size_t)(c & 63) << 8 | p[i + 1] ;
      if (to >= i || ++jumps > 127) goto bad ;   /* backwards only: no loop can last */
      if (!after) after = i + 2 ;
      i = to ;
      continue ;
    }
    if (c >= 64) goto bad ;
    if (!c) break ;
    if (outlen + 1 + c + 1 > DNS_NAME_MAX || i + 1 + c > len) goto bad ;
    memcpy(out + outlen, pkt + i, c + 1) ;
    outlen += c + 1 ;
    i += c + 1 ;
  }
  out[outlen++] = 0 ;
  *pos = after ? after : i + 1 ;
  return outlen ;
 bad:
  errno = EBADMSG ;
  return 0 ;
}

static size_t dns_name_len (char const *wire)
{
  size_t i = 0 ;
  while (wire[i]) i += (unsigned char)wire[i] + 1 ;
  return i + 1 ;
}

static int isnamechar (unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ;
}

int dns_name_cat (stralloc *sa, char const *wire)
{
  size_t i = 0 ;
  if (!wire[0]) return stralloc_catb(sa, ".", 1) ;
  while (wire[i])
  {
    size_t n = (unsigned char)wire[i++] ;
    if (i > 1 && !stralloc_catb(sa, ".", 1)) return 0 ;
    for (; n ; n--, i++)
    {
      unsigned char c = (unsigned char)wire[i] ;
      if (c >= 'A' && c <= 'Z') c += 'a' - 'A' ;
      if (isnamechar(c)) { if (!stralloc_catb(sa, (char *)&c, 1)) return 0 ; }
      else
      {
        char e[4] = { '\\', (char)('0' + c / 100), (char)('0' + c / 10 % 10), (char)('0' + c % 10) } ;
        if (!stralloc_catb(sa, e, 4)) return 0 ;
      }
    }
  }
  return 1 ;
}

static unsigned char lower (unsigned char c)
{
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c ;
}

int dns_name_equal (char const *a, char const *b)
{
  size_t n = dns_name_len(a) ;
  size_t i ;
  if (n != dns_name_len(b)) return 0 ;
  /* length bytes are below 64, so lowering every byte leaves them alone */
  for (i = 0 ; i < n ; i++) if (lower(a[i]) != lower(b[i])) return 0 ;
  return 1 ;
}

/* ---- addresses */

int dns_ip_scan (char *ip, int *is6, char const *s)
{
  static unsigned char const mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff } ;
  char buf[16] ;
  if (inet_pton(AF_INET, s, buf) == 1)
  {
    memset(ip, 0, 16) ; memcpy(ip, buf, 4) ; *is6 = 0 ;
    return 1 ;
  }
  if (inet_pton(AF_INET6, s, buf) != 1) return 0 ;
  if (!memcmp(buf, mapped, 12))
  {
    memset(ip, 0, 16) ; memcpy(ip, buf + 12, 4) ; *is6 = 0 ;
    return 1 ;
  }
  memcpy(ip, buf, 16) ; *is6 = 1 ;
  return 1 ;
}

size_t dns_ip_reverse (char *s, char const *ip, int is6)
{
  static char const hex[] = "0123456789abcdef" ;
  unsigned char const *u = (unsigned char const *)ip ;
  size_t len = 0 ;
  int i ;
  if (is6)
    for (i = 15 ; i >= 0 ; i--)
    {
      s[len++] = hex[u[i] & 15] ; s[len++] = '.' ;
      s[len++] = hex[u[i] >> 4] ; s[len++] = '.' ;
    }
  else
    for (i = 3 ; i >= 0 ; i--)
    {
      len += uint_fmt(s + len, u[i]) ;
      s[len++] = '.' ;
    }
  s[--len] = 0 ;
  return len ;
}

/* ---- the server */

static int server_addr (dns_server *srv, char const *s, int v6)
{
  if (v6)
  {
    if (inet_pton(AF_INET6, s, srv->ip) != 1) return 0 ;
    srv->is6 = 1 ;
  }
  else
  {
    if (inet_pton(AF_INET, s, srv->ip) != 1) return 0 ;
    memset(srv->ip + 4, 0, 12) ;
    srv->is6 = 0 ;
  }
  return 1 ;
}

static int port_scan (char const *s, uint16_t *port)
{
  size_t n = uint160_scan(s, port) ;   /* digits only, all of s */
  return n && !s[n] && *port ;
}

int dns_server_scan (dns_server *srv, char const *s)
{
  char buf[64] ;
  size_t n = strlen(s) ;
  char const *colon = strchr(s, ':') ;
  dns_server tmp ;
  tmp.port = 53 ;
  if (!n || n >= sizeof buf) goto bad ;
  if (s[0] == '[')
  {
    char const *end = strchr(s, ']') ;
    if (!end || (size_t)(end - s - 1) >= sizeof buf) goto bad ;
    memcpy(buf, s + 1, end - s - 1) ; buf[end - s - 1] = 0 ;
    if (!server_addr(&tmp, buf, 1)) goto bad ;
    if (end[1] && (end[1] != ':' || !port_scan(end + 2, &tmp.port))) goto bad ;
  }
  else if (colon && strchr(colon + 1, ':'))
  {
    if (!server_addr(&tmp, s, 1)) goto bad ;
  }
  else
  {
    size_t alen = colon ? (size_t)(colon - s) : n ;
    memcpy(buf, s, alen) ; buf[alen] = 0 ;
    if (!server_addr(&tmp, buf, 0)) goto bad ;
    if (colon && !port_scan(colon + 1, &tmp.port)) goto bad ;
  }
  *srv = tmp ;
  return 1 ;
 bad:
  errno = EINVAL ;
  return 0 ;
}

int dns_server_resolvconf (dns_server *srv, char const *path)
{
  stralloc sa = STRALLOC_ZERO ;
  size_t i = 0 ;
  if (!openslurpclose(&sa, path))
  {
    if (errno != ENOENT) { stralloc_free(&sa) ; return 0 ; }
    sa.len = 0 ;
  }
  while (i < sa.len)
  {
    size_t eol = i ;
    char *line ;
    while (eol < sa.len && sa.s[eol] != '\n') eol++ ;
    if (!stralloc_readyplus(&sa, 1)) { stralloc_free(&sa) ; return 0 ; }
    sa.s[eol] = 0 ;
    line = sa.s + i ;
    i = eol + 1 ;
    while (*line == ' ' || *line == '\t') line++ ;
    if (strncmp(line, "nameserver", 10) || (line[10] != ' ' && line[10] != '\t')) continue ;
    line += 10 ;
    while (*line == ' ' || *line == '\t') line++ ;
    {
      size_t n = strcspn(line, " \t\r#;") ;
      line[n] = 0 ;
      /* a scoped address (fe80::1%eth0) cannot be used without its interface: skip it */
      if (server_addr(srv, line, 0) || server_addr(srv, line, 1))
      {
        srv->port = 53 ;
        stralloc_free(&sa) ;
        return 1 ;
      }
    }
  }
  stralloc_free(&sa) ;
  memcpy(srv->ip, "\177\0\0\1", 4) ; memset(srv->ip + 4, 0, 12) ;
  srv->is6 = 0 ; srv->port = 53 ;
  return 1 ;
}

int dns_server_get (dns_server *srv)
{
  char const *x = getenv("DNSCACHEIP") ;
  if (x) return dns_server_scan(srv, x) ;
  return dns_server_resolvconf(srv, "/etc/resolv.conf") ;
}

/* ---- packets */

size_t dns_query_make (char *q, uint16_t id, char const *qname, uint16_t type)
{
  size_t n = dns_name_len(qname) ;
  put16(q, id) ;
  put16(q + 2, 0x0100) ;          /* a query, recursion desired */
  put16(q + 4, 1) ;
  put16(q + 6, 0) ; put16(q + 8, 0) ; put16(q + 10, 0) ;
  memcpy(q + 12, qname, n) ;
  put16(q + 12 + n, type) ;
  put16(q + 14 + n, DNS_C_IN) ;
  return 16 + n ;
}

/* Append the rdata pkt[pos..pos+rdlen) of a record of type to out. 1, or 0 with errno. */
static int rdata_cat (stralloc *out, uint16_t type, char const *pkt, size_t len, size_t pos, size_t rdlen)
{
  unsigned char const *p = (unsigned char const *)pkt ;
  size_t end = pos + rdlen ;
  char name[DNS_NAME_MAX] ;
  switch (type)
  {
    case DNS_T_A :
      if (rdlen != 4) break ;
      return stralloc_catb(out, pkt + pos, 4) ;
    case DNS_T_AAAA :
      if (rdlen != 16) break ;
      return stralloc_catb(out, pkt + pos, 16) ;
    case DNS_T_TXT :
      while (pos < end)
      {
        size_t n = p[pos++] ;
        size_t i ;
        if (pos + n > end) goto bad ;
        if (!stralloc_readyplus(out, n + 1)) return 0 ;
        for (i = 0 ; i < n ; i++) out->s[out->len++] = pkt[pos + i] ? pkt[pos + i] : '?' ;
        pos += n ;
      }
      return stralloc_catb(out, "", 1) ;
    case DNS_T_MX :
      if (rdlen < 3) break ;
      if (!stralloc_catb(out, pkt + pos, 2)) return 0 ;
      pos += 2 ;
      /* fall through */
    case DNS_T_PTR :
    case DNS_T_CNAME :
    case DNS_T_NS :
      if (!dns_name_unpack(name, pkt, len, &pos) || pos > end) break ;
      return dns_name_cat(out, name) && stralloc_catb(out, "", 1) ;
  }
 bad:
  errno = EBADMSG ;
  return 0 ;
}

int dns_reply_parse (stralloc *out, char const *pkt, size_t len, char const *q, size_t qlen)
{
  unsigned char const *p = (unsigned char const *)pkt ;
  unsigned char const *uq = (unsigned char const *)q ;
  char qname[DNS_NAME_MAX], name[DNS_NAME_MAX], cur[DNS_NAME_MAX], next[DNS_NAME_MAX] ;
  size_t pos = 12, qpos = 12, answers, origlen = out->len ;
  uint16_t qtype, ancount ;
  unsigned int hops ;
  int found = 0 ;

  if (len < 12 || qlen < 17) return DNS_R_NOTOURS ;
  if (p[0] != uq[0] || p[1] != uq[1]) return DNS_R_NOTOURS ;   /* ID */
  if (!(p[2] & 0x80) || (p[2] & 0x78) != (uq[2] & 0x78)) return DNS_R_NOTOURS ;   /* QR, opcode */
  if (get16(p + 4) != 1) return DNS_R_NOTOURS ;
  if (!dns_name_unpack(name, pkt, len, &pos) || pos + 4 > len) return DNS_R_NOTOURS ;
  if (!dns_name_unpack(qname, q, qlen, &qpos) || qpos + 4 > qlen) return DNS_R_NOTOURS ;
  if (!dns_name_equal(name, qname) || memcmp(p + pos, uq + qpos, 4)) return DNS_R_NOTOURS ;
  qtype = get16(uq + qpos) ;
  pos += 4 ;
  if (p[2] & 0x02) return DNS_R_TRUNC ;
  switch (p[3] & 0x0f)
  {
    case 0 : break ;
    case 3 : return 0 ;
    case 2 : errno = EAGAIN ; return -1 ;
    case 5 : errno = ECONNREFUSED ; return -1 ;
    default : errno = EPROTO ; return -1 ;
  }
  ancount = get16(p + 6) ;
  answers = pos ;
  memcpy(cur, qname, dns_name_len(qname)) ;
  for (hops = 0 ;; hops++)
  {
    int cname = 0 ;
    unsigned int i ;
    pos = answers ;
    for (i = 0 ; i < ancount ; i++)
    {
      uint16_t type, class, rdlen ;
      if (!dns_name_unpack(name, pkt, len, &pos) || pos + 10 > len) goto bad ;
      type = get16(p + pos) ; class = get16(p + pos + 2) ; rdlen = get16(p + pos + 8) ;
      pos += 10 ;
      if (pos + rdlen > len) goto bad ;
      if (class == DNS_C_IN && dns_name_equal(name, cur))
      {
        if (type == qtype)
        {
          if (!rdata_cat(out, type, pkt, len, pos, rdlen)) goto err ;
          found = 1 ;
        }
        else if (type == DNS_T_CNAME && !cname)
        {
          size_t rpos = pos ;
          if (!dns_name_unpack(next, pkt, len, &rpos) || rpos > pos + rdlen) goto bad ;
          cname = 1 ;
        }
      }
      pos += rdlen ;
    }
    if (found || !cname) break ;
    if (hops >= 16) { errno = ELOOP ; goto err ; }
    memcpy(cur, next, dns_name_len(next)) ;
  }
  return found ;
 bad:
  errno = EBADMSG ;
 err:
  out->len = origlen ;
  return -1 ;
}

/* ---- the engine: one socket per query, so each has its own random source port */

static char udpbuf[65536] ;

static int q_active (dns_q const *q)
{
  return q->state >= Q_UDP && q->state <= Q_TCPREAD ;
}

static void q_finish (dns_q *q, int status, int err)
{
  if (q->fd >= 0) { fd_close(q->fd) ; q->fd = -1 ; }
  if (status != 1) q->answer.len = 0 ;
  q->state = Q_DONE ; q->status = status ; q->err = status < 0 ? err : 0 ;
}

static socklen_t server_sockaddr (struct sockaddr_storage *ss, dns_server const *srv)
{
  memset(ss, 0, sizeof *ss) ;
  if (srv->is6)
  {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss ;
    s6->sin6_family = AF_INET6 ;
    s6->sin6_port = htons(srv->port) ;
    memcpy(&s6->sin6_addr, srv->ip, 16) ;
    return sizeof *s6 ;
  }
  else
  {
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss ;
    s4->sin_family = AF_INET ;
    s4->sin_port = htons(srv->port) ;
    memcpy(&s4->sin_addr, srv->ip, 4) ;
    return sizeof *s4 ;
  }
}

static int from_server (struct sockaddr_storage const *ss, socklen_t len, dns_server const *srv)
{
  struct sockaddr_storage want ;
  socklen_t wlen = server_sockaddr(&want, srv) ;
  if (len != wlen) return 0 ;
  if (srv->is6)
  {
    struct sockaddr_in6 const *a = (struct sockaddr_in6 const *)ss, *b = (struct sockaddr_in6 const *)&want ;
    return a->sin6_family == AF_INET6 && a->sin6_port == b->sin6_port && !memcmp(&a->sin6_addr, &b->sin6_addr, 16) ;
  }
  else
  {
    struct sockaddr_in const *a = (struct sockaddr_in const *)ss, *b = (struct sockaddr_in const *)&want ;
    return a->sin_family == AF_INET && a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr ;
  }
}

/* A non-blocking socket of type, connected (or connecting) to the server. */
static int q_connect (dns_q *q, int type)
{
  struct sockaddr_storage ss ;
  socklen_t len = server_sockaddr(&ss, &q->srv) ;
  int fd = socket(q->srv.is6 ? AF_INET6 : AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) ;
  if (fd < 0) return -1 ;
  if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)
  {
    fd_close(fd) ;
    return -1 ;
  }
  q->fd = fd ;
  return 0 ;
}

static void q_udp_send (dns_q *q)
{
  unsigned int wait = UDP_FIRST_WAIT << (q->tries < 4 ? q->tries : 4) ;
  if (wait > UDP_MAX_WAIT) wait = UDP_MAX_WAIT ;
  if (send(q->fd, q->query + 2, q->qlen, MSG_NOSIGNAL) < 0
   && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS && errno != EINTR)
  {
    q_finish(q, -1, errno) ;
    return ;
  }
  q->tries++ ;
  tain_addsec_g(&q->resend, (int)wait) ;
}

static void q_tcp_start (dns_q *q)
{
  fd_close(q->fd) ;
  q->fd = -1 ;
  if (q_connect(q, SOCK_STREAM) < 0) { q_finish(q, -1, errno) ; return ; }
  q->state = Q_TCPCONNECT ;
  q->tcppos = 0 ;
  q->tcpbuf.len = 0 ;
}

static void q_answer (dns_q *q, char const *pkt, size_t len)
{
  int r ;
  q->answer.len = 0 ;
  r = dns_reply_parse(&q->answer, pkt, len, q->query + 2, q->qlen) ;
  if (r == DNS_R_NOTOURS) return ;   /* someone else's packet: keep waiting */
  if (r == DNS_R_TRUNC) { q_tcp_start(q) ; return ; }
  q_finish(q, r, errno) ;
}

static void q_udp_read (dns_q *q)
{
  unsigned int n ;
  for (n = 0 ; n < 64 && q->state == Q_UDP ; n++)   /* a flood cannot keep us here */
  {
    struct sockaddr_storage from ;
    socklen_t fromlen = sizeof from ;
    ssize_t r = recvfrom(q->fd, udpbuf, sizeof udpbuf, 0, (struct sockaddr *)&from, &fromlen) ;
    if (r < 0)
    {
      if (errno == EINTR) continue ;
      if (errno != EAGAIN && errno != EWOULDBLOCK) q_finish(q, -1, errno) ;
      return ;
    }
    if (!from_server(&from, fromlen, &q->srv)) continue ;
    q_answer(q, udpbuf, (size_t)r) ;
  }
}

static void q_tcp_io (dns_q *q)
{
  if (q->state == Q_TCPCONNECT)
  {
    int e = 0 ;
    socklen_t elen = sizeof e ;
    if (getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0) e = errno ;
    if (e) { q_finish(q, -1, e) ; return ; }
    q->state = Q_TCPWRITE ;
  }
  while (q->state == Q_TCPWRITE)
  {
    ssize_t w = send(q->fd, q->query + q->tcppos, q->qlen + 2 - q->tcppos, MSG_NOSIGNAL) ;
    if (w < 0)
    {
      if (errno == EINTR) continue ;
      if (errno != EAGAIN && errno != EWOULDBLOCK) q_finish(q, -1, errno) ;
      return ;
    }
    q->tcppos += (size_t)w ;
    if (q->tcppos == q->qlen + 2) { q->state = Q_TCPREAD ; q->tcpbuf.len = 0 ; }
  }
  while (q->state == Q_TCPREAD)
  {
    size_t need = q->tcpbuf.len < 2 ? 2 : 2 + get16((unsigned char *)q->tcpbuf.s) ;
    ssize_t r ;
    if (!stralloc_ready(&q->tcpbuf, need)) { q_finish(q, -1, errno) ; return ; }
    r = read(q->fd, q->tcpbuf.s + q->tcpbuf.len, need - q->tcpbuf.len) ;
    if (r < 0)
    {
      if (errno == EINTR) continue ;
      if (errno != EAGAIN && errno != EWOULDBLOCK) q_finish(q, -1, errno) ;
      return ;
    }
    if (!r) { q_finish(q, -1, EPROTO) ; return ; }   /* closed before the whole answer */
    q->tcpbuf.len += (size_t)r ;
    if (q->tcpbuf.len == 2 && need == 2 && !get16((unsigned char *)q->tcpbuf.s)) { q_finish(q, -1, EBADMSG) ; return ; }
    if (q->tcpbuf.len > 2 && q->tcpbuf.len == need)
    {
      int s ;
      q->answer.len = 0 ;
      s = dns_reply_parse(&q->answer, q->tcpbuf.s + 2, need - 2, q->query + 2, q->qlen) ;
      if (s == DNS_R_NOTOURS) q_finish(q, -1, EBADMSG) ;
      else if (s == DNS_R_TRUNC) q_finish(q, -1, EPROTO) ;
      else q_finish(q, s, errno) ;
    }
  }
}

int dns_q_init (dns_q *q, char const *name, uint16_t type)
{
  char wire[DNS_NAME_MAX] ;
  switch (type)
  {
    case DNS_T_A : case DNS_T_AAAA : case DNS_T_TXT : case DNS_T_PTR :
    case DNS_T_CNAME : case DNS_T_NS : case DNS_T_MX : break ;
    default : errno = EINVAL ; return 0 ;
  }
  if (!dns_name_pack(wire, name)) return 0 ;
  if (q->fd >= 0) { fd_close(q->fd) ; q->fd = -1 ; }
  q->answer.len = 0 ;
  q->tcpbuf.len = 0 ;
  q->type = type ;
  q->qlen = dns_query_make(q->query + 2, (uint16_t)random_uint32(65536), wire, type) ;
  put16(q->query, (uint16_t)q->qlen) ;
  q->status = DNS_PENDING ;
  q->err = 0 ;
  q->state = Q_READY ;
  q->tries = 0 ;
  q->tcppos = 0 ;
  return 1 ;
}

unsigned int dns_start (dns_q *qs, unsigned int n, dns_server const *srv)
{
  unsigned int i, pending = 0 ;
  tain_now_g() ;
  for (i = 0 ; i < n ; i++)
  {
    dns_q *q = qs + i ;
    if (q->state == Q_READY)
    {
      q->srv = *srv ;
      if (q_connect(q, SOCK_DGRAM) < 0) q_finish(q, -1, errno) ;
      else { q->state = Q_UDP ; q_udp_send(q) ; }
    }
    if (q_active(q)) pending++ ;
  }
  return pending ;
}

int dns_step (dns_q *qs, unsigned int n, tain const *deadline)
{
  iopause_fd *x ;
  tain wake = *deadline ;
  unsigned int i, j, k = 0 ;
  int r ;
  tain_now_g() ;
  for (i = 0 ; i < n ; i++) if (q_active(qs + i)) k++ ;
  if (!k) return 0 ;
  if (tain_less(&STAMP, deadline))
  {
    x = malloc(k * sizeof *x) ;
    if (!x) return -1 ;
    for (i = 0, j = 0 ; i < n ; i++)
    {
      dns_q *q = qs + i ;
      if (!q_active(q)) continue ;
      x[j].fd = q->fd ;
      x[j].events = q->state == Q_TCPCONNECT || q->state == Q_TCPWRITE ? IOPAUSE_WRITE : IOPAUSE_READ ;
      x[j].revents = 0 ;
      if (q->state == Q_UDP && tain_less(&q->resend, &wake)) wake = q->resend ;
      j++ ;
    }
    r = iopause_g(x, k, &wake) ;
    if (r < 0 && errno != EINTR) { free(x) ; return -1 ; }
    if (r < 0) tain_now_g() ;
    for (i = 0, j = 0 ; r > 0 && i < n ; i++)
    {
      dns_q *q = qs + i ;
      if (!q_active(q)) continue ;
      if (x[j].revents)
      {
        if (q->state == Q_UDP) q_udp_read(q) ;
        else q_tcp_io(q) ;
      }
      j++ ;
    }
    free(x) ;
  }
  k = 0 ;
  for (i = 0 ; i < n ; i++)
  {
    dns_q *q = qs + i ;
    if (!q_active(q)) continue ;
    if (!tain_less(&STAMP, deadline)) { q_finish(q, -1, ETIMEDOUT) ; continue ; }
    if (q->state == Q_UDP && !tain_less(&STAMP, &q->resend)) q_udp_send(q) ;
    if (q_active(q)) k++ ;
  }
  return (int)k ;
}

int dns_run (dns_q *qs, unsigned int n, dns_server const *srv, tain const *deadline)
{
  int r ;
  if (!dns_start(qs, n, srv)) return 0 ;
  do r = dns_step(qs, n, deadline) ; while (r > 0) ;
  return r ;
}

void dns_q_free (dns_q *q)
{
  if (q->fd >= 0) { fd_close(q->fd) ; q->fd = -1 ; }
  if (q->status == DNS_PENDING) { q->status = -1 ; q->err = ECANCELED ; }
  stralloc_free(&q->answer) ;
  stralloc_free(&q->tcpbuf) ;
  q->state = Q_FREE ;
}

/* ---- blocking lookups */

static int lookup (stralloc *out, char const *name, uint16_t type, tain const *deadline)
{
  dns_server srv ;
  dns_q q = DNS_Q_ZERO ;
  int r, e ;
  out->len = 0 ;
  if (!dns_server_get(&srv) || !dns_q_init(&q, name, type)) return -1 ;
  if (dns_run(&q, 1, &srv, deadline) < 0) { e = errno ; dns_q_free(&q) ; errno = e ; return -1 ; }
  r = q.status ; e = q.err ;
  if (r == 1 && !stralloc_copy(out, &q.answer)) { r = -1 ; e = errno ; }
  dns_q_free(&q) ;
  errno = e ;
  return r ;
}

int dns_a (stralloc *ips, char const *name, tain const *deadline)
{
  return lookup(ips, name, DNS_T_A, deadline) ;
}

int dns_txt (stralloc *text, char const *name, tain const *deadline)
{
  return lookup(text, name, DNS_T_TXT, deadline) ;
}

int dns_mx (stralloc *out, char const *name, tain const *deadline)
{
  return lookup(out, name, DNS_T_MX, deadline) ;
}

int dns_ptr (stralloc *name, char const *ip, tain const *deadline)
{
  char addr[16] ;
  char rev[DNS_REVERSE_MAX + 16] ;
  size_t n ;
  int is6, r ;
  name->len = 0 ;
  if (!dns_ip_scan(addr, &is6, ip)) { errno = EINVAL ; return -1 ; }
  n = dns_ip_reverse(rev, addr, is6) ;
  memcpy(rev + n, is6 ? ".ip6.arpa" : ".in-addr.arpa", is6 ? 10 : 14) ;
  r = lookup(name, rev, DNS_T_PTR, deadline) ;
  if (r == 1) name->len = strlen(name->s) ;   /* the first name; its '\0' stays */
  return r ;
}

int dns_ip46 (stralloc *ips, char const *name, tain const *deadline)
{
  static char const mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (char)0xff, (char)0xff } ;
  dns_server srv ;
  dns_q q[2] = { DNS_Q_ZERO, DNS_Q_ZERO } ;
  int r = 0, e = 0 ;
  size_t i ;
  ips->len = 0 ;
  if (!dns_server_get(&srv) || !dns_q_init(&q[0], name, DNS_T_A) || !dns_q_init(&q[1], name, DNS_T_AAAA)) return -1 ;
  if (dns_run(q, 2, &srv, deadline) < 0) { r = -1 ; e = errno ; goto end ; }
  for (i = 0 ; i + 4 <= q[0].answer.len && q[0].status == 1 ; i += 4)
  {
    if (!stralloc_catb(ips, mapped, 12) || !stralloc_catb(ips, q[0].answer.s + i, 4)) { r = -1 ; e = errno ; goto end ; }
  }
  if (q[1].status == 1 && !stralloc_cat(ips, &q[1].answer)) { r = -1 ; e = errno ; goto end ; }
  if (ips->len) r = 1 ;
  else if (q[0].status < 0) { r = -1 ; e = q[0].err ; }
  else if (q[1].status < 0) { r = -1 ; e = q[1].err ; }
 end:
  if (r != 1) ips->len = 0 ;
  dns_q_free(&q[0]) ;
  dns_q_free(&q[1]) ;
  errno = e ;
  return r ;
}
