/* The policy bench_reload loads 1,000 times: a weighted eviction score over
 * RELOAD_NCAND candidates, tunables in an array map, decisions counted in a
 * per-thread array. Sized like a realistic small policy (~126 instructions,
 * about 1 KB of code); what it computes does not matter to the benchmark. */
#include <pliant_bpf.h>
#include "../kernels.h"

enum { W_AGE, W_HITS, W_PINNED_PENALTY, W_COUNT };

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, W_COUNT);
} weights SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, RELOAD_NCAND);
} decisions SEC(".maps");

/* Keys the host asked to keep resident: the runner-up is evicted instead. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, u64);
    __type(value, u32);
    __uint(max_entries, 64);
} protected_keys SEC(".maps");

static __always_inline u64 weight(u32 which, u64 fallback)
{
    u64 *w = bpf_map_lookup_elem(&weights, &which);
    return w && *w ? *w : fallback;
}

SEC("hook/reload_policy")
long reload_policy(struct reload_ctx *ctx)
{
    u64 w_age = weight(W_AGE, 4), w_hits = weight(W_HITS, 1), w_pin = weight(W_PINNED_PENALTY, 1ull << 40);
    u32 n = ctx->ncand, best = 0, second = 0;
    /* Keys travel with the indexes: the context is read at constant offsets. */
    u64 best_key = 0, second_key = 0;
    u64 now = ctx->now;
    s64 best_score = -(1ll << 62), second_score = best_score;
    for (u32 i = 0; i < RELOAD_NCAND; i++) {
        u64 age = now > ctx->cand[i].last_access ? now - ctx->cand[i].last_access : 0;
        s64 score = (s64)(age * w_age) - (s64)(ctx->cand[i].hits * w_hits);
        if (ctx->cand[i].pinned)
            score -= (s64)w_pin;
        if (i < n && score > best_score) {
            second_score = best_score;
            second = best;
            second_key = best_key;
            best_score = score;
            best = i;
            best_key = ctx->cand[i].key;
        } else if (i < n && score > second_score) {
            second_score = score;
            second = i;
            second_key = ctx->cand[i].key;
        }
    }
    if (bpf_map_lookup_elem(&protected_keys, &best_key)) {
        best = second;
        best_key = second_key;
    }
    u64 *count = bpf_map_lookup_elem(&decisions, &best);
    if (count)
        *count += 1;
    return best;
}

char LICENSE[] SEC("license") = "GPL";
