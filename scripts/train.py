#!/usr/bin/python3
"""Train the small GPT-2 that ships in models/ (PyTorch, CPU).

A GPT-2-shaped transformer in the style of nanoGPT: pre-LayerNorm blocks,
causal self-attention with one fused qkv projection, a 4x MLP with the exact
erf GELU, learned position embeddings and an output head tied to the token
embedding. The text's first 90% (by characters) is the training split, the
last 10% the validation split, as nanoGPT's Shakespeare data.

Seeded and resumable: every --eval-interval steps the full state (model,
optimizer, RNG, step, elapsed time) goes to OUT/ckpt.pt, in nanoGPT's
checkpoint layout ({'model', 'model_args', 'iter_num', 'best_val_loss',
'optimizer', 'config'}), and the model with the best validation loss so far
to OUT/best.pt; --resume continues from OUT/ckpt.pt. Progress goes to stderr,
the loss log to OUT/train_log.txt. --max-minutes caps the total training time
(summed over resumes); --max-iters fixes the learning-rate schedule.

At the end the best model is exported to GGUF with the project's own exporter
(scripts/export.py, export_nanogpt), e.g.:

  scripts/train.py --data ../shared/data/tinyshakespeare.txt --out out/shakespeare \
      --tokenizer tokenizer/shakespeare --gguf models/shakespeare.gguf
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tokenizer"))
import train_bpe  # noqa: E402  (GPT-2 pre-tokenizer + BPE encoder)


# ---- the model ------------------------------------------------------------------

class LayerNorm(nn.Module):
    """LayerNorm whose bias can be left out (torch 1.13's cannot)."""

    def __init__(self, n, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class SelfAttention(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.n_head = a["n_head"]
        self.c_attn = nn.Linear(a["n_embd"], 3 * a["n_embd"], bias=a["bias"])
        self.c_proj = nn.Linear(a["n_embd"], a["n_embd"], bias=a["bias"])
        self.resid_dropout = nn.Dropout(a["dropout"])
        P = a["block_size"]
        self.register_buffer("mask", torch.tril(torch.ones(P, P, dtype=torch.bool)).view(1, 1, P, P),
                             persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)  # (B, T, C) each
        hs = C // self.n_head
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, H, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, H, T, T)
        att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)  # no dropout here: on (B, H, T, T) it costs more than the rest
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.c_fc = nn.Linear(a["n_embd"], 4 * a["n_embd"], bias=a["bias"])
        self.c_proj = nn.Linear(4 * a["n_embd"], a["n_embd"], bias=a["bias"])
        self.dropout = nn.Dropout(a["dropout"])

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))  # exact erf GELU


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.ln_1 = LayerNorm(a["n_embd"], a["bias"])
        self.attn = SelfAttention(a)
        self.ln_2 = LayerNorm(a["n_embd"], a["bias"])
        self.mlp = MLP(a)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.args = a
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(a["vocab_size"], a["n_embd"]),
            wpe=nn.Embedding(a["block_size"], a["n_embd"]),
            drop=nn.Dropout(a["dropout"]),
            h=nn.ModuleList([Block(a) for _ in range(a["n_layer"])]),
            ln_f=LayerNorm(a["n_embd"], a["bias"]),
        ))
        self.lm_head = nn.Linear(a["n_embd"], a["vocab_size"], bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # tied head
        self.apply(self._init_weights)
        # GPT-2's scaled init of the projections that feed the residual stream
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * a["n_layer"]))

    @staticmethod
    def _init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def n_params(self):
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx, targets=None):
        B, T = idx.shape
        pos = torch.arange(T, dtype=torch.long)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))  # (B, T, V)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


# ---- data -----------------------------------------------------------------------

def tokenizer_files(tok_dir):
    """vocab.json + merges.txt (HF names) or encoder.json + vocab.bpe (GPT-2's)."""
    for v, m in (("vocab.json", "merges.txt"), ("encoder.json", "vocab.bpe")):
        if os.path.exists(os.path.join(tok_dir, v)):
            return os.path.join(tok_dir, v), os.path.join(tok_dir, m)
    sys.exit(f"train.py: no vocab.json/merges.txt or encoder.json/vocab.bpe in {tok_dir}")


def load_data(path, tok_dir):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    train_text, val_text = train_bpe.split_train_val(text)
    enc = train_bpe.Encoder(*tokenizer_files(tok_dir))
    train_ids = np.array(enc.encode(train_text), dtype=np.int64)
    val_ids = np.array(enc.encode(val_text), dtype=np.int64)
    info = dict(n_vocab=enc.n_vocab, train_bytes=len(train_text.encode("utf-8")),
                val_bytes=len(val_text.encode("utf-8")), train_tokens=len(train_ids),
                val_tokens=len(val_ids))
    return torch.from_numpy(train_ids), torch.from_numpy(val_ids), info


def get_batch(data, batch_size, block_size, gen):
    ix = torch.randint(len(data) - block_size - 1, (batch_size,), generator=gen)
    x = torch.stack([data[i:i + block_size] for i in ix.tolist()])
    y = torch.stack([data[i + 1:i + 1 + block_size] for i in ix.tolist()])
    return x, y


@torch.no_grad()
def full_loss(model, data, block_size, batch_size):
    """Mean loss (nats/token) over the whole split cut into non-overlapping
    windows of block_size (the last, shorter window included): deterministic,
    every token predicted once."""
    model.eval()
    starts = list(range(0, len(data) - 1, block_size))
    total, count = 0.0, 0
    for s in range(0, len(starts), batch_size):
        for i in starts[s:s + batch_size]:
            n = min(block_size, len(data) - 1 - i)
            x, y = data[i:i + n].view(1, -1), data[i + 1:i + 1 + n].view(1, -1)
            logits, _ = model(x)
            total += F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1),
                                     reduction="sum").item()
            count += n
    model.train()
    return total / count


@torch.no_grad()
def sampled_loss(model, data, block_size, batch_size, n_batches, seed):
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    losses = [model(*get_batch(data, batch_size, block_size, gen))[1].item() for _ in range(n_batches)]
    model.train()
    return sum(losses) / len(losses)


def learning_rate(it, cfg, elapsed=0.0):
    """Linear warmup, then cosine decay to min_lr at max_iters; with
    --lr-schedule time the decay instead follows the fraction of --max-minutes
    used (for equal-time comparisons; not reproducible step for step)."""
    if it < cfg["warmup_iters"]:
        return cfg["lr"] * (it + 1) / cfg["warmup_iters"]
    r = (it - cfg["warmup_iters"]) / (cfg["max_iters"] - cfg["warmup_iters"])
    if cfg.get("lr_schedule") == "time":
        r = max(r, elapsed / (cfg["max_minutes"] * 60))
    r = min(r, 1.0)
    return cfg["min_lr"] + 0.5 * (1.0 + math.cos(math.pi * r)) * (cfg["lr"] - cfg["min_lr"])


def make_optimizer(model, cfg):
    """AdamW; weight decay on matrices only (not on norms, biases)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg["weight_decay"]},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg["lr"], betas=(0.9, 0.99))


# ---- export ---------------------------------------------------------------------

def export_gguf(ckpt_path, gguf_path, tok_dir, ftype, write_output=True):
    """Through the project's exporter (scripts/export.py) only."""
    sys.path.insert(0, HERE)
    try:
        import export
    except ImportError as e:
        print(f"train.py: scripts/export.py not importable ({e}); export later with "
              f"export_nanogpt from {ckpt_path}", file=sys.stderr)
        return False
    ck = torch.load(ckpt_path, map_location="cpu")
    export.export_nanogpt(ck["model"], ck["model_args"], gguf_path, type=ftype,
                          tokenizer_dir=tok_dir, gelu="erf", name="shakespeare",
                          write_output=write_output)
    print(f"train.py: wrote {gguf_path} ({os.path.getsize(gguf_path)} bytes) from {ckpt_path} "
          f"(step {ck['iter_num']}, val loss {ck['val_loss']:.4f})", file=sys.stderr)
    return True


# ---- main -----------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="text file (first 90%% train, last 10%% val)")
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "tokenizer", "shakespeare"),
                    help="directory with vocab.json+merges.txt or encoder.json+vocab.bpe")
    ap.add_argument("--out", required=True, help="directory for ckpt.pt, best.pt, train_log.txt")
    ap.add_argument("--gguf", help="export the best model here when training ends")
    ap.add_argument("--ftype", default="f32", choices=["f32", "f16"])
    ap.add_argument("--no-output", action="store_true",
                    help="export without output.weight (the tied head's copy), for size")
    ap.add_argument("--n-layer", type=int, default=6)
    ap.add_argument("--n-head", type=int, default=6)
    ap.add_argument("--n-embd", type=int, default=192)
    ap.add_argument("--block-size", type=int, default=256)
    ap.add_argument("--bias", type=int, default=1, help="1: linears and norms have biases")
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr", type=float, default=1e-4)
    ap.add_argument("--warmup-iters", type=int, default=100)
    ap.add_argument("--max-iters", type=int, default=2000, help="length of the lr schedule")
    ap.add_argument("--lr-schedule", default="iters", choices=["iters", "time"],
                    help="decay the lr over --max-iters (reproducible) or over --max-minutes")
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--eval-interval", type=int, default=100)
    ap.add_argument("--max-minutes", type=float, default=50.0, help="cap on total training time")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--resume", action="store_true", help="continue from OUT/ckpt.pt")
    return ap.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    ckpt_path, best_path = os.path.join(args.out, "ckpt.pt"), os.path.join(args.out, "best.pt")
    log_path = os.path.join(args.out, "train_log.txt")

    train_data, val_data, info = load_data(args.data, args.tokenizer)
    print(f"train.py: data {json.dumps(info)}", file=sys.stderr)

    if args.resume:
        ck = torch.load(ckpt_path, map_location="cpu")
        model_args, cfg = ck["model_args"], ck["config"]
        cfg["max_minutes"] = args.max_minutes  # the only setting a resume may change
    else:
        model_args = dict(n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd,
                          block_size=args.block_size, bias=bool(args.bias),
                          vocab_size=info["n_vocab"], dropout=args.dropout)
        cfg = dict(vars(args))
        cfg.pop("resume")
        cfg["gelu"] = "erf"
        cfg.update(info)
    torch.manual_seed(cfg["seed"])
    model = GPT(model_args)
    optimizer = make_optimizer(model, cfg)
    gen = torch.Generator().manual_seed(cfg["seed"])
    iter_num, best_val, elapsed = 0, float("inf"), 0.0
    if args.resume:
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        gen.set_state(ck["batch_rng"])
        torch.set_rng_state(ck["torch_rng"])
        iter_num, best_val, elapsed = ck["iter_num"], ck["best_val_loss"], ck["elapsed_s"]
        print(f"train.py: resumed at step {iter_num} ({elapsed / 60:.1f} min so far)", file=sys.stderr)
    else:
        with open(log_path, "w") as f:
            f.write(f"# {json.dumps(model_args)}\n# {json.dumps(cfg)}\n")
            f.write("# step elapsed_s lr train_loss(batch) train_loss(est) val_loss(full) "
                    "val_nats_per_byte\n")
    bytes_per_tok = cfg["val_bytes"] / cfg["val_tokens"]
    print(f"train.py: {model.n_params()} parameters {json.dumps(model_args)}", file=sys.stderr)

    def evaluate_and_save(loss_batch):
        nonlocal best_val
        tr = sampled_loss(model, train_data, model_args["block_size"], cfg["batch_size"], 10, 1)
        va = full_loss(model, val_data, model_args["block_size"], cfg["batch_size"])
        line = (f"{iter_num} {elapsed:.1f} {learning_rate(iter_num, cfg, elapsed):.6f} {loss_batch:.4f} "
                f"{tr:.4f} {va:.4f} {va / bytes_per_tok:.4f}")
        with open(log_path, "a") as f:
            f.write(line + "\n")
        print(f"train.py: step {iter_num} train {tr:.4f} val {va:.4f} "
              f"({va / bytes_per_tok:.4f} nats/byte) {elapsed / 60:.1f} min", file=sys.stderr)
        state = {"model": model.state_dict(), "model_args": model_args, "iter_num": iter_num,
                 "val_loss": va, "train_loss": tr, "config": cfg}
        if va < best_val:
            best_val = va
            torch.save(state, best_path + ".tmp")
            os.replace(best_path + ".tmp", best_path)
        state.update(best_val_loss=best_val, optimizer=optimizer.state_dict(),
                     batch_rng=gen.get_state(), torch_rng=torch.get_rng_state(), elapsed_s=elapsed)
        torch.save(state, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)

    loss_batch = float("nan")
    t0 = time.time() - elapsed
    while iter_num < cfg["max_iters"]:
        elapsed = time.time() - t0
        if elapsed > cfg["max_minutes"] * 60:
            print(f"train.py: time cap of {cfg['max_minutes']} min reached", file=sys.stderr)
            break
        if iter_num % cfg["eval_interval"] == 0 and iter_num > 0:
            evaluate_and_save(loss_batch)
        for g in optimizer.param_groups:
            g["lr"] = learning_rate(iter_num, cfg, elapsed)
        x, y = get_batch(train_data, cfg["batch_size"], model_args["block_size"], gen)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        optimizer.step()
        loss_batch = loss.item()
        iter_num += 1
        if iter_num % 10 == 0:
            print(f"train.py: step {iter_num} loss {loss_batch:.4f} "
                  f"{time.time() - t0:.0f} s", file=sys.stderr)
    elapsed = time.time() - t0
    evaluate_and_save(loss_batch)
    print(f"train.py: done: {iter_num} steps in {elapsed / 60:.1f} min, best val {best_val:.4f} "
          f"({best_val / bytes_per_tok:.4f} nats/byte)", file=sys.stderr)
    if args.gguf:
        export_gguf(best_path, args.gguf, args.tokenizer, cfg["ftype"], not args.no_output)


if __name__ == "__main__":
    main()
