/* tests/op_harness.h — running one reference op directly in a unit test: build tensors from
 * doubles, run ref_op_find + infer + compute, make attributes. Shared by tests/unit/test_ref_*.c. */
#ifndef STRATA_TEST_OP_HARNESS_H
#define STRATA_TEST_OP_HARNESS_H

#include "kernels/kernels.h"
#include "test.h"

/* A new tensor holding vals (converted to dtype; NULL vals: zeros). NULL when it cannot be made. */
strata_tensor *op_tensor(strata_dtype dt, int rank, const int64_t *dims, const double *vals);
/* Runs the default-domain op at opset on ins (NULL entries: absent inputs); on success outs[j]
 * are new tensors the caller destroys, on failure they are NULL and the status says why. */
strata_status op_run(const char *op, int opset, const attr *attrs, size_t n_attrs,
                     strata_tensor **ins, size_t n_in, strata_tensor **outs, size_t n_out);

/* Attributes that borrow their name and values (valid while those are). */
attr attr_int_of(const char *name, int64_t v);
attr attr_float_of(const char *name, float v);
attr attr_ints_of(const char *name, int64_t *v, size_t n);
attr attr_string_of(const char *name, const char *s);

/* Every element of t within tol of want[0..n), and t has n elements. */
#define EXPECT_VALUES(t, want, n, tol)                                                     \
    do {                                                                                   \
        const strata_tensor *ev_t = (t);                                                   \
        EXPECT_EQ(shape_numel(ev_t->rank, ev_t->dims), (n));                               \
        for (int64_t ev_i = 0; ev_i < (int64_t)(n); ev_i++)                                \
            EXPECT_NEAR(tensor_get_f64(ev_t, ev_i), (want)[ev_i], (tol));                  \
    } while (0)

#endif
