/* serialize/protobuf.c — protobuf wire format: a bounds-checked field cursor (every length is
 * checked against the enclosing message before use, varints are at most 10 bytes, nesting is
 * bounded) and a growable writer whose nested messages get their length prefix at the end. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "protobuf.h"

strata_status protobuf_error(const protobuf_reader *r, size_t offset, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return error_set(STRATA_INVALID_MODEL, "%s@%zu: %s", r->name ? r->name : "<memory>", offset,
                     msg);
}

void protobuf_reader_init(protobuf_reader *r, const void *base, size_t n_bytes, const char *name)
{
    r->base = base;
    r->pos = 0;
    r->end = n_bytes;
    r->name = name;
    r->depth = 1;
}

/* Reads a varint at *pos (< end); advances *pos. */
static bool read_varint(const uint8_t *base, size_t *pos, size_t end, uint64_t *v, bool *too_long)
{
    uint64_t x = 0;
    size_t p = *pos;
    *too_long = false;
    for (int i = 0; i < 10; i++) {
        if (p >= end) return false;
        uint8_t b = base[p++];
        if (i == 9 && (b & 0x7e)) { /* bits beyond 64 */
            *too_long = true;
            return false;
        }
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            *pos = p;
            return true;
        }
    }
    *too_long = true;
    return false;
}

strata_status protobuf_next(protobuf_reader *r, protobuf_field *f, bool *more)
{
    *more = false;
    if (r->pos >= r->end) return STRATA_OK;
    size_t start = r->pos, p = r->pos;
    uint64_t tag;
    bool too_long;
    if (!read_varint(r->base, &p, r->end, &tag, &too_long))
        return protobuf_error(r, start, too_long ? "field tag varint longer than 10 bytes"
                                                 : "truncated field tag");
    uint64_t number = tag >> 3;
    int wire = (int)(tag & 7);
    if (number == 0 || number > 536870911u)
        return protobuf_error(r, start, "invalid field number %llu", (unsigned long long)number);
    f->number = (uint32_t)number;
    f->wire = wire;
    f->tag_offset = start;
    f->offset = p;
    f->len = 0;
    f->u = 0;
    switch (wire) {
    case PROTOBUF_VARINT:
        if (!read_varint(r->base, &p, r->end, &f->u, &too_long))
            return protobuf_error(r, f->offset,
                                  too_long ? "field %u: varint longer than 10 bytes"
                                           : "field %u: truncated varint",
                                  f->number);
        break;
    case PROTOBUF_FIXED64:
        if (r->end - p < 8)
            return protobuf_error(r, p, "field %u: truncated 64-bit value", f->number);
        for (int i = 7; i >= 0; i--) f->u = (f->u << 8) | r->base[p + (size_t)i];
        p += 8;
        break;
    case PROTOBUF_FIXED32:
        if (r->end - p < 4)
            return protobuf_error(r, p, "field %u: truncated 32-bit value", f->number);
        for (int i = 3; i >= 0; i--) f->u = (f->u << 8) | r->base[p + (size_t)i];
        p += 4;
        break;
    case PROTOBUF_LEN: {
        uint64_t len;
        size_t lp = p;
        if (!read_varint(r->base, &p, r->end, &len, &too_long))
            return protobuf_error(r, lp,
                                  too_long ? "field %u: length varint longer than 10 bytes"
                                           : "field %u: truncated length",
                                  f->number);
        if (len > r->end - p)
            return protobuf_error(r, lp,
                                  "field %u: length %llu runs past the end of the %s (%zu bytes "
                                  "left)",
                                  f->number, (unsigned long long)len,
                                  r->depth == 1 ? "file" : "message", r->end - p);
        f->offset = p;
        f->len = (size_t)len;
        p += (size_t)len;
        break;
    }
    default:
        return protobuf_error(r, start, "field %u: bad wire type %d", f->number, wire);
    }
    r->pos = p;
    *more = true;
    return STRATA_OK;
}

strata_status protobuf_enter(const protobuf_reader *r, const protobuf_field *f,
                             protobuf_reader *sub)
{
    if (f->wire != PROTOBUF_LEN)
        return protobuf_error(r, f->tag_offset, "field %u: expected a message, got wire type %d",
                              f->number, f->wire);
    if (r->depth >= STRATA_MAX_PROTO_DEPTH)
        return protobuf_error(r, f->tag_offset, "messages nested deeper than %d",
                              STRATA_MAX_PROTO_DEPTH);
    sub->base = r->base;
    sub->pos = f->offset;
    sub->end = f->offset + f->len;
    sub->name = r->name;
    sub->depth = r->depth + 1;
    return STRATA_OK;
}

const uint8_t *protobuf_bytes(const protobuf_reader *r, const protobuf_field *f)
{
    return r->base + f->offset;
}

strata_status protobuf_count(const protobuf_reader *r, const protobuf_field *f, int wire,
                             size_t *n_out)
{
    *n_out = 0;
    if (f->wire == wire) {
        *n_out = 1;
        return STRATA_OK;
    }
    if (f->wire != PROTOBUF_LEN)
        return protobuf_error(r, f->tag_offset, "field %u: wire type %d where %d was expected",
                              f->number, f->wire, wire);
    if (wire == PROTOBUF_FIXED32 || wire == PROTOBUF_FIXED64) {
        size_t w = wire == PROTOBUF_FIXED32 ? 4 : 8;
        if (f->len % w)
            return protobuf_error(r, f->offset,
                                  "field %u: packed length %zu is not a multiple of %zu",
                                  f->number, f->len, w);
        *n_out = f->len / w;
        return STRATA_OK;
    }
    size_t p = f->offset, end = f->offset + f->len, n = 0;
    while (p < end) {
        uint64_t v;
        bool too_long;
        size_t at = p;
        if (!read_varint(r->base, &p, end, &v, &too_long))
            return protobuf_error(r, at,
                                  too_long ? "field %u: packed varint longer than 10 bytes"
                                           : "field %u: truncated packed varint",
                                  f->number);
        n++;
    }
    *n_out = n;
    return STRATA_OK;
}

void protobuf_iter_init(protobuf_iter *it, const protobuf_reader *r, const protobuf_field *f,
                        int wire)
{
    it->r = r;
    it->f = f;
    it->wire = wire;
    it->pos = f->offset;
    it->end = f->wire == PROTOBUF_LEN ? f->offset + f->len : f->offset;
    it->single_done = false;
}

bool protobuf_iter_next(protobuf_iter *it, uint64_t *v)
{
    if (it->f->wire != PROTOBUF_LEN) {
        if (it->single_done) return false;
        it->single_done = true;
        *v = it->f->u;
        return true;
    }
    if (it->pos >= it->end) return false;
    const uint8_t *b = it->r->base;
    if (it->wire == PROTOBUF_FIXED32) {
        if (it->end - it->pos < 4) return false;
        uint32_t x = 0;
        for (int i = 3; i >= 0; i--) x = (x << 8) | b[it->pos + (size_t)i];
        it->pos += 4;
        *v = x;
        return true;
    }
    if (it->wire == PROTOBUF_FIXED64) {
        if (it->end - it->pos < 8) return false;
        uint64_t x = 0;
        for (int i = 7; i >= 0; i--) x = (x << 8) | b[it->pos + (size_t)i];
        it->pos += 8;
        *v = x;
        return true;
    }
    bool too_long;
    return read_varint(b, &it->pos, it->end, v, &too_long);
}

/* ---- writer -------------------------------------------------------------------------------- */

void protobuf_writer_init(protobuf_writer *w)
{
    memset(w, 0, sizeof *w);
}

void protobuf_writer_release(protobuf_writer *w)
{
    mem_free(w->buf);
    memset(w, 0, sizeof *w);
}

static bool reserve(protobuf_writer *w, size_t extra)
{
    if (w->failed) return false;
    size_t need;
    if (__builtin_add_overflow(w->n, extra, &need)) {
        w->failed = true;
        return false;
    }
    if (need <= w->cap) return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    uint8_t *nb = mem_realloc(w->buf, cap);
    if (!nb) {
        w->failed = true;
        return false;
    }
    w->buf = nb;
    w->cap = cap;
    return true;
}

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void encode_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p = (uint8_t)v;
}

void protobuf_put_raw_varint(protobuf_writer *w, uint64_t v)
{
    size_t k = varint_size(v);
    if (!reserve(w, k)) return;
    encode_varint(w->buf + w->n, v);
    w->n += k;
}

void protobuf_put_raw(protobuf_writer *w, const void *p, size_t n)
{
    if (!n || !reserve(w, n)) return;
    memcpy(w->buf + w->n, p, n);
    w->n += n;
}

static void put_tag(protobuf_writer *w, uint32_t field, int wire)
{
    protobuf_put_raw_varint(w, ((uint64_t)field << 3) | (uint64_t)wire);
}

void protobuf_put_varint(protobuf_writer *w, uint32_t field, uint64_t v)
{
    put_tag(w, field, PROTOBUF_VARINT);
    protobuf_put_raw_varint(w, v);
}

void protobuf_put_fixed32(protobuf_writer *w, uint32_t field, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
    put_tag(w, field, PROTOBUF_FIXED32);
    protobuf_put_raw(w, b, 4);
}

void protobuf_put_fixed64(protobuf_writer *w, uint32_t field, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    put_tag(w, field, PROTOBUF_FIXED64);
    protobuf_put_raw(w, b, 8);
}

void protobuf_put_bytes(protobuf_writer *w, uint32_t field, const void *p, size_t n)
{
    put_tag(w, field, PROTOBUF_LEN);
    protobuf_put_raw_varint(w, n);
    protobuf_put_raw(w, p, n);
}

void protobuf_put_string(protobuf_writer *w, uint32_t field, const char *s)
{
    if (s) protobuf_put_bytes(w, field, s, strlen(s));
}

size_t protobuf_begin(protobuf_writer *w, uint32_t field)
{
    put_tag(w, field, PROTOBUF_LEN);
    return w->n;
}

void protobuf_end(protobuf_writer *w, size_t mark)
{
    if (w->failed || mark > w->n) return;
    size_t len = w->n - mark, k = varint_size(len);
    if (!reserve(w, k)) return;
    memmove(w->buf + mark + k, w->buf + mark, len);
    encode_varint(w->buf + mark, len);
    w->n += k;
}
