#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "../manager/fsutil.h"
#include "../manager/package.h"
#include "log.h"
#include "server.h"
#include "store.h"

/* Which hook and version each file attached, for detaching on removal. */
struct attached_file {
    char name[NAME_MAX + 1];
    char hook[64], version[33];
};

static struct {
    struct server *srv;
    char dir[PATH_MAX];
    int ifd, stop_fd;
    pthread_t thread;
    bool running;
    struct attached_file *files;
    size_t nfiles;
} W = {.ifd = -1, .stop_fd = -1};

static bool is_package_name(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && name[0] != '.' && strcmp(name + n - 4, ".pkg") == 0;
}

static struct attached_file *find_file(const char *name)
{
    for (size_t i = 0; i < W.nfiles; i++)
        if (strcmp(W.files[i].name, name) == 0)
            return &W.files[i];
    return NULL;
}

static void file_written(const char *name)
{
    char path[PATH_MAX + NAME_MAX + 2], who[NAME_MAX + 8], err[512];
    snprintf(path, sizeof path, "%s/%s", W.dir, name);
    snprintf(who, sizeof who, "watch:%s", name);
    uint8_t *data;
    size_t len;
    struct store_result r;
    if (fs_read_file(path, PKG_MAX_SIZE, &data, &len, err, sizeof err)) {
        store_audit_refusal(W.srv->store, "push", who, 400, err);
        return;
    }
    int rc = store_push(W.srv->store, data, len, who, &r);
    free(data);
    if (rc)
        return; /* logged and audited by the store */
    struct attached_file *f = find_file(name);
    if (!f) {
        struct attached_file *g = realloc(W.files, sizeof *g * (W.nfiles + 1));
        if (!g)
            return;
        W.files = g;
        f = &W.files[W.nfiles++];
        snprintf(f->name, sizeof f->name, "%s", name);
    }
    snprintf(f->hook, sizeof f->hook, "%s", r.hook);
    snprintf(f->version, sizeof f->version, "%s", r.version);
}

static void file_removed(const char *name)
{
    struct attached_file *f = find_file(name);
    if (!f)
        return;
    struct store_active a;
    store_active(W.srv->store, f->hook, &a);
    if (strcmp(a.version, f->version) == 0) {
        char who[NAME_MAX + 8];
        struct store_result r;
        snprintf(who, sizeof who, "watch:%s", name);
        store_detach(W.srv->store, f->hook, who, &r);
    } else {
        log_event(LOG_INFO, "watch_remove_ignored", "file=%s hook=%s msg=%s", log_q(name), f->hook,
                  log_q("another version is active now; nothing detached"));
    }
    *f = W.files[--W.nfiles];
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static void *watch_thread(void *arg)
{
    (void)arg;
    struct dirent **list;
    int n = scandir(W.dir, &list, NULL, by_name);
    for (int i = 0; i < n; i++) {
        if (is_package_name(list[i]->d_name))
            file_written(list[i]->d_name);
        free(list[i]);
    }
    if (n >= 0)
        free(list);
    /* inotify records are aligned for struct inotify_event. */
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        struct pollfd pf[2] = {{.fd = W.ifd, .events = POLLIN}, {.fd = W.stop_fd, .events = POLLIN}};
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[1].revents)
            break;
        ssize_t len = read(W.ifd, buf, sizeof buf);
        if (len <= 0)
            continue;
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            p += sizeof *e + e->len;
            if (e->mask & IN_Q_OVERFLOW)
                log_event(LOG_WARN, "watch_overflow", "msg=%s", log_q("inotify queue overflowed: events lost"));
            if (!e->len || !is_package_name(e->name))
                continue;
            if (e->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
                file_written(e->name);
            else if (e->mask & (IN_DELETE | IN_MOVED_FROM))
                file_removed(e->name);
        }
    }
    return NULL;
}

int watch_start(struct server *srv, const char *dir, char *err, size_t errlen)
{
    W.srv = srv;
    snprintf(W.dir, sizeof W.dir, "%s", dir);
    W.ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    W.stop_fd = eventfd(0, EFD_CLOEXEC);
    if (W.ifd < 0 || W.stop_fd < 0 ||
        inotify_add_watch(W.ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR) < 0) {
        snprintf(err, errlen, "watch_dir %s: %s", dir, strerror(errno));
        watch_stop();
        return -1;
    }
    int rc = pthread_create(&W.thread, NULL, watch_thread, NULL);
    if (rc) {
        snprintf(err, errlen, "watch_dir: cannot start thread: %s", strerror(rc));
        watch_stop();
        return -1;
    }
    W.running = true;
    log_event(LOG_INFO, "watching", "dir=%s", log_q(dir));
    return 0;
}

void watch_stop(void)
{
    if (W.running) {
        uint64_t one = 1;
        if (write(W.stop_fd, &one, sizeof one) < 0)
            log_event(LOG_WARN, "watch_stop_failed", "msg=%s", log_q(strerror(errno)));
        pthread_join(W.thread, NULL);
        W.running = false;
    }
    if (W.ifd >= 0)
        close(W.ifd);
    if (W.stop_fd >= 0)
        close(W.stop_fd);
    W.ifd = W.stop_fd = -1;
    free(W.files);
    W.files = NULL;
    W.nfiles = 0;
}
