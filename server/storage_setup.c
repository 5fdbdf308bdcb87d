#include "storage_setup.h"

#include <stdio.h>
#include <stdlib.h>

#include "../engine/storage.h"
#include "log.h"

static bool started;
static const char **tenant_names;

static void storage_log(void *user, enum storage_log_level level, const char *event, const char *kv)
{
    (void)user;
    log_event(level == STORAGE_LOG_WARN ? LOG_WARN : LOG_INFO, event, "%s", kv);
}

int server_storage_start(const struct config *c, char *err, size_t errlen)
{
    tenant_names = calloc((size_t)c->ndbs + 1, sizeof *tenant_names);
    if (!tenant_names) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < c->ndbs; i++)
        tenant_names[i] = c->dbs[i].name;
    struct storage_config sc = {
        .buffer_pool_bytes = (uint64_t)c->buffer_pool_mb << 20, .mem_limit_bytes = (uint64_t)c->mem_limit_mb << 20,
        .direct_io = c->direct_io, .wal_autocheckpoint = (uint32_t)c->wal_autocheckpoint,
        .ntenants = (uint32_t)c->ndbs, .tenant_names = tenant_names, .log = storage_log,
    };
    if (storage_install(&sc, err, errlen)) {
        free(tenant_names);
        tenant_names = NULL;
        return -1;
    }
    started = true;
    for (int i = 0; i < c->ndbs; i++) {
        int mb = c->dbs[i].mem_quota_mb >= 0 ? c->dbs[i].mem_quota_mb : c->mem_quota_mb;
        storage_set_tenant_quota((uint32_t)i, (uint64_t)mb << 20);
    }
    log_event(LOG_INFO, "storage", "buffer_pool_mb=%d mem_quota_mb=%d mem_limit_mb=%d direct_io=%d "
                                   "wal_autocheckpoint=%d",
              c->buffer_pool_mb, c->mem_quota_mb, c->mem_limit_mb, c->direct_io, c->wal_autocheckpoint);
    return 0;
}

int server_storage_hooks(pl_runtime *rt, char *err, size_t errlen) { return storage_register_hooks(rt, err, errlen); }

static void sched_load_source(void *user, uint32_t *running, uint32_t *queued, uint32_t *workers)
{
    struct scheduler *s = user;
    int r, q;
    sched_load(s, &q, &r);
    *running = (uint32_t)r;
    *queued = (uint32_t)q;
    *workers = (uint32_t)sched_workers(s);
}

void server_storage_set_scheduler(struct scheduler *sched)
{
    storage_set_load_source(sched ? sched_load_source : NULL, sched);
}

void server_storage_stop(bool log_stats)
{
    if (!started)
        return;
    if (log_stats)
        storage_log_stats();
    storage_set_load_source(NULL, NULL);
    storage_unregister_hooks();
    char err[256];
    if (storage_shutdown(err, sizeof err))
        log_event(LOG_WARN, "storage_shutdown_failed", "msg=%s", log_q(err));
    free(tenant_names);
    tenant_names = NULL;
    started = false;
}
