/*
 * Hookpoints: registration, atomic attach/replace/detach, invocation with
 * per-thread counters, return-value validation and the circuit breaker.
 *
 * Swap protocol: the attached program is one atomic pointer. Attach holds a
 * reference for the hook, publishes the new pointer with an exchange and
 * hands the old program to pl_rcu_defer, which drops the hook's reference
 * once every reader that might have loaded the old pointer has left its
 * read-side section. Invokers therefore never see a freed program and never
 * write a shared cache line: counters live in a per-thread slot.
 *
 * The common case — a JIT-compiled program on a hook without a validator
 * or sampling — runs entirely inline in pl_hook_run() (pliant.h), which is
 * why the state it reads sits in struct pl_hook_head; pl_hook_invoke() below
 * is the general path and must agree with it. The inline path never looks
 * at the fault streak: the first fault withdraws head.fast_fn, so until
 * the program answers well again every call takes pl_hook_invoke(), which
 * resets the streak and republishes fast_fn.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOOK_CTX_MAX (64u * 1024)
#define DEFAULT_FAULT_LIMIT 16

struct pl_hook {
    struct pl_hook_head head; /* first: pl_hook_run reads it inline */
    pl_runtime *rt;
    struct pl_hook_spec spec; /* deep copy; pointers below */
    char *name;
    struct pl_hook_field *fields;
    uint32_t *helpers;
    char **field_names;
    bool inline_ok;  /* no validator, no sampling: see head.fast_fn */
    /* The return range as one unsigned comparison: r0 is valid when
     * r0 - ret_min <= ret_span (no range: ret_min = INT64_MIN, span = max). */
    uint64_t ret_min, ret_span;
    _Atomic uint32_t fault_streak;      /* consecutive faults, for the circuit breaker */
    pthread_mutex_t attach_lock;
    uint64_t attaches, breaker_trips;   /* under attach_lock */
    char breaker_reason[256];           /* under attach_lock */
};

/* Relaxed single-writer counter update: a plain increment, but race-free for
 * the stats reader. */
static inline void bump(uint64_t *c, uint64_t by)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + by, __ATOMIC_RELAXED);
}

static void put_prog_cb(void *prog)
{
    pl_prog_put(prog);
}

static void hook_free(pl_hook *h)
{
    if (!h)
        return;
    for (uint32_t i = 0; h->field_names && i < h->spec.nfields; i++)
        free(h->field_names[i]);
    free(h->field_names);
    free(h->fields);
    free(h->helpers);
    free(h->name);
    pthread_mutex_destroy(&h->attach_lock);
    free(h);
}

static int check_spec(const pl_runtime *rt, const struct pl_hook_spec *s, pl_error *err)
{
    if (!s->name || !s->name[0])
        return pl_fail(err, PL_EINVAL, -1, "a hook needs a name");
    if (s->ctx_size > HOOK_CTX_MAX)
        return pl_fail(err, PL_EINVAL, -1, "hook '%s': context of %u bytes exceeds the %u-byte limit",
                       s->name, s->ctx_size, HOOK_CTX_MAX);
    if (s->nfields && !s->fields)
        return pl_fail(err, PL_EINVAL, -1, "hook '%s': nfields is %u but fields is NULL", s->name, s->nfields);
    for (uint32_t i = 0; i < s->nfields; i++) {
        const struct pl_hook_field *f = &s->fields[i];
        const char *fname = f->name ? f->name : "?";
        if (f->size != 1 && f->size != 2 && f->size != 4 && f->size != 8)
            return pl_fail(err, PL_EINVAL, -1, "hook '%s': field '%s' has size %u (must be 1, 2, 4 or 8)",
                           s->name, fname, f->size);
        if ((uint64_t)f->offset + f->size > s->ctx_size || f->offset % f->size)
            return pl_fail(err, PL_EINVAL, -1,
                           "hook '%s': field '%s' at offset %u is misaligned or outside the %u-byte context",
                           s->name, fname, f->offset, s->ctx_size);
        if (!f->access || f->access & ~(PL_FIELD_READ | PL_FIELD_WRITE) || f->kind > PL_FIELD_HANDLE)
            return pl_fail(err, PL_EINVAL, -1, "hook '%s': field '%s' has an unknown access or kind",
                           s->name, fname);
        if (f->kind == PL_FIELD_HANDLE && (f->access & PL_FIELD_WRITE))
            return pl_fail(err, PL_EINVAL, -1, "hook '%s': handle field '%s' cannot be writable", s->name, fname);
        for (uint32_t j = 0; j < i; j++)
            if (f->offset < s->fields[j].offset + s->fields[j].size &&
                s->fields[j].offset < f->offset + f->size)
                return pl_fail(err, PL_EINVAL, -1, "hook '%s': fields '%s' and '%s' overlap", s->name, fname,
                               s->fields[j].name ? s->fields[j].name : "?");
    }
    if (s->nhelpers && !s->helpers)
        return pl_fail(err, PL_EINVAL, -1, "hook '%s': nhelpers is %u but helpers is NULL", s->name, s->nhelpers);
    for (uint32_t i = 0; i < s->nhelpers; i++)
        if (!pl_helper_find(rt, s->helpers[i]))
            return pl_fail(err, PL_ENOENT, -1, "hook '%s': allowlisted helper id %u is not registered",
                           s->name, s->helpers[i]);
    if (s->has_ret_range && s->ret_min > s->ret_max)
        return pl_fail(err, PL_EINVAL, -1, "hook '%s': return range [%lld, %lld] is empty", s->name,
                       (long long)s->ret_min, (long long)s->ret_max);
    return 0;
}

int pl_hook_register(pl_runtime *rt, const struct pl_hook_spec *spec, pl_hook **out, pl_error *err)
{
    if (!rt || !spec || !out)
        return pl_fail(err, PL_EINVAL, -1, "pl_hook_register: runtime, spec and out are required");
    int rc = check_spec(rt, spec, err);
    if (rc)
        return rc;

    pl_hook *h = aligned_alloc(PL_CACHELINE, sizeof(*h));
    if (!h)
        return pl_fail(err, PL_ENOMEM, -1, "out of memory registering hook '%s'", spec->name);
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->attach_lock, NULL);
    h->rt = rt;
    h->spec = *spec;
    h->name = strdup(spec->name);
    h->fields = spec->nfields ? malloc(sizeof(*h->fields) * spec->nfields) : NULL;
    h->field_names = spec->nfields ? calloc(spec->nfields, sizeof(char *)) : NULL;
    h->helpers = spec->nhelpers ? malloc(sizeof(*h->helpers) * spec->nhelpers) : NULL;
    bool oom = !h->name || (spec->nfields && (!h->fields || !h->field_names)) || (spec->nhelpers && !h->helpers);
    for (uint32_t i = 0; !oom && i < spec->nfields; i++) {
        h->fields[i] = spec->fields[i];
        h->field_names[i] = strdup(spec->fields[i].name ? spec->fields[i].name : "");
        oom = !h->field_names[i];
        h->fields[i].name = h->field_names[i];
    }
    if (oom) {
        hook_free(h);
        return pl_fail(err, PL_ENOMEM, -1, "out of memory registering hook '%s'", spec->name);
    }
    if (spec->nhelpers)
        memcpy(h->helpers, spec->helpers, sizeof(*h->helpers) * spec->nhelpers);
    h->spec.name = h->name;
    h->spec.fields = h->fields;
    h->spec.helpers = h->helpers;
    if (!h->spec.fault_limit)
        h->spec.fault_limit = DEFAULT_FAULT_LIMIT;
    if (h->spec.sample_shift > 30)
        h->spec.sample_shift = 30;
    h->head.ctx_size = spec->ctx_size;
    h->ret_min = spec->has_ret_range ? (uint64_t)spec->ret_min : (uint64_t)INT64_MIN;
    h->ret_span = spec->has_ret_range ? (uint64_t)spec->ret_max - (uint64_t)spec->ret_min : UINT64_MAX;
    h->inline_ok = !spec->validate && !h->spec.sample_shift;

    pthread_mutex_lock(&rt->lock);
    rc = 0;
    for (uint32_t i = 0; i < rt->nhooks; i++)
        if (!strcmp(rt->hooks[i]->name, spec->name))
            rc = pl_fail(err, PL_EEXIST, -1, "hook '%s' is already registered", spec->name);
    if (!rc && rt->nhooks == rt->cap_hooks) {
        uint32_t cap = rt->cap_hooks ? rt->cap_hooks * 2 : 16;
        pl_hook **grown = realloc(rt->hooks, sizeof(*grown) * cap);
        if (grown) {
            rt->hooks = grown;
            rt->cap_hooks = cap;
        } else {
            rc = pl_fail(err, PL_ENOMEM, -1, "out of memory registering hook '%s'", spec->name);
        }
    }
    if (!rc)
        rt->hooks[rt->nhooks++] = h;
    pthread_mutex_unlock(&rt->lock);
    if (rc) {
        hook_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

pl_hook *pl_hook_find(const pl_runtime *rt, const char *name)
{
    pl_hook *found = NULL;
    if (!rt || !name)
        return NULL;
    pthread_mutex_lock((pthread_mutex_t *)&rt->lock);
    for (uint32_t i = 0; i < rt->nhooks && !found; i++)
        if (!strcmp(rt->hooks[i]->name, name))
            found = rt->hooks[i];
    pthread_mutex_unlock((pthread_mutex_t *)&rt->lock);
    return found;
}

const struct pl_hook_spec *pl_hook_info(const pl_hook *hook)
{
    return &hook->spec;
}

/* Only programs verified against this hook's contract (context layout,
 * helper allowlist, return range) may run in it. */
static int check_fits_hook(const pl_hook *h, const pl_prog *p, pl_error *err)
{
    if (!p->verified)
        return pl_fail(err, PL_EHOOK, -1,
                       "program '%s' was loaded without verification; hooks run only verified programs", p->name);
    if (p->hook != h)
        return pl_fail(err, PL_EHOOK, -1, "program '%s' was verified %s%s%s, not for hook '%s'; load it with this hook",
                       p->name, p->hook ? "for hook '" : "without a hook", p->hook ? p->hook->name : "",
                       p->hook ? "'" : "", h->name);
    return 0;
}

/* Replaces the attached program with prog (NULL detaches) and schedules the
 * old one for release. Caller holds attach_lock. */
static pl_prog *swap_locked(pl_hook *h, pl_prog *prog)
{
    /* fast_fn is cleared first and set last: a thread that saw the new
     * program on one path (pl_hook_invoke reads active, the inline path
     * fast_fn) never meets the old one on the other afterwards — a thread's
     * first call goes through pl_hook_invoke, its next ones inline. A reader
     * that pairs the new fast_fn with the old program, or the reverse, is
     * inside a section the grace period before the release of the old
     * program waits for. */
    atomic_store_explicit(&h->head.fast_fn, NULL, memory_order_relaxed);
    pl_prog *old = atomic_exchange_explicit(&h->head.active, prog, memory_order_acq_rel);
    atomic_store_explicit(&h->head.fast_fn, prog && h->inline_ok ? prog->jit_fn : NULL, memory_order_release);
    atomic_store_explicit(&h->fault_streak, 0, memory_order_relaxed);
    if (old)
        pl_rcu_defer(put_prog_cb, old);
    return old;
}

int pl_hook_attach(pl_hook *h, pl_prog *prog, pl_error *err)
{
    if (!h || !prog)
        return pl_fail(err, PL_EINVAL, -1, "pl_hook_attach: hook and program are required");
    if (prog->rt != h->rt)
        return pl_fail(err, PL_EHOOK, -1, "program '%s' belongs to another runtime", prog->name);
    int rc = check_fits_hook(h, prog, err);
    if (rc)
        return rc;
    pl_prog_get(prog);
    pthread_mutex_lock(&h->attach_lock);
    swap_locked(h, prog);
    h->attaches++;
    pthread_mutex_unlock(&h->attach_lock);
    return 0;
}

int pl_hook_detach(pl_hook *h, pl_error *err)
{
    if (!h)
        return pl_fail(err, PL_EINVAL, -1, "pl_hook_detach: hook is required");
    pthread_mutex_lock(&h->attach_lock);
    pl_prog *old = swap_locked(h, NULL);
    pthread_mutex_unlock(&h->attach_lock);
    return old ? 0 : pl_fail(err, PL_ENOENT, -1, "hook '%s' has no program attached", h->name);
}

pl_prog *pl_hook_current(pl_hook *h)
{
    pl_rcu_read_lock();
    pl_prog *p = atomic_load_explicit(&h->head.active, memory_order_acquire);
    if (p)
        pl_prog_get(p); /* still referenced by the hook: we are inside the grace period */
    pl_rcu_read_unlock();
    return p;
}

/* Detaches the program that faulted — p, or when the inline path only knew
 * its code, the program running fn — if it is still attached (another
 * thread may have tripped the breaker or replaced it already). */
static void trip_breaker(pl_hook *h, pl_prog *p, pl_jit_fn fn, uint64_t r0, uint32_t runtime_fault)
{
    pthread_mutex_lock(&h->attach_lock);
    pl_prog *cur = atomic_load_explicit(&h->head.active, memory_order_relaxed);
    if (cur && (p ? cur == p : cur->jit_fn == fn)) {
        p = cur;
        swap_locked(h, NULL);
        h->breaker_trips++;
        snprintf(h->breaker_reason, sizeof(h->breaker_reason),
                 "program '%s' detached after %u consecutive faults; last: %s (r0 = %lld)", p->name,
                 h->spec.fault_limit, runtime_fault ? "runtime fault" : "invalid return value", (long long)r0);
        pl_log(h->rt, PL_LOG_WARN, "hook '%s': %s", h->name, h->breaker_reason);
    }
    pthread_mutex_unlock(&h->attach_lock);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sends every call to pl_hook_invoke while a fault streak runs (see top of
 * file). The streak is re-read under the lock: a good answer in between
 * has reset it and republished fast_fn, which must then stay. */
static void withdraw_fast_fn(pl_hook *h, pl_prog *p, pl_jit_fn fn)
{
    pthread_mutex_lock(&h->attach_lock);
    pl_prog *cur = atomic_load_explicit(&h->head.active, memory_order_relaxed);
    if (cur && (p ? cur == p : cur->jit_fn == fn) &&
        atomic_load_explicit(&h->fault_streak, memory_order_relaxed) != 0)
        atomic_store_explicit(&h->head.fast_fn, NULL, memory_order_relaxed);
    pthread_mutex_unlock(&h->attach_lock);
}

/* A good answer ends the streak of p and gives the inline path back. */
static void end_fault_streak(pl_hook *h, pl_prog *p)
{
    pthread_mutex_lock(&h->attach_lock);
    if (atomic_load_explicit(&h->head.active, memory_order_relaxed) == p) {
        atomic_store_explicit(&h->fault_streak, 0, memory_order_relaxed);
        atomic_store_explicit(&h->head.fast_fn, h->inline_ok ? p->jit_fn : NULL, memory_order_release);
    }
    pthread_mutex_unlock(&h->attach_lock);
}

static int count_fault(pl_hook *h, pl_prog *p, pl_jit_fn fn, uint64_t r0, uint32_t runtime_fault)
{
    bump(&h->head.tstats[pl_thread_slot()].faults, 1);
    if (atomic_fetch_add_explicit(&h->fault_streak, 1, memory_order_relaxed) + 1 >= h->spec.fault_limit)
        trip_breaker(h, p, fn, r0, runtime_fault);
    else if (atomic_load_explicit(&h->head.fast_fn, memory_order_relaxed))
        withdraw_fast_fn(h, p, fn);
    return PL_HOOK_FAULT;
}

int pl__hook_fault(pl_hook *h, pl_jit_fn fn, uint64_t r0, uint32_t fault)
{
    return count_fault(h, NULL, fn, r0, fault == PL__JIT_ABORTED);
}

int pl_hook_invoke(pl_hook *h, void *ctx, uint64_t *ret)
{
    pl_rcu_read_lock();
    pl_prog *p = atomic_load_explicit(&h->head.active, memory_order_acquire);
    if (!p) {
        pl_rcu_read_unlock();
        return PL_HOOK_DEFAULT;
    }
    struct pl__hook_tstats *st = &h->head.tstats[pl_thread_slot()];
    uint64_t n = st->invocations;
    bump(&st->invocations, 1);
    bool timed = h->spec.sample_shift && (n & ((1u << h->spec.sample_shift) - 1)) == 0;
    uint64_t t0 = timed ? now_ns() : 0;
    pl_jit_result res = p->jit_fn ? p->jit_fn(ctx, h->spec.ctx_size) : pl_interp_run(p, ctx, h->spec.ctx_size);
    uint64_t r0 = res.r0;
    if (timed) {
        bump(&st->samples, 1);
        bump(&st->sampled_ns, now_ns() - t0);
    }
    int rc = PL_HOOK_RAN;
    /* JIT code checks the range itself, the interpreter does not. */
    if (res.fault || r0 - h->ret_min > h->ret_span ||
        (h->spec.validate && !h->spec.validate(r0, ctx, h->spec.validate_user))) {
        rc = count_fault(h, p, NULL, r0, res.fault == PL__JIT_ABORTED);
    } else {
        /* Read-mostly: only written after a fault, so no shared-line write here. */
        if (__builtin_expect(atomic_load_explicit(&h->fault_streak, memory_order_relaxed) != 0, 0))
            end_fault_streak(h, p);
        *ret = r0;
    }
    pl_rcu_read_unlock();
    return rc;
}

void pl_hook_stats(pl_hook *h, struct pl_hook_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < PL_MAX_THREADS; i++) {
        const struct pl__hook_tstats *st = &h->head.tstats[i];
        out->invocations += __atomic_load_n(&st->invocations, __ATOMIC_RELAXED);
        out->faults += __atomic_load_n(&st->faults, __ATOMIC_RELAXED);
        out->samples += __atomic_load_n(&st->samples, __ATOMIC_RELAXED);
        out->sampled_ns += __atomic_load_n(&st->sampled_ns, __ATOMIC_RELAXED);
    }
    pthread_mutex_lock(&h->attach_lock);
    out->attaches = h->attaches;
    out->detaches_by_breaker = h->breaker_trips;
    pthread_mutex_unlock(&h->attach_lock);
    out->attached = atomic_load_explicit(&h->head.active, memory_order_relaxed) != NULL;
}

const char *pl_hook_breaker_reason(pl_hook *h, char *buf, size_t len)
{
    pthread_mutex_lock(&h->attach_lock);
    snprintf(buf, len, "%s", h->breaker_reason);
    pthread_mutex_unlock(&h->attach_lock);
    return buf;
}

void pl_hooks_destroy(pl_runtime *rt)
{
    for (uint32_t i = 0; i < rt->nhooks; i++) {
        pl_hook *h = rt->hooks[i];
        pthread_mutex_lock(&h->attach_lock);
        swap_locked(h, NULL);
        pthread_mutex_unlock(&h->attach_lock);
        hook_free(h);
    }
    free(rt->hooks);
    rt->hooks = NULL;
    rt->nhooks = rt->cap_hooks = 0;
}
