#!/usr/bin/python3
"""bench_table.py: a Markdown table from `gpt bench --json` output, beside
llama-bench's (`llama-bench -o json`) on the same files when given.

  bench_table.py GPT.json [LLAMA.json]

Rows: model file, test, threads. Columns: gpt tok/s (mean +- sd), weight
traffic in GB/s and its share of the measured read bandwidth (generation
rows: over the bandwidth passes around the test's own runs, over the run's
best pass, over the read speed of the model's mapped weights), llama.cpp
tok/s and gpt's speed over llama.cpp's; then per model the
load time, peak RSS and KV cache size.
"""
import json
import os
import sys


def test_name(r):
    if r.get("n_gen", 0) == 0:
        name = "pp%d" % r["n_prompt"]
    elif r.get("n_prompt", 0) == 0:
        name = "tg%d" % r["n_gen"]
    else:
        name = "pp%d+tg%d" % (r["n_prompt"], r["n_gen"])
    # gpt bench -d (and newer llama-bench's): tokens already in the context
    return name + (" @ d%d" % r["n_depth"] if r.get("n_depth", 0) else "")


def key(r):
    return (os.path.basename(r["model_filename"]), test_name(r), r["n_threads"])


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit(__doc__)
    gpt = [r for r in json.load(open(argv[1])) if "avg_ts" in r]
    llama = {}
    if len(argv) == 3:
        llama = {key(r): r for r in json.load(open(argv[2])) if "avg_ts" in r}
    head = "| model | test | threads | gpt tok/s | GB/s | % of bandwidth around the test | % of best pass | % of mapped-weights read |"
    rule = "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    if llama:
        head += " llama.cpp tok/s | gpt / llama.cpp |"
        rule += " ---: | ---: |"
    print(head)
    print(rule)
    for r in gpt:
        k = key(r)
        tg = r["n_gen"] > 0 and r["n_prompt"] == 0
        row = "| %s | %s | %d | %.1f ± %.1f | %s | %s | %s | %s |" % (
            k[0], k[1], k[2], r["avg_ts"], r["stddev_ts"],
            "%.1f" % r["gb_s"] if tg else "-", "%.1f%%" % r["roofline_pct"] if tg else "-",
            "%.1f%%" % r.get("roofline_best_pct", 0) if tg else "-",
            "%.1f%%" % r.get("weights_read_pct", 0) if tg else "-")
        if llama:
            l = llama.get(k)
            row += (" %.1f ± %.1f | %.2fx |" % (l["avg_ts"], l["stddev_ts"], r["avg_ts"] / l["avg_ts"])) if l else " - | - |"
        print(row)
    print()
    print("| model | type | weights MiB | bytes read per token | read bandwidth GB/s, median / best pass | mapped-weights read GB/s | load ms | peak RSS MiB | KV cache MiB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    seen = set()
    for r in gpt:
        f = os.path.basename(r["model_filename"])
        if f in seen:
            continue
        seen.add(f)
        print("| %s | %s | %.1f | %.1f MB | %.1f / %.1f | %.1f | %.1f | %.1f | %.1f %s |" % (
            f, r["model_type"], r["model_size"] / 2**20, r["bytes_per_token"] / 1e6, r.get("membw_gb_s", 0),
            r.get("membw_best_gb_s", 0), r.get("weights_read_gb_s", 0),
            r["load_ms"], r["peak_rss_bytes"] / 2**20, r["kv_cache_bytes"] / 2**20, r.get("type_k", "f32")))


if __name__ == "__main__":
    main(sys.argv)
