/* Per-tenant memory accounting (engine/memacct.c): charging and crediting
 * through the allocator's methods table, per-thread batching, quotas and
 * the server-wide limit, the mem_charge hook (the default extension against
 * the built-in, the fair-share policy's effect), threads freeing each
 * other's memory (TSan runs the "concurrent" test), and SQLite end to end
 * in a child process: a refused allocation is SQLITE_NOMEM, the database
 * stays intact and the connection usable.
 *
 * The counters are process-wide: each test uses tenants of its own. */
#include <pliant_storage.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/memacct.h"
#include "storage_testutil.h"
#include "testlib.h"

static const sqlite3_mem_methods *M;

static int64_t tenant_bytes(uint32_t t)
{
    struct memacct_tenant_stats s;
    memacct_flush_thread();
    memacct_tenant_stats(t, &s);
    return s.bytes;
}

static uint64_t tenant_refusals(uint32_t t)
{
    struct memacct_tenant_stats s;
    memacct_tenant_stats(t, &s);
    return s.refusals;
}

struct hand_over {
    void *block;
    uint32_t tenant;
    int grow_to;
};

static void *free_elsewhere(void *arg)
{
    struct hand_over *h = arg;
    memacct_set_thread_tenant(h->tenant);
    if (h->grow_to)
        h->block = M->xRealloc(h->block, h->grow_to);
    else
        M->xFree(h->block);
    return NULL; /* the thread's deltas are flushed as it exits */
}

TEST(memacct_frees_credit_the_tenant_charged_on_any_thread)
{
    M = memacct_methods();
    memacct_set_thread_tenant(3);
    CHECK_EQ(memacct_thread_tenant(), 3);
    void *a = M->xMalloc(1000), *b = M->xMalloc(100000);
    CHECK(a && b);
    CHECK_EQ(M->xSize(a), 1000);
    CHECK_EQ(tenant_bytes(3), 101000);
    /* Freed (and grown) on a thread working for tenant 4: tenant 3 is
     * credited (and charged the growth), tenant 4 is untouched. */
    pthread_t t;
    struct hand_over h = {.block = a, .tenant = 4, .grow_to = 5000};
    CHECK(pthread_create(&t, NULL, free_elsewhere, &h) == 0 && pthread_join(t, NULL) == 0);
    CHECK(h.block);
    CHECK_EQ(tenant_bytes(3), 105000);
    h = (struct hand_over){.block = h.block, .tenant = 4};
    CHECK(pthread_create(&t, NULL, free_elsewhere, &h) == 0 && pthread_join(t, NULL) == 0);
    CHECK_EQ(tenant_bytes(3), 100000);
    CHECK_EQ(tenant_bytes(4), 0);
    M->xFree(b);
    CHECK_EQ(tenant_bytes(3), 0);
    /* The server's own slot, for threads without a tenant. */
    memacct_set_thread_tenant(PL_TENANT_NONE);
    CHECK_EQ(memacct_thread_tenant(), PL_TENANT_NONE);
    struct memacct_tenant_stats s;
    CHECK_EQ(memacct_tenant_stats(PL_TENANT_NONE, &s), 0);
    CHECK_EQ(memacct_tenant_stats(MEMACCT_MAX_TENANTS, &s), -1);
}

TEST(memacct_small_allocations_reach_the_shared_counter_in_batches)
{
    M = memacct_methods();
    memacct_set_thread_tenant(5);
    struct memacct_stats before, after;
    memacct_stats(&before);
    enum { N = 100, SZ = 512 };
    void *p[N];
    for (int i = 0; i < N; i++)
        CHECK((p[i] = M->xMalloc(SZ)) != NULL);
    /* 100 * 512 < 64 KiB: nothing flushed, no check made. */
    struct memacct_tenant_stats s;
    memacct_tenant_stats(5, &s);
    memacct_stats(&after);
    CHECK_EQ(s.bytes, 0);
    CHECK_EQ(after.checks, before.checks);
    /* 28 more cross the batch: one check, and the shared counter has it. */
    void *q[28];
    for (int i = 0; i < 28; i++)
        CHECK((q[i] = M->xMalloc(SZ)) != NULL);
    memacct_tenant_stats(5, &s);
    memacct_stats(&after);
    CHECK_EQ(s.bytes, 128 * SZ);
    CHECK_EQ(after.checks, before.checks + 1);
    for (int i = 0; i < N; i++)
        M->xFree(p[i]);
    for (int i = 0; i < 28; i++)
        M->xFree(q[i]);
    CHECK_EQ(tenant_bytes(5), 0);
}

TEST(memacct_quota_refuses_over_quota_within_one_batch_of_slack)
{
    M = memacct_methods();
    const uint32_t T = 6;
    const int64_t quota = 1 << 20;
    memacct_set_quota(T, (uint64_t)quota);
    memacct_set_thread_tenant(T);
    (void)memacct_take_refusal();
    /* One allocation over the quota: refused at once, nothing charged. */
    CHECK(M->xMalloc(2 << 20) == NULL);
    CHECK(memacct_take_refusal());
    CHECK(!memacct_take_refusal());
    CHECK_EQ(tenant_refusals(T), 1);
    CHECK_EQ(tenant_bytes(T), 0);
    /* Small allocations: refused once the tenant is past its quota, at
     * most one batch (this thread's unflushed delta) later. */
    enum { SZ = 4000 };
    static void *blocks[1000];
    int n = 0;
    while (n < 1000 && (blocks[n] = M->xMalloc(SZ)) != NULL)
        n++;
    CHECK_MSG(n < 1000, "never refused");
    int64_t held = (int64_t)n * SZ;
    CHECK_MSG(held <= quota + MEMACCT_BATCH && held > quota - MEMACCT_BATCH, "held %lld of a %lld quota",
              (long long)held, (long long)quota);
    /* A refused realloc leaves the block as it was. */
    void *grown = M->xRealloc(blocks[0], 4 << 20);
    CHECK(grown == NULL && M->xSize(blocks[0]) == SZ);
    for (int i = 0; i < n; i++)
        M->xFree(blocks[i]);
    CHECK_EQ(tenant_bytes(T), 0);
    memacct_set_quota(T, 0);
    void *big = M->xMalloc(2 << 20);
    CHECK(big);
    M->xFree(big);
}

TEST(memacct_server_slot_is_never_refused)
{
    M = memacct_methods();
    memacct_set_limit(1 << 20);
    memacct_set_thread_tenant(PL_TENANT_NONE);
    void *p = M->xMalloc(4 << 20);
    memacct_set_thread_tenant(7);
    void *q = M->xMalloc(1 << 20);
    memacct_set_limit(0);
    CHECK(p != NULL);
    CHECK_MSG(q == NULL, "tenant 7 allocated over the server limit");
    M->xFree(p);
}

/* ------------------------------------------------------ the mem_charge hook */

/* A fixed script over two tenants with a quota and a server limit:
 * which allocations were refused, as a string of 0/1. */
static void run_script(char *out)
{
    const uint32_t A = 8, B = 9;
    memacct_set_quota(A, 3 << 20);
    memacct_set_quota(B, 0);
    memacct_set_limit(6 << 20);
    memacct_set_ntenants(2);
    static const struct {
        uint32_t tenant;
        int kb;
    } steps[] = {{8, 1024}, {8, 1024}, {8, 1024}, {8, 512}, {9, 2048}, {9, 2048}, {9, 1024}, {8, 64}, {9, 4},
                 {9, 100},  {8, 1},    {9, 1024}, {8, 2048}};
    void *held[sizeof steps / sizeof steps[0]];
    size_t n = sizeof steps / sizeof steps[0];
    for (size_t i = 0; i < n; i++) {
        memacct_set_thread_tenant(steps[i].tenant);
        held[i] = M->xMalloc(steps[i].kb << 10);
        out[i] = held[i] ? '0' : '1';
    }
    out[n] = 0;
    for (size_t i = 0; i < n; i++)
        M->xFree(held[i]);
    memacct_flush_thread();
    memacct_set_limit(0);
    memacct_set_quota(A, 0);
}

TEST(memacct_default_extension_matches_builtin)
{
    M = memacct_methods();
    char builtin[64], ext[64];
    run_script(builtin);
    pl_runtime *rt = storage_test_runtime(memacct_register_hooks);
    CHECK(rt);
    bool attached = storage_test_attach(rt, memacct_hook(), "mem_charge_default") == 0;
    struct memacct_stats before, after;
    memacct_stats(&before);
    if (attached)
        run_script(ext);
    memacct_stats(&after);
    struct pl_hook_stats hs;
    pl_hook_stats(memacct_hook(), &hs);
    memacct_unregister_hooks();
    pl_runtime_free(rt);
    CHECK(attached);
    CHECK_MSG(strcmp(builtin, ext) == 0, "built-in %s, mem_charge_default %s", builtin, ext);
    /* The script does exercise both rules. */
    CHECK_MSG(strchr(builtin, '1') && strchr(builtin, '0'), "%s", builtin);
    CHECK_EQ(hs.invocations, after.checks - before.checks);
    CHECK_EQ(after.hook_fallbacks, before.hook_fallbacks);
}

struct hold {
    uint32_t tenant;
    int mb;
    void *p;
};

static void take(struct hold *h)
{
    memacct_set_thread_tenant(h->tenant);
    h->p = M->xMalloc(h->mb << 20);
}

/* Server limit 8 MiB for two tenants (fair share 4 MiB each). A hog holds
 * 6 MiB; then a small tenant asks for 3 MiB. */
static void fair_share_scenario(bool *small_granted, bool *hog_granted)
{
    memacct_set_limit(8 << 20);
    memacct_set_ntenants(2);
    struct hold hog = {.tenant = 10, .mb = 6}, small = {.tenant = 11, .mb = 3}, more = {.tenant = 10, .mb = 1};
    take(&hog);
    take(&small);
    take(&more);
    *small_granted = small.p != NULL;
    *hog_granted = more.p != NULL;
    M->xFree(hog.p);
    M->xFree(small.p);
    M->xFree(more.p);
    memacct_flush_thread();
    memacct_set_limit(0);
}

TEST(memacct_fair_share_extension_refuses_the_hog_not_the_small_tenant)
{
    M = memacct_methods();
    bool small_builtin, hog_builtin, small_fair, hog_fair;
    fair_share_scenario(&small_builtin, &hog_builtin);
    pl_runtime *rt = storage_test_runtime(memacct_register_hooks);
    CHECK(rt);
    bool attached = storage_test_attach(rt, memacct_hook(), "mem_charge_fair_share") == 0;
    if (attached)
        fair_share_scenario(&small_fair, &hog_fair);
    memacct_unregister_hooks();
    pl_runtime_free(rt);
    CHECK(attached);
    /* Built-in: whoever allocates past the limit is refused, here the
     * small tenant, while the hog keeps growing under the limit. */
    CHECK(!small_builtin && hog_builtin);
    /* Fair share: the small tenant gets its memory, the hog does not. */
    CHECK(small_fair);
    CHECK(!hog_fair);
}

/* -------------------------------------------------- frames (the pool's API) */

TEST(memacct_frame_charges_share_quota_and_are_reported_apart)
{
    const uint32_t T = 13;
    memacct_set_quota(T, 1 << 20);
    CHECK(memacct_charge(T, 512 << 10, PL_MEM_FRAMES));
    CHECK(!memacct_charge(T, 1 << 20, PL_MEM_FRAMES));
    struct memacct_tenant_stats s;
    memacct_flush_thread();
    memacct_tenant_stats(T, &s);
    CHECK_EQ(s.bytes, 512 << 10);
    CHECK_EQ(s.frame_bytes, 512 << 10);
    CHECK_EQ(s.refusals, 1);
    memacct_release(T, 512 << 10, PL_MEM_FRAMES);
    memacct_flush_thread();
    memacct_tenant_stats(T, &s);
    CHECK_EQ(s.bytes, 0);
    CHECK_EQ(s.frame_bytes, 0);
    memacct_set_quota(T, 0);
}

/* ------------------------------------------------------------ concurrency */

#define XTHREADS 4
#define XSLOTS 256
static struct {
    pthread_mutex_t mu;
    void *slot[XSLOTS];
} exchange = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Each thread works for its own tenant (20 + i) and swaps blocks with the
 * others through a shared table, so that blocks are freed, grown and
 * shrunk on threads other than the one that charged them. */
static void *churn(void *arg)
{
    uint32_t me = (uint32_t)(uintptr_t)arg;
    memacct_set_thread_tenant(20 + me);
    uint64_t r = 0x9e3779b97f4a7c15ull * (me + 1);
    for (int i = 0; i < 20000; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        int sz = 1 + (int)(r % 3000);
        void *p = (r >> 20) % 8 == 0 ? M->xMalloc(70000) : M->xMalloc(sz);
        if (!p)
            continue;
        pthread_mutex_lock(&exchange.mu);
        uint32_t k = (uint32_t)(r >> 32) % XSLOTS;
        void *old = exchange.slot[k];
        exchange.slot[k] = p;
        pthread_mutex_unlock(&exchange.mu);
        if (old && (r >> 40) % 3 == 0)
            old = M->xRealloc(old, sz * 2);
        if (old)
            M->xFree(old);
    }
    return NULL;
}

TEST(memacct_concurrent_threads_balance_to_zero)
{
    M = memacct_methods();
    pthread_t t[XTHREADS];
    for (uintptr_t i = 0; i < XTHREADS; i++)
        CHECK(pthread_create(&t[i], NULL, churn, (void *)i) == 0);
    for (int i = 0; i < XTHREADS; i++)
        CHECK(pthread_join(t[i], NULL) == 0);
    for (int k = 0; k < XSLOTS; k++) {
        M->xFree(exchange.slot[k]);
        exchange.slot[k] = NULL;
    }
    /* Every thread flushed at exit; this one flushes now. */
    for (uint32_t i = 0; i < XTHREADS; i++)
        CHECK_MSG(tenant_bytes(20 + i) == 0, "tenant %u: %lld bytes left", 20 + i, (long long)tenant_bytes(20 + i));
}

/* ------------------------------------------------------ SQLite end to end */

static int exec_rc(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static int sqlite_child(void *unused)
{
    (void)unused;
    char err[256];
    if (memacct_install(err, sizeof err)) {
        fprintf(stderr, "  child: %s\n", err);
        return 10;
    }
    if (sqlite3_initialize() != SQLITE_OK)
        return 11;
    char dir[128];
    if (!storage_test_mkdir(dir, sizeof dir, "/tmp", "memacct"))
        return 12;
    char path[256];
    snprintf(path, sizeof path, "%s/t.db", dir);
    const uint32_t T = 30;
    memacct_set_quota(T, 4 << 20);
    memacct_set_thread_tenant(T);
    sqlite3 *db = NULL;
    int rc = 0;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        exec_rc(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);"
                    "INSERT INTO t VALUES (1, randomblob(1000));") != SQLITE_OK) {
        rc = 13;
        goto out;
    }
    /* Over the quota: SQLITE_NOMEM, in and out of a transaction. */
    if (exec_rc(db, "SELECT length(randomblob(8000000))") != SQLITE_NOMEM || !memacct_take_refusal()) {
        rc = 14;
        goto out;
    }
    if (exec_rc(db, "BEGIN; INSERT INTO t VALUES (2, randomblob(100));") != SQLITE_OK ||
        exec_rc(db, "INSERT INTO t VALUES (3, randomblob(8000000))") != SQLITE_NOMEM) {
        rc = 15;
        goto out;
    }
    /* SQLite may or may not have rolled the transaction back: finish it. */
    if (!sqlite3_get_autocommit(db))
        exec_rc(db, "ROLLBACK");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM t), (SELECT integrity_check FROM pragma_integrity_check)",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 1 ||
        strcmp((const char *)sqlite3_column_text(st, 1), "ok") != 0) {
        fprintf(stderr, "  child: after the refusals: %s\n", sqlite3_errmsg(db));
        rc = 16;
    }
    sqlite3_finalize(st);
    /* Under the quota, the same connection goes on. */
    if (!rc && exec_rc(db, "INSERT INTO t VALUES (4, randomblob(1000000))") != SQLITE_OK)
        rc = 17;
out:
    sqlite3_close(db);
    /* Everything the tenant's connection held is back. */
    if (!rc && tenant_bytes(T) != 0) {
        fprintf(stderr, "  child: tenant still charged %lld bytes after close\n", (long long)tenant_bytes(T));
        rc = 18;
    }
    if (!storage_test_rmdir(dir) && !rc)
        rc = 19;
    return rc;
}

TEST(memacct_sqlite_refusal_is_nomem_and_leaves_database_intact)
{
    int rc = storage_test_in_child(sqlite_child, NULL);
    CHECK_MSG(rc == 0, "child failed with %d", rc);
}
