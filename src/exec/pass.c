/*
 * The pass: one sweep over the points at given parameters, producing the
 * cost and R_aug, the triangular factor of the weighted, loss-scaled rows
 * [J | r]. Each block of points is evaluated by the interpreter, turned
 * into rows in a small column-major buffer and folded into the running
 * triangle at once (qr_fold), so no m-sized array is ever written; a
 * model's compiled kernel, when there is one, does all three for its
 * chunk in one function.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "jit.h"
#include "kernel/runs.h"
#include "kernel/sum.h"
#include "linalg/linalg.h"

/* A chunk's sums, and a tree node's: merged in the tree with its
   triangle, so that they too come out the same for any thread count or
   group size. */
typedef struct pass_sums {
    nk_ksum cost, chi2;
    size_t bad;
    int failed; /* a read failed in it */
    int pad;
    nk_runs runs;
} pass_sums;

int pass_init(pass *ps, const program *p, const vmath *vm, const int *cols, int ncols, nlsq_loss loss, double f_scale,
              pool *pl)
{
    memset(ps, 0, sizeof *ps);
    ps->ncols = ncols;
    ps->loss = loss;
    ps->f_scale = f_scale;
    ps->pool = pl;
    ps->prog = p;
    ps->nworkers = pool_threads(pl);
    ps->cols = malloc((size_t)(ncols ? ncols : 1) * sizeof *ps->cols);
    ps->w = calloc((size_t)ps->nworkers, sizeof *ps->w);
    ps->merge_work = malloc((size_t)(ncols + 1) * (size_t)(ncols + 1) * sizeof *ps->merge_work);
    if (!ps->cols || !ps->w || !ps->merge_work) {
        pass_free(ps);
        return -1;
    }
    memcpy(ps->cols, cols, (size_t)ncols * sizeof *cols);
    for (int k = 0; k < ps->nworkers; k++) {
        /* the rows, plus one column of weights for make_rows_linear */
        ps->w[k].block = malloc((size_t)NLSQ_BLOCK * (size_t)(ncols + 2) * sizeof(double));
        if (!ps->w[k].block || interp_init(&ps->w[k].it, p, vm) != 0) {
            pass_free(ps);
            return -1;
        }
    }
    return 0;
}

void pass_free(pass *ps)
{
    for (int k = 0; ps->w && k < ps->nworkers; k++) {
        interp_free(&ps->w[k].it);
        free(ps->w[k].block);
        free(ps->w[k].jit_out);
        free(ps->w[k].jit_x);
    }
    free(ps->jit_u);
    free(ps->w);
    free(ps->cols);
    free(ps->merge_work);
    free(ps->chunk_R);
    free(ps->chunk_sums);
    free(ps->node_buf);
    free(ps->many_R);
    free(ps->many_sums);
    free(ps->many_u);
    memset(ps, 0, sizeof *ps);
}

int pass_use_jit(pass *ps, struct jit_entry *e)
{
    const program *p = ps->prog;
    ps->jit_u = malloc((size_t)(p->nuniform ? p->nuniform : 1) * sizeof(double));
    if (!ps->jit_u) return -1;
    for (int k = 0; k < ps->nworkers; k++) {
        ps->w[k].jit_out = malloc((size_t)NLSQ_BLOCK * (size_t)(ps->ncols + 1) * sizeof(double));
        ps->w[k].jit_x = malloc((size_t)NLSQ_BLOCK * (size_t)(p->nvars ? p->nvars : 1) * sizeof(double));
        if (!ps->w[k].jit_out || !ps->w[k].jit_x) return -1;
    }
    ps->jit = e;
    return 0;
}

size_t pass_chunk_points(size_t m)
{
    size_t chunk = PASS_WINDOW;
    while (m / chunk > 4096) chunk *= 2;
    return chunk;
}

static int arrays_read(void *ctx, int chunk, size_t first, size_t count, int worker, pass_view *v)
{
    const pass_arrays *a = ctx;
    (void)chunk, (void)first, (void)count, (void)worker;
    *v = (pass_view){a->x, a->stride, a->y, a->sigma, 0};
    return 0;
}

pass_data pass_data_arrays(const pass_arrays *a, size_t m, double sigma_all, int omit_nonfinite)
{
    return (pass_data){m, arrays_read, NULL, (void *)a, sigma_all, omit_nonfinite};
}

/* Row i of the view (a local index: global i + v->base). */
static int row_is_usable(const pass_view *v, int nvars, size_t i)
{
    if (!isfinite(v->y[i]) || (v->sigma && !isfinite(v->sigma[i]))) return 0;
    for (int k = 0; k < nvars; k++)
        if (!isfinite(v->x[(size_t)k * v->stride + i])) return 0;
    return 1;
}

/*
 * The common case — linear loss, nothing omitted, no residuals kept —
 * column by column in loops the compiler vectorises. Non-finite values are
 * found through sum(v * 0), which is NaN exactly when some v is Inf or NaN
 * (in any order of summation). `start` is local to the view.
 */
static void make_rows_linear(const pass *ps, pass_worker *wk, const pass_data *d, const pass_view *v, size_t start,
                             size_t len, const double *f, const double *const *jcol, pass_out *out)
{
    const double *y = v->y + start;
    const double *sg = v->sigma ? v->sigma + start : NULL;
    double w_all = 1.0 / d->sigma_all;
    int nc = ps->ncols;
    double *rcol = wk->block + (size_t)nc * NLSQ_BLOCK, *w = wk->block + (size_t)(nc + 1) * NLSQ_BLOCK;
    static const double zeros[NLSQ_BLOCK];
    for (size_t i = 0; i < len; i++) {
        w[i] = sg ? 1.0 / sg[i] : w_all;
        rcol[i] = w[i] * (f[i] - y[i]);
    }
    double chi2 = nk_dot4(rcol, rcol, len), probe = 0;
    if (out->runs)
        for (size_t i = 0; i < len; i++) nk_runs_add(out->runs, rcol[i]);
    for (int c = 0; c < nc; c++) {
        const double *jc = jcol[c];
        double *dst = wk->block + (size_t)c * NLSQ_BLOCK;
        for (size_t i = 0; i < len; i++) dst[i] = w[i] * jc[i];
        probe += nk_dot4(dst, zeros, len);
    }
    out->chi2 += chi2;
    out->cost += 0.5 * chi2;
    if (!isfinite(chi2) || isnan(probe)) out->nonfinite++;
}

/* Turn the block's outputs into weighted (and loss-scaled) rows; the
   residuals, when kept, go to their global index start + v->base. */
static void make_rows(const pass *ps, pass_worker *wk, const pass_data *d, const pass_view *v, size_t start, size_t len,
                      const double *f, const double *const *jcol, pass_out *out)
{
    int nc = ps->ncols, nvars = ps->prog->nvars;
    double *rcol = wk->block + (size_t)nc * NLSQ_BLOCK;
    double *res = out->residuals ? out->residuals + v->base + start : NULL;
    for (size_t i = 0; i < len; i++) {
        size_t li = start + i;
        double w = 1.0 / (v->sigma ? v->sigma[li] : d->sigma_all);
        double r = w * (f[i] - v->y[li]);
        if (d->omit_nonfinite && !row_is_usable(v, nvars, li)) {
            for (int c = 0; c <= nc; c++) wk->block[(size_t)c * NLSQ_BLOCK + i] = 0;
            if (res) res[i] = NAN;
            continue;
        }
        if (res) res[i] = r;
        if (out->runs) nk_runs_add(out->runs, r);
        out->chi2 += r * r;
        double s = 1;
        if (ps->loss == NLSQ_LOSS_LINEAR)
            out->cost += 0.5 * r * r;
        else
            s = loss_scale_row(ps->loss, ps->f_scale, &r, &out->cost);
        int bad = !isfinite(r);
        for (int c = 0; c < nc; c++) {
            double jv = s * w * jcol[c][i];
            bad |= !isfinite(jv);
            wk->block[(size_t)c * NLSQ_BLOCK + i] = jv;
        }
        rcol[i] = r;
        out->nonfinite += bad;
    }
}

/* Block sums are added with Neumaier's compensated sum (src/kernel/sum.h),
   as the compiled kernel adds them. */

typedef struct pass_job {
    pass *ps;
    const pass_data *d;
    double *residuals;
    int want_runs; /* gather each chunk's nk_runs */
    int fold;      /* fold the rows into the chunk's triangle */
    size_t chunk;
    const jit_kernel *kernel; /* or NULL: the interpreter */
    atomic_size_t done;       /* points finished, for progress */
    size_t share;             /* of this process's share (all of m alone) */
} pass_job;

/* The blocks of one window [first - v->base, ...) of the view, evaluated
   and folded into R, on the interpreter or a kernel's block entry. */
static void window_blocks(pass_job *job, pass_worker *wk, const double *u, const pass_view *v, size_t first, size_t count,
                          double *R, nk_ksum *cost, nk_ksum *chi2, size_t *bad, nk_runs *runs)
{
    pass *ps = job->ps;
    const pass_data *d = job->d;
    int nc = ps->ncols + 1;
    int linear = ps->loss == NLSQ_LOSS_LINEAR && !d->omit_nonfinite && !job->residuals;
    const double *f, *jcol[ps->ncols > 0 ? ps->ncols : 1];
    if (job->kernel) {
        f = wk->jit_out + (size_t)ps->ncols * NLSQ_BLOCK;
        for (int k = 0; k < ps->ncols; k++) jcol[k] = wk->jit_out + (size_t)k * NLSQ_BLOCK;
    } else {
        f = interp_output(&wk->it, 0);
        for (int k = 0; k < ps->ncols; k++) jcol[k] = interp_output(&wk->it, ps->cols[k] + 1);
    }
    pass_out out = {.R = R, .residuals = job->residuals, .runs = runs};
    size_t lo = first - v->base, hi = lo + count;
    for (size_t start = lo; start < hi; start += NLSQ_BLOCK) {
        size_t len = hi - start < NLSQ_BLOCK ? hi - start : NLSQ_BLOCK;
        if (job->kernel)
            job->kernel->block(u, v->x, v->stride, start, len, wk->jit_x, wk->jit_out);
        else
            interp_block(&wk->it, v->x, v->stride, start, len);
        out.cost = out.chi2 = 0; /* the row makers add this block's sums */
        if (linear)
            make_rows_linear(ps, wk, d, v, start, len, f, jcol, &out);
        else
            make_rows(ps, wk, d, v, start, len, f, jcol, &out);
        nk_ksum_add(cost, out.cost);
        nk_ksum_add(chi2, out.chi2);
        if (job->fold) qr_fold(R, (size_t)nc, nc, wk->block, NLSQ_BLOCK, len);
    }
    *bad += out.nonfinite;
}

/* One chunk: its windows read and their blocks folded into its own
   triangle, with the sums running on from window to window. */
static void chunk_task(void *ctx, int c, int worker)
{
    pass_job *job = ctx;
    pass *ps = job->ps;
    const pass_data *d = job->d;
    pass_worker *wk = &ps->w[worker];
    int nc = ps->ncols + 1;
    size_t first = (size_t)c * job->chunk, last = first + job->chunk < d->m ? first + job->chunk : d->m;
    double *R = ps->chunk_R + (size_t)c * (size_t)nc * (size_t)nc;
    memset(R, 0, (size_t)nc * (size_t)nc * sizeof *R);
    int fused = job->kernel && ps->loss == NLSQ_LOSS_LINEAR && !d->omit_nonfinite && !job->residuals &&
                !job->want_runs && job->fold;
    pass_sums *sums = &ps->chunk_sums[c];
    memset(sums, 0, sizeof *sums);
    nk_runs *runs = job->want_runs ? &sums->runs : NULL;
    jit_chunk a = {NULL, 0, NULL, NULL, d->sigma_all, 0, 0, R, wk->block, wk->jit_x, 0, 0, 0, 0, 0};
    nk_ksum cost = {0, 0}, chi2 = {0, 0};
    size_t bad = 0;
    for (size_t w = first; w < last; w += PASS_WINDOW) {
        size_t count = last - w < PASS_WINDOW ? last - w : PASS_WINDOW;
        pass_view v;
        if (d->read(d->ctx, c, w, count, worker, &v) != 0) {
            sums->failed = 1;
            break;
        }
        if (fused) {
            a.x = v.x;
            a.stride = v.stride;
            a.y = v.y;
            a.sigma = v.sigma;
            a.first = w - v.base;
            a.last = a.first + count;
            job->kernel->chunk_linear(ps->jit_u, &a);
        } else {
            window_blocks(job, wk, ps->jit_u, &v, w, count, R, &cost, &chi2, &bad, runs);
        }
        if (d->release) d->release(d->ctx, w, count, worker);
        size_t done = atomic_fetch_add(&job->done, count) + count;
        if (worker == 0 && ps->progress) ps->progress(ps->progress_ctx, done, job->share);
    }
    if (fused) {
        cost = (nk_ksum){a.cost, a.cost_comp};
        chi2 = (nk_ksum){a.chi2, a.chi2_comp};
        bad = a.bad;
    }
    sums->cost = cost;
    sums->chi2 = chi2;
    sums->bad = bad;
}

static int ensure_chunks(pass *ps, int nchunks)
{
    if (nchunks <= ps->chunk_cap) return 0;
    size_t nc = (size_t)ps->ncols + 1;
    double *R = realloc(ps->chunk_R, (size_t)nchunks * nc * nc * sizeof *R);
    if (R) ps->chunk_R = R;
    pass_sums *sums = realloc(ps->chunk_sums, (size_t)nchunks * sizeof *sums);
    if (sums) ps->chunk_sums = sums;
    if (!R || !sums) return -1;
    ps->chunk_cap = nchunks;
    return 0;
}

/* Room to pack one tree node for the group. */
static int ensure_node_buf(pass *ps, size_t bytes)
{
    if (bytes <= ps->node_buf_cap) return 0;
    void *b = realloc(ps->node_buf, bytes);
    if (!b) return -1;
    ps->node_buf = b;
    ps->node_buf_cap = bytes;
    return 0;
}

/* Two compensated sums as one: the partner's sum, then its correction. */
static void ksum_merge(nk_ksum *a, const nk_ksum *b)
{
    nk_ksum_add(a, b->sum);
    a->comp += b->comp;
}

static void sums_merge(pass_sums *a, const pass_sums *b, int runs)
{
    ksum_merge(&a->cost, &b->cost);
    ksum_merge(&a->chi2, &b->chi2);
    a->bad += b->bad;
    a->failed |= b->failed;
    if (runs) nk_runs_merge(&a->runs, &b->runs); /* left then right: data order */
}

/* pass_run's tree nodes: a chunk's triangle (when folded) and sums. */
typedef struct run_tree {
    pass *ps;
    int fold, runs;
    size_t sz; /* doubles of a triangle */
} run_tree;

static void run_merge(void *ctx, int into, int from)
{
    run_tree *t = ctx;
    pass *ps = t->ps;
    if (t->fold) qr_merge(ps->chunk_R + (size_t)into * t->sz, ps->chunk_R + (size_t)from * t->sz, ps->ncols + 1,
                          ps->merge_work);
    sums_merge(&ps->chunk_sums[into], &ps->chunk_sums[from], t->runs);
}

static void run_pack(void *ctx, int at, void *buf)
{
    run_tree *t = ctx;
    size_t rb = t->fold ? t->sz * sizeof(double) : 0;
    if (rb) memcpy(buf, t->ps->chunk_R + (size_t)at * t->sz, rb);
    memcpy((char *)buf + rb, &t->ps->chunk_sums[at], sizeof(pass_sums));
}

static void run_unpack(void *ctx, int at, const void *buf)
{
    run_tree *t = ctx;
    size_t rb = t->fold ? t->sz * sizeof(double) : 0;
    if (rb) memcpy(t->ps->chunk_R + (size_t)at * t->sz, buf, rb);
    memcpy(&t->ps->chunk_sums[at], (const char *)buf + rb, sizeof(pass_sums));
}

/* This process's chunks [lo, hi) of n. */
static void pass_span(const pass *ps, int n, int *lo, int *hi)
{
    *lo = 0, *hi = n;
    if (ps->group && ps->group->size > 1) tree_span(ps->spans, n, ps->group->size, ps->group->rank, lo, hi);
}

typedef struct span_job {
    pool_task_fn fn;
    void *ctx;
    int first; /* task t runs as task first + t */
} span_job;

static void span_task(void *ctx, int task, int worker)
{
    span_job *sj = ctx;
    sj->fn(sj->ctx, sj->first + task, worker);
}

/* fn over tasks [lo, hi) on the pass's threads (one thread for one task). */
static void run_span(pass *ps, pool_task_fn fn, void *ctx, int lo, int hi)
{
    span_job sj = {fn, ctx, lo};
    if (hi > lo) pool_run(ps->nworkers > 1 && hi - lo > 1 ? ps->pool : NULL, span_task, &sj, hi - lo);
}

/*
 * In a group, where this pass had to grow its buffers (the same passes on
 * every process: where one grows them, all do), whether any process
 * failed to: *nomem then on every process, so none of them waits in the
 * tree for one that stopped. 0, or -1 when the transport failed.
 */
static int group_nomem(pass *ps, int grew, int tag, int *nomem)
{
    int lowest;
    if (!grew || !ps->group || ps->group->size <= 1) return 0;
    if (group_agree(ps->group, tag, *nomem, &lowest) != 0) return -1;
    *nomem = lowest >= 0;
    return 0;
}

static void pass_fail_out(pass_out *out, int nomem)
{
    out->nomem = nomem;
    out->group_failed = !nomem;
    out->nonfinite = 1;
    out->cost = NAN;
}

void pass_run(pass *ps, const pass_data *d, const double *params, pass_out *out)
{
    int nc = ps->ncols + 1;
    size_t chunk = pass_chunk_points(d->m);
    int nchunks = (int)((d->m + chunk - 1) / chunk);
    memset(out->R, 0, (size_t)nc * (size_t)nc * sizeof *out->R);
    out->cost = out->chi2 = 0;
    out->nonfinite = 0;
    out->read_failed = 0;
    out->nomem = 0;
    out->group_failed = 0;
    if (out->runs) memset(out->runs, 0, sizeof *out->runs);
    if (nchunks == 0) return;
    size_t sz = (size_t)nc * (size_t)nc;
    int grow = nchunks > ps->chunk_cap || sz * sizeof(double) + sizeof(pass_sums) > ps->node_buf_cap;
    int nomem = ensure_chunks(ps, nchunks) != 0 || ensure_node_buf(ps, sz * sizeof(double) + sizeof(pass_sums)) != 0;
    if (group_nomem(ps, grow, GROUP_TAG_AGREE + 4, &nomem) != 0) {
        pass_fail_out(out, 0);
        return;
    }
    if (nomem) {
        pass_fail_out(out, 1); /* no memory for the chunk triangles: not the model's fault */
        return;
    }
    const jit_kernel *kernel = jit_kernel_ready(ps->jit);
    if (kernel)
        kernel->uniform(params, ps->jit_u);
    else
        for (int k = 0; k < ps->nworkers; k++) interp_uniform(&ps->w[k].it, params);
    ps->passes++;
    ps->jit_passes += kernel != NULL;
    ps->last_jit = kernel != NULL;
    pass_job job = {ps, d, out->residuals, out->runs != NULL, !out->no_triangle, chunk, kernel, 0, 0};
    int lo, hi;
    pass_span(ps, nchunks, &lo, &hi);
    job.share = hi > lo ? ((size_t)hi * chunk < d->m ? (size_t)hi * chunk : d->m) - (size_t)lo * chunk : 0;
    run_span(ps, chunk_task, &job, lo, hi);
    run_tree t = {ps, job.fold, out->runs != NULL, sz};
    tree_ops ops = {&t, (job.fold ? sz * sizeof(double) : 0) + sizeof(pass_sums), run_merge, run_pack, run_unpack};
    if (tree_merge(&ops, nchunks, ps->group, ps->spans, GROUP_TAG_PASS, ps->node_buf) != 0) {
        pass_fail_out(out, 0);
        return;
    }
    const pass_sums *root = &ps->chunk_sums[0];
    if (job.fold) memcpy(out->R, ps->chunk_R, sz * sizeof *out->R);
    if (out->runs) *out->runs = root->runs;
    out->nonfinite = root->bad;
    out->read_failed = root->failed;
    out->cost = root->cost.sum + root->cost.comp;
    out->chi2 = root->chi2.sum + root->chi2.comp;
}

/* ---- many parameter vectors in one sweep (the global search) ------------ */

/* A chunk's sums for one vector, and a worker's running state for one. */
typedef struct pass_many_sums {
    nk_ksum cost, chi2;
    size_t bad;
    int failed; /* a read of the chunk failed */
    int pad;
} pass_many_sums;

typedef struct pass_many_state {
    nk_ksum cost, chi2;
    size_t bad;
    jit_chunk a; /* the fused kernel's running triangle and sums */
} pass_many_state;

/* Room for nchunks chunks of K vectors: their triangles (unless cost
   only), their sums, per-worker running states and the kernel's uniform
   registers. */
static int ensure_many(pass *ps, int nchunks, int K, int triangles)
{
    size_t nc = (size_t)ps->ncols + 1, cells = (size_t)nchunks * (size_t)K;
    size_t need_R = triangles ? cells * nc * nc : 0;
    size_t need_sums = cells * sizeof(pass_many_sums) + (size_t)ps->nworkers * (size_t)K * sizeof(pass_many_state);
    size_t need_u = (size_t)K * (size_t)(ps->prog->nuniform ? ps->prog->nuniform : 1);
    if (need_R > ps->many_R_cap) {
        double *R = realloc(ps->many_R, need_R * sizeof *R);
        if (!R) return -1;
        ps->many_R = R;
        ps->many_R_cap = need_R;
    }
    if (need_sums > ps->many_sums_cap) {
        void *m = realloc(ps->many_sums, need_sums);
        if (!m) return -1;
        ps->many_sums = m;
        ps->many_sums_cap = need_sums;
    }
    if (ps->jit && need_u > ps->many_u_cap) {
        double *u = realloc(ps->many_u, need_u * sizeof *u);
        if (!u) return -1;
        ps->many_u = u;
        ps->many_u_cap = need_u;
    }
    return ensure_chunks(ps, nchunks);
}

typedef struct many_job {
    pass_job job;
    pass_many *pm;
    int K, groups; /* a task: one chunk and one group of the vectors */
    size_t np; /* parameters per vector */
    pass_many_sums *sums;   /* nchunks x K */
    pass_many_state *state; /* nworkers x K */
} many_job;

/* One chunk for all K vectors: each window is read once and then
   evaluated at every vector while it sits in the cache, each vector
   folding into its own triangle with its own running sums, exactly as
   pass_run's chunk_task does for one. */
static void many_chunk_task(void *ctx, int task, int worker)
{
    many_job *mj = ctx;
    pass_job *job = &mj->job;
    pass *ps = job->ps;
    const pass_data *d = job->d;
    pass_worker *wk = &ps->w[worker];
    int K = mj->K, nc = ps->ncols + 1, c = task / mj->groups, grp = task % mj->groups;
    int k0 = (int)((long)K * grp / mj->groups), k1 = (int)((long)K * (grp + 1) / mj->groups);
    size_t sz = (size_t)nc * (size_t)nc, first = (size_t)c * job->chunk;
    size_t last = first + job->chunk < d->m ? first + job->chunk : d->m;
    int fused = job->kernel && ps->loss == NLSQ_LOSS_LINEAR && !d->omit_nonfinite && job->fold;
    size_t nu = (size_t)(ps->prog->nuniform ? ps->prog->nuniform : 1);
    pass_many_state *st = mj->state + (size_t)worker * (size_t)K;
    for (int k = k0; k < k1; k++) {
        double *R = job->fold ? ps->many_R + ((size_t)c * (size_t)K + (size_t)k) * sz : NULL;
        if (R) memset(R, 0, sz * sizeof *R);
        st[k].cost = st[k].chi2 = (nk_ksum){0, 0};
        st[k].bad = 0;
        st[k].a = (jit_chunk){NULL, 0, NULL, NULL, d->sigma_all, 0, 0, R, wk->block, wk->jit_x, 0, 0, 0, 0, 0};
    }
    int failed = 0;
    for (size_t w = first; w < last; w += PASS_WINDOW) {
        size_t count = last - w < PASS_WINDOW ? last - w : PASS_WINDOW;
        pass_view v;
        if (d->read(d->ctx, c, w, count, worker, &v) != 0) {
            failed = 1;
            break;
        }
        for (int k = k0; k < k1; k++) {
            const double *u = job->kernel ? ps->many_u + (size_t)k * nu : NULL;
            if (fused) {
                jit_chunk *a = &st[k].a;
                a->x = v.x;
                a->stride = v.stride;
                a->y = v.y;
                a->sigma = v.sigma;
                a->first = w - v.base;
                a->last = a->first + count;
                job->kernel->chunk_linear(u, a);
                continue;
            }
            if (!job->kernel) interp_uniform(&wk->it, mj->pm->params + (size_t)k * mj->np);
            double *R = job->fold ? ps->many_R + ((size_t)c * (size_t)K + (size_t)k) * sz : NULL;
            window_blocks(job, wk, u, &v, w, count, R, &st[k].cost, &st[k].chi2, &st[k].bad, NULL);
        }
        if (d->release) d->release(d->ctx, w, count, worker);
    }
    for (int k = k0; k < k1; k++) {
        pass_many_sums *out = &mj->sums[(size_t)c * (size_t)K + (size_t)k];
        if (fused) {
            st[k].cost = (nk_ksum){st[k].a.cost, st[k].a.cost_comp};
            st[k].chi2 = (nk_ksum){st[k].a.chi2, st[k].a.chi2_comp};
            st[k].bad = st[k].a.bad;
        }
        out->cost = st[k].cost;
        out->chi2 = st[k].chi2;
        out->bad = st[k].bad;
        out->failed = failed; /* each cell is one task's */
    }
}

/* pass_run_many's tree nodes: a chunk's K triangles and K sums. */
typedef struct many_tree {
    pass *ps;
    int K, fold;
    size_t sz;
    pass_many_sums *sums;
} many_tree;

static void many_merge(void *ctx, int into, int from)
{
    many_tree *t = ctx;
    size_t K = (size_t)t->K;
    for (size_t k = 0; k < K; k++) {
        pass_many_sums *a = &t->sums[(size_t)into * K + k];
        const pass_many_sums *b = &t->sums[(size_t)from * K + k];
        ksum_merge(&a->cost, &b->cost);
        ksum_merge(&a->chi2, &b->chi2);
        a->bad += b->bad;
        a->failed |= b->failed;
        if (t->fold)
            qr_merge(t->ps->many_R + ((size_t)into * K + k) * t->sz, t->ps->many_R + ((size_t)from * K + k) * t->sz,
                     t->ps->ncols + 1, t->ps->merge_work);
    }
}

static void many_pack(void *ctx, int at, void *buf)
{
    many_tree *t = ctx;
    size_t K = (size_t)t->K, rb = t->fold ? K * t->sz * sizeof(double) : 0;
    if (rb) memcpy(buf, t->ps->many_R + (size_t)at * K * t->sz, rb);
    memcpy((char *)buf + rb, &t->sums[(size_t)at * K], K * sizeof *t->sums);
}

static void many_unpack(void *ctx, int at, const void *buf)
{
    many_tree *t = ctx;
    size_t K = (size_t)t->K, rb = t->fold ? K * t->sz * sizeof(double) : 0;
    if (rb) memcpy(t->ps->many_R + (size_t)at * K * t->sz, buf, rb);
    memcpy(&t->sums[(size_t)at * K], (const char *)buf + rb, K * sizeof *t->sums);
}

static void many_task(void *ctx, int task, int worker)
{
    many_chunk_task(ctx, task, worker);
}

void pass_run_many(pass *ps, const pass_data *d, pass_many *pm)
{
    int nc = ps->ncols + 1, K = pm->K;
    size_t sz = (size_t)nc * (size_t)nc, chunk = pass_chunk_points(d->m);
    int nchunks = (int)((d->m + chunk - 1) / chunk);
    pm->read_failed = pm->nomem = 0;
    for (int k = 0; k < K; k++) {
        pm->cost[k] = pm->chi2[k] = 0;
        pm->nonfinite[k] = 0;
        if (!pm->no_triangle) memset(pm->R + (size_t)k * sz, 0, sz * sizeof *pm->R);
    }
    if (nchunks == 0 || K == 0) return;
    size_t node_bytes = (size_t)K * ((pm->no_triangle ? 0 : sz * sizeof(double)) + sizeof(pass_many_sums));
    /* (whether this sweep grows the buffers depends on the process's
       thread count too: a group agrees on every sweep, one small round
       next to a round of K vectors) */
    int nomem = ensure_many(ps, nchunks, K, !pm->no_triangle) != 0 || ensure_node_buf(ps, node_bytes) != 0;
    if (group_nomem(ps, 1, GROUP_TAG_AGREE + 5, &nomem) != 0) {
        pm->read_failed = 1;
        for (int k = 0; k < K; k++) pm->cost[k] = NAN, pm->nonfinite[k] = 1;
        return;
    }
    if (nomem) {
        pm->nomem = 1;
        for (int k = 0; k < K; k++) pm->cost[k] = NAN, pm->nonfinite[k] = 1;
        return;
    }
    const jit_kernel *kernel = jit_kernel_ready(ps->jit);
    size_t nu = (size_t)(ps->prog->nuniform ? ps->prog->nuniform : 1);
    for (int k = 0; kernel && k < K; k++) kernel->uniform(pm->params + (size_t)k * pm->np, ps->many_u + (size_t)k * nu);
    ps->passes++;
    ps->jit_passes += kernel != NULL;
    ps->last_jit = kernel != NULL;
    ps->multi_evals += K;
    int lo, hi;
    pass_span(ps, nchunks, &lo, &hi);
    /* fewer chunks than threads (small data): the vectors are split into
       groups as well, each task one chunk and one group; a vector's
       arithmetic is the same in any task */
    int mine = hi - lo;
    int groups = mine >= ps->nworkers || mine == 0 ? 1 : (ps->nworkers + mine - 1) / mine;
    if (groups > K) groups = K;
    many_job mj = {{ps, d, NULL, 0, !pm->no_triangle, chunk, kernel, 0, 0}, pm, K, groups, pm->np, ps->many_sums,
                   (pass_many_state *)((pass_many_sums *)ps->many_sums + (size_t)nchunks * (size_t)K)};
    run_span(ps, many_task, &mj, lo * groups, hi * groups);
    many_tree t = {ps, K, !pm->no_triangle, sz, mj.sums};
    tree_ops ops = {&t, node_bytes, many_merge, many_pack, many_unpack};
    if (tree_merge(&ops, nchunks, ps->group, ps->spans, GROUP_TAG_MANY, ps->node_buf) != 0) {
        pm->read_failed = 1;
        for (int k = 0; k < K; k++) pm->cost[k] = NAN, pm->nonfinite[k] = 1;
        return;
    }
    for (int k = 0; k < K; k++) {
        const pass_many_sums *s = &mj.sums[k];
        pm->cost[k] = s->cost.sum + s->cost.comp;
        pm->chi2[k] = s->chi2.sum + s->chi2.comp;
        pm->nonfinite[k] = s->bad;
        pm->read_failed |= s->failed;
        if (!pm->no_triangle) memcpy(pm->R + (size_t)k * sz, ps->many_R + (size_t)k * sz, sz * sizeof *pm->R);
    }
}
