/* The wal_checkpoint hookpoint (see checkpoint.h). */
#include "checkpoint.h"

#include <stdatomic.h>
#include <time.h>

#include <pliant_storage.h>

#include "hookreg.h"

static struct {
    _Atomic uint32_t autocheckpoint;
    _Atomic uint64_t start_ns;
    /* Monotonic time of each database's last checkpoint (0: none yet). */
    _Atomic uint64_t last_ns[CKPT_MAX_TENANTS];
    _Atomic(ckpt_load_fn) load;
    void *_Atomic load_user;
} cp = {.autocheckpoint = 1000};

static struct {
    _Atomic uint64_t commits, by_mode[5], busy, errors, hook_fallbacks;
} st;

static _Atomic(pl_hook *) ckpt_hookp;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void ckpt_set_autocheckpoint(uint32_t frames)
{
    atomic_store(&cp.autocheckpoint, frames);
    atomic_store(&cp.start_ns, now_ns());
}

void ckpt_set_load_source(ckpt_load_fn fn, void *user)
{
    atomic_store(&cp.load_user, user);
    atomic_store(&cp.load, fn);
}

static uint32_t slot_of(uint32_t tenant) { return tenant < CKPT_MAX_TENANTS ? tenant : CKPT_MAX_TENANTS - 1; }

#ifndef PLIANT_NO_HOOKS
/* The policy's answer, or `builtin` when nothing valid came back. */
static int ask_policy(pl_hook *h, uint32_t slot, int frames, uint32_t autockpt, int builtin)
{
    struct pl_wal_checkpoint_ctx c = {.tenant = slot, .wal_frames = (uint32_t)frames, .autocheckpoint = autockpt};
    uint64_t last = atomic_load_explicit(&cp.last_ns[slot], memory_order_relaxed);
    if (!last)
        last = atomic_load_explicit(&cp.start_ns, memory_order_relaxed);
    uint64_t now = now_ns();
    c.since_ckpt_ns = now > last ? now - last : 0;
    ckpt_load_fn load = atomic_load_explicit(&cp.load, memory_order_acquire);
    if (load)
        load(atomic_load_explicit(&cp.load_user, memory_order_relaxed), &c.running, &c.queued, &c.workers);
    uint64_t ret;
    int rc = pl_hook_run(h, &c, &ret);
    if (rc == PL_HOOK_RAN)
        return (int)ret; /* the JIT checked the range */
    if (rc == PL_HOOK_FAULT)
        atomic_fetch_add_explicit(&st.hook_fallbacks, 1, memory_order_relaxed);
    return builtin;
}
#endif

/* sqlite3_wal_hook callback: after each commit, on the committing thread,
 * with the connection's locks released (as SQLite's own auto-checkpoint). */
static int on_commit(void *arg, sqlite3 *db, const char *zdb, int frames)
{
    uint32_t slot = (uint32_t)(uintptr_t)arg;
    atomic_fetch_add_explicit(&st.commits, 1, memory_order_relaxed);
    uint32_t autockpt = atomic_load_explicit(&cp.autocheckpoint, memory_order_relaxed);
    int mode = autockpt && frames >= 0 && (uint32_t)frames >= autockpt ? PL_CKPT_PASSIVE : PL_CKPT_NONE;
#ifndef PLIANT_NO_HOOKS
    pl_hook *h = atomic_load_explicit(&ckpt_hookp, memory_order_acquire);
    if (h && pl_hook_is_attached(h))
        mode = ask_policy(h, slot, frames, autockpt, mode);
#endif
    if (mode == PL_CKPT_NONE)
        return SQLITE_OK;
    static const int sqlite_mode[] = {
        [PL_CKPT_PASSIVE] = SQLITE_CHECKPOINT_PASSIVE, [PL_CKPT_FULL] = SQLITE_CHECKPOINT_FULL,
        [PL_CKPT_RESTART] = SQLITE_CHECKPOINT_RESTART, [PL_CKPT_TRUNCATE] = SQLITE_CHECKPOINT_TRUNCATE,
    };
    int rc = sqlite3_wal_checkpoint_v2(db, zdb, sqlite_mode[mode], NULL, NULL);
    atomic_fetch_add_explicit(&st.by_mode[mode], 1, memory_order_relaxed);
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        atomic_fetch_add_explicit(&st.busy, 1, memory_order_relaxed);
    else if (rc != SQLITE_OK)
        atomic_fetch_add_explicit(&st.errors, 1, memory_order_relaxed);
    atomic_store_explicit(&cp.last_ns[slot], now_ns(), memory_order_relaxed);
    /* The commit stands whatever the checkpoint did: an error here would
     * make SQLite report the committed statement as failed. */
    return SQLITE_OK;
}

void ckpt_attach(sqlite3 *db, uint32_t tenant)
{
    sqlite3_wal_hook(db, on_commit, (void *)(uintptr_t)slot_of(tenant));
}

int ckpt_register_hooks(pl_runtime *rt, char *err, size_t errlen)
{
#ifdef PLIANT_NO_HOOKS
    (void)rt, (void)err, (void)errlen;
    return 0;
#else
    static const struct pl_hook_field fields[] = {
        HOOKREG_FIELD(struct pl_wal_checkpoint_ctx, tenant),
        HOOKREG_FIELD(struct pl_wal_checkpoint_ctx, wal_frames),
        HOOKREG_FIELD(struct pl_wal_checkpoint_ctx, autocheckpoint),
        HOOKREG_FIELD(struct pl_wal_checkpoint_ctx, workers),
        HOOKREG_FIELD(struct pl_wal_checkpoint_ctx, since_ckpt_ns),
        HOOKREG_FIELD(struct pl_wal_checkpoint_ctx, running),
        HOOKREG_FIELD(struct pl_wal_checkpoint_ctx, queued),
    };
    return hookreg_register(rt, "wal_checkpoint", sizeof(struct pl_wal_checkpoint_ctx), fields,
                            sizeof fields / sizeof fields[0], PL_CKPT_TRUNCATE, &ckpt_hookp, err, errlen);
#endif
}

void ckpt_unregister_hooks(void) { atomic_store_explicit(&ckpt_hookp, NULL, memory_order_release); }

pl_hook *ckpt_hook(void) { return atomic_load_explicit(&ckpt_hookp, memory_order_acquire); }

void ckpt_stats(struct ckpt_stats *out)
{
    *out = (struct ckpt_stats){
        .commits = atomic_load_explicit(&st.commits, memory_order_relaxed),
        .busy = atomic_load_explicit(&st.busy, memory_order_relaxed),
        .errors = atomic_load_explicit(&st.errors, memory_order_relaxed),
        .hook_fallbacks = atomic_load_explicit(&st.hook_fallbacks, memory_order_relaxed),
    };
    for (int m = 0; m < 5; m++)
        out->by_mode[m] = atomic_load_explicit(&st.by_mode[m], memory_order_relaxed);
}
