/* Structured log lines on stderr: "ts=... level=... event=... key=value". */
#ifndef PL_SERVER_LOG_H
#define PL_SERVER_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level l);
int log_parse_level(const char *s, enum log_level *out);
/* fmt holds the key=value pairs after event=...; values with spaces must be
 * quoted by the caller with log_q(). */
void log_event(enum log_level l, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Quotes a value for a log line (thread-local ring of buffers, so up to 4
 * can appear in one call). */
const char *log_q(const char *s);

#endif
