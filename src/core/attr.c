/* core/attr.c — node attributes: lookup and release. The struct lives in core so that the
 * reference kernels (which see only core) can read a node's attributes. */
#include <string.h>

#include "core.h"

const attr *attr_find(const attr *attrs, size_t n_attrs, const char *name)
{
    for (size_t i = 0; i < n_attrs; i++)
        if (attrs[i].name && strcmp(attrs[i].name, name) == 0) return &attrs[i];
    return NULL;
}

void attr_release(attr *a, void (*graph_free)(void *g))
{
    if (!a) return;
    mem_free(a->name);
    mem_free(a->s);
    mem_free(a->ref_attr_name);
    strata_tensor_destroy(a->t);
    if (graph_free && a->g) graph_free(a->g);
    mem_free(a->ints);
    mem_free(a->floats);
    if (a->strings)
        for (size_t k = 0; k < a->n; k++) mem_free(a->strings[k]);
    mem_free(a->strings);
    if (a->tensors)
        for (size_t k = 0; k < a->n; k++) strata_tensor_destroy(a->tensors[k]);
    mem_free(a->tensors);
    if (a->graphs && graph_free)
        for (size_t k = 0; k < a->n; k++) graph_free(a->graphs[k]);
    mem_free(a->graphs);
    memset(a, 0, sizeof *a);
}
