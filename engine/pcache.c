/* The global buffer pool behind SQLite (see pcache.h for the picture).
 *
 * A frame is one malloc'd header (struct pc_frame followed by SQLite's
 * pExtra) plus a page buffer from posix_memalign(4096) so that a later
 * O_DIRECT VFS can read straight into it. Frames belong to one cache (one
 * pager) at a time; unpinned frames of purgeable caches sit on the pool's
 * single LRU list, most recently released at the head, and are the only
 * ones eviction may take. SQLite keeps dirty pages pinned (its pcache.c
 * unpins a page only once it is clean), so an unpinned frame can always be
 * dropped without losing data. */
#include "pcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pliant_pcache.h>

#define FRAME_ALIGN 4096

struct pc_cache;

struct pc_frame {
    sqlite3_pcache_page pg; /* what SQLite holds: pBuf, pExtra */
    struct pc_cache *cache;
    struct pc_frame *hnext;       /* cache's hash chain */
    struct pc_frame *prev, *next; /* pool LRU list, while listed */
    uint64_t last_access;         /* pool clock at the last release */
    uint32_t key;
    uint32_t access_count;
    uint32_t bytes;               /* charged against the budget */
    bool pinned;
    bool listed;
    /* pExtra follows, 16-byte aligned like malloc's own memory, because
     * SQLite keeps its PgHdr (pointers, 64-bit fields) there. */
} __attribute__((aligned(16)));

struct pc_cache {
    uint32_t id, tenant;
    int sz_page, sz_extra;
    bool purgeable;
    int cachesize;              /* SQLite's hint; the pool budget rules */
    struct pc_frame **hash;
    uint32_t nhash;             /* power of two */
    uint32_t npage;
};

static struct {
    pthread_mutex_t mu;
    bool init;
    uint64_t budget, hard_limit;
    uint64_t bytes, pinned_bytes, frames;
    uint64_t caches;
    uint64_t clock;
    uint32_t next_cache_id;
    struct pc_frame lru; /* sentinel: lru.next is the head (newest), lru.prev the tail */
    uint64_t hits, misses, evictions, hook_victims, hook_fallbacks, refused;
    struct pcache_tenant_stats tenants[PCACHE_MAX_TENANTS];
    pcache_evict_observer observer;
    void *observer_user;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .lru = {.prev = &pool.lru, .next = &pool.lru}};

static _Atomic(pl_hook *) evict_hook;
static _Thread_local uint32_t thread_tenant;

static struct pcache_tenant_stats *tstats(uint32_t tenant)
{
    return &pool.tenants[tenant < PCACHE_MAX_TENANTS ? tenant : PCACHE_MAX_TENANTS - 1];
}

uint64_t pcache_frame_bytes(int sz_page, int sz_extra)
{
    return sizeof(struct pc_frame) + (uint64_t)sz_extra + (uint64_t)sz_page;
}

void pcache_set_thread_tenant(uint32_t tenant) { thread_tenant = tenant; }

/* ------------------------------------------------------------ LRU list */

static void lru_remove(struct pc_frame *f)
{
    if (!f->listed)
        return;
    f->prev->next = f->next;
    f->next->prev = f->prev;
    f->prev = f->next = NULL;
    f->listed = false;
}

static void lru_push_head(struct pc_frame *f)
{
    f->next = pool.lru.next;
    f->prev = &pool.lru;
    pool.lru.next->prev = f;
    pool.lru.next = f;
    f->listed = true;
}

/* ----------------------------------------------------------- hash table */

static uint32_t slot_of(const struct pc_cache *c, uint32_t key) { return key & (c->nhash - 1); }

static struct pc_frame *hash_find(const struct pc_cache *c, uint32_t key)
{
    for (struct pc_frame *f = c->hash[slot_of(c, key)]; f; f = f->hnext)
        if (f->key == key)
            return f;
    return NULL;
}

static void hash_remove(struct pc_frame *f)
{
    struct pc_cache *c = f->cache;
    struct pc_frame **pp = &c->hash[slot_of(c, f->key)];
    while (*pp != f)
        pp = &(*pp)->hnext;
    *pp = f->hnext;
    f->hnext = NULL;
    c->npage--;
}

/* Doubling keeps chains short as a cache grows; a failed resize only makes
 * chains longer, so it is not an error. */
static void hash_grow(struct pc_cache *c)
{
    uint32_t n = c->nhash * 2;
    struct pc_frame **h = calloc(n, sizeof(*h));
    if (!h)
        return;
    for (uint32_t i = 0; i < c->nhash; i++) {
        struct pc_frame *f = c->hash[i];
        while (f) {
            struct pc_frame *next = f->hnext;
            uint32_t s = f->key & (n - 1);
            f->hnext = h[s];
            h[s] = f;
            f = next;
        }
    }
    free(c->hash);
    c->hash = h;
    c->nhash = n;
}

static void hash_insert(struct pc_cache *c, struct pc_frame *f)
{
    if (c->npage >= c->nhash && c->nhash < (1u << 30))
        hash_grow(c);
    uint32_t s = slot_of(c, f->key);
    f->hnext = c->hash[s];
    c->hash[s] = f;
    c->npage++;
}

/* ------------------------------------------------------------- frames */

static void frame_free(struct pc_frame *f)
{
    pool.bytes -= f->bytes;
    pool.frames--;
    tstats(f->cache->tenant)->bytes -= f->bytes;
    free(f->pg.pBuf);
    free(f);
}

/* Takes a frame out of its cache, pinned or not (discard, truncate,
 * destroy, eviction), leaving it owned by the caller. */
static void frame_detach(struct pc_frame *f)
{
    if (f->pinned) {
        f->pinned = false;
        pool.pinned_bytes -= f->bytes;
    }
    lru_remove(f);
    hash_remove(f);
}

static void frame_drop(struct pc_frame *f)
{
    frame_detach(f);
    frame_free(f);
}

static struct pc_frame *frame_alloc(struct pc_cache *c)
{
    uint64_t bytes = pcache_frame_bytes(c->sz_page, c->sz_extra);
    struct pc_frame *f = malloc(sizeof(*f) + (size_t)c->sz_extra);
    if (!f)
        return NULL;
    void *buf = NULL;
    if (posix_memalign(&buf, FRAME_ALIGN, (size_t)c->sz_page) != 0) {
        free(f);
        return NULL;
    }
    memset(f, 0, sizeof(*f));
    f->pg.pBuf = buf;
    f->pg.pExtra = f + 1;
    f->bytes = (uint32_t)bytes;
    pool.bytes += bytes;
    pool.frames++;
    tstats(c->tenant)->bytes += bytes;
    return f;
}

/* ------------------------------------------------------------- eviction */

static void note_eviction(struct pc_frame *f)
{
    pool.evictions++;
    tstats(f->cache->tenant)->evictions++;
    if (pool.observer)
        pool.observer(pool.observer_user, f->cache->id, f->cache->tenant, f->key);
}

/* The frame to evict, or NULL when nothing is unpinned. The built-in
 * policy is the list's tail; an attached page_evict program may name any
 * of the PL_EVICT_CANDIDATES oldest instead. */
static struct pc_frame *choose_victim(uint32_t tenant)
{
    struct pc_frame *tail = pool.lru.prev;
    if (tail == &pool.lru)
        return NULL;
#ifndef PLIANT_NO_HOOKS
    pl_hook *hook = atomic_load_explicit(&evict_hook, memory_order_acquire);
    if (hook) {
        struct pl_page_evict_ctx ctx;
        struct pc_frame *offered[PL_EVICT_CANDIDATES];
        memset(&ctx, 0, sizeof(ctx));
        ctx.tenant = tenant;
        ctx.now = pool.clock;
        uint32_t n = 0;
        for (struct pc_frame *f = tail; f != &pool.lru && n < PL_EVICT_CANDIDATES; f = f->prev, n++) {
            offered[n] = f;
            ctx.cand[n] = (struct pl_evict_candidate){
                .last_access = f->last_access, .tenant = f->cache->tenant, .cache_id = f->cache->id,
                .pgno = f->key, .access_count = f->access_count, .list = PL_LIST_LRU};
        }
        ctx.ncand = n;
        uint64_t ret = 0;
        int rc = pl_hook_run(hook, &ctx, &ret);
        if (rc == PL_HOOK_RAN) {
            /* The mutex is held since the candidates were read, so a valid
             * index still names the same unpinned page; the checks guard
             * against an answer outside what was offered. */
            if (ret < n && offered[ret]->listed && !offered[ret]->pinned) {
                pool.hook_victims++;
                return offered[ret];
            }
            pool.hook_fallbacks++;
        } else if (rc == PL_HOOK_FAULT) {
            pool.hook_fallbacks++;
        }
    }
#else
    (void)tenant;
#endif
    return tail;
}

/* Makes room for one frame of c: evicts until the budget has space for it,
 * or reuses a victim of the same size (no free/alloc round trip). Returns a
 * detached frame ready for c, or NULL when the caller must allocate (or
 * give up: nothing is unpinned). */
static struct pc_frame *make_room(struct pc_cache *c, uint64_t need, bool *full)
{
    *full = false;
    while (pool.bytes + need > pool.budget) {
        struct pc_frame *v = choose_victim(c->tenant);
        if (!v) {
            *full = true;
            return NULL;
        }
        note_eviction(v);
        if (v->cache->sz_page == c->sz_page && v->cache->sz_extra == c->sz_extra) {
            uint32_t old_tenant = v->cache->tenant;
            frame_detach(v);
            tstats(old_tenant)->bytes -= v->bytes;
            tstats(c->tenant)->bytes += v->bytes;
            return v;
        }
        frame_drop(v);
    }
    return NULL;
}

/* ------------------------------------------------------- pcache2 methods */

static int pc_init(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool.mu);
    bool ok = pool.init;
    pthread_mutex_unlock(&pool.mu);
    /* sqlite3_initialize() fails cleanly rather than running without a
     * budget if the pool was never set up. */
    return ok ? SQLITE_OK : SQLITE_MISUSE;
}

/* The pool outlives sqlite3_shutdown(): pcache_pool_shutdown() frees it. */
static void pc_shutdown(void *arg) { (void)arg; }

static sqlite3_pcache *pc_create(int sz_page, int sz_extra, int purgeable)
{
    if (sz_page <= 0 || sz_extra < 0)
        return NULL;
    struct pc_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->nhash = 64;
    c->hash = calloc(c->nhash, sizeof(*c->hash));
    if (!c->hash) {
        free(c);
        return NULL;
    }
    c->sz_page = sz_page;
    c->sz_extra = sz_extra;
    c->purgeable = purgeable != 0;
    c->tenant = thread_tenant;
    pthread_mutex_lock(&pool.mu);
    c->id = ++pool.next_cache_id;
    pool.caches++;
    pthread_mutex_unlock(&pool.mu);
    return (sqlite3_pcache *)c;
}

static void pc_cachesize(sqlite3_pcache *p, int n)
{
    struct pc_cache *c = (struct pc_cache *)p;
    pthread_mutex_lock(&pool.mu);
    c->cachesize = n;
    pthread_mutex_unlock(&pool.mu);
}

static int pc_pagecount(sqlite3_pcache *p)
{
    struct pc_cache *c = (struct pc_cache *)p;
    pthread_mutex_lock(&pool.mu);
    int n = (int)c->npage;
    pthread_mutex_unlock(&pool.mu);
    return n;
}

static sqlite3_pcache_page *pc_fetch(sqlite3_pcache *p, unsigned key, int create)
{
    struct pc_cache *c = (struct pc_cache *)p;
    struct pcache_tenant_stats *ts;
    pthread_mutex_lock(&pool.mu);
    ts = tstats(c->tenant);
    struct pc_frame *f = hash_find(c, key);
    if (f) {
        if (!f->pinned) {
            lru_remove(f);
            f->pinned = true;
            pool.pinned_bytes += f->bytes;
        }
        f->access_count++;
        pool.hits++;
        ts->hits++;
        pthread_mutex_unlock(&pool.mu);
        return &f->pg;
    }
    pool.misses++;
    ts->misses++;
    if (create == 0)
        goto none;
    uint64_t need = pcache_frame_bytes(c->sz_page, c->sz_extra);
    if (c->purgeable) {
        /* Like SQLite's own pcache1: when pinned pages fill most of the
         * budget, the "easy" fetch declines so that SQLite spills dirty
         * pages (making them unpinned, hence evictable) and asks again
         * with createFlag 2. */
        if (create == 1 && pool.pinned_bytes + need > pool.budget / 10 * 9)
            goto refuse;
        bool full;
        f = make_room(c, need, &full);
        if (!f && full && (create < 2 || pool.bytes + need > pool.hard_limit))
            goto refuse;
    }
    /* Non-purgeable caches (temporary and in-memory databases) cannot give
     * pages back, so refusing them would only turn into SQLITE_FULL/NOMEM
     * errors: they are charged to their tenant but never limited here
     * (per-tenant quotas are the mem_charge hook's job). */
    if (!f) {
        f = frame_alloc(c);
        if (!f)
            goto refuse;
    }
    f->cache = c;
    f->key = key;
    f->access_count = 1;
    f->last_access = 0;
    f->pinned = true;
    f->listed = false;
    pool.pinned_bytes += f->bytes;
    /* pcache2 contract: pExtra of a new page is zeroed; SQLite reads it to
     * tell a fresh page from one it already initialised. */
    memset(f->pg.pExtra, 0, (size_t)c->sz_extra);
    hash_insert(c, f);
    pthread_mutex_unlock(&pool.mu);
    return &f->pg;
refuse:
    pool.refused++;
none:
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

static void pc_unpin(sqlite3_pcache *p, sqlite3_pcache_page *pg, int discard)
{
    struct pc_cache *c = (struct pc_cache *)p;
    struct pc_frame *f = (struct pc_frame *)pg;
    pthread_mutex_lock(&pool.mu);
    if (discard || !c->purgeable) {
        if (discard) {
            frame_drop(f);
        } else if (f->pinned) {
            /* Unpinned but kept: a non-purgeable cache's pages must stay
             * until SQLite truncates or destroys the cache. */
            f->pinned = false;
            pool.pinned_bytes -= f->bytes;
            f->last_access = ++pool.clock;
        }
        pthread_mutex_unlock(&pool.mu);
        return;
    }
    if (f->pinned) {
        f->pinned = false;
        pool.pinned_bytes -= f->bytes;
    }
    f->last_access = ++pool.clock;
    lru_push_head(f);
    /* A createFlag 2 fetch may have gone over the budget while everything
     * was pinned; give the excess back as soon as frames are released. */
    while (pool.bytes > pool.budget) {
        struct pc_frame *v = choose_victim(c->tenant);
        if (!v)
            break;
        note_eviction(v);
        frame_drop(v);
    }
    pthread_mutex_unlock(&pool.mu);
}

static void pc_rekey(sqlite3_pcache *p, sqlite3_pcache_page *pg, unsigned old_key, unsigned new_key)
{
    struct pc_cache *c = (struct pc_cache *)p;
    struct pc_frame *f = (struct pc_frame *)pg;
    (void)old_key;
    pthread_mutex_lock(&pool.mu);
    if (f->key != new_key) {
        /* The contract: a page already at new_key is discarded (SQLite
         * guarantees it is not pinned). */
        struct pc_frame *other = hash_find(c, new_key);
        if (other)
            frame_drop(other);
        hash_remove(f);
        f->key = new_key;
        hash_insert(c, f);
    }
    pthread_mutex_unlock(&pool.mu);
}

/* Drops every page of c with key >= limit. Pinned pages among them are
 * dropped too, as SQLite's pcache1TruncateUnsafe does ("implicitly
 * unpinned" in the pcache2 documentation); SQLite never uses them again. */
static void truncate_locked(struct pc_cache *c, uint32_t limit, bool only_unpinned)
{
    for (uint32_t i = 0; i < c->nhash; i++) {
        struct pc_frame *f = c->hash[i];
        while (f) {
            struct pc_frame *next = f->hnext;
            if (f->key >= limit && (!only_unpinned || !f->pinned))
                frame_drop(f);
            f = next;
        }
    }
}

static void pc_truncate(sqlite3_pcache *p, unsigned limit)
{
    pthread_mutex_lock(&pool.mu);
    truncate_locked((struct pc_cache *)p, limit, false);
    pthread_mutex_unlock(&pool.mu);
}

static void pc_destroy(sqlite3_pcache *p)
{
    struct pc_cache *c = (struct pc_cache *)p;
    pthread_mutex_lock(&pool.mu);
    truncate_locked(c, 0, false);
    pool.caches--;
    pthread_mutex_unlock(&pool.mu);
    free(c->hash);
    free(c);
}

/* SQLite asks a cache to give memory back (sqlite3_db_release_memory, low
 * memory): every unpinned page of the cache goes. */
static void pc_shrink(sqlite3_pcache *p)
{
    pthread_mutex_lock(&pool.mu);
    truncate_locked((struct pc_cache *)p, 0, true);
    pthread_mutex_unlock(&pool.mu);
}

static const sqlite3_pcache_methods2 methods = {
    .iVersion = 1,
    .pArg = NULL,
    .xInit = pc_init,
    .xShutdown = pc_shutdown,
    .xCreate = pc_create,
    .xCachesize = pc_cachesize,
    .xPagecount = pc_pagecount,
    .xFetch = pc_fetch,
    .xUnpin = pc_unpin,
    .xRekey = pc_rekey,
    .xTruncate = pc_truncate,
    .xDestroy = pc_destroy,
    .xShrink = pc_shrink,
};

const sqlite3_pcache_methods2 *pcache_methods(void) { return &methods; }

uint32_t pcache_cache_id(sqlite3_pcache *cache) { return ((struct pc_cache *)cache)->id; }

/* ------------------------------------------------------------ lifecycle */

int pcache_pool_init(const struct pcache_config *cfg, char *err, size_t errlen)
{
    /* Below this the pool thrashes on a single B-tree descent, which pins
     * a handful of pages at once. */
    const uint64_t min_budget = 16 * pcache_frame_bytes(4096, 0);
    if (!cfg || cfg->budget_bytes < min_budget) {
        snprintf(err, errlen, "buffer pool budget %llu bytes is too small: give at least %llu (16 frames of 4 KiB pages)",
                 cfg ? (unsigned long long)cfg->budget_bytes : 0ull, (unsigned long long)min_budget);
        return -1;
    }
    uint64_t hard = cfg->hard_limit_bytes ? cfg->hard_limit_bytes : cfg->budget_bytes;
    if (hard < cfg->budget_bytes) {
        snprintf(err, errlen, "buffer pool hard limit %llu bytes is below the budget %llu",
                 (unsigned long long)hard, (unsigned long long)cfg->budget_bytes);
        return -1;
    }
    pthread_mutex_lock(&pool.mu);
    if (pool.caches || pool.frames) {
        pthread_mutex_unlock(&pool.mu);
        snprintf(err, errlen, "buffer pool still has %llu caches: close every connection before re-creating it",
                 (unsigned long long)pool.caches);
        return -1;
    }
    pool.init = true;
    pool.budget = cfg->budget_bytes;
    pool.hard_limit = hard;
    pool.bytes = pool.pinned_bytes = pool.frames = 0;
    pool.clock = 0;
    pool.lru.next = pool.lru.prev = &pool.lru;
    pool.hits = pool.misses = pool.evictions = pool.hook_victims = pool.hook_fallbacks = pool.refused = 0;
    memset(pool.tenants, 0, sizeof(pool.tenants));
    pthread_mutex_unlock(&pool.mu);
    return 0;
}

int pcache_pool_shutdown(char *err, size_t errlen)
{
    pthread_mutex_lock(&pool.mu);
    if (pool.caches) {
        uint64_t n = pool.caches;
        pthread_mutex_unlock(&pool.mu);
        snprintf(err, errlen, "buffer pool still has %llu caches: close every connection first",
                 (unsigned long long)n);
        return -1;
    }
    pool.init = false;
    pthread_mutex_unlock(&pool.mu);
    return 0;
}

int pcache_install(const struct pcache_config *cfg, char *err, size_t errlen)
{
    if (pcache_pool_init(cfg, err, errlen))
        return -1;
    int rc = sqlite3_config(SQLITE_CONFIG_PCACHE2, &methods);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen,
                 "cannot install the buffer pool into SQLite (%s): it must happen before sqlite3_initialize() "
                 "and the first sqlite3_open()",
                 sqlite3_errstr(rc));
        pcache_pool_shutdown(NULL, 0);
        return -1;
    }
    return 0;
}

/* --------------------------------------------------------------- hooks */

int pcache_register_hooks(pl_runtime *rt, char *err, size_t errlen)
{
#ifdef PLIANT_NO_HOOKS
    (void)rt;
    (void)err;
    (void)errlen;
    return 0;
#else
    /* The runtime's field tables hold scalars only, so every array element
     * gets its own entry, named like C; the runtime copies the names. */
    enum { PER_CAND = 6 };
    struct pl_hook_field f[3 + PER_CAND * PL_EVICT_CANDIDATES];
    char names[PER_CAND * PL_EVICT_CANDIDATES][32];
    uint32_t n = 0;
    f[n++] = (struct pl_hook_field){"ncand", offsetof(struct pl_page_evict_ctx, ncand), 4, PL_FIELD_READ,
                                    PL_FIELD_SCALAR};
    f[n++] = (struct pl_hook_field){"tenant", offsetof(struct pl_page_evict_ctx, tenant), 4, PL_FIELD_READ,
                                    PL_FIELD_SCALAR};
    f[n++] = (struct pl_hook_field){"now", offsetof(struct pl_page_evict_ctx, now), 8, PL_FIELD_READ,
                                    PL_FIELD_SCALAR};
    static const struct {
        const char *name;
        uint32_t off, size;
    } members[PER_CAND] = {
        {"last_access", offsetof(struct pl_evict_candidate, last_access), 8},
        {"tenant", offsetof(struct pl_evict_candidate, tenant), 4},
        {"cache_id", offsetof(struct pl_evict_candidate, cache_id), 4},
        {"pgno", offsetof(struct pl_evict_candidate, pgno), 4},
        {"access_count", offsetof(struct pl_evict_candidate, access_count), 4},
        {"list", offsetof(struct pl_evict_candidate, list), 4},
    };
    for (uint32_t i = 0; i < PL_EVICT_CANDIDATES; i++) {
        for (uint32_t m = 0; m < PER_CAND; m++) {
            char *name = names[i * PER_CAND + m];
            snprintf(name, sizeof(names[0]), "cand[%u].%s", i, members[m].name);
            f[n++] = (struct pl_hook_field){
                name, (uint32_t)(offsetof(struct pl_page_evict_ctx, cand) + i * sizeof(struct pl_evict_candidate) +
                                 members[m].off),
                members[m].size, PL_FIELD_READ, PL_FIELD_SCALAR};
        }
    }
    /* Policies keep their own state in maps; nothing else is offered. */
    static const uint32_t helpers[] = {PL_HELPER_MAP_LOOKUP_ELEM, PL_HELPER_MAP_UPDATE_ELEM,
                                       PL_HELPER_MAP_DELETE_ELEM};
    /* The range lets the JIT check answers itself (fast path, no validator
     * call); the pool checks the index against ncand and the frames. */
    struct pl_hook_spec spec = {
        .name = "page_evict", .ctx_size = sizeof(struct pl_page_evict_ctx), .fields = f, .nfields = n,
        .helpers = helpers, .nhelpers = sizeof(helpers) / sizeof(helpers[0]), .has_ret_range = true,
        .ret_min = 0, .ret_max = PL_EVICT_CANDIDATES - 1,
    };
    pl_hook *h = NULL;
    pl_error perr = {0};
    if (pl_hook_register(rt, &spec, &h, &perr)) {
        snprintf(err, errlen, "cannot register hook page_evict: %s", perr.msg);
        return -1;
    }
    atomic_store_explicit(&evict_hook, h, memory_order_release);
    return 0;
#endif
}

void pcache_unregister_hooks(void)
{
    /* Taking the mutex waits out an eviction that loaded the old handle. */
    pthread_mutex_lock(&pool.mu);
    atomic_store_explicit(&evict_hook, NULL, memory_order_release);
    pthread_mutex_unlock(&pool.mu);
}

pl_hook *pcache_hook_page_evict(void) { return atomic_load_explicit(&evict_hook, memory_order_acquire); }

/* ---------------------------------------------------------------- stats */

void pcache_stats(struct pcache_stats *out)
{
    pthread_mutex_lock(&pool.mu);
    *out = (struct pcache_stats){
        .budget_bytes = pool.budget, .hard_limit_bytes = pool.hard_limit, .bytes = pool.bytes,
        .pinned_bytes = pool.pinned_bytes, .frames = pool.frames, .caches = pool.caches, .hits = pool.hits,
        .misses = pool.misses, .evictions = pool.evictions, .hook_victims = pool.hook_victims,
        .hook_fallbacks = pool.hook_fallbacks, .refused = pool.refused,
    };
    pthread_mutex_unlock(&pool.mu);
}

int pcache_tenant_stats(uint32_t tenant, struct pcache_tenant_stats *out)
{
    if (tenant >= PCACHE_MAX_TENANTS)
        return -1;
    pthread_mutex_lock(&pool.mu);
    *out = pool.tenants[tenant];
    pthread_mutex_unlock(&pool.mu);
    return 0;
}

void pcache_set_evict_observer(pcache_evict_observer fn, void *user)
{
    pthread_mutex_lock(&pool.mu);
    pool.observer = fn;
    pool.observer_user = user;
    pthread_mutex_unlock(&pool.mu);
}
