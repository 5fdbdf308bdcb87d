/* PostgreSQL's set-returning functions that clients use in FROM, as
 * SQLite table-valued functions (eponymous virtual tables):
 *   generate_series(start, stop[, step])  integers; column "value"
 *   unnest(array)                         elements of a '{...}' array text
 *   pg_partition_ancestors(oid)           the relation itself (no partitions)
 * sql_rewrite.c turns "fn(...) alias" into a subquery whose column is
 * named alias, since PostgreSQL lets the alias stand for the value. */
#include "pg_srf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "pg_array.h"

enum srf_kind { SRF_SERIES, SRF_UNNEST, SRF_ANCESTORS };
enum { COL_VALUE, COL_ARG0, COL_ARG1, COL_ARG2 };

struct srf_vtab {
    sqlite3_vtab base;
    enum srf_kind kind;
};

struct srf_cursor {
    sqlite3_vtab_cursor base;
    enum srf_kind kind;
    long long cur, stop, step, row;
    char *array;        /* SRF_UNNEST: the array text */
    struct pl_buf elem; /* SRF_UNNEST: the current element */
    bool elem_null, eof;
};

static int srf_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                       char **err)
{
    (void)argc, (void)argv, (void)err;
    enum srf_kind kind = (enum srf_kind)(intptr_t)aux;
    eng_internal_enter(); /* the declaration is not the session's doing */
    int rc = sqlite3_declare_vtab(db, kind == SRF_SERIES
                                          ? "CREATE TABLE x(value, start HIDDEN, stop HIDDEN, step HIDDEN)"
                                          : "CREATE TABLE x(value, arg HIDDEN)");
    eng_internal_leave();
    if (rc != SQLITE_OK)
        return rc;
    struct srf_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v)
        return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->kind = kind;
    *out = &v->base;
    return SQLITE_OK;
}

static int srf_disconnect(sqlite3_vtab *v)
{
    sqlite3_free(v);
    return SQLITE_OK;
}

/* Every argument must be given as an equality constraint on its hidden
 * column; idxNum is the bitmask of those present, argv in column order. */
static int srf_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
    struct srf_vtab *v = (struct srf_vtab *)vt;
    int nargs = v->kind == SRF_SERIES ? 3 : 1, required = v->kind == SRF_SERIES ? 3 : 1; /* bitmask */
    int pos[3] = {-1, -1, -1};
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        int arg = c->iColumn - COL_ARG0;
        if (arg < 0 || arg >= nargs || c->op != SQLITE_INDEX_CONSTRAINT_EQ)
            continue;
        if (!c->usable)
            return SQLITE_CONSTRAINT;
        pos[arg] = i;
    }
    int mask = 0, n = 0;
    for (int a = 0; a < nargs; a++)
        if (pos[a] >= 0) {
            info->aConstraintUsage[pos[a]].argvIndex = ++n;
            info->aConstraintUsage[pos[a]].omit = 1;
            mask |= 1 << a;
        }
    if ((mask & required) != required) {
        vt->zErrMsg = sqlite3_mprintf("set-returning function: missing argument");
        return SQLITE_ERROR;
    }
    info->idxNum = mask;
    info->estimatedCost = 10;
    return SQLITE_OK;
}

static int srf_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
    struct srf_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    c->kind = ((struct srf_vtab *)vt)->kind;
    *out = &c->base;
    return SQLITE_OK;
}

static void unnest_clear(struct srf_cursor *c)
{
    free(c->array);
    c->array = NULL;
    pl_buf_free(&c->elem);
}

static int srf_close(sqlite3_vtab_cursor *cur)
{
    unnest_clear((struct srf_cursor *)cur);
    sqlite3_free(cur);
    return SQLITE_OK;
}

static void unnest_load(struct srf_cursor *c)
{
    c->elem.len = 0;
    c->eof = !pg_array_elem(c->array, c->row, &c->elem, &c->elem_null);
}

static int srf_next(sqlite3_vtab_cursor *cur)
{
    struct srf_cursor *c = (struct srf_cursor *)cur;
    c->row++;
    if (c->kind == SRF_SERIES) {
        c->cur += c->step;
        c->eof = c->step > 0 ? c->cur > c->stop : c->cur < c->stop;
    } else if (c->kind == SRF_UNNEST) {
        unnest_load(c);
    } else {
        c->eof = true;
    }
    return SQLITE_OK;
}

static int srf_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxstr, int argc, sqlite3_value **argv)
{
    (void)idxstr;
    struct srf_cursor *c = (struct srf_cursor *)cur;
    c->row = 1;
    if (c->kind == SRF_SERIES) {
        int a = 0;
        for (int k = 0; k < argc; k++)
            if (sqlite3_value_type(argv[k]) == SQLITE_NULL)
                c->eof = true;
        c->cur = sqlite3_value_int64(argv[a++]);
        c->stop = sqlite3_value_int64(argv[a++]);
        c->step = (idx & 4) && a < argc ? sqlite3_value_int64(argv[a]) : 1;
        if (c->step == 0) {
            cur->pVtab->zErrMsg = sqlite3_mprintf("step size cannot equal zero");
            return SQLITE_ERROR;
        }
        c->eof = c->eof || (c->step > 0 ? c->cur > c->stop : c->cur < c->stop);
        return SQLITE_OK;
    }
    unnest_clear(c);
    const char *a = argc ? (const char *)sqlite3_value_text(argv[0]) : NULL;
    if (c->kind == SRF_ANCESTORS) {
        c->eof = !a;
        c->elem_null = false;
        pl_buf_puts(&c->elem, a ? a : "");
        return c->elem.oom ? SQLITE_NOMEM : SQLITE_OK;
    }
    if (a && !(c->array = strdup(a)))
        return SQLITE_NOMEM;
    unnest_load(c);
    return SQLITE_OK;
}

static int srf_eof(sqlite3_vtab_cursor *cur) { return ((struct srf_cursor *)cur)->eof; }

static int srf_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
    struct srf_cursor *c = (struct srf_cursor *)cur;
    if (col != COL_VALUE)
        sqlite3_result_null(ctx);
    else if (c->kind == SRF_SERIES)
        sqlite3_result_int64(ctx, c->cur);
    else if (c->elem_null)
        sqlite3_result_null(ctx);
    else
        sqlite3_result_text(ctx, c->elem.data ? c->elem.data : "", (int)c->elem.len, SQLITE_TRANSIENT);
    return SQLITE_OK;
}

static int srf_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
    *rowid = ((struct srf_cursor *)cur)->row;
    return SQLITE_OK;
}

static const sqlite3_module srf_module = {
    .xConnect = srf_connect,
    .xBestIndex = srf_best_index,
    .xDisconnect = srf_disconnect,
    .xOpen = srf_open,
    .xClose = srf_close,
    .xFilter = srf_filter,
    .xNext = srf_next,
    .xEof = srf_eof,
    .xColumn = srf_column,
    .xRowid = srf_rowid,
};

int pgsrf_register(sqlite3 *db)
{
    if (sqlite3_create_module(db, "generate_series", &srf_module, (void *)(intptr_t)SRF_SERIES) != SQLITE_OK)
        return -1;
    if (sqlite3_create_module(db, "unnest", &srf_module, (void *)(intptr_t)SRF_UNNEST) != SQLITE_OK)
        return -1;
    return sqlite3_create_module(db, "pg_partition_ancestors", &srf_module, (void *)(intptr_t)SRF_ANCESTORS) ==
                   SQLITE_OK
               ? 0
               : -1;
}
