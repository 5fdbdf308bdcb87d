#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../testlib.h"

const char *pliantd_path(void)
{
    static char path[512];
    const char *e = getenv("PLIANTD");
    if (e)
        return e;
    snprintf(path, sizeof path, "%s/asan/pliantd", tl_build_dir());
    return path;
}

const char *pgbench_path(void)
{
    static const char *const cands[] = {"/usr/lib/postgresql/15/bin/pgbench", "/usr/lib/postgresql/16/bin/pgbench",
                                        "/usr/lib/postgresql/17/bin/pgbench", "/usr/bin/pgbench", NULL};
    for (int i = 0; cands[i]; i++)
        if (access(cands[i], X_OK) == 0)
            return cands[i];
    return NULL;
}

long long srv_log_stat(const struct srv *s, const char *event, const char *match, const char *key)
{
    char path[320], ev[96], k[96], line[4096];
    snprintf(path, sizeof path, "%s/server.log", s->dir);
    snprintf(ev, sizeof ev, "event=%s ", event);
    snprintf(k, sizeof k, " %s=", key);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long v = -1;
    while (fgets(line, sizeof line, f)) {
        const char *at;
        if (strstr(line, ev) && (!match || strstr(line, match)) && (at = strstr(line, k)))
            v = strtoll(at + strlen(k), NULL, 10);
    }
    fclose(f);
    return v;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int launch(struct srv *s)
{
    char portfile[320], log[320];
    snprintf(portfile, sizeof portfile, "%s/port", s->dir);
    snprintf(log, sizeof log, "%s/server.log", s->dir);
    unlink(portfile);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        dup2(2, 1);
        /* If the test process dies, its servers go too. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1", 1);
        execl(pliantd_path(), "pliantd", "--config", s->conf, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 400; i++) { /* up to 20 s (ASan start-up is slow) */
        FILE *f = fopen(portfile, "r");
        if (f) {
            int port = 0;
            int n = fscanf(f, "%d", &port);
            fclose(f);
            if (n == 1 && port > 0) {
                s->port = port;
                return 0;
            }
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            return -1;
        }
        sleep_ms(50);
    }
    srv_kill9(s);
    return -1;
}

int srv_start(struct srv *s, const char *name, const char *extra, bool keep_dir)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/pliantd-test-%d-%s", (int)getpid(), name);
    if (!keep_dir) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
        if (system(cmd) != 0)
            return -1;
    }
    mkdir(s->dir, 0700);
    snprintf(s->conf, sizeof s->conf, "%s/pliantd.conf", s->dir);
    FILE *f = fopen(s->conf, "w");
    if (!f)
        return -1;
    fprintf(f, "[server]\nlisten = 127.0.0.1\nport = 0\nport_file = %s/port\ndata_dir = %s/data\n%s\n", s->dir,
            s->dir, extra ? extra : "");
    fclose(f);
    return launch(s);
}

int srv_restart(struct srv *s) { return launch(s); }

int srv_stop(struct srv *s)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 600; i++) { /* 30 s */
        int st;
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid) {
            s->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        sleep_ms(50);
    }
    srv_kill9(s);
    return -1;
}

void srv_kill9(struct srv *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

void srv_cleanup(struct srv *s)
{
    if (s->pid > 0)
        srv_stop(s);
    if (getenv("PLIANT_KEEP_TMP"))
        return;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s->dir);
}

PGconn *srv_connect(const struct srv *s, const char *user, const char *db, const char *password)
{
    char conninfo[512];
    snprintf(conninfo, sizeof conninfo,
             "host=127.0.0.1 port=%d user=%s dbname=%s connect_timeout=10 sslmode=disable%s%s", s->port, user, db,
             password ? " password=" : "", password ? password : "");
    return PQconnectdb(conninfo);
}

int run_cmd(const char *cmd, char *out, size_t outlen, int timeout_s)
{
    char full[4096];
    snprintf(full, sizeof full, "timeout -k 5 %d sh -c '%s' 2>&1", timeout_s, cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    size_t n = 0;
    if (out && outlen) {
        out[0] = 0;
        size_t r;
        char tmp[4096];
        while ((r = fread(tmp, 1, sizeof tmp, p)) > 0) {
            size_t c = r < outlen - 1 - n ? r : outlen - 1 - n;
            memcpy(out + n, tmp, c);
            n += c;
            out[n] = 0;
        }
    } else {
        char tmp[4096];
        while (fread(tmp, 1, sizeof tmp, p) > 0) {
        }
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int make_verifier(const char *user, const char *password, char *out, size_t outlen)
{
    char pwfile[128];
    snprintf(pwfile, sizeof pwfile, "/tmp/pliantd-test-%d-pw", (int)getpid());
    FILE *f = fopen(pwfile, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n", password);
    fclose(f);
    char cmd[512], buf[1024];
    snprintf(cmd, sizeof cmd, "%s --add-user %s --password-file %s", pliantd_path(), user, pwfile);
    int rc = run_cmd(cmd, buf, sizeof buf, 30);
    unlink(pwfile);
    char *p = strstr(buf, "password = ");
    if (rc != 0 || !p)
        return -1;
    p += strlen("password = ");
    size_t n = strcspn(p, "\n");
    if (n >= outlen)
        return -1;
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

const char *srv_sqlstate(const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return st ? st : "";
}

const char *ext_path(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/extensions/%s.bpf.o", tl_build_dir(), name);
    return b;
}

pid_t pgbench_spawn(const struct srv *s, const char *db, const char *const *args)
{
    const char *pb = pgbench_path();
    if (!pb)
        return 0;
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    const char *argv[32] = {"pgbench", "-h", "127.0.0.1", "-p", port, "-U", "u"};
    int n = 7;
    for (int i = 0; args[i] && n < 30; i++)
        argv[n++] = args[i];
    argv[n++] = db;
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execv(pb, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

#define ACK_MAX 100000

struct ack_writer {
    const struct srv *srv;
    const char *db;
    long id;
    atomic_bool *stop;
    long *acked;
    int nacked;
    pthread_t thread;
};

struct ack_load {
    atomic_bool stop;
    int n;
    struct ack_writer w[];
};

static void *ack_writer_main(void *arg)
{
    struct ack_writer *w = arg;
    PGconn *c = srv_connect(w->srv, "u", w->db, NULL);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    for (long i = 0; !atomic_load(w->stop) && w->nacked < ACK_MAX; i++) {
        char v[32];
        snprintf(v, sizeof v, "%ld", w->id * 10000000 + i);
        const char *vals[1] = {v};
        PGresult *r = PQexecParams(c, "insert into acked(id) values ($1)", 1, NULL, vals, NULL, NULL, 0);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (ok)
            w->acked[w->nacked++] = w->id * 10000000 + i; /* acknowledged: must survive */
        else if (PQstatus(c) != CONNECTION_OK)
            break;
    }
    PQfinish(c);
    return NULL;
}

struct ack_load *ack_load_start(const struct srv *s, const char *db, int writers)
{
    struct ack_load *l = calloc(1, sizeof *l + (size_t)writers * sizeof l->w[0]);
    if (!l)
        return NULL;
    for (int i = 0; i < writers; i++) {
        l->w[i] = (struct ack_writer){.srv = s, .db = db, .id = i + 1, .stop = &l->stop,
                                      .acked = malloc(ACK_MAX * sizeof(long))};
        if (!l->w[i].acked || pthread_create(&l->w[i].thread, NULL, ack_writer_main, &l->w[i]) != 0) {
            free(l->w[i].acked);
            break;
        }
        l->n++;
    }
    return l;
}

int ack_load_stop(struct ack_load *l)
{
    atomic_store(&l->stop, true);
    int total = 0;
    for (int i = 0; i < l->n; i++) {
        pthread_join(l->w[i].thread, NULL);
        total += l->w[i].nacked;
    }
    return total;
}

int ack_load_missing(const struct ack_load *l, const struct srv *s, const char *db)
{
    PGconn *c = srv_connect(s, "u", db, NULL);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return -1;
    }
    int missing = 0;
    for (int i = 0; i < l->n; i++)
        for (int j = 0; j < l->w[i].nacked; j++) {
            char q[96];
            snprintf(q, sizeof q, "select 1 from acked where id = %ld", l->w[i].acked[j]);
            PGresult *r = PQexec(c, q);
            if (PQntuples(r) != 1)
                missing++;
            PQclear(r);
        }
    PQfinish(c);
    return missing;
}

void ack_load_free(struct ack_load *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->n; i++)
        free(l->w[i].acked);
    free(l);
}
