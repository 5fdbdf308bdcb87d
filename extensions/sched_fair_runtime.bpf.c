/* Per-tenant fair share of worker time: one policy in three programs that
 * share a map, attached together (pliantd attaches a bundle's programs to
 * the hooks their sections name; see README, "companion programs").
 *
 *   sched_enqueue  tenant t's statements go to class t mod 4
 *   query_end      the statement's server-measured run time is added to
 *                  its class's account
 *   sched_pick     a free worker serves the runnable class with the least
 *                  run time on its account
 *
 * Unlike sched_pick_fair_share, which counts turns, a tenant running
 * 100 ms statements gets no more worker time than one running 1 ms
 * statements: after one of its long statements the short-statement tenant
 * runs until its account catches up. Idle credit is bounded as in CFS: an
 * account is lifted to at least (the highest account - BURST_NS), so a
 * tenant back from idle gets at most BURST_NS of catch-up, not a monopoly.
 *
 * query_end runs concurrently on many sessions: accounts are updated with
 * atomic adds. sched_pick runs under the scheduler lock; its read-modify-
 * write of the lifted accounts races only with those adds, which at worst
 * loses one statement's time from an idle class's account. */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

#ifndef BURST_NS
#define BURST_NS 20000000ull /* 20 ms */
#endif

/* run_ns[0..3]: worker time each class consumed. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, PL_SCHED_CLASSES);
} run_ns SEC(".maps");

SEC("hook/sched_enqueue")
long fair_runtime_enqueue(struct pl_sched_enqueue_ctx *ctx)
{
    return ctx->tenant % PL_SCHED_CLASSES;
}

SEC("hook/query_end")
long fair_runtime_account(struct pl_query_end_ctx *ctx)
{
    u32 k = ctx->tenant % PL_SCHED_CLASSES;
    u64 *acct = bpf_map_lookup_elem(&run_ns, &k);
    if (acct)
        __sync_fetch_and_add(acct, ctx->elapsed_ns);
    return 0;
}

SEC("hook/sched_pick")
long fair_runtime_pick(struct pl_sched_pick_ctx *ctx)
{
    u64 acct[PL_SCHED_CLASSES];
    u64 top = 0;
#pragma unroll
    for (int c = 0; c < PL_SCHED_CLASSES; c++) {
        u32 k = c;
        u64 *a = bpf_map_lookup_elem(&run_ns, &k);
        acct[c] = a ? *a : 0;
        if (acct[c] > top)
            top = acct[c];
    }
    long best = -1;
    u64 best_ns = 0;
#pragma unroll
    for (int c = 0; c < PL_SCHED_CLASSES; c++) {
        if (ctx->runnable[c] == 0)
            continue;
        if (acct[c] + BURST_NS < top) {
            u32 k = c;
            u64 *a = bpf_map_lookup_elem(&run_ns, &k);
            if (a)
                *a = top - BURST_NS;
            acct[c] = top - BURST_NS;
        }
        if (best < 0 || acct[c] < best_ns) { /* ties: the lower class */
            best = c;
            best_ns = acct[c];
        }
    }
    return best < 0 ? 0 : best;
}
