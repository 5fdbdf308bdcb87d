/* pliant-run speaks the bpf_conformance plugin protocol: program hex on
 * stdin, memory hex in argv[1], r0 in hex on stdout, errors on stderr with a
 * non-zero exit. These tests drive the built binary through a shell. */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Runs the command, captures stdout+stderr into out, returns the exit code. */
static int run(const char *cmd, char *out, size_t len)
{
    char full[2048];
    snprintf(full, sizeof(full), "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, len - 1, p);
    out[n] = 0;
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define MOV_R0_42 "b7 00 00 00 2a 00 00 00 "
#define EXIT_INSN "95 00 00 00 00 00 00 00"
/* r0 = *(u8 *)(r1 + 1) */
#define LDXB_R0_R1_1 "71 10 01 00 00 00 00 00 "

TEST(pliant_run_prints_r0_in_hex_on_both_engines)
{
    char cmd[1024], out[512];
    const char *engines[] = {"--jit", "--interp", "--blind"};
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof(cmd), "echo '" MOV_R0_42 EXIT_INSN "' | %s/pliant-run %s", tl_build_dir(), engines[i]);
        CHECK_EQ(run(cmd, out, sizeof(out)), 0);
        CHECK_MSG(!strcmp(out, "2a\n"), "%s: got '%s'", engines[i], out);
    }
}

TEST(pliant_run_passes_memory_from_argv)
{
    char cmd[1024], out[512];
    snprintf(cmd, sizeof(cmd), "echo '" LDXB_R0_R1_1 EXIT_INSN "' | %s/pliant-run '05 ff 07' --jit", tl_build_dir());
    CHECK_EQ(run(cmd, out, sizeof(out)), 0);
    CHECK_MSG(!strcmp(out, "ff\n"), "got '%s'", out);
}

TEST(pliant_run_reports_errors_on_stderr_with_nonzero_exit)
{
    char cmd[1024], out[512];
    snprintf(cmd, sizeof(cmd), "echo 'zz 00' | %s/pliant-run", tl_build_dir());
    CHECK(run(cmd, out, sizeof(out)) != 0);
    CHECK(strstr(out, "not a list of hex bytes"));
    /* A program that falls off its end is rejected, naming the instruction. */
    snprintf(cmd, sizeof(cmd), "echo '" MOV_R0_42 "' | %s/pliant-run", tl_build_dir());
    CHECK(run(cmd, out, sizeof(out)) != 0);
    CHECK_MSG(strstr(out, "instruction 0") && strstr(out, "fall off the end"), "got '%s'", out);
    snprintf(cmd, sizeof(cmd), "echo 'b7 00 00' | %s/pliant-run", tl_build_dir());
    CHECK(run(cmd, out, sizeof(out)) != 0);
    CHECK(strstr(out, "multiple of 8"));
}

/* r0 = *(u8 *)(r1 + 5): out of bounds of a 3-byte memory. */
#define LDXB_R0_R1_5 "71 10 05 00 00 00 00 00 "

TEST(pliant_run_verifies_unless_told_not_to)
{
    char cmd[1024], out[512];
    snprintf(cmd, sizeof(cmd), "echo '" LDXB_R0_R1_5 EXIT_INSN "' | %s/pliant-run '01 02 03'", tl_build_dir());
    CHECK(run(cmd, out, sizeof(out)) != 0);
    CHECK_MSG(strstr(out, "rejected by the verifier") && strstr(out, "outside the 3-byte context"), "got '%s'", out);
    /* callx is valid to execute but cannot be verified. */
    snprintf(cmd, sizeof(cmd),
             "echo 'b7 01 00 00 01 00 00 00 b7 02 00 00 05 00 00 00 8d 02 00 00 00 00 00 00 " EXIT_INSN
             "' | %s/pliant-run", tl_build_dir());
    CHECK(run(cmd, out, sizeof(out)) != 0);
    CHECK_MSG(strstr(out, "callx cannot be verified"), "got '%s'", out);
    snprintf(cmd, sizeof(cmd),
             "echo 'b7 01 00 00 01 00 00 00 b7 02 00 00 05 00 00 00 8d 02 00 00 00 00 00 00 " EXIT_INSN
             "' | %s/pliant-run --no-verify --interp", tl_build_dir());
    CHECK_EQ(run(cmd, out, sizeof(out)), 0);
    CHECK_MSG(!strcmp(out, "1\n"), "got '%s'", out);
}
