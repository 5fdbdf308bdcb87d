/*
 * pliant-run: runs one eBPF program, speaking the bpf_conformance plugin
 * protocol so third-party conformance runners can measure this runtime.
 *
 *   echo "b7 00 00 00 02 00 00 00 95 00 00 00 00 00 00 00" | pliant-run [MEMORY_HEX] [--jit|--interp]
 *
 * The program's bytes come on standard input as hex pairs; the input memory,
 * if any, as the first argument; r0 is printed in hex on standard output.
 */
#include "conformance_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *to)
{
    fprintf(to,
            "usage: pliant-run [MEMORY_HEX] [--jit | --interp] [--blind] [--no-verify]\n"
            "  Reads a program as hex bytes (\"b7 00 00 00 ...\") on standard input, runs it\n"
            "  in the bpf_conformance environment and prints r0 in hex.\n"
            "  --jit        run JIT-compiled code (default)\n"
            "  --interp     run in the interpreter\n"
            "  --blind      JIT with constant blinding\n"
            "  --no-verify  skip the verifier (structural checks still run). Conformance\n"
            "               vectors test execution, not safety, and several are not\n"
            "               verifiable (e.g. callx to a register target); runners pass\n"
            "               this option. Without it r1 points to MEMORY_HEX's bytes as\n"
            "               a plain context.\n");
}

static char *read_all(FILE *f)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                return NULL;
            }
            buf = grown;
            cap *= 2;
        }
    }
    if (buf)
        buf[n] = 0;
    return buf;
}

int main(int argc, char **argv)
{
    const char *mem_hex = NULL;
    unsigned flags = 0;
    bool jit = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--jit"))
            jit = true;
        else if (!strcmp(argv[i], "--interp"))
            jit = false;
        else if (!strcmp(argv[i], "--blind"))
            flags |= PL_LOAD_BLIND_CONSTANTS;
        else if (!strcmp(argv[i], "--no-verify"))
            flags |= PL_LOAD_NO_VERIFY;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "pliant-run: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (!mem_hex) {
            mem_hex = argv[i];
        } else {
            fprintf(stderr, "pliant-run: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!jit)
        flags |= PL_LOAD_NO_JIT;

    char *text = read_all(stdin);
    uint8_t *code = NULL, *mem = NULL;
    long ncode = text ? pl_parse_hex_bytes(text, &code) : -1;
    free(text);
    if (ncode < 0) {
        fprintf(stderr, "pliant-run: standard input is not a list of hex bytes\n");
        return 1;
    }
    if (ncode == 0 || ncode % 8) {
        fprintf(stderr, "pliant-run: program is %ld bytes; it must be a non-empty multiple of 8\n", ncode);
        free(code);
        return 1;
    }
    long nmem = 0;
    if (mem_hex && (nmem = pl_parse_hex_bytes(mem_hex, &mem)) < 0) {
        fprintf(stderr, "pliant-run: memory argument is not a list of hex bytes\n");
        free(code);
        return 1;
    }

    pl_error err = {0};
    pl_runtime *rt = NULL;
    pl_prog *prog = NULL;
    uint64_t r0 = 0;
    int rc = pl_conformance_runtime(&rt, &err);
    if (!rc) {
        struct pl_prog_opts opts = {.name = "conformance", .flags = flags, .ctx_size = (uint32_t)nmem};
        rc = pl_prog_load(rt, (const struct pl_insn *)code, (uint32_t)(ncode / 8), &opts, &prog, &err);
    }
    if (!rc) {
        rc = pl_prog_run(prog, nmem ? mem : NULL, (uint64_t)nmem, jit, &r0);
        if (rc)
            snprintf(err.msg, sizeof(err.msg), "the program faulted while running");
    }
    if (rc)
        fprintf(stderr, "pliant-run: %s: %s\n", pl_strerror(rc), err.msg);
    else
        printf("%llx\n", (unsigned long long)r0);
    pl_prog_put(prog);
    pl_runtime_free(rt);
    free(code);
    free(mem);
    return rc ? 1 : 0;
}
