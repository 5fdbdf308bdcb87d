/* Shared by the storage unit tests (test_memacct.c, test_vfs.c,
 * test_checkpoint.c): a runtime with one engine hook registered, attaching
 * a shipped extension to it, counters as differences, temporary
 * directories, and running a child process (for sqlite3_config(), which
 * works only before SQLite initialises; a child must not use a runtime:
 * the runtime's reclamation thread is not copied by fork). */
#ifndef PL_TEST_STORAGE_TESTUTIL_H
#define PL_TEST_STORAGE_TESTUTIL_H

#include <pliant/pliant.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

typedef int (*storage_register_fn)(pl_runtime *rt, char *err, size_t errlen);

static inline pl_runtime *storage_test_runtime(storage_register_fn reg)
{
    pl_runtime *rt = NULL;
    pl_error err = {0};
    char msg[256];
    if (pl_runtime_new(NULL, &rt, &err)) {
        fprintf(stderr, "  pl_runtime_new: %s\n", err.msg);
        return NULL;
    }
    if (reg(rt, msg, sizeof msg)) {
        fprintf(stderr, "  %s\n", msg);
        pl_runtime_free(rt);
        return NULL;
    }
    return rt;
}

/* Loads build/extensions/<name>.bpf.o verified for hook and attaches its
 * only program. */
static inline int storage_test_attach(pl_runtime *rt, pl_hook *hook, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/extensions/%s.bpf.o", tl_build_dir(), name);
    pl_error err = {0};
    pl_object *obj = NULL;
    int rc = pl_object_open_file(rt, path, &(struct pl_object_opts){.hook = hook}, &obj, &err);
    if (!rc)
        rc = pl_hook_attach(hook, pl_object_prog(obj, 0), &err);
    if (rc)
        fprintf(stderr, "  %s: %s\n", path, err.msg);
    pl_object_close(obj);
    return rc;
}

/* after -= before, for stats structs made only of uint64_t counters. */
static inline void storage_test_delta(void *after, const void *before, size_t size)
{
    uint64_t *a = after;
    const uint64_t *b = before;
    for (size_t i = 0; i < size / sizeof(uint64_t); i++)
        a[i] -= b[i];
}

/* A fresh directory <base>/pliant-<what>-XXXXXX in dir; false on failure. */
static inline bool storage_test_mkdir(char *dir, size_t len, const char *base, const char *what)
{
    snprintf(dir, len, "%s/pliant-%s-XXXXXX", base, what);
    return mkdtemp(dir) != NULL;
}

/* Removes it and everything in it; false on failure. */
static inline bool storage_test_rmdir(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0;
}

/* Runs fn in a child process; its exit status (0: passed). */
static inline int storage_test_in_child(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        _exit(fn(arg));
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

#endif
