/* ucspitls: the server's side of UCSPI-TLS (tls-wrap -s, sslserver -n): find the three
   descriptors, ask for the handshake, read what the TLS program says of the connection.
   Used by smtpd (STARTTLS) and pop3-login (STLS). */
#ifndef SLUICE_UCSPITLS_H
#define SLUICE_UCSPITLS_H
#include <stddef.h>

/* $SSLCTLFD, $SSLREADFD and $SSLWRITEFD, each a number over 2, made close-on-exec (the
   programs the server runs have no use for them): 1 with *ctl, *rfd, *wfd set, else 0 with
   them -1. */
extern int ucspitls_fds (int *ctl, int *rfd, int *wfd) ;

/* Write 'Y' on ctl and read the answer into buf[0..max): "VAR=value\0" for each fact of the
   connection, then "\0". Waits secs seconds at most (0: no limit). The answer's length, or
   0 when there is none (the handshake failed, the TLS program is gone, too long, timeout). */
extern size_t ucspitls_start (int ctl, char *buf, size_t max, unsigned int secs) ;

/* The value of name in the answer buf[0..len), or 0. */
extern char const *ucspitls_get (char const *buf, size_t len, char const *name) ;

#endif
