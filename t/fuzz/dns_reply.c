/* libFuzzer harness: dns_reply_parse on hostile replies, against a fixed query for each
   type it answers. The first byte picks the query type; the rest is the reply, whose ID,
   flags and question are patched to the query's half of the time so the answer parser is
   reached. Built and run by t/32-fuzz.t. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "dns.h"

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  static uint16_t const types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_TXT, DNS_T_PTR, DNS_T_CNAME, DNS_T_NS, DNS_T_MX } ;
  char wire[DNS_NAME_MAX] ;
  char q[DNS_QUERY_MAX] ;
  char *pkt ;   /* exactly the reply's size: a read past its end is caught */
  stralloc out = STRALLOC_ZERO ;
  size_t qlen, len, i ;
  int r ;
  if (size < 2) return 0 ;
  dns_name_pack(wire, "4.3.2.1.bl.example") ;
  qlen = dns_query_make(q, 0x1234, wire, types[data[0] % 7]) ;
  len = size - 1 > 65535 ? 65535 : size - 1 ;
  pkt = malloc(len) ;
  if (!pkt) return 0 ;
  memcpy(pkt, data + 1, len) ;
  if (data[0] & 0x80 && len >= qlen)
  {
    memcpy(pkt, q, 2) ;                       /* ID */
    pkt[2] = (char)(pkt[2] | 0x80) ; pkt[2] = (char)(pkt[2] & ~0x78) ;
    memcpy(pkt + 4, q + 4, 2) ;               /* QDCOUNT */
    memcpy(pkt + 12, q + 12, qlen - 12) ;     /* the question */
  }
  r = dns_reply_parse(&out, pkt, len, q, qlen) ;
  /* out is touched only on success, and then holds whole records of the type asked */
  if (r != 1 && out.len) abort() ;
  if (r == 1)
  {
    uint16_t t = types[data[0] % 7] ;
    if (!out.len) abort() ;
    if (t == DNS_T_A && out.len % 4) abort() ;
    if (t == DNS_T_AAAA && out.len % 16) abort() ;
    if (t != DNS_T_A && t != DNS_T_AAAA && out.s[out.len - 1]) abort() ;
    if (t == DNS_T_PTR || t == DNS_T_CNAME || t == DNS_T_NS)
      for (i = 0 ; i < out.len ; i++)   /* names in text are printable */
        if (out.s[i] && (out.s[i] < 0x21 || out.s[i] > 0x7e)) abort() ;
  }
  stralloc_free(&out) ;
  free(pkt) ;
  return 0 ;
}
