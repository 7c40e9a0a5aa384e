#ifndef SCALEKIT_CSQLITE_SHIM_H
#define SCALEKIT_CSQLITE_SHIM_H

#include <sqlite3.h>

/* SQLITE_TRANSIENT is a function-pointer cast macro that Swift cannot import:
   it tells sqlite3_bind_text/blob to copy the bytes before returning. */
static inline sqlite3_destructor_type scalekit_sqlite_transient(void) {
    return SQLITE_TRANSIENT;
}

#endif
