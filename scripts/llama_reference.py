#!/usr/bin/python3
"""llama_reference.py: Llama-family models (llama, qwen2, qwen3, mistral) in plain
float64 PyTorch, and random checkpoints in Hugging Face and llama2.c formats.

  llama_reference.py make --arch A --shape S [--seed N] [--dtype f32|f16|bf16]
                          --out DIR [--shards M] [--ids-len T]
                          [--llama2c PATH --version 0|1|2]
  llama_reference.py logits --dir DIR --ids "1,2,3" --out FILE.npy
  llama_reference.py selftest           (forward vs a second formulation, file round trips)
  llama_reference.py check-runc [--run BIN]  (llama2.c's run.c / runq.c read our files)

The forward pass (reference_logits) is written from the papers and from Hugging
Face transformers' semantics (LlamaForCausalLM, Qwen2ForCausalLM,
Qwen3ForCausalLM, MistralForCausalLM), never from gpt:
    x = embed_tokens[ids]
    per layer:  h = RMSNorm(x) * input_layernorm        RMSNorm(x) = x * rsqrt(mean(x^2) + eps)
                q, k, v = h Wq^T (+bq), h Wk^T (+bk), h Wv^T (+bv)     (biases: qwen2)
                qwen3: q, k = RMSNorm over each head's head_dim, * q_norm / k_norm
                q, k = RoPE in HF's rotate_half layout:  q*cos + rotate_half(q)*sin,
                       rotate_half(x) = cat(-x[hd/2:], x[:hd/2]), cos/sin of pos*inv_freq
                       repeated twice, inv_freq[j] = theta^(-2j/hd) (j < hd/2), with
                       Llama 3.1's rope_scaling ("rope_type": "llama3") exactly as
                       transformers' _compute_llama3_parameters
                grouped-query attention: query head h uses kv head h // (n_head/n_head_kv),
                       scores q.k / sqrt(head_dim), causal mask, softmax
                x = x + o_proj(attn)
                x = x + down(silu(gate(RMSNorm(x) * post_attention_layernorm)) * up(...))
    logits = RMSNorm(x) * norm  @ (lm_head, or embed_tokens when tied)^T
Everything is computed in float64 (inv_freq too, where transformers uses
float32: a ~1e-7 relative difference in the angles).  Weights are float32
tensors, normally already rounded to the file's dtype (make_checkpoint does
that), so BF16/F16 files are compared against what the file holds.

Shapes (resolve_shape): a name of SHAPES or a dict with keys vocab, n_embd,
n_layer, n_head, n_head_kv, head_dim (default n_embd/n_head; may differ, as in
Qwen3), ffn, tied, and optionally rope_theta, rms_eps (defaults per arch:
llama/mistral 10000 and 1e-5, qwen2/qwen3 1e6 and 1e-6), rope_scaling,
max_pos (128), bos_id (1), eos_id (2).

Hugging Face tensor names: model.embed_tokens.weight,
model.layers.N.self_attn.{q,k,v,o}_proj.weight (+ {q,k,v}_proj.bias for qwen2),
model.layers.N.self_attn.{q,k}_norm.weight (qwen3, shape [head_dim]),
model.layers.N.mlp.{gate,up,down}_proj.weight,
model.layers.N.{input,post_attention}_layernorm.weight, model.norm.weight,
lm_head.weight (untied only).  A matrix y = W x is stored (out, in).

llama2.c files (write_llama2c), read by karpathy/llama2.c's run.c (v0) and
runq.c (v2); formats as its export.py writes them:
  v0 (legacy_export): 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
     vocab_size, seq_len), vocab_size negative when the classifier is not
     shared; then fp32: token_embedding_table, rms_att[L], wq[L], wk[L],
     wv[L], wo[L], rms_ffn[L], w1[L], w2[L], w3[L], rms_final,
     freq_cis_real [seq_len, hs/2], freq_cis_imag [seq_len, hs/2] (cos/sin of
     pos * theta^(-2j/hs); run.c skips them), then wcls if not shared.
  v1 (version1_export): uint32 magic 0x616b3432 ("ak42"), int32 version 1,
     the 7 int32 (vocab_size positive), uint8 shared_classifier, zeros to 256
     bytes; then fp32: rms_att[L], rms_ffn[L], rms_final, token_embedding_table,
     wq[L], wk[L], wv[L], wo[L], w1[L], w2[L], w3[L], wcls if not shared.
  v2 (version2_export): magic, int32 version 2, the 7 int32, uint8
     shared_classifier, int32 group_size (at byte 37), zeros to 256 bytes; fp32
     rms_att[L], rms_ffn[L], rms_final; then for token_embedding_table, wq[L],
     wk[L], wv[L], wo[L], w1[L], w2[L], w3[L] (each layer's matrix on its own)
     and wcls if not shared: int8 q[numel] then fp32 scale[numel/GS], groups of
     GS consecutive elements of the row-major (out, in) matrix, scale =
     max|w|/127, q = round(w/scale) (half to even, torch.round).  GS starts at
     64 and halves while dim % GS != 0 (export.py); runq.c also quantizes the
     ffn activation in groups, so hidden_dim must be a multiple of GS too.
  Names: w1 = gate_proj, w2 = down_proj, w3 = up_proj, rms_att =
  input_layernorm, rms_ffn = post_attention_layernorm, rms_final = model.norm,
  wcls = lm_head.  run.c hard-codes rms eps 1e-5, RoPE theta 10000, BOS id 1,
  head_size = dim / n_heads, and has no q/k/v biases, q/k norms or rope
  scaling: write_llama2c refuses shapes it cannot represent.

THE Q/K PERMUTATION.  Meta's original Llama checkpoints (and llama2.c, whose
model.py and run.c follow them) rotate ADJACENT pairs: within a head, element
(2j, 2j+1) is the complex number rotated by pos * inv_freq[j] (run.c:
vec[i], vec[i+1] with freq = 10000^(-(i % hs)/hs)).  Hugging Face's layout,
made by transformers' convert_llama_weights_to_hf.py, permutes the rows of
q_proj and k_proj so that rotate_half pairs element j with element j + hd/2.
With hd = head_dim, n = n_head for wq and n_head_kv for wk, and C = n_embd:
    W_meta[h*hd + 2*j + c, :] = W_hf[h*hd + c*hd/2 + j, :]     j < hd/2, c in {0, 1}
    HF -> llama2.c:  W_meta = W_hf.view(n, 2, hd//2, C).transpose(1, 2).reshape(n*hd, C)
                     (llama2.c export.py's permute_reverse)
    llama2.c -> HF:  W_hf = W_meta.view(n, hd//2, 2, C).transpose(1, 2).reshape(n*hd, C)
                     (transformers' permute in convert_llama_weights_to_hf.py)
Then (q_meta[2j], q_meta[2j+1]) = (q_hf[j], q_hf[j+hd/2]) and run.c's pair
rotation is HF's rotate_half rotation element for element; q.k is unchanged
because q and k get the same permutation.  wv, wo, the norms and the MLP are
not permuted.  (llama2.c's own load_hf_model permutes wk with n_heads and dim
and then sets n_kv_heads = n_heads, which is only right without GQA; the
writer here uses n_head_kv.)  The same per-head permutation applies to a
q/k bias or a qwen3 q/k_norm weight, were a format to carry them.
selftest proves this: its second forward computes RoPE by complex
multiplication on adjacent pairs of the permuted weights, and runs on the
weights read back from the llama2.c files.

From Python:
    sys.path.insert(0, "scripts"); import llama_reference as lr
    shape = lr.resolve_shape("tiny", "qwen3")
    w = lr.make_checkpoint("qwen3", shape, seed=1, dtype="bf16")
    lr.write_hf_dir(d, "qwen3", shape, w, "bf16", shards=2)
    logits = lr.reference_logits("qwen3", shape, w, ids)      # float64 numpy [T, V]
"""
import argparse
import json
import math
import os
import re
import struct
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))

ARCHS = ("llama", "qwen2", "qwen3", "mistral")
ARCH_DEFAULTS = {
    "llama": dict(rope_theta=10000.0, rms_eps=1e-5),
    "mistral": dict(rope_theta=10000.0, rms_eps=1e-5),
    "qwen2": dict(rope_theta=1000000.0, rms_eps=1e-6),
    "qwen3": dict(rope_theta=1000000.0, rms_eps=1e-6),
}
HF_CLASS = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM",
            "qwen3": "Qwen3ForCausalLM", "mistral": "MistralForCausalLM"}
TRANSFORMERS_VERSION = "4.51.3"

SHAPES = {
    # vocab odd, n_embd not a multiple of 32
    "tiny": dict(vocab=67, n_embd=48, n_layer=2, n_head=6, n_head_kv=2, head_dim=8, ffn=128, tied=True),
    "gqa": dict(vocab=256, n_embd=64, n_layer=3, n_head=8, n_head_kv=2, head_dim=8, ffn=192, tied=True),
    # n_head * head_dim = 96 != n_embd = 64 (as Qwen3 does; meant for qwen3 and llama)
    "headdim": dict(vocab=96, n_embd=64, n_layer=2, n_head=4, n_head_kv=2, head_dim=24, ffn=128, tied=True),
    "untied": dict(vocab=100, n_embd=32, n_layer=2, n_head=4, n_head_kv=2, head_dim=8, ffn=96, tied=False),
    "mha": dict(vocab=64, n_embd=48, n_layer=2, n_head=4, n_head_kv=4, head_dim=12, ffn=128, tied=True),
    # Llama 3.1-style scaling with a small original context, so that it changes
    # the angles visibly within ~20 positions: head_dim 16 and theta 5e5 give
    # wavelengths 6.3 (kept: < 64/4), 32 (smoothly interpolated: between 16 and
    # 64) and 167.. (divided by 8: > 64)
    "rope_scaled": dict(vocab=128, n_embd=64, n_layer=2, n_head=4, n_head_kv=2, head_dim=16, ffn=128,
                        tied=True, rope_theta=500000.0, max_pos=512,
                        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
}
DTYPES = {"f32": "F32", "f16": "F16", "bf16": "BF16"}
TORCH_DTYPE_NAME = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}
LLAMA2C_MAGIC = 0x616B3432
DEFAULT_IDS_LEN = 20


def _dtype_key(dtype):
    d = str(dtype).lower().replace("torch.", "")
    d = {"float32": "f32", "fp32": "f32", "float16": "f16", "fp16": "f16", "half": "f16",
         "bfloat16": "bf16"}.get(d, d)
    if d not in DTYPES:
        raise ValueError("dtype %r: expected f32, f16 or bf16" % (dtype,))
    return d


def resolve_shape(shape, arch="llama"):
    """A complete shape dict from a SHAPES name or a (partial) dict."""
    if arch not in ARCHS:
        raise ValueError("arch %r: expected one of %s" % (arch, ", ".join(ARCHS)))
    if isinstance(shape, str):
        if shape not in SHAPES:
            raise ValueError("shape %r: expected one of %s" % (shape, ", ".join(SHAPES)))
        shape = SHAPES[shape]
    s = dict(ARCH_DEFAULTS[arch])
    s.update(dict(max_pos=128, bos_id=1, eos_id=2, rope_scaling=None, tied=True))
    s.update({k: v for k, v in shape.items() if v is not None or k == "rope_scaling"})
    if s.get("head_dim") is None:
        s["head_dim"] = s["n_embd"] // s["n_head"]
    for k in ("vocab", "n_embd", "n_layer", "n_head", "n_head_kv", "head_dim", "ffn"):
        if not isinstance(s.get(k), int) or s[k] <= 0:
            raise ValueError("shape: %s must be a positive int, got %r" % (k, s.get(k)))
    if s["n_head"] % s["n_head_kv"]:
        raise ValueError("shape: n_head %d is not a multiple of n_head_kv %d" % (s["n_head"], s["n_head_kv"]))
    if s["head_dim"] % 2:
        raise ValueError("shape: head_dim %d is odd" % s["head_dim"])
    rs = s["rope_scaling"]
    if rs is not None:
        if rs.get("rope_type", rs.get("type")) != "llama3":
            raise ValueError("rope_scaling: only rope_type llama3 is implemented, got %r" % (rs,))
        if arch == "mistral":
            raise ValueError("rope_scaling: not for mistral")
    s["rope_theta"] = float(s["rope_theta"])
    s["tied"] = bool(s["tied"])
    return s


def hf_names(arch, s):
    """The tensor names of an HF checkpoint, in model order."""
    names = ["model.embed_tokens.weight"]
    for i in range(s["n_layer"]):
        p = "model.layers.%d." % i
        names.append(p + "input_layernorm.weight")
        for m in "qkvo":
            names.append(p + "self_attn.%s_proj.weight" % m)
            if arch == "qwen2" and m != "o":
                names.append(p + "self_attn.%s_proj.bias" % m)
        if arch == "qwen3":
            names += [p + "self_attn.q_norm.weight", p + "self_attn.k_norm.weight"]
        names.append(p + "post_attention_layernorm.weight")
        names += [p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight", p + "mlp.down_proj.weight"]
    names.append("model.norm.weight")
    if not s["tied"]:
        names.append("lm_head.weight")
    return names


def round_to(t, dtype):
    """float32 tensor holding t's values rounded to dtype (round to nearest even)."""
    d = _dtype_key(dtype)
    t = t.detach().to(torch.float32)
    if d == "f16":
        return t.to(torch.float16).to(torch.float32)
    if d == "bf16":
        return t.to(torch.bfloat16).to(torch.float32)
    return t.clone()


# ---- random weights -----------------------------------------------------------------

def make_checkpoint(arch, shape, seed=1, dtype="f32"):
    """Random weights {HF name: float32 tensor}, rounded to dtype.

    Scales: the RMSNorm inputs are renormalized, so what matters is each
    matrix's gain on a unit-RMS input.  q/k std 1.5/sqrt(C) gives q.k/sqrt(hd)
    a spread of ~2 (attention clearly non-uniform; qwen3's q/k norms reset it to
    ~1 per head); v std 1/sqrt(C), o std 1/sqrt(n_head*hd); gate/up
    1.5/sqrt(C), down 1/sqrt(ffn); embeddings and lm_head std 3/sqrt(C) give
    logits of a few units (max |logit| ~ 5-15); every norm weight is 1 + 0.2 N(0,1);
    qwen2's q/k/v biases N(0, 0.5^2)."""
    s = resolve_shape(shape, arch)
    C, V, F = s["n_embd"], s["vocab"], s["ffn"]
    nh, nkv, hd = s["n_head"], s["n_head_kv"], s["head_dim"]
    g = torch.Generator().manual_seed(seed)

    def randn(*size, std=1.0, mean=0.0):
        return torch.randn(*size, generator=g, dtype=torch.float32) * std + mean

    rows = {"q": nh * hd, "k": nkv * hd, "v": nkv * hd}
    w = {}
    for name in hf_names(arch, s):
        if name == "model.embed_tokens.weight" or name == "lm_head.weight":
            t = randn(V, C, std=3 / math.sqrt(C))
        elif name.endswith("norm.weight"):  # input/post_attention_layernorm, q/k_norm, model.norm
            n = hd if name.endswith(("q_norm.weight", "k_norm.weight")) else C
            t = randn(n, std=0.2, mean=1.0)
        elif name.endswith("_proj.bias"):
            t = randn(rows[name[-len("q_proj.bias")]], std=0.5)
        elif "self_attn.o_proj" in name:
            t = randn(C, nh * hd, std=1 / math.sqrt(nh * hd))
        elif "self_attn." in name:
            m = name[-len("q_proj.weight")]
            t = randn(rows[m], C, std=(1.5 if m in "qk" else 1.0) / math.sqrt(C))
        elif "mlp.down_proj" in name:
            t = randn(C, F, std=1 / math.sqrt(F))
        elif "mlp." in name:
            t = randn(F, C, std=1.5 / math.sqrt(C))
        else:
            raise AssertionError(name)
        w[name] = round_to(t, dtype)
    return w


# ---- Hugging Face directories -----------------------------------------------------------

def hf_config(arch, shape, dtype="f32"):
    """config.json's dict, with the fields transformers 4.5x writes for the class."""
    s = resolve_shape(shape, arch)
    c = {"architectures": [HF_CLASS[arch]], "model_type": arch,
         "attention_dropout": 0.0, "bos_token_id": s["bos_id"], "eos_token_id": s["eos_id"],
         "head_dim": s["head_dim"], "hidden_act": "silu", "hidden_size": s["n_embd"],
         "initializer_range": 0.02, "intermediate_size": s["ffn"],
         "max_position_embeddings": s["max_pos"], "num_attention_heads": s["n_head"],
         "num_hidden_layers": s["n_layer"], "num_key_value_heads": s["n_head_kv"],
         "rms_norm_eps": s["rms_eps"], "rope_theta": s["rope_theta"],
         "tie_word_embeddings": s["tied"], "torch_dtype": TORCH_DTYPE_NAME[_dtype_key(dtype)],
         "transformers_version": TRANSFORMERS_VERSION, "use_cache": True, "vocab_size": s["vocab"]}
    if arch == "llama":
        c.update(attention_bias=False, mlp_bias=False, pretraining_tp=1, rope_scaling=s["rope_scaling"])
    elif arch == "mistral":
        c.update(sliding_window=None)
    else:  # qwen2, qwen3
        c.update(rope_scaling=s["rope_scaling"], max_window_layers=s["n_layer"],
                 sliding_window=None, use_sliding_window=False)
        if arch == "qwen3":
            c.update(attention_bias=False)
    return c


def _tensor_bytes(t, dtype):
    d = _dtype_key(dtype)
    t = t.detach().to(torch.float32).contiguous()
    if d == "f32":
        return t.numpy().astype("<f4").tobytes()
    if d == "f16":
        return t.numpy().astype("<f2").tobytes()
    return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()


def write_safetensors(path, tensors, dtype, metadata=None):
    """The safetensors format: uint64 little-endian N, an N-byte JSON header
    {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}
    (offsets relative to the data after the header; padded with spaces to a
    multiple of 8), then the tensors' bytes, contiguous and in header order.
    Returns the number of data bytes."""
    code = DTYPES[_dtype_key(dtype)]
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = _tensor_bytes(t, dtype)
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = dict(metadata or {"format": "pt"})
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)
    return off


def _split_shards(names, sizes, shards):
    """names in order, cut into `shards` consecutive non-empty groups of ~equal bytes."""
    if not 1 <= shards <= len(names):
        raise ValueError("shards %d: expected 1..%d" % (shards, len(names)))
    total, groups, cur, acc = sum(sizes), [], [], 0
    for i, (n, sz) in enumerate(zip(names, sizes)):
        cur.append(n)
        acc += sz
        left_names, left_groups = len(names) - i - 1, shards - len(groups) - 1
        if left_groups > 0 and (acc >= total * (len(groups) + 1) / shards or left_names == left_groups):
            groups.append(cur)
            cur = []
    groups.append(cur)
    assert len(groups) == shards and all(groups)
    return groups


def write_hf_dir(d, arch, shape, weights, dtype="f32", shards=1):
    """config.json, generation_config.json and model.safetensors (or shards
    model-0000N-of-0000M.safetensors + model.safetensors.index.json).
    Returns the list of files written."""
    s = resolve_shape(shape, arch)
    os.makedirs(d, exist_ok=True)
    names = hf_names(arch, s)
    missing = [n for n in names if n not in weights]
    if missing:
        raise ValueError("weights lack %s" % ", ".join(missing[:5]))
    files = []
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(json.dumps(hf_config(arch, s, dtype), indent=2, sort_keys=True) + "\n")
    with open(os.path.join(d, "generation_config.json"), "w") as f:
        f.write(json.dumps({"_from_model_config": True, "bos_token_id": s["bos_id"], "eos_token_id": s["eos_id"],
                            "transformers_version": TRANSFORMERS_VERSION}, indent=2, sort_keys=True) + "\n")
    files += ["config.json", "generation_config.json"]
    for stale in os.listdir(d):
        if re.fullmatch(r"model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?", stale):
            os.remove(os.path.join(d, stale))
    if shards == 1:
        write_safetensors(os.path.join(d, "model.safetensors"), {n: weights[n] for n in names}, dtype)
        return files + ["model.safetensors"]
    elem = {"f32": 4, "f16": 2, "bf16": 2}[_dtype_key(dtype)]
    groups = _split_shards(names, [weights[n].numel() * elem for n in names], shards)
    weight_map, total = {}, 0
    for i, grp in enumerate(groups):
        fn = "model-%05d-of-%05d.safetensors" % (i + 1, shards)
        total += write_safetensors(os.path.join(d, fn), {n: weights[n] for n in grp}, dtype)
        weight_map.update({n: fn for n in grp})
        files.append(fn)
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        f.write(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2) + "\n")
    return files + ["model.safetensors.index.json"]


def read_hf_dir(d):
    """(arch, shape, weights) of an HF directory (config.json + safetensors),
    the tensors read by scripts/reference.py's independent safetensors reader."""
    sys.path.insert(0, HERE)
    import reference  # noqa: E402
    with open(os.path.join(d, "config.json")) as f:
        c = json.load(f)
    arch = c["model_type"]
    shape = dict(vocab=c["vocab_size"], n_embd=c["hidden_size"], n_layer=c["num_hidden_layers"],
                 n_head=c["num_attention_heads"], n_head_kv=c.get("num_key_value_heads") or c["num_attention_heads"],
                 head_dim=c.get("head_dim"), ffn=c["intermediate_size"], rope_theta=c.get("rope_theta", 10000.0),
                 rms_eps=c["rms_norm_eps"], tied=c.get("tie_word_embeddings", arch != "llama"),
                 rope_scaling=c.get("rope_scaling"), max_pos=c.get("max_position_embeddings"),
                 bos_id=c.get("bos_token_id"), eos_id=c.get("eos_token_id"))
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w = {}
    for fn in files:
        w.update(reference.read_safetensors(os.path.join(d, fn)))
    return arch, resolve_shape(shape, arch), w


# ---- llama2.c files ---------------------------------------------------------------------

def hf_to_meta_rows(w, n, hd):
    """HF rotate_half row order -> Meta/llama2.c adjacent-pair order, per head:
    out[h*hd + 2j + c] = w[h*hd + c*hd/2 + j].  w: [n*hd, ...] (matrix, bias or norm)."""
    rest = tuple(w.shape[1:])
    return w.reshape(n, 2, hd // 2, *rest).transpose(1, 2).reshape(n * hd, *rest)


def meta_to_hf_rows(w, n, hd):
    """The inverse of hf_to_meta_rows (transformers' convert_llama_weights_to_hf permute)."""
    rest = tuple(w.shape[1:])
    return w.reshape(n, hd // 2, 2, *rest).transpose(1, 2).reshape(n * hd, *rest)


def _llama2c_check(arch, s, weights):
    why = []
    if arch not in ("llama", "mistral"):
        why.append("arch %s (biases or q/k norms)" % arch)
    if s["head_dim"] * s["n_head"] != s["n_embd"]:
        why.append("head_dim %d != n_embd/n_head" % s["head_dim"])
    if s["rope_scaling"] is not None:
        why.append("rope_scaling")
    if s["rope_theta"] != 10000.0:
        why.append("rope_theta %g (run.c uses 10000)" % s["rope_theta"])
    if s["rms_eps"] != 1e-5:
        why.append("rms_eps %g (run.c uses 1e-5)" % s["rms_eps"])
    extra = [k for k in weights if k.endswith((".bias", "q_norm.weight", "k_norm.weight"))]
    if extra:
        why.append("tensors %s" % ", ".join(extra[:3]))
    if why:
        raise ValueError("llama2.c cannot hold this model: " + "; ".join(why))


def _llama2c_tensors(s, weights):
    """(shared, {llama2.c name: list of float32 tensors in Meta layout})."""
    L, nh, nkv, hd = s["n_layer"], s["n_head"], s["n_head_kv"], s["head_dim"]
    f = lambda k: weights[k].detach().to(torch.float32)  # noqa: E731
    lay = lambda suffix: [f("model.layers.%d.%s" % (i, suffix)) for i in range(L)]  # noqa: E731
    emb = f("model.embed_tokens.weight")
    shared = s["tied"] or ("lm_head.weight" not in weights) or torch.equal(emb, f("lm_head.weight"))
    t = {"tok": [emb], "rms_att": lay("input_layernorm.weight"), "rms_ffn": lay("post_attention_layernorm.weight"),
         "wq": [hf_to_meta_rows(x, nh, hd) for x in lay("self_attn.q_proj.weight")],
         "wk": [hf_to_meta_rows(x, nkv, hd) for x in lay("self_attn.k_proj.weight")],
         "wv": lay("self_attn.v_proj.weight"), "wo": lay("self_attn.o_proj.weight"),
         "w1": lay("mlp.gate_proj.weight"), "w2": lay("mlp.down_proj.weight"), "w3": lay("mlp.up_proj.weight"),
         "rms_final": [f("model.norm.weight")], "wcls": [] if shared else [f("lm_head.weight")]}
    return shared, t


def _fp32(ts):
    return b"".join(np.ascontiguousarray(x.numpy(), dtype="<f4").tobytes() for x in ts)


def quantize_q80(w, group_size):
    """llama2.c's Q8_0: (int8 q, float32 scale per group, dequantized float32 w)."""
    flat = w.detach().to(torch.float32).reshape(-1, group_size)
    scale = flat.abs().max(dim=1).values / 127.0
    q = torch.round(flat / scale[:, None]).to(torch.int8)
    deq = (q.to(torch.float32) * scale[:, None]).reshape(w.shape)
    return q.reshape(-1), scale, deq


def llama2c_group_size(dim, group_size=64):
    while dim % group_size:
        group_size //= 2
    return group_size


def write_llama2c(path, weights, version, shape, arch="llama", group_size=64):
    """Write a llama2.c checkpoint (see the module docstring for the layouts)
    from HF-named, HF-layout weights; Q and K rows are permuted to Meta's
    adjacent-pair layout (hf_to_meta_rows).  Returns the weights the file
    holds, in HF names and layout (dequantized for version 2, so that
    reference_logits on them is the file's own reference)."""
    s = resolve_shape(shape, arch)
    _llama2c_check(arch, s, weights)
    shared, t = _llama2c_tensors(s, weights)
    C, F, L, V, P = s["n_embd"], s["ffn"], s["n_layer"], s["vocab"], s["max_pos"]
    params = (C, F, L, s["n_head"], s["n_head_kv"], V, P)
    out = {k: v.detach().to(torch.float32).clone() for k, v in weights.items()}
    with open(path, "wb") as f:
        if version == 0:
            f.write(struct.pack("<7i", *params[:5], V if shared else -V, P))
            hs = C // s["n_head"]
            freqs = 1.0 / (s["rope_theta"] ** (torch.arange(0, hs, 2)[: hs // 2].float() / hs))
            ang = torch.outer(torch.arange(P, dtype=torch.float32), freqs)
            for k in ("tok", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3", "rms_final"):
                f.write(_fp32(t[k]))
            f.write(_fp32([torch.cos(ang), torch.sin(ang)]))
            f.write(_fp32(t["wcls"]))
        elif version in (1, 2):
            head = struct.pack("<Ii7iB", LLAMA2C_MAGIC, version, *params, int(shared))
            if version == 2:
                gs = llama2c_group_size(C, group_size)
                if F % gs:
                    raise ValueError("llama2.c v2: hidden_dim %d is not a multiple of the group size %d "
                                     "(runq.c quantizes the ffn activation in groups)" % (F, gs))
                head += struct.pack("<i", gs)
            f.write(head + b"\0" * (256 - len(head)))
            f.write(_fp32(t["rms_att"] + t["rms_ffn"] + t["rms_final"]))
            mats = ("tok", "wq", "wk", "wv", "wo", "w1", "w2", "w3", "wcls")
            if version == 1:
                f.write(_fp32([x for k in mats for x in t[k]]))
            else:
                deq = {}
                for k in mats:
                    deq[k] = []
                    for x in t[k]:
                        q, sc, dq = quantize_q80(x, gs)
                        f.write(q.numpy().astype("i1").tobytes())
                        f.write(_fp32([sc]))
                        deq[k].append(dq)
                out.update(_meta_to_hf(s, deq, shared, matrices_only=True))
        else:
            raise ValueError("llama2.c version %r: expected 0, 1 or 2" % (version,))
    return out


def _meta_to_hf(s, t, shared, matrices_only=False):
    """{llama2.c name: [tensors]} (Meta layout) -> {HF name: tensor} (HF layout)."""
    nh, nkv, hd = s["n_head"], s["n_head_kv"], s["head_dim"]
    w = {"model.embed_tokens.weight": t["tok"][0]}
    names = {"wq": "self_attn.q_proj.weight", "wk": "self_attn.k_proj.weight", "wv": "self_attn.v_proj.weight",
             "wo": "self_attn.o_proj.weight", "w1": "mlp.gate_proj.weight", "w2": "mlp.down_proj.weight",
             "w3": "mlp.up_proj.weight"}
    if not matrices_only:
        names.update(rms_att="input_layernorm.weight", rms_ffn="post_attention_layernorm.weight")
        w["model.norm.weight"] = t["rms_final"][0]
    for k, suffix in names.items():
        for i, x in enumerate(t[k]):
            if k == "wq":
                x = meta_to_hf_rows(x, nh, hd)
            elif k == "wk":
                x = meta_to_hf_rows(x, nkv, hd)
            w["model.layers.%d.%s" % (i, suffix)] = x
    if not shared:
        w["lm_head.weight"] = t["wcls"][0]
    return w


def read_llama2c(path):
    """(params, shared, group_size, {llama2.c name: [float32 tensors]} in Meta
    layout, dequantized for v2) of a v0/v1/v2 file, read by the offsets of
    run.c's and runq.c's memory_map_weights.  For the self-checks."""
    with open(path, "rb") as f:
        buf = f.read()
    (magic,) = struct.unpack_from("<I", buf, 0)
    gs = None
    if magic == LLAMA2C_MAGIC:
        (version,) = struct.unpack_from("<i", buf, 4)
        p = struct.unpack_from("<7i", buf, 8)
        shared = bool(buf[36])
        if version == 2:
            (gs,) = struct.unpack_from("<i", buf, 37)
        pos = 256
    else:
        version, p = 0, struct.unpack_from("<7i", buf, 0)
        shared = p[5] > 0
        p = p[:5] + (abs(p[5]), p[6])
        pos = 28
    C, F, L, nh, nkv, V, P = p
    hs = C // nh
    kv = nkv * hs
    sizes = {"tok": (V, C), "rms_att": (C,), "rms_ffn": (C,), "rms_final": (C,), "wq": (C, C), "wk": (kv, C),
             "wv": (kv, C), "wo": (C, C), "w1": (F, C), "w2": (C, F), "w3": (F, C), "wcls": (V, C)}
    count = {k: (1 if k in ("tok", "rms_final", "wcls") else L) for k in sizes}
    t = {}

    def take_f32(k, n=None):
        nonlocal pos
        shp = sizes[k]
        out = []
        for _ in range(count[k] if n is None else n):
            m = int(np.prod(shp))
            out.append(torch.from_numpy(np.frombuffer(buf, "<f4", m, pos).astype(np.float32).reshape(shp)))
            pos += 4 * m
        t[k] = out

    def take_q8(k, n=None):
        nonlocal pos
        shp = sizes[k]
        out = []
        for _ in range(count[k] if n is None else n):
            m = int(np.prod(shp))
            q = np.frombuffer(buf, "i1", m, pos).astype(np.float32)
            pos += m
            sc = np.frombuffer(buf, "<f4", m // gs, pos)
            pos += 4 * (m // gs)
            out.append(torch.from_numpy((q.reshape(-1, gs) * sc[:, None]).astype(np.float32).reshape(shp)))
        t[k] = out

    wcls_n = 0 if shared else 1
    if version == 0:
        for k in ("tok", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3", "rms_final"):
            take_f32(k)
        pos += 4 * P * hs  # freq_cis_real and freq_cis_imag, [P, hs/2] each
        take_f32("wcls", wcls_n)
    elif version == 1:
        for k in ("rms_att", "rms_ffn", "rms_final", "tok", "wq", "wk", "wv", "wo", "w1", "w2", "w3"):
            take_f32(k)
        take_f32("wcls", wcls_n)
    elif version == 2:
        for k in ("rms_att", "rms_ffn", "rms_final"):
            take_f32(k)
        for k in ("tok", "wq", "wk", "wv", "wo", "w1", "w2", "w3"):
            take_q8(k)
        take_q8("wcls", wcls_n)
    else:
        raise ValueError("%s: llama2.c version %d" % (path, version))
    if pos != len(buf):
        raise ValueError("%s: %d bytes read of %d" % (path, pos, len(buf)))
    return dict(dim=C, hidden_dim=F, n_layers=L, n_heads=nh, n_kv_heads=nkv, vocab_size=V, seq_len=P,
                version=version), shared, gs, t


# ---- the forward pass ---------------------------------------------------------------------

def rope_inv_freq(s):
    """float64 [head_dim/2]: theta^(-2j/hd), adjusted as transformers'
    _compute_llama3_parameters when s["rope_scaling"] is llama3's."""
    hd = s["head_dim"]
    inv = 1.0 / (s["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).to(torch.float64) / hd))
    rs = s["rope_scaling"]
    if rs is None:
        return inv
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    low_freq_wavelen, high_freq_wavelen = old / lo, old / hi
    wavelen = 2 * math.pi / inv
    inv_l = torch.where(wavelen > low_freq_wavelen, inv / factor, inv)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
    medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
    return torch.where(medium, smoothed, inv_l)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def reference_logits(arch, shape, weights, ids, attn_out=None):
    """float64 numpy [T, vocab] logits of ids at positions 0..T-1 (HF semantics,
    see the module docstring).  attn_out: a list receiving each layer's
    attention probabilities [n_head, T, T]."""
    s = resolve_shape(shape, arch)
    W = {k: v.detach().to(torch.float64) for k, v in weights.items()}
    ids = torch.as_tensor(np.asarray(ids), dtype=torch.long)
    T = ids.shape[0]
    nh, nkv, hd, eps = s["n_head"], s["n_head_kv"], s["head_dim"], s["rms_eps"]

    def lin(x, name):
        y = x @ W[name + ".weight"].t()
        b = W.get(name + ".bias")
        return y + b if b is not None else y

    freqs = torch.outer(torch.arange(T, dtype=torch.float64), rope_inv_freq(s))  # (T, hd/2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()  # (T, hd)
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    x = W["model.embed_tokens.weight"][ids]
    for i in range(s["n_layer"]):
        p = "model.layers.%d." % i
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = lin(h, p + "self_attn.q_proj").view(T, nh, hd)
        k = lin(h, p + "self_attn.k_proj").view(T, nkv, hd)
        v = lin(h, p + "self_attn.v_proj").view(T, nkv, hd)
        if arch == "qwen3":
            q = rms_norm(q, W[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, W[p + "self_attn.k_norm.weight"], eps)
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)  # (heads, T, hd)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=0)  # query head j uses kv head j // (nh/nkv), as repeat_kv
        v = v.repeat_interleave(nh // nkv, dim=0)
        scores = (q @ k.transpose(1, 2)) / math.sqrt(hd)
        att = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        if attn_out is not None:
            attn_out.append(att)
        y = (att @ v).transpose(0, 1).reshape(T, nh * hd)
        x = x + lin(y, p + "self_attn.o_proj")
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        x = x + lin(torch.nn.functional.silu(lin(h, p + "mlp.gate_proj")) * lin(h, p + "mlp.up_proj"),
                    p + "mlp.down_proj")
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if s["tied"] else W["lm_head.weight"]
    return (x @ head.t()).numpy()


def fixed_ids(vocab, seed, n=DEFAULT_IDS_LEN):
    g = torch.Generator().manual_seed(1000003 + seed)
    return torch.randint(0, vocab, (n,), generator=g).numpy().astype(np.int64)


# ---- self-checks ---------------------------------------------------------------------------

def _meta_freqs(s):
    """inv_freq by scalar Python, with Llama 3.1's apply_scaling as Meta's
    reference code writes it (loop over frequencies, if/elif/else)."""
    hd = s["head_dim"]
    fr = [1.0 / s["rope_theta"] ** (2 * j / hd) for j in range(hd // 2)]
    rs = s["rope_scaling"]
    if rs is None:
        return fr
    out = []
    for f in fr:
        wl = 2 * math.pi / f
        if wl < rs["original_max_position_embeddings"] / rs["high_freq_factor"]:
            out.append(f)
        elif wl > rs["original_max_position_embeddings"] / rs["low_freq_factor"]:
            out.append(f / rs["factor"])
        else:
            sm = (rs["original_max_position_embeddings"] / wl - rs["low_freq_factor"]) / (
                rs["high_freq_factor"] - rs["low_freq_factor"])
            out.append((1 - sm) * f / rs["factor"] + sm * f)
    return out


def hf_to_meta(arch, s, weights):
    """HF weights with q/k rows (and q/k biases, qwen3's q/k_norm weights)
    permuted to Meta's adjacent-pair layout; other tensors unchanged."""
    nh, nkv, hd = s["n_head"], s["n_head_kv"], s["head_dim"]
    out = {}
    for k, v in weights.items():
        v = v.detach().to(torch.float64)
        if re.search(r"self_attn\.q_proj\.(weight|bias)$", k):
            v = hf_to_meta_rows(v, nh, hd)
        elif re.search(r"self_attn\.k_proj\.(weight|bias)$", k):
            v = hf_to_meta_rows(v, nkv, hd)
        elif k.endswith(("q_norm.weight", "k_norm.weight")):
            v = hf_to_meta_rows(v, 1, hd)
        out[k] = v
    return out


def loop_logits(arch, shape, meta_weights, ids):
    """A second, independent formulation for the self-checks: one token at a
    time against a KV cache, Meta's layout (weights from hf_to_meta or read
    from a llama2.c file), RoPE as complex multiplication of adjacent pairs
    (torch.view_as_complex, torch.polar), attention by explicit loops over
    heads and cached positions with kv head = h // (n_head/n_head_kv),
    RMSNorm as x / sqrt(sum(x^2)/n + eps), silu as x / (1 + exp(-x))."""
    s = resolve_shape(shape, arch)
    W = {k: v.detach().to(torch.float64) for k, v in meta_weights.items()}
    nh, nkv, hd, eps = s["n_head"], s["n_head_kv"], s["head_dim"], s["rms_eps"]
    group = nh // nkv
    freqs = torch.tensor(_meta_freqs(s), dtype=torch.float64)

    def norm(x, w):
        return x / math.sqrt(float((x * x).sum()) / x.shape[-1] + eps) * w

    def mv(name, x):
        y = torch.mv(W[name + ".weight"], x)
        return y + W[name + ".bias"] if name + ".bias" in W else y

    def rope(vec, n, pos):
        z = torch.view_as_complex(vec.reshape(n, hd // 2, 2).contiguous())
        return torch.view_as_real(z * torch.polar(torch.ones_like(freqs), pos * freqs)).reshape(n, hd)

    cache = [([], []) for _ in range(s["n_layer"])]
    out = []
    for pos, tok in enumerate([int(t) for t in ids]):
        x = W["model.embed_tokens.weight"][tok].clone()
        for i in range(s["n_layer"]):
            p = "model.layers.%d." % i
            h = norm(x, W[p + "input_layernorm.weight"])
            q = mv(p + "self_attn.q_proj", h).reshape(nh, hd)
            k = mv(p + "self_attn.k_proj", h).reshape(nkv, hd)
            v = mv(p + "self_attn.v_proj", h).reshape(nkv, hd)
            if arch == "qwen3":
                q = torch.stack([norm(q[j], W[p + "self_attn.q_norm.weight"]) for j in range(nh)])
                k = torch.stack([norm(k[j], W[p + "self_attn.k_norm.weight"]) for j in range(nkv)])
            q, k = rope(q, nh, pos), rope(k, nkv, pos)
            cache[i][0].append(k)
            cache[i][1].append(v)
            y = torch.zeros(nh, hd, dtype=torch.float64)
            for hh in range(nh):
                kvh = hh // group
                sc = [float(torch.dot(q[hh], cache[i][0][t][kvh])) / math.sqrt(hd) for t in range(pos + 1)]
                m = max(sc)
                e = [math.exp(a - m) for a in sc]
                z = sum(e)
                for t in range(pos + 1):
                    y[hh] += (e[t] / z) * cache[i][1][t][kvh]
            x = x + mv(p + "self_attn.o_proj", y.reshape(nh * hd))
            h = norm(x, W[p + "post_attention_layernorm.weight"])
            g = mv(p + "mlp.gate_proj", h)
            x = x + mv(p + "mlp.down_proj", g / (1 + torch.exp(-g)) * mv(p + "mlp.up_proj", h))
        x = norm(x, W["model.norm.weight"])
        head = W["model.embed_tokens.weight"] if s["tied"] else W["lm_head.weight"]
        out.append(torch.mv(head, x))
    return torch.stack(out).numpy()


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def selftest(tmp="/tmp/llama_reference_selftest", verbose=True):
    """(a) reference_logits vs loop_logits on HF->Meta permuted weights for every
    arch x shape; (b) HF directories (single and sharded, all dtypes) read back
    with scripts/reference.py's reader; (c) llama2.c v0/v1/v2 files read back
    and run through loop_logits in their own (Meta) layout.  Returns the
    number of failures."""
    fails = 0

    def report(ok, msg):
        nonlocal fails
        fails += 0 if ok else 1
        if verbose or not ok:
            print("%-4s %s" % ("ok" if ok else "FAIL", msg), flush=True)

    os.makedirs(tmp, exist_ok=True)
    # the permutation on a toy: meta row 2j+c is hf row c*hd/2+j
    hf = torch.arange(2 * 8, dtype=torch.float64).reshape(16, 1)  # 2 heads of hd 8
    meta = hf_to_meta_rows(hf, 2, 8).flatten().tolist()
    report(meta == [0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15]
           and torch.equal(meta_to_hf_rows(hf_to_meta_rows(hf, 2, 8), 2, 8), hf), "permutation %s" % meta[:8])
    # rope scaling: the vectorized transformers formula vs Meta's loop; and it changes something
    s = resolve_shape("rope_scaled", "llama")
    a, b = rope_inv_freq(s).numpy(), np.array(_meta_freqs(s))
    plain = rope_inv_freq(dict(s, rope_scaling=None)).numpy()
    report(np.allclose(a, b, rtol=1e-14, atol=0) and np.sum(a != plain) >= 3,
           "llama3 inv_freq %s (unscaled %s)" % (np.array2string(a[:4], precision=4),
                                                 np.array2string(plain[:4], precision=4)))
    cases = [(arch, shape) for arch in ("llama", "qwen2", "qwen3") for shape in SHAPES
             if not (shape == "rope_scaled" and arch != "llama")] + [("mistral", "gqa")]
    for n, (arch, shape) in enumerate(cases):
        s = resolve_shape(shape, arch)
        w = make_checkpoint(arch, s, seed=n + 1, dtype="f32")
        ids = fixed_ids(s["vocab"], n + 1)
        att = []
        ref = reference_logits(arch, s, w, ids, attn_out=att)
        alt = loop_logits(arch, s, hf_to_meta(arch, s, w), ids)
        ent = np.mean([-(p * torch.log(p.clamp_min(1e-300))).sum(-1).mean().item() for p in att])
        uni = np.mean([math.log(t + 1) for t in range(len(ids))])
        r = _rel(alt, ref)
        # the negative control: pair rotation on the unpermuted HF rows must be wrong
        bad = _rel(loop_logits(arch, s, w, ids), ref)
        report(r < 1e-12 and bad > 1e-2 and 1 < np.abs(ref).max() < 30 and ent < 0.9 * uni,
               "%s/%s: loop forward vs reference %.2g (unpermuted: %.2g); max|logit| %.2f std %.2f; "
               "attention entropy %.2f (uniform %.2f)" % (arch, shape, r, bad, np.abs(ref).max(), ref.std(), ent, uni))
        if arch == "llama" and shape == "rope_scaled":  # scaling must matter for these ids
            r2 = _rel(reference_logits(arch, dict(s, rope_scaling=None), w, ids), ref)
            report(r2 > 1e-3, "llama/rope_scaled: logits without the scaling differ by %.2g" % r2)
    # HF directories read back by reference.py's reader
    for arch, shape, dt, shards in [("qwen3", "tiny", "bf16", 1), ("qwen2", "gqa", "f16", 3),
                                    ("llama", "untied", "f32", 2), ("llama", "rope_scaled", "bf16", 1),
                                    ("mistral", "headdim", "f32", 1), ("qwen3", "headdim", "bf16", 4)]:
        s = resolve_shape(shape, arch)
        w = make_checkpoint(arch, s, 5, dt)
        d = os.path.join(tmp, "%s-%s-%s-%d" % (arch, shape, dt, shards))
        write_hf_dir(d, arch, s, w, dt, shards)
        a2, s2, w2 = read_hf_dir(d)
        same = a2 == arch and s2 == s and set(w2) == set(w) and all(torch.equal(w2[k], w[k]) for k in w)
        unrounded = make_checkpoint(arch, s, 5, "f32")
        changed = dt == "f32" or not torch.equal(unrounded["model.norm.weight"], w["model.norm.weight"])
        extra = ""
        if shards > 1:
            with open(os.path.join(d, "model.safetensors.index.json")) as f:
                idx = json.load(f)
            size = sum(os.path.getsize(os.path.join(d, fn)) - 8 - struct.unpack(
                "<Q", open(os.path.join(d, fn), "rb").read(8))[0] for fn in set(idx["weight_map"].values()))
            same = same and size == idx["metadata"]["total_size"] and len(set(idx["weight_map"].values())) == shards
            extra = ", %d shards, total_size %d" % (shards, size)
        report(same and changed, "%s/%s %s HF dir read back bit-exact%s" % (arch, shape, dt, extra))
    # llama2.c files read back in their own layout
    for shape, dt in [("tiny", "f32"), ("untied", "bf16"), ("gqa", "f32"), ("mha", "f16")]:
        s = resolve_shape(shape, "llama")
        w = make_checkpoint("llama", s, 9, dt)
        ids = fixed_ids(s["vocab"], 9)
        ref = reference_logits("llama", s, w, ids)
        for version in (0, 1, 2):
            path = os.path.join(tmp, "%s-%s-v%d.bin" % (shape, dt, version))
            held = write_llama2c(path, w, version, s)
            params, shared, gs, t = read_llama2c(path)
            mw = {"model.embed_tokens.weight": t["tok"][0], "model.norm.weight": t["rms_final"][0]}
            for i in range(s["n_layer"]):
                p = "model.layers.%d." % i
                for k, suffix in (("rms_att", "input_layernorm"), ("rms_ffn", "post_attention_layernorm"),
                                  ("wq", "self_attn.q_proj"), ("wk", "self_attn.k_proj"),
                                  ("wv", "self_attn.v_proj"), ("wo", "self_attn.o_proj"), ("w1", "mlp.gate_proj"),
                                  ("w2", "mlp.down_proj"), ("w3", "mlp.up_proj")):
                    mw[p + suffix + ".weight"] = t[k][i]
            if not shared:
                mw["lm_head.weight"] = t["wcls"][0]
            alt = loop_logits("llama", s, mw, ids)  # Meta layout straight from the file
            own = reference_logits("llama", s, held, ids)
            ok = _rel(alt, own) < 1e-12 and shared == s["tied"] and params["n_kv_heads"] == s["n_head_kv"]
            msg = "llama/%s %s llama2.c v%d: file's pair-RoPE forward vs reference %.2g" % (
                shape, dt, version, _rel(alt, own))
            if version < 2:
                ok = ok and _rel(own, ref) == 0.0
            else:
                ok = ok and 1e-5 < _rel(own, ref) < 5e-2
                msg += " (group %d; dequantized vs float reference %.2g)" % (gs, _rel(own, ref))
            report(ok, msg)
    try:
        write_llama2c(os.path.join(tmp, "bad.bin"), make_checkpoint("qwen3", "tiny"), 0, "tiny", arch="qwen3")
        report(False, "llama2.c refuses qwen3")
    except ValueError as e:
        report(True, "llama2.c refuses qwen3: %s" % e)
    print("selftest: %d failure(s)" % fails)
    return fails


# ---- llama2.c's own programs on our files --------------------------------------------------

HARNESS = r"""
#define main llama2c_main
#include "%s"
#undef main
/* argv: checkpoint id0 id1 ...: prints the logits after each id, one line per position */
int main(int argc, char **argv) {
    Transformer t;
    build_transformer(&t, argv[1]);
    for (int pos = 0; pos + 2 < argc; pos++) {
        float *lg = forward(&t, atoi(argv[pos + 2]), pos);
        for (int i = 0; i < t.config.vocab_size; i++)
            printf("%%.9g%%c", lg[i], i + 1 < t.config.vocab_size ? ' ' : '\n');
    }
    free_transformer(&t);
    return 0;
}
"""


def write_dummy_tokenizer(path, vocab):
    """llama2.c's tokenizer.bin: int32 max_token_length, then per token float32
    score, int32 length, bytes.  Token i is "<t{i}>"."""
    toks = [("<t%d>" % i).encode() for i in range(vocab)]
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max(len(t) for t in toks)))
        for t in toks:
            f.write(struct.pack("<fi", 0.0, len(t)) + t)


def _gcc(src, out, *extra):
    subprocess.run(["gcc", "-O2", "-o", out, src, "-lm", *extra], check=True)


def check_runc(llama2c="/work/peers/llama2.c", run_bin=None, tmp="/tmp/llama_reference_runc", steps=12):
    """run.c (v0) and runq.c (v2) on our files: greedy generation with a dummy
    tokenizer against the reference's argmax, and full logits through a small
    harness that includes run.c / runq.c.  Returns the number of failures."""
    os.makedirs(tmp, exist_ok=True)
    run_c, runq_c = os.path.join(llama2c, "run.c"), os.path.join(llama2c, "runq.c")
    if run_bin is None:
        run_bin = os.path.join(llama2c, "run")
        if not os.access(run_bin, os.X_OK):
            run_bin = os.path.join(tmp, "run_ref")
            _gcc(run_c, run_bin)
    hs = {}
    for name, src in (("runc_logits", run_c), ("runq_logits", runq_c)):
        c = os.path.join(tmp, name + ".c")
        with open(c, "w") as f:
            f.write(HARNESS % src)
        hs[name] = os.path.join(tmp, name)
        _gcc(c, hs[name])
    fails = 0
    for shape, dt, seed in [("tiny", "f32", 1), ("untied", "f32", 2), ("gqa", "bf16", 3), ("mha", "f16", 4)]:
        s = resolve_shape(shape, "llama")
        tok = os.path.join(tmp, "tok%d.bin" % s["vocab"])
        write_dummy_tokenizer(tok, s["vocab"])
        v0 = os.path.join(tmp, "%s-v0.bin" % shape)
        # greedy generation: BOS (1) at pos 0, then run.c's argmax each step; run.c
        # stops (printing nothing more) when it picks BOS, so the first of seed,
        # seed + 100, ... whose greedy run lasts `steps` tokens is used
        for seed in range(seed, seed + 1000, 100):
            w = make_checkpoint("llama", s, seed, dt)
            write_llama2c(v0, w, 0, s)
            r = subprocess.run([run_bin, v0, "-z", tok, "-t", "0", "-n", str(steps), "-s", "1"],
                               capture_output=True, text=True, check=True)
            gen = [int(m) for m in re.findall(r"<t(\d+)>", r.stdout)]
            if len(gen) == steps:
                break
        seq = [1] + gen
        ref = reference_logits("llama", s, w, seq)
        want = list(np.argmax(ref, 1))
        # run.c stops when it picks BOS (1), which it does not print
        match = want[:len(gen)] == gen and (len(gen) == steps or want[len(gen)] == 1)
        top2 = np.sort(ref, 1)[:, -2:]
        margin = float(np.min(top2[:, 1] - top2[:, 0]))
        print("%-4s llama/%s %s seed %d v0: run.c greedy %s; reference argmax %s; min top-2 margin %.3g"
              % ("ok" if match else "FAIL", shape, dt, seed, gen, want[:len(gen) + (len(gen) < steps)], margin))
        fails += not match
        # full logits through run.c's forward (float32) on the reference's ids
        ids = fixed_ids(s["vocab"], seed)
        out = subprocess.run([hs["runc_logits"], v0] + [str(i) for i in ids], capture_output=True, text=True,
                             check=True).stdout
        got = np.array([[float(v) for v in line.split()] for line in out.strip().split("\n")])
        ref = reference_logits("llama", s, w, ids)
        e = _rel(got, ref)
        ok = got.shape == ref.shape and e < 1e-4
        print("%-4s llama/%s %s v0: run.c forward logits vs reference: max rel err %.2g over [%d, %d]"
              % ("ok" if ok else "FAIL", shape, dt, e, *got.shape))
        fails += not ok
        # runq.c on the v2 file: its int8 activations make it approximate
        v2 = os.path.join(tmp, "%s-v2.bin" % shape)
        held = write_llama2c(v2, w, 2, s)
        out = subprocess.run([hs["runq_logits"], v2] + [str(i) for i in ids], capture_output=True, text=True,
                             check=True).stdout
        got = np.array([[float(v) for v in line.split()] for line in out.strip().split("\n")])
        own = reference_logits("llama", s, held, ids)
        e, e_float = _rel(got, own), _rel(got, ref)
        rms = float(np.linalg.norm(got - own) / np.linalg.norm(own))
        agree = float(np.mean(np.argmax(got, 1) == np.argmax(own, 1)))
        ok = got.shape == own.shape and rms < 0.1
        print("%-4s llama/%s %s v2: runq.c logits vs reference on the dequantized weights: max rel %.2g, "
              "rel RMS %.2g, argmax agreement %.0f%% (vs float weights: max rel %.2g)"
              % ("ok" if ok else "FAIL", shape, dt, e, rms, 100 * agree, e_float))
        fails += not ok
    print("check-runc: %d failure(s)" % fails)
    return fails


# ---- CLI -----------------------------------------------------------------------------------

def make(arch, shape, seed, dtype, out, shards=1, ids_len=DEFAULT_IDS_LEN, llama2c=None, version=0):
    """HF directory + reference.npz (ids int64 [T], logits float64 [T, V],
    meta: a JSON string of arch/shape/dtype/seed), and optionally a llama2.c
    file; for a v2 file also logits_llama2c (the reference on its dequantized
    weights)."""
    s = resolve_shape(shape, arch)
    w = make_checkpoint(arch, s, seed, dtype)
    if llama2c:
        _llama2c_check(arch, s, w)  # before writing anything
    write_hf_dir(out, arch, s, w, dtype, shards)
    ids = fixed_ids(s["vocab"], seed, ids_len)
    res = dict(ids=ids, logits=reference_logits(arch, s, w, ids))
    meta = dict(arch=arch, shape=s, shape_name=shape if isinstance(shape, str) else None, dtype=_dtype_key(dtype),
                seed=seed, shards=shards)
    if llama2c:
        held = write_llama2c(llama2c, w, version, s, arch=arch)
        meta.update(llama2c=os.path.abspath(llama2c), llama2c_version=version)
        if version == 2:
            res["logits_llama2c"] = reference_logits(arch, s, held, ids)
    res["meta"] = np.array(json.dumps(meta))
    np.savez(os.path.join(out, "reference.npz"), **res)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make", help="random HF checkpoint directory + reference.npz")
    mk.add_argument("--arch", choices=ARCHS, required=True)
    mk.add_argument("--shape", choices=list(SHAPES), required=True)
    mk.add_argument("--seed", type=int, default=1)
    mk.add_argument("--dtype", choices=list(DTYPES), default="f32")
    mk.add_argument("--out", required=True)
    mk.add_argument("--shards", type=int, default=1)
    mk.add_argument("--ids-len", type=int, default=DEFAULT_IDS_LEN)
    mk.add_argument("--llama2c", help="also write a llama2.c checkpoint here (llama/mistral shapes)")
    mk.add_argument("--version", type=int, choices=(0, 1, 2), default=0)
    lg = sub.add_parser("logits", help="reference logits of an HF directory")
    lg.add_argument("--dir", required=True)
    lg.add_argument("--ids", required=True, help="token ids, comma or space separated")
    lg.add_argument("--out", required=True, help=".npy, or raw little-endian float32")
    sub.add_parser("selftest", help="the forward against a second formulation; file round trips")
    rc = sub.add_parser("check-runc", help="llama2.c's run.c and runq.c on our llama2.c files")
    rc.add_argument("--llama2c-dir", default="/work/peers/llama2.c")
    rc.add_argument("--run", help="a built run.c (default: DIR/run, else built under /tmp)")
    a = ap.parse_args(argv)
    if a.cmd == "make":
        if a.version and not a.llama2c:
            ap.error("--version needs --llama2c")
        try:
            r = make(a.arch, a.shape, a.seed, a.dtype, a.out, a.shards, a.ids_len, a.llama2c, a.version)
        except ValueError as e:
            print("llama_reference: %s" % e, file=sys.stderr)
            return 1
        print("%s: logits [%d, %d], max |logit| %.2f" % (a.out, *r["logits"].shape, np.abs(r["logits"]).max()),
              file=sys.stderr)
    elif a.cmd == "logits":
        arch, s, w = read_hf_dir(a.dir)
        ids = [int(t) for t in a.ids.replace(",", " ").split()]
        logits = reference_logits(arch, s, w, ids)
        if a.out.endswith(".npy"):
            np.save(a.out, logits)
        else:
            logits.astype("<f4").tofile(a.out)
    elif a.cmd == "selftest":
        return 1 if selftest() else 0
    else:
        return 1 if check_runc(a.llama2c_dir, a.run) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
