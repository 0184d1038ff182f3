/* list-manage: everything about a mailing list but its posts. From the command line it makes
   a list (its directory and the .qmail files that route to it), adds, removes and lists
   subscribers, moderators and the addresses allowed to post, sends the digest, cleans up.
   As the |list-manage line of the list's .qmail-default file, it answers LIST-EXT@HOST by
   $DEFAULT: subscriptions with their confirmations (HMAC cookies), moderation, the archive,
   and the bounces that come back to LIST-return-. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/buffer.h>
#include <skalibs/djbunix.h>
#include <skalibs/genalloc.h>
#include <skalibs/random.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "addrset.h"
#include "atomic.h"
#include "dotqmail.h"
#include "listcookie.h"
#include "listdir.h"
#include "listset.h"
#include "listmsg.h"
#include "listpost.h"
#include "qqueue.h"
#include "userdb.h"

#define USAGE "list-manage [ command [ options ] ] dir [ args... ]"
#define dieusage() strerr_dieusage(100, USAGE)
#define dienomem() strerr_diefu1sys(111, "allocate memory")

#define BOUNCEMAX 1048576       /* bytes of a bounce read for its failed recipients */
#define CLEANEVERY 3600         /* seconds between two clean-ups in passing */

static list l = LIST_ZERO ;
static char const *listdir ;

static void open_list (void)
{
  char const *what ;
  if (chdir(listdir) < 0) strerr_diefu2sys(111, "switch to the list directory ", listdir) ;
  if (!list_open(&l, &what)) strerr_diefu4sys(111, "read the list's settings in ", listdir, "/", what) ;
}

/* as root: become the owner of path (a list runs as the user its .qmail files belong to) */
static void become_owner (char const *path)
{
  struct stat st ;
  if (geteuid()) return ;
  if (stat(path, &st) < 0) strerr_diefu2sys(111, "stat ", path) ;
  if (!st.st_uid || !st.st_gid)
    strerr_dief3x(100, path, " belongs to root: a list runs as the owner of its directory", " and of its .qmail files, never as root") ;
  if (setgroups(0, 0) < 0 || setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0)
    strerr_diefu2sys(111, "become the owner of ", path) ;
}

static void info (char const *what, char const *addr)
{
  strerr_warni4x(l.address.s, ": ", what, addr) ;
}

/* a set that cannot be read or changed: 111, with the database's reason when in SQL */
static void die_set (char const *what, char const *set)
{
  char const *why = listset_why() ;
  strerr_diefu4sys(111, what, set, *why ? ": " : "", why) ;
}

/* ---- the sets ----------------------------------------------------------------------------- */

static char const *set_named (int opt)
{
  switch (opt)
  {
    case 'd' : return LIST_DIGESTS ;
    case 'm' : return LIST_MODERATORS ;
    case 'a' : return LIST_ALLOW ;
    default : return LIST_SUBSCRIBERS ;
  }
}

static int print_addr (char const *addr, void *ctx)
{
  (void)ctx ;
  return buffer_puts(buffer_1, addr) >= 0 && buffer_put(buffer_1, "\n", 1) >= 0 ;
}

static int count_addr (char const *addr, void *ctx)
{
  (void)addr ;
  (*(size_t *)ctx)++ ;
  return 1 ;
}

/* the addresses of argv, or of the lines of stdin, normalised into sa; a bad one: die 100 */
static void read_addrs (stralloc *sa, char const *const *argv, int argc)
{
  if (argc)
  {
    for (int i = 0 ; i < argc ; i++)
    {
      int r = addrset_norm(sa, argv[i], strlen(argv[i])) ;
      if (r < 0) dienomem() ;
      if (!r) strerr_dief2x(100, "not an address a list can keep: ", argv[i]) ;
    }
    return ;
  }
  {
    stralloc in = STRALLOC_ZERO ;
    unsigned int lineno = 0 ;
    size_t i = 0 ;
    if (!slurp(&in, 0)) strerr_diefu1sys(111, "read the standard input") ;
    while (i < in.len)
    {
      char *nl = memchr(in.s + i, '\n', in.len - i) ;
      size_t end = nl ? (size_t)(nl - in.s) : in.len, a = i, b ;
      lineno++ ;
      b = end ;
      while (a < b && (in.s[a] == ' ' || in.s[a] == '\t')) a++ ;
      while (b > a && (in.s[b-1] == ' ' || in.s[b-1] == '\t' || in.s[b-1] == '\r')) b-- ;
      if (a < b && in.s[a] != '#')
      {
        int r = addrset_norm(sa, in.s + a, b - a) ;
        if (r < 0) dienomem() ;
        if (!r)
        {
          char fmt[UINT_FMT] ;
          fmt[uint_fmt(fmt, lineno)] = 0 ;
          in.s[b] = 0 ;
          strerr_dief4x(100, "standard input line ", fmt, ": not an address a list can keep: ", in.s + a) ;
        }
      }
      i = end + 1 ;
    }
    stralloc_free(&in) ;
  }
}

static int cmd_set (int argc, char const *const *argv, int what)
{
  char const *set = LIST_SUBSCRIBERS ;
  int countonly = 0 ;
  subgetopt o = SUBGETOPT_ZERO ;
  for (;;)
  {
    int opt = subgetopt_r(argc, argv, what == 'l' ? "dmac" : "dma", &o) ;
    if (opt == -1) break ;
    switch (opt)
    {
      case 'd' : case 'm' : case 'a' : set = set_named(opt) ; break ;
      case 'c' : countonly = 1 ; break ;
      default : dieusage() ;
    }
  }
  argc -= o.ind ; argv += o.ind ;
  if (argc < 1 || (what == 'l' && argc != 1)) dieusage() ;
  listdir = argv[0] ;
  become_owner(listdir) ;
  open_list() ;
  if (what == 'l')
  {
    size_t n = 0 ;
    int r = listset_each(set, countonly ? &count_addr : &print_addr, &n) ;
    if (r < 0) die_set("read ", set) ;
    if (countonly)
    {
      char fmt[SIZE_FMT] ;
      if (buffer_put(buffer_1, fmt, size_fmt(fmt, n)) < 0 || buffer_put(buffer_1, "\n", 1) < 0) r = 0 ;
    }
    if (!r || !buffer_flush(buffer_1)) strerr_diefu1sys(111, "write to the standard output") ;
    return 0 ;
  }
  {
    stralloc sa = STRALLOC_ZERO ;
    size_t changed ;
    read_addrs(&sa, argv + 1, argc - 1) ;
    if (sa.len && !listset_change(set, what == 's', sa.s, sa.len, &changed)) die_set("change ", set) ;
    stralloc_free(&sa) ;
  }
  return 0 ;
}

/* ---- make ----------------------------------------------------------------------------------- */

static char const default_remove[] =
  "# header fields taken out of every post (one name a line); list-manage make -e writes this\n"
  "# file again. The List-* fields and Precedence go anyway; DKIM-Signature goes when the\n"
  "# list changes the Subject or the From of a post.\n"
  "return-path\nreturn-receipt-to\ndisposition-notification-to\ncontent-length\n"
  "x-confirm-reading-to\nx-pmrqc\n" ;

/* the directory of this program, where list-expand is too */
static void bindir (stralloc *sa)
{
  char self[4096] ;
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1) ;
  char *slash ;
  if (n <= 0 || (size_t)n >= sizeof self - 1) strerr_diefu1sys(111, "find where list-manage is installed") ;
  self[n] = 0 ;
  slash = strrchr(self, '/') ;
  if (!slash) strerr_dief1x(111, "unable to find where list-manage is installed") ;
  *slash = 0 ;
  if (!stralloc_cats(sa, *self ? self : "/") || !stralloc_0(sa)) dienomem() ;
}

static void absolute (stralloc *sa, char const *path)
{
  sa->len = 0 ;
  if (path[0] != '/')
  {
    char cwd[4096] ;
    if (!getcwd(cwd, sizeof cwd)) strerr_diefu1sys(111, "find the current directory") ;
    if (!stralloc_cats(sa, cwd) || !stralloc_catb(sa, "/", 1)) dienomem() ;
  }
  if (!stralloc_cats(sa, path) || !stralloc_0(sa)) dienomem() ;
}

static void writefile (char const *name, char const *s, unsigned int mode)
{
  if (!atomic_write(name, s, strlen(s), mode)) strerr_diefu2sys(111, "write ", name) ;
}

static void setflag (char const *name, int on)
{
  if (on) writefile(name, "", 0600) ;
  else if (unlink(name) < 0 && errno != ENOENT) strerr_diefu2sys(111, "remove ", name) ;
}

static void setline (char const *name, char const *value)
{
  if (!value) { setflag(name, 0) ; return ; }
  {
    size_t n = strlen(value) ;
    char s[n + 2] ;
    memcpy(s, value, n) ; s[n] = '\n' ; s[n + 1] = 0 ;
    writefile(name, s, 0600) ;
  }
}

/* the .qmail prefix of list@domain: -q, else the home of the user of the users database */
static void find_dot (stralloc *dot, char const *local, char const *domain)
{
  userdb db = USERDB_ZERO ;
  userdb_user u = USERDB_USER_ZERO ;
  int r ;
  if (!userdb_open(&db, 0)) strerr_diefu1sys(111, "open the users database") ;
  r = userdb_lookup_user(&db, local, domain, &u) ;
  if (r < 0) strerr_diefu1sys(111, "read the users database") ;
  if (!r || !u.home[0])
    strerr_dief5x(100, "no mailbox user ", local, "@", domain, " in the users database: make one (mail-user adduser), or give the prefix of the .qmail files with -q") ;
  dot->len = 0 ;
  if (!stralloc_cats(dot, u.home) || !stralloc_cats(dot, "/.qmail") || !stralloc_0(dot)) dienomem() ;
  userdb_user_free(&u) ;
  userdb_close(&db) ;
}

static void dotqmail_write (char const *dot, char const *suffix, char const *content)
{
  stralloc name = STRALLOC_ZERO ;
  if (!stralloc_cats(&name, dot) || !stralloc_cats(&name, suffix) || !stralloc_0(&name)) dienomem() ;
  if (!atomic_write(name.s, content, strlen(content), 0600)) strerr_diefu2sys(111, "write ", name.s) ;
  stralloc_free(&name) ;
}

static int cmd_make (int argc, char const *const *argv)
{
  stralloc addr = STRALLOC_ZERO, dot = STRALLOC_ZERO, dir = STRALLOC_ZERO, bin = STRALLOC_ZERO ;
  stralloc remove = STRALLOC_ZERO, line = STRALLOC_ZERO, owner = STRALLOC_ZERO ;
  char const *prefix = 0, *dmarc = 0, *digest = 0, *bounces = 0, *dotarg = 0, *sqlsock = 0 ;
  int archived = 1, public = 0, modpost = 0, modsub = 0, subonly = 0, edit = 0 ;
  unsigned int u ;
  subgetopt o = SUBGETOPT_ZERO ;
  if (!stralloc_cats(&remove, default_remove)) dienomem() ;
  for (;;)
  {
    int opt = subgetopt_r(argc, argv, "Apmsueb:d:f:r:D:o:q:S:", &o) ;
    if (opt == -1) break ;
    switch (opt)
    {
      case 'A' : archived = 0 ; break ;
      case 'p' : public = 1 ; break ;
      case 'm' : modpost = 1 ; break ;
      case 's' : modsub = 1 ; break ;
      case 'u' : subonly = 1 ; break ;
      case 'e' : edit = 1 ; break ;
      case 'b' : if (!uint0_scan(o.arg, &u) || !u || u > 1000) dieusage() ; bounces = o.arg ; break ;
      case 'd' : if (!uint0_scan(o.arg, &u) || !u || u > 1000000) dieusage() ; digest = o.arg ; break ;
      case 'f' :
        if (!*o.arg || strchr(o.arg, '\n') || strlen(o.arg) > 100) strerr_dief1x(100, "-f: a prefix is one line of at most 100 bytes") ;
        prefix = o.arg ; break ;
      case 'r' :
        for (char const *s = o.arg ; *s ; s++)
          if (*s <= 32 || *s >= 127 || *s == ':') strerr_dief2x(100, "-r: not a header field name: ", o.arg) ;
        if (!*o.arg || !stralloc_cats(&remove, o.arg) || !stralloc_catb(&remove, "\n", 1)) dieusage() ;
        break ;
      case 'D' :
        if (strcmp(o.arg, "reject") && strcmp(o.arg, "quarantine")) strerr_dief2x(100, "-D: reject or quarantine, not ", o.arg) ;
        dmarc = o.arg ; break ;
      case 'o' :
      {
        int r = addrset_norm(&owner, o.arg, strlen(o.arg)) ;
        if (r < 0) dienomem() ;
        if (!r) strerr_dief2x(100, "-o: not an address: ", o.arg) ;
        break ;
      }
      case 'q' : dotarg = o.arg ; break ;
      case 'S' :
        if (o.arg[0] != '/' || strchr(o.arg, '\n') || strlen(o.arg) > 107) strerr_dief2x(100, "-S: the absolute path of userdb-mysqld's socket, not ", o.arg) ;
        sqlsock = o.arg ; break ;
      default : dieusage() ;
    }
  }
  argc -= o.ind ; argv += o.ind ;
  if (argc != 2) dieusage() ;
  if (digest && !archived) strerr_dief1x(100, "a digest is made from the archive: -d and -A do not go together") ;
  {
    int r = addrset_norm(&addr, argv[1], strlen(argv[1])) ;
    char *at ;
    if (r < 0) dienomem() ;
    if (!r) strerr_dief2x(100, "not a list address: ", argv[1]) ;
    at = strrchr(addr.s, '@') ;
    if (strchr(addr.s, '=') || at - addr.s > 40)
      strerr_dief2x(100, "a list's local part has no '=' and at most 40 bytes (its addresses get longer): ", argv[1]) ;
    *at = 0 ;
    if (dotarg) absolute(&dot, dotarg) ;
    else find_dot(&dot, addr.s, at + 1) ;
    *at = '@' ;
  }
  absolute(&dir, argv[0]) ;
  bindir(&bin) ;
  {
    /* the files belong to the owner of the directory the .qmail files are in */
    char d[dot.len] ;
    memcpy(d, dot.s, dot.len) ;
    *strrchr(d, '/') = 0 ;
    become_owner(*d ? d : "/") ;
  }
  umask(077) ;
  /* the sets in SQL: the table made (when missing) before anything is written, as the owner
     that will change them, so that a daemon that is not there or refuses stops here */
  if (sqlsock && !listset_init(sqlsock))
    strerr_diefu4sys(111, "make the table of the lists' sets through ", sqlsock, *listset_why() ? ": " : "", listset_why()) ;
  if (edit)
  {
    if (chdir(dir.s) < 0) strerr_diefu2sys(111, "switch to the list directory ", dir.s) ;
    if (list_readline(&line, "address") <= 0) strerr_dief3x(100, dir.s, " is not a list directory", " (no address file): make it without -e") ;
    if (strcmp(line.s, addr.s)) strerr_dief4x(100, "the list in ", dir.s, " is ", line.s) ;
  }
  else
  {
    char key[32], hex[65] ;
    if (mkdir(dir.s, 0700) < 0)
    {
      if (errno == EEXIST) strerr_dief3x(100, dir.s, " exists already", ": to change a list, use -e") ;
      strerr_diefu2sys(111, "make ", dir.s) ;
    }
    if (chdir(dir.s) < 0) strerr_diefu2sys(111, "switch to the list directory ", dir.s) ;
    random_buf(key, sizeof key) ;
    for (unsigned int i = 0 ; i < 32 ; i++)
    {
      hex[2*i] = "0123456789abcdef"[(unsigned char)key[i] >> 4] ;
      hex[2*i + 1] = "0123456789abcdef"[key[i] & 15] ;
    }
    hex[64] = 0 ;
    writefile("key", hex, 0600) ;
    writefile("num", "0\n", 0600) ;
    setline("address", addr.s) ;
  }
  setflag("archived", archived) ;
  setflag("public", public) ;
  setflag("modpost", modpost) ;
  setflag("modsub", modsub) ;
  setflag("subonly", subonly) ;
  setline("digest", digest) ;
  setline("bouncelimit", bounces) ;
  setline("prefix", prefix) ;
  setline("dmarc", dmarc) ;
  setline("owner", owner.len ? owner.s : 0) ;
  setline("dot", dot.s) ;
  if (sqlsock) setline(LIST_SQL, sqlsock) ;
  if (!stralloc_0(&remove)) dienomem() ;
  writefile("headerremove", remove.s, 0600) ;
  if (mkdir("text", 0700) < 0 && errno != EEXIST) strerr_diefu1sys(111, "make text") ;
  for (unsigned int i = 0 ; list_text_name(i) ; i++)
  {
    char const *name = list_text_name(i) ;
    size_t n = strlen(name) ;
    char path[n + 6] ;
    memcpy(path, "text/", 5) ; memcpy(path + 5, name, n + 1) ;
    if (access(path, F_OK) < 0) writefile(path, list_text_builtin(name), 0600) ;
  }
  /* the .qmail files: the list's address posts, every other address is list-manage's */
  line.len = 0 ;
  if (!stralloc_catb(&line, "|", 1) || !stralloc_cats(&line, bin.s) || !stralloc_cats(&line, "/list-expand ")
   || !stralloc_cats(&line, dir.s) || !stralloc_cats(&line, "\n") || !stralloc_0(&line)) dienomem() ;
  dotqmail_write(dot.s, "", line.s) ;
  line.len = 0 ;
  if (!stralloc_catb(&line, "|", 1) || !stralloc_cats(&line, bin.s) || !stralloc_cats(&line, "/list-manage ")
   || !stralloc_cats(&line, dir.s) || !stralloc_cats(&line, "\n") || !stralloc_0(&line)) dienomem() ;
  dotqmail_write(dot.s, "-default", line.s) ;
  if (owner.len)
  {
    line.len = 0 ;
    if (!stralloc_catb(&line, "&", 1) || !stralloc_cats(&line, owner.s) || !stralloc_catb(&line, "\n", 1) || !stralloc_0(&line)) dienomem() ;
    dotqmail_write(dot.s, "-owner", line.s) ;
  }
  return 0 ;
}

/* ---- clean-up --------------------------------------------------------------------------- */

/* remove the files of dir whose age (by f) is past life */
static void expire (char const *dir, uint64_t now, uint64_t life, int bynamestamp)
{
  DIR *d = opendir(dir) ;
  if (!d) return ;
  for (;;)
  {
    struct dirent *de = readdir(d) ;
    size_t dl = strlen(dir) ;
    struct stat st ;
    uint64_t t ;
    if (!de) break ;
    if (de->d_name[0] == '.' || !strcmp(de->d_name, "lock")) continue ;
    {
      char path[dl + strlen(de->d_name) + 2] ;
      memcpy(path, dir, dl) ; path[dl] = '/' ; strcpy(path + dl + 1, de->d_name) ;
      if (lstat(path, &st) < 0) continue ;
      t = (uint64_t)st.st_mtime ;
      /* a held post's name is its time in microseconds */
      if (bynamestamp && uint64_scan(de->d_name, &t) == strlen(de->d_name)) t /= 1000000 ;
      if (t + life < now) unlink(path) ;
    }
  }
  closedir(d) ;
}

static void clean (int always)
{
  struct stat st ;
  uint64_t now = (uint64_t)time(0) ;
  if (!always && stat("cleaned", &st) == 0 && (uint64_t)st.st_mtime + CLEANEVERY > now) return ;
  expire("mod", now, LIST_MODLIFE, 1) ;
  expire("cookies", now, LIST_COOKIELIFE + 3600, 0) ;
  expire("bounce", now, LIST_BOUNCEKEEP, 0) ;
  atomic_write("cleaned", "", 0, 0600) ;
}

static int cmd_simple (int argc, char const *const *argv, int what)
{
  subgetopt o = SUBGETOPT_ZERO ;
  if (subgetopt_r(argc, argv, "", &o) != -1) dieusage() ;
  argc -= o.ind ; argv += o.ind ;
  if (argc != 1) dieusage() ;
  listdir = argv[0] ;
  become_owner(listdir) ;
  open_list() ;
  sig_ignore(SIGPIPE) ;
  if (what == 'c') clean(1) ;
  else
  {
    stralloc why = STRALLOC_ZERO ;
    int lock, r ;
    if (!(l.flags & LIST_ARCHIVED) || !l.digest) strerr_dief2x(100, l.address.s, " has no digest") ;
    lock = list_lock("lock") ;
    if (lock < 0) strerr_diefu1sys(111, "lock the list") ;
    r = listpost_digest(&l, 1, &why) ;
    if (r) strerr_dief1x(r, why.s) ;
    close(lock) ;
  }
  return 0 ;
}

/* ---- answers by mail -------------------------------------------------------------------- */

static char const *sender ;
static int msgfd ;
static off_t msgstart ;

/* LOCAL-return-@HOST: bounces of what the list manager sends are not counted */
static void send_text (char const *textname, char const *rcpt, list_tags const *t, char const *replyto)
{
  stralloc msg = STRALLOC_ZERO, ret = STRALLOC_ZERO ;
  int r ;
  if (!listmsg_textmsg(&l, &msg, textname, t, rcpt, replyto)) strerr_diefu2sys(111, "make the answer from text/", textname) ;
  if (!list_addr(&l, &ret, "return-")) dienomem() ;
  r = listmsg_send(ret.s, rcpt, msg.s, msg.len) ;
  if (r == -2) strerr_diefu1sys(111, "reach the queue") ;
  if (r) strerr_dief2x(qqueue_permanent(r) ? 100 : 111, "the queue refused the answer: ", qqueue_strerror(r)) ;
  stralloc_free(&msg) ; stralloc_free(&ret) ;
}

/* the address LOCAL-[digest-]action.COOKIE-addr@HOST into sa */
static void confirm_addr (stralloc *sa, char const *action, char const *addr)
{
  char cookie[LISTCOOKIE_MAX + 1] ;
  listcookie_make(cookie, l.key.s, l.key.len, action, addr, (uint64_t)time(0)) ;
  sa->len = 0 ;
  if (!stralloc_cats(sa, l.local.s) || !stralloc_catb(sa, "-", 1) || !stralloc_cats(sa, action)
   || !stralloc_catb(sa, ".", 1) || !stralloc_cats(sa, cookie) || !stralloc_catb(sa, "-", 1)
   || !list_encode(sa, addr) || !stralloc_catb(sa, "@", 1) || !stralloc_cats(sa, l.host.s) || !stralloc_0(sa)) dienomem() ;
}

/* cookies/HASH: a confirmation's cookie once used (a replay is refused until it expires) */
static void cookie_path (stralloc *path, char const *cookie)
{
  char const *dot = strchr(cookie, '.') ;
  path->len = 0 ;
  if (!stralloc_cats(path, "cookies/") || !stralloc_cats(path, dot ? dot + 1 : cookie) || !stralloc_0(path)) dienomem() ;
}

static int used (char const *cookie)
{
  stralloc path = STRALLOC_ZERO ;
  int r ;
  cookie_path(&path, cookie) ;
  r = access(path.s, F_OK) == 0 ;
  if (!r && errno != ENOENT) strerr_diefu2sys(111, "check ", path.s) ;
  stralloc_free(&path) ;
  return r ;
}

/* after the change: two deliveries of one confirmation at the same moment both do the same */
static void mark_used (char const *cookie)
{
  stralloc path = STRALLOC_ZERO ;
  int fd ;
  if (mkdir("cookies", 0700) < 0 && errno != EEXIST) strerr_diefu1sys(111, "make cookies") ;
  cookie_path(&path, cookie) ;
  fd = open(path.s, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600) ;
  if (fd < 0 || fsync(fd) < 0 || close(fd) < 0 || !dir_sync("cookies")) strerr_diefu2sys(111, "write ", path.s) ;
  stralloc_free(&path) ;
}

/* the To: of a message to the moderators: an empty group, so that a reply to all goes nowhere */
static char const *moderators (void)
{
  static stralloc to = STRALLOC_ZERO ;
  to.len = 0 ;
  if (!stralloc_cats(&to, l.local.s) || !stralloc_cats(&to, " moderators:;") || !stralloc_0(&to)) dienomem() ;
  return to.s ;
}

static int member (char const *set, char const *addr)
{
  int r = listset_has(set, addr) ;
  if (r < 0) die_set("read ", set) ;
  return r ;
}

static size_t change (char const *set, int add, char const *addr)
{
  size_t changed ;
  if (!listset_change(set, add, addr, strlen(addr) + 1, &changed)) die_set("change ", set) ;
  return changed ;
}

/* subscribe or unsubscribe (sub) the target (the address in the local part, else the
   sender), to the main set or the digest's (dig) */
static void request (int sub, int dig, char const *target)
{
  char const *set = dig ? LIST_DIGESTS : LIST_SUBSCRIBERS ;
  stralloc addr = STRALLOC_ZERO, r = STRALLOC_ZERO ;
  list_tags t = { 0 } ;
  int ok = target && *target ? list_decode(&addr, target) : addrset_norm(&addr, sender, strlen(sender)) ;
  if (ok < 0) dienomem() ;
  if (!ok) { info("ignored a request for a malformed address: ", target && *target ? target : sender) ; return ; }
  t.a = addr.s ;
  if (member(set, addr.s) == sub)
  {
    send_text(sub ? "sub-nop" : "unsub-nop", addr.s, &t, 0) ;
    return ;
  }
  confirm_addr(&r, sub ? (dig ? "digest-sc" : "sc") : (dig ? "digest-uc" : "uc"), addr.s) ;
  t.r = r.s ;
  send_text(sub ? "sub-confirm" : "unsub-confirm", addr.s, &t, r.s) ;
  info(sub ? "asked to confirm the subscription of " : "asked to confirm the unsubscription of ", addr.s) ;
  stralloc_free(&addr) ; stralloc_free(&r) ;
}

/* a confirmation: rest = "COOKIE-local=host"; kind 's' subscribe, 'u' unsubscribe, 't' a
   moderator's approval */
static void confirm (int kind, int dig, char const *rest)
{
  char const *set = dig ? LIST_DIGESTS : LIST_SUBSCRIBERS ;
  char action[16] ;
  char const *dash = strchr(rest, '-') ;
  stralloc addr = STRALLOC_ZERO, cookie = STRALLOC_ZERO ;
  list_tags t = { 0 } ;
  size_t k ;
  int r = 0 ;
  strcpy(action, dig ? "digest-" : "") ;
  k = strlen(action) ;
  action[k] = (char)kind ; action[k + 1] = 'c' ; action[k + 2] = 0 ;
  if (dash)
  {
    if (!stralloc_catb(&cookie, rest, dash - rest) || !stralloc_0(&cookie)) dienomem() ;
    r = list_decode(&addr, dash + 1) ;
    if (r < 0) dienomem() ;
    if (r) r = listcookie_check(l.key.s, l.key.len, action, addr.s, cookie.s, cookie.len - 1, (uint64_t)time(0), LIST_COOKIELIFE) ;
  }
  if (r == 1 && used(cookie.s)) r = 2 ;
  if (r != 1)
  {
    info(r == 2 ? "refused a confirmation used already, from " : r < 0 ? "refused an expired confirmation, from " : "refused a bad confirmation, from ", sender) ;
    if (*sender) send_text("bad-cookie", sender, &t, 0) ;
    return ;
  }
  t.a = addr.s ;
  if (kind == 's' && (l.flags & LIST_MODSUB))
  {
    stralloc mods = STRALLOC_ZERO, msg = STRALLOC_ZERO, ret = STRALLOC_ZERO, ra = STRALLOC_ZERO ;
    confirm_addr(&ra, dig ? "digest-tc" : "tc", addr.s) ;
    t.r = ra.s ;
    if (!listset_cat(LIST_MODERATORS, &mods)) die_set("read ", LIST_MODERATORS) ;
    if (!mods.len) strerr_dief1x(111, "the subscriptions are moderated and the list has no moderator: the confirmation waits (#4.3.0)") ;
    if (!listmsg_textmsg(&l, &msg, "mod-sub", &t, moderators(), ra.s) || !list_addr(&l, &ret, "return-")) strerr_diefu1sys(111, "make the request to the moderators") ;
    /* the moderators' request, one queue entry for them all */
    r = listmsg_sendall(ret.s, mods.s, mods.len, msg.s, msg.len) ;
    if (r == -2) strerr_diefu1sys(111, "reach the queue") ;
    if (r) strerr_dief2x(qqueue_permanent(r) ? 100 : 111, "the queue refused the request to the moderators: ", qqueue_strerror(r)) ;
    stralloc_free(&mods) ; stralloc_free(&msg) ; stralloc_free(&ret) ; stralloc_free(&ra) ;
    mark_used(cookie.s) ;
    t.r = 0 ;
    send_text("mod-sub-wait", addr.s, &t, 0) ;
    info("asked the moderators about ", addr.s) ;
    return ;
  }
  if (kind == 'u')
  {
    int changed = change(set, 0, addr.s) > 0 ;
    mark_used(cookie.s) ;
    send_text(changed ? "unsub-ok" : "unsub-nop", addr.s, &t, 0) ;
    if (changed) info(dig ? "unsubscribed from the digest " : "unsubscribed ", addr.s) ;
  }
  else
  {
    int changed = change(set, 1, addr.s) > 0 ;
    mark_used(cookie.s) ;
    send_text(changed ? "sub-ok" : "sub-nop", addr.s, &t, 0) ;
    if (changed) info(dig ? "subscribed to the digest " : "subscribed ", addr.s) ;
  }
  stralloc_free(&addr) ; stralloc_free(&cookie) ;
}

/* a moderator's decision: rest = "ID.COOKIE" */
static void decide (int accept, char const *rest)
{
  char const *dot = strchr(rest, '.') ;
  stralloc id = STRALLOC_ZERO, path = STRALLOC_ZERO, work = STRALLOC_ZERO, why = STRALLOC_ZERO ;
  list_tags t = { 0 } ;
  int r = 0, fd ;
  if (dot && dot > rest)
  {
    size_t k = 0 ;
    while (rest + k < dot && rest[k] >= '0' && rest[k] <= '9') k++ ;
    if (rest + k == dot)
    {
      if (!stralloc_catb(&id, rest, k) || !stralloc_0(&id)) dienomem() ;
      r = listcookie_check(l.key.s, l.key.len, accept ? "accept" : "reject", id.s, dot + 1, strlen(dot + 1), (uint64_t)time(0), LIST_MODLIFE) ;
    }
  }
  if (r == 1)
  {
    /* the post is taken by one moderator's decision only: a rename */
    if (!stralloc_cats(&path, "mod/") || !stralloc_cats(&path, id.s) || !stralloc_0(&path)
     || !stralloc_cats(&work, path.s) || !stralloc_cats(&work, ".taken") || !stralloc_0(&work)) dienomem() ;
    if (rename(path.s, work.s) < 0)
    {
      if (errno != ENOENT) strerr_diefu2sys(111, "take ", path.s) ;
      r = 0 ;
    }
  }
  if (r != 1)
  {
    info("nothing done for a moderator's decision on a post decided, expired or unknown, from ", sender) ;
    if (*sender) send_text("mod-gone", sender, &t, 0) ;
    return ;
  }
  fd = open(work.s, O_RDONLY | O_CLOEXEC) ;
  if (fd < 0) { int e = errno ; rename(work.s, path.s) ; errno = e ; strerr_diefu2sys(111, "read ", work.s) ; }
  {
    /* the first line is the post's envelope sender */
    char buf[ADDRSET_ADDRMAX + 2] ;
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0) ;
    char *nl = n > 0 ? memchr(buf, '\n', n) : 0 ;
    if (!nl) { rename(work.s, path.s) ; strerr_dief2x(111, "unable to read the sender in ", path.s) ; }
    *nl = 0 ;
    if (accept)
    {
      stralloc dt = STRALLOC_ZERO ;
      if (!stralloc_cats(&dt, "Delivered-To: ") || !stralloc_cats(&dt, l.address.s) || !stralloc_cats(&dt, "\n") || !stralloc_0(&dt)) dienomem() ;
      r = listpost_send(&l, fd, nl + 1 - buf, dt.s, &why) ;
      if (r == 111) { rename(work.s, path.s) ; strerr_dief1x(111, why.s) ; }
      if (r) strerr_warnw4x("the accepted post from ", buf, " was not sent: ", why.s) ;
      else info("accepted the post from ", buf) ;
      stralloc_free(&dt) ;
    }
    else
    {
      t.a = buf ;
      if (*buf && strcmp(buf, "#@[]")) send_text("mod-reject", buf, &t, 0) ;
      info("rejected the post from ", buf) ;
    }
  }
  close(fd) ;
  unlink(work.s) ;
  stralloc_free(&id) ; stralloc_free(&path) ; stralloc_free(&work) ; stralloc_free(&why) ;
}

/* get.N, get.N_M, index, index.N_M: s is what follows get or index ("" or ".N[_M]") */
static void archive_request (int index, char const *s)
{
  stralloc addr = STRALLOC_ZERO, why = STRALLOC_ZERO ;
  list_tags t = { 0 } ;
  uint64_t num, from = 0, to = 0 ;
  int ok = 1, r ;
  if (!list_readnum("num", &num)) strerr_diefu1sys(111, "read num") ;
  if (!*s)
  {
    if (!index) ok = 0 ;
    from = num > LIST_GETMAX ? num - LIST_GETMAX + 1 : 1 ; to = num ;
  }
  else
  {
    size_t k = s[0] == '.' ? uint64_scan(s + 1, &from) : 0 ;
    if (!k) ok = 0 ;
    else if (!s[1 + k]) to = from ;
    else if (s[1 + k] != '_' || !s[2 + k] || s[2 + k + uint64_scan(s + 2 + k, &to)] || to < from) ok = 0 ;
  }
  if (ok && !(l.flags & LIST_PUBLIC))
  {
    r = addrset_norm(&addr, sender, strlen(sender)) ;
    if (r < 0) dienomem() ;
    ok = r && (member(LIST_SUBSCRIBERS, addr.s) || member(LIST_DIGESTS, addr.s) || member(LIST_MODERATORS, addr.s)) ;
  }
  if (ok && !(l.flags & LIST_ARCHIVED)) ok = 0 ;
  if (ok && from > num) ok = 0 ;
  if (ok)
  {
    if (to > num) to = num ;
    r = listpost_get(&l, sender, from ? from : 1, to, index, &why) ;
    if (r < 0) strerr_dief1x(111, why.s) ;
    ok = r ;
  }
  if (!ok) send_text("get-bad", sender, &t, 0) ;
  stralloc_free(&addr) ; stralloc_free(&why) ;
}

/* ---- bounces ------------------------------------------------------------------------------ */

/* bounce/HASH of an address */
static void bounce_path (stralloc *path, char const *addr)
{
  uint64_t h = 14695981039346656037ULL ;
  char hex[17] ;
  for (char const *s = addr ; *s ; s++) { h ^= (unsigned char)*s ; h *= 1099511628211ULL ; }
  for (int i = 15 ; i >= 0 ; i--) { hex[i] = "0123456789abcdef"[h & 15] ; h >>= 4 ; }
  hex[16] = 0 ;
  path->len = 0 ;
  if (!stralloc_cats(path, "bounce/") || !stralloc_cats(path, hex) || !stralloc_0(path)) dienomem() ;
}

static void remove_subscriber (char const *addr, char const *why)
{
  size_t n = change(LIST_SUBSCRIBERS, 0, addr) + change(LIST_DIGESTS, 0, addr) ;
  stralloc path = STRALLOC_ZERO ;
  bounce_path(&path, addr) ;
  unlink(path.s) ;
  stralloc_free(&path) ;
  if (n) info(why, addr) ;
}

static void probe (char const *addr)
{
  stralloc msg = STRALLOC_ZERO, ret = STRALLOC_ZERO ;
  char cookie[LISTCOOKIE_MAX + 1] ;
  list_tags t = { .a = addr } ;
  int r ;
  listcookie_make(cookie, l.key.s, l.key.len, "probe", addr, (uint64_t)time(0)) ;
  if (!stralloc_cats(&ret, l.local.s) || !stralloc_cats(&ret, "-return-probe.") || !stralloc_cats(&ret, cookie)
   || !stralloc_catb(&ret, "-", 1) || !list_encode(&ret, addr) || !stralloc_catb(&ret, "@", 1)
   || !stralloc_cats(&ret, l.host.s) || !stralloc_0(&ret)) dienomem() ;
  if (!listmsg_textmsg(&l, &msg, "probe", &t, addr, 0)) strerr_diefu1sys(111, "make the probe from text/probe") ;
  r = listmsg_send(ret.s, addr, msg.s, msg.len) ;
  if (r == -2) strerr_diefu1sys(111, "reach the queue") ;
  if (r) strerr_dief2x(111, "the queue refused the probe: ", qqueue_strerror(r)) ;
  stralloc_free(&msg) ; stralloc_free(&ret) ;
}

/* a bounce of post num for addr: counted once a post; the limit reached: a probe */
static void bounced (char const *addr, uint64_t num)
{
  stralloc path = STRALLOC_ZERO, rec = STRALLOC_ZERO ;
  uint64_t v[5] = { 0, 0, 0, 0, 0 } ;    /* count first last lastnum probe */
  uint64_t now = (uint64_t)time(0) ;
  int lock ;
  if (!member(LIST_SUBSCRIBERS, addr) && !member(LIST_DIGESTS, addr)) return ;
  if (mkdir("bounce", 0700) < 0 && errno != EEXIST) strerr_diefu1sys(111, "make bounce") ;
  lock = list_lock("bounce/lock") ;
  if (lock < 0) strerr_diefu1sys(111, "lock bounce/lock") ;
  bounce_path(&path, addr) ;
  if (openslurpclose(&rec, path.s))
  {
    size_t i = 0 ;
    for (unsigned int k = 0 ; k < 5 ; k++)
    {
      size_t n = uint64_scan(rec.s + i, v + k) ;
      if (!n || i + n >= rec.len || rec.s[i + n] != ' ') { v[0] = v[1] = v[2] = v[3] = v[4] = 0 ; break ; }
      i += n + 1 ;
    }
  }
  else if (errno != ENOENT) strerr_diefu2sys(111, "read ", path.s) ;
  /* an old record starts again */
  if (v[2] && v[2] + LIST_BOUNCEKEEP < now) v[0] = v[1] = v[2] = v[3] = v[4] = 0 ;
  if (!num || num != v[3])
  {
    char fmt[UINT64_FMT] ;
    v[0]++ ; v[2] = now ; v[3] = num ;
    if (!v[1]) v[1] = now ;
    if (v[0] >= l.bouncelimit && (!v[4] || v[4] + LIST_BOUNCEKEEP < now))
    {
      probe(addr) ;
      v[4] = now ;
      info("sent a probe to ", addr) ;
    }
    rec.len = 0 ;
    for (unsigned int k = 0 ; k < 5 ; k++)
      if (!stralloc_catb(&rec, fmt, uint64_fmt(fmt, v[k])) || !stralloc_catb(&rec, " ", 1)) dienomem() ;
    if (!stralloc_cats(&rec, addr) || !stralloc_catb(&rec, "\n", 1)) dienomem() ;
    if (!atomic_write(path.s, rec.s, rec.len, 0600)) strerr_diefu2sys(111, "write ", path.s) ;
    info("counted a bounce of ", addr) ;
  }
  close(lock) ;
  stralloc_free(&path) ; stralloc_free(&rec) ;
}

/* the recipients a bounce says failed: RFC 3464 (Action: failed, with Final-Recipient or
   Original-Recipient) or qmail's format ("<addr>:" paragraphs), normalised, into out */
static void failed_recipients (stralloc *out)
{
  stralloc msg = STRALLOC_ZERO, fin = STRALLOC_ZERO, orig = STRALLOC_ZERO ;
  int failed = 0, qmail = 0 ;
  size_t i = 0 ;
  if (!stralloc_ready(&msg, BOUNCEMAX)) dienomem() ;
  for (;;)
  {
    ssize_t r = pread(msgfd, msg.s + msg.len, BOUNCEMAX - msg.len, msgstart + msg.len) ;
    if (r < 0) { if (errno == EINTR) continue ; strerr_diefu1sys(111, "read the bounce") ; }
    if (!r) break ;
    msg.len += r ;
    if (msg.len == BOUNCEMAX) break ;
  }
  while (i <= msg.len)
  {
    char *nl = i < msg.len ? memchr(msg.s + i, '\n', msg.len - i) : 0 ;
    size_t end = nl ? (size_t)(nl - msg.s) : msg.len, n = end - i ;
    char const *s = msg.s + i ;
    if (n && s[n-1] == '\r') n-- ;
    if (!n)
    {
      /* the end of a block of per-recipient fields */
      if (failed)
      {
        int r = 0 ;
        char const *v[2] = { orig.s, fin.s } ;
        size_t vl[2] = { orig.len, fin.len } ;
        for (unsigned int k = 0 ; k < 2 && r <= 0 ; k++) if (vl[k])
        {
          char const *semi = memchr(v[k], ';', vl[k]) ;
          char const *a = semi ? semi + 1 : v[k] ;
          size_t an = vl[k] - (a - v[k]) ;
          while (an && (*a == ' ' || *a == '\t')) { a++ ; an-- ; }
          while (an && (a[an-1] == ' ' || a[an-1] == '\t')) an-- ;
          r = addrset_norm(out, a, an) ;
          if (r < 0) dienomem() ;
        }
      }
      failed = 0 ; fin.len = orig.len = 0 ;
    }
    else if (n >= 35 && !strncmp(s, "Hi. This is the qmail-send program", 34)) qmail = 1 ;
    else if (qmail && !strncmp(s, "--- Below this line", 19)) qmail = 0 ;
    else if (qmail && s[0] == '<' && n > 3 && s[n-2] == '>' && s[n-1] == ':')
    {
      if (addrset_norm(out, s + 1, n - 3) < 0) dienomem() ;
    }
    else if (n > 16 && !strncasecmp(s, "Final-Recipient:", 16)) { fin.len = 0 ; if (!stralloc_catb(&fin, s + 16, n - 16)) dienomem() ; }
    else if (n > 19 && !strncasecmp(s, "Original-Recipient:", 19)) { orig.len = 0 ; if (!stralloc_catb(&orig, s + 19, n - 19)) dienomem() ; }
    else if (n > 7 && !strncasecmp(s, "Action:", 7))
    {
      size_t k = 7 ;
      while (k < n && (s[k] == ' ' || s[k] == '\t')) k++ ;
      failed = n - k >= 6 && !strncasecmp(s + k, "failed", 6) ;
    }
    if (!nl) break ;
    i = end + 1 ;
  }
  stralloc_free(&msg) ; stralloc_free(&fin) ; stralloc_free(&orig) ;
}

/* return-...: rest is what follows "return-" */
static void bounce (char const *rest)
{
  if (!strncmp(rest, "probe.", 6))
  {
    char const *dash = strchr(rest + 6, '-') ;
    stralloc addr = STRALLOC_ZERO ;
    int r = dash ? list_decode(&addr, dash + 1) : 0 ;
    if (r < 0) dienomem() ;
    if (r)
    {
      char cookie[dash - rest - 6 + 1] ;
      memcpy(cookie, rest + 6, dash - rest - 6) ;
      cookie[dash - rest - 6] = 0 ;
      r = listcookie_check(l.key.s, l.key.len, "probe", addr.s, cookie, strlen(cookie), (uint64_t)time(0), LIST_BOUNCEKEEP) ;
    }
    if (r == 1) remove_subscriber(addr.s, "removed after its probe bounced: ") ;
    else info("ignored a bounce to a bad probe address, from ", sender) ;
    stralloc_free(&addr) ;
    return ;
  }
  {
    uint64_t num = 0 ;
    size_t k = uint64_scan(rest, &num) ;
    stralloc addrs = STRALLOC_ZERO ;
    /* return- alone: an answer of the list manager bounced; nothing to count */
    if (!k || rest[k] != '-') return ;
    if (rest[k + 1])
    {
      int r = list_decode(&addrs, rest + k + 1) ;
      if (r < 0) dienomem() ;
    }
    else failed_recipients(&addrs) ;
    for (size_t i = 0 ; i < addrs.len ; i += strlen(addrs.s + i) + 1) bounced(addrs.s + i, num) ;
    stralloc_free(&addrs) ;
  }
}

/* ---- the request by mail ---------------------------------------------------------------- */

static int word (char const **s, char const *w)
{
  size_t n = strlen(w) ;
  if (strncmp(*s, w, n)) return 0 ;
  *s += n ;
  return 1 ;
}

static int mail (int argc, char const *const *argv)
{
  stralloc hdr = STRALLOC_ZERO, ext = STRALLOC_ZERO ;
  genalloc fields = GENALLOC_ZERO ;
  char const *dflt = getenv("DEFAULT") ;
  char const *s ;
  off_t body ;
  int r, dig ;
  list_tags t = { 0 } ;
  subgetopt o = SUBGETOPT_ZERO ;
  if (subgetopt_r(argc, argv, "", &o) != -1) dieusage() ;
  argc -= o.ind ; argv += o.ind ;
  if (argc != 1) dieusage() ;
  listdir = argv[0] ;
  sender = getenv("SENDER") ;
  if (!sender || !dflt) strerr_dief1x(100, "SENDER or DEFAULT is not set: list-manage runs from the .qmail-default file of a list") ;
  sig_ignore(SIGPIPE) ;
  open_list() ;
  msgfd = dotqmail_seekable(0, &msgstart) ;
  if (msgfd < 0) strerr_diefu1sys(111, "keep a copy of the message") ;
  for (char const *p = dflt ; *p ; p++) if (!stralloc_catb(&ext, *p >= 'A' && *p <= 'Z' ? &(char){ *p + 32 } : p, 1)) dienomem() ;
  if (!stralloc_0(&ext)) dienomem() ;
  s = ext.s ;
  clean(0) ;
  if (word(&s, "return-")) { bounce(s) ; return 0 ; }
  r = listmsg_header(msgfd, msgstart, &hdr, &body) ;
  if (r < 0) strerr_diefu1sys(111, "read the message") ;
  if (!listmsg_fields(hdr.s, hdr.len, &fields)) dienomem() ;
  /* no answer to a bounce or to a program: a vacation message would confirm a subscription */
  if (!*sender || !strcmp(sender, "#@[]") || !strncasecmp(sender, "mailer-daemon@", 14) || listmsg_automatic(hdr.s, &fields))
  {
    info("no answer to an automatic message, from ", *sender ? sender : "<>") ;
    return 0 ;
  }
  dig = word(&s, "digest-") ;
  if (!strcmp(s, "subscribe") || word(&s, "subscribe-")) request(1, dig, s[0] == 's' ? 0 : s) ;
  else if (!strcmp(s, "unsubscribe") || word(&s, "unsubscribe-")) request(0, dig, s[0] == 'u' ? 0 : s) ;
  else if (word(&s, "sc.")) confirm('s', dig, s) ;
  else if (word(&s, "uc.")) confirm('u', dig, s) ;
  else if (word(&s, "tc.")) confirm('t', dig, s) ;
  else if (!dig && word(&s, "accept-")) decide(1, s) ;
  else if (!dig && word(&s, "reject-")) decide(0, s) ;
  else if (!dig && word(&s, "get")) archive_request(0, s) ;
  else if (!dig && word(&s, "index")) archive_request(1, s) ;
  else send_text("help", sender, &t, 0) ;
  return 0 ;
}

int main (int argc, char const *const *argv)
{
  PROG = "list-manage" ;
  if (argc < 2) dieusage() ;
  if (!strcmp(argv[1], "make")) return cmd_make(argc - 1, argv + 1) ;
  if (!strcmp(argv[1], "sub")) return cmd_set(argc - 1, argv + 1, 's') ;
  if (!strcmp(argv[1], "unsub")) return cmd_set(argc - 1, argv + 1, 'u') ;
  if (!strcmp(argv[1], "list")) return cmd_set(argc - 1, argv + 1, 'l') ;
  if (!strcmp(argv[1], "digest")) return cmd_simple(argc - 1, argv + 1, 'd') ;
  if (!strcmp(argv[1], "clean")) return cmd_simple(argc - 1, argv + 1, 'c') ;
  return mail(argc, argv) ;
}
