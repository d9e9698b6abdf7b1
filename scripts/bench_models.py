#!/usr/bin/python3
"""bench_models.py: random GPT-2-shaped GGUF files for `gpt bench`.

  bench_models.py OUTDIR [--shapes 124m,small,medium] [--types f32,f16] [--seed 1]

writes OUTDIR/gpt2-SHAPE-TYPE.gguf for each shape and type, skipping files
that already exist. The weights are random (speed does not depend on them);
the vocabulary is GPT-2's 50257 tokens and output.weight is written
separately, as llama.cpp's converter does, so llama-bench can read the same
files.

Shapes (layers x width, heads, context):
  124m    12 x 768, 12 heads, 1024   (GPT-2 small)
  small    4 x 256,  4 heads, 1024   (per-token overhead dominates here)
  medium  24 x 1024, 16 heads, 1024  (GPT-2 medium)
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export  # noqa: E402

SHAPES = {
    "124m": dict(n_layer=12, n_head=12, n_embd=768),
    "small": dict(n_layer=4, n_head=4, n_embd=256),
    "medium": dict(n_layer=24, n_head=16, n_embd=1024),
}
N_CTX, VOCAB = 1024, 50257


def random_state_dict(n_layer, n_embd, seed):
    """nanoGPT-named weights, nn.Linear (out, in), scaled to keep activations O(1)."""
    g = torch.Generator().manual_seed(seed)
    C = n_embd

    def randn(*size, std=1.0, mean=0.0):
        return torch.randn(*size, generator=g) * std + mean

    sd = {"wte.weight": randn(VOCAB, C, std=1 / C ** 0.5), "wpe.weight": randn(N_CTX, C, std=0.1)}
    for i in range(n_layer):
        h = "h.%d." % i
        for ln in ("ln_1", "ln_2"):
            sd[h + ln + ".weight"] = randn(C, std=0.1, mean=1.0)
            sd[h + ln + ".bias"] = randn(C, std=0.1)
        for name, n_out, n_in in (("attn.c_attn", 3 * C, C), ("attn.c_proj", C, C),
                                  ("mlp.c_fc", 4 * C, C), ("mlp.c_proj", C, 4 * C)):
            sd[h + name + ".weight"] = randn(n_out, n_in, std=1 / n_in ** 0.5)
            sd[h + name + ".bias"] = randn(n_out, std=0.1)
    sd["ln_f.weight"] = randn(C, std=0.1, mean=1.0)
    sd["ln_f.bias"] = randn(C, std=0.1)
    return sd


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--shapes", default="124m,small")
    ap.add_argument("--types", default="f32,f16")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    for shape in a.shapes.split(","):
        if shape not in SHAPES:
            sys.exit("bench_models: unknown shape %r (choose from %s)" % (shape, ", ".join(SHAPES)))
        s = SHAPES[shape]
        sd = None
        for typ in a.types.split(","):
            out = os.path.join(a.outdir, "gpt2-%s-%s.gguf" % (shape, typ))
            if os.path.exists(out):
                print("exists: %s" % out)
                continue
            if sd is None:
                sd = random_state_dict(s["n_layer"], s["n_embd"], a.seed)
            args = dict(n_layer=s["n_layer"], n_head=s["n_head"], n_embd=s["n_embd"],
                        block_size=N_CTX, vocab_size=VOCAB, bias=True)
            export.export_nanogpt(sd, args, out, type=typ, gelu="tanh", name="gpt2-" + shape)
            print("wrote %s (%.0f MiB)" % (out, os.path.getsize(out) / 2 ** 20))


if __name__ == "__main__":
    main()
