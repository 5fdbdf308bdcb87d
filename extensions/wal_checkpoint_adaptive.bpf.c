/* wal_checkpoint adaptive: checkpoint work moves out of busy periods.
 *  - Idle (this commit is the only statement running, nothing queued):
 *    TRUNCATE once a quarter of the threshold has accumulated — the idle
 *    moment is free, and the WAL file shrinks back to zero bytes.
 *  - Under load: a checkpoint due at the threshold is deferred until the
 *    WAL reaches DEFER_FACTOR times the threshold or MAX_DEFER_NS passed
 *    since the last checkpoint; then PASSIVE, which never waits for
 *    readers.
 * Deferring trades disk space (a longer WAL) and reader speed (longer WAL
 * index lookups) for commit latency during bursts; the cap bounds both. */
#include <pliant_bpf.h>
#include <pliant_storage.h>

#define DEFER_FACTOR 4
#define MAX_DEFER_NS (10ull * 1000 * 1000 * 1000)

SEC("hook/wal_checkpoint")
long wal_checkpoint_adaptive(struct pl_wal_checkpoint_ctx *ctx)
{
    u32 threshold = ctx->autocheckpoint;
    if (!threshold)
        return PL_CKPT_NONE;
    u32 frames = ctx->wal_frames;
    bool idle = ctx->running <= 1 && ctx->queued == 0;
    if (idle)
        return frames >= threshold / 4 ? PL_CKPT_TRUNCATE : PL_CKPT_NONE;
    if (frames < threshold)
        return PL_CKPT_NONE;
    if (frames < DEFER_FACTOR * threshold && ctx->since_ckpt_ns < MAX_DEFER_NS)
        return PL_CKPT_NONE;
    return PL_CKPT_PASSIVE;
}
