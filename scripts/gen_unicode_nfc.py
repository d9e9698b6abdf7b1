#!/usr/bin/python3
"""Generate src/tokenizer/unicode_nfc_tables.{c,h}: the data Unicode NFC needs.

    gen_unicode_nfc.py [--ucd /usr/share/unicode] [--version 9.0] [--out-dir src/tokenizer]

Reads Debian's unicode-data package (`apt-get install unicode-data`):
  UnicodeData.txt               canonical combining classes, decomposition mappings
  CompositionExclusions.txt     the script-specific and post-composition-version exclusions
  DerivedNormalizationProps.txt Full_Composition_Exclusion and NFC_QC, to cross-check ours
  DerivedAge.txt                the version each code point was assigned in (--version)

Which Unicode version, and why: the reference is Hugging Face's `tokenizers` (Rust, also
behind the Python and node packages), whose NFC normalizer is the crate
unicode-normalization-alignments 0.1.12 (a 2019 fork of unicode-normalization 0.1.11 that
reports alignments), and its tables are Unicode 9.0.0 (tables.rs: UNICODE_VERSION = (9, 0, 0)).
Current tokenizers (0.23) still depends on that fork. So to match it exactly the tables are
limited to the code points assigned by --version (default 9.0): a code point assigned later
(DerivedAge.txt) is treated as unassigned, i.e. a starter with no decomposition that composes
with nothing, which is what tokenizers does with it (e.g. it leaves U+11935 U+11930 alone,
where Unicode 13.0's NFC makes U+11938). Unicode's stability policies (combining classes and
decomposition mappings never change once assigned; a new composite whose parts were already
encoded is always excluded from composition) make UCD N limited to the code points of 9.0 the
same normalization data as UCD 9.0 itself. --version all keeps every code point of the UCD.

Tables (two-stage, 2**SHIFT code points per block; a block number indexes stage1, which
picks one of the distinct blocks in stage2):
  props   uint16 per code point: canonical combining class (bits 0-7), NFC_QC=No (bit 8),
          NFC_QC=Maybe (bit 9), has a canonical decomposition (bit 10), is the first
          character of a primary composite (bit 11). Hangul syllables are handled in code.
  decomp  the full (recursive) canonical decomposition of every code point that has one,
          compatibility mappings excluded; sorted by code point, searched by bisection.
  comp    (first, second) -> primary composite, for canonical decompositions of two
          characters that are not Full_Composition_Exclusion (which covers
          CompositionExclusions.txt, singletons and non-starter decompositions); sorted
          by the pair, searched by bisection.
The script cross-checks what it derives (Full_Composition_Exclusion, NFC_QC) against
DerivedNormalizationProps.txt for the code points it keeps.
"""
import argparse
import math
import os
import re
import sys

N_CP = 0x110000
S_BASE, L_BASE, V_BASE, T_BASE = 0xAC00, 0x1100, 0x1161, 0x11A7
L_COUNT, V_COUNT, T_COUNT = 19, 21, 28
S_COUNT = L_COUNT * V_COUNT * T_COUNT

P_QC_NO, P_QC_MAYBE, P_DECOMP, P_COMPOSES_FORWARD = 1 << 8, 1 << 9, 1 << 10, 1 << 11


def ucd_lines(path):
    """Yield the fields of each data line (comments and blank lines skipped)."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                yield [x.strip() for x in line.split(";")]


def cp_range(field):
    a, _, b = field.partition("..")
    return int(a, 16), int(b or a, 16)


def file_version(path):
    """The version in a UCD file's first line, e.g. '# UnicodeData-15.0.0.txt' (UnicodeData.txt has none)."""
    with open(path, encoding="utf-8") as f:
        m = re.search(r"-(\d+\.\d+\.\d+)\.txt", f.readline())
    return m.group(1) if m else None


def version_key(v):
    return tuple(int(x) for x in v.split("."))


def load_ages(ucd):
    age = {}
    for fields in ucd_lines(os.path.join(ucd, "DerivedAge.txt")):
        lo, hi = cp_range(fields[0])
        for cp in range(lo, hi + 1):
            age[cp] = version_key(fields[1])
    return age


def load_unicode_data(ucd, keep):
    """ccc and canonical decomposition mappings of the kept code points."""
    ccc, decomp = {}, {}
    for fields in ucd_lines(os.path.join(ucd, "UnicodeData.txt")):
        cp = int(fields[0], 16)
        if not keep(cp):
            continue
        if fields[3] != "0":
            ccc[cp] = int(fields[3])
        d = fields[5]
        if d and not d.startswith("<"):  # "<tag> ..." is a compatibility mapping
            decomp[cp] = [int(x, 16) for x in d.split()]
    return ccc, decomp


def load_property(path, name, keep, value=None):
    out = set()
    for fields in ucd_lines(path):
        if fields[1] == name and (value is None or fields[2] == value):
            lo, hi = cp_range(fields[0])
            out.update(cp for cp in range(lo, hi + 1) if keep(cp))
    return out


def full_decomposition(cp, decomp):
    if cp not in decomp:
        return [cp]
    return [x for d in decomp[cp] for x in full_decomposition(d, decomp)]


def utf8_len(cp):
    return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4


def derive(ucd, keep):
    ccc, decomp = load_unicode_data(ucd, keep)
    listed = set()  # CompositionExclusions.txt: script-specific and post composition version
    for fields in ucd_lines(os.path.join(ucd, "CompositionExclusions.txt")):
        lo, hi = cp_range(fields[0])
        listed.update(cp for cp in range(lo, hi + 1) if keep(cp))
    singletons = {cp for cp, d in decomp.items() if len(d) == 1}
    non_starter = {cp for cp, d in decomp.items() if ccc.get(cp, 0) or ccc.get(d[0], 0)}
    excluded = listed | singletons | non_starter

    comp = {}
    for cp, d in decomp.items():
        if cp in excluded:
            continue
        assert len(d) == 2, "a primary composite decomposes to two characters"
        assert ccc.get(cp, 0) == 0 and ccc.get(d[0], 0) == 0, "composites and their first parts are starters"
        comp[(d[0], d[1])] = cp

    props = [0] * N_CP
    for cp, c in ccc.items():
        props[cp] |= c
    for cp in excluded:
        props[cp] |= P_QC_NO
    maybe = {b for (_, b) in comp} | set(range(V_BASE, V_BASE + V_COUNT)) | set(range(T_BASE + 1, T_BASE + T_COUNT))
    for cp in maybe:
        props[cp] |= P_QC_MAYBE
    for cp in decomp:
        props[cp] |= P_DECOMP
    for a, _ in comp:
        props[a] |= P_COMPOSES_FORWARD

    props_path = os.path.join(ucd, "DerivedNormalizationProps.txt")
    fce = load_property(props_path, "Full_Composition_Exclusion", keep)
    assert fce == excluded, "Full_Composition_Exclusion differs: %s" % sorted(fce ^ excluded)[:10]
    qc_no = load_property(props_path, "NFC_QC", keep, "N")
    qc_maybe = load_property(props_path, "NFC_QC", keep, "M")
    assert qc_no == excluded, "NFC_QC=No differs: %s" % sorted(qc_no ^ excluded)[:10]
    assert qc_maybe == {cp for cp in maybe if keep(cp)}, "NFC_QC=Maybe differs: %s" % sorted(qc_maybe ^ maybe)[:10]

    full = {cp: full_decomposition(cp, decomp) for cp in decomp}
    for cp, d in full.items():
        # What unicode_nfc.c sizes its buffers by (see the limits in the header).
        assert len(d) <= 2 * utf8_len(cp), "U+%04X decomposes to too many code points" % cp
        assert len(d) <= 4
    return props, full, comp


def two_stage(values, shift):
    block = 1 << shift
    last = max(cp for cp in range(N_CP) if values[cp]) >> shift  # all blocks after it are zero
    blocks, index, stage1 = [], {}, []
    for b in range(last + 1):
        chunk = tuple(values[b * block:(b + 1) * block])
        if chunk not in index:
            index[chunk] = len(blocks)
            blocks.append(chunk)
        stage1.append(index[chunk])
    return stage1, blocks


def c_array(values, per_line=24):
    lines = []
    for i in range(0, len(values), per_line):
        lines.append("    " + ",".join(str(v) for v in values[i:i + per_line]) + ",")
    return "\n".join(lines)


def write_tables(out_dir, props, full, comp, shift, version, ucd_version):
    stage1, blocks = two_stage(props, shift)
    assert len(blocks) <= 256
    decomp_keys = sorted(full)
    decomp_offsets, decomp_data = [], []
    for cp in decomp_keys:
        decomp_offsets.append(len(decomp_data))
        decomp_data.extend(full[cp])
    decomp_offsets.append(len(decomp_data))
    assert len(decomp_data) < 65536
    pairs = sorted(comp)
    comp_keys = [(a << 21) | b for a, b in pairs]  # code points fit in 21 bits
    comp_values = [comp[p] for p in pairs]
    first_decomp = min(decomp_keys)
    first_not_yes = min(cp for cp in range(N_CP) if props[cp] & (0xFF | P_QC_NO | P_QC_MAYBE))
    max_decomp = max(len(d) for d in full.values())
    max_expansion = max(sum(utf8_len(x) for x in d) / utf8_len(cp) for cp, d in full.items())

    source = "UCD %s%s" % (ucd_version, "" if version == "all" else ", limited to the code points assigned by %s" % version)
    header = """// unicode_nfc_tables.h: GENERATED by scripts/gen_unicode_nfc.py -- do not edit.
//
// Unicode NFC data: %s
// (the version Hugging Face tokenizers' NFC uses; the script says why).
// %d code points with a canonical decomposition, %d primary composites.
#ifndef GPT_UNICODE_NFC_TABLES_H
#define GPT_UNICODE_NFC_TABLES_H

#include <stdint.h>

#define UNICODE_NFC_VERSION "%s"
#define UNICODE_NFC_UCD_VERSION "%s"

// props bits: ccc in the low byte, then flags.
#define UNICODE_NFC_CCC_MASK 0xFFu
#define UNICODE_NFC_QC_NO 0x100u           // NFC_Quick_Check=No
#define UNICODE_NFC_QC_MAYBE 0x200u        // NFC_Quick_Check=Maybe: may compose with what precedes
#define UNICODE_NFC_HAS_DECOMP 0x400u      // has a canonical decomposition (not Hangul)
#define UNICODE_NFC_COMPOSES_FORWARD 0x800u  // first character of a primary composite (not Hangul)

// Below FIRST_NOT_YES every code point is a starter with NFC_QC=Yes; below
// FIRST_DECOMP none has a decomposition.
#define UNICODE_NFC_FIRST_NOT_YES 0x%X
#define UNICODE_NFC_FIRST_DECOMP 0x%X

// props of cp: stage2[stage1[cp >> SHIFT]][cp & (BLOCK - 1)] for cp >> SHIFT < STAGE1_LEN, else 0.
#define UNICODE_NFC_BLOCK_SHIFT %d
#define UNICODE_NFC_STAGE1_LEN %d
extern const uint8_t unicode_nfc_stage1[UNICODE_NFC_STAGE1_LEN];
extern const uint16_t unicode_nfc_stage2[%d][1 << UNICODE_NFC_BLOCK_SHIFT];

// Full canonical decompositions: keys[i] decomposes to data[offsets[i] .. offsets[i + 1]).
// No code point decomposes to more than UNICODE_NFC_MAX_DECOMP code points, nor to more
// than 2 per byte of its UTF-8 form; its UTF-8 grows at most UNICODE_NFC_TABLES_GROWTH
// times (U+1D160 and kin, which are excluded from composition).
#define UNICODE_NFC_DECOMP_COUNT %d
#define UNICODE_NFC_MAX_DECOMP %d
#define UNICODE_NFC_TABLES_GROWTH %d
extern const uint32_t unicode_nfc_decomp_keys[UNICODE_NFC_DECOMP_COUNT];
extern const uint16_t unicode_nfc_decomp_offsets[UNICODE_NFC_DECOMP_COUNT + 1];
extern const uint32_t unicode_nfc_decomp_data[%d];

// Primary composites: keys[i] = first << 21 | second, sorted; composes to values[i].
#define UNICODE_NFC_COMP_COUNT %d
extern const uint64_t unicode_nfc_comp_keys[UNICODE_NFC_COMP_COUNT];
extern const uint32_t unicode_nfc_comp_values[UNICODE_NFC_COMP_COUNT];

#endif
""" % (source, len(decomp_keys), len(pairs), version if version != "all" else ucd_version.rsplit(".", 1)[0],
       ucd_version, first_not_yes, first_decomp, shift, len(stage1), len(blocks), len(decomp_keys), max_decomp, math.ceil(max_expansion), len(decomp_data),
       len(pairs))

    body = ["// unicode_nfc_tables.c: GENERATED by scripts/gen_unicode_nfc.py -- do not edit.",
            "// %s; see unicode_nfc_tables.h." % source, "#include \"unicode_nfc_tables.h\"", ""]
    body.append("const uint8_t unicode_nfc_stage1[UNICODE_NFC_STAGE1_LEN] = {\n%s\n};\n" % c_array(stage1))
    body.append("const uint16_t unicode_nfc_stage2[%d][1 << UNICODE_NFC_BLOCK_SHIFT] = {" % len(blocks))
    for b in blocks:
        body.append("  {\n%s\n  }," % c_array(b, 32))
    body.append("};\n")
    body.append("const uint32_t unicode_nfc_decomp_keys[UNICODE_NFC_DECOMP_COUNT] = {\n%s\n};\n" %
                c_array(["0x%X" % k for k in decomp_keys], 12))
    body.append("const uint16_t unicode_nfc_decomp_offsets[UNICODE_NFC_DECOMP_COUNT + 1] = {\n%s\n};\n" %
                c_array(decomp_offsets, 16))
    body.append("const uint32_t unicode_nfc_decomp_data[%d] = {\n%s\n};\n" %
                (len(decomp_data), c_array(["0x%X" % x for x in decomp_data], 12)))
    body.append("const uint64_t unicode_nfc_comp_keys[UNICODE_NFC_COMP_COUNT] = {\n%s\n};\n" %
                c_array(["0x%XULL" % k for k in comp_keys], 8))
    body.append("const uint32_t unicode_nfc_comp_values[UNICODE_NFC_COMP_COUNT] = {\n%s\n};" %
                c_array(["0x%X" % v for v in comp_values], 12))
    with open(os.path.join(out_dir, "unicode_nfc_tables.h"), "w") as f:
        f.write(header)
    with open(os.path.join(out_dir, "unicode_nfc_tables.c"), "w") as f:
        f.write("\n".join(body) + "\n")
    return len(stage1), len(blocks)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ucd", default="/usr/share/unicode")
    ap.add_argument("--version", default="9.0", help="keep the code points assigned by this version, or 'all'")
    ap.add_argument("--out-dir", default=os.path.join(here, "..", "src", "tokenizer"))
    ap.add_argument("--shift", type=int, default=7, help="log2 of the two-stage block size")
    args = ap.parse_args()

    missing = [f for f in ("UnicodeData.txt", "CompositionExclusions.txt", "DerivedNormalizationProps.txt",
                           "DerivedAge.txt") if not os.path.exists(os.path.join(args.ucd, f))]
    if missing:
        sys.exit("%s: missing %s (Debian: apt-get install unicode-data)" % (args.ucd, ", ".join(missing)))
    ucd_version = file_version(os.path.join(args.ucd, "DerivedNormalizationProps.txt"))
    if args.version == "all":
        keep = lambda cp: True  # noqa: E731
    else:
        if version_key(args.version) > version_key(ucd_version):
            sys.exit("UCD %s is older than --version %s" % (ucd_version, args.version))
        age, limit = load_ages(args.ucd), version_key(args.version)
        keep = lambda cp: cp in age and age[cp] <= limit  # noqa: E731
    props, full, comp = derive(args.ucd, keep)
    n1, nb = write_tables(args.out_dir, props, full, comp, args.shift, args.version, ucd_version)
    size = os.path.getsize(os.path.join(args.out_dir, "unicode_nfc_tables.c"))
    print("UCD %s, version %s: %d decompositions, %d composites; stage1 %d, %d blocks of %d; "
          "unicode_nfc_tables.c %d bytes" % (ucd_version, args.version, len(full), len(comp), n1, nb,
                                             1 << args.shift, size))


if __name__ == "__main__":
    main()
