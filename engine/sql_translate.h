/* PostgreSQL -> SQLite statement translation: the one place where the
 * PostgreSQL dialect that psql, pgbench and drivers send is adapted to
 * SQLite. Every rewrite is listed at the top of sql_translate.c. */
#ifndef PL_ENGINE_SQL_TRANSLATE_H
#define PL_ENGINE_SQL_TRANSLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tr_kind {
    TR_EMPTY,     /* only whitespace/comments: EmptyQueryResponse */
    TR_QUERY,     /* rows may come back: tag "SELECT n" */
    TR_INSERT,    /* "INSERT 0 n" */
    TR_UPDATE,    /* "UPDATE n" */
    TR_DELETE,    /* "DELETE n" */
    TR_BEGIN,
    TR_COMMIT,
    TR_ROLLBACK,
    TR_ROLLBACK_TO,
    TR_SAVEPOINT,
    TR_RELEASE,
    TR_UTILITY,   /* DDL and the like: tag as given */
    TR_NOOP,      /* accepted, nothing to run (VACUUM ...): tag as given */
    TR_SET,       /* SET/RESET name [= value]: session parameter */
    TR_SHOW,      /* SHOW name */
    TR_COPY_IN,   /* COPY table [(cols)] FROM STDIN */
};

struct tr_result {
    enum tr_kind kind;
    char tag[48];        /* command tag stem, e.g. "CREATE TABLE" */
    char *sql;           /* SQLite text to run (may hold several statements); NULL if none */
    uint64_t fingerprint; /* hash of the statement with literals and parameters blanked */
    bool readonly;       /* statement kind never writes (SELECT without DML) */
    bool catalog;        /* reads the emulated pg_catalog: pgcat_refresh() first */
    /* TR_COPY_IN */
    char *copy_table;    /* as written (quotes kept) */
    char *copy_cols;     /* "(a, b)" as written, or NULL for all columns */
    char copy_delim;
    char *copy_null;     /* the NULL marker, default "\N" */
    /* TR_SET / TR_SHOW; param_value NULL for RESET */
    char *param_name;
    char *param_value;
    /* on error */
    char sqlstate[6];
    char errmsg[256];
};

/* Finds the next statement in text[*pos..len): sets [*start, *start+*slen)
 * (without the terminating ';') and advances *pos past it. false when only
 * whitespace and comments remain. Quotes, comments, dollar quoting and
 * CREATE TRIGGER bodies are respected. */
bool tr_next_stmt(const char *text, size_t len, size_t *pos, size_t *start, size_t *slen);

/* Translates one statement. 0 on success; -1 with sqlstate/errmsg set when
 * the statement is recognised but unsupported. A statement it does not
 * recognise is passed through (with $n rewritten) for SQLite to judge. */
int tr_translate(const char *stmt, size_t len, struct tr_result *r);
void tr_result_free(struct tr_result *r);

#endif
