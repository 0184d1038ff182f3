#include <string.h>
#include <time.h>
#include <skalibs/types.h>
#include "bounce.h"
#include "date822.h"

/* "C.S.D" at s: its length, or 0 (class 2, 4 or 5, then 1-3 digits, then 1-3 digits) */
static size_t status_at (char const *s)
{
  size_t i = 0, k ;
  if (s[0] != '2' && s[0] != '4' && s[0] != '5') return 0 ;
  if (s[1] != '.') return 0 ;
  i = 2 ;
  for (unsigned int part = 0 ; part < 2 ; part++)
  {
    for (k = 0 ; k < 3 && s[i] >= '0' && s[i] <= '9' ; k++) i++ ;
    if (!k) return 0 ;
    if (!part) { if (s[i] != '.') return 0 ; i++ ; }
  }
  if (s[i] >= '0' && s[i] <= '9') return 0 ;
  return i ;
}

void bounce_status (char const *text, int delayed, char *out)
{
  char const *p ;
  size_t n ;
  /* qmail's "#5.1.1" first */
  for (p = strchr(text, '#') ; p ; p = strchr(p + 1, '#'))
  {
    n = status_at(p + 1) ;
    if (n) goto found ;
  }
  /* then "NNN C.S.D", a remote server's reply */
  for (p = text ; *p ; p++)
  {
    if (p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9'
     && (p[3] == ' ' || p[3] == '-') && (p == text || p[-1] == ' '))
    {
      n = status_at(p + 4) ;
      if (n) { p += 3 ; goto found ; }
    }
  }
  strcpy(out, delayed ? "4.0.0" : "5.0.0") ;
  return ;
 found:
  memcpy(out, p + 1, n) ;
  out[n] = 0 ;
  /* a failure is permanent whatever the text says, a delay temporary */
  out[0] = delayed ? '4' : '5' ;
}

/* text without control characters: a header or field value on one line */
static int catclean (stralloc *sa, char const *s)
{
  size_t from = sa->len ;
  if (!stralloc_cats(sa, s)) return 0 ;
  for (size_t i = from ; i < sa->len ; i++)
    if ((unsigned char)sa->s[i] < 0x20 || sa->s[i] == 0x7f) sa->s[i] = ' ' ;
  return 1 ;
}

static int catdate (stralloc *sa, uint64_t t)
{
  return date822_cat(sa, (time_t)t) ;
}

/* the header of the original, up to its empty line (or all of it) */
static size_t header_len (char const *s, size_t len)
{
  for (size_t i = 0 ; i < len ; i++)
  {
    if (s[i] != '\n') continue ;
    if (i + 1 < len && s[i+1] == '\n') return i + 1 ;
    if (i + 2 < len && s[i+1] == '\r' && s[i+2] == '\n') return i + 1 ;
  }
  return len ;
}

int bounce_make (stralloc *sa, bounce const *b)
{
  char fmt[UINT64_FMT] ;
  char boundary[96] ;
  size_t n ;
  strcpy(boundary, "sluice-report-") ;
  n = strlen(boundary) ;
  n += uint64_fmt(boundary + n, b->arrival) ;
  boundary[n++] = '-' ;
  strncpy(boundary + n, b->id, sizeof boundary - n - 1) ;
  boundary[sizeof boundary - 1] = 0 ;

  if (!stralloc_cats(sa, "From: Mail Delivery System <") || !catclean(sa, b->from) || !stralloc_cats(sa, ">\n")
   || !stralloc_cats(sa, "To: <") || !catclean(sa, b->to) || !stralloc_cats(sa, ">\n")
   || !stralloc_cats(sa, b->delayed ? "Subject: Delayed mail (still being retried)\n" : "Subject: Undelivered mail returned to sender\n")
   || !stralloc_cats(sa, "Date: ") || !catdate(sa, (uint64_t)time(0)) || !stralloc_cats(sa, "\n")
   || !stralloc_cats(sa, "Message-ID: <") || !catclean(sa, b->id) || !stralloc_cats(sa, b->delayed ? ".delay." : ".bounce.")
   || !stralloc_catb(sa, fmt, uint64_fmt(fmt, (uint64_t)time(0))) || !stralloc_cats(sa, "@") || !catclean(sa, b->me) || !stralloc_cats(sa, ">\n")
   || !stralloc_cats(sa, "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n")
   || !stralloc_cats(sa, "Content-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"")
   || !stralloc_cats(sa, boundary) || !stralloc_cats(sa, "\"\n\nThis is a MIME-encapsulated message.\n\n")) return 0 ;

  /* for people */
  if (!stralloc_cats(sa, "--") || !stralloc_cats(sa, boundary) || !stralloc_cats(sa, "\nContent-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n")
   || !stralloc_cats(sa, "This is the mail system at host ") || !catclean(sa, b->me) || !stralloc_cats(sa, ".\n\n")) return 0 ;
  if (b->delayed)
  {
    if (!stralloc_cats(sa, "Your message could not be delivered yet to the recipients below.\nIt stays in the queue and will be tried again until ")
     || !catdate(sa, b->until) || !stralloc_cats(sa, ";\nyou do not need to send it again.\n\n")) return 0 ;
  }
  else if (!stralloc_cats(sa, "I'm sorry to have to tell you that your message could not be delivered\nto the recipients below. This is a permanent error; I've given up.\n\n")) return 0 ;
  for (size_t i = 0 ; i < b->n ; i++)
    if (!stralloc_cats(sa, "<") || !catclean(sa, b->rcpts[i].addr) || !stralloc_cats(sa, ">:\n    ")
     || !catclean(sa, b->rcpts[i].text) || !stralloc_cats(sa, "\n\n")) return 0 ;

  /* for programs */
  if (!stralloc_cats(sa, "--") || !stralloc_cats(sa, boundary) || !stralloc_cats(sa, "\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\n")
   || !stralloc_cats(sa, "Reporting-MTA: dns; ") || !catclean(sa, b->me) || !stralloc_cats(sa, "\n")
   || !stralloc_cats(sa, "X-Sluice-Queue-ID: ") || !catclean(sa, b->id) || !stralloc_cats(sa, "\n")
   || !stralloc_cats(sa, "Arrival-Date: ") || !catdate(sa, b->arrival) || !stralloc_cats(sa, "\n")) return 0 ;
  for (size_t i = 0 ; i < b->n ; i++)
  {
    char status[16] ;
    bounce_status(b->rcpts[i].text, b->delayed, status) ;
    if (!stralloc_cats(sa, "\nFinal-Recipient: rfc822; ") || !catclean(sa, b->rcpts[i].addr)
     || !stralloc_cats(sa, b->delayed ? "\nAction: delayed\nStatus: " : "\nAction: failed\nStatus: ") || !stralloc_cats(sa, status)
     || !stralloc_cats(sa, b->rcpts[i].remote ? "\nDiagnostic-Code: smtp; " : "\nDiagnostic-Code: X-Sluice; ")
     || !catclean(sa, b->rcpts[i].text) || !stralloc_cats(sa, "\n")) return 0 ;
    if (b->delayed && (!stralloc_cats(sa, "Will-Retry-Until: ") || !catdate(sa, b->until) || !stralloc_cats(sa, "\n"))) return 0 ;
  }

  /* the original: all of it, or its header */
  if (!stralloc_cats(sa, "\n--") || !stralloc_cats(sa, boundary)) return 0 ;
  if (b->whole)
  {
    if (!stralloc_cats(sa, "\nContent-Description: Undelivered message\nContent-Type: message/rfc822\n\n")
     || !stralloc_catb(sa, b->orig, b->origlen)) return 0 ;
  }
  else if (!stralloc_cats(sa, "\nContent-Description: Header of the undelivered message (too big to send back whole)\nContent-Type: text/rfc822-headers\n\n")
   || !stralloc_catb(sa, b->orig, header_len(b->orig, b->origlen))) return 0 ;
  if (sa->len && sa->s[sa->len - 1] != '\n' && !stralloc_catb(sa, "\n", 1)) return 0 ;
  return stralloc_cats(sa, "\n--") && stralloc_cats(sa, boundary) && stralloc_cats(sa, "--\n") ;
}
