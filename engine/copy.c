#include "copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

struct eng_copy {
    sqlite3 *db;
    sqlite3_stmt *ins;
    int ncols;
    char delim;
    char *null_marker;
    size_t null_len;
    uint64_t rows;
    uint64_t line;
    char *table;
    struct pl_buf field; /* decoded field scratch */
};

int eng_copy_open(sqlite3 *db, const char *table, const char *cols, char delim, const char *null_marker,
                  struct eng_copy **out, struct eng_err *e)
{
    struct eng_copy *c = calloc(1, sizeof *c);
    if (!c) {
        eng_err_set(e, "53200", "out of memory");
        return -1;
    }
    c->db = db;
    c->delim = delim;
    c->null_marker = strdup(null_marker);
    c->null_len = strlen(null_marker);
    c->table = strdup(table);
    /* The column count comes from SQLite itself: a probe of the table (or
     * of the listed columns) gives exactly what the INSERT will take. */
    char *probe = sqlite3_mprintf("SELECT %s FROM %s LIMIT 0", cols ? cols : "*", table);
    if (cols && probe) { /* "(a, b)" -> "a, b" */
        char *open = strchr(probe + 6, '(');
        char *close = strrchr(probe, ')');
        if (open && close) {
            *open = ' ';
            *close = ' ';
        }
    }
    sqlite3_stmt *st = NULL;
    int rc = probe && c->null_marker && c->table ? sqlite3_prepare_v2(db, probe, -1, &st, NULL) : SQLITE_NOMEM;
    sqlite3_free(probe);
    if (rc != SQLITE_OK) {
        eng_err_from_db(e, db, rc);
        eng_copy_close(c);
        return -1;
    }
    c->ncols = sqlite3_column_count(st);
    sqlite3_finalize(st);
    struct pl_buf sql = {0};
    pl_buf_printf(&sql, "INSERT INTO %s %s VALUES (", table, cols ? cols : "");
    for (int i = 0; i < c->ncols; i++)
        pl_buf_puts(&sql, i ? ",?" : "?");
    pl_buf_puts(&sql, ")");
    pl_buf_putc(&sql, 0);
    rc = sql.oom ? SQLITE_NOMEM : sqlite3_prepare_v2(db, sql.data, -1, &c->ins, NULL);
    pl_buf_free(&sql);
    if (rc != SQLITE_OK) {
        eng_err_from_db(e, db, rc);
        eng_copy_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes PostgreSQL's text COPY escapes into c->field. */
static void decode_field(struct eng_copy *c, const char *p, size_t n)
{
    c->field.len = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch != '\\' || i + 1 >= n) {
            pl_buf_putc(&c->field, ch);
            continue;
        }
        ch = p[++i];
        switch (ch) {
        case 'b': pl_buf_putc(&c->field, '\b'); break;
        case 'f': pl_buf_putc(&c->field, '\f'); break;
        case 'n': pl_buf_putc(&c->field, '\n'); break;
        case 'r': pl_buf_putc(&c->field, '\r'); break;
        case 't': pl_buf_putc(&c->field, '\t'); break;
        case 'v': pl_buf_putc(&c->field, '\v'); break;
        case 'x': {
            int v = 0, k = 0;
            while (k < 2 && i + 1 < n && hexval(p[i + 1]) >= 0)
                v = v * 16 + hexval(p[++i]), k++;
            if (k)
                pl_buf_putc(&c->field, (char)v);
            else
                pl_buf_putc(&c->field, 'x');
            break;
        }
        default:
            if (ch >= '0' && ch <= '7') {
                int v = ch - '0', k = 1;
                while (k < 3 && i + 1 < n && p[i + 1] >= '0' && p[i + 1] <= '7')
                    v = v * 8 + (p[++i] - '0'), k++;
                pl_buf_putc(&c->field, (char)v);
            } else {
                pl_buf_putc(&c->field, ch);
            }
        }
    }
}

static int insert_line(struct eng_copy *c, const char *p, size_t n, struct eng_err *e)
{
    if (n && p[n - 1] == '\r')
        n--;
    int col = 0;
    size_t fs = 0;
    sqlite3_reset(c->ins);
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != c->delim) {
            if (p[i] == '\\' && i + 1 < n)
                i++; /* an escaped delimiter is data */
            continue;
        }
        if (col >= c->ncols) {
            eng_err_set(e, "22P04", "extra data after last expected column (COPY %s, line %llu)", c->table,
                        (unsigned long long)c->line);
            return -1;
        }
        size_t flen = i - fs;
        int rc;
        if (flen == c->null_len && memcmp(p + fs, c->null_marker, flen) == 0) {
            rc = sqlite3_bind_null(c->ins, col + 1);
        } else {
            decode_field(c, p + fs, flen);
            if (c->field.oom) {
                eng_err_set(e, "53200", "out of memory");
                return -1;
            }
            rc = sqlite3_bind_text(c->ins, col + 1, c->field.len ? c->field.data : "", (int)c->field.len,
                                   SQLITE_TRANSIENT);
        }
        if (rc != SQLITE_OK) {
            eng_err_from_db(e, c->db, rc);
            return -1;
        }
        col++;
        fs = i + 1;
    }
    if (col < c->ncols) {
        eng_err_set(e, "22P04", "missing data for column %d (COPY %s, line %llu)", col + 1, c->table,
                    (unsigned long long)c->line);
        return -1;
    }
    int rc = sqlite3_step(c->ins);
    if (rc != SQLITE_DONE) {
        eng_err_from_db(e, c->db, rc);
        size_t l = strlen(e->msg);
        snprintf(e->msg + l, sizeof e->msg - l, " (COPY %s, line %llu)", c->table, (unsigned long long)c->line);
        sqlite3_reset(c->ins);
        return -1;
    }
    c->rows++;
    return 0;
}

int eng_copy_lines(struct eng_copy *c, const char *data, size_t len, bool final, size_t *consumed,
                   bool *end_marker, struct eng_err *e)
{
    size_t p = 0;
    *end_marker = false;
    while (p < len) {
        const char *nl = memchr(data + p, '\n', len - p);
        if (!nl && !final)
            break;
        size_t n = nl ? (size_t)(nl - (data + p)) : len - p;
        c->line++;
        if ((n == 2 && memcmp(data + p, "\\.", 2) == 0) || (n == 3 && memcmp(data + p, "\\.\r", 3) == 0)) {
            *end_marker = true;
            *consumed = len;
            return 0;
        }
        if (insert_line(c, data + p, n, e) != 0) {
            *consumed = p;
            return -1;
        }
        p += n + (nl ? 1 : 0);
    }
    *consumed = p;
    return 0;
}

uint64_t eng_copy_rows(const struct eng_copy *c) { return c->rows; }
int eng_copy_ncols(const struct eng_copy *c) { return c->ncols; }

void eng_copy_close(struct eng_copy *c)
{
    if (!c)
        return;
    sqlite3_finalize(c->ins);
    free(c->null_marker);
    free(c->table);
    pl_buf_free(&c->field);
    free(c);
}
