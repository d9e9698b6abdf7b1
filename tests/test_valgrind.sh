#!/usr/bin/env bash
# test_valgrind.sh GPT_BIN MAKE_SEEDS: valgrind (memcheck, full leak check)
# on a generation, conversions and failed loads of tiny models (issue 7,
# part 4). Each run must end with its usual exit code and no valgrind error
# or leak (valgrind's own exit code 99 otherwise).
set -u
gpt=$1 make_seeds=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpt-valgrind-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$make_seeds" gguf "$tmp/tiny.gguf" 64 && "$make_seeds" hf "$tmp/hf" && "$make_seeds" llmc "$tmp/llmc" || exit 1
mkdir "$tmp/badhf" && cp "$tmp/hf/"* "$tmp/badhf/" && printf '#version: 0.2\nx y\n' > "$tmp/badhf/merges.txt"
head -c 3000 "$tmp/tiny.gguf" > "$tmp/truncated.gguf"

failed=0
check() {  # expected-exit-code gpt-arguments...
    local want=$1
    shift
    valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=99 \
        "$gpt" "$@" > "$tmp/out" 2> "$tmp/err"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL (exit $rc, expected $want): gpt $*"
        grep -v '^gpt: converting' "$tmp/err" | head -30
        failed=1
    else
        echo "ok: gpt $*"
    fi
}
check 0 -m "$tmp/tiny.gguf" -p "the theme" -n 16 -t 2
check 0 -m "$tmp/hf" -p "the" -n 4 -t 1
check 0 convert "$tmp/hf" "$tmp/hf.gguf" --type f16
check 0 convert "$tmp/llmc/model.bin" "$tmp/llmc.gguf" --type q8_0
check 0 -m "$tmp/llmc.gguf" -p "the" -n 4 -t 2
check 1 -m "$tmp/truncated.gguf" -p "x"
check 1 -m "$tmp/badhf" -p "x"
check 1 -m "$tmp/nonexistent.gguf" -p "x"
exit $failed
