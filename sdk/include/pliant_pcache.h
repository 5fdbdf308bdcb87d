/*
 * Contexts of pliantd's buffer-pool hookpoints (issue 5), shared by the
 * engine (engine/pcache.c, which registers them) and the extensions that
 * attach to them (extensions/evict_*.bpf.c, SEC("hook/page_evict")).
 *
 * Every field is a read-only scalar: no frame address ever reaches a
 * program. A program names a victim by its index in cand[]; the pool checks
 * that index against the candidates it offered (in range, still unpinned,
 * still the same page) and, on any other answer or a fault, evicts with its
 * built-in LRU instead and counts a fallback.
 */
#ifndef PLIANT_PCACHE_H
#define PLIANT_PCACHE_H

#ifndef __bpf__
#include <stdint.h>
#endif

/* Candidates offered per eviction: enough for a policy to see past a
 * single scan's worth of cold pages, small enough to copy on every miss. */
#define PL_EVICT_CANDIDATES 16

/* Host-managed frame lists a candidate can come from. Only the pool's
 * unpinned LRU list exists so far; the id is in the ABI so that policies
 * written now keep working when more lists (2Q's A1in, S3-FIFO's small
 * queue) appear. */
enum pl_page_list {
    PL_LIST_LRU = 0, /* unpinned, clean frames in order of release */
};

struct pl_evict_candidate {
    /* Pool logical clock when the page was last released (unpinned). A
     * frame on the LRU list was released last, never fetched since, so
     * this is its recency; no two frames share a value. */
    uint64_t last_access;
    uint32_t tenant;       /* tenant of the cache that owns the page */
    uint32_t cache_id;     /* the owning cache (one per SQLite pager) */
    uint32_t pgno;         /* SQLite page number in that cache */
    uint32_t access_count; /* fetches since the frame was filled (the miss counts as 1) */
    uint32_t list;         /* enum pl_page_list */
    uint32_t reserved;
};

/* page_evict: a frame is needed and the pool is at its memory budget.
 * cand[0..ncand) are the least recently released unpinned frames, oldest
 * first (cand[0] is what the built-in LRU evicts). Returns the index of the
 * victim. Built-in: 0 (least recently released). */
struct pl_page_evict_ctx {
    uint32_t ncand;        /* 1..PL_EVICT_CANDIDATES */
    uint32_t tenant;       /* tenant whose fetch needs the frame */
    uint64_t now;          /* pool logical clock now */
    struct pl_evict_candidate cand[PL_EVICT_CANDIDATES];
};

#endif
