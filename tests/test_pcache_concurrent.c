/* The buffer pool under several threads, each with several caches: the
 * pcache2 contract (a page's contents and pExtra survive until it is
 * discarded, a new page's pExtra is zeroed, a pinned page is never taken),
 * with the built-in policy, with each shipped policy attached, and while
 * policies are swapped live. Every test here runs under TSan too (its name
 * contains "concurrent"). */
#include "testlib.h"
#include "pcache_harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CACHES 2 /* per worker */
#define HOLD 3   /* pages a cache keeps pinned at most */

struct worker {
    uint32_t tenant;
    uint64_t seed;
    int ops;
    int failures;
    char why[160];
};

/* A page's identity as the worker wrote it, checked on every hit: a frame
 * handed to two owners, or evicted while pinned, shows up here. */
struct stamp {
    uint32_t tenant, cache, key;
};

static bool check_or_fill(struct worker *w, uint32_t cache, sqlite3_pcache_page *p, unsigned key)
{
    uint32_t *marker = p->pExtra;
    struct stamp want = {w->tenant, cache, key};
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
        snprintf(w->why, sizeof w->why, "tenant %u cache %u page %u: found tenant %u cache %u page %u (marker %u)",
                 w->tenant, cache, key, a.tenant, a.cache, a.key, *marker);
        return false;
    }
    return true;
}

struct cache_state {
    sqlite3_pcache *c;
    sqlite3_pcache_page *held[HOLD];
    unsigned held_key[HOLD];
};

static void release_all(struct cache_state *cs)
{
    for (int h = 0; h < HOLD; h++)
        if (cs->held[h]) {
            M->xUnpin(cs->c, cs->held[h], 0);
            cs->held[h] = NULL;
        }
}

/* One operation on one cache: mostly fetch (createFlag 1, then 2 as the
 * pager does) and keep a few pages pinned, releasing or discarding an
 * older one; sometimes rekey a pinned page away, sometimes truncate. */
static bool step(struct worker *w, uint32_t ci, struct cache_state *cs, uint64_t r)
{
    unsigned key = (unsigned)(r % 200) + 1;
    for (int h = 0; h < HOLD; h++)
        if (cs->held[h] && cs->held_key[h] == key)
            return true;
    if (r % 997 == 0) {
        /* Truncate drops pinned pages too, so let go of them first, as
         * the pager does before it truncates. */
        release_all(cs);
        M->xTruncate(cs->c, 100);
        return true;
    }
    sqlite3_pcache_page *p = M->xFetch(cs->c, key, (r >> 8) % 2 ? 1 : 2);
    if (!p)
        p = M->xFetch(cs->c, key, 2);
    if (!p) {
        snprintf(w->why, sizeof w->why, "createFlag 2 fetch of %u failed with few pages pinned", key);
        return false;
    }
    if (!check_or_fill(w, ci, p, key))
        return false;
    int slot = (int)(r >> 16) % HOLD;
    if (cs->held[slot]) {
        if ((r >> 20) % 50 == 0) {
            /* Rekey to a key this worker neither holds nor will see again
             * as the old page: the contract forbids a pinned page at the
             * new key. */
            unsigned nk = cs->held_key[slot] + 1000;
            M->xRekey(cs->c, cs->held[slot], cs->held_key[slot], nk);
            uint32_t *marker = cs->held[slot]->pExtra;
            *marker = nk + 1;
            struct stamp s = {w->tenant, ci, nk};
            memcpy(cs->held[slot]->pBuf, &s, sizeof s);
            memcpy((char *)cs->held[slot]->pBuf + PAGE - sizeof s, &s, sizeof s);
            M->xUnpin(cs->c, cs->held[slot], 1); /* nk is never fetched: drop it */
        } else {
            M->xUnpin(cs->c, cs->held[slot], (r >> 24) % 20 == 0);
        }
    }
    cs->held[slot] = p;
    cs->held_key[slot] = key;
    return true;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pcache_set_thread_tenant(w->tenant);
    struct cache_state cs[CACHES] = {0};
    for (int i = 0; i < CACHES; i++)
        if (!(cs[i].c = M->xCreate(PAGE, EXTRA, 1))) {
            w->failures++;
            snprintf(w->why, sizeof w->why, "xCreate failed");
        }
    for (int i = 0; i < w->ops && !w->failures; i++) {
        uint64_t r = rnd(&w->seed);
        uint32_t ci = (uint32_t)(r >> 28) % CACHES;
        if (!step(w, ci, &cs[ci], r))
            w->failures++;
    }
    for (int i = 0; i < CACHES; i++)
        if (cs[i].c) {
            release_all(&cs[i]);
            M->xDestroy(cs[i].c);
        }
    return NULL;
}

enum { THREADS = 4 };

/* Runs THREADS workers of `ops` operations on a pool of 48 frames, with
 * `during` (if any) running on this thread meanwhile, and checks that
 * every page was intact and that the pool is empty afterwards. */
static bool run_workers(int ops, void (*during)(void *), void *arg)
{
    struct worker w[THREADS];
    pthread_t t[THREADS];
    if (!pool_up(48, 0))
        return false;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.tenant = (uint32_t)i + 1, .seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1), .ops = ops};
        if (pthread_create(&t[i], NULL, worker_main, &w[i]) != 0)
            return false;
    }
    if (during)
        during(arg);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    bool ok = true;
    for (int i = 0; i < THREADS; i++)
        if (w[i].failures) {
            fprintf(stderr, "  worker %d: %s\n", i, w[i].why);
            ok = false;
        }
    struct pcache_stats st;
    pcache_stats(&st);
    if (st.frames || st.bytes || st.pinned_bytes || !st.evictions) {
        fprintf(stderr, "  after the run: %llu frames, %llu bytes (%llu pinned), %llu evictions\n",
                (unsigned long long)st.frames, (unsigned long long)st.bytes, (unsigned long long)st.pinned_bytes,
                (unsigned long long)st.evictions);
        ok = false;
    }
    for (uint32_t i = 1; i <= THREADS; i++) {
        struct pcache_tenant_stats ts;
        if (pcache_tenant_stats(i, &ts) || !ts.misses || !ts.hits || ts.bytes) {
            fprintf(stderr, "  tenant %u: %llu hits, %llu misses, %llu bytes left\n", i,
                    (unsigned long long)ts.hits, (unsigned long long)ts.misses, (unsigned long long)ts.bytes);
            ok = false;
        }
    }
    return ok;
}

TEST(pcache_concurrent_fetch_unpin_small_budget)
{
    CHECK(run_workers(20000, NULL, NULL));
    CHECK(pool_down());
}

/* Every shipped policy, with a page_hash program too, under the same
 * load: the contract holds, the policy chose the victims, and no victim it
 * named was refused (it names only frames its scan found unpinned, under
 * the same mutex). */
TEST(pcache_concurrent_shipped_policies)
{
    static const char *const policies[] = {"evict_lru", "evict_lfu", "evict_clock", "evict_sieve",
                                           "evict_2q",  "evict_s3fifo", "evict_lruk"};
    pl_runtime *rt = hook_runtime();
    CHECK(rt);
    bool ok = attach_extension(rt, "page_hash_default") == 0;
    for (size_t i = 0; ok && i < sizeof(policies) / sizeof(policies[0]); i++) {
        ok = attach_extension(rt, policies[i]) == 0 && run_workers(5000, NULL, NULL);
        struct pcache_stats st;
        pcache_stats(&st);
        if (ok && (!st.hook_victims || st.hook[PCACHE_HOOK_EVICT].faults || !st.hook[PCACHE_HOOK_HASH].invocations)) {
            fprintf(stderr, "  %s: %llu victims chosen, %llu refused, %llu hashes\n", policies[i],
                    (unsigned long long)st.hook_victims, (unsigned long long)st.hook[PCACHE_HOOK_EVICT].faults,
                    (unsigned long long)st.hook[PCACHE_HOOK_HASH].invocations);
            ok = false;
        }
        ok = pool_down() && ok;
        pcache_detach_all();
        if (ok)
            ok = attach_extension(rt, "page_hash_default") == 0;
    }
    hook_runtime_free(rt);
    CHECK(ok);
}

/* Swaps whole policies and hash functions while the workers run, then
 * detaches everything: pages stay intact through every swap. */
struct swapper {
    pl_runtime *rt;
    int swaps, failures;
};

static void swap_policies(void *arg)
{
    struct swapper *s = arg;
    static const char *const cycle[] = {"evict_clock", "evict_s3fifo", NULL, "evict_sieve", "evict_2q", "evict_lruk"};
    static const char *const hashes[] = {"page_hash_default", "pcache_hash_counter"};
    for (int i = 0; i < 60; i++) {
        const char *policy = cycle[i % 6];
        if (!policy)
            pcache_detach_all();
        else if (attach_extension(s->rt, policy))
            s->failures++;
        if (i % 3 == 0 && (i % 2 ? attach_test_prog(s->rt, hashes[1]) : attach_extension(s->rt, hashes[0])))
            s->failures++;
        s->swaps++;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

TEST(pcache_concurrent_live_policy_swap)
{
    pl_runtime *rt = hook_runtime();
    CHECK(rt);
    struct swapper s = {.rt = rt};
    bool ok = run_workers(20000, swap_policies, &s);
    struct pcache_stats st;
    pcache_stats(&st);
    bool down = pool_down();
    hook_runtime_free(rt);
    CHECK(ok && down);
    CHECK_EQ(s.failures, 0);
    CHECK_EQ(s.swaps, 60);
    CHECK(st.hook[PCACHE_HOOK_UNPIN].invocations > 0 && st.hook_victims > 0);
}
