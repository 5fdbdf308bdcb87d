/* Registers the reload benchmark's hook, "reload_policy" (context: struct
 * reload_ctx in bench/kernels.h), for bench/bench_reload.c and the
 * verifier's accept test, which checks the benchmark policy verifies. Host
 * side only. */
#ifndef PL_RELOAD_HOOK_H
#define PL_RELOAD_HOOK_H

#include "pliant/pliant.h"
#include "kernels.h"

#include <stddef.h>
#include <stdio.h>

/* Returns 0 with *out set, or a pl_status with err filled. The field names
 * must outlive the hook: one static table, filled on each call alike. */
static inline int reload_hook_register(pl_runtime *rt, pl_hook **out, pl_error *err)
{
    static struct pl_hook_field fields[2 + 4 * RELOAD_NCAND];
    static char names[4 * RELOAD_NCAND][32];
    static const char *member[4] = {"key", "last_access", "hits", "pinned"};
    static const uint32_t moff[4] = {0, 8, 16, 20}, msize[4] = {8, 8, 4, 4};
    uint32_t n = 0;
    fields[n++] = (struct pl_hook_field){"ncand", offsetof(struct reload_ctx, ncand), 4, PL_FIELD_READ,
                                         PL_FIELD_SCALAR};
    fields[n++] = (struct pl_hook_field){"now", offsetof(struct reload_ctx, now), 8, PL_FIELD_READ, PL_FIELD_SCALAR};
    for (uint32_t i = 0; i < RELOAD_NCAND; i++)
        for (int m = 0; m < 4; m++) {
            snprintf(names[i * 4 + m], sizeof(names[0]), "cand[%u].%s", i, member[m]);
            fields[n++] = (struct pl_hook_field){
                names[i * 4 + m], (uint32_t)(offsetof(struct reload_ctx, cand) + i * sizeof(struct scan_cand) + moff[m]),
                msize[m], PL_FIELD_READ, PL_FIELD_SCALAR};
        }
    static const uint32_t helpers[] = {PL_HELPER_MAP_LOOKUP_ELEM};
    struct pl_hook_spec spec = {.name = "reload_policy", .ctx_size = sizeof(struct reload_ctx), .fields = fields,
                                .nfields = n, .helpers = helpers, .nhelpers = 1, .has_ret_range = true,
                                .ret_min = 0, .ret_max = RELOAD_NCAND - 1};
    return pl_hook_register(rt, &spec, out, err);
}

#endif
