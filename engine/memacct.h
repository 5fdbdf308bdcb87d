/* Per-tenant memory accounting under SQLite (issue 5, hookpoint
 * `mem_charge`; context in sdk/include/pliant_storage.h).
 *
 * SQLite's allocator is replaced (SQLITE_CONFIG_MALLOC) by libc malloc with
 * a 16-byte header holding the size and the tenant charged, so a free or
 * realloc credits the tenant that was charged, whichever thread runs it.
 * The tenant of a new allocation is the calling thread's
 * (memacct_set_thread_tenant, set by the server around each job and before
 * a connection opens); threads that never set one charge the server's own
 * slot (PL_TENANT_NONE), which is counted but never refused.
 *
 * Cost: the way DuckDB does it, each thread keeps a private running delta
 * per tenant and adds it to the shared atomic counter only when it reaches
 * MEMACCT_BATCH either way, so an allocation normally costs a thread-local
 * add and a compare. Only a flush of a growing delta consults the quota
 * (and the hook): the slow path, once per 64 KiB of growth per thread and
 * tenant, or at once for an allocation of 64 KiB or more.
 * Slack: a tenant can exceed its quota by the unflushed deltas, under
 * MEMACCT_BATCH per thread that allocates for it; the shared counters lag
 * by as much. A thread's deltas are flushed when it exits, once it has set
 * a tenant or taken the slow path (a thread that did neither leaves less
 * than a batch per tenant unflushed).
 *
 * Buffer-pool frames are not SQLite allocations (engine/pcache.c takes them
 * from libc); the pool charges them with memacct_charge()/memacct_release()
 * (kind PL_MEM_FRAMES), which share the batching, quota and hook.
 *
 * Use: memacct_install() before sqlite3_initialize(); quotas and the limit
 * at any time; memacct_register_hooks() once the runtime exists and
 * memacct_unregister_hooks() before freeing it. */
#ifndef PL_ENGINE_MEMACCT_H
#define PL_ENGINE_MEMACCT_H

#include <pliant/pliant.h>
#include <pliant_storage.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tenants with their own counters; higher tenant ids share the last one
 * (as in engine/pcache.h). */
#define MEMACCT_MAX_TENANTS 64
#define MEMACCT_BATCH (64 << 10)

/* The allocator as a methods table (the tests drive it directly). */
const sqlite3_mem_methods *memacct_methods(void);
/* sqlite3_config(SQLITE_CONFIG_MALLOC) with memacct_methods(), and
 * SQLITE_CONFIG_MEMSTATUS off: these counters replace SQLite's, whose
 * global mutex every allocation would otherwise take. */
int memacct_install(char *err, size_t errlen);

/* Tenant charged for allocations this thread makes from now on
 * (PL_TENANT_NONE: the server). Cheap: call it around every job. */
void memacct_set_thread_tenant(uint32_t tenant);
uint32_t memacct_thread_tenant(void);

/* Bytes; 0 removes the quota (limit). Take effect at the next check. */
void memacct_set_quota(uint32_t tenant, uint64_t bytes);
void memacct_set_limit(uint64_t bytes);
/* Tenants configured, for the hook's context (fair shares). */
void memacct_set_ntenants(uint32_t n);

/* For the buffer pool: charges `bytes` of kind to tenant; false when the
 * check (quota, limit, mem_charge) refuses, and then nothing is charged.
 * Release credits them back. Any thread; may run the hook, which calls
 * nothing in the pool, so the pool may hold its own lock. */
bool memacct_charge(uint32_t tenant, uint64_t bytes, enum pl_mem_kind kind);
void memacct_release(uint32_t tenant, uint64_t bytes, enum pl_mem_kind kind);

/* Frees up to `bytes` of the tenant's cached frames that nothing uses
 * (the buffer pool's pcache_reclaim); returns the bytes freed. Called, on
 * the allocating thread, when SQLite memory is refused for the tenant's
 * quota, before the refusal stands. Must not allocate SQLite memory. */
typedef uint64_t (*memacct_reclaimer)(uint32_t tenant, uint64_t bytes);
void memacct_set_reclaimer(memacct_reclaimer fn);

/* True once after an allocation on this thread was refused: lets the
 * server tell a quota refusal from a real out-of-memory in its message. */
bool memacct_take_refusal(void);

/* Adds this thread's unflushed deltas to the shared counters (done at
 * thread exit anyway; tests call it for exact figures). */
void memacct_flush_thread(void);

int memacct_register_hooks(pl_runtime *rt, char *err, size_t errlen);
void memacct_unregister_hooks(void);
pl_hook *memacct_hook(void);

struct memacct_tenant_stats {
    int64_t bytes;       /* charged now (heap and frames; may lag, see above) */
    int64_t frame_bytes; /* of which buffer-pool frames */
    uint64_t peak;       /* highest `bytes` seen at a check */
    uint64_t quota;      /* 0: none */
    uint64_t refusals;   /* allocations refused */
};
struct memacct_stats {
    int64_t bytes;       /* all tenants and the server */
    uint64_t peak, limit;
    uint64_t refusals;
    uint64_t checks;     /* slow-path decisions (flushes of growth) */
    uint64_t hook_fallbacks; /* mem_charge faults or invalid answers: built-in used */
};
void memacct_stats(struct memacct_stats *out);
/* PL_TENANT_NONE: the server's slot. -1 for a tenant id past the slots. */
int memacct_tenant_stats(uint32_t tenant, struct memacct_tenant_stats *out);

#endif
