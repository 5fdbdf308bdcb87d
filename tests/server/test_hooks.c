/* pliantd's query-level hookpoints end to end: policies attached with
 * `attach =` (config) or `--attach` (flag) at start-up, their effect seen
 * by a libpq client; programs that do not fit a hook refused at start-up
 * with the verifier's message; the default extensions indistinguishable
 * from no extension. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../testlib.h"
#include "harness.h"

/* "OK <tag>" or "ERR <sqlstate>" for one statement. */
static const char *outcome(PGconn *c, const char *sql)
{
    static char buf[128];
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        snprintf(buf, sizeof buf, "OK %s", PQcmdStatus(r));
    else
        snprintf(buf, sizeof buf, "ERR %s", srv_sqlstate(r));
    PQclear(r);
    return buf;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --------------------------------------------- authorize, query_progress */

/* P: tenant 0 "rw" writable, tenant 1 "ro" read-only by policy; statements
 * canceled after 500 ms; a latency histogram collected on the side. */
static struct srv P;
static bool p_up, p_failed;

/* When a name filter skips the test that stops P, its server and
 * directory still go at exit. */
__attribute__((destructor)) static void cleanup_P(void)
{
    if (p_up)
        srv_cleanup(&P);
}

static bool need_P(void)
{
    if (p_up || p_failed)
        return p_up;
    p_failed = true;
    /* The read-only tenant cannot create its own table, so its file is
     * made here, before the server starts on the same directory. */
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "/tmp/pliantd-test-%d-P", (int)getpid());
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return false;
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/data", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/data/ro.db", dir);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "create table t(id integer primary key, v text); insert into t values (1, 'a'), (2, 'b');",
                     NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return false;
    }
    sqlite3_close(db);
    char extra[2048];
    snprintf(extra, sizeof extra,
             "auth = trust\nworkers = 2\n"
             "attach = authorize=%s\nattach = query_progress=%s:hook/query_progress\nattach = query_end=%s\n"
             "[database rw]\n[database ro]\n",
             ext_path("authorize_readonly_tenant"), ext_path("progress_deadline"), ext_path("query_end_latency_hist"));
    p_up = srv_start(&P, "P", extra, true) == 0;
    p_failed = !p_up;
    return p_up;
}

TEST(hooks_readonly_tenant_authorizer_blocks_writes_not_reads)
{
    CHECK(need_P());
    PGconn *rw = srv_connect(&P, "u", "rw", NULL), *ro = srv_connect(&P, "u", "ro", NULL);
    CHECK(PQstatus(rw) == CONNECTION_OK && PQstatus(ro) == CONNECTION_OK);
    /* The writable tenant is untouched by the policy. */
    CHECK_EQ(strcmp(outcome(rw, "create table w(x int)"), "OK CREATE TABLE"), 0);
    CHECK_EQ(strcmp(outcome(rw, "insert into w values (1), (2)"), "OK INSERT 0 2"), 0);
    CHECK_EQ(strcmp(outcome(rw, "update w set x = x + 1"), "OK UPDATE 2"), 0);
    CHECK_EQ(strcmp(outcome(rw, "delete from w where x = 3"), "OK DELETE 1"), 0);
    /* The read-only tenant reads... */
    PGresult *r = PQexec(ro, "select v from t order by id");
    CHECK_MSG(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 2 && strcmp(PQgetvalue(r, 1, 0), "b") == 0,
              "%s", PQresultErrorMessage(r));
    PQclear(r);
    /* ... and every kind of write is refused with 42501. */
    static const char *const writes[] = {
        "insert into t values (3, 'c')", "update t set v = 'z'", "delete from t", "create table u(x int)",
        "drop table t", "create index ti on t(v)", "alter table t add column w int", "create view tv as select 1",
    };
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        const char *o = outcome(ro, writes[i]);
        CHECK_MSG(strcmp(o, "ERR 42501") == 0, "%s -> %s", writes[i], o);
    }
    /* Extended protocol: refused at Parse, same SQLSTATE. */
    const char *vals[2] = {"4", "d"};
    r = PQexecParams(ro, "insert into t values ($1, $2)", 2, NULL, vals, NULL, NULL, 0);
    CHECK_MSG(strcmp(srv_sqlstate(r), "42501") == 0, "%s", PQresultErrorMessage(r));
    PQclear(r);
    /* Nothing changed, and the session goes on. */
    r = PQexec(ro, "select count(*) from t");
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "2") == 0);
    PQclear(r);
    PQfinish(rw);
    PQfinish(ro);
}

TEST(hooks_deadline_canceller_cancels_long_statement)
{
    CHECK(need_P());
    PGconn *c = srv_connect(&P, "u", "rw", NULL);
    CHECK(PQstatus(c) == CONNECTION_OK);
    double t0 = now_s();
    PGresult *r = PQexec(c, "with recursive n(x) as (select 1 union all select x + 1 from n where x < 4000000000) "
                            "select count(*) from n");
    double took = now_s() - t0;
    CHECK_MSG(strcmp(srv_sqlstate(r), "57014") == 0, "state %s: %s", srv_sqlstate(r), PQresultErrorMessage(r));
    CHECK_MSG(strstr(PQresultErrorMessage(r), "policy"), "%s", PQresultErrorMessage(r));
    PQclear(r);
    /* 500 ms deadline; generous upper bound for ASan builds. */
    CHECK_MSG(took >= 0.45 && took < 10, "took %.2f s", took);
    /* Short statements are untouched, and the session goes on. */
    CHECK_EQ(strcmp(outcome(c, "with recursive n(x) as (select 1 union all select x + 1 from n where x < 1000) "
                               "select count(*) from n"),
                    "OK SELECT 1"),
             0);
    PQfinish(c);
}

TEST(hooks_server_with_policies_stops_cleanly)
{
    CHECK(need_P());
    /* The leak check of the ASan build decides the exit status: hooks,
     * programs and maps are all released at shutdown. */
    CHECK_EQ(srv_stop(&P), 0);
    srv_cleanup(&P);
    p_up = false;
    p_failed = true;
}

/* ------------------------------------------------- refused at start-up */

TEST(hooks_attach_refuses_to_start_on_bad_program)
{
    char dir[256], out[8192], cmd[2048];
    snprintf(dir, sizeof dir, "/tmp/pliantd-test-%d-bad", (int)getpid());
    static const struct {
        const char *hook, *file, *expect;
    } cases[] = {
        /* Unsafe: reads past its context. The verifier's message names the
         * instruction, the reason and the source line. */
        {"authorize", "server_progs/hook_authorize_unsafe.o", "past the 40-byte context of hook authorize"},
        {"authorize", "server_progs/hook_authorize_unsafe.o", "hook_authorize_unsafe.c:"},
        /* Mismatched: a demo_evict policy does not fit sched_pick. */
        {"sched_pick", "extensions/demo_evict_lru.bpf.o", "of hook sched_pick"},
        /* Right program, wrong hook: its answers exceed admit's range or
         * its fields do not exist there. */
        {"admit", "extensions/query_end_latency_hist.bpf.o", "hook admit"},
        {"no_such_hook", "extensions/admit_default.bpf.o", "unknown hook \"no_such_hook\""},
        {"admit", "extensions/admit_default.bpf.o:hook/nope", "no program in section \"hook/nope\""},
        {"admit", "extensions/does_not_exist.bpf.o", "No such file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s --trust -D %s -d x -p 0 --attach %s=%s/%s", pliantd_path(), dir, cases[i].hook,
                 tl_build_dir(), cases[i].file);
        int rc = run_cmd(cmd, out, sizeof out, 60);
        CHECK_MSG(rc == 1, "%s=%s: exit %d: %s", cases[i].hook, cases[i].file, rc, out);
        CHECK_MSG(strstr(out, cases[i].expect) && strstr(out, "pliantd: --attach"), "%s=%s: expected \"%s\" in: %s",
                  cases[i].hook, cases[i].file, cases[i].expect, out);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* ------------------------------------- defaults reproduce the built-ins */

/* A small workload touching every hook's path: writes, reads, errors,
 * a transaction, the extended protocol, COPY-free. Returns a transcript
 * of tags, rows and SQLSTATEs (malloc'ed). */
static char *workload(const struct srv *s)
{
    PGconn *c = srv_connect(s, "u", "w", NULL);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    static const char *const stmts[] = {
        "create table acct(id integer primary key, owner text not null unique, bal int check (bal >= 0))",
        "insert into acct values (1, 'ann', 100), (2, 'bob', 50), (3, 'cy', 0)",
        "insert into acct values (4, 'ann', 1)",
        "update acct set bal = bal - 10 where bal >= 10",
        "update acct set bal = -1 where id = 3",
        "begin",
        "insert into acct values (5, 'dee', 7)",
        "delete from acct where id = 2",
        "commit",
        "select id, owner, bal from acct order by id",
        "select owner, bal * 2 as twice from acct where bal > 0 order by owner desc",
        "with recursive n(x) as (select 1 union all select x + 1 from n where x < 20000) select sum(x) from n",
        "select * from no_such_table",
        "selec 1",
        "create index acct_bal on acct(bal)",
        "drop index acct_bal",
        "select count(*), max(bal) from acct",
    };
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    out[0] = 0;
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        PGresult *r = PQexec(c, stmts[i]);
        len += (size_t)snprintf(out + len, cap - len, "%s -> %s %s %s\n", stmts[i], PQresStatus(PQresultStatus(r)),
                                PQcmdStatus(r), srv_sqlstate(r));
        for (int row = 0; row < PQntuples(r); row++) {
            for (int col = 0; col < PQnfields(r); col++)
                len += (size_t)snprintf(out + len, cap - len, "%s%s", col ? "|" : "  ",
                                        PQgetisnull(r, row, col) ? "NULL" : PQgetvalue(r, row, col));
            len += (size_t)snprintf(out + len, cap - len, "\n");
        }
        PQclear(r);
    }
    const char *vals[1] = {"ann"};
    PGresult *r = PQexecParams(c, "select bal from acct where owner = $1", 1, NULL, vals, NULL, NULL, 0);
    len += (size_t)snprintf(out + len, cap - len, "params -> %s %s\n", PQresStatus(PQresultStatus(r)),
                            PQntuples(r) ? PQgetvalue(r, 0, 0) : "-");
    PQclear(r);
    PQfinish(c);
    return out;
}

TEST(hooks_default_extensions_match_builtin_behaviour)
{
    struct srv a, b;
    CHECK(srv_start(&a, "D0", "auth = trust\nworkers = 2\n[database w]\n", false) == 0);
    char extra[4096];
    /* The flag form (--attach) is exercised above; here the config form. */
    snprintf(extra, sizeof extra,
             "auth = trust\nworkers = 2\n"
             "attach = sched_enqueue=%s\nattach = sched_pick=%s\nattach = admit=%s\n"
             "attach = query_progress=%s\nattach = query_end=%s\nattach = authorize=%s\n"
             "[database w]\n",
             ext_path("sched_enqueue_default"), ext_path("sched_pick_fifo"), ext_path("admit_default"),
             ext_path("progress_default"),
             ext_path("query_end_default"), ext_path("authorize_default"));
    if (srv_start(&b, "D1", extra, false) != 0) {
        srv_stop(&a);
        srv_cleanup(&a);
        CHECK_MSG(false, "server with the default extensions did not start (see /tmp/pliantd-test-%d-D1)",
                  (int)getpid());
    }
    char *ta = workload(&a), *tb = workload(&b);
    CHECK(ta && tb);
    CHECK_MSG(strcmp(ta, tb) == 0, "built-in:\n%s\ndefault extensions:\n%s", ta, tb);
    /* Sanity: the workload did what it says (both sides agree anyway). */
    CHECK_MSG(strstr(ta, "selec 1 -> PGRES_FATAL_ERROR  42601") && strstr(ta, "  1|ann|90"), "%s", ta);
    free(ta);
    free(tb);
    CHECK_EQ(srv_stop(&a), 0);
    CHECK_EQ(srv_stop(&b), 0);
    srv_cleanup(&a);
    srv_cleanup(&b);
}

/* -------------------------------------------- admit, sched_enqueue/pick */

#define BLOCKER "with recursive b(y) as (select 1 union all select y + 1 from b where y < 4000000000) " \
                "select count(*) from b"

/* Waits for an async query's result: "OK" or its SQLSTATE. */
static const char *finish(PGconn *c)
{
    static char buf[4][32];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, 32, "OK");
    PGresult *r;
    while ((r = PQgetResult(c))) {
        if (PQresultStatus(r) == PGRES_FATAL_ERROR)
            snprintf(b, 32, "%s", srv_sqlstate(r));
        PQclear(r);
    }
    return b;
}

static void cancel(PGconn *c)
{
    PGcancel *cc = PQgetCancel(c);
    char eb[256];
    PQcancel(cc, eb, sizeof eb);
    PQfreeCancel(cc);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

TEST(hooks_admit_queue_limit_rejects_when_queue_is_full)
{
    struct srv a;
    char extra[1024];
    snprintf(extra, sizeof extra, "auth = trust\nworkers = 1\nattach = admit=%s\n[database w]\n",
             ext_path("admit_queue_limit"));
    CHECK(srv_start(&a, "A", extra, false) == 0);
    PGconn *c1 = srv_connect(&a, "u", "w", NULL), *c2 = srv_connect(&a, "u", "w", NULL),
           *c3 = srv_connect(&a, "u", "w", NULL);
    CHECK(PQstatus(c1) == CONNECTION_OK && PQstatus(c2) == CONNECTION_OK && PQstatus(c3) == CONNECTION_OK);
    /* The only worker is busy; one statement may wait, the next may not. */
    CHECK(PQsendQuery(c1, BLOCKER));
    sleep_ms(300);
    CHECK(PQsendQuery(c2, "select 2"));
    sleep_ms(200);
    const char *o = outcome(c3, "select 3");
    CHECK_MSG(strcmp(o, "ERR 53000") == 0, "third statement: %s", o);
    cancel(c1);
    o = finish(c1);
    CHECK_MSG(strcmp(o, "57014") == 0, "blocker: %s", o);
    o = finish(c2);
    CHECK_MSG(strcmp(o, "OK") == 0, "queued statement: %s", o);
    /* With the queue empty again, the rejected client's retry runs. */
    o = outcome(c3, "select 3");
    CHECK_MSG(strcmp(o, "OK SELECT 1") == 0, "retry: %s", o);
    PQfinish(c1);
    PQfinish(c2);
    PQfinish(c3);
    CHECK_EQ(srv_stop(&a), 0);
    srv_cleanup(&a);
}

/* With one worker, a statement whose last run was long (class 2) and one
 * whose last run was short (class 0) queue behind a blocker: FIFO serves
 * the long one first, the priority policy the short one. Returns which
 * ran first, 2 (long, from c2) or 3 (short, from c3); 0 on failure. */
static int short_vs_long_order(bool priority)
{
    struct srv a;
    char extra[1024];
    if (priority)
        snprintf(extra, sizeof extra,
                 "auth = trust\nworkers = 1\nattach = sched_enqueue=%s\nattach = sched_pick=%s\n[database w]\n",
                 ext_path("sched_enqueue_short_first"), ext_path("sched_pick_priority"));
    else
        snprintf(extra, sizeof extra, "auth = trust\nworkers = 1\n[database w]\n");
    if (srv_start(&a, priority ? "PRI" : "FIFO", extra, false) != 0)
        return 0;
    /* Each statement logs itself: the table's order is the order in
     * which they ran, whatever the timing of the replies. */
    static const char *const LONG = "insert into log select 'long' from (with recursive m(z) as (select 1 union all "
                                    "select z + 1 from m where z < 1000000) select count(*) from m)";
    static const char *const SHORT = "insert into log values ('short')";
    PGconn *c1 = srv_connect(&a, "u", "w", NULL), *c2 = srv_connect(&a, "u", "w", NULL),
           *c3 = srv_connect(&a, "u", "w", NULL);
    int order = 0;
    /* History: one run of each fingerprint. */
    if (strcmp(outcome(c2, "create table log(who text)"), "OK CREATE TABLE") ||
        strcmp(outcome(c2, LONG), "OK INSERT 0 1") || strcmp(outcome(c3, SHORT), "OK INSERT 0 1"))
        goto out;
    if (!PQsendQuery(c1, BLOCKER))
        goto out;
    sleep_ms(300);
    PQsendQuery(c2, LONG);
    sleep_ms(100);
    PQsendQuery(c3, SHORT);
    sleep_ms(100);
    cancel(c1);
    const char *f1 = finish(c1), *f2 = finish(c2), *f3 = finish(c3);
    if (strcmp(f1, "57014") || strcmp(f2, "OK") || strcmp(f3, "OK")) {
        fprintf(stderr, "  %s: blocker %s, long %s, short %s\n", priority ? "priority" : "fifo", f1, f2, f3);
        goto out;
    }
    PGresult *r = PQexec(c2, "select who from log order by rowid desc limit 2");
    if (PQntuples(r) == 2)
        order = strcmp(PQgetvalue(r, 1, 0), "long") == 0 ? 2 : 3; /* row 1: the earlier of the two */
    PQclear(r);
out:
    PQfinish(c1);
    PQfinish(c2);
    PQfinish(c3);
    int st = srv_stop(&a);
    if (st != 0) {
        fprintf(stderr, "  %s: server exit status %d\n", priority ? "priority" : "fifo", st);
        order = 0;
    }
    if (order == 0)
        fprintf(stderr, "  server log kept in %s\n", a.dir);
    else
        srv_cleanup(&a);
    return order;
}

TEST(hooks_priority_scheduler_runs_short_statements_first)
{
    int fifo = short_vs_long_order(false), pri = short_vs_long_order(true);
    CHECK_MSG(fifo == 2, "built-in FIFO: c%d ran first, expected c2 (queued first)", fifo);
    CHECK_MSG(pri == 3, "priority policy: c%d ran first, expected c3 (short)", pri);
}

/* With one worker, tenant a (class 0 under sched_enqueue_tenant) floods the
 * queue with FLOOD statements behind a blocker, then tenant b (class 1)
 * submits one. Returns how many of a's statements ran before b's, or -1.
 * Tenants are separate databases, so each statement logs the server's
 * clock (SQLite's 'now', ms) into its own tenant's table: with one worker
 * and statements lasting several ms, the times order the executions. */
#define FLOOD 10
static int flood_then_late_tenant(bool fair)
{
    struct srv a;
    char extra[1024];
    if (fair)
        snprintf(extra, sizeof extra,
                 "auth = trust\nworkers = 1\nattach = sched_enqueue=%s\nattach = sched_pick=%s\n"
                 "[database a]\n[database b]\n",
                 ext_path("sched_enqueue_tenant"), ext_path("sched_pick_fair_share"));
    else
        snprintf(extra, sizeof extra, "auth = trust\nworkers = 1\n[database a]\n[database b]\n");
    if (srv_start(&a, fair ? "FAIR" : "FIFO2", extra, false) != 0)
        return -1;
    static const char *const WORK = "insert into log select '%s', cast((julianday('now') - 2440587.5) * 86400000 as "
                                    "integer) from (with recursive m(z) as (select 1 union all select z + 1 from m "
                                    "where z < 100000) select count(*) from m)";
    char wa[512], wb[512];
    snprintf(wa, sizeof wa, WORK, "a");
    snprintf(wb, sizeof wb, WORK, "b");
    PGconn *blk = srv_connect(&a, "u", "a", NULL), *cb = srv_connect(&a, "u", "b", NULL), *ca[FLOOD];
    for (int i = 0; i < FLOOD; i++)
        ca[i] = srv_connect(&a, "u", "a", NULL);
    int before = -1;
    if (strcmp(outcome(blk, "create table log(who text, ms integer)"), "OK CREATE TABLE") ||
        strcmp(outcome(cb, "create table log(who text, ms integer)"), "OK CREATE TABLE"))
        goto out;
    if (!PQsendQuery(blk, BLOCKER))
        goto out;
    sleep_ms(300);
    for (int i = 0; i < FLOOD; i++)
        PQsendQuery(ca[i], wa);
    sleep_ms(200);
    PQsendQuery(cb, wb);
    sleep_ms(100);
    cancel(blk);
    bool ok = strcmp(finish(blk), "57014") == 0;
    for (int i = 0; i < FLOOD; i++)
        ok &= strcmp(finish(ca[i]), "OK") == 0;
    ok &= strcmp(finish(cb), "OK") == 0;
    if (!ok) {
        fprintf(stderr, "  %s: a statement failed\n", fair ? "fair" : "fifo");
        goto out;
    }
    PGresult *rb = PQexec(cb, "select ms from log"), *ra = PQexec(blk, "select ms from log order by ms");
    if (PQntuples(rb) == 1 && PQntuples(ra) == FLOOD) {
        long long tb = atoll(PQgetvalue(rb, 0, 0));
        int after = 0;
        before = 0;
        for (int i = 0; i < FLOOD; i++) {
            long long t = atoll(PQgetvalue(ra, i, 0));
            before += t < tb;
            after += t > tb;
        }
        /* A tie would make the order unknowable: say so, not guess. */
        if (before + after != FLOOD) {
            fprintf(stderr, "  %s: b's time ties one of a's; statements too short\n", fair ? "fair" : "fifo");
            before = -1;
        }
    }
    PQclear(ra);
    PQclear(rb);
out:
    PQfinish(blk);
    PQfinish(cb);
    for (int i = 0; i < FLOOD; i++)
        PQfinish(ca[i]);
    int st = srv_stop(&a);
    if (st != 0) {
        fprintf(stderr, "  %s: server exit status %d\n", fair ? "fair" : "fifo", st);
        before = -1;
    }
    if (before < 0)
        fprintf(stderr, "  server log kept in %s\n", a.dir);
    else
        srv_cleanup(&a);
    return before;
}

TEST(hooks_fair_share_scheduler_serves_late_tenant_early)
{
    int fifo = flood_then_late_tenant(false), fair = flood_then_late_tenant(true);
    CHECK_MSG(fifo == FLOOD, "built-in FIFO: %d of a's %d statements ran before b's, expected all", fifo, FLOOD);
    /* Both classes start at 0 turns; the tie goes to class 0 (a), then b. */
    CHECK_MSG(fair >= 0 && fair <= 1, "fair share: %d of a's statements ran before b's, expected at most 1", fair);
}

/* With one worker, tenant a queues LONG_N long statements and tenant b
 * SHORT_N short ones (behind a blocker, so all wait together). Returns how
 * many of a's statements ran before b's last, or -1. Counting turns
 * alternates the tenants, so b's last waits for about as many of a's long
 * statements as b has; sharing run time lets b's short statements run
 * once one long statement of a's is on a's account. */
#define LONG_N 4
#define SHORT_N 6
static int long_vs_short_tenant(const char *attach, const char *name)
{
    struct srv a;
    char extra[1024];
    snprintf(extra, sizeof extra, "auth = trust\nworkers = 1\n%s[database a]\n[database b]\n", attach);
    if (srv_start(&a, name, extra, false) != 0)
        return -1;
    static const char *const WORK = "insert into log select '%s', cast((julianday('now') - 2440587.5) * 86400000 as "
                                    "integer) from (with recursive m(z) as (select 1 union all select z + 1 from m "
                                    "where z < %d) select count(*) from m)";
    char wa[512], wb[512];
    snprintf(wa, sizeof wa, WORK, "a", 600000);
    snprintf(wb, sizeof wb, WORK, "b", 5000);
    PGconn *blk = srv_connect(&a, "u", "a", NULL), *cb = srv_connect(&a, "u", "b", NULL), *ca[LONG_N], *cs[SHORT_N];
    for (int i = 0; i < LONG_N; i++)
        ca[i] = srv_connect(&a, "u", "a", NULL);
    for (int i = 0; i < SHORT_N; i++)
        cs[i] = srv_connect(&a, "u", "b", NULL);
    int before = -1;
    if (strcmp(outcome(blk, "create table log(who text, ms integer)"), "OK CREATE TABLE") ||
        strcmp(outcome(cb, "create table log(who text, ms integer)"), "OK CREATE TABLE") || !PQsendQuery(blk, BLOCKER))
        goto out;
    sleep_ms(300);
    for (int i = 0; i < LONG_N; i++)
        PQsendQuery(ca[i], wa);
    for (int i = 0; i < SHORT_N; i++)
        PQsendQuery(cs[i], wb);
    sleep_ms(300);
    cancel(blk);
    bool ok = strcmp(finish(blk), "57014") == 0;
    for (int i = 0; i < LONG_N; i++)
        ok &= strcmp(finish(ca[i]), "OK") == 0;
    for (int i = 0; i < SHORT_N; i++)
        ok &= strcmp(finish(cs[i]), "OK") == 0;
    if (!ok) {
        fprintf(stderr, "  %s: a statement failed\n", name);
        goto out;
    }
    PGresult *rb = PQexec(cb, "select max(ms) from log"), *ra = PQexec(blk, "select ms from log");
    if (PQntuples(rb) == 1 && PQntuples(ra) == LONG_N) {
        long long last_b = atoll(PQgetvalue(rb, 0, 0));
        before = 0;
        for (int i = 0; i < LONG_N; i++) {
            long long t = atoll(PQgetvalue(ra, i, 0));
            if (t == last_b) {
                fprintf(stderr, "  %s: a tie between the tenants' times; statements too short\n", name);
                before = -1;
                break;
            }
            before += t < last_b;
        }
    }
    PQclear(ra);
    PQclear(rb);
out:
    PQfinish(blk);
    PQfinish(cb);
    for (int i = 0; i < LONG_N; i++)
        PQfinish(ca[i]);
    for (int i = 0; i < SHORT_N; i++)
        PQfinish(cs[i]);
    int st = srv_stop(&a);
    if (st != 0) {
        fprintf(stderr, "  %s: server exit status %d\n", name, st);
        before = -1;
    }
    if (before < 0)
        fprintf(stderr, "  server log kept in %s\n", a.dir);
    else
        srv_cleanup(&a);
    return before;
}

TEST(hooks_fair_share_of_run_time_bundle)
{
    char turns[1024], runtime[512];
    snprintf(turns, sizeof turns, "attach = sched_enqueue=%s\nattach = sched_pick=%s\n",
             ext_path("sched_enqueue_tenant"), ext_path("sched_pick_fair_share"));
    /* One object, three hooks: attached through its sched_pick program. */
    snprintf(runtime, sizeof runtime, "attach = sched_pick=%s\n", ext_path("sched_fair_runtime"));
    int by_turns = long_vs_short_tenant(turns, "TURNS"), by_time = long_vs_short_tenant(runtime, "RUNTIME");
    CHECK_MSG(by_turns >= LONG_N - 1, "turn-based fair share: %d of a's long statements before b's last, expected "
                                      ">= %d", by_turns, LONG_N - 1);
    /* The first long statement, and at most one more picked before its
     * run time reached a's account (query_end runs as the result is sent). */
    CHECK_MSG(by_time >= 0 && by_time <= 2, "run-time fair share: %d of a's long statements before b's last, "
                                            "expected at most 2", by_time);
}

/* query_end: the latency histogram counts every successful statement and
 * no failed one. Its map is read from the `hook_map` line pliantd logs at
 * shutdown (hooks_log_maps), the one read-only window on a policy's maps. */
TEST(hooks_query_end_latency_histogram_counts_statements)
{
    struct srv a;
    char extra[1024];
    snprintf(extra, sizeof extra, "auth = trust\nworkers = 2\nattach = query_end=%s\n[database w]\n",
             ext_path("query_end_latency_hist"));
    CHECK(srv_start(&a, "HIST", extra, false) == 0);
    PGconn *c = srv_connect(&a, "u", "w", NULL);
    CHECK(PQstatus(c) == CONNECTION_OK);
    enum { OK_STMTS = 40, BAD_STMTS = 7 };
    for (int i = 0; i < OK_STMTS; i++)
        CHECK_EQ(strcmp(outcome(c, "select 1"), "OK SELECT 1"), 0);
    for (int i = 0; i < BAD_STMTS; i++)
        CHECK_EQ(strcmp(outcome(c, "select * from no_such_table"), "ERR 42P01"), 0);
    PQfinish(c);
    CHECK_EQ(srv_stop(&a), 0);
    char path[400];
    snprintf(path, sizeof path, "%s/server.log", a.dir);
    FILE *f = fopen(path, "r");
    CHECK(f);
    char line[4096];
    long long total = -1;
    int buckets = 0;
    while (fgets(line, sizeof line, f)) {
        const char *e = strstr(line, "hook_map");
        if (!e || !strstr(e, "latency_log2_ns") || !(e = strstr(e, "entries=\"")))
            continue;
        /* entries="bucket:count bucket:count ..." */
        total = 0;
        for (e += 9; *e && *e != '"';) {
            unsigned b;
            long long n;
            int used;
            if (sscanf(e, "%u:%lld%n", &b, &n, &used) != 2)
                break;
            CHECK_MSG(b < 64, "bucket %u", b);
            total += n;
            buckets++;
            e += used;
            while (*e == ' ')
                e++;
        }
    }
    fclose(f);
    CHECK_MSG(total == OK_STMTS, "histogram holds %lld statements in %d buckets, expected %d (log: %s)", total,
              buckets, OK_STMTS, path);
    if (!tl_failed())
        srv_cleanup(&a);
}
