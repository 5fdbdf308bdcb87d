/* The buffer pool's hookpoints (page_hash, page_fetch, page_unpin,
 * page_evict) and the helpers their programs call to keep frames on lists
 * (contract in sdk/include/pliant_pcache.h).
 *
 * Each pch_* function builds its hook's context, runs the program, counts
 * the run (invocations, faults, fallbacks) and checks the answer against
 * the contract before engine/pcache.c acts on it; anything it cannot use
 * becomes the built-in answer.
 *
 * The helpers touch pool state directly: they may run only while this
 * thread runs a pool hook under the pool mutex, which tls_hook records (a
 * program for these hooks run any other way gets PL_PAGE_EPERM). Frame
 * handles are checked against the slot table on every call. */
#include "pcache_pool.h"

#include <stdio.h>
#include <string.h>

#ifndef PLIANT_NO_HOOKS

/* Stands in for hooks not registered (see pcache_pool.h): all zero, so
 * pl_hook_is_attached() says no. Never given to any other runtime call:
 * pcache_hook() reports it as NULL. */
static struct pl_hook_head dormant;
#define DORMANT ((pl_hook *)(void *)&dormant)

_Atomic(pl_hook *) pch_hooks[PCACHE_HOOKS] = {DORMANT, DORMANT, DORMANT, DORMANT};

static const char *const hook_names[PCACHE_HOOKS] = {
    [PCACHE_HOOK_HASH] = "page_hash",
    [PCACHE_HOOK_FETCH] = "page_fetch",
    [PCACHE_HOOK_UNPIN] = "page_unpin",
    [PCACHE_HOOK_EVICT] = "page_evict",
};

#define NO_HOOK (-1)
/* The pool hook this thread is running under the pool mutex, or NO_HOOK. */
static _Thread_local int tls_hook = NO_HOOK;

/* A fault, or an answer the contract refuses: counted, and the built-in
 * decides. */
static void refuse_answer(enum pcache_hook id)
{
    pool.hook[id].faults++;
    pool.hook[id].fallbacks++;
}

/* Runs an attached program and counts the run. */
static int run(enum pcache_hook id, pl_hook *h, void *ctx, uint64_t *ret)
{
    tls_hook = (int)id;
    int rc = pl_hook_run(h, ctx, ret);
    tls_hook = NO_HOOK;
    if (rc != PL_HOOK_DEFAULT)
        pool.hook[id].invocations++;
    if (rc == PL_HOOK_FAULT)
        refuse_answer(id);
    return rc;
}

static uint32_t list_of(const struct pc_frame *f) { return f->plist == PC_NO_LIST ? PL_LIST_NONE : f->plist; }

/* ------------------------------------------------------------- hooks */

int pch_hash(pl_hook *h, const struct pc_cache *c, uint32_t key, uint64_t *hash)
{
    /* tenant and id never change after the cache is created: no lock. */
    struct pl_page_hash_ctx ctx = {.tenant = c->tenant, .cache_id = c->id, .pgno = key};
    return pl_hook_run(h, &ctx, hash);
}

void pch_count_hash(int rc)
{
    pool.hook[PCACHE_HOOK_HASH].invocations++;
    if (rc == PL_HOOK_FAULT)
        refuse_answer(PCACHE_HOOK_HASH);
}

void pch_fetch_hit(pl_hook *h, struct pc_frame *f, int create, bool was_pinned)
{
    struct pl_page_fetch_ctx ctx = {
        .frame = frame_handle(f), .data = f->data, .last_access = f->last_access, .now = pool.clock,
        .tenant = f->cache->tenant, .cache_id = f->cache->id, .pgno = f->key, .create = (uint32_t)create,
        .hit = 1, .pinned = was_pinned, .access_count = f->access_count, .list = list_of(f),
    };
    uint64_t ret;
    run(PCACHE_HOOK_FETCH, h, &ctx, &ret); /* the answer means nothing on a hit */
}

int pch_fetch_miss(pl_hook *h, struct pc_cache *c, uint32_t key, int create)
{
    struct pl_page_fetch_ctx ctx = {
        .now = pool.clock, .tenant = c->tenant, .cache_id = c->id, .pgno = key, .create = (uint32_t)create,
        .list = PL_LIST_NONE,
    };
    uint64_t ret = PL_FETCH_ADMIT;
    if (run(PCACHE_HOOK_FETCH, h, &ctx, &ret) != PL_HOOK_RAN)
        return PL_FETCH_ADMIT;
    /* The JIT checked the range; declining is for the easy fetch only. */
    if (ret == PL_FETCH_DECLINE && create != 1) {
        refuse_answer(PCACHE_HOOK_FETCH);
        return PL_FETCH_ADMIT;
    }
    return (int)ret;
}

int pch_unpin(pl_hook *h, struct pc_frame *f, uint64_t now)
{
    struct pl_page_unpin_ctx ctx = {
        .frame = frame_handle(f), .data = f->data, .last_access = f->last_access, .now = now,
        .tenant = f->cache->tenant, .cache_id = f->cache->id, .pgno = f->key, .access_count = f->access_count,
        .list = list_of(f),
    };
    uint64_t ret = PL_UNPIN_KEEP;
    return run(PCACHE_HOOK_UNPIN, h, &ctx, &ret) == PL_HOOK_RAN ? (int)ret : PL_UNPIN_KEEP;
}

/* The frame a mark names if it can still be evicted: the same page, not
 * pinned (unpinned frames of purgeable caches are exactly those on the
 * pool list). */
static struct pc_frame *evictable(uint64_t handle)
{
    uint32_t slot = (uint32_t)handle;
    if (slot >= pool.nslots || pool.slots[slot].gen != (uint32_t)(handle >> 32))
        return NULL;
    struct pc_frame *f = pool.slots[slot].frame;
    return f && f->lru.next ? f : NULL;
}

static struct pc_frame *next_marked(void)
{
    while (pool.next_mark < pool.nmarks) {
        struct pc_frame *f = evictable(pool.marks[pool.next_mark++]);
        if (f) {
            pool.hook_victims++;
            return f;
        }
    }
    return NULL;
}

/* The attachment a hook runs now (its identity changes with every attach,
 * replace or detach), for noticing a policy change. */
static const void *attachment(enum pcache_hook id)
{
    const struct pl_hook_head *h = (const struct pl_hook_head *)atomic_load(&pch_hooks[id]);
    return atomic_load_explicit(&h->active, memory_order_relaxed);
}

/* A new policy (page_evict or page_unpin program) starts from a clean
 * slate: every frame leaves the lists and loses the policy word the
 * previous one kept, and the unpinned frames are handed to the new
 * page_unpin program oldest first, as if released again in the order
 * they were. Without this the frames cached before the swap sit on none of
 * the new policy's lists, out of its reach, while the pages it does see
 * are the few released since — it would evict those and keep the stale
 * ones until they happened to be used again. */
static void adopt_frames(void)
{
    for (uint32_t i = 0; i < pool.nslots; i++) {
        struct pc_frame *f = pool.slots[i].frame;
        if (f) {
            plist_remove(f);
            f->data = 0;
        }
    }
    pl_hook *unpin = pch_attached(PCACHE_HOOK_UNPIN);
    for (struct pc_link *l = unpin ? pool.lru.prev : &pool.lru; l != &pool.lru; l = l->prev) {
        struct pc_frame *f = PC_CONTAINER(l, lru);
        if (f->cache->purgeable)
            (void)pch_unpin(unpin, f, f->last_access); /* where it goes in the pool list stays as it is */
    }
    pool.adoptions++;
}

void pch_policy_check(void)
{
    const void *evict_now = attachment(PCACHE_HOOK_EVICT), *unpin_now = attachment(PCACHE_HOOK_UNPIN);
    if (__builtin_expect(evict_now != pool.seen_evict || unpin_now != pool.seen_unpin, 0)) {
        pool.seen_evict = evict_now;
        pool.seen_unpin = unpin_now;
        adopt_frames();
    }
}

struct pc_frame *pch_victim(uint32_t tenant)
{
    struct pc_frame *f = next_marked();
    if (f)
        return f;
    pool.nmarks = pool.next_mark = 0;
    pl_hook *h = pch_attached(PCACHE_HOOK_EVICT);
    if (!h || !pool.nlru)
        return NULL;
    pch_policy_check();
    struct pl_page_evict_ctx ctx = {
        .now = pool.clock, .tenant = tenant, .frames = pool.frames > UINT32_MAX ? UINT32_MAX : (uint32_t)pool.frames,
        .unpinned = pool.nlru,
    };
    memcpy(ctx.list_len, pool.list_len, sizeof(ctx.list_len));
    uint64_t ret;
    int rc = run(PCACHE_HOOK_EVICT, h, &ctx, &ret);
    if (rc == PL_HOOK_FAULT)
        pool.nmarks = 0; /* a run that faulted decides nothing */
    f = next_marked();
    if (!f && rc == PL_HOOK_RAN)
        pool.hook[PCACHE_HOOK_EVICT].fallbacks++;
    return f;
}

/* ----------------------------------------------------------- helpers */

#define ERR(code) ((uint64_t)(int64_t)(code))

/* The frame a handle names, or a PL_PAGE_E* code (counted). */
static int resolve(uint64_t handle, struct pc_frame **out)
{
    uint32_t slot = (uint32_t)handle, gen = (uint32_t)(handle >> 32);
    int rc = 0;
    if (gen == 0 || slot >= pool.nslots)
        rc = PL_PAGE_EINVAL;
    else if (pool.slots[slot].gen != gen || !pool.slots[slot].frame)
        rc = PL_PAGE_ESTALE;
    else if (!pool.slots[slot].frame->cache->purgeable)
        rc = PL_PAGE_EPERM;
    if (rc) {
        pool.handle_errors++;
        return rc;
    }
    *out = pool.slots[slot].frame;
    return 0;
}

/* What every frame helper checks first: it runs inside a pool hook, and
 * the handle names a frame it may touch. */
static int hook_frame(uint64_t handle, struct pc_frame **out)
{
    return tls_hook == NO_HOOK ? PL_PAGE_EPERM : resolve(handle, out);
}

static uint64_t h_list_move(uint64_t frame, uint64_t list, uint64_t where, uint64_t r4, uint64_t r5)
{
    (void)r4, (void)r5;
    struct pc_frame *f;
    if (list >= PL_PAGE_LISTS || where > PL_LIST_TAIL)
        return ERR(list == PL_LIST_POOL ? PL_PAGE_EPERM : PL_PAGE_EINVAL);
    int rc = hook_frame(frame, &f);
    if (rc)
        return ERR(rc);
    plist_remove(f);
    struct pc_link *s = &pool.lists[list];
    link_after(where == PL_LIST_TAIL ? s->prev : s, &f->plink);
    f->plist = (uint8_t)list;
    pool.list_len[list]++;
    return 0;
}

static uint64_t h_list_remove(uint64_t frame, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
    (void)r2, (void)r3, (void)r4, (void)r5;
    struct pc_frame *f;
    int rc = hook_frame(frame, &f);
    if (rc)
        return ERR(rc);
    if (f->plist == PC_NO_LIST)
        return ERR(PL_PAGE_ENOENT);
    plist_remove(f);
    return 0;
}

static uint64_t h_set_data(uint64_t frame, uint64_t data, uint64_t r3, uint64_t r4, uint64_t r5)
{
    (void)r3, (void)r4, (void)r5;
    struct pc_frame *f;
    int rc = hook_frame(frame, &f);
    if (rc)
        return ERR(rc);
    f->data = data;
    return 0;
}

static uint64_t h_list_scan(uint64_t list, uint64_t flags, uint64_t start, uint64_t out, uint64_t size)
{
    /* The verifier counts the whole buffer as written: no byte of it may
     * keep what the stack held before. */
    struct pl_page_info *info = (struct pl_page_info *)(uintptr_t)out;
    memset(info, 0, size);
    if (tls_hook == NO_HOOK)
        return ERR(PL_PAGE_EPERM);
    if (list > PL_LIST_POOL || (flags & ~(uint64_t)(PL_SCAN_FROM_HEAD | PL_SCAN_SKIP_PINNED | PL_SCAN_AFTER)))
        return ERR(PL_PAGE_EINVAL);
    bool pool_list = list == PL_LIST_POOL, forward = flags & PL_SCAN_FROM_HEAD;
    struct pc_link *end = pool_list ? &pool.lru : &pool.lists[list], *l;
    if (start) {
        struct pc_frame *f;
        int rc = resolve(start, &f);
        if (rc)
            return ERR(rc);
        if (pool_list ? !f->lru.next : f->plist != list)
            return ERR(PL_PAGE_ENOENT);
        l = pool_list ? &f->lru : &f->plink;
        if (flags & PL_SCAN_AFTER)
            l = forward ? l->next : l->prev;
    } else {
        l = forward ? end->next : end->prev;
    }
    uint64_t n = size / sizeof(*info), got = 0;
    for (uint32_t visits = 0; l != end && got < n && visits < PL_SCAN_VISIT_MAX;
         visits++, l = forward ? l->next : l->prev) {
        const struct pc_frame *f = pool_list ? PC_CONTAINER(l, lru) : PC_CONTAINER(l, plink);
        if ((flags & PL_SCAN_SKIP_PINNED) && f->pinned)
            continue;
        info[got++] = (struct pl_page_info){
            .frame = frame_handle(f), .data = f->data, .last_access = f->last_access, .tenant = f->cache->tenant,
            .cache_id = f->cache->id, .pgno = f->key, .access_count = f->access_count, .list = list_of(f),
            .pinned = f->pinned,
        };
    }
    return got;
}

static uint64_t h_evict_mark(uint64_t frame, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
    (void)r2, (void)r3, (void)r4, (void)r5;
    if (tls_hook != PCACHE_HOOK_EVICT)
        return ERR(PL_PAGE_EPERM);
    struct pc_frame *f;
    int rc = resolve(frame, &f);
    if (!rc && !f->lru.next)
        rc = PL_PAGE_EBUSY; /* pinned: in use, or dirty */
    for (uint32_t i = 0; !rc && i < pool.nmarks; i++)
        if (pool.marks[i] == frame)
            rc = PL_PAGE_EEXIST;
    if (!rc && pool.nmarks == PL_EVICT_MARKS)
        rc = PL_PAGE_ENOSPC;
    if (rc) {
        pool.hook[PCACHE_HOOK_EVICT].faults++;
        return ERR(rc);
    }
    pool.marks[pool.nmarks++] = frame;
    return 0;
}

enum {
    H_LIST_MOVE = 700,
    H_LIST_REMOVE,
    H_LIST_SCAN,
    H_SET_DATA,
    H_EVICT_MARK,
};

static const struct pl_helper_spec helpers[] = {
    {H_LIST_MOVE, "pl_page_list_move", h_list_move, {PL_ARG_SCALAR, PL_ARG_SCALAR, PL_ARG_SCALAR}, PL_RET_SCALAR, 0,
     0},
    {H_LIST_REMOVE, "pl_page_list_remove", h_list_remove, {PL_ARG_SCALAR}, PL_RET_SCALAR, 0, 0},
    {H_LIST_SCAN, "pl_page_list_scan", h_list_scan,
     {PL_ARG_SCALAR, PL_ARG_SCALAR, PL_ARG_SCALAR, PL_ARG_MEM_UNINIT, PL_ARG_MEM_SIZE}, PL_RET_SCALAR, 0, 0},
    {H_SET_DATA, "pl_page_set_data", h_set_data, {PL_ARG_SCALAR, PL_ARG_SCALAR}, PL_RET_SCALAR, 0, 0},
    {H_EVICT_MARK, "pl_page_evict_mark", h_evict_mark, {PL_ARG_SCALAR}, PL_RET_SCALAR, 0, 0},
};

/* ------------------------------------------------------ registration */

#define RD(type, member)                                                                                         \
    {                                                                                                            \
        #member, (uint32_t)offsetof(type, member), (uint32_t)sizeof(((type *)0)->member), PL_FIELD_READ,        \
            PL_FIELD_SCALAR                                                                                      \
    }

static const struct pl_hook_field hash_fields[] = {
    RD(struct pl_page_hash_ctx, tenant), RD(struct pl_page_hash_ctx, cache_id), RD(struct pl_page_hash_ctx, pgno)};
static const struct pl_hook_field fetch_fields[] = {
    RD(struct pl_page_fetch_ctx, frame),       RD(struct pl_page_fetch_ctx, data),
    RD(struct pl_page_fetch_ctx, last_access), RD(struct pl_page_fetch_ctx, now),
    RD(struct pl_page_fetch_ctx, tenant),      RD(struct pl_page_fetch_ctx, cache_id),
    RD(struct pl_page_fetch_ctx, pgno),        RD(struct pl_page_fetch_ctx, create),
    RD(struct pl_page_fetch_ctx, hit),         RD(struct pl_page_fetch_ctx, pinned),
    RD(struct pl_page_fetch_ctx, access_count), RD(struct pl_page_fetch_ctx, list),
};
static const struct pl_hook_field unpin_fields[] = {
    RD(struct pl_page_unpin_ctx, frame),  RD(struct pl_page_unpin_ctx, data),
    RD(struct pl_page_unpin_ctx, last_access), RD(struct pl_page_unpin_ctx, now),
    RD(struct pl_page_unpin_ctx, tenant), RD(struct pl_page_unpin_ctx, cache_id),
    RD(struct pl_page_unpin_ctx, pgno),   RD(struct pl_page_unpin_ctx, access_count),
    RD(struct pl_page_unpin_ctx, list),
};

/* Policies keep state in maps and frames on lists; nothing else. */
static const uint32_t list_helpers[] = {
    PL_HELPER_MAP_LOOKUP_ELEM, PL_HELPER_MAP_UPDATE_ELEM, PL_HELPER_MAP_DELETE_ELEM,
    H_LIST_MOVE, H_LIST_REMOVE, H_LIST_SCAN, H_SET_DATA, H_EVICT_MARK,
};
#define N(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

int pcache_register_hooks(pl_runtime *rt, char *err, size_t errlen)
{
    pl_error perr = {0};
    for (uint32_t i = 0; i < N(helpers); i++)
        if (pl_helper_register(rt, &helpers[i], &perr)) {
            snprintf(err, errlen, "cannot register buffer-pool helper %s: %s", helpers[i].name, perr.msg);
            return -1;
        }
    /* page_evict's list lengths: one field per element, named like C; the
     * runtime copies the names. */
    struct pl_hook_field evict_fields[4 + PL_PAGE_LISTS] = {
        RD(struct pl_page_evict_ctx, now), RD(struct pl_page_evict_ctx, tenant),
        RD(struct pl_page_evict_ctx, frames), RD(struct pl_page_evict_ctx, unpinned)};
    char names[PL_PAGE_LISTS][16];
    for (uint32_t i = 0; i < PL_PAGE_LISTS; i++) {
        snprintf(names[i], sizeof(names[i]), "list_len[%u]", i);
        evict_fields[4 + i] = (struct pl_hook_field){
            names[i], (uint32_t)(offsetof(struct pl_page_evict_ctx, list_len) + i * sizeof(uint32_t)),
            sizeof(uint32_t), PL_FIELD_READ, PL_FIELD_SCALAR};
    }
    /* Return ranges let the JIT check answers itself (no validator call);
     * the pool checks what depends on the context (DECLINE vs create). The
     * mark helper is for page_evict alone: the others' lists end before it. */
    const struct pl_hook_spec specs[PCACHE_HOOKS] = {
        [PCACHE_HOOK_HASH] = {.name = hook_names[PCACHE_HOOK_HASH], .ctx_size = sizeof(struct pl_page_hash_ctx),
                              .fields = hash_fields, .nfields = N(hash_fields)},
        [PCACHE_HOOK_FETCH] = {.name = hook_names[PCACHE_HOOK_FETCH], .ctx_size = sizeof(struct pl_page_fetch_ctx),
                               .fields = fetch_fields, .nfields = N(fetch_fields), .helpers = list_helpers,
                               .nhelpers = N(list_helpers) - 1, .has_ret_range = true, .ret_min = PL_FETCH_ADMIT,
                               .ret_max = PL_FETCH_DECLINE},
        [PCACHE_HOOK_UNPIN] = {.name = hook_names[PCACHE_HOOK_UNPIN], .ctx_size = sizeof(struct pl_page_unpin_ctx),
                               .fields = unpin_fields, .nfields = N(unpin_fields), .helpers = list_helpers,
                               .nhelpers = N(list_helpers) - 1, .has_ret_range = true, .ret_min = PL_UNPIN_KEEP,
                               .ret_max = PL_UNPIN_DROP},
        [PCACHE_HOOK_EVICT] = {.name = hook_names[PCACHE_HOOK_EVICT], .ctx_size = sizeof(struct pl_page_evict_ctx),
                               .fields = evict_fields, .nfields = N(evict_fields), .helpers = list_helpers,
                               .nhelpers = N(list_helpers)},
    };
    pl_hook *h[PCACHE_HOOKS];
    for (int i = 0; i < PCACHE_HOOKS; i++)
        if (pl_hook_register(rt, &specs[i], &h[i], &perr)) {
            snprintf(err, errlen, "cannot register hook %s: %s", hook_names[i], perr.msg);
            return -1;
        }
    for (int i = 0; i < PCACHE_HOOKS; i++)
        atomic_store_explicit(&pch_hooks[i], h[i], memory_order_release);
    return 0;
}

void pcache_unregister_hooks(void)
{
    /* Taking the mutex waits out a fetch, unpin or eviction that loaded an
     * old handle; page_hash is the caller's to quiesce (see pcache.h). */
    pthread_mutex_lock(&pool.mu);
    for (int i = 0; i < PCACHE_HOOKS; i++)
        atomic_store_explicit(&pch_hooks[i], DORMANT, memory_order_release);
    pthread_mutex_unlock(&pool.mu);
}

pl_hook *pcache_hook(enum pcache_hook id)
{
    pl_hook *h = id < PCACHE_HOOKS ? atomic_load_explicit(&pch_hooks[id], memory_order_acquire) : NULL;
    return h == DORMANT ? NULL : h;
}

int pcache_attach_object(pl_object *obj, char *err, size_t errlen)
{
    pl_prog *progs[PCACHE_HOOKS] = {0};
    uint32_t n = pl_object_prog_count(obj);
    for (uint32_t i = 0; i < n; i++) {
        pl_prog *p = pl_object_prog(obj, i);
        const char *section = pl_prog_name(p);
        int id = -1;
        for (int k = 0; k < PCACHE_HOOKS; k++)
            if (!strncmp(section, "hook/", 5) && !strcmp(section + 5, hook_names[k]))
                id = k;
        if (id < 0) {
            snprintf(err, errlen, "program in section \"%s\" is for no buffer-pool hook (hook/page_hash, "
                                  "hook/page_fetch, hook/page_unpin, hook/page_evict)", section);
            return -1;
        }
        if (progs[id]) {
            snprintf(err, errlen, "two programs for hook %s: one per hook", hook_names[id]);
            return -1;
        }
        progs[id] = p;
    }
    if (!n) {
        snprintf(err, errlen, "the object holds no program");
        return -1;
    }
    /* In enum order, so page_evict comes last. */
    for (int k = 0; k < PCACHE_HOOKS; k++) {
        pl_hook *h = pcache_hook((enum pcache_hook)k);
        pl_error perr = {0};
        if (!progs[k])
            continue;
        if (!h) {
            snprintf(err, errlen, "the buffer pool's hooks are not registered (pcache_register_hooks)");
            return -1;
        }
        if (pl_hook_attach(h, progs[k], &perr)) {
            snprintf(err, errlen, "cannot attach %s: %s (load policies with PL_LOAD_HOOK_BY_SECTION)",
                     hook_names[k], perr.msg);
            return -1;
        }
    }
    return 0;
}

int pcache_attach_file(pl_runtime *rt, const char *path, char *err, size_t errlen)
{
    pl_object *obj = NULL;
    pl_error perr = {0};
    if (pl_object_open_file(rt, path, &(struct pl_object_opts){.flags = PL_LOAD_HOOK_BY_SECTION}, &obj, &perr)) {
        snprintf(err, errlen, "cannot load %s: %s", path, perr.msg);
        return -1;
    }
    int rc = pcache_attach_object(obj, err, errlen);
    /* The hooks hold their own references to the programs. */
    pl_object_close(obj);
    return rc;
}

void pcache_detach_all(void)
{
    for (int k = 0; k < PCACHE_HOOKS; k++) {
        pl_hook *h = pcache_hook((enum pcache_hook)k);
        if (h)
            pl_hook_detach(h, NULL);
    }
}

#else /* PLIANT_NO_HOOKS: every hookpoint compiled out */

int pcache_register_hooks(pl_runtime *rt, char *err, size_t errlen)
{
    (void)rt, (void)err, (void)errlen;
    return 0;
}
void pcache_unregister_hooks(void) {}
pl_hook *pcache_hook(enum pcache_hook id)
{
    (void)id;
    return NULL;
}
int pcache_attach_object(pl_object *obj, char *err, size_t errlen)
{
    (void)obj;
    snprintf(err, errlen, "this build has the buffer pool's hooks compiled out (PLIANT_HOOKS=0)");
    return -1;
}
int pcache_attach_file(pl_runtime *rt, const char *path, char *err, size_t errlen)
{
    (void)rt, (void)path;
    return pcache_attach_object(NULL, err, errlen);
}
void pcache_detach_all(void) {}

#endif

pl_hook *pcache_hook_page_evict(void) { return pcache_hook(PCACHE_HOOK_EVICT); }
