#include "db.h"
#include "pg_catalog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "introspect.h"
#include "storage.h"

bool eng_dbname_valid(const char *name)
{
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return n >= 1 && n <= 63;
}

bool eng_db_path(const char *datadir, const char *name, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s.db", datadir, name);
    return n > 0 && (size_t)n < outlen;
}

int eng_db_init_file(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10000);
        char *msg = NULL;
        rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
            snprintf(err, errlen, "%s: cannot enable WAL: %s", path, msg ? msg : sqlite3_errstr(rc));
            sqlite3_free(msg);
            sqlite3_close(db);
            return -1;
        }
    } else {
        snprintf(err, errlen, "%s: cannot create or open: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_close(db);
    return 0;
}

static void fn_text(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sqlite3_result_text(ctx, sqlite3_user_data(ctx), -1, SQLITE_TRANSIENT);
}

static void fn_version(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    char v[128];
    snprintf(v, sizeof v, "PostgreSQL 15.0 (Pliant) on SQLite %s", sqlite3_libversion());
    sqlite3_result_text(ctx, v, -1, SQLITE_TRANSIENT);
}

/* Tenant isolation and durability are server policy, not the client's:
 * ATTACH would open another tenant's file (or any file), and PRAGMAs that
 * write could turn off synchronous commits or the journal. Read-only
 * introspection PRAGMAs stay available. These rules come first; only what
 * they allow reaches the caller's authorizer (the `authorize` hookpoint),
 * which may deny or ignore more but never undo a built-in denial. */
static int builtin_authorizer(int action, const char *a1, const char *a2)
{
    switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
        return SQLITE_DENY;
    case SQLITE_PRAGMA: {
        static const char *const with_arg[] = {"table_info", "table_xinfo", "index_list", "index_info",
                                               "index_xinfo", "foreign_key_list", "foreign_key_check",
                                               "integrity_check", "quick_check", "table_list", NULL};
        static const char *const read_only[] = {"user_version", "page_count", "page_size", "journal_mode",
                                                "synchronous", "foreign_keys", "encoding", "freelist_count",
                                                "schema_version", "compile_options", "function_list",
                                                "pragma_list", NULL};
        for (int i = 0; with_arg[i]; i++)
            if (sqlite3_stricmp(a1, with_arg[i]) == 0)
                return SQLITE_OK;
        for (int i = 0; read_only[i]; i++)
            if (sqlite3_stricmp(a1, read_only[i]) == 0 && a2 == NULL)
                return SQLITE_OK;
        return SQLITE_DENY;
    }
    default:
        return SQLITE_OK;
    }
}

static _Thread_local int internal_depth;

void eng_internal_enter(void) { internal_depth++; }
void eng_internal_leave(void) { internal_depth--; }

static int authorizer(void *user, int action, const char *a1, const char *a2, const char *a3, const char *a4)
{
    int rc = builtin_authorizer(action, a1, a2);
    const struct eng_authorizer *a = user;
    if (rc != SQLITE_OK || !a || internal_depth)
        return rc;
    return a->fn(a->user, action, a1, a2, a3, a4);
}

int eng_db_open(const char *path, const struct eng_db_opts *o, sqlite3 **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    /* NOMUTEX: a session's connection is used by one thread at a time (the
     * session thread or the worker running its job), never concurrently. */
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_extended_result_codes(db, 1);
    /* No busy waiting inside SQLite: a worker that slept on a lock would
     * hold a pool thread while the lock holder's next statement waits for
     * one. The scheduler requeues busy statements instead. */
    sqlite3_busy_timeout(db, 5000); /* only while configuring: see below */
    static const char *const sync_names[] = {"OFF", "NORMAL", "FULL", "EXTRA"};
    char sql[256];
    snprintf(sql, sizeof sql,
             "PRAGMA synchronous=%s; PRAGMA foreign_keys=ON; PRAGMA recursive_triggers=ON;",
             sync_names[o->synchronous & 3]);
    char *msg = NULL;
    rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot configure %s: %s", path, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close(db);
        return -1;
    }
    /* sqlite3_user_data strings must outlive the connection: SQLite copies
     * nothing, so the duplicates are freed by the destructor argument. */
    char *dbn = sqlite3_mprintf("%s", o->dbname ? o->dbname : "");
    char *usr = sqlite3_mprintf("%s", o->username ? o->username : "");
    int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    sqlite3_create_function_v2(db, "version", 0, flags, NULL, fn_version, NULL, NULL, NULL);
    sqlite3_create_function_v2(db, "current_database", 0, flags, dbn, fn_text, NULL, NULL, sqlite3_free);
    sqlite3_create_function_v2(db, "current_user", 0, flags, usr, fn_text, NULL, NULL, sqlite3_free);
    if (pgcat_register_functions(db) != 0) {
        snprintf(err, errlen, "cannot register catalog functions on %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    eng_introspect_register(db);
    sqlite3_busy_timeout(db, 0);
    sqlite3_set_authorizer(db, authorizer, (void *)o->authorizer);
    storage_attach_connection(db, o->tenant);
    *out = db;
    return 0;
}

int eng_db_catalog_refresh(sqlite3 *db, const char *const *databases, int ndatabases, struct eng_err *e)
{
    char msg[256];
    eng_internal_enter();
    int rc = pgcat_refresh(db, databases, ndatabases, msg, sizeof msg);
    eng_internal_leave();
    if (rc != 0)
        eng_err_set(e, "XX000", "%s", msg);
    return rc;
}

void eng_db_reauthorize(sqlite3 *db, const struct eng_authorizer *a)
{
    sqlite3_set_authorizer(db, authorizer, (void *)a);
}

void eng_db_close(sqlite3 *db)
{
    if (!db)
        return;
    /* Statements are finalized by their owners; close_v2 keeps the
     * connection alive until the last one is, so a leak cannot crash. */
    sqlite3_close_v2(db);
}

const char *eng_sqlstate(int erc, const char *msg)
{
    if (!msg)
        msg = "";
    switch (erc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return "23505";
    case SQLITE_CONSTRAINT_NOTNULL:
        return "23502";
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return "23503";
    case SQLITE_CONSTRAINT_CHECK:
        return "23514";
    default:
        break;
    }
    switch (erc & 0xff) {
    case SQLITE_CONSTRAINT:
        return "23000";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return "40001";
    case SQLITE_INTERRUPT:
        return "57014";
    case SQLITE_READONLY:
        return "25006";
    case SQLITE_FULL:
        return "53100";
    case SQLITE_NOMEM:
        return "53200";
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        return "58030";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return "XX001";
    case SQLITE_TOOBIG:
        return "54000";
    case SQLITE_MISMATCH:
        return "42804";
    case SQLITE_RANGE:
        return "08P01";
    case SQLITE_AUTH:
        return "42501";
    case SQLITE_ERROR:
        break;
    default:
        return "XX000";
    }
    /* SQLITE_ERROR covers every SQL-level failure; the message is the only
     * discriminator SQLite offers. */
    if (strstr(msg, "syntax error") || strstr(msg, "incomplete input") || strstr(msg, "unrecognized token"))
        return "42601";
    if (strstr(msg, "no such table"))
        return "42P01";
    if (strstr(msg, "no such column"))
        return "42703";
    if (strstr(msg, "no such function") || strstr(msg, "wrong number of arguments"))
        return "42883";
    if (strstr(msg, "already exists"))
        return "42P07";
    if (strstr(msg, "unknown database"))
        return "3F000";
    if (strstr(msg, "datatype mismatch"))
        return "42804";
    return "42000";
}

void eng_err_set(struct eng_err *e, const char *sqlstate, const char *fmt, ...)
{
    snprintf(e->sqlstate, sizeof e->sqlstate, "%s", sqlstate);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

void eng_err_from_db(struct eng_err *e, sqlite3 *db, int rc)
{
    int erc = db ? sqlite3_extended_errcode(db) : rc;
    if ((erc & 0xff) != (rc & 0xff))
        erc = rc;
    const char *msg = db && (erc & 0xff) == (sqlite3_errcode(db) & 0xff) ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    eng_err_set(e, eng_sqlstate(erc, msg), "%s", msg);
}
