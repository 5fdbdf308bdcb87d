/* Internal types shared by verifier.c (exploration, states, pruning) and
 * verifier_check.c (the transfer function of each instruction). */
#ifndef PL_VERIFIER_H
#define PL_VERIFIER_H

#include "internal.h"
#include "tnum.h"

#define V_BUDGET 1000000u          /* processed instructions, like Linux */
#define V_MAX_VAR_OFF (1 << 29)    /* bound on variable pointer offsets */
#define V_STACK_COMBINED_MAX 2048  /* bytes of stack along any call chain */
#define V_SLOTS (PL_STACK_SIZE / 8)

enum vtype {
    V_NOT_INIT = 0,
    V_SCALAR,
    V_PTR_CTX,
    V_PTR_STACK,
    V_PTR_MAP_VALUE,
    V_PTR_MAP_VALUE_OR_NULL,
    V_CONST_MAP,
    V_PTR_MEM,
    V_PTR_MEM_OR_NULL,
    V_HANDLE,
};

/* Abstract value of a register. For scalars var/smin/smax/umin/umax bound
 * the value; for pointers they bound the variable part of the offset and
 * off is the fixed part. */
struct vreg {
    uint8_t type;     /* enum vtype */
    uint8_t frameno;  /* V_PTR_STACK: the frame whose stack it points into */
    uint32_t id;      /* copies of one value share an id (null checks, bounds) */
    uint32_t aux;     /* map index (maps, map values) or byte size (V_PTR_MEM*) */
    int32_t off;
    struct tnum var;
    int64_t smin, smax;
    uint64_t umin, umax;
};

/* One 8-byte stack slot; byte types below. Bytes [spill_off,
 * spill_off + spill_size) are SB_SPILL and hold the register `spill`: a
 * pointer (always all 8 bytes) or a scalar stored whole with a 1-, 2-, 4-
 * or 8-byte store, so loading it back keeps its bounds. */
enum { SB_INVALID = 0, SB_MISC, SB_ZERO, SB_SPILL };

struct vslot {
    uint8_t type[8];  /* byte i is stack byte slot_base + i */
    uint8_t spill_off, spill_size; /* spill_size 0: no spill */
    struct vreg spill;
};

struct vframe {
    struct vreg regs[PL_NREGS];
    uint32_t callsite;  /* index of the call instruction (frames > 0) */
    uint32_t subprog;
    /* slots[i] covers bytes [-(i+1)*8, -i*8) of this frame */
    struct vslot slots[V_SLOTS];
    uint16_t nslots; /* slots in use (the rest are SB_INVALID) */
};

struct vnode;

struct vstate {
    struct vframe *frames[PL_MAX_CALL_DEPTH];
    uint32_t curframe;
    uint32_t insn;
    uint32_t backedges; /* back edges (see order_graph) taken on this path */
};

/* A checkpoint: a state seen at a prune point, kept to prune later visits. */
struct vnode {
    struct vstate st;
    struct vnode *next;  /* other checkpoints of the same instruction */
};

struct verifier {
    pl_prog *prog;
    const pl_hook *hook;
    const struct pl_line_resolver *lines;
    const struct pl_hook_spec *hs; /* NULL: program without a hook */
    uint32_t ctx_size;             /* without a hook: plain context bytes */
    pl_error *err;
    pl_verifier_log_fn log;
    void *log_user;
    uint32_t id_gen;
    uint32_t processed;
    uint32_t nstored;
    uint32_t njoins;      /* across iterations, at checkpoints */
    uint32_t nmerges;     /* of states meeting at the same point */
    bool widen;           /* joins move grown bounds to thresholds */
    int64_t *thresholds;  /* sorted */
    uint32_t nthresholds;
    uint8_t *prune_point; /* per instruction */
    uint8_t *in_cycle;    /* per instruction: on a cycle of the control flow graph */
    uint8_t *loop_head;   /* per instruction: target of a back edge */
    uint8_t *back_fall, *back_jump; /* per instruction: its fall-through / jump is a back edge */
    uint32_t *rpo;        /* per instruction: reverse postorder number */
    uint8_t *visited;     /* per instruction */
    uint16_t *live;       /* per instruction: registers read before written (bit per reg) */
    struct vnode **explored;
    uint32_t *nexplored;
    uint32_t *subprog_stack; /* deepest stack byte used, per subprogram */
    struct vstate **pending; /* min-heap by exploration order (see verifier.c) */
    uint32_t npending, cap_pending;
    struct vframe *free_frames; /* recycled frames (linked through callsite) */
};

/* verifier.c */
int v_fail(struct verifier *v, uint32_t insn, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
struct vframe *v_frame_alloc(struct verifier *v);
/* Queues a copy of st continuing at insn; *copy stays valid (and may be
 * refined by the caller) until the exploration resumes. */
int v_fork(struct verifier *v, const struct vstate *st, uint32_t insn, struct vstate **copy);
void v_reg_describe(const struct verifier *v, const struct vreg *r, char *buf, size_t len);

#define MAP_RDONLY_PROG (1u << 7) /* BPF_F_RDONLY_PROG: global .rodata */

static inline struct vframe *v_cur_frame(struct vstate *st)
{
    return st->frames[st->curframe];
}

/* verifier_mem.c: loads, stores and atomics through register regno (out
 * receives a load's value), and helper memory arguments. */
int v_mem_access(struct verifier *v, struct vstate *st, uint8_t regno, int16_t insn_off, uint32_t size,
                 bool write, bool atomic, bool sign_extend, const struct vreg *val, struct vreg *out);
int v_helper_mem(struct verifier *v, struct vstate *st, int argno, const char *helper, uint8_t regno,
                 uint64_t size, bool exact_size, bool write);
const char *v_describe_kind(const struct vreg *r);

/* verifier_check.c: executes instruction st->insn on the abstract state.
 * Returns 0 to continue at st->insn (updated), 1 when the path ended
 * (exit of the main program), or a negative pl_status. */
int v_step(struct verifier *v, struct vstate *st);
void v_mark_unknown(struct vreg *r);
void v_mark_const(struct vreg *r, uint64_t value);
void v_mark_not_init(struct vreg *r);
/* An unknown scalar that fits in `bytes` bytes (sign-extended if asked). */
void v_mark_sized(struct vreg *r, unsigned bytes, bool sign_extend);
bool v_is_pointer(const struct vreg *r);

#endif
