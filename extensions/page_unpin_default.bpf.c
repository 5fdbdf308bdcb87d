/* page_unpin default: keep every released page at the head of the pool's
 * list, as the built-in does. */
#include <pliant_bpf.h>
#include <pliant_pcache.h>

SEC("hook/page_unpin")
long page_unpin_default(struct pl_page_unpin_ctx *ctx)
{
    (void)ctx;
    return PL_UNPIN_KEEP;
}
