/* The shipped eviction policies (extensions/evict_*.bpf.c) on the
 * reference trace, each against an independent model of its algorithm
 * written here with plain arrays: the same hits, misses and victims in the
 * same order. The models know nothing of frames, handles or lists; each
 * follows the algorithm as its extension's header comment states it,
 * including the bound on the frames one eviction examines. */
#include "testlib.h"
#include "pcache_harness.h"

#include <stdlib.h>
#include <string.h>

#define C TRACE_FRAMES
#define MAX_STEPS 64 /* extensions/pcache_policy.h */
#define MAX_PAGE (SCAN_BASE + 2048) /* page numbers in the trace stay below */

/* Resident pages in one order: index 0 is the tail (oldest), n - 1 the
 * head. a and b are whatever the model keeps per page. */
struct seq {
    uint32_t key[C + 1];
    uint64_t a[C + 1], b[C + 1];
    int n;
};

static int seq_find(const struct seq *s, uint32_t key)
{
    for (int i = 0; i < s->n; i++)
        if (s->key[i] == key)
            return i;
    return -1;
}

static void seq_push(struct seq *s, uint32_t key, uint64_t a, uint64_t b)
{
    s->key[s->n] = key;
    s->a[s->n] = a;
    s->b[s->n] = b;
    s->n++;
}

/* Removes entry i, returning its key (and a, b if asked). */
static uint32_t seq_take(struct seq *s, int i, uint64_t *a, uint64_t *b)
{
    uint32_t key = s->key[i];
    if (a)
        *a = s->a[i];
    if (b)
        *b = s->b[i];
    memmove(&s->key[i], &s->key[i + 1], (size_t)(s->n - i - 1) * sizeof(s->key[0]));
    memmove(&s->a[i], &s->a[i + 1], (size_t)(s->n - i - 1) * sizeof(s->a[0]));
    memmove(&s->b[i], &s->b[i + 1], (size_t)(s->n - i - 1) * sizeof(s->b[0]));
    s->n--;
    return key;
}

/* A FIFO of evicted pages' numbers, duplicates allowed, at most limit. */
struct ghost {
    uint32_t key[C];
    int n;
};

static bool ghost_has(const struct ghost *g, uint32_t key)
{
    for (int i = 0; i < g->n; i++)
        if (g->key[i] == key)
            return true;
    return false;
}

static void ghost_add(struct ghost *g, uint32_t key, int limit)
{
    while (g->n >= limit) {
        memmove(&g->key[0], &g->key[1], (size_t)(g->n - 1) * sizeof(g->key[0]));
        g->n--;
    }
    g->key[g->n++] = key;
}

/* A policy model: access() answers hit or miss (and does what a hit
 * does), evict() removes and returns a victim, insert() places a missed
 * page. now counts accesses from 1, as the pool's clock counts releases. */
struct model {
    const char *name;
    bool (*access)(void *st, uint32_t key, uint64_t now);
    uint32_t (*evict)(void *st);
    void (*insert)(void *st, uint32_t key, uint64_t now);
    int (*resident)(const void *st);
    size_t size;
};

static bool simulate(const struct model *m, const uint32_t *trace, struct run *r)
{
    memset(r, 0, sizeof(*r));
    void *st = calloc(1, m->size);
    r->evicted = calloc(TRACE_LEN, sizeof(uint32_t));
    if (!st || !r->evicted) {
        free(st);
        return false;
    }
    for (size_t i = 0; i < TRACE_LEN; i++) {
        uint64_t now = i + 1;
        if (m->access(st, trace[i], now)) {
            r->hits++;
            continue;
        }
        r->misses++;
        if (m->resident(st) == C)
            r->evicted[r->nevict++] = m->evict(st);
        m->insert(st, trace[i], now);
    }
    free(st);
    return true;
}

/* ------------------------------------------------------------------ LRU */

static int one_resident(const void *st) { return ((const struct seq *)st)->n; }

static bool lru_access(void *st, uint32_t key, uint64_t now)
{
    struct seq *s = st;
    int at = seq_find(s, key);
    if (at < 0)
        return false;
    uint64_t count;
    seq_take(s, at, &count, NULL);
    seq_push(s, key, count + 1, now);
    return true;
}

static uint32_t lru_evict(void *st) { return seq_take(st, 0, NULL, NULL); }
static void lru_insert(void *st, uint32_t key, uint64_t now) { seq_push(st, key, 1, now); }

/* Tail-LFU: of the 16 least recently released, the fewest fetches (a),
 * ties to the older. */
static uint32_t lfu_evict(void *st)
{
    struct seq *s = st;
    int victim = 0;
    for (int i = 1; i < 16 && i < s->n; i++)
        if (s->a[i] < s->a[victim])
            victim = i;
    return seq_take(s, victim, NULL, NULL);
}

/* ---------------------------------------------------------------- CLOCK */

static bool clock_access(void *st, uint32_t key, uint64_t now)
{
    (void)now;
    struct seq *s = st;
    int at = seq_find(s, key);
    if (at >= 0)
        s->a[at] = 1;
    return at >= 0;
}

static uint32_t clock_evict(void *st)
{
    struct seq *s = st;
    for (int step = 0; step < MAX_STEPS && s->a[0]; step++) {
        uint32_t key = seq_take(s, 0, NULL, NULL);
        seq_push(s, key, 0, 0);
    }
    return seq_take(s, 0, NULL, NULL);
}

static void clock_insert(void *st, uint32_t key, uint64_t now)
{
    (void)now;
    seq_push(st, key, 0, 0);
}

/* ---------------------------------------------------------------- SIEVE */

struct sieve {
    struct seq q;
    int hand; /* index of the next page to examine; -1: the tail */
};

static int sieve_resident(const void *st) { return ((const struct sieve *)st)->q.n; }
static bool sieve_access(void *st, uint32_t key, uint64_t now) { return clock_access(&((struct sieve *)st)->q, key, now); }

static uint32_t sieve_evict(void *st)
{
    struct sieve *s = st;
    int i = s->hand < 0 ? 0 : s->hand;
    for (int step = 0;; i++, step++) {
        if (i >= s->q.n)
            i = 0;
        if (!s->q.a[i] || step == MAX_STEPS)
            break;
        s->q.a[i] = 0;
    }
    uint32_t key = seq_take(&s->q, i, NULL, NULL);
    s->hand = i < s->q.n ? i : -1; /* the page after the victim, towards the head */
    return key;
}

static void sieve_insert(void *st, uint32_t key, uint64_t now) { clock_insert(&((struct sieve *)st)->q, key, now); }

/* ------------------------------------------------------------------- 2Q */

struct twoq {
    struct seq a1in, am;
    struct ghost a1out;
    bool back; /* the missed page is in A1out (looked up before reclaiming) */
};

static int twoq_resident(const void *st)
{
    const struct twoq *q = st;
    return q->a1in.n + q->am.n;
}

static bool twoq_access(void *st, uint32_t key, uint64_t now)
{
    struct twoq *q = st;
    int at = seq_find(&q->am, key);
    if (at >= 0) {
        seq_take(&q->am, at, NULL, NULL);
        seq_push(&q->am, key, 0, now);
        return true;
    }
    if (seq_find(&q->a1in, key) >= 0)
        return true;
    q->back = ghost_has(&q->a1out, key);
    return false;
}

static uint32_t twoq_evict(void *st)
{
    struct twoq *q = st;
    if (q->a1in.n > C / 4 || !q->am.n) {
        uint32_t key = seq_take(&q->a1in, 0, NULL, NULL);
        ghost_add(&q->a1out, key, C / 2);
        return key;
    }
    return seq_take(&q->am, 0, NULL, NULL);
}

static void twoq_insert(void *st, uint32_t key, uint64_t now)
{
    struct twoq *q = st;
    seq_push(q->back ? &q->am : &q->a1in, key, 0, now);
}

/* -------------------------------------------------------------- S3-FIFO */

struct s3 {
    struct seq s, m; /* a: re-references, at most 3 */
    struct ghost g;
};

static int s3_resident(const void *st)
{
    const struct s3 *q = st;
    return q->s.n + q->m.n;
}

static bool s3_access(void *st, uint32_t key, uint64_t now)
{
    (void)now;
    struct s3 *q = st;
    struct seq *in = seq_find(&q->s, key) >= 0 ? &q->s : seq_find(&q->m, key) >= 0 ? &q->m : NULL;
    if (!in)
        return false;
    int at = seq_find(in, key);
    if (in->a[at] < 3)
        in->a[at]++;
    return true;
}

static uint32_t s3_evict(void *st)
{
    struct s3 *q = st;
    uint64_t count;
    if (q->s.n >= C / 10)
        for (int step = 0; q->s.n; step++) {
            uint32_t key = seq_take(&q->s, 0, &count, NULL);
            if (count <= 1 || step == MAX_STEPS) {
                ghost_add(&q->g, key, C - C / 10);
                return key;
            }
            seq_push(&q->m, key, 0, 0);
        }
    for (int step = 0;; step++) {
        uint32_t key = seq_take(&q->m, 0, &count, NULL);
        if (!count || step == MAX_STEPS)
            return key;
        seq_push(&q->m, key, count - 1, 0);
    }
}

static void s3_insert(void *st, uint32_t key, uint64_t now)
{
    (void)now;
    struct s3 *q = st;
    seq_push(ghost_has(&q->g, key) ? &q->m : &q->s, key, 0, 0);
}

/* ---------------------------------------------------------------- LRU-2 */

struct lru2 {
    struct seq once, multi; /* a: last reference, b: the one before */
    uint64_t hist[MAX_PAGE]; /* last reference of evicted pages, 0: none */
};

static int lru2_resident(const void *st)
{
    const struct lru2 *q = st;
    return q->once.n + q->multi.n;
}

static bool lru2_access(void *st, uint32_t key, uint64_t now)
{
    struct lru2 *q = st;
    struct seq *in = seq_find(&q->once, key) >= 0 ? &q->once : seq_find(&q->multi, key) >= 0 ? &q->multi : NULL;
    if (!in)
        return false;
    uint64_t last;
    seq_take(in, seq_find(in, key), &last, NULL);
    seq_push(&q->multi, key, now, last);
    return true;
}

static uint32_t lru2_evict(void *st)
{
    struct lru2 *q = st;
    uint64_t last;
    uint32_t key;
    if (q->once.n) {
        key = seq_take(&q->once, 0, &last, NULL);
    } else {
        int victim = 0;
        for (int i = 1; i < 16 && i < q->multi.n; i++)
            if (q->multi.b[i] < q->multi.b[victim])
                victim = i;
        key = seq_take(&q->multi, victim, &last, NULL);
    }
    q->hist[key] = last;
    return key;
}

static void lru2_insert(void *st, uint32_t key, uint64_t now)
{
    struct lru2 *q = st;
    if (q->hist[key]) {
        seq_push(&q->multi, key, now, q->hist[key]);
        q->hist[key] = 0;
    } else {
        seq_push(&q->once, key, now, 0);
    }
}

/* ---------------------------------------------------------------- tests */

static const struct model models[] = {
    {"evict_lru", lru_access, lru_evict, lru_insert, one_resident, sizeof(struct seq)},
    {"evict_lfu", lru_access, lfu_evict, lru_insert, one_resident, sizeof(struct seq)},
    {"evict_clock", clock_access, clock_evict, clock_insert, one_resident, sizeof(struct seq)},
    {"evict_sieve", sieve_access, sieve_evict, sieve_insert, sieve_resident, sizeof(struct sieve)},
    {"evict_2q", twoq_access, twoq_evict, twoq_insert, twoq_resident, sizeof(struct twoq)},
    {"evict_s3fifo", s3_access, s3_evict, s3_insert, s3_resident, sizeof(struct s3)},
    {"evict_lruk", lru2_access, lru2_evict, lru2_insert, lru2_resident, sizeof(struct lru2)},
};

static uint64_t lru_hits; /* the model's LRU on the trace, for comparisons */

/* Replays the trace with the policy attached and compares with its model;
 * returns the hits (0 on failure). */
static uint64_t check_policy(const char *name)
{
    const struct model *m = NULL;
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        if (!strcmp(models[i].name, name))
            m = &models[i];
    uint32_t *trace = make_trace();
    struct run ext = {0}, mod = {0};
    pl_runtime *rt = hook_runtime();
    bool ok = m && trace && rt && simulate(m, trace, &mod) && attach_extension(rt, name) == 0 &&
              replay(trace, TRACE_LEN, TRACE_FRAMES, &ext);
    if (rt)
        hook_runtime_free(rt);
    ok = ok && same_run(&mod, &ext, name);
    const struct pcache_hook_counts *e = &ext.st.hook[PCACHE_HOOK_EVICT];
    if (ok && (ext.st.hook_victims != ext.nevict || e->faults || e->fallbacks || ext.st.handle_errors ||
               ext.nevict < 1000)) {
        fprintf(stderr, "  %s: %llu of %u victims chosen by the policy, %llu refused, %llu fallbacks, %llu bad "
                        "handles\n", name, (unsigned long long)ext.st.hook_victims, ext.nevict,
                (unsigned long long)e->faults, (unsigned long long)e->fallbacks,
                (unsigned long long)ext.st.handle_errors);
        ok = false;
    }
    if (ok && getenv("PLIANT_TEST_VERBOSE"))
        printf("     %-13s %llu hits of %d\n", name, (unsigned long long)ext.hits, TRACE_LEN);
    uint64_t hits = ok ? ext.hits : 0;
    if (ok && !strcmp(name, "evict_lru"))
        lru_hits = hits;
    run_free(&ext);
    run_free(&mod);
    free(trace);
    return hits;
}

/* Policies that resist scans keep more of the hot set than LRU does on a
 * trace with scans larger than the pool. */
static bool beats_lru(const char *name, uint64_t hits)
{
    if (!lru_hits)
        lru_hits = check_policy("evict_lru");
    if (hits > lru_hits)
        return true;
    fprintf(stderr, "  %s: %llu hits, LRU %llu\n", name, (unsigned long long)hits, (unsigned long long)lru_hits);
    return false;
}

/* The policy matches its model and, resisting scans, keeps more of the hot
 * set than LRU. */
static bool scan_resistant(const char *name)
{
    uint64_t hits = check_policy(name);
    return hits && beats_lru(name, hits);
}

TEST(pcache_policy_lru_trace) { CHECK(check_policy("evict_lru")); }

/* A policy attached halfway through the trace (the pool full of frames
 * filed under the built-in LRU) gets every cached frame on its lists at
 * once: from the first eviction after the swap each victim is its own
 * choice, none falls back to the built-in for want of candidates. */
struct swap_arg {
    pl_runtime *rt;
    const char *name;
    uint64_t evictions_before;
};

static void swap_in(void *p)
{
    struct swap_arg *a = p;
    struct pcache_stats st;
    pcache_stats(&st);
    a->evictions_before = st.evictions;
    if (attach_extension(a->rt, a->name))
        abort();
}

static bool adopts_frames_at_swap(const char *name)
{
    uint32_t *trace = make_trace();
    struct swap_arg a = {.rt = hook_runtime(), .name = name};
    struct run r = {0};
    bool ok = trace && a.rt && replay_swap(trace, TRACE_LEN, TRACE_FRAMES, &r, swap_in, &a);
    if (a.rt)
        hook_runtime_free(a.rt);
    const struct pcache_hook_counts *e = &r.st.hook[PCACHE_HOOK_EVICT];
    if (ok && (r.st.adoptions != 1 || r.st.hook_victims != r.nevict - a.evictions_before || e->fallbacks ||
               r.st.handle_errors)) {
        fprintf(stderr, "  %s: %llu adoptions, %llu of %llu victims after the swap chosen by the policy, %llu "
                        "fallbacks, %llu bad handles\n", name, (unsigned long long)r.st.adoptions,
                (unsigned long long)r.st.hook_victims, (unsigned long long)(r.nevict - a.evictions_before),
                (unsigned long long)e->fallbacks, (unsigned long long)r.st.handle_errors);
        ok = false;
    }
    run_free(&r);
    free(trace);
    return ok;
}

TEST(pcache_policy_live_swap_adopts_frames)
{
    CHECK(adopts_frames_at_swap("evict_sieve"));
    CHECK(adopts_frames_at_swap("evict_s3fifo"));
    CHECK(adopts_frames_at_swap("evict_2q"));
}
TEST(pcache_policy_clock_trace) { CHECK(check_policy("evict_clock")); }
TEST(pcache_policy_sieve_trace) { CHECK(check_policy("evict_sieve")); }
TEST(pcache_policy_lfu_trace) { CHECK(scan_resistant("evict_lfu")); }
TEST(pcache_policy_2q_trace) { CHECK(scan_resistant("evict_2q")); }
TEST(pcache_policy_s3fifo_trace) { CHECK(scan_resistant("evict_s3fifo")); }
TEST(pcache_policy_lruk_trace) { CHECK(scan_resistant("evict_lruk")); }
