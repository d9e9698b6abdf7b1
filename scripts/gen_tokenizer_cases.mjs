#!/usr/bin/env node
// Generate the tokenizer's test vectors with OpenAI's tiktoken itself (npm
// "tiktoken" 1.0.22, the WASM build of its Rust core; encoding "gpt2").
//
//   cd scripts && npm install && node gen_tokenizer_cases.mjs
//
// Writes (relative to the repository root):
//   tests/data/tokenizer_cases.jsonl      {"text": ..., "ids": [...], "src": ...} per line,
//       in the format of shared/tokenizer/gpt2/cases.jsonl: UTF-8, non-ASCII written raw
//       except that control characters, U+007F, U+0085, U+2028 and U+2029 are \u-escaped.
//       ids are tiktoken's encode_ordinary(text): a literal <|endoftext|> is ordinary text.
//   tests/data/tokenizer_special_cases.jsonl  the same with tiktoken's encode(text, "all"):
//       <|endoftext|> is the special id 50256 (gpt tokenize --special).
//   tests/data/tiktoken_unicode_classes.txt  which code points tiktoken's regex counts as
//       \p{L}, \p{N} and \s (every code point probed), as ranges; tests/test_tokenizer.c
//       compares src/unicode_tables.c with it for all 1,114,112 code points.
//
// Everything is seeded, so a rerun gives the same files. Texts: slices of
// shared/data/tinyshakespeare.txt (public domain), this repository's own C and Python
// sources (at a fixed commit), seeded random Unicode from many blocks (including the blocks added in Unicode
// 15.0, 15.1, 16.0 and 17.0, so that a table of the wrong version fails), whitespace and
// punctuation soups, contractions, numbers, long documents and long runs of one character.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { get_encoding, Tiktoken } from "tiktoken";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SHARED = process.env.GPT_SHARED || join(ROOT, "..", "shared");
const enc = get_encoding("gpt2");

// ---- seeded randomness (mulberry32) ---------------------------------------------
let seed = 20240901 >>> 0;
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1)); // inclusive
const pick = (a) => a[Math.floor(rand() * a.length)];
const isSurrogate = (c) => c >= 0xd800 && c <= 0xdfff;

// ---- text sources ------------------------------------------------------------------
const cases = [];
function add(src, text) {
  cases.push({ src, text });
}

// Blocks to draw random code points from: [first, last, name].
const BLOCKS = [
  [0x20, 0x7e, "ASCII"], [0xa0, 0xff, "Latin-1"], [0x100, 0x24f, "Latin Extended"],
  [0x250, 0x2af, "IPA"], [0x2b0, 0x2ff, "modifier letters"], [0x300, 0x36f, "combining marks"],
  [0x370, 0x3ff, "Greek"], [0x400, 0x52f, "Cyrillic"], [0x530, 0x58f, "Armenian"],
  [0x590, 0x5ff, "Hebrew"], [0x600, 0x6ff, "Arabic"], [0x700, 0x74f, "Syriac"],
  [0x900, 0x97f, "Devanagari"], [0x980, 0x9ff, "Bengali"], [0xb80, 0xbff, "Tamil"],
  [0xe00, 0xe7f, "Thai"], [0xf00, 0xfff, "Tibetan"], [0x10a0, 0x10ff, "Georgian"],
  [0x1100, 0x11ff, "Hangul Jamo"], [0x1680, 0x169f, "Ogham"], [0x16a0, 0x16ff, "Runic"],
  [0x1780, 0x17ff, "Khmer"], [0x1c80, 0x1c8f, "Cyrillic Extended-C (16.0 additions)"],
  [0x1e00, 0x1eff, "Latin Extended Additional"], [0x1f00, 0x1fff, "Greek Extended"],
  [0x2000, 0x206f, "General Punctuation"], [0x2070, 0x209f, "super/subscripts"],
  [0x20a0, 0x20cf, "currency"], [0x2100, 0x214f, "letterlike"], [0x2150, 0x218f, "number forms"],
  [0x2190, 0x21ff, "arrows"], [0x2200, 0x22ff, "math operators"], [0x2460, 0x24ff, "enclosed alphanumerics"],
  [0x2500, 0x257f, "box drawing"], [0x2600, 0x26ff, "misc symbols"], [0x2c00, 0x2c5f, "Glagolitic"],
  [0x2e80, 0x2eff, "CJK radicals"], [0x3000, 0x303f, "CJK punctuation"], [0x3040, 0x309f, "Hiragana"],
  [0x30a0, 0x30ff, "Katakana"], [0x3400, 0x4dbf, "CJK Ext A"], [0x4e00, 0x9fff, "CJK"],
  [0xa4d0, 0xa4ff, "Lisu"], [0xa720, 0xa7ff, "Latin Extended-D (15.0-17.0 additions)"],
  [0xac00, 0xd7af, "Hangul"], [0xe000, 0xf8ff, "private use"], [0xfb00, 0xfb4f, "presentation forms"],
  [0xfe00, 0xfe0f, "variation selectors"], [0xfe70, 0xfeff, "Arabic forms B + BOM"],
  [0xff00, 0xffef, "fullwidth"], [0xfff0, 0xffff, "specials"],
  [0x10000, 0x1007f, "Linear B"], [0x10330, 0x1034f, "Gothic"], [0x10400, 0x1044f, "Deseret"],
  [0x105c0, 0x105ff, "Todhri (16.0)"], [0x10d40, 0x10d8f, "Garay (16.0)"],
  [0x10940, 0x1095f, "Sidetic (17.0)"], [0x10ec0, 0x10eff, "Arabic Extended-C (15.0-17.0)"],
  [0x11380, 0x113ff, "Tulu-Tigalari (16.0)"], [0x116d0, 0x116ff, "Myanmar Extended-C (16.0)"],
  [0x11b00, 0x11b5f, "Devanagari Extended-A (15.0)"], [0x11bc0, 0x11bff, "Sunuwar (16.0)"],
  [0x11db0, 0x11def, "Tolong Siki (17.0)"], [0x11f00, 0x11f5f, "Kawi (15.0)"],
  [0x13460, 0x143ff, "Egyptian Hieroglyphs Ext-A (16.0)"], [0x16100, 0x1613f, "Gurung Khema (16.0)"],
  [0x16d40, 0x16d7f, "Kirat Rai (16.0)"], [0x16ea0, 0x16edf, "Beria Erfe (17.0)"],
  [0x1cc00, 0x1cebf, "Legacy Computing Supplement (16.0)"], [0x1d400, 0x1d7ff, "math alphanumerics"],
  [0x1e4d0, 0x1e4ff, "Nag Mundari (15.0)"], [0x1e5d0, 0x1e5ff, "Ol Onal (16.0)"],
  [0x1e6c0, 0x1e6ff, "Tai Yo (17.0)"], [0x1f300, 0x1f5ff, "pictographs"], [0x1f600, 0x1f64f, "emoticons"],
  [0x1f900, 0x1f9ff, "supplemental symbols"], [0x1fbf0, 0x1fbff, "segmented digits"],
  [0x20000, 0x2a6df, "CJK Ext B"], [0x2ebf0, 0x2ee5f, "CJK Ext I (15.1)"],
  [0x31350, 0x323af, "CJK Ext H (15.0)"], [0x323b0, 0x3347f, "CJK Ext J (17.0)"],
  [0x40000, 0x4ffff, "unassigned plane 4"], [0xe0000, 0xe007f, "tags"], [0xf0000, 0xf00ff, "plane 15 private use"],
  [0x10fff0, 0x10ffff, "end of Unicode"],
];
// Every White_Space character and the usual impostors (U+FEFF, U+200B, U+180E, U+001C-U+001F).
const SPACES = [" ", "\t", "\n", "\r", "\v", "\f", "\u0085", "\u00a0", "\u1680", "\u2000", "\u2001",
  "\u2002", "\u2003", "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009", "\u200a", "\u2028",
  "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff", "\u200b", "\u180e", "\u001c", "\u001d", "\u001e", "\u001f"];
const PUNCT = [..."!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "\u00bf", "\u00ab", "\u00bb", "\u2014", "\u2026",
  "\u3001", "\u3002", "\u00b7", "\u2019", "\u201c", "\u201d"];
const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ll", "'x", "'", "''"];
const WORDS = ["the", "The", "THE", "a", "hello", "world", "it", "don", "we", "they", "I", "café", "naïve",
  "über", "Straße", "日本語", "данные", "γλώσσα", "عربى", "हिन्दी", "한국어", "e\u0301", "x", "ab", "Ünïcödé"];

function randomCodePoint() {
  const [a, b] = pick(BLOCKS);
  let c;
  do c = randInt(a, b); while (isSurrogate(c));
  return String.fromCodePoint(c);
}

function randomUnicode(n) {
  let s = "";
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.15) s += pick(SPACES.slice(0, 2)); // mostly plain spaces between "words"
    else if (r < 0.2) s += pick(SPACES);
    else if (r < 0.25) s += pick(PUNCT);
    else s += randomCodePoint();
  }
  return s;
}

function soup(n, parts) {
  let s = "";
  for (let i = 0; i < n; i++) s += pick(parts);
  return s;
}

// ---- 1. Shakespeare -----------------------------------------------------------------
const shakespeare = readFileSync(join(SHARED, "data", "tinyshakespeare.txt"), "utf8");
for (let i = 0; i < 150; i++) {
  const len = randInt(1, 600);
  const at = randInt(0, shakespeare.length - len);
  add("shakespeare slice", shakespeare.slice(at, at + len));
}
for (let i = 0; i < 3; i++) {
  const len = [20000, 60000, 150000][i];
  const at = randInt(0, shakespeare.length - len);
  add("shakespeare long document", shakespeare.slice(at, at + len));
}
add("shakespeare with CRLF", shakespeare.slice(5000, 9000).replace(/\n/g, "\r\n"));
add("shakespeare uppercase", shakespeare.slice(12000, 15000).toUpperCase());

// ---- 2. source code (this repository's own C and Python, at a fixed commit) ----------
// A fixed commit keeps the vectors the same when the script is run again later.
const SOURCE_COMMIT = "965ad4a56faaef55dd1f47c81d4cbb17a6462260";
const git = (...args) => execFileSync("git", ["-C", ROOT, ...args], { encoding: "utf8", maxBuffer: 1 << 26 });
const sources = git("ls-tree", "-r", "--name-only", SOURCE_COMMIT).split("\n")
  .filter((f) => /^(src|scripts|tests)\/.*\.(c|h|py|mjs)$/.test(f) && !f.startsWith("src/unicode_tables"))
  .map((f) => [f, git("show", `${SOURCE_COMMIT}:${f}`)]);
for (let i = 0; i < 120; i++) {
  const [name, text] = pick(sources);
  const len = randInt(1, 1500);
  const at = randInt(0, Math.max(0, text.length - len));
  add("source slice " + name, text.slice(at, at + len));
}
for (const name of ["src/tokenizer.c", "scripts/gen_unicode_tables.py", "src/gguf.c"])
  add("source file " + name, sources.find(([f]) => f === name)[1].slice(0, 30000));
for (let i = 0; i < 30; i++) {
  // synthetic code: identifiers, operators, tabs and spaces for indentation
  const toks = ["int", "x", "y_1", "foo_bar", "0x1F", "3.14", "==", "!=", "->", "++", "/*", "*/", "//",
    "{", "}", "(", ")", ";", "\n", "\n    ", "\n\t", "\n\t\t", "  ", " ", "#include", "<stdio.h>", "\"str\\n\"",
    "'c'", "def", "self.x", "return", "lambda", ":", "\r\n", "\t", "    # comment", "__init__", "x[i]"];
  add("synthetic code", soup(randInt(5, 200), toks));
}

// ---- 3. random Unicode ------------------------------------------------------------
for (let i = 0; i < 300; i++) add("random unicode", randomUnicode(randInt(1, 120)));
for (const [a, b, name] of BLOCKS) {
  // every block, densely, so that a class table of the wrong Unicode version fails
  let s = "";
  for (let k = 0; k < 64; k++) {
    let c;
    do c = randInt(a, b); while (isSurrogate(c));
    s += String.fromCodePoint(c);
    if (rand() < 0.2) s += " ";
  }
  add("block " + name, s);
}
for (let i = 0; i < 40; i++) add("random unicode long", randomUnicode(randInt(500, 3000)));

// ---- 4. whitespace and punctuation soups ---------------------------------------------
for (let i = 0; i < 150; i++)
  add("whitespace soup", soup(randInt(1, 40), [...SPACES, "a", "b", "1", "!", "é", "中", "\u0301"]));
for (let i = 0; i < 100; i++) add("punctuation soup", soup(randInt(1, 60), [...PUNCT, " ", "  ", "\n", "a", "7"]));
for (let i = 0; i < 100; i++)
  add("contraction soup", soup(randInt(1, 30), [...CONTRACTIONS, ...WORDS, " ", " ", "\n", "  ", "!", "1"]));
for (let i = 0; i < 60; i++)
  add("words and spaces", soup(randInt(1, 50), [...WORDS, ...SPACES, " ", " ", " ", ".", ","]));

// ---- 5. numbers ----------------------------------------------------------------------
const DIGITS = [..."0123456789", "\u0660", "\u06f5", "\u0967", "\uff11", "\u00b2", "\u2167", "\u2460", "\u3007",
  "\u{1d7ce}", "\u{10d40}", "\u{16d70}", "\u{1e5f1}", "\u{11bf0}"];
for (let i = 0; i < 60; i++) add("numbers", soup(randInt(1, 40), [...DIGITS, " ", ".", ",", "-", "e", "$"]));
add("long number", "1234567890".repeat(300));
add("year list", Array.from({ length: 300 }, () => String(randInt(1000, 2100))).join(", "));

// ---- 6. special-token text (encode_ordinary) ---------------------------------------
for (const t of ["<|endoftext|>", " <|endoftext|>", "a<|endoftext|>b", "<|endoftext|><|endoftext|>",
  "\n\n<|endoftext|>\n\n", "<|endoftext", "endoftext|>", "<|fim_prefix|>", "<|im_start|>user"])
  add("special text, encode_ordinary", t);

// ---- 7. long runs of one character ---------------------------------------------------
for (const [ch, n] of [["a", 100000], ["1", 100000], [" ", 5000], ["\n", 5000], ["é", 5000], ["中", 3000],
  ["🤖", 2000], ["!", 10000], ["ab", 20000], [" a", 10000], ["\u0301", 3000], ["\u3000", 3000],
  ["Z", 20000], ["x ", 5000], ["'s", 5000]])
  add(`run of ${JSON.stringify(ch)} x ${n}`, ch.repeat(n));

// ---- write ------------------------------------------------------------------------------
// JSON with the escapes of cases.jsonl: JSON.stringify escapes controls (< U+0020) already.
const jsonText = (s) => JSON.stringify(s).replace(/[\u007f\u0085\u2028\u2029]/g,
  (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));

const lines = [];
for (const c of cases) {
  const ids = Array.from(enc.encode_ordinary(c.text));
  // the reference must agree with itself: decode gives back the text
  const back = Buffer.from(enc.decode(Uint32Array.from(ids))).toString("utf8");
  if (back !== c.text) throw new Error("tiktoken does not round-trip a case from " + c.src);
  lines.push(`{"text":${jsonText(c.text)},"ids":[${ids.join(",")}],"src":${JSON.stringify(c.src)}}`);
}
const casesPath = join(ROOT, "tests", "data", "tokenizer_cases.jsonl");
writeFileSync(casesPath, lines.join("\n") + "\n");

const specialLines = [];
for (const text of ["<|endoftext|>", "a<|endoftext|>b", " <|endoftext|> ", "<|endoftext|><|endoftext|>",
  "x\n\n<|endoftext|>\n\ny", "<|endoftext", "<|endoftext|", "<<|endoftext|>>", "a  <|endoftext|>b",
  "hello world<|endoftext|>The", "<|endoftext|>" + shakespeare.slice(0, 300) + "<|endoftext|>",
  "it's<|endoftext|>'s", "\u3000<|endoftext|>\u3000x", "<|endoftext|>".repeat(5) + " end"]) {
  const ids = Array.from(enc.encode(text, "all"));
  specialLines.push(`{"text":${jsonText(text)},"ids":[${ids.join(",")}],"src":"encode(text, allowed_special=all)"}`);
}
writeFileSync(join(ROOT, "tests", "data", "tokenizer_special_cases.jsonl"), specialLines.join("\n") + "\n");

// ---- Unicode classes as tiktoken sees them -------------------------------------------
// A Tiktoken with the gpt2 ranks and a one-class pattern: encode_ordinary keeps only the
// text the pattern matches, so decoding the result gives exactly the matching characters.
const gpt2 = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.resolve("tiktoken"))),
  "encoders", "gpt2.json"), "utf8"));
function probe(pattern) {
  const t = new Tiktoken(gpt2.bpe_ranks, {}, pattern);
  const inClass = new Uint8Array(0x110000);
  for (let base = 0; base < 0x110000; base += 4096) {
    let s = "";
    for (let c = base; c < base + 4096; c++) if (!isSurrogate(c)) s += String.fromCodePoint(c);
    const kept = Buffer.from(t.decode(t.encode_ordinary(s))).toString("utf8");
    for (const ch of kept) inClass[ch.codePointAt(0)] = 1;
  }
  t.free();
  const ranges = [];
  for (let c = 0; c < 0x110000; c++) {
    if (!inClass[c]) continue;
    let e = c;
    while (e + 1 < 0x110000 && inClass[e + 1]) e++;
    ranges.push([c, e]);
    c = e;
  }
  return ranges;
}
const hex = (c) => c.toString(16).toUpperCase().padStart(4, "0");
const out = ["# Code points that tiktoken 1.0.22's regex (gpt2 encoding) puts in each class,",
  "# found by probing every code point: lines 'CLASS FIRST LAST' (hex, inclusive).",
  "# Generated by scripts/gen_tokenizer_cases.mjs; the surrogates D800-DFFF cannot be probed."];
const counts = {};
for (const [name, pattern] of [["L", "\\p{L}"], ["N", "\\p{N}"], ["S", "\\s"]]) {
  const ranges = probe(pattern);
  counts[name] = ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
  for (const [a, b] of ranges) out.push(`${name} ${hex(a)} ${hex(b)}`);
}
writeFileSync(join(ROOT, "tests", "data", "tiktoken_unicode_classes.txt"), out.join("\n") + "\n");
enc.free();
console.log(`${cases.length} cases -> ${casesPath}; classes L ${counts.L}, N ${counts.N}, \\s ${counts.S}`);
