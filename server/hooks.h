/* pliantd's query-level hookpoints (issue 4): registration in the server's
 * runtime at start-up, `--attach HOOK=FILE.o[:SECTION]`, and the shared
 * pieces the call sites use. The contexts are in sdk/include/pliant_hooks.h.
 *
 * Call sites (each falls back to the built-in behaviour unless the program
 * ran and gave a valid answer):
 *   sched_enqueue, admit  server/scheduler.c  sched_run()
 *   sched_pick            server/scheduler.c  pick()
 *   query_progress        server/exec.c       exec_progress()
 *   query_end             server/session.c    run_job()
 *   authorize             server/hooks.c      hooks_authorize(), called by
 *                                             engine/db.c's authorizer
 *
 * Built with -DPLIANT_NO_HOOKS (make PLIANT_HOOKS=0) every call site is
 * compiled out: the baseline for overhead measurements. */
#ifndef PL_SERVER_HOOKS_H
#define PL_SERVER_HOOKS_H

#include <pliant/pliant.h>
#include <pliant_hooks.h>
#include <stddef.h>
#include <stdint.h>

enum hook_id { HK_SCHED_ENQUEUE, HK_SCHED_PICK, HK_ADMIT, HK_QUERY_PROGRESS, HK_QUERY_END, HK_AUTHORIZE, HK_COUNT };

/* Resolved once by hooks_register(); read-only afterwards, so call sites
 * use them without locks. */
extern pl_hook *hooks_tab[HK_COUNT];

/* Every hook name pliantd may register: its own six and the buffer pool's
 * page_evict (registered only when the pool is installed). The admin API,
 * the hook catalog and the SQL views list those found in the runtime. */
extern const char *const hooks_all_names[];
extern const size_t hooks_all_count;

/* Call sites run their hook through hooks_run(): pl_hook_run() plus, on one
 * call in HOOKS_SAMPLE_EVERY per thread, a clock reading on each side for
 * the latency histogram (stats, /metrics), and a count of the calls the
 * built-in answered although a program was attached (fallbacks: faults and
 * invalid answers, and answers the host refuses, see hooks_fallback). */
#define HOOKS_SAMPLE_EVERY 16
/* Histogram buckets: four per power of two from 4 ns (below: one per ns)
 * to 2^40 ns, so a percentile read from it is within 25%. */
#define HOOKS_LAT_BUCKETS 160
extern _Thread_local uint32_t hooks_tls_calls;
int hooks_run_timed(enum hook_id id, void *ctx, uint64_t *ret);
void hooks_fallback(enum hook_id id);

static inline int hooks_run(enum hook_id id, void *ctx, uint64_t *ret)
{
    pl_hook *h = hooks_tab[id];
    if (__builtin_expect(!pl_hook_is_attached(h), 1))
        return PL_HOOK_DEFAULT;
    if (__builtin_expect((hooks_tls_calls++ & (HOOKS_SAMPLE_EVERY - 1)) == 0, 0))
        return hooks_run_timed(id, ctx, ret);
    int rc = pl_hook_run(h, ctx, ret);
    if (__builtin_expect(rc == PL_HOOK_FAULT, 0))
        hooks_fallback(id);
    return rc;
}

/* What the server measured for a hook (cumulative since start-up, across
 * the programs attached in turn), besides the runtime's pl_hook_stats. */
struct hook_timing {
    uint64_t samples, sampled_ns, fallbacks;
    uint64_t avg_ns, p99_ns; /* 0 when nothing was sampled */
    uint64_t buckets[HOOKS_LAT_BUCKETS];
};
/* id: an enum hook_id, or -1 for a hook without server-side timing
 * (page_evict): then only zeros. */
void hooks_timing(int id, struct hook_timing *out);
/* Upper bound, in ns, of histogram bucket b. */
uint64_t hooks_bucket_upper_ns(int b);
/* enum hook_id of a name, -1 if none. */
int hooks_id(const char *name);

/* Called after any attach, replace or detach by the admin API: an
 * authorize change bumps the generation that makes sessions re-prepare
 * their cached statements (SQLite consults the authorizer when it
 * prepares, so a cached statement would keep the old policy's verdict). */
void hooks_changed(const char *hook_name);
uint64_t hooks_authorize_generation(void);

/* Registers every hookpoint in rt. */
int hooks_register(pl_runtime *rt, char *err, size_t errlen);
/* Loads FILE.o verified for HOOK and attaches its program; spec is
 * "HOOK=FILE.o[:SECTION]". Without SECTION the object must hold one
 * program, or one in section "hook/HOOK". HOOK is any hook registered in
 * rt, by name: these and the storage layer's (engine/storage.h). */
int hooks_attach_spec(pl_runtime *rt, const char *spec, char *err, size_t errlen);

/* Run time of a fingerprint's last execution (0: unknown), for
 * sched_enqueue's recent_cost_ns. A lossy direct-mapped table: a hint, not
 * an account. */
void hooks_cost_record(uint64_t fingerprint, uint64_t ns);
uint64_t hooks_cost_lookup(uint64_t fingerprint);

/* engine/db.c's authorizer callback (struct eng_authorizer); user points at
 * the session's tenant index (an int). Returns SQLITE_OK/DENY/IGNORE. */
int hooks_authorize(void *user, int action, const char *a1, const char *a2, const char *db, const char *trigger);

/* Logs, at shutdown, one `hook_map` line per map of each attached program
 * whose keys and values are 4- or 8-byte integers: its non-zero entries as
 * key:value (per-thread arrays summed over threads). The only read-only
 * window on a policy's maps until a SQL-visible one exists (issue 6), e.g.
 * query_end_latency_hist's histogram. Call before the workers stop: maps
 * still change while statements run. */
void hooks_log_maps(void);

#endif
