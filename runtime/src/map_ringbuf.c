/*
 * Ring buffer (BPF_MAP_TYPE_RINGBUF): many producers (programs calling
 * bpf_ringbuf_output on any thread), one consumer (pl_ringbuf_consume).
 *
 * Each record is an 8-byte header followed by the data, padded to 8 bytes.
 * The header's length word carries a BUSY bit while the producer copies and
 * a PAD bit for filler. Producers reserve space in order under a spinlock
 * (a few loads and stores), then copy and commit outside it, so records are
 * consumed in reservation order and a slow copy does not hold up other
 * producers — only the consumer, which stops at the first record still busy.
 *
 * A record never wraps: when it does not fit before the end of the buffer,
 * the tail is filled with a PAD record and the record starts at offset 0.
 * That wastes up to one record's worth of space but hands the consumer
 * contiguous data without the kernel's double mapping of the pages.
 *
 * When a record does not fit, bpf_ringbuf_output returns -EAGAIN (-11), as
 * the kernel does, and the drop is counted (pl_ringbuf_drops).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RB_BUSY (1u << 31)
#define RB_PAD (1u << 30)
#define RB_HDR 8u
#define RB_MAX_SIZE (1u << 30) /* record lengths must fit below the flag bits */

/* Kernel wakeup flags; there is nobody to wake here, so they are accepted
 * and ignored. */
#define BPF_RB_NO_WAKEUP (1u << 0)
#define BPF_RB_FORCE_WAKEUP (1u << 1)

struct ringbuf {
    pl_map map;
    uint64_t mask;
    unsigned char *data;
    /* Producer side. Positions count bytes since creation; they never wrap
     * in practice (2^64 bytes). */
    _Alignas(PL_CACHELINE) pl_spinlock lock;
    _Atomic uint64_t producer_pos;
    _Atomic uint64_t drops;
    /* Consumer side. */
    _Alignas(PL_CACHELINE) _Atomic uint64_t consumer_pos;
    pthread_mutex_t consumer_lock; /* makes concurrent consume calls safe */
};

static struct ringbuf *as_ringbuf(pl_map *map)
{
    return (struct ringbuf *)map;
}

static inline uint64_t record_span(uint64_t size)
{
    return (size + RB_HDR + 7) & ~7ull;
}

/* Headers are accessed atomically in place in the data area. */
static inline uint32_t *header_at(struct ringbuf *rb, uint64_t pos)
{
    return (uint32_t *)(rb->data + (pos & rb->mask));
}

int64_t pl_ringbuf_output(pl_map *map, const void *data, uint64_t size, uint64_t flags)
{
    if (!map || map->spec.type != PL_MAP_RINGBUF || (flags & ~(uint64_t)(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)))
        return -EINVAL;
    struct ringbuf *rb = as_ringbuf(map);
    uint64_t cap = rb->mask + 1;
    if (size > cap - RB_HDR) {
        atomic_fetch_add_explicit(&rb->drops, 1, memory_order_relaxed);
        return -EAGAIN;
    }
    uint64_t span = record_span(size);

    pl_spin_lock(&rb->lock);
    uint64_t prod = atomic_load_explicit(&rb->producer_pos, memory_order_relaxed);
    /* Acquire: the consumer has finished reading what it released. */
    uint64_t cons = atomic_load_explicit(&rb->consumer_pos, memory_order_acquire);
    uint64_t off = prod & rb->mask;
    uint64_t pad = off + span > cap ? cap - off : 0;
    if (prod + pad + span - cons > cap) {
        pl_spin_unlock(&rb->lock);
        atomic_fetch_add_explicit(&rb->drops, 1, memory_order_relaxed);
        return -EAGAIN;
    }
    if (pad)
        __atomic_store_n(header_at(rb, prod), (uint32_t)(pad - RB_HDR) | RB_PAD, __ATOMIC_RELAXED);
    uint32_t *hdr = header_at(rb, prod + pad);
    __atomic_store_n(hdr, (uint32_t)size | RB_BUSY, __ATOMIC_RELAXED);
    /* Release: the consumer that sees the new position sees both headers. */
    atomic_store_explicit(&rb->producer_pos, prod + pad + span, memory_order_release);
    pl_spin_unlock(&rb->lock);

    memcpy(hdr + 2, data, size);
    __atomic_store_n(hdr, (uint32_t)size, __ATOMIC_RELEASE);
    return 0;
}

uint64_t pl_ringbuf_drops(pl_map *map)
{
    if (!map || map->spec.type != PL_MAP_RINGBUF)
        return 0;
    return atomic_load_explicit(&as_ringbuf(map)->drops, memory_order_relaxed);
}

/* Consumes the records committed when the call starts, oldest first,
 * stopping at the first one still being written (order is preserved). Space
 * is released record by record, so producers can continue during a long
 * callback. A callback returning non-zero stops consumption after its
 * record. */
int pl_ringbuf_consume(pl_map *map, pl_ringbuf_fn fn, void *user)
{
    if (!map || !fn || map->spec.type != PL_MAP_RINGBUF)
        return PL_EINVAL;
    struct ringbuf *rb = as_ringbuf(map);
    pthread_mutex_lock(&rb->consumer_lock);
    uint64_t cons = atomic_load_explicit(&rb->consumer_pos, memory_order_relaxed);
    uint64_t prod = atomic_load_explicit(&rb->producer_pos, memory_order_acquire);
    int n = 0;
    while (cons < prod) {
        uint32_t *hdr = header_at(rb, cons);
        uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
        if (len & RB_BUSY)
            break;
        uint32_t size = len & ~RB_PAD;
        int stop = 0;
        if (!(len & RB_PAD)) {
            stop = fn(user, hdr + 2, size);
            n++;
        }
        cons += record_span(size);
        atomic_store_explicit(&rb->consumer_pos, cons, memory_order_release);
        if (stop)
            break;
    }
    pthread_mutex_unlock(&rb->consumer_lock);
    return n;
}

static void *ringbuf_lookup(pl_map *map, const void *key)
{
    (void)map;
    (void)key;
    return NULL;
}

static int ringbuf_update(pl_map *map, const void *key, const void *value, uint64_t flags)
{
    (void)map;
    (void)key;
    (void)value;
    (void)flags;
    return PL_EINVAL;
}

static int ringbuf_host_lookup(pl_map *map, const void *key, void *value)
{
    (void)map;
    (void)key;
    (void)value;
    return PL_EINVAL;
}

static int ringbuf_delete(pl_map *map, const void *key)
{
    (void)map;
    (void)key;
    return PL_EINVAL;
}

static int ringbuf_next_key(pl_map *map, const void *key, void *next_key)
{
    (void)map;
    (void)key;
    (void)next_key;
    return PL_EINVAL;
}

/* For a ring buffer max_entries is a byte size, so its "entries" are the
 * bytes waiting for the consumer. */
static uint32_t ringbuf_count(pl_map *map)
{
    struct ringbuf *rb = as_ringbuf(map);
    uint64_t cons = atomic_load_explicit(&rb->consumer_pos, memory_order_acquire);
    uint64_t prod = atomic_load_explicit(&rb->producer_pos, memory_order_acquire);
    return (uint32_t)(prod - cons);
}

static void ringbuf_destroy(pl_map *map)
{
    struct ringbuf *rb = as_ringbuf(map);
    pthread_mutex_destroy(&rb->consumer_lock);
    free(rb->data);
    free(rb);
}

static const struct pl_map_ops ringbuf_ops = {
    .lookup = ringbuf_lookup,
    .update = ringbuf_update,
    .del = ringbuf_delete,
    .next_key = ringbuf_next_key,
    .count = ringbuf_count,
    .destroy = ringbuf_destroy,
    .host_lookup = ringbuf_host_lookup,
};

int pl_ringbuf_map_new(const struct pl_map_spec *spec, const char *name, pl_map **out, pl_error *err)
{
    if (spec->key_size != 0 || spec->value_size != 0)
        return pl_fail(err, PL_EMAP, -1, "map '%s': ring buffer key_size and value_size must be 0, got %u and %u",
                       name, spec->key_size, spec->value_size);
    uint32_t size = spec->max_entries;
    if (size < 4096 || (size & (size - 1)) != 0)
        return pl_fail(err, PL_EMAP, -1,
                       "map '%s': ring buffer max_entries is its byte size and must be a power of two "
                       "of at least 4096, got %u",
                       name, size);
    if (size > RB_MAX_SIZE)
        return pl_fail(err, PL_E2BIG, -1, "map '%s': ring buffer size %u exceeds the limit of %u bytes",
                       name, size, RB_MAX_SIZE);

    size_t head = (sizeof(struct ringbuf) + PL_CACHELINE - 1) & ~(size_t)(PL_CACHELINE - 1);
    struct ringbuf *rb = aligned_alloc(PL_CACHELINE, head);
    unsigned char *data = aligned_alloc(PL_CACHELINE, size);
    if (!rb || !data) {
        free(rb);
        free(data);
        return pl_fail(err, PL_ENOMEM, -1, "map '%s': out of memory for a %u-byte ring buffer", name, size);
    }
    memset(rb, 0, sizeof(*rb));
    rb->map.ops = &ringbuf_ops;
    rb->mask = size - 1;
    rb->data = data;
    atomic_init(&rb->producer_pos, 0);
    atomic_init(&rb->consumer_pos, 0);
    atomic_init(&rb->drops, 0);
    pthread_mutex_init(&rb->consumer_lock, NULL);
    rb->map.footprint = size;
    *out = &rb->map;
    return 0;
}
