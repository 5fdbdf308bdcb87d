/* A PostgreSQL-dialect tokenizer, just precise enough for rewriting:
 * words, quoted identifiers, strings (standard, E'...' and dollar-quoted),
 * numbers, $n parameters and single-character punctuation, with whitespace
 * and comments (nested block comments included) skipped. Tokens are byte
 * ranges into the caller's text; nothing is copied. */
#ifndef PL_ENGINE_SQL_LEX_H
#define PL_ENGINE_SQL_LEX_H

#include <stdbool.h>
#include <stddef.h>

enum tt { T_END, T_WORD, T_QIDENT, T_STRING, T_NUM, T_PARAM, T_PUNCT };
struct tok {
    enum tt t;
    size_t s, e; /* byte range in the statement */
};

/* The token at or after *pos in s[0..len); advances *pos past it. */
struct tok next_tok(const char *s, size_t len, size_t *pos);
/* Position of the first byte at or after p that is not space or comment. */
size_t skip_space(const char *s, size_t len, size_t p);
/* Length of a dollar-quote opener "$tag$" at p, or 0. */
size_t dollar_tag(const char *s, size_t len, size_t p);

/* t is the word `word` (ASCII case-insensitive). */
bool tok_is(const char *s, struct tok t, const char *word);
/* t is the punctuation character c. */
bool tok_punct(const char *s, struct tok t, char c);

#endif
