/* tests/unit/test_registry.c — the reference-op registry: lookups through its index answer
 * what a scan of every op table answers. */
#include <string.h>

#include "op_harness.h"

typedef struct registry_walk {
    const op_def *all[4096];
    size_t n;
} registry_walk;

static void collect_def(const op_def *d, void *ctx)
{
    registry_walk *w = ctx;
    if (w->n < 4096) w->all[w->n++] = d;
}

/* The newest def of (domain, op_type) at opset, by scanning every table. */
static const op_def *scan_find(const registry_walk *w, const char *domain, const char *op_type, int opset)
{
    const op_def *best = NULL;
    for (size_t i = 0; i < w->n; i++) {
        const op_def *d = w->all[i];
        const char *a = d->domain && strcmp(d->domain, "ai.onnx") != 0 ? d->domain : "";
        const char *b = strcmp(domain, "ai.onnx") != 0 ? domain : "";
        if (strcmp(d->op_type, op_type) == 0 && strcmp(a, b) == 0 && d->since_opset <= opset &&
            (!best || d->since_opset > best->since_opset))
            best = d;
    }
    return best;
}

/* Every op at its own opset, one before and a late one, and names that are not ops: the index
 * answers what a scan of every table answers. */
TEST(ref_registry_index_agrees_with_a_scan)
{
    static registry_walk w;
    w.n = 0;
    ref_op_foreach(collect_def, &w);
    EXPECT(w.n > 100 && w.n < 4096);
    for (size_t i = 0; i < w.n; i++) {
        const op_def *d = w.all[i];
        const char *dom = d->domain ? d->domain : "";
        int opsets[3] = {d->since_opset, d->since_opset - 1, 99};
        for (int k = 0; k < 3; k++) EXPECT(ref_op_find(dom, d->op_type, opsets[k]) == scan_find(&w, dom, d->op_type, opsets[k]));
        EXPECT(ref_op_find("ai.onnx", d->op_type, 99) == scan_find(&w, "ai.onnx", d->op_type, 99));
    }
    EXPECT(ref_op_find("", "NoSuchOp", 99) == NULL);
    EXPECT(ref_op_find("com.nowhere", "Conv", 99) == NULL);
    EXPECT(ref_op_find("", "", 99) == NULL);
}
