/* unit tests for tools/lib/addrlist: address lists parsed, qualified, and quoted back. */
#include <stdio.h>
#include <string.h>
#include "addrlist.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

static addrlist_qual const q = { .host = "host.example", .domain = "example.net" } ;
static char got[4096], gottext[4096] ;
static char const *why ;

/* parse s: the addresses joined with '|' in got, the text in gottext; the return value */
static int parse (char const *s)
{
  stralloc text = STRALLOC_ZERO, addrs = STRALLOC_ZERO ;
  int r ;
  why = 0 ;
  r = addrlist_parse(s, strlen(s), &q, &text, &addrs, &why) ;
  got[0] = gottext[0] = 0 ;
  if (r == 1)
  {
    size_t n = addrs.len < sizeof got ? addrs.len : sizeof got - 1 ;
    for (size_t i = 0 ; i < n ; i++) got[i] = addrs.s[i] ? addrs.s[i] : '|' ;
    got[n] = 0 ;
    n = text.len < sizeof gottext ? text.len : sizeof gottext - 1 ;
    memcpy(gottext, text.s, n) ; gottext[n] = 0 ;
  }
  stralloc_free(&text) ; stralloc_free(&addrs) ;
  return r ;
}

static int same (char const *s, char const *addrs, char const *text)
{
  int ok = parse(s) == 1 && !strcmp(got, addrs) && !strcmp(gottext, text) ;
  if (!ok) fprintf(stderr, "input [%s]: got [%s] text [%s] why [%s]\n", s, got, gottext, why ? why : "") ;
  return ok ;
}

static int bad (char const *s)
{
  int r = parse(s) ;
  if (r) fprintf(stderr, "input [%s] should fail, gave %d [%s]\n", s, r, got) ;
  return !r && why && *why ;
}

static int quoted (int (*f) (stralloc *, char const *), char const *s, char const *want)
{
  stralloc sa = STRALLOC_ZERO ;
  int ok = f(&sa, s) && sa.len == strlen(want) && !memcmp(sa.s, want, sa.len) ;
  if (!ok) fprintf(stderr, "quoting [%s]: got [%.*s], want [%s]\n", s, (int)sa.len, sa.s, want) ;
  stralloc_free(&sa) ;
  return ok ;
}

int main (void)
{
  CHECK(same("a@b.example", "a@b.example|", "a@b.example")) ;
  CHECK(same(" root\n", "root@host.example|", " root@host.example\n")) ;
  CHECK(same("Name <u@box>", "u@box.example.net|", "Name <u@box.example.net>")) ;
  CHECK(same("\"J. Doe\" <jd@x.example>, grp: a@b.example, c;", "jd@x.example|a@b.example|c@host.example|",
             "\"J. Doe\" <jd@x.example>, grp: a@b.example, c@host.example;")) ;
  CHECK(same("undisclosed-recipients:;", "", "undisclosed-recipients:;")) ;
  CHECK(same("<>", "", "<>")) ;
  CHECK(same("<@r1.example,@r2.example:u@x.example>", "u@x.example|", "<@r1.example,@r2.example:u@x.example>")) ;
  CHECK(same("\"a b\"@x.example", "a b@x.example|", "\"a b\"@x.example")) ;
  CHECK(same("\"a\\\"q\"@x.example", "a\"q@x.example|", "\"a\\\"q\"@x.example")) ;
  CHECK(same("(one) a@b.example (two (nested)), c@d.example", "a@b.example|c@d.example|", "(one) a@b.example (two (nested)), c@d.example")) ;
  CHECK(same("a@[192.0.2.1]", "a@[192.0.2.1]|", "a@[192.0.2.1]")) ;
  CHECK(same("a@b.example,\n\tc@d.example\n", "a@b.example|c@d.example|", "a@b.example,\n\tc@d.example\n")) ;
  CHECK(same("\"a\n b\"@x.example", "a b@x.example|", "\"a\n b\"@x.example")) ;
  CHECK(same("John Q. Public <jqp@x.example>", "jqp@x.example|", "John Q. Public <jqp@x.example>")) ;
  CHECK(same("K\303\266ln <k@x.example>", "k@x.example|", "K\303\266ln <k@x.example>")) ;
  CHECK(same("a,,b", "a@host.example|b@host.example|", "a@host.example,,b@host.example")) ;
  CHECK(same("", "", "")) ;
  CHECK(same("u@localhost", "u@localhost.example.net|", "u@localhost.example.net")) ;
  CHECK(bad("John Smith")) ;
  CHECK(bad("a@")) ;
  CHECK(bad("@b.example")) ;
  CHECK(bad("<a@b.example")) ;
  CHECK(bad("a@b.example>")) ;
  CHECK(bad("\"unterminated@b.example")) ;
  CHECK(bad("(unterminated a@b.example")) ;
  CHECK(bad("a@b..example")) ;
  CHECK(bad("a@b.example.")) ;
  CHECK(bad("x@y.example; z@w.example")) ;
  CHECK(bad("a\001b@x.example")) ;
  CHECK(bad("\"a\001b\"@x.example")) ;
  CHECK(bad("g: h: a@b.example;;")) ;
  CHECK(bad("<a@b.example> trailing")) ;
  CHECK(bad("<@r1.example a@b.example>")) ;
  CHECK(bad("a@[1.2.3.4")) ;

  CHECK(quoted(&addrlist_phrase, "Cron Daemon", "Cron Daemon")) ;
  CHECK(quoted(&addrlist_phrase, "J. Doe", "\"J. Doe\"")) ;
  CHECK(quoted(&addrlist_phrase, "a\"b\\c", "\"a\\\"b\\\\c\"")) ;
  CHECK(quoted(&addrlist_phrase, "x\nBcc: y@z", "\"x Bcc: y@z\"")) ;
  CHECK(quoted(&addrlist_phrase, "K\303\266ln", "K\303\266ln")) ;
  CHECK(quoted(&addrlist_header, "a.b@x.example", "a.b@x.example")) ;
  CHECK(quoted(&addrlist_header, "a b@x.example", "\"a b\"@x.example")) ;
  CHECK(quoted(&addrlist_header, "a..b@x.example", "\"a..b\"@x.example")) ;
  CHECK(quoted(&addrlist_header, ".a@x.example", "\".a\"@x.example")) ;
  CHECK(quoted(&addrlist_header, "a@b@x.example", "\"a@b\"@x.example")) ;
  CHECK(quoted(&addrlist_local, "john@corp", "\"john@corp\"")) ;
  CHECK(quoted(&addrlist_local, "www-data", "www-data")) ;

  /* round trip: what addrlist_header writes parses back to the same address */
  {
    char const *const tricky[] = { "a b@x.example", "a\"b@x.example", "a\\b@x.example", "a..b@x.example", "(x)@y.example", 0 } ;
    for (unsigned int i = 0 ; tricky[i] ; i++)
    {
      stralloc sa = STRALLOC_ZERO, addrs = STRALLOC_ZERO ;
      char const *w = 0 ;
      CHECK(addrlist_header(&sa, tricky[i]) && stralloc_0(&sa)) ;
      CHECK(addrlist_parse(sa.s, sa.len - 1, &q, 0, &addrs, &w) == 1 && addrs.len == strlen(tricky[i]) + 1 && !strcmp(addrs.s, tricky[i])) ;
      stralloc_free(&sa) ; stralloc_free(&addrs) ;
    }
  }
  return !!failed ;
}
