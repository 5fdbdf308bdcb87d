/* page_hash that is not a function of the key: every call returns another
 * bucket. The pool's table must stay correct (tests/test_pcache_hooks.c). */
#include <pliant_bpf.h>
#include <pliant_pcache.h>

static u64 calls;

SEC("hook/page_hash")
long hash_counter(struct pl_page_hash_ctx *ctx)
{
    /* page_hash runs outside the pool mutex: count atomically. */
    return ctx->pgno + __sync_fetch_and_add(&calls, 1);
}
