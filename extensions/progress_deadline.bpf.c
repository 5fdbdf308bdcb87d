/* Deadline canceller: a statement still running DEADLINE_MS after it
 * started on its worker is canceled (the client gets 57014). Statements of
 * every kind are covered: a runaway UPDATE holds the write lock. */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

#ifndef DEADLINE_MS
#define DEADLINE_MS 500
#endif

SEC("hook/query_progress")
long progress_deadline(struct pl_query_progress_ctx *ctx)
{
    return ctx->elapsed_ns > DEADLINE_MS * 1000000ull ? PL_PROGRESS_CANCEL : PL_PROGRESS_CONTINUE;
}
