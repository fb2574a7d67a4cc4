/* serialize/protobuf.h — a small bounds-checked protobuf wire-format reader and writer:
 * varints, 32/64-bit fixed, length-delimited fields. Every read error names the source and
 * the byte offset; message nesting is bounded by STRATA_MAX_PROTO_DEPTH. */
#ifndef STRATA_PROTOBUF_H
#define STRATA_PROTOBUF_H

#include "core/core.h"

enum {
    PROTOBUF_VARINT = 0,
    PROTOBUF_FIXED64 = 1,
    PROTOBUF_LEN = 2,
    PROTOBUF_FIXED32 = 5
};

/* A cursor over one message. Offsets are absolute in base (the whole file), for messages. */
typedef struct protobuf_reader {
    const uint8_t *base; /* start of the whole buffer */
    size_t pos;          /* next byte to read */
    size_t end;          /* end of this message */
    const char *name;    /* source name for messages */
    int depth;           /* message nesting depth (top-level message = 1) */
} protobuf_reader;

/* One decoded field. */
typedef struct protobuf_field {
    uint32_t number;
    int wire;            /* PROTOBUF_VARINT, _FIXED64, _LEN, _FIXED32 */
    uint64_t u;          /* VARINT / FIXED64 / FIXED32 value */
    size_t tag_offset;   /* absolute offset of the tag */
    size_t offset;       /* absolute offset of the value (LEN: the payload) */
    size_t len;          /* LEN payload bytes */
} protobuf_field;

void protobuf_reader_init(protobuf_reader *r, const void *base, size_t n_bytes, const char *name);
/* Reads the next field into f; *more = false at the end of the message (f untouched). */
strata_status protobuf_next(protobuf_reader *r, protobuf_field *f, bool *more);
/* A reader over the LEN field f as a nested message (depth checked). */
strata_status protobuf_enter(const protobuf_reader *r, const protobuf_field *f,
                             protobuf_reader *sub);
/* Pointer to a LEN field's payload. */
const uint8_t *protobuf_bytes(const protobuf_reader *r, const protobuf_field *f);
/* Number of scalar values in a repeated numeric field occurrence (packed LEN or one scalar);
 * wire is the element wire type (VARINT, FIXED32, FIXED64). Errors on a mismatch. */
strata_status protobuf_count(const protobuf_reader *r, const protobuf_field *f, int wire,
                             size_t *n_out);
/* Decodes the k-th..: iterates the values of a (packed or not) repeated numeric field. */
typedef struct protobuf_iter {
    const protobuf_reader *r;
    const protobuf_field *f;
    int wire;
    size_t pos, end;
    bool single_done;
} protobuf_iter;
void protobuf_iter_init(protobuf_iter *it, const protobuf_reader *r, const protobuf_field *f,
                        int wire);
/* Next raw value (varint value, or fixed bits zero-extended); false at the end. Values were
 * validated by protobuf_count first. */
bool protobuf_iter_next(protobuf_iter *it, uint64_t *v);
/* Formats "NAME@OFFSET: " messages. */
strata_status protobuf_error(const protobuf_reader *r, size_t offset, const char *fmt, ...)
    STRATA_PRINTF(3, 4);

/* ---- writer -------------------------------------------------------------------------------- */

typedef struct protobuf_writer {
    uint8_t *buf;
    size_t n, cap;
    bool failed;          /* out of memory at some point: the bytes are incomplete */
} protobuf_writer;

void protobuf_writer_init(protobuf_writer *w);
void protobuf_writer_release(protobuf_writer *w);
void protobuf_put_varint(protobuf_writer *w, uint32_t field, uint64_t v);
void protobuf_put_fixed32(protobuf_writer *w, uint32_t field, uint32_t v);
void protobuf_put_fixed64(protobuf_writer *w, uint32_t field, uint64_t v);
void protobuf_put_bytes(protobuf_writer *w, uint32_t field, const void *p, size_t n);
void protobuf_put_string(protobuf_writer *w, uint32_t field, const char *s); /* skips NULL */
/* Raw bytes with no tag (payload of a packed field under construction). */
void protobuf_put_raw(protobuf_writer *w, const void *p, size_t n);
void protobuf_put_raw_varint(protobuf_writer *w, uint64_t v);
/* Nested message: begin writes the tag and returns a mark; end writes the length prefix. */
size_t protobuf_begin(protobuf_writer *w, uint32_t field);
void protobuf_end(protobuf_writer *w, size_t mark);

#endif
