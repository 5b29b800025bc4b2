/*
 * The block interpreter: runs the per-point program over NLSQ_BLOCK points
 * at a time. Each instruction is one tight loop over whole blocks of a
 * fixed length, with operands that never alias the destination (the
 * scheduler guarantees it), so the compiler vectorises the arithmetic and
 * the dispatch cost is paid once per 256 points, not once per point.
 * Transcendentals go through the vmath table (libmvec when the CPU allows).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"

/* With GCC on x86-64 the kernels are also built for AVX2 and the better
   one is picked when the library is loaded (an ifunc): 4 doubles per
   operation instead of 2, with no effect on results. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KERNEL_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define KERNEL_CLONES
#endif


int interp_init(interp *it, const program *p, const vmath *vm)
{
    memset(it, 0, sizeof *it);
    it->p = p;
    it->vm = vm;
    size_t slot_bytes = (size_t)(p->nslots ? p->nslots : 1) * NLSQ_BLOCK * sizeof(double);
    it->slots = aligned_alloc(64, slot_bytes); /* a multiple of 64 */
    it->u = malloc((size_t)(p->nuniform ? p->nuniform : 1) * sizeof(double));
    if (!it->slots || !it->u) {
        interp_free(it);
        return -1;
    }
    return 0;
}

void interp_free(interp *it)
{
    free(it->slots);
    free(it->u);
    it->slots = it->u = NULL;
}

static double *slot(const interp *it, int s)
{
    return it->slots + (size_t)s * NLSQ_BLOCK;
}

void interp_uniform(interp *it, const double *params)
{
    const program *p = it->p;
    double *u = it->u;
    for (int j = 0; j < p->nparams; j++) u[j] = params[j];
    for (int i = 0; i < p->nconst; i++) u[p->nparams + i] = p->uconst[i];
    for (int i = 0; i < p->nuinstr; i++) {
        const instr *in = &p->uinstr[i];
        double a = u[in->src[0]];
        double b = in->src[1] >= 0 ? u[in->src[1]] : 0;
        double c = in->src[2] >= 0 ? u[in->src[2]] : 0;
        u[in->dst] = op_apply(in->op, a, b, c, in->k);
    }
    for (int i = 0; i < p->nbcast; i++) {
        double *s = slot(it, p->nvars + i), v = u[p->bcast[i]];
        for (int k = 0; k < NLSQ_BLOCK; k++) s[k] = v;
    }
}

/* x^k on the block by src/kernel/scalar.h's binary powering, instantiated
   for two lanes (SSE2, every x86-64 has it): each lane's multiplications
   are nk_powi's, so folded constants, the interpreter and the compiled
   kernels agree bit for bit. */
typedef double v2 __attribute__((vector_size(16)));
NK_DEFINE_POWI(powi_v2, v2, ((v2){1.0, 1.0}))

KERNEL_CLONES
static void block_powi(const double *restrict a, double *restrict o, int k)
{
    for (int i = 0; i < NLSQ_BLOCK; i += 2) {
        v2 x;
        memcpy(&x, a + i, sizeof x);
        v2 r = powi_v2(x, k);
        memcpy(o + i, &r, sizeof r);
    }
}

static void block_scalar(int op, const double *a, double *restrict o)
{
    for (int i = 0; i < NLSQ_BLOCK; i++) o[i] = op_apply(op, a[i], 0, 0, 0);
}

#define LOOP(expr) \
    for (int i = 0; i < NLSQ_BLOCK; i++) o[i] = (expr)
/* Selects load both operands first, so the compiler can see the loads do
   not depend on the condition and turn the loop into vector blends. */
#define SELECT(cond, yes, no) \
    for (int i = 0; i < NLSQ_BLOCK; i++) { \
        double av = a[i], bv = b[i], cv = c[i]; \
        (void)cv; \
        o[i] = (cond) ? (yes) : (no); \
    }

KERNEL_CLONES
static void run_instr(const vmath *vm, const instr *in, double *restrict o, const double *restrict a,
                      const double *restrict b, const double *restrict c)
{
    switch (in->op) {
    case NLSQ_OP_NEG: LOOP(-a[i]); break;
    case NLSQ_OP_ADD: LOOP(a[i] + b[i]); break;
    case NLSQ_OP_SUB: LOOP(a[i] - b[i]); break;
    case NLSQ_OP_MUL: LOOP(a[i] * b[i]); break;
    case NLSQ_OP_DIV: LOOP(a[i] / b[i]); break;
    case NLSQ_OP_SQRT: LOOP(sqrt(a[i])); break;
    case NLSQ_OP_ABS: LOOP(fabs(a[i])); break;
    case NLSQ_OP_SIGN: LOOP(nk_sign(a[i])); break;
    case NLSQ_OP_FLOOR: LOOP(floor(a[i])); break;
    case NLSQ_OP_CEIL: LOOP(ceil(a[i])); break;
    case NLSQ_OP_MIN: LOOP(nk_min(a[i], b[i])); break;
    case NLSQ_OP_MAX: LOOP(nk_max(a[i], b[i])); break;
    case NLSQ_OP_LT: LOOP(a[i] < b[i] ? 1.0 : 0.0); break;
    case NLSQ_OP_LE: LOOP(a[i] <= b[i] ? 1.0 : 0.0); break;
    case NLSQ_OP_GT: LOOP(a[i] > b[i] ? 1.0 : 0.0); break;
    case NLSQ_OP_GE: LOOP(a[i] >= b[i] ? 1.0 : 0.0); break;
    case NLSQ_OP_EQ: LOOP(a[i] == b[i] ? 1.0 : 0.0); break;
    case NLSQ_OP_NE: LOOP(a[i] != b[i] ? 1.0 : 0.0); break;
    case NLSQ_OP_AND: LOOP(((a[i] != 0) & (b[i] != 0)) ? 1.0 : 0.0); break;
    case NLSQ_OP_OR: LOOP(((a[i] != 0) | (b[i] != 0)) ? 1.0 : 0.0); break;
    case NLSQ_OP_NOT: LOOP(a[i] != 0 ? 0.0 : 1.0); break;
    case NLSQ_OP_WHERE: SELECT(av != 0, bv, cv); break;
    case OP_MUL0: SELECT((av == 0) | (bv == 0), 0.0, av * bv); break;
    case OP_DIV0: SELECT(bv == 0, 0.0, av / bv); break;
    case OP_POWI: block_powi(a, o, in->k); break;
    case NLSQ_OP_FADDEEVA_RE: LOOP(nk_faddeeva_re(a[i], b[i])); break;
    case NLSQ_OP_FADDEEVA_IM: LOOP(nk_faddeeva_im(a[i], b[i])); break;
    default:
        if (in->op < NLSQ_OP_COUNT && vm->unary[in->op])
            vm->unary[in->op](a, o);
        else if (in->op < NLSQ_OP_COUNT && vm->binary[in->op])
            vm->binary[in->op](a, b, o);
        else
            block_scalar(in->op, a, o); /* lgamma, tgamma, digamma */
    }
}

void interp_block(interp *it, const double *x, size_t stride, size_t start, size_t len)
{
    const program *p = it->p;
    /* Copy the points in, zero-padding a short last block so every loop
       runs the full fixed length. */
    for (int k = 0; k < p->nvars; k++) {
        double *s = slot(it, k);
        memcpy(s, x + (size_t)k * stride + start, len * sizeof(double));
        memset(s + len, 0, (NLSQ_BLOCK - len) * sizeof(double));
    }
    for (int i = 0; i < p->npinstr; i++) {
        const instr *in = &p->pinstr[i];
        const double *a = slot(it, in->src[0]);
        const double *b = in->src[1] >= 0 ? slot(it, in->src[1]) : a;
        const double *c = in->src[2] >= 0 ? slot(it, in->src[2]) : a;
        run_instr(it->vm, in, slot(it, in->dst), a, b, c);
    }
}

const double *interp_output(const interp *it, int k)
{
    return slot(it, it->p->out[k]);
}
