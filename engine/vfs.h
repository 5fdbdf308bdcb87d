/* The "pliant" VFS: a shim over SQLite's default VFS (issue 5, hookpoint
 * `io_read`; context in sdk/include/pliant_storage.h).
 *
 * Only main database files are wrapped; journals, WALs and temporary files
 * are the default VFS's own. For a main file the shim
 *   - passes every read through `io_read`, which may ask to read ahead the
 *     next N blocks (posix_fadvise(WILLNEED) on buffered files);
 *   - optionally (direct_io) reads and writes it with O_DIRECT, so that the
 *     buffer pool is the only cache of database pages. Reads whose buffer,
 *     offset or length is not 4096-aligned (the pager's header reads) go
 *     through an aligned bounce buffer; writes with only the buffer
 *     unaligned are copied into one; the rare write whose range is not
 *     aligned goes through the default VFS's buffered write (the kernel
 *     writes that page back before the next direct read of it). Support
 *     is probed when a file is first opened and again on every EINVAL: a
 *     file system that refuses O_DIRECT (tmpfs, some overlays) gets
 *     buffered I/O and one log line, never an error.
 * Locking, sync, size, truncation and the WAL index stay with the default
 * VFS's own descriptor (fsync of it covers the inode, so also the direct
 * writes). The shim keeps one descriptor of its own per database inode,
 * opened on first use and closed only by vfs_uninstall(): closing any
 * descriptor of a file drops every POSIX lock the process holds on it,
 * which SQLite's connections rely on. Memory-mapped I/O is off (the shim's
 * files are io_methods version 2), as it already is by default.
 *
 * Use: vfs_install() registers the shim as SQLite's default VFS (so every
 * sqlite3_open uses it); vfs_register_hooks() once the runtime exists,
 * vfs_unregister_hooks() before freeing it; vfs_uninstall() after the last
 * connection closed. */
#ifndef PL_ENGINE_VFS_H
#define PL_ENGINE_VFS_H

#include <pliant/pliant.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VFS_NAME "pliant"

struct vfs_config {
    bool direct_io; /* O_DIRECT for main database files where supported */
    /* Told about a fallback from O_DIRECT to buffered I/O (event
     * "direct_io_fallback", msg names the file and the reason). NULL: silent. */
    void (*log)(void *user, const char *event, const char *msg);
    void *log_user;
    /* The system calls the shim's own descriptor uses; NULL: libc's. The
     * tests substitute ones that refuse O_DIRECT, as tmpfs does on older
     * kernels and some overlays do still. */
    int (*sys_open)(const char *path, int flags);
    ssize_t (*sys_pread)(int fd, void *buf, size_t n, off_t off);
};

int vfs_install(const struct vfs_config *cfg, char *err, size_t errlen);
/* Unregisters the shim and closes its descriptors. Only once every
 * connection that used it is closed. */
void vfs_uninstall(void);

int vfs_register_hooks(pl_runtime *rt, char *err, size_t errlen);
void vfs_unregister_hooks(void);
pl_hook *vfs_hook(void);

struct vfs_stats {
    uint64_t reads, read_bytes;   /* of main database files */
    uint64_t writes, write_bytes;
    uint64_t readahead_requests;  /* io_read answers above 0 */
    uint64_t readahead_pages;     /* blocks advised (WILLNEED), not counting ones advised before */
    uint64_t readahead_skipped;   /* requests on O_DIRECT files (not performed) */
    uint64_t files_direct, files_buffered; /* main-file opens, by the mode they got */
    uint64_t direct_fallbacks;    /* files that fell back to buffered I/O */
    uint64_t bounce_reads, bounce_writes; /* direct I/O through the aligned bounce buffer */
    uint64_t unaligned_writes;    /* direct files: writes of an unaligned range, done buffered */
    uint64_t hook_fallbacks;      /* io_read faults: built-in (no read-ahead) used */
};
void vfs_stats(struct vfs_stats *out);

#endif
