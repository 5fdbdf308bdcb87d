/* The buffer pool's hookpoints (engine/pcache_hooks.c): each default
 * extension reproduces the built-in on the reference trace (same hits, same
 * victims in the same order); page_hash cannot make the table wrong;
 * page_fetch admission and page_unpin answers; page_evict's victims and
 * every helper's handle checks; the per-hook counters throughout. */
#include "testlib.h"
#include "pcache_harness.h"

#include <stdlib.h>
#include <string.h>

static const struct pcache_hook_counts *counts(const struct run *r, enum pcache_hook id) { return &r->st.hook[id]; }

/* The built-in run of the reference trace, for comparison. */
static bool builtin_run(const uint32_t *trace, struct run *r)
{
    if (!replay(trace, TRACE_LEN, TRACE_FRAMES, r))
        return false;
    for (int k = 0; k < PCACHE_HOOKS; k++)
        if (r->st.hook[k].invocations) {
            fprintf(stderr, "  built-in run: hook %d ran %llu times with nothing attached\n", k,
                    (unsigned long long)r->st.hook[k].invocations);
            return false;
        }
    return r->nevict > 1000; /* the trace does exercise eviction */
}

/* Replays the trace with the named objects attached (build/extensions, or
 * build/hook_progs for names starting "pcache_"). */
static bool attached_run(const uint32_t *trace, const char *const *names, size_t n, struct run *r)
{
    pl_runtime *rt = hook_runtime();
    bool ok = rt != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = (strncmp(names[i], "pcache_", 7) ? attach_extension(rt, names[i]) : attach_test_prog(rt, names[i])) == 0;
    ok = ok && replay(trace, TRACE_LEN, TRACE_FRAMES, r);
    if (rt)
        hook_runtime_free(rt);
    return ok;
}

/* Each default alone, then all four together: the same run as the
 * built-in, every hook ran where it should, nothing fell back. */
TEST(pcache_hook_defaults_reproduce_builtin)
{
    uint32_t *trace = make_trace();
    CHECK(trace);
    struct run builtin;
    CHECK(builtin_run(trace, &builtin));
    static const char *const defaults[PCACHE_HOOKS] = {
        [PCACHE_HOOK_HASH] = "page_hash_default", [PCACHE_HOOK_FETCH] = "page_fetch_default",
        [PCACHE_HOOK_UNPIN] = "page_unpin_default", [PCACHE_HOOK_EVICT] = "evict_lru"};
    /* Runs expected per hook: one hash and one fetch per access (every
     * miss creates), one release per access, one eviction per victim. */
    const uint64_t expect[PCACHE_HOOKS] = {TRACE_LEN, TRACE_LEN, TRACE_LEN, builtin.nevict};
    for (int k = 0; k <= PCACHE_HOOKS; k++) {
        bool all = k == PCACHE_HOOKS;
        struct run ext;
        CHECK_MSG(attached_run(trace, all ? defaults : &defaults[k], all ? PCACHE_HOOKS : 1, &ext), "%s",
                  all ? "all defaults" : defaults[k]);
        bool same = same_run(&builtin, &ext, all ? "all defaults" : defaults[k]);
        for (int h = 0; h < PCACHE_HOOKS; h++) {
            const struct pcache_hook_counts *c = counts(&ext, (enum pcache_hook)h);
            uint64_t want = all || h == k ? expect[h] : 0;
            CHECK_MSG(c->invocations == want && !c->faults && !c->fallbacks,
                      "%s: hook %d ran %llu times (want %llu), %llu faults, %llu fallbacks",
                      all ? "all defaults" : defaults[k], h, (unsigned long long)c->invocations,
                      (unsigned long long)want, (unsigned long long)c->faults, (unsigned long long)c->fallbacks);
        }
        CHECK(same);
        CHECK_EQ(ext.st.hook_victims, all || k == PCACHE_HOOK_EVICT ? ext.nevict : 0);
        /* The default hash placed every page exactly where the built-in
         * table has it. */
        CHECK_EQ(ext.st.hash_moved, 0);
        CHECK_EQ(ext.chain_hook, all || k == PCACHE_HOOK_HASH ? builtin.chain_builtin : 0);
        CHECK_EQ(ext.st.handle_errors, 0);
        run_free(&ext);
    }
    run_free(&builtin);
    free(trace);
}

/* ----------------------------------------------------------- page_hash */

/* The reference trace with the test program `name` attached (midway, if
 * given, runs halfway through) gives exactly the built-in's run. */
static bool same_as_builtin(const char *name, void (*midway)(void *), struct run *ext)
{
    uint32_t *trace = make_trace();
    struct run builtin = {0};
    pl_runtime *rt = hook_runtime();
    bool ok = trace && rt && builtin_run(trace, &builtin) && attach_test_prog(rt, name) == 0 &&
              replay_swap(trace, TRACE_LEN, TRACE_FRAMES, ext, midway, rt) && same_run(&builtin, ext, name);
    if (rt)
        hook_runtime_free(rt);
    if (ok && builtin.chain_builtin >= 8) {
        fprintf(stderr, "  the built-in hash made a chain of %u pages\n", builtin.chain_builtin);
        ok = false;
    }
    run_free(&builtin);
    free(trace);
    return ok;
}

TEST(pcache_hash_constant_is_slow_never_wrong)
{
    struct run ext;
    CHECK(same_as_builtin("pcache_hash_constant", NULL, &ext));
    CHECK_EQ(ext.chain_hook, TRACE_FRAMES); /* one chain of every resident page */
    CHECK_EQ(ext.st.hash_moved, 0);
    run_free(&ext);
}

/* A hash that returns another value on every call: each lookup of a cached
 * page misses its bucket (but for wrap-around) and is found through the
 * pool's own index. */
TEST(pcache_hash_inconsistent_never_wrong)
{
    struct run ext;
    CHECK(same_as_builtin("pcache_hash_counter", NULL, &ext));
    CHECK(ext.st.hash_moved > ext.hits / 2 && ext.st.hash_moved <= ext.hits);
    CHECK_EQ(ext.st.hook[PCACHE_HOOK_HASH].faults, 0);
    run_free(&ext);
}

static void swap_to_default(void *rt)
{
    if (attach_extension(rt, "page_hash_default"))
        abort();
}

/* A live swap to another hash halfway: pages placed by the old one are
 * found, once each through the pool's index, then in their new bucket. */
TEST(pcache_hash_live_swap_never_wrong)
{
    struct run ext;
    CHECK(same_as_builtin("pcache_hash_constant", swap_to_default, &ext));
    CHECK(ext.st.hash_moved > 0 && ext.st.hash_moved <= TRACE_FRAMES);
    CHECK(ext.chain_hook < 8);
    run_free(&ext);
}

/* ---------------------------------------------------------- page_fetch */

static uint64_t seen(const char *what, uint32_t k)
{
    pl_map *m = attached_map(PCACHE_HOOK_FETCH, "seen");
    uint64_t v = 0;
    if (!m || pl_map_lookup(m, &k, &v))
        fprintf(stderr, "  cannot read seen[%u] (%s)\n", k, what);
    return v;
}

TEST(pcache_fetch_admission_bypass_and_decline)
{
    enum { HITS, MISSES, PINNED_HITS, LAST_COUNT, LAST_CREATE }; /* tests/hook_progs/pcache_admission.c */
    pl_runtime *rt = hook_runtime();
    CHECK(rt);
    CHECK(attach_test_prog(rt, "pcache_admission") == 0);
    CHECK(pool_up(16, 0));
    sqlite3_pcache *c = M->xCreate(PAGE, EXTRA, 1);
    /* Admitted: cached after release; a second fetch while pinned is a
     * hit on a pinned page. */
    sqlite3_pcache_page *p = M->xFetch(c, 5, 2);
    CHECK(p && M->xFetch(c, 5, 0) == p);
    CHECK_EQ(seen("pinned", PINNED_HITS), 1);
    CHECK_EQ(seen("count", LAST_COUNT), 2);
    M->xUnpin(c, p, 0);
    CHECK(M->xFetch(c, 5, 0) == p);
    CHECK_EQ(seen("create", LAST_CREATE), 0);
    M->xUnpin(c, p, 0);
    /* Bypassed: a frame for this use, gone when released. */
    p = M->xFetch(c, 1000, 2);
    CHECK(p);
    memset(p->pBuf, 1, PAGE);
    CHECK(M->xFetch(c, 1000, 0) == p);
    CHECK_EQ(M->xPagecount(c), 2);
    M->xUnpin(c, p, 0);
    CHECK_EQ(M->xPagecount(c), 1);
    CHECK(M->xFetch(c, 1000, 0) == NULL);
    /* Declined: NULL for createFlag 1 (SQLite then spills and insists);
     * for createFlag 2 the answer is refused and the page admitted. */
    CHECK(M->xFetch(c, 950, 1) == NULL);
    p = M->xFetch(c, 950, 2);
    CHECK(p);
    M->xUnpin(c, p, 0);
    CHECK(M->xFetch(c, 950, 0) == p);
    M->xUnpin(c, p, 0);
    struct pcache_stats st;
    pcache_stats(&st);
    CHECK_EQ(st.bypassed, 1);
    CHECK_EQ(st.declined, 1);
    CHECK_EQ(st.refused, 0);
    const struct pcache_hook_counts *f = &st.hook[PCACHE_HOOK_FETCH];
    /* Misses that may create: 5, 1000, 950 twice. Hits: 5 twice, 1000
     * and 950 once. The probe that found nothing ran no program. */
    CHECK_EQ(seen("misses", MISSES), 4);
    CHECK_EQ(seen("hits", HITS), 4);
    CHECK_EQ(f->invocations, 8);
    CHECK_EQ(f->faults, 1);
    CHECK_EQ(f->fallbacks, 1);
    M->xDestroy(c);
    CHECK(pool_down());
    hook_runtime_free(rt);
}

/* On the reference trace, bypassing the scans keeps the hot set: more
 * hits than the built-in, one bypass per scanned page. */
TEST(pcache_fetch_bypass_protects_hot_set_from_scans)
{
    uint32_t *trace = make_trace();
    CHECK(trace);
    struct run builtin, ext;
    CHECK(builtin_run(trace, &builtin));
    const char *name = "pcache_admission";
    CHECK(attached_run(trace, &name, 1, &ext));
    uint64_t scanned = 0;
    for (size_t i = 0; i < TRACE_LEN; i++)
        scanned += trace[i] >= SCAN_BASE;
    CHECK_EQ(ext.st.bypassed, scanned);
    CHECK_MSG(ext.hits > builtin.hits, "bypassing scans: %llu hits, built-in %llu", (unsigned long long)ext.hits,
              (unsigned long long)builtin.hits);
    run_free(&builtin);
    run_free(&ext);
    free(trace);
}

/* ---------------------------------------------------------- page_unpin */

struct victims {
    uint32_t n, pgno[64];
};

static void record_victim(void *user, uint32_t cache_id, uint32_t tenant, uint32_t pgno)
{
    (void)cache_id, (void)tenant;
    struct victims *v = user;
    if (v->n < 64)
        v->pgno[v->n++] = pgno;
}

TEST(pcache_unpin_cold_and_drop)
{
    pl_runtime *rt = hook_runtime();
    CHECK(rt);
    CHECK(attach_test_prog(rt, "pcache_unpin_answers") == 0);
    CHECK(pool_up(16, 0));
    struct victims v = {0};
    pcache_set_evict_observer(record_victim, &v);
    sqlite3_pcache *c = M->xCreate(PAGE, EXTRA, 1);
    /* Dropped on release (page number ends in 0). */
    sqlite3_pcache_page *p = M->xFetch(c, 10, 2);
    CHECK(p);
    M->xUnpin(c, p, 0);
    CHECK_EQ(M->xPagecount(c), 0);
    /* 16 frames: odd pages kept cold (tail of the pool list), even pages
     * hot. The built-in eviction takes the tail: the last cold page. */
    static const unsigned fill[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17};
    for (int i = 0; i < 16; i++) {
        CHECK((p = M->xFetch(c, fill[i], 2)) != NULL);
        M->xUnpin(c, p, 0);
    }
    CHECK_EQ(v.n, 0);
    CHECK((p = M->xFetch(c, 22, 2)) != NULL);
    M->xUnpin(c, p, 0);
    CHECK((p = M->xFetch(c, 24, 2)) != NULL);
    M->xUnpin(c, p, 0);
    CHECK_EQ(v.n, 2);
    CHECK_EQ(v.pgno[0], 17);
    CHECK_EQ(v.pgno[1], 15);
    struct pcache_stats st;
    pcache_stats(&st);
    CHECK_EQ(st.unpin_dropped, 1);
    CHECK_EQ(st.hook[PCACHE_HOOK_UNPIN].invocations, 19);
    M->xDestroy(c);
    CHECK(pool_down());
    hook_runtime_free(rt);
}

/* Temporary and in-memory databases' pages are never evicted, so the
 * policy hooks do not see them; the hash does. */
TEST(pcache_hooks_skip_non_purgeable_caches)
{
    pl_runtime *rt = hook_runtime();
    CHECK(rt);
    CHECK(attach_extension(rt, "page_fetch_default") == 0 && attach_extension(rt, "page_unpin_default") == 0 &&
          attach_extension(rt, "page_hash_default") == 0);
    CHECK(pool_up(16, 0));
    sqlite3_pcache *mem = M->xCreate(PAGE, EXTRA, 0);
    for (unsigned k = 1; k <= 20; k++) {
        sqlite3_pcache_page *p = M->xFetch(mem, k, 1);
        CHECK(p);
        M->xUnpin(mem, p, 0);
    }
    struct pcache_stats st;
    pcache_stats(&st);
    CHECK_EQ(st.hook[PCACHE_HOOK_FETCH].invocations, 0);
    CHECK_EQ(st.hook[PCACHE_HOOK_UNPIN].invocations, 0);
    CHECK_EQ(st.hook[PCACHE_HOOK_HASH].invocations, 20);
    M->xDestroy(mem);
    CHECK(pool_down());
    hook_runtime_free(rt);
}

/* ---------------------------------------------------------- page_evict */

enum { TARGETS = 12, RC_PER = 4 }; /* tests/hook_progs/pcache_victims.c */
enum { RC_MARK, RC_MOVE, RC_DATA, RC_SCAN };

static bool set_targets(const uint64_t *t, uint32_t n)
{
    pl_map *m = attached_map(PCACHE_HOOK_EVICT, "targets"), *armed = attached_map(PCACHE_HOOK_EVICT, "armed");
    uint64_t end = ~0ull, one = 1;
    uint32_t zero = 0;
    bool ok = m && armed;
    for (uint32_t i = 0; ok && i < TARGETS; i++)
        ok = pl_map_update(m, &i, i < n ? &t[i] : &end, PL_MAP_ANY) == 0;
    return ok && pl_map_update(armed, &zero, &one, PL_MAP_ANY) == 0;
}

static int64_t rc_of(uint32_t slot)
{
    pl_map *m = attached_map(PCACHE_HOOK_EVICT, "rcs");
    int64_t v = 99;
    if (m)
        pl_map_lookup(m, &slot, &v);
    return v;
}

#define CHECK_RCS(target, mark, move, data)                                                                    \
    do {                                                                                                       \
        CHECK_EQ(rc_of((target) * RC_PER + RC_MARK), (uint64_t)(int64_t)(mark));                               \
        CHECK_EQ(rc_of((target) * RC_PER + RC_MOVE), (uint64_t)(int64_t)(move));                               \
        CHECK_EQ(rc_of((target) * RC_PER + RC_DATA), (uint64_t)(int64_t)(data));                               \
    } while (0)

/* Victims that are not a resident, unpinned frame of a purgeable cache are
 * refused one by one with the reason, counted as faults, and change
 * nothing; the first acceptable one is evicted. The same handles make the
 * list helpers fail the same way (a pinned frame may be listed, not
 * evicted). */
TEST(pcache_evict_refuses_bad_victims)
{
    pl_runtime *rt = hook_runtime();
    CHECK(rt);
    CHECK(attach_test_prog(rt, "pcache_victims") == 0);
    CHECK(pool_up(16, 0));
    struct victims v = {0};
    pcache_set_evict_observer(record_victim, &v);
    sqlite3_pcache *c = M->xCreate(PAGE, EXTRA, 1), *mem = M->xCreate(PAGE, EXTRA, 0);
    sqlite3_pcache_page *fp = M->xFetch(mem, 1, 1);
    CHECK(fp);
    memset(fp->pBuf, 0x5a, PAGE);
    uint64_t foreign = pcache_page_handle(fp);
    M->xUnpin(mem, fp, 0);
    sqlite3_pcache_page *gone = M->xFetch(c, 100, 2);
    CHECK(gone);
    uint64_t stale = pcache_page_handle(gone);
    M->xUnpin(c, gone, 1);
    /* 15 pages of c (16 frames with mem's): page 1 stays pinned. */
    sqlite3_pcache_page *pg[16] = {0};
    for (unsigned k = 1; k <= 15; k++) {
        CHECK((pg[k] = M->xFetch(c, k, 2)) != NULL);
        memset(pg[k]->pBuf, (int)k, PAGE);
        if (k > 1)
            M->xUnpin(c, pg[k], 0);
    }
    uint64_t pinned = pcache_page_handle(pg[1]), valid = pcache_page_handle(pg[5]);
    const uint64_t t[] = {0, (1ull << 32) | 0x7fffffffu, stale, pinned, foreign, valid, valid};
    CHECK(set_targets(t, 7));
    CHECK(M->xFetch(c, 200, 2) != NULL);
    CHECK_RCS(0, PL_PAGE_EINVAL, PL_PAGE_EINVAL, PL_PAGE_EINVAL);
    CHECK_RCS(1, PL_PAGE_EINVAL, PL_PAGE_EINVAL, PL_PAGE_EINVAL);
    CHECK_EQ(rc_of(1 * RC_PER + RC_SCAN), (uint64_t)PL_PAGE_EINVAL);
    CHECK_RCS(2, PL_PAGE_ESTALE, PL_PAGE_ESTALE, PL_PAGE_ESTALE);
    CHECK_EQ(rc_of(2 * RC_PER + RC_SCAN), (uint64_t)PL_PAGE_ESTALE);
    CHECK_RCS(3, PL_PAGE_EBUSY, 0, 0);
    CHECK_EQ(rc_of(3 * RC_PER + RC_SCAN), 1); /* on list 0 now */
    CHECK_RCS(4, PL_PAGE_EPERM, PL_PAGE_EPERM, PL_PAGE_EPERM);
    CHECK_RCS(5, 0, 0, 0);
    CHECK_RCS(6, PL_PAGE_EEXIST, 0, 0);
    /* Argument checks: the pool list is read-only, list 9 and flag 64 do
     * not exist, and the pool list holds 14 unpinned frames. */
    CHECK_EQ(rc_of(TARGETS * RC_PER + 0), (uint64_t)PL_PAGE_EPERM);
    CHECK_EQ(rc_of(TARGETS * RC_PER + 1), (uint64_t)PL_PAGE_EINVAL);
    CHECK_EQ(rc_of(TARGETS * RC_PER + 2), (uint64_t)PL_PAGE_EINVAL);
    CHECK_EQ(rc_of(TARGETS * RC_PER + 3), 1);
    CHECK_EQ(v.n, 1);
    CHECK_EQ(v.pgno[0], 5);
    struct pcache_stats st;
    pcache_stats(&st);
    CHECK_EQ(st.hook[PCACHE_HOOK_EVICT].faults, 6);
    CHECK_EQ(st.hook[PCACHE_HOOK_EVICT].fallbacks, 0);
    CHECK_EQ(st.hook_victims, 1);
    CHECK_EQ(st.handle_errors, 3 + 4 + 4 + 4); /* 0 (its scan starts at the tail), garbage, stale, foreign */
    /* Nothing the refused names pointed at was touched. */
    CHECK(M->xFetch(c, 1, 0) == pg[1]);
    CHECK_EQ(((unsigned char *)pg[1]->pBuf)[PAGE - 1], 1);
    CHECK((fp = M->xFetch(mem, 1, 0)) != NULL);
    CHECK_EQ(((unsigned char *)fp->pBuf)[PAGE / 2], 0x5a);
    M->xUnpin(mem, fp, 0);

    /* More than PL_EVICT_MARKS names: the ninth is refused; only the first
     * is needed, the others stay cached. */
    uint64_t many[9];
    for (unsigned i = 0; i < 9; i++)
        many[i] = pcache_page_handle(pg[6 + i]);
    CHECK(set_targets(many, 9));
    CHECK(M->xFetch(c, 201, 2) != NULL);
    CHECK_EQ(rc_of(7 * RC_PER + RC_MARK), 0);
    CHECK_EQ(rc_of(8 * RC_PER + RC_MARK), (uint64_t)PL_PAGE_ENOSPC);
    CHECK_EQ(v.n, 2);
    CHECK_EQ(v.pgno[1], 6);
    CHECK(M->xFetch(c, 7, 0) != NULL);

    /* No acceptable victim: the built-in evicts the pool list's tail (page
     * 2, released longest ago), and that is a fallback. */
    CHECK(set_targets(&stale, 1));
    CHECK(M->xFetch(c, 202, 2) != NULL);
    CHECK_EQ(v.n, 3);
    CHECK_EQ(v.pgno[2], 2);
    pcache_stats(&st);
    CHECK_EQ(st.hook[PCACHE_HOOK_EVICT].fallbacks, 1);
    CHECK_EQ(st.hook[PCACHE_HOOK_EVICT].invocations, 3);

    /* The helpers work only inside the pool's hooks: the same program run
     * directly gets PL_PAGE_EPERM for everything. */
    CHECK(set_targets(&valid, 1));
    pl_prog *prog = pl_hook_current(pcache_hook(PCACHE_HOOK_EVICT));
    CHECK(prog);
    struct pl_page_evict_ctx ctx = {0};
    uint64_t ret;
    int rc = pl_prog_run(prog, &ctx, sizeof(ctx), true, &ret);
    pl_prog_put(prog);
    CHECK_EQ(rc, 0);
    CHECK_RCS(0, PL_PAGE_EPERM, PL_PAGE_EPERM, PL_PAGE_EPERM);

    M->xDestroy(c);
    M->xDestroy(mem);
    CHECK(pool_down());
    hook_runtime_free(rt);
}

/* Loading and attaching: a policy must be loaded per section (each program
 * verified for its own hook), and sections must name pool hooks. */
TEST(pcache_attach_errors_are_clear)
{
    pl_runtime *rt = hook_runtime();
    CHECK(rt);
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/extensions/admit_default.bpf.o", tl_build_dir());
    CHECK(pcache_attach_file(rt, path, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "'hook/admit' names no registered hook"), "%s", err);
    /* One hook for the whole object: its page_unpin program does not fit. */
    snprintf(path, sizeof path, "%s/extensions/evict_clock.bpf.o", tl_build_dir());
    pl_object *obj = NULL;
    pl_error perr;
    CHECK(pl_object_open_file(rt, path, &(struct pl_object_opts){.hook = pcache_hook(PCACHE_HOOK_EVICT)}, &obj,
                              &perr) != 0);
    CHECK(pl_object_open_file(rt, path, &(struct pl_object_opts){.flags = PL_LOAD_HOOK_BY_SECTION}, &obj, &perr) ==
          0);
    CHECK_EQ(pcache_attach_object(obj, err, sizeof err), 0);
    pl_object_close(obj);
    CHECK(pl_hook_is_attached(pcache_hook(PCACHE_HOOK_UNPIN)) && pl_hook_is_attached(pcache_hook(PCACHE_HOOK_EVICT)));
    CHECK(!pl_hook_is_attached(pcache_hook(PCACHE_HOOK_FETCH)));
    pcache_detach_all();
    CHECK(!pl_hook_is_attached(pcache_hook(PCACHE_HOOK_EVICT)));
    hook_runtime_free(rt);
    CHECK(!pcache_hook(PCACHE_HOOK_EVICT));
}
