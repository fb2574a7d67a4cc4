/* serialize/onnx_read.c — ONNX ModelProto / TensorProto → IR. The file is mapped and raw
 * tensor bytes point into the mapping (copied only when misaligned); external data is opened
 * beneath the model's folder only. Every length, count and dim is checked before use and every
 * error says "FILE@OFFSET: what". */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protobuf.h"
#include "serialize.h"

#ifndef NAME_MAX
#define NAME_MAX 255
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "onnx_read.c assumes a little-endian host (raw_data is little-endian)"
#endif

/* State of one read. */
typedef struct reader {
    ir_model *m;      /* the model being read, NULL for a standalone tensor */
    int dir_fd;       /* the model's folder, -1 when external data is not allowed */
    bool zero_copy;   /* raw bytes may stay in the buffer (it outlives the tensors) */
    const uint8_t *region;  /* plan weights for ONNX_PLAN_LOCATION, or NULL */
    size_t n_region;        /* bytes in region */
    char ctx[320];    /* "node 'x' (Op) attribute 'a'" while reading an attribute, else "" */
} reader;

/* ---- small helpers -------------------------------------------------------------------------- */

static strata_status dup_string(const protobuf_reader *r, const protobuf_field *f,
                                const char *what, char **out)
{
    if (f->wire != PROTOBUF_LEN)
        return protobuf_error(r, f->tag_offset, "%s: wire type %d where a string was expected",
                              what, f->wire);
    const uint8_t *p = protobuf_bytes(r, f);
    if (memchr(p, 0, f->len))
        return protobuf_error(r, f->offset, "%s contains a NUL byte", what);
    char *s = mem_strndup((const char *)p, f->len);
    if (!s) return error_set(STRATA_OUT_OF_MEMORY, "%s@%zu: out of memory", r->name, f->offset);
    mem_free(*out);
    *out = s;
    return STRATA_OK;
}

static strata_status expect_wire(const protobuf_reader *r, const protobuf_field *f, int wire,
                                 const char *what)
{
    if (f->wire == wire) return STRATA_OK;
    return protobuf_error(r, f->tag_offset, "%s: wire type %d where %d was expected", what,
                          f->wire, wire);
}

/* Error about a tensor: "FILE@OFF: [ctx: ]tensor 'name': msg". */
static strata_status tensor_error(const reader *rd, const protobuf_reader *r, size_t off,
                                  const char *tname, const char *fmt, ...) STRATA_PRINTF(5, 6);
static strata_status tensor_error(const reader *rd, const protobuf_reader *r, size_t off,
                                  const char *tname, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return protobuf_error(r, off, "%s%stensor '%s': %s", rd->ctx, rd->ctx[0] ? ": " : "",
                          tname ? tname : "", msg);
}

/* ---- external data ------------------------------------------------------------------------- */

/* Opens location beneath rd->dir_fd with no symlink in any component and no hard links. */
static strata_status open_external(reader *rd, const protobuf_reader *r, size_t off,
                                   const char *tname, const char *loc, mapped_file **out)
{
    *out = NULL;
    for (size_t i = 0; i < rd->m->n_extra_files; i++)
        if (strcmp(rd->m->extra_files[i]->path, loc) == 0) {
            *out = rd->m->extra_files[i];
            return STRATA_OK;
        }
    if (!loc[0]) return tensor_error(rd, r, off, tname, "external data location is empty");
    if (loc[0] == '/')
        return tensor_error(rd, r, off, tname,
                            "external data location '%s' is an absolute path", loc);
    /* check every component before opening anything */
    const char *p = loc;
    size_t n_comp = 0;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return tensor_error(rd, r, off, tname,
                                "external data location '%s' has a '..' component", loc);
        if (len > NAME_MAX)
            return tensor_error(rd, r, off, tname,
                                "external data location '%s' has a component longer than %d",
                                loc, NAME_MAX);
        if (len && !(len == 1 && p[0] == '.')) n_comp++;
        p += len;
        if (*p == '/') p++;
    }
    if (n_comp == 0)
        return tensor_error(rd, r, off, tname, "external data location '%s' names no file", loc);
    int cur = rd->dir_fd;
    char comp[NAME_MAX + 1];
    size_t i_comp = 0;
    p = loc;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        memcpy(comp, p, len);
        comp[len] = 0;
        p += len;
        if (*p == '/') p++;
        if (!len || strcmp(comp, ".") == 0) continue;
        bool last = ++i_comp == n_comp;
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (last ? O_NONBLOCK : O_DIRECTORY);
        int nfd = openat(cur, comp, flags);
        int err = errno;
        if (cur != rd->dir_fd) close(cur);
        cur = -1;
        if (nfd < 0) {
            if (err == ELOOP || (err == ENOTDIR && !last))
                return tensor_error(rd, r, off, tname,
                                    "external data location '%s': '%s' is a symbolic link or "
                                    "not a folder", loc, comp);
            return tensor_error(rd, r, off, tname, "external data location '%s': '%s': %s", loc,
                                comp, strerror(err));
        }
        cur = nfd;
        if (last) break;
    }
    struct stat st;
    if (fstat(cur, &st) != 0) {
        int err = errno;
        close(cur);
        return tensor_error(rd, r, off, tname, "external data '%s': cannot stat: %s", loc,
                            strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(cur);
        return tensor_error(rd, r, off, tname, "external data '%s' is not a regular file", loc);
    }
    if (st.st_nlink > 1) {
        close(cur);
        return tensor_error(rd, r, off, tname,
                            "external data '%s' has %llu hard links (refused: it may point "
                            "outside the model folder)",
                            loc, (unsigned long long)st.st_nlink);
    }
    mapped_file **grown = mem_realloc(rd->m->extra_files,
                                      (rd->m->n_extra_files + 1) * sizeof *grown);
    mapped_file *f = mem_calloc(1, sizeof *f);
    char *path = mem_strdup(loc);
    if (grown) rd->m->extra_files = grown;
    if (!grown || !f || !path) {
        mem_free(f);
        mem_free(path);
        close(cur);
        return error_set(STRATA_OUT_OF_MEMORY, "external data '%s': out of memory", loc);
    }
    f->path = path;
    f->n_bytes = (size_t)st.st_size;
    if (f->n_bytes == 0) {
        f->data = (const uint8_t *)"";
        f->is_heap = 2;
    } else {
        void *map = mmap(NULL, f->n_bytes, PROT_READ, MAP_PRIVATE, cur, 0);
        if (map == MAP_FAILED) {
            int err = errno;
            mem_free(f);
            mem_free(path);
            close(cur);
            return tensor_error(rd, r, off, tname, "external data '%s': cannot map: %s", loc,
                                strerror(err));
        }
        f->data = map;
    }
    close(cur);
    rd->m->extra_files[rd->m->n_extra_files++] = f;
    *out = f;
    return STRATA_OK;
}

/* After a misaligned tensor was copied out of a mapping, drops the mapping's whole pages inside
 * [p, p+n) from this process, so that the copy does not count twice in resident memory (the
 * pages are file-backed and unmodified: touching them again re-reads the file). */
static void release_copied_pages(const mapped_file *f, const void *p, size_t n)
{
    if (!f || f->is_heap != 0 || n == 0) return;
    long ps = sysconf(_SC_PAGESIZE);
    if (ps <= 0) return;
    uintptr_t a = ((uintptr_t)p + (uintptr_t)ps - 1) & ~((uintptr_t)ps - 1);
    uintptr_t e = ((uintptr_t)p + n) & ~((uintptr_t)ps - 1);
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}

/* Decimal unsigned integer of an external_data value; false when malformed or too big. */
static bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
            return false;
    }
    *out = v;
    return true;
}

/* ---- TensorProto --------------------------------------------------------------------------- */

enum { TP_DIMS = 1, TP_DATA_TYPE = 2, TP_SEGMENT = 3, TP_FLOAT = 4, TP_INT32 = 5, TP_STRING = 6,
       TP_INT64 = 7, TP_NAME = 8, TP_RAW = 9, TP_DOUBLE = 10, TP_UINT64 = 11, TP_DOC = 12,
       TP_EXTERNAL = 13, TP_LOCATION = 14 };

/* The typed field that carries dtype t, and values per element. */
static int typed_field_for(strata_dtype t, size_t *per_elem)
{
    *per_elem = 1;
    switch (t) {
    case STRATA_DTYPE_F32: return TP_FLOAT;
    case STRATA_DTYPE_C64: *per_elem = 2; return TP_FLOAT;
    case STRATA_DTYPE_I32: case STRATA_DTYPE_I16: case STRATA_DTYPE_I8: case STRATA_DTYPE_U16:
    case STRATA_DTYPE_U8: case STRATA_DTYPE_BOOL: case STRATA_DTYPE_F16: case STRATA_DTYPE_BF16:
        return TP_INT32;
    case STRATA_DTYPE_F8E4M3FN: case STRATA_DTYPE_F8E4M3FNUZ: case STRATA_DTYPE_F8E5M2:
    case STRATA_DTYPE_F8E5M2FNUZ: case STRATA_DTYPE_F8E8M0:
        return TP_INT32;
    /* 4- and 2-bit types: each int32_data value holds one packed byte (see read_tensor) */
    case STRATA_DTYPE_U4: case STRATA_DTYPE_I4: case STRATA_DTYPE_F4E2M1: case STRATA_DTYPE_U2:
    case STRATA_DTYPE_I2:
        return TP_INT32;
    case STRATA_DTYPE_STRING: return TP_STRING;
    case STRATA_DTYPE_I64: return TP_INT64;
    case STRATA_DTYPE_F64: return TP_DOUBLE;
    case STRATA_DTYPE_C128: *per_elem = 2; return TP_DOUBLE;
    case STRATA_DTYPE_U32: case STRATA_DTYPE_U64: return TP_UINT64;
    default: return 0;
    }
}

static const char *typed_field_name(int field)
{
    switch (field) {
    case TP_FLOAT: return "float_data";
    case TP_INT32: return "int32_data";
    case TP_STRING: return "string_data";
    case TP_INT64: return "int64_data";
    case TP_DOUBLE: return "double_data";
    case TP_UINT64: return "uint64_data";
    default: return "?";
    }
}

static int typed_wire(int field)
{
    return field == TP_FLOAT ? PROTOBUF_FIXED32 : field == TP_DOUBLE ? PROTOBUF_FIXED64
                                                                     : PROTOBUF_VARINT;
}

/* Stores typed element k of t from the raw protobuf value v. For the 4- and 2-bit types k counts
 * packed bytes: byte k unpacks into elements k * (8 / bits) onwards. */
static void store_typed(strata_tensor *t, size_t k, uint64_t v)
{
    uint8_t *d = t->data;
    int bits = dtype_file_bits(t->dtype);
    if (bits == 4 || bits == 2) {
        int64_t per_byte = 8 / bits, first = (int64_t)k * per_byte;
        int64_t numel = shape_numel(t->rank, t->dims);
        uint8_t b = (uint8_t)v;
        if (first < numel)
            dtype_unpack(t->dtype, &b, numel - first < per_byte ? numel - first : per_byte,
                         d + first);
        return;
    }
    switch (t->dtype) {
    case STRATA_DTYPE_F32: case STRATA_DTYPE_C64: {
        uint32_t b = (uint32_t)v;
        memcpy(d + 4 * k, &b, 4);
        break;
    }
    case STRATA_DTYPE_F64: case STRATA_DTYPE_C128: memcpy(d + 8 * k, &v, 8); break;
    case STRATA_DTYPE_I32: case STRATA_DTYPE_U32: {
        uint32_t b = (uint32_t)v;
        memcpy(d + 4 * k, &b, 4);
        break;
    }
    case STRATA_DTYPE_I16: case STRATA_DTYPE_U16: case STRATA_DTYPE_F16: case STRATA_DTYPE_BF16: {
        uint16_t b = (uint16_t)v;
        memcpy(d + 2 * k, &b, 2);
        break;
    }
    case STRATA_DTYPE_I8: case STRATA_DTYPE_U8: d[k] = (uint8_t)v; break;
    case STRATA_DTYPE_F8E4M3FN: case STRATA_DTYPE_F8E4M3FNUZ: case STRATA_DTYPE_F8E5M2:
    case STRATA_DTYPE_F8E5M2FNUZ: case STRATA_DTYPE_F8E8M0: d[k] = (uint8_t)v; break;
    case STRATA_DTYPE_BOOL: d[k] = v != 0; break;
    case STRATA_DTYPE_I64: case STRATA_DTYPE_U64: memcpy(d + 8 * k, &v, 8); break;
    default: break;
    }
}

/* Reads the TensorProto msg into a new tensor. name_out (nullable) receives the name. */
static strata_status read_tensor(reader *rd, protobuf_reader msg, strata_tensor **out,
                                 char **name_out)
{
    *out = NULL;
    size_t start = msg.pos;
    char *name = NULL;
    int64_t dims[STRATA_MAX_DIMS];
    int rank = 0;
    uint64_t data_type = 0;
    bool have_raw = false, have_location = false;
    protobuf_field raw = {0};
    int typed = 0;
    size_t n_typed = 0;
    uint64_t location = 0;
    char *ext_loc = NULL, *ext_off = NULL, *ext_len = NULL;
    bool have_ext = false;
    strata_tensor *t = NULL;
    strata_status st = STRATA_OK;
    protobuf_field f;
    bool more;
    protobuf_reader r = msg;

    /* pass 1: name first, for messages */
    while ((st = protobuf_next(&r, &f, &more)) == STRATA_OK && more)
        if (f.number == TP_NAME && (st = dup_string(&r, &f, "tensor name", &name)) != STRATA_OK)
            goto done;
    if (st != STRATA_OK) goto done;
    const char *tn = name ? name : "";

    /* pass 2: everything but the typed values */
    r = msg;
    while ((st = protobuf_next(&r, &f, &more)) == STRATA_OK && more) {
        switch (f.number) {
        case TP_DIMS: {
            size_t n;
            if ((st = protobuf_count(&r, &f, PROTOBUF_VARINT, &n)) != STRATA_OK) goto done;
            protobuf_iter it;
            uint64_t v;
            protobuf_iter_init(&it, &r, &f, PROTOBUF_VARINT);
            while (protobuf_iter_next(&it, &v)) {
                if (rank >= STRATA_MAX_DIMS) {
                    st = tensor_error(rd, &r, f.offset, tn, "rank > %d", STRATA_MAX_DIMS);
                    goto done;
                }
                if ((int64_t)v < 0) {
                    st = tensor_error(rd, &r, f.offset, tn, "negative dim %lld at axis %d",
                                      (long long)(int64_t)v, rank);
                    goto done;
                }
                dims[rank++] = (int64_t)v;
            }
            break;
        }
        case TP_DATA_TYPE:
            if ((st = expect_wire(&r, &f, PROTOBUF_VARINT, "tensor data_type")) != STRATA_OK)
                goto done;
            data_type = f.u;
            break;
        case TP_SEGMENT:
            st = tensor_error(rd, &r, f.tag_offset, tn, "segmented tensors are not supported");
            goto done;
        case TP_FLOAT: case TP_INT32: case TP_STRING: case TP_INT64: case TP_DOUBLE:
        case TP_UINT64: {
            if (typed && typed != (int)f.number) {
                st = tensor_error(rd, &r, f.tag_offset, tn, "has both %s and %s",
                                  typed_field_name(typed), typed_field_name((int)f.number));
                goto done;
            }
            typed = (int)f.number;
            size_t n = 1;
            if (f.number == TP_STRING) {
                if ((st = expect_wire(&r, &f, PROTOBUF_LEN, "string_data")) != STRATA_OK)
                    goto done;
            } else if ((st = protobuf_count(&r, &f, typed_wire(typed), &n)) != STRATA_OK) {
                goto done;
            }
            n_typed += n;
            break;
        }
        case TP_RAW:
            if ((st = expect_wire(&r, &f, PROTOBUF_LEN, "raw_data")) != STRATA_OK) goto done;
            if (have_raw) {
                st = tensor_error(rd, &r, f.tag_offset, tn, "raw_data given twice");
                goto done;
            }
            have_raw = true;
            raw = f;
            break;
        case TP_EXTERNAL: {
            protobuf_reader e;
            protobuf_field g;
            bool m2;
            char *key = NULL, *val = NULL;
            if ((st = protobuf_enter(&r, &f, &e)) != STRATA_OK) goto done;
            while ((st = protobuf_next(&e, &g, &m2)) == STRATA_OK && m2) {
                if (g.number == 1) st = dup_string(&e, &g, "external_data key", &key);
                else if (g.number == 2) st = dup_string(&e, &g, "external_data value", &val);
                if (st != STRATA_OK) break;
            }
            if (st == STRATA_OK && key) {
                char **slot = strcmp(key, "location") == 0 ? &ext_loc
                              : strcmp(key, "offset") == 0 ? &ext_off
                              : strcmp(key, "length") == 0 ? &ext_len : NULL;
                if (slot && *slot) {
                    st = tensor_error(rd, &r, f.offset, tn, "external_data key '%s' given twice",
                                      key);
                } else if (slot) {
                    *slot = val ? val : mem_strdup("");
                    val = NULL;
                    if (!*slot) st = error_set(STRATA_OUT_OF_MEMORY, "out of memory");
                }
            }
            mem_free(key);
            mem_free(val);
            if (st != STRATA_OK) goto done;
            have_ext = true;
            break;
        }
        case TP_LOCATION:
            if ((st = expect_wire(&r, &f, PROTOBUF_VARINT, "data_location")) != STRATA_OK)
                goto done;
            location = f.u;
            have_location = true;
            break;
        default:
            break;
        }
    }
    if (st != STRATA_OK) goto done;

    if (!dtype_is_valid((int)(data_type > 1000 ? 1000 : data_type))) {
        st = tensor_error(rd, &msg, start, tn, "unknown dtype %llu", (unsigned long long)data_type);
        goto done;
    }
    strata_dtype dt = (strata_dtype)data_type;
    int64_t numel = shape_numel(rank, dims);
    char sbuf[200];
    if (numel < 0) {
        st = tensor_error(rd, &msg, start, tn, "shape %s has more than 2^40 elements",
                          shape_describe(rank, dims, sbuf, sizeof sbuf));
        goto done;
    }
    size_t esize = strata_dtype_size(dt);
    size_t need = (size_t)numel * esize; /* bytes in memory */
    /* bytes in the file: 4- and 2-bit types are packed there (two or four to a byte) */
    bool packed = dtype_file_bits(dt) == 4 || dtype_file_bits(dt) == 2;
    size_t file_need = packed ? dtype_file_bytes(dt, numel) : need;
    bool external = have_location && location == 1;
    if (have_location && location > 1) {
        st = tensor_error(rd, &msg, start, tn, "unknown data_location %llu",
                          (unsigned long long)location);
        goto done;
    }
    if ((int)have_raw + (typed != 0) + (int)external > 1) {
        st = tensor_error(rd, &msg, start, tn,
                          "has more than one of raw_data, %s and external data (ambiguous)",
                          typed ? typed_field_name(typed) : "typed data");
        goto done;
    }
    if (have_ext && !external) {
        st = tensor_error(rd, &msg, start, tn, "external_data given but data_location is not "
                                               "EXTERNAL");
        goto done;
    }

    if (external && rd->region && ext_loc && strcmp(ext_loc, ONNX_SHAPE_ONLY_LOCATION) == 0) {
        /* a plan initializer whose values were replaced by a packed form: dims only */
        t = mem_calloc(1, sizeof *t);
        if (!t) {
            st = error_set(STRATA_OUT_OF_MEMORY, "out of memory");
            goto done;
        }
        if ((st = tensor_set_shape(t, dt, rank, dims)) != STRATA_OK) {
            mem_free(t);
            t = NULL;
            goto done;
        }
    } else if (external && rd->region && ext_loc && strcmp(ext_loc, ONNX_PLAN_LOCATION) == 0) {
        uint64_t eoff = 0, elen = need;
        if (!ext_off || !parse_u64(ext_off, &eoff) || (ext_len && !parse_u64(ext_len, &elen)) ||
            elen != need || dt == STRATA_DTYPE_STRING) {
            st = tensor_error(rd, &msg, start, tn, "bad plan weight reference");
            goto done;
        }
        if (eoff > rd->n_region || elen > rd->n_region - eoff || (eoff % esize) != 0) {
            st = tensor_error(rd, &msg, start, tn,
                              "plan weight at offset %llu + %llu bytes is outside the weights "
                              "section (%zu bytes) or misaligned",
                              (unsigned long long)eoff, (unsigned long long)elen, rd->n_region);
            goto done;
        }
        st = strata_tensor_wrap(dt, rank, dims, (void *)(uintptr_t)(rd->region + eoff), need, NULL, &t);
        if (st != STRATA_OK) goto done;
    } else if (external) {
        if (dt == STRATA_DTYPE_STRING) {
            st = tensor_error(rd, &msg, start, tn, "string tensors cannot be external");
            goto done;
        }
        if (!rd->m || rd->dir_fd < 0) {
            st = tensor_error(rd, &msg, start, tn,
                              "external data is not allowed here (model loaded from bytes or a "
                              "standalone tensor)");
            goto done;
        }
        if (!ext_loc) {
            st = tensor_error(rd, &msg, start, tn, "external data without a location");
            goto done;
        }
        if (strlen(ext_loc) == 0) {
            st = tensor_error(rd, &msg, start, tn, "external data location is empty");
            goto done;
        }
        uint64_t eoff = 0, elen = file_need;
        if (ext_off && !parse_u64(ext_off, &eoff)) {
            st = tensor_error(rd, &msg, start, tn, "external data offset '%s' is not a "
                                                   "non-negative integer", ext_off);
            goto done;
        }
        if (ext_len && !parse_u64(ext_len, &elen)) {
            st = tensor_error(rd, &msg, start, tn, "external data length '%s' is not a "
                                                   "non-negative integer", ext_len);
            goto done;
        }
        if (elen != file_need) {
            st = tensor_error(rd, &msg, start, tn,
                              "external data length %llu does not match %s%s (%zu bytes)",
                              (unsigned long long)elen, strata_dtype_name(dt),
                              shape_describe(rank, dims, sbuf, sizeof sbuf), file_need);
            goto done;
        }
        mapped_file *ef;
        if ((st = open_external(rd, &msg, start, tn, ext_loc, &ef)) != STRATA_OK) goto done;
        if (eoff > ef->n_bytes || elen > ef->n_bytes - eoff) {
            st = tensor_error(rd, &msg, start, tn,
                              "external data offset %llu + length %llu is outside '%s' (%zu "
                              "bytes)",
                              (unsigned long long)eoff, (unsigned long long)elen, ext_loc,
                              ef->n_bytes);
            goto done;
        }
        const uint8_t *p = ef->data + eoff;
        if (packed) {
            st = strata_tensor_create(dt, rank, dims, &t);
            if (st == STRATA_OK) dtype_unpack(dt, p, numel, t->data);
        } else if ((uintptr_t)p % esize == 0) {
            st = strata_tensor_wrap(dt, rank, dims, (void *)(uintptr_t)p, need, NULL, &t);
        } else {
            st = strata_tensor_create(dt, rank, dims, &t);
            if (st == STRATA_OK && need) memcpy(t->data, p, need);
            if (st == STRATA_OK) release_copied_pages(ef, p, need);
        }
        if (st != STRATA_OK) goto done;
    } else if (have_raw) {
        if (dt == STRATA_DTYPE_STRING) {
            st = tensor_error(rd, &msg, raw.offset, tn, "string tensors cannot use raw_data");
            goto done;
        }
        if (raw.len != file_need) {
            st = tensor_error(rd, &msg, raw.offset, tn,
                              "raw_data has %zu bytes, %s%s needs %zu%s", raw.len,
                              strata_dtype_name(dt), shape_describe(rank, dims, sbuf, sizeof sbuf),
                              file_need, packed ? " (packed)" : "");
            goto done;
        }
        const uint8_t *p = protobuf_bytes(&msg, &raw);
        if (packed) {
            st = strata_tensor_create(dt, rank, dims, &t);
            if (st == STRATA_OK) dtype_unpack(dt, p, numel, t->data);
        } else if (rd->zero_copy && (uintptr_t)p % esize == 0) {
            st = strata_tensor_wrap(dt, rank, dims, (void *)(uintptr_t)p, need, NULL, &t);
        } else {
            st = strata_tensor_create(dt, rank, dims, &t);
            if (st == STRATA_OK && need) memcpy(t->data, p, need);
            if (st == STRATA_OK && rd->zero_copy && rd->m) release_copied_pages(rd->m->file, p, need);
        }
        if (st != STRATA_OK) goto done;
    } else {
        size_t per = 1;
        int want = typed_field_for(dt, &per);
        if (typed && typed != want) {
            st = tensor_error(rd, &msg, start, tn, "%s given for a %s tensor",
                              typed_field_name(typed), strata_dtype_name(dt));
            goto done;
        }
        size_t n_want = packed ? file_need : (size_t)numel * per;
        if (n_typed != n_want) {
            st = tensor_error(rd, &msg, start, tn, "%s has %zu values, %s%s needs %zu%s",
                              typed_field_name(want), n_typed, strata_dtype_name(dt),
                              shape_describe(rank, dims, sbuf, sizeof sbuf), n_want,
                              packed ? " (one packed byte each)" : "");
            goto done;
        }
        if ((st = strata_tensor_create(dt, rank, dims, &t)) != STRATA_OK) goto done;
        size_t k = 0;
        r = msg;
        while ((st = protobuf_next(&r, &f, &more)) == STRATA_OK && more) {
            if ((int)f.number != want) continue;
            if (want == TP_STRING) {
                char **s = t->data;
                s[k] = mem_strndup((const char *)protobuf_bytes(&r, &f), f.len);
                if (!s[k]) {
                    st = error_set(STRATA_OUT_OF_MEMORY, "tensor '%s': out of memory", tn);
                    goto done;
                }
                k++;
                continue;
            }
            protobuf_iter it;
            uint64_t v;
            protobuf_iter_init(&it, &r, &f, typed_wire(want));
            while (k < n_typed && protobuf_iter_next(&it, &v)) store_typed(t, k++, v);
        }
        if (st != STRATA_OK) goto done;
    }
    *out = t;
    t = NULL;
    if (name_out) {
        *name_out = name;
        name = NULL;
    }
done:
    strata_tensor_destroy(t);
    mem_free(name);
    mem_free(ext_loc);
    mem_free(ext_off);
    mem_free(ext_len);
    return st;
}

/* ---- TypeProto / ValueInfoProto ------------------------------------------------------------ */

typedef struct type_info {
    value_kind kind;
    strata_dtype dtype;
    int rank;
    int64_t dims[STRATA_MAX_DIMS];
    char *dim_names[STRATA_MAX_DIMS];
    bool set;
} type_info;

static void type_info_release(type_info *ti)
{
    for (int d = 0; d < STRATA_MAX_DIMS; d++) mem_free(ti->dim_names[d]);
    memset(ti, 0, sizeof *ti);
}

static strata_status read_elem_type(const protobuf_reader *r, const protobuf_field *f,
                                    const char *vname, type_info *ti)
{
    strata_status st = expect_wire(r, f, PROTOBUF_VARINT, "elem_type");
    if (st != STRATA_OK) return st;
    if (f->u != 0 && !dtype_is_valid((int)(f->u > 1000 ? 1000 : f->u)))
        return protobuf_error(r, f->offset, "value '%s': unknown dtype %llu", vname,
                              (unsigned long long)f->u);
    ti->dtype = (strata_dtype)f->u;
    return STRATA_OK;
}

static strata_status read_shape(const protobuf_reader *r, const protobuf_field *f,
                                const char *vname, type_info *ti)
{
    protobuf_reader s, d;
    protobuf_field g, h;
    bool more, m2;
    strata_status st = protobuf_enter(r, f, &s);
    if (st != STRATA_OK) return st;
    ti->rank = 0;
    while ((st = protobuf_next(&s, &g, &more)) == STRATA_OK && more) {
        if (g.number != 1) continue;
        if (ti->rank >= STRATA_MAX_DIMS)
            return protobuf_error(&s, g.tag_offset, "value '%s': rank > %d", vname,
                                  STRATA_MAX_DIMS);
        int k = ti->rank++;
        ti->dims[k] = -1;
        if ((st = protobuf_enter(&s, &g, &d)) != STRATA_OK) return st;
        while ((st = protobuf_next(&d, &h, &m2)) == STRATA_OK && m2) {
            if (h.number == 1) {
                if ((st = expect_wire(&d, &h, PROTOBUF_VARINT, "dim_value")) != STRATA_OK)
                    return st;
                if ((int64_t)h.u < 0 || (int64_t)h.u > STRATA_MAX_ELEMENTS)
                    return protobuf_error(&d, h.offset, "value '%s': dim %d is %lld", vname, k,
                                          (long long)(int64_t)h.u);
                ti->dims[k] = (int64_t)h.u;
                mem_free(ti->dim_names[k]);
                ti->dim_names[k] = NULL;
            } else if (h.number == 2) {
                if ((st = dup_string(&d, &h, "dim_param", &ti->dim_names[k])) != STRATA_OK)
                    return st;
                ti->dims[k] = -1;
            }
        }
        if (st != STRATA_OK) return st;
    }
    return st;
}

static strata_status read_type(const protobuf_reader *r, const protobuf_field *f,
                               const char *vname, type_info *ti)
{
    protobuf_reader t, tt;
    protobuf_field g, h;
    bool more, m2;
    strata_status st = protobuf_enter(r, f, &t);
    if (st != STRATA_OK) return st;
    ti->set = true;
    ti->kind = VALUE_UNKNOWN;
    ti->rank = -1;
    while ((st = protobuf_next(&t, &g, &more)) == STRATA_OK && more) {
        switch (g.number) {
        case 1: /* tensor_type */
        case 8: /* sparse_tensor_type */
            ti->kind = g.number == 1 ? VALUE_TENSOR : VALUE_SPARSE;
            if ((st = protobuf_enter(&t, &g, &tt)) != STRATA_OK) return st;
            while ((st = protobuf_next(&tt, &h, &m2)) == STRATA_OK && m2) {
                if (h.number == 1) st = read_elem_type(&tt, &h, vname, ti);
                else if (h.number == 2) st = read_shape(&tt, &h, vname, ti);
                if (st != STRATA_OK) return st;
            }
            if (st != STRATA_OK) return st;
            break;
        case 4: ti->kind = VALUE_SEQUENCE; break;
        case 5: ti->kind = VALUE_MAP; break;
        case 9: ti->kind = VALUE_OPTIONAL; break;
        default: break;
        }
    }
    return st;
}

/* Reads a ValueInfoProto into g; *id_out receives its value id. */
static strata_status read_value_info(const protobuf_reader *r, const protobuf_field *f,
                                     ir_graph *g, const char *what, int *id_out)
{
    protobuf_reader v;
    protobuf_field h;
    bool more;
    char *name = NULL, *doc = NULL;
    type_info ti;
    memset(&ti, 0, sizeof ti);
    strata_status st = protobuf_enter(r, f, &v);
    if (st != STRATA_OK) return st;
    protobuf_reader v2 = v;
    while ((st = protobuf_next(&v2, &h, &more)) == STRATA_OK && more)
        if (h.number == 1 && (st = dup_string(&v2, &h, "value name", &name)) != STRATA_OK) break;
    if (st == STRATA_OK && (!name || !name[0]))
        st = protobuf_error(r, f->offset, "graph '%s': %s with an empty name",
                            g->name ? g->name : "", what);
    while (st == STRATA_OK && (st = protobuf_next(&v, &h, &more)) == STRATA_OK && more) {
        if (h.number == 2) {
            type_info_release(&ti);
            st = read_type(&v, &h, name, &ti);
        } else if (h.number == 3) {
            st = dup_string(&v, &h, "doc_string", &doc);
        }
    }
    int id = -1;
    if (st == STRATA_OK) st = ir_graph_value(g, name, &id);
    if (st == STRATA_OK) {
        ir_value *val = &g->values[id];
        if (ti.set) {
            val->kind = ti.kind;
            val->dtype = ti.dtype;
            val->rank = ti.rank;
            for (int d = 0; d < STRATA_MAX_DIMS; d++) {
                mem_free(val->dim_names[d]);
                val->dim_names[d] = ti.dim_names[d];
                ti.dim_names[d] = NULL;
                val->dims[d] = d < ti.rank ? ti.dims[d] : 0;
            }
        }
        if (doc) {
            mem_free(val->doc_string);
            val->doc_string = doc;
            doc = NULL;
        }
        *id_out = id;
    }
    type_info_release(&ti);
    mem_free(name);
    mem_free(doc);
    return st;
}

/* ---- graph, node, attribute ---------------------------------------------------------------- */

static strata_status read_graph(reader *rd, protobuf_reader msg, ir_graph *g, int depth);

enum { AT_NAME = 1, AT_F = 2, AT_I = 3, AT_S = 4, AT_T = 5, AT_G = 6, AT_FLOATS = 7,
       AT_INTS = 8, AT_STRINGS = 9, AT_TENSORS = 10, AT_GRAPHS = 11, AT_DOC = 13, AT_TP = 14,
       AT_TPS = 15, AT_TYPE = 20, AT_REF = 21, AT_SPARSE = 22, AT_SPARSES = 23 };

static strata_status read_attr(reader *rd, const protobuf_reader *nr, const protobuf_field *af,
                               ir_graph *g, const ir_node *node, attr *a, int depth)
{
    protobuf_reader msg, r;
    protobuf_field f;
    bool more;
    strata_status st = protobuf_enter(nr, af, &msg);
    if (st != STRATA_OK) return st;
    const char *nn = node->name, *op = node->op_type;
    /* pass 1: name, type, counts */
    uint64_t type = 0;
    size_t n_floats = 0, n_ints = 0, n_strings = 0, n_tensors = 0, n_graphs = 0;
    bool seen[24] = {false};
    r = msg;
    while ((st = protobuf_next(&r, &f, &more)) == STRATA_OK && more) {
        size_t n = 0;
        if (f.number < 24) seen[f.number] = true;
        switch (f.number) {
        case AT_NAME: st = dup_string(&r, &f, "attribute name", &a->name); break;
        case AT_TYPE:
            st = expect_wire(&r, &f, PROTOBUF_VARINT, "attribute type");
            type = f.u;
            break;
        case AT_REF: st = dup_string(&r, &f, "ref_attr_name", &a->ref_attr_name); break;
        case AT_FLOATS:
            st = protobuf_count(&r, &f, PROTOBUF_FIXED32, &n);
            n_floats += n;
            break;
        case AT_INTS:
            st = protobuf_count(&r, &f, PROTOBUF_VARINT, &n);
            n_ints += n;
            break;
        case AT_STRINGS: n_strings++; st = expect_wire(&r, &f, PROTOBUF_LEN, "strings"); break;
        case AT_TENSORS: n_tensors++; break;
        case AT_GRAPHS: n_graphs++; break;
        default: break;
        }
        if (st != STRATA_OK) return st;
    }
    if (st != STRATA_OK) return st;
    const char *an = a->name ? a->name : "";
    snprintf(rd->ctx, sizeof rd->ctx, "node '%s' (%s) attribute '%s'", nn, op, an);
    if (!a->name || !a->name[0])
        return protobuf_error(nr, af->offset, "node '%s' (%s): attribute with an empty name", nn,
                              op);
    if (type == 0) { /* old files: infer from the field present */
        static const struct { int field; attr_type t; } guess[] = {
            {AT_F, ATTR_FLOAT}, {AT_I, ATTR_INT}, {AT_S, ATTR_STRING}, {AT_T, ATTR_TENSOR},
            {AT_G, ATTR_GRAPH}, {AT_FLOATS, ATTR_FLOATS}, {AT_INTS, ATTR_INTS},
            {AT_STRINGS, ATTR_STRINGS}, {AT_TENSORS, ATTR_TENSORS}, {AT_GRAPHS, ATTR_GRAPHS},
            {AT_SPARSE, ATTR_SPARSE_TENSOR}, {AT_SPARSES, ATTR_SPARSE_TENSORS},
            {AT_TP, ATTR_TYPE_PROTO}, {AT_TPS, ATTR_TYPE_PROTOS}};
        for (size_t k = 0; k < ARRAY_LEN(guess) && !type; k++)
            if (seen[guess[k].field]) type = (uint64_t)guess[k].t;
        if (!type && !a->ref_attr_name)
            return protobuf_error(nr, af->offset, "node '%s' (%s): attribute '%s' has no type "
                                                  "and no value", nn, op, an);
    }
    if (type > ATTR_TYPE_PROTOS)
        return protobuf_error(nr, af->offset, "node '%s' (%s): attribute '%s' has unknown type "
                                              "%llu", nn, op, an, (unsigned long long)type);
    a->type = (attr_type)type;
    if (a->type == ATTR_SPARSE_TENSOR || a->type == ATTR_SPARSE_TENSORS)
        return error_set(STRATA_UNSUPPORTED, "%s@%zu: node '%s' (%s): attribute '%s': sparse "
                                             "tensor attributes are not supported",
                         nr->name, af->offset, nn, op, an);
    if (a->type == ATTR_TYPE_PROTOS) /* no ONNX op has one; a single TYPE_PROTO is kept */
        return error_set(STRATA_UNSUPPORTED, "%s@%zu: node '%s' (%s): attribute '%s': lists of "
                                             "type protos are not supported",
                         nr->name, af->offset, nn, op, an);
    if ((a->type == ATTR_GRAPH || a->type == ATTR_GRAPHS) && depth + 1 > STRATA_MAX_SUBGRAPH_DEPTH)
        return protobuf_error(nr, af->offset, "node '%s' (%s): attribute '%s': subgraphs nested "
                                              "deeper than %d", nn, op, an,
                              STRATA_MAX_SUBGRAPH_DEPTH);
    size_t n_list = a->type == ATTR_FLOATS ? n_floats : a->type == ATTR_INTS ? n_ints
                    : a->type == ATTR_STRINGS ? n_strings : a->type == ATTR_TENSORS ? n_tensors
                    : a->type == ATTR_GRAPHS ? n_graphs : 0;
    if (n_list) {
        void *arr = NULL;
        switch (a->type) {
        case ATTR_FLOATS: arr = a->floats = mem_calloc(n_list, sizeof(float)); break;
        case ATTR_INTS: arr = a->ints = mem_calloc(n_list, sizeof(int64_t)); break;
        case ATTR_STRINGS: arr = a->strings = mem_calloc(n_list, sizeof(char *)); break;
        case ATTR_TENSORS: arr = a->tensors = mem_calloc(n_list, sizeof(strata_tensor *)); break;
        case ATTR_GRAPHS: arr = a->graphs = mem_calloc(n_list, sizeof(void *)); break;
        default: break;
        }
        if (!arr)
            return error_set(STRATA_OUT_OF_MEMORY, "attribute '%s': out of memory for %zu values",
                             an, n_list);
    }
    /* pass 2: the values of the declared type */
    size_t k = 0;
    r = msg;
    while ((st = protobuf_next(&r, &f, &more)) == STRATA_OK && more) {
        switch (a->type) {
        case ATTR_FLOAT:
            if (f.number == AT_F) {
                if ((st = expect_wire(&r, &f, PROTOBUF_FIXED32, "attribute f")) != STRATA_OK)
                    return st;
                uint32_t b = (uint32_t)f.u;
                memcpy(&a->f, &b, 4);
            }
            break;
        case ATTR_INT:
            if (f.number == AT_I) {
                if ((st = expect_wire(&r, &f, PROTOBUF_VARINT, "attribute i")) != STRATA_OK)
                    return st;
                a->i = (int64_t)f.u;
            }
            break;
        case ATTR_STRING:
            if (f.number == AT_S) {
                if ((st = expect_wire(&r, &f, PROTOBUF_LEN, "attribute s")) != STRATA_OK)
                    return st;
                mem_free(a->s);
                a->s = mem_strndup((const char *)protobuf_bytes(&r, &f), f.len);
                if (!a->s) return error_set(STRATA_OUT_OF_MEMORY, "attribute '%s': out of memory", an);
                a->s_len = f.len;
            }
            break;
        case ATTR_TYPE_PROTO: /* kept as its serialized TypeProto bytes (written back as is) */
            if (f.number == AT_TP) {
                if ((st = expect_wire(&r, &f, PROTOBUF_LEN, "attribute tp")) != STRATA_OK) return st;
                mem_free(a->s);
                a->s = mem_strndup((const char *)protobuf_bytes(&r, &f), f.len);
                if (!a->s) return error_set(STRATA_OUT_OF_MEMORY, "attribute '%s': out of memory", an);
                a->s_len = f.len;
            }
            break;
        case ATTR_TENSOR:
        case ATTR_TENSORS:
            if ((f.number == AT_T && a->type == ATTR_TENSOR) ||
                (f.number == AT_TENSORS && a->type == ATTR_TENSORS)) {
                protobuf_reader tr;
                strata_tensor *t = NULL;
                if ((st = protobuf_enter(&r, &f, &tr)) != STRATA_OK) return st;
                snprintf(rd->ctx, sizeof rd->ctx, "node '%s' (%s) attribute '%s'", nn, op, an);
                if ((st = read_tensor(rd, tr, &t, NULL)) != STRATA_OK) return st;
                if (a->type == ATTR_TENSOR) {
                    strata_tensor_destroy(a->t);
                    a->t = t;
                } else {
                    a->tensors[k++] = t;
                    a->n = k;
                }
            }
            break;
        case ATTR_GRAPH:
        case ATTR_GRAPHS:
            if ((f.number == AT_G && a->type == ATTR_GRAPH) ||
                (f.number == AT_GRAPHS && a->type == ATTR_GRAPHS)) {
                protobuf_reader gr;
                if ((st = protobuf_enter(&r, &f, &gr)) != STRATA_OK) return st;
                ir_graph *sub = ir_graph_create(g, rd->m);
                if (!sub) return error_set(STRATA_OUT_OF_MEMORY, "subgraph: out of memory");
                if (a->type == ATTR_GRAPH) {
                    if (a->g) ir_graph_destroy(a->g);
                    a->g = sub;
                } else {
                    a->graphs[k++] = sub;
                    a->n = k;
                }
                if ((st = read_graph(rd, gr, sub, depth + 1)) != STRATA_OK) return st;
            }
            break;
        case ATTR_FLOATS:
        case ATTR_INTS:
            if ((f.number == AT_FLOATS && a->type == ATTR_FLOATS) ||
                (f.number == AT_INTS && a->type == ATTR_INTS)) {
                protobuf_iter it;
                uint64_t v;
                protobuf_iter_init(&it, &r, &f,
                                   a->type == ATTR_FLOATS ? PROTOBUF_FIXED32 : PROTOBUF_VARINT);
                while (k < n_list && protobuf_iter_next(&it, &v)) {
                    if (a->type == ATTR_FLOATS) {
                        uint32_t b = (uint32_t)v;
                        memcpy(&a->floats[k++], &b, 4);
                    } else {
                        a->ints[k++] = (int64_t)v;
                    }
                }
                a->n = k;
            }
            break;
        case ATTR_STRINGS:
            if (f.number == AT_STRINGS) {
                a->strings[k] = mem_strndup((const char *)protobuf_bytes(&r, &f), f.len);
                if (!a->strings[k])
                    return error_set(STRATA_OUT_OF_MEMORY, "attribute '%s': out of memory", an);
                a->n = ++k;
            }
            break;
        default:
            break;
        }
    }
    if (st != STRATA_OK || a->ref_attr_name) return st;
    if (a->type == ATTR_STRING && !a->s) { /* protobuf: an absent string field is "" */
        if (!(a->s = mem_strdup(""))) return error_set(STRATA_OUT_OF_MEMORY, "attribute '%s': out of memory", an);
        a->s_len = 0;
    }
    if ((a->type == ATTR_TENSOR && !a->t) || (a->type == ATTR_GRAPH && !a->g))
        return protobuf_error(nr, af->offset, "node '%s' (%s): attribute '%s' says it holds a %s "
                              "but has none", nn, op, an, a->type == ATTR_TENSOR ? "tensor" : "graph");
    return st;
}

enum { ND_INPUT = 1, ND_OUTPUT = 2, ND_NAME = 3, ND_OP = 4, ND_ATTR = 5, ND_DOC = 6,
       ND_DOMAIN = 7 };

static strata_status read_node(reader *rd, const protobuf_reader *gr, const protobuf_field *nf,
                               ir_graph *g, int depth)
{
    protobuf_reader msg, r;
    protobuf_field f;
    bool more;
    strata_status st = protobuf_enter(gr, nf, &msg);
    if (st != STRATA_OK) return st;
    char *name = NULL, *op = NULL, *domain = NULL, *doc = NULL;
    size_t n_in = 0, n_out = 0, n_attr = 0;
    r = msg;
    while ((st = protobuf_next(&r, &f, &more)) == STRATA_OK && more) {
        switch (f.number) {
        case ND_INPUT: n_in++; st = expect_wire(&r, &f, PROTOBUF_LEN, "node input"); break;
        case ND_OUTPUT: n_out++; st = expect_wire(&r, &f, PROTOBUF_LEN, "node output"); break;
        case ND_ATTR: n_attr++; break;
        case ND_NAME: st = dup_string(&r, &f, "node name", &name); break;
        case ND_OP: st = dup_string(&r, &f, "op_type", &op); break;
        case ND_DOMAIN: st = dup_string(&r, &f, "node domain", &domain); break;
        case ND_DOC: st = dup_string(&r, &f, "node doc_string", &doc); break;
        default: break;
        }
        if (st != STRATA_OK) goto done;
    }
    if (st != STRATA_OK) goto done;
    if (!op || !op[0]) {
        st = protobuf_error(gr, nf->offset, "graph '%s': node '%s' has no op_type",
                            g->name ? g->name : "", name ? name : "");
        goto done;
    }
    int idx;
    if ((st = ir_graph_add_node(g, op, domain ? domain : "", name ? name : "", n_in, n_out,
                                n_attr, &idx)) != STRATA_OK)
        goto done;
    ir_node *n = &g->nodes[idx];
    n->doc_string = doc;
    doc = NULL;
    /* arrays are sized for the counts; fill them with what was read so far */
    size_t ki = 0, ko = 0, ka = 0;
    size_t n_attr_total = n->n_attrs;
    n->n_attrs = 0; /* grows as attributes are read, so a failure frees only filled ones */
    r = msg;
    while ((st = protobuf_next(&r, &f, &more)) == STRATA_OK && more) {
        if (f.number == ND_INPUT || f.number == ND_OUTPUT) {
            const char *p = (const char *)protobuf_bytes(&r, &f);
            if (memchr(p, 0, f.len)) {
                st = protobuf_error(&r, f.offset, "node '%s' (%s): value name contains a NUL "
                                                  "byte", n->name, n->op_type);
                goto done;
            }
            int id = -1;
            if (f.len) {
                char *vn = mem_strndup(p, f.len);
                if (!vn) {
                    st = error_set(STRATA_OUT_OF_MEMORY, "node '%s': out of memory", n->name);
                    goto done;
                }
                st = ir_graph_value(g, vn, &id);
                mem_free(vn);
                if (st != STRATA_OK) goto done;
            }
            if (f.number == ND_INPUT) n->inputs[ki++] = id;
            else n->outputs[ko++] = id;
        } else if (f.number == ND_ATTR && ka < n_attr_total) {
            attr *a = &n->attrs[ka++];
            n->n_attrs = ka;
            st = read_attr(rd, &r, &f, g, n, a, depth);
            rd->ctx[0] = 0;
            n = &g->nodes[idx];
            if (st != STRATA_OK) goto done;
            for (size_t q = 0; q + 1 < ka; q++)
                if (strcmp(n->attrs[q].name, a->name) == 0) {
                    st = protobuf_error(&r, f.offset, "node '%s' (%s): attribute '%s' given twice",
                                        n->name, n->op_type, a->name);
                    goto done;
                }
        }
    }
done:
    mem_free(name);
    mem_free(op);
    mem_free(domain);
    mem_free(doc);
    return st;
}

enum { GR_NODE = 1, GR_NAME = 2, GR_INIT = 5, GR_DOC = 10, GR_INPUT = 11, GR_OUTPUT = 12,
       GR_VALUE_INFO = 13, GR_SPARSE_INIT = 15 };

static strata_status read_graph(reader *rd, protobuf_reader msg, ir_graph *g, int depth)
{
    protobuf_reader r = msg;
    protobuf_field f;
    bool more;
    strata_status st;
    /* the name first, for messages */
    while ((st = protobuf_next(&r, &f, &more)) == STRATA_OK && more)
        if (f.number == GR_NAME && (st = dup_string(&r, &f, "graph name", &g->name)) != STRATA_OK)
            return st;
    if (st != STRATA_OK) return st;
    if (!g->name && !(g->name = mem_strdup("")))
        return error_set(STRATA_OUT_OF_MEMORY, "graph: out of memory");
    r = msg;
    while ((st = protobuf_next(&r, &f, &more)) == STRATA_OK && more) {
        switch (f.number) {
        case GR_NODE: st = read_node(rd, &r, &f, g, depth); break;
        case GR_DOC: st = dup_string(&r, &f, "graph doc_string", &g->doc_string); break;
        case GR_INIT: {
            protobuf_reader tr;
            strata_tensor *t = NULL;
            char *tname = NULL;
            int id = -1;
            if ((st = protobuf_enter(&r, &f, &tr)) != STRATA_OK) break;
            rd->ctx[0] = 0;
            if ((st = read_tensor(rd, tr, &t, &tname)) != STRATA_OK) break;
            if (!tname || !tname[0]) {
                st = protobuf_error(&r, f.offset, "graph '%s': initializer with an empty name",
                                    g->name);
            } else if ((st = ir_graph_value(g, tname, &id)) == STRATA_OK && g->values[id].init) {
                st = protobuf_error(&r, f.offset, "graph '%s': initializer '%s' given twice",
                                    g->name, tname);
            } else if (st == STRATA_OK) {
                g->values[id].init = t;
                t = NULL;
            }
            strata_tensor_destroy(t);
            mem_free(tname);
            break;
        }
        case GR_INPUT:
        case GR_OUTPUT: {
            int id;
            bool in = f.number == GR_INPUT;
            st = read_value_info(&r, &f, g, in ? "input" : "output", &id);
            if (st != STRATA_OK) break;
            const int *list = in ? g->inputs : g->outputs;
            size_t n = in ? g->n_inputs : g->n_outputs;
            for (size_t k = 0; k < n; k++)
                if (list[k] == id) {
                    st = protobuf_error(&r, f.offset, "graph '%s': %s '%s' listed twice",
                                        g->name, in ? "input" : "output", g->values[id].name);
                    break;
                }
            if (st == STRATA_OK) st = in ? ir_graph_add_input(g, id) : ir_graph_add_output(g, id);
            break;
        }
        case GR_VALUE_INFO: {
            int id;
            st = read_value_info(&r, &f, g, "value_info", &id);
            break;
        }
        case GR_SPARSE_INIT:
            return error_set(STRATA_UNSUPPORTED,
                             "%s@%zu: graph '%s': sparse_initializer is not supported", r.name,
                             f.offset, g->name);
        default:
            break;
        }
        if (st != STRATA_OK) return st;
    }
    return st;
}

/* ---- ModelProto ---------------------------------------------------------------------------- */

enum { MD_IR_VERSION = 1, MD_PRODUCER = 2, MD_PRODUCER_VERSION = 3, MD_DOMAIN = 4,
       MD_MODEL_VERSION = 5, MD_DOC = 6, MD_GRAPH = 7, MD_OPSET = 8, MD_METADATA = 14,
       MD_FUNCTIONS = 25 };

static strata_status read_string_pair(const protobuf_reader *r, const protobuf_field *f,
                                      char **key, char **value)
{
    protobuf_reader e;
    protobuf_field g;
    bool more;
    strata_status st = protobuf_enter(r, f, &e);
    while (st == STRATA_OK && (st = protobuf_next(&e, &g, &more)) == STRATA_OK && more) {
        if (g.number == 1) st = dup_string(&e, &g, "key", key);
        else if (g.number == 2) st = dup_string(&e, &g, "value", value);
    }
    return st;
}

static strata_status read_model(reader *rd, const mapped_file *file, const char *name)
{
    ir_model *m = rd->m;
    protobuf_reader r;
    protobuf_field f;
    bool more, have_graph = false;
    strata_status st;
    protobuf_reader_init(&r, file->data, file->n_bytes, name);
    while ((st = protobuf_next(&r, &f, &more)) == STRATA_OK && more) {
        switch (f.number) {
        case MD_IR_VERSION:
            st = expect_wire(&r, &f, PROTOBUF_VARINT, "ir_version");
            m->ir_version = (int64_t)f.u;
            break;
        case MD_MODEL_VERSION:
            st = expect_wire(&r, &f, PROTOBUF_VARINT, "model_version");
            m->model_version = (int64_t)f.u;
            break;
        case MD_PRODUCER: st = dup_string(&r, &f, "producer_name", &m->producer_name); break;
        case MD_PRODUCER_VERSION:
            st = dup_string(&r, &f, "producer_version", &m->producer_version);
            break;
        case MD_DOMAIN: st = dup_string(&r, &f, "domain", &m->domain); break;
        case MD_DOC: st = dup_string(&r, &f, "doc_string", &m->doc_string); break;
        case MD_OPSET: {
            protobuf_reader o;
            protobuf_field g;
            bool m2;
            char *domain = NULL;
            int64_t version = -1;
            if ((st = protobuf_enter(&r, &f, &o)) != STRATA_OK) break;
            while ((st = protobuf_next(&o, &g, &m2)) == STRATA_OK && m2) {
                if (g.number == 1) st = dup_string(&o, &g, "opset domain", &domain);
                else if (g.number == 2) {
                    st = expect_wire(&o, &g, PROTOBUF_VARINT, "opset version");
                    version = (int64_t)g.u;
                }
                if (st != STRATA_OK) break;
            }
            if (st == STRATA_OK && version < 0)
                st = protobuf_error(&r, f.offset, "opset_import '%s' without a valid version",
                                    domain ? domain : "");
            ir_opset *ops = st == STRATA_OK ? mem_realloc(m->opsets, (m->n_opsets + 1) *
                                                                         sizeof *ops)
                                            : NULL;
            if (st == STRATA_OK && !ops) st = error_set(STRATA_OUT_OF_MEMORY, "out of memory");
            if (st == STRATA_OK && !domain && !(domain = mem_strdup("")))
                st = error_set(STRATA_OUT_OF_MEMORY, "out of memory");
            if (ops) m->opsets = ops;
            if (st == STRATA_OK) {
                m->opsets[m->n_opsets].domain = domain;
                m->opsets[m->n_opsets].version = version;
                m->n_opsets++;
                domain = NULL;
            }
            mem_free(domain);
            break;
        }
        case MD_METADATA: {
            char *key = NULL, *value = NULL;
            st = read_string_pair(&r, &f, &key, &value);
            ir_metadata *md = st == STRATA_OK ? mem_realloc(m->metadata, (m->n_metadata + 1) *
                                                                             sizeof *md)
                                              : NULL;
            if (st == STRATA_OK && !md) st = error_set(STRATA_OUT_OF_MEMORY, "out of memory");
            if (md) m->metadata = md;
            if (st == STRATA_OK) {
                m->metadata[m->n_metadata].key = key ? key : mem_strdup("");
                m->metadata[m->n_metadata].value = value ? value : mem_strdup("");
                m->n_metadata++;
                key = value = NULL;
            }
            mem_free(key);
            mem_free(value);
            break;
        }
        case MD_GRAPH: {
            protobuf_reader gr;
            if (have_graph) {
                st = protobuf_error(&r, f.tag_offset, "model has two graphs");
                break;
            }
            have_graph = true;
            if ((st = protobuf_enter(&r, &f, &gr)) != STRATA_OK) break;
            m->graph = ir_graph_create(NULL, m);
            if (!m->graph) {
                st = error_set(STRATA_OUT_OF_MEMORY, "graph: out of memory");
                break;
            }
            st = read_graph(rd, gr, m->graph, 0);
            break;
        }
        default: /* functions (25), training_info (20): not kept */
            break;
        }
        if (st != STRATA_OK) return st;
    }
    if (st != STRATA_OK) return st;
    if (!have_graph) return protobuf_error(&r, 0, "model has no graph");
    if ((st = ir_graph_verify(m->graph, name)) != STRATA_OK) return st;
    return ir_graph_infer_shapes(m->graph);
}

static strata_status open_model_dir(const char *path, int *fd_out)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? mem_strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : mem_strdup(".");
    if (!dir) return error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err = errno;
    mem_free(dir);
    if (fd < 0)
        return error_set(STRATA_IO_ERROR, "%s: cannot open the model's folder: %s", path,
                         strerror(err));
    *fd_out = fd;
    return STRATA_OK;
}

static strata_status read_model_file(mapped_file *file, const char *path, bool allow_external,
                                     const uint8_t *region, size_t n_region, ir_model **out)
{
    *out = NULL;
    reader rd;
    memset(&rd, 0, sizeof rd);
    rd.dir_fd = -1;
    rd.zero_copy = true;
    rd.region = region;
    rd.n_region = n_region;
    rd.m = ir_model_create();
    if (!rd.m) {
        mapped_file_close(file);
        return error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    rd.m->file = file;
    rd.m->path = mem_strdup(file->path);
    strata_status st = rd.m->path ? STRATA_OK : error_set(STRATA_OUT_OF_MEMORY, "out of memory");
    if (st == STRATA_OK && allow_external) st = open_model_dir(path, &rd.dir_fd);
    if (st == STRATA_OK) st = read_model(&rd, file, file->path);
    if (rd.dir_fd >= 0) close(rd.dir_fd);
    if (st != STRATA_OK) {
        ir_model_destroy(rd.m);
        return st;
    }
    *out = rd.m;
    return STRATA_OK;
}

strata_status onnx_read_model(const char *path, ir_model **out)
{
    *out = NULL;
    mapped_file *file;
    strata_status st = mapped_file_open(path, &file);
    if (st != STRATA_OK) return st;
    return read_model_file(file, path, true, NULL, 0, out);
}

strata_status onnx_read_model_bytes(const void *bytes, size_t n_bytes, const char *name,
                                    ir_model **out)
{
    *out = NULL;
    mapped_file *file;
    strata_status st = mapped_file_from_bytes(bytes, n_bytes, name ? name : "<memory>", &file);
    if (st != STRATA_OK) return st;
    return read_model_file(file, name ? name : "<memory>", false, NULL, 0, out);
}

strata_status onnx_read_model_view(const uint8_t *bytes, size_t n_bytes, const char *name,
                                   const uint8_t *weights, size_t n_weights, ir_model **out)
{
    *out = NULL;
    mapped_file *view = mem_calloc(1, sizeof *view);
    char *p = mem_strdup(name ? name : "<plan>");
    if (!view || !p) {
        mem_free(view);
        mem_free(p);
        return error_set(STRATA_OUT_OF_MEMORY, "out of memory");
    }
    view->data = bytes;
    view->n_bytes = n_bytes;
    view->path = p;
    view->is_heap = 2; /* borrowed: closing frees only the struct */
    return read_model_file(view, view->path, false, weights, n_weights, out);
}

strata_status onnx_read_tensor_bytes(const void *bytes, size_t n_bytes, const char *name,
                                     strata_tensor **out)
{
    *out = NULL;
    reader rd;
    memset(&rd, 0, sizeof rd);
    rd.dir_fd = -1;
    protobuf_reader r;
    protobuf_reader_init(&r, bytes, n_bytes, name ? name : "<memory>");
    return read_tensor(&rd, r, out, NULL);
}

strata_status onnx_read_tensor_file(const char *path, strata_tensor **out)
{
    *out = NULL;
    mapped_file *file;
    strata_status st = mapped_file_open(path, &file);
    if (st != STRATA_OK) return st;
    st = onnx_read_tensor_bytes(file->data, file->n_bytes, path, out);
    mapped_file_close(file);
    return st;
}

/* ---- SequenceProto / OptionalProto (backend test data) ---------------------------------------
 * Read into STRATA_DTYPE_SEQUENCE / _OPTIONAL containers (core.h). Fields: 3 tensor, 4 sparse
 * tensor, 5 sequence, 6 map, 7 optional (repeated in a sequence, at most one in an optional). */

static strata_status read_container(reader *rd, protobuf_reader msg, strata_dtype kind,
                                    strata_tensor **out);

/* Reads the element in field f (3, 5 or 7) of r into *out. */
static strata_status read_element(reader *rd, const protobuf_reader *r, const protobuf_field *f,
                                  strata_tensor **out)
{
    protobuf_reader sub;
    strata_status st = expect_wire(r, f, PROTOBUF_LEN, "element");
    if (st == STRATA_OK) st = protobuf_enter(r, f, &sub);
    if (st != STRATA_OK) return st;
    if (f->number == 3) return read_tensor(rd, sub, out, NULL);
    return read_container(rd, sub, f->number == 5 ? STRATA_DTYPE_SEQUENCE : STRATA_DTYPE_OPTIONAL, out);
}

static strata_status read_container(reader *rd, protobuf_reader msg, strata_dtype kind,
                                    strata_tensor **out)
{
    *out = NULL;
    const char *what = kind == STRATA_DTYPE_SEQUENCE ? "sequence" : "optional";
    protobuf_reader r = msg;
    protobuf_field f;
    bool more;
    strata_status st;
    int64_t n = 0;
    while ((st = protobuf_next(&r, &f, &more)) == STRATA_OK && more) {
        if (f.number == 4 || f.number == 6)
            return protobuf_error(&r, f.tag_offset, "%s: %s elements are not supported", what,
                                  f.number == 4 ? "sparse tensor" : "map");
        if (f.number == 3 || f.number == 5 || f.number == 7) n++;
    }
    if (st != STRATA_OK) return st;
    if (kind == STRATA_DTYPE_OPTIONAL && n > 1)
        return protobuf_error(&msg, msg.pos, "optional: %lld values where at most one is allowed",
                              (long long)n);
    strata_tensor *t = mem_calloc(1, sizeof *t);
    if (!t) return error_set(STRATA_OUT_OF_MEMORY, "%s@%zu: out of memory", msg.name, msg.pos);
    st = tensor_alloc_container(t, kind, n);
    r = msg;
    for (int64_t k = 0; st == STRATA_OK && k < n;) {
        if ((st = protobuf_next(&r, &f, &more)) != STRATA_OK || !more) break;
        if (f.number == 3 || f.number == 5 || f.number == 7)
            st = read_element(rd, &r, &f, &((strata_tensor **)t->data)[k++]);
    }
    if (st != STRATA_OK) {
        strata_tensor_destroy(t);
        return st;
    }
    *out = t;
    return STRATA_OK;
}

/* Declared here until serialize.h has it: reads a backend test data file holding a value of
 * kind (VALUE_SEQUENCE: SequenceProto, VALUE_OPTIONAL: OptionalProto, else TensorProto). */

strata_status onnx_read_value_file(const char *path, int kind, strata_tensor **out)
{
    *out = NULL;
    if (kind != VALUE_SEQUENCE && kind != VALUE_OPTIONAL) return onnx_read_tensor_file(path, out);
    mapped_file *file;
    strata_status st = mapped_file_open(path, &file);
    if (st != STRATA_OK) return st;
    reader rd;
    memset(&rd, 0, sizeof rd);
    rd.dir_fd = -1;
    protobuf_reader r;
    protobuf_reader_init(&r, file->data, file->n_bytes, path);
    st = read_container(&rd, r, kind == VALUE_SEQUENCE ? STRATA_DTYPE_SEQUENCE : STRATA_DTYPE_OPTIONAL,
                        out);
    mapped_file_close(file);
    return st;
}
