/* pliantctl: the Manager's command line. Offline it verifies, packs and
 * signs extensions (ctl_offline.c); online it talks to pliantd's admin API
 * (server/admin.h) through client.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "ctl.h"
#include "fsutil.h"
#include "package.h"

/* ------------------------------------------------------------ connection */

static void default_paths(const struct ctl_args *a, char *sock, char *token)
{
    const char *dir = a->data_dir ? a->data_dir : getenv("PLIANT_DATA_DIR");
    if (!dir)
        dir = "data"; /* pliantd's default data directory */
    const char *addr = a->server ? a->server : a->data_dir ? NULL : getenv("PLIANT_ADMIN");
    const char *tok = a->token_file ? a->token_file : getenv("PLIANT_ADMIN_TOKEN_FILE");
    if (addr)
        snprintf(sock, PATH_MAX, "%s", addr);
    else
        snprintf(sock, PATH_MAX, "%.4000s/admin.sock", dir);
    if (tok)
        snprintf(token, PATH_MAX, "%s", tok);
    else
        snprintf(token, PATH_MAX, "%.4000s/admin.token", dir);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One request; *out (optional) receives the parsed JSON reply of a 200,
 * *elapsed_ms (optional) the time from sending it to the reply. Returns an
 * exit code, having printed the server's error if any. */
static int call_timed(const struct ctl_args *a, const char *method, const char *path, const void *body, size_t len,
                      json_t **out, double *elapsed_ms)
{
    char sock[PATH_MAX], token[PATH_MAX], err[1200];
    default_paths(a, sock, token);
    struct client c;
    if (client_open(&c, sock, token, err, sizeof err)) {
        ctl_err("%s", err);
        return CTL_UNREACHABLE;
    }
    char *resp = NULL;
    double t0 = now_ms();
    long status = client_request(&c, method, path, body, len, &resp, err, sizeof err);
    if (elapsed_ms)
        *elapsed_ms = now_ms() - t0;
    client_close(&c);
    if (status < 0) {
        ctl_err("%s", err);
        return CTL_UNREACHABLE;
    }
    json_t *j = json_loads(resp, 0, NULL);
    int rc = status == 200 ? CTL_OK : status == 401 ? CTL_AUTH : status >= 500 ? CTL_UNREACHABLE : CTL_REFUSED;
    if (rc != CTL_OK) {
        const char *msg = json_string_value(json_object_get(j, "error"));
        if (a->json && j)
            printf("%s", resp);
        ctl_err("%s (HTTP %ld)", msg ? msg : resp, status);
        json_decref(j);
    } else if (!j && out) {
        ctl_err("the server's reply is not JSON: %.200s", resp);
        rc = CTL_UNREACHABLE;
    } else if (out) {
        *out = j;
    } else {
        json_decref(j);
    }
    free(resp);
    return rc;
}

static int call(const struct ctl_args *a, const char *method, const char *path, const void *body, size_t len,
                json_t **out)
{
    return call_timed(a, method, path, body, len, out, NULL);
}

json_t *ctl_catalog(const struct ctl_args *a)
{
    json_error_t je;
    json_t *cat = NULL;
    if (a->catalog) {
        cat = json_load_file(a->catalog, 0, &je);
        if (!cat)
            ctl_err("%s: %s (line %d)", a->catalog, je.text, je.line);
    } else if (a->server || a->data_dir) {
        if (call(a, "GET", "/v1/catalog", NULL, 0, &cat) != CTL_OK)
            cat = NULL;
    } else {
        cat = json_loads(ctl_embedded_catalog, 0, &je);
        if (!cat)
            ctl_err("the built-in hook catalog does not parse: %s", je.text);
    }
    return cat;
}

/* ---------------------------------------------------------------- output */

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    if (s)
        printf("%s\n", s);
    free(s);
}

static void cell(json_t *v, char *out, size_t len)
{
    if (json_is_string(v))
        snprintf(out, len, "%s", json_string_value(v)[0] ? json_string_value(v) : "-");
    else if (json_is_integer(v))
        snprintf(out, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_true(v))
        snprintf(out, len, "yes");
    else if (json_is_false(v))
        snprintf(out, len, "no");
    else
        snprintf(out, len, "-");
}

struct column {
    const char *key, *title;
    int width; /* negative: left-aligned; longer text is cut */
};

static void table(json_t *rows, const struct column *cols, size_t ncols)
{
    for (size_t c = 0; c < ncols; c++)
        printf("%s%*s", c ? "  " : "", cols[c].width, cols[c].title);
    printf("\n");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        for (size_t c = 0; c < ncols; c++) {
            char buf[512];
            cell(json_object_get(row, cols[c].key), buf, sizeof buf);
            int w = cols[c].width < 0 ? -cols[c].width : cols[c].width;
            if (c + 1 < ncols && (int)strlen(buf) > w)
                buf[w] = 0;
            printf("%s%*s", c ? "  " : "", cols[c].width, buf);
        }
        printf("\n");
    }
}
#define NCOL(a) (sizeof(a) / sizeof((a)[0]))

/* GET path and show it: as JSON with --json, else as a table. */
static int list(const struct ctl_args *a, const char *path, const struct column *cols, size_t ncols)
{
    json_t *j;
    int rc = call(a, "GET", path, NULL, 0, &j);
    if (rc)
        return rc;
    if (a->json)
        print_json(j);
    else
        table(j, cols, ncols);
    json_decref(j);
    return CTL_OK;
}

static const struct column hook_cols[] = {
    {"hook", "HOOK", -14},         {"attached", "ATTACHED", -8}, {"version", "VERSION", -10},
    {"origin", "ORIGIN", -6},      {"program", "PROGRAM", -26},  {"invocations", "INVOCATIONS", 12},
    {"faults", "FAULTS", 7},
};
static const struct column stat_cols[] = {
    {"hook", "HOOK", -14},      {"version", "VERSION", -10},  {"invocations", "INVOCATIONS", 12},
    {"faults", "FAULTS", 7},    {"fallbacks", "FALLBACKS", 9}, {"avg_ns", "AVG_NS", 8},
    {"p99_ns", "P99_NS", 8},    {"samples", "SAMPLES", 8},
};
static const struct column ext_cols[] = {
    {"hook", "HOOK", -14},       {"version", "VERSION", -10}, {"active", "ACTIVE", -6},
    {"sha256", "SHA256", -12},   {"key_id", "KEY", -16},      {"loaded_at", "LOADED", -24},
    {"description", "DESCRIPTION", -1},
};
static const struct column map_cols[] = {
    {"map", "MAP", -24},           {"type", "TYPE", -16},        {"key_size", "KEY", 4},
    {"value_size", "VALUE", 6},    {"max_entries", "MAX", 8},    {"entries", "ENTRIES", 8},
};
static const struct column hist_cols[] = {
    {"time", "TIME", -24}, {"action", "ACTION", -9}, {"version", "VERSION", -10}, {"key_id", "KEY", -16},
    {"who", "WHO", -1},
};
static const struct column audit_cols[] = {
    {"time", "TIME", -24},     {"who", "WHO", -22},        {"action", "ACTION", -16}, {"hook", "HOOK", -14},
    {"version", "VERSION", -8}, {"result", "RESULT", -9}, {"error", "ERROR", -1},
};

/* -------------------------------------------------------------- commands */

static bool need_hook_arg(const struct ctl_args *a, const char *usage)
{
    if (a->npos == 1 && pkg_hook_name_valid(a->pos[0]))
        return true;
    ctl_err("usage: pliantctl %s", usage);
    return false;
}

static int cmd_hooks(const struct ctl_args *a)
{
    return list(a, "/v1/hooks", hook_cols, NCOL(hook_cols));
}

static int cmd_ls(const struct ctl_args *a) { return list(a, "/v1/extensions", ext_cols, NCOL(ext_cols)); }

static int cmd_stats(const struct ctl_args *a)
{
    if (a->npos > 1 || (a->npos == 1 && !pkg_hook_name_valid(a->pos[0]))) {
        ctl_err("usage: pliantctl stats [HOOK]");
        return CTL_USAGE;
    }
    char path[128];
    snprintf(path, sizeof path, a->npos ? "/v1/hooks/%s" : "/v1/hooks", a->npos ? a->pos[0] : "");
    json_t *j;
    int rc = call(a, "GET", path, NULL, 0, &j);
    if (rc)
        return rc;
    if (a->npos) { /* one hook: a table of one row, without the detail */
        json_t *row = json_deep_copy(j);
        json_object_del(row, "abi");
        json_object_del(row, "maps");
        json_object_del(row, "history");
        json_decref(j);
        j = json_pack("[o]", row);
    }
    if (a->json)
        print_json(a->npos ? json_array_get(j, 0) : j);
    else
        table(j, stat_cols, NCOL(stat_cols));
    json_decref(j);
    return CTL_OK;
}

static int cmd_show(const struct ctl_args *a)
{
    if (!need_hook_arg(a, "show HOOK"))
        return CTL_USAGE;
    char path[128];
    snprintf(path, sizeof path, "/v1/hooks/%s", a->pos[0]);
    json_t *j;
    int rc = call(a, "GET", path, NULL, 0, &j);
    if (rc)
        return rc;
    if (a->json) {
        print_json(j);
        json_decref(j);
        return CTL_OK;
    }
    static const char *const keys[] = {"hook",   "attached", "version", "sha256",      "key_id",    "origin",
                                       "program", "insns",   "jit",     "invocations", "faults",    "fallbacks",
                                       "avg_ns", "p99_ns",   "samples", "breaker_trips", "breaker_reason"};
    for (size_t i = 0; i < NCOL(keys); i++) {
        char buf[512];
        cell(json_object_get(j, keys[i]), buf, sizeof buf);
        printf("%-15s %s\n", keys[i], buf);
    }
    json_t *abi = json_object_get(j, "abi"), *ret = json_object_get(abi, "return");
    printf("%-15s %lld bytes, %zu fields, %zu helpers allowed, return ", "context",
           (long long)json_integer_value(json_object_get(abi, "ctx_size")),
           json_array_size(json_object_get(abi, "fields")), json_array_size(json_object_get(abi, "helpers")));
    if (json_is_object(ret))
        printf("%lld..%lld\n", (long long)json_integer_value(json_object_get(ret, "min")),
               (long long)json_integer_value(json_object_get(ret, "max")));
    else
        printf("any\n");
    printf("\nmaps:\n");
    table(json_object_get(j, "maps"), map_cols, NCOL(map_cols));
    printf("\nhistory:\n");
    table(json_object_get(j, "history"), hist_cols, NCOL(hist_cols));
    json_decref(j);
    return CTL_OK;
}

static int hook_get(const struct ctl_args *a, const char *usage, const char *suffix, const struct column *cols,
                    size_t ncols)
{
    if (!need_hook_arg(a, usage))
        return CTL_USAGE;
    char path[128];
    snprintf(path, sizeof path, "/v1/hooks/%s/%s", a->pos[0], suffix);
    return list(a, path, cols, ncols);
}

static int cmd_maps(const struct ctl_args *a) { return hook_get(a, "maps HOOK", "maps", map_cols, NCOL(map_cols)); }

static int cmd_history(const struct ctl_args *a)
{
    return hook_get(a, "history HOOK", "history", hist_cols, NCOL(hist_cols));
}

static int cmd_audit(const struct ctl_args *a)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/audit?limit=%d", a->limit ? atoi(a->limit) : 100);
    return list(a, path, audit_cols, NCOL(audit_cols));
}

static int cmd_map(const struct ctl_args *a)
{
    if (a->npos != 2 || strcmp(a->pos[0], "dump") != 0 || strlen(a->pos[1]) > 64 || strpbrk(a->pos[1], "/?&#% ")) {
        ctl_err("usage: pliantctl map dump NAME [--hook HOOK] [--limit N]");
        return CTL_USAGE;
    }
    char path[256];
    int n = snprintf(path, sizeof path, "/v1/maps/%s?limit=%d", a->pos[1], a->limit ? atoi(a->limit) : 10000);
    if (a->hook && pkg_hook_name_valid(a->hook))
        snprintf(path + n, sizeof path - (size_t)n, "&hook=%s", a->hook);
    json_t *j;
    int rc = call(a, "GET", path, NULL, 0, &j);
    if (rc)
        return rc;
    if (a->json) {
        print_json(j);
    } else {
        printf("map %s of hook %s (%s, %lld entries)\n", a->pos[1], json_string_value(json_object_get(j, "hook")),
               json_string_value(json_object_get(j, "type")),
               (long long)json_integer_value(json_object_get(j, "entries")));
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(j, "entries_shown"), i, e)
        {
            char k[512], v[512];
            cell(json_object_get(e, "key"), k, sizeof k);
            cell(json_object_get(e, "value"), v, sizeof v);
            printf("%20s  %s\n", k, v);
        }
        if (json_is_true(json_object_get(j, "truncated")))
            printf("... (more; raise --limit)\n");
    }
    json_decref(j);
    return CTL_OK;
}

static double ms(json_t *j, const char *key) { return (double)json_integer_value(json_object_get(j, key)) / 1e6; }

static void print_change(const char *what, json_t *j, double elapsed_ms)
{
    const char *prev = json_string_value(json_object_get(j, "previous"));
    if (json_is_true(json_object_get(j, "unchanged")))
        printf("hook %s: version %s was already active; nothing changed\n",
               json_string_value(json_object_get(j, "hook")), json_string_value(json_object_get(j, "version")));
    else
        printf("hook %s: version %s active (%s%s%s); %.2f ms from request to active (server %.2f ms: load %.2f%s, "
               "persist %.2f, attach %.3f)\n",
               json_string_value(json_object_get(j, "hook")), json_string_value(json_object_get(j, "version")), what,
               prev ? ", was " : "", prev ? prev : "", elapsed_ms, ms(j, "total_ns"), ms(j, "load_ns"),
               json_is_true(json_object_get(j, "verify_cached")) ? " cached" : "", ms(j, "persist_ns"),
               ms(j, "attach_ns"));
}

/* POSTs body to path and reports the change with the client-side time. */
static int change(const struct ctl_args *a, const char *what, const char *path, const void *body, size_t len)
{
    json_t *j;
    double elapsed;
    int rc = call_timed(a, "POST", path, body, len, &j, &elapsed);
    if (rc)
        return rc;
    if (a->json) {
        json_object_set_new(j, "elapsed_ns", json_integer((json_int_t)(elapsed * 1e6)));
        print_json(j);
    } else if (strcmp(what, "detached") == 0) {
        const char *prev = json_string_value(json_object_get(j, "previous"));
        printf("hook %s: detached%s%s; the built-in behaviour is back\n", json_string_value(json_object_get(j, "hook")),
               prev ? " version " : "", prev ? prev : "");
    } else {
        print_change(what, j, elapsed);
    }
    json_decref(j);
    return CTL_OK;
}

static int cmd_push(const struct ctl_args *a)
{
    uint8_t *data;
    size_t len;
    if (ctl_read_arg(a, true, "usage: pliantctl push PACKAGE [--server ADDR]", &data, &len))
        return CTL_USAGE;
    int rc = change(a, "pushed", "/v1/extensions", data, len);
    free(data);
    return rc;
}

static int cmd_detach(const struct ctl_args *a)
{
    if (!need_hook_arg(a, "detach HOOK"))
        return CTL_USAGE;
    char path[128];
    snprintf(path, sizeof path, "/v1/hooks/%s/detach", a->pos[0]);
    return change(a, "detached", path, NULL, 0);
}

static int cmd_rollback(const struct ctl_args *a)
{
    if (a->npos < 1 || a->npos > 2 || !pkg_hook_name_valid(a->pos[0]) ||
        (a->npos == 2 && !pkg_version_valid(a->pos[1]))) {
        ctl_err("usage: pliantctl rollback HOOK [VERSION]");
        return CTL_USAGE;
    }
    char path[128], body[96];
    snprintf(path, sizeof path, "/v1/hooks/%s/rollback", a->pos[0]);
    if (a->npos == 2)
        snprintf(body, sizeof body, "{\"version\": \"%s\"}", a->pos[1]);
    else
        snprintf(body, sizeof body, "{}");
    return change(a, "rolled back", path, body, strlen(body));
}

static int cmd_catalog(const struct ctl_args *a)
{
    json_t *j = ctl_catalog(a);
    if (!j)
        return CTL_UNREACHABLE;
    print_json(j);
    json_decref(j);
    return CTL_OK;
}

/* ------------------------------------------------------------ dispatch */

static const struct command {
    const char *name, *usage, *summary;
    int (*fn)(const struct ctl_args *);
} commands[] = {
    {"keygen", "keygen NAME [--comment TEXT]", "make an Ed25519 key pair NAME.key (secret) and NAME.pub", ctl_keygen},
    {"verify", "verify FILE.o --hook HOOK [--section S] [--catalog FILE] [-v]",
     "verify a program for a hook offline (exit 0 only if it would load)", ctl_verify},
    {"pack", "pack FILE.o --hook HOOK --version V [--section S] [--description T] [--key KEY] [-o OUT]",
     "verify, then package (and sign, with --key)", ctl_pack},
    {"sign", "sign PACKAGE --key KEY [-o OUT]", "verify a package's program, then sign it", ctl_sign},
    {"inspect", "inspect PACKAGE", "show a package's manifest and signer", ctl_inspect},
    {"push", "push PACKAGE", "upload: the server checks the signature, verifies, stores, attaches", cmd_push},
    {"hooks", "hooks", "list the server's hooks and what is attached", cmd_hooks},
    {"ls", "ls", "list the stored package versions", cmd_ls},
    {"show", "show HOOK", "one hook: program, counters, ABI, maps, history", cmd_show},
    {"stats", "stats [HOOK]", "invocations, faults, fallbacks, average and p99 latency", cmd_stats},
    {"maps", "maps HOOK", "maps of the program attached to HOOK", cmd_maps},
    {"map", "map dump NAME [--hook HOOK] [--limit N]", "a map's entries", cmd_map},
    {"detach", "detach HOOK", "detach HOOK's program (the built-in behaviour returns)", cmd_detach},
    {"rollback", "rollback HOOK [VERSION]", "re-attach VERSION, or the version active before", cmd_rollback},
    {"history", "history HOOK", "HOOK's attach, rollback and detach history", cmd_history},
    {"audit", "audit [--limit N]", "the server's audit log: every change and refusal", cmd_audit},
    {"catalog", "catalog [--catalog FILE]", "print the hook catalog (the server's with --server/-D)", cmd_catalog},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: pliantctl [options] COMMAND [args]\n\n"
               "The Manager: verifies, packages, signs and pushes eBPF extensions to pliantd,\n"
               "and inspects what runs there.\n\ncommands:\n");
    for (size_t i = 0; i < NCOL(commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\noptions (every command):\n"
               "  --server ADDR       admin API: socket path or HOST:PORT (env PLIANT_ADMIN)\n"
               "  -D, --data-dir DIR  the server's data directory: socket DIR/admin.sock, token\n"
               "                      DIR/admin.token (env PLIANT_DATA_DIR; default ./data)\n"
               "  --token-file FILE   admin token (env PLIANT_ADMIN_TOKEN_FILE)\n"
               "  --json              machine-readable output\n"
               "  -v, --verbose       verify: the verifier's per-instruction log\n"
               "  --help              this text; COMMAND --help: that command's usage\n"
               "\nexit codes: 0 done; 1 refused (verifier, signature, not found, conflict);\n"
               "2 usage; 3 server unreachable or server-side failure; 4 admin token refused\n");
}

int main(int argc, char **argv)
{
    struct ctl_args a = {0};
    const char *cmd = NULL;
    bool help = false;
    static const struct {
        const char *opt, *alt;
        size_t off;
    } valued[] = {
        {"--hook", NULL, offsetof(struct ctl_args, hook)},
        {"--section", NULL, offsetof(struct ctl_args, section)},
        {"--version", NULL, offsetof(struct ctl_args, version)},
        {"--description", NULL, offsetof(struct ctl_args, description)},
        {"--key", NULL, offsetof(struct ctl_args, key)},
        {"--out", "-o", offsetof(struct ctl_args, out)},
        {"--catalog", NULL, offsetof(struct ctl_args, catalog)},
        {"--comment", NULL, offsetof(struct ctl_args, comment)},
        {"--server", NULL, offsetof(struct ctl_args, server)},
        {"--token-file", NULL, offsetof(struct ctl_args, token_file)},
        {"--data-dir", "-D", offsetof(struct ctl_args, data_dir)},
        {"--limit", NULL, offsetof(struct ctl_args, limit)},
    };
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            help = true;
            continue;
        }
        if (strcmp(s, "--json") == 0) {
            a.json = true;
            continue;
        }
        if (strcmp(s, "-v") == 0 || strcmp(s, "--verbose") == 0) {
            a.verbose = true;
            continue;
        }
        bool matched = false;
        for (size_t k = 0; k < NCOL(valued); k++)
            if (strcmp(s, valued[k].opt) == 0 || (valued[k].alt && strcmp(s, valued[k].alt) == 0)) {
                if (i + 1 >= argc) {
                    ctl_err("%s needs a value", s);
                    return CTL_USAGE;
                }
                *(const char **)((char *)&a + valued[k].off) = argv[++i];
                matched = true;
            }
        if (matched)
            continue;
        if (s[0] == '-' && s[1]) {
            ctl_err("unknown option %s (see pliantctl --help)", s);
            return CTL_USAGE;
        }
        if (!cmd)
            cmd = s;
        else if (a.npos < (int)NCOL(a.pos))
            a.pos[a.npos++] = s;
        else {
            ctl_err("too many arguments");
            return CTL_USAGE;
        }
    }
    if (!cmd) {
        usage(help ? stdout : stderr);
        return help ? CTL_OK : CTL_USAGE;
    }
    for (size_t i = 0; i < NCOL(commands); i++) {
        if (strcmp(cmd, commands[i].name) != 0)
            continue;
        if (help) {
            printf("usage: pliantctl %s\n  %s\n(pliantctl --help: options and exit codes)\n", commands[i].usage,
                   commands[i].summary);
            return CTL_OK;
        }
        return commands[i].fn(&a);
    }
    ctl_err("unknown command \"%s\" (see pliantctl --help)", cmd);
    return CTL_USAGE;
}
