/* Runner for the tests registered with TEST() (see testlib.h). */
#include "testlib.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct tl_case {
    const char *name;
    tl_fn fn;
    void *arg;
};

static struct tl_case *cases;
static size_t ncases, cap;
static bool current_failed;

void tl_register(const char *name, tl_fn fn, void *arg)
{
    if (ncases == cap) {
        cap = cap ? cap * 2 : 64;
        cases = realloc(cases, cap * sizeof(*cases));
        if (!cases)
            abort();
    }
    cases[ncases++] = (struct tl_case){name, fn, arg};
}

void tl_failf(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    current_failed = true;
}

bool tl_failed(void) { return current_failed; }

const char *tl_shared_dir(void)
{
    const char *d = getenv("PLIANT_SHARED");
    return d ? d : "../shared";
}

const char *tl_build_dir(void)
{
    const char *d = getenv("PLIANT_BUILD");
    return d ? d : "build";
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    const char *label = getenv("PLIANT_TEST_LABEL");
    size_t passed = 0, failed = 0;
    for (size_t i = 0; i < ncases; i++) {
        if (filter && !strstr(cases[i].name, filter))
            continue;
        current_failed = false;
        cases[i].fn(cases[i].arg);
        if (current_failed) {
            failed++;
            fprintf(stderr, "FAIL %s\n", cases[i].name);
        } else {
            passed++;
            if (getenv("PLIANT_TEST_VERBOSE"))
                printf("ok   %s\n", cases[i].name);
        }
    }
    printf("%s%s%zu passed, %zu failed\n", label ? label : "", label ? ": " : "", passed, failed);
    /* cases stays allocated: test arguments hang off it until exit. */
    return failed ? 1 : 0;
}
