#!/usr/bin/env bash
# fuzz.sh [SECONDS] [HARNESS...]: build gpt's libFuzzer harnesses with clang
# (ASan + UBSan, -DGPT_FUZZ=ON, in build-fuzz/) and run each for SECONDS
# (default 60) on its seed corpus (tests/fuzz/corpus/HARNESS, read only) plus
# a working corpus that grows in build-fuzz/corpus/HARNESS.
#
#   scripts/fuzz.sh                 every harness for 60 s
#   scripts/fuzz.sh 20 gguf hf      two harnesses for 20 s each
#
# Harnesses (tests/fuzz/fuzz_*.c): gguf (a GGUF file through gpt_model_open),
# hf (a Hugging Face directory), llmc (an llm.c checkpoint and tokenizer), llama2c
# (a llama2.c checkpoint and tokenizer.bin),
# vocab (vocab.json + merges.txt), tokenizer (encode/decode of any bytes), tokfile
# (tokenizer.json, llama2.c tokenizer.bin and GPT vocabularies through tokenizer_open).
# A crash, leak, timeout (> 10 s) or single allocation over 256 MB is written
# to build-fuzz/artifacts/HARNESS-*; replay one with
#   build-fuzz/tests/fuzz/fuzz_HARNESS FILE
# Prints the executions each harness ran; exit status 1 if any found anything.
# Needs clang and libclang-rt-14-dev (Debian). Runs one harness at a time.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
[ $# -gt 0 ] && shift
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(gguf hf llmc llama2c vocab tokenizer tokfile)
build=${GPT_FUZZ_BUILD:-build-fuzz}

command -v clang >/dev/null || { echo "fuzz.sh: clang not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
CC=clang cmake -S . -B "$build" -DGPT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null

found=0
summary=()
for h in "${harnesses[@]}"; do
    work="$build/corpus/$h"
    art="$build/artifacts"
    mkdir -p "$work" "$art"
    dict=()
    [ -f "tests/fuzz/$h.dict" ] && dict=(-dict="tests/fuzz/$h.dict")
    log="$build/fuzz-$h.log"
    echo "fuzz.sh: fuzz_$h for ${secs}s (log: $log)"
    set +e
    "$build/tests/fuzz/fuzz_$h" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=256 -print_final_stats=1 -artifact_prefix="$art/$h-" "$work" "tests/fuzz/corpus/$h" \
        >"$log" 2>&1
    rc=$?
    set -e
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    units=$(find "$work" -type f | wc -l)
    if [ $rc -ne 0 ]; then
        found=1
        what=$(grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" || echo "exit $rc")
        summary+=("$(printf '%-10s %10s execs  FOUND: %s' "$h" "${execs:-?}" "$what")")
        grep -E "Test unit written to" "$log" | sed 's/^/           /' || true
    else
        summary+=("$(printf '%-10s %10s execs  %6s corpus files  nothing found' "$h" "${execs:-?}" "$units")")
    fi
done
echo
printf '%s\n' "${summary[@]}"
exit $found
