/* pop3cmd: POP3 command lines (RFC 1939, RFC 2449, RFC 5034): the verb, the numeric
   arguments. Pure functions on memory: no I/O. */
#ifndef SLUICE_POP3CMD_H
#define SLUICE_POP3CMD_H
#include <stddef.h>
#include <stdint.h>

enum pop3verb_e
{
  POP3VERB_UNKNOWN, POP3VERB_USER, POP3VERB_PASS, POP3VERB_APOP, POP3VERB_AUTH,
  POP3VERB_CAPA, POP3VERB_QUIT, POP3VERB_STLS, POP3VERB_STAT, POP3VERB_LIST,
  POP3VERB_RETR, POP3VERB_DELE, POP3VERB_NOOP, POP3VERB_RSET, POP3VERB_TOP,
  POP3VERB_UIDL, POP3VERB_LAST
} ;

/* The verb of s[0..len), case-insensitive, followed by a space or the end of the line;
   *arg gets the offset of its argument (after one space; len when there is none). */
extern int pop3cmd_verb (char const *s, size_t len, size_t *arg) ;

/* The numbers of a LIST/RETR/DELE/TOP/UIDL argument: between min and max of them (max at
   most 2), decimal digits only, each less than 2^32, separated by spaces (trailing spaces
   are tolerated), nothing else. Returns how many (into n[]), or -1 for anything else. */
extern int pop3cmd_numbers (char const *s, size_t len, unsigned int min, unsigned int max, uint32_t *n) ;

#endif
