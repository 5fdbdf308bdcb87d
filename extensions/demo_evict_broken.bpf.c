/* Demo of a misbehaving policy: always answers an index out of range. The
 * host counts each answer as a fault, uses its default, and the circuit
 * breaker detaches the policy. */
#include <pliant_bpf.h>
#include <pliant_demo.h>

SEC("hook/demo_evict")
long evict_broken(struct demo_evict_ctx *ctx)
{
    return ctx->ncand + 7;
}
