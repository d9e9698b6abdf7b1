#!/usr/bin/python3
"""Test vectors for SentencePiece BPE from Google's sentencepiece itself (Debian's
python3-sentencepiece 0.1.97), on Llama 2's tokenizer.model.

    gen_spm_cases.py TOKENIZER.model TEXTS.jsonl [TEXTS.jsonl ...] > OUT.jsonl

Reads the "text" of every line of the TEXTS files (the hard strings and prose that
scripts/gen_llama_tokenizer_cases.mjs and llama.cpp's vocabulary tests hold) and writes
{"text": ..., "ids": [...]} per line: sentencepiece's encode(text) with no BOS or EOS.
sentencepiece never matches control pieces (<s>, </s>) in text, so there are only
plain ids. Texts with characters sentencepiece's normalizer would change are written as
they are: Llama 2's model has the identity normalizer (no NFKC), with
add_dummy_prefix and byte fallback, which is what gpt's SentencePiece path implements.
"""
import json
import sys

import sentencepiece as spm


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
    seen = set()
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                text = json.loads(line)["text"]
                if text in seen:
                    continue
                seen.add(text)
                ids = sp.encode(text)
                sys.stdout.write(json.dumps({"text": text, "ids": ids}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
