/* Expression-level PostgreSQL -> SQLite rewriting: parameters, string
 * syntax, casts, regular-expression and array operators, schema-qualified
 * catalog names. Statement-level rewrites (BEGIN, COPY, DROP lists, ...)
 * are sql_translate.c's; they hand every piece of text they pass on to
 * SQLite through sql_rewrite(). The rules are listed at the top of
 * sql_rewrite.c; the SQL functions the rewritten text calls (pg_array_get,
 * pg_regclass, ...) are registered on every connection by pg_catalog.c. */
#ifndef PL_ENGINE_SQL_REWRITE_H
#define PL_ENGINE_SQL_REWRITE_H

#include <stddef.h>

#include "buf.h"

/* The text names a relation or function of the emulated PostgreSQL
 * catalog: the connection must have it installed and current
 * (pgcat_refresh) before the statement is prepared. */
#define SQLRW_CATALOG 1u

/* Appends s[a,b) to out, rewritten; ORs SQLRW_* flags into *flags. Text
 * it does not understand is copied unchanged for SQLite to judge. */
void sql_rewrite(struct pl_buf *out, const char *s, size_t a, size_t b, unsigned *flags);

#endif
