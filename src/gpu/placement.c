/*
 * Where a fit's passes run — the CPU, one CUDA device or all of them — and
 * how its data get there: through the caller's pass_data (which may check
 * them on the way, as a first CPU pass does), chunk by chunk on the pass's
 * threads.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"

/*
 * Below this many points "auto" keeps a fit on the CPU. Measured on an
 * H100 against its host's 16 cores (bench/gpu/run.sh, crossover step),
 * with the device's context already made by an earlier fit in the
 * process: the GPU fit takes about 1 ms whatever the size up to 10^5
 * points, and equals the CPU at 10^4 points (exponential decay) and 3000
 * (three Gaussians); from 3*10^4 the GPU is faster for every reference
 * model. The first GPU fit of a process also makes the context, which
 * costs a few hundred milliseconds on common drivers (not measured here):
 * the CPU on all cores fits 10^7 points of a small model in about that
 * time, so a process's first fit goes to the GPU only from there.
 */
#define GPU_AUTO_MIN_POINTS_WARM 30000
#define GPU_AUTO_MIN_POINTS_COLD 10000000

static int parse_ordinal(const char *s)
{
    if (!*s) return -1;
    int n = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || n > 1000) return -1;
        n = n * 10 + (*s - '0');
    }
    return n;
}

/* The chosen devices' description for the result's device_note. */
static void describe(const gpu_group *g, int count, char *note, size_t note_size)
{
    const gpu_pass *g0 = &g->part[0];
    char where[140], streamed[80] = "";
    if (count == 1)
        snprintf(where, sizeof where, "%.100s", g0->name);
    else
        snprintf(where, sizeof where, "%d GPUs (%.80s, ...), a share of the points each", count, g0->name);
    if (g0->streaming)
        snprintf(streamed, sizeof streamed, ", data streamed in %zu segments of up to %zu points a pass", g->segments,
                 g0->cap);
    snprintf(note, note_size, "%s, %s%s, kernel %.40s", where, g0->float32 ? "float32 data and Jacobian" : "float64",
             streamed, g0->note);
}

int gpu_place(const char *requested, const gpu_pass_spec *spec, gpu_group *g, char *device, size_t device_size,
              char *note, size_t note_size, char *why, size_t why_size)
{
    const char *name = requested ? requested : getenv("NLSQ_DEVICE");
    if (!name || !*name) name = "auto";
    int is_auto = strcmp(name, "auto") == 0, all = strcmp(name, "cuda:all") == 0, ordinal = 0;
    snprintf(device, device_size, "cpu");
    if (strcmp(name, "cpu") == 0) return 0;
    if (!is_auto && !all && strcmp(name, "cuda") != 0) {
        ordinal = strncmp(name, "cuda:", 5) == 0 ? parse_ordinal(name + 5) : -1;
        if (ordinal < 0) {
            snprintf(why, why_size, "device '%.40s': expected auto, cpu, cuda, cuda:N or cuda:all", name);
            return -1;
        }
    }
    if (is_auto) {
        int warm = cuda_context_exists(0);
        size_t least = warm ? GPU_AUTO_MIN_POINTS_WARM : GPU_AUTO_MIN_POINTS_COLD;
        if (spec->m < least) {
            snprintf(note, note_size, "auto: fewer than %zu points run on the CPU%s", least,
                     warm ? "" : " (the GPU's context is not made yet in this process)");
            return 0;
        }
    }
    char reason[200];
    cuda_device_info dev[16];
    int n = cuda_devices(dev, 16, reason, sizeof reason);
    if (n < 0) {
        if (is_auto) {
            snprintf(note, note_size, "no CUDA device: %s", reason);
            return 0;
        }
        snprintf(why, why_size, "device %s: %s", name, reason);
        return -1;
    }
    if (ordinal >= n) {
        snprintf(why, why_size, "device %s: this machine has %d CUDA device%s (cuda:0%s)", name, n, n == 1 ? "" : "s",
                 n == 1 ? "" : " ...");
        return -1;
    }
    /* cuda:all: every device, each holding a contiguous share of the points */
    int ordinals[GPU_MAX_DEVICES], count = all ? (n < GPU_MAX_DEVICES ? n : GPU_MAX_DEVICES) : 1;
    for (int k = 0; k < count; k++) ordinals[k] = dev[all ? k : ordinal].ordinal;
    gpu_pass_spec gs = *spec;
    gs.stream_unit = count == 1 ? pass_chunk_points(spec->m) : 0;
    if (gpu_group_open(g, &gs, ordinals, count, reason, sizeof reason) != 0) {
        gpu_group_close(g);
        if (is_auto) {
            snprintf(note, note_size, "cuda:%d not used: %s", ordinal, reason);
            return 0;
        }
        snprintf(why, why_size, "device %s: %s", name, reason);
        return -1;
    }
    if (count == 1)
        snprintf(device, device_size, "cuda:%d", ordinals[0]);
    else
        snprintf(device, device_size, "cuda:all");
    describe(g, count, note, note_size);
    return 1;
}

/* Windows read in place (caller arrays, mapped files: nothing copied, so
   they stay valid after the next read) that lie side by side go in one
   copy of up to UPLOAD_RUN points, as each copy has a fixed cost. */
#define UPLOAD_RUN ((size_t)1 << 22)

typedef struct upload_job {
    gpu_group *g;
    const pass_data *pd;
    size_t m_total, chunk;
    int first_chunk; /* task k uploads chunk first_chunk + k */
    int in_place;
    const char *read_why;
    pthread_mutex_t lock;
    int failed_chunk; /* the lowest chunk that failed, or -1 */
    int failure;      /* its GPU_UPLOAD_* */
    char why[400];
} upload_job;

static void upload_failed(upload_job *job, int chunk, int failure, const char *why)
{
    pthread_mutex_lock(&job->lock);
    if (job->failed_chunk < 0 || chunk < job->failed_chunk) {
        job->failed_chunk = chunk;
        job->failure = failure;
        snprintf(job->why, sizeof job->why, "%s", why);
    }
    pthread_mutex_unlock(&job->lock);
}

/* Whether window v at point first continues the pending run (p, from
   point pfirst, pcount points) in memory, column by column. */
static int continues(const pass_view *p, size_t pfirst, size_t pcount, const pass_view *v, size_t first, int nvars)
{
    size_t plo = pfirst - p->base + pcount, lo = first - v->base;
    for (int k = 0; k < nvars; k++)
        if (p->x + (size_t)k * p->stride + plo != v->x + (size_t)k * v->stride + lo) return 0;
    if (p->y + plo != v->y + lo) return 0;
    return p->sigma ? v->sigma && p->sigma + plo == v->sigma + lo : !v->sigma;
}

/* Upload points [first, first+count) as the view v holds them, then hand
   them back to the reader. */
static int upload_range(upload_job *job, int worker, const pass_view *v, size_t first, size_t count, char *why,
                        size_t why_size)
{
    if (!count) return 0;
    if (gpu_group_upload(job->g, v, first, count, worker, why, why_size) != 0) return -1;
    if (job->pd->release) job->pd->release(job->pd->ctx, first, count, worker);
    return 0;
}

static void upload_chunk(void *ctx, int task, int worker)
{
    upload_job *job = ctx;
    int chunk = job->first_chunk + task;
    size_t lo = (size_t)chunk * job->chunk, hi = lo + job->chunk < job->m_total ? lo + job->chunk : job->m_total;
    size_t pfirst = 0, pcount = 0;
    pass_view run = {0};
    char why[400];
    for (size_t first = lo; first < hi; first += PASS_WINDOW) {
        size_t count = hi - first < PASS_WINDOW ? hi - first : PASS_WINDOW;
        pass_view v;
        if (job->pd->read(job->pd->ctx, chunk, first, count, worker, &v) != 0) {
            upload_failed(job, chunk, GPU_UPLOAD_READ_FAILED, job->read_why);
            return;
        }
        if (!job->in_place) { /* a copied window is gone at the next read: now */
            if (upload_range(job, worker, &v, first, count, why, sizeof why) != 0) {
                upload_failed(job, chunk, GPU_UPLOAD_COPY_FAILED, why);
                return;
            }
            continue;
        }
        if (pcount && pcount < UPLOAD_RUN && continues(&run, pfirst, pcount, &v, first, job->g->part[0].nvars)) {
            pcount += count;
            continue;
        }
        if (upload_range(job, worker, &run, pfirst, pcount, why, sizeof why) != 0) {
            upload_failed(job, chunk, GPU_UPLOAD_COPY_FAILED, why);
            return;
        }
        run = v;
        pfirst = first;
        pcount = count;
    }
    if (upload_range(job, worker, &run, pfirst, pcount, why, sizeof why) != 0)
        upload_failed(job, chunk, GPU_UPLOAD_COPY_FAILED, why);
}

int gpu_group_upload_chunks(gpu_group *g, const pass_data *pd, pool *threads, size_t m_total, int in_place, int c0,
                            int c1, const char *read_why, char *why, size_t why_size)
{
    upload_job job = {g,  pd, m_total, pass_chunk_points(m_total), c0, in_place, read_why, PTHREAD_MUTEX_INITIALIZER,
                      -1, 0,  ""};
    pool_run(threads, upload_chunk, &job, c1 - c0);
    pthread_mutex_destroy(&job.lock);
    if (job.failed_chunk < 0) return 0;
    snprintf(why, why_size, "%s", job.why);
    return job.failure;
}
