/* pop3msg: a Maildir message as POP3 carries it (RFC 1939 sections 3 and 11): lines end in
   CR LF, a line starting with "." gets another; its size counted that way; its UIDL from the
   file name. Pure functions on memory: no I/O. */
#ifndef SLUICE_POP3MSG_H
#define SLUICE_POP3MSG_H
#include <stddef.h>
#include <stdint.h>

#define POP3MSG_ALL UINT64_MAX   /* TOP's line count for the whole body */

typedef struct pop3msg_enc_s pop3msg_enc ;
struct pop3msg_enc_s
{
  uint64_t left ;       /* body lines still to send, or POP3MSG_ALL */
  size_t linelen ;      /* bytes of the current line taken so far */
  int cr ;              /* the last byte taken was a CR */
  int inheader ;        /* before the first empty line */
  int done ;            /* TOP's limit reached: nothing more to send */
} ;

/* Start a message; bodylines: lines of the body to send after the header (TOP), or
   POP3MSG_ALL (RETR). */
extern void pop3msg_enc_init (pop3msg_enc *e, uint64_t bodylines) ;

/* Encode in[0..len) into out[0..outmax) (outmax at least 3): every LF becomes CR LF (one
   that follows a CR stays LF), a "." starting a line is doubled. Returns the bytes of in
   used, *outlen the bytes written; less than len is used when out is full or e->done. */
extern size_t pop3msg_encode (pop3msg_enc *e, char const *in, size_t len, char *out, size_t outmax, size_t *outlen) ;

/* After the last byte of the file: the CR LF that a last line without a newline needs, into
   out (3 bytes); returns 0, 1 or 2. The terminating ".\r\n" is the caller's. */
extern size_t pop3msg_finish (pop3msg_enc *e, char *out) ;

/* The size RFC 1939 asks for: the octets the client receives, byte-stuffing not counted. */
typedef struct pop3msg_size_s pop3msg_size ;
struct pop3msg_size_s
{
  uint64_t size ;
  size_t linelen ;
  int cr ;
} ;
#define POP3MSG_SIZE_ZERO { .size = 0, .linelen = 0, .cr = 0 }
extern void pop3msg_size_feed (pop3msg_size *s, char const *in, size_t len) ;
extern uint64_t pop3msg_size_finish (pop3msg_size const *s) ;

/* The longest UIDL RFC 1939 allows. */
#define POP3MSG_UIDLMAX 70

/* The UIDL of the Maildir file name: its unique part (up to the first ',' or ':'), which
   stays the same when the file moves from new/ to cur/ and when its flags change; a hash of
   it ("~" and 16 hex digits) when that part is longer than POP3MSG_UIDLMAX or has bytes
   outside 0x21-0x7e. out: POP3MSG_UIDLMAX + 1 bytes; returns the length, out 0-terminated. */
extern size_t pop3msg_uidl (char const *name, char *out) ;

/* The number a Maildir++ name carries as ",key=n" before its ':' (key 'S': the file's size,
   'W': the size as POP3 sends it). 1 found (*n set), 0 not. */
extern int pop3msg_namesize (char const *name, char key, uint64_t *n) ;

/* The delivery time a Maildir name starts with, in microseconds, for sorting: its leading
   seconds, plus the microseconds of a ".M<usec>" right after them (the names that
   maildir-deliver, qmail and Dovecot make); 0 when there is none, UINT64_MAX when it
   overflows. */
extern uint64_t pop3msg_stamp (char const *name) ;

#endif
