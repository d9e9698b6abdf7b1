#!/usr/bin/python3
"""Train a small byte-level BPE vocabulary in GPT-2's format.

The result reads exactly like GPT-2's own files, so gpt loads it through the
same code: vocab.json (token string -> id) and merges.txt ("#version: 0.2"
then one "LEFT RIGHT" merge per line in rank order), every token written in
GPT-2's byte-to-unicode alphabet ("Ġ" for a space, "Ċ" for a newline).

  ids 0..255      the 256 single bytes, in the order GPT-2's encoder.json uses
  id 256+i        the token made by merge i
  id last         "<|endoftext|>" (the only special token)

Text is first split with GPT-2's exact pre-tokenizer pattern, and merges are
learned over the bytes inside each piece (never across pieces), as GPT-2 did.
At each step the most frequent adjacent pair is merged (ties: the pair whose
bytes sort first). A pair whose concatenation is already a token is never
chosen, so every token string is unique and "merge by lowest rank" (GPT-2's
encoder.py, gpt's tokenizer) and "merge in training order" agree.

Usage:
  train_bpe.py --data ../shared/data/tinyshakespeare.txt --vocab-size 2048 \
               --out tokenizer/shakespeare
(trains on the first 90% of the file: the same train split scripts/train.py
uses, so the validation text stays unseen.)

The module also holds a reference encoder (class Encoder) used by
scripts/train.py to turn text into ids.
"""
import argparse
import collections
import json
import os
import sys

try:
    import regex
except ImportError:  # \p{L} and \p{N} need the third-party regex module
    sys.exit("train_bpe.py: needs python3-regex (apt-get install python3-regex)")

# GPT-2's pre-tokenizer (see /work/shared/tokenizer/gpt2/README.txt).
GPT2_PATTERN = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

EOT = "<|endoftext|>"


def byte_order():
    """The 256 byte values in GPT-2's id order: the printable ones that stand
    for themselves first, then the rest (controls, space, 0x7F-0xA0, 0xAD)."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) +
                 list(range(ord("®"), ord("ÿ") + 1)))
    rest = [b for b in range(256) if b not in printable]
    return printable + rest


def byte_to_unicode():
    """byte -> the one-character string GPT-2's vocabulary files use for it."""
    printable = set(byte_order()[:188])
    table, n = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n)
            n += 1
    return table


def to_alphabet(bs, b2u=byte_to_unicode()):
    return "".join(b2u[b] for b in bs)


def split_train_val(text):
    """First 90% of the characters train, last 10% validation (nanoGPT's split)."""
    n = int(0.9 * len(text))
    return text[:n], text[n:]


def pieces(text):
    return GPT2_PATTERN.findall(text)


# ---- training ------------------------------------------------------------------

def train(text, vocab_size, log=sys.stderr):
    """Learn vocab_size - 257 merges. Returns the list of merges as pairs of
    byte strings, in rank order."""
    n_merges = vocab_size - 257
    if n_merges < 0:
        raise ValueError("vocab size must be at least 257")
    word_freq = collections.Counter(p.encode("utf-8") for p in pieces(text))
    words = [[bytes([b]) for b in w] for w in word_freq]  # each word as a list of tokens
    freqs = list(word_freq.values())

    # pair -> total count, and pair -> the words that contain it
    pair_count = collections.Counter()
    pair_words = collections.defaultdict(set)
    for wi, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] += freqs[wi]
            pair_words[(a, b)].add(wi)

    vocab = {bytes([b]) for b in range(256)}
    merges = []
    while len(merges) < n_merges:
        best = None
        for pair, c in pair_count.items():
            if c <= 0 or pair[0] + pair[1] in vocab:
                continue
            if best is None or c > best[1] or (c == best[1] and pair < best[0]):
                best = (pair, c)
        if best is None:
            print(f"train_bpe: ran out of pairs after {len(merges)} merges", file=log)
            break
        (a, b), _ = best
        new = a + b
        merges.append((a, b))
        vocab.add(new)
        for wi in list(pair_words[(a, b)]):
            w, f = words[wi], freqs[wi]
            for x, y in zip(w, w[1:]):  # forget this word's old pairs
                pair_count[(x, y)] -= f
            merged, i = [], 0
            while i < len(w):  # merge left to right, non-overlapping
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    merged.append(new)
                    i += 2
                else:
                    merged.append(w[i])
                    i += 1
            words[wi] = merged
            for x, y in zip(merged, merged[1:]):
                pair_count[(x, y)] += f
                pair_words[(x, y)].add(wi)
        del pair_count[(a, b)]
        del pair_words[(a, b)]
        if len(merges) % 256 == 0:
            print(f"train_bpe: {len(merges)}/{n_merges} merges", file=log)
    return merges


def save(merges, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    vocab = {}
    for b in byte_order():
        vocab[to_alphabet([b])] = len(vocab)
    for a, b in merges:
        vocab[to_alphabet(a + b)] = len(vocab)
    vocab[EOT] = len(vocab)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{to_alphabet(a)} {to_alphabet(b)}\n")


# ---- encoding (GPT-2's encoder.py rule: merge the lowest-ranked pair) ------------

class Encoder:
    def __init__(self, vocab_json, merges_txt):
        with open(vocab_json, encoding="utf-8") as f:
            self.vocab = json.load(f)  # token string -> id
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        u2b = {u: b for b, u in byte_to_unicode().items()}
        self.token_bytes = {i: bytes(u2b[c] for c in t) for t, i in self.vocab.items() if t != EOT}
        self.ranks = {}
        with open(merges_txt, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for line in lines[1:]:  # line 0 is "#version: 0.2"
            if line:
                a, b = line.split(" ")
                self.ranks[(a, b)] = len(self.ranks)
        self.b2u = byte_to_unicode()
        self.cache = {}
        self.n_vocab = len(self.vocab)
        self.eot_id = self.vocab.get(EOT)

    def bpe(self, piece):
        if piece in self.cache:
            return self.cache[piece]
        parts = [self.b2u[b] for b in piece.encode("utf-8")]
        while len(parts) > 1:
            best = min(range(len(parts) - 1),
                       key=lambda i: self.ranks.get((parts[i], parts[i + 1]), float("inf")))
            pair = (parts[best], parts[best + 1])
            if pair not in self.ranks:
                break
            merged, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == pair:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        ids = [self.vocab[p] for p in parts]
        self.cache[piece] = ids
        return ids

    def encode(self, text):
        out = []
        for p in pieces(text):
            out.extend(self.bpe(p))
        return out

    def decode(self, ids):
        return b"".join(self.token_bytes[i] for i in ids).decode("utf-8", errors="replace")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="training text (its first 90%% is used)")
    ap.add_argument("--vocab-size", type=int, default=2048)
    ap.add_argument("--out", required=True, help="output directory for vocab.json and merges.txt")
    args = ap.parse_args()
    with open(args.data, encoding="utf-8") as f:
        text = f.read()
    train_text, val_text = split_train_val(text)
    merges = train(train_text, args.vocab_size)
    save(merges, args.out)
    enc = Encoder(os.path.join(args.out, "vocab.json"), os.path.join(args.out, "merges.txt"))
    for name, t in (("train", train_text), ("val", val_text)):
        ids = enc.encode(t)
        assert enc.decode(ids) == t, "round trip failed"
        print(f"train_bpe: {name}: {len(t.encode('utf-8'))} bytes -> {len(ids)} tokens "
              f"({len(t.encode('utf-8')) / len(ids):.3f} bytes/token)", file=sys.stderr)


if __name__ == "__main__":
    main()
