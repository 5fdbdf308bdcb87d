/* Source lines of instructions, from an object's .BTF.ext line info (what
 * clang -g emits). Looked up only when a message needs one. */
#ifndef PL_ELF_LINES_H
#define PL_ELF_LINES_H

#include "internal.h"

struct btf;

struct pl_elf_lines {
    const uint8_t *btf, *ext; /* raw .BTF and .BTF.ext sections (borrowed) */
    size_t btf_size, ext_size;
    struct btf *parsed;       /* created on the first lookup */
    char file[128], text[160];/* the last answer's strings */
};

/* Fills out for instruction sec_insn of section sec_name. False when the
 * object has no (usable) line info for it. Malformed line info is ignored:
 * it is debug information and never makes a load fail. */
bool pl_elf_line_lookup(struct pl_elf_lines *lines, const char *sec_name, uint32_t sec_insn, struct pl_line *out);
void pl_elf_lines_release(struct pl_elf_lines *lines);

#endif
