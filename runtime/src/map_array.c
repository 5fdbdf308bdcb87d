/*
 * Array maps (BPF_MAP_TYPE_ARRAY) and per-thread arrays
 * (BPF_MAP_TYPE_PERCPU_ARRAY, with thread slots standing in for CPUs).
 *
 * Every value is preallocated and zeroed at creation and never freed before
 * the map, so a lookup is a bounds check and an address computation: no
 * locks, no RCU needed. Updates copy in place, so a concurrent reader can see
 * a partly written value (as in the kernel); programs that need atomicity
 * use atomic instructions on the value.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Arrays at least this large are mapped rather than allocated. */
#define ARRAY_MMAP_MIN (1u << 20)

struct array_map {
    pl_map map;
    uint32_t elem_size;   /* value_size rounded up to 8: values stay 8-aligned */
    size_t slot_stride;   /* per-thread arrays: bytes of one thread's values */
    unsigned char *values;
    size_t bytes;
    bool mapped;          /* values came from mmap */
};

static struct array_map *as_array(pl_map *map)
{
    return (struct array_map *)map;
}

static inline uint32_t read_index(const void *key)
{
    uint32_t idx;
    memcpy(&idx, key, sizeof(idx)); /* program stack keys need not be aligned */
    return idx;
}

static void *array_lookup(pl_map *map, const void *key)
{
    struct array_map *a = as_array(map);
    uint32_t idx = read_index(key);
    if (idx >= map->spec.max_entries)
        return NULL;
    return a->values + (size_t)idx * a->elem_size;
}

/* The calling thread's slot: each thread sees its own copy of the array. */
static void *perthread_lookup(pl_map *map, const void *key)
{
    struct array_map *a = as_array(map);
    uint32_t idx = read_index(key);
    if (idx >= map->spec.max_entries)
        return NULL;
    return a->values + (size_t)pl_thread_slot() * a->slot_stride + (size_t)idx * a->elem_size;
}

/* Kernel semantics: every element always exists, so NOEXIST fails with
 * EEXIST and an index past the end is E2BIG. */
static int check_update(pl_map *map, const void *key, uint64_t flags)
{
    if (flags > PL_MAP_EXIST)
        return PL_EINVAL;
    if (read_index(key) >= map->spec.max_entries)
        return PL_E2BIG;
    if (flags == PL_MAP_NOEXIST)
        return PL_EEXIST;
    return 0;
}

static int array_update(pl_map *map, const void *key, const void *value, uint64_t flags)
{
    int rc = check_update(map, key, flags);
    if (rc)
        return rc;
    memcpy(map->ops->lookup(map, key), value, map->spec.value_size);
    return 0;
}

static int array_delete(pl_map *map, const void *key)
{
    (void)map;
    (void)key;
    return PL_EINVAL;
}

static int array_next_key(pl_map *map, const void *key, void *next_key)
{
    uint32_t next = 0;
    if (key) {
        uint32_t idx = read_index(key);
        if (idx < map->spec.max_entries) {
            if (idx == map->spec.max_entries - 1)
                return PL_ENOENT;
            next = idx + 1;
        }
    }
    memcpy(next_key, &next, sizeof(next));
    return 0;
}

static uint32_t array_count(pl_map *map)
{
    return map->spec.max_entries;
}

static void array_destroy(pl_map *map)
{
    struct array_map *a = as_array(map);
    if (a->mapped)
        munmap(a->values, a->bytes);
    else
        free(a->values);
    free(map);
}

/* Host view of a per-thread array: PL_MAX_THREADS values of value_size
 * bytes each, back to back, in slot order. */
static int perthread_host_lookup(pl_map *map, const void *key, void *value)
{
    struct array_map *a = as_array(map);
    uint32_t idx = read_index(key);
    if (idx >= map->spec.max_entries)
        return PL_ENOENT;
    unsigned char *dst = value;
    const unsigned char *src = a->values + (size_t)idx * a->elem_size;
    for (int slot = 0; slot < PL_MAX_THREADS; slot++)
        memcpy(dst + (size_t)slot * map->spec.value_size, src + (size_t)slot * a->slot_stride,
               map->spec.value_size);
    return 0;
}

/* The host writes one value, which every thread slot receives. */
static int perthread_host_update(pl_map *map, const void *key, const void *value, uint64_t flags)
{
    struct array_map *a = as_array(map);
    int rc = check_update(map, key, flags);
    if (rc)
        return rc;
    unsigned char *dst = a->values + (size_t)read_index(key) * a->elem_size;
    for (int slot = 0; slot < PL_MAX_THREADS; slot++)
        memcpy(dst + (size_t)slot * a->slot_stride, value, map->spec.value_size);
    return 0;
}

static const struct pl_map_ops array_ops = {
    .lookup = array_lookup,
    .update = array_update,
    .del = array_delete,
    .next_key = array_next_key,
    .count = array_count,
    .destroy = array_destroy,
};

static const struct pl_map_ops perthread_ops = {
    .lookup = perthread_lookup,
    .update = array_update,
    .del = array_delete,
    .next_key = array_next_key,
    .count = array_count,
    .destroy = array_destroy,
    .host_lookup = perthread_host_lookup,
    .host_update = perthread_host_update,
};

int pl_array_map_new(const struct pl_map_spec *spec, const char *name, pl_map **out, pl_error *err)
{
    if (spec->key_size != 4)
        return pl_fail(err, PL_EMAP, -1, "map '%s': array key_size must be 4, got %u", name,
                       spec->key_size);
    bool perthread = spec->type == PL_MAP_PERTHREAD_ARRAY;
    uint64_t elem = ((uint64_t)spec->value_size + 7) & ~7ull;
    /* Thread slots start on their own cache lines so threads updating their
     * own counters do not false-share. */
    uint64_t stride = (elem * spec->max_entries + PL_CACHELINE - 1) & ~(uint64_t)(PL_CACHELINE - 1);
    uint64_t bytes = perthread ? stride * PL_MAX_THREADS : stride;
    int rc = pl_map_check_mem(name, bytes, err);
    if (rc)
        return rc;

    struct array_map *a = calloc(1, sizeof(*a));
    if (a && bytes >= ARRAY_MMAP_MIN) {
        /* Zero pages on first touch: a large map costs only what is used. */
        void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        a->values = m == MAP_FAILED ? NULL : m;
        a->mapped = true;
    } else if (a) {
        a->values = aligned_alloc(PL_CACHELINE, bytes);
        if (a->values)
            memset(a->values, 0, bytes);
    }
    if (!a || !a->values) {
        free(a);
        return pl_fail(err, PL_ENOMEM, -1, "map '%s': out of memory for %llu bytes of values", name,
                       (unsigned long long)bytes);
    }
    a->bytes = bytes;
    a->map.footprint = bytes;
    a->elem_size = (uint32_t)elem;
    a->slot_stride = stride;
    a->map.ops = perthread ? &perthread_ops : &array_ops;
    *out = &a->map;
    return 0;
}
