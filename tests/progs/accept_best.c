/* Accept corpus: keep the best of 16 candidates (the eviction pattern of
 * extensions/demo_evict_lru.bpf.c): a data-dependent branch in a loop,
 * which doubles the paths every iteration unless states are joined. */
#include <pliant_bpf.h>
#include "accept_ctx.h"

SEC("accept/best")
u64 best(struct accept_ctx *ctx)
{
    u32 n = ctx->n, best = ACC_NCAND;
    u64 oldest = ~0ull, key = 0;
    for (u32 i = 0; i < ACC_NCAND; i++) {
        if (i >= n)
            break;
        if (!ctx->cand[i].pinned && ctx->cand[i].last_access < oldest) {
            oldest = ctx->cand[i].last_access;
            best = i;
            /* Context fields take constant offsets only: keep the key now
             * rather than indexing cand[best] after the loop. */
            key = ctx->cand[i].key;
        }
    }
    if (best < ACC_NCAND)
        ctx->out = key;
    return best;
}

/* Best and runner-up, scored from two fields. */
SEC("accept/best2")
u64 best2(struct accept_ctx *ctx)
{
    u32 first = 0, second = 0;
    s64 s1 = -1, s2 = -1;
    for (u32 i = 0; i < ACC_NCAND; i++) {
        s64 s = (s64)(ctx->cand[i].hits * 4) - (s64)(ctx->cand[i].last_access & 0xff);
        if (s > s1) {
            s2 = s1;
            second = first;
            s1 = s;
            first = i;
        } else if (s > s2) {
            s2 = s;
            second = i;
        }
    }
    return first * 100 + second;
}
