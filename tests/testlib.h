/* A minimal self-registering test framework.
 *
 *   TEST(map_update_replaces_value) { ... CHECK(x == 1); CHECK_EQ(a, b); }
 *
 * Each test runs in order; a failed CHECK reports file:line and ends that
 * test. The runner prints "N passed, N failed" last. A test name filter
 * (substring) may be given on the command line. */
#ifndef PL_TESTLIB_H
#define PL_TESTLIB_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef void (*tl_fn)(void *arg);
void tl_register(const char *name, tl_fn fn, void *arg);
/* Marks the running test failed (used by the CHECK macros). */
void tl_failf(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool tl_failed(void);
/* Directory of shared material (conformance vectors) and of the build. */
const char *tl_shared_dir(void);
const char *tl_build_dir(void);

#define TEST(name)                                                             \
    static void name(void *);                                                  \
    __attribute__((constructor)) static void tl_reg_##name(void)              \
    {                                                                          \
        tl_register(#name, name, NULL);                                        \
    }                                                                          \
    static void name(void *tl_arg __attribute__((unused)))

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            tl_failf(__FILE__, __LINE__, "CHECK(%s)", #cond);                  \
            return;                                                            \
        }                                                                      \
    } while (0)

#define CHECK_EQ(a, b)                                                         \
    do {                                                                       \
        uint64_t tl_a = (uint64_t)(a), tl_b = (uint64_t)(b);                   \
        if (tl_a != tl_b) {                                                    \
            tl_failf(__FILE__, __LINE__, "%s == %s: 0x%" PRIx64 " != 0x%" PRIx64, \
                     #a, #b, tl_a, tl_b);                                      \
            return;                                                            \
        }                                                                      \
    } while (0)

#define CHECK_MSG(cond, ...)                                                   \
    do {                                                                       \
        if (!(cond)) {                                                         \
            tl_failf(__FILE__, __LINE__, __VA_ARGS__);                         \
            return;                                                            \
        }                                                                      \
    } while (0)

#endif
