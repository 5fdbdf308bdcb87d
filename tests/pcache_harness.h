/* Shared by the buffer pool's tests (tests/test_pcache*.c): a fresh pool,
 * a runtime with the pool's hooks, attaching policies, and replaying a
 * reference trace while recording what the pool did. */
#ifndef PL_TEST_PCACHE_HARNESS_H
#define PL_TEST_PCACHE_HARNESS_H

#include "../engine/pcache.h"

#include <pliant_pcache.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE 4096
#define EXTRA 64
#define M (pcache_methods())

/* A fresh pool of `frames` frames of PAGE+EXTRA; hard limit in frames too
 * (0: the budget). Print why on failure. */
bool pool_up(uint64_t frames, uint64_t hard_frames);
bool pool_down(void);
uint64_t frame_bytes(void);
bool all_zero(const void *p, size_t n);
uint64_t rnd(uint64_t *s);

/* A runtime with the pool's hooks registered, and its teardown (detaches
 * everything first). */
pl_runtime *hook_runtime(void);
void hook_runtime_free(pl_runtime *rt);
/* Attaches build/extensions/<name>.bpf.o (test_prog: the test program
 * build/hook_progs/<name>.o) with pcache_attach_file; prints why on failure. */
int attach_extension(pl_runtime *rt, const char *name);
int attach_test_prog(pl_runtime *rt, const char *name);
/* A map of the program attached to hook, by name (borrowed while attached). */
pl_map *attached_map(enum pcache_hook id, const char *name);

/* The reference trace: a hot set of 48 pages (70% of accesses), uniform
 * noise over 500 more, and every 3,000 accesses a sequential scan of 120
 * new pages, more than the pool holds. */
#define TRACE_LEN 30000
#define TRACE_FRAMES 64
#define SCAN_BASE 1000 /* scans read pages SCAN_BASE and up, each once */
uint32_t *make_trace(void);

/* What one replay did. */
struct run {
    uint64_t hits, misses;
    uint32_t nevict;
    uint32_t *evicted; /* page numbers in eviction order */
    uint32_t chain_builtin, chain_hook; /* pcache_chain_max at the end */
    struct pcache_stats st;
};
/* Replays trace (fetch with createFlag 2, then release) on one cache of a
 * fresh pool of `frames` frames, checking every page's contents on a hit,
 * and records the run. Prints why on failure. */
bool replay(const uint32_t *trace, size_t n, uint32_t frames, struct run *r);
/* The same, calling midway(arg) after the first half of the trace. */
bool replay_swap(const uint32_t *trace, size_t n, uint32_t frames, struct run *r, void (*midway)(void *), void *arg);
void run_free(struct run *r);
/* Same hits, misses and eviction sequence; prints the first difference. */
bool same_run(const struct run *a, const struct run *b, const char *what);

#endif
