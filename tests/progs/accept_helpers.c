/* Accept corpus: stack buffers passed to helpers. */
#include <pliant_bpf.h>
#include "accept_ctx.h"

struct sample {
    u64 seed;
    u32 sel;
    u32 n;
    u8 key[8];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} samples SEC(".maps");

/* A stack struct, partly copied from the context, sent to a ring buffer. */
SEC("accept/ringbuf")
long ringbuf(struct accept_ctx *ctx)
{
    struct sample s = {.seed = ctx->seed, .sel = ctx->sel, .n = ctx->n};
    for (int i = 0; i < 8; i++)
        s.key[i] = ctx->key[i];
    return bpf_ringbuf_output(&samples, &s, sizeof(s), 0);
}

/* trace_printk with zero to three arguments; returns the sum of the
 * lengths printed. */
SEC("accept/printk")
long printk(struct accept_ctx *ctx)
{
    long r = bpf_printk("accept: none");
    r += bpf_printk("accept: one %u", ctx->sel);
    r += bpf_printk("accept: two %u %u", ctx->sel, ctx->n);
    r += bpf_printk("accept: three %u %u %llu", ctx->sel, ctx->n, ctx->seed);
    return r;
}

/* A format string built on the stack rather than in .rodata. */
SEC("accept/printk_stack")
long printk_stack(struct accept_ctx *ctx)
{
    char fmt[] = "stack fmt %d";
    return bpf_trace_printk(fmt, sizeof(fmt), 42, 0, 0);
}
