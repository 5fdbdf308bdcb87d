/* The scheduler: sessions submit statements as jobs; a fixed pool of worker
 * threads executes them. This file is the seam where the query-level
 * hookpoints go (issue 4, next step):
 *   sched_enqueue - classify a job at submission (tenant, kind, fingerprint,
 *                   queue depth) into a class            -> sched_run()
 *   admit         - accept, queue or reject at submission -> sched_run()
 *   sched_pick    - which queued job a free worker runs   -> pick()
 * Built-in behaviour now: one FIFO queue, everything admitted. */
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
    /* internal */
    uint64_t not_before_ns;
    bool done;
    pthread_cond_t cv;
    struct sched_job *next;
};

struct scheduler;

int sched_start(int nworkers, struct scheduler **out, char *err, size_t errlen);
/* Runs `job` on a worker and waits for it. Returns 0 when it ran. */
int sched_run(struct scheduler *s, struct sched_job *job, int busy_timeout_ms);
/* For run(): may a busy job still be retried? */
bool sched_may_retry(const struct sched_job *job);
/* Waits for queued jobs to finish, then joins the workers. */
void sched_stop(struct scheduler *s);
int sched_workers(const struct scheduler *s);
uint64_t sched_now_ns(void);

#endif
