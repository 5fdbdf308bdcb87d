/* Process-wide server state shared by main.c and the sessions. */
#ifndef PL_SERVER_SERVER_H
#define PL_SERVER_SERVER_H

#include <pliant/pliant.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"
#include "scheduler.h"

struct session;
struct store;

struct server {
    struct config cfg;
    struct scheduler *sched;
    pl_runtime *rt;         /* hookpoints are registered here */
    struct store *store;    /* accepted extension packages, active set, audit (server/store.h) */
    int wake_fd;            /* eventfd, readable once shutdown begins: wakes idle sessions */
    atomic_bool shutting_down;
    pthread_mutex_t mu;     /* guards the session registry */
    pthread_cond_t idle;    /* signalled when a session ends */
    struct session *sessions;
    int nsessions;
    int32_t next_pid;
};

/* Starts a session thread for an accepted connection (takes the fd). */
int session_spawn(struct server *srv, int fd);
/* Shutdown: cancels every running statement (they end with 57P01). */
void sessions_cancel_all(struct server *srv);

#endif
