#ifndef SCALEKIT_CHIREDIS_SHIM_H
#define SCALEKIT_CHIREDIS_SHIM_H

#include <hiredis/hiredis.h>
/* The multiplexed connections' event loop (Swift's Glibc module leaves these out). */
#include <sys/epoll.h>
#include <sys/eventfd.h>

/* redisContext.errstr is a char[128] that Swift imports as a 128-element
   tuple; this returns it as a C string. */
static inline const char *scalekit_redis_errstr(const redisContext *context) {
    return context->errstr;
}

#endif
