/* The buffer pool (engine/pcache.c): the pcache2 contract driven through
 * the methods table, the memory budget, tenants, and SQLite end to end in
 * a child process. Concurrency: test_pcache_concurrent.c; hookpoints:
 * test_pcache_hooks.c; eviction policies: test_pcache_policies.c. */
#include "testlib.h"
#include "pcache_harness.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------ contract tests */

TEST(pcache_fetch_create_flags_and_unpin)
{
    CHECK(pool_up(32, 0));
    sqlite3_pcache *c = M->xCreate(PAGE, EXTRA, 1);
    CHECK(c);
    CHECK(M->xFetch(c, 1, 0) == NULL); /* createFlag 0: only if present */
    sqlite3_pcache_page *pg = M->xFetch(c, 1, 1);
    CHECK(pg);
    CHECK(all_zero(pg->pExtra, EXTRA));
    CHECK_EQ((uintptr_t)pg->pBuf % 4096, 0); /* direct I/O alignment */
    memset(pg->pExtra, 0xab, EXTRA);
    memset(pg->pBuf, 0x11, PAGE);
    CHECK_EQ(M->xPagecount(c), 1);
    CHECK(M->xFetch(c, 1, 0) == pg);
    M->xUnpin(c, pg, 0);
    CHECK_EQ(M->xPagecount(c), 1); /* unpinned pages stay cached */
    sqlite3_pcache_page *again = M->xFetch(c, 1, 0);
    CHECK(again == pg);
    CHECK_EQ(((unsigned char *)again->pExtra)[EXTRA - 1], 0xab);
    CHECK_EQ(((unsigned char *)again->pBuf)[PAGE - 1], 0x11);
    M->xUnpin(c, again, 1); /* discard */
    CHECK_EQ(M->xPagecount(c), 0);
    CHECK(M->xFetch(c, 1, 0) == NULL);
    /* A page created again after a discard gets a zeroed pExtra. */
    pg = M->xFetch(c, 1, 2);
    CHECK(pg);
    CHECK(all_zero(pg->pExtra, EXTRA));
    M->xUnpin(c, pg, 0);
    struct pcache_stats st;
    pcache_stats(&st);
    CHECK_EQ(st.frames, 1);
    CHECK_EQ(st.pinned_bytes, 0);
    M->xDestroy(c);
    pcache_stats(&st);
    CHECK_EQ(st.frames, 0);
    CHECK_EQ(st.bytes, 0);
    CHECK(pool_down());
}

TEST(pcache_rekey_replaces_existing_page)
{
    CHECK(pool_up(32, 0));
    sqlite3_pcache *c = M->xCreate(PAGE, EXTRA, 1);
    sqlite3_pcache_page *p5 = M->xFetch(c, 5, 1), *p6 = M->xFetch(c, 6, 1);
    CHECK(p5 && p6);
    memset(p5->pBuf, 5, PAGE);
    M->xUnpin(c, p6, 0);
    M->xRekey(c, p5, 5, 6);
    CHECK_EQ(M->xPagecount(c), 1);
    CHECK(M->xFetch(c, 5, 0) == NULL);
    CHECK(M->xFetch(c, 6, 0) == p5);
    CHECK_EQ(((unsigned char *)p5->pBuf)[0], 5);
    /* Rekey to a free key keeps the page findable under the new one only. */
    M->xRekey(c, p5, 6, 1000);
    CHECK(M->xFetch(c, 6, 0) == NULL);
    CHECK(M->xFetch(c, 1000, 0) == p5);
    M->xUnpin(c, p5, 0);
    M->xDestroy(c);
    CHECK(pool_down());
}

TEST(pcache_truncate_drops_pages_at_and_above_limit)
{
    CHECK(pool_up(32, 0));
    sqlite3_pcache *c = M->xCreate(PAGE, EXTRA, 1);
    sqlite3_pcache_page *pg[11] = {0};
    for (unsigned k = 1; k <= 10; k++) {
        pg[k] = M->xFetch(c, k, 1);
        CHECK(pg[k]);
        if (k % 2)
            M->xUnpin(c, pg[k], 0);
    }
    /* 6, 8 and 10 are still pinned: dropped anyway, as SQLite's own
     * pcache1 does (the pager never touches them again). */
    M->xTruncate(c, 5);
    CHECK_EQ(M->xPagecount(c), 4);
    for (unsigned k = 1; k <= 10; k++) {
        sqlite3_pcache_page *p = M->xFetch(c, k, 0);
        CHECK_MSG((p != NULL) == (k < 5), "page %u after truncate(5): %p", k, (void *)p);
    }
    struct pcache_stats st;
    pcache_stats(&st);
    CHECK_EQ(st.frames, 4);
    CHECK_EQ(st.pinned_bytes, 4 * frame_bytes()); /* 1..4 pinned by the probe fetches */
    M->xTruncate(c, 0);
    CHECK_EQ(M->xPagecount(c), 0);
    pcache_stats(&st);
    CHECK_EQ(st.pinned_bytes, 0);
    M->xDestroy(c);
    CHECK(pool_down());
}

TEST(pcache_shrink_keeps_pinned_pages)
{
    CHECK(pool_up(32, 0));
    sqlite3_pcache *c = M->xCreate(PAGE, EXTRA, 1);
    M->xCachesize(c, 100);
    for (unsigned k = 1; k <= 10; k++) {
        sqlite3_pcache_page *p = M->xFetch(c, k, 1);
        CHECK(p);
        if (k <= 6)
            M->xUnpin(c, p, 0);
    }
    M->xShrink(c);
    CHECK_EQ(M->xPagecount(c), 4);
    for (unsigned k = 7; k <= 10; k++)
        CHECK(M->xFetch(c, k, 0) != NULL);
    M->xDestroy(c); /* with pinned pages: everything goes */
    struct pcache_stats st;
    pcache_stats(&st);
    CHECK_EQ(st.bytes, 0);
    CHECK_EQ(st.caches, 0);
    CHECK(pool_down());
}

TEST(pcache_budget_respected_and_lru_order)
{
    CHECK(pool_up(16, 0));
    sqlite3_pcache *c = M->xCreate(PAGE, EXTRA, 1);
    for (unsigned k = 1; k <= 100; k++) {
        sqlite3_pcache_page *p = M->xFetch(c, k, 1);
        CHECK_MSG(p, "fetch %u refused", k);
        M->xUnpin(c, p, 0);
        struct pcache_stats st;
        pcache_stats(&st);
        CHECK_MSG(st.bytes <= st.budget_bytes, "%llu bytes over budget %llu at page %u",
                  (unsigned long long)st.bytes, (unsigned long long)st.budget_bytes, k);
    }
    CHECK_EQ(M->xPagecount(c), 16);
    for (unsigned k = 85; k <= 100; k++) { /* the 16 most recently released */
        sqlite3_pcache_page *p = M->xFetch(c, k, 0);
        CHECK_MSG(p, "page %u should be resident", k);
        M->xUnpin(c, p, 0);
    }
    struct pcache_stats st;
    pcache_stats(&st);
    CHECK_EQ(st.evictions, 84);
    CHECK_EQ(st.misses, 100);
    CHECK_EQ(st.hits, 16);
    M->xDestroy(c);
    CHECK(pool_down());
}

TEST(pcache_pinned_pages_never_evicted)
{
    CHECK(pool_up(16, 20));
    sqlite3_pcache *c = M->xCreate(PAGE, EXTRA, 1);
    sqlite3_pcache_page *held[8];
    for (unsigned k = 0; k < 8; k++) {
        held[k] = M->xFetch(c, 1000 + k, 2);
        CHECK(held[k]);
        memset(held[k]->pBuf, (int)k + 1, PAGE);
    }
    for (unsigned k = 1; k <= 200; k++) {
        sqlite3_pcache_page *p = M->xFetch(c, k, 2);
        CHECK(p);
        M->xUnpin(c, p, 0);
    }
    for (unsigned k = 0; k < 8; k++) {
        CHECK(M->xFetch(c, 1000 + k, 0) == held[k]);
        CHECK_EQ(((unsigned char *)held[k]->pBuf)[PAGE / 2], k + 1);
    }
    /* Pinned pages above 90% of the budget: the easy fetch declines (so
     * SQLite spills), the insistent one evicts the last unpinned frames. */
    sqlite3_pcache_page *more[7];
    for (unsigned k = 0; k < 7; k++) {
        more[k] = M->xFetch(c, 2000 + k, 2);
        CHECK(more[k]);
    }
    CHECK(M->xFetch(c, 3000, 1) == NULL);
    sqlite3_pcache_page *last = M->xFetch(c, 3000, 2);
    CHECK(last); /* 16 of 16 frames pinned now */
    /* Everything pinned: createFlag 2 may exceed the budget up to the hard
     * limit (20 frames), then fails. */
    sqlite3_pcache_page *over[4];
    for (unsigned k = 0; k < 4; k++) {
        over[k] = M->xFetch(c, 4000 + k, 2);
        CHECK_MSG(over[k], "over-budget fetch %u refused below the hard limit", k);
    }
    CHECK(M->xFetch(c, 5000, 2) == NULL);
    struct pcache_stats st;
    pcache_stats(&st);
    CHECK_EQ(st.bytes, 20 * frame_bytes());
    CHECK(st.refused >= 2);
    /* Releasing frames gives the excess back at once. */
    for (unsigned k = 0; k < 4; k++)
        M->xUnpin(c, over[k], 0);
    pcache_stats(&st);
    CHECK_EQ(st.bytes, 16 * frame_bytes());
    for (unsigned k = 0; k < 8; k++)
        CHECK(M->xFetch(c, 1000 + k, 0) == held[k]);
    M->xDestroy(c);
    CHECK(pool_down());
}

TEST(pcache_tenants_and_non_purgeable_caches)
{
    CHECK(pool_up(16, 0));
    pcache_set_thread_tenant(3);
    sqlite3_pcache *a = M->xCreate(PAGE, EXTRA, 1);
    pcache_set_thread_tenant(4);
    sqlite3_pcache *mem = M->xCreate(PAGE, EXTRA, 0); /* an in-memory database */
    pcache_set_thread_tenant(0);
    CHECK(a && mem);
    for (unsigned k = 1; k <= 24; k++) {
        sqlite3_pcache_page *p = M->xFetch(mem, k, 1);
        CHECK_MSG(p, "non-purgeable fetch %u refused", k);
        memset(p->pBuf, (int)k, PAGE);
        M->xUnpin(mem, p, 0);
    }
    for (unsigned k = 1; k <= 40; k++) {
        sqlite3_pcache_page *p = M->xFetch(a, k, 2);
        if (p)
            M->xUnpin(a, p, 0);
    }
    /* The in-memory database lost nothing although it exceeds the budget
     * alone; its pages are never eviction candidates. */
    CHECK_EQ(M->xPagecount(mem), 24);
    for (unsigned k = 1; k <= 24; k++) {
        sqlite3_pcache_page *p = M->xFetch(mem, k, 0);
        CHECK(p);
        CHECK_EQ(((unsigned char *)p->pBuf)[7], k);
        M->xUnpin(mem, p, 0);
    }
    struct pcache_tenant_stats t3, t4;
    CHECK_EQ(pcache_tenant_stats(3, &t3), 0);
    CHECK_EQ(pcache_tenant_stats(4, &t4), 0);
    CHECK_EQ(t4.bytes, 24 * frame_bytes());
    CHECK_EQ(t3.misses, 40);
    CHECK_EQ(t4.hits, 24);
    CHECK_EQ(t4.evictions, 0);
    CHECK_EQ(pcache_tenant_stats(PCACHE_MAX_TENANTS, &t3), -1);
    M->xDestroy(a);
    M->xDestroy(mem);
    CHECK_EQ(pcache_tenant_stats(4, &t4), 0);
    CHECK_EQ(t4.bytes, 0);
    CHECK(pool_down());
}

TEST(pcache_pool_lifecycle_errors)
{
    char err[256];
    struct pcache_config tiny = {.budget_bytes = 1000};
    CHECK(pcache_pool_init(&tiny, err, sizeof err) != 0);
    CHECK(strstr(err, "too small"));
    CHECK(pool_up(16, 0));
    sqlite3_pcache *c = M->xCreate(PAGE, EXTRA, 1);
    CHECK(pcache_pool_shutdown(err, sizeof err) != 0);
    CHECK(strstr(err, "close every connection"));
    M->xDestroy(c);
    CHECK(pool_down());
}

/* -------------------------------------------------------- SQLite end to end */

static int e2e_child(void)
{
    char err[256];
    /* ~100 frames of 4 KiB pages against a database of several MiB. */
    uint64_t budget = 100 * pcache_frame_bytes(4096, 512);
    struct pcache_config cfg = {.budget_bytes = budget, .hard_limit_bytes = budget * 2};
    if (pcache_install(&cfg, err, sizeof err)) {
        fprintf(stderr, "  child: %s\n", err);
        return 10;
    }
    if (sqlite3_initialize() != SQLITE_OK)
        return 11;
    char dir[] = "/tmp/pliant-pcache-XXXXXX";
    if (!mkdtemp(dir))
        return 12;
    char path[128];
    snprintf(path, sizeof path, "%s/t.db", dir);
    sqlite3 *db[2] = {0};
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        pcache_set_thread_tenant((uint32_t)i + 1);
        if (sqlite3_open(path, &db[i]) != SQLITE_OK) {
            rc = 13;
            goto out;
        }
        sqlite3_busy_timeout(db[i], 5000);
    }
    const char *setup =
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v BLOB);"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 6000)"
        "  INSERT INTO t SELECT i, (i * 7919) % 6000, randomblob(900) FROM n;"
        "CREATE INDEX t_k ON t(k);"
        "UPDATE t SET v = randomblob(700) WHERE id % 3 = 0;"
        "DELETE FROM t WHERE id % 5 = 0;";
    char *msg = NULL;
    if (sqlite3_exec(db[0], setup, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "  child: setup: %s\n", msg ? msg : "?");
        sqlite3_free(msg);
        rc = 14;
        goto out;
    }
    /* Both connections read through the shared pool. */
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db[i], "SELECT count(*), sum(length(v)) FROM t WHERE k >= 0", -1, &st, NULL) !=
                SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 4800) {
            fprintf(stderr, "  child: count on connection %d: %s\n", i, sqlite3_errmsg(db[i]));
            sqlite3_finalize(st);
            rc = 15;
            goto out;
        }
        sqlite3_finalize(st);
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db[1], "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
        fprintf(stderr, "  child: integrity_check: %s\n",
                st && sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : sqlite3_errmsg(db[1]));
        sqlite3_finalize(st);
        rc = 16;
        goto out;
    }
    sqlite3_finalize(st);
    struct pcache_stats ps;
    pcache_stats(&ps);
    struct pcache_tenant_stats t1, t2;
    pcache_tenant_stats(1, &t1);
    pcache_tenant_stats(2, &t2);
    if (ps.evictions == 0 || ps.bytes > ps.hard_limit_bytes || t1.misses == 0 || t2.misses == 0) {
        fprintf(stderr, "  child: pool stats: %llu evictions, %llu of %llu bytes, tenant misses %llu/%llu\n",
                (unsigned long long)ps.evictions, (unsigned long long)ps.bytes,
                (unsigned long long)ps.hard_limit_bytes, (unsigned long long)t1.misses,
                (unsigned long long)t2.misses);
        rc = 17;
    }
out:
    for (int i = 0; i < 2; i++)
        sqlite3_close(db[i]);
    sqlite3_shutdown();
    if (!rc && pcache_pool_shutdown(err, sizeof err)) {
        fprintf(stderr, "  child: %s\n", err);
        rc = 18;
    }
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0 && !rc)
        rc = 19;
    return rc;
}

/* sqlite3_config() works only before SQLite initialises, once per process:
 * the child gets a process of its own, leaving the test binary untouched. */
TEST(pcache_sqlite_end_to_end_integrity)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(e2e_child());
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: status 0x%x (exit code %d)", status,
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}
