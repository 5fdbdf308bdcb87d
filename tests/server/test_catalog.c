/* The emulated PostgreSQL catalog end to end: psql's describe commands
 * (\dt, \d, \d TABLE, \di, \dv, \l, \dn, \du) print what PostgreSQL would
 * for the same schema; the catalog follows schema changes and transaction
 * rollbacks; pg_database lists only what the user may open; a read-only
 * tenant (authorize policy) can still describe its tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../testlib.h"
#include "harness.h"

/* C: "shop" (alice, bob) writable, "ro" (alice) read-only by policy. */
static struct srv C;
static bool c_up, c_failed;

__attribute__((destructor)) static void cleanup_C(void)
{
    if (c_up)
        srv_cleanup(&C);
}

static bool need_C(void)
{
    if (c_up || c_failed)
        return c_up;
    c_failed = true;
    char va[512], vb[512], extra[2048];
    if (make_verifier("alice", "alice-pw", va, sizeof va) || make_verifier("bob", "bob-pw", vb, sizeof vb))
        return false;
    snprintf(extra, sizeof extra,
             "workers = 2\nattach = authorize=%s/extensions/authorize_readonly_tenant.bpf.o\n"
             "[database shop]\n[database ro]\n"
             "[user alice]\npassword = %s\ndatabases = shop, ro\n"
             "[user bob]\npassword = %s\ndatabases = shop\n",
             tl_build_dir(), va, vb);
    if (srv_start(&C, "C", extra, false) != 0)
        return false;
    PGconn *c = srv_connect(&C, "alice", "shop", "alice-pw");
    static const char *const ddl[] = {
        "create table item(id integer primary key, name text not null default 'none', price real, "
        "sku varchar(16) unique)",
        "create index item_name on item(name)",
        "create table line(item_id int references item(id) on delete cascade, qty int, flag boolean, "
        "primary key(item_id, qty))",
        "create view cheap as select id, name from item where price < 10",
    };
    bool ok = PQstatus(c) == CONNECTION_OK;
    for (size_t i = 0; ok && i < sizeof ddl / sizeof *ddl; i++) {
        PGresult *r = PQexec(c, ddl[i]);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            fprintf(stderr, "  %s: %s\n", ddl[i], PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(c);
    c_up = ok;
    c_failed = !ok;
    return ok;
}

/* Runs one psql meta-command as user/password on db; 0 on success. */
static int psql(const char *user, const char *password, const char *db, const char *command, char *out,
                size_t outlen)
{
    char cmd[1024];
    /* run_cmd single-quotes the whole line: double quotes here. */
    snprintf(cmd, sizeof cmd, "PGPASSWORD=%s psql -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p %d -U %s -d %s -c \"%s\"",
             password, C.port, user, db, command);
    return run_cmd(cmd, out, outlen, 60);
}

/* Every line of want appears in out, in order. */
static bool has_lines(const char *out, const char *const *want)
{
    const char *at = out;
    for (; *want; want++) {
        const char *hit = strstr(at, *want);
        if (!hit) {
            fprintf(stderr, "  missing (in order): [%s]\n", *want);
            return false;
        }
        at = hit + strlen(*want);
    }
    return true;
}

TEST(catalog_psql_lists_relations)
{
    CHECK(need_C());
    static char out[16384];
    CHECK_MSG(psql("alice", "alice-pw", "shop", "\\dt", out, sizeof out) == 0, "%s", out);
    const char *const dt[] = {"List of relations", " public | item | table | alice", " public | line | table | alice",
                              "(2 rows)", NULL};
    CHECK_MSG(has_lines(out, dt), "%s", out);
    CHECK(psql("alice", "alice-pw", "shop", "\\d", out, sizeof out) == 0);
    const char *const d[] = {" public | cheap | view  | alice", " public | item  | table | alice", "(3 rows)", NULL};
    CHECK_MSG(has_lines(out, d), "%s", out);
    CHECK(psql("alice", "alice-pw", "shop", "\\di", out, sizeof out) == 0);
    const char *const di[] = {" public | item_name    | index | alice | item", " public | item_pkey    | index | alice | item",
                              " public | item_sku_key | index | alice | item", " public | line_pkey    | index | alice | line",
                              NULL};
    CHECK_MSG(has_lines(out, di), "%s", out);
    CHECK(psql("alice", "alice-pw", "shop", "\\dv", out, sizeof out) == 0);
    CHECK_MSG(strstr(out, " public | cheap | view | alice") && strstr(out, "(1 row)"), "%s", out);
    CHECK(psql("alice", "alice-pw", "shop", "\\dn", out, sizeof out) == 0);
    CHECK_MSG(strstr(out, " public | alice") && !strstr(out, "pg_catalog"), "%s", out);
    CHECK(psql("alice", "alice-pw", "shop", "\\du", out, sizeof out) == 0);
    CHECK_MSG(strstr(out, " alice ") && !strstr(out, "bob"), "%s", out);
}

TEST(catalog_psql_describes_table_like_postgres)
{
    CHECK(need_C());
    static char out[16384];
    CHECK(psql("alice", "alice-pw", "shop", "\\d item", out, sizeof out) == 0);
    const char *const item[] = {
        "Table \"public.item\"",
        " Column |       Type       | Collation | Nullable | Default ",
        " id     | bigint           |           | not null | ",
        " name   | text             |           | not null | 'none'",
        " price  | double precision |           |          | ",
        " sku    | text             |           |          | ",
        "Indexes:",
        "    \"item_pkey\" PRIMARY KEY, btree (id)",
        "    \"item_name\" btree (name)",
        "    \"item_sku_key\" UNIQUE CONSTRAINT, btree (sku)",
        "Referenced by:",
        "    TABLE \"line\" CONSTRAINT \"line_item_id_fkey\" FOREIGN KEY (item_id) REFERENCES item(id) ON DELETE CASCADE",
        NULL,
    };
    CHECK_MSG(has_lines(out, item), "%s", out);
    CHECK(psql("alice", "alice-pw", "shop", "\\d line", out, sizeof out) == 0);
    const char *const line[] = {
        " flag    | boolean |", "    \"line_pkey\" PRIMARY KEY, btree (item_id, qty)", "Foreign-key constraints:",
        "    \"line_item_id_fkey\" FOREIGN KEY (item_id) REFERENCES item(id) ON DELETE CASCADE", NULL,
    };
    CHECK_MSG(has_lines(out, line), "%s", out);
    CHECK(psql("alice", "alice-pw", "shop", "\\d+ cheap", out, sizeof out) == 0);
    CHECK_MSG(strstr(out, "View \"public.cheap\"") && strstr(out, "View definition:") &&
                  strstr(out, "where price < 10"),
              "%s", out);
    CHECK(psql("alice", "alice-pw", "shop", "\\d item_name", out, sizeof out) == 0);
    CHECK_MSG(strstr(out, "Index \"public.item_name\"") && strstr(out, " name   | text | yes  | name") &&
                  strstr(out, "btree, for table \"public.item\""),
              "%s", out);
    CHECK(psql("alice", "alice-pw", "shop", "\\dt+", out, sizeof out) == 0);
    CHECK_MSG(strstr(out, "| permanent   | heap") && strstr(out, "bytes"), "%s", out);
    /* A name that matches nothing: psql's own message, not an error. */
    CHECK(psql("alice", "alice-pw", "shop", "\\d nosuch", out, sizeof out) != 0);
    CHECK_MSG(strstr(out, "Did not find any relation named \"nosuch\""), "%s", out);
}

TEST(catalog_lists_only_databases_the_user_may_open)
{
    CHECK(need_C());
    static char out[16384];
    CHECK(psql("alice", "alice-pw", "shop", "\\l", out, sizeof out) == 0);
    CHECK_MSG(strstr(out, " ro ") && strstr(out, " shop ") && strstr(out, "UTF8"), "%s", out);
    CHECK(psql("bob", "bob-pw", "shop", "\\l", out, sizeof out) == 0);
    CHECK_MSG(strstr(out, " shop ") && !strstr(out, " ro ") && strstr(out, "(1 row)"), "%s", out);
}

/* Catalog rows for one connection, as "name,name,...". */
static void relnames(PGconn *c, char *out, size_t outlen)
{
    PGresult *r = PQexec(c, "select relname from pg_catalog.pg_class where relkind = 'r' order by 1");
    out[0] = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        snprintf(out, outlen, "ERR %s", PQresultErrorMessage(r));
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++)
        snprintf(out + strlen(out), outlen - strlen(out), "%s%s", i ? "," : "", PQgetvalue(r, i, 0));
    PQclear(r);
}

static void exec_ok(PGconn *c, const char *sql, bool *ok)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "  %s: %s\n", sql, PQresultErrorMessage(r));
        *ok = false;
    }
    PQclear(r);
}

TEST(catalog_follows_schema_changes_and_rollbacks)
{
    CHECK(need_C());
    PGconn *c = srv_connect(&C, "alice", "shop", "alice-pw"), *other = srv_connect(&C, "bob", "shop", "bob-pw");
    CHECK(PQstatus(c) == CONNECTION_OK && PQstatus(other) == CONNECTION_OK);
    char names[512];
    bool ok = true;
    /* First use inside a transaction that rolls back: the catalog's own
     * tables go with it and come back on the next use. */
    exec_ok(c, "begin", &ok);
    relnames(c, names, sizeof names);
    CHECK_MSG(strcmp(names, "item,line") == 0, "%s", names);
    exec_ok(c, "rollback", &ok);
    relnames(c, names, sizeof names);
    CHECK_MSG(strcmp(names, "item,line") == 0, "%s", names);
    /* Another session's DDL shows up at the next catalog query. */
    exec_ok(other, "create table later(x int)", &ok);
    relnames(c, names, sizeof names);
    CHECK_MSG(strcmp(names, "item,later,line") == 0, "%s", names);
    exec_ok(other, "drop table later", &ok);
    relnames(c, names, sizeof names);
    CHECK_MSG(strcmp(names, "item,line") == 0, "%s", names);
    /* Extended protocol, a prepared catalog query run again after DDL. */
    PGresult *r = PQprepare(c, "q", "select count(*) from pg_catalog.pg_attribute a join pg_catalog.pg_class c "
                                    "on c.oid = a.attrelid where c.relname = $1",
                            1, NULL);
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    const char *param[] = {"item"};
    r = PQexecPrepared(c, "q", 1, param, NULL, NULL, 0);
    CHECK_MSG(PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "4") == 0, "%s",
              PQresultErrorMessage(r));
    PQclear(r);
    exec_ok(other, "alter table item add column note text", &ok);
    r = PQexecPrepared(c, "q", 1, param, NULL, NULL, 0);
    CHECK_MSG(PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "5") == 0, "%s",
              PQresultErrorMessage(r));
    PQclear(r);
    exec_ok(other, "alter table item drop column note", &ok);
    CHECK(ok);
    PQfinish(c);
    PQfinish(other);
}

TEST(catalog_works_for_read_only_tenant)
{
    CHECK(need_C());
    static char out[16384];
    /* Tables of ro are made by nobody (the tenant may not write): its
     * catalog is empty but readable, and writes stay refused. */
    CHECK(psql("alice", "alice-pw", "ro", "\\dt", out, sizeof out) == 0);
    CHECK_MSG(strstr(out, "Did not find any relations"), "%s", out);
    PGconn *c = srv_connect(&C, "alice", "ro", "alice-pw");
    CHECK(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQexec(c, "create table x(a int)");
    CHECK_MSG(strcmp(srv_sqlstate(r), "42501") == 0, "%s", PQresultErrorMessage(r));
    PQclear(r);
    r = PQexec(c, "select count(*) from pg_catalog.pg_class");
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "0") == 0);
    PQclear(r);
    /* Table-valued functions declare their schema when first used, which
     * SQLite reports as a write: the policy must not see it. */
    r = PQexec(c, "select string_agg(x, '') from unnest('{a,b}') x");
    CHECK_MSG(PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "ab") == 0, "%s",
              PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

TEST(catalog_postgres_syntax_in_plain_queries)
{
    CHECK(need_C());
    PGconn *c = srv_connect(&C, "bob", "shop", "bob-pw");
    CHECK(PQstatus(c) == CONNECTION_OK);
    static const struct {
        const char *sql, *want;
    } cases[] = {
        {"select '42'::int + 1", "43"},
        {"select 'item'::regclass::oid > 16384", "1"},
        {"select 'yes'::boolean", "1"}, /* expressions have no declared type: bools print as 1/0 */
        {"select E'a\\tb' = 'a' || char(9) || 'b'", "1"},
        {"select 'pliant' ~ '^pl'", "1"},
        {"select 'Pliant' ~* '^pl' and 'Pliant' !~ '^pl'", "1"},
        {"select (ARRAY['a','b','c'])[2]", "b"},
        {"select 2 = any('{1,2,3}')", "1"},
        {"select array_to_string(ARRAY[1, 2, 3], '-')", "1-2-3"},
        {"select string_agg(x, ',') from unnest('{p,q}'::text[]) x", "p,q"},
        {"select sum(value) from generate_series(1, 10)", "55"},
        {"select trim(trailing ';' from 'a;;')", "a"},
        {"select pg_catalog.pg_size_pretty(10240)", "10 kB"},
        {"select format_type(23, -1)", "integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        PGresult *r = PQexec(c, cases[i].sql);
        CHECK_MSG(PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), cases[i].want) == 0,
                  "%s -> %s%s", cases[i].sql, PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "",
                  PQresultErrorMessage(r));
        PQclear(r);
    }
    /* Errors stay errors, with a message. */
    PGresult *r = PQexec(c, "select 'nosuch'::regclass");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR && strstr(PQresultErrorMessage(r), "does not exist"));
    PQclear(r);
    r = PQexec(c, "select 'a' ~ '('");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR && strstr(PQresultErrorMessage(r), "invalid regular expression"));
    PQclear(r);
    PQfinish(c);
}

/* Last: the ASan build's leak check and a clean shutdown decide the exit
 * status. */
TEST(catalog_server_stops_cleanly)
{
    CHECK(need_C());
    int st = srv_stop(&C);
    srv_cleanup(&C);
    c_up = false;
    CHECK_EQ(st, 0);
}
