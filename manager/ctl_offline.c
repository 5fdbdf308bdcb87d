/* pliantctl's commands that need no server: keygen, verify, pack, sign,
 * inspect. Verification rebuilds the hooks from the hook catalog in a
 * runtime of its own and runs the runtime's verifier, the one pliantd
 * runs: a program that passes here loads there (for the same catalog). */
#include <limits.h>
#include <pliant/pliant.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "ctl.h"
#include "fsutil.h"
#include "keys.h"
#include "package.h"

void ctl_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("pliantctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int ctl_read(const char *path, uint8_t **data, size_t *len)
{
    char err[600];
    if (fs_read_file(path, PKG_MAX_SIZE, data, len, err, sizeof err)) {
        ctl_err("%s", err);
        return -1;
    }
    return 0;
}

int ctl_read_arg(const struct ctl_args *a, bool args_ok, const char *usage, uint8_t **data, size_t *len)
{
    if (a->npos != 1 || !args_ok) {
        ctl_err("%s", usage);
        return -1;
    }
    return ctl_read(a->pos[0], data, len);
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(j);
}

static void verifier_line(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "  %s\n", line);
}

struct verified {
    char program[128];
    uint32_t insns;
    uint64_t verify_ns;
    uint32_t ncompanions; /* programs for further hooks (catalog_load) */
    char companions[CATALOG_MAX_COMPANIONS][64];
};

/* Loads obj for hook in a runtime built from the catalog; 0 when it would
 * load in pliantd. err holds the verifier's message (with the source line
 * for objects built with clang -g). */
static int verify_object(const struct ctl_args *a, const char *hook, const char *section, const uint8_t *obj,
                         size_t len, struct verified *out, char *err, size_t errlen)
{
    json_t *cat = ctl_catalog(a);
    if (!cat) {
        snprintf(err, errlen, "no hook catalog");
        return -1;
    }
    pl_runtime *rt = NULL;
    pl_error perr;
    int rc = -1;
    if (pl_runtime_new(&(struct pl_runtime_opts){.flags = PL_RUNTIME_NO_VERIFY_CACHE}, &rt, &perr)) {
        snprintf(err, errlen, "%s", perr.msg);
        goto out;
    }
    if (catalog_to_runtime(cat, rt, err, errlen))
        goto out;
    pl_hook *h = pl_hook_find(rt, hook);
    if (!h) {
        size_t used = (size_t)snprintf(err, errlen, "unknown hook \"%s\"; the catalog has:", hook);
        json_t *hooks = json_object_get(cat, "hooks"), *e;
        size_t i;
        json_array_foreach(hooks, i, e)
        {
            if (used < errlen)
                used += (size_t)snprintf(err + used, errlen - used, " %s",
                                         json_string_value(json_object_get(e, "name")));
        }
        goto out;
    }
    struct catalog_load l;
    struct catalog_load_opts lo = {.data = obj, .len = len, .section = section,
                                   .verifier_log = a->verbose ? verifier_line : NULL};
    if (catalog_load(rt, h, &lo, &l, err, errlen) == 0) {
        struct pl_verifier_stats vs;
        pl_prog_verifier_stats(l.main, &vs);
        snprintf(out->program, sizeof out->program, "%s", pl_prog_name(l.main));
        out->insns = pl_prog_insn_count(l.main);
        out->verify_ns = vs.ns;
        out->ncompanions = l.ncompanions;
        for (uint32_t i = 0; i < l.ncompanions; i++)
            snprintf(out->companions[i], sizeof out->companions[i], "%s", pl_hook_info(l.companion_hook[i])->name);
        pl_object_close(l.obj);
        rc = 0;
    }
out:
    if (rt)
        pl_runtime_free(rt);
    json_decref(cat);
    return rc;
}

int ctl_verify(const struct ctl_args *a)
{
    uint8_t *obj;
    size_t len;
    char err[1024];
    if (ctl_read_arg(a, a->hook, "usage: pliantctl verify FILE.o --hook HOOK [--section S] [--catalog FILE] [-v]",
                     &obj, &len))
        return CTL_USAGE;
    struct verified v = {0};
    int rc = verify_object(a, a->hook, a->section, obj, len, &v, err, sizeof err);
    free(obj);
    if (a->json) {
        json_t *j = json_pack("{s:s, s:s, s:b}", "file", a->pos[0], "hook", a->hook, "ok", rc == 0);
        if (rc)
            json_object_set_new(j, "error", json_string(err));
        else
            json_object_set_new(j, "program", json_pack("{s:s, s:I, s:I}", "name", v.program, "insns",
                                                         (json_int_t)v.insns, "verify_ns", (json_int_t)v.verify_ns));
        json_t *with = json_array();
        for (uint32_t i = 0; i < v.ncompanions; i++)
            json_array_append_new(with, json_string(v.companions[i]));
        json_object_set_new(j, "with_hooks", with);
        print_json(j);
    } else if (rc) {
        fprintf(stderr, "%s: rejected for hook %s:\n%s\n", a->pos[0], a->hook, err);
    } else {
        printf("%s: ok for hook %s (program %s, %u instructions, verified in %.1f us)\n", a->pos[0], a->hook,
               v.program, v.insns, (double)v.verify_ns / 1e3);
        for (uint32_t i = 0; i < v.ncompanions; i++)
            printf("  with a program for hook %s, attached and detached with it\n", v.companions[i]);
    }
    return rc ? CTL_REFUSED : CTL_OK;
}

static int load_key(const char *path, struct pl_key *k)
{
    char err[600];
    if (key_load_secret(path, k, err, sizeof err)) {
        ctl_err("%s", err);
        return -1;
    }
    return 0;
}

static int write_out(const char *path, const uint8_t *data, size_t len)
{
    char err[600];
    if (fs_write_atomic(path, data, len, 0644, err, sizeof err)) {
        ctl_err("%s", err);
        return -1;
    }
    return 0;
}

/* Signs pkg (if key) and writes it to out; prints what it did. */
static int finish_package(const struct ctl_args *a, const uint8_t *pkg, size_t len, const char *out,
                          const struct verified *v)
{
    uint8_t *signed_pkg = NULL;
    size_t slen = 0;
    struct pl_key k;
    char err[600];
    if (a->key) {
        if (load_key(a->key, &k))
            return CTL_USAGE;
        int rc = pkg_sign(pkg, len, &k, &signed_pkg, &slen, err, sizeof err);
        key_wipe(&k);
        if (rc) {
            ctl_err("%s", err);
            return CTL_REFUSED;
        }
        pkg = signed_pkg;
        len = slen;
    }
    int rc = write_out(out, pkg, len);
    struct pkg p;
    if (!rc && pkg_parse(pkg, len, &p, err, sizeof err) == 0) {
        if (a->json)
            print_json(json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:s}", "file", out, "hook", p.m.hook, "version",
                                 p.m.version, "sha256", p.m.sha256, "key_id",
                                 p.is_signed ? json_string(p.key_id_hex) : json_null(), "size", (json_int_t)len,
                                 "program", v->program));
        else
            printf("%s: hook %s version %s, program %s (%u instructions) verified, %s%s\n  sha256 %s\n", out,
                   p.m.hook, p.m.version, v->program, v->insns,
                   p.is_signed ? "signed by key " : "unsigned (sign it with pliantctl sign --key KEY)",
                   p.is_signed ? p.key_id_hex : "", p.m.sha256);
    }
    free(signed_pkg);
    return rc ? CTL_UNREACHABLE : CTL_OK;
}

int ctl_pack(const struct ctl_args *a)
{
    if (a->npos != 1 || !a->hook || !a->version) {
        ctl_err("usage: pliantctl pack FILE.o --hook HOOK --version V [--section S] [--description TEXT] "
                "[--key KEY] [-o OUT.pkg]");
        return CTL_USAGE;
    }
    struct pkg_manifest m = {0};
    if (strlen(a->hook) >= sizeof m.hook || strlen(a->version) >= sizeof m.version ||
        (a->section && strlen(a->section) >= sizeof m.section) ||
        (a->description && strlen(a->description) >= sizeof m.description)) {
        ctl_err("hook, version, section or description too long");
        return CTL_USAGE;
    }
    snprintf(m.hook, sizeof m.hook, "%s", a->hook);
    snprintf(m.version, sizeof m.version, "%s", a->version);
    snprintf(m.section, sizeof m.section, "%s", a->section ? a->section : "");
    snprintf(m.description, sizeof m.description, "%s", a->description ? a->description : "");
    uint8_t *obj, *pkg;
    size_t len, plen;
    char err[1024], out[PATH_MAX];
    if (ctl_read(a->pos[0], &obj, &len))
        return CTL_USAGE;
    /* Only a program that verifies is packed (and so signed). */
    struct verified v = {0};
    if (verify_object(a, m.hook, m.section, obj, len, &v, err, sizeof err)) {
        fprintf(stderr, "%s: rejected for hook %s, not packed:\n%s\n", a->pos[0], m.hook, err);
        free(obj);
        return CTL_REFUSED;
    }
    int rc = pkg_build(&m, obj, len, &pkg, &plen, err, sizeof err);
    free(obj);
    if (rc) {
        ctl_err("%s", err);
        return CTL_USAGE;
    }
    if (a->out)
        snprintf(out, sizeof out, "%s", a->out);
    else
        snprintf(out, sizeof out, "%s-%s.pkg", m.hook, m.version);
    rc = finish_package(a, pkg, plen, out, &v);
    free(pkg);
    return rc;
}

int ctl_sign(const struct ctl_args *a)
{
    uint8_t *data;
    size_t len;
    char err[1024];
    if (ctl_read_arg(a, a->key, "usage: pliantctl sign PACKAGE --key KEY [-o OUT.pkg]", &data, &len))
        return CTL_USAGE;
    struct pkg p;
    struct verified v = {0};
    int rc = CTL_REFUSED;
    if (pkg_parse(data, len, &p, err, sizeof err))
        ctl_err("%s: %s", a->pos[0], err);
    else if (verify_object(a, p.m.hook, p.m.section, p.object, p.object_len, &v, err, sizeof err))
        fprintf(stderr, "%s: rejected for hook %s, not signed:\n%s\n", a->pos[0], p.m.hook, err);
    else
        rc = finish_package(a, data, p.unsigned_len, a->out ? a->out : a->pos[0], &v);
    free(data);
    return rc;
}

int ctl_inspect(const struct ctl_args *a)
{
    uint8_t *data;
    size_t len;
    char err[1024];
    if (ctl_read_arg(a, true, "usage: pliantctl inspect PACKAGE", &data, &len))
        return CTL_USAGE;
    struct pkg p;
    int rc = pkg_parse(data, len, &p, err, sizeof err);
    if (rc)
        ctl_err("%s: %s", a->pos[0], err);
    else if (a->json)
        print_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o}", "file", a->pos[0], "hook", p.m.hook,
                             "version", p.m.version, "sha256", p.m.sha256, "section", p.m.section, "description",
                             p.m.description, "object_size", (json_int_t)p.object_len, "key_id",
                             p.is_signed ? json_string(p.key_id_hex) : json_null()));
    else
        printf("hook:        %s\nversion:     %s\nsection:     %s\ndescription: %s\nobject:      %zu bytes, "
               "sha256 %s\nsigned by:   %s\n",
               p.m.hook, p.m.version, p.m.section[0] ? p.m.section : "(default)", p.m.description, p.object_len,
               p.m.sha256, p.is_signed ? p.key_id_hex : "(unsigned)");
    free(data);
    return rc ? CTL_REFUSED : CTL_OK;
}

int ctl_keygen(const struct ctl_args *a)
{
    if (a->npos != 1) {
        ctl_err("usage: pliantctl keygen NAME [--comment TEXT]   (writes NAME.key and NAME.pub)");
        return CTL_USAGE;
    }
    struct pl_key k;
    char err[600];
    if (key_generate(&k, a->comment ? a->comment : a->pos[0])) {
        ctl_err("cannot generate a key (libsodium)");
        return CTL_UNREACHABLE;
    }
    int rc = key_write(&k, a->pos[0], err, sizeof err);
    if (rc)
        ctl_err("%s", err);
    else if (a->json)
        print_json(json_pack("{s:s, s:s+, s:s+}", "key_id", k.id_hex, "secret", a->pos[0], ".key", "public",
                             a->pos[0], ".pub"));
    else
        printf("key %s: secret %s.key (keep it; mode 0600), public %s.pub (copy it into the server's "
               "trusted_keys_dir)\n",
               k.id_hex, a->pos[0], a->pos[0]);
    key_wipe(&k);
    return rc ? CTL_REFUSED : CTL_OK;
}
