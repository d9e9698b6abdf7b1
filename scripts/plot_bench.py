#!/usr/bin/python3
"""plot_bench.py: tok/s by thread count and tensor type, as a PNG.

  plot_bench.py OUT.png RESULTS.json [RESULTS.json ...]

Each RESULTS.json is what `gpt bench --json` prints (or `llama-bench -o json`:
the field names are the same, so both engines can go in one plot). One panel
per test (pp128, pp512, tg128, ...); in each, one line per engine and model
file, tokens per second against the number of threads, with the standard
deviation as error bars. Needs matplotlib (Debian: python3-matplotlib).
"""
import json
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def test_name(r):
    if r.get("n_gen", 0) == 0:
        return "pp%d" % r["n_prompt"]
    if r.get("n_prompt", 0) == 0:
        return "tg%d" % r["n_gen"]
    return "pp%d+tg%d" % (r["n_prompt"], r["n_gen"])


def series_name(r):
    engine = "gpt" if "gb_s" in r else "llama.cpp"
    model = os.path.basename(r.get("model_filename", "?"))
    return "%s: %s (%s)" % (engine, model, r.get("model_type", "?"))


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    out, files = argv[1], argv[2:]
    records = []
    for f in files:
        with open(f) as fh:
            data = json.load(fh)
        records += [r for r in data if "n_prompt" in r and "avg_ts" in r]
    if not records:
        sys.exit("plot_bench: no test results in %s" % ", ".join(files))
    tests = sorted({test_name(r) for r in records}, key=lambda t: (t.startswith("tg"), t))
    # test -> series -> [(threads, avg, sd)]
    data = defaultdict(lambda: defaultdict(list))
    for r in records:
        data[test_name(r)][series_name(r)].append((r["n_threads"], r["avg_ts"], r.get("stddev_ts", 0)))
    fig, axes = plt.subplots(1, len(tests), figsize=(5.2 * len(tests), 4.4), squeeze=False)
    for ax, test in zip(axes[0], tests):
        for name in sorted(data[test]):
            pts = sorted(data[test][name])
            style = "-o" if name.startswith("gpt") else "--s"
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], fmt=style,
                        capsize=3, label=name)
        ax.set_title(test)
        ax.set_xlabel("threads")
        ax.set_ylabel("tokens / s")
        ax.set_xticks(sorted({p[0] for s in data[test].values() for p in s}))
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        for h, l in zip(*ax.get_legend_handles_labels()):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 + 0.035 * ((len(labels) + 1) // 2), 1, 1))
    fig.savefig(out, dpi=110)
    print("wrote %s" % out)


if __name__ == "__main__":
    main(sys.argv)
