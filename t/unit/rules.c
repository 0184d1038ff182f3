/* unit tests for tools/lib/rules: address text, compiling lines, lookups. Exit 0 when all pass. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include "rules.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

static char const *dir ;

static void check_fmt (char const *in, char const *want)
{
  unsigned char ip[16] ;
  char s[RULES_IP6_FMT] ;
  size_t n ;
  if (inet_pton(AF_INET6, in, ip) != 1) { fprintf(stderr, "bad test address %s\n", in) ; failed++ ; return ; }
  n = rules_ip6_fmt(s, ip) ;
  if (n != strlen(want) || memcmp(s, want, n))
  {
    fprintf(stderr, "rules_ip6_fmt(%s) = %.*s, want %s\n", in, (int)n, s, want) ;
    failed++ ;
  }
}

static void check_canon (char const *in, char const *want, int wantfam)
{
  unsigned char ip[16] ;
  char s[RULES_IP6_FMT] ;
  int fam = 0 ;
  size_t n = rules_ip_canon(s, ip, &fam, in) ;
  if (!want)
  {
    if (n) { fprintf(stderr, "rules_ip_canon(%s) accepted a non-address\n", in) ; failed++ ; }
    return ;
  }
  if (n != strlen(want) || memcmp(s, want, n) || fam != wantfam)
  {
    fprintf(stderr, "rules_ip_canon(%s) = %.*s family %d, want %s family %d\n", in, (int)n, s, fam, want, wantfam) ;
    failed++ ;
  }
}

/* compile text (lines separated by \n) into dir/name; returns the line number of the first
   bad line (and its message in err), 0 when all went in */
static unsigned int build (char const *name, char const *text, char *err, size_t errlen)
{
  rules_make m ;
  char path[512] ;
  unsigned int lineno = 0, bad = 0 ;
  int fd ;
  snprintf(path, sizeof path, "%s/%s", dir, name) ;
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) ;
  if (fd < 0 || rules_make_start(&m, fd) < 0) { perror(path) ; exit(111) ; }
  while (*text)
  {
    char const *nl = strchr(text, '\n') ;
    size_t len = nl ? (size_t)(nl - text) : strlen(text) ;
    int e = rules_make_line(&m, text, len) ;
    lineno++ ;
    if (e < 0) { perror("rules_make_line") ; exit(111) ; }
    if (!e && !bad) { bad = lineno ; if (err) snprintf(err, errlen, "%s", m.err) ; }
    text += len + !!nl ;
  }
  CHECK(rules_make_finish(&m) == 1) ;
  rules_make_free(&m) ;
  close(fd) ;
  return bad ;
}

static void show (char *got, size_t gotlen, int e, rules_result const *r)
{
  size_t i, n ;
  if (e < 0) snprintf(got, gotlen, "error %d", errno) ;
  else if (!e) snprintf(got, gotlen, "-") ;
  else
  {
    n = snprintf(got, gotlen, "%.*s|%c|", (int)r->key.len, r->key.s, r->deny ? 'D' : 'A') ;
    for (i = 0 ; i < r->env.len && n < gotlen - 2 ; i++) got[n++] = r->env.s[i] ? r->env.s[i] : ';' ;
    got[n] = 0 ;
  }
}

/* look up a client; want: "-" no rule, else "KEY|D|env1;env2" (D or A). Both ways: from
   the file (rules_lookup) and from a copy in memory (rules_lookup_db), which must agree. */
static void expect (char const *name, char const *ip, char const *host, char const *info, char const *want)
{
  rules_result r = RULES_RESULT_ZERO ;
  rules_db db = RULES_DB_ZERO ;
  char path[512], got[2048] ;
  int e ;
  snprintf(path, sizeof path, "%s/%s", dir, name) ;
  e = rules_lookup(&r, path, ip, host, info) ;
  show(got, sizeof got, e, &r) ;
  if (strcmp(got, want))
  {
    fprintf(stderr, "lookup %s ip=%s host=%s info=%s: got \"%s\", want \"%s\"\n", name, ip, host ? host : "(none)", info ? info : "(none)", got, want) ;
    failed++ ;
  }
  db.settle = 0 ;
  e = rules_lookup_db(&db, &r, path, ip, host, info) ;
  if (!db.mem) { fprintf(stderr, "lookup %s: no copy in memory\n", name) ; failed++ ; }
  show(got, sizeof got, e, &r) ;
  if (strcmp(got, want))
  {
    fprintf(stderr, "lookup in memory %s ip=%s host=%s info=%s: got \"%s\", want \"%s\"\n", name, ip, host ? host : "(none)", info ? info : "(none)", got, want) ;
    failed++ ;
  }
  rules_db_free(&db) ;
  rules_result_free(&r) ;
}

static void expect_bad (char const *line, char const *msgpart)
{
  char err[512] = "" ;
  unsigned int bad = build("bad.cdb", line, err, sizeof err) ;
  if (bad != 1 || !strstr(err, msgpart))
  {
    fprintf(stderr, "line \"%s\": bad=%u err=\"%s\", want an error with \"%s\"\n", line, bad, err, msgpart) ;
    failed++ ;
  }
}

int main (int argc, char const *const *argv)
{
  if (argc < 2) { fprintf(stderr, "usage: rules scratchdir\n") ; return 2 ; }
  dir = argv[1] ;

  /* RFC 5952 text */
  check_fmt("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1") ;
  check_fmt("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1") ;     /* first of two equal runs */
  check_fmt("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1") ;   /* a single 0 group stays */
  check_fmt("2001:0:0:1:0:0:0:1", "2001:0:0:1::1") ;            /* the longest run */
  check_fmt("::", "::") ;
  check_fmt("::1", "::1") ;
  check_fmt("1::", "1::") ;
  check_fmt("fe80::abcd:ef01", "fe80::abcd:ef01") ;
  check_fmt("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8") ;
  check_fmt("0:0:0:0:0:0:0:1", "::1") ;
  check_fmt("1:0:0:0:0:0:0:0", "1::") ;
  check_canon("1.2.3.4", "1.2.3.4", 4) ;
  check_canon("001.002.003.004", "1.2.3.4", 4) ;
  check_canon("::ffff:10.1.2.3", "10.1.2.3", 4) ;
  check_canon("::FFFF:a01:203", "10.1.2.3", 4) ;
  check_canon("2001:DB8:0::0:1", "2001:db8::1", 6) ;
  check_canon("1.2.3", 0, 0) ;
  check_canon("1.2.3.256", 0, 0) ;
  check_canon("", 0, 0) ;
  check_canon("host.example", 0, 0) ;
  check_canon("1.2.3.4 ", 0, 0) ;

  /* the 0.88 order */
  CHECK(build("a.cdb",
    "# comment\n"
    "\n"
    "   \t\n"
    "joe@1.2.3.4:allow,WHO=\"joe\"\n"
    "joe@=h.example.com:allow,WHO='joe-host'\n"
    "1.2.3.4:allow,WHO=/ip/\n"
    "=h.example.com:allow,WHO=\"host\"\n"
    "1.2.3.:allow,WHO=\"p24\"\n"
    "1.2.:deny\n"
    "1.:allow,WHO=\"p8\"\n"
    "=.sub.example.com:allow,WHO=\"sub\"\n"
    "=.example.com:allow,WHO=\"dom\"\n"
    "=:allow,WHO=\"anyhost\"\n"
    ":allow,WHO=\"default\"\n", 0, 0) == 0) ;
  expect("a.cdb", "1.2.3.4", "h.example.com", "joe", "joe@1.2.3.4|A|WHO=joe;") ;
  expect("a.cdb", "1.2.3.5", "h.example.com", "joe", "joe@=h.example.com|A|WHO=joe-host;") ;
  expect("a.cdb", "1.2.3.5", "H.Example.COM", "joe", "joe@=h.example.com|A|WHO=joe-host;") ;
  expect("a.cdb", "1.2.3.4", "h.example.com", "bill", "1.2.3.4|A|WHO=ip;") ;
  expect("a.cdb", "1.2.3.4", 0, 0, "1.2.3.4|A|WHO=ip;") ;
  expect("a.cdb", "1.2.3.5", "h.example.com", 0, "=h.example.com|A|WHO=host;") ;
  expect("a.cdb", "1.2.3.5", "x.sub.example.com", 0, "1.2.3.|A|WHO=p24;") ;
  expect("a.cdb", "1.2.4.5", 0, 0, "1.2.|D|") ;
  expect("a.cdb", "1.9.4.5", 0, 0, "1.|A|WHO=p8;") ;
  expect("a.cdb", "9.9.9.9", "x.sub.example.com", 0, "=.sub.example.com|A|WHO=sub;") ;
  expect("a.cdb", "9.9.9.9", "x.example.com", 0, "=.example.com|A|WHO=dom;") ;
  expect("a.cdb", "9.9.9.9", "x.example.org", 0, "=|A|WHO=anyhost;") ;
  expect("a.cdb", "9.9.9.9", "", 0, "=|A|WHO=anyhost;") ;
  expect("a.cdb", "9.9.9.9", 0, 0, "|A|WHO=default;") ;
  expect("a.cdb", "9.9.9.9", 0, "joe", "|A|WHO=default;") ;
  expect("a.cdb", "::ffff:1.2.3.4", 0, "joe", "joe@1.2.3.4|A|WHO=joe;") ;
  expect("a.cdb", "not-an-address", 0, 0, "|A|WHO=default;") ;

  /* ranges, duplicates (the first wins), several variables, quotes, unset */
  CHECK(build("b.cdb",
    "10.0.0.4-7:allow,R=\"range\"\n"
    "10.2-3.:deny\n"
    "10.9.9.9:allow,A=\"1\",B='2',C=|a,b:c|,D==x=,E=\"\"\n"
    "10.9.9.9:deny\n"
    "10.8.8.8:allow,X=\"1\",U,X=\"2\"\n"
    "joe@10.7.7.1-2:deny\n", 0, 0) == 0) ;
  expect("b.cdb", "10.0.0.3", 0, 0, "-") ;
  expect("b.cdb", "10.0.0.4", 0, 0, "10.0.0.4|A|R=range;") ;
  expect("b.cdb", "10.0.0.7", 0, 0, "10.0.0.7|A|R=range;") ;
  expect("b.cdb", "10.0.0.8", 0, 0, "-") ;
  expect("b.cdb", "10.1.0.1", 0, 0, "-") ;
  expect("b.cdb", "10.2.0.1", 0, 0, "10.2.|D|") ;
  expect("b.cdb", "10.3.255.1", 0, 0, "10.3.|D|") ;
  expect("b.cdb", "10.4.0.1", 0, 0, "-") ;
  expect("b.cdb", "10.9.9.9", 0, 0, "10.9.9.9|A|A=1;B=2;C=a,b:c;D=x;E=;") ;
  expect("b.cdb", "10.8.8.8", 0, 0, "10.8.8.8|A|X=1;U;X=2;") ;
  expect("b.cdb", "10.7.7.2", 0, "joe", "joe@10.7.7.2|D|") ;
  expect("b.cdb", "10.7.7.3", 0, "joe", "-") ;

  /* CIDR, longest prefix first, among the 0.88 dotted prefixes */
  CHECK(build("c.cdb",
    "10.0.0.0/8:allow,N=\"8\"\n"
    "10.0.0.0/9:allow,N=\"9\"\n"
    "10.1.2.0/23:allow,N=\"23\"\n"
    "10.1.2.:allow,N=\"dot24\"\n"
    "10.1.2.128/25:allow,N=\"25\"\n"
    "10.1.2.200/30:deny\n"
    "10.1.2.201/32:allow,N=\"32\"\n"
    "0.0.0.0/0:allow,N=\"all4\"\n"
    "2001:db8::/32:allow,N=\"v6-32\"\n"
    "2001:DB8:0:0::/64:allow,N=\"v6-64\"\n"
    "2001:db8:1::allow,N=\"v6-48\"\n"
    "2001:db8::1/128:allow,N=\"v6-128\"\n"
    "2001:db8:0:0:0:0:0:2:deny\n"
    "::/0:allow,N=\"all6\"\n"
    "::ffff:192.168.0.0/112:allow,N=\"mapped16\"\n"
    "::ffff:172.16.0.0/108:allow,N=\"mapped12\"\n"
    "joe@2001:db8::3:allow,N=\"joe6\"\n", 0, 0) == 0) ;
  expect("c.cdb", "10.200.0.1", 0, 0, "10.|A|N=8;") ;
  expect("c.cdb", "10.100.0.1", 0, 0, "10.0.0.0/9|A|N=9;") ;
  expect("c.cdb", "10.1.3.1", 0, 0, "10.1.2.0/23|A|N=23;") ;
  expect("c.cdb", "10.1.2.1", 0, 0, "10.1.2.|A|N=dot24;") ;
  expect("c.cdb", "10.1.2.129", 0, 0, "10.1.2.128/25|A|N=25;") ;
  expect("c.cdb", "10.1.2.202", 0, 0, "10.1.2.200/30|D|") ;
  expect("c.cdb", "10.1.2.201", 0, 0, "10.1.2.201|A|N=32;") ;
  expect("c.cdb", "11.1.1.1", 0, 0, "0.0.0.0/0|A|N=all4;") ;
  expect("c.cdb", "::ffff:11.1.1.1", 0, 0, "0.0.0.0/0|A|N=all4;") ;
  expect("c.cdb", "192.168.5.5", 0, 0, "192.168.|A|N=mapped16;") ;
  expect("c.cdb", "172.31.1.1", 0, 0, "172.16.0.0/12|A|N=mapped12;") ;
  expect("c.cdb", "2001:db8:2::1", 0, 0, "2001:db8::/32|A|N=v6-32;") ;
  expect("c.cdb", "2001:db8::5", 0, 0, "2001:db8::/64|A|N=v6-64;") ;
  expect("c.cdb", "2001:db8:1:ffff::5", 0, 0, "2001:db8:1::/48|A|N=v6-48;") ;
  expect("c.cdb", "2001:0db8:0000::1", 0, 0, "2001:db8::1|A|N=v6-128;") ;
  expect("c.cdb", "2001:db8::2", 0, 0, "2001:db8::2|D|") ;
  expect("c.cdb", "2001:db8::3", 0, "joe", "joe@2001:db8::3|A|N=joe6;") ;
  expect("c.cdb", "2002::1", 0, 0, "::/0|A|N=all6;") ;

  /* IPv6 rules never catch IPv4 clients; the default rule still does */
  CHECK(build("d.cdb", "::/0:deny\n:allow,D=\"1\"\n=.example.com:allow,H=\"1\"\n", 0, 0) == 0) ;
  expect("d.cdb", "1.2.3.4", 0, 0, "|A|D=1;") ;
  expect("d.cdb", "::1", 0, 0, "::/0|D|") ;
  expect("d.cdb", "::1", "a.example.com", 0, "::/0|D|") ;
  expect("d.cdb", "1.2.3.4", "a.example.com", 0, "=.example.com|A|H=1;") ;

  /* many CIDR rules: lengths 9..31 over many networks, exact answers */
  {
    static char big[200000] ;
    size_t n = 0 ;
    unsigned int a, l ;
    for (a = 0 ; a < 200 ; a++)
      for (l = 9 ; l <= 31 ; l += 2)
      {
        unsigned long net = ((unsigned long)(a + 20) << 24) & (0xffffffffUL << (32 - l)) ;
        n += snprintf(big + n, sizeof big - n, "%lu.%lu.%lu.%lu/%u:allow,L=\"%u\"\n",
          net >> 24, (net >> 16) & 255, (net >> 8) & 255, net & 255, l, l) ;
      }
    CHECK(build("e.cdb", big, 0, 0) == 0) ;
    expect("e.cdb", "21.0.0.1", 0, 0, "21.0.0.0/31|A|L=31;") ;
    expect("e.cdb", "21.0.0.2", 0, 0, "21.0.0.0/29|A|L=29;") ;
    expect("e.cdb", "21.1.0.2", 0, 0, "21.0.0.0/15|A|L=15;") ;
    expect("e.cdb", "21.128.0.2", 0, 0, "-") ;
  }

  /* errors: nothing is added, the message says what is wrong */
  expect_bad("1.2.3.4", "no colon") ;
  expect_bad("1.2.3.4:", "missing allow or deny") ;
  expect_bad("1.2.3.4:permit", "want allow or deny") ;
  expect_bad("1.2.3.4:allow ,X=\"1\"", "want allow or deny") ;
  expect_bad("1.2.3.4:allow,X=\"1", "unterminated") ;
  expect_bad("1.2.3.4:allow,X=", "no quoted value") ;
  expect_bad("1.2.3.4:allow,X=\"1\"Y", "garbage after the closing quote") ;
  expect_bad("1.2.3.4:allow,X=\"1\",", "nothing after the last comma") ;
  expect_bad("1.2.3.4:allow,,X=\"1\"", "empty name") ;
  expect_bad("1.2.3.4:allow,A B=\"1\"", "bad variable name") ;
  expect_bad("1.2.3.256:allow", "over 255") ;
  expect_bad("1.2.3:allow", "prefix ends with a dot") ;
  expect_bad("1.2.3.4.5:allow", "more than 4 parts") ;
  expect_bad("01.2.3.4:allow", "leading zero") ;
  expect_bad("1.2.3.x:allow", "bad address") ;
  expect_bad("1.2.3.7-4:allow", "start after end") ;
  expect_bad("1.2.3.4-300:allow", "over 255") ;
  expect_bad("1.2.3.4-:allow", "bad range") ;
  expect_bad("1.2-3.4-5.6:allow", "one range") ;
  expect_bad("1.2.3.4 :allow", "blank") ;
  expect_bad("10.1.0.0/8:allow", "bits set") ;
  expect_bad("10.0.0.0/33:allow", "prefix length") ;
  expect_bad("10.0.0.0/:allow", "prefix length") ;
  expect_bad("2001:db8::1/129:allow", "prefix length") ;
  expect_bad("2001:db8::1/64:allow", "bits set") ;
  expect_bad("2001:db8::g:allow", "bad IPv6") ;
  expect_bad("2001:db8:12345:allow", "bad IPv6 address") ;
  expect_bad("2001:db8:12345::allow", "bad IPv6 prefix") ;
  expect_bad("2001::db8::allow", "bad IPv6 prefix") ;
  expect_bad("=ho*st:allow", "bad character in host name") ;
  expect_bad("=a..b:allow", "empty label") ;
  expect_bad("=.:allow", "host name") ;
  expect_bad("=..example.com:allow", "empty label") ;
  expect_bad("=.example.com.:allow", "empty label") ;
  expect_bad("joe@=.x:allow", "empty label") ;
  expect_bad("@1.2.3.4:allow", "empty info") ;
  expect_bad("joe@1.2.3.:allow", "info@ takes a full address") ;
  expect_bad("joe@10.0.0.0/8:allow", "info@ takes a full address") ;
  expect_bad("joe@=:allow", "needs a host name") ;
  {
    char err[256] = "", path0[512] ;
    int fd0 ;
    CHECK(build("bad.cdb", "=:allow,X=\"1\"\n=ho*st:deny\n", err, sizeof err) == 2) ;
    CHECK(!strcmp(err, "bad character in host name: ho*st")) ;
    {
      rules_make m ;
      snprintf(path0, sizeof path0, "%s/nul.cdb", dir) ;
      fd0 = open(path0, O_WRONLY | O_CREAT | O_TRUNC, 0644) ;
      CHECK(fd0 >= 0 && rules_make_start(&m, fd0) == 1) ;
      CHECK(rules_make_line(&m, "1.2.3.4:allow,X=\"a\0b\"", 21) == 0 && strstr(m.err, "NUL")) ;
      CHECK(rules_make_line(&m, "1.2.3.4:allow,X=\"ab\"\r", 20) == 1) ;
      CHECK(rules_make_finish(&m) == 1) ;
      rules_make_free(&m) ;
      close(fd0) ;
      expect("nul.cdb", "1.2.3.4", 0, 0, "1.2.3.4|A|X=ab;") ;
    }
  }

  /* lookups that cannot be made */
  {
    rules_result r = RULES_RESULT_ZERO ;
    char path[512] ;
    int fd ;
    snprintf(path, sizeof path, "%s/absent.cdb", dir) ;
    CHECK(rules_lookup(&r, path, "1.2.3.4", 0, 0) == -1 && errno == ENOENT) ;
    snprintf(path, sizeof path, "%s/garbage.cdb", dir) ;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) ;
    CHECK(fd >= 0 && write(fd, "garbage\n", 8) == 8) ;
    close(fd) ;
    CHECK(rules_lookup(&r, path, "1.2.3.4", 0, 0) == -1) ;
    /* a hostile database: a record whose data length runs past the end of the file */
    {
      static unsigned char const lens[][4] = { { 0xff, 0xff, 0xff, 0xff }, { 0x00, 0x00, 0x00, 0x80 }, { 0x00, 0x01, 0x00, 0x00 } } ;
      unsigned int k ;
      for (k = 0 ; k < 3 ; k++)
      {
        CHECK(build("hostile.cdb", "1.2.3.4:allow,X=\"y\"\n", 0, 0) == 0) ;
        snprintf(path, sizeof path, "%s/hostile.cdb", dir) ;
        fd = open(path, O_WRONLY) ;
        CHECK(fd >= 0 && pwrite(fd, lens[k], 4, 2048 + 4) == 4) ;   /* the first record's dlen */
        close(fd) ;
        errno = 0 ;
        CHECK(rules_lookup(&r, path, "1.2.3.4", 0, 0) == -1 && errno == EPROTO) ;
        CHECK(!r.env.len && !r.deny) ;
        {
          rules_db db = RULES_DB_ZERO ;
          db.settle = 0 ;
          errno = 0 ;
          CHECK(rules_lookup_db(&db, &r, path, "1.2.3.4", 0, 0) == -1 && errno == EPROTO) ;
          CHECK(!r.env.len && !r.deny) ;
          rules_db_free(&db) ;
        }
      }
    }
    /* not a database: a FIFO (never opened for good: that would block), a device, a file
       of zeros or one cut short are errors, never an empty database that allows everyone */
    {
      static char const *const names[] = { "fifo.cdb", "zero.cdb", "zeros.cdb", "short.cdb", "empty.cdb" } ;
      static int const want[] = { RULES_ENOTREG, RULES_ENOTREG, EPROTO, EPROTO, EPROTO } ;
      char buf[4096] ;
      unsigned int k ;
      memset(buf, 0, sizeof buf) ;
      snprintf(path, sizeof path, "%s/fifo.cdb", dir) ;
      CHECK(mkfifo(path, 0644) == 0) ;
      snprintf(path, sizeof path, "%s/zero.cdb", dir) ;
      CHECK(symlink("/dev/zero", path) == 0) ;
      snprintf(path, sizeof path, "%s/zeros.cdb", dir) ;
      fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) ;
      CHECK(fd >= 0 && write(fd, buf, 2048) == 2048) ;
      close(fd) ;
      CHECK(build("short.cdb", "1.2.3.4:deny\n:allow\n", 0, 0) == 0) ;
      snprintf(path, sizeof path, "%s/short.cdb", dir) ;
      CHECK(truncate(path, 2100) == 0) ;
      snprintf(path, sizeof path, "%s/empty.cdb", dir) ;
      fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) ;
      close(fd) ;
      for (k = 0 ; k < sizeof names / sizeof *names ; k++)
      {
        rules_db db = RULES_DB_ZERO ;
        snprintf(path, sizeof path, "%s/%s", dir, names[k]) ;
        errno = 0 ;
        CHECK(rules_lookup(&r, path, "1.2.3.4", 0, 0) == -1 && errno == want[k]) ;
        CHECK(!r.env.len && !r.deny && !r.key.len) ;
        db.settle = 0 ;
        errno = 0 ;
        CHECK(rules_lookup_db(&db, &r, path, "1.2.3.4", 0, 0) == -1 && errno == want[k] && !db.mem) ;
        db.settle = 3600 ;   /* too recent to keep: read from the file */
        errno = 0 ;
        CHECK(rules_lookup_db(&db, &r, path, "1.2.3.4", 0, 0) == -1 && errno == want[k]) ;
        CHECK(!strcmp(rules_strerror(want[k]), want[k] == EPROTO ? "not a well-formed cdb (a damaged database)" : "not a regular file")) ;
        rules_db_free(&db) ;
      }
      /* while an empty database, as tcprules writes it, is one */
      CHECK(build("none.cdb", "# nothing\n", 0, 0) == 0) ;
      snprintf(path, sizeof path, "%s/none.cdb", dir) ;
      CHECK(rules_lookup(&r, path, "1.2.3.4", 0, 0) == 0) ;
    }
    /* a database replaced under the same name is read afresh */
    snprintf(path, sizeof path, "%s/a.cdb", dir) ;
    CHECK(rules_lookup(&r, path, "1.2.4.5", 0, 0) == 1 && r.deny) ;
    CHECK(build("a.cdb", "1.2.:allow,NEW=\"1\"\n", 0, 0) == 0) ;
    CHECK(rules_lookup(&r, path, "1.2.4.5", 0, 0) == 1 && !r.deny && r.env.len == 6 && !memcmp(r.env.s, "NEW=1", 6)) ;
    CHECK(rules_lookup(&r, path, "9.9.9.9", 0, 0) == 0 && !r.env.len && !r.key.len && !r.deny) ;
    rules_result_free(&r) ;
  }

  /* the copy in memory follows the file */
  {
    rules_result r = RULES_RESULT_ZERO ;
    rules_db db = RULES_DB_ZERO ;
    char path[512], tmp[512] ;
    struct timespec t[2] ;
    int fd ;
    snprintf(path, sizeof path, "%s/db.cdb", dir) ;
    snprintf(tmp, sizeof tmp, "%s/db.new", dir) ;
    db.settle = 0 ;
    CHECK(build("db.cdb", "1.2.3.4:allow,V=\"1\"\n", 0, 0) == 0) ;
    CHECK(rules_lookup_db(&db, &r, path, "1.2.3.4", 0, 0) == 1 && !strcmp(r.env.s, "V=1") && db.mem) ;
    CHECK(rules_lookup_db(&db, &r, "/nonexistent/x.cdb", "1.2.3.4", 0, 0) == -1 && errno == ENOENT && !db.mem) ;
    CHECK(rules_lookup_db(&db, &r, path, "1.2.3.4", 0, 0) == 1 && !strcmp(r.env.s, "V=1") && db.mem) ;
    /* replaced as tcprules does: a new file renamed over the old one */
    CHECK(build("db.new", "1.2.3.4:allow,V=\"2\"\n", 0, 0) == 0) ;
    CHECK(rename(tmp, path) == 0) ;
    CHECK(rules_lookup_db(&db, &r, path, "1.2.3.4", 0, 0) == 1 && !strcmp(r.env.s, "V=2")) ;
    /* rewritten in place, same size, its times set back to those of the copy: only the
       settle rule can catch that, so with settle 0 the old copy is (knowingly) still used */
    t[0] = db.st.st_mtim ; t[1] = db.st.st_mtim ;
    CHECK(build("db.cdb", "1.2.3.4:allow,V=\"3\"\n", 0, 0) == 0) ;
    CHECK(utimensat(AT_FDCWD, path, t, 0) == 0) ;
    CHECK(rules_lookup_db(&db, &r, path, "1.2.3.4", 0, 0) == 1 && !strcmp(r.env.s, "V=3")) ;   /* ctime moved */
    /* rewritten in place with a new mtime: seen */
    CHECK(build("db.cdb", "1.2.3.4:allow,V=\"4\"\n", 0, 0) == 0) ;
    t[0].tv_sec = t[1].tv_sec = 1000000000 ; t[0].tv_nsec = t[1].tv_nsec = 0 ;
    CHECK(utimensat(AT_FDCWD, path, t, 0) == 0) ;
    CHECK(rules_lookup_db(&db, &r, path, "1.2.3.4", 0, 0) == 1 && !strcmp(r.env.s, "V=4")) ;
    /* settle: a file changed just now is read from disk, not kept */
    rules_db_free(&db) ;
    db.settle = 2 ;
    CHECK(build("db.cdb", "1.2.3.4:allow,V=\"5\"\n", 0, 0) == 0) ;
    CHECK(rules_lookup_db(&db, &r, path, "1.2.3.4", 0, 0) == 1 && !strcmp(r.env.s, "V=5") && !db.mem) ;
    /* damaged after it was kept: garbage renamed over it */
    db.settle = 0 ;
    CHECK(rules_lookup_db(&db, &r, path, "1.2.3.4", 0, 0) == 1 && db.mem) ;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644) ;
    CHECK(fd >= 0 && write(fd, "garbage\n", 8) == 8) ;
    close(fd) ;
    CHECK(rename(tmp, path) == 0) ;
    errno = 0 ;
    CHECK(rules_lookup_db(&db, &r, path, "1.2.3.4", 0, 0) == -1 && errno == EPROTO) ;
    /* larger than RULES_DB_MAX: read from disk each time, same answers */
    {
      size_t n = 0, cap = (RULES_DB_MAX / 40 + 1) * 64, i ;
      char *text = malloc(cap) ;
      CHECK(text != 0) ;
      for (i = 0 ; i < RULES_DB_MAX / 40 + 1 ; i++)
        n += snprintf(text + n, cap - n, "10.%u.%u.%u:allow,P=\"%030u\"\n", (unsigned)(i >> 16) & 255, (unsigned)(i >> 8) & 255, (unsigned)i & 255, (unsigned)i) ;
      CHECK(build("big.cdb", text, 0, 0) == 0) ;
      free(text) ;
      snprintf(path, sizeof path, "%s/big.cdb", dir) ;
      CHECK(rules_lookup_db(&db, &r, path, "10.0.1.2", 0, 0) == 1 && !strcmp(r.env.s, "P=000000000000000000000000000258") && !db.mem) ;
      CHECK(rules_lookup_db(&db, &r, path, "10.9.9.9", 0, 0) == 0) ;
    }
    rules_db_free(&db) ;
    rules_result_free(&r) ;
  }
  return failed ? 1 : 0 ;
}
