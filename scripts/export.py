#!/usr/bin/python3
"""Export a GPT-2 checkpoint (nanoGPT ckpt.pt or Hugging Face GPT-2) to GGUF.

usage: export.py SRC OUT.gguf [--type f32|f16|q8_0|q4_0] [--no-output]
                 [--tokenizer DIR] [--pad-vocab] [--name NAME]

SRC is one of
  - a nanoGPT checkpoint (torch.save'd dict with the state dict under 'model'
    and the config under 'model_args'; keys may carry torch.compile's
    '_orig_mod.' prefix; bias=False models have no bias tensors);
  - a Hugging Face GPT-2 directory holding config.json and pytorch_model.bin
    or model.safetensors (plus vocab.json, merges.txt), or the weights file
    itself with those files beside it.

The file follows llama.cpp's `gpt2` architecture (see the README of gpt):
matrices y = W x are written with ne = {in, out}; norms, biases and
position_embd stay F32; --type chooses the type of the 2-D matrices
(token_embd, output and the four per-layer matrices).  Q8_0/Q4_0 need a
row length (ne[0]) that is a multiple of 32: other matrices fall back to F16.

The tokenizer metadata comes from vocab.json + merges.txt beside an HF
checkpoint, else from --tokenizer DIR (encoder.json + vocab.bpe or
vocab.json + merges.txt), else GPT-2's vocabulary in the repository
(tokenizer/gpt2).  A model whose vocab_size exceeds the tokenizer's (nanoGPT
pads 50257 to 50304) is trimmed: the extra rows of token_embd/output are
dropped, as no token can produce or be those ids.  --pad-vocab instead keeps
them and names them "[PAD<i>]" control tokens.

From Python (e.g. a training script):
    sys.path.insert(0, "scripts"); import export
    export.export_nanogpt(model.state_dict(), model_args, "out.gguf", type="f16")
"""
import argparse
import json
import os
import re
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_writer as gw  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TOKENIZER_DIRS = [
    os.path.join(REPO, "tokenizer", "gpt2"),
    os.path.join(os.path.dirname(REPO), "shared", "tokenizer", "gpt2"),
    "/work/shared/tokenizer/gpt2",
]
BIG_MODEL_BYTES = 64 << 20  # print per-tensor progress above this


class ExportError(Exception):
    """A problem with the input, reported as one line and exit status 1."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- tokenizers ---------------------------------------------------------------------

def _read_vocab_json(path):
    """{token: id} with ids 0..n-1 -> list of tokens indexed by id."""
    try:
        with open(path, encoding="utf-8") as f:
            enc = json.load(f)
    except (OSError, ValueError) as e:
        raise ExportError("%s: %s" % (path, e))
    if not isinstance(enc, dict) or not enc:
        raise ExportError("%s: expected a JSON object mapping tokens to ids" % path)
    tokens = [None] * len(enc)
    for tok, i in enc.items():
        if not isinstance(i, int) or not 0 <= i < len(enc) or tokens[i] is not None:
            raise ExportError("%s: token %r has id %r; ids must be 0..%d, each once"
                              % (path, tok, i, len(enc) - 1))
        tokens[i] = tok
    return tokens


def _read_merges(path):
    """Merge rules in rank order, "LEFT RIGHT" each; a '#version' first line is skipped."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except (OSError, ValueError) as e:
        raise ExportError("%s: %s" % (path, e))
    if lines and lines[0].startswith("#version"):
        lines = lines[1:]
    merges = []
    for n, line in enumerate(lines):
        if line == "":
            continue
        if len(line.split(" ")) != 2:
            raise ExportError("%s: merge %d is not 'LEFT RIGHT': %r" % (path, n, line))
        merges.append(line)
    return merges


def load_tokenizer_dir(d):
    """(tokens, merges) from a directory with encoder.json + vocab.bpe or vocab.json + merges.txt."""
    for vocab, merges in (("encoder.json", "vocab.bpe"), ("vocab.json", "merges.txt")):
        vp, mp = os.path.join(d, vocab), os.path.join(d, merges)
        if os.path.isfile(vp) and os.path.isfile(mp):
            return _read_vocab_json(vp), _read_merges(mp)
    raise ExportError("%s: no tokenizer (encoder.json + vocab.bpe or vocab.json + merges.txt)" % d)


def default_tokenizer():
    for d in DEFAULT_TOKENIZER_DIRS:
        if os.path.isfile(os.path.join(d, "encoder.json")):
            return load_tokenizer_dir(d)
    raise ExportError("GPT-2's tokenizer not found in %s; pass --tokenizer DIR"
                      % " or ".join(DEFAULT_TOKENIZER_DIRS))


def _is_control(tok):
    return re.fullmatch(r"<\|[^|]*\|>|\[PAD\d+\]", tok) is not None


# ---- weights --------------------------------------------------------------------------

def _np(t):
    """A torch tensor or array -> float32 numpy array."""
    if hasattr(t, "detach"):
        t = t.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()
        t = t.numpy()
    return np.asarray(t, dtype=np.float32)


def read_safetensors(path):
    """{name: float32 array} from a .safetensors file (F32, F16 or BF16 tensors)."""
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 100 << 20:
                raise ExportError("%s: header length %d is implausible" % (path, n))
            header = json.loads(f.read(n))
    except (OSError, ValueError, struct.error) as e:
        raise ExportError("%s: not a safetensors file (%s)" % (path, e))
    raw = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        if not 0 <= a <= b <= len(raw):
            raise ExportError("%s: tensor %s has data_offsets %s beyond the file" % (path, name, [a, b]))
        buf, shape, dt = raw[a:b], tuple(info["shape"]), info["dtype"]
        if dt == "F32":
            arr = buf.view("<f4")
        elif dt == "F16":
            arr = buf.view("<f2").astype(np.float32)
        elif dt == "BF16":
            arr = (buf.view("<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ExportError("%s: tensor %s has dtype %s (F32, F16, BF16 supported)" % (path, name, dt))
        if arr.size != int(np.prod(shape)):
            raise ExportError("%s: tensor %s has %d elements for shape %s" % (path, name, arr.size, shape))
        out[name] = arr.reshape(shape)
    return out


def _take(sd, key, shape, src):
    """sd[key] as float32 with the expected shape, or an ExportError naming it."""
    if key not in sd:
        raise ExportError("%s: missing tensor %s" % (src, key))
    a = _np(sd[key])
    if tuple(a.shape) != tuple(shape):
        raise ExportError("%s: tensor %s has shape %s, expected %s" % (src, key, tuple(a.shape), tuple(shape)))
    return a


def _strip(sd, prefixes):
    out = {}
    for k, v in sd.items():
        for p in prefixes:
            if k.startswith(p):
                k = k[len(p):]
        out[k] = v
    return out


def _check_leftovers(sd, used, src, skip=()):
    extra = [k for k in sd if k not in used and not any(k.endswith(s) for s in skip)]
    if extra:
        log("export: %s: ignoring %d unknown tensor(s): %s" % (src, len(extra), ", ".join(extra[:8])))


def _gpt2_tensors(sd, hp, linear_is_conv1d, has_bias, src):
    """Tensors in GGUF names and orientation ((out, in) row-major) from a state
    dict with GPT-2 module names (no prefix): wte, wpe, h.N.*, ln_f, lm_head.

    linear_is_conv1d: HF's Conv1D stores W as (in, out) and computes x @ W;
    nanoGPT's nn.Linear stores (out, in) and computes x @ W.T."""
    C, F, L, P = hp["n_embd"], hp["n_ff"], hp["n_layer"], hp["n_ctx"]
    if "wte.weight" not in sd:
        raise ExportError("%s: missing tensor wte.weight" % src)
    V = _np(sd["wte.weight"]).shape[0]
    used = set()

    def take(key, shape):
        used.add(key)
        return _take(sd, key, shape, src)

    def matrix(key, n_in, n_out):
        if linear_is_conv1d:
            return take(key, (n_in, n_out)).T
        return take(key, (n_out, n_in))

    t = {"token_embd.weight": take("wte.weight", (V, C)),
         "position_embd.weight": take("wpe.weight", (P, C))}
    for i in range(L):
        h, b = "h.%d." % i, "blk.%d." % i
        t[b + "attn_norm.weight"] = take(h + "ln_1.weight", (C,))
        if has_bias:
            t[b + "attn_norm.bias"] = take(h + "ln_1.bias", (C,))
        t[b + "attn_qkv.weight"] = matrix(h + "attn.c_attn.weight", C, 3 * C)
        if has_bias:
            t[b + "attn_qkv.bias"] = take(h + "attn.c_attn.bias", (3 * C,))
        t[b + "attn_output.weight"] = matrix(h + "attn.c_proj.weight", C, C)
        if has_bias:
            t[b + "attn_output.bias"] = take(h + "attn.c_proj.bias", (C,))
        t[b + "ffn_norm.weight"] = take(h + "ln_2.weight", (C,))
        if has_bias:
            t[b + "ffn_norm.bias"] = take(h + "ln_2.bias", (C,))
        t[b + "ffn_up.weight"] = matrix(h + "mlp.c_fc.weight", C, F)
        if has_bias:
            t[b + "ffn_up.bias"] = take(h + "mlp.c_fc.bias", (F,))
        t[b + "ffn_down.weight"] = matrix(h + "mlp.c_proj.weight", F, C)
        if has_bias:
            t[b + "ffn_down.bias"] = take(h + "mlp.c_proj.bias", (C,))
    t["output_norm.weight"] = take("ln_f.weight", (C,))
    if has_bias:
        t["output_norm.bias"] = take("ln_f.bias", (C,))
    if "lm_head.weight" in sd:
        head = take("lm_head.weight", (V, C))
        if not np.array_equal(head, t["token_embd.weight"]):
            t["output.weight"] = head  # an untied head
    if "h.%d.ln_1.weight" % L in sd:
        raise ExportError("%s: has more layers than n_layer=%d" % (src, L))
    _check_leftovers(sd, used, src, skip=(".attn.bias", ".attn.masked_bias", "lm_head.weight"))
    return t


# ---- writing --------------------------------------------------------------------------

def write_gguf(tensors, hp, out_path, type="f32", tokenizer=None, name="gpt2",
               write_output=True, pad_vocab=False):
    """Write GGUF tensors (GGUF names, (out, in) float32 arrays) and metadata.

    hp: n_ctx, n_embd, n_ff, n_layer, n_head, eps, gelu ("tanh"|"erf").
    tokenizer: (tokens, merges), tokens in GPT-2's byte-to-unicode alphabet."""
    if type not in gw.TYPE_BY_NAME:
        raise ExportError("--type %s: expected one of %s" % (type, ", ".join(gw.TYPE_BY_NAME)))
    if hp["gelu"] not in ("tanh", "erf"):
        raise ExportError("gelu %r: expected tanh or erf" % hp["gelu"])
    if hp["n_embd"] % hp["n_head"]:
        raise ExportError("n_embd=%d is not a multiple of n_head=%d" % (hp["n_embd"], hp["n_head"]))
    tokens, merges = tokenizer if tokenizer is not None else default_tokenizer()
    tokens, merges = list(tokens), list(merges)
    V = tensors["token_embd.weight"].shape[0]
    tied = "output.weight" not in tensors
    if V < len(tokens):
        raise ExportError("the model has %d token rows but the tokenizer has %d tokens" % (V, len(tokens)))
    if V > len(tokens):
        if pad_vocab:
            log("export: padding the vocabulary %d -> %d with [PAD<i>] control tokens" % (len(tokens), V))
            tokens += ["[PAD%d]" % i for i in range(len(tokens), V)]
        else:
            log("export: trimming the vocabulary %d -> %d (the tokenizer's size)" % (V, len(tokens)))
            for k in ("token_embd.weight", "output.weight"):
                if k in tensors:
                    tensors[k] = tensors[k][: len(tokens)]
    if tied and write_output:
        tensors["output.weight"] = tensors["token_embd.weight"]  # llama.cpp's gpt2 loader wants it
    if not tied and not write_output:
        raise ExportError("--no-output: the model's head is not tied to its token embedding")

    qtype = gw.TYPE_BY_NAME[type]
    w = gw.GGUFWriter()
    w.add_string("general.architecture", "gpt2")
    w.add_string("general.name", name)
    w.add_uint32("general.file_type", gw.FILE_TYPE[qtype])
    if qtype in (gw.GGML_Q8_0, gw.GGML_Q4_0):
        w.add_uint32("general.quantization_version", 2)
    w.add_uint32("gpt2.context_length", hp["n_ctx"])
    w.add_uint32("gpt2.embedding_length", hp["n_embd"])
    w.add_uint32("gpt2.feed_forward_length", hp["n_ff"])
    w.add_uint32("gpt2.block_count", hp["n_layer"])
    w.add_uint32("gpt2.attention.head_count", hp["n_head"])
    w.add_float32("gpt2.attention.layer_norm_epsilon", hp["eps"])
    w.add_string("gpt.gelu", hp["gelu"])
    w.add_string("tokenizer.ggml.model", "gpt2")
    w.add_string("tokenizer.ggml.pre", "gpt-2")
    w.add_array("tokenizer.ggml.tokens", gw.T_STRING, tokens)
    w.add_array("tokenizer.ggml.token_type", gw.T_INT32, [3 if _is_control(t) else 1 for t in tokens])
    w.add_array("tokenizer.ggml.merges", gw.T_STRING, merges)
    if "<|endoftext|>" in tokens:
        eot = tokens.index("<|endoftext|>")
        w.add_uint32("tokenizer.ggml.bos_token_id", eot)
        w.add_uint32("tokenizer.ggml.eos_token_id", eot)

    fallback = []
    for key, arr in tensors.items():
        t = gw.GGML_F32
        if arr.ndim == 2 and key != "position_embd.weight":
            t = qtype
            if t in (gw.GGML_Q8_0, gw.GGML_Q4_0) and arr.shape[1] % gw.QK:
                t = gw.GGML_F16
                fallback.append(key)
        w.add_tensor(key, arr, t)
    if fallback:
        log("export: %d matri%s with rows not a multiple of 32 written as f16 (%s...)"
            % (len(fallback), "x" if len(fallback) == 1 else "ces", fallback[0]))
    total = sum(t[4] for t in w.tensors)
    progress = None
    if total > BIG_MODEL_BYTES:
        def progress(i, n, key):
            log("export: [%d/%d] %s" % (i, n, key))
    w.write(out_path, progress=progress)
    log("export: wrote %s (%s, %d tensors, %.1f MB)" % (out_path, type, len(w.tensors), os.path.getsize(out_path) / 1e6))


# ---- nanoGPT ------------------------------------------------------------------------

def export_nanogpt(state_dict, model_args, out_path, type="f32", tokenizer_dir=None, tokenizer=None,
                   gelu="erf", name="nanogpt", write_output=True, pad_vocab=False):
    """Write a nanoGPT model to out_path as GGUF.

    state_dict: the model's state dict (torch tensors or numpy arrays) with
        nanoGPT's names (transformer.wte.weight, transformer.h.N.attn.c_attn.weight,
        ..., lm_head.weight); a '_orig_mod.' prefix (torch.compile) is removed.
        Linear weights are nn.Linear's (out, in).  With model_args['bias'] False
        there are no bias tensors at all.
    model_args: dict with n_layer, n_head, n_embd, block_size, vocab_size, bias.
    type: 'f32', 'f16', 'q8_0' or 'q4_0' for the 2-D matrices.
    tokenizer: None, or (tokens, merges) for a custom vocabulary: tokens is a
        list indexed by id of strings in GPT-2's byte-to-unicode alphabet
        (e.g. "Ġthe", "Ċ" for a newline; "<|endoftext|>" becomes a control
        token and the bos/eos id), merges a list of "LEFT RIGHT" strings in
        rank order (may be empty, e.g. for a character-level vocabulary).
    tokenizer_dir: else a directory with encoder.json + vocab.bpe or
        vocab.json + merges.txt; with neither, GPT-2's vocabulary.
    gelu: 'erf' (nanoGPT's nn.GELU()) or 'tanh'.
    write_output: also write output.weight (a copy of the tied embedding).
    pad_vocab: keep rows beyond the tokenizer's size as [PAD<i>] tokens
        instead of trimming them.
    Raises ExportError on a missing key or a shape mismatch."""
    for k in ("n_layer", "n_head", "n_embd", "block_size", "vocab_size"):
        if k not in model_args:
            raise ExportError("model_args: missing %s" % k)
    sd = _strip(state_dict, ("_orig_mod.", "transformer."))
    C = int(model_args["n_embd"])
    hp = {"n_ctx": int(model_args["block_size"]), "n_embd": C, "n_ff": 4 * C,
          "n_layer": int(model_args["n_layer"]), "n_head": int(model_args["n_head"]),
          "eps": 1e-5, "gelu": gelu}
    has_bias = bool(model_args.get("bias", True))
    src = "nanoGPT state dict"
    if has_bias and "h.0.ln_1.bias" not in sd:
        raise ExportError("%s: model_args say bias=True but h.0.ln_1.bias is missing" % src)
    if not has_bias and "h.0.ln_1.bias" in sd:
        raise ExportError("%s: model_args say bias=False but h.0.ln_1.bias is present" % src)
    tensors = _gpt2_tensors(sd, hp, linear_is_conv1d=False, has_bias=has_bias, src=src)
    V = tensors["token_embd.weight"].shape[0]
    if V != int(model_args["vocab_size"]):
        raise ExportError("%s: wte has %d rows but vocab_size=%s" % (src, V, model_args["vocab_size"]))
    if tokenizer is None and tokenizer_dir is not None:
        tokenizer = load_tokenizer_dir(tokenizer_dir)
    write_gguf(tensors, hp, out_path, type=type, tokenizer=tokenizer, name=name,
               write_output=write_output, pad_vocab=pad_vocab)


# ---- Hugging Face ----------------------------------------------------------------------

HF_GELU = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu_fast": "tanh", "gelu": "erf"}


def export_hf(weights_path, out_path, type="f32", tokenizer_dir=None, name=None,
              write_output=True, pad_vocab=False):
    """An HF GPT-2 checkpoint (pytorch_model.bin or model.safetensors with
    config.json beside it) -> GGUF."""
    d = os.path.dirname(os.path.abspath(weights_path))
    cfg_path = os.path.join(d, "config.json")
    try:
        with open(cfg_path, encoding="utf-8") as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        raise ExportError("%s: %s" % (cfg_path, e))
    for k in ("n_embd", "n_layer", "n_head", "vocab_size"):
        if not isinstance(cfg.get(k), int):
            raise ExportError("%s: missing or non-integer %s" % (cfg_path, k))
    n_ctx = cfg.get("n_positions", cfg.get("n_ctx"))
    if not isinstance(n_ctx, int):
        raise ExportError("%s: missing n_positions" % cfg_path)
    act = cfg.get("activation_function", "gelu_new")
    if act not in HF_GELU:
        raise ExportError("%s: activation_function %r is not supported" % (cfg_path, act))
    if cfg.get("scale_attn_by_inverse_layer_idx") or cfg.get("scale_attn_weights", True) is not True:
        raise ExportError("%s: non-standard attention scaling is not supported" % cfg_path)
    C = cfg["n_embd"]
    hp = {"n_ctx": n_ctx, "n_embd": C, "n_ff": cfg.get("n_inner") or 4 * C,
          "n_layer": cfg["n_layer"], "n_head": cfg["n_head"],
          "eps": float(cfg.get("layer_norm_epsilon", 1e-5)), "gelu": HF_GELU[act]}

    if weights_path.endswith(".safetensors"):
        sd = read_safetensors(weights_path)
    else:
        import torch
        try:
            sd = torch.load(weights_path, map_location="cpu")
        except Exception as e:  # torch raises many kinds
            raise ExportError("%s: cannot load (%s)" % (weights_path, e))
    if not isinstance(sd, dict):
        raise ExportError("%s: expected a state dict" % weights_path)
    sd = _strip(sd, ("transformer.",))
    tensors = _gpt2_tensors(sd, hp, linear_is_conv1d=True, has_bias=True, src=weights_path)
    V = tensors["token_embd.weight"].shape[0]
    if V != cfg["vocab_size"]:
        raise ExportError("%s: wte has %d rows but config vocab_size=%d" % (weights_path, V, cfg["vocab_size"]))

    if os.path.isfile(os.path.join(d, "vocab.json")) and os.path.isfile(os.path.join(d, "merges.txt")):
        tokenizer = load_tokenizer_dir(d)
    elif tokenizer_dir is not None:
        tokenizer = load_tokenizer_dir(tokenizer_dir)
    else:
        tokenizer = default_tokenizer()
    write_gguf(tensors, hp, out_path, type=type, tokenizer=tokenizer,
               name=name or os.path.basename(d) or "gpt2", write_output=write_output, pad_vocab=pad_vocab)


def _hf_weights_in(d):
    for f in ("model.safetensors", "pytorch_model.bin"):
        if os.path.isfile(os.path.join(d, f)):
            return os.path.join(d, f)
    raise ExportError("%s: no model.safetensors or pytorch_model.bin" % d)


def export_path(src, out_path, type="f32", tokenizer_dir=None, name=None, write_output=True, pad_vocab=False):
    """Export whatever SRC is (see the module docstring)."""
    if os.path.isdir(src):
        return export_hf(_hf_weights_in(src), out_path, type, tokenizer_dir, name, write_output, pad_vocab)
    if not os.path.isfile(src):
        raise ExportError("%s: no such file or directory" % src)
    if src.endswith(".safetensors"):
        return export_hf(src, out_path, type, tokenizer_dir, name, write_output, pad_vocab)
    import torch
    try:
        ck = torch.load(src, map_location="cpu")
    except Exception as e:
        raise ExportError("%s: cannot load with torch.load (%s)" % (src, e))
    if isinstance(ck, dict) and "model" in ck and "model_args" in ck:
        log("export: %s: nanoGPT checkpoint %s" % (src, ck["model_args"]))
        try:
            return export_nanogpt(ck["model"], ck["model_args"], out_path, type, tokenizer_dir,
                                  name=name or os.path.splitext(os.path.basename(src))[0],
                                  write_output=write_output, pad_vocab=pad_vocab)
        except ExportError as e:
            raise ExportError("%s: %s" % (src, e))
    if isinstance(ck, dict) and os.path.isfile(os.path.join(os.path.dirname(os.path.abspath(src)), "config.json")):
        del ck
        return export_hf(src, out_path, type, tokenizer_dir, name, write_output, pad_vocab)
    raise ExportError("%s: neither a nanoGPT checkpoint ('model' and 'model_args') "
                      "nor an HF state dict with config.json beside it" % src)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="A model vocabulary larger than the tokenizer's (nanoGPT pads 50257 to 50304) is trimmed "
               "to the tokenizer's size: the extra rows of token_embd/output are dropped "
               "(--pad-vocab keeps them as [PAD<i>] control tokens). Q8_0/Q4_0 quantize only 2-D "
               "matrices whose rows are a multiple of 32 (others: F16); position_embd, norms and "
               "biases stay F32.")
    ap.add_argument("src", metavar="SRC", help="nanoGPT ckpt.pt, HF GPT-2 directory, or HF weights file")
    ap.add_argument("out", metavar="OUT.gguf")
    ap.add_argument("--type", default="f32", choices=list(gw.TYPE_BY_NAME), help="type of the matrices (default f32)")
    ap.add_argument("--no-output", action="store_true",
                    help="do not write output.weight for a tied head (gpt accepts that; llama.cpp needs it)")
    ap.add_argument("--tokenizer", metavar="DIR",
                    help="encoder.json+vocab.bpe or vocab.json+merges.txt (default: beside an HF model, "
                         "else GPT-2's in tokenizer/gpt2)")
    ap.add_argument("--pad-vocab", action="store_true", help="pad the token list instead of trimming the model")
    ap.add_argument("--name", help="general.name (default: from SRC)")
    a = ap.parse_args(argv)
    try:
        export_path(a.src, a.out, a.type, a.tokenizer, a.name, not a.no_output, a.pad_vocab)
    except ExportError as e:
        print("export: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
