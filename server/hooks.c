#include "hooks.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../manager/catalog.h"
#include "log.h"

pl_hook *hooks_tab[HK_COUNT];

static const char *const hook_names[HK_COUNT] = {
    [HK_SCHED_ENQUEUE] = "sched_enqueue", [HK_SCHED_PICK] = "sched_pick", [HK_ADMIT] = "admit",
    [HK_QUERY_PROGRESS] = "query_progress", [HK_QUERY_END] = "query_end", [HK_AUTHORIZE] = "authorize",
};
const char *const hooks_all_names[] = {"sched_enqueue", "sched_pick", "admit",      "query_progress",
                                       "query_end",     "authorize",  "page_hash",  "page_fetch",
                                       "page_unpin",    "page_evict", "mem_charge", "io_read",
                                       "wal_checkpoint"};
const size_t hooks_all_count = sizeof hooks_all_names / sizeof hooks_all_names[0];

int hooks_id(const char *name)
{
    for (int i = 0; i < HK_COUNT; i++)
        if (strcmp(name, hook_names[i]) == 0)
            return i;
    return -1;
}

/* ------------------------------------------------------- latency samples */

_Thread_local uint32_t hooks_tls_calls;

/* Written by sampled calls only (one in HOOKS_SAMPLE_EVERY) and by
 * fallbacks, so sharing the lines between threads costs little. */
static struct {
    _Atomic uint64_t samples, ns, fallbacks;
    _Atomic uint64_t buckets[HOOKS_LAT_BUCKETS];
} __attribute__((aligned(64))) timing[HK_COUNT];

static int bucket_of(uint64_t ns)
{
    if (ns < 4)
        return (int)ns;
    int e = 63 - __builtin_clzll(ns); /* >= 2 */
    int b = (e - 1) * 4 + (int)((ns >> (e - 2)) & 3);
    return b < HOOKS_LAT_BUCKETS ? b : HOOKS_LAT_BUCKETS - 1;
}

uint64_t hooks_bucket_upper_ns(int b)
{
    if (b < 4)
        return (uint64_t)b + 1;
    int e = b / 4 + 1, sub = b % 4;
    return (uint64_t)(4 + sub + 1) << (e - 2);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int hooks_run_timed(enum hook_id id, void *ctx, uint64_t *ret)
{
    uint64_t t0 = mono_ns();
    int rc = pl_hook_run(hooks_tab[id], ctx, ret);
    uint64_t ns = mono_ns() - t0;
    if (rc == PL_HOOK_DEFAULT) /* detached in between: nothing ran */
        return rc;
    atomic_fetch_add_explicit(&timing[id].samples, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&timing[id].ns, ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&timing[id].buckets[bucket_of(ns)], 1, memory_order_relaxed);
    if (rc == PL_HOOK_FAULT)
        hooks_fallback(id);
    return rc;
}

void hooks_fallback(enum hook_id id) { atomic_fetch_add_explicit(&timing[id].fallbacks, 1, memory_order_relaxed); }

void hooks_timing(int id, struct hook_timing *out)
{
    memset(out, 0, sizeof *out);
    if (id < 0 || id >= HK_COUNT)
        return;
    out->samples = atomic_load_explicit(&timing[id].samples, memory_order_relaxed);
    out->sampled_ns = atomic_load_explicit(&timing[id].ns, memory_order_relaxed);
    out->fallbacks = atomic_load_explicit(&timing[id].fallbacks, memory_order_relaxed);
    uint64_t total = 0;
    for (int b = 0; b < HOOKS_LAT_BUCKETS; b++)
        total += out->buckets[b] = atomic_load_explicit(&timing[id].buckets[b], memory_order_relaxed);
    if (!total)
        return;
    out->avg_ns = out->sampled_ns / (out->samples ? out->samples : 1);
    uint64_t want = (total * 99 + 99) / 100, seen = 0;
    for (int b = 0; b < HOOKS_LAT_BUCKETS; b++)
        if ((seen += out->buckets[b]) >= want) {
            out->p99_ns = hooks_bucket_upper_ns(b);
            break;
        }
}

static _Atomic uint64_t authorize_gen;

void hooks_changed(const char *hook_name)
{
    if (strcmp(hook_name, "authorize") == 0)
        atomic_fetch_add_explicit(&authorize_gen, 1, memory_order_release);
}

uint64_t hooks_authorize_generation(void) { return atomic_load_explicit(&authorize_gen, memory_order_acquire); }

#ifndef PLIANT_NO_HOOKS

/* Policies may keep state in maps, read the clock and log; nothing else:
 * the server offers no helper that could reach its own memory. */
static const uint32_t hook_helpers[] = {
    PL_HELPER_MAP_LOOKUP_ELEM, PL_HELPER_MAP_UPDATE_ELEM, PL_HELPER_MAP_DELETE_ELEM,
    PL_HELPER_KTIME_GET_NS,    PL_HELPER_KTIME_GET_COARSE_NS, PL_HELPER_TRACE_PRINTK,
};

#define RD(type, member)                                                                                        \
    {                                                                                                           \
        #member, (uint32_t)offsetof(type, member), (uint32_t)sizeof(((type *)0)->member), PL_FIELD_READ,       \
            PL_FIELD_SCALAR                                                                                     \
    }

static const struct pl_hook_field enqueue_fields[] = {
    RD(struct pl_sched_enqueue_ctx, tenant),      RD(struct pl_sched_enqueue_ctx, kind),
    RD(struct pl_sched_enqueue_ctx, fingerprint), RD(struct pl_sched_enqueue_ctx, queue_depth),
    RD(struct pl_sched_enqueue_ctx, running),     RD(struct pl_sched_enqueue_ctx, recent_cost_ns),
};
static const struct pl_hook_field admit_fields[] = {
    RD(struct pl_admit_ctx, tenant),      RD(struct pl_admit_ctx, kind),    RD(struct pl_admit_ctx, fingerprint),
    RD(struct pl_admit_ctx, queue_depth), RD(struct pl_admit_ctx, running), RD(struct pl_admit_ctx, workers),
    RD(struct pl_admit_ctx, attempts),    RD(struct pl_admit_ctx, waited_ns),
};
static const struct pl_hook_field progress_fields[] = {
    RD(struct pl_query_progress_ctx, tenant),     RD(struct pl_query_progress_ctx, kind),
    RD(struct pl_query_progress_ctx, fingerprint), RD(struct pl_query_progress_ctx, elapsed_ns),
    RD(struct pl_query_progress_ctx, vm_steps),
};
static const struct pl_hook_field end_fields[] = {
    RD(struct pl_query_end_ctx, tenant),   RD(struct pl_query_end_ctx, kind),
    RD(struct pl_query_end_ctx, fingerprint), RD(struct pl_query_end_ctx, rows),
    RD(struct pl_query_end_ctx, queue_ns), RD(struct pl_query_end_ctx, elapsed_ns),
    RD(struct pl_query_end_ctx, status),   RD(struct pl_query_end_ctx, attempts),
};
static const struct pl_hook_field authorize_fields[] = {
    RD(struct pl_authorize_ctx, tenant),    RD(struct pl_authorize_ctx, action),
    RD(struct pl_authorize_ctx, arg1_hash), RD(struct pl_authorize_ctx, arg2_hash),
    RD(struct pl_authorize_ctx, db_hash),   RD(struct pl_authorize_ctx, trigger_hash),
};

/* sched_pick's arrays: the runtime's fields are scalars, so one field per
 * element, named like C ("runnable[2]"); the runtime copies the names. */
static int pick_fields(struct pl_hook_field *f, char names[][32])
{
    int n = 0;
    f[n++] = (struct pl_hook_field)RD(struct pl_sched_pick_ctx, nclasses);
    f[n++] = (struct pl_hook_field)RD(struct pl_sched_pick_ctx, runnable_total);
    f[n++] = (struct pl_hook_field)RD(struct pl_sched_pick_ctx, now_ns);
    for (int i = 0; i < PL_SCHED_CLASSES; i++) {
        snprintf(names[2 * i], 32, "runnable[%d]", i);
        f[n++] = (struct pl_hook_field){names[2 * i], (uint32_t)offsetof(struct pl_sched_pick_ctx, runnable[i]),
                                        sizeof(uint32_t), PL_FIELD_READ, PL_FIELD_SCALAR};
        snprintf(names[2 * i + 1], 32, "oldest_wait_ns[%d]", i);
        f[n++] = (struct pl_hook_field){names[2 * i + 1],
                                        (uint32_t)offsetof(struct pl_sched_pick_ctx, oldest_wait_ns[i]),
                                        sizeof(uint64_t), PL_FIELD_READ, PL_FIELD_SCALAR};
    }
    return n;
}

int hooks_register(pl_runtime *rt, char *err, size_t errlen)
{
    struct pl_hook_field pf[3 + 2 * PL_SCHED_CLASSES];
    char pnames[2 * PL_SCHED_CLASSES][32];
    int npf = pick_fields(pf, pnames);
    const uint32_t nh = sizeof hook_helpers / sizeof hook_helpers[0];
#define SPEC(id, ctxt, flds, nflds, ranged, lo, hi)                                                              \
    [id] = {.name = hook_names[id], .ctx_size = sizeof(ctxt), .fields = flds, .nfields = (uint32_t)(nflds),      \
            .helpers = hook_helpers, .nhelpers = nh, .has_ret_range = ranged, .ret_min = lo, .ret_max = hi}
#define N(a) (sizeof a / sizeof a[0])
    const struct pl_hook_spec specs[HK_COUNT] = {
        SPEC(HK_SCHED_ENQUEUE, struct pl_sched_enqueue_ctx, enqueue_fields, N(enqueue_fields), true, 0,
             PL_SCHED_CLASSES - 1),
        SPEC(HK_SCHED_PICK, struct pl_sched_pick_ctx, pf, npf, true, 0, PL_SCHED_CLASSES - 1),
        SPEC(HK_ADMIT, struct pl_admit_ctx, admit_fields, N(admit_fields), true, PL_ADMIT_ACCEPT, PL_ADMIT_REJECT),
        SPEC(HK_QUERY_PROGRESS, struct pl_query_progress_ctx, progress_fields, N(progress_fields), true,
             PL_PROGRESS_CONTINUE, PL_PROGRESS_CANCEL),
        /* The answer is ignored, so any value is valid. */
        SPEC(HK_QUERY_END, struct pl_query_end_ctx, end_fields, N(end_fields), false, 0, 0),
        SPEC(HK_AUTHORIZE, struct pl_authorize_ctx, authorize_fields, N(authorize_fields), true, PL_AUTH_ALLOW,
             PL_AUTH_IGNORE),
    };
#undef SPEC
#undef N
    for (int i = 0; i < HK_COUNT; i++) {
        pl_error perr;
        if (pl_hook_register(rt, &specs[i], &hooks_tab[i], &perr)) {
            snprintf(err, errlen, "cannot register hook %s: %s", hook_names[i], perr.msg);
            return -1;
        }
    }
    return 0;
}

int hooks_attach_spec(pl_runtime *rt, const char *spec, char *err, size_t errlen)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf) {
        snprintf(err, errlen, "--attach %.200s...: too long", spec);
        return -1;
    }
    char *eq = strchr(buf, '=');
    if (!eq || eq == buf || !eq[1]) {
        snprintf(err, errlen, "--attach %.900s: expected HOOK=FILE.o[:SECTION]", spec);
        return -1;
    }
    *eq = 0;
    const char *hook_name = buf;
    char *path = eq + 1, *section = NULL;
    /* Section names contain '/' ("hook/authorize"), so the split is at the
     * last ".o:" rather than at the last ':'. */
    for (char *p = strstr(path, ".o:"); p; p = strstr(p + 1, ".o:"))
        section = p + 2;
    if (section) {
        *section++ = 0;
        if (!*section) {
            snprintf(err, errlen, "--attach %.900s: empty section name after ':'", spec);
            return -1;
        }
    }
    /* Every hook of the server's runtime, the engine's storage hooks
     * (page_*, mem_charge, io_read, wal_checkpoint) included: by name. */
    pl_hook *h = pl_hook_find(rt, hook_name);
    if (!h) {
        snprintf(err, errlen,
                 "--attach %.900s: unknown hook \"%.64s\" (hooks: sched_enqueue, sched_pick, admit, "
                 "query_progress, query_end, authorize, page_hash, page_fetch, page_unpin, page_evict, mem_charge, "
                 "io_read, wal_checkpoint)",
                 spec, hook_name);
        return -1;
    }
    /* Verified for this hook (its fields, helpers and return range), or a
     * bundle verified hook by hook (manager/catalog.h). */
    struct catalog_load l;
    char why[1024];
    if (catalog_load(rt, h, &(struct catalog_load_opts){.path = path, .section = section}, &l, why, sizeof why)) {
        snprintf(err, errlen, "--attach %.900s: cannot load %s for hook %s: %s", spec, path, hook_name, why);
        return -1;
    }
    int rc = 0;
    for (uint32_t i = 0; i <= l.ncompanions && !rc; i++) {
        pl_hook *each = i < l.ncompanions ? l.companion_hook[i] : h;
        pl_prog *cur = pl_hook_current(each);
        if (cur) {
            pl_prog_put(cur);
            snprintf(err, errlen, "--attach %.900s: hook %s already has a program attached (one per hook)", spec,
                     pl_hook_info(each)->name);
            rc = -1;
        }
    }
    if (!rc && catalog_attach(h, &l, why, sizeof why)) {
        snprintf(err, errlen, "--attach %.900s: %s", spec, why);
        rc = -1;
    }
    for (uint32_t i = 0; i <= l.ncompanions && !rc; i++) {
        pl_prog *p = i < l.ncompanions ? l.companion[i] : l.main;
        log_event(LOG_INFO, "hook_attached", "hook=%s file=%s prog=%s insns=%u jit=%d",
                  pl_hook_info(i < l.ncompanions ? l.companion_hook[i] : h)->name, log_q(path),
                  log_q(pl_prog_name(p)), pl_prog_insn_count(p), pl_prog_is_jitted(p));
    }
    /* The hooks hold their own references to the programs (and the
     * programs to their maps); the object is no longer needed. */
    pl_object_close(l.obj);
    return rc;
}

#define COST_SLOTS 4096u /* power of two */
/* Two independent words per slot: a reader may pair one writer's
 * fingerprint with another's cost. Acceptable for a scheduling hint, and
 * it keeps the query_end path free of locks. */
static struct {
    _Atomic uint64_t fp, ns;
} cost_tab[COST_SLOTS];

static uint32_t cost_slot(uint64_t fp) { return (uint32_t)((fp ^ (fp >> 29) ^ (fp >> 47)) & (COST_SLOTS - 1)); }

void hooks_cost_record(uint64_t fingerprint, uint64_t ns)
{
    if (!fingerprint)
        return;
    uint32_t i = cost_slot(fingerprint);
    atomic_store_explicit(&cost_tab[i].ns, ns ? ns : 1, memory_order_relaxed);
    atomic_store_explicit(&cost_tab[i].fp, fingerprint, memory_order_relaxed);
}

uint64_t hooks_cost_lookup(uint64_t fingerprint)
{
    if (!fingerprint)
        return 0;
    uint32_t i = cost_slot(fingerprint);
    if (atomic_load_explicit(&cost_tab[i].fp, memory_order_relaxed) != fingerprint)
        return 0;
    return atomic_load_explicit(&cost_tab[i].ns, memory_order_relaxed);
}

static uint64_t name_hash(const char *s) { return s ? pl_name_hash(s) : 0; }

int hooks_authorize(void *user, int action, const char *a1, const char *a2, const char *db, const char *trigger)
{
    struct pl_authorize_ctx c = {.tenant = (uint32_t)*(const int *)user, .action = (uint32_t)action};
    uint64_t ret;
    /* Hashed before knowing whether a program is attached: asking costs a
     * shared reference count, while FNV over a few short names is noise
     * next to the prepare that calls this. */
    c.arg1_hash = name_hash(a1);
    c.arg2_hash = name_hash(a2);
    c.db_hash = name_hash(db);
    c.trigger_hash = name_hash(trigger);
    if (hooks_run(HK_AUTHORIZE, &c, &ret) != PL_HOOK_RAN)
        return SQLITE_OK;
    return ret == PL_AUTH_DENY ? SQLITE_DENY : ret == PL_AUTH_IGNORE ? SQLITE_IGNORE : SQLITE_OK;
}

static uint64_t load_uint(const unsigned char *p, uint32_t size)
{
    if (size == 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* One map's non-zero entries into buf as " key:value"; false when the map
 * holds something other than integers (then it is skipped, not guessed). */
static bool format_map(pl_map *m, char *buf, size_t len)
{
    const struct pl_map_spec *sp = pl_map_info(m);
    bool perthread = sp->type == PL_MAP_PERTHREAD_ARRAY;
    if ((sp->type != PL_MAP_ARRAY && !perthread && sp->type != PL_MAP_HASH && sp->type != PL_MAP_LRU_HASH) ||
        (sp->key_size != 4 && sp->key_size != 8) || (sp->value_size != 4 && sp->value_size != 8))
        return false;
    size_t nval = perthread ? PL_MAX_THREADS : 1;
    unsigned char *val = malloc(nval * sp->value_size);
    if (!val)
        return false;
    unsigned char key[8], next[8];
    size_t used = 0;
    buf[0] = 0;
    /* Iteration stops early when the line is full: the line says so. */
    for (const void *k = NULL; pl_map_next_key(m, k, next) == 0; k = key) {
        memcpy(key, next, sp->key_size);
        if (pl_map_lookup(m, key, val) != 0)
            continue;
        uint64_t sum = 0;
        for (size_t t = 0; t < nval; t++)
            sum += load_uint(val + t * sp->value_size, sp->value_size);
        if (sum == 0)
            continue;
        int n = snprintf(buf + used, len - used, " %llu:%llu", (unsigned long long)load_uint(key, sp->key_size),
                         (unsigned long long)sum);
        if (n < 0 || (size_t)n >= len - used - 4) {
            snprintf(buf + used, len - used, " ...");
            break;
        }
        used += (size_t)n;
    }
    free(val);
    return true;
}

void hooks_log_maps(void)
{
    /* log_q() quotes into 512 bytes; a longer line ends in " ...". */
    static char buf[480];
    for (int h = 0; h < HK_COUNT; h++) {
        pl_prog *p = hooks_tab[h] ? pl_hook_current(hooks_tab[h]) : NULL;
        if (!p)
            continue;
        for (uint32_t i = 0; i < pl_prog_map_count(p); i++) {
            pl_map *m = pl_prog_map(p, i);
            if (m && format_map(m, buf, sizeof buf))
                log_event(LOG_INFO, "hook_map", "hook=%s prog=%s map=%s entries=%s", hook_names[h],
                          log_q(pl_prog_name(p)), log_q(pl_map_info(m)->name ? pl_map_info(m)->name : "?"), log_q(buf[0] ? buf + 1 : ""));
        }
        pl_prog_put(p);
    }
}

#else /* PLIANT_NO_HOOKS */

void hooks_log_maps(void) {}

int hooks_register(pl_runtime *rt, char *err, size_t errlen)
{
    (void)rt;
    (void)err;
    (void)errlen;
    return 0;
}

int hooks_attach_spec(pl_runtime *rt, const char *spec, char *err, size_t errlen)
{
    (void)rt;
    snprintf(err, errlen, "--attach %.900s: this pliantd was built without hookpoints (PLIANT_HOOKS=0)", spec);
    return -1;
}

void hooks_cost_record(uint64_t fingerprint, uint64_t ns)
{
    (void)fingerprint;
    (void)ns;
}

uint64_t hooks_cost_lookup(uint64_t fingerprint)
{
    (void)fingerprint;
    return 0;
}

int hooks_authorize(void *user, int action, const char *a1, const char *a2, const char *db, const char *trigger)
{
    (void)user, (void)action, (void)a1, (void)a2, (void)db, (void)trigger;
    return SQLITE_OK;
}

#endif
