/*
 * The verifier: proves a program safe before it can run.
 *
 * Method: abstract interpretation over every path, in depth-first order,
 * with a typed abstract state per register and per stack byte (see
 * verifier.h) and scalar bounds as signed and unsigned ranges plus known
 * bits. verifier_check.c holds the transfer function of each instruction;
 * this file explores paths and prunes them.
 *
 * Loops: iterations are explored (the Linux approach) rather than widened
 * (PREVAIL). Why: policies are short and their loops are bounded by small
 * constants (16 candidates, a 64-byte key), where exploring keeps exact
 * constants for loop counters — so array indexes and return values stay
 * precise without a separate termination proof — and programs written for
 * the kernel verifier verify here unchanged. Termination of the analysis is
 * guaranteed by the budget of 1,000,000 processed instructions; a state that
 * comes back unchanged to a loop head it is still exploring is an infinite
 * loop and rejected at once.
 *
 * Pruning: at prune points (jump targets, where paths meet, and returns
 * from local calls) each state is compared with the
 * checkpoints already fully explored there; if one of them covers it
 * (every live register and stack byte at least as general), the path is
 * safe and ends. Registers that are dead at the point (static liveness) are
 * ignored, which lets diamonds with different temporaries merge.
 *
 * Joins: a branch inside a loop (keep the best candidate so far) doubles
 * the paths at every iteration. When a fully explored checkpoint has the
 * same shape as the new state (same register types, same pointers, same
 * stack layout) and differs only in scalar values, the verifier explores
 * their join instead — each scalar's range becomes the union of both — and
 * the join covers the new state, so this is sound. Loop counters keep their
 * exact values because a loop head is only joined with checkpoints that are
 * finished, never with the iteration still being explored.
 *
 * Widening: a join that grows a bound moves it to the next threshold — a
 * constant the program compares against (and its neighbours), an end of
 * the hook's return range, 0, or the pointer offset limit — so a range such
 * as "best candidate so far" converges in one or two joins instead of one
 * per value. Widening can lose precision the program needed, so it is
 * speculative: if the widened pass rejects the program, a second pass with
 * plain joins decides, and its verdict is the one reported.
 */
#include "verifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CHECKPOINTS_PER_INSN 64

uint32_t v_subprog_of(const pl_prog *p, uint32_t insn)
{
    uint32_t lo = 0, hi = p->nsubprogs;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (p->subprogs[mid] <= insn)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

int v_fail(struct verifier *v, uint32_t insn, const char *fmt, ...)
{
    char reason[320], dis[96], where[160] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    struct pl_line found, *line = NULL;
    if (v->lines && v->lines->resolve(v->lines->ctx, insn, &found))
        line = &found;
    if (line)
        snprintf(where, sizeof(where), "%s:%u: ", line->file, line->line);
    pl_disasm(&v->prog->insns[insn], dis, sizeof(dis));
    pl_fail(v->err, PL_EVERIFY, (int)insn, "%sinstruction %u (%s): %s", where, insn, dis, reason);
    if (line && line->text && v->err) {
        size_t len = strlen(v->err->msg);
        snprintf(v->err->msg + len, sizeof(v->err->msg) - len, "\n    %s", line->text);
    }
    if (v->log)
        v->log(v->log_user, v->err ? v->err->msg : reason);
    return PL_EVERIFY;
}

/* ------------------------------------------------------------ frames */

struct vframe *v_frame_alloc(struct verifier *v)
{
    struct vframe *f = v->free_frames;
    if (f) {
        v->free_frames = *(struct vframe **)f;
        return f;
    }
    return malloc(sizeof(*f));
}

static void frame_release(struct verifier *v, struct vframe *f)
{
    *(struct vframe **)f = v->free_frames;
    v->free_frames = f;
}

static void frame_copy(struct vframe *dst, const struct vframe *src)
{
    memcpy(dst->regs, src->regs, sizeof(src->regs));
    dst->callsite = src->callsite;
    dst->subprog = src->subprog;
    dst->nslots = src->nslots;
    memcpy(dst->slots, src->slots, sizeof(struct vslot) * src->nslots);
}

static int state_copy(struct verifier *v, struct vstate *dst, const struct vstate *src)
{
    for (uint32_t i = 0; i <= src->curframe; i++) {
        dst->frames[i] = v_frame_alloc(v);
        if (!dst->frames[i]) {
            while (i--)
                frame_release(v, dst->frames[i]);
            return pl_fail(v->err, PL_ENOMEM, -1, "out of memory verifying the program");
        }
        frame_copy(dst->frames[i], src->frames[i]);
    }
    dst->curframe = src->curframe;
    dst->insn = src->insn;
    dst->parent = src->parent;
    return 0;
}

static void state_release(struct verifier *v, struct vstate *st)
{
    for (uint32_t i = 0; i <= st->curframe; i++)
        if (st->frames[i])
            frame_release(v, st->frames[i]);
    memset(st->frames, 0, sizeof(st->frames));
}

/* A path ended: checkpoints whose every path has ended become usable for
 * pruning. */
static void path_done(struct vnode *n)
{
    while (n && --n->branches == 0)
        n = n->parent;
}

int v_push_branch(struct verifier *v, const struct vstate *st, uint32_t insn, struct vstate **copy)
{
    if (v->npending == v->cap_pending) {
        uint32_t cap = v->cap_pending ? v->cap_pending * 2 : 32;
        struct vstate *grown = realloc(v->pending, sizeof(*grown) * cap);
        if (!grown)
            return pl_fail(v->err, PL_ENOMEM, -1, "out of memory verifying the program");
        v->pending = grown;
        v->cap_pending = cap;
    }
    struct vstate *c = &v->pending[v->npending];
    int rc = state_copy(v, c, st);
    if (rc)
        return rc;
    c->insn = insn;
    if (c->parent)
        c->parent->branches++;
    v->npending++;
    *copy = c;
    return 0;
}

/* ------------------------------------------------------------ pruning */

static inline bool range_within(const struct vreg *old, const struct vreg *cur)
{
    return old->smin <= cur->smin && cur->smax <= old->smax && old->umin <= cur->umin &&
           cur->umax <= old->umax && tnum_contains(old->var, cur->var);
}

/* Maps ids of the old state to ids of the current one so that registers
 * sharing an id in one state share it in the other. */
struct idmap {
    uint32_t old[64], cur[64];
    uint32_t n;
};

static bool ids_match(struct idmap *m, uint32_t old_id, uint32_t cur_id)
{
    if (!old_id)
        return true; /* the old state relied on no link */
    if (!cur_id)
        return false;
    for (uint32_t i = 0; i < m->n; i++)
        if (m->old[i] == old_id)
            return m->cur[i] == cur_id;
    if (m->n == 64)
        return false;
    m->old[m->n] = old_id;
    m->cur[m->n++] = cur_id;
    return true;
}

/* True when every value `cur` can hold is covered by `old`. */
static inline bool reg_covers(const struct vreg *old, const struct vreg *cur, struct idmap *ids, bool exact)
{
    if (exact)
        return old->type == cur->type && old->off == cur->off && old->aux == cur->aux &&
               old->frameno == cur->frameno && old->smin == cur->smin && old->smax == cur->smax &&
               old->umin == cur->umin && old->umax == cur->umax && old->var.value == cur->var.value &&
               old->var.mask == cur->var.mask;
    if (old->type == V_NOT_INIT)
        return true; /* the old path never read it */
    if (old->type != cur->type)
        return false;
    switch (old->type) {
    case V_SCALAR:
        return range_within(old, cur) && (!old->id || ids_match(ids, old->id, cur->id));
    case V_CONST_MAP:
        return old->aux == cur->aux;
    case V_HANDLE:
        return true;
    case V_PTR_MAP_VALUE_OR_NULL:
    case V_PTR_MEM_OR_NULL:
        if (!ids_match(ids, old->id, cur->id))
            return false;
        /* fall through */
    default:
        return old->off == cur->off && old->aux == cur->aux && old->frameno == cur->frameno &&
               range_within(old, cur);
    }
}

static bool slot_covers(const struct vslot *old, const struct vslot *cur, struct idmap *ids, bool exact)
{
    for (int b = 0; b < 8; b++) {
        uint8_t o = old->type[b], c = cur->type[b];
        if (exact && o != c)
            return false;
        if (o == c || o == SB_INVALID)
            continue;
        if (o == SB_MISC && (c == SB_ZERO || (c == SB_SPILL && cur->spill.type == V_SCALAR)))
            continue;
        return false;
    }
    if (old->spill_size && cur->spill_size) {
        if (old->spill_off != cur->spill_off || old->spill_size != cur->spill_size)
            return false;
        return reg_covers(&old->spill, &cur->spill, ids, exact);
    }
    return true;
}

static bool state_covers(const struct verifier *v, const struct vstate *old, const struct vstate *cur, bool exact)
{
    if (old->curframe != cur->curframe)
        return false;
    /* The current frame's registers differ most often: check them first. */
    const struct vframe *ocur = old->frames[cur->curframe], *ccur = cur->frames[cur->curframe];
    uint16_t live_now = v->live[cur->insn];
    for (int r = 0; r < PL_NREGS; r++) {
        const struct vreg *o = &ocur->regs[r], *c = &ccur->regs[r];
        if ((exact || (live_now & (1u << r))) && o->type != c->type && (exact || o->type != V_NOT_INIT))
            return false;
        if (o->type == V_SCALAR && c->type == V_SCALAR && (exact || (live_now & (1u << r))) &&
            (exact ? o->smin != c->smin || o->smax != c->smax : !range_within(o, c)))
            return false;
    }
    struct idmap ids;
    ids.n = 0;
    for (uint32_t f = 0; f <= cur->curframe; f++) {
        const struct vframe *of = old->frames[f], *cf = cur->frames[f];
        if (of->callsite != cf->callsite)
            return false;
        uint16_t live = f == cur->curframe ? v->live[cur->insn] : 0xffff;
        for (int r = 0; r < PL_NREGS; r++) {
            if (!exact && !(live & (1u << r)))
                continue;
            if (!reg_covers(&of->regs[r], &cf->regs[r], &ids, exact))
                return false;
        }
        uint16_t n = of->nslots > cf->nslots ? of->nslots : cf->nslots;
        static const struct vslot invalid_slot;
        for (uint16_t s = 0; s < n; s++) {
            const struct vslot *os = s < of->nslots ? &of->slots[s] : &invalid_slot;
            const struct vslot *cs = s < cf->nslots ? &cf->slots[s] : &invalid_slot;
            if (!slot_covers(os, cs, &ids, exact))
                return false;
        }
    }
    return true;
}

/* Same shape: a join would only widen scalar ranges. */
static bool reg_joinable(const struct vreg *a, const struct vreg *b, struct idmap *ids)
{
    if (a->type != b->type)
        return false;
    if (a->type == V_SCALAR || a->type == V_NOT_INIT)
        return true;
    return reg_covers(a, b, ids, true) && ids_match(ids, a->id, b->id);
}

static bool state_joinable(const struct verifier *v, const struct vstate *old, const struct vstate *cur)
{
    if (old->curframe != cur->curframe)
        return false;
    struct idmap ids = {.n = 0};
    for (uint32_t f = 0; f <= cur->curframe; f++) {
        const struct vframe *of = old->frames[f], *cf = cur->frames[f];
        if (of->callsite != cf->callsite || of->nslots != cf->nslots)
            return false;
        uint16_t live = f == cur->curframe ? v->live[cur->insn] : 0xffff;
        for (int r = 0; r < PL_NREGS; r++)
            if ((live & (1u << r)) && !reg_joinable(&of->regs[r], &cf->regs[r], &ids))
                return false;
        for (uint16_t s = 0; s < cf->nslots; s++) {
            const struct vslot *os = &of->slots[s], *cs = &cf->slots[s];
            if (memcmp(os->type, cs->type, 8) || os->spill_off != cs->spill_off || os->spill_size != cs->spill_size)
                return false;
            if (cs->spill_size && !reg_joinable(&os->spill, &cs->spill, &ids))
                return false;
        }
    }
    return true;
}

/* Index of the first threshold >= x. */
static uint32_t threshold_index(const struct verifier *v, int64_t x)
{
    uint32_t lo = 0, hi = v->nthresholds;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v->thresholds[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The smallest threshold >= x. */
static int64_t threshold_up(const struct verifier *v, int64_t x)
{
    uint32_t i = threshold_index(v, x);
    return i < v->nthresholds ? v->thresholds[i] : INT64_MAX;
}

/* The largest threshold <= x. */
static int64_t threshold_down(const struct verifier *v, int64_t x)
{
    uint32_t i = threshold_index(v, x);
    if (i < v->nthresholds && v->thresholds[i] == x)
        return x;
    return i ? v->thresholds[i - 1] : INT64_MIN;
}

/* Union of both ranges; with widening, a bound that grew moves on to the
 * next threshold. Bounds beyond what any pointer offset may use
 * (V_MAX_VAR_OFF) go to the extreme either way: they cannot matter for
 * safety, and widening them lets later states be covered instead of
 * re-explored with bounds that differ by one per loop iteration. */
static void reg_join(const struct verifier *v, struct vreg *cur, const struct vreg *old)
{
    if (cur->type != V_SCALAR)
        return;
    int64_t smin = cur->smin < old->smin ? cur->smin : old->smin;
    int64_t smax = cur->smax > old->smax ? cur->smax : old->smax;
    uint64_t umin = cur->umin < old->umin ? cur->umin : old->umin;
    uint64_t umax = cur->umax > old->umax ? cur->umax : old->umax;
    if (v->widen) {
        if (smin < old->smin)
            smin = threshold_down(v, smin);
        if (smax > old->smax)
            smax = threshold_up(v, smax);
        if (umin < old->umin)
            umin = umin <= (uint64_t)INT64_MAX ? (uint64_t)threshold_down(v, (int64_t)umin) : umin;
        if (umax > old->umax && umax <= (uint64_t)INT64_MAX)
            umax = (uint64_t)threshold_up(v, (int64_t)umax);
        if ((int64_t)umin < 0 && umin <= (uint64_t)INT64_MAX)
            umin = 0;
    }
    cur->smin = smin, cur->smax = smax, cur->umin = umin, cur->umax = umax;
    cur->var = tnum_union(tnum_union(cur->var, old->var), tnum_range(umin, umax));
    if (cur->smin < -V_MAX_VAR_OFF)
        cur->smin = INT64_MIN;
    if (cur->smax > V_MAX_VAR_OFF)
        cur->smax = INT64_MAX;
    if (cur->umax > V_MAX_VAR_OFF) {
        cur->umax = UINT64_MAX;
        cur->var = tnum_union(cur->var, tnum_range(cur->umin, UINT64_MAX));
    }
    if (cur->id != old->id)
        cur->id = 0;
}

/* Widens cur to cover old as well (dead registers become uninitialised). */
static void state_join(const struct verifier *v, struct vstate *cur, const struct vstate *old)
{
    for (uint32_t f = 0; f <= cur->curframe; f++) {
        struct vframe *cf = cur->frames[f];
        const struct vframe *of = old->frames[f];
        uint16_t live = f == cur->curframe ? v->live[cur->insn] : 0xffff;
        for (int r = 0; r < PL_NREGS; r++) {
            if (!(live & (1u << r)))
                v_mark_not_init(&cf->regs[r]);
            else
                reg_join(v, &cf->regs[r], &of->regs[r]);
        }
        for (uint16_t s = 0; s < cf->nslots; s++)
            if (cf->slots[s].spill_size)
                reg_join(v, &cf->slots[s].spill, &of->slots[s].spill);
    }
}

/* Returns 1 when the path can end here (covered by a finished checkpoint),
 * 0 to go on (after recording a checkpoint), or an error. */
static int visit_prune_point(struct verifier *v, struct vstate *st)
{
    uint32_t insn = st->insn;
    struct vnode *join_with = NULL, **join_link = NULL;
    for (struct vnode **link = &v->explored[insn], *n; (n = *link); link = &n->next) {
        if (n->branches) {
            /* Still being explored: this state is on a path below it. Coming
             * back unchanged means the loop makes no progress. */
            if (state_covers(v, &n->st, st, true))
                return v_fail(v, insn, "infinite loop: the program comes back to this instruction in the same state");
            continue;
        }
        if (state_covers(v, &n->st, st, false)) {
            if (v->log) {
                char line[96];
                snprintf(line, sizeof(line), "%u: safe: covered by an explored state (live registers 0x%x)", insn,
                         v->live[insn]);
                v->log(v->log_user, line);
            }
            return 1;
        }
        if (!join_with && state_joinable(v, &n->st, st)) {
            join_with = n;
            join_link = link;
        }
    }
    if (join_with) {
        state_join(v, st, &join_with->st);
        v->njoins++;
        if (v->log) {
            char line[96];
            snprintf(line, sizeof(line), "%u: joined with an explored state%s", insn, v->widen ? " (widened)" : "");
            v->log(v->log_user, line);
        }
        /* The join covers the old checkpoint, which can prune nothing the
         * join will not. It is finished, so no path refers to it any more. */
        *join_link = join_with->next;
        v->nexplored[insn]--;
        state_release(v, &join_with->st);
        free(join_with);
    }
    if (v->nexplored[insn] >= MAX_CHECKPOINTS_PER_INSN)
        return 0;
    struct vnode *n = malloc(sizeof(*n));
    if (!n || state_copy(v, &n->st, st)) {
        free(n);
        return pl_fail(v->err, PL_ENOMEM, -1, "out of memory verifying the program");
    }
    n->branches = 1;
    n->parent = st->parent;
    n->next = v->explored[insn];
    v->explored[insn] = n;
    v->nexplored[insn]++;
    v->nstored++;
    st->parent = n;
    return 0;
}

/* ------------------------------------------------------------ static analyses */

/* Registers an instruction reads and writes, for liveness. */
static void insn_uses(const pl_prog *p, uint32_t i, uint16_t *use, uint16_t *def)
{
    const struct pl_insn *in = &p->insns[i];
    uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code);
    *use = *def = 0;
    switch (cls) {
    case BPF_ALU:
    case BPF_ALU64:
        if (op != BPF_MOV && op != BPF_END && op != BPF_NEG)
            *use |= 1u << in->dst;
        if (op == BPF_END || op == BPF_NEG)
            *use |= 1u << in->dst;
        if (BPF_SRC(in->code) == BPF_X)
            *use |= 1u << in->src;
        *def = 1u << in->dst;
        break;
    case BPF_LD:
        *def = 1u << in->dst;
        break;
    case BPF_LDX:
        *use = 1u << in->src;
        *def = 1u << in->dst;
        break;
    case BPF_ST:
        *use = 1u << in->dst;
        break;
    case BPF_STX:
        *use = (1u << in->dst) | (1u << in->src);
        if (BPF_MODE(in->code) == BPF_ATOMIC) {
            if (in->imm == BPF_CMPXCHG) {
                *use |= 1u;
                *def = 1u;
            } else if (in->imm & BPF_FETCH) {
                *def = 1u << in->src;
            }
        }
        break;
    default: /* JMP, JMP32 */
        if (op == BPF_CALL) {
            *use = 0x3e; /* r1-r5 */
            *def = 0x3f; /* r0-r5 */
        } else if (op == BPF_EXIT) {
            *use = 1u;
        } else if (op != BPF_JA) {
            *use = 1u << in->dst;
            if (BPF_SRC(in->code) == BPF_X)
                *use |= 1u << in->src;
        }
        break;
    }
    *use |= 1u << 10; /* the frame pointer is always live */
}

/* Backward dataflow to a fixed point: live[i] = registers read at or after i
 * before being written. */
static void compute_liveness(struct verifier *v)
{
    const pl_prog *p = v->prog;
    bool changed = true;
    while (changed) {
        changed = false;
        for (uint32_t i = p->ninsns; i-- > 0;) {
            const struct pl_insn *in = &p->insns[i];
            if (i > 0 && p->insns[i - 1].code == BPF_LDDW)
                continue; /* second half of lddw */
            uint16_t use, def, out = 0;
            insn_uses(p, i, &use, &def);
            uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code);
            bool jmp = cls == BPF_JMP || cls == BPF_JMP32;
            uint32_t next = i + (in->code == BPF_LDDW ? 2 : 1);
            if (!(jmp && (op == BPF_EXIT || op == BPF_JA)) && next < p->ninsns)
                out |= v->live[next];
            if (jmp && op != BPF_CALL && op != BPF_EXIT)
                out |= v->live[i + (cls == BPF_JMP32 && op == BPF_JA ? in->imm : in->off) + 1];
            uint16_t in_live = (uint16_t)(use | (out & ~def));
            if (in_live != v->live[i]) {
                v->live[i] = in_live;
                changed = true;
            }
        }
    }
}

static void mark_prune_points(struct verifier *v)
{
    const pl_prog *p = v->prog;
    for (uint32_t s = 0; s < p->nsubprogs; s++)
        v->prune_point[p->subprogs[s]] = 1;
    for (uint32_t i = 0; i < p->ninsns; i++) {
        const struct pl_insn *in = &p->insns[i];
        uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code);
        if (in->code == BPF_LDDW) {
            i++;
            continue;
        }
        if (cls != BPF_JMP && cls != BPF_JMP32)
            continue;
        if (op == BPF_CALL) {
            if (in->src == BPF_PSEUDO_CALL && i + 1 < p->ninsns)
                v->prune_point[i + 1] = 1;
        } else if (op != BPF_EXIT) {
            v->prune_point[i + (cls == BPF_JMP32 && op == BPF_JA ? in->imm : in->off) + 1] = 1;
        }
    }
}

/* ------------------------------------------------------------ logging */

static const char *type_name(uint8_t t)
{
    static const char *names[] = {"?", "scalar", "ctx", "stack", "map_value", "map_value_or_null",
                                  "map", "mem", "mem_or_null", "handle"};
    return t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

void v_reg_describe(const struct verifier *v, const struct vreg *r, char *buf, size_t len)
{
    (void)v;
    if (r->type == V_SCALAR) {
        if (tnum_is_const(r->var))
            snprintf(buf, len, "%lld", (long long)r->var.value);
        else
            snprintf(buf, len, "scalar(s=[%lld,%lld] u=[%llu,%llu])", (long long)r->smin, (long long)r->smax,
                     (unsigned long long)r->umin, (unsigned long long)r->umax);
    } else if (r->type == V_NOT_INIT) {
        snprintf(buf, len, "uninit");
    } else if (tnum_is_const(r->var)) {
        snprintf(buf, len, "%s%+d", type_name(r->type), r->off + (int32_t)r->var.value);
    } else {
        snprintf(buf, len, "%s%+d+[%lld,%lld]", type_name(r->type), r->off, (long long)r->smin, (long long)r->smax);
    }
}

static void log_state(struct verifier *v, const struct vstate *st)
{
    char line[1024], dis[96], reg[96];
    int n = snprintf(line, sizeof(line), "%u: %-28s ;", st->insn, pl_disasm(&v->prog->insns[st->insn], dis, sizeof(dis)));
    const struct vframe *f = st->frames[st->curframe];
    if (st->curframe)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " frame%u", st->curframe);
    for (int r = 0; r < PL_NREGS && n < (int)sizeof(line) - 1; r++) {
        if (f->regs[r].type == V_NOT_INIT)
            continue;
        v_reg_describe(v, &f->regs[r], reg, sizeof(reg));
        n += snprintf(line + n, sizeof(line) - (size_t)n, " r%d=%s", r, reg);
    }
    for (uint16_t s = 0; s < f->nslots && n < (int)sizeof(line) - 1; s++) {
        const struct vslot *sl = &f->slots[s];
        if (sl->spill_size) {
            v_reg_describe(v, &sl->spill, reg, sizeof(reg));
            n += snprintf(line + n, sizeof(line) - (size_t)n, " fp-%u=%s", (s + 1) * 8 - sl->spill_off, reg);
        } else {
            char bytes[9];
            for (int b = 0; b < 8; b++)
                bytes[b] = "?mz."[sl->type[b]];
            bytes[8] = 0;
            if (strcmp(bytes, "????"))
                n += snprintf(line + n, sizeof(line) - (size_t)n, " fp-%u=%s", (s + 1) * 8, bytes);
        }
    }
    v->log(v->log_user, line);
}

/* ------------------------------------------------------------ driver */

static int init_state(struct verifier *v, struct vstate *st)
{
    memset(st, 0, sizeof(*st));
    struct vframe *f = v_frame_alloc(v);
    if (!f)
        return pl_fail(v->err, PL_ENOMEM, -1, "out of memory verifying the program");
    memset(f->regs, 0, sizeof(f->regs));
    f->nslots = 0;
    f->callsite = 0;
    f->subprog = 0;
    f->regs[1].type = V_PTR_CTX;
    v_mark_const(&f->regs[10], 0);
    f->regs[10].type = V_PTR_STACK;
    f->regs[10].frameno = 0;
    st->frames[0] = f;
    return 0;
}

static int check_stack_chains(struct verifier *v)
{
    /* Depth of the deepest chain from each subprogram, callees first: the
     * validator already proved the call graph acyclic. */
    const pl_prog *p = v->prog;
    uint32_t n = p->nsubprogs;
    uint32_t *chain = calloc(n, sizeof(uint32_t));
    if (!chain)
        return pl_fail(v->err, PL_ENOMEM, -1, "out of memory verifying the program");
    int rc = 0;
    for (uint32_t pass = 0; pass < n; pass++) {
        for (uint32_t s = n; s-- > 0;) {
            uint32_t end = s + 1 < n ? p->subprogs[s + 1] : p->ninsns;
            uint32_t deepest = 0;
            for (uint32_t i = p->subprogs[s]; i < end; i++) {
                const struct pl_insn *in = &p->insns[i];
                if (in->code == (BPF_JMP | BPF_CALL) && in->src == BPF_PSEUDO_CALL) {
                    uint32_t callee = v_subprog_of(p, i + in->imm + 1);
                    if (chain[callee] > deepest)
                        deepest = chain[callee];
                }
            }
            chain[s] = ((v->subprog_stack[s] + 15) & ~15u) + deepest;
        }
    }
    if (chain[0] > V_STACK_COMBINED_MAX)
        rc = pl_fail(v->err, PL_EVERIFY, 0,
                     "the deepest chain of local calls uses %u bytes of stack; the combined limit is %u",
                     chain[0], V_STACK_COMBINED_MAX);
    free(chain);
    return rc;
}

static int explore(struct verifier *v)
{
    struct vstate st;
    int rc = init_state(v, &st);
    if (rc)
        return rc;
    for (;;) {
        if (v->visited)
            v->visited[st.insn] = 1;
        if (++v->processed > V_BUDGET) {
            rc = v_fail(v, st.insn, "the program is too complex to verify: more than %u instructions processed "
                                    "(simplify loops or reduce branches)", V_BUDGET);
            break;
        }
        if (v->prune_point[st.insn]) {
            rc = visit_prune_point(v, &st);
            if (rc < 0)
                break;
        }
        if (rc == 0) {
            if (v->log)
                log_state(v, &st);
            rc = v_step(v, &st);
            if (rc < 0)
                break;
            if (rc == 0)
                continue;
        }
        /* This path ended (exit or pruned): continue with a pending one. */
        path_done(st.parent);
        state_release(v, &st);
        if (!v->npending) {
            rc = 0;
            break;
        }
        st = v->pending[--v->npending];
        if (v->log)
            v->log(v->log_user, "-- from a pending branch:");
        rc = 0;
    }
    state_release(v, &st);
    while (v->npending)
        state_release(v, &v->pending[--v->npending]);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Widening thresholds: constants the program compares against and their
 * neighbours, the hook's return range, 0 and the pointer offset limit. */
static int collect_thresholds(struct verifier *v)
{
    const pl_prog *p = v->prog;
    uint32_t cap = 8, n = 0;
    for (uint32_t i = 0; i < p->ninsns; i++)
        cap += 3;
    int64_t *t = malloc(sizeof(int64_t) * cap);
    if (!t)
        return pl_fail(v->err, PL_ENOMEM, -1, "out of memory verifying the program");
    t[n++] = 0;
    t[n++] = V_MAX_VAR_OFF;
    t[n++] = -V_MAX_VAR_OFF;
    if (v->hs && v->hs->has_ret_range) {
        t[n++] = v->hs->ret_min;
        t[n++] = v->hs->ret_max;
    }
    for (uint32_t i = 0; i < p->ninsns; i++) {
        const struct pl_insn *in = &p->insns[i];
        uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code);
        if (in->code == BPF_LDDW) {
            i++;
            continue;
        }
        if ((cls == BPF_JMP || cls == BPF_JMP32) && BPF_SRC(in->code) == BPF_K && op != BPF_JA &&
            op != BPF_CALL && op != BPF_EXIT) {
            t[n++] = (int64_t)in->imm - 1;
            t[n++] = in->imm;
            t[n++] = (int64_t)in->imm + 1;
        }
    }
    qsort(t, n, sizeof(int64_t), cmp_i64);
    uint32_t u = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!u || t[u - 1] != t[i])
            t[u++] = t[i];
    v->thresholds = t;
    v->nthresholds = u;
    return 0;
}

static void release_checkpoints(struct verifier *v)
{
    for (uint32_t i = 0; i < v->prog->ninsns; i++) {
        for (struct vnode *nd = v->explored[i], *next; nd; nd = next) {
            next = nd->next;
            state_release(v, &nd->st);
            free(nd);
        }
        v->explored[i] = NULL;
        v->nexplored[i] = 0;
    }
}

/* One exploration of every path, then the whole-program checks. */
static int verify_pass(struct verifier *v)
{
    const pl_prog *prog = v->prog;
    memset(v->visited, 0, prog->ninsns);
    memset(v->subprog_stack, 0, sizeof(uint32_t) * prog->nsubprogs);
    int rc = explore(v);
    for (uint32_t i = 0; !rc && i < prog->ninsns; i++) {
        if (!v->visited[i])
            rc = v_fail(v, i, "unreachable instruction (dead code usually means a bug)");
        if (prog->insns[i].code == BPF_LDDW)
            i++;
    }
    if (!rc)
        rc = check_stack_chains(v);
    release_checkpoints(v);
    return rc;
}

int pl_verify(pl_prog *prog, const struct pl_verify_opts *opts, pl_error *err)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct verifier v = {
        .prog = prog,
        .hook = opts->hook,
        .lines = opts->lines,
        .hs = opts->hook ? pl_hook_info(opts->hook) : NULL,
        .ctx_size = opts->hook ? pl_hook_info(opts->hook)->ctx_size : opts->ctx_size,
        .err = err,
        .log = opts->log,
        .log_user = opts->log_user,
        .widen = true,
    };
    uint32_t n = prog->ninsns;
    v.prune_point = calloc(n, 1);
    v.visited = calloc(n, 1);
    v.live = calloc(n, sizeof(uint16_t));
    v.explored = calloc(n, sizeof(struct vnode *));
    v.nexplored = calloc(n, sizeof(uint32_t));
    v.subprog_stack = calloc(prog->nsubprogs, sizeof(uint32_t));
    int rc = 0;
    if (!v.prune_point || !v.visited || !v.live || !v.explored || !v.nexplored || !v.subprog_stack)
        rc = pl_fail(err, PL_ENOMEM, -1, "out of memory verifying the program");
    if (!rc)
        rc = collect_thresholds(&v);
    if (!rc) {
        mark_prune_points(&v);
        compute_liveness(&v);
        rc = verify_pass(&v);
        if (rc == PL_EVERIFY && v.njoins) {
            if (v.log)
                v.log(v.log_user, "-- the widened pass rejected the program; verifying again without widening");
            v.widen = false;
            rc = verify_pass(&v);
        }
    }
    while (v.free_frames) {
        struct vframe *f = v.free_frames;
        v.free_frames = *(struct vframe **)f;
        free(f);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    prog->vstats.insns_processed = v.processed;
    prog->vstats.states_stored = v.nstored;
    prog->vstats.joins = v.njoins;
    prog->vstats.ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
    free(v.thresholds);
    free(v.prune_point);
    free(v.visited);
    free(v.live);
    free(v.explored);
    free(v.nexplored);
    free(v.subprog_stack);
    free(v.pending);
    return rc;
}
