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

/* A reply reader that builds no objects: every element the parser meets is
   appended, in order (an array before its elements), to one growing buffer
   as a record: a type byte (REDIS_REPLY_*), then for a string, status or
   error an 8-byte length and the bytes, for an integer its 8 bytes, for an
   array its 8-byte element count, for nil nothing. Swift reads a complete
   reply from the buffer into a RedisValue and empties it; hiredis's own
   reader allocates one object per element instead. */
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *bytes;
    size_t length;
    size_t capacity;
} scalekit_flat_reply;

static inline int scalekit_flat_append(scalekit_flat_reply *buffer, const void *bytes, size_t count) {
    if (count == 0) return 1;
    if (buffer->length + count > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 4096;
        while (capacity < buffer->length + count) capacity *= 2;
        char *grown = realloc(buffer->bytes, capacity);
        if (grown == NULL) return 0;
        buffer->bytes = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->bytes + buffer->length, bytes, count);
    buffer->length += count;
    return 1;
}

static inline void *scalekit_flat_record(const redisReadTask *task, char type, const void *payload, size_t count,
                                         const void *tail, size_t tailCount) {
    scalekit_flat_reply *buffer = (scalekit_flat_reply *)task->privdata;
    if (!scalekit_flat_append(buffer, &type, 1) || !scalekit_flat_append(buffer, payload, count)) return NULL;
    if (tailCount && !scalekit_flat_append(buffer, tail, tailCount)) return NULL;
    return buffer; /* any non-NULL pointer: the parser only checks for out-of-memory */
}

static inline void *scalekit_flat_string(const redisReadTask *task, char *text, size_t length) {
    unsigned long long count = length;
    return scalekit_flat_record(task, (char)task->type, &count, sizeof count, text, length);
}

static inline void *scalekit_flat_array(const redisReadTask *task, int elements) {
    long long count = elements;
    return scalekit_flat_record(task, REDIS_REPLY_ARRAY, &count, sizeof count, NULL, 0);
}

static inline void *scalekit_flat_integer(const redisReadTask *task, long long value) {
    return scalekit_flat_record(task, REDIS_REPLY_INTEGER, &value, sizeof value, NULL, 0);
}

static inline void *scalekit_flat_nil(const redisReadTask *task) {
    return scalekit_flat_record(task, REDIS_REPLY_NIL, NULL, 0, NULL, 0);
}

static inline void scalekit_flat_free(void *object) { (void)object; }

/* A reader that writes into `buffer` (owned by the caller, freed with scalekit_flat_reader_free). */
static inline redisReader *scalekit_flat_reader_create(scalekit_flat_reply *buffer) {
    static redisReplyObjectFunctions functions = {
        scalekit_flat_string, scalekit_flat_array, scalekit_flat_integer, scalekit_flat_nil, scalekit_flat_free};
    redisReader *reader = redisReaderCreateWithFunctions(&functions);
    if (reader != NULL) reader->privdata = buffer;
    return reader;
}

static inline void scalekit_flat_reply_free(scalekit_flat_reply *buffer) {
    free(buffer->bytes);
    buffer->bytes = NULL;
    buffer->length = buffer->capacity = 0;
}

#endif
