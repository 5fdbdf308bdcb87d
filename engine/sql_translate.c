/* PostgreSQL -> SQLite translation. The complete list of rewrites:
 *
 *  1. Expression-level rewrites ($n parameters, dollar quoting, casts,
 *     regular-expression operators, catalog names, arrays) in the text of
 *     every statement: see sql_rewrite.c.
 *  2. BEGIN/START TRANSACTION [modes], BEGIN WORK
 *                              -> BEGIN (isolation options are moot: SQLite
 *                                 transactions are serializable).
 *     COMMIT/END [WORK|TRANSACTION] -> COMMIT; ROLLBACK/ABORT -> ROLLBACK.
 *  3. CREATE [UNLOGGED] TABLE ... WITH (storage_param=v, ...)
 *                              -> CREATE TABLE ... (UNLOGGED and the storage
 *                                 parameters dropped; pgbench -i sends them).
 *  4. DROP TABLE [IF EXISTS] a, b [CASCADE|RESTRICT]
 *                              -> one DROP TABLE per name.
 *  5. TRUNCATE [TABLE] [ONLY] a, b [RESTART|CONTINUE IDENTITY] [CASCADE]
 *                              -> DELETE FROM a; DELETE FROM b (tag TRUNCATE TABLE).
 *  6. ALTER TABLE t ADD [CONSTRAINT c] PRIMARY KEY (cols)
 *                              -> CREATE UNIQUE INDEX c (default t_pkey) ON t (cols):
 *                                 SQLite cannot add a primary key; a unique
 *                                 index gives the same uniqueness and access path.
 *  7. VACUUM ...               -> no-op, tag VACUUM (also blocks VACUUM INTO,
 *                                 which would write outside the data directory).
 *  8. COPY t [(cols)] FROM STDIN [[WITH] (FORMAT text, FREEZE, DELIMITER, NULL)]
 *                              -> CopyIn handled by the session (text format).
 *  9. SET/RESET name ...       -> session parameter (no SQLite statement).
 *     SHOW name                -> one-row result from the session parameters.
 * 10. DISCARD ALL              -> no-op.
 * Everything else goes to SQLite unchanged except for rule 1. */
#include "sql_translate.h"

#include <ctype.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "sql_lex.h"
#include "sql_rewrite.h"

#define MAX_TOKS 64 /* leading tokens examined for classification */

bool tr_next_stmt(const char *text, size_t len, size_t *pos, size_t *start, size_t *slen)
{
    size_t p = skip_space(text, len, *pos);
    /* Stray semicolons are empty statements; skip them. */
    while (p < len && text[p] == ';')
        p = skip_space(text, len, p + 1);
    if (p >= len) {
        *pos = len;
        return false;
    }
    size_t s = p, q = p;
    struct tok first[4];
    int nfirst = 0;
    for (;;) {
        struct tok t = next_tok(text, len, &q);
        if (t.t == T_END) {
            *start = s;
            *slen = len - s;
            *pos = len;
            return true;
        }
        if (nfirst < 4)
            first[nfirst++] = t;
        if (tok_punct(text, t, ';')) {
            /* A trigger body holds semicolons; SQLite's own completeness
             * check knows where CREATE TRIGGER ... END finishes. */
            bool trigger = nfirst >= 2 && tok_is(text, first[0], "create") &&
                           (tok_is(text, first[1], "trigger") ||
                            (nfirst >= 3 && tok_is(text, first[2], "trigger")));
            if (trigger) {
                char *copy = strndup(text + s, t.e - s);
                bool done = copy && sqlite3_complete(copy);
                free(copy);
                if (!done)
                    continue;
            }
            *start = s;
            *slen = t.s - s;
            *pos = t.e;
            return true;
        }
    }
}

static uint64_t fingerprint(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    size_t p = 0;
    for (;;) {
        struct tok t = next_tok(s, len, &p);
        if (t.t == T_END)
            break;
        if (t.t == T_STRING || t.t == T_NUM || t.t == T_PARAM) {
            h = (h ^ '?') * 1099511628211ull;
        } else {
            for (size_t i = t.s; i < t.e; i++)
                h = (h ^ (unsigned char)tolower((unsigned char)s[i])) * 1099511628211ull;
        }
        h = (h ^ ' ') * 1099511628211ull;
    }
    return h;
}

/* Copies s[a,b) to out with the expression-level rewrites (rule 1). */
static void put_rewritten(struct tr_result *r, struct pl_buf *out, const char *s, size_t a, size_t b)
{
    unsigned flags = 0;
    sql_rewrite(out, s, a, b, &flags);
    r->catalog |= (flags & SQLRW_CATALOG) != 0;
}

static char *buf_take(struct pl_buf *b)
{
    pl_buf_putc(b, 0);
    if (b->oom) {
        pl_buf_free(b);
        return NULL;
    }
    return b->data;
}

static char *dup_range(const char *s, size_t a, size_t b) { return strndup(s + a, b - a); }

static int fail(struct tr_result *r, const char *state, const char *fmt, const char *arg)
{
    snprintf(r->sqlstate, sizeof r->sqlstate, "%s", state);
    snprintf(r->errmsg, sizeof r->errmsg, fmt, arg);
    return -1;
}

/* Reads "name[.name]" (words or quoted identifiers) at *p. */
static bool read_name(const char *s, size_t len, size_t *p, size_t *a, size_t *b)
{
    size_t q = *p;
    struct tok t = next_tok(s, len, &q);
    if (t.t != T_WORD && t.t != T_QIDENT)
        return false;
    *a = t.s;
    *b = t.e;
    size_t q2 = q;
    struct tok dot = next_tok(s, len, &q2);
    if (tok_punct(s, dot, '.') && q2 == dot.e) {
        struct tok t2 = next_tok(s, len, &q2);
        if (t2.t == T_WORD || t2.t == T_QIDENT) {
            *b = t2.e;
            q = q2;
        }
    }
    *p = q;
    return true;
}

static void set_tag(struct tr_result *r, const char *a, const char *b)
{
    snprintf(r->tag, sizeof r->tag, "%s%s%s", a, b ? " " : "", b ? b : "");
    for (char *c = r->tag; *c; c++)
        *c = (char)toupper((unsigned char)*c);
}

/* Rule 3: CREATE [UNLOGGED] TABLE ... WITH (params). */
static int tr_create_table(const char *s, size_t len, struct tr_result *r, struct tok *tk, int ntk)
{
    struct pl_buf out = {0};
    size_t last = 0;
    for (int i = 0; i < ntk; i++)
        if (tok_is(s, tk[i], "unlogged")) {
            put_rewritten(r, &out, s, 0, tk[i].s);
            last = tk[i].e;
            break;
        }
    /* Find WITH ( ... ) right after the top-level closing parenthesis. */
    size_t p = last, prev_close = 0, with_s = 0, with_e = 0;
    int depth = 0;
    bool prev_was_close = false;
    for (;;) {
        struct tok t = next_tok(s, len, &p);
        if (t.t == T_END)
            break;
        if (tok_punct(s, t, '(')) {
            depth++;
        } else if (tok_punct(s, t, ')')) {
            depth--;
            if (depth == 0) {
                prev_was_close = true;
                prev_close = t.e;
                continue;
            }
        } else if (depth == 0 && prev_was_close && tok_is(s, t, "with")) {
            size_t q = p;
            struct tok open = next_tok(s, len, &q);
            if (tok_punct(s, open, '(')) {
                int d = 1;
                while (d) {
                    struct tok u = next_tok(s, len, &q);
                    if (u.t == T_END)
                        break;
                    d += tok_punct(s, u, '(') - tok_punct(s, u, ')');
                }
                with_s = t.s;
                with_e = q;
                break;
            }
        }
        prev_was_close = false;
    }
    (void)prev_close;
    if (with_e) {
        put_rewritten(r, &out, s, last, with_s);
        put_rewritten(r, &out, s, with_e, len);
    } else {
        put_rewritten(r, &out, s, last, len);
    }
    r->sql = buf_take(&out);
    return r->sql ? 0 : fail(r, "53200", "%s", "out of memory");
}

/* Rules 4 and 5: a list of table names into one statement each. */
static int tr_table_list(const char *s, size_t len, size_t p, struct tr_result *r, bool drop, bool if_exists)
{
    struct pl_buf out = {0};
    int n = 0;
    for (;;) {
        struct tok t;
        size_t q = p;
        t = next_tok(s, len, &q);
        if (tok_is(s, t, "only"))
            p = q;
        size_t a, b;
        if (!read_name(s, len, &p, &a, &b)) {
            pl_buf_free(&out);
            return fail(r, "42601", "syntax error in %s: expected a table name", drop ? "DROP TABLE" : "TRUNCATE");
        }
        if (drop)
            pl_buf_printf(&out, "DROP TABLE %s%.*s;", if_exists ? "IF EXISTS " : "", (int)(b - a), s + a);
        else
            pl_buf_printf(&out, "DELETE FROM %.*s;", (int)(b - a), s + a);
        n++;
        q = p;
        t = next_tok(s, len, &q);
        if (tok_punct(s, t, '*')) { /* "a *": include descendants, moot here */
            p = q;
            t = next_tok(s, len, &q);
        }
        if (tok_punct(s, t, ',')) {
            p = q;
            continue;
        }
        /* Trailing options that only matter to PostgreSQL. */
        while (t.t == T_WORD && (tok_is(s, t, "cascade") || tok_is(s, t, "restrict") || tok_is(s, t, "restart") ||
                                 tok_is(s, t, "continue") || tok_is(s, t, "identity")))
            t = next_tok(s, len, &q);
        if (t.t != T_END) {
            pl_buf_free(&out);
            return fail(r, "42601", "syntax error in %s near the end of the table list",
                        drop ? "DROP TABLE" : "TRUNCATE");
        }
        break;
    }
    (void)n;
    r->sql = buf_take(&out);
    return r->sql ? 0 : fail(r, "53200", "%s", "out of memory");
}

/* Rule 6: ALTER TABLE t ADD [CONSTRAINT c] PRIMARY KEY (cols). Returns 1
 * when the statement is not of this form. */
static int tr_add_pkey(const char *s, size_t len, struct tr_result *r)
{
    size_t p = 0, ta, tb, ca = 0, cb = 0;
    next_tok(s, len, &p); /* alter */
    next_tok(s, len, &p); /* table */
    size_t q = p;
    struct tok t = next_tok(s, len, &q);
    if (tok_is(s, t, "only"))
        p = q;
    if (!read_name(s, len, &p, &ta, &tb))
        return 1;
    t = next_tok(s, len, &p);
    if (!tok_is(s, t, "add"))
        return 1;
    t = next_tok(s, len, &p);
    if (tok_is(s, t, "constraint")) {
        if (!read_name(s, len, &p, &ca, &cb))
            return 1;
        t = next_tok(s, len, &p);
    }
    if (tok_is(s, t, "foreign"))
        return fail(r, "0A000", "%s", "ALTER TABLE ... ADD FOREIGN KEY is not supported (SQLite cannot add "
                                      "constraints to an existing table); declare it in CREATE TABLE");
    if (!tok_is(s, t, "primary"))
        return 1;
    t = next_tok(s, len, &p);
    if (!tok_is(s, t, "key"))
        return 1;
    size_t cols = skip_space(s, len, p);
    struct pl_buf out = {0};
    /* Index names are per schema in SQLite as in PostgreSQL: "t_pkey". */
    if (cb)
        pl_buf_printf(&out, "CREATE UNIQUE INDEX %.*s ON %.*s ", (int)(cb - ca), s + ca, (int)(tb - ta), s + ta);
    else if (s[ta] == '"')
        pl_buf_printf(&out, "CREATE UNIQUE INDEX \"%.*s_pkey\" ON %.*s ", (int)(tb - ta - 2), s + ta + 1,
                      (int)(tb - ta), s + ta);
    else
        pl_buf_printf(&out, "CREATE UNIQUE INDEX \"%.*s_pkey\" ON %.*s ", (int)(tb - ta), s + ta, (int)(tb - ta),
                      s + ta);
    put_rewritten(r, &out, s, cols, len);
    r->sql = buf_take(&out);
    return r->sql ? 0 : fail(r, "53200", "%s", "out of memory");
}

static char *unquote_string(const char *s, struct tok t)
{
    if (t.t != T_STRING || s[t.s] != '\'')
        return NULL;
    struct pl_buf b = {0};
    for (size_t i = t.s + 1; i + 1 < t.e; i++) {
        if (s[i] == '\'' && s[i + 1] == '\'')
            i++;
        pl_buf_putc(&b, s[i]);
    }
    return buf_take(&b);
}

/* Rule 8: COPY table [(cols)] FROM STDIN [options]. */
static int tr_copy(const char *s, size_t len, struct tr_result *r)
{
    size_t p = 0, a, b;
    next_tok(s, len, &p); /* copy */
    if (!read_name(s, len, &p, &a, &b))
        return fail(r, "0A000", "%s", "COPY (query) is not supported; name a table");
    r->copy_table = dup_range(s, a, b);
    size_t q = p;
    struct tok t = next_tok(s, len, &q);
    if (tok_punct(s, t, '(')) {
        int d = 1;
        while (d) {
            struct tok u = next_tok(s, len, &q);
            if (u.t == T_END)
                return fail(r, "42601", "%s", "syntax error in COPY column list");
            d += tok_punct(s, u, '(') - tok_punct(s, u, ')');
        }
        r->copy_cols = dup_range(s, t.s, q);
        p = q;
    }
    t = next_tok(s, len, &p);
    if (tok_is(s, t, "to"))
        return fail(r, "0A000", "%s", "COPY TO is not supported; use SELECT");
    if (!tok_is(s, t, "from"))
        return fail(r, "42601", "%s", "syntax error in COPY: expected FROM STDIN");
    t = next_tok(s, len, &p);
    if (!tok_is(s, t, "stdin"))
        return fail(r, "0A000", "%s",
                    "COPY FROM a server file or program is not supported (it would reach outside the "
                    "tenant's database); use COPY ... FROM STDIN");
    r->copy_delim = '\t';
    r->copy_null = strdup("\\N");
    t = next_tok(s, len, &p);
    if (tok_is(s, t, "with"))
        t = next_tok(s, len, &p);
    bool paren = tok_punct(s, t, '(');
    if (paren)
        t = next_tok(s, len, &p);
    while (t.t != T_END && !tok_punct(s, t, ')')) {
        if (tok_is(s, t, "format")) {
            t = next_tok(s, len, &p);
            if (!tok_is(s, t, "text"))
                return fail(r, "0A000", "%s", "COPY supports only FORMAT text");
        } else if (tok_is(s, t, "freeze")) {
            size_t q2 = p;
            struct tok v = next_tok(s, len, &q2);
            if (v.t == T_WORD && !tok_is(s, v, "delimiter") && !tok_is(s, v, "null") && !tok_is(s, v, "format"))
                p = q2; /* FREEZE true/on: nothing to freeze in SQLite */
        } else if (tok_is(s, t, "delimiter")) {
            char *d = unquote_string(s, next_tok(s, len, &p));
            if (!d || strlen(d) != 1) {
                free(d);
                return fail(r, "22023", "%s", "COPY delimiter must be a single one-byte character");
            }
            r->copy_delim = d[0];
            free(d);
        } else if (tok_is(s, t, "null")) {
            char *n = unquote_string(s, next_tok(s, len, &p));
            if (!n)
                return fail(r, "42601", "%s", "COPY NULL needs a quoted string");
            free(r->copy_null);
            r->copy_null = n;
        } else if (tok_is(s, t, "csv") || tok_is(s, t, "binary")) {
            return fail(r, "0A000", "%s", "COPY supports only FORMAT text");
        } else if (!tok_punct(s, t, ',')) {
            return fail(r, "0A000", "COPY option \"%.40s\" is not supported", s + t.s);
        }
        t = next_tok(s, len, &p);
    }
    r->kind = TR_COPY_IN;
    set_tag(r, "COPY", NULL);
    return 0;
}

/* Rule 9: SET [SESSION|LOCAL] name {=|TO} value | SET TIME ZONE v | RESET name. */
static int tr_set(const char *s, size_t len, struct tr_result *r, bool reset)
{
    size_t p = 0;
    next_tok(s, len, &p);
    struct tok t = next_tok(s, len, &p);
    if (tok_is(s, t, "session") || tok_is(s, t, "local")) {
        size_t q = p;
        struct tok u = next_tok(s, len, &q);
        if (u.t == T_WORD && !tok_is(s, u, "to") && !tok_punct(s, u, '=')) {
            if (tok_is(s, t, "session") && tok_is(s, u, "characteristics"))
                goto noop; /* SET SESSION CHARACTERISTICS AS TRANSACTION ... */
            t = u;
            p = q;
        }
    }
    if (t.t != T_WORD && t.t != T_QIDENT)
        return fail(r, "42601", "%s", reset ? "syntax error in RESET" : "syntax error in SET");
    if (tok_is(s, t, "transaction"))
        goto noop; /* SET TRANSACTION ISOLATION ...: SQLite is serializable */
    if (tok_is(s, t, "time")) {
        struct tok z = next_tok(s, len, &p);
        if (!tok_is(s, z, "zone"))
            return fail(r, "42601", "%s", "syntax error in SET TIME ZONE");
        r->param_name = strdup("TimeZone");
    } else {
        r->param_name = s[t.s] == '"' ? dup_range(s, t.s + 1, t.e - 1) : dup_range(s, t.s, t.e);
        /* Dotted custom names (myapp.x) are allowed as in PostgreSQL. */
        size_t q = p;
        struct tok d = next_tok(s, len, &q);
        while (tok_punct(s, d, '.')) {
            struct tok n2 = next_tok(s, len, &q);
            char *joined = malloc(strlen(r->param_name) + (n2.e - n2.s) + 2);
            if (!joined)
                return fail(r, "53200", "%s", "out of memory");
            sprintf(joined, "%s.%.*s", r->param_name, (int)(n2.e - n2.s), s + n2.s);
            free(r->param_name);
            r->param_name = joined;
            p = q;
            d = next_tok(s, len, &q);
        }
        if (!reset) {
            struct tok eq = next_tok(s, len, &p);
            if (!tok_is(s, eq, "to") && !tok_punct(s, eq, '='))
                return fail(r, "42601", "%s", "syntax error in SET: expected = or TO");
        }
    }
    if (!reset) {
        size_t vs = skip_space(s, len, p);
        size_t ve = len;
        while (ve > vs && isspace((unsigned char)s[ve - 1]))
            ve--;
        if (vs >= ve)
            return fail(r, "42601", "%s", "syntax error in SET: missing value");
        size_t q = vs;
        struct tok v = next_tok(s, len, &q);
        if (v.t == T_STRING && q >= ve)
            r->param_value = unquote_string(s, v);
        else
            r->param_value = dup_range(s, vs, ve);
        if (!r->param_value)
            return fail(r, "53200", "%s", "out of memory");
    }
    r->kind = TR_SET;
    set_tag(r, reset ? "RESET" : "SET", NULL);
    return 0;
noop:
    r->kind = TR_NOOP;
    set_tag(r, "SET", NULL);
    return 0;
}

int tr_translate(const char *s, size_t len, struct tr_result *r)
{
    memset(r, 0, sizeof *r);
    r->fingerprint = fingerprint(s, len);
    struct tok tk[MAX_TOKS];
    int ntk = 0;
    size_t p = 0;
    while (ntk < MAX_TOKS) {
        tk[ntk] = next_tok(s, len, &p);
        if (tk[ntk].t == T_END)
            break;
        ntk++;
    }
    if (ntk == 0) {
        r->kind = TR_EMPTY;
        return 0;
    }
    struct tok w = tk[0];
    struct tok w1 = ntk > 1 ? tk[1] : (struct tok){T_END, len, len};
    if (w.t != T_WORD && !tok_punct(s, w, '('))
        goto passthrough;

    if (tok_is(s, w, "select") || tok_is(s, w, "values") || tok_is(s, w, "with") || tok_punct(s, w, '(') ||
        tok_is(s, w, "explain") || tok_is(s, w, "pragma")) {
        r->kind = TR_QUERY;
        r->readonly = true;
        set_tag(r, "SELECT", NULL);
        if (tok_is(s, w, "explain"))
            set_tag(r, "EXPLAIN", NULL);
        if (tok_is(s, w, "with")) {
            /* A data-modifying WITH takes the tag of its main statement. */
            for (int i = 1; i < ntk; i++) {
                if (tok_is(s, tk[i], "insert") || tok_is(s, tk[i], "replace"))
                    r->kind = TR_INSERT, r->readonly = false;
                else if (tok_is(s, tk[i], "update"))
                    r->kind = TR_UPDATE, r->readonly = false;
                else if (tok_is(s, tk[i], "delete"))
                    r->kind = TR_DELETE, r->readonly = false;
            }
        }
        goto passthrough;
    }
    if (tok_is(s, w, "insert") || tok_is(s, w, "replace")) {
        r->kind = TR_INSERT;
        goto passthrough;
    }
    if (tok_is(s, w, "update")) {
        r->kind = TR_UPDATE;
        goto passthrough;
    }
    if (tok_is(s, w, "delete")) {
        r->kind = TR_DELETE;
        goto passthrough;
    }
    if (tok_is(s, w, "begin") || tok_is(s, w, "start")) {
        r->kind = TR_BEGIN;
        set_tag(r, "BEGIN", NULL);
        /* BEGIN IMMEDIATE/EXCLUSIVE keep their SQLite meaning. */
        if (tok_is(s, w1, "immediate") || tok_is(s, w1, "exclusive"))
            goto passthrough;
        r->sql = strdup("BEGIN");
        return r->sql ? 0 : fail(r, "53200", "%s", "out of memory");
    }
    if (tok_is(s, w, "commit") || tok_is(s, w, "end")) {
        r->kind = TR_COMMIT;
        set_tag(r, "COMMIT", NULL);
        r->sql = strdup("COMMIT");
        return r->sql ? 0 : fail(r, "53200", "%s", "out of memory");
    }
    if (tok_is(s, w, "rollback") || tok_is(s, w, "abort")) {
        for (int i = 1; i < ntk; i++)
            if (tok_is(s, tk[i], "to")) {
                r->kind = TR_ROLLBACK_TO;
                set_tag(r, "ROLLBACK", NULL);
                goto passthrough;
            }
        r->kind = TR_ROLLBACK;
        set_tag(r, "ROLLBACK", NULL);
        r->sql = strdup("ROLLBACK");
        return r->sql ? 0 : fail(r, "53200", "%s", "out of memory");
    }
    if (tok_is(s, w, "savepoint")) {
        r->kind = TR_SAVEPOINT;
        set_tag(r, "SAVEPOINT", NULL);
        goto passthrough;
    }
    if (tok_is(s, w, "release")) {
        r->kind = TR_RELEASE;
        set_tag(r, "RELEASE", NULL);
        goto passthrough;
    }
    if (tok_is(s, w, "vacuum")) {
        r->kind = TR_NOOP;
        set_tag(r, "VACUUM", NULL);
        return 0;
    }
    if (tok_is(s, w, "discard")) {
        r->kind = TR_NOOP;
        set_tag(r, "DISCARD", ntk > 1 ? "ALL" : NULL);
        return 0;
    }
    if (tok_is(s, w, "set"))
        return tr_set(s, len, r, false);
    if (tok_is(s, w, "reset"))
        return tr_set(s, len, r, true);
    if (tok_is(s, w, "show")) {
        if (w1.t != T_WORD && w1.t != T_QIDENT)
            return fail(r, "42601", "%s", "syntax error in SHOW");
        r->kind = TR_SHOW;
        if (tok_is(s, w1, "transaction") && ntk > 3)
            r->param_name = strdup("transaction_isolation");
        else if (tok_is(s, w1, "time") && ntk > 2)
            r->param_name = strdup("TimeZone");
        else
            r->param_name = s[w1.s] == '"' ? dup_range(s, w1.s + 1, w1.e - 1) : dup_range(s, w1.s, w1.e);
        set_tag(r, "SHOW", NULL);
        return 0;
    }
    if (tok_is(s, w, "copy"))
        return tr_copy(s, len, r);
    if (tok_is(s, w, "truncate")) {
        r->kind = TR_UTILITY;
        set_tag(r, "TRUNCATE TABLE", NULL);
        size_t q = w.e;
        size_t q2 = q;
        if (tok_is(s, next_tok(s, len, &q2), "table"))
            q = q2;
        return tr_table_list(s, len, q, r, false, false);
    }
    if (tok_is(s, w, "create") || tok_is(s, w, "drop") || tok_is(s, w, "alter")) {
        r->kind = TR_UTILITY;
        int i = 1;
        while (i < ntk && (tok_is(s, tk[i], "or") || tok_is(s, tk[i], "replace") || tok_is(s, tk[i], "temp") ||
                           tok_is(s, tk[i], "temporary") || tok_is(s, tk[i], "unique") ||
                           tok_is(s, tk[i], "unlogged") || tok_is(s, tk[i], "virtual")))
            i++;
        char obj[32] = "";
        if (i < ntk && tk[i].t == T_WORD && tk[i].e - tk[i].s < sizeof obj)
            snprintf(obj, sizeof obj, "%.*s", (int)(tk[i].e - tk[i].s), s + tk[i].s);
        char verb[8];
        snprintf(verb, sizeof verb, "%.*s", (int)(w.e - w.s), s + w.s);
        set_tag(r, verb, obj[0] ? obj : NULL);
        bool table = i < ntk && tok_is(s, tk[i], "table");
        if (tok_is(s, w, "create") && table && !tok_is(s, tk[1], "virtual"))
            return tr_create_table(s, len, r, tk, ntk);
        if (tok_is(s, w, "drop") && table) {
            size_t q = tk[i].e;
            bool if_exists = false;
            size_t q2 = q;
            if (tok_is(s, next_tok(s, len, &q2), "if") && tok_is(s, next_tok(s, len, &q2), "exists")) {
                if_exists = true;
                q = q2;
            }
            return tr_table_list(s, len, q, r, true, if_exists);
        }
        if (tok_is(s, w, "alter") && table) {
            int rc = tr_add_pkey(s, len, r);
            if (rc <= 0)
                return rc;
        }
        goto passthrough;
    }
    if (tok_is(s, w, "analyze") || tok_is(s, w, "reindex")) {
        r->kind = TR_UTILITY;
        char verb[16];
        snprintf(verb, sizeof verb, "%.*s", (int)(w.e - w.s), s + w.s);
        set_tag(r, verb, NULL);
        goto passthrough;
    }

passthrough:
    if (!r->tag[0]) {
        r->kind = r->kind ? r->kind : TR_UTILITY;
        char verb[24] = "";
        if (w.t == T_WORD && w.e - w.s < sizeof verb)
            snprintf(verb, sizeof verb, "%.*s", (int)(w.e - w.s), s + w.s);
        set_tag(r, verb, NULL);
    }
    {
        struct pl_buf out = {0};
        put_rewritten(r, &out, s, 0, len);
        r->sql = buf_take(&out);
    }
    return r->sql ? 0 : fail(r, "53200", "%s", "out of memory");
}

void tr_result_free(struct tr_result *r)
{
    free(r->sql);
    free(r->copy_table);
    free(r->copy_cols);
    free(r->copy_null);
    free(r->param_name);
    free(r->param_value);
    memset(r, 0, sizeof *r);
}
