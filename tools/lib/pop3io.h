/* pop3io: a POP3 server's side of the connection: command lines read with a deadline and a
   length limit, replies buffered and written with a deadline. Used by pop3-login and pop3d.
   The descriptors can be changed mid-session (UCSPI-TLS: after STLS the server goes on over
   SSLREADFD and SSLWRITEFD, input buffered before it thrown away). */
#ifndef SLUICE_POP3IO_H
#define SLUICE_POP3IO_H
#include <stddef.h>

/* The longest command line accepted, CR LF excluded. RFC 2449 allows 255 octets; an AUTH
   PLAIN response (RFC 5034) of 512 bytes, base64-encoded, needs 684. */
#define POP3IO_LINEMAX 1024

/* What pop3io_getline found. */
#define POP3IO_OK 0
#define POP3IO_TOOLONG 1    /* longer than POP3IO_LINEMAX: skipped to its end */
#define POP3IO_BAD 2        /* a NUL byte in the line */
#define POP3IO_EOF 3        /* the client closed the connection (or reset it) */
#define POP3IO_TIMEOUT 4    /* nothing to read, or no room to write, for timeout seconds */
#define POP3IO_ERROR 5      /* a read or write failed: errno */

typedef struct pop3io_s pop3io ;
struct pop3io_s
{
  int rfd, wfd ;
  unsigned int timeout ;    /* seconds for each wait to read or write; 0: none */
  int exact ;               /* never read a byte past the end of the current line */
  int peek ;                /* exact mode: 1 rfd takes MSG_PEEK, 0 it does not, -1 unknown */
  size_t inpos, inlen ;
  char in[4096] ;
  char *out ;
  size_t outlen, outmax ;
} ;

/* Set io up on rfd and wfd (both made non-blocking), replies collected in out[0..outmax)
   (at least 512 bytes). With exact, input after a line stays unread in the kernel, for the
   next program on the same descriptor. 1, or 0 with errno. */
extern int pop3io_init (pop3io *io, int rfd, int wfd, unsigned int timeout, int exact, char *out, size_t outmax) ;

/* Queue s[0..len) for the client, writing when the buffer fills. 1, or 0 with errno
   (ETIMEDOUT when the client did not read for timeout seconds). */
extern int pop3io_put (pop3io *io, char const *s, size_t len) ;
extern int pop3io_puts (pop3io *io, char const *s) ;

/* Write what is queued. 1, or 0 with errno as pop3io_put. */
extern int pop3io_flush (pop3io *io) ;

/* Room for at least n bytes at io->out + io->outlen, flushing first when needed (n at most
   outmax); the caller adds what it wrote to io->outlen. 1, or 0 with errno. */
extern int pop3io_room (pop3io *io, size_t n) ;

/* Read one command line into line (POP3IO_LINEMAX + 2 bytes), without its CR LF (a bare LF
   ends a line too), 0-terminated, its length in *len; what is queued is written before any
   wait. A POP3IO_ code. */
extern int pop3io_getline (pop3io *io, char *line, size_t *len) ;

/* 1 when a complete or partial line is already buffered (the client pipelines). */
extern int pop3io_pending (pop3io const *io) ;

/* The end of a session: write what is queued, close our side, and read what the client
   still sends (for at most secs seconds, until it closes), so that unread input does not
   make the kernel reset the connection and lose the last reply. */
extern void pop3io_close (pop3io *io, unsigned int secs) ;

/* Throw away buffered input and go on over rfd and wfd (UCSPI-TLS, after STLS). */
extern int pop3io_switch (pop3io *io, int rfd, int wfd) ;

/* One log line on fd 2: word, then " key=value" for each pair of fields (a 0-terminated
   list: key, value, key, value, ..., 0), each value made printable and cut at 256 bytes,
   blanks in it shown as '?' except in a last key "reason=". */
extern void pop3io_log (char const *word, char const *const *fields) ;

#endif
