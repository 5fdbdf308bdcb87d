/*
 * Verification cache: a program the runtime already proved safe, loaded
 * again with identical inputs, is not verified again. Reloads often push a
 * policy the runtime has seen — a rollback, two versions alternating, the
 * same object re-pushed — and verification is most of a reload's cost.
 *
 * A hit needs a byte-for-byte match of everything the verifier reads, kept
 * in the entry itself (a hash only picks the bucket, so no collision can
 * stand in for a proof):
 *  - the hook (its spec is fixed at registration) and, without a hook, the
 *    context size;
 *  - the instructions, with map references normalised to (kind, map index,
 *    offset): the pointers patched into them differ from load to load;
 *  - every map's type, key and value size, entry count and flags;
 *  - the contents of read-only maps (string arguments are checked against
 *    them).
 * Helpers are part of the runtime and never change once registered. Only
 * successful verifications are cached; a verbose-mode load (verifier_log)
 * always verifies, since its trace is what was asked for.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_MAX_ENTRIES 64
#define MAP_RDONLY_PROG (1u << 7)

struct pl_verify_cache_entry {
    struct pl_verify_cache_entry *next; /* most recently used first */
    uint64_t hash;
    struct pl_verifier_stats stats;     /* of the verification it saved */
    size_t len;
    unsigned char key[];
};

struct key_buf {
    unsigned char *data;
    size_t len, cap;
    bool oom;
};

static void put(struct key_buf *k, const void *p, size_t n)
{
    if (k->oom)
        return;
    if (k->len + n > k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 1024;
        while (cap < k->len + n)
            cap *= 2;
        unsigned char *grown = realloc(k->data, cap);
        if (!grown) {
            k->oom = true;
            return;
        }
        k->data = grown;
        k->cap = cap;
    }
    memcpy(k->data + k->len, p, n);
    k->len += n;
}

static void build_key(const pl_prog *p, const struct pl_verify_opts *o, struct key_buf *k)
{
    put(k, &o->hook, sizeof(o->hook));
    put(k, &o->ctx_size, sizeof(o->ctx_size));
    put(k, &p->ninsns, sizeof(p->ninsns));
    for (uint32_t i = 0; i < p->ninsns; i++) {
        struct pl_insn in = p->insns[i];
        const struct pl_insn_aux *a = &p->aux[i];
        if (in.code == BPF_LDDW && a->kind != PL_INSN_PLAIN && i + 1 < p->ninsns) {
            struct pl_insn hi = p->insns[i + 1];
            in.imm = (int32_t)a->map;
            hi.imm = (int32_t)a->offset;
            in.src = a->kind; /* distinct from plain constants */
            put(k, &in, sizeof(in));
            put(k, &hi, sizeof(hi));
            i++;
            continue;
        }
        put(k, &in, sizeof(in));
    }
    put(k, &p->nmaps, sizeof(p->nmaps));
    for (uint32_t m = 0; m < p->nmaps; m++) {
        const struct pl_map_spec *s = pl_map_info(p->maps[m]);
        uint32_t shape[5] = {s->type, s->key_size, s->value_size, s->max_entries, s->flags};
        put(k, shape, sizeof(shape));
        if ((s->flags & MAP_RDONLY_PROG) && s->type == PL_MAP_ARRAY && s->max_entries == 1)
            put(k, pl_map_value_base(p->maps[m]), s->value_size);
    }
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

int pl_verify_cached(pl_prog *prog, const struct pl_verify_opts *opts, pl_error *err)
{
    pl_runtime *rt = prog->rt;
    if (opts->log || (rt->opts.flags & PL_RUNTIME_NO_VERIFY_CACHE))
        return pl_verify(prog, opts, err);
    struct key_buf k = {0};
    build_key(prog, opts, &k);
    if (k.oom) {
        free(k.data);
        return pl_verify(prog, opts, err);
    }
    uint64_t h = fnv1a(k.data, k.len);

    pthread_mutex_lock(&rt->vcache_lock);
    struct pl_verify_cache_entry **link = &rt->vcache, *e;
    while ((e = *link) && !(e->hash == h && e->len == k.len && !memcmp(e->key, k.data, k.len)))
        link = &e->next;
    if (e) {
        *link = e->next; /* move to the front */
        e->next = rt->vcache;
        rt->vcache = e;
        prog->vstats = e->stats;
        prog->vstats.cached = true;
    }
    pthread_mutex_unlock(&rt->vcache_lock);
    if (e) {
        free(k.data);
        return 0;
    }

    int rc = pl_verify(prog, opts, err);
    struct pl_verify_cache_entry *n = rc ? NULL : malloc(sizeof(*n) + k.len);
    if (n) {
        n->hash = h;
        n->stats = prog->vstats;
        n->len = k.len;
        memcpy(n->key, k.data, k.len);
        pthread_mutex_lock(&rt->vcache_lock);
        n->next = rt->vcache;
        rt->vcache = n;
        /* Keep the most recent entries only. */
        uint32_t count = 0;
        for (struct pl_verify_cache_entry **l = &rt->vcache; *l; l = &(*l)->next) {
            if (++count > CACHE_MAX_ENTRIES) {
                struct pl_verify_cache_entry *old = *l;
                *l = NULL;
                while (old) {
                    struct pl_verify_cache_entry *next = old->next;
                    free(old);
                    old = next;
                }
                break;
            }
        }
        pthread_mutex_unlock(&rt->vcache_lock);
    }
    free(k.data);
    return rc;
}

void pl_verify_cache_free(pl_runtime *rt)
{
    for (struct pl_verify_cache_entry *e = rt->vcache, *next; e; e = next) {
        next = e->next;
        free(e);
    }
    rt->vcache = NULL;
}
