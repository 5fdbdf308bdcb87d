/* The buffer pool (engine/pcache.c): the pcache2 contract driven through
 * the methods table, the memory budget, concurrency (TSan runs the
 * "concurrent" tests), SQLite end to end in a child process, and the
 * page_evict hook replaying reference traces against the built-in LRU and
 * against an independent model of each policy. */
#include "testlib.h"
#include "insn.h"
#include "../engine/pcache.h"

#include <pliant_pcache.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define EXTRA 64

static const sqlite3_pcache_methods2 *M;

/* A fresh pool of `frames` frames of PAGE+EXTRA; hard limit in frames too
 * (0: the budget). */
static bool pool_up(uint64_t frames, uint64_t hard_frames)
{
    char err[256];
    M = pcache_methods();
    struct pcache_config cfg = {.budget_bytes = frames * pcache_frame_bytes(PAGE, EXTRA),
                                .hard_limit_bytes = hard_frames * pcache_frame_bytes(PAGE, EXTRA)};
    if (pcache_pool_init(&cfg, err, sizeof err)) {
        fprintf(stderr, "  pcache_pool_init: %s\n", err);
        return false;
    }
    return true;
}

static bool pool_down(void)
{
    char err[256];
    pcache_set_evict_observer(NULL, NULL);
    if (pcache_pool_shutdown(err, sizeof err)) {
        fprintf(stderr, "  pcache_pool_shutdown: %s\n", err);
        return false;
    }
    return true;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static uint64_t frame_bytes(void) { return pcache_frame_bytes(PAGE, EXTRA); }

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

/* ---------------------------------------------------------- concurrency */

struct worker {
    uint32_t tenant;
    uint64_t seed;
    int failures;
    char why[160];
};

static uint64_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* A page's identity as the worker wrote it, checked on every hit: a frame
 * handed to two owners, or evicted while pinned, shows up here. */
struct stamp {
    uint32_t tenant, key;
};

static bool check_or_fill(struct worker *w, sqlite3_pcache_page *p, unsigned key)
{
    uint32_t *marker = p->pExtra;
    struct stamp want = {w->tenant, key};
    if (*marker == 0) {
        if (!all_zero(p->pExtra, EXTRA)) {
            snprintf(w->why, sizeof w->why, "new page %u: pExtra not zeroed", key);
            return false;
        }
        *marker = key + 1;
        memcpy(p->pBuf, &want, sizeof want);
        memcpy((char *)p->pBuf + PAGE - sizeof want, &want, sizeof want);
        return true;
    }
    struct stamp a, b;
    memcpy(&a, p->pBuf, sizeof a);
    memcpy(&b, (char *)p->pBuf + PAGE - sizeof b, sizeof b);
    if (*marker != key + 1 || memcmp(&a, &want, sizeof a) || memcmp(&b, &want, sizeof b)) {
        snprintf(w->why, sizeof w->why, "tenant %u page %u: found page of tenant %u key %u (marker %u)",
                 w->tenant, key, a.tenant, a.key, *marker);
        return false;
    }
    return true;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pcache_set_thread_tenant(w->tenant);
    sqlite3_pcache *c = M->xCreate(PAGE, EXTRA, 1);
    if (!c) {
        w->failures++;
        snprintf(w->why, sizeof w->why, "xCreate failed");
        return NULL;
    }
    enum { HOLD = 3 };
    sqlite3_pcache_page *held[HOLD] = {0};
    unsigned held_key[HOLD] = {0};
    for (int i = 0; i < 20000 && !w->failures; i++) {
        uint64_t r = rnd(&w->seed);
        unsigned key = (unsigned)(r % 200) + 1;
        bool is_held = false;
        for (int h = 0; h < HOLD; h++)
            is_held |= held[h] && held_key[h] == key;
        if (is_held)
            continue;
        if (r % 997 == 0) {
            /* Truncate drops pinned pages too, so let go of them first,
             * as the pager does before it truncates. */
            for (int h = 0; h < HOLD; h++)
                if (held[h]) {
                    M->xUnpin(c, held[h], 0);
                    held[h] = NULL;
                }
            M->xTruncate(c, 100);
            continue;
        }
        sqlite3_pcache_page *p = M->xFetch(c, key, (r >> 8) % 2 ? 1 : 2);
        if (!p)
            p = M->xFetch(c, key, 2);
        if (!p) {
            w->failures++;
            snprintf(w->why, sizeof w->why, "createFlag 2 fetch of %u failed with few pages pinned", key);
            break;
        }
        if (!check_or_fill(w, p, key)) {
            w->failures++;
            break;
        }
        int slot = (int)(r >> 16) % HOLD;
        if (held[slot]) {
            if ((r >> 20) % 50 == 0) {
                /* Rekey to a key this worker neither holds nor will see
                 * again as the old page: the contract forbids a pinned
                 * page at the new key. */
                unsigned nk = held_key[slot] + 1000;
                M->xRekey(c, held[slot], held_key[slot], nk);
                uint32_t *marker = held[slot]->pExtra;
                *marker = nk + 1;
                struct stamp s = {w->tenant, nk};
                memcpy(held[slot]->pBuf, &s, sizeof s);
                memcpy((char *)held[slot]->pBuf + PAGE - sizeof s, &s, sizeof s);
                M->xUnpin(c, held[slot], 1); /* nk is never fetched: drop it */
            } else {
                M->xUnpin(c, held[slot], (r >> 24) % 20 == 0);
            }
        }
        held[slot] = p;
        held_key[slot] = key;
    }
    for (int h = 0; h < HOLD; h++)
        if (held[h])
            M->xUnpin(c, held[h], 0);
    M->xDestroy(c);
    return NULL;
}

TEST(pcache_concurrent_fetch_unpin_small_budget)
{
    CHECK(pool_up(48, 0));
    enum { THREADS = 4 };
    struct worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.tenant = (uint32_t)i + 1, .seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)};
        CHECK(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++)
        CHECK_MSG(w[i].failures == 0, "worker %d: %s", i, w[i].why);
    struct pcache_stats st;
    pcache_stats(&st);
    CHECK_EQ(st.frames, 0);
    CHECK_EQ(st.bytes, 0);
    CHECK(st.evictions > 0);
    for (uint32_t i = 1; i <= THREADS; i++) {
        struct pcache_tenant_stats ts;
        CHECK_EQ(pcache_tenant_stats(i, &ts), 0);
        CHECK(ts.misses > 0 && ts.hits > 0);
        CHECK_EQ(ts.bytes, 0);
    }
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

/* --------------------------------------------------------- page_evict hook */

#define TRACE_LEN 30000
#define TRACE_FRAMES 64

/* A reference trace with what separates policies: a hot set, uniform
 * noise, and periodic sequential scans larger than the pool. */
static uint32_t *make_trace(void)
{
    uint32_t *t = malloc(TRACE_LEN * sizeof(*t));
    if (!t)
        return NULL;
    uint64_t s = 42;
    size_t n = 0;
    uint32_t scan = 1000;
    while (n < TRACE_LEN) {
        if (n % 3000 == 2000) {
            for (int i = 0; i < 120 && n < TRACE_LEN; i++)
                t[n++] = scan++;
            continue;
        }
        uint64_t r = rnd(&s);
        t[n++] = r % 10 < 7 ? 1 + (uint32_t)(r >> 8) % 48 : 100 + (uint32_t)(r >> 8) % 500;
    }
    return t;
}

struct run {
    uint64_t hits, misses, hook_victims, hook_fallbacks;
    uint32_t nevict;
    uint32_t *evicted;
};

static void record_eviction(void *user, uint32_t cache_id, uint32_t tenant, uint32_t pgno)
{
    (void)cache_id;
    (void)tenant;
    struct run *r = user;
    if (r->nevict < TRACE_LEN)
        r->evicted[r->nevict++] = pgno;
}

static bool replay(const uint32_t *trace, struct run *r)
{
    memset(r, 0, sizeof(*r));
    r->evicted = calloc(TRACE_LEN, sizeof(uint32_t));
    if (!r->evicted || !pool_up(TRACE_FRAMES, 0))
        return false;
    pcache_set_evict_observer(record_eviction, r);
    sqlite3_pcache *c = M->xCreate(PAGE, EXTRA, 1);
    bool ok = c != NULL;
    for (size_t i = 0; ok && i < TRACE_LEN; i++) {
        sqlite3_pcache_page *p = M->xFetch(c, trace[i], 2);
        ok = p != NULL;
        if (ok)
            M->xUnpin(c, p, 0);
    }
    struct pcache_stats st;
    pcache_stats(&st);
    r->hits = st.hits;
    r->misses = st.misses;
    r->hook_victims = st.hook_victims;
    r->hook_fallbacks = st.hook_fallbacks;
    if (c)
        M->xDestroy(c);
    return pool_down() && ok;
}

/* An independent model of "evict among the PL_EVICT_CANDIDATES least
 * recently used": plain arrays, no lists, no pool. lfu selects the
 * tail-LFU rule of extensions/evict_lfu.bpf.c, else plain LRU. */
static void model(const uint32_t *trace, bool lfu, struct run *r)
{
    uint32_t key[TRACE_FRAMES], cnt[TRACE_FRAMES];
    uint64_t last[TRACE_FRAMES], clock = 0;
    int m = 0;
    memset(r, 0, sizeof(*r));
    r->evicted = calloc(TRACE_LEN, sizeof(uint32_t));
    for (size_t i = 0; i < TRACE_LEN; i++) {
        int at = -1;
        for (int j = 0; j < m; j++)
            if (key[j] == trace[i])
                at = j;
        if (at >= 0) {
            r->hits++;
            cnt[at]++;
            last[at] = ++clock;
            continue;
        }
        r->misses++;
        if (m == TRACE_FRAMES) {
            /* The candidates: the 16 smallest `last`, found by selection. */
            bool taken[TRACE_FRAMES] = {0};
            int victim = -1;
            for (int c = 0; c < PL_EVICT_CANDIDATES; c++) {
                int o = -1;
                for (int j = 0; j < m; j++)
                    if (!taken[j] && (o < 0 || last[j] < last[o]))
                        o = j;
                taken[o] = true;
                if (victim < 0 || (lfu && (cnt[o] < cnt[victim] || (cnt[o] == cnt[victim] && last[o] < last[victim]))))
                    victim = o;
            }
            if (r->evicted)
                r->evicted[r->nevict++] = key[victim];
            key[victim] = key[m - 1];
            cnt[victim] = cnt[m - 1];
            last[victim] = last[m - 1];
            m--;
        }
        key[m] = trace[i];
        cnt[m] = 1;
        last[m] = ++clock;
        m++;
    }
}

static pl_runtime *hook_runtime(void)
{
    pl_runtime *rt = NULL;
    pl_error err = {0};
    char msg[256];
    if (pl_runtime_new(NULL, &rt, &err)) {
        fprintf(stderr, "  pl_runtime_new: %s\n", err.msg);
        return NULL;
    }
    if (pcache_register_hooks(rt, msg, sizeof msg)) {
        fprintf(stderr, "  %s\n", msg);
        pl_runtime_free(rt);
        return NULL;
    }
    return rt;
}

static void hook_runtime_free(pl_runtime *rt)
{
    pcache_unregister_hooks();
    pl_runtime_free(rt);
}

static int attach_extension(pl_runtime *rt, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/extensions/%s.bpf.o", tl_build_dir(), name);
    pl_error err = {0};
    pl_object *obj = NULL;
    pl_hook *h = pcache_hook_page_evict();
    struct pl_object_opts opts = {.hook = h};
    int rc = pl_object_open_file(rt, path, &opts, &obj, &err);
    pl_prog *prog = rc ? NULL : pl_object_find_prog(obj, "hook/page_evict");
    if (!rc && !prog)
        rc = PL_ENOENT;
    if (!rc)
        rc = pl_hook_attach(h, prog, &err);
    if (rc)
        fprintf(stderr, "  %s: %s\n", path, err.msg);
    pl_object_close(obj);
    return rc;
}

static bool same_run(const struct run *a, const struct run *b, const char *what)
{
    if (a->hits != b->hits || a->misses != b->misses || a->nevict != b->nevict) {
        fprintf(stderr, "  %s: hits %llu/%llu misses %llu/%llu evictions %u/%u\n", what,
                (unsigned long long)a->hits, (unsigned long long)b->hits, (unsigned long long)a->misses,
                (unsigned long long)b->misses, a->nevict, b->nevict);
        return false;
    }
    for (uint32_t i = 0; i < a->nevict; i++)
        if (a->evicted[i] != b->evicted[i]) {
            fprintf(stderr, "  %s: eviction %u differs: page %u vs %u\n", what, i, a->evicted[i], b->evicted[i]);
            return false;
        }
    return true;
}

TEST(pcache_evict_trace_lru_extension_matches_builtin)
{
    uint32_t *trace = make_trace();
    CHECK(trace);
    struct run builtin, ext, mod;
    CHECK(replay(trace, &builtin));
    model(trace, false, &mod);
    pl_runtime *rt = hook_runtime();
    CHECK(rt);
    bool attached = attach_extension(rt, "evict_lru") == 0;
    bool ran = attached && replay(trace, &ext);
    struct pl_hook_stats hs;
    pl_hook_stats(pcache_hook_page_evict(), &hs);
    hook_runtime_free(rt);
    CHECK(ran);
    CHECK(builtin.nevict > 1000); /* the trace does exercise eviction */
    CHECK(same_run(&builtin, &mod, "built-in vs model"));
    CHECK(same_run(&builtin, &ext, "built-in vs evict_lru"));
    CHECK_EQ(ext.hook_victims, ext.nevict);
    CHECK_EQ(ext.hook_fallbacks, 0);
    CHECK_EQ(hs.invocations, ext.nevict);
    CHECK_EQ(builtin.hook_victims, 0);
    free(builtin.evicted);
    free(ext.evicted);
    free(mod.evicted);
    free(trace);
}

TEST(pcache_evict_trace_lfu_extension_matches_model)
{
    uint32_t *trace = make_trace();
    CHECK(trace);
    struct run ext, mod, lru;
    model(trace, true, &mod);
    model(trace, false, &lru);
    pl_runtime *rt = hook_runtime();
    CHECK(rt);
    bool ran = attach_extension(rt, "evict_lfu") == 0 && replay(trace, &ext);
    hook_runtime_free(rt);
    CHECK(ran);
    CHECK(same_run(&mod, &ext, "model vs evict_lfu"));
    CHECK_EQ(ext.hook_victims, ext.nevict);
    /* The point of the policy: scans no longer flush the hot set. */
    CHECK_MSG(ext.hits > lru.hits, "tail-LFU %llu hits, LRU %llu", (unsigned long long)ext.hits,
              (unsigned long long)lru.hits);
    free(ext.evicted);
    free(mod.evicted);
    free(lru.evicted);
    free(trace);
}

/* An answer outside the candidates offered (here: index 15 of 3) is
 * refused, counted, and the built-in LRU evicts instead. */
TEST(pcache_evict_invalid_answer_falls_back_to_lru)
{
    pl_runtime *rt = hook_runtime();
    CHECK(rt);
    struct pl_insn code[] = {MOV64_IMM(0, PL_EVICT_CANDIDATES - 1), EXIT()};
    pl_prog *prog = NULL;
    pl_error err = {0};
    int rc = pl_prog_load(rt, code, 2, &(struct pl_prog_opts){.hook = pcache_hook_page_evict()}, &prog, &err);
    if (!rc)
        rc = pl_hook_attach(pcache_hook_page_evict(), prog, &err);
    pl_prog_put(prog);
    bool up = !rc && pool_up(16, 0);
    struct run r = {.evicted = calloc(TRACE_LEN, sizeof(uint32_t))};
    sqlite3_pcache *c = up ? M->xCreate(PAGE, EXTRA, 1) : NULL;
    bool ok = c != NULL;
    if (ok) {
        pcache_set_evict_observer(record_eviction, &r);
        /* 13 pinned, 3 unpinned (keys 14..16, 14 released first). */
        sqlite3_pcache_page *p[17];
        for (unsigned k = 1; k <= 16; k++)
            ok &= (p[k] = M->xFetch(c, k, 2)) != NULL;
        for (unsigned k = 14; ok && k <= 16; k++)
            M->xUnpin(c, p[k], 0);
        ok &= M->xFetch(c, 100, 2) != NULL;
        M->xDestroy(c);
    }
    struct pcache_stats st;
    pcache_stats(&st);
    bool down = !up || pool_down();
    hook_runtime_free(rt);
    CHECK_MSG(!rc, "loading the test program: %s", err.msg);
    CHECK(ok && down);
    CHECK_EQ(r.nevict, 1);
    CHECK_EQ(r.evicted[0], 14);
    CHECK_EQ(st.hook_fallbacks, 1);
    CHECK_EQ(st.hook_victims, 0);
    free(r.evicted);
}
