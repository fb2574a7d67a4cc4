/* kernels/ref/nn_einsum.c — reference Einsum: parses the equation (explicit or implicit output,
 * "..." broadcast dims, repeated labels as diagonals) and sums products over every label
 * combination in double. Obvious and slow by design. */
#include <string.h>

#include "ref_nn.h"

#define EIN_LETTERS 52                        /* a-z, A-Z */
#define EIN_LABELS (EIN_LETTERS + STRATA_MAX_DIMS) /* letters, then ellipsis dims */
#define EIN_MAX_INPUTS 16

typedef struct ein_plan {
    int n_in;                                   /* operands */
    int rank[EIN_MAX_INPUTS];                   /* labels per operand (ellipsis expanded) */
    int label[EIN_MAX_INPUTS][STRATA_MAX_DIMS]; /* label of each operand dim */
    int out_rank;                               /* labels of the output */
    int out_label[STRATA_MAX_DIMS];
    int64_t size[EIN_LABELS];                   /* extent of each label (-1: unknown) */
    bool seen[EIN_LABELS];                      /* the label occurs in an operand */
} ein_plan;

static int letter_id(char ch)
{
    if (ch >= 'a' && ch <= 'z') return ch - 'a';
    if (ch >= 'A' && ch <= 'Z') return 26 + ch - 'A';
    return -1;
}

/* Parses one term (up to ',' / '-' / end) into labels; *ell gets the position of "..." or -1. */
static strata_status parse_term(const op_node *n, const char **pp, int *labels, int *n_labels,
                                int *ell)
{
    const char *p = *pp;
    *n_labels = 0;
    *ell = -1;
    while (*p && *p != ',' && *p != '-') {
        if (*p == ' ') {
            p++;
            continue;
        }
        if (strncmp(p, "...", 3) == 0) {
            if (*ell >= 0) return op_error(n, STRATA_INVALID_MODEL, "two ellipses in one term");
            *ell = *n_labels;
            p += 3;
            continue;
        }
        int id = letter_id(*p);
        if (id < 0) return op_error(n, STRATA_INVALID_MODEL, "bad character '%c' in equation", *p);
        if (*n_labels >= STRATA_MAX_DIMS)
            return op_error(n, STRATA_INVALID_MODEL, "term has too many labels");
        labels[(*n_labels)++] = id;
        p++;
    }
    *pp = p;
    return STRATA_OK;
}

static strata_status ein_parse(const op_node *n, const strata_tensor *const *in, ein_plan *pl)
{
    const char *eq = op_attr_string(n, "equation", NULL);
    if (!eq) return op_error(n, STRATA_INVALID_MODEL, "missing 'equation'");
    memset(pl, 0, sizeof *pl);
    for (int i = 0; i < EIN_LABELS; i++) pl->size[i] = -1;
    if (n->n_inputs < 1 || n->n_inputs > EIN_MAX_INPUTS)
        return op_error(n, STRATA_UNSUPPORTED, "%zu operands", n->n_inputs);
    pl->n_in = (int)n->n_inputs;
    const char *p = eq;
    int ell_rank = 0, count[EIN_LABELS] = {0};
    for (int t = 0; t < pl->n_in; t++) {
        const strata_tensor *x = in[t];
        if (!x) return op_error(n, STRATA_INVALID_MODEL, "operand %d missing", t);
        if (!dtype_is_float(x->dtype) && !dtype_is_int(x->dtype))
            return op_error(n, STRATA_UNSUPPORTED, "operand %d has type %s", t,
                            strata_dtype_name(x->dtype));
        if (x->dtype != in[0]->dtype)
            return op_error(n, STRATA_INVALID_ARGUMENT, "operand types differ");
        int labels[STRATA_MAX_DIMS], nl, ell;
        strata_status st = parse_term(n, &p, labels, &nl, &ell);
        if (st) return st;
        int e = x->rank - nl;
        if (e < 0 || (ell < 0 && e != 0))
            return op_error(n, STRATA_INVALID_ARGUMENT,
                            "term %d has %d labels for an operand of rank %d", t, nl, x->rank);
        if (e > ell_rank) ell_rank = e;
        int k = 0;
        for (int j = 0; j <= nl; j++) {
            if (j == ell)
                for (int q = 0; q < e; q++) pl->label[t][k++] = -1 - (e - q); /* fixed below */
            if (j < nl) pl->label[t][k++] = labels[j];
        }
        pl->rank[t] = x->rank;
        if (t + 1 < pl->n_in) {
            if (*p != ',') return op_error(n, STRATA_INVALID_MODEL, "equation has fewer terms than inputs");
            p++;
        }
    }
    /* ellipsis dims: right-aligned onto EIN_LETTERS + [0, ell_rank) */
    for (int t = 0; t < pl->n_in; t++)
        for (int k = 0; k < pl->rank[t]; k++) {
            int l = pl->label[t][k];
            if (l < 0) l = pl->label[t][k] = EIN_LETTERS + ell_rank + (l + 1);
            int64_t d = in[t]->dims[k];
            bool is_ell = l >= EIN_LETTERS;
            pl->seen[l] = true;
            if (pl->size[l] < 0 || (is_ell && pl->size[l] == 1)) pl->size[l] = d;
            else if (d >= 0 && d != pl->size[l] && !(is_ell && d == 1))
                return op_error(n, STRATA_INVALID_ARGUMENT, "label '%c' has extents %lld and %lld",
                                l < 26 ? 'a' + l : l < 52 ? 'A' + l - 26 : '.', (long long)pl->size[l],
                                (long long)d);
            count[l]++;
        }
    while (*p == ' ') p++;
    if (*p == '-') {
        if (p[1] != '>') return op_error(n, STRATA_INVALID_MODEL, "expected '->' in equation");
        p += 2;
        int labels[STRATA_MAX_DIMS], nl, ell;
        strata_status st = parse_term(n, &p, labels, &nl, &ell);
        if (st) return st;
        if (*p) return op_error(n, STRATA_INVALID_MODEL, "trailing text in equation");
        if (nl + (ell >= 0 ? ell_rank : 0) > STRATA_MAX_DIMS)
            return op_error(n, STRATA_INVALID_MODEL, "output rank too large");
        for (int j = 0; j <= nl; j++) {
            if (j == ell)
                for (int q = 0; q < ell_rank; q++) pl->out_label[pl->out_rank++] = EIN_LETTERS + q;
            if (j < nl) {
                if (!pl->seen[labels[j]])
                    return op_error(n, STRATA_INVALID_MODEL, "output label not in any input");
                pl->out_label[pl->out_rank++] = labels[j];
            }
        }
    } else {
        if (*p) return op_error(n, STRATA_INVALID_MODEL, "unexpected text in equation");
        for (int q = 0; q < ell_rank; q++) pl->out_label[pl->out_rank++] = EIN_LETTERS + q;
        /* implicit: labels seen once, in ASCII order (A-Z, then a-z), as numpy orders them */
        for (int pass = 0; pass < 2; pass++)
            for (int l = pass ? 0 : 26; l < (pass ? 26 : 52); l++)
                if (count[l] == 1) {
                    if (pl->out_rank >= STRATA_MAX_DIMS)
                        return op_error(n, STRATA_INVALID_MODEL, "output rank too large");
                    pl->out_label[pl->out_rank++] = l;
                }
    }
    return STRATA_OK;
}

strata_status nn_einsum_infer(const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out)
{
    ein_plan pl;
    strata_status st = ein_parse(n, in, &pl);
    if (st) return st;
    int64_t dims[STRATA_MAX_DIMS];
    for (int i = 0; i < pl.out_rank; i++) dims[i] = pl.size[pl.out_label[i]];
    return tensor_set_shape(out[0], in[0]->dtype, pl.out_rank, dims);
}

strata_status nn_einsum_compute(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    ein_plan pl;
    strata_status st = ein_parse(n, in, &pl);
    if (st) return st;
    /* loop labels: output labels first, then the summed ones */
    int loop[EIN_LABELS], n_loop = 0;
    bool used[EIN_LABELS] = {false};
    for (int i = 0; i < pl.out_rank; i++) {
        loop[n_loop++] = pl.out_label[i];
        used[pl.out_label[i]] = true;
    }
    for (int l = 0; l < EIN_LABELS; l++)
        if (pl.seen[l] && !used[l]) loop[n_loop++] = l;
    /* stride of each loop label in each operand (sum over repeats: diagonals; 0: broadcast) */
    int64_t str[EIN_MAX_INPUTS][EIN_LABELS], ostr[EIN_LABELS];
    memset(str, 0, sizeof str);
    memset(ostr, 0, sizeof ostr);
    double *vals[EIN_MAX_INPUTS] = {NULL};
    for (int t = 0; t < pl.n_in; t++) {
        int64_t s[STRATA_MAX_DIMS];
        shape_strides(in[t]->rank, in[t]->dims, s);
        for (int k = 0; k < pl.rank[t]; k++)
            for (int j = 0; j < n_loop; j++)
                if (loop[j] == pl.label[t][k] && in[t]->dims[k] != 1) str[t][j] += s[k];
        vals[t] = nn_util_f64_load(in[t]);
        if (!vals[t]) st = nn_util_oom(n);
    }
    int64_t os[STRATA_MAX_DIMS], total = 1, ny = nn_util_numel(out[0]);
    shape_strides(out[0]->rank, out[0]->dims, os);
    for (int i = 0; i < pl.out_rank; i++) ostr[i] = os[i];
    for (int j = 0; j < n_loop; j++) total *= pl.size[loop[j]];
    double *y = mem_calloc((size_t)(ny > 0 ? ny : 1), sizeof *y);
    if (!y) st = nn_util_oom(n);
    if (!st && total > 0) {
        int64_t idx[EIN_LABELS] = {0}, off[EIN_MAX_INPUTS] = {0}, yo = 0;
        for (int64_t it = 0; it < total; it++) {
            double prod = 1;
            for (int t = 0; t < pl.n_in; t++) prod *= vals[t][off[t]];
            y[yo] += prod;
            for (int j = n_loop - 1; j >= 0; j--) {
                idx[j]++;
                for (int t = 0; t < pl.n_in; t++) off[t] += str[t][j];
                yo += ostr[j];
                if (idx[j] < pl.size[loop[j]]) break;
                for (int t = 0; t < pl.n_in; t++) off[t] -= idx[j] * str[t][j];
                yo -= idx[j] * ostr[j];
                idx[j] = 0;
            }
        }
    }
    if (!st) nn_util_f64_store(out[0], y);
    mem_free(y);
    for (int t = 0; t < pl.n_in; t++) mem_free(vals[t]);
    return st;
}
