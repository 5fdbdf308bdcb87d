/* Expression-level PostgreSQL -> SQLite rewriting (engine/sql_rewrite.c):
 * each rule on its own and in the combinations psql's catalog queries use,
 * compared with the exact expected text; and text that must pass through
 * untouched. */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

#include "../engine/sql_rewrite.h"

struct rw_case {
    const char *in, *out;
    unsigned flags;
};

static const struct rw_case cases[] = {
    /* untouched */
    {"SELECT abalance FROM pgbench_accounts WHERE aid = 1", "SELECT abalance FROM pgbench_accounts WHERE aid = 1", 0},
    {"SELECT 'a::b', \"x~y\", ~5 FROM t", "SELECT 'a::b', \"x~y\", ~5 FROM t", 0},
    {"SELECT company FROM t", "SELECT company FROM t", 0},
    /* rule 1, 2 */
    {"UPDATE t SET a = $1 WHERE b = $12", "UPDATE t SET a = ?1 WHERE b = ?12", 0},
    {"SELECT $$it's$$, $q$a$b$q$", "SELECT 'it''s', 'a$b'", 0},
    {"SELECT E'a\\nb\\'c\\\\d\\x41\\101'", "SELECT 'a\nb''c\\dAA'", 0},
    /* rule 3 */
    {"SELECT x::int, 'a'::text", "SELECT CAST(x AS INTEGER), CAST('a' AS TEXT)", 0},
    {"SELECT t.c::pg_catalog.regtype::pg_catalog.text", "SELECT CAST(pg_regtype(t.c) AS TEXT)", 0},
    {"SELECT f(a, b)::bigint + 1", "SELECT CAST(f(a, b) AS INTEGER) + 1", 0},
    {"SELECT (a + b)::float8", "SELECT CAST((a + b) AS REAL)", 0},
    {"SELECT $1::varchar(10), 'x'::character varying", "SELECT CAST(?1 AS TEXT), CAST('x' AS TEXT)", 0},
    {"SELECT 1.5::double precision", "SELECT CAST(1.5 AS REAL)", 0},
    {"SELECT 't'::bool, v::int2[]", "SELECT pg_to_bool('t'), v", 0},
    {"SELECT now()::timestamp with time zone", "SELECT CAST(now() AS TEXT)", 0},
    {"SELECT CASE WHEN a THEN 1 ELSE 2 END::text", "SELECT CAST(CASE WHEN a THEN 1 ELSE 2 END AS TEXT)", 0},
    {"SELECT x::mytype", "SELECT x", 0},
    {"SELECT '16384'::pg_catalog.regclass", "SELECT pg_regclass('16384')", 0},
    /* rule 4 */
    {"WHERE n.nspname !~ '^pg_toast'", "WHERE n.nspname  NOT REGEXP  '^pg_toast'", 0},
    {"WHERE a ~ 'x' AND b ~* $1", "WHERE a  REGEXP  'x' AND b  REGEXP  pg_icase(?1)", 0},
    {"WHERE c.relname OPERATOR(pg_catalog.~) '^(t)$' COLLATE pg_catalog.default",
     "WHERE c.relname  REGEXP  '^(t)$' ", 0},
    {"WHERE a OPERATOR(pg_catalog.=) b", "WHERE a  =  b", 0},
    {"WHERE a ILIKE 'x%' COLLATE \"C\"", "WHERE a LIKE 'x%' COLLATE BINARY", 0},
    /* rule 5, 6 */
    {"FROM pg_catalog.pg_class c JOIN information_schema.tables t",
     "FROM pg_class c JOIN information_schema_tables t", SQLRW_CATALOG},
    /* rule 7 */
    {"SELECT a[2], f(x)[1]::int", "SELECT pg_array_get(a, 2), CAST(pg_array_get(f(x), 1) AS INTEGER)", 0},
    {"SELECT ARRAY[1, 2], ARRAY[]", "SELECT pg_array(1, 2), pg_array()", 0},
    {"SELECT ARRAY(SELECT b.rolname FROM r b WHERE x) AS m",
     "SELECT (SELECT '{' || ifnull(group_concat( b.rolname , ','), '') || '}' FROM r b WHERE x) AS m", 0},
    {"WHERE oid = ANY (pol.polroles)", "WHERE pg_any_eq(oid , pol.polroles)", 0},
    {"WHERE x = any(SELECT y FROM t)", "WHERE x  IN (SELECT y FROM t)", 0},
    {"SELECT a[1:2]", "SELECT a[1:2]", 0},
    /* rule 8 */
    {"select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x",
     "select 'toast.' || x from (SELECT value AS x FROM unnest(tc.reloptions)) x", SQLRW_CATALOG},
    {"FROM generate_series(0, 3) AS s, t WHERE a = p[s]",
     "FROM (SELECT value AS s FROM generate_series(0, 3)) AS s, t WHERE a = pg_array_get(p, s)", 0},
    {"SELECT * FROM generate_series(1, 3)", "SELECT * FROM generate_series(1, 3)", 0},
    {"FROM t AS u, pg_catalog.pg_partition_ancestors(t.r) WITH ORDINALITY AS a(relid, depth) WHERE",
     "FROM t AS u, (SELECT value AS relid, rowid AS depth FROM pg_partition_ancestors(t.r))  AS a WHERE",
     SQLRW_CATALOG},
    /* rule 9 */
    {"SELECT trim(trailing ';' from pg_get_ruledef(r.oid, true))", "SELECT rtrim( pg_get_ruledef(r.oid, true), ';')",
     SQLRW_CATALOG},
    {"SELECT trim(both from x), trim(leading 'x' from y), trim(z)",
     "SELECT trim( x), ltrim( y, 'x'), trim(z)", 0},
};

TEST(sql_rewrite_rules)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct rw_case *c = &cases[i];
        struct pl_buf out = {0};
        unsigned flags = 0;
        sql_rewrite(&out, c->in, 0, strlen(c->in), &flags);
        pl_buf_putc(&out, 0);
        CHECK(!out.oom);
        if (strcmp(out.data, c->out) != 0 || (flags & SQLRW_CATALOG) != (c->flags & SQLRW_CATALOG)) {
            tl_failf(__FILE__, __LINE__, "case %zu: %s\n  got  [%s] flags %u\n  want [%s] flags %u", i, c->in,
                     out.data, flags, c->out, c->flags);
            pl_buf_free(&out);
            return;
        }
        pl_buf_free(&out);
    }
}

TEST(sql_rewrite_subrange_only)
{
    const char *s = "SELECT $1::int; SELECT $2";
    struct pl_buf out = {0};
    unsigned flags = 0;
    sql_rewrite(&out, s, 7, 14, &flags);
    pl_buf_putc(&out, 0);
    CHECK(out.data && strcmp(out.data, "CAST(?1 AS INTEGER)") == 0);
    pl_buf_free(&out);
}
