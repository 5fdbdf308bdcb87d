/* Accept corpus: global data (.data and .bss counters, a .rodata table
 * indexed with a bounded index) and a switch statement. */
#include <pliant_bpf.h>
#include "accept_ctx.h"

static const u64 table[8] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
u64 calls_seen = 100;
u64 total;

SEC("accept/globals")
u64 globals(struct accept_ctx *ctx)
{
    calls_seen += 1;
    u32 i = ctx->sel;
    u64 t = i < 8 ? table[i] : 0;
    total += t;
    return t + calls_seen * 1000000000ull + total;
}

/* A table indexed by a masked value (no comparison). */
SEC("accept/masked_index")
u64 masked_index(struct accept_ctx *ctx)
{
    return table[ctx->seed & 7];
}

SEC("accept/switch")
u64 switch_sel(struct accept_ctx *ctx)
{
    switch (ctx->sel) {
    case 0:
        return ctx->vals[0];
    case 1:
        return ctx->vals[1] + 1;
    case 2:
        return ctx->seed ^ 0x55;
    case 5:
        return 500;
    case 7:
        return ctx->n;
    case 100:
        return 100100;
    default:
        return 9999;
    }
}
