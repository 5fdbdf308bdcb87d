/*
 * The verifier: proves a program safe before it can run.
 *
 * Method: abstract interpretation over every path, with a typed abstract
 * state per register and per stack byte (see verifier.h) and scalar bounds
 * as signed and unsigned ranges plus known bits. verifier_check.c holds the
 * transfer function of each instruction; this file decides in which order
 * paths are explored, and where they end early.
 *
 * Loops: iterations are explored (the Linux approach) rather than widened
 * (PREVAIL). Why: policies are short and their loops are bounded by small
 * constants (16 candidates, a 64-byte key), where exploring keeps exact
 * constants for loop counters — so context offsets, array indexes and return
 * values stay precise without a separate termination proof — and programs
 * written for the kernel verifier verify here unchanged. Termination of the
 * analysis is guaranteed by the budget of 1,000,000 processed instructions;
 * a state that comes back unchanged to a loop head is an infinite loop and
 * rejected at once.
 *
 * Order: pending states wait in a min-heap keyed by (backward jumps taken,
 * program counters of the call stack). Keys only grow along a path, so by
 * the time a key is taken from the heap every state that can reach that
 * point with that key is already queued: all of them are merged there, once,
 * before any continues. (Depth-first order would explore the rest of a loop
 * after the first arrival and again after each later one.)
 *
 * Merging: states at the same point with the same shape (register types,
 * pointers, stack layout) are joined — each scalar's range becomes the union
 * — which covers them all, so this is sound.
 *
 * Pruning: at points where control flow meets (jump targets, returns from
 * local calls), a state covered by a checkpoint — every live register and
 * stack byte at least as general — ends, since the checkpoint's own
 * exploration (finished or queued) covers it. The only circular case is a
 * checkpoint that is the state's own ancestor, which needs a cycle, and every
 * cycle takes a backward jump: so on a cycle of the control flow graph a
 * state is only pruned by checkpoints with at least as many backward jumps,
 * while elsewhere any checkpoint may prune. For the same reason states are
 * joined across iterations only off cycles, which keeps loop counters exact
 * inside loops.
 *
 * Widening: a join across iterations that grows a bound moves it to the next
 * threshold — a constant the program compares against (and its
 * neighbours), an end of the hook's return range, 0, or the pointer offset
 * limit — so values such as "best candidate so far" converge in one or two
 * joins. Widening can lose precision the program needed, so it is
 * speculative: if the widened pass rejects the program, a second pass
 * without it decides, and its verdict is the one reported.
 */
#include "verifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CHECKPOINTS_PER_INSN 64
/* Loop heads keep only the latest few iterations' states: enough to catch a
 * loop that makes no progress; slower cycles end at the budget. */
#define LOOP_HEAD_CHECKPOINTS 4

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
    dst->backedges = src->backedges;
    return 0;
}

static void state_release(struct verifier *v, struct vstate *st)
{
    for (uint32_t i = 0; i <= st->curframe; i++)
        if (st->frames[i])
            frame_release(v, st->frames[i]);
    memset(st->frames, 0, sizeof(st->frames));
}

/* ------------------------------------------------------------ order */

/* Position of frame f: where it continues (the call instruction for callers). */
static uint32_t frame_pc(const struct vstate *st, uint32_t f)
{
    return f == st->curframe ? st->insn : st->frames[f + 1]->callsite;
}

/* Exploration order: fewer back edges first, then the call stack's
 * positions in reverse postorder (a callee runs after its call and before
 * the return). */
static int order(const struct verifier *v, const struct vstate *a, const struct vstate *b)
{
    if (a->backedges != b->backedges)
        return a->backedges < b->backedges ? -1 : 1;
    for (uint32_t f = 0; f <= a->curframe && f <= b->curframe; f++) {
        uint32_t pa = v->rpo[frame_pc(a, f)], pb = v->rpo[frame_pc(b, f)];
        if (pa != pb)
            return pa < pb ? -1 : 1;
    }
    return a->curframe == b->curframe ? 0 : a->curframe < b->curframe ? -1 : 1;
}

static void heap_swap(struct vstate **h, uint32_t i, uint32_t j)
{
    struct vstate *t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static int enqueue(struct verifier *v, struct vstate *st)
{
    if (v->npending == v->cap_pending) {
        uint32_t cap = v->cap_pending ? v->cap_pending * 2 : 32;
        struct vstate **grown = realloc(v->pending, sizeof(*grown) * cap);
        if (!grown)
            return pl_fail(v->err, PL_ENOMEM, -1, "out of memory verifying the program");
        v->pending = grown;
        v->cap_pending = cap;
    }
    uint32_t i = v->npending++;
    v->pending[i] = st;
    while (i && order(v, v->pending[i], v->pending[(i - 1) / 2]) < 0) {
        heap_swap(v->pending, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return 0;
}

static struct vstate *dequeue(struct verifier *v)
{
    if (!v->npending)
        return NULL;
    struct vstate *top = v->pending[0];
    v->pending[0] = v->pending[--v->npending];
    for (uint32_t i = 0;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < v->npending && order(v, v->pending[l], v->pending[m]) < 0)
            m = l;
        if (r < v->npending && order(v, v->pending[r], v->pending[m]) < 0)
            m = r;
        if (m == i)
            break;
        heap_swap(v->pending, i, m);
        i = m;
    }
    return top;
}

static void state_free(struct verifier *v, struct vstate *st)
{
    state_release(v, st);
    free(st);
}

int v_fork(struct verifier *v, const struct vstate *st, uint32_t insn, struct vstate **copy)
{
    struct vstate *c = malloc(sizeof(*c));
    int rc = c ? state_copy(v, c, st) : pl_fail(v->err, PL_ENOMEM, -1, "out of memory verifying the program");
    if (rc) {
        free(c);
        return rc;
    }
    if (v->back_jump[st->insn])
        c->backedges++;
    c->insn = insn;
    if ((rc = enqueue(v, c))) {
        state_free(v, c);
        return rc;
    }
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
static void reg_join(const struct verifier *v, struct vreg *cur, const struct vreg *old, bool widen)
{
    if (cur->type != V_SCALAR)
        return;
    int64_t smin = cur->smin < old->smin ? cur->smin : old->smin;
    int64_t smax = cur->smax > old->smax ? cur->smax : old->smax;
    uint64_t umin = cur->umin < old->umin ? cur->umin : old->umin;
    uint64_t umax = cur->umax > old->umax ? cur->umax : old->umax;
    if (widen) {
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
static void state_join(const struct verifier *v, struct vstate *cur, const struct vstate *old, bool widen)
{
    for (uint32_t f = 0; f <= cur->curframe; f++) {
        struct vframe *cf = cur->frames[f];
        const struct vframe *of = old->frames[f];
        uint16_t live = f == cur->curframe ? v->live[cur->insn] : 0xffff;
        for (int r = 0; r < PL_NREGS; r++) {
            if (!(live & (1u << r)))
                v_mark_not_init(&cf->regs[r]);
            else
                reg_join(v, &cf->regs[r], &of->regs[r], widen);
        }
        for (uint16_t s = 0; s < cf->nslots; s++)
            if (cf->slots[s].spill_size)
                reg_join(v, &cf->slots[s].spill, &of->slots[s].spill, widen);
    }
}

/* On a cycle of the control flow graph, counting the call sites that lead
 * here: a function called from a loop runs once per iteration. */
static bool state_on_cycle(const struct verifier *v, const struct vstate *st)
{
    if (v->in_cycle[st->insn])
        return true;
    for (uint32_t f = 1; f <= st->curframe; f++)
        if (v->in_cycle[st->frames[f]->callsite])
            return true;
    return false;
}

static void log_event(struct verifier *v, uint32_t insn, const char *what)
{
    if (!v->log)
        return;
    char line[128];
    snprintf(line, sizeof(line), "%u: %s", insn, what);
    v->log(v->log_user, line);
}

static int record_checkpoint(struct verifier *v, const struct vstate *st, uint32_t limit)
{
    if (v->nexplored[st->insn] >= limit) {
        if (limit != LOOP_HEAD_CHECKPOINTS)
            return 0;
        /* Drop the oldest (the list is newest first). */
        struct vnode **link = &v->explored[st->insn];
        while ((*link)->next)
            link = &(*link)->next;
        state_release(v, &(*link)->st);
        free(*link);
        *link = NULL;
        v->nexplored[st->insn]--;
    }
    struct vnode *n = malloc(sizeof(*n));
    if (!n || state_copy(v, &n->st, st)) {
        free(n);
        return pl_fail(v->err, PL_ENOMEM, -1, "out of memory verifying the program");
    }
    n->next = v->explored[st->insn];
    v->explored[st->insn] = n;
    v->nexplored[st->insn]++;
    v->nstored++;
    return 0;
}

/* At a prune point: returns 1 when the state is covered and its path ends,
 * 0 to go on (possibly widened by a join), or an error. See the top of the
 * file for why each rule is sound. */
static int visit_prune_point(struct verifier *v, struct vstate *st)
{
    uint32_t insn = st->insn;
    bool cycle = state_on_cycle(v, st);
    struct vnode *join_with = NULL, **join_link = NULL;
    for (struct vnode **link = &v->explored[insn], *n; (n = *link); link = &n->next) {
        if (cycle && n->st.backedges < st->backedges) {
            /* Possibly this state's own ancestor: only an unchanged state is
             * conclusive — the loop makes no progress. */
            if (state_covers(v, &n->st, st, true))
                return v_fail(v, insn, "infinite loop: the program comes back to this instruction in the same state");
            continue;
        }
        if (state_covers(v, &n->st, st, false)) {
            log_event(v, insn, "safe: covered by an explored state");
            return 1;
        }
        if (!cycle && !join_with && state_joinable(v, &n->st, st)) {
            join_with = n;
            join_link = link;
        }
    }
    if (join_with) {
        state_join(v, st, &join_with->st, v->widen);
        v->njoins++;
        log_event(v, insn, v->widen ? "joined with an explored state (widened)" : "joined with an explored state");
        /* The join covers the old checkpoint, which can prune nothing the
         * join will not. */
        *join_link = join_with->next;
        v->nexplored[insn]--;
        state_release(v, &join_with->st);
        free(join_with);
    }
    /* On a cycle, checkpoints only serve to detect infinite loops at loop
     * heads (everything else is merged in the heap). */
    if (cycle && !v->loop_head[insn])
        return 0;
    return record_checkpoint(v, st, cycle ? LOOP_HEAD_CHECKPOINTS : MAX_CHECKPOINTS_PER_INSN);
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

/* Successors of an instruction in the control flow graph: [0] the
 * fall-through (UINT32_MAX if none), [1] the jump target (UINT32_MAX if
 * none). Calls fall through: functions are separate graphs. */
static void successors(const pl_prog *p, uint32_t node, uint32_t succ[2])
{
    const struct pl_insn *in = &p->insns[node];
    uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code);
    bool jmp = cls == BPF_JMP || cls == BPF_JMP32;
    succ[0] = succ[1] = UINT32_MAX;
    if (!(jmp && (op == BPF_EXIT || op == BPF_JA)))
        succ[0] = node + (in->code == BPF_LDDW ? 2 : 1);
    if (jmp && op != BPF_CALL && op != BPF_EXIT)
        succ[1] = (uint32_t)((int64_t)node + (cls == BPF_JMP32 && op == BPF_JA ? in->imm : in->off) + 1);
    for (int k = 0; k < 2; k++)
        if (succ[k] >= p->ninsns)
            succ[k] = UINT32_MAX;
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
            if (i > 0 && p->insns[i - 1].code == BPF_LDDW)
                continue; /* second half of lddw */
            uint16_t use, def, out = 0;
            uint32_t succ[2];
            insn_uses(p, i, &use, &def);
            successors(p, i, succ);
            for (int k = 0; k < 2; k++)
                if (succ[k] != UINT32_MAX)
                    out |= v->live[succ[k]];
            uint16_t in_live = (uint16_t)(use | (out & ~def));
            if (in_live != v->live[i]) {
                v->live[i] = in_live;
                changed = true;
            }
        }
    }
}

/* Where paths meet: jump targets, function entries and returns from local
 * calls. */
static void mark_prune_points(struct verifier *v)
{
    const pl_prog *p = v->prog;
    for (uint32_t s = 0; s < p->nsubprogs; s++)
        v->prune_point[p->subprogs[s]] = 1;
    for (uint32_t i = 0; i < p->ninsns; i += p->insns[i].code == BPF_LDDW ? 2 : 1) {
        const struct pl_insn *in = &p->insns[i];
        uint32_t succ[2];
        successors(p, i, succ);
        if (succ[1] != UINT32_MAX)
            v->prune_point[succ[1]] = 1;
        if (in->code == (BPF_JMP | BPF_CALL) && in->src == BPF_PSEUDO_CALL && succ[0] != UINT32_MAX)
            v->prune_point[succ[0]] = 1;
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
                    uint32_t callee = pl_subprog_of(p, i + in->imm + 1);
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

/* Runs st from a prune point until the next one (queued), or the end of
 * its path. Returns 0, or an error. */
static int run_state(struct verifier *v, struct vstate *st)
{
    for (bool first = true;; first = false) {
        if (!first && v->prune_point[st->insn])
            return enqueue(v, st);
        v->visited[st->insn] = 1;
        if (++v->processed > V_BUDGET)
            return v_fail(v, st->insn, "the program is too complex to verify: more than %u instructions processed "
                                       "(simplify loops or reduce branches)", V_BUDGET);
        if (first) {
            int rc = visit_prune_point(v, st);
            if (rc)
                return rc < 0 ? rc : (state_free(v, st), 0);
        }
        if (v->log)
            log_state(v, st);
        uint32_t depth = st->curframe, from = st->insn;
        int rc = v_step(v, st);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            state_free(v, st);
            return 0;
        }
        /* Which edge was taken: the jump, the fall-through, or a return to
         * the instruction after a call. */
        if (st->curframe == depth)
            st->backedges += st->insn == from + (v->prog->insns[from].code == BPF_LDDW ? 2u : 1u)
                                 ? v->back_fall[from] : v->back_jump[from];
        else if (st->curframe < depth)
            st->backedges += v->back_fall[st->insn - 1];
    }
}

static int explore(struct verifier *v)
{
    struct vstate *st = malloc(sizeof(*st));
    int rc = st ? init_state(v, st) : pl_fail(v->err, PL_ENOMEM, -1, "out of memory verifying the program");
    if (rc) {
        free(st);
        return rc;
    }
    struct vstate *group[64];
    while (!rc && st) {
        /* Every state queued at this point of the exploration order is here
         * now: one covered by another ends, those of the same shape are
         * joined, and the rest go on separately. */
        uint32_t ng = 1;
        group[0] = st;
        while (v->npending && ng < 64 && order(v, v->pending[0], group[0]) == 0) {
            struct vstate *other = dequeue(v);
            bool absorbed = false;
            for (uint32_t k = 0; k < ng && !absorbed; k++) {
                if (state_covers(v, group[k], other, false)) {
                    absorbed = true;
                } else if (state_covers(v, other, group[k], false)) {
                    struct vstate *t = group[k];
                    group[k] = other;
                    other = t;
                    absorbed = true;
                } else if (state_joinable(v, group[k], other)) {
                    state_join(v, group[k], other, false);
                    absorbed = true;
                }
            }
            if (absorbed) {
                state_free(v, other);
                v->nmerges++;
                log_event(v, group[0]->insn, "merged with a state arriving at the same point");
            } else {
                group[ng++] = other;
            }
        }
        for (uint32_t k = 1; k < ng && !rc; k++)
            rc = enqueue(v, group[k]);
        if (rc) {
            while (ng-- > 0)
                state_free(v, group[ng]);
            break;
        }
        st = group[0];
        rc = run_state(v, st);
        if (rc) {
            /* run_state keeps ownership of st on errors only */
            state_free(v, st);
            break;
        }
        st = dequeue(v);
        if (st && v->log)
            v->log(v->log_user, "-- next queued state:");
    }
    while ((st = dequeue(v)))
        state_free(v, st);
    return rc;
}


/* One depth-first search from every function entry computes what the
 * exploration needs about the control flow graph:
 *  - back edges (to an instruction still on the search path — every cycle
 *    contains one) and loop heads (their targets);
 *  - reverse postorder, a topological order of the graph without back edges;
 *  - instructions on cycles: strongly connected components with an edge
 *    inside (Tarjan's algorithm, on the same search).
 * Iterative, so program size does not bound the C stack. Unreachable code
 * is never searched; it is rejected after exploration. */
static int analyze_graph(struct verifier *v)
{
    const pl_prog *p = v->prog;
    uint32_t n = p->ninsns, post = n, next_index = 0, sp = 0;
    uint32_t *index = malloc(sizeof(uint32_t) * n), *low = malloc(sizeof(uint32_t) * n);
    uint32_t *stack = malloc(sizeof(uint32_t) * n), *work = malloc(sizeof(uint32_t) * n * 2);
    uint8_t *on_path = calloc(n, 1), *on_stack = calloc(n, 1);
    int rc = 0;
    if (!index || !low || !stack || !work || !on_path || !on_stack) {
        rc = pl_fail(v->err, PL_ENOMEM, -1, "out of memory verifying the program");
        goto out;
    }
    memset(index, 0xff, sizeof(uint32_t) * n);
    for (uint32_t s = 0; s < p->nsubprogs; s++) {
        uint32_t root = p->subprogs[s], wp = 0;
        if (index[root] != UINT32_MAX)
            continue;
        /* work holds (instruction, next successor to try) pairs */
        work[wp++] = root;
        work[wp++] = 0;
        index[root] = low[root] = next_index++;
        stack[sp++] = root;
        on_stack[root] = on_path[root] = 1;
        while (wp) {
            uint32_t node = work[wp - 2], k = work[wp - 1]++;
            uint32_t succ[2];
            successors(p, node, succ);
            if (k < 2) {
                uint32_t w = succ[k];
                if (w == UINT32_MAX)
                    continue;
                if (w == node)
                    v->in_cycle[node] = 1;
                if (on_path[w]) {
                    (k ? v->back_jump : v->back_fall)[node] = 1;
                    v->loop_head[w] = 1;
                }
                if (index[w] == UINT32_MAX) {
                    index[w] = low[w] = next_index++;
                    stack[sp++] = w;
                    on_stack[w] = on_path[w] = 1;
                    work[wp++] = w;
                    work[wp++] = 0;
                } else if (on_stack[w] && index[w] < low[node]) {
                    low[node] = index[w];
                }
                continue;
            }
            /* All successors done: node leaves the search path. */
            on_path[node] = 0;
            v->rpo[node] = --post;
            wp -= 2;
            if (wp && low[node] < low[work[wp - 2]])
                low[work[wp - 2]] = low[node];
            if (low[node] == index[node]) {
                uint32_t base = sp;
                while (stack[--base] != node)
                    ;
                for (uint32_t i = base; i < sp; i++) {
                    on_stack[stack[i]] = 0;
                    if (sp - base > 1)
                        v->in_cycle[stack[i]] = 1;
                }
                sp = base;
            }
        }
    }
out:
    free(index);
    free(low);
    free(stack);
    free(work);
    free(on_path);
    free(on_stack);
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
    v.in_cycle = calloc(n, 1);
    v.loop_head = calloc(n, 1);
    v.back_fall = calloc(n, 1);
    v.back_jump = calloc(n, 1);
    v.rpo = calloc(n, sizeof(uint32_t));
    v.visited = calloc(n, 1);
    v.live = calloc(n, sizeof(uint16_t));
    v.explored = calloc(n, sizeof(struct vnode *));
    v.nexplored = calloc(n, sizeof(uint32_t));
    v.subprog_stack = calloc(prog->nsubprogs, sizeof(uint32_t));
    int rc = 0;
    if (!v.prune_point || !v.in_cycle || !v.loop_head || !v.back_fall || !v.back_jump || !v.rpo || !v.visited || !v.live || !v.explored || !v.nexplored ||
        !v.subprog_stack)
        rc = pl_fail(err, PL_ENOMEM, -1, "out of memory verifying the program");
    if (!rc)
        rc = collect_thresholds(&v);
    if (!rc)
        rc = analyze_graph(&v);
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
    prog->vstats.joins = v.njoins + v.nmerges;
    prog->vstats.ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
    free(v.thresholds);
    free(v.prune_point);
    free(v.in_cycle);
    free(v.loop_head);
    free(v.back_fall);
    free(v.back_jump);
    free(v.rpo);
    free(v.visited);
    free(v.live);
    free(v.explored);
    free(v.nexplored);
    free(v.subprog_stack);
    free(v.pending);
    return rc;
}
