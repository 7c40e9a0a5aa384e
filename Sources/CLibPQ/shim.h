#ifndef SCALEKIT_CLIBPQ_SHIM_H
#define SCALEKIT_CLIBPQ_SHIM_H

/* libpq's header lives in /usr/include/postgresql on Debian; pkg-config's
   cflags for libpq add that directory. Everything ScaleKit needs imports
   as is, so there is nothing to shim. */
#include <libpq-fe.h>

#endif
