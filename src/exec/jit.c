/*
 * Compile, cache and load generated kernels.
 *
 * A kernel is named by a key: a 128-bit hash of its source, the
 * compiler's identity (resolved path, size and modification time: no
 * process is started to ask its version), the flags, the CPU and the
 * code generator's version. Kernels live in $XDG_CACHE_HOME/nlsq (or
 * ~/.cache/nlsq), a directory of mode 0700 that we own, as KEY.so. They
 * are built under temporary names (KEY.so.tmp-HOST-PID-XXXXXX, with .c
 * and .log for the source and the compiler's complaint; registered, so
 * that the command's SIGINT/SIGTERM handler removes them) and renamed into
 * place, so a reader sees a whole file or none, and two processes building
 * the same kernel both succeed (the last rename wins; the files are the
 * same).
 *
 * Loading a shared object runs its constructors, so a file is checked
 * before it is loaded, from its bytes: a built kernel is sealed with a
 * trailer (after the ELF contents, where the loader never looks) holding
 * its key and a 128-bit checksum of its bytes and key. A file without the
 * trailer of this key (corrupt, foreign, planted, or from an older nlsq)
 * is removed and rebuilt, never loaded; the path must still name the file
 * checked once it is loaded. The loaded kernel must carry its key too.
 *
 * Nothing here may fail a fit: every failure leaves a note and the
 * interpreter carries on.
 */
#define _GNU_SOURCE /* mkostemps, pipe2 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "core/core.h"
#include "jit.h"

extern char **environ;

/* A compiler that runs longer than this is stopped; the fit goes on. */
#define COMPILE_TIMEOUT_S 120

static void note(jit_entry *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void note(jit_entry *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->note, sizeof e->note, fmt, ap);
    va_end(ap);
}

static double now_ms(void)
{
    return host_seconds() * 1e3;
}

/* ---- the key ------------------------------------------------------------ */

/* ---- the compiler and its flags ------------------------------------------ */

#define MAX_CC_WORDS 8

typedef struct compiler {
    char *words[MAX_CC_WORDS + 1]; /* $NLSQ_CC split at white space, else "cc" */
    int nwords;
    char path[PATH_MAX]; /* words[0] found on PATH                  */
    char identity[PATH_MAX + 64];
    char buf[512];
} compiler;

static int find_on_path(const char *name, char *out, size_t size)
{
    if (strchr(name, '/')) {
        if (access(name, X_OK) != 0) return -1;
        snprintf(out, size, "%s", name);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > 0 && (size_t)snprintf(out, size, "%.*s/%s", (int)len, path, name) < size && access(out, X_OK) == 0) {
            struct stat st;
            if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return 0;
        }
        path += len;
        if (*path == ':') path++;
    }
    return -1;
}

static int compiler_find(compiler *cc, jit_entry *e)
{
    const char *env = getenv("NLSQ_CC");
    snprintf(cc->buf, sizeof cc->buf, "%s", env && *env ? env : "cc");
    cc->nwords = 0;
    char *save = NULL;
    for (char *s = strtok_r(cc->buf, " \t", &save); s && cc->nwords < MAX_CC_WORDS; s = strtok_r(NULL, " \t", &save))
        cc->words[cc->nwords++] = s;
    cc->words[cc->nwords] = NULL;
    if (cc->nwords == 0 || find_on_path(cc->words[0], cc->path, sizeof cc->path) != 0) {
        note(e, "no C compiler: '%s' not found%s", cc->nwords ? cc->words[0] : "",
             env && *env ? " (NLSQ_CC)" : " on PATH (set NLSQ_CC)");
        return -1;
    }
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(cc->path, real)) snprintf(real, sizeof real, "%s", cc->path);
    if (stat(real, &st) != 0) memset(&st, 0, sizeof st);
    snprintf(cc->identity, sizeof cc->identity, "%s:%lld:%lld", real, (long long)st.st_size, (long long)st.st_mtime);
    return 0;
}

/* The flags after the compiler's own words. -ffp-contract=off, no
   -ffast-math and -fno-builtin (no compile-time libm): the kernel must
   compute the interpreter's arithmetic, bit for bit. */
static const char *const FLAGS[] = {
    "-std=gnu11",
    "-O2",
    "-pipe",
    "-fno-asynchronous-unwind-tables",
    "-fPIC",
    "-shared",
    "-ffp-contract=off",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-fno-builtin",
    "-fvisibility=hidden",
    "-w",
    NULL,
};

/* The instruction set: AVX2 for the 4-lane kernels (what libmvec's "d"
   variants need), the baseline otherwise. Not -march=native: a kernel
   must not use more than the interpreter was checked for (AVX-512 would
   also stop valgrind, which does not know it). */
static const char *const ARCH_AVX2[] = {"-mavx2", "-mfma", NULL};
static const char *const ARCH_BASE[] = {NULL};

static const char *const *arch_flags(int width)
{
    return width == 4 ? ARCH_AVX2 : ARCH_BASE;
}

static void cpu_identity(char *buf, size_t size)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned r[12] = {0}, top = __get_cpuid_max(0x80000000u, NULL);
    if (top >= 0x80000004u) {
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
    }
    unsigned a = 0, b = 0, c = 0, d = 0, c7 = 0, b7 = 0, d7 = 0, a7 = 0;
    __get_cpuid(1, &a, &b, &c, &d);
    if (__get_cpuid_max(0, NULL) >= 7) __cpuid_count(7, 0, a7, b7, c7, d7);
    char brand[49];
    memcpy(brand, r, 48);
    brand[48] = 0;
    snprintf(buf, size, "%s|%x|%x:%x|%x:%x:%x", brand, a, c, d, b7, c7, d7);
#else
    snprintf(buf, size, "%s", "generic");
#endif
}

static void make_key(jit_entry *e, const compiler *cc)
{
    hash128 h = hash128_start();
    char cpu[256], ver[32];
    cpu_identity(cpu, sizeof cpu);
    snprintf(ver, sizeof ver, "codegen %d abi %d", JIT_CODEGEN_VERSION, JIT_ABI);
    hash128_str(&h, ver);
    hash128_str(&h, cc->identity);
    for (int i = 1; i < cc->nwords; i++) hash128_str(&h, cc->words[i]);
    for (int i = 0; FLAGS[i]; i++) hash128_str(&h, FLAGS[i]);
    for (const char *const *a = arch_flags(e->width); *a; a++) hash128_str(&h, *a);
    hash128_str(&h, cpu);
    hash128_str(&h, e->source);
    hash128_hex(&h, e->key);
}

/* ---- the cache directory ----------------------------------------------------- */

static int cache_dir(char *out, size_t size, jit_entry *e)
{
    return cache_directory(out, size, e->note, sizeof e->note);
}

/* ---- loading ----------------------------------------------------------------- */

/* The seal: "NLSQKEY1", the key, and the checksum of the bytes before the
   seal and the key (32 hex digits each). */
#define SEAL_MAGIC "NLSQKEY1"
enum { SEAL_BYTES = 8 + 32 + 32 };
/* No kernel is near this; a larger file is not read, let alone loaded. */
#define KERNEL_MAX_BYTES ((size_t)64 << 20)

static void kernel_sum(const unsigned char *bytes, size_t n, const char *key, char out[33])
{
    hash128 h = hash128_start();
    hash128_bytes(&h, bytes, n);
    hash128_str(&h, key);
    hash128_hex(&h, out);
}

/* The first size bytes of fd in a new buffer, or NULL. */
static unsigned char *read_all(int fd, size_t size)
{
    unsigned char *buf = malloc(size ? size : 1);
    size_t got = 0;
    while (buf && got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)n;
    }
    return buf;
}

/* Seal the compiled file at path with its key; 0, or -1. */
static int seal_kernel(const char *path, const char *key)
{
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    struct stat st;
    unsigned char *buf = NULL;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size < KERNEL_MAX_BYTES &&
             (buf = read_all(fd, (size_t)st.st_size)) != NULL;
    if (ok) {
        char sum[33], seal[SEAL_BYTES + 1];
        kernel_sum(buf, (size_t)st.st_size, key, sum);
        snprintf(seal, sizeof seal, "%s%.32s%.32s", SEAL_MAGIC, key, sum);
        ok = pwrite(fd, seal, SEAL_BYTES, st.st_size) == SEAL_BYTES && fsync(fd) == 0;
    }
    free(buf);
    ok &= close(fd) == 0;
    return ok ? 0 : -1;
}

/* Whether fd (size bytes) ends in the seal of `key` over its bytes. */
static int sealed_with(int fd, size_t size, const char *key)
{
    if (size <= SEAL_BYTES || size > KERNEL_MAX_BYTES) return 0;
    unsigned char *buf = read_all(fd, size);
    if (!buf) return 0;
    const unsigned char *seal = buf + size - SEAL_BYTES;
    char sum[33];
    kernel_sum(buf, size - SEAL_BYTES, key, sum);
    int ok = memcmp(seal, SEAL_MAGIC, 8) == 0 && memcmp(seal + 8, key, 32) == 0 && memcmp(seal + 40, sum, 32) == 0;
    free(buf);
    return ok;
}

/* What one attempt at loading a kernel file gives. */
enum { LOAD_OK = 0, LOAD_FAILED = -1, LOAD_REPLACED = 1 };

/* dlopen path, checked as fd: the file loaded must be the file checked,
   so path must name fd's file (device and inode) after the load too. Not
   through /proc/self/fd: the loader knows objects by name, and a number
   reused while an object loaded under it stays (a second model of the
   same kernel holds it) would name another kernel's file. LOAD_REPLACED
   when another build renamed its (equal) kernel over path meanwhile. */
static int open_checked(jit_entry *e, int fd, const char *path, void **handle)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        note(e, "cannot load the kernel %s: %s", path, why ? why : "?");
        return LOAD_FAILED;
    }
    struct stat checked, loaded;
    if (fstat(fd, &checked) != 0 || stat(path, &loaded) != 0 || checked.st_dev != loaded.st_dev ||
        checked.st_ino != loaded.st_ino) {
        dlclose(h);
        note(e, "ignored %s: replaced while it was being loaded", path);
        return LOAD_REPLACED;
    }
    *handle = h;
    return LOAD_OK;
}

/* One attempt: check the file from its bytes, then dlopen it and check
   it is the kernel we asked for; on success the entry holds the handle.
   A file that fails the checks is removed (with remove_bad). */
static int load_once(jit_entry *e, const char *path, int remove_bad)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT) {
            note(e, "ignored %s: %s", path, strerror(errno));
            if (remove_bad) unlink(path);
        }
        return LOAD_FAILED;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        note(e, "ignored %s: not a regular file of ours", path);
        close(fd);
        if (remove_bad) unlink(path);
        return LOAD_FAILED;
    }
    if (!sealed_with(fd, (size_t)st.st_size, e->key)) {
        note(e,
             "ignored %s: its bytes are not the kernel of this model (corrupt, foreign or older); not loaded, "
             "rebuilding",
             path);
        close(fd);
        if (remove_bad) unlink(path);
        return LOAD_FAILED;
    }
    void *h = NULL;
    int rc = open_checked(e, fd, path, &h);
    close(fd);
    if (rc != LOAD_OK) {
        if (rc == LOAD_FAILED && remove_bad) unlink(path);
        return rc;
    }
    const jit_kernel *k = dlsym(h, "nlsq_jit_kernel_v1");
    if (!k || k->abi != JIT_ABI || !k->key || strcmp(k->key, e->key) != 0 || k->ncols != e->ncols ||
        k->width != e->width || !k->uniform || !k->block || !k->chunk_linear) {
        note(e, "ignored %s: not the kernel of this model (corrupt or foreign); rebuilding", path);
        dlclose(h);
        if (remove_bad) unlink(path);
        return LOAD_FAILED;
    }
    e->handle = h;
    e->kernel = k;
    return LOAD_OK;
}

/* Load the kernel file; 0, or -1 with the note saying why. Two builds of
   one kernel may rename over each other while it loads: tried again. */
static int load_kernel(jit_entry *e, const char *path, int remove_bad)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        int rc = load_once(e, path, remove_bad);
        if (rc != LOAD_REPLACED) return rc == LOAD_OK ? 0 : -1;
    }
    return -1;
}

/* ---- compiling ------------------------------------------------------------------ */

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    ok &= fclose(f) == 0;
    return ok ? 0 : -1;
}

/* The first line of the compiler's complaint, for the note. */
static void first_line(const char *path, char *buf, size_t size)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(buf, (int)size, f)) buf[0] = 0;
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
}

static int run_compiler(jit_entry *e, const compiler *cc, const char *src, const char *so, const char *log)
{
    const char *argv[MAX_CC_WORDS + 24];
    int n = 0;
    for (int i = 0; i < cc->nwords; i++) argv[n++] = cc->words[i];
    for (int i = 0; FLAGS[i]; i++) argv[n++] = FLAGS[i];
    for (const char *const *a = arch_flags(e->width); *a; a++) argv[n++] = *a;
    argv[n++] = "-o";
    argv[n++] = so;
    argv[n++] = src;
    if (e->width == 4) argv[n++] = "-lmvec";
    argv[n++] = "-lm";
    argv[n] = NULL;

    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) return -1;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawn(&pid, cc->path, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        note(e, "cannot run the C compiler %s: %s", cc->path, strerror(rc));
        return -1;
    }
    /* wait, with a limit: a hung compiler must not hang the fit */
    double deadline = now_ms() + COMPILE_TIMEOUT_S * 1e3;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) {
            /* SIGCHLD ignored by the application: judge by the output */
            status = access(so, R_OK) == 0 ? 0 : 1;
            break;
        }
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            note(e, "the C compiler %s took longer than %d s; stopped", cc->path, COMPILE_TIMEOUT_S);
            return -1;
        }
        struct timespec ts = {0, 1000000}; /* 1 ms */
        nanosleep(&ts, NULL);
    }
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        char line[160];
        first_line(log, line, sizeof line);
        note(e, "the C compiler %s failed%s%s", cc->path, line[0] ? ": " : "", line);
        return -1;
    }
    return 0;
}

/* NLSQ_JIT_DUMP=DIR: keep a copy of the generated C for inspection. */
static void dump_source(const jit_entry *e)
{
    const char *dir = getenv("NLSQ_JIT_DUMP");
    if (!dir || !*dir) return;
    char path[PATH_MAX], why[300];
    outfile o;
    if ((size_t)snprintf(path, sizeof path, "%s/nlsq-%s.c", dir, e->key) >= sizeof path ||
        outfile_open(&o, path, why, sizeof why) != 0)
        return;
    if (fputs(e->source, o.f) == EOF)
        outfile_discard(&o);
    else
        outfile_commit(&o, why, sizeof why); /* a copy for inspection: a failure is no one's loss */
}

/* Temporary files of one build, in `dir`, registered for removal on a
   signal: the source (.c: the compiler goes by the suffix), the kernel
   and the compiler's complaint (.log). */
typedef struct build_file {
    char path[PATH_MAX];
    int slot;
} build_file;

typedef struct build_files {
    build_file src, so, log;
} build_files;

static int make_temp(build_file *f, const char *final, const char *suffix)
{
    f->slot = -1;
    size_t n = strlen(suffix);
    if (tempfile_name(final, f->path, sizeof f->path - n) != 0) {
        f->path[0] = 0;
        return -1;
    }
    strcat(f->path, suffix);
    int fd = mkostemps(f->path, (int)n, O_CLOEXEC);
    if (fd < 0) {
        f->path[0] = 0;
        return -1;
    }
    close(fd);
    f->slot = tempfile_register(f->path);
    return 0;
}

static void remove_temp(build_file *f)
{
    if (f->path[0]) unlink(f->path);
    tempfile_release(f->slot);
    f->path[0] = 0;
    f->slot = -1;
}

/* Build the kernel into dir/KEY.so and load it. */
static int build(jit_entry *e, const compiler *cc, const char *dir, int keep)
{
    build_files f = {{{0}, -1}, {{0}, -1}, {{0}, -1}};
    int rc = -1;
    char final[PATH_MAX];
    if ((size_t)snprintf(final, sizeof final, "%s/%s.so", dir, e->key) >= sizeof final) {
        note(e, "the kernel cache path %s is too long", dir);
        return -1;
    }
    tempfile_sweep(final); /* what killed builds of this kernel left */
    if (make_temp(&f.src, final, ".c") != 0 || make_temp(&f.so, final, "") != 0 ||
        make_temp(&f.log, final, ".log") != 0) {
        note(e, "cannot write in the kernel cache %s: %s", dir, strerror(errno));
        goto out;
    }
    if (write_file(f.src.path, e->source) != 0) {
        note(e, "cannot write %s: %s", f.src.path, strerror(errno));
        goto out;
    }
    if (run_compiler(e, cc, f.src.path, f.so.path, f.log.path) != 0) goto out;
    if (seal_kernel(f.so.path, e->key) != 0) {
        note(e, "cannot seal the kernel %s: %s", f.so.path, strerror(errno));
        goto out;
    }
    if (keep) {
        if (rename(f.so.path, final) != 0) {
            note(e, "cannot rename into the kernel cache: %s", strerror(errno));
            goto out;
        }
        f.so.path[0] = 0;
        rc = load_kernel(e, final, 1);
    } else {
        rc = load_kernel(e, f.so.path, 0); /* stays mapped after the unlink below */
    }
out:
    remove_temp(&f.src);
    remove_temp(&f.so);
    remove_temp(&f.log);
    return rc;
}

/* Compile (or find) the entry's kernel; fills the entry. Runs without
   the set's lock: the entry is PENDING and only this code touches it. */
static void compile_entry(jit_entry *e)
{
    double t0 = now_ms();
    compiler cc;
    memset(&cc, 0, sizeof cc);
    if (compiler_find(&cc, e) != 0) return;
    char dir[PATH_MAX];
    jit_entry scratch; /* a failure to use the cache is only a detail */
    memset(&scratch, 0, sizeof scratch);
    if (cache_dir(dir, sizeof dir, &scratch) == 0) {
        if (build(e, &cc, dir, 1) == 0) {
            e->build_ms = now_ms() - t0;
            note(e, "compiled with %s in %.0f ms", cc.path, e->build_ms);
        }
        return;
    }
    /* no usable cache: build in a private temporary directory, not kept */
    const char *tmp = getenv("TMPDIR");
    char tdir[PATH_MAX];
    snprintf(tdir, sizeof tdir, "%s/nlsq-XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp");
    if (!mkdtemp(tdir)) {
        note(e, "%s; and no temporary directory: %s", scratch.note, strerror(errno));
        return;
    }
    if (build(e, &cc, tdir, 0) == 0) {
        e->build_ms = now_ms() - t0;
        note(e, "compiled with %s in %.0f ms, not cached: %s", cc.path, e->build_ms, scratch.note);
    }
    rmdir(tdir);
}

/* The cache alone; 0 when the kernel was there and loaded. */
static int lookup_entry(jit_entry *e)
{
    double t0 = now_ms();
    compiler cc;
    memset(&cc, 0, sizeof cc);
    if (compiler_find(&cc, e) != 0) return -1;
    make_key(e, &cc);
    char dir[PATH_MAX], path[PATH_MAX];
    jit_entry scratch;
    memset(&scratch, 0, sizeof scratch);
    if (cache_dir(dir, sizeof dir, &scratch) != 0) return -1;
    if ((size_t)snprintf(path, sizeof path, "%s/%s.so", dir, e->key) >= sizeof path) return -1;
    char saved[sizeof e->note];
    memcpy(saved, e->note, sizeof saved);
    if (load_kernel(e, path, 1) != 0) {
        memcpy(e->note, saved, sizeof saved); /* a miss is not news */
        return -1;
    }
    e->build_ms = now_ms() - t0;
    e->from_cache = 1;
    note(e, "loaded from the cache in %.2f ms", e->build_ms);
    return 0;
}

/* ---- the set ----------------------------------------------------------------------- */

/* Waits for compiles still running, unloads the kernels. */
static void jit_set_release(model_attachment *a)
{
    jit_set *s = (jit_set *)a;
    jit_entry *e = s->head;
    while (e) {
        jit_entry *next = e->next;
        if (e->has_thread) pthread_join(e->thread, NULL);
        if (e->handle) dlclose(e->handle);
        free(e->source);
        free(e->cols);
        free(e);
        e = next;
    }
    pthread_cond_destroy(&s->done);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* The model's kernel set, attached on first use; NULL when out of memory.
   Two fits may race to attach one: the loser frees its own. */
static jit_set *set_of(const nlsq_model *m)
{
    model_attachment **slot = (model_attachment **)&m->kernels;
    model_attachment *a = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (a) return (jit_set *)a;
    jit_set *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.release = jit_set_release;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return NULL;
    }
    if (pthread_cond_init(&s->done, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    model_attachment *expected = NULL;
    if (__atomic_compare_exchange_n(slot, &expected, &s->base, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return s;
    jit_set_release(&s->base);
    return (jit_set *)expected;
}

/* Publish what a compile found. `work` is the compiling thread's copy of
   the entry, so that readers of the note under the lock never race it. */
static void finish(jit_set *s, jit_entry *e, const jit_entry *work)
{
    pthread_mutex_lock(&s->lock);
    e->kernel = work->kernel;
    e->handle = work->handle;
    e->build_ms = work->build_ms;
    memcpy(e->note, work->note, sizeof e->note);
    e->state = e->kernel ? JIT_READY : JIT_FAILED;
    free(e->source);
    e->source = NULL;
    __atomic_store_n(&e->ready, e->kernel != NULL, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->lock);
}

/* Compile e (PENDING: nobody else writes it) on a copy, then publish. */
static void compile_and_finish(jit_set *s, jit_entry *e)
{
    jit_entry work;
    memset(&work, 0, sizeof work);
    work.source = e->source;
    memcpy(work.key, e->key, sizeof work.key);
    work.cols = e->cols;
    work.ncols = e->ncols;
    work.width = e->width;
    compile_entry(&work);
    finish(s, e, &work);
}

typedef struct thread_arg {
    jit_set *s;
    jit_entry *e;
} thread_arg;

static void *compile_thread(void *arg)
{
    thread_arg a = *(thread_arg *)arg;
    free(arg);
    compile_and_finish(a.s, a.e);
    return NULL;
}

static jit_entry *find_or_add(jit_set *s, const program *p, const int *cols, int ncols, int width)
{
    for (jit_entry *e = s->head; e; e = e->next)
        if (e->ncols == ncols && e->width == width && memcmp(e->cols, cols, (size_t)ncols * sizeof *cols) == 0)
            return e;
    jit_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->cols = malloc((size_t)(ncols ? ncols : 1) * sizeof *cols);
    char *body = codegen_kernel(p, cols, ncols, width);
    if (!e->cols || !body) {
        free(e->cols);
        free(body);
        free(e);
        return NULL;
    }
    memcpy(e->cols, cols, (size_t)ncols * sizeof *cols);
    e->ncols = ncols;
    e->width = width;
    e->source = body; /* the key line goes in front once the key is known */
    e->state = JIT_NONE;
    e->next = s->head;
    s->head = e;
    return e;
}

/* The key covers the body; the finished source names the key. */
static int prepend_key(jit_entry *e)
{
    size_t n = strlen(e->source);
    char *full = malloc(n + 64);
    if (!full) return -1;
    int k = snprintf(full, 64, "#define NLSQ_KEY \"%s\"\n", e->key);
    memcpy(full + k, e->source, n + 1);
    free(e->source);
    e->source = full;
    return 0;
}

jit_entry *jit_get(const nlsq_model *m, const int *cols, int ncols, int width, jit_mode mode)
{
    jit_set *s = set_of(m);
    if (!s) return NULL;
    const program *p = &m->prog;
    pthread_mutex_lock(&s->lock);
    jit_entry *e = find_or_add(s, p, cols, ncols, width);
    if (!e) {
        pthread_mutex_unlock(&s->lock);
        return NULL;
    }
    if (e->state == JIT_NONE && !e->key[0]) {
        /* first sight: the cache, which costs a hash, a stat and a dlopen */
        if (lookup_entry(e) == 0 || (e->key[0] && prepend_key(e) != 0)) {
            e->state = e->kernel ? JIT_READY : JIT_FAILED;
            __atomic_store_n(&e->ready, e->kernel != NULL, __ATOMIC_RELEASE);
            free(e->source);
            e->source = NULL;
        } else if (!e->key[0]) {
            e->state = JIT_FAILED; /* no compiler: the note says so */
        }
    }
    if (e->state == JIT_NONE && mode == JIT_BACKGROUND) {
        thread_arg *a = malloc(sizeof *a);
        e->state = JIT_PENDING;
        if (a) {
            a->s = s;
            a->e = e;
            dump_source(e);
        }
        if (a && pthread_create(&e->thread, NULL, compile_thread, a) == 0) {
            e->has_thread = 1;
        } else {
            free(a);
            e->state = JIT_NONE;
            note(e, "cannot start a thread for the compiler");
        }
    } else if (e->state == JIT_NONE && mode == JIT_WAIT) {
        e->state = JIT_PENDING;
        dump_source(e);
        pthread_mutex_unlock(&s->lock);
        compile_and_finish(s, e);
        pthread_mutex_lock(&s->lock);
    }
    while (mode == JIT_WAIT && e->state == JIT_PENDING) pthread_cond_wait(&s->done, &s->lock);
    pthread_mutex_unlock(&s->lock);
    return e;
}

const jit_kernel *jit_kernel_ready(jit_entry *e)
{
    return e && __atomic_load_n(&e->ready, __ATOMIC_ACQUIRE) ? e->kernel : NULL;
}

void jit_entry_note(const nlsq_model *m, jit_entry *e, char *buf, size_t size)
{
    jit_set *s = set_of(m); /* attached already: e came from it */
    pthread_mutex_lock(&s->lock);
    snprintf(buf, size, "%s", e->note);
    pthread_mutex_unlock(&s->lock);
}

void jit_describe(char *buf, size_t size)
{
    jit_entry scratch;
    compiler cc;
    char dir[PATH_MAX];
    memset(&scratch, 0, sizeof scratch);
    memset(&cc, 0, sizeof cc);
    if (compiler_find(&cc, &scratch) != 0) {
        snprintf(buf, size, "%s: models run on the interpreter", scratch.note);
        return;
    }
    if (cache_dir(dir, sizeof dir, &scratch) != 0)
        snprintf(buf, size, "C compiler %s; %s", cc.path, scratch.note);
    else
        snprintf(buf, size, "C compiler %s; kernels cached in %s", cc.path, dir);
}

static int is_hex_key(const char *name)
{
    for (int i = 0; i < 32; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) return 0;
    return 1;
}

/* The kernels' suffixes: the CPU's in the cache directory, the GPU's in
   its cuda/ (src/gpu/cuda_pass.c). */
static const char *const CPU_SUFFIXES[] = {".so", NULL};
static const char *const GPU_SUFFIXES[] = {".cubin", ".ptx", NULL};

/* KEY<suffix>: 32 hex digits and one of the suffixes. */
static int is_kernel_name(const char *name, const char *const *suffixes)
{
    if (strlen(name) < 33 || !is_hex_key(name)) return 0;
    for (int i = 0; suffixes[i]; i++)
        if (strcmp(name + 32, suffixes[i]) == 0) return 1;
    return 0;
}

/* Older versions built in .KEY-XXXXXX.{c,so,log}; a build that has not
   touched its files for ten minutes (the compiler is stopped after two)
   is over. */
#define LEGACY_BUILD_AGE_S 600

/* A temporary file of a kernel (KEY<suffix>.tmp-...), live or stale;
   TEMP_NONE: not one. */
static temp_state kernel_temp_state(const char *name, const struct stat *st, const char *const *suffixes)
{
    if (name[0] == '.' && strlen(name) > 41 && name[33] == '-')
        return time(NULL) - st->st_mtime > LEGACY_BUILD_AGE_S ? TEMP_STALE : TEMP_LIVE;
    if (strlen(name) < 33 || !is_hex_key(name)) return TEMP_NONE;
    for (int i = 0; suffixes[i]; i++) {
        size_t n = strlen(suffixes[i]);
        if (strncmp(name + 32, suffixes[i], n) == 0 && strncmp(name + 32 + n, ".tmp-", 5) == 0)
            return tempfile_state(name, NULL, st);
    }
    return TEMP_NONE;
}

/* Count (and with clear remove) the kernels of dir and their temporaries;
   a missing dir has none. 0, or -1 with the reason. */
static int scan_kernels(const char *dir, const char *const *suffixes, int clear, nlsq_cache_info *out, char *why,
                        size_t why_size)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        snprintf(why, why_size, "cannot read %s: %s", dir, strerror(errno));
        return -1;
    }
    for (struct dirent *de = readdir(d); de; de = readdir(d)) {
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        int kernel = is_kernel_name(de->d_name, suffixes);
        temp_state t = kernel ? TEMP_NONE : kernel_temp_state(de->d_name, &st, suffixes);
        if (!kernel && (t == TEMP_NONE || (clear && t == TEMP_LIVE))) continue; /* not ours, or running */
        if (clear && unlinkat(dirfd(d), de->d_name, 0) != 0) {
            snprintf(why, why_size, "cannot remove %s/%s: %s", dir, de->d_name, strerror(errno));
            closedir(d);
            return -1;
        }
        if (kernel) {
            out->count++;
            out->bytes += (long long)st.st_size;
        } else {
            out->temporaries++;
            out->temporary_bytes += (long long)st.st_size;
        }
    }
    closedir(d);
    return 0;
}

int jit_cache_scan(int clear, nlsq_cache_info *out, char *why, size_t why_size)
{
    jit_entry scratch;
    memset(&scratch, 0, sizeof scratch);
    if (cache_dir(out->dir, sizeof out->dir, &scratch) != 0) {
        snprintf(why, why_size, "%s", scratch.note[0] ? scratch.note : "no usable kernel cache");
        return -1;
    }
    char gpu[PATH_MAX + 8];
    snprintf(gpu, sizeof gpu, "%s/cuda", out->dir);
    if (scan_kernels(out->dir, CPU_SUFFIXES, clear, out, why, why_size) != 0) return -1;
    struct stat st;
    if (lstat(gpu, &st) != 0) return 0; /* no GPU kernel yet */
    if (cache_private_dir(gpu, 0, why, why_size) != 0) return -1;
    return scan_kernels(gpu, GPU_SUFFIXES, clear, out, why, why_size);
}
