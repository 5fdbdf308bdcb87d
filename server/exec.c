/* Statement execution on worker threads. Each function runs inside a
 * scheduler job while the session's thread waits, so it may use the
 * session's connection and output buffer without locks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/result.h"
#include "../engine/storage.h"
#include "hooks.h"
#include "log.h"
#include "session_int.h"

/* Results larger than this are streamed to the client from the worker
 * instead of being buffered whole. */
#define FLUSH_THRESHOLD (64u << 10)

/* Hook contexts carry enum tr_kind as enum pl_stmt_kind (the SDK's frozen
 * copy): a change to one must not silently renumber the other. */
#define SAME_KIND(k) ((int)PL_KIND_##k == (int)TR_##k)
_Static_assert(SAME_KIND(EMPTY) && SAME_KIND(QUERY) && SAME_KIND(INSERT) && SAME_KIND(UPDATE) && SAME_KIND(DELETE) &&
                   SAME_KIND(BEGIN) && SAME_KIND(COMMIT) && SAME_KIND(ROLLBACK) && SAME_KIND(ROLLBACK_TO) &&
                   SAME_KIND(SAVEPOINT) && SAME_KIND(RELEASE) && SAME_KIND(UTILITY) && SAME_KIND(NOOP) &&
                   SAME_KIND(SET) && SAME_KIND(SHOW) && SAME_KIND(COPY_IN),
               "enum pl_stmt_kind (sdk/include/pliant_hooks.h) must match enum tr_kind");
#undef SAME_KIND

/* SQLite progress callback (every PL_PROGRESS_STEPS VM steps): stop on a
 * cancel request or shutdown; otherwise ask the query_progress hook.
 * Built-in: continue. */
int exec_progress(void *arg)
{
    struct session *s = arg;
    if (atomic_load_explicit(&s->cancel, memory_order_relaxed) != CANCEL_NONE)
        return 1;
#ifndef PLIANT_NO_HOOKS
    s->progress_calls++;
    struct pl_query_progress_ctx c = {.tenant = (uint32_t)s->tenant, .kind = (uint32_t)s->job.kind,
                                      .fingerprint = s->job.fingerprint,
                                      .elapsed_ns = sched_now_ns() - s->job.start_ns,
                                      .vm_steps = s->progress_calls * PL_PROGRESS_STEPS};
    uint64_t r;
    if (hooks_run(HK_QUERY_PROGRESS, &c, &r) == PL_HOOK_RAN && r == PL_PROGRESS_CANCEL) {
        /* Recorded in the session so the error names the policy; a user
         * cancel or shutdown that raced in first keeps its own reason. */
        int none = CANCEL_NONE;
        atomic_compare_exchange_strong(&s->cancel, &none, CANCEL_POLICY);
        return 1;
    }
#endif
    return 0;
}

void send_row_description(struct session *s, sqlite3_stmt *st, const uint32_t *oids, int ncols)
{
    struct pw_conn *c = &s->pw;
    pw_begin(c, 'T');
    pw_i16(c, (int16_t)ncols);
    for (int i = 0; i < ncols; i++) {
        const char *name = st ? sqlite3_column_name(st, i) : NULL;
        pw_str(c, name ? name : "?column?");
        pw_i32(c, 0);
        pw_i16(c, 0);
        pw_i32(c, (int32_t)oids[i]);
        pw_i16(c, eng_oid_typlen(oids[i]));
        pw_i32(c, -1);
        pw_i16(c, 0);
    }
    pw_end(c);
}

static void send_data_row(struct session *s, sqlite3_stmt *st, const uint32_t *oids, int ncols)
{
    struct pw_conn *c = &s->pw;
    pw_begin(c, 'D');
    pw_i16(c, (int16_t)ncols);
    for (int i = 0; i < ncols; i++) {
        if (sqlite3_column_type(st, i) == SQLITE_NULL) {
            pw_i32(c, -1);
            continue;
        }
        size_t at = c->out.len;
        pw_i32(c, 0);
        eng_value_text(st, i, oids[i], &c->out);
        pl_buf_set_be32(&c->out, at, (uint32_t)(c->out.len - at - 4));
    }
    pw_end(c);
    if (c->out.len > FLUSH_THRESHOLD)
        pw_flush(c); /* a failed send surfaces at the session's next flush */
}

static void set_error(struct exec *ex, int rc)
{
    struct session *s = ex->s;
    ex->failed = true;
    if ((rc & 0xff) == SQLITE_INTERRUPT) {
        int why = atomic_load(&s->cancel);
        if (why == CANCEL_SHUTDOWN)
            eng_err_set(&ex->err, "57P01", "terminating connection due to administrator command");
        else if (why == CANCEL_POLICY)
            eng_err_set(&ex->err, "57014", "canceling statement due to policy (query_progress extension)");
        else
            eng_err_set(&ex->err, "57014", "canceling statement due to user request");
        return;
    }
    eng_err_from_db(&ex->err, s->db, rc);
    if ((rc & 0xff) == SQLITE_NOMEM && memacct_take_refusal())
        eng_err_set(&ex->err, "53200", "out of memory: refused by the memory accounting (the database's "
                                       "mem_quota_mb, the server's mem_limit_mb or the mem_charge policy)");
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
        size_t n = strlen(ex->err.msg);
        snprintf(ex->err.msg + n, sizeof ex->err.msg - n,
                 rc == SQLITE_BUSY_SNAPSHOT ? " (another transaction committed first; retry the transaction)"
                                            : " (lock not available within busy_timeout_ms; retry)");
    }
}

/* Is a busy statement worth running again later? Only if it has not sent
 * anything and waiting can help: a stale snapshot stays stale. */
static bool can_retry(struct exec *ex, int rc, uint64_t rows_sent)
{
    return ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) && rc != SQLITE_BUSY_SNAPSHOT &&
           rows_sent == 0 && sched_may_retry(&ex->s->job);
}

/* A failed SQLite call: the job is queued again when waiting can help,
 * else the statement fails with rc's error. */
static void retry_or_fail(struct exec *ex, struct sched_job *job, int rc, uint64_t rows_sent)
{
    if (can_retry(ex, rc, rows_sent))
        job->retry = true;
    else
        set_error(ex, rc);
}

/* Brings the emulated pg_catalog up to date before a statement that reads
 * it. pg_database lists the databases this session's user may open. */
static bool catalog_ready(struct exec *ex, const struct tr_result *tr)
{
    if (!tr->catalog)
        return true;
    struct session *s = ex->s;
    const struct config *cfg = &s->srv->cfg;
    const struct cfg_user *u = config_user(cfg, s->user);
    const char **names = calloc((size_t)cfg->ndbs + 1, sizeof *names);
    if (!names) {
        ex->failed = true;
        eng_err_set(&ex->err, "53200", "out of memory");
        return false;
    }
    int n = 0;
    for (int i = 0; i < cfg->ndbs; i++)
        if (!u || config_user_may_open(u, cfg->dbs[i].name))
            names[n++] = cfg->dbs[i].name;
    int rc = eng_db_catalog_refresh(s->db, names, n, &ex->err);
    free(names);
    ex->failed = rc != 0;
    return rc == 0;
}

static uint32_t *alloc_oids(int n) { return calloc((size_t)(n ? n : 1), sizeof(uint32_t)); }

static void run_simple(struct exec *ex, struct sched_job *job)
{
    struct session *s = ex->s;
    const char *base = ex->tr->sql;
    const char *sql = base + ex->sql_off;
    if (!catalog_ready(ex, ex->tr))
        return;
    while (*sql) {
        if (atomic_load(&s->cancel) != CANCEL_NONE) {
            set_error(ex, SQLITE_INTERRUPT);
            return;
        }
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, &tail);
        if (rc != SQLITE_OK) {
            retry_or_fail(ex, job, rc, 0);
            return;
        }
        if (!st) { /* only whitespace or a comment left */
            sql = tail;
            continue;
        }
        int ncols = sqlite3_column_count(st);
        uint32_t *oids = NULL;
        uint64_t rows = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (!oids) {
                if (!(oids = alloc_oids(ncols))) {
                    rc = SQLITE_NOMEM;
                    break;
                }
                for (int i = 0; i < ncols; i++)
                    oids[i] = eng_col_oid(st, i, sqlite3_column_type(st, i));
                send_row_description(s, st, oids, ncols);
            }
            send_data_row(s, st, oids, ncols);
            rows++;
        }
        if (rc == SQLITE_DONE && ncols > 0 && !oids) {
            if ((oids = alloc_oids(ncols))) {
                for (int i = 0; i < ncols; i++)
                    oids[i] = eng_col_oid(st, i, 0);
                send_row_description(s, st, oids, ncols);
            }
        }
        free(oids);
        if (rc != SQLITE_DONE) {
            sqlite3_finalize(st);
            retry_or_fail(ex, job, rc, rows);
            return;
        }
        ex->rows += rows;
        if (!sqlite3_stmt_readonly(st))
            ex->changes += (uint64_t)sqlite3_changes64(s->db);
        sqlite3_finalize(st);
        sql = tail;
        ex->sql_off = (size_t)(sql - base);
    }
}

static void run_prepare(struct exec *ex, struct sched_job *job)
{
    struct session *s = ex->s;
    struct pstmt *ps = ex->ps;
    const char *tail = NULL;
    if (!catalog_ready(ex, &ps->tr))
        return;
    int rc = sqlite3_prepare_v3(s->db, ps->tr.sql, -1, SQLITE_PREPARE_PERSISTENT, &ps->st, &tail);
    if (rc != SQLITE_OK) {
        retry_or_fail(ex, job, rc, 0);
        return;
    }
    while (tail && *tail && (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == '\r' || *tail == ';'))
        tail++;
    if (tail && *tail) {
        sqlite3_finalize(ps->st);
        ps->st = NULL;
        ex->failed = true;
        eng_err_set(&ex->err, "42601", "cannot insert multiple commands into a prepared statement");
        return;
    }
    ps->nparams = ps->st ? sqlite3_bind_parameter_count(ps->st) : 0;
}

static void run_portal(struct exec *ex, struct sched_job *job)
{
    struct session *s = ex->s;
    struct portal *po = ex->po;
    sqlite3_stmt *st = po->st;
    uint64_t sent = 0;
    int rc;
    if (!po->started && !catalog_ready(ex, &po->ps->tr))
        return;
    for (;;) {
        if (ex->max_rows > 0 && sent >= (uint64_t)ex->max_rows) {
            ex->suspended = true;
            break;
        }
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
            break;
        po->started = true;
        send_data_row(s, st, po->oids, po->ncols);
        sent++;
        po->rows++;
    }
    if (ex->suspended)
        return;
    if (rc != SQLITE_DONE) {
        retry_or_fail(ex, job, rc, po->rows);
        sqlite3_reset(st);
        po->done = !job->retry;
        return;
    }
    ex->rows = po->rows;
    if (!sqlite3_stmt_readonly(st))
        ex->changes = (uint64_t)sqlite3_changes64(s->db);
    /* Reset ends the statement (releasing its read snapshot) but keeps
     * the bindings. */
    sqlite3_reset(st);
    po->done = true;
}

static void run_sql(struct exec *ex, struct sched_job *job)
{
    int rc = sqlite3_exec(ex->s->db, ex->sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        retry_or_fail(ex, job, rc, 0);
}

void exec_job(struct sched_job *job)
{
    struct exec *ex = job->arg;
    struct session *s = ex->s;
    if (atomic_load(&s->cancel) != CANCEL_NONE) {
        set_error(ex, SQLITE_INTERRUPT);
        return;
    }
    s->progress_calls = 0;
#ifndef PLIANT_NO_HOOKS
    /* An authorize policy changed since this session's statements were
     * prepared: they must be re-prepared under the new one. */
    uint64_t gen = hooks_authorize_generation();
    if (__builtin_expect(s->authz_gen != gen, 0) && s->db) {
        eng_db_reauthorize(s->db, &s->authz);
        s->authz_gen = gen;
    }
#endif
    storage_set_thread_tenant((uint32_t)s->tenant);
    atomic_store(&s->running, true);
    switch (ex->op) {
    case EX_SIMPLE:
        run_simple(ex, job);
        break;
    case EX_PREPARE:
        run_prepare(ex, job);
        break;
    case EX_PORTAL:
        run_portal(ex, job);
        break;
    case EX_SQL:
        run_sql(ex, job);
        break;
    case EX_COPY_OPEN:
        if (eng_copy_open(s->db, ex->tr->copy_table, ex->tr->copy_cols, ex->tr->copy_delim, ex->tr->copy_null,
                          &s->copy, &ex->err))
            ex->failed = true;
        break;
    case EX_COPY_LINES:
        if (eng_copy_lines(s->copy, ex->data, ex->len, ex->final, &ex->consumed, &ex->end_marker, &ex->err)) {
            ex->failed = true;
            if (strcmp(ex->err.sqlstate, "57014") == 0 && atomic_load(&s->cancel) == CANCEL_SHUTDOWN)
                eng_err_set(&ex->err, "57P01", "terminating connection due to administrator command");
        }
        break;
    }
    atomic_store(&s->running, false);
}
