#include "views.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/pcache.h"
#include "../manager/catalog.h"
#include "../manager/fsutil.h"
#include "hooks.h"
#include "server.h"
#include "store.h"

static const char *map_type_name(uint32_t t)
{
    switch (t) {
    case PL_MAP_HASH:
        return "hash";
    case PL_MAP_ARRAY:
        return "array";
    case PL_MAP_PERTHREAD_ARRAY:
        return "perthread_array";
    case PL_MAP_LRU_HASH:
        return "lru_hash";
    case PL_MAP_RINGBUF:
        return "ringbuf";
    default:
        return "?";
    }
}

static json_t *map_json(pl_map *m)
{
    const struct pl_map_spec *s = pl_map_info(m);
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "map", s->name ? s->name : "", "type", map_type_name(s->type),
                     "key_size", (json_int_t)s->key_size, "value_size", (json_int_t)s->value_size, "max_entries",
                     (json_int_t)s->max_entries, "entries", (json_int_t)pl_map_count(m));
}

json_t *views_hook(struct server *srv, const char *hook, bool detail)
{
    pl_hook *h = pl_hook_find(srv->rt, hook);
    if (!h)
        return NULL;
    struct pl_hook_stats ps;
    struct hook_timing t;
    struct store_active a = {0};
    pl_hook_stats(h, &ps);
    hooks_timing(hooks_id(hook), &t);
    if (h == pcache_hook_page_evict()) {
        struct pcache_stats pc;
        pcache_stats(&pc);
        t.fallbacks = pc.hook_fallbacks;
    }
    if (srv->store)
        store_active(srv->store, hook, &a);
    pl_prog *p = pl_hook_current(h);
    char breaker[256];
    json_t *j = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "hook", hook, "attached",
                          p != NULL, "invocations", (json_int_t)ps.invocations, "faults", (json_int_t)ps.faults,
                          "fallbacks", (json_int_t)t.fallbacks, "breaker_trips", (json_int_t)ps.detaches_by_breaker,
                          "samples", (json_int_t)t.samples, "avg_ns", (json_int_t)t.avg_ns, "p99_ns",
                          (json_int_t)t.p99_ns, "breaker_reason", pl_hook_breaker_reason(h, breaker, sizeof breaker));
    json_object_set_new(j, "version", p && a.version[0] ? json_string(a.version) : json_null());
    json_object_set_new(j, "sha256", p && a.sha256[0] ? json_string(a.sha256) : json_null());
    json_object_set_new(j, "key_id", p && a.key_id[0] ? json_string(a.key_id) : json_null());
    json_object_set_new(j, "origin", p && a.origin[0] ? json_string(a.origin) : json_null());
    json_object_set_new(j, "program", p ? json_string(pl_prog_name(p)) : json_null());
    json_object_set_new(j, "insns", p ? json_integer(pl_prog_insn_count(p)) : json_null());
    json_object_set_new(j, "jit", p ? json_boolean(pl_prog_is_jitted(p)) : json_null());
    if (detail) {
        const char *names[1] = {hook};
        json_t *cat = catalog_from_runtime(srv->rt, names, 1);
        json_object_set(j, "abi", json_array_get(json_object_get(cat, "hooks"), 0));
        json_decref(cat);
        json_t *maps = json_array();
        for (uint32_t i = 0; p && i < pl_prog_map_count(p); i++)
            json_array_append_new(maps, map_json(pl_prog_map(p, i)));
        json_object_set_new(j, "maps", maps);
        json_object_set_new(j, "history", srv->store ? store_history_json(srv->store, hook) : json_array());
    }
    if (p)
        pl_prog_put(p);
    return j;
}

json_t *views_hooks(struct server *srv)
{
    json_t *a = json_array();
    for (size_t i = 0; i < hooks_all_count; i++) {
        json_t *h = views_hook(srv, hooks_all_names[i], false);
        if (h)
            json_array_append_new(a, h);
    }
    return a;
}

json_t *views_hook_maps(struct server *srv, const char *hook)
{
    pl_hook *h = pl_hook_find(srv->rt, hook);
    if (!h)
        return NULL;
    json_t *a = json_array();
    pl_prog *p = pl_hook_current(h);
    for (uint32_t i = 0; p && i < pl_prog_map_count(p); i++) {
        json_t *m = map_json(pl_prog_map(p, i));
        json_object_set_new(m, "hook", json_string(hook));
        json_array_append_new(a, m);
    }
    if (p)
        pl_prog_put(p);
    return a;
}

json_t *views_all_maps(struct server *srv)
{
    json_t *a = json_array();
    for (size_t i = 0; i < hooks_all_count; i++) {
        json_t *m = views_hook_maps(srv, hooks_all_names[i]);
        json_array_extend(a, m);
        json_decref(m);
    }
    return a;
}

static json_t *value_json(const uint8_t *p, uint32_t size)
{
    if (size == 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        return json_integer(v);
    }
    if (size == 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        /* JSON integers here are signed 64-bit: larger values as text. */
        if (v > (uint64_t)INT64_MAX) {
            char s[24];
            snprintf(s, sizeof s, "%llu", (unsigned long long)v);
            return json_string(s);
        }
        return json_integer((json_int_t)v);
    }
    char *hex = malloc(2 * (size_t)size + 1);
    if (!hex)
        return json_null();
    fs_hex(p, size, hex);
    json_t *j = json_string(hex);
    free(hex);
    return j;
}

/* Per-thread slots summed when they are integers; else the first slot. */
static json_t *perthread_json(const uint8_t *vals, uint32_t size)
{
    if (size != 4 && size != 8)
        return value_json(vals, size);
    uint64_t sum = 0;
    for (int t = 0; t < PL_MAX_THREADS; t++) {
        uint64_t v = 0;
        memcpy(&v, vals + (size_t)t * size, size);
        sum += v;
    }
    uint8_t b[8];
    memcpy(b, &sum, 8);
    return value_json(b, 8);
}

static json_t *dump_entries(pl_map *m, size_t limit, bool *truncated)
{
    const struct pl_map_spec *s = pl_map_info(m);
    json_t *a = json_array();
    *truncated = false;
    if (s->type == PL_MAP_RINGBUF)
        return a; /* records are consumed, not listed */
    bool perthread = s->type == PL_MAP_PERTHREAD_ARRAY;
    uint8_t *key = malloc(s->key_size ? s->key_size : 1), *next = malloc(s->key_size ? s->key_size : 1);
    uint8_t *val = malloc((size_t)s->value_size * (perthread ? PL_MAX_THREADS : 1) + 1);
    size_t n = 0;
    for (const void *k = NULL; key && next && val && pl_map_next_key(m, k, next) == 0; k = key) {
        memcpy(key, next, s->key_size);
        if (pl_map_lookup(m, key, val) != 0)
            continue;
        if (n++ == limit) {
            *truncated = true;
            break;
        }
        json_array_append_new(a, json_pack("{s:o, s:o}", "key", value_json(key, s->key_size), "value",
                                           perthread ? perthread_json(val, s->value_size)
                                                     : value_json(val, s->value_size)));
    }
    free(key);
    free(next);
    free(val);
    return a;
}

json_t *views_map_dump(struct server *srv, const char *name, const char *hook, size_t limit, int *status, char *err,
                       size_t errlen)
{
    pl_map *found = NULL;
    const char *found_hook = NULL;
    int matches = 0;
    char where[256] = "";
    for (size_t i = 0; i < hooks_all_count; i++) {
        if (hook && strcmp(hook, hooks_all_names[i]) != 0)
            continue;
        pl_hook *h = pl_hook_find(srv->rt, hooks_all_names[i]);
        pl_prog *p = h ? pl_hook_current(h) : NULL;
        pl_map *m = p ? pl_prog_map_by_name(p, name) : NULL;
        if (m) {
            if (!matches++) {
                pl_map_get(m);
                found = m;
                found_hook = hooks_all_names[i];
            }
            size_t used = strlen(where);
            snprintf(where + used, sizeof where - used, "%s%s", used ? ", " : "", hooks_all_names[i]);
        }
        if (p)
            pl_prog_put(p);
    }
    if (matches != 1) {
        if (found)
            pl_map_put(found);
        *status = matches ? 409 : 404;
        if (matches)
            snprintf(err, errlen, "map \"%.64s\" exists in the programs of several hooks (%s): name the hook",
                     name, where);
        else
            snprintf(err, errlen, "no program attached%s%s has a map named \"%.64s\"", hook ? " to " : "",
                     hook ? hook : "", name);
        return NULL;
    }
    bool truncated;
    json_t *j = map_json(found);
    json_object_set_new(j, "hook", json_string(found_hook));
    json_object_set_new(j, "entries_shown", dump_entries(found, limit, &truncated));
    json_object_set_new(j, "truncated", json_boolean(truncated));
    pl_map_put(found);
    return j;
}

json_t *views_introspect(void *user, enum eng_itable table)
{
    struct server *srv = user;
    switch (table) {
    case ENG_I_HOOKS:
        return views_hooks(srv);
    case ENG_I_EXTENSIONS:
        return srv->store ? store_extensions_json(srv->store) : json_array();
    case ENG_I_MAPS:
        return views_all_maps(srv);
    }
    return NULL;
}
