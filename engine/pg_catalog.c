/* The emulated PostgreSQL catalog (see pg_catalog.h): its tables and the
 * functions clients call on them. */
#include "pg_catalog.h"

#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "pg_array.h"
#include "pg_srf.h"
#include "result.h"

#define USER_OID_BASE 16384
/* Primary keys on rowid tables have no SQLite index; PostgreSQL shows one
 * ("t_pkey"), so the catalog makes one up with this OID base + the table's
 * rowid. */
#define ROWID_PKEY_OID_BASE 1000000000
#define OWNER_OID 10
#define NS_PUBLIC 2200

/* Types clients see: the wire's (result.h) and the catalog's own. */
static const struct pg_type_row {
    unsigned oid;
    const char *typname, *display;
    int typlen;
    char category;
} types[] = {
    {16, "bool", "boolean", 1, 'B'},
    {17, "bytea", "bytea", -1, 'U'},
    {18, "char", "\"char\"", 1, 'S'},
    {19, "name", "name", 64, 'S'},
    {20, "int8", "bigint", 8, 'N'},
    {21, "int2", "smallint", 2, 'N'},
    {23, "int4", "integer", 4, 'N'},
    {25, "text", "text", -1, 'S'},
    {26, "oid", "oid", 4, 'N'},
    {114, "json", "json", -1, 'U'},
    {700, "float4", "real", 4, 'N'},
    {701, "float8", "double precision", 8, 'N'},
    {705, "unknown", "unknown", -2, 'X'},
    {1042, "bpchar", "character", -1, 'S'},
    {1043, "varchar", "character varying", -1, 'S'},
    {1082, "date", "date", 4, 'D'},
    {1114, "timestamp", "timestamp without time zone", 8, 'D'},
    {1184, "timestamptz", "timestamp with time zone", 8, 'D'},
    {1700, "numeric", "numeric", -1, 'N'},
    {2950, "uuid", "uuid", 16, 'U'},
    {3802, "jsonb", "jsonb", -1, 'U'},
};

static const struct pg_type_row *type_by_oid(long long oid)
{
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (types[i].oid == oid)
            return &types[i];
    return NULL;
}

/* ---- tables ---------------------------------------------------------- */

/* Columns are those of PostgreSQL 15 that psql and common drivers read;
 * "bool" columns print as t/f (result.c). Columns after the PostgreSQL
 * ones and starting with "_" are the catalog's own. */
static const char create_sql[] =
    "CREATE TEMP TABLE pliant_catalog_state(schema_version INTEGER);"
    "INSERT INTO pliant_catalog_state VALUES(-1);"
    "CREATE TEMP TABLE pg_namespace(oid INTEGER PRIMARY KEY, nspname TEXT, nspowner INTEGER, nspacl TEXT);"
    "CREATE TEMP TABLE pg_class(oid INTEGER PRIMARY KEY, relname TEXT, relnamespace INTEGER, reltype INTEGER,"
    " reloftype INTEGER, relowner INTEGER, relam INTEGER, relfilenode INTEGER, reltablespace INTEGER,"
    " relpages INTEGER, reltuples REAL, relallvisible INTEGER, reltoastrelid INTEGER, relhasindex bool,"
    " relisshared bool, relpersistence TEXT, relkind TEXT, relnatts INTEGER, relchecks INTEGER,"
    " relhasrules bool, relhastriggers bool, relhassubclass bool, relrowsecurity bool,"
    " relforcerowsecurity bool, relispopulated bool, relreplident TEXT, relispartition bool,"
    " relrewrite INTEGER, relfrozenxid INTEGER, relminmxid INTEGER, relacl TEXT, reloptions TEXT,"
    " relpartbound TEXT, _sql TEXT);"
    "CREATE TEMP TABLE pg_attribute(attrelid INTEGER, attname TEXT, atttypid INTEGER, attstattarget INTEGER,"
    " attlen INTEGER, attnum INTEGER, attndims INTEGER, attcacheoff INTEGER, atttypmod INTEGER, attbyval bool,"
    " attalign TEXT, attstorage TEXT, attcompression TEXT, attnotnull bool, atthasdef bool, atthasmissing bool,"
    " attidentity TEXT, attgenerated TEXT, attisdropped bool, attislocal bool, attinhcount INTEGER,"
    " attcollation INTEGER, attacl TEXT, attoptions TEXT, attfdwoptions TEXT, attmissingval TEXT,"
    " PRIMARY KEY(attrelid, attnum));"
    "CREATE TEMP TABLE pg_attrdef(oid INTEGER PRIMARY KEY, adrelid INTEGER, adnum INTEGER, adbin TEXT);"
    "CREATE TEMP TABLE pg_index(indexrelid INTEGER PRIMARY KEY, indrelid INTEGER, indnatts INTEGER,"
    " indnkeyatts INTEGER, indisunique bool, indnullsnotdistinct bool, indisprimary bool,"
    " indisexclusion bool, indimmediate bool, indisclustered bool, indisvalid bool, indcheckxmin bool,"
    " indisready bool, indislive bool, indisreplident bool, indkey TEXT, indcollation TEXT, indclass TEXT,"
    " indoption TEXT, indexprs TEXT, indpred TEXT, _def TEXT);"
    "CREATE TEMP TABLE pg_constraint(oid INTEGER PRIMARY KEY, conname TEXT, connamespace INTEGER, contype TEXT,"
    " condeferrable bool, condeferred bool, convalidated bool, conrelid INTEGER, contypid INTEGER,"
    " conindid INTEGER, conparentid INTEGER, confrelid INTEGER, confupdtype TEXT, confdeltype TEXT,"
    " confmatchtype TEXT, conislocal bool, coninhcount INTEGER, connoinherit bool, conkey TEXT,"
    " confkey TEXT, conpfeqop TEXT, conppeqop TEXT, conffeqop TEXT, confdelsetcols TEXT, conexclop TEXT,"
    " conbin TEXT, _def TEXT);"
    "CREATE TEMP TABLE pg_trigger(oid INTEGER PRIMARY KEY, tgrelid INTEGER, tgparentid INTEGER, tgname TEXT,"
    " tgfoid INTEGER, tgtype INTEGER, tgenabled TEXT, tgisinternal bool, tgconstrrelid INTEGER,"
    " tgconstrindid INTEGER, tgconstraint INTEGER, tgdeferrable bool, tginitdeferred bool, tgnargs INTEGER,"
    " tgattr TEXT, tgargs TEXT, tgqual TEXT, tgoldtable TEXT, tgnewtable TEXT, _def TEXT);"
    "CREATE TEMP TABLE pg_type(oid INTEGER PRIMARY KEY, typname TEXT, typnamespace INTEGER, typowner INTEGER,"
    " typlen INTEGER, typbyval bool, typtype TEXT, typcategory TEXT, typispreferred bool, typisdefined bool,"
    " typdelim TEXT, typrelid INTEGER, typsubscript INTEGER, typelem INTEGER, typarray INTEGER,"
    " typinput TEXT, typoutput TEXT, typnotnull bool, typbasetype INTEGER, typtypmod INTEGER,"
    " typndims INTEGER, typcollation INTEGER, typdefault TEXT, typacl TEXT);"
    "CREATE TEMP TABLE pg_am(oid INTEGER PRIMARY KEY, amname TEXT, amhandler TEXT, amtype TEXT);"
    "INSERT INTO pg_am VALUES(2, 'heap', 'heap_tableam_handler', 't'), (403, 'btree', 'bthandler', 'i');"
    "CREATE TEMP TABLE pg_database(oid INTEGER PRIMARY KEY, datname TEXT, datdba INTEGER, encoding INTEGER,"
    " datlocprovider TEXT, datistemplate bool, datallowconn bool, datconnlimit INTEGER, datfrozenxid INTEGER,"
    " datminmxid INTEGER, dattablespace INTEGER, datcollate TEXT, datctype TEXT, daticulocale TEXT,"
    " datcollversion TEXT, datacl TEXT);"
    "CREATE TEMP TABLE pg_roles(oid INTEGER PRIMARY KEY, rolname TEXT, rolsuper bool, rolinherit bool,"
    " rolcreaterole bool, rolcreatedb bool, rolcanlogin bool, rolreplication bool, rolconnlimit INTEGER,"
    " rolpassword TEXT, rolvaliduntil TEXT, rolbypassrls bool, rolconfig TEXT);"
    "CREATE TEMP VIEW pg_authid AS SELECT * FROM pg_roles;"
    "CREATE TEMP VIEW pg_user AS SELECT rolname AS usename, oid AS usesysid, rolcreatedb AS usecreatedb,"
    " rolsuper AS usesuper, rolreplication AS userepl, rolbypassrls AS usebypassrls, rolpassword AS passwd,"
    " rolvaliduntil AS valuntil, rolconfig AS useconfig FROM pg_roles;"
    "CREATE TEMP TABLE pg_auth_members(roleid INTEGER, member INTEGER, grantor INTEGER, admin_option bool);"
    "CREATE TEMP TABLE pg_description(objoid INTEGER, classoid INTEGER, objsubid INTEGER, description TEXT);"
    "CREATE TEMP TABLE pg_shdescription(objoid INTEGER, classoid INTEGER, description TEXT);"
    "CREATE TEMP TABLE pg_inherits(inhrelid INTEGER, inhparent INTEGER, inhseqno INTEGER,"
    " inhdetachpending bool);"
    "CREATE TEMP TABLE pg_partitioned_table(partrelid INTEGER, partstrat TEXT, partnatts INTEGER,"
    " partdefid INTEGER, partattrs TEXT, partclass TEXT, partcollation TEXT, partexprs TEXT);"
    "CREATE TEMP TABLE pg_policy(oid INTEGER, polname TEXT, polrelid INTEGER, polcmd TEXT,"
    " polpermissive bool, polroles TEXT, polqual TEXT, polwithcheck TEXT);"
    "CREATE TEMP TABLE pg_rewrite(oid INTEGER, rulename TEXT, ev_class INTEGER, ev_type TEXT,"
    " ev_enabled TEXT, is_instead bool, ev_qual TEXT, ev_action TEXT);"
    "CREATE TEMP TABLE pg_statistic_ext(oid INTEGER, stxrelid INTEGER, stxname TEXT, stxnamespace INTEGER,"
    " stxowner INTEGER, stxstattarget INTEGER, stxkeys TEXT, stxkind TEXT, stxexprs TEXT);"
    "CREATE TEMP TABLE pg_publication(oid INTEGER, pubname TEXT, pubowner INTEGER, puballtables bool,"
    " pubinsert bool, pubupdate bool, pubdelete bool, pubtruncate bool, pubviaroot bool);"
    "CREATE TEMP TABLE pg_publication_rel(oid INTEGER, prpubid INTEGER, prrelid INTEGER, prqual TEXT,"
    " prattrs TEXT);"
    "CREATE TEMP TABLE pg_publication_namespace(oid INTEGER, pnpubid INTEGER, pnnspid INTEGER);"
    "CREATE TEMP TABLE pg_foreign_table(ftrelid INTEGER, ftserver INTEGER, ftoptions TEXT);"
    "CREATE TEMP TABLE pg_collation(oid INTEGER PRIMARY KEY, collname TEXT, collnamespace INTEGER,"
    " collowner INTEGER, collprovider TEXT, collisdeterministic bool, collencoding INTEGER,"
    " collcollate TEXT, collctype TEXT, colliculocale TEXT, collversion TEXT);"
    "INSERT INTO pg_collation VALUES(100, 'default', 11, 10, 'd', 1, -1, NULL, NULL, NULL, NULL),"
    " (950, 'C', 11, 10, 'c', 1, -1, 'C', 'C', NULL, NULL), (951, 'POSIX', 11, 10, 'c', 1, -1, 'POSIX',"
    " 'POSIX', NULL, NULL);"
    "CREATE TEMP TABLE pg_tablespace(oid INTEGER PRIMARY KEY, spcname TEXT, spcowner INTEGER, spcacl TEXT,"
    " spcoptions TEXT);"
    "INSERT INTO pg_tablespace VALUES(1663, 'pg_default', 10, NULL, NULL), (1664, 'pg_global', 10, NULL, NULL);"
    "CREATE TEMP TABLE pg_proc(oid INTEGER PRIMARY KEY, proname TEXT, pronamespace INTEGER, proowner INTEGER,"
    " prokind TEXT, prorettype INTEGER, proargtypes TEXT, proretset bool);"
    "CREATE TEMP TABLE pg_extension(oid INTEGER PRIMARY KEY, extname TEXT, extowner INTEGER,"
    " extnamespace INTEGER, extrelocatable bool, extversion TEXT);"
    "CREATE TEMP TABLE pg_settings(name TEXT, setting TEXT, unit TEXT, category TEXT, short_desc TEXT);"
    /* Views of the catalog tables, as PostgreSQL defines them. */
    "CREATE TEMP VIEW pg_tables AS SELECT 'public' AS schemaname, c.relname AS tablename,"
    " pg_get_userbyid(c.relowner) AS tableowner, NULL AS tablespace, c.relhasindex AS hasindexes,"
    " c.relhasrules AS hasrules, c.relhastriggers AS hastriggers, c.relrowsecurity AS rowsecurity"
    " FROM pg_class c WHERE c.relkind = 'r';"
    "CREATE TEMP VIEW pg_views AS SELECT 'public' AS schemaname, c.relname AS viewname,"
    " pg_get_userbyid(c.relowner) AS viewowner, c._sql AS definition FROM pg_class c WHERE c.relkind = 'v';"
    "CREATE TEMP VIEW pg_indexes AS SELECT 'public' AS schemaname, t.relname AS tablename,"
    " c.relname AS indexname, NULL AS tablespace, i._def AS indexdef"
    " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid;"
    "CREATE TEMP VIEW information_schema_schemata AS SELECT current_database() AS catalog_name,"
    " nspname AS schema_name, pg_get_userbyid(nspowner) AS schema_owner FROM pg_namespace;"
    "CREATE TEMP VIEW information_schema_tables AS SELECT current_database() AS table_catalog,"
    " n.nspname AS table_schema, c.relname AS table_name,"
    " CASE c.relkind WHEN 'r' THEN 'BASE TABLE' ELSE 'VIEW' END AS table_type,"
    " NULL AS self_referencing_column_name, NULL AS reference_generation, NULL AS user_defined_type_catalog,"
    " NULL AS user_defined_type_schema, NULL AS user_defined_type_name,"
    " CASE c.relkind WHEN 'r' THEN 'YES' ELSE 'NO' END AS is_insertable_into, 'NO' AS is_typed,"
    " NULL AS commit_action FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'v');"
    "CREATE TEMP VIEW information_schema_columns AS SELECT current_database() AS table_catalog,"
    " 'public' AS table_schema, c.relname AS table_name, a.attname AS column_name,"
    " a.attnum AS ordinal_position, d.adbin AS column_default,"
    " CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END AS is_nullable,"
    " format_type(a.atttypid, a.atttypmod) AS data_type, NULL AS character_maximum_length,"
    " NULL AS numeric_precision, NULL AS numeric_scale, t.typname AS udt_name, 'NO' AS is_identity,"
    " 'NEVER' AS is_generated, CASE c.relkind WHEN 'r' THEN 'YES' ELSE 'NO' END AS is_updatable"
    " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid LEFT JOIN pg_type t ON t.oid = a.atttypid"
    " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
    " WHERE c.relkind IN ('r', 'v') AND a.attnum > 0;";

/* Refills everything derived from the database's schema. The source is
 * main.sqlite_schema and the table-valued PRAGMAs; every object named
 * sqlite_* is SQLite's own and stays out. */
static const char fill_sql[] =
    "DELETE FROM pg_class; DELETE FROM pg_attribute; DELETE FROM pg_attrdef; DELETE FROM pg_index;"
    "DELETE FROM pg_constraint; DELETE FROM pg_trigger;"
    /* tables and views */
    "INSERT INTO pg_class(oid, relname, relnamespace, reltype, reloftype, relowner, relam, relfilenode,"
    " reltablespace, relpages, reltuples, relallvisible, reltoastrelid, relhasindex, relisshared, relpersistence,"
    " relkind, relnatts, relchecks, relhasrules, relhastriggers, relhassubclass, relrowsecurity,"
    " relforcerowsecurity, relispopulated, relreplident, relispartition, relrewrite, _sql)"
    " SELECT 16384 + m.rowid, m.name, 2200, 0, 0, 10, CASE m.type WHEN 'table' THEN 2 ELSE 0 END,"
    " 16384 + m.rowid, 0, 0, -1, 0, 0,"
    " EXISTS(SELECT 1 FROM main.sqlite_schema x WHERE x.type = 'index' AND x.tbl_name = m.name)"
    "  OR EXISTS(SELECT 1 FROM pragma_table_info(m.name, 'main') p WHERE p.pk > 0),"
    " 0, 'p', CASE m.type WHEN 'table' THEN 'r' ELSE 'v' END,"
    " (SELECT count(*) FROM pragma_table_info(m.name, 'main')), 0, m.type = 'view',"
    /* PostgreSQL implements foreign keys with triggers on both tables, and
     * psql looks for them only where relhastriggers says so. */
    " EXISTS(SELECT 1 FROM main.sqlite_schema x WHERE x.type = 'trigger' AND x.tbl_name = m.name)"
    "  OR EXISTS(SELECT 1 FROM pragma_foreign_key_list(m.name, 'main'))"
    "  OR EXISTS(SELECT 1 FROM main.sqlite_schema o, pragma_foreign_key_list(o.name, 'main') f"
    "   WHERE o.type = 'table' AND f.\"table\" = m.name COLLATE NOCASE),"
    " 0, 0, 0, 1, 'd', 0, 0, m.sql"
    " FROM main.sqlite_schema m WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\';"
    /* columns of tables and views */
    "INSERT INTO pg_attribute(attrelid, attname, atttypid, attstattarget, attlen, attnum, attndims, attcacheoff,"
    " atttypmod, attbyval, attalign, attstorage, attcompression, attnotnull, atthasdef, atthasmissing,"
    " attidentity, attgenerated, attisdropped, attislocal, attinhcount, attcollation)"
    " SELECT c.oid, p.name, pg_decltype_oid(p.type), -1, -1, p.cid + 1, 0, -1, -1, 0, 'i', 'p', '',"
    " p.\"notnull\" OR p.pk > 0, p.dflt_value IS NOT NULL, 0, '', '', 0, 1, 0, 0"
    " FROM pg_class c, pragma_table_info(c.relname, 'main') p;"
    "INSERT INTO pg_attrdef(adrelid, adnum, adbin) SELECT c.oid, p.cid + 1, p.dflt_value"
    " FROM pg_class c, pragma_table_info(c.relname, 'main') p WHERE p.dflt_value IS NOT NULL;"
    /* indexes: SQLite's (named as PostgreSQL names constraint indexes) */
    "INSERT INTO pg_class(oid, relname, relnamespace, reltype, reloftype, relowner, relam, relfilenode,"
    " reltablespace, relpages, reltuples, relallvisible, reltoastrelid, relhasindex, relisshared, relpersistence,"
    " relkind, relnatts, relchecks, relhasrules, relhastriggers, relhassubclass, relrowsecurity,"
    " relforcerowsecurity, relispopulated, relreplident, relispartition, relrewrite, _sql)"
    " SELECT 16384 + m.rowid, CASE il.origin WHEN 'pk' THEN t.relname || '_pkey'"
    "  WHEN 'u' THEN t.relname || '_' || (SELECT group_concat(ii.name, '_') FROM pragma_index_info(il.name, 'main') ii)"
    "  || '_key' ELSE il.name END,"
    " 2200, 0, 0, 10, 403, 16384 + m.rowid, 0, 0, -1, 0, 0, 0, 0, 'p', 'i',"
    " (SELECT count(*) FROM pragma_index_info(il.name, 'main')), 0, 0, 0, 0, 0, 0, 1, 'n', 0, 0, m.sql"
    " FROM pg_class t, pragma_index_list(t.relname, 'main') il JOIN main.sqlite_schema m ON m.name = il.name"
    " WHERE t.relkind = 'r';"
    "INSERT INTO pg_index(indexrelid, indrelid, indnatts, indnkeyatts, indisunique, indnullsnotdistinct,"
    " indisprimary, indisexclusion, indimmediate, indisclustered, indisvalid, indcheckxmin, indisready,"
    " indislive, indisreplident, indkey, indcollation, indclass, indoption, indpred, _def)"
    " SELECT ic.oid, t.oid, ic.relnatts, ic.relnatts, il.\"unique\", 0, il.origin = 'pk', 0, 1, 0, 1, 0, 1, 1, 0,"
    " (SELECT group_concat(ii.cid + 1, ' ') FROM pragma_index_info(il.name, 'main') ii), '', '', '',"
    " CASE WHEN il.partial THEN 'partial' END,"
    " 'CREATE ' || CASE WHEN il.\"unique\" THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || ic.relname || ' ON public.'"
    "  || t.relname || ' USING btree (' || (SELECT group_concat(coalesce(ii.name, 'expression'), ', ')"
    "  FROM pragma_index_info(il.name, 'main') ii) || ')'"
    "  || CASE WHEN il.partial THEN ' WHERE' || substr(ic._sql, instr(upper(ic._sql), ' WHERE ') + 6) ELSE '' END"
    " FROM pg_class t, pragma_index_list(t.relname, 'main') il JOIN main.sqlite_schema m ON m.name = il.name"
    " JOIN pg_class ic ON ic.oid = 16384 + m.rowid WHERE t.relkind = 'r';"
    /* the primary key of a rowid table, which SQLite keeps without an index */
    "INSERT INTO pg_class(oid, relname, relnamespace, reltype, reloftype, relowner, relam, relfilenode,"
    " reltablespace, relpages, reltuples, relallvisible, reltoastrelid, relhasindex, relisshared, relpersistence,"
    " relkind, relnatts, relchecks, relhasrules, relhastriggers, relhassubclass, relrowsecurity,"
    " relforcerowsecurity, relispopulated, relreplident, relispartition, relrewrite)"
    " SELECT 1000000000 + t.oid - 16384, t.relname || '_pkey', 2200, 0, 0, 10, 403, 0, 0, 0, -1, 0, 0, 0, 0,"
    " 'p', 'i', 1, 0, 0, 0, 0, 0, 0, 1, 'n', 0, 0 FROM pg_class t"
    " WHERE t.relkind = 'r' AND EXISTS(SELECT 1 FROM pragma_table_info(t.relname, 'main') p WHERE p.pk > 0)"
    " AND NOT EXISTS(SELECT 1 FROM pragma_index_list(t.relname, 'main') il WHERE il.origin = 'pk');"
    "INSERT INTO pg_index(indexrelid, indrelid, indnatts, indnkeyatts, indisunique, indnullsnotdistinct,"
    " indisprimary, indisexclusion, indimmediate, indisclustered, indisvalid, indcheckxmin, indisready,"
    " indislive, indisreplident, indkey, indcollation, indclass, indoption, _def)"
    " SELECT 1000000000 + t.oid - 16384, t.oid, 1, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0, p.cid + 1, '', '', '',"
    " 'CREATE UNIQUE INDEX ' || t.relname || '_pkey ON public.' || t.relname || ' USING btree (' || p.name || ')'"
    " FROM pg_class t, pragma_table_info(t.relname, 'main') p"
    " WHERE t.relkind = 'r' AND p.pk > 0"
    " AND NOT EXISTS(SELECT 1 FROM pragma_index_list(t.relname, 'main') il WHERE il.origin = 'pk');"
    /* columns of indexes */
    "INSERT INTO pg_attribute(attrelid, attname, atttypid, attstattarget, attlen, attnum, attndims, attcacheoff,"
    " atttypmod, attbyval, attalign, attstorage, attcompression, attnotnull, atthasdef, atthasmissing,"
    " attidentity, attgenerated, attisdropped, attislocal, attinhcount, attcollation)"
    " SELECT i.indexrelid, coalesce(a.attname, ii.name, 'expr'), coalesce(a.atttypid, 25), -1, -1,"
    " coalesce(ii.seqno + 1, 1), 0, -1, -1, 0, 'i', 'p', '', 0, 0, 0, '', '', 0, 1, 0, 0"
    " FROM pg_index i LEFT JOIN main.sqlite_schema m ON m.rowid = i.indexrelid - 16384"
    " LEFT JOIN pragma_index_info(m.name, 'main') ii"
    " LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid"
    "  AND a.attnum = CASE WHEN m.name IS NULL THEN CAST(i.indkey AS INTEGER) ELSE ii.cid + 1 END;"
    /* constraints: primary keys and UNIQUE through their indexes, foreign keys */
    "INSERT INTO pg_constraint(oid, conname, connamespace, contype, condeferrable, condeferred, convalidated,"
    " conrelid, contypid, conindid, conparentid, confrelid, confupdtype, confdeltype, confmatchtype, conislocal,"
    " coninhcount, connoinherit, conkey, _def)"
    " SELECT i.indexrelid, c.relname, 2200, CASE WHEN i.indisprimary THEN 'p' ELSE 'u' END, 0, 0, 1, i.indrelid,"
    " 0, i.indexrelid, 0, 0, ' ', ' ', ' ', 1, 0, 1, '{' || replace(i.indkey, ' ', ',') || '}',"
    " CASE WHEN i.indisprimary THEN 'PRIMARY KEY (' ELSE 'UNIQUE (' END"
    "  || substr(i._def, instr(i._def, ' USING btree (') + 14)"
    " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " WHERE i.indisprimary OR c.relname LIKE '%\\_key' ESCAPE '\\';"
    "INSERT INTO pg_constraint(oid, conname, connamespace, contype, condeferrable, condeferred, convalidated,"
    " conrelid, contypid, conindid, conparentid, confrelid, confupdtype, confdeltype, confmatchtype, conislocal,"
    " coninhcount, connoinherit, conkey, confkey, _def)"
    " SELECT 2000000000 + t.oid * 64 + f.id, t.relname || '_' || group_concat(f.\"from\", '_') || '_fkey', 2200,"
    " 'f', 0, 0, 1, t.oid, 0, 0, 0, coalesce(r.oid, 0), 'a', 'a', 's', 1, 0, 1, '', '',"
    " 'FOREIGN KEY (' || group_concat(f.\"from\", ', ') || ') REFERENCES ' || f.\"table\""
    "  || coalesce('(' || group_concat(f.\"to\", ', ') || ')', '')"
    "  || CASE f.on_delete WHEN 'NO ACTION' THEN '' ELSE ' ON DELETE ' || f.on_delete END"
    "  || CASE f.on_update WHEN 'NO ACTION' THEN '' ELSE ' ON UPDATE ' || f.on_update END"
    " FROM pg_class t, pragma_foreign_key_list(t.relname, 'main') f"
    " LEFT JOIN pg_class r ON r.relname = f.\"table\" AND r.relkind = 'r'"
    " WHERE t.relkind = 'r' GROUP BY t.oid, f.id;"
    "INSERT INTO pg_trigger(oid, tgrelid, tgparentid, tgname, tgfoid, tgtype, tgenabled, tgisinternal,"
    " tgconstrrelid, tgconstrindid, tgconstraint, tgdeferrable, tginitdeferred, tgnargs, tgattr, tgargs, _def)"
    " SELECT 16384 + m.rowid, t.oid, 0, m.name, 0, 0, 'O', 0, 0, 0, 0, 0, 0, 0, '', '', m.sql"
    " FROM main.sqlite_schema m JOIN pg_class t ON t.relname = m.tbl_name AND t.relkind IN ('r', 'v')"
    " WHERE m.type = 'trigger';";

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "catalog: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Runs sql with one text or integer parameter; returns its first column
 * of the first row as int64 (dflt when no row). */
static long long query_int(sqlite3 *db, const char *sql, const char *text, long long num, long long dflt)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return dflt;
    if (text)
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, num);
    long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : dflt;
    sqlite3_finalize(st);
    return v;
}

static int fill_static(sqlite3 *db, const char *const *databases, int ndatabases, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO pg_type(oid, typname, typnamespace, typowner, typlen, typbyval, typtype,"
                                " typcategory, typispreferred, typisdefined, typdelim, typrelid, typsubscript,"
                                " typelem, typarray, typnotnull, typbasetype, typtypmod, typndims, typcollation)"
                                " VALUES(?1, ?2, 11, 10, ?3, ?3 BETWEEN 1 AND 8, 'b', ?4, 0, 1, ',', 0, 0, 0, 0, 0,"
                                " 0, -1, 0, CASE WHEN ?4 = 'S' THEN 100 ELSE 0 END)",
                                -1, &st, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof types / sizeof *types; i++) {
        char cat[2] = {types[i].category, 0};
        sqlite3_bind_int64(st, 1, types[i].oid);
        sqlite3_bind_text(st, 2, types[i].typname, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, types[i].typlen);
        sqlite3_bind_text(st, 4, cat, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO pg_database VALUES(?1, ?2, 10, 6, 'c', 0, 1, -1, 0, 1, 1663, 'C', 'C',"
                                " NULL, NULL, NULL)",
                                -1, &st, NULL);
    for (int i = 0; rc == SQLITE_OK && i < ndatabases; i++) {
        sqlite3_bind_int(st, 1, 16000 + i);
        sqlite3_bind_text(st, 2, databases[i], -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "catalog: %s", sqlite3_errmsg(db));
        return -1;
    }
    /* The session's own role owns everything; other tenants' roles are
     * theirs to know. */
    return exec_sql(db,
                    "INSERT INTO pg_namespace VALUES(11, 'pg_catalog', 10, NULL), (2200, 'public', 10, NULL),"
                    " (13000, 'information_schema', 10, NULL);"
                    "INSERT INTO pg_roles VALUES(10, current_user(), 1, 1, 1, 1, 1, 0, -1, '********', NULL, 0,"
                    " NULL);",
                    err, errlen);
}

int pgcat_refresh(sqlite3 *db, const char *const *databases, int ndatabases, char *err, size_t errlen)
{
    long long have = query_int(db, "SELECT schema_version FROM temp.pliant_catalog_state", NULL, 0, -2);
    if (have == -2) {
        if (exec_sql(db, "SAVEPOINT pliant_catalog", err, errlen))
            return -1;
        if (exec_sql(db, create_sql, err, errlen) || fill_static(db, databases, ndatabases, err, errlen)) {
            sqlite3_exec(db, "ROLLBACK TO pliant_catalog; RELEASE pliant_catalog", NULL, NULL, NULL);
            return -1;
        }
        if (exec_sql(db, "RELEASE pliant_catalog", err, errlen))
            return -1;
        have = -1;
    }
    long long now = query_int(db, "PRAGMA main.schema_version", NULL, 0, -3);
    if (now == have)
        return 0;
    if (exec_sql(db, "SAVEPOINT pliant_catalog", err, errlen))
        return -1;
    char update[96];
    snprintf(update, sizeof update, "UPDATE pliant_catalog_state SET schema_version = %lld", now);
    if (exec_sql(db, fill_sql, err, errlen) || exec_sql(db, update, err, errlen)) {
        sqlite3_exec(db, "ROLLBACK TO pliant_catalog; RELEASE pliant_catalog", NULL, NULL, NULL);
        return -1;
    }
    return exec_sql(db, "RELEASE pliant_catalog", err, errlen);
}

/* ---- functions ------------------------------------------------------- */

static void fn_true(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc, (void)argv;
    sqlite3_result_int(ctx, 1);
}

static void fn_null(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc, (void)argv;
    sqlite3_result_null(ctx);
}

static void fn_first_arg(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite3_result_value(ctx, argv[0]);
}

static void fn_const_text(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc, (void)argv;
    sqlite3_result_text(ctx, sqlite3_user_data(ctx), -1, SQLITE_STATIC);
}

/* The first column of a query's first row, as the result (NULL when no
 * row); param is bound to ?1 if the query has it. */
static void result_query_text(sqlite3_context *ctx, const char *sql, long long param)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sqlite3_context_db_handle(ctx), sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_bind_int64(st, 1, param);
    if (sqlite3_step(st) == SQLITE_ROW)
        sqlite3_result_value(ctx, sqlite3_column_value(st, 0));
    else
        sqlite3_result_null(ctx);
    sqlite3_finalize(st);
}

/* Result from sqlite3_mprintf (NULL: out of memory). */
static void result_owned_text(sqlite3_context *ctx, char *text)
{
    if (!text)
        sqlite3_result_error_nomem(ctx);
    else
        sqlite3_result_text(ctx, text, -1, sqlite3_free);
}

/* pg_get_indexdef, pg_get_constraintdef, ...: the definition column of a
 * catalog table, by OID; user data is the query. */
static void fn_def(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc < 1 || sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    result_query_text(ctx, sqlite3_user_data(ctx), sqlite3_value_int64(argv[0]));
}

/* pg_get_indexdef(oid[, column, pretty]): the whole definition, or with
 * column > 0 that key column's name. */
static void fn_indexdef(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc >= 2 && sqlite3_value_int64(argv[1]) > 0) {
        sqlite3_stmt *st = NULL;
        sqlite3 *db = sqlite3_context_db_handle(ctx);
        if (sqlite3_prepare_v2(db, "SELECT attname FROM temp.pg_attribute WHERE attrelid = ?1 AND attnum = ?2", -1,
                               &st, NULL) != SQLITE_OK) {
            sqlite3_result_null(ctx);
            return;
        }
        sqlite3_bind_value(st, 1, argv[0]);
        sqlite3_bind_value(st, 2, argv[1]);
        if (sqlite3_step(st) == SQLITE_ROW)
            sqlite3_result_value(ctx, sqlite3_column_value(st, 0));
        else
            sqlite3_result_null(ctx);
        sqlite3_finalize(st);
        return;
    }
    fn_def(ctx, argc, argv);
}

static void fn_format_type(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const struct pg_type_row *t = type_by_oid(sqlite3_value_int64(argv[0]));
    sqlite3_result_text(ctx, t ? t->display : "???", -1, SQLITE_STATIC);
}

static void fn_decltype_oid(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    uint32_t oid = eng_decltype_oid((const char *)sqlite3_value_text(argv[0]));
    sqlite3_result_int64(ctx, oid ? oid : PG_OID_TEXT);
}

static bool all_digits(const unsigned char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* x::regclass: text (a name, or an OID in digits, as in '16385'::regclass)
 * becomes the relation's OID, for comparisons; an integer OID becomes the
 * relation's name, which is how a regclass value prints. */
static void fn_regclass(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int type = sqlite3_value_type(argv[0]);
    if (type == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    if (type == SQLITE_TEXT) {
        const char *name = (const char *)sqlite3_value_text(argv[0]);
        if (all_digits((const unsigned char *)name)) {
            sqlite3_result_int64(ctx, sqlite3_value_int64(argv[0]));
            return;
        }
        if (strncasecmp(name, "public.", 7) == 0)
            name += 7;
        long long rowid = query_int(sqlite3_context_db_handle(ctx),
                                    "SELECT rowid FROM main.sqlite_schema WHERE name = ?1 COLLATE NOCASE"
                                    " AND type IN ('table', 'view', 'index')",
                                    name, 0, -1);
        if (rowid >= 0) {
            sqlite3_result_int64(ctx, USER_OID_BASE + rowid);
            return;
        }
        char *msg = sqlite3_mprintf("relation \"%s\" does not exist", name);
        sqlite3_result_error(ctx, msg ? msg : "relation does not exist", -1);
        sqlite3_free(msg);
        return;
    }
    long long oid = sqlite3_value_int64(argv[0]);
    result_query_text(ctx, "SELECT coalesce((SELECT relname FROM temp.pg_class WHERE oid = ?1), ?1)", oid);
}

static void fn_regtype(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_TEXT) {
        const char *name = (const char *)sqlite3_value_text(argv[0]);
        for (size_t i = 0; i < sizeof types / sizeof *types; i++)
            if (strcasecmp(name, types[i].typname) == 0 || strcasecmp(name, types[i].display) == 0) {
                sqlite3_result_int64(ctx, types[i].oid);
                return;
            }
        char *msg = sqlite3_mprintf("type \"%s\" does not exist", name);
        sqlite3_result_error(ctx, msg ? msg : "type does not exist", -1);
        sqlite3_free(msg);
        return;
    }
    fn_format_type(ctx, argc, argv);
}

static void fn_to_bool(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite3_value *v = argv[0];
    if (sqlite3_value_type(v) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    if (sqlite3_value_type(v) != SQLITE_TEXT) {
        sqlite3_result_int(ctx, sqlite3_value_double(v) != 0);
        return;
    }
    static const char *const yes[] = {"t", "true", "y", "yes", "on", "1"}, *const no[] = {"f", "false", "n", "no",
                                                                                           "off", "0"};
    const char *s = (const char *)sqlite3_value_text(v);
    while (*s == ' ')
        s++;
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            sqlite3_result_int(ctx, 1);
            return;
        }
        if (strcasecmp(s, no[i]) == 0) {
            sqlite3_result_int(ctx, 0);
            return;
        }
    }
    sqlite3_result_error(ctx, "invalid input syntax for type boolean", -1);
}

/* REGEXP operator (rewritten ~): POSIX extended syntax, close to
 * PostgreSQL's advanced syntax for the patterns clients send. The
 * compiled pattern is cached on the statement. A pattern marked by
 * pg_icase() matches case-insensitively. */
static void regex_free(void *p)
{
    regfree(p);
    free(p);
}

static void fn_regexp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *pat = (const char *)sqlite3_value_text(argv[0]);
    const char *subject = (const char *)sqlite3_value_text(argv[1]);
    if (!pat || !subject) {
        sqlite3_result_null(ctx);
        return;
    }
    regex_t *re = sqlite3_get_auxdata(ctx, 0);
    if (!re) {
        int flags = REG_EXTENDED | REG_NOSUB;
        if (pat[0] == '\x01')
            flags |= REG_ICASE, pat++;
        re = malloc(sizeof *re);
        if (!re) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
        int rc = regcomp(re, pat, flags);
        if (rc != 0) {
            char msg[160], full[200];
            regerror(rc, re, msg, sizeof msg);
            free(re);
            snprintf(full, sizeof full, "invalid regular expression: %s", msg);
            sqlite3_result_error(ctx, full, -1);
            return;
        }
        sqlite3_set_auxdata(ctx, 0, re, regex_free);
        re = sqlite3_get_auxdata(ctx, 0);
        if (!re) { /* SQLite freed it: the pattern was not constant */
            fn_regexp(ctx, argc, argv);
            return;
        }
    }
    sqlite3_result_int(ctx, regexec(re, subject, 0, NULL, 0) == 0);
}

static void fn_icase(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *p = (const char *)sqlite3_value_text(argv[0]);
    if (!p) {
        sqlite3_result_null(ctx);
        return;
    }
    result_owned_text(ctx, sqlite3_mprintf("\x01%s", p));
}

static void fn_size_pretty(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    /* PostgreSQL's rule: switch unit once the value reaches 10 units
     * (rounded), i.e. 10240 bytes -> "10 kB". */
    static const char *const units[] = {"bytes", "kB", "MB", "GB", "TB", "PB"};
    long long v = sqlite3_value_int64(argv[0]);
    int u = 0;
    while (u < 5 && (v < 0 ? -v : v) >= 10 * 1024 - 512) {
        v = (v + (v < 0 ? -512 : 512)) / 1024;
        u++;
    }
    char out[48];
    snprintf(out, sizeof out, "%lld %s", v, units[u]);
    sqlite3_result_text(ctx, out, -1, SQLITE_TRANSIENT);
}

/* pg_table_size(oid) and friends: bytes in the relation's pages (dbstat). */
static void fn_relation_size(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *sql = sqlite3_user_data(ctx);
    result_query_text(ctx, sql, sqlite3_value_int64(argv[0]));
}

static void fn_database_size(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc, (void)argv;
    sqlite3 *db = sqlite3_context_db_handle(ctx);
    long long pages = query_int(db, "PRAGMA main.page_count", NULL, 0, 0);
    long long size = query_int(db, "PRAGMA main.page_size", NULL, 0, 0);
    sqlite3_result_int64(ctx, pages * size);
}

static void fn_userbyid(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_int64(argv[0]) == OWNER_OID) /* the session's own role owns everything */
        result_query_text(ctx, "SELECT current_user()", 0);
    else
        sqlite3_result_text(ctx, "unknown (OID)", -1, SQLITE_STATIC);
}

static void fn_quote_ident(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const unsigned char *s = sqlite3_value_text(argv[0]);
    if (!s) {
        sqlite3_result_null(ctx);
        return;
    }
    bool plain = (*s >= 'a' && *s <= 'z') || *s == '_';
    for (const unsigned char *p = s; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
    result_owned_text(ctx, plain ? sqlite3_mprintf("%s", s) : sqlite3_mprintf("\"%w\"", s));
}

/* string_agg(value, separator): group_concat with PostgreSQL's name and
 * argument rules (NULL values skipped). */
static void agg_string_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    struct pl_buf *b = sqlite3_aggregate_context(ctx, sizeof *b + 1);
    const unsigned char *v = sqlite3_value_text(argv[0]);
    if (!b || !v)
        return;
    bool *started = (bool *)(b + 1);
    if (*started) {
        const unsigned char *sep = sqlite3_value_text(argv[1]);
        if (sep)
            pl_buf_puts(b, (const char *)sep);
    }
    *started = true;
    pl_buf_put(b, v, (size_t)sqlite3_value_bytes(argv[0]));
}

static void agg_string_final(sqlite3_context *ctx)
{
    struct pl_buf *b = sqlite3_aggregate_context(ctx, 0);
    if (!b || !*(bool *)(b + 1)) {
        sqlite3_result_null(ctx);
    } else if (b->oom) {
        sqlite3_result_error_nomem(ctx);
    } else {
        sqlite3_result_text(ctx, b->data ? b->data : "", (int)b->len, SQLITE_TRANSIENT);
    }
    if (b)
        pl_buf_free(b);
}

int pgcat_register_functions(sqlite3 *db)
{
    static const struct {
        const char *name;
        int nargs;
        void (*fn)(sqlite3_context *, int, sqlite3_value **);
        const char *data; /* sqlite3_user_data */
    } fns[] = {
        {"regexp", 2, fn_regexp, NULL},
        {"pg_icase", 1, fn_icase, NULL},
        {"pg_to_bool", 1, fn_to_bool, NULL},
        {"pg_regclass", 1, fn_regclass, NULL},
        {"pg_regtype", 1, fn_regtype, NULL},
        {"pg_decltype_oid", 1, fn_decltype_oid, NULL},
        {"format_type", 2, fn_format_type, NULL},
        {"pg_get_userbyid", 1, fn_userbyid, NULL},
        {"pg_table_is_visible", 1, fn_true, NULL},
        {"pg_type_is_visible", 1, fn_true, NULL},
        {"pg_function_is_visible", 1, fn_true, NULL},
        {"has_table_privilege", -1, fn_true, NULL},
        {"has_schema_privilege", -1, fn_true, NULL},
        {"has_database_privilege", -1, fn_true, NULL},
        {"pg_relation_is_publishable", 1, fn_null, NULL},
        {"pg_get_expr", 2, fn_first_arg, NULL},
        {"pg_get_expr", 3, fn_first_arg, NULL},
        {"pg_partition_ancestors", 1, fn_first_arg, NULL},
        {"obj_description", 1, fn_null, NULL},
        {"obj_description", 2, fn_null, NULL},
        {"col_description", 2, fn_null, NULL},
        {"shobj_description", 2, fn_null, NULL},
        {"pg_get_statisticsobjdef_columns", 1, fn_null, NULL},
        {"pg_get_partkeydef", 1, fn_null, NULL},
        {"pg_get_function_arguments", 1, fn_null, NULL},
        {"pg_get_function_result", 1, fn_null, NULL},
        {"pg_encoding_to_char", 1, fn_const_text, "UTF8"},
        {"current_schema", 0, fn_const_text, "public"},
        {"current_schemas", 1, fn_const_text, "{public}"},
        {"pg_size_pretty", 1, fn_size_pretty, NULL},
        {"pg_database_size", 1, fn_database_size, NULL},
        {"quote_ident", 1, fn_quote_ident, NULL},
        {"pg_get_indexdef", -1, fn_indexdef, "SELECT _def FROM temp.pg_index WHERE indexrelid = ?1"},
        {"pg_get_ruledef", -1, fn_null, NULL},
        {"pg_tablespace_location", 1, fn_const_text, ""},
        {"pg_get_constraintdef", -1, fn_def, "SELECT _def FROM temp.pg_constraint WHERE oid = ?1"},
        {"pg_get_triggerdef", -1, fn_def, "SELECT _def FROM temp.pg_trigger WHERE oid = ?1"},
        {"pg_get_viewdef", -1, fn_def, "SELECT _sql FROM temp.pg_class WHERE oid = ?1 AND relkind = 'v'"},
        {"pg_table_size", 1, fn_relation_size,
         "SELECT coalesce(sum(pgsize), 0) FROM dbstat('main') WHERE name = (SELECT name FROM main.sqlite_schema"
         " WHERE rowid = ?1 - 16384)"},
        {"pg_relation_size", 1, fn_relation_size,
         "SELECT coalesce(sum(pgsize), 0) FROM dbstat('main') WHERE name = (SELECT name FROM main.sqlite_schema"
         " WHERE rowid = ?1 - 16384)"},
        {"pg_total_relation_size", 1, fn_relation_size,
         "SELECT coalesce(sum(pgsize), 0) FROM dbstat('main') WHERE name IN (SELECT m.name FROM main.sqlite_schema"
         " m, main.sqlite_schema t WHERE t.rowid = ?1 - 16384 AND m.tbl_name = t.name)"},
        {"pg_indexes_size", 1, fn_relation_size,
         "SELECT coalesce(sum(pgsize), 0) FROM dbstat('main') WHERE name IN (SELECT m.name FROM main.sqlite_schema"
         " m, main.sqlite_schema t WHERE t.rowid = ?1 - 16384 AND m.tbl_name = t.name AND m.type = 'index')"},
    };
    for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
        int rc = sqlite3_create_function_v2(db, fns[i].name, fns[i].nargs, SQLITE_UTF8, (void *)fns[i].data,
                                            fns[i].fn, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            return -1;
    }
    if (sqlite3_create_function_v2(db, "string_agg", 2, SQLITE_UTF8, NULL, NULL, agg_string_step, agg_string_final,
                                   NULL) != SQLITE_OK)
        return -1;
    return pgarray_register(db) || pgsrf_register(db) ? -1 : 0;
}
