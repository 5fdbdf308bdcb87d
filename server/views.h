/* JSON views of the hooks, their programs and maps: the admin API's
 * replies and the rows of the SQL tables pliant_hooks and pliant_maps
 * (engine/introspect.c) come from here, so the two always agree. */
#ifndef PL_SERVER_VIEWS_H
#define PL_SERVER_VIEWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct server;

/* One hook: attached, version, origin, program, counters, latency.
 * detail adds its ABI (catalog entry), maps and history. NULL: no such hook. */
json_t *views_hook(struct server *srv, const char *hook, bool detail);
/* Every registered hook, in hooks_all_names order. */
json_t *views_hooks(struct server *srv);
/* The maps of the program attached to hook ([] when none; NULL: no hook). */
json_t *views_hook_maps(struct server *srv, const char *hook);
/* The maps of every attached program, each with its "hook". */
json_t *views_all_maps(struct server *srv);
/* A map's entries (at most limit), by name, searched in the programs
 * attached to hook (NULL: to any hook). Integers of 4 or 8 bytes print as
 * numbers, anything else as hex; per-thread arrays are summed over the
 * threads. NULL with *status (404, 409) and a message in err. */
json_t *views_map_dump(struct server *srv, const char *name, const char *hook, size_t limit, int *status, char *err,
                       size_t errlen);

/* The rows of the SQL tables (engine/introspect.h); user: the server. */
#include "../engine/introspect.h"
json_t *views_introspect(void *srv, enum eng_itable table);

#endif
