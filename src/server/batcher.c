/* server/batcher.c — dynamic batching: when to run (max batch size, preferred sizes, max queue
 * delay), which queued requests may share a batch, and the copies that concatenate their inputs
 * along dim 0 and split the batch outputs back to each request. */
#include <string.h>

#include "internal.h"

size_t batcher_decide(const batcher_policy *p, const int64_t *rows, size_t n, uint64_t waited_ns,
                      uint64_t *wait_ns)
{
    *wait_ns = UINT64_MAX;
    if (n == 0) return 0;
    if (p->max_batch_size <= 0) return 1;
    /* the requests that fit in one batch, in queue order */
    size_t fit = 0;
    int64_t total = 0;
    while (fit < n && total + rows[fit] <= p->max_batch_size) total += rows[fit++];
    if (fit == 0) return 1; /* cannot happen: submit refuses rows > max; run it alone */
    if (fit < n || total >= p->max_batch_size) return fit; /* full */
    if (waited_ns >= p->max_delay_ns) return fit;        /* the oldest has waited enough */
    if (p->n_preferred > 0 && total >= p->preferred[p->n_preferred - 1]) {
        /* enough for the largest preferred size: the longest prefix that hits a preferred size,
         * else the longest one within the largest */
        size_t best = 0, within = 0;
        int64_t sum = 0;
        for (size_t k = 0; k < fit; k++) {
            sum += rows[k];
            if (sum <= p->preferred[p->n_preferred - 1]) within = k + 1;
            for (size_t q = 0; q < p->n_preferred; q++)
                if (sum == p->preferred[q]) best = k + 1;
        }
        return best ? best : within ? within : 1;
    }
    *wait_ns = p->max_delay_ns - waited_ns;
    return 0;
}

static const infer_tensor *find_input(const infer_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_inputs; i++)
        if (strcmp(r->inputs[i].name, name) == 0) return &r->inputs[i];
    return NULL;
}

bool batcher_compatible(const infer_request *a, const infer_request *b)
{
    if (a->n_inputs != b->n_inputs) return false;
    for (size_t i = 0; i < a->n_inputs; i++) {
        const infer_tensor *x = &a->inputs[i], *y = find_input(b, x->name);
        if (!y || x->dtype != y->dtype || x->rank != y->rank) return false;
        for (int d = 1; d < x->rank; d++)
            if (x->dims[d] != y->dims[d]) return false;
    }
    return true;
}

/* The shape the model sees for input or output io with rows rows. */
static int model_shape(const model_config *c, const config_io *io, const infer_tensor *t,
                       int64_t rows, int64_t *dims)
{
    int skip = c->max_batch_size > 0 ? 1 : 0, rank = 0;
    if (skip) dims[rank++] = rows;
    if (io->reshape_rank >= 0) {
        for (int d = 0; d < io->reshape_rank; d++) dims[rank++] = io->reshape[d];
    } else {
        for (int d = skip; d < t->rank; d++) dims[rank++] = t->dims[d];
    }
    return rank;
}

strata_status batcher_gather(infer_request *const *reqs, size_t n, const model_config *c,
                             strata_tensor **inputs)
{
    for (size_t i = 0; i < c->n_inputs; i++) inputs[i] = NULL;
    int64_t rows = 0;
    for (size_t k = 0; k < n; k++) rows += reqs[k]->rows;
    for (size_t i = 0; i < c->n_inputs; i++) {
        const infer_tensor *t0 = &reqs[0]->inputs[i];
        int64_t dims[STRATA_MAX_DIMS];
        int rank = model_shape(c, &c->inputs[i], t0, rows, dims);
        /* always a copy: request bytes may sit anywhere in a body, kernels want 64-byte alignment */
        strata_status st = strata_tensor_create(t0->dtype, rank, dims, &inputs[i]);
        if (st == STRATA_OK) {
            uint8_t *dst = strata_tensor_data(inputs[i]);
            size_t off = 0, cap = strata_tensor_bytes(inputs[i]);
            for (size_t k = 0; k < n; k++) {
                const infer_tensor *t = &reqs[k]->inputs[i];
                if (off + t->n_bytes > cap) {
                    st = error_set(STRATA_INTERNAL, "batch input '%s': %zu bytes do not fit %zu", t->name,
                                   off + t->n_bytes, cap);
                    break;
                }
                memcpy(dst + off, t->data, t->n_bytes);
                off += t->n_bytes;
            }
        }
        if (st != STRATA_OK) {
            for (size_t j = 0; j <= i; j++) strata_tensor_destroy(inputs[j]), inputs[j] = NULL;
            return st;
        }
    }
    return STRATA_OK;
}

strata_status batcher_scatter(infer_request *const *reqs, size_t n, const model_config *c,
                              strata_tensor *const *outputs)
{
    int skip = c->max_batch_size > 0 ? 1 : 0;
    int64_t row0 = 0;
    for (size_t k = 0; k < n; k++) {
        infer_request *r = reqs[k];
        for (size_t o = 0; o < r->n_outputs; o++) {
            infer_tensor *rt = &r->outputs[o];
            size_t idx = 0;
            while (idx < c->n_outputs && strcmp(c->outputs[idx].name, rt->name) != 0) idx++;
            if (idx == c->n_outputs) return error_set(STRATA_INTERNAL, "output '%s' lost", rt->name);
            strata_tensor *t = outputs[idx];
            const config_io *io = &c->outputs[idx];
            int rank = strata_tensor_rank(t);
            const int64_t *td = strata_tensor_dims(t);
            rt->dtype = strata_tensor_dtype(t);
            if (rt->dtype == STRATA_DTYPE_STRING)
                return error_set(STRATA_UNSUPPORTED, "output '%s': BYTES outputs are not served yet", rt->name);
            size_t total = strata_tensor_bytes(t), row_bytes = total, off = 0;
            if (skip) {
                int64_t batch_rows = 0;
                for (size_t q = 0; q < n; q++) batch_rows += reqs[q]->rows;
                if (rank < 1 || td[0] != batch_rows)
                    return error_set(STRATA_INTERNAL, "output '%s': dim 0 is %lld, the batch has %lld rows",
                                     rt->name, rank < 1 ? -1LL : (long long)td[0], (long long)batch_rows);
                row_bytes = batch_rows ? total / (size_t)batch_rows : 0;
                off = row_bytes * (size_t)row0;
            }
            size_t nb = skip ? row_bytes * (size_t)r->rows : total;
            if (rt->owned) mem_free(rt->data);
            rt->data = mem_alloc(nb ? nb : 1);
            rt->owned = rt->data != NULL;
            if (!rt->data) return error_set(STRATA_OUT_OF_MEMORY, "output '%s': out of memory (%zu bytes)", rt->name, nb);
            memcpy(rt->data, (const uint8_t *)strata_tensor_data(t) + off, nb);
            rt->n_bytes = nb;
            if (io->reshape_rank >= 0) {
                rt->rank = 0;
                if (skip) rt->dims[rt->rank++] = r->rows;
                for (int d = 0; d < io->rank; d++) rt->dims[rt->rank++] = io->dims[d];
            } else {
                rt->rank = rank;
                for (int d = 0; d < rank; d++) rt->dims[d] = td[d];
                if (skip) rt->dims[0] = r->rows;
            }
        }
        row0 += r->rows;
    }
    return STRATA_OK;
}
