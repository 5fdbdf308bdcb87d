#include "scheduler.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

struct scheduler {
    pthread_mutex_t mu;
    pthread_cond_t work;
    struct sched_job *head, *tail;
    int depth;
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
    j->next = NULL;
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    s->depth++;
}

/* Default sched_pick: the oldest runnable job (FIFO). A job backing off
 * from a busy lock is skipped until its time comes. Returns NULL and the
 * earliest wake-up time when nothing is runnable. */
static struct sched_job *pick(struct scheduler *s, uint64_t now, uint64_t *wake_ns)
{
    struct sched_job *prev = NULL;
    *wake_ns = UINT64_MAX;
    for (struct sched_job *j = s->head; j; prev = j, j = j->next) {
        if (j->not_before_ns > now) {
            if (j->not_before_ns < *wake_ns)
                *wake_ns = j->not_before_ns;
            continue;
        }
        if (prev)
            prev->next = j->next;
        else
            s->head = j->next;
        if (s->tail == j)
            s->tail = prev;
        s->depth--;
        return j;
    }
    return NULL;
}

static void *worker(void *arg)
{
    struct scheduler *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        uint64_t now = sched_now_ns(), wake;
        struct sched_job *j = pick(s, now, &wake);
        if (!j) {
            if (s->stopping && !s->head)
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
        pthread_mutex_unlock(&s->mu);
        j->retry = false;
        j->start_ns = sched_now_ns();
        j->attempts++;
        j->run(j);
        j->end_ns = sched_now_ns();
        pthread_mutex_lock(&s->mu);
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

int sched_run(struct scheduler *s, struct sched_job *job, int busy_timeout_ms)
{
    job->enqueue_ns = sched_now_ns();
    job->deadline_ns = job->enqueue_ns + (uint64_t)busy_timeout_ms * 1000000ull;
    job->not_before_ns = 0;
    job->attempts = 0;
    job->done = false;
    pthread_cond_init(&job->cv, NULL);
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        pthread_cond_destroy(&job->cv);
        return -1;
    }
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
