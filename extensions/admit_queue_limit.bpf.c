/* Admission by queue length: when MAX_QUEUED statements already wait for
 * a worker, a new one is rejected (the client gets 53000 and may retry)
 * rather than queued behind them — a latency bound for the admitted ones
 * under overload. */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

#ifndef MAX_QUEUED
#define MAX_QUEUED 1
#endif

SEC("hook/admit")
long admit_queue_limit(struct pl_admit_ctx *ctx)
{
    return ctx->queue_depth >= MAX_QUEUED ? PL_ADMIT_REJECT : PL_ADMIT_ACCEPT;
}
