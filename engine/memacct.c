/* Per-tenant memory accounting under SQLite (see memacct.h for the
 * picture: header, per-thread batching, slack). */
#include "memacct.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "hookreg.h"

/* Slots: one per tenant, then the server's own. */
#define SLOTS (MEMACCT_MAX_TENANTS + 1)
#define SERVER_SLOT MEMACCT_MAX_TENANTS

/* Precedes every block: 16 bytes keep malloc's 16-byte alignment. */
struct hdr {
    uint64_t size;  /* what the caller asked for: credited on free */
    uint32_t slot;  /* who was charged */
    uint32_t unused;
};
_Static_assert(sizeof(struct hdr) == 16, "the header must keep 16-byte alignment");

static struct {
    _Atomic int64_t bytes[SLOTS];
    _Atomic int64_t frame_bytes[SLOTS];
    _Atomic uint64_t peak[SLOTS];
    _Atomic uint64_t refusals[SLOTS];
    _Atomic uint64_t quota[SLOTS];
    _Atomic int64_t total;
    _Atomic uint64_t total_peak, limit, checks, fallbacks;
    _Atomic uint32_t ntenants;
} acct;

/* The thread's deltas not yet in acct (positive: charged here, negative:
 * credited here), and where its new allocations go. */
struct thread_acct {
    int64_t delta[SLOTS];
    uint32_t slot;
    bool exit_flush_armed;
    bool refused;
};
static _Thread_local struct thread_acct me = {.slot = SERVER_SLOT};

static _Atomic(pl_hook *) charge_hook;
static _Atomic(memacct_reclaimer) reclaimer;

void memacct_set_reclaimer(memacct_reclaimer fn) { atomic_store_explicit(&reclaimer, fn, memory_order_release); }
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static uint32_t slot_of(uint32_t tenant)
{
    if (tenant == PL_TENANT_NONE)
        return SERVER_SLOT;
    return tenant < MEMACCT_MAX_TENANTS ? tenant : MEMACCT_MAX_TENANTS - 1;
}

static void add_shared(uint32_t slot, int64_t d)
{
    atomic_fetch_add_explicit(&acct.bytes[slot], d, memory_order_relaxed);
    atomic_fetch_add_explicit(&acct.total, d, memory_order_relaxed);
}

void memacct_flush_thread(void)
{
    for (uint32_t s = 0; s < SLOTS; s++)
        if (me.delta[s]) {
            add_shared(s, me.delta[s]);
            me.delta[s] = 0;
        }
}

static void on_thread_exit(void *unused)
{
    (void)unused;
    memacct_flush_thread();
}

static void make_exit_key(void)
{
    if (pthread_key_create(&exit_key, on_thread_exit) != 0)
        exit_key = (pthread_key_t)-1;
}

/* A thread's deltas must reach the shared counters when it exits, or
 * memory it charged and another thread freed would drift forever. */
static void arm_exit_flush(void)
{
    if (me.exit_flush_armed)
        return;
    pthread_once(&exit_key_once, make_exit_key);
    if (exit_key != (pthread_key_t)-1 && pthread_setspecific(exit_key, &me) == 0)
        me.exit_flush_armed = true;
}

static void raise_to(_Atomic uint64_t *peak, int64_t v)
{
    if (v <= 0)
        return;
    uint64_t cur = atomic_load_explicit(peak, memory_order_relaxed);
    while (cur < (uint64_t)v &&
           !atomic_compare_exchange_weak_explicit(peak, &cur, (uint64_t)v, memory_order_relaxed, memory_order_relaxed)) {
    }
}

/* Should `request` bytes for slot be refused, now that the shared counters
 * read tenant_bytes and total (request included)? */
static bool refuse(uint32_t slot, enum pl_mem_kind kind, int64_t request, int64_t tenant_bytes, int64_t total)
{
    uint64_t quota = atomic_load_explicit(&acct.quota[slot], memory_order_relaxed);
    uint64_t limit = atomic_load_explicit(&acct.limit, memory_order_relaxed);
    bool builtin = (quota && tenant_bytes > (int64_t)quota) || (limit && total > (int64_t)limit);
#ifndef PLIANT_NO_HOOKS
    pl_hook *h = atomic_load_explicit(&charge_hook, memory_order_acquire);
    if (h) {
        /* The shared counters can dip below zero while other threads hold
         * unflushed charges: the policy sees 0 then. */
        struct pl_mem_charge_ctx c = {
            .tenant = slot, .kind = (uint32_t)kind, .request = (uint64_t)request,
            .tenant_bytes = tenant_bytes > 0 ? (uint64_t)tenant_bytes : 0, .tenant_quota = quota,
            .total_bytes = total > 0 ? (uint64_t)total : 0,
            .total_limit = limit, .ntenants = atomic_load_explicit(&acct.ntenants, memory_order_relaxed),
        };
        uint64_t ret;
        int rc = pl_hook_run(h, &c, &ret);
        /* The JIT checked the range (0 or 1). */
        if (rc == PL_HOOK_RAN)
            return ret == PL_MEM_REFUSE;
        if (rc == PL_HOOK_FAULT)
            atomic_fetch_add_explicit(&acct.fallbacks, 1, memory_order_relaxed);
    }
#else
    (void)kind, (void)request;
#endif
    return builtin;
}

/* The slow path: slot's delta reached a batch; `delta` includes request.
 * Publishes it, then decides on the request (the server's slot is never
 * refused: start-up and shutdown must not fail on a tenant's account). */
static __attribute__((noinline)) bool flush_and_check(uint32_t slot, int64_t delta, int64_t request,
                                                      enum pl_mem_kind kind)
{
    arm_exit_flush();
    me.delta[slot] = 0;
    int64_t t = atomic_fetch_add_explicit(&acct.bytes[slot], delta, memory_order_relaxed) + delta;
    int64_t total = atomic_fetch_add_explicit(&acct.total, delta, memory_order_relaxed) + delta;
    atomic_fetch_add_explicit(&acct.checks, 1, memory_order_relaxed);
    if (slot != SERVER_SLOT && refuse(slot, kind, request, t, total)) {
        /* SQLite memory over the quota: the tenant's cached pages give
         * way first (as a buffer manager evicts to make room), then the
         * request is judged again. Never for frames: the pool is asking. */
        memacct_reclaimer rec = atomic_load_explicit(&reclaimer, memory_order_acquire);
        uint64_t freed = kind == PL_MEM_HEAP && rec ? rec(slot, (uint64_t)request) : 0;
        if (freed && !refuse(slot, kind, request, t - (int64_t)freed, total - (int64_t)freed)) {
            raise_to(&acct.peak[slot], t - (int64_t)freed);
            return true;
        }
        add_shared(slot, -request);
        atomic_fetch_add_explicit(&acct.refusals[slot], 1, memory_order_relaxed);
        me.refused = true;
        return false;
    }
    raise_to(&acct.peak[slot], t);
    raise_to(&acct.total_peak, total);
    return true;
}

/* The fast path: a thread-local add and a compare. */
static inline bool charge(uint32_t slot, int64_t n, enum pl_mem_kind kind)
{
    int64_t d = me.delta[slot] + n;
    if (__builtin_expect(d < MEMACCT_BATCH, 1)) {
        me.delta[slot] = d;
        return true;
    }
    return flush_and_check(slot, d, n, kind);
}

static inline void credit(uint32_t slot, int64_t n)
{
    int64_t d = me.delta[slot] - n;
    if (__builtin_expect(d > -MEMACCT_BATCH, 1)) {
        me.delta[slot] = d;
        return;
    }
    me.delta[slot] = 0;
    add_shared(slot, d);
}

/* ------------------------------------------------------ sqlite3_mem_methods */

static struct hdr *hdr_of(void *p) { return (struct hdr *)p - 1; }

static void *mem_malloc(int n)
{
    uint32_t slot = me.slot;
    if (!charge(slot, n, PL_MEM_HEAP))
        return NULL;
    struct hdr *h = malloc(sizeof *h + (size_t)n);
    if (!h) {
        credit(slot, n);
        return NULL;
    }
    h->size = (uint64_t)n;
    h->slot = slot;
    return h + 1;
}

static void mem_free(void *p)
{
    if (!p)
        return;
    struct hdr *h = hdr_of(p);
    credit(h->slot, (int64_t)h->size);
    free(h);
}

/* The block stays with the tenant it was charged to; growth is checked
 * against that tenant. On failure the old block is untouched (SQLite's
 * contract). */
static void *mem_realloc(void *p, int n)
{
    struct hdr *h = hdr_of(p);
    uint32_t slot = h->slot;
    int64_t grow = (int64_t)n - (int64_t)h->size;
    if (grow > 0 && !charge(slot, grow, PL_MEM_HEAP))
        return NULL;
    struct hdr *nh = realloc(h, sizeof *nh + (size_t)n);
    if (!nh) {
        if (grow > 0)
            credit(slot, grow);
        return NULL;
    }
    if (grow < 0)
        credit(slot, -grow);
    nh->size = (uint64_t)n;
    return nh + 1;
}

static int mem_size(void *p) { return p ? (int)hdr_of(p)->size : 0; }
static int mem_roundup(int n) { return (n + 7) & ~7; }
static int mem_init(void *arg)
{
    (void)arg;
    return SQLITE_OK;
}
static void mem_shutdown(void *arg) { (void)arg; }

static const sqlite3_mem_methods methods = {
    .xMalloc = mem_malloc, .xFree = mem_free, .xRealloc = mem_realloc, .xSize = mem_size,
    .xRoundup = mem_roundup, .xInit = mem_init, .xShutdown = mem_shutdown,
};

const sqlite3_mem_methods *memacct_methods(void) { return &methods; }

int memacct_install(char *err, size_t errlen)
{
    int rc = sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
    if (rc == SQLITE_OK)
        rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen,
                 "cannot install the memory accounting allocator into SQLite (%s): it must happen before "
                 "sqlite3_initialize()",
                 sqlite3_errstr(rc));
        return -1;
    }
    return 0;
}

/* -------------------------------------------------------------- settings */

void memacct_set_thread_tenant(uint32_t tenant)
{
    me.slot = slot_of(tenant);
    me.refused = false;
    arm_exit_flush();
}

uint32_t memacct_thread_tenant(void) { return me.slot == SERVER_SLOT ? PL_TENANT_NONE : me.slot; }

void memacct_set_quota(uint32_t tenant, uint64_t bytes)
{
    atomic_store_explicit(&acct.quota[slot_of(tenant)], bytes, memory_order_relaxed);
}

void memacct_set_limit(uint64_t bytes) { atomic_store_explicit(&acct.limit, bytes, memory_order_relaxed); }

void memacct_set_ntenants(uint32_t n) { atomic_store_explicit(&acct.ntenants, n, memory_order_relaxed); }

bool memacct_charge(uint32_t tenant, uint64_t bytes, enum pl_mem_kind kind)
{
    uint32_t slot = slot_of(tenant);
    if (!charge(slot, (int64_t)bytes, kind))
        return false;
    if (kind == PL_MEM_FRAMES)
        atomic_fetch_add_explicit(&acct.frame_bytes[slot], (int64_t)bytes, memory_order_relaxed);
    return true;
}

void memacct_release(uint32_t tenant, uint64_t bytes, enum pl_mem_kind kind)
{
    uint32_t slot = slot_of(tenant);
    credit(slot, (int64_t)bytes);
    if (kind == PL_MEM_FRAMES)
        atomic_fetch_sub_explicit(&acct.frame_bytes[slot], (int64_t)bytes, memory_order_relaxed);
}

bool memacct_take_refusal(void)
{
    bool r = me.refused;
    me.refused = false;
    return r;
}

/* --------------------------------------------------------------- hooks */

int memacct_register_hooks(pl_runtime *rt, char *err, size_t errlen)
{
#ifdef PLIANT_NO_HOOKS
    (void)rt, (void)err, (void)errlen;
    return 0;
#else
    static const struct pl_hook_field fields[] = {
        HOOKREG_FIELD(struct pl_mem_charge_ctx, tenant),       HOOKREG_FIELD(struct pl_mem_charge_ctx, kind),
        HOOKREG_FIELD(struct pl_mem_charge_ctx, request),      HOOKREG_FIELD(struct pl_mem_charge_ctx, tenant_bytes),
        HOOKREG_FIELD(struct pl_mem_charge_ctx, tenant_quota), HOOKREG_FIELD(struct pl_mem_charge_ctx, total_bytes),
        HOOKREG_FIELD(struct pl_mem_charge_ctx, total_limit),  HOOKREG_FIELD(struct pl_mem_charge_ctx, ntenants),
    };
    return hookreg_register(rt, "mem_charge", sizeof(struct pl_mem_charge_ctx), fields,
                            sizeof fields / sizeof fields[0], PL_MEM_REFUSE, &charge_hook, err, errlen);
#endif
}

void memacct_unregister_hooks(void) { atomic_store_explicit(&charge_hook, NULL, memory_order_release); }

pl_hook *memacct_hook(void) { return atomic_load_explicit(&charge_hook, memory_order_acquire); }

/* ---------------------------------------------------------------- stats */

void memacct_stats(struct memacct_stats *out)
{
    uint64_t refusals = 0;
    for (uint32_t s = 0; s < SLOTS; s++)
        refusals += atomic_load_explicit(&acct.refusals[s], memory_order_relaxed);
    *out = (struct memacct_stats){
        .bytes = atomic_load_explicit(&acct.total, memory_order_relaxed),
        .peak = atomic_load_explicit(&acct.total_peak, memory_order_relaxed),
        .limit = atomic_load_explicit(&acct.limit, memory_order_relaxed),
        .refusals = refusals,
        .checks = atomic_load_explicit(&acct.checks, memory_order_relaxed),
        .hook_fallbacks = atomic_load_explicit(&acct.fallbacks, memory_order_relaxed),
    };
}

int memacct_tenant_stats(uint32_t tenant, struct memacct_tenant_stats *out)
{
    if (tenant != PL_TENANT_NONE && tenant >= MEMACCT_MAX_TENANTS)
        return -1;
    uint32_t s = slot_of(tenant);
    *out = (struct memacct_tenant_stats){
        .bytes = atomic_load_explicit(&acct.bytes[s], memory_order_relaxed),
        .frame_bytes = atomic_load_explicit(&acct.frame_bytes[s], memory_order_relaxed),
        .peak = atomic_load_explicit(&acct.peak[s], memory_order_relaxed),
        .quota = atomic_load_explicit(&acct.quota[s], memory_order_relaxed),
        .refusals = atomic_load_explicit(&acct.refusals[s], memory_order_relaxed),
    };
    return 0;
}
