/* Read-only tenant: statements of tenant READONLY_TENANT may read but not
 * change anything — no INSERT, UPDATE, DELETE, CREATE, DROP, ALTER,
 * REINDEX or ANALYZE. SQLite refuses to prepare such a statement, and the
 * client gets SQLSTATE 42501. Tenants are numbered in the order of the
 * [database] sections (then --database flags) from 0. */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

#ifndef READONLY_TENANT
#define READONLY_TENANT 1
#endif

SEC("hook/authorize")
long authorize_readonly_tenant(struct pl_authorize_ctx *ctx)
{
    if (ctx->tenant != READONLY_TENANT)
        return PL_AUTH_ALLOW;
    u32 a = ctx->action;
    /* Codes 1..18 are the CREATE/DROP family plus DELETE and INSERT. Temp
     * objects are denied too: a read-only tenant has no use for them and
     * they would let it fill the disk. */
    if ((a >= PL_SQL_CREATE_INDEX && a <= PL_SQL_INSERT) || a == PL_SQL_UPDATE ||
        (a >= PL_SQL_ALTER_TABLE && a <= PL_SQL_DROP_VTABLE))
        return PL_AUTH_DENY;
    return PL_AUTH_ALLOW;
}
