/* The PostgreSQL system catalog, as far as clients read it: psql's \d,
 * \dt, \di, \dv, \l, \dn, \du and the information_schema tables that
 * drivers and GUI tools query, answered from SQLite's own schema.
 *
 * The catalog relations (pg_class, pg_attribute, pg_index, ...) are TEMP
 * tables of the connection, created on the first statement that names one
 * and refilled whenever the database's schema version has changed; the
 * columns clients read carry PostgreSQL's names and meaning, the rest are
 * there with neutral values so that queries written for PostgreSQL 15
 * prepare. OIDs: user relations are 16384 + their sqlite_schema rowid.
 * Statements name them through sql_rewrite.c, which drops "pg_catalog."
 * and flags the statement (tr_result.catalog). */
#ifndef PL_ENGINE_PG_CATALOG_H
#define PL_ENGINE_PG_CATALOG_H

#include <sqlite3.h>
#include <stddef.h>

/* Registers the SQL functions PostgreSQL clients and the rewritten text
 * call (format_type, pg_get_indexdef, pg_size_pretty, array helpers, the
 * REGEXP operator, ...). Once per connection, at open. */
int pgcat_register_functions(sqlite3 *db);

/* Creates the catalog tables if needed and refills them if the schema
 * changed since the last call. databases: the names pg_database lists
 * (those the session's user may open). Runs with the connection's
 * authorizer turned off (the caller restores it): it writes only the
 * connection's own temp tables, from schema information the session may
 * already read. 0, or -1 with a message. */
int pgcat_refresh(sqlite3 *db, const char *const *databases, int ndatabases, char *err, size_t errlen);

#endif
