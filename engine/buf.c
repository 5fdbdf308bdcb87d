#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pl_buf_free(struct pl_buf *b)
{
    free(b->data);
    *b = (struct pl_buf){0};
}

bool pl_buf_reserve(struct pl_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->len + extra <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void pl_buf_put(struct pl_buf *b, const void *p, size_t n)
{
    if (!n || !pl_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void pl_buf_putc(struct pl_buf *b, char c) { pl_buf_put(b, &c, 1); }
void pl_buf_puts(struct pl_buf *b, const char *s) { pl_buf_put(b, s, strlen(s)); }

void pl_buf_printf(struct pl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !pl_buf_reserve(b, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void pl_buf_be16(struct pl_buf *b, uint16_t v)
{
    unsigned char x[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    pl_buf_put(b, x, 2);
}

void pl_buf_be32(struct pl_buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    pl_buf_put(b, x, 4);
}

void pl_buf_set_be32(struct pl_buf *b, size_t off, uint32_t v)
{
    if (b->oom || off + 4 > b->len)
        return;
    unsigned char *x = (unsigned char *)b->data + off;
    x[0] = (unsigned char)(v >> 24);
    x[1] = (unsigned char)(v >> 16);
    x[2] = (unsigned char)(v >> 8);
    x[3] = (unsigned char)v;
}
