/* A growable byte buffer shared by the engine (row encoding) and the server
 * (message building). Allocation failure is sticky: callers check `oom` once
 * after building a whole message instead of after every append. */
#ifndef PL_ENGINE_BUF_H
#define PL_ENGINE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pl_buf {
    char *data;
    size_t len, cap;
    bool oom;
};

void pl_buf_free(struct pl_buf *b);
bool pl_buf_reserve(struct pl_buf *b, size_t extra);
void pl_buf_put(struct pl_buf *b, const void *p, size_t n);
void pl_buf_putc(struct pl_buf *b, char c);
void pl_buf_puts(struct pl_buf *b, const char *s); /* without the NUL */
void pl_buf_printf(struct pl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pl_buf_be16(struct pl_buf *b, uint16_t v);
void pl_buf_be32(struct pl_buf *b, uint32_t v);
/* Overwrites 4 bytes at `off` (a length placeholder written earlier). */
void pl_buf_set_be32(struct pl_buf *b, size_t off, uint32_t v);

#endif
