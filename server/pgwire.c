#include "pgwire.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void pw_init(struct pw_conn *c, int fd, int wake_fd, size_t max_msg)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->wake_fd = wake_fd;
    c->max_msg = max_msg;
}

void pw_free(struct pw_conn *c)
{
    free(c->in);
    pl_buf_free(&c->out);
    c->in = NULL;
}

bool pw_has_buffered(const struct pw_conn *c) { return c->in_len > c->in_off; }

/* Ensures `need` unconsumed bytes are buffered. */
static int fill(struct pw_conn *c, size_t need, int timeout_ms, bool wakeable)
{
    if (c->in_len - c->in_off >= need)
        return PW_OK;
    if (c->in_off) { /* compact: the previous message is consumed */
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (need > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 8192;
        while (cap < need)
            cap *= 2;
        uint8_t *p = realloc(c->in, cap);
        if (!p)
            return PW_EIO;
        c->in = p;
        c->in_cap = cap;
    }
    while (c->in_len < need) {
        struct pollfd pf[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = c->wake_fd, .events = POLLIN}};
        int n = poll(pf, wakeable && c->wake_fd >= 0 ? 2 : 1, timeout_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return PW_EIO;
        }
        if (n == 0)
            return PW_EIO;
        if (wakeable && c->wake_fd >= 0 && (pf[1].revents & POLLIN)) {
            if (c->in_len == 0)
                return PW_WAKE;
            wakeable = false; /* a message is arriving: finish reading it */
        }
        if (!pf[0].revents)
            continue;
        ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (r == 0)
            return PW_EOF;
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return PW_EIO;
        }
        c->in_len += (size_t)r;
    }
    return PW_OK;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int pw_read_startup(struct pw_conn *c, struct pw_msg *m, int timeout_ms, char *err, size_t errlen)
{
    int rc = fill(c, 4, timeout_ms, true);
    if (rc)
        return rc;
    uint32_t len = be32(c->in + c->in_off);
    if (len < 8 || len > PW_STARTUP_MAX) {
        snprintf(err, errlen, "invalid length of startup packet (%u bytes)", len);
        return PW_EPROTO;
    }
    if ((rc = fill(c, len, timeout_ms, true)))
        return rc;
    m->type = 0;
    m->data = c->in + c->in_off + 4;
    m->len = len - 4;
    c->in_off += len;
    return PW_OK;
}

int pw_read_msg(struct pw_conn *c, struct pw_msg *m, int timeout_ms, char *err, size_t errlen)
{
    int rc = fill(c, 5, timeout_ms, true);
    if (rc)
        return rc;
    const uint8_t *h = c->in + c->in_off;
    uint32_t len = be32(h + 1);
    if (len < 4) {
        snprintf(err, errlen, "invalid message length %u for message type 0x%02x", len, h[0]);
        return PW_EPROTO;
    }
    if (len - 4 > c->max_msg) {
        snprintf(err, errlen, "message of type 0x%02x is too long (%u bytes; the limit is %zu, see max_message)",
                 h[0], len - 4, c->max_msg);
        return PW_EPROTO;
    }
    /* The rest of a started message is not wakeable: it is on its way. */
    if ((rc = fill(c, (size_t)len + 1, timeout_ms < 0 ? 60000 : timeout_ms, false)))
        return rc;
    h = c->in + c->in_off;
    m->type = (char)h[0];
    m->data = h + 5;
    m->len = len - 4;
    c->in_off += (size_t)len + 1;
    return PW_OK;
}

int pw_send_raw(struct pw_conn *c, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return PW_EIO;
        }
        s += w;
        n -= (size_t)w;
    }
    return PW_OK;
}

int pw_flush(struct pw_conn *c)
{
    if (c->out.oom) {
        c->out.len = 0;
        c->out.oom = false;
        return PW_EIO;
    }
    int rc = c->out.len ? pw_send_raw(c, c->out.data, c->out.len) : PW_OK;
    c->out.len = 0;
    /* Do not keep a huge result's buffer around for the session's life. */
    if (c->out.cap > (1u << 20)) {
        pl_buf_free(&c->out);
    }
    return rc;
}

void pw_begin(struct pw_conn *c, char type)
{
    pl_buf_putc(&c->out, type);
    c->msg_start = c->out.len;
    pl_buf_be32(&c->out, 0);
}

void pw_end(struct pw_conn *c) { pl_buf_set_be32(&c->out, c->msg_start, (uint32_t)(c->out.len - c->msg_start)); }

static void fields(struct pw_conn *c, char type, const char *severity, const char *sqlstate, const char *msg)
{
    pw_begin(c, type);
    pl_buf_putc(&c->out, 'S');
    pw_str(c, severity);
    pl_buf_putc(&c->out, 'V');
    pw_str(c, severity);
    pl_buf_putc(&c->out, 'C');
    pw_str(c, sqlstate);
    pl_buf_putc(&c->out, 'M');
    pw_str(c, msg);
    pl_buf_putc(&c->out, 0);
    pw_end(c);
}

void pw_error(struct pw_conn *c, const char *severity, const char *sqlstate, const char *msg)
{
    fields(c, 'E', severity, sqlstate, msg);
}

void pw_notice(struct pw_conn *c, const char *severity, const char *sqlstate, const char *msg)
{
    fields(c, 'N', severity, sqlstate, msg);
}

void pw_param_status(struct pw_conn *c, const char *name, const char *value)
{
    pw_begin(c, 'S');
    pw_str(c, name);
    pw_str(c, value);
    pw_end(c);
}

void pw_ready(struct pw_conn *c, char status)
{
    pw_begin(c, 'Z');
    pl_buf_putc(&c->out, status);
    pw_end(c);
}

void pw_command_complete(struct pw_conn *c, const char *tag)
{
    pw_begin(c, 'C');
    pw_str(c, tag);
    pw_end(c);
}

const uint8_t *pw_get_bytes(struct pw_reader *r, size_t n)
{
    if (r->bad || r->left < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

uint8_t pw_get_u8(struct pw_reader *r)
{
    const uint8_t *p = pw_get_bytes(r, 1);
    return p ? p[0] : 0;
}

int16_t pw_get_i16(struct pw_reader *r)
{
    const uint8_t *p = pw_get_bytes(r, 2);
    return p ? (int16_t)((uint16_t)p[0] << 8 | p[1]) : 0;
}

int32_t pw_get_i32(struct pw_reader *r)
{
    const uint8_t *p = pw_get_bytes(r, 4);
    return p ? (int32_t)be32(p) : 0;
}

const char *pw_get_str(struct pw_reader *r)
{
    if (r->bad)
        return "";
    const uint8_t *nul = memchr(r->p, 0, r->left);
    if (!nul) {
        r->bad = true;
        return "";
    }
    const char *s = (const char *)r->p;
    size_t n = (size_t)(nul - r->p) + 1;
    r->p += n;
    r->left -= n;
    return s;
}
