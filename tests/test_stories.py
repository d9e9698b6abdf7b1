#!/usr/bin/python3
"""test_stories.py: llama2.c's stories260K through gpt, against llama2.c's own run.c.

  test_stories.py GPT_BIN DATA_DIR TOKENIZER WORKDIR

For each prompt of DATA_DIR/runc_stories260K.jsonl, `gpt -m stories260K.bin -z
tok512.bin -p PROMPT --temp 0` must print run.c's text (run.c stops after 200
positions; gpt is asked for more, so run.c's text is a prefix of gpt's). The same
holds for the GGUF llama.cpp's converter made of the model (with -c 512: the file
says 128 positions) and for the GGUF `gpt convert` writes (F32).
"""
import json
import os
import subprocess
import sys

GPT, DATA, TOK, WORK = sys.argv[1:5]
os.makedirs(WORK, exist_ok=True)
BIN = os.path.join(DATA, "stories260K.bin")
failures = 0


def check(ok, msg):
    global failures
    print(("ok   " if ok else "FAIL ") + msg)
    failures += not ok


def generate(model, prompt, extra):
    r = subprocess.run([GPT, "-m", model, "-p", prompt, "--temp", "0", "-n", "240", "-t", "1"] + extra,
                       capture_output=True)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


converted = os.path.join(WORK, "stories260K-gpt.gguf")
r = subprocess.run([GPT, "convert", BIN, converted, "-z", TOK], capture_output=True, text=True)
check(r.returncode == 0, "gpt convert stories260K.bin -z tok512.bin" + (r.returncode and ": " + r.stderr[-300:] or ""))

models = [("stories260K.bin -z tok512.bin", BIN, ["-z", TOK]),
          ("llama.cpp's GGUF -c 512", os.path.join(DATA, "stories260K-llamacpp.gguf"), ["-c", "512"]),
          ("gpt convert's GGUF", converted, [])]
cases = [json.loads(line) for line in open(os.path.join(DATA, "runc_stories260K.jsonl"), encoding="utf-8")]
check(len(cases) == 5, "%d run.c outputs" % len(cases))
for name, model, extra in models:
    for c in cases:
        rc, out, err = generate(model, c["prompt"], extra)
        want = c["runc"]
        i = next((k for k in range(min(len(out), len(want))) if out[k] != want[k]), min(len(out), len(want)))
        check(rc == 0 and out.startswith(want), "%s, %r: run.c's %d characters%s" % (
            name, c["prompt"], len(want), "" if out.startswith(want) else
            " differ at %d: gpt %r, run.c %r %s" % (i, out[i:i + 40], want[i:i + 40], err[-200:])))
print("%d failure(s)" % failures)
sys.exit(1 if failures else 0)
