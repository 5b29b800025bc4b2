/*
 * Fault injection for the command, as SQLite's test harness does it: a
 * shared library preloaded (LD_PRELOAD) into `nlsq` that makes the N-th
 * call of one kind fail, as a full disk, a failing disk, a refused file or
 * exhausted memory would, or delivers a signal at that call. The driver
 * (tests/test_fault.sh) first counts each kind's calls in a clean run,
 * then fails each of them in turn.
 *
 *   NLSQ_FAULT=count                 count the calls of every kind
 *   NLSQ_FAULT=KIND:N[+][:WHAT]      fail the N-th call of KIND (with '+':
 *                                    that one and every later one)
 *   NLSQ_FAULT_REPORT=FILE           where the counts, a line for the
 *                                    injected fault and, at exit, the
 *                                    blocks still allocated ("live N")
 *                                    are appended
 *
 * KIND and the calls it covers (stdio's own reads and writes go to the
 * kernel through glibc's internal entry points, which cannot be
 * interposed, so the stdio functions are faulted themselves: the stream's
 * error flag is set, as a failed write would set it):
 *   malloc  malloc calloc realloc posix_memalign aligned_alloc memalign
 *           (strdup, getline, fopen's buffers... allocate through these)
 *   read    read pread fread getline getdelim fgets fgetc getc
 *   write   write pwrite writev fwrite fputs fputc putc puts putchar
 *           fprintf vfprintf printf vprintf dprintf fflush, and fclose of a
 *           stream open for writing (the stream is closed all the same);
 *           never standard error, so that the failing run's message is seen
 *   rename  rename renameat renameat2
 *   fsync   fsync fdatasync
 *   open    open openat creat fopen freopen fdopen mkstemp mkostemp
 *           mkstemps mkostemps opendir tmpfile
 *   mmap    mmap (the program's own; malloc's and the loader's are not seen)
 * WHAT: an errno name (ENOMEM ENOSPC EIO EACCES EDQUOT EROFS EMFILE EINTR)
 * or a signal (SIGINT SIGTERM SIGKILL SIGHUP), raised just before the
 * call, which then goes ahead if the process survives. The default errno
 * is the likeliest for the kind: ENOMEM for malloc and mmap, EIO for
 * read, rename and fsync, ENOSPC for write, EACCES for open.
 *
 * Test code, so global state is fine here: the counters are the point.
 * The shim never allocates, and reports with raw system calls.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

enum kind { K_MALLOC, K_READ, K_WRITE, K_RENAME, K_FSYNC, K_OPEN, K_MMAP, K_COUNT };
static const char *const KIND_NAMES[K_COUNT] = {"malloc", "read", "write", "rename", "fsync", "open", "mmap"};
static const int DEFAULT_ERRNO[K_COUNT] = {ENOMEM, EIO, ENOSPC, EIO, EIO, EACCES, ENOMEM};

static struct {
    int mode; /* 0 off, 1 count, 2 inject */
    enum kind kind;
    unsigned long at;
    int persistent;
    int err, sig;
    unsigned long calls[K_COUNT];
    unsigned long injected;
    long live; /* blocks allocated and not yet freed (through the shim) */
    char report[512];
} F;

static __thread int in_shim; /* the shim's own calls are not counted */

static const struct {
    const char *name;
    int value;
} ERRNOS[] = {{"ENOMEM", ENOMEM}, {"ENOSPC", ENOSPC}, {"EIO", EIO},     {"EACCES", EACCES}, {"EDQUOT", EDQUOT},
              {"EROFS", EROFS},   {"EMFILE", EMFILE}, {"EINTR", EINTR}, {"EPERM", EPERM},   {NULL, 0}},
  SIGNALS[] = {{"SIGINT", SIGINT}, {"SIGTERM", SIGTERM}, {"SIGKILL", SIGKILL}, {"SIGHUP", SIGHUP}, {NULL, 0}};

static void report_line(const char *text)
{
    if (!F.report[0]) return;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, F.report, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    (void)!syscall(SYS_write, fd, text, strlen(text));
    syscall(SYS_close, fd);
}

static void put_number(char *buf, unsigned long v)
{
    char digits[24];
    int n = 0;
    do digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 23);
    size_t at = strlen(buf);
    while (n) buf[at++] = digits[--n];
    buf[at] = '\0';
}

static int lookup(const char *word, size_t len, int signals, int *out)
{
    for (int k = 0; (signals ? SIGNALS : ERRNOS)[k].name; k++) {
        const char *n = (signals ? SIGNALS : ERRNOS)[k].name;
        if (strlen(n) == len && strncmp(n, word, len) == 0) return *out = (signals ? SIGNALS : ERRNOS)[k].value, 1;
    }
    return 0;
}

static void bad_spec(const char *spec)
{
    static const char msg[] = "nlsq fault shim: NLSQ_FAULT must be count or KIND:N[+][:ERRNO|SIGNAL], got '";
    (void)!syscall(SYS_write, 2, msg, sizeof msg - 1);
    (void)!syscall(SYS_write, 2, spec, strlen(spec));
    (void)!syscall(SYS_write, 2, "'\n", 2);
    _exit(125);
}

__attribute__((constructor)) static void fault_init(void)
{
    const char *spec = getenv("NLSQ_FAULT"), *rep = getenv("NLSQ_FAULT_REPORT");
    if (rep && strlen(rep) < sizeof F.report) strcpy(F.report, rep);
    if (!spec || !*spec) return;
    if (strcmp(spec, "count") == 0) {
        F.mode = 1;
        return;
    }
    const char *colon = strchr(spec, ':');
    if (!colon) bad_spec(spec);
    int found = 0;
    for (int k = 0; k < K_COUNT; k++)
        if (strlen(KIND_NAMES[k]) == (size_t)(colon - spec) && strncmp(KIND_NAMES[k], spec, colon - spec) == 0) {
            F.kind = (enum kind)k;
            found = 1;
        }
    char *end;
    F.at = strtoul(colon + 1, &end, 10);
    if (!found || end == colon + 1 || F.at == 0) bad_spec(spec);
    if (*end == '+') F.persistent = 1, end++;
    F.err = DEFAULT_ERRNO[F.kind];
    if (*end == ':') {
        const char *w = end + 1;
        if (!lookup(w, strlen(w), 0, &F.err) && !lookup(w, strlen(w), 1, &F.sig)) bad_spec(spec);
    } else if (*end) {
        bad_spec(spec);
    }
    F.mode = 2;
}

/* At exit: the counts (count mode), and in both modes the blocks still
   allocated, which the driver compares with the fault-free run's to find
   what a failing path leaked (where the sanitizers cannot look: they own
   malloc). */
__attribute__((destructor)) static void fault_fini(void)
{
    if (!F.mode) return;
    char line[128];
    for (int k = 0; k < K_COUNT && F.mode == 1; k++) {
        snprintf(line, sizeof line, "%s ", KIND_NAMES[k]); /* no allocation for %s */
        put_number(line, __atomic_load_n(&F.calls[k], __ATOMIC_RELAXED));
        strcat(line, "\n");
        report_line(line);
    }
    long live = __atomic_load_n(&F.live, __ATOMIC_RELAXED);
    strcpy(line, "live ");
    put_number(line, live > 0 ? (unsigned long)live : 0);
    strcat(line, "\n");
    report_line(line);
}

/* Count a call of kind k; 1 when it must fail (errno is then set). */
static int fault_hit(enum kind k)
{
    if (!F.mode || in_shim) return 0;
    unsigned long n = __atomic_add_fetch(&F.calls[k], 1, __ATOMIC_RELAXED);
    if (F.mode != 2 || k != F.kind || n < F.at || (n > F.at && !F.persistent)) return 0;
    in_shim = 1;
    if (__atomic_add_fetch(&F.injected, 1, __ATOMIC_RELAXED) == 1) {
        char line[160] = "injected ";
        strcat(line, KIND_NAMES[k]);
        strcat(line, " ");
        put_number(line, n);
        strcat(line, F.sig ? " signal " : " errno ");
        put_number(line, (unsigned long)(F.sig ? F.sig : F.err));
        strcat(line, "\n");
        report_line(line);
    }
    in_shim = 0;
    if (F.sig) {
        raise(F.sig);
        return 0; /* survived it: the call goes ahead */
    }
    errno = F.err;
    return 1;
}

/* The next definition of a function, looked up once. */
#define REAL(name) \
    static __typeof__(&name) real_##name; \
    if (!real_##name) { \
        in_shim++; \
        real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name); \
        in_shim--; \
    }

/* glibc's flag of a stream not open for writing (libio.h, not installed) */
#define GLIBC_IO_NO_WRITES 0x0008

/* A stream whose operation "failed": its error flag, as glibc sets it. */
static void stream_error(FILE *f)
{
    if (f) f->_flags |= _IO_ERR_SEEN;
}

/* ---- malloc ---------------------------------------------------------- */

extern void *__libc_malloc(size_t), *__libc_calloc(size_t, size_t), *__libc_realloc(void *, size_t),
    *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

/* A block handed out: counted as live until freed. */
static void *track(void *p)
{
    if (p) __atomic_add_fetch(&F.live, 1, __ATOMIC_RELAXED);
    return p;
}

void *malloc(size_t n)
{
    return fault_hit(K_MALLOC) ? NULL : track(__libc_malloc(n));
}
void *calloc(size_t a, size_t b)
{
    return fault_hit(K_MALLOC) ? NULL : track(__libc_calloc(a, b));
}
void *realloc(void *p, size_t n)
{
    if (fault_hit(K_MALLOC)) return NULL;
    void *q = __libc_realloc(p, n);
    if (!p) return track(q);
    if (!q && n == 0) __atomic_sub_fetch(&F.live, 1, __ATOMIC_RELAXED); /* glibc freed p */
    return q;
}
void *memalign(size_t al, size_t n)
{
    return fault_hit(K_MALLOC) ? NULL : track(__libc_memalign(al, n));
}
void *aligned_alloc(size_t al, size_t n)
{
    return fault_hit(K_MALLOC) ? NULL : track(__libc_memalign(al, n));
}
int posix_memalign(void **out, size_t al, size_t n)
{
    if (fault_hit(K_MALLOC)) return ENOMEM;
    void *p = track(__libc_memalign(al, n));
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
void free(void *p)
{
    if (p) __atomic_sub_fetch(&F.live, 1, __ATOMIC_RELAXED);
    __libc_free(p);
}

/* ---- read ------------------------------------------------------------ */

ssize_t read(int fd, void *buf, size_t n)
{
    REAL(read);
    return fault_hit(K_READ) ? -1 : real_read(fd, buf, n);
}
ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    REAL(pread);
    return fault_hit(K_READ) ? -1 : real_pread(fd, buf, n, off);
}
ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
    REAL(pread64);
    return fault_hit(K_READ) ? -1 : real_pread64(fd, buf, n, off);
}
size_t fread(void *p, size_t size, size_t n, FILE *f)
{
    REAL(fread);
    if (fault_hit(K_READ)) return stream_error(f), 0;
    return real_fread(p, size, n, f);
}
ssize_t getdelim(char **line, size_t *cap, int delim, FILE *f)
{
    REAL(getdelim);
    if (fault_hit(K_READ)) return stream_error(f), -1;
    return real_getdelim(line, cap, delim, f);
}
ssize_t getline(char **line, size_t *cap, FILE *f)
{
    REAL(getline);
    if (fault_hit(K_READ)) return stream_error(f), -1;
    return real_getline(line, cap, f);
}
char *fgets(char *s, int n, FILE *f)
{
    REAL(fgets);
    if (fault_hit(K_READ)) return stream_error(f), NULL;
    return real_fgets(s, n, f);
}
int fgetc(FILE *f)
{
    REAL(fgetc);
    if (fault_hit(K_READ)) return stream_error(f), EOF;
    return real_fgetc(f);
}
int getc(FILE *f)
{
    REAL(getc);
    if (fault_hit(K_READ)) return stream_error(f), EOF;
    return real_getc(f);
}

/* ---- write ----------------------------------------------------------- */

/* Writes to standard error are never faulted nor counted: the message
   that says why a run failed must reach the driver, as it reaches a user
   whose disk is full but whose terminal is not. */
static int is_stderr(int fd)
{
    return fd == 2;
}
static int to_stderr(FILE *f)
{
    return f == stderr;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write);
    return !is_stderr(fd) && fault_hit(K_WRITE) ? -1 : real_write(fd, buf, n);
}
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite);
    return !is_stderr(fd) && fault_hit(K_WRITE) ? -1 : real_pwrite(fd, buf, n, off);
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite64);
    return !is_stderr(fd) && fault_hit(K_WRITE) ? -1 : real_pwrite64(fd, buf, n, off);
}
ssize_t writev(int fd, const struct iovec *iov, int n)
{
    REAL(writev);
    return !is_stderr(fd) && fault_hit(K_WRITE) ? -1 : real_writev(fd, iov, n);
}
size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
    REAL(fwrite);
    if (!to_stderr(f) && fault_hit(K_WRITE)) return stream_error(f), 0;
    return real_fwrite(p, size, n, f);
}
int fputs(const char *s, FILE *f)
{
    REAL(fputs);
    if (!to_stderr(f) && fault_hit(K_WRITE)) return stream_error(f), EOF;
    return real_fputs(s, f);
}
int fputc(int c, FILE *f)
{
    REAL(fputc);
    if (!to_stderr(f) && fault_hit(K_WRITE)) return stream_error(f), EOF;
    return real_fputc(c, f);
}
int putc(int c, FILE *f)
{
    REAL(putc);
    if (!to_stderr(f) && fault_hit(K_WRITE)) return stream_error(f), EOF;
    return real_putc(c, f);
}
int puts(const char *s)
{
    REAL(puts);
    if (fault_hit(K_WRITE)) return stream_error(stdout), EOF;
    return real_puts(s);
}
int putchar(int c)
{
    REAL(putchar);
    if (fault_hit(K_WRITE)) return stream_error(stdout), EOF;
    return real_putchar(c);
}
int vfprintf(FILE *f, const char *fmt, va_list ap)
{
    REAL(vfprintf);
    if (!to_stderr(f) && fault_hit(K_WRITE)) return stream_error(f), -1;
    return real_vfprintf(f, fmt, ap);
}
int fprintf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}
int vprintf(const char *fmt, va_list ap)
{
    return vfprintf(stdout, fmt, ap);
}
int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vfprintf(stdout, fmt, ap);
    va_end(ap);
    return r;
}
int vdprintf(int fd, const char *fmt, va_list ap)
{
    REAL(vdprintf);
    return !is_stderr(fd) && fault_hit(K_WRITE) ? -1 : real_vdprintf(fd, fmt, ap);
}
int dprintf(int fd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vdprintf(fd, fmt, ap);
    va_end(ap);
    return r;
}
int fflush(FILE *f)
{
    REAL(fflush);
    if (!to_stderr(f) && fault_hit(K_WRITE)) return stream_error(f), EOF;
    return real_fflush(f);
}
int fclose(FILE *f)
{
    REAL(fclose);
    int writing = f && !to_stderr(f) && !(f->_flags & GLIBC_IO_NO_WRITES);
    int fail = writing && fault_hit(K_WRITE);
    int e = errno;
    int r = real_fclose(f);
    if (!fail) return r;
    errno = e;
    return EOF;
}

/* ---- rename, fsync ----------------------------------------------------- */

int rename(const char *a, const char *b)
{
    REAL(rename);
    return fault_hit(K_RENAME) ? -1 : real_rename(a, b);
}
int renameat(int da, const char *a, int db, const char *b)
{
    REAL(renameat);
    return fault_hit(K_RENAME) ? -1 : real_renameat(da, a, db, b);
}
int renameat2(int da, const char *a, int db, const char *b, unsigned flags)
{
    REAL(renameat2);
    return fault_hit(K_RENAME) ? -1 : real_renameat2(da, a, db, b, flags);
}
int fsync(int fd)
{
    REAL(fsync);
    return fault_hit(K_FSYNC) ? -1 : real_fsync(fd);
}
int fdatasync(int fd)
{
    REAL(fdatasync);
    return fault_hit(K_FSYNC) ? -1 : real_fdatasync(fd);
}

/* ---- open -------------------------------------------------------------- */

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}
int open(const char *p, int flags, ...)
{
    REAL(open);
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return fault_hit(K_OPEN) ? -1 : real_open(p, flags, m);
}
int open64(const char *p, int flags, ...)
{
    REAL(open64);
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return fault_hit(K_OPEN) ? -1 : real_open64(p, flags, m);
}
int openat(int d, const char *p, int flags, ...)
{
    REAL(openat);
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return fault_hit(K_OPEN) ? -1 : real_openat(d, p, flags, m);
}
int openat64(int d, const char *p, int flags, ...)
{
    REAL(openat64);
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return fault_hit(K_OPEN) ? -1 : real_openat64(d, p, flags, m);
}
int creat(const char *p, mode_t m)
{
    REAL(creat);
    return fault_hit(K_OPEN) ? -1 : real_creat(p, m);
}
FILE *fopen(const char *p, const char *m)
{
    REAL(fopen);
    return fault_hit(K_OPEN) ? NULL : real_fopen(p, m);
}
FILE *fopen64(const char *p, const char *m)
{
    REAL(fopen64);
    return fault_hit(K_OPEN) ? NULL : real_fopen64(p, m);
}
FILE *freopen(const char *p, const char *m, FILE *f)
{
    REAL(freopen);
    return fault_hit(K_OPEN) ? NULL : real_freopen(p, m, f);
}
FILE *fdopen(int fd, const char *m)
{
    REAL(fdopen);
    return fault_hit(K_OPEN) ? NULL : real_fdopen(fd, m);
}
int mkstemp(char *t)
{
    REAL(mkstemp);
    return fault_hit(K_OPEN) ? -1 : real_mkstemp(t);
}
int mkostemp(char *t, int flags)
{
    REAL(mkostemp);
    return fault_hit(K_OPEN) ? -1 : real_mkostemp(t, flags);
}
int mkstemps(char *t, int suffix)
{
    REAL(mkstemps);
    return fault_hit(K_OPEN) ? -1 : real_mkstemps(t, suffix);
}
int mkostemps(char *t, int suffix, int flags)
{
    REAL(mkostemps);
    return fault_hit(K_OPEN) ? -1 : real_mkostemps(t, suffix, flags);
}
DIR *opendir(const char *p)
{
    REAL(opendir);
    return fault_hit(K_OPEN) ? NULL : real_opendir(p);
}
FILE *tmpfile(void)
{
    REAL(tmpfile);
    return fault_hit(K_OPEN) ? NULL : real_tmpfile();
}

/* ---- mmap -------------------------------------------------------------- */

void *mmap(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
    REAL(mmap);
    return fault_hit(K_MMAP) ? MAP_FAILED : real_mmap(a, n, prot, flags, fd, off);
}
void *mmap64(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
    REAL(mmap64);
    return fault_hit(K_MMAP) ? MAP_FAILED : real_mmap64(a, n, prot, flags, fd, off);
}
