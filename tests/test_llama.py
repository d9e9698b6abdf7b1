#!/usr/bin/python3
"""test_llama.py: gpt's llama forward pass against an independent float64 PyTorch
reference (scripts/llama_reference.py, written from Hugging Face's semantics), on
random checkpoints in llama2.c's three formats, and through `gpt convert` to GGUF.

  test_llama.py GPT_BIN WORKDIR

For each case: scripts/llama_reference.py makes random weights and the reference
logits of fixed ids; its llama2.c writer stores Q/K rows in Meta's adjacent-pair
layout (run.c reads these files: its check-runc mode). gpt runs `gpt logits -m
FILE.bin -z tokenizer.bin --ids ... -o OUT` and every position's logits must match
the reference to 1e-4 of the logits' scale (F32 arithmetic against float64). Covered:
grouped-query attention (n_head 6 / kv 2, 8 / 2), multi-head (kv = heads), a
separate classifier (untied), versions 0 (run.c), 1 (fp32) and 2 (int8 groups,
against the reference on the dequantized weights), and the GGUF that `gpt convert`
writes of a version 0 file (F32: the same logits; Q8_0: within Q8_0's error); and
Hugging Face directories of llama, mistral, qwen2 and qwen3 (F32, BF16) with the
GGUF `gpt convert` makes of each.
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
import llama_reference as lr  # noqa: E402

GPT, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)
failures = 0


def check(ok, msg):
    global failures
    print(("ok   " if ok else "FAIL ") + msg)
    if not ok:
        failures += 1


def write_tokenizer_bin(path, vocab):
    """A llama2.c tokenizer.bin of vocab pieces (<unk>, <s>, </s>, then t3, t4, ...):
    the logits test needs only its size."""
    pieces = [b"<unk>", b"<s>", b"</s>"] + [b"t%d" % i for i in range(3, vocab)]
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max(len(p) for p in pieces)))
        for i, p in enumerate(pieces):
            f.write(struct.pack("<fi", -float(i), len(p)) + p)


def write_hf_tokenizer(d, V):
    """tokenizer.json (SentencePiece-style BPE: <unk>, <s>, </s>, then V - 3 pieces, no
    merges) and tokenizer_config.json: the logits tests need only the vocabulary's size."""
    pieces = ["<unk>", "<s>", "</s>"] + ["\u2581t%d" % i for i in range(3, V)]
    tj = {"version": "1.0",
          "added_tokens": [{"id": i, "content": p, "single_word": False, "lstrip": False, "rstrip": False,
                            "normalized": False, "special": True} for i, p in enumerate(pieces[:3])],
          "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                         {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
          "pre_tokenizer": None, "post_processor": None,
          "decoder": {"type": "Sequence", "decoders": [
              {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
              {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
          "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                    "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                    "vocab": {p: i for i, p in enumerate(pieces)}, "merges": []}}
    with open(d + "/tokenizer.json", "w") as f:
        json.dump(tj, f)
    with open(d + "/tokenizer_config.json", "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True}, f)


def gpt_logits(model, ids, out, tokenizer=None):
    cmd = [GPT, "logits", "-m", model, "--ids", ",".join(map(str, ids)), "-o", out, "-t", "2"]
    if tokenizer:
        cmd += ["-z", tokenizer]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return np.fromfile(out, dtype="<f4").reshape(len(ids), -1).astype(np.float64), ""


def compare(name, got, want, tol):
    if got is None:
        check(False, name)
        return
    scale = max(np.abs(want).max(), 1.0)
    err = np.abs(got - want).max() / scale
    same_top = (got.argmax(-1) == want.argmax(-1)).mean()
    check(got.shape == want.shape and err < tol,
          "%s: max |gpt - reference| / max |reference| = %.2e (< %.0e), top-1 agreement %.0f%%" %
          (name, err, tol, 100 * same_top))


CASES = [("tiny", 0), ("gqa", 0), ("untied", 0), ("mha", 0), ("gqa", 1), ("untied", 1), ("gqa", 2), ("untied", 2)]
for shape, version in CASES:
    d = os.path.join(WORK, "%s-v%d" % (shape, version))
    os.makedirs(d, exist_ok=True)
    binp = os.path.join(d, "model.bin")
    res = lr.make("llama", shape, 7, "f32", d, llama2c=binp, version=version)
    s = lr.resolve_shape(shape, "llama")
    tok = os.path.join(d, "tokenizer.bin")
    write_tokenizer_bin(tok, s["vocab"])
    want = res["logits_llama2c"] if version == 2 else res["logits"]
    got, why = gpt_logits(binp, res["ids"], os.path.join(d, "gpt.f32"), tok)
    if got is None:
        print("  " + why)
    compare("llama2.c v%d %s (heads %d, kv heads %d, %s)" % (version, shape, s["n_head"], s["n_head_kv"],
                                                             "tied" if s["tied"] else "untied"), got, want, 1e-4)
    if version == 0 and shape in ("gqa", "untied"):
        for t, tol in (("f32", 1e-4), ("q8_0", 1e-1)):
            g = os.path.join(d, "model-%s.gguf" % t)
            r = subprocess.run([GPT, "convert", binp, g, "-z", tok, "--type", t], capture_output=True, text=True)
            check(r.returncode == 0, "gpt convert %s --type %s%s" % (shape, t, r.returncode and ": " + r.stderr[-200:] or ""))
            if r.returncode == 0:
                got, why = gpt_logits(g, res["ids"], os.path.join(d, "gpt-%s.f32" % t))
                if got is None:
                    print("  " + why)
                compare("GGUF %s of llama2.c %s" % (t, shape), got, want, tol)

# Hugging Face directories: llama (Q/K rows permuted to adjacent pairs on the way in; with
# Llama 3.1's rope_scaling, which becomes rope_freqs.weight),
# mistral, qwen2 (q/k/v biases, base 1e6), qwen3 (per-head q/k RMSNorm; head_dim unlike
# C / NH in "headdim"), F32, F16 and BF16, single files and shards (model.safetensors.index.json),
# and their `gpt convert` GGUF.
HF_CASES = [("llama", "gqa", "f32", 1), ("llama", "untied", "bf16", 2), ("llama", "rope_scaled", "f32", 1),
            ("mistral", "gqa", "f32", 1), ("qwen2", "gqa", "f16", 3), ("qwen2", "untied", "bf16", 1),
            ("qwen3", "tiny", "f32", 1), ("qwen3", "headdim", "bf16", 2)]
for arch, shape, dt, shards in HF_CASES:
    d = os.path.join(WORK, "hf-%s-%s-%s-%d" % (arch, shape, dt, shards))
    res = lr.make(arch, shape, 11, dt, d, shards=shards)
    s = lr.resolve_shape(shape, arch)
    write_hf_tokenizer(d, s["vocab"])
    label = "HF %s %s %s%s (heads %d, kv %d, hd %d)" % (arch, shape, dt, " in %d shards" % shards if shards > 1 else "",
                                                     s["n_head"], s["n_head_kv"], s["head_dim"])
    got, why = gpt_logits(d, res["ids"], os.path.join(d, "gpt.f32"))
    if got is None:
        print("  " + why)
    compare(label, got, res["logits"], 1e-4)
    g = os.path.join(d, "model.gguf")
    r = subprocess.run([GPT, "convert", d, g], capture_output=True, text=True)
    check(r.returncode == 0, "gpt convert %s%s" % (label, r.returncode and ": " + r.stderr[-200:] or ""))
    if r.returncode == 0:
        got, why = gpt_logits(g, res["ids"], os.path.join(d, "gpt-gguf.f32"))
        if got is None:
            print("  " + why)
        compare("GGUF of " + label, got, res["logits"], 1e-4)

# A shard index that names a file outside the directory: one clear line, exit status 1.
d = os.path.join(WORK, "hf-qwen2-gqa-f16-3")
bad = os.path.join(WORK, "hf-bad-index")
os.makedirs(bad, exist_ok=True)
for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
    with open(os.path.join(d, f), "rb") as src, open(os.path.join(bad, f), "wb") as dst:
        dst.write(src.read())
with open(os.path.join(bad, "model.safetensors.index.json"), "w") as f:
    json.dump({"weight_map": {"model.norm.weight": "../model.safetensors"}}, f)
r = subprocess.run([GPT, "logits", "-m", bad, "--ids", "1"], capture_output=True, text=True)
check(r.returncode == 1 and "weight_map['model.norm.weight'] is not a file name in the directory" in r.stderr
      and r.stderr.count("\n") == 1, "a shard outside the directory: %r" % r.stderr.strip()[-200:])

print("%d failure(s)" % failures)
sys.exit(1 if failures else 0)
