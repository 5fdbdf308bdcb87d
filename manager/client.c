#include "client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

int client_open(struct client *c, const char *addr, const char *token_file, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (strncmp(addr, "unix:", 5) == 0)
        addr += 5;
    if (strchr(addr, '/')) {
        snprintf(c->unix_path, sizeof c->unix_path, "%s", addr);
        snprintf(c->base, sizeof c->base, "http://localhost");
    } else if (strchr(addr, ':')) {
        snprintf(c->base, sizeof c->base, "http://%.280s", addr);
    } else {
        snprintf(err, errlen, "server address \"%s\": expected a socket path or HOST:PORT", addr);
        return -1;
    }
    uint8_t *tok;
    size_t n;
    if (fs_read_file(token_file, 256, &tok, &n, err, errlen))
        return -1;
    while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
        n--;
    snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %.*s", (int)n, (const char *)tok);
    memset(tok, 0, n);
    free(tok);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!(c->curl = curl_easy_init())) {
        snprintf(err, errlen, "libcurl failed to initialise");
        return -1;
    }
    return 0;
}

struct sink {
    char *data;
    size_t len;
};

static size_t collect(char *p, size_t size, size_t n, void *user)
{
    struct sink *s = user;
    size_t add = size * n;
    char *g = realloc(s->data, s->len + add + 1);
    if (!g)
        return 0;
    memcpy(g + s->len, p, add);
    s->data = g;
    s->len += add;
    s->data[s->len] = 0;
    return add;
}

long client_request(struct client *c, const char *method, const char *path, const void *body, size_t len,
                    char **resp, char *err, size_t errlen)
{
    CURL *h = c->curl;
    char url[600];
    snprintf(url, sizeof url, "%s%s", c->base, path);
    struct sink s = {0};
    struct curl_slist *hdr = curl_slist_append(NULL, c->auth);
    hdr = curl_slist_append(hdr, "Content-Type: application/octet-stream");
    /* For bodies over 1 MiB curl asks "Expect: 100-continue" first, so an
     * oversized package is refused before it is sent. */
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (c->unix_path[0])
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->unix_path);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdr);
    long status = -1;
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "cannot reach pliantd at %s: %s", c->unix_path[0] ? c->unix_path : c->base,
                 curl_easy_strerror(rc));
        free(s.data);
        return -1;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (!s.data)
        s.data = calloc(1, 1);
    *resp = s.data;
    return status;
}

void client_close(struct client *c)
{
    if (c->curl)
        curl_easy_cleanup(c->curl);
    c->curl = NULL;
    memset(c->auth, 0, sizeof c->auth);
}
