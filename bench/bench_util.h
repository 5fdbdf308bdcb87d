/*
 * Shared timing helper for the Pliant benchmarks.
 *
 * Every figure the benchmarks report is a ratio of variants measured in the
 * same process run, interleaved round by round, so that frequency changes,
 * noisy neighbours and migrations on a small shared machine hit all variants
 * alike. Times are medians of per-round times and ratios are medians of
 * per-round ratios: one preempted round cannot move either.
 *
 * Target lines are printed as "@target|figure|measured|target|met" so that
 * bench/run.sh can collect them into the summary table.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_MAX_ROUNDS 256

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Tells the compiler the memory behind p may have been read and changed,
 * so it can neither constant-fold inputs nor drop unused results. */
static inline void bench_clobber(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* p-th percentile (0..100, nearest rank) of v[0..n); sorts v in place. */
static inline double bench_percentile(double *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), bench_cmp_double);
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.5);
    return v[rank == 0 ? 0 : (rank > n ? n - 1 : rank - 1)];
}

struct bench_variant {
    const char *name;
    /* Runs the measured operation iters times. */
    void (*run)(void *arg, uint64_t iters);
    void *arg;
    uint64_t iters;                      /* per round, set by calibration */
    double round_ns[BENCH_MAX_ROUNDS];   /* ns per operation, per round */
    double median_ns;
};

/* Calibrates each variant to about round_ms per round, then runs rounds
 * rounds, rotating which variant goes first so none always follows
 * another's cache or branch-predictor footprint. Short rounds keep a
 * round's variants close together in time. */
static inline void bench_interleave(struct bench_variant *v, int nv, int rounds, double round_ms)
{
    if (rounds > BENCH_MAX_ROUNDS)
        rounds = BENCH_MAX_ROUNDS;
    for (int k = 0; k < nv; k++) {
        uint64_t n = 16, t;
        v[k].run(v[k].arg, n); /* warm caches, fault in code and data */
        for (;;) {
            uint64_t t0 = bench_now_ns();
            v[k].run(v[k].arg, n);
            t = bench_now_ns() - t0;
            if ((double)t >= round_ms * 1e6 / 8 || n >= (1ull << 40))
                break;
            n *= 2;
        }
        v[k].iters = (uint64_t)((double)n * round_ms * 1e6 / (double)(t ? t : 1)) + 1;
    }
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < nv; i++) {
            struct bench_variant *x = &v[(r + i) % nv];
            uint64_t t0 = bench_now_ns();
            x->run(x->arg, x->iters);
            x->round_ns[r] = (double)(bench_now_ns() - t0) / (double)x->iters;
        }
    for (int k = 0; k < nv; k++) {
        double tmp[BENCH_MAX_ROUNDS];
        memcpy(tmp, v[k].round_ns, sizeof(double) * (size_t)rounds);
        v[k].median_ns = bench_percentile(tmp, (size_t)rounds, 50);
    }
}

/* Median over rounds of a's time divided by b's time in the same round.
 * Preferred over a ratio of medians: when a neighbour takes the core for a
 * while, both sides of one round feel it, and the round's ratio holds. */
static inline double bench_ratio(const struct bench_variant *a, const struct bench_variant *b, int rounds)
{
    double r[BENCH_MAX_ROUNDS];
    if (rounds > BENCH_MAX_ROUNDS)
        rounds = BENCH_MAX_ROUNDS;
    for (int i = 0; i < rounds; i++)
        r[i] = a->round_ns[i] / b->round_ns[i];
    return bench_percentile(r, (size_t)rounds, 50);
}

/* Prints a target line for the summary (lower is better). */
static inline void bench_target(const char *figure, const char *measured, double value, const char *target,
                                double limit)
{
    printf("@target|%s|%s|%s|%s\n", figure, measured, target, value <= limit ? "met" : "**not met**");
}

#endif /* BENCH_UTIL_H */
