/* Program objects: loading raw instructions, lifetime, direct execution. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void prog_free(pl_prog *p)
{
    pl_jit_free(p);
    for (uint32_t i = 0; i < p->nmaps; i++)
        pl_map_put(p->maps[i]);
    free(p->maps);
    free(p->insns);
    free(p->aux);
    free(p->subprogs);
    free(p);
}

int pl_prog_create(pl_runtime *rt, struct pl_insn *insns, struct pl_insn_aux *aux,
                   uint32_t ninsns, pl_map **maps, uint32_t nmaps, const struct pl_line_resolver *lines,
                   const struct pl_prog_opts *opts, pl_prog **out, pl_error *err)
{
    pl_prog *p = calloc(1, sizeof(*p));
    pl_map **refs = nmaps ? calloc(nmaps, sizeof(*refs)) : NULL;
    if (!p || (nmaps && !refs)) {
        free(p);
        free(refs);
        return pl_fail(err, PL_ENOMEM, -1, "out of memory loading a program");
    }
    atomic_init(&p->refs, 1);
    p->rt = rt;
    snprintf(p->name, sizeof(p->name), "%s", opts && opts->name ? opts->name : "prog");
    p->flags = opts ? opts->flags : 0;
    p->hook = opts ? opts->hook : NULL;
    p->insns = insns;
    p->aux = aux;
    p->ninsns = ninsns;
    for (uint32_t i = 0; i < nmaps; i++) {
        pl_map_get(maps[i]);
        refs[i] = maps[i];
    }
    p->maps = refs;
    p->nmaps = nmaps;
    int rc = pl_validate(p, err);
    if (!rc && !(p->flags & PL_LOAD_NO_VERIFY)) {
        struct pl_verify_opts vo = {
            .hook = p->hook,
            .lines = lines,
            .ctx_size = opts ? opts->ctx_size : 0,
            .log = opts ? opts->verifier_log : NULL,
            .log_user = opts ? opts->verifier_log_user : NULL,
        };
        rc = pl_verify_cached(p, &vo, err);
        p->verified = rc == 0;
    }
    if (!rc && !(p->flags & PL_LOAD_NO_JIT))
        rc = pl_jit_compile(p, err);
    if (rc) {
        /* The caller keeps ownership of insns and aux on failure. */
        p->insns = NULL;
        p->aux = NULL;
        prog_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* Rewrites lddw pseudo forms (map by index, map value by index + offset) to
 * plain 64-bit constants and records what they were for the verifier. */
static int resolve_lddw(struct pl_insn *insns, struct pl_insn_aux *aux, uint32_t n,
                        pl_map *const *maps, uint32_t nmaps, pl_error *err)
{
    for (uint32_t i = 0; i < n; i++) {
        struct pl_insn *in = &insns[i];
        if (in->code != BPF_LDDW || in->src == 0)
            continue;
        if (i + 1 >= n)
            return pl_fail(err, PL_EPROG, (int)i, "instruction %u: lddw is missing its second half", i);
        uint32_t idx = (uint32_t)in->imm;
        int32_t hi = insns[i + 1].imm;
        pl_map *map = idx < nmaps ? maps[idx] : NULL;
        switch (in->src) {
        case BPF_PSEUDO_MAP_FD:
        case BPF_PSEUDO_MAP_IDX:
            if (!map)
                return pl_fail(err, PL_EPROG, (int)i, "instruction %u: lddw refers to map %u but %u maps were given",
                               i, idx, nmaps);
            if (hi)
                return pl_fail(err, PL_EPROG, (int)i, "instruction %u: lddw of a map has a non-zero upper half", i);
            aux[i] = (struct pl_insn_aux){.kind = PL_INSN_LDDW_MAP, .map = idx};
            break;
        case BPF_PSEUDO_MAP_VALUE:
        case BPF_PSEUDO_MAP_IDX_VALUE: {
            if (!map)
                return pl_fail(err, PL_EPROG, (int)i, "instruction %u: lddw refers to map %u but %u maps were given",
                               i, idx, nmaps);
            const struct pl_map_spec *spec = pl_map_info(map);
            if (spec->type != PL_MAP_ARRAY || spec->max_entries != 1 || (uint32_t)hi >= spec->value_size)
                return pl_fail(err, PL_EPROG, (int)i,
                               "instruction %u: lddw map value needs a one-entry array map and an offset inside its value",
                               i);
            aux[i] = (struct pl_insn_aux){.kind = PL_INSN_LDDW_MAP_VALUE, .map = idx, .offset = (uint32_t)hi};
            break;
        }
        default:
            return pl_fail(err, PL_EPROG, (int)i, "instruction %u: unsupported lddw pseudo source %u", i, in->src);
        }
        uint64_t addr = aux[i].kind == PL_INSN_LDDW_MAP ? (uint64_t)(uintptr_t)map
                                                        : (uint64_t)(uintptr_t)pl_map_value_base(map) + aux[i].offset;
        in->src = 0;
        in->imm = (int32_t)(uint32_t)addr;
        insns[i + 1].imm = (int32_t)(uint32_t)(addr >> 32);
        i++;
    }
    return 0;
}

int pl_prog_load(pl_runtime *rt, const struct pl_insn *insns, uint32_t ninsns,
                 const struct pl_prog_opts *opts, pl_prog **out, pl_error *err)
{
    if (!rt || !insns || !out)
        return pl_fail(err, PL_EINVAL, -1, "pl_prog_load: runtime, instructions and out are required");
    if (ninsns == 0 || ninsns > PL_MAX_INSNS)
        return pl_fail(err, PL_EPROG, -1, "a program has 1 to %u instructions, got %u", PL_MAX_INSNS, ninsns);
    uint32_t nmaps = opts ? opts->nmaps : 0;
    if (nmaps && !opts->maps)
        return pl_fail(err, PL_EINVAL, -1, "pl_prog_load: nmaps is %u but maps is NULL", nmaps);
    struct pl_insn *copy = malloc(sizeof(*copy) * ninsns);
    struct pl_insn_aux *aux = calloc(ninsns, sizeof(*aux));
    if (!copy || !aux) {
        free(copy);
        free(aux);
        return pl_fail(err, PL_ENOMEM, -1, "out of memory loading a program of %u instructions", ninsns);
    }
    memcpy(copy, insns, sizeof(*copy) * ninsns);
    int rc = resolve_lddw(copy, aux, ninsns, nmaps ? opts->maps : NULL, nmaps, err);
    if (!rc)
        rc = pl_prog_create(rt, copy, aux, ninsns, nmaps ? (pl_map **)opts->maps : NULL, nmaps, NULL, opts, out,
                            err);
    if (rc) {
        free(copy);
        free(aux);
    }
    return rc;
}

void pl_prog_get(pl_prog *prog)
{
    atomic_fetch_add_explicit(&prog->refs, 1, memory_order_relaxed);
}

void pl_prog_put(pl_prog *prog)
{
    if (prog && atomic_fetch_sub_explicit(&prog->refs, 1, memory_order_acq_rel) == 1)
        prog_free(prog);
}

const char *pl_prog_name(const pl_prog *prog) { return prog->name; }
uint32_t pl_prog_insn_count(const pl_prog *prog) { return prog->ninsns; }
bool pl_prog_is_jitted(const pl_prog *prog) { return prog->jit_fn != NULL; }
bool pl_prog_is_verified(const pl_prog *prog) { return prog->verified; }

void pl_prog_verifier_stats(const pl_prog *prog, struct pl_verifier_stats *out)
{
    *out = prog->vstats;
}
uint32_t pl_prog_map_count(const pl_prog *prog) { return prog->nmaps; }

pl_map *pl_prog_map(const pl_prog *prog, uint32_t i)
{
    return i < prog->nmaps ? prog->maps[i] : NULL;
}

pl_map *pl_prog_map_by_name(const pl_prog *prog, const char *name)
{
    for (uint32_t i = 0; prog && name && i < prog->nmaps; i++)
        if (!strcmp(pl_map_info(prog->maps[i])->name, name))
            return prog->maps[i];
    return NULL;
}

int pl_prog_run(pl_prog *prog, void *ctx, uint64_t ctx_len, bool jit, uint64_t *ret)
{
    pl_jit_result res;
    pl_rcu_read_lock();
    if (jit && prog->jit_fn)
        res = prog->jit_fn(ctx, ctx_len);
    else
        res = pl_interp_run(prog, ctx, ctx_len);
    pl_rcu_read_unlock();
    /* A bad answer is the hook's business: running a program directly
     * gives its r0 whatever the engine. */
    if (res.fault == PL__JIT_ABORTED)
        return PL_EFAULT;
    if (ret)
        *ret = res.r0;
    return 0;
}
