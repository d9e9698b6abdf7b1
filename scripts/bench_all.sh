#!/usr/bin/env bash
# bench_all.sh: the README's benchmark, end to end.
#
#   scripts/bench_all.sh [OUTDIR]        (default /tmp/gpt-bench)
#
# 1. makes random GPT-2-shaped GGUF files (124M F32 and F16, and a 4-layer,
#    256-wide model with GPT-2's 50257-token vocabulary) with
#    scripts/bench_models.py, and Q8_0 and Q4_0 ones of the 124M shape with
#    gpt convert, unless they exist;
# 2. runs `gpt bench` on each: pp128, pp512 and tg128 with 1 and 2 threads
#    (THREADS=...), 5 repetitions after a warm-up, JSON into OUTDIR/gpt.json;
# 3. if LLAMA_BENCH points at llama.cpp's llama-bench, runs it on the same
#    files with the same tests right after gpt on each file, into
#    OUTDIR/llama.json;
# 4. writes OUTDIR/table.md (scripts/bench_table.py) and draws OUTDIR/bench.png
#    (scripts/plot_bench.py).
# The binary is GPT (default build/gpt). Run it on a quiet machine: every
# number is a wall-clock time.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/gpt-bench}
GPT=${GPT:-build/gpt}
THREADS=${THREADS:-1,2}
REPS=${REPS:-5}
PY=/usr/bin/python3
mkdir -p "$OUT"
[ -x "$GPT" ] || { echo "bench_all: $GPT not found (build first, or set GPT=)" >&2; exit 1; }

$PY scripts/bench_models.py "$OUT" --shapes 124m,small --types f32,f16
for t in q8_0 q4_0; do  # the quantized files from the F32 one, everything quantized (output included)
    [ -f "$OUT/gpt2-124m-$t.gguf" ] || "$GPT" convert "$OUT/gpt2-124m-f32.gguf" "$OUT/gpt2-124m-$t.gguf" --type "$t"
done
MODELS=("$OUT/gpt2-124m-f32.gguf" "$OUT/gpt2-124m-f16.gguf" "$OUT/gpt2-124m-q8_0.gguf" "$OUT/gpt2-124m-q4_0.gguf"
        "$OUT/gpt2-small-f32.gguf" "$OUT/gpt2-small-f16.gguf")

rm -f "$OUT"/gpt-*.json "$OUT"/llama-*.json "$OUT/gpt.json" "$OUT/llama.json"
uptime
# model by model, gpt then llama.cpp, so that both see the same machine
parts=()
for m in "${MODELS[@]}"; do
    b=$(basename "$m" .gguf)
    "$GPT" bench -m "$m" -p 128,512 -n 128 -t "$THREADS" -r "$REPS" --json > "$OUT/gpt-$b.json"
    parts+=("$OUT/gpt-$b.json")
    if [ -n "${LLAMA_BENCH:-}" ]; then
        "$LLAMA_BENCH" -m "$m" -p 128,512 -n 128 -t "$THREADS" -r "$REPS" -o json > "$OUT/llama-$b.json"
    fi
done
uptime
$PY - "$OUT" "${parts[@]}" <<'PYEOF'
import glob, json, os, sys
out = sys.argv[1]
for engine in ("gpt", "llama"):
    files = sorted(glob.glob(os.path.join(out, engine + "-*.json")))
    if files:
        json.dump(sum((json.load(open(f)) for f in files), []), open(os.path.join(out, engine + ".json"), "w"), indent=1)
PYEOF
files=("$OUT/gpt.json")
[ -f "$OUT/llama.json" ] && files+=("$OUT/llama.json")
$PY scripts/bench_table.py "${files[@]}" | tee "$OUT/table.md"
$PY scripts/plot_bench.py "$OUT/bench.png" "${files[@]}"
