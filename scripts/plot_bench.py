#!/usr/bin/python3
"""plot_bench.py: tok/s by thread count and tensor type, as a PNG.

  plot_bench.py OUT.png RESULTS.json [RESULTS.json ...]

Each RESULTS.json is what `gpt bench --json` prints (or `llama-bench -o json`:
the field names are the same, so both engines can go in one plot). One row
of panels per model shape (the file name without its type suffix, e.g.
gpt2-124m-f16.gguf -> gpt2-124m), one panel per test (pp128, pp512, tg128,
...); in each, one line per engine and tensor type: tokens per second
against the number of threads, the standard deviation as error bars; gpt
solid, llama.cpp dashed. Needs matplotlib (Debian: python3-matplotlib).
"""
import json
import os
import re
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench_table import test_name  # noqa: E402  (same directory: one naming of tests for both scripts)

TYPE_RE = re.compile(r"[-_.](f32|f16|bf16|q\d_\d|q\d_k\w*)$", re.I)


def shape_and_type(r):
    stem = os.path.splitext(os.path.basename(r.get("model_filename", "?")))[0]
    m = TYPE_RE.search(stem)
    if m:
        return stem[:m.start()], m.group(1).upper()
    return stem, r.get("model_type", "?").split()[-1]


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    out, files = argv[1], argv[2:]
    records = []
    for f in files:
        with open(f) as fh:
            records += [r for r in json.load(fh) if "n_prompt" in r and "avg_ts" in r]
    if not records:
        sys.exit("plot_bench: no test results in %s" % ", ".join(files))
    tests = sorted({test_name(r) for r in records}, key=lambda t: (t.startswith("tg"), int(re.sub(r"\D", "", t) or 0)))
    shapes = sorted({shape_and_type(r)[0] for r in records})
    # (shape, test) -> series -> [(threads, avg, sd)]
    data = defaultdict(lambda: defaultdict(list))
    for r in records:
        shape, typ = shape_and_type(r)
        engine = "gpt" if "gb_s" in r else "llama.cpp"
        data[(shape, test_name(r))][(engine, typ)].append((r["n_threads"], r["avg_ts"], r.get("stddev_ts", 0)))
    types = sorted({k[1] for d in data.values() for k in d})
    colors = {t: c for t, c in zip(types, ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"])}
    fig, axes = plt.subplots(len(shapes), len(tests), figsize=(4.6 * len(tests), 3.4 * len(shapes)), squeeze=False)
    for i, shape in enumerate(shapes):
        for j, test in enumerate(tests):
            ax = axes[i][j]
            for engine, typ in sorted(data[(shape, test)]):
                pts = sorted(data[(shape, test)][(engine, typ)])
                ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts],
                            fmt="-o" if engine == "gpt" else "--s", color=colors[typ], capsize=3,
                            label="%s %s" % (engine, typ))
            ax.set_title("%s  %s" % (shape, test), fontsize=10)
            ax.set_xlabel("threads")
            ax.set_ylabel("tokens / s")
            xs = sorted({p[0] for s in data[(shape, test)].values() for p in s})
            if xs:
                ax.set_xticks(xs)
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print("wrote %s" % out)


if __name__ == "__main__":
    main(sys.argv)
