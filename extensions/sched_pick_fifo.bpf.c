/* Default sched_pick: serve the class whose oldest runnable job has waited
 * longest (ties to the lower class) — one FIFO across classes, exactly the
 * built-in choice. */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

SEC("hook/sched_pick")
long sched_pick_fifo(struct pl_sched_pick_ctx *ctx)
{
    long best = 0;
    u64 best_wait = 0;
    bool found = false;
    /* Unrolled: each array element is its own context field and must be
     * read at a constant offset. */
#pragma unroll
    for (int c = 0; c < PL_SCHED_CLASSES; c++) {
        if (ctx->runnable[c] == 0)
            continue;
        u64 w = ctx->oldest_wait_ns[c];
        if (!found || w > best_wait) {
            best = c;
            best_wait = w;
            found = true;
        }
    }
    return best;
}
