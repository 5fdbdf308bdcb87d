/* PostgreSQL arrays in SQLite: text in PostgreSQL's output form
 * ({a,b,"c d",NULL}, one-dimensional, 1-based) and SQL functions over it:
 * pg_array(...) builds one, pg_array_get(a, i) subscripts, pg_any_eq(x, a)
 * is x = ANY(a), array_to_string, array_upper. */
#ifndef PL_ENGINE_PG_ARRAY_H
#define PL_ENGINE_PG_ARRAY_H

#include <sqlite3.h>
#include <stdbool.h>

#include "buf.h"

/* Appends element i (1-based) of array text a, unquoted, to out and sets
 * *is_null for an unquoted NULL; false if a is not an array or has no
 * element i. */
bool pg_array_elem(const char *a, long long i, struct pl_buf *out, bool *is_null);

/* Registers the array functions on a connection. 0, or -1. */
int pgarray_register(sqlite3 *db);

#endif
