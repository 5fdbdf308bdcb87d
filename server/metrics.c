#include "metrics.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/pcache.h"
#include "../engine/storage.h"
#include "hooks.h"
#include "server.h"
#include "store.h"

#define MAX_TENANTS 1024 /* higher tenant ids are not counted */

static struct {
    _Atomic uint64_t ran, rejected;
} tenants[MAX_TENANTS];

void metrics_statement(int tenant, bool ran)
{
    if (tenant < 0 || tenant >= MAX_TENANTS)
        return;
    atomic_fetch_add_explicit(ran ? &tenants[tenant].ran : &tenants[tenant].rejected, 1, memory_order_relaxed);
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void hook_metrics(FILE *f, struct server *srv)
{
    struct {
        const char *name;
        pl_hook *h;
        struct pl_hook_stats ps;
        struct hook_timing t;
        struct store_active a;
    } hk[16];
    int n = 0;
    for (size_t i = 0; i < hooks_all_count && n < 16; i++) {
        pl_hook *h = pl_hook_find(srv->rt, hooks_all_names[i]);
        if (!h)
            continue;
        hk[n].name = hooks_all_names[i];
        hk[n].h = h;
        pl_hook_stats(h, &hk[n].ps);
        hooks_timing(hooks_id(hk[n].name), &hk[n].t);
        if (h == pcache_hook_page_evict()) {
            struct pcache_stats ps;
            pcache_stats(&ps);
            hk[n].t.fallbacks = ps.hook_fallbacks;
        }
        if (srv->store)
            store_active(srv->store, hk[n].name, &hk[n].a);
        else
            memset(&hk[n].a, 0, sizeof hk[n].a);
        n++;
    }
    header(f, "pliant_hook_attached", "gauge", "1 while a program is attached to the hook.");
    for (int i = 0; i < n; i++)
        fprintf(f, "pliant_hook_attached{hook=\"%s\",version=\"%s\"} %d\n", hk[i].name, hk[i].a.version,
                hk[i].ps.attached);
#define COUNTER(metric, help, field)                                                                              \
    header(f, metric, "counter", help);                                                                           \
    for (int i = 0; i < n; i++)                                                                                    \
        fprintf(f, metric "{hook=\"%s\"} %llu\n", hk[i].name, (unsigned long long)(field));
    COUNTER("pliant_hook_invocations_total", "Hook calls that ran a program.", hk[i].ps.invocations)
    COUNTER("pliant_hook_faults_total", "Program faults and invalid answers.", hk[i].ps.faults)
    COUNTER("pliant_hook_fallbacks_total", "Calls the built-in behaviour answered although a program was attached.",
            hk[i].t.fallbacks)
    COUNTER("pliant_hook_breaker_trips_total", "Programs detached by the circuit breaker.",
            hk[i].ps.detaches_by_breaker)
#undef COUNTER
    header(f, "pliant_hook_latency_seconds", "histogram",
           "Run time of sampled hook calls (one in 16 per thread), program and dispatch.");
    for (int i = 0; i < n; i++) {
        if (hooks_id(hk[i].name) < 0)
            continue; /* no server-side timing (page_evict) */
        uint64_t cum = 0;
        int b = 0;
        /* Bucket upper bounds that are powers of two: 32 ns .. 16.8 ms. */
        for (int k = 5; k <= 24; k++) {
            while (b < HOOKS_LAT_BUCKETS && hooks_bucket_upper_ns(b) <= (1ull << k))
                cum += hk[i].t.buckets[b++];
            fprintf(f, "pliant_hook_latency_seconds_bucket{hook=\"%s\",le=\"%.9g\"} %llu\n", hk[i].name,
                    (double)(1ull << k) / 1e9, (unsigned long long)cum);
        }
        fprintf(f, "pliant_hook_latency_seconds_bucket{hook=\"%s\",le=\"+Inf\"} %llu\n", hk[i].name,
                (unsigned long long)hk[i].t.samples);
        fprintf(f, "pliant_hook_latency_seconds_sum{hook=\"%s\"} %.9f\n", hk[i].name,
                (double)hk[i].t.sampled_ns / 1e9);
        fprintf(f, "pliant_hook_latency_seconds_count{hook=\"%s\"} %llu\n", hk[i].name,
                (unsigned long long)hk[i].t.samples);
    }
}

/* Per database (tenant): the pool's counters and the memory charged. */
static void tenant_storage_metrics(FILE *f, const struct config *cfg)
{
    static const struct {
        const char *name, *type, *help;
    } m[] = {
        {"pliant_bufferpool_tenant_hits_total", "counter", "Page fetches found in the buffer pool, per database."},
        {"pliant_bufferpool_tenant_misses_total", "counter", "Page fetches not found, per database."},
        {"pliant_bufferpool_tenant_evictions_total", "counter", "This database's pages evicted to make room."},
        {"pliant_bufferpool_tenant_bytes", "gauge", "Bytes of page frames this database holds."},
        {"pliant_memory_tenant_bytes", "gauge", "SQLite memory and frames charged to this database."},
        {"pliant_memory_tenant_refusals_total", "counter", "Allocations refused for this database's quota."},
    };
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        header(f, m[k].name, m[k].type, m[k].help);
        for (int i = 0; i < cfg->ndbs; i++) {
            struct storage_tenant_stats ts;
            if (storage_tenant_stats((uint32_t)i, &ts))
                break;
            const long long v[] = {(long long)ts.pool.hits,      (long long)ts.pool.misses,
                                   (long long)ts.pool.evictions, (long long)ts.pool.bytes,
                                   (long long)ts.mem.bytes,      (long long)ts.mem.refusals};
            fprintf(f, "%s{database=\"%s\"} %lld\n", m[k].name, cfg->dbs[i].name, v[k]);
        }
    }
}

/* Present only when the pool is installed (its budget is then non-zero). */
static void pool_metrics(FILE *f, const struct config *cfg)
{
    struct pcache_stats ps;
    pcache_stats(&ps);
    if (!ps.budget_bytes)
        return;
    struct {
        const char *name, *type, *help;
        uint64_t v;
    } m[] = {
        {"pliant_bufferpool_hits_total", "counter", "Page fetches found in the buffer pool.", ps.hits},
        {"pliant_bufferpool_misses_total", "counter", "Page fetches not found in the buffer pool.", ps.misses},
        {"pliant_bufferpool_evictions_total", "counter", "Pages evicted to make room.", ps.evictions},
        {"pliant_bufferpool_bytes", "gauge", "Bytes of page frames held.", ps.bytes},
        {"pliant_bufferpool_budget_bytes", "gauge", "The pool's memory budget.", ps.budget_bytes},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        header(f, m[i].name, m[i].type, m[i].help);
        fprintf(f, "%s %llu\n", m[i].name, (unsigned long long)m[i].v);
    }
    tenant_storage_metrics(f, cfg);
}

char *metrics_render(struct server *srv)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    hook_metrics(f, srv);
    pool_metrics(f, &srv->cfg);
    int queued = 0, running = 0;
    if (srv->sched)
        sched_load(srv->sched, &queued, &running);
    header(f, "pliant_scheduler_queue_depth", "gauge", "Statements waiting for a worker.");
    fprintf(f, "pliant_scheduler_queue_depth %d\n", queued);
    header(f, "pliant_scheduler_running", "gauge", "Statements on workers.");
    fprintf(f, "pliant_scheduler_running %d\n", running);
    header(f, "pliant_scheduler_workers", "gauge", "Worker threads.");
    fprintf(f, "pliant_scheduler_workers %d\n", srv->sched ? sched_workers(srv->sched) : 0);
    pthread_mutex_lock(&srv->mu);
    int sessions = srv->nsessions;
    pthread_mutex_unlock(&srv->mu);
    header(f, "pliant_sessions", "gauge", "Client connections.");
    fprintf(f, "pliant_sessions %d\n", sessions);
    header(f, "pliant_statements_total", "counter", "Statements run, per database (tenant).");
    for (int i = 0; i < srv->cfg.ndbs && i < MAX_TENANTS; i++)
        fprintf(f, "pliant_statements_total{database=\"%s\"} %llu\n", srv->cfg.dbs[i].name,
                (unsigned long long)atomic_load_explicit(&tenants[i].ran, memory_order_relaxed));
    header(f, "pliant_statements_rejected_total", "counter", "Statements refused by the admit policy.");
    for (int i = 0; i < srv->cfg.ndbs && i < MAX_TENANTS; i++)
        fprintf(f, "pliant_statements_rejected_total{database=\"%s\"} %llu\n", srv->cfg.dbs[i].name,
                (unsigned long long)atomic_load_explicit(&tenants[i].rejected, memory_order_relaxed));
    if (srv->store) {
        uint64_t ok, bad;
        store_counts(srv->store, &ok, &bad);
        header(f, "pliant_extension_changes_total", "counter",
               "Extension pushes, rollbacks and detaches, by result.");
        fprintf(f, "pliant_extension_changes_total{result=\"accepted\"} %llu\n", (unsigned long long)ok);
        fprintf(f, "pliant_extension_changes_total{result=\"rejected\"} %llu\n", (unsigned long long)bad);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
