/* mail-user: manage virtual domains and mail users: the text files under $SLUICEDIR/users/,
   the cdb compiled from them, and the domains' and users' Maildirs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/buffer.h>
#include <skalibs/djbunix.h>
#include <skalibs/sgetopt.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "atomic.h"
#include "control.h"
#include "passwd.h"
#include "userdb.h"
#include "userfile.h"
#include "usersql.h"

#define USAGE "mail-user command [ args... ]"
#define dieusage() strerr_dieusage(100, USAGE)

static stralloc err = STRALLOC_ZERO ;
static passwd_setting setting = PASSWD_SETTING_DEFAULT ;
static userfile u = USERFILE_ZERO ;      /* the database a command works on */

/* ---- input ---- */

static void usage1 (char const *u)
{
  strerr_dieusage(100, u) ;
}

/* the options of a command: returns the index of its first argument */
static int opts (int argc, char const *const *argv, char const *optstring, char const *u, char *seen, char const **args)
{
  subgetopt l = SUBGETOPT_ZERO ;
  for (;;)
  {
    int opt = subgetopt_r(argc, argv, optstring, &l) ;
    char const *p ;
    if (opt == -1) break ;
    p = strchr(optstring, opt) ;
    if (opt == '?' || opt == ':' || !p) usage1(u) ;
    {
      /* the option's place among the letters of optstring */
      size_t k = 0 ;
      char const *q = optstring ;
      for (; q < p ; q++) if (*q != ':') k++ ;
      seen[k] = 1 ;
      args[k] = l.arg ;
    }
  }
  return l.ind ;
}

static void address (char const *s, stralloc *local, stralloc *domain)
{
  int r ;
  if (!strchr(s, '@')) strerr_dief2x(100, "not an address (user@domain): ", s) ;
  r = userdb_split(s, 0, local, domain) ;
  if (r < 0) strerr_diefu1sys(111, "allocate memory") ;
  if (!r) strerr_dief3x(100, "bad address: ", s, " (user: a-z 0-9 . _ - +; domain: a-z 0-9 - and dots)") ;
}

static void domain_arg (char const *s, stralloc *domain)
{
  size_t i, n = strlen(s) ;
  domain->len = 0 ;
  if (!stralloc_ready(domain, n + 1)) strerr_diefu1sys(111, "allocate memory") ;
  for (i = 0 ; i <= n ; i++) domain->s[i] = s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i] ;
  domain->len = n + 1 ;
  if (!userdb_domain_valid(domain->s, n))
    strerr_dief3x(100, "bad domain name: ", s, " (letters, digits, - and dots, at least two labels; no / or ..)") ;
}

static int quota_scan (char const *s, uint64_t *q)
{
  uint64_t mult = 1 ;
  size_t n ;
  if (!strcmp(s, "none")) { *q = 0 ; return 1 ; }
  n = uint64_scan(s, q) ;
  if (!n) return 0 ;
  switch (s[n])
  {
    case 0 : break ;
    case 'k' : case 'K' : mult = 1024 ; n++ ; break ;
    case 'm' : case 'M' : mult = 1024 * 1024 ; n++ ; break ;
    case 'g' : case 'G' : mult = 1024 * 1024 * 1024 ; n++ ; break ;
    default : return 0 ;
  }
  if (s[n] || *q > UINT64_MAX / mult) return 0 ;
  *q *= mult ;
  return 1 ;
}

/* one line (a password, or a hash) from stdin into buf, with a prompt on a terminal:
   0 read; 1 longer than max; 2 a NUL byte in it; -1 read error (errno) */
static int secret_line (char *buf, size_t max, char const *prompt)
{
  size_t len = 0 ;
  int tty = isatty(0) ;
  if (tty && prompt) allwrite(2, prompt, strlen(prompt)) ;
  for (;;)
  {
    ssize_t r ;
    if (len > max) return 1 ;
    r = read(0, buf + len, 1) ;
    if (r < 0) { if (errno == EINTR) continue ; return -1 ; }
    if (!r || buf[len] == '\n') break ;
    if (!buf[len]) return 2 ;
    len++ ;
  }
  if (len && buf[len-1] == '\r') len-- ;
  buf[len] = 0 ;
  if (tty && prompt) allwrite(2, "\n", 1) ;
  return 0 ;
}

static void secret_die (int r)
{
  if (r < 0) strerr_diefu1sys(111, "read stdin") ;
  if (r == 1) strerr_dief1x(100, "too long: a password has at most 256 bytes") ;
  strerr_dief1x(100, "a password cannot contain a NUL byte") ;
}

/* the password (twice, without echo, on a terminal), or (ishash) a hash, from stdin */
static void get_password (char *pw, int ishash)
{
  char again[PASSWD_MAX + 2] ;
  struct termios old, quiet ;
  int tty = isatty(0) && !ishash ;
  int r ;
  if (tty)
  {
    if (tcgetattr(0, &old) < 0) strerr_diefu1sys(111, "read the terminal settings") ;
    quiet = old ;
    quiet.c_lflag &= ~ECHO ;
    if (tcsetattr(0, TCSAFLUSH, &quiet) < 0) strerr_diefu1sys(111, "turn off the echo") ;
  }
  r = secret_line(pw, ishash ? PASSWD_HASHMAX - 1 : PASSWD_MAX, ishash ? 0 : "New password: ") ;
  if (tty)
  {
    if (!r) r = secret_line(again, PASSWD_MAX, "Retype new password: ") ;
    tcsetattr(0, TCSAFLUSH, &old) ;
    if (!r && strcmp(pw, again)) strerr_dief1x(100, "the passwords differ") ;
    explicit_bzero(again, sizeof again) ;
  }
  if (r) secret_die(r) ;
  if (!pw[0]) strerr_dief1x(100, ishash ? "no hash on stdin" : "empty password") ;
}

/* the hash to store: from a password on stdin, or (ishash) a hash checked with crypt(3) */
static void new_hash (char *hash, int ishash)
{
  char pw[PASSWD_HASHMAX + PASSWD_MAX + 2] ;
  char const *why ;
  get_password(pw, ishash) ;
  if (ishash)
  {
    if (!passwd_hash_check(pw, &why)) strerr_dief2x(100, "refused hash: ", why) ;
    strcpy(hash, pw) ;
    return ;
  }
  if (!passwd_hash(hash, pw, &setting)) strerr_diefu1sys(111, "hash the password") ;
  explicit_bzero(pw, sizeof pw) ;
}

static void read_setting (void)
{
  char const *why ;
  int r = passwd_setting_read(&setting, &why) ;
  if (r < 0) strerr_diefu1sys(111, "read control/passwordhash") ;
  if (!r) strerr_dief2x(111, "bad control/passwordhash: ", why) ;
}

/* ---- the database ---- */

static void db_open (userfile *u, int lock)
{
  if (!userfile_open(u, lock, &err)) strerr_diefu1sys(111, err.s) ;
}

static void db_commit (userfile *u)
{
  unsigned int bad ;
  int r = userfile_commit(u, &setting, &err, &bad) ;
  if (r < 0) strerr_diefu1sys(111, err.s) ;
  if (!r)
  {
    char fmt[UINT_FMT] ;
    size_t i = 0 ;
    while (i < err.len)
    {
      char *nl = memchr(err.s + i, '\n', err.len - i) ;
      *nl = 0 ;
      strerr_warnw1x(err.s + i) ;
      i = nl - err.s + 1 ;
    }
    fmt[uint_fmt(fmt, bad)] = 0 ;
    strerr_dief3x(100, "nothing changed: ", fmt, " bad line(s) in the database: fix them, then run mail-user rebuild") ;
  }
}

/* users/domains' line for domain: 1 found (parsed into d, its bytes at [*start,*end)) */
static int domain_line (userfile *u, char const *domain, userfile_dom *d, stralloc *tmp, size_t *start, size_t *end)
{
  int r = userfile_find_domain(userfile_get(u, "domains"), domain, d, tmp, start, end) ;
  if (r < 0) strerr_diefu1sys(111, "allocate memory") ;
  return r ;
}

/* the real domain that domain names (itself, or the domain it is an alias of) */
static void real_domain (userfile *u, char const *domain, userfile_dom *d, stralloc *tmp)
{
  size_t s, e ;
  if (!domain_line(u, domain, d, tmp, &s, &e)) strerr_dief2x(100, "no such domain: ", domain) ;
  if (d->alias)
  {
    size_t n = strlen(d->alias) ;
    char real[n + 1] ;
    memcpy(real, d->alias, n + 1) ;
    if (!domain_line(u, real, d, tmp, &s, &e) || d->alias)
      strerr_dief3x(100, domain, " is an alias of a domain that does not exist: ", real) ;
  }
}

/* the users file of real domain d */
static userfile_text *users_of (userfile *u, userfile_dom const *d)
{
  userfile_text *t = userfile_get(u, d->name) ;
  if (!t && !(t = userfile_new(u, d->name))) strerr_diefu1sys(111, "allocate memory") ;
  return t ;
}

/* ---- directories, made and removed as the domain's owner ---- */

static void become (uid_t uid, gid_t gid)
{
  if (geteuid() == uid && getegid() == gid) return ;
  if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
    strerr_diefu1sys(111, "change to the domain's uid and gid") ;
}

static void mkdir_ok (char const *path)
{
  struct stat st ;
  if (mkdir(path, 0700) == 0) return ;
  if (errno == EEXIST && lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) return ;
  strerr_diefu2sys(111, "create ", path) ;
}

/* home and home/Maildir/{cur,new,tmp} under dir, each 0700 */
static void maildir_child (char const *dir, char const *home)
{
  size_t n = strlen(home) ;
  char p[n + 13] ;
  umask(077) ;
  if (chdir(dir) < 0) strerr_diefu2sys(111, "chdir to ", dir) ;
  memcpy(p, home, n) ;
  p[n] = 0 ; mkdir_ok(p) ;
  memcpy(p + n, "/Maildir", 9) ; mkdir_ok(p) ;
  memcpy(p + n + 8, "/tmp", 5) ; mkdir_ok(p) ;
  memcpy(p + n + 8, "/new", 5) ; mkdir_ok(p) ;
  memcpy(p + n + 8, "/cur", 5) ; mkdir_ok(p) ;
}

static int rm_tree (int dfd, char const *name) ;

/* remove everything in the directory fd (it stays open) */
static int rm_contents (int fd)
{
  int dfd2 = dup(fd) ;
  DIR *d = dfd2 >= 0 ? fdopendir(dfd2) : 0 ;
  struct dirent *e ;
  if (!d) { if (dfd2 >= 0) close(dfd2) ; return 0 ; }
  rewinddir(d) ;
  while ((e = readdir(d)))
  {
    if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue ;
    if (!rm_tree(fd, e->d_name)) { closedir(d) ; return 0 ; }
  }
  closedir(d) ;
  return 1 ;
}

/* remove name under the directory dfd, never following a symbolic link */
static int rm_tree (int dfd, char const *name)
{
  int pass ;
  int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) ;
  if (fd < 0)
  {
    if (errno == ENOENT) return 1 ;
    if (errno != ENOTDIR && errno != ELOOP) return 0 ;
    return unlinkat(dfd, name, 0) == 0 || errno == ENOENT ;
  }
  for (pass = 0 ; pass < 3 ; pass++)
  {
    if (!rm_contents(fd)) break ;
    if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT) { close(fd) ; return 1 ; }
    if (errno != ENOTEMPTY) break ;
  }
  close(fd) ;
  return 0 ;
}

/* remove dir/name, or everything in dir when name is 0 */
static void rm_child (char const *dir, char const *name)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) ;
  if (fd < 0) { if (errno == ENOENT) return ; strerr_diefu2sys(111, "open ", dir) ; }
  if (name ? !rm_tree(fd, name) : !rm_contents(fd))
    strerr_diefu4sys(111, "remove ", dir, "/", name ? name : "*") ;
}

/* run job(dir, name) in a child that has become uid:gid; die if it failed */
static void as_owner (uid_t uid, gid_t gid, void (*job) (char const *, char const *), char const *dir, char const *name)
{
  int wstat ;
  pid_t pid = fork() ;
  if (pid < 0) strerr_diefu1sys(111, "fork") ;
  if (!pid)
  {
    become(uid, gid) ;
    job(dir, name) ;
    _exit(0) ;
  }
  if (waitpid(pid, &wstat, 0) < 0) strerr_diefu1sys(111, "wait for the child") ;
  if (!WIFEXITED(wstat) || WEXITSTATUS(wstat)) strerr_dief1x(111, "nothing changed: the mail directories could not be made or removed") ;
}

/* ---- commands ---- */

typedef struct owner_s { uid_t uid ; gid_t gid ; } owner ;

/* the domain's directory, made (or there already) and owned by o */
static void domain_dir (char const *dir, owner const *o)
{
  struct stat st ;
  if (mkdir(dir, 0700) == 0)
  {
    if (lchown(dir, o->uid, o->gid) < 0) strerr_diefu2sys(111, "chown ", dir) ;
  }
  else if (errno != EEXIST) strerr_diefu2sys(111, "create ", dir) ;
  else if (lstat(dir, &st) < 0) strerr_diefu2sys(111, "stat ", dir) ;
  else if (!S_ISDIR(st.st_mode) || st.st_uid != o->uid)
    strerr_dief3x(100, "exists and is not a directory owned by the domain's uid: ", dir, " (nothing changed)") ;
}

static int owner_scan (char const *s, owner *o)
{
  unsigned int uid, gid ;
  size_t n = uint_scan(s, &uid) ;
  if (n && s[n] == ':')
  {
    size_t m = uint_scan(s + n + 1, &gid) ;
    if (!m || s[n + 1 + m]) return 0 ;
    o->uid = uid ; o->gid = gid ;
    return 1 ;
  }
  {
    struct passwd *pw = getpwnam(s) ;
    if (!pw) return 0 ;
    o->uid = pw->pw_uid ; o->gid = pw->pw_gid ;
    return 1 ;
  }
}

static void default_owner (owner *o)
{
  stralloc sa = STRALLOC_ZERO ;
  int r = control_readline(&sa, "mailowner", 0) ;
  if (r < 0) strerr_diefu1sys(111, "read control/mailowner") ;
  if (r && sa.s[0])
  {
    if (!owner_scan(sa.s, o)) strerr_dief3x(100, "control/mailowner: no such user: ", sa.s, " (a user name, or uid:gid)") ;
  }
  else if (!owner_scan("vpopmail", o))
    strerr_dief1x(100, "who owns the domain? give -u user, or a user name in control/mailowner") ;
  stralloc_free(&sa) ;
}

/* the domain's directory: its contents as the owner, then itself from its (root's) parent */
static void remove_domain_dir (char *dir, uid_t uid, gid_t gid, char const *domain)
{
  char *slash = strrchr(dir, '/') ;
  int fd ;
  as_owner(uid, gid, &rm_child, dir, 0) ;
  *slash = 0 ;
  fd = open(slash == dir ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (fd < 0 || (unlinkat(fd, slash + 1, AT_REMOVEDIR) < 0 && errno != ENOENT))
    strerr_diefu3sys(111, "remove the directory of ", domain, " (the domain is removed)") ;
  close(fd) ;
}

/* ---- the mysql backend (sluice-mysql(5)): each change one request to userdb-mysqld, which
   makes it one transaction; the directories are made and removed here, as for the cdb ---- */

static userdb sqldb = USERDB_ZERO ;
static int sql = 0 ;            /* 1: control/userdb names the mysql backend */

static void sql_init (void)
{
  stralloc sa = STRALLOC_ZERO ;
  if (control_readline(&sa, "userdb", "cdb") < 0) strerr_diefu1sys(111, "read control/userdb") ;
  if (!strncmp(sa.s, "mysql", 5) && (!sa.s[5] || sa.s[5] == ':'))
  {
    if (!userdb_open(&sqldb, sa.s)) strerr_diefu1sys(111, "open the user database") ;
    sql = 1 ;
  }
  stralloc_free(&sa) ;
}

/* one change: the fields as one request. Dies 100 when the database refuses it (what: the
   name the refusal is about), 111 when it could not be made. */
static void sql_do (char const *what, char const *const *f, unsigned int n)
{
  stralloc req = STRALLOC_ZERO, ans = STRALLOC_ZERO ;
  unsigned int i ;
  for (i = 0 ; i < n ; i++)
  {
    if (f[i][strcspn(f[i], "\t\n")]) strerr_dief2x(100, "a tab or a newline is refused in ", what) ;
    if ((i && !stralloc_catb(&req, "\t", 1)) || !stralloc_cats(&req, f[i])) strerr_diefu1sys(111, "allocate memory") ;
  }
  if (usersql_request(&sqldb, req.s, req.len, &ans) < 0) strerr_diefu1sys(111, "reach userdb-mysqld (nothing changed)") ;
  if (ans.s[0] == '0') strerr_dief3x(100, ans.len > 2 ? ans.s + 2 : "refused", ": ", what) ;
  if (ans.s[0] != '1') strerr_dief2x(111, "the change failed: ", ans.len > 2 ? ans.s + 2 : ans.s) ;
  stralloc_free(&req) ; stralloc_free(&ans) ;
}

/* the domain (an alias resolved) into d: 1 found, 0 not; dies 111 when it cannot be read */
static int sql_domain (char const *domain, userdb_domain *d)
{
  int r = userdb_lookup_domain(&sqldb, domain, d) ;
  if (r < 0) strerr_diefu1sys(111, "read the user database") ;
  return r ;
}

static void sql_domain_must (char const *domain, userdb_domain *d)
{
  if (!sql_domain(domain, d)) strerr_dief2x(100, "no such domain: ", domain) ;
}

static int sql_user (char const *local, char const *domain, userdb_user *e)
{
  int r = userdb_lookup_user(&sqldb, local, domain, e) ;
  if (r < 0) strerr_diefu1sys(111, "read the user database") ;
  return r ;
}

/* local@d's name, for messages */
static char const *sql_addr (stralloc *sa, char const *local, char const *domain)
{
  sa->len = 0 ;
  if (!stralloc_cats(sa, local) || !stralloc_catb(sa, "@", 1) || !stralloc_cats(sa, domain) || !stralloc_0(sa))
    strerr_diefu1sys(111, "allocate memory") ;
  return sa->s ;
}

/* vpopmail's pw_shell: NOQUOTA or bytes with S */
static void sql_quota (char *out, uint64_t q)
{
  if (!q) { strcpy(out, "NOQUOTA") ; return ; }
  out[uint64_fmt(out, q)] = 0 ;
  strcat(out, "S") ;
}

/* a user command on an existing mailbox (mailbox 1) or any address (0): the real domain in d,
   the user in e, the address in name */
static void sql_target (char const *local, char const *domain, userdb_domain *d, userdb_user *e, stralloc *name, int mailbox)
{
  sql_domain_must(domain, d) ;
  sql_addr(name, local, d->name) ;
  if (!sql_user(local, d->name, e)) strerr_dief2x(100, "no such user: ", name->s) ;
  if (mailbox && e->flags & USERDB_ALIAS) strerr_dief2x(100, name->s, " is an alias (no mailbox, no password)") ;
}

#define U_INITDB "mail-user initdb"
static int cmd_initdb (int argc, char const *const *argv)
{
  char const *f[1] = { "I" } ;
  (void)argv ;
  if (argc != 1) usage1(U_INITDB) ;
  if (!sql) strerr_dief1x(100, "initdb makes the tables of the mysql backend, and control/userdb does not name it") ;
  sql_do("the tables", f, 1) ;
  return 0 ;
}

#define U_ADDDOMAIN "mail-user adddomain [ -u owner ] [ -d dir ] domain"
static int cmd_adddomain (int argc, char const *const *argv)
{
  stralloc domain = STRALLOC_ZERO, tmp = STRALLOC_ZERO, dir = STRALLOC_ZERO, line = STRALLOC_ZERO ;
  char seen[2] = { 0, 0 } ;
  char const *args[2] = { 0, 0 } ;
  owner o ;
  userfile_dom d ;
  size_t s, e ;
  struct stat st ;
  int i = opts(argc, argv, "u:d:", U_ADDDOMAIN, seen, args) ;
  if (argc - i != 1) usage1(U_ADDDOMAIN) ;
  domain_arg(argv[i], &domain) ;
  if (seen[0]) { if (!owner_scan(args[0], &o)) strerr_dief3x(100, "no such user: ", args[0], " (a user name, or uid:gid)") ; }
  else default_owner(&o) ;
  if (!o.uid || !o.gid) strerr_dief1x(100, "uid and gid 0 are refused: virtual mail is not owned by root") ;
  if (seen[1])
  {
    if (args[1][0] != '/' || strchr(args[1], ':') || strstr(args[1], "/../") || strstr(args[1], "\n"))
      strerr_dief2x(100, "the directory must be an absolute path without : or ..: ", args[1]) ;
    if (!stralloc_cats(&dir, args[1])) strerr_diefu1sys(111, "allocate memory") ;
  }
  else
  {
    if (!stralloc_cats(&dir, control_root()) || !stralloc_cats(&dir, "/domains") || !stralloc_0(&dir))
      strerr_diefu1sys(111, "allocate memory") ;
    if (mkdir(dir.s, 0755) < 0 && errno != EEXIST) strerr_diefu2sys(111, "create ", dir.s) ;
    dir.len-- ;
    if (!stralloc_catb(&dir, "/", 1) || !stralloc_cats(&dir, domain.s)) strerr_diefu1sys(111, "allocate memory") ;
  }
  if (!stralloc_0(&dir)) strerr_diefu1sys(111, "allocate memory") ;

  read_setting() ;
  if (sql)
  {
    userdb_domain dd = USERDB_DOMAIN_ZERO ;
    char uid[UINT_FMT], gid[UINT_FMT] ;
    char const *f[5] = { "AD", domain.s, uid, gid, dir.s } ;
    if (sql_domain(domain.s, &dd)) strerr_dief2x(100, "domain exists already: ", domain.s) ;
    uid[uint_fmt(uid, o.uid)] = 0 ; gid[uint_fmt(gid, o.gid)] = 0 ;
    domain_dir(dir.s, &o) ;
    sql_do(domain.s, f, 5) ;
    return 0 ;
  }
  db_open(&u, 1) ;
  if (domain_line(&u, domain.s, &d, &tmp, &s, &e)) strerr_dief2x(100, "domain exists already: ", domain.s) ;
  {
    /* a users file left without its domain line (a hand edit) is not overwritten */
    stralloc p = STRALLOC_ZERO ;
    if (!stralloc_copy(&p, &u.dir) || !(p.len--, stralloc_catb(&p, "/", 1)) || !stralloc_cats(&p, domain.s) || !stralloc_0(&p))
      strerr_diefu1sys(111, "allocate memory") ;
    if (stat(p.s, &st) == 0 && st.st_size)
      strerr_dief3x(100, "domain not listed in users/domains, but its users file is there: ", p.s, " (add its line by hand and run mail-user rebuild, or remove the file)") ;
    stralloc_free(&p) ;
  }
  domain_dir(dir.s, &o) ;
  d.name = domain.s ; d.alias = 0 ; d.uid = o.uid ; d.gid = o.gid ; d.dir = dir.s ; d.catchall = "" ;
  if (!userfile_format_domain(&line, &d) || !userfile_append(userfile_get(&u, "domains"), line.s, line.len)
   || !userfile_new(&u, domain.s))
    strerr_diefu1sys(111, "allocate memory") ;
  db_commit(&u) ;
  stralloc_free(&domain) ; stralloc_free(&tmp) ; stralloc_free(&dir) ; stralloc_free(&line) ;
  return 0 ;
}

#define U_ALIASDOMAIN "mail-user aliasdomain alias domain"
static int cmd_aliasdomain (int argc, char const *const *argv)
{
  stralloc alias = STRALLOC_ZERO, domain = STRALLOC_ZERO, tmp = STRALLOC_ZERO, line = STRALLOC_ZERO ;
  userfile_dom d ;
  size_t s, e ;
  if (argc != 3) usage1(U_ALIASDOMAIN) ;
  domain_arg(argv[1], &alias) ;
  domain_arg(argv[2], &domain) ;
  if (!strcmp(alias.s, domain.s)) strerr_dief1x(100, "a domain cannot be an alias of itself") ;
  read_setting() ;
  if (sql)
  {
    char const *f[3] = { "AA", alias.s, domain.s } ;
    sql_do(alias.s, f, 3) ;
    return 0 ;
  }
  db_open(&u, 1) ;
  if (domain_line(&u, alias.s, &d, &tmp, &s, &e)) strerr_dief2x(100, "domain exists already: ", alias.s) ;
  real_domain(&u, domain.s, &d, &tmp) ;
  {
    userfile_dom a = { .name = alias.s, .alias = d.name, .uid = 0, .gid = 0, .dir = 0 } ;
    if (!userfile_format_domain(&line, &a) || !userfile_append(userfile_get(&u, "domains"), line.s, line.len))
      strerr_diefu1sys(111, "allocate memory") ;
  }
  db_commit(&u) ;
  stralloc_free(&alias) ; stralloc_free(&domain) ; stralloc_free(&tmp) ; stralloc_free(&line) ;
  return 0 ;
}

#define U_DELDOMAIN "mail-user deldomain [ -r ] domain"
static int cmd_deldomain (int argc, char const *const *argv)
{
  stralloc domain = STRALLOC_ZERO, tmp = STRALLOC_ZERO, keep = STRALLOC_ZERO, dir = STRALLOC_ZERO ;
  char seen[1] = { 0 } ;
  char const *args[1] ;
  userfile_dom d ;
  userfile_text *dt ;
  size_t s, e, pos = 0, start, len ;
  uid_t uid ; gid_t gid ;
  int isalias ;
  int i = opts(argc, argv, "r", U_DELDOMAIN, seen, args) ;
  if (argc - i != 1) usage1(U_DELDOMAIN) ;
  domain_arg(argv[i], &domain) ;
  read_setting() ;
  if (sql)
  {
    userdb_domain dd = USERDB_DOMAIN_ZERO ;
    char const *f[2] = { "DD", domain.s } ;
    sql_domain_must(domain.s, &dd) ;
    sql_do(domain.s, f, 2) ;
    if (seen[0] && !strcmp(dd.name, domain.s) && stralloc_copys(&dir, dd.dir) && stralloc_0(&dir))
      remove_domain_dir(dir.s, dd.uid, dd.gid, domain.s) ;
    return 0 ;
  }
  db_open(&u, 1) ;
  dt = userfile_get(&u, "domains") ;
  if (!domain_line(&u, domain.s, &d, &tmp, &s, &e)) strerr_dief2x(100, "no such domain: ", domain.s) ;
  isalias = !!d.alias ;
  uid = d.uid ; gid = d.gid ;
  if (!isalias && !stralloc_cats(&dir, d.dir)) strerr_diefu1sys(111, "allocate memory") ;
  if (!stralloc_0(&dir)) strerr_diefu1sys(111, "allocate memory") ;
  /* the domain's line, and the lines of the alias domains that point to it */
  while (userfile_line(&dt->text, &pos, &start, &len))
  {
    userfile_dom x ;
    char const *why ;
    int drop = 0 ;
    tmp.len = 0 ;
    if (!stralloc_catb(&tmp, dt->text.s + start, len) || !stralloc_0(&tmp)) strerr_diefu1sys(111, "allocate memory") ;
    if (len && tmp.s[0] != '#' && userfile_parse_domain(tmp.s, &x, &why))
    {
      if (!strcmp(x.name, domain.s)) drop = 1 ;
      else if (!isalias && x.alias && !strcmp(x.alias, domain.s))
      {
        drop = 1 ;
        strerr_warnw2x("removed the alias domain ", x.name) ;
      }
    }
    if (!drop && !stralloc_catb(&keep, dt->text.s + start, pos - start)) strerr_diefu1sys(111, "allocate memory") ;
  }
  if (!userfile_replace(dt, 0, dt->text.len, keep.s, keep.len)) strerr_diefu1sys(111, "allocate memory") ;
  if (!isalias)
  {
    userfile_text *t = userfile_get(&u, domain.s) ;
    if (!t && !(t = userfile_new(&u, domain.s))) strerr_diefu1sys(111, "allocate memory") ;
    t->state = 2 ;
  }
  db_commit(&u) ;
  if (!isalias && seen[0]) remove_domain_dir(dir.s, uid, gid, domain.s) ;
  stralloc_free(&domain) ; stralloc_free(&tmp) ; stralloc_free(&keep) ; stralloc_free(&dir) ;
  return 0 ;
}

/* Is local a recipient among the users of t, itself or by the prefix before a '-' that
   extension addresses use (userdb_lookup_recipient's rule, on the text)? */
static int text_recipient (userfile_text const *t, char const *local)
{
  stralloc tmp = STRALLOC_ZERO ;
  size_t n = strlen(local), s, e ;
  int r = 0 ;
  while (n && !r)
  {
    char pre[n + 1] ;
    userfile_user x ;
    memcpy(pre, local, n) ; pre[n] = 0 ;
    r = userfile_find_user(t, pre, &x, &tmp, &s, &e) ;
    if (r < 0) strerr_diefu1sys(111, "allocate memory") ;
    while (n && local[n-1] != '-') n-- ;
    if (n) n-- ;
  }
  stralloc_free(&tmp) ;
  return r ;
}

#define U_CATCHALL "mail-user catchall domain address... | none"
static int cmd_catchall (int argc, char const *const *argv)
{
  stralloc domain = STRALLOC_ZERO, tmp = STRALLOC_ZERO, dtmp = STRALLOC_ZERO, list = STRALLOC_ZERO,
    line = STRALLOC_ZERO, l = STRALLOC_ZERO, dm = STRALLOC_ZERO ;
  userfile_dom d, dd ;
  size_t s, e, s0, e0 ;
  int i ;
  if (argc < 3) usage1(U_CATCHALL) ;
  domain_arg(argv[1], &domain) ;
  if (!(argc == 3 && !strcmp(argv[2], "none")))
    for (i = 2 ; i < argc ; i++)
    {
      if (!userfile_forward_valid(argv[i])) strerr_dief2x(100, "bad catch-all address (user@domain, comma-separated): ", argv[i]) ;
      if ((list.len && !stralloc_catb(&list, ",", 1)) || !stralloc_cats(&list, argv[i])) strerr_diefu1sys(111, "allocate memory") ;
    }
  if (!stralloc_0(&list)) strerr_diefu1sys(111, "allocate memory") ;
  read_setting() ;
  if (sql)
  {
    char const *f[3] = { "CA", domain.s, list.s } ;
    userdb_domain dd = USERDB_DOMAIN_ZERO ;
    char const *p = list.s ;
    sql_domain_must(domain.s, &dd) ;
    if (strcmp(dd.name, domain.s)) strerr_dief4x(100, domain.s, " is an alias domain: give the catch-all to ", dd.name, " (it takes the mail of both)") ;
    /* as with the cdb: an address of this domain must be one of its users */
    while (*p)
    {
      size_t n = strcspn(p, ",") ;
      char one[n + 1] ;
      userdb_domain od = USERDB_DOMAIN_ZERO ;
      userdb_user ou = USERDB_USER_ZERO ;
      long ext ;
      memcpy(one, p, n) ; one[n] = 0 ;
      if (userdb_split(one, 0, &l, &dm) > 0 && sql_domain(dm.s, &od) && !strcmp(od.name, domain.s))
      {
        int r = userdb_lookup_recipient(&sqldb, l.s, domain.s, &ou, &ext) ;
        if (r < 0) strerr_diefu1sys(111, "read the user database") ;
        if (!r) strerr_dief3x(100, "the catch-all names a user of ", domain.s, " who does not exist (the mail would go round for ever): add the user first") ;
      }
      userdb_domain_free(&od) ; userdb_user_free(&ou) ;
      p += n ; if (*p) p++ ;
    }
    sql_do(domain.s, f, 3) ;
    return 0 ;
  }
  db_open(&u, 1) ;
  if (!domain_line(&u, domain.s, &d, &tmp, &s, &e)) strerr_dief2x(100, "no such domain: ", domain.s) ;
  if (d.alias) strerr_dief4x(100, domain.s, " is an alias domain: give the catch-all to ", d.alias, " (it takes the mail of both)") ;
  {
    /* an address of this domain, under any of its names, must be one of its users: the
       mail of an unknown user sent to another unknown user would go round for ever */
    userfile_text *t = users_of(&u, &d) ;
    char const *p = list.s ;
    while (*p)
    {
      size_t n = strcspn(p, ",") ;
      char one[n + 1] ;
      memcpy(one, p, n) ; one[n] = 0 ;
      if (userdb_split(one, 0, &l, &dm) > 0 && domain_line(&u, dm.s, &dd, &dtmp, &s0, &e0)
       && !strcmp(dd.alias ? dd.alias : dd.name, domain.s) && !text_recipient(t, l.s))
        strerr_dief3x(100, "the catch-all names a user of ", domain.s, " who does not exist (the mail would go round for ever): add the user first") ;
      p += n ; if (*p) p++ ;
    }
  }
  d.catchall = list.s ;
  if (!userfile_format_domain(&line, &d) || !userfile_replace(userfile_get(&u, "domains"), s, e, line.s, line.len))
    strerr_diefu1sys(111, "allocate memory") ;
  db_commit(&u) ;
  stralloc_free(&domain) ; stralloc_free(&tmp) ; stralloc_free(&dtmp) ; stralloc_free(&list) ;
  stralloc_free(&line) ; stralloc_free(&l) ; stralloc_free(&dm) ;
  return 0 ;
}

/* the user named by an address argument, in the real domain it names */
typedef struct target_s target ;
struct target_s
{
  stralloc local, domain, dtmp, utmp, addr ;
  userfile_dom d ;
  userfile_text *t ;
  userfile_user e ;
  size_t start, end ;
  int found ;
} ;
#define TARGET_ZERO { .local = STRALLOC_ZERO, .domain = STRALLOC_ZERO, .dtmp = STRALLOC_ZERO, .utmp = STRALLOC_ZERO, .addr = STRALLOC_ZERO, .t = 0, .start = 0, .end = 0, .found = 0 }
static target x = TARGET_ZERO ;         /* the user a command works on */

static void target_free (target *t)
{
  stralloc_free(&t->local) ; stralloc_free(&t->domain) ; stralloc_free(&t->dtmp) ;
  stralloc_free(&t->utmp) ; stralloc_free(&t->addr) ;
}

static void target_find (userfile *u, target *x)
{
  real_domain(u, x->domain.s, &x->d, &x->dtmp) ;
  x->t = users_of(u, &x->d) ;
  x->found = userfile_find_user(x->t, x->local.s, &x->e, &x->utmp, &x->start, &x->end) ;
  if (x->found < 0) strerr_diefu1sys(111, "allocate memory") ;
  x->addr.len = 0 ;
  if (!stralloc_cats(&x->addr, x->local.s) || !stralloc_catb(&x->addr, "@", 1)
   || !stralloc_cats(&x->addr, x->d.name) || !stralloc_0(&x->addr))
    strerr_diefu1sys(111, "allocate memory") ;
}

static void target_must (target *x, int mailbox)
{
  if (!x->found) strerr_dief2x(100, "no such user: ", x->addr.s) ;
  if (mailbox && x->e.flags & USERDB_ALIAS)
    strerr_dief3x(100, x->addr.s, " is an alias (no mailbox, no password)", mailbox > 1 ? ": use mail-user forward" : "") ;
}

/* put x->e in the users file: over its line when found, else at the end; 0 hash etc. kept */
static void target_set (target *x, userfile_user const *e)
{
  stralloc line = STRALLOC_ZERO ;
  if (!userfile_format_user(&line, e)) strerr_diefu1sys(111, "allocate memory") ;
  if (x->found ? !userfile_replace(x->t, x->start, x->end, line.s, line.len) : !userfile_append(x->t, line.s, line.len))
    strerr_diefu1sys(111, "allocate memory") ;
  stralloc_free(&line) ;
}

static void target_remove (target *x)
{
  if (!userfile_replace(x->t, x->start, x->end, "", 0)) strerr_diefu1sys(111, "allocate memory") ;
}

static void out (char const *s) ;
static void out_flush (void) ;
static void out_method (char const *hash) ;

static void cdb_only (char const *cmd)
{
  if (sql) strerr_dief3x(100, cmd, ": only with the cdb backend (control/userdb names the mysql one)", "") ;
}

/* passwd, quota, enable, disable: one field of a mailbox (value 0: none) */
static void sql_set (char const *cmd, char const *value)
{
  userdb_domain d = USERDB_DOMAIN_ZERO ;
  userdb_user e = USERDB_USER_ZERO ;
  char const *f[4] = { cmd, x.local.s, 0, value } ;
  sql_target(x.local.s, x.domain.s, &d, &e, &x.addr, 1) ;
  f[2] = d.name ;
  sql_do(x.addr.s, f, value ? 4 : 3) ;
}

/* forward (keep 0 or 1, the addresses), or unforward (keep -1) */
static void sql_forward (int keep, int n, char const *const *addrs)
{
  userdb_domain d = USERDB_DOMAIN_ZERO ;
  userdb_user e = USERDB_USER_ZERO ;
  char const *f[4 + 64] ;
  int found, i ;
  if (n > 64) strerr_dief1x(100, "at most 64 forward addresses") ;
  sql_domain_must(x.domain.s, &d) ;
  sql_addr(&x.addr, x.local.s, d.name) ;
  found = sql_user(x.local.s, d.name, &e) ;
  if (keep < 0 && !found) strerr_dief2x(100, "no such user: ", x.addr.s) ;
  if (keep < 0 && !(e.flags & USERDB_ALIAS) && !e.forward[0]) strerr_dief2x(100, "no forward to clear: ", x.addr.s) ;
  if (keep > 0 && (!found || e.flags & USERDB_ALIAS))
    strerr_dief2x(100, "-k keeps a copy in the mailbox, and this address has none: ", x.addr.s) ;
  for (i = 0 ; i < n ; i++)
  {
    stralloc l = STRALLOC_ZERO, dm = STRALLOC_ZERO ;
    userdb_domain dd = USERDB_DOMAIN_ZERO ;
    if (userdb_split(addrs[i], 0, &l, &dm) > 0 && !strcmp(l.s, x.local.s) && sql_domain(dm.s, &dd) && !strcmp(dd.name, d.name))
      strerr_dief2x(100, "an address cannot forward to itself: ", addrs[i]) ;
    stralloc_free(&l) ; stralloc_free(&dm) ; userdb_domain_free(&dd) ;
  }
  f[0] = "FW" ; f[1] = x.local.s ; f[2] = d.name ; f[3] = keep > 0 ? "1" : "0" ;
  for (i = 0 ; i < n ; i++) f[4 + i] = addrs[i] ;
  sql_do(x.addr.s, f, 4 + n) ;
}

static void sql_show (void)
{
  userdb_domain d = USERDB_DOMAIN_ZERO ;
  userdb_user e = USERDB_USER_ZERO ;
  char fmt[UINT64_FMT] ;
  sql_target(x.local.s, x.domain.s, &d, &e, &x.addr, 0) ;
  out("address: ") ; out(x.addr.s) ; out("\n") ;
  if (e.flags & USERDB_ALIAS) { out("type: alias\nforward: ") ; out(e.forward) ; out("\n") ; }
  else
  {
    /* vpopmail's MD5-crypt: read from its tables, never written */
    out("type: mailbox\npassword: ") ; out_method(e.hash) ;
    out("\nstate: ") ; out(e.flags & USERDB_DISABLED ? "disabled" : "enabled") ;
    out("\nquota: ") ;
    if (e.quota) { fmt[uint64_fmt(fmt, e.quota)] = 0 ; out(fmt) ; } else out("none") ;
    out("\nforward: ") ; out(e.forward[0] ? e.forward : "none") ;
    if (e.flags & USERDB_KEEP) out(" (a copy kept)") ;
    out("\nhome: ") ; out(e.home) ;
    out("\nmaildir: ") ; out(e.home) ; out("/Maildir") ;
    out("\nuid: ") ; fmt[uint64_fmt(fmt, e.uid)] = 0 ; out(fmt) ;
    out("\ngid: ") ; fmt[uint64_fmt(fmt, e.gid)] = 0 ; out(fmt) ; out("\n") ;
  }
  out_flush() ;
}

/* the users of domain, one a line; weak: only those with a legacy hash, and its method */
static void sql_users (char const *domain, int weak)
{
  userdb_domain d = USERDB_DOMAIN_ZERO ;
  userdb_user e = USERDB_USER_ZERO ;
  stralloc req = STRALLOC_ZERO, ans = STRALLOC_ZERO ;
  size_t i ;
  sql_domain_must(domain, &d) ;
  if (!stralloc_cats(&req, "L\t") || !stralloc_cats(&req, d.name)) strerr_diefu1sys(111, "allocate memory") ;
  if (usersql_request(&sqldb, req.s, req.len, &ans) < 0) strerr_diefu1sys(111, "reach userdb-mysqld") ;
  if (ans.s[0] != '1') strerr_dief2x(111, "unable to list the users: ", ans.len > 2 ? ans.s + 2 : ans.s) ;
  for (i = 1 ; i < ans.len - 1 ; )
  {
    size_t n = strcspn(ans.s + i + 1, "\t") ;
    ans.s[i + 1 + n] = 0 ;
    if (weak && !(sql_user(ans.s + i + 1, d.name, &e) && !(e.flags & USERDB_ALIAS) && passwd_legacy(e.hash))) { i += n + 1 ; continue ; }
    out(ans.s + i + 1) ; out("@") ; out(d.name) ;
    if (weak) { out(" ") ; out(passwd_method(e.hash)) ; }
    out("\n") ;
    i += n + 1 ;
  }
  out_flush() ;
}

#define U_ADDUSER "mail-user adduser [ -H ] [ -q quota ] address"
static int cmd_adduser (int argc, char const *const *argv)
{
  char hash[PASSWD_HASHMAX] ;
  char seen[3] = { 0, 0, 0 } ;
  char const *args[3] ;
  uint64_t quota = 0 ;
  int i = opts(argc, argv, "Hq:", U_ADDUSER, seen, args) ;
  if (argc - i != 1) usage1(U_ADDUSER) ;
  if (seen[1] && !quota_scan(args[1], &quota)) strerr_dief2x(100, "bad quota (bytes, with k, M or G, or none): ", args[1]) ;
  address(argv[i], &x.local, &x.domain) ;
  read_setting() ;
  new_hash(hash, seen[0]) ;
  if (sql)
  {
    userdb_domain d = USERDB_DOMAIN_ZERO ;
    userdb_user e = USERDB_USER_ZERO ;
    char q[UINT64_FMT + 8] ;
    sql_domain_must(x.domain.s, &d) ;
    sql_addr(&x.addr, x.local.s, d.name) ;
    if (sql_user(x.local.s, d.name, &e)) strerr_dief2x(100, "user exists already: ", x.addr.s) ;
    as_owner(d.uid, d.gid, &maildir_child, d.dir, x.local.s) ;
    sql_quota(q, quota) ;
    if (!stralloc_copys(&x.utmp, d.dir) || !stralloc_catb(&x.utmp, "/", 1) || !stralloc_cats(&x.utmp, x.local.s) || !stralloc_0(&x.utmp))
      strerr_diefu1sys(111, "allocate memory") ;
    {
      char const *f[6] = { "AU", x.local.s, d.name, hash, q, x.utmp.s } ;
      sql_do(x.addr.s, f, 6) ;
    }
    return 0 ;
  }
  db_open(&u, 1) ;
  target_find(&u, &x) ;
  if (x.found) strerr_dief2x(100, "user exists already: ", x.addr.s) ;
  as_owner(x.d.uid, x.d.gid, &maildir_child, x.d.dir, x.local.s) ;
  {
    userfile_user e = { .local = x.local.s, .hash = hash, .flags = 0, .quota = quota, .forward = "" } ;
    target_set(&x, &e) ;
  }
  db_commit(&u) ;
  return 0 ;
}

#define U_DELUSER "mail-user deluser [ -r ] address"
static int cmd_deluser (int argc, char const *const *argv)
{
  char seen[1] = { 0 } ;
  char const *args[1] ;
  int i = opts(argc, argv, "r", U_DELUSER, seen, args) ;
  int mailbox ;
  if (argc - i != 1) usage1(U_DELUSER) ;
  address(argv[i], &x.local, &x.domain) ;
  read_setting() ;
  if (sql)
  {
    userdb_domain d = USERDB_DOMAIN_ZERO ;
    userdb_user e = USERDB_USER_ZERO ;
    sql_target(x.local.s, x.domain.s, &d, &e, &x.addr, 0) ;
    {
      char const *f[3] = { "DU", x.local.s, d.name } ;
      sql_do(x.addr.s, f, 3) ;
    }
    if (seen[0] && !(e.flags & USERDB_ALIAS)) as_owner(d.uid, d.gid, &rm_child, d.dir, x.local.s) ;
    return 0 ;
  }
  db_open(&u, 1) ;
  target_find(&u, &x) ;
  target_must(&x, 0) ;
  mailbox = !(x.e.flags & USERDB_ALIAS) ;
  target_remove(&x) ;
  db_commit(&u) ;
  if (seen[0] && mailbox) as_owner(x.d.uid, x.d.gid, &rm_child, x.d.dir, x.local.s) ;
  return 0 ;
}

static void out (char const *s)
{
  if (buffer_puts(buffer_1, s) < 0) strerr_diefu1sys(111, "write to stdout") ;
}

static void out_flush (void)
{
  if (!buffer_flush(buffer_1)) strerr_diefu1sys(111, "write to stdout") ;
}

/* a hash's method, and "(legacy)" when it is one only an import keeps */
static void out_method (char const *hash)
{
  out(passwd_method(hash)) ;
  if (passwd_legacy(hash)) out(" (legacy)") ;
}

#define U_DOMAINS "mail-user domains"
static int cmd_domains (int argc, char const *const *argv)
{
  stralloc tmp = STRALLOC_ZERO ;
  userfile_text *dt ;
  size_t pos = 0, start, len ;
  (void)argv ;
  if (argc != 1) usage1(U_DOMAINS) ;
  cdb_only("domains") ;
  db_open(&u, 0) ;
  dt = userfile_get(&u, "domains") ;
  while (userfile_line(&dt->text, &pos, &start, &len))
  {
    userfile_dom d ;
    char const *why ;
    tmp.len = 0 ;
    if (!stralloc_catb(&tmp, dt->text.s + start, len) || !stralloc_0(&tmp)) strerr_diefu1sys(111, "allocate memory") ;
    if (!len || tmp.s[0] == '#' || !userfile_parse_domain(tmp.s, &d, &why)) continue ;
    out(d.name) ;
    if (d.alias) { out(" -> ") ; out(d.alias) ; }
    if (d.catchall[0]) { out(" catch-all ") ; out(d.catchall) ; }
    out("\n") ;
  }
  out_flush() ;
  stralloc_free(&tmp) ;
  return 0 ;
}

/* users, or (weak) those whose hash is of a legacy method, with it */
static int list_users (int argc, char const *const *argv, char const *usage, int weak)
{
  stralloc domain = STRALLOC_ZERO, dtmp = STRALLOC_ZERO, tmp = STRALLOC_ZERO ;
  userfile_dom d ;
  userfile_text *t ;
  size_t pos = 0, start, len ;
  if (argc != 2) usage1(usage) ;
  domain_arg(argv[1], &domain) ;
  if (sql) { sql_users(domain.s, weak) ; return 0 ; }
  db_open(&u, 0) ;
  real_domain(&u, domain.s, &d, &dtmp) ;
  t = users_of(&u, &d) ;
  while (userfile_line(&t->text, &pos, &start, &len))
  {
    userfile_user e ;
    char const *why ;
    tmp.len = 0 ;
    if (!stralloc_catb(&tmp, t->text.s + start, len) || !stralloc_0(&tmp)) strerr_diefu1sys(111, "allocate memory") ;
    if (!len || tmp.s[0] == '#' || !userfile_parse_user(tmp.s, &e, &why)) continue ;
    if (weak && !(e.hash[0] && passwd_legacy(e.hash))) continue ;
    out(e.local) ; out("@") ; out(d.name) ;
    if (weak) { out(" ") ; out(passwd_method(e.hash)) ; }
    out("\n") ;
  }
  out_flush() ;
  stralloc_free(&domain) ; stralloc_free(&dtmp) ; stralloc_free(&tmp) ;
  return 0 ;
}

#define U_USERS "mail-user users domain"
static int cmd_users (int argc, char const *const *argv) { return list_users(argc, argv, U_USERS, 0) ; }

#define U_WEAK "mail-user weak domain"
static int cmd_weak (int argc, char const *const *argv) { return list_users(argc, argv, U_WEAK, 1) ; }

#define U_SHOW "mail-user show address"
static int cmd_show (int argc, char const *const *argv)
{
  char fmt[UINT64_FMT] ;
  if (argc != 2) usage1(U_SHOW) ;
  address(argv[1], &x.local, &x.domain) ;
  if (sql) { sql_show() ; return 0 ; }
  db_open(&u, 0) ;
  target_find(&u, &x) ;
  target_must(&x, 0) ;
  out("address: ") ; out(x.addr.s) ; out("\n") ;
  if (x.e.flags & USERDB_ALIAS)
  {
    out("type: alias\nforward: ") ; out(x.e.forward) ; out("\n") ;
  }
  else
  {
    out("type: mailbox\npassword: ") ; out_method(x.e.hash) ;
    out("\nstate: ") ; out(x.e.flags & USERDB_DISABLED ? "disabled" : "enabled") ;
    out("\nquota: ") ;
    if (x.e.quota) { fmt[uint64_fmt(fmt, x.e.quota)] = 0 ; out(fmt) ; } else out("none") ;
    out("\nforward: ") ; out(x.e.forward[0] ? x.e.forward : "none") ;
    if (x.e.flags & USERDB_KEEP) out(" (a copy kept)") ;
    out("\nhome: ") ; out(x.d.dir) ; out("/") ; out(x.local.s) ;
    out("\nmaildir: ") ; out(x.d.dir) ; out("/") ; out(x.local.s) ; out("/Maildir") ;
    out("\nuid: ") ; fmt[uint64_fmt(fmt, x.d.uid)] = 0 ; out(fmt) ;
    out("\ngid: ") ; fmt[uint64_fmt(fmt, x.d.gid)] = 0 ; out(fmt) ; out("\n") ;
  }
  out_flush() ;
  return 0 ;
}

#define U_PASSWD "mail-user passwd [ -H ] address"
static int cmd_passwd (int argc, char const *const *argv)
{
  char hash[PASSWD_HASHMAX] ;
  char seen[1] = { 0 } ;
  char const *args[1] ;
  int i = opts(argc, argv, "H", U_PASSWD, seen, args) ;
  if (argc - i != 1) usage1(U_PASSWD) ;
  address(argv[i], &x.local, &x.domain) ;
  read_setting() ;
  new_hash(hash, seen[0]) ;
  if (sql) { sql_set("PW", hash) ; return 0 ; }
  db_open(&u, 1) ;
  target_find(&u, &x) ;
  target_must(&x, 2) ;
  x.e.hash = hash ;
  target_set(&x, &x.e) ;
  db_commit(&u) ;
  return 0 ;
}

#define U_QUOTA "mail-user quota address quota"
static int cmd_quota (int argc, char const *const *argv)
{
  uint64_t q ;
  if (argc != 3) usage1(U_QUOTA) ;
  address(argv[1], &x.local, &x.domain) ;
  if (!quota_scan(argv[2], &q)) strerr_dief2x(100, "bad quota (bytes, with k, M or G, or none): ", argv[2]) ;
  read_setting() ;
  if (sql)
  {
    char qs[UINT64_FMT + 8] ;
    sql_quota(qs, q) ;
    sql_set("QU", qs) ;
    return 0 ;
  }
  db_open(&u, 1) ;
  target_find(&u, &x) ;
  target_must(&x, 1) ;
  x.e.quota = q ;
  target_set(&x, &x.e) ;
  db_commit(&u) ;
  return 0 ;
}

static int flag_cmd (int argc, char const *const *argv, char const *usage, int disable)
{
  if (argc != 2) usage1(usage) ;
  address(argv[1], &x.local, &x.domain) ;
  read_setting() ;
  if (sql) { sql_set(disable ? "DI" : "EN", 0) ; return 0 ; }
  db_open(&u, 1) ;
  target_find(&u, &x) ;
  target_must(&x, 1) ;
  if (disable) x.e.flags |= USERDB_DISABLED ; else x.e.flags &= ~USERDB_DISABLED ;
  target_set(&x, &x.e) ;
  db_commit(&u) ;
  return 0 ;
}

#define U_ENABLE "mail-user enable address"
static int cmd_enable (int argc, char const *const *argv) { return flag_cmd(argc, argv, U_ENABLE, 0) ; }
#define U_DISABLE "mail-user disable address"
static int cmd_disable (int argc, char const *const *argv) { return flag_cmd(argc, argv, U_DISABLE, 1) ; }

#define U_FORWARD "mail-user forward [ -k ] address dest..."
static int cmd_forward (int argc, char const *const *argv)
{
  stralloc list = STRALLOC_ZERO ;
  char seen[1] = { 0 } ;
  char const *args[1] ;
  int i = opts(argc, argv, "k", U_FORWARD, seen, args), i0 = i ;
  if (argc - i < 2) usage1(U_FORWARD) ;
  address(argv[i], &x.local, &x.domain) ;
  for (i++ ; i < argc ; i++)
  {
    if (!userfile_forward_valid(argv[i])) strerr_dief2x(100, "bad forward address (user@domain, comma-separated): ", argv[i]) ;
    if ((list.len && !stralloc_catb(&list, ",", 1)) || !stralloc_cats(&list, argv[i])) strerr_diefu1sys(111, "allocate memory") ;
  }
  if (!stralloc_0(&list)) strerr_diefu1sys(111, "allocate memory") ;
  read_setting() ;
  if (sql) { sql_forward(seen[0], argc - (i0 + 1), argv + i0 + 1) ; return 0 ; }
  db_open(&u, 1) ;
  target_find(&u, &x) ;
  {
    /* a forward to the address itself, under any of its domain's names, would loop */
    stralloc one = STRALLOC_ZERO, l = STRALLOC_ZERO, dm = STRALLOC_ZERO, tmp = STRALLOC_ZERO ;
    char const *p = list.s ;
    while (*p)
    {
      size_t n = strcspn(p, ",") ;
      userfile_dom dd ;
      size_t s0, e0 ;
      one.len = 0 ;
      if (!stralloc_catb(&one, p, n) || !stralloc_0(&one)) strerr_diefu1sys(111, "allocate memory") ;
      if (userdb_split(one.s, 0, &l, &dm) > 0 && !strcmp(l.s, x.local.s)
       && domain_line(&u, dm.s, &dd, &tmp, &s0, &e0) && !strcmp(dd.alias ? dd.alias : dd.name, x.d.name))
        strerr_dief2x(100, "an address cannot forward to itself: ", one.s) ;
      p += n ; if (*p) p++ ;
    }
    stralloc_free(&one) ; stralloc_free(&l) ; stralloc_free(&dm) ; stralloc_free(&tmp) ;
  }
  if (seen[0] && (!x.found || x.e.flags & USERDB_ALIAS))
    strerr_dief2x(100, "-k keeps a copy in the mailbox, and this address has none: ", x.addr.s) ;
  if (!x.found)
  {
    x.e.local = x.local.s ; x.e.hash = "" ; x.e.flags = USERDB_ALIAS ; x.e.quota = 0 ;
  }
  x.e.forward = list.s ;
  if (seen[0]) x.e.flags |= USERDB_KEEP ; else x.e.flags &= ~USERDB_KEEP ;
  target_set(&x, &x.e) ;
  db_commit(&u) ;
  stralloc_free(&list) ;
  return 0 ;
}

#define U_UNFORWARD "mail-user unforward address"
static int cmd_unforward (int argc, char const *const *argv)
{
  if (argc != 2) usage1(U_UNFORWARD) ;
  address(argv[1], &x.local, &x.domain) ;
  read_setting() ;
  if (sql) { sql_forward(-1, 0, 0) ; return 0 ; }
  db_open(&u, 1) ;
  target_find(&u, &x) ;
  target_must(&x, 0) ;
  if (x.e.flags & USERDB_ALIAS) target_remove(&x) ;
  else
  {
    if (!x.e.forward[0]) strerr_dief2x(100, "no forward to clear: ", x.addr.s) ;
    x.e.forward = "" ;
    x.e.flags &= ~USERDB_KEEP ;
    target_set(&x, &x.e) ;
  }
  db_commit(&u) ;
  return 0 ;
}

/* vacation: the user's .qmail keeps the mail as the users database says and answers it with
   autorespond ./vacation; a .qmail that mail-user did not write is never touched */
#define U_VACATION "mail-user vacation address on|off [ file ]"
#define VACATION_MARK "# mail-user vacation: mail-user vacation ADDRESS off removes this file\n"
static void vacation_child (char const *dir, char const *local, char const *qmail, stralloc const *msg)
{
  char buf[sizeof VACATION_MARK] ;
  ssize_t r = 0 ;
  int fd ;
  umask(077) ;
  if (chdir(dir) < 0 || chdir(local) < 0) strerr_diefu4sys(111, "chdir to ", dir, "/", local) ;
  fd = open(".qmail", O_RDONLY | O_NOFOLLOW | O_CLOEXEC) ;
  if (fd < 0 && errno != ENOENT) strerr_diefu3sys(111, "open ", local, "/.qmail") ;
  if (fd >= 0)
  {
    r = allread(fd, buf, sizeof buf - 1) ;
    close(fd) ;
    if (r != sizeof buf - 1 || memcmp(buf, VACATION_MARK, r))
      strerr_dief3x(100, "nothing changed: ", local, "/.qmail was not written by mail-user vacation") ;
  }
  if (!qmail)
  {
    if (fd < 0) strerr_dief2x(100, "vacation is not on for ", local) ;
    if (unlink(".qmail") < 0) strerr_diefu3sys(111, "remove ", local, "/.qmail") ;
    return ;
  }
  mkdir_ok("vacation") ;
  if (msg->len ? !atomic_write("vacation/message", msg->s, msg->len, 0600)
   : (access("vacation/message", F_OK) < 0 && !atomic_write("vacation/message",
      "I am away from my mail, and will read your message when I am back.\n", 68, 0600)))
    strerr_diefu3sys(111, "write ", local, "/vacation/message") ;
  if (!atomic_write(".qmail", qmail, strlen(qmail), 0600)) strerr_diefu3sys(111, "write ", local, "/.qmail") ;
}

static int cmd_vacation (int argc, char const *const *argv)
{
  stralloc qmail = STRALLOC_ZERO, msg = STRALLOC_ZERO ;
  int on, wstat ;
  pid_t pid ;
  if (argc < 3 || argc > 4) usage1(U_VACATION) ;
  if (!strcmp(argv[2], "on")) on = 1 ;
  else if (!strcmp(argv[2], "off") && argc == 3) on = 0 ;
  else usage1(U_VACATION) ;
  address(argv[1], &x.local, &x.domain) ;
  if (argc == 4)
  {
    /* read here, as the caller: the file need not be readable by the domain's owner */
    int fd = open(argv[3], O_RDONLY | O_CLOEXEC) ;
    char buf[4096] ;
    if (fd < 0) strerr_diefu2sys(111, "open ", argv[3]) ;
    for (;;)
    {
      ssize_t r = read(fd, buf, sizeof buf) ;
      if (r < 0) { if (errno == EINTR) continue ; strerr_diefu2sys(111, "read ", argv[3]) ; }
      if (!r) break ;
      if (!stralloc_catb(&msg, buf, r)) strerr_diefu1sys(111, "allocate memory") ;
    }
    close(fd) ;
    if (!msg.len) strerr_dief2x(100, "empty message file: ", argv[3]) ;
  }
  read_setting() ;
  db_open(&u, 0) ;
  target_find(&u, &x) ;
  target_must(&x, 1) ;
  if (on)
  {
    /* the delivery the users database gives, then the answer */
    char const *f = x.e.forward ;
    if (!stralloc_cats(&qmail, VACATION_MARK)) strerr_diefu1sys(111, "allocate memory") ;
    while (*f)
    {
      size_t n = strcspn(f, ",") ;
      if (n && (!stralloc_catb(&qmail, "&", 1) || !stralloc_catb(&qmail, f, n) || !stralloc_catb(&qmail, "\n", 1)))
        strerr_diefu1sys(111, "allocate memory") ;
      f += n ; if (*f) f++ ;
    }
    if ((!*x.e.forward || x.e.flags & USERDB_KEEP) && !stralloc_cats(&qmail, "./Maildir/\n")) strerr_diefu1sys(111, "allocate memory") ;
    if (!stralloc_cats(&qmail, "|autorespond ./vacation\n") || !stralloc_0(&qmail)) strerr_diefu1sys(111, "allocate memory") ;
  }
  pid = fork() ;
  if (pid < 0) strerr_diefu1sys(111, "fork") ;
  if (!pid)
  {
    become(x.d.uid, x.d.gid) ;
    vacation_child(x.d.dir, x.local.s, on ? qmail.s : 0, &msg) ;
    _exit(0) ;
  }
  if (waitpid(pid, &wstat, 0) < 0) strerr_diefu1sys(111, "wait for the child") ;
  stralloc_free(&qmail) ; stralloc_free(&msg) ;
  return WIFEXITED(wstat) ? WEXITSTATUS(wstat) : 111 ;
}

/* import: the names in a users file and in the input, sorted to find the ones given twice */
typedef struct iname_s { char const *name ; unsigned int line ; } iname ;
static int iname_cmp (void const *a, void const *b)
{
  iname const *x = a, *y = b ;
  int c = strcmp(x->name, y->name) ;
  return c ? c : (x->line > y->line) - (x->line < y->line) ;
}

typedef struct ijob_s { char const *const *names ; size_t n ; } ijob ;
static ijob import_job ;

static void import_child (char const *dir, char const *unused)
{
  size_t i = 0 ;
  (void)unused ;
  for (; i < import_job.n ; i++) maildir_child(dir, import_job.names[i]) ;
}

/* import -V: a vpopmail domain directory's vpasswd and .qmail-NAME alias files, turned into
   lines of mail-users(5) appended to out. Every bad line is named (file, line); any makes
   it die 100 with nothing imported. */
static uint64_t vpop_quota (char const *s)
{
  uint64_t q = 0, mult = 1 ;
  size_t n = uint64_scan(s, &q) ;
  if (!n) return 0 ;   /* NOQUOTA */
  if (s[n] == 'k' || s[n] == 'K') mult = 1024 ;
  else if (s[n] == 'm' || s[n] == 'M') mult = 1024 * 1024 ;
  else if (s[n] == 'g' || s[n] == 'G') mult = 1024 * 1024 * 1024 ;
  return q > UINT64_MAX / mult ? 0 : q * mult ;
}

static void vpop_bad (unsigned int *bad, char const *file, unsigned int line, char const *why)
{
  char fmt[UINT_FMT] ;
  fmt[uint_fmt(fmt, line)] = 0 ;
  if (++*bad > 50) return ;
  if (line) strerr_warnw5x(file, " line ", fmt, ": ", why) ;
  else strerr_warnw3x(file, ": ", why) ;
}

static void vpop_read (char const *dir, stralloc *out)
{
  stralloc text = STRALLOC_ZERO, path = STRALLOC_ZERO, fwd = STRALLOC_ZERO ;
  size_t pos = 0, start, len ;
  unsigned int lineno = 0, bad = 0 ;
  DIR *dh ;
  struct dirent *de ;
  if (!stralloc_copys(&path, dir) || !stralloc_cats(&path, "/vpasswd") || !stralloc_0(&path)) strerr_diefu1sys(111, "allocate memory") ;
  if (!openreadfileclose(path.s, &text, 0) && errno != ENOENT) strerr_diefu2sys(111, "read ", path.s) ;
  while (userfile_line(&text, &pos, &start, &len))
  {
    char *f[8] ;
    unsigned int n = 0, gid = 0 ;
    char *p = text.s + start ;
    char const *why ;
    int r ;
    lineno++ ;
    p[len] = 0 ;
    if (!len || *p == '#') continue ;
    while (n < 8) { f[n++] = p ; p = strchr(p, ':') ; if (!p) break ; *p++ = 0 ; }
    if (n < 7 || p) { vpop_bad(&bad, path.s, lineno, "expected name:passwd:uid:gid:gecos:dir:shell[:clear]") ; continue ; }
    for (p = f[0] ; *p ; p++) if (*p >= 'A' && *p <= 'Z') *p += 32 ;
    if (!userdb_local_valid(f[0], strlen(f[0]))) { vpop_bad(&bad, path.s, lineno, "bad user name") ; continue ; }
    /* vpopmail's MD5-crypt kept, so that its users log in with the passwords they have */
    r = passwd_hash_ok_legacy(f[1], &why) ;
    if (!r) { vpop_bad(&bad, path.s, lineno, why) ; continue ; }
    if (f[3][0] && f[3][uint_scan(f[3], &gid)]) { vpop_bad(&bad, path.s, lineno, "bad pw_gid (flags)") ; continue ; }
    {
      userfile_user e = { .local = f[0], .hash = f[1], .flags = gid & 2 ? USERDB_DISABLED : 0, .quota = vpop_quota(f[6]), .forward = "" } ;
      if (!userfile_format_user(out, &e)) strerr_diefu1sys(111, "allocate memory") ;
    }
  }
  /* .qmail-NAME: an alias (a ':' in NAME is a '.'), forwarding to its address lines */
  dh = opendir(dir) ;
  if (!dh) strerr_diefu2sys(111, "open ", dir) ;
  while ((de = readdir(dh)))
  {
    size_t k = 0 ;
    char name[256] ;
    if (strncmp(de->d_name, ".qmail-", 7) || !strcmp(de->d_name, ".qmail-default")) continue ;
    if (strlen(de->d_name + 7) >= sizeof name) continue ;
    for (k = 0 ; de->d_name[7 + k] ; k++) { char c = de->d_name[7 + k] ; name[k] = c == ':' ? '.' : c >= 'A' && c <= 'Z' ? c + 32 : c ; }
    name[k] = 0 ;
    path.len = 0 ;
    if (!stralloc_cats(&path, dir) || !stralloc_catb(&path, "/", 1) || !stralloc_cats(&path, de->d_name) || !stralloc_0(&path)) strerr_diefu1sys(111, "allocate memory") ;
    if (!userdb_local_valid(name, k)) { vpop_bad(&bad, path.s, 0, "not an alias name sluice can have") ; continue ; }
    text.len = 0 ;
    if (!openreadfileclose(path.s, &text, 0)) strerr_diefu2sys(111, "read ", path.s) ;
    fwd.len = 0 ;
    for (pos = 0, lineno = 0 ; userfile_line(&text, &pos, &start, &len) ; )
    {
      char *l = text.s + start ;
      lineno++ ;
      l[len] = 0 ;
      if (!len || *l == '#') continue ;
      if (*l == '&') l++ ;
      if (!userfile_forward_valid(l) || strchr(l, ',')) { vpop_bad(&bad, path.s, lineno, "not a forward address (programs and files are not imported)") ; continue ; }
      if ((fwd.len && !stralloc_catb(&fwd, ",", 1)) || !stralloc_cats(&fwd, l)) strerr_diefu1sys(111, "allocate memory") ;
    }
    if (!fwd.len) continue ;
    if (!stralloc_0(&fwd)) strerr_diefu1sys(111, "allocate memory") ;
    {
      userfile_user e = { .local = name, .hash = "", .flags = USERDB_ALIAS, .quota = 0, .forward = fwd.s } ;
      if (!userfile_format_user(out, &e)) strerr_diefu1sys(111, "allocate memory") ;
    }
  }
  closedir(dh) ;
  if (bad)
  {
    char fmt[UINT_FMT] ;
    fmt[uint_fmt(fmt, bad)] = 0 ;
    strerr_dief3x(100, "nothing imported: ", fmt, " bad line(s) in the vpopmail files") ;
  }
  stralloc_free(&text) ; stralloc_free(&path) ; stralloc_free(&fwd) ;
}

#define U_IMPORT "mail-user import [ -V vpopmail-domain-dir ] domain"
static int cmd_import (int argc, char const *const *argv)
{
  stralloc domain = STRALLOC_ZERO, dtmp = STRALLOC_ZERO, in = STRALLOC_ZERO, copy = STRALLOC_ZERO,
    old = STRALLOC_ZERO, add = STRALLOC_ZERO ;
  userfile_dom d ;
  userfile_text *t ;
  iname *names = 0 ;
  char const **homes = 0 ;
  size_t nn = 0, nh = 0, cap = 0, pos, start, len, i ;
  unsigned int lineno = 0, bad = 0, legacy = 0 ;
  char fmt[UINT_FMT] ;
  char seen[1] = { 0 } ;
  char const *args[1] = { 0 } ;
  int ai = opts(argc, argv, "V:", U_IMPORT, seen, args) ;
  if (argc - ai != 1) usage1(U_IMPORT) ;
  cdb_only("import") ;
  domain_arg(argv[ai], &domain) ;
  if (seen[0]) vpop_read(args[0], &in) ;
  else for (;;)
  {
    ssize_t r ;
    if (!stralloc_readyplus(&in, 65536)) strerr_diefu1sys(111, "allocate memory") ;
    r = read(0, in.s + in.len, 65536) ;
    if (r < 0) { if (errno == EINTR) continue ; strerr_diefu1sys(111, "read stdin") ; }
    if (!r) break ;
    in.len += r ;
  }
  read_setting() ;
  db_open(&u, 1) ;
  real_domain(&u, domain.s, &d, &dtmp) ;
  t = users_of(&u, &d) ;
  /* the names there already (lines that do not parse are the compiler's business) */
  if (!stralloc_copy(&old, &t->text) || !stralloc_0(&old) || !stralloc_copy(&copy, &in) || !stralloc_0(&copy))
    strerr_diefu1sys(111, "allocate memory") ;
  for (pos = 0 ; userfile_line(&t->text, &pos, &start, &len) ; )
  {
    userfile_user e ;
    char const *why ;
    old.s[start + len] = 0 ;
    if (!len || old.s[start] == '#' || !userfile_parse_user(old.s + start, &e, &why)) continue ;
    if (nn == cap && !(names = realloc(names, (cap = cap * 2 + 1024) * sizeof *names))) strerr_diefu1sys(111, "allocate memory") ;
    names[nn].name = e.local ; names[nn++].line = 0 ;
  }
  for (pos = 0 ; userfile_line(&in, &pos, &start, &len) ; )
  {
    userfile_user e ;
    char const *why ;
    lineno++ ;
    copy.s[start + len] = 0 ;
    if (!len || copy.s[start] == '#') continue ;
    if (!userfile_parse_user(copy.s + start, &e, &why))
    {
      fmt[uint_fmt(fmt, lineno)] = 0 ;
      if (++bad <= 50) strerr_warnw4x("stdin line ", fmt, ": ", why) ;
      continue ;
    }
    if (nn == cap && !(names = realloc(names, (cap = cap * 2 + 1024) * sizeof *names))) strerr_diefu1sys(111, "allocate memory") ;
    names[nn].name = e.local ; names[nn++].line = lineno ;
    if (e.hash[0] && passwd_legacy(e.hash)) legacy++ ;
    if (!userfile_format_user(&add, &e)) strerr_diefu1sys(111, "allocate memory") ;
    if (!(e.flags & USERDB_ALIAS))
    {
      if (!(nh & 1023) && !(homes = realloc(homes, (nh + 1024) * sizeof *homes))) strerr_diefu1sys(111, "allocate memory") ;
      homes[nh++] = e.local ;
    }
  }
  if (nn) qsort(names, nn, sizeof *names, &iname_cmp) ;
  for (i = 1 ; i < nn ; i++)
    if (!strcmp(names[i].name, names[i-1].name))
    {
      fmt[uint_fmt(fmt, names[i].line)] = 0 ;
      if (++bad <= 50) strerr_warnw5x("stdin line ", fmt, ": ", names[i-1].line ? "user given twice: " : "user exists already: ", names[i].name) ;
    }
  if (bad)
  {
    fmt[uint_fmt(fmt, bad)] = 0 ;
    strerr_dief3x(100, "nothing imported: ", fmt, " bad line(s) on stdin") ;
  }
  import_job.names = homes ; import_job.n = nh ;
  if (nh) as_owner(d.uid, d.gid, &import_child, d.dir, 0) ;
  if (add.len && !userfile_append(t, add.s, add.len)) strerr_diefu1sys(111, "allocate memory") ;
  db_commit(&u) ;
  if (legacy)
  {
    fmt[uint_fmt(fmt, legacy)] = 0 ;
    strerr_warnw6x(fmt, " user(s) imported with a legacy hash (md5crypt, sha256crypt): they log in as before;",
      " mail-user weak ", d.name, " lists them, and a new password (mail-user passwd) is hashed with the configured method", "") ;
  }
  stralloc_free(&domain) ; stralloc_free(&dtmp) ; stralloc_free(&in) ; stralloc_free(&copy) ; stralloc_free(&old) ; stralloc_free(&add) ; free(names) ; free(homes) ;
  return 0 ;
}

#define U_REBUILD "mail-user rebuild"
static int cmd_rebuild (int argc, char const *const *argv)
{
  (void)argv ;
  if (argc != 1) usage1(U_REBUILD) ;
  cdb_only("rebuild") ;
  read_setting() ;
  db_open(&u, 1) ;
  db_commit(&u) ;
  return 0 ;
}

static struct command_s
{
  char const *name ;
  int (*run) (int, char const *const *) ;
} const commands[] =
{
  { "adddomain", &cmd_adddomain },
  { "adduser", &cmd_adduser },
  { "aliasdomain", &cmd_aliasdomain },
  { "catchall", &cmd_catchall },
  { "deldomain", &cmd_deldomain },
  { "deluser", &cmd_deluser },
  { "disable", &cmd_disable },
  { "domains", &cmd_domains },
  { "enable", &cmd_enable },
  { "forward", &cmd_forward },
  { "import", &cmd_import },
  { "initdb", &cmd_initdb },
  { "passwd", &cmd_passwd },
  { "quota", &cmd_quota },
  { "rebuild", &cmd_rebuild },
  { "show", &cmd_show },
  { "unforward", &cmd_unforward },
  { "users", &cmd_users },
  { "vacation", &cmd_vacation },
  { "weak", &cmd_weak },
  { 0, 0 }
} ;

int main (int argc, char const *const *argv)
{
  struct command_s const *c = commands ;
  PROG = "mail-user" ;
  if (argc < 2) dieusage() ;
  for (; c->name ; c++) if (!strcmp(argv[1], c->name)) break ;
  if (!c->name) dieusage() ;
  sql_init() ;
  {
    int r = c->run(argc - 1, argv + 1) ;
    userfile_free(&u) ;
    target_free(&x) ;
    stralloc_free(&err) ;
    return r ;
  }
}
