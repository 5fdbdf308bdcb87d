/* pliantd's admin API: JSON over HTTP (libmicrohttpd) on a listener of its
 * own, never the SQL port. pliantctl is its client.
 *
 * Listeners: a Unix socket, <data_dir>/admin.sock by default (mode 0600:
 * only the server's user may connect), and optionally TCP
 * (`admin_listen = HOST:PORT`), which must be a loopback address unless
 * `admin_allow_remote = true`.
 *
 * Authentication: every request carries `Authorization: Bearer <token>`,
 * the contents of the token file (<data_dir>/admin.token by default;
 * created with 32 random bytes, hex, mode 0600, on first start; pliantd
 * refuses to start when group or others may read it), compared in
 * constant time. The token says who may talk to the API; what code may
 * run is decided separately: a pushed package must carry an Ed25519
 * signature by a trusted key (server/store.h). A stolen token therefore
 * lets its holder detach or roll back policies, not run code of their
 * own; a stolen signing key is useless without the token. (Signing every
 * request instead would add a second key-distribution path for no gain:
 * the local socket's permissions and the token already bind requests to
 * an operator, and SO_PEERCRED records which uid sent each change.)
 *
 * Requests (replies are JSON, errors {"error": "..."} with a 4xx/5xx):
 *   GET  /v1/catalog                  hook catalog (manager/catalog.h)
 *   GET  /v1/hooks                    every hook: attached version, counters, latency
 *   GET  /v1/hooks/HOOK               one hook with its ABI, maps and history
 *   GET  /v1/hooks/HOOK/maps          maps of the attached program
 *   GET  /v1/hooks/HOOK/history       attach/rollback/detach history
 *   POST /v1/hooks/HOOK/detach
 *   POST /v1/hooks/HOOK/rollback      body {} or {"version": "V"}
 *   GET  /v1/extensions               stored package versions
 *   POST /v1/extensions               body: a signed package -> verified, stored, attached
 *   GET  /v1/maps/NAME[?hook=H&limit=N]  a map's entries
 *   GET  /v1/audit[?limit=N]          the last N audit log entries (default 100)
 *   GET  /metrics                     Prometheus text (server/metrics.h)
 * A body larger than PKG_MAX_SIZE is refused (413) from its Content-Length,
 * before it is read. */
#ifndef PL_SERVER_ADMIN_H
#define PL_SERVER_ADMIN_H

#include <stddef.h>

struct server;

/* Reads or creates the token, opens the listeners, starts serving. */
int admin_start(struct server *srv, char *err, size_t errlen);
/* Stops serving (waits for a request in progress) and removes the socket. */
void admin_stop(void);

#endif
