/* libFuzzer harness: tcprules lines into a cdb, then lookups in that cdb and in the input
   taken as a (hostile) cdb file. Input: the rules text, then a NUL, then the client's
   address text; a second run treats the whole input as a database. The databases live in
   a memfd, opened by rules_lookup as /proc/self/fd/N. Built and run by t/32-fuzz.t. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "rules.h"

static int fd = -1 ;
static char path[64] ;

static void lookup (char const *ip)
{
  rules_result r = RULES_RESULT_ZERO ;
  (void)rules_lookup(&r, path, ip, "Mail.Example.COM", "joe") ;
  (void)rules_lookup(&r, path, ip, 0, 0) ;
  rules_result_free(&r) ;
}

static int empty (void)
{
  return ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0 ;
}

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  rules_make m ;
  char ip[64] = "1.2.3.4" ;
  uint8_t const *z = memchr(data, 0, size) ;
  size_t tlen = z ? (size_t)(z - data) : size ;
  size_t start = 0, i ;
  if (fd < 0)
  {
    fd = memfd_create("rules", 0) ;
    if (fd < 0) return 0 ;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd) ;
  }
  if (z)
  {
    size_t n = size - tlen - 1 ;
    if (n >= sizeof ip) n = sizeof ip - 1 ;
    memcpy(ip, z + 1, n) ; ip[n] = 0 ;
  }
  if (!empty() || rules_make_start(&m, fd) < 0) return 0 ;
  for (i = 0 ; i <= tlen ; i++)
    if (i == tlen || data[i] == '\n')
    {
      if (rules_make_line(&m, (char const *)data + start, i - start) < 0) break ;
      start = i + 1 ;
    }
  if (rules_make_finish(&m) > 0) lookup(ip) ;
  rules_make_free(&m) ;
  /* the raw input as a database */
  if (empty() && write(fd, data, size) == (ssize_t)size) lookup(ip) ;
  return 0 ;
}
