#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <skalibs/djbunix.h>
#include <skalibs/random.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "addrset.h"
#include "atomic.h"
#include "listdir.h"

static size_t trimmed (char const *s, size_t len)
{
  while (len && (s[len-1] == ' ' || s[len-1] == '\t' || s[len-1] == '\r')) len-- ;
  return len ;
}

int list_readline (stralloc *sa, char const *name)
{
  int r = 1 ;
  sa->len = 0 ;
  if (!openslurpclose(sa, name))
  {
    if (errno != ENOENT) return -1 ;
    r = 0 ;
  }
  {
    char *nl = sa->len ? memchr(sa->s, '\n', sa->len) : 0 ;
    sa->len = trimmed(sa->s, nl ? (size_t)(nl - sa->s) : sa->len) ;
  }
  return stralloc_0(sa) ? r : -1 ;
}

int list_readnum (char const *name, uint64_t *n)
{
  stralloc sa = STRALLOC_ZERO ;
  int r = list_readline(&sa, name) ;
  *n = 0 ;
  if (r < 0) { stralloc_free(&sa) ; return 0 ; }
  if (r && sa.s[0] && sa.s[uint64_scan(sa.s, n)]) { stralloc_free(&sa) ; errno = EINVAL ; return 0 ; }
  stralloc_free(&sa) ;
  return 1 ;
}

int list_writenum (char const *name, uint64_t n)
{
  char fmt[UINT64_FMT + 1] ;
  size_t len = uint64_fmt(fmt, n) ;
  fmt[len++] = '\n' ;
  return atomic_write(name, fmt, len, 0600) ;
}

int list_lock (char const *name)
{
  int fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600) ;
  if (fd < 0) return -1 ;
  while (flock(fd, LOCK_EX) < 0)
    if (errno != EINTR) { int e = errno ; close(fd) ; errno = e ; return -1 ; }
  return fd ;
}

static int flag (char const *name)
{
  return access(name, F_OK) == 0 ;
}

int list_open (list *l, char const **what)
{
  stralloc sa = STRALLOC_ZERO ;
  uint64_t n ;
  char *at ;
  int r ;
  *what = "address" ;
  r = list_readline(&l->address, "address") ;
  if (r < 0) goto err ;
  at = strrchr(l->address.s, '@') ;
  if (!r || !at || at == l->address.s || !at[1]) { errno = r ? EINVAL : ENOENT ; goto err ; }
  l->local.len = l->host.len = 0 ;
  if (!stralloc_catb(&l->local, l->address.s, at - l->address.s) || !stralloc_0(&l->local)
   || !stralloc_cats(&l->host, at + 1) || !stralloc_0(&l->host)) goto err ;
  *what = "key" ;
  l->key.len = 0 ;
  if (!openslurpclose(&l->key, "key")) goto err ;
  if (l->key.len < 16) { errno = EINVAL ; goto err ; }
  *what = "prefix" ;
  if (list_readline(&l->prefix, "prefix") < 0) goto err ;
  *what = "owner" ;
  if (list_readline(&l->owner, "owner") < 0) goto err ;
  *what = "headerremove" ;
  l->remove.len = 0 ;
  if (!openslurpclose(&sa, "headerremove") && errno != ENOENT) goto err ;
  for (size_t i = 0 ; i < sa.len ; )
  {
    char *nl = memchr(sa.s + i, '\n', sa.len - i) ;
    size_t end = nl ? (size_t)(nl - sa.s) : sa.len ;
    size_t k = i, e = trimmed(sa.s + i, end - i) + i ;
    while (k < e && (sa.s[k] == ' ' || sa.s[k] == '\t')) k++ ;
    if (k < e && sa.s[k] != '#')
    {
      for (size_t j = k ; j < e ; j++) if (sa.s[j] >= 'A' && sa.s[j] <= 'Z') sa.s[j] += 32 ;
      if (e > k && sa.s[e-1] == ':') e-- ;
      if (!stralloc_catb(&l->remove, sa.s + k, e - k) || !stralloc_0(&l->remove)) goto err ;
    }
    i = end + 1 ;
  }
  *what = "dmarc" ;
  if (list_readline(&sa, "dmarc") < 0) goto err ;
  if (!sa.s[0] || !strcmp(sa.s, "off")) l->dmarc = LIST_DMARC_OFF ;
  else if (!strcmp(sa.s, "reject")) l->dmarc = LIST_DMARC_REJECT ;
  else if (!strcmp(sa.s, "quarantine")) l->dmarc = LIST_DMARC_QUARANTINE ;
  else { errno = EINVAL ; goto err ; }
  *what = "digest" ;
  if (!list_readnum("digest", &n) || n > 1000000) { if (!errno) errno = EINVAL ; goto err ; }
  l->digest = n ;
  *what = "bouncelimit" ;
  if (!list_readnum("bouncelimit", &n) || n > 1000) { if (!errno) errno = EINVAL ; goto err ; }
  l->bouncelimit = n ? n : 3 ;
  l->flags = (flag("archived") ? LIST_ARCHIVED : 0) | (flag("public") ? LIST_PUBLIC : 0)
    | (flag("modpost") ? LIST_MODPOST : 0) | (flag("modsub") ? LIST_MODSUB : 0)
    | (flag("subonly") ? LIST_SUBONLY : 0) ;
  stralloc_free(&sa) ;
  return 1 ;
 err:
  {
    int e = errno ;
    stralloc_free(&sa) ;
    errno = e ;
  }
  return 0 ;
}

int list_addr (list const *l, stralloc *sa, char const *suffix)
{
  return stralloc_cats(sa, l->local.s) && stralloc_catb(sa, "-", 1) && stralloc_cats(sa, suffix)
    && stralloc_catb(sa, "@", 1) && stralloc_cats(sa, l->host.s) && stralloc_0(sa) ;
}

int list_encode (stralloc *sa, char const *addr)
{
  char const *at = strrchr(addr, '@') ;
  if (!at) return stralloc_cats(sa, addr) ;
  return stralloc_catb(sa, addr, at - addr) && stralloc_catb(sa, "=", 1) && stralloc_cats(sa, at + 1) ;
}

int list_decode (stralloc *sa, char const *s)
{
  size_t n = strlen(s) ;
  char const *eq = strrchr(s, '=') ;
  char tmp[n + 1] ;
  if (!eq) return 0 ;
  memcpy(tmp, s, n + 1) ;
  tmp[eq - s] = '@' ;
  return addrset_norm(sa, tmp, n) ;
}

int list_random (stralloc *sa, size_t n)
{
  static char const set[] = "abcdefghijklmnopqrstuvwxyz0123456789" ;
  unsigned char r[n] ;
  if (!stralloc_readyplus(sa, n)) return 0 ;
  random_buf((char *)r, n) ;
  for (size_t i = 0 ; i < n ; i++) sa->s[sa->len + i] = set[r[i] % 36] ;
  sa->len += n ;
  return 1 ;
}

/* ---- texts ------------------------------------------------------------------------------ */

typedef struct text_s text ;
struct text_s
{
  char const *name ;
  char const *body ;
} ;

#define HOWTO \
  "To post to the list, write to <#L#>.\n" \
  "To leave it, write to <#l#>-unsubscribe@<#h#>.\n" \
  "For help, write to <#l#>-help@<#h#>.\n"

static text const texts[] =
{
  { "help",
    "Subject: Help for <#L#>\n\n"
    "This is the list manager of <#L#>. It answers mail sent to these\n"
    "addresses (what the message says does not matter):\n\n"
    "  to subscribe:                     <#l#>-subscribe@<#h#>\n"
    "  to unsubscribe:                   <#l#>-unsubscribe@<#h#>\n"
    "  to get the digest instead:        <#l#>-digest-subscribe@<#h#>\n"
    "  to stop the digest:               <#l#>-digest-unsubscribe@<#h#>\n"
    "  to get post 12 from the archive:  <#l#>-get.12@<#h#>\n"
    "  to get posts 12 to 20:            <#l#>-get.12_20@<#h#>\n"
    "  to get the list of the last posts: <#l#>-index@<#h#>\n"
    "  this help:                        <#l#>-help@<#h#>\n\n"
    "Each subscription and unsubscription is confirmed: a message comes back to\n"
    "the address concerned, and a reply to it confirms.\n\n"
    "To post to the list, write to <#L#>.\n" },
  { "sub-confirm",
    "Subject: Confirm your subscription to <#L#>\n\n"
    "Someone, probably you, asked to subscribe\n\n    <#A#>\n\nto the mailing list <#L#>.\n\n"
    "To confirm, reply to this message, or write to\n\n    <#R#>\n\n"
    "If you did not ask for this, do nothing: you will not be subscribed, and this\n"
    "request expires in three days.\n" },
  { "unsub-confirm",
    "Subject: Confirm that you leave <#L#>\n\n"
    "Someone, probably you, asked to unsubscribe\n\n    <#A#>\n\nfrom the mailing list <#L#>.\n\n"
    "To confirm, reply to this message, or write to\n\n    <#R#>\n\n"
    "If you did not ask for this, do nothing: you stay subscribed, and this request\n"
    "expires in three days.\n" },
  { "sub-ok",
    "Subject: Welcome to <#L#>\n\n"
    "<#A#> is now subscribed to <#L#>.\n\n" HOWTO },
  { "unsub-ok",
    "Subject: Goodbye from <#L#>\n\n"
    "<#A#> is no longer subscribed to <#L#>. No more posts will be sent to it.\n\n"
    "To come back, write to <#l#>-subscribe@<#h#>.\n" },
  { "sub-nop",
    "Subject: You are subscribed to <#L#> already\n\n"
    "<#A#> was subscribed to <#L#> already: nothing changed.\n\n" HOWTO },
  { "unsub-nop",
    "Subject: You were not subscribed to <#L#>\n\n"
    "<#A#> was not subscribed to <#L#>: nothing changed.\n"
    "If you still get posts, look at the Delivered-To: and Received: lines of one to\n"
    "find the address they are sent to, and unsubscribe that one.\n" },
  { "bad-cookie",
    "Subject: Your request to <#L#> failed\n\n"
    "The confirmation address you wrote to is not valid: it was changed, it has\n"
    "expired, or it has been used already. Nothing changed.\n\n"
    "To start again, write to <#l#>-subscribe@<#h#>\n"
    "or to <#l#>-unsubscribe@<#h#>.\n" },
  { "mod-sub",
    "Subject: Approve the subscription of <#A#> to <#L#>\n\n"
    "<#A#> asked to join <#L#> and confirmed the request.\n\n"
    "To let it in, reply to this message, or write to\n\n    <#R#>\n\n"
    "To refuse, do nothing: the request expires in three days.\n" },
  { "mod-sub-wait",
    "Subject: Your subscription to <#L#> waits for a moderator\n\n"
    "<#A#> asked to join <#L#> and confirmed it. The list is moderated: a\n"
    "moderator decides now, and a welcome message comes if you are let in.\n" },
  { "mod-post",
    "Subject: Moderate a post to <#L#> from <#A#>\n\n"
    "The post attached, from <#A#>, waits for a moderator of <#L#>.\n\n"
    "To send it to the list, reply to this message, or write to\n\n    <#R#>\n\n"
    "To reject it, write to\n\n    <#X#>\n\n"
    "If nobody decides, it expires in five days.\n" },
  { "mod-reject",
    "Subject: Your post to <#L#> was not accepted\n\n"
    "A moderator of <#L#> rejected the post you sent to the list; it was not\n"
    "sent to the subscribers.\n" },
  { "mod-gone",
    "Subject: Moderation of <#L#>: nothing done\n\n"
    "The post was accepted or rejected already, or it has expired, or the address\n"
    "you wrote to is not valid. Nothing was done.\n" },
  { "get-bad",
    "Subject: Nothing from the archive of <#L#>\n\n"
    "Nothing was sent: the posts you asked for are not in the archive, or the\n"
    "archive of <#L#> is open to its subscribers only, or the request was\n"
    "malformed. Write to <#l#>-get.12@<#h#> for post 12, to <#l#>-get.12_20@<#h#>\n"
    "for posts 12 to 20 (at most 100 at once), to <#l#>-index@<#h#> for the list\n"
    "of the last posts.\n" },
  { "get",
    "Subject: Posts from the archive of <#L#>\n\n"
    "The posts you asked for from the archive of <#L#> follow, one part each.\n" },
  { "index",
    "Subject: Index of the archive of <#L#>\n\n"
    "The posts of <#L#>, by number. Write to <#l#>-get.N@<#h#> for post N.\n\n" },
  { "digest",
    "Subject: Digest of <#L#>\n\n"
    "The posts of <#L#> since the last digest follow, one part each.\n" HOWTO },
  { "probe",
    "Subject: Is <#A#> still reading <#L#>?\n\n"
    "Messages sent by <#L#> to <#A#> have been bouncing.\n"
    "This message is a test: if it bounces too, <#A#> will be removed from the\n"
    "list. If you read this, nothing needs to be done.\n" },
  { 0, 0 }
} ;

char const *list_text_name (unsigned int i)
{
  return i < sizeof texts / sizeof *texts ? texts[i].name : 0 ;
}

char const *list_text_builtin (char const *name)
{
  for (text const *t = texts ; t->name ; t++) if (!strcmp(t->name, name)) return t->body ;
  return 0 ;
}

int list_text (list const *l, stralloc *sa, char const *name, list_tags const *t)
{
  stralloc src = STRALLOC_ZERO ;
  size_t n = strlen(name) ;
  char path[n + 6] ;
  memcpy(path, "text/", 5) ; memcpy(path + 5, name, n + 1) ;
  if (!openslurpclose(&src, path))
  {
    char const *b = list_text_builtin(name) ;
    if (errno != ENOENT || !b) { stralloc_free(&src) ; if (!b) errno = ENOENT ; return 0 ; }
    if (!stralloc_cats(&src, b)) return 0 ;
  }
  for (size_t i = 0 ; i < src.len ; i++)
  {
    char const *v = 0 ;
    if (src.s[i] == '<' && i + 4 < src.len && src.s[i+1] == '#' && src.s[i+3] == '#' && src.s[i+4] == '>')
    {
      switch (src.s[i+2])
      {
        case 'L' : v = l->address.s ; break ;
        case 'l' : v = l->local.s ; break ;
        case 'h' : v = l->host.s ; break ;
        case 'A' : v = t && t->a ? t->a : "" ; break ;
        case 'R' : v = t && t->r ? t->r : "" ; break ;
        case 'X' : v = t && t->x ? t->x : "" ; break ;
      }
    }
    if (v) { if (!stralloc_cats(sa, v)) goto nomem ; i += 4 ; }
    else if (!stralloc_catb(sa, src.s + i, 1)) goto nomem ;
  }
  stralloc_free(&src) ;
  return 1 ;
 nomem:
  stralloc_free(&src) ;
  return 0 ;
}
