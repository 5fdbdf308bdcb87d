/* page_unpin answers for tests/test_pcache_hooks.c: pages whose number
 * ends in 0 are dropped on release, odd pages are kept at the cold end of
 * the pool's list, the rest at the head. */
#include <pliant_bpf.h>
#include <pliant_pcache.h>

SEC("hook/page_unpin")
long unpin_answers(struct pl_page_unpin_ctx *ctx)
{
    if (ctx->pgno % 10 == 0)
        return PL_UNPIN_DROP;
    return ctx->pgno % 2 ? PL_UNPIN_KEEP_COLD : PL_UNPIN_KEEP;
}
