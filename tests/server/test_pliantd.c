/* pliantd end to end: libpq, raw sockets, psql and pgbench against a live
 * server started on 127.0.0.1 with an ephemeral port and a temp data dir. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../testlib.h"
#include "harness.h"

/* S: SCRAM, users and grants. T: trust, no users, small message limit. */
static struct srv S, T;
static bool s_up, t_up, s_failed, t_failed;

static void cleanup(void)
{
    if (s_up)
        srv_cleanup(&S);
    if (t_up)
        srv_cleanup(&T);
}

static void watchdog(int sig)
{
    (void)sig;
    static const char msg[] = "server tests: watchdog expired, aborting\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    cleanup();
    _exit(3);
}

__attribute__((constructor)) static void setup_watchdog(void)
{
    signal(SIGALRM, watchdog);
    alarm(540);
    signal(SIGPIPE, SIG_IGN);
    atexit(cleanup);
}

static bool need_S(void)
{
    if (s_up || s_failed)
        return s_up;
    char va[256], vb[256];
    char extra[2048];
    if (make_verifier("alice", "alice-pw", va, sizeof va) || make_verifier("bob", "bob pw", vb, sizeof vb)) {
        s_failed = true;
        return false;
    }
    snprintf(extra, sizeof extra,
             "workers = 2\nauth = scram-sha-256\n"
             "[database shop]\n[database other]\n[database bench]\n"
             "[user alice]\npassword = %s\ndatabases = shop, bench\n"
             "[user bob]\npassword = %s\ndatabases = other\n",
             va, vb);
    s_up = srv_start(&S, "S", extra, false) == 0;
    s_failed = !s_up;
    return s_up;
}

static bool need_T(void)
{
    if (t_up || t_failed)
        return t_up;
    t_up = srv_start(&T, "T", "auth = trust\nmax_message = 65536\nshutdown_grace_ms = 500\nworkers = 2\n"
                              "[database demo]\n",
                     false) == 0;
    t_failed = !t_up;
    return t_up;
}

static PGconn *alice(void) { return srv_connect(&S, "alice", "shop", "alice-pw"); }

/* Runs sql, returns the status tag ("" on error) in a static buffer. */
static const char *tag(PGconn *c, const char *sql)
{
    static char buf[64];
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        snprintf(buf, sizeof buf, "%s", PQcmdStatus(r));
    else
        snprintf(buf, sizeof buf, "ERR:%s", srv_sqlstate(r));
    PQclear(r);
    return buf;
}

static bool exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "  %s -> %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

/* ----------------------------------------------------------- start-up */

TEST(pliantd_add_user_prints_scram_verifier)
{
    char v[256];
    CHECK(make_verifier("carol", "secret", v, sizeof v) == 0);
    CHECK(strncmp(v, "SCRAM-SHA-256$4096:", 19) == 0);
    CHECK(strstr(v, "secret") == NULL);
}

TEST(pliantd_startup_errors_are_clear)
{
    CHECK(need_S());
    char out[4096], cmd[1024];
    /* Port in use. */
    snprintf(cmd, sizeof cmd, "%s --trust -D %s/d2 -d x -p %d", pliantd_path(), S.dir, S.port);
    CHECK(run_cmd(cmd, out, sizeof out, 30) == 1);
    CHECK_MSG(strstr(out, "already in use"), "%s", out);
    /* Bad config. */
    snprintf(cmd, sizeof cmd, "printf \"[server]\\nbogus = 1\\n\" > %s/bad.conf && %s --config %s/bad.conf", S.dir,
             pliantd_path(), S.dir);
    CHECK(run_cmd(cmd, out, sizeof out, 30) == 1);
    CHECK_MSG(strstr(out, "bad.conf:2") && strstr(out, "bogus"), "%s", out);
    /* Plain-text password refused. */
    snprintf(cmd, sizeof cmd, "printf \"[user x]\\npassword = hunter2\\n\" > %s/bad2.conf && %s --config %s/bad2.conf",
             S.dir, pliantd_path(), S.dir);
    CHECK(run_cmd(cmd, out, sizeof out, 30) == 1);
    CHECK_MSG(strstr(out, "SCRAM verifier"), "%s", out);
    /* Data directory that is a file. */
    snprintf(cmd, sizeof cmd, "%s --trust -D %s -d x -p 0", pliantd_path(), S.conf);
    CHECK(run_cmd(cmd, out, sizeof out, 30) == 1);
    CHECK_MSG(strstr(out, "not a directory"), "%s", out);
    /* Invalid database name. */
    snprintf(cmd, sizeof cmd, "%s --trust -D %s/d3 -d ../etc -p 0", pliantd_path(), S.dir);
    CHECK(run_cmd(cmd, out, sizeof out, 30) == 1);
    CHECK_MSG(strstr(out, "invalid database name"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s --help", pliantd_path());
    CHECK(run_cmd(cmd, out, sizeof out, 30) == 0);
    CHECK(strstr(out, "--add-user"));
}

/* ----------------------------------------------------- authentication */

TEST(pliantd_scram_login_and_parameters)
{
    CHECK(need_S());
    PGconn *c = alice();
    CHECK_MSG(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    CHECK(strcmp(PQparameterStatus(c, "server_version"), "15.0 (Pliant)") == 0);
    CHECK(strcmp(PQparameterStatus(c, "server_encoding"), "UTF8") == 0);
    CHECK(strcmp(PQparameterStatus(c, "client_encoding"), "UTF8") == 0);
    CHECK(strcmp(PQparameterStatus(c, "standard_conforming_strings"), "on") == 0);
    CHECK(strcmp(PQparameterStatus(c, "DateStyle"), "ISO, MDY") == 0);
    CHECK(strcmp(PQparameterStatus(c, "integer_datetimes"), "on") == 0);
    CHECK(PQbackendPID(c) != 0);
    CHECK(PQserverVersion(c) == 150000);
    CHECK(PQtransactionStatus(c) == PQTRANS_IDLE);
    PQfinish(c);
    /* A password with a space. */
    c = srv_connect(&S, "bob", "other", "'bob pw'");
    CHECK_MSG(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    PQfinish(c);
}

TEST(pliantd_scram_wrong_password_and_unknown_user_fail_alike)
{
    CHECK(need_S());
    PGconn *c = srv_connect(&S, "alice", "shop", "wrong");
    CHECK(PQstatus(c) == CONNECTION_BAD);
    CHECK_MSG(strstr(PQerrorMessage(c), "password authentication failed for user \"alice\""), "%s",
              PQerrorMessage(c));
    PQfinish(c);
    c = srv_connect(&S, "mallory", "shop", "x");
    CHECK(PQstatus(c) == CONNECTION_BAD);
    CHECK_MSG(strstr(PQerrorMessage(c), "password authentication failed for user \"mallory\""), "%s",
              PQerrorMessage(c));
    PQfinish(c);
}

TEST(pliantd_tenant_isolation)
{
    CHECK(need_S());
    PGconn *c = srv_connect(&S, "alice", "other", "alice-pw");
    CHECK(PQstatus(c) == CONNECTION_BAD);
    CHECK_MSG(strstr(PQerrorMessage(c), "permission denied for database \"other\""), "%s", PQerrorMessage(c));
    PQfinish(c);
    c = srv_connect(&S, "bob", "shop", "'bob pw'");
    CHECK(PQstatus(c) == CONNECTION_BAD);
    PQfinish(c);
    c = srv_connect(&S, "alice", "nosuchdb", "alice-pw");
    CHECK(PQstatus(c) == CONNECTION_BAD);
    CHECK_MSG(strstr(PQerrorMessage(c), "database \"nosuchdb\" does not exist"), "%s", PQerrorMessage(c));
    PQfinish(c);
    /* ATTACH would reach another tenant's file: denied. */
    c = alice();
    CHECK(PQstatus(c) == CONNECTION_OK);
    char sql[600];
    snprintf(sql, sizeof sql, "attach database '%s/data/other.db' as o", S.dir);
    const char *t = tag(c, sql);
    CHECK_MSG(strncmp(t, "ERR:", 4) == 0, "%s", t);
    CHECK(strncmp(tag(c, "pragma synchronous=off"), "ERR:", 4) == 0);
    CHECK(strcmp(tag(c, "pragma synchronous"), "SELECT 1") == 0);
    PQfinish(c);
}

/* ------------------------------------------------------- simple query */

TEST(pliantd_simple_query_tags)
{
    CHECK(need_S());
    PGconn *c = alice();
    CHECK(PQstatus(c) == CONNECTION_OK);
    CHECK(strcmp(tag(c, "drop table if exists tg"), "DROP TABLE") == 0);
    CHECK(strcmp(tag(c, "create table tg(a int primary key, b text)"), "CREATE TABLE") == 0);
    CHECK(strcmp(tag(c, "insert into tg values (1,'a'),(2,'b'),(3,'c')"), "INSERT 0 3") == 0);
    CHECK(strcmp(tag(c, "update tg set b = b || 'x' where a >= 2"), "UPDATE 2") == 0);
    CHECK(strcmp(tag(c, "delete from tg where a = 1"), "DELETE 1") == 0);
    CHECK(strcmp(tag(c, "select * from tg"), "SELECT 2") == 0);
    CHECK(strcmp(tag(c, "create index tg_b on tg(b)"), "CREATE INDEX") == 0);
    CHECK(strcmp(tag(c, "begin"), "BEGIN") == 0);
    CHECK(strcmp(tag(c, "rollback"), "ROLLBACK") == 0);
    CHECK(strcmp(tag(c, "start transaction isolation level serializable"), "BEGIN") == 0);
    CHECK(strcmp(tag(c, "end"), "COMMIT") == 0);
    CHECK(strcmp(tag(c, "truncate table tg"), "TRUNCATE TABLE") == 0);
    CHECK(strcmp(tag(c, "select count(*) from tg"), "SELECT 1") == 0);
    CHECK(strcmp(tag(c, "vacuum analyze tg"), "VACUUM") == 0);
    CHECK(strcmp(tag(c, "set application_name = 'tests'"), "SET") == 0);
    CHECK(strcmp(PQparameterStatus(c, "application_name"), "tests") == 0);
    PGresult *r = PQexec(c, "show application_name");
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "tests") == 0);
    PQclear(r);
    /* Several statements in one message: one result each. */
    CHECK(PQsendQuery(c, "insert into tg values (10,'x'); select a from tg; update tg set b='y'; select 1/0"));
    const char *want[] = {"INSERT 0 1", "SELECT 1", "UPDATE 1", "SELECT 1"};
    int i = 0;
    while ((r = PQgetResult(c))) {
        if (i < 4)
            CHECK_MSG(strcmp(PQcmdStatus(r), want[i]) == 0, "result %d: %s", i, PQcmdStatus(r));
        i++;
        PQclear(r);
    }
    CHECK_EQ(i, 4);
    /* Empty query. */
    r = PQexec(c, "");
    CHECK(PQresultStatus(r) == PGRES_EMPTY_QUERY);
    PQclear(r);
    r = PQexec(c, " ; -- nothing\n");
    CHECK(PQresultStatus(r) == PGRES_EMPTY_QUERY);
    PQclear(r);
    /* An error stops the rest of the message. */
    PQclear(PQexec(c, "select nope_col from tg; insert into tg values (11, 'z')"));
    r = PQexec(c, "select count(*) from tg where a = 11");
    CHECK(strcmp(PQgetvalue(r, 0, 0), "0") == 0);
    PQclear(r);
    PQfinish(c);
}

TEST(pliantd_result_types_and_text_format)
{
    CHECK(need_S());
    PGconn *c = alice();
    CHECK(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQexec(c, "select 42, 2.5, 'héllo', null, x'00ff', 1e300*1e300, 0.1");
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK_EQ(PQftype(r, 0), 20);
    CHECK_EQ(PQftype(r, 1), 701);
    CHECK_EQ(PQftype(r, 2), 25);
    CHECK_EQ(PQftype(r, 4), 17);
    CHECK(strcmp(PQgetvalue(r, 0, 0), "42") == 0);
    CHECK(strcmp(PQgetvalue(r, 0, 1), "2.5") == 0);
    CHECK(strcmp(PQgetvalue(r, 0, 2), "héllo") == 0);
    CHECK(PQgetisnull(r, 0, 3));
    CHECK(strcmp(PQgetvalue(r, 0, 4), "\\x00ff") == 0);
    CHECK(strcmp(PQgetvalue(r, 0, 5), "Infinity") == 0);
    CHECK(strcmp(PQgetvalue(r, 0, 6), "0.1") == 0);
    PQclear(r);
    CHECK(exec_ok(c, "create table if not exists ty(i integer, f real, t varchar(10), b blob)"));
    r = PQexec(c, "select * from ty");
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0 && PQnfields(r) == 4);
    CHECK_EQ(PQftype(r, 0), 20);
    CHECK_EQ(PQftype(r, 1), 701);
    CHECK_EQ(PQftype(r, 2), 25);
    CHECK_EQ(PQftype(r, 3), 17);
    PQclear(r);
    /* version() and friends that clients call. */
    r = PQexec(c, "select version(), current_database(), current_user()");
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK(strstr(PQgetvalue(r, 0, 0), "PostgreSQL 15.0 (Pliant)"));
    CHECK(strcmp(PQgetvalue(r, 0, 1), "shop") == 0);
    CHECK(strcmp(PQgetvalue(r, 0, 2), "alice") == 0);
    PQclear(r);
    r = PQexec(c, "select $q$it's$q$");
    CHECK(strcmp(PQgetvalue(r, 0, 0), "it's") == 0);
    PQclear(r);
    PQfinish(c);
}

TEST(pliantd_error_sqlstates)
{
    CHECK(need_S());
    PGconn *c = alice();
    CHECK(PQstatus(c) == CONNECTION_OK);
    CHECK(exec_ok(c, "create table if not exists er(a int primary key, b text not null, c int check (c > 0))"));
    CHECK(exec_ok(c, "delete from er"));
    CHECK(exec_ok(c, "insert into er values (1, 'x', 1)"));
    CHECK(strcmp(tag(c, "selec 1"), "ERR:42601") == 0);
    CHECK(strcmp(tag(c, "select * from missing_table"), "ERR:42P01") == 0);
    CHECK(strcmp(tag(c, "select missing_col from er"), "ERR:42703") == 0);
    CHECK(strcmp(tag(c, "insert into er values (1, 'y', 1)"), "ERR:23505") == 0);
    CHECK(strcmp(tag(c, "insert into er values (2, null, 1)"), "ERR:23502") == 0);
    CHECK(strcmp(tag(c, "insert into er values (3, 'z', -1)"), "ERR:23514") == 0);
    CHECK(strcmp(tag(c, "select nosuchfn(1)"), "ERR:42883") == 0);
    CHECK(strcmp(tag(c, "copy er to stdout"), "ERR:0A000") == 0);
    CHECK(strcmp(tag(c, "show no_such_setting"), "ERR:42704") == 0);
    PQfinish(c);
}

TEST(pliantd_transaction_status_and_failed_block)
{
    CHECK(need_S());
    PGconn *c = alice();
    CHECK(PQstatus(c) == CONNECTION_OK);
    CHECK(exec_ok(c, "create table if not exists tx(a int primary key)"));
    CHECK(exec_ok(c, "delete from tx"));
    CHECK(PQtransactionStatus(c) == PQTRANS_IDLE);
    CHECK(strcmp(tag(c, "begin"), "BEGIN") == 0);
    CHECK(PQtransactionStatus(c) == PQTRANS_INTRANS);
    CHECK(strcmp(tag(c, "insert into tx values (1)"), "INSERT 0 1") == 0);
    CHECK(strcmp(tag(c, "insert into tx values (1)"), "ERR:23505") == 0);
    CHECK(PQtransactionStatus(c) == PQTRANS_INERROR);
    CHECK(strcmp(tag(c, "select 1"), "ERR:25P02") == 0);
    CHECK(strcmp(tag(c, "commit"), "ROLLBACK") == 0);
    CHECK(PQtransactionStatus(c) == PQTRANS_IDLE);
    PGresult *r = PQexec(c, "select count(*) from tx");
    CHECK(strcmp(PQgetvalue(r, 0, 0), "0") == 0);
    PQclear(r);
    /* Savepoints recover a failed block. */
    CHECK(strcmp(tag(c, "begin"), "BEGIN") == 0);
    CHECK(strcmp(tag(c, "insert into tx values (5)"), "INSERT 0 1") == 0);
    CHECK(strcmp(tag(c, "savepoint s1"), "SAVEPOINT") == 0);
    CHECK(strcmp(tag(c, "insert into tx values (5)"), "ERR:23505") == 0);
    CHECK(strcmp(tag(c, "rollback to savepoint s1"), "ROLLBACK") == 0);
    CHECK(PQtransactionStatus(c) == PQTRANS_INTRANS);
    CHECK(strcmp(tag(c, "commit"), "COMMIT") == 0);
    r = PQexec(c, "select count(*) from tx");
    CHECK(strcmp(PQgetvalue(r, 0, 0), "1") == 0);
    PQclear(r);
    /* COMMIT without a transaction: a warning, not an error. */
    CHECK(strcmp(tag(c, "commit"), "COMMIT") == 0);
    PQfinish(c);
}

/* ------------------------------------------------------ extended query */

TEST(pliantd_extended_query_params_and_named_statements)
{
    CHECK(need_S());
    PGconn *c = alice();
    CHECK(PQstatus(c) == CONNECTION_OK);
    CHECK(exec_ok(c, "create table if not exists ex(id int primary key, name text, score real, data bytea)"));
    CHECK(exec_ok(c, "delete from ex"));
    const char *vals[4] = {"7", "seven", "7.5", "\\x0102"};
    Oid types[4] = {20, 25, 701, 17};
    PGresult *r = PQexecParams(c, "insert into ex values ($1, $2, $3, $4)", 4, types, vals, NULL, NULL, 0);
    CHECK_MSG(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    CHECK(strcmp(PQcmdStatus(r), "INSERT 0 1") == 0);
    PQclear(r);
    /* Untyped text parameters: SQLite affinity does the conversion. */
    const char *v2[2] = {"8", "eight"};
    r = PQexecParams(c, "insert into ex(id, name) values ($1, $2)", 2, NULL, v2, NULL, NULL, 0);
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    r = PQprepare(c, "by_id", "select name, score, data from ex where id = $1", 1, NULL);
    CHECK_MSG(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    PQclear(r);
    r = PQdescribePrepared(c, "by_id");
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    CHECK_EQ(PQnparams(r), 1);
    CHECK_EQ(PQnfields(r), 3);
    CHECK_EQ(PQftype(r, 1), 701);
    PQclear(r);
    const char *k[1] = {"7"};
    r = PQexecPrepared(c, "by_id", 1, k, NULL, NULL, 0);
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
    CHECK(strcmp(PQgetvalue(r, 0, 0), "seven") == 0);
    CHECK(strcmp(PQgetvalue(r, 0, 1), "7.5") == 0);
    CHECK(strcmp(PQgetvalue(r, 0, 2), "\\x0102") == 0);
    PQclear(r);
    k[0] = "8";
    r = PQexecPrepared(c, "by_id", 1, k, NULL, NULL, 0);
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "eight") == 0);
    PQclear(r);
    /* Binary int8 parameter. */
    char bin[8] = {0, 0, 0, 0, 0, 0, 0, 7};
    const char *bv[1] = {bin};
    int lens[1] = {8}, fmts[1] = {1};
    Oid t8[1] = {20};
    r = PQexecParams(c, "select name from ex where id = $1", 1, t8, bv, lens, fmts, 0);
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "seven") == 0);
    PQclear(r);
    /* Errors: duplicate name, wrong parameter count, unknown statement,
     * bad integer, binary results; the connection stays usable. */
    r = PQprepare(c, "by_id", "select 1", 0, NULL);
    CHECK(strcmp(srv_sqlstate(r), "42P05") == 0);
    PQclear(r);
    r = PQexecPrepared(c, "by_id", 0, NULL, NULL, NULL, 0);
    CHECK(strcmp(srv_sqlstate(r), "08P01") == 0);
    PQclear(r);
    r = PQexecPrepared(c, "nope", 0, NULL, NULL, NULL, 0);
    CHECK(strcmp(srv_sqlstate(r), "26000") == 0);
    PQclear(r);
    const char *bad[1] = {"x1"};
    r = PQexecParams(c, "select $1", 1, t8, bad, NULL, NULL, 0);
    CHECK(strcmp(srv_sqlstate(r), "22P02") == 0);
    PQclear(r);
    r = PQexecParams(c, "select 1", 0, NULL, NULL, NULL, NULL, 1);
    CHECK(strcmp(srv_sqlstate(r), "0A000") == 0);
    PQclear(r);
    r = PQexecParams(c, "selec $1", 1, NULL, k, NULL, NULL, 0);
    CHECK(strcmp(srv_sqlstate(r), "42601") == 0);
    PQclear(r);
    r = PQprepare(c, "", "select 1; select 2", 0, NULL);
    CHECK(strcmp(srv_sqlstate(r), "42601") == 0);
    PQclear(r);
    CHECK(PQtransactionStatus(c) == PQTRANS_IDLE);
    /* Transaction control through the extended protocol. */
    r = PQexecParams(c, "begin", 0, NULL, NULL, NULL, NULL, 0);
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "BEGIN") == 0);
    PQclear(r);
    CHECK(PQtransactionStatus(c) == PQTRANS_INTRANS);
    r = PQexecParams(c, "update ex set name = $1 where id = 8", 1, NULL, (const char *[]){"acht"}, NULL, NULL, 0);
    CHECK(strcmp(PQcmdStatus(r), "UPDATE 1") == 0);
    PQclear(r);
    r = PQexecParams(c, "commit", 0, NULL, NULL, NULL, NULL, 0);
    CHECK(strcmp(PQcmdStatus(r), "COMMIT") == 0);
    PQclear(r);
    CHECK(PQtransactionStatus(c) == PQTRANS_IDLE);
    PQfinish(c);
}

TEST(pliantd_extended_pipeline_error_skips_to_sync)
{
    CHECK(need_S());
    PGconn *c = alice();
    CHECK(PQstatus(c) == CONNECTION_OK);
    CHECK(PQenterPipelineMode(c));
    CHECK(PQsendQueryParams(c, "select 1", 0, NULL, NULL, NULL, NULL, 0));
    CHECK(PQsendQueryParams(c, "select * from no_such_tbl", 0, NULL, NULL, NULL, NULL, 0));
    CHECK(PQsendQueryParams(c, "select 3", 0, NULL, NULL, NULL, NULL, 0));
    CHECK(PQpipelineSync(c));
    CHECK(PQsendQueryParams(c, "select 4", 0, NULL, NULL, NULL, NULL, 0));
    CHECK(PQpipelineSync(c));
    PGresult *r = PQgetResult(c);
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "1") == 0);
    PQclear(r);
    CHECK(PQgetResult(c) == NULL);
    r = PQgetResult(c);
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR && strcmp(srv_sqlstate(r), "42P01") == 0);
    PQclear(r);
    CHECK(PQgetResult(c) == NULL);
    r = PQgetResult(c);
    CHECK(PQresultStatus(r) == PGRES_PIPELINE_ABORTED);
    PQclear(r);
    CHECK(PQgetResult(c) == NULL);
    r = PQgetResult(c);
    CHECK(PQresultStatus(r) == PGRES_PIPELINE_SYNC);
    PQclear(r);
    r = PQgetResult(c);
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "4") == 0);
    PQclear(r);
    CHECK(PQgetResult(c) == NULL);
    r = PQgetResult(c);
    CHECK(PQresultStatus(r) == PGRES_PIPELINE_SYNC);
    PQclear(r);
    CHECK(PQexitPipelineMode(c));
    PQfinish(c);
}

/* ---------------------------------------------------------------- COPY */

TEST(pliantd_copy_from_stdin)
{
    CHECK(need_S());
    PGconn *c = alice();
    CHECK(PQstatus(c) == CONNECTION_OK);
    CHECK(exec_ok(c, "drop table if exists cp; create table cp(a int, b text, c text)"));
    PGresult *r = PQexec(c, "copy cp from stdin");
    CHECK(PQresultStatus(r) == PGRES_COPY_IN);
    CHECK_EQ(PQnfields(r), 3);
    PQclear(r);
    const char *data = "1\tone\t\\N\n2\ttab\\there\tx\n3\tnew\\nline\t";
    CHECK(PQputCopyData(c, data, (int)strlen(data)) == 1);
    CHECK(PQputCopyData(c, "y\n", 2) == 1);
    CHECK(PQputCopyEnd(c, NULL) == 1);
    r = PQgetResult(c);
    CHECK_MSG(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    CHECK(strcmp(PQcmdStatus(r), "COPY 3") == 0);
    PQclear(r);
    CHECK(PQgetResult(c) == NULL);
    r = PQexec(c, "select b, c is null from cp order by a");
    CHECK(PQntuples(r) == 3);
    CHECK(strcmp(PQgetvalue(r, 0, 1), "1") == 0);
    CHECK(strcmp(PQgetvalue(r, 1, 0), "tab\there") == 0);
    CHECK(strcmp(PQgetvalue(r, 2, 0), "new\nline") == 0);
    PQclear(r);
    /* A bad row fails the whole COPY (atomic), connection still fine. */
    r = PQexec(c, "copy cp (a, b) from stdin");
    CHECK(PQresultStatus(r) == PGRES_COPY_IN);
    PQclear(r);
    CHECK(PQputCopyData(c, "4\tfour\n5\n", 9) == 1);
    CHECK(PQputCopyEnd(c, NULL) == 1);
    r = PQgetResult(c);
    CHECK(strcmp(srv_sqlstate(r), "22P04") == 0);
    PQclear(r);
    while ((r = PQgetResult(c)))
        PQclear(r);
    /* Client-side failure. */
    r = PQexec(c, "copy cp from stdin");
    PQclear(r);
    CHECK(PQputCopyData(c, "9\tx\ty\n", 6) == 1);
    CHECK(PQputCopyEnd(c, "changed my mind") == 1);
    r = PQgetResult(c);
    CHECK(strcmp(srv_sqlstate(r), "57014") == 0);
    PQclear(r);
    while ((r = PQgetResult(c)))
        PQclear(r);
    r = PQexec(c, "select count(*) from cp");
    CHECK(strcmp(PQgetvalue(r, 0, 0), "3") == 0);
    PQclear(r);
    PQfinish(c);
}

/* -------------------------------------------------------------- cancel */

TEST(pliantd_cancel_interrupts_running_statement)
{
    CHECK(need_S());
    PGconn *c = alice();
    CHECK(PQstatus(c) == CONNECTION_OK);
    CHECK(PQsendQuery(c, "with recursive n(x) as (select 1 union all select x + 1 from n where x < 4000000000) "
                         "select count(*) from n"));
    usleep(300000);
    PGcancel *cc = PQgetCancel(c);
    char eb[256];
    CHECK(PQcancel(cc, eb, sizeof eb) == 1);
    PQfreeCancel(cc);
    PGresult *r = PQgetResult(c);
    CHECK_MSG(strcmp(srv_sqlstate(r), "57014") == 0, "state %s: %s", srv_sqlstate(r), PQresultErrorMessage(r));
    PQclear(r);
    while ((r = PQgetResult(c)))
        PQclear(r);
    /* The session goes on. */
    CHECK(strcmp(tag(c, "select 1"), "SELECT 1") == 0);
    /* A cancel with the wrong key does nothing. */
    PQfinish(c);
}

/* --------------------------------------------------- malformed messages */

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Reads everything until EOF (5 s bound); returns bytes read. */
static size_t read_all(int fd, unsigned char *buf, size_t cap, bool *eof)
{
    size_t n = 0;
    *eof = false;
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 5000) <= 0)
            return n;
        ssize_t r = recv(fd, buf + n, cap - n, 0);
        if (r <= 0) {
            *eof = true;
            return n;
        }
        n += (size_t)r;
        if (n == cap)
            return n;
    }
}

/* Does the byte stream hold an ErrorResponse with this SQLSTATE? */
static bool has_error(const unsigned char *buf, size_t n, const char *state)
{
    size_t p = 0;
    while (p + 5 <= n) {
        uint32_t len = (uint32_t)buf[p + 1] << 24 | (uint32_t)buf[p + 2] << 16 | (uint32_t)buf[p + 3] << 8 | buf[p + 4];
        if (buf[p] == 'E') {
            for (size_t q = p + 5; q + 6 <= p + 1 + len && q + 6 <= n; q++)
                if (buf[q] == 'C' && memcmp(buf + q + 1, state, 5) == 0)
                    return true;
        }
        p += 1 + len;
    }
    return false;
}

/* Startup as "u" on database demo of T (trust); returns the fd after the
 * first ReadyForQuery. */
static int raw_login(void)
{
    int fd = raw_connect(T.port);
    if (fd < 0)
        return -1;
    unsigned char pkt[64];
    size_t n = 8;
    const char kv[] = "user\0u\0database\0demo\0";
    memcpy(pkt + 8, kv, sizeof kv); /* includes the final terminator */
    n += sizeof kv;
    put32(pkt, (uint32_t)n);
    put32(pkt + 4, 196608);
    if (send(fd, pkt, n, 0) != (ssize_t)n) {
        close(fd);
        return -1;
    }
    unsigned char buf[4096];
    size_t got = 0;
    for (int i = 0; i < 50; i++) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 5000) <= 0)
            break;
        ssize_t r = recv(fd, buf + got, sizeof buf - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got >= 6 && buf[got - 6] == 'Z')
            return fd;
    }
    close(fd);
    return -1;
}

static bool server_still_serves(void)
{
    PGconn *c = srv_connect(&T, "u", "demo", NULL);
    bool ok = PQstatus(c) == CONNECTION_OK && strcmp(tag(c, "select 1"), "SELECT 1") == 0;
    PQfinish(c);
    return ok;
}

/* Sends bytes on a fresh (optionally logged-in) connection and checks for
 * ErrorResponse(state) followed by the server closing the connection. */
static bool rejects(bool login, const void *bytes, size_t n, const char *state)
{
    int fd = login ? raw_login() : raw_connect(T.port);
    if (fd < 0)
        return false;
    if (send(fd, bytes, n, MSG_NOSIGNAL) != (ssize_t)n) {
        close(fd);
        return false;
    }
    unsigned char buf[8192];
    bool eof;
    size_t got = read_all(fd, buf, sizeof buf, &eof);
    close(fd);
    bool ok = has_error(buf, got, state) && eof;
    if (!ok)
        fprintf(stderr, "  expected %s + close: got %zu bytes, eof=%d\n", state, got, eof);
    return ok;
}

TEST(pliantd_malformed_messages_close_only_that_connection)
{
    CHECK(need_T());
    unsigned char m[64];
    /* Startup length below the minimum. */
    put32(m, 4);
    put32(m + 4, 196608);
    CHECK(rejects(false, m, 8, "08P01"));
    /* Startup length far above the limit. */
    put32(m, 0x7fffffff);
    put32(m + 4, 196608);
    CHECK(rejects(false, m, 8, "08P01"));
    /* Unsupported protocol version. */
    put32(m, 9);
    put32(m + 4, 2 << 16);
    m[8] = 0;
    CHECK(rejects(false, m, 9, "0A000"));
    /* Startup parameters not terminated. */
    put32(m, 14);
    put32(m + 4, 196608);
    memcpy(m + 8, "user\0u", 6);
    CHECK(rejects(false, m, 14, "08P01"));
    /* After login: length below 4. */
    m[0] = 'Q';
    put32(m + 1, 3);
    CHECK(rejects(true, m, 5, "08P01"));
    /* Oversized (T's limit is 64 KiB): rejected from the header alone. */
    m[0] = 'Q';
    put32(m + 1, 10u << 20);
    CHECK(rejects(true, m, 5, "08P01"));
    /* Unknown message type. */
    m[0] = 'z';
    put32(m + 1, 4);
    CHECK(rejects(true, m, 5, "08P01"));
    /* A startup-phase garbage byte stream. */
    CHECK(rejects(false, "\x00\x00\x00\x10garbage garbage", 16, "0A000"));
    /* Non-fatal: a Query without its terminator gets an error and the
     * session goes on. */
    int fd = raw_login();
    CHECK(fd >= 0);
    m[0] = 'Q';
    put32(m + 1, 7);
    memcpy(m + 5, "abc", 3);
    CHECK(send(fd, m, 8, 0) == 8);
    unsigned char buf[1024];
    usleep(200000);
    ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    CHECK(r > 0 && has_error(buf, (size_t)r, "08P01"));
    CHECK(buf[r - 6] == 'Z');
    close(fd);
    /* Truncated Bind (claims parameters it does not carry). */
    fd = raw_login();
    CHECK(fd >= 0);
    unsigned char b[64];
    size_t k = 0;
    b[k++] = 'P';
    put32(b + k, 4 + 1 + 9 + 2);
    k += 4;
    b[k++] = 0;
    memcpy(b + k, "select 1", 9);
    k += 9;
    b[k++] = 0;
    b[k++] = 0;
    b[k++] = 'B';
    put32(b + k, 4 + 1 + 1 + 2 + 2);
    k += 4;
    b[k++] = 0;
    b[k++] = 0;
    b[k++] = 0;
    b[k++] = 0;
    b[k++] = 0;
    b[k++] = 5;
    b[k++] = 'S';
    put32(b + k, 4);
    k += 4;
    CHECK(send(fd, b, k, 0) == (ssize_t)k);
    usleep(200000);
    r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    CHECK(r > 0 && has_error(buf, (size_t)r, "08P01"));
    close(fd);
    /* SSLRequest is answered 'N' and startup continues. */
    fd = raw_connect(T.port);
    put32(m, 8);
    put32(m + 4, 80877103);
    CHECK(send(fd, m, 8, 0) == 8);
    CHECK(recv(fd, buf, 1, 0) == 1 && buf[0] == 'N');
    close(fd);
    CHECK(server_still_serves());
}

/* ------------------------------------------------------ psql & pgbench */

TEST(pliantd_psql_command_and_script)
{
    CHECK(need_S());
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof cmd,
             "PGPASSWORD=alice-pw psql -X -h 127.0.0.1 -p %d -U alice -d shop -c \"select 40 + 2 as answer\"",
             S.port);
    CHECK(run_cmd(cmd, out, sizeof out, 60) == 0);
    CHECK_MSG(strstr(out, "answer") && strstr(out, "42") && strstr(out, "(1 row)"), "%s", out);
    snprintf(cmd, sizeof cmd,
             "printf \"create table if not exists ps(a int);\\ninsert into ps values (1),(2);\\nselect sum(a) as s "
             "from ps;\\n\" | PGPASSWORD=alice-pw psql -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p %d -U alice shop",
             S.port);
    CHECK(run_cmd(cmd, out, sizeof out, 60) == 0);
    CHECK_MSG(strstr(out, "INSERT 0 2") && strstr(out, " 3"), "%s", out);
}

static bool pgbench_ok(const char *args, char *out, size_t outlen)
{
    const char *pb = pgbench_path();
    if (!pb)
        return false;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "PGPASSWORD=alice-pw %s -h 127.0.0.1 -p %d -U alice %s bench", pb, S.port, args);
    int rc = run_cmd(cmd, out, outlen, 240);
    if (rc != 0)
        fprintf(stderr, "  pgbench %s: exit %d\n%s\n", args, rc, out);
    return rc == 0;
}

TEST(pliantd_pgbench_init_select_write_custom)
{
    CHECK(need_S());
    CHECK_MSG(pgbench_path(), "pgbench not found (Debian package postgresql-15)");
    static char out[65536];
    CHECK(pgbench_ok("-i -s 1 -q", out, sizeof out));
    PGconn *c = srv_connect(&S, "alice", "bench", "alice-pw");
    CHECK(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQexec(c, "select count(*) from pgbench_accounts");
    CHECK(strcmp(PQgetvalue(r, 0, 0), "100000") == 0);
    PQclear(r);
    /* Uniqueness from the translated primary keys. */
    CHECK(strcmp(tag(c, "insert into pgbench_branches(bid, bbalance) values (1, 0)"), "ERR:23505") == 0);
    const char *modes[] = {"simple", "extended", "prepared"};
    for (int i = 0; i < 3; i++) {
        char args[256];
        snprintf(args, sizeof args, "-S -c 4 -j 2 -t 100 -M %s", modes[i]);
        CHECK(pgbench_ok(args, out, sizeof out));
        CHECK_MSG(strstr(out, "number of transactions actually processed: 400/400"), "%s", out);
        snprintf(args, sizeof args, "-N -c 4 -j 2 -t 50 -M %s", modes[i]);
        CHECK(pgbench_ok(args, out, sizeof out));
        CHECK_MSG(strstr(out, "number of failed transactions: 0"), "%s", out);
    }
    r = PQexec(c, "select count(*) from pgbench_history");
    /* Each pgbench run without -n truncates the history first: the last
     * run's 4 x 50 transactions remain. */
    CHECK_MSG(strcmp(PQgetvalue(r, 0, 0), "200") == 0, "history rows: %s", PQgetvalue(r, 0, 0));
    PQclear(r);
    /* A custom script. */
    char script[300];
    snprintf(script, sizeof script, "%s/custom.sql", S.dir);
    FILE *f = fopen(script, "w");
    CHECK(f);
    fprintf(f, "\\set aid random(1, 100000)\nBEGIN;\nUPDATE pgbench_accounts SET abalance = abalance + 1 WHERE "
               "aid = :aid;\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;\nEND;\n");
    fclose(f);
    char args[512];
    snprintf(args, sizeof args, "-n -f %s -c 3 -t 40 -M prepared", script);
    CHECK(pgbench_ok(args, out, sizeof out));
    CHECK_MSG(strstr(out, "number of transactions actually processed: 120/120"), "%s", out);
    r = PQexec(c, "select sum(abalance) from pgbench_accounts where abalance > 0");
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(c);
}

/* ------------------------------------------------------------ kill -9 */

TEST(pliantd_kill9_under_load_keeps_every_acknowledged_commit)
{
    struct srv K;
    CHECK(srv_start(&K, "K", "auth = trust\nsynchronous = full\n[database k]\n", false) == 0);
    PGconn *c = srv_connect(&K, "u", "k", NULL);
    CHECK(PQstatus(c) == CONNECTION_OK);
    CHECK(exec_ok(c, "create table acked(id integer primary key)"));
    PQfinish(c);
    /* pgbench write load alongside the recording writers. */
    const char *pb = pgbench_path();
    char cmd[1024], out[4096];
    if (pb) {
        snprintf(cmd, sizeof cmd, "%s -h 127.0.0.1 -p %d -U u -i -s 1 -q k", pb, K.port);
        CHECK(run_cmd(cmd, out, sizeof out, 120) == 0);
    }
    static const char *const bench_args[] = {"-N", "-c", "2", "-T", "20", NULL};
    pid_t bench = pgbench_spawn(&K, "k", bench_args);
    struct ack_load *load = ack_load_start(&K, "k", 3);
    CHECK(load);
    usleep(1500000);
    srv_kill9(&K);
    int total = ack_load_stop(load);
    CHECK_MSG(total > 10, "only %d commits acknowledged before the kill", total);
    CHECK(srv_restart(&K) == 0);
    int missing = ack_load_missing(load, &K, "k");
    ack_load_free(load);
    if (bench > 0) {
        kill(bench, SIGTERM);
        waitpid(bench, NULL, 0);
    }
    CHECK_EQ(srv_stop(&K), 0);
    srv_cleanup(&K);
    CHECK_MSG(missing == 0, "%d of %d acknowledged commits lost", missing, total);
}

/* ------------------------------------------------------------ shutdown */

TEST(pliantd_sigterm_cancels_running_statement_and_exits_cleanly)
{
    CHECK(need_T());
    CHECK(need_S());
    PGconn *idle = srv_connect(&T, "u", "demo", NULL);
    PGconn *busy = srv_connect(&T, "u", "demo", NULL);
    CHECK(PQstatus(idle) == CONNECTION_OK && PQstatus(busy) == CONNECTION_OK);
    CHECK(PQsendQuery(busy, "with recursive n(x) as (select 1 union all select x + 1 from n where x < 4000000000) "
                            "select count(*) from n"));
    usleep(200000);
    int st = srv_stop(&T);
    t_up = false;
    PGresult *r = PQgetResult(busy);
    CHECK_MSG(strcmp(srv_sqlstate(r), "57P01") == 0, "got %s: %s", srv_sqlstate(r), PQresultErrorMessage(r));
    PQclear(r);
    r = PQexec(idle, "select 1");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
    PQclear(r);
    PQfinish(idle);
    PQfinish(busy);
    CHECK_EQ(st, 0);
    char log[400], out[65536];
    snprintf(log, sizeof log, "grep -c shutdown_complete %s/server.log", T.dir);
    CHECK(run_cmd(log, out, sizeof out, 10) == 0);
    srv_cleanup(&T);
    /* S too: a clean exit (ASan would turn leaks into a failure status). */
    CHECK_EQ(srv_stop(&S), 0);
}
