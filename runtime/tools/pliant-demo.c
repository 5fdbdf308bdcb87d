/*
 * pliant-demo: the runtime at work, in a few seconds.
 *
 * Four threads run a small cache simulation (hot keys plus periodic cold
 * scans) whose eviction decision is a hookpoint. While they run, the demo
 * attaches an LRU policy, swaps it live for an LFU policy (the policies'
 * shared "decisions" map survives the swap), tries to push an unsafe policy
 * (the verifier rejects it; nothing changes), then pushes a buggy but safe
 * policy whose invalid answers the host refuses until the circuit breaker
 * detaches it. The threads never stop; hit ratios per phase show each
 * policy's effect.
 *
 *   pliant-demo [EXTENSIONS_DIR]     (default: build/extensions)
 */
#include "pliant/pliant.h"
#include "pliant_demo.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define THREADS 4
#define FRAMES 256
#define KEYS 8192
#define HOT_KEYS 192
#define PHASE_MS 600

enum phase { PH_DEFAULT, PH_LRU, PH_LFU, PH_BROKEN, PH_COUNT };
static const char *phase_names[PH_COUNT] = {"built-in default (random victim)", "LRU policy",
                                            "LFU policy (swapped in live)", "buggy policy -> breaker"};

static _Atomic int current_phase = PH_DEFAULT;
static _Atomic bool stop;
static pl_hook *evict_hook;

struct frame {
    uint64_t key, last_access;
    uint32_t hits;
    bool used;
};

struct worker {
    struct frame frames[FRAMES];
    int32_t where[KEYS];
    uint64_t clock, rng;
    /* fallbacks: evictions decided by the built-in default while a phase's
     * policy was meant to decide (invalid answer, or detached by the breaker) */
    uint64_t hits[PH_COUNT], misses[PH_COUNT], fallbacks[PH_COUNT];
};

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static uint32_t choose_victim(struct worker *w, int phase)
{
    struct demo_evict_ctx ctx = {.ncand = DEMO_CANDIDATES};
    uint32_t frame_of[DEMO_CANDIDATES], newest = 0;
    for (uint32_t i = 0; i < DEMO_CANDIDATES; i++) {
        uint32_t f = (uint32_t)(next_random(&w->rng) % FRAMES);
        frame_of[i] = f;
        ctx.cand[i] = (struct demo_candidate){w->frames[f].key, w->frames[f].last_access, w->frames[f].hits, 0};
        if (ctx.cand[i].last_access >= ctx.cand[newest].last_access)
            newest = i;
    }
    ctx.cand[newest].pinned = 1; /* the frame just used is still in use */
    uint64_t ret;
    if (pl_hook_run(evict_hook, &ctx, &ret) == PL_HOOK_RAN)
        return frame_of[ret];
    if (phase != PH_DEFAULT)
        w->fallbacks[phase]++;
    return frame_of[newest == 0 ? 1 : 0]; /* built-in default: a random unpinned frame */
}

static void access_key(struct worker *w, uint64_t key, int phase)
{
    w->clock++;
    int32_t f = w->where[key];
    if (f >= 0) {
        w->frames[f].last_access = w->clock;
        w->frames[f].hits++;
        w->hits[phase]++;
        return;
    }
    w->misses[phase]++;
    uint32_t victim = choose_victim(w, phase);
    struct frame *fr = &w->frames[victim];
    if (fr->used)
        w->where[fr->key] = -1;
    *fr = (struct frame){key, w->clock, 0, true};
    w->where[key] = (int32_t)victim;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t scan_next = HOT_KEYS;
    while (!stop) {
        int phase = current_phase;
        for (int i = 0; i < 1000; i++) {
            uint64_t r = next_random(&w->rng);
            if (i % 250 < 50) /* a burst of a sequential cold scan */
                access_key(w, scan_next = scan_next + 1 < KEYS ? scan_next + 1 : HOT_KEYS, phase);
            else if (r % 10 < 8)
                access_key(w, (r >> 8) % HOT_KEYS, phase);
            else
                access_key(w, HOT_KEYS + (r >> 8) % (KEYS - HOT_KEYS), phase);
        }
    }
    pl_thread_unregister();
    return NULL;
}

static bool valid_victim(uint64_t ret, const void *ctx, void *user)
{
    (void)user;
    const struct demo_evict_ctx *c = ctx;
    return ret < c->ncand && !c->cand[ret].pinned;
}

static int register_hook(pl_runtime *rt, pl_error *err)
{
    static struct pl_hook_field fields[2 + 4 * DEMO_CANDIDATES];
    static char names[4 * DEMO_CANDIDATES][32];
    uint32_t n = 0;
    fields[n++] = (struct pl_hook_field){"ncand", 0, 4, PL_FIELD_READ, PL_FIELD_SCALAR};
    for (uint32_t i = 0; i < DEMO_CANDIDATES; i++) {
        static const char *member[4] = {"key", "last_access", "hits", "pinned"};
        static const uint32_t off[4] = {0, 8, 16, 20}, size[4] = {8, 8, 4, 4};
        for (int m = 0; m < 4; m++) {
            char *name = names[i * 4 + m];
            snprintf(name, sizeof(names[0]), "cand[%u].%s", i, member[m]);
            fields[n++] = (struct pl_hook_field){
                name, (uint32_t)(8 + i * sizeof(struct demo_candidate) + off[m]), size[m], PL_FIELD_READ,
                PL_FIELD_SCALAR};
        }
    }
    static const uint32_t helpers[] = {PL_HELPER_MAP_LOOKUP_ELEM, PL_HELPER_KTIME_GET_NS};
    struct pl_hook_spec spec = {
        .name = "demo_evict", .ctx_size = sizeof(struct demo_evict_ctx), .fields = fields, .nfields = n,
        .helpers = helpers, .nhelpers = 2, .has_ret_range = true, .ret_min = 0, .ret_max = DEMO_CANDIDATES - 1,
        .validate = valid_victim, .fault_limit = 64, .sample_shift = 6,
    };
    return pl_hook_register(rt, &spec, &evict_hook, err);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Loads dir/name, inheriting compatible maps from the attached program, and
 * attaches it. Prints what happened and how long it took. */
static int push_policy(pl_runtime *rt, const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    pl_error err = {0};
    pl_prog *old = pl_hook_current(evict_hook);
    double t0 = now_us();
    pl_object *obj = NULL;
    struct pl_object_opts opts = {.inherit_maps_from = old, .hook = evict_hook};
    int rc = pl_object_open_file(rt, path, &opts, &obj, &err);
    pl_prog *prog = rc ? NULL : pl_object_find_prog(obj, "hook/demo_evict");
    if (!rc && !prog) {
        snprintf(err.msg, sizeof(err.msg), "%.400s has no section hook/demo_evict", path);
        rc = PL_ENOENT;
    }
    if (!rc)
        rc = pl_hook_attach(evict_hook, prog, &err);
    double t1 = now_us();
    if (rc)
        printf("  push %s refused (%s), the running policy is untouched:\n    %s\n", name, pl_strerror(rc),
               err.msg);
    else
        printf("  pushed %-26s load + JIT + attach in %.1f us%s\n", name, t1 - t0,
               old ? " (maps inherited from the previous policy)" : "");
    pl_object_close(obj);
    pl_prog_put(old);
    return rc;
}

static uint64_t decisions_so_far(void)
{
    pl_prog *p = pl_hook_current(evict_hook);
    pl_map *m = p ? pl_prog_map_by_name(p, "decisions") : NULL;
    uint64_t total = 0;
    static uint64_t values[PL_MAX_THREADS];
    uint32_t key = 0;
    if (m && pl_map_lookup(m, &key, values) == 0)
        for (int i = 0; i < PL_MAX_THREADS; i++)
            total += values[i];
    pl_prog_put(p);
    return total;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "build/extensions";
    if (!strcmp(dir, "--help") || !strcmp(dir, "-h")) {
        printf("usage: pliant-demo [EXTENSIONS_DIR]   (default: build/extensions)\n");
        return 0;
    }
    pl_runtime *rt;
    pl_error err = {0};
    if (pl_runtime_new(NULL, &rt, &err) || register_hook(rt, &err)) {
        fprintf(stderr, "pliant-demo: %s\n", err.msg);
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* interleave with the runtime's log on stderr */
    printf("Pliant runtime demo: %d threads run a cache simulation whose eviction is hook 'demo_evict'.\n"
           "Policies are pushed while the threads keep running (times include competing with them).\n\n",
           THREADS);
    static struct worker workers[THREADS];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(workers[i].where, 0xff, sizeof(workers[i].where));
        workers[i].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
        pthread_create(&threads[i], NULL, worker_main, &workers[i]);
    }
    int rc = 0;
    sleep_ms(PHASE_MS);
    rc |= push_policy(rt, dir, "demo_evict_lru.bpf.o");
    current_phase = PH_LRU;
    sleep_ms(PHASE_MS);
    uint64_t before_swap = decisions_so_far();
    rc |= push_policy(rt, dir, "demo_evict_lfu.bpf.o");
    current_phase = PH_LFU;
    printf("  'decisions' map: %llu before the swap, %llu right after it (state kept)\n",
           (unsigned long long)before_swap, (unsigned long long)decisions_so_far());
    sleep_ms(PHASE_MS);
    printf("  trying an unsafe policy (reads one candidate past the end of the context):\n");
    if (push_policy(rt, dir, "demo_evict_unsafe.bpf.o") != PL_EVERIFY) {
        fprintf(stderr, "  expected the verifier to reject demo_evict_unsafe.bpf.o\n");
        rc = 1;
    }
    rc |= push_policy(rt, dir, "demo_evict_broken.bpf.o");
    current_phase = PH_BROKEN;
    sleep_ms(PHASE_MS / 2);
    stop = true;
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);

    printf("\n%-36s %10s %10s %10s\n", "phase", "accesses", "hit ratio", "fallbacks");
    for (int ph = 0; ph < PH_COUNT; ph++) {
        uint64_t hits = 0, misses = 0, fallbacks = 0;
        for (int i = 0; i < THREADS; i++) {
            hits += workers[i].hits[ph];
            misses += workers[i].misses[ph];
            fallbacks += workers[i].fallbacks[ph];
        }
        double ratio = hits + misses ? 100.0 * (double)hits / (double)(hits + misses) : 0;
        printf("%-36s %10llu %9.1f%% %12llu\n", phase_names[ph], (unsigned long long)(hits + misses), ratio,
               (unsigned long long)fallbacks);
    }
    struct pl_hook_stats st;
    pl_hook_stats(evict_hook, &st);
    char reason[256];
    printf("\nhook demo_evict: %llu invocations, %llu faults, %llu attaches, attached now: %s\n",
           (unsigned long long)st.invocations, (unsigned long long)st.faults, (unsigned long long)st.attaches,
           st.attached ? "yes" : "no");
    if (st.samples)
        printf("sampled cost per invocation: %.0f ns (1 call in 64 timed)\n",
               (double)st.sampled_ns / (double)st.samples);
    printf("circuit breaker: %s\n", pl_hook_breaker_reason(evict_hook, reason, sizeof(reason))[0] ? reason : "never tripped");
    pl_runtime_free(rt);
    return rc ? 1 : 0;
}
