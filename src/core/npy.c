/* core/npy.c — .npy files: a careful reader (versions 1-3, little and big endian, C order,
 * numeric and bool dtypes; the header dict is parsed by hand, bounded, never evaluated) and a
 * writer of version 1.0 little-endian files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define NPY_MAX_HEADER (1u << 20)

static const struct {
    char kind;
    int size;
    strata_dtype dtype;
} npy_types[] = {
    {'f', 4, STRATA_DTYPE_F32}, {'f', 8, STRATA_DTYPE_F64}, {'f', 2, STRATA_DTYPE_F16},
    {'i', 1, STRATA_DTYPE_I8},  {'i', 2, STRATA_DTYPE_I16}, {'i', 4, STRATA_DTYPE_I32},
    {'i', 8, STRATA_DTYPE_I64}, {'u', 1, STRATA_DTYPE_U8},  {'u', 2, STRATA_DTYPE_U16},
    {'u', 4, STRATA_DTYPE_U32}, {'u', 8, STRATA_DTYPE_U64}, {'b', 1, STRATA_DTYPE_BOOL},
    {'c', 8, STRATA_DTYPE_C64}, {'c', 16, STRATA_DTYPE_C128},
};

/* ---- header dict parser: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } ----- */

typedef struct npy_parser {
    const char *p, *end;
    const char *path;
    size_t base; /* file offset of p's start, for messages */
    const char *start;
} npy_parser;

static strata_status perr(const npy_parser *ps, const char *what)
{
    return error_set(STRATA_INVALID_ARGUMENT, "%s@%zu: .npy header: %s", ps->path,
                     ps->base + (size_t)(ps->p - ps->start), what);
}

static void skip_ws(npy_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n'))
        ps->p++;
}

static bool eat(npy_parser *ps, char c)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return true;
    }
    return false;
}

/* A quoted string (no escapes needed for npy keys/descr); copies up to n_buf-1 chars. */
static strata_status parse_str(npy_parser *ps, char *buf, size_t n_buf)
{
    skip_ws(ps);
    if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"')) return perr(ps, "expected a string");
    char q = *ps->p++;
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != q) {
        if (*ps->p == '\\' || n + 1 >= n_buf) return perr(ps, "string too long or escaped");
        buf[n++] = *ps->p++;
    }
    if (ps->p >= ps->end) return perr(ps, "unterminated string");
    ps->p++;
    buf[n] = 0;
    return STRATA_OK;
}

static strata_status parse_shape(npy_parser *ps, int *rank, int64_t *dims)
{
    if (!eat(ps, '(')) return perr(ps, "shape is not a tuple");
    *rank = 0;
    for (;;) {
        if (eat(ps, ')')) return STRATA_OK;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return perr(ps, "shape entry is not a non-negative integer");
        int64_t v = 0;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            if (v > (STRATA_MAX_ELEMENTS - 9) / 10) return perr(ps, "shape entry too large");
            v = v * 10 + (*ps->p++ - '0');
        }
        if (ps->p < ps->end && *ps->p == 'L') ps->p++;
        if (*rank >= STRATA_MAX_DIMS) return perr(ps, "rank > 16");
        dims[(*rank)++] = v;
        if (eat(ps, ',')) continue;
        if (eat(ps, ')')) return STRATA_OK;
        return perr(ps, "expected ',' or ')' in shape");
    }
}

static strata_status parse_header(npy_parser *ps, char *descr, size_t n_descr, bool *fortran,
                                  int *rank, int64_t *dims)
{
    bool have_descr = false, have_fortran = false, have_shape = false;
    if (!eat(ps, '{')) return perr(ps, "expected '{'");
    for (;;) {
        if (eat(ps, '}')) break;
        char key[32];
        strata_status st = parse_str(ps, key, sizeof key);
        if (st != STRATA_OK) return st;
        if (!eat(ps, ':')) return perr(ps, "expected ':'");
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if ((st = parse_str(ps, descr, n_descr)) != STRATA_OK) return st;
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            skip_ws(ps);
            if (ps->end - ps->p >= 4 && memcmp(ps->p, "True", 4) == 0) {
                *fortran = true;
                ps->p += 4;
            } else if (ps->end - ps->p >= 5 && memcmp(ps->p, "False", 5) == 0) {
                *fortran = false;
                ps->p += 5;
            } else {
                return perr(ps, "fortran_order is not True or False");
            }
            have_fortran = true;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if ((st = parse_shape(ps, rank, dims)) != STRATA_OK) return st;
            have_shape = true;
        } else {
            return perr(ps, "unknown or repeated key");
        }
        if (eat(ps, ',')) continue;
        if (eat(ps, '}')) break;
        return perr(ps, "expected ',' or '}'");
    }
    if (!have_descr || !have_fortran || !have_shape)
        return perr(ps, "needs 'descr', 'fortran_order' and 'shape'");
    return STRATA_OK;
}

static void byteswap(uint8_t *p, size_t n_elems, size_t size)
{
    for (size_t i = 0; i < n_elems; i++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

strata_status strata_npy_read(const char *path, strata_tensor **out)
{
    if (!out) return error_set(STRATA_INVALID_ARGUMENT, "strata_npy_read: out is NULL");
    *out = NULL;
    if (!path) return error_set(STRATA_INVALID_ARGUMENT, "strata_npy_read: path is NULL");
    mapped_file *f;
    strata_status st = mapped_file_open(path, &f);
    if (st != STRATA_OK) return st;
    const uint8_t *d = f->data;
    size_t n = f->n_bytes, hstart, hlen;
    if (n < 10 || memcmp(d, "\x93NUMPY", 6) != 0) {
        st = error_set(STRATA_INVALID_ARGUMENT, "%s@0: not a .npy file (bad magic)", path);
        goto done;
    }
    if (d[6] == 1) {
        hlen = (size_t)d[8] | (size_t)d[9] << 8;
        hstart = 10;
    } else if (d[6] == 2 || d[6] == 3) {
        if (n < 12) {
            st = error_set(STRATA_INVALID_ARGUMENT, "%s@8: truncated .npy header", path);
            goto done;
        }
        hlen = (size_t)d[8] | (size_t)d[9] << 8 | (size_t)d[10] << 16 | (size_t)d[11] << 24;
        hstart = 12;
    } else {
        st = error_set(STRATA_INVALID_ARGUMENT, "%s@6: unsupported .npy version %d.%d", path,
                       d[6], d[7]);
        goto done;
    }
    if (hlen > NPY_MAX_HEADER || hlen > n - hstart) {
        st = error_set(STRATA_INVALID_ARGUMENT, "%s@8: header length %zu is too large or past "
                       "the end of the file (%zu bytes)", path, hlen, n);
        goto done;
    }
    char descr[16];
    bool fortran = false;
    int rank = 0;
    int64_t dims[STRATA_MAX_DIMS];
    npy_parser ps = {(const char *)d + hstart, (const char *)d + hstart + hlen, path, hstart,
                     (const char *)d + hstart};
    if ((st = parse_header(&ps, descr, sizeof descr, &fortran, &rank, dims)) != STRATA_OK)
        goto done;
    if (fortran) {
        st = error_set(STRATA_UNSUPPORTED, "%s: fortran_order True is not supported (save the "
                       "array in C order, e.g. np.ascontiguousarray)", path);
        goto done;
    }
    char order = descr[0];
    int size = 0;
    strata_dtype dt = STRATA_DTYPE_UNDEFINED;
    if ((order == '<' || order == '>' || order == '|' || order == '=') && descr[1]) {
        char *endp;
        errno = 0;
        long sz = strtol(descr + 2, &endp, 10);
        if (descr[2] && !*endp && errno == 0 && sz > 0 && sz <= 16) size = (int)sz;
        for (size_t k = 0; k < ARRAY_LEN(npy_types) && size; k++)
            if (npy_types[k].kind == descr[1] && npy_types[k].size == size)
                dt = npy_types[k].dtype;
    }
    if (dt == STRATA_DTYPE_UNDEFINED) {
        st = error_set(STRATA_UNSUPPORTED, "%s: unsupported .npy dtype '%s'", path, descr);
        goto done;
    }
    int64_t numel = shape_numel(rank, dims);
    if (numel < 0) {
        st = error_set(STRATA_INVALID_ARGUMENT, "%s: shape has more than 2^40 elements", path);
        goto done;
    }
    size_t need = (size_t)numel * (size_t)size, have = n - hstart - hlen;
    if (need != have) {
        st = error_set(STRATA_INVALID_ARGUMENT, "%s@%zu: data has %zu bytes, %s shape needs %zu",
                       path, hstart + hlen, have, descr, need);
        goto done;
    }
    if ((st = strata_tensor_create(dt, rank, dims, out)) != STRATA_OK) goto done;
    if (need) memcpy((*out)->data, d + hstart + hlen, need);
    if (order == '>' && size > 1) {
        bool complex = dt == STRATA_DTYPE_C64 || dt == STRATA_DTYPE_C128;
        byteswap((*out)->data, (size_t)numel * (complex ? 2 : 1), (size_t)(complex ? size / 2 : size));
    }
    if (dt == STRATA_DTYPE_BOOL) {
        uint8_t *b = (*out)->data;
        for (size_t i = 0; i < need; i++) b[i] = b[i] != 0;
    }
done:
    mapped_file_close(f);
    return st;
}

strata_status strata_npy_write(const char *path, const strata_tensor *t)
{
    if (!path || !t) return error_set(STRATA_INVALID_ARGUMENT, "strata_npy_write: NULL argument");
    const char *descr = NULL;
    switch (t->dtype) {
    case STRATA_DTYPE_F32: descr = "<f4"; break;
    case STRATA_DTYPE_F64: descr = "<f8"; break;
    case STRATA_DTYPE_F16: descr = "<f2"; break;
    case STRATA_DTYPE_I8: descr = "|i1"; break;
    case STRATA_DTYPE_I16: descr = "<i2"; break;
    case STRATA_DTYPE_I32: descr = "<i4"; break;
    case STRATA_DTYPE_I64: descr = "<i8"; break;
    case STRATA_DTYPE_U8: descr = "|u1"; break;
    case STRATA_DTYPE_U16: descr = "<u2"; break;
    case STRATA_DTYPE_U32: descr = "<u4"; break;
    case STRATA_DTYPE_U64: descr = "<u8"; break;
    case STRATA_DTYPE_BOOL: descr = "|b1"; break;
    case STRATA_DTYPE_C64: descr = "<c8"; break;
    case STRATA_DTYPE_C128: descr = "<c16"; break;
    default:
        return error_set(STRATA_UNSUPPORTED, "%s: .npy cannot hold %s tensors", path,
                         strata_dtype_name(t->dtype));
    }
    char shape[400], hdr[512];
    size_t o = 0;
    o += (size_t)snprintf(shape + o, sizeof shape - o, "(");
    for (int d = 0; d < t->rank; d++)
        o += (size_t)snprintf(shape + o, sizeof shape - o, "%lld%s", (long long)t->dims[d],
                              t->rank == 1 ? "," : d + 1 < t->rank ? ", " : "");
    snprintf(shape + o, sizeof shape - o, ")");
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                      descr, shape);
    size_t len = (size_t)hl;
    size_t total = 10 + len + 1;
    size_t pad = (64 - total % 64) % 64;
    while (pad-- && len + 2 < sizeof hdr) hdr[len++] = ' ';
    hdr[len++] = '\n';
    FILE *fp = fopen(path, "wb");
    if (!fp) return error_set(STRATA_IO_ERROR, "%s: cannot create: %s", path, strerror(errno));
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(len & 0xff),
                       (uint8_t)(len >> 8)};
    bool ok = fwrite(pre, 1, 10, fp) == 10 && fwrite(hdr, 1, len, fp) == len &&
              (t->n_bytes == 0 || fwrite(t->data, 1, t->n_bytes, fp) == t->n_bytes);
    if (fclose(fp) != 0) ok = false;
    if (!ok) return error_set(STRATA_IO_ERROR, "%s: write failed: %s", path, strerror(errno));
    return STRATA_OK;
}
