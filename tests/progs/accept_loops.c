/* Accept corpus: bounded loops over the context. */
#include <pliant_bpf.h>
#include "accept_ctx.h"

/* Sum of the 16 context values. */
SEC("accept/sum16")
u64 sum16(struct accept_ctx *ctx)
{
    u64 s = 0;
    for (int i = 0; i < ACC_NVALS; i++)
        s += ctx->vals[i];
    return s;
}

/* FNV-1a over the 64-byte key. */
SEC("accept/key64")
u64 key64(struct accept_ctx *ctx)
{
    u64 h = 0xcbf29ce484222325ull;
    for (int i = 0; i < ACC_KEY_LEN; i++) {
        h ^= ctx->key[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* A nested loop: the values as a 4x4 matrix, each row weighted. */
SEC("accept/nested")
u64 nested(struct accept_ctx *ctx)
{
    u64 s = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            s += ctx->vals[i * 4 + j] * (u64)(i + 1);
    return s;
}

/* A loop whose trip count comes from the context, capped by a constant. */
SEC("accept/count_n")
u64 count_n(struct accept_ctx *ctx)
{
    u32 n = ctx->n;
    u64 s = 0;
    for (u32 i = 0; i < ACC_NCAND && i < n; i++)
        s += ctx->cand[i].hits;
    return s;
}
