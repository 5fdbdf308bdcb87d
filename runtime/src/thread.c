/*
 * Per-thread identity: a dense slot index for per-thread counters and
 * per-thread maps, and registration with the RCU read side. Both happen on a
 * thread's first use and are undone by a thread-exit destructor, so hosts do
 * not have to manage them.
 */
#include "internal.h"

#include <stdlib.h>

/* initial-exec keeps every access a single %fs-relative instruction. */
__thread struct pl__thread pl__tls __attribute__((tls_model("initial-exec")));

static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t slot_used[PL_MAX_THREADS];
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

/* Threads beyond PL_MAX_THREADS share the last slot: their per-thread map
 * values and counters are shared (racy but memory-safe). Each still has its
 * own read-side state. */
#define OVERFLOW_SLOT (PL_MAX_THREADS - 1)

static void release_slot(void *value)
{
    int slot = (int)(intptr_t)value - 1;
    pl_rcu_unregister_thread();
    pthread_mutex_lock(&slots_lock);
    if (slot != OVERFLOW_SLOT)
        slot_used[slot] = 0;
    pthread_mutex_unlock(&slots_lock);
    pl__tls.hook_stats = 0;
    pl__tls.fast = false;
    pl__tls.slot = 0;
}

static void make_exit_key(void)
{
    if (pthread_key_create(&exit_key, release_slot) != 0)
        abort();
}

void pl_thread_register_slow(void)
{
    pthread_once(&exit_key_once, make_exit_key);
    int slot = OVERFLOW_SLOT;
    pthread_mutex_lock(&slots_lock);
    for (int i = 0; i < OVERFLOW_SLOT; i++) {
        if (!slot_used[i]) {
            slot_used[i] = 1;
            slot = i;
            break;
        }
    }
    pthread_mutex_unlock(&slots_lock);
    if (slot == OVERFLOW_SLOT)
        pl_log_global(PL_LOG_WARN, "more than %d threads use the runtime; extra threads share one slot",
                      PL_MAX_THREADS - 1);
    pl_rcu_register_thread();
    pl__tls.fast = pl_rcu_membarrier();
    pl__tls.slot = (uint32_t)slot + 1;
    pl__tls.hook_stats = pl__tls.fast ? (uint32_t)(offsetof(struct pl_hook_head, tstats) +
                                                     (size_t)slot * sizeof(struct pl__hook_tstats)) : 0;
    pthread_setspecific(exit_key, (void *)(intptr_t)(slot + 1));
}

void pl_thread_register(void)
{
    (void)pl_thread_self();
}

void pl_thread_unregister(void)
{
    int s = (int)pl__tls.slot;
    if (!s)
        return;
    pthread_setspecific(exit_key, NULL);
    release_slot((void *)(intptr_t)s);
}
