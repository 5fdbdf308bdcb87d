/* Helpers for the buffer pool's tests (see pcache_harness.h). */
#include "pcache_harness.h"
#include "storage_testutil.h"
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool pool_up(uint64_t frames, uint64_t hard_frames)
{
    char err[256];
    struct pcache_config cfg = {.budget_bytes = frames * frame_bytes(), .hard_limit_bytes = hard_frames * frame_bytes()};
    if (pcache_pool_init(&cfg, err, sizeof err)) {
        fprintf(stderr, "  pcache_pool_init: %s\n", err);
        return false;
    }
    return true;
}

bool pool_down(void)
{
    char err[256];
    pcache_set_evict_observer(NULL, NULL);
    if (pcache_pool_shutdown(err, sizeof err)) {
        fprintf(stderr, "  pcache_pool_shutdown: %s\n", err);
        return false;
    }
    return true;
}

uint64_t frame_bytes(void) { return pcache_frame_bytes(PAGE, EXTRA); }

bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

uint64_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

pl_runtime *hook_runtime(void) { return storage_test_runtime(pcache_register_hooks); }

void hook_runtime_free(pl_runtime *rt)
{
    pcache_detach_all();
    pcache_unregister_hooks();
    pl_runtime_free(rt);
}

static int attach_path(pl_runtime *rt, const char *path)
{
    char err[512];
    int rc = pcache_attach_file(rt, path, err, sizeof err);
    if (rc)
        fprintf(stderr, "  %s\n", err);
    return rc;
}

int attach_extension(pl_runtime *rt, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/extensions/%s.bpf.o", tl_build_dir(), name);
    return attach_path(rt, path);
}

int attach_test_prog(pl_runtime *rt, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/hook_progs/%s.o", tl_build_dir(), name);
    return attach_path(rt, path);
}

pl_map *attached_map(enum pcache_hook id, const char *name)
{
    pl_prog *p = pl_hook_current(pcache_hook(id));
    if (!p)
        return NULL;
    pl_map *m = pl_prog_map_by_name(p, name);
    pl_prog_put(p); /* the hook keeps its own reference */
    return m;
}

uint32_t *make_trace(void)
{
    uint32_t *t = malloc(TRACE_LEN * sizeof(*t));
    if (!t)
        return NULL;
    uint64_t s = 42;
    size_t n = 0;
    uint32_t scan = SCAN_BASE;
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

static void record_eviction(void *user, uint32_t cache_id, uint32_t tenant, uint32_t pgno)
{
    (void)cache_id;
    (void)tenant;
    struct run *r = user;
    if (r->nevict < TRACE_LEN)
        r->evicted[r->nevict++] = pgno;
}

bool replay(const uint32_t *trace, size_t n, uint32_t frames, struct run *r)
{
    return replay_swap(trace, n, frames, r, NULL, NULL);
}

bool replay_swap(const uint32_t *trace, size_t n, uint32_t frames, struct run *r, void (*midway)(void *), void *arg)
{
    memset(r, 0, sizeof(*r));
    r->evicted = calloc(TRACE_LEN, sizeof(uint32_t));
    if (!r->evicted || !pool_up(frames, 0))
        return false;
    pcache_set_evict_observer(record_eviction, r);
    sqlite3_pcache *c = M->xCreate(PAGE, EXTRA, 1);
    bool ok = c != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        if (midway && i == n / 2)
            midway(arg);
        sqlite3_pcache_page *p = M->xFetch(c, trace[i], 2);
        ok = p != NULL;
        if (!ok) {
            fprintf(stderr, "  replay: fetch %zu (page %u) refused\n", i, trace[i]);
            break;
        }
        /* A new page has a zeroed pExtra; the first word then holds the
         * page number + 1 and the buffer starts with the page number. */
        uint32_t *mark = p->pExtra, *stamp = p->pBuf;
        if (*mark == 0) {
            *mark = trace[i] + 1;
            *stamp = trace[i];
        } else if (*mark != trace[i] + 1 || *stamp != trace[i]) {
            fprintf(stderr, "  replay: fetch %zu of page %u returned page %u\n", i, trace[i], *stamp);
            ok = false;
        }
        M->xUnpin(c, p, 0);
    }
    pcache_stats(&r->st);
    r->hits = r->st.hits;
    r->misses = r->st.misses;
    if (c) {
        r->chain_builtin = pcache_chain_max(c, false);
        r->chain_hook = pcache_chain_max(c, true);
        M->xDestroy(c);
    }
    return pool_down() && ok;
}

void run_free(struct run *r)
{
    free(r->evicted);
    r->evicted = NULL;
}

bool same_run(const struct run *a, const struct run *b, const char *what)
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
