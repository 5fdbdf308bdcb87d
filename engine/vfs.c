/* The "pliant" VFS shim (see vfs.h for what it does and why). */
#include "vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pliant_storage.h>

#include "hookreg.h"
#include "memacct.h"

/* O_DIRECT alignment of buffers, offsets and lengths: 4096 satisfies both
 * 512-byte and 4 KiB logical-sector devices. */
#define DIO_ALIGN 4096u
#define NO_OFFSET UINT64_MAX

/* The shim's own descriptor of one database inode (see vfs.h: never closed
 * while connections may hold locks on the file). */
struct inode_fd {
    dev_t dev;
    ino_t ino;
    int fd;                 /* O_DIRECT while `direct`; otherwise only for read-ahead advice */
    _Atomic bool direct;
    struct inode_fd *next;
};

struct vfile {
    sqlite3_file base;      /* pMethods = &main_methods */
    sqlite3_file *real;     /* the default VFS's file, right after this struct */
    struct inode_fd *inode; /* NULL: no descriptor of our own (no read-ahead, no direct I/O) */
    const char *path;       /* SQLite keeps the name alive until xClose */
    uint32_t id, tenant;
    /* Forward-run tracking and the range already advised (io_read). */
    uint64_t prev_off, prev_end, ra_lo, ra_hi;
    uint32_t seq;
    void *bounce;
    size_t bounce_len;
};

static struct {
    sqlite3_vfs vfs;
    sqlite3_vfs *orig;
    struct vfs_config cfg;
    bool installed;
    pthread_mutex_t mu; /* guards inodes */
    struct inode_fd *inodes;
} shim = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct {
    _Atomic uint64_t reads, read_bytes, writes, write_bytes;
    _Atomic uint64_t readahead_requests, readahead_pages, readahead_skipped;
    _Atomic uint64_t files_direct, files_buffered, direct_fallbacks;
    _Atomic uint64_t bounce_reads, bounce_writes, unaligned_writes, hook_fallbacks;
} st;

static _Atomic uint32_t next_file_id;
static _Atomic(pl_hook *) read_hook;

#define COUNT(c, n) atomic_fetch_add_explicit(&st.c, (n), memory_order_relaxed)

static void say(const char *event, const char *fmt, const char *path, const char *reason)
{
    if (!shim.cfg.log)
        return;
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, path, reason);
    shim.cfg.log(shim.cfg.log_user, event, msg);
}

/* ---------------------------------------------------------- descriptors */

static int libc_open(const char *path, int flags) { return open(path, flags); }

static bool direct_read_works(int fd)
{
    void *buf = NULL;
    if (posix_memalign(&buf, DIO_ALIGN, DIO_ALIGN) != 0)
        return false;
    ssize_t n = shim.cfg.sys_pread(fd, buf, DIO_ALIGN, 0);
    int e = errno;
    free(buf);
    return n >= 0 || e != EINVAL;
}

/* Turns an O_DIRECT descriptor buffered, for good: a failed probe or an
 * EINVAL at run time. Never closed (see vfs.h). */
static void direct_off(struct inode_fd *in, const char *path, const char *why)
{
    bool was = true;
    if (!atomic_compare_exchange_strong(&in->direct, &was, false))
        return;
    int fl = fcntl(in->fd, F_GETFL);
    if (fl >= 0)
        fcntl(in->fd, F_SETFL, fl & ~O_DIRECT);
    COUNT(direct_fallbacks, 1);
    say("direct_io_fallback", "file=\"%s\" msg=\"O_DIRECT not usable (%s): buffered I/O\"", path, why);
}

/* The shim's descriptor for the file at path, opened on first use. */
static struct inode_fd *inode_get(const char *path, bool readonly)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return NULL;
    pthread_mutex_lock(&shim.mu);
    struct inode_fd *in = shim.inodes;
    while (in && !(in->dev == sb.st_dev && in->ino == sb.st_ino))
        in = in->next;
    if (in) {
        pthread_mutex_unlock(&shim.mu);
        return in;
    }
    int acc = readonly ? O_RDONLY : O_RDWR;
    int fd = -1, open_errno = 0;
    if (shim.cfg.direct_io) {
        fd = shim.cfg.sys_open(path, acc | O_DIRECT | O_CLOEXEC);
        open_errno = fd < 0 ? errno : 0;
    }
    bool direct = fd >= 0;
    if (fd < 0)
        fd = shim.cfg.sys_open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &sb) == 0 && (in = calloc(1, sizeof *in))) {
        in->dev = sb.st_dev;
        in->ino = sb.st_ino;
        in->fd = fd;
        atomic_init(&in->direct, direct);
        in->next = shim.inodes;
        shim.inodes = in;
    }
    /* A descriptor that could not be listed stays open: closing it would
     * drop SQLite's locks on the file. */
    pthread_mutex_unlock(&shim.mu);
    if (open_errno) {
        char why[128];
        COUNT(direct_fallbacks, 1);
        say("direct_io_fallback", "file=\"%s\" msg=\"cannot open with O_DIRECT (%s): buffered I/O\"", path,
            strerror_r(open_errno, why, sizeof why));
    } else if (in && direct && !direct_read_works(fd)) {
        direct_off(in, path, "reads fail with EINVAL");
    }
    return in;
}

static bool is_direct(const struct vfile *f)
{
    return f->inode && atomic_load_explicit(&f->inode->direct, memory_order_relaxed);
}

/* --------------------------------------------------------- direct I/O */

static bool dio_aligned(uint64_t a, uint64_t b, uint64_t c) { return ((a | b | c) & (DIO_ALIGN - 1)) == 0; }

static void *bounce(struct vfile *f, size_t len)
{
    if (f->bounce_len >= len)
        return f->bounce;
    void *b = NULL;
    if (posix_memalign(&b, DIO_ALIGN, len) != 0)
        return NULL;
    free(f->bounce);
    f->bounce = b;
    f->bounce_len = len;
    return b;
}

/* Bytes transferred (fewer than n only at end of file), or -1. */
static ssize_t pread_full(int fd, void *buf, size_t n, off_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = shim.cfg.sys_pread(fd, (char *)buf + done, n - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

static ssize_t pwrite_full(int fd, const void *buf, size_t n, off_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd, (const char *)buf + done, n - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

enum { DIO_UNSUPPORTED = -1 }; /* EINVAL: retry buffered */

static int direct_read(struct vfile *f, void *buf, int amt, sqlite3_int64 off)
{
    ssize_t got;
    if (dio_aligned((uintptr_t)buf, (uint64_t)off, (uint64_t)amt)) {
        got = pread_full(f->inode->fd, buf, (size_t)amt, off);
    } else {
        uint64_t lo = (uint64_t)off & ~(uint64_t)(DIO_ALIGN - 1);
        uint64_t hi = ((uint64_t)off + (uint64_t)amt + DIO_ALIGN - 1) & ~(uint64_t)(DIO_ALIGN - 1);
        char *b = bounce(f, hi - lo);
        if (!b)
            return SQLITE_IOERR_NOMEM;
        COUNT(bounce_reads, 1);
        ssize_t n = pread_full(f->inode->fd, b, hi - lo, (off_t)lo);
        got = n;
        if (n >= 0) {
            ssize_t skip = (ssize_t)((uint64_t)off - lo);
            got = n > skip ? n - skip : 0;
            if (got > amt)
                got = amt;
            memcpy(buf, b + skip, (size_t)got);
        }
    }
    if (got < 0)
        return errno == EINVAL ? DIO_UNSUPPORTED : SQLITE_IOERR_READ;
    if (got < amt) {
        /* SQLite's contract for reads past the end: zero the rest. */
        memset((char *)buf + got, 0, (size_t)(amt - got));
        return SQLITE_IOERR_SHORT_READ;
    }
    return SQLITE_OK;
}

static int direct_write(struct vfile *f, const void *buf, int amt, sqlite3_int64 off)
{
    if (!dio_aligned(0, (uint64_t)off, (uint64_t)amt)) {
        COUNT(unaligned_writes, 1);
        return f->real->pMethods->xWrite(f->real, buf, amt, off);
    }
    if (!dio_aligned((uintptr_t)buf, 0, 0)) {
        void *b = bounce(f, (size_t)amt);
        if (!b)
            return SQLITE_IOERR_NOMEM;
        memcpy(b, buf, (size_t)amt);
        buf = b;
        COUNT(bounce_writes, 1);
    }
    if (pwrite_full(f->inode->fd, buf, (size_t)amt, off) >= 0)
        return SQLITE_OK;
    if (errno == EINVAL)
        return DIO_UNSUPPORTED;
    return errno == ENOSPC || errno == EDQUOT ? SQLITE_FULL : SQLITE_IOERR_WRITE;
}

/* ----------------------------------------------------------- read-ahead */

#ifndef PLIANT_NO_HOOKS
/* Advises the kernel to read `blocks` blocks of amt bytes after this read,
 * minus what an earlier request of the same run already covered. */
static void read_ahead(struct vfile *f, uint64_t off, uint32_t amt, uint64_t blocks)
{
    COUNT(readahead_requests, 1);
    if (!f->inode || is_direct(f)) {
        COUNT(readahead_skipped, 1);
        return;
    }
    uint64_t from = off + amt, to = from + blocks * amt;
    if (off >= f->ra_lo && off < f->ra_hi) {
        if (from < f->ra_hi)
            from = f->ra_hi;
    } else {
        f->ra_lo = off;
    }
    if (to <= from)
        return;
    if (posix_fadvise(f->inode->fd, (off_t)from, (off_t)(to - from), POSIX_FADV_WILLNEED) == 0)
        COUNT(readahead_pages, (to - from) / amt);
    f->ra_hi = to;
}

static void consult_io_read(struct vfile *f, uint64_t off, uint32_t amt)
{
    uint32_t seq = 1;
    if (f->prev_end != NO_OFFSET && off >= f->prev_end && off - f->prev_end <= 4ull * amt)
        seq = f->seq + 1;
    struct pl_io_read_ctx c = {.tenant = f->tenant, .file_id = f->id, .offset = off, .amount = amt,
                               .seq_reads = seq, .prev_offset = f->prev_off, .direct = is_direct(f)};
    f->seq = seq;
    f->prev_off = off;
    f->prev_end = off + amt;
    pl_hook *h = atomic_load_explicit(&read_hook, memory_order_acquire);
    uint64_t blocks;
    int rc = h ? pl_hook_run(h, &c, &blocks) : PL_HOOK_DEFAULT;
    if (rc == PL_HOOK_RAN && blocks > 0)
        read_ahead(f, off, amt, blocks); /* the JIT checked the range */
    else if (rc == PL_HOOK_FAULT)
        COUNT(hook_fallbacks, 1);
}
#endif

/* --------------------------------------------- main-file io_methods */

static sqlite3_file *real_of(sqlite3_file *p) { return ((struct vfile *)p)->real; }

static int m_close(sqlite3_file *p)
{
    struct vfile *f = (struct vfile *)p;
    int rc = f->real->pMethods->xClose(f->real);
    free(f->bounce);
    f->bounce = NULL;
    return rc;
}

static int m_read(sqlite3_file *p, void *buf, int amt, sqlite3_int64 off)
{
    struct vfile *f = (struct vfile *)p;
    COUNT(reads, 1);
    COUNT(read_bytes, (uint64_t)amt);
    int rc = DIO_UNSUPPORTED;
    if (is_direct(f)) {
        rc = direct_read(f, buf, amt, off);
        if (rc == DIO_UNSUPPORTED)
            direct_off(f->inode, f->path, "a read failed with EINVAL");
    }
    if (rc == DIO_UNSUPPORTED)
        rc = f->real->pMethods->xRead(f->real, buf, amt, off);
#ifndef PLIANT_NO_HOOKS
    if (rc == SQLITE_OK)
        consult_io_read(f, (uint64_t)off, (uint32_t)amt);
#endif
    return rc;
}

static int m_write(sqlite3_file *p, const void *buf, int amt, sqlite3_int64 off)
{
    struct vfile *f = (struct vfile *)p;
    COUNT(writes, 1);
    COUNT(write_bytes, (uint64_t)amt);
    int rc = DIO_UNSUPPORTED;
    if (is_direct(f)) {
        rc = direct_write(f, buf, amt, off);
        if (rc == DIO_UNSUPPORTED)
            direct_off(f->inode, f->path, "a write failed with EINVAL");
    }
    if (rc == DIO_UNSUPPORTED)
        rc = f->real->pMethods->xWrite(f->real, buf, amt, off);
    return rc;
}

/* Everything else is the default VFS's, on its own descriptor. */
static int m_truncate(sqlite3_file *p, sqlite3_int64 size)
{
    return real_of(p)->pMethods->xTruncate(real_of(p), size);
}
static int m_sync(sqlite3_file *p, int flags) { return real_of(p)->pMethods->xSync(real_of(p), flags); }
static int m_file_size(sqlite3_file *p, sqlite3_int64 *size)
{
    return real_of(p)->pMethods->xFileSize(real_of(p), size);
}
static int m_lock(sqlite3_file *p, int level) { return real_of(p)->pMethods->xLock(real_of(p), level); }
static int m_unlock(sqlite3_file *p, int level) { return real_of(p)->pMethods->xUnlock(real_of(p), level); }
static int m_check_reserved(sqlite3_file *p, int *out)
{
    return real_of(p)->pMethods->xCheckReservedLock(real_of(p), out);
}
static int m_file_control(sqlite3_file *p, int op, void *arg)
{
    return real_of(p)->pMethods->xFileControl(real_of(p), op, arg);
}
static int m_sector_size(sqlite3_file *p) { return real_of(p)->pMethods->xSectorSize(real_of(p)); }
static int m_device_chars(sqlite3_file *p) { return real_of(p)->pMethods->xDeviceCharacteristics(real_of(p)); }
static int m_shm_map(sqlite3_file *p, int pg, int sz, int extend, void volatile **out)
{
    return real_of(p)->pMethods->xShmMap(real_of(p), pg, sz, extend, out);
}
static int m_shm_lock(sqlite3_file *p, int off, int n, int flags)
{
    return real_of(p)->pMethods->xShmLock(real_of(p), off, n, flags);
}
static void m_shm_barrier(sqlite3_file *p) { real_of(p)->pMethods->xShmBarrier(real_of(p)); }
static int m_shm_unmap(sqlite3_file *p, int del) { return real_of(p)->pMethods->xShmUnmap(real_of(p), del); }

/* Version 2: the WAL index, and no xFetch, so SQLite never maps the file
 * (a mapped read would bypass io_read and O_DIRECT). */
static const sqlite3_io_methods main_methods = {
    .iVersion = 2, .xClose = m_close, .xRead = m_read, .xWrite = m_write, .xTruncate = m_truncate,
    .xSync = m_sync, .xFileSize = m_file_size, .xLock = m_lock, .xUnlock = m_unlock,
    .xCheckReservedLock = m_check_reserved, .xFileControl = m_file_control, .xSectorSize = m_sector_size,
    .xDeviceCharacteristics = m_device_chars, .xShmMap = m_shm_map, .xShmLock = m_shm_lock,
    .xShmBarrier = m_shm_barrier, .xShmUnmap = m_shm_unmap,
};

/* -------------------------------------------------------------- the VFS */

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags, int *out_flags)
{
    (void)vfs;
    sqlite3_vfs *orig = shim.orig;
    /* Other files are the default VFS's own: our szOsFile is larger than
     * its, so it can use SQLite's memory for its file object directly. */
    if (!(flags & SQLITE_OPEN_MAIN_DB) || !name)
        return orig->xOpen(orig, name, p, flags, out_flags);
    struct vfile *f = (struct vfile *)p;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int got = 0;
    int rc = orig->xOpen(orig, name, f->real, flags, &got);
    if (out_flags)
        *out_flags = got;
    if (rc != SQLITE_OK) {
        if (f->real->pMethods)
            f->real->pMethods->xClose(f->real);
        return rc;
    }
    f->path = name;
    f->id = atomic_fetch_add_explicit(&next_file_id, 1, memory_order_relaxed) + 1;
    f->tenant = memacct_thread_tenant();
    f->prev_off = f->prev_end = NO_OFFSET;
    f->inode = inode_get(name, (got & SQLITE_OPEN_READONLY) != 0);
    COUNT(files_direct, is_direct(f));
    COUNT(files_buffered, !is_direct(f));
    f->base.pMethods = &main_methods;
    return SQLITE_OK;
}

static int v_delete(sqlite3_vfs *v, const char *name, int sync)
{
    (void)v;
    return shim.orig->xDelete(shim.orig, name, sync);
}
static int v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return shim.orig->xAccess(shim.orig, name, flags, out);
}
static int v_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return shim.orig->xFullPathname(shim.orig, name, n, out);
}
static void *v_dlopen(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return shim.orig->xDlOpen(shim.orig, name);
}
static void v_dlerror(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    shim.orig->xDlError(shim.orig, n, out);
}
static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return shim.orig->xDlSym(shim.orig, h, sym);
}
static void v_dlclose(sqlite3_vfs *v, void *h)
{
    (void)v;
    shim.orig->xDlClose(shim.orig, h);
}
static int v_randomness(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return shim.orig->xRandomness(shim.orig, n, out);
}
static int v_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return shim.orig->xSleep(shim.orig, us);
}
static int v_current_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return shim.orig->xCurrentTime(shim.orig, out);
}
static int v_last_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return shim.orig->xGetLastError(shim.orig, n, out);
}
static int v_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return shim.orig->xCurrentTimeInt64(shim.orig, out);
}

int vfs_install(const struct vfs_config *cfg, char *err, size_t errlen)
{
    if (shim.installed) {
        snprintf(err, errlen, "the %s VFS is already installed", VFS_NAME);
        return -1;
    }
    sqlite3_vfs *orig = sqlite3_vfs_find(NULL);
    if (!orig || orig->iVersion < 2) {
        snprintf(err, errlen, "SQLite has no default VFS (version 2 or later) to build the %s VFS on", VFS_NAME);
        return -1;
    }
    shim.orig = orig;
    shim.cfg = *cfg;
    if (!shim.cfg.sys_open)
        shim.cfg.sys_open = libc_open;
    if (!shim.cfg.sys_pread)
        shim.cfg.sys_pread = pread;
    /* The system-call overrides (SQLite's own tests use them) are passed
     * through as they are: they ignore the VFS argument. */
    shim.vfs = (sqlite3_vfs){
        .iVersion = 2, .szOsFile = (int)sizeof(struct vfile) + orig->szOsFile, .mxPathname = orig->mxPathname,
        .zName = VFS_NAME, .xOpen = v_open, .xDelete = v_delete, .xAccess = v_access,
        .xFullPathname = v_full_pathname, .xDlOpen = v_dlopen, .xDlError = v_dlerror, .xDlSym = v_dlsym,
        .xDlClose = v_dlclose, .xRandomness = v_randomness, .xSleep = v_sleep, .xCurrentTime = v_current_time,
        .xGetLastError = v_last_error, .xCurrentTimeInt64 = v_current_time64,
    };
    int rc = sqlite3_vfs_register(&shim.vfs, 1);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot register the %s VFS: %s", VFS_NAME, sqlite3_errstr(rc));
        return -1;
    }
    shim.installed = true;
    return 0;
}

void vfs_uninstall(void)
{
    if (!shim.installed)
        return;
    sqlite3_vfs_unregister(&shim.vfs);
    pthread_mutex_lock(&shim.mu);
    while (shim.inodes) {
        struct inode_fd *in = shim.inodes;
        shim.inodes = in->next;
        close(in->fd);
        free(in);
    }
    pthread_mutex_unlock(&shim.mu);
    shim.installed = false;
}

/* --------------------------------------------------------------- hooks */

int vfs_register_hooks(pl_runtime *rt, char *err, size_t errlen)
{
#ifdef PLIANT_NO_HOOKS
    (void)rt, (void)err, (void)errlen;
    return 0;
#else
    static const struct pl_hook_field fields[] = {
        HOOKREG_FIELD(struct pl_io_read_ctx, tenant),    HOOKREG_FIELD(struct pl_io_read_ctx, file_id),
        HOOKREG_FIELD(struct pl_io_read_ctx, offset),    HOOKREG_FIELD(struct pl_io_read_ctx, amount),
        HOOKREG_FIELD(struct pl_io_read_ctx, seq_reads), HOOKREG_FIELD(struct pl_io_read_ctx, prev_offset),
        HOOKREG_FIELD(struct pl_io_read_ctx, direct),
    };
    return hookreg_register(rt, "io_read", sizeof(struct pl_io_read_ctx), fields, sizeof fields / sizeof fields[0],
                            PL_IO_READAHEAD_MAX, &read_hook, err, errlen);
#endif
}

void vfs_unregister_hooks(void) { atomic_store_explicit(&read_hook, NULL, memory_order_release); }

pl_hook *vfs_hook(void) { return atomic_load_explicit(&read_hook, memory_order_acquire); }

void vfs_stats(struct vfs_stats *out)
{
#define LD(c) atomic_load_explicit(&st.c, memory_order_relaxed)
    *out = (struct vfs_stats){
        .reads = LD(reads), .read_bytes = LD(read_bytes), .writes = LD(writes), .write_bytes = LD(write_bytes),
        .readahead_requests = LD(readahead_requests), .readahead_pages = LD(readahead_pages),
        .readahead_skipped = LD(readahead_skipped), .files_direct = LD(files_direct),
        .files_buffered = LD(files_buffered), .direct_fallbacks = LD(direct_fallbacks),
        .bounce_reads = LD(bounce_reads), .bounce_writes = LD(bounce_writes),
        .unaligned_writes = LD(unaligned_writes), .hook_fallbacks = LD(hook_fallbacks),
    };
#undef LD
}
