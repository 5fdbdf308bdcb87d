/* One thread per client connection runs the protocol state machine: startup,
 * authentication, then simple/extended query and COPY. Everything that
 * touches SQLite is handed to the scheduler as a job (see exec.c) and the
 * thread waits for it; so the worker pool, not the number of connections,
 * bounds how many statements run at once, and the scheduler decides which.
 * Blocking I/O per session keeps this state machine sequential and easy to
 * check; idle sessions cost a parked thread each, fine at the connection
 * counts a SQLite-backed server serves. */
#include <errno.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../engine/result.h"
#include "../engine/storage.h"
#include "../manager/fsutil.h"
#include "auth_scram.h"
#include "hooks.h"
#include "log.h"
#include "session_int.h"

#define AUTH_TIMEOUT_MS 60000 /* a client must finish startup + auth in this time */
#define COPY_BATCH (256u << 10)

static const char *const server_params[][2] = {
    {"server_version", "15.0 (Pliant)"},
    {"server_encoding", "UTF8"},
    {"client_encoding", "UTF8"},
    {"DateStyle", "ISO, MDY"},
    {"IntervalStyle", "postgres"},
    {"integer_datetimes", "on"},
    {"standard_conforming_strings", "on"},
    {"TimeZone", "UTC"},
    {"is_superuser", "off"},
};

/* ------------------------------------------------------------ registry */

static void registry_add(struct session *s)
{
    struct server *srv = s->srv;
    pthread_mutex_lock(&srv->mu);
    s->pid = ++srv->next_pid;
    s->reg_next = srv->sessions;
    srv->sessions = s;
    pthread_mutex_unlock(&srv->mu);
}

static void registry_remove(struct session *s)
{
    struct server *srv = s->srv;
    pthread_mutex_lock(&srv->mu);
    for (struct session **p = &srv->sessions; *p; p = &(*p)->reg_next)
        if (*p == s) {
            *p = s->reg_next;
            break;
        }
    pthread_mutex_unlock(&srv->mu);
}

/* Under srv->mu: a registered session's db is open (it is closed only
 * after registry_remove), which is what sqlite3_interrupt requires. */
static void cancel_locked(struct session *s, int why)
{
    if (why == CANCEL_SHUTDOWN || atomic_load(&s->in_job)) {
        atomic_store(&s->cancel, why);
        if (s->db && atomic_load(&s->running))
            sqlite3_interrupt(s->db);
    }
}

static void handle_cancel_request(struct server *srv, int32_t pid, int32_t secret)
{
    bool found = false;
    pthread_mutex_lock(&srv->mu);
    for (struct session *s = srv->sessions; s; s = s->reg_next)
        if (s->pid == pid && s->secret == secret && s->db) {
            cancel_locked(s, CANCEL_QUERY);
            found = true;
            break;
        }
    pthread_mutex_unlock(&srv->mu);
    log_event(LOG_INFO, "cancel_request", "pid=%d matched=%s", pid, found ? "yes" : "no");
}

void sessions_cancel_all(struct server *srv)
{
    pthread_mutex_lock(&srv->mu);
    for (struct session *s = srv->sessions; s; s = s->reg_next)
        cancel_locked(s, CANCEL_SHUTDOWN);
    pthread_mutex_unlock(&srv->mu);
}

/* --------------------------------------------------------------- helpers */

static char txn_status(struct session *s)
{
    if (s->txn_failed)
        return 'E';
    return s->db && !sqlite3_get_autocommit(s->db) ? 'T' : 'I';
}

static bool in_txn(struct session *s) { return s->db && !sqlite3_get_autocommit(s->db); }

static void send_error(struct session *s, const char *state, const char *msg)
{
    bool fatal = strcmp(state, "57P01") == 0;
    pw_error(&s->pw, fatal ? "FATAL" : "ERROR", state, msg);
}

/* Sends a FATAL error and flushes: the connection is closed next. */
static void fatal(struct session *s, const char *state, const char *msg)
{
    pw_error(&s->pw, "FATAL", state, msg);
    pw_flush(&s->pw);
    log_event(LOG_INFO, "connection_rejected", "pid=%d sqlstate=%s msg=%s", s->pid, state, log_q(msg));
}

static const char *param_get(struct session *s, const char *name)
{
    for (int i = 0; i < s->nparams; i++)
        if (strcasecmp(s->params[i].name, name) == 0)
            return s->params[i].value;
    for (size_t i = 0; i < sizeof server_params / sizeof server_params[0]; i++)
        if (strcasecmp(server_params[i][0], name) == 0)
            return server_params[i][1];
    if (strcasecmp(name, "transaction_isolation") == 0 || strcasecmp(name, "default_transaction_isolation") == 0)
        return "serializable";
    if (strcasecmp(name, "max_identifier_length") == 0)
        return "63";
    if (strcasecmp(name, "session_authorization") == 0)
        return s->user;
    return NULL;
}

static int param_set(struct session *s, const char *name, const char *value)
{
    for (int i = 0; i < s->nparams; i++)
        if (strcasecmp(s->params[i].name, name) == 0) {
            char *v = value ? strdup(value) : NULL;
            if (value && !v)
                return -1;
            free(s->params[i].value);
            s->params[i].value = v;
            if (!v) { /* RESET: forget the override */
                free(s->params[i].name);
                s->params[i] = s->params[--s->nparams];
            }
            return 0;
        }
    if (!value)
        return 0;
    struct param *p = realloc(s->params, (size_t)(s->nparams + 1) * sizeof *p);
    if (!p)
        return -1;
    s->params = p;
    p[s->nparams].name = strdup(name);
    p[s->nparams].value = strdup(value);
    if (!p[s->nparams].name || !p[s->nparams].value) {
        free(p[s->nparams].name);
        free(p[s->nparams].value);
        return -1;
    }
    s->nparams++;
    return 0;
}

static bool encoding_ok(const char *v)
{
    return strcasecmp(v, "UTF8") == 0 || strcasecmp(v, "UTF-8") == 0 || strcasecmp(v, "UNICODE") == 0 ||
           strcasecmp(v, "SQL_ASCII") == 0;
}

/* Runs ex as a job; false if the server is stopping and it did not run. */
static bool run_job(struct session *s, struct exec *ex, const struct tr_result *tr)
{
    struct server *srv = s->srv;
    s->job = (struct sched_job){.run = exec_job, .arg = ex, .tenant = s->tenant,
                                .kind = tr ? (int)tr->kind : TR_UTILITY,
                                .fingerprint = tr ? tr->fingerprint : 0};
    if (atomic_load(&s->cancel) != CANCEL_SHUTDOWN)
        atomic_store(&s->cancel, CANCEL_NONE);
    atomic_store(&s->in_job, true);
    int rc = sched_run(srv->sched, &s->job, srv->cfg.busy_timeout_ms);
    atomic_store(&s->in_job, false);
    if (rc == SCHED_STOPPING) {
        ex->failed = true;
        eng_err_set(&ex->err, "57P01", "terminating connection due to administrator command");
        return false;
    }
    if (rc == SCHED_REJECTED) {
        /* Not an error of the statement: the server is (by the admit
         * policy's judgement) too loaded to take it now. */
        ex->failed = true;
        eng_err_set(&ex->err, "53000", "statement rejected by the admission policy (server busy; retry later)");
    }
    uint64_t queue_ns = rc == 0 ? s->job.start_ns - s->job.enqueue_ns : 0;
    uint64_t run_ns = rc == 0 ? s->job.end_ns - s->job.start_ns : 0;
#ifndef PLIANT_NO_HOOKS
    /* query_end: server-measured times, not SQLite's 1 ms profile. */
    struct pl_query_end_ctx qe = {.tenant = (uint32_t)s->tenant, .kind = (uint32_t)s->job.kind,
                                  .fingerprint = s->job.fingerprint, .rows = ex->rows + ex->changes,
                                  .queue_ns = queue_ns, .elapsed_ns = run_ns, .attempts = s->job.attempts};
    qe.status = rc == SCHED_REJECTED                                     ? PL_QUERY_REJECTED
                : !ex->failed                                            ? PL_QUERY_OK
                : strcmp(ex->err.sqlstate, "57014") == 0                 ? PL_QUERY_CANCELED
                                                                         : PL_QUERY_ERROR;
    uint64_t ignored;
    (void)hooks_run(HK_QUERY_END, &qe, &ignored);
    if (rc == 0 && !ex->failed)
        hooks_cost_record(s->job.fingerprint, run_ns);
#endif
    log_event(LOG_DEBUG, "query_end", "pid=%d db=%s fp=%016llx op=%d rows=%llu queue_ns=%llu run_ns=%llu "
                                      "attempts=%u class=%d status=%s",
              s->pid, s->dbname, (unsigned long long)s->job.fingerprint, ex->op,
              (unsigned long long)ex->rows, (unsigned long long)queue_ns, (unsigned long long)run_ns,
              s->job.attempts, s->job.cls, ex->failed ? ex->err.sqlstate : "ok");
    return rc == 0;
}

static bool run_sql(struct session *s, const char *sql, struct eng_err *err)
{
    struct exec ex = {.s = s, .op = EX_SQL, .sql = sql};
    run_job(s, &ex, NULL);
    if (ex.failed)
        *err = ex.err;
    return !ex.failed;
}

/* -------------------------------------------------- statements & portals */

static void portal_free(struct session *s, struct portal *po)
{
    for (struct portal **p = &s->portals; *p; p = &(*p)->next)
        if (*p == po) {
            *p = po->next;
            break;
        }
    if (po->own_st)
        sqlite3_finalize(po->st);
    else if (po->st) {
        sqlite3_reset(po->st);
        if (po->ps->st_owner == po)
            po->ps->st_owner = NULL;
    }
    free(po->oids);
    free(po->name);
    free(po);
}

static void portals_close_all(struct session *s)
{
    while (s->portals)
        portal_free(s, s->portals);
}

static struct pstmt *pstmt_find(struct session *s, const char *name)
{
    for (struct pstmt *p = s->stmts; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static struct portal *portal_find(struct session *s, const char *name)
{
    for (struct portal *p = s->portals; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static void pstmt_free(struct session *s, struct pstmt *ps)
{
    for (struct portal *po = s->portals, *next; po; po = next) {
        next = po->next;
        if (po->ps == ps)
            portal_free(s, po);
    }
    for (struct pstmt **p = &s->stmts; *p; p = &(*p)->next)
        if (*p == ps) {
            *p = ps->next;
            break;
        }
    sqlite3_finalize(ps->st);
    tr_result_free(&ps->tr);
    free(ps->ptypes);
    free(ps->name);
    free(ps);
}

/* ------------------------------------------------------ statement driver */

/* Transaction-control bookkeeping PostgreSQL clients rely on, before the
 * statement runs. Returns true when the statement is fully handled here. */
static bool txn_precheck(struct session *s, const struct tr_result *tr, const char **tag, bool *ok)
{
    *ok = true;
    switch (tr->kind) {
    case TR_BEGIN:
        if (in_txn(s) || s->txn_failed) {
            pw_notice(&s->pw, "WARNING", "25001", "there is already a transaction in progress");
            *tag = "BEGIN";
            return true;
        }
        return false;
    case TR_COMMIT:
    case TR_ROLLBACK:
        portals_close_all(s);
        if (!in_txn(s)) {
            if (!s->txn_failed)
                pw_notice(&s->pw, "WARNING", "25P01", "there is no transaction in progress");
            *tag = s->txn_failed || tr->kind == TR_ROLLBACK ? "ROLLBACK" : "COMMIT";
            s->txn_failed = false;
            return true;
        }
        if (s->txn_failed) {
            /* COMMIT of a failed transaction rolls back, as in PostgreSQL. */
            struct eng_err e;
            if (!run_sql(s, "ROLLBACK", &e))
                send_error(s, e.sqlstate, e.msg), *ok = false;
            s->txn_failed = false;
            *tag = "ROLLBACK";
            return true;
        }
        return false;
    default:
        if (s->txn_failed && tr->kind != TR_ROLLBACK_TO) {
            send_error(s, "25P02", "current transaction is aborted, commands ignored until end of transaction block");
            *ok = false;
            return true;
        }
        return false;
    }
}

static void complete_tag(struct session *s, const struct tr_result *tr, const struct exec *ex)
{
    char tag[96];
    switch (tr->kind) {
    case TR_QUERY:
        snprintf(tag, sizeof tag, "%s %llu", tr->tag, (unsigned long long)ex->rows);
        if (strcmp(tr->tag, "SELECT") != 0)
            snprintf(tag, sizeof tag, "%s", tr->tag);
        break;
    case TR_INSERT:
        snprintf(tag, sizeof tag, "INSERT 0 %llu", (unsigned long long)ex->changes);
        break;
    case TR_UPDATE:
        snprintf(tag, sizeof tag, "UPDATE %llu", (unsigned long long)ex->changes);
        break;
    case TR_DELETE:
        snprintf(tag, sizeof tag, "DELETE %llu", (unsigned long long)ex->changes);
        break;
    default:
        snprintf(tag, sizeof tag, "%s", tr->tag);
    }
    pw_command_complete(&s->pw, tag);
}

/* SET / SHOW: session parameters, no SQLite involved. */
static bool do_set(struct session *s, const struct tr_result *tr)
{
    if (strcasecmp(tr->param_name, "client_encoding") == 0 && tr->param_value && !encoding_ok(tr->param_value)) {
        send_error(s, "0A000", "only UTF8 client encoding is supported");
        return false;
    }
    if (param_set(s, tr->param_name, tr->param_value)) {
        send_error(s, "53200", "out of memory");
        return false;
    }
    if (strcasecmp(tr->param_name, "application_name") == 0)
        pw_param_status(&s->pw, "application_name", tr->param_value ? tr->param_value : "");
    pw_command_complete(&s->pw, tr->tag);
    return true;
}

static bool do_show(struct session *s, const struct tr_result *tr, bool describe)
{
    const char *v = param_get(s, tr->param_name);
    if (!v) {
        char msg[160];
        snprintf(msg, sizeof msg, "unrecognized configuration parameter \"%.100s\"", tr->param_name);
        send_error(s, "42704", msg);
        return false;
    }
    if (describe) {
        struct pw_conn *c = &s->pw;
        pw_begin(c, 'T');
        pw_i16(c, 1);
        pw_str(c, tr->param_name);
        pw_i32(c, 0);
        pw_i16(c, 0);
        pw_i32(c, PG_OID_TEXT);
        pw_i16(c, -1);
        pw_i32(c, -1);
        pw_i16(c, 0);
        pw_end(c);
    }
    pw_begin(&s->pw, 'D');
    pw_i16(&s->pw, 1);
    pw_i32(&s->pw, (int32_t)strlen(v));
    pw_bytes(&s->pw, v, strlen(v));
    pw_end(&s->pw);
    pw_command_complete(&s->pw, "SHOW");
    return true;
}

static void after_error(struct session *s, bool was_in_txn, const struct eng_err *e)
{
    /* An error inside a transaction block fails the block (PostgreSQL
     * semantics), even if SQLite already rolled it back on its own. */
    if (was_in_txn)
        s->txn_failed = true;
    send_error(s, e->sqlstate, e->msg);
}

static bool do_copy_in(struct session *s, const struct tr_result *tr);

/* Runs one statement of a simple Query message; false on error. */
static bool simple_statement(struct session *s, const struct tr_result *tr)
{
    const char *tag = NULL;
    bool ok;
    if (tr->kind == TR_EMPTY)
        return true;
    if (txn_precheck(s, tr, &tag, &ok)) {
        if (ok && tag)
            pw_command_complete(&s->pw, tag);
        return ok;
    }
    switch (tr->kind) {
    case TR_NOOP:
        pw_command_complete(&s->pw, tr->tag);
        return true;
    case TR_SET:
        return do_set(s, tr);
    case TR_SHOW:
        return do_show(s, tr, true);
    case TR_COPY_IN:
        return do_copy_in(s, tr);
    default:
        break;
    }
    bool was = in_txn(s);
    struct exec ex = {.s = s, .op = EX_SIMPLE, .tr = tr};
    run_job(s, &ex, tr);
    if (ex.failed) {
        after_error(s, was, &ex.err);
        return false;
    }
    if (tr->kind == TR_ROLLBACK_TO)
        s->txn_failed = false;
    complete_tag(s, tr, &ex);
    return true;
}

static void handle_query(struct session *s, const struct pw_msg *m)
{
    struct pw_reader r = pw_reader(m);
    const char *q = pw_get_str(&r);
    if (r.bad || r.left) {
        send_error(s, "08P01", "invalid Query message");
        pw_ready(&s->pw, txn_status(s));
        return;
    }
    size_t len = strlen(q), pos = 0, st, sl;
    bool any = false;
    while (tr_next_stmt(q, len, &pos, &st, &sl)) {
        struct tr_result tr;
        if (tr_translate(q + st, sl, &tr) != 0) {
            if (in_txn(s))
                s->txn_failed = true;
            send_error(s, tr.sqlstate, tr.errmsg);
            tr_result_free(&tr);
            any = true;
            break;
        }
        if (tr.kind == TR_EMPTY) {
            tr_result_free(&tr);
            continue;
        }
        any = true;
        log_event(LOG_DEBUG, "statement", "pid=%d sql=%s", s->pid, log_q(tr.sql ? tr.sql : tr.tag));
        bool ok = simple_statement(s, &tr);
        tr_result_free(&tr);
        if (!ok)
            break; /* PostgreSQL abandons the rest of the message */
    }
    if (!any)
        pw_begin(&s->pw, 'I'), pw_end(&s->pw);
    pw_ready(&s->pw, txn_status(s));
}

/* ------------------------------------------------------------------ COPY */

static bool do_copy_in(struct session *s, const struct tr_result *tr)
{
    struct eng_err err = {0};
    bool failed = false, started_txn = false, was = in_txn(s);
    if (!was) {
        /* COPY is atomic: take the write lock up front so a batch can
         * never meet a busy lock halfway through. */
        if (!run_sql(s, "BEGIN IMMEDIATE", &err)) {
            send_error(s, err.sqlstate, err.msg);
            return false;
        }
        started_txn = true;
    }
    struct exec ex = {.s = s, .op = EX_COPY_OPEN, .tr = tr};
    run_job(s, &ex, tr);
    if (ex.failed) {
        if (started_txn)
            run_sql(s, "ROLLBACK", &err);
        after_error(s, was, &ex.err);
        return false;
    }
    struct pw_conn *c = &s->pw;
    int ncols = eng_copy_ncols(s->copy);
    pw_begin(c, 'G');
    pl_buf_putc(&c->out, 0);
    pw_i16(c, (int16_t)ncols);
    for (int i = 0; i < ncols; i++)
        pw_i16(c, 0);
    pw_end(c);
    if (pw_flush(c))
        failed = true, eng_err_set(&err, "08006", "connection lost during COPY");
    struct pl_buf pend = {0};
    bool done = false, eod = false, conn_lost = false;
    while (!done && !failed) {
        struct pw_msg m;
        char perr[256];
        int rc = pw_read_msg(c, &m, -1, perr, sizeof perr);
        if (rc == PW_WAKE)
            rc = pw_read_msg(c, &m, s->srv->cfg.shutdown_grace_ms, perr, sizeof perr);
        if (rc != PW_OK) {
            failed = conn_lost = true;
            eng_err_set(&err, rc == PW_EPROTO ? "08P01" : "08006", "%s",
                        rc == PW_EPROTO ? perr : "connection lost during COPY");
            break;
        }
        switch (m.type) {
        case 'd':
            if (!eod)
                pl_buf_put(&pend, m.data, m.len);
            break;
        case 'c':
            done = true;
            break;
        case 'f': {
            struct pw_reader r = pw_reader(&m);
            const char *why = pw_get_str(&r);
            failed = true;
            eng_err_set(&err, "57014", "COPY from stdin failed: %s", why);
            break;
        }
        case 'H':
        case 'S':
            break; /* ignored during COPY, per protocol */
        default:
            failed = conn_lost = true;
            eng_err_set(&err, "08P01", "unexpected message type 0x%02x during COPY from stdin",
                        (unsigned char)m.type);
            break;
        }
        if (pend.oom) {
            failed = true;
            eng_err_set(&err, "53200", "out of memory");
        }
        if (failed || eod || (!done && pend.len < COPY_BATCH))
            continue;
        struct exec lx = {.s = s, .op = EX_COPY_LINES, .tr = tr, .data = pend.data, .len = pend.len,
                          .final = done};
        run_job(s, &lx, tr);
        if (lx.failed) {
            failed = true;
            err = lx.err;
            break;
        }
        eod = lx.end_marker;
        memmove(pend.data, pend.data + lx.consumed, pend.len - lx.consumed);
        pend.len -= lx.consumed;
        if (pend.len > s->srv->cfg.max_message) {
            failed = true;
            eng_err_set(&err, "54000", "COPY line is longer than max_message (%zu bytes)", s->srv->cfg.max_message);
        }
    }
    pl_buf_free(&pend);
    /* After a server-side error the client keeps sending CopyData until it
     * notices; those arrive in the main loop, which ignores them. */
    uint64_t rows = eng_copy_rows(s->copy);
    eng_copy_close(s->copy);
    s->copy = NULL;
    struct eng_err e2;
    if (!failed && started_txn && !run_sql(s, "COMMIT", &e2))
        failed = true, err = e2;
    if (failed) {
        if (started_txn && in_txn(s))
            run_sql(s, "ROLLBACK", &e2);
        after_error(s, was, &err);
        if (conn_lost)
            s->close_after = true;
        return false;
    }
    char tag[48];
    snprintf(tag, sizeof tag, "COPY %llu", (unsigned long long)rows);
    pw_command_complete(c, tag);
    return true;
}

/* ------------------------------------------------------ extended protocol */

static void ext_fail(struct session *s, const char *state, const char *msg)
{
    send_error(s, state, msg);
    s->ext_error = true;
}

/* The extended protocol's naming rule for Parse and Bind: a named
 * statement (portal) must not exist yet; the unnamed one is replaced.
 * false: the name is taken (the error is sent). */
static bool claim_name(struct session *s, const char *name, bool portal)
{
    if (!*name) {
        if (portal) {
            struct portal *old = portal_find(s, "");
            if (old)
                portal_free(s, old);
        } else {
            struct pstmt *old = pstmt_find(s, "");
            if (old)
                pstmt_free(s, old);
        }
        return true;
    }
    bool taken = portal ? portal_find(s, name) != NULL : pstmt_find(s, name) != NULL;
    if (!taken)
        return true;
    char msg[160];
    snprintf(msg, sizeof msg, "%s \"%.100s\" already exists", portal ? "portal" : "prepared statement", name);
    ext_fail(s, portal ? "42P03" : "42P05", msg);
    return false;
}

/* The named statement or portal, or NULL with the error sent. */
static struct pstmt *find_pstmt_or_fail(struct session *s, const char *name)
{
    struct pstmt *ps = pstmt_find(s, name);
    if (!ps) {
        char msg[160];
        snprintf(msg, sizeof msg, "prepared statement \"%.100s\" does not exist", name);
        ext_fail(s, "26000", msg);
    }
    return ps;
}

static struct portal *find_portal_or_fail(struct session *s, const char *name)
{
    struct portal *po = portal_find(s, name);
    if (!po) {
        char msg[160];
        snprintf(msg, sizeof msg, "portal \"%.100s\" does not exist", name);
        ext_fail(s, "34000", msg);
    }
    return po;
}

static void handle_parse(struct session *s, const struct pw_msg *m)
{
    struct pw_reader r = pw_reader(m);
    const char *name = pw_get_str(&r);
    const char *q = pw_get_str(&r);
    int n = pw_get_i16(&r);
    if (n < 0 || r.bad) {
        ext_fail(s, "08P01", "invalid Parse message");
        return;
    }
    uint32_t *types = calloc((size_t)n + 1, sizeof *types);
    if (!types) {
        ext_fail(s, "53200", "out of memory");
        return;
    }
    for (int i = 0; i < n; i++)
        types[i] = (uint32_t)pw_get_i32(&r);
    if (r.bad || r.left) {
        free(types);
        ext_fail(s, "08P01", "invalid Parse message");
        return;
    }
    if (!claim_name(s, name, false)) {
        free(types);
        return;
    }
    struct pstmt *ps = calloc(1, sizeof *ps);
    if (!ps || !(ps->name = strdup(name))) {
        free(ps);
        free(types);
        ext_fail(s, "53200", "out of memory");
        return;
    }
    ps->ptypes = types;
    ps->nptypes = n;
    size_t len = strlen(q), pos = 0, st = 0, sl = 0, st2, sl2;
    bool have = tr_next_stmt(q, len, &pos, &st, &sl);
    if (have && tr_next_stmt(q, len, &pos, &st2, &sl2)) {
        pstmt_free(s, ps);
        ext_fail(s, "42601", "cannot insert multiple commands into a prepared statement");
        return;
    }
    if (tr_translate(have ? q + st : "", have ? sl : 0, &ps->tr) != 0) {
        char state[6], msg[256];
        memcpy(state, ps->tr.sqlstate, sizeof state);
        memcpy(msg, ps->tr.errmsg, sizeof msg);
        pstmt_free(s, ps);
        ext_fail(s, state, msg);
        return;
    }
    if (ps->tr.kind == TR_COPY_IN) {
        pstmt_free(s, ps);
        ext_fail(s, "0A000", "COPY is supported only in a simple Query message");
        return;
    }
    ps->next = s->stmts;
    s->stmts = ps;
    bool runs_sql = ps->tr.sql && ps->tr.kind != TR_BEGIN && ps->tr.kind != TR_COMMIT && ps->tr.kind != TR_ROLLBACK;
    if (runs_sql) {
        struct exec ex = {.s = s, .op = EX_PREPARE, .tr = &ps->tr, .ps = ps};
        run_job(s, &ex, &ps->tr);
        if (ex.failed) {
            pstmt_free(s, ps);
            ext_fail(s, ex.err.sqlstate, ex.err.msg);
            return;
        }
    }
    pw_begin(&s->pw, '1');
    pw_end(&s->pw);
}

/* Binds one parameter value by its declared type; message on failure. */
static int bind_param(sqlite3_stmt *st, int idx, uint32_t type, int fmt, const uint8_t *v, int32_t len, char *msg,
                      size_t msglen)
{
    if (len < 0)
        return sqlite3_bind_null(st, idx) == SQLITE_OK ? 0 : -1;
    if (fmt == 1) { /* binary */
        uint64_t x = 0;
        switch (type) {
        case PG_OID_INT2:
        case PG_OID_INT4:
        case PG_OID_INT8: {
            int want = type == PG_OID_INT2 ? 2 : type == PG_OID_INT4 ? 4 : 8;
            if (len != want)
                goto badlen;
            for (int i = 0; i < len; i++)
                x = x << 8 | v[i];
            int64_t sv = want == 2 ? (int16_t)x : want == 4 ? (int32_t)x : (int64_t)x;
            return sqlite3_bind_int64(st, idx, sv) == SQLITE_OK ? 0 : -1;
        }
        case PG_OID_FLOAT4:
        case PG_OID_FLOAT8: {
            if (len != (type == PG_OID_FLOAT4 ? 4 : 8))
                goto badlen;
            for (int i = 0; i < len; i++)
                x = x << 8 | v[i];
            double d;
            if (len == 4) {
                uint32_t u = (uint32_t)x;
                float f;
                memcpy(&f, &u, 4);
                d = f;
            } else {
                memcpy(&d, &x, 8);
            }
            return sqlite3_bind_double(st, idx, d) == SQLITE_OK ? 0 : -1;
        }
        case PG_OID_BOOL:
            if (len != 1)
                goto badlen;
            return sqlite3_bind_int(st, idx, v[0] != 0) == SQLITE_OK ? 0 : -1;
        case PG_OID_BYTEA:
            return sqlite3_bind_blob(st, idx, len ? (const void *)v : "", len, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : -1;
        case PG_OID_TEXT:
        case PG_OID_VARCHAR:
        case PG_OID_UNKNOWN:
        case 1042:
            return sqlite3_bind_text(st, idx, len ? (const char *)v : "", len, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : -1;
        default:
            snprintf(msg, msglen, "binary format for parameter $%d of type %u is not supported; send it as text",
                     idx, type);
            return -1;
        }
    badlen:
        snprintf(msg, msglen, "incorrect binary data format in bind parameter %d", idx);
        return -1;
    }
    char *txt = strndup((const char *)v, (size_t)len);
    if (!txt)
        return -1;
    int rc = SQLITE_OK;
    char *end;
    switch (type) {
    case PG_OID_INT2:
    case PG_OID_INT4:
    case PG_OID_INT8: {
        errno = 0;
        long long x = strtoll(txt, &end, 10);
        while (*end == ' ')
            end++;
        if (errno || end == txt || *end) {
            snprintf(msg, msglen, "invalid input syntax for type integer: \"%.60s\"", txt);
            free(txt);
            return -1;
        }
        rc = sqlite3_bind_int64(st, idx, x);
        break;
    }
    case PG_OID_FLOAT4:
    case PG_OID_FLOAT8: {
        double d = strtod(txt, &end);
        if (end == txt || *end) {
            snprintf(msg, msglen, "invalid input syntax for type double precision: \"%.60s\"", txt);
            free(txt);
            return -1;
        }
        rc = sqlite3_bind_double(st, idx, d);
        break;
    }
    case PG_OID_BOOL: {
        int b = -1;
        if (!strcasecmp(txt, "t") || !strcasecmp(txt, "true") || !strcasecmp(txt, "on") || !strcmp(txt, "1") ||
            !strcasecmp(txt, "yes") || !strcasecmp(txt, "y"))
            b = 1;
        else if (!strcasecmp(txt, "f") || !strcasecmp(txt, "false") || !strcasecmp(txt, "off") ||
                 !strcmp(txt, "0") || !strcasecmp(txt, "no") || !strcasecmp(txt, "n"))
            b = 0;
        if (b < 0) {
            snprintf(msg, msglen, "invalid input syntax for type boolean: \"%.60s\"", txt);
            free(txt);
            return -1;
        }
        rc = sqlite3_bind_int(st, idx, b);
        break;
    }
    case PG_OID_BYTEA:
        if (len >= 2 && txt[0] == '\\' && txt[1] == 'x' && (len - 2) % 2 == 0) {
            size_t n = (size_t)(len - 2) / 2;
            uint8_t *b = malloc(n + 1);
            if (b && fs_unhex(txt + 2, b, n) != 0) {
                free(b);
                snprintf(msg, msglen, "invalid hexadecimal digit in bytea parameter $%d", idx);
                free(txt);
                return -1;
            }
            rc = b ? sqlite3_bind_blob(st, idx, b, (int)n, free) : SQLITE_NOMEM;
            break;
        }
        rc = sqlite3_bind_blob(st, idx, txt, len, SQLITE_TRANSIENT);
        break;
    default:
        /* Unspecified (0) and text-like types: bound as text; SQLite's
         * column affinity converts "42" to an integer where the column
         * says so, which is what a PostgreSQL client means. */
        rc = sqlite3_bind_text(st, idx, txt, len, SQLITE_TRANSIENT);
    }
    free(txt);
    if (rc != SQLITE_OK) {
        snprintf(msg, msglen, "cannot bind parameter $%d: %s", idx, sqlite3_errstr(rc));
        return -1;
    }
    return 0;
}

static void handle_bind(struct session *s, const struct pw_msg *m)
{
    struct pw_reader r = pw_reader(m);
    const char *pname = pw_get_str(&r);
    const char *sname = pw_get_str(&r);
    int nfmt = pw_get_i16(&r);
    if (r.bad || nfmt < 0) {
        ext_fail(s, "08P01", "invalid Bind message");
        return;
    }
    const uint8_t *fmtp = pw_get_bytes(&r, (size_t)nfmt * 2);
    int nvals = pw_get_i16(&r);
    if (r.bad || nvals < 0) {
        ext_fail(s, "08P01", "invalid Bind message");
        return;
    }
    struct pstmt *ps = find_pstmt_or_fail(s, sname);
    if (!ps)
        return;
    if (nfmt > 1 && nfmt != nvals) {
        ext_fail(s, "08P01", "bind message has a parameter format count that matches neither 1 nor the parameter count");
        return;
    }
    if (nvals != ps->nparams) {
        char msg[160];
        snprintf(msg, sizeof msg, "bind message supplies %d parameters, but prepared statement \"%.60s\" requires %d",
                 nvals, sname, ps->nparams);
        ext_fail(s, "08P01", msg);
        return;
    }
    if (!claim_name(s, pname, true))
        return;
    struct portal *po = calloc(1, sizeof *po);
    if (!po || !(po->name = strdup(pname))) {
        free(po);
        ext_fail(s, "53200", "out of memory");
        return;
    }
    po->ps = ps;
    po->next = s->portals;
    s->portals = po;
    if (ps->st) {
        if (!ps->st_owner) {
            po->st = ps->st;
            ps->st_owner = po;
            sqlite3_reset(po->st);
            sqlite3_clear_bindings(po->st);
        } else {
            /* The statement is held by another open portal: this portal
             * needs its own copy to step independently. */
            int rc = sqlite3_prepare_v2(s->db, ps->tr.sql, -1, &po->st, NULL);
            if (rc != SQLITE_OK) {
                struct eng_err e;
                eng_err_from_db(&e, s->db, rc);
                portal_free(s, po);
                ext_fail(s, e.sqlstate, e.msg);
                return;
            }
            po->own_st = true;
        }
    }
    for (int i = 0; i < nvals; i++) {
        int32_t len = pw_get_i32(&r);
        if (len < -1 || (len > 0 && (size_t)len > r.left)) {
            portal_free(s, po);
            ext_fail(s, "08P01", "invalid parameter length in Bind message");
            return;
        }
        const uint8_t *v = len > 0 ? pw_get_bytes(&r, (size_t)len) : (const uint8_t *)"";
        int fmt = nfmt == 0 ? 0 : nfmt == 1 ? (int16_t)(fmtp[0] << 8 | fmtp[1])
                                            : (int16_t)(fmtp[2 * i] << 8 | fmtp[2 * i + 1]);
        if (fmt != 0 && fmt != 1) {
            portal_free(s, po);
            ext_fail(s, "08P01", "invalid parameter format code in Bind message");
            return;
        }
        uint32_t type = i < ps->nptypes ? ps->ptypes[i] : 0;
        char msg[200] = "";
        if (po->st && bind_param(po->st, i + 1, type, fmt, v, len, msg, sizeof msg) != 0) {
            portal_free(s, po);
            ext_fail(s, msg[0] ? "22P02" : "53200", msg[0] ? msg : "out of memory");
            return;
        }
    }
    int nrf = pw_get_i16(&r);
    for (int i = 0; i < nrf && !r.bad; i++)
        if (pw_get_i16(&r) != 0) {
            portal_free(s, po);
            ext_fail(s, "0A000", "binary result format is not supported; request text results");
            return;
        }
    if (r.bad || r.left || nrf < 0) {
        portal_free(s, po);
        ext_fail(s, "08P01", "invalid Bind message");
        return;
    }
    if (po->st) {
        po->ncols = sqlite3_column_count(po->st);
        po->oids = calloc((size_t)po->ncols + 1, sizeof *po->oids);
        if (!po->oids) {
            portal_free(s, po);
            ext_fail(s, "53200", "out of memory");
            return;
        }
        for (int i = 0; i < po->ncols; i++)
            po->oids[i] = eng_col_oid(po->st, i, 0);
    }
    pw_begin(&s->pw, '2');
    pw_end(&s->pw);
}

static void describe_rows(struct session *s, const struct tr_result *tr, sqlite3_stmt *st)
{
    if (tr->kind == TR_SHOW) {
        uint32_t oid = PG_OID_TEXT;
        struct pw_conn *c = &s->pw;
        pw_begin(c, 'T');
        pw_i16(c, 1);
        pw_str(c, tr->param_name);
        pw_i32(c, 0);
        pw_i16(c, 0);
        pw_i32(c, (int32_t)oid);
        pw_i16(c, -1);
        pw_i32(c, -1);
        pw_i16(c, 0);
        pw_end(c);
        return;
    }
    int n = st ? sqlite3_column_count(st) : 0;
    if (n == 0) {
        pw_begin(&s->pw, 'n');
        pw_end(&s->pw);
        return;
    }
    uint32_t *oids = calloc((size_t)n, sizeof *oids);
    if (!oids) {
        ext_fail(s, "53200", "out of memory");
        return;
    }
    for (int i = 0; i < n; i++)
        oids[i] = eng_col_oid(st, i, 0);
    send_row_description(s, st, oids, n);
    free(oids);
}

static void handle_describe(struct session *s, const struct pw_msg *m)
{
    struct pw_reader r = pw_reader(m);
    char what = (char)pw_get_u8(&r);
    const char *name = pw_get_str(&r);
    if (r.bad || r.left || (what != 'S' && what != 'P')) {
        ext_fail(s, "08P01", "invalid Describe message");
        return;
    }
    if (what == 'S') {
        struct pstmt *ps = find_pstmt_or_fail(s, name);
        if (!ps)
            return;
        pw_begin(&s->pw, 't');
        pw_i16(&s->pw, (int16_t)ps->nparams);
        for (int i = 0; i < ps->nparams; i++)
            pw_i32(&s->pw, (int32_t)(i < ps->nptypes && ps->ptypes[i] ? ps->ptypes[i] : PG_OID_TEXT));
        pw_end(&s->pw);
        describe_rows(s, &ps->tr, ps->st);
        return;
    }
    struct portal *po = find_portal_or_fail(s, name);
    if (!po)
        return;
    if (po->st && po->ncols) {
        send_row_description(s, po->st, po->oids, po->ncols);
        return;
    }
    describe_rows(s, &po->ps->tr, po->st);
}

static void handle_execute(struct session *s, const struct pw_msg *m)
{
    struct pw_reader r = pw_reader(m);
    const char *name = pw_get_str(&r);
    int32_t max_rows = pw_get_i32(&r);
    if (r.bad || r.left) {
        ext_fail(s, "08P01", "invalid Execute message");
        return;
    }
    struct portal *po = find_portal_or_fail(s, name);
    if (!po)
        return;
    const struct tr_result *tr = &po->ps->tr;
    if (tr->kind == TR_EMPTY) {
        pw_begin(&s->pw, 'I');
        pw_end(&s->pw);
        return;
    }
    const char *tag = NULL;
    bool ok;
    if (txn_precheck(s, tr, &tag, &ok)) {
        /* COMMIT/ROLLBACK closed every portal, po included. */
        if (ok && tag)
            pw_command_complete(&s->pw, tag);
        else if (!ok)
            s->ext_error = true;
        return;
    }
    struct exec ex = {.s = s};
    bool was = in_txn(s);
    switch (tr->kind) {
    case TR_NOOP:
        pw_command_complete(&s->pw, tr->tag);
        return;
    case TR_SET:
        if (!do_set(s, tr))
            s->ext_error = true;
        return;
    case TR_SHOW:
        if (!do_show(s, tr, false))
            s->ext_error = true;
        return;
    case TR_BEGIN:
    case TR_COMMIT:
    case TR_ROLLBACK:
        ex.op = EX_SQL;
        ex.sql = tr->sql;
        break;
    default:
        if (po->done) { /* already run to completion: nothing more */
            ex.rows = 0;
            complete_tag(s, tr, &ex);
            return;
        }
        ex.op = EX_PORTAL;
        ex.po = po;
        ex.max_rows = max_rows;
    }
    run_job(s, &ex, tr);
    if (ex.failed) {
        after_error(s, was, &ex.err);
        s->ext_error = true;
        return;
    }
    if (tr->kind == TR_ROLLBACK_TO)
        s->txn_failed = false;
    if (ex.suspended) {
        pw_begin(&s->pw, 's');
        pw_end(&s->pw);
        return;
    }
    complete_tag(s, tr, &ex);
}

static void handle_close(struct session *s, const struct pw_msg *m)
{
    struct pw_reader r = pw_reader(m);
    char what = (char)pw_get_u8(&r);
    const char *name = pw_get_str(&r);
    if (r.bad || r.left || (what != 'S' && what != 'P')) {
        ext_fail(s, "08P01", "invalid Close message");
        return;
    }
    /* Closing something that does not exist is not an error. */
    if (what == 'S') {
        struct pstmt *ps = pstmt_find(s, name);
        if (ps)
            pstmt_free(s, ps);
    } else {
        struct portal *po = portal_find(s, name);
        if (po)
            portal_free(s, po);
    }
    pw_begin(&s->pw, '3');
    pw_end(&s->pw);
}

static void handle_sync(struct session *s)
{
    s->ext_error = false;
    /* Outside a transaction block, Sync ends the implicit transaction, and
     * portals do not outlive their transaction. */
    if (!in_txn(s))
        portals_close_all(s);
    pw_ready(&s->pw, txn_status(s));
}

/* ------------------------------------------------------- startup & auth */

static void send_auth(struct session *s, int32_t code, const void *data, size_t n)
{
    pw_begin(&s->pw, 'R');
    pw_i32(&s->pw, code);
    pw_bytes(&s->pw, data, n);
    pw_end(&s->pw);
}

/* Reads one authentication response ('p'); false (after a FATAL) if the
 * client sent something else. */
static bool read_auth_msg(struct session *s, struct pw_msg *m)
{
    char err[256];
    int rc = pw_read_msg(&s->pw, m, AUTH_TIMEOUT_MS, err, sizeof err);
    if (rc == PW_EPROTO) {
        fatal(s, "08P01", err);
        return false;
    }
    if (rc != PW_OK)
        return false;
    if (m->type != 'p') {
        snprintf(err, sizeof err, "expected SASL response, got message type 0x%02x", (unsigned char)m->type);
        fatal(s, "08P01", err);
        return false;
    }
    return true;
}

static bool auth_scram(struct session *s, const struct cfg_user *u)
{
    char err[256], out[512], msg[160];
    snprintf(msg, sizeof msg, "password authentication failed for user \"%.60s\"", s->user);
    send_auth(s, 10, "SCRAM-SHA-256\0", 15);
    if (pw_flush(&s->pw))
        return false;
    struct pw_msg m;
    if (!read_auth_msg(s, &m))
        return false;
    struct pw_reader r = pw_reader(&m);
    const char *mech = pw_get_str(&r);
    int32_t len = pw_get_i32(&r);
    const uint8_t *data = len >= 0 ? pw_get_bytes(&r, (size_t)len) : NULL;
    if (r.bad || !data || r.left) {
        fatal(s, "08P01", "malformed SASLInitialResponse message");
        return false;
    }
    if (strcmp(mech, "SCRAM-SHA-256") != 0) {
        fatal(s, "28000", "client selected an invalid SASL authentication mechanism");
        return false;
    }
    struct scram_state *st = malloc(sizeof *st);
    if (!st)
        return false;
    scram_init(st, u ? u->verifier : NULL, s->user);
    bool ok = false;
    if (scram_handle_first(st, (const char *)data, (size_t)len, out, sizeof out, err, sizeof err)) {
        fatal(s, "08P01", err);
        goto done;
    }
    send_auth(s, 11, out, strlen(out));
    if (pw_flush(&s->pw) || !read_auth_msg(s, &m))
        goto done;
    if (scram_handle_final(st, (const char *)m.data, m.len, &ok, out, sizeof out, err, sizeof err)) {
        fatal(s, "08P01", err);
        goto done;
    }
    if (!ok) {
        fatal(s, "28P01", msg);
        goto done;
    }
    send_auth(s, 12, out, strlen(out));
done:
    free(st);
    return ok;
}

/* Startup packet: protocol negotiation, SSL/GSS refusal, cancel requests,
 * parameters. Returns false when the connection should close. */
static bool startup(struct session *s)
{
    char err[256];
    struct pw_msg m;
    bool ssl_done = false, gss_done = false;
    for (;;) {
        int rc = pw_read_startup(&s->pw, &m, AUTH_TIMEOUT_MS, err, sizeof err);
        if (rc == PW_EPROTO) {
            fatal(s, "08P01", err);
            return false;
        }
        if (rc != PW_OK)
            return false;
        struct pw_reader r = pw_reader(&m);
        uint32_t code = (uint32_t)pw_get_i32(&r);
        if ((code == PW_SSL_CODE && !ssl_done) || (code == PW_GSSENC_CODE && !gss_done)) {
            if (m.len != 4) {
                fatal(s, "08P01", "invalid length of SSL/GSS encryption request");
                return false;
            }
            /* Encryption is not offered: the client continues in clear
             * text or gives up, as its sslmode says. */
            if (pw_send_raw(&s->pw, "N", 1))
                return false;
            ssl_done |= code == PW_SSL_CODE;
            gss_done |= code == PW_GSSENC_CODE;
            continue;
        }
        if (code == PW_CANCEL_CODE) {
            if (m.len != 12)
                return false;
            int32_t pid = pw_get_i32(&r), secret = pw_get_i32(&r);
            handle_cancel_request(s->srv, pid, secret);
            return false;
        }
        if (code >> 16 != 3) {
            snprintf(err, sizeof err, "unsupported frontend protocol %u.%u: server supports 3.0", code >> 16,
                     code & 0xffff);
            fatal(s, "0A000", err);
            return false;
        }
        /* Parameters: name/value pairs up to an empty name. */
        const char *unknown[16];
        int nunknown = 0;
        char database[128] = "";
        for (;;) {
            const char *k = pw_get_str(&r);
            if (r.bad || !*k)
                break;
            const char *v = pw_get_str(&r);
            if (r.bad)
                break;
            if (strcmp(k, "user") == 0) {
                snprintf(s->user, sizeof s->user, "%s", v);
            } else if (strcmp(k, "database") == 0) {
                snprintf(database, sizeof database, "%s", v);
            } else if (strncmp(k, "_pq_.", 5) == 0) {
                if (nunknown < 16)
                    unknown[nunknown++] = k;
            } else if (strcmp(k, "replication") == 0) {
                if (strcasecmp(v, "false") != 0 && strcasecmp(v, "off") != 0 && strcmp(v, "0") != 0) {
                    fatal(s, "0A000", "replication connections are not supported");
                    return false;
                }
            } else if (strcmp(k, "client_encoding") == 0 && !encoding_ok(v)) {
                fatal(s, "0A000", "only UTF8 client encoding is supported");
                return false;
            } else if (strcmp(k, "options") != 0 && strcmp(k, "client_encoding") != 0) {
                if (param_set(s, k, v))
                    return false;
            }
        }
        if (r.bad || r.left) {
            fatal(s, "08P01", "invalid startup packet layout: expected terminator as last byte");
            return false;
        }
        if (!s->user[0]) {
            fatal(s, "28000", "no PostgreSQL user name specified in startup packet");
            return false;
        }
        snprintf(s->dbname, sizeof s->dbname, "%.63s", database[0] ? database : s->user);
        if (strlen(database) > 63) /* keep an over-long name from matching a truncated one */
            snprintf(s->dbname, sizeof s->dbname, "%s", "");
        if ((code & 0xffff) > 0 || nunknown) {
            pw_begin(&s->pw, 'v');
            pw_i32(&s->pw, 0);
            pw_i32(&s->pw, nunknown);
            for (int i = 0; i < nunknown; i++)
                pw_str(&s->pw, unknown[i]);
            pw_end(&s->pw);
        }
        return true;
    }
}

static bool authenticate_and_open(struct session *s)
{
    struct server *srv = s->srv;
    const struct config *cfg = &srv->cfg;
    const struct cfg_user *u = config_user(cfg, s->user);
    bool open_mode = cfg->auth == AUTH_TRUST && cfg->nusers == 0;
    char msg[200];
    if (cfg->auth == AUTH_SCRAM) {
        if (!auth_scram(s, u))
            return false;
    } else if (!u && !open_mode) {
        snprintf(msg, sizeof msg, "role \"%.60s\" does not exist", s->user);
        fatal(s, "28000", msg);
        return false;
    }
    send_auth(s, 0, NULL, 0);
    /* Only an authenticated client learns whether a database exists. */
    const struct cfg_database *d = eng_dbname_valid(s->dbname) ? config_database(cfg, s->dbname) : NULL;
    if (!d) {
        snprintf(msg, sizeof msg, "database \"%.63s\" does not exist", s->dbname);
        fatal(s, "3D000", msg);
        return false;
    }
    if (!open_mode && !config_user_may_open(u, s->dbname)) {
        snprintf(msg, sizeof msg, "permission denied for database \"%s\"", s->dbname);
        fatal(s, "42501", msg);
        return false;
    }
    s->tenant = (int)(d - cfg->dbs);
    pthread_mutex_lock(&srv->mu);
    int n = 0;
    for (struct session *o = srv->sessions; o; o = o->reg_next)
        n++;
    pthread_mutex_unlock(&srv->mu);
    if (n > cfg->max_connections) { /* n counts this session too */
        fatal(s, "53300", "sorry, too many clients already");
        return false;
    }
    char path[PATH_MAX], err[512];
    eng_db_path(cfg->data_dir, s->dbname, path, sizeof path);
    struct eng_db_opts o = {.synchronous = (enum eng_sync)(d->synchronous >= 0 ? d->synchronous : cfg->synchronous),
                            .dbname = s->dbname, .username = s->user, .tenant = (uint32_t)s->tenant};
    /* This thread's SQLite memory and the connection's page cache are the
     * tenant's from here on. */
    storage_set_thread_tenant((uint32_t)s->tenant);
#ifndef PLIANT_NO_HOOKS
    s->authz = (struct eng_authorizer){.fn = hooks_authorize, .user = &s->tenant};
    o.authorizer = &s->authz;
#endif
    sqlite3 *db;
    if (eng_db_open(path, &o, &db, err, sizeof err)) {
        log_event(LOG_ERROR, "db_open_failed", "db=%s msg=%s", s->dbname, log_q(err));
        fatal(s, "58030", "could not open the database file; see the server log");
        return false;
    }
    sqlite3_progress_handler(db, 1000, exec_progress, s);
    if (RAND_bytes((unsigned char *)&s->secret, sizeof s->secret) != 1)
        s->secret = (int32_t)random();
    pthread_mutex_lock(&srv->mu);
    s->db = db;
    pthread_mutex_unlock(&srv->mu);
    for (size_t i = 0; i < sizeof server_params / sizeof server_params[0]; i++)
        pw_param_status(&s->pw, server_params[i][0], server_params[i][1]);
    const char *app = param_get(s, "application_name");
    pw_param_status(&s->pw, "application_name", app ? app : "");
    pw_param_status(&s->pw, "session_authorization", s->user);
    pw_begin(&s->pw, 'K');
    pw_i32(&s->pw, s->pid);
    pw_i32(&s->pw, s->secret);
    pw_end(&s->pw);
    pw_ready(&s->pw, 'I');
    log_event(LOG_INFO, "session_start", "pid=%d user=%s db=%s", s->pid, log_q(s->user), s->dbname);
    return true;
}

/* ------------------------------------------------------------ main loop */

static void serve(struct session *s)
{
    struct server *srv = s->srv;
    char err[256];
    for (;;) {
        if (s->close_after)
            return;
        if (!pw_has_buffered(&s->pw)) {
            if (atomic_load(&srv->shutting_down) && !in_txn(s)) {
                fatal(s, "57P01", "terminating connection due to administrator command");
                return;
            }
            if (pw_flush(&s->pw))
                return;
        }
        struct pw_msg m;
        int rc = pw_read_msg(&s->pw, &m, -1, err, sizeof err);
        if (rc == PW_WAKE) {
            /* Idle inside a transaction block: give the client the grace
             * period to finish it, then end the session. */
            rc = pw_read_msg(&s->pw, &m, srv->cfg.shutdown_grace_ms, err, sizeof err);
            if (rc == PW_EIO || rc == PW_WAKE) {
                fatal(s, "57P01", "terminating connection due to administrator command");
                return;
            }
        }
        if (rc == PW_EPROTO) {
            fatal(s, "08P01", err);
            return;
        }
        if (rc != PW_OK)
            return;
        if (s->ext_error && m.type != 'S' && m.type != 'X') {
            if (strchr("QPBDECHdcf", m.type) && m.type)
                continue; /* discarded until Sync */
        }
        switch (m.type) {
        case 'Q':
            handle_query(s, &m);
            break;
        case 'P':
            handle_parse(s, &m);
            break;
        case 'B':
            handle_bind(s, &m);
            break;
        case 'D':
            handle_describe(s, &m);
            break;
        case 'E':
            handle_execute(s, &m);
            break;
        case 'C':
            handle_close(s, &m);
            break;
        case 'S':
            handle_sync(s);
            break;
        case 'H':
            if (pw_flush(&s->pw))
                return;
            break;
        case 'X':
            return;
        case 'd':
        case 'c':
        case 'f':
            break; /* leftovers of a failed COPY: ignored, as PostgreSQL does */
        default:
            snprintf(err, sizeof err, "invalid frontend message type %d", (unsigned char)m.type);
            fatal(s, "08P01", err);
            return;
        }
    }
}

static void session_free(struct session *s)
{
    registry_remove(s);
    if (s->copy)
        eng_copy_close(s->copy);
    while (s->stmts)
        pstmt_free(s, s->stmts);
    portals_close_all(s);
    eng_db_close(s->db);
    for (int i = 0; i < s->nparams; i++) {
        free(s->params[i].name);
        free(s->params[i].value);
    }
    free(s->params);
    pw_free(&s->pw);
    close(s->fd);
    free(s);
}

static void *session_main(void *arg)
{
    struct session *s = arg;
    struct server *srv = s->srv;
    if (startup(s) && authenticate_and_open(s)) {
        serve(s);
        pw_flush(&s->pw);
        log_event(LOG_INFO, "session_end", "pid=%d user=%s db=%s", s->pid, log_q(s->user), s->dbname);
    }
    session_free(s);
    /* Release this thread's OpenSSL and runtime state now rather than in
     * thread-exit destructors: once nsessions drops, main may tear down
     * the runtime and exit before those would run (ASan then reports
     * OpenSSL's per-thread DRBG as leaked). */
    OPENSSL_thread_stop();
    pl_thread_unregister();
    pthread_mutex_lock(&srv->mu);
    srv->nsessions--;
    pthread_cond_broadcast(&srv->idle);
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

int session_spawn(struct server *srv, int fd)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return -1;
    }
    s->srv = srv;
    s->fd = fd;
    pw_init(&s->pw, fd, srv->wake_fd, srv->cfg.max_message);
    registry_add(s);
    pthread_mutex_lock(&srv->mu);
    srv->nsessions++;
    pthread_mutex_unlock(&srv->mu);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, session_main, s);
    pthread_attr_destroy(&attr);
    if (rc) {
        log_event(LOG_ERROR, "session_spawn_failed", "msg=%s", log_q(strerror(rc)));
        registry_remove(s);
        pw_free(&s->pw);
        close(fd);
        free(s);
        pthread_mutex_lock(&srv->mu);
        srv->nsessions--;
        pthread_mutex_unlock(&srv->mu);
        return -1;
    }
    return 0;
}
