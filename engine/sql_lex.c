/* The tokenizer behind every rewrite of PostgreSQL text (sql_lex.h). */
#include "sql_lex.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static bool ident_start(unsigned char c) { return isalpha(c) || c == '_' || c >= 0x80; }
static bool ident_char(unsigned char c) { return isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

size_t skip_space(const char *s, size_t len, size_t p)
{
    for (;;) {
        while (p < len && isspace((unsigned char)s[p]))
            p++;
        if (p + 1 < len && s[p] == '-' && s[p + 1] == '-') {
            while (p < len && s[p] != '\n')
                p++;
            continue;
        }
        if (p + 1 < len && s[p] == '/' && s[p + 1] == '*') {
            int depth = 1; /* PostgreSQL block comments nest */
            p += 2;
            while (p < len && depth) {
                if (p + 1 < len && s[p] == '/' && s[p + 1] == '*')
                    depth++, p += 2;
                else if (p + 1 < len && s[p] == '*' && s[p + 1] == '/')
                    depth--, p += 2;
                else
                    p++;
            }
            continue;
        }
        return p;
    }
}

size_t dollar_tag(const char *s, size_t len, size_t p)
{
    if (s[p] != '$')
        return 0;
    size_t q = p + 1;
    if (q < len && s[q] == '$')
        return 2;
    if (q >= len || !ident_start((unsigned char)s[q]) || s[q] == '$')
        return 0;
    while (q < len && ident_char((unsigned char)s[q]) && s[q] != '$')
        q++;
    return q < len && s[q] == '$' ? q - p + 1 : 0;
}

static size_t skip_quoted(const char *s, size_t len, size_t p, char q, bool backslash)
{
    p++;
    while (p < len) {
        if (backslash && s[p] == '\\' && p + 1 < len) {
            p += 2;
            continue;
        }
        if (s[p] == q) {
            if (p + 1 < len && s[p + 1] == q) {
                p += 2;
                continue;
            }
            return p + 1;
        }
        p++;
    }
    return len; /* unterminated: SQLite reports it */
}

struct tok next_tok(const char *s, size_t len, size_t *pos)
{
    size_t p = skip_space(s, len, *pos);
    struct tok t = {T_END, p, p};
    if (p >= len) {
        *pos = p;
        return t;
    }
    unsigned char c = (unsigned char)s[p];
    if ((c == 'e' || c == 'E') && p + 1 < len && s[p + 1] == '\'') {
        t.t = T_STRING;
        t.e = skip_quoted(s, len, p + 1, '\'', true);
    } else if (ident_start(c)) {
        size_t q = p;
        while (q < len && ident_char((unsigned char)s[q]))
            q++;
        t.t = T_WORD;
        t.e = q;
    } else if (c == '\'') {
        t.t = T_STRING;
        t.e = skip_quoted(s, len, p, '\'', false);
    } else if (c == '"') {
        t.t = T_QIDENT;
        t.e = skip_quoted(s, len, p, '"', false);
    } else if (c == '$' && p + 1 < len && isdigit((unsigned char)s[p + 1])) {
        size_t q = p + 1;
        while (q < len && isdigit((unsigned char)s[q]))
            q++;
        t.t = T_PARAM;
        t.e = q;
    } else if (c == '$' && dollar_tag(s, len, p)) {
        size_t tl = dollar_tag(s, len, p);
        size_t q = p + tl;
        t.t = T_STRING;
        t.e = len;
        for (; q + tl <= len; q++)
            if (memcmp(s + q, s + p, tl) == 0) {
                t.e = q + tl;
                break;
            }
    } else if (isdigit(c) || (c == '.' && p + 1 < len && isdigit((unsigned char)s[p + 1]))) {
        size_t q = p;
        while (q < len && (isalnum((unsigned char)s[q]) || s[q] == '.' ||
                           ((s[q] == '+' || s[q] == '-') && (s[q - 1] == 'e' || s[q - 1] == 'E'))))
            q++;
        t.t = T_NUM;
        t.e = q;
    } else {
        t.t = T_PUNCT;
        t.e = p + 1;
    }
    *pos = t.e;
    return t;
}

bool tok_is(const char *s, struct tok t, const char *word)
{
    size_t n = strlen(word);
    return t.t == T_WORD && t.e - t.s == n && strncasecmp(s + t.s, word, n) == 0;
}

bool tok_punct(const char *s, struct tok t, char c) { return t.t == T_PUNCT && s[t.s] == c; }
