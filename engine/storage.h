/* The storage layer under SQLite, as one unit for the server (issue 5):
 * the buffer pool (pcache.h, hook page_evict), per-tenant memory
 * accounting (memacct.h, mem_charge), the VFS shim with read-ahead and
 * O_DIRECT (vfs.h, io_read) and adaptive checkpointing (checkpoint.h,
 * wal_checkpoint). Contexts: sdk/include/pliant_pcache.h and
 * pliant_storage.h.
 *
 * Use, in order:
 *   storage_install()            before any other SQLite call: configures
 *                                SQLite (allocator, page cache), initialises
 *                                it and registers the VFS
 *   storage_register_hooks()     once the runtime exists
 *   storage_set_thread_tenant()  on a thread before it opens or uses a
 *                                tenant's connection (memory, frames and
 *                                reads are charged to it)
 *   storage_attach_connection()  on every new connection (the WAL hook)
 *   storage_unregister_hooks()   before freeing the runtime
 *   storage_shutdown()           after the last connection closed */
#ifndef PL_ENGINE_STORAGE_H
#define PL_ENGINE_STORAGE_H

#include <pliant/pliant.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"
#include "memacct.h"
#include "pcache.h"
#include "vfs.h"

enum storage_log_level { STORAGE_LOG_INFO, STORAGE_LOG_WARN };
/* One log line: an event name and its key=value pairs. */
typedef void (*storage_log_fn)(void *user, enum storage_log_level level, const char *event, const char *kv);

struct storage_config {
    uint64_t buffer_pool_bytes;   /* the pool's budget */
    uint64_t mem_limit_bytes;     /* all SQLite memory of all tenants; 0: none */
    bool direct_io;               /* O_DIRECT for database files where supported */
    uint32_t wal_autocheckpoint;  /* frames; 0: no automatic checkpoints */
    uint32_t ntenants;
    /* Names for the stats log (tenant i is tenant_names[i]); must stay
     * valid until storage_shutdown(). NULL: numbers only. */
    const char *const *tenant_names;
    storage_log_fn log;           /* NULL: silent */
    void *log_user;
};

int storage_install(const struct storage_config *cfg, char *err, size_t errlen);
/* A tenant's memory quota in bytes (0: none). Any time. */
void storage_set_tenant_quota(uint32_t tenant, uint64_t bytes);
/* The load figures of the wal_checkpoint hook's context. */
void storage_set_load_source(ckpt_load_fn fn, void *user);

int storage_register_hooks(pl_runtime *rt, char *err, size_t errlen);
void storage_unregister_hooks(void);

void storage_set_thread_tenant(uint32_t tenant);
void storage_attach_connection(sqlite3 *db, uint32_t tenant);

/* Everything the storage layer counts, for the stats interface. */
enum { STORAGE_HOOK_PAGE_EVICT, STORAGE_HOOK_MEM_CHARGE, STORAGE_HOOK_IO_READ, STORAGE_HOOK_WAL_CHECKPOINT,
       STORAGE_HOOKS };
struct storage_hook_counters {
    const char *name;
    bool attached;
    uint64_t invocations; /* program runs (pl_hook_stats) */
    uint64_t faults;      /* faults and invalid answers seen by the runtime */
    uint64_t fallbacks;   /* decisions the engine made itself because the answer was unusable */
};
struct storage_stats {
    struct storage_hook_counters hooks[STORAGE_HOOKS];
    struct pcache_stats pool;
    struct memacct_stats mem;
    struct vfs_stats io;
    struct ckpt_stats ckpt;
};
void storage_stats(struct storage_stats *out);
struct storage_tenant_stats {
    struct pcache_tenant_stats pool;
    struct memacct_tenant_stats mem;
};
/* -1 for a tenant id past the counters (see MEMACCT_MAX_TENANTS). */
int storage_tenant_stats(uint32_t tenant, struct storage_tenant_stats *out);
/* Logs the above: one line per hook (storage_hook), the pool
 * (buffer_pool), each configured tenant (tenant_storage), memory, I/O and
 * checkpoints. */
void storage_log_stats(void);

/* Unregisters the VFS, shuts SQLite down and frees the pool. Fails (with
 * the reason) while connections are open. */
int storage_shutdown(char *err, size_t errlen);

#endif
