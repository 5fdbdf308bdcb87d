#include "introspect.h"

#include "db.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static eng_introspect_source source;
static void *source_user;

void eng_introspect_set_source(eng_introspect_source fn, void *user)
{
    source = fn;
    source_user = user;
}

struct itable {
    const char *name, *schema;
    const char *const *cols;
    int ncols;
};

static const char *const hook_cols[] = {"hook",   "attached", "version",  "program", "invocations",
                                        "faults", "fallbacks", "avg_ns", "p99_ns"};
static const char *const ext_cols[] = {"hook",      "version",   "sha256",     "key_id",
                                       "active",    "stored_at", "loaded_at",  "description"};
static const char *const map_cols[] = {"map", "hook", "type", "entries", "max_entries"};
#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

static const struct itable tables[] = {
    [ENG_I_HOOKS] = {"pliant_hooks",
                     "CREATE TABLE x(hook TEXT, attached INTEGER, version TEXT, program TEXT, invocations BIGINT, "
                     "faults BIGINT, fallbacks BIGINT, avg_ns BIGINT, p99_ns BIGINT)",
                     hook_cols, N(hook_cols)},
    [ENG_I_EXTENSIONS] = {"pliant_extensions",
                          "CREATE TABLE x(hook TEXT, version TEXT, sha256 TEXT, key_id TEXT, active INTEGER, "
                          "stored_at TEXT, loaded_at TEXT, description TEXT)",
                          ext_cols, N(ext_cols)},
    [ENG_I_MAPS] = {"pliant_maps", "CREATE TABLE x(map TEXT, hook TEXT, type TEXT, entries BIGINT, max_entries BIGINT)",
                    map_cols, N(map_cols)},
};

struct ivtab {
    sqlite3_vtab base;
    enum eng_itable which;
};

struct icursor {
    sqlite3_vtab_cursor base;
    json_t *rows;
    size_t row;
};

static int i_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err)
{
    (void)argc;
    (void)argv;
    (void)err;
    enum eng_itable which = (enum eng_itable)(intptr_t)aux;
    eng_internal_enter();
    int rc = sqlite3_declare_vtab(db, tables[which].schema);
    eng_internal_leave();
    if (rc != SQLITE_OK)
        return rc;
    struct ivtab *t = sqlite3_malloc(sizeof *t);
    if (!t)
        return SQLITE_NOMEM;
    memset(t, 0, sizeof *t);
    t->which = which;
    *out = &t->base;
    return SQLITE_OK;
}

static int i_disconnect(sqlite3_vtab *v)
{
    sqlite3_free(v);
    return SQLITE_OK;
}

static int i_best_index(sqlite3_vtab *v, sqlite3_index_info *info)
{
    (void)v;
    info->estimatedCost = 100; /* a full scan of a handful of rows; SQLite filters */
    return SQLITE_OK;
}

static int i_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out)
{
    (void)v;
    struct icursor *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static int i_close(sqlite3_vtab_cursor *cur)
{
    struct icursor *c = (struct icursor *)cur;
    json_decref(c->rows);
    sqlite3_free(c);
    return SQLITE_OK;
}

/* One snapshot per scan: a query sees a consistent set of rows. */
static int i_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxs, int argc, sqlite3_value **argv)
{
    (void)idx, (void)idxs, (void)argc, (void)argv;
    struct icursor *c = (struct icursor *)cur;
    json_decref(c->rows);
    c->rows = source ? source(source_user, ((struct ivtab *)cur->pVtab)->which) : NULL;
    if (!json_is_array(c->rows)) {
        json_decref(c->rows);
        c->rows = json_array();
    }
    c->row = 0;
    return c->rows ? SQLITE_OK : SQLITE_NOMEM;
}

static int i_next(sqlite3_vtab_cursor *cur)
{
    ((struct icursor *)cur)->row++;
    return SQLITE_OK;
}

static int i_eof(sqlite3_vtab_cursor *cur)
{
    struct icursor *c = (struct icursor *)cur;
    return c->row >= json_array_size(c->rows);
}

static int i_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
    struct icursor *c = (struct icursor *)cur;
    const struct itable *t = &tables[((struct ivtab *)cur->pVtab)->which];
    json_t *v = col >= 0 && col < t->ncols ? json_object_get(json_array_get(c->rows, c->row), t->cols[col]) : NULL;
    if (json_is_string(v))
        sqlite3_result_text(ctx, json_string_value(v), -1, SQLITE_TRANSIENT);
    else if (json_is_integer(v))
        sqlite3_result_int64(ctx, json_integer_value(v));
    else if (json_is_boolean(v))
        sqlite3_result_int(ctx, json_is_true(v));
    else
        sqlite3_result_null(ctx);
    return SQLITE_OK;
}

static int i_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *out)
{
    *out = (sqlite3_int64)((struct icursor *)cur)->row;
    return SQLITE_OK;
}

/* xCreate NULL: eponymous-only (exists in every database, cannot be
 * CREATEd); no xUpdate: read-only. */
static const sqlite3_module module = {
    .iVersion = 1,
    .xConnect = i_connect,
    .xBestIndex = i_best_index,
    .xDisconnect = i_disconnect,
    .xOpen = i_open,
    .xClose = i_close,
    .xFilter = i_filter,
    .xNext = i_next,
    .xEof = i_eof,
    .xColumn = i_column,
    .xRowid = i_rowid,
};

int eng_introspect_register(sqlite3 *db)
{
    for (int i = 0; i < N(tables); i++) {
        int rc = sqlite3_create_module_v2(db, tables[i].name, &module, (void *)(intptr_t)i, NULL);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}
