/* Mapping SQLite values to PostgreSQL types and their text output format. */
#ifndef PL_ENGINE_RESULT_H
#define PL_ENGINE_RESULT_H

#include <sqlite3.h>
#include <stdint.h>

#include "buf.h"

enum {
    PG_OID_BOOL = 16,
    PG_OID_BYTEA = 17,
    PG_OID_INT8 = 20,
    PG_OID_INT2 = 21,
    PG_OID_INT4 = 23,
    PG_OID_TEXT = 25,
    PG_OID_FLOAT4 = 700,
    PG_OID_FLOAT8 = 701,
    PG_OID_UNKNOWN = 705,
    PG_OID_VARCHAR = 1043,
    PG_OID_NUMERIC = 1700,
};

/* Type of a result column: from the declared column type when the column
 * comes from a table (SQLite's affinity rules), else from the storage class
 * of the first value (value_type = SQLITE_INTEGER, ...; 0 when unknown). */
uint32_t eng_col_oid(sqlite3_stmt *st, int col, int value_type);
/* The type a declared column type maps to (0 for none): SQLite's affinity
 * rules, plus bool/boolean (whose integer values print as t/f), bytea and
 * numeric names. */
uint32_t eng_decltype_oid(const char *decltype);
int16_t eng_oid_typlen(uint32_t oid);

/* Appends the PostgreSQL text representation of column `col` of the current
 * row; a bytea column (or any BLOB value) is written as \x hex, an integer
 * in a bool column as t or f. The caller
 * writes NULL itself (length -1). */
void eng_value_text(sqlite3_stmt *st, int col, uint32_t oid, struct pl_buf *out);

/* Shortest text that reads back as the same double, as PostgreSQL 12+
 * prints float8 (Infinity/-Infinity/NaN spelled its way). */
void eng_format_double(double v, char *out, size_t outlen);

#endif
