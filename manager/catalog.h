/* The hook catalog: each hook's ABI (context fields, helper allowlist,
 * return contract) as JSON, so that a program can be verified for a hook
 * away from the server. pliantd publishes it (`pliantd
 * --print-hook-catalog`, GET /v1/catalog) from the hooks it registered,
 * and sdk/hook-catalog.json ships a copy (a test keeps it equal to the
 * server's output). pliantctl rebuilds the hooks from it in a runtime of
 * its own and runs the same verifier.
 *
 *   {"format": 1,
 *    "helpers": [{"id": 1, "name": "bpf_map_lookup_elem", "args": ["map", "map_key"],
 *                 "ret": "map_value_or_null", "ret_size": 0, "flags": 0}, ...],
 *    "hooks": [{"name": "admit", "ctx_size": 40,
 *               "fields": [{"name": "tenant", "offset": 0, "size": 4, "access": "r", "kind": "scalar"}, ...],
 *               "helpers": [1, 2, ...],
 *               "return": {"min": 0, "max": 2}      (null: any value)
 *               "fault_limit": 16}, ...]}
 *
 * A hook's return validator, if it has one, cannot be written down; the
 * server's hooks have none (their contracts are ranges). */
#ifndef PL_MANAGER_CATALOG_H
#define PL_MANAGER_CATALOG_H

#include <jansson.h>
#include <pliant/pliant.h>
#include <stddef.h>

#define CATALOG_FORMAT 1

/* The catalog of the named hooks of rt (names not registered are left
 * out), with every helper they allow. NULL when out of memory. */
json_t *catalog_from_runtime(const pl_runtime *rt, const char *const *names, size_t n);

/* Registers the catalog's hooks in rt, and each helper rt lacks as a stub
 * (for verification only: it returns 0). A helper rt has under the same
 * id must have the same name and signature. */
int catalog_to_runtime(const json_t *cat, pl_runtime *rt, char *err, size_t errlen);

/* Picks the program to attach from an object loaded for hook_name: the one
 * in section (when given), else the object's only program, else the one in
 * section "hook/<hook_name>". NULL with a message in err. pliantd and
 * pliantctl choose the same way. */
pl_prog *catalog_select_prog(pl_object *obj, const char *hook_name, const char *section, char *err, size_t errlen);

/* An extension object loaded for one hook, the way pliantd and pliantctl
 * load them. When no section is named and every program sits in a
 * "hook/NAME" section of a registered hook, each program is verified for
 * the hook its section names: a bundle, whose program for hook_name is
 * `main` and whose others are its companions (a buffer-pool policy's
 * page_fetch and page_unpin programs beside its page_evict one, sharing
 * its maps), to be attached and detached with it. Otherwise every program
 * is verified for hook_name and main is chosen by catalog_select_prog. */
#define CATALOG_MAX_COMPANIONS 8
struct catalog_load {
    pl_object *obj;
    pl_prog *main; /* borrowed from obj, as are the companions */
    uint32_t ncompanions;
    pl_prog *companion[CATALOG_MAX_COMPANIONS];
    pl_hook *companion_hook[CATALOG_MAX_COMPANIONS];
};
struct catalog_load_opts {
    const char *path;        /* the object's file, or: */
    const void *data;        /* its bytes */
    size_t len;
    const char *section;     /* NULL or "": choose as described */
    pl_prog *inherit_maps_from;
    pl_verifier_log_fn verifier_log;
    void *verifier_log_user;
};
/* 0, or -1 with the loader's or verifier's message in err. Close out->obj
 * when done (the hooks keep their own references). */
int catalog_load(pl_runtime *rt, pl_hook *hook, const struct catalog_load_opts *o, struct catalog_load *out,
                 char *err, size_t errlen);
/* Attaches the companions, then main (so that a pool policy's unpin
 * program files frames before its eviction program looks for them). On
 * failure nothing that was attached before stays changed only if the
 * failing swap was the first; the message says which hook failed. */
int catalog_attach(pl_hook *hook, const struct catalog_load *l, char *err, size_t errlen);

#endif
