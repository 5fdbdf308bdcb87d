/*
 * Context of the runtime demo's hook, "demo_evict": choose which of up to
 * 16 sampled cache frames to evict. Included by the demo host
 * (runtime/tools/pliant-demo.c) and by the demo policies in extensions/.
 * The program returns the index of the victim; the host rejects an index out
 * of range or naming a pinned frame, and falls back to its default.
 */
#ifndef PLIANT_DEMO_H
#define PLIANT_DEMO_H

#ifndef __bpf__
#include <stdint.h>
#endif

#define DEMO_CANDIDATES 16

struct demo_candidate {
    uint64_t key;
    uint64_t last_access; /* logical clock of the last hit */
    uint32_t hits;        /* hits since the frame was filled */
    uint32_t pinned;      /* non-zero: must not be evicted */
};

struct demo_evict_ctx {
    uint32_t ncand; /* valid entries in cand[] (1..DEMO_CANDIDATES) */
    uint32_t reserved;
    struct demo_candidate cand[DEMO_CANDIDATES];
};

#endif
