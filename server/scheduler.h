/* The scheduler: sessions submit statements as jobs; a fixed pool of worker
 * threads executes them. Its decisions are hookpoints (server/hooks.h):
 *   admit         - accept, hold or reject at submission  -> sched_run()
 *   sched_enqueue - classify a job at submission (tenant, kind, fingerprint,
 *                   queue depth, recent cost) into a class -> sched_run()
 *   sched_pick    - which class a free worker serves      -> pick()
 * Built-in behaviour: everything admitted, into class 0, and workers take
 * the oldest runnable job of any class (one FIFO). */
#ifndef PL_SERVER_SCHEDULER_H
#define PL_SERVER_SCHEDULER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct sched_job {
    /* Set by the submitter. run() executes on a worker thread and may set
     * `retry` (lock busy: run me again later, within busy_timeout). */
    void (*run)(struct sched_job *job);
    void *arg;
    int tenant;           /* database index in the config */
    int kind;             /* enum tr_kind */
    uint64_t fingerprint; /* statement shape, literals blanked */
    bool retry;
    /* Filled by the scheduler. */
    uint64_t enqueue_ns, start_ns, end_ns, deadline_ns;
    unsigned attempts;
    int cls;              /* scheduling class (sched_enqueue) */
    /* internal */
    uint64_t queued_ns;   /* when it last entered its class queue: FIFO order */
    uint64_t not_before_ns;
    bool done;
    pthread_cond_t cv;
    struct sched_job *next;
};

struct scheduler;

int sched_start(int nworkers, struct scheduler **out, char *err, size_t errlen);
enum { SCHED_STOPPING = -1, SCHED_REJECTED = -2 };
/* Runs `job` on a worker and waits for it. Returns 0 when it ran,
 * SCHED_STOPPING when the server is shutting down, SCHED_REJECTED when the
 * admit hook rejected it (or held it longer than busy_timeout_ms). */
int sched_run(struct scheduler *s, struct sched_job *job, int busy_timeout_ms);
/* For run(): may a busy job still be retried? */
bool sched_may_retry(const struct sched_job *job);
/* Waits for queued jobs to finish, then joins the workers. */
void sched_stop(struct scheduler *s);
int sched_workers(const struct scheduler *s);
/* Jobs on workers and jobs waiting now (a snapshot). */
void sched_load(struct scheduler *s, int *running, int *queued);
uint64_t sched_now_ns(void);

#endif
