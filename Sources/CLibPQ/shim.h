#ifndef SCALEKIT_CLIBPQ_SHIM_H
#define SCALEKIT_CLIBPQ_SHIM_H

/* libpq's header lives in /usr/include/postgresql on Debian; pkg-config's
   cflags for libpq add that directory. */
#include <libpq-fe.h>

/* The PG_DIAG_* field codes are character-literal macros, which Swift does
   not import; these constants carry the same values. */
static const int scalekit_pg_diag_sqlstate = PG_DIAG_SQLSTATE;
static const int scalekit_pg_diag_message_primary = PG_DIAG_MESSAGE_PRIMARY;

#endif
