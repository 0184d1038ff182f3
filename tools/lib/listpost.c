#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/genalloc.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "addrlist.h"
#include "addrset.h"
#include "atomic.h"
#include "dmarc.h"
#include "listcookie.h"
#include "listdir.h"
#include "listset.h"
#include "listmsg.h"
#include "listpost.h"
#include "qqueue.h"

/* fields a post never keeps: the list sets its own */
static char const *const listfields[] =
{
  "list-id", "list-post", "list-help", "list-subscribe", "list-unsubscribe",
  "list-unsubscribe-post", "list-archive", "list-owner", "precedence", 0
} ;

/* the fields a post keeps in a digest or an archive reply */
static char const *const digestfields[] =
{
  "date", "from", "to", "cc", "subject", "message-id", "in-reply-to", "references", "reply-to",
  "mime-version", "content-type", "content-transfer-encoding", "content-disposition", 0
} ;

static int seterr (stralloc *why, char const *a, char const *b, char const *c)
{
  why->len = 0 ;
  if (!stralloc_cats(why, a) || (b && !stralloc_cats(why, b)) || (c && !stralloc_cats(why, c))) why->len = 0 ;
  stralloc_0(why) ;
  return 0 ;
}

static int syserr (stralloc *why, char const *what)
{
  return seterr(why, "unable to ", what, strerror(errno)), 111 ;
}

/* a set that could not be read: with the database's reason when the list keeps it in SQL */
static int seterr_set (stralloc *why, char const *what)
{
  int e = errno ;
  if (!*listset_why()) return syserr(why, what) ;
  seterr(why, "unable to ", what, listset_why()) ;
  why->len-- ;
  if (!stralloc_cats(why, ": ") || !stralloc_cats(why, strerror(e)) || !stralloc_0(why)) why->len = 0 ;
  return 111 ;
}

/* the value v[0..n) equals s, blanks around it ignored, any case */
static int value_is (char const *v, size_t n, char const *s)
{
  size_t k = strlen(s) ;
  while (n && (*v == ' ' || *v == '\t')) { v++ ; n-- ; }
  while (n && (v[n-1] == ' ' || v[n-1] == '\t' || v[n-1] == '\r' || v[n-1] == '\n')) n-- ;
  return n == k && !strncasecmp(v, s, k) ;
}

/* v[0..n) contains s, any case */
static int value_has (char const *v, size_t n, char const *s)
{
  size_t k = strlen(s) ;
  for (size_t i = 0 ; i + k <= n ; i++) if (!strncasecmp(v + i, s, k)) return 1 ;
  return 0 ;
}

static int poster (char const *sender)
{
  stralloc a = STRALLOC_ZERO ;
  char const *const sets[] = { LIST_SUBSCRIBERS, LIST_DIGESTS, LIST_ALLOW, 0 } ;
  int r = addrset_norm(&a, sender, strlen(sender)) ;
  if (r <= 0) { stralloc_free(&a) ; return r ; }
  for (unsigned int i = 0 ; sets[i] ; i++)
  {
    r = listset_has(sets[i], a.s) ;
    if (r) break ;
  }
  stralloc_free(&a) ;
  return r ;
}

int listpost_decide (list const *l, char const *hdr, genalloc const *fields, char const *sender, char const **why)
{
  size_t n = genalloc_len(listmsg_field, fields) ;
  stralloc id = STRALLOC_ZERO ;
  int r ;
  if (!stralloc_catb(&id, "<", 1) || !stralloc_cats(&id, l->local.s) || !stralloc_catb(&id, ".", 1)
   || !stralloc_cats(&id, l->host.s) || !stralloc_catb(&id, ">", 1) || !stralloc_0(&id)) return -1 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    listmsg_field const *f = genalloc_s(listmsg_field, fields) + i ;
    char const *v ;
    size_t vn ;
    listmsg_value(hdr, f, &v, &vn) ;
    if (listmsg_is(hdr, f, "List-Id") && value_has(v, vn, id.s))
    {
      stralloc_free(&id) ;
      *why = "this message is looping: it has my List-Id (#5.4.6)" ;
      return LISTPOST_REFUSE ;
    }
    if (listmsg_is(hdr, f, "Delivered-To") && value_is(v, vn, l->address.s))
    {
      stralloc_free(&id) ;
      *why = "this message is looping: it has my Delivered-To line (#5.4.6)" ;
      return LISTPOST_REFUSE ;
    }
  }
  stralloc_free(&id) ;
  if (!*sender || !strcmp(sender, "#@[]"))
  {
    *why = "this list takes no bounces: a message without a sender (#5.7.1)" ;
    return LISTPOST_REFUSE ;
  }
  if (!(l->flags & (LIST_SUBONLY | LIST_MODPOST))) return LISTPOST_SEND ;
  r = l->flags & LIST_SUBONLY ? poster(sender) : 0 ;
  if (r < 0) return -1 ;
  if (r) return LISTPOST_SEND ;
  if (l->flags & LIST_MODPOST) return LISTPOST_HOLD ;
  *why = "only subscribers may post to this list (#5.7.2)" ;
  return LISTPOST_REFUSE ;
}

int listpost_archpath (stralloc *sa, uint64_t n)
{
  char fmt[UINT64_FMT] ;
  char mm[2] = { '0' + (char)(n % 100 / 10), '0' + (char)(n % 10) } ;
  sa->len = 0 ;
  return stralloc_cats(sa, "archive/") && stralloc_catb(sa, fmt, uint64_fmt(fmt, n / 100))
    && stralloc_catb(sa, "/", 1) && stralloc_catb(sa, mm, 2) && stralloc_0(sa) ;
}

/* ---- the header the subscribers see ------------------------------------------------------ */

static int removed (list const *l, char const *hdr, listmsg_field const *f, int modified)
{
  for (unsigned int i = 0 ; listfields[i] ; i++) if (listmsg_is(hdr, f, listfields[i])) return 1 ;
  for (size_t i = 0 ; i < l->remove.len ; i += strlen(l->remove.s + i) + 1)
    if (listmsg_is(hdr, f, l->remove.s + i)) return 1 ;
  /* a changed Subject or From breaks the author's DKIM signature: no use sending it */
  return modified && listmsg_is(hdr, f, "DKIM-Signature") ;
}

/* "Subject: " prefix (its # the number) and the subject without an earlier prefix */
static int subject (stralloc *out, char const *prefix, uint64_t num, char const *v, size_t n)
{
  char fmt[UINT64_FMT] ;
  char const *hash = strchr(prefix, '#') ;
  size_t pre = hash ? (size_t)(hash - prefix) : strlen(prefix) ;
  size_t cut = n, cutlen = 0 ;
  /* an earlier prefix (a reply): its first occurrence goes, with the blank after it */
  if (pre)
    for (size_t i = 0 ; i + pre <= n && cut == n ; i++)
    {
      size_t k = i + pre ;
      if (strncasecmp(v + i, prefix, pre)) continue ;
      if (hash)
      {
        size_t post = strlen(hash + 1) ;
        while (k < n && v[k] >= '0' && v[k] <= '9') k++ ;
        if (k + post > n || strncasecmp(v + k, hash + 1, post)) continue ;
        k += post ;
      }
      while (k < n && v[k] == ' ') k++ ;
      cut = i ; cutlen = k - i ;
    }
  if (!stralloc_cats(out, "Subject: ")) return 0 ;
  if (hash)
  {
    if (!stralloc_catb(out, prefix, pre) || !stralloc_catb(out, fmt, uint64_fmt(fmt, num)) || !stralloc_cats(out, hash + 1)) return 0 ;
  }
  else if (!stralloc_cats(out, prefix)) return 0 ;
  if (n && !stralloc_catb(out, " ", 1)) return 0 ;
  if (cut < n)
    return stralloc_catb(out, v, cut) && stralloc_catb(out, v + cut + cutlen, n - cut - cutlen) && stralloc_catb(out, "\n", 1) ;
  return stralloc_catb(out, v, n) && stralloc_catb(out, "\n", 1) ;
}

/* does the author's domain want From: rewritten? 1 yes, 0 no (a DNS failure: yes, the safe
   way, with a warning in why) */
static int dmarc_strict (list const *l, char const *author, stralloc *warn)
{
  char const *dom = strrchr(author, '@') ;
  tain deadline ;
  int p ;
  if (!dom) return 0 ;
  tain_now_g() ;
  tain_addsec_g(&deadline, LISTPOST_DMARCTIMEOUT) ;
  p = dmarc_policy(dom + 1, &deadline) ;
  if (p < 0)
  {
    seterr(warn, "no DMARC policy found for ", dom + 1, ", From: rewritten: ") ;
    warn->len-- ;
    if (!stralloc_cats(warn, strerror(errno)) || !stralloc_0(warn)) warn->len = 0 ;
    return 1 ;
  }
  return l->dmarc == LIST_DMARC_REJECT ? p == DMARC_REJECT : p >= DMARC_QUARANTINE ;
}

/* the new header of the post into out */
static int newheader (list const *l, char const *hdr, genalloc const *fields, uint64_t num, char const *dtline, stralloc *out, stralloc *warn)
{
  size_t n = genalloc_len(listmsg_field, fields) ;
  long from = listmsg_find(hdr, fields, "From") ;
  stralloc author = STRALLOC_ZERO, name = STRALLOC_ZERO ;
  int rewrite = 0, sawsubject = 0, ok = 0 ;
  char const *fv = 0 ;
  size_t fn = 0 ;
  if (from >= 0) listmsg_value(hdr, genalloc_s(listmsg_field, fields) + from, &fv, &fn) ;
  if (l->dmarc != LIST_DMARC_OFF && from >= 0)
  {
    int r = listmsg_addr(fv, fn, &author, &name) ;
    if (r < 0) goto end ;
    if (r) rewrite = dmarc_strict(l, author.s, warn) ;
  }
  if (!stralloc_cats(out, dtline)) goto end ;
  for (size_t i = 0 ; i < n ; i++)
  {
    listmsg_field const *f = genalloc_s(listmsg_field, fields) + i ;
    char const *v ;
    size_t vn ;
    if (removed(l, hdr, f, rewrite || l->prefix.s[0])) continue ;
    listmsg_value(hdr, f, &v, &vn) ;
    if (l->prefix.s[0] && listmsg_is(hdr, f, "Subject") && !sawsubject)
    {
      sawsubject = 1 ;
      if (!subject(out, l->prefix.s, num, v, vn)) goto end ;
    }
    else if (rewrite && (long)i == from)
    {
      /* From: "Name via list" <list@host>; the author stays reachable by Reply-To */
      stralloc phrase = STRALLOC_ZERO ;
      int k ;
      if (!name.len && !stralloc_catb(&name, author.s, author.len - 1)) goto end ;
      k = stralloc_catb(&phrase, name.s, name.len) && stralloc_cats(&phrase, " via ") && stralloc_cats(&phrase, l->local.s)
        && stralloc_0(&phrase) && stralloc_cats(out, "From: ") && addrlist_phrase(out, phrase.s)
        && stralloc_cats(out, " <") && stralloc_cats(out, l->address.s) && stralloc_cats(out, ">\n") ;
      stralloc_free(&phrase) ;
      if (!k) goto end ;
      if (listmsg_find(hdr, fields, "Reply-To") < 0
       && (!stralloc_cats(out, "Reply-To: ") || !stralloc_catb(out, fv, fn) || !stralloc_catb(out, "\n", 1))) goto end ;
    }
    else if (!stralloc_catb(out, hdr + f->off, f->len)) goto end ;
  }
  if (l->prefix.s[0] && !sawsubject && !subject(out, l->prefix.s, num, "", 0)) goto end ;
  ok = listmsg_listfields(l, out, 1) && stralloc_catb(out, "\n", 1) ;
 end:
  stralloc_free(&author) ; stralloc_free(&name) ;
  return ok ;
}

/* copy from at off to its end into to. 1 or 0 (errno) */
static int copy_fd (int to, int from, off_t off)
{
  char buf[65536] ;
  for (;;)
  {
    ssize_t r = pread(from, buf, sizeof buf, off) ;
    if (r < 0) { if (errno == EINTR) continue ; return 0 ; }
    if (!r) return 1 ;
    if (allwrite(to, buf, r) < (size_t)r) return 0 ;
    off += r ;
  }
}

typedef struct post_s post ;
struct post_s
{
  stralloc const *head ;
  int fd ;
  off_t body ;
  int arch ;            /* the archive's file being written, or -1 */
  int archfail ;        /* errno of a failed archive write */
} ;

static int write_post (qqueue *q, void *ctx)
{
  post *p = ctx ;
  char buf[65536] ;
  off_t off = p->body ;
  if (!qqueue_write(q, p->head->s, p->head->len)) return -1 ;
  if (p->arch >= 0 && allwrite(p->arch, p->head->s, p->head->len) < p->head->len) p->archfail = errno ;
  for (;;)
  {
    ssize_t r = pread(p->fd, buf, sizeof buf, off) ;
    if (r < 0) { if (errno == EINTR) continue ; return 0 ; }
    if (!r) break ;
    if (!qqueue_write(q, buf, r)) return -1 ;
    if (p->arch >= 0 && !p->archfail && allwrite(p->arch, buf, r) < (size_t)r) p->archfail = errno ;
    off += r ;
  }
  p->arch = -1 ;    /* a second queue entry (a huge list) must not archive again */
  return 1 ;
}

/* archive/N/ for post num, and its file's temporary name into tmp: the descriptor or -1 */
static int archive_open (uint64_t num, stralloc *path, stralloc *tmp)
{
  if (!listpost_archpath(path, num)) return -1 ;
  if (mkdir("archive", 0700) < 0 && errno != EEXIST) return -1 ;
  {
    char dir[path->len] ;
    memcpy(dir, path->s, path->len) ;
    *strrchr(dir, '/') = 0 ;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) return -1 ;
  }
  tmp->len = 0 ;
  if (!stralloc_catb(tmp, path->s, path->len - 1) || !stralloc_cats(tmp, ".tmp") || !stralloc_0(tmp)) return -1 ;
  return open(tmp->s, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600) ;
}

int listpost_send (list *l, int fd, off_t start, char const *dtline, stralloc *why)
{
  stralloc hdr = STRALLOC_ZERO, head = STRALLOC_ZERO, rcpts = STRALLOC_ZERO, sender = STRALLOC_ZERO ;
  stralloc path = STRALLOC_ZERO, tmp = STRALLOC_ZERO, warn = STRALLOC_ZERO ;
  genalloc fields = GENALLOC_ZERO ;
  post p = { .head = &head, .fd = fd, .arch = -1, .archfail = 0 } ;
  uint64_t num ;
  int lock, code = 111, r ;
  char fmt[UINT64_FMT] ;

  lock = list_lock("lock") ;
  if (lock < 0) return syserr(why, "lock the list: ") ;
  if (!list_readnum("num", &num)) { code = syserr(why, "read num: ") ; goto end ; }
  r = listmsg_header(fd, start, &hdr, &p.body) ;
  if (r <= 0)
  {
    if (!r) { seterr(why, "the header of the message is longer than 1 MB (#5.3.4)", 0, 0) ; code = 100 ; }
    else code = syserr(why, "read the message: ") ;
    goto end ;
  }
  if (!listmsg_fields(hdr.s, hdr.len, &fields)) goto nomem ;
  if (!newheader(l, hdr.s, &fields, num + 1, dtline, &head, &warn)) goto nomem ;
  if (warn.len) { why->len = 0 ; if (!stralloc_catb(why, warn.s, warn.len)) goto nomem ; }
  if (!listset_cat(LIST_SUBSCRIBERS, &rcpts)) { code = seterr_set(why, "read the subscribers: ") ; goto end ; }
  if (l->flags & LIST_ARCHIVED)
  {
    p.arch = archive_open(num + 1, &path, &tmp) ;
    if (p.arch < 0) { code = syserr(why, "write the archive: ") ; goto end ; }
  }
  /* the number is taken before the post goes: a crash cannot give two posts one number */
  if (!list_writenum("num", num + 1)) { code = syserr(why, "write num: ") ; goto end ; }
  if (!stralloc_cats(&sender, l->local.s) || !stralloc_cats(&sender, "-return-")
   || !stralloc_catb(&sender, fmt, uint64_fmt(fmt, num + 1)) || !stralloc_cats(&sender, "-@")
   || !stralloc_cats(&sender, l->host.s) || !stralloc_0(&sender)) goto nomem ;
  {
    int archfd = p.arch ;
    if (rcpts.len) r = listmsg_queue(sender.s, rcpts.s, rcpts.len, &write_post, &p) ;
    else if (archfd >= 0)
      /* nobody to send it to: archived all the same */
      r = allwrite(archfd, head.s, head.len) == head.len && copy_fd(archfd, fd, p.body) ? 0 : -1 ;
    else r = 0 ;
    p.arch = archfd ;
  }
  if (r)
  {
    list_writenum("num", num) ;
    if (r == -2) code = syserr(why, "reach the queue: ") ;
    else if (r == -1) code = syserr(why, "read the message: ") ;
    else
    {
      code = qqueue_permanent(r) ? 100 : 111 ;
      seterr(why, "the queue refused the post: ", qqueue_strerror(r), 0) ;
    }
    goto end ;
  }
  code = 0 ;
  if (p.arch >= 0)
  {
    int e = p.archfail ;
    if (!e && !atomic_rename(p.arch, tmp.s, path.s)) e = errno ;
    else if (e) { close(p.arch) ; unlink(tmp.s) ; }
    p.arch = -1 ;
    /* the post is out: a failed archive is a warning, not a reason to send it again */
    if (e) { errno = e ; syserr(why, "archive the post (it was sent all the same): ") ; }
  }
  if (l->digest && (l->flags & LIST_ARCHIVED))
  {
    stralloc dwhy = STRALLOC_ZERO ;
    if (listpost_digest(l, 0, &dwhy) && !why->len) stralloc_copy(why, &dwhy) ;
    stralloc_free(&dwhy) ;
  }
  goto end ;
 nomem:
  code = 111 ;
  seterr(why, "out of memory", 0, 0) ;
 end:
  if (p.arch >= 0) { close(p.arch) ; unlink(tmp.s) ; }
  close(lock) ;
  stralloc_free(&hdr) ; stralloc_free(&head) ; stralloc_free(&rcpts) ; stralloc_free(&sender) ;
  stralloc_free(&path) ; stralloc_free(&tmp) ; stralloc_free(&warn) ;
  genalloc_free(listmsg_field, &fields) ;
  return code ;
}

/* ---- moderation -------------------------------------------------------------------------- */

typedef struct held_s held ;
struct held_s
{
  stralloc const *head ;    /* up to the attached post's part header */
  stralloc const *tail ;    /* after it */
  int fd ;
  off_t start ;
} ;

static int write_held (qqueue *q, void *ctx)
{
  held const *h = ctx ;
  int r ;
  if (!qqueue_write(q, h->head->s, h->head->len)) return -1 ;
  r = listmsg_copy(q, h->fd, h->start) ;
  if (r != 1) return r ;
  return qqueue_write(q, h->tail->s, h->tail->len) ? 1 : -1 ;
}

/* the address LOCAL-action-ID.COOKIE@HOST for a held post */
static int modaddr (list const *l, stralloc *sa, char const *action, char const *id, uint64_t now)
{
  char cookie[LISTCOOKIE_MAX + 1] ;
  listcookie_make(cookie, l->key.s, l->key.len, action, id, now) ;
  sa->len = 0 ;
  return stralloc_cats(sa, l->local.s) && stralloc_catb(sa, "-", 1) && stralloc_cats(sa, action)
    && stralloc_catb(sa, "-", 1) && stralloc_cats(sa, id) && stralloc_catb(sa, ".", 1)
    && stralloc_cats(sa, cookie) && stralloc_catb(sa, "@", 1) && stralloc_cats(sa, l->host.s) && stralloc_0(sa) ;
}

/* a boundary that no line of a message has by chance */
static int boundary (stralloc *sa)
{
  sa->len = 0 ;
  return stralloc_cats(sa, "sluice-list-") && list_random(sa, 24) && stralloc_0(sa) ;
}

int listpost_hold (list *l, int fd, off_t start, char const *sender, stralloc *why)
{
  stralloc id = STRALLOC_ZERO, path = STRALLOC_ZERO, tmp = STRALLOC_ZERO, mods = STRALLOC_ZERO ;
  stralloc acc = STRALLOC_ZERO, rej = STRALLOC_ZERO, text = STRALLOC_ZERO, head = STRALLOC_ZERO ;
  stralloc tail = STRALLOC_ZERO, bnd = STRALLOC_ZERO, ret = STRALLOC_ZERO ;
  struct timespec ts ;
  uint64_t n ;
  int code = 111, wfd = -1, kept = 0, r ;
  char fmt[UINT64_FMT] ;
  if (!listset_cat(LIST_MODERATORS, &mods)) { code = seterr_set(why, "read the moderators: ") ; goto end ; }
  if (!mods.len) { seterr(why, "the list is moderated and has no moderator: the post waits (#4.3.0)", 0, 0) ; goto end ; }
  if (mkdir("mod", 0700) < 0 && errno != EEXIST) { code = syserr(why, "make mod: ") ; goto end ; }
  clock_gettime(CLOCK_REALTIME, &ts) ;
  n = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000 ;
  for (;;)
  {
    id.len = 0 ; tmp.len = 0 ;
    if (!stralloc_catb(&id, fmt, uint64_fmt(fmt, n)) || !stralloc_0(&id)
     || !stralloc_cats(&tmp, "mod/") || !stralloc_cats(&tmp, id.s) || !stralloc_cats(&tmp, ".tmp") || !stralloc_0(&tmp)) goto nomem ;
    path.len = 0 ;
    if (!stralloc_cats(&path, "mod/") || !stralloc_cats(&path, id.s) || !stralloc_0(&path)) goto nomem ;
    if (access(path.s, F_OK) < 0 && errno == ENOENT)
    {
      wfd = open(tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600) ;
      if (wfd >= 0) break ;
      if (errno != EEXIST) { code = syserr(why, "keep the post in mod/: ") ; goto end ; }
    }
    n++ ;
  }
  /* mod/ID: the envelope sender on the first line, then the post */
  if (allwrite(wfd, sender, strlen(sender)) < strlen(sender) || allwrite(wfd, "\n", 1) < 1 || !copy_fd(wfd, fd, start))
  {
    code = syserr(why, "keep the post in mod/: ") ;
    close(wfd) ; unlink(tmp.s) ;
    goto end ;
  }
  if (!atomic_rename(wfd, tmp.s, path.s)) { code = syserr(why, "keep the post in mod/: ") ; goto end ; }
  kept = 1 ;
  if (!modaddr(l, &acc, "accept", id.s, ts.tv_sec) || !modaddr(l, &rej, "reject", id.s, ts.tv_sec)) goto nomem ;
  {
    list_tags t = { .a = sender, .r = acc.s, .x = rej.s } ;
    size_t hlen, body ;
    stralloc to = STRALLOC_ZERO ;
    if (!list_text(l, &text, "mod-post", &t)) { code = syserr(why, "read text/mod-post: ") ; goto end ; }
    listmsg_textsplit(&text, &hlen, &body) ;
    r = stralloc_cats(&to, l->local.s) && stralloc_cats(&to, " moderators:;") && stralloc_0(&to)
      && boundary(&bnd)
      && listmsg_head(l, &head, to.s, acc.s, "auto-generated") && stralloc_catb(&head, text.s, hlen)
      && stralloc_cats(&head, "Content-Type: multipart/mixed; boundary=\"") && stralloc_cats(&head, bnd.s)
      && stralloc_cats(&head, "\"\n\n--") && stralloc_cats(&head, bnd.s)
      && stralloc_cats(&head, "\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
      && stralloc_catb(&head, text.s + body, text.len - body)
      && stralloc_cats(&head, "\n--") && stralloc_cats(&head, bnd.s)
      && stralloc_cats(&head, "\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n")
      && stralloc_cats(&tail, "\n--") && stralloc_cats(&tail, bnd.s) && stralloc_cats(&tail, "--\n")
      && list_addr(l, &ret, "return-") ;
    stralloc_free(&to) ;
    if (!r) goto nomem ;
  }
  {
    held h = { .head = &head, .tail = &tail, .fd = fd, .start = start } ;
    r = listmsg_queue(ret.s, mods.s, mods.len, &write_held, &h) ;
  }
  if (r)
  {
    if (r == -2) code = syserr(why, "reach the queue: ") ;
    else if (r == -1) code = syserr(why, "read the message: ") ;
    else seterr(why, "the queue refused the moderation request: ", qqueue_strerror(r), 0) ;
    goto end ;
  }
  code = 0 ;
  goto end ;
 nomem:
  seterr(why, "out of memory", 0, 0) ;
 end:
  /* a request that did not go: the post goes back to the queue (111), not kept twice */
  if (code && kept) unlink(path.s) ;
  stralloc_free(&id) ; stralloc_free(&path) ; stralloc_free(&tmp) ; stralloc_free(&mods) ;
  stralloc_free(&acc) ; stralloc_free(&rej) ; stralloc_free(&text) ; stralloc_free(&head) ;
  stralloc_free(&tail) ; stralloc_free(&bnd) ; stralloc_free(&ret) ;
  return code ;
}

/* ---- from the archive: digests, retrievals, the index ------------------------------------ */

typedef struct digest_s digest ;
struct digest_s
{
  stralloc head ;       /* the message up to the first post's part */
  stralloc bnd ;
  genalloc nums ;       /* uint64_t: the posts found */
} ;
#define DIGEST_ZERO { .head = STRALLOC_ZERO, .bnd = STRALLOC_ZERO, .nums = GENALLOC_ZERO }

static void digest_free (digest *d)
{
  stralloc_free(&d->head) ; stralloc_free(&d->bnd) ; genalloc_free(uint64_t, &d->nums) ;
}

/* a value on one line: folds taken out */
static int unfolded (stralloc *sa, char const *v, size_t n)
{
  for (size_t i = 0 ; i < n ; i++)
  {
    if (v[i] == '\r') continue ;
    if (v[i] == '\n') { while (i + 1 < n && (v[i+1] == ' ' || v[i+1] == '\t')) i++ ; if (!stralloc_catb(sa, " ", 1)) return 0 ; continue ; }
    if (!stralloc_catb(sa, v + i, 1)) return 0 ;
  }
  return 1 ;
}

static int fieldline (stralloc *sa, char const *hdr, genalloc const *fields, char const *name, char const *none)
{
  long i = listmsg_find(hdr, fields, name) ;
  char const *v ;
  size_t n ;
  if (i < 0) return stralloc_cats(sa, none) ;
  listmsg_value(hdr, genalloc_s(listmsg_field, fields) + i, &v, &n) ;
  return unfolded(sa, v, n) ;
}

/* the posts of [from, to] in the archive, and their index lines appended to toc: 1, or 0
   (errno) */
static int collect (uint64_t from, uint64_t to, genalloc *nums, stralloc *toc)
{
  stralloc path = STRALLOC_ZERO, hdr = STRALLOC_ZERO ;
  genalloc fields = GENALLOC_ZERO ;
  int ok = 0 ;
  for (uint64_t n = from ; n <= to ; n++)
  {
    char fmt[UINT64_FMT] ;
    off_t body ;
    int fd, r ;
    if (!listpost_archpath(&path, n)) goto end ;
    fd = open(path.s, O_RDONLY | O_CLOEXEC) ;
    if (fd < 0) { if (errno == ENOENT) continue ; goto end ; }
    r = listmsg_header(fd, 0, &hdr, &body) ;
    close(fd) ;
    if (r < 0) goto end ;
    genalloc_setlen(listmsg_field, &fields, 0) ;
    if (!listmsg_fields(hdr.s, hdr.len, &fields) || !genalloc_catb(uint64_t, nums, &n, 1)) goto end ;
    if (!stralloc_catb(toc, fmt, uint64_fmt(fmt, n)) || !stralloc_cats(toc, ": ")
     || !fieldline(toc, hdr.s, &fields, "Subject", "(no subject)") || !stralloc_cats(toc, "\n    ")
     || !fieldline(toc, hdr.s, &fields, "From", "(no author)") || !stralloc_cats(toc, ", ")
     || !fieldline(toc, hdr.s, &fields, "Date", "(no date)") || !stralloc_catb(toc, "\n", 1)) goto end ;
  }
  ok = 1 ;
 end:
  {
    int e = errno ;
    stralloc_free(&path) ; stralloc_free(&hdr) ; genalloc_free(listmsg_field, &fields) ;
    errno = e ;
  }
  return ok ;
}

/* "from to to" (or one number) */
static int range (stralloc *sa, uint64_t from, uint64_t to)
{
  char fmt[UINT64_FMT] ;
  sa->len = 0 ;
  if (!stralloc_catb(sa, fmt, uint64_fmt(fmt, from))) return 0 ;
  if (to != from && (!stralloc_cats(sa, " to ") || !stralloc_catb(sa, fmt, uint64_fmt(fmt, to)))) return 0 ;
  return stralloc_0(sa) ;
}

/* the message up to the first post: the text, then the index of the posts */
static int digest_head (list const *l, digest *d, char const *textname, char const *rng, char const *rcpt, char const *autosub, stralloc const *toc)
{
  stralloc text = STRALLOC_ZERO ;
  list_tags t = { .a = rng } ;
  size_t hlen, body ;
  int ok ;
  if (!list_text(l, &text, textname, &t)) return 0 ;
  listmsg_textsplit(&text, &hlen, &body) ;
  ok = boundary(&d->bnd)
    && listmsg_head(l, &d->head, rcpt, 0, autosub) && stralloc_catb(&d->head, text.s, hlen)
    && stralloc_cats(&d->head, "Content-Type: multipart/digest; boundary=\"") && stralloc_cats(&d->head, d->bnd.s)
    && stralloc_cats(&d->head, "\"\n\n--") && stralloc_cats(&d->head, d->bnd.s)
    && stralloc_cats(&d->head, "\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
    && stralloc_catb(&d->head, text.s + body, text.len - body) && stralloc_catb(&d->head, "\n", 1)
    && stralloc_catb(&d->head, toc->s, toc->len) ;
  stralloc_free(&text) ;
  return ok ;
}

static int kept_in_digest (char const *hdr, listmsg_field const *f)
{
  for (unsigned int i = 0 ; digestfields[i] ; i++) if (listmsg_is(hdr, f, digestfields[i])) return 1 ;
  return 0 ;
}

/* each post as a part: its main fields, its body */
static int write_digest (qqueue *q, void *ctx)
{
  digest *d = ctx ;
  stralloc path = STRALLOC_ZERO, hdr = STRALLOC_ZERO, part = STRALLOC_ZERO ;
  genalloc fields = GENALLOC_ZERO ;
  int ok = 0 ;
  if (!qqueue_write(q, d->head.s, d->head.len)) { ok = -1 ; goto end ; }
  for (size_t i = 0 ; i < genalloc_len(uint64_t, &d->nums) ; i++)
  {
    off_t body ;
    struct stat st ;
    char last = '\n' ;
    int fd, r ;
    if (!listpost_archpath(&path, genalloc_s(uint64_t, &d->nums)[i])) goto end ;
    fd = open(path.s, O_RDONLY | O_CLOEXEC) ;
    if (fd < 0) { if (errno == ENOENT) continue ; goto end ; }
    genalloc_setlen(listmsg_field, &fields, 0) ;
    part.len = 0 ;
    if (listmsg_header(fd, 0, &hdr, &body) < 0 || fstat(fd, &st) < 0
     || !listmsg_fields(hdr.s, hdr.len, &fields)) { close(fd) ; goto end ; }
    if (st.st_size > body && pread(fd, &last, 1, st.st_size - 1) != 1) { close(fd) ; goto end ; }
    if (!stralloc_cats(&part, "\n--") || !stralloc_cats(&part, d->bnd.s) || !stralloc_cats(&part, "\n\n")) { close(fd) ; goto end ; }
    for (size_t k = 0 ; k < genalloc_len(listmsg_field, &fields) ; k++)
    {
      listmsg_field const *f = genalloc_s(listmsg_field, &fields) + k ;
      if (kept_in_digest(hdr.s, f) && !stralloc_catb(&part, hdr.s + f->off, f->len)) { close(fd) ; goto end ; }
    }
    if (!stralloc_catb(&part, "\n", 1) || !qqueue_write(q, part.s, part.len)) { close(fd) ; ok = -1 ; goto end ; }
    r = listmsg_copy(q, fd, body) ;
    close(fd) ;
    if (r != 1) { ok = r ; goto end ; }
    if (last != '\n' && !qqueue_write(q, "\n", 1)) { ok = -1 ; goto end ; }
  }
  part.len = 0 ;
  if (!stralloc_cats(&part, "\n--") || !stralloc_cats(&part, d->bnd.s) || !stralloc_cats(&part, "--\n")) goto end ;
  ok = qqueue_write(q, part.s, part.len) ? 1 : -1 ;
 end:
  {
    int e = errno ;
    stralloc_free(&path) ; stralloc_free(&hdr) ; stralloc_free(&part) ; genalloc_free(listmsg_field, &fields) ;
    errno = e ;
  }
  return ok ;
}

static int queue_result (int r, stralloc *why, char const *what)
{
  if (!r) return 0 ;
  if (r == -2) return syserr(why, "reach the queue: ") ;
  if (r == -1) { seterr(why, "unable to ", what, ": ") ; why->len-- ; if (!stralloc_cats(why, strerror(errno)) || !stralloc_0(why)) why->len = 0 ; return 111 ; }
  seterr(why, "the queue refused ", what, ": ") ;
  why->len-- ;
  if (!stralloc_cats(why, qqueue_strerror(r)) || !stralloc_0(why)) why->len = 0 ;
  return 111 ;
}

int listpost_digest (list *l, int force, stralloc *why)
{
  stralloc rcpts = STRALLOC_ZERO, ret = STRALLOC_ZERO, toc = STRALLOC_ZERO, rng = STRALLOC_ZERO ;
  uint64_t num, last ;
  int code = 111 ;
  if (!list_readnum("num", &num) || !list_readnum("digestnum", &last)) return syserr(why, "read the numbers: ") ;
  if (num <= last || (!force && num - last < l->digest)) return 0 ;
  if (!listset_cat(LIST_DIGESTS, &rcpts)) return seterr_set(why, "read the digest's subscribers: ") ;
  if (!list_addr(l, &ret, "return-")) goto nomem ;
  while (last < num)
  {
    digest d = DIGEST_ZERO ;
    uint64_t to = num - last > LIST_GETMAX ? last + LIST_GETMAX : num ;
    int r = 0 ;
    toc.len = 0 ;
    if (rcpts.len)
    {
      if (!collect(last + 1, to, &d.nums, &toc)) { digest_free(&d) ; code = syserr(why, "read the archive: ") ; goto end ; }
      if (genalloc_len(uint64_t, &d.nums))
      {
        if (!range(&rng, last + 1, to) || !digest_head(l, &d, "digest", rng.s, 0, "auto-generated", &toc)) { digest_free(&d) ; goto nomem ; }
        r = listmsg_queue(ret.s, rcpts.s, rcpts.len, &write_digest, &d) ;
      }
    }
    digest_free(&d) ;
    if (r) { code = queue_result(r, why, "the digest") ; goto end ; }
    if (!list_writenum("digestnum", to)) { code = syserr(why, "write digestnum: ") ; goto end ; }
    last = to ;
  }
  code = 0 ;
  goto end ;
 nomem:
  seterr(why, "out of memory", 0, 0) ;
 end:
  stralloc_free(&rcpts) ; stralloc_free(&ret) ; stralloc_free(&toc) ; stralloc_free(&rng) ;
  return code ;
}

int listpost_get (list *l, char const *rcpt, uint64_t from, uint64_t to, int index, stralloc *why)
{
  digest d = DIGEST_ZERO ;
  stralloc toc = STRALLOC_ZERO, rng = STRALLOC_ZERO, ret = STRALLOC_ZERO, r1 = STRALLOC_ZERO ;
  int result = -1, r ;
  if (to - from >= LIST_GETMAX) to = from + LIST_GETMAX - 1 ;
  if (!collect(from, to, &d.nums, &toc)) { syserr(why, "read the archive: ") ; goto end ; }
  if (!genalloc_len(uint64_t, &d.nums)) { result = 0 ; goto end ; }
  if (!range(&rng, from, to) || !list_addr(l, &ret, "return-") || !qqueue_envelope_add(&r1, 'T', rcpt)) goto nomem ;
  if (index)
  {
    stralloc msg = STRALLOC_ZERO ;
    list_tags t = { .a = rng.s } ;
    if (!listmsg_textmsg(l, &msg, "index", &t, rcpt, 0) || !stralloc_catb(&msg, toc.s, toc.len)) { stralloc_free(&msg) ; goto nomem ; }
    r = listmsg_send(ret.s, rcpt, msg.s, msg.len) ;
    stralloc_free(&msg) ;
  }
  else
  {
    if (!digest_head(l, &d, "get", rng.s, rcpt, "auto-replied", &toc)) goto nomem ;
    r = listmsg_queue(ret.s, r1.s, r1.len, &write_digest, &d) ;
  }
  result = queue_result(r, why, "the answer") ? -1 : 1 ;
  goto end ;
 nomem:
  seterr(why, "out of memory", 0, 0) ;
 end:
  digest_free(&d) ;
  stralloc_free(&toc) ; stralloc_free(&rng) ; stralloc_free(&ret) ; stralloc_free(&r1) ;
  return result ;
}
