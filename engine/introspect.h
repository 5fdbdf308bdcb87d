/* Read-only SQL tables over pliantd's extensions, in every database:
 *
 *   pliant_hooks       hook, attached, version, program, invocations, faults, fallbacks, avg_ns, p99_ns
 *   pliant_extensions  hook, version, sha256, key_id, active, stored_at, loaded_at, description
 *   pliant_maps        map, hook, type, entries, max_entries
 *
 * SQLite eponymous virtual tables (no CREATE needed, no writes possible):
 * `select * from pliant_hooks` from psql. The engine knows nothing of
 * hooks: each query asks the source the server installed for the table's
 * rows, as a JSON array of objects whose keys are the column names. */
#ifndef PL_ENGINE_INTROSPECT_H
#define PL_ENGINE_INTROSPECT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>

enum eng_itable { ENG_I_HOOKS, ENG_I_EXTENSIONS, ENG_I_MAPS };

/* Returns a new reference to the rows of table (NULL: none). Called from
 * the worker thread running the query. */
typedef json_t *(*eng_introspect_source)(void *user, enum eng_itable table);

/* Installed once at start-up, before connections open. */
void eng_introspect_set_source(eng_introspect_source fn, void *user);
/* Registers the tables on a connection (eng_db_open does). */
int eng_introspect_register(sqlite3 *db);

#endif
