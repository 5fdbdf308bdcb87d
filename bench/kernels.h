/*
 * Benchmark kernels, written once in plain C. This header is compiled twice:
 * by clang -target bpf inside the bench/kernels programs (which the JIT
 * and the interpreter run) and by gcc -O2 in bench/bench_jit.c (the native
 * reference), so both sides run exactly the same source.
 *
 * Loops use a constant bound a verifier can accept.
 */
#ifndef BENCH_KERNELS_H
#define BENCH_KERNELS_H

#ifdef __bpf__
#define KERNEL static __always_inline
#else
#include <stdint.h>
#define KERNEL static inline
#endif

/* FNV-1a over a 64-byte key. */
#define FNV_KEY_LEN 64
struct fnv_ctx {
    uint8_t key[FNV_KEY_LEN];
};

KERNEL uint64_t kernel_fnv1a(const struct fnv_ctx *c)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < FNV_KEY_LEN; i++) {
        h ^= c->key[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Eviction-style scan: the unpinned candidate with the oldest last_access
 * (first one on ties); SCAN_NCAND when every candidate is pinned. */
#define SCAN_NCAND 16
struct scan_cand {
    uint64_t key;
    uint64_t last_access;
    uint32_t hits;
    uint32_t pinned;
};
struct scan_ctx {
    struct scan_cand cand[SCAN_NCAND];
};

KERNEL uint64_t kernel_scan(const struct scan_ctx *c)
{
    uint64_t best = SCAN_NCAND, oldest = ~0ull;
    for (int i = 0; i < SCAN_NCAND; i++) {
        if (!c->cand[i].pinned && (best == SCAN_NCAND || c->cand[i].last_access < oldest)) {
            oldest = c->cand[i].last_access;
            best = (uint64_t)i;
        }
    }
    return best;
}

/* 1,000 rounds of an LCG step mixed with a xorshift: pure ALU work with a
 * loop-carried dependency. */
#define LOOP_ROUNDS 1000
struct loop_ctx {
    uint64_t seed;
};

KERNEL uint64_t kernel_loop(const struct loop_ctx *c)
{
    uint64_t x = c->seed;
    for (uint64_t i = 0; i < LOOP_ROUNDS; i++) {
        x = x * 6364136223846793005ull + i;
        x ^= x >> 29;
    }
    return x;
}

/* Context of bench/kernels/reload_policy.bpf.c, the program bench_reload
 * loads over and over: an eviction decision among RELOAD_NCAND frames. */
#define RELOAD_NCAND 8
struct reload_ctx {
    uint32_t ncand;
    uint32_t reserved;
    uint64_t now;
    struct scan_cand cand[RELOAD_NCAND];
};

#endif /* BENCH_KERNELS_H */
