#!/usr/bin/python3
"""Generate src/tokenizer/unicode_tables.{c,h}: the character classes GPT-2's pre-tokenizer needs.

    gen_unicode_tables.py [--ucd DIR] [--version 16.0] [--out-dir src/tokenizer]

Every code point gets one class:
  LETTER  General_Category L* (Lu Ll Lt Lm Lo)  = regex \\p{L}
  NUMBER  General_Category N* (Nd Nl No)        = regex \\p{N}
  SPACE   White_Space property (PropList.txt)   = regex \\s in Rust's regex crate
  OTHER   everything else (marks, punctuation, symbols, controls, unassigned, ...)
(the three sets are disjoint in every Unicode version).

Which Unicode version, and why: the reference is tiktoken 1.0.22 (npm), whose Rust core
matches the gpt2 pattern with fancy-regex 0.11 on top of regex-syntax 0.8.5, and
regex-syntax 0.8.5 carries Unicode 16.0 tables. Classifying every code point with
tiktoken itself (scripts/gen_tokenizer_cases.mjs writes the result to
tests/data/tiktoken_unicode_classes.txt, which tests/test_tokenizer.c compares against)
agrees with UCD 16.0 exactly and disagrees with 15.0 (4,924 letters and 80 numbers added
in 15.1 and 16.0) and with 17.0 (4,644 letters and 13 numbers added in 17.0).

Debian bookworm's unicode-data package (/usr/share/unicode) is UCD 15.0, too old. This
script therefore reads any UCD at least as new as --version and keeps only the code points
that DerivedAge.txt says were assigned by that version. The committed tables were made
from Debian's unicode-data 17.0.0-2 (the package in Debian forky; sha256 of the .deb
6286fdf4e6d4bf1f46a2865f54df44feda9395ab66f50b12cc384d921a9af865):
    apt-get download unicode-data=17.0.0-2    # with a forky line in an apt sources list
    dpkg-deb -x unicode-data_17.0.0-2_all.deb /tmp/ucd17
    scripts/gen_unicode_tables.py --ucd /tmp/ucd17/usr/share/unicode --version 16.0
(no code point changed General_Category between L/N/other from 16.0 to 17.0, which the
tiktoken comparison above confirms for all 1,114,112 code points).

Output: a two-stage table. The code point space is cut into blocks of 256; stage1 maps a
block number (cp >> 8) to one of the distinct blocks, stage2 holds those blocks' classes,
one byte per code point.
"""
import argparse
import hashlib
import os
import re
import sys

BLOCK = 256
N_CP = 0x110000
OTHER, LETTER, NUMBER, SPACE = 0, 1, 2, 3


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


def parse_version(s):
    return tuple(int(x) for x in s.split("."))


def ucd_version(ucd):
    """The version stated in DerivedAge.txt's first line, e.g. '# DerivedAge-17.0.0.txt'."""
    with open(os.path.join(ucd, "DerivedAge.txt"), encoding="utf-8") as f:
        m = re.match(r"# DerivedAge-(\d+\.\d+\.\d+)\.txt", f.readline())
    if not m:
        sys.exit("%s: cannot read the UCD version from DerivedAge.txt" % ucd)
    return m.group(1)


def assigned_by(ucd, version):
    """Set of code points assigned in Unicode `version` or earlier."""
    cps = bytearray(N_CP)
    for fields in ucd_lines(os.path.join(ucd, "DerivedAge.txt")):
        if parse_version(fields[1]) <= version:
            a, b = cp_range(fields[0])
            cps[a:b + 1] = b"\x01" * (b - a + 1)
    return cps


def classify(ucd, version):
    assigned = assigned_by(ucd, version)
    cls = bytearray(N_CP)
    first = None
    # UnicodeData.txt lists big ranges as a "<..., First>" line followed by "<..., Last>"
    for fields in ucd_lines(os.path.join(ucd, "UnicodeData.txt")):
        cp, name, gc = int(fields[0], 16), fields[1], fields[2]
        if name.endswith(", First>"):
            first = cp
            continue
        lo = first if name.endswith(", Last>") else cp
        first = None
        c = {"L": LETTER, "N": NUMBER}.get(gc[0], OTHER)
        for x in range(lo, cp + 1):
            if assigned[x]:
                cls[x] = c
    for fields in ucd_lines(os.path.join(ucd, "PropList.txt")):
        if fields[1] == "White_Space":
            a, b = cp_range(fields[0])
            for x in range(a, b + 1):
                if assigned[x]:
                    if cls[x] != OTHER:
                        sys.exit("U+%04X is White_Space and a letter or number" % x)
                    cls[x] = SPACE
    return cls


def two_stage(cls):
    index, blocks, stage1 = {}, [], []  # block 0 (U+0000..U+00FF) gets index 0
    for start in range(0, N_CP, BLOCK):
        blk = bytes(cls[start:start + BLOCK])
        if blk not in index:
            index[blk] = len(blocks)
            blocks.append(blk)
        stage1.append(index[blk])
    return stage1, blocks


def c_array(values, per_line):
    rows = []
    for i in range(0, len(values), per_line):
        rows.append("    " + ",".join(str(v) for v in values[i:i + per_line]) + ",")
    return "\n".join(rows)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ucd", default="/usr/share/unicode", help="UCD directory (default /usr/share/unicode)")
    ap.add_argument("--version", default="16.0", help="Unicode version of the tables (default 16.0)")
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "tokenizer"))
    a = ap.parse_args()

    want = parse_version(a.version)
    have = ucd_version(a.ucd)
    if parse_version(have) < want:
        sys.exit("%s holds UCD %s, older than the %s tables wanted: see this script's "
                 "docstring for where the files come from" % (a.ucd, have, a.version))
    cls = classify(a.ucd, want)
    stage1, blocks = two_stage(cls)
    if len(blocks) > 256:
        sys.exit("%d distinct blocks do not fit stage1's uint8_t" % len(blocks))
    counts = [cls.count(c) for c in (LETTER, NUMBER, SPACE)]

    sources = "\n".join("//   %-16s sha256 %s" % (n, sha256(os.path.join(a.ucd, n)))
                        for n in ("UnicodeData.txt", "PropList.txt", "DerivedAge.txt"))
    header = f"""// unicode_tables.h: GENERATED by scripts/gen_unicode_tables.py -- do not edit.
//
// Character classes for GPT-2's pre-tokenizer: Unicode {a.version} (the version of the
// tables in regex-syntax 0.8.5, which tiktoken 1.0.22 matches its pattern with; the
// script's docstring says how that was established), taken from UCD {have} limited to
// the code points assigned by {a.version} (DerivedAge.txt):
{sources}
// {counts[0]} letters (\\p{{L}}), {counts[1]} numbers (\\p{{N}}), {counts[2]} White_Space (\\s).
#ifndef GPT_UNICODE_TABLES_H
#define GPT_UNICODE_TABLES_H

#include <stdint.h>

#define UNICODE_TABLES_VERSION "{a.version}"

enum unicode_class {{
    UCLASS_OTHER = {OTHER},   // neither \\s, \\p{{L}} nor \\p{{N}}
    UCLASS_LETTER = {LETTER},  // General_Category L*
    UCLASS_NUMBER = {NUMBER},  // General_Category N*
    UCLASS_SPACE = {SPACE},   // White_Space
}};

// stage1[cp >> 8] picks a block of 256 classes in stage2; blocks are numbered
// in order of first use, so stage2[0] is always U+0000..U+00FF.
extern const uint8_t unicode_class_stage1[{len(stage1)}];
extern const uint8_t unicode_class_stage2[{len(blocks)}][{BLOCK}];

// The class of a code point; anything above U+10FFFF is OTHER.
static inline enum unicode_class unicode_class_of(uint32_t cp) {{
    if (cp >= 0x{N_CP:X}) return UCLASS_OTHER;
    return (enum unicode_class)unicode_class_stage2[unicode_class_stage1[cp >> 8]][cp & 0xFF];
}}

#endif
"""
    body = [f"// unicode_tables.c: GENERATED by scripts/gen_unicode_tables.py -- do not edit.\n"
            f"// Unicode {a.version} classes (see unicode_tables.h).\n"
            '#include "unicode_tables.h"\n',
            f"const uint8_t unicode_class_stage1[{len(stage1)}] = {{\n{c_array(stage1, 32)}\n}};\n",
            f"const uint8_t unicode_class_stage2[{len(blocks)}][{BLOCK}] = {{"]
    for i, blk in enumerate(blocks):
        body.append("    {  // block %d\n%s\n    }," % (i, c_array(list(blk), 64).replace("\n    ", "\n        ").replace("    ", "        ", 1)))
    body.append("};\n")
    with open(os.path.join(a.out_dir, "unicode_tables.h"), "w") as f:
        f.write(header)
    with open(os.path.join(a.out_dir, "unicode_tables.c"), "w") as f:
        f.write("\n".join(body))
    print("unicode %s tables from UCD %s: %d blocks; %d L, %d N, %d White_Space"
          % (a.version, have, len(blocks), *counts))


if __name__ == "__main__":
    main()
