/*
 * The library's files on disk (issue 17): the column cache survives a kill
 * at every step of its conversion and never vouches for other data;
 * checkpoints and caches refuse to overwrite an input and follow symbolic
 * links; temporary files are registered for the signal handler and swept
 * by the next run; column caches are evicted; a kernel file is checked
 * from its bytes before it is loaded; a cache directory may be a private
 * symbolic link.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/core.h"
#include "nlsq.h"

static char work[256];

static void path_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", work, name);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        CHECK_MSG(0, "cannot write %s", path);
        return;
    }
    fputs(text, f);
    fclose(f);
}

/* The whole file, for comparing before and after (caller frees). */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 20);
    *n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static int same_bytes(const char *path, const char *want, size_t n)
{
    size_t m = 0;
    char *got = slurp(path, &m);
    int same = got && m == n && memcmp(got, want, n) == 0;
    free(got);
    return same;
}

/* A table y = k*x + k of 50 rows, header "x,y"; k picks the numbers. */
static void write_table(const char *path, int k)
{
    char *text = malloc(4096), *p = text;
    p += sprintf(p, "x,y\n");
    for (int i = 0; i < 50; i++) p += sprintf(p, "%d,%d\n", i, k * i + k);
    write_text(path, text);
    free(text);
    /* a rewrite within one clock tick would keep the mtime: move it */
    struct timespec t[2] = {{0, UTIME_NOW}, {time(NULL) + k, 0}};
    utimensat(AT_FDCWD, path, t, 0);
}

/* Open the text through the cache and check it reads the table of k. */
static void check_reads(const char *csv, const char *cache, int k, const char *what)
{
    nlsq_text_options to = nlsq_text_options_default();
    to.cache_path = cache;
    nlsq_source *s = NULL;
    nlsq_error e;
    nlsq_status st = nlsq_source_open_text(csv, &to, &s, &e);
    CHECK_MSG(st == NLSQ_OK, "%s: %s", what, e.message);
    if (!s) return;
    double y[50];
    CHECK(nlsq_source_num_rows(s) == 50 && nlsq_source_num_columns(s) == 2);
    CHECK(nlsq_source_read(s, 1, 0, 50, y, &e) == NLSQ_OK);
    CHECK_MSG(y[0] == k && y[49] == 50.0 * k, "%s: y = %g ... %g, the table of %d has %d ... %d", what, y[0], y[49], k,
              k, 50 * k);
    CHECK_MSG(strcmp(nlsq_source_column_name(s, 1), "y") == 0, "%s: column named '%s'", what,
              nlsq_source_column_name(s, 1));
    nlsq_source_free(s);
}

/* Files in dir whose name contains `part`. */
static int count_named(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, part) != NULL;
    if (d) closedir(d);
    return n;
}

/* Open the text in a child that dies at `step` of the conversion. */
static int convert_killed_at(const char *csv, const char *cache, const char *step)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        setenv("NLSQ_TEST_KILL_IN_COLUMN_CACHE", step, 1);
        nlsq_text_options to = nlsq_text_options_default();
        to.cache_path = cache;
        nlsq_source *s = NULL;
        nlsq_error e;
        nlsq_source_open_text(csv, &to, &s, &e);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

/* Killed between every two steps of a conversion (the data and names
   written, the data committed, the names committed), with and without an
   old cache of other numbers in place: the next run reads the new numbers,
   and no temporary file is left. Old names beside new data (the kill
   between the renames) must not vouch for it. */
static void defect09_column_cache_killed_at_every_step(void)
{
    char csv[300], cache[300];
    path_of(csv, sizeof csv, "d9.csv");
    path_of(cache, sizeof cache, "d9.cache.npy");
    for (int old = 0; old < 2; old++) {
        for (int step = 1; step <= 4; step++) {
            char what[120], arg[8];
            unlink(cache);
            snprintf(what, sizeof what, "%s, killed at step %d", old ? "over an old cache" : "no old cache", step);
            if (old) {
                write_table(csv, 2);
                check_reads(csv, cache, 2, "the old cache");
            }
            write_table(csv, 3 + step);
            snprintf(arg, sizeof arg, "%d", step);
            CHECK_MSG(convert_killed_at(csv, cache, arg) == SIGKILL, "%s: the child was not killed", what);
            check_reads(csv, cache, 3 + step, what);
            CHECK_MSG(count_named(work, ".tmp-") == 0, "%s: %d temporary files left after the next run", what,
                      count_named(work, ".tmp-"));
            check_reads(csv, cache, 3 + step, what); /* and the new pair is good */
        }
    }
    /* a stale names file beside another valid .npy (a rename that failed,
       or a copy) vouches for nothing: the data is rebuilt */
    write_table(csv, 7);
    check_reads(csv, cache, 7, "before the swap");
    char other_csv[300], other[300], cmd[1000];
    path_of(other_csv, sizeof other_csv, "d9-other.csv");
    path_of(other, sizeof other, "d9-other.npy");
    write_table(other_csv, 9);
    check_reads(other_csv, other, 9, "the other cache");
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", other, cache);
    CHECK(system(cmd) == 0);
    check_reads(csv, cache, 7, "names beside another file's data");
}

/* A SIGTERM in the middle of a conversion, caught by a handler that calls
   nlsq_output_remove_temporaries (as the command's does): nothing left. */
static void handler(int sig)
{
    nlsq_output_remove_temporaries();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void defect10_sigterm_during_conversion_leaves_no_temporary(void)
{
    char csv[300], cache[300];
    path_of(csv, sizeof csv, "d10.csv");
    path_of(cache, sizeof cache, "d10.cache.npy");
    for (int step = 1; step <= 3; step++) {
        char arg[8];
        write_table(csv, 5 + step); /* new numbers: a conversion */
        snprintf(arg, sizeof arg, "%dt", step);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            signal(SIGTERM, handler);
            setenv("NLSQ_TEST_KILL_IN_COLUMN_CACHE", arg, 1);
            nlsq_text_options to = nlsq_text_options_default();
            to.cache_path = cache;
            nlsq_source *s = NULL;
            nlsq_error e;
            nlsq_source_open_text(csv, &to, &s, &e);
            _exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "step %d: not terminated", step);
        CHECK_MSG(count_named(work, ".tmp-") == 0, "SIGTERM at step %d: %d temporary files left", step,
                  count_named(work, ".tmp-"));
        check_reads(csv, cache, 5 + step, "after a SIGTERM");
    }
}

/* The name a temporary file of `target` made by process `pid` of this host
   has (tempfile_name with another pid). */
static void temp_name_of(const char *target, long pid, char *out, size_t size)
{
    char mine[600];
    tempfile_name(target, mine, sizeof mine);
    unsigned tag = 0;
    const char *t = strstr(mine + strlen(target), ".tmp-");
    sscanf(t, ".tmp-%8x", &tag);
    snprintf(out, size, "%s.tmp-%08x-%ld-ab12cd", target, tag, pid);
}

/* A process id that no longer exists (a child, reaped). */
static long dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    return (long)pid;
}

static void write_sized(const char *path, size_t n, time_t mtime)
{
    char *buf = calloc(1, n);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, n, f);
        fclose(f);
    }
    free(buf);
    if (mtime) {
        struct timespec t[2] = {{mtime, 0}, {mtime, 0}};
        utimensat(AT_FDCWD, path, t, 0);
    }
}

static nlsq_model *line_model(void)
{
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse("a*x + b", NULL, &m, &e) != NLSQ_OK) CHECK_MSG(0, "parse: %s", e.message);
    return m;
}

static nlsq_status fit_with_checkpoint(nlsq_source *s, const char *ck, int resume, nlsq_error *e)
{
    nlsq_model *m = line_model();
    nlsq_options o = nlsq_options_default();
    o.backend = NLSQ_BACKEND_INTERP;
    o.checkpoint = ck;
    o.resume = resume;
    nlsq_result *r = NULL;
    nlsq_status st = nlsq_fit_source(m, s, NULL, &o, &r, e);
    if (st == NLSQ_OK) CHECK_NEAR(r->popt[0], 3.0, 1e-9, "a");
    nlsq_result_free(r);
    nlsq_model_free(m);
    return st;
}

/* Stale temporaries are removed by the next run (checkpoints: a fit and a
   resume; column caches: the next conversion), live ones and others' are
   kept; old-format ones go when over an hour old. */
static void defect10_stale_temporaries_are_swept(void)
{
    char csv[300], ck[300], stale[700], live[700], legacy_old[700], legacy_new[700], users[700];
    path_of(csv, sizeof csv, "d10s.csv");
    path_of(ck, sizeof ck, "d10s.ckpt");
    write_table(csv, 3);
    nlsq_source *s = NULL;
    nlsq_error e;
    CHECK(nlsq_source_load_text(csv, NULL, &s, &e) == NLSQ_OK);
    if (!s) return;
    for (int resume = 0; resume < 2; resume++) {
        temp_name_of(ck, dead_pid(), stale, sizeof stale);
        temp_name_of(ck, (long)getpid(), live, sizeof live);
        snprintf(legacy_old, sizeof legacy_old, "%s.tmp-Xy12Zq", ck);
        snprintf(legacy_new, sizeof legacy_new, "%s.tmp-Ab34Cd", ck);
        snprintf(users, sizeof users, "%s.tmp-backup", ck); /* a user's file, not a temporary */
        write_sized(stale, 100, 0);
        write_sized(live, 100, 0);
        write_sized(legacy_old, 100, time(NULL) - 7200);
        write_sized(legacy_new, 100, 0);
        write_sized(users, 100, time(NULL) - 7200);
        CHECK_MSG(fit_with_checkpoint(s, ck, resume, &e) == NLSQ_OK, "%s", e.message);
        CHECK_MSG(access(stale, F_OK) != 0, "%s: a dead process's temporary survived", resume ? "resume" : "fit");
        CHECK_MSG(access(legacy_old, F_OK) != 0, "an old-format temporary of two hours survived");
        CHECK_MSG(access(live, F_OK) == 0 && access(legacy_new, F_OK) == 0, "a live temporary was removed");
        CHECK_MSG(access(users, F_OK) == 0, "a user's file %s was taken for a temporary", users);
        unlink(live);
        unlink(legacy_new);
        unlink(users);
    }
    nlsq_source_free(s);

    /* the column cache directory: counted apart, cleared, swept */
    nlsq_cache_info ci;
    CHECK(nlsq_column_cache_clear(&ci, &e) == NLSQ_OK);
    CHECK(nlsq_column_cache_info(&ci, &e) == NLSQ_OK);
    char target[4200], mine[4300];
    mkdir(ci.dir, 0700);
    snprintf(target, sizeof target, "%s/0123456789abcdef0123456789abcdef.npy", ci.dir);
    temp_name_of(target, dead_pid(), stale, sizeof stale);
    temp_name_of(target, (long)getpid(), mine, sizeof mine);
    write_sized(stale, 23900, 0);
    write_sized(mine, 1000, 0);
    CHECK(nlsq_column_cache_info(&ci, &e) == NLSQ_OK);
    CHECK_MSG(ci.count == 0 && ci.bytes == 0 && ci.temporaries == 2 && ci.temporary_bytes == 24900,
              "%d caches, %lld bytes, %d temporaries, %lld bytes", ci.count, ci.bytes, ci.temporaries,
              ci.temporary_bytes);
    CHECK(nlsq_column_cache_clear(&ci, &e) == NLSQ_OK);
    CHECK_MSG(ci.temporaries == 1 && ci.temporary_bytes == 23900, "cleared %d temporaries", ci.temporaries);
    CHECK(access(stale, F_OK) != 0 && access(mine, F_OK) == 0);
    unlink(mine);
    write_sized(stale, 100, 0);
    CHECK(nlsq_source_open_text(csv, NULL, &s, &e) == NLSQ_OK); /* a conversion */
    nlsq_source_free(s);
    CHECK_MSG(access(stale, F_OK) != 0, "the next conversion left a killed one's temporary");

    /* the kernel cache: a build's temporaries counted apart */
    CHECK(nlsq_kernel_cache_info(&ci, &e) == NLSQ_OK);
    snprintf(target, sizeof target, "%s/0123456789abcdef0123456789abcdef.so", ci.dir);
    temp_name_of(target, dead_pid(), stale, sizeof stale);
    strcat(stale, ".c");
    write_sized(stale, 500, 0);
    CHECK(nlsq_kernel_cache_info(&ci, &e) == NLSQ_OK);
    CHECK_MSG(ci.temporaries >= 1 && ci.temporary_bytes >= 500, "kernel cache: %d temporaries", ci.temporaries);
    CHECK(nlsq_kernel_cache_clear(&ci, &e) == NLSQ_OK);
    CHECK(access(stale, F_OK) != 0);
    /* ... and the GPU's, in cuda/: a cubin counted and cleared with them */
    char gpu[4300], cubin[4400];
    snprintf(gpu, sizeof gpu, "%s/cuda", ci.dir);
    mkdir(gpu, 0700);
    snprintf(cubin, sizeof cubin, "%s/0123456789abcdef0123456789abcdef.cubin", gpu);
    write_sized(cubin, 300, 0);
    temp_name_of(cubin, dead_pid(), stale, sizeof stale);
    write_sized(stale, 200, 0);
    CHECK(nlsq_kernel_cache_info(&ci, &e) == NLSQ_OK);
    CHECK_MSG(ci.count == 1 && ci.bytes == 300 && ci.temporaries == 1 && ci.temporary_bytes == 200,
              "GPU kernels: %d, %lld bytes, %d temporaries", ci.count, ci.bytes, ci.temporaries);
    CHECK(nlsq_kernel_cache_clear(&ci, &e) == NLSQ_OK);
    CHECK(access(cubin, F_OK) != 0 && access(stale, F_OK) != 0);
}

/* A checkpointed fit killed in the middle of a checkpoint write: by
   SIGTERM with the command's kind of handler, no temporary is left; by
   SIGKILL, its temporary is left and the next run (a resume, or a fresh
   fit) removes it, with the right answer. */
static int checkpointed_fit_killed(nlsq_source *s, const char *ck, const char *at, int handle)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTERM, handle ? handler : SIG_DFL);
        setenv("NLSQ_TEST_KILL_IN_CHECKPOINT", at, 1);
        nlsq_error e;
        fit_with_checkpoint(s, ck, 0, &e);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static void defect10_killed_checkpoint_writes_leave_nothing(void)
{
    char csv[300], ck[300];
    path_of(csv, sizeof csv, "d10k.csv");
    path_of(ck, sizeof ck, "d10k.ckpt");
    write_table(csv, 3);
    nlsq_source *s = NULL;
    nlsq_error e;
    CHECK(nlsq_source_load_text(csv, NULL, &s, &e) == NLSQ_OK);
    if (!s) return;
    CHECK(checkpointed_fit_killed(s, ck, "2t", 1) == SIGTERM);
    CHECK_MSG(count_named(work, "d10k.ckpt.tmp-") == 0, "SIGTERM: %d temporaries left",
              count_named(work, "d10k.ckpt.tmp-"));
    for (int resume = 0; resume < 2; resume++) {
        unlink(ck);
        CHECK(checkpointed_fit_killed(s, ck, "2", 0) == SIGKILL);
        CHECK_MSG(count_named(work, "d10k.ckpt.tmp-") == 1, "SIGKILL: %d temporaries (one expected)",
                  count_named(work, "d10k.ckpt.tmp-"));
        CHECK_MSG(fit_with_checkpoint(s, ck, resume, &e) == NLSQ_OK, "%s", e.message);
        CHECK_MSG(count_named(work, "d10k.ckpt.tmp-") == 0, "%s: the killed write's temporary survived",
                  resume ? "--resume" : "the next fit");
    }
    nlsq_source_free(s);
}

/* Outputs that are inputs are refused by device and inode, whatever the
   name (the file, a link to it, a hard link), the input untouched. */
static void defect03_outputs_that_are_inputs_are_refused(void)
{
    char csv[300], soft[300], hard[300], cache[300];
    path_of(csv, sizeof csv, "victim.csv");
    path_of(soft, sizeof soft, "victim-link");
    path_of(hard, sizeof hard, "victim-hard");
    path_of(cache, sizeof cache, "victim.cache.npy");
    write_table(csv, 3);
    size_t n = 0;
    char *before = slurp(csv, &n);
    unlink(soft);
    unlink(hard);
    CHECK(symlink(csv, soft) == 0 && link(csv, hard) == 0);
    const char *as_cache[] = {csv, soft, hard};
    for (int k = 0; k < 3; k++) {
        nlsq_text_options to = nlsq_text_options_default();
        to.cache_path = as_cache[k];
        nlsq_source *s = NULL;
        nlsq_error e;
        CHECK(nlsq_source_open_text(csv, &to, &s, &e) == NLSQ_ERR_IO && !s);
        CHECK_MSG(strstr(e.message, "is the text file itself; refusing to overwrite it") != NULL, "%s", e.message);
        CHECK_MSG(same_bytes(csv, before, n), "the text file was changed through %s", as_cache[k]);
    }
    /* a checkpoint that is the data: a text table (cached or in memory),
       its column cache, a .npy, a joined part */
    nlsq_text_options to = nlsq_text_options_default();
    to.cache_path = cache;
    nlsq_source *cached = NULL, *loaded = NULL, *npy = NULL, *joined = NULL;
    nlsq_error e;
    CHECK(nlsq_source_open_text(csv, &to, &cached, &e) == NLSQ_OK);
    CHECK(nlsq_source_load_text(csv, NULL, &loaded, &e) == NLSQ_OK);
    CHECK(nlsq_source_open_npy(cache, &npy, &e) == NLSQ_OK);
    if (!cached || !loaded || !npy) return;
    nlsq_source *parts[1] = {npy};
    CHECK(nlsq_source_join(parts, 1, &joined, &e) == NLSQ_OK);
    size_t cn = 0;
    char *cache_before = slurp(cache, &cn);
    const struct {
        nlsq_source *src;
        const char *ck;
    } cases[] = {{cached, csv}, {cached, hard}, {cached, cache}, {loaded, soft}, {npy, cache}, {joined, cache}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        CHECK(fit_with_checkpoint(cases[k].src, cases[k].ck, 0, &e) == NLSQ_ERR_IO);
        CHECK_MSG(strstr(e.message, "is a file of the data; refusing to overwrite it") != NULL, "%s", e.message);
        CHECK(same_bytes(csv, before, n) && same_bytes(cache, cache_before, cn));
    }
    /* a directory or a device as the checkpoint */
    CHECK(fit_with_checkpoint(loaded, work, 0, &e) == NLSQ_ERR_IO);
    CHECK_MSG(strstr(e.message, "is a directory, not a regular file") != NULL, "%s", e.message);
    CHECK(fit_with_checkpoint(loaded, "/dev/null", 0, &e) == NLSQ_ERR_IO);
    CHECK_MSG(strstr(e.message, "not a regular file") != NULL, "%s", e.message);
    CHECK(fit_with_checkpoint(loaded, "-", 0, &e) == NLSQ_ERR_IO);
    CHECK_MSG(strstr(e.message, "cannot be the standard output") != NULL, "%s", e.message);
    to.cache_path = "-";
    nlsq_source *none = NULL;
    CHECK(nlsq_source_open_text(csv, &to, &none, &e) == NLSQ_ERR_IO && !none);
    CHECK_MSG(strstr(e.message, "cannot be the standard output") != NULL, "%s", e.message);
    nlsq_source_free(joined); /* frees npy */
    nlsq_source_free(cached);
    nlsq_source_free(loaded);
    free(cache_before);
    free(before);
}

/* A checkpoint or a column cache named through a symbolic link replaces
   the link's target; the link stays. */
static void defect04_checkpoint_and_cache_follow_symlinks(void)
{
    char csv[300], real_ck[300], ck[300], real_cache[300], cache[300];
    path_of(csv, sizeof csv, "d4.csv");
    path_of(real_ck, sizeof real_ck, "d4-real.ckpt");
    path_of(ck, sizeof ck, "d4.ckpt");
    path_of(real_cache, sizeof real_cache, "d4-real.npy");
    path_of(cache, sizeof cache, "d4.npy");
    write_table(csv, 3);
    unlink(ck);
    unlink(cache);
    CHECK(symlink("d4-real.ckpt", ck) == 0 && symlink(real_cache, cache) == 0);
    check_reads(csv, cache, 3, "a cache through a link");
    struct stat st;
    CHECK(lstat(cache, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(lstat(real_cache, &st) == 0 && S_ISREG(st.st_mode));
    nlsq_source *s = NULL;
    nlsq_error e;
    CHECK(nlsq_source_load_text(csv, NULL, &s, &e) == NLSQ_OK);
    if (!s) return;
    CHECK_MSG(fit_with_checkpoint(s, ck, 0, &e) == NLSQ_OK, "%s", e.message);
    CHECK_MSG(lstat(ck, &st) == 0 && S_ISLNK(st.st_mode), "the checkpoint's link was replaced by a file");
    CHECK(lstat(real_ck, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0);
    CHECK_MSG(fit_with_checkpoint(s, ck, 1, &e) == NLSQ_OK, "resume through the link: %s", e.message);
    CHECK(count_named(work, ".tmp-") == 0);
    nlsq_source_free(s);
}

/* Column caches in the cache directory are evicted least recently used
   first past NLSQ_COLUMN_CACHE_MAX, never the one just made nor one used
   in the last ten minutes; a bad value is refused. */
static void set_used(const char *npy, time_t when)
{
    char names[4400];
    snprintf(names, sizeof names, "%s.names", npy);
    struct timespec t[2] = {{when, 0}, {when, 0}};
    utimensat(AT_FDCWD, npy, t, 0);
    utimensat(AT_FDCWD, names, t, 0);
}

/* The cache file of csv in the directory (the only .npy newer than the
   others: found by listing before and after). */
static int newest_cache(const char *dir, char *out, size_t size)
{
    DIR *d = opendir(dir);
    time_t best = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        size_t n = strlen(de->d_name);
        if (n != 36 || strcmp(de->d_name + 32, ".npy") != 0) continue;
        char p[4300];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (stat(p, &st) == 0 && st.st_mtime >= best) {
            best = st.st_mtime;
            snprintf(out, size, "%s", p);
        }
    }
    if (d) closedir(d);
    return best != 0;
}

static void defect16_column_cache_is_evicted(void)
{
    nlsq_cache_info ci;
    nlsq_error e;
    CHECK(nlsq_column_cache_clear(&ci, &e) == NLSQ_OK);
    char a[300], b[300], c[300], cache_a[4300], cache_b[4300];
    path_of(a, sizeof a, "evict-a.csv");
    path_of(b, sizeof b, "evict-b.csv");
    path_of(c, sizeof c, "evict-c.csv");
    write_table(a, 3);
    write_table(b, 4);
    write_table(c, 5);
    setenv("NLSQ_COLUMN_CACHE_MAX", "1", 1); /* one byte: only the newest stays */
    nlsq_source *s = NULL;
    CHECK(nlsq_source_open_text(a, NULL, &s, &e) == NLSQ_OK);
    nlsq_source_free(s);
    CHECK(nlsq_column_cache_info(&ci, &e) == NLSQ_OK && newest_cache(ci.dir, cache_a, sizeof cache_a));
    /* used a minute ago: possibly in use, kept */
    set_used(cache_a, time(NULL) - 60);
    CHECK(nlsq_source_open_text(b, NULL, &s, &e) == NLSQ_OK);
    nlsq_source_free(s);
    CHECK(nlsq_column_cache_info(&ci, &e) == NLSQ_OK);
    CHECK_MSG(ci.count == 2, "%d caches: one used a minute ago was evicted", ci.count);
    /* a's last use an hour ago, b's half an hour ago: a goes first, then b */
    set_used(cache_a, time(NULL) - 3600);
    snprintf(cache_b, sizeof cache_b, "%s", cache_a);
    DIR *d = opendir(ci.dir);
    for (struct dirent *de; d && (de = readdir(d));)
        if (strlen(de->d_name) == 36 && strcmp(de->d_name + 32, ".npy") == 0) {
            char p[4300];
            snprintf(p, sizeof p, "%s/%s", ci.dir, de->d_name);
            if (strcmp(p, cache_a) != 0) snprintf(cache_b, sizeof cache_b, "%s", p);
        }
    if (d) closedir(d);
    set_used(cache_b, time(NULL) - 1800);
    setenv("NLSQ_COLUMN_CACHE_MAX", "2.5K", 1); /* room for two of these (1.1 kB each) */
    CHECK(nlsq_source_open_text(c, NULL, &s, &e) == NLSQ_OK);
    nlsq_source_free(s);
    CHECK(nlsq_column_cache_info(&ci, &e) == NLSQ_OK);
    CHECK_MSG(ci.count == 2 && access(cache_a, F_OK) != 0 && access(cache_b, F_OK) == 0,
              "%d caches; the least recently used %s", ci.count, access(cache_a, F_OK) == 0 ? "kept" : "evicted");
    /* and a was evicted whole: its names too */
    char names[4400];
    snprintf(names, sizeof names, "%s.names", cache_a);
    CHECK(access(names, F_OK) != 0);
    /* a bad limit is refused, naming the variable */
    setenv("NLSQ_COLUMN_CACHE_MAX", "lots", 1);
    CHECK(nlsq_source_open_text(a, NULL, &s, &e) == NLSQ_ERR_INVALID_ARGUMENT && !s);
    CHECK_MSG(strstr(e.message, "NLSQ_COLUMN_CACHE_MAX='lots' is not a size") != NULL, "%s", e.message);
    unsetenv("NLSQ_COLUMN_CACHE_MAX");
    check_reads(a, NULL, 3, "after eviction, converted again");
}

/* $XDG_CACHE_HOME/nlsq as a symbolic link: followed to a private directory
   of ours, refused precisely otherwise. */
static void defect16_symlinked_cache_directory(void)
{
    char xdg[300], priv[300], link[400], open_dir[300], file[300];
    path_of(xdg, sizeof xdg, "xdg");
    path_of(priv, sizeof priv, "private-cache");
    path_of(open_dir, sizeof open_dir, "open-cache");
    path_of(file, sizeof file, "a-file");
    mkdir(xdg, 0700);
    mkdir(priv, 0700);
    mkdir(open_dir, 0777);
    chmod(open_dir, 0777);
    write_text(file, "x");
    snprintf(link, sizeof link, "%s/nlsq", xdg);
    char *saved = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
    setenv("XDG_CACHE_HOME", xdg, 1);
    nlsq_cache_info ci;
    nlsq_error e;
    const struct {
        const char *target, *words;
    } cases[] = {{priv, NULL},
                 {open_dir, "which is not private"},
                 {file, "which is not a directory"},
                 {"/nonexistent/nlsq-cache", "No such file or directory"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        unlink(link);
        CHECK(symlink(cases[k].target, link) == 0);
        nlsq_status st = nlsq_column_cache_info(&ci, &e);
        if (!cases[k].words) {
            CHECK_MSG(st == NLSQ_OK, "a link to a private directory: %s", e.message);
            char csv[300];
            path_of(csv, sizeof csv, "through-link.csv");
            write_table(csv, 6);
            check_reads(csv, NULL, 6, "a cache through a linked directory");
            CHECK(nlsq_column_cache_info(&ci, &e) == NLSQ_OK && ci.count == 1);
        } else {
            CHECK(st != NLSQ_OK);
            CHECK_MSG(strstr(e.message, cases[k].words) != NULL && strstr(e.message, "symbolic link") != NULL,
                      "link to %s: '%s'", cases[k].target, e.message);
        }
    }
    unlink(link);
    if (saved) {
        setenv("XDG_CACHE_HOME", saved, 1);
        free(saved);
    }
}

/* A new output gets 0666 less the umask, read without changing it (other
   threads' files would get no umask for that moment). */
static void outfile_new_file_mode_follows_the_umask(void)
{
    char path[300];
    path_of(path, sizeof path, "mode.txt");
    mode_t old = umask(027);
    nlsq_output *o = NULL;
    nlsq_error e;
    CHECK(nlsq_output_open(path, &o, &e) == NLSQ_OK);
    if (o) {
        fputs("x\n", nlsq_output_stream(o));
        CHECK(nlsq_output_commit(o, &e) == NLSQ_OK);
    }
    struct stat st;
    CHECK_MSG(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "mode %o", (unsigned)(st.st_mode & 0777));
    CHECK(umask(old) == 027);
}

/* The GPU kernel cache ($XDG_CACHE_HOME/nlsq/cuda): a cached cubin is
   sealed with a checksum checked before the driver sees it, so a damaged
   one is compiled afresh, never loaded. On the emulated GPU (the ctest
   test_caches_emulated); skipped elsewhere. */
static nlsq_result *gpu_fit(const char *csv, nlsq_error *e)
{
    nlsq_source *s = NULL;
    if (nlsq_source_load_text(csv, NULL, &s, e) != NLSQ_OK) return NULL;
    nlsq_model *m = line_model();
    nlsq_options o = nlsq_options_default();
    o.device = "cuda:0";
    nlsq_result *r = NULL;
    nlsq_fit_source(m, s, NULL, &o, &r, e);
    nlsq_model_free(m);
    nlsq_source_free(s);
    return r;
}

static void defect16_damaged_gpu_kernel_is_not_loaded(void)
{
    if (!getenv("NLSQ_TEST_EMULATED_GPU")) {
        test_skip("the GPU kernel cache is checked on the emulated GPU (test_caches_emulated)");
        return;
    }
    char csv[300], dir[4200];
    path_of(csv, sizeof csv, "gpu.csv");
    write_table(csv, 3);
    nlsq_error e;
    nlsq_result *r1 = gpu_fit(csv, &e);
    CHECK_MSG(r1 && strcmp(r1->device, "cuda:0") == 0, "first GPU fit: %s", r1 ? r1->device_note : e.message);
    nlsq_result *r2 = gpu_fit(csv, &e);
    CHECK_MSG(r2 && strstr(r2->device_note, "loaded from the cache") != NULL, "second fit: %s",
              r2 ? r2->device_note : e.message);
    /* damage every cached image in its middle */
    snprintf(dir, sizeof dir, "%s/cache/nlsq/cuda", work);
    DIR *d = opendir(dir);
    int damaged = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        char p[4500];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        FILE *f = fopen(p, "r+b");
        if (f && stat(p, &st) == 0 && st.st_size > 100) {
            fseek(f, st.st_size / 2, SEEK_SET);
            int c = fgetc(f);
            fseek(f, st.st_size / 2, SEEK_SET);
            fputc(c ^ 0x5a, f);
            damaged++;
        }
        if (f) fclose(f);
    }
    if (d) closedir(d);
    CHECK_MSG(damaged > 0, "no cached GPU kernel in %s", dir);
    nlsq_result *r3 = gpu_fit(csv, &e);
    CHECK_MSG(r3 && strstr(r3->device_note, "compiled by NVRTC") != NULL, "after damage: %s",
              r3 ? r3->device_note : e.message);
    if (r1 && r3) CHECK_SAME(r3->popt[0], r1->popt[0], "a after the damaged kernel was rebuilt");
    printf("    GPU kernel: %s; damaged: %s\n", r2 ? r2->device_note : "-", r3 ? r3->device_note : "-");
    nlsq_result_free(r1);
    nlsq_result_free(r2);
    nlsq_result_free(r3);
}

static void remove_work(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "chmod -R u+w '%s'; rm -rf '%s'", work, work);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", work);
}

int main(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(work, sizeof work, "%s/nlsq-caches-XXXXXX", base);
    if (!mkdtemp(work)) {
        perror("mkdtemp");
        return 1;
    }
    char xdg[300];
    snprintf(xdg, sizeof xdg, "%s/cache", work);
    setenv("XDG_CACHE_HOME", xdg, 1);
    static const test_case tests[] = {
        TEST(defect09_column_cache_killed_at_every_step),
        TEST(defect10_sigterm_during_conversion_leaves_no_temporary),
        TEST(defect10_stale_temporaries_are_swept),
        TEST(defect10_killed_checkpoint_writes_leave_nothing),
        TEST(defect03_outputs_that_are_inputs_are_refused),
        TEST(defect04_checkpoint_and_cache_follow_symlinks),
        TEST(defect16_column_cache_is_evicted),
        TEST(defect16_symlinked_cache_directory),
        TEST(outfile_new_file_mode_follows_the_umask),
        TEST(defect16_damaged_gpu_kernel_is_not_loaded),
    };
    int rc = run_tests(tests, (int)(sizeof tests / sizeof tests[0]));
    remove_work();
    return rc;
}
