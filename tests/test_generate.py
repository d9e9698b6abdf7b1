#!/usr/bin/python3
"""Generation from the CLI on the shipped model (issue 2, point 5):
  - the same seed and flags give the same text, byte for byte; another seed gives other text;
  - --probs N reports, for each generated token, N candidates sorted by probability, the
    chosen token among them when sampling greedily, and probabilities equal to the softmax of
    the logits `gpt logits` computes for the same sequence;
  - the stats line goes to stderr, the text to stdout, which starts with the prompt.
Usage: test_generate.py GPT MODEL"""
import math
import re
import subprocess
import sys

from checks import check, counts

gpt, model = sys.argv[1], sys.argv[2]


def run(*args):
    p = subprocess.run([gpt, "-m", model, *args], capture_output=True, timeout=120)
    check(p.returncode == 0, f"gpt {' '.join(args)} exited {p.returncode}: {p.stderr[-300:]!r}")
    return p.stdout, p.stderr.decode("utf-8", "replace")


sampled = ["-p", "JULIET:", "-n", "80", "--temp", "1.0", "--top-k", "0", "--top-p", "1", "--min-p", "0", "-t", "1"]
a, err_a = run(*sampled, "-s", "7")
b, _ = run(*sampled, "-s", "7")
c, _ = run(*sampled, "-s", "8")
check(a == b, "the same seed gave different text")
check(a != c, "seeds 7 and 8 gave the same 80 sampled tokens")
check(a.startswith(b"JULIET:"), "stdout does not start with the prompt")
check(re.search(r"gpt: load \d+ ms \| prompt \d+ tokens, [\d.]+ tok/s \| generated \d+ tokens", err_a) is not None,
      f"no stats line on stderr: {err_a!r}")
check(b"gpt: load" not in a, "the stats line went to stdout")

# greedy with --probs 5: each line lists 5 candidates sorted, the chosen one first
out, err = run("-p", "ROMEO:", "-n", "6", "--temp", "0", "--probs", "5", "-t", "1")
lines = [l for l in err.splitlines() if l.startswith("[probs]")]
check(len(lines) == 6, f"{len(lines)} --probs lines for 6 tokens")
first = None
for l in lines:
    m = re.match(r"\[probs\] chosen (\d+):(.*)$", l)
    check(m is not None, f"unparsable --probs line {l!r}")
    if not m:
        continue
    probs = [float(x) for x in re.findall(r"'=([0-9.]+)", m.group(2))]
    check(len(probs) == 5, f"{len(probs)} candidates in {l!r}")
    check(all(probs[i] >= probs[i + 1] for i in range(len(probs) - 1)), f"not sorted: {l!r}")
    check(sum(probs) <= 1.0001, f"probabilities sum past 1: {l!r}")
    if first is None:
        first = (int(m.group(1)), probs[0])

# the first generated token's probability against the softmax of the prompt's logits
ids = subprocess.run([gpt, "tokenize", "-m", model], input=b"ROMEO:", capture_output=True).stdout.decode().split()
p = subprocess.run([gpt, "logits", "-m", model, "--ids", " ".join(ids)], capture_output=True, timeout=60)
logits = [float(x) for x in p.stdout.split()]
mx = max(logits)
z = sum(math.exp(v - mx) for v in logits)
top = max(range(len(logits)), key=lambda i: logits[i])
check(first is not None and first[0] == top, f"greedy chose {first}, the argmax of the logits is {top}")
check(first is not None and abs(first[1] - 1.0 / z) < 1e-4, f"--probs says {first}, softmax gives {1.0 / z:.6f}")

checks, failures = counts()
print(f"{checks - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
