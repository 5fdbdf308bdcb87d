/* pliantd's buffer pool: one global pool of page frames under SQLite,
 * plugged in through sqlite3_pcache_methods2 (issue 5).
 *
 * Debian's SQLite gives each connection a private page cache with no global
 * limit; this pool owns every page frame of every connection instead, under
 * one memory budget, with per-tenant accounting, and makes its decisions
 * hookpoints: page_hash, page_fetch, page_unpin, page_evict (contexts,
 * answers, frame lists and helpers in sdk/include/pliant_pcache.h; the
 * code in engine/pcache_hooks.c).
 *
 * Use, in order:
 *   pcache_install(&cfg, ...)        before sqlite3_initialize() (SQLite
 *                                    refuses a new pcache afterwards)
 *   pcache_register_hooks(rt, ...)   once the server's runtime exists
 *   pcache_attach_file(rt, path)     a policy, at any time
 *   pcache_set_thread_tenant(t)      before sqlite3_open*() on a thread:
 *                                    the pager's cache is created there
 *
 * Locking: one mutex per pool guards every frame, list and counter. SQLite
 * calls the methods with its own locks held and never calls back into them
 * from inside one. page_fetch, page_unpin and page_evict run under the
 * pool mutex: the frames and lists a program sees cannot change before the
 * pool acts on its answer, and the list helpers need no locking of their
 * own (they refuse to run anywhere else). page_hash runs before the mutex
 * is taken: it needs no pool state, runs on every fetch, and the table
 * checks its answer under the mutex anyway (see pliant_pcache.h), so its
 * time stays out of the one critical section every connection shares.
 * Coarse, but simple to prove right; per-tenant shards are the obvious
 * next step if the mutex shows up in profiles.
 *
 * With nothing attached each hookpoint costs a load and a predictable
 * branch (bench/bench_pcache.c measures a fetch hit both ways). */
#ifndef PL_ENGINE_PCACHE_H
#define PL_ENGINE_PCACHE_H

#include <pliant/pliant.h>
#include <sqlite3.h>
#include <stdbool.h>
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

enum pcache_hook { PCACHE_HOOK_HASH, PCACHE_HOOK_FETCH, PCACHE_HOOK_UNPIN, PCACHE_HOOK_EVICT, PCACHE_HOOKS };

/* Registers the hooks page_hash, page_fetch, page_unpin and page_evict and
 * the list helpers in rt. Call pcache_unregister_hooks() before freeing rt
 * (the pool keeps the handles), once no thread is inside a pool method:
 * page_hash runs outside the pool mutex, so closing the connections first
 * is what makes that safe. */
int pcache_register_hooks(pl_runtime *rt, char *err, size_t errlen);
void pcache_unregister_hooks(void);
/* A registered hook (NULL before pcache_register_hooks()). */
pl_hook *pcache_hook(enum pcache_hook id);
pl_hook *pcache_hook_page_evict(void);

/* Attaches every program of obj to the pool hook its section names
 * ("hook/page_evict", ...): obj must have been opened with
 * PL_LOAD_HOOK_BY_SECTION (each program verified for its own hook).
 * page_evict is attached last, so that a new policy's page_unpin places
 * frames before its eviction looks for them. Hooks the object has no
 * program for keep what they had: detach them first (pcache_detach_all)
 * when replacing a whole policy. Each swap is atomic; the set is not, so
 * for a moment the old policy's eviction may run over the new one's lists,
 * which the helpers' checks keep safe. However a policy arrives (here,
 * pliantd's --attach or a pushed package), the pool notices the new
 * page_evict/page_unpin programs at its next unpin or eviction and hands
 * them every frame: lists emptied, policy words cleared, the unpinned
 * frames re-filed through the new page_unpin program, oldest first
 * (pcache_stats().adoptions counts these). */
int pcache_attach_object(pl_object *obj, char *err, size_t errlen);
/* Opens path with PL_LOAD_HOOK_BY_SECTION and attaches it as above. */
int pcache_attach_file(pl_runtime *rt, const char *path, char *err, size_t errlen);
/* Detaches whatever is attached to the four hooks. */
void pcache_detach_all(void);

/* Frees unpinned frames of tenant, least recently released first, until
 * `bytes` are freed or none is left; returns the bytes freed. The memory
 * accounting's reclaimer (memacct_set_reclaimer): a tenant at its quota
 * gives up cached pages before its SQLite memory is refused. */
uint64_t pcache_reclaim(uint32_t tenant, uint64_t bytes);

/* Tenant charged for caches created by this thread from now on. */
void pcache_set_thread_tenant(uint32_t tenant);

/* Bytes one frame of a cache with these sizes costs against the budget. */
uint64_t pcache_frame_bytes(int sz_page, int sz_extra);
/* Id of a cache (as in pl_page_info.cache_id). */
uint32_t pcache_cache_id(sqlite3_pcache *cache);
/* The handle programs see for a page SQLite holds (pl_page_info.frame).
 * For tests and tools. */
uint64_t pcache_page_handle(sqlite3_pcache_page *pg);
/* The longest bucket chain of a cache's table: its own (hook_table false)
 * or the one page_hash keys (0 before page_hash first ran for it). For
 * tests and diagnostics: a constant hash makes one chain of every page. */
uint32_t pcache_chain_max(sqlite3_pcache *cache, bool hook_table);

struct pcache_tenant_stats {
    uint64_t bytes;     /* frames held now */
    uint64_t hits, misses;
    uint64_t evictions; /* this tenant's pages evicted to make room */
};

/* One hookpoint, as the pool saw it (the runtime's pl_hook_stats() counts
 * the same runs from its side). */
struct pcache_hook_counts {
    uint64_t invocations; /* runs of an attached program */
    /* Runs that faulted or answered outside the hook's contract, and
     * victims page_evict named that the pool refused. */
    uint64_t faults;
    /* Decisions the built-in made although a program was attached: after a
     * fault or an invalid answer, or when page_evict named no victim. */
    uint64_t fallbacks;
};

struct pcache_stats {
    uint64_t budget_bytes, hard_limit_bytes;
    uint64_t bytes, pinned_bytes; /* frames held now; of those, pinned */
    uint64_t frames, caches;
    uint64_t hits, misses;
    uint64_t evictions;       /* pages dropped to make room (not discards) */
    uint64_t hook_victims;    /* evictions the page_evict program chose */
    uint64_t quota_drops;     /* pages dropped for their tenant's memory quota (not evictions) */
    uint64_t adoptions;       /* policy changes that handed the frames to the new policy */
    uint64_t hook_fallbacks;  /* = hook[PCACHE_HOOK_EVICT].fallbacks: built-in LRU used */
    uint64_t refused;         /* fetches answered NULL for lack of memory */
    struct pcache_hook_counts hook[PCACHE_HOOKS];
    uint64_t bypassed;        /* pages page_fetch admitted for one use */
    uint64_t declined;        /* fetches page_fetch answered NULL (create 1) */
    uint64_t unpin_dropped;   /* pages page_unpin dropped on release */
    /* Lookups that found their page only through the pool's own index: the
     * page_hash program gave another bucket than when it placed the page
     * (a swap to another hash, or a hash that is not a function of the key). */
    uint64_t hash_moved;
    uint64_t handle_errors;   /* helper calls with an invalid, stale or foreign frame handle */
};
void pcache_stats(struct pcache_stats *out);
/* Returns -1 for a tenant id out of range. */
int pcache_tenant_stats(uint32_t tenant, struct pcache_tenant_stats *out);

/* Called (under the pool mutex; must not call back into the pool) for
 * every eviction, in order. For tests and tracing. NULL: none. */
typedef void (*pcache_evict_observer)(void *user, uint32_t cache_id, uint32_t tenant, uint32_t pgno);
void pcache_set_evict_observer(pcache_evict_observer fn, void *user);

#endif
