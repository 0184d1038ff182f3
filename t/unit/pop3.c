/* unit tests for tools/lib/pop3msg (encoding, sizes, UIDL, names), tools/lib/pop3cmd (verbs,
   numbers) and tools/lib/pop3io (lines, limits, exact reads, deadlines). argv[1]: scratch dir. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "pop3cmd.h"
#include "pop3io.h"
#include "pop3msg.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)
#define S(lit) lit, sizeof(lit) - 1

/* encode in[0..len) whole, in pieces of step bytes into an output window of room bytes */
static size_t enc (char const *in, size_t len, uint64_t lines, size_t step, size_t room, char *out)
{
  pop3msg_enc e ;
  size_t o = 0, pos = 0 ;
  pop3msg_enc_init(&e, lines) ;
  while (pos < len && !e.done)
  {
    size_t n = len - pos < step ? len - pos : step ;
    size_t used = 0, k ;
    while (used < n && !e.done)
    {
      used += pop3msg_encode(&e, in + pos + used, n - used, out + o, room, &k) ;
      o += k ;
    }
    pos += used ;
  }
  o += pop3msg_finish(&e, out + o) ;
  out[o] = 0 ;
  return o ;
}

static uint64_t size_of (char const *in, size_t len, size_t step)
{
  pop3msg_size s = POP3MSG_SIZE_ZERO ;
  for (size_t pos = 0 ; pos < len ; pos += step)
    pop3msg_size_feed(&s, in + pos, len - pos < step ? len - pos : step) ;
  return pop3msg_size_finish(&s) ;
}

/* the size must be what the encoding sends, stuffed dots not counted */
static int size_agrees (char const *in, size_t len)
{
  char out[1024] ;
  size_t n = enc(in, len, POP3MSG_ALL, len ? len : 1, 1000, out), dots = 0 ;
  for (size_t i = 0 ; i < n ; i++) if (out[i] == '.' && (!i || out[i-1] == '\n')) dots++ ;
  for (size_t step = 1 ; step <= len + 1 ; step++)
    if (size_of(in, len, step) != n - dots) return 0 ;
  return 1 ;
}

static void test_msg (void)
{
  char out[1024], u[POP3MSG_UIDLMAX + 1] ;
  uint64_t n ;
  static char const m1[] = "Subject: x\n\n.\n..x\nend\n" ;
  static char const want1[] = "Subject: x\r\n\r\n..\r\n...x\r\nend\r\n" ;
  /* every split of the input and every output window gives the same bytes */
  for (size_t step = 1 ; step <= sizeof m1 ; step++)
    for (size_t room = 3 ; room < 12 ; room++)
      CHECK(enc(S(m1), POP3MSG_ALL, step, room, out) == sizeof want1 - 1 && !strcmp(out, want1)) ;
  CHECK(enc(S("a\r\nb\r\n"), POP3MSG_ALL, 1, 3, out) == 6 && !strcmp(out, "a\r\nb\r\n")) ;
  CHECK(enc(S("last"), POP3MSG_ALL, 2, 5, out) == 6 && !strcmp(out, "last\r\n")) ;
  CHECK(enc(S("cr\r"), POP3MSG_ALL, 1, 5, out) == 4 && !strcmp(out, "cr\r\n")) ;
  CHECK(enc(S("."), POP3MSG_ALL, 1, 5, out) == 4 && !strcmp(out, "..\r\n")) ;
  CHECK(enc(S("a\rb\n"), POP3MSG_ALL, 1, 5, out) == 5 && !strcmp(out, "a\rb\r\n")) ;
  CHECK(enc("", 0, POP3MSG_ALL, 1, 5, out) == 0) ;
  /* TOP */
  static char const m2[] = "H: 1\nH: 2\n\nb1\n.b2\nb3\n" ;
  CHECK(enc(S(m2), 0, 1, 4, out) && !strcmp(out, "H: 1\r\nH: 2\r\n\r\n")) ;
  CHECK(enc(S(m2), 2, 3, 4, out) && !strcmp(out, "H: 1\r\nH: 2\r\n\r\nb1\r\n..b2\r\n")) ;
  CHECK(enc(S(m2), 9, 3, 4, out) && !strcmp(out, "H: 1\r\nH: 2\r\n\r\nb1\r\n..b2\r\nb3\r\n")) ;
  CHECK(enc(S("H: 1\r\n\r\nb1\r\nb2\r\n"), 1, 1, 4, out) && !strcmp(out, "H: 1\r\n\r\nb1\r\n")) ;
  CHECK(enc(S("H: 1\n\nno newline"), 1, 2, 4, out) && !strcmp(out, "H: 1\r\n\r\nno newline\r\n")) ;
  CHECK(enc(S("only: header\n"), 0, 2, 4, out) && !strcmp(out, "only: header\r\n")) ;
  /* sizes */
  CHECK(size_agrees(S(m1))) ;
  CHECK(size_agrees(S("a\r\nb\r\n"))) ;
  CHECK(size_agrees(S("last"))) ;
  CHECK(size_agrees(S("cr\r"))) ;
  CHECK(size_agrees(S("\n\n\r\n\r"))) ;
  CHECK(size_agrees(S("a\rb\n.\r\n"))) ;
  CHECK(size_of("", 0, 1) == 0) ;
  /* UIDL */
  CHECK(pop3msg_uidl("1700000000.M1P2Q3R4.host,S=123:2,S", u) == 24 && !strcmp(u, "1700000000.M1P2Q3R4.host")) ;
  CHECK(pop3msg_uidl("1700000000.M1P2Q3R4.host", u) == 24 && !strcmp(u, "1700000000.M1P2Q3R4.host")) ;
  CHECK(pop3msg_uidl("1700000000.1.host:2,", u) == 17 && !strcmp(u, "1700000000.1.host")) ;
  {
    char longname[200], u2[POP3MSG_UIDLMAX + 1] ;
    memset(longname, 'h', 100) ; strcpy(longname + 100, ",S=1") ;
    CHECK(pop3msg_uidl(longname, u) == 17 && u[0] == '~') ;
    strcpy(longname + 100, ":2,S") ;   /* the same message with flags: the same UIDL */
    CHECK(pop3msg_uidl(longname, u2) == 17 && !strcmp(u, u2)) ;
    longname[5] = 'x' ;
    CHECK(pop3msg_uidl(longname, u2) == 17 && strcmp(u, u2)) ;
    memset(longname, 'h', 70) ; longname[70] = 0 ;
    CHECK(pop3msg_uidl(longname, u) == 70) ;
    CHECK(pop3msg_uidl("a b", u) == 17 && u[0] == '~') ;
    CHECK(pop3msg_uidl("", u) == 17 && u[0] == '~') ;
  }
  /* names */
  CHECK(pop3msg_namesize("1.2.h,S=123:2,S", 'S', &n) && n == 123) ;
  CHECK(pop3msg_namesize("1.2.h,S=123,W=130:2,S", 'W', &n) && n == 130) ;
  CHECK(!pop3msg_namesize("1.2.h,S=123:2,S", 'W', &n)) ;
  CHECK(!pop3msg_namesize("1.2.h:2,S=5", 'S', &n)) ;
  CHECK(!pop3msg_namesize("1.2.h,S=12x", 'S', &n)) ;
  CHECK(!pop3msg_namesize("1.2.h,S=", 'S', &n)) ;
  CHECK(!pop3msg_namesize("1.2.h,S=99999999999999999999999", 'S', &n)) ;
  CHECK(pop3msg_stamp("1700000000.M1") == 1700000000000001ULL) ;
  CHECK(pop3msg_stamp("1700000000.M99999P1") < pop3msg_stamp("1700000000.M100000P1")) ;
  CHECK(pop3msg_stamp("1700000000.M999999P1") < pop3msg_stamp("1700000001.M0P1")) ;
  CHECK(pop3msg_stamp("1700000000.1234.host") == 1700000000000000ULL) ;
  CHECK(pop3msg_stamp("1700000000.M1234567") == 1700000000000000ULL) ;
  CHECK(pop3msg_stamp("x1") == 0) ;
  CHECK(pop3msg_stamp("99999999999999999999999") == UINT64_MAX) ;
}

static void test_cmd (void)
{
  size_t a ;
  uint32_t n[2] ;
  CHECK(pop3cmd_verb(S("RETR 1"), &a) == POP3VERB_RETR && a == 5) ;
  CHECK(pop3cmd_verb(S("retr"), &a) == POP3VERB_RETR && a == 4) ;
  CHECK(pop3cmd_verb(S("Top 1 2"), &a) == POP3VERB_TOP && a == 4) ;
  CHECK(pop3cmd_verb(S("PASS  a b"), &a) == POP3VERB_PASS && a == 5) ;
  CHECK(pop3cmd_verb(S("RETRX 1"), &a) == POP3VERB_UNKNOWN) ;
  CHECK(pop3cmd_verb(S("RET"), &a) == POP3VERB_UNKNOWN) ;
  CHECK(pop3cmd_verb(S(""), &a) == POP3VERB_UNKNOWN) ;
  CHECK(pop3cmd_verb(S("R\xc5TR"), &a) == POP3VERB_UNKNOWN) ;
  CHECK(pop3cmd_numbers(S("12"), 1, 1, n) == 1 && n[0] == 12) ;
  CHECK(pop3cmd_numbers(S("1 0"), 2, 2, n) == 2 && n[0] == 1 && n[1] == 0) ;
  CHECK(pop3cmd_numbers(S(""), 0, 1, n) == 0) ;
  CHECK(pop3cmd_numbers(S("3 "), 0, 1, n) == 1 && n[0] == 3) ;
  CHECK(pop3cmd_numbers(S("4294967295"), 1, 1, n) == 1 && n[0] == 4294967295U) ;
  CHECK(pop3cmd_numbers(S("4294967296"), 1, 1, n) < 0) ;
  CHECK(pop3cmd_numbers(S("99999999999999999999999"), 1, 1, n) < 0) ;
  CHECK(pop3cmd_numbers(S("1 2"), 1, 1, n) < 0) ;
  CHECK(pop3cmd_numbers(S(""), 1, 1, n) < 0) ;
  CHECK(pop3cmd_numbers(S("+1"), 1, 1, n) < 0) ;
  CHECK(pop3cmd_numbers(S("-1"), 1, 1, n) < 0) ;
  CHECK(pop3cmd_numbers(S("1x"), 1, 1, n) < 0) ;
  CHECK(pop3cmd_numbers(S("0x1"), 1, 1, n) < 0) ;
}

static void test_io (void)
{
  char outbuf[600], line[POP3IO_LINEMAX + 2] ;
  size_t len ;
  int sv[2], p[2] ;
  pop3io io ;
  char rest[64] ;
  /* exact mode on a socket: the bytes after the line stay in the kernel */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) ;
  CHECK(write(sv[1], S("USER a\r\nPASS b\nSTAT\r\n")) == 21) ;
  CHECK(pop3io_init(&io, sv[0], sv[0], 2, 1, outbuf, sizeof outbuf)) ;
  CHECK(pop3io_getline(&io, line, &len) == POP3IO_OK && len == 6 && !strcmp(line, "USER a")) ;
  CHECK(pop3io_getline(&io, line, &len) == POP3IO_OK && len == 6 && !strcmp(line, "PASS b")) ;
  CHECK(!pop3io_pending(&io)) ;
  CHECK(read(sv[0], rest, sizeof rest) == 6 && !memcmp(rest, "STAT\r\n", 6)) ;
  /* replies are written when a read would wait */
  CHECK(pop3io_puts(&io, "+OK\r\n")) ;
  CHECK(write(sv[1], S("NOOP\r\n")) == 6) ;
  CHECK(pop3io_getline(&io, line, &len) == POP3IO_OK && !strcmp(line, "NOOP")) ;
  CHECK(read(sv[1], rest, sizeof rest) == 5 && !memcmp(rest, "+OK\r\n", 5)) ;
  /* a line too long is skipped to its end; a NUL is refused; the deadline; EOF */
  {
    char big[3000] ;
    memset(big, 'x', sizeof big) ;
    CHECK(write(sv[1], big, sizeof big) == sizeof big) ;
    CHECK(write(sv[1], S("\r\nOK\r\nA\0B\r\n")) == 11) ;
  }
  CHECK(pop3io_getline(&io, line, &len) == POP3IO_TOOLONG) ;
  CHECK(pop3io_getline(&io, line, &len) == POP3IO_OK && !strcmp(line, "OK")) ;
  CHECK(pop3io_getline(&io, line, &len) == POP3IO_BAD) ;
  io.timeout = 1 ;
  CHECK(pop3io_getline(&io, line, &len) == POP3IO_TIMEOUT) ;
  CHECK(write(sv[1], S("partial")) == 7) ;
  close(sv[1]) ;
  CHECK(pop3io_getline(&io, line, &len) == POP3IO_EOF) ;
  close(sv[0]) ;
  /* exact mode on a pipe: a byte at a time, nothing read ahead */
  CHECK(pipe(p) == 0) ;
  CHECK(write(p[1], S("A\nB\n")) == 4) ;
  CHECK(pop3io_init(&io, p[0], 1, 2, 1, outbuf, sizeof outbuf)) ;
  CHECK(pop3io_getline(&io, line, &len) == POP3IO_OK && !strcmp(line, "A")) ;
  CHECK(read(p[0], rest, sizeof rest) == 2 && !memcmp(rest, "B\n", 2)) ;
  close(p[0]) ; close(p[1]) ;
  /* buffered mode: pipelined lines come from the buffer */
  CHECK(pipe(p) == 0) ;
  CHECK(write(p[1], S("A\r\nB\r\n" "C")) == 7) ;
  CHECK(pop3io_init(&io, p[0], 1, 2, 0, outbuf, sizeof outbuf)) ;
  CHECK(pop3io_getline(&io, line, &len) == POP3IO_OK && !strcmp(line, "A")) ;
  CHECK(pop3io_pending(&io)) ;
  CHECK(pop3io_getline(&io, line, &len) == POP3IO_OK && !strcmp(line, "B")) ;
  close(p[1]) ;
  CHECK(pop3io_getline(&io, line, &len) == POP3IO_EOF) ;
  close(p[0]) ;
  /* a client that does not read: the write times out */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) ;
  CHECK(pop3io_init(&io, sv[0], sv[0], 1, 0, outbuf, sizeof outbuf)) ;
  {
    int ok = 1, i ;
    for (i = 0 ; i < 100000 && ok ; i++) ok = pop3io_puts(&io, "0123456789012345678901234567890123456789\r\n") ;
    CHECK(!ok && errno == ETIMEDOUT) ;
  }
  close(sv[0]) ; close(sv[1]) ;
}

int main (void)
{
  test_msg() ;
  test_cmd() ;
  test_io() ;
  if (failed) fprintf(stderr, "%d checks failed\n", failed) ;
  return !!failed ;
}
