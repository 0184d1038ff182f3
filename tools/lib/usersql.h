/* usersql: the client side of userdb-mysqld(8): the "mysql" backend of userdb, and the
   requests mail-user(8) sends to change the database. One request per line, fields separated
   by tabs; sluice-mysql(5) describes the protocol. */
#ifndef SLUICE_USERSQL_H
#define SLUICE_USERSQL_H
#include <stddef.h>
#include <skalibs/stralloc.h>
#include "userdb.h"

#define USERSQL_TIMEOUT 5000    /* ms for an answer, unless control/userdbtimeout says */
#define USERSQL_SETPAGE_S "1000" /* addresses of a list's set in one answer (an SL request) */

/* Open db on the mysql backend at the socket sock (0: the instance root's). 1, or 0 (errno). */
extern int usersql_open (userdb *db, char const *sock) ;

/* The socket of the instance root, $SLUICEDIR/users/mysql.sock, 0-terminated into sa. 1 or 0. */
extern int usersql_socket (stralloc *sa) ;

/* 1 when db is open on the mysql backend. */
extern int usersql_is (userdb const *db) ;

/* Send the request req[0..len) (no newline, no NUL) on db (a mysql one), the answer line
   without its newline, 0-terminated, into ans. 1 answered; -1 no answer (errno: the daemon
   is not there, the deadline passed, ...): a temporary failure. A broken connection is
   reopened once. */
extern int usersql_request (userdb *db, char const *req, size_t len, stralloc *ans) ;

extern userdb_backend const userdb_mysql_backend ;

#endif
