/* wal_checkpoint default: SQLite's auto-checkpoint — a PASSIVE checkpoint
 * once the WAL holds autocheckpoint frames (1000 unless configured). */
#include <pliant_bpf.h>
#include <pliant_storage.h>

SEC("hook/wal_checkpoint")
long wal_checkpoint_default(struct pl_wal_checkpoint_ctx *ctx)
{
    if (ctx->autocheckpoint && ctx->wal_frames >= ctx->autocheckpoint)
        return PL_CKPT_PASSIVE;
    return PL_CKPT_NONE;
}
