/* pliantd: start-up, the accept loop, shutdown. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../engine/db.h"
#include "../engine/storage.h"
#include "../manager/catalog.h"
#include "admin.h"
#include "auth_scram.h"
#include "hooks.h"
#include "log.h"
#include "server.h"
#include "storage_setup.h"
#include "store.h"
#include "views.h"
#include "watch.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pliantd [options]\n"
            "       pliantd --add-user NAME --password-file FILE [--grant DB[,DB...]] [--iterations N]\n"
            "\n"
            "A PostgreSQL-wire database server on SQLite; each database is one file\n"
            "<data-dir>/<name>.db. Options override the config file.\n"
            "\n"
            "  -c, --config FILE        config file (format: see server/config.h or README)\n"
            "  -D, --data-dir DIR       data directory (created if missing)\n"
            "  -h, --listen ADDR        address to listen on (default 127.0.0.1)\n"
            "  -p, --port N             TCP port (default 5432; 0 picks a free one)\n"
            "      --port-file FILE     write the bound port here once listening\n"
            "  -d, --database NAME      serve database NAME (repeatable; [database] in the config)\n"
            "      --auth METHOD        scram-sha-256 (default) or trust\n"
            "      --trust              same as --auth trust (local development only)\n"
            "  -w, --workers N          worker threads (default: number of cores)\n"
            "      --max-connections N  (default 100)\n"
            "      --max-message BYTES  largest client message accepted (default 1048576)\n"
            "      --synchronous LEVEL  off|normal|full|extra (default full: commits survive power loss)\n"
            "      --busy-timeout-ms N  lock wait before a statement fails with 40001 (default 5000)\n"
            "      --shutdown-grace-ms N  on SIGTERM, running statements get this long (default 5000)\n"
            "      --log-level LEVEL    debug|info|warn|error (default info)\n"
            "      --attach HOOK=FILE.o[:SECTION]\n"
            "                           attach a policy (an eBPF object verified for HOOK) at start-up;\n"
            "                           repeatable. Hooks: sched_enqueue, sched_pick, admit,\n"
            "                           query_progress, query_end, authorize (sdk/include/pliant_hooks.h).\n"
            "                           Without SECTION: the object's only program, or section hook/HOOK;\n"
            "                           an object whose programs all sit in hook/NAME sections attaches\n"
            "                           each to its hook (a bundle sharing maps, e.g. a buffer-pool policy).\n"
            "                           Storage hooks: page_hash, page_fetch, page_unpin, page_evict\n"
            "                           (sdk/include/pliant_pcache.h), mem_charge, io_read, wal_checkpoint\n"
            "                           (sdk/include/pliant_storage.h)\n"
            "      --admin-socket PATH  admin API socket for pliantctl (default <data-dir>/admin.sock; off: none)\n"
            "      --admin-listen HOST:PORT  also serve the admin API on TCP (loopback only unless\n"
            "                           admin_allow_remote = true in the config)\n"
            "      --admin-token-file FILE  bearer token of the admin API (default <data-dir>/admin.token,\n"
            "                           created 0600 on first start)\n"
            "      --trusted-keys-dir DIR  public keys (*.pub) whose signed packages may be attached\n"
            "                           (default <data-dir>/trusted_keys)\n"
            "      --watch-dir DIR      attach signed packages written into DIR; detach on removal\n"
            "      --print-hook-catalog print the hooks' ABI as JSON (sdk/hook-catalog.json) and exit\n"
            "      --buffer-pool-mb N   buffer pool shared by all databases (default 64)\n"
            "      --mem-quota-mb N     SQLite memory per database; 0 = no quota (default)\n"
            "      --mem-limit-mb N     SQLite memory of all databases; 0 = no limit (default)\n"
            "      --direct-io on|off   O_DIRECT for database files where supported (default off)\n"
            "      --wal-autocheckpoint N  WAL frames that make a checkpoint due (default 1000)\n"
            "      --help               this text\n"
            "\n"
            "--add-user prints a [user] section for the config file: the password (first\n"
            "line of FILE, '-' for stdin) is stored only as a SCRAM-SHA-256 verifier.\n");
}

struct flag {
    const char *key, *value;
};

static int add_user(int argc, char **argv)
{
    const char *name = NULL, *pwfile = NULL, *grant = "";
    int iterations = SCRAM_DEFAULT_ITERATIONS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "pliantd: %s needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "--add-user") == 0)
            name = v;
        else if (strcmp(a, "--password-file") == 0)
            pwfile = v;
        else if (strcmp(a, "--grant") == 0)
            grant = v;
        else if (strcmp(a, "--iterations") == 0)
            iterations = atoi(v);
        else {
            fprintf(stderr, "pliantd: unexpected argument %s with --add-user\n", a);
            return 2;
        }
        i++;
    }
    if (!name || !*name || strlen(name) > 63 || strpbrk(name, "[] \t#=")) {
        fprintf(stderr, "pliantd: --add-user needs a user name (1-63 bytes, no spaces, [, ], # or =)\n");
        return 2;
    }
    if (!pwfile) {
        fprintf(stderr, "pliantd: --add-user needs --password-file FILE ('-' for stdin)\n");
        return 2;
    }
    if (iterations < 4096 || iterations > 10000000) {
        fprintf(stderr, "pliantd: --iterations must be between 4096 and 10000000\n");
        return 2;
    }
    FILE *f = strcmp(pwfile, "-") == 0 ? stdin : fopen(pwfile, "r");
    if (!f) {
        fprintf(stderr, "pliantd: cannot open %s: %s\n", pwfile, strerror(errno));
        return 1;
    }
    char pw[1024];
    if (!fgets(pw, sizeof pw, f)) {
        fprintf(stderr, "pliantd: %s is empty\n", pwfile);
        if (f != stdin)
            fclose(f);
        return 1;
    }
    if (f != stdin)
        fclose(f);
    pw[strcspn(pw, "\r\n")] = 0;
    if (!pw[0]) {
        fprintf(stderr, "pliantd: the password is empty\n");
        return 1;
    }
    char verifier[256];
    if (scram_make_verifier(pw, iterations, verifier, sizeof verifier)) {
        fprintf(stderr, "pliantd: could not compute the SCRAM verifier\n");
        return 1;
    }
    memset(pw, 0, sizeof pw);
    printf("[user %s]\npassword = %s\ndatabases = %s\n", name, verifier, grant);
    return 0;
}

static int check_data_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || mkdir(dir, 0700) != 0) {
            snprintf(err, errlen, "data directory %.900s: %s", dir, strerror(errno));
            return -1;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "data directory %.900s is not a directory", dir);
        return -1;
    }
    char probe[PATH_MAX + 64];
    snprintf(probe, sizeof probe, "%s/.pliantd-write-test.%d", dir, (int)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "data directory %.900s is not writable: %s", dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(probe);
    return 0;
}

static int open_listener(const struct config *c, int *port_out, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    int rc = getaddrinfo(c->listen, port, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "cannot resolve listen address %s: %s", c->listen, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        if (errno == EADDRINUSE)
            snprintf(err, errlen, "port %d on %s is already in use (another pliantd or PostgreSQL?); choose "
                                  "another with --port", c->port, c->listen);
        else
            snprintf(err, errlen, "cannot bind %s:%d: %s", c->listen, c->port, strerror(errno));
        close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    if (listen(fd, 128) != 0) {
        snprintf(err, errlen, "listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static int write_port_file(const char *path, int port)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path); /* readers never see a half-written file */
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits until no session is left or the deadline (0: forever) passes. */
static bool wait_sessions(struct server *srv, uint64_t deadline_ms)
{
    pthread_mutex_lock(&srv->mu);
    while (srv->nsessions > 0) {
        if (deadline_ms && now_ms() >= deadline_ms)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&srv->idle, &srv->mu, &ts);
    }
    bool done = srv->nsessions == 0;
    pthread_mutex_unlock(&srv->mu);
    return done;
}

/* Every hookpoint pliantd offers, registered in rt. The hook catalog is
 * made by this same function, so it cannot drift from the server. */
/* The query hooks (server/hooks.c) and the storage hooks (engine/). */
static int register_hookpoints(pl_runtime *rt, char *err, size_t errlen)
{
    return hooks_register(rt, err, errlen) || server_storage_hooks(rt, err, errlen) ? -1 : 0;
}

static int print_hook_catalog(void)
{
    pl_runtime *rt;
    pl_error perr;
    char err[512];
    if (pl_runtime_new(NULL, &rt, &perr)) {
        fprintf(stderr, "pliantd: %s\n", perr.msg);
        return 1;
    }
    int rc = register_hookpoints(rt, err, sizeof err);
    json_t *cat = rc ? NULL : catalog_from_runtime(rt, hooks_all_names, hooks_all_count);
    char *text = cat ? json_dumps(cat, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(cat);
    storage_unregister_hooks(); /* the engine keeps the handles until told */
    pl_runtime_free(rt);
    if (!text) {
        fprintf(stderr, "pliantd: cannot build the hook catalog: %s\n", rc ? err : "out of memory");
        return 1;
    }
    printf("%s\n", text);
    free(text);
    return 0;
}

static void runtime_log(void *user, int level, const char *msg)
{
    (void)user;
    log_event(level >= PL_LOG_ERROR ? LOG_ERROR : level >= PL_LOG_WARN ? LOG_WARN : LOG_INFO, "runtime", "msg=%s",
              log_q(msg));
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-?") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--add-user") == 0)
            return add_user(argc, argv);
        if (strcmp(argv[i], "--print-hook-catalog") == 0)
            return print_hook_catalog();
    }
    static struct server srv;
    config_defaults(&srv.cfg);
    char err[1024];
    const char *config_path = NULL;
    struct flag *flags = calloc((size_t)argc, sizeof *flags);
    const char **dbs = calloc((size_t)argc, sizeof *dbs);
    int nflags = 0, ndbs = 0;
    static const struct {
        const char *opt, *alt, *key;
    } map[] = {
        {"--data-dir", "-D", "data_dir"},       {"--listen", "-h", "listen"},
        {"--port", "-p", "port"},               {"--port-file", NULL, "port_file"},
        {"--auth", NULL, "auth"},               {"--workers", "-w", "workers"},
        {"--max-connections", NULL, "max_connections"}, {"--max-message", NULL, "max_message"},
        {"--synchronous", NULL, "synchronous"}, {"--busy-timeout-ms", NULL, "busy_timeout_ms"},
        {"--shutdown-grace-ms", NULL, "shutdown_grace_ms"}, {"--log-level", NULL, "log_level"},
        {"--attach", NULL, "attach"},           {"--admin-socket", NULL, "admin_socket"},
        {"--admin-listen", NULL, "admin_listen"}, {"--admin-token-file", NULL, "admin_token_file"},
        {"--trusted-keys-dir", NULL, "trusted_keys_dir"}, {"--watch-dir", NULL, "watch_dir"},
        {"--buffer-pool-mb", NULL, "buffer_pool_mb"}, {"--mem-quota-mb", NULL, "mem_quota_mb"},
        {"--mem-limit-mb", NULL, "mem_limit_mb"}, {"--direct-io", NULL, "direct_io"},
        {"--wal-autocheckpoint", NULL, "wal_autocheckpoint"},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--trust") == 0) {
            flags[nflags++] = (struct flag){"auth", "trust"};
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool known = false;
        if (strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) {
            config_path = v;
            known = true;
        } else if (strcmp(a, "--database") == 0 || strcmp(a, "-d") == 0) {
            if (v)
                dbs[ndbs++] = v;
            known = true;
        } else {
            for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
                if (strcmp(a, map[k].opt) == 0 || (map[k].alt && strcmp(a, map[k].alt) == 0)) {
                    if (v)
                        flags[nflags++] = (struct flag){map[k].key, v};
                    known = true;
                }
        }
        if (!known) {
            fprintf(stderr, "pliantd: unknown option %s (see --help)\n", a);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "pliantd: %s needs a value (see --help)\n", a);
            return 2;
        }
        i++;
    }
    int rc = 0;
    if (config_path && config_load(config_path, &srv.cfg, err, sizeof err))
        goto startup_error;
    for (int i = 0; i < nflags; i++)
        if (config_set(&srv.cfg, flags[i].key, flags[i].value, err, sizeof err))
            goto startup_error;
    for (int i = 0; i < ndbs; i++)
        if (config_add_database(&srv.cfg, dbs[i], err, sizeof err))
            goto startup_error;
    free(flags);
    free(dbs);
    flags = NULL;
    dbs = NULL;
    log_set_level(srv.cfg.log_level);
    if (check_data_dir(srv.cfg.data_dir, err, sizeof err))
        goto startup_error;
    /* Before the first SQLite call: SQLite takes its allocator, page cache
     * and VFS only before it initialises. */
    if (server_storage_start(&srv.cfg, err, sizeof err))
        goto startup_error;
    for (int i = 0; i < srv.cfg.ndbs; i++) {
        char path[PATH_MAX];
        eng_db_path(srv.cfg.data_dir, srv.cfg.dbs[i].name, path, sizeof path);
        if (eng_db_init_file(path, err, sizeof err))
            goto startup_error;
    }
    if (srv.cfg.ndbs == 0)
        log_event(LOG_WARN, "no_databases", "msg=%s", log_q("no database configured: use --database NAME or a "
                                                             "[database NAME] section; every connection will fail"));
    if (srv.cfg.auth == AUTH_TRUST)
        log_event(LOG_WARN, "trust_auth", "msg=%s",
                  log_q(srv.cfg.nusers ? "passwords are not checked (auth = trust)"
                                       : "passwords are not checked and, with no [user] sections, any user may "
                                         "open any database (auth = trust)"));
    if (srv.cfg.auth == AUTH_SCRAM && srv.cfg.nusers == 0)
        log_event(LOG_WARN, "no_users", "msg=%s",
                  log_q("no [user] configured: nobody can log in (add one with pliantd --add-user, or use --trust)"));

    /* Signals arrive through a signalfd polled by the accept loop, so no
     * thread is ever interrupted inside SQLite or a send. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
    srv.wake_fd = eventfd(0, EFD_CLOEXEC);
    pthread_mutex_init(&srv.mu, NULL);
    pthread_cond_init(&srv.idle, NULL);
    srv.next_pid = (int32_t)getpid() * 16;
    if (sfd < 0 || srv.wake_fd < 0) {
        snprintf(err, sizeof err, "signalfd/eventfd: %s", strerror(errno));
        goto startup_error;
    }
    pl_error perr;
    if (pl_runtime_new(&(struct pl_runtime_opts){.log = runtime_log}, &srv.rt, &perr)) {
        snprintf(err, sizeof err, "cannot create the extension runtime: %s", perr.msg);
        goto startup_error;
    }
    /* Hooks exist before any session or worker can reach a call site, and
     * every --attach must succeed: a server running without the policy it
     * was told to enforce (an authorizer, say) is worse than none. */
    if (register_hookpoints(srv.rt, err, sizeof err))
        goto startup_error;
    for (int i = 0; i < srv.cfg.nattach; i++)
        if (hooks_attach_spec(srv.rt, srv.cfg.attach[i], err, sizeof err))
            goto startup_error;
    /* The policies pushed before the last shutdown come back, except on
     * the hooks the configuration just attached. */
    if (store_open(&(struct store_opts){.rt = srv.rt, .data_dir = srv.cfg.data_dir,
                                        .trusted_keys_dir = srv.cfg.trusted_keys_dir},
                   &srv.store, err, sizeof err))
        goto startup_error;
    store_restore(srv.store);
    eng_introspect_set_source(views_introspect, &srv);
    int port;
    int lfd = open_listener(&srv.cfg, &port, err, sizeof err);
    if (lfd < 0)
        goto startup_error;
    int workers = srv.cfg.workers ? srv.cfg.workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (workers < 1)
        workers = 1;
    if (sched_start(workers, &srv.sched, err, sizeof err)) {
        close(lfd);
        goto startup_error;
    }
    /* The admin API and the watched directory come up before the port
     * file is written: a script that waits for the port can use them. */
    server_storage_set_scheduler(srv.sched);
    bool up = admin_start(&srv, err, sizeof err) == 0 &&
              (!srv.cfg.watch_dir[0] || watch_start(&srv, srv.cfg.watch_dir, err, sizeof err) == 0);
    if (up && srv.cfg.port_file[0] && write_port_file(srv.cfg.port_file, port)) {
        snprintf(err, sizeof err, "cannot write port file %.900s: %s", srv.cfg.port_file, strerror(errno));
        up = false;
    }
    if (!up) {
        watch_stop();
        admin_stop();
        close(lfd);
        server_storage_set_scheduler(NULL);
        sched_stop(srv.sched);
        goto startup_error;
    }
    log_event(LOG_INFO, "listening", "addr=%s port=%d data_dir=%s databases=%d workers=%d auth=%s sqlite=%s",
              srv.cfg.listen, port, log_q(srv.cfg.data_dir), srv.cfg.ndbs, workers,
              srv.cfg.auth == AUTH_TRUST ? "trust" : "scram-sha-256", sqlite3_libversion());

    for (;;) {
        struct pollfd pf[2] = {{.fd = lfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_event(LOG_ERROR, "poll_failed", "msg=%s", log_q(strerror(errno)));
            break;
        }
        if (pf[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
                log_event(LOG_INFO, "shutdown_begin", "signal=%s", si.ssi_signo == SIGTERM ? "TERM" : "INT");
            break;
        }
        if (pf[0].revents & POLLIN) {
            int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (cfd < 0) {
                if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
                    log_event(LOG_WARN, "accept_failed", "msg=%s", log_q(strerror(errno)));
                if (errno == EMFILE || errno == ENFILE)
                    usleep(100000); /* out of descriptors: do not spin */
                continue;
            }
            int one = 1;
            setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            /* A client that stops reading must not pin a session (or a
             * worker streaming its rows) forever. */
            struct timeval tv = {.tv_sec = 30};
            setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            session_spawn(&srv, cfd);
        }
    }

    /* Shutdown: no more policy changes; stop accepting, wake idle
     * sessions (they end with 57P01), give running statements the grace
     * period, then cancel them. */
    watch_stop();
    admin_stop();
    close(lfd);
    atomic_store(&srv.shutting_down, true);
    uint64_t one = 1;
    if (write(srv.wake_fd, &one, sizeof one) < 0)
        log_event(LOG_WARN, "wake_failed", "msg=%s", log_q(strerror(errno)));
    if (!wait_sessions(&srv, now_ms() + (uint64_t)srv.cfg.shutdown_grace_ms)) {
        log_event(LOG_INFO, "shutdown_cancel", "msg=%s", log_q("grace period over: canceling running statements"));
        sessions_cancel_all(&srv);
        wait_sessions(&srv, 0);
    }
    /* Sessions are gone, so the policies' maps hold their final state. */
    hooks_log_maps();
    server_storage_set_scheduler(NULL);
    sched_stop(srv.sched);
    server_storage_stop(true);
    pl_runtime_free(srv.rt);
    store_close(srv.store);
    if (srv.cfg.port_file[0])
        unlink(srv.cfg.port_file);
    close(sfd);
    close(srv.wake_fd);
    config_free(&srv.cfg);
    log_event(LOG_INFO, "shutdown_complete", "%s", "");
    return 0;

startup_error:
    log_event(LOG_ERROR, "startup_failed", "msg=%s", log_q(err));
    fprintf(stderr, "pliantd: %s\n", err);
    free(flags);
    free(dbs);
    server_storage_stop(false);
    config_free(&srv.cfg);
    if (srv.rt)
        pl_runtime_free(srv.rt);
    store_close(srv.store);
    rc = 1;
    return rc;
}
