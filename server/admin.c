#include "admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../manager/catalog.h"
#include "../manager/fsutil.h"
#include "../manager/package.h"
#include "hooks.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "store.h"
#include "views.h"

#define TOKEN_MAX 256
#define TOKEN_MIN 16

static struct {
    struct server *srv;
    struct MHD_Daemon *unix_d, *tcp_d;
    char socket_path[PATH_MAX];
    char token[TOKEN_MAX];
    size_t token_len;
} A;

/* One request's state between libmicrohttpd's calls. */
struct req {
    uint8_t *body;
    size_t len, cap;
    bool too_big;
};

/* ---------------------------------------------------------------- token */

static int load_token(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT) {
            snprintf(err, errlen, "admin token %s: %s", path, strerror(errno));
            return -1;
        }
        uint8_t raw[32];
        char hex[65];
        randombytes_buf(raw, sizeof raw);
        fs_hex(raw, sizeof raw, hex);
        hex[64] = '\n';
        if (fs_write_atomic(path, hex, 65, 0600, err, errlen))
            return -1;
        log_event(LOG_INFO, "admin_token_created", "file=%s", log_q(path));
    } else if (st.st_mode & 077) {
        snprintf(err, errlen, "admin token %s has permissions %04o: group or others may read it; chmod 600 it",
                 path, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    uint8_t *data;
    size_t len;
    if (fs_read_file(path, TOKEN_MAX - 1, &data, &len, err, errlen))
        return -1;
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
        len--;
    if (len < TOKEN_MIN) {
        free(data);
        snprintf(err, errlen, "admin token %s is shorter than %d characters", path, TOKEN_MIN);
        return -1;
    }
    memcpy(A.token, data, len);
    A.token_len = len;
    sodium_memzero(data, len);
    free(data);
    return 0;
}

static bool authorized(struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    /* The length is not secret (the token's is fixed); the bytes are. */
    return strlen(h) == A.token_len && sodium_memcmp(h, A.token, A.token_len) == 0;
}

/* Who sent the request: the peer's uid on the Unix socket (SO_PEERCRED),
 * its address on TCP. */
static void requester(struct MHD_Connection *c, char *out, size_t len)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct ucred cr;
    socklen_t cl = sizeof cr;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (ci && getsockname(ci->connect_fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_UNIX &&
        getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0) {
        snprintf(out, len, "uid=%d pid=%d", (int)cr.uid, (int)cr.pid);
        return;
    }
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[64] = "?", port[16] = "?";
    if (ci && ci->client_addr)
        getnameinfo(ci->client_addr,
                    ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
                    host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(out, len, "tcp:%s:%s", host, port);
}

/* -------------------------------------------------------------- replies */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype, char *text)
{
    if (!text)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Takes the reference to j. */
static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (text) {
        /* A final newline, for people reading it with curl. */
        size_t n = strlen(text);
        char *t = realloc(text, n + 2);
        if (t) {
            t[n] = '\n';
            t[n + 1] = 0;
            text = t;
        }
    }
    return reply(c, status, "application/json", text);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return reply_json(c, status, json_pack("{s:s}", "error", msg));
}

static json_t *result_json(const struct store_result *r)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:b}", "hook", r->hook, "version",
                          r->version, "sha256", r->sha256, "key_id", r->key_id, "unchanged", r->unchanged, "load_ns",
                          (json_int_t)r->load_ns, "persist_ns", (json_int_t)r->persist_ns, "attach_ns",
                          (json_int_t)r->attach_ns, "total_ns", (json_int_t)r->total_ns, "verify_cached",
                          r->verify_cached);
    json_object_set_new(j, "previous", r->previous[0] ? json_string(r->previous) : json_null());
    return j;
}

static enum MHD_Result reply_result(struct MHD_Connection *c, const struct store_result *r)
{
    if (r->status != 200)
        return reply_error(c, (unsigned)r->status, "%s", r->error);
    return reply_json(c, 200, result_json(r));
}

/* --------------------------------------------------------------- routes */

static size_t arg_limit(struct MHD_Connection *c, size_t dflt)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    char *end;
    unsigned long n = v ? strtoul(v, &end, 10) : 0;
    return v && !*end && n > 0 && n <= 1000000 ? (size_t)n : dflt;
}

static enum MHD_Result rollback(struct MHD_Connection *c, const char *hook, const struct req *r, const char *who)
{
    const char *version = NULL;
    json_t *body = NULL;
    if (r->len) {
        json_error_t je;
        body = json_loadb((const char *)r->body, r->len, 0, &je);
        json_t *v = body ? json_object_get(body, "version") : NULL;
        if (!json_is_object(body) || (v && !json_is_string(v))) {
            json_decref(body);
            return reply_error(c, 400, "rollback body must be {} or {\"version\": \"V\"}");
        }
        version = json_string_value(v);
    }
    struct store_result res;
    store_rollback(A.srv->store, hook, version, who, &res);
    json_decref(body);
    return reply_result(c, &res);
}

static enum MHD_Result route_hook(struct MHD_Connection *c, bool get, const char *hook, const char *rest,
                                  const struct req *r, const char *who)
{
    struct store_result res;
    if (!pkg_hook_name_valid(hook) || !pl_hook_find(A.srv->rt, hook))
        return reply_error(c, 404, "this server has no hook \"%.64s\" (pliantctl hooks lists them)", hook);
    if (get && !*rest)
        return reply_json(c, 200, views_hook(A.srv, hook, true));
    if (get && strcmp(rest, "/maps") == 0)
        return reply_json(c, 200, views_hook_maps(A.srv, hook));
    if (get && strcmp(rest, "/history") == 0)
        return reply_json(c, 200, store_history_json(A.srv->store, hook));
    if (!get && strcmp(rest, "/detach") == 0) {
        store_detach(A.srv->store, hook, who, &res);
        return reply_result(c, &res);
    }
    if (!get && strcmp(rest, "/rollback") == 0)
        return rollback(c, hook, r, who);
    return reply_error(c, 404, "no such request: %s /v1/hooks/%s%s", get ? "GET" : "POST", hook, rest);
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url, const char *method, struct req *r,
                             const char *who)
{
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (!get && !post)
        return reply_error(c, 405, "method %s not allowed (GET or POST)", method);
    if (get && strcmp(url, "/metrics") == 0)
        return reply(c, 200, "text/plain; version=0.0.4", metrics_render(A.srv));
    if (get && strcmp(url, "/v1/catalog") == 0)
        return reply_json(c, 200, catalog_from_runtime(A.srv->rt, hooks_all_names, hooks_all_count));
    if (get && strcmp(url, "/v1/hooks") == 0)
        return reply_json(c, 200, views_hooks(A.srv));
    if (strncmp(url, "/v1/hooks/", 10) == 0) {
        char hook[80];
        const char *name = url + 10, *slash = strchr(name, '/');
        size_t n = slash ? (size_t)(slash - name) : strlen(name);
        snprintf(hook, sizeof hook, "%.*s", (int)(n < sizeof hook ? n : sizeof hook - 1), name);
        return route_hook(c, get, hook, name + n, r, who);
    }
    if (get && strcmp(url, "/v1/extensions") == 0)
        return reply_json(c, 200, store_extensions_json(A.srv->store));
    if (post && strcmp(url, "/v1/extensions") == 0) {
        struct store_result res;
        store_push(A.srv->store, r->body ? r->body : (const uint8_t *)"", r->len, who, &res);
        return reply_result(c, &res);
    }
    if (get && strncmp(url, "/v1/maps/", 9) == 0) {
        int status = 404;
        char err[512];
        json_t *j = views_map_dump(A.srv, url + 9, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "hook"),
                                   arg_limit(c, 10000), &status, err, sizeof err);
        return j ? reply_json(c, 200, j) : reply_error(c, (unsigned)status, "%s", err);
    }
    if (get && strcmp(url, "/v1/audit") == 0)
        return reply_json(c, 200, store_audit_json(A.srv->store, arg_limit(c, 100)));
    return reply_error(c, 404, "no such request: %s %s", method, url);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct req *r = *con_cls;
    char who[96];
    if (!r) {
        /* First call: headers only. Refusals go out before any body is
         * read. */
        pl_thread_register();
        requester(c, who, sizeof who);
        if (!authorized(c)) {
            store_audit_refusal(A.srv->store, url, who, 401, "missing or wrong bearer token");
            return reply_error(c, 401, "missing or wrong admin token (Authorization: Bearer <token from the "
                                       "server's admin_token_file>)");
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > PKG_MAX_SIZE) {
            char msg[160];
            snprintf(msg, sizeof msg, "request body of %.20s bytes is larger than the limit of %u", cl, PKG_MAX_SIZE);
            store_audit_refusal(A.srv->store, url, who, 413, msg);
            return reply_error(c, 413, "%s", msg);
        }
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        /* Chunked bodies have no Content-Length: held to the limit here,
         * the excess discarded, the refusal sent at the end. */
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->too_big || r->len + n > PKG_MAX_SIZE) {
            r->too_big = true;
            return MHD_YES;
        }
        if (r->len + n > r->cap) {
            size_t cap = r->cap ? r->cap : 65536;
            while (cap < r->len + n)
                cap *= 2;
            uint8_t *g = realloc(r->body, cap);
            if (!g)
                return MHD_NO;
            r->body = g;
            r->cap = cap;
        }
        memcpy(r->body + r->len, upload, n);
        r->len += n;
        return MHD_YES;
    }
    requester(c, who, sizeof who);
    if (r->too_big) {
        store_audit_refusal(A.srv->store, url, who, 413, "request body larger than the limit");
        return reply_error(c, 413, "request body is larger than the limit of %u bytes", PKG_MAX_SIZE);
    }
    return route(c, url, method, r, who);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct req *r = *con_cls;
    if (r) {
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

/* ------------------------------------------------------------ listeners */

static int open_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "admin socket path %.200s is longer than %zu bytes; set admin_socket to a shorter one",
                 path, sizeof sa.sun_path - 1);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* A socket file left by a server that died is removed; one that a
     * live server answers on is not taken over. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        close(fd);
        snprintf(err, errlen, "admin socket %s is in use by a running server", path);
        return -1;
    }
    unlink(path);
    mode_t old = umask(0177); /* the socket file is created 0600 */
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc != 0 || listen(fd, 16) != 0) {
        snprintf(err, errlen, "admin socket %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return false;
}

static int open_tcp(const char *spec, bool allow_remote, char *err, size_t errlen)
{
    char host[128];
    snprintf(host, sizeof host, "%s", spec);
    char *colon = strrchr(host, ':');
    if (!colon) {
        snprintf(err, errlen, "admin_listen %s: expected HOST:PORT", spec);
        return -1;
    }
    *colon = 0;
    const char *port = colon + 1, *h = host;
    if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') { /* [::1]:7433 */
        colon[-1] = 0;
        h = host + 1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
    int gai = getaddrinfo(h, port, &hints, &res);
    if (gai) {
        snprintf(err, errlen, "admin_listen %s: %s", spec, gai_strerror(gai));
        return -1;
    }
    if (!allow_remote && !is_loopback(res->ai_addr)) {
        freeaddrinfo(res);
        snprintf(err, errlen, "admin_listen %s is not a loopback address: the admin API would be reachable from "
                              "other machines; set admin_allow_remote = true if that is intended", spec);
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 16) != 0) {
        snprintf(err, errlen, "admin_listen %s: %s", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

static struct MHD_Daemon *serve(int fd, char *err, size_t errlen)
{
    /* One internal thread per listener: requests are handled in turn,
     * which is what changes need anyway (the store serialises them). */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, handle, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
    if (!d) {
        snprintf(err, errlen, "cannot start the admin HTTP server (libmicrohttpd)");
        close(fd);
    }
    return d;
}

int admin_start(struct server *srv, char *err, size_t errlen)
{
    A.srv = srv;
    const struct config *c = &srv->cfg;
    char token_path[PATH_MAX];
    if (c->admin_token_file[0])
        snprintf(token_path, sizeof token_path, "%s", c->admin_token_file);
    else
        snprintf(token_path, sizeof token_path, "%.4000s/admin.token", c->data_dir);
    if (load_token(token_path, err, errlen))
        return -1;
    if (strcmp(c->admin_socket, "off") != 0) {
        if (c->admin_socket[0])
            snprintf(A.socket_path, sizeof A.socket_path, "%s", c->admin_socket);
        else
            snprintf(A.socket_path, sizeof A.socket_path, "%.4000s/admin.sock", c->data_dir);
        int fd = open_unix(A.socket_path, err, errlen);
        if (fd < 0 || !(A.unix_d = serve(fd, err, errlen))) {
            A.socket_path[0] = 0;
            return -1;
        }
    }
    if (c->admin_listen[0]) {
        int fd = open_tcp(c->admin_listen, c->admin_allow_remote, err, errlen);
        if (fd < 0 || !(A.tcp_d = serve(fd, err, errlen))) {
            admin_stop();
            return -1;
        }
    }
    log_event(LOG_INFO, "admin_listening", "socket=%s tcp=%s token_file=%s", log_q(A.socket_path),
              log_q(c->admin_listen), log_q(token_path));
    return 0;
}

void admin_stop(void)
{
    if (A.unix_d)
        MHD_stop_daemon(A.unix_d);
    if (A.tcp_d)
        MHD_stop_daemon(A.tcp_d);
    A.unix_d = A.tcp_d = NULL;
    if (A.socket_path[0])
        unlink(A.socket_path);
    A.socket_path[0] = 0;
    sodium_memzero(A.token, sizeof A.token);
}
