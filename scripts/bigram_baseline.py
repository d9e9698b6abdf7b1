#!/usr/bin/python3
"""A counting bigram model: the baseline the shipped model is compared with.

P(next | prev) = (count(prev, next) + k) / (count(prev) + k * V), counted on
the training split (first 90% of the text), scored on the validation split
(last 10%), every validation token predicted from the one before it (the
first from the last training token). Reports nats per token and per byte for
each add-k value, so that vocabularies of different sizes can be compared.

  scripts/bigram_baseline.py --data ../shared/data/tinyshakespeare.txt \
      --tokenizer tokenizer/shakespeare
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tokenizer"))
sys.path.insert(0, HERE)
import train_bpe  # noqa: E402
from train import tokenizer_files  # noqa: E402


def bigram_loss(train_ids, val_ids, V, k):
    pairs = train_ids[:-1] * V + train_ids[1:]
    keys, counts = np.unique(pairs, return_counts=True)
    pair_count = dict(zip(keys.tolist(), counts.tolist()))
    prev_count = np.bincount(train_ids[:-1], minlength=V)
    prev = np.concatenate([train_ids[-1:], val_ids[:-1]])
    c = np.array([pair_count.get(int(p) * V + int(n), 0) for p, n in zip(prev, val_ids)], dtype=np.float64)
    p = (c + k) / (prev_count[prev] + k * V)
    return float(-np.log(p).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--tokenizer", required=True, help="vocab.json+merges.txt or encoder.json+vocab.bpe dir")
    ap.add_argument("--k", default="0.01,0.03,0.1,0.3,1", help="add-k values to try")
    args = ap.parse_args()
    with open(args.data, encoding="utf-8") as f:
        train_text, val_text = train_bpe.split_train_val(f.read())
    enc = train_bpe.Encoder(*tokenizer_files(args.tokenizer))
    tr = np.array(enc.encode(train_text), dtype=np.int64)
    va = np.array(enc.encode(val_text), dtype=np.int64)
    bpt = len(val_text.encode("utf-8")) / len(va)
    print(f"vocab {enc.n_vocab}: train {len(tr)} tokens, val {len(va)} tokens, {bpt:.3f} bytes/token")
    for k in (float(x) for x in args.k.split(",")):
        loss = bigram_loss(tr, va, enc.n_vocab, k)
        print(f"add-k {k:g}: val {loss:.4f} nats/token, {loss / bpt:.4f} nats/byte, "
              f"perplexity {np.exp(loss):.1f}")


if __name__ == "__main__":
    main()
