/* Shared by the buffer-pool policies in extensions/evict_*.bpf.c. */
#ifndef PL_EXT_PCACHE_POLICY_H
#define PL_EXT_PCACHE_POLICY_H

#include <pliant_bpf.h>
#include <pliant_pcache.h>

/* Frames one eviction examines at most before it gives up looking for the
 * policy's ideal victim and takes the next one its list offers: a bound on
 * the time the pool mutex is held (and on the verifier's work: each step is
 * one iteration it explores). Each policy says when the bound can bind. */
#ifndef MAX_STEPS
#define MAX_STEPS 64
#endif

#ifdef WINDOW
/* Policies that compare the WINDOW oldest frames of a list get them in one
 * scan, into this map's value (a stack holds fewer than 11 of them). The
 * pool runs page_evict under its mutex, so one value serves every thread. */
struct window {
    struct pl_page_info f[WINDOW];
};
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, struct window);
    __uint(max_entries, 1);
} window SEC(".maps");

/* The WINDOW first unpinned frames of list from its tail into *out;
 * returns how many. */
static __always_inline long scan_window(u32 list, struct window **out)
{
    u32 zero = 0;
    *out = bpf_map_lookup_elem(&window, &zero);
    return *out ? pl_page_list_scan(list, PL_SCAN_SKIP_PINNED, 0, (*out)->f, sizeof((*out)->f)) : 0;
}
#endif

/* CLOCK's and SIEVE's release: a page new to list enters at its head
 * with its reference bit (the policy word) clear; a page released again
 * gets its bit set and stays where it is. */
static __always_inline long place_or_reference(struct pl_page_unpin_ctx *ctx, u32 list)
{
    if (ctx->list != list) {
        pl_page_list_add_head(ctx->frame, list);
        pl_page_set_data(ctx->frame, 0);
    } else if (!ctx->data) {
        pl_page_set_data(ctx->frame, 1);
    }
    return PL_UNPIN_KEEP;
}

/* The first unpinned frame from the tail of list, into *out. */
static __always_inline bool list_tail(u32 list, struct pl_page_info *out)
{
    return pl_page_list_scan(list, PL_SCAN_SKIP_PINNED, 0, out, sizeof(*out)) == 1;
}

#endif
