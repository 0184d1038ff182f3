/* authdns: points the resolver state of libc (res_ninit), that libspf2 and libopendkim use
   for their own queries, at $DNSCACHEIP, as every other sluice tool's DNS goes. Linking this
   module interposes res_ninit in the executable (dynamic tools only): each state the
   libraries initialise then asks the $DNSCACHEIP server alone, AUTHDNS_TRIES times at most,
   AUTHDNS_TIMEOUT seconds the first. Without $DNSCACHEIP, /etc/resolv.conf stands. */
#ifndef SLUICE_AUTHDNS_H
#define SLUICE_AUTHDNS_H

#define AUTHDNS_TIMEOUT 1
#define AUTHDNS_TRIES 2

/* Check $DNSCACHEIP for the libraries: 1 unset or usable; 0 malformed or not IPv4 (every
   library query then fails: temperror). Call it once, before the libraries' first query. */
extern int authdns_init (void) ;

#endif
