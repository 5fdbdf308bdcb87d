/*
 * Buffer pool: what a fetch hit costs with its hookpoints idle and busy.
 * One operation is what SQLite does to read a cached page: xFetch (a hit)
 * then xUnpin, on one thread, over 1,024 resident pages in a shuffled
 * order (the pool holds 4,096 frames, so nothing is evicted).
 *
 *   detached      hooks registered, nothing attached: the hook-off path
 *   defaults      page_hash_default, page_fetch_default, page_unpin_default
 *                 and evict_lru attached: three programs run per operation
 *   s3fifo        page_hash_default and the S3-FIFO policy (its page_unpin
 *                 program counts the re-reference through a helper)
 *
 *   bench_pcache <build dir>     # prints a Markdown section for RESULTS.md
 */
#include "pliant/pliant.h"
#include "../engine/pcache.h"
#include "bench_util.h"

#define PAGES 1024
#define ROUNDS 101

static const sqlite3_pcache_methods2 *m;
static sqlite3_pcache *cache;
static unsigned order[PAGES];
static pl_runtime *rt;
static pl_object *defaults[4], *s3fifo[2];
static volatile uint64_t sink;

/* Attaches the objects of a variant before its round (a few pointer swaps:
 * no load, no verification). */
static void use(pl_object *const *objs, int n)
{
    char err[256];
    pcache_detach_all();
    for (int i = 0; i < n; i++)
        if (pcache_attach_object(objs[i], err, sizeof err)) {
            fprintf(stderr, "bench_pcache: %s\n", err);
            exit(1);
        }
}

static void hits(uint64_t iters)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iters; i++) {
        sqlite3_pcache_page *p = m->xFetch(cache, order[i % PAGES], 0);
        sum += (uintptr_t)p;
        m->xUnpin(cache, p, 0);
    }
    sink = sum;
}

static void run_detached(void *arg, uint64_t iters)
{
    (void)arg;
    use(NULL, 0);
    hits(iters);
}

static void run_defaults(void *arg, uint64_t iters)
{
    (void)arg;
    use(defaults, 4);
    hits(iters);
}

static void run_s3fifo(void *arg, uint64_t iters)
{
    (void)arg;
    use(s3fifo, 2);
    hits(iters);
}

static pl_object *open_ext(const char *build, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/extensions/%s.bpf.o", build, name);
    pl_object *obj = NULL;
    pl_error err;
    if (pl_object_open_file(rt, path, &(struct pl_object_opts){.flags = PL_LOAD_HOOK_BY_SECTION}, &obj, &err)) {
        fprintf(stderr, "bench_pcache: %s: %s\n", path, err.msg);
        exit(1);
    }
    return obj;
}

int main(int argc, char **argv)
{
    const char *build = argc > 1 ? argv[1] : "build";
    char err[256];
    pl_error perr;
    struct pcache_config cfg = {.budget_bytes = 4096 * pcache_frame_bytes(4096, 256)};
    if (pcache_pool_init(&cfg, err, sizeof err) || pl_runtime_new(NULL, &rt, &perr) ||
        pcache_register_hooks(rt, err, sizeof err)) {
        fprintf(stderr, "bench_pcache: setup failed: %s\n", err);
        return 1;
    }
    defaults[0] = open_ext(build, "page_hash_default");
    defaults[1] = open_ext(build, "page_fetch_default");
    defaults[2] = open_ext(build, "page_unpin_default");
    defaults[3] = open_ext(build, "evict_lru");
    s3fifo[0] = defaults[0];
    s3fifo[1] = open_ext(build, "evict_s3fifo");
    m = pcache_methods();
    cache = m->xCreate(4096, 256, 1);
    uint64_t seed = 1;
    for (unsigned i = 0; i < PAGES; i++)
        order[i] = i + 1;
    for (unsigned i = PAGES - 1; i > 0; i--) { /* Fisher-Yates, fixed seed */
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned j = (unsigned)((seed >> 33) % (i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (unsigned i = 0; i < PAGES; i++) {
        sqlite3_pcache_page *p = m->xFetch(cache, order[i], 2);
        if (!p) {
            fprintf(stderr, "bench_pcache: cannot fill the pool\n");
            return 1;
        }
        m->xUnpin(cache, p, 0);
    }
    pl_thread_register(); /* keep first-use registration out of the timing */

    struct bench_variant v[] = {
        {.name = "detached (hook-off path)", .run = run_detached},
        {.name = "default extensions attached (hash, fetch, unpin programs run)", .run = run_defaults},
        {.name = "page_hash_default + evict_s3fifo attached", .run = run_s3fifo},
    };
    int nv = (int)(sizeof(v) / sizeof(v[0]));
    bench_interleave(v, nv, ROUNDS, 10);
    struct pcache_stats st;
    pcache_stats(&st);
    if (st.misses != PAGES || st.evictions) {
        fprintf(stderr, "bench_pcache: %llu misses, %llu evictions: the timed operations were not all hits\n",
                (unsigned long long)st.misses, (unsigned long long)st.evictions);
        return 1;
    }
    double r_def = bench_ratio(&v[1], &v[0], ROUNDS), r_s3 = bench_ratio(&v[2], &v[0], ROUNDS);

    printf("## 8. Buffer pool: fetch hit\n\n");
    printf("`bench/bench_pcache.c`: one operation is a cached page's read as SQLite does it, `xFetch` (a hit)\n"
           "then `xUnpin`, on one thread, over %d resident pages in a shuffled order (no eviction). Median of\n"
           "%d interleaved rounds of about 10 ms; the hooks are attached and detached between rounds.\n\n",
           PAGES, ROUNDS);
    printf("| variant | ns per fetch + release | : detached |\n|---|---:|---:|\n");
    printf("| %s | %.1f | 1.00x |\n", v[0].name, v[0].median_ns);
    printf("| %s | %.1f | %.2fx |\n", v[1].name, v[1].median_ns, r_def);
    printf("| %s | %.1f | %.2fx |\n\n", v[2].name, v[2].median_ns, r_s3);
    char measured[96];
    snprintf(measured, sizeof measured, "%.2fx (%.1f vs %.1f ns)", r_def, v[1].median_ns, v[0].median_ns);
    bench_target("buffer pool fetch hit, default extensions attached : detached", measured, r_def, "<= 1.5x", 1.5);

    m->xDestroy(cache);
    pcache_detach_all();
    for (int i = 0; i < 4; i++)
        pl_object_close(defaults[i]);
    pl_object_close(s3fifo[1]);
    pcache_unregister_hooks();
    pl_runtime_free(rt);
    pcache_pool_shutdown(err, sizeof err);
    return 0;
}
