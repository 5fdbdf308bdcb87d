/* page_fetch default: admit every page, as the built-in does. */
#include <pliant_bpf.h>
#include <pliant_pcache.h>

SEC("hook/page_fetch")
long page_fetch_default(struct pl_page_fetch_ctx *ctx)
{
    (void)ctx;
    return PL_FETCH_ADMIT;
}
