/* unit tests for tools/lib/userdb (syntax, the cdb backend) and tools/lib/userfile (the text
   files, their compilation and commit). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cdb.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include "atomic.h"
#include "passwd.h"
#include "userdb.h"
#include "userfile.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

static char const *dir ;

static void put (char const *name, char const *s)
{
  char p[512] ;
  snprintf(p, sizeof p, "%s/users/%s", dir, name) ;
  CHECK(atomic_write(p, s, strlen(s), 0640)) ;
}

static int valid_local (char const *s) { return userdb_local_valid(s, strlen(s)) ; }
static int valid_domain (char const *s) { return userdb_domain_valid(s, strlen(s)) ; }

static int commit (stralloc *err, unsigned int *bad)
{
  userfile u = USERFILE_ZERO ;
  passwd_setting ps = { .prefix = "$y$", .cost = 1 } ;
  int r ;
  err->len = 0 ;
  if (!userfile_open(&u, 1, err)) return -2 ;
  r = userfile_commit(&u, &ps, err, bad) ;
  if (!stralloc_0(err)) return -3 ;
  userfile_free(&u) ;
  return r ;
}

int main (int argc, char const *const *argv)
{
  stralloc l = STRALLOC_ZERO, d = STRALLOC_ZERO, err = STRALLOC_ZERO, sa = STRALLOC_ZERO ;
  char const *why ;
  char path[512], hash[PASSWD_HASHMAX], line[1024] ;
  unsigned int bad ;
  passwd_setting ps = { .prefix = "$y$", .cost = 1 } ;
  dir = argc > 1 ? argv[1] : 0 ;
  if (!dir) { fprintf(stderr, "usage: userdb scratchdir\n") ; return 2 ; }
  setenv("SLUICEDIR", dir, 1) ;

  /* syntax */
  CHECK(valid_local("alice") && valid_local("a.b-c_d+e") && valid_local("0")) ;
  CHECK(!valid_local("") && !valid_local(".a") && !valid_local("a.") && !valid_local("a..b")) ;
  CHECK(!valid_local("Alice") && !valid_local("a b") && !valid_local("a/b") && !valid_local("a:b") && !valid_local("a@b")) ;
  CHECK(valid_local("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")) ;
  CHECK(!valid_local("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")) ;
  CHECK(valid_domain("example.com") && valid_domain("a-b.example.co.uk") && valid_domain("xn--bcher-kva.example")) ;
  CHECK(!valid_domain("localhost") && !valid_domain("example..com") && !valid_domain(".example.com")) ;
  CHECK(!valid_domain("example.com.") && !valid_domain("-a.com") && !valid_domain("a-.com") && !valid_domain("1.2.3.4")) ;
  CHECK(!valid_domain("../etc") && !valid_domain("a/b.com") && !valid_domain("Example.com") && !valid_domain("")) ;
  CHECK(userdb_split("Alice@Example.COM", 0, &l, &d) == 1 && !strcmp(l.s, "alice") && !strcmp(d.s, "example.com")) ;
  CHECK(userdb_split("alice%example.com", 0, &l, &d) == 1 && !strcmp(l.s, "alice") && !strcmp(d.s, "example.com")) ;
  CHECK(userdb_split("alice", "example.com", &l, &d) == 1 && !strcmp(d.s, "example.com")) ;
  CHECK(userdb_split("alice", 0, &l, &d) == 0) ;
  CHECK(userdb_split("", "example.com", &l, &d) == 0) ;
  CHECK(userdb_split("a@b@example.com", 0, &l, &d) == 0) ;
  CHECK(userdb_split("alice@", 0, &l, &d) == 0) ;

  /* lines */
  {
    userfile_dom dd ;
    userfile_user uu ;
    strcpy(line, "example.com:1000:1001:/var/sluice/domains/example.com") ;
    CHECK(userfile_parse_domain(line, &dd, &why) && !dd.alias && dd.uid == 1000 && dd.gid == 1001 && !strcmp(dd.dir, "/var/sluice/domains/example.com")) ;
    sa.len = 0 ;
    CHECK(userfile_format_domain(&sa, &dd) && stralloc_0(&sa) && !strcmp(sa.s, "example.com:1000:1001:/var/sluice/domains/example.com\n")) ;
    strcpy(line, "example.net:=example.com") ;
    CHECK(userfile_parse_domain(line, &dd, &why) && dd.alias && !strcmp(dd.alias, "example.com")) ;
    strcpy(line, "example.net:=example.net") ; CHECK(!userfile_parse_domain(line, &dd, &why)) ;
    strcpy(line, "example.com:0:1:/x") ; CHECK(!userfile_parse_domain(line, &dd, &why)) ;
    strcpy(line, "example.com:1:0:/x") ; CHECK(!userfile_parse_domain(line, &dd, &why)) ;
    strcpy(line, "example.com:1:1:x") ; CHECK(!userfile_parse_domain(line, &dd, &why)) ;
    strcpy(line, "example.com:1:1:/a/../b") ; CHECK(!userfile_parse_domain(line, &dd, &why)) ;
    strcpy(line, "example.com:1:1") ; CHECK(!userfile_parse_domain(line, &dd, &why)) ;
    strcpy(line, "example.com:1:1:/x:y") ; CHECK(!userfile_parse_domain(line, &dd, &why)) ;
    strcpy(line, "example.com:01:1:/x") ; CHECK(!userfile_parse_domain(line, &dd, &why)) ;
    strcpy(line, "exa/mple.com:1:1:/x") ; CHECK(!userfile_parse_domain(line, &dd, &why)) ;
    /* the catch-all, an optional 5th field */
    strcpy(line, "example.com:1000:1001:/m:postmaster@example.com,x@Example.ORG") ;
    CHECK(userfile_parse_domain(line, &dd, &why) && !strcmp(dd.dir, "/m") && !strcmp(dd.catchall, "postmaster@example.com,x@Example.ORG")) ;
    sa.len = 0 ;
    CHECK(userfile_format_domain(&sa, &dd) && stralloc_0(&sa) && !strcmp(sa.s, "example.com:1000:1001:/m:postmaster@example.com,x@Example.ORG\n")) ;
    strcpy(line, "example.com:1000:1001:/m:") ;
    CHECK(userfile_parse_domain(line, &dd, &why) && !strcmp(dd.catchall, "")) ;
    sa.len = 0 ;
    CHECK(userfile_format_domain(&sa, &dd) && stralloc_0(&sa) && !strcmp(sa.s, "example.com:1000:1001:/m\n")) ;
    strcpy(line, "example.com:1000:1001:/m") ;
    CHECK(userfile_parse_domain(line, &dd, &why) && !strcmp(dd.catchall, "")) ;
    strcpy(line, "example.com:1:1:/x:a@b.com,") ; CHECK(!userfile_parse_domain(line, &dd, &why) && strstr(why, "catch-all")) ;
    strcpy(line, "example.com:1:1:/x:a@b.com:c") ; CHECK(!userfile_parse_domain(line, &dd, &why)) ;
    strcpy(line, "example.net:=example.com:a@b.com") ; CHECK(!userfile_parse_domain(line, &dd, &why)) ;

    CHECK(passwd_hash(hash, "secret", &ps)) ;
    snprintf(line, sizeof line, "alice:%s:disabled,keep:1048576:bob@example.org,Carol@Example.NET", hash) ;
    CHECK(userfile_parse_user(line, &uu, &why) && uu.flags == (USERDB_DISABLED | USERDB_KEEP) && uu.quota == 1048576
       && !strcmp(uu.hash, hash) && !strcmp(uu.forward, "bob@example.org,Carol@Example.NET")) ;
    sa.len = 0 ;
    CHECK(userfile_format_user(&sa, &uu) && stralloc_0(&sa)) ;
    snprintf(line, sizeof line, "alice:%s:disabled,keep:1048576:bob@example.org,Carol@Example.NET\n", hash) ;
    CHECK(!strcmp(sa.s, line)) ;
    strcpy(line, "info::::alice@example.com") ;
    CHECK(userfile_parse_user(line, &uu, &why) && uu.flags == USERDB_ALIAS) ;
    strcpy(line, "info::::") ; CHECK(!userfile_parse_user(line, &uu, &why)) ;
    strcpy(line, "info::keep::a@example.com") ; CHECK(!userfile_parse_user(line, &uu, &why)) ;
    strcpy(line, "info:::5:a@example.com") ; CHECK(!userfile_parse_user(line, &uu, &why)) ;
    strcpy(line, "bob:secret:::") ; CHECK(!userfile_parse_user(line, &uu, &why)) ;        /* plaintext */
    snprintf(line, sizeof line, "bob:%s:keep::", hash) ; CHECK(!userfile_parse_user(line, &uu, &why)) ;
    snprintf(line, sizeof line, "bob:%s:weird::", hash) ; CHECK(!userfile_parse_user(line, &uu, &why)) ;
    snprintf(line, sizeof line, "bob:%s:disabled,::", hash) ; CHECK(!userfile_parse_user(line, &uu, &why)) ;
    snprintf(line, sizeof line, "bob:%s::12k:", hash) ; CHECK(!userfile_parse_user(line, &uu, &why)) ;
    snprintf(line, sizeof line, "bob:%s:::not-an-address", hash) ; CHECK(!userfile_parse_user(line, &uu, &why)) ;
    snprintf(line, sizeof line, "bob:%s:::a@b.com,", hash) ; CHECK(!userfile_parse_user(line, &uu, &why)) ;
    snprintf(line, sizeof line, "bob:%s::", hash) ; CHECK(!userfile_parse_user(line, &uu, &why)) ;
    snprintf(line, sizeof line, "Bob:%s:::", hash) ; CHECK(!userfile_parse_user(line, &uu, &why)) ;
  }

  /* an empty database, then a real one */
  snprintf(path, sizeof path, "%s/users", dir) ;
  CHECK(commit(&err, &bad) == 1) ;
  {
    userdb db = USERDB_ZERO ;
    userdb_user u = USERDB_USER_ZERO ;
    CHECK(userdb_open(&db, 0)) ;
    CHECK(userdb_lookup_user(&db, "alice", "example.com", &u) == 0) ;
    CHECK(userdb_dummy(&db, &sa) == 1 && !strncmp(sa.s, "$y$j75$", 7)) ;
    userdb_user_free(&u) ;
    userdb_close(&db) ;
  }
  put("domains", "# the domains\nexample.com:1000:1001:/m/example.com\r\nexample.net:=example.com\n\nexample.org:1002:1002:/m/example.org") ;
  snprintf(line, sizeof line, "alice:%s:::\n#comment\nbob:%s:disabled:5000:\ninfo::::alice@example.com,x@example.org\nfwd:%s:keep::z@example.org\n", hash, hash, hash) ;
  put("example.com", line) ;
  CHECK(commit(&err, &bad) == 1) ;
  {
    userdb db = USERDB_ZERO ;
    userdb_user u = USERDB_USER_ZERO ;
    userdb_domain dm = USERDB_DOMAIN_ZERO ;
    CHECK(userdb_open(&db, 0)) ;
    CHECK(userdb_lookup_domain(&db, "example.net", &dm) == 1 && !strcmp(dm.name, "example.com") && dm.uid == 1000 && dm.gid == 1001 && !strcmp(dm.dir, "/m/example.com")) ;
    CHECK(userdb_lookup_domain(&db, "example.org", &dm) == 1 && !strcmp(dm.name, "example.org") && dm.uid == 1002) ;
    CHECK(userdb_lookup_domain(&db, "example.edu", &dm) == 0) ;
    CHECK(userdb_lookup_user(&db, "alice", "example.net", &u) == 1 && !strcmp(u.domain, "example.com") && !strcmp(u.local, "alice")
       && !strcmp(u.home, "/m/example.com/alice") && !strcmp(u.hash, hash) && !u.flags && !u.quota && !*u.forward && u.uid == 1000 && u.gid == 1001) ;
    CHECK(passwd_verify("secret", u.hash)) ;
    CHECK(userdb_lookup_user(&db, "bob", "example.com", &u) == 1 && u.flags == USERDB_DISABLED && u.quota == 5000) ;
    CHECK(userdb_lookup_user(&db, "info", "example.com", &u) == 1 && u.flags == USERDB_ALIAS && !*u.hash && !*u.home
       && !strcmp(u.forward, "alice@example.com,x@example.org")) ;
    CHECK(userdb_lookup_user(&db, "fwd", "example.com", &u) == 1 && u.flags == USERDB_KEEP && !strcmp(u.forward, "z@example.org")) ;
    CHECK(userdb_lookup_user(&db, "carol", "example.com", &u) == 0) ;
    CHECK(userdb_lookup_user(&db, "alice", "example.org", &u) == 0) ;
    CHECK(userdb_lookup_user(&db, "alice", "nowhere.example", &u) == 0) ;
    userdb_user_free(&u) ; userdb_domain_free(&dm) ;
    userdb_close(&db) ;
  }

  /* recipients: users, extensions, aliases, postmaster, catch-all (the rules smtpd refuses
     recipients by and the queue routes them by) */
  put("domains", "example.com:1000:1001:/m/example.com:catch@example.org\nexample.net:=example.com\nexample.org:1002:1002:/m/example.org\n") ;
  snprintf(line, sizeof line, "alice:%s:::\na-b:%s:disabled::\ninfo::::alice@example.com\n", hash, hash) ;
  put("example.com", line) ;
  snprintf(line, sizeof line, "carol:%s:::\n", hash) ;
  put("example.org", line) ;
  CHECK(commit(&err, &bad) == 1) ;
  {
    userdb db = USERDB_ZERO ;
    userdb_user u = USERDB_USER_ZERO ;
    userdb_domain dm = USERDB_DOMAIN_ZERO ;
    long ext = 0 ;
    CHECK(userdb_open(&db, 0)) ;
    CHECK(userdb_lookup_recipient(&db, "alice", "example.com", &u, &ext) == 1 && ext == -1 && !strcmp(u.local, "alice")) ;
    CHECK(userdb_lookup_recipient(&db, "alice-lists", "example.com", &u, &ext) == 1 && ext == 6 && !strcmp(u.local, "alice")) ;
    CHECK(userdb_lookup_recipient(&db, "alice-a-b", "example.com", &u, &ext) == 1 && ext == 6 && !strcmp(u.local, "alice")) ;
    CHECK(userdb_lookup_recipient(&db, "alice-", "example.com", &u, &ext) == 1 && ext == 6) ;
    CHECK(userdb_lookup_recipient(&db, "a-b", "example.com", &u, &ext) == 1 && ext == -1 && u.flags == USERDB_DISABLED) ;
    CHECK(userdb_lookup_recipient(&db, "a-b-c-d", "example.com", &u, &ext) == 1 && ext == 4 && !strcmp(u.local, "a-b")) ;   /* the longest */
    CHECK(userdb_lookup_recipient(&db, "a-c", "example.com", &u, &ext) == 0) ;
    CHECK(userdb_lookup_recipient(&db, "info-x", "example.net", &u, &ext) == 1 && ext == 5 && u.flags == USERDB_ALIAS && !strcmp(u.domain, "example.com")) ;
    CHECK(userdb_lookup_recipient(&db, "-alice", "example.com", &u, &ext) == 0) ;
    CHECK(userdb_lookup_recipient(&db, "alicex", "example.com", &u, &ext) == 0) ;
    CHECK(userdb_lookup_recipient(&db, "alice", "example.org", &u, &ext) == 0) ;
    CHECK(userdb_lookup_recipient(&db, "alice", "example.edu", &u, &ext) == 0) ;
    CHECK(userdb_lookup_recipient(&db, "a..b-alice", "example.com", &u, &ext) == 0) ;
    CHECK(userdb_recipient(&db, "Alice", "EXAMPLE.com", &dm, &u, &ext) == USERDB_RCPT_USER && ext == -1 && !strcmp(dm.name, "example.com")) ;
    CHECK(userdb_recipient(&db, "ALICE-Foo", "example.net", &dm, &u, &ext) == USERDB_RCPT_USER && ext == 6 && !strcmp(u.local, "alice")) ;
    CHECK(userdb_recipient(&db, "nobody", "example.com", &dm, &u, &ext) == USERDB_RCPT_CATCHALL && !strcmp(dm.catchall, "catch@example.org")) ;
    CHECK(userdb_recipient(&db, "nobody", "example.net", &dm, &u, &ext) == USERDB_RCPT_CATCHALL && !strcmp(dm.name, "example.com")) ;
    CHECK(userdb_recipient(&db, "postmaster", "example.com", &dm, &u, &ext) == USERDB_RCPT_POSTMASTER) ;
    CHECK(userdb_recipient(&db, "PostMaster", "example.org", &dm, &u, &ext) == USERDB_RCPT_POSTMASTER && !*dm.catchall) ;
    CHECK(userdb_recipient(&db, "postmaster-x", "example.org", &dm, &u, &ext) == USERDB_RCPT_UNKNOWN) ;
    CHECK(userdb_recipient(&db, "nobody", "example.org", &dm, &u, &ext) == USERDB_RCPT_UNKNOWN && !strcmp(dm.name, "example.org") && !*dm.catchall) ;
    CHECK(userdb_recipient(&db, "carol", "example.org", &dm, &u, &ext) == USERDB_RCPT_USER) ;
    CHECK(userdb_recipient(&db, "\"carol smith\"", "example.org", &dm, &u, &ext) == USERDB_RCPT_UNKNOWN) ;
    CHECK(userdb_recipient(&db, "carol", "example.edu", &dm, &u, &ext) == USERDB_RCPT_NODOMAIN) ;
    CHECK(userdb_recipient(&db, "carol", "[127.0.0.1]", &dm, &u, &ext) == USERDB_RCPT_NODOMAIN) ;
    CHECK(userdb_recipient(&db, "carol", "example", &dm, &u, &ext) == USERDB_RCPT_NODOMAIN) ;
    userdb_user_free(&u) ; userdb_domain_free(&dm) ;
    userdb_close(&db) ;
  }
  {
    /* the D record: a 4th field only with a catch-all, so that older readers keep reading */
    struct cdb c ;
    int fd ;
    snprintf(path, sizeof path, "%s/users/cdb", dir) ;
    fd = open(path, O_RDONLY) ;
    CHECK(fd >= 0 && cdb_init(&c, fd) == 0) ;
    CHECK(cdb_find(&c, "Dexample.com", 12) == 1 && cdb_datalen(&c) == 43 && !memcmp(cdb_getdata(&c), "1000\0" "1001\0/m/example.com\0catch@example.org", 43)) ;
    CHECK(cdb_find(&c, "Dexample.org", 12) == 1 && cdb_datalen(&c) == 25 && !memcmp(cdb_getdata(&c), "1002\0" "1002\0/m/example.org", 25)) ;
    cdb_free(&c) ;
    close(fd) ;
  }

  /* bad lines: named by file and line, and the old cdb stays */
  {
    struct stat before, after ;
    snprintf(path, sizeof path, "%s/users/cdb", dir) ;
    CHECK(stat(path, &before) == 0) ;
    snprintf(line, sizeof line, "alice:%s:::\nbob:plaintext:::\nalice:%s:::\n", hash, hash) ;
    put("example.com", line) ;
    put("domains", "example.com:1000:1001:/m/example.com\nexample.net:=example.edu\nexample.com:1:1:/x\nbad domain\n") ;
    { int r = commit(&err, &bad) ; CHECK(r == 0) ; if (r) fprintf(stderr, "r=%d bad=%u err=%s errno=%d\n", r, bad, err.s, errno) ; }
    CHECK(bad == 5) ;
    CHECK(strstr(err.s, "/users/example.com line 2: ") != 0) ;
    CHECK(strstr(err.s, "/users/example.com line 3: user listed twice") != 0) ;
    CHECK(strstr(err.s, "/users/domains line 2: alias of a domain that is not listed") != 0) ;
    CHECK(strstr(err.s, "/users/domains line 3: domain listed twice") != 0) ;
    CHECK(strstr(err.s, "/users/domains line 4: ") != 0) ;
    CHECK(stat(path, &after) == 0 && after.st_ino == before.st_ino) ;
    snprintf(path, sizeof path, "%s/users/.cdb.tmp", dir) ;
    CHECK(access(path, F_OK) < 0 && errno == ENOENT) ;
  }

  /* in memory: find, replace, append, commit writes only what changed */
  put("domains", "example.com:1000:1001:/m/example.com\n") ;
  snprintf(line, sizeof line, "# users\nalice:%s:::", hash) ;      /* no final newline */
  put("example.com", line) ;
  {
    userfile u = USERFILE_ZERO ;
    userfile_text *t ;
    userfile_user uu ;
    stralloc tmp = STRALLOC_ZERO, one = STRALLOC_ZERO ;
    size_t s, e ;
    CHECK(userfile_open(&u, 1, &err)) ;
    t = userfile_get(&u, "example.com") ;
    CHECK(t && userfile_find_user(t, "alice", &uu, &tmp, &s, &e) == 1 && s == 8 && e == t->text.len) ;
    CHECK(userfile_find_user(t, "alic", &uu, &tmp, &s, &e) == 0) ;
    snprintf(line, sizeof line, "bob:%s:::\n", hash) ;
    CHECK(userfile_append(t, line, strlen(line))) ;
    CHECK(userfile_find_user(t, "bob", &uu, &tmp, &s, &e) == 1) ;
    CHECK(userfile_find_user(t, "alice", &uu, &tmp, &s, &e) == 1) ;
    uu.flags |= USERDB_DISABLED ;
    CHECK(userfile_format_user(&one, &uu) && userfile_replace(t, s, e, one.s, one.len)) ;
    CHECK(userfile_new(&u, "example.org") != 0) ;
    CHECK(userfile_commit(&u, &ps, &err, &bad) == 1) ;
    userfile_free(&u) ;
    stralloc_free(&tmp) ; stralloc_free(&one) ;
    snprintf(path, sizeof path, "%s/users/example.com", dir) ;
    sa.len = 0 ;
    CHECK(openslurpclose(&sa, path) && stralloc_0(&sa)) ;
    snprintf(line, sizeof line, "# users\nalice:%s:disabled::\nbob:%s:::\n", hash, hash) ;
    CHECK(!strcmp(sa.s, line)) ;
    snprintf(path, sizeof path, "%s/users/example.org", dir) ;
    CHECK(access(path, F_OK) == 0) ;     /* new, empty */
  }
  {
    userdb db = USERDB_ZERO ;
    userdb_user u = USERDB_USER_ZERO ;
    CHECK(userdb_open(&db, "cdb")) ;
    CHECK(userdb_lookup_user(&db, "alice", "example.com", &u) == 1 && u.flags == USERDB_DISABLED) ;
    CHECK(userdb_lookup_user(&db, "bob", "example.com", &u) == 1 && !u.flags) ;
    userdb_user_free(&u) ;
    userdb_close(&db) ;
  }

  /* opening: unknown backend, missing file, a cdb that is not ours */
  {
    userdb db = USERDB_ZERO ;
    CHECK(!userdb_open(&db, "sql:x") && errno == EINVAL) ;
    snprintf(path, sizeof path, "cdb:%s/nonexistent", dir) ;
    CHECK(!userdb_open(&db, path) && errno == ENOENT) ;
    snprintf(path, sizeof path, "%s/users/domains", dir) ;
    snprintf(line, sizeof line, "cdb:%s", path) ;
    CHECK(!userdb_open(&db, line)) ;
  }
  stralloc_free(&l) ; stralloc_free(&d) ; stralloc_free(&err) ; stralloc_free(&sa) ;
  return failed ? 1 : 0 ;
}
