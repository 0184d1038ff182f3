/* unit tests for tools/lib/dotqmail and tools/lib/mbox. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <skalibs/genalloc.h>
#include <skalibs/stralloc.h>
#include "dotqmail.h"
#include "mbox.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)
#define ENV(k, v) CHECK(getenv(k) && !strcmp(getenv(k), v))

static genalloc lines = GENALLOC_ZERO ;
static char text[4096] ;

/* parse s; 1, 0 (bad line: lineno, why) or -1 */
static int parse (char const *s, int fwdonly, unsigned int *lineno, char const **why)
{
  size_t n = strlen(s) ;
  memcpy(text, s, n + 1) ;
  genalloc_setlen(dotqmail_line, &lines, 0) ;
  return dotqmail_parse(text, n, &lines, fwdonly, lineno, why) ;
}

static dotqmail_line const *L (size_t i) { return genalloc_s(dotqmail_line, &lines) + i ; }
static size_t nlines (void) { return genalloc_len(dotqmail_line, &lines) ; }

static void put (char const *name, char const *s, unsigned int mode)
{
  int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0600) ;
  CHECK(fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s)) ;
  close(fd) ;
  CHECK(chmod(name, mode) == 0) ;
}

static int find (char const *dash, char const *ext, char *name, long *dflt, int *fwd)
{
  stralloc sa = STRALLOC_ZERO ;
  int fd ;
  int r = dotqmail_find(dash, ext, &sa, &fd, fwd, dflt) ;
  if (r == 1) close(fd) ;
  strcpy(name, r ? sa.s : "") ;
  stralloc_free(&sa) ;
  return r ;
}

static int fdof (char const *s)
{
  int fd = open(".", O_TMPFILE | O_RDWR, 0600) ;
  CHECK(fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s)) ;
  lseek(fd, 0, SEEK_SET) ;
  return fd ;
}

static char *slurp (char const *name)
{
  static char buf[8192] ;
  int fd = open(name, O_RDONLY) ;
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1) ;
  buf[n < 0 ? 0 : n] = 0 ;
  if (fd >= 0) close(fd) ;
  return buf ;
}

int main (int argc, char const *const *argv)
{
  unsigned int ln ;
  char const *why ;
  char name[256] ;
  long dflt ;
  int fwd ;
  stralloc sa = STRALLOC_ZERO ;
  if (argc < 2 || chdir(argv[1]) < 0) { fprintf(stderr, "usage: dotqmail scratchdir\n") ; return 2 ; }

  /* parsing: kinds, arguments, trailing blanks, comments, blank lines after the first */
  CHECK(parse("# c\n./Maildir/ \t\n./mbox\n/abs/Maildir/\n|prog a b  \n&a@b.example\nc@d.example\n\n#\n", 0, &ln, &why) == 1) ;
  CHECK(nlines() == 6) ;
  CHECK(L(0)->kind == DOTQMAIL_MAILDIR && L(0)->lineno == 2 && !strcmp(text + L(0)->arg, "./Maildir/")) ;
  CHECK(L(1)->kind == DOTQMAIL_MBOX && !strcmp(text + L(1)->arg, "./mbox")) ;
  CHECK(L(2)->kind == DOTQMAIL_MAILDIR && !strcmp(text + L(2)->arg, "/abs/Maildir/")) ;
  CHECK(L(3)->kind == DOTQMAIL_PROGRAM && !strcmp(text + L(3)->arg, "prog a b")) ;
  CHECK(L(4)->kind == DOTQMAIL_FORWARD && !strcmp(text + L(4)->arg, "a@b.example")) ;
  CHECK(L(5)->kind == DOTQMAIL_FORWARD && L(5)->lineno == 7 && !strcmp(text + L(5)->arg, "c@d.example")) ;
  CHECK(parse("./Maildir/", 0, &ln, &why) == 1 && nlines() == 1) ;   /* no final newline */

  /* bad lines: which line, and nothing else matters */
  CHECK(parse("\n./Maildir/\n", 0, &ln, &why) == 0 && ln == 1) ;
  CHECK(parse("./Maildir/\n|\n", 0, &ln, &why) == 0 && ln == 2 && strstr(why, "empty command")) ;
  CHECK(parse("./Maildir/\n&\n", 0, &ln, &why) == 0 && ln == 2) ;
  CHECK(parse("&me\n", 0, &ln, &why) == 0 && ln == 1) ;
  CHECK(parse("&me@\n", 0, &ln, &why) == 0) ;
  CHECK(parse("&<me@x.example>\n", 0, &ln, &why) == 0 && strstr(why, "brackets")) ;
  CHECK(parse("& me@x.example\n", 0, &ln, &why) == 0) ;
  CHECK(parse("&me@x.example (Me)\n", 0, &ln, &why) == 0) ;
  CHECK(parse("#\n+foo\n", 0, &ln, &why) == 0 && ln == 2) ;
  CHECK(parse("./a\n./b\0c\n", 0, &ln, &why) == 1) ;   /* strlen stops at the NUL: fine */
  {
    char t[] = "./a\n./b\0c\n" ;
    genalloc_setlen(dotqmail_line, &lines, 0) ;
    CHECK(dotqmail_parse(t, sizeof t - 1, &lines, 0, &ln, &why) == 0 && ln == 2 && strstr(why, "NUL")) ;
  }
  /* forward-only: the x bit, or +list */
  CHECK(parse("a@b.example\n./Maildir/\n", 1, &ln, &why) == 0 && ln == 2) ;
  CHECK(parse("a@b.example\n|prog\n", 1, &ln, &why) == 0 && ln == 2) ;
  CHECK(parse("./Maildir/\n+list\na@b.example\n|prog\n", 0, &ln, &why) == 0 && ln == 4) ;
  CHECK(parse("+list\na@b.example\n&c@d.example\n", 0, &ln, &why) == 1 && nlines() == 2) ;

  /* finding the file: extensions, -default fallbacks, DEFAULT, safe names */
  put(".qmail", "./Maildir/\n", 0644) ;
  put(".qmail-foo", "./Maildir/\n", 0644) ;
  put(".qmail-foo-default", "./Maildir/\n", 0600) ;
  put(".qmail-a:b", "./Maildir/\n", 0644) ;
  CHECK(find("", "", name, &dflt, &fwd) == 1 && !strcmp(name, ".qmail") && dflt == -1) ;
  CHECK(find("-", "foo", name, &dflt, &fwd) == 1 && !strcmp(name, ".qmail-foo") && dflt == -1) ;
  CHECK(find("-", "FOO", name, &dflt, &fwd) == 1 && !strcmp(name, ".qmail-foo")) ;
  CHECK(find("-", "foo-bar", name, &dflt, &fwd) == 1 && !strcmp(name, ".qmail-foo-default") && dflt == 4) ;
  CHECK(find("-", "foo-bar-baz", name, &dflt, &fwd) == 1 && !strcmp(name, ".qmail-foo-default") && dflt == 4) ;
  CHECK(find("-", "foo-default", name, &dflt, &fwd) == 1 && !strcmp(name, ".qmail-foo-default") && dflt == 4) ;
  CHECK(find("-", "A.B", name, &dflt, &fwd) == 1 && !strcmp(name, ".qmail-a:b")) ;
  CHECK(find("-", "other", name, &dflt, &fwd) == 0) ;
  CHECK(find("-", "", name, &dflt, &fwd) == 0) ;
  CHECK(find("-", "../x", name, &dflt, &fwd) == 0) ;
  put(".qmail-default", "./Maildir/\n", 0644) ;
  CHECK(find("-", "other-thing", name, &dflt, &fwd) == 1 && !strcmp(name, ".qmail-default") && dflt == 0) ;
  CHECK(find("-", "", name, &dflt, &fwd) == 1 && !strcmp(name, ".qmail-default") && dflt == 0) ;
  CHECK(find("", "", name, &dflt, &fwd) == 1 && !strcmp(name, ".qmail")) ;
  /* writable by others: refused, even as a fallback; the x bit means forward-only */
  put(".qmail-w", "./Maildir/\n", 0664) ;
  CHECK(find("-", "w", name, &dflt, &fwd) == -2 && !strcmp(name, ".qmail-w")) ;
  CHECK(chmod(".qmail-w", 0646) == 0 && find("-", "w", name, &dflt, &fwd) == -2) ;
  CHECK(chmod(".qmail-w", 0744) == 0 && find("-", "w", name, &dflt, &fwd) == 1 && fwd == 1) ;
  CHECK(find("-", "foo", name, &dflt, &fwd) == 1 && fwd == 0) ;
  CHECK(mkdir(".qmail-dir", 0755) == 0 && find("-", "dir", name, &dflt, &fwd) == 1 && !strcmp(name, ".qmail-default")) ;
  CHECK(dotqmail_exists("-", "foo", "-default") == 1) ;
  CHECK(dotqmail_exists("-", "foo", "-owner") == 0) ;

  /* header lines */
  CHECK(dotqmail_dtline(&sa, "joe-x", "Example.COM") && !strcmp(sa.s, "Delivered-To: joe-x@Example.COM\n") && sa.len == 32) ;
  CHECK(dotqmail_dtline(&sa, "a\nb", "h") && !strcmp(sa.s, "Delivered-To: a_b@h\n")) ;
  CHECK(dotqmail_rpline(&sa, "") && !strcmp(sa.s, "Return-Path: <>\n")) ;
  CHECK(dotqmail_rpline(&sa, "a.b@c.example") && !strcmp(sa.s, "Return-Path: <a.b@c.example>\n")) ;
  CHECK(dotqmail_rpline(&sa, "john doe@c.example") && !strcmp(sa.s, "Return-Path: <\"john doe\"@c.example>\n")) ;
  CHECK(dotqmail_rpline(&sa, "a..b\"@c") && !strcmp(sa.s, "Return-Path: <\"a..b\\\"\"@c>\n")) ;
  CHECK(dotqmail_rpline(&sa, "#@[]") && !strcmp(sa.s, "Return-Path: <#@[]>\n")) ;
  CHECK(dotqmail_ufline(&sa, "a b@c", 0) && !strcmp(sa.s, "From a-b@c Thu Jan  1 00:00:00 1970\n")) ;
  CHECK(dotqmail_ufline(&sa, "", 1700000000) && !strcmp(sa.s, "From MAILER-DAEMON Tue Nov 14 22:13:20 2023\n")) ;

  /* the environment of commands */
  CHECK(dotqmail_setenv("joe", "/home/joe", "joe-a-b-c-d", "a-b-c-d", "mx.mail.example.com", "s@x.example", "b-c-d", 0)) ;
  ENV("USER", "joe") ; ENV("HOME", "/home/joe") ; ENV("LOCAL", "joe-a-b-c-d") ;
  ENV("EXT", "a-b-c-d") ; ENV("EXT2", "b-c-d") ; ENV("EXT3", "c-d") ; ENV("EXT4", "d") ;
  ENV("HOST", "mx.mail.example.com") ; ENV("HOST2", "mx.mail.example") ; ENV("HOST3", "mx.mail") ; ENV("HOST4", "mx") ;
  ENV("RECIPIENT", "joe-a-b-c-d@mx.mail.example.com") ; ENV("SENDER", "s@x.example") ; ENV("DEFAULT", "b-c-d") ;
  ENV("DTLINE", "Delivered-To: joe-a-b-c-d@mx.mail.example.com\n") ;
  ENV("RPLINE", "Return-Path: <s@x.example>\n") ;
  ENV("UFLINE", "From s@x.example Thu Jan  1 00:00:00 1970\n") ;
  CHECK(dotqmail_setenv("joe", "/h", "joe", "", "localhost", "", 0, 0)) ;
  ENV("EXT", "") ; ENV("EXT2", "") ; ENV("EXT4", "") ; ENV("HOST2", "localhost") ; ENV("HOST4", "localhost") ;
  CHECK(!getenv("DEFAULT")) ;

  /* loops: our Delivered-To in the header (any case, CRLF too), not in the body */
  {
    int fd = fdof("Received: x\nDELIVERED-TO: Joe@H\r\nSubject: y\n\nbody\n") ;
    CHECK(dotqmail_looping(fd, "Delivered-To: joe@h\n") == 1) ;
    close(fd) ;
    fd = fdof("Received: x\nDelivered-To: joe@h.example\n\nDelivered-To: joe@h\n") ;
    CHECK(dotqmail_looping(fd, "Delivered-To: joe@h\n") == 0) ;
    close(fd) ;
    fd = fdof("Delivered-To: joe@h extra\n\n") ;
    CHECK(dotqmail_looping(fd, "Delivered-To: joe@h\n") == 0) ;
    close(fd) ;
    fd = fdof("") ;
    CHECK(dotqmail_looping(fd, "Delivered-To: joe@h\n") == 0) ;
    close(fd) ;
  }

  /* a pipe becomes a file that can be read twice */
  {
    int p[2], fd ;
    off_t start ;
    char buf[64] ;
    CHECK(pipe(p) == 0) ;
    CHECK(write(p[1], "hello pipe\n", 11) == 11) ;
    close(p[1]) ;
    fd = dotqmail_seekable(p[0], &start) ;
    CHECK(fd >= 0 && fd != p[0] && start == 0) ;
    CHECK(read(fd, buf, sizeof buf) == 11 && lseek(fd, 0, SEEK_SET) == 0 && read(fd, buf, sizeof buf) == 11) ;
    close(fd) ; close(p[0]) ;
    fd = fdof("abcdef") ;
    CHECK(lseek(fd, 2, SEEK_SET) == 2) ;
    CHECK(dotqmail_seekable(fd, &start) == fd && start == 2) ;
    close(fd) ;
  }

  /* exit codes of programs in a chain */
  CHECK(dotqmail_exitclass(0) == 0) ;
  CHECK(dotqmail_exitclass(99 << 8) == 99) ;
  CHECK(dotqmail_exitclass(100 << 8) == 100) ;
  CHECK(dotqmail_exitclass(64 << 8) == 100 && dotqmail_exitclass(112 << 8) == 100 && dotqmail_exitclass(78 << 8) == 100) ;
  CHECK(dotqmail_exitclass(111 << 8) == 111 && dotqmail_exitclass(1 << 8) == 111 && dotqmail_exitclass(101 << 8) == 111) ;
  CHECK(dotqmail_exitclass(9) == 111) ;   /* killed by a signal */

  /* running a command on the message */
  {
    int fd = fdof("one\ntwo\n"), wstat ;
    CHECK(dotqmail_runsh("test \"$(cat)\" = \"$(printf 'one\\ntwo')\"", fd, 0, &wstat) && WIFEXITED(wstat) && !WEXITSTATUS(wstat)) ;
    CHECK(dotqmail_runsh("exit 99", fd, 0, &wstat) && WEXITSTATUS(wstat) == 99) ;
    close(fd) ;
  }

  /* mbox: From_ line, quoting, final newline, blank line; an append keeps the old content */
  {
    int fd = fdof("Subject: s\n\nFrom here\n>From there\nFro\n>>From x\nFromage\nlast") ;
    char const *what ;
    CHECK(mbox_deliver("mbox", fd, "From a@b Thu Jan  1 00:00:00 1970\n", "Return-Path: <a@b>\n", "Delivered-To: c@d\n", 5, &what)) ;
    CHECK(!strcmp(slurp("mbox"), "From a@b Thu Jan  1 00:00:00 1970\nReturn-Path: <a@b>\nDelivered-To: c@d\nSubject: s\n\n>From here\n>>From there\nFro\n>>>From x\nFromage\nlast\n\n")) ;
    close(fd) ;
    fd = fdof(">From") ;    /* cut off in the middle of a candidate line */
    CHECK(mbox_deliver("mbox", fd, "From x\n", 0, 0, 5, &what)) ;
    CHECK(strstr(slurp("mbox"), "last\n\nFrom x\n>From\n\n") != 0) ;
    close(fd) ;
    fd = fdof("x\n") ;
    CHECK(mkdir("mboxdir", 0700) == 0) ;
    CHECK(!mbox_deliver("mboxdir", fd, 0, 0, 0, 5, &what)) ;
    CHECK(mbox_deliver("/dev/null", fd, 0, 0, 0, 5, &what)) ;
    close(fd) ;
  }
  /* a locked mbox: the lock times out, the file is unchanged */
  {
    int fd = fdof("x\n") ;
    int lk = open("mbox", O_RDWR) ;
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 } ;
    char const *what ;
    pid_t pid ;
    int p[2] ;
    size_t before = strlen(slurp("mbox")) ;
    CHECK(pipe(p) == 0) ;
    pid = fork() ;
    if (!pid) { close(p[0]) ; if (fcntl(lk, F_SETLKW, &fl) < 0) _exit(1) ; if (write(p[1], "", 1) < 0) _exit(1) ; sleep(3) ; _exit(0) ; }
    close(p[1]) ;
    CHECK(read(p[0], &ln, 1) == 1) ;   /* the child holds the lock */
    errno = 0 ;
    CHECK(!mbox_deliver("mbox", fd, 0, 0, 0, 1, &what) && errno == ETIMEDOUT) ;
    CHECK(strlen(slurp("mbox")) == before) ;
    kill(pid, 9) ; waitpid(pid, 0, 0) ;
    close(lk) ; close(fd) ; close(p[0]) ;
  }
  stralloc_free(&sa) ;
  return !!failed ;
}
