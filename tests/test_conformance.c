/* Runs every bpf_conformance vector in ../shared/conformance/tests on both
 * engines (interpreter, JIT) and the JIT with constant blinding; one test
 * case per vector and engine. */
#include "testlib.h"
#include "conformance_env.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

struct vector {
    char name[128];
    struct pl_insn *insns;
    uint32_t ninsns;
    uint8_t *mem;
    size_t nmem;
    uint64_t result;
    bool expect_error;
};

enum engine { ENGINE_INTERP, ENGINE_JIT, ENGINE_JIT_BLIND };

struct vcase {
    struct vector *v;
    enum engine engine;
};

static bool parse_vector(const char *path, struct vector *v)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[4096];
    enum { NONE, RAW, MEM, RESULT, ERROR } section = NONE;
    size_t cap = 0;
    bool have_result = false;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#')
            continue;
        if (!strncmp(line, "-- raw", 6)) { section = RAW; continue; }
        if (!strncmp(line, "-- mem", 6)) { section = MEM; continue; }
        if (!strncmp(line, "-- result", 9)) { section = RESULT; continue; }
        if (!strncmp(line, "-- error", 8)) { section = ERROR; v->expect_error = true; continue; }
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '\n' || !*p)
            continue;
        if (section == RAW) {
            uint64_t word = strtoull(p, NULL, 16);
            if (v->ninsns == cap) {
                cap = cap ? cap * 2 : 16;
                v->insns = realloc(v->insns, cap * sizeof(*v->insns));
            }
            memcpy(&v->insns[v->ninsns++], &word, 8);
        } else if (section == MEM) {
            uint8_t *bytes;
            long n = pl_parse_hex_bytes(p, &bytes);
            if (n < 0) { fclose(f); return false; }
            v->mem = realloc(v->mem, v->nmem + (size_t)n + 1);
            memcpy(v->mem + v->nmem, bytes, (size_t)n);
            v->nmem += (size_t)n;
            free(bytes);
        } else if (section == RESULT) {
            v->result = strtoull(p, NULL, 16);
            have_result = true;
        }
    }
    fclose(f);
    return v->ninsns > 0 && (have_result || v->expect_error);
}

static void run_vector(void *arg)
{
    struct vcase *c = arg;
    struct vector *v = c->v;
    pl_error err = {0};
    pl_runtime *rt;
    if (pl_conformance_runtime(&rt, &err)) {
        tl_failf(__FILE__, __LINE__, "runtime: %s", err.msg);
        return;
    }
    unsigned flags = PL_LOAD_NO_VERIFY | (c->engine == ENGINE_INTERP ? PL_LOAD_NO_JIT : 0) |
                     (c->engine == ENGINE_JIT_BLIND ? PL_LOAD_BLIND_CONSTANTS : 0);
    struct pl_prog_opts opts = {.name = v->name, .flags = flags};
    pl_prog *prog = NULL;
    int rc = pl_prog_load(rt, v->insns, v->ninsns, &opts, &prog, &err);
    uint8_t *mem = v->nmem ? malloc(v->nmem) : NULL; /* a private copy, as the suite specifies */
    if (mem)
        memcpy(mem, v->mem, v->nmem);
    uint64_t r0 = 0;
    if (!rc)
        rc = pl_prog_run(prog, mem, v->nmem, c->engine != ENGINE_INTERP, &r0);
    if (v->expect_error) {
        if (!rc)
            tl_failf(__FILE__, __LINE__, "%s: expected an error, got r0 = 0x%" PRIx64, v->name, r0);
    } else if (rc) {
        tl_failf(__FILE__, __LINE__, "%s: %s: %s", v->name, pl_strerror(rc), err.msg);
    } else if (r0 != v->result) {
        tl_failf(__FILE__, __LINE__, "%s: r0 = 0x%" PRIx64 ", expected 0x%" PRIx64, v->name, r0, v->result);
    } else if (c->engine != ENGINE_INTERP && !pl_prog_is_jitted(prog)) {
        tl_failf(__FILE__, __LINE__, "%s: JIT requested but the program ran interpreted", v->name);
    }
    free(mem);
    pl_prog_put(prog);
    pl_runtime_free(rt);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void missing_vectors(void *arg)
{
    tl_failf(__FILE__, __LINE__, "no conformance vectors found in %s (set PLIANT_SHARED)", (const char *)arg);
}

/* Registers one case per vector and engine at start-up. Vectors live until
 * the process exits (the suite runs once per process). */
__attribute__((constructor)) static void register_vectors(void)
{
    static char dir[1024];
    snprintf(dir, sizeof(dir), "%s/conformance/tests", tl_shared_dir());
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".data")) {
            names = realloc(names, (n + 1) * sizeof(*names));
            names[n++] = strdup(e->d_name);
        }
    }
    if (d)
        closedir(d);
    if (n == 0) {
        tl_register("conformance_vectors_present", missing_vectors, dir);
        return;
    }
    qsort(names, n, sizeof(*names), cmp_names);
    static const char *engine_names[] = {"interp", "jit", "jit_blind"};
    for (size_t i = 0; i < n; i++) {
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        struct vector *v = calloc(1, sizeof(*v));
        snprintf(v->name, sizeof(v->name), "%.*s", (int)(strlen(names[i]) - 5), names[i]);
        if (!parse_vector(path, v)) {
            char *label = malloc(256);
            snprintf(label, 256, "conformance_parse_%s", v->name);
            tl_register(label, missing_vectors, strdup(path));
            continue;
        }
        for (int eng = 0; eng < 3; eng++) {
            struct vcase *c = malloc(sizeof(*c));
            c->v = v;
            c->engine = (enum engine)eng;
            char *label = malloc(256);
            snprintf(label, 256, "conformance_%s_%s", engine_names[eng], v->name);
            tl_register(label, run_vector, c);
        }
        free(names[i]);
    }
    free(names);
}
