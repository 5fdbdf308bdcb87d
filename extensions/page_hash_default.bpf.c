/* page_hash default: the page number, which is the pool's built-in hash
 * (consecutive pages fill consecutive buckets). Attached or not, every
 * page lands in the same bucket (tests/test_pcache_hooks.c checks it). */
#include <pliant_bpf.h>
#include <pliant_pcache.h>

SEC("hook/page_hash")
long page_hash_default(struct pl_page_hash_ctx *ctx)
{
    return ctx->pgno;
}
