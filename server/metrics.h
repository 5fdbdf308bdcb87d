/* GET /metrics: pliantd's counters in the Prometheus text format (0.0.4).
 *
 *   pliant_hook_attached{hook,version}         1 while a program is attached
 *   pliant_hook_invocations_total{hook}        calls that ran a program
 *   pliant_hook_faults_total{hook}             faults and invalid answers
 *   pliant_hook_fallbacks_total{hook}          calls the built-in answered instead
 *   pliant_hook_breaker_trips_total{hook}      programs detached by the circuit breaker
 *   pliant_hook_latency_seconds{hook}          histogram of sampled calls (one in
 *                                              HOOKS_SAMPLE_EVERY per thread)
 *   pliant_bufferpool_*                        hits, misses, evictions, bytes, budget
 *                                              (only when the buffer pool is installed)
 *   pliant_scheduler_queue_depth, _running, _workers
 *   pliant_sessions
 *   pliant_statements_total{database}          statements run, per tenant
 *   pliant_statements_rejected_total{database} refused by the admit policy
 *   pliant_extension_changes_total{result}     pushes, rollbacks, detaches: accepted/rejected */
#ifndef PL_SERVER_METRICS_H
#define PL_SERVER_METRICS_H

#include <stdbool.h>

struct server;

/* Counts one statement of tenant (ran, or refused by admit). Lock-free. */
void metrics_statement(int tenant, bool ran);
/* The exposition text, malloc'ed (NULL: out of memory). */
char *metrics_render(struct server *srv);

#endif
