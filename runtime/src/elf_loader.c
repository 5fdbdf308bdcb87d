/*
 * ELF object loader for what `clang -O2 -g -target bpf` emits.
 *
 * Programs: every function symbol in an executable section other than .text
 * is a program named by its section (libbpf's rule); a section without
 * function symbols is one program. Several programs may share a section —
 * pl_object_find_prog() returns the first for a section name and also
 * accepts a function name to pick one of them.
 *
 * Each program is linked on its own: the functions it calls (in .text or
 * elsewhere) are appended after it, once each, and call immediates are
 * rewritten to the new layout. Helpers are called by id or, for `extern`
 * declarations, by the name the host registered.
 *
 * Maps: BTF-defined maps in ".maps", legacy struct bpf_map_def entries in
 * "maps", and one single-entry array per global data section (.rodata*,
 * .data*, .bss*). lddw relocations become pointers to the map or into the
 * map value, with the fact recorded in pl_insn_aux for the verifier.
 *
 * Every object is untrusted input: each offset, index and count is checked
 * before use, and failures say which section, symbol or instruction is
 * wrong. Structural problems are PL_EELF, exceeded limits PL_E2BIG, and a
 * helper the host did not register PL_ENOENT.
 */
#include "elf_lines.h"
#include "internal.h"

#include <bpf/btf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OBJ_MAX_SIZE (16u << 20)
#define OBJ_MAX_SECTIONS 4096u
#define OBJ_MAX_PROGS 64u
#define OBJ_MAX_MAPS 64u
#define LEGACY_MAP_DEF_SIZE 20u /* five u32: type, key, value, entries, flags */
#define BTF_MAX_CHAIN 32        /* typedef/modifier hops before giving up */

struct obj_prog {
    pl_prog *prog;
    char *section;
    char *func; /* NULL when the section has no function symbols */
};

struct pl_object {
    pl_runtime *rt;
    struct obj_prog *progs;
    uint32_t nprogs;
    pl_map *maps[OBJ_MAX_MAPS];
    uint32_t nmaps;
};

/* A function: a range of instructions in one executable section. */
struct func {
    uint32_t start, len;
    const char *name; /* NULL for a section without function symbols */
};

struct reloc {
    uint32_t sym, type;
};

struct sec {
    const char *name;
    GElf_Shdr sh;
    const uint8_t *bytes; /* contents (NULL for NOBITS and unread sections) */
    bool exec;            /* holds instructions */
    bool gdata;           /* global data section */
    uint32_t ninsns;
    struct func *funcs;   /* exec: a slice of loader.funcs, sorted, non-overlapping */
    uint32_t nfuncs;
    struct reloc *relocs; /* exec: one slot per instruction, type 0 = none */
    int map;              /* gdata: index into the object's maps */
};

struct sym {
    const char *name;
    GElf_Sym s;
};

/* Where a map definition lives, to resolve lddw relocations against it. */
struct map_loc {
    size_t shndx;
    uint64_t offset;
};

struct loader {
    pl_runtime *rt;
    const struct pl_object_opts *opts;
    pl_error *err;
    Elf *elf;
    size_t size;          /* of the image */
    struct sec *secs;
    size_t nsecs;
    size_t symtab;        /* section index, 0 if none */
    struct sym *syms;
    size_t nsyms;
    struct func *funcs;   /* of every executable section */
    size_t nfuncs;
    size_t btf_sec, btf_ext_sec, maps_sec, legacy_sec; /* 0 if absent */
    struct pl_elf_lines lines;
    struct map_loc map_locs[OBJ_MAX_MAPS];
    pl_object *obj;
};

/* One unit of a linked program: a function copied to position out. */
struct unit {
    size_t sec;
    const struct func *fn;
    uint32_t out;
};

static int fail(struct loader *L, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct loader *L, int code, const char *fmt, ...)
{
    char msg[PL_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return pl_fail(L->err, code, -1, "%s", msg);
}

static pthread_once_t elf_once = PTHREAD_ONCE_INIT;
static bool elf_ok;

static void elf_init(void)
{
    elf_ok = elf_version(EV_CURRENT) != EV_NONE;
}

/* ------------------------------------------------------------ sections */

static bool has_prefix_section(const char *name, const char *base)
{
    size_t n = strlen(base);
    return !strncmp(name, base, n) && (name[n] == '\0' || name[n] == '.');
}

static int read_sections(struct loader *L)
{
    size_t shnum, shstrndx;
    if (elf_getshdrnum(L->elf, &shnum) || elf_getshdrstrndx(L->elf, &shstrndx))
        return fail(L, PL_EELF, "cannot read the section header table: %s", elf_errmsg(-1));
    if (shnum > OBJ_MAX_SECTIONS)
        return fail(L, PL_E2BIG, "the object has %zu sections; the limit is %u", shnum, OBJ_MAX_SECTIONS);
    /* libelf quietly reports no sections when the table is cut off. */
    GElf_Ehdr eh;
    if (!gelf_getehdr(L->elf, &eh) || eh.e_shoff == 0 || shnum == 0 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
        eh.e_shoff > L->size || shnum > (L->size - eh.e_shoff) / sizeof(Elf64_Shdr))
        return fail(L, PL_EELF,
                    "the section header table (%zu entries of %u bytes at offset %llu) does not fit in the "
                    "%zu-byte object; is it truncated?",
                    shnum, (unsigned)eh.e_shentsize, (unsigned long long)eh.e_shoff, L->size);
    L->secs = calloc(shnum ? shnum : 1, sizeof(*L->secs));
    if (!L->secs)
        return fail(L, PL_ENOMEM, "out of memory reading sections");
    L->nsecs = shnum;

    for (size_t i = 1; i < shnum; i++) {
        struct sec *s = &L->secs[i];
        Elf_Scn *scn = elf_getscn(L->elf, i);
        if (!scn || !gelf_getshdr(scn, &s->sh))
            return fail(L, PL_EELF, "cannot read section header %zu: %s", i, elf_errmsg(-1));
        s->name = elf_strptr(L->elf, shstrndx, s->sh.sh_name);
        if (!s->name)
            return fail(L, PL_EELF, "section %zu has an invalid name (offset %u in the section name table)",
                        i, (unsigned)s->sh.sh_name);
        s->map = -1;
        bool progbits = s->sh.sh_type == SHT_PROGBITS;
        bool want = false;
        if (progbits && (s->sh.sh_flags & SHF_EXECINSTR)) {
            if (s->sh.sh_size % sizeof(struct pl_insn))
                return fail(L, PL_EELF,
                            "section '%s' is %llu bytes, not a whole number of 8-byte instructions",
                            s->name, (unsigned long long)s->sh.sh_size);
            s->exec = true;
            s->ninsns = (uint32_t)(s->sh.sh_size / sizeof(struct pl_insn));
            want = true;
        } else if (s->sh.sh_type == SHT_SYMTAB) {
            if (L->symtab)
                return fail(L, PL_EELF, "the object has more than one symbol table");
            L->symtab = i;
            want = true;
        } else if (progbits && !strcmp(s->name, ".BTF")) {
            L->btf_sec = i;
            want = true;
        } else if (progbits && !strcmp(s->name, ".BTF.ext")) {
            L->btf_ext_sec = i;
            want = true;
        } else if (progbits && !strcmp(s->name, ".maps")) {
            L->maps_sec = i;
        } else if (progbits && !strcmp(s->name, "maps")) {
            L->legacy_sec = i;
            want = true;
        } else if ((progbits || s->sh.sh_type == SHT_NOBITS) && (s->sh.sh_flags & SHF_ALLOC) &&
                   (has_prefix_section(s->name, ".rodata") || has_prefix_section(s->name, ".data") ||
                    has_prefix_section(s->name, ".bss"))) {
            s->gdata = true;
            want = progbits;
        }
        if (!want || s->sh.sh_size == 0)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        if (!d || !d->d_buf || d->d_size != s->sh.sh_size)
            return fail(L, PL_EELF, "cannot read section '%s' (%llu bytes at offset %llu): %s", s->name,
                        (unsigned long long)s->sh.sh_size, (unsigned long long)s->sh.sh_offset,
                        d ? "size mismatch" : elf_errmsg(-1));
        s->bytes = d->d_buf;
    }
    return 0;
}

static int read_symbols(struct loader *L)
{
    if (!L->symtab)
        return 0;
    const struct sec *st = &L->secs[L->symtab];
    if (st->sh.sh_size % sizeof(Elf64_Sym))
        return fail(L, PL_EELF, "the symbol table size %llu is not a multiple of %zu",
                    (unsigned long long)st->sh.sh_size, sizeof(Elf64_Sym));
    if (st->sh.sh_link >= L->nsecs)
        return fail(L, PL_EELF, "the symbol table links to string table section %u, which does not exist",
                    (unsigned)st->sh.sh_link);
    L->nsyms = st->sh.sh_size / sizeof(Elf64_Sym);
    if (!L->nsyms)
        return 0;
    L->syms = calloc(L->nsyms, sizeof(*L->syms));
    if (!L->syms)
        return fail(L, PL_ENOMEM, "out of memory reading symbols");
    Elf_Data *d = elf_getdata(elf_getscn(L->elf, L->symtab), NULL);
    for (size_t i = 0; i < L->nsyms; i++) {
        struct sym *y = &L->syms[i];
        if (!d || !gelf_getsym(d, (int)i, &y->s))
            return fail(L, PL_EELF, "cannot read symbol %zu: %s", i, elf_errmsg(-1));
        y->name = elf_strptr(L->elf, st->sh.sh_link, y->s.st_name);
        if (!y->name)
            return fail(L, PL_EELF, "symbol %zu has an invalid name (offset %u in the string table)", i,
                        (unsigned)y->s.st_name);
        uint16_t shndx = y->s.st_shndx;
        if (shndx != SHN_UNDEF && shndx < SHN_LORESERVE && shndx >= L->nsecs)
            return fail(L, PL_EELF, "symbol %zu ('%s') refers to section %u, which does not exist", i, y->name,
                        (unsigned)shndx);
    }
    return 0;
}

static int cmp_func(const void *a, const void *b)
{
    const struct func *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static bool func_sym(const struct loader *L, const struct sym *y)
{
    uint16_t shndx = y->s.st_shndx;
    return GELF_ST_TYPE(y->s.st_info) == STT_FUNC && shndx < L->nsecs && L->secs[shndx].exec;
}

/* Splits each executable section into its functions, all held in one
 * array so a function's index there identifies it. */
static int read_functions(struct loader *L)
{
    for (size_t i = 0; i < L->nsyms; i++) {
        const struct sym *y = &L->syms[i];
        if (!func_sym(L, y))
            continue;
        struct sec *s = &L->secs[y->s.st_shndx];
        uint64_t v = y->s.st_value, sz = y->s.st_size;
        if (v % 8 || sz % 8 || sz == 0 || v > s->sh.sh_size || sz > s->sh.sh_size - v)
            return fail(L, PL_EELF,
                        "function '%s' (offset %llu, %llu bytes) does not lie on instruction boundaries "
                        "inside section '%s' (%llu bytes)",
                        y->name, (unsigned long long)v, (unsigned long long)sz, s->name,
                        (unsigned long long)s->sh.sh_size);
        s->nfuncs++;
    }
    size_t total = 0;
    for (size_t i = 1; i < L->nsecs; i++)
        if (L->secs[i].exec && L->secs[i].ninsns)
            total += L->secs[i].nfuncs ? L->secs[i].nfuncs : 1; /* no symbols: one function */
    L->funcs = calloc(total ? total : 1, sizeof(*L->funcs));
    if (!L->funcs)
        return fail(L, PL_ENOMEM, "out of memory reading functions");
    L->nfuncs = total;
    struct func *next = L->funcs;
    for (size_t i = 1; i < L->nsecs; i++) {
        struct sec *s = &L->secs[i];
        if (!s->exec || !s->ninsns)
            continue;
        s->funcs = next;
        next += s->nfuncs ? s->nfuncs : 1;
        if (!s->nfuncs) {
            s->funcs[0] = (struct func){0, s->ninsns, NULL};
            s->nfuncs = 1;
        } else {
            s->nfuncs = 0; /* refilled below */
        }
    }
    for (size_t i = 0; i < L->nsyms; i++) {
        const struct sym *y = &L->syms[i];
        if (func_sym(L, y)) {
            struct sec *s = &L->secs[y->s.st_shndx];
            s->funcs[s->nfuncs++] =
                (struct func){(uint32_t)(y->s.st_value / 8), (uint32_t)(y->s.st_size / 8), y->name};
        }
    }
    for (size_t i = 1; i < L->nsecs; i++) {
        struct sec *s = &L->secs[i];
        if (s->nfuncs < 2)
            continue;
        qsort(s->funcs, s->nfuncs, sizeof(*s->funcs), cmp_func);
        for (uint32_t k = 1; k < s->nfuncs; k++)
            if (s->funcs[k].start < s->funcs[k - 1].start + s->funcs[k - 1].len)
                return fail(L, PL_EELF, "functions '%s' and '%s' overlap in section '%s'", s->funcs[k - 1].name,
                            s->funcs[k].name, s->name);
    }
    return 0;
}

static int read_relocations(struct loader *L)
{
    for (size_t i = 1; i < L->nsecs; i++) {
        const struct sec *r = &L->secs[i];
        if (r->sh.sh_type != SHT_REL && r->sh.sh_type != SHT_RELA)
            continue;
        if (r->sh.sh_info >= L->nsecs)
            return fail(L, PL_EELF, "relocation section '%s' applies to section %u, which does not exist", r->name,
                        (unsigned)r->sh.sh_info);
        struct sec *t = &L->secs[r->sh.sh_info];
        if (!t->exec && !(t->sh.sh_flags & SHF_ALLOC))
            continue; /* debug info and BTF: not needed to run */
        if (!t->exec)
            return fail(L, PL_EELF,
                        "relocation section '%s': relocations in data section '%s' are not supported "
                        "(global data initialised with addresses, or maps of maps)",
                        r->name, t->name);
        if (r->sh.sh_type == SHT_RELA)
            return fail(L, PL_EELF, "relocation section '%s' has addends (SHT_RELA); BPF objects use SHT_REL",
                        r->name);
        if (!L->symtab || r->sh.sh_link != L->symtab)
            return fail(L, PL_EELF, "relocation section '%s' does not refer to the symbol table", r->name);
        if (r->sh.sh_size % sizeof(Elf64_Rel))
            return fail(L, PL_EELF, "relocation section '%s' size %llu is not a multiple of %zu", r->name,
                        (unsigned long long)r->sh.sh_size, sizeof(Elf64_Rel));
        size_t n = r->sh.sh_size / sizeof(Elf64_Rel);
        if (n == 0 || t->ninsns == 0)
            continue;
        Elf_Data *d = elf_getdata(elf_getscn(L->elf, i), NULL);
        if (!d || d->d_size != r->sh.sh_size)
            return fail(L, PL_EELF, "cannot read relocation section '%s': %s", r->name, elf_errmsg(-1));
        if (!t->relocs) {
            t->relocs = calloc(t->ninsns, sizeof(*t->relocs));
            if (!t->relocs)
                return fail(L, PL_ENOMEM, "out of memory reading relocations");
        }
        for (size_t k = 0; k < n; k++) {
            GElf_Rel rel;
            if (!gelf_getrel(d, (int)k, &rel))
                return fail(L, PL_EELF, "cannot read relocation %zu of '%s': %s", k, r->name, elf_errmsg(-1));
            uint64_t off = rel.r_offset;
            uint32_t sym = (uint32_t)GELF_R_SYM(rel.r_info), type = (uint32_t)GELF_R_TYPE(rel.r_info);
            if (type == R_BPF_NONE)
                continue;
            if (off % 8 || off >= t->sh.sh_size)
                return fail(L, PL_EELF,
                            "relocation %zu of '%s' has offset %llu, which is not an instruction in "
                            "section '%s' (%llu bytes)",
                            k, r->name, (unsigned long long)off, t->name, (unsigned long long)t->sh.sh_size);
            if (sym == 0 || sym >= L->nsyms)
                return fail(L, PL_EELF, "relocation %zu of '%s' refers to symbol %u; the symbol table has %zu", k,
                            r->name, sym, L->nsyms);
            struct reloc *slot = &t->relocs[off / 8];
            if (slot->type)
                return fail(L, PL_EELF, "section '%s' has two relocations for instruction %llu", t->name,
                            (unsigned long long)(off / 8));
            *slot = (struct reloc){sym, type};
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- maps */

static int add_map(struct loader *L, const char *name, struct pl_map_spec *spec, size_t shndx, uint64_t offset,
                   bool inheritable, pl_map **out)
{
    pl_object *obj = L->obj;
    if (obj->nmaps == OBJ_MAX_MAPS)
        return fail(L, PL_E2BIG, "the object defines more than %u maps", OBJ_MAX_MAPS);
    if (strlen(name) >= sizeof(((pl_map *)0)->name))
        return fail(L, PL_EELF, "map name '%s' is longer than %zu characters", name,
                    sizeof(((pl_map *)0)->name) - 1);
    spec->name = name;
    pl_map *map = NULL;
    const pl_prog *old = L->opts ? L->opts->inherit_maps_from : NULL;
    if (inheritable && old) {
        pl_map *prev = pl_prog_map_by_name(old, name);
        if (prev && pl_map_compatible(pl_map_info(prev), spec)) {
            pl_map_get(prev);
            map = prev;
        } else if (prev) {
            pl_log(L->rt, PL_LOG_INFO, "map '%s' changed its definition; it starts empty", name);
        }
    }
    if (!map) {
        pl_error e;
        int rc = pl_map_create(L->rt, spec, &map, &e);
        if (rc)
            return pl_fail(L->err, rc, -1, "map '%s': %s", name, e.msg);
    }
    L->map_locs[obj->nmaps] = (struct map_loc){shndx, offset};
    obj->maps[obj->nmaps++] = map;
    if (out)
        *out = map;
    return 0;
}

static const struct sym *find_sym_in(const struct loader *L, size_t shndx, const char *name)
{
    for (size_t i = 0; i < L->nsyms; i++)
        if (L->syms[i].s.st_shndx == shndx && GELF_ST_TYPE(L->syms[i].s.st_info) == STT_OBJECT &&
            !strcmp(L->syms[i].name, name))
            return &L->syms[i];
    return NULL;
}

/* libbpf does not check that type references stay inside the type table;
 * check every one once so later lookups cannot leave it. */
static int btf_check_refs(struct loader *L, const struct btf *btf)
{
    uint32_t n = btf__type_cnt(btf);
    for (uint32_t id = 1; id < n; id++) {
        const struct btf_type *t = btf__type_by_id(btf, id);
        if (!t)
            return fail(L, PL_EELF, "BTF type %u cannot be read", id);
        bool bad = false;
        uint16_t vlen = btf_vlen(t);
        switch (btf_kind(t)) {
        case BTF_KIND_PTR:
        case BTF_KIND_TYPEDEF:
        case BTF_KIND_VOLATILE:
        case BTF_KIND_CONST:
        case BTF_KIND_RESTRICT:
        case BTF_KIND_TYPE_TAG:
        case BTF_KIND_FUNC:
        case BTF_KIND_VAR:
        case BTF_KIND_DECL_TAG:
            bad = t->type >= n;
            break;
        case BTF_KIND_ARRAY:
            bad = btf_array(t)->type >= n || btf_array(t)->index_type >= n;
            break;
        case BTF_KIND_STRUCT:
        case BTF_KIND_UNION:
            for (uint16_t k = 0; k < vlen && !bad; k++)
                bad = btf_members(t)[k].type >= n;
            break;
        case BTF_KIND_FUNC_PROTO:
            bad = t->type >= n;
            for (uint16_t k = 0; k < vlen && !bad; k++)
                bad = btf_params(t)[k].type >= n;
            break;
        case BTF_KIND_DATASEC:
            for (uint16_t k = 0; k < vlen && !bad; k++)
                bad = btf_var_secinfos(t)[k].type >= n;
            break;
        default: /* INT, ENUM, ENUM64, FWD, FLOAT: no references */
            break;
        }
        if (bad)
            return fail(L, PL_EELF, "BTF type %u refers to a type id outside the table (%u types)", id, n);
    }
    return 0;
}

/* Follows typedefs and qualifiers; NULL for void or a chain too long. */
static const struct btf_type *btf_strip(const struct btf *btf, uint32_t id)
{
    for (int hop = 0; hop < BTF_MAX_CHAIN && id; hop++) {
        const struct btf_type *t = btf__type_by_id(btf, id);
        if (!btf_is_mod(t) && !btf_is_typedef(t))
            return t;
        id = t->type;
    }
    return NULL;
}

/* __uint(name, N) is `int (*name)[N]`: the array length is the value. */
static bool btf_uint_field(const struct btf *btf, uint32_t type, uint32_t *val)
{
    const struct btf_type *p = btf_strip(btf, type);
    if (!p || !btf_is_ptr(p))
        return false;
    const struct btf_type *a = btf_strip(btf, p->type);
    if (!a || !btf_is_array(a))
        return false;
    *val = btf_array(a)->nelems;
    return true;
}

/* __type(name, T) is `T *name`: the size of T is the value. */
static bool btf_type_field(const struct btf *btf, uint32_t type, uint32_t *size)
{
    const struct btf_type *p = btf_strip(btf, type);
    if (!p || !btf_is_ptr(p))
        return false;
    int64_t sz = btf__resolve_size(btf, p->type);
    if (sz <= 0 || sz > UINT32_MAX)
        return false;
    *size = (uint32_t)sz;
    return true;
}

static int btf_map_spec(struct loader *L, const struct btf *btf, const char *name, const struct btf_type *def,
                        struct pl_map_spec *spec)
{
    bool has_type = false;
    uint32_t key_size = 0, value_size = 0; /* from __type(key/value) */
    for (uint16_t k = 0; k < btf_vlen(def); k++) {
        const struct btf_member *m = &btf_members(def)[k];
        const char *f = btf__name_by_offset(btf, m->name_off);
        bool ok;
        if (!f)
            return fail(L, PL_EELF, "map '%s': field %u has an invalid BTF name", name, k);
        if (!strcmp(f, "type"))
            ok = has_type = btf_uint_field(btf, m->type, &spec->type);
        else if (!strcmp(f, "max_entries"))
            ok = btf_uint_field(btf, m->type, &spec->max_entries);
        else if (!strcmp(f, "map_flags"))
            ok = btf_uint_field(btf, m->type, &spec->flags);
        else if (!strcmp(f, "key_size"))
            ok = btf_uint_field(btf, m->type, &spec->key_size);
        else if (!strcmp(f, "value_size"))
            ok = btf_uint_field(btf, m->type, &spec->value_size);
        else if (!strcmp(f, "key"))
            ok = btf_type_field(btf, m->type, &key_size);
        else if (!strcmp(f, "value"))
            ok = btf_type_field(btf, m->type, &value_size);
        else
            return fail(L, PL_EELF,
                        "map '%s': field '%s' is not supported (use type, key, value, key_size, value_size, "
                        "max_entries, map_flags)",
                        name, f);
        if (!ok)
            return fail(L, PL_EELF, "map '%s': field '%s' is malformed (expected %s)", name, f,
                        !strcmp(f, "key") || !strcmp(f, "value") ? "__type(name, T) with a sized T"
                                                                 : "__uint(name, N)");
    }
    if (!has_type)
        return fail(L, PL_EELF, "map '%s' has no type (add __uint(type, BPF_MAP_TYPE_...))", name);
    if ((key_size && spec->key_size && key_size != spec->key_size) ||
        (value_size && spec->value_size && value_size != spec->value_size))
        return fail(L, PL_EELF, "map '%s': key/value types disagree with key_size/value_size", name);
    if (key_size)
        spec->key_size = key_size;
    if (value_size)
        spec->value_size = value_size;
    return 0;
}

static int read_btf_maps(struct loader *L)
{
    const struct sec *ms = &L->secs[L->maps_sec];
    if (!L->btf_sec || !L->secs[L->btf_sec].bytes)
        return fail(L, PL_EELF, "'.maps' needs BTF to describe the maps (compile with -g)");
    const struct sec *bs = &L->secs[L->btf_sec];
    struct btf *btf = btf__new(bs->bytes, (uint32_t)bs->sh.sh_size);
    if (!btf)
        return fail(L, PL_EELF, "the .BTF section is malformed (%s)", strerror(errno));
    int rc = btf_check_refs(L, btf);
    int32_t ds = rc ? -1 : btf__find_by_name_kind(btf, ".maps", BTF_KIND_DATASEC);
    if (!rc && ds <= 0)
        rc = fail(L, PL_EELF, "BTF has no description of the '.maps' section (DATASEC '.maps')");
    const struct btf_type *sec = rc ? NULL : btf__type_by_id(btf, (uint32_t)ds);
    for (uint16_t k = 0; !rc && k < btf_vlen(sec); k++) {
        const struct btf_type *var = btf__type_by_id(btf, btf_var_secinfos(sec)[k].type);
        const char *name = btf_is_var(var) ? btf__name_by_offset(btf, var->name_off) : NULL;
        if (!name || !*name) {
            rc = fail(L, PL_EELF, "BTF entry %u of '.maps' is not a named variable", k);
            break;
        }
        const struct btf_type *def = btf_strip(btf, var->type);
        if (!def || !btf_is_struct(def)) {
            rc = fail(L, PL_EELF, "map '%s' is not a struct definition in BTF", name);
            break;
        }
        const struct sym *y = find_sym_in(L, L->maps_sec, name);
        if (!y || y->s.st_value >= ms->sh.sh_size) {
            rc = fail(L, PL_EELF, "map '%s' has no symbol in section '.maps'", name);
            break;
        }
        struct pl_map_spec spec = {0};
        rc = btf_map_spec(L, btf, name, def, &spec);
        if (!rc)
            rc = add_map(L, y->name, &spec, L->maps_sec, y->s.st_value, true, NULL);
    }
    btf__free(btf);
    return rc;
}

static int read_legacy_maps(struct loader *L)
{
    const struct sec *s = &L->secs[L->legacy_sec];
    for (size_t i = 0; i < L->nsyms; i++) {
        const struct sym *y = &L->syms[i];
        if (y->s.st_shndx != L->legacy_sec || GELF_ST_TYPE(y->s.st_info) != STT_OBJECT)
            continue;
        uint64_t off = y->s.st_value;
        if (!s->bytes || off % 4 || off > s->sh.sh_size || s->sh.sh_size - off < LEGACY_MAP_DEF_SIZE)
            return fail(L, PL_EELF, "legacy map '%s' at offset %llu does not hold a %u-byte bpf_map_def in 'maps'",
                        y->name, (unsigned long long)off, LEGACY_MAP_DEF_SIZE);
        uint32_t f[5];
        memcpy(f, s->bytes + off, sizeof(f));
        struct pl_map_spec spec = {.type = f[0], .key_size = f[1], .value_size = f[2], .max_entries = f[3],
                                   .flags = f[4]};
        int rc = add_map(L, y->name, &spec, L->legacy_sec, off, true, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

static int read_global_data(struct loader *L)
{
    for (size_t i = 1; i < L->nsecs; i++) {
        struct sec *s = &L->secs[i];
        if (!s->gdata || s->sh.sh_size == 0)
            continue;
        if (s->sh.sh_size > OBJ_MAX_SIZE)
            return fail(L, PL_E2BIG, "global data section '%s' is %llu bytes; the limit is %u", s->name,
                        (unsigned long long)s->sh.sh_size, OBJ_MAX_SIZE);
        struct pl_map_spec spec = {.type = PL_MAP_ARRAY, .key_size = 4,
                                   .value_size = (uint32_t)s->sh.sh_size, .max_entries = 1};
        pl_map *map;
        int rc = add_map(L, s->name, &spec, i, 0, false, &map);
        if (rc)
            return rc;
        s->map = (int)(L->obj->nmaps - 1);
        if (s->bytes)
            memcpy(pl_map_value_base(map), s->bytes, s->sh.sh_size);
    }
    return 0;
}

/* ------------------------------------------------------------- linking */

/* The function of section s that contains instruction idx. */
static const struct func *func_at(const struct sec *s, uint32_t idx)
{
    uint32_t lo = 0, hi = s->nfuncs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct func *f = &s->funcs[mid];
        if (idx < f->start)
            hi = mid;
        else if (idx >= f->start + f->len)
            lo = mid + 1;
        else
            return f;
    }
    return NULL;
}

struct link {
    struct loader *L;
    const char *prog;   /* section name, for messages */
    struct unit *units;
    uint32_t nunits, cap;
    uint32_t ninsns;
    uint32_t *unit_of;  /* per function (loader.funcs index): unit + 1, 0 if none */
};

/* Where a bpf-to-bpf call goes (section *tsec, index *tidx); *tsec = 0 for
 * a helper call, which needs no linking. Rewrites extern helper calls in
 * place. */
static int call_target(struct link *k, size_t sec, uint32_t i, struct pl_insn *in, size_t *tsec, int64_t *tidx)
{
    struct loader *L = k->L;
    const struct sec *s = &L->secs[sec];
    const struct reloc *r = s->relocs ? &s->relocs[i] : NULL;
    *tsec = 0;
    if (!r || !r->type) {
        if (in->src != BPF_PSEUDO_CALL)
            return 0; /* helper by id; the verifier checks it */
        *tsec = sec;
        *tidx = (int64_t)i + in->imm + 1;
    } else {
        const struct sym *y = &L->syms[r->sym];
        if (r->type != R_BPF_64_32)
            return fail(L, PL_EELF, "section '%s' instruction %u: call has relocation type %u (expected R_BPF_64_32)",
                        s->name, i, r->type);
        if (y->s.st_shndx == SHN_UNDEF) {
            const struct pl_helper_spec *h = *y->name ? pl_helper_find_by_name(L->rt, y->name) : NULL;
            if (!h)
                return fail(L, PL_ENOENT, "program '%s' calls unknown helper '%s' (not registered by the host)",
                            k->prog, y->name);
            in->src = 0;
            in->imm = (int32_t)h->id;
            return 0;
        }
        if (y->s.st_shndx >= L->nsecs || !L->secs[y->s.st_shndx].exec || y->s.st_value % 8)
            return fail(L, PL_EELF, "section '%s' instruction %u calls '%s', which is not code", s->name, i,
                        y->name);
        if (in->src != BPF_PSEUDO_CALL)
            return fail(L, PL_EELF, "section '%s' instruction %u: call relocated against '%s' is not a local call",
                        s->name, i, y->name);
        *tsec = y->s.st_shndx;
        *tidx = (int64_t)(y->s.st_value / 8) + in->imm + 1;
    }
    if (*tidx < 0 || *tidx >= L->secs[*tsec].ninsns)
        return fail(L, PL_EELF, "section '%s' instruction %u calls instruction %lld, outside section '%s'", s->name,
                    i, (long long)*tidx, L->secs[*tsec].name);
    return 0;
}

/* The unit holding function f of section sec, appended if not yet there. */
static int unit_for(struct link *k, size_t sec, const struct func *f, uint32_t *out)
{
    size_t id = (size_t)(f - k->L->funcs);
    if (k->unit_of[id]) {
        *out = k->unit_of[id] - 1;
        return 0;
    }
    if (f->len > PL_MAX_INSNS - k->ninsns)
        return fail(k->L, PL_E2BIG, "program '%s' has more than %u instructions after linking", k->prog,
                    PL_MAX_INSNS);
    if (k->nunits == k->cap) {
        uint32_t cap = k->cap ? k->cap * 2 : 8;
        struct unit *u = realloc(k->units, cap * sizeof(*u));
        if (!u)
            return fail(k->L, PL_ENOMEM, "out of memory linking program '%s'", k->prog);
        k->units = u;
        k->cap = cap;
    }
    k->units[k->nunits] = (struct unit){sec, f, k->ninsns};
    k->ninsns += f->len;
    *out = k->nunits++;
    k->unit_of[id] = k->nunits;
    return 0;
}

/* Resolves the call at section index i to its unit; NULL target when the
 * call is a helper call. */
static int resolve_call(struct link *k, size_t sec, uint32_t i, struct pl_insn *in, const struct unit **tu,
                        uint32_t *toff)
{
    size_t tsec;
    int64_t tidx;
    *tu = NULL;
    int rc = call_target(k, sec, i, in, &tsec, &tidx);
    if (rc || !tsec)
        return rc;
    const struct sec *ts = &k->L->secs[tsec];
    const struct func *f = func_at(ts, (uint32_t)tidx);
    /* A section without function symbols is one function called anywhere. */
    if (!f || (f->name && f->start != tidx))
        return fail(k->L, PL_EELF,
                    "section '%s' instruction %u calls instruction %lld of '%s', which does not start a function",
                    k->L->secs[sec].name, i, (long long)tidx, ts->name);
    uint32_t u;
    rc = unit_for(k, tsec, f, &u);
    if (rc)
        return rc;
    *tu = &k->units[u];
    *toff = (uint32_t)tidx - f->start;
    return 0;
}

static int find_map(const struct loader *L, size_t shndx, int64_t off)
{
    for (uint32_t m = 0; m < L->obj->nmaps; m++)
        if (L->map_locs[m].shndx == shndx && (int64_t)L->map_locs[m].offset == off)
            return (int)m;
    return -1;
}

/* Turns a relocated lddw into a constant pointer to a map or map value. */
static int relocate_lddw(struct loader *L, size_t sec, uint32_t i, struct pl_insn *in, struct pl_insn_aux *aux)
{
    const struct sec *s = &L->secs[sec];
    const struct reloc *r = &s->relocs[i];
    const struct sym *y = &L->syms[r->sym];
    uint16_t shndx = y->s.st_shndx;
    if (r->type != R_BPF_64_64)
        return fail(L, PL_EELF, "section '%s' instruction %u: lddw has relocation type %u (expected R_BPF_64_64)",
                    s->name, i, r->type);
    if (shndx == SHN_UNDEF)
        return fail(L, PL_EELF,
                    "section '%s' instruction %u refers to undefined symbol '%s' (extern variables are not "
                    "supported)",
                    s->name, i, y->name);
    if (shndx >= L->nsecs)
        return fail(L, PL_EELF, "section '%s' instruction %u refers to symbol '%s' in special section %#x", s->name,
                    i, y->name, (unsigned)shndx);
    const struct sec *ts = &L->secs[shndx];
    int64_t off = (int64_t)y->s.st_value + in[0].imm;
    uint64_t ptr;
    if (ts->exec)
        return fail(L, PL_EELF,
                    "section '%s' instruction %u takes the address of function '%s' (function pointers and "
                    "callbacks are not supported)",
                    s->name, i, y->name);
    if (shndx == L->maps_sec || shndx == L->legacy_sec) {
        int m = find_map(L, shndx, off);
        if (m < 0)
            return fail(L, PL_EELF, "section '%s' instruction %u refers to '%s' in '%s', which is not a map", s->name,
                        i, y->name, ts->name);
        *aux = (struct pl_insn_aux){.kind = PL_INSN_LDDW_MAP, .map = (uint32_t)m};
        ptr = (uint64_t)(uintptr_t)L->obj->maps[m];
    } else if (ts->gdata && ts->map >= 0) {
        if (off < 0 || (uint64_t)off >= ts->sh.sh_size)
            return fail(L, PL_EELF, "section '%s' instruction %u refers to offset %lld of '%s', which is %llu bytes",
                        s->name, i, (long long)off, ts->name, (unsigned long long)ts->sh.sh_size);
        pl_map *map = L->obj->maps[ts->map];
        *aux = (struct pl_insn_aux){.kind = PL_INSN_LDDW_MAP_VALUE, .map = (uint32_t)ts->map,
                                    .offset = (uint32_t)off};
        ptr = (uint64_t)(uintptr_t)pl_map_value_base(map) + (uint64_t)off;
    } else {
        return fail(L, PL_EELF,
                    "section '%s' instruction %u refers to '%s' in section '%s', which is neither a map nor "
                    "global data",
                    s->name, i, y->name, ts->name);
    }
    in[0].src = 0;
    in[0].imm = (int32_t)(uint32_t)ptr;
    in[1].imm = (int32_t)(uint32_t)(ptr >> 32);
    return 0;
}

/* Copies one function into place at out and applies its relocations; the
 * functions its calls reach are appended to the unit list. */
static int link_unit(struct link *k, uint32_t u, struct pl_insn *out, struct pl_insn_aux *aux)
{
    struct loader *L = k->L;
    size_t sec = k->units[u].sec;
    const struct func f = *k->units[u].fn;
    uint32_t base = k->units[u].out;
    const struct sec *s = &L->secs[sec];
    /* Bytes, not struct pl_insn *: libelf may hand out unaligned data. */
    const uint8_t *src = s->bytes + (size_t)f.start * sizeof(struct pl_insn);
    memcpy(&out[base], src, (size_t)f.len * sizeof(struct pl_insn));
    for (uint32_t j = 0; j < f.len; j++) {
        uint32_t i = f.start + j, pc = base + j;
        struct pl_insn *in = &out[pc];
        const struct reloc *r = s->relocs && s->relocs[i].type ? &s->relocs[i] : NULL;
        if (in->code == (BPF_JMP | BPF_CALL)) {
            const struct unit *tu;
            uint32_t toff;
            int rc = resolve_call(k, sec, i, in, &tu, &toff);
            if (rc)
                return rc;
            if (tu)
                in->imm = (int32_t)((int64_t)tu->out + toff - pc - 1);
        } else if (in->code == BPF_LDDW) {
            if (j + 1 >= f.len)
                return fail(L, PL_EELF, "section '%s' instruction %u: lddw is cut off by the end of its function",
                            s->name, i);
            if (r) {
                int rc = relocate_lddw(L, sec, i, in, &aux[pc]);
                if (rc)
                    return rc;
            }
            j++; /* the second half is an immediate, not an instruction */
        } else if (r) {
            return fail(L, PL_EELF, "section '%s' instruction %u has a relocation (type %u against '%s') but is "
                        "neither a call nor an lddw",
                        s->name, i, r->type, L->syms[r->sym].name);
        }
    }
    return 0;
}

/* Maps an instruction of a linked program back to its section for line
 * info. */
struct linked_lines {
    struct loader *L;
    const struct unit *units;
    uint32_t nunits;
};

static bool resolve_line(void *ctx, uint32_t insn, struct pl_line *out)
{
    struct linked_lines *ll = ctx;
    struct loader *L = ll->L;
    for (uint32_t u = 0; u < ll->nunits; u++) {
        const struct unit *un = &ll->units[u];
        if (insn >= un->out && insn - un->out < un->fn->len) {
            if (!L->lines.btf) {
                L->lines.btf = L->btf_sec ? L->secs[L->btf_sec].bytes : NULL;
                L->lines.btf_size = L->btf_sec ? L->secs[L->btf_sec].sh.sh_size : 0;
                L->lines.ext = L->btf_ext_sec ? L->secs[L->btf_ext_sec].bytes : NULL;
                L->lines.ext_size = L->btf_ext_sec ? L->secs[L->btf_ext_sec].sh.sh_size : 0;
            }
            return pl_elf_line_lookup(&L->lines, L->secs[un->sec].name, un->fn->start + (insn - un->out), out);
        }
    }
    return false;
}

/* Links the program whose main function is main_fn; *out_units (freed by
 * the caller) says where each function landed. */
static int link_prog(struct loader *L, size_t sec, const struct func *main_fn, const char *name,
                     struct pl_insn **out_insns, struct pl_insn_aux **out_aux, uint32_t *out_n,
                     struct unit **out_units, uint32_t *out_nunits)
{
    struct link k = {.L = L, .prog = name, .unit_of = calloc(L->nfuncs, sizeof(uint32_t))};
    uint32_t u;
    int rc = k.unit_of ? unit_for(&k, sec, main_fn, &u) : fail(L, PL_ENOMEM, "out of memory linking '%s'", name);
    struct pl_insn *insns = NULL;
    struct pl_insn_aux *aux = NULL;
    uint32_t cap = 0;
    /* Calls append the units they reach after the one being copied, so the
     * output grows as the walk goes: one pass, and a single allocation
     * when the program calls nothing. */
    for (uint32_t v = 0; !rc && v < k.nunits; v++) {
        if (k.ninsns > cap) {
            struct pl_insn *ni = realloc(insns, (size_t)k.ninsns * sizeof(*insns));
            if (ni)
                insns = ni;
            struct pl_insn_aux *na = ni ? realloc(aux, (size_t)k.ninsns * sizeof(*aux)) : NULL;
            if (!na) {
                rc = fail(L, PL_ENOMEM, "out of memory linking program '%s'", name);
                break;
            }
            aux = na;
            memset(aux + cap, 0, (size_t)(k.ninsns - cap) * sizeof(*aux));
            cap = k.ninsns;
        }
        rc = link_unit(&k, v, insns, aux);
    }
    free(k.unit_of);
    if (rc) {
        free(k.units);
        free(insns);
        free(aux);
        return rc;
    }
    *out_insns = insns;
    *out_aux = aux;
    *out_n = k.ninsns;
    *out_units = k.units;
    *out_nunits = k.nunits;
    return 0;
}

static int load_prog(struct loader *L, size_t sec, const struct func *f)
{
    pl_object *obj = L->obj;
    const char *name = L->secs[sec].name;
    /* Programs are named by section; a truncated name would not find them. */
    if (strlen(name) >= sizeof(((pl_prog *)0)->name))
        return fail(L, PL_EELF, "program section name '%.80s...' is longer than %zu characters", name,
                    sizeof(((pl_prog *)0)->name) - 1);
    struct obj_prog *op = &obj->progs[obj->nprogs];
    op->section = strdup(name);
    op->func = f->name ? strdup(f->name) : NULL;
    if (!op->section || (f->name && !op->func)) {
        free(op->section);
        free(op->func);
        return fail(L, PL_ENOMEM, "out of memory loading program '%s'", name);
    }
    struct pl_insn *insns;
    struct pl_insn_aux *aux;
    struct unit *units = NULL;
    uint32_t n, nunits = 0;
    const pl_hook *hook = L->opts ? L->opts->hook : NULL;
    int rc = 0;
    if (L->opts && (L->opts->flags & PL_LOAD_HOOK_BY_SECTION)) {
        if (hook)
            rc = pl_fail(L->err, PL_EINVAL, -1, "PL_LOAD_HOOK_BY_SECTION takes the hook from each section name: "
                                                "leave opts.hook NULL");
        else if (strncmp(name, "hook/", 5) != 0 || !(hook = pl_hook_find(L->rt, name + 5)))
            rc = pl_fail(L->err, PL_EHOOK, -1, "program section '%s' names no registered hook (sections must be "
                                               "\"hook/NAME\" when loading with PL_LOAD_HOOK_BY_SECTION)", name);
    }
    if (!rc)
        rc = link_prog(L, sec, f, name, &insns, &aux, &n, &units, &nunits);
    if (!rc) {
        struct pl_prog_opts po = {
            .name = name,
            .flags = L->opts ? L->opts->flags : 0,
            .hook = hook,
            .ctx_size = L->opts ? L->opts->ctx_size : 0,
            .verifier_log = L->opts ? L->opts->verifier_log : NULL,
            .verifier_log_user = L->opts ? L->opts->verifier_log_user : NULL,
        };
        pl_error e;
        struct linked_lines ll = {L, units, nunits};
        struct pl_line_resolver lines = {resolve_line, &ll};
        rc = pl_prog_create(L->rt, insns, aux, n, obj->maps, obj->nmaps, &lines, &po, &op->prog, &e);
        if (rc) {
            free(insns);
            free(aux);
            pl_fail(L->err, rc, e.insn, "program '%s'%s%s%s: %s", name, f->name ? " (function '" : "",
                    f->name ? f->name : "", f->name ? "')" : "", e.msg);
        }
    }
    free(units);
    if (rc) {
        free(op->section);
        free(op->func);
        return rc;
    }
    obj->nprogs++;
    return 0;
}

static int load_progs(struct loader *L)
{
    uint32_t count = 0;
    for (size_t i = 1; i < L->nsecs; i++)
        if (L->secs[i].exec && strcmp(L->secs[i].name, ".text"))
            count += L->secs[i].nfuncs;
    if (count == 0)
        return fail(L, PL_EELF, "the object has no programs (no function in an executable section other than .text)");
    if (count > OBJ_MAX_PROGS)
        return fail(L, PL_E2BIG, "the object has %u programs; the limit is %u", count, OBJ_MAX_PROGS);
    L->obj->progs = calloc(count, sizeof(*L->obj->progs));
    if (!L->obj->progs)
        return fail(L, PL_ENOMEM, "out of memory loading programs");
    for (size_t i = 1; i < L->nsecs; i++) {
        const struct sec *s = &L->secs[i];
        if (!s->exec || !strcmp(s->name, ".text"))
            continue;
        for (uint32_t f = 0; f < s->nfuncs; f++) {
            int rc = load_prog(L, i, &s->funcs[f]);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* -------------------------------------------------------------- object */

void pl_object_close(pl_object *obj)
{
    if (!obj)
        return;
    for (uint32_t i = 0; i < obj->nprogs; i++) {
        pl_prog_put(obj->progs[i].prog);
        free(obj->progs[i].section);
        free(obj->progs[i].func);
    }
    free(obj->progs);
    for (uint32_t i = 0; i < obj->nmaps; i++)
        pl_map_put(obj->maps[i]);
    free(obj);
}

static int check_header(struct loader *L)
{
    size_t n;
    const char *ident = elf_kind(L->elf) == ELF_K_ELF ? elf_getident(L->elf, &n) : NULL;
    if (!ident || n < EI_NIDENT)
        return fail(L, PL_EELF, "not an ELF object file");
    if (ident[EI_CLASS] != ELFCLASS64)
        return fail(L, PL_EELF, "not a 64-bit ELF object (BPF objects are ELFCLASS64)");
    if (ident[EI_DATA] != ELFDATA2LSB)
        return fail(L, PL_EELF, "not a little-endian ELF object (compile with -target bpf or bpfel)");
    GElf_Ehdr eh;
    if (!gelf_getehdr(L->elf, &eh))
        return fail(L, PL_EELF, "cannot read the ELF header: %s", elf_errmsg(-1));
    if (eh.e_machine != EM_BPF)
        return fail(L, PL_EELF, "wrong machine type %u in the ELF header; expected EM_BPF (%u): compile with "
                    "clang -target bpf",
                    (unsigned)eh.e_machine, (unsigned)EM_BPF);
    if (eh.e_type != ET_REL)
        return fail(L, PL_EELF, "ELF type %u is not a relocatable object (ET_REL)", (unsigned)eh.e_type);
    return 0;
}

/* Takes ownership of image (malloc'd, size bytes). */
static int open_image(pl_runtime *rt, uint8_t *image, size_t size, const struct pl_object_opts *opts,
                      pl_object **out, pl_error *err)
{
    struct loader L = {.rt = rt, .opts = opts, .err = err, .size = size};
    int rc = 0;
    pthread_once(&elf_once, elf_init);
    if (!elf_ok)
        rc = fail(&L, PL_EELF, "libelf is unusable: %s", elf_errmsg(-1));
    if (!rc) {
        L.obj = calloc(1, sizeof(*L.obj));
        if (!L.obj)
            rc = fail(&L, PL_ENOMEM, "out of memory opening an object");
        else
            L.obj->rt = rt;
    }
    if (!rc) {
        L.elf = elf_memory((char *)image, size);
        if (!L.elf)
            rc = fail(&L, PL_EELF, "not an ELF object file: %s", elf_errmsg(-1));
    }
    rc = rc ? rc : check_header(&L);
    rc = rc ? rc : read_sections(&L);
    rc = rc ? rc : read_symbols(&L);
    rc = rc ? rc : read_functions(&L);
    rc = rc ? rc : read_relocations(&L);
    if (!rc && L.maps_sec && L.secs[L.maps_sec].sh.sh_size)
        rc = read_btf_maps(&L);
    if (!rc && L.legacy_sec)
        rc = read_legacy_maps(&L);
    rc = rc ? rc : read_global_data(&L);
    rc = rc ? rc : load_progs(&L);

    pl_elf_lines_release(&L.lines);
    for (size_t i = 0; L.secs && i < L.nsecs; i++)
        free(L.secs[i].relocs);
    free(L.funcs);
    free(L.secs);
    free(L.syms);
    if (L.elf)
        elf_end(L.elf);
    free(image);
    if (rc) {
        pl_object_close(L.obj);
        return rc;
    }
    *out = L.obj;
    return 0;
}

int pl_object_open_mem(pl_runtime *rt, const void *data, size_t size, const struct pl_object_opts *opts,
                       pl_object **out, pl_error *err)
{
    if (!rt || !out || (!data && size))
        return pl_fail(err, PL_EINVAL, -1, "pl_object_open_mem: runtime, data and out are required");
    if (size < EI_NIDENT)
        return pl_fail(err, PL_EELF, -1, "not an ELF object file (%zu bytes is too short)", size);
    if (size > OBJ_MAX_SIZE)
        return pl_fail(err, PL_E2BIG, -1, "the object is %zu bytes; the limit is %u", size, OBJ_MAX_SIZE);
    /* libelf wants a writable, aligned image; the caller's buffer is neither
     * necessarily, so work on a private copy. */
    uint8_t *image = malloc(size);
    if (!image)
        return pl_fail(err, PL_ENOMEM, -1, "out of memory copying the object");
    memcpy(image, data, size);
    return open_image(rt, image, size, opts, out, err);
}

int pl_object_open_file(pl_runtime *rt, const char *path, const struct pl_object_opts *opts, pl_object **out,
                        pl_error *err)
{
    if (!rt || !path || !out)
        return pl_fail(err, PL_EINVAL, -1, "pl_object_open_file: runtime, path and out are required");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pl_fail(err, PL_EIO, -1, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        int e = errno;
        close(fd);
        return pl_fail(err, PL_EIO, -1, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return pl_fail(err, PL_EIO, -1, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > OBJ_MAX_SIZE) {
        close(fd);
        return pl_fail(err, PL_E2BIG, -1, "%s: the object is %lld bytes; the limit is %u", path,
                       (long long)st.st_size, OBJ_MAX_SIZE);
    }
    size_t size = (size_t)st.st_size, got = 0;
    uint8_t *image = malloc(size ? size : 1);
    if (!image) {
        close(fd);
        return pl_fail(err, PL_ENOMEM, -1, "%s: out of memory reading the object", path);
    }
    while (got < size) {
        ssize_t r = read(fd, image + got, size - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            free(image);
            return pl_fail(err, PL_EIO, -1, "%s: read failed: %s", path, r ? strerror(e) : "file shrank");
        }
        got += (size_t)r;
    }
    close(fd);
    if (size < EI_NIDENT) {
        free(image);
        return pl_fail(err, PL_EELF, -1, "%s: not an ELF object file (%zu bytes is too short)", path, size);
    }
    pl_error e;
    int rc = open_image(rt, image, size, opts, out, &e);
    if (rc)
        pl_fail(err, rc, e.insn, "%s: %s", path, e.msg);
    return rc;
}

uint32_t pl_object_prog_count(const pl_object *obj)
{
    return obj ? obj->nprogs : 0;
}

pl_prog *pl_object_prog(const pl_object *obj, uint32_t i)
{
    return obj && i < obj->nprogs ? obj->progs[i].prog : NULL;
}

pl_prog *pl_object_find_prog(const pl_object *obj, const char *section)
{
    if (!obj || !section)
        return NULL;
    for (uint32_t i = 0; i < obj->nprogs; i++)
        if (!strcmp(obj->progs[i].section, section))
            return obj->progs[i].prog;
    for (uint32_t i = 0; i < obj->nprogs; i++)
        if (obj->progs[i].func && !strcmp(obj->progs[i].func, section))
            return obj->progs[i].prog;
    return NULL;
}
