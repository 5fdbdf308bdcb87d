/* SQLite connections for tenant databases: one file per database, WAL mode,
 * durability pragmas, the SQL functions PostgreSQL clients expect. */
#ifndef PL_ENGINE_DB_H
#define PL_ENGINE_DB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* PRAGMA synchronous levels; FULL is the default because with WAL it is the
 * level at which a commit acknowledged to the client survives power loss. */
enum eng_sync { ENG_SYNC_OFF = 0, ENG_SYNC_NORMAL = 1, ENG_SYNC_FULL = 2, ENG_SYNC_EXTRA = 3 };

/* A further authorizer, consulted for actions the built-in rules allow
 * (see eng_db_open): returns SQLITE_OK, SQLITE_DENY or SQLITE_IGNORE. */
struct eng_authorizer {
    int (*fn)(void *user, int action, const char *a1, const char *a2, const char *db, const char *trigger);
    void *user;
};

struct eng_db_opts {
    enum eng_sync synchronous;
    /* NULL: built-in rules only. Must outlive the connection (SQLite keeps
     * the pointer). */
    const struct eng_authorizer *authorizer;
    const char *dbname;   /* reported by current_database() */
    const char *username; /* reported by current_user() */
    uint32_t tenant;      /* for the WAL hook (engine/checkpoint.h) */
};

/* An error for the client: SQLSTATE and a message. */
struct eng_err {
    char sqlstate[6];
    char msg[512];
};
void eng_err_set(struct eng_err *e, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* From the connection's last error (code, message, SQLSTATE mapping). */
void eng_err_from_db(struct eng_err *e, sqlite3 *db, int rc);

/* true if NAME is a valid database name: [A-Za-z0-9_]{1,63}. The rule keeps
 * a name from ever escaping the data directory or naming a special file. */
bool eng_dbname_valid(const char *name);

/* Builds "<datadir>/<name>.db" into out; false if it does not fit. */
bool eng_db_path(const char *datadir, const char *name, char *out, size_t outlen);

/* Creates the file if missing and switches it to WAL (persistent in the
 * file). Run once per database at start-up. */
int eng_db_init_file(const char *path, char *err, size_t errlen);

/* Opens a per-session connection (the file must exist). */
int eng_db_open(const char *path, const struct eng_db_opts *o, sqlite3 **out, char *err, size_t errlen);
void eng_db_close(sqlite3 *db);

/* Makes the connection's emulated PostgreSQL catalog current before a
 * statement that reads it (tr_result.catalog; see pg_catalog.h).
 * databases: what pg_database lists. */
int eng_db_catalog_refresh(sqlite3 *db, const char *const *databases, int ndatabases, struct eng_err *e);

/* Marks every prepared statement of db for re-preparation (SQLite does it
 * when the authorizer is set again): the next step of each re-runs the
 * authorizer, so a changed authorization policy reaches statements
 * prepared before the change. A statement already running finishes as
 * prepared. a: the connection's authorizer, as given to eng_db_open. */
void eng_db_reauthorize(sqlite3 *db, const struct eng_authorizer *a);

/* Between enter and leave (nestable, per thread) the engine runs SQL on its
 * own behalf: the catalog's temp tables, virtual-table declarations (which
 * SQLite reports as writes to sqlite_master). The authorizer then applies
 * only the built-in rules, not the caller's (the authorize hook), which
 * must not refuse the engine's own bookkeeping. */
void eng_internal_enter(void);
void eng_internal_leave(void);

/* The PostgreSQL SQLSTATE for a failed SQLite call (extended result code and
 * message), e.g. 23505 for a UNIQUE violation. */
const char *eng_sqlstate(int extended_rc, const char *msg);

#endif
