/* Small file helpers shared by pliantd's extension store and pliantctl. */
#ifndef PL_MANAGER_FSUTIL_H
#define PL_MANAGER_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads a whole regular file of at most max bytes into a malloc'ed buffer
 * (NUL-terminated one past len, for text). A larger file is refused
 * before it is read, with an error naming the limit. */
int fs_read_file(const char *path, size_t max, uint8_t **out, size_t *len, char *err, size_t errlen);

/* Replaces path atomically and durably: writes path.tmp with mode, fsyncs
 * it, renames it over path and fsyncs the directory. A reader sees the old
 * or the new content, never a mix, and after a crash one of the two. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, char *err, size_t errlen);

/* mkdir -p with mode for the directories it creates. */
int fs_mkdirs(const char *path, mode_t mode, char *err, size_t errlen);

/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void fs_hex(const uint8_t *in, size_t n, char *out);
/* Parses exactly 2n hex digits; 0 on success. */
int fs_unhex(const char *in, uint8_t *out, size_t n);

#endif
