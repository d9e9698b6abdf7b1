#!/usr/bin/python3
"""reference.py: GPT-2 in plain PyTorch ops, and random checkpoints to test gpt with.

  reference.py make-checkpoint --shape tiny|odd|124m --format FMT [--seed N] OUTDIR
  reference.py logits --ckpt PATH --ids "1,2,3" --out FILE.npy|FILE.bin [--float32]
  reference.py entropy --ckpt PATH --ids "1,2,3"
  reference.py selfcheck --ckpt PATH --ids "1,2,3"

The forward pass reads the ORIGINAL checkpoint (never a GGUF) in its own
layout: HF's Conv1D computes x @ W with W stored (in, out); nanoGPT's
nn.Linear computes x @ W.T with W stored (out, in).  It uses explicit
embedding lookups, LayerNorm, matmuls, causal softmax attention and the
checkpoint's GELU (HF gelu_new: tanh approximation; nanoGPT nn.GELU(): erf),
in float64 unless told otherwise.

Formats of make-checkpoint (OUTDIR is created):
  hf-safetensors       OUTDIR/{model.safetensors (F32, names without prefix,
                       with the h.N.attn.bias mask buffers), config.json,
                       vocab.json, merges.txt}
  hf-safetensors-bf16  the same with BF16 tensors
  hf-bin               OUTDIR/{pytorch_model.bin ('transformer.' prefix,
                       lm_head.weight, attn.masked_bias buffers), config.json,
                       vocab.json, merges.txt}
  nanogpt              OUTDIR/ckpt.pt, vocab_size 50304 (padded), bias=True
  nanogpt-compiled     OUTDIR/ckpt.pt with '_orig_mod.' prefixes, vocab 50257
  nanogpt-nobias       OUTDIR/ckpt.pt with bias=False, vocab 50304
logits writes [T, V] (V = the checkpoint's vocab_size) as .npy or raw
little-endian float32 .bin.
"""
import argparse
import json
import math
import os
import shutil
import struct
import sys

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER_DIRS = [
    os.path.join(REPO, "tokenizer", "gpt2"),
    os.path.join(os.path.dirname(REPO), "shared", "tokenizer", "gpt2"),
    "/work/shared/tokenizer/gpt2",
]

# n_ff None: 4 * n_embd.  hf_n_inner: the HF config's n_inner (nanoGPT is always 4C).
SHAPES = {
    "tiny": dict(n_layer=2, n_head=2, n_embd=32, n_ctx=64, vocab=50257, hf_n_inner=None),
    "odd": dict(n_layer=3, n_head=3, n_embd=36, n_ctx=80, vocab=50257, hf_n_inner=100),
    "124m": dict(n_layer=12, n_head=12, n_embd=768, n_ctx=1024, vocab=50257, hf_n_inner=None),
}
FORMATS = ["hf-safetensors", "hf-safetensors-bf16", "hf-bin", "nanogpt", "nanogpt-compiled", "nanogpt-nobias"]
NANOGPT_PADDED_VOCAB = 50304


def tokenizer_dir():
    for d in TOKENIZER_DIRS:
        if os.path.isfile(os.path.join(d, "encoder.json")) and os.path.isfile(os.path.join(d, "vocab.bpe")):
            return d
    sys.exit("reference: GPT-2's encoder.json/vocab.bpe not found in %s" % TOKENIZER_DIRS)


# ---- random weights ----------------------------------------------------------------

def random_weights(shape, seed, bias=True, vocab=None, n_ff=None):
    """A GPT-2 state dict with nanoGPT's layout (nn.Linear (out, in)) and names
    without prefix: wte.weight, wpe.weight, h.N.{ln_1,attn.c_attn,attn.c_proj,
    ln_2,mlp.c_fc,mlp.c_proj}.{weight,bias}, ln_f.{weight,bias}.

    Scales keep the residual stream near unit variance, make attention clearly
    non-uniform (q.k/sqrt(hd) has a spread of a few units: q/k std
    1.7/sqrt(C), 0.30 for C=32 and 0.06 for C=768) and give logits of a few
    units (wte std 3/sqrt(C))."""
    s = SHAPES[shape]
    C, L, P = s["n_embd"], s["n_layer"], s["n_ctx"]
    V = vocab or s["vocab"]
    F = n_ff or 4 * C
    g = torch.Generator().manual_seed(seed)

    def randn(*size, std=1.0, mean=0.0):
        return torch.randn(*size, generator=g, dtype=torch.float32) * std + mean

    sd = {"wte.weight": randn(V, C, std=3 / math.sqrt(C)), "wpe.weight": randn(P, C, std=1 / math.sqrt(C))}
    for i in range(L):
        h = "h.%d." % i
        sd[h + "ln_1.weight"] = randn(C, std=0.2, mean=1.0)
        qk = randn(2 * C, C, std=1.7 / math.sqrt(C))
        v = randn(C, C, std=1 / math.sqrt(C))
        sd[h + "attn.c_attn.weight"] = torch.cat([qk, v], 0)  # (3C, C): q, k, v rows
        sd[h + "attn.c_proj.weight"] = randn(C, C, std=1 / math.sqrt(C))
        sd[h + "ln_2.weight"] = randn(C, std=0.2, mean=1.0)
        sd[h + "mlp.c_fc.weight"] = randn(F, C, std=1.5 / math.sqrt(C))
        sd[h + "mlp.c_proj.weight"] = randn(C, F, std=1 / math.sqrt(F))
        if bias:
            sd[h + "ln_1.bias"] = randn(C, std=0.2)
            sd[h + "attn.c_attn.bias"] = randn(3 * C, std=0.2)
            sd[h + "attn.c_proj.bias"] = randn(C, std=0.2)
            sd[h + "ln_2.bias"] = randn(C, std=0.2)
            sd[h + "mlp.c_fc.bias"] = randn(F, std=0.2)
            sd[h + "mlp.c_proj.bias"] = randn(C, std=0.2)
    sd["ln_f.weight"] = randn(C, std=0.2, mean=1.0)
    if bias:
        sd["ln_f.bias"] = randn(C, std=0.2)
    return sd


# ---- writing checkpoints ------------------------------------------------------------

def write_safetensors(path, tensors, dtype="F32"):
    """tensors: {name: float32 torch tensor}; written as F32 or BF16 (round to nearest even)."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        a = np.ascontiguousarray(t.detach().numpy(), dtype=np.float32)
        if dtype == "BF16":
            u = a.view(np.uint32).astype(np.uint64)
            u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16  # round to nearest even (finite values)
            b = u.astype("<u2").tobytes()
        else:
            b = a.astype("<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def hf_config(shape):
    s = SHAPES[shape]
    return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new",
            "n_embd": s["n_embd"], "n_layer": s["n_layer"], "n_head": s["n_head"], "n_inner": s["hf_n_inner"],
            "n_positions": s["n_ctx"], "n_ctx": s["n_ctx"], "vocab_size": s["vocab"],
            "layer_norm_epsilon": 1e-5, "bos_token_id": 50256, "eos_token_id": 50256,
            "scale_attn_weights": True, "torch_dtype": "float32"}


def to_conv1d(sd):
    """nanoGPT layout -> HF Conv1D layout: every 2-D weight but the embeddings is transposed."""
    return {k: (v.t().contiguous() if v.dim() == 2 and k not in ("wte.weight", "wpe.weight") else v)
            for k, v in sd.items()}


def make_checkpoint(shape, fmt, seed, outdir):
    """Write a random checkpoint; returns the path to pass to gpt/export.py."""
    os.makedirs(outdir, exist_ok=True)
    s = SHAPES[shape]
    if fmt.startswith("hf-"):
        sd = to_conv1d(random_weights(shape, seed, n_ff=s["hf_n_inner"]))
        P = s["n_ctx"]
        mask = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
        if fmt.startswith("hf-safetensors"):
            for i in range(s["n_layer"]):
                sd["h.%d.attn.bias" % i] = mask  # the causal-mask buffer old exports carry
            write_safetensors(os.path.join(outdir, "model.safetensors"), sd,
                              "BF16" if fmt.endswith("bf16") else "F32")
        elif fmt == "hf-bin":
            out = {"transformer." + k: v for k, v in sd.items()}
            for i in range(s["n_layer"]):
                out["transformer.h.%d.attn.masked_bias" % i] = torch.tensor(-1e4)
            out["lm_head.weight"] = sd["wte.weight"]
            torch.save(out, os.path.join(outdir, "pytorch_model.bin"))
        else:
            raise ValueError("unknown format %s" % fmt)
        with open(os.path.join(outdir, "config.json"), "w") as f:
            json.dump(hf_config(shape), f, indent=2)
        tok = tokenizer_dir()
        shutil.copyfile(os.path.join(tok, "encoder.json"), os.path.join(outdir, "vocab.json"))
        shutil.copyfile(os.path.join(tok, "vocab.bpe"), os.path.join(outdir, "merges.txt"))
        return outdir
    if fmt not in ("nanogpt", "nanogpt-compiled", "nanogpt-nobias"):
        raise ValueError("unknown format %s" % fmt)
    bias = fmt != "nanogpt-nobias"
    vocab = s["vocab"] if fmt == "nanogpt-compiled" else NANOGPT_PADDED_VOCAB
    sd = random_weights(shape, seed, bias=bias, vocab=vocab)
    sd = {"transformer." + k: v for k, v in sd.items()}
    sd["lm_head.weight"] = sd["transformer.wte.weight"]  # tied, as nanoGPT does
    if fmt == "nanogpt-compiled":
        sd = {"_orig_mod." + k: v for k, v in sd.items()}
    model_args = dict(n_layer=s["n_layer"], n_head=s["n_head"], n_embd=s["n_embd"], block_size=s["n_ctx"],
                      bias=bias, vocab_size=vocab, dropout=0.0)
    path = os.path.join(outdir, "ckpt.pt")
    torch.save({"model": sd, "optimizer": {}, "model_args": model_args, "iter_num": 0,
                "best_val_loss": 1e9, "config": {}}, path)
    return path


# ---- loading checkpoints -------------------------------------------------------------

def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            a, b = info["data_offsets"]
            f.seek(base + a)
            buf = f.read(b - a)
            if info["dtype"] == "F32":
                arr = np.frombuffer(buf, "<f4")
            elif info["dtype"] == "F16":
                arr = np.frombuffer(buf, "<f2").astype(np.float32)
            elif info["dtype"] == "BF16":
                arr = (np.frombuffer(buf, "<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                raise ValueError("%s: dtype %s" % (name, info["dtype"]))
            out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


def load_checkpoint(path):
    """-> (state dict without prefixes, hp) with hp: layout ('conv1d'|'linear'),
    n_head, eps, gelu ('tanh'|'erf'), n_vocab."""
    if os.path.isdir(path) or path.endswith(".safetensors") or path.endswith("pytorch_model.bin"):
        d = path if os.path.isdir(path) else os.path.dirname(path)
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        w = path
        if os.path.isdir(path):
            w = os.path.join(d, "model.safetensors")
            if not os.path.exists(w):
                w = os.path.join(d, "pytorch_model.bin")
        sd = read_safetensors(w) if w.endswith(".safetensors") else torch.load(w, map_location="cpu")
        sd = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in sd.items()}
        gelu = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "erf"}[cfg.get("activation_function", "gelu_new")]
        hp = dict(layout="conv1d", n_head=cfg["n_head"], eps=cfg.get("layer_norm_epsilon", 1e-5), gelu=gelu,
                  n_layer=cfg["n_layer"], n_vocab=cfg["vocab_size"])
        return sd, hp
    ck = torch.load(path, map_location="cpu")
    sd = {}
    for k, v in ck["model"].items():
        for p in ("_orig_mod.", "transformer."):
            if k.startswith(p):
                k = k[len(p):]
        sd[k] = v
    a = ck["model_args"]
    hp = dict(layout="linear", n_head=a["n_head"], eps=1e-5, gelu="erf", n_layer=a["n_layer"],
              n_vocab=a["vocab_size"])
    return sd, hp


# ---- the forward pass -------------------------------------------------------------------

def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)  # biased, as nn.LayerNorm
    y = (x - mean) / torch.sqrt(var + eps) * w
    return y + b if b is not None else y


def gelu(x, kind):
    if kind == "erf":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(sd, hp, ids, dtype=torch.float64, attn_out=None):
    """Logits [T, V] for token ids [T] at positions 0..T-1.
    attn_out: a list that receives each layer's attention probs [nh, T, T]."""
    W = {k: v.to(dtype) for k, v in sd.items()}
    conv1d = hp["layout"] == "conv1d"

    def linear(x, name):
        w = W[name + ".weight"]
        y = x @ w if conv1d else x @ w.t()  # Conv1D: (in, out); nn.Linear: (out, in)
        b = W.get(name + ".bias")
        return y + b if b is not None else y

    def ln(x, name):
        return layer_norm(x, W[name + ".weight"], W.get(name + ".bias"), hp["eps"])

    ids = torch.as_tensor(ids, dtype=torch.long)
    T = ids.shape[0]
    x = W["wte.weight"][ids] + W["wpe.weight"][:T]  # (T, C)
    C = x.shape[1]
    nh = hp["n_head"]
    hs = C // nh
    causal = torch.ones(T, T, dtype=torch.bool).triu(1)  # True above the diagonal: the future
    for i in range(hp["n_layer"]):
        h = "h.%d." % i
        qkv = linear(ln(x, h + "ln_1"), h + "attn.c_attn")  # (T, 3C)
        q, k, v = qkv.split(C, dim=1)
        q, k, v = (t.reshape(T, nh, hs).transpose(0, 1) for t in (q, k, v))  # (nh, T, hs)
        scores = (q @ k.transpose(1, 2)) / math.sqrt(hs)  # (nh, T, T)
        scores = scores.masked_fill(causal, float("-inf"))
        p = torch.softmax(scores, dim=-1)
        if attn_out is not None:
            attn_out.append(p)
        y = (p @ v).transpose(0, 1).reshape(T, C)
        x = x + linear(y, h + "attn.c_proj")
        m = gelu(linear(ln(x, h + "ln_2"), h + "mlp.c_fc"), hp["gelu"])
        x = x + linear(m, h + "mlp.c_proj")
    x = ln(x, "ln_f")
    head = W.get("lm_head.weight", W["wte.weight"])  # (V, C)
    return x @ head.t()


def attention_entropy(sd, hp, ids):
    """(mean entropy of the attention rows, mean entropy of uniform causal rows), in nats."""
    probs = []
    forward(sd, hp, ids, attn_out=probs)
    T = len(ids)
    ent = [-(p * torch.log(p.clamp_min(1e-300))).sum(-1).mean().item() for p in probs]
    uniform = float(np.mean([math.log(t + 1) for t in range(T)]))
    return float(np.mean(ent)), uniform


def forward_incremental(sd, hp, ids):
    """A second formulation for self-checking forward(): torch.nn.functional's
    layer_norm/linear/gelu, one token at a time against a growing KV cache
    (no mask).  float64."""
    import torch.nn.functional as F
    W = {k: v.to(torch.float64) for k, v in sd.items()}
    conv1d = hp["layout"] == "conv1d"

    def linear(x, name):
        w = W[name + ".weight"]
        return F.linear(x, w.t() if conv1d else w, W.get(name + ".bias"))

    def ln(x, name):
        return F.layer_norm(x, x.shape[-1:], W[name + ".weight"], W.get(name + ".bias"), hp["eps"])

    nh, out = hp["n_head"], []
    cache = [([], []) for _ in range(hp["n_layer"])]
    for pos, tok in enumerate(ids):
        x = W["wte.weight"][tok] + W["wpe.weight"][pos]  # (C,)
        C = x.shape[0]
        hs = C // nh
        for i in range(hp["n_layer"]):
            h = "h.%d." % i
            q, k, v = linear(ln(x, h + "ln_1"), h + "attn.c_attn").split(C)
            cache[i][0].append(k.view(nh, hs))
            cache[i][1].append(v.view(nh, hs))
            K, V = torch.stack(cache[i][0], 1), torch.stack(cache[i][1], 1)  # (nh, t, hs)
            att = torch.softmax(torch.einsum("hd,htd->ht", q.view(nh, hs), K) / math.sqrt(hs), -1)
            y = torch.einsum("ht,htd->hd", att, V).reshape(C)
            x = x + linear(y, h + "attn.c_proj")
            a = F.gelu(linear(ln(x, h + "ln_2"), h + "mlp.c_fc"), approximate=hp["gelu"] if hp["gelu"] == "tanh" else "none")
            x = x + linear(a, h + "mlp.c_proj")
        out.append(F.linear(ln(x, "ln_f"), W.get("lm_head.weight", W["wte.weight"])))
    return torch.stack(out)


def self_check(sd, hp, ids):
    """max |forward - forward_incremental| / max |logit|."""
    a = forward(sd, hp, ids)
    b = forward_incremental(sd, hp, ids)
    return ((a - b).abs().max() / a.abs().max()).item()


def parse_ids(s):
    return [int(t) for t in s.replace(",", " ").split()]


def save_logits(logits, path):
    a = logits.detach().numpy()
    if path.endswith(".npy"):
        np.save(path, a)
    else:
        a.astype("<f4").tofile(path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make-checkpoint", help="write a random checkpoint")
    mk.add_argument("--shape", choices=list(SHAPES), required=True)
    mk.add_argument("--format", choices=FORMATS, required=True)
    mk.add_argument("--seed", type=int, default=1)
    mk.add_argument("outdir")
    lg = sub.add_parser("logits", help="reference logits [T, V] of a checkpoint")
    lg.add_argument("--ckpt", required=True)
    lg.add_argument("--ids", required=True, help="token ids, comma or space separated")
    lg.add_argument("--out", required=True, help=".npy, or raw little-endian float32")
    lg.add_argument("--float32", action="store_true", help="compute in float32 (default float64)")
    en = sub.add_parser("entropy", help="mean attention entropy vs uniform")
    en.add_argument("--ckpt", required=True)
    en.add_argument("--ids", required=True)
    sc = sub.add_parser("selfcheck", help="compare forward() with an incremental second formulation")
    sc.add_argument("--ckpt", required=True)
    sc.add_argument("--ids", required=True)
    a = ap.parse_args(argv)
    if a.cmd == "make-checkpoint":
        print(make_checkpoint(a.shape, a.format, a.seed, a.outdir))
    elif a.cmd == "logits":
        sd, hp = load_checkpoint(a.ckpt)
        logits = forward(sd, hp, parse_ids(a.ids), torch.float32 if a.float32 else torch.float64)
        save_logits(logits, a.out)
        print("logits [%d, %d] -> %s" % (logits.shape[0], logits.shape[1], a.out), file=sys.stderr)
    elif a.cmd == "selfcheck":
        sd, hp = load_checkpoint(a.ckpt)
        r = self_check(sd, hp, parse_ids(a.ids))
        print("max |forward - incremental| / max|logit| = %.3g" % r)
        return 0 if r < 1e-10 else 1
    else:
        sd, hp = load_checkpoint(a.ckpt)
        e, u = attention_entropy(sd, hp, parse_ids(a.ids))
        print("attention entropy %.3f nats (uniform causal %.3f)" % (e, u))
    return 0


if __name__ == "__main__":
    sys.exit(main())
