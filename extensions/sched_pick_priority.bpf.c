/* Strict priority with an anti-starvation bound: serve the lowest class
 * with a runnable job, unless some class's oldest job has waited longer
 * than STARVE_MS — then the longest-waiting such class. */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

#ifndef STARVE_MS
#define STARVE_MS 1000
#endif

SEC("hook/sched_pick")
long sched_pick_priority(struct pl_sched_pick_ctx *ctx)
{
    long first = -1, starved = -1;
    u64 starved_wait = 0;
#pragma unroll
    for (int c = 0; c < PL_SCHED_CLASSES; c++) {
        if (ctx->runnable[c] == 0)
            continue;
        if (first < 0)
            first = c;
        u64 w = ctx->oldest_wait_ns[c];
        if (w > STARVE_MS * 1000000ull && w > starved_wait) {
            starved = c;
            starved_wait = w;
        }
    }
    if (starved >= 0)
        return starved;
    return first < 0 ? 0 : first;
}
