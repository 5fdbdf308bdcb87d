/* PostgreSQL arrays as SQLite sees them: text in PostgreSQL's output form,
 * {a,b,"c d",NULL}, and the SQL functions over that form that the
 * rewritten text (sql_rewrite.c) and catalog queries call. */
#include "pg_array.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool pg_array_elem(const char *a, long long want, struct pl_buf *out, bool *is_null)
{
    if (!a || *a != '{')
        return false;
    const char *p = a + 1;
    for (long long i = 1; *p && *p != '}'; i++) {
        struct pl_buf tmp = {0};
        bool quoted = *p == '"';
        if (quoted) {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                pl_buf_putc(&tmp, *p);
            }
            if (*p == '"')
                p++;
        } else {
            while (*p && *p != ',' && *p != '}')
                pl_buf_putc(&tmp, *p++);
        }
        if (i == want) {
            *is_null = !quoted && tmp.len == 4 && strncasecmp(tmp.data, "NULL", 4) == 0;
            pl_buf_put(out, tmp.data, tmp.len);
            pl_buf_free(&tmp);
            return true;
        }
        pl_buf_free(&tmp);
        if (*p == ',')
            p++;
    }
    return false;
}

static void fn_array_get(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    struct pl_buf b = {0};
    bool is_null = false;
    if (!pg_array_elem((const char *)sqlite3_value_text(argv[0]), sqlite3_value_int64(argv[1]), &b, &is_null) ||
        is_null)
        sqlite3_result_null(ctx);
    else
        sqlite3_result_text(ctx, b.data ? b.data : "", (int)b.len, SQLITE_TRANSIENT);
    pl_buf_free(&b);
}

static void put_array_elem(struct pl_buf *b, sqlite3_value *v)
{
    if (sqlite3_value_type(v) == SQLITE_NULL) {
        pl_buf_puts(b, "NULL");
        return;
    }
    const char *s = (const char *)sqlite3_value_text(v);
    bool quote = !*s || strpbrk(s, ",{}\" \\") != NULL;
    if (quote)
        pl_buf_putc(b, '"');
    for (; *s; s++) {
        if (quote && (*s == '"' || *s == '\\'))
            pl_buf_putc(b, '\\');
        pl_buf_putc(b, *s);
    }
    if (quote)
        pl_buf_putc(b, '"');
}

static void fn_array(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct pl_buf b = {0};
    pl_buf_putc(&b, '{');
    for (int i = 0; i < argc; i++) {
        if (i)
            pl_buf_putc(&b, ',');
        put_array_elem(&b, argv[i]);
    }
    pl_buf_putc(&b, '}');
    if (b.oom)
        sqlite3_result_error_nomem(ctx);
    else
        sqlite3_result_text(ctx, b.data, (int)b.len, SQLITE_TRANSIENT);
    pl_buf_free(&b);
}

static void fn_any_eq(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *x = (const char *)sqlite3_value_text(argv[0]), *a = (const char *)sqlite3_value_text(argv[1]);
    if (!x || !a) {
        sqlite3_result_null(ctx);
        return;
    }
    for (long long i = 1;; i++) {
        struct pl_buf b = {0};
        bool is_null = false;
        bool have = pg_array_elem(a, i, &b, &is_null);
        bool eq = have && !is_null && b.len == strlen(x) && memcmp(b.data ? b.data : "", x, b.len) == 0;
        pl_buf_free(&b);
        if (!have || eq) {
            sqlite3_result_int(ctx, eq);
            return;
        }
    }
}

static void fn_array_to_string(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *a = (const char *)sqlite3_value_text(argv[0]);
    const char *sep = (const char *)sqlite3_value_text(argv[1]);
    const char *null_as = argc > 2 ? (const char *)sqlite3_value_text(argv[2]) : NULL;
    if (!a || !sep) {
        sqlite3_result_null(ctx);
        return;
    }
    struct pl_buf out = {0};
    bool first = true;
    for (long long i = 1;; i++) {
        struct pl_buf b = {0};
        bool is_null = false;
        bool have = pg_array_elem(a, i, &b, &is_null);
        if (have && (!is_null || null_as)) {
            if (!first)
                pl_buf_puts(&out, sep);
            first = false;
            if (is_null)
                pl_buf_puts(&out, null_as);
            else
                pl_buf_put(&out, b.data, b.len);
        }
        pl_buf_free(&b);
        if (!have)
            break;
    }
    sqlite3_result_text(ctx, out.data ? out.data : "", (int)out.len, SQLITE_TRANSIENT);
    pl_buf_free(&out);
}

/* array_upper(array, 1): the number of elements (arrays here are 1-based,
 * one-dimensional). */
static void fn_array_upper(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *a = (const char *)sqlite3_value_text(argv[0]);
    long long n = 0;
    struct pl_buf b = {0};
    bool is_null;
    while (a && pg_array_elem(a, n + 1, &b, &is_null))
        n++, b.len = 0;
    pl_buf_free(&b);
    if (!a || n == 0 || sqlite3_value_int64(argv[1]) != 1)
        sqlite3_result_null(ctx);
    else
        sqlite3_result_int64(ctx, n);
}

int pgarray_register(sqlite3 *db)
{
    static const struct {
        const char *name;
        int nargs;
        void (*fn)(sqlite3_context *, int, sqlite3_value **);
    } fns[] = {
        {"pg_array_get", 2, fn_array_get},        {"pg_array", -1, fn_array},
        {"pg_any_eq", 2, fn_any_eq},              {"array_to_string", 2, fn_array_to_string},
        {"array_to_string", 3, fn_array_to_string}, {"array_upper", 2, fn_array_upper},
    };
    for (size_t i = 0; i < sizeof fns / sizeof *fns; i++)
        if (sqlite3_create_function_v2(db, fns[i].name, fns[i].nargs, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                       fns[i].fn, NULL, NULL, NULL) != SQLITE_OK)
            return -1;
    return 0;
}
