/* The admin API's client (libcurl): pliantctl's requests to pliantd, and
 * the tests' in-process pushes. */
#ifndef PL_MANAGER_CLIENT_H
#define PL_MANAGER_CLIENT_H

#include <limits.h>
#include <stddef.h>

struct client {
    char unix_path[PATH_MAX]; /* Unix socket, or "" for TCP */
    char base[300];           /* "http://HOST:PORT" or, on the Unix socket, "http://localhost" */
    char auth[300];           /* "Authorization: Bearer ..." */
    void *curl;
};

/* addr: a socket path (anything with a '/', or "unix:PATH") or HOST:PORT.
 * token_file: holds the bearer token (whitespace at the end ignored). */
int client_open(struct client *c, const char *addr, const char *token_file, char *err, size_t errlen);
/* One request. Returns the HTTP status, or -1 when the server could not be
 * reached (err says why). *resp (malloc'ed, NUL-terminated) is the body. */
long client_request(struct client *c, const char *method, const char *path, const void *body, size_t len,
                    char **resp, char *err, size_t errlen);
void client_close(struct client *c);

#endif
