/* Expression-level rewrites, applied to every statement (sql_rewrite.h).
 * The complete list:
 *
 *  1. $n                        -> ?n (SQLite numbered parameters).
 *  2. $tag$text$tag$            -> 'text'; E'a\nb' -> 'a<newline>b' (escapes
 *                                  resolved; SQLite has neither syntax).
 *  3. expr::type                -> CAST(expr AS <affinity>) for numeric and
 *                                  text types; pg_to_bool(expr) for boolean,
 *                                  pg_regclass/pg_regtype(expr) for the
 *                                  catalog's OID aliases; array and unknown
 *                                  types drop the cast. expr is the primary
 *                                  before '::' (name, literal, parameter,
 *                                  call, parenthesis, CASE ... END, an
 *                                  earlier cast or subscript), as in
 *                                  PostgreSQL where '::' binds tightest.
 *  4. a ~ b, a !~ b             -> a REGEXP b, a NOT REGEXP b (POSIX
 *     a ~* b, a !~* b              extended syntax; case-insensitive forms
 *                                  mark the pattern with pg_icase()).
 *     OPERATOR(schema.op)       -> op, with ~ and !~ as above.
 *     ILIKE                     -> LIKE (already case-insensitive for ASCII).
 *  5. COLLATE pg_catalog.default -> nothing; COLLATE "C"/"POSIX" -> BINARY.
 *  6. pg_catalog.name           -> name (the catalog lives in the temp
 *                                  schema, see pg_catalog.c);
 *     information_schema.name   -> information_schema_name.
 *  7. a[i]                      -> pg_array_get(a, i) (arrays are text in
 *                                  PostgreSQL's '{...}' form);
 *     ARRAY[x, y]               -> pg_array(x, y);
 *     ARRAY(SELECT e FROM ...)  -> (SELECT '{' || group_concat(e) || '}' FROM ...);
 *     x = ANY(SELECT ...)       -> x IN (SELECT ...);
 *     x = ANY(array)            -> pg_any_eq(x, array).
 *  8. f(a) [WITH ORDINALITY] [AS] x[(v[, n])] for the set-returning
 *     functions unnest, generate_series, pg_partition_ancestors
 *                              -> (SELECT value AS v [, rowid AS n] FROM f(a)) x:
 *                                 in PostgreSQL the alias (or the column
 *                                 list) names the value.
 *  9. trim(leading|trailing|both [chars] FROM s)
 *                              -> ltrim/rtrim/trim(s[, chars]).
 * Any word starting "pg_" and rule 6 set SQLRW_CATALOG. */
#include "sql_rewrite.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sql_lex.h"

/* One change to the source text: replace [at, end) by text (an insertion
 * when end == at). */
struct edit {
    size_t at, end;
    char *text;
    unsigned seq;
};

struct rw {
    const char *s;
    struct tok *tk;
    int ntk;
    int *cast_owner; /* per token: primary start of the cast/subscript it closes, or -1 */
    struct edit *ed;
    size_t ned, caped;
    bool oom;
};

static void add_edit(struct rw *w, size_t at, size_t end, const char *text)
{
    if (w->ned == w->caped) {
        size_t cap = w->caped ? w->caped * 2 : 16;
        struct edit *n = realloc(w->ed, cap * sizeof *n);
        if (!n) {
            w->oom = true;
            return;
        }
        w->ed = n, w->caped = cap;
    }
    char *t = strdup(text);
    if (!t) {
        w->oom = true;
        return;
    }
    w->ed[w->ned] = (struct edit){at, end, t, (unsigned)w->ned};
    w->ned++;
}

static void replace_tok(struct rw *w, int i, const char *text) { add_edit(w, w->tk[i].s, w->tk[i].e, text); }
static void insert_before(struct rw *w, int i, const char *text) { add_edit(w, w->tk[i].s, w->tk[i].s, text); }

/* Insertions before replacements at the same place; of two insertions
 * there, the later one wraps the earlier (its text goes first). */
static int edit_cmp(const void *pa, const void *pb)
{
    const struct edit *a = pa, *b = pb;
    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    bool ia = a->end == a->at, ib = b->end == b->at;
    if (ia != ib)
        return ia ? -1 : 1;
    if (ia)
        return a->seq > b->seq ? -1 : 1;
    return a->seq < b->seq ? -1 : 1;
}

static bool is_punct(const struct rw *w, int i, char c) { return i >= 0 && i < w->ntk && tok_punct(w->s, w->tk[i], c); }
static bool is_word(const struct rw *w, int i, const char *word) { return i >= 0 && i < w->ntk && tok_is(w->s, w->tk[i], word); }
static bool adjacent(const struct rw *w, int i) { return w->tk[i].e == w->tk[i + 1].s; }

/* Words after which a value cannot end: a '(' or '[' after them does not
 * call or subscript them, and '~' after them is unary. */
static bool is_keyword(const struct rw *w, int i)
{
    static const char *const kw[] = {
        "select", "where",  "and",       "or",    "not",    "on",    "when",  "then",   "else",     "case",
        "in",     "is",     "by",        "as",    "from",   "join",  "like",  "ilike",  "between",  "returning",
        "values", "set",    "having",    "limit", "offset", "distinct", "all", "any",   "some",     "exists",
        "array",  "with",   "union",     "except", "intersect", "using", "into", "return", "collate", NULL};
    for (int k = 0; kw[k]; k++)
        if (tok_is(w->s, w->tk[i], kw[k]))
            return true;
    return false;
}

/* Can token i end an operand? */
static bool ends_operand(const struct rw *w, int i)
{
    if (i < 0)
        return false;
    switch (w->tk[i].t) {
    case T_WORD:
        return !is_keyword(w, i) || is_word(w, i, "end");
    case T_QIDENT:
    case T_STRING:
    case T_NUM:
    case T_PARAM:
        return true;
    case T_PUNCT:
        return is_punct(w, i, ')') || is_punct(w, i, ']');
    default:
        return false;
    }
}

/* Index of the bracket matching token i (')' or ']', scanning back, or
 * '(' / '[' scanning forward), or -1. */
static int match_bracket(const struct rw *w, int i)
{
    char c = w->s[w->tk[i].s];
    char open = c == ')' || c == '(' ? '(' : '[', close = open == '(' ? ')' : ']';
    int dir = c == open ? 1 : -1, depth = 0;
    for (int j = i; j >= 0 && j < w->ntk; j += dir) {
        if (is_punct(w, j, open))
            depth += dir;
        else if (is_punct(w, j, close))
            depth -= dir;
        if (depth == 0)
            return j;
    }
    return -1;
}

/* Start of a dotted name ending at token j. */
static int name_start(const struct rw *w, int j)
{
    while (j >= 2 && is_punct(w, j - 1, '.') && (w->tk[j - 2].t == T_WORD || w->tk[j - 2].t == T_QIDENT))
        j -= 2;
    return j;
}

/* Token index where the primary expression ending at token j starts, or -1. */
static int primary_start(const struct rw *w, int j)
{
    if (!ends_operand(w, j))
        return -1;
    if (w->cast_owner[j] >= 0)
        return w->cast_owner[j];
    if (is_punct(w, j, ')')) {
        int k = match_bracket(w, j);
        if (k < 0)
            return -1;
        if (k > 0 && (w->tk[k - 1].t == T_QIDENT || (w->tk[k - 1].t == T_WORD && !is_keyword(w, k - 1))))
            return name_start(w, k - 1); /* a function call */
        return k;
    }
    if (is_punct(w, j, ']')) {
        int k = match_bracket(w, j);
        if (k <= 0)
            return -1;
        return is_word(w, k - 1, "array") ? k - 1 : primary_start(w, k - 1);
    }
    if (is_word(w, j, "end")) {
        for (int k = j - 1, depth = 1; k >= 0; k--) {
            depth += is_word(w, k, "end") - is_word(w, k, "case");
            if (depth == 0)
                return k;
        }
        return -1;
    }
    if (w->tk[j].t == T_WORD || w->tk[j].t == T_QIDENT)
        return name_start(w, j);
    return j;
}

/* What a cast to a type becomes: CAST to an affinity, a function, or nothing. */
struct cast_rule {
    const char *type; /* PostgreSQL type name, lower case, schema dropped */
    const char *affinity, *func;
};
static const struct cast_rule cast_rules[] = {
    {"smallint", "INTEGER", NULL}, {"integer", "INTEGER", NULL}, {"int", "INTEGER", NULL},
    {"bigint", "INTEGER", NULL},   {"int2", "INTEGER", NULL},    {"int4", "INTEGER", NULL},
    {"int8", "INTEGER", NULL},     {"oid", "INTEGER", NULL},     {"xid", "INTEGER", NULL},
    {"text", "TEXT", NULL},        {"varchar", "TEXT", NULL},    {"character varying", "TEXT", NULL},
    {"char", "TEXT", NULL},        {"character", "TEXT", NULL},  {"bpchar", "TEXT", NULL},
    {"name", "TEXT", NULL},        {"date", "TEXT", NULL},       {"timestamp", "TEXT", NULL},
    {"timestamptz", "TEXT", NULL}, {"time", "TEXT", NULL},       {"json", "TEXT", NULL},
    {"jsonb", "TEXT", NULL},       {"uuid", "TEXT", NULL},       {"float4", "REAL", NULL},
    {"float8", "REAL", NULL},      {"real", "REAL", NULL},       {"double precision", "REAL", NULL},
    {"float", "REAL", NULL},       {"numeric", "NUMERIC", NULL}, {"decimal", "NUMERIC", NULL},
    {"bytea", "BLOB", NULL},       {"bool", NULL, "pg_to_bool"}, {"boolean", NULL, "pg_to_bool"},
    {"regclass", NULL, "pg_regclass"}, {"regtype", NULL, "pg_regtype"},
};

/* Rule 3 at tokens i, i+1 ("::"). Returns the last token of the type. */
static int rewrite_cast(struct rw *w, int i)
{
    int ps = primary_start(w, i - 1);
    int j = i + 2;
    if (ps < 0 || j >= w->ntk)
        return i + 1;
    if ((is_word(w, j, "pg_catalog") || is_word(w, j, "public")) && is_punct(w, j + 1, '.'))
        j += 2;
    if (j >= w->ntk || (w->tk[j].t != T_WORD && w->tk[j].t != T_QIDENT))
        return i + 1;
    char type[64];
    const char *s = w->s;
    size_t tl = w->tk[j].e - w->tk[j].s;
    if (w->tk[j].t == T_QIDENT) /* "char", "int4": the type name quoted */
        snprintf(type, sizeof type, "%.*s", (int)(tl > 2 ? tl - 2 : 0), s + w->tk[j].s + 1);
    else
        snprintf(type, sizeof type, "%.*s", (int)tl, s + w->tk[j].s);
    int last = j;
    static const char *const second[][2] = {{"double", "precision"}, {"character", "varying"}};
    for (size_t k = 0; k < sizeof second / sizeof *second; k++)
        if (strcasecmp(type, second[k][0]) == 0 && is_word(w, j + 1, second[k][1])) {
            snprintf(type, sizeof type, "%s %s", second[k][0], second[k][1]);
            last = j + 1;
        }
    /* timestamp/time [(p)] [with|without time zone] */
    if (is_punct(w, last + 1, '(')) {
        int k = match_bracket(w, last + 1);
        if (k > 0)
            last = k;
    }
    if ((is_word(w, last + 1, "with") || is_word(w, last + 1, "without")) && is_word(w, last + 2, "time") &&
        is_word(w, last + 3, "zone"))
        last += 3;
    bool array = false;
    while (is_punct(w, last + 1, '[') && is_punct(w, last + 2, ']'))
        last += 2, array = true;
    for (int k = i; k <= last; k++)
        w->cast_owner[k] = ps;

    const struct cast_rule *rule = NULL;
    for (size_t k = 0; !array && k < sizeof cast_rules / sizeof *cast_rules; k++)
        if (strcasecmp(type, cast_rules[k].type) == 0)
            rule = &cast_rules[k];
    char text[64];
    if (!rule) {
        add_edit(w, w->tk[i].s, w->tk[last].e, "");
    } else if (rule->affinity) {
        insert_before(w, ps, "CAST(");
        snprintf(text, sizeof text, " AS %s)", rule->affinity);
        add_edit(w, w->tk[i].s, w->tk[last].e, text);
    } else {
        snprintf(text, sizeof text, "%s(", rule->func);
        insert_before(w, ps, text);
        add_edit(w, w->tk[i].s, w->tk[last].e, ")");
    }
    return last;
}

/* Rule 2: a string literal in SQLite's syntax for the E'...' or dollar-
 * quoted token t. */
static char *string_literal(const char *s, struct tok t)
{
    struct pl_buf b = {0};
    pl_buf_putc(&b, '\'');
    if (s[t.s] == '$') {
        size_t tl = dollar_tag(s, t.e, t.s);
        size_t body_end = t.e >= t.s + 2 * tl ? t.e - tl : t.e;
        for (size_t i = t.s + tl; i < body_end; i++) {
            if (s[i] == '\'')
                pl_buf_putc(&b, '\'');
            pl_buf_putc(&b, s[i]);
        }
    } else {
        size_t end = t.e > t.s + 2 && s[t.e - 1] == '\'' ? t.e - 1 : t.e;
        for (size_t i = t.s + 2; i < end; i++) {
            char c = s[i];
            if (c == '\'' && i + 1 < end && s[i + 1] == '\'') {
                i++;
            } else if (c == '\\' && i + 1 < end) {
                char e = s[++i];
                static const char from[] = "nrtbf", to[] = "\n\r\t\b\f";
                const char *f = strchr(from, e);
                if (f && e) {
                    c = to[f - from];
                } else if (e == 'x' && i + 1 < end && isxdigit((unsigned char)s[i + 1])) {
                    unsigned v = 0;
                    for (int k = 0; k < 2 && i + 1 < end && isxdigit((unsigned char)s[i + 1]); k++)
                        v = v * 16 + (unsigned)(isdigit((unsigned char)s[i + 1]) ? s[i + 1] - '0'
                                                                                : (tolower((unsigned char)s[i + 1]) - 'a' + 10)),
                        i++;
                    c = (char)v;
                } else if (e >= '0' && e <= '7') {
                    unsigned v = (unsigned)(e - '0');
                    for (int k = 0; k < 2 && i + 1 < end && s[i + 1] >= '0' && s[i + 1] <= '7'; k++)
                        v = v * 8 + (unsigned)(s[++i] - '0');
                    c = (char)v;
                } else {
                    c = e; /* \\, \', and any other escaped character */
                }
                if (c == 0)
                    break; /* PostgreSQL refuses NUL in text too */
            }
            if (c == '\'')
                pl_buf_putc(&b, '\'');
            pl_buf_putc(&b, c);
        }
    }
    pl_buf_putc(&b, '\'');
    pl_buf_putc(&b, 0);
    if (b.oom) {
        pl_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* Rule 4: the regular-expression operator whose '~' is token i (with a
 * '!' before it or a '*' after it, adjacent). Returns the last token used. */
static int rewrite_regex(struct rw *w, int i)
{
    int first = i, last = i;
    bool neg = is_punct(w, i - 1, '!') && adjacent(w, i - 1);
    if (neg)
        first = i - 1;
    bool icase = is_punct(w, i + 1, '*') && adjacent(w, i);
    if (icase)
        last = i + 1;
    if (!ends_operand(w, first - 1))
        return i; /* unary ~: bitwise not, same in SQLite */
    add_edit(w, w->tk[first].s, w->tk[last].e, neg ? " NOT REGEXP " : " REGEXP ");
    if (icase && last + 1 < w->ntk) {
        insert_before(w, last + 1, "pg_icase(");
        add_edit(w, w->tk[last + 1].e, w->tk[last + 1].e, ")");
    }
    return last;
}

/* OPERATOR(schema.op) at token i. */
static int rewrite_operator(struct rw *w, int i)
{
    int close = match_bracket(w, i + 1);
    if (close < 0)
        return i;
    int k = close - 1;
    while (k > i + 1 && w->tk[k].t == T_PUNCT && !is_punct(w, k, '.'))
        k--;
    char op[8] = "";
    size_t n = w->tk[close].s - w->tk[k + 1].s;
    if (k + 1 >= close || n >= sizeof op)
        return i;
    memcpy(op, w->s + w->tk[k + 1].s, n);
    char text[16];
    if (strcmp(op, "~") == 0 || strcmp(op, "!~") == 0)
        snprintf(text, sizeof text, "%s", op[0] == '!' ? " NOT REGEXP " : " REGEXP ");
    else if (strcmp(op, "~~") == 0 || strcmp(op, "!~~") == 0)
        snprintf(text, sizeof text, "%s", op[0] == '!' ? " NOT LIKE " : " LIKE ");
    else
        snprintf(text, sizeof text, " %s ", op);
    add_edit(w, w->tk[i].s, w->tk[close].e, text);
    return close;
}

/* COLLATE at token i (rule 5). */
static int rewrite_collate(struct rw *w, int i)
{
    int j = i + 1;
    if ((is_word(w, j, "pg_catalog") || is_word(w, j, "public")) && is_punct(w, j + 1, '.'))
        j += 2;
    if (j >= w->ntk)
        return i;
    const char *s = w->s;
    struct tok t = w->tk[j];
    size_t n = t.e - t.s;
    if (is_word(w, j, "default") || (n == 9 && memcmp(s + t.s, "\"default\"", 9) == 0))
        add_edit(w, w->tk[i].s, t.e, "");
    else if ((n == 3 && memcmp(s + t.s, "\"C\"", 3) == 0) || (n == 7 && memcmp(s + t.s, "\"POSIX\"", 7) == 0))
        add_edit(w, w->tk[i].s, t.e, "COLLATE BINARY");
    else
        return i;
    return j;
}

/* ARRAY[...] or ARRAY(SELECT ...) at token i (rule 7). */
static int rewrite_array(struct rw *w, int i)
{
    int close = match_bracket(w, i + 1);
    if (close < 0)
        return i;
    if (is_punct(w, i + 1, '[')) {
        add_edit(w, w->tk[i].s, w->tk[i + 1].e, "pg_array(");
        replace_tok(w, close, ")");
        return i + 1;
    }
    if (!is_word(w, i + 2, "select"))
        return i;
    replace_tok(w, i, "");
    replace_tok(w, i + 2, "SELECT '{' || ifnull(group_concat(");
    int from = close;
    for (int j = i + 3, depth = 0; j < close; j++) {
        depth += is_punct(w, j, '(') - is_punct(w, j, ')');
        if (depth == 0 && is_word(w, j, "from")) {
            from = j;
            break;
        }
    }
    insert_before(w, from, ", ','), '') || '}' ");
    return i + 2;
}

/* "= ANY (" at tokens i (the '='), i+1, i+2 (rule 7). */
static int rewrite_any(struct rw *w, int i)
{
    int close = match_bracket(w, i + 2);
    if (close < 0)
        return i;
    if (is_word(w, i + 3, "select")) {
        add_edit(w, w->tk[i].s, w->tk[i + 1].e, " IN ");
        return i + 1;
    }
    int ps = primary_start(w, i - 1);
    if (ps < 0)
        return i;
    insert_before(w, ps, "pg_any_eq(");
    add_edit(w, w->tk[i].s, w->tk[i + 2].e, ", ");
    replace_tok(w, close, ")");
    return i + 2;
}

static bool is_name(const struct rw *w, int i)
{
    return i < w->ntk && (w->tk[i].t == T_QIDENT || (w->tk[i].t == T_WORD && !is_keyword(w, i)));
}

/* Rule 8 at token i (the function name). */
static int rewrite_srf_alias(struct rw *w, int i)
{
    int close = match_bracket(w, i + 1);
    if (close < 0)
        return i;
    int k = close + 1;
    bool ord = is_word(w, k, "with") && is_word(w, k + 1, "ordinality");
    if (ord) {
        add_edit(w, w->tk[k].s, w->tk[k + 1].e, "");
        k += 2;
    }
    k += is_word(w, k, "as");
    if (!is_name(w, k) || is_word(w, k, "on") || is_word(w, k, "where"))
        return i;
    struct tok alias = w->tk[k], col[2] = {alias, {T_WORD, 0, 0}};
    const char *s = w->s;
    if (is_punct(w, k + 1, '(')) { /* alias(value_name[, ordinality_name]) */
        int end = match_bracket(w, k + 1);
        if (end < 0 || !is_name(w, k + 2))
            return i;
        col[0] = w->tk[k + 2];
        if (is_punct(w, k + 3, ',') && is_name(w, k + 4))
            col[1] = w->tk[k + 4];
        add_edit(w, w->tk[k + 1].s, w->tk[end].e, "");
    }
    struct pl_buf b = {0};
    pl_buf_printf(&b, "(SELECT value AS %.*s", (int)(col[0].e - col[0].s), s + col[0].s);
    if (ord) {
        if (col[1].e > col[1].s)
            pl_buf_printf(&b, ", rowid AS %.*s", (int)(col[1].e - col[1].s), s + col[1].s);
        else
            pl_buf_puts(&b, ", rowid AS ordinality");
    }
    pl_buf_puts(&b, " FROM ");
    pl_buf_putc(&b, 0);
    if (b.oom) {
        w->oom = true;
        pl_buf_free(&b);
        return i;
    }
    insert_before(w, i, b.data);
    pl_buf_free(&b);
    add_edit(w, w->tk[close].e, w->tk[close].e, ")");
    return i;
}

/* Rule 9 at token i ("trim"). */
static int rewrite_trim(struct rw *w, int i)
{
    int close = match_bracket(w, i + 1);
    int j = i + 2, from = -1;
    if (close < 0)
        return i;
    const char *fn = "trim(";
    if (is_word(w, j, "leading") || is_word(w, j, "trailing") || is_word(w, j, "both")) {
        fn = is_word(w, j, "leading") ? "ltrim(" : is_word(w, j, "trailing") ? "rtrim(" : "trim(";
        j++;
    }
    for (int k = j, depth = 0; k < close; k++) {
        depth += is_punct(w, k, '(') - is_punct(w, k, ')');
        if (depth == 0 && is_word(w, k, "from")) {
            from = k;
            break;
        }
    }
    if (from < 0 || from + 1 >= close)
        return i; /* trim(s) or trim(s, chars): SQLite's own */
    add_edit(w, w->tk[i].s, w->tk[from].e, fn);
    if (from > j) {
        char *chars = NULL;
        size_t n = w->tk[from - 1].e - w->tk[j].s;
        if (asprintf(&chars, ", %.*s", (int)n, w->s + w->tk[j].s) < 0) {
            w->oom = true;
            return i;
        }
        insert_before(w, close, chars);
        free(chars);
    }
    return from;
}

static void rewrite_tokens(struct rw *w, unsigned *flags)
{
    const char *s = w->s;
    for (int i = 0; i < w->ntk && !w->oom; i++) {
        struct tok t = w->tk[i];
        if (t.t == T_PARAM) {
            add_edit(w, t.s, t.s + 1, "?");
        } else if (t.t == T_STRING && (s[t.s] == '$' || s[t.s] == 'e' || s[t.s] == 'E')) {
            char *lit = string_literal(s, t);
            if (!lit) {
                w->oom = true;
                return;
            }
            add_edit(w, t.s, t.e, lit);
            free(lit);
        } else if (t.t == T_WORD) {
            if (t.e - t.s > 3 && strncasecmp(s + t.s, "pg_", 3) == 0)
                *flags |= SQLRW_CATALOG;
            bool dotted = is_punct(w, i + 1, '.') && i + 2 < w->ntk && adjacent(w, i) && adjacent(w, i + 1);
            if (is_word(w, i, "pg_catalog") && dotted) {
                add_edit(w, t.s, w->tk[i + 1].e, "");
                *flags |= SQLRW_CATALOG;
                i++;
            } else if (is_word(w, i, "information_schema") && dotted) {
                add_edit(w, t.s, w->tk[i + 1].e, "information_schema_");
                *flags |= SQLRW_CATALOG;
                i++;
            } else if (is_word(w, i, "operator") && is_punct(w, i + 1, '(')) {
                i = rewrite_operator(w, i);
            } else if (is_word(w, i, "collate")) {
                i = rewrite_collate(w, i);
            } else if (is_word(w, i, "array") && (is_punct(w, i + 1, '[') || is_punct(w, i + 1, '('))) {
                i = rewrite_array(w, i);
            } else if ((is_word(w, i, "unnest") || is_word(w, i, "generate_series") ||
                        is_word(w, i, "pg_partition_ancestors")) &&
                       is_punct(w, i + 1, '(')) {
                i = rewrite_srf_alias(w, i);
            } else if (is_word(w, i, "trim") && is_punct(w, i + 1, '(')) {
                i = rewrite_trim(w, i);
            } else if (is_word(w, i, "ilike")) {
                replace_tok(w, i, "LIKE");
            }
        } else if (t.t == T_PUNCT) {
            if (is_punct(w, i, ':') && is_punct(w, i + 1, ':') && adjacent(w, i))
                i = rewrite_cast(w, i);
            else if (is_punct(w, i, '~'))
                i = rewrite_regex(w, i);
            else if (is_punct(w, i, '[') && ends_operand(w, i - 1)) {
                int close = match_bracket(w, i), ps = primary_start(w, i - 1);
                bool slice = false;
                for (int j = i + 1; j < close; j++)
                    slice |= is_punct(w, j, ':');
                if (close > 0 && ps >= 0 && !slice) {
                    insert_before(w, ps, "pg_array_get(");
                    replace_tok(w, i, ", ");
                    replace_tok(w, close, ")");
                    w->cast_owner[close] = ps;
                }
            } else if (is_punct(w, i, '=') && (is_word(w, i + 1, "any") || is_word(w, i + 1, "some")) &&
                       is_punct(w, i + 2, '(')) {
                i = rewrite_any(w, i);
            }
        }
    }
}

/* Only these characters and words can start a rewrite other than rule 1;
 * text without them (most statements) is copied in one pass. */
static bool needs_rewrite(const char *s, size_t a, size_t b)
{
    static const char *const words[] = {"pg_", "information_schema", "operator", "array", "any", "some",
                                        "collate", "ilike", "unnest", "generate_series", "trim", NULL};
    for (size_t i = a; i < b; i++) {
        char c = s[i];
        if (c == ':' || c == '~' || c == '[' || c == '$')
            return true;
        if ((c == 'e' || c == 'E') && i + 1 < b && s[i + 1] == '\'')
            return true;
        if (!strchr("pPiIoOaAsScCuUgGtT", c) || !c)
            continue;
        for (int k = 0; words[k]; k++) {
            size_t n = strlen(words[k]);
            if (i + n <= b && strncasecmp(s + i, words[k], n) == 0)
                return true;
        }
    }
    return false;
}

void sql_rewrite(struct pl_buf *out, const char *s, size_t a, size_t b, unsigned *flags)
{
    if (!needs_rewrite(s, a, b)) {
        pl_buf_put(out, s + a, b - a);
        return;
    }
    struct rw w = {.s = s};
    size_t cap = 0, p = a;
    for (;;) {
        struct tok t = next_tok(s, b, &p);
        if (t.t == T_END)
            break;
        if ((size_t)w.ntk == cap) {
            cap = cap ? cap * 2 : 64;
            struct tok *n = realloc(w.tk, cap * sizeof *n);
            int *o = realloc(w.cast_owner, cap * sizeof *o);
            if (n)
                w.tk = n;
            if (o)
                w.cast_owner = o;
            if (!n || !o) {
                out->oom = true;
                goto done;
            }
        }
        w.cast_owner[w.ntk] = -1;
        w.tk[w.ntk++] = t;
    }
    rewrite_tokens(&w, flags);
    if (w.oom) {
        out->oom = true;
        goto done;
    }
    if (w.ned)
        qsort(w.ed, w.ned, sizeof *w.ed, edit_cmp);
    size_t cur = a;
    for (size_t k = 0; k < w.ned; k++) {
        struct edit *e = &w.ed[k];
        if (e->at < cur)
            continue; /* inside text an earlier edit replaced */
        pl_buf_put(out, s + cur, e->at - cur);
        pl_buf_puts(out, e->text);
        cur = e->end;
    }
    pl_buf_put(out, s + cur, b - cur);
done:
    for (size_t k = 0; k < w.ned; k++)
        free(w.ed[k].text);
    free(w.ed);
    free(w.tk);
    free(w.cast_owner);
}
