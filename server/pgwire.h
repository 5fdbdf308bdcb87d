/* PostgreSQL wire protocol v3 framing: reading length-checked messages from
 * a socket, building outgoing messages, parsing message bodies safely. */
#ifndef PL_SERVER_PGWIRE_H
#define PL_SERVER_PGWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/buf.h"

#define PW_PROTO_V3 196608u      /* 3.0 */
#define PW_CANCEL_CODE 80877102u
#define PW_SSL_CODE 80877103u
#define PW_GSSENC_CODE 80877104u
#define PW_STARTUP_MAX 10000u    /* PostgreSQL's limit for a startup packet */

enum pw_rc {
    PW_OK = 0,
    PW_EOF = -1,    /* peer closed */
    PW_EIO = -2,    /* socket error or timeout */
    PW_EPROTO = -3, /* malformed or oversized message: err says which */
    PW_WAKE = -4,   /* the wake fd fired (server shutting down) */
};

struct pw_conn {
    int fd;
    int wake_fd;       /* polled along with fd while waiting for a message; -1: none */
    size_t max_msg;    /* largest accepted body */
    uint8_t *in;       /* receive buffer */
    size_t in_len, in_off, in_cap;
    struct pl_buf out; /* pending output */
    size_t msg_start;  /* start of the message being built */
};

struct pw_msg {
    char type;          /* 0 for a startup-phase packet */
    const uint8_t *data;
    uint32_t len;
};

void pw_init(struct pw_conn *c, int fd, int wake_fd, size_t max_msg);
void pw_free(struct pw_conn *c);
/* timeout_ms < 0: wait forever. The message stays valid until the next read. */
int pw_read_startup(struct pw_conn *c, struct pw_msg *m, int timeout_ms, char *err, size_t errlen);
int pw_read_msg(struct pw_conn *c, struct pw_msg *m, int timeout_ms, char *err, size_t errlen);
/* Bytes already received but not yet consumed (pipelined messages). */
bool pw_has_buffered(const struct pw_conn *c);
int pw_flush(struct pw_conn *c);
int pw_send_raw(struct pw_conn *c, const void *p, size_t n);

/* Building: begin, append fields, end (fills the length). */
void pw_begin(struct pw_conn *c, char type);
void pw_end(struct pw_conn *c);
static inline void pw_i16(struct pw_conn *c, int16_t v) { pl_buf_be16(&c->out, (uint16_t)v); }
static inline void pw_i32(struct pw_conn *c, int32_t v) { pl_buf_be32(&c->out, (uint32_t)v); }
static inline void pw_str(struct pw_conn *c, const char *s) { pl_buf_put(&c->out, s, __builtin_strlen(s) + 1); }
static inline void pw_bytes(struct pw_conn *c, const void *p, size_t n) { pl_buf_put(&c->out, p, n); }

/* Common messages. severity is "ERROR", "FATAL" or "WARNING"/"NOTICE". */
void pw_error(struct pw_conn *c, const char *severity, const char *sqlstate, const char *msg);
void pw_notice(struct pw_conn *c, const char *severity, const char *sqlstate, const char *msg);
void pw_param_status(struct pw_conn *c, const char *name, const char *value);
void pw_ready(struct pw_conn *c, char status);
void pw_command_complete(struct pw_conn *c, const char *tag);

/* Bounds-checked body reader; any overrun sets `bad` and returns zeros. */
struct pw_reader {
    const uint8_t *p;
    size_t left;
    bool bad;
};
static inline struct pw_reader pw_reader(const struct pw_msg *m) { return (struct pw_reader){m->data, m->len, false}; }
uint8_t pw_get_u8(struct pw_reader *r);
int16_t pw_get_i16(struct pw_reader *r);
int32_t pw_get_i32(struct pw_reader *r);
/* A NUL-terminated string inside the body; "" (and bad) if unterminated. */
const char *pw_get_str(struct pw_reader *r);
const uint8_t *pw_get_bytes(struct pw_reader *r, size_t n);

#endif
