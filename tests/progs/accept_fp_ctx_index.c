/* Accept corpus, kept apart because the verifier rejects it today (see
 * known_false_positives in tests/test_verifier_accept.c): a context array
 * indexed by a value checked against the array's length. */
#include <pliant_bpf.h>
#include "accept_ctx.h"

SEC("accept/ctx_index")
u64 ctx_index(struct accept_ctx *ctx)
{
    u32 i = ctx->sel;
    if (i < ACC_NCAND)
        return ctx->cand[i].key;
    return 0;
}
