/* core/mapped_file.c — a whole file mapped read-only, so that model weights are read in
 * place (zero-copy) and only the pages touched become resident. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

strata_status mapped_file_open(const char *path, mapped_file **out)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return error_set(STRATA_IO_ERROR, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return error_set(STRATA_IO_ERROR, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return error_set(STRATA_IO_ERROR, "%s: not a regular file", path);
    }
    mapped_file *f = mem_calloc(1, sizeof *f);
    char *p = mem_strdup(path);
    if (!f || !p) {
        mem_free(f);
        mem_free(p);
        close(fd);
        return error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    f->path = p;
    f->n_bytes = (size_t)st.st_size;
    if (f->n_bytes == 0) {
        f->data = (const uint8_t *)"";
        f->is_heap = 2; /* static empty */
    } else {
        void *m = mmap(NULL, f->n_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            mem_free(p);
            mem_free(f);
            return error_set(STRATA_IO_ERROR, "%s: cannot map: %s", path, strerror(e));
        }
        f->data = m;
    }
    close(fd);
    *out = f;
    return STRATA_OK;
}

strata_status mapped_file_from_bytes(const void *bytes, size_t n_bytes, const char *name,
                                     mapped_file **out)
{
    *out = NULL;
    mapped_file *f = mem_calloc(1, sizeof *f);
    uint8_t *copy = mem_alloc(n_bytes);
    char *p = mem_strdup(name ? name : "<memory>");
    if (!f || !copy || !p) {
        mem_free(f);
        mem_free(copy);
        mem_free(p);
        return error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory copying %zu bytes",
                         name ? name : "<memory>", n_bytes);
    }
    if (n_bytes) memcpy(copy, bytes, n_bytes);
    f->data = copy;
    f->n_bytes = n_bytes;
    f->path = p;
    f->is_heap = 1;
    *out = f;
    return STRATA_OK;
}

void mapped_file_close(mapped_file *f)
{
    if (!f) return;
    if (f->is_heap == 1)
        mem_free((void *)f->data);
    else if (f->is_heap == 0)
        munmap((void *)f->data, f->n_bytes);
    mem_free(f->path);
    mem_free(f);
}
