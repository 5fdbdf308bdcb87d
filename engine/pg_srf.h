/* generate_series and unnest as SQLite table-valued functions (pg_srf.c). */
#ifndef PL_ENGINE_PG_SRF_H
#define PL_ENGINE_PG_SRF_H

#include <sqlite3.h>

/* Registers both on a connection. 0, or -1. */
int pgsrf_register(sqlite3 *db);

#endif
