/* queue-list: what is in the queue (qmail-qread, and with -s qmail-qstat): each message
   with its arrival, size, sender and recipients, and for each recipient where it goes and
   how it stands; -j says the same in JSON for other programs. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/buffer.h>
#include <skalibs/direntry.h>
#include <skalibs/genalloc.h>
#include <skalibs/sgetopt.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "date822.h"
#include "queue.h"
#include "route.h"

#define USAGE "queue-list [ -j ] [ -s ]"
#define dieusage() strerr_dieusage(100, USAGE)
#define dienomem() strerr_diefu1sys(111, "allocate memory")

static int json = 0 ;
static stralloc out = STRALLOC_ZERO ;

static void put (char const *s) { if (!stralloc_cats(&out, s)) dienomem() ; }
static void putn (uint64_t u) { char fmt[UINT64_FMT] ; if (!stralloc_catb(&out, fmt, uint64_fmt(fmt, u))) dienomem() ; }
static void flush (void)
{
  if (buffer_put(buffer_1, out.s, out.len) < 0) strerr_diefu1sys(111, "write to stdout") ;
  out.len = 0 ;
}

/* text for a person: control characters made '?' */
static void puttext (char const *s)
{
  size_t from = out.len ;
  put(s) ;
  for (size_t i = from ; i < out.len ; i++) if ((unsigned char)out.s[i] < 0x20 || out.s[i] == 0x7f) out.s[i] = '?' ;
}

static void putjson (char const *s)
{
  static char const hex[] = "0123456789abcdef" ;
  if (!stralloc_catb(&out, "\"", 1)) dienomem() ;
  for (; *s ; s++)
  {
    unsigned char c = *s ;
    char e[7] = "\\u00" ;
    if (c == '"' || c == '\\') { e[1] = c ; if (!stralloc_catb(&out, e, 2)) dienomem() ; }
    else if (c < 0x20 || c == 0x7f) { e[4] = hex[c >> 4] ; e[5] = hex[c & 15] ; if (!stralloc_catb(&out, e, 6)) dienomem() ; }
    else if (!stralloc_catb(&out, (char *)&c, 1)) dienomem() ;
  }
  if (!stralloc_catb(&out, "\"", 1)) dienomem() ;
}

static int idcmp (void const *a, void const *b)
{
  char const *x = *(char const *const *)a, *y = *(char const *const *)b ;
  uint64_t tx = queue_id_time(x), ty = queue_id_time(y) ;
  return tx < ty ? -1 : tx > ty ? 1 : strcmp(x, y) ;
}

/* the IDs of dir, sorted by arrival, into names (0-terminated each) and ptrs */
static size_t list (int qfd, char const *dir, stralloc *names, genalloc *ptrs)
{
  int fd = openat(qfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  DIR *d ;
  size_t n = 0 ;
  names->len = 0 ;
  genalloc_setlen(char const *, ptrs, 0) ;
  if (fd < 0) { if (errno == ENOENT) return 0 ; strerr_diefu2sys(111, "open queue/", dir) ; }
  d = fdopendir(fd) ;
  if (!d) strerr_diefu2sys(111, "read queue/", dir) ;
  for (;;)
  {
    direntry *e ;
    errno = 0 ;
    e = readdir(d) ;
    if (!e) { if (errno) strerr_diefu2sys(111, "read queue/", dir) ; break ; }
    if (!queue_id_valid(e->d_name)) continue ;
    if (!stralloc_cats(names, e->d_name) || !stralloc_0(names)) dienomem() ;
    n++ ;
  }
  closedir(d) ;
  {
    size_t i = 0 ;
    while (i < names->len)
    {
      char const *p = names->s + i ;
      if (!genalloc_append(char const *, ptrs, &p)) dienomem() ;
      i += strlen(p) + 1 ;
    }
  }
  if (n) qsort(genalloc_s(char const *, ptrs), n, sizeof(char const *), &idcmp) ;
  return n ;
}

static char const *statename (unsigned int s)
{
  switch (s)
  {
    case QUEUE_RCPT_DONE : return "done" ;
    case QUEUE_RCPT_FAILED : return "failed" ;
    case QUEUE_RCPT_DEFERRED : return "deferred" ;
    default : return "pending" ;
  }
}

static void show (int qfd, route_ctx *rc, char const *dir, char const *id, int *first)
{
  queue_msg m = QUEUE_MSG_ZERO ;
  queue_state st = QUEUE_STATE_ZERO ;
  stralloc dom = STRALLOC_ZERO ;
  char name[6 + QUEUE_IDMAX] ;
  char const *why ;
  size_t bad ;
  int fd, r ;
  memcpy(name, dir, 4) ; name[4] = '/' ; memcpy(name + 5, id, strlen(id) + 1) ;
  fd = openat(qfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) ;
  if (fd < 0) { if (errno != ENOENT) strerr_warnwu2sys("open ", name) ; return ; }   /* delivered meanwhile */
  r = queue_msg_read(fd, &m, &why) ;
  close(fd) ;
  if (r <= 0)
  {
    if (r < 0) strerr_warnwu2sys("read ", name) ;
    else strerr_warnw3x(name, ": ", why) ;
    return ;
  }
  if (queue_state_read(qfd, id, m.nrcpt, &st, &bad) < 0) strerr_diefu2sys(111, "read the state of ", id) ;
  if (json)
  {
    put(*first ? "\n  {" : ",\n  {") ;
    *first = 0 ;
    put("\"id\": ") ; putjson(id) ;
    put(", \"arrival\": ") ; putn(queue_id_time(id)) ;
    put(", \"size\": ") ; putn(m.size) ;
    put(", \"sender\": ") ; putjson(m.sender) ;
    put(", \"uid\": ") ; putn(m.uid) ;
    put(", \"new\": ") ; put(dir[0] == 't' ? "true" : "false") ;
    put(", \"recipients\": [") ;
  }
  else
  {
    put(id) ; put("  ") ;
    if (!date822_cat(&out, (time_t)queue_id_time(id))) dienomem() ;
    put("  ") ; putn(m.size) ; put(" bytes  <") ; puttext(m.sender) ; put(">") ;
    if (dir[0] == 't') put("  (new)") ;
    put("\n") ;
  }
  for (size_t i = 0 ; i < m.nrcpt ; i++)
  {
    queue_rcptstate const *rs = genalloc_s(queue_rcptstate, &st.rcpt) + i ;
    char const *where = "?" ;
    if (route_rcptdomain(rc, queue_msg_rcpt(&m, i), &dom))
    {
      int k = route_domain(rc, dom.s) ;
      where = k < 0 ? "?" : k == ROUTE_REMOTE ? "remote" : "local" ;
    }
    if (json)
    {
      put(i ? ", {" : "{") ;
      put("\"address\": ") ; putjson(queue_msg_rcpt(&m, i)) ;
      put(", \"route\": ") ; putjson(where) ;
      put(", \"state\": ") ; putjson(statename(rs->state)) ;
      put(", \"tries\": ") ; putn(rs->tries) ;
      if (rs->state == QUEUE_RCPT_DEFERRED) { put(", \"next\": ") ; putn(rs->next) ; }
      if (rs->state == QUEUE_RCPT_FAILED) { put(", \"bounced\": ") ; put(rs->bounced ? "true" : "false") ; }
      if (rs->state != QUEUE_RCPT_PENDING) { put(", \"time\": ") ; putn(rs->when) ; }
      if (rs->text) { put(", \"reason\": ") ; putjson(queue_state_text(&st, i)) ; }
      put("}") ;
    }
    else
    {
      put("\t") ; put(where) ; put("\t") ; puttext(queue_msg_rcpt(&m, i)) ;
      if (rs->state != QUEUE_RCPT_PENDING)
      {
        put("\t") ; put(statename(rs->state)) ;
        if (rs->state == QUEUE_RCPT_DEFERRED)
        {
          put(" (") ; putn(rs->tries) ; put(rs->tries == 1 ? " try, next " : " tries, next ") ;
          if (!date822_cat(&out, (time_t)rs->next)) dienomem() ;
          put(")") ;
        }
        if (rs->state == QUEUE_RCPT_FAILED && !rs->bounced) put(" (bounce pending)") ;
        if (rs->text) { put(": ") ; puttext(queue_state_text(&st, i)) ; }
      }
      put("\n") ;
    }
  }
  if (json) put("]}") ;
  flush() ;
  queue_msg_free(&m) ;
  queue_state_free(&st) ;
  stralloc_free(&dom) ;
}

int main (int argc, char const *const *argv)
{
  stralloc path = STRALLOC_ZERO, names = STRALLOC_ZERO ;
  genalloc ptrs = GENALLOC_ZERO ;
  route_ctx rc = ROUTE_CTX_ZERO ;
  char const *what ;
  int stats = 0, qfd, first = 1 ;
  size_t nmess, ntodo ;
  PROG = "queue-list" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "js", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'j' : json = 1 ; break ;
        case 's' : stats = 1 ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc) dieusage() ;
  if (!queue_path(&path)) dienomem() ;
  qfd = queue_open(path.s) ;
  if (qfd < 0) strerr_diefu2sys(111, "open the queue ", path.s) ;
  if (stats)
  {
    nmess = list(qfd, "mess", &names, &ptrs) ;
    ntodo = list(qfd, "todo", &names, &ptrs) ;
    if (json) { put("{\"messages\": ") ; putn(nmess + ntodo) ; put(", \"new\": ") ; putn(ntodo) ; put("}\n") ; }
    else { put("messages in queue: ") ; putn(nmess + ntodo) ; put("\nmessages in queue but not yet processed: ") ; putn(ntodo) ; put("\n") ; }
    flush() ;
    if (!buffer_flush(buffer_1)) strerr_diefu1sys(111, "write to stdout") ;
    return 0 ;
  }
  if (!route_init(&rc, &what)) strerr_diefu2sys(111, "read ", what) ;
  if (json) put("[") ;
  for (unsigned int k = 0 ; k < 2 ; k++)
  {
    char const *dir = k ? "todo" : "mess" ;
    size_t n = list(qfd, dir, &names, &ptrs) ;
    for (size_t i = 0 ; i < n ; i++) show(qfd, &rc, dir, genalloc_s(char const *, &ptrs)[i], &first) ;
  }
  if (json) put(first ? "]\n" : "\n]\n") ;
  flush() ;
  if (!buffer_flush(buffer_1)) strerr_diefu1sys(111, "write to stdout") ;
  return 0 ;
}
