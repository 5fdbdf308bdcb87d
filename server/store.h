/* The extension store: every package version pliantd accepted, the active
 * set (which version each hook runs), each hook's history and the audit
 * log, all under <data_dir>/extensions/:
 *
 *   packages/<hook>/<version>.pkg   the signed package as pushed
 *   state.json                      {"format": 1, "active": {hook: version},
 *                                    "history": {hook: [entries, oldest first]}}
 *   audit.log                       one JSON object per line, every change
 *                                   and every rejected request
 *
 * state.json is replaced atomically (write, fsync, rename, fsync the
 * directory), so after a crash it holds the old or the new active set.
 *
 * Every change goes: parse and check the package (size, format, sha256),
 * check its signature against the trusted keys (<trusted_keys_dir>/NAME.pub,
 * read at each change so keys come and go without a restart), load it for
 * its hook (the verifier, then the JIT), persist (package file, then
 * state.json), attach (atomic swap; map state carries over from the
 * replaced program where compatible). A failure at any step leaves the
 * running program, the files and the in-memory state as they were.
 *
 * At start-up store_restore() attaches the persisted active set; a package
 * that is missing, corrupt, unsigned by a trusted key or rejected by the
 * verifier is skipped with a logged error and its hook keeps the built-in
 * behaviour. Hooks attached by --attach / `attach =` keep that program
 * (the configuration wins over the store for the hooks it names).
 *
 * All functions are thread-safe (one mutex: changes are serialised). */
#ifndef PL_SERVER_STORE_H
#define PL_SERVER_STORE_H

#include <jansson.h>
#include <pliant/pliant.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../manager/keys.h"

struct store;

struct store_opts {
    pl_runtime *rt;
    const char *data_dir;
    const char *trusted_keys_dir; /* "" or NULL: <data_dir>/trusted_keys */
};

/* The outcome of a change, for the admin API's reply and the audit log. */
struct store_result {
    int status;              /* HTTP status: 200 done, 4xx refused, 500 server-side failure */
    char error[1024];        /* why, when status != 200 */
    char hook[64], version[33], sha256[65], key_id[KEY_ID_HEX];
    char previous[33];       /* version active before ("" none) */
    bool unchanged;          /* already active: nothing to do */
    uint64_t load_ns;        /* ELF load, verification and JIT */
    uint64_t persist_ns;     /* package file and state.json, fsync'ed */
    uint64_t attach_ns;      /* the swap itself */
    uint64_t total_ns;       /* from the request reaching the store to active */
    bool verify_cached;      /* the runtime had verified this program before */
};

int store_open(const struct store_opts *o, struct store **out, char *err, size_t errlen);
void store_restore(struct store *st);
void store_close(struct store *st);

/* who: the requester, for the audit log ("uid=1000", "watch:foo.pkg").
 * Each returns 0 when r->status is 200. */
int store_push(struct store *st, const uint8_t *data, size_t len, const char *who, struct store_result *r);
int store_detach(struct store *st, const char *hook, const char *who, struct store_result *r);
/* version NULL: the version active before the current one (or, when the
 * hook is detached, the last one that was active). */
int store_rollback(struct store *st, const char *hook, const char *version, const char *who,
                   struct store_result *r);
/* Records a refusal that never reached the store (bad token, too large). */
void store_audit_refusal(struct store *st, const char *action, const char *who, int status, const char *error);

/* What the store knows about a hook's active program. */
struct store_active {
    char version[33], sha256[65], key_id[KEY_ID_HEX];
    char origin[48];         /* "store", "config" (--attach), "with HOOK" (a companion of HOOK's
                              * package, see catalog_load) or "" (none) */
    int64_t since_ms;        /* wall clock, ms, when it was attached; 0 unknown */
};
void store_active(struct store *st, const char *hook, struct store_active *out);

/* JSON views for the admin API and the SQL tables (new references). */
json_t *store_extensions_json(struct store *st); /* stored versions, each with "active" and "loaded_at" */
json_t *store_history_json(struct store *st, const char *hook);
json_t *store_audit_json(struct store *st, size_t limit); /* the last `limit` lines */

/* Counters for /metrics. */
void store_counts(struct store *st, uint64_t *accepted, uint64_t *rejected);

#endif
