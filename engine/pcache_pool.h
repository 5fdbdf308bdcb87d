/* Internal to the buffer pool: its state, shared by engine/pcache.c (frames,
 * page tables, budget, the pcache2 methods) and engine/pcache_hooks.c (the
 * hookpoints and the helpers programs call). Not for other callers: they
 * use pcache.h.
 *
 * Everything here is guarded by pool.mu unless it says otherwise. */
#ifndef PL_ENGINE_PCACHE_POOL_H
#define PL_ENGINE_PCACHE_POOL_H

#include "pcache.h"

#include <pliant_pcache.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct pc_link {
    struct pc_link *prev, *next; /* both NULL while off every list */
};

struct pc_cache;

struct pc_frame {
    sqlite3_pcache_page pg; /* what SQLite holds: pBuf, pExtra */
    struct pc_cache *cache;
    struct pc_frame *hnext;   /* chain in the cache's own table */
    struct pc_frame *xnext;   /* chain in the cache's page_hash table, while xlinked */
    struct pc_link lru;       /* the pool list (PL_LIST_POOL), while unpinned */
    struct pc_link plink;     /* a policy list, while plist != PC_NO_LIST */
    uint64_t last_access;     /* pool clock at the last release, 0 before the first */
    uint64_t data;            /* the policy's word */
    uint32_t key;
    uint32_t xhash;           /* bucket hash in the page_hash table, while xlinked */
    uint32_t slot;            /* index in pool.slots: the low half of its handles */
    uint32_t access_count;
    uint32_t bytes;           /* charged against the budget */
    uint8_t plist;
    bool pinned;
    bool xlinked;
    bool bypass;              /* admitted for one use (PL_FETCH_BYPASS) */
    /* pExtra follows, 16-byte aligned like malloc's own memory, because
     * SQLite keeps its PgHdr (pointers, 64-bit fields) there. */
} __attribute__((aligned(16)));

#define PC_NO_LIST 0xff

struct pc_cache {
    uint32_t id, tenant;
    int sz_page, sz_extra;
    bool purgeable;
    int cachesize;              /* SQLite's hint; the pool budget rules */
    struct pc_frame **hash;     /* the table keyed by the built-in hash */
    struct pc_frame **xtab;     /* the table keyed by page_hash; NULL until it first runs */
    uint32_t nhash;             /* buckets of both tables: a power of two */
    uint32_t npage;
};

/* A frame handle's slot: gen changes whenever the page in the frame goes,
 * so a handle (gen << 32 | slot) names one page's stay in one frame. */
struct pc_slot {
    struct pc_frame *frame; /* NULL while free */
    uint32_t gen;           /* never 0 */
    uint32_t next_free;
};

struct pc_pool {
    pthread_mutex_t mu;
    bool init;
    uint64_t budget, hard_limit;
    uint64_t bytes, pinned_bytes, frames;
    uint64_t caches;
    uint64_t clock;
    uint32_t next_cache_id;
    struct pc_link lru; /* sentinel: lru.next is the head (newest), lru.prev the tail */
    uint32_t nlru;
    struct pc_link lists[PL_PAGE_LISTS];
    uint32_t list_len[PL_PAGE_LISTS];
    /* Never shrinks, and survives pcache_pool_shutdown(), so that a handle
     * from a previous pool is stale rather than valid again. */
    struct pc_slot *slots;
    uint32_t nslots, free_slot; /* free_slot: head of the free chain, or UINT32_MAX */
    /* page_evict's victims for the eviction round in progress. */
    uint64_t marks[PL_EVICT_MARKS];
    uint32_t nmarks, next_mark;
    uint64_t hits, misses, evictions, refused;
    uint64_t quota_drops; /* frames given up to their tenant's memory quota (memacct) */
    uint64_t hook_victims, bypassed, declined, unpin_dropped, hash_moved, handle_errors;
    struct pcache_hook_counts hook[PCACHE_HOOKS];
    /* The page_evict and page_unpin attachments the lists were built for
     * (pcache_hooks.c adopts the frames when they change). */
    const void *seen_evict, *seen_unpin;
    uint64_t adoptions;
    struct pcache_tenant_stats tenants[PCACHE_MAX_TENANTS];
    pcache_evict_observer observer;
    void *observer_user;
};

extern struct pc_pool pool;

#define PC_CONTAINER(ptr, member) ((struct pc_frame *)(void *)((char *)(ptr) - offsetof(struct pc_frame, member)))

static inline void link_remove(struct pc_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = NULL;
}

/* Inserts l just after pos (after the sentinel: at the head). */
static inline void link_after(struct pc_link *pos, struct pc_link *l)
{
    l->prev = pos;
    l->next = pos->next;
    pos->next->prev = l;
    pos->next = l;
}

static inline uint64_t frame_handle(const struct pc_frame *f)
{
    return (uint64_t)pool.slots[f->slot].gen << 32 | f->slot;
}

/* Takes f off its policy list, if it is on one. */
static inline void plist_remove(struct pc_frame *f)
{
    if (f->plist == PC_NO_LIST)
        return;
    pool.list_len[f->plist]--;
    link_remove(&f->plink);
    f->plist = PC_NO_LIST;
}

/* The hook layer (pcache_hooks.c). Each pch_* runs the attached program,
 * counts the run, checks the answer and returns what the pool should do;
 * with nothing attached it returns the built-in answer. */
#ifndef PLIANT_NO_HOOKS
/* Never NULL: a hook not registered is a stand-in nothing is attached to,
 * so that the hot path's one test is pl_hook_is_attached(). */
extern _Atomic(pl_hook *) pch_hooks[PCACHE_HOOKS];

/* The hook when a program is attached, else NULL: a load and a predicted
 * branch with nothing attached. */
static inline pl_hook *pch_attached(enum pcache_hook id)
{
    pl_hook *h = atomic_load_explicit(&pch_hooks[id], memory_order_acquire);
    return pl_hook_is_attached(h) ? h : NULL;
}

/* page_hash, without the mutex: PL_HOOK_RAN with *hash set, or not. */
int pch_hash(pl_hook *h, const struct pc_cache *c, uint32_t key, uint64_t *hash);
/* Counts a page_hash run (rc from pch_hash), under the mutex. */
void pch_count_hash(int rc);
/* page_fetch on a hit; f is pinned already, was_pinned says if it was before. */
void pch_fetch_hit(pl_hook *h, struct pc_frame *f, int create, bool was_pinned);
/* page_fetch on a miss: a pl_page_fetch_answer valid for create. */
int pch_fetch_miss(pl_hook *h, struct pc_cache *c, uint32_t key, int create);
/* Before a frame is filed or a victim chosen: if the page_evict or
 * page_unpin program changed since frames were last filed, hands every
 * frame to the new policy (clean lists, re-filed oldest first). */
void pch_policy_check(void);
/* page_unpin: a pl_page_unpin_answer. */
int pch_unpin(pl_hook *h, struct pc_frame *f, uint64_t now);
/* The next victim page_evict names for this eviction round, or NULL: the
 * caller then uses the built-in choice. */
struct pc_frame *pch_victim(uint32_t tenant);
#else
static inline pl_hook *pch_attached(enum pcache_hook id)
{
    (void)id;
    return NULL;
}
static inline int pch_hash(pl_hook *h, const struct pc_cache *c, uint32_t key, uint64_t *hash)
{
    (void)h, (void)c, (void)key, (void)hash;
    return PL_HOOK_DEFAULT;
}
static inline void pch_count_hash(int rc) { (void)rc; }
static inline void pch_policy_check(void) {}
static inline void pch_fetch_hit(pl_hook *h, struct pc_frame *f, int create, bool was_pinned)
{
    (void)h, (void)f, (void)create, (void)was_pinned;
}
static inline int pch_fetch_miss(pl_hook *h, struct pc_cache *c, uint32_t key, int create)
{
    (void)h, (void)c, (void)key, (void)create;
    return PL_FETCH_ADMIT;
}
static inline int pch_unpin(pl_hook *h, struct pc_frame *f, uint64_t now)
{
    (void)h, (void)f, (void)now;
    return PL_UNPIN_KEEP;
}
static inline struct pc_frame *pch_victim(uint32_t tenant)
{
    (void)tenant;
    return NULL;
}
#endif

#endif
