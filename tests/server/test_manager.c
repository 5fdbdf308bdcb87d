/* The Manager end to end: packages signed with a trusted key pushed over
 * the admin socket and attached live; every kind of bad push refused with
 * a clear error and nothing changed; a thousand pushes under pgbench; the
 * active set restored after a restart (a corrupt stored package skipped);
 * the watched directory; rollback, detach, history; /metrics and the SQL
 * tables; pliantctl's exit codes and --json. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../manager/client.h"
#include "../../manager/fsutil.h"
#include "../../manager/keys.h"
#include "../../manager/package.h"
#include "../testlib.h"
#include "harness.h"

/* --------------------------------------------------------------- fixture */

static char keys_dir[256];
static struct pl_key trusted, stranger;
static bool keys_ready;

__attribute__((destructor)) static void cleanup_keys(void)
{
    if (keys_ready) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", keys_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", keys_dir);
    }
}

/* A trusted key (its .pub in keys_dir) and one the server does not know. */
static bool need_keys(void)
{
    if (keys_ready)
        return true;
    char base[300], err[512];
    snprintf(keys_dir, sizeof keys_dir, "/tmp/pliantd-test-%d-keys", (int)getpid());
    mkdir(keys_dir, 0700);
    snprintf(base, sizeof base, "%s/admin", keys_dir);
    if (key_generate(&trusted, "test admin") || key_write(&trusted, base, err, sizeof err) ||
        key_generate(&stranger, "stranger"))
        return false;
    keys_ready = true;
    return true;
}

/* A package of an object file, signed by k (NULL: unsigned). */
static uint8_t *make_pkg(const char *obj_path, const char *hook, const char *version, const struct pl_key *k,
                         size_t *len)
{
    uint8_t *obj, *pkg, *signed_pkg = NULL;
    size_t olen, plen;
    char err[512];
    struct pkg_manifest m = {0};
    snprintf(m.hook, sizeof m.hook, "%s", hook);
    snprintf(m.version, sizeof m.version, "%s", version);
    if (fs_read_file(obj_path, PKG_MAX_SIZE, &obj, &olen, err, sizeof err)) {
        fprintf(stderr, "  %s\n", err);
        return NULL;
    }
    int rc = pkg_build(&m, obj, olen, &pkg, &plen, err, sizeof err);
    free(obj);
    if (rc)
        return NULL;
    if (!k) {
        *len = plen;
        return pkg;
    }
    rc = pkg_sign(pkg, plen, k, &signed_pkg, len, err, sizeof err);
    free(pkg);
    return rc ? NULL : signed_pkg;
}

static int start(struct srv *s, const char *name, const char *more)
{
    char extra[2048];
    snprintf(extra, sizeof extra, "auth = trust\nworkers = 2\ntrusted_keys_dir = %s\n%s\n[database w]\n[database ro]\n",
             keys_dir, more ? more : "");
    return srv_start(s, name, extra, false);
}

static bool connect_admin(const struct srv *s, struct client *c)
{
    char sock[400], tok[400], err[512];
    snprintf(sock, sizeof sock, "%s/data/admin.sock", s->dir);
    snprintf(tok, sizeof tok, "%s/data/admin.token", s->dir);
    if (client_open(c, sock, tok, err, sizeof err)) {
        fprintf(stderr, "  %s\n", err);
        return false;
    }
    return true;
}

/* One request; returns the status and the parsed reply in *out (may be
 * NULL); the error text of a failed request in last_error. */
static char last_error[2048];
static long req(struct client *c, const char *method, const char *path, const void *body, size_t len, json_t **out)
{
    char *resp = NULL, err[512];
    long st = client_request(c, method, path, body, len, &resp, err, sizeof err);
    last_error[0] = 0;
    if (st < 0) {
        snprintf(last_error, sizeof last_error, "%s", err);
        return st;
    }
    json_t *j = json_loads(resp, 0, NULL);
    if (st != 200)
        snprintf(last_error, sizeof last_error, "%s", j ? json_string_value(json_object_get(j, "error")) : resp);
    free(resp);
    if (out)
        *out = j;
    else
        json_decref(j);
    return st;
}

static long push(struct client *c, const uint8_t *pkg, size_t len)
{
    return req(c, "POST", "/v1/extensions", pkg, len, NULL);
}

/* The version attached to hook ("" none; NULL on error). */
static const char *active(struct client *c, const char *hook)
{
    static char v[64];
    char path[128];
    json_t *j;
    snprintf(path, sizeof path, "/v1/hooks/%s", hook);
    if (req(c, "GET", path, NULL, 0, &j) != 200)
        return NULL;
    bool on = json_is_true(json_object_get(j, "attached"));
    const char *s = on ? json_string_value(json_object_get(j, "version")) : "";
    snprintf(v, sizeof v, "%s", s ? s : "?");
    json_decref(j);
    return v;
}

static char *read_text(const char *path)
{
    uint8_t *d;
    size_t n;
    char err[256];
    return fs_read_file(path, 1 << 24, &d, &n, err, sizeof err) ? NULL : (char *)d;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------- catalog */

TEST(manager_shipped_hook_catalog_is_the_servers)
{
    char cmd[600];
    static char out[1 << 16];
    snprintf(cmd, sizeof cmd, "%s --print-hook-catalog", pliantd_path());
    CHECK_EQ(run_cmd(cmd, out, sizeof out, 60), 0);
    char *shipped = read_text("sdk/hook-catalog.json");
    CHECK_MSG(shipped, "sdk/hook-catalog.json missing (run from the repository root)");
    int same = strcmp(out, shipped) == 0;
    free(shipped);
    CHECK_MSG(same, "sdk/hook-catalog.json differs from pliantd --print-hook-catalog: run make hook-catalog");
}

/* ----------------------------------------------------- refused pushes */

TEST(manager_bad_pushes_are_refused_and_change_nothing)
{
    CHECK(need_keys());
    struct srv s;
    CHECK(start(&s, "M1", NULL) == 0);
    struct client c;
    CHECK(connect_admin(&s, &c));
    size_t len;
    uint8_t *good = make_pkg(ext_path("authorize_readonly_tenant"), "authorize", "1", &trusted, &len);
    CHECK(good);
    CHECK_MSG(push(&c, good, len) == 200, "%s", last_error);
    CHECK(strcmp(active(&c, "authorize"), "1") == 0);
    char state_path[400], *state0;
    snprintf(state_path, sizeof state_path, "%s/data/extensions/state.json", s.dir);
    CHECK((state0 = read_text(state_path)));

    struct bad_push {
        const char *what;
        uint8_t *pkg;
        size_t len;
        long status;
        const char *expect;
    } cases[12];
    int n = 0;
#define CASE(w, p, l, st, ex) cases[n++] = (struct bad_push){w, p, l, st, ex}
    size_t l;
    uint8_t *p = make_pkg(ext_path("authorize_default"), "authorize", "2", &stranger, &l);
    CASE("signed by an untrusted key", p, l, 403, "not among the server's trusted keys");
    p = make_pkg(ext_path("authorize_default"), "authorize", "2", NULL, &l);
    CASE("unsigned", p, l, 403, "not signed");
    p = make_pkg(ext_path("authorize_default"), "authorize", "2", &trusted, &l);
    p[l - 100] ^= 1; /* a byte of the object */
    CASE("tampered object", p, l, 400, "does not match the manifest");
    p = make_pkg(ext_path("authorize_default"), "authorize", "2", &trusted, &l);
    p[l - 1] ^= 1; /* a byte of the signature */
    CASE("tampered signature", p, l, 403, "does not verify");
    p = make_pkg(ext_path("authorize_default"), "authorize", "2", &trusted, &l);
    CASE("truncated", p, l - 10, 400, "truncated or corrupt");
    char unsafe[512];
    snprintf(unsafe, sizeof unsafe, "%s/server_progs/hook_authorize_unsafe.o", tl_build_dir());
    p = make_pkg(unsafe, "authorize", "3", &trusted, &l);
    CASE("unverifiable", p, l, 422, "hook_authorize_unsafe.c:");
    p = make_pkg(ext_path("query_end_latency_hist"), "admit", "1", &trusted, &l);
    CASE("wrong hook", p, l, 422, "of hook admit");
    p = make_pkg(ext_path("admit_default"), "no_such_hook", "1", &trusted, &l);
    CASE("unknown hook", p, l, 404, "no hook \"no_such_hook\"");
    p = make_pkg(ext_path("authorize_default"), "authorize", "1", &trusted, &l);
    CASE("same version, other object", p, l, 409, "already stored with another object");
    p = calloc(1, PKG_MAX_SIZE + 4096);
    CASE("oversized", p, PKG_MAX_SIZE + 4096, 413, "larger than the limit");
#undef CASE
    for (int i = 0; i < n; i++) {
        CHECK_MSG(cases[i].pkg, "%s: no package", cases[i].what);
        long st = push(&c, cases[i].pkg, cases[i].len);
        CHECK_MSG(st == cases[i].status && strstr(last_error, cases[i].expect), "%s: HTTP %ld: %s", cases[i].what,
                  st, last_error);
        CHECK_MSG(strcmp(active(&c, "authorize"), "1") == 0, "%s changed the active version", cases[i].what);
        free(cases[i].pkg);
    }
    /* Unauthenticated: a bad token, then none. */
    struct client bad = c;
    snprintf(bad.auth, sizeof bad.auth, "Authorization: Bearer %s", "0123456789abcdef0123456789abcdef");
    CHECK_EQ(push(&bad, good, len), 401);
    snprintf(bad.auth, sizeof bad.auth, "X-Nothing: 1");
    CHECK_EQ(req(&bad, "GET", "/v1/hooks", NULL, 0, NULL), 401);
    /* Nothing persisted changed; only the good version is stored. */
    char *state1 = read_text(state_path);
    CHECK(state1 && strcmp(state0, state1) == 0);
    free(state0);
    free(state1);
    json_t *ls;
    CHECK_EQ(req(&c, "GET", "/v1/extensions", NULL, 0, &ls), 200);
    CHECK_EQ(json_array_size(ls), 1);
    json_decref(ls);
    /* The audit log has every refusal, with its reason. */
    json_t *audit;
    CHECK_EQ(req(&c, "GET", "/v1/audit?limit=100", NULL, 0, &audit), 200);
    int refused = 0;
    size_t i;
    json_t *e;
    json_array_foreach(audit, i, e)
    {
        refused += strcmp(json_string_value(json_object_get(e, "result")), "rejected") == 0;
    }
    json_decref(audit);
    CHECK_MSG(refused == n + 2, "%d refusals audited, expected %d", refused, n + 2);
    free(good);
    client_close(&c);
    CHECK_EQ(srv_stop(&s), 0);
    srv_cleanup(&s);
}

/* ------------------------------------------- live authorize, SQL view */

TEST(manager_authorize_push_reaches_prepared_statements)
{
    CHECK(need_keys());
    struct srv s;
    CHECK(start(&s, "M2", NULL) == 0);
    struct client c;
    CHECK(connect_admin(&s, &c));
    PGconn *ro = srv_connect(&s, "u", "ro", NULL);
    CHECK(PQstatus(ro) == CONNECTION_OK);
    PGresult *r = PQexec(ro, "create table t(x int)");
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    r = PQprepare(ro, "ins", "insert into t values ($1)", 1, NULL);
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    const char *v[1] = {"1"};
    r = PQexecPrepared(ro, "ins", 1, v, NULL, NULL, 0);
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    size_t len;
    uint8_t *pkg = make_pkg(ext_path("authorize_readonly_tenant"), "authorize", "ro", &trusted, &len);
    CHECK_MSG(push(&c, pkg, len) == 200, "%s", last_error);
    free(pkg);
    /* The statement prepared under no policy is re-checked under the new one. */
    r = PQexecPrepared(ro, "ins", 1, v, NULL, NULL, 0);
    CHECK_MSG(strcmp(srv_sqlstate(r), "42501") == 0, "%s", PQresultErrorMessage(r));
    PQclear(r);
    /* Visible from SQL, in every database. */
    r = PQexec(ro, "select version, attached, invocations > 0 from pliant_hooks where hook = 'authorize'");
    CHECK_MSG(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s", PQresultErrorMessage(r));
    CHECK(strcmp(PQgetvalue(r, 0, 0), "ro") == 0 && strcmp(PQgetvalue(r, 0, 1), "1") == 0 &&
          strcmp(PQgetvalue(r, 0, 2), "1") == 0);
    PQclear(r);
    r = PQexec(ro, "select count(*) from pliant_extensions where active = 1 and version = 'ro'");
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "1") == 0);
    PQclear(r);
    r = PQexec(ro, "delete from pliant_hooks");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR); /* read-only */
    PQclear(r);
    /* Detached: the prepared insert works again. */
    CHECK_EQ(req(&c, "POST", "/v1/hooks/authorize/detach", NULL, 0, NULL), 200);
    r = PQexecPrepared(ro, "ins", 1, v, NULL, NULL, 0);
    CHECK_MSG(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(ro);
    client_close(&c);
    CHECK_EQ(srv_stop(&s), 0);
    srv_cleanup(&s);
}

/* -------------------------------------- rollback, detach, history, maps */

TEST(manager_rollback_detach_history_maps_metrics)
{
    CHECK(need_keys());
    struct srv s;
    CHECK(start(&s, "M3", NULL) == 0);
    struct client c;
    CHECK(connect_admin(&s, &c));
    size_t l1, l2;
    uint8_t *a = make_pkg(ext_path("query_end_latency_hist"), "query_end", "hist", &trusted, &l1);
    uint8_t *b = make_pkg(ext_path("query_end_default"), "query_end", "default", &trusted, &l2);
    CHECK(a && b);
    CHECK_MSG(push(&c, a, l1) == 200, "%s", last_error);
    /* Statements fill the histogram map. */
    PGconn *w = srv_connect(&s, "u", "w", NULL);
    for (int i = 0; i < 20; i++)
        PQclear(PQexec(w, "select 1"));
    json_t *j;
    CHECK_EQ(req(&c, "GET", "/v1/maps/latency_log2_ns", NULL, 0, &j), 200);
    CHECK(strcmp(json_string_value(json_object_get(j, "hook")), "query_end") == 0);
    json_int_t total = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "entries_shown"), i, e)
    {
        total += json_integer_value(json_object_get(e, "value"));
    }
    CHECK_MSG(total >= 20, "histogram holds %lld statements", (long long)total);
    json_decref(j);
    CHECK_EQ(req(&c, "GET", "/v1/maps/no_such_map", NULL, 0, NULL), 404);
    CHECK_MSG(push(&c, b, l2) == 200, "%s", last_error);
    CHECK(strcmp(active(&c, "query_end"), "default") == 0);
    CHECK_EQ(req(&c, "POST", "/v1/hooks/query_end/rollback", "{}", 2, NULL), 200);
    CHECK(strcmp(active(&c, "query_end"), "hist") == 0);
    CHECK_EQ(req(&c, "POST", "/v1/hooks/query_end/rollback", "{\"version\":\"default\"}", 21, NULL), 200);
    CHECK(strcmp(active(&c, "query_end"), "default") == 0);
    CHECK_EQ(req(&c, "POST", "/v1/hooks/query_end/rollback", "{\"version\":\"nope\"}", 18, NULL), 404);
    CHECK_EQ(req(&c, "POST", "/v1/hooks/query_end/detach", NULL, 0, NULL), 200);
    CHECK(strcmp(active(&c, "query_end"), "") == 0);
    CHECK_EQ(req(&c, "POST", "/v1/hooks/query_end/detach", NULL, 0, NULL), 404);
    CHECK_EQ(req(&c, "GET", "/v1/hooks/query_end/history", NULL, 0, &j), 200);
    static const char *const actions[] = {"push", "push", "rollback", "rollback", "detach"};
    CHECK_EQ(json_array_size(j), 5);
    for (i = 0; i < 5; i++)
        CHECK(strcmp(json_string_value(json_object_get(json_array_get(j, i), "action")), actions[i]) == 0);
    json_decref(j);
    /* Prometheus text: counters of the hook, the sessions, statements. */
    char *m = NULL, err[256];
    CHECK_EQ(client_request(&c, "GET", "/metrics", NULL, 0, &m, err, sizeof err), 200);
    CHECK_MSG(strstr(m, "# TYPE pliant_hook_invocations_total counter") &&
                  strstr(m, "pliant_hook_latency_seconds_count{hook=\"query_end\"}") &&
                  strstr(m, "pliant_sessions 1") && strstr(m, "pliant_statements_total{database=\"w\"}") &&
                  strstr(m, "pliant_scheduler_queue_depth 0") &&
                  strstr(m, "pliant_extension_changes_total{result=\"accepted\"} 5"),
              "%s", m);
    /* The storage layer: the pool, per database too, and its hooks. */
    CHECK_MSG(strstr(m, "pliant_bufferpool_hits_total ") && strstr(m, "pliant_bufferpool_tenant_misses_total{database=\"w\"}") &&
                  strstr(m, "pliant_memory_tenant_bytes{database=\"ro\"}") &&
                  strstr(m, "pliant_hook_invocations_total{hook=\"page_evict\"}") &&
                  strstr(m, "pliant_hook_fallbacks_total{hook=\"wal_checkpoint\"}"),
              "%s", m);
    free(m);
    PQfinish(w);
    free(a);
    free(b);
    client_close(&c);
    CHECK_EQ(srv_stop(&s), 0);
    srv_cleanup(&s);
}

/* -------------------------------------------------- restart, corruption */

TEST(manager_restart_restores_active_set_and_skips_corrupt_package)
{
    CHECK(need_keys());
    struct srv s;
    CHECK(start(&s, "M4", NULL) == 0);
    struct client c;
    CHECK(connect_admin(&s, &c));
    size_t l1, l2;
    uint8_t *a = make_pkg(ext_path("authorize_readonly_tenant"), "authorize", "7", &trusted, &l1);
    uint8_t *b = make_pkg(ext_path("sched_pick_priority"), "sched_pick", "3", &trusted, &l2);
    CHECK(a && b && push(&c, a, l1) == 200 && push(&c, b, l2) == 200);
    client_close(&c);
    free(a);
    free(b);
    CHECK_EQ(srv_stop(&s), 0);
    CHECK(srv_restart(&s) == 0);
    CHECK(connect_admin(&s, &c));
    CHECK(strcmp(active(&c, "authorize"), "7") == 0);
    CHECK(strcmp(active(&c, "sched_pick"), "3") == 0);
    PGconn *ro = srv_connect(&s, "u", "ro", NULL);
    PGresult *r = PQexec(ro, "create table t(x int)");
    CHECK_MSG(strcmp(srv_sqlstate(r), "42501") == 0, "restored policy not enforced: %s", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(ro);
    client_close(&c);
    CHECK_EQ(srv_stop(&s), 0);
    /* A stored package damaged on disk: skipped, the server starts, the
     * other hook is restored. */
    char path[512];
    snprintf(path, sizeof path, "%s/data/extensions/packages/authorize/7.pkg", s.dir);
    FILE *f = fopen(path, "r+b");
    CHECK(f);
    fseek(f, 200, SEEK_SET);
    fputc('X', f);
    fclose(f);
    CHECK(srv_restart(&s) == 0);
    CHECK(connect_admin(&s, &c));
    CHECK(strcmp(active(&c, "authorize"), "") == 0);
    CHECK(strcmp(active(&c, "sched_pick"), "3") == 0);
    client_close(&c);
    CHECK_EQ(srv_stop(&s), 0);
    char log[400];
    snprintf(log, sizeof log, "%s/server.log", s.dir);
    char *text = read_text(log);
    CHECK(text && strstr(text, "event=store_package_corrupt"));
    free(text);
    srv_cleanup(&s);
}

/* ------------------------------------------------------ watched directory */

static bool wait_active(struct client *c, const char *hook, const char *want)
{
    for (int i = 0; i < 200; i++) { /* 10 s */
        const char *v = active(c, hook);
        if (v && strcmp(v, want) == 0)
            return true;
        sleep_ms(50);
    }
    return false;
}

TEST(manager_watched_directory_attaches_and_detaches)
{
    CHECK(need_keys());
    char wdir[300], more[400];
    snprintf(wdir, sizeof wdir, "/tmp/pliantd-test-%d-watch", (int)getpid());
    mkdir(wdir, 0700);
    snprintf(more, sizeof more, "watch_dir = %s", wdir);
    struct srv s;
    CHECK(start(&s, "M5", more) == 0);
    struct client c;
    CHECK(connect_admin(&s, &c));
    size_t len;
    uint8_t *p = make_pkg(ext_path("progress_deadline"), "query_progress", "w1", &trusted, &len);
    char path[400], err[256];
    snprintf(path, sizeof path, "%s/deadline.pkg", wdir);
    CHECK(fs_write_atomic(path, p, len, 0600, err, sizeof err) == 0); /* arrives by rename */
    free(p);
    CHECK_MSG(wait_active(&c, "query_progress", "w1"), "not attached from the watched directory");
    /* A bad file is refused and changes nothing. */
    snprintf(path, sizeof path, "%s/junk.pkg", wdir);
    CHECK(fs_write_atomic(path, "junk", 4, 0600, err, sizeof err) == 0);
    unlink(path);
    snprintf(path, sizeof path, "%s/deadline.pkg", wdir);
    unlink(path);
    CHECK_MSG(wait_active(&c, "query_progress", ""), "not detached after the file was removed");
    json_t *audit;
    CHECK_EQ(req(&c, "GET", "/v1/audit", NULL, 0, &audit), 200);
    char *text = json_dumps(audit, 0);
    CHECK(text && strstr(text, "watch:deadline.pkg") && strstr(text, "watch:junk.pkg"));
    free(text);
    json_decref(audit);
    client_close(&c);
    CHECK_EQ(srv_stop(&s), 0);
    srv_cleanup(&s);
    rmdir(wdir);
}

/* ------------------------------------------------ 1,000 pushes, pgbench */

/* pgbench in the background, output to a file; stopped by its pid. */
static pid_t start_pgbench(const char *pgbench, int port, const char *script, const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        dup2(2, 1);
        char portbuf[16];
        snprintf(portbuf, sizeof portbuf, "%d", port);
        execl(pgbench, "pgbench", "-h", "127.0.0.1", "-p", portbuf, "-U", "u", "-n", "-c", "4", "-j", "2", "-T",
              "600", "-f", script, "w", (char *)NULL);
        _exit(127);
    }
    return pid;
}

TEST(manager_1000_pushes_under_pgbench)
{
    CHECK(need_keys());
    const char *pgbench = pgbench_path();
    CHECK_MSG(pgbench, "pgbench not found");
    struct srv s;
    CHECK(start(&s, "M6", NULL) == 0);
    struct client c;
    CHECK(connect_admin(&s, &c));
    PGconn *w = srv_connect(&s, "u", "w", NULL);
    PGresult *r = PQexec(w, "create table acct(id int primary key, bal int); "
                            "insert into acct with recursive n(x) as "
                            "(select 1 union all select x + 1 from n where x < 1000) "
                            "select x, 0 from n");
    CHECK_MSG(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(w);
    char script[400], err[256];
    snprintf(script, sizeof script, "%s/bench.sql", s.dir);
    const char *sql = "\\set id random(1, 1000)\nupdate acct set bal = bal + 1 where id = :id;\n"
                      "select bal from acct where id = :id;\n";
    CHECK(fs_write_atomic(script, sql, strlen(sql), 0600, err, sizeof err) == 0);
    /* The two policies classify statements differently (every statement
     * goes through sched_enqueue): each push changes the code that runs. */
    size_t la, lb;
    uint8_t *a = make_pkg(ext_path("sched_enqueue_default"), "sched_enqueue", "a", &trusted, &la);
    uint8_t *b = make_pkg(ext_path("sched_enqueue_short_first"), "sched_enqueue", "b", &trusted, &lb);
    CHECK(a && b);
    char log[400];
    snprintf(log, sizeof log, "%s/pgbench.log", s.dir);
    pid_t bench = start_pgbench(pgbench, s.port, script, log);
    CHECK(bench > 0);
    sleep_ms(500);
    int ok = 0, unchanged = 0, wrong = 0;
    for (int i = 0; i < 1000; i++) {
        json_t *j = NULL;
        bool even = i % 2 == 0;
        long st = req(&c, "POST", "/v1/extensions", even ? a : b, even ? la : lb, &j);
        ok += st == 200;
        unchanged += json_is_true(json_object_get(j, "unchanged"));
        json_decref(j);
        /* Every 100th: what the reply said is what runs. */
        if (i % 100 == 99 && strcmp(active(&c, "sched_enqueue"), even ? "a" : "b") != 0)
            wrong++;
    }
    json_t *h;
    CHECK_EQ(req(&c, "GET", "/v1/hooks/sched_enqueue", NULL, 0, &h), 200);
    json_int_t calls = json_integer_value(json_object_get(h, "invocations"));
    json_decref(h);
    /* Still running (no client aborted on an error) until stopped here. */
    int status;
    bool was_running = waitpid(bench, &status, WNOHANG) == 0;
    kill(bench, SIGINT);
    waitpid(bench, &status, 0);
    char *out = read_text(log);
    CHECK_MSG(was_running, "pgbench ended during the pushes: %s", out ? out : "");
    CHECK_MSG(ok == 1000 && unchanged == 0 && wrong == 0, "%d ok, %d unchanged, %d wrong: %s", ok, unchanged, wrong,
              last_error);
    CHECK_MSG(calls > 0, "no statement ran through the hook");
    /* pgbench reports each failed statement as it happens: none. */
    CHECK_MSG(out && !strstr(out, "ERROR") && !strstr(out, "error") && !strstr(out, "aborted"), "pgbench: %s",
              out ? out : "(no log)");
    free(out);
    free(a);
    free(b);
    client_close(&c);
    CHECK_EQ(srv_stop(&s), 0);
    srv_cleanup(&s);
}

/* ------------------------------------------------------------ pliantctl */

static const char *ctl_path(void)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/asan/pliantctl", tl_build_dir());
    return path;
}

static int ctl(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ctl(char *out, size_t len, const char *fmt, ...)
{
    char args[2048], cmd[2600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "ASAN_OPTIONS=detect_leaks=1 %s %s", ctl_path(), args);
    return run_cmd(cmd, out, len, 60);
}

TEST(manager_pliantctl_commands_and_exit_codes)
{
    CHECK(need_keys());
    static char out[65536];
    char unsafe[512];
    snprintf(unsafe, sizeof unsafe, "%s/server_progs/hook_authorize_unsafe.o", tl_build_dir());
    CHECK_EQ(ctl(out, sizeof out, "--help"), 0);
    CHECK(strstr(out, "exit codes"));
    CHECK_EQ(ctl(out, sizeof out, "push --help"), 0);
    CHECK_EQ(ctl(out, sizeof out, "%s", ""), 2);
    CHECK_EQ(ctl(out, sizeof out, "frobnicate"), 2);
    CHECK_EQ(ctl(out, sizeof out, "verify %s", ext_path("admit_default")), 2);
    /* Offline verification: the shipped catalog, the server's verifier. */
    CHECK_EQ(ctl(out, sizeof out, "verify %s --hook admit", ext_path("admit_default")), 0);
    CHECK_EQ(ctl(out, sizeof out, "verify %s --hook authorize", unsafe), 1);
    CHECK_MSG(strstr(out, "hook_authorize_unsafe.c:10") && strstr(out, "past the 40-byte context"), "%s", out);
    CHECK_EQ(ctl(out, sizeof out, "verify %s --hook admit --json", ext_path("query_end_latency_hist")), 1);
    json_t *j = json_loads(out, 0, NULL);
    CHECK_MSG(j && json_is_false(json_object_get(j, "ok")), "%s", out);
    json_decref(j);
    /* A bundle: its companions are verified for their own hooks and named. */
    CHECK_EQ(ctl(out, sizeof out, "verify %s --hook page_evict --json", ext_path("evict_2q")), 0);
    j = json_loads(out, 0, NULL);
    json_t *with = json_object_get(j, "with_hooks");
    CHECK_MSG(j && json_is_true(json_object_get(j, "ok")) && json_array_size(with) == 2 &&
                  strstr(out, "\"page_fetch\"") && strstr(out, "\"page_unpin\""),
              "%s", out);
    json_decref(j);
    /* keygen, pack (verifies first), sign, push. */
    char dir[300];
    snprintf(dir, sizeof dir, "/tmp/pliantd-test-%d-ctl", (int)getpid());
    mkdir(dir, 0700);
    CHECK_EQ(ctl(out, sizeof out, "keygen %s/k", dir), 0);
    CHECK_EQ(ctl(out, sizeof out, "keygen %s/k", dir), 1); /* never overwrites a key */
    CHECK_EQ(ctl(out, sizeof out, "pack %s --hook authorize --version 9 -o %s/bad.pkg --key %s/k.key", unsafe, dir,
                 dir),
             1);
    CHECK_EQ(ctl(out, sizeof out, "pack %s --hook admit --version 1 -o %s/a.pkg", ext_path("admit_default"), dir), 0);
    struct srv s;
    CHECK(start(&s, "M7", NULL) == 0);
    CHECK_EQ(ctl(out, sizeof out, "-D %s/data push %s/a.pkg", s.dir, dir), 1); /* unsigned */
    CHECK(strstr(out, "not signed"));
    CHECK_EQ(ctl(out, sizeof out, "sign %s/a.pkg --key %s/k.key", dir, dir), 0);
    CHECK_EQ(ctl(out, sizeof out, "-D %s/data push %s/a.pkg", s.dir, dir), 1); /* key not trusted yet */
    char cmd[900];
    snprintf(cmd, sizeof cmd, "cp %s/k.pub %s/", dir, keys_dir);
    CHECK(system(cmd) == 0);
    CHECK_EQ(ctl(out, sizeof out, "-D %s/data push %s/a.pkg", s.dir, dir), 0);
    CHECK_MSG(strstr(out, "version 1 active") && strstr(out, "from request to active"), "%s", out);
    CHECK_EQ(ctl(out, sizeof out, "-D %s/data hooks --json", s.dir), 0);
    j = json_loads(out, 0, NULL);
    /* Six query hooks and seven storage hooks (four of the buffer pool). */
    CHECK_MSG(json_is_array(j) && json_array_size(j) == 13, "%s", out);
    json_decref(j);
    static const char *const listings[] = {"ls", "stats", "stats admit", "show admit", "maps admit",
                                           "history admit", "audit", "catalog"};
    for (size_t i = 0; i < sizeof listings / sizeof listings[0]; i++) {
        CHECK_MSG(ctl(out, sizeof out, "-D %s/data %s", s.dir, listings[i]) == 0, "%s: %s", listings[i], out);
        CHECK_MSG(ctl(out, sizeof out, "-D %s/data %s --json", s.dir, listings[i]) == 0, "%s: %s", listings[i], out);
        j = json_loads(out, 0, NULL);
        CHECK_MSG(j, "%s --json is not JSON: %s", listings[i], out);
        json_decref(j);
    }
    CHECK_EQ(ctl(out, sizeof out, "-D %s/data show no_such_hook", s.dir), 1);
    CHECK_EQ(ctl(out, sizeof out, "-D %s/data rollback admit", s.dir), 1); /* nothing earlier */
    CHECK_EQ(ctl(out, sizeof out, "-D %s/data detach admit", s.dir), 0);
    CHECK_EQ(ctl(out, sizeof out, "-D %s/data --token-file %s/k.pub hooks", s.dir, dir), 4);
    CHECK_EQ(srv_stop(&s), 0);
    CHECK_EQ(ctl(out, sizeof out, "-D %s/data hooks", s.dir), 3);
    srv_cleanup(&s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s/k.pub'", dir, keys_dir);
    CHECK(system(cmd) == 0);
}

TEST(manager_admin_api_refuses_unsafe_setups)
{
    char dir[256], cmd[1200], out[4096];
    snprintf(dir, sizeof dir, "/tmp/pliantd-test-%d-adm", (int)getpid());
    /* A TCP admin listener on a non-loopback address needs explicit consent. */
    snprintf(cmd, sizeof cmd, "%s --trust -D %s -d x -p 0 --admin-listen 0.0.0.0:0", pliantd_path(), dir);
    CHECK_EQ(run_cmd(cmd, out, sizeof out, 60), 1);
    CHECK_MSG(strstr(out, "not a loopback address"), "%s", out);
    /* A token others may read is refused. */
    char tok[300];
    snprintf(tok, sizeof tok, "%s/admin.token", dir);
    FILE *f = fopen(tok, "w");
    CHECK(f);
    fputs("0123456789abcdef0123456789abcdef\n", f);
    fclose(f);
    chmod(tok, 0644);
    snprintf(cmd, sizeof cmd, "%s --trust -D %s -d x -p 0", pliantd_path(), dir);
    CHECK_EQ(run_cmd(cmd, out, sizeof out, 60), 1);
    CHECK_MSG(strstr(out, "group or others may read it"), "%s", out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* A bundle: evict_2q carries programs for page_fetch and page_unpin beside
 * its page_evict one (they share its ghost map). Pushed for page_evict,
 * all three attach; the companions cannot be taken over by another
 * package; replaced by a policy with fewer companions, the extra one goes;
 * detaching page_evict takes the rest with it; a restart restores them. */
static json_t *hook_json(struct client *c, const char *hook)
{
    char path[128];
    json_t *j = NULL;
    snprintf(path, sizeof path, "/v1/hooks/%s", hook);
    return req(c, "GET", path, NULL, 0, &j) == 200 ? j : NULL;
}

static bool attached_with(struct client *c, const char *hook, const char *owner)
{
    json_t *j = hook_json(c, hook);
    const char *origin = json_string_value(json_object_get(j, "origin"));
    char want[64];
    snprintf(want, sizeof want, "with %s", owner);
    bool ok = j && json_is_true(json_object_get(j, "attached")) && origin && strcmp(origin, want) == 0;
    json_decref(j);
    return ok;
}

static bool detached(struct client *c, const char *hook)
{
    json_t *j = hook_json(c, hook);
    bool ok = j && !json_is_true(json_object_get(j, "attached"));
    json_decref(j);
    return ok;
}

TEST(manager_bundle_attaches_and_detaches_its_companions)
{
    CHECK(need_keys());
    struct srv s;
    CHECK(start(&s, "M9", "buffer_pool_mb = 1") == 0);
    struct client c;
    CHECK(connect_admin(&s, &c));
    size_t l1, l2, l3;
    uint8_t *twoq = make_pkg(ext_path("evict_2q"), "page_evict", "2q", &trusted, &l1);
    uint8_t *sieve = make_pkg(ext_path("evict_sieve"), "page_evict", "sieve", &trusted, &l2);
    uint8_t *unpin = make_pkg(ext_path("page_unpin_default"), "page_unpin", "1", &trusted, &l3);
    CHECK(twoq && sieve && unpin);
    CHECK_MSG(push(&c, twoq, l1) == 200, "%s", last_error);
    CHECK(strcmp(active(&c, "page_evict"), "2q") == 0);
    CHECK(attached_with(&c, "page_fetch", "page_evict") && attached_with(&c, "page_unpin", "page_evict"));
    /* The pool runs the policy: statements work, evictions are its own. */
    PGconn *w = srv_connect(&s, "u", "w", NULL);
    PGresult *r = PQexec(w, "create table t(id integer primary key, v blob); insert into t select value, "
                            "randomblob(2000) from generate_series(1, 2000); select count(*) from t");
    CHECK_MSG(PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "2000") == 0, "%s",
              PQresultErrorMessage(r));
    PQclear(r);
    /* A package of its own for a companion's hook is refused: 409, nothing changes. */
    CHECK_EQ(push(&c, unpin, l3), 409);
    CHECK_MSG(strstr(last_error, "page_unpin"), "%s", last_error);
    CHECK(attached_with(&c, "page_unpin", "page_evict"));
    /* SIEVE has no page_fetch program: that companion goes. */
    CHECK_MSG(push(&c, sieve, l2) == 200, "%s", last_error);
    CHECK(strcmp(active(&c, "page_evict"), "sieve") == 0);
    CHECK(attached_with(&c, "page_unpin", "page_evict") && detached(&c, "page_fetch"));
    /* Restart: the bundle comes back whole. */
    CHECK_EQ(srv_stop(&s), 0);
    CHECK_EQ(srv_restart(&s), 0);
    CHECK(connect_admin(&s, &c));
    CHECK(strcmp(active(&c, "page_evict"), "sieve") == 0);
    CHECK(attached_with(&c, "page_unpin", "page_evict") && detached(&c, "page_fetch"));
    /* Detach takes the companions with it; then the hook is free. */
    CHECK_EQ(req(&c, "POST", "/v1/hooks/page_evict/detach", NULL, 0, NULL), 200);
    CHECK(detached(&c, "page_evict") && detached(&c, "page_unpin"));
    CHECK_MSG(push(&c, unpin, l3) == 200, "%s", last_error);
    PQfinish(w);
    w = srv_connect(&s, "u", "w", NULL);
    r = PQexec(w, "select sum(length(v)) from t");
    CHECK_MSG(PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "4000000") == 0, "%s",
              PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(w);
    free(twoq);
    free(sieve);
    free(unpin);
    CHECK_EQ(srv_stop(&s), 0);
    srv_cleanup(&s);
}
