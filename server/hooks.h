/* pliantd's query-level hookpoints (issue 4): registration in the server's
 * runtime at start-up, `--attach HOOK=FILE.o[:SECTION]`, and the shared
 * pieces the call sites use. The contexts are in sdk/include/pliant_hooks.h.
 *
 * Call sites (each falls back to the built-in behaviour unless the program
 * ran and gave a valid answer):
 *   sched_enqueue, admit  server/scheduler.c  sched_run()
 *   sched_pick            server/scheduler.c  pick()
 *   query_progress        server/exec.c       exec_progress()
 *   query_end             server/session.c    run_job()
 *   authorize             server/hooks.c      hooks_authorize(), called by
 *                                             engine/db.c's authorizer
 *
 * Built with -DPLIANT_NO_HOOKS (make PLIANT_HOOKS=0) every call site is
 * compiled out: the baseline for overhead measurements. */
#ifndef PL_SERVER_HOOKS_H
#define PL_SERVER_HOOKS_H

#include <pliant/pliant.h>
#include <pliant_hooks.h>
#include <stddef.h>
#include <stdint.h>

enum hook_id { HK_SCHED_ENQUEUE, HK_SCHED_PICK, HK_ADMIT, HK_QUERY_PROGRESS, HK_QUERY_END, HK_AUTHORIZE, HK_COUNT };

/* Resolved once by hooks_register(); read-only afterwards, so call sites
 * use them without locks. */
extern pl_hook *hooks_tab[HK_COUNT];

/* Registers every hookpoint in rt. */
int hooks_register(pl_runtime *rt, char *err, size_t errlen);
/* Loads FILE.o verified for HOOK and attaches its program; spec is
 * "HOOK=FILE.o[:SECTION]". Without SECTION the object must hold one
 * program, or one in section "hook/HOOK". HOOK is any hook registered in
 * rt, by name: these and the storage layer's (engine/storage.h). */
int hooks_attach_spec(pl_runtime *rt, const char *spec, char *err, size_t errlen);

/* Run time of a fingerprint's last execution (0: unknown), for
 * sched_enqueue's recent_cost_ns. A lossy direct-mapped table: a hint, not
 * an account. */
void hooks_cost_record(uint64_t fingerprint, uint64_t ns);
uint64_t hooks_cost_lookup(uint64_t fingerprint);

/* engine/db.c's authorizer callback (struct eng_authorizer); user points at
 * the session's tenant index (an int). Returns SQLITE_OK/DENY/IGNORE. */
int hooks_authorize(void *user, int action, const char *a1, const char *a2, const char *db, const char *trigger);

/* Logs, at shutdown, one `hook_map` line per map of each attached program
 * whose keys and values are 4- or 8-byte integers: its non-zero entries as
 * key:value (per-thread arrays summed over threads). The only read-only
 * window on a policy's maps until a SQL-visible one exists (issue 6), e.g.
 * query_end_latency_hist's histogram. Call before the workers stop: maps
 * still change while statements run. */
void hooks_log_maps(void);

#endif
