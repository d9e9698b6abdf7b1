#!/usr/bin/python3
"""The shipped model (models/shakespeare.gguf): gpt's greedy continuation of a
fixed prompt must equal PyTorch's, token for token.

  test_default_model.py GPT_BINARY MODEL.gguf

The reference side never runs gpt's code: a small GGUF reader written here
(F32/F16 tensors), the project's Python BPE encoder (tokenizer/train_bpe.py)
over the vocabulary files in tokenizer/shakespeare, and a float64 PyTorch
forward pass over the GGUF's weights (erf GELU, as the file's gpt.gelu says).
Checked:
  1. the GGUF's tokenizer.ggml.tokens/merges are tokenizer/shakespeare's;
  2. `gpt tokenize -m MODEL` gives the Python encoder's ids for the prompt;
  3. `gpt -m MODEL -p PROMPT --temp 0 -n 32 --probs 1` chooses PyTorch's
     greedy ids (read from its "[probs] chosen ID" lines), and its text is
     the decoded prompt + continuation.
A difference is accepted only at a tie: where PyTorch's top two logits are
closer than TIE (then the rest of the continuation legitimately diverges).
"""
import json
import math
import os
import re
import struct
import subprocess
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tokenizer"))
import train_bpe  # noqa: E402

PROMPT = "ROMEO:\nI will"
N_PREDICT = 32
TIE = 1e-3  # logits closer than this are a tie between F16-weight F32 math and float64


# ---- GGUF (just what this test needs) -------------------------------------------------

class GGUF:
    SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
               10: "<Q", 11: "<q", 12: "<d"}

    def __init__(self, path):
        with open(path, "rb") as f:
            self.buf = f.read()
        if self.buf[:4] != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        self.pos = 4
        version, n_tensors, n_kv = self._get("<IQQ")
        if version not in (2, 3):
            raise ValueError(f"{path}: GGUF version {version}")
        self.kv = {}
        for _ in range(n_kv):
            key = self._str()
            (t,) = self._get("<I")
            self.kv[key] = self._value(t)
        self.infos = {}
        for _ in range(n_tensors):
            name = self._str()
            (nd,) = self._get("<I")
            ne = self._get(f"<{nd}Q")
            t, off = self._get("<IQ")
            self.infos[name] = (t, ne, off)
        align = self.kv.get("general.alignment", 32)
        self.data = (self.pos + align - 1) // align * align

    def _get(self, fmt):
        v = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return v

    def _str(self):
        (n,) = self._get("<Q")
        s = self.buf[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def _value(self, t):
        if t == 8:
            return self._str()
        if t == 9:
            et, n = self._get("<IQ")
            return [self._value(et) for _ in range(n)]
        return self._get(self.SCALARS[t])[0]

    def tensor(self, name):
        """float64 torch tensor shaped (ne[1], ne[0]) for a matrix, (ne[0],) for a vector."""
        t, ne, off = self.infos[name]
        n = int(np.prod(ne))
        dtype = {0: "<f4", 1: "<f2"}.get(t)
        if dtype is None:
            raise ValueError(f"{name}: tensor type {t} (this test reads F32/F16 only)")
        a = np.frombuffer(self.buf, dtype, n, self.data + off).astype(np.float64)
        return torch.from_numpy(a.reshape(tuple(reversed(ne))).copy())


# ---- the reference forward pass ---------------------------------------------------------

def load_weights(g):
    return {name: g.tensor(name) for name in g.infos}


def forward(W, kv, ids):
    """Logits (T, V) for ids at positions 0..T-1; W[name] is (out, in) as stored."""
    C = kv["gpt2.embedding_length"]
    nh = kv["gpt2.attention.head_count"]
    eps = kv["gpt2.attention.layer_norm_epsilon"]
    erf = kv.get("gpt.gelu", "tanh") == "erf"
    T, hs = len(ids), C // nh

    def ln(x, name):
        y = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + eps)
        y = y * W[name + ".weight"]
        return y + W[name + ".bias"] if name + ".bias" in W else y

    def linear(x, name):
        y = x @ W[name + ".weight"].T  # x (T, in) @ W.T (in, out)
        return y + W[name + ".bias"] if name + ".bias" in W else y

    def gelu(x):
        if erf:
            return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))

    x = W["token_embd.weight"][torch.tensor(ids)] + W["position_embd.weight"][:T]  # (T, C)
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    for i in range(kv["gpt2.block_count"]):
        b = f"blk.{i}."
        q, k, v = linear(ln(x, b + "attn_norm"), b + "attn_qkv").split(C, dim=1)  # (T, C) each
        q, k, v = (t.reshape(T, nh, hs).transpose(0, 1) for t in (q, k, v))  # (nh, T, hs)
        att = (q @ k.transpose(1, 2) / math.sqrt(hs)).masked_fill(future, float("-inf"))
        y = (torch.softmax(att, dim=-1) @ v).transpose(0, 1).reshape(T, C)
        x = x + linear(y, b + "attn_output")
        x = x + linear(gelu(linear(ln(x, b + "ffn_norm"), b + "ffn_up")), b + "ffn_down")
    head = W.get("output.weight", W["token_embd.weight"])  # (V, C)
    return ln(x, "output_norm") @ head.T


def greedy(W, kv, ids, n):
    """n greedy ids, and at each step the gap between the best and second-best logit."""
    ids, out, gaps = list(ids), [], []
    for _ in range(n):
        logits = forward(W, kv, ids)[-1]
        top2 = torch.topk(logits, 2)
        out.append(int(top2.indices[0]))
        gaps.append(float(top2.values[0] - top2.values[1]))
        ids.append(out[-1])
    return out, gaps


# ---- the test ----------------------------------------------------------------------------

def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    gpt, model = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    g = GGUF(model)
    kv = g.kv

    # 1. the file's vocabulary is tokenizer/shakespeare's
    tok_dir = os.path.join(ROOT, "tokenizer", "shakespeare")
    enc = train_bpe.Encoder(os.path.join(tok_dir, "vocab.json"), os.path.join(tok_dir, "merges.txt"))
    tokens = [enc.id_to_token[i] for i in range(enc.n_vocab)]
    with open(os.path.join(tok_dir, "merges.txt"), encoding="utf-8") as f:
        merges = [m for m in f.read().split("\n")[1:] if m]
    if kv.get("tokenizer.ggml.tokens") != tokens:
        fail("tokenizer.ggml.tokens differ from tokenizer/shakespeare/vocab.json")
    if kv.get("tokenizer.ggml.merges") != merges:
        fail("tokenizer.ggml.merges differ from tokenizer/shakespeare/merges.txt")
    print(f"ok: vocabulary ({len(tokens)} tokens, {len(merges)} merges), gelu={kv.get('gpt.gelu')}")

    # 2. the prompt's ids
    prompt_ids = enc.encode(PROMPT)
    r = subprocess.run([gpt, "tokenize", "-m", model], input=PROMPT.encode(), capture_output=True,
                       timeout=300)
    if r.returncode != 0:
        fail(f"gpt tokenize exited {r.returncode}: {r.stderr.decode(errors='replace')}")
    got_prompt = [int(x) for x in r.stdout.split()]
    if got_prompt != prompt_ids:
        fail(f"prompt ids: gpt {got_prompt}, Python encoder {prompt_ids}")
    print(f"ok: prompt {PROMPT!r} -> {prompt_ids}")

    # 3. greedy continuation
    W = load_weights(g)
    ref, gaps = greedy(W, kv, prompt_ids, N_PREDICT)
    r = subprocess.run([gpt, "-m", model, "-p", PROMPT, "--temp", "0", "-n", str(N_PREDICT),
                        "--probs", "1"], capture_output=True, timeout=300)
    if r.returncode != 0:
        fail(f"gpt exited {r.returncode}: {r.stderr.decode(errors='replace')}")
    got = [int(m) for m in re.findall(rb"^\[probs\] chosen (\d+):", r.stderr, re.M)]
    print(f"PyTorch: {ref}\ngpt:     {got}\nsmallest top-2 logit gap: {min(gaps):.4f}")
    for i, want in enumerate(ref):
        if i >= len(got):
            fail(f"gpt stopped after {len(got)} tokens, PyTorch made {len(ref)}")
        if got[i] != want:
            if gaps[i] < TIE:
                print(f"ok: tie at step {i} (gap {gaps[i]:.2e}); compared {i} tokens")
                return
            fail(f"step {i}: gpt chose {got[i]}, PyTorch {want} (gap {gaps[i]:.4f})")
    if len(got) != len(ref):
        fail(f"gpt made {len(got)} tokens, PyTorch {len(ref)}")
    text = enc.decode(prompt_ids + ref)
    out = r.stdout.decode("utf-8", errors="replace")
    if out not in (text, text + "\n"):  # gpt may end its output with a newline
        fail(f"gpt's text {out!r} is not the decoded continuation {text!r}")
    print(f"ok: {len(ref)} greedy tokens identical:\n{text}")


if __name__ == "__main__":
    main()
