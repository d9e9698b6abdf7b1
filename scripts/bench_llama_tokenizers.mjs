#!/usr/bin/env node
// Tokenizer speed on the Llama-family vocabularies: gpt against Hugging Face's Rust tokenizers
// (npm "tokenizers", napi), transformers.js (@lenml/tokenizers) and, where llama.cpp ships the
// vocabulary as GGUF, llama.cpp's llama-tokenize; one run, single-threaded, same 1 MB text.
//
//   GPT_REFS=$(scripts/fetch_refs.sh) node scripts/bench_llama_tokenizers.mjs \
//       [--gpt build/gpt] [--llama-tokenize PATH --llama-models DIR] [--runs 3]
//
// The text: the first 700,000 bytes of shared/data/tinyshakespeare.txt, then this
// repository's src/**/*.c up to 1,000,000 bytes in all. gpt's time is that of its encode
// call (`gpt tokenize --bench`); the JS references time their encode call; llama-tokenize
// has no such switch, so its time is the process's wall time on the text minus its wall
// time on an empty file (the vocabulary load). Best of --runs. Ids are compared with the
// Rust tokenizers' and a row says whether they agree. Special tokens' text (the sources
// hold "<|eot_id|>" and "<s>") is parsed as the tokens by all, as the JS encoders do by default.
import { createRequire } from "node:module";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, readdirSync, statSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SHARED = process.env.GPT_SHARED || join(ROOT, "..", "shared");
const REFS = process.env.GPT_REFS || join(homedir(), ".cache", "gpt-refs");
const args = process.argv.slice(2);
const opt = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const GPT = opt("--gpt", join(ROOT, "build", "gpt"));
const LLAMA_TOK = opt("--llama-tokenize", null);
const LLAMA_MODELS = opt("--llama-models", null);
const RUNS = Number(opt("--runs", "3"));
process.env.TOKENIZERS_PARALLELISM = "false";  // one thread, as gpt

const require = createRequire(join(REFS, "package.json"));
const { Tokenizer } = require("tokenizers");
const { TokenizerLoader } = require("@lenml/tokenizers");

function sources(dir, out) {
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (f.endsWith(".c")) out.push(readFileSync(p));
  }
  return out;
}
const prose = readFileSync(join(SHARED, "data", "tinyshakespeare.txt")).subarray(0, 700000);
const text = Buffer.concat([prose, ...sources(join(ROOT, "src"), [])]).subarray(0, 1000000).toString("utf8");
const bytes = Buffer.byteLength(text);
const tmp = mkdtempSync(join(tmpdir(), "gpt-tokbench-"));
const textFile = join(tmp, "text.txt"), emptyFile = join(tmp, "empty.txt");
writeFileSync(textFile, text);
writeFileSync(emptyFile, "");

const best = (f) => {
  let b = Infinity, out;
  for (let r = 0; r < RUNS; r++) {
    const t = f();
    if (t.ms < b) (b = t.ms), (out = t);
  }
  return out;
};
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

function gpt(tokenizer) {
  return best(() => {
    const r = spawnSync(GPT, ["tokenize", "--bench", "--special", "--tokenizer", tokenizer], { input: readFileSync(textFile), maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`gpt tokenize: ${r.stderr}`);
    const m = /in ([0-9.]+) ms/.exec(r.stderr.toString());
    return { ms: Number(m[1]), ids: r.stdout.toString().trim().split(/\s+/).map(Number) };
  });
}
function rust(json) {
  const tk = Tokenizer.fromFile(json);
  return async () => {
    let b = Infinity, ids;
    for (let r = 0; r < RUNS; r++) {
      const t0 = process.hrtime.bigint();
      const e = await tk.encode(text, null, { addSpecialTokens: false });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (ms < b) (b = ms), (ids = e.getIds());
    }
    return { ms: b, ids };
  };
}
function tjs(json) {
  const tk = TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(readFileSync(json, "utf8")),
    tokenizerConfig: JSON.parse(readFileSync(join(dirname(json), "tokenizer_config.json"), "utf8")),
  });
  return best(() => {
    const t0 = process.hrtime.bigint();
    const ids = tk.encode(text, { add_special_tokens: false });
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, ids };
  });
}
function llamaTokenize(gguf) {
  const run = (f) => {
    const t0 = process.hrtime.bigint();
    const out = execFileSync(LLAMA_TOK, ["-m", gguf, "--ids", "--no-bos", "--no-escape", "--log-disable", "-f", f],
      { maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "ignore"] });
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, out };
  };
  const load = best(() => run(emptyFile)).ms;
  const r = best(() => run(textFile));
  const ids = JSON.parse(r.out.toString().trim().split("\n").pop());
  return { ms: r.ms - load, ids };
}

const L = join(REFS, "node_modules", "@lenml");
const ROWS = [
  { name: "Llama 3 (byte-level, llama-bpe)", json: join(L, "tokenizer-llama3", "models", "tokenizer.json") },
  { name: "Qwen3 (byte-level, qwen2 + NFC)", json: join(L, "tokenizer-qwen3", "models", "tokenizer.json") },
  { name: "Mistral-style SentencePiece tokenizer.json", json: join(L, "tokenizer-llama2", "models", "tokenizer.json") },
  { name: "Llama 2 SentencePiece (llama2.c tokenizer.bin; llama.cpp ggml-vocab-llama-spm.gguf)",
    json: join(REFS, "llama2-hf", "tokenizer.json"), gpt: join(ROOT, "tests", "data", "tok", "llama2c_tokenizer.bin"),
    gguf: "ggml-vocab-llama-spm.gguf" },
];

const mbs = (ms) => (bytes / 1e6 / (ms / 1e3)).toFixed(1);
console.log(`${bytes} bytes (tinyshakespeare + src/*.c), best of ${RUNS}, MB/s of the encode call\n`);
console.log("| vocabulary | gpt | HF tokenizers (Rust) | transformers.js | llama-tokenize | ids = Rust's |");
console.log("| --- | --- | --- | --- | --- | --- |");
for (const row of ROWS) {
  if (!existsSync(row.json)) {
    console.log(`| ${row.name} | missing ${row.json} (run scripts/fetch_refs.sh; llama2-hf: scripts/gen_llama_tokenizer_cases.mjs) |`);
    continue;
  }
  const R = await rust(row.json)();
  const G = gpt(row.gpt || row.json);
  const J = tjs(row.json);
  let C = null;
  if (LLAMA_TOK && LLAMA_MODELS && row.gguf && existsSync(join(LLAMA_MODELS, row.gguf))) C = llamaTokenize(join(LLAMA_MODELS, row.gguf));
  const agree = [same(G.ids, R.ids) ? "gpt yes" : "gpt NO", same(J.ids, R.ids) ? "tjs yes" : "tjs NO"];
  if (C) agree.push(same(C.ids, R.ids) ? "llama.cpp yes" : "llama.cpp NO");
  console.log(`| ${row.name} | ${mbs(G.ms)} | ${mbs(R.ms)} | ${mbs(J.ms)} | ${C ? mbs(C.ms) : "-"} | ${agree.join(", ")} |`);
}
if (process.env.KEEP) console.log(textFile); else rmSync(tmp, { recursive: true });
