/* WAL checkpointing as a hookpoint (issue 5, `wal_checkpoint`; context in
 * sdk/include/pliant_storage.h).
 *
 * ckpt_attach() installs a sqlite3_wal_hook on a connection, which
 * replaces SQLite's own auto-checkpoint (itself a WAL hook). After every
 * commit the hook decides whether to checkpoint now and how (passive,
 * full, restart, truncate) from the WAL's size, the time since the
 * database's last checkpoint and the server's load; the checkpoint runs
 * right there, inside the callback, as SQLite's own auto-checkpoint does.
 * Built-in: SQLite's behaviour exactly — PASSIVE once the WAL holds at
 * least `autocheckpoint` frames (1000 by default).
 *
 * Connections keep busy_timeout 0 (engine/db.c), so FULL, RESTART and
 * TRUNCATE never wait for readers: busy, they checkpoint what they can and
 * count as busy. A failed checkpoint never fails the commit that triggered
 * it (the commit is durable already). */
#ifndef PL_ENGINE_CHECKPOINT_H
#define PL_ENGINE_CHECKPOINT_H

#include <pliant/pliant.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Databases with their own last-checkpoint clock; higher tenant ids share
 * the last one (as in engine/pcache.h). */
#define CKPT_MAX_TENANTS 64

/* WAL frames at which a checkpoint is due (SQLite's wal_autocheckpoint);
 * 0 turns automatic checkpoints off. Before any ckpt_attach(). */
void ckpt_set_autocheckpoint(uint32_t frames);

/* Where the hook's load figures come from (pliantd: its scheduler).
 * Called only when a program is attached. NULL: zeros. */
typedef void (*ckpt_load_fn)(void *user, uint32_t *running, uint32_t *queued, uint32_t *workers);
void ckpt_set_load_source(ckpt_load_fn fn, void *user);

/* Installs the WAL hook on db, a connection to tenant's database. */
void ckpt_attach(sqlite3 *db, uint32_t tenant);

int ckpt_register_hooks(pl_runtime *rt, char *err, size_t errlen);
void ckpt_unregister_hooks(void);
pl_hook *ckpt_hook(void);

struct ckpt_stats {
    uint64_t commits;         /* WAL hook calls */
    uint64_t by_mode[5];      /* checkpoints run, by enum pl_checkpoint_mode (index 0 unused) */
    uint64_t busy;            /* checkpoints that could not finish (readers, writers) */
    uint64_t errors;          /* checkpoints that failed otherwise */
    uint64_t hook_fallbacks;  /* wal_checkpoint faults: built-in used */
};
void ckpt_stats(struct ckpt_stats *out);

#endif
