#!/usr/bin/python3
"""test_pytorch.py GPT_BIN TMPDIR [--shapes tiny,odd] [--formats ...] [--types ...]

Compares gpt's logits with a PyTorch reference computed from the ORIGINAL
checkpoint (scripts/reference.py), for random checkpoints of several shapes
and formats:

  for each shape x format: make a random checkpoint, compute the reference
  logits [T, V] in float64, then for each type:
    export it with scripts/export.py, read the GGUF back with the small
    independent reader below (metadata, tensor names/types/shapes, and a numpy
    forward pass over the GGUF's own tensors: checks the exporter without gpt),
    run `gpt logits -m OUT.gguf` and compare.
  HF safetensors directories are also run directly (`gpt logits -m DIR`) and
  through `gpt convert DIR OUT.gguf --type T` (the same checks, including
  quantized blocks against the Q8_0/Q4_0 definition).

Limits, relative to max |reference logit|:
  f32 1e-4, f16 2e-2 against the float64 PyTorch reference.  q8_0 / q4_0
  against a float64 forward over the dequantized GGUF weights whose matrix
  inputs are rounded to Q8_0 first, as ggml-style integer kernels (and gpt's
  forward.c) do: 1e-2 (max and relative RMS), or twice the change that a
  1e-6 relative jitter before that rounding causes in the reference itself
  when that is larger (deep random networks amplify single rounding flips:
  ~2e-2 for the 124M shape, ~0 for tiny); the quantized model's distance from
  the float reference is checked loosely (relative RMS, QUANT_VS_FLOAT_RMS).
  Q4_0 files run with gpt's default F16 KV cache, so their reference rounds
  keys and values to half too; each F32 file also runs with `--kv-type f16`
  against that reference (KV_F16_TOL).
Ends with "N passed, M failed"; exit status 1 on any failure.
"""
import argparse
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "scripts"))
import reference  # noqa: E402

EXPORT = os.path.join(REPO, "scripts", "export.py")
PY = "/usr/bin/python3"

TOL = {"f32": 1e-4, "f16": 2e-2}
READBACK_TOL = {"f32": 1e-6, "f16": 2e-2}          # numpy forward over the GGUF vs reference
# gpt --kv-type f16 on an F32 model vs the forward with half keys and values:
# where gpt's float32 key and the float64 one straddle a half's rounding
# boundary they round one step apart (seen: up to 8.3e-5 on the shapes
# tiny and odd), while the unrounded reference is 5e-4 to 2.2e-3 away
KV_F16_TOL = 2e-4
QUANT_TOL = {"q8_0": 1e-2, "q4_0": 1e-2}  # gpt vs the dequantized GGUF with Q8_0-rounded activations
# dequantized-GGUF forward vs float reference, as a relative RMS error
# ||a - ref|| / ||ref|| (the max error of a random network is dominated by a
# few chaotic logits; weights shuffled within blocks would give ~1.4)
QUANT_VS_FLOAT_RMS = {"q8_0": 5e-2, "q4_0": 5e-1}
GGML = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8}
FILE_TYPE = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7}


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def check(self, case, ok, msg):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append("%s: %s" % (case, msg))
        print("%-4s %s: %s" % ("ok" if ok else "FAIL", case, msg), flush=True)


# ---- an independent GGUF reader -----------------------------------------------------

class Reader:
    """Parses a GGUF v2/v3 file by the specification: metadata into a dict,
    tensor infos into {name: (type, ne, offset)} and data offsets checked."""

    SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def __init__(self, path):
        with open(path, "rb") as f:
            self.buf = f.read()
        self.pos = 0
        if self.buf[:4] != b"GGUF":
            raise ValueError("bad magic")
        self.pos = 4
        self.version, n_tensors, n_kv = self.unpack("<IQQ")
        self.kv, self.kv_types = {}, {}
        for _ in range(n_kv):
            key = self.string()
            (t,) = self.unpack("<I")
            self.kv[key] = self.value(t)
            self.kv_types[key] = t if t != 9 else (9, self.last_array_type)
        self.tensors = {}
        for _ in range(n_tensors):
            name = self.string()
            (nd,) = self.unpack("<I")
            ne = self.unpack("<%dQ" % nd)
            t, off = self.unpack("<IQ")
            if name in self.tensors:
                raise ValueError("duplicate tensor %s" % name)
            self.tensors[name] = (t, tuple(ne), off)
        align = self.kv.get("general.alignment", 32)
        self.data = (self.pos + align - 1) // align * align
        self.align = align

    def unpack(self, fmt):
        v = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return v

    def string(self):
        (n,) = self.unpack("<Q")
        s = self.buf[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.unpack("<IQ")
            self.last_array_type = et
            return [self.value(et) for _ in range(n)]
        return self.unpack(self.SCALAR[t])[0]

    def array(self, name):
        """The tensor as float64 numpy array of shape (ne[1], ne[0]) or (ne[0],)."""
        t, ne, off = self.tensors[name]
        n = int(np.prod(ne))
        start = self.data + off
        if t == 0:
            a = np.frombuffer(self.buf, "<f4", n, start).astype(np.float64)
        elif t == 1:
            a = np.frombuffer(self.buf, "<f2", n, start).astype(np.float64)
        elif t == 8:  # Q8_0: per 32 values f16 d, 32 x int8
            blocks = np.frombuffer(self.buf, np.uint8, n // 32 * 34, start).reshape(-1, 34)
            d = blocks[:, :2].copy().view("<f2").astype(np.float64)
            q = blocks[:, 2:].view(np.int8).astype(np.float64)
            a = (d * q).reshape(-1)
        elif t == 2:  # Q4_0: f16 d, 16 bytes: low nibbles elements 0..15, high nibbles 16..31
            blocks = np.frombuffer(self.buf, np.uint8, n // 32 * 18, start).reshape(-1, 18)
            d = blocks[:, :2].copy().view("<f2").astype(np.float64)
            qs = blocks[:, 2:]
            q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float64) - 8.0
            a = (d * q).reshape(-1)
        else:
            raise ValueError("%s: tensor type %d" % (name, t))
        return a.reshape(tuple(reversed(ne)))

    def block_bytes(self, name, i, nbytes):
        t, ne, off = self.tensors[name]
        s = self.data + off + i * nbytes
        return self.buf[s:s + nbytes]


def q8_0_roundtrip(x, jitter=None):
    """x (T, K) float64 -> the values ggml's Q8_0 keeps of it: per 32 along K,
    d = amax/127 (stored f16), q = round(x/d) half away from zero.
    jitter: a numpy Generator; x is first multiplied by 1 + 1e-6 N(0, 1)."""
    T, K = x.shape
    b = x.numpy()
    if jitter is not None:
        b = b * (1 + 1e-6 * jitter.standard_normal(b.shape))
    b = b.astype(np.float32).reshape(T, K // 32, 32)
    d = np.abs(b).max(-1, keepdims=True) / np.float32(127)
    inv = np.divide(np.float32(1), d, out=np.zeros_like(d), where=d != 0)
    v = b * inv
    q = np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))
    return torch.from_numpy((d.astype(np.float16).astype(np.float64) * q).reshape(T, K))


def gguf_forward(r, ids, act_q8=False, jitter=None, kv_f16=False):
    """GPT-2 over the GGUF's tensors (y = W x with W stored (out, in)), float64.
    act_q8: round the input of every Q8_0/Q4_0 matrix product to Q8_0 first,
    as ggml-style integer kernels do (jitter: see q8_0_roundtrip).
    kv_f16: keys and values rounded to float32 and then to IEEE half before
    attention reads them, as an F16 KV cache holds them."""
    C = r.kv["gpt2.embedding_length"]
    nh = r.kv["gpt2.attention.head_count"]
    eps = r.kv["gpt2.attention.layer_norm_epsilon"]
    erf = r.kv.get("gpt.gelu", "tanh") == "erf"
    W = getattr(r, "weights", None)
    if W is None:  # dequantized once per file
        W = r.weights = {name: torch.from_numpy(r.array(name)) for name in r.tensors}

    def ln(x, name):
        mu = x.mean(-1, keepdim=True)
        y = (x - mu) / torch.sqrt(((x - mu) ** 2).mean(-1, keepdim=True) + eps) * W[name + ".weight"]
        return y + W[name + ".bias"] if name + ".bias" in W else y

    def lin(x, name):
        if act_q8 and r.tensors[name + ".weight"][0] in (2, 8):
            x = q8_0_roundtrip(x, jitter)
        y = x @ W[name + ".weight"].t()
        return y + W[name + ".bias"] if name + ".bias" in W else y

    T = len(ids)
    x = W["token_embd.weight"][torch.tensor(ids)] + W["position_embd.weight"][:T]
    hs = C // nh
    mask = torch.triu(torch.full((T, T), float("-inf"), dtype=torch.float64), 1)
    for i in range(r.kv["gpt2.block_count"]):
        b = "blk.%d." % i
        qkv = lin(ln(x, b + "attn_norm"), b + "attn_qkv")
        q, k, v = (qkv[:, j * C:(j + 1) * C].reshape(T, nh, hs).permute(1, 0, 2) for j in range(3))
        if kv_f16:
            k, v = (t.float().half().double() for t in (k, v))
        att = torch.softmax(q @ k.permute(0, 2, 1) / math.sqrt(hs) + mask, -1)
        x = x + lin((att @ v).permute(1, 0, 2).reshape(T, C), b + "attn_output")
        u = lin(ln(x, b + "ffn_norm"), b + "ffn_up")
        if erf:
            u = 0.5 * u * (1 + torch.erf(u / math.sqrt(2)))
        else:
            u = 0.5 * u * (1 + torch.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u ** 3)))
        x = x + lin(u, b + "ffn_down")
    x = ln(x, "output_norm")
    head = "output.weight" if "output.weight" in W else "token_embd.weight"
    if act_q8 and r.tensors[head][0] in (2, 8):
        x = q8_0_roundtrip(x, jitter)
    return (x @ W[head].t()).numpy()


# ---- what a file must hold ------------------------------------------------------------

def load_gpt2_vocab():
    d = reference.tokenizer_dir()
    with open(os.path.join(d, "encoder.json"), encoding="utf-8") as f:
        enc = json.load(f)
    tokens = sorted(enc, key=enc.get)
    with open(os.path.join(d, "vocab.bpe"), encoding="utf-8") as f:
        merges = [l for l in f.read().split("\n")[1:] if l]
    return tokens, merges


def expected_hparams(shape, fmt):
    s = reference.SHAPES[shape]
    hf = fmt.startswith("hf")
    n_ff = (s["hf_n_inner"] or 4 * s["n_embd"]) if hf else 4 * s["n_embd"]
    return {"gpt2.context_length": s["n_ctx"], "gpt2.embedding_length": s["n_embd"],
            "gpt2.feed_forward_length": n_ff, "gpt2.block_count": s["n_layer"],
            "gpt2.attention.head_count": s["n_head"]}, ("tanh" if hf else "erf"), fmt != "nanogpt-nobias"


def check_gguf(res, case, path, shape, fmt, qtype, vocab, from_convert=False):
    """Metadata, tensor set and types of an exported file; returns the Reader or None."""
    try:
        r = Reader(path)
    except Exception as e:  # any parse failure is a failed check
        res.check(case, False, "GGUF does not parse: %s" % e)
        return None
    errs = []
    hp, gelu, bias = expected_hparams(shape, fmt)
    kv = r.kv
    if r.version != 3:
        errs.append("version %d" % r.version)
    if kv.get("general.architecture") != "gpt2":
        errs.append("general.architecture %r" % kv.get("general.architecture"))
    for k, v in hp.items():
        if kv.get(k) != v or r.kv_types.get(k) != 4:
            errs.append("%s=%r (type %r), expected uint32 %d" % (k, kv.get(k), r.kv_types.get(k), v))
    eps = kv.get("gpt2.attention.layer_norm_epsilon")
    if r.kv_types.get("gpt2.attention.layer_norm_epsilon") != 6 or abs(eps - 1e-5) > 1e-9:
        errs.append("layer_norm_epsilon %r" % eps)
    if kv.get("gpt.gelu", "tanh") != gelu:
        errs.append("gpt.gelu %r, expected %s" % (kv.get("gpt.gelu"), gelu))
    if not from_convert:
        if kv.get("general.file_type") != FILE_TYPE[qtype]:
            errs.append("general.file_type %r" % kv.get("general.file_type"))
        if qtype in ("q8_0", "q4_0") and kv.get("general.quantization_version") != 2:
            errs.append("general.quantization_version %r" % kv.get("general.quantization_version"))
    tokens, merges = vocab
    if kv.get("tokenizer.ggml.model") != "gpt2":
        errs.append("tokenizer.ggml.model %r" % kv.get("tokenizer.ggml.model"))
    if kv.get("tokenizer.ggml.tokens") != tokens:
        errs.append("tokenizer.ggml.tokens differ from encoder.json")
    if kv.get("tokenizer.ggml.merges") != merges:
        errs.append("tokenizer.ggml.merges differ from vocab.bpe")
    tt = kv.get("tokenizer.ggml.token_type")
    if r.kv_types.get("tokenizer.ggml.token_type") != (9, 5) or tt != [1] * 50256 + [3]:
        errs.append("tokenizer.ggml.token_type wrong")
    for k in ("tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"):
        if kv.get(k) != 50256:
            errs.append("%s=%r" % (k, kv.get(k)))

    s = reference.SHAPES[shape]
    C, V, P = s["n_embd"], 50257, s["n_ctx"]
    F = hp["gpt2.feed_forward_length"]
    want = {"token_embd.weight": (C, V), "position_embd.weight": (C, P),
            "output_norm.weight": (C,), "output.weight": (C, V)}
    if bias:
        want["output_norm.bias"] = (C,)
    for i in range(s["n_layer"]):
        b = "blk.%d." % i
        for n, ne in (("attn_norm", (C,)), ("attn_qkv", (C, 3 * C)), ("attn_output", (C, C)),
                      ("ffn_norm", (C,)), ("ffn_up", (C, F)), ("ffn_down", (F, C))):
            want[b + n + ".weight"] = ne
            if bias:
                want[b + n + ".bias"] = (ne[1],) if len(ne) == 2 else ne
    got = {n: ne for n, (t, ne, off) in r.tensors.items()}
    if got != want:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        wrong = sorted(n for n in set(want) & set(got) if want[n] != got[n])
        errs.append("tensors: missing %s extra %s wrong shape %s" % (missing[:4], extra[:4], wrong[:4]))
    for n, (t, ne, off) in r.tensors.items():
        if off % r.align:
            errs.append("%s offset %d not aligned" % (n, off))
        if len(ne) == 1 or n == "position_embd.weight":
            want_t = 0
        else:
            want_t = GGML[qtype]
            if qtype in ("q8_0", "q4_0") and ne[0] % 32:
                want_t = 1
                if from_convert and t in (0, 1):  # gpt convert may choose either fallback
                    want_t = t
        if t != want_t:
            errs.append("%s type %d, expected %d" % (n, t, want_t))
    res.check(case, not errs, "GGUF metadata and tensors" + ("" if not errs else ": " + "; ".join(errs[:5])))
    return r


# ---- quantization against the definition --------------------------------------------

def f16_bytes(x):
    return struct.pack("<e", x)


def q8_0_block(xs):
    """ggml's Q8_0 for 32 floats, element by element (float32 arithmetic)."""
    xs = [np.float32(v) for v in xs]
    amax = max(abs(v) for v in xs)
    d = np.float32(amax / np.float32(127))
    inv = np.float32(1) / d if d else np.float32(0)
    out = f16_bytes(float(d))
    for v in xs:
        t = float(np.float32(v * inv))
        q = math.floor(abs(t) + 0.5) * (1 if t >= 0 else -1)
        out += struct.pack("<b", int(q))
    return out


def q4_0_block(xs):
    """ggml's Q4_0 for 32 floats, element by element (float32 arithmetic)."""
    xs = [np.float32(v) for v in xs]
    amax, m = np.float32(0), np.float32(0)
    for v in xs:
        if amax < abs(v):
            amax, m = abs(v), v
    d = np.float32(m / np.float32(-8))
    inv = np.float32(1) / d if d else np.float32(0)
    q = [min(15, int(float(np.float32(np.float32(v * inv) + np.float32(8.5))))) for v in xs]
    return f16_bytes(float(d)) + bytes(q[j] | (q[j + 16] << 4) for j in range(16))


def check_quant_blocks(res, case, r, sd, hp, qtype):
    """Blocks of the first rows of blk.0.ffn_up.weight against the definition
    (skipped when that matrix fell back to F16: rows not a multiple of 32)."""
    if r.tensors["blk.0.ffn_up.weight"][0] != GGML[qtype]:
        return
    w = sd["h.0.mlp.c_fc.weight"].numpy()
    if hp["layout"] == "conv1d":
        w = w.T  # GGUF row j = output unit j
    per_row = w.shape[1] // 32
    fn, nb = (q8_0_block, 34) if qtype == "q8_0" else (q4_0_block, 18)
    checked = bad = 0
    for row in range(4):
        for b in range(min(per_row, 3)):
            checked += 1
            want = fn(w[row, 32 * b:32 * b + 32])
            bad += r.block_bytes("blk.0.ffn_up.weight", row * per_row + b, nb) != want
    res.check(case, bad == 0, "%d %s blocks against the definition: %d differ" % (checked, qtype, bad))


# ---- running things ----------------------------------------------------------------------

def run(cmd, timeout=900):
    t = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"), time.time() - t


def gpt_logits(res, case, gpt, model, ids, out, vocab_n, extra=()):
    """Run `gpt logits` (with the flags in extra); returns [T, vocab_n] float32 or None."""
    if os.path.exists(out):
        os.remove(out)
    rc, so, se, dt = run([gpt, "logits", "-m", model, "--ids", ",".join(map(str, ids)), "-o", out, *extra])
    if rc != 0 or not os.path.exists(out):
        res.check(case, False, "gpt logits exited %d: %s" % (rc, (se.strip() or so.strip())[-300:]))
        return None
    a = np.fromfile(out, "<f4")
    if a.size != len(ids) * vocab_n:
        res.check(case, False, "gpt logits wrote %d floats, expected %d x %d" % (a.size, len(ids), vocab_n))
        return None
    return a.reshape(len(ids), vocab_n)


def rel_err(a, ref):
    return float(np.abs(a.astype(np.float64) - ref).max() / np.abs(ref).max())


def rel_rms(a, ref):
    return float(np.linalg.norm(a.astype(np.float64) - ref) / np.linalg.norm(ref))


def compare(res, case, got, ref, tol, what):
    if got is None:
        return None
    e = rel_err(got, ref)
    res.check(case, e <= tol and np.isfinite(got).all(),
              "%s max|err|/max|logit| = %.3g (limit %.2g)" % (what, e, tol))
    return e


def kv_f16_case(res, case, gpt, gguf, ids, out_bin, r, ref):
    """An F32 model with `--kv-type f16`: against the forward over the GGUF
    with keys and values rounded to half (KV_F16_TOL). And the unrounded
    reference must be farther than that limit, or the check could not tell an
    F16 cache from an F32 one."""
    got = gpt_logits(res, case + " --kv-type f16", gpt, gguf, ids, out_bin, 50257, ["--kv-type", "f16"])
    if got is None:
        return
    fwd_h = gguf_forward(r, ids, kv_f16=True)
    lim = KV_F16_TOL
    e, e_ref = rel_err(got, fwd_h), rel_err(got, ref)
    res.check(case + " --kv-type f16", e <= lim and np.isfinite(got).all(),
              "gpt --kv-type f16 vs the GGUF forward with half keys and values: %.3g (limit %.2g; vs the "
              "unrounded reference %.3g)" % (e, lim, e_ref))
    res.check(case + " --kv-type f16", e_ref > lim,
              "the unrounded reference is farther than the limit (%.3g > %.2g): the check tells the caches apart"
              % (e_ref, lim))


def run_case(res, args, shape, fmt, vocab, summary):
    tag = "%s/%s" % (shape, fmt)
    d = os.path.join(args.tmp, "%s-%s" % (shape, fmt))
    shutil.rmtree(d, ignore_errors=True)
    ckpt = reference.make_checkpoint(shape, fmt, args.seed, d)
    sd, hp = reference.load_checkpoint(ckpt)
    rng = random.Random(args.seed)
    T = min(64, reference.SHAPES[shape]["n_ctx"])
    ids = [rng.randrange(50257) for _ in range(T)]
    ref = reference.forward(sd, hp, ids).numpy()[:, :50257]  # nanoGPT's padded ids are trimmed
    ent, uni = reference.attention_entropy(sd, hp, ids)
    print("---- %s: T=%d, max|logit| %.3g, mean attention entropy %.2f nats (uniform causal %.2f)"
          % (tag, T, np.abs(ref).max(), ent, uni), flush=True)
    res.check(tag, ent < 0.75 * uni, "attention is far from uniform (entropy %.2f < 0.75 x %.2f)" % (ent, uni))
    sc = reference.self_check(sd, hp, ids[:16])
    res.check(tag, sc < 1e-10, "reference self-check (batched vs incremental) %.2g" % sc)
    out_bin = os.path.join(d, "logits.bin")

    def gguf_case(label, gguf, qtype, from_convert=False):
        case = "%s %s" % (tag, label)
        r = check_gguf(res, case, gguf, shape, fmt, qtype, vocab, from_convert)
        if r is None:
            return
        fwd = gguf_forward(r, ids)
        e_rb = rel_err(fwd, ref)
        if qtype in ("q8_0", "q4_0"):
            check_quant_blocks(res, case, r, sd, hp, qtype)
            rms = rel_rms(fwd, ref)
            res.check(case, rms <= QUANT_VS_FLOAT_RMS[qtype],
                      "dequantized-GGUF forward vs float reference: rel. RMS %.3g (limit %.0e), max %.3g"
                      % (rms, QUANT_VS_FLOAT_RMS[qtype], e_rb))
        else:
            res.check(case, e_rb <= READBACK_TOL[qtype],
                      "numpy forward over the GGUF vs reference %.3g (limit %.0e)" % (e_rb, READBACK_TOL[qtype]))
        r_keep = r
        del r
        if args.no_gpt:
            return
        got = gpt_logits(res, case, args.gpt, gguf, ids, out_bin, 50257)
        if qtype in ("q8_0", "q4_0"):
            # Rounding activations to 8 bits is discontinuous: where gpt's
            # float32 value and ours straddle a rounding boundary, one step
            # differs, and a deep random network amplifies such steps. So the
            # limit is QUANT_TOL or twice what a 1e-6 relative jitter before
            # rounding changes in the reference itself, whichever is larger.
            # gpt's default KV cache for Q4_0 models is F16 (gpt.h,
            # GPT_KV_AUTO): the reference rounds keys and values the same way
            h = qtype == "q4_0"
            fwd_q8 = gguf_forward(r_keep, ids, act_q8=True, kv_f16=h)
            fwd_j = gguf_forward(r_keep, ids, act_q8=True, jitter=np.random.default_rng(args.seed), kv_f16=h)
            lim_max = max(QUANT_TOL[qtype], 2 * rel_err(fwd_j, fwd_q8))
            lim_rms = max(QUANT_TOL[qtype], 2 * rel_rms(fwd_j, fwd_q8))
            e = compare(res, case, got, fwd_q8, lim_max, "gpt vs dequantized reference with Q8_0 activations")
            if got is not None:
                e_rms = rel_rms(got, fwd_q8)
                res.check(case, e_rms <= lim_rms, "the same, relative RMS %.3g (limit %.3g)" % (e_rms, lim_rms))
                print("     %s: gpt vs dequantized reference with f32 activations: max %.3g, rel. RMS %.3g; "
                      "vs float reference: max %.3g, rel. RMS %.3g"
                      % (case, rel_err(got, fwd), rel_rms(got, fwd), rel_err(got, ref), rel_rms(got, ref)))
        else:
            e = compare(res, case, got, ref, TOL[qtype], "gpt vs PyTorch")
            if qtype == "f32":
                kv_f16_case(res, case, args.gpt, gguf, ids, out_bin, r_keep, ref)
        summary.append((shape, fmt, label, e))

    for qtype in args.types:
        gguf = os.path.join(d, "export-%s.gguf" % qtype)
        rc, so, se, dt = run([PY, EXPORT, ckpt, gguf, "--type", qtype])
        res.check("%s export %s" % (tag, qtype), rc == 0, "export.py exit %d in %.1fs%s"
                  % (rc, dt, "" if rc == 0 else ": " + se.strip()[-300:]))
        if rc == 0:
            gguf_case("export %s" % qtype, gguf, qtype)
            os.remove(gguf)

    if fmt.startswith("hf-safetensors") and not args.no_gpt:
        case = "%s direct" % tag
        got = gpt_logits(res, case, args.gpt, d, ids, out_bin, 50257)
        summary.append((shape, fmt, "gpt -m DIR", compare(res, case, got, ref, TOL["f32"], "gpt -m DIR vs PyTorch")))
        for qtype in args.types:
            gguf = os.path.join(d, "convert-%s.gguf" % qtype)
            rc, so, se, dt = run([args.gpt, "convert", d, gguf, "--type", qtype])
            res.check("%s convert %s" % (tag, qtype), rc == 0, "gpt convert exit %d%s"
                      % (rc, "" if rc == 0 else ": " + (se.strip() or so.strip())[-300:]))
            if rc == 0:
                gguf_case("convert %s" % qtype, gguf, qtype, from_convert=True)
                os.remove(gguf)
    if not args.keep:
        shutil.rmtree(d, ignore_errors=True)


def export_extras(res, args):
    """export.py's options and its errors on bad input, on the tiny shape."""
    d = os.path.join(args.tmp, "extras")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    rng = random.Random(args.seed + 1)
    ids = [rng.randrange(50257) for _ in range(16)]
    out_bin = os.path.join(d, "logits.bin")

    # --pad-vocab keeps nanoGPT's 50304 rows as [PAD<i>] control tokens
    ckpt = reference.make_checkpoint("tiny", "nanogpt", args.seed, os.path.join(d, "n"))
    sd, hp = reference.load_checkpoint(ckpt)
    ref = reference.forward(sd, hp, ids).numpy()  # [T, 50304]
    g = os.path.join(d, "pad.gguf")
    rc, so, se, dt = run([PY, EXPORT, ckpt, g, "--pad-vocab", "--no-output"])
    r = Reader(g) if rc == 0 else None
    ok = (r is not None and len(r.kv["tokenizer.ggml.tokens"]) == 50304
          and r.kv["tokenizer.ggml.tokens"][50257] == "[PAD50257]"
          and r.kv["tokenizer.ggml.token_type"][50300] == 3
          and r.tensors["token_embd.weight"][1] == (32, 50304) and "output.weight" not in r.tensors)
    res.check("extras --pad-vocab --no-output", ok, "50304 tokens, [PAD<i>] control tokens, no output.weight (exit %d)" % rc)
    if ok and not args.no_gpt:
        compare(res, "extras --pad-vocab --no-output", gpt_logits(res, "extras --pad-vocab", args.gpt, g, ids, out_bin, 50304),
                ref, TOL["f32"], "gpt vs PyTorch (tied head, 50304 logits)")

    # export_nanogpt() from Python with a custom vocabulary: 256 bytes + 4 merges
    import export
    bu = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    tokens = [chr(b) for b in bu] + [chr(0x100 + i) for i in range(256 - len(bu))]  # not in byte order: fine here
    merges = ["t h", "th e", "a n", "an d"]
    tokens += ["th", "the", "an", "and"]
    sd_c = reference.random_weights("tiny", args.seed, vocab=len(tokens) + 4)  # 4 rows beyond the tokenizer
    model_args = dict(n_layer=2, n_head=2, n_embd=32, block_size=64, bias=True, vocab_size=len(tokens) + 4)
    g = os.path.join(d, "custom.gguf")
    err = None
    try:
        export.export_nanogpt({"_orig_mod.transformer." + k: v for k, v in sd_c.items()}, model_args, g,
                              type="f16", tokenizer=(tokens, merges), name="custom")
    except Exception as e:
        err = e
    r = Reader(g) if err is None else None
    ok = (r is not None and r.kv["tokenizer.ggml.tokens"] == tokens and r.kv["tokenizer.ggml.merges"] == merges
          and "tokenizer.ggml.eos_token_id" not in r.kv and r.kv["gpt.gelu"] == "erf"
          and r.tensors["output.weight"][1] == (32, len(tokens)) and r.kv["general.name"] == "custom")
    res.check("extras export_nanogpt()", ok, "custom tokenizer tuple, trimmed to %d tokens%s"
              % (len(tokens), "" if err is None else ": %s" % err))
    if ok and not args.no_gpt:
        hp_c = dict(layout="linear", n_head=2, eps=1e-5, gelu="erf", n_layer=2, n_vocab=len(tokens) + 4)
        cids = [rng.randrange(len(tokens)) for _ in range(16)]
        ref_c = reference.forward(sd_c, hp_c, cids).numpy()[:, :len(tokens)]
        compare(res, "extras export_nanogpt()", gpt_logits(res, "extras custom", args.gpt, g, cids, out_bin, len(tokens)),
                ref_c, TOL["f16"], "gpt vs PyTorch (custom vocabulary, f16)")

    # bad inputs: exit status 1 and a message naming the problem, no traceback
    ck = torch.load(ckpt)
    bad = {
        "missing tensor h.1.mlp.c_fc.weight": lambda c: c["model"].pop("transformer.h.1.mlp.c_fc.weight"),
        "tensor h.0.attn.c_attn.weight has shape (32, 32), expected (96, 32)":
            lambda c: c["model"].__setitem__("transformer.h.0.attn.c_attn.weight", torch.zeros(32, 32)),
        "model_args: missing n_head": lambda c: c["model_args"].pop("n_head"),
    }
    for want, damage in bad.items():
        c = {"model": dict(ck["model"]), "model_args": dict(ck["model_args"])}
        damage(c)
        path = os.path.join(d, "bad.pt")
        torch.save(c, path)
        rc, so, se, dt = run([PY, EXPORT, path, os.path.join(d, "bad.gguf")])
        res.check("extras bad input", rc == 1 and want in se and "Traceback" not in se,
                  "exit %d, %r" % (rc, se.strip()[-160:]))
    hf = reference.make_checkpoint("tiny", "hf-safetensors", args.seed, os.path.join(d, "hf"))
    os.remove(os.path.join(hf, "config.json"))
    rc, so, se, dt = run([PY, EXPORT, hf, os.path.join(d, "bad.gguf")])
    res.check("extras bad input", rc == 1 and "config.json" in se and "Traceback" not in se,
              "exit %d, %r" % (rc, se.strip()[-160:]))
    if not args.keep:
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("gpt", help="path of the gpt binary")
    ap.add_argument("tmp", help="a scratch directory (created)")
    ap.add_argument("--shapes", default="tiny,odd")
    ap.add_argument("--formats", default=",".join(reference.FORMATS))
    ap.add_argument("--types", default="f32,f16,q8_0,q4_0")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-gpt", action="store_true", help="check only the exporter (no gpt binary runs)")
    ap.add_argument("--keep", action="store_true", help="keep the checkpoints and GGUF files")
    args = ap.parse_args()
    args.types = args.types.split(",")
    args.gpt = os.path.abspath(args.gpt)
    os.makedirs(args.tmp, exist_ok=True)
    torch.set_num_threads(2)
    vocab = load_gpt2_vocab()
    res, summary = Results(), []
    if "tiny" in args.shapes.split(","):
        try:
            export_extras(res, args)
        except Exception as e:
            import traceback
            traceback.print_exc()
            res.check("extras", False, "exception %s: %s" % (type(e).__name__, e))
    for shape in args.shapes.split(","):
        for fmt in args.formats.split(","):
            try:
                run_case(res, args, shape, fmt, vocab, summary)
            except Exception as e:  # a crash in one case is a failure, not the end of the run
                import traceback
                traceback.print_exc()
                res.check("%s/%s" % (shape, fmt), False, "exception %s: %s" % (type(e).__name__, e))
    print("\nmax |gpt - reference| / max |logit|:")
    for shape, fmt, label, e in summary:
        print("  %-5s %-20s %-18s %s" % (shape, fmt, label, "-" if e is None else "%.3g" % e))
    if res.failures:
        print("\nfailures:")
        for f in res.failures:
            print("  " + f)
    print("%d passed, %d failed" % (res.passed, res.failed))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
