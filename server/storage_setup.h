/* pliantd's storage layer (engine/storage.h) set up from its config:
 * buffer pool, memory quotas, VFS, checkpointing, and the stats log. */
#ifndef PL_SERVER_STORAGE_SETUP_H
#define PL_SERVER_STORAGE_SETUP_H

#include <stddef.h>

#include "server.h"

/* Before any SQLite call (the databases' files are created after it). */
int server_storage_start(const struct config *cfg, char *err, size_t errlen);
/* Hooks into the runtime (before any --attach), load figures from the
 * scheduler once it runs. */
int server_storage_hooks(pl_runtime *rt, char *err, size_t errlen);
void server_storage_set_scheduler(struct scheduler *sched);
/* After every session and worker ended, before the runtime is freed: logs
 * the storage stats (log_stats) and shuts the layer down. Safe to call
 * when server_storage_start() failed or never ran. */
void server_storage_stop(bool log_stats);

#endif
