/* The global buffer pool behind SQLite (see pcache.h for the picture).
 *
 * A frame is one malloc'd header (struct pc_frame followed by SQLite's
 * pExtra) plus a page buffer from posix_memalign(4096) so that a later
 * O_DIRECT VFS can read straight into it. Frames belong to one cache (one
 * pager) at a time; unpinned frames of purgeable caches sit on the pool's
 * list, most recently released at the head, and are the only ones eviction
 * may take. SQLite keeps dirty pages pinned (its pcache.c unpins a page
 * only once it is clean), so an unpinned frame can always be dropped
 * without losing data.
 *
 * Page tables. Each cache has its own table keyed by the built-in hash,
 * which always holds every page and answers every lookup while page_hash
 * is detached. While a page_hash program runs, lookups go to a second
 * table whose buckets that program chose; a page not found there is looked
 * up in the first table and, if present, linked into the bucket the program
 * names now. So a program can make lookups slow (a constant hash) but
 * never wrong: a hash that changes with a live swap or with the program's
 * own state costs one extra lookup per page it moved (counted). */
#include "memacct.h"
#include "pcache_pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_ALIGN 4096

struct pc_pool pool = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .lru = {.prev = &pool.lru, .next = &pool.lru},
    .free_slot = UINT32_MAX,
};

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

/* ------------------------------------------------------------ pool list */

static void lru_remove(struct pc_frame *f)
{
    if (!f->lru.next)
        return;
    link_remove(&f->lru);
    pool.nlru--;
}

static void lru_insert(struct pc_frame *f, bool at_tail)
{
    link_after(at_tail ? pool.lru.prev : &pool.lru, &f->lru);
    pool.nlru++;
}

/* --------------------------------------------------------------- slots */

/* Gives f a slot, growing the table when none is free. */
static bool slot_take(struct pc_frame *f)
{
    if (pool.free_slot == UINT32_MAX) {
        uint32_t n = pool.nslots ? pool.nslots * 2 : 256;
        if (n <= pool.nslots || n > (1u << 31))
            return false;
        struct pc_slot *s = realloc(pool.slots, n * sizeof(*s));
        if (!s)
            return false;
        for (uint32_t i = pool.nslots; i < n; i++)
            s[i] = (struct pc_slot){.frame = NULL, .gen = 1, .next_free = i + 1 < n ? i + 1 : UINT32_MAX};
        pool.slots = s;
        pool.free_slot = pool.nslots;
        pool.nslots = n;
    }
    uint32_t i = pool.free_slot;
    pool.free_slot = pool.slots[i].next_free;
    pool.slots[i].frame = f;
    f->slot = i;
    return true;
}

static void slot_release(struct pc_frame *f)
{
    struct pc_slot *s = &pool.slots[f->slot];
    s->frame = NULL;
    s->next_free = pool.free_slot;
    pool.free_slot = f->slot;
}

/* The page in f leaves it: every handle naming it goes stale. */
static void slot_new_generation(struct pc_frame *f)
{
    struct pc_slot *s = &pool.slots[f->slot];
    if (++s->gen == 0)
        s->gen = 1;
}

/* --------------------------------------------------------- page tables */

static uint32_t bucket(const struct pc_cache *c, uint32_t hash) { return hash & (c->nhash - 1); }

/* A frame's chain link in its cache's own table, or (x) in the page_hash
 * one. */
static struct pc_frame **link_of(struct pc_frame *f, bool x) { return x ? &f->xnext : &f->hnext; }

static void chain_unlink(struct pc_frame **pp, struct pc_frame *f, bool x)
{
    while (*pp != f)
        pp = link_of(*pp, x);
    *pp = *link_of(f, x);
    *link_of(f, x) = NULL;
}

static struct pc_frame *hash_find(const struct pc_cache *c, uint32_t key)
{
    for (struct pc_frame *f = c->hash[bucket(c, key)]; f; f = f->hnext)
        if (f->key == key)
            return f;
    return NULL;
}

static void xlink(struct pc_cache *c, struct pc_frame *f, uint32_t xhash)
{
    struct pc_frame **head = &c->xtab[bucket(c, xhash)];
    f->xhash = xhash;
    f->xnext = *head;
    *head = f;
    f->xlinked = true;
}

static void xunlink(struct pc_frame *f)
{
    chain_unlink(&f->cache->xtab[bucket(f->cache, f->xhash)], f, true);
    f->xlinked = false;
}

static void hash_remove(struct pc_frame *f)
{
    struct pc_cache *c = f->cache;
    chain_unlink(&c->hash[bucket(c, f->key)], f, false);
    if (f->xlinked)
        xunlink(f);
    c->npage--;
}

/* Moves the chains of old[nold] into fresh[n]. */
static void rebucket(struct pc_frame **old, uint32_t nold, struct pc_frame **fresh, uint32_t n, bool x)
{
    for (uint32_t i = 0; i < nold; i++)
        for (struct pc_frame *f = old[i], *next; f; f = next) {
            next = *link_of(f, x);
            uint32_t s = (x ? f->xhash : f->key) & (n - 1);
            *link_of(f, x) = fresh[s];
            fresh[s] = f;
        }
}

/* Doubling keeps chains short as a cache grows; a failed resize only makes
 * chains longer, so it is not an error. The page_hash table grows with the
 * other one; if it cannot, it is dropped and rebuilt lazily by lookups. */
static void hash_grow(struct pc_cache *c)
{
    uint32_t n = c->nhash * 2;
    struct pc_frame **h = calloc(n, sizeof(*h));
    if (!h)
        return;
    struct pc_frame **x = c->xtab ? calloc(n, sizeof(*x)) : NULL;
    if (c->xtab && !x) {
        for (uint32_t i = 0; i < c->nhash; i++)
            for (struct pc_frame *f = c->hash[i]; f; f = f->hnext) {
                f->xlinked = false;
                f->xnext = NULL;
            }
    }
    rebucket(c->hash, c->nhash, h, n, false);
    if (x)
        rebucket(c->xtab, c->nhash, x, n, true);
    free(c->hash);
    free(c->xtab);
    c->hash = h;
    c->xtab = x;
    c->nhash = n;
}

static void hash_insert(struct pc_cache *c, struct pc_frame *f)
{
    if (c->npage >= c->nhash && c->nhash < (1u << 30))
        hash_grow(c);
    uint32_t s = bucket(c, f->key);
    f->hnext = c->hash[s];
    c->hash[s] = f;
    c->npage++;
}

/* Finds key; hashed says whether page_hash gave xhash for it. */
static struct pc_frame *lookup(struct pc_cache *c, uint32_t key, bool hashed, uint32_t xhash)
{
    if (!hashed)
        return hash_find(c, key);
    if (!c->xtab && !(c->xtab = calloc(c->nhash, sizeof(*c->xtab))))
        return hash_find(c, key);
    for (struct pc_frame *f = c->xtab[bucket(c, xhash)]; f; f = f->xnext)
        if (f->key == key)
            return f;
    struct pc_frame *f = hash_find(c, key);
    if (f) {
        if (f->xlinked) {
            pool.hash_moved++;
            xunlink(f);
        }
        xlink(c, f, xhash);
    }
    return f;
}

static uint32_t chain_max(struct pc_frame *const *tab, uint32_t n, bool x)
{
    uint32_t longest = 0;
    for (uint32_t i = 0; tab && i < n; i++) {
        uint32_t len = 0;
        for (struct pc_frame *f = tab[i]; f; f = *link_of(f, x))
            len++;
        if (len > longest)
            longest = len;
    }
    return longest;
}

uint32_t pcache_chain_max(sqlite3_pcache *cache, bool hook_table)
{
    struct pc_cache *c = (struct pc_cache *)cache;
    pthread_mutex_lock(&pool.mu);
    uint32_t n = chain_max(hook_table ? c->xtab : c->hash, c->nhash, hook_table);
    pthread_mutex_unlock(&pool.mu);
    return n;
}

/* ------------------------------------------------------------- frames */

static void frame_free(struct pc_frame *f)
{
    pool.bytes -= f->bytes;
    pool.frames--;
    tstats(f->cache->tenant)->bytes -= f->bytes;
    memacct_release(f->cache->tenant, f->bytes, PL_MEM_FRAMES);
    slot_release(f);
    free(f->pg.pBuf);
    free(f);
}

/* Takes the page out of its frame, pinned or not (discard, truncate,
 * destroy, eviction), leaving the frame owned by the caller. */
static void frame_detach(struct pc_frame *f)
{
    if (f->pinned) {
        f->pinned = false;
        pool.pinned_bytes -= f->bytes;
    }
    lru_remove(f);
    plist_remove(f);
    hash_remove(f);
    slot_new_generation(f);
}

static void frame_drop(struct pc_frame *f)
{
    frame_detach(f);
    frame_free(f);
}

/* A new frame for c, charged to its tenant (engine/memacct.h: the quota,
 * the server limit and the mem_charge hook may refuse); NULL when refused
 * or out of memory. */
static struct pc_frame *frame_alloc(struct pc_cache *c)
{
    uint64_t bytes = pcache_frame_bytes(c->sz_page, c->sz_extra);
    if (!memacct_charge(c->tenant, bytes, PL_MEM_FRAMES))
        return NULL;
    struct pc_frame *f = malloc(sizeof(*f) + (size_t)c->sz_extra);
    void *buf = NULL;
    if (!f || posix_memalign(&buf, FRAME_ALIGN, (size_t)c->sz_page) != 0) {
        free(f);
        memacct_release(c->tenant, bytes, PL_MEM_FRAMES);
        return NULL;
    }
    memset(f, 0, sizeof(*f));
    if (!slot_take(f)) {
        free(buf);
        free(f);
        memacct_release(c->tenant, bytes, PL_MEM_FRAMES);
        return NULL;
    }
    f->pg.pBuf = buf;
    f->pg.pExtra = f + 1;
    f->bytes = (uint32_t)bytes;
    f->plist = PC_NO_LIST;
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

/* The next frame to evict, or NULL when nothing is unpinned: page_evict's
 * choice if it names one, else the pool list's tail. */
static struct pc_frame *take_victim(uint32_t tenant)
{
    struct pc_frame *v = pch_victim(tenant);
    if (v)
        return v;
    return pool.lru.prev == &pool.lru ? NULL : PC_CONTAINER(pool.lru.prev, lru);
}

/* page_evict names victims per round; a new round forgets the last one's
 * unused names. */
static void evict_round_begin(void) { pool.nmarks = pool.next_mark = 0; }

/* Makes room for one frame of c: evicts until the budget has space for it,
 * or reuses a victim of the same size (no free/alloc round trip). Returns a
 * detached frame ready for c, or NULL when the caller must allocate (or
 * give up: nothing is unpinned). */
static struct pc_frame *make_room(struct pc_cache *c, uint64_t need, bool *full)
{
    *full = false;
    evict_round_begin();
    while (pool.bytes + need > pool.budget) {
        struct pc_frame *v = take_victim(c->tenant);
        if (!v) {
            *full = true;
            return NULL;
        }
        note_eviction(v);
        uint32_t old_tenant = v->cache->tenant;
        bool same_shape = v->cache->sz_page == c->sz_page && v->cache->sz_extra == c->sz_extra;
        /* A frame changing tenant is charged to the new one first: refused,
         * the victim is freed instead and the caller's own allocation
         * meets the same refusal. */
        if (same_shape && (old_tenant == c->tenant || memacct_charge(c->tenant, v->bytes, PL_MEM_FRAMES))) {
            frame_detach(v);
            if (old_tenant != c->tenant) {
                memacct_release(old_tenant, v->bytes, PL_MEM_FRAMES);
                tstats(old_tenant)->bytes -= v->bytes;
                tstats(c->tenant)->bytes += v->bytes;
            }
            return v;
        }
        frame_drop(v);
    }
    return NULL;
}

uint64_t pcache_reclaim(uint32_t tenant, uint64_t bytes)
{
    uint64_t freed = 0;
    pthread_mutex_lock(&pool.mu);
    for (struct pc_link *l = pool.lru.prev; l != &pool.lru && freed < bytes;) {
        struct pc_frame *f = PC_CONTAINER(l, lru);
        l = l->prev;
        if (f->cache->tenant != tenant)
            continue;
        freed += f->bytes;
        pool.quota_drops++;
        frame_drop(f);
    }
    pthread_mutex_unlock(&pool.mu);
    return freed;
}

/* The tenant's least recently released frame of c's shape, detached for
 * reuse: what a tenant at its memory quota gets instead of a new frame (it
 * competes with itself for cache, not with others). NULL: none unpinned. */
static struct pc_frame *reuse_own_frame(struct pc_cache *c)
{
    for (struct pc_link *l = pool.lru.prev; l != &pool.lru; l = l->prev) {
        struct pc_frame *f = PC_CONTAINER(l, lru);
        if (f->cache->tenant == c->tenant && f->cache->sz_page == c->sz_page && f->cache->sz_extra == c->sz_extra) {
            pool.quota_drops++;
            frame_detach(f);
            return f;
        }
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
    uint64_t xhash = 0;
    int hrc = PL_HOOK_DEFAULT;
    pl_hook *hook = pch_attached(PCACHE_HOOK_HASH);
    if (__builtin_expect(hook != NULL, 0))
        hrc = pch_hash(hook, c, key, &xhash);
    pthread_mutex_lock(&pool.mu);
    if (hrc != PL_HOOK_DEFAULT)
        pch_count_hash(hrc);
    struct pcache_tenant_stats *ts = tstats(c->tenant);
    struct pc_frame *f = lookup(c, key, hrc == PL_HOOK_RAN, (uint32_t)xhash);
    if (f) {
        bool was_pinned = f->pinned;
        if (!was_pinned) {
            lru_remove(f);
            f->pinned = true;
            pool.pinned_bytes += f->bytes;
        }
        f->access_count++;
        pool.hits++;
        ts->hits++;
        if (__builtin_expect((hook = pch_attached(PCACHE_HOOK_FETCH)) != NULL, 0) && c->purgeable)
            pch_fetch_hit(hook, f, create, was_pinned);
        pthread_mutex_unlock(&pool.mu);
        return &f->pg;
    }
    pool.misses++;
    ts->misses++;
    if (create == 0)
        goto none;
    int admit = PL_FETCH_ADMIT;
    if (__builtin_expect((hook = pch_attached(PCACHE_HOOK_FETCH)) != NULL, 0) && c->purgeable)
        admit = pch_fetch_miss(hook, c, key, create);
    if (admit == PL_FETCH_DECLINE) {
        pool.declined++;
        goto none;
    }
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
    if (!f && !(f = frame_alloc(c)) && !(c->purgeable && (f = reuse_own_frame(c))))
        goto refuse;
    f->cache = c;
    f->key = key;
    f->access_count = 1;
    f->last_access = 0;
    f->data = 0;
    f->pinned = true;
    f->bypass = admit == PL_FETCH_BYPASS;
    pool.bypassed += f->bypass;
    pool.pinned_bytes += f->bytes;
    /* pcache2 contract: pExtra of a new page is zeroed; SQLite reads it to
     * tell a fresh page from one it already initialised. */
    memset(f->pg.pExtra, 0, (size_t)c->sz_extra);
    hash_insert(c, f);
    if (hrc == PL_HOOK_RAN && c->xtab)
        xlink(c, f, (uint32_t)xhash);
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
    if (discard || f->bypass) {
        frame_drop(f);
        pthread_mutex_unlock(&pool.mu);
        return;
    }
    if (!f->pinned) {
        pthread_mutex_unlock(&pool.mu);
        return;
    }
    uint64_t now = ++pool.clock;
    if (!c->purgeable) {
        /* Unpinned but kept: a non-purgeable cache's pages must stay
         * until SQLite truncates or destroys the cache. */
        f->pinned = false;
        pool.pinned_bytes -= f->bytes;
        f->last_access = now;
        pthread_mutex_unlock(&pool.mu);
        return;
    }
    pl_hook *hook = pch_attached(PCACHE_HOOK_UNPIN);
    int where = PL_UNPIN_KEEP;
    if (__builtin_expect(hook != NULL, 0)) {
        pch_policy_check();
        where = pch_unpin(hook, f, now);
    }
    f->pinned = false;
    pool.pinned_bytes -= f->bytes;
    f->last_access = now;
    if (where == PL_UNPIN_DROP) {
        pool.unpin_dropped++;
        frame_drop(f);
    } else {
        lru_insert(f, where == PL_UNPIN_KEEP_COLD);
    }
    /* A createFlag 2 fetch may have gone over the budget while everything
     * was pinned; give the excess back as soon as frames are released. */
    evict_round_begin();
    while (pool.bytes > pool.budget) {
        struct pc_frame *v = take_victim(c->tenant);
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
        /* The page keeps its frame, handle and list; page_hash places it
         * again at its next lookup. */
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
    free(c->xtab);
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

uint64_t pcache_page_handle(sqlite3_pcache_page *pg)
{
    pthread_mutex_lock(&pool.mu);
    uint64_t h = frame_handle((struct pc_frame *)pg);
    pthread_mutex_unlock(&pool.mu);
    return h;
}

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
    pool.nlru = 0;
    for (int i = 0; i < PL_PAGE_LISTS; i++) {
        pool.lists[i].next = pool.lists[i].prev = &pool.lists[i];
        pool.list_len[i] = 0;
    }
    evict_round_begin();
    pool.hits = pool.misses = pool.evictions = pool.refused = pool.quota_drops = 0;
    pool.hook_victims = pool.bypassed = pool.declined = pool.unpin_dropped = 0;
    pool.hash_moved = pool.handle_errors = pool.adoptions = 0;
    pool.seen_evict = pool.seen_unpin = NULL;
    memset(pool.hook, 0, sizeof(pool.hook));
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

/* ---------------------------------------------------------------- stats */

void pcache_stats(struct pcache_stats *out)
{
    pthread_mutex_lock(&pool.mu);
    *out = (struct pcache_stats){
        .budget_bytes = pool.budget, .hard_limit_bytes = pool.hard_limit, .bytes = pool.bytes,
        .pinned_bytes = pool.pinned_bytes, .frames = pool.frames, .caches = pool.caches, .hits = pool.hits,
        .misses = pool.misses, .evictions = pool.evictions, .hook_victims = pool.hook_victims,
        .quota_drops = pool.quota_drops, .adoptions = pool.adoptions,
        .hook_fallbacks = pool.hook[PCACHE_HOOK_EVICT].fallbacks, .refused = pool.refused,
        .bypassed = pool.bypassed, .declined = pool.declined, .unpin_dropped = pool.unpin_dropped,
        .hash_moved = pool.hash_moved, .handle_errors = pool.handle_errors,
    };
    memcpy(out->hook, pool.hook, sizeof(out->hook));
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
