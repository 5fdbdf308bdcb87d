/* The wal_checkpoint hookpoint (engine/checkpoint.c): the built-in and the
 * default extension reproduce SQLite's own auto-checkpoint commit by
 * commit; the adaptive policy's decisions, and its effect on a real WAL
 * (truncated when idle, deferred under load). */
#include <pliant_storage.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../engine/checkpoint.h"
#include "storage_testutil.h"
#include "testlib.h"

#define COMMITS 400
#define FRAME_BYTES (24 + 4096)

_Static_assert(sizeof(struct ckpt_stats) % sizeof(uint64_t) == 0, "ckpt_stats holds only uint64_t counters");

struct trace {
    long db[COMMITS], wal[COMMITS]; /* file sizes after each commit */
};

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* COMMITS commits of about six pages each into a fresh database in dir,
 * recording the file sizes after each. hooked: our WAL hook replaces
 * SQLite's auto-checkpoint; otherwise SQLite's own checkpoints at 100. */
static int run_commits(const char *dir, const char *name, bool hooked, struct trace *t)
{
    char path[256], wal[300];
    snprintf(path, sizeof path, "%s/%s.db", dir, name);
    snprintf(wal, sizeof wal, "%s-wal", path);
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db) != SQLITE_OK;
    if (!rc && hooked)
        ckpt_attach(db, 0);
    else if (!rc)
        rc = sqlite3_wal_autocheckpoint(db, 100) != SQLITE_OK;
    if (!rc)
        rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
                              "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)",
                          NULL, NULL, NULL) != SQLITE_OK;
    for (int i = 0; !rc && i < COMMITS; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT INTO t VALUES (%d, zeroblob(20000))", i);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK;
        t->db[i] = file_size(path);
        t->wal[i] = file_size(wal);
    }
    if (rc)
        fprintf(stderr, "  %s: %s\n", name, sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc;
}

static long max_of(const long *v)
{
    long m = 0;
    for (int i = 0; i < COMMITS; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

static int first_difference(const struct trace *a, const struct trace *b)
{
    for (int i = 0; i < COMMITS; i++)
        if (a->db[i] != b->db[i] || a->wal[i] != b->wal[i])
            return i;
    return -1;
}

/* ------------------------------------------ default == SQLite's own */

TEST(checkpoint_builtin_and_default_extension_match_sqlite_autocheckpoint)
{
    char dir[128];
    CHECK(storage_test_mkdir(dir, sizeof dir, "/tmp", "ckpt"));
    static struct trace sqlite_own, builtin, ext;
    ckpt_set_autocheckpoint(100);
    struct ckpt_stats before, st;
    ckpt_stats(&before);
    int rc = run_commits(dir, "own", false, &sqlite_own) || run_commits(dir, "builtin", true, &builtin) ? 11 : 0;
    ckpt_stats(&st);
    storage_test_delta(&st, &before, sizeof st);
    pl_runtime *rt = storage_test_runtime(ckpt_register_hooks);
    if (!rc && (!rt || storage_test_attach(rt, ckpt_hook(), "wal_checkpoint_default") ||
                run_commits(dir, "ext", true, &ext)))
        rc = 12;
    struct pl_hook_stats hs = {0};
    if (rt) {
        pl_hook_stats(ckpt_hook(), &hs);
        ckpt_unregister_hooks();
        pl_runtime_free(rt);
    }
    sqlite3_shutdown();
    CHECK(storage_test_rmdir(dir));
    CHECK_EQ(rc, 0);
    int d1 = first_difference(&sqlite_own, &builtin), d2 = first_difference(&sqlite_own, &ext);
    int i = d1 >= 0 ? d1 : d2 >= 0 ? d2 : 0;
    CHECK_MSG(d1 < 0 && d2 < 0, "commit %d: db/wal sizes SQLite %ld/%ld, built-in %ld/%ld, default extension %ld/%ld",
              i, sqlite_own.db[i], sqlite_own.wal[i], builtin.db[i], builtin.wal[i], ext.db[i], ext.wal[i]);
    /* The run checkpointed several times, and every commit asked. */
    CHECK(st.by_mode[PL_CKPT_PASSIVE] >= 3);
    CHECK_EQ(st.commits, COMMITS + 1);
    CHECK_EQ(hs.invocations, COMMITS + 1);
}

/* ------------------------------------------------ the adaptive policy */

static uint64_t decide(pl_prog *p, struct pl_wal_checkpoint_ctx c)
{
    uint64_t ret = 99;
    if (pl_prog_run(p, &c, sizeof c, true, &ret))
        return 98;
    return ret;
}

TEST(checkpoint_adaptive_policy_truncates_idle_defers_busy)
{
    pl_runtime *rt = storage_test_runtime(ckpt_register_hooks);
    CHECK(rt);
    char path[512];
    snprintf(path, sizeof path, "%s/extensions/wal_checkpoint_adaptive.bpf.o", tl_build_dir());
    pl_object *obj = NULL;
    pl_error err = {0};
    int rc = pl_object_open_file(rt, path, &(struct pl_object_opts){.hook = ckpt_hook()}, &obj, &err);
    pl_prog *p = rc ? NULL : pl_object_prog(obj, 0);
    const uint64_t s = 1000000000ull;
    uint64_t idle_big = 99, idle_small = 99, busy_defer = 99, busy_cap = 99, busy_old = 99, off = 99, normal = 99;
    if (p) {
        idle_big = decide(p, (struct pl_wal_checkpoint_ctx){.wal_frames = 300, .autocheckpoint = 1000, .running = 1});
        idle_small = decide(p, (struct pl_wal_checkpoint_ctx){.wal_frames = 200, .autocheckpoint = 1000});
        busy_defer = decide(p, (struct pl_wal_checkpoint_ctx){.wal_frames = 3000, .autocheckpoint = 1000,
                                                              .running = 2, .since_ckpt_ns = s});
        busy_cap = decide(p, (struct pl_wal_checkpoint_ctx){.wal_frames = 4000, .autocheckpoint = 1000, .running = 2});
        busy_old = decide(p, (struct pl_wal_checkpoint_ctx){.wal_frames = 1200, .autocheckpoint = 1000, .running = 1,
                                                            .queued = 3, .since_ckpt_ns = 11 * s});
        normal = decide(p, (struct pl_wal_checkpoint_ctx){.wal_frames = 900, .autocheckpoint = 1000, .running = 2,
                                                          .since_ckpt_ns = 11 * s});
        off = decide(p, (struct pl_wal_checkpoint_ctx){.wal_frames = 5000, .autocheckpoint = 0});
    }
    pl_object_close(obj);
    ckpt_unregister_hooks();
    pl_runtime_free(rt);
    CHECK_MSG(p, "%s: %s", path, err.msg);
    CHECK_EQ(idle_big, PL_CKPT_TRUNCATE);
    CHECK_EQ(idle_small, PL_CKPT_NONE);
    CHECK_EQ(busy_defer, PL_CKPT_NONE);
    CHECK_EQ(busy_cap, PL_CKPT_PASSIVE);
    CHECK_EQ(busy_old, PL_CKPT_PASSIVE);
    CHECK_EQ(normal, PL_CKPT_NONE);
    CHECK_EQ(off, PL_CKPT_NONE);
}

static void busy_load(void *user, uint32_t *running, uint32_t *queued, uint32_t *workers)
{
    (void)user;
    *running = 4;
    *queued = 2;
    *workers = 4;
}

/* COMMITS commits with the adaptive policy, the load as load_fn says:
 * checkpoints by mode, how often the WAL was empty after a commit, and its
 * high-water mark in frames. */
static int adaptive_run(ckpt_load_fn load_fn, struct ckpt_stats *st, int *wal_emptied, long *max_frames)
{
    char dir[128];
    if (!storage_test_mkdir(dir, sizeof dir, "/tmp", "ckpt"))
        return 10;
    ckpt_set_autocheckpoint(100);
    ckpt_set_load_source(load_fn, NULL);
    static struct trace t;
    struct ckpt_stats before;
    ckpt_stats(&before);
    pl_runtime *rt = storage_test_runtime(ckpt_register_hooks);
    int rc = !rt || storage_test_attach(rt, ckpt_hook(), "wal_checkpoint_adaptive") || run_commits(dir, "a", true, &t)
                 ? 11
                 : 0;
    ckpt_stats(st);
    storage_test_delta(st, &before, sizeof *st);
    ckpt_unregister_hooks();
    if (rt)
        pl_runtime_free(rt);
    ckpt_set_load_source(NULL, NULL);
    sqlite3_shutdown();
    *wal_emptied = 0;
    for (int i = 0; i < COMMITS; i++)
        *wal_emptied += t.wal[i] == 0;
    *max_frames = max_of(t.wal) / FRAME_BYTES;
    if (!storage_test_rmdir(dir) && !rc)
        rc = 19;
    return rc;
}

TEST(checkpoint_adaptive_truncates_wal_when_idle)
{
    struct ckpt_stats st;
    int emptied;
    long frames;
    CHECK_EQ(adaptive_run(NULL, &st, &emptied, &frames), 0);
    /* No load source: idle. TRUNCATE at a quarter of the threshold. */
    CHECK(st.by_mode[PL_CKPT_TRUNCATE] > 0);
    CHECK_EQ(st.by_mode[PL_CKPT_PASSIVE], 0);
    CHECK(emptied > 0);
    CHECK_MSG(frames < 100, "WAL reached %ld frames", frames);
}

TEST(checkpoint_adaptive_defers_under_load)
{
    struct ckpt_stats st;
    int emptied;
    long frames;
    CHECK_EQ(adaptive_run(busy_load, &st, &emptied, &frames), 0);
    /* Deferred to 4 x the threshold, then PASSIVE (never TRUNCATE). */
    CHECK(st.by_mode[PL_CKPT_PASSIVE] > 0);
    CHECK_EQ(st.by_mode[PL_CKPT_TRUNCATE], 0);
    CHECK_EQ(emptied, 0);
    CHECK_MSG(frames >= 400, "WAL reached only %ld frames", frames);
}
