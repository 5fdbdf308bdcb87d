/*
 * Executable memory for JIT code.
 *
 * Giving each program pages of its own costs mmap + mprotect per load and a
 * munmap (with a TLB shootdown on every CPU running the process) per free:
 * several microseconds, more than compiling a policy-sized program. Programs
 * are therefore packed into shared chunks.
 *
 * A chunk is a memfd mapped once, read + execute, for its whole life. Code
 * is written with pwrite() on the memfd, i.e. through the page cache and not
 * through any mapping: no address of the process is ever writable and
 * executable, not even briefly or through an alias (the kernel's text_poke
 * writes through a temporary alias; a file offset is the same idea without
 * an address an attacker could find), and the protection of a chunk's pages
 * never changes while other programs in it run. One pwrite costs less than
 * a microsecond, a temporary RW alias (mmap + fault + munmap) about five.
 *
 * The bytes of a range are written before the program is published (the
 * hook's release store), and a range is reused only after the program that
 * had it was freed, which happens after an RCU grace period: no thread is
 * executing it. x86 keeps instruction fetch coherent with such writes.
 *
 * Free space is int3 (chunks are filled with it, freed ranges refilled), so
 * a stray jump traps and a freed program's code does not stay executable.
 *
 * fork() shares a chunk's pages between parent and child (MAP_SHARED), so a
 * range reused in one would rewrite code the other may still run. Every
 * chunk that exists at a fork is frozen in both processes: it is never
 * written again, and unmapped once its last program is freed.
 *
 * Where a memfd cannot be mapped executable (vm.memfd_noexec, a seccomp
 * policy), each program falls back to private pages mapped read + write,
 * filled, then made read + execute before anyone can run them.
 *
 * Placement: an indirect call whose target is more than 2 GB away costs
 * about 1.5x one to a near target on recent Intel cores (the branch target
 * buffer keeps near targets in a compact form), and mmap(NULL) puts code far
 * from a PIE host's text. Chunks are therefore mapped just below the
 * runtime's own code when that space is free — the host's text too when
 * the runtime is linked statically — and anywhere otherwise. Below, not
 * above: above a PIE executable lies its brk heap, which a chunk would cap.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: says the memfd may be mapped executable */
#endif

/* Enough for a few dozen policy-sized programs; larger programs get a
 * chunk of their own size. */
#define CHUNK_SIZE (128u << 10)
/* Programs start on cache lines. */
#define UNIT 64u

struct extent {
    size_t off, len;
};

struct chunk {
    struct chunk *next;
    uint8_t *base;      /* the read + execute mapping */
    size_t size;
    int fd;             /* -1: private pages of one program (fallback) */
    unsigned gen;       /* fork generation the chunk was created in */
    size_t live;        /* bytes handed out */
    struct extent *free; /* sorted by offset, coalesced */
    uint32_t nfree, cap_free;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static struct chunk *chunks;
static unsigned pool_gen;
static bool memfd_unusable;
static uint8_t int3_page[4096];

static void fork_prepare(void)
{
    pthread_mutex_lock(&pool_lock);
    pool_gen++; /* seen by both processes: freezes every existing chunk */
}

static void fork_done(void)
{
    pthread_mutex_unlock(&pool_lock);
}

static void pool_init(void)
{
    memset(int3_page, 0xcc, sizeof(int3_page));
    pthread_atfork(fork_prepare, fork_done, fork_done);
}

/* Probes from 64 MB to 1 GB below the runtime's code, 64 MB apart: the
 * mappings just below a shared library are usually other libraries, and
 * within 1 GB a whole chunk and every caller in the runtime or a host
 * linked with it stay within rel32 reach of each other. */
#define NEAR_STEP (64ull << 20)
#define NEAR_PROBES 16

static void *map_near_code(size_t size, int prot, int flags, int fd)
{
    uintptr_t self = (uintptr_t)&map_near_code & ~(uintptr_t)(NEAR_STEP - 1);
    for (unsigned k = 1; k <= NEAR_PROBES && self > k * NEAR_STEP; k++) {
        void *want = (void *)(self - k * NEAR_STEP);
        void *at = mmap(want, size, prot, flags | MAP_FIXED_NOREPLACE, fd, 0);
        if (at == want)
            return at;
        /* Kernels before 4.17 take the flag as a mere hint and may map
         * elsewhere; such a mapping is no nearer than mmap(NULL). */
        if (at != MAP_FAILED)
            munmap(at, size);
        else if (errno != EEXIST)
            break;
    }
    return mmap(NULL, size, prot, flags, fd, 0);
}

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static bool write_all(int fd, const uint8_t *p, size_t len, size_t off)
{
    while (len) {
        ssize_t w = pwrite(fd, p, len, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        len -= (size_t)w;
        off += (size_t)w;
    }
    return true;
}

static bool fill_int3(int fd, size_t off, size_t len)
{
    while (len) {
        struct iovec iov[64];
        int n = 0;
        size_t batch = 0;
        while (n < 64 && batch < len) {
            size_t part = len - batch < sizeof(int3_page) ? len - batch : sizeof(int3_page);
            iov[n++] = (struct iovec){int3_page, part};
            batch += part;
        }
        ssize_t w = pwritev(fd, iov, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        off += (size_t)w;
        len -= (size_t)w;
    }
    return true;
}

static struct chunk *chunk_new(size_t size)
{
    struct chunk *c = calloc(1, sizeof(*c));
    struct extent *free_list = malloc(4 * sizeof(*free_list));
    if (!c || !free_list)
        goto fail;
    int fd = memfd_create("pliant-jit", MFD_CLOEXEC | MFD_EXEC);
    if (fd < 0 && errno == EINVAL) /* kernel older than MFD_EXEC */
        fd = memfd_create("pliant-jit", MFD_CLOEXEC);
    if (fd < 0)
        goto fail;
    /* Populated up front so no program's first run takes a page fault. */
    void *base = MAP_FAILED;
    if (!ftruncate(fd, (off_t)size) && fill_int3(fd, 0, size))
        base = map_near_code(size, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_POPULATE, fd);
    if (base == MAP_FAILED) {
        close(fd);
        goto fail;
    }
    *c = (struct chunk){.base = base, .size = size, .fd = fd, .gen = pool_gen, .free = free_list,
                        .nfree = 1, .cap_free = 4};
    free_list[0] = (struct extent){0, size};
    c->next = chunks;
    chunks = c;
    return c;
fail:
    free(c);
    free(free_list);
    return NULL;
}

static void chunk_release(struct chunk *c)
{
    struct chunk **pp = &chunks;
    while (*pp != c)
        pp = &(*pp)->next;
    *pp = c->next;
    munmap(c->base, c->size);
    if (c->fd >= 0)
        close(c->fd);
    free(c->free);
    free(c);
}

static bool chunk_writable(const struct chunk *c)
{
    return c->fd >= 0 && c->gen == pool_gen;
}

/* First fit; the offset of len bytes, or SIZE_MAX. */
static size_t chunk_take(struct chunk *c, size_t len)
{
    for (uint32_t k = 0; k < c->nfree; k++) {
        struct extent *e = &c->free[k];
        if (e->len < len)
            continue;
        size_t off = e->off;
        e->off += len;
        e->len -= len;
        if (!e->len) {
            memmove(e, e + 1, (c->nfree - k - 1) * sizeof(*e));
            c->nfree--;
        }
        c->live += len;
        return off;
    }
    return SIZE_MAX;
}

/* Returns a range to the free list; false when the list cannot grow (the
 * range then stays unused until the chunk is released). */
static bool chunk_give(struct chunk *c, size_t off, size_t len)
{
    uint32_t k = 0;
    while (k < c->nfree && c->free[k].off < off)
        k++;
    bool join_prev = k > 0 && c->free[k - 1].off + c->free[k - 1].len == off;
    bool join_next = k < c->nfree && off + len == c->free[k].off;
    if (join_prev && join_next) {
        c->free[k - 1].len += len + c->free[k].len;
        memmove(&c->free[k], &c->free[k + 1], (c->nfree - k - 1) * sizeof(c->free[0]));
        c->nfree--;
    } else if (join_prev) {
        c->free[k - 1].len += len;
    } else if (join_next) {
        c->free[k].off = off;
        c->free[k].len += len;
    } else {
        if (c->nfree == c->cap_free) {
            struct extent *e = realloc(c->free, 2 * c->cap_free * sizeof(*e));
            if (!e)
                return false;
            c->free = e;
            c->cap_free *= 2;
        }
        memmove(&c->free[k + 1], &c->free[k], (c->nfree - k) * sizeof(c->free[0]));
        c->free[k] = (struct extent){off, len};
        c->nfree++;
    }
    return true;
}

static void *install_private(const uint8_t *code, size_t len)
{
    size_t page = page_size();
    size_t size = (len + page - 1) & ~(page - 1);
    struct chunk *c = calloc(1, sizeof(*c));
    uint8_t *mem = c ? map_near_code(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1)
                     : MAP_FAILED;
    if (mem == MAP_FAILED) {
        free(c);
        return NULL;
    }
    memcpy(mem, code, len);
    memset(mem + len, 0xcc, size - len);
    if (mprotect(mem, size, PROT_READ | PROT_EXEC)) {
        munmap(mem, size);
        free(c);
        return NULL;
    }
    *c = (struct chunk){.base = mem, .size = size, .fd = -1, .live = size, .next = chunks};
    chunks = c;
    return mem;
}

/* Takes a range back: refilled with int3 and reusable when the chunk may
 * still be written; otherwise it stays out of use until the chunk goes. */
static void chunk_put_back(struct chunk *c, size_t off, size_t len)
{
    c->live -= len;
    if (chunk_writable(c) && fill_int3(c->fd, off, len))
        chunk_give(c, off, len);
}

void *pl_jit_mem_install(const uint8_t *code, size_t len)
{
    pthread_once(&pool_once, pool_init);
    size_t need = (len + UNIT - 1) & ~(size_t)(UNIT - 1);
    size_t off = SIZE_MAX;
    struct chunk *c;
    pthread_mutex_lock(&pool_lock);
    for (c = chunks; c; c = c->next)
        if (chunk_writable(c) && (off = chunk_take(c, need)) != SIZE_MAX)
            break;
    if (!c && !memfd_unusable) {
        size_t page = page_size();
        c = chunk_new(need > CHUNK_SIZE ? (need + page - 1) & ~(page - 1) : CHUNK_SIZE);
        memfd_unusable = !c;
        off = c ? chunk_take(c, need) : SIZE_MAX;
    }
    void *at = NULL;
    if (!c)
        at = install_private(code, len);
    else if (write_all(c->fd, code, len, off))
        at = c->base + off;
    else
        chunk_put_back(c, off, need);
    pthread_mutex_unlock(&pool_lock);
    return at;
}

void pl_jit_mem_free(void *code, size_t len)
{
    uint8_t *p = code;
    pthread_mutex_lock(&pool_lock);
    struct chunk *c = chunks;
    while (!(p >= c->base && p < c->base + c->size))
        c = c->next;
    if (c->fd >= 0)
        chunk_put_back(c, (size_t)(p - c->base), (len + UNIT - 1) & ~(size_t)(UNIT - 1));
    else
        c->live = 0;
    bool other = false;
    for (struct chunk *o = chunks; o && !other; o = o->next)
        other = o != c && chunk_writable(o);
    /* One empty chunk stays mapped, so reloading a single program maps
     * nothing. */
    if (!c->live && (!chunk_writable(c) || other))
        chunk_release(c);
    pthread_mutex_unlock(&pool_lock);
}
