/*
 * The buffer pool's hookpoints (issue 5): contexts, answers, frame lists
 * and helpers, shared by the engine (engine/pcache_hooks.c registers them)
 * and the policies that attach to them (extensions/evict_*.bpf.c,
 * page_*_default.bpf.c).
 *
 *   page_hash   the hash of the pool's page table, on every fetch
 *   page_fetch  a fetch found (hit) or did not find (miss) its page; on a
 *               miss, admission: cache it, use it once, or decline
 *   page_unpin  SQLite released a page: where it goes
 *   page_evict  a frame is needed: name the victims
 *
 * Each hook has a built-in behaviour, used whenever nothing is attached or
 * the program faults or answers outside its contract (counted per hook in
 * pcache_stats(): invocations, faults, fallbacks), and a default extension
 * that reproduces it exactly: page_hash_default, page_fetch_default,
 * page_unpin_default, evict_lru.
 *
 * A policy is one object whose programs serve several of these hooks and
 * share its maps (SEC("hook/page_unpin") and SEC("hook/page_evict"), say);
 * the host loads it with PL_LOAD_HOOK_BY_SECTION (pcache_attach_file()).
 *
 * Frames and handles. No frame address ever reaches a program. A frame is
 * named by a 64-bit handle, generation << 32 | slot, that names one page's
 * stay in one frame: once the page is evicted, discarded or truncated the
 * handle is stale for good, even after the frame holds another page. 0 is
 * never a handle. Handles are plain numbers a program may keep in maps;
 * every helper checks the one it gets and answers PL_PAGE_EINVAL (not a
 * frame), PL_PAGE_ESTALE (the page left) or PL_PAGE_EPERM (a frame of a
 * temporary or in-memory database, which the pool never evicts), and the
 * pool counts it (pcache_stats().handle_errors).
 *
 * Lists. The pool keeps every unpinned frame on its own list in order of
 * release, most recent at the head (PL_LIST_POOL): the built-in policy
 * evicts its tail. Programs may scan it but not change it. For their own
 * order they get PL_PAGE_LISTS more lists (ids 0..7, named by each policy
 * as it likes: `#define A1IN 0`), the shape cache_ext gives policies of the
 * Linux page cache: a frame is on at most one of them, stays there while
 * pinned, and leaves it only by a helper or when its page leaves the pool.
 * A frame a program never placed is on none (PL_LIST_NONE); a frame on a
 * list the policy does not use (left by a policy attached before) should be
 * treated as new. Each frame also carries one 64-bit word for the policy
 * (pl_page_set_data(); 0 when a page enters a frame): a reference bit, a
 * frequency, a timestamp. Anything else goes in the policy's maps.
 *
 * What is an access. SQLite counts references above the pool and releases
 * a page once per use, however often it fetched it meanwhile; policies in
 * extensions/ therefore count accesses in page_unpin, where each use ends,
 * and place new frames there too (a page's first release; page_fetch sees
 * no frame on a miss because none exists yet).
 *
 * Temporary and in-memory databases. Their caches cannot give pages back,
 * so the pool never evicts them and page_fetch and page_unpin do not run
 * for them (page_hash does: it serves every table).
 *
 * Dirty pages. SQLite keeps every dirty page pinned until it is written,
 * so "unpinned" implies "clean": a victim that is not pinned can be
 * dropped without losing data, and a pinned one is refused.
 *
 * Locking. page_fetch, page_unpin and page_evict run under the pool's
 * mutex: the frames they see cannot change before the host acts on the
 * answer, and the list helpers may only be called from them. page_hash
 * runs before the mutex is taken (see struct pl_page_hash_ctx).
 */
#ifndef PLIANT_PCACHE_H
#define PLIANT_PCACHE_H

#ifndef __bpf__
#include <stdint.h>
#endif

/* ------------------------------------------------------------- lists */

#define PL_PAGE_LISTS 8          /* policy lists 0..7 */
#define PL_LIST_POOL 8           /* the pool's release order: scan only */
#define PL_LIST_NONE 0xffffffffu /* pl_page_info.list, ctx.list: on no policy list */

/* pl_page_list_move: where on the list. */
#define PL_LIST_HEAD 0
#define PL_LIST_TAIL 1

/* pl_page_list_scan flags. By default the scan starts at the tail (the
 * oldest end) and walks towards the head. */
#define PL_SCAN_FROM_HEAD 1u   /* start at the head, walk towards the tail */
#define PL_SCAN_SKIP_PINNED 2u /* leave pinned frames out (they stay in place) */
#define PL_SCAN_AFTER 4u       /* with a start frame: begin with the one after it */
/* Frames one scan walks past at most, copied or skipped, so that a long
 * run of pinned frames cannot make one call take unbounded time. */
#define PL_SCAN_VISIT_MAX 4096

/* Helper errors: negated Linux errno values, as kernel helpers return. */
#define PL_PAGE_EPERM (-1)    /* not allowed: foreign frame, read-only list, wrong hook */
#define PL_PAGE_ENOENT (-2)   /* the frame is not on that list */
#define PL_PAGE_EBUSY (-16)   /* page_evict: the frame is pinned (in use, or dirty) */
#define PL_PAGE_EEXIST (-17)  /* page_evict: already named */
#define PL_PAGE_EINVAL (-22)  /* not a frame handle, or a bad list id or flag */
#define PL_PAGE_ENOSPC (-28)  /* page_evict: PL_EVICT_MARKS victims named already */
#define PL_PAGE_ESTALE (-116) /* the handle's page has left the pool */

/* What pl_page_list_scan copies per frame. */
struct pl_page_info {
    uint64_t frame;        /* handle */
    uint64_t data;         /* the policy's word */
    uint64_t last_access;  /* pool clock at its last release, 0 before the first */
    uint32_t tenant;       /* tenant of the cache that owns the page */
    uint32_t cache_id;     /* the owning cache (one per SQLite pager) */
    uint32_t pgno;         /* SQLite page number in that cache */
    uint32_t access_count; /* fetches since the page entered the frame (the miss counts as 1) */
    uint32_t list;         /* policy list, or PL_LIST_NONE */
    uint32_t pinned;       /* 1 while SQLite holds the page */
};

/* ------------------------------------------------------------- hooks */

/* page_hash: the page table's hash. Returns any 64-bit value; the bucket
 * is its low bits (the table of each cache has a power of two of buckets,
 * doubling as the cache grows). Built-in: pgno.
 *
 * The answer only chooses a bucket: lookups compare the full key, and the
 * pool keeps an index of its own that every miss in the program's buckets
 * is checked against, so no answer can make the table wrong. A constant
 * hash is slow (one long chain), a hash that changes its mind (state kept
 * in globals, or a live swap to another function) costs a second lookup
 * for each page it moved (pcache_stats().hash_moved), never a wrong page.
 * The program runs outside the pool's mutex, so it cannot hold up other
 * connections' fetches; it may call no helper. */
struct pl_page_hash_ctx {
    uint32_t tenant;
    uint32_t cache_id;
    uint32_t pgno;
    uint32_t reserved;
};

/* page_fetch answers, read on a miss that may create the page (create 1
 * or 2); on a hit the answer is ignored. */
enum pl_page_fetch_answer {
    PL_FETCH_ADMIT = 0,   /* cache the page (built-in) */
    /* Give the page a frame for this use only: it is dropped when SQLite
     * releases it instead of staying cached (a scan that should not
     * displace the working set). */
    PL_FETCH_BYPASS = 1,
    /* No frame now: the fetch returns NULL and SQLite spills its dirty
     * pages and asks again with create 2. Valid only for create 1 (SQLite
     * cannot take NULL for create 2: that answer is refused as a fault and
     * the page is admitted). */
    PL_FETCH_DECLINE = 2,
};

/* page_fetch: SQLite asked for a page. Runs on every hit, and on every
 * miss that may create the page (a create-0 probe that finds nothing is
 * not an access). On a miss frame is 0 and data, last_access,
 * access_count are 0, list is PL_LIST_NONE. */
struct pl_page_fetch_ctx {
    uint64_t frame;        /* hit: the frame's handle */
    uint64_t data;         /* hit: the policy's word */
    uint64_t last_access;  /* hit: pool clock at its last release (0: never released) */
    uint64_t now;          /* pool clock now (advanced by releases) */
    uint32_t tenant;
    uint32_t cache_id;
    uint32_t pgno;
    uint32_t create;       /* SQLite's createFlag: 0, 1 or 2 */
    uint32_t hit;          /* 1: the page is in the pool */
    uint32_t pinned;       /* hit: SQLite already held the page */
    uint32_t access_count; /* hit: fetches since the page entered the frame, this one included */
    uint32_t list;         /* hit: policy list, or PL_LIST_NONE */
};

/* page_unpin answers. */
enum pl_page_unpin_answer {
    PL_UNPIN_KEEP = 0,      /* keep cached, at the head of the pool list (built-in) */
    PL_UNPIN_KEEP_COLD = 1, /* keep cached, at the tail: first for the built-in eviction */
    PL_UNPIN_DROP = 2,      /* drop the page now (it is clean) */
};

/* page_unpin: SQLite released a page it will keep using later (a page it
 * discards, or one admitted with PL_FETCH_BYPASS, goes without asking).
 * The frame is still pinned while the program runs. */
struct pl_page_unpin_ctx {
    uint64_t frame;        /* the frame's handle */
    uint64_t data;         /* the policy's word */
    uint64_t last_access;  /* pool clock at its previous release, 0 if this is the first */
    uint64_t now;          /* pool clock this release is stamped with */
    uint32_t tenant;
    uint32_t cache_id;
    uint32_t pgno;
    uint32_t access_count; /* fetches since the page entered the frame */
    uint32_t list;         /* policy list, or PL_LIST_NONE (a new page, for policies that place frames here) */
    uint32_t reserved;
};

/* Victims one page_evict run may name. */
#define PL_EVICT_MARKS 8

/* page_evict: a frame is needed and the pool is at its memory budget. The
 * program names victims with pl_page_evict_mark(), best first, and returns
 * (the return value is ignored). The pool evicts them in order until it
 * has room; those it does not need stay cached. A victim that is not an
 * unpinned, resident frame of a purgeable cache is refused on the spot (the
 * helper's answer says why) and counted as a fault; when a run names no
 * acceptable victim the built-in policy evicts the pool list's tail.
 * Built-in: the tail of PL_LIST_POOL (least recently released). */
struct pl_page_evict_ctx {
    uint64_t now;       /* pool clock */
    uint32_t tenant;    /* tenant whose fetch needs the frame */
    uint32_t frames;    /* frames the pool holds (all caches) */
    uint32_t unpinned;  /* frames on PL_LIST_POOL: the ones that may be evicted */
    uint32_t reserved;
    uint32_t list_len[PL_PAGE_LISTS]; /* frames on each policy list, pinned ones included */
};

/* ----------------------------------------------------------- helpers */

#ifdef __bpf__
/* Host helpers, resolved by name when the object is loaded. Allowed in
 * page_fetch, page_unpin and page_evict (pl_page_evict_mark in page_evict
 * only), with the map helpers; page_hash gets none. Each returns 0 (scan:
 * the number of frames copied) or a negative PL_PAGE_E* code. */

/* Puts frame on list (0..PL_PAGE_LISTS-1) at PL_LIST_HEAD or PL_LIST_TAIL,
 * taking it off the list it was on, if any (so this is add and move). */
extern long pl_page_list_move(uint64_t frame, uint32_t list, uint32_t where);
/* Takes frame off its policy list (PL_PAGE_ENOENT if on none). */
extern long pl_page_list_remove(uint64_t frame);
/* Copies up to size / sizeof(struct pl_page_info) frames of list (or
 * PL_LIST_POOL) into out, in scan order, zeroing the rest of out. start:
 * 0 for the end the flags name, else a frame on that list to begin at
 * (PL_SCAN_AFTER: just after it). Returns the number copied. */
extern long pl_page_list_scan(uint32_t list, uint32_t flags, uint64_t start, struct pl_page_info *out,
                              uint32_t size);
/* Sets the frame's policy word. */
extern long pl_page_set_data(uint64_t frame, uint64_t data);
/* page_evict: names frame as the next victim. */
extern long pl_page_evict_mark(uint64_t frame);

static __always_inline long pl_page_list_add_head(uint64_t frame, uint32_t list)
{
    return pl_page_list_move(frame, list, PL_LIST_HEAD);
}
static __always_inline long pl_page_list_add_tail(uint64_t frame, uint32_t list)
{
    return pl_page_list_move(frame, list, PL_LIST_TAIL);
}
#endif

#endif
