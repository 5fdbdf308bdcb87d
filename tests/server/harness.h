/* Starting and stopping pliantd for the server tests: a temp data dir, a
 * config file, an ephemeral port on 127.0.0.1, bounded waits. */
#ifndef PL_TEST_SERVER_HARNESS_H
#define PL_TEST_SERVER_HARNESS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <sys/types.h>

struct srv {
    pid_t pid;
    int port;
    char dir[256];
    char conf[300];
};

/* Writes <dir>/pliantd.conf ([server] basics + `extra`) and starts the
 * server; 0 when it is listening. dir is created fresh unless keep_dir. */
int srv_start(struct srv *s, const char *name, const char *extra, bool keep_dir);
/* Restarts on the same dir and port-0 config (a new port). */
int srv_restart(struct srv *s);
/* SIGTERM and wait (bounded); returns the exit status or -1. */
int srv_stop(struct srv *s);
void srv_kill9(struct srv *s);
/* Removes the temp dir. */
void srv_cleanup(struct srv *s);

const char *pliantd_path(void);
/* A libpq connection; password may be NULL. */
PGconn *srv_connect(const struct srv *s, const char *user, const char *db, const char *password);
/* The SQLSTATE of a failed result, "" for none. */
const char *srv_sqlstate(const PGresult *r);
/* Runs a shell command with a timeout; returns its exit status, output in out. */
int run_cmd(const char *cmd, char *out, size_t outlen, int timeout_s);
/* SCRAM verifier for a password, from pliantd --add-user. */
int make_verifier(const char *user, const char *password, char *out, size_t outlen);
const char *pgbench_path(void);
/* <build>/extensions/NAME.bpf.o (a ring of 8 buffers). */
const char *ext_path(const char *name);
/* The number after " key=" on the last line of the server's log with
 * event=EVENT that also contains `match` (NULL: any); -1 if none. */
long long srv_log_stat(const struct srv *s, const char *event, const char *match, const char *key);
/* pgbench against db in the background (its output discarded), with
 * args after the connection options, NULL-terminated; the pid, 0 when
 * pgbench is missing, -1 on failure. Stop it with kill + waitpid. */
pid_t pgbench_spawn(const struct srv *s, const char *db, const char *const *args);

/* Durability load: writer threads, each on its own connection, insert
 * unique ids into table acked(id) of db (which must exist) and remember
 * every id whose INSERT was acknowledged: after a kill -9 and a restart,
 * each of those must be there. */
struct ack_load;
struct ack_load *ack_load_start(const struct srv *s, const char *db, int writers);
/* Stops and joins the writers; the number of acknowledged inserts. */
int ack_load_stop(struct ack_load *l);
/* Acknowledged ids absent from db on s (-1: cannot connect). */
int ack_load_missing(const struct ack_load *l, const struct srv *s, const char *db);
void ack_load_free(struct ack_load *l);

#endif
