#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/types.h>
#include "control.h"
#include "date822.h"
#include "queue.h"

int queue_path (stralloc *path)
{
  path->len = 0 ;
  return stralloc_cats(path, control_root()) && stralloc_cats(path, "/queue") && stralloc_0(path) ;
}

int queue_open (char const *path)
{
  return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
}

int queue_id_valid (char const *id)
{
  unsigned int dots = 0, digits = 0 ;
  size_t i = 0 ;
  for (; id[i] ; i++)
  {
    if (id[i] == '.')
    {
      if (!digits || ++dots > 2) return 0 ;
      digits = 0 ;
    }
    else if (id[i] >= '0' && id[i] <= '9') { if (++digits > 20) return 0 ; }
    else return 0 ;
  }
  return dots == 2 && digits && i < QUEUE_IDMAX ;
}

uint64_t queue_id_time (char const *id)
{
  uint64_t t ;
  size_t n ;
  if (!queue_id_valid(id)) return 0 ;
  n = uint64_scan(id, &t) ;
  return n ? t : 0 ;
}

/* ---- envelopes ------------------------------------------------------------------------- */

int queue_envelope_check (char const *env, size_t len, size_t *nrcpt)
{
  size_t i = 0, n = 0 ;
  if (len > QUEUE_ENVMAX) return QUEUE_TOOLONG ;
  for (;;)
  {
    char const *z ;
    size_t alen ;
    if (i >= len) return QUEUE_BADENV ;                  /* no terminating empty record */
    if (!env[i])
    {
      if (i + 1 != len || !n) return QUEUE_BADENV ;     /* bytes after the end, or no recipient */
      *nrcpt = n - 1 ;
      return n > 1 ? QUEUE_OK : QUEUE_BADENV ;
    }
    if (env[i] != (n ? 'T' : 'F')) return QUEUE_BADENV ;
    z = memchr(env + i, 0, len - i) ;
    if (!z) return QUEUE_BADENV ;
    alen = (size_t)(z - env) - i - 1 ;
    if (alen > QUEUE_ADDRMAX) return QUEUE_TOOLONG ;
    if (memchr(env + i + 1, '\n', alen) || memchr(env + i + 1, '\r', alen)) return QUEUE_BADENV ;
    if (n && !alen) return QUEUE_BADENV ;               /* an empty recipient */
    i += alen + 2 ;
    n++ ;
  }
}

/* ---- writing ----------------------------------------------------------------------------- */

/* the code for a failed create or write */
static int errcode (int e, int dflt)
{
  switch (e)
  {
    case ENOSPC : case EDQUOT : case EFBIG : case EIO : return QUEUE_WRITE ;
    case ENOMEM : return QUEUE_NOMEM ;
    default : return dflt ;
  }
}

static int wfail (queue_writer *w, int code)
{
  int e = errno ;
  if (w->fd >= 0)
  {
    close(w->fd) ;
    w->fd = -1 ;
    unlinkat(w->qfd, w->tmp, 0) ;
  }
  errno = e ;
  return code ;
}

static int wflush (queue_writer *w)
{
  if (w->len && allwrite(w->fd, w->buf, w->len) < w->len) return 0 ;
  w->len = 0 ;
  return 1 ;
}

static int wput (queue_writer *w, char const *s, size_t len)
{
  if (len > sizeof w->buf - w->len)
  {
    if (!wflush(w)) return 0 ;
    if (len >= sizeof w->buf) return allwrite(w->fd, s, len) == len ;
  }
  memcpy(w->buf + w->len, s, len) ;
  w->len += len ;
  return 1 ;
}

static int wputnum (queue_writer *w, char const *key, uint64_t u)
{
  char fmt[UINT64_FMT + 1] ;
  size_t n = uint64_fmt(fmt, u) ;
  fmt[n++] = '\n' ;
  return wput(w, key, strlen(key)) && wput(w, fmt, n) ;
}

int queue_write_begin (queue_writer *w, int qfd, char const *env, size_t envlen, uid_t uid, pid_t qp, char const *received)
{
  struct timespec ts ;
  struct stat st ;
  size_t nrcpt ;
  int r = queue_envelope_check(env, envlen, &nrcpt) ;
  w->qfd = qfd ; w->fd = -1 ; w->len = 0 ; w->bytes = 0 ; w->id[0] = 0 ;
  if (r) return r ;
  for (unsigned int tries = 0 ; ; tries++)
  {
    clock_gettime(CLOCK_REALTIME, &ts) ;
    snprintf(w->tmp, sizeof w->tmp, "tmp/%llu.%09ld.%lu", (unsigned long long)ts.tv_sec, ts.tv_nsec, (unsigned long)getpid()) ;
    w->fd = openat(qfd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600) ;
    if (w->fd >= 0) break ;
    if (errno != EEXIST || tries >= 5) return errcode(errno, QUEUE_DIR) ;
  }
  if (fstat(w->fd, &st) < 0) return wfail(w, QUEUE_WRITE) ;
  snprintf(w->id, sizeof w->id, "%llu.%06ld.%llu", (unsigned long long)ts.tv_sec, ts.tv_nsec / 1000, (unsigned long long)st.st_ino) ;
  if (!wput(w, QUEUE_VERSION "\n", sizeof QUEUE_VERSION)
   || !wputnum(w, "envelope ", envlen) || !wputnum(w, "uid ", uid) || !wputnum(w, "qp ", (uint64_t)qp)
   || !wput(w, "\n", 1) || !wput(w, env, envlen)
   || (received && !wput(w, received, strlen(received))))
    return wfail(w, errcode(errno, QUEUE_WRITE)) ;
  return QUEUE_OK ;
}

int queue_write_data (queue_writer *w, char const *s, size_t len)
{
  if (w->fd < 0) return QUEUE_BUG ;
  if (!wput(w, s, len)) return wfail(w, errcode(errno, QUEUE_WRITE)) ;
  w->bytes += len ;
  return QUEUE_OK ;
}

/* todo/, kept open: one fsync of it per message */
static int todo_fd = -1 ;
static int todo_qfd = -1 ;

int queue_write_commit (queue_writer *w)
{
  char name[5 + QUEUE_IDMAX] ;
  if (w->fd < 0) return QUEUE_BUG ;
  if (!wflush(w) || fsync(w->fd) < 0) return wfail(w, errcode(errno, QUEUE_WRITE)) ;
  if (close(w->fd) < 0) { w->fd = -1 ; unlinkat(w->qfd, w->tmp, 0) ; return errcode(errno, QUEUE_WRITE) ; }
  w->fd = -1 ;
  if (todo_fd < 0 || todo_qfd != w->qfd)
  {
    if (todo_fd >= 0) close(todo_fd) ;
    todo_fd = openat(w->qfd, "todo", O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
    todo_qfd = w->qfd ;
    if (todo_fd < 0) { int e = errno ; unlinkat(w->qfd, w->tmp, 0) ; errno = e ; return QUEUE_TODO ; }
  }
  memcpy(name, "todo/", 5) ;
  memcpy(name + 5, w->id, strlen(w->id) + 1) ;
  if (renameat(w->qfd, w->tmp, w->qfd, name) < 0)
  {
    int e = errno ;
    unlinkat(w->qfd, w->tmp, 0) ;
    errno = e ;
    return errcode(e, QUEUE_TODO) ;
  }
  if (fsync(todo_fd) < 0 && errno != EINVAL)
  {
    /* not known to be on disk: take it back if queue-run has not taken it yet; if it has,
       it will be delivered and the caller's retry makes a duplicate, never a loss */
    int e = errno ;
    unlinkat(w->qfd, name, 0) ;
    errno = e ;
    return QUEUE_WRITE ;
  }
  queue_trigger(w->qfd) ;
  return QUEUE_OK ;
}

void queue_write_abort (queue_writer *w)
{
  if (w->fd < 0) return ;
  close(w->fd) ;
  w->fd = -1 ;
  unlinkat(w->qfd, w->tmp, 0) ;
}

int queue_received_local (stralloc *sa, pid_t pid, uid_t uid)
{
  char fmt[UINT64_FMT] ;
  sa->len = 0 ;
  return stralloc_cats(sa, "Received: (sluice ")
    && stralloc_catb(sa, fmt, uint64_fmt(fmt, (uint64_t)pid))
    && stralloc_cats(sa, " invoked by uid ")
    && stralloc_catb(sa, fmt, uint64_fmt(fmt, (uint64_t)uid))
    && stralloc_cats(sa, "); ")
    && date822_cat(sa, time(0))
    && stralloc_catb(sa, "\n", 1) && stralloc_0(sa) && (sa->len--, 1) ;
}

static int trigger_fd = -1 ;
static int trigger_qfd = -1 ;

void queue_trigger (int qfd)
{
  for (unsigned int tries = 0 ; tries < 2 ; tries++)
  {
    if (trigger_fd < 0 || trigger_qfd != qfd)
    {
      if (trigger_fd >= 0) close(trigger_fd) ;
      trigger_fd = openat(qfd, "trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC) ;
      trigger_qfd = qfd ;
      if (trigger_fd < 0) return ;   /* ENXIO: nobody reads it */
    }
    if (write(trigger_fd, "", 1) == 1 || errno == EAGAIN) return ;   /* full: a wake-up is pending */
    /* EPIPE: the reader went away; it may be back, with a new descriptor */
    close(trigger_fd) ;
    trigger_fd = -1 ;
  }
}

/* ---- reading ----------------------------------------------------------------------------- */

/* "key value\n" at s[*i]: 1 with *u, or 0 */
static int header_num (char const *s, size_t len, size_t *i, char const *key, uint64_t *u)
{
  size_t k = strlen(key), n ;
  if (len - *i < k + 2 || memcmp(s + *i, key, k) || s[*i + k] != ' ') return 0 ;
  n = uint64_scan(s + *i + k + 1, u) ;
  if (!n || *i + k + 1 + n >= len || s[*i + k + 1 + n] != '\n') return 0 ;
  *i += k + 2 + n ;
  return 1 ;
}

static int bad (char const **why, char const *s) { *why = s ; return 0 ; }

int queue_msg_read (int fd, queue_msg *m, char const **why)
{
  char head[256] ;
  struct stat st ;
  uint64_t envlen, uid, qp ;
  size_t i = sizeof QUEUE_VERSION, nrcpt ;
  ssize_t r ;
  if (fstat(fd, &st) < 0) return -1 ;
  r = pread(fd, head, sizeof head, 0) ;
  if (r < 0) return -1 ;
  if ((size_t)r < sizeof QUEUE_VERSION || memcmp(head, QUEUE_VERSION "\n", sizeof QUEUE_VERSION))
    return bad(why, "not a sluice-queue 1 file") ;
  if (!header_num(head, r, &i, "envelope", &envlen) || !header_num(head, r, &i, "uid", &uid)
   || !header_num(head, r, &i, "qp", &qp) || i >= (size_t)r || head[i] != '\n')
    return bad(why, "bad header") ;
  i++ ;
  if (envlen > QUEUE_ENVMAX || i + envlen > (uint64_t)st.st_size) return bad(why, "truncated envelope") ;
  m->env.len = 0 ;
  if (!stralloc_ready(&m->env, envlen + 1)) return -1 ;
  r = pread(fd, m->env.s, envlen, i) ;
  if (r < 0) return -1 ;
  if ((uint64_t)r != envlen) return bad(why, "truncated envelope") ;
  m->env.len = envlen ;
  if (queue_envelope_check(m->env.s, m->env.len, &nrcpt)) return bad(why, "bad envelope") ;
  genalloc_setlen(char const *, &m->rcpts, 0) ;
  if (!genalloc_ready(char const *, &m->rcpts, nrcpt)) return -1 ;
  m->sender = m->env.s + 1 ;
  {
    size_t j = strlen(m->sender) + 2 ;
    for (size_t k = 0 ; k < nrcpt ; k++)
    {
      char const *a = m->env.s + j + 1 ;
      genalloc_s(char const *, &m->rcpts)[k] = a ;
      j += strlen(a) + 2 ;
    }
  }
  genalloc_setlen(char const *, &m->rcpts, nrcpt) ;
  m->nrcpt = nrcpt ;
  m->offset = i + envlen ;
  m->size = (uint64_t)st.st_size - m->offset ;
  m->uid = (uid_t)uid ;
  m->qp = qp ;
  return 1 ;
}

void queue_msg_free (queue_msg *m)
{
  stralloc_free(&m->env) ;
  genalloc_free(char const *, &m->rcpts) ;
  m->nrcpt = 0 ;
}

/* ---- delivery state ------------------------------------------------------------------------ */

static int info_name (char *name, char const *id)
{
  size_t n = strlen(id) ;
  if (n >= QUEUE_IDMAX) { errno = ENAMETOOLONG ; return 0 ; }
  memcpy(name, "info/", 5) ;
  memcpy(name + 5, id, n + 1) ;
  return 1 ;
}

/* the next space-separated number of s[*i..len): 1 or 0 */
static int field_num (char const *s, size_t len, size_t *i, uint64_t *u)
{
  size_t n ;
  if (*i >= len || s[*i] != ' ') return 0 ;
  n = uint64_scan(s + *i + 1, u) ;
  if (!n) return 0 ;
  *i += 1 + n ;
  return *i == len || s[*i] == ' ' ;
}

/* one line s[0..len) (no newline) into st: 1 applied, 0 malformed */
static int state_line (char const *s, size_t len, size_t nrcpt, queue_state *st)
{
  queue_rcptstate *rs ;
  uint64_t idx, when, next, tries, steps ;
  size_t i = 1 ;
  char kind = len ? s[0] : 0 ;
  if (kind == 'W') { if (!field_num(s, len, &i, &when)) return 0 ; st->warned = when ; return 1 ; }
  if (kind == 'B')
  {
    if (!field_num(s, len, &i, &when) || i >= len) return 0 ;
    i++ ;
    while (i < len)
    {
      size_t n = uint64_scan(s + i, &idx) ;
      if (!n) return 0 ;
      i += n ;
      if (idx < nrcpt) genalloc_s(queue_rcptstate, &st->rcpt)[idx].bounced = 1 ;
      if (i < len && s[i++] != ',') return 0 ;
    }
    return 1 ;
  }
  if (kind != 'D' && kind != 'F' && kind != 'Z') return 0 ;
  if (!field_num(s, len, &i, &idx) || !field_num(s, len, &i, &when) || idx >= nrcpt) return 0 ;
  rs = genalloc_s(queue_rcptstate, &st->rcpt) + idx ;
  if (kind == 'D')
  {
    if (i != len) return 0 ;
    rs->state = QUEUE_RCPT_DONE ; rs->when = when ; rs->text = 0 ;
    return 1 ;
  }
  if (kind == 'Z')
  {
    if (!field_num(s, len, &i, &next) || !field_num(s, len, &i, &tries) || !field_num(s, len, &i, &steps)) return 0 ;
    rs->next = next ; rs->tries = (uint32_t)tries ; rs->steps = (uint32_t)steps ;
  }
  else rs->bounced = 0 ;
  rs->state = kind == 'Z' ? QUEUE_RCPT_DEFERRED : QUEUE_RCPT_FAILED ;
  rs->when = when ;
  /* the rest is the reason (for F: status, then text) */
  if (i < len) i++ ;
  rs->text = st->text.len ;
  if (!stralloc_catb(&st->text, s + i, len - i) || !stralloc_0(&st->text)) return -1 ;
  return 1 ;
}

int queue_state_read (int qfd, char const *id, size_t nrcpt, queue_state *st, size_t *bad)
{
  char name[5 + QUEUE_IDMAX] ;
  stralloc sa = STRALLOC_ZERO ;
  size_t i = 0 ;
  int fd ;
  *bad = 0 ;
  st->warned = 0 ; st->lines = 0 ;
  st->text.len = 0 ;
  if (!stralloc_0(&st->text)) return -1 ;
  genalloc_setlen(queue_rcptstate, &st->rcpt, 0) ;
  if (!genalloc_ready(queue_rcptstate, &st->rcpt, nrcpt)) return -1 ;
  memset(genalloc_s(queue_rcptstate, &st->rcpt), 0, nrcpt * sizeof(queue_rcptstate)) ;
  genalloc_setlen(queue_rcptstate, &st->rcpt, nrcpt) ;
  if (!info_name(name, id)) return -1 ;
  fd = openat(qfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) ;
  if (fd < 0) return errno == ENOENT ? 1 : -1 ;
  for (;;)
  {
    ssize_t r ;
    if (!stralloc_readyplus(&sa, 8192)) { int e = errno ; close(fd) ; stralloc_free(&sa) ; errno = e ; return -1 ; }
    r = read(fd, sa.s + sa.len, 8192) ;
    if (r < 0) { if (errno == EINTR) continue ; { int e = errno ; close(fd) ; stralloc_free(&sa) ; errno = e ; } return -1 ; }
    if (!r) break ;
    sa.len += r ;
  }
  close(fd) ;
  while (i < sa.len)
  {
    char *nl = memchr(sa.s + i, '\n', sa.len - i) ;
    int r ;
    if (!nl) { (*bad)++ ; break ; }   /* the writer died mid-line */
    r = state_line(sa.s + i, (size_t)(nl - sa.s) - i, nrcpt, st) ;
    if (r < 0) { stralloc_free(&sa) ; return -1 ; }
    if (!r) (*bad)++ ;
    st->lines++ ;
    i = (size_t)(nl - sa.s) + 1 ;
  }
  stralloc_free(&sa) ;
  return 1 ;
}

char const *queue_state_text (queue_state const *st, size_t i)
{
  return st->text.s + genalloc_s(queue_rcptstate, &st->rcpt)[i].text ;
}

static int set_mtime (int fd, uint64_t next)
{
  struct timespec ts[2] = { { .tv_sec = 0, .tv_nsec = UTIME_OMIT }, { .tv_sec = (time_t)next, .tv_nsec = 0 } } ;
  return futimens(fd, ts) == 0 ;
}

int queue_state_append (int qfd, char const *id, char const *line, size_t len, uint64_t next)
{
  char name[5 + QUEUE_IDMAX] ;
  int fd, ok ;
  if (!info_name(name, id)) return 0 ;
  fd = openat(qfd, name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600) ;
  if (fd < 0) return 0 ;
  ok = allwrite(fd, line, len) == len && (!next || set_mtime(fd, next)) ;
  {
    int e = errno ;
    close(fd) ;
    errno = e ;
  }
  return ok ;
}

int queue_state_compact (int qfd, char const *id, queue_state const *st, uint64_t next)
{
  char name[5 + QUEUE_IDMAX], tmp[12 + QUEUE_IDMAX] ;
  stralloc sa = STRALLOC_ZERO ;
  size_t n = genalloc_len(queue_rcptstate, &st->rcpt) ;
  size_t nb = 0 ;
  int fd, ok = 0 ;
  if (!info_name(name, id)) return 0 ;
  snprintf(tmp, sizeof tmp, "info/.%s.tmp", id) ;
  for (size_t i = 0 ; i < n ; i++)
  {
    queue_rcptstate const *rs = genalloc_s(queue_rcptstate, &st->rcpt) + i ;
    char const *text = st->text.s + rs->text ;
    int r = 1 ;
    if (rs->state == QUEUE_RCPT_DONE) r = queue_line_done(&sa, i, rs->when) ;
    else if (rs->state == QUEUE_RCPT_FAILED)
    {
      /* the stored text is "status text": split it back */
      size_t k = strcspn(text, " ") ;
      char status[k + 1] ;
      memcpy(status, text, k) ; status[k] = 0 ;
      r = queue_line_failed(&sa, i, rs->when, status, text[k] ? text + k + 1 : "") ;
      if (rs->bounced) nb++ ;
    }
    else if (rs->state == QUEUE_RCPT_DEFERRED) r = queue_line_deferred(&sa, i, rs->when, rs->next, rs->tries, rs->steps, text) ;
    if (!r) goto end ;
  }
  if (nb)
  {
    size_t idx[nb], k = 0 ;
    for (size_t i = 0 ; i < n ; i++)
    {
      queue_rcptstate const *rs = genalloc_s(queue_rcptstate, &st->rcpt) + i ;
      if (rs->state == QUEUE_RCPT_FAILED && rs->bounced) idx[k++] = i ;
    }
    if (!queue_line_bounced(&sa, (uint64_t)time(0), idx, nb)) goto end ;
  }
  if (st->warned && !queue_line_warned(&sa, st->warned)) goto end ;
  fd = openat(qfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600) ;
  if (fd < 0) goto end ;
  if (allwrite(fd, sa.s, sa.len) < sa.len || (next && !set_mtime(fd, next)))
  {
    int e = errno ; close(fd) ; unlinkat(qfd, tmp, 0) ; errno = e ; goto end ;
  }
  close(fd) ;
  if (renameat(qfd, tmp, qfd, name) < 0) { int e = errno ; unlinkat(qfd, tmp, 0) ; errno = e ; goto end ; }
  ok = 1 ;
 end:
  {
    int e = errno ;
    stralloc_free(&sa) ;
    errno = e ;
  }
  return ok ;
}

void queue_state_free (queue_state *st)
{
  genalloc_free(queue_rcptstate, &st->rcpt) ;
  stralloc_free(&st->text) ;
}

/* ---- log lines ------------------------------------------------------------------------------ */

static int catnum (stralloc *sa, char const *pre, uint64_t u)
{
  char fmt[UINT64_FMT] ;
  return stralloc_cats(sa, pre) && stralloc_catb(sa, fmt, uint64_fmt(fmt, u)) ;
}

static int cattext (stralloc *sa, char const *s)
{
  size_t from = sa->len ;
  if (!stralloc_cats(sa, s)) return 0 ;
  for (size_t i = from ; i < sa->len ; i++)
    if ((unsigned char)sa->s[i] < 0x20 || sa->s[i] == 0x7f) sa->s[i] = '_' ;
  return 1 ;
}

int queue_line_done (stralloc *sa, size_t i, uint64_t when)
{
  return catnum(sa, "D ", i) && catnum(sa, " ", when) && stralloc_catb(sa, "\n", 1) ;
}

int queue_line_failed (stralloc *sa, size_t i, uint64_t when, char const *status, char const *text)
{
  return catnum(sa, "F ", i) && catnum(sa, " ", when) && stralloc_catb(sa, " ", 1)
    && cattext(sa, *status ? status : "5.0.0") && stralloc_catb(sa, " ", 1) && cattext(sa, text)
    && stralloc_catb(sa, "\n", 1) ;
}

int queue_line_deferred (stralloc *sa, size_t i, uint64_t when, uint64_t next, uint32_t tries, uint32_t steps, char const *text)
{
  return catnum(sa, "Z ", i) && catnum(sa, " ", when) && catnum(sa, " ", next) && catnum(sa, " ", tries)
    && catnum(sa, " ", steps) && stralloc_catb(sa, " ", 1) && cattext(sa, text) && stralloc_catb(sa, "\n", 1) ;
}

int queue_line_bounced (stralloc *sa, uint64_t when, size_t const *idx, size_t n)
{
  if (!catnum(sa, "B ", when) || !stralloc_catb(sa, " ", 1)) return 0 ;
  for (size_t k = 0 ; k < n ; k++)
    if (!catnum(sa, k ? "," : "", idx[k])) return 0 ;
  return stralloc_catb(sa, "\n", 1) ;
}

int queue_line_warned (stralloc *sa, uint64_t when)
{
  return catnum(sa, "W ", when) && stralloc_catb(sa, "\n", 1) ;
}

int queue_envelope_read (int fd, stralloc *env)
{
  size_t rec = 0 ;   /* where the record being read starts */
  for (;;)
  {
    ssize_t r ;
    while (rec < env->len)
    {
      char *z ;
      if (!env->s[rec]) { env->len = rec + 1 ; return QUEUE_OK ; }
      z = memchr(env->s + rec, 0, env->len - rec) ;
      if (!z) break ;
      rec = (size_t)(z - env->s) + 1 ;
    }
    if (env->len > QUEUE_ENVMAX) return QUEUE_TOOLONG ;
    if (!stralloc_readyplus(env, 4096)) return QUEUE_NOMEM ;
    r = read(fd, env->s + env->len, 4096) ;
    if (r < 0) { if (errno == EINTR) continue ; return QUEUE_READ ; }
    if (!r) return QUEUE_BADENV ;    /* no terminating empty record */
    env->len += r ;
  }
}
