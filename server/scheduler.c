#include "scheduler.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hooks.h"
#include "log.h"

struct scheduler {
    pthread_mutex_t mu;
    pthread_cond_t work;
    struct sched_job *head[PL_SCHED_CLASSES], *tail[PL_SCHED_CLASSES];
    int depth;   /* queued jobs, all classes */
    int running; /* jobs on workers */
    bool stopping;
    int nworkers;
    pthread_t *threads;
};

uint64_t sched_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool sched_may_retry(const struct sched_job *job) { return sched_now_ns() < job->deadline_ns; }

static void push_tail(struct scheduler *s, struct sched_job *j)
{
    int c = j->cls;
    j->next = NULL;
    j->queued_ns = sched_now_ns();
    if (s->tail[c])
        s->tail[c]->next = j;
    else
        s->head[c] = j;
    s->tail[c] = j;
    s->depth++;
}

static bool queues_empty(const struct scheduler *s)
{
    for (int c = 0; c < PL_SCHED_CLASSES; c++)
        if (s->head[c])
            return false;
    return true;
}

/* sched_pick. Built-in: the oldest runnable job of any class (FIFO across
 * classes, by the time it entered its queue; ties to the lower class). A
 * job backing off from a busy lock is skipped until its time comes.
 * Returns NULL and the earliest wake-up time when nothing is runnable. */
static struct sched_job *pick(struct scheduler *s, uint64_t now, uint64_t *wake_ns)
{
    struct {
        struct sched_job *job, *prev;
        uint32_t runnable;
    } cand[PL_SCHED_CLASSES] = {{0}};
    *wake_ns = UINT64_MAX;
    int nonempty = 0;
    for (int c = 0; c < PL_SCHED_CLASSES; c++)
        nonempty += s->head[c] != NULL;
    /* Counting every runnable job (for the hook's context) walks whole
     * queues; with one class in use there is no choice to make, so the
     * walk stops at the first runnable job as a plain FIFO would. */
    bool count_all = nonempty >= 2;
    int best = -1, nready = 0;
    for (int c = 0; c < PL_SCHED_CLASSES; c++) {
        struct sched_job *prev = NULL;
        for (struct sched_job *j = s->head[c]; j; prev = j, j = j->next) {
            if (j->not_before_ns > now) {
                if (j->not_before_ns < *wake_ns)
                    *wake_ns = j->not_before_ns;
                continue;
            }
            if (!cand[c].job) {
                cand[c].job = j;
                cand[c].prev = prev;
            }
            cand[c].runnable++;
            if (!count_all)
                break;
        }
        if (!cand[c].job)
            continue;
        nready++;
        if (best < 0 || cand[c].job->queued_ns < cand[best].job->queued_ns)
            best = c;
    }
    if (best < 0)
        return NULL;
#ifndef PLIANT_NO_HOOKS
    if (nready >= 2) {
        struct pl_sched_pick_ctx ctx = {.nclasses = PL_SCHED_CLASSES, .now_ns = now};
        for (int c = 0; c < PL_SCHED_CLASSES; c++) {
            ctx.runnable[c] = cand[c].runnable;
            ctx.runnable_total += cand[c].runnable;
            ctx.oldest_wait_ns[c] = cand[c].job ? now - cand[c].job->queued_ns : 0;
        }
        uint64_t r;
        /* The range check leaves one case to the host: a class with
         * nothing runnable, answered by the built-in choice. */
        if (pl_hook_run(hooks_tab[HK_SCHED_PICK], &ctx, &r) == PL_HOOK_RAN && r < PL_SCHED_CLASSES &&
            cand[r].job)
            best = (int)r;
    }
#else
    (void)nready;
#endif
    struct sched_job *j = cand[best].job, *prev = cand[best].prev;
    if (prev)
        prev->next = j->next;
    else
        s->head[best] = j->next;
    if (s->tail[best] == j)
        s->tail[best] = prev;
    s->depth--;
    return j;
}

static void *worker(void *arg)
{
    struct scheduler *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        uint64_t now = sched_now_ns(), wake;
        struct sched_job *j = pick(s, now, &wake);
        if (!j) {
            if (s->stopping && queues_empty(s))
                break;
            if (wake == UINT64_MAX) {
                pthread_cond_wait(&s->work, &s->mu);
            } else {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t at = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + (wake - now);
                ts.tv_sec = (time_t)(at / 1000000000ull);
                ts.tv_nsec = (long)(at % 1000000000ull);
                pthread_cond_timedwait(&s->work, &s->mu, &ts);
            }
            continue;
        }
        s->running++;
        pthread_mutex_unlock(&s->mu);
        j->retry = false;
        j->start_ns = sched_now_ns();
        j->attempts++;
        j->run(j);
        j->end_ns = sched_now_ns();
        pthread_mutex_lock(&s->mu);
        s->running--;
        if (j->retry) {
            /* Back off 0.1, 0.2, 0.4 ... up to 10 ms: the lock holder's next
             * statement needs a worker, so a busy job must not keep one. */
            unsigned shift = j->attempts < 7 ? j->attempts : 7;
            j->not_before_ns = j->end_ns + (100000ull << shift);
            push_tail(s, j);
            continue;
        }
        j->done = true;
        pthread_cond_signal(&j->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int sched_start(int nworkers, struct scheduler **out, char *err, size_t errlen)
{
    struct scheduler *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->work, &ca);
    pthread_condattr_destroy(&ca);
    s->threads = calloc((size_t)nworkers, sizeof *s->threads);
    if (!s->threads) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < nworkers; i++) {
        int rc = pthread_create(&s->threads[i], NULL, worker, s);
        if (rc) {
            snprintf(err, errlen, "cannot start worker thread: %s", strerror(rc));
            s->nworkers = i;
            sched_stop(s);
            return -1;
        }
    }
    s->nworkers = nworkers;
    *out = s;
    return 0;
}

#ifndef PLIANT_NO_HOOKS
/* admit, then sched_enqueue; called with s->mu held so that the depth and
 * running counts they see are the ones the job joins. Programs are
 * verified to terminate, and run in well under a microsecond. */
static int admit(struct scheduler *s, const struct sched_job *job, unsigned held, uint64_t now)
{
    struct pl_admit_ctx a = {.tenant = (uint32_t)job->tenant, .kind = (uint32_t)job->kind,
                             .fingerprint = job->fingerprint, .queue_depth = (uint32_t)s->depth,
                             .running = (uint32_t)s->running, .workers = (uint32_t)s->nworkers,
                             .attempts = held, .waited_ns = now - job->enqueue_ns};
    uint64_t r;
    if (pl_hook_run(hooks_tab[HK_ADMIT], &a, &r) != PL_HOOK_RAN)
        return PL_ADMIT_ACCEPT;
    return (int)r;
}

static int classify(struct scheduler *s, const struct sched_job *job)
{
    struct pl_sched_enqueue_ctx e = {.tenant = (uint32_t)job->tenant, .kind = (uint32_t)job->kind,
                                     .fingerprint = job->fingerprint, .queue_depth = (uint32_t)s->depth,
                                     .running = (uint32_t)s->running,
                                     .recent_cost_ns = hooks_cost_lookup(job->fingerprint)};
    uint64_t r;
    if (pl_hook_run(hooks_tab[HK_SCHED_ENQUEUE], &e, &r) != PL_HOOK_RAN || r >= PL_SCHED_CLASSES)
        return 0;
    return (int)r;
}
#endif

int sched_run(struct scheduler *s, struct sched_job *job, int busy_timeout_ms)
{
    job->enqueue_ns = sched_now_ns();
    job->deadline_ns = job->enqueue_ns + (uint64_t)busy_timeout_ms * 1000000ull;
    job->not_before_ns = 0;
    job->attempts = 0;
    job->cls = 0;
    job->done = false;
    pthread_mutex_lock(&s->mu);
    for (unsigned held = 0;; held++) {
        if (s->stopping) {
            pthread_mutex_unlock(&s->mu);
            return SCHED_STOPPING;
        }
#ifndef PLIANT_NO_HOOKS
        uint64_t now = sched_now_ns();
        int a = admit(s, job, held, now);
        if (a == PL_ADMIT_QUEUE && now < job->deadline_ns) {
            /* Held at the door, outside the lock: 0.1, 0.2, 0.4 ... up to
             * 10 ms between asks, like a busy job's back-off. */
            pthread_mutex_unlock(&s->mu);
            unsigned shift = held < 7 ? held : 7;
            uint64_t ns = 100000ull << shift;
            struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (a != PL_ADMIT_ACCEPT) {
            pthread_mutex_unlock(&s->mu);
            return SCHED_REJECTED;
        }
        job->cls = classify(s, job);
#endif
        break;
    }
    pthread_cond_init(&job->cv, NULL);
    push_tail(s, job);
    pthread_cond_signal(&s->work);
    while (!job->done)
        pthread_cond_wait(&job->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&job->cv);
    return 0;
}

void sched_stop(struct scheduler *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->threads[i], NULL);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
    free(s->threads);
    free(s);
}

int sched_workers(const struct scheduler *s) { return s->nworkers; }

void sched_load(struct scheduler *s, int *running, int *queued)
{
    pthread_mutex_lock(&s->mu);
    *running = s->running;
    *queued = s->depth;
    pthread_mutex_unlock(&s->mu);
}
