/* COPY ... FROM STDIN, text format: decoding rows and inserting them. */
#ifndef PL_ENGINE_COPY_H
#define PL_ENGINE_COPY_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

struct eng_copy;

/* Prepares the insert for `table` (`cols` is "(a, b)" or NULL for all). */
int eng_copy_open(sqlite3 *db, const char *table, const char *cols, char delim, const char *null_marker,
                  struct eng_copy **out, struct eng_err *e);

/* Inserts every complete line of data[0,len); *consumed says how much was
 * used (a partial last line stays for the next call unless `final`).
 * *end_marker is set when the "\." line was seen: the rest is ignored. */
int eng_copy_lines(struct eng_copy *c, const char *data, size_t len, bool final, size_t *consumed,
                   bool *end_marker, struct eng_err *e);
uint64_t eng_copy_rows(const struct eng_copy *c);
int eng_copy_ncols(const struct eng_copy *c);
void eng_copy_close(struct eng_copy *c);

#endif
