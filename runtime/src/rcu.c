/*
 * The read side of live swap: an epoch scheme in the style of liburcu's
 * "memb" flavour, reduced to what a hook call can afford.
 *
 * Readers. Each thread's state is pl__tls.rcu_seq, a word in its own
 * thread-local storage that only it writes. Entering the outermost
 * read-side section copies the grace-period counter pl__rcu_gp (odd, so
 * never 0) into the word, leaving it stores 0: one plain store each, plus a compiler
 * barrier, no atomic instruction and no shared cache line written. Neither
 * store depends on the word's previous value, so back-to-back hook calls
 * form no chain through memory (an increment would: each entry would wait
 * for the previous exit's store to be forwarded, a few cycles per call)
 * and nothing needs to stay in a register across the program's call.
 * pl__rcu_gp is written once per grace period, so its line stays shared
 * in every reader's cache. Nested sections leave the word alone
 * (pl_rcu_read_lock() counts them in rcu_nest; the inline hook path handles
 * only the outermost and hands nested calls to pl_hook_invoke()), so
 * "non-zero" means "inside" however deep. A thread registers on first use
 * and unregisters at exit (thread.c).
 *
 * Why not liburcu itself: its read lock is out of line unless every caller
 * is compiled against its LGPL inline code, and even inline it keeps a
 * nesting count, copies a global grace-period counter, tests whether
 * membarrier is available and, on unlock, whether a writer sleeps on a
 * futex to be woken. A hook call is a few nanoseconds, so each of those
 * showed. Here the whole attached path is inlined into pl_hook_run().
 *
 * Grace periods. The writer unpublishes an object, advances pl__rcu_gp,
 * then calls membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): every running
 * thread of the process executes a full barrier, so a reader whose entry
 * store is not yet visible afterwards will load the new pointer. The writer
 * then snapshots every registered word and waits until each one that is
 * non-zero and older than the new counter value has changed. A reader that
 * holds the new value read it after the advance, so it also sees the
 * unpublished pointer (acquire load of the counter, release store by the
 * writer, whose advance follows the unpublish). After the barrier no
 * reader can read the old counter value again, so "changed" means that
 * section ended, even if the thread has entered a new one since — a thread
 * that calls hooks in a tight loop cannot starve the writer, which a plain
 * inside/outside flag would allow. One phase suffices (liburcu needs two
 * because its readers copy a one-bit phase that may be stale; a stale copy
 * of the full counter here can only make the writer wait longer).
 *
 * Kernels without private expedited membarrier (before 4.14, or filtered by
 * seccomp) are detected once, before the first thread registers; then
 * pl__tls.fast stays false, hook calls take the out-of-line path and
 * readers issue a seq_cst fence after entering, pairing with a fence on the
 * writer (the classic store-fence-load handshake).
 *
 * Reclamation. pl_rcu_defer only queues: attach never waits for a grace
 * period. A reclaimer thread, started on the first deferral, takes
 * everything queued, runs one grace period for the whole batch and then
 * the callbacks in order, so bursts (hash map deletes) share a grace
 * period. The writer holds the registry lock only while scanning, not while
 * it sleeps, so threads can register and exit during a long grace period;
 * an exiting thread unlinks itself from whichever list the writer has put
 * it on.
 *
 * Ordering in C11 terms, which is also what ThreadSanitizer checks (it
 * does not know membarrier but needs nothing from it): a reader leaves with
 * a release store and the writer reads every word with acquire loads, so
 * everything a reader did inside a section the writer waited for, or one
 * that had already ended, happens before the deferred free. No annotation
 * is needed.
 */
#include "internal.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ registry */

struct reader {
    struct reader *prev, *next;  /* in the registry or a writer's wait list */
    _Atomic uint64_t *seq;       /* the thread's pl__tls.rcu_seq */
    uint64_t snap;               /* odd value seen by the writer waiting on it */
};

static __thread struct reader self_reader __attribute__((tls_model("initial-exec")));
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reader registry = {&registry, &registry, NULL, 0};
/* One grace period at a time: the wait list is the writer's. */
static pthread_mutex_t gp_lock = PTHREAD_MUTEX_INITIALIZER;

static pthread_once_t mode_once = PTHREAD_ONCE_INIT;
static bool use_membarrier;

/* Written only by synchronize(), under gp_lock; own cache line, so that
 * readers keep it shared. */
_Alignas(64) _Atomic uint64_t pl__rcu_gp = 1;

static void choose_mode(void)
{
    long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    use_membarrier = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
                     syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

bool pl_rcu_membarrier(void)
{
    pthread_once(&mode_once, choose_mode);
    return use_membarrier;
}

static void list_del(struct reader *r)
{
    r->prev->next = r->next;
    r->next->prev = r->prev;
}

static void list_add(struct reader *head, struct reader *r)
{
    r->next = head->next;
    r->prev = head;
    head->next->prev = r;
    head->next = r;
}

void pl_rcu_register_thread(void)
{
    pthread_mutex_lock(&registry_lock);
    self_reader.seq = &pl__tls.rcu_seq;
    list_add(&registry, &self_reader);
    pthread_mutex_unlock(&registry_lock);
}

void pl_rcu_unregister_thread(void)
{
    pthread_mutex_lock(&registry_lock);
    if (self_reader.next)
        list_del(&self_reader);
    self_reader.next = self_reader.prev = NULL;
    pthread_mutex_unlock(&registry_lock);
}

/* Makes the writer's earlier stores visible to every reader before any of
 * its later loads, and orders each running reader's entry store likewise. */
static void heavy_barrier(void)
{
    if (!use_membarrier) {
        pl_full_fence();
        return;
    }
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
        /* Registered at start-up, so only a kernel bug gets here; going on
         * without the barrier would free memory readers still use. */
        pl_log_global(PL_LOG_ERROR, "membarrier failed: %s", strerror(errno));
        abort();
    }
}

/* Readers stay in their sections for nanoseconds to microseconds, but on a
 * busy machine one may be preempted inside: yield first, then sleep up to a
 * millisecond. */
static void wait_a_little(unsigned round)
{
    if (round < 10) {
        sched_yield();
        return;
    }
    long us = round < 20 ? 1L << (round - 10) : 1000;
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

static void synchronize(void)
{
    pthread_once(&mode_once, choose_mode);
    pthread_mutex_lock(&gp_lock);
    uint64_t gp = atomic_load_explicit(&pl__rcu_gp, memory_order_relaxed) + 2;
    atomic_store_explicit(&pl__rcu_gp, gp, memory_order_release);
    pthread_mutex_lock(&registry_lock);
    heavy_barrier();
    struct reader waiting = {&waiting, &waiting, NULL, 0};
    for (struct reader *r = registry.next, *next; r != &registry; r = next) {
        next = r->next;
        uint64_t seq = atomic_load_explicit(r->seq, memory_order_acquire);
        if (seq != 0 && seq != gp) {
            r->snap = seq;
            list_del(r);
            list_add(&waiting, r);
        }
    }
    for (unsigned round = 0; waiting.next != &waiting; round++) {
        pthread_mutex_unlock(&registry_lock);
        wait_a_little(round);
        pthread_mutex_lock(&registry_lock);
        for (struct reader *r = waiting.next, *next; r != &waiting; r = next) {
            next = r->next;
            if (atomic_load_explicit(r->seq, memory_order_acquire) != r->snap) {
                list_del(r);
                list_add(&registry, r);
            }
        }
    }
    pthread_mutex_unlock(&registry_lock);
    pthread_mutex_unlock(&gp_lock);
}

/* ------------------------------------------------------------ reclaimer */

struct deferred {
    struct deferred *next;
    void (*fn)(void *);
    void *arg;
};

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;  /* work queued */
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;   /* a batch finished */
static struct deferred *queue_head, **queue_tail = &queue_head;
static uint64_t queued, completed;  /* callbacks, under queue_lock */
/* The reclaimer sleeps until signalled only after a batch found nothing to
 * do; while work keeps coming it polls every BATCH_NS, so queueing (on the
 * attach path) costs no wake-up, and the grace period's membarrier does
 * not interrupt the thread that is attaching. */
static bool reclaimer_idle, barrier_waiting; /* under queue_lock */
#define BATCH_NS 1000000
static pthread_once_t reclaimer_once = PTHREAD_ONCE_INIT;
static bool reclaimer_started;

static void *reclaimer_main(void *arg)
{
    (void)arg;
    bool busy = false;
    for (;;) {
        pthread_mutex_lock(&queue_lock);
        if (busy && !barrier_waiting) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += BATCH_NS;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&queue_cond, &queue_lock, &until);
        }
        while (!queue_head) {
            reclaimer_idle = true;
            pthread_cond_wait(&queue_cond, &queue_lock);
        }
        reclaimer_idle = false;
        struct deferred *batch = queue_head;
        queue_head = NULL;
        queue_tail = &queue_head;
        pthread_mutex_unlock(&queue_lock);

        synchronize();
        uint64_t n = 0;
        while (batch) {
            struct deferred *d = batch;
            batch = d->next;
            d->fn(d->arg);
            free(d);
            n++;
        }
        pthread_mutex_lock(&queue_lock);
        completed += n;
        pthread_cond_broadcast(&done_cond);
        pthread_mutex_unlock(&queue_lock);
        busy = n > 0;
    }
    return NULL;
}

static void start_reclaimer(void)
{
    /* Host signal handlers must not run on the runtime's own thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t tid;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    reclaimer_started = pthread_create(&tid, &attr, reclaimer_main, NULL) == 0;
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (reclaimer_started)
        pthread_setname_np(tid, "pliant-reclaim");
    else
        pl_log_global(PL_LOG_ERROR, "cannot start the reclaimer thread; frees will wait for grace periods");
}

/* Without a queue node or a reclaimer: wait for the grace period here. A
 * thread inside a read-side section would wait for itself, so there the
 * object is leaked instead. */
static void run_after_grace_period_now(void (*fn)(void *arg), void *arg)
{
    if (atomic_load_explicit(&pl__tls.rcu_seq, memory_order_relaxed) != 0) {
        pl_log_global(PL_LOG_ERROR, "out of memory inside a read-side section: an object is leaked");
        return;
    }
    synchronize();
    fn(arg);
}

void pl_rcu_defer(void (*fn)(void *arg), void *arg)
{
    pthread_once(&reclaimer_once, start_reclaimer);
    struct deferred *d = reclaimer_started ? malloc(sizeof(*d)) : NULL;
    if (!d) {
        run_after_grace_period_now(fn, arg);
        return;
    }
    d->next = NULL;
    d->fn = fn;
    d->arg = arg;
    pthread_mutex_lock(&queue_lock);
    *queue_tail = d;
    queue_tail = &d->next;
    queued++;
    if (reclaimer_idle) {
        reclaimer_idle = false;
        pthread_cond_signal(&queue_cond);
    }
    pthread_mutex_unlock(&queue_lock);
}

void pl_rcu_barrier(void)
{
    /* Until nothing is queued: freeing a program queues the free of its
     * maps from the reclaimer, after the barrier began. */
    pthread_mutex_lock(&queue_lock);
    barrier_waiting = true; /* no batching window while someone waits */
    pthread_cond_signal(&queue_cond);
    while (completed < queued)
        pthread_cond_wait(&done_cond, &queue_lock);
    barrier_waiting = false;
    pthread_mutex_unlock(&queue_lock);
}
