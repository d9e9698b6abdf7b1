#!/usr/bin/env node
// Tokenizer speed: gpt against tiktoken's npm build (1.0.22, WASM), in one run,
// on the same few MB of mixed text, single-threaded.
//
//   cd scripts && npm install && node bench_tokenizer.mjs [--gpt ../build/gpt] [--runs 3]
//
// The text (about 3 MB, seeded): all of shared/data/tinyshakespeare.txt (English prose
// and verse), this repository's C and Python sources at a fixed commit (code), and
// seeded random "words" from many scripts (Latin, Cyrillic, Greek, CJK, Arabic,
// Devanagari, Hangul, emoji) in Zipf-distributed sentences with punctuation and numbers.
// Each side times its encode call alone, wall-clock and CPU time: gpt prints both with
// `gpt tokenize --bench` (so process start, file reading and printing are not counted);
// for tiktoken the script times encode_ordinary() around the call. Best of --runs runs
// each. The ids of both are compared, so the speed is that of a tokenizer giving
// tiktoken's answer.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { get_encoding } from "tiktoken";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SHARED = process.env.GPT_SHARED || join(ROOT, "..", "shared");
const args = process.argv.slice(2);
const opt = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const GPT = opt("--gpt", join(ROOT, "build", "gpt"));
const RUNS = Number(opt("--runs", "3"));

// ---- the text ------------------------------------------------------------------------
let seed = 7;
function rand() {  // mulberry32
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

const parts = [readFileSync(join(SHARED, "data", "tinyshakespeare.txt"), "utf8")];
const SOURCE_COMMIT = "965ad4a56faaef55dd1f47c81d4cbb17a6462260";
const git = (...a) => execFileSync("git", ["-C", ROOT, ...a], { encoding: "utf8", maxBuffer: 1 << 26 });
for (const f of git("ls-tree", "-r", "--name-only", SOURCE_COMMIT).split("\n"))
  if (/^(src|scripts|tests|include)\/.*\.(c|h|py)$/.test(f) && !f.startsWith("src/unicode_tables") && !f.startsWith("src/tokenizer/unicode_tables"))
    parts.push(git("show", `${SOURCE_COMMIT}:${f}`));
// Multilingual text: for each of ten scripts a seeded lexicon of 5,000 random "words" (1-9
// letters), drawn with Zipf's law (the k-th most common word has frequency ~ 1/k) as in
// natural language, in sentences with punctuation and numbers.
const SCRIPTS = [[0x61, 0x7a], [0xe0, 0xff], [0x430, 0x44f], [0x3b1, 0x3c9], [0x4e00, 0x9fff], [0x3041, 0x3096],
  [0x627, 0x64a], [0x905, 0x939], [0xac00, 0xd7a3], [0x1f600, 0x1f64f]];
const LEXICON = 5000;
const lexicons = SCRIPTS.map(([a, b]) => Array.from({ length: LEXICON }, () => {
  let w = "";
  for (let k = randInt(1, 9); k > 0; k--) w += String.fromCodePoint(randInt(a, b));
  return w;
}));
const zipf = [];  // cumulative 1/k
for (let k = 1, sum = 0; k <= LEXICON; k++) zipf.push((sum += 1 / k));
function zipfWord(lex) {
  const x = rand() * zipf[LEXICON - 1];
  let lo = 0, hi = LEXICON - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (zipf[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lex[lo];
}
let words = "";
while (words.length < 900000) {
  const lex = lexicons[randInt(0, SCRIPTS.length - 1)];
  for (let n = randInt(3, 20); n > 0; n--) {
    words += zipfWord(lex);
    const r = rand();
    words += r < 0.8 ? " " : r < 0.9 ? ", " : r < 0.95 ? " " + randInt(0, 99999) + " " : "; ";
  }
  words += rand() < 0.8 ? ". " : ".\n";
}
parts.push(words);
const text = parts.join("\n");
const bytes = Buffer.byteLength(text, "utf8");

// ---- tiktoken --------------------------------------------------------------------------
// Wall time, and CPU time of the process (the WASM encode runs on this thread; CPU time is
// the fairer measure when other processes compete for the cores).
const enc = get_encoding("gpt2");
enc.encode_ordinary("warm up the WASM module");
const tk = { wall: Infinity, cpu: Infinity };
let tkIds;
for (let r = 0; r < RUNS; r++) {
  const c0 = process.cpuUsage(), t0 = process.hrtime.bigint();
  tkIds = enc.encode_ordinary(text);
  const wall = Number(process.hrtime.bigint() - t0) / 1e6, c = process.cpuUsage(c0);
  tk.wall = Math.min(tk.wall, wall);
  tk.cpu = Math.min(tk.cpu, (c.user + c.system) / 1e3);
}
enc.free();

// ---- gpt ------------------------------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), "bench-tok-"));
const file = join(dir, "text.txt");
writeFileSync(file, text);
const gp = { wall: Infinity, cpu: Infinity };
let gptIds;
for (let r = 0; r < RUNS; r++) {
  const p = spawnSync(GPT, ["tokenize", "--bench", "--vocab", join(ROOT, "tokenizer/gpt2/encoder.json"),
    "--merges", join(ROOT, "tokenizer/gpt2/vocab.bpe")], { input: readFileSync(file), maxBuffer: 1 << 28 });
  if (p.status !== 0) throw new Error(`${GPT} tokenize failed: ${p.error || p.stderr}`);
  const m = /in ([0-9.]+) ms.*cpu ([0-9.]+) ms/.exec(p.stderr.toString());
  gp.wall = Math.min(gp.wall, Number(m[1]));
  gp.cpu = Math.min(gp.cpu, Number(m[2]));
  gptIds = p.stdout.toString().trim().split(" ").map(Number);
}
rmSync(dir, { recursive: true });

const same = gptIds.length === tkIds.length && gptIds.every((v, i) => v === tkIds[i]);
const mbs = (ms) => (bytes / 1e6 / (ms / 1e3)).toFixed(2).padStart(7);
const row = (name, x) => console.log(`${name}  wall ${x.wall.toFixed(1).padStart(7)} ms ${mbs(x.wall)} MB/s   cpu ${x.cpu.toFixed(1).padStart(7)} ms ${mbs(x.cpu)} MB/s`);
console.log(`text: ${(bytes / 1e6).toFixed(2)} MB (tinyshakespeare, C/Python sources, Zipf-distributed multilingual words), ${tkIds.length} tokens; best of ${RUNS} runs`);
row("tiktoken 1.0.22 (npm, WASM) encode_ordinary", tk);
row("gpt tokenize, encode call (1 thread)      ", gp);
console.log(`speed-up: ${(tk.wall / gp.wall).toFixed(1)}x wall, ${(tk.cpu / gp.cpu).toFixed(1)}x cpu; ids identical: ${same ? "yes" : "NO"}`);
process.exit(same ? 0 : 1);
