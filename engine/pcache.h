/* pliantd's buffer pool: one global pool of page frames under SQLite,
 * plugged in through sqlite3_pcache_methods2 (issue 5).
 *
 * Debian's SQLite gives each connection a private page cache with no global
 * limit; this pool owns every page frame of every connection instead, under
 * one memory budget, with per-tenant accounting, and makes the eviction
 * decision a hookpoint (`page_evict`, context in sdk/include/pliant_pcache.h).
 *
 * Use, in order:
 *   pcache_install(&cfg, ...)        before sqlite3_initialize() (SQLite
 *                                    refuses a new pcache afterwards)
 *   pcache_register_hooks(rt, ...)   once the server's runtime exists
 *   pcache_set_thread_tenant(t)      before sqlite3_open*() on a thread:
 *                                    the pager's cache is created there
 *
 * Locking: one mutex per pool guards every frame, list and counter. SQLite
 * calls the methods with its own locks held, never calls back into them
 * from inside one, and the eviction hook runs under the pool mutex (so the
 * candidates it sees cannot change before the host acts on its answer).
 * Coarse, but simple to prove right; per-tenant shards are the obvious next
 * step if it shows up in profiles. */
#ifndef PL_ENGINE_PCACHE_H
#define PL_ENGINE_PCACHE_H

#include <pliant/pliant.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Tenants with their own counters; higher tenant ids share the last slot. */
#define PCACHE_MAX_TENANTS 64

struct pcache_config {
    /* Bytes of frames (page + SQLite's extra + the pool's header) the pool
     * keeps before it evicts. Must hold at least a few frames. */
    uint64_t budget_bytes;
    /* When every frame is pinned, a fetch SQLite insists on (createFlag 2)
     * may go over the budget up to this many bytes; beyond it the fetch
     * fails (SQLITE_NOMEM for the statement). 0: the budget itself. */
    uint64_t hard_limit_bytes;
};

/* Creates the global pool. Fails while caches from a previous pool live. */
int pcache_pool_init(const struct pcache_config *cfg, char *err, size_t errlen);
/* Frees the pool. Fails (and changes nothing) while SQLite still holds
 * caches: close every connection first. */
int pcache_pool_shutdown(char *err, size_t errlen);
/* The methods table (also usable directly, as the tests do). */
const sqlite3_pcache_methods2 *pcache_methods(void);
/* pcache_pool_init + sqlite3_config(SQLITE_CONFIG_PCACHE2). */
int pcache_install(const struct pcache_config *cfg, char *err, size_t errlen);

/* Registers hook `page_evict` in rt. Call pcache_unregister_hooks() before
 * freeing rt: the pool keeps the handle. */
int pcache_register_hooks(pl_runtime *rt, char *err, size_t errlen);
void pcache_unregister_hooks(void);
pl_hook *pcache_hook_page_evict(void);

/* Tenant charged for caches created by this thread from now on. */
void pcache_set_thread_tenant(uint32_t tenant);

/* Bytes one frame of a cache with these sizes costs against the budget. */
uint64_t pcache_frame_bytes(int sz_page, int sz_extra);
/* Id of a cache (as in pl_evict_candidate.cache_id). */
uint32_t pcache_cache_id(sqlite3_pcache *cache);

struct pcache_tenant_stats {
    uint64_t bytes;     /* frames held now */
    uint64_t hits, misses;
    uint64_t evictions; /* this tenant's pages evicted to make room */
};

struct pcache_stats {
    uint64_t budget_bytes, hard_limit_bytes;
    uint64_t bytes, pinned_bytes; /* frames held now; of those, pinned */
    uint64_t frames, caches;
    uint64_t hits, misses;
    uint64_t evictions;       /* pages dropped to make room (not discards) */
    uint64_t hook_victims;    /* evictions the page_evict program chose */
    uint64_t hook_fallbacks;  /* invalid answers or faults: built-in LRU used */
    uint64_t refused;         /* fetches answered NULL for lack of memory */
};
void pcache_stats(struct pcache_stats *out);
/* Returns -1 for a tenant id out of range. */
int pcache_tenant_stats(uint32_t tenant, struct pcache_tenant_stats *out);

/* Called (under the pool mutex; must not call back into the pool) for
 * every eviction, in order. For tests and tracing. NULL: none. */
typedef void (*pcache_evict_observer)(void *user, uint32_t cache_id, uint32_t tenant, uint32_t pgno);
void pcache_set_evict_observer(pcache_evict_observer fn, void *user);

#endif
