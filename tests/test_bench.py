#!/usr/bin/python3
"""`gpt bench` (issue 4, point 1): its JSON against figures computed here, independently of gpt.
  - one object per test with llama-bench's field names and gpt's own;
  - bytes_per_token and model_size equal what this test adds up from the GGUF's tensor table
    (every matrix, norm and bias once, one row of each embedding; ggml's block sizes);
  - gb_s = bytes_per_token x tokens / time, samples and their mean agree;
  - a generation test carries a bandwidth pass before each timed run and one after the last,
    and its roofline_pct is gb_s over their median;
  - --membw alone; --kernels: a row for every type, row length and thread count, positive
    figures, kernel / read = from-memory GB/s over plain-read GB/s;
  - one-line errors with exit code 1 for bad input;
  - the KV cache: its type (--kv-type, and what auto picks: f16 for Q4_0 models) and bytes in
    the JSON, and `gpt info`'s shape, tensor bytes and KV cache line against the tensor table.
No speed is asserted: timings belong in the benchmark, not in tests.
Usage: test_bench.py GPT MODEL WORKDIR"""
import json
import os
import statistics
import struct
import subprocess
import sys

from checks import check, counts

gpt, model, work = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(work, exist_ok=True)


# ---- the tensor table of a GGUF file ------------------------------------------------------

SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
# bytes per block and elements per block of ggml's types
TYPE_SIZE = {0: (4, 1), 1: (2, 1), 8: (34, 32), 2: (18, 32), 30: (2, 1)}


def tensor_table(path):
    """{name: (type, ne)} from the file's header."""
    with open(path, "rb") as f:
        buf = f.read()
    pos = 4

    def get(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        (n,) = get("<Q")
        pos += n
        return buf[pos - n:pos].decode("utf-8")

    def skip_value(t):
        if t == 8:
            string()
        elif t == 9:
            et, n = get("<IQ")
            for _ in range(n):
                skip_value(et)
        else:
            get(SCALARS[t])

    _, n_tensors, n_kv = get("<IQQ")
    for _ in range(n_kv):
        string()
        (t,) = get("<I")
        skip_value(t)
    table = {}
    for _ in range(n_tensors):
        name = string()
        (nd,) = get("<I")
        ne = get(f"<{nd}Q")
        t, _ = get("<IQ")
        table[name] = (t, ne)
    return table


def nbytes(t, ne):
    size, per = TYPE_SIZE[t]
    n = 1
    for d in ne:
        n *= d
    return n // per * size


def row_bytes(t, ne):
    size, per = TYPE_SIZE[t]
    return ne[0] // per * size


def expected_per_token(table):
    """Every tensor once but the embeddings, of which one row each; a file without
    output.weight reads the token embedding as its output matrix."""
    b = 0
    for name, (t, ne) in table.items():
        if name in ("token_embd.weight", "position_embd.weight"):
            b += row_bytes(t, ne)
        else:
            b += nbytes(t, ne)
    if "output.weight" not in table:
        b += nbytes(*table["token_embd.weight"])
    return b


# ---- the runs -----------------------------------------------------------------------------

def run(*args, timeout=300):
    return subprocess.run([gpt, *args], capture_output=True, timeout=timeout)


LLAMA_FIELDS = ("model_filename", "model_type", "model_size", "model_n_params", "n_threads", "n_prompt",
                "n_gen", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts", "samples_ns", "samples_ts")
OWN_FIELDS = ("gb_s", "roofline_pct", "membw_gb_s", "membw_best_gb_s", "membw_test_gb_s", "membw_test_passes",
              "load_ms", "peak_rss_bytes", "bytes_per_token", "huge_page_pct", "type_k", "type_v", "kv_cache_bytes",
              "n_depth")


def expected_kv(table, n_ctx, kv_flag):
    """The KV cache's type and bytes for a context of n_ctx: gpt.h's GPT_KV_AUTO
    is f16 when the blocks' matrices are Q4_0, f32 otherwise."""
    n_layer = sum(1 for name in table if name.endswith(".attn_qkv.weight"))
    C = table["token_embd.weight"][1][0]
    q4 = any(t == 2 for name, (t, ne) in table.items() if name.startswith("blk.") and len(ne) == 2)
    typ = kv_flag if kv_flag != "auto" else ("f16" if q4 else "f32")
    return typ, 2 * n_layer * n_ctx * C * (2 if typ == "f16" else 4)


def rates_count_test_tokens(r):
    """samples_ts = the test's prompt and generated tokens (never the depth) / samples_ns."""
    tokens = r["n_prompt"] + r["n_gen"]
    return all(abs(ts - tokens * 1e9 / ns) <= 1e-6 * ts for ts, ns in zip(r["samples_ts"], r["samples_ns"]))


def check_model(path, reps=2, kv="auto"):
    table = tensor_table(path)
    p = run("bench", "-m", path, "-p", "8", "-n", "4", "-t", "1,2", "-r", str(reps), "--json", "--kv-type", kv)
    check(p.returncode == 0, f"bench {path} exited {p.returncode}: {p.stderr[-300:]!r}")
    if p.returncode:
        return
    rows = json.loads(p.stdout)
    check(len(rows) == 4, f"{path}: {len(rows)} results for pp8 and tg4 at 1 and 2 threads")
    want_tokens = expected_per_token(table)
    want_size = sum(nbytes(t, ne) for t, ne in table.values())
    seen = set()
    for r in rows:
        missing = [f for f in LLAMA_FIELDS + OWN_FIELDS if f not in r]
        check(not missing, f"{path}: fields missing: {missing}")
        if missing:
            continue
        seen.add((r["n_prompt"], r["n_gen"], r["n_threads"]))
        what = f"{path} pp{r['n_prompt']} tg{r['n_gen']} t{r['n_threads']}"
        check(r["bytes_per_token"] == want_tokens,
              f"{what}: bytes_per_token {r['bytes_per_token']}, the tensor table says {want_tokens}")
        check(r["model_size"] == want_size, f"{what}: model_size {r['model_size']}, tensors add up to {want_size}")
        want_kv = expected_kv(table, 8, kv)  # one context as long as the longest test
        check((r["type_k"], r["kv_cache_bytes"]) == want_kv and r["type_v"] == r["type_k"],
              f"{what} --kv-type {kv}: KV cache {r['type_k']}/{r['type_v']} of {r['kv_cache_bytes']} bytes, "
              f"expected {want_kv}")
        check(len(r["samples_ns"]) == reps and len(r["samples_ts"]) == reps, f"{what}: {reps} samples expected")
        check(rates_count_test_tokens(r), f"{what}: samples_ts are not tokens / samples_ns")
        check(abs(r["avg_ts"] - statistics.mean(r["samples_ts"])) <= 1e-6 * r["avg_ts"], f"{what}: avg_ts is not the mean")
        check(abs(r["avg_ns"] - statistics.mean(r["samples_ns"])) <= 1.0, f"{what}: avg_ns is not the mean")
        check(r["avg_ts"] > 0 and r["load_ms"] > 0 and r["peak_rss_bytes"] > 0, f"{what}: zero speed, load or RSS")
        check(r["membw_gb_s"] > 0 and r["membw_best_gb_s"] >= r["membw_gb_s"], f"{what}: bandwidth figures")
        # the share of the mapped file in 2 MiB pages, from /proc/self/smaps (-1 only without it)
        check(0 <= r["huge_page_pct"] <= 100 if os.path.exists("/proc/self/smaps") else r["huge_page_pct"] == -1,
              f"{what}: huge_page_pct {r['huge_page_pct']}")
        passes = (r["n_prompt"] + 255) // 256 + r["n_gen"]  # weight passes: per prompt batch, per token
        want_gbs = want_tokens * passes / (r["avg_ns"] * 1e-9) / 1e9
        check(abs(r["gb_s"] - want_gbs) <= 1e-3 * want_gbs + 1e-3, f"{what}: gb_s {r['gb_s']}, expected {want_gbs:.3f}")
        if r["n_gen"] > 0:
            bw = r["membw_test_passes"]
            check(len(bw) == reps + 1 and all(x > 0 for x in bw),
                  f"{what}: {len(bw)} bandwidth passes around {reps} timed runs, expected {reps + 1}")
            if bw:
                check(abs(r["membw_test_gb_s"] - statistics.median(bw)) <= 1e-3 * r["membw_test_gb_s"] + 1e-3,
                      f"{what}: membw_test_gb_s is not the median of its passes")
                want_pct = 100 * r["gb_s"] / r["membw_test_gb_s"]
                check(abs(r["roofline_pct"] - want_pct) <= 0.01 + 1e-4 * want_pct,
                      f"{what}: roofline_pct {r['roofline_pct']}, gb_s / membw_test_gb_s = {want_pct:.2f}")
    check(seen == {(8, 0, 1), (0, 4, 1), (8, 0, 2), (0, 4, 2)}, f"{path}: tests {sorted(seen)}")


def check_info(path):
    """gpt info: the shape and sizes against the tensor table, and the KV cache line."""
    table = tensor_table(path)
    p = run("info", "-m", path)
    check(p.returncode == 0, f"info {path} exited {p.returncode}: {p.stderr[-300:]!r}")
    if p.returncode:
        return
    lines = dict(line.split(":", 1) for line in p.stdout.decode().splitlines() if ":" in line)
    field = lambda k: lines.get(k, "").strip()
    n_layer = sum(1 for name in table if name.endswith(".attn_qkv.weight"))
    C, n_ctx = table["token_embd.weight"][1][0], table["position_embd.weight"][1][1]
    size = sum(nbytes(t, ne) for t, ne in table.values())
    check(field("n_embd") == str(C) and field("n_layer") == str(n_layer) and field("n_ctx") == str(n_ctx),
          f"info {path}: n_embd {field('n_embd')}, n_layer {field('n_layer')}, n_ctx {field('n_ctx')}; "
          f"the tensors say {C}, {n_layer}, {n_ctx}")
    check(field("tensor bytes").startswith(f"{size} "), f"info {path}: tensor bytes {field('tensor bytes')}, want {size}")
    typ, per_pos = expected_kv(table, 1, "auto")
    want = f"{typ} by default (--kv-type), {per_pos} bytes a position, {per_pos * n_ctx / 2**20:.1f} MiB for {n_ctx}"
    check(field("kv cache") == want, f"info {path}: kv cache {field('kv cache')!r}, want {want!r}")


check_info(model)
check_model(model)
check_model(model, reps=1, kv="f16")
q8 = os.path.join(work, "q8_0.gguf")
p = run("convert", model, q8, "--type", "q8_0")
check(p.returncode == 0, f"convert to q8_0 exited {p.returncode}: {p.stderr[-300:]!r}")
if p.returncode == 0:
    check_info(q8)
    check_model(q8)
q4 = os.path.join(work, "q4_0.gguf")
p = run("convert", model, q4, "--type", "q4_0")
check(p.returncode == 0, f"convert to q4_0 exited {p.returncode}: {p.stderr[-300:]!r}")
if p.returncode == 0:
    check_info(q4)
    check_model(q4, reps=1)
    check_model(q4, reps=1, kv="f32")

# -d: every test at every depth, the context sized for the deepest; the
# depth is evaluated before the timer, so the rate counts only the test's tokens
p = run("bench", "-m", model, "-p", "8", "-n", "4", "-d", "0,100", "-t", "1", "-r", "1", "--json")
check(p.returncode == 0, f"bench -d exited {p.returncode}: {p.stderr[-300:]!r}")
if p.returncode == 0:
    rows = json.loads(p.stdout)
    got = sorted((r["n_prompt"], r["n_gen"], r["n_depth"]) for r in rows)
    check(got == [(0, 4, 0), (0, 4, 100), (8, 0, 0), (8, 0, 100)], f"bench -d 0,100: tests {got}")
    want_kv = expected_kv(tensor_table(model), 108, "auto")
    check(all((r["type_k"], r["kv_cache_bytes"]) == want_kv for r in rows),
          f"bench -d 0,100: KV cache {[(r['type_k'], r['kv_cache_bytes']) for r in rows]}, expected {want_kv}")
    for r in rows:
        check(rates_count_test_tokens(r), f"bench -d {r['n_depth']}: samples_ts are not the test's tokens / samples_ns")
p = run("bench", "-m", model, "-n", "64", "-d", "200")
err = p.stderr.decode()
errs = [line for line in err.splitlines() if line.startswith("gpt: ")]
check(p.returncode == 1 and len(errs) == 1 and "after a depth of 200" in errs[0] and "256" in errs[0],
      f"bench -d beyond the context: one line naming the depth and the context, exit 1: {p.returncode} {err!r}")

p = run("bench", "--membw", "--json")
check(p.returncode == 0, f"bench --membw exited {p.returncode}")
if p.returncode == 0:
    m = json.loads(p.stdout)
    check(len(m) == 1 and m[0]["membw_gb_s"] > 0 and m[0]["membw_best_gb_s"] >= m[0]["membw_gb_s"],
          f"bench --membw --json: {m}")

p = run("bench", "--kernels", "-t", "1,2", "-r", "1")
check(p.returncode == 0, f"bench --kernels exited {p.returncode}: {p.stderr[-300:]!r}")
rows = [line.split("|")[1:-1] for line in p.stdout.decode().splitlines() if line.startswith("| ") and "---" not in line]
rows = [[c.strip() for c in r] for r in rows[1:]]  # past the header
seen = set()
for r in rows:
    try:
        typ, k, th, mem, read, pct, cache = r[0], int(r[1]), int(r[2]), float(r[3]), float(r[4]), float(r[5].rstrip("%")), float(r[6])
    except (ValueError, IndexError):
        check(False, f"bench --kernels: row {r}")
        continue
    seen.add((typ, k, th))
    check(mem > 0 and read > 0 and cache > 0, f"bench --kernels: {r}: a figure is not positive")
    check(abs(pct - 100 * mem / read) <= 0.5 + 100 * 0.05 / read * (1 + mem / read),
          f"bench --kernels: {r}: kernel / read {pct}%, {mem} / {read} = {100 * mem / read:.1f}%")
want = {(t, k, th) for t in ("F32", "F16", "Q8_0", "Q4_0") for k in (768, 3072) for th in (1, 2)}
check(seen == want, f"bench --kernels: rows {sorted(seen)}, want {sorted(want)}")

for args, needle in ((["bench"], "no model given"), (["bench", "--kernels", "-m", model], "--kernels"), (["bench", "-m", model, "-p", "x"], "-p"),
                     (["bench", "-m", os.path.join(work, "missing.gguf")], "missing.gguf"),
                     (["bench", "-m", model, "-n", "5000"], "does not fit in the model's context of 256"),
                     (["bench", "-m", model, "-r", "0"], "-r"),
                     (["bench", "-m", model, "--kv-type", "q8_0"], "'q8_0' is not a KV cache type"),
                     (["bench", "--kernels", "--kv-type", "f16"], "--kernels"), (["bench", "--bogus"], "--bogus")):
    p = run(*args)
    err = p.stderr.decode("utf-8", "replace")
    errors = [line for line in err.splitlines() if line.startswith("gpt: ")]  # progress lines say "gpt bench:"
    check(p.returncode == 1 and len(errors) == 1 and needle in errors[0] and p.stdout == b"",
          f"gpt {' '.join(args)}: exit {p.returncode}, stderr {err!r}, want one 'gpt: ...{needle}...' line")

checks, failures = counts()
print(f"test_bench: {checks} checks, {failures} failures")
sys.exit(1 if failures else 0)
