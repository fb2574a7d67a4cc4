/* kernels/fast_util.c — what the fast op kernels share: the fused activation of a node as a
 * GEMM epilogue, and the general tail (broadcast residual, activations the GEMM epilogue does
 * not have) applied in a separate pass when the epilogue cannot take them. */
#include <math.h>
#include <string.h>

#include "fast_internal.h"

bool fast_activation(const op_node *n, fast_act *a)
{
    const char *name = op_attr_string(n, "activation", "");
    memset(a, 0, sizeof *a);
    a->act_min = op_attr_float(n, "activation_min", -INFINITY);
    a->act_max = op_attr_float(n, "activation_max", INFINITY);
    a->alpha = op_attr_float(n, "activation_alpha", 0.01f);
    if (!name[0]) a->gemm = GEMM_ACT_NONE;
    else if (strcmp(name, "Relu") == 0) a->gemm = GEMM_ACT_RELU;
    else if (strcmp(name, "Clip") == 0) a->gemm = GEMM_ACT_CLIP;
    else if (strcmp(name, "Sigmoid") == 0) a->gemm = GEMM_ACT_SIGMOID;
    else if (strcmp(name, "Gelu") == 0) a->gemm = GEMM_ACT_GELU;
    else if (strcmp(name, "Silu") == 0) a->gemm = GEMM_ACT_SILU;
    else if (strcmp(name, "LeakyRelu") == 0) a->post = FAST_POST_LEAKY;
    else if (strcmp(name, "Tanh") == 0) a->post = FAST_POST_TANH;
    else return false;
    return true;
}

static float act_one(const fast_act *a, float x)
{
    switch (a->gemm) {
    case GEMM_ACT_RELU: return x > 0 ? x : 0;
    case GEMM_ACT_CLIP: return x < a->act_min ? a->act_min : x > a->act_max ? a->act_max : x;
    case GEMM_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case GEMM_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case GEMM_ACT_SILU: return x / (1.0f + expf(-x));
    default: break;
    }
    if (a->post == FAST_POST_LEAKY) return x >= 0 ? x : a->alpha * x;
    if (a->post == FAST_POST_TANH) return tanhf(x);
    return x;
}

void fast_tail(float *y, const int64_t *ydims, int yrank, const strata_tensor *z, const fast_act *a)
{
    int64_t count = shape_numel(yrank, ydims);
    if (z) {
        int64_t zstr[STRATA_MAX_DIMS], ystr[STRATA_MAX_DIMS];
        shape_broadcast_strides(z->rank, z->dims, yrank, zstr);
        shape_strides(yrank, ydims, ystr);
        const float *zd = z->data;
        for (int64_t i = 0; i < count; i++) {
            int64_t zi = 0, rem = i;
            for (int k = 0; k < yrank; k++) {
                zi += (rem / ystr[k]) * zstr[k];
                rem %= ystr[k];
            }
            y[i] += zd[zi];
        }
    }
    if (a->gemm != GEMM_ACT_NONE || a->post != FAST_POST_NONE)
        for (int64_t i = 0; i < count; i++) y[i] = act_one(a, y[i]);
}

bool fast_same_dims(const strata_tensor *a, const strata_tensor *b)
{
    return a->rank == b->rank && memcmp(a->dims, b->dims, (size_t)a->rank * sizeof a->dims[0]) == 0;
}

bool fast_residual_in_epilogue(const op_node *n)
{
    fast_act a;
    return fast_activation(n, &a) && a.post == FAST_POST_NONE;
}

bool fast_residual_in_simple_epilogue(const op_node *n)
{
    fast_act a;
    return fast_activation(n, &a) && a.post == FAST_POST_NONE &&
           (a.gemm == GEMM_ACT_NONE || a.gemm == GEMM_ACT_RELU || a.gemm == GEMM_ACT_CLIP);
}

strata_status fast_in_place_error(const op_node *n, const char *kernel)
{
    return op_error(n, STRATA_INTERNAL, "%s: the residual shares the output's memory but would be added after the "
                    "output is written (recompile the plan)", kernel);
}

bool fast_f32(const strata_tensor *t)
{
    return t && t->dtype == STRATA_DTYPE_F32;
}

const void *fast_packed_input(const op_node *n, const strata_tensor *const *in)
{
    int64_t idx = op_attr_int(n, "packed_input", -1);
    if (idx < 0 || (size_t)idx >= n->n_inputs || !in[idx] || in[idx]->dtype != STRATA_DTYPE_U8) return NULL;
    return in[idx]->data;
}
