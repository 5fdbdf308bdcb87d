#include "catalog.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const arg_names[] = {
    [PL_ARG_NONE] = "none",           [PL_ARG_SCALAR] = "scalar",       [PL_ARG_MAP] = "map",
    [PL_ARG_MAP_KEY] = "map_key",     [PL_ARG_MAP_VALUE] = "map_value", [PL_ARG_MEM] = "mem",
    [PL_ARG_MEM_UNINIT] = "mem_uninit", [PL_ARG_MEM_SIZE] = "mem_size", [PL_ARG_CTX] = "ctx",
    [PL_ARG_HANDLE] = "handle",       [PL_ARG_STR] = "str",
};
static const char *const ret_names[] = {
    [PL_RET_SCALAR] = "scalar", [PL_RET_VOID] = "void", [PL_RET_MAP_VALUE_OR_NULL] = "map_value_or_null",
    [PL_RET_MEM_OR_NULL] = "mem_or_null", [PL_RET_HANDLE] = "handle",
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int name_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (names[i] && strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

static json_t *helper_json(const struct pl_helper_spec *h)
{
    json_t *args = json_array();
    int last = 4;
    while (last >= 0 && h->args[last] == PL_ARG_NONE)
        last--;
    for (int i = 0; i <= last; i++)
        json_array_append_new(args, json_string(h->args[i] < NELEM(arg_names) ? arg_names[h->args[i]] : "?"));
    return json_pack("{s:I, s:s, s:o, s:s, s:I, s:I}", "id", (json_int_t)h->id, "name", h->name ? h->name : "",
                     "args", args, "ret", h->ret < NELEM(ret_names) ? ret_names[h->ret] : "?", "ret_size",
                     (json_int_t)h->ret_size, "flags", (json_int_t)h->flags);
}

static json_t *hook_json(const struct pl_hook_spec *s)
{
    json_t *fields = json_array(), *helpers = json_array();
    for (uint32_t i = 0; i < s->nfields; i++) {
        const struct pl_hook_field *f = &s->fields[i];
        json_array_append_new(
            fields, json_pack("{s:s, s:I, s:I, s:s, s:s}", "name", f->name ? f->name : "", "offset",
                              (json_int_t)f->offset, "size", (json_int_t)f->size, "access",
                              (f->access & PL_FIELD_WRITE) ? "rw" : "r", "kind",
                              f->kind == PL_FIELD_HANDLE ? "handle" : "scalar"));
    }
    for (uint32_t i = 0; i < s->nhelpers; i++)
        json_array_append_new(helpers, json_integer(s->helpers[i]));
    json_t *ret = s->has_ret_range
                      ? json_pack("{s:I, s:I}", "min", (json_int_t)s->ret_min, "max", (json_int_t)s->ret_max)
                      : json_null();
    return json_pack("{s:s, s:I, s:o, s:o, s:o, s:I}", "name", s->name, "ctx_size", (json_int_t)s->ctx_size,
                     "fields", fields, "helpers", helpers, "return", ret, "fault_limit", (json_int_t)s->fault_limit);
}

json_t *catalog_from_runtime(const pl_runtime *rt, const char *const *names, size_t n)
{
    json_t *hooks = json_array(), *helpers = json_array();
    bool seen[PL_HELPER_ID_MAX] = {false};
    for (size_t i = 0; i < n; i++) {
        const pl_hook *h = pl_hook_find(rt, names[i]);
        if (!h)
            continue;
        const struct pl_hook_spec *s = pl_hook_info(h);
        json_array_append_new(hooks, hook_json(s));
        for (uint32_t k = 0; k < s->nhelpers; k++)
            if (s->helpers[k] < PL_HELPER_ID_MAX)
                seen[s->helpers[k]] = true;
    }
    for (uint32_t id = 0; id < PL_HELPER_ID_MAX; id++) {
        const struct pl_helper_spec *hs = seen[id] ? pl_helper_find(rt, id) : NULL;
        if (hs)
            json_array_append_new(helpers, helper_json(hs));
    }
    return json_pack("{s:i, s:o, s:o}", "format", CATALOG_FORMAT, "helpers", helpers, "hooks", hooks);
}

static uint64_t stub_helper(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    (void)a, (void)b, (void)c, (void)d, (void)e;
    return 0;
}

static int add_helper(json_t *j, pl_runtime *rt, char *err, size_t errlen)
{
    json_int_t id = -1, ret_size = 0, flags = 0;
    const char *name = NULL, *ret = NULL;
    json_t *args = NULL;
    if (json_unpack(j, "{s:I, s:s, s:o, s:s, s?I, s?I}", "id", &id, "name", &name, "args", &args, "ret", &ret,
                    "ret_size", &ret_size, "flags", &flags) ||
        id < 0 || id >= PL_HELPER_ID_MAX || !json_is_array(args) || json_array_size(args) > 5) {
        snprintf(err, errlen, "hook catalog: malformed helper entry");
        return -1;
    }
    struct pl_helper_spec spec = {.id = (uint32_t)id, .name = name, .fn = stub_helper,
                                  .ret_size = (uint32_t)ret_size, .flags = (uint32_t)flags};
    int r = name_index(ret_names, NELEM(ret_names), ret);
    if (r < 0) {
        snprintf(err, errlen, "hook catalog: helper %s: unknown return kind \"%s\"", name, ret);
        return -1;
    }
    spec.ret = (uint8_t)r;
    for (size_t i = 0; i < json_array_size(args); i++) {
        int a = name_index(arg_names, NELEM(arg_names), json_string_value(json_array_get(args, i)));
        if (a < 0) {
            snprintf(err, errlen, "hook catalog: helper %s: unknown argument kind", name);
            return -1;
        }
        spec.args[i] = (uint8_t)a;
    }
    const struct pl_helper_spec *have = pl_helper_find(rt, spec.id);
    if (have) {
        if (!have->name || strcmp(have->name, name) || memcmp(have->args, spec.args, 5) || have->ret != spec.ret) {
            snprintf(err, errlen, "hook catalog: helper %u is %s here but %s in the catalog (a different helper "
                                  "set: use the catalog of this pliantd build)",
                     spec.id, have->name ? have->name : "?", name);
            return -1;
        }
        return 0;
    }
    pl_error perr;
    if (pl_helper_register(rt, &spec, &perr)) {
        snprintf(err, errlen, "hook catalog: helper %s: %s", name, perr.msg);
        return -1;
    }
    return 0;
}

static int add_hook(json_t *j, pl_runtime *rt, char *err, size_t errlen)
{
    const char *name = NULL;
    json_int_t ctx_size = 0, fault_limit = 0;
    json_t *fields = NULL, *helpers = NULL, *ret = NULL;
    if (json_unpack(j, "{s:s, s:I, s:o, s:o, s:o, s?I}", "name", &name, "ctx_size", &ctx_size, "fields", &fields,
                    "helpers", &helpers, "return", &ret, "fault_limit", &fault_limit) ||
        !json_is_array(fields) || !json_is_array(helpers) || ctx_size < 0 || ctx_size > 65536) {
        snprintf(err, errlen, "hook catalog: malformed hook entry");
        return -1;
    }
    size_t nf = json_array_size(fields), nh = json_array_size(helpers);
    struct pl_hook_field *f = calloc(nf ? nf : 1, sizeof *f);
    uint32_t *hl = calloc(nh ? nh : 1, sizeof *hl);
    int rc = -1;
    if (!f || !hl) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nf; i++) {
        const char *fname = NULL, *access = NULL, *kind = "scalar";
        json_int_t off = -1, size = -1;
        if (json_unpack(json_array_get(fields, i), "{s:s, s:I, s:I, s:s, s?s}", "name", &fname, "offset", &off,
                        "size", &size, "access", &access, "kind", &kind) ||
            off < 0 || size < 0 || off > 65536 || size > 8) {
            snprintf(err, errlen, "hook catalog: hook %s: malformed field %zu", name, i);
            goto out;
        }
        f[i] = (struct pl_hook_field){fname, (uint32_t)off, (uint32_t)size,
                                      (uint8_t)(strcmp(access, "rw") == 0 ? PL_FIELD_READ | PL_FIELD_WRITE
                                                                          : PL_FIELD_READ),
                                      (uint8_t)(strcmp(kind, "handle") == 0 ? PL_FIELD_HANDLE : PL_FIELD_SCALAR)};
    }
    for (size_t i = 0; i < nh; i++) {
        json_t *id = json_array_get(helpers, i);
        if (!json_is_integer(id)) {
            snprintf(err, errlen, "hook catalog: hook %s: helper ids must be integers", name);
            goto out;
        }
        hl[i] = (uint32_t)json_integer_value(id);
    }
    struct pl_hook_spec spec = {.name = name, .ctx_size = (uint32_t)ctx_size, .fields = f, .nfields = (uint32_t)nf,
                                .helpers = hl, .nhelpers = (uint32_t)nh, .fault_limit = (uint32_t)fault_limit};
    if (!json_is_null(ret)) {
        json_int_t lo, hi;
        if (json_unpack(ret, "{s:I, s:I}", "min", &lo, "max", &hi)) {
            snprintf(err, errlen, "hook catalog: hook %s: malformed return range", name);
            goto out;
        }
        spec.has_ret_range = true;
        spec.ret_min = lo;
        spec.ret_max = hi;
    }
    pl_hook *h;
    pl_error perr;
    if (pl_hook_register(rt, &spec, &h, &perr)) {
        snprintf(err, errlen, "hook catalog: hook %s: %s", name, perr.msg);
        goto out;
    }
    rc = 0;
out:
    free(f);
    free(hl);
    return rc;
}

int catalog_to_runtime(const json_t *cat, pl_runtime *rt, char *err, size_t errlen)
{
    json_t *helpers = json_object_get(cat, "helpers"), *hooks = json_object_get(cat, "hooks");
    json_t *format = json_object_get(cat, "format");
    if (!json_is_integer(format) || json_integer_value(format) != CATALOG_FORMAT || !json_is_array(helpers) ||
        !json_is_array(hooks)) {
        snprintf(err, errlen, "not a hook catalog of format %d (expected format, helpers and hooks)", CATALOG_FORMAT);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(helpers); i++)
        if (add_helper(json_array_get(helpers, i), rt, err, errlen))
            return -1;
    for (size_t i = 0; i < json_array_size(hooks); i++)
        if (add_hook(json_array_get(hooks, i), rt, err, errlen))
            return -1;
    return 0;
}

pl_prog *catalog_select_prog(pl_object *obj, const char *hook_name, const char *section, char *err, size_t errlen)
{
    char want[96];
    snprintf(want, sizeof want, "hook/%.64s", hook_name);
    pl_prog *prog;
    if (section && *section)
        prog = pl_object_find_prog(obj, section);
    else if (pl_object_prog_count(obj) == 1)
        prog = pl_object_prog(obj, 0);
    else
        prog = pl_object_find_prog(obj, want);
    if (prog)
        return prog;
    if (section && *section)
        snprintf(err, errlen, "the object has no program in section \"%.100s\"", section);
    else
        snprintf(err, errlen, "the object holds %u programs and none in section \"%s\"; name one with a section",
                 pl_object_prog_count(obj), want);
    return NULL;
}

static int open_object(pl_runtime *rt, const struct catalog_load_opts *o, const struct pl_object_opts *oo,
                       pl_object **obj, pl_error *perr)
{
    return o->path ? pl_object_open_file(rt, o->path, oo, obj, perr)
                   : pl_object_open_mem(rt, o->data, o->len, oo, obj, perr);
}

int catalog_load(pl_runtime *rt, pl_hook *hook, const struct catalog_load_opts *o, struct catalog_load *out,
                 char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *hook_name = pl_hook_info(hook)->name;
    pl_error perr;
    struct pl_object_opts oo = {.inherit_maps_from = o->inherit_maps_from,
                                .verifier_log = o->verifier_log,
                                .verifier_log_user = o->verifier_log_user};
    bool bundle_failed = false; /* err holds why the bundle reading failed */
    if (!o->section || !*o->section) {
        oo.flags = PL_LOAD_HOOK_BY_SECTION;
        int rc = open_object(rt, o, &oo, &out->obj, &perr);
        if (rc == 0) {
            uint32_t n = pl_object_prog_count(out->obj);
            if (n > CATALOG_MAX_COMPANIONS + 1) {
                snprintf(err, errlen, "the object holds %u programs, more than %d", n, CATALOG_MAX_COMPANIONS + 1);
                pl_object_close(out->obj);
                memset(out, 0, sizeof *out);
                return -1;
            }
            for (uint32_t i = 0; i < n; i++) {
                pl_prog *p = pl_object_prog(out->obj, i);
                pl_hook *h = pl_hook_find(rt, pl_prog_name(p) + 5); /* "hook/NAME", checked by the loader */
                if (h == hook) {
                    out->main = p;
                } else {
                    out->companion_hook[out->ncompanions] = h;
                    out->companion[out->ncompanions++] = p;
                }
            }
            if (out->main)
                return 0;
            /* No program for this hook by its section: read it the plain
             * way below (a lone program is attached whatever its section
             * says, if it verifies for this hook). */
            pl_object_close(out->obj);
            memset(out, 0, sizeof *out);
        } else if (rc != PL_EHOOK || !strstr(perr.msg, "names no registered hook")) {
            /* A program broke the contract of the hook its section names. */
            snprintf(err, errlen, "%s", perr.msg);
            bundle_failed = true;
        }
        oo.flags = 0;
    }
    oo.hook = hook;
    if (open_object(rt, o, &oo, &out->obj, &perr)) {
        if (!bundle_failed)
            snprintf(err, errlen, "%s", perr.msg);
        return -1;
    }
    out->main = catalog_select_prog(out->obj, hook_name, o->section, err, errlen);
    if (out->main)
        return 0;
    pl_object_close(out->obj);
    memset(out, 0, sizeof *out);
    return -1;
}

int catalog_attach(pl_hook *hook, const struct catalog_load *l, char *err, size_t errlen)
{
    pl_error perr;
    for (uint32_t i = 0; i < l->ncompanions; i++)
        if (pl_hook_attach(l->companion_hook[i], l->companion[i], &perr)) {
            snprintf(err, errlen, "cannot attach to %s: %s", pl_hook_info(l->companion_hook[i])->name, perr.msg);
            return -1;
        }
    if (pl_hook_attach(hook, l->main, &perr)) {
        snprintf(err, errlen, "cannot attach to %s: %s", pl_hook_info(hook)->name, perr.msg);
        return -1;
    }
    return 0;
}
