/* Context of the "accept" test hook, shared by the verifier's accept corpus
 * (tests/progs/accept_*.c, compiled with clang -target bpf) and the test
 * that registers the hook and runs them (tests/test_verifier_accept.c). */
#ifndef ACCEPT_CTX_H
#define ACCEPT_CTX_H

#ifndef __bpf__
#include <stdint.h>
#endif

#define ACC_NVALS 16
#define ACC_KEY_LEN 64
#define ACC_NCAND 16

struct acc_cand {
    uint64_t key;
    uint64_t last_access;
    uint32_t hits;
    uint32_t pinned;
};

struct accept_ctx {
    uint32_t n;                     /* valid candidates (may exceed ACC_NCAND) */
    uint32_t sel;                   /* a selector / index the program must bound */
    uint64_t seed;
    uint64_t vals[ACC_NVALS];
    uint8_t key[ACC_KEY_LEN];
    struct acc_cand cand[ACC_NCAND];
    uint64_t out;                   /* the only writable field */
};

#endif
