/* Runtime lifetime and the helper registry. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int pl_runtime_new(const struct pl_runtime_opts *opts, pl_runtime **out, pl_error *err)
{
    if (!out)
        return pl_fail(err, PL_EINVAL, -1, "pl_runtime_new: out is NULL");
    pl_runtime *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return pl_fail(err, PL_ENOMEM, -1, "out of memory creating the runtime");
    if (opts)
        rt->opts = *opts;
    rt->map_limit = rt->opts.map_memory_limit ? rt->opts.map_memory_limit : (uint64_t)1 << 30;
    pthread_mutex_init(&rt->lock, NULL);
    pthread_mutex_init(&rt->vcache_lock, NULL);
    if (rt->opts.log)
        pl_set_global_log(rt->opts.log, rt->opts.log_user);
    if (!(rt->opts.flags & PL_RUNTIME_NO_STD_HELPERS)) {
        int rc = pl_register_std_helpers(rt, err);
        if (rc) {
            pl_runtime_free(rt);
            return rc;
        }
    }
    *out = rt;
    return 0;
}

void pl_runtime_free(pl_runtime *rt)
{
    if (!rt)
        return;
    pl_hooks_destroy(rt);
    /* Programs and maps released by the hooks are freed by deferred
     * callbacks that may still look at the runtime's helper table. */
    pl_rcu_barrier();
    for (uint32_t i = 0; i < PL_HELPER_ID_MAX; i++)
        free(rt->helpers[i]);
    pl_verify_cache_free(rt);
    pthread_mutex_destroy(&rt->vcache_lock);
    pthread_mutex_destroy(&rt->lock);
    free(rt);
}

static bool valid_kind(uint8_t kind, uint8_t max)
{
    return kind <= max;
}

int pl_helper_register(pl_runtime *rt, const struct pl_helper_spec *spec, pl_error *err)
{
    if (!rt || !spec || !spec->fn || !spec->name || !spec->name[0])
        return pl_fail(err, PL_EINVAL, -1, "pl_helper_register: helper needs a runtime, a name and a function");
    if (spec->id >= PL_HELPER_ID_MAX)
        return pl_fail(err, PL_EINVAL, -1, "helper '%s': id %u is out of range (ids are below %d)",
                       spec->name, spec->id, PL_HELPER_ID_MAX);
    if (strlen(spec->name) >= sizeof(((struct pl_helper *)0)->name))
        return pl_fail(err, PL_EINVAL, -1, "helper '%s': name longer than 63 characters", spec->name);
    for (int i = 0; i < 5; i++)
        if (!valid_kind(spec->args[i], PL_ARG_STR))
            return pl_fail(err, PL_EINVAL, -1, "helper '%s': argument %d has unknown kind %u",
                           spec->name, i + 1, spec->args[i]);
    if (!valid_kind(spec->ret, PL_RET_HANDLE))
        return pl_fail(err, PL_EINVAL, -1, "helper '%s': unknown return kind %u", spec->name, spec->ret);

    struct pl_helper *h = calloc(1, sizeof(*h));
    if (!h)
        return pl_fail(err, PL_ENOMEM, -1, "out of memory registering helper '%s'", spec->name);
    h->spec = *spec;
    strcpy(h->name, spec->name);
    h->spec.name = h->name;

    pthread_mutex_lock(&rt->lock);
    int rc = 0;
    if (rt->helpers[spec->id])
        rc = pl_fail(err, PL_EEXIST, -1, "helper id %u is already registered as '%s'", spec->id,
                     rt->helpers[spec->id]->name);
    for (uint32_t i = 0; !rc && i < PL_HELPER_ID_MAX; i++)
        if (rt->helpers[i] && !strcmp(rt->helpers[i]->name, spec->name))
            rc = pl_fail(err, PL_EEXIST, -1, "helper name '%s' is already registered with id %u",
                         spec->name, i);
    if (!rc) {
        rt->helpers[spec->id] = h;
        rt->helper_flags[spec->id] = spec->flags;
        /* Published last: the JIT's callx reads helper_fns without the lock. */
        __atomic_store_n(&rt->helper_fns[spec->id], spec->fn, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&rt->lock);
    if (rc)
        free(h);
    return rc;
}

const struct pl_helper_spec *pl_helper_find(const pl_runtime *rt, uint32_t id)
{
    if (!rt || id >= PL_HELPER_ID_MAX || !rt->helpers[id])
        return NULL;
    return &rt->helpers[id]->spec;
}

const struct pl_helper_spec *pl_helper_find_by_name(const pl_runtime *rt, const char *name)
{
    if (!rt || !name)
        return NULL;
    for (uint32_t i = 0; i < PL_HELPER_ID_MAX; i++)
        if (rt->helpers[i] && !strcmp(rt->helpers[i]->name, name))
            return &rt->helpers[i]->spec;
    return NULL;
}
