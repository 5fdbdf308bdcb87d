/* Classify by fingerprint history: statements whose last run was short go
 * to the front classes. Pair with sched_pick_priority.
 *   class 0: last run under 1 ms
 *   class 1: unknown (never seen, or evicted from the server's table), or
 *            under 100 ms
 *   class 2: 100 ms or more
 * Transaction control goes to class 0: it is cheap and, by ending a
 * transaction, releases locks others wait for. */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

SEC("hook/sched_enqueue")
long sched_enqueue_short_first(struct pl_sched_enqueue_ctx *ctx)
{
    u32 k = ctx->kind;
    if (k == PL_KIND_BEGIN || k == PL_KIND_COMMIT || k == PL_KIND_ROLLBACK)
        return 0;
    u64 c = ctx->recent_cost_ns;
    if (c == 0)
        return 1;
    if (c < 1000000ull)
        return 0;
    if (c < 100000000ull)
        return 1;
    return 2;
}
