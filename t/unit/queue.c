/* unit tests for tools/lib/queue (the on-disk format) and tools/lib/bounce (the notices). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "bounce.h"
#include "queue.h"

static int failed = 0 ;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c) ; failed++ ; } } while (0)

#define ENV(s) (s), sizeof(s) - 1

static int entries (char const *base, char const *dir)
{
  char cmd[1200] ;
  FILE *p ;
  int n = -1 ;
  snprintf(cmd, sizeof cmd, "ls -A '%s/%s' | wc -l", base, dir) ;
  p = popen(cmd, "r") ;
  if (p && fscanf(p, "%d", &n) != 1) n = -1 ;
  if (p) pclose(p) ;
  return n ;
}

int main (int argc, char const *const *argv)
{
  char const *base = argc > 1 ? argv[1] : "/tmp" ;
  char qpath[1024] ;
  int qfd ;
  size_t n ;

  /* IDs */
  CHECK(queue_id_valid("1796165890.051428.10953882")) ;
  CHECK(!queue_id_valid("1796165890.051428")) ;
  CHECK(!queue_id_valid("1796165890..10953882")) ;
  CHECK(!queue_id_valid("../etc/passwd")) ;
  CHECK(!queue_id_valid("1.2.3.4")) ;
  CHECK(!queue_id_valid("")) ;
  CHECK(!queue_id_valid("1.2.x")) ;
  CHECK(!queue_id_valid("123456789012345678901.1.1")) ;
  CHECK(queue_id_time("1796165890.051428.10953882") == 1796165890) ;
  CHECK(queue_id_time("nope") == 0) ;

  /* envelopes, as qmail-queue(8) codes them */
  CHECK(queue_envelope_check(ENV("Fa@b\0Tc@d\0\0"), &n) == QUEUE_OK && n == 1) ;
  CHECK(queue_envelope_check(ENV("F\0Tc@d\0Te@f\0\0"), &n) == QUEUE_OK && n == 2) ;   /* a bounce */
  CHECK(queue_envelope_check(ENV("Fa@b\0Tc@d\0"), &n) == QUEUE_BADENV) ;              /* no terminator */
  CHECK(queue_envelope_check(ENV("Fa@b\0\0"), &n) == QUEUE_BADENV) ;                  /* no recipient */
  CHECK(queue_envelope_check(ENV("Fa@b\0Tc\nd\0\0"), &n) == QUEUE_BADENV) ;           /* newline */
  CHECK(queue_envelope_check(ENV("Fa@b\0Tc\rd\0\0"), &n) == QUEUE_BADENV) ;
  CHECK(queue_envelope_check(ENV("Fa@b\0Tc@d\0\0x"), &n) == QUEUE_BADENV) ;           /* bytes after the end */
  CHECK(queue_envelope_check(ENV("Ta@b\0Tc@d\0\0"), &n) == QUEUE_BADENV) ;            /* no F first */
  CHECK(queue_envelope_check(ENV("Fa@b\0Fc@d\0\0"), &n) == QUEUE_BADENV) ;            /* two F */
  CHECK(queue_envelope_check(ENV("Fa@b\0T\0\0"), &n) == QUEUE_BADENV) ;               /* empty recipient */
  CHECK(queue_envelope_check(ENV("Fa@b\0c@d\0\0"), &n) == QUEUE_BADENV) ;             /* a NUL inside an address */
  CHECK(queue_envelope_check("", 0, &n) == QUEUE_BADENV) ;
  {
    char env[2100] ;
    memcpy(env, "Fa\0T", 4) ;
    memset(env + 4, 'x', QUEUE_ADDRMAX + 1) ;
    env[4 + QUEUE_ADDRMAX + 1] = 0 ; env[4 + QUEUE_ADDRMAX + 2] = 0 ;
    CHECK(queue_envelope_check(env, QUEUE_ADDRMAX + 7, &n) == QUEUE_TOOLONG) ;
    env[4 + QUEUE_ADDRMAX] = 0 ; env[4 + QUEUE_ADDRMAX + 1] = 0 ;
    CHECK(queue_envelope_check(env, QUEUE_ADDRMAX + 6, &n) == QUEUE_OK) ;            /* exactly the limit */
  }

  /* writing */
  snprintf(qpath, sizeof qpath, "%s/queue", base) ;
  CHECK(mkdir(qpath, 0700) == 0) ;
  qfd = queue_open(qpath) ;
  CHECK(qfd >= 0) ;
  {
    queue_writer w ;
    stralloc rcv = STRALLOC_ZERO ;
    CHECK(queue_write_begin(&w, qfd, ENV("Fa@b\0Tc@d\0\0"), 7, 8, 0) == QUEUE_DIR) ;   /* no tmp/ */
    CHECK(w.fd < 0) ;
    CHECK(mkdirat(qfd, "tmp", 0700) == 0 && mkdirat(qfd, "todo", 0700) == 0 && mkdirat(qfd, "mess", 0700) == 0 && mkdirat(qfd, "info", 0700) == 0) ;
    CHECK(queue_write_begin(&w, qfd, ENV("Fa@b\0Tc@d\0"), 7, 8, 0) == QUEUE_BADENV) ;
    CHECK(entries(qpath, "tmp") == 0) ;
    CHECK(queue_received_local(&rcv, 42, 1000)) ;
    CHECK(!strncmp(rcv.s, "Received: (sluice 42 invoked by uid 1000); ", 43) && rcv.s[rcv.len - 1] == '\n') ;
    CHECK(queue_write_begin(&w, qfd, ENV("Fa@b\0Tc@d\0Te@f\0\0"), 7, 8, rcv.s) == QUEUE_OK) ;
    CHECK(queue_id_valid(w.id)) ;
    CHECK(entries(qpath, "tmp") == 1 && entries(qpath, "todo") == 0) ;   /* nothing visible yet */
    CHECK(queue_write_data(&w, "Subject: x\n\n", 12) == QUEUE_OK) ;
    {
      static char big[100000] ;
      memset(big, 'y', sizeof big) ;
      CHECK(queue_write_data(&w, big, sizeof big) == QUEUE_OK) ;   /* past the buffer */
    }
    CHECK(queue_write_commit(&w) == QUEUE_OK) ;
    CHECK(entries(qpath, "tmp") == 0 && entries(qpath, "todo") == 1) ;
    {
      char name[64] ;
      queue_msg m = QUEUE_MSG_ZERO ;
      char const *why ;
      char head[128] ;
      int fd ;
      snprintf(name, sizeof name, "todo/%s", w.id) ;
      fd = openat(qfd, name, O_RDONLY) ;
      CHECK(fd >= 0) ;
      CHECK(queue_msg_read(fd, &m, &why) == 1) ;
      CHECK(m.nrcpt == 2 && !strcmp(m.sender, "a@b") && !strcmp(queue_msg_rcpt(&m, 0), "c@d") && !strcmp(queue_msg_rcpt(&m, 1), "e@f")) ;
      CHECK(m.uid == 7 && m.qp == 8) ;
      CHECK(m.size == rcv.len + 12 + 100000) ;
      CHECK(pread(fd, head, rcv.len, m.offset) == (ssize_t)rcv.len && !memcmp(head, rcv.s, rcv.len)) ;
      queue_msg_free(&m) ;
      close(fd) ;
    }
    /* abort leaves nothing */
    CHECK(queue_write_begin(&w, qfd, ENV("Fa@b\0Tc@d\0\0"), 7, 8, 0) == QUEUE_OK) ;
    CHECK(queue_write_data(&w, "x", 1) == QUEUE_OK) ;
    queue_write_abort(&w) ;
    CHECK(entries(qpath, "tmp") == 0 && entries(qpath, "todo") == 1) ;
    stralloc_free(&rcv) ;
  }

  /* reading damaged files */
  {
    static char const *const bad[] =
    {
      "not a queue file\n",
      "sluice-queue 1\nenvelope 11\nuid 0\n\nFa\0Tb\0\0",                 /* no qp */
      "sluice-queue 1\nenvelope 99\nuid 0\nqp 1\n\nFa\0Tb\0\0",           /* truncated */
      "sluice-queue 1\nenvelope 6\nuid 0\nqp 1\n\nFa\0Tb\0X",             /* bad envelope */
      "sluice-queue 2\nenvelope 7\nuid 0\nqp 1\n\nFa\0Tb\0\0",            /* another version */
      0
    } ;
    size_t len[5] ;
    len[0] = sizeof "not a queue file\n" - 1 ;
    len[1] = sizeof "sluice-queue 1\nenvelope 11\nuid 0\n\nFa\0Tb\0\0" - 1 ;
    len[2] = sizeof "sluice-queue 1\nenvelope 99\nuid 0\nqp 1\n\nFa\0Tb\0\0" - 1 ;
    len[3] = sizeof "sluice-queue 1\nenvelope 6\nuid 0\nqp 1\n\nFa\0Tb\0X" - 1 ;
    len[4] = sizeof "sluice-queue 2\nenvelope 7\nuid 0\nqp 1\n\nFa\0Tb\0\0" - 1 ;
    for (unsigned int i = 0 ; bad[i] ; i++)
    {
      queue_msg m = QUEUE_MSG_ZERO ;
      char const *why = 0 ;
      char name[64] ;
      int fd ;
      snprintf(name, sizeof name, "mess/bad%u", i) ;
      fd = openat(qfd, name, O_RDWR | O_CREAT | O_TRUNC, 0600) ;
      CHECK(fd >= 0 && write(fd, bad[i], len[i]) == (ssize_t)len[i]) ;
      CHECK(queue_msg_read(fd, &m, &why) == 0 && why) ;
      queue_msg_free(&m) ;
      close(fd) ;
    }
  }

  /* the state log */
  {
    queue_state st = QUEUE_STATE_ZERO ;
    stralloc sa = STRALLOC_ZERO ;
    char const *id = "1796165890.000001.1" ;
    size_t bad, idx[2] = { 0, 2 } ;
    struct stat s ;
    CHECK(queue_state_read(qfd, id, 3, &st, &bad) == 1 && bad == 0 && st.lines == 0) ;   /* none: all pending */
    CHECK(genalloc_s(queue_rcptstate, &st.rcpt)[1].state == QUEUE_RCPT_PENDING) ;
    CHECK(queue_line_deferred(&sa, 0, 100, 500, 1, 2, "connection\nrefused")) ;
    CHECK(queue_line_done(&sa, 1, 101)) ;
    CHECK(queue_line_failed(&sa, 2, 102, "5.1.1", "no such user")) ;
    CHECK(queue_line_failed(&sa, 0, 103, "5.4.7", "too old")) ;
    CHECK(queue_line_bounced(&sa, 104, idx, 2)) ;
    CHECK(queue_line_deferred(&sa, 9, 100, 500, 1, 0, "out of range")) ;
    CHECK(queue_state_append(qfd, id, sa.s, sa.len, 4242)) ;
    CHECK(fstatat(qfd, "info/1796165890.000001.1", &s, 0) == 0 && s.st_mtime == 4242) ;   /* the schedule */
    CHECK(queue_state_append(qfd, id, "D 0 105", 7, 0)) ;   /* the writer died: no newline */
    CHECK(queue_state_read(qfd, id, 3, &st, &bad) == 1) ;
    CHECK(bad == 2) ;   /* out of range, and the cut line */
    {
      queue_rcptstate const *r = genalloc_s(queue_rcptstate, &st.rcpt) ;
      CHECK(r[0].state == QUEUE_RCPT_FAILED && r[0].bounced && r[0].tries == 1 && r[0].steps == 2) ;
      CHECK(!strcmp(queue_state_text(&st, 0), "5.4.7 too old")) ;
      CHECK(r[1].state == QUEUE_RCPT_DONE && r[1].when == 101) ;
      CHECK(r[2].state == QUEUE_RCPT_FAILED && r[2].bounced) ;
      CHECK(!strcmp(queue_state_text(&st, 2), "5.1.1 no such user")) ;
    }
    /* compacted, it says the same */
    CHECK(queue_state_compact(qfd, id, &st, 777)) ;
    {
      queue_state st2 = QUEUE_STATE_ZERO ;
      queue_rcptstate const *r ;
      CHECK(queue_state_read(qfd, id, 3, &st2, &bad) == 1 && bad == 0 && st2.lines == 4) ;
      r = genalloc_s(queue_rcptstate, &st2.rcpt) ;
      CHECK(r[0].state == QUEUE_RCPT_FAILED && r[0].bounced && !strcmp(queue_state_text(&st2, 0), "5.4.7 too old")) ;
      CHECK(r[1].state == QUEUE_RCPT_DONE && r[2].state == QUEUE_RCPT_FAILED && r[2].bounced) ;
      CHECK(fstatat(qfd, "info/1796165890.000001.1", &s, 0) == 0 && s.st_mtime == 777) ;
      queue_state_free(&st2) ;
    }
    /* a deferral's text keeps no control character */
    sa.len = 0 ;
    CHECK(queue_line_deferred(&sa, 0, 1, 2, 3, 4, "a\nb\rc")) ;
    CHECK(sa.len && !memchr(sa.s, '\r', sa.len) && memchr(sa.s, '\n', sa.len) == sa.s + sa.len - 1) ;
    stralloc_free(&sa) ;
    queue_state_free(&st) ;
  }

  /* bounces: the status code a notice carries */
  {
    char st[16] ;
    bounce_status("no mailbox here by that name (#5.1.1)", 0, st) ; CHECK(!strcmp(st, "5.1.1")) ;
    bounce_status("mailbox is full (#4.2.2)", 0, st) ; CHECK(!strcmp(st, "5.2.2")) ;      /* failed: class 5 */
    bounce_status("mx.example[192.0.2.1] said: 550 5.7.1 relaying denied", 0, st) ; CHECK(!strcmp(st, "5.7.1")) ;
    bounce_status("mx.example[192.0.2.1] said: 451 4.3.0 try later", 1, st) ; CHECK(!strcmp(st, "4.3.0")) ;
    bounce_status("something went wrong", 0, st) ; CHECK(!strcmp(st, "5.0.0")) ;
    bounce_status("something went wrong", 1, st) ; CHECK(!strcmp(st, "4.0.0")) ;
    bounce_status("version 1.2.3 of the program", 0, st) ; CHECK(!strcmp(st, "5.0.0")) ;   /* not after a reply code */
  }
  {
    stralloc sa = STRALLOC_ZERO ;
    bounce_rcpt r[2] = { { "x@a.example", "no mailbox here by that name (#5.1.1)", 0 }, { "y@b.example", "mx[192.0.2.1] said: 550 5.1.1 unknown\r\nuser", 1 } } ;
    char const orig[] = "Subject: hello\nFrom: s@c.example\n\nbody\n" ;
    bounce b = { .me = "mx.example", .from = "MAILER-DAEMON@mx.example", .to = "s@c.example", .id = "1.2.3",
      .arrival = 1796165890, .until = 0, .delayed = 0, .rcpts = r, .n = 2, .orig = orig, .origlen = sizeof orig - 1, .whole = 1 } ;
    CHECK(bounce_make(&sa, &b)) ;
    CHECK(stralloc_0(&sa)) ;
    CHECK(strstr(sa.s, "Content-Type: multipart/report; report-type=delivery-status;") != 0) ;
    CHECK(strstr(sa.s, "\nTo: <s@c.example>\n") != 0) ;
    CHECK(strstr(sa.s, "Final-Recipient: rfc822; x@a.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: X-Sluice; no mailbox") != 0) ;
    CHECK(strstr(sa.s, "Final-Recipient: rfc822; y@b.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; mx[192.0.2.1] said: 550 5.1.1 unknown  user\n") != 0) ;
    CHECK(strstr(sa.s, "Content-Type: message/rfc822\n\nSubject: hello\nFrom: s@c.example\n\nbody\n") != 0) ;
    CHECK(strstr(sa.s, "Auto-Submitted: auto-replied\n") != 0) ;
    /* too big: the header alone */
    sa.len = 0 ;
    b.whole = 0 ;
    CHECK(bounce_make(&sa, &b) && stralloc_0(&sa)) ;
    CHECK(strstr(sa.s, "Content-Type: text/rfc822-headers\n\nSubject: hello\nFrom: s@c.example\n\n--") != 0) ;
    CHECK(!strstr(sa.s, "body\n")) ;
    /* a delay warning */
    sa.len = 0 ;
    b.delayed = 1 ; b.until = 1796770690 ; b.n = 1 ;
    r[0].text = "connection refused" ;
    CHECK(bounce_make(&sa, &b) && stralloc_0(&sa)) ;
    CHECK(strstr(sa.s, "Action: delayed\nStatus: 4.0.0\n") != 0 && strstr(sa.s, "Will-Retry-Until: ") != 0) ;
    CHECK(strstr(sa.s, "Subject: Delayed mail") != 0) ;
    stralloc_free(&sa) ;
  }
  return failed ? 1 : 0 ;
}
