/* A ghost list for buffer-pool policies (2Q's A1out, S3-FIFO's G): the
 * identities of the last `limit` pages a policy evicted, oldest first,
 * without their data. A FIFO of page keys (an array map used as a ring)
 * plus a hash map for membership, so that both "was this page evicted
 * lately?" and "forget the oldest" are O(1). A page evicted twice within
 * the window is in it twice, as in the papers' FIFO; it stays a member
 * until its newest entry leaves.
 *
 * State lives in the including object's maps and globals, shared by its
 * page_unpin and page_evict programs (both run under the pool mutex, so
 * there is no race). */
#ifndef PL_EXT_PCACHE_GHOST_H
#define PL_EXT_PCACHE_GHOST_H

#include <pliant_bpf.h>
#include <pliant_pcache.h>

#define GHOST_MAX 4096 /* entries at most, whatever the limit: a power of two */

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, GHOST_MAX);
} ghost_ring SEC(".maps");

/* page key -> sequence number of its newest ring entry */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, u64);
    __type(value, u64);
    __uint(max_entries, GHOST_MAX);
} ghost_set SEC(".maps");

static u64 ghost_head, ghost_tail; /* ring sequence numbers: [head, tail) are live */

static __always_inline u64 page_key(u32 cache_id, u32 pgno)
{
    return (u64)cache_id << 32 | pgno;
}

static __always_inline bool ghost_contains(u64 key)
{
    return bpf_map_lookup_elem(&ghost_set, &key) != NULL;
}

static __always_inline void ghost_pop(void)
{
    u32 slot = ghost_head % GHOST_MAX;
    u64 *key = bpf_map_lookup_elem(&ghost_ring, &slot);
    if (key) {
        u64 k = *key;
        u64 *seq = bpf_map_lookup_elem(&ghost_set, &k);
        if (seq && *seq == ghost_head)
            bpf_map_delete_elem(&ghost_set, &k);
    }
    ghost_head++;
}

/* Appends key, first forgetting the oldest entries beyond limit - 1. A
 * limit that shrank is caught up with a few entries per push. */
static __always_inline void ghost_push(u64 key, u64 limit)
{
    if (limit > GHOST_MAX)
        limit = GHOST_MAX;
    if (limit == 0)
        return;
    /* limit <= GHOST_MAX, so a full ring pops at least once: the slot
     * written below is never a live one. */
    for (int i = 0; i < 4 && ghost_tail - ghost_head >= limit; i++)
        ghost_pop();
    u64 seq = ghost_tail++;
    u32 slot = seq % GHOST_MAX;
    bpf_map_update_elem(&ghost_ring, &slot, &key, BPF_ANY);
    bpf_map_update_elem(&ghost_set, &key, &seq, BPF_ANY);
}

#endif
