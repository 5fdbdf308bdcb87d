/* Default query_progress: let every statement run (user cancels and
 * shutdown are handled by the server before the hook is asked). */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

SEC("hook/query_progress")
long progress_default(struct pl_query_progress_ctx *ctx)
{
    (void)ctx;
    return PL_PROGRESS_CONTINUE;
}
