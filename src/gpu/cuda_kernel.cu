/*
 * The fixed part of every CUDA pass kernel, compiled at run time by NVRTC
 * (the library carries this file as a string; src/gpu/cuda_source.c puts
 * the numeric core of src/kernel/ in front of it and the model's
 * per-point code at the marker, from the same scheduled program and the
 * same per-op forms as the CPU kernels).
 *
 * One thread block folds a contiguous range of points into an upper
 * triangle R_aug. Within the block each warp folds its own tiles: each
 * lane evaluates its points (model, Jacobian), weights them (sigma,
 * robust loss, nan_policy omit) into rows of [J | r] held in registers,
 * and the warp folds the tile into its own triangle by Householder
 * reflections whose dot products are reduced with shuffles. At the end
 * the warps' triangles are merged pairwise in a fixed tree. Nothing is
 * summed with atomics: every sum has one order, so a pass gives the same
 * bits on every run. The blocks' triangles, costs and counts go back to
 * the host, which merges them in a fixed tree (qr_merge), as the CPU
 * merges its chunks.
 *
 * Defined before this text: NLSQ_NCOLS (free parameters), NLSQ_NVARS,
 * and NLSQ_FLOAT32 for float32 data.
 */
#define NLSQ_NC (NLSQ_NCOLS + 1)
/* 8 warps a block where their triangles fit in 48 kB of shared memory
   with room to spare, else 4 (cuda_pass.c computes the same) */
#ifdef NLSQ_TPB_TUNED /* NLSQ_CUDA_TUNE, for bench/gpu's sweeps */
#define NLSQ_TPB NLSQ_TPB_TUNED
#else
#define NLSQ_TPB (NLSQ_NC <= 24 ? 256 : 128)
#endif
/* the data's type in memory: float with NLSQ_FLOAT32, else double. The
   Jacobian is then computed in float; the model's value, the residual
   and every sum stay double (model_value, below). */
#ifdef NLSQ_FLOAT32
typedef float NLSQ_DATA;
#else
typedef double NLSQ_DATA;
#endif
#define NLSQ_WARPS (NLSQ_TPB / 32)

/* ---- scalar ops: src/kernel/scalar.h ------------------------------------------- */

/* the per-point code's type: a macro, as model_value is emitted with
   double for it while model_point has the data's type */
#define V NLSQ_DATA
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (double)(v))
#define VSPLAT(s) ((V)(s))
#define VBOOL(m) ((m) ? 1.0 : 0.0)
#define VSEL(m, a, b) ((m) ? (a) : (b))
#define VM(name) name
#define VM2(name) name

#define V_SQRT(a) sqrt(a)
#define V_ABS(a) fabs(a)
#define V_FLOOR(a) floor(a)
#define V_CEIL(a) ceil(a)
#define V_SIGN(a) nk_sign(a)
#define V_MIN(a, b) nk_min(a, b)
#define V_MAX(a, b) nk_max(a, b)
#define V_LGAMMA(a) lgamma(a)
#define V_TGAMMA(a) tgamma(a)
#define V_DIGAMMA(a) nk_digamma(a)
#define V_FADDEEVA_RE(a, b) nk_faddeeva_re(a, b)
#define V_FADDEEVA_IM(a, b) nk_faddeeva_im(a, b)
#define V_POWI(a, k) nk_powi(a, k)

/* @MODEL@ */

/* ---- reductions in a fixed order ---------------------------------------------------- */

__device__ __forceinline__ double warp_sum(double v)
{
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    return v; /* lane 0 holds the warp's sum */
}

/* The sum over the block's threads of v, the same bits every time: warps
   by shuffles, then the warps' sums in order by thread 0. Every thread
   gets the result. */
__device__ double block_sum(double v, double *scratch)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (threadIdx.x == 0) {
        double s = 0;
        for (int w = 0; w < NLSQ_WARPS; w++) s += scratch[w];
        scratch[NLSQ_WARPS] = s;
    }
    __syncthreads();
    return scratch[NLSQ_WARPS];
}

/* ---- the fold of a tile into a warp's triangle ------------------------------------ */

/*
 * Each warp folds its own points into its own triangle, with nothing but
 * shuffles between its lanes: no block-wide barrier in the hot loop. A
 * tile is 32 * NLSQ_K rows of [J | r]; lane l holds rows l, l + 32, ...
 * in registers (a[r][c]), so a column's dot product is NLSQ_K local
 * multiply-adds and one 5-step shuffle reduction, whatever the tile's
 * height: the shuffles are spread over NLSQ_K points.
 *
 * R: the warp's triangle in shared memory, column-major (R[k * NLSQ_NC + j]
 * is row j, column k). Column j's Householder reflection maps
 * [R_jj; a(:, j)] onto [alpha; 0]; every later column k is updated with
 * d_k = beta (v0 R_jk + a(:, j) . a(:, k)). None of the sums a(:, j) .
 * a(:, k), k >= j (k = j: the squared norm), depends on another, so they
 * are reduced together, step by step: one chain of shuffles per column
 * instead of one per pair of columns. Every lane computes the same
 * scalars from the same broadcast sums; lane 0 writes R. A lane reads
 * the entries of R it needs before the shuffles, which also order lane
 * 0's writes after those reads.
 */
#ifdef NLSQ_K_TUNED
#define NLSQ_K NLSQ_K_TUNED
#else
#define NLSQ_K (NLSQ_NC <= 6 ? 8 : NLSQ_NC <= 12 ? 4 : NLSQ_NC <= 20 ? 2 : 1)
#endif

__device__ void fold_warp(double (*a)[NLSQ_NC], double *R)
{
    int lane = threadIdx.x & 31;
#pragma unroll
    for (int j = 0; j < NLSQ_NC; j++) {
        double row[NLSQ_NC], dot[NLSQ_NC];
#pragma unroll
        for (int k = j; k < NLSQ_NC; k++) {
            row[k] = R[k * NLSQ_NC + j];
            double local = 0;
#pragma unroll
            for (int r = 0; r < NLSQ_K; r++) local += a[r][j] * a[r][k];
            dot[k] = local;
        }
        /* warp_sum_all of each, side by side: the same order of additions */
#pragma unroll
        for (int off = 16; off > 0; off >>= 1)
#pragma unroll
            for (int k = j; k < NLSQ_NC; k++) dot[k] += __shfl_down_sync(0xffffffffu, dot[k], off);
#pragma unroll
        for (int k = j; k < NLSQ_NC; k++) dot[k] = __shfl_sync(0xffffffffu, dot[k], 0);
        double s = dot[j], rjj = row[j];
        if (s == 0) continue; /* nothing below the diagonal: no reflection */
        double norm = sqrt(rjj * rjj + s);
        double alpha = rjj > 0 ? -norm : norm;
        double v0 = rjj - alpha, beta = 2 / (v0 * v0 + s);
#pragma unroll
        for (int k = j + 1; k < NLSQ_NC; k++) {
            double d = beta * (v0 * row[k] + dot[k]);
#pragma unroll
            for (int r = 0; r < NLSQ_K; r++) a[r][k] -= d * a[r][j];
            if (lane == 0) R[k * NLSQ_NC + j] = row[k] - d * v0;
        }
        if (lane == 0) R[j * NLSQ_NC + j] = alpha;
        __syncwarp();
    }
}

/* ---- the pass ------------------------------------------------------------------------ */

__device__ __forceinline__ int all_finite_point(const NLSQ_DATA *x, unsigned long long xstride, unsigned long long i,
                                                double y, double sg)
{
    int ok = isfinite(y) && isfinite(sg);
    for (int k = 0; k < NLSQ_NVARS; k++) ok &= isfinite((double)x[k * xstride + i]) != 0;
    return ok;
}

/* Point i's weighted row [J | r] into row, its cost, chi2 and non-finite
   count into the running sums; an omitted point is a row of zeros. */
__device__ __forceinline__ void point_row(const double *__restrict__ u, const NLSQ_DATA *__restrict__ x,
                                          unsigned long long xstride, const NLSQ_DATA *__restrict__ y,
                                          const NLSQ_DATA *__restrict__ sigma, double sigma_all, unsigned long long i,
                                          int loss, double f_scale, int omit, double *__restrict__ residuals,
                                          double *row, double *cost, double *chi2, double *bad)
{
    model_point(u, x, xstride, i, row);
#ifdef NLSQ_FLOAT32
    model_value(u, x, xstride, i, row + NLSQ_NCOLS);
#endif
    double sg = sigma ? (double)sigma[i] : sigma_all, w = 1.0 / sg, yi = (double)y[i];
    double r = w * (row[NLSQ_NCOLS] - yi);
    if (omit && !all_finite_point(x, xstride, i, yi, sg)) {
        for (int c = 0; c < NLSQ_NC; c++) row[c] = 0;
        if (residuals) residuals[i] = nan("");
        return;
    }
    *chi2 += r * r;
    double s = 1;
    if (loss == NK_LOSS_LINEAR)
        *cost += 0.5 * r * r;
    else
        s = nk_loss_scale_row(loss, f_scale, &r, cost); /* src/kernel/loss.h */
    if (residuals) residuals[i] = r;
    int nonfinite = !isfinite(r);
    for (int c = 0; c < NLSQ_NCOLS; c++) {
        row[c] *= s * w;
        nonfinite |= !isfinite(row[c]);
    }
    row[NLSQ_NCOLS] = r;
    *bad += nonfinite;
}

/*
 * Points [b * per_block, (b + 1) * per_block) of m for block b: the
 * block's warps take its tiles in turn (warp w: tiles w, w + WARPS, ...),
 * then their triangles are merged into warp 0's.
 * sigma may be NULL (then sigma_all for every point); residuals, if not
 * NULL, get the weighted (loss-scaled) residual of every point (NaN where
 * omitted). out_R gets the block's triangle (zeros with no_triangle: the
 * sums alone), out_sums its cost, chi2 and the count of rows with
 * non-finite entries. Every kernel below is this one body. Not marked
 * __forceinline__: under tests/emulator that makes it a C++ inline
 * function, whose static (__shared__) arrays become one GNU-unique symbol
 * across every loaded kernel module, of whichever module's size came
 * first. nvcc inlines it anyway (sm_90: nlsq_pass's registers as before).
 */
__device__ void pass_block(const double *__restrict__ u, const NLSQ_DATA *__restrict__ x, unsigned long long xstride,
                           const NLSQ_DATA *__restrict__ y, const NLSQ_DATA *__restrict__ sigma, double sigma_all,
                           unsigned long long m, unsigned long long per_block, int loss, double f_scale, int omit,
                           double *__restrict__ residuals, unsigned long long b, int no_triangle,
                           double *__restrict__ out_R, double *__restrict__ out_sums)
{
    __shared__ double R[NLSQ_WARPS][NLSQ_NC * NLSQ_NC];
    __shared__ double scratch[NLSQ_WARPS + 1];
    int t = threadIdx.x, lane = t & 31, warp = t >> 5;
    for (int i = lane; i < NLSQ_NC * NLSQ_NC; i += 32) R[warp][i] = 0;
    __syncwarp();
    double cost = 0, chi2 = 0, bad = 0;
    unsigned long long first = b * per_block;
    unsigned long long last = first + per_block < m ? first + per_block : m;
    const unsigned long long tile = 32ull * NLSQ_K;
    for (unsigned long long base = first + warp * tile; base < last; base += NLSQ_WARPS * tile) {
        double a[NLSQ_K][NLSQ_NC];
#pragma unroll
        for (int r = 0; r < NLSQ_K; r++) {
            unsigned long long i = base + (unsigned long long)r * 32 + lane;
#pragma unroll
            for (int c = 0; c < NLSQ_NC; c++) a[r][c] = 0;
            if (i < last)
                point_row(u, x, xstride, y, sigma, sigma_all, i, loss, f_scale, omit, residuals, a[r], &cost, &chi2,
                          &bad);
        }
        if (!no_triangle) fold_warp(a, R[warp]); /* uniform over the block */
    }
    /* the warps' triangles merged pairwise, (0,1) (2,3) ..., then (0,2)
       ...: warp w folds warp w + step's triangle, row by row (lane l < NC
       holds row l), into its own */
    for (int step = 1; step < NLSQ_WARPS; step *= 2) {
        __syncthreads();
        if (warp % (2 * step) == 0 && warp + step < NLSQ_WARPS) {
            double a[NLSQ_K][NLSQ_NC];
#pragma unroll
            for (int r = 0; r < NLSQ_K; r++)
#pragma unroll
                for (int c = 0; c < NLSQ_NC; c++)
                    a[r][c] = r == 0 && lane < NLSQ_NC && c >= lane ? R[warp + step][c * NLSQ_NC + lane] : 0;
            fold_warp(a, R[warp]);
        }
    }
    double total_cost = block_sum(cost, scratch);
    double total_chi2 = block_sum(chi2, scratch);
    double total_bad = block_sum(bad, scratch);
    __syncthreads();
    for (int i = t; i < NLSQ_NC * NLSQ_NC; i += NLSQ_TPB) out_R[i] = R[0][i];
    if (t == 0) {
        out_sums[0] = total_cost;
        out_sums[1] = total_chi2;
        out_sums[2] = total_bad;
    }
}

/* One parameter vector: block b folds its points into out_R's b-th
   triangle and out_sums' b-th three sums. */
extern "C" __global__ void __launch_bounds__(NLSQ_TPB)
    nlsq_pass(const double *__restrict__ u, const NLSQ_DATA *__restrict__ x, unsigned long long xstride,
              const NLSQ_DATA *__restrict__ y, const NLSQ_DATA *__restrict__ sigma, double sigma_all,
              unsigned long long m, unsigned long long per_block, int loss, double f_scale, int omit,
              double *__restrict__ residuals, double *__restrict__ out_R, double *__restrict__ out_sums)
{
    unsigned long long b = blockIdx.x;
    pass_block(u, x, xstride, y, sigma, sigma_all, m, per_block, loss, f_scale, omit, residuals, b, 0,
               out_R + b * NLSQ_NC * NLSQ_NC, out_sums + 3 * b);
}

/*
 * K parameter vectors over the same resident data in one launch (the
 * global search's shared pass): nblocks x K blocks. Launch order puts
 * the K vectors of one range of points side by side (cell = b * K + v),
 * so blocks that run at about the same time read the same points, which
 * the L2 cache can then serve after the first (not measured on a GPU).
 * Block (b, v) is nlsq_pass's
 * block b at vector v, whose uniform registers are U[v * ustride ...],
 * and writes triangle v * nblocks + b (vector by vector), so vector v's
 * triangles and sums are bitwise those of a one-vector pass at it,
 * whatever K and the scheduling.
 */
extern "C" __global__ void __launch_bounds__(NLSQ_TPB)
    nlsq_pass_many(const double *__restrict__ U, unsigned long long ustride, unsigned long long nblocks,
                   unsigned long long nvec, int no_triangle, const NLSQ_DATA *__restrict__ x,
                   unsigned long long xstride, const NLSQ_DATA *__restrict__ y, const NLSQ_DATA *__restrict__ sigma,
                   double sigma_all, unsigned long long m, unsigned long long per_block, int loss, double f_scale,
                   int omit, double *__restrict__ out_R, double *__restrict__ out_sums)
{
    unsigned long long b = blockIdx.x / nvec, v = blockIdx.x % nvec, out = v * nblocks + b;
    pass_block(U + v * ustride, x, xstride, y, sigma, sigma_all, m, per_block, loss, f_scale, omit, (double *)0, b,
               no_triangle, out_R + out * NLSQ_NC * NLSQ_NC, out_sums + 3 * out);
}
