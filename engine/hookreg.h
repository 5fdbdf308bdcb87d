/* Registration boilerplate shared by the engine's storage hookpoints
 * (memacct.c, vfs.c, checkpoint.c): a read-only scalar field per context
 * member, a return range the JIT checks itself, and a message naming the
 * hook on failure. */
#ifndef PL_ENGINE_HOOKREG_H
#define PL_ENGINE_HOOKREG_H

#include <pliant/pliant.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#define HOOKREG_FIELD(type, member)                                                                             \
    {                                                                                                           \
        #member, (uint32_t)offsetof(type, member), (uint32_t)sizeof(((type *)0)->member), PL_FIELD_READ,       \
            PL_FIELD_SCALAR                                                                                     \
    }

/* Storage policies keep state in maps and may read the clock; nothing else
 * (no trace_printk: these hooks run inside SQLite's allocator and I/O). */
static const uint32_t hookreg_helpers[] = {
    PL_HELPER_MAP_LOOKUP_ELEM, PL_HELPER_MAP_UPDATE_ELEM, PL_HELPER_MAP_DELETE_ELEM,
    PL_HELPER_KTIME_GET_NS,    PL_HELPER_KTIME_GET_COARSE_NS,
};

/* Registers hook `name` and publishes its handle in *slot. */
static inline int hookreg_register(pl_runtime *rt, const char *name, uint32_t ctx_size,
                                   const struct pl_hook_field *fields, uint32_t nfields, int64_t ret_max,
                                   _Atomic(pl_hook *) *slot, char *err, size_t errlen)
{
    struct pl_hook_spec spec = {
        .name = name, .ctx_size = ctx_size, .fields = fields, .nfields = nfields, .helpers = hookreg_helpers,
        .nhelpers = sizeof hookreg_helpers / sizeof hookreg_helpers[0], .has_ret_range = true, .ret_min = 0,
        .ret_max = ret_max,
    };
    pl_hook *h = NULL;
    pl_error perr = {0};
    if (pl_hook_register(rt, &spec, &h, &perr)) {
        snprintf(err, errlen, "cannot register hook %s: %s", name, perr.msg);
        return -1;
    }
    atomic_store_explicit(slot, h, memory_order_release);
    return 0;
}

#endif
