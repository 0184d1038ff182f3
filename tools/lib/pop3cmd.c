#include <string.h>
#include "pop3cmd.h"

static char const *const verbs[] =
{
  "", "user", "pass", "apop", "auth", "capa", "quit", "stls", "stat", "list",
  "retr", "dele", "noop", "rset", "top", "uidl", "last"
} ;

int pop3cmd_verb (char const *s, size_t len, size_t *arg)
{
  size_t n = 0 ;
  while (n < len && s[n] != ' ') n++ ;
  *arg = n < len ? n + 1 : len ;
  if (n < 3 || n > 4) return POP3VERB_UNKNOWN ;
  for (unsigned int v = 1 ; v < sizeof verbs / sizeof *verbs ; v++)
  {
    size_t k = 0 ;
    if (strlen(verbs[v]) != n) continue ;
    while (k < n && (s[k] | 0x20) == verbs[v][k]) k++ ;
    if (k == n) return v ;
  }
  return POP3VERB_UNKNOWN ;
}

int pop3cmd_numbers (char const *s, size_t len, unsigned int min, unsigned int max, uint32_t *n)
{
  size_t i = 0 ;
  unsigned int count = 0 ;
  for (;;)
  {
    uint64_t x = 0 ;
    size_t start ;
    while (i < len && s[i] == ' ') i++ ;
    if (i == len) break ;
    if (count == max) return -1 ;
    start = i ;
    while (i < len && s[i] >= '0' && s[i] <= '9')
    {
      x = x * 10 + (uint64_t)(s[i] - '0') ;
      if (x > UINT32_MAX) return -1 ;
      i++ ;
    }
    if (i == start || (i < len && s[i] != ' ')) return -1 ;
    n[count++] = (uint32_t)x ;
  }
  return count < min ? -1 : (int)count ;
}
