/* Line info lookup in .BTF.ext (see elf_lines.h). Layout (kernel's
 * include/uapi/linux/btf.h and libbpf): a header with the offset and length
 * of the line info part; that part is a record size followed by, per
 * section, {section name offset, record count, records}; each record is
 * {insn byte offset, file name offset, source line offset, line << 10 | col}.
 * Names and source lines are offsets into the .BTF string table. */
#include "elf_lines.h"

#include <bpf/btf.h>
#include <stdio.h>
#include <string.h>

#define EXT_MAGIC 0xeB9F
#define EXT_HDR_MIN 24 /* magic, version, flags, hdr_len, func_info off/len, line_info off/len */

static bool read_u32(const uint8_t *base, size_t size, size_t off, uint32_t *v)
{
    if (off > size || size - off < 4)
        return false;
    memcpy(v, base + off, 4);
    return true;
}

static const char *btf_string(struct pl_elf_lines *L, uint32_t off)
{
    if (!L->parsed) {
        L->parsed = btf__new(L->btf, (uint32_t)L->btf_size);
        if (!L->parsed)
            return NULL;
    }
    return btf__name_by_offset(L->parsed, off);
}

bool pl_elf_line_lookup(struct pl_elf_lines *L, const char *sec_name, uint32_t sec_insn, struct pl_line *out)
{
    if (!L || !L->btf || !L->ext || L->ext_size < EXT_HDR_MIN)
        return false;
    uint16_t magic;
    memcpy(&magic, L->ext, 2);
    uint32_t hdr_len, li_off, li_len, rec_size;
    if (magic != EXT_MAGIC || !read_u32(L->ext, L->ext_size, 4, &hdr_len) ||
        !read_u32(L->ext, L->ext_size, 16, &li_off) || !read_u32(L->ext, L->ext_size, 20, &li_len))
        return false;
    size_t start = (size_t)hdr_len + li_off, end = start + li_len;
    if (hdr_len < EXT_HDR_MIN || start > L->ext_size || end > L->ext_size || li_len < 4 ||
        !read_u32(L->ext, L->ext_size, start, &rec_size) || rec_size < 16)
        return false;

    uint32_t best_off = 0, best_file = 0, best_line = 0, best_lc = 0;
    bool found = false;
    for (size_t p = start + 4; p + 8 <= end;) {
        uint32_t name_off = 0, n = 0;
        read_u32(L->ext, end, p, &name_off);
        read_u32(L->ext, end, p + 4, &n);
        p += 8;
        if (n > (end - p) / rec_size)
            return false;
        const char *name = btf_string(L, name_off);
        if (name && !strcmp(name, sec_name)) {
            for (uint32_t k = 0; k < n; k++) {
                uint32_t insn_off = 0, file_off = 0, line_off = 0, line_col = 0;
                size_t r = p + (size_t)k * rec_size;
                read_u32(L->ext, end, r, &insn_off);
                read_u32(L->ext, end, r + 4, &file_off);
                read_u32(L->ext, end, r + 8, &line_off);
                read_u32(L->ext, end, r + 12, &line_col);
                /* The closest record at or before the instruction. */
                if (insn_off / 8 <= sec_insn && (!found || insn_off >= best_off)) {
                    found = true;
                    best_off = insn_off, best_file = file_off, best_line = line_off, best_lc = line_col;
                }
            }
        }
        p += (size_t)n * rec_size;
    }
    if (!found)
        return false;
    const char *file = btf_string(L, best_file), *text = btf_string(L, best_line);
    if (!file)
        return false;
    const char *base = strrchr(file, '/');
    snprintf(L->file, sizeof(L->file), "%s", base ? base + 1 : file);
    L->text[0] = 0;
    if (text) {
        while (*text == ' ' || *text == '\t')
            text++;
        snprintf(L->text, sizeof(L->text), "%s", text);
    }
    *out = (struct pl_line){.insn = sec_insn, .line = best_lc >> 10, .file = L->file,
                            .text = L->text[0] ? L->text : NULL};
    return true;
}

void pl_elf_lines_release(struct pl_elf_lines *L)
{
    if (L && L->parsed)
        btf__free(L->parsed);
    if (L)
        L->parsed = NULL;
}
