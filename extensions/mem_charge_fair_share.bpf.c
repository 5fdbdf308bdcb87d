/* mem_charge fair share: per-tenant quotas as configured, but when the
 * server as a whole is over its memory limit, only tenants holding more
 * than their fair share of it (limit / tenants configured) are refused.
 * The built-in refuses whoever allocates next once the limit is reached,
 * so one tenant's runaway query starves every other tenant; here the
 * runaway tenant is the one that gets SQLSTATE 53200. */
#include <pliant_bpf.h>
#include <pliant_storage.h>

SEC("hook/mem_charge")
long mem_charge_fair_share(struct pl_mem_charge_ctx *ctx)
{
    if (ctx->tenant_quota && ctx->tenant_bytes > ctx->tenant_quota)
        return PL_MEM_REFUSE;
    if (!ctx->total_limit || ctx->total_bytes <= ctx->total_limit)
        return PL_MEM_GRANT;
    u64 tenants = ctx->ntenants ? ctx->ntenants : 1;
    return ctx->tenant_bytes > ctx->total_limit / tenants ? PL_MEM_REFUSE : PL_MEM_GRANT;
}
