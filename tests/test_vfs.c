/* The "pliant" VFS shim (engine/vfs.c), installed as SQLite's default VFS
 * for each scenario and removed after it: O_DIRECT on the disk and on
 * tmpfs with the data intact across a checkpoint and a reopen, the
 * fallback to buffered I/O when O_DIRECT is refused at open or fails at
 * run time, and the io_read hook — the default extension changes nothing,
 * the sequential detector advises read-ahead during a scan. */
#include <errno.h>
#include <fcntl.h>
#include <pliant_storage.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/vfs.h"
#include "storage_testutil.h"
#include "testlib.h"

#define ROWS 3000

_Static_assert(sizeof(struct vfs_stats) % sizeof(uint64_t) == 0, "vfs_stats holds only uint64_t counters");

static char logged[4096];

static void capture_log(void *user, const char *event, const char *msg)
{
    (void)user;
    size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%s %s\n", event, msg);
}

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "  %s: %s\n", sql, msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rc;
}

/* A text column checked row by row: "<id>-<id, zero-padded to 990>". */
static int fill(const char *path)
{
    sqlite3 *db = NULL;
    char sql[256];
    snprintf(sql, sizeof sql,
             "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < %d)"
             "  INSERT INTO t SELECT i, printf('%%d-%%0990d', i, i) FROM n;"
             "PRAGMA wal_checkpoint(TRUNCATE);",
             ROWS);
    int rc = sqlite3_open(path, &db) != SQLITE_OK || exec(db, sql) != SQLITE_OK;
    sqlite3_close(db);
    return rc;
}

/* Reads everything back through a small cache (so through the file):
 * 0 when every row is what fill() wrote and integrity_check passes. */
static int verify(const char *path, sqlite3 **keep)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open(path, &db) != SQLITE_OK || exec(db, "PRAGMA cache_size=20") != SQLITE_OK;
    if (!rc)
        rc = sqlite3_prepare_v2(db,
                                "SELECT count(*), sum(v = printf('%d-%0990d', id, id)),"
                                " (SELECT integrity_check FROM pragma_integrity_check) FROM t",
                                -1, &st, NULL) != SQLITE_OK ||
             sqlite3_step(st) != SQLITE_ROW;
    if (!rc && (sqlite3_column_int(st, 0) != ROWS || sqlite3_column_int(st, 1) != ROWS ||
                strcmp((const char *)sqlite3_column_text(st, 2), "ok") != 0)) {
        fprintf(stderr, "  %d rows, %d intact, integrity %s\n", sqlite3_column_int(st, 0),
                sqlite3_column_int(st, 1), sqlite3_column_text(st, 2));
        rc = 1;
    }
    sqlite3_finalize(st);
    if (keep && !rc)
        *keep = db;
    else
        sqlite3_close(db);
    return rc;
}

/* ------------------------------------------------------------ direct I/O */

static int sys_calls;

static int open_refusing_direct(const char *path, int flags)
{
    if (flags & O_DIRECT) {
        errno = EINVAL;
        return -1;
    }
    return open(path, flags);
}

/* Lets the probe through, then fails every direct read as a file system
 * that accepts O_DIRECT at open but not the I/O would. */
static ssize_t pread_failing_direct(int fd, void *buf, size_t n, off_t off)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_DIRECT) && sys_calls++ > 0) {
        errno = EINVAL;
        return -1;
    }
    return pread(fd, buf, n, off);
}

enum dio_case { DIO_DISK, DIO_TMPFS, DIO_REFUSED_AT_OPEN, DIO_EINVAL_LATER };

static int direct_io(enum dio_case c)
{
    logged[0] = 0;
    sys_calls = 0;
    char dir[128];
    if (!storage_test_mkdir(dir, sizeof dir, c == DIO_TMPFS ? "/dev/shm" : "/tmp", "vfs"))
        return 10;
    struct vfs_config cfg = {.direct_io = true, .log = capture_log};
    if (c == DIO_REFUSED_AT_OPEN)
        cfg.sys_open = open_refusing_direct;
    if (c == DIO_EINVAL_LATER)
        cfg.sys_pread = pread_failing_direct;
    char err[256], path[256];
    if (vfs_install(&cfg, err, sizeof err)) {
        fprintf(stderr, "  %s\n", err);
        return 11;
    }
    snprintf(path, sizeof path, "%s/t.db", dir);
    struct vfs_stats st, before;
    vfs_stats(&before);
    int rc = fill(path) ? 12 : verify(path, NULL) ? 13 : 0;
    vfs_stats(&st);
    storage_test_delta(&st, &before, sizeof st);
    vfs_uninstall();
    sqlite3_shutdown();
    bool said = strstr(logged, "direct_io_fallback") && strstr(logged, path);
    if (!rc && (st.files_direct + st.files_buffered != 2 || st.reads == 0 || st.writes == 0))
        rc = 14;
    switch (c) {
    case DIO_DISK:
    case DIO_TMPFS:
        /* Either file system may or may not take O_DIRECT (tmpfs does
         * since Linux 6.6): direct with its bounce buffers, or one
         * fallback that says so. */
        if (!rc && st.files_direct && (st.direct_fallbacks || said || st.bounce_reads == 0 || st.bounce_writes == 0))
            rc = 15;
        if (!rc && !st.files_direct && (st.direct_fallbacks != 1 || !said))
            rc = 16;
        break;
    case DIO_REFUSED_AT_OPEN:
        if (!rc && (st.files_direct || st.direct_fallbacks != 1 || !said || !strstr(logged, "cannot open")))
            rc = 17;
        break;
    case DIO_EINVAL_LATER:
        if (!rc && (st.files_direct != 1 || st.direct_fallbacks != 1 || !said || sys_calls < 2))
            rc = 18;
        break;
    }
    if (rc >= 14)
        fprintf(stderr,
                "  case %d: direct %llu buffered %llu fallbacks %llu bounce %llu/%llu reads %llu writes %llu; "
                "log: %s\n",
                (int)c, (unsigned long long)st.files_direct, (unsigned long long)st.files_buffered,
                (unsigned long long)st.direct_fallbacks, (unsigned long long)st.bounce_reads,
                (unsigned long long)st.bounce_writes, (unsigned long long)st.reads, (unsigned long long)st.writes,
                logged);
    if (!storage_test_rmdir(dir) && !rc)
        rc = 19;
    return rc;
}

TEST(vfs_direct_io_on_disk_keeps_data_intact)
{
    int rc = direct_io(DIO_DISK);
    CHECK_MSG(rc == 0, "failed with %d", rc);
}

TEST(vfs_direct_io_on_tmpfs_keeps_data_intact)
{
    int rc = direct_io(DIO_TMPFS);
    CHECK_MSG(rc == 0, "failed with %d", rc);
}

TEST(vfs_o_direct_refused_at_open_falls_back_to_buffered)
{
    int rc = direct_io(DIO_REFUSED_AT_OPEN);
    CHECK_MSG(rc == 0, "failed with %d", rc);
}

TEST(vfs_o_direct_failing_at_run_time_falls_back_to_buffered)
{
    int rc = direct_io(DIO_EINVAL_LATER);
    CHECK_MSG(rc == 0, "failed with %d", rc);
}

/* -------------------------------------------------------------- io_read */

struct scan {
    uint64_t reads, requests, pages, hook_runs;
};

/* A full scan through a 20-page cache; what the shim saw. */
static int scan(const char *path, struct scan *out)
{
    struct vfs_stats a, b;
    struct pl_hook_stats ha = {0}, hb = {0};
    vfs_stats(&a);
    pl_hook_stats(vfs_hook(), &ha);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open(path, &db) != SQLITE_OK || exec(db, "PRAGMA cache_size=20") != SQLITE_OK ||
             sqlite3_prepare_v2(db, "SELECT count(*), sum(length(v)) FROM t", -1, &st, NULL) != SQLITE_OK ||
             sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != ROWS;
    sqlite3_finalize(st);
    sqlite3_close(db);
    vfs_stats(&b);
    pl_hook_stats(vfs_hook(), &hb);
    *out = (struct scan){.reads = b.reads - a.reads, .requests = b.readahead_requests - a.readahead_requests,
                         .pages = b.readahead_pages - a.readahead_pages,
                         .hook_runs = hb.invocations - ha.invocations};
    return rc;
}

TEST(vfs_io_read_default_changes_nothing_sequential_detector_reads_ahead)
{
    char dir[128];
    CHECK(storage_test_mkdir(dir, sizeof dir, "/tmp", "vfs"));
    char err[256], path[256];
    struct vfs_config cfg = {0};
    CHECK_MSG(vfs_install(&cfg, err, sizeof err) == 0, "%s", err);
    pl_runtime *rt = storage_test_runtime(vfs_register_hooks);
    snprintf(path, sizeof path, "%s/t.db", dir);
    struct vfs_stats st, before;
    vfs_stats(&before);
    struct scan builtin = {0}, dflt = {0}, seq = {0};
    int rc = !rt || fill(path) || scan(path, &builtin) ? 13 : 0;
    if (!rc && (storage_test_attach(rt, vfs_hook(), "io_read_default") || scan(path, &dflt)))
        rc = 14;
    if (!rc && (storage_test_attach(rt, vfs_hook(), "io_readahead_seq") || scan(path, &seq)))
        rc = 15;
    vfs_stats(&st);
    storage_test_delta(&st, &before, sizeof st);
    vfs_unregister_hooks();
    if (rt)
        pl_runtime_free(rt);
    vfs_uninstall();
    sqlite3_shutdown();
    /* The scan reads the table through the file (about 750 pages). */
    if (!rc && builtin.reads < 600)
        rc = 16;
    /* Default: the same reads, every one through the hook, no read-ahead. */
    if (!rc && (dflt.reads != builtin.reads || dflt.hook_runs != dflt.reads || builtin.requests || dflt.requests))
        rc = 17;
    /* Sequential detector: read-ahead over most of the table, each block
     * advised once. */
    if (!rc && (seq.reads != builtin.reads || seq.requests == 0 || seq.pages < builtin.reads / 2 ||
                seq.pages > builtin.reads + 128 || st.hook_fallbacks))
        rc = 18;
    CHECK(storage_test_rmdir(dir));
    CHECK_MSG(rc == 0,
              "failed with %d: built-in/default/sequential: reads %llu/%llu/%llu, read-ahead requests "
              "%llu/%llu/%llu, pages %llu/%llu/%llu",
              rc, (unsigned long long)builtin.reads, (unsigned long long)dflt.reads, (unsigned long long)seq.reads,
              (unsigned long long)builtin.requests, (unsigned long long)dflt.requests, (unsigned long long)seq.requests,
              (unsigned long long)builtin.pages, (unsigned long long)dflt.pages, (unsigned long long)seq.pages);
}
