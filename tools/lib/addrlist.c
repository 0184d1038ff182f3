#include <string.h>
#include "addrlist.h"

/* tokens of RFC 5322's lexical layer; comments and folding white space are skipped */
#define T_END 0
#define T_ATOM 1
#define T_QUOTED 2
#define T_LITERAL 3
#define T_SPECIAL 4

typedef struct tok_s tok ;
struct tok_s
{
  int type ;
  char c ;                      /* the character of a T_SPECIAL */
  size_t start, end ;           /* s[start..end) */
} ;

static int isspecial (char c) { return c && strchr("()<>[]:;@\\,.\"", c) ; }
static int isctl (unsigned char c) { return c < 32 || c == 127 ; }
static int isblank_ (char c) { return c == ' ' || c == '\t' || c == '\n' ; }

/* s[i] opens a delimited run (quoted string, comment, literal) closed by close; the index
   after it, or 0 when it never closes. Comments nest. */
static size_t delimited (char const *s, size_t len, size_t i, char open, char close)
{
  unsigned int depth = 1 ;
  for (i++ ; i < len ; i++)
  {
    if (s[i] == '\\') { if (++i >= len) return 0 ; continue ; }
    if (s[i] == close && !--depth) return i + 1 ;
    if (s[i] == open && open != close) depth++ ;
  }
  return 0 ;
}

/* the token at *pos; 0 with *why on a lexical error */
static int next (char const *s, size_t len, size_t *pos, tok *t, char const **why)
{
  size_t i = *pos ;
  for (;;)
  {
    while (i < len && isblank_(s[i])) i++ ;
    if (i >= len || s[i] != '(') break ;
    i = delimited(s, len, i, '(', ')') ;
    if (!i) { *why = "unterminated comment" ; return 0 ; }
  }
  t->start = i ;
  if (i >= len) { t->type = T_END ; t->end = i ; *pos = i ; return 1 ; }
  t->c = s[i] ;
  if (s[i] == '"' || s[i] == '[')
  {
    t->end = delimited(s, len, i, s[i], s[i] == '"' ? '"' : ']') ;
    if (!t->end) { *why = s[i] == '"' ? "unterminated quoted string" : "unterminated domain literal" ; return 0 ; }
    t->type = s[i] == '"' ? T_QUOTED : T_LITERAL ;
  }
  else if (strchr("<>@,;:.", s[i])) { t->type = T_SPECIAL ; t->end = i + 1 ; }
  else if (isspecial(s[i]) || isctl(s[i])) { *why = "unexpected character" ; return 0 ; }
  else
  {
    size_t j = i ;
    while (j < len && !isspecial(s[j]) && !isctl(s[j]) && s[j] != ' ') j++ ;
    t->type = T_ATOM ; t->end = j ;
  }
  *pos = t->end ;
  return 1 ;
}

static int special (tok const *t, char c) { return t->type == T_SPECIAL && t->c == c ; }
static int stops (tok const *t) { return t->type == T_END || special(t, ',') || special(t, ';') ; }

/* the text of a token as the envelope has it: a quoted string without its quotes and
   escapes (and without the newlines of folding); 0 for a control character in it */
static int addtok (stralloc *a, char const *s, tok const *t)
{
  size_t i = t->start, end = t->end ;
  if (t->type == T_QUOTED) { i++ ; end-- ; }
  for (; i < end ; i++)
  {
    char c = s[i] ;
    if (t->type == T_QUOTED && c == '\\') c = s[++i] ;
    else if (c == '\n') continue ;
    if (isctl(c) && c != '\t') return 0 ;
    if (!stralloc_catb(a, &c, 1)) return -1 ;
  }
  return 1 ;
}

/* An addr-spec from *pos: local-part ["@" domain], up to a token in stop (not taken: *pos is
   left at it, *t holds it). The address goes to addrs; *ins gets where a qualification goes
   in s and *what which ("@" or "."), *what = 0 for none. */
static int addrspec (char const *s, size_t len, size_t *pos, tok *t, stralloc *addrs, size_t *ins, char *what, char const **why)
{
  size_t lastend = 0 ;
  int words = 0, dots = 0, lastdot = 0, r ;
  *what = 0 ;
  /* the local part: words and dots (a lenient dot-string: "a..b" and "a." occur) */
  for (;;)
  {
    if (!next(s, len, pos, t, why)) return 0 ;
    if (t->type == T_ATOM || t->type == T_QUOTED)
    {
      if (words && !lastdot) { *why = "two words without a dot: a name needs <address>" ; return 0 ; }
      words++ ; lastdot = 0 ;
    }
    else if (special(t, '.')) lastdot = 1 ;
    else break ;
    r = addtok(addrs, s, t) ;
    if (r <= 0) { if (!r) *why = "control character in an address" ; return r ; }
    lastend = t->end ;
  }
  if (!words) { *why = special(t, '@') ? "an address without local part" : "no address" ; return 0 ; }
  if (!special(t, '@')) { *ins = lastend ; *what = '@' ; return stralloc_0(addrs) ? 1 : -1 ; }
  if (!stralloc_catb(addrs, "@", 1)) return -1 ;
  /* the domain: atoms separated by single dots, or a literal */
  words = 0 ; lastdot = 1 ;
  for (;;)
  {
    if (!next(s, len, pos, t, why)) return 0 ;
    if (t->type == T_LITERAL && !words && !dots) { words = 1 ; lastdot = 0 ; dots = -1 ; }
    else if (t->type == T_ATOM && lastdot && dots >= 0) { words++ ; lastdot = 0 ; }
    else if (special(t, '.') && !lastdot && dots >= 0) { dots++ ; lastdot = 1 ; }
    else break ;
    r = addtok(addrs, s, t) ;
    if (r <= 0) { if (!r) *why = "control character in an address" ; return r ; }
    lastend = t->end ;
  }
  if (!words || lastdot) { *why = "bad domain" ; return 0 ; }
  if (!dots) { *ins = lastend ; *what = '.' ; }
  return stralloc_0(addrs) ? 1 : -1 ;
}

/* the qualification of the address just appended (it ends with its \0): into addrs, and
   into text with s[*copied..ins) before it */
static int qualify (char const *s, size_t ins, char what, addrlist_qual const *q, stralloc *text, size_t *copied, stralloc *addrs)
{
  char const *add = what == '@' ? q->host : q->domain ;
  if (!what) return 1 ;
  addrs->len-- ;
  if (!stralloc_catb(addrs, &what, 1) || !stralloc_cats(addrs, add) || !stralloc_0(addrs)) return -1 ;
  if (!text) return 1 ;
  if (!stralloc_catb(text, s + *copied, ins - *copied) || !stralloc_catb(text, &what, 1) || !stralloc_cats(text, add)) return -1 ;
  *copied = ins ;
  return 1 ;
}

int addrlist_parse (char const *s, size_t len, addrlist_qual const *q, stralloc *text, stralloc *addrs, char const **why)
{
  size_t pos = 0, copied = 0 ;
  int ingroup = 0, r ;
  tok t ;
  for (;;)
  {
    /* one element: a group's start, an angle address with its name, an addr-spec, or nothing */
    size_t start = pos, ins = 0 ;
    char what = 0 ;
    int any = 0 ;
    for (;;)
    {
      if (!next(s, len, &pos, &t, why)) return 0 ;
      if (stops(&t) || special(&t, '<') || special(&t, ':')) break ;
      if (special(&t, '>')) { *why = "'>' without '<'" ; return 0 ; }
      any = 1 ;
    }
    if (special(&t, ':'))
    {
      if (ingroup) { *why = "a group inside a group" ; return 0 ; }
      ingroup = 1 ;
      continue ;
    }
    if (special(&t, '<'))
    {
      size_t p = pos ;
      tok u ;
      if (!next(s, len, &p, &u, why)) return 0 ;
      if (special(&u, '@'))
      {
        /* a source route, @a,@b: — obsolete, skipped */
        while (!special(&u, ':'))
        {
          if (u.type == T_END || special(&u, '>')) { *why = "bad source route" ; return 0 ; }
          if (!next(s, len, &p, &u, why)) return 0 ;
        }
        pos = p ;
      }
      else if (special(&u, '>')) { pos = p ; what = 0 ; goto after ; }   /* <>: no address */
      r = addrspec(s, len, &pos, &t, addrs, &ins, &what, why) ;
      if (r <= 0) return r ;
      if (!special(&t, '>')) { *why = "'<' without '>'" ; return 0 ; }
      r = qualify(s, ins, what, q, text, &copied, addrs) ;
      if (r <= 0) return r ;
    after:
      if (!next(s, len, &pos, &t, why)) return 0 ;
      if (!stops(&t)) { *why = "text after '>'" ; return 0 ; }
    }
    else if (any)
    {
      pos = start ;
      r = addrspec(s, len, &pos, &t, addrs, &ins, &what, why) ;
      if (r <= 0) return r ;
      if (!stops(&t)) { *why = special(&t, '<') ? "text before '<' that is not a name" : "unexpected text after an address" ; return 0 ; }
      r = qualify(s, ins, what, q, text, &copied, addrs) ;
      if (r <= 0) return r ;
    }
    if (special(&t, ';'))
    {
      if (!ingroup) { *why = "';' outside a group" ; return 0 ; }
      ingroup = 0 ;
    }
    if (t.type == T_END) break ;
  }
  if (text && !stralloc_catb(text, s + copied, len - copied)) return -1 ;
  return 1 ;
}

/* s[0..n) appended as it is when it is atoms (with spaces between them when words, with dots
   between them when !words), else as a quoted string with control characters made spaces */
static int quoted (stralloc *sa, char const *s, size_t n, int words)
{
  size_t from = sa->len ;
  int plain = n && s[0] != (words ? ' ' : '.') && s[n - 1] != (words ? ' ' : '.') ;
  for (size_t i = 0 ; plain && i < n ; i++)
  {
    if (words ? s[i] == ' ' && s[i + 1] == ' ' : s[i] == '.' && i + 1 < n && s[i + 1] == '.') plain = 0 ;
    else if (s[i] == (words ? ' ' : '.')) continue ;
    else if (isspecial(s[i]) || isctl(s[i]) || s[i] == ' ') plain = 0 ;
  }
  if (plain) return stralloc_catb(sa, s, n) ;
  if (!stralloc_catb(sa, "\"", 1)) return 0 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    char c = isctl(s[i]) ? ' ' : s[i] ;
    if ((c == '"' || c == '\\') && !stralloc_catb(sa, "\\", 1)) { sa->len = from ; return 0 ; }
    if (!stralloc_catb(sa, &c, 1)) { sa->len = from ; return 0 ; }
  }
  return stralloc_catb(sa, "\"", 1) ;
}

int addrlist_phrase (stralloc *sa, char const *s)
{
  return quoted(sa, s, strlen(s), 1) ;
}

int addrlist_local (stralloc *sa, char const *s)
{
  return quoted(sa, s, strlen(s), 0) ;
}

int addrlist_header (stralloc *sa, char const *addr)
{
  char const *at = strrchr(addr, '@') ;
  size_t n = at ? (size_t)(at - addr) : strlen(addr) ;
  return quoted(sa, addr, n, 0) && (!at || stralloc_cats(sa, at)) ;
}
