/*
 * Per-thread identity: a dense slot index for per-thread counters and
 * per-thread maps, and registration with the RCU read side. Both happen on a
 * thread's first use and are undone by a thread-exit destructor, so hosts do
 * not have to manage them.
 */
#include "internal.h"

#include <stdlib.h>

/* slot + 1; 0 means "not registered yet". initial-exec keeps the access a
 * single %fs-relative load. */
__thread int pl_tls_slot __attribute__((tls_model("initial-exec")));
/* liburcu's call_rcu worker is registered by liburcu itself; deferred frees
 * running there must not register it a second time. */
__thread bool pl_tls_rcu_worker __attribute__((tls_model("initial-exec")));
static __thread bool registered_rcu __attribute__((tls_model("initial-exec")));

static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t slot_used[PL_MAX_THREADS];
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

/* Threads beyond PL_MAX_THREADS share the last slot: their per-thread map
 * values and counters are shared (racy but memory-safe). */
#define OVERFLOW_SLOT (PL_MAX_THREADS - 1)

static void release_slot(void *value)
{
    int slot = (int)(intptr_t)value - 1;
    if (registered_rcu)
        pl_rcu_unregister_thread();
    registered_rcu = false;
    pthread_mutex_lock(&slots_lock);
    if (slot != OVERFLOW_SLOT)
        slot_used[slot] = 0;
    pthread_mutex_unlock(&slots_lock);
    pl_tls_slot = 0;
}

static void make_exit_key(void)
{
    if (pthread_key_create(&exit_key, release_slot) != 0)
        abort();
}

int pl_thread_slot_slow(void)
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
    if (!pl_tls_rcu_worker) {
        pl_rcu_register_thread();
        registered_rcu = true;
    }
    pl_tls_slot = slot + 1;
    pthread_setspecific(exit_key, (void *)(intptr_t)(slot + 1));
    return slot;
}

void pl_thread_register(void)
{
    (void)pl_thread_slot();
}

void pl_thread_unregister(void)
{
    int s = pl_tls_slot;
    if (!s)
        return;
    pthread_setspecific(exit_key, NULL);
    release_slot((void *)(intptr_t)s);
}
