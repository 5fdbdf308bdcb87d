/*
 * Maps: creation and validation, reference counting and the host API. The
 * families live in map_array.c, map_hash.c and map_ringbuf.c; programs reach
 * them through map->ops from the helpers without going through this file.
 */
#include "internal.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>

/* Kernel map flags a BTF map definition may carry. None changes behaviour
 * here (elements are never preallocated, there is no mmap or per-CPU LRU),
 * so they are accepted for compatibility; anything else is a typo or a
 * feature we do not have. */
#define BPF_F_NO_PREALLOC (1u << 0)
#define BPF_F_NO_COMMON_LRU (1u << 1)
#define BPF_F_RDONLY (1u << 3)
#define BPF_F_WRONLY (1u << 4)
#define BPF_F_RDONLY_PROG (1u << 7)
#define BPF_F_WRONLY_PROG (1u << 8)
#define BPF_F_MMAPABLE (1u << 10)
#define KNOWN_FLAGS                                                                      \
    (BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_RDONLY | BPF_F_WRONLY |            \
     BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG | BPF_F_MMAPABLE)

void pl_spin_lock_slow(pl_spinlock *l)
{
    /* Holders may be preempted (more threads than cores), so after a short
     * spin give the CPU away instead of burning the holder's time slice. */
    for (unsigned spins = 0;; spins++) {
        if (!atomic_load_explicit(&l->locked, memory_order_relaxed) &&
            !atomic_exchange_explicit(&l->locked, 1, memory_order_acquire))
            return;
        if (spins < 100) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        } else {
            sched_yield();
        }
    }
}

int pl_map_check_mem(const char *name, uint64_t bytes, pl_error *err)
{
    if (bytes > PL_MAP_MEM_MAX)
        return pl_fail(err, PL_E2BIG, -1,
                       "map '%s': needs %llu bytes, more than the limit of %llu; lower max_entries or value_size",
                       name, (unsigned long long)bytes, (unsigned long long)PL_MAP_MEM_MAX);
    return 0;
}

static int check_keyed(const struct pl_map_spec *spec, const char *name, pl_error *err)
{
    if (spec->key_size == 0 || spec->key_size > PL_MAP_KEY_MAX)
        return pl_fail(err, PL_EMAP, -1, "map '%s': key_size must be between 1 and %d, got %u", name,
                       PL_MAP_KEY_MAX, spec->key_size);
    if (spec->value_size == 0 || spec->value_size > PL_MAP_VALUE_MAX)
        return pl_fail(err, PL_EMAP, -1, "map '%s': value_size must be between 1 and %u, got %u", name,
                       PL_MAP_VALUE_MAX, spec->value_size);
    if (spec->max_entries == 0)
        return pl_fail(err, PL_EMAP, -1, "map '%s': max_entries must be at least 1", name);
    return 0;
}

int pl_map_create(pl_runtime *rt, const struct pl_map_spec *spec, pl_map **out, pl_error *err)
{
    if (!spec || !out)
        return pl_fail(err, PL_EINVAL, -1, "pl_map_create: spec and out are required");
    *out = NULL;
    char name[sizeof(((pl_map *)0)->name)];
    snprintf(name, sizeof(name), "%s", spec->name ? spec->name : "");

    if (spec->flags & ~KNOWN_FLAGS)
        return pl_fail(err, PL_EMAP, -1, "map '%s': unsupported flags 0x%x", name,
                       spec->flags & ~KNOWN_FLAGS);
    int rc;
    pl_map *map = NULL;
    switch (spec->type) {
    case PL_MAP_ARRAY:
    case PL_MAP_PERTHREAD_ARRAY:
        rc = check_keyed(spec, name, err);
        if (!rc)
            rc = pl_array_map_new(spec, name, &map, err);
        break;
    case PL_MAP_HASH:
    case PL_MAP_LRU_HASH:
        rc = check_keyed(spec, name, err);
        if (!rc)
            rc = pl_hash_map_new(spec, name, &map, err);
        break;
    case PL_MAP_RINGBUF:
        rc = pl_ringbuf_map_new(spec, name, &map, err);
        break;
    default:
        return pl_fail(err, PL_EMAP, -1,
                       "map '%s': unsupported type %u (supported: hash 1, array 2, percpu_array 6, "
                       "lru_hash 9, ringbuf 27)",
                       name, spec->type);
    }
    if (rc)
        return rc;
    /* Charged once built (big arrays are reserved, not touched, so building
     * first costs nothing); refused if the runtime's maps would exceed it. */
    if (rt) {
        uint64_t before = atomic_fetch_add(&rt->map_bytes, map->footprint);
        if (before + map->footprint > rt->map_limit || before + map->footprint < before) {
            atomic_fetch_sub(&rt->map_bytes, map->footprint);
            uint64_t need = map->footprint;
            map->ops->destroy(map);
            return pl_fail(err, PL_E2BIG, -1,
                           "map '%s': its %llu bytes would take the runtime's maps past their limit of %llu bytes "
                           "(%llu in use); lower max_entries or raise map_memory_limit",
                           name, (unsigned long long)need, (unsigned long long)rt->map_limit,
                           (unsigned long long)before);
        }
    }
    atomic_init(&map->refs, 1);
    map->rt = rt;
    memcpy(map->name, name, sizeof(name));
    map->spec = *spec;
    map->spec.name = map->name;
    *out = map;
    return 0;
}

void pl_map_get(pl_map *map)
{
    atomic_fetch_add_explicit(&map->refs, 1, memory_order_relaxed);
}

static void destroy_after_grace_period(void *arg)
{
    pl_map *map = arg;
    if (map->rt)
        atomic_fetch_sub(&map->rt->map_bytes, map->footprint);
    map->ops->destroy(map);
}

void pl_map_put(pl_map *map)
{
    if (!map || atomic_fetch_sub_explicit(&map->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* A program that was just swapped out may still be running against the
     * map, so it goes away only once every current reader has finished. */
    pl_rcu_defer(destroy_after_grace_period, map);
}

const struct pl_map_spec *pl_map_info(const pl_map *map)
{
    return &map->spec;
}

int pl_map_lookup(pl_map *map, const void *key, void *value)
{
    if (!map || !key || !value)
        return PL_EINVAL;
    if (map->ops->host_lookup) {
        pl_rcu_read_lock();
        int rc = map->ops->host_lookup(map, key, value);
        pl_rcu_read_unlock();
        return rc;
    }
    pl_rcu_read_lock();
    void *v = map->ops->lookup(map, key);
    if (v)
        memcpy(value, v, map->spec.value_size);
    pl_rcu_read_unlock();
    return v ? 0 : PL_ENOENT;
}

int pl_map_update(pl_map *map, const void *key, const void *value, uint64_t flags)
{
    if (!map || !key || !value)
        return PL_EINVAL;
    if (map->ops->host_update)
        return map->ops->host_update(map, key, value, flags);
    return map->ops->update(map, key, value, flags);
}

int pl_map_delete(pl_map *map, const void *key)
{
    if (!map || !key)
        return PL_EINVAL;
    return map->ops->del(map, key);
}

int pl_map_next_key(pl_map *map, const void *key, void *next_key)
{
    if (!map || !next_key)
        return PL_EINVAL;
    pl_rcu_read_lock();
    int rc = map->ops->next_key(map, key, next_key);
    pl_rcu_read_unlock();
    return rc;
}

uint32_t pl_map_count(pl_map *map)
{
    return map ? map->ops->count(map) : 0;
}

void *pl_map_value_base(pl_map *map)
{
    if (!map || map->spec.type != PL_MAP_ARRAY || map->spec.max_entries != 1)
        return NULL;
    const uint32_t zero = 0;
    return map->ops->lookup(map, &zero);
}

bool pl_map_compatible(const struct pl_map_spec *a, const struct pl_map_spec *b)
{
    return a->type == b->type && a->key_size == b->key_size && a->value_size == b->value_size &&
           a->max_entries == b->max_entries;
}
