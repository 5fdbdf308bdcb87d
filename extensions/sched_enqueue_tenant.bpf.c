/* Classify by tenant: tenant t's statements go to class t mod 4, so each
 * class is (up to the modulus) one tenant's queue. Pair with
 * sched_pick_fair_share. With more than four tenants, tenants sharing a
 * class share its slice. */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

SEC("hook/sched_enqueue")
long sched_enqueue_tenant(struct pl_sched_enqueue_ctx *ctx)
{
    return ctx->tenant % PL_SCHED_CLASSES;
}
