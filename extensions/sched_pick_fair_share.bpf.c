/* Per-tenant fair share (pair with sched_enqueue_tenant, which makes each
 * class one tenant's queue): a free worker serves the runnable class that
 * has been served least, so a tenant flooding the server gets one turn per
 * round, not the whole queue, and a tenant arriving late waits for at most
 * one statement of each other tenant.
 *
 * Fairness is counted in turns, not run time: the hook sees no per-job
 * cost, and a turn is what a queue of short OLTP statements consumes. The
 * server calls sched_pick only when two or more classes are runnable, so
 * only contended turns are counted — a tenant alone on the server earns no
 * debt.
 *
 * Credit is bounded the way CFS bounds a sleeper's vruntime: a class's
 * count is lifted to at least (floor - BURST), floor being the highest
 * count any class has reached. A tenant idle for an hour therefore gets
 * BURST extra turns when it returns, not an hour's worth of monopoly.
 *
 * The server runs sched_pick under its scheduler lock, so the read-modify-
 * write of the counters below never races with another pick. */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

#ifndef BURST
#define BURST 4
#endif
#define FLOOR_SLOT PL_SCHED_CLASSES

/* served[0..3]: turns each class got under contention; served[4]: floor. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, PL_SCHED_CLASSES + 1);
} served SEC(".maps");

SEC("hook/sched_pick")
long sched_pick_fair_share(struct pl_sched_pick_ctx *ctx)
{
    u32 fk = FLOOR_SLOT;
    u64 *floorp = bpf_map_lookup_elem(&served, &fk);
    if (!floorp)
        return 0;
    u64 floor = *floorp;
    long best = -1;
    u64 best_n = 0;
    /* Unrolled: each array element is its own context field, read at a
     * constant offset. */
#pragma unroll
    for (int c = 0; c < PL_SCHED_CLASSES; c++) {
        if (ctx->runnable[c] == 0)
            continue;
        u32 k = c;
        u64 *n = bpf_map_lookup_elem(&served, &k);
        if (!n)
            continue;
        if (*n + BURST < floor)
            *n = floor - BURST;
        if (best < 0 || *n < best_n) { /* ties: the lower class */
            best = c;
            best_n = *n;
        }
    }
    if (best < 0)
        return 0; /* not reached: the server calls with >= 2 runnable classes */
    u32 bk = (u32)best;
    u64 *n = bpf_map_lookup_elem(&served, &bk);
    if (n)
        *n = best_n + 1;
    if (best_n + 1 > floor)
        *floorp = best_n + 1;
    return best;
}
