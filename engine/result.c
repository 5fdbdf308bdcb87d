#include "result.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

uint32_t eng_decltype_oid(const char *d)
{
    if (!d)
        return 0;
    /* Same precedence as SQLite's affinity rules (section 3.1 of its
     * datatype documentation), plus bytea/bool/numeric names. */
    if (strcasestr(d, "INT"))
        return PG_OID_INT8;
    if (strncasecmp(d, "BOOL", 4) == 0)
        return PG_OID_BOOL;
    if (strcasestr(d, "CHAR") || strcasestr(d, "CLOB") || strcasestr(d, "TEXT"))
        return PG_OID_TEXT;
    if (strcasestr(d, "BLOB") || strcasestr(d, "BYTEA"))
        return PG_OID_BYTEA;
    if (strcasestr(d, "REAL") || strcasestr(d, "FLOA") || strcasestr(d, "DOUB"))
        return PG_OID_FLOAT8;
    if (strcasestr(d, "NUMERIC") || strcasestr(d, "DECIMAL"))
        return PG_OID_NUMERIC;
    return PG_OID_TEXT;
}

uint32_t eng_col_oid(sqlite3_stmt *st, int col, int value_type)
{
    uint32_t oid = eng_decltype_oid(sqlite3_column_decltype(st, col));
    if (oid)
        return oid;
    switch (value_type) {
    case SQLITE_INTEGER:
        return PG_OID_INT8;
    case SQLITE_FLOAT:
        return PG_OID_FLOAT8;
    case SQLITE_BLOB:
        return PG_OID_BYTEA;
    default:
        return PG_OID_TEXT;
    }
}

int16_t eng_oid_typlen(uint32_t oid)
{
    switch (oid) {
    case PG_OID_INT8:
    case PG_OID_FLOAT8:
        return 8;
    case PG_OID_BOOL:
        return 1;
    default:
        return -1;
    }
}

void eng_format_double(double v, char *out, size_t outlen)
{
    if (isnan(v)) {
        snprintf(out, outlen, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, outlen, v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, outlen, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static void put_hex(struct pl_buf *out, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!pl_buf_reserve(out, 2 + 2 * n))
        return;
    out->data[out->len++] = '\\';
    out->data[out->len++] = 'x';
    for (size_t i = 0; i < n; i++) {
        out->data[out->len++] = hex[p[i] >> 4];
        out->data[out->len++] = hex[p[i] & 15];
    }
}

void eng_value_text(sqlite3_stmt *st, int col, uint32_t oid, struct pl_buf *out)
{
    char tmp[64];
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_INTEGER:
        if (oid == PG_OID_BOOL) {
            pl_buf_putc(out, sqlite3_column_int64(st, col) ? 't' : 'f');
            return;
        }
        snprintf(tmp, sizeof tmp, "%lld", (long long)sqlite3_column_int64(st, col));
        pl_buf_puts(out, tmp);
        return;
    case SQLITE_FLOAT:
        eng_format_double(sqlite3_column_double(st, col), tmp, sizeof tmp);
        pl_buf_puts(out, tmp);
        return;
    case SQLITE_BLOB: {
        const void *p = sqlite3_column_blob(st, col);
        put_hex(out, p, (size_t)sqlite3_column_bytes(st, col));
        return;
    }
    default: {
        const unsigned char *p = sqlite3_column_text(st, col);
        size_t n = (size_t)sqlite3_column_bytes(st, col);
        /* A bytea column's values must all read back as bytea, even a
         * string SQLite stored in it. */
        if (oid == PG_OID_BYTEA)
            put_hex(out, p, n);
        else
            pl_buf_put(out, p, n);
        return;
    }
    }
}
