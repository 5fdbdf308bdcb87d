/* The storage layer as one unit (see storage.h). */
#include "storage.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static struct storage_config cfg;

static void say(enum storage_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(enum storage_log_level level, const char *event, const char *fmt, ...)
{
    if (!cfg.log)
        return;
    char kv[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(kv, sizeof kv, fmt, ap);
    va_end(ap);
    cfg.log(cfg.log_user, level, event, kv);
}

static void vfs_log(void *user, const char *event, const char *msg)
{
    (void)user;
    say(STORAGE_LOG_WARN, event, "%s", msg);
}

int storage_install(const struct storage_config *c, char *err, size_t errlen)
{
    cfg = *c;
    if (memacct_install(err, errlen))
        return -1;
    /* A fetch SQLite insists on (every frame pinned) may overshoot the
     * budget up to twice: a statement then fails only in a pool far too
     * small for the number of concurrent statements. */
    struct pcache_config pc = {.budget_bytes = c->buffer_pool_bytes, .hard_limit_bytes = 2 * c->buffer_pool_bytes};
    if (pcache_install(&pc, err, errlen))
        return -1;
    int rc = sqlite3_initialize();
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot initialise SQLite: %s", sqlite3_errstr(rc));
        pcache_pool_shutdown(NULL, 0);
        return -1;
    }
    struct vfs_config vc = {.direct_io = c->direct_io, .log = vfs_log};
    if (vfs_install(&vc, err, errlen)) {
        sqlite3_shutdown();
        pcache_pool_shutdown(NULL, 0);
        return -1;
    }
    memacct_set_limit(c->mem_limit_bytes);
    memacct_set_ntenants(c->ntenants);
    /* A tenant's frames and SQLite memory share its quota: over it, its
     * cached pages are dropped before an allocation is refused. */
    memacct_set_reclaimer(pcache_reclaim);
    ckpt_set_autocheckpoint(c->wal_autocheckpoint);
    return 0;
}

void storage_set_tenant_quota(uint32_t tenant, uint64_t bytes) { memacct_set_quota(tenant, bytes); }

void storage_set_load_source(ckpt_load_fn fn, void *user) { ckpt_set_load_source(fn, user); }

int storage_register_hooks(pl_runtime *rt, char *err, size_t errlen)
{
    if (pcache_register_hooks(rt, err, errlen) || memacct_register_hooks(rt, err, errlen) ||
        vfs_register_hooks(rt, err, errlen) || ckpt_register_hooks(rt, err, errlen)) {
        storage_unregister_hooks();
        return -1;
    }
    return 0;
}

void storage_unregister_hooks(void)
{
    pcache_unregister_hooks();
    memacct_unregister_hooks();
    vfs_unregister_hooks();
    ckpt_unregister_hooks();
}

void storage_set_thread_tenant(uint32_t tenant)
{
    pcache_set_thread_tenant(tenant);
    memacct_set_thread_tenant(tenant);
}

void storage_attach_connection(sqlite3 *db, uint32_t tenant) { ckpt_attach(db, tenant); }

/* ---------------------------------------------------------------- stats */

static void hook_counters(struct storage_hook_counters *out, const char *name, pl_hook *h, uint64_t fallbacks)
{
    struct pl_hook_stats hs = {0};
    if (h)
        pl_hook_stats(h, &hs);
    *out = (struct storage_hook_counters){.name = name, .attached = hs.attached, .invocations = hs.invocations,
                                          .faults = hs.faults, .fallbacks = fallbacks};
}

void storage_stats(struct storage_stats *out)
{
    memset(out, 0, sizeof *out);
    pcache_stats(&out->pool);
    memacct_stats(&out->mem);
    vfs_stats(&out->io);
    ckpt_stats(&out->ckpt);
    hook_counters(&out->hooks[STORAGE_HOOK_PAGE_EVICT], "page_evict", pcache_hook_page_evict(),
                  out->pool.hook_fallbacks);
    hook_counters(&out->hooks[STORAGE_HOOK_MEM_CHARGE], "mem_charge", memacct_hook(), out->mem.hook_fallbacks);
    hook_counters(&out->hooks[STORAGE_HOOK_IO_READ], "io_read", vfs_hook(), out->io.hook_fallbacks);
    hook_counters(&out->hooks[STORAGE_HOOK_WAL_CHECKPOINT], "wal_checkpoint", ckpt_hook(),
                  out->ckpt.hook_fallbacks);
}

int storage_tenant_stats(uint32_t tenant, struct storage_tenant_stats *out)
{
    memset(out, 0, sizeof *out);
    if (memacct_tenant_stats(tenant, &out->mem))
        return -1;
    if (tenant != PL_TENANT_NONE)
        pcache_tenant_stats(tenant, &out->pool);
    return 0;
}

#define U(x) ((unsigned long long)(x))

void storage_log_stats(void)
{
    struct storage_stats s;
    storage_stats(&s);
    for (int i = 0; i < STORAGE_HOOKS; i++) {
        const struct storage_hook_counters *h = &s.hooks[i];
        say(STORAGE_LOG_INFO, "storage_hook", "hook=%s attached=%d invocations=%llu faults=%llu fallbacks=%llu",
            h->name, h->attached, U(h->invocations), U(h->faults), U(h->fallbacks));
    }
    say(STORAGE_LOG_INFO, "buffer_pool",
        "budget_bytes=%llu bytes=%llu frames=%llu hits=%llu misses=%llu evictions=%llu hook_victims=%llu quota_drops=%llu "
        "refused=%llu",
        U(s.pool.budget_bytes), U(s.pool.bytes), U(s.pool.frames), U(s.pool.hits), U(s.pool.misses),
        U(s.pool.evictions), U(s.pool.hook_victims), U(s.pool.quota_drops), U(s.pool.refused));
    for (uint32_t t = 0; t < cfg.ntenants && t < MEMACCT_MAX_TENANTS; t++) {
        struct storage_tenant_stats ts;
        storage_tenant_stats(t, &ts);
        say(STORAGE_LOG_INFO, "tenant_storage",
            "db=%s tenant=%u pool_bytes=%llu hits=%llu misses=%llu evictions=%llu mem_bytes=%lld mem_peak=%llu "
            "mem_quota=%llu mem_refusals=%llu",
            cfg.tenant_names ? cfg.tenant_names[t] : "-", t, U(ts.pool.bytes), U(ts.pool.hits), U(ts.pool.misses),
            U(ts.pool.evictions), (long long)ts.mem.bytes, U(ts.mem.peak), U(ts.mem.quota), U(ts.mem.refusals));
    }
    say(STORAGE_LOG_INFO, "memory", "bytes=%lld peak=%llu limit=%llu refusals=%llu checks=%llu",
        (long long)s.mem.bytes, U(s.mem.peak), U(s.mem.limit), U(s.mem.refusals), U(s.mem.checks));
    say(STORAGE_LOG_INFO, "io",
        "reads=%llu read_bytes=%llu writes=%llu write_bytes=%llu readahead_requests=%llu readahead_pages=%llu "
        "readahead_skipped=%llu files_direct=%llu files_buffered=%llu direct_fallbacks=%llu bounce_reads=%llu "
        "bounce_writes=%llu unaligned_writes=%llu",
        U(s.io.reads), U(s.io.read_bytes), U(s.io.writes), U(s.io.write_bytes), U(s.io.readahead_requests),
        U(s.io.readahead_pages), U(s.io.readahead_skipped), U(s.io.files_direct), U(s.io.files_buffered),
        U(s.io.direct_fallbacks), U(s.io.bounce_reads), U(s.io.bounce_writes), U(s.io.unaligned_writes));
    say(STORAGE_LOG_INFO, "checkpoints", "commits=%llu passive=%llu full=%llu restart=%llu truncate=%llu busy=%llu "
                                         "errors=%llu",
        U(s.ckpt.commits), U(s.ckpt.by_mode[PL_CKPT_PASSIVE]), U(s.ckpt.by_mode[PL_CKPT_FULL]),
        U(s.ckpt.by_mode[PL_CKPT_RESTART]), U(s.ckpt.by_mode[PL_CKPT_TRUNCATE]), U(s.ckpt.busy), U(s.ckpt.errors));
}

int storage_shutdown(char *err, size_t errlen)
{
    struct pcache_stats ps;
    pcache_stats(&ps);
    if (ps.caches) {
        snprintf(err, errlen, "%llu page caches are still open: close every connection before shutting storage down",
                 U(ps.caches));
        return -1;
    }
    memacct_set_reclaimer(NULL);
    vfs_uninstall();
    sqlite3_shutdown();
    memacct_flush_thread();
    return pcache_pool_shutdown(err, errlen);
}
