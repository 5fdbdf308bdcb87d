/* Registers the "accept" test hook (context: tests/progs/accept_ctx.h), for
 * the verifier's accept test and the verification benchmark. Host side
 * only. */
#ifndef PL_ACCEPT_HOOK_H
#define PL_ACCEPT_HOOK_H

#include "pliant/pliant.h"
#include "progs/accept_ctx.h"

#include <stddef.h>
#include <stdio.h>

/* Returns NULL (with err filled) on failure. The field names must outlive
 * the hook: one static table, filled on the first call. */
static inline pl_hook *accept_hook_register(pl_runtime *rt, pl_error *err)
{
    static struct pl_hook_field fields[4 + ACC_NVALS + ACC_KEY_LEN + 4 * ACC_NCAND];
    static char names[ACC_NVALS + ACC_KEY_LEN + 4 * ACC_NCAND][32];
    uint32_t n = 0, k = 0;
    fields[n++] = (struct pl_hook_field){"n", offsetof(struct accept_ctx, n), 4, PL_FIELD_READ, PL_FIELD_SCALAR};
    fields[n++] = (struct pl_hook_field){"sel", offsetof(struct accept_ctx, sel), 4, PL_FIELD_READ, PL_FIELD_SCALAR};
    fields[n++] = (struct pl_hook_field){"seed", offsetof(struct accept_ctx, seed), 8, PL_FIELD_READ, PL_FIELD_SCALAR};
    fields[n++] = (struct pl_hook_field){"out", offsetof(struct accept_ctx, out), 8, PL_FIELD_READ | PL_FIELD_WRITE,
                                         PL_FIELD_SCALAR};
    for (uint32_t i = 0; i < ACC_NVALS; i++, k++) {
        snprintf(names[k], sizeof(names[k]), "vals[%u]", i);
        fields[n++] = (struct pl_hook_field){names[k], (uint32_t)(offsetof(struct accept_ctx, vals) + 8 * i), 8,
                                             PL_FIELD_READ, PL_FIELD_SCALAR};
    }
    for (uint32_t i = 0; i < ACC_KEY_LEN; i++, k++) {
        snprintf(names[k], sizeof(names[k]), "key[%u]", i);
        fields[n++] = (struct pl_hook_field){names[k], (uint32_t)(offsetof(struct accept_ctx, key) + i), 1,
                                             PL_FIELD_READ, PL_FIELD_SCALAR};
    }
    static const char *member[4] = {"key", "last_access", "hits", "pinned"};
    static const uint32_t moff[4] = {0, 8, 16, 20}, msize[4] = {8, 8, 4, 4};
    for (uint32_t i = 0; i < ACC_NCAND; i++)
        for (int m = 0; m < 4; m++, k++) {
            snprintf(names[k], sizeof(names[k]), "cand[%u].%s", i, member[m]);
            fields[n++] = (struct pl_hook_field){
                names[k], (uint32_t)(offsetof(struct accept_ctx, cand) + i * sizeof(struct acc_cand) + moff[m]),
                msize[m], PL_FIELD_READ, PL_FIELD_SCALAR};
        }
    static const uint32_t helpers[] = {
        PL_HELPER_MAP_LOOKUP_ELEM, PL_HELPER_MAP_UPDATE_ELEM, PL_HELPER_MAP_DELETE_ELEM,
        PL_HELPER_TRACE_PRINTK, PL_HELPER_RINGBUF_OUTPUT, PL_HELPER_GET_PRANDOM_U32,
    };
    struct pl_hook_spec spec = {.name = "accept", .ctx_size = sizeof(struct accept_ctx), .fields = fields,
                                .nfields = n, .helpers = helpers, .nhelpers = sizeof(helpers) / sizeof(helpers[0])};
    pl_hook *hook = NULL;
    return pl_hook_register(rt, &spec, &hook, err) ? NULL : hook;
}

#endif
