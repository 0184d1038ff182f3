/* services: a port by service name, read from a services(5) file ("name port/proto
   aliases... # comment") directly rather than through NSS, so that a tool that needs it
   can be linked statically. Other NSS sources (NIS, LDAP) are not asked. */
#ifndef SLUICE_SERVICES_H
#define SLUICE_SERVICES_H
#include <stdint.h>

#define SERVICES_FILE "/etc/services"

/* The port of service name (or alias) for proto ("tcp") in file: 1 found (*port set),
   0 not there, -1 the file cannot be read (errno). The first matching line wins, as with
   getservbyname. */
extern int services_port (uint16_t *port, char const *name, char const *proto, char const *file) ;

#endif
