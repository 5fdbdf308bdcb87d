/*
 * pliant_bpf.h — the header Pliant extension authors include.
 *
 *   #include <pliant_bpf.h>      (clang -O2 -g -target bpf -Isdk/include)
 *
 * It lives at sdk/include/pliant_bpf.h (not sdk/include/pliant/bpf.h) so
 * the Makefile's dependency on the headers directly in sdk/include rebuilds
 * extensions when it changes. It mirrors libbpf's bpf_helpers.h conventions — SEC(), BTF map
 * definitions with __uint/__type, helpers named bpf_* and declared by their
 * kernel ids — but needs no kernel or libc headers: `-target bpf` has no
 * usable <stdint.h> (it reaches for glibc's), so the integer types are
 * defined here.
 *
 * Host-specific helpers are declared by name and resolved when the object
 * is loaded (the host registers them with pl_helper_register):
 *
 *   extern long pl_buffer_pin(long page);   // plain extern, no id needed
 */
#ifndef PLIANT_BPF_H
#define PLIANT_BPF_H

#ifndef __bpf__
#error "pliant_bpf.h is for programs compiled with clang -target bpf"
#endif

/* ------------------------------------------------------------- integers */

typedef __UINT8_TYPE__ uint8_t;
typedef __UINT16_TYPE__ uint16_t;
typedef __UINT32_TYPE__ uint32_t;
typedef __UINT64_TYPE__ uint64_t;
typedef __INT8_TYPE__ int8_t;
typedef __INT16_TYPE__ int16_t;
typedef __INT32_TYPE__ int32_t;
typedef __INT64_TYPE__ int64_t;
typedef __UINTPTR_TYPE__ uintptr_t;

/* The spellings libbpf programs use (linux/types.h and vmlinux.h). */
typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef uint64_t __u64;
typedef int8_t __s8;
typedef int16_t __s16;
typedef int32_t __s32;
typedef int64_t __s64;
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

/* clang's own freestanding headers work under -target bpf. */
#include <stdbool.h>
#include <stddef.h>

/* ---------------------------------------------------------- attributes */

/* Places a program (or a map) in a named section; programs are found by
 * section name, e.g. SEC("hook/page_evict"). */
#define SEC(name) __attribute__((section(name), used))

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#ifndef __weak
#define __weak __attribute__((weak))
#endif

/* BTF map definitions: the loader reads these member declarations from the
 * object's BTF (an array's element count carries the integer). */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) __typeof__(val) *name
#define __array(name, val) __typeof__(val) *name[]

/* Map types, kernel numbering. The runtime implements HASH, ARRAY,
 * PERCPU_ARRAY (one slot per thread), LRU_HASH and RINGBUF. */
enum bpf_map_type {
    BPF_MAP_TYPE_HASH = 1,
    BPF_MAP_TYPE_ARRAY = 2,
    BPF_MAP_TYPE_PERCPU_ARRAY = 6,
    BPF_MAP_TYPE_LRU_HASH = 9,
    BPF_MAP_TYPE_RINGBUF = 27,
};

/* bpf_map_update_elem flags. */
enum {
    BPF_ANY = 0,
    BPF_NOEXIST = 1,
    BPF_EXIST = 2,
};

/* Legacy map definitions in SEC("maps"), still accepted by the loader. */
struct bpf_map_def {
    unsigned int type;
    unsigned int key_size;
    unsigned int value_size;
    unsigned int max_entries;
    unsigned int map_flags;
};

/* -------------------------------------------------------------- helpers */

/* Standard helpers, declared by id as libbpf's bpf_helper_defs.h does. */
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value,
                                   __u64 flags) = (void *)2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static long (*bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *)6;
static __u32 (*bpf_get_prandom_u32)(void) = (void *)7;
static __u32 (*bpf_get_smp_processor_id)(void) = (void *)8;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, __u64 size,
                                  __u64 flags) = (void *)130;
static __u64 (*bpf_ktime_get_coarse_ns)(void) = (void *)160;

/* printf-style tracing to the host's log (at most three arguments, as
 * with the kernel's bpf_trace_printk). The format lands in .rodata. Unused
 * arguments are passed as 0: the verifier requires all three to be
 * initialised, so no stale register value (possibly an address) can be
 * formatted by a mismatched format string. */
#define ___pl_printk3(fmt, size, a, b, c, ...) bpf_trace_printk(fmt, size, a, b, c)
#define bpf_printk(fmt, ...)                                                   \
    ({                                                                         \
        static const char ____fmt[] = fmt;                                     \
        ___pl_printk3(____fmt, sizeof(____fmt), ##__VA_ARGS__, 0, 0, 0, 0);    \
    })

/* Compiler barrier, e.g. to keep clang from merging bounds checks the
 * verifier needs to see separately. */
#define barrier() __asm__ __volatile__("" ::: "memory")

#endif /* PLIANT_BPF_H */
