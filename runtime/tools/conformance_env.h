/* The execution environment the bpf_conformance vectors assume: helpers
 * 0-5 (gather_bytes, memfrob, no_op, sqrti, strcmp_ext, unwind) in a
 * runtime without the standard helpers. Shared by pliant-run and the tests. */
#ifndef PL_CONFORMANCE_ENV_H
#define PL_CONFORMANCE_ENV_H

#include "pliant/pliant.h"

int pl_conformance_runtime(pl_runtime **out, pl_error *err);

/* Parses "b7 00 00 ..." (whitespace-separated two-digit hex) into a new
 * buffer. Returns the byte count, or -1 on malformed input. */
long pl_parse_hex_bytes(const char *text, uint8_t **out);

#endif
