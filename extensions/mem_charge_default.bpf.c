/* mem_charge default: exactly the built-in rule — refuse when the tenant
 * is over its configured quota or the server over its configured limit
 * (each only where one is set). */
#include <pliant_bpf.h>
#include <pliant_storage.h>

SEC("hook/mem_charge")
long mem_charge_default(struct pl_mem_charge_ctx *ctx)
{
    if (ctx->tenant_quota && ctx->tenant_bytes > ctx->tenant_quota)
        return PL_MEM_REFUSE;
    if (ctx->total_limit && ctx->total_bytes > ctx->total_limit)
        return PL_MEM_REFUSE;
    return PL_MEM_GRANT;
}
