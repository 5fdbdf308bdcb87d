/*
 * Hash maps (BPF_MAP_TYPE_HASH) and LRU hash maps (BPF_MAP_TYPE_LRU_HASH).
 *
 * A fixed array of buckets (max_entries rounded up to a power of two, as in
 * the kernel: no resizing, so no resize pauses), each a singly linked list.
 *
 * Readers never lock: they walk the list with acquire loads inside an RCU
 * read-side section. Writers serialise per bucket with a spinlock, publish
 * with release stores and never modify an element a reader can reach: an
 * update links a freshly allocated element in place of the old one, so a
 * reader sees the old or the new value, never a mix. Unlinked elements keep
 * their next pointer (a reader standing on one can walk on) and are freed
 * with pl_rcu_defer once no reader can hold them.
 *
 * Elements are malloc'ed per insert rather than preallocated: because of the
 * deferred free a preallocated pool would need max_entries plus however many
 * elements are waiting for a grace period, and a replace could then fail
 * spuriously when the pool is momentarily dry. glibc's per-thread caches make
 * the allocation cheap, and the hot path — lookup — never allocates. The
 * memory bound is checked against the worst case at creation.
 *
 * LRU eviction approximates least-recently-used with CLOCK (second chance):
 * a lookup sets the element's referenced bit (a plain store, skipped when
 * already set, so hot elements cost readers no writes); an update that
 * replaces an element marks the replacement referenced; a new element starts
 * unreferenced. When an insert finds the map full it sweeps buckets from a
 * shared clock hand, clearing referenced bits, and evicts the first
 * unreferenced element it meets. An element is therefore evicted only after
 * the hand has passed it once without a lookup in between — recently used
 * elements survive, but the order among the unused ones is that of the
 * buckets, not of their last use.
 */
#include "internal.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

struct htab_elem {
    _Atomic(struct htab_elem *) next;
    uint32_t hash;
    _Atomic uint8_t referenced;
    uint64_t data[]; /* key, then the value at key_room: both 8-aligned */
};

struct htab_bucket {
    _Atomic(struct htab_elem *) head;
    pl_spinlock lock;
};

struct htab {
    pl_map map;
    /* Read by every lookup. */
    bool lru;
    uint32_t key_size, value_size, key_room;
    size_t elem_size;
    uint64_t mask; /* buckets - 1 */
    uint64_t seed;
    struct htab_bucket *buckets;
    /* Written by inserts and deletes: kept off the lookups' cache line. */
    _Alignas(PL_CACHELINE) _Atomic uint32_t count;
    _Atomic uint64_t clock_hand;
};

static struct htab *as_htab(pl_map *map)
{
    return (struct htab *)map;
}

static inline unsigned char *elem_key(struct htab_elem *e)
{
    return (unsigned char *)e->data;
}

static inline void *elem_value(const struct htab *h, struct htab_elem *e)
{
    return (unsigned char *)e->data + h->key_room;
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

/* Seeded per map so that keys colliding in one map need not collide in
 * another; not a defence against an adversary who can observe timing. */
static uint32_t htab_hash(const struct htab *h, const void *key)
{
    const unsigned char *p = key;
    size_t n = h->key_size;
    uint64_t acc = h->seed;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        acc = mix64(acc ^ w);
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        acc = mix64(acc ^ w);
    }
    return (uint32_t)(acc ^ (acc >> 32));
}

static inline struct htab_bucket *bucket_of(const struct htab *h, uint32_t hash)
{
    return &h->buckets[hash & h->mask];
}

/* Lock-free walk; the caller is inside an RCU read-side section or holds
 * the bucket lock. */
static struct htab_elem *bucket_find(const struct htab *h, struct htab_bucket *b, uint32_t hash,
                                     const void *key)
{
    for (struct htab_elem *e = atomic_load_explicit(&b->head, memory_order_acquire); e;
         e = atomic_load_explicit(&e->next, memory_order_acquire))
        if (e->hash == hash && memcmp(elem_key(e), key, h->key_size) == 0)
            return e;
    return NULL;
}

/* With the bucket lock held: the link that points at the element matching
 * key, or NULL. */
static _Atomic(struct htab_elem *) *locked_find(const struct htab *h, struct htab_bucket *b,
                                                uint32_t hash, const void *key)
{
    _Atomic(struct htab_elem *) *link = &b->head;
    for (struct htab_elem *e; (e = atomic_load_explicit(link, memory_order_relaxed));
         link = &e->next)
        if (e->hash == hash && memcmp(elem_key(e), key, h->key_size) == 0)
            return link;
    return NULL;
}

static void *htab_lookup(pl_map *map, const void *key)
{
    struct htab *h = as_htab(map);
    uint32_t hash = htab_hash(h, key);
    struct htab_elem *e = bucket_find(h, bucket_of(h, hash), hash, key);
    if (!e)
        return NULL;
    if (h->lru && !atomic_load_explicit(&e->referenced, memory_order_relaxed))
        atomic_store_explicit(&e->referenced, 1, memory_order_relaxed);
    return elem_value(h, e);
}

static bool reserve_entry(struct htab *h)
{
    uint32_t c = atomic_load_explicit(&h->count, memory_order_relaxed);
    do {
        if (c >= h->map.spec.max_entries)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&h->count, &c, c + 1, memory_order_relaxed,
                                                    memory_order_relaxed));
    return true;
}

static void release_entry(struct htab *h, struct htab_elem *e)
{
    atomic_fetch_sub_explicit(&h->count, 1, memory_order_relaxed);
    pl_rcu_defer(free, e);
}

/* One CLOCK step budget: two full turns clear every referenced bit once and
 * then find one, unless lookups keep setting them all; then the first
 * element met is taken so an insert always makes progress. Returns false
 * when no element was found at all (the map emptied meanwhile). */
static bool htab_evict(struct htab *h)
{
    uint64_t turns = 2 * (h->mask + 1);
    for (uint64_t visited = 0; visited <= turns; visited++) {
        struct htab_bucket *b =
            &h->buckets[atomic_fetch_add_explicit(&h->clock_hand, 1, memory_order_relaxed) & h->mask];
        if (!atomic_load_explicit(&b->head, memory_order_relaxed))
            continue;
        pl_spin_lock(&b->lock);
        _Atomic(struct htab_elem *) *link = &b->head, *victim = NULL;
        for (struct htab_elem *e; (e = atomic_load_explicit(link, memory_order_relaxed));
             link = &e->next) {
            if (!atomic_load_explicit(&e->referenced, memory_order_relaxed)) {
                victim = link;
                break;
            }
            atomic_store_explicit(&e->referenced, 0, memory_order_relaxed);
        }
        if (!victim && visited == turns && atomic_load_explicit(&b->head, memory_order_relaxed))
            victim = &b->head;
        struct htab_elem *e = victim ? atomic_load_explicit(victim, memory_order_relaxed) : NULL;
        if (e)
            atomic_store_explicit(victim, atomic_load_explicit(&e->next, memory_order_relaxed),
                                  memory_order_release);
        pl_spin_unlock(&b->lock);
        if (e) {
            release_entry(h, e);
            return true;
        }
    }
    return false;
}

static int htab_update(pl_map *map, const void *key, const void *value, uint64_t flags)
{
    struct htab *h = as_htab(map);
    if (flags > PL_MAP_EXIST)
        return PL_EINVAL;
    uint32_t hash = htab_hash(h, key);
    struct htab_bucket *b = bucket_of(h, hash);

    /* Allocated before taking the lock to keep the critical section short. */
    struct htab_elem *ne = malloc(h->elem_size);
    if (!ne)
        return PL_ENOMEM;
    ne->hash = hash;
    atomic_init(&ne->referenced, 0);
    memcpy(elem_key(ne), key, h->key_size);
    memcpy(elem_value(h, ne), value, h->value_size);

    for (;;) {
        pl_spin_lock(&b->lock);
        _Atomic(struct htab_elem *) *link = locked_find(h, b, hash, key);
        struct htab_elem *old = link ? atomic_load_explicit(link, memory_order_relaxed) : NULL;
        if (old ? flags == PL_MAP_NOEXIST : flags == PL_MAP_EXIST) {
            pl_spin_unlock(&b->lock);
            free(ne);
            return old ? PL_EEXIST : PL_ENOENT;
        }
        if (old) {
            atomic_init(&ne->referenced, 1);
            atomic_init(&ne->next, atomic_load_explicit(&old->next, memory_order_relaxed));
            atomic_store_explicit(link, ne, memory_order_release);
            pl_spin_unlock(&b->lock);
            pl_rcu_defer(free, old);
            return 0;
        }
        if (reserve_entry(h)) {
            atomic_init(&ne->next, atomic_load_explicit(&b->head, memory_order_relaxed));
            atomic_store_explicit(&b->head, ne, memory_order_release);
            pl_spin_unlock(&b->lock);
            return 0;
        }
        pl_spin_unlock(&b->lock);
        if (!h->lru) {
            free(ne);
            return PL_E2BIG;
        }
        /* Evict with our bucket unlocked (the victim's bucket lock is taken
         * alone, so two inserters cannot deadlock), then look again: the key
         * may have been inserted meanwhile. If the sweep found nothing, other
         * inserters hold the slots and are about to link their elements. */
        if (!htab_evict(h))
            sched_yield();
    }
}

static int htab_delete(pl_map *map, const void *key)
{
    struct htab *h = as_htab(map);
    uint32_t hash = htab_hash(h, key);
    struct htab_bucket *b = bucket_of(h, hash);
    pl_spin_lock(&b->lock);
    _Atomic(struct htab_elem *) *link = locked_find(h, b, hash, key);
    struct htab_elem *e = link ? atomic_load_explicit(link, memory_order_relaxed) : NULL;
    if (e)
        atomic_store_explicit(link, atomic_load_explicit(&e->next, memory_order_relaxed),
                              memory_order_release);
    pl_spin_unlock(&b->lock);
    if (!e)
        return PL_ENOENT;
    release_entry(h, e);
    return 0;
}

/* Kernel order: the rest of the key's bucket, then the following buckets.
 * A key that is not (or no longer) in the map restarts from the beginning. */
static int htab_next_key(pl_map *map, const void *key, void *next_key)
{
    struct htab *h = as_htab(map);
    uint64_t i = 0;
    if (key) {
        uint32_t hash = htab_hash(h, key);
        struct htab_elem *e = bucket_find(h, bucket_of(h, hash), hash, key);
        if (e) {
            struct htab_elem *n = atomic_load_explicit(&e->next, memory_order_acquire);
            if (n) {
                memcpy(next_key, elem_key(n), h->key_size);
                return 0;
            }
            i = (hash & h->mask) + 1;
        }
    }
    for (; i <= h->mask; i++) {
        struct htab_elem *e = atomic_load_explicit(&h->buckets[i].head, memory_order_acquire);
        if (e) {
            memcpy(next_key, elem_key(e), h->key_size);
            return 0;
        }
    }
    return PL_ENOENT;
}

static uint32_t htab_count(pl_map *map)
{
    return atomic_load_explicit(&as_htab(map)->count, memory_order_relaxed);
}

/* Runs after the last grace period: no reader remains. */
static void htab_destroy(pl_map *map)
{
    struct htab *h = as_htab(map);
    for (uint64_t i = 0; i <= h->mask; i++) {
        struct htab_elem *e = atomic_load_explicit(&h->buckets[i].head, memory_order_relaxed);
        while (e) {
            struct htab_elem *next = atomic_load_explicit(&e->next, memory_order_relaxed);
            free(e);
            e = next;
        }
    }
    free(h->buckets);
    free(h);
}

static const struct pl_map_ops htab_ops = {
    .lookup = htab_lookup,
    .update = htab_update,
    .del = htab_delete,
    .next_key = htab_next_key,
    .count = htab_count,
    .destroy = htab_destroy,
};

int pl_hash_map_new(const struct pl_map_spec *spec, const char *name, pl_map **out, pl_error *err)
{
    uint64_t nbuckets = 1;
    while (nbuckets < spec->max_entries)
        nbuckets <<= 1;
    uint32_t key_room = (spec->key_size + 7) & ~7u;
    size_t elem_size = sizeof(struct htab_elem) + key_room + ((spec->value_size + 7) & ~7u);
    uint64_t bytes = nbuckets * sizeof(struct htab_bucket) + (uint64_t)elem_size * spec->max_entries;
    int rc = pl_map_check_mem(name, bytes, err);
    if (rc)
        return rc;

    size_t head = (sizeof(struct htab) + PL_CACHELINE - 1) & ~(size_t)(PL_CACHELINE - 1);
    struct htab *h = aligned_alloc(PL_CACHELINE, head);
    struct htab_bucket *buckets = calloc(nbuckets, sizeof(*buckets));
    if (!h || !buckets) {
        free(h);
        free(buckets);
        return pl_fail(err, PL_ENOMEM, -1, "map '%s': out of memory for %llu buckets", name,
                       (unsigned long long)nbuckets);
    }
    memset(h, 0, sizeof(*h));
    h->map.ops = &htab_ops;
    h->map.footprint = bytes;
    h->lru = spec->type == PL_MAP_LRU_HASH;
    h->key_size = spec->key_size;
    h->value_size = spec->value_size;
    h->key_room = key_room;
    h->elem_size = elem_size;
    h->mask = nbuckets - 1;
    h->seed = pl_random_u64();
    h->buckets = buckets;
    atomic_init(&h->count, 0);
    atomic_init(&h->clock_hand, 0);
    *out = &h->map;
    return 0;
}
