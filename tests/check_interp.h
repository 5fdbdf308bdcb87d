/* A checking interpreter (test-only): runs a loaded program with the same
 * semantics as runtime/src/interp.c, but checks dynamically everything the
 * verifier claims to have proved statically:
 *
 *   - no register is read before it is written, no stack byte is read
 *     before it is written (per frame, like the verifier);
 *   - every load, store, atomic and helper memory argument stays inside a
 *     region the program may touch: the context (only whole declared fields
 *     with the declared access when the hook declares fields), the current
 *     or a caller frame's stack, map values (array elements; hash values
 *     returned by a lookup in this run), global data, helper memory;
 *   - no write goes to read-only memory (fields, .rodata, helper memory);
 *   - no pointer bits escape: a value derived from a pointer (taint bit per
 *     register and per stack byte) never reaches a map or context store, a
 *     helper's scalar or memory-content argument, a comparison other than a
 *     NULL check, or r0 at exit;
 *   - r0 at exit is in the hook's return range; the run terminates.
 *
 * The first violation stops the run and is reported with the instruction
 * index. Helpers are the real ones (rt->helper_fns), called after their
 * memory arguments were validated against their declared kinds. */
#ifndef PL_CHECK_INTERP_H
#define PL_CHECK_INTERP_H

#include "pliant/pliant.h"

#include <stdbool.h>
#include <stdint.h>

struct ci_result {
    bool violation;
    int insn;            /* instruction of the violation, or -1 */
    char msg[256];       /* what was violated */
    uint64_t r0;         /* the result when no violation */
    uint64_t steps;      /* instructions executed */
};

/* Runs prog on ctx (ctx_size bytes; r1 = ctx, r2 = ctx_size like
 * pl_prog_run). step_limit bounds the run (0: 10 million); exceeding it is a
 * violation: the verifier proves termination. Returns res->violation. */
bool ci_run(const pl_prog *prog, void *ctx, uint32_t ctx_size, uint64_t step_limit, struct ci_result *res);

#endif
