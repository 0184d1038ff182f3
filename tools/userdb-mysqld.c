/* userdb-mysqld: answer the user-database lookups (and mail-user's changes) of one instance
   root on a unix socket, from a MariaDB database read and written with prepared statements
   only; the one program linked with MariaDB Connector/C. One request per line, the answer on
   one line (sluice-mysql(5)); the sets of addresses of the mailing lists kept in SQL too. */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <mysql.h>
#include <errmsg.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/sgetopt.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "unixlisten.h"
#include "control.h"
#include "usersql.h"

#define USAGE "userdb-mysqld [ -n workers ] [ -c maxclients ] [ -m mode ] [ -s socket ] [ -u uid -g gid ] config"
#define dieusage() strerr_dieusage(100, USAGE)

#define LINEMAX 65536           /* a longer request is refused and its client dropped */
#define FIELDMAX 4096           /* a longer column value is an error, never truncated */
#define NCOLS 8

/* ---- the configuration file: key=value lines ---- */

static stralloc host = STRALLOC_ZERO, sockpath = STRALLOC_ZERO, dbname = STRALLOC_ZERO, dbuser = STRALLOC_ZERO, dbpass = STRALLOC_ZERO ;
static unsigned int port = 0, timeout = 2 ;
#define LISTWRITERS 16
static uid_t listwriters[LISTWRITERS] ;   /* uids that may change the lists' sets */
static unsigned int nlistwriters = 0 ;

/* listwriters=uid,uid,...: the owners of the lists kept in SQL */
static int listwriters_scan (char const *s)
{
  while (*s)
  {
    unsigned int u ;
    size_t n = uint_scan(s, &u) ;
    if (!n || nlistwriters == LISTWRITERS || (s[n] && s[n] != ',')) return 0 ;
    listwriters[nlistwriters++] = u ;
    s += n + !!s[n] ;
  }
  return 1 ;
}

static void config_read (char const *file)
{
  stralloc text = STRALLOC_ZERO ;
  size_t i = 0 ;
  unsigned int lineno = 0 ;
  char fmt[UINT_FMT] ;
  if (!openreadfileclose(file, &text, 65536)) strerr_diefu2sys(111, "read ", file) ;
  while (i < text.len)
  {
    char *nl = memchr(text.s + i, '\n', text.len - i) ;
    size_t n = nl ? (size_t)(nl - text.s) - i : text.len - i ;
    char *line = text.s + i ;
    char *eq ;
    stralloc *to = 0 ;
    i += n + 1 ;
    lineno++ ;
    if (n && line[n-1] == '\r') n-- ;
    line[n] = 0 ;
    if (!n || line[0] == '#') continue ;
    fmt[uint_fmt(fmt, lineno)] = 0 ;
    eq = strchr(line, '=') ;
    if (!eq) strerr_dief5x(100, file, " line ", fmt, ": not key=value: ", line) ;
    *eq++ = 0 ;
    if (!strcmp(line, "host")) to = &host ;
    else if (!strcmp(line, "socket")) to = &sockpath ;
    else if (!strcmp(line, "database")) to = &dbname ;
    else if (!strcmp(line, "user")) to = &dbuser ;
    else if (!strcmp(line, "password")) to = &dbpass ;
    else if (!strcmp(line, "port")) { if (!uint0_scan(eq, &port) || port > 65535) strerr_dief4x(100, file, " line ", fmt, ": bad port") ; }
    else if (!strcmp(line, "listwriters")) { if (!listwriters_scan(eq)) strerr_dief4x(100, file, " line ", fmt, ": bad listwriters (at most 16 numeric uids, comma-separated)") ; }
    else if (!strcmp(line, "timeout")) { if (!uint0_scan(eq, &timeout) || !timeout) strerr_dief4x(100, file, " line ", fmt, ": bad timeout (seconds, at least 1)") ; }
    else strerr_dief5x(100, file, " line ", fmt, ": unknown key: ", line) ;
    if (to && (!stralloc_copys(to, eq) || !stralloc_0(to))) strerr_diefu1sys(111, "allocate memory") ;
  }
  explicit_bzero(text.s, text.len) ;
  stralloc_free(&text) ;
  if (!dbname.len) strerr_dief2x(100, file, ": no database=") ;
  if (!dbuser.len) strerr_dief2x(100, file, ": no user=") ;
}

/* ---- the statements ---- */

enum { S_DOMAIN, S_USER, S_ALIAS, S_USERS, S_ADDDOMAIN, S_ALIASDOMAIN, S_DELDOMAIN, S_DELDOMUSERS,
       S_DELDOMALIASES, S_DELDOMALIASDOMS, S_ADDUSER, S_DELUSER, S_DELALIAS, S_PASSWD, S_QUOTA,
       S_FLAGSET, S_FLAGCLEAR, S_ADDALIAS, S_CATCHALL, S_SETHAS, S_SETADD, S_SETDEL, S_SETPAGE, NSTMT } ;

static char const *const sql[NSTMT] =
{
  /* the real domain of a domain or of one of its aliases */
  [S_DOMAIN] = "SELECT d.domain, d.uid, d.gid, d.dir, d.catchall FROM sluice_domains a JOIN sluice_domains d"
               " ON d.domain = IF(a.alias_of = '', a.domain, a.alias_of) AND d.alias_of = '' WHERE a.domain = ?",
  [S_USER] = "SELECT pw_dir, pw_passwd, pw_gid, pw_shell FROM vpopmail WHERE pw_name = ? AND pw_domain = ?",
  [S_ALIAS] = "SELECT valias_line FROM valias WHERE alias = ? AND domain = ?",
  [S_USERS] = "SELECT pw_name FROM vpopmail WHERE pw_domain = ? UNION SELECT alias FROM valias WHERE domain = ? ORDER BY 1",
  [S_ADDDOMAIN] = "INSERT INTO sluice_domains (domain, alias_of, uid, gid, dir, catchall) VALUES (?, '', ?, ?, ?, '')",
  [S_ALIASDOMAIN] = "INSERT INTO sluice_domains (domain, alias_of, uid, gid, dir, catchall) VALUES (?, ?, 0, 0, '', '')",
  [S_DELDOMAIN] = "DELETE FROM sluice_domains WHERE domain = ?",
  [S_DELDOMUSERS] = "DELETE FROM vpopmail WHERE pw_domain = ?",
  [S_DELDOMALIASES] = "DELETE FROM valias WHERE domain = ?",
  [S_DELDOMALIASDOMS] = "DELETE FROM sluice_domains WHERE alias_of = ?",
  [S_ADDUSER] = "INSERT INTO vpopmail (pw_name, pw_domain, pw_passwd, pw_uid, pw_gid, pw_gecos, pw_dir, pw_shell, pw_clear_passwd)"
                " VALUES (?, ?, ?, 0, 0, ?, ?, ?, '')",
  [S_DELUSER] = "DELETE FROM vpopmail WHERE pw_name = ? AND pw_domain = ?",
  [S_DELALIAS] = "DELETE FROM valias WHERE alias = ? AND domain = ?",
  [S_PASSWD] = "UPDATE vpopmail SET pw_passwd = ? WHERE pw_name = ? AND pw_domain = ?",
  [S_QUOTA] = "UPDATE vpopmail SET pw_shell = ? WHERE pw_name = ? AND pw_domain = ?",
  [S_FLAGSET] = "UPDATE vpopmail SET pw_gid = pw_gid | 2 WHERE pw_name = ? AND pw_domain = ?",
  [S_FLAGCLEAR] = "UPDATE vpopmail SET pw_gid = pw_gid & ~2 WHERE pw_name = ? AND pw_domain = ?",
  [S_ADDALIAS] = "INSERT INTO valias (alias, domain, valias_line) VALUES (?, ?, ?)",
  [S_CATCHALL] = "UPDATE sluice_domains SET catchall = ? WHERE domain = ? AND alias_of = ''",
  /* the lists' sets: one row an address; a page of at most USERSQL_SETPAGE, in byte order */
  [S_SETHAS] = "SELECT 1 FROM sluice_list_members WHERE list = ? AND kind = ? AND address = ?",
  [S_SETADD] = "INSERT IGNORE INTO sluice_list_members (list, kind, address) VALUES (?, ?, ?)",
  [S_SETDEL] = "DELETE FROM sluice_list_members WHERE list = ? AND kind = ? AND address = ?",
  [S_SETPAGE] = "SELECT address FROM sluice_list_members WHERE list = ? AND kind = ? AND address > ?"
                " ORDER BY address LIMIT " USERSQL_SETPAGE_S,
} ;

#define SCHEMA_LISTS "CREATE TABLE IF NOT EXISTS sluice_list_members (list varbinary(255) NOT NULL," \
  " kind varbinary(16) NOT NULL, address varbinary(320) NOT NULL, PRIMARY KEY (list, kind, address))"

/* the schema that mail-user initdb makes: vpopmail's two tables as vpopmail makes them, and
   the domains, which vpopmail kept in qmail's users/assign */
static char const *const schema[] =
{
  "CREATE TABLE IF NOT EXISTS vpopmail (pw_name char(32) NOT NULL, pw_domain char(96) NOT NULL,"
  " pw_passwd char(128), pw_uid int, pw_gid int, pw_gecos char(48), pw_dir char(160), pw_shell char(20),"
  " pw_clear_passwd char(16), PRIMARY KEY (pw_name, pw_domain))",
  "CREATE TABLE IF NOT EXISTS valias (alias char(32) NOT NULL, domain char(96) NOT NULL,"
  " valias_line text NOT NULL, INDEX (alias, domain))",
  "CREATE TABLE IF NOT EXISTS sluice_domains (domain char(96) NOT NULL PRIMARY KEY,"
  " alias_of char(96) NOT NULL DEFAULT '', uid int unsigned NOT NULL, gid int unsigned NOT NULL,"
  " dir varchar(255) NOT NULL, catchall text NOT NULL, INDEX (alias_of))",
  SCHEMA_LISTS,
  0
} ;

static MYSQL *my = 0 ;
static MYSQL_STMT *stmt[NSTMT] ;
static time_t downsince = 0 ;   /* the last failed connect: no new try for a second */
static char const *lasterr = "" ;

static void db_close (void)
{
  unsigned int i ;
  for (i = 0 ; i < NSTMT ; i++) if (stmt[i]) { mysql_stmt_close(stmt[i]) ; stmt[i] = 0 ; }
  if (my) { mysql_close(my) ; my = 0 ; }
}

static int db_connect (void)
{
  unsigned int t = timeout ;
  time_t now = time(0) ;
  if (my) return 1 ;
  if (downsince && now - downsince < 1) { lasterr = "database unreachable" ; return 0 ; }
  my = mysql_init(0) ;
  if (!my) { lasterr = "out of memory" ; return 0 ; }
  mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &t) ;
  mysql_options(my, MYSQL_OPT_READ_TIMEOUT, &t) ;
  mysql_options(my, MYSQL_OPT_WRITE_TIMEOUT, &t) ;
  mysql_options(my, MYSQL_SET_CHARSET_NAME, "utf8mb4") ;
  if (!mysql_real_connect(my, host.len ? host.s : 0, dbuser.s, dbpass.len ? dbpass.s : 0, dbname.s,
                          port, sockpath.len ? sockpath.s : 0, 0))
  {
    strerr_warnwu2x("connect to the database: ", mysql_error(my)) ;
    mysql_close(my) ;
    my = 0 ;
    downsince = now ;
    lasterr = "database unreachable" ;
    return 0 ;
  }
  downsince = 0 ;
  return 1 ;
}

/* a result row: up to NCOLS columns, each 0-terminated in row.s at off[i] (0 when NULL) */
typedef struct row_s { stralloc sa ; size_t off[NCOLS] ; int null[NCOLS] ; } row ;

/* ---- running one statement ---- */

static int listing = 0 ;        /* 1: run() puts each row's first column into the answer */
static int listput (char const *s) ;

static int gone (unsigned int e)
{
  return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONN_HOST_ERROR
      || e == CR_CONNECTION_ERROR || e == 1927 /* ER_CONNECTION_KILLED */ || e == 4031 ;
}

static int prepare (unsigned int k)
{
  if (stmt[k]) return 1 ;
  stmt[k] = mysql_stmt_init(my) ;
  if (!stmt[k]) { lasterr = "out of memory" ; return 0 ; }
  if (mysql_stmt_prepare(stmt[k], sql[k], strlen(sql[k])))
  {
    strerr_warnwu2x("prepare a statement: ", mysql_stmt_error(stmt[k])) ;
    if (gone(mysql_stmt_errno(stmt[k]))) lasterr = "gone" ;
    else lasterr = "database error" ;
    mysql_stmt_close(stmt[k]) ;
    stmt[k] = 0 ;
    return 0 ;
  }
  return 1 ;
}

/* Execute statement k with np string parameters; each row's columns go to rows (an array of
   *nrows, at most maxrows). 1 done, 0 failed (lasterr; "gone" when the connection broke). */
static int run (unsigned int k, char const *const *p, size_t const *plen, unsigned int np, row *rows, unsigned int maxrows, unsigned int *nrows)
{
  MYSQL_STMT *s ;
  MYSQL_BIND in[6] ;
  unsigned long inlen[6] ;
  unsigned int i, nc ;
  if (!db_connect()) return 0 ;
  if (!prepare(k)) return 0 ;
  s = stmt[k] ;
  memset(in, 0, sizeof in) ;
  for (i = 0 ; i < np ; i++)
  {
    in[i].buffer_type = MYSQL_TYPE_STRING ;
    in[i].buffer = (void *)p[i] ;
    in[i].buffer_length = inlen[i] = plen[i] ;
    in[i].length = &inlen[i] ;
  }
  if ((np && mysql_stmt_bind_param(s, in)) || mysql_stmt_execute(s)) goto fail ;
  if (nrows) *nrows = 0 ;
  nc = mysql_stmt_field_count(s) ;
  if (!nc) return 1 ;
  if (nc > NCOLS) { lasterr = "database error" ; mysql_stmt_free_result(s) ; return 0 ; }
  {
    static char buf[NCOLS][FIELDMAX] ;
    unsigned long len[NCOLS] ;
    my_bool isnull[NCOLS], trunc[NCOLS] ;
    MYSQL_BIND out[NCOLS] ;
    int r ;
    memset(out, 0, sizeof out) ;
    for (i = 0 ; i < nc ; i++)
    {
      out[i].buffer_type = MYSQL_TYPE_STRING ;
      out[i].buffer = buf[i] ;
      out[i].buffer_length = FIELDMAX ;
      out[i].length = &len[i] ;
      out[i].is_null = &isnull[i] ;
      out[i].error = &trunc[i] ;
    }
    if (mysql_stmt_bind_result(s, out)) goto fail ;
    while (!(r = mysql_stmt_fetch(s)))
    {
      row *w ;
      if (listing)
      {
        /* L: every row's first column straight into the answer */
        buf[0][isnull[0] ? 0 : len[0] < FIELDMAX ? len[0] : FIELDMAX - 1] = 0 ;
        if (!listput(buf[0])) { mysql_stmt_free_result(s) ; return 0 ; }
        continue ;
      }
      if (!nrows || *nrows >= maxrows) continue ;
      w = rows + (*nrows)++ ;
      w->sa.len = 0 ;
      for (i = 0 ; i < nc ; i++)
      {
        w->null[i] = isnull[i] ;
        w->off[i] = w->sa.len ;
        if (!stralloc_catb(&w->sa, buf[i], isnull[i] ? 0 : len[i]) || !stralloc_0(&w->sa))
        { mysql_stmt_free_result(s) ; lasterr = "out of memory" ; return 0 ; }
      }
    }
    mysql_stmt_free_result(s) ;
    if (r == MYSQL_DATA_TRUNCATED) { lasterr = "a value too long in the database" ; return 0 ; }
    if (r != MYSQL_NO_DATA) goto fail ;
  }
  return 1 ;
 fail:
  strerr_warnw2x("database: ", mysql_stmt_error(s)) ;
  lasterr = gone(mysql_stmt_errno(s)) ? "gone" : "database error" ;
  return 0 ;
}

static unsigned long long affected (unsigned int k) { return mysql_stmt_affected_rows(stmt[k]) ; }

/* ---- answers ---- */

static stralloc ans = STRALLOC_ZERO ;

/* a value into the answer: no tab, newline or NUL may be in it (else 0) */
static int put (char const *s)
{
  size_t n = strlen(s) ;
  if (strcspn(s, "\t\n\r") != n) return 0 ;
  return stralloc_catb(&ans, "\t", 1) && stralloc_catb(&ans, s, n) ;
}

static int listput (char const *s)
{
  if (put(s)) return 1 ;
  lasterr = "a value the protocol cannot carry in the database" ;
  return 0 ;
}

/* vpopmail's pw_shell: NOQUOTA, or bytes (with S, or k/M/G), then perhaps ",NNNC" */
static void quota_text (char const *s, char *out)
{
  uint64_t q = 0, mult = 1 ;
  size_t n = uint64_scan(s, &q) ;
  if (!n) { out[0] = 0 ; return ; }
  switch (s[n])
  {
    case 'k' : case 'K' : mult = 1024 ; break ;
    case 'm' : case 'M' : mult = 1024 * 1024 ; break ;
    case 'g' : case 'G' : mult = 1024 * 1024 * 1024 ; break ;
    default : break ;
  }
  out[uint64_fmt(out, q * mult)] = 0 ;
}

#define MAXROWS 256
static row rows[MAXROWS] ;

/* D domain -> 1 real uid gid dir catchall */
static int ask_domain (char const *domain, size_t dl, row *d)
{
  unsigned int n ;
  if (!run(S_DOMAIN, &domain, &dl, 1, d, 1, &n)) return -1 ;
  return n ? 1 : 0 ;
}

/* U local domain -> 1 local realdomain uid gid home hash flags quota forward */
static int ask_user (char const *const *f, size_t const *fl)
{
  row d = { .sa = STRALLOC_ZERO } ;
  char const *p[2] ;
  size_t pl[2] ;
  unsigned int nu, na, i ;
  stralloc fwd = STRALLOC_ZERO ;
  int keep = 0, r = ask_domain(f[1], fl[1], &d) ;
  if (r <= 0) { stralloc_free(&d.sa) ; return r ; }
  p[0] = f[0] ; pl[0] = fl[0] ;
  p[1] = d.sa.s + d.off[0] ; pl[1] = strlen(p[1]) ;
  if (!run(S_USER, p, pl, 2, rows, 1, &nu)) { stralloc_free(&d.sa) ; return -1 ; }
  {
    row u = rows[0] ;
    rows[0].sa = (stralloc)STRALLOC_ZERO ;
    if (!run(S_ALIAS, p, pl, 2, rows, MAXROWS, &na)) { stralloc_free(&d.sa) ; stralloc_free(&u.sa) ; return -1 ; }
    for (i = 0 ; i < na ; i++)
    {
      char const *l = rows[i].sa.s + rows[i].off[0] ;
      if (*l == '&') l++ ;
      if (*l == '.' || *l == '/') { keep = 1 ; continue ; }   /* a Maildir line: a copy kept */
      if (!*l || *l == '|' || *l == '#') continue ;             /* programs are not run from SQL */
      if ((fwd.len && !stralloc_catb(&fwd, ",", 1)) || !stralloc_cats(&fwd, l)) { lasterr = "out of memory" ; r = -1 ; break ; }
    }
    if (!stralloc_0(&fwd)) { lasterr = "out of memory" ; r = -1 ; }
    if (r > 0 && !nu && !fwd.s[0]) r = 0 ;
    if (r > 0)
    {
      char q[UINT64_FMT + 1] ;
      char const *flags = "alias" ;
      ans.len = 0 ;
      q[0] = 0 ;
      if (nu)
      {
        unsigned int g = 0 ;
        uint_scan(u.sa.s + u.off[2], &g) ;
        flags = g & 2 ? (keep ? "disabled,keep" : "disabled") : keep ? "keep" : "" ;
        quota_text(u.sa.s + u.off[3], q) ;
      }
      if (!stralloc_catb(&ans, "1", 1) || !put(f[0]) || !put(d.sa.s + d.off[0]) || !put(d.sa.s + d.off[1]) || !put(d.sa.s + d.off[2])
       || !put(nu ? u.sa.s + u.off[0] : "") || !put(nu ? u.sa.s + u.off[1] : "") || !put(flags) || !put(q) || !put(fwd.s))
      { lasterr = "a value the protocol cannot carry in the database" ; r = -1 ; }
    }
    stralloc_free(&u.sa) ;
  }
  stralloc_free(&fwd) ;
  stralloc_free(&d.sa) ;
  return r ;
}

/* ---- writes: each request one transaction ---- */

static int begin (void)
{
  if (!db_connect()) return 0 ;
  if (mysql_query(my, "START TRANSACTION")) { lasterr = gone(mysql_errno(my)) ? "gone" : "database error" ; return 0 ; }
  return 1 ;
}

static int commit (int ok)
{
  if (!my) return 0 ;
  if (ok) { if (!mysql_commit(my)) return 1 ; strerr_warnwu2x("commit: ", mysql_error(my)) ; lasterr = "database error" ; }
  mysql_rollback(my) ;
  return 0 ;
}

/* run a write statement with n parameters from f (field indexes idx) */
static int w (unsigned int k, char const *const *f, size_t const *fl, unsigned int n, unsigned int const *idx)
{
  char const *p[6] ;
  size_t pl[6] ;
  unsigned int i ;
  for (i = 0 ; i < n ; i++) { p[i] = f[idx[i]] ; pl[i] = fl[idx[i]] ; }
  return run(k, p, pl, n, 0, 0, 0) ;
}

static unsigned int const I01[] = { 0, 1 }, I201[] = { 2, 0, 1 }, I0[] = { 0 } ;

static unsigned long long setchanged ;   /* rows an SA or SR request added or removed */

/* a write request: 1 done, 0 refused (*why), -1 failed (lasterr) */
static int change (char const *cmd, char const *const *f, size_t const *fl, unsigned int nf, char const **why)
{
  int ok = 1 ;
  *why = "bad request" ;
  if (!strcmp(cmd, "I"))
  {
    unsigned int i ;
    if (!db_connect()) return -1 ;
    for (i = 0 ; schema[i] ; i++)
      if (mysql_query(my, schema[i])) { strerr_warnwu2x("create the tables: ", mysql_error(my)) ; lasterr = "database error" ; return -1 ; }
    return 1 ;
  }
  if (!strcmp(cmd, "SI"))
  {
    if (!db_connect()) return -1 ;
    if (mysql_query(my, SCHEMA_LISTS)) { strerr_warnwu2x("create the table of the lists: ", mysql_error(my)) ; lasterr = gone(mysql_errno(my)) ? "gone" : "database error" ; return -1 ; }
    return 1 ;
  }
  if (!begin()) return -1 ;
  if ((!strcmp(cmd, "SA") || !strcmp(cmd, "SR")) && nf >= 3)   /* list set addr... */
  {
    unsigned int k = cmd[1] == 'A' ? S_SETADD : S_SETDEL, i ;
    setchanged = 0 ;
    for (i = 2 ; ok && i < nf ; i++)
    {
      char const *p[3] = { f[0], f[1], f[i] } ;
      size_t pl[3] = { fl[0], fl[1], fl[i] } ;
      ok = run(k, p, pl, 3, 0, 0, 0) ;
      if (ok) setchanged += affected(k) ;
    }
  }
  else if (!strcmp(cmd, "AD") && nf == 4)          /* domain uid gid dir */
  {
    row d = { .sa = STRALLOC_ZERO } ;
    int r = ask_domain(f[0], fl[0], &d) ;
    stralloc_free(&d.sa) ;
    if (r < 0) ok = 0 ;
    else if (r) { *why = "domain exists already" ; commit(0) ; return 0 ; }
    else
    {
      unsigned int const idx[] = { 0, 1, 2, 3 } ;
      ok = w(S_ADDDOMAIN, f, fl, 4, idx) ;
    }
  }
  else if (!strcmp(cmd, "AA") && nf == 2)     /* alias real */
  {
    row d = { .sa = STRALLOC_ZERO } ;
    int r = ask_domain(f[0], fl[0], &d) ;
    if (r > 0) { stralloc_free(&d.sa) ; *why = "domain exists already" ; commit(0) ; return 0 ; }
    if (!r) r = ask_domain(f[1], fl[1], &d) ;
    if (!r) { stralloc_free(&d.sa) ; *why = "no such domain" ; commit(0) ; return 0 ; }
    if (r > 0)
    {
      char const *p[2] = { f[0], d.sa.s + d.off[0] } ;
      size_t pl[2] = { fl[0], strlen(p[1]) } ;
      ok = run(S_ALIASDOMAIN, p, pl, 2, 0, 0, 0) ;
    }
    else ok = 0 ;
    stralloc_free(&d.sa) ;
  }
  else if (!strcmp(cmd, "DD") && nf == 1)     /* domain: its users, aliases, alias domains */
  {
    ok = w(S_DELDOMUSERS, f, fl, 1, I0) && w(S_DELDOMALIASES, f, fl, 1, I0) && w(S_DELDOMALIASDOMS, f, fl, 1, I0)
      && w(S_DELDOMAIN, f, fl, 1, I0) ;
    if (ok && !affected(S_DELDOMAIN)) { *why = "no such domain" ; commit(0) ; return 0 ; }
  }
  else if (!strcmp(cmd, "AU") && nf == 5)     /* local domain hash quota home */
  {
    char const *p[6] = { f[0], f[1], f[2], f[0], f[4], f[3] } ;
    size_t pl[6] = { fl[0], fl[1], fl[2], fl[0], fl[4], fl[3] } ;
    unsigned int nu, na ;
    ok = run(S_USER, p, pl, 2, rows, 1, &nu) && run(S_ALIAS, p, pl, 2, rows, 1, &na) ;
    if (ok && (nu || na)) { *why = "user exists already" ; commit(0) ; return 0 ; }
    if (ok) ok = run(S_ADDUSER, p, pl, 6, 0, 0, 0) ;
  }
  else if (!strcmp(cmd, "DU") && nf == 2)     /* local domain */
  {
    unsigned long long n ;
    ok = w(S_DELUSER, f, fl, 2, I01) ;
    n = ok ? affected(S_DELUSER) : 0 ;
    ok = ok && w(S_DELALIAS, f, fl, 2, I01) ;
    if (ok && !n && !affected(S_DELALIAS)) { *why = "no such user" ; commit(0) ; return 0 ; }
  }
  else if ((!strcmp(cmd, "PW") || !strcmp(cmd, "QU")) && nf == 3)   /* local domain value */
  {
    ok = w(cmd[0] == 'P' ? S_PASSWD : S_QUOTA, f, fl, 3, I201) ;
    if (ok && !affected(cmd[0] == 'P' ? S_PASSWD : S_QUOTA))
    {
      /* no change: the same value again, or no such user */
      unsigned int nu ;
      ok = run(S_USER, f, fl, 2, rows, 1, &nu) ;
      if (ok && !nu) { *why = "no such user (or an alias)" ; commit(0) ; return 0 ; }
    }
  }
  else if ((!strcmp(cmd, "DI") || !strcmp(cmd, "EN")) && nf == 2)
  {
    unsigned int nu ;
    ok = run(S_USER, f, fl, 2, rows, 1, &nu) ;
    if (ok && !nu) { *why = "no such user (or an alias)" ; commit(0) ; return 0 ; }
    ok = ok && w(cmd[0] == 'D' ? S_FLAGSET : S_FLAGCLEAR, f, fl, 2, I01) ;
  }
  else if (!strcmp(cmd, "FW") && nf >= 3)     /* local domain keep addr... (none: unforward) */
  {
    unsigned int i ;
    ok = w(S_DELALIAS, f, fl, 2, I01) ;
    if (ok && f[2][0] == '1')
    {
      char const *p[3] = { f[0], f[1], "./Maildir/" } ;
      size_t pl[3] = { fl[0], fl[1], 10 } ;
      ok = run(S_ADDALIAS, p, pl, 3, 0, 0, 0) ;
    }
    for (i = 3 ; ok && i < nf ; i++)
    {
      char line[fl[i] + 2] ;
      char const *p[3] = { f[0], f[1], line } ;
      size_t pl[3] = { fl[0], fl[1], fl[i] + 1 } ;
      line[0] = '&' ; memcpy(line + 1, f[i], fl[i]) ; line[fl[i] + 1] = 0 ;
      ok = run(S_ADDALIAS, p, pl, 3, 0, 0, 0) ;
    }
  }
  else if (!strcmp(cmd, "CA") && nf == 2)     /* domain catchall */
  {
    unsigned int const idx[] = { 1, 0 } ;
    row d = { .sa = STRALLOC_ZERO } ;
    int r = ask_domain(f[0], fl[0], &d) ;
    stralloc_free(&d.sa) ;
    if (!r) { *why = "no such domain" ; commit(0) ; return 0 ; }
    ok = r > 0 && w(S_CATCHALL, f, fl, 2, idx) ;
  }
  else { commit(0) ; return 0 ; }
  if (!commit(ok)) return -1 ;
  return 1 ;
}

/* ---- requests ---- */

#define MAXFIELDS 80

/* split line (len bytes, may hold NULs) at tabs: the number of fields, MAXFIELDS + 1 when
   there are more */
static unsigned int split (char *line, size_t len, char const **f, size_t *fl)
{
  unsigned int n = 0 ;
  size_t i = 0, start = 0 ;
  for (; i <= len ; i++)
    if (i == len || line[i] == '\t')
    {
      if (n == MAXFIELDS) return n + 1 ;
      f[n] = line + start ; fl[n++] = i - start ;
      if (i < len) line[i] = 0 ;
      start = i + 1 ;
    }
  return n ;
}

static void answer_fail (char const *word, char const *why)
{
  ans.len = 0 ;
  if (!stralloc_cats(&ans, word) || !stralloc_catb(&ans, "\t", 1) || !stralloc_cats(&ans, why)) ans.len = 0 ;
}

#define WRITE_USERS 1           /* what a client may change: the users (root, the daemon's user) */
#define WRITE_LISTS 2           /* the lists' sets (those and listwriters) */

static int writecmd (char const *s, size_t n)
{
  static char const *const cmds[] = { "I", "AD", "AA", "DD", "AU", "DU", "PW", "QU", "DI", "EN", "FW", "CA", 0 } ;
  static char const *const setcmds[] = { "SI", "SA", "SR", 0 } ;
  unsigned int i ;
  for (i = 0 ; cmds[i] ; i++) if (strlen(cmds[i]) == n && !memcmp(cmds[i], s, n)) return WRITE_USERS ;
  for (i = 0 ; setcmds[i] ; i++) if (strlen(setcmds[i]) == n && !memcmp(setcmds[i], s, n)) return WRITE_LISTS ;
  return 0 ;
}

/* one request line (without its newline) -> ans (without its newline) */
static void request (char *line, size_t len, int writer)
{
  char const *f[MAXFIELDS] ;
  size_t fl[MAXFIELDS] ;
  unsigned int nf = split(line, len, f, fl), attempt ;
  int wc = nf >= 1 ? writecmd(f[0], fl[0]) : 0 ;
  if (nf > MAXFIELDS) { answer_fail("E", "too many fields") ; return ; }
  for (attempt = 0 ; attempt < 2 ; attempt++)
  {
    int r = -1 ;
    char const *why = 0 ;
    ans.len = 0 ;
    lasterr = "database error" ;
    if (nf == 2 && fl[0] == 1 && f[0][0] == 'D')
    {
      row d = { .sa = STRALLOC_ZERO } ;
      r = ask_domain(f[1], fl[1], &d) ;
      if (r > 0 && (!stralloc_catb(&ans, "1", 1) || !put(d.sa.s + d.off[0]) || !put(d.sa.s + d.off[1]) || !put(d.sa.s + d.off[2])
       || !put(d.sa.s + d.off[3]) || !put(d.sa.s + d.off[4])))
      { lasterr = "a value the protocol cannot carry in the database" ; r = -1 ; }
      stralloc_free(&d.sa) ;
    }
    else if (nf == 3 && fl[0] == 1 && f[0][0] == 'U') r = ask_user(f + 1, fl + 1) ;
    else if (nf == 2 && fl[0] == 1 && f[0][0] == 'L')
    {
      char const *p[2] = { f[1], f[1] } ;
      size_t pl[2] = { fl[1], fl[1] } ;
      r = stralloc_catb(&ans, "1", 1) ? 1 : -1 ;
      listing = 1 ;
      if (r > 0 && !run(S_USERS, p, pl, 2, 0, 0, 0)) r = -1 ;
      listing = 0 ;
    }
    else if (nf == 4 && fl[0] == 2 && !memcmp(f[0], "SH", 2))     /* list set addr -> 1 or 0 */
    {
      unsigned int n ;
      r = run(S_SETHAS, f + 1, fl + 1, 3, rows, 1, &n) ? n ? 1 : 0 : -1 ;
      if (r > 0 && !stralloc_catb(&ans, "1", 1)) r = -1 ;
    }
    else if (nf == 4 && fl[0] == 2 && !memcmp(f[0], "SL", 2))     /* list set after -> 1 addr... */
    {
      r = stralloc_catb(&ans, "1", 1) ? 1 : -1 ;
      listing = 1 ;
      if (r > 0 && !run(S_SETPAGE, f + 1, fl + 1, 3, 0, 0, 0)) r = -1 ;
      listing = 0 ;
    }
    else if (wc)
    {
      if (!(writer & wc)) { answer_fail("0", wc == WRITE_LISTS ? "permission denied: the lists' sets change only from root, the daemon's user or listwriters" : "permission denied: changes only from root or the daemon's user") ; return ; }
      r = change(f[0], f + 1, fl + 1, nf - 1, &why) ;
      if (r > 0 && !stralloc_catb(&ans, "1", 1)) r = -1 ;
      if (r > 0 && f[0][0] == 'S' && f[0][1] != 'I')
      {
        char fmt[UINT64_FMT] ;
        if (!stralloc_catb(&ans, "\t", 1) || !stralloc_catb(&ans, fmt, uint64_fmt(fmt, setchanged))) r = -1 ;
      }
    }
    else { answer_fail("E", "bad request") ; return ; }
    if (r == 0 && !ans.len) { if (!stralloc_cats(&ans, "0") || (why && !(stralloc_catb(&ans, "\t", 1) && stralloc_cats(&ans, why)))) ans.len = 0 ; }
    if (r >= 0) return ;
    /* the connection broke: once more on a new one */
    if (strcmp(lasterr, "gone")) break ;
    db_close() ;
  }
  answer_fail("T", !strcmp(lasterr, "gone") ? "database connection lost" : lasterr) ;
}

/* ---- the socket ---- */

typedef struct client_s { int fd ; int writer ; stralloc in ; } client ;

static volatile sig_atomic_t stop = 0 ;
static void on_term (int sig) { (void)sig ; stop = 1 ; }

/* serve the complete lines in c->in; 0 when the client is to be dropped */
static int serve (client *c)
{
  size_t i = 0 ;
  for (;;)
  {
    char *nl = memchr(c->in.s + i, '\n', c->in.len - i) ;
    if (!nl) break ;
    *nl = 0 ;   /* every field 0-terminated (a field may hold a NUL too: lengths are kept) */
    request(c->in.s + i, nl - (c->in.s + i), c->writer) ;
    if (!ans.len) answer_fail("T", "out of memory") ;
    if (!stralloc_catb(&ans, "\n", 1) || allwrite(c->fd, ans.s, ans.len) < ans.len) return 0 ;
    i = nl - c->in.s + 1 ;
  }
  memmove(c->in.s, c->in.s + i, c->in.len - i) ;
  c->in.len -= i ;
  if (c->in.len > LINEMAX)
  {
    static char const toolong[] = "E\trequest too long\n" ;
    allwrite(c->fd, toolong, sizeof toolong - 1) ;
    return 0 ;
  }
  return 1 ;
}

/* one worker: its own database connection, as many clients as maxc, until SIGTERM */
static int worker (int lfd, unsigned int maxc)
{
  client *cl = calloc(maxc, sizeof *cl) ;
  struct pollfd *pf = calloc(maxc + 1, sizeof *pf) ;
  unsigned int nc = 0, i ;
  uid_t me = geteuid() ;
  if (!cl || !pf) strerr_diefu1sys(111, "allocate memory") ;
  /* connected at once when it can be, so that a bad password shows in the log at start */
  if (!db_connect()) strerr_warnw1x("the database is not reachable yet: every lookup fails temporarily until it is") ;
  while (!stop)
  {
    pf[0].fd = nc < maxc ? lfd : -1 ;
    pf[0].events = POLLIN ;
    pf[0].revents = 0 ;
    for (i = 0 ; i < nc ; i++) { pf[i + 1].fd = cl[i].fd ; pf[i + 1].events = POLLIN ; pf[i + 1].revents = 0 ; }
    if (poll(pf, nc + 1, -1) < 0)
    {
      if (errno == EINTR) continue ;
      strerr_diefu1sys(111, "poll") ;
    }
    for (i = nc ; i-- ; )
    {
      client *c = cl + i ;
      int keep = 1 ;
      if (!pf[i + 1].revents) continue ;
      if (!stralloc_readyplus(&c->in, 4096)) keep = 0 ;
      else
      {
        ssize_t r = read(c->fd, c->in.s + c->in.len, 4096) ;
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue ;
        if (r <= 0) keep = 0 ;
        else { c->in.len += r ; keep = serve(c) ; }
      }
      if (!keep)
      {
        close(c->fd) ;
        stralloc_free(&c->in) ;
        cl[i] = cl[--nc] ;
      }
    }
    /* every worker polls the socket; the one that accepts first serves the client */
    if (pf[0].revents & POLLIN)
      while (nc < maxc)
      {
        struct ucred cred ;
        socklen_t credlen = sizeof cred ;
        struct timeval tv = { .tv_sec = 1, .tv_usec = 0 } ;
        int fd = accept4(lfd, 0, 0, SOCK_CLOEXEC) ;
        if (fd < 0) break ;
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) ;   /* a client that does not read is dropped */
        cl[nc].fd = fd ;
        cl[nc].in = (stralloc)STRALLOC_ZERO ;
        cl[nc].writer = 0 ;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) == 0)
        {
          unsigned int j ;
          if (cred.uid == 0 || cred.uid == me) cl[nc].writer = WRITE_USERS | WRITE_LISTS ;
          for (j = 0 ; j < nlistwriters ; j++) if (cred.uid == listwriters[j]) cl[nc].writer |= WRITE_LISTS ;
        }
        nc++ ;
      }
  }
  db_close() ;
  return 0 ;
}

static pid_t start_worker (int lfd, unsigned int maxc)
{
  pid_t pid = fork() ;
  if (pid < 0) strerr_warnwu1sys("fork a worker") ;
  else if (!pid) _exit(worker(lfd, maxc)) ;
  return pid ;
}

int main (int argc, char const *const *argv)
{
  stralloc path = STRALLOC_ZERO ;
  unsigned int mode = 0666, maxc = 256, nw = 4, i, uid = 0, gid = 0 ;
  int setid = 0 ;
  char const *sock = 0 ;
  pid_t *kids ;
  int lfd ;
  PROG = "userdb-mysqld" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "m:c:s:n:u:g:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'm' : if (!uint0_oscan(l.arg, &mode) || mode > 0777) dieusage() ; break ;
        case 'c' : if (!uint0_scan(l.arg, &maxc) || !maxc || maxc > 100000) dieusage() ; break ;
        case 's' : sock = l.arg ; break ;
        case 'n' : if (!uint0_scan(l.arg, &nw) || !nw || nw > 64) dieusage() ; break ;
        case 'u' : if (!uint0_scan(l.arg, &uid) || !uid) dieusage() ; setid |= 1 ; break ;
        case 'g' : if (!uint0_scan(l.arg, &gid) || !gid) dieusage() ; setid |= 2 ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc != 1 || (setid && setid != 3)) dieusage() ;
  config_read(argv[0]) ;
  if (!sock)
  {
    if (!usersql_socket(&path)) strerr_diefu1sys(111, "allocate memory") ;
    sock = path.s ;
  }
  if (mysql_library_init(0, 0, 0)) strerr_dief1x(111, "unable to initialize the MariaDB library") ;
  kids = calloc(nw, sizeof *kids) ;
  if (!kids) strerr_diefu1sys(111, "allocate memory") ;
  {
    /* no SA_RESTART: SIGTERM must end the parent's waitpid and the workers' poll */
    struct sigaction sa ;
    memset(&sa, 0, sizeof sa) ;
    sa.sa_handler = &on_term ;
    sigemptyset(&sa.sa_mask) ;
    sigaction(SIGTERM, &sa, 0) ;
    sigaction(SIGINT, &sa, 0) ;
    signal(SIGPIPE, SIG_IGN) ;
  }
  lfd = unix_listen_or_die(sock, mode) ;
  /* the configuration file read and the socket bound as root (both may be root's alone):
     the rest runs as uid:gid */
  if (setid && (setgroups(0, 0) < 0 || setgid(gid) < 0 || setuid(uid) < 0)) strerr_diefu1sys(111, "drop privileges") ;
  strerr_warni2x("listening on ", sock) ;
  for (i = 0 ; i < nw ; i++) kids[i] = start_worker(lfd, maxc) ;
  while (!stop)
  {
    int wstat ;
    pid_t pid = waitpid(-1, &wstat, 0) ;
    if (pid < 0) { if (errno == EINTR) continue ; break ; }
    for (i = 0 ; i < nw ; i++)
      if (kids[i] == pid)
      {
        /* a worker that died is replaced, a second later: no loop of crashes at full speed */
        strerr_warnw1x("a worker died: starting another") ;
        if (!stop) sleep(1) ;
        kids[i] = stop ? 0 : start_worker(lfd, maxc) ;
      }
  }
  for (i = 0 ; i < nw ; i++) if (kids[i] > 0) kill(kids[i], SIGTERM) ;
  while (waitpid(-1, 0, 0) > 0 || errno == EINTR) ;
  close(lfd) ;
  unlink(sock) ;
  mysql_library_end() ;
  return 0 ;
}
