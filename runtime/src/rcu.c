/*
 * The read side of live swap: userspace RCU (liburcu, "memb" flavour).
 *
 * Why liburcu-memb: its read lock is a thread-local counter update and a
 * compiler barrier — no write to a shared cache line, no atomic instruction —
 * because the writer side pays instead with the membarrier system call. It
 * needs no cooperation from the host (unlike the QSBR flavour, which would
 * require every host thread to announce quiescent states). Old programs and
 * map elements are freed from liburcu's call_rcu worker, so attach never
 * blocks for a grace period.
 *
 * Under ThreadSanitizer (PL_TSAN) the grace period is invisible to the tool
 * (liburcu is not instrumented), so every read-side unlock releases, and
 * every deferred free acquires, one annotation address: exactly the ordering
 * the grace period guarantees. The hand-off of each queued callback to the
 * worker is annotated the same way, and the barrier is built from a mutex
 * and condition variable, which the tool understands.
 */
#ifndef PL_TSAN
/* Inline the read-side fast path. The TSan build calls liburcu's
 * out-of-line (uninstrumented) functions instead, because the inline code
 * uses atomics the tool cannot model. */
#define _LGPL_SOURCE
#endif
#include "internal.h"

#include <stdlib.h>
#include <urcu/urcu-memb.h>

#ifdef PL_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
static char grace_period_hb;
#define HB_RELEASE() __tsan_release(&grace_period_hb)
#define HB_ACQUIRE() __tsan_acquire(&grace_period_hb)
#define HB_HANDOFF(obj) __tsan_release(obj)
#define HB_TAKEOVER(obj) __tsan_acquire(obj)
#else
#define HB_RELEASE() ((void)0)
#define HB_ACQUIRE() ((void)0)
#define HB_HANDOFF(obj) ((void)0)
#define HB_TAKEOVER(obj) ((void)0)
#endif

/* Registers the calling thread on its first use (a thread-local check). */
void pl_rcu_read_lock(void)
{
    (void)pl_thread_slot();
    urcu_memb_read_lock();
}

void pl_rcu_read_unlock(void)
{
    HB_RELEASE();
    urcu_memb_read_unlock();
}

void pl_rcu_register_thread(void)
{
    urcu_memb_register_thread();
}

void pl_rcu_unregister_thread(void)
{
    urcu_memb_unregister_thread();
}

struct deferred {
    struct rcu_head head;
    void (*fn)(void *);
    void *arg;
};

static void run_deferred(struct rcu_head *head)
{
    struct deferred *d = caa_container_of(head, struct deferred, head);
    pl_tls_rcu_worker = true;
    HB_TAKEOVER(d);
    HB_ACQUIRE();
    d->fn(d->arg);
    free(d);
}

void pl_rcu_defer(void (*fn)(void *arg), void *arg)
{
    struct deferred *d = malloc(sizeof(*d));
    if (!d) {
        /* No memory for the queue node: wait for the grace period here. */
        pl_thread_slot();
        urcu_memb_synchronize_rcu();
        HB_ACQUIRE();
        fn(arg);
        return;
    }
    d->fn = fn;
    d->arg = arg;
    pl_thread_slot(); /* call_rcu requires a registered thread */
    HB_HANDOFF(d);
    urcu_memb_call_rcu(&d->head, run_deferred);
}

/* All deferred callbacks run in order on liburcu's default call_rcu worker,
 * so one queued after them runs last. */
struct barrier {
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    bool done;
};

static void barrier_reached(void *arg)
{
    struct barrier *b = arg;
    pthread_mutex_lock(&b->lock);
    b->done = true;
    pthread_cond_signal(&b->done_cond);
    pthread_mutex_unlock(&b->lock);
}

void pl_rcu_barrier(void)
{
    struct barrier b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    pl_rcu_defer(barrier_reached, &b);
    pthread_mutex_lock(&b.lock);
    while (!b.done)
        pthread_cond_wait(&b.done_cond, &b.lock);
    pthread_mutex_unlock(&b.lock);
    pthread_mutex_destroy(&b.lock);
    pthread_cond_destroy(&b.done_cond);
}
