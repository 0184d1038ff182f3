/* unit tests for tools/lib/maildir: names, quota parsing, delivery, maildirsize. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "maildir.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

static char const *base ;

static char *path (char const *a, char const *b)
{
  static char p[4][1024] ;
  static int k = 0 ;
  k = (k + 1) & 3 ;
  snprintf(p[k], sizeof p[k], "%s/%s%s%s", base, a, b ? "/" : "", b ? b : "") ;
  return p[k] ;
}

static void mkmd (char const *d)
{
  CHECK(mkdir(path(d, 0), 0700) == 0) ;
  CHECK(mkdir(path(d, "tmp"), 0700) == 0) ;
  CHECK(mkdir(path(d, "new"), 0700) == 0) ;
  CHECK(mkdir(path(d, "cur"), 0700) == 0) ;
}

static int count (char const *dir)
{
  int n = 0 ;
  struct dirent *de ;
  DIR *d = opendir(dir) ;
  if (!d) return -1 ;
  while ((de = readdir(d))) if (de->d_name[0] != '.') n++ ;
  closedir(d) ;
  return n ;
}

/* a file with s in it, open for reading */
static int msgfd (char const *s)
{
  char const *p = path("msg.tmp", 0) ;
  int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600) ;
  CHECK(fd >= 0) ;
  CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s)) ;
  CHECK(lseek(fd, 0, SEEK_SET) == 0) ;
  unlink(p) ;
  return fd ;
}

static int deliver (char const *dir, char const *s, maildir_opts const *o, maildir_result *r)
{
  int fd = msgfd(s) ;
  int ok = maildir_deliver(path(dir, 0), fd, o, r) ;
  close(fd) ;
  return ok ;
}

static void slurp (char const *p, char *buf, size_t max)
{
  int fd = open(p, O_RDONLY) ;
  ssize_t n = fd < 0 ? -1 : read(fd, buf, max - 1) ;
  buf[n < 0 ? 0 : n] = 0 ;
  if (fd >= 0) close(fd) ;
}

static void put (char const *p, char const *s)
{
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600) ;
  CHECK(fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s)) ;
  close(fd) ;
}

int main (int argc, char const *const *argv)
{
  maildir_opts o = MAILDIR_OPTS_ZERO ;
  maildir_result r ;
  maildir_quota q ;
  char a[MAILDIR_NAMEMAX], b[MAILDIR_NAMEMAX], buf[8192] ;
  if (argc < 2) { fprintf(stderr, "usage: maildir scratchdir\n") ; return 2 ; }
  base = argv[1] ;

  /* names: SECS.MusecPpidQnRhex.host, never twice the same */
  CHECK(maildir_uniq(a, sizeof a) > 0) ;
  CHECK(maildir_uniq(b, sizeof b) > 0) ;
  CHECK(strcmp(a, b) != 0) ;
  CHECK(strstr(a, ".M") && strchr(a, 'P') && strchr(a, 'Q') && strchr(a, 'R')) ;
  CHECK(!strchr(a, '/') && !strchr(a, ':') && !strchr(a, ',')) ;
  CHECK(maildir_uniq(a, 10) == 0) ;

  /* quota specifications */
  CHECK(maildir_quota_parse("1000S,10C", &q) && q.bytes == 1000 && q.count == 10) ;
  CHECK(maildir_quota_parse("10C,1000S", &q) && q.bytes == 1000 && q.count == 10) ;
  CHECK(maildir_quota_parse("5000S", &q) && q.bytes == 5000 && q.count == 0) ;
  CHECK(maildir_quota_parse("7C", &q) && q.bytes == 0 && q.count == 7) ;
  CHECK(!maildir_quota_parse("", &q)) ;
  CHECK(!maildir_quota_parse("1000", &q)) ;
  CHECK(!maildir_quota_parse("1000S,", &q)) ;
  CHECK(!maildir_quota_parse("1S,2S", &q)) ;
  CHECK(!maildir_quota_parse("x1S", &q)) ;
  CHECK(!maildir_quota_parse("99999999999999999999999S", &q)) ;

  /* a plain delivery: whole file in new/, Return-Path and Delivered-To first, tmp/ empty */
  mkmd("m1") ;
  o.rpline = "Return-Path: <a@b.example>" ;   /* no newline: one is added */
  o.dtline = "Delivered-To: u@h.example\n" ;
  CHECK(deliver("m1", "Subject: x\n\nbody\n", &o, &r)) ;
  CHECK(r.code == 0 && r.size == 27 + 26 + 17) ;
  CHECK(strstr(r.name, ",S=70") != 0) ;
  snprintf(buf, sizeof buf, "new/%s", r.name) ;
  slurp(path("m1", buf), buf, sizeof buf) ;
  CHECK(!strcmp(buf, "Return-Path: <a@b.example>\nDelivered-To: u@h.example\nSubject: x\n\nbody\n")) ;
  CHECK(count(path("m1", "tmp")) == 0 && count(path("m1", "new")) == 1) ;
  o.rpline = o.dtline = 0 ;

  /* not a Maildir: 100; missing: 111; -c makes it */
  CHECK(mkdir(path("plain", 0), 0700) == 0) ;
  CHECK(!deliver("plain", "x\n", &o, &r) && r.code == 100) ;
  CHECK(mkdir(path("half", 0), 0700) == 0 && mkdir(path("half", "new"), 0700) == 0 && mkdir(path("half", "cur"), 0700) == 0) ;
  CHECK(!deliver("half", "x\n", &o, &r) && r.code == 100) ;
  CHECK(count(path("half", "new")) == 0) ;
  CHECK(!deliver("absent", "x\n", &o, &r) && r.code == 111 && r.err == ENOENT) ;
  maildir_strerror(&r, "DIR", buf, sizeof buf) ;
  CHECK(!strcmp(buf, "unable to open DIR: No such file or directory")) ;
  put(path("afile", 0), "") ;
  CHECK(!deliver("afile", "x\n", &o, &r) && r.code == 100) ;
  o.create = 1 ;
  CHECK(deliver("absent", "x\n", &o, &r)) ;
  CHECK(count(path("absent", "new")) == 1 && count(path("absent", "cur")) == 0) ;
  CHECK(deliver("plain", "x\n", &o, &r)) ;
  o.create = 0 ;

  /* quota from the option: maildirsize is written, then used */
  mkmd("q") ;
  o.quota_set = 1 ; o.quota.bytes = 100 ; o.quota.count = 0 ;
  CHECK(deliver("q", "0123456789012345678901234567890123456789\n", &o, &r)) ;   /* 41 bytes */
  slurp(path("q", "maildirsize"), buf, sizeof buf) ;
  CHECK(!strcmp(buf, "100S\n0 0\n41 1\n")) ;
  CHECK(deliver("q", "0123456789012345678901234567890123456789\n", &o, &r)) ;   /* 82 */
  CHECK(!deliver("q", "0123456789012345678901234567890123456789\n", &o, &r)) ;  /* 123 > 100 */
  CHECK(r.code == 111 && r.err == 0 && strstr(r.what, "full")) ;
  CHECK(count(path("q", "new")) == 2 && count(path("q", "tmp")) == 0) ;
  o.overquota_code = 100 ;
  CHECK(!deliver("q", "0123456789012345678901234567890123456789\n", &o, &r) && r.code == 100) ;
  o.overquota_code = 0 ;
  CHECK(deliver("q", "short\n", &o, &r)) ;    /* 88: fits */

  /* quota from maildirsize alone; a count limit; deleting mail frees room after a recount */
  o.quota_set = 0 ;
  mkmd("qc") ;
  put(path("qc", "maildirsize"), "2C\n") ;
  CHECK(deliver("qc", "a\n", &o, &r)) ;
  CHECK(deliver("qc", "b\n", &o, &r)) ;
  CHECK(!deliver("qc", "c\n", &o, &r) && r.code == 111) ;
  snprintf(buf, sizeof buf, "new/%s", r.name) ;
  {
    DIR *d = opendir(path("qc", "new")) ;
    struct dirent *de ;
    while ((de = readdir(d))) if (de->d_name[0] != '.') { snprintf(buf, sizeof buf, "%s/%s", path("qc", "new"), de->d_name) ; break ; }
    closedir(d) ;
    CHECK(unlink(buf) == 0) ;   /* a reader that does not update maildirsize */
  }
  CHECK(deliver("qc", "c\n", &o, &r)) ;
  CHECK(count(path("qc", "new")) == 2) ;

  /* no maildirsize and no quota: nothing is written */
  CHECK(access(path("m1", "maildirsize"), F_OK) < 0) ;

  /* recount: new, cur and folders, not .Trash; S= in names trusted */
  mkmd("rc") ;
  put(path("rc", "new/1.M1P1.h,S=1000"), "") ;
  put(path("rc", "cur/2.M1P1.h:2,S"), "12345") ;
  CHECK(mkdir(path("rc", ".Sent"), 0700) == 0 && mkdir(path("rc", ".Sent/cur"), 0700) == 0) ;
  put(path("rc", ".Sent/cur/3.M1P1.h,S=10:2,S"), "") ;
  CHECK(mkdir(path("rc", ".Trash"), 0700) == 0 && mkdir(path("rc", ".Trash/cur"), 0700) == 0) ;
  put(path("rc", ".Trash/cur/4.M1P1.h,S=99999:2,S"), "") ;
  {
    uint64_t bytes, n ;
    int64_t sb, sc ;
    maildir_quota qq = { 5000, 0 } ;
    CHECK(maildir_size_recalc(path("rc", 0), &qq, &bytes, &n)) ;
    CHECK(bytes == 1015 && n == 3) ;
    CHECK(maildir_size_read(path("rc", 0), &q, &sb, &sc) == 1) ;
    CHECK(q.bytes == 5000 && sb == 1015 && sc == 3) ;
    CHECK(maildir_size_read(path("m1", 0), &q, &sb, &sc) == 0) ;
  }

  /* a torn last line makes maildirsize stale: it is recounted, not trusted */
  mkmd("torn") ;
  put(path("torn", "maildirsize"), "1000S\n999999 1\n5") ;
  CHECK(deliver("torn", "hello\n", &o, &r)) ;
  slurp(path("torn", "maildirsize"), buf, sizeof buf) ;
  CHECK(!strncmp(buf, "1000S\n0 0\n6 1\n", 14)) ;

  /* a pipe that never ends: the deadline gives 111 and leaves nothing behind */
  mkmd("slow") ;
  {
    int p[2] ;
    CHECK(pipe(p) == 0) ;
    CHECK(write(p[1], "partial", 7) == 7) ;
    o.timeout = 1 ;
    CHECK(!maildir_deliver(path("slow", 0), p[0], &o, &r)) ;
    CHECK(r.code == 111 && strstr(r.what, "timed out")) ;
    CHECK(count(path("slow", "tmp")) == 0 && count(path("slow", "new")) == 0) ;
    o.timeout = 0 ;
    close(p[0]) ; close(p[1]) ;
  }

  /* a large message goes through in several writes, byte for byte */
  {
    static char big[300001] ;
    int fd ;
    for (size_t i = 0 ; i < sizeof big - 1 ; i++) big[i] = (i % 80 == 79) ? '\n' : 'a' + i % 26 ;
    fd = msgfd(big) ;
    CHECK(maildir_deliver(path("m1", 0), fd, &o, &r)) ;
    CHECK(r.size == sizeof big - 1) ;
    close(fd) ;
  }
  return !!failed ;
}
